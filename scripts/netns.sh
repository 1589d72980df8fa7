# shellcheck shell=bash
# netns.sh: what the namespace topologies share (scripts/topology.sh for one splitter,
# scripts/fleet-topology.sh for three behind a router): running commands in a
# namespace, backends and their ports, client addresses, and the clean-up. Sourced by
# them; NETNS_ID (the topology's random id) names the backends' logs, NS_CLI is the
# client namespace and TOPO_PIDS the background processes to stop.

# Run a command in a namespace without remounting /sys, so the pins stay visible.
in_ns() {
	local ns=$1
	shift
	nsenter --net=/run/netns/"$ns" "$@"
}
cli() { in_ns "$NS_CLI" "$@"; }

# Start a command in a namespace in the background. nsenter execs the command, so
# BG_PID is the command's own pid (a backgrounded shell function would give the pid
# of a subshell instead, and killing that would leave the command running).
# Redirect the call itself: bg_in_ns NS CMD... >log 2>&1
bg_in_ns() {
	local ns=$1
	shift
	nsenter --net=/run/netns/"$ns" "$@" &
	BG_PID=$!
	TOPO_PIDS+=("$BG_PID")
}

# A veth end that behaves like a real NIC: no checksum offload (the kernel computes
# and verifies every checksum in software), no TSO/GSO super-packets, and checksums
# verified by the kernel on receive (so a bad rewrite shows up in the Csum error
# counters). GRO on lets XDP_REDIRECT deliver to it.
nic_like() {
	local ns=$1 dev=$2
	in_ns "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro on >/dev/null 2>&1 ||
		in_ns "$ns" ethtool -K "$dev" tx off gro on >/dev/null
}

# Add N consecutive client addresses from 10.1.0.1 (one "client" each) to the client
# namespace, matching canary-client --source-range 10.1.0.1/N.
topo_add_clients() {
	local n=$1 i
	for ((i = 1; i <= n; i++)); do
		echo "addr add 10.1.$((i / 256)).$((i % 256))/32 dev eth0"
	done | ip -n "$NS_CLI" -b -
}

# Start a backend in a namespace; its pid goes to TOPO_PIDS for the clean-up.
#   topo_backend NS NAME ARGS...
topo_backend() {
	local ns=$1 name=$2
	shift 2
	bg_in_ns "$ns" "$BUILD/tools/canary-backend" --name "$name" --quiet "$@" \
		>"${TOPO_LOGDIR:-/tmp}/backend-$NETNS_ID-$name.log" 2>&1
}

# Wait (5 s at most) until something listens on addr:port in ns.
topo_wait_port() {
	local ns=$1 addr=$2 port=$3 i
	for ((i = 0; i < 100; i++)); do
		in_ns "$ns" ss -Hltn "src $addr:$port" 2>/dev/null | grep -q LISTEN && return 0
		sleep 0.05
	done
	echo "backend on $addr:$port in $ns did not come up" >&2
	return 1
}

# The clean-up, from EXIT traps, also under `set -e`: no step may abort the rest.
# Stop the background processes, then delete the namespaces (which removes their veths
# and with them the XDP attachments).
netns_stop_pids() {
	local p
	for p in "${TOPO_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${TOPO_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	TOPO_PIDS=()
}

netns_delete() {
	local ns
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
}
