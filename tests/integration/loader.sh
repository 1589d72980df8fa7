#!/usr/bin/env bash
# loader.sh: canary-loader attach/detach/status on the namespace topology, its error
# messages, incompatible pins, and BTF-readable pinned maps.
. "$(dirname "$0")/lib.sh"

need "create topology" topo_create
LOADER="$BUILD/canary-loader"

out=$(topo_attach 2>&1)
check "attach to three interfaces" grep -q "maps pinned under $PIN_ROOT" <<<"$out"
st=$(spl "$LOADER" status --json --pin-root "$PIN_ROOT")
eq "status lists three attached interfaces" "$(jq '.interfaces | length' <<<"$st")" 3
ge "flow table holds at least 1,000,000 flows by default" "$(jq .flow_capacity <<<"$st")" 1000000
ge "status reports map memory" "$(jq .memlock_bytes <<<"$st")" 100000000
mode=$(jq -r '.interfaces[0].mode' <<<"$st")
eq "attached in native mode" "$mode" native

out=$(spl "$LOADER" attach --dev to-cli --pin-root "$PIN_ROOT" 2>&1)
rc=$?
eq "attaching twice fails" "$rc" 1
check "... and says it is already attached" grep -q "already attached to to-cli" <<<"$out"

out=$(spl "$LOADER" attach --dev nosuch0 --pin-root "$PIN_ROOT" 2>&1)
check "no such interface: clear error" grep -q "no interface named 'nosuch0'" <<<"$out"

out=$(spl "$LOADER" attach --dev to-cli --mode turbo --pin-root "$PIN_ROOT" 2>&1)
rc=$?
eq "bad --mode is a usage error (exit 2)" "$rc" 2
check "... naming the option and a hint" grep -q "\-\-mode 'turbo' must be native or skb; try 'canary-loader attach --help'" <<<"$out"

# A device without native XDP support gets the hint to use generic XDP.
ip -n "$NS_SPL" link add nonative0 type bridge
ip -n "$NS_SPL" link set nonative0 up
out=$(spl "$LOADER" attach --dev nonative0 --pin-root "$PIN_ROOT" 2>&1)
if grep -q "does not support native XDP; try --mode skb" <<<"$out"; then
	ok "no native XDP: says to try --mode skb"
elif grep -q "attached xdp_canary" <<<"$out"; then
	# Should a kernel give bridges native XDP, there is nothing to refuse.
	ok "no native XDP: (this kernel's bridge supports native XDP)"
	spl "$LOADER" detach --dev nonative0 --pin-root "$PIN_ROOT" >/dev/null
else
	not_ok "no native XDP: unexpected answer: $out"
fi
out=$(spl "$LOADER" attach --dev nonative0 --mode skb --pin-root "$PIN_ROOT" 2>&1)
check "... and --mode skb attaches" grep -q "attached xdp_canary (id [0-9]*, skb mode) to nonative0" <<<"$out"
spl "$LOADER" detach --dev nonative0 --pin-root "$PIN_ROOT" >/dev/null

out=$(spl setpriv --reuid=65534 --regid=65534 --clear-groups "$LOADER" attach --dev to-cli --pin-root "$PIN_ROOT" 2>&1)
check "not root: says it needs root" grep -q "needs root" <<<"$out"

out=$(spl "$LOADER" detach --dev to-cli --pin-root "$PIN_ROOT")
check "detach one interface" grep -q "detached xdp_canary" <<<"$out"
eq "two interfaces remain" "$(spl "$LOADER" status --json --pin-root "$PIN_ROOT" | jq '.interfaces | length')" 2

out=$(spl "$LOADER" attach --dev to-cli --flows 5000 --pin-root "$PIN_ROOT" 2>&1)
check "re-attach with a different flow-table size is refused" grep -q "created with --flows" <<<"$out"
out=$(spl "$LOADER" attach --dev to-cli --mode skb --pin-root "$PIN_ROOT" 2>&1)
check "re-attach in skb mode shares the pinned maps" grep -q "skb mode" <<<"$out"

# The pinned maps carry BTF: bpftool prints field names.
check "bpftool shows named fields of meta" \
	bash -c "bpftool map dump pinned '$PIN_ROOT/meta' | grep -q flow_capacity"
check "bpftool shows named fields of arm_stats" \
	bash -c "bpftool map dump pinned '$PIN_ROOT/arm_stats' | grep -q fwd_packets"

# Pins from an incompatible build: fake another ABI in meta. Only abi_version, its
# first field (a little-endian __u32), changes; the rest of meta stays as attach wrote it.
FAKE_ABI=99
spl "$LOADER" detach --dev to-cli --pin-root "$PIN_ROOT" >/dev/null
read -ra meta < <(bpftool -j map lookup pinned "$PIN_ROOT/meta" key 0 0 0 0 | jq -r '.value | join(" ")')
need "read meta" test "${#meta[@]}" -ge 4
for i in 0 1 2 3; do meta[i]=$(((FAKE_ABI >> (8 * i)) & 255)); done
need "write meta" bpftool map update pinned "$PIN_ROOT/meta" key 0 0 0 0 value "${meta[@]}"
out=$(spl "$LOADER" attach --dev to-cli --pin-root "$PIN_ROOT" 2>&1)
rc=$?
check "incompatible pins are refused" test "$rc" -ne 0
check "... with a clear reason and the fix" grep -q "incompatible build (ABI $FAKE_ABI" <<<"$out"
out=$(spl "$BUILD/canaryctl" status --pin-root "$PIN_ROOT" 2>&1)
check "canaryctl refuses them too" grep -q "incompatible build" <<<"$out"

out=$(spl "$LOADER" detach --all --purge --pin-root "$PIN_ROOT" 2>&1)
check "detach --all --purge removes the pins" test ! -e "$PIN_ROOT"
eq "nothing attached afterwards" "$(spl "$LOADER" status --json --pin-root "$PIN_ROOT" | jq '.interfaces | length')" 0
out=$(spl "$BUILD/canaryctl" status --pin-root "$PIN_ROOT" 2>&1)
check "canaryctl without pins says how to attach" grep -q "attach the data plane first" <<<"$out"

# A first attach that fails after libbpf pinned the maps (no native XDP on a bridge)
# removes those pins again, so the next attach makes them afresh with its settings.
out=$(spl "$LOADER" attach --dev nonative0 --pin-root "$PIN_ROOT" 2>&1)
if grep -q "does not support native XDP" <<<"$out"; then
	check "failed first attach leaves no pins behind" test ! -e "$PIN_ROOT"
	out=$(spl "$LOADER" attach --dev nonative0 --mode skb --flows 4096 --pin-root "$PIN_ROOT" 2>&1)
	check "... and the next attach starts afresh" grep -q "attached xdp_canary (id [0-9]*, skb mode) to nonative0" <<<"$out"
	st=$(spl "$LOADER" status --json --pin-root "$PIN_ROOT")
	eq "... recording its settings in meta" "$(jq '.flow_capacity' <<<"$st")" 4096
	spl "$LOADER" detach --all --purge --pin-root "$PIN_ROOT" >/dev/null
else
	ok "failed first attach: (this kernel's bridge supports native XDP; nothing to undo)"
	spl "$LOADER" detach --all --purge --pin-root "$PIN_ROOT" >/dev/null
fi
