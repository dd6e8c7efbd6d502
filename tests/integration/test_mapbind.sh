#!/usr/bin/env bash
# load --map NAME=PATH (a user object's map bound to a map pinned by
# another tool) and load --flat-path (the classic tutorial's stats path,
# <bpffs root>/<ifname>/xdp_stats_map) with real frames: traffic counts into
# the bound map through reload, repin, save/restore; unload leaves it;
# every bad binding is one line and changes nothing. The flat path sits at
# the bpffs root: its test runs in a private mount namespace on a bpffs of
# its own, never on the host's (through reload, unload + load, repin, clean).
. "$(dirname "$0")/lib.sh"

TUT="$OBJS/tutorial.o"
STATS="$ROOT-stats"	# beside the pin root: removed by the harness

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1 &&
		bpftool map create "$STATS" type percpu_array key 4 value 16 entries 5 \
			name xdp_stats_map
}

pin_id() { bpftool -j map show pinned "$1" 2>/dev/null | jq -r .id; }
prog_id() { ip -n "$1" -j link show dev "$2" | jq -r '.[0].xdp.prog.id // empty'; }

# XDP_PASS packets in a tutorial-layout map (key 2: rx_packets, the first
# u64 of the value), summed over the CPUs, from bpftool's raw bytes
SUM_PASSED='import json, sys
j = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(b, 16) for b in v["value"][:8]), "little") for v in j["values"]))'
passed() { bpftool -j map lookup pinned "$1" key 2 0 0 0 | python3 -c "$SUM_PASSED"; }

test_bound_map_through_reload_repin_unload() {
	setup || { fail setup; return; }
	local d id out p1
	d=$(ifdir "$NS" veth0)
	id=$(pin_id "$STATS")
	out=$(pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$STATS") || fail "load: $out"
	ASSERT_MATCH "$out" "map xdp_stats_map +id $id +bound +$STATS" "load reports the binding"
	[ -e "$d/maps/xdp_stats_map" ] && fail "a bound map is pinned below the pin root too"
	gen "$NS" -i veth1 -c 100 -q
	ASSERT_EQ "$(passed "$STATS")" 100 "traffic counts into the bound map"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].bindings[0] | "\(.name) \(.path) \(.id) \(.state)"')" \
		"xdp_stats_map $STATS $id ok" "status --json shows the binding"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "bound +xdp_stats_map +id $id +$STATS \(ok\)" "status text"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].state')" ok "a bound map is no drift"
	# reload without --map keeps the binding
	p1=$(prog_id "$NS" veth0)
	ASSERT_MATCH "$(pw "$NS" reload veth0)" "xdp_stats_map +id $id +bound" "reload keeps the binding"
	ASSERT_NE "$(prog_id "$NS" veth0)" "$p1" "reload put a new program in"
	gen "$NS" -i veth1 -c 50 -q
	ASSERT_EQ "$(passed "$STATS")" 150 "the reloaded program counts into the same map"
	# every pin gone (the bound one too): repin puts back the record and the bound pin
	rm -rf "$ROOT" "$STATS"
	out=$(pw "$NS" repin veth0) || fail "repin: $out"
	ASSERT_EQ "$(pin_id "$STATS")" "$id" "repin pins the bound map at its path again"
	ASSERT_MATCH "$(pw "$NS" reload veth0)" "xdp_stats_map +id $id +bound" "reload after repin keeps the binding"
	gen "$NS" -i veth1 -c 25 -q
	ASSERT_EQ "$(passed "$STATS")" 175 "counts after repin and reload"
	# unload: the bound map is the user's
	out=$(pw "$NS" unload veth0) || fail "unload: $out"
	ASSERT_EQ "$(pin_id "$STATS")" "$id" "unload leaves the bound map"
	ASSERT_EQ "$(passed "$STATS")" 175 "its counts too"
	[ -e "$d" ] && fail "unload left the interface directory"
}

test_reload_changes_the_binding() {
	setup || { fail setup; return; }
	local d id own
	d=$(ifdir "$NS" veth0)
	id=$(pin_id "$STATS")
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT"
	own=$(pin_id "$d/maps/xdp_stats_map")
	ASSERT_MATCH "$(pw "$NS" reload veth0 --map "xdp_stats_map=$STATS")" "id $id +bound" "reload --map binds"
	[ -e "$d/maps/xdp_stats_map" ] && fail "the unbound map's pin stays after the binding"
	gen "$NS" -i veth1 -c 20 -q
	ASSERT_EQ "$(passed "$STATS")" 20 "traffic counts into the newly bound map"
	ASSERT_MATCH "$(pw "$NS" reload veth0 --map xdp_stats_map=)" "xdp_stats_map +id [0-9]+ +created" "reload --map NAME= unbinds"
	ASSERT_NE "$(pin_id "$d/maps/xdp_stats_map")" "$own" "a new map of pinwall's own"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].bindings | length')" 0 "no binding left"
	gen "$NS" -i veth1 -c 5 -q
	ASSERT_EQ "$(passed "$STATS")" 20 "the unbound map counts no more"
	ASSERT_EQ "$(passed "$d/maps/xdp_stats_map")" 5 "pinwall's map counts"
}

test_bad_bindings_one_line_nothing_changed() {
	setup || { fail setup; return; }
	local p
	bpftool map create "$ROOT-small" type percpu_array key 4 value 8 entries 5 name small
	bpftool prog load "$TUT" "$ROOT-prog" type xdp
	ln -s "$STATS" "$ROOT-link"
	echo x >"$T_TMP/file"
	ERR1 "--map 'nosuch=$STATS': the program has no map 'nosuch' \(its maps: 'xdp_stats_map'\); nothing was changed" \
		pw "$NS" load veth0 --obj "$TUT" --map "nosuch=$STATS"
	ERR1 "--map 'xdp_stats_map=$ROOT-missing': nothing is pinned there" \
		pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$ROOT-missing"
	ERR1 "--map 'xdp_stats_map=$ROOT-prog': the pin holds a program, not a map" \
		pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$ROOT-prog"
	ERR1 "--map 'xdp_stats_map=$ROOT-link': '$ROOT-link' is a symbolic link, never followed" \
		pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$ROOT-link"
	ERR1 "--map 'xdp_stats_map=$T_TMP/file': not on bpffs" \
		pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$T_TMP/file"
	ERR1 "--map 'xdp_stats_map=$ROOT-small': the pinned map does not fit the program's map 'xdp_stats_map': .*value.*; nothing was changed" \
		pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$ROOT-small"
	ERR1 "--map 'xdp_stats_map': use NAME=PATH" pw "$NS" load veth0 --obj "$TUT" --map xdp_stats_map
	ERR1 "--map 'xdp_stats_map=$STATS' needs --obj FILE" pw "$NS" load veth0 --map "xdp_stats_map=$STATS"
	ASSERT_EQ "$(prog_id "$NS" veth0)" "" "nothing attached after the refusals"
	# the same on reload: the program and its binding stay
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$STATS"
	p=$(prog_id "$NS" veth0)
	ERR1 "--map 'xdp_stats_map=$ROOT-small': the pinned map does not fit" \
		pw "$NS" reload veth0 --map "xdp_stats_map=$ROOT-small"
	ERR1 "--map 'xdp_stats_map=$ROOT-prog': the pin holds a program" \
		pw "$NS" reload veth0 --map "xdp_stats_map=$ROOT-prog"
	ERR1 "--map 'other=': map 'other' is not bound; nothing was changed" \
		pw "$NS" reload veth0 --map other=
	ASSERT_EQ "$(prog_id "$NS" veth0)" "$p" "the program stays"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].bindings[0].path')" "$STATS" "the binding stays"
}

test_save_restore_keeps_binding() {
	setup || { fail setup; return; }
	local id out
	id=$(pin_id "$STATS")
	ASSERT_OK pw "$NS" load veth0 --obj "$TUT" --map "xdp_stats_map=$STATS"
	out=$(pw "$NS" save --config "$T_TMP/conf") || fail "save: $out"
	ASSERT_MATCH "$(grep '^veth0' "$T_TMP/conf/interfaces")" " map xdp_stats_map=$STATS" "saved binding"
	ASSERT_OK pw "$NS" unload veth0
	out=$(pw "$NS" restore --config "$T_TMP/conf") || fail "restore: $out"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].bindings[0] | "\(.path) \(.id)"')" "$STATS $id" "restored binding"
	gen "$NS" -i veth1 -c 10 -q
	ASSERT_EQ "$(passed "$STATS")" 10 "the restored program counts into the bound map"
}

# The tutorial's reader, as it opens the map: exactly <bpffs>/<ifname>/xdp_stats_map,
# key 4, value 16, 5 entries; prints the XDP_PASS packets.
TUTORIAL_READER='
reader() {
	local j
	j=$(bpftool -j map show pinned "/sys/fs/bpf/$1/xdp_stats_map") || { echo unreadable; return; }
	[ "$(jq -r ".bytes_key, .bytes_value, .max_entries" <<<"$j" | paste -sd " ")" = "4 16 5" ] ||
		{ echo "wrong shape: $j"; return; }
	bpftool -j map lookup pinned "/sys/fs/bpf/$1/xdp_stats_map" key 2 0 0 0 |
		python3 -c "$SUM_PASSED"
}'

# Run a script in a private mount namespace with a fresh bpffs on
# /sys/fs/bpf (the flat path is at its root): the host's bpffs is untouched.
in_private_bpffs() {
	unshare -m --propagation private env PINWALL_TEST_PRIVATE_BPFFS=1 \
		PWT="$PWT" GEN="$GEN" NS="$NS" NS2="${NS2:-}" ROOT="$ROOT" SUM_PASSED="$SUM_PASSED" T_TMP="$T_TMP" \
		bash -c "
		mount -t bpf bpf /sys/fs/bpf || exit 1
		pwt() { local n=\$1; shift; \"\$PWT\" -n \"\$n\" --pin-root \"\$ROOT\" \"\$@\"; }
		gen() { local n=\$1; shift; nsenter --net=/run/netns/\$n \"\$GEN\" \"\$@\"; }
		$TUTORIAL_READER
		$1"
}

test_flat_path_tutorial_reader() {
	setup && ns_new NS2 b && veth_new "$NS2" veth0 veth1 || { fail setup; return; }
	local out
	out=$(in_private_bpffs '
		pwt $NS load veth0 --flat-path >/dev/null || echo "load failed"
		echo "link $(readlink /sys/fs/bpf/veth0)"
		gen $NS -i veth1 -c 30 -q; echo "after load $(reader veth0)"
		pwt $NS reload veth0 >/dev/null || echo "reload failed"
		gen $NS -i veth1 -c 12 -q; echo "after reload $(reader veth0)"
		pwt $NS status veth0 --json | jq -r ".[0].flat_path" | sed "s/^/status /"
		pwt $NS unload veth0 >/dev/null
		[ -e /sys/fs/bpf/veth0 ] || [ -L /sys/fs/bpf/veth0 ] && echo "unload left the link"
		pwt $NS load veth0 --flat-path >/dev/null || echo "load failed"
		gen $NS -i veth1 -c 7 -q; echo "after unload+load $(reader veth0)"
		pwt $NS save --config $T_TMP/conf >/dev/null || echo "save failed"
		grep "^veth0 " $T_TMP/conf/interfaces | sed "s/^/saved /"
		pwt $NS unload veth0 >/dev/null
		pwt $NS restore --config $T_TMP/conf >/dev/null || echo "restore failed"
		echo "restored link $(readlink /sys/fs/bpf/veth0)"
		pwt $NS2 load veth0 --flat-path 2>&1 >/dev/null | sed "s/^/other ns: /"
		[ -z "$(ip -n $NS2 -j link show veth0 | jq -r ".[0].xdp // empty")" ] && echo "other ns: nothing attached"
		ln -s /sys/fs/bpf/elsewhere /sys/fs/bpf/veth1
		pwt $NS load veth1 --flat-path 2>&1 >/dev/null | sed "s/^/foreign: /"
		echo "foreign link: $(readlink /sys/fs/bpf/veth1)"
		rm -rf $ROOT
		echo "pins gone $(reader veth0)"
		pwt $NS repin veth0 >/dev/null || echo "repin failed"
		gen $NS -i veth1 -c 10 -q; echo "after repin $(reader veth0)"
		ip -n $NS link del veth0
		pwt $NS clean --yes >/dev/null || echo "clean failed"
		[ -L /sys/fs/bpf/veth0 ] && echo "clean left the link"
		echo done')
	ASSERT_MATCH "$out" "^link pwt[0-9]+/ns[0-9]+/veth0/maps$" "a relative bpffs link to the maps"
	ASSERT_MATCH "$out" "after load 30$" "the reader counts after load"
	ASSERT_MATCH "$out" "after reload 42$" "the reader follows the reload"
	ASSERT_MATCH "$out" "status /sys/fs/bpf/veth0$" "status shows the flat path"
	ASSERT_MATCH "$out" "after unload\+load 7$" "the reader follows unload + load"
	ASSERT_MATCH "$out" "^saved veth0 mode [a-z]+ flat on$" "save keeps the flat path"
	ASSERT_MATCH "$out" "^restored link pwt[0-9]+/ns[0-9]+/veth0/maps$" "restore makes it again"
	ASSERT_MATCH "$out" "other ns: pinwall: error: --flat-path: '/sys/fs/bpf/veth0' is taken by 'veth0' of network namespace [0-9]+ \(one namespace per interface name can have it\); nothing was changed$" "another namespace is refused with one line"
	ASSERT_MATCH "$out" "other ns: nothing attached" "the refused load changed nothing"
	ASSERT_MATCH "$out" "foreign: pinwall: error: --flat-path: '/sys/fs/bpf/veth1' is a link pinwall did not make \(to '/sys/fs/bpf/elsewhere'\): left alone; nothing was changed$" "a foreign link is refused"
	ASSERT_MATCH "$out" "foreign link: /sys/fs/bpf/elsewhere" "and left alone"
	ASSERT_MATCH "$out" "pins gone unreadable$" "the link leads nowhere with every pin gone"
	ASSERT_MATCH "$out" "after repin 10$" "repin: the reader counts again (the restored load's map)"
	ASSERT_NOMATCH "$out" "failed|left the link|wrong shape" "no step failed"
	ASSERT_MATCH "$out" "^done$" "the script ran to its end"
	ASSERT_EQ "$(stat -f -c %T /sys/fs/bpf)" bpf_fs "the host's bpffs is still there"
}

run_tests
