#!/usr/bin/env bash
# units.sh: the systemd units (scripts/*.service) as make install writes them. PID 1 is
# not systemd here, so they are checked offline: `systemd-analyze verify` on copies whose
# programs point at a staged make install (every ExecStart resolves to the built program,
# every man: link to an installed page) must print nothing; `systemd-analyze security
# --offline=true` gives each unit's exposure, which docs/OPERATIONS.md must state, and
# its capability findings must be exactly the capabilities the unit says it needs. The
# paths the units pass are canaryd's and the loader's defaults (their --help), each
# option they pass is one the program lists, and the ordering holds (canaryd requires
# the data plane). Controls: a misspelt directive, a missing program and a missing man
# page must each make verify complain.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}

if ! command -v systemd-analyze >/dev/null; then
	nok "systemd-analyze is installed (scripts/install-deps.sh: systemd)"
	echo "$passed passed, $failed failed"
	exit 1
fi
root=$tmp/root
if ! make --no-print-directory -s BUILD="$BUILD" DESTDIR="$root" install >"$tmp/install.log" 2>&1; then
	nok "make install DESTDIR=... stages the tree: $(tail -3 "$tmp/install.log")"
	echo "$passed passed, $failed failed"
	exit 1
fi
unitdir=$root/usr/local/lib/systemd/system
units="xdp-canary-dataplane.service canaryd.service"
bad=""
for u in $units; do [ -f "$unitdir/$u" ] || bad+=" $u"; done
[ -z "$bad" ] && ok "make install puts the units in \$(PREFIX)/lib/systemd/system" ||
	nok "make install puts the units in \$(PREFIX)/lib/systemd/system (missing:$bad)"

# Copies whose programs are the staged ones, so verify checks they exist and run.
mkdir -p "$tmp/u"
for u in $units; do
	sed "s|/usr/local/sbin/|$root/usr/local/sbin/|g" "$unitdir/$u" >"$tmp/u/$u"
done
# verify DIR UNIT...: what systemd-analyze verify prints (nothing when all is well).
verify() {
	local dir=$1
	shift
	(cd "$dir" && MANPATH=$root/usr/local/share/man systemd-analyze verify "$@" 2>&1)
}
out=$(verify "$tmp/u" $units)
rc=$?
[ "$rc" = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: both units, their programs and man pages" ||
	nok "systemd-analyze verify: both units, their programs and man pages (exit $rc: $(head -5 <<<"$out" | tr '\n' ';'))"

# Controls: each fault must be reported.
mkdir -p "$tmp/c1" "$tmp/c2"
sed 's/^CapabilityBoundingSet=/CapabilityBoundingSett=/' "$tmp/u/canaryd.service" >"$tmp/c1/canaryd.service"
cp "$tmp/u/xdp-canary-dataplane.service" "$tmp/c1/"
out=$(verify "$tmp/c1" canaryd.service)
grep -qE "Unknown key( name)? 'CapabilityBoundingSett'" <<<"$out" &&
	ok "control: verify reports a misspelt directive" ||
	nok "control: verify reports a misspelt directive (got: $out)"
sed "s|$root/usr/local/sbin/canaryd|$root/usr/local/sbin/no-such-canaryd|" "$tmp/u/canaryd.service" \
	>"$tmp/c2/canaryd.service"
cp "$tmp/u/xdp-canary-dataplane.service" "$tmp/c2/"
out=$(verify "$tmp/c2" canaryd.service)
grep -q "no-such-canaryd is not executable" <<<"$out" &&
	ok "control: verify reports a program that is not there" ||
	nok "control: verify reports a program that is not there (got: $out)"
out=$(cd "$tmp/u" && MANPATH=$tmp/nowhere systemd-analyze verify canaryd.service 2>&1)
grep -q "man canaryd(8)' failed" <<<"$out" &&
	ok "control: verify reports a man page that is not installed" ||
	nok "control: verify reports a man page that is not installed (got: $out)"

# The exposure of each unit, and the capabilities it keeps (the security review's
# CapabilityBoundingSet=~CAP_X findings that are not set).
exposure() {
	(cd "$tmp/u" && systemd-analyze security --offline=true "$1" 2>/dev/null) |
		sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p'
}
kept_caps() {
	(cd "$tmp/u" && systemd-analyze security --offline=true --json=short "$1" 2>/dev/null) |
		jq -r '.[] | select(.set == false) | .name | capture("CapabilityBoundingSet=~(?<c>.*)").c' |
		tr '|' '\n' | sed -E 's/^\(//; s/\)$//' | sort | paste -sd' '
}
declared_caps() {
	sed -nE 's/^CapabilityBoundingSet=(.*)/\1/p' "$tmp/u/$1" | tr ' ' '\n' | sort | paste -sd' '
}
for u in $units; do
	score=$(exposure "$u")
	if [ -z "$score" ]; then
		nok "systemd-analyze security --offline rates $u"
		continue
	fi
	echo "# $u: exposure $score"
	grep -qE "\`$u\`[^|]*\| *$score\b" docs/OPERATIONS.md &&
		ok "docs/OPERATIONS.md records $u's exposure ($score)" ||
		nok "docs/OPERATIONS.md records $u's exposure ($score; the table says otherwise)"
	# The review groups some capabilities (CAP_SYS_ADMIN, CAP_BPF, ... each alone; others
	# by pairs such as CAP_NET_(BIND_SERVICE|BROADCAST)): every capability it finds kept
	# must be one the unit names, and each one named must be found.
	kept=$(kept_caps "$u")
	want=$(declared_caps "$u")
	extra="" missing=""
	for c in $kept; do grep -qw -- "$c" <<<"$want" || extra+=" $c"; done
	for c in $want; do
		[ "$c" = CAP_PERFMON ] && continue # the review has no finding of its own for it
		grep -qw -- "$c" <<<"$kept" || missing+=" $c"
	done
	[ -n "$want" ] && [ -z "$extra" ] && [ -z "$missing" ] &&
		ok "$u keeps only the capabilities it names ($want)" ||
		nok "$u keeps only the capabilities it names ($want; review finds kept: $kept)"
done

# The paths canaryd.service passes are canaryd's defaults, in the directories systemd
# makes for it.
d=$tmp/u/canaryd.service
exec_arg() { sed -nE "s/^ExecStart=[^ ]*canaryd .*--$1 ([^ ]+).*/\1/p" "$d"; }
help_default() { # the "(default X)" of option --$1 in canaryd --help (its continuation lines too)
	"$BUILD/canaryd" --help | awk -v o="--$1" '
		/^  (-[A-Za-z0-9], |    )--/ { on = index($0, o " ") > 0 } on { printf "%s ", $0 }' |
		sed -nE 's/.*\(default ([^) ]+)\).*/\1/p'
}
for o in socket state-dir pin-root listen; do
	[ -n "$(exec_arg $o)" ] && [ "$(exec_arg $o)" = "$(help_default $o)" ] &&
		ok "canaryd.service passes canaryd's default --$o ($(exec_arg $o))" ||
		nok "canaryd.service passes canaryd's default --$o (unit '$(exec_arg $o)', canaryd '$(help_default $o)')"
done
[ "$(dirname "$(exec_arg socket)")" = "/run/$(sed -n 's/^RuntimeDirectory=//p' "$d")" ] &&
	[ "$(exec_arg state-dir)" = "/var/lib/$(sed -n 's/^StateDirectory=//p' "$d")" ] &&
	ok "the socket is in RuntimeDirectory=, the state in StateDirectory=" ||
	nok "the socket is in RuntimeDirectory=, the state in StateDirectory="
grep -qE "^ReadWritePaths=.*$(dirname "$(exec_arg pin-root)")( |$)" "$d" &&
	grep -qE "^ReadWritePaths=.*$(dirname "$(help_default pin-root)")( |$)" "$tmp/u/xdp-canary-dataplane.service" &&
	ok "both units may write the pin root's bpffs" || nok "both units may write the pin root's bpffs"

# Each option an Exec line passes is one its program (and command) lists in --help.
bad=""
while IFS='|' read -r prog cmd rest; do
	help=$("$BUILD/$prog" ${cmd:+"$cmd"} --help 2>/dev/null)
	for o in $(grep -oE -- '(^| )--?[a-z][a-z-]*' <<<" $rest"); do
		grep -qE -- "(^|[ ,])$o( |\[|,|$)" <<<"$help" || bad+=" $prog $cmd $o"
	done
done < <(for u in $units; do
	sed -nE 's#^Exec(Start|Stop)=[^ ]*/usr/local/sbin/([a-z-]+) (.*)#\2 \3#p' "$tmp/u/$u"
done | while read -r prog first rest; do
	# canaryd has no commands: its first word is an option.
	if [ "$prog" = canaryd ]; then echo "$prog||$first $rest"; else echo "$prog|$first|$rest"; fi
done)
[ -z "$bad" ] && ok "every option the units pass is in the programs' --help" ||
	nok "every option the units pass is in the programs' --help (not:$bad)"

# The data plane's unit: attach then apply, once, and stays up; canaryd waits for it.
p=$tmp/u/xdp-canary-dataplane.service
grep -qx 'Type=oneshot' "$p" && grep -qx 'RemainAfterExit=yes' "$p" &&
	[ "$(grep -c '^ExecStart=' "$p")" = 2 ] &&
	grep -q '^ExecStart=.*canary-loader attach ' "$p" && grep -q '^ExecStart=.*canaryctl apply -f ' "$p" &&
	grep -q '^ExecStop=.*canary-loader detach --all$' "$p" &&
	ok "the data plane's unit: oneshot, RemainAfterExit, attach + apply, detach on stop" ||
	nok "the data plane's unit: oneshot, RemainAfterExit, attach + apply, detach on stop"
grep -qE '^Requires=.*xdp-canary-dataplane\.service' "$d" &&
	grep -qE '^After=.*xdp-canary-dataplane\.service' "$d" &&
	ok "canaryd.service requires the data plane's unit and starts after it" ||
	nok "canaryd.service requires the data plane's unit and starts after it"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
