# shellcheck shell=bash
# fleet-topology.sh: three splitter nodes behind an ECMP router, for the fleet tests.
# Source it, then call fleet_create; fleet_destroy removes everything (call it from a
# trap on EXIT). Names carry a random id, so two runs never collide.
#
#   client ns (eth0 10.0.1.2, fd00:1::2; client groups 10.1.0.0/16)
#        |
#   router ns (to-cli 10.0.1.1; to-s1/2/3 10.9.N.1, fd00:9:N::1)
#        |   VIPs 10.0.0.0/24 and fd00::/64: nexthop via 10.9.1.2, 10.9.2.2, 10.9.3.2
#        |   (fib_multipath_hash_policy=1: flows hash by their 5-tuple)
#   splitter ns s1, s2, s3 (to-rtr 10.9.N.2; to-st 10.0.2.1N; to-ca 10.0.3.1N;
#        |                  XDP on all three; pins under $FLEET_PIN_ROOT-sN)
#   lan ns: bridge br-st (every splitter's to-st, the stable backends),
#           bridge br-ca (every splitter's to-ca, the canary backends)
#        |
#   stable ns (eth0 10.0.2.2,.3; fd00:2::2,::3)   canary ns (eth0 10.0.3.2,.3; ...)
#
# The return path (FLEET_RETURN, or fleet_return MODE later; docs/FLEET.md):
#   ecmp  the backends' default route is a multipath route over the three splitters,
#         hashed by 5-tuple: a reply leaves through any node, usually not the one that
#         saw the flow's SYN (the default, and what the tests use);
#   one   the backends' default route points at splitter 1 alone.
# Neither keeps a flow's two directions on one node: the splitters must rewrite replies
# from the reply index alone.

FLEET_ID=${FLEET_ID:-$(printf '%04x%04x' $RANDOM $RANDOM)}
FLEET_NODES=${FLEET_NODES:-3}
FLEET_RETURN=${FLEET_RETURN:-ecmp}
NS_CLI=xfl-$FLEET_ID-cli
NS_RTR=xfl-$FLEET_ID-rtr
NS_LAN=xfl-$FLEET_ID-lan
NS_ST=xfl-$FLEET_ID-st
NS_CA=xfl-$FLEET_ID-ca
FLEET_PIN_ROOT=${FLEET_PIN_ROOT:-/sys/fs/bpf/xdp-canary-fl-$FLEET_ID}
export CANARY_SALT_FILE=${TOPO_LOGDIR:-/tmp}/salts-fl-$FLEET_ID.json
BUILD=${BUILD:-build}
TOPO_PIDS=()
FLEET_CREATED=0
# shellcheck disable=SC2034 # for the scripts that source this
VIP4=10.0.0.10 VIP6=fd00::10

ns_of_node() { echo "xfl-$FLEET_ID-s$1"; }
pin_of_node() { echo "$FLEET_PIN_ROOT-s$1"; }

NETNS_ID=$FLEET_ID
# shellcheck source=scripts/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
rtr() { in_ns "$NS_RTR" "$@"; }
# A command in node N's namespace: node N CMD...
node() {
	local n=$1
	shift
	in_ns "$(ns_of_node "$n")" "$@"
}
# canaryctl against node N's pins: nctl N COMMAND ARGS...
nctl() {
	local n=$1 cmd=$2
	shift 2
	node "$n" "$BUILD/canaryctl" "$cmd" --pin-root "$(pin_of_node "$n")" "$@"
}

fleet_sysctls() {
	local ns=$1
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
	ip netns exec "$ns" sysctl -qw net.ipv4.fib_multipath_hash_policy=1
	ip netns exec "$ns" sysctl -qw net.ipv6.fib_multipath_hash_policy=1
}

# The router's multipath routes to the VIPs over the given nodes: fleet_route N...
fleet_route() {
	local n hops4=() hops6=()
	for n in "$@"; do
		hops4+=(nexthop via "10.9.$n.2" dev "to-s$n")
		hops6+=(nexthop via "fd00:9:$n::2" dev "to-s$n")
	done
	ip -n "$NS_RTR" route replace 10.0.0.0/24 "${hops4[@]}" &&
		ip -n "$NS_RTR" -6 route replace fd00::/64 "${hops6[@]}"
}

# The backends' default routes: fleet_return ecmp|one [NODE...] (ecmp over the given
# nodes, all by default; one: through the first given node, 1 by default).
fleet_return() {
	local mode=$1 n ns net hops4 hops6
	shift
	local nodes=("$@")
	[ ${#nodes[@]} -gt 0 ] || mapfile -t nodes < <(seq 1 "$FLEET_NODES")
	[ "$mode" = ecmp ] || nodes=("${nodes[0]}")
	for ns in "$NS_ST" "$NS_CA"; do
		[ "$ns" = "$NS_ST" ] && net=2 || net=3
		hops4=() hops6=()
		for n in "${nodes[@]}"; do
			hops4+=(nexthop via "10.0.$net.1$n" dev eth0)
			hops6+=(nexthop via "fd00:$net::1$n" dev eth0)
		done
		ip -n "$ns" route replace default "${hops4[@]}" || return 1
		ip -n "$ns" -6 route replace default "${hops6[@]}" || return 1
	done
}

fleet_node_create() {
	local n=$1 ns d
	ns=$(ns_of_node "$n")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip link add name to-rtr netns "$ns" type veth peer name "to-s$n" netns "$NS_RTR" || return 1
	ip link add name to-st netns "$ns" type veth peer name "st-s$n" netns "$NS_LAN" || return 1
	ip link add name to-ca netns "$ns" type veth peer name "ca-s$n" netns "$NS_LAN" || return 1
	ip -n "$ns" addr add "10.9.$n.2/24" dev to-rtr
	ip -n "$ns" -6 addr add "fd00:9:$n::2/64" dev to-rtr nodad
	ip -n "$ns" addr add "10.0.2.1$n/24" dev to-st
	ip -n "$ns" -6 addr add "fd00:2::1$n/64" dev to-st nodad
	ip -n "$ns" addr add "10.0.3.1$n/24" dev to-ca
	ip -n "$ns" -6 addr add "fd00:3::1$n/64" dev to-ca nodad
	for d in to-rtr to-st to-ca; do ip -n "$ns" link set "$d" up; done
	ip -n "$ns" route add default via "10.9.$n.1"
	ip -n "$ns" -6 route add default via "fd00:9:$n::1"
	fleet_sysctls "$ns"
	ip -n "$NS_RTR" addr add "10.9.$n.1/24" dev "to-s$n"
	ip -n "$NS_RTR" -6 addr add "fd00:9:$n::1/64" dev "to-s$n" nodad
	ip -n "$NS_RTR" link set "to-s$n" up
	nic_like "$NS_RTR" "to-s$n"
	for d in "st-s$n" "ca-s$n"; do
		ip -n "$NS_LAN" link set "$d" master "br-${d%%-*}" up
		nic_like "$NS_LAN" "$d"
	done
}

fleet_backends_net() {
	local ns
	ip link add name eth0 netns "$NS_ST" type veth peer name st-be netns "$NS_LAN" || return 1
	ip link add name eth0 netns "$NS_CA" type veth peer name ca-be netns "$NS_LAN" || return 1
	ip -n "$NS_LAN" link set st-be master br-st up
	ip -n "$NS_LAN" link set ca-be master br-ca up
	ip -n "$NS_ST" addr add 10.0.2.2/24 dev eth0
	ip -n "$NS_ST" addr add 10.0.2.3/24 dev eth0
	ip -n "$NS_ST" -6 addr add fd00:2::2/64 dev eth0 nodad
	ip -n "$NS_ST" -6 addr add fd00:2::3/64 dev eth0 nodad
	ip -n "$NS_CA" addr add 10.0.3.2/24 dev eth0
	ip -n "$NS_CA" addr add 10.0.3.3/24 dev eth0
	ip -n "$NS_CA" -6 addr add fd00:3::2/64 dev eth0 nodad
	ip -n "$NS_CA" -6 addr add fd00:3::3/64 dev eth0 nodad
	for ns in "$NS_ST" "$NS_CA"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
		ip netns exec "$ns" sysctl -qw net.ipv4.fib_multipath_hash_policy=1
		ip netns exec "$ns" sysctl -qw net.ipv6.fib_multipath_hash_policy=1
	done
}

# Resolve every neighbour the fast path will need before the first flow (the kernel
# queues only a few packets per unresolved neighbour; see topology.sh).
fleet_warm() {
	local n a ns net
	for n in $(seq 1 "$FLEET_NODES"); do
		rtr ping -c1 -W1 "10.9.$n.2" >/dev/null 2>&1 || true
		rtr ping -6 -c1 -W1 "fd00:9:$n::2" >/dev/null 2>&1 || true
		for ns in "$NS_ST" "$NS_CA"; do
			[ "$ns" = "$NS_ST" ] && net=2 || net=3
			for a in 2 3; do
				in_ns "$ns" ping -c1 -W1 -I "10.0.$net.$a" "10.0.$net.1$n" >/dev/null 2>&1 || true
				in_ns "$ns" ping -6 -c1 -W1 -I "fd00:$net::$a" "fd00:$net::1$n" >/dev/null 2>&1 || true
			done
		done
	done
	cli ping -c1 -W1 10.0.1.1 >/dev/null 2>&1 || true
	cli ping -6 -c1 -W1 fd00:1::1 >/dev/null 2>&1 || true
}

fleet_create() {
	local ns n
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	FLEET_CREATED=1
	for ns in "$NS_CLI" "$NS_RTR" "$NS_LAN" "$NS_ST" "$NS_CA"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_LAN" link add br-st type bridge
	ip -n "$NS_LAN" link add br-ca type bridge
	ip -n "$NS_LAN" link set br-st up
	ip -n "$NS_LAN" link set br-ca up
	# client <-> router
	ip link add name eth0 netns "$NS_CLI" type veth peer name to-cli netns "$NS_RTR" || return 1
	ip -n "$NS_CLI" addr add 10.0.1.2/24 dev eth0
	ip -n "$NS_CLI" -6 addr add fd00:1::2/64 dev eth0 nodad
	ip -n "$NS_CLI" link set eth0 up
	ip -n "$NS_CLI" route add default via 10.0.1.1
	ip -n "$NS_CLI" -6 route add default via fd00:1::1
	ip -n "$NS_RTR" addr add 10.0.1.1/24 dev to-cli
	ip -n "$NS_RTR" -6 addr add fd00:1::1/64 dev to-cli nodad
	ip -n "$NS_RTR" link set to-cli up
	ip -n "$NS_RTR" route add 10.1.0.0/16 via 10.0.1.2
	fleet_sysctls "$NS_RTR"
	for n in $(seq 1 "$FLEET_NODES"); do
		fleet_node_create "$n" || return 1
	done
	fleet_backends_net || return 1
	fleet_route $(seq 1 "$FLEET_NODES") || return 1
	fleet_return "$FLEET_RETURN" || return 1
	for ns in "$NS_CLI" "$NS_ST" "$NS_CA"; do
		nic_like "$ns" eth0
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
		ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_syn_backlog=4096
	done
	nic_like "$NS_RTR" to-cli
	fleet_warm
	return 0
}

# Attach XDP to every interface of node N, with its own pin root (extra arguments go
# to canary-loader attach).
fleet_attach() {
	local n=$1
	shift
	node "$n" "$BUILD/canary-loader" attach --dev to-rtr --dev to-st --dev to-ca \
		--pin-root "$(pin_of_node "$n")" "$@"
}

# Apply one services file to every node, as the fleet's nodes do from the store:
# fleet_apply FILE [ARGS...]
fleet_apply() {
	local f=$1 n
	shift
	for n in $(seq 1 "$FLEET_NODES"); do
		nctl "$n" apply -f "$f" "$@" || return 1
	done
}

# Two stable instances and one canary, TCP 8080 (IPv4 and IPv6).
fleet_backends() {
	topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080 --listen '[fd00:2::2]:8080'
	topo_backend "$NS_ST" stable-2 --listen 10.0.2.3:8080 --listen '[fd00:2::3]:8080'
	topo_backend "$NS_CA" canary-1 --listen 10.0.3.2:8080 --listen '[fd00:3::2]:8080' "$@"
	topo_wait_port "$NS_ST" 10.0.2.2 8080 && topo_wait_port "$NS_ST" 10.0.2.3 8080 &&
		topo_wait_port "$NS_CA" 10.0.3.2 8080
}

fleet_destroy() {
	# Runs from EXIT traps, also under `set -e`: no step may abort the rest.
	local p n
	netns_stop_pids
	[ "$FLEET_CREATED" = 1 ] || return 0
	# shellcheck disable=SC2046 # one namespace name per word
	netns_delete "$NS_CLI" "$NS_RTR" "$NS_LAN" "$NS_ST" "$NS_CA" \
		$(for n in $(seq 1 "$FLEET_NODES"); do ns_of_node "$n"; done)
	for n in $(seq 1 "$FLEET_NODES"); do
		p=$(pin_of_node "$n")
		[ ! -d "$p" ] || rm -rf "$p" || true
	done
	rm -f "$CANARY_SALT_FILE" || true
	FLEET_CREATED=0
	return 0
}
