#!/usr/bin/env bash
# report.sh: canaryctl report, looked at the way a person would. Two rollouts run on real
# traffic: one is promoted, the other's canary starts failing and is rolled back
# automatically. Each report must be well-formed (xmllint), carry no script, render in
# headless chromium (the screenshot is kept as an artefact), and its plotted points,
# mapped back through each chart's axes, must give the history's numbers: the weight
# and time of every entry, each signal's e-value (log axis) and each arm's rate.
. "$(dirname "$0")/lib.sh"

ART=${ARTEFACT_DIR:-$PWD/$BUILD/artefacts}/report
mkdir -p "$ART"
echo "# artefacts (reports, screenshots) in $ART"

need "create topology" topo_create
need "attach" topo_attach >/dev/null
printf 'error_rate=0\n' >"$TOPO_LOGDIR/faults"
need "start backends" topo_backends --faults-file "$TOPO_LOGDIR/faults" --pidfile "$TOPO_LOGDIR/canary.pid"
topo_backend "$NS_CA" canary-ok --listen 10.0.3.2:8081
need "canaries listen" topo_wait_port "$NS_CA" 10.0.3.2 8081
apply_services <<'YAML'
services:
  - { name: good, vip: 10.0.0.11, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8081"] }
  - { name: bad, vip: 10.0.0.12, port: 80, hash: flow, http: true,
      stable: ["10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
  - { name: idle, vip: 10.0.0.13, port: 80, stable: ["10.0.2.2:8089"], canary: ["10.0.3.2:8089"] }
YAML
need "canaryd" agent_start
for s in good bad; do
	cat >"$TOPO_LOGDIR/plan-$s.yaml" <<YAML
service: $s
steps: [10, 40, 100]
hold: 2s
min_flows: 20
analysis:
  alpha: 0.01
  signals: [http_5xx, errored_flows]
YAML
done
load_start 10.0.0.11:80 100 30 load-good
load_start 10.0.0.12:80 100 30 load-bad
actl rollout start good --plan "$TOPO_LOGDIR/plan-good.yaml" >/dev/null
actl rollout start bad --plan "$TOPO_LOGDIR/plan-bad.yaml" >/dev/null
# bad's canary fails once the rollout is at its second step.
for ((i = 0; i < 100; i++)); do
	[ "$(actl rollout status bad --json | jq -r .step)" -ge 2 ] && break
	sleep 0.1
done
printf 'error_rate=0.4\n' >"$TOPO_LOGDIR/faults.tmp" && mv "$TOPO_LOGDIR/faults.tmp" "$TOPO_LOGDIR/faults"
kill -HUP "$(cat "$TOPO_LOGDIR/canary.pid")"
wait_phase bad 30 RolledBack Succeeded
eq "bad: rolled back" "$(phase_of bad)" RolledBack
wait_phase good 30 Succeeded RolledBack
eq "good: promoted" "$(phase_of good)" Succeeded

# xpath on the report, namespaces ignored: xp FILE EXPR
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }
n() { sed 's/[^A-Za-z0-9_]//g' <<<"$1"; } # an element name for local-name()
E() { printf "//*[local-name()='%s'%s]" "$(n "$1")" "${2:+ and $2}"; }
# A chart's axes, as "t0 t1 x0 x1 v0 v1 y0 y1 scale".
axes() {
	local a out=""
	for a in t0 t1 x0 x1 v0 v1 y0 y1 scale; do
		out+="$(xp "$1" "string($(E svg "@id='$2'")/@data-$a) ") "
	done
	echo "$out"
}
# Map a pixel back to a value through the axes: back AXES cx|cy PIXEL
back() {
	awk -v ax="$1" -v which="$2" -v p="$3" 'BEGIN {
		split(ax, a, " ")
		if (which == "cx") { printf "%.6f", a[1] + (p - a[3]) * (a[2] - a[1]) / (a[4] - a[3]); exit }
		if (a[9] == "log10") { lo = log(a[5]) / log(10); hi = log(a[6]) / log(10)
			printf "%.6g", 10 ^ (lo + (p - a[7]) * (hi - lo) / (a[8] - a[7])); exit }
		printf "%.6f", a[5] + (p - a[7]) * (a[6] - a[5]) / (a[8] - a[7]) }'
}
# |a - b| <= tol, or relative: close A B TOL [rel]
close() { awk -v a="$1" -v b="$2" -v t="$3" -v r="${4:-}" 'BEGIN {
	d = a - b; if (d < 0) d = -d; if (r != "") { m = b < 0 ? -b : b; t = t * m + 1e-12 }
	exit !(d <= t) }'; }

report_checks() { # SERVICE OUTCOME WHAT MARKER-KIND JQ-TEST-OF-THE-MARKED-ENTRY
	local s=$1 f=$ART/report-$1.html h ax i k t w cx cy bad=0 sig e x nn nev=0
	actl report "$s" --out "$f"
	eq "$s: canaryctl report exits 0" "$?" 0
	out=$(xmllint --noout "$f" 2>&1)
	check "$s: the report is well-formed XML (XHTML with inline SVG)${out:+: $out}" test -z "$out"
	eq "$s: no script in the report" "$(xp "$f" "count($(E script))")" 0
	eq "$s: the SVG charts are SVG (namespace)" \
		"$(xp "$f" "count(//*[local-name()='svg' and namespace-uri()='http://www.w3.org/2000/svg'])")" 4
	eq "$s: the outcome" "$(xp "$f" "string($(E td "@id='outcome'"))")" "$2"
	h=$(actl history "$s" --json | jq -c '.[(map(.reason == "start") | rindex(true)):]')
	eq "$s: one history row per entry" "$(xp "$f" "count($(E table "@id='history'")/*[local-name()='tr' and @data-i])")" \
		"$(jq length <<<"$h")"
	# Every entry's time and weight, from the weight chart's points through its axes.
	ax=$(axes "$f" weight)
	for ((i = 0; i < $(jq length <<<"$h"); i++)); do
		t=$(jq ".[$i].time_ms" <<<"$h")
		w=$(jq ".[$i].new_weight" <<<"$h")
		cx=$(xp "$f" "string($(E circle "@class='pt' and @data-i='$i'")/@cx)")
		cy=$(xp "$f" "string($(E circle "@class='pt' and @data-i='$i'")/@cy)")
		close "$(back "$ax" cx "$cx")" "$t" 50 || { echo "# $s entry $i: time $(back "$ax" cx "$cx") != $t"; bad=1; }
		close "$(back "$ax" cy "$cy")" "$w" 0.05 || { echo "# $s entry $i: weight $(back "$ax" cy "$cy") != $w"; bad=1; }
		# Each signal's e-value (log axis) and each arm's rate, against the evidence text.
		while read -r sig e x nn; do
			nev=$((nev + 1))
			cy=$(xp "$f" "string($(E circle "@class='ev' and @data-signal='$sig' and @data-i='$i'")/@cy)")
			close "$(back "$(axes "$f" evalues)" cy "$cy")" "$e" 0.02 rel ||
				{ echo "# $s entry $i: $sig e-value $(back "$(axes "$f" evalues)" cy "$cy") != $e"; bad=1; }
			cy=$(xp "$f" "string($(E g "@class='rate' and @data-arm='canary' and @data-i='$i'")/*[local-name()='circle']/@cy)")
			[ "$nn" -gt 0 ] && ! close "$(back "$(axes "$f" "rate-$sig")" cy "$cy")" "$(awk -v a="$x" -v b="$nn" 'BEGIN { print a / b }')" 0.002 &&
				{ echo "# $s entry $i: $sig canary rate $(back "$(axes "$f" "rate-$sig")" cy "$cy") != $x/$nn"; bad=1; }
		done < <(jq -r ".[$i].evidence" <<<"$h" | sed 's/;.*//' |
			grep -oE '[a-z0-9_]+ E=[^/ ]+/[0-9.e+]+ \(canary [0-9]+/[0-9]+' |
			sed -E 's:^([a-z0-9_]+) E=([^/]+)/[^ ]+ \(canary ([0-9]+)/([0-9]+):\1 \2 \3 \4:')
	done
	eq "$s: every plotted point maps back to the history's numbers" "$bad" 0
	ge "$s: e-values and rates were compared" "$nev" 4
	k=$(jq "map($5) | index(true)" <<<"$h")
	eq "$s: one $3 marker, at the history's $3 entry" \
		"$(xp "$f" "string($(E g "@class='marker' and @data-kind='$4'")/@data-i)")" "$k"
	check "$s: each signal's threshold is drawn" test "$(xp "$f" "count($(E line "@class='threshold'"))")" = 2
	check "$s: intervals around every rate" test "$(xp "$f" "count($(E line "@class='ci'"))")" -ge 4
	spl timeout 60 chromium --headless --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-javascript --user-data-dir="$PROFILE" \
		$([ "$(id -u)" = 0 ] && echo --no-sandbox) --window-size=1000,1900 \
		--screenshot="$ART/report-$s.png" "file://$f" >/dev/null 2>>"$TOPO_LOGDIR/chromium.log"
	check "$s: chromium renders the report with scripts off (report-$s.png)" test -s "$ART/report-$s.png"
}
PROFILE=$(mktemp -d /tmp/xdp-canary-chromium.XXXXXX)
trap 'rc=$?; rm -rf "$PROFILE"; (exit $rc); t_cleanup' EXIT
report_checks bad RolledBack auto-rollback rollback '.reason == "auto-rollback"'
report_checks good Succeeded promotion promotion '.new_weight == 100'
check "bad: the decision names the signal" grep -Eq '(http_5xx|errored_flows): e-value' \
	<<<"$(xp "$ART/report-bad.html" "string($(E td "@id='decision'"))")"

out=$(actl report idle 2>&1)
eq "a service with no rollout: exit 2" "$?" 2
check "...saying so" grep -q "has no rollout" <<<"$out"
out=$(actl report good --out /nonexistent/dir/r.html 2>&1)
eq "an unwritable --out: exit 1" "$?" 1
