#!/usr/bin/env bash
# fleet_store.sh: three splitter sites, one etcd (docs/FLEET.md). Each site is the
# topology of scripts/topology.sh under its own id and pin root, with canaryd --store
# --node; etcd runs in a namespace of its own, linked to each site's splitter, with its
# data in the test's temporary directory. A services file applied through the store
# reaches all three nodes, which give the same client the same arm and backend;
# fleet status lists the nodes at the applied revision; a node killed drops out when
# its lease ends; a bad file is refused and changes nothing; with etcd down the nodes
# keep forwarding real traffic, and they catch up when it returns. Prints the
# apply-to-last-node delay and the store traffic per node per interval (information,
# no threshold).
. "$(dirname "$0")/lib.sh"

FID=$(printf '%04x%04x' $RANDOM $RANDOM)
NS_STORE=xcan-$FID-etcd
# shellcheck source=tests/integration/fleet_lib.sh
. "$(dirname "$0")/fleet_lib.sh"
SITES=(a b c)
declare -A SITE_ID NODE_PID
ALL_PIDS=()
INTERVAL=0.5

# Point topology.sh's globals (namespaces, pin root, socket) at site $1. Its pids are
# kept aside first, since sourcing the file starts a fresh list.
site() {
	ALL_PIDS+=(${TOPO_PIDS[@]+"${TOPO_PIDS[@]}"})
	TOPO_ID=${SITE_ID[$1]}
	unset PIN_ROOT
	. scripts/topology.sh
	TOPO_CREATED=1
}

fleet_cleanup() {
	local s p
	for p in "${NODE_PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${NODE_PID[@]}"; do wait_gone "$p"; done
	store_destroy
	for s in "${SITES[@]}"; do
		[ -n "${SITE_ID[$s]:-}" ] || continue
		site "$s"
		topo_destroy
	done
	for p in ${ALL_PIDS[@]+"${ALL_PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
	t_cleanup
}
trap fleet_cleanup EXIT

URL=$STORE_URL
sctl() { in_store "$BUILD/canaryctl" "$@" --store "$URL"; }

# Site $1: its topology, the splitter attached, backends, and a veth to the store.
site_up() {
	local s=$1 k=$2
	SITE_ID[$s]=$FID$s
	site "$s"
	need "site $s: topology" topo_create
	need "site $s: attach" topo_attach >/dev/null
	need "site $s: backends" topo_backends
	store_link "$NS_SPL" "$k" "to-$s"
}

# canaryd --store --node on site $1, its log and state of its own.
node_start() {
	local s=$1 i
	site "$s"
	mkdir -p "$TOPO_LOGDIR/state-$s"
	bg_in_ns "$NS_SPL" "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state-$s" \
		--socket "$AGENT_SOCK" --listen 127.0.0.1:9181 --interval "$INTERVAL" \
		--store "$URL" --node "node-$s" --store-keep 50 2>>"$TOPO_LOGDIR/canaryd-$s.log"
	NODE_PID[$s]=$BG_PID
	disown "$BG_PID"
	for ((i = 0; i < 50; i++)); do
		spl curl -sf -o /dev/null --unix-socket "$AGENT_SOCK" http://localhost/healthz && return 0
		sleep 0.1
	done
	cat "$TOPO_LOGDIR/canaryd-$s.log" >&2
	return 1
}

metrics() {
	site "$1"
	spl curl -sf --unix-socket "$AGENT_SOCK" http://localhost/metrics
}
metric() { metrics "$1" | awk -v m="$2" '$1 ~ "^"m"[{]" { print $2; exit }'; }

# The fleet's JSON and each node's applied revision.
fleet_json() { sctl fleet status --json 2>/dev/null; }
all_current() {
	fleet_json | jq -e --argjson n "${1:-3}" \
		'(.nodes | length) == $n and all(.nodes[]; .current and .applied_revision > 0)' >/dev/null
}
desired_rev() { ectl get /xdp-canary/config/services -w json | jq -r '.kvs[0].mod_revision // 0'; }

store_create || exit 1
k=0
for s in "${SITES[@]}"; do
	k=$((k + 1))
	need "site $s" site_up "$s" "$k"
done
need "etcd starts in its namespace" etcd_start
for s in "${SITES[@]}"; do need "canaryd --node node-$s" node_start "$s"; done

CFG=$TOPO_LOGDIR/services.yaml
cat >"$CFG" <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: client
    canary_weight: 30
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML

# ---- apply through the store reaches every node ----
t0=$(date +%s.%N)
out=$(sctl apply -f "$CFG" 2>&1)
check "apply --store writes the file: $out" grep -q "1 services written to the store" <<<"$out"
# The delay to the last node's maps (polled), then to fleet status (which waits for
# the nodes' next reports too). Information only.
maps_have_web() {
	local s
	for s in "${SITES[@]}"; do
		site "$s"
		ctl status web --json >/dev/null 2>&1 || return 1
	done
}
wait_for 10 maps_have_web
t1=$(date +%s.%N)
check "every node applies it" wait_for 10 all_current 3
t2=$(date +%s.%N)
echo "# apply -> last node's maps hold it: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s (polled; to fleet status showing all three at the revision, reports every ${INTERVAL}s: $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.3f", b - a }') s)"
eq "etcdctl: config/salts holds web's salt" "$(ectl get /xdp-canary/config/salts --print-value-only | jq 'has("web")')" true
rev=$(desired_rev)
eq "fleet status: the three nodes at the desired revision $rev" \
	"$(fleet_json | jq -r '[.nodes[] | select(.applied_revision == '"$rev"') | .node] | join(",")')" \
	"node-a,node-b,node-c"
out=$(sctl fleet status)
check "fleet status, text: a line per node" grep -cq "^node-c " <<<"$out"

# The same client gets the same arm and backend on every node (same salt, same ring).
same=0
for port in 40001 40002 40003 40004 40005 40006 40007 40008; do
	for c in 10.1.0.7 10.1.3.9 10.1.200.1; do
		ans=()
		for s in "${SITES[@]}"; do
			site "$s"
			ans+=("$(ctl explain web --src "$c:$port" --json | jq -c '[.arm, .backend]')")
		done
		[ "${ans[0]}" = "${ans[1]}" ] && [ "${ans[1]}" = "${ans[2]}" ] && [ "${ans[0]}" != '[null,null]' ] &&
			same=$((same + 1))
	done
done
eq "explain: 24 clients get the same arm and backend on all three nodes" "$same" 24
# Real traffic through each node.
for s in "${SITES[@]}"; do
	site "$s"
	r=$(client --target 10.0.0.10:80 --connections 100 --concurrency 16)
	eq "site $s: 100 connections through node-$s, none failed" "$(jq .failed <<<"$r")" 0
done

# A weight through the store reaches every node.
out=$(sctl set-weight web 50 2>&1)
check "set-weight --store: $out" grep -q "30% -> 50%" <<<"$out"
w_all() {
	local s
	for s in "${SITES[@]}"; do
		site "$s"
		[ "$(ctl status web --json | jq '.services[0].canary_weight')" = 50 ] ||
			return 1
	done
}
check "every node's maps hold weight 50%" wait_for 10 w_all

# A weight set on one node alone (no --store) is lowered to the store's, never raised
# to it: no node raises a weight on its own. A new weight in the store applies again.
site a
w_a() { [ "$(ctl status web --json | jq '.services[0].canary_weight')" = "$1" ]; }
ctl set-weight web 0 >/dev/null
sleep $((3 * ${INTERVAL%.*} + 3))
check "a weight lowered on node-a alone stays lowered (the store says 50%)" w_a 0
check "node-a says why it leaves it" grep -q "web canary weight is 0% on this node, below the store's 50%" \
	"$TOPO_LOGDIR/canaryd-a.log"
ctl set-weight web 80 >/dev/null
check "a weight raised on node-a alone comes back down to the store's 50%" wait_for 10 w_a 50
out=$(sctl set-weight web 40 2>&1)
check "set-weight --store 40: $out" grep -q "50% -> 40%" <<<"$out"
check "every node follows the store's new weight" wait_for 10 w_a 40
out=$(sctl set-weight web 50 2>&1)
check "every node's maps hold weight 50% again" wait_for 10 w_all

# The fleet's totals: the sum of the three reports.
sleep 1.5
tot=$(sctl status web --json --nodes)
sum_nodes=$(jq '[.web.per_node[] | (.stable.flows // 0) + (.canary.flows // 0)] | add' <<<"$tot")
fleet=$(jq '(.web.arms.stable.flows // 0) + (.web.arms.canary.flows // 0)' <<<"$tot")
eq "status --store: the fleet's flows are the sum of the nodes'" "$fleet" "$sum_nodes"
ge "status --store: 300 flows or more over the fleet" "$fleet" 300

# ---- the store traffic per node per interval (docs/FLEET.md) ----
m0=$(metrics a)
sleep 10
m1=$(metrics a)
traffic() {
	local name=$1
	awk -v m="xdp_canary_$name" '$1 ~ "^"m"[{]" { print $2 }' <<<"$m1" |
		paste - <(awk -v m="xdp_canary_$name" '$1 ~ "^"m"[{]" { print $2 }' <<<"$m0") |
		awk -v i="$INTERVAL" '{ printf "%.2f", ($1 - $2) / (10 / i) }'
}
echo "# store traffic of one node per interval (${INTERVAL}s, 1 service, 3 nodes): keys written $(traffic store_keys_written_total), requests $(traffic store_requests_total), bytes sent $(traffic store_sent_bytes_total), bytes received $(traffic store_received_bytes_total), report bytes $(traffic store_report_bytes_total), watch events $(traffic store_watch_events_total)"
check "/metrics carries the node label" grep -q 'xdp_canary_store_up{node="node-a"} 1' <<<"$m1"

# ---- compaction: the history stays short (--store-keep 50 here) ----
cur=$(ectl endpoint status -w json | jq '.[0].Status.header.revision')
old_rev=$((cur > 200 ? cur - 200 : 1))
compacted() { ectl get /xdp-canary/config/services --rev="$old_rev" 2>&1 | grep -q "compacted"; }
check "the nodes compacted the store: revision $old_rev of $cur is gone" wait_for 10 compacted
check "the latest config is still there" grep -q "name: web" <<<"$(ectl get /xdp-canary/config/services --print-value-only)"

# ---- a bad file through the store is refused and changes nothing ----
rev=$(desired_rev)
printf 'services:\n  - name: web\n    vip: 10.0.0.10\n    port: 99999\n    stable: ["10.0.2.2:8080"]\n' >"$TOPO_LOGDIR/bad.yaml"
out=$(sctl apply -f "$TOPO_LOGDIR/bad.yaml" 2>&1)
rc=$?
check "a bad file: refused (rc $rc)" [ "$rc" = 1 ]
check "the message names the file, the line and the field" grep -q "bad.yaml:4: services\[0\].port" <<<"$out"
eq "the store's config revision is unchanged" "$(desired_rev)" "$rev"
eq "the nodes keep it" "$(fleet_json | jq '[.nodes[] | select(.applied_revision == '"$rev"')] | length')" 3

# ---- a revision written around canaryctl, with no salt for its service: every node
# refuses it and keeps what it has (a node never draws a salt of its own) ----
sed 's/name: web/name: web2/; s/10.0.0.10/10.0.0.12/' "$CFG" >"$TOPO_LOGDIR/nosalt.yaml"
in_store env ETCDCTL_API=3 etcdctl --endpoints=http://10.9.1.1:2379 put /xdp-canary/config/services \
	<"$TOPO_LOGDIR/nosalt.yaml" >/dev/null
rejected() { [ "$(fleet_json | jq '[.nodes[] | select(.health | test("rejected"))] | length')" = 3 ]; }
check "every node reports the revision rejected" wait_for 10 rejected
kept=0
for s in "${SITES[@]}"; do
	site "$s"
	ctl status web --json >/dev/null 2>&1 && ! ctl status web2 --json >/dev/null 2>&1 && kept=$((kept + 1))
done
eq "every node's maps still hold web, and no web2" "$kept" 3
check "the log says why" grep -q "no salt for web2" "$TOPO_LOGDIR/canaryd-a.log"
out=$(sctl apply -f "$CFG" 2>&1)
check "a good apply after it: $out" grep -q "written to the store" <<<"$out"
check "every node applies it again" wait_for 10 all_current 3

# ---- a node killed drops out when its lease ends ----
kill -9 "${NODE_PID[c]}"
wait_gone "${NODE_PID[c]}"
tk=$(date +%s.%N)
gone() { [ "$(fleet_json | jq '.nodes | length')" = 2 ]; }
check "node-c drops out of fleet status after its lease" wait_for 15 gone
echo "# node-c gone from the store $(awk -v a="$tk" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after kill -9 (lease: 3 s)"
eq "the two others stay" "$(fleet_json | jq -r '[.nodes[].node] | join(",")')" "node-a,node-b"
need "node-c again" node_start c

# ---- etcd down: the nodes keep forwarding; back: they catch up ----
kill -9 "$ETCD_PID"
wait_gone "$ETCD_PID"
ETCD_PID=
sleep 2
site a
r=$(client --target 10.0.0.10:80 --connections 200 --concurrency 16)
eq "etcd down: 200 connections through node-a, none failed" "$(jq .failed <<<"$r")" 0
check "node-a's canaryd is still up" kill -0 "${NODE_PID[a]}"
eq "its /metrics says the store is down" "$(metric a xdp_canary_store_up)" 0
check "its log says so" grep -q "store: unreachable" "$TOPO_LOGDIR/canaryd-a.log"
kill "${NODE_PID[b]}"
wait_gone "${NODE_PID[b]}"
check "node-b's canaryd restarts while the store is down" node_start b
site b
r=$(client --target 10.0.0.10:80 --connections 100 --concurrency 16)
eq "and node-b forwards: 100 connections, none failed" "$(jq .failed <<<"$r")" 0
need "etcd restarts on its data" etcd_start
sed -i 's/canary_weight: 30/canary_weight: 40/' "$CFG"
sed -i 's/"10.0.2.3:8080"]/"10.0.2.3:8080"]\n    http: true/' "$CFG"
out=$(sctl apply -f "$CFG" 2>&1)
check "apply after the store returned: $out" grep -q "written to the store" <<<"$out"
check "all three nodes catch up" wait_for 15 all_current 3
eq "the store's weight (50%) still wins over the file's on every node" "$(w_all && echo yes)" yes

# ---- TLS with a client certificate through canaryctl's options: a second etcd ----
tls_store() {
	local d=$TOPO_LOGDIR/tls i
	mkdir -p "$d" && (
		cd "$d" || exit 1
		exec >certs.log 2>&1
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fleet-ca -keyout ca.key -out ca.pem &&
			openssl req -newkey rsa:2048 -nodes -subj /CN=10.9.1.1 -keyout server.key -out server.csr &&
			printf 'subjectAltName=IP:10.9.1.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
				-extfile server.ext -out server.pem &&
			openssl req -newkey rsa:2048 -nodes -subj /CN=admin -keyout client.key -out client.csr &&
			printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
			openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
				-extfile client.ext -out client.pem
	) || return 1
	ip netns exec "$NS_STORE" etcd --name tls --data-dir "$d/data" \
		--listen-client-urls https://10.9.1.1:2389 --advertise-client-urls https://10.9.1.1:2389 \
		--listen-peer-urls http://127.0.0.1:2390 --initial-advertise-peer-urls http://127.0.0.1:2390 \
		--initial-cluster tls=http://127.0.0.1:2390 --cert-file "$d/server.pem" \
		--key-file "$d/server.key" --trusted-ca-file "$d/ca.pem" --client-cert-auth \
		--log-level error >>"$TOPO_LOGDIR/etcd-tls.log" 2>&1 &
	TLS_PID=$!
	disown "$TLS_PID"
	NODE_PID[tls]=$TLS_PID # killed with the rest
	for ((i = 0; i < 100; i++)); do
		in_store "$BUILD/canaryctl" fleet status --store etcd://10.9.1.1:2389 \
			--store-cacert "$d/ca.pem" --store-cert "$d/client.pem" --store-key "$d/client.key" \
			>/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
if tls_store; then
	ok "canaryctl reaches a TLS etcd with --store-cacert, --store-cert and --store-key"
	out=$(in_store "$BUILD/canaryctl" fleet status --store etcd://10.9.1.1:2389 \
		--store-cacert "$TOPO_LOGDIR/tls/ca.pem" 2>&1)
	check "without the client certificate it is refused: ${out%%$'\n'*}" grep -q "cannot\|refused\|failed" <<<"$out"
else
	not_ok "canaryctl reaches a TLS etcd with --store-cacert, --store-cert and --store-key"
fi

# ---- etcd auth through canaryctl's options (last: the nodes have no user) ----
ectl user add root:rootpw >/dev/null && ectl user grant-role root root >/dev/null 2>&1
ectl role add canary-admin >/dev/null &&
	ectl role grant-permission canary-admin --prefix=true readwrite /xdp-canary/ >/dev/null &&
	ectl user add admin:adminpw >/dev/null && ectl user grant-role admin canary-admin >/dev/null
check "etcd auth enabled" bash -c "ip netns exec $NS_STORE env ETCDCTL_API=3 etcdctl --endpoints=http://10.9.1.1:2379 auth enable >/dev/null"
printf 'adminpw\n' >"$TOPO_LOGDIR/pw" && chmod 600 "$TOPO_LOGDIR/pw"
if sctl fleet status >/dev/null 2>&1; then
	not_ok "fleet status without a user is refused"
else
	ok "fleet status without a user is refused"
fi
out=$(sctl fleet status --store-user admin --store-password-file "$TOPO_LOGDIR/pw" 2>&1)
check "with --store-user and --store-password-file it works" grep -q "desired config revision" <<<"$out"
printf 'wrong\n' >"$TOPO_LOGDIR/pw"
out=$(sctl fleet status --store-user admin --store-password-file "$TOPO_LOGDIR/pw" 2>&1)
check "a wrong password is refused: $out" grep -q "authentication failed" <<<"$out"

echo "# logs in $TOPO_LOGDIR (removed on success)"
[ "$T_FAILED" = 0 ]
