#!/usr/bin/env bash
# srm_clients.sh: the sample-ratio mismatch guard in client mode, on real traffic. Two
# rollouts at once. web: one heavy client sends 30% of the new connections; the flow
# share moves, the share of distinct clients (client_hll) does not: a warning, no SRM,
# and the rollout completes. web2: the canary loses the clients of 10.1.0.0/22, 1024 of
# its 1500 (their handshakes never complete, so they are never counted): an SRM, and the
# rollout holds. canary-client takes its sources in turn, so the first seconds bring only
# lost ones.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
need "attach" topo_attach >/dev/null
topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080 --listen 10.0.2.2:8082
topo_backend "$NS_CA" canary-1 --listen 10.0.3.2:8080 --listen 10.0.3.2:8082
need "canary listener" topo_wait_port "$NS_CA" 10.0.3.2 8082
need "stable listener" topo_wait_port "$NS_ST" 10.0.2.2 8082
apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.32, port: 80, hash: client,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
  - { name: web2, vip: 10.0.0.33, port: 80, hash: client,
      stable: ["10.0.2.2:8082"], canary: ["10.0.3.2:8082"] }
YAML
# web2's canary cannot answer clients in 10.1.0.0/22 (1024 of its 1500): their SYN-ACKs
# are dropped in the canary's namespace, so the handshake never completes.
need "blackhole towards 10.1.0.0/22 from the canary" ip -n "$NS_CA" route add blackhole 10.1.0.0/22
# Client addresses 10.1.0.1 .. 10.1.20.80: web2's 1500 from 10.1.0.1, web's from 10.1.8.1
# and its heavy client 10.1.20.1.
topo_add_clients 5200
need "canaryd" agent_start
PLAN=$TOPO_LOGDIR/plan.yaml
cat >"$PLAN" <<'YAML'
service: web
steps: [20, 100]
hold: 45s
min_flows: 30
analysis:
  signals: [http_5xx]
YAML
sed 's/^service: web$/service: web2/' "$PLAN" >"$PLAN.2"

# web: 1500 clients at 70 connections/s, and one at 30/s. web2: 1500 clients at 100/s.
client --target 10.0.0.32:80 --rate 70 --duration 110 --timeout 1000 \
	--source-range 10.1.8.1/1500 >"$TOPO_LOGDIR/many.json" 2>&1 &
TOPO_PIDS+=($!)
client --target 10.0.0.32:80 --rate 30 --duration 110 --timeout 1000 \
	--source 10.1.20.1 >"$TOPO_LOGDIR/heavy.json" 2>&1 &
TOPO_PIDS+=($!)
client --target 10.0.0.33:80 --rate 100 --duration 110 --timeout 1000 \
	--source-range 10.1.0.1/1500 >"$TOPO_LOGDIR/lost.json" 2>&1 &
TOPO_PIDS+=($!)
actl rollout start web --plan "$PLAN" >/dev/null
actl rollout start web2 --plan "$PLAN.2" >/dev/null

# web2: the client test finds the lost clients.
wait_phase web2 60 Paused Succeeded RolledBack
j=$(actl rollout status web2 --json)
eq "web2: the rollout holds" "$(jq -r .phase <<<"$j")" Paused
eq "web2: paused for a sample-ratio mismatch" "$(jq -r .paused_for <<<"$j")" srm
eq "web2: found by the client test" "$(jq -r .srm.clients.mismatch <<<"$j")" true
eq "web2: no flow test in client mode" "$(jq -r .srm.flows_off <<<"$j")" client_mode
le "web2: the canary's share of clients is far below 20%" \
	"$(jq .srm.clients.observed_share <<<"$j")" 12
check "web2: status names the clients" grep -q "clients .*MISMATCH" <<<"$(actl rollout status web2)"

# web: at 20%, the flow share is off the client share (a warning), the client share is not.
sleep 5
j=$(actl rollout status web --json)
eq "web: still at the first step" "$(jq -r .phase <<<"$j")" Progressing
eq "web: the client test runs" "$(jq -r '.srm.clients != null' <<<"$j")" true
eq "web: no mismatch" "$(jq -r .srm.clients.mismatch <<<"$j")" false
near "web: the canary's share of clients is the weight" \
	"$(jq .srm.clients.observed_share <<<"$j")" 20 6
eq "web: the flow share far from it is a warning" "$(jq -r .srm.flow_client_warning <<<"$j")" true
check "web: status shows the warning" grep -q "WARNING flow share" <<<"$(actl rollout status web)"
m=$(spl curl -sf http://127.0.0.1:9181/metrics)
check "/metrics: the client test's expected share" \
	grep -q 'xdp_canary_srm_expected_share_ratio{service="web",unit="clients"} 0.2$' <<<"$m"
check "/metrics: web2's mismatch" grep -q 'xdp_canary_srm_mismatch{service="web2",unit="clients"} 1' <<<"$m"
check "/metrics: the warning" grep -q 'xdp_canary_srm_flow_client_warning{service="web"} 1' <<<"$m"
check "/metrics: the gap" grep -qE 'xdp_canary_srm_flow_client_gap\{service="web"\} -?[0-9]' <<<"$m"
out=$(promtool check metrics <<<"$m" 2>&1)
check "/metrics passes promtool check metrics${out:+: $out}" test -z "$out"

wait_phase web 100 Paused Succeeded RolledBack
eq "web: the heavy client raised no SRM; the rollout completed" "$(phase_of web)" Succeeded
eq "web2: still held" "$(phase_of web2)" Paused
h=$(actl history web2 --json)
eq "web2: the history records the hold" "$(jq -r '[.[] | select(.reason == "srm_hold")] | length > 0' <<<"$h")" true
