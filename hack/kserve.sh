#!/usr/bin/env bash
# KServe's own manifests, from its Go module (github.com/kserve/kserve) as the Go module proxy
# serves it: the CRDs (InferenceService, ServingRuntime, ClusterServingRuntime and the rest of
# config/crd/full) and the ClusterServingRuntimes KServe ships (config/runtimes), for the tests
# that hold our InferenceService builder to KServe's real schema.
#
#   hack/kserve.sh crds       fetch (or reuse) them; prints the folder: crds/*.yaml, runtimes/*.yaml
#   hack/kserve.sh version    prints the KServe version used
#
# `go mod download` fetches the module zip through GOPROXY as the environment sets it and checks
# it against the checksum database (GOSUMDB), so what lands in the cache is what KServe tagged.
# Cached by version under ${MODELYARD_KSERVE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/modelyard/kserve}/VERSION.
#
# Why v0.20.0: the proxy lists no versions of this module (its /@v/list answers 403), so the
# version is pinned; v0.20.0 (tagged 2026-08-06) is the newest it served when this was written
# (v0.20.1 and v0.21.0 refused). Raising it: try `go mod download github.com/kserve/kserve@vX.Y.Z`.
set -Eeuo pipefail

KSERVE_VERSION="${MODELYARD_KSERVE_VERSION:-v0.20.0}"
MODULE="github.com/kserve/kserve"

die() { echo "kserve: $*" >&2; exit 1; }

cache_dir() {
  echo "${MODELYARD_KSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelyard/kserve}/$KSERVE_VERSION"
}

have_manifests() {
  local dir="$1"
  [[ -f "$dir/crds/serving.kserve.io_inferenceservices.yaml" \
     && -f "$dir/crds/serving.kserve.io_servingruntimes.yaml" \
     && -f "$dir/crds/serving.kserve.io_clusterservingruntimes.yaml" \
     && -f "$dir/runtimes/kserve-tritonserver.yaml" ]]
}

crds() {
  local dir; dir="$(cache_dir)"
  have_manifests "$dir" && { echo "$dir"; return; }
  # One fetch at a time per cache (CI starts one beside pip; the test session may ask too).
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  if have_manifests "$dir"; then
    exec 9>&-; echo "$dir"; return
  fi
  command -v go >/dev/null || die "go is not installed: KServe's manifests come from its Go module through the Go module proxy"
  local started=$SECONDS json source
  # Outside any module (a go.work or go.mod above the cwd would change what `go` resolves).
  json="$(cd / && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$MODULE@$KSERVE_VERSION")" \
    || die "go mod download $MODULE@$KSERVE_VERSION failed: $json"
  source="$(python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["Dir"])' <<<"$json")" \
    || die "go mod download printed no module folder: $json"
  [[ -d "$source/config/crd/full" && -d "$source/config/runtimes" ]] \
    || die "$source has no config/crd/full or config/runtimes: the module's layout changed"
  local staging="$dir.partial.$$"
  rm -rf "$staging"; mkdir -p "$staging/crds" "$staging/runtimes"
  cp "$source"/config/crd/full/*.yaml "$staging/crds/"
  rm -f "$staging/crds/kustomization.yaml"
  cp "$source"/config/runtimes/*.yaml "$staging/runtimes/"
  rm -f "$staging/runtimes/kustomization.yaml"
  # The module cache is read-only; the copies need not be.
  chmod -R u+w "$staging"
  echo "$KSERVE_VERSION" > "$staging/VERSION"
  rm -rf "$dir"; mv "$staging" "$dir"
  exec 9>&-
  echo "kserve: $MODULE@$KSERVE_VERSION manifests in $dir ($((SECONDS - started)) s)" >&2
  echo "$dir"
}

case "${1:-}" in
  crds) crds ;;
  version) echo "$KSERVE_VERSION" ;;
  *) die "usage: $0 crds | version" ;;
esac
