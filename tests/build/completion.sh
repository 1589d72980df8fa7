#!/usr/bin/env bash
# completion.sh: the bash completion (scripts/completion/xdp-canary.bash) in a real bash.
# Sourced, it registers one function for the three programs (complete -p); called the
# way bash calls it (COMP_LINE, COMP_POINT and COMP_WORDS split at COMP_WORDBREAKS), it
# offers the commands, a command's actions and options, an option's choices, files
# and interfaces; every option of every --help is offered, and so is every command.
# Controls: a program whose --help gains an option gets it offered (nothing is listed
# in the script), and the check that every option is offered names one left out.
# Service names need pinned maps: tests/integration/operator.sh completes those.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}

for p in canaryctl canary-loader canaryd; do
	if [ ! -x "$BUILD/$p" ]; then
		nok "$BUILD/$p is built (make all)"
		echo "$passed passed, $failed failed"
		exit 1
	fi
done
export PATH=$PWD/$BUILD:$PATH

COMPLETE_ERR=$tmp/stderr
. tests/lib/complete.sh
cands() { complete_line "$1"; }
# expect LINE WORD...: the candidates for LINE are exactly these words.
expect() {
	local line=$1 got want
	shift
	got=$(cands "$line" | paste -sd' ')
	want=$(printf '%s\n' "$@" | sort | paste -sd' ')
	[ "$got" = "$want" ] && [ ! -s "$tmp/stderr" ] && ok "'$line' completes to: $want" ||
		nok "'$line' completes to: $want (got: $got; stderr: $(head -2 "$tmp/stderr"))"
}
# offers LINE WORD...: the candidates include these words.
offers() {
	local line=$1 got w miss=""
	shift
	got=$(cands "$line")
	for w in "$@"; do grep -qxF -- "$w" <<<"$got" || miss+=" $w"; done
	[ -z "$miss" ] && [ ! -s "$tmp/stderr" ] && ok "'$line' offers $*" ||
		nok "'$line' offers $* (missing:$miss; stderr: $(head -2 "$tmp/stderr"))"
}

reg=$(bash --norc --noprofile -c '. scripts/completion/xdp-canary.bash; complete -p canaryctl canary-loader canaryd' 2>&1)
[ "$(grep -c -- '-F _xdp_canary ' <<<"$reg")" = 3 ] && ok "complete -p: the function is registered for all three programs" ||
	nok "complete -p: the function is registered for all three programs (got: $reg)"

expect "canaryctl ro" rollback rollout
expect "canary-loader " attach detach status help
expect "canaryctl rollout " start status pause resume abort promote
expect "canaryctl rollout st" start status
expect "canaryctl override " add del list
expect "canaryctl rollout status web --w" --wait
expect "canary-loader attach --mode " native skb
expect "canary-loader attach -m s" skb
expect "canary-loader attach --mode=" native skb
expect "canaryctl override add web 10.1.0.0/16 --arm " stable canary
expect "canaryctl explain web --proto u" udp
expect "canaryctl help set" set-weight
expect "canaryctl -" --verbose -v --version --help -h
expect "canaryd --sweep" --sweep-interval
offers "canary-loader attach --dev " lo
mkdir -p "$tmp/plans/dir"
: >"$tmp/plans/plan.yaml"
expect "canaryctl rollout start web --plan $tmp/plans/p" "$tmp/plans/plan.yaml"
expect "canaryctl apply -f $tmp/plans/d" "$tmp/plans/dir"
expect "canaryd --state-dir $tmp/plans/" "$tmp/plans/dir"
# A value that is free text gets no candidates (and no file names from the function).
expect "canaryctl set-weight web --pin-root $tmp/nowhere "
expect "canaryctl rollout status web --timeout "
# With no maps pinned there is no service to offer, and nothing is printed.
expect "canaryctl status --pin-root $tmp/nowhere "

# Every option each help lists, long and short, is offered after "-" (help_options as
# tests/build/man-pages.sh reads them).
help_options() {
	sed -nE 's/^  (-([A-Za-z0-9]), |    )--([a-z0-9-]+).*/--\3 -\2/p' | tr ' ' '\n' | grep -vx -- -
}
commands() { "$1" --help | sed -nE '/^Commands:/,/^$/s/^  ([a-z-]+) .*/\1/p'; }
# missing LINE: the options of the help on stdin that LINE's candidates lack.
missing() {
	local got
	got=$(cands "$1")
	help_options | while read -r o; do grep -qxF -- "$o" <<<"$got" || echo "$o"; done
}
total=0 bad=""
for p in canaryctl canary-loader canaryd; do
	m=$("$p" --help | missing "$p -")
	[ -n "$m" ] && bad+=" $p:$(paste -sd, <<<"$m")"
	total=$((total + $("$p" --help | help_options | wc -l)))
	for c in $(commands "$p"); do
		m=$("$p" "$c" --help | missing "$p $c -")
		[ -n "$m" ] && bad+=" $p $c:$(paste -sd, <<<"$m")"
		total=$((total + $("$p" "$c" --help | help_options | wc -l)))
	done
	want=$(commands "$p" | sort | paste -sd' ')
	[ -n "$want" ] || continue # canaryd: no commands
	got=$(cands "$p " | grep -vx help | paste -sd' ')
	[ "$want" = "$got" ] && ok "$p: every command is offered ($want)" ||
		nok "$p: every command is offered (want: $want; got: $got)"
done
[ -z "$bad" ] && [ "$total" -ge 60 ] && ok "every option of every --help is offered ($total)" ||
	nok "every option of every --help is offered ($total; missing:$bad)"

# Controls. A program the completion has never seen: its options, commands and choices
# come from its help and its usage error alone.
fake=$tmp/bin/canaryctl
mkdir -p "$tmp/bin"
cat >"$fake" <<'EOF'
#!/bin/sh
case "$*" in
--help) printf 'Usage: canaryctl COMMAND\n\nCommands:\n  frobnicate   a new command\n\nOptions:\n  -h, --help              show this text\n' ;;
"frobnicate --help") printf 'Usage: canaryctl frobnicate SERVICE [--colour C]\nOptions:\n      --brand-new-option  a flag nobody listed\n  -c, --colour C          red or blue\n  -h, --help              show this text\n' ;;
"frobnicate --colour=? --help") echo "canaryctl frobnicate: --colour '?' must be red, green or blue; try 'canaryctl frobnicate --help'" >&2; exit 2 ;;
*) exit 2 ;;
esac
EOF
chmod +x "$fake"
expect "$fake " frobnicate help
expect "$fake frobnicate --b" --brand-new-option
expect "$fake frobnicate -c " red green blue
printf '  -z, --zzz-not-offered   an option no candidate has\n' >"$tmp/extra.help"
m=$(missing "canaryctl status -" <"$tmp/extra.help" | paste -sd' ')
[ "$m" = "--zzz-not-offered -z" ] && ok "control: an option that is not offered is named" ||
	nok "control: an option that is not offered is named (got: $m)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
