#!/usr/bin/env bash
# rollout_control.sh: the agent survives itself and people stay in charge. kill -9 of
# canaryd mid-ramp leaves traffic flowing (no failed connection) and a restart resumes
# the same step with the evidence restored; pause, resume, promote (a gate, and --full)
# and abort work while a rollout runs; a weight set by hand is noticed, recorded and
# not undone.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML
need "canaryd" agent_start
PLAN=$TOPO_LOGDIR/plan.yaml
cat >"$PLAN" <<'YAML'
service: web
steps: [5, {weight: 20, gate: true}, 60, 100]
hold: 4s
min_flows: 20
analysis:
  signals: [http_5xx, resets, unanswered_syn, errored_flows]
YAML
weight() { ctl status web --json | jq '.services[0].canary_weight'; }
step() { actl rollout status web --json | jq .step; }

# Long-lived connections and new ones keep flowing throughout.
client --target 10.0.0.10:80 --hold 40 --connections 50 --interval 100 --expect-2xx \
	>"$TOPO_LOGDIR/hold.json" 2>/dev/null &
HOLD=$!
TOPO_PIDS+=($HOLD)
load_start 10.0.0.10:80 150 40 load

# --- 4. kill -9 mid-ramp ------------------------------------------------------------------
actl rollout start web --plan "$PLAN" >/dev/null
wait_phase web 15 WaitingForGate
eq "the ramp reaches the gate at step 2" "$(step)" 2
e_before=$(actl rollout status web --json | jq '.evidence[0].canary.exposure')
{
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID"
} 2>/dev/null
sleep 2
eq "with canaryd killed, the weight stays at 20%" "$(weight)" 20
r=$(client --target 10.0.0.10:80 --connections 300 --concurrency 32)
eq "with canaryd killed, new connections still succeed" "$(jq .failed <<<"$r")" 0
need "restart canaryd" agent_start
eq "after the restart: the same rollout, still waiting at the gate" "$(phase_of web)" WaitingForGate
eq "after the restart: the same step" "$(step)" 2
sleep 1.5
e_after=$(actl rollout status web --json | jq '.evidence[0].canary.exposure')
ge "after the restart: the evidence is restored and keeps growing" "$e_after" "$e_before"
check "canaryd logged the resume" grep -q "web: resuming the rollout at step 2/4" "$TOPO_LOGDIR/canaryd.log"

# --- 5. promote through the gate, pause, resume ---------------------------------------------
out=$(actl rollout promote web)
check "promote passes the gate" grep -q "step 3/4" <<<"$out"
eq "weight after the gate" "$(weight)" 60
out=$(actl rollout pause web)
check "pause" grep -q "Paused" <<<"$out"
sleep 5
eq "paused: no step passes (the hold is 4 s)" "$(step)" 3
out=$(actl rollout pause web 2>&1)
check "pausing twice says so" grep -q "already paused" <<<"$out"
out=$(actl rollout resume web)
check "resume" grep -q "Progressing" <<<"$out"

# --- a weight set by hand is noticed and not undone ------------------------------------------
ctl set-weight web 35 >/dev/null
sleep 2.5
eq "manual set-weight: the agent pauses" "$(phase_of web)" Paused
eq "manual set-weight: ... for the manual weight" "$(actl rollout status web --json | jq -r .paused_for)" manual_weight
sleep 4
eq "manual set-weight: the weight is not undone" "$(weight)" 35
eq "manual set-weight: history records it" "$(actl history web --json | jq -r '.[-1] | "\(.reason) \(.new_weight)"')" "manual 35"
out=$(actl rollout resume web)
eq "resume after a manual weight continues above it" "$(weight)" 60

# --- promote --full, then abort of a second rollout ----------------------------------------
out=$(actl rollout promote web --full)
check "promote --full" grep -q "Succeeded" <<<"$out"
eq "promote --full: weight 100%" "$(weight)" 100
out=$(actl rollout abort web 2>&1)
check "abort after the end is refused with a reason" grep -q "has ended (Succeeded)" <<<"$out"
ctl set-weight web 0 >/dev/null
actl rollout start web --plan "$PLAN" >/dev/null
sleep 1.5
out=$(actl rollout abort web)
check "abort" grep -q "Aborted" <<<"$out"
eq "abort: weight 0" "$(weight)" 0
actl rollout status web --wait --timeout 5 >/dev/null
eq "status --wait exits non-zero for Aborted" "$?" 1
r=$(actl history web --json)
eq "history reasons, in order (commands that move no weight too)" "$(jq -c '[.[].reason]' <<<"$r")" \
	'["start","step","promote","pause","resume","manual","step","promote","start","abort"]'
eq "history actors: the agent, root through the socket, and the maps for a change by hand" \
	"$(jq -c '[.[].actor] | unique' <<<"$r")" '["canaryd","maps","uid:0(root)"]'

wait $HOLD
j=$(cat "$TOPO_LOGDIR/hold.json")
eq "held connections broken through all of it (kill -9 included)" "$(jq .broken <<<"$j")" 0
eq "held connections that switched backend" "$(jq .switched <<<"$j")" 0
wait "$LOAD_PID"
eq "new connections that failed through all of it" "$(jq .failed "$TOPO_LOGDIR/load.json")" 0
