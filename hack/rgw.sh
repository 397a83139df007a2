#!/usr/bin/env bash
# A real S3 server on loopback: Ceph RGW (radosgw) over a one-node Ceph cluster (one mon, one
# OSD on memstore), from Debian's packages. Used by the storage integration tests and the bench.
#
#   hack/rgw.sh install            install radosgw, ceph-mon, ceph-osd (apt, once per machine)
#   hack/rgw.sh start STATE_DIR    start mon, osd and radosgw on free loopback ports, create a
#                                  user, wait until S3 answers; writes STATE_DIR/env (endpoint,
#                                  keys) for tests and people to source
#   hack/rgw.sh stop STATE_DIR     end the processes `start` started, nothing else
#   hack/rgw.sh down STATE_DIR     stop radosgw alone (the store goes away, its data stays)
#   hack/rgw.sh up STATE_DIR       start radosgw again on the same port, wait until it serves
#
# Why the settings below:
# - memstore holds every object in RAM: its size is bounded (MODELYARD_RGW_MEMSTORE_MIB,
#   default 6144), and RGW's garbage collection runs every few seconds instead of keeping deleted
#   objects for 2 hours, which otherwise fills the memstore after a few GiB of copies and then
#   hangs every write.
# - `ceph osd create UUID` and `ceph-osd --mkfs --osd-uuid UUID` must get the same uuid, or the
#   OSD exits with "wrong fsid".
# - the OSD does not place itself in the CRUSH map at start (this script does, before starting
#   it): its own commands can go out before its monitor client has the monmap, with a zero fsid,
#   and the monitor refuses them ("wrong fsid"), which ends the OSD (seen once in a few starts).
# - cephx is off inside the cluster (one host, loopback only); S3 requests are still signed and
#   checked by RGW with the user's keys.
set -Eeuo pipefail

READY_TIMEOUT="${MODELYARD_RGW_TIMEOUT:-90}"
MEMSTORE_MIB="${MODELYARD_RGW_MEMSTORE_MIB:-6144}"
ACCESS_KEY="${MODELYARD_RGW_ACCESS_KEY:-MODELYARDRGWTESTKEY0}"
SECRET_KEY="${MODELYARD_RGW_SECRET_KEY:-modelyard-rgw-test-secret-0123456789abcdef}"

die() { echo "rgw: $*" >&2; exit 1; }

install() {
  # One install at a time (CI starts one beside pip; the test session may ask too).
  exec 8>/tmp/modelyard-rgw-install.lock
  flock 8
  local tool missing=0
  for tool in radosgw radosgw-admin ceph-mon ceph-osd ceph monmaptool uuidgen curl; do
    command -v "$tool" >/dev/null || missing=1
  done
  ((missing)) || return 0
  [[ $(id -u) == 0 ]] || die "installing Ceph needs root (apt-get install radosgw ceph-mon ceph-osd ceph-common)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

log_tail() {
  local name="$1"
  echo "--- last lines of $STATE/log/$name.log" >&2
  tail -n 30 "$STATE/log/$name.log" >&2 2>/dev/null || echo "(no log)" >&2
}

# wait_for DESCRIPTION COMPONENT COMMAND...: retry COMMAND until it succeeds or the deadline.
wait_for() {
  local what="$1" component="$2"; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$STATE/run/$component.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
      log_tail "$component"; die "$component exited before $what"
    fi
    if ((SECONDS > deadline)); then
      log_tail "$component"; die "$what: not within ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
}

# spawn NAME COMMAND...: run a daemon in the foreground of its own process, pid in run/NAME.pid.
spawn() {
  local name="$1"; shift
  setsid "$@" >>"$STATE/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$STATE/run/$name.pid"
}

ceph_cmd() { ceph -c "$STATE/ceph.conf" --connect-timeout 10 "$@"; }

s3_ready() {
  # Any S3 answer (even 403 to an unsigned request) means the frontend serves.
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RGW_PORT/" | grep -qE '^[2-4][0-9][0-9]$'
}

start() {
  STATE="$(mkdir -p "$1" && cd "$1" && pwd)"
  command -v radosgw >/dev/null || die "radosgw is not installed: run hack/rgw.sh install (Debian's radosgw, ceph-mon, ceph-osd)"
  [[ -e "$STATE/run" ]] && die "$STATE is in use (stop it first, or use a new folder)"
  mkdir -p "$STATE/run" "$STATE/log" "$STATE/mon" "$STATE/osd"
  local fsid osd_uuid mon_port
  fsid="$(uuidgen)"; osd_uuid="$(uuidgen)"
  mon_port="$(free_port)"; RGW_PORT="$(free_port)"
  cat > "$STATE/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
pid file = $STATE/run/\$name.daemon-pid
log file = $STATE/log/\$name.log
mon data = $STATE/mon/\$name
osd data = $STATE/osd/\$name
osd objectstore = memstore
memstore device bytes = $((MEMSTORE_MIB * 1024 * 1024))
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
# The OSD keeps its data in memory: a nearly full disk (a CI machine's) must not stop the monitor.
mon data avail crit = 0
mon data avail warn = 0
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $STATE/rgw
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw gc processor max time = 5
rgw enable usage log = false
rgw dns name = 127.0.0.1
EOF
  mkdir -p "$STATE/rgw" "$STATE/mon/mon.a" "$STATE/osd/osd.0"
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$STATE/monmap" >/dev/null
  ceph-mon -c "$STATE/ceph.conf" -i a --mkfs --monmap "$STATE/monmap" >>"$STATE/log/mon.a.out" 2>&1 \
    || { log_tail mon.a; cat "$STATE/log/mon.a.out" >&2; die "ceph-mon --mkfs failed"; }
  spawn mon.a ceph-mon -c "$STATE/ceph.conf" -i a -f
  wait_for "the monitor answering" mon.a ceph_cmd mon stat
  local id
  id="$(ceph_cmd osd create "$osd_uuid")"
  ceph-osd -c "$STATE/ceph.conf" -i "$id" --mkfs --osd-uuid "$osd_uuid" >>"$STATE/log/osd.$id.out" 2>&1 \
    || { cat "$STATE/log/osd.$id.out" >&2; die "ceph-osd --mkfs failed"; }
  ceph_cmd osd crush add "osd.$id" 1.0 host=localhost root=default >/dev/null
  spawn "osd.$id" ceph-osd -c "$STATE/ceph.conf" -i "$id" -f
  echo "osd.$id" > "$STATE/run/osd-name"
  wait_for "the OSD up" "osd.$id" bash -c "ceph -c '$STATE/ceph.conf' --connect-timeout 10 osd dump | grep -q '^osd.$id up'"
  spawn rgw.a radosgw -c "$STATE/ceph.conf" -n client.rgw.a -f
  wait_for "RGW serving S3 on 127.0.0.1:$RGW_PORT" rgw.a s3_ready
  radosgw-admin -c "$STATE/ceph.conf" user create --uid=modelyard --display-name=modelyard \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  cat > "$STATE/env" <<EOF
MODELYARD_RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
MODELYARD_RGW_ACCESS_KEY=$ACCESS_KEY
MODELYARD_RGW_SECRET_KEY=$SECRET_KEY
EOF
  echo "rgw: S3 on http://127.0.0.1:$RGW_PORT (keys in $STATE/env)" >&2
}

stop_pid() {
  local pid="$1"
  [[ -z "$pid" ]] && return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

down() {
  local state="$1"
  stop_pid "$(cat "$state/run/rgw.a.pid" 2>/dev/null || true)"
}

up() {
  STATE="$(cd "$1" && pwd)"
  RGW_PORT="$(sed -n 's|^MODELYARD_RGW_ENDPOINT=http://127.0.0.1:||p' "$STATE/env")"
  [[ -n "$RGW_PORT" ]] || die "$STATE/env names no endpoint: was it started with hack/rgw.sh start?"
  spawn rgw.a radosgw -c "$STATE/ceph.conf" -n client.rgw.a -f
  wait_for "RGW serving S3 on 127.0.0.1:$RGW_PORT" rgw.a s3_ready
}

stop() {
  local state="$1" name
  [[ -d "$state/run" ]] || return 0
  for name in rgw.a "$(cat "$state/run/osd-name" 2>/dev/null || echo osd.0)" mon.a; do
    stop_pid "$(cat "$state/run/$name.pid" 2>/dev/null || true)"
  done
  rm -rf "$state/run"
}

case "${1:-}" in
  install) install ;;
  start) [[ $# == 2 ]] || die "usage: $0 start STATE_DIR"; start "$2" ;;
  stop) [[ $# == 2 ]] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
  down) [[ $# == 2 ]] || die "usage: $0 down STATE_DIR"; down "$2" ;;
  up) [[ $# == 2 ]] || die "usage: $0 up STATE_DIR"; up "$2" ;;
  *) die "usage: $0 install | start STATE_DIR | stop STATE_DIR | down STATE_DIR | up STATE_DIR" ;;
esac
