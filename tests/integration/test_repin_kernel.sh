#!/usr/bin/env bash
# repin from nothing: with every pin gone (the whole pin root, or a fresh
# bpffs), `pinwall repin` rebuilds the tree from the running program alone
# (the load record it holds, its maps by id), counters intact; and `status`
# tells each kind of drift apart, with exit status 3.
#
# While the attachment is a pinned bpf_link, the link must outlive the wipe:
# hold_links pins it beside the pin root first (with a netlink attachment
# there is no link and it does nothing).
. "$(dirname "$0")/lib.sh"

TUT="$OBJS/tutorial.o"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1
}

xdp_prog() { # NS IFACE: the attached program id (empty: none)
	ip -n "$1" -j link show "$2" | jq -r '.[0].xdp.prog.id // empty'
}

hold_links() { # NS IFACE...: keep link-attached programs attached through a wipe
	local ns=$1 i d
	shift
	mkdir -p "$ROOT-hold"
	for i in "$@"; do
		d=$(ifdir "$ns" "$i")
		[ -e "$d/link" ] && bpftool link pin id "$(bpftool -j link show pinned "$d/link" | jq .id)" \
			"$ROOT-hold/$i"
	done
	return 0
}

# STATUS_RC NS ARGS...: status output in $ST_OUT, exit status in $ST_RC
status_rc() {
	local ns=$1
	shift
	ST_OUT=$(pw "$ns" status "$@" 2>&1)
	ST_RC=$?
}

state_of() { # NS IFACE: .state of one interface in status --json of all
	pw "$1" status --json | jq -r --arg i "$2" '.[] | select(.ifname == $i) | .state'
}

sorted_ids() { # NS IFACE: the ids of the pinned maps status lists
	pw "$1" status "$2" --json | jq -c '[.[0].maps[].id] | sort'
}

rule_packets() { # NS RULE
	pw "$1" rule list --json | jq -r --arg r "$2" '.rules[] | select(.rule == $r) | .packets'
}

test_wipe_under_traffic() {
	setup || { fail setup; return; }
	local d ids j sent7 sent9 gpid
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" rule add drop dport 7
	gen "$NS" -i veth1 -c 300 --dport 9 -q
	gen "$NS" -i veth1 -c 200 --dport 7 -q
	ids=$(sorted_ids "$NS" veth0)
	ASSERT_EQ "$(bpftool -j prog show id "$(xdp_prog "$NS" veth0)" | jq '.map_ids | length')" 35 \
		"the program holds its 32 maps, .rodata, .bss (the backstop mark) and the load record"
	hold_links "$NS" veth0
	# frames to the dropped port keep coming while the pins go and come back
	gen "$NS" -i veth1 -c 3000 -r 3000 --dport 7 --json >"$T_TMP/gen" &
	gpid=$!
	T_PIDS+=("$gpid")
	sleep 0.2
	rm -rf "$ROOT"
	ASSERT_NE "$(xdp_prog "$NS" veth0)" "" "still attached with every pin gone"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC" 3 "status exit status with every pin gone"
	ASSERT_EQ "$(jq -r '.[0].state' <<<"$ST_OUT")" pins-missing "state"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$ST_OUT")" \
		"^pinwall's program 'pinwall_xdp' \(id [0-9]+\) runs but its pins are gone: run 'pinwall repin veth0'$" "drift"
	status_rc "$NS"
	ASSERT_EQ "$ST_RC" 3 "status of all: exit status"
	ASSERT_MATCH "$ST_OUT" "^veth0 \(ifindex [0-9]+\): pinwall, drift$" "text header"
	ASSERT_MATCH "$ST_OUT" "^  state +pins-missing: pins missing \(run 'pinwall repin veth0'\)$" "text state"
	# a load over it would start new maps: refused, pointing to repin
	ASSERT_ERR "'veth0' runs pinwall's program \(id [0-9]+\) but its pins are incomplete: 'pinwall repin veth0' puts them back" \
		pw "$NS" load veth0
	j=$(pw "$NS" repin veth0 --json)
	ASSERT_EQ "$?" 0 "repin exit status"
	ASSERT_EQ "$(jq -r '[.pins[].result] | unique | join(",")' <<<"$j")" pinned "every pin made again"
	ASSERT_EQ "$(jq -r .record <<<"$j")" program "the record came from the program"
	for p in meta maps/xdp_stats_map maps/pw_classes maps/pw_frags; do
		[ -e "$d/$p" ] || fail "missing pin $d/$p"
	done
	ASSERT_EQ "$(find "$ROOT/shared" -type f | wc -l)" 24 "24 shared maps (rules, blocks, limits, ct)"
	ASSERT_MATCH "$(bpftool map dump pinned "$d/meta")" '"ifname": "veth0"' "load record pinned"
	wait "$gpid"
	sent7=$(jq .sent "$T_TMP/gen")
	gen "$NS" -i veth1 -c 100 --dport 9 -q
	sent9=400
	# the live maps came back: counters continued, nothing reset
	ASSERT_EQ "$(sorted_ids "$NS" veth0)" "$ids" "the same maps"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_DROP | cut -d' ' -f1)" $((200 + sent7)) "dropped == sent to port 7"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent9" "passed == sent to port 9"
	ASSERT_EQ "$(rule_packets "$NS" "drop dport 7")" $((200 + sent7)) "rule hits continued"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC" 0 "status exit status after repin"
	ASSERT_EQ "$(jq -r '.[0].state' <<<"$ST_OUT")" ok "state after repin"
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$ST_OUT")" "[]" "no drift after repin"
	# rule commands act on the maps the program uses
	ASSERT_OK pw "$NS" rule add drop dport 8
	gen "$NS" -i veth1 -c 50 --dport 8 -q
	ASSERT_EQ "$(rule_packets "$NS" "drop dport 8")" 50 "a rule added after repin is in force"
	# a second repin changes nothing and says so
	ASSERT_MATCH "$(pw "$NS" repin veth0)" "^veth0: nothing to repin, all 33 pins present" "second repin"
	ASSERT_EQ "$(pw "$NS" repin veth0 --json | jq -r '[.pins[].result] | unique | join(",")')" present \
		"second repin: all present"
	# the next reload keeps the repinned maps
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(rule_packets "$NS" "drop dport 7")" $((200 + sent7)) "rule hits after reload"
}

test_fresh_bpffs_in_private_mount_ns() {
	setup || { fail setup; return; }
	local out ids
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" rule add drop dport 7
	gen "$NS" -i veth1 -c 120 --dport 7 -q
	ids=$(sorted_ids "$NS" veth0)
	# bpffs unmounted, then a fresh one over /sys/fs/bpf, only in a private
	# mount namespace
	out=$(unshare -m bash -c '
		set -u
		p() { "$0" -n "$1" --pin-root "$2" "${@:3}"; }
		umount /sys/fs/bpf || exit 9
		p "$1" "$2" status --json | jq -r ".[] | \"unmounted \(.ifname) \(.state)\""
		echo "unmounted rc ${PIPESTATUS[0]}"
		mount -t bpf bpf /sys/fs/bpf || exit 9
		[ ! -e "$2" ] || exit 8		# nothing of the host bpffs here
		p "$1" "$2" status veth0 --json >/dev/null; echo "before $?"
		p "$1" "$2" repin >/dev/null; echo "repin $?"
		p "$1" "$2" status veth0 --json | jq -c "[.[0].state, ([.[0].maps[].id] | sort)]"
		echo "after ${PIPESTATUS[0]}"
		p "$1" "$2" rule list --json | jq -r ".rules[] | \"rule \(.rule) \(.packets)\""
		p "$1" "$2" repin veth0 --json | jq -r "\"again \([.pins[].result] | unique | join(\",\"))\""
		find "$2" -type f | sed "s|^$2/||" | sort | tr "\n" " "; echo
	' "$PW" "$NS" "$ROOT" 2>&1)
	ASSERT_MATCH "$out" "^unmounted veth0 pins-missing$" "status with bpffs unmounted"
	ASSERT_MATCH "$out" "^unmounted rc 3$" "status exit status with bpffs unmounted"
	ASSERT_MATCH "$out" "^before 3$" "status before repin on the fresh bpffs"
	ASSERT_MATCH "$out" "^repin 0$" "repin on the fresh bpffs"
	ASSERT_EQ "$(grep '^\["ok"' <<<"$out")" "[\"ok\",$ids]" "the same maps, state ok"
	ASSERT_MATCH "$out" "^after 0$" "status after repin"
	ASSERT_MATCH "$out" "^rule drop dport 7 120$" "rule and its counter"
	ASSERT_MATCH "$out" "^again present$" "second repin"
	ASSERT_MATCH "$out" "ns[0-9]+/veth0/maps/pw_capture ns[0-9]+/veth0/maps/pw_chain ns[0-9]+/veth0/maps/pw_classes ns[0-9]+/veth0/maps/pw_drops ns[0-9]+/veth0/maps/pw_frags ns[0-9]+/veth0/maps/pw_steer ns[0-9]+/veth0/maps/pw_steer_cpus ns[0-9]+/veth0/maps/xdp_stats_map ns[0-9]+/veth0/meta " \
		"interface pins"
	ASSERT_MATCH "$out" "shared/pw_block4 shared/pw_block6 shared/pw_block_pfx shared/pw_config shared/pw_ct shared/pw_ct_rules shared/pw_elem_hits shared/pw_limit_pass shared/pw_limit_state shared/pw_limits shared/pw_node_pfx shared/pw_nodes shared/pw_ord shared/pw_ord_rules shared/pw_ports shared/pw_protos shared/pw_rule_stats shared/pw_rules shared/pw_set_elems shared/pw_sets " \
		"shared pins"
	# the host's bpffs was not touched
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC" 0 "host status"
	ASSERT_EQ "$(jq -r '.[0].state' <<<"$ST_OUT")" ok "host state"
}

test_conflicting_pin_left_alone() {
	setup || { fail setup; return; }
	local d own other j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	own=$(bpftool -j map show pinned "$ROOT/shared/pw_rules" | jq .id)
	hold_links "$NS" veth0
	rm -rf "$ROOT"
	# another map with the same name, pinned where the program's goes
	mkdir -p "$ROOT/shared"
	bpftool map create "$ROOT/shared/pw_rules" type array key 4 value 4 entries 1 name pw_rules ||
		{ fail "bpftool map create"; return; }
	other=$(bpftool -j map show pinned "$ROOT/shared/pw_rules" | jq .id)
	j=$(pw "$NS" repin veth0 --json)
	ASSERT_EQ "$?" 3 "repin exit status with a conflict"
	ASSERT_EQ "$(jq -c '.pins[] | select(.name == "pw_rules") | [.result, .id, .pinned_id]' <<<"$j")" \
		"[\"conflict\",$own,$other]" "reported as a conflict"
	ASSERT_EQ "$(jq .conflicts <<<"$j")" 1 "one conflict"
	ASSERT_EQ "$(bpftool -j map show pinned "$ROOT/shared/pw_rules" | jq .id)" "$other" "left alone"
	[ -e "$d/maps/xdp_stats_map" ] || fail "the other pins were made"
	ASSERT_MATCH "$(pw "$NS" repin veth0)" \
		"^  shared pw_rules +id $own +conflict +$ROOT/shared/pw_rules \(holds map id $other: left alone\)$" "text"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC" 3 "status exit status"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$ST_OUT")" "^map 'pw_rules' \(id $own\) of the attached program is not pinned" \
		"status: the program's map is not pinned"
	# the operator removes the impostor: repin completes
	rm "$ROOT/shared/pw_rules"
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(bpftool -j map show pinned "$ROOT/shared/pw_rules" | jq .id)" "$own" "the program's map"
	ASSERT_EQ "$(state_of "$NS" veth0)" ok "state"
	# a symbolic link where a directory belongs: nothing pinned through it
	rm -rf "$ROOT"
	mkdir -p "$ROOT" "$T_TMP/elsewhere"
	ln -s "$T_TMP/elsewhere" "$ROOT/shared"
	j=$(pw "$NS" repin veth0 --json)
	ASSERT_EQ "$?" 3 "repin exit status with a symlinked shared/"
	ASSERT_EQ "$(jq -c '[.pins[] | select(.kind == "shared") | .result] | unique' <<<"$j")" '["conflict"]' \
		"shared maps: conflicts"
	ASSERT_EQ "$(jq .conflicts <<<"$j")" 24 "24 conflicts"
	ASSERT_EQ "$(jq -c .notes <<<"$j")" "[\"'$ROOT/shared' is not a directory: nothing pinned below it\"]" "JSON notes"
	ASSERT_EQ "$(ls -A "$T_TMP/elsewhere")" "" "nothing pinned outside the pin root"
	ASSERT_EQ "$(pw "$NS" repin veth0 2>&1 >/dev/null)" "'$ROOT/shared' is not a directory: nothing pinned below it" \
		"said once on stderr"
	[ -e "$d/maps/xdp_stats_map" ] || fail "the interface's pins were made"
	rm "$ROOT/shared"
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(state_of "$NS" veth0)" ok "state after the link is gone"
}

test_all_interfaces() {
	setup && veth_new "$NS" veth2 veth3 && veth_new "$NS" veth4 veth5 || { fail setup; return; }
	local j d2
	d2=$(ifdir "$NS" veth2)
	ASSERT_OK pw "$NS" load veth0
	# a user object whose map names are longer than the kernel keeps
	ASSERT_OK pw "$NS" load veth2 --obj "$OBJS/longnames.o"
	ip -n "$NS" link set dev veth4 xdpgeneric obj "$TUT" sec xdp || { fail "foreign attach"; return; }
	hold_links "$NS" veth0 veth2
	rm -rf "$ROOT"
	status_rc "$NS" --json
	ASSERT_EQ "$ST_RC" 3 "status of all: exit status"
	ASSERT_EQ "$(jq -c '[.[] | [.ifname, .state]] | sort' <<<"$ST_OUT")" \
		'[["veth0","pins-missing"],["veth2","pins-missing"],["veth4","not-pinwall"]]' "states"
	ASSERT_EQ "$(jq -c '.[] | select(.ifname == "veth4") | .drift' <<<"$ST_OUT")" "[]" "another tool's program alone is no drift"
	j=$(pw "$NS" repin --json)
	ASSERT_EQ "$?" 0 "repin of all: exit status"
	ASSERT_EQ "$(jq -c '[.[].ifname] | sort' <<<"$j")" '["veth0","veth2"]' "both pinwall programs, not veth4's"
	[ -e "$d2/maps/per_interface_frames" ] || fail "full name of a per-interface map"
	[ -e "$ROOT/shared/shared_frames_by_name" ] || fail "full name of a shared map"
	[ -e "$(ifdir "$NS" veth0)/maps/xdp_stats_map" ] || fail "veth0's maps"
	status_rc "$NS" --json
	ASSERT_EQ "$ST_RC" 0 "status of all after repin"
	ASSERT_EQ "$(jq -c '[.[] | [.ifname, .state]] | sort' <<<"$ST_OUT")" \
		'[["veth0","ok"],["veth2","ok"],["veth4","not-pinwall"]]' "states after repin"
	ASSERT_EQ "$(pw "$NS" repin | grep -c 'nothing to repin')" 2 "a second repin changes nothing"
	ASSERT_OK pw "$NS" reload veth2
	ASSERT_OK pw "$NS" unload veth2
	ASSERT_OK pw "$NS" unload veth0
	# nothing of pinwall's attached: nothing to do, nothing made
	rm -rf "$ROOT"
	ASSERT_EQ "$(pw "$NS" repin)" \
		"no pinwall program is attached in this network namespace: nothing to repin" "nothing attached"
	[ -e "$ROOT" ] && fail "repin with nothing to do created the pin root"
	ASSERT_ERR "holds no pinwall load record: not repinning another tool's program" pw "$NS" repin veth4
}

# A record of an older layout (version 2: 912 bytes, held by no program)
# pinned as meta: reload stages a record of this layout, binds it to the new
# program and renames it over the pin.
test_older_record_replaced_on_reload() {
	setup || { fail setup; return; }
	local d v rec
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	rm "$d/meta"
	bpftool map create "$d/meta" type array key 4 value 912 entries 1 name pw_meta ||
		{ fail "bpftool map create"; return; }
	# version 2, mode native (4), ifindex (8), the running program (12), the
	# network namespace (16), builtin 1 (44): what an older pinwall wrote
	local prog ifx ino
	prog=$(xdp_prog "$NS" veth0)
	ifx=$(ip -n "$NS" -j link show veth0 | jq '.[0].ifindex')
	ino=$(stat -L -c %i "/run/netns/$NS")
	v=$(/usr/bin/python3 -c 'import struct, sys
b = bytearray(912)
struct.pack_into("<IIII Q", b, 0, 2, 1, int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
b[44] = 1
print(" ".join(str(x) for x in b))' "$ifx" "$prog" "$ino")
	# shellcheck disable=SC2086
	bpftool map update pinned "$d/meta" key 0 0 0 0 value $v || { fail "bpftool map update"; return; }
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 3:pins-conflict "meta pin holds another map"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$ST_OUT")" "^pin '$d/meta' holds map id [0-9]+, not the load record program [0-9]+ holds" "drift"
	ASSERT_OK pw "$NS" reload veth0
	[ -e "$d/pending" ] && fail "pending/ left behind"
	ASSERT_NE "$(bpftool -j map show pinned "$d/meta" | jq .bytes_value)" 912 "record of this layout"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT"):$(jq -r '.[0].record_held' <<<"$ST_OUT")" 0:ok:true \
		"the new program holds the pinned record"
	rec=$(bpftool -j map show pinned "$d/meta" | jq .id)
	ASSERT_EQ "$(bpftool -j prog show id "$(xdp_prog "$NS" veth0)" | jq --argjson r "$rec" '[.map_ids[] | select(. == $r)] | length')" 1 \
		"bound: among the program's maps"
}

test_status_states_and_exit() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 0:not-loaded "nothing loaded"
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT"):$(jq -r '.[0].record_held' <<<"$ST_OUT")" 0:ok:true "ok"
	status_rc "$NS" veth0
	ASSERT_EQ "$ST_RC" 0 "text: ok"
	# pins partly gone
	rm "$d/meta"
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 3:pins-missing "meta pin gone"
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$ST_OUT")" "^the load record of program [0-9]+ is not pinned \(pinwall repin veth0\)$" "drift"
	status_rc "$NS" veth0
	ASSERT_EQ "$ST_RC" 3 "text: same exit status"
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(state_of "$NS" veth0)" ok "meta repinned"
	# program gone: pins there, nothing attached
	if [ -e "$d/link" ]; then
		bpftool link detach pinned "$d/link"
	else
		ip -n "$NS" link set dev veth0 xdp off 2>/dev/null ||
			ip -n "$NS" link set dev veth0 xdpgeneric off
	fi
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 3:program-gone "program gone"
	status_rc "$NS" veth0
	ASSERT_MATCH "$ST_OUT" "^  state +program-gone: program gone" "text state"
	ASSERT_ERR "no XDP program is attached to 'veth0'" pw "$NS" repin veth0
	# another tool's program where pinwall's was
	ip -n "$NS" link set dev veth0 xdpgeneric obj "$TUT" sec xdp || { fail "foreign attach"; return; }
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 3:foreign-program "another tool's program"
	status_rc "$NS" veth0
	ASSERT_MATCH "$ST_OUT" "^  state +foreign-program: another tool's program" "text state"
	ASSERT_ERR "not repinning another tool's program" pw "$NS" repin veth0
	ASSERT_OK pw "$NS" unload veth0
	ip -n "$NS" link set dev veth0 xdpgeneric off
	# unloaded with maps kept: no drift
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 0:maps-kept "maps kept"
	# an operation killed halfway
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	PINWALL_TEST_KILL_AT=reload:staged pwt "$NS" reload veth0 >/dev/null 2>&1
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 3:interrupted "interrupted"
	ASSERT_ERR "interrupted: run 'pinwall recover veth0' first" pw "$NS" repin veth0
	ASSERT_OK pw "$NS" recover veth0
	status_rc "$NS" veth0 --json
	ASSERT_EQ "$ST_RC:$(jq -r '.[0].state' <<<"$ST_OUT")" 0:ok "recovered"
	# an error stays 1, with or without --json
	pw "$NS" status nosuch0 >/dev/null 2>&1
	ASSERT_EQ "$?" 1 "status of no such interface"
	pw "$NS" status nosuch0 --json >/dev/null 2>&1
	ASSERT_EQ "$?" 1 "status --json of no such interface"
}

run_tests
