#!/usr/bin/env bash
# prom_answers.sh: a Prometheus that answers with anything. canaryd pulls a business
# metric from a server that answers every query with the next malformed shape of
# tests/data/prom-answers (wrong types, NaN and infinities, numbers past 2^53, no data,
# not JSON, truncated, HTTP 500, a redirect, slower than the timeout, a body over the
# size limit). canaryd stays up through every one, counts each as a measurement error,
# pauses the rollout (never rolls it back), and a restart that reloads the same plan is
# just as calm.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - { name: reco, vip: 10.0.0.10, port: 80, hash: flow, canary_weight: 0,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML

answers=$TOPO_LOGDIR/answers
mkdir -p "$answers"
cp tests/data/prom-answers/bad-* "$answers/"
# A body over canaryd's 1 MiB limit, made here rather than kept in the tree.
{
	printf '{"status":"success","data":{"result":[{"value":[1,"5"]}]},"pad":"'
	head -c 1200000 /dev/zero | tr '\0' 'x'
	printf '"}'
} >"$answers/bad-too-large.json"
nshapes=$(ls "$answers" | wc -l)
bg_in_ns "$NS_SPL" "$BUILD/tools/textserve" 127.0.0.1 9095 --answers "$answers" \
	>"$TOPO_LOGDIR/served.log"
need "hostile Prometheus" topo_wait_port "$NS_SPL" 127.0.0.1 9095

cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: reco
steps: [10, 100]
hold: 600s
analysis:
  signals: [resets]
  metrics:
    - name: ctr
      error_limit: 3
      source:
        prometheus:
          url: http://127.0.0.1:9095
          successes: { stable: 's{arm="stable"}', canary: 's{arm="canary"}' }
          trials: { stable: 't{arm="stable"}', canary: 't{arm="canary"}' }
YAML
need "canaryd" agent_start --interval 0.2
actl rollout start reco --plan "$TOPO_LOGDIR/plan.yaml" >/dev/null

served() { wc -l <"$TOPO_LOGDIR/served.log"; }
# Each round asks until its first error, so a round takes one shape; the slow one waits
# out canaryd's 2 s timeout. Two laps of the corpus, with a generous bound for a hang.
for ((i = 0; i < 600; i++)); do
	[ "$(served)" -ge $((2 * nshapes)) ] && break
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 0.1
done
ge "every shape was served twice ($nshapes shapes)" "$(served)" $((2 * nshapes))
check "canaryd is still running after all of them" kill -0 "$AGENT_PID"
check "canaryd still answers" spl curl -sf -o /dev/null http://127.0.0.1:9181/healthz
r=$(actl rollout status reco --json)
ge "each answer counted as a measurement error" "$(jq '.metrics[0].consecutive_errors' <<<"$r")" $((2 * nshapes - 2))
eq "the rollout paused for metric errors" "$(jq -r .paused_for <<<"$r")" metric_errors
eq "it was not rolled back (the weight stays)" "$(ctl status reco --json | jq '.services[0].canary_weight')" 10
check "the last error says what was wrong" test -n "$(jq -r '.metrics[0].last_error' <<<"$r")"
# Every kind of refusal shows up among the errors canaryd logged.
for what in "not JSON" "not a count" "no data" "HTTP 500" "redirected" "no answer from" \
	"larger than" "not a string" "not an instant vector"; do
	check "an answer was refused as: $what" grep -q "$what" "$TOPO_LOGDIR/canaryd.log"
done

# The saved plan is reloaded at a restart (kill -9, as a crash would): just as calm.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
before=$(served)
need "canaryd restarts" agent_start --interval 0.2
for ((i = 0; i < 300; i++)); do
	[ "$(served)" -ge $((before + nshapes)) ] && break
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 0.1
done
ge "after the restart, another lap of the corpus was served" "$(served)" $((before + nshapes))
check "after the restart, canaryd is still running" kill -0 "$AGENT_PID"
eq "after the restart, the rollout is still paused" "$(phase_of reco)" Paused
