#!/usr/bin/env bash
# Install everything xdp-canary needs to build, test and demo, from Debian 12 packages.
# Safe to run repeatedly. With --if-missing it does nothing when all tools are present.
set -euo pipefail

PKGS=(
	clang llvm gcc make pkg-config
	libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev
	libyaml-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev
	iproute2 ethtool nftables conntrack curl wrk prometheus jq util-linux
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${1:-}" = "--if-missing" ] && [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0)" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || echo "install-deps: apt-get update failed; trying the cached package lists" >&2
	# The prometheus package ships a service we do not want running; tests start their own.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs holds the pinned maps; mount it if the machine did not.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
