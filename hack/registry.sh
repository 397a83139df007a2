#!/usr/bin/env bash
# A real OCI registry on loopback: Debian's docker-registry (distribution v2.8), for the OCI
# import and publish tests and for trying `modelyard publish` by hand.
#
#   hack/registry.sh install            install docker-registry and apache2-utils (htpasswd)
#                                       (apt, once per machine; waits for an install in progress)
#   hack/registry.sh start STATE_DIR    start two registries on free loopback ports: one open,
#                                       one that asks for HTTP basic auth (htpasswd, bcrypt);
#                                       wait until both answer; write STATE_DIR/env
#   hack/registry.sh start-token STATE_DIR REALM ROOT_CERT
#                                       start one registry with distribution's token auth: it
#                                       sends clients to REALM for Bearer tokens and trusts
#                                       tokens signed by ROOT_CERT's key (the test session runs
#                                       the token service); writes STATE_DIR/env
#   hack/registry.sh stop STATE_DIR     end the processes `start` or `start-token` started
#
# Why the settings below:
# - plain HTTP on 127.0.0.1: clients treat loopback registries as plain HTTP (as Docker does);
#   nothing listens beyond loopback.
# - storage on the filesystem under STATE_DIR (deletes enabled, so a test can remove a tag);
#   upload purging off: its hourly sweep has nothing to do in a test session.
# - Debian's package starts no service here (no init system); this script runs the binary
#   itself, in its own session, and stops exactly the pids it wrote.
set -Eeuo pipefail

READY_TIMEOUT="${MODELYARD_REGISTRY_TIMEOUT:-30}"
USERNAME="${MODELYARD_REGISTRY_USERNAME:-modelyard}"
PASSWORD="${MODELYARD_REGISTRY_PASSWORD:-modelyard-registry-test-password}"

die() { echo "registry: $*" >&2; exit 1; }

install() {
  # One install at a time (CI starts one beside pip; the test session may ask too).
  exec 8>/tmp/modelyard-registry-install.lock
  flock 8
  command -v docker-registry >/dev/null && command -v htpasswd >/dev/null && command -v curl >/dev/null && return 0
  [[ $(id -u) == 0 ]] || die "installing the registry needs root (apt-get install docker-registry apache2-utils curl)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker-registry apache2-utils curl >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# config NAME PORT [HTPASSWD]: the registry's configuration file.
config() {
  local name="$1" port="$2" htpasswd="${3:-}"
  cat > "$STATE/$name.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/data/$name
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
EOF
  if [[ -n "$htpasswd" ]]; then
    cat >> "$STATE/$name.yml" <<EOF
auth:
  htpasswd:
    realm: modelyard-test
    path: $htpasswd
EOF
  fi
}

start_token() {
  STATE="$(mkdir -p "$1" && cd "$1" && pwd)"
  local realm="$2" cert="$3" port
  command -v docker-registry >/dev/null || die "docker-registry is not installed: run hack/registry.sh install"
  [[ -e "$STATE/run" ]] && die "$STATE is in use (stop it first, or use a new folder)"
  [[ -f "$cert" ]] || die "$cert: no such certificate"
  mkdir -p "$STATE/run" "$STATE/log" "$STATE/data"
  port="$(free_port)"
  config token "$port"
  cat >> "$STATE/token.yml" <<EOF
auth:
  token:
    realm: $realm
    service: modelyard-test
    issuer: modelyard-test-issuer
    rootcertbundle: $cert
EOF
  spawn token
  wait_ready token "$port"
  echo "MODELYARD_REGISTRY_TOKEN=127.0.0.1:$port" > "$STATE/env"
  echo "registry: token auth on 127.0.0.1:$port (tokens from $realm)" >&2
}

spawn() {
  local name="$1"
  setsid docker-registry serve "$STATE/$name.yml" >>"$STATE/log/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/run/$name.pid"
}

# wait_ready NAME PORT: until /v2/ answers (200 open, 401 with auth).
wait_ready() {
  local name="$1" port="$2" deadline=$((SECONDS + READY_TIMEOUT))
  until curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" | grep -qE '^(200|401)$'; do
    if ! kill -0 "$(cat "$STATE/run/$name.pid")" 2>/dev/null; then
      tail -n 30 "$STATE/log/$name.log" >&2 || true
      die "the $name registry exited before serving"
    fi
    ((SECONDS > deadline)) && { tail -n 30 "$STATE/log/$name.log" >&2 || true; die "the $name registry did not serve within ${READY_TIMEOUT}s"; }
    sleep 0.1
  done
}

start() {
  STATE="$(mkdir -p "$1" && cd "$1" && pwd)"
  command -v docker-registry >/dev/null || die "docker-registry is not installed: run hack/registry.sh install"
  [[ -e "$STATE/run" ]] && die "$STATE is in use (stop it first, or use a new folder)"
  mkdir -p "$STATE/run" "$STATE/log" "$STATE/data"
  local open_port auth_port
  open_port="$(free_port)"; auth_port="$(free_port)"
  htpasswd -Bbn "$USERNAME" "$PASSWORD" > "$STATE/htpasswd"
  config open "$open_port"
  config auth "$auth_port" "$STATE/htpasswd"
  spawn open
  spawn auth
  wait_ready open "$open_port"
  wait_ready auth "$auth_port"
  cat > "$STATE/env" <<EOF
MODELYARD_REGISTRY_OPEN=127.0.0.1:$open_port
MODELYARD_REGISTRY_AUTH=127.0.0.1:$auth_port
MODELYARD_REGISTRY_USERNAME=$USERNAME
MODELYARD_REGISTRY_PASSWORD=$PASSWORD
EOF
  echo "registry: open on 127.0.0.1:$open_port, basic auth on 127.0.0.1:$auth_port (user in $STATE/env)" >&2
}

# wait_gone PID: until it exits (a registry takes about 2 s after SIGTERM), else SIGKILL after 5 s.
wait_gone() {
  local pid="$1"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local state="$1" name pid pids=()
  [[ -d "$state/run" ]] || return 0
  for name in open auth token; do
    pid="$(cat "$state/run/$name.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do wait_gone "$pid"; done
  rm -rf "$state/run"
}

case "${1:-}" in
  install) install ;;
  start) [[ $# == 2 ]] || die "usage: $0 start STATE_DIR"; start "$2" ;;
  start-token) [[ $# == 4 ]] || die "usage: $0 start-token STATE_DIR REALM ROOT_CERT"; start_token "$2" "$3" "$4" ;;
  stop) [[ $# == 2 ]] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
  *) die "usage: $0 install | start STATE_DIR | start-token STATE_DIR REALM ROOT_CERT | stop STATE_DIR" ;;
esac
