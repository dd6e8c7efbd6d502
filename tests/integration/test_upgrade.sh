#!/usr/bin/env bash
# Upgrades: BTF-checked reuse, migration of changed layouts with every count
# kept (also under traffic, with a follower), refusals that name the map,
# the property and both values, --migrate, --fresh.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS u && veth_new "$NS" veth0 veth1
}

map_id() { bpftool -j map show pinned "$1" | jq .id; }

# sum of FIELD (empty: the whole value) over every key and CPU of the
# pinned map PATH, read by name from bpftool's BTF-formatted dump
field_sum() {
	bpftool -j map dump pinned "$1" |
		jq "[.[].formatted | (.values // [{value: .value}])[] | .value${2:+.$2}] | add // 0"
}

test_same_size_other_layout_is_migrated() {
	setup || { fail setup; return; }
	local d id j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	gen "$NS" -i veth1 -c 300 -q
	id=$(map_id "$d/maps/xdp_stats_map")
	# 16 bytes both, fields swapped: sizes alone would reuse it
	j=$(pw "$NS" reload veth0 --obj "$OBJS/tutorial_swapped.o" --json)
	ASSERT_EQ "$(jq -r '.maps[0].fate' <<<"$j")" migrated "fate"
	ASSERT_MATCH "$(jq -r '.maps[0].why' <<<"$j")" \
		"^value layout pinned \{rx_packets u64@0, rx_bytes u64@8\}, new \{rx_bytes u64@0, rx_packets u64@8\}$" "why"
	ASSERT_NE "$(map_id "$d/maps/xdp_stats_map")" "$id" "a new map behind the pin"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_packets)" 300 "packets carried by name"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_bytes)" 19200 "bytes carried by name"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "400 25600" "stats reads the new layout by name"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift"
	[ -e "$d/pending" ] && fail "pending/ left behind"
	[ -e "$d/intent" ] && fail "intent record left behind"
}

test_field_added_then_dropped_with_migrate() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	gen "$NS" -i veth1 -c 250 -q
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/tutorial_wide.o"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_packets)" 250 "packets after adding a field"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_dropped)" 0 "the added field starts at zero"
	# going back drops rx_dropped: refused unless asked for
	ASSERT_ERR "pinned map 'xdp_stats_map' would lose data in migration: fields pinned but not in the new layout would be dropped: 'rx_dropped'; nothing was changed \(allow it with --migrate, or start it empty with --fresh xdp_stats_map\)$" \
		pw "$NS" reload veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].object')" "$OBJS/tutorial_wide.o" "still the wide object"
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/tutorial.o" --migrate
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_packets)" 250 "packets after dropping a field"
	gen "$NS" -i veth1 -c 50 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "300 19200" "counting goes on"
}

test_refusals_name_map_property_values() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	id=$(map_id "$d/maps/xdp_stats_map")
	ASSERT_ERR "pinned map 'xdp_stats_map' cannot be reused by this program: field 'rx_packets' size pinned 8, new 4 \(narrowed\); nothing was changed" \
		pw "$NS" reload veth0 --obj "$OBJS/tutorial_narrow.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"map 'xdp_stats_map' ($d/maps/xdp_stats_map): field 'rx_packets' size pinned 8, new 4 (narrowed)" "detail"
	ASSERT_ERR "type pinned percpu_array, new percpu_hash; nothing was changed" \
		pw "$NS" reload veth0 --obj "$OBJS/tutorial_hash.o"
	ASSERT_ERR "--fresh 'nosuch': the program has no such map \(its maps: 'xdp_stats_map'\); nothing was changed$" \
		pw "$NS" reload veth0 --obj "$OBJS/tutorial_hash.o" --fresh nosuch
	ASSERT_EQ "$(map_id "$d/maps/xdp_stats_map")" "$id" "map untouched by every refusal"
	gen "$NS" -i veth1 -c 10 -q
	# on purpose: the one map starts empty
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/tutorial_narrow.o" --fresh xdp_stats_map
	ASSERT_NE "$(map_id "$d/maps/xdp_stats_map")" "$id" "fresh map pinned"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_packets)" 0 "fresh map is empty"
}

test_hash_max_entries() {
	setup || { fail setup; return; }
	local d j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/flows.o"
	gen "$NS" -i veth1 -c 100 --sport-range 10 -q
	ASSERT_EQ "$(bpftool -j map dump pinned "$d/maps/flows" | jq length)" 10 "ten flows"
	ASSERT_ERR "pinned map 'flows' cannot be reused by this program: max_entries pinned 64, new 4: 10 entries in use would not fit; nothing was changed \(start it empty with --fresh flows\)$" \
		pw "$NS" reload veth0 --obj "$OBJS/flows_small.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"map 'flows' ($d/maps/flows): max_entries pinned 64, new 4: 10 entries in use would not fit" "detail"
	j=$(pw "$NS" reload veth0 --obj "$OBJS/flows_big.o" --json)
	ASSERT_EQ "$(jq -r '.maps[0].fate + " " + .maps[0].why' <<<"$j")" "migrated max_entries pinned 64, new 4096" "grown"
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/flows" | jq .max_entries)" 4096 "new size"
	ASSERT_EQ "$(field_sum "$d/maps/flows" packets)" 100 "every flow's packets"
	gen "$NS" -i veth1 -c 100 --sport-range 10 -q
	ASSERT_EQ "$(field_sum "$d/maps/flows" packets)" 200 "counting into the migrated entries"
	ASSERT_EQ "$(bpftool -j map dump pinned "$d/maps/flows" | jq length)" 10 "still ten flows"
	# shrinking with room to spare is fine
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/flows.o"
	ASSERT_EQ "$(field_sum "$d/maps/flows" packets)" 200 "after shrinking to 64"
}

# only max_entries changes: the map is migrated field by field, and the
# counts the old program makes before the switch are merged in too
test_resize_under_load_exact() {
	setup || { fail setup; return; }
	local sent j
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	gen "$NS" -i veth1 -c 0 -d 2 -r 30000 --json >"$T_TMP/gen" &
	local genpid=$!
	sleep 0.5
	j=$(pw "$NS" reload veth0 --obj "$OBJS/tutorial_grown.o" --json) || fail "reload: $j"
	ASSERT_EQ "$(jq -r '.maps[0].fate + " " + .maps[0].why' <<<"$j")" "migrated max_entries pinned 5, new 7" "resized"
	wait $genpid
	sent=$(jq .sent "$T_TMP/gen")
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent across the resize"
}

# The upgrade proof: v1 (the built-in program) to v2 (counter record
# reordered and grown, one more map) under traffic, with a follower; every
# frame counted exactly once; then the downgrade.
test_upgrade_under_load_exact() {
	setup || { fail setup; return; }
	local d sent j follower prev=-1 bad=0 t
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	bg_pw "$NS" stats veth0 --interval 0.1 --json >"$T_TMP/follow"
	follower=$BG_PID
	gen "$NS" -i veth1 -c 0 -d 3 -r 20000 --json >"$T_TMP/gen" &
	local genpid=$!
	sleep 1
	j=$(pw "$NS" reload veth0 --obj "$OBJS/pinwall_v2.o" --json) || fail "upgrade: $j"
	ASSERT_EQ "$(jq -r '[.maps[] | select(.name == "xdp_stats_map" or .name == "pw_classes") | .fate] | join(",")' <<<"$j")" \
		"migrated,migrated" "counter maps migrated"
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "pw_sizes") | .fate' <<<"$j")" created "new map"
	ASSERT_EQ "$(jq -r '[.maps[] | select(.name | startswith("pw_r")) | .fate] | unique | join(",")' <<<"$j")" \
		reused "rule maps reused"
	wait $genpid
	sent=$(jq .sent "$T_TMP/gen")
	sleep 0.3
	kill -INT "$follower"
	wait "$follower"
	ASSERT_GE "$sent" 40000 "frames sent"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_packets)" "$sent" "v2 per-action packets == frames sent"
	ASSERT_EQ "$(field_sum "$d/maps/xdp_stats_map" rx_bytes)" "$((sent * 64))" "v2 per-action bytes"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "stats: counted == sent"
	t=$(bpftool -j map dump pinned "$d/maps/pw_classes" | jq '[.[].formatted | select(.key == 0) | .values[].value.rx_packets] | add')
	ASSERT_EQ "$t" "$sent" "v2 ipv4 class == frames sent"
	t=$(field_sum "$d/maps/pw_sizes" "")
	ASSERT_GE "$t" 1 "the new map counts"
	ASSERT_LE "$t" "$((sent - 1))" "the new map counts only after the switch"
	ASSERT_MATCH "$(cat "$T_TMP/follow")" '"event":"map_replaced"' "follower saw the maps replaced"
	while read -r j; do
		[ "$j" -lt "$prev" ] && bad=1
		prev=$j
	done < <(jq -r 'select(.total) | .total.packets' "$T_TMP/follow" 2>/dev/null)
	ASSERT_EQ "$bad" 0 "follower totals never went back"

	# downgrade: v1 has no rx_large: refused without --migrate
	ASSERT_ERR "pinned map '(xdp_stats_map|pw_classes)' would lose data in migration: fields pinned but not in the new layout would be dropped: 'rx_large'" \
		pw "$NS" reload veth0 --obj "$OBJS/pinwall_v1.o"
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/pinwall_v1.o" --migrate
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent after the downgrade"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$((sent + 100))" "v1 counts on"
	# v2's own map stays pinned (unused by v1): upgrading again reuses it
	[ -e "$d/maps/pw_sizes" ] || fail "pw_sizes kept across the downgrade"
	j=$(pw "$NS" reload veth0 --obj "$OBJS/pinwall_v2.o" --json)
	ASSERT_EQ "$(jq -r '.maps[] | select(.name == "pw_sizes") | .fate' <<<"$j")" reused "pw_sizes back"
}

run_tests
