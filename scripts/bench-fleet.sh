#!/usr/bin/env bash
# bench-fleet.sh: the fleet's delays (docs/FLEET.md), measured by the fleet tests on a
# real etcd and three real data planes, over RUNS runs of each (default 3): an apply
# through the store to the last node's maps, a rollback from the leader's decision to
# every node at 0%, a leader's takeover after kill -9, and each node's own rollback with
# the store down. Prints each figure's min / median / max. These are delays of control
# loops (intervals of 0.2 to 0.5 s in the tests), not per-packet costs: they follow the
# intervals and leases the tests set, and are information, never a threshold.
#   BUILD=build scripts/bench-fleet.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for ((r = 1; r <= RUNS; r++)); do
	for t in fleet_store fleet_leader; do
		if ! BUILD=$BUILD tests/run.sh integration "$t" >"$out/$t-$r.log" 2>&1; then
			echo "bench-fleet: $t (run $r) failed; its output:" >&2
			grep -E '^not ok|^# ' "$out/$t-$r.log" >&2
			exit 1
		fi
	done
done

# stats NAME SED-EXPRESSION: the number each run's line gives, min / median / max.
stats() {
	local name=$1 expr=$2
	cat "$out"/*.log | sed -nE "$expr" | sort -g | awk -v n="$name" '
		{ v[NR] = $1 }
		END {
			if (!NR) { printf "%-52s (no figure)\n", n; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%-52s %7.3f / %7.3f / %7.3f s  (%d runs)\n", n, v[1], m, v[NR], NR
		}'
}
echo "fleet delays, min / median / max over $RUNS runs (3 nodes, one etcd):"
stats "apply -> last node's maps (interval 0.5 s)" 's/^# apply -> last node.s maps hold it: ([0-9.]+) s.*/\1/p'
stats "apply -> fleet status shows all three" 's/^# apply -> .* all three at the revision, [^:]*: ([0-9.]+) s\)$/\1/p'
stats "leader's rollback -> every node at 0% (0.2 s)" 's/^# rollback propagation: every node at 0% ([0-9.]+) s.*/\1/p'
stats "kill -9 of the leader -> another leads (lease 2 s)" 's/^# takeover: n[0-9]+ leads ([0-9.]+) s.*/\1/p'
stats "store down, canary fails -> every node at 0%" 's/^# local rollbacks: every node at 0% ([0-9.]+) s.*/\1/p'
stats "kill -9 of a node -> gone from the store (lease 3 s)" 's/^# node-c gone from the store ([0-9.]+) s.*/\1/p'
