"""Built-in architectures that template weights load into. Only these names can be used by a
template (a catalog file never names an arbitrary import path), and torch is imported only
when one is built."""

from __future__ import annotations

from typing import Any, Callable


def _small_cnn(num_classes: int, channels: int) -> Any:
    from torch import nn

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    return nn.Sequential(
        block(channels, 16), nn.MaxPool2d(2), block(16, 32), nn.MaxPool2d(2), block(32, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes),
    )


def _bag_of_embeddings(vocab_size: int, embedding_dim: int, num_classes: int) -> Any:
    import torch
    from torch import nn

    class BagOfEmbeddings(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
            self.head = nn.Linear(embedding_dim, num_classes)

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            mask = (input_ids != 0).unsqueeze(-1).float()
            pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled)

    return BagOfEmbeddings()


def _mlp(num_features: int, hidden: int, num_classes: int) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "SmallCNN": _small_cnn,
    "BagOfEmbeddings": _bag_of_embeddings,
    "MLP": _mlp,
}
