#!/usr/bin/env bash
# bench-scale.sh: `make bench-scale`. Per-packet cost of xdp_canary's established, reply
# and new-flow paths (and of the NAT floor beside them) as the flow table fills, as
# services grow and as backends per arm grow: one markdown table and one SVG chart
# (gnuplot) per dimension, in $OUT (docs/bench by default).
#   scripts/bench-scale.sh [--replot] [flows|services|backends]...
# --replot draws the charts again from the tables in $OUT, measuring nothing.
# canary_scale runs in a private network namespace of its own, removed when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-docs/bench}
ARGS=${SCALE_ARGS:-}
replot=0
if [ "${1:-}" = --replot ]; then
	replot=1
	shift
fi
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

# plot DIM XLABEL DAT MACHINE: the chart of one dimension from "x est reply syn nat" lines.
plot() {
	gnuplot <<-GP
		set terminal svg size 760,460 dynamic font "sans,12" background "white"
		set output "$OUT/scale-$1.svg"
		set title "xdp-canary: ns per packet as $2 grow\n$4" font "sans,11"
		set xlabel "$2 (log scale)"
		set ylabel "ns per packet (each packet run once, random flow)"
		set logscale x 2
		set yrange [0:*]
		set grid
		set key top left
		plot "$3" using 1:2 with linespoints lw 2 title "established", \
		     "" using 1:3 with linespoints lw 2 title "reply", \
		     "" using 1:4 with linespoints lw 2 title "new flow (SYN)", \
		     "" using 1:5 with linespoints lw 2 dt 2 title "NAT floor"
	GP
}

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
	if [ "$replot" = 1 ]; then
		# The table's rows: | x | est | reply | syn | nat | ...; its machine line.
		awk -F'|' '/^\| [0-9]/ {print $2, $3, $4, $5, $6}' "$OUT/scale-$d.md" >"$tmp/$d.dat"
		plot "$d" "$xlabel" "$tmp/$d.dat" "$(sed -n 's/^Machine: \(.*\);.*/\1/p' "$OUT/scale-$d.md")"
		echo "wrote $OUT/scale-$d.svg"
		continue
	fi
	# shellcheck disable=SC2086 # ARGS holds separate options
	"$BUILD/bench/canary_scale" --dim "$d" --dat "$tmp/$d.dat" $ARGS >"$tmp/$d.md"
	{
		echo "Command: \`make bench-scale\` (\`$BUILD/bench/canary_scale --dim $d${ARGS:+ $ARGS}\`)"
		echo "Machine: $machine; $(date -u +%Y-%m-%d)"
		cat "$tmp/$d.md"
	} >"$OUT/scale-$d.md"
	cat "$OUT/scale-$d.md"
	plot "$d" "$xlabel" "$tmp/$d.dat" "$machine"
	echo "wrote $OUT/scale-$d.md and $OUT/scale-$d.svg"
done
