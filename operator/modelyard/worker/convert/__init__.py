"""Conversion: a Ready ModelVersion -> a verified, benchmarked ModelVersion for a target.

The pipeline (`pipeline.run_convert`): load the source, export to ONNX, optimise, compress
(FP16, INT8) or build for the target runtime (OpenVINO, TorchScript, TensorRT, Ascend), verify
against the source, measure both on this machine, and only then upload the output version.
"""

from modelyard.worker.convert.pipeline import ConvertJob, run_convert

__all__ = ["ConvertJob", "run_convert"]
