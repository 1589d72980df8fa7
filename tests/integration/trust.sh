#!/usr/bin/env bash
# trust.sh: nobody without privilege can steer a rollout. As user nobody, every change
# (start, pause, resume, abort, promote, metric push, PUT weight) fails with a clear error through
# canaryctl, through curl to the TCP listener, and as a browser would send it (a
# text/plain POST with a foreign Origin and Host); the weight and the rollout stay as
# they were. Reads stay open. With a token (loopback, or TLS off loopback) the same
# change over TCP works, and the history says who made each change.
. "$(dirname "$0")/lib.sh"

# As the unprivileged user, in the splitter's namespace.
nob() { spl setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobctl() { CANARY_SOCKET=$AGENT_SOCK nob "$BUILD/canaryctl" "$@"; }
# HTTP status of a request to the TCP listener: tcp_code CURL-ARGS...
tcp_code() { spl curl -s -o /dev/null -w '%{http_code}' "$@"; }

topo_up
apply_services <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: flow
    canary_weight: 0
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML
need "canaryd" agent_start
# Plans nobody can read, in a directory of their own.
pub=$TOPO_LOGDIR/pub
mkdir -p "$pub" && chmod 755 "$TOPO_LOGDIR" "$pub"
cat >"$pub/plan.yaml" <<'YAML'
service: web
steps: [10, 20, 100]
hold: 600s
analysis:
  signals: [resets]
  metrics:
    - { name: ctr, source: push }
YAML
sed 's/steps: \[10, 20, 100\]/steps: [100]/' "$pub/plan.yaml" >"$pub/plan100.yaml"
chmod 644 "$pub"/*.yaml
need "root starts a rollout through the socket" actl rollout start web --plan "$pub/plan.yaml"

state() { echo "$(ctl status web --json | jq -c '.services[0] | [.canary_weight, .generation]') $(actl rollout status web --json | jq -c '[.phase, .step, .metrics[0].canary.trials]')"; }
s0=$(state)
eq "the rollout runs at step 1, 10%" "$s0" '[10,2] ["Progressing",1,0]'

# --- nobody, through canaryctl (the socket is root's, 0660) -------------------------------
for cmd in "rollout start web --plan $pub/plan100.yaml" "rollout pause web" "rollout resume web" \
	"rollout abort web" "rollout promote web --full" \
	"metric push web --arm canary --name ctr --successes 0 --trials 10000"; do
	# shellcheck disable=SC2086 # the command's words
	out=$(nobctl $cmd 2>&1)
	rc=$?
	check "nobody: canaryctl $cmd fails (exit $rc)" test "$rc" -ne 0
	check "nobody: canaryctl $cmd says why (the socket refuses them)" \
		grep -qi "permission denied" <<<"$out"
done
# ...and through canaryctl --agent, the TCP listener, which has no tokens.
out=$(nob "$BUILD/canaryctl" rollout promote web --full --agent 127.0.0.1:9181 2>&1)
check "nobody: canaryctl --agent (TCP) promote fails" test $? -ne 0
check "nobody: the TCP listener says changes need the socket or a token" \
	grep -q "not accepted on the TCP listener" <<<"$out"

# --- nobody, with curl to the TCP listener ------------------------------------------------
base=http://127.0.0.1:9181/api/v1
eq "nobody: curl POST promote on TCP is refused" \
	"$(nob curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"full":true}' $base/rollouts/web/promote)" 403
eq "nobody: curl POST start on TCP is refused" \
	"$(nob curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(jq -n --rawfile t "$pub/plan100.yaml" '{plan_text: $t}')" $base/rollouts/web)" 403
eq "nobody: curl POST a fake metric report on TCP is refused" \
	"$(nob curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"service":"web","arm":"canary","name":"ctr","successes":0,"trials":10000}' $base/metrics)" 403
eq "nobody: curl PUT a weight on TCP is refused" \
	"$(nob curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{"weight":100}' $base/services/web/weight)" 403
eq "browser: a text/plain PUT of a weight is refused" \
	"$(tcp_code -X PUT -H 'Content-Type: text/plain' -H 'Origin: http://attacker.example' -d '{"weight":100}' $base/services/web/weight)" 403
# --- a web page in a browser on the host ---------------------------------------------------
eq "browser: text/plain POST with a foreign Origin and Host is refused" \
	"$(tcp_code -X POST -H 'Content-Type: text/plain' -H 'Origin: http://attacker.example' -H 'Host: attacker.example:9181' -d '{"full":true}' $base/rollouts/web/promote)" 403
eq "browser: a foreign Origin is refused even on the socket" \
	"$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -H 'Content-Type: application/json' -H 'Origin: http://attacker.example' -d '{}' http://localhost/api/v1/rollouts/web/pause)" 403
eq "browser: a text/plain change is refused even from root on the socket" \
	"$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -H 'Content-Type: text/plain' -d '{}' http://localhost/api/v1/rollouts/web/pause)" 415
eq "browser: a read through a rebound name (foreign Host) is refused" \
	"$(tcp_code -H 'Host: attacker.example:9181' $base/rollouts)" 403
eq "after all that: the weight, the generation and the rollout are unchanged" "$(state)" "$s0"

# --- reading stays open --------------------------------------------------------------------
out=$(nobctl rollout status web --json 2>&1)
eq "nobody: rollout status works (read falls back to the TCP listener)" "$(jq -r .phase <<<"$out")" Progressing
eq "nobody: /metrics is open" "$(nob curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9181/metrics)" 200
eq "nobody: history is open" "$(nobctl history web --json | jq length)" 1
eq "the history names who started the rollout" "$(actl history web --json | jq -r '.[0].actor')" "uid:0(root)"

# --- a token over TCP, on loopback ---------------------------------------------------------
tok=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '# who may change rollouts over TCP\nci %s\n' "$tok" >"$TOPO_LOGDIR/tokens"
chmod 600 "$TOPO_LOGDIR/tokens"
restart_agent() {
	kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null
	agent_start "$@"
}
need "canaryd with --token-file" restart_agent --token-file "$TOPO_LOGDIR/tokens"
auth=(-H "Authorization: Bearer $tok" -H 'Content-Type: application/json')
eq "token: POST pause over TCP with the token works" "$(tcp_code "${auth[@]}" -d '{}' $base/rollouts/web/pause)" 200
eq "token: a wrong token is refused (401)" \
	"$(tcp_code -H "Authorization: Bearer ${tok%?}x" -H 'Content-Type: application/json' -d '{}' $base/rollouts/web/resume)" 401
eq "token: no token is refused (401)" "$(tcp_code -H 'Content-Type: application/json' -d '{}' $base/rollouts/web/resume)" 401
cp "$TOPO_LOGDIR/tokens" "$pub/tokens-copy"
chmod 644 "$pub/tokens-copy"
check "token: whoever holds it (here nobody) may act with canaryctl --agent --token-file" \
	nob "$BUILD/canaryctl" rollout resume web --agent 127.0.0.1:9181 --token-file "$pub/tokens-copy"
eq "token: the history names the token" "$(actl history web --json | jq -r '[.[].actor] | unique | join(",")')" "token:ci,uid:0(root)"

out=$(spl "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state2" --socket none \
	--listen 127.0.0.1:9182 --token-file "$pub/tokens-copy" 2>&1)
check "token: canaryd refuses a token file others can read" grep -q "nobody else can read" <<<"$out"
out=$(spl "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state2" --socket none \
	--listen 10.0.1.1:9182 --token-file "$TOPO_LOGDIR/tokens" 2>&1)
check "token: canaryd refuses a token in clear text off loopback" grep -q "clear text" <<<"$out"

# --- TLS off loopback --------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=canaryd -addext subjectAltName=IP:10.0.1.1 \
	-keyout "$TOPO_LOGDIR/key.pem" -out "$TOPO_LOGDIR/cert.pem" 2>/dev/null
chmod 644 "$TOPO_LOGDIR/cert.pem"
cp "$TOPO_LOGDIR/cert.pem" "$pub/ca.pem"
need "canaryd over TLS" restart_agent --listen 10.0.1.1:9443 --tls-cert "$TOPO_LOGDIR/cert.pem" \
	--tls-key "$TOPO_LOGDIR/key.pem" --token-file "$TOPO_LOGDIR/tokens"
tls=https://10.0.1.1:9443/api/v1
eq "TLS: from the client's host, a change with the token works" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" "${auth[@]}" -d '{}' $tls/rollouts/web/pause)" 200
eq "TLS: without the token it is refused" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" -H 'Content-Type: application/json' -d '{}' $tls/rollouts/web/resume)" 401
eq "TLS: PUT a weight without the token is refused" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" -X PUT -H 'Content-Type: application/json' -d '{"weight":100}' $tls/services/web/weight)" 401
eq "TLS: PUT a weight with the token is authorised, and refused while canaryd's rollout runs (409)" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" -X PUT "${auth[@]}" -d '{"weight":100}' $tls/services/web/weight)" 409
eq "TLS: PUT a bad weight with the token is a 400" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" -X PUT "${auth[@]}" -d '{"weight":101}' $tls/services/web/weight)" 400
eq "TLS: the weight is still the rollout's" "$(ctl status web --json | jq '.services[0].canary_weight')" 10
eq "TLS: plain HTTP on the TLS port gets nothing" \
	"$(cli curl -s -o /dev/null -w '%{http_code}' -m 3 http://10.0.1.1:9443/healthz)" 000
check "TLS: canaryctl --agent https:// --cacert --token-file works" \
	cli "$BUILD/canaryctl" rollout resume web --agent https://10.0.1.1:9443 --cacert "$pub/ca.pem" \
	--token-file "$pub/tokens-copy"
eq "TLS: reads need no token" "$(cli curl -s -o /dev/null -w '%{http_code}' --cacert "$pub/ca.pem" $tls/rollouts/web)" 200

# --- a socket group: its members may steer -------------------------------------------------
need "canaryd with --socket-group nogroup" restart_agent --socket-group nogroup
grpctl() { CANARY_SOCKET=$AGENT_SOCK spl setpriv --reuid=65534 --regid=65534 --init-groups "$BUILD/canaryctl" "$@"; }
check "socket group: nobody (in group nogroup) may pause through the socket" grpctl rollout pause web
eq "socket group: the history names the uid" "$(actl history web --json | jq -r '.[-1].actor')" "uid:65534(nobody)"
eq "the rollout is paused, as the last (authorised) change asked" "$(phase_of web)" Paused
