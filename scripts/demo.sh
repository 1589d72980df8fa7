#!/usr/bin/env bash
# demo.sh: `sudo make demo`. Builds nothing itself (make does); creates the namespace
# topology, starts real backends, attaches the splitter and walks through a canary
# release by hand: 90/10 split, a bigger step, a rollback. Everything is torn down at
# the end, also on Ctrl-C or failure.
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
run() {
	printf '$ %s\n' "$*"
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
topo_backends

say "Service: web at 10.0.0.10:80, client-hash split, canary at 10%"
cat >"$TOPO_LOGDIR/web.yaml" <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: client          # each client stays on one arm
    canary_weight: 10
    http: true
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML
cat "$TOPO_LOGDIR/web.yaml"
run spl "$BUILD/canaryctl" apply -f "$TOPO_LOGDIR/web.yaml" --pin-root "$PIN_ROOT"

traffic() {
	local r
	r=$(cli "$BUILD/canary-client" --target 10.0.0.10:80 --source-range 10.1.0.1/500 \
		--connections 3000 --concurrency 64 --requests-per-conn 2)
	jq -r '"client saw: \(.ok) connections ok, \(.failed) failed; answers by backend: \(.backends | to_entries | map("\(.key)=\(.value)") | join(" "))"' <<<"$r"
}

say "Real traffic: 3000 connections from 500 clients"
traffic
run spl "$BUILD/canaryctl" status web --pin-root "$PIN_ROOT"

say "The canary looks fine: move to 50%"
run spl "$BUILD/canaryctl" set-weight web 50 --pin-root "$PIN_ROOT"
traffic
spl "$BUILD/canaryctl" status web --pin-root "$PIN_ROOT" | head -4

say "Where would client 10.1.0.7 go, and why?"
run spl "$BUILD/canaryctl" explain web --src 10.1.0.7:40000 --pin-root "$PIN_ROOT"

say "Roll back: every new connection goes to stable again"
run spl "$BUILD/canaryctl" rollback web --pin-root "$PIN_ROOT"
before=$(spl "$BUILD/canaryctl" status web --json --pin-root "$PIN_ROOT" | jq '.services[0].arms.canary.flows')
traffic
after=$(spl "$BUILD/canaryctl" status web --json --pin-root "$PIN_ROOT" | jq '.services[0].arms.canary.flows')
echo "new canary flows after the rollback: $((after - before))"

say "Data-plane footprint"
run spl "$BUILD/canary-loader" status --pin-root "$PIN_ROOT"

say "Tearing down"
