#!/usr/bin/env bash
# metrics.sh: business metrics from outside the data plane. A recommendation service:
# the client "clicks" on each answer with a probability that depends on the backend
# that gave it, and pushes the counts per arm. A canary with a lower click-through rate
# is rolled back; an equal one is promoted. Then the same through a real Prometheus
# server scraping an exporter; a Prometheus that stops answering pauses the rollout
# (measurement errors) instead of rolling it back.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - { name: reco, vip: 10.0.0.10, port: 80, hash: flow,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML
need "canaryd" agent_start

push_plan() {
	cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: reco
steps: [10, 30, 60, 100]
hold: 4s
min_flows: 20
analysis:
  signals: [resets, errored_flows]
  metrics:
    - name: ctr
      direction: lower_is_worse
      tolerance: 1.05
      source: push
      stale_after: 10s
YAML
	echo "$TOPO_LOGDIR/plan.yaml"
}

# One round of the recommendation client: 200 requests, clicks by backend, pushed per
# arm. $1 and $2: click probability on stable and canary answers.
round() {
	local r s_t s_s c_t c_s
	r=$(client --target 10.0.0.10:80 --connections 200 --concurrency 32 --seed "$RANDOM" \
		--click-prob "stable-1=$1" --click-prob "stable-2=$1" --click-prob "canary-1=$2")
	s_t=$(arm_sum "$r" clicks stable trials)
	s_s=$(arm_sum "$r" clicks stable successes)
	c_t=$(arm_sum "$r" clicks canary trials)
	c_s=$(arm_sum "$r" clicks canary successes)
	actl metric push reco --arm stable --name ctr --successes "$s_s" --trials "$s_t" >/dev/null
	actl metric push reco --arm canary --name ctr --successes "$c_s" --trials "$c_t" >/dev/null
}

run_rounds() { # CTR-STABLE CTR-CANARY MAX-SECONDS
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		case "$(phase_of reco)" in Succeeded | RolledBack | Aborted) return 0 ;; esac
		round "$1" "$2"
		sleep 0.3
	done
}

# --- the canary's recommendations get half the clicks --------------------------------------
actl rollout start reco --plan "$(push_plan)" >/dev/null
run_rounds 0.30 0.15 60
eq "lower CTR: rolled back" "$(phase_of reco)" RolledBack
r=$(actl rollout status reco --json)
check "lower CTR: because of the ctr metric" grep -q '^ctr: e-value' <<<"$(jq -r .reason <<<"$r")"
ge "lower CTR: stable trials were counted" "$(jq '.metrics[0].stable.trials' <<<"$r")" 100
near "lower CTR: measured canary CTR" "$(jq '.metrics[0].canary.rate' <<<"$r")" 0.15 0.08
eq "lower CTR: weight back to 0" "$(ctl status reco --json | jq '.services[0].canary_weight')" 0
out=$(actl metric push reco --arm canary --name ctr --successes 5 --trials 1 2>&1)
check "metric push: successes above trials is a usage error" grep -q "cannot exceed --trials" <<<"$out"

# --- an equally good canary is promoted ----------------------------------------------------
actl rollout start reco --plan "$(push_plan)" >/dev/null
run_rounds 0.30 0.30 60
eq "equal CTR: promoted" "$(phase_of reco)" Succeeded
eq "equal CTR: weight 100%" "$(ctl status reco --json | jq '.services[0].canary_weight')" 100

# --- pulled from a real Prometheus ---------------------------------------------------------
EXPO=$TOPO_LOGDIR/exporter.prom
printf 'reco_clicks_total{arm="stable"} 0\nreco_clicks_total{arm="canary"} 0\nreco_impressions_total{arm="stable"} 0\nreco_impressions_total{arm="canary"} 0\n' >"$EXPO"
bg_in_ns "$NS_SPL" "$BUILD/tools/textserve" 127.0.0.1 9300 "$EXPO"
cat >"$TOPO_LOGDIR/prometheus.yml" <<'YAML'
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: reco
    static_configs:
      - targets: ["127.0.0.1:9300"]
YAML
bg_in_ns "$NS_SPL" prometheus --config.file="$TOPO_LOGDIR/prometheus.yml" \
	--storage.tsdb.path="$TOPO_LOGDIR/tsdb" --web.listen-address=127.0.0.1:9090 \
	>"$TOPO_LOGDIR/prometheus.log" 2>&1
PROM=$BG_PID
ready=0
for i in $(seq 1 100); do
	if spl curl -sf "http://127.0.0.1:9090/api/v1/query?query=reco_clicks_total" | grep -q '"arm":"canary"'; then
		ready=1
		break
	fi
	sleep 0.2
done
eq "Prometheus is up and scraping the exporter" "$ready" 1

cat >"$TOPO_LOGDIR/plan-prom.yaml" <<'YAML'
service: reco
steps: [10, 30, 100]
hold: 4s
min_flows: 10
analysis:
  signals: [resets]
  metrics:
    - name: ctr
      direction: lower_is_worse
      tolerance: 1.05
      error_limit: 3
      source:
        prometheus:
          url: http://127.0.0.1:9090
          successes:
            stable: 'sum(reco_clicks_total{arm="stable"})'
            canary: 'sum(reco_clicks_total{arm="canary"})'
          trials:
            stable: 'sum(reco_impressions_total{arm="stable"})'
            canary: 'sum(reco_impressions_total{arm="canary"})'
YAML
ctl set-weight reco 0 >/dev/null
actl rollout start reco --plan "$TOPO_LOGDIR/plan-prom.yaml" >/dev/null
# The application exports cumulative clicks and impressions; the canary's CTR is lower.
sc=0 si=0 cc=0 ci=0
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ] && [ "$(phase_of reco)" != RolledBack ]; do
	r=$(client --target 10.0.0.10:80 --connections 200 --concurrency 32 --seed "$RANDOM" \
		--click-prob stable-1=0.3 --click-prob stable-2=0.3 --click-prob canary-1=0.12)
	si=$((si + $(arm_sum "$r" clicks stable trials)))
	sc=$((sc + $(arm_sum "$r" clicks stable successes)))
	ci=$((ci + $(arm_sum "$r" clicks canary trials)))
	cc=$((cc + $(arm_sum "$r" clicks canary successes)))
	printf 'reco_clicks_total{arm="stable"} %d\nreco_clicks_total{arm="canary"} %d\nreco_impressions_total{arm="stable"} %d\nreco_impressions_total{arm="canary"} %d\n' \
		"$sc" "$cc" "$si" "$ci" >"$EXPO.tmp" && mv "$EXPO.tmp" "$EXPO"
	sleep 0.5
done
eq "Prometheus: lower CTR rolled back" "$(phase_of reco)" RolledBack
r=$(actl rollout status reco --json)
check "Prometheus: because of ctr" grep -q '^ctr: e-value' <<<"$(jq -r .reason <<<"$r")"
# How many trials the rollback needed depends on the draw (44 were seen): what matters is
# that some were read, and no more than the exporter ever published.
ct=$(jq '.metrics[0].canary.trials' <<<"$r")
ge "Prometheus: the agent read canary trials from Prometheus" "$ct" 1
le "Prometheus: no more canary trials than the exporter published" "$ct" "$ci"

# --- a failing metric source pauses, it does not roll back ---------------------------------
ctl set-weight reco 0 >/dev/null
actl rollout start reco --plan "$TOPO_LOGDIR/plan-prom.yaml" >/dev/null
kill "$PROM"
wait "$PROM" 2>/dev/null
load_start 10.0.0.10:80 100 10 load
wait_phase reco 15 Paused
eq "Prometheus down: the rollout pauses" "$(phase_of reco)" Paused
r=$(actl rollout status reco --json)
eq "Prometheus down: paused for metric errors" "$(jq -r .paused_for <<<"$r")" metric_errors
ge "Prometheus down: measurement errors counted" "$(jq '.metrics[0].consecutive_errors' <<<"$r")" 3
eq "Prometheus down: not rolled back (weight stays 10%)" "$(ctl status reco --json | jq '.services[0].canary_weight')" 10

# --- a Prometheus that hangs does not hold up the poll ------------------------------------
# The queries run on their own thread: while each one waits out its timeout, the counters
# are still read every interval (a rollback never waits for Prometheus).
actl rollout abort reco >/dev/null
ctl set-weight reco 0 >/dev/null
# No traffic in this part: the steps must not pass on their holds while it runs (the
# load of the part above could still be running on a slow machine).
wait "$LOAD_PID" 2>/dev/null
bg_in_ns "$NS_SPL" "$BUILD/tools/textserve" 127.0.0.1 9091 --silent
sed 's#127.0.0.1:9090#127.0.0.1:9091#; s#error_limit: 3#error_limit: 1000#' \
	"$TOPO_LOGDIR/plan-prom.yaml" >"$TOPO_LOGDIR/plan-hung.yaml"
actl rollout start reco --plan "$TOPO_LOGDIR/plan-hung.yaml" >/dev/null
polls() { spl curl -sf http://127.0.0.1:9181/metrics | awk '$1 == "xdp_canary_agent_polls_total" { print $2 }'; }
errors() { actl rollout status reco --json | jq '.metrics[0].consecutive_errors'; }
sleep 2.5
p0=$(polls) e0=$(errors)
sleep 12
p1=$(polls) e1=$(errors)
# Each round waits out a 2 s timeout; the poll runs every 1 s. Were the two on one
# thread, there would be one poll per timed-out round.
ge "hung Prometheus: queries time out (measurement errors)" "$((e1 - e0))" 3
ge "hung Prometheus: polls go on meanwhile (2 x polls >= 3 x timed-out rounds)" "$((2 * (p1 - p0)))" "$((3 * (e1 - e0)))"
check "hung Prometheus: the error names the timeout" grep -q "no answer from .* within" <<<"$(actl rollout status reco --json | jq -r '.metrics[0].last_error')"
eq "hung Prometheus: still progressing" "$(phase_of reco)" Progressing
