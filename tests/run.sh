#!/usr/bin/env bash
# Runs the test programs and sums their "ok"/"not ok" lines into one closing line.
#   tests/run.sh unit|integration|asan|all [NAME-FILTER [CASE-PATTERN]]
# CASE-PATTERN is passed to each C test program NAME-FILTER selects as `-t` (tests/lib/
# testlib.h: a substring or glob of a case's or fixture's name, `PROGRAM -l` lists them);
# the shell scripts have no cases and are skipped then.
# With ASAN_BUILD set (make test, make asan), `all` and `asan` also run the unit tests
# and the tests that feed hostile input with the ASan+UBSan build there; with
# FUZZ_BUILD set, `all` runs each fuzz target briefly over its seeds.
# Unit tests are tests/build/*.sh (how the objects are built) and build/tests/test_* (C,
# BPF_PROG_TEST_RUN and libraries); integration
# tests are tests/integration/*.sh (namespaces and real traffic, root only).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
what=${1:-all}
filter=${2:-}
case_pattern=${3:-}
case_args=()
[ -n "$case_pattern" ] && case_args=(-t "$case_pattern")
pass=0
fail=0
failed=()

run_one() {
	local name=$1
	shift
	local log rc
	log=$(mktemp)
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	local p f
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	# A program that dies without reporting a failure still failed.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed+=("$name")
	rm -f "$log"
}

if [ "$what" = unit ] || [ "$what" = all ]; then
	# Build checks: shell scripts that need no root (how the objects are compiled).
	for t in tests/build/*.sh; do
		[ -f "$t" ] && [ -z "$case_pattern" ] || continue
		# lib.sh is what the checks source; it is no check itself.
		[ "$(basename "$t")" = lib.sh ] && continue
		[ -n "$filter" ] && [[ $t != *"$filter"* ]] && continue
		run_one "build/$(basename "$t" .sh)" env BUILD="$BUILD" bash "$t"
	done
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		[ -n "$filter" ] && [[ $t != *"$filter"* ]] && continue
		run_one "unit/$(basename "$t")" "$t" ${case_args[@]+"${case_args[@]}"}
	done
fi

if { [ "$what" = integration ] || [ "$what" = all ]; } && [ -z "$case_pattern" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "not ok - integration: the integration tests need root (sudo make test)"
		fail=$((fail + 1))
	else
		for t in tests/integration/*.sh; do
			[ -f "$t" ] || continue
			# lib.sh holds the helpers the tests source; it is no test itself.
			[ "$(basename "$t")" = lib.sh ] && continue
			[ -n "$filter" ] && [[ $t != *"$filter"* ]] && continue
			run_one "integration/$(basename "$t" .sh)" env BUILD="$BUILD" bash "$t"
		done
	fi
fi

# The sanitizer pass: the same unit tests, and the integration tests whose inputs are
# hostile (malformed files, API requests, Prometheus answers, state files), with every
# program built with ASan and UBSan (any report aborts the program, and fails).
ASAN_INTEGRATION="inputs trust robustness prom_answers"
if { [ "$what" = asan ] || [ "$what" = all ]; } && [ -n "${ASAN_BUILD:-}" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for t in "$ASAN_BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		[ -n "$filter" ] && [[ $t != *"$filter"* ]] && continue
		run_one "asan/unit/$(basename "$t")" "$t" ${case_args[@]+"${case_args[@]}"}
	done
	if [ "$(id -u)" -eq 0 ] && [ -z "$case_pattern" ]; then
		for n in $ASAN_INTEGRATION; do
			[ -n "$filter" ] && [[ $n != *"$filter"* ]] && continue
			run_one "asan/integration/$n" env BUILD="$ASAN_BUILD" bash "tests/integration/$n.sh"
		done
	fi
fi

# A short fuzzing pass over each target's seeds (make fuzz runs them for long).
if [ "$what" = all ] && [ -n "${FUZZ_BUILD:-}" ] && [ -z "$case_pattern" ]; then
	run_one "fuzz/smoke" scripts/fuzz.sh "$FUZZ_BUILD" "${FUZZ_SMOKE_SECONDS:-5}"
fi

echo
[ ${#failed[@]} -gt 0 ] && echo "failing: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
