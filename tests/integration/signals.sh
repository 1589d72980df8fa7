#!/usr/bin/env bash
# signals.sh: each fault injected on the canary only, through real TCP/UDP. The canary's
# matching counter rises in proportion to the injected fraction while the stable arm's
# stays at zero: HTTP 5xx, backend resets, added latency (TTFB p50), unanswered SYNs
# (an nftables drop in the canary's namespace) and ICMP port unreachable.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
need "attach" topo_attach --syn-timeout 2 >/dev/null
for p in 9001 9002 9003 9004; do
	topo_backend "$NS_ST" "stable-$p" --listen "10.0.2.2:$p"
done
topo_backend "$NS_ST" stable-udp --udp 10.0.2.2:5399
topo_backend "$NS_CA" canary-5xx --listen 10.0.3.2:9001 --error-rate 0.2
topo_backend "$NS_CA" canary-rst --listen 10.0.3.2:9002 --reset-rate 0.3
DELAY_MS=50 # added by the slow canary before each answer
topo_backend "$NS_CA" canary-slow --listen 10.0.3.2:9003 --delay "$DELAY_MS"
topo_backend "$NS_CA" canary-syn --listen 10.0.3.2:9004
for p in 9001 9002 9003 9004; do
	need "listeners on $p" topo_wait_port "$NS_ST" 10.0.2.2 $p
	need "listeners on $p" topo_wait_port "$NS_CA" 10.0.3.2 $p
done
# Unanswered SYNs: the canary's kernel never sees the SYNs for 9004.
in_ns "$NS_CA" nft -f - <<'NFT'
table inet canary_fault {
	chain input {
		type filter hook input priority 0;
		tcp dport 9004 tcp flags syn drop
	}
}
NFT

apply_services <<'YAML'
services:
  - { name: s5xx, vip: 10.0.0.21, port: 80, hash: flow, canary_weight: 50, http: true,
      stable: ["10.0.2.2:9001"], canary: ["10.0.3.2:9001"] }
  - { name: srst, vip: 10.0.0.22, port: 80, hash: flow, canary_weight: 50,
      stable: ["10.0.2.2:9002"], canary: ["10.0.3.2:9002"] }
  - { name: sslow, vip: 10.0.0.23, port: 80, hash: flow, canary_weight: 50,
      stable: ["10.0.2.2:9003"], canary: ["10.0.3.2:9003"] }
  - { name: ssyn, vip: 10.0.0.24, port: 80, hash: flow, canary_weight: 20,
      stable: ["10.0.2.2:9004"], canary: ["10.0.3.2:9004"] }
  - { name: sudp, vip: 10.0.0.25, port: 53, protocol: udp, hash: flow, canary_weight: 50,
      stable: ["10.0.2.2:5399"], canary: ["10.0.3.2:5399"] }
YAML

sig() { # SERVICE ARM JQ-PATH-IN-SIGNALS
	ctl status "$1" --json | jq -r ".services[0].arms.$2.signals.$3"
}

# --- HTTP 5xx on 20% of the canary's requests -------------------------------------------
r=$(client --target 10.0.0.21:80 --connections 1000 --concurrency 32 --requests-per-conn 2)
c5=$(sig s5xx canary 'http["5xx"]')
cr=$(sig s5xx canary 'http.responses')
ge "5xx: the canary answered a few hundred requests" "$cr" 600
near "5xx: canary 5xx share of responses (injected 20%)" "$(pct "$c5" "$cr")" 20 6
eq "5xx: client saw exactly the 5xx the data plane counted" "$(jq '.status["500"] // 0' <<<"$r")" "$c5"
eq "5xx: stable has none" "$(sig s5xx stable 'http["5xx"]')" 0
ge "5xx: stable responses were counted" "$(sig s5xx stable 'http.responses')" 600
near "5xx: canary errored flows (a flow errs if either request got 500: 1-0.8^2 = 36%)" \
	"$(pct "$(sig s5xx canary errored_flows)" "$(ctl status s5xx --json | jq '.services[0].arms.canary.flows')")" 36 8

# --- resets on 30% of the canary's connections -------------------------------------------
r=$(client --target 10.0.0.22:80 --connections 1000 --concurrency 32)
cflows=$(ctl status srst --json | jq '.services[0].arms.canary.flows')
crst=$(sig srst canary reset_flows)
near "resets: canary flows ended by a backend reset (injected 30%)" "$(pct "$crst" "$cflows")" 30 7
eq "resets: client saw the same number of resets" "$(jq '.errors.reset' <<<"$r")" "$crst"
eq "resets: stable has none" "$(sig srst stable reset_flows)" 0
eq "resets: stable reset segments none" "$(sig srst stable backend_resets)" 0

# --- DELAY_MS of added latency ------------------------------------------------------------
# No upper bounds: a busy machine may add any latency, to both arms. The p50 comes from
# log2 microsecond buckets, interpolated: a value in [2^i, 2^(i+1)) can read as low as
# 3/4 of itself, hence the margin on the difference.
client --target 10.0.0.23:80 --connections 600 --concurrency 100 >/dev/null
p50=$(sig sslow canary 'ttfb_ms.p50')
sp50=$(sig sslow stable 'ttfb_ms.p50')
ge "latency: canary TTFB p50 reflects the injected $DELAY_MS ms" "$p50" $((DELAY_MS * 9 / 10))
diff=nan
is_num "$p50" && is_num "$sp50" && diff=$(awk -v a="$p50" -v b="$sp50" 'BEGIN { printf "%.3f", a - b }')
ge "latency: canary p50 - stable p50 ($p50 - $sp50 ms) is the injected delay, less a margin" \
	"$diff" $((DELAY_MS - DELAY_MS / 4))
ge "latency: TTFB samples on the canary" "$(sig sslow canary 'ttfb_ms.count')" 200

# --- SYNs the canary never answers ------------------------------------------------------
r=$(client --target 10.0.0.24:80 --connections 300 --concurrency 100 --timeout 1600)
cflows=$(ctl status ssyn --json | jq '.services[0].arms.canary.flows')
failed=$(jq .failed <<<"$r")
eq "syn: every connection the canary got failed on the client" "$failed" "$cflows"
ge "syn: canary SYN retransmissions (at least one per attempt)" "$(sig ssyn canary syn_retransmits)" "$cflows"
eq "syn: stable SYN retransmissions" "$(sig ssyn stable syn_retransmits)" 0
eq "syn: canary errored flows = attempts" "$(sig ssyn canary errored_flows)" "$cflows"
sleep 2.5 # past the 2 s SYN timeout given to the loader
out=$(ctl sweep)
check "syn: the sweeper ran" grep -q "unanswered SYN" <<<"$out"
eq "syn: canary unanswered SYN flows after the sweep" "$(sig ssyn canary syn_unanswered)" "$cflows"
eq "syn: stable unanswered SYN flows" "$(sig ssyn stable syn_unanswered)" 0
eq "syn: errored flows not counted twice" "$(sig ssyn canary errored_flows)" "$cflows"

# --- ICMP: the canary has no UDP listener, its kernel answers "port unreachable" ----------
# (The kernel rate-limits ICMP errors per destination; lift that so each datagram gets one.)
ip netns exec "$NS_CA" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000
r=$(client --udp --target 10.0.0.25:53 --requests 400 --timeout 800)
# Datagrams, not flows: a fresh socket may get a port again and reuse a live flow.
cdgrams=$(ctl status sudp --json | jq '.services[0].arms.canary.fwd_packets')
ge "icmp: datagrams sent to the canary" "$cdgrams" 100
eq "icmp: one ICMP error per canary datagram" "$(sig sudp canary icmp_errors)" "$cdgrams"
eq "icmp: translated, the client saw 'connection refused' for each" \
	"$(jq '.errors.connect_refused // 0' <<<"$r")" "$cdgrams"
eq "icmp: stable has none" "$(sig sudp stable icmp_errors)" 0
