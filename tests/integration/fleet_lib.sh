# shellcheck shell=bash
# fleet_lib.sh: what the etcd fleet tests share (fleet_store.sh, fleet_leader.sh): etcd in
# a namespace of its own (NS_STORE), its data in the test's temporary directory, each
# splitter linked to it (node K reaches it at 10.9.K.1), and a wait. Source it after
# lib.sh, with NS_STORE set; call store_create first and store_destroy from the trap.

STORE_URL=etcd://10.9.1.1:2379,10.9.2.1:2379,10.9.3.1:2379
ETCD_DIR=${ETCD_DIR:-$TOPO_LOGDIR/etcd}
ETCD_PID=
export ETCDCTL_API=3

in_store() { ip netns exec "$NS_STORE" "$@"; }
ectl() { in_store etcdctl --endpoints=http://10.9.1.1:2379 "$@"; }

store_create() {
	local tool
	for tool in etcd etcdctl; do
		command -v "$tool" >/dev/null || {
			not_ok "setup: $tool is installed (scripts/install-deps.sh: etcd-server, etcd-client)"
			return 1
		}
	done
	ip netns add "$NS_STORE" || return 1
	ip -n "$NS_STORE" link set lo up
	mkdir -p "$ETCD_DIR"
}

store_destroy() {
	[ -z "$ETCD_PID" ] || { kill -9 "$ETCD_PID" 2>/dev/null; wait_gone "$ETCD_PID"; }
	ip netns pids "$NS_STORE" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$NS_STORE" 2>/dev/null || true
}

# Wait until process $1 (not necessarily a child: disowned) is gone.
wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# Wait up to S seconds until COMMAND... succeeds: wait_for S COMMAND...
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

etcd_start() {
	local i
	# Not through in_store: a backgrounded function is a subshell, and its pid not etcd's.
	ip netns exec "$NS_STORE" etcd --name fleet --data-dir "$ETCD_DIR" \
		--listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://10.9.1.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster fleet=http://127.0.0.1:2380 --log-level error >>"$TOPO_LOGDIR/etcd.log" 2>&1 &
	ETCD_PID=$!
	disown "$ETCD_PID" # killed by pid; no job report when it is
	for ((i = 0; i < 100; i++)); do
		ectl endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

etcd_stop() {
	kill "$ETCD_PID" 2>/dev/null
	wait_gone "$ETCD_PID"
	ETCD_PID=
}

# A veth from the splitter namespace SPL to the store: store_link SPL K NAME (the
# store's end is called NAME; the splitter reaches the store at 10.9.K.1).
store_link() {
	local spl=$1 k=$2 name=$3
	ip link add name to-store netns "$spl" type veth peer name "$name" netns "$NS_STORE" || return 1
	ip -n "$spl" addr add "10.9.$k.2/24" dev to-store
	ip -n "$spl" link set to-store up
	ip -n "$NS_STORE" addr add "10.9.$k.1/24" dev "$name"
	ip -n "$NS_STORE" link set "$name" up
}
