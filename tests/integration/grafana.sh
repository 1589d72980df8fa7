#!/usr/bin/env bash
# grafana.sh: the Grafana dashboard (contrib/grafana/xdp-canary.json) checked through its
# queries, since Grafana is not a Debian package. The JSON must be a dashboard whose every
# panel has a title, a datasource and a target. A real Prometheus, started here, scrapes
# canaryd every second during a rollout with traffic and a business metric; every PromQL
# expression of the dashboard (and of its variables), with the variables filled in, must
# then return data from Prometheus' HTTP API: a query that returns nothing is a broken
# panel. A copy of the dashboard with a planted panel on a misspelt metric must be caught.
. "$(dirname "$0")/lib.sh"

DASH=contrib/grafana/xdp-canary.json

# --- the JSON itself ----------------------------------------------------------------------
check "dashboard: valid JSON" jq empty "$DASH"
# Panels, also those nested in collapsed rows; rows are layout only.
panels='[.panels[], (.panels[] | .panels[]?)] | map(select(.type != "row"))'
eq "dashboard: has a title, a uid and a schemaVersion" \
	"$(jq -r '[.title, .uid, (.schemaVersion | type)] | join(" ")' "$DASH")" "xdp-canary xdp-canary number"
# The panels of FILE that lack a title, a datasource or a target with an expression.
shape_errors() {
	jq -r "$panels"' | .[] | select((.title // "") == "" or (.datasource.uid // "") == ""
		or ([.targets[]? | select((.expr // "") != "")] | length) == 0) | "\(.id) \(.title // "-")"' "$1"
}
bad=$(shape_errors "$DASH")
eq "dashboard: every panel has a title, a datasource and a target${bad:+ (not: $bad)}" "$bad" ""
eq "dashboard: panel ids are unique" "$(jq '[.panels[], (.panels[] | .panels[]?)] | (map(.id) | unique | length) == length' "$DASH")" true
# shellcheck disable=SC2016 # the literal ${datasource} of the JSON
eq "dashboard: panels use the datasource variable" \
	"$(jq -r "$panels"' | map(.datasource.uid) | unique | join(",")' "$DASH")" '${datasource}'
eq "dashboard: variables datasource, node and service" \
	"$(jq -c '[.templating.list[].name]' "$DASH")" '["datasource","node","service"]'

# --- a rollout with traffic, scraped by a real Prometheus ---------------------------------
topo_up
apply_services <<'YAML'
services:
  - { name: shop, vip: 10.0.0.41, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080", "10.0.2.3:8080"], canary: ["10.0.3.2:8080"] }
YAML
need "canaryd" agent_start

# Prometheus in the splitter's namespace (where canaryd listens on 127.0.0.1:9181), on a
# loopback port nothing there listens on.
PORT=
for ((i = 0; i < 20; i++)); do
	p=$((20000 + RANDOM % 20000))
	spl ss -Hltn "sport = :$p" | grep -q . || {
		PORT=$p
		break
	}
done
need "a free loopback port" test -n "$PORT"
cat >"$TOPO_LOGDIR/prometheus.yml" <<'YAML'
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: xdp-canary
    static_configs:
      - targets: ["127.0.0.1:9181"]
YAML
bg_in_ns "$NS_SPL" prometheus --config.file="$TOPO_LOGDIR/prometheus.yml" \
	--storage.tsdb.path="$TOPO_LOGDIR/tsdb" --web.listen-address="127.0.0.1:$PORT" \
	>"$TOPO_LOGDIR/prometheus.log" 2>&1
PROM=http://127.0.0.1:$PORT

# One instant query; prints Prometheus' JSON answer.
query() { spl curl -sf --max-time 10 "$PROM/api/v1/query" --data-urlencode "query=$1"; }

ready=0
for ((i = 0; i < 100; i++)); do
	query 'up{job="xdp-canary"} == 1' 2>/dev/null | jq -e '.data.result | length > 0' >/dev/null && {
		ready=1
		break
	}
	sleep 0.2
done
need "Prometheus is up and scraping canaryd" test "$ready" = 1
ok "Prometheus is up and scraping canaryd"

cat >"$TOPO_LOGDIR/plan.yaml" <<'YAML'
service: shop
steps: [20, 50, 100]
hold: 60s
min_flows: 20
analysis:
  srm_responses: true
  signals: [http_5xx, resets, errored_flows]
  metrics:
    - { name: checkout, direction: lower_is_worse, source: push, stale_after: 60s }
YAML
load_start 10.0.0.41:80 100 40 load
need "rollout start" actl rollout start shop --plan "$TOPO_LOGDIR/plan.yaml" >/dev/null
# The business metric's counts, as the shop's own code would push them.
need "metric push" actl metric push shop --arm stable --name checkout --successes 30 --trials 100 >/dev/null
need "metric push" actl metric push shop --arm canary --name checkout --successes 29 --trials 100 >/dev/null
# Enough samples for rates over the substituted $__rate_interval (5s) at a 1s scrape.
sleep 8
eq "the rollout is under way" "$(phase_of shop)" Progressing

# The value each variable takes: the service and the node Prometheus knows canaryd by.
NODE=$(query 'xdp_canary_agent_polls_total' | jq -r '.data.result[0].metric.instance')
check "the node is canaryd's scrape target" test "$NODE" = 127.0.0.1:9181

# Fill in the dashboard's variables and Grafana's built-in intervals.
subst() {
	sed -e 's/\$__rate_interval/5s/g; s/\${__rate_interval}/5s/g' \
		-e 's/\$__interval/1s/g; s/\${__interval}/1s/g' \
		-e 's/\$__range/1m/g; s/\${__range}/1m/g' \
		-e "s/\\\$service/shop/g; s/\\\${service}/shop/g" \
		-e "s/\\\$node/$NODE/g; s/\\\${node}/$NODE/g"
}

# Every query of a dashboard FILE against Prometheus; prints "PANEL (REF): why" for each
# that is broken (an error, no series, or only NaN) and "ok" lines for the others.
check_queries() {
	local file=$1 title ref expr q a n
	while IFS=$'\t' read -r title ref expr; do
		q=$(subst <<<"$expr")
		if [[ $q == *'$'* ]]; then
			echo "$title ($ref): a variable is left unfilled: $q"
			continue
		fi
		if ! a=$(query "$q"); then
			echo "$title ($ref): Prometheus refused the query: $q"
			continue
		fi
		# Data: at least one series with a number (Grafana draws nothing for NaN).
		n=$(jq '[.data.result[] | .value[1] | select(. != "NaN" and . != "+Inf" and . != "-Inf")] | length' <<<"$a")
		if [ "$n" -eq 0 ]; then
			echo "$title ($ref): no data: $q"
		else
			echo "ok $title ($ref): $n series"
		fi
	done < <(jq -r "$panels"' | .[] | .title as $t | .targets[] | select((.expr // "") != "")
		| [$t, .refId, .expr] | @tsv' "$file")
}

out=$(check_queries "$DASH")
echo "$out" | sed 's/^/# /'
nq=$(jq "$panels"' | [.[].targets[] | select((.expr // "") != "")] | length' "$DASH")
eq "dashboard: every one of its $nq queries returns data$(grep -v '^ok ' <<<"$out" | sed 's/^/; /' | tr -d '\n')" \
	"$(grep -c '^ok ' <<<"$out")" "$nq"

# The variables' own queries: label_values(SELECTOR, LABEL) must list at least one value.
while IFS=$'\t' read -r name def; do
	if [[ $def =~ ^label_values\((.*),\ *([a-z_]+)\)$ ]]; then
		q="count by (${BASH_REMATCH[2]}) (${BASH_REMATCH[1]})"
		vals=$(query "$(subst <<<"$q")" | jq -r --arg l "${BASH_REMATCH[2]}" '[.data.result[].metric[$l]] | join(",")')
		check "variable $name lists values ($vals)" test -n "$vals"
	else
		not_ok "variable $name: not a label_values() query: $def"
	fi
done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, .definition] | @tsv' "$DASH")

# Every metric name the dashboard uses is one canaryd exports (not only one that some
# query happens to tolerate).
m=$(spl curl -sf http://127.0.0.1:9181/metrics)
missing=
for name in $(jq -r '.. | .expr? // empty' "$DASH" | grep -o 'xdp_canary_[a-z0-9_]*' | sort -u); do
	grep -q "^${name}[{ ]" <<<"$m" || missing+=" $name"
done
eq "dashboard: every metric it names is in canaryd's /metrics" "$missing" ""

# --- control: a planted panel on a misspelt metric is caught ------------------------------
jq '.panels += [{id: 999, type: "timeseries", title: "Planted: misspelt weight",
	datasource: {type: "prometheus", uid: "${datasource}"},
	targets: [{refId: "A", expr: "max by (service) (xdp_canary_canary_wieght_ratio{service=~\"$service\"})"}]}]' \
	"$DASH" >"$TOPO_LOGDIR/planted.json"
out=$(check_queries "$TOPO_LOGDIR/planted.json")
eq "control: the planted panel is the one broken panel" "$(grep -v '^ok ' <<<"$out" | sed 's/: no data: .*//')" \
	"Planted: misspelt weight (A)"
jq '.panels += [{id: 998, type: "stat", title: "Planted: no target", datasource: {type: "prometheus"}}]' \
	"$DASH" >"$TOPO_LOGDIR/shapeless.json"
eq "control: a panel without datasource and target is caught" "$(shape_errors "$TOPO_LOGDIR/shapeless.json")" \
	"998 Planted: no target"
