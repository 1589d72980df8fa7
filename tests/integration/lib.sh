# lib.sh: helpers for the integration tests (sourced). Each test prints "ok - ..." /
# "not ok - ..." lines; tests/run.sh sums them. Everything the test creates is removed
# on exit, also on failure, through the EXIT trap.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BUILD=${BUILD:-build}
export TOPO_LOGDIR=${TOPO_LOGDIR:-$(mktemp -d /tmp/xdp-canary-test.XXXXXX)}
. scripts/topology.sh

T_FAILED=0
ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	T_FAILED=1
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# near DESCRIPTION VALUE WANT TOL: |VALUE - WANT| <= TOL (decimals allowed).
near() {
	local desc=$1 v=$2 want=$3 tol=$4
	if ! [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
		not_ok "$desc (got '$v', not a number)"
		return
	fi
	if awk -v v="$v" -v w="$want" -v t="$tol" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= t) }'; then
		ok "$desc ($v, want $want +- $tol)"
	else
		not_ok "$desc ($v, want $want +- $tol)"
	fi
}
# eq DESCRIPTION GOT WANT
eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($2)"; else not_ok "$1 (got '$2', want '$3')"; fi
}
# ge DESCRIPTION GOT MIN
ge() {
	if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a >= b) }'; then ok "$1 ($2 >= $3)"; else not_ok "$1 ($2 < $3)"; fi
}
# le DESCRIPTION GOT MAX
le() {
	if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= b) }'; then ok "$1 ($2 <= $3)"; else not_ok "$1 ($2 > $3)"; fi
}

t_cleanup() {
	local rc=$?
	topo_destroy
	if [ "$T_FAILED" = 1 ] || [ $rc -ne 0 ]; then
		echo "# logs kept in $TOPO_LOGDIR"
	else
		rm -rf "$TOPO_LOGDIR"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# Abort the test (cleanup still runs) when a setup step fails.
need() {
	local desc=$1
	shift
	if ! "$@"; then
		not_ok "setup: $desc"
		exit 1
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	not_ok "integration tests need root"
	exit 1
fi

# The canary-client in the client namespace.
client() { cli "$BUILD/canary-client" "$@"; }

# Percentage a/b with two decimals ("nan" when b is empty or zero, which near rejects).
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f", 100 * a / b }'; }
