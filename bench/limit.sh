#!/usr/bin/env bash
# Rate limits: the per-packet cost of a rate-limited rule against a plain
# rule (BPF_PROG_TEST_RUN, bench/limit.c), and the accuracy over 10 s: one
# source at 10x the rate from two senders pinned to CPU 0 and CPU 1, into a
# veth pair with two queues (so XDP runs on both CPUs), passed packets
# against rate x time + burst. Builds nothing (make bench builds
# build/bench/limit). Needs root. Usage: bench/limit.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bench/limit pw=./build/pinwall gen=./build/pwgen
secs=${1:-10} rate=${2:-1000}
for b in "$bin" "$pw" "$gen"; do
	[ -x "$b" ] || { echo "limit.sh: $b is missing: run 'make bench'" >&2; exit 1; }
done
echo "== rate limits"
echo "machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/limit.sh $secs $rate"
echo
echo "-- per-packet cost ($bin)"
"$bin"
echo

ns=pwb$$ root=/sys/fs/bpf/pwb$$ tmp=$(mktemp -d /tmp/pwb$$.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$root" "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add name veth0 numtxqueues 2 numrxqueues 2 type veth peer name veth1 numtxqueues 2 numrxqueues 2
ip -n "$ns" link set veth0 up
ip -n "$ns" link set veth1 up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
P() { "$pw" -n "$ns" --pin-root "$root" "$@"; }
P load veth0 >/dev/null
burst=$rate rule="limit $rate src 10.11.0.0/16"
echo "$rule" >"$tmp/r"
P rule apply "$tmp/r" >/dev/null
echo "-- accuracy: '$rule' (burst $burst), ${secs} s at 10x the rate from one source, senders on CPU 0 and 1"
for c in 0 1; do
	nsenter --net="/run/netns/$ns" taskset -c $c "$gen" -i veth1 -c 0 -d "$secs" -r $((rate * 5)) \
		--sport $((1000 + 1001 * c)) --json >"$tmp/s$c" &
	pids+=($!)
done
wait "${pids[@]}"
pids=()
sleep 0.5
sent=$(($(jq .sent "$tmp/s0") + $(jq .sent "$tmp/s1")))
el=$(jq -s 'map(.seconds) | max' "$tmp/s0" "$tmp/s1")
read -r passed dropped <<<"$(P rule list --json | jq -r '.rules[0] | "\(.passed.packets) \(.packets)"')"
cpus=$(bpftool -j map dump pinned "$root"/ns*/veth0/maps/xdp_stats_map |
	jq -r '[.[] | select(.formatted.key == 1 or .formatted.key == 2) | .formatted.values] |
		transpose | map(map(.value.rx_packets) | add) | join(" ")')
expect=$((rate * secs + burst))
echo "sent $sent (sender time ${el} s); passed $passed, dropped $dropped; frames per CPU: $cpus"
awk -v p="$passed" -v e="$expect" 'BEGIN { printf "expected rate x time + burst = %d; passed/expected = %.4f (%+.2f%%)\n", e, p / e, (p - e) * 100 / e }'
