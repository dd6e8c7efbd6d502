#!/usr/bin/env bash
# Lifecycle timings on this machine, in a throwaway namespace:
#  - load and reload time (pinwall's own measurement: call start to the new
#    program running), under 20 kpps of traffic, N rounds
#  - reload with migration (built-in program <-> its test-only v2) against a
#    reload that reuses every map, and counted == sent across all of it
#  - follower detection delay: a different map renamed over the pin while
#    `pinwall stats --interval I` runs; delay = first report naming the new
#    map ID minus the moment of the rename
# Usage: bench/lifecycle.sh [ROUNDS] [INTERVAL]
set -u
cd "$(dirname "$0")/.."
rounds=${1:-20}
interval=${2:-1}
NS="pwbench-$$"
ROOT="/sys/fs/bpf/pwbench-$$"
PW=(./build/pinwall -n "$NS" --pin-root "$ROOT")
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
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

"${PW[@]}" load veth0 --json | jq .elapsed_ms >"$tmp/load"
nsenter --net="/run/netns/$NS" ./build/pwgen -i veth1 -c 0 -r 20000 -q --json >"$tmp/gen" &
pids+=($!)
for _ in $(seq "$rounds"); do
	"${PW[@]}" reload veth0 --json | jq .elapsed_ms >>"$tmp/reload"
done
for _ in $(seq "$rounds"); do
	"${PW[@]}" unload veth0 >/dev/null
	"${PW[@]}" load veth0 --json | jq .elapsed_ms >>"$tmp/load"
done
# migrations under the same traffic: the built-in program and its test-only
# v2 (counter record reordered and grown, one more map), back and forth;
# elapsed = call start to the switch, wall = the whole command (merge,
# re-pin, record included)
ms() { date +%s%N | awk '{printf "%.1f", $1 / 1e6}'; }
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
"${PW[@]}" unload veth0 >/dev/null
"${PW[@]}" load veth0 >/dev/null	# counters from zero
nsenter --net="/run/netns/$NS" ./build/pwgen -i veth1 -c 0 -r 20000 --json >"$tmp/gen" &
pids[0]=$!
for i in $(seq "$rounds"); do
	if [ $((i % 2)) -eq 1 ]; then obj=build/objs/pinwall_v2.o; else obj=build/objs/pinwall_v1.o; fi
	t0=$(ms)
	"${PW[@]}" reload veth0 --obj "$obj" --migrate --json | jq .elapsed_ms >>"$tmp/migrate"
	t1=$(ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >>"$tmp/migrate_wall"
	t0=$(ms)
	"${PW[@]}" reload veth0 --json >/dev/null
	t1=$(ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >>"$tmp/reuse_wall"
done
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
sleep 0.2
sent=$(jq .sent "$tmp/gen")
counted=$("${PW[@]}" stats veth0 --count 1 --interval 0.05 --json | jq '.total.packets')
nsenter --net="/run/netns/$NS" ./build/pwgen -i veth1 -c 0 -r 20000 -q --json >"$tmp/gen" &
pids+=($!)

d="$ROOT/ns$(stat -L -c %i "/run/netns/$NS")/veth0"
"${PW[@]}" stats veth0 --interval "$interval" --json >"$tmp/follow" &
fpid=$!
pids+=($fpid)
t0=$(date +%s.%N)
for i in $(seq 5); do
	sleep "$(awk -v i="$interval" 'BEGIN { srand(); printf "%.3f", i * (1 + rand()) }')"
	bpftool map create "$ROOT/other$i" type percpu_array key 4 value 16 entries 5 name other$i
	echo "$(bpftool -j map show pinned "$ROOT/other$i" | jq .id) $(date +%s.%N)" >>"$tmp/repl"
	mv "$ROOT/other$i" "$d/maps/xdp_stats_map"
done
sleep "$(awk -v i="$interval" 'BEGIN { print i * 1.5 }')"
kill "$fpid"
wait "$fpid" 2>/dev/null
while read -r id t; do
	el=$(jq -r --argjson id "$id" 'select(.events | map(select(.event == "map_replaced" and .new_id == $id)) | length > 0) | .elapsed' "$tmp/follow" | head -n1)
	awk -v e="$el" -v t0="$t0" -v t="$t" 'BEGIN { printf "%.0f\n", (e - (t - t0)) * 1000 }'
done <"$tmp/repl" >"$tmp/delay"

echo "machine: $(nproc) CPUs, $(uname -r); veth native XDP; 20 kpps of 64-byte UDP during reloads"
echo "load   (ms, $((rounds + 1)) runs): $(stats <"$tmp/load")"
echo "reload (ms, $rounds runs): $(stats <"$tmp/reload")"
echo "reload with migration of 2 maps (ms, $rounds runs): to the switch $(stats <"$tmp/migrate"); whole command $(stats <"$tmp/migrate_wall")"
echo "reload reusing every map, whole command (ms, $rounds runs): $(stats <"$tmp/reuse_wall")"
echo "frames sent during the migrations and reloads: $sent, counted: $counted"
echo "follower detection delay (ms, 5 replacements, --interval $interval): $(stats <"$tmp/delay")"
echo "command: bench/lifecycle.sh $rounds $interval"
