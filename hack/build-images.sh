#!/usr/bin/env bash
# Build the Modelyard images with docker buildx, tagged with the package version.
#
#   hack/build-images.sh [--push | --load] [IMAGE...]
#
# IMAGE: operator, console, worker-cpu, worker-gpu, worker-ascend (default: all five).
# --push  build every platform and push (REGISTRY must be writable)
# --load  build for this machine's platform only and load into the local Docker engine
#         (what hack/e2e-kind.sh does before `kind load`)
# Environment: REGISTRY (default ghcr.io/modelyard), TAG (default: the version in pyproject.toml),
# PLATFORMS (overrides each image's platforms), DRY_RUN=1 (print the commands, run nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY="${REGISTRY:-ghcr.io/modelyard}"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
TAG="${TAG:-$VERSION}"
OUTPUT=""
IMAGES=()

for arg in "$@"; do
  case "$arg" in
    --push) OUTPUT="--push" ;;
    --load) OUTPUT="--load" ;;
    operator | console | worker-cpu | worker-gpu | worker-ascend) IMAGES+=("$arg") ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done
if [[ ${#IMAGES[@]} -eq 0 ]]; then
  IMAGES=(operator console worker-cpu worker-gpu worker-ascend)
fi

platforms_of() {
  case "$1" in
    operator | console | worker-cpu | worker-ascend) echo "linux/amd64,linux/arm64" ;;
    worker-gpu) echo "linux/amd64" ;;
  esac
}

run() {
  echo "+ $*"
  if [[ "${DRY_RUN:-0}" != 1 ]]; then
    "$@"
  fi
}

if [[ "${DRY_RUN:-0}" != 1 ]] && ! docker buildx version > /dev/null 2>&1; then
  echo "docker buildx is not available: install Docker with the buildx plugin" >&2
  exit 1
fi

for image in "${IMAGES[@]}"; do
  platforms="${PLATFORMS:-$(platforms_of "$image")}"
  if [[ "$OUTPUT" == "--load" ]]; then
    # A multi-platform image cannot be loaded into the engine: build the native one.
    platforms=""
  fi
  args=(docker buildx build --file "hack/images/${image}.Dockerfile" --tag "${REGISTRY}/${image}:${TAG}")
  if [[ -n "$platforms" ]]; then
    args+=(--platform "$platforms")
  fi
  if [[ -n "$OUTPUT" ]]; then
    args+=("$OUTPUT")
  fi
  run "${args[@]}" .
done
