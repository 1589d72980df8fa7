#!/usr/bin/env bash
# demo.sh: `sudo make demo`. On a namespace topology with real backends and real
# traffic: a 90/10 split by hand, then canaryd runs two rollouts. A healthy canary ramps
# to 100%; a second canary starts answering 500 to 10% of requests part-way through
# and is rolled back automatically. canaryd's decisions are printed as they happen.
# Everything is torn down at the end, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TOPO_LOGDIR=$(mktemp -d /tmp/xdp-canary-demo.XXXXXX)
. scripts/topology.sh

cleanup() {
	topo_destroy
	rm -rf "$TOPO_LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Print a command, then run it. ctl (the data plane's pins) and actl (canaryd), from
# topology.sh, are both canaryctl.
run() {
	case $1 in
	ctl | actl) printf '$ canaryctl %s\n' "${*:2}" ;;
	*) printf '$ %s\n' "$*" ;;
	esac
	"$@"
}
if [ "$(id -u)" -ne 0 ]; then
	echo "the demo creates network namespaces and attaches XDP: run it as root (sudo make demo)" >&2
	exit 1
fi

say "Topology: client -> splitter (XDP) -> stable (2 backends) / canary (1 backend)"
topo_create
topo_add_clients 500
echo "namespaces: $NS_CLI $NS_SPL $NS_ST $NS_CA; pins under $PIN_ROOT"
topo_attach
FAULTS=$TOPO_LOGDIR/canary.faults
: >"$FAULTS"
topo_backends --faults-file "$FAULTS"
CANARY_PID=$BG_PID

say "Service web at 10.0.0.10:80: client-hash split, canary at 10%"
cat >"$TOPO_LOGDIR/web.yaml" <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: client          # each client stays on one arm
    canary_weight: 10
    http: true            # count HTTP status classes of replies
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML
cat "$TOPO_LOGDIR/web.yaml"
run ctl apply -f "$TOPO_LOGDIR/web.yaml"
r=$(cli "$BUILD/tools/canary-client" --target 10.0.0.10:80 --source-range 10.1.0.1/500 \
	--connections 3000 --concurrency 64 --requests-per-conn 2)
jq -r '"3000 connections from 500 clients: \(.ok) ok, \(.failed) failed; answers: \(.backends | to_entries | map("\(.key)=\(.value)") | join(" "))"' <<<"$r"
run ctl status web
run ctl explain web --src 10.1.0.7:40000
run ctl rollback web

say "Start canaryd, the rollout agent, and a steady load (300 new connections/s)"
agent_start
# Print canaryd's decisions as they happen.
tail --pid=$$ -n +1 -f "$TOPO_LOGDIR/canaryd.log" > >(sed -u 's/^/    canaryd | /') &
TAIL=$!
TOPO_PIDS+=("$TAIL")
bg_in_ns "$NS_CLI" "$BUILD/tools/canary-client" --target 10.0.0.10:80 --source-range 10.1.0.1/500 \
	--rate 300 --duration 120 >/dev/null 2>&1
LOAD=$BG_PID

cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: web
steps: [5, 20, 50, 100]
hold: 5s
min_flows: 50
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, resets, unanswered_syn, errored_flows]
on_rollback: drain
YAML
say "Rollout 1: a healthy canary"
cat "$TOPO_LOGDIR/plan.yaml"
run actl plan --dry-run "$TOPO_LOGDIR/plan.yaml"
run actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml"
actl rollout status web --wait --timeout 90 >/dev/null || true
sleep 0.3
run actl rollout status web

say "Rollout 2: a canary that starts failing 10% of requests at its second step"
ctl set-weight web 0 >/dev/null
run actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml"
for i in $(seq 1 300); do
	[ "$(actl rollout status web --json | jq .step)" -ge 2 ] && break
	sleep 0.1
done
echo "    (the canary backend now answers 500 to 10% of requests)"
echo "error_rate=0.1" >"$FAULTS"
kill -HUP "$CANARY_PID"
actl rollout status web --wait --timeout 60 >/dev/null || true
sleep 0.3
run actl rollout status web
run actl history web
before=$(ctl status web --json | jq '.services[0].arms.canary.flows')
sleep 2
after=$(ctl status web --json | jq '.services[0].arms.canary.flows')
echo "new canary flows in the 2 s after the rollback: $((after - before))"

say "Prometheus metrics (a few of them)"
spl curl -s http://127.0.0.1:9181/metrics | grep -E '^xdp_canary_(rollout_phase\{.*\} 1|weight_changes_total\{.*\} [1-9]|evalue\{|canary_weight_ratio)' || true

say "Data-plane footprint"
run spl "$BUILD/canary-loader" status --pin-root "$PIN_ROOT"
kill "$LOAD" 2>/dev/null || true
kill "$TAIL" 2>/dev/null || true
say "Tearing down"
