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


def _minilm_classifier(num_classes: int, num_layers: int = 6, hidden: int = 384, heads: int = 12,
                       intermediate: int = 1536, vocab_size: int = 30522, max_positions: int = 512) -> Any:
    """A BERT encoder (MiniLM-L6-H384 by default), mean pooling over the attention mask (as
    all-MiniLM-L6-v2's sentence embedding) and a linear head. Submodule names are BERT's, so the
    pretrained encoder's weights load by name; written out in plain torch ops (no
    `transformers` at run time) so that it exports to ONNX with batch and sequence dynamic."""
    import math

    import torch
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            n, t, _ = x.shape

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.view(n, t, heads, hidden // heads).transpose(1, 2)

            scores = split(self.query(x)) @ split(self.key(x)).transpose(-1, -2) / math.sqrt(hidden // heads)
            context = (scores + bias).softmax(-1) @ split(self.value(x))
            return context.transpose(1, 2).reshape(n, t, hidden)

    class Output(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.dense = nn.Linear(width, hidden)
            self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
            return self.LayerNorm(self.dense(x) + residual)

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.self = SelfAttention()
            self.output = Output(hidden)

    class Intermediate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(hidden, intermediate)

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = Attention()
            self.intermediate = Intermediate()
            self.output = Output(intermediate)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            x = self.attention.output(self.attention.self(x, bias), x)
            return self.output(nn.functional.gelu(self.intermediate.dense(x)), x)

    class Embeddings(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab_size, hidden, padding_idx=0)
            self.position_embeddings = nn.Embedding(max_positions, hidden)
            self.token_type_embeddings = nn.Embedding(2, hidden)
            self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
            return self.LayerNorm(x)

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.ModuleList(Layer() for _ in range(num_layers))

    class MiniLMClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = Embeddings()
            self.encoder = Encoder()
            self.head = nn.Linear(hidden, num_classes)

        def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.to(torch.float32)
            # -1e4, not the dtype's minimum: it stays finite when converted to fp16
            bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
            x = self.embeddings(input_ids)
            for layer in self.encoder.layer:
                x = layer(x, bias)
            weights = mask.unsqueeze(-1)
            return (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.head(self.embed(input_ids, attention_mask))

    return MiniLMClassifier()


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "SmallCNN": _small_cnn,
    "BagOfEmbeddings": _bag_of_embeddings,
    "MLP": _mlp,
    "MiniLMClassifier": _minilm_classifier,
}
