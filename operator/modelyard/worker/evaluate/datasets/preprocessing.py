"""How an image becomes a model input.

Defaults (used when the version has no template, or its template says nothing): the layout
follows the input's shape (`[N, C, H, W]` unless the last dimension is 1, 3 or 4 and the second
is not); images are converted to RGB (or grayscale for one channel), resized to the input's H x W
with bilinear filtering, and scaled to [0, 1] (`scale` 1/255, `mean` 0, `std` 1). A template's
`preprocessing` (`layout`, `resize`, `scale`, `mean`, `std`) overrides each of these; `resize`
gives the size when the input's H and W are dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo


@dataclass(frozen=True)
class ImagePreprocessing:
    layout: str
    height: int
    width: int
    channels: int
    scale: float
    mean: np.ndarray
    std: np.ndarray
    dtype: np.dtype

    def load(self, path: Path) -> np.ndarray:
        """One image as a model-ready array (without the batch dimension)."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                pixels = image.convert("L" if self.channels == 1 else "RGB").resize(
                    (self.width, self.height), Image.Resampling.BILINEAR)
                array = np.asarray(pixels, dtype=np.float32).reshape(self.height, self.width, self.channels)
        except (UnidentifiedImageError, OSError) as error:
            raise dataset_mismatch(f"image {path.name} cannot be read: {error}") from None
        array = (array * self.scale - self.mean) / self.std
        if self.layout == "NCHW":
            array = array.transpose(2, 0, 1)
        return np.ascontiguousarray(array, dtype=self.dtype)


def _per_channel(values: Any, channels: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(channels, default, dtype=np.float32)
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) == 1:
        values = values * channels
    return np.asarray(values[:channels], dtype=np.float32)


def image_preprocessing(tensor: TensorInfo, template: dict[str, Any]) -> ImagePreprocessing:
    shape = tensor.shape
    if len(shape) != 4:
        raise dataset_mismatch(f"an imagefolder dataset needs an image input [N, C, H, W] or [N, H, W, C]; "
                               f"input {tensor.name} is {tensor.describe()}")
    layout = template.get("layout") or ("NHWC" if shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4) else "NCHW")
    c, h, w = (shape[1], shape[2], shape[3]) if layout == "NCHW" else (shape[3], shape[1], shape[2])
    resize = template.get("resize")
    if h < 0 or w < 0:
        if resize is None:
            raise dataset_mismatch(f"input {tensor.name} is {tensor.describe()}: its height and width are dynamic "
                                   "and no template gives a resize size")
        h, w = (resize, resize) if isinstance(resize, int) else tuple(resize)
    channels = c if c > 0 else 3
    return ImagePreprocessing(
        layout=layout, height=int(h), width=int(w), channels=channels,
        scale=float(template.get("scale", 1 / 255)),
        mean=_per_channel(template.get("mean"), channels, 0.0),
        std=_per_channel(template.get("std"), channels, 1.0),
        dtype=np.dtype(tensor.dtype if tensor.dtype.startswith("float") else "float32"),
    )
