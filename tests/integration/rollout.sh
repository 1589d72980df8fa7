#!/usr/bin/env bash
# rollout.sh: canaryd runs rollouts on real traffic. A healthy canary completes its plan;
# canaries with injected 5xx or resets are rolled back (the 5xx one at its first step)
# and get no new connection afterwards; a canary whose answers come a few ms later is
# rolled back by the TTFB distribution test (ttfb_order); an A/A run completes; an invalid plan changes
# nothing; /metrics agrees with canaryctl status --json; the history tells what happened.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
need "attach" topo_attach >/dev/null
topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080 --listen 10.0.2.2:8082 --listen 10.0.2.2:8083 \
	--listen 10.0.2.2:8084 --listen 10.0.2.2:8085 --error-rate 0.02 --seed 11
topo_backend "$NS_CA" canary-ok --listen 10.0.3.2:8080
topo_backend "$NS_CA" canary-5xx --listen 10.0.3.2:8082 --error-rate 0.25
topo_backend "$NS_CA" canary-rst --listen 10.0.3.2:8083 --reset-rate 0.25
topo_backend "$NS_CA" canary-aa --listen 10.0.3.2:8084 --error-rate 0.02 --seed 12
topo_backend "$NS_CA" canary-slow --listen 10.0.3.2:8085 --error-rate 0.02 --seed 13 --delay 8
for p in 8080 8082 8083 8084 8085; do need "listeners" topo_wait_port "$NS_CA" 10.0.3.2 $p; done
need "stable listeners" topo_wait_port "$NS_ST" 10.0.2.2 8085
apply_services <<'YAML'
services:
  - { name: ok, vip: 10.0.0.21, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
  - { name: bad5xx, vip: 10.0.0.22, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8082"], canary: ["10.0.3.2:8082"] }
  - { name: badrst, vip: 10.0.0.23, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8083"], canary: ["10.0.3.2:8083"] }
  - { name: aa, vip: 10.0.0.24, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8084"], canary: ["10.0.3.2:8084"] }
  - { name: slow, vip: 10.0.0.25, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8085"], canary: ["10.0.3.2:8085"] }
YAML
need "canaryd" agent_start

plan() { # SERVICE -> a plan file
	cat >"$TOPO_LOGDIR/plan-$1.yaml" <<YAML
service: $1
steps: [10, 25, 50, 100]
hold: 3s
min_flows: 30
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, resets, unanswered_syn, errored_flows]
on_rollback: drain
YAML
	echo "$TOPO_LOGDIR/plan-$1.yaml"
}

# --- 7. an invalid plan is rejected and nothing changes ---------------------------------
bad=$TOPO_LOGDIR/bad-plan.yaml
printf 'service: ok\nsteps: [10, 5, 100]\nhold: ten seconds\nanalysis:\n  signals: [http_5xx, typo]\n' >"$bad"
w0=$(ctl status ok --json | jq -c '.services[0] | [.canary_weight, .generation]')
out=$(actl rollout start ok --plan "$bad" 2>&1)
rc=$?
eq "invalid plan: rollout start exits 1" "$rc" 1
check "invalid plan: names file:line and field (steps)" grep -q "$bad:2: steps\[1\]: steps must rise" <<<"$out"
check "invalid plan: names the hold" grep -q "$bad:3: hold: 'ten seconds' must be a duration" <<<"$out"
check "invalid plan: names the unknown signal" grep -q "$bad:5: analysis.signals\[1\]: unknown signal 'typo'" <<<"$out"
check "invalid plan: says nothing changed" grep -q "nothing was changed" <<<"$out"
eq "invalid plan: weight and generation unchanged" "$(ctl status ok --json | jq -c '.services[0] | [.canary_weight, .generation]')" "$w0"
out=$(actl rollout status ok 2>&1)
check "invalid plan: no rollout exists" grep -q "no rollout" <<<"$out"
out=$(actl plan --dry-run "$(plan ok)")
check "plan --dry-run prints the schedule and durations" grep -q "fastest: 12s" <<<"$out"

# --- 1. a healthy canary completes the plan ---------------------------------------------
load_start 10.0.0.21:80 150 30 load-ok
out=$(actl rollout start ok --plan "$(plan ok)")
check "healthy: rollout starts" grep -q "ok: rollout started: step 1/4 at 10%" <<<"$out"
actl rollout status ok --wait --timeout 40 >"$TOPO_LOGDIR/ok-status.txt"
eq "healthy: status --wait exits 0 (Succeeded)" "$?" 0
eq "healthy: phase" "$(phase_of ok)" Succeeded
eq "healthy: weight ends at 100%" "$(ctl status ok --json | jq '.services[0].canary_weight')" 100
h=$(actl history ok --json)
eq "healthy: history has start + 3 steps" "$(jq -c '[.[].reason]' <<<"$h")" '["start","step","step","step"]'
eq "healthy: history weights" "$(jq -c '[.[].new_weight]' <<<"$h")" '[10,25,50,100]'

# --- 2. injected 5xx: rolled back, and no new connection reaches the canary --------------
load_start 10.0.0.22:80 150 30 load-5xx
actl rollout start bad5xx --plan "$(plan bad5xx)" >/dev/null
wait_phase bad5xx 20 RolledBack Succeeded
eq "5xx: rolled back" "$(phase_of bad5xx)" RolledBack
eq "5xx: weight is 0" "$(ctl status bad5xx --json | jq '.services[0].canary_weight')" 0
check "5xx: the reason names the signal and its evidence" \
	grep -q 'http_5xx: e-value' <<<"$(actl rollout status bad5xx)"
eq "5xx: history records an auto-rollback" "$(actl history bad5xx --json | jq -r '.[-1].reason')" auto-rollback
check "5xx: canaryd logged one line with the evidence" grep -q "bad5xx: ROLLBACK at step 1/4: weight 10% -> 0% (canary flows drain): http_5xx" "$TOPO_LOGDIR/canaryd.log"
r=$(client --target 10.0.0.22:80 --connections 500 --concurrency 32)
eq "5xx: after the rollback no new connection reaches the canary" "$(canary_share "$r")" 0

# --- 2b. injected resets -------------------------------------------------------------------
load_start 10.0.0.23:80 150 30 load-rst
actl rollout start badrst --plan "$(plan badrst)" >/dev/null
wait_phase badrst 20 RolledBack Succeeded
eq "resets: rolled back" "$(phase_of badrst)" RolledBack
check "resets: because of resets or errored flows" \
	grep -Eq '^(resets|errored_flows):' <<<"$(actl rollout status badrst --json | jq -r .reason)"
r=$(client --target 10.0.0.23:80 --connections 300 --concurrency 32)
eq "resets: no new connection reaches the canary" "$(canary_share "$r")" 0

# --- 2c. answers 8 ms later: rolled back by the TTFB distribution test --------------------
cat >"$TOPO_LOGDIR/plan-slow.yaml" <<'YAML'
service: slow
steps: [10, 25, 50, 100]
hold: 3s
min_flows: 30
analysis:
  signals: [http_5xx, {name: ttfb_order, from: 1ms, to: 64ms}]
YAML
out=$(actl plan --dry-run "$TOPO_LOGDIR/plan-slow.yaml")
check "ttfb_order: plan --dry-run names its edges" grep -q "ttfb_order .*at any of 6 edges from 1.02 to 32.8 ms" <<<"$out"
load_start 10.0.0.25:80 150 30 load-slow
actl rollout start slow --plan "$TOPO_LOGDIR/plan-slow.yaml" >/dev/null
wait_phase slow 20 RolledBack Succeeded
eq "ttfb_order: a slower canary is rolled back" "$(phase_of slow)" RolledBack
check "ttfb_order: the reason names the order test and its evidence" \
	grep -q '^ttfb_order: e-value' <<<"$(actl rollout status slow --json | jq -r .reason)"
j=$(actl rollout status slow --json)
check "ttfb_order: status shows its e-value at or past its threshold" \
	jq -e '[.evidence[] | select(.signal == "ttfb_order") | .e_value >= .threshold] == [true]' <<<"$j"
check "ttfb_order: /metrics carries its e-value" \
	grep -q '^xdp_canary_evalue{service="slow",signal="ttfb_order"}' <<<"$(spl curl -sf http://127.0.0.1:9181/metrics)"

# --- 3. A/A: both arms answer 2% of requests with 500; the rollout completes ------------
load_start 10.0.0.24:80 200 30 load-aa
actl rollout start aa --plan "$(plan aa)" >/dev/null
actl rollout status aa --wait --timeout 40 >/dev/null
eq "A/A: completes with no rollback" "$(phase_of aa)" Succeeded
s=$(ctl status aa --json)
for arm in stable canary; do
	ge "A/A: there were 5xx on both arms to compare ($arm)" \
		"$(jq --arg a "$arm" '.services[0].arms[$a].signals.http["5xx"]' <<<"$s")" 5
done

out=$(actl watch ok --count 1 --pin-root "$PIN_ROOT")
check "watch draws the arms and the rollout" grep -q "ok: Succeeded, step 4/4" <<<"$out"
check "watch shows the data plane's health too" grep -q "errored flows" <<<"$out"

# --- 6. /metrics agrees with canaryctl status --json ---------------------------------------
wait "$LOAD_PID" 2>/dev/null
sleep 2.5 # traffic has stopped; let canaryd poll at least twice
m=$(spl curl -sf http://127.0.0.1:9181/metrics)
s=$(ctl status --json)
check "/metrics scrapes (Prometheus text)" grep -q '^# TYPE xdp_canary_flows_total counter' <<<"$m"
out=$(promtool check metrics <<<"$m" 2>&1)
check "/metrics passes promtool check metrics${out:+: $out}" test -z "$out"
bad=0
for svc in ok bad5xx badrst aa; do
	for arm in stable canary; do
		mf=$(awk -v l="xdp_canary_flows_total{service=\"$svc\",arm=\"$arm\"}" '$1 == l { print $2 }' <<<"$m")
		sf=$(jq --arg s "$svc" --arg a "$arm" '.services[] | select(.name == $s) | .arms[$a].flows' <<<"$s")
		mp=$(awk -v l="xdp_canary_packets_total{service=\"$svc\",arm=\"$arm\",direction=\"to_backend\"}" '$1 == l { print $2 }' <<<"$m")
		sp=$(jq --arg s "$svc" --arg a "$arm" '.services[] | select(.name == $s) | .arms[$a].fwd_packets' <<<"$s")
		[ -n "$mf" ] && [ "$mf" = "$sf" ] && [ "$mp" = "$sp" ] || {
			bad=$((bad + 1))
			echo "# $svc/$arm: metrics flows=$mf packets=$mp, status flows=$sf packets=$sp"
		}
	done
done
eq "/metrics flows and packets equal status --json for 4 services x 2 arms" "$bad" 0
wm=$(awk '$1 == "xdp_canary_canary_weight_ratio{service=\"ok\"}" { print $2 }' <<<"$m")
eq "/metrics canary weight of ok" "$wm" 1
check "/metrics rollout phase" grep -q 'xdp_canary_rollout_phase{service="bad5xx",phase="RolledBack"} 1' <<<"$m"
check "/metrics e-value threshold" grep -q 'xdp_canary_evalue_threshold{service="ok",signal="http_5xx"} 100' <<<"$m"
check "/metrics weight changes by reason" grep -q 'xdp_canary_weight_changes_total{service="bad5xx",reason="auto-rollback"} 1' <<<"$m"
if grep -Eq '10\.(0\.1|1)\.' <<<"$m"; then not_ok "/metrics has no client addresses"; else ok "/metrics has no client addresses"; fi
