#!/usr/bin/env bash
# bench-scale.sh: `make bench-scale`. Per-packet cost of xdp_canary's established, reply
# and new-flow paths (and of the NAT floor beside them) as the flow table fills, as
# services grow and as backends per arm grow: one markdown table and one SVG chart
# (gnuplot) per dimension, in $OUT (docs/bench by default).
#   scripts/bench-scale.sh [flows|services|backends]...
# canary_scale runs in a private network namespace of its own, removed when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-docs/bench}
ARGS=${SCALE_ARGS:-}
dims=("$@")
[ ${#dims[@]} -gt 0 ] || dims=(flows services backends)

command -v gnuplot >/dev/null || {
	echo "bench-scale: gnuplot is missing; run scripts/install-deps.sh --group bench" >&2
	exit 1
}
mkdir -p "$OUT"
tmp=$(mktemp -d /tmp/xdp-canary-scale.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, kernel $(uname -r)"
for d in "${dims[@]}"; do
	case "$d" in
	flows) xlabel="flows in the table" ;;
	services) xlabel="services" ;;
	backends) xlabel="backends per arm" ;;
	*)
		echo "bench-scale: unknown dimension '$d' (flows, services or backends)" >&2
		exit 2
		;;
	esac
	# shellcheck disable=SC2086 # ARGS holds separate options
	"$BUILD/bench/canary_scale" --dim "$d" --dat "$tmp/$d.dat" $ARGS >"$tmp/$d.md"
	{
		echo "Command: \`make bench-scale\` (\`$BUILD/bench/canary_scale --dim $d $ARGS\`)"
		echo "Machine: $machine; $(date -u +%Y-%m-%d)"
		cat "$tmp/$d.md"
	} >"$OUT/scale-$d.md"
	cat "$OUT/scale-$d.md"
	gnuplot <<-GP
		set terminal svg size 760,440 dynamic font "sans,12" background "white"
		set output "$OUT/scale-$d.svg"
		set title "xdp-canary: ns per packet as $xlabel grow ($machine)" font "sans,11"
		set xlabel "$xlabel (log scale)"
		set ylabel "ns per packet (each packet run once, random flow)"
		set logscale x 2
		set yrange [0:*]
		set grid
		set key top left
		plot "$tmp/$d.dat" using 1:2 with linespoints lw 2 title "established", \
		     "" using 1:3 with linespoints lw 2 title "reply", \
		     "" using 1:4 with linespoints lw 2 title "new flow (SYN)", \
		     "" using 1:5 with linespoints lw 2 dt 2 title "NAT floor"
	GP
	echo "wrote $OUT/scale-$d.md and $OUT/scale-$d.svg"
done
