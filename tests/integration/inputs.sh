#!/usr/bin/env bash
# inputs.sh: malformed input is refused with file, line and field, and changes nothing.
# The corpora are tests/data/services-bad (canaryctl apply against live maps) and
# tests/data/plans-bad (canaryctl plan --dry-run, and canaryd's own check of a plan
# posted to its API). Each file's first line says what the error must name.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - name: web
    vip: 10.0.0.10
    port: 80
    canary_weight: 10
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
YAML
need "canaryd" agent_start

# --- services files -----------------------------------------------------------------------
s0=$(maps_snapshot)
n=0 bad=0
for f in tests/data/services-bad/*.yaml; do
	out=$(ctl apply -f "$f" 2>&1)
	rc=$?
	n=$((n + 1))
	if ! why=$(corpus_refused "$f" "$rc" "$out"); then
		not_ok "services file $f is refused naming its line and field: $why"
		bad=$((bad + 1))
	elif ! grep -q "nothing was changed" <<<"$out" && [ "$(head -1 "$f")" != "# expect: (file error)" ]; then
		not_ok "services file $f: the error says nothing was changed"
		bad=$((bad + 1))
	fi
done
ge "services corpus: at least 50 malformed files" "$n" 50
eq "services corpus: every file refused with file:line and field" "$bad" 0
eq "services corpus: the config maps are byte-identical afterwards" "$(maps_snapshot)" "$s0"
# The checker can fail: a valid file is not "refused".
printf '# expect: 4: services[0].port\n' >"$TOPO_LOGDIR/good.yaml"
cat "$CFG" >>"$TOPO_LOGDIR/good.yaml"
out=$(ctl apply -f "$TOPO_LOGDIR/good.yaml" 2>&1)
rc=$?
check "services corpus: the checker does not pass a file that applies" \
	eval '! corpus_refused "$TOPO_LOGDIR/good.yaml" "$rc" "$out" >/dev/null'

# --- plans ---------------------------------------------------------------------------------
n=0 bad=0 agent_bad=0
for f in tests/data/plans-bad/*.yaml; do
	out=$(actl plan --dry-run "$f" 2>&1)
	rc=$?
	n=$((n + 1))
	if ! why=$(corpus_refused "$f" "$rc" "$out"); then
		not_ok "plan $f is refused naming its line and field: $why"
		bad=$((bad + 1))
	fi
	# canaryd checks a plan itself: the same file posted to its API is refused
	# with the same message, and starts nothing.
	body=$(jq -n --rawfile t "$f" --arg f "$f" '{plan_text: $t, plan_file: $f}')
	r=$(agent_post /api/v1/rollouts/web "$body")
	code=$(tail -1 <<<"$r")
	msg=$(sed '$d' <<<"$r" | jq -r .error 2>/dev/null)
	if [ "$code" != 400 ] || ! why=$(corpus_refused "$f" 1 "$msg"); then
		not_ok "plan $f posted to canaryd: 400 naming line and field (got $code: $why)"
		agent_bad=$((agent_bad + 1))
	fi
done
ge "plan corpus: at least 30 malformed plans" "$n" 30
eq "plan corpus: canaryctl refuses every one with file:line and field" "$bad" 0
eq "plan corpus: canaryd refuses every one with file:line and field" "$agent_bad" 0
eq "plan corpus: no rollout was started" "$(actl rollout status web --json 2>/dev/null | jq -r .phase)" ""
eq "plan corpus: the weight is unchanged" "$(ctl status web --json | jq '.services[0].canary_weight')" 10
