#!/usr/bin/env bash
# Where XDP sits, and CPU steering (load --steer), with real frames over a
# veth pair between two namespaces: the sender in one, pinwall and the
# receivers (tcpdump, tc, nftables, a UDP socket) in the other.
. "$(dirname "$0")/lib.sh"

SINK="$TOP/build/udpsink"

# A: the receiving side (pinwall on veth0, 10.11.0.1); B: the sender (veth1)
setup() {
	ns_new A a && ns_new B b || return 1
	ip link add "$T_ID-v0" netns "$A" type veth peer name "$T_ID-v1" netns "$B" || return 1
	ip -n "$A" link set "$T_ID-v0" name veth0 && ip -n "$B" link set "$T_ID-v1" name veth1 &&
	ip -n "$A" addr add 10.11.0.1/24 dev veth0 && ip -n "$B" addr add 10.11.0.2/24 dev veth1 &&
	ip -n "$A" link set veth0 up && ip -n "$B" link set veth1 up || return 1
	MAC0=$(ip -n "$A" -j link show veth0 | jq -r '.[0].address')
}

# send NFRAMES DPORT [pwgen args...] from B to A's address, on CPU $CPU (default 0)
send() {
	local n=$1 port=$2
	shift 2
	taskset -c "${CPU:-0}" nsenter --net="/run/netns/$B" "$GEN" -i veth1 -q -c "$n" \
		--dmac "$MAC0" --dst 10.11.0.1 --dport "$port" "$@"
}

# the UDP sink in A on PORT while the sending commands in "$@" run; its JSON in $T_TMP/sink
sink_run() { # PORT, then the sending commands in "$@"
	local port=$1
	shift
	nsenter --net="/run/netns/$A" "$SINK" -p "$port" -d 8 -i 0.4 -s 10.11.0.2 -P 40000 \
		-n "${FLOWS:-1}" >"$T_TMP/sink" &
	SINK_PID=$!
	T_PIDS+=("$SINK_PID")
	sleep 0.3
	"$@"
	wait "$SINK_PID"
}

# tcpdump on veth0 in A while CMD... runs; prints the UDP destination ports seen
dump_ports() {
	local out="$T_TMP/dump.pcap"
	ip netns exec "$A" tcpdump -i veth0 -n --immediate-mode -U -w "$out" udp 2>"$T_TMP/tcpdump.err" &
	local pid=$!
	T_PIDS+=("$pid")
	for _ in $(seq 50); do grep -q listening "$T_TMP/tcpdump.err" && break; sleep 0.1; done
	"$@"
	sleep 0.3
	kill -INT "$pid"
	wait "$pid"
	tcpdump -n -r "$out" 2>/dev/null | sed -nE 's/.*10\.11\.0\.1\.([0-9]+):.*/\1/p' | sort | uniq -c |
		awk '{printf "%s:%s ", $2, $1}'
}

# nftables counters in A, at prerouting (before conntrack and routing)
hooks_setup() {
	printf 'table inet pwt {\n chain pre {\n type filter hook prerouting priority -300\n%s\n }\n}\n' \
		"$(printf ' udp dport %s counter\n' 5000 7)" | ip netns exec "$A" nft -f -
}
nft_count() { # DPORT: packets the prerouting counter saw
	ip netns exec "$A" nft -j list table inet pwt |
		jq --argjson p "$1" '[.nftables[].rule? | select(. != null) | select(.expr[0].match.right == $p) | .expr[1].counter.packets] | add'
}

# Who sees a frame first: XDP (pinwall), then the packet socket tcpdump uses
# (after native and after generic XDP), then netfilter.
test_placement() {
	setup && hooks_setup || { fail setup; return; }
	local mode seen
	# without pinwall: tcpdump and netfilter see both ports
	seen=$(dump_ports eval 'send 20 5000; send 20 7')
	ASSERT_EQ "$seen" "5000:20 7:20 " "tcpdump without pinwall"
	ASSERT_EQ "$(nft_count 7)" 20 "netfilter without pinwall"
	ASSERT_OK pw "$A" rule add drop dport 7
	for mode in native skb; do
		ASSERT_OK pw "$A" load veth0 --mode "$mode"
		seen=$(dump_ports eval 'send 30 5000; send 30 7')
		ASSERT_EQ "$seen" "5000:30 " "tcpdump under pinwall ($mode): passed frames only"
		ASSERT_EQ "$(action_count "$A" veth0 XDP_DROP | cut -d' ' -f1)" 30 "XDP dropped ($mode)"
		ASSERT_OK pw "$A" unload veth0
	done
	ASSERT_EQ "$(nft_count 7)" 20 "netfilter never saw what XDP dropped"
	ASSERT_EQ "$(nft_count 5000)" 80 "netfilter saw every passed frame"
}

# steering: JSON field of the sink's result
sink() { jq -c "$1" "$T_TMP/sink"; }
steer_list() { # the pinned CPU list, e.g. "1" or "0,1"
	bpftool -j map lookup pinned "$(ifdir "$A" veth0)/maps/pw_steer_cpus" key 0 0 0 0 |
		jq -r '.formatted.value as $v | $v.cpu[0:$v.n] | map(tostring) | join(",")'
}
steer_id() { bpftool -j map show pinned "$(ifdir "$A" veth0)/maps/pw_steer" 2>/dev/null | jq -r .id; }

test_steer() {
	setup || { fail setup; return; }
	local d j id
	d=$(ifdir "$A" veth0)
	ASSERT_OK pw "$A" rule add drop dport 7
	j=$(pw "$A" load veth0 --steer 1 --json)
	ASSERT_EQ "$(jq -c .steer <<<"$j")" "[1]" "load reports the steering"
	# frames received on CPU 0 are handled by the stack on CPU 1
	CPU=0 sink_run 5000 eval 'send 300 5000; send 40 7'
	ASSERT_EQ "$(sink .packets)" 300 "the socket received every passed datagram"
	ASSERT_EQ "$(sink '.cpus[1]')" 300 "all on cpu 1 (sink: $(sink .))"
	ASSERT_EQ "$(action_count "$A" veth0 XDP_REDIRECT | cut -d' ' -f1)" 300 "counted as XDP_REDIRECT"
	ASSERT_EQ "$(action_count "$A" veth0 XDP_DROP | cut -d' ' -f1)" 40 "drops still dropped"
	ASSERT_EQ "$(action_count "$A" veth0 XDP_PASS | cut -d' ' -f1)" 0 "nothing passed unsteered"

	# reload keeps it; reload --steer changes it (received on 1, handled on 0)
	id=$(steer_id)
	ASSERT_OK pw "$A" reload veth0
	ASSERT_EQ "$(steer_id) $(steer_list)" "$id 1" "reload reuses the cpumap and keeps the list"
	ASSERT_OK pw "$A" reload veth0 --steer 0
	CPU=1 sink_run 5001 send 200 5001
	ASSERT_EQ "$(sink '[.packets, .cpus[0]]')" "[200,200]" "steered to cpu 0 after reload --steer 0"

	# one flow stays on one CPU; many flows use both
	ASSERT_OK pw "$A" reload veth0 --steer 0-1
	CPU=0 sink_run 5002 send 200 5002
	ASSERT_EQ "$(sink '[.cpus[] | select(. > 0)] | length')" 1 "one flow, one cpu ($(sink .cpus))"
	FLOWS=64 CPU=0 sink_run 5003 send 600 5003 --sport-range 64
	ASSERT_EQ "$(sink '[.packets, ([.cpus[] | select(. > 0)] | length)]')" "[600,2]" "64 flows over both cpus ($(sink .cpus))"

	# repin puts the steering maps back; unload removes them
	rm -f "$d/maps/pw_steer" "$d/maps/pw_steer_cpus"
	ASSERT_OK pw "$A" repin veth0
	ASSERT_EQ "$(steer_id) $(steer_list)" "$id 0,1" "repin: the same cpumap, the same list"

	# a cpumap entry gone: the frame passes, never dropped
	bpftool map delete pinned "$d/maps/pw_steer" key 1 0 0 0 2>/dev/null
	bpftool map delete pinned "$d/maps/pw_steer" key 0 0 0 0 2>/dev/null
	CPU=0 sink_run 5004 send 100 5004
	ASSERT_EQ "$(sink .packets)" 100 "missing cpumap entries fall back to pass"

	ASSERT_OK pw "$A" reload veth0 --steer none
	ASSERT_EQ "$(steer_list)" "" "--steer none: empty list"
	ASSERT_OK pw "$A" unload veth0
	[ -e "$d/maps/pw_steer" ] && fail "cpumap pin left after unload"
	# the kernel frees a cpumap after an RCU grace period and its kthreads
	local i
	for i in $(seq 40); do
		bpftool map show id "$id" >/dev/null 2>&1 || break
		sleep 0.05
	done
	bpftool map show id "$id" >/dev/null 2>&1 && fail "cpumap $id still exists 2 s after unload"

	# generic XDP steers too (the kernel's cpumap takes skbs as well)
	ASSERT_OK pw "$A" load veth0 --mode skb --steer 1
	CPU=0 sink_run 5005 eval 'send 100 5005; send 10 7'
	ASSERT_EQ "$(sink '[.packets, .cpus[1]]')" "[100,100]" "skb mode: steered to cpu 1"
	ASSERT_EQ "$(action_count "$A" veth0 XDP_REDIRECT | cut -d' ' -f1)" 100 "skb mode: counted as XDP_REDIRECT"
	ASSERT_EQ "$(action_count "$A" veth0 XDP_DROP | cut -d' ' -f1)" 10 "skb mode: drops dropped"
}

test_steer_refused() {
	setup || { fail setup; return; }
	ERR1 "invalid cpu list '7': cpu 7 is not online \(online: 0-" pw "$A" load veth0 --steer 7
	ERR1 "invalid cpu list '1-0': use cpu numbers" pw "$A" load veth0 --steer 1-0
	ERR1 "invalid cpu list '0,x'" pw "$A" load veth0 --steer 0,x
	ERR1 "invalid cpu list '999': cpus 0 to 255" pw "$A" load veth0 --steer 999
	ERR1 "--steer works with pinwall's built-in program only" \
		pw "$A" load veth0 --obj "$OBJS/tutorial.o" --steer 0
	ASSERT_OK pw "$A" load veth0 --steer 0
	ERR1 "invalid cpu list '0-255': cpu [0-9]+ is not online" pw "$A" reload veth0 --steer 0-255
	ERR1 "invalid cpu list ''" pw "$A" reload veth0 --steer ''
	ASSERT_EQ "$(steer_list)" "0" "steering unchanged by the refused reloads"
}

run_tests
