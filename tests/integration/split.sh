#!/usr/bin/env bash
# split.sh: real TCP and UDP through the splitter, IPv4 and IPv6. The measured split
# follows the weight, client mode keeps each client on one arm, overrides win,
# explain agrees with the data plane, rollback sends every new flow to stable, and
# an invalid config is refused without touching the maps.
. "$(dirname "$0")/lib.sh"

topo_up
CFG=$TOPO_LOGDIR/services.yaml
cat >"$CFG" <<'YAML'
services:
  - name: web                   # client hash: one client, one arm
    vip: 10.0.0.10
    port: 80
    hash: client
    canary_weight: 10
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
    overrides:
      - { prefix: 10.0.1.128/25, arm: canary }
  - name: web-flow              # flow hash: each connection on its own
    vip: 10.0.0.11
    port: 80
    hash: flow
    canary_weight: 10
    stable: ["10.0.2.2:8081", "10.0.2.3:8081"]
    canary: ["10.0.3.2:8081"]
  - name: web6
    vip: "fd00::10"
    port: 80
    hash: flow
    canary_weight: 10
    stable: ["[fd00:2::2]:8080", "[fd00:2::3]:8080"]
    canary: ["[fd00:3::2]:8080"]
  - name: dns
    vip: 10.0.0.10
    port: 53
    protocol: udp
    hash: flow
    canary_weight: 10
    stable: ["10.0.2.2:5353", "10.0.2.3:5353"]
    canary: ["10.0.3.2:5353"]
  - name: dns6
    vip: "fd00::10"
    port: 53
    protocol: udp
    hash: flow
    canary_weight: 10
    stable: ["[fd00:2::2]:5353", "[fd00:2::3]:5353"]
    canary: ["[fd00:3::2]:5353"]
YAML
# The 8081 listeners for web-flow.
topo_backend "$NS_ST" stable-1b --listen 10.0.2.2:8081
topo_backend "$NS_ST" stable-2b --listen 10.0.2.3:8081
topo_backend "$NS_CA" canary-1b --listen 10.0.3.2:8081
need "8081 listeners" topo_wait_port "$NS_CA" 10.0.3.2 8081

out=$(ctl apply -f "$CFG" 2>&1)
check "apply the services file" grep -q "5 created" <<<"$out"
out=$(ctl apply -f "$CFG" 2>&1)
check "applying it again changes nothing" grep -q "0 created, 0 changed, 5 unchanged" <<<"$out"

# --- flow mode: the split follows the weight -------------------------------------------
before=$(ctl status web-flow --json)
r=$(client --target 10.0.0.11:80 --connections 3000 --concurrency 64)
eq "web-flow: 3000 connections, none failed" "$(jq .failed <<<"$r")" 0
c=$(canary_share "$r")
near "web-flow: canary share of connections at weight 10%" "$(pct "$c" 3000)" 10 2
after=$(ctl status web-flow --json)
flows=$(jq '[.services[0].arms[].flows] | add' <<<"$after")
flows0=$(jq '[.services[0].arms[].flows] | add' <<<"$before")
eq "web-flow: the data plane counted one flow per connection" "$((flows - flows0))" 3000
cf=$(jq '.services[0].arms.canary.flows' <<<"$after")
eq "web-flow: status canary flows equal connections the canary answered" "$cf" "$c"

# --- client mode: every connection of a client lands on one arm --------------------------
topo_add_clients 2000
r=$(client --target 10.0.0.10:80 --source-range 10.1.0.1/2000 --connections 6000 \
	--concurrency 64 --by-source)
eq "web: 6000 connections from 2000 clients, none failed" "$(jq .failed <<<"$r")" 0
mixed=$(jq '[.by_source[] | keys | length | select(. > 1)] | length' <<<"$r")
eq "web: clients whose connections reached more than one backend" "$mixed" 0
cclients=$(jq '[.by_source[] | keys[] | select(startswith("canary"))] | length' <<<"$r")
nclients=$(jq '.by_source | length' <<<"$r")
eq "web: every client was seen" "$nclients" 2000
near "web: canary share of clients at weight 10%" "$(pct "$cclients" "$nclients")" 10 2

# explain predicts the arm the data plane chose, for a sample of clients.
bad=0
n=0
for src in $(jq -r '.by_source | keys[]' <<<"$r" | head -40); do
	want=$(jq -r --arg s "$src" '.by_source[$s] | keys[0] | if startswith("canary") then "canary" else "stable" end' <<<"$r")
	got=$(ctl explain web --src "$src:40000" --json | jq -r .arm)
	[ "$got" = "$want" ] || bad=$((bad + 1))
	n=$((n + 1))
done
eq "explain was checked against 40 clients" "$n" 40
eq "explain agrees with the data plane for each of them" "$bad" 0

# --- overrides: 10.0.1.128/25 always goes to canary --------------------------------------
for i in $(seq 130 139); do echo "addr add 10.0.1.$i/24 dev eth0"; done | ip -n "$NS_CLI" -b -
r=$(client --target 10.0.0.10:80 --source-range 10.0.1.130/10 --connections 100 --concurrency 20)
eq "override prefix: 100 connections reach canary" "$(canary_share "$r")" 100

# --- IPv6 and UDP ------------------------------------------------------------------------
r=$(client --target '[fd00::10]:80' --connections 3000 --concurrency 64)
eq "web6: 3000 IPv6 connections, none failed" "$(jq .failed <<<"$r")" 0
near "web6: canary share at weight 10%" "$(pct "$(canary_share "$r")" 3000)" 10 2
r=$(client --udp --target 10.0.0.10:53 --requests 2000)
eq "dns: 2000 UDP requests all answered" "$(jq .replies <<<"$r")" 2000
near "dns: canary share at weight 10%" "$(pct "$(canary_share "$r")" 2000)" 10 2.5
r=$(client --udp --target '[fd00::10]:53' --requests 2000)
eq "dns6: 2000 UDP requests all answered" "$(jq .replies <<<"$r")" 2000
near "dns6: canary share at weight 10%" "$(pct "$(canary_share "$r")" 2000)" 10 2.5

# --- weight changes and rollback -----------------------------------------------------------
ctl set-weight web-flow 50 >/dev/null
r=$(client --target 10.0.0.11:80 --connections 2000 --concurrency 64)
near "web-flow: canary share after set-weight 50" "$(pct "$(canary_share "$r")" 2000)" 50 4
out=$(ctl rollback web-flow)
check "rollback reports the weight change" grep -q "50% -> 0%" <<<"$out"
r=$(client --target 10.0.0.11:80 --connections 1000 --concurrency 64)
eq "after rollback: no new connection reaches canary" "$(canary_share "$r")" 0
eq "after rollback: none failed" "$(jq .failed <<<"$r")" 0
ctl promote web-flow >/dev/null
r=$(client --target 10.0.0.11:80 --connections 500 --concurrency 64)
eq "after promote: every new connection reaches canary" "$(canary_share "$r")" 500

# --- an invalid config is refused and changes nothing ---------------------------------
snap() {
	{
		ctl status --json | jq -c '[.services[] | {name, canary_weight, generation, vip, port}]'
		bpftool map dump pinned "$PIN_ROOT/services"
		bpftool map dump pinned "$PIN_ROOT/overrides"
	} | md5sum | cut -d' ' -f1
}
s0=$(snap)
sed -e 's/canary_weight: 10$/canary_weight: 10.125/' -e 's/vip: 10.0.0.11/vip: 10.0.0.256/' "$CFG" >"$CFG.bad"
out=$(ctl apply -f "$CFG.bad" 2>&1)
rc=$?
eq "invalid config: apply exits 1" "$rc" 1
check "invalid config: error names file, line and field" \
	grep -q "$CFG.bad:6: services\[0\].canary_weight: '10.125' has more than two decimals" <<<"$out"
check "invalid config: every problem is reported" grep -q "$CFG.bad:12: services\[1\].vip: '10.0.0.256' is not" <<<"$out"
check "invalid config: says nothing changed" grep -q "nothing was changed" <<<"$out"
eq "invalid config: maps unchanged" "$(snap)" "$s0"

out=$(ctl set-weight web 101 2>&1)
rc=$?
eq "set-weight 101: usage error" "$rc" 2
check "set-weight 101: says why and what to try" grep -q "is above 100.*try 'canaryctl set-weight --help'" <<<"$out"
out=$(ctl set-weight nosuch 5 2>&1)
check "set-weight of an unknown service lists the known ones" grep -q "no service named 'nosuch' (known: dns, dns6, web, web-flow, web6)" <<<"$out"

# --- no checksum errors anywhere ---------------------------------------------------------
for ns in "$NS_CLI" "$NS_ST" "$NS_CA"; do
	eq "no TCP/UDP checksum errors received in ${ns##*-}" "$(csum_errors "$ns")" 0
done
