#!/usr/bin/env bash
# CPU steering (load --steer): one receive queue, with and without steering.
#
# Set-up: two namespaces, a veth pair with ONE receive queue between them;
# the sender (pwgen, UDP, FLOWS flows by source port) in one, pinned to
# GEN_CPU; pinwall on the receiving veth in the other, whose NAPI is made
# threaded and its kthread pinned to RX_CPU: that kthread is "the receive
# queue's CPU". The receiving application is udpsink (one connected socket
# per flow, so the kernel tells on which CPU the stack handled each
# datagram). Per mode, DURATION seconds of traffic:
#   off     pinwall, no steering: the queue's CPU runs XDP and the whole
#           stack (skb, IP, UDP, socket) for every datagram
#   steer   pinwall --steer STEER_CPUS: XDP on the queue's CPU, the rest on
#           the CPU each flow hashes to (cpumap kthreads)
#   self    pinwall --steer RX_CPU: every frame through the cpumap back onto
#           the queue's own CPU: the cost of the hop alone, nothing spread
# Reported per mode: datagrams the application received per second, the
# share of them handled by each CPU (SO_INCOMING_CPU), each CPU's busy time
# (/proc/stat, all of the machine), and the ratios steer / off.
#
# Usage: bench/steer.sh      (root; `make all`)
# Env: DURATION=5 ROUNDS=2 GEN_CPU=0 RX_CPU=1 STEER_CPUS=0-1 FLOWS=64 SIZE=64
set -u
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
GEN_CPU=${GEN_CPU:-0}
RX_CPU=${RX_CPU:-1}
STEER_CPUS=${STEER_CPUS:-0-1}
FLOWS=${FLOWS:-64}
SIZE=${SIZE:-64}
PW=./build/pinwall
GEN=./build/pwgen
SINK=./build/udpsink
ID=pwst$$
NR=$ID-r
NS=$ID-s
ROOT=/sys/fs/bpf/$ID
IF=st$$		# unique: its NAPI kthread is named napi/IF-N
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")

cleanup() {
	ip netns del "$NR" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$ROOT" "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in "$PW" "$GEN" "$SINK"; do
	[ -x "$c" ] || { echo "steer: $c missing: run make all" >&2; exit 1; }
done

setup() {
	ip netns add "$NR" && ip netns add "$NS" || return 1
	ip link add "$IF" numrxqueues 1 numtxqueues 1 netns "$NR" type veth peer name "$IF"p \
		numrxqueues 1 numtxqueues 1 netns "$NS" || return 1
	ip -n "$NR" addr add 10.11.0.1/24 dev "$IF" && ip -n "$NS" addr add 10.11.0.2/24 dev "$IF"p &&
	ip -n "$NR" link set "$IF" up && ip -n "$NS" link set "$IF"p up && ip -n "$NR" link set lo up
}

# After the load (XDP gives the veth its NAPI): threaded, kthread onto RX_CPU.
pin_napi() {
	local tid
	ip netns exec "$NR" sh -c "echo 1 > /sys/class/net/$IF/threaded" || return 1
	tid=$(ps -eLo tid=,comm= | awk -v n="napi/$IF-" 'index($2, n) == 1 { print $1 }' | head -n1)
	[ -n "$tid" ] || return 1
	taskset -pc "$RX_CPU" "$tid" >/dev/null
}

# per-CPU busy jiffies (everything but idle and iowait): "cpu0 n cpu1 n ..."
busy() { awk '/^cpu[0-9]/ { print $1, $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# One run: MODE (off|steer). Prints one JSON line.
run() {
	local mode=$1 b0 b1 t0 t1 sent sink
	local cpus=none
	[ "$mode" = steer ] && cpus=$STEER_CPUS
	[ "$mode" = self ] && cpus=$RX_CPU
	"$PW" -n "$NR" --pin-root "$ROOT" reload "$IF" --steer "$cpus" >/dev/null || return 1
	nsenter --net="/run/netns/$NR" "$SINK" -p 9000 -d $((DURATION + 3)) -i 0.5 -s 10.11.0.2 \
		-P 40000 -n "$FLOWS" >"$TMP/sink" &
	local spid=$!
	sleep 0.3
	b0=$(busy)
	t0=$(date +%s.%N)
	sent=$(taskset -c "$GEN_CPU" nsenter --net="/run/netns/$NS" "$GEN" -i "$IF"p -c 0 \
		-d "$DURATION" --dmac "$MAC" --dst 10.11.0.1 --dport 9000 --sport 40000 \
		--sport-range "$FLOWS" -s "$SIZE" --json | jq .sent)
	b1=$(busy)
	t1=$(date +%s.%N)
	wait "$spid"
	sink=$(cat "$TMP/sink")
	jq -cn --arg mode "$mode" --argjson sent "$sent" --argjson sink "$sink" \
		--arg b0 "$b0" --arg b1 "$b1" --argjson hz "$(getconf CLK_TCK)" \
		--argjson d "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" '
		def busy($s): $s | split("\n") | map(split(" ") | {(.[0]): (.[1] | tonumber)}) | add;
		(busy($b0)) as $x | (busy($b1)) as $y |
		{mode: $mode, sent: $sent, received: $sink.packets,
		 rx_pps: (if $sink.seconds > 0 then $sink.packets / $sink.seconds else 0 end),
		 by_cpu: [$sink.cpus[] / ([$sink.packets, 1] | max)],
		 busy: [$y | to_entries[] | (.value - $x[.key]) / $hz / $d]}'
}

setup || { echo "steer: set-up failed" >&2; exit 1; }
MAC=$(ip -n "$NR" -j link show "$IF" | jq -r '.[0].address')
"$PW" -n "$NR" --pin-root "$ROOT" load "$IF" >/dev/null || { echo "steer: load failed" >&2; exit 1; }
pin_napi || { echo "steer: threaded NAPI unavailable" >&2; exit 1; }
echo "== steering: one receive queue (NAPI on cpu $RX_CPU), sender on cpu $GEN_CPU, $FLOWS UDP flows of $SIZE-byte frames, ${DURATION}s per run, $(nproc) cpus"
echo "command: DURATION=$DURATION ROUNDS=$ROUNDS GEN_CPU=$GEN_CPU RX_CPU=$RX_CPU STEER_CPUS=$STEER_CPUS FLOWS=$FLOWS SIZE=$SIZE bash bench/steer.sh"
for r in $(seq "$ROUNDS"); do
	for m in off steer self; do
		run "$m" | tee -a "$TMP/runs" || { echo "steer: run $m failed" >&2; exit 1; }
	done
done
jq -rs --arg cpus "$STEER_CPUS" --arg rx "$RX_CPU" --argjson d "$DURATION" '
	def avg(f): (map(f) | add) / length;
	def pct: . * 100 | round | tostring + "%";
	def mode($m): map(select(.mode == $m));
	(mode("off")) as $o | (mode("steer")) as $s | (mode("self")) as $h |
	def row($n; $r): "\($n | . + "          " | .[:10]) rx \(($r | avg(.rx_pps)) / 1000 | round) kpps of \(($r | avg(.sent / $d)) / 1000 | round) k offered/s;  stack by cpu: \([range(0; ($r[0].by_cpu | length))] | map(. as $i | $r | avg(.by_cpu[$i] // 0) | pct) | join(" / "));  busy by cpu: \([range(0; ($r[0].busy | length))] | map(. as $i | $r | avg(.busy[$i]) | pct) | join(" / "))";
	def ratio($r): (($r | avg(.rx_pps)) / ([($o | avg(.rx_pps)), 1] | max)) * 100 | round / 100;
	row("off"; $o), row("steer " + $cpus; $s), row("self " + $rx; $h),
	"ratio steer/off: application throughput \(ratio($s))x, received/sent \(($s | avg(.received / .sent)) * 100 | round)% vs \(($o | avg(.received / .sent)) * 100 | round)%",
	"ratio self/off (the cpumap hop alone): application throughput \(ratio($h))x"
' "$TMP/runs"
