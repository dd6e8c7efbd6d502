#!/usr/bin/env bash
# Never detach because pins went away: pinwall attaches through netlink, so
# the kernel holds the attachment whatever happens to the pins (rm -rf of
# the pin root, a fresh bpffs over /sys/fs/bpf, bpffs unmounted): the drop
# rules stay in force and the counters count. Reload is a compare-and-swap
# against the program pinwall expects; the bpf_link attachment of earlier
# versions is converted by the next reload, a tc backstop filtering while
# the XDP hook is empty. The test hooks (kill, stop, the
# earlier link attachment) exist in build/pinwall-test only.
. "$(dirname "$0")/lib.sh"

DROPPED=10.66.0.5	# source address of the flow the drop rule stops

setup() {
	ns_new NS n && veth_new "$NS" veth0 veth1
}

xdp_prog() { # NS IFACE: the attached program's id
	ip -n "$1" -j link show dev "$2" | jq -r '.[0].xdp.prog.id // empty'
}

# IP datagrams that reached the stack of NS
ip_in() {
	ip netns exec "$1" awk '/^Ip: [0-9]/ {print $4}' /proc/net/snmp
}

# count PROG KEY: packets of one action (1 XDP_DROP, 2 XDP_PASS) read from
# the program's own xdp_stats_map, by id: no pin involved
count() {
	local m
	for m in $(bpftool prog show id "$1" -j | jq '.map_ids[]'); do
		[ "$(bpftool map show id "$m" -j | jq -r .name)" = xdp_stats_map ] || continue
		bpftool map dump id "$m" -j |
			jq --argjson k "$2" '[.[] | select(.formatted.key == $k) | .formatted.values[].value.rx_packets] | add'
		return
	done
	echo "no xdp_stats_map"
}

# the dropped flow is still dropped: frames from $DROPPED never reach the stack
assert_drops() { # what
	local in0 n p=$(xdp_prog "$NS" veth0) d0
	d0=$(count "$p" 1)
	in0=$(ip_in "$NS")
	n=$(gen "$NS" -i veth1 -c 200 -r 50000 --src "$DROPPED" --json | jq .sent)
	ASSERT_EQ "$n" 200 "$1: frames of the dropped flow sent"
	ASSERT_EQ "$(($(ip_in "$NS") - in0))" 0 "$1: none of them reached the stack"
	ASSERT_EQ "$(($(count "$p" 1) - d0))" 200 "$1: all of them counted as dropped"
}

# the rule set (rule maps outlive unload: apply, not add, to repeat it)
drop_rule() {
	printf 'drop src 10.66.0.0/16\n' >"$T_TMP/rules"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/rules"
}

load_with_rule() {
	ASSERT_OK pw "$NS" load veth0
	drop_rule
}

test_pin_root_wiped_under_traffic() {
	setup || { fail setup; return; }
	local p sent genpid
	load_with_rule
	p=$(xdp_prog "$NS" veth0)
	assert_drops "before the wipe"
	gen "$NS" -i veth1 -c 0 -d 1.5 -r 20000 --json >"$T_TMP/gen" &
	genpid=$!
	sleep 0.4
	rm -rf "$ROOT"
	[ -e "$ROOT" ] && fail "pin root still there"
	wait $genpid
	sent=$(jq .sent "$T_TMP/gen")
	ASSERT_GE "$sent" 20000 "frames sent under traffic"
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$p" "the program is still attached after rm -rf of the pin root"
	ASSERT_MATCH "$(ip -n "$NS" link show dev veth0)" "prog/xdp id $p" "ip link shows it"
	ASSERT_EQ "$(count "$p" 2)" "$sent" "counted == sent across the wipe"
	assert_drops "after the wipe"
}

test_fresh_bpffs_in_private_mount_namespace() {
	setup || { fail setup; return; }
	local p out
	load_with_rule
	p=$(xdp_prog "$NS" veth0)
	# a fresh bpffs over /sys/fs/bpf, and then none at all, in a private mount
	# namespace only (the host's stays as it is for everyone else)
	out=$(unshare -m --propagation private bash -c "
		mount -t bpf bpf /sys/fs/bpf || exit 1
		[ -e '$ROOT' ] && echo 'pins visible'
		ip -n '$NS' -j link show dev veth0 | jq -r '.[0].xdp.prog.id'
		umount /sys/fs/bpf && umount /sys/fs/bpf 2>/dev/null
		stat -f -c %T /sys/fs/bpf
		ip -n '$NS' -j link show dev veth0 | jq -r '.[0].xdp.prog.id'" 2>&1)
	ASSERT_EQ "$(sed -n 1p <<<"$out")" "$p" "attached with a fresh bpffs over /sys/fs/bpf"
	ASSERT_NE "$(sed -n 2p <<<"$out")" bpf_fs "bpffs unmounted in the private namespace"
	ASSERT_EQ "$(sed -n 3p <<<"$out")" "$p" "attached with bpffs unmounted"
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$p" "attached after the namespace is gone"
	assert_drops "after the private bpffs"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_OK pw "$NS" status veth0
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "unload detaches it"
}

# Another tool replaces the program between pinwall's check and its switch:
# the compare-and-swap fails, nothing changes, the staged state is rolled back.
test_reload_is_compare_and_swap() {
	setup || { fail setup; return; }
	local p other pid d out
	d=$(ifdir "$NS" veth0)
	load_with_rule
	p=$(xdp_prog "$NS" veth0)
	# replaced before the reload: refused before any change
	ASSERT_OK ip -n "$NS" -force link set dev veth0 xdpdrv obj "$OBJS/tutorial.o" sec xdp
	other=$(xdp_prog "$NS" veth0)
	ASSERT_NE "$other" "$p" "replaced behind pinwall's back"
	ERR1 "'veth0' runs program id $other, not pinwall's \(id $p\): see 'pinwall status veth0'" pw "$NS" reload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$other" "the other program stays"
	ASSERT_OK ip -n "$NS" link set dev veth0 xdpdrv off
	ASSERT_OK pw "$NS" unload veth0
	# replaced while the reload is stopped after staging: the swap itself refuses
	load_with_rule
	p=$(xdp_prog "$NS" veth0)
	PINWALL_TEST_STOP_AT=reload:staged "$PWT" -n "$NS" --pin-root "$ROOT" reload veth0 \
		>"$T_TMP/out" 2>"$T_TMP/err" &
	pid=$!
	T_PIDS+=("$pid")
	for _ in $(seq 1 100); do
		[ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = T ] && break
		sleep 0.05
	done
	ASSERT_EQ "$(ps -o stat= -p "$pid" | cut -c1)" T "reload stopped after staging"
	[ -e "$d/pending" ] || fail "nothing staged"
	ASSERT_OK ip -n "$NS" -force link set dev veth0 xdpdrv obj "$OBJS/tutorial.o" sec xdp
	other=$(xdp_prog "$NS" veth0)
	kill -CONT "$pid"
	wait "$pid"
	ASSERT_EQ "$?" 1 "reload exit status"
	ASSERT_EQ "$(cat "$T_TMP/err")" \
		"pinwall: error: 'veth0' runs program id $other, not the expected $p (replaced by another tool?): nothing was changed" \
		"one line"
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$other" "the other program stays"
	[ -e "$d/pending" ] && fail "staged state left behind"
	[ -e "$d/intent" ] && fail "intent record left behind"
	ASSERT_EQ "$(bpftool map dump pinned "$d/meta" -j | jq '.[0].formatted.value.prog_id')" "$p" \
		"the load record still names pinwall's program"
	ASSERT_OK ip -n "$NS" link set dev veth0 xdpdrv off
}

# unload detaches only pinwall's program (compare-and-swap with no new one)
test_unload_leaves_a_replacement() {
	setup || { fail setup; return; }
	local other
	load_with_rule
	ASSERT_OK ip -n "$NS" -force link set dev veth0 xdpdrv obj "$OBJS/tutorial.o" sec xdp
	other=$(xdp_prog "$NS" veth0)
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$other" "the other tool's program stays"
	ASSERT_OK ip -n "$NS" link set dev veth0 xdpdrv off
}

# load --force over another tool's netlink program: one atomic swap
test_forced_load_swaps_atomically() {
	setup || { fail setup; return; }
	local sent theirs ours genpid
	mkdir -p "$ROOT-aux" &&
		bpftool prog load "$OBJS/tutorial.o" "$ROOT-aux/p" pinmaps "$ROOT-aux/maps" ||
		{ fail "bpftool prog load"; return; }
	ASSERT_OK nsenter --net="/run/netns/$NS" bpftool net attach xdpdrv pinned "$ROOT-aux/p" dev veth0
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -r 20000 --json >"$T_TMP/gen"
	genpid=$BG_PID
	sleep 0.3
	ASSERT_OK pw "$NS" load veth0 --force
	sleep 0.3
	kill -INT "$genpid"
	wait "$genpid"
	sent=$(jq .sent "$T_TMP/gen")
	# every frame met one of the two programs
	ours=$(count "$(xdp_prog "$NS" veth0)" 2)
	theirs=$(bpftool map dump pinned "$ROOT-aux/maps/xdp_stats_map" -j |
		jq '[.[] | select(.formatted.key == 2) | .formatted.values[].value.rx_packets] | add')
	ASSERT_GE "$theirs" 1 "the other program counted before the swap"
	ASSERT_GE "$ours" 1 "pinwall's program counted after it"
	ASSERT_EQ "$((ours + theirs))" "$sent" "no frame without a program during --force"
	ASSERT_OK pw "$NS" unload veth0
}

# The bpf_link attachment of earlier versions: the next reload converts it,
# with a tc backstop filtering and counting while the XDP hook is empty.
legacy_load() { # [MODE]
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0 \
		--mode "${1:-native}"
	drop_rule
}

# what the stack of NS received (the kernel is the oracle): UDP datagrams
# (delivered, no port, or in error) and ICMP echo requests
udp_in() {
	ip netns exec "$1" awk '/^Udp: [0-9]/ {print $2 + $3 + $4}' /proc/net/snmp
}
icmp_in() {
	ip netns exec "$1" awk '/^Icmp: [0-9]/ {print $10}' /proc/net/snmp
}

# total PROG: frames the program counted, over every action
total() {
	local a n=0
	for a in 0 1 2 3 4; do
		n=$((n + $(count "$1" "$a" | sed 's/null/0/')))
	done
	echo "$n"
}

# no tc filter left at veth0's ingress; the clsact qdisc stays for the ct
# flow recorder at egress (recovery leaves it anyway: after a kill another
# tool may have added filters to it)
assert_no_backstop() { # what [recovered]
	ASSERT_EQ "$(tc -n "$NS" filter show dev veth0 ingress)" "" "$1: no tc filter left"
	[ -n "${2:-}" ] || [[ "$(tc -n "$NS" filter show dev veth0 egress)" =~ pinwall_ct_out ]] ||
		fail "$1: no ct flow recorder at egress after the conversion"
	ASSERT_EQ "$(mark "$(xdp_prog "$NS" veth0)")" 0 "$1: the XDP program marks no frame any more"
}

# the backstop mark of PROG (its .bss): nonzero while it marks what it passed
mark() {
	local m
	for m in $(bpftool prog show id "$1" -j | jq '.map_ids[]'); do
		[[ "$(bpftool map show id "$m" -j | jq -r .name)" == *.bss ]] || continue
		bpftool map dump id "$m" -j | jq '.[0].formatted.value[".bss"][] | select(has("pw_backstop")) | .pw_backstop' ||
			echo "unreadable"
		return
	done
	echo "no .bss"
}

# Two flows at 10 kpps each through the conversion: UDP from $DROPPED (the
# drop rule) and ICMP echo requests (passed). Every frame is counted once by
# the new program, and no frame of the dropped flow reaches the stack.
convert_under_traffic() { # MODE
	local d p0 p1 mac udp icmp u0 i0 genu geni top
	setup || { fail setup; return; }
	top=$(ls /sys/fs/bpf | grep -v "^$T_ID")	# nothing pinned outside the pin root
	d=$(ifdir "$NS" veth0)
	ASSERT_OK ip -n "$NS" addr add 10.11.0.1/24 dev veth0
	ip netns exec "$NS" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0
	mac=$(ip netns exec "$NS" cat /sys/class/net/veth0/address)
	# the oracle sees the dropped flow when nothing filters it
	u0=$(udp_in "$NS")
	gen "$NS" -i veth1 -c 50 --src "$DROPPED" --dmac "$mac" -q
	ASSERT_EQ "$(($(udp_in "$NS") - u0))" 50 "without pinwall the dropped flow reaches the stack"
	legacy_load "$1"
	p0=$(xdp_prog "$NS" veth0)
	ASSERT_EQ "$(bpftool -j link show pinned "$d/link" | jq .prog_id)" "$p0" "attached through a pinned link"
	u0=$(udp_in "$NS") i0=$(icmp_in "$NS")
	# traffic from before the reload starts until after it ends
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -r 10000 --src "$DROPPED" \
		--dmac "$mac" --json >"$T_TMP/genu"
	genu=$BG_PID
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -r 10000 -p icmp --dmac "$mac" \
		--json >"$T_TMP/geni"
	geni=$BG_PID
	sleep 0.3
	ASSERT_OK pw "$NS" reload veth0
	sleep 0.2
	kill -INT "$genu" "$geni"
	wait "$genu" "$geni"
	udp=$(jq .sent "$T_TMP/genu") icmp=$(jq .sent "$T_TMP/geni")
	p1=$(xdp_prog "$NS" veth0)
	ASSERT_NE "$p1" "$p0" "the new program runs"
	[ -e "$d/link" ] && fail "link pin left after the conversion"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$p1" '[.[] | select(.prog_id == $p)] | length')" 0 \
		"no bpf_link holds it: netlink"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift"
	assert_no_backstop "$1"
	ASSERT_EQ "$(ls /sys/fs/bpf | grep -v "^$T_ID")" "$top" "$1: nothing new pinned directly below /sys/fs/bpf"
	# counters migrate at reload: the new program's map holds every count
	echo "    conversion ($1) under 2 x 10 kpps: sent $((udp + icmp)), counted $(total "$p1")"
	ASSERT_EQ "$(total "$p1")" "$((udp + icmp))" "$1: every frame counted exactly once"
	ASSERT_EQ "$(count "$p1" 1)" "$udp" "$1: every frame of the dropped flow counted as dropped"
	ASSERT_EQ "$(($(udp_in "$NS") - u0))" 0 "$1: none of the dropped flow reached the stack"
	ASSERT_EQ "$(($(icmp_in "$NS") - i0))" "$icmp" "$1: every passed frame reached the stack once"
	rm -rf "$ROOT"
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$p1" "converted: survives the loss of its pins"
	assert_drops "after the conversion and the wipe"
}

test_legacy_link_converted_under_traffic() {
	convert_under_traffic native
}

test_legacy_link_converted_under_traffic_skb() {
	convert_under_traffic skb
}

# Without a backstop (an --obj program has none) the conversion goes on as
# before, with its window, and says so.
test_conversion_without_backstop_warns() {
	setup || { fail setup; return; }
	local d p
	d=$(ifdir "$NS" veth0)
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0 \
		--obj "$OBJS/tutorial.o"
	pw "$NS" reload veth0 >"$T_TMP/out" 2>"$T_TMP/err"
	ASSERT_EQ "$?" 0 "reload exit status"
	ASSERT_EQ "$(cat "$T_TMP/err")" \
		"warning: no tc backstop for the conversion of 'veth0' (the new program is not the built-in one (--obj), which alone has the tc backstop): frames arriving between the bpf_link's detach and the netlink attach pass unfiltered and uncounted" \
		"one warning line"
	p=$(xdp_prog "$NS" veth0)
	[ -e "$d/link" ] && fail "link pin left after the conversion"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$p" '[.[] | select(.prog_id == $p)] | length')" 0 \
		"converted all the same: no bpf_link holds it"
	ASSERT_EQ "$(tc -n "$NS" filter show dev veth0 ingress)" "" "no tc filter"
	ASSERT_OK pw "$NS" unload veth0
}

# A clsact qdisc that was there before stays; only pinwall's filter goes.
test_conversion_keeps_a_clsact_it_did_not_make() {
	setup || { fail setup; return; }
	ASSERT_OK tc -n "$NS" qdisc add dev veth0 clsact
	legacy_load
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(tc -n "$NS" filter show dev veth0 ingress)" "" "no tc filter left"
	ASSERT_MATCH "$(tc -n "$NS" qdisc show dev veth0)" clsact "the clsact qdisc stays"
	ASSERT_OK pw "$NS" unload veth0
}

# bytes of XDP_PASS in the interface's pinned counters
pinned_pass() {
	bpftool map dump pinned "$1/maps/xdp_stats_map" -j |
		jq '[.[] | select(.formatted.key == 2) | .formatted.values[].value.rx_bytes] | add'
}

# killed at every step of the conversion: recovery attaches the new program
# and removes the backstop; while XDP is empty, the backstop filters
test_legacy_conversion_killed() {
	setup || { fail setup; return; }
	local d step out in0
	d=$(ifdir "$NS" veth0)
	for step in converting backstopped unlinked reattached; do
		legacy_load
		PINWALL_TEST_KILL_AT="reload:$step" "$PWT" -n "$NS" --pin-root "$ROOT" reload veth0 >/dev/null 2>&1
		ASSERT_EQ "$?" 137 "killed at reload:$step"
		if [ "$step" = unlinked ]; then
			ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "no XDP program after the link's detach"
			in0=$(ip_in "$NS")
			gen "$NS" -i veth1 -c 200 -r 50000 --src "$DROPPED" -q
			ASSERT_EQ "$(($(ip_in "$NS") - in0))" 0 "the backstop drops the dropped flow meanwhile"
			# the kernel took the VLAN tag out before tc: still parsed as
			# XDP would, and counted with the tag's bytes
			in0=$(pinned_pass "$d")
			gen "$NS" -i veth1 -c 100 --vlan 7 -s 64 -q
			ASSERT_EQ "$(($(pinned_pass "$d") - in0))" 6400 "the backstop passes and counts tagged frames as XDP does"
		fi
		out=$(pw "$NS" recover veth0) || fail "recover after $step: $out"
		ASSERT_MATCH "$out" "^finished the interrupted reload of veth0" "recover finishes it ($step)"
		ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$(bpftool map dump pinned "$d/meta" -j | jq '.[0].formatted.value.prog_id')" \
			"the new program runs ($step)"
		assert_no_backstop "recovered ($step)" recovered
		assert_drops "after the recovery ($step)"
		# a link left (killed before its detach) is converted by the next reload
		ASSERT_OK pw "$NS" reload veth0
		[ -e "$d/link" ] && fail "link pin left ($step)"
		ASSERT_OK pw "$NS" unload veth0
		ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "unloaded ($step)"
	done
}

# The release binary has no test hooks: it attaches through netlink whatever
# the environment says, and never stops itself.
test_release_binary_ignores_test_hooks() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 PINWALL_TEST_STOP_AT=load:staged \
		timeout 60 "$PW" -n "$NS" --pin-root "$ROOT" load veth0
	[ -e "$d/link" ] && fail "release binary attached through a link"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "loaded"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$(xdp_prog "$NS" veth0)" '[.[] | select(.prog_id == $p)] | length')" 0 \
		"no bpf_link"
	ASSERT_OK pw "$NS" unload veth0
}

run_tests
