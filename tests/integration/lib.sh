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

# The usual start: the topology, the splitter attached (extra arguments go to
# canary-loader attach) and the standard backends.
topo_up() {
	need "create topology" topo_create
	need "attach" topo_attach "$@" >/dev/null
	need "start backends" topo_backends
}

# Apply the services file given on stdin; it stays in $CFG for later edits.
apply_services() {
	CFG=$TOPO_LOGDIR/services.yaml
	cat >"$CFG"
	need "apply" ctl apply -f "$CFG" >/dev/null
}

# The canary-client in the client namespace.
client() { cli "$BUILD/canary-client" "$@"; }

# Percentage a/b with two decimals ("nan" when b is empty or zero, which near rejects).
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f", 100 * a / b }'; }

# canaryctl for commands that talk to canaryd (it listens on loopback in the splitter's
# namespace, so the default --agent reaches it).
actl() { spl "$BUILD/canaryctl" "$@"; }

# Start canaryd in the splitter's namespace; extra arguments go to canaryd.
agent_start() {
	local i
	bg_in_ns "$NS_SPL" "$BUILD/canaryd" --pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state" \
		"$@" 2>>"$TOPO_LOGDIR/canaryd.log"
	AGENT_PID=$BG_PID
	for ((i = 0; i < 50; i++)); do
		# Up, and it is this one (not an older one still holding the port).
		if kill -0 "$AGENT_PID" 2>/dev/null &&
			spl curl -sf -o /dev/null http://127.0.0.1:9181/healthz; then
			return 0
		fi
		sleep 0.1
	done
	echo "canaryd did not come up; its log:" >&2
	cat "$TOPO_LOGDIR/canaryd.log" >&2
	return 1
}

# Steady background load on a VIP for SECONDS (new connections at RATE per second).
load_start() {
	local target=$1 rate=$2 secs=$3 name=${4:-load}
	client --target "$target" --rate "$rate" --duration "$secs" --timeout 3000 \
		>"$TOPO_LOGDIR/$name.json" 2>"$TOPO_LOGDIR/$name.err" &
	TOPO_PIDS+=($!)
	LOAD_PID=$!
}

# The phase of a service's rollout.
phase_of() { actl rollout status "$1" --json 2>/dev/null | jq -r .phase; }

# Wait until the rollout's phase is one of the given ones (or TIMEOUT seconds pass).
wait_phase() {
	local svc=$1 timeout=$2 p i
	shift 2
	for ((i = 0; i < timeout * 10; i++)); do
		p=$(phase_of "$svc")
		for want in "$@"; do
			[ "$p" = "$want" ] && return 0
		done
		sleep 0.1
	done
	return 1
}
