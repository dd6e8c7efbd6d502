#!/usr/bin/env bash
# The conversion of an earlier version's bpf_link attachment to netlink
# (reload: swap inside the link, tc backstop on, detach the link, attach
# through netlink, backstop off), in a throwaway namespace, N rounds under
# RATE pps:
#  - window: detach start to attach end, measured inside pinwall (test build,
#    PINWALL_TEST_WINDOW): the time XDP is empty and only the backstop filters
#  - frames lost: sent - counted by the new program (its maps carry the old
#    program's counts); a lost frame passed unfiltered and uncounted (0 with
#    the backstop); counted twice: counted - sent, when positive
# Needs build/pinwall-test (make build/pinwall-test).
# Usage: bench/conversion.sh [ROUNDS] [RATE] [MODE: native|skb]
set -u
cd "$(dirname "$0")/.."
rounds=${1:-50}
rate=${2:-20000}
mode=${3:-native}
NS="pwbench-$$"
ROOT="/sys/fs/bpf/pwbench-$$"
PWT=(./build/pinwall-test -n "$NS" --pin-root "$ROOT")
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$ROOT" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link add name veth0 type veth peer name veth1
ip -n "$NS" link set veth0 up && ip -n "$NS" link set veth1 up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

stats() { # values on stdin -> "min median max"
	sort -g | awk '{v[NR] = $1} END {printf "min %.1f  median %.1f  max %.1f", v[1], v[int((NR + 1) / 2)], v[NR]}'
}

lost_total=0 sent_total=0 rounds_lossy=0 twice_total=0
for _ in $(seq "$rounds"); do
	PINWALL_TEST_LEGACY_LINK=1 "${PWT[@]}" load veth0 --mode "$mode" >/dev/null || exit 1
	# traffic from before the reload starts until after it ends
	nsenter --net="/run/netns/$NS" ./build/pwgen -i veth1 -c 0 -r "$rate" --json >"$tmp/gen" &
	gen=$!
	sleep 0.3
	PINWALL_TEST_WINDOW=1 "${PWT[@]}" reload veth0 2>&1 >/dev/null |
		sed -n 's/^conversion window: \([0-9.]*\) us (detach \([0-9.]*\) us)\(, backstop\)\{0,1\}$/\1 \2 \3/p' >>"$tmp/window"
	sleep 0.3
	kill -INT $gen
	wait $gen
	sent=$(jq .sent "$tmp/gen")
	counted=$("${PWT[@]}" stats veth0 --count 1 --interval 0.05 --json |
		jq '[.interfaces[0].actions[].packets] | add')
	lost=$((sent - counted))
	[ "$lost" -lt 0 ] && twice_total=$((twice_total - lost)) && lost=0
	lost_total=$((lost_total + lost))
	sent_total=$((sent_total + sent))
	[ "$lost" -ne 0 ] && rounds_lossy=$((rounds_lossy + 1))
	"${PWT[@]}" unload veth0 >/dev/null || exit 1
done
echo "conversion link -> netlink, $rounds rounds under $rate pps ($(uname -r), veth, $mode mode)"
echo "  window (us): $(cut -d' ' -f1 "$tmp/window" | stats)"
echo "  of which the link detach (us): $(cut -d' ' -f2 "$tmp/window" | stats)"
echo "  rounds with the tc backstop: $(grep -c ', backstop' "$tmp/window") of $rounds"
echo "  frames: sent $sent_total, lost $lost_total (uncounted, passed unfiltered), counted twice $twice_total; rounds with a loss: $rounds_lossy"
echo "  command: bash bench/conversion.sh $rounds $rate $mode"
