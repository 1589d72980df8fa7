#!/usr/bin/env bash
# weight_under_load.sh: long-lived keep-alive connections keep their backend while the
# canary weight is raised step by step (and rolled back): zero broken connections, no
# connection ever answered by two backends. New connections follow the new weights.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: flow
    canary_weight: 1
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
  - name: web6
    vip: "fd00::10"
    port: 80
    hash: flow
    canary_weight: 1
    stable: ["[fd00:2::2]:8080", "[fd00:2::3]:8080"]
    canary: ["[fd00:3::2]:8080"]
YAML

HOLD=200                         # keep-alive connections per family
RATE=200                         # new connections per second meanwhile
WEIGHTS=(5 10 25 50 75 100 0 50) # the weight moves through these, 1.2 s each
# 400 connections open at once on a busy 2-CPU machine: a SYN dropped by a full accept
# queue is sent again after 1 s and 3 s, so the 2 s default would call it failed. A hang
# catcher, not a performance bound.
OPEN_TIMEOUT_MS=8000

# HOLD keep-alive connections (v4 and v6), a request on each every 50 ms, for 14 s.
client --target 10.0.0.10:80 --hold 14 --connections "$HOLD" --interval 50 --expect-2xx \
	--timeout "$OPEN_TIMEOUT_MS" \
	>"$TOPO_LOGDIR/hold4.json" 2>"$TOPO_LOGDIR/hold4.err" &
h4=$!
client --target '[fd00::10]:80' --hold 14 --connections "$HOLD" --interval 50 --expect-2xx \
	--timeout "$OPEN_TIMEOUT_MS" \
	>"$TOPO_LOGDIR/hold6.json" 2>"$TOPO_LOGDIR/hold6.err" &
h6=$!
# Meanwhile, a stream of new connections, and the weight moving under both.
client --target 10.0.0.10:80 --rate "$RATE" --duration 13 --expect-2xx \
	>"$TOPO_LOGDIR/rate.json" 2>"$TOPO_LOGDIR/rate.err" &
rt=$!
sleep 1
# status --rates reads the counters twice: the new-connection rate shows.
rates=$(ctl status web --rates=1.5 --json)
fps=$(jq '[.services[0].arms[].rates.flows_per_s] | add' <<<"$rates")
near "status --rates: new flows per second under a $RATE/s load" "$(printf '%.0f' "$fps")" "$RATE" $((RATE / 4))
gen0=$(ctl status web --json | jq '.services[0].generation')
for w in "${WEIGHTS[@]}"; do
	ctl set-weight web "$w" >/dev/null
	ctl set-weight web6 "$w" >/dev/null
	sleep 1.2
done
wait $h4 $h6 $rt

for f in hold4 hold6; do
	j=$(cat "$TOPO_LOGDIR/$f.json")
	eq "$f: all $HOLD connections established" "$(jq .established <<<"$j")" "$HOLD"
	eq "$f: broken connections while the weight moved ${#WEIGHTS[@]} times" "$(jq .broken <<<"$j")" 0
	eq "$f: connections answered by more than one backend" "$(jq .switched <<<"$j")" 0
	# The held connections were in use throughout: at least one request on each per
	# weight change (they make one every 50 ms, a change comes every 1.2 s).
	ge "$f: requests served on the held connections (>= one per connection per change)" \
		"$(jq .requests <<<"$j")" $((HOLD * ${#WEIGHTS[@]}))
done
j=$(cat "$TOPO_LOGDIR/rate.json")
eq "new connections during the changes: none failed" "$(jq .failed <<<"$j")" 0
ge "new connections during the changes: some reached canary" "$(canary_share "$j")" 100
gen=$(ctl status web --json | jq '.services[0].generation')
eq "each weight change was one config generation" "$gen" $((gen0 + ${#WEIGHTS[@]}))
