#!/usr/bin/env bash
# argo.sh: the Argo Rollouts web-provider contract. contrib/argo/analysis-template.yaml's
# own jsonPath and conditions, evaluated as Argo evaluates them, against canaryd's
# GET /api/v1/rollouts/SVC/verdict on the read-only TCP listener (no token) during real
# rollouts: a healthy canary measures Successful (continue, then promote), a canary with
# injected 5xx measures Failed (rollback) and the answer is still a 200; an unknown
# service is a 404 with a JSON error.
. "$(dirname "$0")/lib.sh"

TPL=$(dirname "$0")/../../contrib/argo/analysis-template.yaml
field() { sed -n "s/^ *$1: *//p" "$TPL" | head -1; }
JSONPATH=$(field jsonPath | sed 's/^"\(.*\)"$/\1/')
SUCCESS=$(field successCondition)
FAILURE=$(field failureCondition)

# Argo's jsonPath "{$.a.b}" is jq's ".a.b"; anything else is beyond this evaluator.
jsonpath() {
	[[ $JSONPATH =~ ^\{\$(\.[A-Za-z_][A-Za-z0-9_.]*)\}$ ]] || { echo "unsupported jsonPath $JSONPATH"; return 1; }
	jq -r "${BASH_REMATCH[1]}" <<<"$1"
}
# A condition of terms 'result == "S"' joined by '||': 0 when it holds, 1 when not, 2
# when the expression is beyond this evaluator.
cond() {
	local expr=$1 result=$2 term
	local IFS='|'
	for term in ${expr//||/|}; do
		[[ $term =~ ^\ *result\ ==\ \"([^\"]*)\"\ *$ ]] || return 2
		[ "${BASH_REMATCH[1]}" = "$result" ] && return 0
	done
	return 1
}
# The body of the last measurement of a service.
last() { cat "$TOPO_LOGDIR/verdict-$1.json"; }
# One Argo measurement: an HTTP status other than 2xx is Error; else the failure
# condition is tried first, then the success condition; neither is Inconclusive.
measure() {
	local svc=$1 body code result
	body=$(spl curl -s -w '\n%{http_code}' "http://127.0.0.1:9181/api/v1/rollouts/$svc/verdict")
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	printf '%s\n' "$body" >"$TOPO_LOGDIR/verdict-$svc.json"
	[[ $code == 2?? ]] || { echo Error; return; }
	result=$(jsonpath "$body") || { echo Error; return; }
	cond "$FAILURE" "$result"
	case $? in 0) echo Failed; return ;; 2) echo "unsupported: $FAILURE"; return ;; esac
	cond "$SUCCESS" "$result"
	case $? in 0) echo Successful ;; 1) echo Inconclusive ;; *) echo "unsupported: $SUCCESS" ;; esac
}

check "the template has a jsonPath and both conditions" test -n "$JSONPATH" -a -n "$SUCCESS" -a -n "$FAILURE"
eq "evaluator: promote is Successful" "$(cond "$SUCCESS" promote; echo $?)" 0
eq "evaluator: rollback meets the failure condition" "$(cond "$FAILURE" rollback; echo $?)" 0
eq "evaluator: continue does not meet the failure condition" "$(cond "$FAILURE" continue; echo $?)" 1
eq "evaluator: another word meets neither (Inconclusive)" "$(cond "$SUCCESS" maybe; echo $?)$(cond "$FAILURE" maybe; echo $?)" 11

need "create topology" topo_create
need "attach" topo_attach >/dev/null
topo_backend "$NS_ST" stable-1 --listen 10.0.2.2:8080 --listen 10.0.2.2:8082 --error-rate 0.02 --seed 21
topo_backend "$NS_CA" canary-ok --listen 10.0.3.2:8080
topo_backend "$NS_CA" canary-5xx --listen 10.0.3.2:8082 --error-rate 0.25
for p in 8080 8082; do need "listeners" topo_wait_port "$NS_CA" 10.0.3.2 $p; done
need "stable listeners" topo_wait_port "$NS_ST" 10.0.2.2 8082
apply_services <<'YAML'
services:
  - { name: ok, vip: 10.0.0.31, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
  - { name: bad, vip: 10.0.0.32, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8082"], canary: ["10.0.3.2:8082"] }
YAML
need "canaryd" agent_start

plan() {
	cat >"$TOPO_LOGDIR/plan-$1.yaml" <<YAML
service: $1
steps: [10, 25, 50, 100]
hold: 3s
min_flows: 30
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, resets, unanswered_syn, errored_flows]
YAML
	echo "$TOPO_LOGDIR/plan-$1.yaml"
}

# --- no rollout: 404 with a JSON error (Argo: Error) ----------------------------------------
code=$(spl curl -s -o "$TOPO_LOGDIR/nobody.json" -w '%{http_code}' http://127.0.0.1:9181/api/v1/rollouts/nosuch/verdict)
eq "unknown service: 404" "$code" 404
check "unknown service: the body is a JSON error" jq -e '.error | strings' "$TOPO_LOGDIR/nobody.json"
eq "unknown service: Argo measures Error" "$(measure nosuch)" Error

# --- a healthy canary: continue while it ramps, promote at the end -------------------------
load_start 10.0.0.31:80 150 30 load-ok
load_start 10.0.0.32:80 150 30 load-bad
actl rollout start ok --plan "$(plan ok)" >/dev/null
actl rollout start bad --plan "$(plan bad)" >/dev/null
sleep 1
eq "healthy, ramping: Successful" "$(measure ok)" Successful
eq "healthy, ramping: decision continue" "$(jq -r .decision <<<"$(last ok)")" continue
eq "healthy, ramping: phase Progressing" "$(jq -r .phase <<<"$(last ok)")" Progressing
eq "verdict: threshold is 1/alpha" "$(jq .threshold <<<"$(last ok)")" 100
eq "verdict: an e-value per signal" "$(jq -c '.evalues | keys' <<<"$(last ok)")" '["errored_flows","http_5xx","resets","unanswered_syn"]'
eq "verdict: the canary's weight" "$(jq .canary.weight <<<"$(last ok)")" 10
eq "verdict: the stable's weight" "$(jq .stable.weight <<<"$(last ok)")" 90
check "verdict: both arms' flows" jq -e '(.canary.flows | numbers) and (.stable.flows | numbers)' <<<"$(last ok)"

# --- a canary with 25% 5xx: rollback, still a 200 ---------------------------------------------
wait_phase bad 20 RolledBack Succeeded
eq "5xx canary: rolled back" "$(phase_of bad)" RolledBack
eq "5xx canary: verdict answers 200" "$(spl curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9181/api/v1/rollouts/bad/verdict)" 200
eq "5xx canary: Argo measures Failed" "$(measure bad)" Failed
eq "5xx canary: decision rollback" "$(jq -r .decision <<<"$(last bad)")" rollback
check "5xx canary: the http_5xx e-value passed the threshold" jq -e '.evalues.http_5xx >= .threshold' <<<"$(last bad)"

wait_phase ok 40 Succeeded RolledBack
eq "healthy: succeeded" "$(phase_of ok)" Succeeded
eq "healthy, done: Argo measures Successful" "$(measure ok)" Successful
eq "healthy, done: decision promote" "$(jq -r .decision <<<"$(last ok)")" promote

# The verdict changes nothing: asking again leaves the history as it was.
h0=$(actl history ok --json | jq length)
measure ok >/dev/null
eq "the verdict is a read: the history is unchanged" "$(actl history ok --json | jq length)" "$h0"
