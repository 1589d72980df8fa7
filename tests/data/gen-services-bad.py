#!/usr/bin/env python3
# Writes tests/data/services-bad/: malformed services files, each headed by the line
# and field its error must name (see corpus_refused in tests/integration/lib.sh). The
# files are committed; rerun this after changing a case.
import os
BASE = """services:
  - name: web
    vip: 10.0.0.10
    port: 80
    protocol: tcp
    hash: client
    canary_weight: 10
    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]
    canary: ["10.0.3.2:8080"]
"""
def sub(old, new):
    assert old in BASE, old
    return BASE.replace(old, new + "  #!")

cases = [
 ("port-space", sub("port: 80", 'port: " 80"'), "services[0].port"),
 ("port-plus", sub("port: 80", 'port: "+80"'), "services[0].port"),
 ("port-hex", sub("port: 80", "port: 0x50"), "services[0].port"),
 ("port-zero", sub("port: 80", "port: 0"), "services[0].port"),
 ("port-big", sub("port: 80", "port: 65536"), "services[0].port"),
 ("port-negative", sub("port: 80", "port: -80"), "services[0].port"),
 ("port-float", sub("port: 80", "port: 80.5"), "services[0].port"),
 ("port-list", sub("port: 80", "port: [80]"), "services[0].port"),
 ("port-word", sub("port: 80", "port: http"), "services[0].port"),
 ("vip-unspecified", sub("vip: 10.0.0.10", "vip: 0.0.0.0"), "services[0].vip"),
 ("vip-broadcast", sub("vip: 10.0.0.10", "vip: 255.255.255.255"), "services[0].vip"),
 ("vip-multicast", sub("vip: 10.0.0.10", "vip: 224.0.0.1"), "services[0].vip"),
 ("vip-loopback", sub("vip: 10.0.0.10", "vip: 127.0.0.1"), "services[0].vip"),
 ("vip-v6-unspecified", sub("vip: 10.0.0.10", 'vip: "::"'), "services[0].vip"),
 ("vip-v4-mapped", sub("vip: 10.0.0.10", 'vip: "::ffff:10.0.0.10"'), "services[0].vip"),
 ("vip-v6-multicast", sub("vip: 10.0.0.10", 'vip: "ff02::1"'), "services[0].vip"),
 ("vip-v6-loopback", sub("vip: 10.0.0.10", 'vip: "::1"'), "services[0].vip"),
 ("vip-link-local", sub("vip: 10.0.0.10", "vip: 169.254.1.1"), "services[0].vip"),
 ("vip-reserved", sub("vip: 10.0.0.10", "vip: 240.0.0.1"), "services[0].vip"),
 ("vip-name", sub("vip: 10.0.0.10", "vip: web.example"), "services[0].vip"),
 ("vip-with-port", sub("vip: 10.0.0.10", 'vip: "10.0.0.10:80"'), "services[0].vip"),
 ("backend-loopback", sub('stable: ["10.0.2.2:8080", "10.0.2.3:8080"]', 'stable: ["127.0.0.1:8080"]'), "services[0].stable[0]"),
 ("backend-unspecified", sub('stable: ["10.0.2.2:8080", "10.0.2.3:8080"]', 'stable: ["0.0.0.0:8080"]'), "services[0].stable[0]"),
 ("backend-no-port", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.3.2"]'), "services[0].canary[0]"),
 ("backend-port-zero", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.3.2:0"]'), "services[0].canary[0]"),
 ("backend-v6-unbracketed", sub('canary: ["10.0.3.2:8080"]', 'canary: ["fd00:3::2:8080"]'), "services[0].canary[0]"),
 ("backend-wrong-family", sub('canary: ["10.0.3.2:8080"]', 'canary: ["[fd00:3::2]:8080"]'), "services[0].canary[0]"),
 ("backend-twice", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.2.2:8080"]'), "services[0]"),
 ("backend-is-vip", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.0.10:80"]'), "services[0]"),
 ("backends-scalar", sub('canary: ["10.0.3.2:8080"]', 'canary: 10.0.3.2:8080'), "services[0].canary"),
 ("backend-multicast", sub('canary: ["10.0.3.2:8080"]', 'canary: ["239.1.1.1:8080"]'), "services[0].canary[0]"),
 ("weight-three-decimals", sub("canary_weight: 10", "canary_weight: 10.125"), "services[0].canary_weight"),
 ("weight-above-100", sub("canary_weight: 10", "canary_weight: 101"), "services[0].canary_weight"),
 ("weight-negative", sub("canary_weight: 10", "canary_weight: -1"), "services[0].canary_weight"),
 ("weight-word", sub("canary_weight: 10", "canary_weight: ten"), "services[0].canary_weight"),
 ("weight-space", sub("canary_weight: 10", 'canary_weight: " 10"'), "services[0].canary_weight"),
 ("protocol-sctp", sub("protocol: tcp", "protocol: sctp"), "services[0].protocol"),
 ("hash-unknown", sub("hash: client", "hash: random"), "services[0].hash"),
 ("name-upper", sub("name: web", "name: Web"), "services[0].name"),
 ("name-long", sub("name: web", "name: " + "w" * 32), "services[0].name"),
 ("name-space", sub("name: web", 'name: "my web"'), "services[0].name"),
 ("unknown-field", sub("hash: client", "hash: client\n    weigth: 10"), "services[0]"),
 ("http-not-bool", sub("hash: client", "hash: client\n    http: maybe"), "services[0].http"),
 ("salt-negative", sub("hash: client", "hash: client\n    salt: -5"), "services[0].salt"),
 ("salt-big", sub("hash: client", "hash: client\n    salt: 4294967296"), "services[0].salt"),
 ("prefix-v4-33", sub("hash: client", "hash: client\n    client_prefix_v4: 33"), "services[0].client_prefix_v4"),
 ("prefix-v6-zero", sub("hash: client", "hash: client\n    client_prefix_v6: 0"), "services[0].client_prefix_v6"),
 ("override-bad-prefix", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.3.2:8080"]\n    overrides:\n      - { prefix: 10.1.0.0/33, arm: canary }'), "services[0].overrides[0].prefix"),
 ("override-bad-arm", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.3.2:8080"]\n    overrides:\n      - { prefix: 10.1.0.0/16, arm: both }'), "services[0].overrides[0].arm"),
 ("override-wrong-family", sub('canary: ["10.0.3.2:8080"]', 'canary: ["10.0.3.2:8080"]\n    overrides:\n      - { prefix: "fd00::/64", arm: canary }'), "services[0].overrides[0].prefix"),
 ("missing-stable", BASE.replace('    stable: ["10.0.2.2:8080", "10.0.2.3:8080"]\n', ''), "services[0]"),
 ("canary-weight-no-canary", BASE.replace('    canary: ["10.0.3.2:8080"]\n', ''), "services[0].canary_weight"),
 ("duplicate-name", BASE + BASE.split("\n",1)[1].replace("10.0.0.10", "10.0.0.11").replace("10.0.2.2:8080\", \"10.0.2.3:8080", "10.0.2.4:8080").replace("10.0.3.2:8080", "10.0.3.4:8080"), "services[1].name"),
 ("duplicate-key", sub("port: 80", "port: 80\n    port: 81"), "services[0]"),
 ("two-documents", BASE + "---\nservices: []\n", None),
 ("alias", "base: &b 10.0.0.10\n" + BASE.replace("vip: 10.0.0.10", "vip: *b"), None),
 ("deep-nesting", "services:\n  - name: " + "[" * 70 + "]" * 70 + "\n", None),
 ("top-list", "- name: web\n", "(top level)"),
 ("no-services", "service:\n  - name: web\n", "(top level)"),
 ("services-map", "services:\n  name: web\n", "services"),
 ("tab-indent", BASE.replace("    port: 80", "\tport: 80"), None),
 ("syntax-error", BASE.replace('["10.0.3.2:8080"]', '["10.0.3.2:8080"'), None),
 ("empty", "", None),
 ("nul-byte", "services:\x00\n", None),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "services-bad")
os.makedirs(out, exist_ok=True)
for f in os.listdir(out): os.remove(os.path.join(out, f))
for i, (name, text, field) in enumerate(cases, 1):
    lines = text.split("\n")
    line = None
    for n, l in enumerate(lines, 1):
        if l.endswith("  #!"):
            line = n + 1  # +1 for the header comment we add
            lines[n-1] = l[:-4]
    text = "\n".join(lines)
    if field is None:
        header = "# expect: (any error with a line)\n"
        if name in ("empty", "nul-byte"):
            header = "# expect: (file error)\n"
    elif line is None:
        header = "# expect: %s\n" % field
    else:
        header = "# expect: %d: %s\n" % (line, field)
    with open(os.path.join(out, "%02d-%s.yaml" % (i, name)), "w") as f:
        f.write(header + text)
print(len(cases))
