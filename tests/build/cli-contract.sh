#!/usr/bin/env bash
# cli-contract.sh: what scripts may rely on in every command line (cli/params.h). For
# each program and subcommand: --help exits 0 and lists the options; every option the
# help lists is accepted (long and short name); a missing value, an unknown option and
# an unknown short option exit 2 with one line "PROG CMD: ...; try 'PROG CMD --help'";
# 'PROG help CMD' prints the same as 'PROG CMD --help'; every option declared in a
# program's tables appears in its help. Controls: a program that accepts anything and
# a help without one option must both be caught.
#
#   cli-contract.sh --capture DIR  (root) records exit codes and outputs of the programs
#   in DIR (canaryctl canary-loader canary-sim canaryd tools/) for bad options, missing
#   values, numbers out of range and --help, as nobody in an empty network namespace:
#   run it on the build before and after a change to the command lines and diff.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}

# ---- --capture -------------------------------------------------------------------------

capture_run() {
	local out=$tmp/out err=$tmp/err rc
	: >"$out" && : >"$err" && chmod 666 "$out" "$err"
	unshare -n setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -i PATH=/usr/bin:/bin CANARY_SOCKET=/nonexistent/sock \
		timeout 20 "$@" >"$out" 2>"$err"
	rc=$?
	printf '### %s\n' "$(printf '%q ' "${@#"$CAPDIR/"}")"
	printf 'rc=%s\n' "$rc"
	sed 's/^/out| /' "$out"
	sed 's/^/err| /' "$err"
}

# Each case of one command: SPECS holds LONG:SHORT:KIND[:MIN:MAX], KIND F flag, S string,
# U whole number, D decimal, O decimal with an optional value, E:a,b a choice.
capture_cmd() {
	local pre=("$@") spec long short kind a b v
	local nums=(x '' -1 ' 5' '+5' 0x10 1e3 1.5 .5 5. inf nan 0 1 99999999999999999999)
	for v in --help -h --bogus --bogus=1 -Z -hZ; do capture_run "${pre[@]}" "$v"; done
	capture_run "${pre[@]}" --help --bogus
	capture_run "${pre[@]}" --bogus --help
	capture_run "${pre[@]}" junk1 junk2 junk3 junk4
	for spec in "${SPECS[@]}"; do
		IFS=: read -r long short kind a b <<<"$spec"
		capture_run "${pre[@]}" "--$long"
		capture_run "${pre[@]}" "--${long:0:3}"
		[ -n "$short" ] && capture_run "${pre[@]}" "-$short"
		case $kind in
		F)
			capture_run "${pre[@]}" "--$long=1"
			[ -n "$short" ] && capture_run "${pre[@]}" "-${short}Z"
			;;
		S) capture_run "${pre[@]}" "--$long" valueS ;;
		U | D | O)
			for v in "${nums[@]}" "$a" "$b"; do
				if [ "$kind" = O ]; then
					capture_run "${pre[@]}" "--$long=$v"
				else
					capture_run "${pre[@]}" "--$long" "$v"
				fi
			done
			if [ "$kind" = U ]; then
				capture_run "${pre[@]}" "--$long" $((a - 1))
				capture_run "${pre[@]}" "--$long" $((b + 1))
			fi
			[ -n "$short" ] && capture_run "${pre[@]}" "-$short" x
			[ -n "$short" ] && capture_run "${pre[@]}" "-$short$a"
			;;
		E)
			capture_run "${pre[@]}" "--$long" bogus
			for v in ${a//,/ }; do capture_run "${pre[@]}" "--$long" "$v"; done
			[ -n "$short" ] && capture_run "${pre[@]}" "-$short" bogus
			;;
		esac
	done
}

capture_more() {
	local v
	# shellcheck disable=SC2086
	for v in "$@"; do capture_run $v; done
}

capture() {
	local CTL=$CAPDIR/canaryctl LD=$CAPDIR/canary-loader c i args=()
	local AG=(agent:a:S socket::S token-file::S cacert::S)
	local plan=$tmp/plan.yaml
	printf 'service: web\nsteps: [5, 50]\n' >"$plan"
	chmod 755 "$tmp" && chmod 644 "$plan"

	for c in "" --help -h help --version -v --bogus bogus; do capture_run "$CTL" $c; done
	for c in apply set-weight rollback promote override status rollout history watch plan \
		metric sweep explain bogus; do
		capture_run "$CTL" help "$c"
		capture_run "$CTL" -v "$c" --help
	done
	SPECS=(file:f:S dry-run:n:F prune::F pin-root:p:S salt-file::S)
	capture_cmd "$CTL" apply
	capture_more "$CTL apply" "$CTL apply extra" "$CTL apply -f /nonexistent.yaml"
	SPECS=(pin-root:p:S)
	capture_cmd "$CTL" set-weight
	for c in web "web 101" "web 1.234" "web x" "web 10"; do capture_run "$CTL" set-weight $c; done
	SPECS=(reset-flows:r:F pin-root:p:S)
	capture_cmd "$CTL" rollback
	capture_cmd "$CTL" promote
	capture_more "$CTL rollback web -r" "$CTL promote web -r" "$CTL promote -r --help"
	SPECS=(arm:a:E:stable,canary pin-root:p:S)
	capture_cmd "$CTL" override
	for c in "" list "list web" "list web x" add "add web" "add web 10.0.0.0/8" \
		"add web 10.0.0.0/8 --arm canary" "del web 10.0.0.0/8" frob; do
		capture_run "$CTL" override $c
	done
	SPECS=(json:j:F rates::O:0.01:3600 pin-root:p:S)
	capture_cmd "$CTL" status
	capture_more "$CTL status web" "$CTL status web web2" "$CTL status --rates"
	SPECS=(plan:f:S full::F json:j:F wait::F timeout:t:D:0.001:1e9 "${AG[@]}")
	capture_cmd "$CTL" rollout
	for c in "" "status" "status Web!" "start web" "start web --plan $plan" \
		"status web --plan $plan" "promote web --full" "status web --full" \
		"pause web --json" "status web --timeout 5" "status web --wait --timeout 5" \
		"pause web" "frob web" "status web x"; do
		capture_run "$CTL" rollout $c
	done
	SPECS=(json:j:F "${AG[@]}")
	capture_cmd "$CTL" history
	capture_more "$CTL history web" "$CTL history"
	# A watch that parses runs for ever: every case gets --count 1 --interval 0.1 first.
	SPECS=(interval:i:D:0.1:3600 count:n:U:1:18446744073709551615 "${AG[@]}" pin-root:p:S)
	capture_cmd "$CTL" watch --count 1 --interval 0.1
	SPECS=(dry-run:n:F)
	capture_cmd "$CTL" plan
	capture_more "$CTL plan" "$CTL plan --dry-run $plan" "$CTL plan /nonexistent.yaml"
	SPECS=(arm::S name::S successes::U:0:9223372036854775807 trials::U:0:9223372036854775807
		agent:a:S socket::S token-file::S cacert::S)
	capture_cmd "$CTL" metric
	for c in "" "push web" "push web --arm x" "push web --arm canary --name ctr --successes 1" \
		"push web --arm canary --name ctr --successes 5 --trials 4"; do
		capture_run "$CTL" metric $c
	done
	SPECS=(pin-root:p:S)
	capture_cmd "$CTL" sweep
	SPECS=(src:s:S proto:P:E:tcp,udp json:j:F pin-root:p:S)
	capture_cmd "$CTL" explain
	capture_more "$CTL explain web" "$CTL explain --src 10.0.0.1:5"

	for c in "" --help help --version bogus "help attach" "help detach" "help status"; do
		capture_run "$LD" $c
	done
	SPECS=(dev:d:S mode:m:E:native,skb pin-root:p:S flows:f:U:1024:268435456
		syn-timeout::U:1:86400 tcp-idle::U:1:864000 tcp-closing::U:1:86400
		udp-idle::U:1:86400 pending::U:1024:67108864)
	capture_cmd "$LD" attach
	for i in $(seq 1 33); do args+=(--dev "d$i"); done
	capture_run "$LD" attach "${args[@]}"
	capture_run "$LD" detach "${args[@]}"
	capture_more "$LD attach" "$LD attach --dev lo" "$LD attach --dev lo --dev lo"
	SPECS=(dev:d:S all:a:F purge::F pin-root:p:S)
	capture_cmd "$LD" detach
	for c in "" extra --all --purge "--all --dev lo" "--all --purge" "--dev lo"; do
		capture_run "$LD" detach $c
	done
	SPECS=(json:j:F pin-root:p:S)
	capture_cmd "$LD" status

	# A sim that parses runs: --only matches nothing, so it prints its header and stops.
	SPECS=(full:f:F rollouts:n:U:1:18446744073709551615 seed:s:U:0:18446744073709551615
		threads:t:U:1:64 markdown:m:F only:o:S)
	capture_cmd "$CAPDIR/canary-sim" --only zzz-no-scenario
	# canaryd stops at the root check (or at --listen, which it checks first).
	SPECS=(pin-root:p:S state-dir:s:S listen:l:S socket::S socket-group::S token-file::S
		tls-cert::S tls-key::S allow-host::S interval:i:D:0.05:3600
		sweep-interval::D:0:86400 verbose:v:F)
	capture_cmd "$CAPDIR/canaryd"
	# Without --target (--name) every case that parses stops at "is required".
	SPECS=(target::S connections::U:1:100000000 concurrency::U:1:1000000 source::S
		source-range::S timeout::U:1:3600000 requests-per-conn::U:1:1000000 by-source::F
		hold::D:0.001:86400 interval::U:1:3600000 expect-2xx::F rate::D:0.001:1000000
		duration::D:0.001:86400 progress::F udp::F requests::U:1:100000000 same-socket::F
		click-prob::S seed::U:0:18446744073709551615 deadline::D:0.001:604800 pipeline::F)
	capture_cmd "$CAPDIR/tools/canary-client"
	SPECS=(name:n:S listen:l:S udp:u:S error-rate:e:D:0:1 error-status::U:500:599
		reset-rate:r:D:0:1 delay:d:U:0:3600000 faults-file::S
		seed:s:U:0:18446744073709551615 idle-timeout::U:0:9223372036854 backlog::U:1:1048576
		refuse::F no-accept::F pidfile::S quiet:q:F)
	capture_cmd "$CAPDIR/tools/canary-backend"
}

if [ "${1:-}" = --capture ]; then
	CAPDIR=$(cd "${2:?--capture DIR}" && pwd)
	capture
	exit 0
fi

# ---- the contract ----------------------------------------------------------------------

CTL=$BUILD/canaryctl
LOADER=$BUILD/canary-loader
for p in "$CTL" "$LOADER" "$BUILD/canary-sim" "$BUILD/canaryd" "$BUILD/tools/canary-client" \
	"$BUILD/tools/canary-backend"; do
	if [ ! -x "$p" ]; then
		nok "$p is built (make all)"
		echo "$passed passed, $failed failed"
		exit 1
	fi
done

# The options a help text lists, one a line: "LONG SHORT VALUE" (SHORT and VALUE "-" when
# there is none; VALUE "=" for an optional value).
help_options() {
	sed -nE 's/^  (-([A-Za-z0-9]), |    )--([a-z0-9-]+)(\[=|[ ])?([A-Z][^ ]*)?.*/\3|\2|\4\5/p' |
		awk -F'|' '{ s = $2 == "" ? "-" : $2; v = $3; gsub(/ /, "", v)
			     v = v == "" ? "-" : v ~ /^\[=/ ? "=" : v; print $1, s, v }'
}

# One command's checks. WHO is what its messages start with ("canaryctl status").
check_cmd() {
	local who=$1 help rc out long short val bad=""
	shift
	out=$("$@" --help 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && [[ $out == "Usage: $who"* ]] && grep -q "^  -h, --help" <<<"$out"; then
		ok "$who --help exits 0 and starts with 'Usage: $who'"
	else
		nok "$who --help exits 0 and starts with 'Usage: $who' (exit $rc: ${out:0:200})"
	fi
	help=$out
	while read -r long short val; do
		# Every option the help lists is accepted: it is not "unknown" before --help.
		if [ "$val" = - ]; then
			out=$("$@" "--$long" --help 2>&1)
		else
			out=$("$@" "--$long=1" --help 2>&1)
		fi
		grep -q "unknown option" <<<"$out" && bad+=" --$long"
		[ "$short" = - ] && continue
		if [ "$val" = - ]; then
			out=$("$@" "-$short" --help 2>&1)
		else
			out=$("$@" "-$short" 1 --help 2>&1)
		fi
		grep -q "unknown option" <<<"$out" && bad+=" -$short"
		# A value left out at the end is a usage error that names the option.
		if [ "$val" != - ] && [ "$val" != = ]; then
			out=$("$@" "--$long" 2>&1)
			rc=$?
			[ "$rc" = 2 ] && grep -q "needs a value; try '$who --help'" <<<"$out" ||
				bad+=" --$long(no value: exit $rc)"
		fi
	done < <(help_options <<<"$help")
	if [ -z "$bad" ]; then
		ok "$who accepts every option its help lists, and wants the values"
	else
		nok "$who accepts every option its help lists, and wants the values:$bad"
	fi
	check_unknown "$who" "$@"
}

# Unknown options, long and short, exit 2 with one line and the hint.
check_unknown() {
	local who=$1 opt out rc bad=""
	shift
	for opt in --no-such-option -Z; do
		out=$("$@" "$opt" 2>&1 >/dev/null)
		rc=$?
		[ "$rc" = 2 ] && [ "$out" = "$who: unknown option '$opt'; try '$who --help'" ] ||
			bad+=" $opt (exit $rc: $out)"
	done
	if [ -z "$bad" ]; then
		ok "$who: unknown options exit 2 with the hint"
	else
		nok "$who: unknown options exit 2 with the hint:$bad"
	fi
}

# The long names a program's option tables declare.
declared() {
	cat "$@" | grep -oE '\{CLI_[A-Z]+, "[a-z0-9-]+"|META_OPT\("[a-z0-9-]+"' |
		sed -E 's/.*"([a-z0-9-]+)"?$/\1/; s/"$//' | sort -u
}

# Names declared but not among the options the help text on stdin lists (the synopsis
# lines do not count).
missing_from_help() {
	local listed name
	listed=$(help_options | cut -d' ' -f1)
	for name in "$@"; do
		grep -qx -- "$name" <<<"$listed" || echo "$name"
	done
}

check_declared() {
	local what=$1 helpfile=$2 miss
	shift 2
	miss=$(missing_from_help "$@" <"$helpfile" | tr '\n' ' ')
	if [ -z "$miss" ]; then
		ok "every option $what declares is in its --help"
	else
		nok "every option $what declares is in its --help (missing: $miss)"
	fi
}

commands() {
	"$1" --help | sed -nE '/^Commands:/,/^$/s/^  ([a-z-]+) .*/\1/p'
}

for prog in "$CTL" "$LOADER"; do
	name=$(basename "$prog")
	: >"$tmp/$name.help"
	for cmd in $(commands "$prog"); do
		check_cmd "$name $cmd" "$prog" "$cmd"
		"$prog" "$cmd" --help >>"$tmp/$name.help"
		if cmp -s <("$prog" help "$cmd") <("$prog" "$cmd" --help); then
			ok "$name help $cmd prints what $name $cmd --help prints"
		else
			nok "$name help $cmd prints what $name $cmd --help prints"
		fi
	done
	check_unknown "$name" "$prog"
done
[ "$(commands "$CTL" | wc -l)" -ge 13 ] && ok "canaryctl lists its 13 commands" ||
	nok "canaryctl lists its 13 commands"

# shellcheck disable=SC2046
check_declared canaryctl "$tmp/canaryctl.help" $(declared userspace/canaryctl.c userspace/lib/cli/cli.c)
# shellcheck disable=SC2046
check_declared canary-loader "$tmp/canary-loader.help" $(declared userspace/canary-loader.c) pin-root
for prog in canary-sim canaryd tools/canary-client tools/canary-backend; do
	name=$(basename "$prog")
	check_cmd "$name" "$BUILD/$prog"
	src=userspace/$name.c
	[ -d "userspace/$name" ] && src=userspace/$name/main.c
	[ -f "$src" ] || src=tests/tools/$name.c
	"$BUILD/$prog" --help >"$tmp/$name.help"
	# shellcheck disable=SC2046
	check_declared "$name" "$tmp/$name.help" $(declared "$src")
done
# Controls: the checks must be able to fail.
out=$(check_unknown "true" true)
grep -q "^not ok" <<<"$out" && ok "control: a program that takes any option is caught" ||
	nok "control: a program that takes any option is caught"
grep -v -- "^ *--salt-file" "$tmp/canaryctl.help" >"$tmp/cut.help"
miss=$(missing_from_help salt-file pin-root <"$tmp/cut.help")
[ "$miss" = salt-file ] && ok "control: an option missing from --help is named" ||
	nok "control: an option missing from --help is named (got: $miss)"
[ "$(declared userspace/canary-loader.c | wc -l)" -ge 9 ] &&
	ok "control: the loader's declared options are found in its source" ||
	nok "control: the loader's declared options are found in its source"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
