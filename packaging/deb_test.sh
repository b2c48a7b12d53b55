#!/usr/bin/env bash
# The Debian package in a fresh Debian 12 root: build dlnest_*.deb with CPack, debootstrap a
# minimal bookworm from the host's Debian mirror, `apt install ./dlnest_*.deb` there (which must
# pull in every dependency), then the first steps of a user (scenario.sh) inside it.
# Exits 77 (skipped) when it cannot run here: not root, no debootstrap, or the mirror is out of
# reach. Needs about 6 GB in $TMPDIR (default /var/tmp).
#   deb_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
skip() {
  echo "deb_test: SKIPPED: $*"
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and chroot)"
command -v debootstrap > /dev/null || skip "debootstrap is not installed (scripts/install_deps.sh)"
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2> /dev/null ||
  true)
mirror=${mirror:-http://deb.debian.org/debian}
timeout 30 wget -q --spider "$mirror/dists/bookworm/Release" ||
  skip "the Debian archive $mirror cannot be reached"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/dlnest-deb-test.XXXXXX")
root=$work/root
cleanup() {
  for m in proc dev/pts dev; do
    mountpoint -q "$root/$m" 2> /dev/null && umount -l "$root/$m"
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
started=$SECONDS
lap() { echo "== deb_test: $* ($((SECONDS - started)) s)"; }

lap "cpack"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" > "$work/cpack.log" || {
  cat "$work/cpack.log"
  exit 1
}
deb=$(ls "$work"/pkg/dlnest_*.deb)
dpkg-deb --field "$deb" Package Version Architecture Depends Recommends

lap "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log"
  exit 1
}
# Packages the host already downloaded need not be downloaded again (apt takes only exact versions).
cp -l /var/cache/apt/archives/*.deb "$root/var/cache/apt/archives/" 2> /dev/null ||
  cp /var/cache/apt/archives/*.deb "$root/var/cache/apt/archives/" 2> /dev/null || true
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$here/scenario.sh" "$root/tmp/"

lap "apt install ./$(basename "$deb")"
chroot "$root" apt-get update -q > "$work/apt.log"
chroot "$root" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q "/tmp/$(basename "$deb")" >> "$work/apt.log" 2>&1 || {
  tail -n 40 "$work/apt.log"
  exit 1
}
chroot "$root" test -x /usr/bin/dlnest
chroot "$root" sh -c 'ls /usr/share/dlnest/toolchain/dlnest_script.h.?ch' > /dev/null

lap "the scenario in the fresh root"
chroot "$root" env HOME=/root /tmp/scenario.sh dlnest /root/work
lap "ok"
