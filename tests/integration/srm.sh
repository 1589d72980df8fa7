#!/usr/bin/env bash
# srm.sh: the sample-ratio mismatch guard on real traffic. The canary backend closes 20%
# of its connections after the request without answering (a FIN: no 5xx, no RST), so
# only the missing responses show it. The rollout holds instead of promoting, status
# says why, /metrics has the shares, and a person's resume starts the test afresh.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
need "attach" topo_attach >/dev/null
topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080
topo_backend "$NS_CA" canary-fin --listen 10.0.3.2:8080 --close-rate 0.2 --seed 21
need "canary listener" topo_wait_port "$NS_CA" 10.0.3.2 8080
need "stable listener" topo_wait_port "$NS_ST" 10.0.2.2 8080
apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.31, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
YAML
need "canaryd" agent_start
PLAN=$TOPO_LOGDIR/plan.yaml
cat >"$PLAN" <<'YAML'
service: web
steps: [20, 50, 100]
hold: 30s
min_flows: 30
analysis:
  srm_responses: true
  signals: [http_5xx, resets, errored_flows]
YAML

# New connections, one request each: connections shorter than a step, as the
# responses test needs.
load_start 10.0.0.31:80 150 100 load
out=$(actl rollout start web --plan "$PLAN")
check "rollout starts at 20%" grep -q "web: rollout started: step 1/3 at 20%" <<<"$out"
wait_phase web 60 Paused Succeeded RolledBack
j=$(actl rollout status web --json)
eq "the rollout holds instead of promoting" "$(jq -r .phase <<<"$j")" Paused
eq "paused for a sample-ratio mismatch" "$(jq -r .paused_for <<<"$j")" srm
eq "found by the responses test" "$(jq -r .srm.responses.mismatch <<<"$j")" true
eq "the flows are as expected" "$(jq -r .srm.flows.mismatch <<<"$j")" false
near "responses: the expected share is the flow share (about 20%)" \
	"$(jq .srm.responses.expected_share <<<"$j")" 20 5
le "responses: the observed share is lower" "$(jq .srm.responses.observed_share <<<"$j")" \
	"$(jq '.srm.responses.expected_share - 2' <<<"$j")"
eq "no 5xx was there to see" "$(ctl status web --json | jq '.services[0].arms.canary.signals.http["5xx"]')" 0
out=$(actl rollout status web)
check "status says why" grep -q "sample-ratio mismatch" <<<"$out"
check "status shows the guard's line" grep -q "sample-ratio mismatch guard (HOLDING): srm flows" <<<"$out"
check "canaryd logged the hold with the shares" \
	grep -q "web: paused at step 1/3: sample-ratio mismatch (srm flows" "$TOPO_LOGDIR/canaryd.log"
h=$(actl history web --json)
eq "the history records the hold" "$(jq -r '.[-1].reason' <<<"$h")" srm_hold
check "the history entry gives the shares" grep -q "responses .*MISMATCH" <<<"$(jq -r '.[-1].detail' <<<"$h")"
m=$(spl curl -sf http://127.0.0.1:9181/metrics)
check "/metrics: the mismatch" grep -q 'xdp_canary_srm_mismatch{service="web",unit="responses"} 1' <<<"$m"
check "/metrics: the expected share" grep -q 'xdp_canary_srm_expected_share_ratio{service="web",unit="flows"} 0.2$' <<<"$m"
out=$(promtool check metrics <<<"$m" 2>&1)
check "/metrics passes promtool check metrics${out:+: $out}" test -z "$out"

# The hold lasts (the step hold does not run while paused): the weight stays.
sleep 12
eq "still held 12 s later" "$(phase_of web)" Paused
eq "the weight stays at 20%" "$(ctl status web --json | jq '.services[0].canary_weight')" 20

# A person resumes: the SRM test starts afresh, and finds the same loss again.
actl rollout resume web >/dev/null
eq "resume: progressing again" "$(phase_of web)" Progressing
wait_phase web 30 Paused Succeeded RolledBack
eq "the same loss is found again on fresh evidence" \
	"$(actl rollout status web --json | jq -r .paused_for)" srm
actl rollout abort web >/dev/null
eq "abort ends it at 0%" "$(ctl status web --json | jq '.services[0].canary_weight')" 0
