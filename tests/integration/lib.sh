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
# is_num VALUE: a decimal number (jq's null, an empty string or "nan" are not).
is_num() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }
# near DESCRIPTION VALUE WANT TOL: |VALUE - WANT| <= TOL (decimals allowed).
near() {
	local desc=$1 v=$2 want=$3 tol=$4
	if ! is_num "$v"; then
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
# ge DESCRIPTION GOT MIN (both must be numbers: awk would compare null and "" as text)
ge() {
	if ! is_num "$2" || ! is_num "$3"; then
		not_ok "$1 (got '$2', min '$3': not a number)"
	elif awk -v a="$2" -v b="$3" 'BEGIN { exit !(a >= b) }'; then
		ok "$1 ($2 >= $3)"
	else
		not_ok "$1 ($2 < $3)"
	fi
}
# le DESCRIPTION GOT MAX
le() {
	if ! is_num "$2" || ! is_num "$3"; then
		not_ok "$1 (got '$2', max '$3': not a number)"
	elif awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= b) }'; then
		ok "$1 ($2 <= $3)"
	else
		not_ok "$1 ($2 > $3)"
	fi
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
client() { cli "$BUILD/tools/canary-client" "$@"; }

# Percentage a/b with two decimals ("nan" when b is empty or zero, which near rejects).
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f", 100 * a / b }'; }

# Sum of a per-backend object of canary-client's JSON over the backends of one arm
# (their names start with the arm's): arm_sum JSON OBJECT ARM [FIELD]
#   arm_sum "$r" backends canary             -> requests answered by canary*
#   arm_sum "$r" clicks stable trials        -> .clicks["stable-*"].trials, added up
arm_sum() {
	jq -r --arg o "$2" --arg a "$3" --arg f "${4:-}" \
		'[.[$o] // {} | to_entries[] | select(.key | startswith($a)) | .value
		  | if $f == "" then . else .[$f] end] | add // 0' <<<"$1"
}
# Requests (or connections) answered by a canary backend, from canary-client's JSON.
canary_share() { arm_sum "$1" backends canary; }

# TCP + UDP + UDP6 checksum errors a namespace's kernel has received so far.
csum_errors() {
	in_ns "$1" nstat -az TcpInCsumErrors UdpInCsumErrors Udp6InCsumErrors 2>/dev/null |
		awk '/CsumErrors/ { s += $2 } END { print s + 0 }'
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

# A malformed input of a corpus (tests/data/*-bad/) was refused as its first line says:
#   # expect: LINE: FIELD       the error is "FILE:LINE: FIELD: ..."
#   # expect: FIELD             the error is "FILE:N: FIELD..." for some line N
#   # expect: (any error with a line)   "FILE:N: ..."
#   # expect: (file error)      the error names FILE
# corpus_refused FILE RC OUTPUT: prints nothing and returns 0 when it was, else says why.
corpus_refused() {
	local f=$1 rc=$2 out=$3 exp line field
	exp=$(head -1 "$f" | sed -n 's/^# expect: //p')
	[ "$rc" = 1 ] || {
		echo "exit status $rc, not 1"
		return 1
	}
	case "$exp" in
	"(file error)") grep -qF -- "$f" <<<"$out" && return 0 ;;
	"(any error with a line)") grep -qE -- "$(sed 's/[.[\*^$]/\\&/g' <<<"$f"):[0-9]+: " <<<"$out" && return 0 ;;
	[0-9]*)
		line=${exp%%: *} field=${exp#*: }
		grep -qF -- "$f:$line: $field" <<<"$out" && return 0
		;;
	*)
		grep -E -- "$(sed 's/[.[\*^$]/\\&/g' <<<"$f"):[0-9]+: " <<<"$out" | grep -qF -- ": $exp" && return 0
		;;
	esac
	echo "expected '$exp', got: $(head -2 <<<"$out" | tr '\n' ' ')"
	return 1
}

# A digest of every map that holds configuration (not the counters, the flow table or
# the clock, which move by themselves): equal digests mean byte-identical config, down
# to which inner map each service's config slot points at.
maps_snapshot() {
	local m
	for m in meta services svc_configs backends backend_index overrides ports; do
		bpftool map dump pinned "$PIN_ROOT/$m" 2>&1
	done | md5sum | cut -d' ' -f1
}

# POST JSON to canaryd through its Unix socket, as root: agent_post PATH JSON. Prints the
# body, then the HTTP status on a line of its own.
agent_post() {
	spl curl -s --unix-socket "$AGENT_SOCK" -H 'Content-Type: application/json' \
		-w '\n%{http_code}\n' --data-binary "$2" "http://localhost$1"
}
