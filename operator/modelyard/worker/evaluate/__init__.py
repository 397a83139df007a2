"""The evaluation worker (`python -m modelyard.worker evaluate`): a ModelVersion on a dataset
-> metrics, promotion gates and a report with plots in the store.

Modules, in the order the data flows: datasets/ (fetch, checksum, stream batches), conform
(check batches against the model's inputs), backends/ (onnxruntime, torch, triton), loop
(time each batch, tally), metrics and latency (numbers), gates (verdict, baseline), diagnosis,
plots, html and report (the store's report folder), run (the whole job).
"""

from typing import Any

__all__ = ["EvaluateJob", "run_evaluate"]


def __getattr__(name: str) -> Any:
    # on first use: the training worker imports this package's dataset hashing, not the
    # evaluation loop with numpy and its backends
    if name in __all__:
        from modelyard.worker.evaluate import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
