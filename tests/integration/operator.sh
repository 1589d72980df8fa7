#!/usr/bin/env bash
# operator.sh: what an operator's tools do against a real data plane. The loader,
# canaryctl apply and canaryd run under exactly the capability bounding sets the systemd
# units give them (scripts/*.service; setpriv, since PID 1 is not systemd), and a
# weight change through canaryd works there (control: without CAP_SYS_ADMIN it is
# refused). The bash completion offers the services in the maps. During a rollout,
# `canaryctl rollout status --wait` prints one plain line per change through a pipe and
# redraws one line in place on a terminal (script(1)'s pty): step i/N, the hold's
# progress, the strongest evidence, cut to the terminal's width. Every system call and
# socket family the programs used here (strace -f) passes the units' SystemCallFilter=
# and RestrictAddressFamilies= (control: bpf is outside @system-service).
. "$(dirname "$0")/lib.sh"

# The bounding set a unit names, as setpriv takes it: "+bpf,+sys_admin".
unit_caps() {
	sed -nE 's/^CapabilityBoundingSet=//p' "scripts/$1" | tr ' ' '\n' | sed -E 's/^CAP_//' |
		tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd,
}
DP_CAPS=$(unit_caps xdp-canary-dataplane.service)
AGENT_CAPS=$(unit_caps canaryd.service)
check "the units name their capabilities ($DP_CAPS; $AGENT_CAPS)" test -n "$DP_CAPS" -a -n "$AGENT_CAPS"
# CMD... run in the splitter's namespace with a unit's bounding set (as root, as systemd
# runs it): as_unit CAPS CMD...
as_unit() {
	local caps=$1
	shift
	spl setpriv --bounding-set=-all,"$caps" --inh-caps=-all "$@"
}
# The same under strace, its log appended to $TOPO_LOGDIR/NAME.strace: traced NAME CAPS CMD...
traced() {
	local name=$1 caps=$2
	shift 2
	as_unit "$caps" strace -f -qq -o "$TOPO_LOGDIR/$name.strace.$RANDOM" "$@"
}
# The system calls a unit's SystemCallFilter= allows, its groups expanded, one a line.
syscall_group() {
	systemd-analyze syscall-filter "$1" 2>/dev/null | sed -n '2,$p' | sed -E 's/^ +//' |
		grep -v '^#' | while read -r n; do
		[ -z "$n" ] && continue
		if [[ $n == @* ]]; then syscall_group "$n"; else echo "$n"; fi
	done
}
unit_syscalls() {
	local n
	for n in $(sed -nE 's/^SystemCallFilter=//p' "scripts/$1"); do
		if [[ $n == @* ]]; then syscall_group "$n"; else echo "$n"; fi
	done | sort -u
}
# The system calls strace logs show (strace -f: each line starts with a pid).
syscalls_of() { cat "$@" | sed -nE 's/^[0-9]+ +(<\.\.\. )?([a-z0-9_]+)[( ].*/\2/p' | sort -u; }

need "create topology" topo_create
need "attach with the data plane unit's capabilities" traced dataplane "$DP_CAPS" "$BUILD/canary-loader" attach \
	--dev to-cli --dev to-st --dev to-ca --pin-root "$PIN_ROOT" >/dev/null
need "start backends" topo_backends
topo_backend "$NS_CA" canary-2 --listen 10.0.3.3:8080
need "the second canary" topo_wait_port "$NS_CA" 10.0.3.3 8080
CFG=$TOPO_LOGDIR/services.yaml
cat >"$CFG" <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, http: true,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
  - { name: api, vip: 10.0.0.11, port: 80, hash: flow, http: true,
      stable: ["10.0.2.3:8080"], canary: ["10.0.3.3:8080"] }
YAML
out=$(traced dataplane "$DP_CAPS" "$BUILD/canaryctl" apply -f "$CFG" --pin-root "$PIN_ROOT" 2>&1)
check "canaryctl apply works with the data plane unit's capabilities" grep -q "^2 created" <<<"$out"
# Control: the inner maps of svc_configs are opened by id, which needs CAP_SYS_ADMIN.
as_unit +bpf,+net_admin,+perfmon "$BUILD/canaryctl" set-weight web 5 --pin-root "$PIN_ROOT" >/dev/null 2>&1
eq "control: without CAP_SYS_ADMIN set-weight fails" "$?" 1
eq "control: ... and the weight stays" "$(ctl status web --json | jq '.services[0].canary_weight')" 0

# canaryd as agent_start runs it (lib.sh), inside canaryd.service's bounding set.
# Under strace (its system calls are checked against the unit's filter at the end).
bg_in_ns "$NS_SPL" setpriv --bounding-set=-all,"$AGENT_CAPS" --inh-caps=-all \
	strace -f -qq -o "$TOPO_LOGDIR/canaryd.strace" "$BUILD/canaryd" \
	--pin-root "$PIN_ROOT" --state-dir "$TOPO_LOGDIR/state" --socket "$AGENT_SOCK" \
	--sweep-interval 1 2>>"$TOPO_LOGDIR/canaryd.log"
STRACE_PID=$BG_PID
for ((i = 0; i < 50; i++)); do
	spl curl -sf -o /dev/null --unix-socket "$AGENT_SOCK" http://localhost/healthz && break
	sleep 0.1
done
AGENT_PID=$(pgrep -P "$STRACE_PID")
check "canaryd starts with canaryd.service's capabilities" kill -0 "${AGENT_PID:-none}"
out=$(spl curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -X PUT \
	-H 'Content-Type: application/json' -d '{"weight": 7}' http://localhost/api/v1/services/api/weight)
eq "... and publishes a weight there (PUT .../weight)" "$out" 200
eq "... which the maps hold" "$(ctl status api --json | jq '.services[0].canary_weight')" 7

# --- the completion offers the services in the maps -----------------------------------------
COMPLETE_ERR=$TOPO_LOGDIR/complete.err
. tests/lib/complete.sh
export PATH=$PWD/$BUILD:$PATH
eq "completion: 'canaryctl status --pin-root PINS ' offers the services" \
	"$(complete_line "canaryctl status --pin-root $PIN_ROOT " | paste -sd' ')" "api web"
eq "completion: 'canaryctl set-weight -p PINS w' offers web" \
	"$(complete_line "canaryctl set-weight -p $PIN_ROOT w" | paste -sd' ')" web
eq "completion: '--pin-root=PINS' (split at =) is read too" \
	"$(complete_line "canaryctl explain --pin-root=$PIN_ROOT a" | paste -sd' ')" api
eq "completion: a service is only the first positional of set-weight" \
	"$(complete_line "canaryctl set-weight -p $PIN_ROOT web " | paste -sd' ')" ""
mkdir -p "$TOPO_LOGDIR/empty-pins"
eq "completion: a pin root with no maps offers nothing" \
	"$(complete_line "canaryctl status --pin-root $TOPO_LOGDIR/empty-pins " | paste -sd' ')" ""
check "completion: ... and prints nothing" test ! -s "$COMPLETE_ERR"

# --- rollout status --wait: off and on a terminal -------------------------------------------
PLAN=$TOPO_LOGDIR/plan.yaml
cat >"$PLAN" <<'YAML'
service: web
steps: [10, 50, 100]
hold: 3s
min_flows: 10
analysis:
  signals: [http_5xx, errored_flows]
YAML
load_start 10.0.0.10:80 120 40 load
need "rollout start" actl rollout start web --plan "$PLAN" >/dev/null
CTL="CANARY_SOCKET=$AGENT_SOCK nsenter --net=/run/netns/$NS_SPL $PWD/$BUILD/canaryctl"
t0=$(date +%s)
(
	actl rollout status web --wait --timeout 60
	echo "rc=$?" >"$TOPO_LOGDIR/pipe.rc"
) | cat >"$TOPO_LOGDIR/pipe.out" &
PIPE_PID=$!
TOPO_PIDS+=($PIPE_PID)
# script -e: its exit status is the command's. The pty's size is set inside it.
script -qfec "stty cols 200 rows 40; $CTL rollout status web --wait --timeout 60" \
	"$TOPO_LOGDIR/tty.out" </dev/null >/dev/null &
TTY_PID=$!
TOPO_PIDS+=($TTY_PID)
script -qfec "stty cols 40 rows 40; $CTL rollout status web --wait --timeout 60" \
	"$TOPO_LOGDIR/narrow.out" </dev/null >/dev/null &
NARROW_PID=$!
TOPO_PIDS+=($NARROW_PID)
wait "$TTY_PID"
eq "on a terminal: --wait exits 0 for Succeeded" "$?" 0
wait "$NARROW_PID"
wait "$PIPE_PID"
took=$(($(date +%s) - t0))
ge "the rollout took 9 s or more (three holds of 3 s)" "$took" 9
eq "through a pipe: --wait exits 0 for Succeeded" "$(cat "$TOPO_LOGDIR/pipe.rc")" rc=0
final=$(actl rollout status web --json)
eq "the rollout succeeded" "$(jq -r .phase <<<"$final")" Succeeded

# The progress line's shape: "web: PHASE, step I/3 at W% | hold H/3s, canary flows F/10 |
# strongest: SIGNAL E=X of T".
LINE_RE='^web: [A-Za-z]+, step [1-3]/3 at [0-9.]+% \| hold [0-9.]+/3s, canary flows [0-9]+/10 \| (strongest: (http_5xx|errored_flows) E=[-0-9.e+]+ of [0-9.e+]+|no evidence yet)$'

# Off a terminal: plain lines, one each time the phase, step or weight changed.
pipe=$TOPO_LOGDIR/pipe.out
check "through a pipe: no carriage return, no escape sequence" \
	bash -c "! grep -q \$'[\\r\\033]' '$pipe'"
grep '^web: .* | hold ' "$pipe" >"$TOPO_LOGDIR/pipe.lines"
n=$(wc -l <"$TOPO_LOGDIR/pipe.lines")
bad=$(grep -cvE "$LINE_RE" "$TOPO_LOGDIR/pipe.lines")
eq "through a pipe: every progress line has the expected fields ($n lines)" "$bad" 0
keys=$(sed -E 's/^web: ([A-Za-z]+), step ([0-9]+)\/3 at ([0-9.]+)%.*/\1 \2 \3/' "$TOPO_LOGDIR/pipe.lines")
eq "through a pipe: one line per change, none repeated" "$(uniq <<<"$keys" | wc -l)" "$n"
check "through a pipe: the lines go 10% -> 50% -> 100% (Promoting), then Succeeded" \
	grep -qzE 'Progressing 1 10.*Progressing 2 50.*[A-Za-z]+ 3 100.*Succeeded 3 100' <<<"$keys"
le "through a pipe: not one line a second ($n lines in ${took}s)" "$n" 6
check "through a pipe: the full status follows" grep -q "evidence against the canary" "$pipe"

# On a terminal: each reading redraws the line (\r, then ESC [K clears it).
tty=$TOPO_LOGDIR/tty.out
# One segment a line, a newline inside one shown as \n (mawk cannot print NUL).
awk 'BEGIN { RS = "\r\033\\[K" } NR > 1 { gsub(/\n/, "\\n"); print }' "$tty" >"$TOPO_LOGDIR/tty.segs"
mapfile -t segs <"$TOPO_LOGDIR/tty.segs"
ge "on a terminal: the line is redrawn about once a second (${#segs[@]} in ${took}s)" "${#segs[@]}" 8
bad=0 wrapped=0
for ((i = 0; i < ${#segs[@]}; i++)); do
	s=${segs[i]}
	if ((i < ${#segs[@]} - 1)); then
		[[ $s == *'\n'* ]] && wrapped=$((wrapped + 1))
	else
		s=${s%%$'\r'*} # the last one ends the line; the full status follows
	fi
	grep -qE "$LINE_RE" <<<"$s" || bad=$((bad + 1))
done
eq "on a terminal: every redraw is one progress line with the expected fields" "$bad" 0
eq "on a terminal: no redraw starts a new line" "$wrapped" 0
holds=$(printf '%s\n' "${segs[@]}" | sed -nE 's/^web: [A-Za-z]+, step ([0-9])\/3 .* hold ([0-9.]+)\/3s.*/\1 \2/p')
check "on a terminal: the hold's progress grows within a step" \
	awk 'prev_step == $1 && $2 > prev_hold { grew = 1 } { prev_step = $1; prev_hold = $2 } END { exit !grew }' <<<"$holds"
check "on a terminal: each step is shown" grep -qz 'step 1/3.*step 2/3.*step 3/3' "$TOPO_LOGDIR/tty.segs"
last=${segs[${#segs[@]} - 1]%%$'\r'*}
# The strongest evidence of the final reading: the largest E / threshold (any of those
# that tie for it).
strongest=$(jq -r '.evidence | (map(.e_value / .threshold) | max) as $m
	| map(select(.e_value / .threshold == $m) | .signal) | join(" ")' <<<"$final")
got=$(sed -nE 's/.*strongest: ([a-z_0-9]+) E=([^ ]+) of ([^ ]+)$/\1 \2 \3/p' <<<"$last")
read -r sig e thr <<<"$got"
check "on a terminal: the last line names the strongest signal ($sig; strongest: $strongest)" \
	grep -qw -- "${sig:-none}" <<<"$strongest"
want_e=$(jq -r --arg s "$sig" '.evidence[] | select(.signal == $s) | .e_value' <<<"$final")
near "... with its e-value" "$e" "$want_e" "$(awk -v e="$want_e" 'BEGIN { print (e < 0 ? -e : e) * 0.01 + 1e-9 }')"
eq "... and its threshold" "$thr" "$(jq -r --arg s "$sig" '.evidence[] | select(.signal == $s) | .threshold' <<<"$final")"
check "on a terminal: the last reading says Succeeded" grep -q '^web: Succeeded, step 3/3 at 100%' <<<"$last"
check "on a terminal: the full status follows" grep -q "evidence against the canary" "$tty"

# A narrow terminal: the line is cut to its width less one, so it never wraps.
awk 'BEGIN { RS = "\r\033\\[K" } NR > 1 { sub(/\r.*/, ""); print length($0) }' "$TOPO_LOGDIR/narrow.out" \
	>"$TOPO_LOGDIR/narrow.len"
ge "a 40-column terminal gets redraws too" "$(wc -l <"$TOPO_LOGDIR/narrow.len")" 8
eq "... each at most 39 characters" "$(sort -n "$TOPO_LOGDIR/narrow.len" | tail -1)" 39

# --json: the final reading alone, as JSON.
out=$(actl rollout status web --wait --json)
eq "--wait --json prints the reading alone, as JSON" "$(jq -r .phase <<<"$out" 2>&1)" Succeeded

# --- the system calls the units allow -------------------------------------------------------
# What the programs called here, under strace, must pass the units' SystemCallFilter=
# (@system-service and bpf): systemd would answer anything else with EPERM.
traced dataplane "$DP_CAPS" "$BUILD/canary-loader" detach --all --pin-root "$PIN_ROOT" >/dev/null
# canaryd stops on SIGTERM, and strace with it; should a traced stop hang, both are
# killed rather than the test waiting for ever.
kill "$AGENT_PID" 2>/dev/null
if ! timeout 15 tail --pid="$STRACE_PID" -f /dev/null; then
	not_ok "canaryd under strace stops on SIGTERM"
	kill -9 "$AGENT_PID" "$STRACE_PID" 2>/dev/null
fi
wait "$STRACE_PID" 2>/dev/null
for pair in dataplane:xdp-canary-dataplane.service canaryd:canaryd.service; do
	logs=("$TOPO_LOGDIR/${pair%%:*}".strace*)
	unit_syscalls "${pair#*:}" >"$TOPO_LOGDIR/allowed"
	used=$(syscalls_of "${logs[@]}")
	n=$(wc -l <<<"$used")
	not=$(grep -vxFf "$TOPO_LOGDIR/allowed" <<<"$used" | paste -sd' ')
	ge "${pair#*:}: strace saw the programs' system calls" "$n" 20
	eq "${pair#*:}: each of the $n system calls passes SystemCallFilter=" "$not" ""
done
# The socket families they opened pass RestrictAddressFamilies=.
for pair in dataplane:xdp-canary-dataplane.service canaryd:canaryd.service; do
	used=$(cat "$TOPO_LOGDIR/${pair%%:*}".strace* | grep -oE '(socket|socketpair)\(AF_[A-Z0-9]+' |
		sed 's/.*(//' | sort -u | paste -sd' ')
	allowed=$(sed -nE 's/^RestrictAddressFamilies=//p' "scripts/${pair#*:}")
	not=""
	for a in $used; do grep -qw -- "$a" <<<"$allowed" || not+=" $a"; done
	[ -n "$used" ] && [ -z "$not" ] && ok "${pair#*:}: the socket families used ($used) are allowed" ||
		not_ok "${pair#*:}: the socket families used (${used:-none seen}) are allowed (not:$not)"
done
# Control: the same calls against @system-service alone: bpf is outside it.
unit_syscalls canaryd.service | grep -vx bpf >"$TOPO_LOGDIR/allowed"
eq "control: without 'bpf' in the filter, bpf is refused" \
	"$(syscalls_of "$TOPO_LOGDIR"/canaryd.strace* | grep -vxFf "$TOPO_LOGDIR/allowed" | paste -sd' ')" bpf
