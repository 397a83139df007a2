"""The built-in model server (`python -m modelyard.worker serve`) and the live parity check
(`python -m modelyard.worker parity`): a stored ModelVersion served over the Open Inference
Protocol (KServe v2) on REST and gRPC, and its conversion's recorded samples replayed against a
live endpoint."""
