#!/usr/bin/env bash
# prom-rules.sh: the Prometheus alerting rules in contrib/prometheus/. promtool checks
# their syntax and runs their unit tests (input series and the alerts that must, or must
# not, fire); every metric the rules read is one canaryd exports (its name is declared
# in userspace/lib/present/prom.c), and every phase and reason label value they match
# exists. Controls: a rule made blind, and a rule naming a metric canaryd lacks, must
# both be caught.
. "$(dirname "$0")/lib.sh"
RULES=contrib/prometheus/xdp-canary-rules.yml
TESTS=contrib/prometheus/xdp-canary-rules.test.yml

if ! command -v promtool >/dev/null; then
	nok "promtool is installed (Debian prometheus; scripts/install-deps.sh)"
	echo "$passed passed, $failed failed"
	exit 1
fi

out=$(promtool check rules "$RULES" 2>&1) && ok "promtool check rules $RULES" ||
	nok "promtool check rules $RULES: $out"
out=$(promtool test rules "$TESTS" 2>&1) && ok "promtool test rules: every alert case passes" ||
	nok "promtool test rules: $out"

# The metric names canaryd declares (head(f, "NAME", ...)); a histogram adds _bucket,
# _sum and _count.
exported() {
	grep -oE 'head\(f, "[a-z_]+"|histogram\(f, s, n, "[a-z_]+"' userspace/lib/present/prom.c |
		sed -E 's/.*"([a-z_]+)"/xdp_canary_\1/'
}
# The names the rules read.
used() { grep -oE 'xdp_canary_[a-z_]+' "$1" | sort -u; }

unknown_metrics() {
	local have name
	have=$(exported)
	for name in $(used "$1"); do
		grep -qx -- "$name" <<<"$have" || echo "$name"
	done
}

miss=$(unknown_metrics "$RULES" | tr '\n' ' ')
[ -z "$miss" ] && ok "every metric the rules read is exported by canaryd" ||
	nok "every metric the rules read is exported by canaryd (unknown: $miss)"
[ "$(used "$RULES" | wc -l)" -ge 5 ] && ok "the rules read at least 5 of canaryd's metrics" ||
	nok "the rules read at least 5 of canaryd's metrics"

# Label values: phase="..." (or phase=~"A|B") among rollout_phase_names; reason="..."
# among the reason counters' fields (a regex drop_.* must match at least one).
phases=$(sed -n '/rollout_phase_names\[PHASE_COUNT\] = {/,/};/p' userspace/lib/logic/rollout.c |
	grep -oE '"[A-Za-z]+"' | tr -d '"')
reasons=$(sed -n '/^struct reason_stats {/,/^};/p' bpf/xdp_canary.h |
	grep -oE '__u64 [a-z_]+;' | sed -E 's/__u64 ([a-z_]+);/\1/')
bad=""
for v in $(grep -oE 'phase=~?"[^"]+"' "$RULES" | sed -E 's/.*"(.*)"/\1/' | tr '|' '\n'); do
	grep -qx -- "$v" <<<"$phases" || bad+=" phase=$v"
done
for v in $(grep -oE 'reason=~?"[^"]+"' "$RULES" | sed -E 's/.*"(.*)"/\1/'); do
	grep -qxE -- "$v" <<<"$reasons" || bad+=" reason=$v"
done
[ -z "$bad" ] && ok "every phase and reason the rules match exists" ||
	nok "every phase and reason the rules match exists:$bad"

# Controls. A rollback rule that can no longer fire must fail the unit tests.
cp "$TESTS" "$tmp/"
sed 's/phase="RolledBack"} == 1/phase="RolledBack"} == 2/' "$RULES" >"$tmp/xdp-canary-rules.yml"
if cmp -s "$RULES" "$tmp/xdp-canary-rules.yml"; then
	nok "control: the rollback rule was found to break"
elif promtool test rules "$tmp/$(basename "$TESTS")" >/dev/null 2>&1; then
	nok "control: a blind rollback rule fails promtool test rules"
else
	ok "control: a blind rollback rule fails promtool test rules"
fi
# An absent() on a name canaryd does not export would never stop firing... or never
# fire: the name check must catch it.
sed 's/absent(xdp_canary_agent_polls_total)/absent(xdp_canary_agent_polls)/' "$RULES" \
	>"$tmp/typo.yml"
[ "$(unknown_metrics "$tmp/typo.yml")" = xdp_canary_agent_polls ] &&
	ok "control: a rule on a metric canaryd lacks is named" ||
	nok "control: a rule on a metric canaryd lacks is named"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
