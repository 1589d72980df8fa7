#!/usr/bin/env bash
# release_controllers.sh: the Argo Rollouts web-provider contract. contrib/argo/analysis-template.yaml's
# own jsonPath and conditions, evaluated as Argo evaluates them, against canaryd's
# GET /api/v1/rollouts/SVC/verdict on the read-only TCP listener (no token) during real
# rollouts: a healthy canary measures Successful (continue, then promote), a canary with
# injected 5xx measures Failed (rollback) and the answer is still a 200; an unknown
# service is a 404 with a JSON error. Flagger's webhooks, also without a token: every
# gate and rollback answer in each phase, the service from metadata.service, and bad
# payloads answered 400 (never 204 or 5xx, and canaryd stays up). PUT
# /api/v1/services/SVC/weight from root on the socket sets the weight once no rollout of
# the service runs, recorded as `external`; bad bodies are 400 and change nothing; without
# the socket or a token it is refused (trust.sh tests it with a token over TLS).
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

# Flagger: POST a payload to a hook on the TCP listener, no token; prints the status.
flagger() {
	spl curl -s -o "$TOPO_LOGDIR/flagger.json" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$2" "http://127.0.0.1:9181/api/v1/flagger/$1"
}
payload() { jq -cn --arg n "$1" '{name: $n, namespace: "prod", phase: "Progressing", checksum: "abc", metadata: {}}'; }
answers() { # SERVICE -> the three hooks' statuses
	local p
	p=$(payload "$1")
	echo "$(flagger confirm-rollout "$p") $(flagger confirm-promotion "$p") $(flagger rollback "$p")"
}

# --- no rollout: 404 with a JSON error (Argo: Error) ----------------------------------------
code=$(spl curl -s -o "$TOPO_LOGDIR/nobody.json" -w '%{http_code}' http://127.0.0.1:9181/api/v1/rollouts/nosuch/verdict)
eq "unknown service: 404" "$code" 404
check "unknown service: the body is a JSON error" jq -e '.error | strings' "$TOPO_LOGDIR/nobody.json"
eq "unknown service: Argo measures Error" "$(measure nosuch)" Error
eq "flagger, no rollout: wait, wait, go on" "$(answers nosuch)" "403 403 403"
check "flagger: the answer says why" jq -e '.answer == "go on" and .phase == "None"' "$TOPO_LOGDIR/flagger.json"

# --- Flagger's payload, strictly ---------------------------------------------------------------
codes=""
for body in '{' '[]' '"x"' '' '{"namespace":"prod","phase":"Progressing"}' \
	'{"name":7,"namespace":"prod","phase":"Progressing"}' \
	'{"name":"ok","namespace":"prod","phase":"Progressing","extra":1}' \
	'{"name":"ok","namespace":"prod","phase":"Progressing","metadata":{"service":5}}' \
	'{"name":"ok","namespace":"prod","phase":"Progressing","metadata":[]}' \
	'{"name":"../x","namespace":"prod","phase":"Progressing"}' \
	"{\"name\":\"$(head -c 300 /dev/zero | tr '\0' a)\",\"namespace\":\"p\",\"phase\":\"x\"}"; do
	for hook in confirm-rollout confirm-promotion rollback; do
		codes+="$(flagger $hook "$body") "
	done
done
eq "flagger: every malformed payload is a 400" "$(tr ' ' '\n' <<<"$codes" | sort -u | xargs)" 400
eq "flagger: a text/plain body is refused (415)" \
	"$(spl curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary "$(payload ok)" http://127.0.0.1:9181/api/v1/flagger/rollback)" 415
eq "flagger: another hook is a change, refused without a token" \
	"$(spl curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(payload ok)" http://127.0.0.1:9181/api/v1/flagger/other)" 403
check "canaryd is up after the bad payloads" spl curl -sf -o /dev/null http://127.0.0.1:9181/healthz

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
eq "flagger, ramping: proceed, wait, go on" "$(answers ok)" "200 403 403"
check "verdict: both arms' flows" jq -e '(.canary.flows | numbers) and (.stable.flows | numbers)' <<<"$(last ok)"

# --- a canary with 25% 5xx: rollback, still a 200 ---------------------------------------------
wait_phase bad 20 RolledBack Succeeded
eq "5xx canary: rolled back" "$(phase_of bad)" RolledBack
eq "5xx canary: verdict answers 200" "$(spl curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9181/api/v1/rollouts/bad/verdict)" 200
eq "5xx canary: Argo measures Failed" "$(measure bad)" Failed
eq "5xx canary: decision rollback" "$(jq -r .decision <<<"$(last bad)")" rollback
eq "flagger, rolled back: wait, wait, roll back" "$(answers bad)" "403 403 200"
eq "flagger: the service from metadata.service" \
	"$(flagger rollback '{"name":"podinfo","namespace":"prod","phase":"Progressing","checksum":"x","metadata":{"service":"bad","other":"y"}}')" 200
eq "flagger: without metadata.service, the name (no rollout of podinfo)" \
	"$(flagger rollback '{"name":"podinfo","namespace":"prod","phase":"Progressing"}')" 403
check "5xx canary: the http_5xx e-value passed the threshold" jq -e '.evalues.http_5xx >= .threshold' <<<"$(last bad)"

wait_phase ok 40 Succeeded RolledBack
eq "healthy: succeeded" "$(phase_of ok)" Succeeded
eq "healthy, done: Argo measures Successful" "$(measure ok)" Successful
eq "healthy, done: decision promote" "$(jq -r .decision <<<"$(last ok)")" promote
eq "flagger, succeeded: proceed, proceed, go on" "$(answers ok)" "200 200 403"

# --- an external controller sets the weight ------------------------------------------------------
put() { # SERVICE BODY [CURL-ARGS] -> status, through the socket as root
	spl curl -s -o "$TOPO_LOGDIR/put.json" -w '%{http_code}' --unix-socket "$AGENT_SOCK" -X PUT \
		-H 'Content-Type: application/json' --data-binary "$2" "http://localhost/api/v1/services/$1/weight"
}
wt() { ctl status "$1" --json | jq -c '.services[0] | [.canary_weight, .generation]'; }
w0=$(wt bad)
codes=""
for body in '{' '{}' '{"weight":"5"}' '{"weight":-1}' '{"weight":100.5}' '{"weight":12.345}' \
	'{"weight":5,"other":1}' '[5]' '{"weight":null}'; do
	codes+="$(put bad "$body") "
done
eq "weight: every bad body is a 400" "$(tr ' ' '\n' <<<"$codes" | sort -u | xargs)" 400
eq "weight: ...and nothing changed" "$(wt bad)" "$w0"
eq "weight: unknown service is a 404" "$(put nosuch '{"weight":5}')" 404
eq "weight: nobody without a token on TCP is refused" "$(spl setpriv --reuid=65534 --regid=65534 --clear-groups \
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{"weight":50}' \
	http://127.0.0.1:9181/api/v1/services/bad/weight)" 403
eq "weight: POST is not PUT" "$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" \
	-H 'Content-Type: application/json' -d '{"weight":5}' http://localhost/api/v1/services/bad/weight)" 405
eq "weight: ...still unchanged" "$(wt bad)" "$w0"
eq "weight: root on the socket sets 12.5%" "$(put bad '{"weight":12.5}')" 200
eq "weight: the answer" "$(jq -c '[.old_weight, .canary_weight]' "$TOPO_LOGDIR/put.json")" '[0,12.5]'
eq "weight: the maps say 12.5%" "$(ctl status bad --json | jq '.services[0].canary_weight')" 12.5
eq "weight: the history records it as external, by root" \
	"$(actl history bad --json | jq -c '.[-1] | [.reason, .old_weight, .new_weight, .actor]')" '["external",0,12.5,"uid:0(root)"]'
check "weight: /metrics counts it" grep -q 'xdp_canary_weight_changes_total{service="bad",reason="external"} 1' \
	<<<"$(spl curl -s http://127.0.0.1:9181/metrics)"

# The verdict changes nothing: asking again leaves the history as it was.
h0=$(actl history ok --json | jq length)
measure ok >/dev/null
answers ok >/dev/null
eq "the verdict and the webhooks are reads: the history is unchanged" "$(actl history ok --json | jq length)" "$h0"
