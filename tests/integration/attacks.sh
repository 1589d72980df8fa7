#!/usr/bin/env bash
# attacks.sh: what a hostile client does to the data plane, on real traffic.
# - 500 bare ACKs from one client address, each answered by a backend RST (the cheap
#   way to make an arm look sick, or, aimed at stable, to hide a sick canary): no arm's
#   exposure, errored-flow or reset rate moves, nor any evidence a rollout tests; they
#   show as mid-stream flows.
# - A spoofed SYN flood twice the flow table's size: 0 of 200 held connections break,
#   no SYN-ACK leaves with a backend's address, and once it stops new connections
#   succeed at once.
# - A reply forged on the client side (a datagram with a backend's source) is not
#   rewritten and sent back.
. "$(dirname "$0")/lib.sh"

FLOWS=4096
need "create topology" topo_create
need "attach with small tables" topo_attach --flows $FLOWS --pending $FLOWS >/dev/null
need "start backends" topo_backends
apply_services <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: client
    canary_weight: 10
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
  - name: dns
    vip: 10.0.0.10
    port: 53
    protocol: udp
    stable: ["10.0.2.2:5353"]
YAML
need "canaryd" agent_start --interval 0.5

# What reaches the client: packets with a backend's source (a leak), and replies from
# the VIP's DNS port (a forged reply turned around).
in_ns "$NS_CLI" nft -f - <<'NFT'
table inet watch {
	chain in {
		type filter hook prerouting priority -300;
		ip saddr { 10.0.2.0/24, 10.0.3.0/24 } counter comment "leak"
		ip saddr 10.0.0.10 udp sport 53 counter comment "forged"
	}
}
NFT
nft_count() {
	in_ns "$NS_CLI" nft -j list table inet watch |
		jq "[.nftables[].rule? | select(.comment == \"$1\") | .expr[] | .counter? | select(.) | .packets] | add // 0"
}

# Long-lived connections that must survive everything below.
client --target 10.0.0.10:80 --hold 30 --connections 200 --interval 100 --expect-2xx \
	>"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
HOLD=$!
sleep 2

cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: web
steps: [10, 100]
hold: 600s
analysis:
  signals: [resets, errored_flows, unanswered_syn]
YAML
need "a rollout watching the arms" actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml"
sleep 1.5
ev0=$(actl rollout status web --json | jq -c '[.evidence[] | [.canary.events, .stable.events, .canary.exposure, .stable.exposure]]')

# --- ACK/RST spray -------------------------------------------------------------------
# The arm's counters, as numbers (a missing field fails, it never compares equal).
armval() { jq -e ".services[0].arms.$2.$3 | numbers" <<<"$1" || echo "missing:$3"; }
s0=$(ctl status web --json)
out=$(cli "$BUILD/tools/spray" --src 10.1.0.7 --sport 30000 --dst 10.0.0.10 --dport 80 --flags A --count 500 --rate 2000)
eq "spray: 500 bare ACKs sent" "$out" "sent 500"
sleep 1.5
s1=$(ctl status web --json)
mid=0 miderr=0
for arm in stable canary; do
	for f in flows signals.errored_flows signals.reset_flows signals.backend_resets; do
		eq "spray: $arm $f unchanged" "$(armval "$s1" $arm $f)" "$(armval "$s0" $arm $f)"
	done
	mid=$((mid + $(armval "$s1" $arm signals.midstream_flows) - $(armval "$s0" $arm signals.midstream_flows)))
	miderr=$((miderr + $(armval "$s1" $arm signals.midstream_errors) - $(armval "$s0" $arm signals.midstream_errors)))
done
eq "spray: the 500 show as mid-stream flows" "$mid" 500
eq "spray: and their backend RSTs as mid-stream errors" "$miderr" 500
ev1=$(actl rollout status web --json | jq -c '[.evidence[] | [.canary.events, .stable.events, .canary.exposure, .stable.exposure]]')
eq "spray: no evidence the rollout tests moved (events and exposure per signal)" "$ev1" "$ev0"
check "spray: that evidence was read (3 signals)" test "$(jq length <<<"$ev0")" = 3
eq "spray: the rollout still runs" "$(phase_of web)" Progressing

# --- SYN flood ---------------------------------------------------------------------------
reason() { ctl status --json | jq -e ".reasons.$1 | numbers" || echo "missing:$1"; }
out=$(cli "$BUILD/tools/spray" --src 10.1.0.0/16 --sport 10000 --dst 10.0.0.10 --dport 80 --flags S --count $((2 * FLOWS)) --rate 20000)
eq "flood: $((2 * FLOWS)) spoofed SYNs sent (twice the flow table)" "$out" "sent $((2 * FLOWS))"
sleep 2
eq "flood: no SYN-ACK (or anything) reached the client from a backend's address" "$(nft_count leak)" 0
r=$(client --target 10.0.0.10:80 --connections 200 --concurrency 32)
eq "after the flood: 200 new connections, none failed" "$(jq .failed <<<"$r")" 0

wait $HOLD
j=$(cat "$TOPO_LOGDIR/hold.json")
eq "held connections: all 200 established" "$(jq .established <<<"$j")" 200
eq "held connections: 0 broken through the spray and the flood" "$(jq .broken <<<"$j")" 0
eq "held connections: none answered by another backend" "$(jq .switched <<<"$j")" 0

# --- a forged reply ----------------------------------------------------------------------
p0=$(reason pass_wrong_iface)
out=$(cli "$BUILD/tools/spray" --src 10.0.2.2 --sport 5353 --dst 10.1.0.50 --dport 7000 --proto udp --payload forged --count 10 --same-sport)
eq "forged reply: 10 datagrams with a backend's source sent from the client side" "$out" "sent 10"
sleep 0.5
p1=$(reason pass_wrong_iface)
eq "forged reply: none came back from the VIP" "$(nft_count forged)" 0
eq "forged reply: each counted as pass_wrong_iface" "$((p1 - p0))" 10
