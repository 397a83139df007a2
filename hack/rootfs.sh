#!/usr/bin/env bash
# Root filesystems for Modelyard's images, made from Debian's packages without a container engine.
#
#   hack/rootfs.sh base OUT
#       a Debian bookworm root filesystem (mmdebstrap, minbase variant) with python3, python3-venv
#       and ca-certificates, a `nonroot` user 65532 (modelyard.workloads.security.NON_ROOT_UID),
#       /work and /tmp; no documentation, man pages, locales or apt lists
#   hack/rootfs.sh venv BASE OUT WHEELHOUSE REQUIREMENT...
#       a copy of BASE in OUT with a virtual environment at /opt/modelyard (no pip in it) made
#       by BASE's own python3 (chroot), pip (run from its wheel in WHEELHOUSE) installing
#       REQUIREMENT... offline (--no-index); a requirement prefixed `nodeps:` goes in with --no-deps
#   hack/rootfs.sh package LOWER UPPER WHEELHOUSE WHEEL
#       pip installs WHEEL (--no-deps) into LOWER's /opt/modelyard through an overlay mount:
#       LOWER is untouched and UPPER holds exactly what changed (the next image layer)
#
# Root is needed (mmdebstrap's root mode, chroot). SOURCE_DATE_EPOCH (default: 0) fixes the
# timestamps mmdebstrap writes and makes pip compile checked-hash .pyc files, so the same inputs
# give the same bytes. Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DEBIAN_SECURITY (default http://deb.debian.org/debian-security).
set -Eeuo pipefail

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
PACKAGES="python3,python3-venv,ca-certificates"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"

die() { echo "rootfs: $*" >&2; exit 1; }

base() {
  local out="$1"
  [[ $(id -u) == 0 ]] || die "mmdebstrap's root mode needs root"
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
  [[ -e "$out" ]] && die "$out exists (remove it first)"
  # shellcheck disable=SC2016 # mmdebstrap expands $1 (the new root) in its hooks
  mmdebstrap --quiet --mode=root --variant=minbase --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='echo "nonroot:x:65532:65532:nonroot:/tmp:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "nonroot:x:65532:" >> "$1/etc/group"' \
    --customize-hook='mkdir -p "$1/work" && chmod 1777 "$1/work" "$1/tmp"' \
    --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/log/* "$1"/var/lib/apt/lists/*' \
    bookworm "$out" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main"
}

# in_root ROOT WHEELHOUSE SCRIPT: run SCRIPT (bash) in a private mount namespace with ROOT's /dev,
# /proc and a read-only /wheels; $root and $pip (pip run from its wheel, offline) are set for it.
in_root() {
  local root="$1" wheelhouse="$2" script="$3"; shift 3
  mkdir -p "$root/wheels"
  # The mounts end with the namespace, whatever happens.
  # shellcheck disable=SC2016 # expanded by the namespace's shell
  unshare --mount --fork -- bash -Eeuo pipefail -c '
    root="$1" wheelhouse="$2" script="$3"; shift 3
    mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc"
    mount --bind -o ro "$wheelhouse" "$root/wheels"
    wheel=$(cd "$root/wheels" && ls pip-*.whl | head -n 1)
    [[ -n "$wheel" ]] || { echo "rootfs: no pip wheel in the wheelhouse" >&2; exit 1; }
    pip=(chroot "$root" env SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" /opt/modelyard/bin/python "/wheels/$wheel/pip"
         install --quiet --no-cache-dir --no-compile --no-index --find-links /wheels)
    eval "$script"
  ' _ "$root" "$(cd "$wheelhouse" && pwd)" "$script" "$@"
}

venv() {
  local base="$1" out="$2" wheelhouse="$3"; shift 3
  [[ $(id -u) == 0 ]] || die "chroot needs root"
  [[ -d "$base/usr/bin" ]] || die "$base is not a root filesystem"
  [[ -e "$out" ]] && die "$out exists (remove it first)"
  cp -a "$base" "$out"
  local plain=() nodeps=() requirement
  for requirement in "$@"; do
    case "$requirement" in
      nodeps:*) nodeps+=("${requirement#nodeps:}") ;;
      *) plain+=("$requirement") ;;
    esac
  done
  # shellcheck disable=SC2016 # expanded by in_root's shell
  in_root "$out" "$wheelhouse" '
    chroot "$root" /usr/bin/python3 -m venv --without-pip /opt/modelyard
    [[ -z "$1" ]] || "${pip[@]}" $1
    [[ -z "$2" ]] || "${pip[@]}" --no-deps $2
    chroot "$root" /opt/modelyard/bin/python -m compileall -q -j 0 --invalidation-mode checked-hash /opt/modelyard/lib
  ' "${plain[*]:-}" "${nodeps[*]:-}"
  rmdir "$out/wheels"
}

package() {
  local lower="$1" upper="$2" wheelhouse="$3" wheel="$4" scratch
  [[ $(id -u) == 0 ]] || die "overlay mounts and chroot need root"
  [[ -x "$lower/opt/modelyard/bin/python" ]] || die "$lower has no /opt/modelyard (hack/rootfs.sh venv)"
  [[ -e "$upper" ]] && die "$upper exists (remove it first)"
  scratch="$(mktemp -d "$(dirname "$upper")/.overlay.XXXXXX")"
  mkdir -p "$upper" "$scratch/work" "$scratch/merged"
  # The overlay lives in its own mount namespace; in_root's namespace (a child) inherits it.
  # shellcheck disable=SC2016 # expanded by the namespace's shell
  unshare --mount --fork -- bash -Eeuo pipefail -c '
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3/work" "$3/merged"
    "$5" in-root "$3/merged" "$4" "\"\${pip[@]}\" --no-deps \"/wheels/$6\"
      chroot \"\$root\" /opt/modelyard/bin/python -m compileall -q --invalidation-mode checked-hash \\
        /opt/modelyard/lib/python3.11/site-packages/modelyard"
  ' _ "$lower" "$upper" "$scratch" "$(cd "$wheelhouse" && pwd)" "$(realpath "$0")" "$wheel"
  rm -rf "$scratch" "${upper:?}/wheels"
}

case "${1:-}" in
  base) [[ $# == 2 ]] || die "usage: $0 base OUT"; base "$2" ;;
  venv) [[ $# -ge 4 ]] || die "usage: $0 venv BASE OUT WHEELHOUSE REQUIREMENT..."; venv "${@:2}" ;;
  in-root) in_root "${@:2}" ;;  # internal: package's second namespace
  package) [[ $# == 5 ]] || die "usage: $0 package LOWER UPPER WHEELHOUSE WHEEL"; package "${@:2}" ;;
  *) die "usage: $0 base OUT | venv BASE OUT WHEELHOUSE REQUIREMENT... | package LOWER UPPER WHEELHOUSE WHEEL" ;;
esac
