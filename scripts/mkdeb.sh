#!/usr/bin/env bash
# mkdeb.sh: build xdp-canary_VERSION_ARCH.deb with dpkg-deb from a built tree (make all).
#   scripts/mkdeb.sh BUILD OUTDIR
# The package holds what `make install PREFIX=/usr` installs (the programs in /usr/sbin,
# the man pages, contrib/ under /usr/share/doc/xdp-canary) and the systemd unit in
# /lib/systemd/system, pointed at /usr/sbin. Depends: the Debian packages that hold the
# shared libraries the programs link to directly (objdump's NEEDED, found with dpkg -S).
# Prints the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:?BUILD dir}
OUT=${2:?output dir}
version=$("$BUILD/canaryctl" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

make --no-print-directory -s BUILD="$BUILD" PREFIX=/usr DESTDIR="$stage/root" install >/dev/null
install -d "$stage/root/lib/systemd/system" "$stage/root/DEBIAN"
sed -e 's|/usr/local/sbin/|/usr/sbin/|g' -e 's|/usr/local/share/doc/|/usr/share/doc/|g' \
	scripts/canaryd.service >"$stage/root/lib/systemd/system/canaryd.service"
rm "$stage/root/usr/share/doc/xdp-canary/canaryd.service"
gzip -9n "$stage"/root/usr/share/man/man*/*
install -m 0644 README.md "$stage/root/usr/share/doc/xdp-canary/"
install -m 0644 docs/*.md "$stage/root/usr/share/doc/xdp-canary/"

# The package of a shared library, by the path the loader resolves it to (with and
# without /usr: Debian 12 merges /lib into /usr/lib, dpkg knows one of the two).
pkg_of() {
	local path
	path=$(ldd "$1" | awk -v so="$2" '$1 == so { print $3 }')
	[ -n "$path" ] || return 0
	{ dpkg -S "$path" || dpkg -S "${path#/usr}" || dpkg -S "/usr$path"; } 2>/dev/null |
		head -1 | cut -d: -f1
}
deps=$(for p in "$stage"/root/usr/sbin/*; do
	objdump -p "$p" | awk -v p="$p" '$1 == "NEEDED" { print p, $2 }'
done | sort -u -k2 | while read -r prog so; do
	pkg=$(pkg_of "$prog" "$so")
	[ -n "$pkg" ] || { echo "mkdeb: no package holds $so" >&2; exit 1; }
	echo "$pkg"
done | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$stage/root" | cut -f1)

cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: xdp-canary
Version: $version
Architecture: $arch
Maintainer: xdp-canary developers <xdp-canary@localhost>
Installed-Size: $size
Depends: $deps
Section: net
Priority: optional
Description: line-rate canary splitter (XDP data plane and rollout agent)
 An XDP program splits each service's new flows between stable and canary
 backends by a weight; canaryd runs progressive rollouts and rolls a canary
 back on anytime-valid evidence. Includes canary-loader, canaryctl, canaryd,
 man pages, a systemd unit and Prometheus alerting rules.
CONTROL
# The unit is not enabled by the package: the data plane must be attached first.
(cd "$stage/root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
	xargs -0 md5sum >DEBIAN/md5sums)
mkdir -p "$OUT"
deb=$OUT/xdp-canary_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage/root" "$deb" >/dev/null
echo "$deb"
