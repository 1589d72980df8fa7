#!/usr/bin/env bash
# bench-peers.sh: `make bench-peers`. xdp-canary beside what a user would run instead
# (nftables DNAT with numgen, nginx stream with split_clients, HAProxy tcp mode, plain
# routing), in one namespace topology with the same backends and the same wrk load,
# interleaved round by round; then the packet rate on one veth wire (build/bench/peers_pps)
# and the live cost of the program (bpf_stats on real TCP against BPF_PROG_TEST_RUN).
# Prints Markdown tables with medians and same-run ratios, writes them and SVG charts to
# --out (default docs/bench). See docs/BENCHMARKS.md, "Peers" and "Live cost".
#   scripts/bench-peers.sh [--rounds N] [--duration S] [--conns N] [--modes "A B.."]
#                          [--out DIR] [--no-pps] [--no-live-cost] [--pps-frames N]
#                          [--results FILE]   (report again from a kept results.tsv)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=4
DURATION=4
CONNS=32
MODES="xdp nft nginx haproxy plain"
OUT=docs/bench
PPS=1
LIVE=1
PPS_FRAMES=4000000
RESULTS_IN=
usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--modes) MODES=$2; shift ;;
	--out) OUT=$2; shift ;;
	--pps-frames) PPS_FRAMES=$2; shift ;;
	--no-pps) PPS=0 ;;
	--results) RESULTS_IN=$2; shift ;;
	--no-live-cost) LIVE=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench-peers: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
for v in ROUNDS DURATION CONNS PPS_FRAMES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
		echo "bench-peers: --${v,,} needs a positive whole number, not '${!v}'" >&2
		exit 2
	}
done
# wrk, nginx and HAProxy hold many sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(id -u)" -eq 0 ] || { echo "bench-peers: run as root (sudo make bench-peers)" >&2; exit 1; }

BUILD=${BUILD:-build}
TOPO_LOGDIR=$(mktemp -d /tmp/bench-peers.XXXXXX)
export TOPO_LOGDIR
# shellcheck source=scripts/topology.sh
. scripts/topology.sh
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
RES=$TOPO_LOGDIR/results.tsv
HZ_NS=$((1000000000 / $(getconf CLK_TCK)))
PROXY_PID=
PASS_PIN=

cleanup() {
	set +e
	proxy_stop
	topo_destroy
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	rm -rf "$PASS_PIN"
	[ -n "${KEEP_LOGS:-}" ] && echo "bench-peers: logs kept in $TOPO_LOGDIR" >&2 || rm -rf "$TOPO_LOGDIR"
}
trap cleanup EXIT

# ---- the topology and the modes ------------------------------------------------------

VIP_URL=http://$VIP4/
PLAIN_URL=http://10.0.2.2:8080/

setup() {
	PASS_PIN=/sys/fs/bpf/xcan-$TOPO_ID-pass
	topo_create
	topo_backends
	local ns
	# The proxies connect from the splitter's own addresses: same port range as the
	# other namespaces, so Connection: close runs do not run out of ports.
	ip netns exec "$NS_SPL" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"
	ip netns exec "$NS_SPL" sysctl -qw net.ipv4.tcp_tw_reuse=1
	ip netns exec "$NS_SPL" sysctl -qw net.core.somaxconn=4096
	# Count each backend's SYNs (a filter chain, no conntrack), for the canary share.
	for ns in "$NS_ST" "$NS_CA"; do
		in_ns "$ns" nft -f - <<-'EOF'
			table inet bpcount {
				chain in {
					type filter hook input priority 0; policy accept;
					tcp dport 8080 tcp flags & (syn | ack) == syn counter
				}
			}
		EOF
	done
}

syn_count() {
	in_ns "$1" nft -j list table inet bpcount | jq '[.nftables[].rule? // empty |
		.expr[] | .counter? // empty | .packets] | add'
}

services_yaml() {
	cat <<-EOF
		services:
		  - name: web
		    vip: $VIP4
		    port: 80
		    protocol: tcp
		    hash: flow
		    canary_weight: ${CANARY_WEIGHT:-10}
		    http: ${XDP_HTTP:-true}
		    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
		    canary: ["10.0.3.2:8080"]
	EOF
}

# xdp: canary-loader attach + canaryctl apply of a 90/10 service. XDP_FLOWS and
# XDP_HTTP make the live-cost variants.
up_xdp() {
	topo_attach ${XDP_FLOWS:+--flows "$XDP_FLOWS"} >/dev/null
	services_yaml >"$TOPO_LOGDIR/services.yaml"
	ctl apply -f "$TOPO_LOGDIR/services.yaml" >/dev/null
}
down_xdp() {
	spl "$BUILD/canary-loader" detach --all --purge --pin-root "$PIN_ROOT" >/dev/null
}

# nftables DNAT: a numgen random map 45/45/10; conntrack rewrites the replies back.
up_nft() {
	spl nft -f - <<-EOF
		table ip bpeers {
			chain pre {
				type nat hook prerouting priority dstnat; policy accept;
				ip daddr $VIP4 tcp dport 80 dnat to numgen random mod 100 map {
					0-44 : 10.0.2.2, 45-89 : 10.0.2.3, 90-99 : 10.0.3.2 } : 8080
			}
		}
	EOF
}
down_nft() {
	spl nft delete table ip bpeers
	spl conntrack -F >/dev/null 2>&1 || true
}

# The proxies listen on the VIP, a local address of the splitter for these two modes.
up_nginx() {
	ip -n "$NS_SPL" addr add "$VIP4/32" dev lo
	cat >"$TOPO_LOGDIR/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_stream_module.so;
		daemon off;
		worker_processes auto;
		worker_rlimit_nofile 16384;
		pid $TOPO_LOGDIR/nginx.pid;
		error_log $TOPO_LOGDIR/nginx-error.log warn;
		events { worker_connections 16384; }
		stream {
			split_clients "\${remote_addr}\${remote_port}" \$backend {
				45% 10.0.2.2:8080;
				45% 10.0.2.3:8080;
				*   10.0.3.2:8080;
			}
			server { listen $VIP4:80 backlog=4096; proxy_pass \$backend; }
		}
	EOF
	bg_in_ns "$NS_SPL" nginx -p "$TOPO_LOGDIR" -e "$TOPO_LOGDIR/nginx-error.log" \
		-c "$TOPO_LOGDIR/nginx.conf" >>"$TOPO_LOGDIR/nginx.log" 2>&1
	PROXY_PID=$BG_PID
	topo_wait_port "$NS_SPL" "$VIP4" 80
}
down_nginx() { proxy_stop; }

up_haproxy() {
	ip -n "$NS_SPL" addr add "$VIP4/32" dev lo
	cat >"$TOPO_LOGDIR/haproxy.cfg" <<-EOF
		global
		    maxconn 8000
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 30s
		    timeout server 30s
		frontend fe
		    bind $VIP4:80
		    default_backend be
		backend be
		    balance roundrobin
		    server st1 10.0.2.2:8080 weight 45
		    server st2 10.0.2.3:8080 weight 45
		    server ca1 10.0.3.2:8080 weight 10
	EOF
	bg_in_ns "$NS_SPL" haproxy -db -f "$TOPO_LOGDIR/haproxy.cfg" >>"$TOPO_LOGDIR/haproxy.log" 2>&1
	PROXY_PID=$BG_PID
	topo_wait_port "$NS_SPL" "$VIP4" 80
}
down_haproxy() { proxy_stop; }

proxy_stop() {
	[ -n "$PROXY_PID" ] || return 0
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	PROXY_PID=
	ip -n "$NS_SPL" addr del "$VIP4/32" dev lo 2>/dev/null || true
}

# plain routing: the client talks to one backend directly, through the same splitter
# namespace, which only forwards.
up_plain() { :; }
down_plain() { :; }

# ---- what one run measures ------------------------------------------------------------

# Softirq ticks of all CPUs (field 7 of the cpu line of /proc/stat).
softirq_ticks() { awk '$1 == "cpu" {print $8}' /proc/stat; }

# utime + stime (ticks) of the proxy and its children (nginx workers; HAProxy's threads
# are in its own figure).
proxy_ticks() {
	local p sum=0 t
	[ -n "$PROXY_PID" ] || { echo 0; return; }
	for p in "$PROXY_PID" $(pgrep -P "$PROXY_PID" || true); do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		sum=$((sum + t))
	done
	echo "$sum"
}

# Sum of run_time_ns and run_cnt over the distinct programs attached in the splitter.
bpf_stats() {
	local ids
	ids=$(spl ip -j link show | jq -r '.[] | .xdp.prog.id? // empty' | sort -u)
	[ -n "$ids" ] || { echo "0 0"; return; }
	for id in $ids; do bpftool -j prog show id "$id"; done |
		jq -s -r '"\(map(.run_time_ns // 0) | add) \(map(.run_cnt // 0) | add)"'
}

# One run: MODE LOAD ROUND; appends a line to $RES:
#   mode load round requests req/s errors softirq_ns/req proc_ns/req bpf_ns/req bpf_ns/run
#   canary_share
run_one() {
	local mode=$1 load=$2 round=$3 url=$VIP_URL hdr=() s0 s1 p0 p1 b0 b1 c0 c1 st0 st1
	[ "$mode" = plain ] || [ "$mode" = pass ] && url=$PLAIN_URL
	[ "$load" = close ] && hdr=(-H 'Connection: close')
	# One second of warm-up (the first flows, the proxy's first connections).
	cli wrk -t1 -c"$CONNS" -d1s "${hdr[@]}" "$url" >/dev/null 2>&1 || true
	st0=$(syn_count "$NS_ST"); c0=$(syn_count "$NS_CA")
	s0=$(softirq_ticks); p0=$(proxy_ticks); read -r b0 r0 < <(bpf_stats)
	cli wrk -t1 -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" "$url" >"$TOPO_LOGDIR/wrk.out" 2>&1
	s1=$(softirq_ticks); p1=$(proxy_ticks); read -r b1 r1 < <(bpf_stats)
	st1=$(syn_count "$NS_ST"); c1=$(syn_count "$NS_CA")
	awk -v mode="$mode" -v load="$load" -v round="$round" -v hz="$HZ_NS" \
		-v ds=$((s1 - s0)) -v dp=$((p1 - p0)) -v db=$((b1 - b0)) -v dr=$((r1 - r0)) \
		-v dst=$((st1 - st0)) -v dca=$((c1 - c0)) '
		/requests in/ {req = $1}
		/Requests\/sec/ {rps = $2}
		/Socket errors/ {gsub(/,/, ""); err = $4 + $6 + $8 + $10}
		/Non-2xx/ {err += $NF}
		END {
			if (req == 0) { print "wrk made no requests (" mode ", " load ")" > "/dev/stderr"; exit 1 }
			share = (dst + dca) ? dca / (dst + dca) : 0
			printf "%s\t%s\t%d\t%d\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.4f\n", mode, load,
				round, req, rps, err, ds * hz / req, dp * hz / req, db / req,
				dr ? db / dr : 0, share
		}' "$TOPO_LOGDIR/wrk.out" >>"$RES"
}

# ---- statistics -----------------------------------------------------------------------

# median of the numbers on stdin (one per line)
median() {
	sort -g | awk '{v[NR] = $1} END {if (!NR) {print "nan"; exit}
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# range "lo-hi" of the numbers on stdin
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3g-%.3g", lo, hi}'; }

# col MODE LOAD FIELD: one value per round (fields as in run_one, 1-based)
col() { awk -F'\t' -v m="$1" -v l="$2" -v f="$3" '$1 == m && $2 == l {print $f}' "$RES"; }

# Splitter CPU per request (ns), per round: see docs/BENCHMARKS.md for the definition.
splitter_ns() {
	local mode=$1 load=$2
	awk -F'\t' -v m="$mode" -v l="$load" '
		$2 == l && $1 == "plain" {plain[$3] = $7}
		$2 == l && $1 == m {soft[$3] = $7; proc[$3] = $8; bpf[$3] = $9}
		END {
			for (r in soft) {
				if (m == "xdp" || m ~ /^xdp-/) v = bpf[r]
				else if (m == "nft") v = soft[r] - plain[r]
				else if (m == "plain") v = 0
				else v = proc[r] + soft[r] - plain[r]
				print r "\t" v
			}
		}' "$RES" | sort -n | cut -f2
}

# Per-round ratio of xdp's figure to another mode's: ratio_rounds A B (values on fd)
ratio_rounds() { paste <(echo "$1") <(echo "$2") | awk '$2 != 0 {print $1 / $2}'; }

has_mode() { [[ " $MODES " == *" $1 "* ]]; }

# ---- the live-cost variants (docs/BENCHMARKS.md, "Live cost") --------------------------

# xdp-nohttp: the same service with http: false (no status-line sniffing, no TTFB clock).
up_xdp-nohttp() { XDP_HTTP=false up_xdp; }
down_xdp-nohttp() { down_xdp; }
# xdp-smallft: a flow table of 16,384 entries instead of 1,048,576.
up_xdp-smallft() { XDP_FLOWS=16384 up_xdp; }
down_xdp-smallft() { down_xdp; }
# pass: plain routing with a program that only returns XDP_PASS on the same three
# interfaces: what bpf_stats reports for a program that does nothing, on this traffic.
up_pass() {
	local d
	[ -e "$PASS_PIN/xdp_pass" ] || bpftool prog loadall "$BUILD/bench_peers.bpf.o" "$PASS_PIN" type xdp
	for d in to-cli to-st to-ca; do spl ip link set dev "$d" xdpdrv pinned "$PASS_PIN/xdp_pass"; done
}
down_pass() {
	local d
	for d in to-cli to-st to-ca; do spl ip link set dev "$d" xdpdrv off; done
}

# ---- the report -----------------------------------------------------------------------

label() {
	case "$1" in
	xdp) echo "xdp-canary (canary-loader + canaryctl, 90/10)" ;;
	nft) echo "nftables DNAT, numgen random map" ;;
	nginx) echo "nginx stream, split_clients" ;;
	haproxy) echo "HAProxy tcp mode, weights 45/45/10" ;;
	plain) echo "plain routing, no split" ;;
	esac
}

# table LOAD: one Markdown table of the peers under that load, medians over the rounds
table() {
	local load=$1 m x_cpu x_rps
	x_cpu=$(splitter_ns xdp "$load")
	x_rps=$(col xdp "$load" 5)
	echo "| splitter | requests/s | xdp-canary / this, requests/s | splitter CPU ns per request | xdp-canary / this, CPU | softirq ns per request | process ns per request | canary share | errors |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for m in $PEER_MODES; do
		local cpu rps r1 r2
		cpu=$(splitter_ns "$m" "$load")
		rps=$(col "$m" "$load" 5)
		r1=$(ratio_rounds "$x_rps" "$rps")
		r2=$(ratio_rounds "$x_cpu" "$cpu")
		printf '| %s | %.0f | %s | %.0f (%s) | %s | %.0f | %.0f | %s | %s |\n' "$(label "$m")" \
			"$(echo "$rps" | median)" \
			"$([ "$m" = xdp ] && echo - || printf '%.2fx (%s)' "$(echo "$r1" | median)" "$(echo "$r1" | range)")" \
			"$(echo "$cpu" | median)" "$(echo "$cpu" | range)" \
			"$([ "$m" = xdp ] || [ "$m" = plain ] && echo - || printf '%.3fx (%s)' "$(echo "$r2" | median)" "$(echo "$r2" | range)")" \
			"$(col "$m" "$load" 7 | median)" "$(col "$m" "$load" 8 | median)" \
			"$([ "$m" = plain ] && echo - || printf '%.1f%%' "$(col "$m" "$load" 11 | median | awk '{print 100 * $1}')")" \
			"$(col "$m" "$load" 6 | awk '{s += $1} END {print s + 0}')"
	done
}

# goal NAME RATIO-VALUES OP LIMIT
goal() {
	local med
	med=$(echo "$2" | median)
	awk -v n="$1" -v v="$med" -v op="$3" -v lim="$4" 'BEGIN {
		ok = (op == "<=") ? v <= lim : v >= lim
		printf "- %s: %.3fx (goal %s %sx): %s\n", n, v, op, lim, ok ? "met" : "not met"}'
}

report_peers() {
	local load
	echo
	echo "## Peers: $ROUNDS interleaved rounds, wrk -t1 -c$CONNS -d${DURATION}s each, $(date -u +%F)"
	echo "Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
	for load in keepalive close; do
		echo
		if [ "$load" = keepalive ]; then echo "### Keep-alive (requests/s; CPU per request)"
		else echo "### Connection: close (new connections/s; CPU per new connection)"; fi
		echo
		table "$load"
	done
	echo
	echo "### Goals (medians of per-round ratios)"
	echo
	has_mode nft && goal "splitter CPU per request, xdp-canary / nftables (keep-alive)" \
		"$(ratio_rounds "$(splitter_ns xdp keepalive)" "$(splitter_ns nft keepalive)")" "<=" 0.2
	has_mode nft && goal "splitter CPU per new connection, xdp-canary / nftables (close)" \
		"$(ratio_rounds "$(splitter_ns xdp close)" "$(splitter_ns nft close)")" "<=" 0.2
	has_mode nginx && goal "splitter CPU per request, xdp-canary / nginx (keep-alive)" \
		"$(ratio_rounds "$(splitter_ns xdp keepalive)" "$(splitter_ns nginx keepalive)")" "<=" 0.05
	has_mode nginx && goal "splitter CPU per new connection, xdp-canary / nginx (close)" \
		"$(ratio_rounds "$(splitter_ns xdp close)" "$(splitter_ns nginx close)")" "<=" 0.05
	has_mode plain && goal "new connections/s, xdp-canary / plain routing" \
		"$(ratio_rounds "$(col xdp close 5)" "$(col plain close 5)")" ">=" 0.97
	return 0
}

# The live-cost table: ns per run of xdp_canary on real TCP, beside the live wire and
# BPF_PROG_TEST_RUN, with the variants that turn parts off.
report_live() {
	local load m
	echo
	echo "## Live cost: ns per run from bpf_stats on real TCP, beside BPF_PROG_TEST_RUN"
	echo
	echo "| what | load | runs per request | ns per run | ns per request |"
	echo "|---|---|---:|---:|---:|"
	for m in xdp xdp-nohttp xdp-smallft pass; do
		has_mode "$m" || continue
		for load in keepalive close; do
			paste <(col "$m" "$load" 9) <(col "$m" "$load" 10) <(col "$m" "$load" 4) |
				awk -v m="$m" -v l="$load" '{n = $1 / $2; print n}' | median >"$TOPO_LOGDIR/rpr"
			printf '| %s | %s | %.2f | %.1f (%s) | %.0f |\n' "$(live_label "$m")" "$load" \
				"$(cat "$TOPO_LOGDIR/rpr")" "$(col "$m" "$load" 10 | median)" \
				"$(col "$m" "$load" 10 | range)" "$(col "$m" "$load" 9 | median)"
		done
	done
	if [ -s "$TOPO_LOGDIR/pps.out" ]; then
		awk -F'\t' '$1 == "pps-data" && $2 == 0 {printf "| live wire: trivial forwarder (peers_pps) | one flow, batches of 64 | 1 | %.1f | - |\n", $4}
			$1 == "pps-data" && $2 == 1 {printf "| live wire: xdp_canary established (peers_pps) | one flow, batches of 64 | 1 | %.1f | - |\n", $4}
			$1 == "pps-data" && $2 == 2 {printf "| live wire: XDP_PASS (peers_pps) | one flow, batches of 64 | 1 | %.1f | - |\n", $4}' \
			"$TOPO_LOGDIR/pps.out"
	fi
	if [ -s "$TOPO_LOGDIR/bench.out" ]; then
		awk -F'|' '/^\| (baseline|established|reply|new flow)/ {
			gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3)
			printf "| test run: %s (canary_bench) | repeat 1,000,000 | 1 | %s | - |\n", $2, $3}' \
			"$TOPO_LOGDIR/bench.out"
	fi
}

live_label() {
	case "$1" in
	xdp) echo "real TCP: xdp_canary, 1,048,576-flow table, http: true" ;;
	xdp-nohttp) echo "real TCP: xdp_canary, http: false" ;;
	xdp-smallft) echo "real TCP: xdp_canary, 16,384-flow table" ;;
	pass) echo "real TCP: a program that only returns XDP_PASS" ;;
	esac
}

# ---- charts ---------------------------------------------------------------------------

charts() {
	command -v gnuplot >/dev/null || { echo "bench-peers: no gnuplot; charts skipped" >&2; return 0; }
	local m dat=$TOPO_LOGDIR/chart.dat
	: >"$dat"
	for m in $PEER_MODES; do
		printf '"%s"\t%s\t%s\t%s\t%s\n' "$m" \
			"$(splitter_ns "$m" keepalive | median)" "$(splitter_ns "$m" close | median)" \
			"$(col "$m" keepalive 5 | median)" "$(col "$m" close 5 | median)" >>"$dat"
	done
	gnuplot <<-EOF
		set terminal svg size 760,420 dynamic font "sans,12"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set grid ytics
		set key top left
		set output "$OUT/peers-cpu.svg"
		set title "Splitter CPU per request over plain routing (lower is better)"
		set ylabel "ns per request (log scale)"
		set logscale y
		plot "$dat" using (\$2 > 0 ? \$2 : 1):xtic(1) title "keep-alive", "" using (\$3 > 0 ? \$3 : 1) title "Connection: close (per new connection)"
		unset logscale y
		set output "$OUT/peers-rate.svg"
		set title "wrk through each splitter (higher is better)"
		set ylabel "per second"
		plot "$dat" using 4:xtic(1) title "requests/s (keep-alive)", "" using 5 title "new connections/s (close)"
	EOF
	if [ -s "$TOPO_LOGDIR/pps.out" ]; then
		awk -F'\t' '$1 == "pps-data" {split("\"XDP trivial\" \"xdp-canary\" \"kernel forwarding\" \"nftables DNAT\"", n, " ")
			print n[$2 + 1] "\t" $3}' "$TOPO_LOGDIR/pps.out" >"$TOPO_LOGDIR/pps.dat"
		gnuplot <<-EOF
			set terminal svg size 760,420 dynamic font "sans,12"
			set style data histograms
			set style fill solid 0.8 border -1
			set grid ytics
			set yrange [0:*]
			set output "$OUT/peers-pps.svg"
			set title "One veth wire, live-frame generator (higher is better)"
			set ylabel "Mpps delivered"
			plot "$TOPO_LOGDIR/pps.dat" using 2:xtic(1) notitle
		EOF
	fi
}

# ---- main -----------------------------------------------------------------------------

PEER_MODES=
for m in $MODES; do
	declare -F "up_$m" >/dev/null || { echo "bench-peers: unknown mode '$m'" >&2; exit 2; }
	case "$m" in xdp | nft | nginx | haproxy | plain) PEER_MODES+="$m " ;; esac
done
[ "$LIVE" = 1 ] && MODES+=" xdp-nohttp xdp-smallft pass"
# Every splitter's CPU is measured over plain routing, and xdp-canary is the reference.
for m in xdp plain; do has_mode "$m" || MODES="$m $MODES"; done
PEER_MODES=$(for m in xdp $PEER_MODES plain; do echo "$m"; done | awk '!s[$0]++' | tr '\n' ' ')
command -v wrk >/dev/null && command -v nginx >/dev/null && command -v haproxy >/dev/null ||
	scripts/install-deps.sh --if-missing --group bench
mkdir -p "$OUT"

if [ -n "$RESULTS_IN" ]; then
	cp "$RESULTS_IN" "$RES"
	ROUNDS=$(cut -f3 "$RES" | sort -n | tail -1)
else
	setup
	sysctl -qw kernel.bpf_stats_enabled=1
	for ((r = 1; r <= ROUNDS; r++)); do
		for m in $MODES; do
			"up_$m"
			for load in keepalive close; do run_one "$m" "$load" "$r"; done
			"down_$m"
		done
		echo "bench-peers: round $r of $ROUNDS done" >&2
	done
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	topo_destroy
fi

if [ "$PPS" = 1 ]; then
	"$BUILD/bench/peers_pps" --frames "$PPS_FRAMES" | tee "$TOPO_LOGDIR/pps.out" | grep -v '^pps-data'
fi
if [ "$LIVE" = 1 ]; then
	"$BUILD/bench/canary_bench" --no-live --trials 5 >"$TOPO_LOGDIR/bench.out"
fi
{
	report_peers
	[ "$LIVE" = 1 ] && report_live
	[ "$PPS" = 1 ] && grep -v '^pps-data' "$TOPO_LOGDIR/pps.out"
	echo
	echo "Raw results (mode, load, round, requests, req/s, errors, softirq ns/req, process ns/req, bpf ns/req, bpf ns/run, canary share):"
	echo
	sed 's/^/    /' "$RES"
} | tee "$OUT/peers.md"
charts
echo "bench-peers: tables in $OUT/peers.md, charts in $OUT/peers-*.svg" >&2
