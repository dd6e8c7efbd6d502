#!/usr/bin/env bash
# load --obj --pin-scope global|iface|none: the exact pin paths of each,
# sharing across interfaces, reload keeping the scope, and bad input.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS s && veth_new "$NS" veth0 veth1
}

map_id() { bpftool -j map show pinned "$1" 2>/dev/null | jq .id; }

# every pin below the pin root, relative to it, interface dirs as IF:NAME
pins() {
	(cd "$ROOT" && find . -type f -o -type l | sort) | sed -E "s|^\./ns[0-9]+/|IF:|; s|^\./||"
}

test_default_follows_the_object() {
	setup || { fail setup; return; }
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/byname.o" --prog xdp_count_pass
	ASSERT_EQ "$(pins | grep -v '^shared/pw_' | paste -sd' ')" \
		"IF:veth0/maps/local_hits IF:veth0/meta shared/shared_hits" "pins"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].pin_scope')" object "status"
}

test_global_shares_every_map() {
	setup || { fail setup; return; }
	local a b
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --pin-scope global
	ASSERT_OK pw "$NS" load veth1 --obj "$OBJS/tutorial.o" --pin-scope global
	ASSERT_EQ "$(pins | paste -sd' ')" \
		"IF:veth0/meta IF:veth1/meta shared/xdp_stats_map" "pins"
	a=$(pw "$NS" status veth0 --json | jq -r '.[0].maps[] | select(.name == "xdp_stats_map") | .id')
	b=$(pw "$NS" status veth1 --json | jq -r '.[0].maps[] | select(.name == "xdp_stats_map") | .id')
	ASSERT_EQ "$a" "$b" "one map for both interfaces"
	gen "$NS" -i veth1 -c 30 -q
	gen "$NS" -i veth0 -c 20 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 50 "stats reads the shared map"
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].pin_scope')" global "reload keeps the scope"
	ASSERT_EQ "$(map_id "$ROOT/shared/xdp_stats_map")" "$a" "reload reuses the shared map"
	# the map stays while the other interface uses it
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(map_id "$ROOT/shared/xdp_stats_map")" "$a" "kept for veth1"
	ASSERT_OK pw "$NS" unload veth1
	[ -e "$ROOT/shared/xdp_stats_map" ] && fail "removed with its last user"
}

test_iface_keeps_by_name_maps_per_interface() {
	setup || { fail setup; return; }
	local a b
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/byname.o" --prog xdp_count_pass --pin-scope iface
	ASSERT_OK pw "$NS" load veth1 --obj "$OBJS/byname.o" --prog xdp_count_pass --pin-scope iface
	ASSERT_EQ "$(pins | paste -sd' ')" \
		"IF:veth0/maps/local_hits IF:veth0/maps/shared_hits IF:veth0/meta IF:veth1/maps/local_hits IF:veth1/maps/shared_hits IF:veth1/meta" "pins"
	a=$(map_id "$(ifdir "$NS" veth0)/maps/shared_hits")
	b=$(map_id "$(ifdir "$NS" veth1)/maps/shared_hits")
	ASSERT_NE "$a" "$b" "a map per interface despite LIBBPF_PIN_BY_NAME"
}

test_none_pins_no_map() {
	setup || { fail setup; return; }
	local id1 id2
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --pin-scope none
	ASSERT_EQ "$(pins | paste -sd' ')" "IF:veth0/meta" "only the record"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "unpinned maps are no drift"
	id1=$(pw "$NS" status veth0 --json | jq -r '.[0].prog_id')
	ASSERT_MATCH "$(pw "$NS" reload veth0 --json | jq -r '.maps[0].fate')" "^unpinned$" "reload: still unpinned"
	id2=$(pw "$NS" status veth0 --json | jq -r '.[0].prog_id')
	ASSERT_NE "$id2" "$id1" "reloaded"
	ASSERT_EQ "$(pins | paste -sd' ')" "IF:veth0/meta" "still nothing else pinned"
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$(ifdir "$NS" veth0)" ] && fail "interface dir left"
}

test_keep_maps_keeps_the_scope() {
	setup || { fail setup; return; }
	local id
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --pin-scope global
	gen "$NS" -i veth1 -c 40 -q
	id=$(map_id "$ROOT/shared/xdp_stats_map")
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	ASSERT_ERR "'veth0' was unloaded with --keep-maps under --pin-scope global: load with that scope, or unload it without --keep-maps to choose another; nothing was changed" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --pin-scope iface
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].pin_scope')" global "the kept scope"
	ASSERT_EQ "$(map_id "$ROOT/shared/xdp_stats_map")" "$id" "the kept map reused"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 40 "its counts kept"
}

test_scope_bad_input() {
	setup || { fail setup; return; }
	ERR1 "invalid pin scope 'world': use global, iface or none" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --pin-scope world
	ERR1 "--pin-scope 'global' needs --obj FILE" pw "$NS" load veth0 --pin-scope global
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ERR1 "'reload' does not take --pin-scope" pw "$NS" reload veth0 --pin-scope none
}

run_tests
