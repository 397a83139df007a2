"""A broken runtime, arranged by tests: put this folder on a server's PYTHONPATH and every float
output onnxruntime computes is off by 0.25. The product has no hook for it: Python imports
`sitecustomize` at start-up, as it would a site's own patch."""

import onnxruntime

_run = onnxruntime.InferenceSession.run


def run(self, output_names, input_feed, run_options=None):
    return [o + 0.25 if o.dtype.kind == "f" else o for o in _run(self, output_names, input_feed, run_options)]


onnxruntime.InferenceSession.run = run
