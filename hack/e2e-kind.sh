#!/usr/bin/env bash
# End to end on kind: a cluster with a node per hardware profile (fake nvidia.com/gpu and
# huawei.com/Ascend910 capacity, an arm64-labelled node), MinIO as the store, the images built
# and loaded, the chart installed, a folder of manifests applied and watched to completion, and
# each worker Job checked to have run on the node its profile names.
#
#   hack/e2e-kind.sh [MANIFEST_DIR]      (default: examples/quickstart)
#
# When MANIFEST_DIR has a prepare.py (the quickstart), it is run first; what it writes is uploaded
# to MinIO and the manifests' file:///tmp/modelyard-quickstart/ URIs are pointed there.
# Environment:
#   KEEP_CLUSTER=1   keep the cluster afterwards (default: deleted, also on failure)
#   CLUSTER_NAME     kind cluster name (default modelyard-e2e)
#   E2E_TIMEOUT      how long to wait for the objects, in minutes (default 20m)
#   ARTIFACTS        where logs go on failure (default /tmp/modelyard-e2e-artifacts)
#   PYTHON           a Python with the package and its quickstart extra (default .venv/bin/python)
#   SKIP_BUILD=1     use images already in the local Docker engine
# Needs: docker, kind, kubectl, helm.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFESTS="${1:-examples/quickstart}"
CLUSTER_NAME="${CLUSTER_NAME:-modelyard-e2e}"
E2E_TIMEOUT="${E2E_TIMEOUT:-20m}"
WAIT_SECONDS="$(( ${E2E_TIMEOUT%m} * 60 ))"
ARTIFACTS="${ARTIFACTS:-/tmp/modelyard-e2e-artifacts}"
PYTHON="${PYTHON:-.venv/bin/python}"
NAMESPACE=modelyard-e2e
SYSTEM_NAMESPACE=modelyard-system
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
LOCAL_DATA_URI="file:///tmp/modelyard-quickstart/"
STORE_DATA_URI="s3://e2e-data/quickstart/"
MINIO_USER=modelyard-e2e
MINIO_PASSWORD=modelyard-e2e-secret
WORK="$(mktemp -d)"
PORT_FORWARD_PID=""
KUBECONFIG_FILE="$WORK/kubeconfig"
export KUBECONFIG="$KUBECONFIG_FILE"

log() { printf '\n==> %s\n' "$*"; }

for tool in docker kind kubectl helm; do
  command -v "$tool" > /dev/null || { echo "e2e needs $tool on PATH" >&2; exit 1; }
done
docker info > /dev/null 2>&1 || { echo "e2e needs a running Docker engine" >&2; exit 1; }
[[ -d "$MANIFESTS" ]] || { echo "no such folder: $MANIFESTS" >&2; exit 1; }

collect_logs() {
  mkdir -p "$ARTIFACTS"
  echo "collecting logs into $ARTIFACTS" >&2
  kubectl get nodes -o wide --show-labels > "$ARTIFACTS/nodes.txt" 2>&1 || true
  kubectl get modelyard,jobs,pods -A -o wide > "$ARTIFACTS/objects.txt" 2>&1 || true
  kubectl get modelyard -n "$NAMESPACE" -o yaml > "$ARTIFACTS/modelyard.yaml" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp > "$ARTIFACTS/events.txt" 2>&1 || true
  kubectl -n "$SYSTEM_NAMESPACE" logs deployment/modelyard-operator --all-containers > "$ARTIFACTS/operator.log" 2>&1 || true
  kubectl -n "$NAMESPACE" describe jobs,pods > "$ARTIFACTS/describe.txt" 2>&1 || true
  local pod
  for pod in $(kubectl -n "$NAMESPACE" get pods -o name 2> /dev/null); do
    kubectl -n "$NAMESPACE" logs "$pod" --all-containers > "$ARTIFACTS/${pod#pod/}.log" 2>&1 || true
  done
  kind export logs "$ARTIFACTS/kind" --name "$CLUSTER_NAME" > /dev/null 2>&1 || true
}

finish() {
  local code=$?
  if [[ -n "$PORT_FORWARD_PID" ]]; then
    kill "$PORT_FORWARD_PID" 2> /dev/null || true
  fi
  if [[ $code -ne 0 ]]; then
    echo "e2e FAILED (exit $code)" >&2
    collect_logs
  fi
  if [[ "${KEEP_CLUSTER:-0}" == 1 ]]; then
    echo "keeping cluster $CLUSTER_NAME (KEEP_CLUSTER=1); kubeconfig: $KUBECONFIG_FILE" >&2
  else
    kind delete cluster --name "$CLUSTER_NAME" > /dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  exit "$code"
}
trap finish EXIT

node_named() {
  kubectl get nodes -l "modelyard.dev/e2e-node=$1" -o jsonpath='{.items[0].metadata.name}'
}

log "kind cluster $CLUSTER_NAME"
kind create cluster --name "$CLUSTER_NAME" --config hack/e2e/kind-config.yaml --kubeconfig "$KUBECONFIG_FILE" --wait 180s

log "fake accelerators: capacity, taints, labels"
GPU_NODE="$(node_named gpu)"
ASCEND_NODE="$(node_named ascend)"
ARM_NODE="$(node_named arm)"
# Extended resources advertised by hand, as a device plugin would: the kubelet keeps them.
kubectl patch node "$GPU_NODE" --subresource=status --type=json \
  -p '[{"op": "add", "path": "/status/capacity/nvidia.com~1gpu", "value": "2"}]'
kubectl patch node "$ASCEND_NODE" --subresource=status --type=json \
  -p '[{"op": "add", "path": "/status/capacity/huawei.com~1Ascend910", "value": "2"}]'
kubectl taint node "$GPU_NODE" nvidia.com/gpu=present:NoSchedule --overwrite
kubectl taint node "$ASCEND_NODE" huawei.com/Ascend910=present:NoSchedule --overwrite
# The node is amd64 underneath; the label is what the arm profile selects on. The kubelet sets
# this label only when it registers, so the override holds for the life of the cluster.
kubectl label node "$ARM_NODE" kubernetes.io/arch=arm64 --overwrite
kubectl wait node "$GPU_NODE" --for=jsonpath='{.status.allocatable.nvidia\.com/gpu}'=2 --timeout=60s
kubectl wait node "$ASCEND_NODE" --for=jsonpath='{.status.allocatable.huawei\.com/Ascend910}'=2 --timeout=60s

log "images $VERSION"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  hack/build-images.sh --load operator worker-cpu
fi
kind load docker-image --name "$CLUSTER_NAME" "ghcr.io/modelyard/operator:$VERSION" "ghcr.io/modelyard/worker-cpu:$VERSION"

log "MinIO"
kubectl apply -f hack/e2e/minio.yaml
kubectl -n minio rollout status deployment/minio --timeout=300s

log "store: buckets and data"
kubectl -n minio port-forward service/minio 19000:9000 > "$WORK/port-forward.log" 2>&1 &
PORT_FORWARD_PID=$!
for _ in $(seq 1 30); do
  if (echo > /dev/tcp/127.0.0.1/19000) 2> /dev/null; then break; fi
  sleep 1
done
cp -R "$MANIFESTS" "$WORK/manifests"
SEED=(--endpoint http://127.0.0.1:19000)
if [[ -f "$MANIFESTS/prepare.py" ]]; then
  "$PYTHON" "$MANIFESTS/prepare.py" --out "$WORK/data"
  SEED+=(--folder "$WORK/data" --to "$STORE_DATA_URI")
  grep -rl --include='*.yaml' "$LOCAL_DATA_URI" "$WORK/manifests" | while read -r file; do
    sed -i "s#${LOCAL_DATA_URI}#${STORE_DATA_URI}#g" "$file"
  done
fi
AWS_ACCESS_KEY_ID="$MINIO_USER" AWS_SECRET_ACCESS_KEY="$MINIO_PASSWORD" \
  "$PYTHON" hack/e2e/seed_store.py "${SEED[@]}" modelyard e2e-data
kill "$PORT_FORWARD_PID" && PORT_FORWARD_PID=""

log "chart"
kubectl create namespace "$NAMESPACE"
kubectl -n "$NAMESPACE" create secret generic e2e-store-credentials \
  --from-literal=AWS_ACCESS_KEY_ID="$MINIO_USER" --from-literal=AWS_SECRET_ACCESS_KEY="$MINIO_PASSWORD"
helm install modelyard charts/modelyard --namespace "$SYSTEM_NAMESPACE" --create-namespace \
  --values hack/e2e/values.yaml --wait --timeout 5m
kubectl -n "$SYSTEM_NAMESPACE" rollout status deployment/modelyard-operator --timeout=120s

log "apply $MANIFESTS"
kubectl -n "$NAMESPACE" apply -f "$WORK/manifests/"
if [[ "$MANIFESTS" == examples/quickstart* ]]; then
  kubectl -n "$NAMESPACE" apply -f hack/e2e/ascend-check.yaml
fi
kubectl -n "$NAMESPACE" get modelyard

log "wait for every object to finish"
expect_phase() {  # KIND PHASE NAME...: each object reaches PHASE; another final phase fails at once
  local kind=$1 phase=$2 deadline=$((SECONDS + WAIT_SECONDS))
  shift 2
  local name current
  for name in "$@"; do
    while true; do
      current="$(kubectl -n "$NAMESPACE" get "$kind" "$name" -o jsonpath='{.status.phase}')"
      if [[ "$current" == "$phase" ]]; then
        echo "ok    $kind/$name is $phase"
        break
      fi
      if [[ "$current" =~ ^(Succeeded|Failed|Ready)$ ]]; then
        echo "$kind/$name is $current, expected $phase: $(kubectl -n "$NAMESPACE" get "$kind" "$name" \
          -o jsonpath='{.status.message}')" >&2
        return 1
      fi
      if ((SECONDS > deadline)); then
        echo "$kind/$name still ${current:-without a phase} after ${WAIT_SECONDS}s" >&2
        return 1
      fi
      sleep 5
    done
  done
}
names_of() {  # KIND: the names of the objects of that kind applied from the folder
  kubectl -n "$NAMESPACE" get "$1" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | grep -v '^e2e-' || true
}
mapfile -t CONVERSIONS < <(names_of conversionjobs)
mapfile -t EVALUATIONS < <(names_of evaluationjobs)
expect_phase conversionjobs Succeeded "${CONVERSIONS[@]}"
expect_phase evaluationjobs Succeeded "${EVALUATIONS[@]}"
kubectl -n "$NAMESPACE" wait modelversions --all --for=condition=Ready --timeout="$E2E_TIMEOUT"
kubectl -n "$NAMESPACE" wait models --all --for=condition=Ready --timeout="$E2E_TIMEOUT"
if kubectl -n "$NAMESPACE" get conversionjob e2e-digits-om-ascend > /dev/null 2>&1; then
  expect_phase conversionjobs Failed e2e-digits-om-ascend
  reason="$(kubectl -n "$NAMESPACE" get conversionjob e2e-digits-om-ascend \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')"
  [[ "$reason" == ToolMissing ]] || { echo "ascend conversion failed with $reason, expected ToolMissing" >&2; exit 1; }
fi
kubectl -n "$NAMESPACE" get modelyard

log "every worker Job ran on its hardware's node"
failures=0
while read -r job hardware; do
  [[ -n "$job" ]] || continue
  node="$(kubectl -n "$NAMESPACE" get pods -l "job-name=$job" -o jsonpath='{.items[0].spec.nodeName}')"
  role="$(kubectl get node "$node" -o jsonpath='{.metadata.labels.modelyard\.dev/e2e-node}')"
  if [[ "$role" == "$hardware" ]]; then
    echo "ok    $job ($hardware) ran on $node"
  else
    echo "WRONG $job ($hardware) ran on $node, a $role node" >&2
    failures=$((failures + 1))
  fi
done < <(kubectl -n "$NAMESPACE" get jobs -l app.kubernetes.io/managed-by=modelyard \
  -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.labels.modelyard\.dev/hardware}{"\n"}{end}')
[[ $failures -eq 0 ]]

log "e2e passed"
