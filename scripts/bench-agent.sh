#!/usr/bin/env bash
# bench-agent.sh: what canaryd costs with 256 services, each running a rollout, polled
# every second: CPU time over a measured window (from /proc/PID/stat), against the
# wall-clock time of the window. Part of `make bench`; prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${SECS:-30}
export TOPO_LOGDIR=$(mktemp -d /tmp/xdp-canary-bench.XXXXXX)
. scripts/topology.sh
cleanup() {
	topo_destroy
	rm -rf "$TOPO_LOGDIR"
}
trap cleanup EXIT

topo_create >/dev/null
topo_attach >/dev/null
# 256 services: VIP 10.0.0.x port 80+x, backends on distinct ports of the backend hosts.
{
	echo "services:"
	for i in $(seq 0 255); do
		echo "  - { name: s$i, vip: 10.0.0.$((i % 250 + 1)), port: $((1000 + i)), hash: flow,"
		echo "      stable: [\"10.0.2.2:$((20000 + i))\"], canary: [\"10.0.3.2:$((20000 + i))\"] }"
	done
} >"$TOPO_LOGDIR/services.yaml"
ctl apply -f "$TOPO_LOGDIR/services.yaml" >/dev/null
agent_start --sweep-interval 10
AGENT=$AGENT_PID
for i in $(seq 0 255); do
	printf 'service: s%d\nsteps: [1, 5, 25, 50, 100]\nhold: 1h\nmin_flows: 200\nno_traffic_pause: 1h\n' \
		"$i" >"$TOPO_LOGDIR/plan-$i.yaml"
	actl rollout start "s$i" --plan "$TOPO_LOGDIR/plan-$i.yaml" >/dev/null
done
# Some traffic on a few services, so that evidence moves and state is saved.
for i in 0 1 2 3; do
	bg_in_ns "$NS_CLI" "$BUILD/tools/canary-client" --target "10.0.0.$((i + 1)):$((1000 + i))" \
		--rate 50 --duration "$((SECS + 5))" >/dev/null 2>&1
done
sleep 3
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$AGENT/stat"; }
c0=$(cpu)
t0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu)
t1=$(date +%s.%N)
polls=$(spl curl -s http://127.0.0.1:9181/metrics | awk '$1 == "xdp_canary_agent_polls_total" { print $2 }')
dur=$(spl curl -s http://127.0.0.1:9181/metrics | awk '$1 == "xdp_canary_agent_poll_duration_seconds" { print $2 }')
echo
echo "canaryd with 256 services, each running a rollout, polling every 1 s ($SECS s window)"
echo
echo "| measure | value |"
echo "|---|---:|"
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
	'BEGIN { printf "| CPU time (user + system) | %.2f s |\n| wall time | %.1f s |\n| share of one core | %.2f%% |\n", (c1 - c0) / hz, t1 - t0, 100 * (c1 - c0) / hz / (t1 - t0) }'
echo "| polls so far | $polls |"
echo "| last poll took | $(awk -v d="$dur" 'BEGIN { printf "%.2f ms", d * 1000 }') |"
