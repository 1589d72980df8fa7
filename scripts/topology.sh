# topology.sh: the namespace topology shared by the demo and the integration tests.
# Source it, then call topo_create; topo_destroy removes everything (call it from a
# trap on EXIT). Names carry a random id, so two runs never collide.
#
#   client ns (eth0 10.0.1.2, fd00:1::2; client groups 10.1.0.0/16)
#        |  veth
#   splitter ns (to-cli 10.0.1.1, to-st 10.0.2.1, to-ca 10.0.3.1; XDP on all three)
#        |                          |
#   stable ns (eth0 10.0.2.2,.3)    canary ns (eth0 10.0.3.2,.3)
#
# The VIPs (10.0.0.10, fd00::10) belong to no namespace: the client routes them to
# the splitter, whose XDP program rewrites them to a backend.

TOPO_ID=${TOPO_ID:-$(printf '%04x%04x' $RANDOM $RANDOM)}
NS_CLI=xcan-$TOPO_ID-cli
NS_SPL=xcan-$TOPO_ID-spl
NS_ST=xcan-$TOPO_ID-st
NS_CA=xcan-$TOPO_ID-ca
PIN_ROOT=${PIN_ROOT:-/sys/fs/bpf/xdp-canary-$TOPO_ID}
# canaryd's Unix socket (the door for changes) in a root-owned 0755 directory of its own,
# so a test user can reach the socket file and meet its own permissions.
AGENT_SOCK_DIR=/run/xcan-$TOPO_ID
AGENT_SOCK=$AGENT_SOCK_DIR/canaryd.sock
# The services' secret salts, kept where the test's other state is.
export CANARY_SALT_FILE=${TOPO_LOGDIR:-/tmp}/salts-$TOPO_ID.json
BUILD=${BUILD:-build}
TOPO_PIDS=()
TOPO_CREATED=0

VIP4=10.0.0.10
VIP6=fd00::10

NETNS_ID=$TOPO_ID
# shellcheck source=scripts/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
spl() { in_ns "$NS_SPL" "$@"; }

# canaryctl against this topology's pins: ctl COMMAND ARGS...
ctl() {
	local cmd=$1
	shift
	spl "$BUILD/canaryctl" "$cmd" --pin-root "$PIN_ROOT" "$@"
}

# canaryctl for commands that talk to canaryd: through its Unix socket, which is where
# changes must go (reads could also use its TCP listener on loopback in the splitter's
# namespace).
actl() { CANARY_SOCKET=$AGENT_SOCK spl "$BUILD/canaryctl" "$@"; }

# Start canaryd in the splitter's namespace (extra arguments go to canaryd) and wait
# until it answers /healthz; AGENT_PID is its pid. Its stderr goes to
# $TOPO_LOGDIR/canaryd.log. Fails, printing that log, when it does not come up.
agent_start() {
	local i
	bg_in_ns "$NS_SPL" "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state" \
		--socket "$AGENT_SOCK" "$@" 2>>"$TOPO_LOGDIR/canaryd.log"
	AGENT_PID=$BG_PID
	for ((i = 0; i < 50; i++)); do
		# Up, and it is this one (not an older one still holding the socket).
		if kill -0 "$AGENT_PID" 2>/dev/null &&
			spl curl -sf -o /dev/null --unix-socket "$AGENT_SOCK" http://localhost/healthz; then
			return 0
		fi
		sleep 0.1
	done
	echo "canaryd did not come up; its log:" >&2
	cat "$TOPO_LOGDIR/canaryd.log" >&2
	return 1
}


topo_create() {
	local ns
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	# Set first: should the second `ip netns add` fail, topo_destroy still removes the
	# first (it skips the namespaces that do not exist).
	TOPO_CREATED=1
	for ns in "$NS_CLI" "$NS_SPL" "$NS_ST" "$NS_CA"; do
		ip netns add "$ns" || return 1
	done
	ip link add name eth0 netns "$NS_CLI" type veth peer name to-cli netns "$NS_SPL" || return 1
	ip link add name eth0 netns "$NS_ST" type veth peer name to-st netns "$NS_SPL" || return 1
	ip link add name eth0 netns "$NS_CA" type veth peer name to-ca netns "$NS_SPL" || return 1

	for ns in "$NS_CLI" "$NS_SPL" "$NS_ST" "$NS_CA"; do
		ip -n "$ns" link set lo up
	done
	# client
	ip -n "$NS_CLI" addr add 10.0.1.2/24 dev eth0
	ip -n "$NS_CLI" -6 addr add fd00:1::2/64 dev eth0 nodad
	ip -n "$NS_CLI" link set eth0 up
	ip -n "$NS_CLI" route add default via 10.0.1.1
	ip -n "$NS_CLI" -6 route add default via fd00:1::1
	# splitter
	ip -n "$NS_SPL" addr add 10.0.1.1/24 dev to-cli
	ip -n "$NS_SPL" addr add 10.0.2.1/24 dev to-st
	ip -n "$NS_SPL" addr add 10.0.3.1/24 dev to-ca
	ip -n "$NS_SPL" -6 addr add fd00:1::1/64 dev to-cli nodad
	ip -n "$NS_SPL" -6 addr add fd00:2::1/64 dev to-st nodad
	ip -n "$NS_SPL" -6 addr add fd00:3::1/64 dev to-ca nodad
	for d in to-cli to-st to-ca; do ip -n "$NS_SPL" link set "$d" up; done
	ip -n "$NS_SPL" route add 10.1.0.0/16 via 10.0.1.2
	ip netns exec "$NS_SPL" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$NS_SPL" sysctl -qw net.ipv6.conf.all.forwarding=1
	# backends
	ip -n "$NS_ST" addr add 10.0.2.2/24 dev eth0
	ip -n "$NS_ST" addr add 10.0.2.3/24 dev eth0
	ip -n "$NS_ST" -6 addr add fd00:2::2/64 dev eth0 nodad
	ip -n "$NS_ST" -6 addr add fd00:2::3/64 dev eth0 nodad
	ip -n "$NS_CA" addr add 10.0.3.2/24 dev eth0
	ip -n "$NS_CA" addr add 10.0.3.3/24 dev eth0
	ip -n "$NS_CA" -6 addr add fd00:3::2/64 dev eth0 nodad
	ip -n "$NS_CA" -6 addr add fd00:3::3/64 dev eth0 nodad
	for ns in "$NS_ST" "$NS_CA"; do
		ip -n "$ns" link set eth0 up
	done
	ip -n "$NS_ST" route add default via 10.0.2.1
	ip -n "$NS_ST" -6 route add default via fd00:2::1
	ip -n "$NS_CA" route add default via 10.0.3.1
	ip -n "$NS_CA" -6 route add default via fd00:3::1
	for ns in "$NS_CLI" "$NS_ST" "$NS_CA"; do
		nic_like "$ns" eth0
		# Many short connections from few addresses: widen the port range, reuse
		# TIME_WAIT ports.
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
		ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_syn_backlog=4096
	done
	# Neighbours resolve on first use; pre-resolve so the very first flows take the
	# XDP fast path instead of the kernel's (both work; this keeps counts simple).
	in_ns "$NS_CLI" ping -c1 -W1 10.0.1.1 >/dev/null 2>&1 || true
	in_ns "$NS_ST" ping -c1 -W1 10.0.2.1 >/dev/null 2>&1 || true
	in_ns "$NS_CA" ping -c1 -W1 10.0.3.1 >/dev/null 2>&1 || true
	in_ns "$NS_ST" ping -c1 -W1 -I 10.0.2.3 10.0.2.1 >/dev/null 2>&1 || true
	in_ns "$NS_CA" ping -c1 -W1 -I 10.0.3.3 10.0.3.1 >/dev/null 2>&1 || true
	in_ns "$NS_CLI" ping -6 -c1 -W1 fd00:1::1 >/dev/null 2>&1 || true
	in_ns "$NS_ST" ping -6 -c1 -W1 fd00:2::1 >/dev/null 2>&1 || true
	in_ns "$NS_CA" ping -6 -c1 -W1 fd00:3::1 >/dev/null 2>&1 || true
	# Every backend address, not just the first: while the splitter resolves a new
	# neighbour, the kernel queues only a few packets for it, and a burst of first SYNs
	# loses the rest to a 1 s retransmission.
	in_ns "$NS_ST" ping -6 -c1 -W1 -I fd00:2::3 fd00:2::1 >/dev/null 2>&1 || true
	in_ns "$NS_CA" ping -6 -c1 -W1 -I fd00:3::3 fd00:3::1 >/dev/null 2>&1 || true
	return 0
}


# Attach the splitter to all three interfaces (extra args go to canary-loader attach).
topo_attach() {
	spl "$BUILD/canary-loader" attach --dev to-cli --dev to-st --dev to-ca \
		--pin-root "$PIN_ROOT" "$@"
}


# The standard backends: two stable instances and one canary, TCP 8080 and UDP 5353,
# IPv4 and IPv6. Extra args (faults) go to the canary only.
topo_backends() {
	topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080 --listen '[fd00:2::2]:8080' \
		--udp 10.0.2.2:5353 --udp '[fd00:2::2]:5353'
	topo_backend "$NS_ST" stable-2 --listen 10.0.2.3:8080 --listen '[fd00:2::3]:8080' \
		--udp 10.0.2.3:5353 --udp '[fd00:2::3]:5353'
	topo_backend "$NS_CA" canary-1 --listen 10.0.3.2:8080 --listen '[fd00:3::2]:8080' \
		--udp 10.0.3.2:5353 --udp '[fd00:3::2]:5353' "$@"
	topo_wait_port "$NS_ST" 10.0.2.2 8080 && topo_wait_port "$NS_ST" 10.0.2.3 8080 &&
		topo_wait_port "$NS_CA" 10.0.3.2 8080
}


topo_destroy() {
	# Runs from EXIT traps, also under `set -e`: no step may abort the rest.
	netns_stop_pids
	[ "$TOPO_CREATED" = 1 ] || return 0
	netns_delete "$NS_CLI" "$NS_SPL" "$NS_ST" "$NS_CA"
	if [ -d "$PIN_ROOT" ]; then
		rm -rf "$PIN_ROOT" || true
	fi
	[ ! -e "$PIN_ROOT-upgrade" ] || rm -rf "$PIN_ROOT-upgrade" || true
	rm -rf "$AGENT_SOCK_DIR" || true
	rm -f "$CANARY_SALT_FILE" || true
	TOPO_CREATED=0
	return 0
}
