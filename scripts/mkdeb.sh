#!/usr/bin/env bash
# mkdeb.sh: build xdp-canary_VERSION_ARCH.deb with dpkg-deb from a built tree (make all).
#   scripts/mkdeb.sh BUILD OUTDIR
# The package holds what `make install PREFIX=/usr` installs (the programs in /usr/sbin,
# the man pages, contrib/ under /usr/share/doc/xdp-canary, the bash completion) and the
# systemd units in /lib/systemd/system, pointed at /usr/sbin. Depends: the Debian
# packages that hold the shared libraries the programs link to directly (objdump's NEEDED, found with dpkg -S).
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
# Debian 12's packages keep units in /lib/systemd/system (make install: PREFIX/lib/...).
install -d "$stage/root/lib/systemd" "$stage/root/DEBIAN"
mv "$stage/root/usr/lib/systemd/system" "$stage/root/lib/systemd/system"
rmdir "$stage/root/usr/lib/systemd" "$stage/root/usr/lib"
gzip -9n "$stage"/root/usr/share/man/man*/*
# As Debian's dh_strip does: no symbols, no .comment or .note sections.
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$stage"/root/usr/sbin/*
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
# Who built it (DEBFULLNAME and DEBEMAIL, as Debian's tools read them).
maintainer="${DEBFULLNAME:-xdp-canary developers} <${DEBEMAIL:-xdp-canary@example.org}>"
doc=$stage/root/usr/share/doc/xdp-canary
# A native package's changelog, in the Debian format (dpkg-parsechangelog reads it).
when=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$doc/changelog" <<CHANGELOG
xdp-canary ($version) unstable; urgency=medium

  * Built from the source tree by scripts/mkdeb.sh.

 -- $maintainer  $(date -R -d "@$when")
CHANGELOG
gzip -9n "$doc/changelog"
# What the sources say of their licence: only the data plane names one (SPDX lines).
{
	echo "xdp-canary, packaged by scripts/mkdeb.sh from its source tree."
	echo "Copyright (C) $(date -u -d "@$when" +%Y) the xdp-canary developers."
	echo
	grep -rhoE 'SPDX-License-Identifier: .*[^ */]' bpf/*.bpf.c | sort -u | sed -E \
		's/SPDX-License-Identifier: (.*)/The data plane (bpf\/*.bpf.c, which canary-loader loads) is licensed \1./'
	echo "The GNU General Public License version 2 is in /usr/share/common-licenses/GPL-2."
	echo
	echo "The source tree states no licence for the other files (userspace/, scripts/,"
	echo "man/, contrib/, docs/)."
} >"$doc/copyright"
size=$(du -sk "$stage/root" | cut -f1)

cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: xdp-canary
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $deps
Section: net
Priority: optional
Description: line-rate canary splitter (XDP data plane and rollout agent)
 An XDP program splits each service's new flows between stable and canary
 backends by a weight; canaryd runs progressive rollouts and rolls a canary
 back on anytime-valid evidence. Includes canary-loader, canaryctl, canaryd,
 man pages, systemd units, bash completion and Prometheus alerting rules.
CONTROL
# The units are not enabled by the package: the data plane's unit needs its interfaces
# configured first (/etc/xdp-canary/dataplane.conf; the example is in the docs).
(cd "$stage/root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
	xargs -0 md5sum >DEBIAN/md5sums)
mkdir -p "$OUT"
deb=$OUT/xdp-canary_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage/root" "$deb" >/dev/null
echo "$deb"
