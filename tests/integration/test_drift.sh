#!/usr/bin/env bash
# status drift: what pinwall pinned against what the kernel runs. Every case
# checks the JSON .drift messages, that the text output says "drift", and
# that status exits 3 (with and without --json).
. "$(dirname "$0")/lib.sh"

TUT="$OBJS/tutorial.o"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1
}

# .drift of one interface, one message a line: NS IFACE
drift_of() {
	pw "$1" status "$2" --json | jq -r '.[0].drift[]'
}

# XDP program id the kernel has on NS IFACE (empty: none)
xdp_prog() {
	ip -n "$1" -j link show "$2" | jq -r '.[0].xdp.prog.id // empty'
}

# a program pinned under the pin root (removed by cleanup), loaded by bpftool
foreign_prog() {
	mkdir -p "$ROOT/aux" && bpftool prog load "$TUT" "$ROOT/aux/p"
}

# text status must flag drift: header "pinwall, drift" and a drift line
assert_text_drift() { # NS IFACE REGEX
	local t rc
	t=$(pw "$1" status "$2")
	rc=$?
	ASSERT_EQ "$rc" 3 "status exit status of $2 (drift)"
	pw "$1" status "$2" --json >/dev/null
	ASSERT_EQ "$?" 3 "status --json exit status of $2 (drift)"
	ASSERT_MATCH "$t" "^$2 \(.*\): pinwall, drift$" "text status header of $2"
	ASSERT_MATCH "$t" "^  drift +.*$3" "text status drift line of $2"
}

test_healthy_load_no_drift() {
	setup || { fail setup; return; }
	local j t
	ASSERT_OK pw "$NS" load veth0
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$j")" "[]" "built-in: empty drift array"
	t=$(pw "$NS" status veth0)
	ASSERT_MATCH "$t" '^veth0 \(ifindex [0-9]+\): pinwall$' "text header"
	ASSERT_NOMATCH "$t" 'drift' "text status without drift"
	# a generic object too, after a reload
	veth_new "$NS" veth2 veth3 || fail "second veth"
	ASSERT_OK pw "$NS" load veth2 --obj "$TUT"
	ASSERT_OK pw "$NS" reload veth2
	ASSERT_EQ "$(pw "$NS" status --json | jq -c '[.[] | [.ifname, .drift]] | sort')" \
		'[["veth0",[]],["veth2",[]]]' "both interfaces: empty drift"
	ASSERT_NOMATCH "$(pw "$NS" status)" 'drift' "text status of all: no drift"
}

# The bpf_link attachment of earlier versions (made by the test build): why
# pinwall attaches through netlink now.
test_legacy_link_pin_removed() {
	setup || { fail setup; return; }
	local d i p
	d=$(ifdir "$NS" veth0)
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0 --obj "$TUT"
	p=$(xdp_prog "$NS" veth0)
	[ -n "$p" ] || fail "nothing attached after load"
	# Kernel behaviour: the pin was the link's only reference; removing it
	# releases the bpf_link, and releasing an XDP link detaches its program.
	rm "$d/link"
	for i in $(seq 1 50); do
		[ -z "$(xdp_prog "$NS" veth0)" ] && break
		sleep 0.02
	done
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "rm of the link pin detached the program"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$p" '[.[] | select(.prog_id == $p)] | length')" 0 \
		"the link is gone"
	ASSERT_MATCH "$(drift_of "$NS" veth0)" '^no program attached: pins whose program is gone$' "drift"
	assert_text_drift "$NS" veth0 'no program attached'
	ASSERT_ERR "'veth0' has no XDP program attached \(pinwall's, id $p, is gone\): use 'pinwall load veth0'" pw "$NS" reload veth0
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "pin dir $d still there"
}

test_legacy_link_pin_removed_link_held() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0 --obj "$TUT"
	# a second pin keeps the link (and so the attachment) alive
	mkdir -p "$ROOT/aux"
	id=$(bpftool -j link show pinned "$d/link" | jq .id)
	ASSERT_OK bpftool link pin id "$id" "$ROOT/aux/l"
	rm "$d/link"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "still attached while another pin holds the link"
	# pinwall's program, but only an unknown holder keeps its link: drift
	ASSERT_MATCH "$(drift_of "$NS" veth0)" "^program attached \(id [0-9]+\) through a bpf_link whose pin is missing: 'pinwall reload veth0' moves it to a netlink attachment$" \
		"drift of a link held outside the pin root"
	# unload finds the link by the recorded program and detaches it
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "unload detached it"
	[ -e "$d" ] && fail "pin dir $d still there"
	rm -f "$ROOT/aux/l"
	# the same found by reload: converted to netlink (the held link detached)
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0 --obj "$TUT"
	id=$(bpftool -j link show pinned "$d/link" | jq .id)
	ASSERT_OK bpftool link pin id "$id" "$ROOT/aux/l"
	rm "$d/link"
	ASSERT_OK pw "$NS" reload veth0
	[ -e "$d/link" ] && fail "link pin left after the conversion"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "attached through netlink"
	ASSERT_EQ "$(drift_of "$NS" veth0)" "" "no drift after the conversion"
	rm -f "$ROOT/aux/l"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "still attached without any link"
	ASSERT_EQ "$(bpftool -j link list | jq --argjson p "$(xdp_prog "$NS" veth0)" '[.[] | select(.prog_id == $p)] | length')" 0 \
		"no bpf_link holds it"
	ASSERT_OK pw "$NS" unload veth0
}

test_map_pin_removed() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	id=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	rm "$d/maps/xdp_stats_map"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "program still runs"
	ASSERT_EQ "$(drift_of "$NS" veth0)" \
		"map 'xdp_stats_map' (id $id) of the attached program is not pinned (pinwall repin veth0)" "drift"
	assert_text_drift "$NS" veth0 "map 'xdp_stats_map' .* is not pinned"
	# the built-in program: one of its two maps
	veth_new "$NS" veth2 veth3 || fail "second veth"
	ASSERT_OK pw "$NS" load veth2
	rm "$(ifdir "$NS" veth2)/maps/pw_classes"
	ASSERT_MATCH "$(drift_of "$NS" veth2)" "^map 'pw_classes' \(id [0-9]+\) of the attached program is not pinned \(pinwall repin veth2\)$" \
		"built-in drift"
	ASSERT_EQ "$(drift_of "$NS" veth2 | wc -l)" 1 "only that one"
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_OK pw "$NS" unload veth2
}

test_interface_deleted() {
	setup || { fail setup; return; }
	local d j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	ip -n "$NS" link del veth0 || fail "link del"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$?" 3 "status of a deleted managed interface: drift"
	ASSERT_EQ "$(jq -r '.[0].state' <<<"$j")" program-gone "state"
	ASSERT_EQ "$(jq -r '.[0].ifindex' <<<"$j")" 0 "ifindex 0"
	ASSERT_EQ "$(jq -r '.[0].managed' <<<"$j")" true "still managed"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$j")" \
		"^interface 'veth0' does not exist: pins are stale \(pinwall unload veth0 removes them\)$" "drift"
	ASSERT_MATCH "$(pw "$NS" status)" '^veth0 \(absent\): pinwall, drift$' "listed without IFACE"
	assert_text_drift "$NS" veth0 'does not exist'
	ASSERT_EQ "$(pw "$NS" status --json | jq -r '.[] | select(.ifname == "veth0") | .drift | length')" 1 \
		"status of all: veth0 drift"
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "pin dir $d still there"
	ASSERT_EQ "$(find "$ROOT" -mindepth 1 | wc -l)" 0 "pin root empty"
	ASSERT_ERR "no such interface 'veth0' and no pinwall pins" pw "$NS" status veth0
}

test_interface_recreated() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	ip -n "$NS" link del veth0 && veth_new "$NS" veth0 veth1 || fail "re-create veth0"
	ASSERT_MATCH "$(drift_of "$NS" veth0)" '^no program attached: pins whose program is gone$' "drift: program gone"
	assert_text_drift "$NS" veth0 'no program attached'
	ASSERT_ERR "'veth0' has no XDP program attached" pw "$NS" reload veth0
	# load takes over the stale pins and reuses the maps
	ASSERT_EQ "$(pw "$NS" load veth0 --json | jq '[.maps[].reused] | all')" true "maps reused"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -c '.[0].drift')" "[]" "no drift after load"
}

test_foreign_on_unmanaged() {
	setup && veth_new "$NS" veth2 veth3 || { fail setup; return; }
	local j t
	ASSERT_OK pw "$NS" load veth0
	foreign_prog || { fail "bpftool prog load"; return; }
	ASSERT_OK nsenter --net="/run/netns/$NS" bpftool net attach xdp pinned "$ROOT/aux/p" dev veth2
	j=$(pw "$NS" status --json)
	ASSERT_EQ "$(jq -c '[.[] | .ifname] | sort' <<<"$j")" '["veth0","veth2"]' "status lists both"
	ASSERT_EQ "$(jq -r '.[] | select(.ifname == "veth2") | .managed' <<<"$j")" false "veth2 not managed"
	ASSERT_EQ "$(jq -r '.[] | select(.ifname == "veth2") | .prog_name' <<<"$j")" xdp_stats_func "veth2 program"
	# another tool's program on an interface pinwall never had is not drift
	ASSERT_MATCH "$(jq -r '.[] | select(.ifname == "veth2") | .notes[]' <<<"$j")" \
		"^XDP program 'xdp_stats_func' \(id [0-9]+\) attached by another tool" "veth2 note"
	ASSERT_EQ "$(jq -c '.[] | select(.ifname == "veth2") | [.state, .drift]' <<<"$j")" '["not-pinwall",[]]' \
		"veth2: no drift"
	pw "$NS" status >/dev/null
	ASSERT_EQ "$?" 0 "status exit status"
	ASSERT_EQ "$(jq -c '.[] | select(.ifname == "veth0") | .drift' <<<"$j")" "[]" "veth0 healthy"
	t=$(pw "$NS" status)
	ASSERT_MATCH "$t" "^veth2 \(ifindex [0-9]+\): not pinwall's$" "text header"
	ASSERT_MATCH "$t" "^  note +XDP program 'xdp_stats_func' .*attached by another tool" "text note"
	ASSERT_MATCH "$(pw "$NS" status veth2 --json | jq -r '.[0].notes[]')" "attached by another tool" \
		"status veth2"
	# pinwall leaves it alone
	ASSERT_ERR "attached by another tool.*--force" pw "$NS" load veth2
	ASSERT_ERR "not loaded by pinwall" pw "$NS" reload veth2
}

test_replaced_on_managed() {
	setup || { fail setup; return; }
	local d p fp j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	p=$(xdp_prog "$NS" veth0)
	# attached through netlink: another tool with netlink can remove it (the
	# trade-off for surviving the loss of pins, docs/LIFECYCLE.md)...
	ASSERT_OK ip -n "$NS" link set veth0 xdp off
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "" "detached by 'ip link set xdp off'"
	# ...and attach its own
	foreign_prog || { fail "bpftool prog load"; return; }
	ASSERT_OK nsenter --net="/run/netns/$NS" bpftool net attach xdp pinned "$ROOT/aux/p" dev veth0
	fp=$(xdp_prog "$NS" veth0)
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" xdp_stats_func "attached program"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$j")" \
		"^attached program 'xdp_stats_func' \(id $fp\) is not pinwall's: attached by another tool$" "drift"
	assert_text_drift "$NS" veth0 "not pinwall's"
	# reload must not touch the foreign program
	ASSERT_ERR "" pw "$NS" reload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$fp" "foreign program still attached after reload"
	ASSERT_ERR "attached by another tool" pw "$NS" load veth0
	# unload removes pinwall's pins, not the foreign program
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_prog "$NS" veth0)" "$fp" "foreign program still attached after unload"
	[ -e "$d" ] && fail "pin dir $d still there"
}

test_unload_keep_maps_no_drift() {
	setup || { fail setup; return; }
	local j t
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$j")" "[]" "no drift"
	ASSERT_EQ "$(jq -r '.[0].managed' <<<"$j")" true "still managed"
	ASSERT_EQ "$(jq -r '.[0].prog_id // "none"' <<<"$j")" none "nothing attached"
	ASSERT_EQ "$(jq -r '[.[0].maps[].name] | @csv' <<<"$j")" '"xdp_stats_map"' "kept map listed"
	t=$(pw "$NS" status veth0)
	ASSERT_MATCH "$t" 'unloaded with maps kept' "text says unloaded with maps kept"
	ASSERT_MATCH "$t" '^veth0 \(ifindex [0-9]+\): pinwall$' "text header"
	ASSERT_NOMATCH "$t" 'drift' "text without drift"
	ASSERT_NOMATCH "$(pw "$NS" status)" 'drift' "status of all without drift"
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -c '.[0].drift')" "[]" "no drift after load"
	ASSERT_NOMATCH "$(pw "$NS" status veth0)" 'unloaded with maps kept' "record updated by load"
}

run_tests
