#!/usr/bin/env bash
# User-supplied BPF objects (--obj/--prog) with real frames: a tutorial-style
# object read by 'pinwall stats', map reuse across loads and reloads, the
# object recorded for 'reload' without --obj, and LIBBPF_PIN_BY_NAME maps
# shared between interfaces.
. "$(dirname "$0")/lib.sh"

TUT="$OBJS/tutorial.o"
BYNAME="$OBJS/byname.o"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1
}

# id of the map pinned at PATH (empty if none)
pin_map_id() {
	bpftool -j map show pinned "$1" 2>/dev/null | jq -r .id
}

# status --json field of one interface: NS IFACE JQ-FILTER (applied to .[0])
st() {
	pw "$1" status "$2" --json | jq -r ".[0] | $3"
}

# value of the one-entry shared_hits array map (a u64 counter)
shared_hits() {
	bpftool -j map lookup pinned "$ROOT/shared/shared_hits" key 0 0 0 0 |
		jq -r .formatted.value
}

# per-CPU local_hits of one interface, summed
local_hits() { # NS IFACE
	bpftool -j map dump pinned "$(ifdir "$1" "$2")/maps/local_hits" |
		jq '[.[0].formatted.values[].value] | add'
}

# one ethtool -S counter of a veth (queue 0): NS IFACE NAME
ethstat() {
	ip netns exec "$1" ethtool -S "$2" | awk -v k="$3:" '$1 == k {print $2}'
}

# IP datagrams that reached the stack of NS
ip_in() {
	ip netns exec "$1" awk '/^Ip: [0-9]/ {print $4}' /proc/net/snmp
}

test_tutorial_object() {
	setup || { fail setup; return; }
	local d j id1 id2 ids p1 p2
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	[ -e "$d/maps/xdp_stats_map" ] || fail "xdp_stats_map not pinned in $d/maps"
	[ -e "$d/maps/pw_classes" ] && fail "pw_classes pinned for a tutorial object"
	gen "$NS" -i veth1 -c 1234 -q
	j=$(pw "$NS" stats veth0 --count 1 --interval 0.05 --json)
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_PASS.packets <<<"$j")" 1234 "stats XDP_PASS packets"
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_PASS.bytes <<<"$j")" $((1234 * 64)) "stats XDP_PASS bytes"
	ASSERT_EQ "$(jq .interfaces[0].actions.XDP_DROP.packets <<<"$j")" 0 "stats XDP_DROP packets"
	ASSERT_EQ "$(jq .total.packets <<<"$j")" 1234 "stats total"
	ASSERT_EQ "$(jq '.interfaces[0].classes | length' <<<"$j")" 0 "no protocol classes"
	# generic tooling reads the same map with its BTF field names
	ASSERT_MATCH "$(bpftool map dump pinned "$d/maps/xdp_stats_map")" '"rx_packets"' "bpftool dump"
	ASSERT_EQ "$(bpftool -j map dump pinned "$d/maps/xdp_stats_map" |
		jq '[.[] | select(.formatted.key == 2) | .formatted.values[].value.rx_packets] | add')" \
		1234 "bpftool rx_packets of XDP_PASS"

	# unload --keep-maps, load again: the same map, counters continue
	id1=$(pin_map_id "$d/maps/xdp_stats_map")
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp // empty')" "" "detached"
	j=$(pw "$NS" load veth0 --obj "$TUT" --json)
	ASSERT_EQ "$(jq -c '[.maps[] | [.name, .reused]]' <<<"$j")" '[["xdp_stats_map",true]]' "load reuses the kept map"
	id2=$(pin_map_id "$d/maps/xdp_stats_map")
	ASSERT_EQ "$id2" "$id1" "same map id after unload --keep-maps + load"
	gen "$NS" -i veth1 -c 766 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "2000 $((2000 * 64))" "counters continue"

	# reload without --obj: the recorded object file again
	ids=$(st "$NS" veth0 '[.maps[].id] | sort | @csv')
	p1=$(st "$NS" veth0 .prog_id)
	j=$(pw "$NS" reload veth0 --json)
	ASSERT_EQ "$(jq .old_prog_id <<<"$j")" "$p1" "reload: old program id"
	ASSERT_EQ "$(jq '[.maps[].reused] | all' <<<"$j")" true "reload: all maps reused"
	p2=$(st "$NS" veth0 .prog_id)
	ASSERT_NE "$p2" "$p1" "reload: new program"
	ASSERT_EQ "$(st "$NS" veth0 .object)" "$TUT" "status object after reload"
	ASSERT_EQ "$(st "$NS" veth0 .program)" xdp_stats_func "status program after reload"
	ASSERT_EQ "$(st "$NS" veth0 .prog_name)" xdp_stats_func "attached program after reload"
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 1 "reload count"
	ASSERT_EQ "$(st "$NS" veth0 '[.maps[].id] | sort | @csv')" "$ids" "map ids unchanged by reload"
	ASSERT_EQ "$(st "$NS" veth0 '.drift | length')" 0 "no drift after reload"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "object +$TUT, program xdp_stats_func" "text status object"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 2100 "counters continue after reload"

	# reload with another object: its maps are created next to the reused ones
	j=$(pw "$NS" reload veth0 --obj "$BYNAME" --prog xdp_count_pass --json)
	ASSERT_EQ "$(jq -c '[.maps[] | [.name, .reused, .path]] | sort' <<<"$j")" \
		"$(jq -nc --arg s "$ROOT/shared/shared_hits" --arg l "$d/maps/local_hits" \
			'[["local_hits", false, $l], ["shared_hits", false, $s]]')" "reload to byname.o: new maps"
	[ -e "$ROOT/shared/shared_hits" ] || fail "shared_hits not pinned under $ROOT/shared"
	[ -e "$d/maps/local_hits" ] || fail "local_hits not pinned in $d/maps"
	ASSERT_EQ "$(pin_map_id "$d/maps/xdp_stats_map")" "$id1" "old xdp_stats_map pin kept"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" xdp_count_pass "attached program"
	ASSERT_EQ "$(jq -r '.[0].object' <<<"$j")" "$BYNAME" "status object"
	ASSERT_EQ "$(jq -r '.[0].program' <<<"$j")" xdp_count_pass "status program"
	ASSERT_EQ "$(jq -r '.[0].reloads' <<<"$j")" 2 "reload count"
	ASSERT_EQ "$(jq -c '[.[0].maps[] | [.name, .in_program, .shared]] | sort' <<<"$j")" \
		'[["local_hits",true,false],["shared_hits",true,true],["xdp_stats_map",false,false]]' \
		"status maps: xdp_stats_map pinned but unused"
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$j")" \
		"[\"pinned map 'xdp_stats_map' is not used by the attached program\"]" "drift: unused pinned map"
	gen "$NS" -i veth1 -c 40 -q
	ASSERT_EQ "$(shared_hits)" 40 "shared_hits counts the new program's frames"
	ASSERT_EQ "$(local_hits "$NS" veth0)" 40 "local_hits counts the new program's frames"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 2100 "old counters frozen, not reset"

	# reload without --obj now means byname.o / xdp_count_pass
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(st "$NS" veth0 .prog_name)" xdp_count_pass "reload keeps the recorded program"
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 3 "reload count"

	# unload removes all of it, the shared map too (no other user)
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "pin dir $d still there"
	[ -e "$ROOT/shared/shared_hits" ] && fail "shared_hits pin still there"
}

test_pin_by_name_shared() {
	setup && veth_new "$NS" veth2 veth3 || { fail setup; return; }
	local d0 d2 s0 s2 l0 l2 j
	d0=$(ifdir "$NS" veth0)
	d2=$(ifdir "$NS" veth2)
	ASSERT_OK pw "$NS" load veth0 --obj "$BYNAME" --prog xdp_count_pass
	j=$(pw "$NS" load veth2 --obj "$BYNAME" --prog xdp_count_pass --json)
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "shared_hits") | .reused' <<<"$j")" true \
		"second load reuses shared_hits"
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "local_hits") | .reused' <<<"$j")" false \
		"second load creates its own local_hits"
	s0=$(st "$NS" veth0 '.maps[] | select(.name == "shared_hits") | "\(.id) \(.path) \(.shared)"')
	s2=$(st "$NS" veth2 '.maps[] | select(.name == "shared_hits") | "\(.id) \(.path) \(.shared)"')
	ASSERT_EQ "$s0" "$(pin_map_id "$ROOT/shared/shared_hits") $ROOT/shared/shared_hits true" \
		"veth0 uses PINROOT/shared/shared_hits"
	ASSERT_EQ "$s2" "$s0" "veth2 uses the same shared_hits"
	[ -e "$d0/maps/shared_hits" ] || [ -e "$d2/maps/shared_hits" ] &&
		fail "shared_hits pinned in an interface directory"
	l0=$(pin_map_id "$d0/maps/local_hits")
	l2=$(pin_map_id "$d2/maps/local_hits")
	[ -n "$l0" ] && [ -n "$l2" ] || fail "local_hits missing: veth0 '$l0' veth2 '$l2'"
	ASSERT_NE "$l0" "$l2" "local_hits are two maps"
	ASSERT_EQ "$(st "$NS" veth0 '[.maps[] | select(.name == "local_hits") | .id] | @csv')" "$l0" "veth0 local_hits in status"
	ASSERT_EQ "$(st "$NS" veth2 '[.maps[] | select(.name == "local_hits") | .id] | @csv')" "$l2" "veth2 local_hits in status"
	ASSERT_EQ "$(pw "$NS" status --json | jq '[.[].drift[]] | length')" 0 "no drift"

	gen "$NS" -i veth1 -c 300 -q
	gen "$NS" -i veth3 -c 200 -q
	ASSERT_EQ "$(shared_hits)" 500 "shared_hits adds up both interfaces"
	ASSERT_EQ "$(local_hits "$NS" veth0)" 300 "veth0 local_hits"
	ASSERT_EQ "$(local_hits "$NS" veth2)" 200 "veth2 local_hits"

	# unload veth0: the shared map stays for veth2
	j=$(pw "$NS" unload veth0 --json)
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "shared_hits") | .removed' <<<"$j")" false \
		"unload veth0 keeps shared_hits"
	[ -e "$d0" ] && fail "veth0 pin dir still there"
	ASSERT_EQ "$(pin_map_id "$ROOT/shared/shared_hits")" "${s0%% *}" "shared_hits still pinned"
	ASSERT_EQ "$(st "$NS" veth2 '.drift | length')" 0 "veth2 healthy"
	gen "$NS" -i veth3 -c 50 -q
	ASSERT_EQ "$(shared_hits)" 550 "veth2 keeps counting in shared_hits"
	ASSERT_EQ "$(local_hits "$NS" veth2)" 250 "veth2 local_hits"

	# unload veth2: nobody uses the shared map any more
	j=$(pw "$NS" unload veth2 --json)
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "shared_hits") | .removed' <<<"$j")" true \
		"unload veth2 removes shared_hits"
	[ -e "$ROOT/shared/shared_hits" ] && fail "shared_hits pin still there"
	[ -e "$d2" ] && fail "veth2 pin dir still there"
	ASSERT_EQ "$(find "$ROOT" -mindepth 1 | wc -l)" 0 "pin root empty"
}

test_pin_by_name_keep_maps() {
	setup || { fail setup; return; }
	local d s l j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$BYNAME" --prog xdp_count_pass
	gen "$NS" -i veth1 -c 60 -q
	s=$(pin_map_id "$ROOT/shared/shared_hits")
	l=$(pin_map_id "$d/maps/local_hits")
	# --keep-maps keeps the shared map too, and load reuses both
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	ASSERT_EQ "$(pin_map_id "$ROOT/shared/shared_hits")" "$s" "shared_hits kept"
	ASSERT_EQ "$(pin_map_id "$d/maps/local_hits")" "$l" "local_hits kept"
	j=$(pw "$NS" load veth0 --obj "$BYNAME" --prog xdp_count_pass --json)
	ASSERT_EQ "$(jq -c '[.maps[] | [.name, .reused, .id]] | sort' <<<"$j")" \
		"[[\"local_hits\",true,$l],[\"shared_hits\",true,$s]]" "load reuses the kept maps"
	gen "$NS" -i veth1 -c 40 -q
	ASSERT_EQ "$(shared_hits)" 100 "shared_hits continues"
	ASSERT_EQ "$(local_hits "$NS" veth0)" 100 "local_hits continues"
	# unload --keep-maps, then a full unload: the last user of the shared
	# map is gone, so its pin goes too (README: "Shared maps the program
	# used are removed unless another pinwall-loaded program still uses them")
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "pin dir $d still there"
	[ -e "$ROOT/shared/shared_hits" ] &&
		fail "shared_hits left pinned after unload --keep-maps + unload (no interface uses it)"
	ASSERT_EQ "$(find "$ROOT" -mindepth 1 | sort | tr '\n' ' ')" "" "pin root empty"
}

test_drop_program() {
	setup || { fail setup; return; }
	local drops0 in0 j
	ASSERT_OK pw "$NS" load veth0 --obj "$BYNAME" --prog xdp_count_drop
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" xdp_count_drop "attached program"
	ASSERT_EQ "$(jq -r '.[0].program' <<<"$j")" xdp_count_drop "recorded program"
	ASSERT_MATCH "$(ip netns exec "$NS" bpftool net show dev veth0)" \
		"veth0\([0-9]+\) driver id $(jq -r '.[0].prog_id' <<<"$j")" "bpftool net: XDP attached"
	drops0=$(ethstat "$NS" veth0 rx_queue_0_xdp_drops)
	in0=$(ip_in "$NS")
	gen "$NS" -i veth1 -c 80 -q
	ASSERT_EQ "$(( $(ethstat "$NS" veth0 rx_queue_0_xdp_drops) - drops0 ))" 80 "veth0 XDP drops"
	ASSERT_EQ "$(( $(ip_in "$NS") - in0 ))" 0 "no datagram reached the stack"
	ASSERT_EQ "$(shared_hits)" 80 "counted before the drop"

	# switch to the pass program of the same object: frames reach the stack
	ASSERT_OK pw "$NS" reload veth0 --prog xdp_count_pass
	ASSERT_EQ "$(st "$NS" veth0 .prog_name)" xdp_count_pass "reload --prog switches program"
	ASSERT_EQ "$(st "$NS" veth0 .object)" "$BYNAME" "same object"
	drops0=$(ethstat "$NS" veth0 rx_queue_0_xdp_drops)
	in0=$(ip_in "$NS")
	gen "$NS" -i veth1 -c 30 -q
	ASSERT_EQ "$(( $(ethstat "$NS" veth0 rx_queue_0_xdp_drops) - drops0 ))" 0 "no more drops"
	ASSERT_EQ "$(( $(ip_in "$NS") - in0 ))" 30 "datagrams reach the stack"
	ASSERT_EQ "$(shared_hits)" 110 "shared_hits continues"
}

test_object_recorded() {
	setup || { fail setup; return; }
	local j
	# a relative --obj is recorded as an absolute path
	mkdir -p "$T_TMP/objs"
	cp "$TUT" "$T_TMP/objs/t.o"
	j=$(cd "$T_TMP" && pw "$NS" load veth0 --obj objs/./t.o --json)
	[ -n "$j" ] || fail "load with a relative --obj"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].object' <<<"$j")" "$T_TMP/objs/t.o" "status .object absolute"
	ASSERT_EQ "$(jq -r '.[0].program' <<<"$j")" xdp_stats_func "status .program"
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" xdp_stats_func "attached program"
	ASSERT_EQ "$(jq -r '.[0].reloads' <<<"$j")" 0 "no reload yet"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "object +$T_TMP/objs/t.o, program xdp_stats_func" "text status"
	# reload from another working directory finds it
	ASSERT_OK bash -c "cd / && '$PW' -n '$NS' --pin-root '$ROOT' reload veth0"
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 1 "reload from / works"
	# the built-in program is recorded as such
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_OK pw "$NS" load veth0
	ASSERT_EQ "$(st "$NS" veth0 .object)" built-in "built-in object"
	ASSERT_EQ "$(st "$NS" veth0 .program)" pinwall_xdp "built-in program"
	# and --prog without --obj on load is refused (nothing to choose from)
	ASSERT_ERR "needs --obj" pw "$NS" load veth0 --prog xdp_stats_func
}

test_reload_object_rebuilt_or_moved() {
	setup || { fail setup; return; }
	local f="$T_TMP/a/prog.o" p1 p2
	mkdir -p "$T_TMP/a" "$T_TMP/b"
	cp "$TUT" "$f"
	ASSERT_OK pw "$NS" load veth0 --obj "$f"
	gen "$NS" -i veth1 -c 100 -q
	p1=$(st "$NS" veth0 .prog_id)

	# rebuilt in place (a new file at the same path): reload reads it again
	rm "$f" && cp "$TUT" "$f"
	ASSERT_OK pw "$NS" reload veth0
	p2=$(st "$NS" veth0 .prog_id)
	ASSERT_NE "$p2" "$p1" "reload after rebuild: new program"
	ASSERT_EQ "$(st "$NS" veth0 .object)" "$f" "object path kept"
	gen "$NS" -i veth1 -c 50 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 150 "counters continue"

	# replaced by a different object: the recorded program 'xdp_stats_func'
	# is not in it (two XDP programs, neither of them): refused, nothing changes
	cp "$BYNAME" "$f"
	ASSERT_ERR "xdp_stats_func" pw "$NS" reload veth0
	ASSERT_MATCH "$LAST_ERR" "$f" "error names the object file"
	ASSERT_EQ "$(st "$NS" veth0 .prog_id)" "$p2" "old program still attached"
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 1 "reload count unchanged"
	ASSERT_EQ "$(st "$NS" veth0 '.drift | length')" 0 "no drift after refused reload"
	[ -e "$ROOT/shared/shared_hits" ] && fail "refused reload pinned shared_hits"
	gen "$NS" -i veth1 -c 10 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 160 "still counting"

	# moved elsewhere: reload without --obj names the missing recorded file
	mv "$f" "$T_TMP/b/other.o"
	cp "$TUT" "$T_TMP/b/prog.o"
	ASSERT_ERR "$f" pw "$NS" reload veth0
	ASSERT_MATCH "$LAST_ERR" "No such file" "error says the file is missing"
	ASSERT_EQ "$(st "$NS" veth0 .prog_id)" "$p2" "old program still attached"
	# explicit --obj from the new place works and becomes the record
	ASSERT_OK pw "$NS" reload veth0 --obj "$T_TMP/b/prog.o"
	ASSERT_EQ "$(st "$NS" veth0 .object)" "$T_TMP/b/prog.o" "new object path recorded"
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 2 "reload count"
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(st "$NS" veth0 .reloads)" 3 "reload without --obj uses the new path"
	gen "$NS" -i veth1 -c 40 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 200 "counters across all reloads"
}

test_two_interfaces_separate_maps() {
	setup && veth_new "$NS" veth2 veth3 || { fail setup; return; }
	local a b j
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	ASSERT_OK pw "$NS" load veth2 --obj "$TUT"
	a=$(pin_map_id "$(ifdir "$NS" veth0)/maps/xdp_stats_map")
	b=$(pin_map_id "$(ifdir "$NS" veth2)/maps/xdp_stats_map")
	[ -n "$a" ] && [ -n "$b" ] || fail "xdp_stats_map pins: '$a' '$b'"
	ASSERT_NE "$a" "$b" "per-interface xdp_stats_map"
	[ -e "$ROOT/shared" ] && fail "a shared dir for a map without pinning"
	gen "$NS" -i veth1 -c 120 -q
	gen "$NS" -i veth3 -c 30 -q
	j=$(pw "$NS" stats --count 1 --interval 0.05 --json)
	ASSERT_EQ "$(jq '.interfaces | length' <<<"$j")" 2 "stats follows both"
	ASSERT_EQ "$(jq -c '[.interfaces[] | [.ifname, .map_id, .actions.XDP_PASS.packets]] | sort' <<<"$j")" \
		"[[\"veth0\",$a,120],[\"veth2\",$b,30]]" "per-interface counts"
	ASSERT_EQ "$(jq .total.packets <<<"$j")" 150 "total"
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(action_count "$NS" veth2 XDP_PASS | cut -d' ' -f1)" 30 "veth2 untouched by unload veth0"
}

run_tests
