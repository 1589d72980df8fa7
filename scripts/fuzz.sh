#!/usr/bin/env bash
# fuzz.sh: run each libFuzzer target of tests/fuzz for SECONDS on a working corpus
# seeded from the tests' own inputs, and report executions and findings.
#   scripts/fuzz.sh FUZZ_BUILD SECONDS [TARGET...]
# Exits 1 when any target left a finding (crash-*, leak-*, timeout-*, oom-*) in
# FUZZ_BUILD/findings-TARGET/. Prints one "ok - " / "not ok - " line per target, so
# tests/run.sh can count a short run as a test.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: fuzz.sh FUZZ_BUILD SECONDS [TARGET...]}
secs=${2:?usage: fuzz.sh FUZZ_BUILD SECONDS [TARGET...]}
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_services fuzz_plan fuzz_state fuzz_prom fuzz_fleet)

seeds() {
	case $1 in
	fuzz_services) echo tests/fuzz/seeds/services tests/data/services-bad ;;
	fuzz_plan) echo tests/fuzz/seeds/plans tests/data/plans-bad ;;
	fuzz_state) echo tests/fuzz/seeds/state ;;
	fuzz_prom) echo tests/data/prom-answers ;;
	fuzz_fleet) echo tests/fuzz/seeds/fleet ;;
	*) return 1 ;;
	esac
}

rc=0
for t in "${targets[@]}"; do
	bin=$dir/$t corpus=$dir/corpus-$t findings=$dir/findings-$t
	if [ ! -x "$bin" ] || ! s=$(seeds "$t"); then
		echo "not ok - fuzz $t: no such target in $dir (make fuzz-build)"
		rc=1
		continue
	fi
	mkdir -p "$corpus" "$findings"
	# shellcheck disable=SC2086 # the seed directories are a list
	out=$("$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$findings/" -print_final_stats=1 "$corpus" $s 2>&1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$out")
	cov=$(grep -oE 'cov: [0-9]+' <<<"$out" | tail -1)
	n=$(find "$findings" -type f | wc -l)
	if [ "$n" -eq 0 ] && [ -n "$execs" ]; then
		echo "ok - fuzz $t: ${execs} executions in ${secs}s, $cov, corpus $(ls "$corpus" | wc -l) inputs, 0 findings"
	else
		echo "not ok - fuzz $t: ${execs:-?} executions, $n findings in $findings"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' <<<"$out" | head -5
		rc=1
	fi
done
exit $rc
