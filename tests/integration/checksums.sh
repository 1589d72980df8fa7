#!/usr/bin/env bash
# checksums.sh: every rewritten packet arrives with checksums the receiving kernel
# accepts. The receivers' veths verify checksums in software (rx/tx offload off), so
# a wrong incremental update would show in their Csum error counters; two control
# datagrams with a deliberately bad checksum prove that those counters do count.
. "$(dirname "$0")/lib.sh"

topo_up
apply_services <<'YAML'
services:
  - { name: web, vip: 10.0.0.10, port: 80, hash: flow, canary_weight: 50,
      stable: ["10.0.2.2:8080"], canary: ["10.0.3.2:8080"] }
  - { name: web6, vip: "fd00::10", port: 80, hash: flow, canary_weight: 50,
      stable: ["[fd00:2::2]:8080"], canary: ["[fd00:3::2]:8080"] }
  - { name: dns, vip: 10.0.0.10, port: 53, protocol: udp, hash: flow, canary_weight: 50,
      stable: ["10.0.2.2:5353"], canary: ["10.0.3.2:5353"] }
  - { name: dns6, vip: "fd00::10", port: 53, protocol: udp, hash: flow, canary_weight: 50,
      stable: ["[fd00:2::2]:5353"], canary: ["[fd00:3::2]:5353"] }
YAML

offload=$(in_ns "$NS_ST" ethtool -k eth0 | awk '/^rx-checksumming:/ { print $2 }')
eq "the stable backend's veth verifies checksums itself (rx-checksumming)" "$offload" off

# Traffic in both directions, both families, both protocols, with payloads of many
# sizes (odd lengths exercise the checksum's trailing byte).
r4=$(client --target 10.0.0.10:80 --connections 1000 --concurrency 32 --requests-per-conn 3)
r6=$(client --target '[fd00::10]:80' --connections 1000 --concurrency 32 --requests-per-conn 3)
u4=$(client --udp --target 10.0.0.10:53 --requests 500)
u6=$(client --udp --target '[fd00::10]:53' --requests 500)
eq "tcp v4: all connections ok" "$(jq .failed <<<"$r4")" 0
eq "tcp v6: all connections ok" "$(jq .failed <<<"$r6")" 0
eq "udp v4: all answered" "$(jq .replies <<<"$u4")" 500
eq "udp v6: all answered" "$(jq .replies <<<"$u6")" 500
for ns in "$NS_CLI" "$NS_ST" "$NS_CA"; do
	eq "checksum errors received in ${ns##*-} after rewritten traffic" "$(csum_errors "$ns")" 0
done
# Every client -> backend packet is counted in its arm's fwd_packets; replies are
# redirected too. So at least as many redirects as forwarded client packets means the
# traffic took the XDP fast path (not the kernel's, after an XDP_PASS).
s=$(ctl status --json)
fwd=$(jq '[.services[].arms[].fwd_packets] | add' <<<"$s")
ge "the traffic took the XDP fast path (redirects >= client packets forwarded, $fwd)" \
	"$(jq '.reasons.fwd_redirect' <<<"$s")" "$fwd"

# Controls: a bad checksum sent straight to a backend, and one sent to the VIP (the
# splitter's incremental update must keep it bad, not "repair" or hide it).
st0=$(csum_errors "$NS_ST")
cli "$BUILD/tools/badsum" 10.0.2.2 5353
sleep 0.3
eq "control: a bad datagram sent directly is counted by the backend" "$(($(csum_errors "$NS_ST") - st0))" 1
a0=$(($(csum_errors "$NS_ST") + $(csum_errors "$NS_CA")))
for i in 1 2 3 4 5 6; do cli "$BUILD/tools/badsum" 10.0.0.10 53; done
sleep 0.3
a1=$(($(csum_errors "$NS_ST") + $(csum_errors "$NS_CA")))
eq "control: bad datagrams through the VIP stay bad after the rewrite" "$((a1 - a0))" 6
c0=$(csum_errors "$NS_ST")
cli "$BUILD/tools/badsum" fd00:2::2 5353
sleep 0.3
eq "control: a bad IPv6 datagram is counted too" "$(($(csum_errors "$NS_ST") - c0))" 1
