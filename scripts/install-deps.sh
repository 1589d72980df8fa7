#!/usr/bin/env bash
# Install everything xdp-canary needs, from Debian 12 packages. This file is the one list
# of what the project needs: the build, `make test` and `make demo` need the base group;
# the long-running targets name their own extra group.
#   scripts/install-deps.sh [--if-missing] [--group NAME]... [--list]
# --if-missing does nothing when every package is present; --list prints the packages of
# the chosen groups and exits. Safe to run repeatedly.
set -euo pipefail

# Groups. `base` is always included.
declare -A GROUP=(
	# build: compilers, BPF toolchain, libraries; test and demo: netns harness, load,
	# a real Prometheus, JSON on the command line, setpriv and flock (util-linux) for
	# the unprivileged tests, openssl for their TLS certificates, and clang's
	# sanitizer and libFuzzer runtimes (libclang-rt-14-dev) for the fuzz targets;
	# scdoc renders the man pages (make man, make install, make test); etcd (etcd-server)
	# is the fleet's store, which test_store and fleet_store.sh start, and etcdctl
	# (etcd-client) cross-checks what the library wrote.
	[base]="clang llvm gcc make pkg-config scdoc
		libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev
		libyaml-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev
		iproute2 procps ethtool nftables conntrack curl wrk prometheus jq util-linux
		openssl libclang-rt-14-dev etcd-server etcd-client"
	# make fresh-check: a Debian 12 root built from the package mirror.
	[fresh-check]="debootstrap"
	# make bench-scale and make bench-peers: the peers xdp-canary is compared with (nginx stream with
	# split_clients, HAProxy) and gnuplot for the SVG charts.
	[bench]="nginx libnginx-mod-stream haproxy gnuplot-nox"
)

groups=(base)
if_missing=0
list=0
while [ $# -gt 0 ]; do
	case "$1" in
	--if-missing) if_missing=1 ;;
	--list) list=1 ;;
	--group)
		[ -n "${2:-}" ] && [ -n "${GROUP[$2]+x}" ] || {
			echo "install-deps: --group needs one of: ${!GROUP[*]}" >&2
			exit 2
		}
		groups+=("$2")
		shift
		;;
	*)
		echo "install-deps: unknown argument '$1'; usage: $0 [--if-missing] [--group NAME]... [--list]" >&2
		exit 2
		;;
	esac
	shift
done

PKGS=()
for g in "${groups[@]}"; do
	# shellcheck disable=SC2206 # word splitting of the group's list is intended
	PKGS+=(${GROUP[$g]})
done
if [ "$list" = 1 ]; then
	printf '%s\n' "${PKGS[@]}"
	exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "$if_missing" = 1 ] && [ ${#missing[@]} -eq 0 ]; then
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
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs holds the pinned maps; mount it if the machine did not. mode=0700, as systemd
# mounts it: only root may create pin roots (docs/SECURITY.md).
if [ "$(id -u)" -eq 0 ] && [ -d /sys/fs/bpf ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf
fi
