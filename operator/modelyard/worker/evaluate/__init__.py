"""The evaluation worker (`python -m modelyard.worker evaluate`): a ModelVersion on a dataset
-> metrics, promotion gates and a report with plots in the store.

Modules, in the order the data flows: datasets/ (fetch, checksum, stream batches), conform
(check batches against the model's inputs), backends/ (onnxruntime, torch, triton), loop
(time each batch, tally), metrics and latency (numbers), gates (verdict, baseline), diagnosis,
plots, html and report (the store's report folder), run (the whole job).
"""

from modelyard.worker.evaluate.run import EvaluateJob, run_evaluate

__all__ = ["EvaluateJob", "run_evaluate"]
