from __future__ import annotations

from pathlib import Path

import torch

from modelyard.worker.convert.vocabulary import exported_sizes, module_sizes, onnx_sizes
from tests.unit.worker.convert import models as m


def test_token_ids_index_the_token_table_not_the_position_table(tmp_path: Path):
    module, signature = m.build("text")
    program = torch.export.export(module, m.example(signature), dynamic_shapes=m.dynamic_shapes(signature))
    assert exported_sizes(program) == {"tokens": m.VOCAB}
    name, body = m.serialise(module, signature, "onnx")
    (tmp_path / name).write_bytes(body)
    assert onnx_sizes(tmp_path / name) == {"tokens": m.VOCAB}
    arrays = [a.numpy() for a in m.example(signature)]
    assert module_sizes(module, arrays, [t["name"] for t in signature["inputs"]]) == {"tokens": m.VOCAB}


def test_a_model_without_tables_reveals_nothing(tmp_path: Path):
    name, body = m.serialise(*m.build("mlp"), "onnx")
    (tmp_path / name).write_bytes(body)
    assert onnx_sizes(tmp_path / name) == {}
    module, signature = m.build("mlp")
    assert exported_sizes(torch.export.export(module, m.example(signature))) == {}
    assert module_sizes(module, [a.numpy() for a in m.example(signature)], [t["name"] for t in signature["inputs"]]) == {}
