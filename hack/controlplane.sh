#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, built from Go modules (hack/controlplane/go.mod):
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler (and a kubectl of the same
# release). No kubelet: the tests bring
# their own (tests/support/kubelet.py), which runs the Pods the scheduler binds as processes.
#
#   hack/controlplane.sh build              build (or reuse) the binaries; prints their folder
#   hack/controlplane.sh start STATE_DIR    build if needed, start all four, wait for each
#                                           /readyz, write STATE_DIR/kubeconfig (admin)
#   hack/controlplane.sh stop STATE_DIR     end the processes that `start` started, nothing else
#   hack/controlplane.sh restart STATE_DIR COMPONENT
#                                           stop one component and start it again, same flags
#
# The binaries are cached outside the work tree, keyed by release and by the module files:
# ${MODELYARD_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/modelyard/controlplane}/KEY/bin.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$HERE/controlplane"
KUBERNETES_VERSION="v1.37.2"
ETCD_VERSION="v3.7.0"   # the etcd k8s.io/kubernetes $KUBERNETES_VERSION itself requires
READY_TIMEOUT="${MODELYARD_CONTROLPLANE_TIMEOUT:-60}"

die() { echo "controlplane: $*" >&2; exit 1; }

bin_dir() {
  local cache="${MODELYARD_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelyard/controlplane}"
  local sum
  sum="$(cat "$MODULE/go.mod" "$MODULE/go.sum" | sha256sum | cut -c1-12)"
  echo "$cache/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-$sum/bin"
}

have_binaries() {
  local bin="$1"
  [[ -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" && -x "$bin/kube-scheduler" \
     && -x "$bin/kubectl" && -x "$bin/etcd" ]]
}

build() {
  local bin; bin="$(bin_dir)"
  have_binaries "$bin" && { echo "$bin"; return; }
  # One build at a time per cache (tests, benches and people may start together).
  mkdir -p "$(dirname "$bin")"
  exec 9>"$(dirname "$bin").lock"
  flock 9
  if have_binaries "$bin"; then
    exec 9>&-; echo "$bin"; return
  fi
  command -v go >/dev/null || die "go is not installed: the control plane is built from Go modules (Go >= 1.26)"
  local staging="$bin.partial.$$"
  rm -rf "$staging"; mkdir -p "$staging"
  echo "controlplane: building Kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION into $bin (cold: 6 to 10 minutes on 2 cores, 3 GiB of memory)" >&2
  local started=$SECONDS
  # version.gitVersion is what /version and `kubectl version` report; without it the
  # binaries call themselves v0.0.0 and clients that check the server's version refuse.
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
  (cd "$MODULE" && CGO_ENABLED=0 go build -trimpath -o "$staging/" -ldflags "$ldflags" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3) >&2 \
    || { rm -rf "$staging"; die "go build failed (see above)"; }
  mv "$staging/server" "$staging/etcd"   # go names the binary after the package path: server
  rm -rf "$bin"; mv "$staging" "$bin"
  exec 9>&-
  echo "controlplane: built in $((SECONDS - started)) s" >&2
  echo "$bin"
}

free_ports() {  # N free loopback ports, one per line
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
EOF
}

client_cert() {  # client_cert PKI FILE CN [GROUP]: a client certificate signed by the CA
  local pki="$1" file="$2" subject="/CN=$3"
  [[ -n "${4:-}" ]] && subject="/O=$4/CN=$3"
  openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$pki/$file.key" -out "$pki/$file.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$file.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -out "$pki/$file.crt" 2>/dev/null
}

certs() {  # CA, serving cert, client certs per identity, service-account key pair
  local pki="$1/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=modelyard-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" \
    -out "$pki/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' > "$pki/san.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
  client_cert "$pki" admin admin system:masters
  client_cert "$pki" kube-controller-manager system:kube-controller-manager
  client_cert "$pki" kube-scheduler system:kube-scheduler
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

kubeconfig() {  # kubeconfig FILE SERVER CERT_NAME
  local pki; pki="$(dirname "$1")/pki"
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: modelyard-test
  cluster:
    server: $2
    certificate-authority: $pki/ca.crt
users:
- name: $3
  user:
    client-certificate: $pki/$3.crt
    client-key: $pki/$3.key
contexts:
- name: $3
  context: {cluster: modelyard-test, user: $3, namespace: default}
current-context: $3
EOF
}

launch() {  # launch STATE NAME BINARY ARGS...: detached, its own process group, logged
  local state="$1" name="$2"; shift 2
  mkdir -p "$state/cmd"
  printf '%q ' "$@" > "$state/cmd/$name"   # for `restart`
  readlink -f "$1" > "$state/cmd/$name.exe"
  setsid "$@" >> "$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name"
}

wait_ready() {  # wait_ready STATE NAME URL [curl args...]
  local state="$1" name="$2" url="$3"; shift 3
  local deadline=$((SECONDS + READY_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$(cat "$state/pids/$name")" 2>/dev/null; then
      echo "controlplane: $name exited before it was ready; the end of $state/logs/$name.log:" >&2
      tail -n 40 "$state/logs/$name.log" >&2; return 1
    fi
    if [[ "$(curl -sk -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null)" == 200 ]]; then return 0; fi
    sleep 0.2
  done
  echo "controlplane: $name was not ready at $url within ${READY_TIMEOUT}s; the end of $state/logs/$name.log:" >&2
  tail -n 40 "$state/logs/$name.log" >&2
  return 1
}

start() {
  local state="$1"
  [[ -n "$state" ]] || die "usage: $0 start STATE_DIR"
  mkdir -p "$state"; state="$(cd "$state" && pwd)"
  if [[ -d "$state/pids" ]] && compgen -G "$state/pids/*" >/dev/null; then
    die "$state already has a running control plane (run: $0 stop $state)"
  fi
  local bin; bin="$(build)"
  rm -rf "$state/etcd" "$state/pki" "$state/logs" "$state/cmd"; mkdir -p "$state/logs" "$state/pids"
  certs "$state"
  local ports; mapfile -t ports < <(free_ports 5)
  local etcd_port="${ports[0]}" peer_port="${ports[1]}" api_port="${ports[2]}" kcm_port="${ports[3]}" sched_port="${ports[4]}"
  local pki="$state/pki" server="https://127.0.0.1:${ports[2]}"
  declare -p etcd_port api_port kcm_port sched_port server pki > "$state/ports"
  trap 'stop "$state" >/dev/null 2>&1 || true' ERR

  launch "$state" etcd "$bin/etcd" --name default --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --unsafe-no-fsync --quota-backend-bytes 4294967296 \
    --log-level warn
  ready_check "$state" etcd

  # MODELYARD_CONTROLPLANE_AUDIT=1: every request's metadata (user, verb, resource) in
  # STATE/logs/audit.log, one JSON line each (how the bench counts an operator's requests).
  local -a audit=()
  if [[ "${MODELYARD_CONTROLPLANE_AUDIT:-}" == 1 ]]; then
    printf '%s\n' 'apiVersion: audit.k8s.io/v1' 'kind: Policy' 'omitStages: [RequestReceived]' \
      'rules: [{level: Metadata}]' > "$state/audit-policy.yaml"
    audit=(--audit-policy-file "$state/audit-policy.yaml" --audit-log-path "$state/logs/audit.log"
           --audit-log-format json --audit-log-mode blocking)
  fi
  launch "$state" kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --api-audiences https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=false --profiling=false \
    --event-ttl 1h0m0s --endpoint-reconciler-type none "${audit[@]}"
  ready_check "$state" kube-apiserver

  kubeconfig "$state/kubeconfig" "$server" admin
  kubeconfig "$state/kube-controller-manager.kubeconfig" "$server" kube-controller-manager
  kubeconfig "$state/kube-scheduler.kubeconfig" "$server" kube-scheduler

  # All default controllers; their client QPS is raised from 20 so that Job and pod churn in
  # tests and benches measures the operator, not the controller manager's rate limiter. The token controller signs with the same key the API server checks,
  # and kube-root-ca.crt (the CA bundle every Pod mounts) carries our CA.
  launch "$state" kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/kube-controller-manager.kubeconfig" --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --leader-elect=false --controllers '*' --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" --use-service-account-credentials=true --profiling=false \
    --kube-api-qps 200 --kube-api-burst 400
  launch "$state" kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/kube-scheduler.kubeconfig" --bind-address 127.0.0.1 --secure-port "$sched_port" \
    --leader-elect=false --profiling=false --kube-api-qps 200 --kube-api-burst 400
  ready_check "$state" kube-controller-manager
  ready_check "$state" kube-scheduler
  trap - ERR
  cat > "$state/env" <<EOF
KUBECONFIG=$state/kubeconfig
MODELYARD_APISERVER=$server
MODELYARD_ETCD=http://127.0.0.1:$etcd_port
EOF
  echo "controlplane: ready at $server (KUBECONFIG=$state/kubeconfig)" >&2
}

stop_one() {  # stop_one STATE NAME
  local file="$1/pids/$2" pid
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  # Only a process that is still the one we started (that pid, running our binary) is signalled.
  if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(cat "$1/cmd/$2.exe")" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

ready_check() {  # ready_check STATE NAME: wait for one component's health endpoint
  local state="$1"
  # shellcheck disable=SC1091
  source "$state/ports"
  case "$2" in
    etcd) wait_ready "$state" etcd "http://127.0.0.1:$etcd_port/health" ;;
    kube-apiserver) wait_ready "$state" kube-apiserver "$server/readyz" --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" ;;
    kube-controller-manager) wait_ready "$state" kube-controller-manager "https://127.0.0.1:$kcm_port/healthz" ;;
    kube-scheduler) wait_ready "$state" kube-scheduler "https://127.0.0.1:$sched_port/readyz" ;;
    *) die "unknown component $2 (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)" ;;
  esac
}

restart() {  # restart STATE NAME: the same component, same flags and ports, as after a crash
  local state="$1" name="$2"
  [[ -f "$state/cmd/$name" ]] || die "no $name was started in $state"
  stop_one "$state" "$name"
  local -a command
  eval "command=($(cat "$state/cmd/$name"))"
  launch "$state" "$name" "${command[@]}"
  ready_check "$state" "$name"
}

stop() {
  local state="$1"
  [[ -n "$state" ]] || die "usage: $0 stop STATE_DIR"
  [[ -d "$state/pids" ]] || return 0
  # Reverse order of start: clients first, etcd last.
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop_one "$state" "$name"
  done
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  restart) restart "${2:?usage: $0 restart STATE_DIR COMPONENT}" "${3:?usage: $0 restart STATE_DIR COMPONENT}" ;;
  *) die "usage: $0 build | start STATE_DIR | stop STATE_DIR | restart STATE_DIR COMPONENT" ;;
esac
