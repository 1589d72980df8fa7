#!/usr/bin/env bash
# soak.sh: long runs that make test does not afford (make soak runs all three; results in
# docs/RELIABILITY.md):
#   scripts/soak.sh steady [SECONDS]  steady TCP and UDP load through the topology for
#                                     SECONDS (default 600) while the weight moves 1000
#                                     times and the canary is rolled back 10 times: count
#                                     the established connections broken and the
#                                     requests failed (the goal is 0)
#   scripts/soak.sh kills [N]         kill -9 canaryd N times (default 20) in the middle
#                                     of a rollout under load: 0 failed connections, and
#                                     it resumes at the step it saved every time
#   scripts/soak.sh flood [FLOWS]     a full flow table (--flows FLOWS, default 4096) under
#                                     a spoofed SYN flood while 500 clients keep long
#                                     connections open: 0 of them broken
# Prints "ok - " / "not ok - " lines and a closing count, like the tests.
# tests/integration/kills.sh sources this file with SOAK_LIB=1 and runs `kills 3`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BUILD=${BUILD:-build}
what=${1:-all}
. tests/integration/lib.sh

say() { printf '# %s\n' "$*"; }

steady() {
	local secs=${1:-600} changes=1000 rollbacks=10 i w
	need "create topology" topo_create
	need "attach" topo_attach >/dev/null
	need "start backends" topo_backends
	apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, canary_weight: 10,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
  - { name: dns, vip: 10.0.0.10, port: 53, protocol: udp, hash: flow, canary_weight: 10,
      stable: ["10.0.2.2:5353", "10.0.2.3:5353"], canary: ["10.0.3.2:5353"] }
YAML
	say "steady: ${secs}s of load, $changes weight changes, $rollbacks rollbacks"
	client --target 10.0.0.10:80 --hold "$secs" --connections 200 --interval 200 --expect-2xx \
		--deadline $((secs + 60)) >"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
	local hold=$!
	client --target 10.0.0.10:80 --rate 50 --duration "$secs" --expect-2xx --timeout 3000 \
		--deadline $((secs + 60)) >"$TOPO_LOGDIR/rate.json" 2>"$TOPO_LOGDIR/rate.err" &
	local rate=$!
	# UDP: 200 requests (each a new flow) every second, for the whole run.
	(
		end=$((SECONDS + secs))
		while [ $SECONDS -lt $end ]; do
			client --target 10.0.0.10:53 --udp --requests 200 --concurrency 4
			sleep 0.5
		done | jq -s '{ok: (map(.ok) | add), failed: (map(.failed) | add)}'
	) >"$TOPO_LOGDIR/udp.json" 2>"$TOPO_LOGDIR/udp.err" &
	local udp=$!
	SECONDS=0
	local last=10 made=0
	for ((i = 1; i <= changes; i++)); do
		if ((i % (changes / rollbacks) == 0)); then
			w=0
			ctl rollback web >/dev/null
			ctl rollback dns >/dev/null
		else
			# A new weight every time (the same one would change nothing).
			w=$(((last + 1 + RANDOM % 100) % 101))
			ctl set-weight web "$w" >/dev/null
			ctl set-weight dns "$w" >/dev/null
		fi
		[ "$w" != "$last" ] && made=$((made + 1))
		last=$w
		sleep "$(awk -v s="$secs" -v n="$changes" -v e="$SECONDS" -v i="$i" \
			'BEGIN { t = s * i / n - e; if (t < 0) t = 0; printf "%.3f", t }')"
	done
	wait "$hold" "$rate" "$udp"
	local h r u
	h=$(cat "$TOPO_LOGDIR/hold.json") r=$(cat "$TOPO_LOGDIR/rate.json") u=$(cat "$TOPO_LOGDIR/udp.json")
	say "steady: held $(jq .established <<<"$h") connections, $(jq .requests <<<"$h") requests on them; $(jq .ok <<<"$r") new connections; $(jq .ok <<<"$u") UDP requests"
	eq "steady: held connections established" "$(jq .established <<<"$h")" 200
	eq "steady: established connections broken over ${secs}s" "$(jq .broken <<<"$h")" 0
	eq "steady: held connections answered by two backends" "$(jq .switched <<<"$h")" 0
	eq "steady: new connections failed (of $(jq '.ok + .failed' <<<"$r"))" "$(jq .failed <<<"$r")" 0
	eq "steady: UDP requests failed (of $(jq '.ok + .failed' <<<"$u"))" "$(jq .failed <<<"$u")" 0
	eq "steady: every weight change was one config generation ($made changes, $rollbacks rollbacks)" \
		"$(ctl status web --json | jq '.services[0].generation')" $((made + 1))
	ge "steady: weight changes made" "$made" $((changes - rollbacks))
	topo_destroy
}

kills() {
	local n=${1:-20} i s1 s2 saved resumed=0 back=0
	need "create topology" topo_create
	need "attach" topo_attach >/dev/null
	need "start backends" topo_backends
	apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, canary_weight: 0,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML
	local steps
	steps=$(seq -s, 1 $((n + 5)))
	cat >"$TOPO_LOGDIR/plan.yaml" <<YAML
service: web
steps: [${steps}]
hold: 2s
min_flows: 10
analysis:
  signals: [http_5xx, resets, errored_flows]
YAML
	need "canaryd" agent_start --interval 0.2
	say "kills: $n x kill -9 of canaryd during a $((n + 6))-step rollout under load"
	client --target 10.0.0.10:80 --hold $((n * 3 + 20)) --connections 100 --interval 100 --expect-2xx \
		>"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
	local hold=$!
	load_start 10.0.0.10:80 100 $((n * 3 + 15)) load
	actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml" >/dev/null
	for ((i = 1; i <= n; i++)); do
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + r / 32767 * 2 }')"
		s1=$(actl rollout status web --json | jq .step)
		kill -9 "$AGENT_PID"
		wait "$AGENT_PID" 2>/dev/null
		saved=$(jq '.step + 1' "$TOPO_LOGDIR/state/rollout-web.json")
		need "canaryd restarts ($i)" agent_start --interval 0.2
		s2=$(actl rollout status web --json | jq .step)
		[ "$s2" = "$saved" ] && resumed=$((resumed + 1))
		[ "$saved" -ge "$s1" ] || back=$((back + 1))
	done
	eq "kills: resumed at the saved step after every kill" "$resumed" "$n"
	eq "kills: the saved step never went back" "$back" 0
	wait "$hold" "$LOAD_PID"
	eq "kills: held connections broken" "$(jq .broken "$TOPO_LOGDIR/hold.json")" 0
	eq "kills: new connections failed (of $(jq '.ok + .failed' "$TOPO_LOGDIR/load.json"))" \
		"$(jq .failed "$TOPO_LOGDIR/load.json")" 0
	topo_destroy
}

flood() {
	local flows=${1:-4096} clients=500
	need "create topology" topo_create
	need "attach with a small flow table" topo_attach --flows "$flows" --pending "$flows" >/dev/null
	need "start backends" topo_backends
	apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: client, canary_weight: 10,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML
	topo_add_clients "$clients"
	say "flood: $clients clients hold connections; spoofed SYNs at 20,000/s for 20 s into a $flows-entry table"
	client --target 10.0.0.10:80 --hold 40 --connections "$clients" --interval 250 --expect-2xx \
		--source-range 10.1.0.1/"$clients" >"$TOPO_LOGDIR/hold.json" 2>"$TOPO_LOGDIR/hold.err" &
	local hold=$!
	sleep 5
	cli "$BUILD/tools/spray" --src 10.1.128.0/17 --sport 10000 --dst 10.0.0.10 --dport 80 \
		--flags S --count 400000 --rate 20000 >"$TOPO_LOGDIR/spray.out"
	sleep 2
	local r
	r=$(client --target 10.0.0.10:80 --connections 200 --concurrency 32)
	wait "$hold"
	say "flood: $(cat "$TOPO_LOGDIR/spray.out") spoofed SYNs"
	eq "flood: held connections established" "$(jq .established "$TOPO_LOGDIR/hold.json")" "$clients"
	eq "flood: established connections broken" "$(jq .broken "$TOPO_LOGDIR/hold.json")" 0
	eq "flood: new connections right after it failed (of 200)" "$(jq .failed <<<"$r")" 0
	topo_destroy
}

[ "${SOAK_LIB:-0}" = 1 ] && return 0

case $what in
steady) steady "${2:-600}" ;;
kills) kills "${2:-20}" ;;
flood) flood "${2:-4096}" ;;
all)
	steady "${2:-600}"
	kills 20
	flood 4096
	;;
*)
	echo "usage: $0 steady [SECONDS] | kills [N] | flood [FLOWS] | all" >&2
	exit 2
	;;
esac
[ "$T_FAILED" = 0 ]
