#!/usr/bin/env bash
# fleet_ecmp.sh: three splitter nodes behind an ECMP router (scripts/fleet-topology.sh),
# each given the same services file (the same explicit salt) with `canaryctl apply`, as
# the fleet's nodes do from the store. The return path is asymmetric (docs/FLEET.md):
# the backends' default route is itself a multipath route over the three nodes, so a
# reply usually leaves through a node that never saw its flow's SYN.
# Shows: every node gives a client the same arm and backend (explain on each node's
# pins, and real connections); a 10% split over the fleet within split.sh's tolerance
# with 0 failed connections, also with the return path through one node; held
# connections idle past the SYN timeout are no unanswered SYNs; a node taken out of the
# ECMP route mid-load breaks no established connection.
. "$(dirname "$0")/lib.sh"
. scripts/fleet-topology.sh
# lib.sh's EXIT trap calls topo_destroy: here that is the fleet's.
# shellcheck disable=SC2317 # called from the trap
topo_destroy() { fleet_destroy; }

SYN_TIMEOUT=3
need "create the fleet topology" fleet_create
for n in 1 2 3; do
	# A short SYN timeout, so that an idle connection outlives it within the test; a
	# long closing one, so that a closed connection's entry is still there when the
	# test looks for it on every node (one explain per connection and node can take
	# longer than the default on a busy machine).
	need "attach node $n" fleet_attach "$n" --syn-timeout "$SYN_TIMEOUT" --tcp-closing 300 >/dev/null
done
need "start backends" fleet_backends
topo_backend "$NS_ST" stable-1b --listen 10.0.2.2:8081
topo_backend "$NS_ST" stable-2b --listen 10.0.2.3:8081
topo_backend "$NS_CA" canary-1b --listen 10.0.3.2:8081
need "8081 listeners" topo_wait_port "$NS_CA" 10.0.3.2 8081

CFG=$TOPO_LOGDIR/services.yaml
cat >"$CFG" <<'YAML'
services:
  - name: web                   # client hash: one client, one arm, on every node
    vip: 10.0.0.10
    port: 80
    hash: client
    canary_weight: 10
    salt: 1311768467
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
  - name: web-flow              # flow hash: each connection on its own
    vip: 10.0.0.11
    port: 80
    hash: flow
    canary_weight: 10
    salt: 1311768467
    stable: ["10.0.2.2:8081", "10.0.2.3:8081"]
    canary: ["10.0.3.2:8081"]
  - name: web6
    vip: "fd00::10"
    port: 80
    hash: flow
    canary_weight: 10
    salt: 1311768467
    stable: ["[fd00:2::2]:8080", "[fd00:2::3]:8080"]
    canary: ["[fd00:3::2]:8080"]
  - name: dns                   # nothing listens: every datagram gets a port unreachable
    vip: 10.0.0.10
    port: 53
    protocol: udp
    hash: flow
    canary_weight: 10
    salt: 1311768467
    stable: ["10.0.2.2:5399", "10.0.2.3:5399"]
    canary: ["10.0.3.2:5399"]
YAML
need "apply to every node" fleet_apply "$CFG" >/dev/null

# A field of one arm summed over the nodes' status: fleet_sum SERVICE ARM FIELD (a jq path
# under the arm, e.g. flows or signals.syn_unanswered).
fleet_sum() {
	local n s=0 v
	for n in 1 2 3; do
		v=$(nctl "$n" status "$1" --json | jq ".services[0].arms.$2.$3")
		s=$((s + v))
	done
	echo "$s"
}
# A reason counter summed over the given nodes: reason_sum FIELD NODE...
reason_sum() {
	local f=$1 n s=0 v
	shift
	for n in "$@"; do
		v=$(nctl "$n" status --json | jq ".reasons.$f")
		s=$((s + v))
	done
	echo "$s"
}
be_name() {
	case $1 in
	10.0.2.2:*) echo stable-1 ;; 10.0.2.3:*) echo stable-2 ;; 10.0.3.2:*) echo canary-1 ;;
	*) echo "?" ;;
	esac
}

# --- the same decision on every node ---------------------------------------------------
bad=0
for i in $(seq 1 40); do
	src="10.1.$((i / 256)).$((i % 256)):$((20000 + i * 37))"
	e1=$(nctl 1 explain web-flow --src "$src" --json | jq -c '{arm, backend, bucket}')
	for n in 2 3; do
		en=$(nctl "$n" explain web-flow --src "$src" --json | jq -c '{arm, backend, bucket}')
		[ "$en" = "$e1" ] || bad=$((bad + 1))
	done
done
eq "explain gives 40 flows the same arm and backend on all three nodes" "$bad" 0

topo_add_clients 300
r=$(client --target 10.0.0.10:80 --source-range 10.1.0.1/300 --connections 1500 \
	--concurrency 64 --by-source)
eq "web: 1500 connections from 300 clients through the fleet, none failed" \
	"$(jq .failed <<<"$r")" 0
mixed=$(jq '[.by_source[] | keys | length | select(. > 1)] | length' <<<"$r")
eq "web: clients whose connections (spread over the nodes) reached more than one backend" \
	"$mixed" 0
bad=0
n=0
for src in $(jq -r '.by_source | keys[]' <<<"$r" | head -30); do
	want=$(jq -r --arg s "$src" '.by_source[$s] | keys[0]' <<<"$r")
	for k in 1 2 3; do
		got=$(be_name "$(nctl "$k" explain web --src "$src:40000" --json | jq -r .backend)")
		[ "$got" = "$want" ] || bad=$((bad + 1))
		n=$((n + 1))
	done
done
eq "explain on each node was checked against 30 clients' real backends" "$n" 90
eq "each node's explain names the backend that answered the client" "$bad" 0

# --- a 10% split over the fleet, replies returning through any node --------------------
r0=$(reason_sum reply_no_flow 1 2 3)
f0=$(fleet_sum web-flow stable flows)
c0=$(fleet_sum web-flow canary flows)
r=$(client --target 10.0.0.11:80 --connections 3000 --concurrency 64)
eq "web-flow: 3000 connections over the asymmetric return path, none failed" \
	"$(jq .failed <<<"$r")" 0
c=$(canary_share "$r")
near "web-flow: fleet canary share of connections at weight 10%" "$(pct "$c" 3000)" 10 2
f1=$(fleet_sum web-flow stable flows)
c1=$(fleet_sum web-flow canary flows)
eq "web-flow: the nodes' flows add up to one per connection (each counted once)" \
	"$((f1 - f0 + c1 - c0))" 3000
eq "web-flow: the nodes' canary flows equal the connections the canary answered" \
	"$((c1 - c0))" "$c"
for n in 1 2 3; do
	v=$(nctl "$n" status web-flow --json | jq '[.services[0].arms[].flows] | add')
	ge "web-flow: node $n placed some of the flows (ECMP spreads them)" "$v" 300
done
ge "replies rewritten by a node that never saw their flow" \
	"$(($(reason_sum reply_no_flow 1 2 3) - r0))" 3000

r=$(client --target '[fd00::10]:80' --connections 3000 --concurrency 64)
eq "web6: 3000 IPv6 connections, none failed" "$(jq .failed <<<"$r")" 0
near "web6: fleet canary share at weight 10%" "$(pct "$(canary_share "$r")" 3000)" 10 2

# The issue's reproduction: every reply through node 1.
need "return path through node 1" fleet_return one
r=$(client --target 10.0.0.11:80 --connections 1000 --concurrency 64)
eq "web-flow: 1000 connections, every reply through node 1, none failed" \
	"$(jq .failed <<<"$r")" 0
r=$(client --target '[fd00::10]:80' --connections 1000 --concurrency 64)
eq "web6: 1000 connections, every reply through node 1, none failed" "$(jq .failed <<<"$r")" 0
need "return path over all nodes" fleet_return ecmp

# --- ICMP errors come back through any node too --------------------------------------
# The backends' kernels answer each datagram with a port unreachable (not rate-limited
# here); the node it returns through translates it whether or not it saw the datagram.
for ns in "$NS_ST" "$NS_CA"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratemask=0
done
m0=$(reason_sum icmp_unmatched 1 2 3)
r=$(client --udp --target 10.0.0.10:53 --requests 300 --concurrency 16 --timeout 1000)
eq "dns: 300 datagrams, each refused by an ICMP error the client could match" \
	"$(jq -c '[.errors.connect_refused, .errors.timeout]' <<<"$r")" "[300,0]"
eq "dns: no ICMP error left unmatched on any node" "$(($(reason_sum icmp_unmatched 1 2 3) - m0))" 0

# --- idle connections outlive the SYN timeout: no unanswered SYNs ------------------------
u0=$(($(fleet_sum web-flow stable signals.syn_unanswered) + $(fleet_sum web-flow canary signals.syn_unanswered)))
e0=$(($(fleet_sum web-flow stable signals.errored_flows) + $(fleet_sum web-flow canary signals.errored_flows)))
# One request at the start and the next 8 s later: the sweeps run in between, when every
# connection has been idle for longer than the SYN timeout.
client --target 10.0.0.11:80 --hold 12 --connections 60 --interval 8000 \
	>"$TOPO_LOGDIR/idle.json" 2>"$TOPO_LOGDIR/idle.err" &
idle_pid=$!
TOPO_PIDS+=("$idle_pid")
sleep $((SYN_TIMEOUT + 2))
for n in 1 2 3; do nctl "$n" sweep >/dev/null; done
wait "$idle_pid"
j=$(cat "$TOPO_LOGDIR/idle.json")
eq "idle held connections: 60 established, none broken" \
	"$(jq -c '[.established, .broken, .failed]' <<<"$j")" "[60,0,0]"
u1=$(($(fleet_sum web-flow stable signals.syn_unanswered) + $(fleet_sum web-flow canary signals.syn_unanswered)))
e1=$(($(fleet_sum web-flow stable signals.errored_flows) + $(fleet_sum web-flow canary signals.errored_flows)))
eq "idle connections whose SYN-ACK took another node are no unanswered SYNs" "$((u1 - u0))" 0
eq "nor errored flows" "$((e1 - e0))" 0
# Each connection's entry is on one node only (the one that saw its SYN), and explain
# there says when its SYN-ACK came back through another node.
one=0 elsewhere=0
for l in $(jq -r '.per_connection[].local' <<<"$j"); do
	have=0
	for n in 1 2 3; do
		e=$(nctl "$n" explain web-flow --src "$l" --json | jq -c '.existing_flow // empty')
		[ -n "$e" ] || continue
		have=$((have + 1))
		[ "$(jq .replies_elsewhere <<<"$e")" = true ] && elsewhere=$((elsewhere + 1))
	done
	[ "$have" = 1 ] && one=$((one + 1))
done
eq "each idle connection has an entry on exactly one node" "$one" 60
ge "explain: the SYN-ACK of some of them came back through another node" "$elsewhere" 20
le "explain: but not of all (a third stay symmetric)" "$elsewhere" 59

# --- a node leaves the ECMP route mid-load --------------------------------------------
client --target 10.0.0.11:80 --hold 14 --connections 150 --interval 100 --expect-2xx \
	>"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
hold_pid=$!
TOPO_PIDS+=("$hold_pid")
load_start 10.0.0.11:80 100 12 newconns
sleep 4
m0=$(reason_sum flow_midstream 1 3)
# Out of the router's route and the backends' return route: node 2 carries nothing now.
need "node 2 out of the ECMP routes" fleet_route 1 3
need "node 2 out of the return route" fleet_return ecmp 1 3
wait "$hold_pid"
wait "$LOAD_PID"
j=$(cat "$TOPO_LOGDIR/hold.json")
eq "held connections across the change: established, broken, switched, failed" \
	"$(jq -c '[.established, .broken, .switched, .failed]' <<<"$j")" "[150,0,0,0]"
ge "held connections kept sending after the change" "$(jq .requests <<<"$j")" $((150 * 80))
ge "node 2's connections were picked up mid-stream by nodes 1 and 3" \
	"$(($(reason_sum flow_midstream 1 3) - m0))" 1
j=$(cat "$TOPO_LOGDIR/newconns.json")
eq "new connections during the change: none failed" "$(jq .failed <<<"$j")" 0

for ns in "$NS_CLI" "$NS_ST" "$NS_CA"; do
	eq "no TCP/UDP checksum errors received in ${ns##*-}" "$(csum_errors "$ns")" 0
done
exit 0
