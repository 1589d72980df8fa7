#!/usr/bin/env bash
# dashboard.sh: canaryd's web dashboard in a real browser (Debian's chromium, headless).
# A rollout runs on real traffic; the page is loaded during it, after a weight set by
# hand, and after the canary starts failing and is rolled back automatically. Each time
# a screenshot is kept as an artefact, and the DOM, after the page's script ran, must
# show the service, the phase, the step, the weights and the manual and rollback markers
# with the values the JSON API gives. Without a token no action is offered; in a browser
# driven through the DevTools protocol, a pasted token brings the actions, stays in the
# tab, and the page's pause and resume work. The listener refuses
# CORS preflights and sends no Access-Control-Allow-Origin, so another site's page
# cannot use the operator's browser to act; the page's own origin, with the token, can.
. "$(dirname "$0")/lib.sh"

# The artefacts outlive the test's log directory (removed when everything passed).
ART=${ARTEFACT_DIR:-$PWD/$BUILD/artefacts}/dashboard
mkdir -p "$ART"
echo "# artefacts (screenshots, DOM dumps) in $ART"
command -v chromium >/dev/null || {
	not_ok "chromium is not installed (scripts/install-deps.sh)"
	exit 1
}

need "create topology" topo_create
need "attach" topo_attach >/dev/null
printf 'error_rate=0\n' >"$TOPO_LOGDIR/faults"
need "start backends" topo_backends --faults-file "$TOPO_LOGDIR/faults" --pidfile "$TOPO_LOGDIR/canary.pid"
need "canary listens" topo_wait_port "$NS_CA" 10.0.3.2 8080
apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML

# The token listener: TLS on the splitter's loopback, with a token file.
tok=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'dash %s\n' "$tok" >"$TOPO_LOGDIR/tokens"
chmod 600 "$TOPO_LOGDIR/tokens"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=canaryd -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TOPO_LOGDIR/key.pem" -out "$TOPO_LOGDIR/cert.pem" 2>/dev/null
PORT=$((20000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT
need "canaryd (TLS, token)" agent_start --listen 127.0.0.1:$PORT --tls-cert "$TOPO_LOGDIR/cert.pem" \
	--tls-key "$TOPO_LOGDIR/key.pem" --token-file "$TOPO_LOGDIR/tokens"
kurl() { spl curl -s --cacert "$TOPO_LOGDIR/cert.pem" "$@"; }

# Chromium trusts exactly this certificate's key, in a throwaway profile.
SPKI=$(openssl x509 -in "$TOPO_LOGDIR/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
PROFILE=$(mktemp -d /tmp/xdp-canary-chromium.XXXXXX)
trap 'rc=$?; rm -rf "$PROFILE"; (exit $rc); t_cleanup' EXIT
# As root chromium needs --no-sandbox; the flags keep it off the network this machine
# does not have (updates, sync, lookups of Google's hosts).
CHROME=(chromium --headless --disable-gpu --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --disable-quic --disable-extensions
	--user-data-dir="$PROFILE" --ignore-certificate-errors-spki-list="$SPKI"
	--window-size=1000,1400 --virtual-time-budget=6000)
[ "$(id -u)" = 0 ] && CHROME+=(--no-sandbox)
browse() { spl timeout 60 "${CHROME[@]}" "$@" 2>>"$TOPO_LOGDIR/chromium.log"; }
# The DOM after the script ran, and a screenshot: snap NAME
# The API's answer just before and just after the DOM dump are kept: the page must show
# one of them (a step may pass while the page loads).
snap() {
	actl rollout status web --json >"$ART/$1.before.json"
	browse --dump-dom "$URL/" >"$ART/$1.html"
	actl rollout status web --json >"$ART/$1.after.json"
	browse --screenshot="$ART/$1.png" "$URL/" >/dev/null
}
# The page shows what the API said around the dump: api_match WHAT PAGE-VALUE JQ SNAP
api_match() {
	local b a
	b=$(jq -r "$3" "$ART/$4.before.json")
	a=$(jq -r "$3" "$ART/$4.after.json")
	if [ "$2" = "$b" ] || [ "$2" = "$a" ]; then
		ok "$1 ($2)"
	else
		not_ok "$1 (page '$2', the API '$b' before and '$a' after)"
	fi
}
# An attribute's or a field's text in the dumped DOM of service web.
field() { # FILE FIELD
	xmllint --html --xpath "string(//section[@data-service='web']//*[@data-field='$2'])" "$1" 2>/dev/null
}
count() { xmllint --html --xpath "count($2)" "$1" 2>/dev/null; }

# --- the page itself: headers ---------------------------------------------------------
h=$(kurl -D - -o /dev/null "$URL/")
check "GET / serves the page (200, text/html)" grep -qi '^content-type: text/html' <<<"$h"
check "the page has a Content-Security-Policy without inline script" \
	grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" <<<"$h"
check "the page: X-Content-Type-Options nosniff" grep -qi '^x-content-type-options: nosniff' <<<"$h"
check "the page loads its script from its own path" grep -q '<script src="/dash.js"' <<<"$(kurl "$URL/")"
check "no inline script in the page" test "$(kurl "$URL/" | grep -c '<script>')" = 0
check "the script is served as JavaScript" grep -qi '^content-type: text/javascript' \
	<<<"$(kurl -D - -o /dev/null "$URL/dash.js")"
check "API answers are not cached" grep -qi '^cache-control: no-store' \
	<<<"$(kurl -D - -o /dev/null "$URL/api/v1/services")"

# --- CORS: a foreign page cannot act through the operator's browser ------------------------
pre=$(kurl -i -X OPTIONS -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST' \
	-H 'Access-Control-Request-Headers: authorization, content-type' "$URL/api/v1/rollouts/web/pause")
eq "CORS: a preflight is refused (403)" "$(head -1 <<<"$pre" | awk '{print $2}')" 403
check "CORS: a preflight gets no Access-Control-Allow-* header" \
	test "$(grep -ci '^access-control-allow' <<<"$pre")" = 0
pre=$(kurl -i -X OPTIONS -H "Origin: $URL" -H 'Access-Control-Request-Method: POST' "$URL/api/v1/rollouts/web/pause")
eq "CORS: even a preflight naming canaryd's own origin is refused" "$(head -1 <<<"$pre" | awk '{print $2}')" 403
x=$(kurl -i -H 'Origin: https://evil.example' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-d '{}' "$URL/api/v1/rollouts/web/pause")
eq "CORS: a cross-origin POST with the bearer header is refused (403)" "$(head -1 <<<"$x" | awk '{print $2}')" 403
for p in / /api/v1/services /api/v1/rollouts; do
	check "no Access-Control-Allow-Origin on $p, even for a foreign Origin" test "$(kurl -D - -o /dev/null \
		-H 'Origin: https://evil.example' "$URL$p" | grep -ci '^access-control-allow-origin')" = 0
done

# --- a running rollout ------------------------------------------------------------------------
cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: web
steps: [10, 30, 60, 100]
hold: 8s
min_flows: 20
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, errored_flows]
on_rollback: drain
YAML
load_start 10.0.0.10:80 150 60 load
actl rollout start web --plan "$TOPO_LOGDIR/plan.yaml" >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(actl rollout status web --json | jq -r .step)" -ge 2 ] && break
	sleep 0.1
done
snap running
r=$(actl rollout status web --json)
eq "running: the API says Progressing" "$(jq -r .phase <<<"$r")" Progressing
eq "running: the page names the service" "$(count "$ART/running.html" "//section[@data-service='web']")" 1
eq "running: the page shows the phase" "$(field "$ART/running.html" phase)" Progressing
step=$(field "$ART/running.html" step)
check "running: the page shows step i/4 with i >= 2 (page: '$step')" grep -Eq '^[234]/4$' <<<"$step"
api_match "running: the page's step is the API's" "$step" '"\(.step)/\(.steps)"' running
api_match "running: the page's set weight is the API's" "$(field "$ART/running.html" canary_weight)" .canary_weight running
api_match "running: the stable arm's weight is 100 - canary" \
	"$(xmllint --html --xpath "string(//section[@data-service='web']//tr[@data-arm='stable']/td[@data-field='weight'])" "$ART/running.html" 2>/dev/null)" \
	'100 - .canary_weight' running
eq "running: one evidence row per signal" "$(count "$ART/running.html" "//section[@data-service='web']//table[@class='evidence']//tr[@data-signal]")" 2
check "running: the chart draws the weight" test "$(count "$ART/running.html" "//section[@data-service='web']//*[local-name()='polyline' and @class='weight']")" = 1
check "running: the chart draws each signal's threshold" test "$(count "$ART/running.html" "//*[local-name()='line' and @class='threshold']")" = 2
eq "running: no rollback marker yet" "$(count "$ART/running.html" "//*[@data-kind='rollback']")" 0
eq "without a token no action is offered" "$(count "$ART/running.html" '//button[@data-action]')" 0
check "the token box is offered (this listener takes a token)" \
	test "$(xmllint --html --xpath "count(//form[@id='tokenbox' and not(@hidden)])" "$ART/running.html" 2>/dev/null)" = 1

# --- the operator pastes the token: the actions appear and work --------------------------
# A browser kept running, driven through the DevTools protocol (tests/lib/cdp.pl):
# type the token into the page's box, wait for the buttons, press pause, then resume.
DPORT=$((40000 + RANDOM % 20000))
bg_in_ns "$NS_SPL" "${CHROME[@]/--virtual-time-budget=6000/--remote-debugging-port=$DPORT}" \
	"$URL/" >/dev/null 2>>"$TOPO_LOGDIR/chromium.log"
BROWSER_PID=$BG_PID
cat >"$TOPO_LOGDIR/session.js" <<JS
new Promise(r => { const f = () => document.querySelector('section.svc') ? r('ready') : setTimeout(f, 100); f(); })
document.querySelectorAll('button[data-action]').length
document.getElementById('token').value = '$tok'; document.getElementById('token-use').click(); 'pasted'
new Promise(r => { let n = 0; const f = () => document.querySelectorAll('section[data-service=web] button[data-action]').length || ++n > 100 ? r([...document.querySelectorAll('button[data-action]')].map(b => b.dataset.action).join(',')) : setTimeout(f, 100); f(); })
JSON.stringify([document.cookie, localStorage.length, sessionStorage.getItem('canaryd-token') === '$tok', document.getElementById('token').value])
window.confirm = () => true; document.querySelector('section[data-service=web] button[data-action=pause]').click(); new Promise(r => setTimeout(() => r(document.getElementById('actionmsg').textContent), 2000))
document.querySelector('section[data-service=web] button[data-action=resume]').click(); new Promise(r => setTimeout(() => r(document.getElementById('actionmsg').textContent), 2000))
JS
out=$(spl timeout 60 perl tests/lib/cdp.pl "$DPORT" "$URL/" <"$TOPO_LOGDIR/session.js" 2>&1)
echo "$out" >"$ART/token-session.txt"
eq "token: the page rendered in the driven browser" "$(sed -n 1p <<<"$out")" ready
eq "token: before it, no action" "$(sed -n 2p <<<"$out")" 0
eq "token: once pasted, pause, resume, abort and promote appear" "$(sed -n 4p <<<"$out")" pause,resume,abort,promote
eq "token: kept in the tab only (no cookie, nothing in localStorage; the box is cleared)" \
	"$(sed -n 5p <<<"$out")" '["",0,true,""]'
eq "token: the page's pause button pauses the rollout" "$(sed -n 6p <<<"$out")" "web: pause: now Paused"
eq "token: its resume button resumes it" "$(sed -n 7p <<<"$out")" "web: resume: now Progressing"
eq "token: the history names the page's token for both" \
	"$(actl history web --json | jq -r '[.[] | select(.reason == "pause" or .reason == "resume") | "\(.reason):\(.actor)"] | join(",")')" \
	"pause:token:dash,resume:token:dash"
kill "$BROWSER_PID" 2>/dev/null
wait "$BROWSER_PID" 2>/dev/null

# --- a weight set by hand: the rollout pauses, and the chart marks the change -----------
ctl set-weight web 20 >/dev/null
wait_phase web 10 Paused
eq "manual: the rollout pauses for the hand-set weight" "$(actl rollout status web --json | jq -r .paused_for)" manual_weight
snap manual
eq "manual: the page shows the pause" "$(field "$ART/manual.html" phase)" Paused
eq "manual: one manual marker, at the hand-set weight" \
	"$(xmllint --html --xpath "string(//*[@data-kind='manual']/@data-weight)" "$ART/manual.html" 2>/dev/null)" 20
actl rollout resume web >/dev/null
eq "manual: resumed" "$(phase_of web)" Progressing

# A foreign page in the same browser tries to pause the rollout with the token: the
# browser must ask first (a preflight), canaryd refuses, and the POST is never sent.
cat >"$TOPO_LOGDIR/foreign.html" <<HTML
<!DOCTYPE html><html><head><title>waiting</title><script>
fetch("$URL/api/v1/rollouts/web/pause", {method: "POST", body: "{}",
  headers: {"Authorization": "Bearer $tok", "Content-Type": "application/json"}})
  .then(r => { document.title = "sent " + r.status; }, e => { document.title = "blocked"; });
</script></head><body></body></html>
HTML
out=$(browse --dump-dom "file://$TOPO_LOGDIR/foreign.html")
eq "a foreign page's fetch with the bearer header is blocked in the browser" \
	"$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' <<<"$out")" blocked
eq "...and the rollout was not paused" "$(phase_of web)" Progressing
eq "...and the history has no new pause" "$(actl history web --json | jq '[.[] | select(.reason == "pause")] | length')" 1

# --- the canary fails: rolled back automatically ------------------------------------------
printf 'error_rate=0.4\n' >"$TOPO_LOGDIR/faults.tmp" && mv "$TOPO_LOGDIR/faults.tmp" "$TOPO_LOGDIR/faults"
kill -HUP "$(cat "$TOPO_LOGDIR/canary.pid")"
wait_phase web 40 RolledBack Succeeded
eq "failing canary: rolled back" "$(phase_of web)" RolledBack
snap rolledback
d=$ART/rolledback.html
eq "rolled back: the page shows the phase" "$(field "$d" phase)" RolledBack
eq "rolled back: the page's weight is 0" "$(field "$d" canary_weight)" 0
eq "rolled back: one rollback marker" "$(count "$d" "//*[@data-kind='rollback']")" 1
h=$(actl history web --json)
eq "rolled back: the marker is the history's auto-rollback, from its weight to 0" \
	"$(xmllint --html --xpath "string(//*[@data-kind='rollback']/@data-reason)" "$d" 2>/dev/null) $(xmllint --html --xpath "string(//*[@data-kind='rollback']/@data-old-weight)" "$d" 2>/dev/null)" \
	"$(jq -r '.[-1] | "\(.reason) \(.old_weight)"' <<<"$h")"
check "rolled back: the reason names the signal" grep -Eq '^(http_5xx|errored_flows): e-value' <<<"$(field "$d" reason)"
eq "rolled back: still no action without a token" "$(count "$d" '//button[@data-action]')" 0

# --- the page's own origin with the token may act (what the page sends) -----------------
code=$(kurl -o /dev/null -w '%{http_code}' -H "Origin: $URL" -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' -d '{}' "$URL/api/v1/rollouts/web/abort")
check "the page's origin with the token reaches the command (409: the rollout is over, got $code)" test "$code" = 409
code=$(kurl -o /dev/null -w '%{http_code}' -H "Origin: $URL" -H 'Content-Type: application/json' -d '{}' \
	"$URL/api/v1/rollouts/web/abort")
eq "the page's origin without the token is refused (401)" "$code" 401

for f in running manual rolledback; do
	check "screenshot $f.png written" test -s "$ART/$f.png"
done
