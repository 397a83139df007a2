#!/usr/bin/env bash
# Regenerate everything derived from operator/modelyard/api: the CRDs (also into the Helm chart)
# and the API reference.
# Tests fail when the checked-in files drift from the models.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
"$PYTHON" -m modelyard crds --out crds
# The Helm chart carries identical copies (Helm installs charts/modelyard/crds/ before the release).
rm -f charts/modelyard/crds/*.yaml
cp crds/*.yaml charts/modelyard/crds/
# The preset ClusterAlgorithms the chart installs (Helm reads files inside the chart only).
mkdir -p charts/modelyard/algorithms
rm -f charts/modelyard/algorithms/*.yaml
cp operator/modelyard/algorithms/*.yaml charts/modelyard/algorithms/
"$PYTHON" -m modelyard.api.reference > docs/api-reference.md
echo "wrote docs/api-reference.md"
