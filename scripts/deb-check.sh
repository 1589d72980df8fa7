#!/usr/bin/env bash
# deb-check.sh: `sudo make deb-check`. Installs the package make deb built into a Debian 12
# root debootstrapped from apt's mirror (minbase: about 30 s here), the way an operator
# would: `apt-get install ./xdp-canary_*.deb`, which pulls its Depends from the mirror. Runs
# the installed programs' --help from /usr/sbin, checks the man pages and the unit are in
# place, then purges the package and checks nothing of it is left. Not part of make test
# (it needs the mirror and a few hundred MB in FRESH_TMPDIR, default /var/tmp).
#   scripts/deb-check.sh DEB
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=$(realpath "${1:?the .deb (make deb)}")
SUITE=bookworm
[ "$(id -u)" -eq 0 ] || { echo "deb-check: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null ||
	{ echo "deb-check: run scripts/install-deps.sh --group fresh-check" >&2; exit 1; }
# The mirror apt already uses: fresh-check.sh's host_mirror().
eval "$(sed -n '/^host_mirror() {/,/^}/p' scripts/fresh-check.sh)"
MIRROR=$(host_mirror | head -1)
[ -n "$MIRROR" ] || { echo "deb-check: no apt mirror for $SUITE found" >&2; exit 1; }

WORK=$(mktemp -d "${FRESH_TMPDIR:-/var/tmp}/xdp-canary-deb.XXXXXX")
ROOT=$WORK/root
cleanup() {
	mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive "$@"; }

debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -5 "$WORK/debootstrap.log" >&2; exit 1; }
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"
cp "$DEB" "$ROOT/tmp/"
name=$(basename "$DEB")

if in_root apt-get update -qq && in_root apt-get install -y -qq --no-install-recommends \
	"/tmp/$name" >"$WORK/install.log" 2>&1; then
	ok "apt-get install ./$name in a fresh Debian $SUITE root"
else
	nok "apt-get install ./$name in a fresh Debian $SUITE root: $(tail -3 "$WORK/install.log")"
fi
for p in canary-loader canaryctl canaryd; do
	in_root "/usr/sbin/$p" --help 2>&1 | grep -q "^Usage: $p" && ok "/usr/sbin/$p --help runs" ||
		nok "/usr/sbin/$p --help runs"
done
bad=""
for f in /usr/share/man/man8/canaryctl.8.gz /usr/share/man/man8/canaryd.8.gz \
	/usr/share/man/man8/canary-loader.8.gz /usr/share/man/man5/xdp-canary-services.5.gz \
	/usr/share/man/man5/xdp-canary-plan.5.gz /lib/systemd/system/canaryd.service \
	/lib/systemd/system/xdp-canary-dataplane.service \
	/usr/share/bash-completion/completions/canaryctl /usr/share/bash-completion/completions/canaryd; do
	[ -f "$ROOT$f" ] || bad+=" $f"
done
[ -z "$bad" ] && ok "the man pages, the units and the completion are installed" ||
	nok "the man pages, the units and the completion are installed (missing:$bad)"
files=$(in_root dpkg -L xdp-canary | while read -r f; do [ ! -f "$ROOT$f" ] || echo "$f"; done)
if in_root apt-get remove --purge -y -qq xdp-canary >"$WORK/remove.log" 2>&1; then
	ok "apt-get remove --purge xdp-canary"
else
	nok "apt-get remove --purge xdp-canary: $(tail -3 "$WORK/remove.log")"
fi
left=$(for f in $files; do [ ! -e "$ROOT$f" ] || echo "$f"; done | tr '\n' ' ')
[ -n "$files" ] && [ -z "$left" ] && ok "nothing of the package is left ($(wc -w <<<"$files") files removed)" ||
	nok "nothing of the package is left (left: $left)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
