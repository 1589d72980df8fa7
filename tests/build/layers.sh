#!/usr/bin/env bash
# layers.sh: userspace/lib/ keeps its layers (docs/ARCHITECTURE.md, "Source layout").
# Each folder may include only the folders below it:
#
#   base/     nothing of ours but the shared bpf/ headers
#   logic/    base/                  (no kernel: never libbpf, libxdp or libcurl)
#   http/     base/                  (libcurl, libmicrohttpd; never libbpf)
#   maps/     base/, the parts of logic/ that describe a service (spec, config,
#             maglev, salts), never the analysis (analysis, plan, rollout, sim)
#   present/  base/, logic/, maps/
#   cli/      base/, maps/, http/, store/ (the --store URL)
#   store/    base/, logic/, http/        (the etcd client; never libbpf: maps/ must
#             not include it, so a node's maps work without the store)
#
# The Makefile enforces the first rule at link time too: the pure-logic unit tests link
# against base/ and logic/ alone, without libbpf. As a control, a copy of the tree with
# one forbidden include of each kind planted in it must fail here.
. "$(dirname "$0")/lib.sh"

# What each folder may include of ours ("dir/" for a whole folder, "dir/x.h" for one
# header), and the system headers it must not (extended regular expression).
allowed() {
	case $1 in
	base) echo "base/" ;;
	logic) echo "base/ logic/" ;;
	http) echo "base/ http/" ;;
	maps) echo "base/ maps/ logic/spec.h logic/config.h logic/maglev.h logic/salts.h" ;;
	present) echo "base/ logic/ maps/ present/" ;;
	cli) echo "base/ maps/ http/ store/ cli/" ;;
	store) echo "base/ logic/ http/ store/" ;;
	*) echo "" ;;
	esac
}
forbidden_sys() {
	case $1 in
	base | logic) echo '^(bpf|xdp|curl)/|^microhttpd\.h$' ;;
	http | store) echo '^(bpf|xdp)/' ;;
	maps | present) echo '^curl/|^microhttpd\.h$' ;;
	*) echo '^$' ;;
	esac
}

# Print one line per forbidden include under LIB (a copy of userspace/lib).
violations() {
	local lib=$1 dir f inc ok_inc a
	for dir in "$lib"/*/; do
		dir=$(basename "$dir")
		if [ -z "$(allowed "$dir")" ]; then
			echo "$dir/: a folder layers.sh has no rule for"
			continue
		fi
		for f in "$lib/$dir"/*.[ch]; do
			[ -e "$f" ] || continue
			while IFS= read -r inc; do
				case $inc in
				*/*) ;;
				*) [ -e "bpf/$inc" ] && continue ;; # the shared bpf/ headers
				esac
				ok_inc=0
				for a in $(allowed "$dir"); do
					case $a in
					*/) [ "${inc#"$a"}" != "$inc" ] && ok_inc=1 ;;
					*) [ "$inc" = "$a" ] && ok_inc=1 ;;
					esac
				done
				[ $ok_inc = 1 ] || echo "$dir/$(basename "$f") includes \"$inc\""
			done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
			while IFS= read -r inc; do
				if echo "$inc" | grep -Eq "$(forbidden_sys "$dir")"; then
					echo "$dir/$(basename "$f") includes <$inc>"
				fi
			done < <(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f")
		done
	done
}

out=$(violations userspace/lib)
if [ -z "$out" ]; then
	ok "every folder of userspace/lib includes only the layers below it"
else
	nok "every folder of userspace/lib includes only the layers below it: $(echo "$out" | tr '\n' ';')"
fi

# Every header a program or library file names by folder exists (no stale path).
missing=$(grep -rhoE '#include "(base|logic|maps|http|present|cli|store)/[a-z_]+\.h"' \
	userspace tests | sed 's/#include "\(.*\)"/\1/' | sort -u |
	while read -r h; do [ -e "userspace/lib/$h" ] || echo "$h"; done)
if [ -z "$missing" ]; then
	ok "every folder-qualified include names a header that exists"
else
	nok "every folder-qualified include names a header that exists (missing: $missing)"
fi

# The controls: one planted include of each kind, each of which must be caught.
control() {
	local file=$1 line=$2 want=$3
	rm -rf "$tmp/lib" && cp -r userspace/lib "$tmp/lib"
	sed -i "0,/^#include/s||$line\n&|" "$tmp/lib/$file"
	out=$(violations "$tmp/lib")
	if grep -qF "$want" <<<"$out"; then
		ok "control: $want is caught"
	else
		nok "control: $want is caught (got: $out)"
	fi
}
control logic/plan.c '#include "maps/pins.h"' 'logic/plan.c includes "maps/pins.h"'
control logic/rollout.c '#include <bpf/libbpf.h>' 'logic/rollout.c includes <bpf/libbpf.h>'
control maps/stats.c '#include "logic/analysis.h"' 'maps/stats.c includes "logic/analysis.h"'
control base/util.c '#include "logic/spec.h"' 'base/util.c includes "logic/spec.h"'
control http/httpc.c '#include <xdp/libxdp.h>' 'http/httpc.c includes <xdp/libxdp.h>'
control maps/apply.c '#include "store/etcd.h"' 'maps/apply.c includes "store/etcd.h"'
control store/etcd.c '#include "maps/pins.h"' 'store/etcd.c includes "maps/pins.h"'
mkdir -p "$tmp/lib/extra" && cp userspace/lib/base/util.h "$tmp/lib/extra/"
out=$(violations "$tmp/lib")
if grep -qF "extra/: a folder layers.sh has no rule for" <<<"$out"; then
	ok "control: a new folder without a rule is named"
else
	nok "control: a new folder without a rule is named"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
