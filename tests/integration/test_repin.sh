#!/usr/bin/env bash
# pinwall repin: lost pins of pinwall's running program come back from the
# kernel (by the program's own map IDs), counters intact; never another
# tool's program, never a map that merely shares a name.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1 && pw "$NS" load veth0 >/dev/null
}

test_lost_map_pins_restored() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	gen "$NS" -i veth1 -c 300 -q
	id=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	rm "$d/maps/xdp_stats_map" "$ROOT/shared/pw_rules"
	ASSERT_MATCH "$(pw "$NS" status veth0 --json | jq -r '.[0].drift[]')" "xdp_stats_map.*not pinned" "drift seen"
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)" "$id" "same map back"
	[ -e "$ROOT/shared/pw_rules" ] || fail "shared rule map not repinned"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift after repin"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 400 "counters intact"
	ASSERT_MATCH "$(pw "$NS" repin veth0)" "present" "second repin changes nothing"
}

# the bpf_link attachment of earlier versions (made by the test build)
test_lost_legacy_link_pin_restored() {
	setup || { fail setup; return; }
	local d lid
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0
	lid=$(bpftool -j link show pinned "$d/link" | jq .id)
	ASSERT_MATCH "$lid" "^[0-9]+$" "legacy link pinned"
	mkdir -p "$ROOT-hold"
	bpftool link pin id "$lid" "$ROOT-hold/l"	# another reference keeps it attached
	rm "$d/link"
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(bpftool -j link show pinned "$d/link" | jq .id)" "$lid" "link pinned again"
	rm -rf "$ROOT-hold"
	# reload converts it to a netlink attachment
	ASSERT_OK pw "$NS" reload veth0
	[ -e "$d/link" ] && fail "link pin left after the conversion"
}

test_name_alike_map_not_picked() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	id=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	rm "$d/maps/xdp_stats_map"
	# another map with the same name and layout exists in the kernel
	mkdir -p "$ROOT-other"
	bpftool map create "$ROOT-other/m" type percpu_array key 4 value 16 entries 5 name xdp_stats_map
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)" "$id" "the program's own map"
}

test_refuses_foreign_program() {
	ns_new NS a && veth_new "$NS" veth0 veth1 || { fail setup; return; }
	ip -n "$NS" link set dev veth0 xdpgeneric obj "$OBJS/tutorial.o" sec xdp || { fail attach; return; }
	ASSERT_ERR "the program on 'veth0' \(id [0-9]+\) holds no pinwall load record: not repinning another tool's program" \
		pw "$NS" repin veth0
	[ -e "$ROOT" ] && fail "a refused repin created the pin root"
	veth_new "$NS" veth2 veth3 && pw "$NS" load veth2 >/dev/null || { fail load; return; }
	ASSERT_ERR "holds no pinwall load record" pw "$NS" repin veth0
	ASSERT_ERR "no XDP program is attached to 'veth1'" pw "$NS" repin veth1
}

run_tests
