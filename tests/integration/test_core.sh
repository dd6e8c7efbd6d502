#!/usr/bin/env bash
# load / reload / unload of the built-in program on a real veth, with real
# frames: exact counts, counters that survive reloads, pin layout, cleanup.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1
}

test_exact_counts() {
	setup || { fail setup; return; }
	ASSERT_OK pw "$NS" load veth0
	gen "$NS" -i veth1 -c 3000 -r 50000 -q
	gen "$NS" -i veth1 -c 200 -p tcp -s 80 -q
	gen "$NS" -i veth1 -c 100 -p icmp -6 -q
	gen "$NS" -i veth1 -c 50 -p udp --vlan 7 -q
	local j
	j=$(pw "$NS" stats veth0 --count 1 --interval 0.1 --json)
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_PASS.packets <<<"$j")" 3350 "XDP_PASS packets"
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_PASS.bytes <<<"$j")" \
		$((3000 * 64 + 200 * 80 + 100 * 64 + 50 * 64)) "XDP_PASS bytes"
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_DROP.packets <<<"$j")" 0 "XDP_DROP packets"
	ASSERT_EQ "$(jq .interfaces[0].classes.udp.packets <<<"$j")" 3050 "udp class"
	ASSERT_EQ "$(jq .interfaces[0].classes.tcp.packets <<<"$j")" 200 "tcp class"
	ASSERT_EQ "$(jq .interfaces[0].classes.icmp.packets <<<"$j")" 100 "icmp class"
	ASSERT_EQ "$(jq .interfaces[0].classes.ipv6.packets <<<"$j")" 100 "ipv6 class"
	ASSERT_EQ "$(jq .interfaces[0].classes.ipv4.packets <<<"$j")" 3250 "ipv4 class"
	ASSERT_EQ "$(jq .interfaces[0].classes.malformed.packets <<<"$j")" 0 "malformed class"
	ASSERT_EQ "$(jq .total.packets <<<"$j")" 3350 "total packets"
}

test_pin_layout_and_status() {
	setup || { fail setup; return; }
	local d j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --mode skb
	for p in meta maps/xdp_stats_map maps/pw_classes; do
		[ -e "$d/$p" ] || fail "missing pin $d/$p"
	done
	# attached through netlink: no bpf_link, nothing pinned holds the attachment
	[ -e "$d/link" ] && fail "a link pin was made"
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp.mode')" 2 "netlink attachment in generic mode"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$(ip -n "$NS" -j link show veth0 | jq '.[0].xdp.prog.id')" '[.[] | select(.prog_id == $p)] | length')" 0 "no bpf_link holds the program"
	# BTF-defined: bpftool prints named fields
	ASSERT_MATCH "$(bpftool map dump pinned "$d/maps/xdp_stats_map")" '"rx_packets"' "named fields"
	ASSERT_MATCH "$(bpftool map dump pinned "$d/meta")" '"ifname": "veth0"' "load record"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].mode' <<<"$j")" skb "status mode"
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" pinwall_xdp "status program"
	ASSERT_EQ "$(jq -r '.[0].object' <<<"$j")" built-in "status object"
	ASSERT_EQ "$(jq -r '.[0].pin_dir' <<<"$j")" "$d" "status pin dir"
	ASSERT_EQ "$(jq -r '.[0].drift | length' <<<"$j")" 0 "no drift"
	ASSERT_EQ "$(jq -r '[.[0].maps[] | select(.shared | not)] | length' <<<"$j")" 8 "eight interface maps (steering: 2, the chain: 1)"
	[ -e "$d/maps/pw_frags" ] || fail "missing pin $d/maps/pw_frags (first fragments' verdicts)"
	for p in pw_drops pw_capture; do
		[ -e "$d/maps/$p" ] || fail "missing pin $d/maps/$p (captured drops)"
	done
	ASSERT_EQ "$(jq -r '[.[0].maps[] | select(.shared)] | length' <<<"$j")" 24 "24 shared maps (rules 16, blocks 3, limits 3, ct 2)"
	ASSERT_EQ "$(jq -r '.[0].link_id // "none"' <<<"$j")" none "no link in status"
	ASSERT_EQ "$(jq -r '.[0].prog_id' <<<"$j")" "$(bpftool map dump pinned "$d/meta" -j | jq '.[0].formatted.value.prog_id')" "status: the recorded program runs"
	ASSERT_MATCH "$(pw "$NS" status)" 'program +pinwall_xdp id [0-9]+ tag [0-9a-f]{16}, skb mode' "text status"
}

test_reload_keeps_counters_and_maps() {
	setup || { fail setup; return; }
	local d ids1 ids2 j p1 p2
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	gen "$NS" -i veth1 -c 1000 -q
	ids1=$(pw "$NS" status veth0 --json | jq -c '[.[0].maps[].id] | sort')
	p1=$(pw "$NS" status veth0 --json | jq .[0].prog_id)
	j=$(pw "$NS" reload veth0 --json)
	ASSERT_EQ "$(jq '[.maps[].reused] | all' <<<"$j")" true "all maps reused"
	ASSERT_EQ "$(jq .old_prog_id <<<"$j")" "$p1" "old program id"
	p2=$(jq .prog_id <<<"$j")
	ASSERT_NE "$p2" "$p1" "new program id"
	ids2=$(pw "$NS" status veth0 --json | jq -c '[.[0].maps[].id] | sort')
	ASSERT_EQ "$ids2" "$ids1" "map ids after reload"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq .[0].reloads)" 1 "reload count"
	gen "$NS" -i veth1 -c 500 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "1500 96000" "counters continue"
}

test_reload_under_traffic() {
	setup || { fail setup; return; }
	local sent j i prev=-1 bad=0
	ASSERT_OK pw "$NS" load veth0
	bg_pw "$NS" stats veth0 --interval 0.1 --json >"$T_TMP/follow"
	local follower=$BG_PID
	gen "$NS" -i veth1 -c 0 -d 3 -r 30000 --json >"$T_TMP/gen" &
	local genpid=$!
	sleep 0.3
	for i in $(seq 1 10); do
		pw "$NS" reload veth0 >/dev/null || fail "reload $i"
		sleep 0.15
	done
	wait $genpid
	sent=$(jq .sent "$T_TMP/gen")
	sleep 0.3
	kill -INT "$follower"
	wait "$follower"
	ASSERT_EQ "$?" 0 "follower exit status on SIGINT"
	ASSERT_GE "$sent" 30000 "frames sent"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent across 10 reloads"
	# the follower saw monotonic totals and no negative rate
	while read -r j; do
		if [ "$j" -lt "$prev" ]; then bad=1; fi
		prev=$j
	done < <(jq -r '.total.packets' "$T_TMP/follow" 2>/dev/null)
	ASSERT_EQ "$bad" 0 "monotonic totals"
}

test_unload_removes_pins() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "pin dir $d still there"
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp // empty')" "" "no XDP left"
	# and load again works, with fresh maps
	ASSERT_OK pw "$NS" load veth0
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "0 0" "fresh counters"
}

test_unload_keep_maps() {
	setup || { fail setup; return; }
	local d id1 id2
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	gen "$NS" -i veth1 -c 700 -q
	id1=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp // empty')" "" "detached"
	ASSERT_OK pw "$NS" load veth0
	id2=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	ASSERT_EQ "$id2" "$id1" "same map after unload --keep-maps + load"
	gen "$NS" -i veth1 -c 300 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 1000 "counters continue"
}

test_auto_mode_falls_back() {
	setup || { fail setup; return; }
	# lo has no native XDP: auto must fall back to generic (skb)
	local j
	j=$(pw "$NS" load lo --json)
	ASSERT_EQ "$(jq -r .mode <<<"$j")" skb "auto on lo"
	j=$(pw "$NS" load veth0 --json)
	ASSERT_EQ "$(jq -r .mode <<<"$j")" native "auto on veth"
}

test_two_netns_same_ifname() {
	local a b da db
	ns_new a x && ns_new b y && veth_new "$a" veth0 veth1 && veth_new "$b" veth0 veth1 ||
		{ fail setup; return; }
	ASSERT_OK pw "$a" load veth0
	ASSERT_OK pw "$b" load veth0
	da=$(ifdir "$a" veth0)
	db=$(ifdir "$b" veth0)
	ASSERT_NE "$da" "$db" "pin dirs differ"
	gen "$a" -i veth1 -c 11 -q
	gen "$b" -i veth1 -c 22 -q
	ASSERT_EQ "$(action_count "$a" veth0 XDP_PASS | cut -d' ' -f1)" 11 "ns a counts"
	ASSERT_EQ "$(action_count "$b" veth0 XDP_PASS | cut -d' ' -f1)" 22 "ns b counts"
	ASSERT_OK pw "$a" unload veth0
	ASSERT_EQ "$(pw "$b" status veth0 --json | jq '.[0].drift | length')" 0 "b untouched"
}

test_dotted_ifname() {
	setup || { fail setup; return; }
	# bpffs refuses '.' in names; VLAN devices often have them (eth0.100)
	veth_new "$NS" veth.7 peer.7 || { fail "dotted veth"; return; }
	ASSERT_OK pw "$NS" load veth.7
	ASSERT_EQ "$(pw "$NS" status --json | jq -r '.[].ifname' | grep -cx 'veth.7')" 1 "listed by name"
	gen "$NS" -i peer.7 -c 5 -q
	ASSERT_EQ "$(action_count "$NS" veth.7 XDP_PASS | cut -d' ' -f1)" 5 "counted"
	ASSERT_OK pw "$NS" unload veth.7
}

run_tests
