#!/usr/bin/env bash
# man-pages.sh: the man pages in man/ (scdoc) against the programs. Each page renders
# with scdoc; every option a program's --help lists (each command's, for canaryctl and
# canary-loader, and the global options cli.c takes) is in its page, with its short name
# where it has one, and the page names no option the program lacks. Every key the
# services and plan parsers accept (their *_keys tables) is in xdp-canary-services(5)
# and xdp-canary-plan(5). Controls: a page with an option taken out, and a page that
# names an option the program lacks, must both be caught.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}

if ! command -v scdoc >/dev/null; then
	nok "scdoc is installed (scripts/install-deps.sh)"
	echo "$passed passed, $failed failed"
	exit 1
fi
for p in canaryctl canary-loader canaryd; do
	if [ ! -x "$BUILD/$p" ]; then
		nok "$BUILD/$p is built (make all)"
		echo "$passed passed, $failed failed"
		exit 1
	fi
done

for page in man/*.scd; do
	if scdoc <"$page" >"$tmp/page" 2>"$tmp/err" && [ -s "$tmp/page" ]; then
		ok "$(basename "$page" .scd) renders with scdoc"
	else
		nok "$(basename "$page" .scd) renders with scdoc: $(cat "$tmp/err")"
	fi
done

# A help text's option lines, as "LONG SHORT" (SHORT "-" when there is none).
help_options() {
	sed -nE 's/^  (-([A-Za-z0-9]), |    )--([a-z0-9-]+).*/\3 \2/p' | awk '{ print $1, $2 == "" ? "-" : $2 }'
}

# Every option of PROG: each command's help (programs with commands), its own help,
# and the global options cli_main() takes before the command.
program_options() {
	local prog=$1 cmd
	{
		"$prog" --help | help_options
		for cmd in $("$prog" --help | sed -nE '/^Commands:/,/^$/s/^  ([a-z-]+) .*/\1/p'); do
			"$prog" "$cmd" --help | help_options
		done
		if "$prog" --help | grep -q '^Commands:'; then
			sed -nE 's/.*strcmp\(argv\[i\], "-([a-z])"\) \|\| !strcmp\(argv\[i\], "--([a-z-]+)"\).*/\2 \1/p;
				 s/.*strcmp\(argv\[i\], "--([a-z-]+)"\)\) \{.*/\1 -/p' userspace/lib/cli/cli.c
		fi
	} | sort -u | awk '!seen[$1]++'
}

# The long options a page names anywhere (bold or not), one a line.
page_options() {
	grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z0-9][a-z0-9-]*' "$1" | sed -E 's/.*--//' | sort -u
}

# Prints what is wrong between the options on stdin ("LONG SHORT") and PAGE.
compare() {
	local page=$1 long short named
	named=$(page_options "$page")
	while read -r long short; do
		grep -qx -- "$long" <<<"$named" || { echo "missing --$long"; continue; }
		[ "$short" = - ] && continue
		grep -qF -- "*-$short*, *--$long*" "$page" || echo "no '-$short, --$long'"
	done <"$tmp/opts"
	for long in $named; do
		grep -q "^$long " "$tmp/opts" || echo "names unknown --$long"
	done
}

for p in canaryctl canary-loader canaryd; do
	program_options "$BUILD/$p" >"$tmp/opts"
	page=man/$p.8.scd
	n=$(wc -l <"$tmp/opts")
	if [ ! -f "$page" ]; then
		nok "$p has a man page ($page)"
		continue
	fi
	bad=$(compare "$page" | tr '\n' ';')
	[ -z "$bad" ] && ok "$p(8) names each of its $n options, and no other" ||
		nok "$p(8) names each of its $n options, and no other: $bad"
	cp "$tmp/opts" "$tmp/$p.opts"
done
[ "$(wc -l <"$tmp/canaryctl.opts")" -ge 25 ] && ok "control: canaryctl's options are found (25 or more)" ||
	nok "control: canaryctl's options are found (25 or more)"
grep -q '^version -$' "$tmp/canaryctl.opts" && grep -q '^verbose v$' "$tmp/canaryctl.opts" &&
	ok "control: the global options are found in cli.c" ||
	nok "control: the global options are found in cli.c"

# Controls: take --prune out of canaryctl(8); plant an option canaryd lacks.
cp "$tmp/canaryctl.opts" "$tmp/opts"
grep -v -- 'prune' man/canaryctl.8.scd >"$tmp/cut.scd"
[ "$(compare "$tmp/cut.scd")" = "missing --prune" ] &&
	ok "control: an option missing from a page is named" ||
	nok "control: an option missing from a page is named (got: $(compare "$tmp/cut.scd"))"
cp "$tmp/canaryd.opts" "$tmp/opts"
{ cat man/canaryd.8.scd; printf '\n*--daemonize*\n\tFork.\n'; } >"$tmp/extra.scd"
[ "$(compare "$tmp/extra.scd")" = "names unknown --daemonize" ] &&
	ok "control: an option a program lacks is named" ||
	nok "control: an option a program lacks is named (got: $(compare "$tmp/extra.scd"))"

# The file formats: every key a parser's tables accept is described.
keys() {
	sed -nE '/static const char \*const [a-z_]+_keys\[\] = \{/,/\};/p' "$1" |
		grep -oE '"[a-z_0-9]+"' | tr -d '"' | sort -u
}
for pair in config.c:xdp-canary-services.5 plan.c:xdp-canary-plan.5; do
	src=userspace/lib/logic/${pair%%:*}
	page=man/${pair#*:}.scd
	miss=""
	for k in $(keys "$src"); do
		grep -qw -- "$k" "$page" || miss+=" $k"
	done
	n=$(keys "$src" | wc -l)
	[ "$n" -ge 5 ] && [ -z "$miss" ] && ok "${pair#*:} describes each of the $n keys $src accepts" ||
		nok "${pair#*:} describes each of the $n keys $src accepts (missing:$miss)"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
