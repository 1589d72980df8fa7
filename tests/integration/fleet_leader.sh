#!/usr/bin/env bash
# fleet_leader.sh: the fleet's leader on a real etcd and three splitter nodes (three
# topologies of scripts/topology.sh, each its own client and backends; one canaryd per
# node with --store). A rollout over the three nodes is promoted, and the leader's agent
# is killed with -9 in its middle: another node takes over and the rollout finishes at
# the same step. One whose canary answers 5xx on one node only is rolled back, with
# every node at weight 0 within 5 intervals (the delay is printed). etcd stopped
# mid-rollout: traffic keeps flowing and the rollout pauses (store), and resumes when
# etcd is back. etcd stopped while a canary starts failing: each node rolls itself back
# on its own evidence, and the leader records the fleet's rollback when etcd returns.
. "$(dirname "$0")/lib.sh"

INTERVAL=0.2
TTL=2
FL_ID=$(printf '%04x%02x' $RANDOM $((RANDOM % 256)))
NODES=(1 2 3)
declare -A APID

# Point topology.sh's names at node N (each node is one topology of its own).
use_node() {
	TOPO_ID=$FL_ID$1
	NS_CLI=xcan-$TOPO_ID-cli
	NS_SPL=xcan-$TOPO_ID-spl
	NS_ST=xcan-$TOPO_ID-st
	NS_CA=xcan-$TOPO_ID-ca
	PIN_ROOT=/sys/fs/bpf/xdp-canary-$TOPO_ID
	AGENT_SOCK_DIR=/run/xcan-$TOPO_ID
	AGENT_SOCK=$AGENT_SOCK_DIR/canaryd.sock
	export CANARY_SALT_FILE=$TOPO_LOGDIR/salts-$TOPO_ID.json
}

NS_STORE=xcan-$FL_ID-etcd
# shellcheck source=tests/integration/fleet_lib.sh
. "$(dirname "$0")/fleet_lib.sh"
fl_cleanup() {
	local rc=$? n
	for n in "${NODES[@]}"; do
		use_node "$n"
		TOPO_CREATED=1
		topo_destroy
	done
	store_destroy
	if [ "$T_FAILED" = 1 ] || [ $rc -ne 0 ]; then
		echo "# logs kept in $TOPO_LOGDIR"
	else
		rm -rf "$TOPO_LOGDIR"
	fi
}
trap fl_cleanup EXIT

STORE=$STORE_URL
eget() { ectl get "/xdp-canary/$1" --print-value-only 2>/dev/null; }
leader_name() { eget leader; }
link_store() { # node N's splitter to the store's namespace
	use_node "$1"
	store_link "$NS_SPL" "$1" "to-n$1"
}

# The node's canaryd, in its splitter's namespace (the maps are applied from there):
# agent_on N.
agent_on() {
	local n=$1 i
	use_node "$n"
	mkdir -p "$AGENT_SOCK_DIR"
	bg_in_ns "$NS_SPL" "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state-n$n" \
		--socket "$AGENT_SOCK" --listen 127.0.0.1:9181 --interval "$INTERVAL" \
		--store "$STORE" --node "n$n" --leader-ttl "$TTL" 2>>"$TOPO_LOGDIR/canaryd-n$n.log"
	APID[$n]=$BG_PID
	for ((i = 0; i < 50; i++)); do
		spl curl -sf -o /dev/null --unix-socket "$AGENT_SOCK" http://localhost/healthz && return 0
		sleep 0.1
	done
	cat "$TOPO_LOGDIR/canaryd-n$n.log" >&2
	return 1
}
nmetrics() {
	use_node "$1"
	spl curl -sf --unix-socket "$AGENT_SOCK" http://localhost/metrics
}
# canaryctl against node N's canaryd: nact N ARGS...
nact() {
	local n=$1
	shift
	use_node "$n"
	CANARY_SOCKET=$AGENT_SOCK spl "$BUILD/canaryctl" "$@"
}
# The leader's node number.
lnode() { local l; l=$(leader_name); echo "${l#n}"; }
# canaryctl against the leader's canaryd.
lact() { nact "$(lnode)" "$@"; }
lphase() { lact rollout status "$1" --json 2>/dev/null | jq -r .phase; }
lfield() { lact rollout status "$1" --json 2>/dev/null | jq -r "$2"; }
# The weight (percent) of SVC in node N's own maps.
nweight() {
	use_node "$1"
	spl "$BUILD/canaryctl" status "$2" --pin-root "$PIN_ROOT" --json 2>/dev/null |
		jq -r '.services[0].canary_weight'
}
phase_is() { [ "$(lphase "$1")" = "$2" ]; }
all_weight() { # SVC PCT: every node's maps hold it
	local n
	for n in "${NODES[@]}"; do [ "$(nweight "$n" "$1")" = "$2" ] || return 1; done
}
# Steady load on every node's VIP port: fleet_load PORT SECONDS NAME; loads_wait waits
# for every load started so far.
LOADS=()
fleet_load() {
	local n
	for n in "${NODES[@]}"; do
		use_node "$n"
		load_start "10.0.0.10:$1" 60 "$2" "$3-n$n"
		LOADS+=("$LOAD_PID")
	done
}
loads_wait() {
	local p
	for p in "${LOADS[@]}"; do wait "$p" 2>/dev/null; done
	LOADS=()
}
# Failed connections of a fleet_load run (after it ended).
load_failed() {
	local n f=0 x
	for n in "${NODES[@]}"; do
		x=$(jq -r '.failed // .errors // 0' "$TOPO_LOGDIR/$1-n$n.json" 2>/dev/null)
		f=$((f + ${x:-1}))
	done
	echo "$f"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

store_create || exit 1

# ---- three nodes -----------------------------------------------------------------------
# Per node: one stable backend and one canary per service port, the canaries' faults in
# files (SIGHUP re-reads them).
for n in "${NODES[@]}"; do
	use_node "$n"
	need "topology n$n" topo_create
	need "attach n$n" topo_attach >/dev/null
	for p in 8081 8082 8083 8084; do
		: >"$TOPO_LOGDIR/faults-n$n-$p"
		topo_backend "$NS_ST" "stable-$p" --listen "10.0.2.2:$p"
		topo_backend "$NS_CA" "canary-$p" --listen "10.0.3.2:$p" \
			--faults-file "$TOPO_LOGDIR/faults-n$n-$p" --seed "$n$p"
		eval "CPID_${n}_$p=\$BG_PID"
	done
	for p in 8081 8082 8083 8084; do
		need "backends n$n" topo_wait_port "$NS_CA" 10.0.3.2 $p
		need "backends n$n" topo_wait_port "$NS_ST" 10.0.2.2 $p
	done
	need "n$n reaches the store" link_store "$n"
done
need "etcd" etcd_start
# faults N PORT RATE: the canary of PORT on node N answers RATE of requests with 500.
faults() {
	echo "error_rate=$3" >"$TOPO_LOGDIR/faults-n$1-$2"
	eval "kill -HUP \$CPID_${1}_$2"
}

cat >"$TOPO_LOGDIR/services.yaml" <<'YAML'
services:
  - { name: promo, vip: 10.0.0.10, port: 81, hash: flow, http: true,
      stable: ["10.0.2.2:8081"], canary: ["10.0.3.2:8081"] }
  - { name: bad, vip: 10.0.0.10, port: 82, hash: flow, http: true,
      stable: ["10.0.2.2:8082"], canary: ["10.0.3.2:8082"] }
  - { name: hold, vip: 10.0.0.10, port: 83, hash: flow, http: true,
      stable: ["10.0.2.2:8083"], canary: ["10.0.3.2:8083"] }
  - { name: alone, vip: 10.0.0.10, port: 84, hash: flow, http: true,
      stable: ["10.0.2.2:8084"], canary: ["10.0.3.2:8084"] }
YAML
need "apply to the store" in_store "$BUILD/canaryctl" apply -f "$TOPO_LOGDIR/services.yaml" --store "$STORE" >/dev/null
for n in "${NODES[@]}"; do need "canaryd n$n" agent_on "$n"; done
has_leader() { [ -n "$(leader_name)" ]; }
need "a leader is elected" wait_for 10 has_leader
check "every node applied the services from the store" wait_for 10 all_weight promo 0

plan() { # SERVICE HOLD -> a plan file
	cat >"$TOPO_LOGDIR/plan-$1.yaml" <<YAML
service: $1
steps: [10, 50, 100]
hold: $2
min_flows: 20
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, errored_flows]
on_rollback: drain
YAML
	echo "$TOPO_LOGDIR/plan-$1.yaml"
}

# ---- 1. promoted over three nodes, the leader's agent killed with -9 in the middle ------
fleet_load 81 45 promo
L1=$(lnode)
out=$(lact rollout start promo --plan "$(plan promo 4s)" 2>&1)
check "promo: the leader n$L1 starts the rollout${out:+ ($out)}" grep -q "rollout started" <<<"$out"
other=$((L1 % 3 + 1))
out=$(nact "$other" rollout start hold --plan "$(plan hold 4s)" 2>&1)
check "a follower refuses to start a rollout, naming the leader" grep -q "n$L1 does" <<<"$out"
out=$(nact "$other" rollout status promo 2>&1)
check "a follower's rollout status names the leader" grep -q "n$L1 does" <<<"$out"
check "promo: every node follows the first step (10%)" wait_for 5 all_weight promo 10
step_is() { [ "$(lfield promo .step)" = "$1" ]; }
check "promo: reaches step 2/3 on the fleet's evidence" wait_for 20 step_is 2
check "promo: every node follows step 2 (50%)" wait_for 5 all_weight promo 50
accrued=$(lfield promo .hold_accrued_s)
kill -9 "${APID[$L1]}"
t_kill=$(now)
wait "${APID[$L1]}" 2>/dev/null
new_leader() { local l; l=$(leader_name); [ -n "$l" ] && [ "$l" != "n$L1" ]; }
check "promo: another node takes over after kill -9 of the leader's agent" wait_for 15 new_leader
t_new=$(now)
L2=$(lnode)
echo "# takeover: n$L2 leads $(secs "$t_kill" "$t_new") s after kill -9 of n$L1 (lease ${TTL} s, interval ${INTERVAL} s)"
resumed() { grep -q "promo: the new leader n$L2 resumes the rollout at step 2/3" "$TOPO_LOGDIR/canaryd-n$L2.log"; }
check "promo: the new leader resumes at the same step (2/3)" wait_for 5 resumed
eq "promo: with the evidence kept (hold accrued before the kill is not lost)" \
	"$(awk -v a="$(lfield promo .hold_accrued_s)" -v b="$accrued" 'BEGIN { print (a + 0.001 >= b) ? "kept" : "lost" }')" kept
check "promo: finishes (Succeeded) under the new leader" wait_for 30 phase_is promo Succeeded
echo "# rollouts/promo holds $(eget rollouts/promo | wc -c) bytes with 3 nodes' counters (written each round while active)"
eq "promo: the last step written by the new leader" "$(eget weights/promo | jq -r .by)" "leader n$L2"
check "promo: no manual change seen at the takeover" \
	test -z "$(grep -h "promo: manual change" "$TOPO_LOGDIR"/canaryd-n*.log)"
need "restart n$L1's agent" agent_on "$L1"
check "n$L1 comes back as a follower" \
	wait_for 5 grep -q "the rollout is led by n$L2 now" "$TOPO_LOGDIR/canaryd-n$L1.log"
check "promo: every node at 100% (n$L1 once its agent is back)" wait_for 5 all_weight promo 100
loads_wait
eq "promo: 0 failed connections through the takeover" "$(load_failed promo)" 0

# ---- 2. rolled back on 5xx from one node's canary; every node at 0 soon after -----------
faults 2 8082 0.3
fleet_load 82 20 bad
lact rollout start bad --plan "$(plan bad 4s)" >/dev/null
check "bad: rolled back on the fleet's evidence (5xx on n2's canary only)" \
	wait_for 20 phase_is bad RolledBack
t_dec=$(eget rollouts/bad | jq -r '.ended_ms / 1000')
check "bad: every node at weight 0 within 5 intervals of the decision" wait_for 5 all_weight bad 0
t_all=$(now)
d=$(secs "$t_dec" "$t_all")
echo "# rollback propagation: every node at 0% $d s after the leader's decision (interval $INTERVAL s)"
le "bad: propagation within 5 intervals" "$d" "$(awk -v i="$INTERVAL" 'BEGIN { print 5 * i }')"
check "bad: the reason names the signal" grep -q "http_5xx" <<<"$(lfield bad .reason)"
m=$(nmetrics "$(lnode)")
check "/metrics: the leader exports the fleet's rollout series" \
	grep -Eq '^xdp_canary_rollout_phase\{.*service="bad",phase="RolledBack".*\} 1' <<<"$m"
check "/metrics: node-level series carry the node" \
	grep -Eq "^xdp_canary_flows_total\{.*node=\"n$(lnode)\"" <<<"$m"
f=$(( $(lnode) % 3 + 1 ))
m=$(nmetrics "$f")
if grep -q '^xdp_canary_rollout_phase{' <<<"$m"; then
	not_ok "/metrics: a follower (n$f) exports no rollout series"
else
	ok "/metrics: a follower (n$f) exports no rollout series"
fi
check "/metrics: the follower says it does not lead" grep -Eq "^xdp_canary_fleet_leader(\{.*\})? 0" <<<"$m"
loads_wait

# ---- 3. etcd stopped mid-rollout; 4. ... while a canary starts failing ------------------
fleet_load 83 40 hold
fleet_load 84 40 alone
lact rollout start hold --plan "$(plan hold 6s)" >/dev/null
lact rollout start alone --plan "$(plan alone 6s)" >/dev/null
check "hold, alone: every node at the first step" wait_for 5 all_weight hold 10
wait_for 5 all_weight alone 10
sleep 2
LN=$(lnode)
step0=$(nact "$LN" rollout status hold --json | jq -r .step)
etcd_stop
held() { [ "$(nact "$LN" rollout status hold --json | jq -r .paused_for)" = store ]; }
check "etcd stopped: the rollout pauses, paused_for store" wait_for 5 held
check "etcd stopped: the reason says why" grep -q "store is unreachable" <<<"$(nact "$LN" rollout status hold --json | jq -r .reason)"
for n in "${NODES[@]}"; do faults "$n" 8084 0.3; done
t_fail=$(now)
check "etcd stopped, canary failing: each node rolls itself back on its own evidence" \
	wait_for 20 all_weight alone 0
echo "# local rollbacks: every node at 0% $(secs "$t_fail" "$(now)") s after the canary started failing (no store)"
for n in "${NODES[@]}"; do
	check "n$n: logged its own rollback" grep -q "alone: ROLLBACK OF THIS NODE" "$TOPO_LOGDIR/canaryd-n$n.log"
done
sleep 1
check "etcd stopped: no node raised a weight (hold still at 10% everywhere)" all_weight hold 10
need "etcd restarted" etcd_start
check "etcd back: a leader again" wait_for 15 has_leader
recorded() { [ -n "$(eget rollbacks/alone/n1)" ] && [ -n "$(eget rollbacks/alone/n2)" ] && [ -n "$(eget rollbacks/alone/n3)" ]; }
check "etcd back: each node recorded its rollback" wait_for 10 recorded
check "etcd back: the leader rolls the fleet back (alone: RolledBack)" wait_for 10 phase_is alone RolledBack
check "etcd back: the reason names the node" grep -q "rolled itself back" <<<"$(lfield alone .reason)"
check "etcd back: alone stays at 0% on every node" all_weight alone 0
resumed_hold() { [ "$(lfield hold .paused_for)" != store ] && [ "$(lphase hold)" != "" ]; }
check "etcd back: hold resumes" wait_for 10 resumed_hold
eq "etcd back: hold resumed at the step it held" "$(lfield hold .step)" "$step0"
check "etcd back: hold finishes (Succeeded)" wait_for 40 phase_is hold Succeeded
loads_wait
eq "hold: 0 failed connections through the outage" "$(load_failed hold)" 0
exit 0
