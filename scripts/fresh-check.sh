#!/usr/bin/env bash
# fresh-check.sh: `sudo make fresh-check`. In a Debian 12 root debootstrapped from apt's
# mirror, runs scripts/install-deps.sh, `make` and `make unit`: the nearest thing to a fresh
# machine here, so a package install-deps.sh does not name fails the build or a test.
#   FRESH_KEEP=1       keep the root afterwards (it is unmounted either way) and print its path
#   FRESH_DIR=DIR      reuse a root kept by FRESH_KEEP=1 (skips debootstrap; no longer fresh)
#   FRESH_TMPDIR=DIR   where the temporary root is made (default /var/tmp; needs ~3 GB)
#   FRESH_OVERLAY="FILE..."  copy these files from the work tree over HEAD (to check an
#                      uncommitted scripts/install-deps.sh before committing it)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SUITE=bookworm
KEEP=${FRESH_KEEP:-0}
TMPBASE=${FRESH_TMPDIR:-/var/tmp}
OVERLAY=${FRESH_OVERLAY:-}
NEED_MB=3000

say() { echo "fresh-check: $*"; }
die() {
	echo "fresh-check: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (chroot, mounts, apt): sudo make fresh-check"
for c in debootstrap chroot git tar findmnt mountpoint; do
	command -v "$c" >/dev/null || die "'$c' not found; run scripts/install-deps.sh --group fresh-check"
done

# --- Timing -------------------------------------------------------------------------
T0=$SECONDS
PHASES=()
phase_start=
phase_name=
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
phase() {
	phase_end
	phase_name=$1
	phase_start=$SECONDS
	say "== $1"
}
phase_end() {
	[ -n "$phase_name" ] || return 0
	PHASES+=("$phase_name" "$(fmt $((SECONDS - phase_start)))")
	say "$phase_name took $(fmt $((SECONDS - phase_start)))"
	phase_name=
}

# --- Mounts and cleanup ---------------------------------------------------------------
WORK=
ROOT=
CREATED=0

# Every mount point at or below $1, deepest first, so that children go before parents.
mounts_under() {
	findmnt -rn -o TARGET | while IFS= read -r t; do
		t=$(printf '%b' "$t") # findmnt -r writes odd characters as \xNN
		if [ "$t" = "$1" ] || [[ $t == "$1"/* ]]; then echo "$t"; fi
	done | awk -F/ '{ print NF "\t" $0 }' | sort -rn -k1,1 | cut -f2-
}

# Processes whose root is inside the chroot (a daemon a postinst started, or what a
# Ctrl-C left behind) keep its mounts busy. They are ours: end them by pid.
kill_chroot_procs() {
	local sig p r pids
	for sig in TERM KILL; do
		pids=()
		for p in /proc/[0-9]*; do
			r=$(readlink "$p/root" 2>/dev/null) || continue
			if [ "$r" = "$ROOT" ] || [[ $r == "$ROOT"/* ]]; then pids+=("${p#/proc/}"); fi
		done
		[ ${#pids[@]} -gt 0 ] || return 0
		say "ending processes still inside the chroot (SIG$sig): ${pids[*]}"
		kill -s "$sig" "${pids[@]}" 2>/dev/null || true
		sleep 1
	done
}

unmount_all() {
	local m pass
	for pass in 1 2 3; do
		[ -n "$(mounts_under "$WORK")" ] || return 0
		while IFS= read -r m; do
			[ -n "$m" ] || continue
			umount "$m" 2>/dev/null || {
				[ "$pass" -lt 3 ] && continue
				# Last resort: detach it from the tree (it is then unreachable from $WORK,
				# so removing $WORK cannot reach the host's /dev, /proc or /sys).
				say "umount $m failed; detaching it lazily"
				umount -l "$m" || true
			}
		done < <(mounts_under "$WORK")
		sleep "$pass"
	done
}

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	phase_end
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		[ -n "$ROOT" ] && kill_chroot_procs
		unmount_all
		left=$(mounts_under "$WORK")
		if [ -n "$left" ]; then
			# Never remove a tree that still has a mount inside it: with /dev or /sys
			# bound there, rm -rf would empty the host's.
			echo "fresh-check: still mounted, NOT removing $WORK:" >&2
			echo "$left" >&2
			rc=1
		elif [ "$KEEP" = 1 ] || [ "$CREATED" = 0 ]; then
			say "kept $WORK (reuse: FRESH_DIR=$WORK make fresh-check; remove: rm -rf $WORK)"
		else
			# --one-file-system: a last guard should a mount appear after the check.
			rm -rf --one-file-system "$WORK" || {
				echo "fresh-check: could not remove $WORK" >&2
				rc=1
			}
		fi
	fi
	if [ ${#PHASES[@]} -gt 0 ]; then
		say "timings:"
		printf 'fresh-check:   %-14s %s\n' "${PHASES[@]}" total "$(fmt $((SECONDS - T0)))"
	fi
	if [ "$rc" -eq 0 ]; then say "PASS"; else echo "fresh-check: FAIL (exit $rc)" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- The mirror apt already uses ------------------------------------------------------
# The first URI of a `deb` entry for $SUITE, from deb822 .sources files or one-line lists.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			function flush() {
				if (deb && !off && uri != "" && (" " suites " ") ~ (" " suite " ")) { print uri; found = 1; exit }
				deb = 0; off = 0; uri = ""; suites = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
			END { if (!found) flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI suite component...
		sed -E 's/#.*//; s/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
	done
}

# --- The root -------------------------------------------------------------------------
if [ -n "${FRESH_DIR:-}" ]; then
	# WORK is set only once it is known to be ours: cleanup unmounts everything below it.
	d=$(realpath -e "$FRESH_DIR") || die "FRESH_DIR=$FRESH_DIR does not exist"
	if [ "$d" = / ] || [ ! -f "$d/root/.fresh-check-root" ]; then
		die "$d holds no root made by fresh-check (no $d/root/.fresh-check-root)"
	fi
	[ -z "$(mounts_under "$d")" ] ||
		die "$d still has mounts from an earlier run: $(mounts_under "$d" | tr '\n' ' ')"
	WORK=$d
	ROOT=$WORK/root
	say "reusing $ROOT (packages from an earlier run may be installed: not a fresh machine)"
else
	mkdir -p "$TMPBASE"
	df -h "$TMPBASE"
	avail=$(df -Pm "$TMPBASE" | awk 'NR == 2 { print $4 }')
	[ "$avail" -ge "$NEED_MB" ] || die "$TMPBASE has ${avail} MB free; needs ${NEED_MB} MB (set FRESH_TMPDIR)"
	WORK=$(realpath -e "$(mktemp -d "$TMPBASE/xdp-canary-fresh.XXXXXX")")
	CREATED=1
	ROOT=$WORK/root
	mkdir -m 0755 "$ROOT"

	MIRROR=$(host_mirror | head -1)
	if [ -z "$MIRROR" ]; then
		MIRROR=http://deb.debian.org/debian
		say "no '$SUITE' entry in apt's sources; falling back to $MIRROR"
	fi
	phase debootstrap
	say "debootstrap --variant=minbase $SUITE $ROOT $MIRROR (log: $WORK/debootstrap.log)"
	if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
		tail -20 "$WORK/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	echo "$MIRROR" >"$ROOT/.fresh-check-root"
	phase_end
fi

# apt inside: the host's sources (and the keyrings they name), the host's resolver and
# the host's settings for stale mirrors and proxies; no services started by postinsts
# (policy-rc.d 101: there is no init in a chroot; a started daemon would hold the mounts).
rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/etc/apt/sources.list.d/*
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -s "$f" ] || continue
	mkdir -p "$ROOT$(dirname "$f")"
	cp "$f" "$ROOT$f"
	for k in $(grep -ohE '(signed-by=|Signed-By:[[:space:]]*)/[^] ,]+' "$f" |
		sed -E 's/^(signed-by=|Signed-By:[[:space:]]*)//' || true); do
		if [ -f "$k" ] && [ ! -e "$ROOT$k" ]; then install -D -m 0644 "$k" "$ROOT$k"; fi
	done
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
{
	echo "// fresh-check: the host's settings, so the chroot reaches the mirror as the host does"
	for opt in Acquire::Check-Valid-Until Acquire::Check-Date Acquire::http::Proxy Acquire::https::Proxy; do
		v=$(apt-config dump "$opt" | awk -v o="$opt" '$1 == o { sub(/^[^ ]+ /, ""); print; exit }')
		if [ -n "$v" ]; then echo "$opt $v;"; fi
	done
} >"$ROOT/etc/apt/apt.conf.d/99fresh-check-host"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"

# The project, as a clean clone has it: by default the committed state (HEAD) only, not
# the work tree, so this checks what CI would check. Commit first to check a change, or
# name single files in FRESH_OVERLAY.
SRC=/src/xdp-canary
rm -rf --one-file-system "$ROOT$SRC"
mkdir -p "$ROOT$SRC"
say "copying $(git -C "$REPO" rev-parse --short HEAD) (HEAD, committed state only) to $SRC"
git -C "$REPO" archive --format=tar HEAD | tar -x -C "$ROOT$SRC"
for f in $OVERLAY; do
	[ -f "$REPO/$f" ] || die "FRESH_OVERLAY: no file $f in $REPO"
	say "FRESH_OVERLAY: $f from the work tree, not HEAD (not what CI sees)"
	install -D -m "$(stat -c %a "$REPO/$f")" "$REPO/$f" "$ROOT$SRC/$f"
done

# Kernel interfaces. A fresh proc and sysfs of our own (no host submounts to propagate
# back); /dev bound recursively but as a slave, so unmounting it here unmounts nothing on
# the host. bpffs on the chroot's /sys/fs/bpf is mounted by install-deps.sh, as on a
# machine without systemd; it is a new instance, so no pin lands in the host's bpffs.
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
mount --make-rslave "$ROOT/dev"

in_root() {
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd $SRC && $1"
}

phase install-deps
in_root scripts/install-deps.sh ||
	die "scripts/install-deps.sh failed inside the chroot"
# Everything after this point must come from what install-deps.sh installed.
mountpoint -q "$ROOT/sys/fs/bpf" ||
	die "install-deps.sh left /sys/fs/bpf unmounted inside the chroot"
in_root 'scripts/install-deps.sh --if-missing' ||
	die "install-deps.sh --if-missing still finds packages missing after installing them"
phase_end

phase make
in_root make || die "make failed inside the chroot (install-deps.sh may miss a package)"
phase_end

phase unit
set +e
in_root 'make unit' 2>&1 | tee "$WORK/unit.log"
rc=${PIPESTATUS[0]}
set -e
phase_end
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/unit.log" | tail -1)
say "unit tests in the chroot: ${line:-no closing line}"
if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
	die "make unit failed inside the chroot (exit $rc)"
fi
