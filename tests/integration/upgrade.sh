#!/usr/bin/env bash
# upgrade.sh: an upgrade keeps every connection. The previous ABI's data plane
# (tests/fixtures/abi2) is attached with its pins and one service, and carries 200
# long-lived connections and a stream of new ones; then this build's canary-loader
# attach finds the ABI-2 pins, builds this ABI's maps, copies the configuration, the
# flows and the counters, and swaps the programs: 0 established connections break, none
# moves to another backend, and afterwards every tool works on the new pins.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
need "start backends" topo_backends
need "the ABI-2 data plane" spl "$BUILD/tools/abi2-setup" "$BUILD/fixtures/abi2.bpf.o" "$PIN_ROOT" \
	to-cli to-st to-ca -- web 10.0.0.10:80 1000 10.0.2.2:8080,10.0.2.3:8080 10.0.3.2:8080 >/dev/null
eq "the pins are ABI 2" "$(spl bpftool map dump pinned "$PIN_ROOT/meta" -j | jq '.[0].formatted.value.abi_version')" 2

client --target 10.0.0.10:80 --hold 16 --connections 200 --interval 100 --expect-2xx \
	>"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
HOLD=$!
load_start 10.0.0.10:80 100 14 load
sleep 4
old_flows=$(spl bpftool map dump pinned "$PIN_ROOT/arm_stats" -j |
	jq '[.[] | .formatted | select(.key == 0 or .key == 1) | .values[].value.flows] | add')
ge "the old data plane carries the connections (flows counted)" "$old_flows" 200
old_progs=$(spl bpftool net show -j | jq '[.[].xdp[]?.id] | unique | join(",")')

out=$(spl "$BUILD/canary-loader" attach --dev to-cli --dev to-st --dev to-ca --pin-root "$PIN_ROOT" 2>&1)
rc=$?
eq "canary-loader attach on ABI-2 pins exits 0" "$rc" 0
check "it says it upgraded them" grep -q "upgraded the pins under $PIN_ROOT from ABI 2 to ABI 3" <<<"$out"
kept=$(sed -n 's/.*, \([0-9]*\) flows and \([0-9]*\) pending kept.*/\1/p' <<<"$out")
ge "the established flows were copied" "${kept:-0}" 200
eq "the pins are ABI 3 now" "$(spl bpftool map dump pinned "$PIN_ROOT/meta" -j | jq '.[0].formatted.value.abi_version')" 3
new_progs=$(spl bpftool net show -j | jq '[.[].xdp[]?.id] | unique | join(",")')
check "every interface runs a new program ($old_progs -> $new_progs)" test "$new_progs" != "$old_progs"
check "no leftover upgrade directory" test ! -e "$PIN_ROOT-upgrade"

wait $HOLD
j=$(cat "$TOPO_LOGDIR/hold.json")
eq "held connections: all 200 established" "$(jq .established <<<"$j")" 200
eq "held connections: 0 broken by the upgrade" "$(jq .broken <<<"$j")" 0
eq "held connections: none moved to another backend" "$(jq .switched <<<"$j")" 0
wait "$LOAD_PID"
eq "new connections during the upgrade: none failed" "$(jq .failed "$TOPO_LOGDIR/load.json")" 0

# Afterwards every tool works on the new pins, the counters carried over.
s=$(ctl status web --json)
ge "the flow counters were kept (stable + canary >= before)" \
	"$(jq '[.services[0].arms[].flows] | add' <<<"$s")" "$old_flows"
eq "the service's config came across (weight 10%)" "$(jq '.services[0].canary_weight' <<<"$s")" 10
check "set-weight works" ctl set-weight web 20
check "explain works" ctl explain web --src 10.0.1.2:40000
topo_add_clients 200
r=$(client --target 10.0.0.10:80 --connections 400 --concurrency 32 --source-range 10.1.0.1/200)
eq "new connections after the upgrade, from 200 clients: none failed" "$(jq .failed <<<"$r")" 0
ge "and the canary (20%) gets some of them" "$(canary_share "$r")" 20

# Pins made by an earlier ABI-3 build lack client_hll (it came later, and starts empty):
# every tool still opens them, and the next attach creates it.
rm -f "$PIN_ROOT/client_hll"
check "status works on pins without client_hll" eval 'ctl status web >/dev/null'
need "detach, keeping the pins" spl "$BUILD/canary-loader" detach --all --pin-root "$PIN_ROOT" >/dev/null
need "attach again" topo_attach >/dev/null
check "the attach created client_hll" test -e "$PIN_ROOT/client_hll"
eq "and kept the service (weight 20%)" "$(ctl status web --json | jq '.services[0].canary_weight')" 20
r=$(client --target 10.0.0.10:80 --connections 100 --concurrency 16 --source-range 10.1.0.1/200)
eq "connections after the re-attach: none failed" "$(jq .failed <<<"$r")" 0

# canaryd follows pins that are replaced under it (as at the next upgrade).
need "canaryd on the new pins" agent_start --interval 0.2
spl "$BUILD/canary-loader" detach --all --purge --pin-root "$PIN_ROOT" >/dev/null
need "attach afresh" topo_attach >/dev/null
need "apply" ctl apply -f tests/fuzz/seeds/services/readme.yaml
for ((i = 0; i < 50; i++)); do
	grep -q "were replaced" "$TOPO_LOGDIR/canaryd.log" && break
	sleep 0.1
done
check "canaryd noticed the new maps and follows them" grep -q "were replaced (an upgrade): following them" "$TOPO_LOGDIR/canaryd.log"
sleep 0.5
check "its /metrics shows the service of the new maps" \
	eval 'spl curl -sf http://127.0.0.1:9181/metrics | grep -q "canary_weight_ratio{service=\"web\"} 0.1"'
