#!/usr/bin/env bash
# Install the Debian packages pinwall's build, demo and tests need, when missing.
set -euo pipefail

pkgs=(
	clang llvm make gcc pkg-config	# BPF and user-space builds
	libbpf-dev libelf-dev zlib1g-dev libjson-c-dev libcap-dev libcmocka-dev
	libpcap-dev			# pinwall drops --pcap
	libmicrohttpd-dev			# the exporter's HTTP server
	libcurl4-openssl-dev			# the CrowdSec bouncer's HTTP client
	bpftool				# vmlinux.h and skeletons
	iproute2 jq libcap2-bin util-linux procps	# tests: netns, JSON, capsh, setpriv, sysctl
	xdp-tools nftables iptables ethtool	# peers and baselines for tests and benchmarks
	python3-scapy				# crafted frames of the bypass and ct tests
	iputils-ping				# the ct test: the host's own ping through a deny policy
	tcpdump tshark				# tests: read what pinwall drops --pcap wrote; tcpdump on a veth (test_steer)
	prometheus curl				# the exporter test: a real scrape, its HTTP API
	python3-matplotlib			# make bench: the plot docs/bench.png
	systemd					# tests: systemd-analyze verify of the unit
	fail2ban				# tests: the fail2ban action end to end
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "deps: /sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF" >&2
	exit 1
fi
