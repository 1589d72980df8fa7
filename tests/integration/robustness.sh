#!/usr/bin/env bash
# robustness.sh: nobody can freeze the writers or the agent, and bad state is never
# silent.
# - The writers' lock is an flock on the root-only pin root: the old lock file in
#   /run/lock, created and held by nobody, freezes nothing; a writer stuck holding the
#   real lock makes canaryctl fail in bounded time naming it, and canaryd still rolls a
#   failing canary back while it holds on.
# - A 1 MiB nested plan, and a deep one under the size limit, are refused while
#   /healthz keeps answering.
# - A second canaryd on the same state directory, or the same socket, refuses to start.
# - Corrupt state files show up as rollouts in phase Error (API, metric), move no weight,
#   crash nothing, and end with abort or promote; files that are not the agent's own
#   names are not read.
. "$(dirname "$0")/lib.sh"

nob() { spl setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
healthz() { spl curl -s -o /dev/null -m 2 -w '%{http_code}' --unix-socket "$AGENT_SOCK" http://localhost/healthz; }

need "create topology" topo_create
need "attach" topo_attach >/dev/null
printf 'error_rate=0\n' >"$TOPO_LOGDIR/faults"
need "start backends" topo_backends --faults-file "$TOPO_LOGDIR/faults" --pidfile "$TOPO_LOGDIR/canary.pid"
apply_services <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    hash: flow
    http: true
    canary_weight: 0
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML
need "canaryd" agent_start --interval 0.5

# --- the old lock file: created and held by nobody, it freezes nothing --------------------
old=/run/lock/xdp-canary$(tr / _ <<<"$PIN_ROOT").lock
bg_in_ns "$NS_SPL" setpriv --reuid=65534 --regid=65534 --clear-groups flock -o -s "$old" sleep 30
holder=$BG_PID
sleep 0.3
check "nobody created and holds the old lock file" eval '[ "$(stat -c %U "$old")" = nobody ] && ! flock -n -x "$old" true'
SECONDS=0
out=$(spl timeout 20 "$BUILD/canaryctl" set-weight web 5 --pin-root "$PIN_ROOT" 2>&1)
rc=$?
eq "nobody holding the old /run/lock file: set-weight does not hang and succeeds" "$rc" 0
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
rm -f "$old"
ctl set-weight web 0 >/dev/null
out=$(nob flock -n "$PIN_ROOT" true 2>&1)
check "nobody cannot even open the pin root to lock it" grep -qi "permission denied" <<<"$out"

# --- a writer stuck with the real lock ---------------------------------------------------
cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: web
steps: [20, 100]
hold: 600s
min_flows: 10
analysis:
  signals: [http_5xx]
YAML
actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml" >/dev/null
load_start 10.0.0.10:80 150 40 load
sleep 1
# -o: flock itself holds the lock (not its child), so killing it releases it.
bg_in_ns "$NS_SPL" flock -o "$PIN_ROOT" sleep 60
stuck=$BG_PID
sleep 0.3
SECONDS=0
out=$(spl timeout 30 "$BUILD/canaryctl" set-weight web 50 --pin-root "$PIN_ROOT" 2>&1)
rc=$?
t=$SECONDS
check "a stuck writer: set-weight fails instead of hanging (exit $rc)" test "$rc" = 1
check "a stuck writer: the error names the holder" grep -qE "held by pid [0-9]+ \((flock|sleep)\)" <<<"$out"
le "a stuck writer: set-weight gave up within its bound (seconds, generous)" "$t" 15
# The canary starts failing while the lock is still held: the rollback must not wait.
printf 'error_rate=0.5\n' >"$TOPO_LOGDIR/faults.tmp" && mv "$TOPO_LOGDIR/faults.tmp" "$TOPO_LOGDIR/faults"
kill -HUP "$(cat "$TOPO_LOGDIR/canary.pid")"
wait_phase web 20 RolledBack
eq "a stuck writer: canaryd still rolls the failing canary back" "$(phase_of web)" RolledBack
eq "a stuck writer: the weight is 0" "$(ctl status web --json | jq '.services[0].canary_weight')" 0
check "a stuck writer: canaryd says it wrote without the lock" grep -q "writing weight 0 without it" "$TOPO_LOGDIR/canaryd.log"
eq "a stuck writer: /healthz answered throughout" "$(healthz)" 200
kill "$stuck" 2>/dev/null
wait "$stuck" 2>/dev/null
printf 'error_rate=0\n' >"$TOPO_LOGDIR/faults.tmp" && mv "$TOPO_LOGDIR/faults.tmp" "$TOPO_LOGDIR/faults"
kill -HUP "$(cat "$TOPO_LOGDIR/canary.pid")"
wait "$LOAD_PID" 2>/dev/null

# --- deep and huge plans, while /healthz is watched ------------------------------------
{
	printf 'service: web\nsteps: '
	head -c $((1024 * 1024)) /dev/zero | tr '\0' '['
} >"$TOPO_LOGDIR/huge.yaml"
{
	printf 'service: web\nsteps: '
	head -c $((120 * 1024)) /dev/zero | tr '\0' '['
	head -c $((120 * 1024)) /dev/zero | tr '\0' ']'
	printf '\n'
} >"$TOPO_LOGDIR/deep.yaml"
jq -n --rawfile t "$TOPO_LOGDIR/huge.yaml" '{plan_text: $t}' >"$TOPO_LOGDIR/huge.json"
jq -n --rawfile t "$TOPO_LOGDIR/deep.yaml" '{plan_text: $t}' >"$TOPO_LOGDIR/deep.json"
fails=0 polls=0
(
	end=$((SECONDS + 8))
	while [ $SECONDS -lt $end ]; do
		c=$(healthz)
		echo "$c"
		sleep 0.05
	done
) >"$TOPO_LOGDIR/healthz.log" &
watcher=$!
for i in 1 2 3; do
	c1=$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -H 'Content-Type: application/json' \
		--data-binary @"$TOPO_LOGDIR/huge.json" http://localhost/api/v1/rollouts/web)
	c2=$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -H 'Content-Type: application/json' \
		--data-binary @"$TOPO_LOGDIR/deep.json" http://localhost/api/v1/rollouts/web)
done
wait "$watcher"
polls=$(wc -l <"$TOPO_LOGDIR/healthz.log")
fails=$(grep -vc '^200$' "$TOPO_LOGDIR/healthz.log")
check "a 1 MiB nested plan is refused (HTTP $c1)" test "$c1" = 400 -o "$c1" = 413
eq "a 240 KB nested plan (under the size limit) is refused" "$c2" 400
ge "/healthz was asked throughout" "$polls" 20
eq "/healthz answered every time, within 2 s, meanwhile" "$fails" 0
out=$(actl rollout start web --plan "$TOPO_LOGDIR/deep.yaml" 2>&1)
check "canaryctl refuses the deep plan, naming the depth" grep -q "nested more than 64 levels" <<<"$out"

# --- one agent per state directory (and per socket) ----------------------------------------
out=$(spl timeout 10 "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state" \
	--socket "$AGENT_SOCK_DIR/other.sock" --listen 127.0.0.1:9182 2>&1)
rc=$?
eq "a second canaryd on the same state directory exits 1" "$rc" 1
check "and says which process holds it" grep -qE "another canaryd, pid $AGENT_PID \(canaryd\)" <<<"$out"
out=$(spl timeout 10 "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state-b" \
	--socket "$AGENT_SOCK" --listen 127.0.0.1:9182 2>&1)
rc=$?
eq "a second canaryd on the same socket exits 1" "$rc" 1
check "and says another canaryd answers there" grep -q "another canaryd already answers on" <<<"$out"
eq "the first one is untouched" "$(healthz)" 200

# --- corrupt state files ---------------------------------------------------------------------
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null
good=$TOPO_LOGDIR/state/rollout-web.json
need "a saved state to corrupt" test -s "$good"
cp "$good" "$TOPO_LOGDIR/good.json"
need "weight 7 before the corrupt states" ctl set-weight web 7
g=$TOPO_LOGDIR/good.json
variants=(
	"truncated|head -c 200 $g"
	"not-json|echo 'this is not json'"
	"empty|true"
	"counters-object|jq -c '.counters = {}' $g"
	"counters-string|jq -c '.counters = \"x\"' $g"
	"checks-object|jq -c '.checks = {}' $g"
	"checks-string|jq -c '.checks = \"x\"' $g"
	"metrics-object|jq -c '.metrics = {}' $g"
	"metrics-string|jq -c '.metrics = \"x\"' $g"
	"step-string|jq -c '.step = \"1\"' $g"
	"phase-number|jq -c '.phase = 3' $g"
	"pending-string|jq -c '.pending = \"yes\"' $g"
	"generation-float|jq -c '.generation = 1.5' $g"
	"weight-out-of-range|jq -c '.weight_bp = 70000' $g"
	"other-service|jq -c '.service = \"api\"' $g"
	"unknown-plan-field|jq -c '.plan_text += \"surprise: 1\n\"' $g"
	"unknown-field|jq -c '.extra = 1' $g"
	"counters-item-string|jq -c '.counters[0].base = \"x\"' $g"
)
for v in "${variants[@]}"; do
	name=${v%%|*}
	eval "${v#*|}" >"$good" 2>/dev/null
	need "canaryd with a $name state" agent_start --interval 0.5
	sleep 0.6
	r=$(actl rollout status web --json 2>/dev/null)
	ok_phase=$(jq -r .phase <<<"$r")
	m=$(spl curl -s http://127.0.0.1:9181/metrics | grep -c '^xdp_canary_rollout_state_error{service="web"} 1$')
	if kill -0 "$AGENT_PID" 2>/dev/null && [ "$ok_phase" = Error ] && [ "$m" = 1 ] &&
		[ "$(jq -r .state_file <<<"$r")" = rollout-web.json ] && [ -n "$(jq -r .state_error <<<"$r")" ] &&
		[ "$(ctl status web --json | jq '.services[0].canary_weight')" = 7 ]; then
		ok "corrupt state ($name): canaryd runs, shows phase Error with the file and why ($(jq -r .state_error <<<"$r")), weight unchanged"
	else
		not_ok "corrupt state ($name): running $(kill -0 "$AGENT_PID" 2>/dev/null && echo yes || echo no), phase '$ok_phase', metric $m, file '$(jq -r .state_file <<<"$r")', error '$(jq -r .state_error <<<"$r")', weight $(ctl status web --json | jq '.services[0].canary_weight')"
	fi
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
done

# Abort ends an Error rollout: weight 0, the file kept aside, the history says so.
head -c 200 "$g" >"$good"
need "canaryd with a truncated state" agent_start --interval 0.5
out=$(actl rollout pause web 2>&1)
check "an Error rollout cannot be paused (only abort or promote end it)" grep -q "only abort" <<<"$out"
check "abort ends an Error rollout" actl rollout abort web
eq "abort: the weight is 0" "$(ctl status web --json | jq '.services[0].canary_weight')" 0
check "abort: the bad file is kept aside" compgen -G "$TOPO_LOGDIR/state/rollout-web.json.invalid-*" >/dev/null
eq "abort: the history records it, and who" "$(actl history web --json | jq -r '.[-1] | "\(.reason) \(.actor)"')" "abort uid:0(root)"
eq "abort: no rollout is left in Error" "$(spl curl -s http://127.0.0.1:9181/api/v1/rollouts | jq length)" 0
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null

# Promote ends one too (weight 100).
jq -c '.weight_bp = 70000' "$g" >"$good"
need "canaryd with an out-of-range state" agent_start --interval 0.5
check "promote ends an Error rollout" actl rollout promote web
eq "promote: the weight is 100" "$(ctl status web --json | jq '.services[0].canary_weight')" 100
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null

# Files that are not the agent's own names are never read.
rm -f "$TOPO_LOGDIR"/state/rollout-*
echo 'garbage' >"$TOPO_LOGDIR/state/rollout-web.json.bak"
echo 'garbage' >"$TOPO_LOGDIR/state/.rollout-web.json.tmp"
jq -c '.service = "api"' "$g" >"$TOPO_LOGDIR/state/rollout-web.json~"
need "canaryd with stray files" agent_start --interval 0.5
eq "stray .bak, .tmp and ~ files are not read as rollouts" "$(actl rollout status web --json 2>/dev/null | jq -r .phase)" ""
eq "and none appears in the list" "$(spl curl -s http://127.0.0.1:9181/api/v1/rollouts | jq length)" 0
