#!/usr/bin/env bash
# The stats follower: a separate process that only opens pins, follows a map
# replaced underneath it, waits for missing pins, survives a vanished
# interface, never prints a negative rate, and exits 0 on SIGINT/SIGTERM.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1 && pw "$NS" load veth0 >/dev/null
}

now() { date +%s.%N; }

# no line may carry a negative rate; prints the number of rates seen
rates_ok() { # FILE
	local neg
	neg=$(jq -c '[.. | objects | select(has("pps")) | .pps, .mbps | select(. != null and . < 0)] | length' "$1" |
		awk '{s += $1} END {print s + 0}')
	ASSERT_EQ "$neg" 0 "negative rates in $1"
}

test_unload_load_is_followed() {
	setup || { fail setup; return; }
	local d id1 id2 ev
	d=$(ifdir "$NS" veth0)
	id1=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	bg_pw "$NS" stats veth0 --interval 0.2 --json >"$T_TMP/f"
	local f=$BG_PID
	gen "$NS" -i veth1 -c 2000 -r 20000 -q
	sleep 0.5
	pw "$NS" unload veth0 >/dev/null || fail unload
	sleep 0.5
	pw "$NS" load veth0 >/dev/null || fail load
	id2=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	gen "$NS" -i veth1 -c 1000 -r 20000 -q
	sleep 0.6
	kill -TERM "$f"
	wait "$f"
	ASSERT_EQ "$?" 0 "exit status on SIGTERM"
	ev=$(jq -c '.events[]' "$T_TMP/f")
	ASSERT_MATCH "$ev" '"event":"waiting".*"map":"xdp_stats_map"' "waiting event"
	ASSERT_MATCH "$ev" "\"event\":\"map_replaced\".*\"old_id\":$id1,\"new_id\":$id2" "replaced $id1 -> $id2"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq .interfaces[0].actions.XDP_PASS.packets)" 1000 "counts of the new map"
	rates_ok "$T_TMP/f"
}

test_text_line_on_replacement() {
	setup || { fail setup; return; }
	local d id1 id2
	d=$(ifdir "$NS" veth0)
	id1=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	bg_pw "$NS" stats veth0 --interval 0.2 >"$T_TMP/f"
	local f=$BG_PID
	sleep 0.3
	pw "$NS" unload veth0 >/dev/null && pw "$NS" load veth0 >/dev/null || fail "unload+load"
	id2=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	sleep 0.5
	kill -INT "$f"
	wait "$f"
	ASSERT_EQ "$?" 0 "exit status on SIGINT"
	ASSERT_EQ "$(grep -c "map xdp_stats_map replaced (id $id1 -> $id2)" "$T_TMP/f")" 1 "one replacement line"
}

test_bpftool_replacement_within_one_interval() {
	setup || { fail setup; return; }
	local d t0 tr new line el delay
	d=$(ifdir "$NS" veth0)
	mkdir -p "$ROOT/aux"
	bpftool map create "$ROOT/aux/other" type percpu_array key 4 value 16 entries 5 name other ||
		{ fail "bpftool map create"; return; }
	new=$(bpftool -j map show pinned "$ROOT/aux/other" | jq .id)
	gen "$NS" -i veth1 -c 0 -d 3 -r 20000 -q &
	local g=$!
	t0=$(now)
	bg_pw "$NS" stats veth0 --interval 0.5 --json >"$T_TMP/f"
	local f=$BG_PID
	sleep 1.2
	tr=$(now)
	mv "$ROOT/aux/other" "$d/maps/xdp_stats_map"	# rename over the pin
	sleep 1.3
	kill -TERM "$f"
	wait "$f"
	wait $g
	line=$(grep -m1 '"map_replaced"' "$T_TMP/f")
	[ -n "$line" ] || { fail "no map_replaced event"; return; }
	ASSERT_EQ "$(jq '.events[0].new_id' <<<"$line")" "$new" "new id"
	el=$(jq .elapsed <<<"$line")
	delay=$(awk -v e="$el" -v t0="$t0" -v tr="$tr" 'BEGIN { printf "%.3f", e - (tr - t0) }')
	echo "    detection delay: $delay s (interval 0.5 s)"
	awk -v d="$delay" 'BEGIN { exit !(d <= 0.5 + 0.1) }' || fail "detected after $delay s, more than one interval"
	# the interval of the switch has no rate; none is negative or a spike
	ASSERT_EQ "$(jq '.interfaces[0].actions.XDP_PASS.pps' <<<"$line")" null "no rate across the switch"
	rates_ok "$T_TMP/f"
	ASSERT_EQ "$(jq -s 'map(.total.pps // 0) | max < 30000' "$T_TMP/f")" true "no spike"
}

test_waits_for_missing_pin() {
	ns_new NS a && veth_new "$NS" veth0 veth1 || { fail setup; return; }
	pw "$NS" load veth2 >/dev/null 2>&1	# creates the pin root; fails (no veth2)
	mkdir -p "$ROOT"
	bg_pw "$NS" stats veth0 --interval 0.2 >"$T_TMP/f"
	local f=$BG_PID
	sleep 0.5
	ASSERT_MATCH "$(cat "$T_TMP/f")" "veth0: map xdp_stats_map: no pin at .*, waiting for it" "waiting line"
	pw "$NS" load veth0 >/dev/null || fail load
	gen "$NS" -i veth1 -c 100 -q
	sleep 0.5
	kill -INT "$f"
	wait "$f"
	ASSERT_MATCH "$(cat "$T_TMP/f")" "veth0: map xdp_stats_map is back" "resumed line"
	ASSERT_MATCH "$(tail -n 9 "$T_TMP/f")" "XDP_PASS +100 " "counts after resume"
}

test_vanished_interface() {
	setup || { fail setup; return; }
	veth_new "$NS" veth2 veth3 && pw "$NS" load veth2 >/dev/null || { fail setup2; return; }
	bg_pw "$NS" stats --interval 0.2 --json >"$T_TMP/f"
	local f=$BG_PID
	sleep 0.3
	ip -n "$NS" link del veth2
	gen "$NS" -i veth1 -c 400 -r 2000 -q
	sleep 0.5
	kill -INT "$f"
	wait "$f"
	ASSERT_EQ "$?" 0 "exit status"
	ASSERT_MATCH "$(jq -c '.events[]' "$T_TMP/f")" '"event":"iface_gone","ifname":"veth2"' "gone event"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq '.interfaces | length')" 2 "both still listed"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq -r '.interfaces[] | select(.ifname=="veth0") | .actions.XDP_PASS.packets')" \
		400 "veth0 still followed"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq -r '.interfaces[] | select(.ifname=="veth2") | .present')" \
		false "veth2 marked absent"
}

test_json_lines_fields() {
	setup || { fail setup; return; }
	gen "$NS" -i veth1 -c 10 -q
	pw "$NS" stats veth0 --interval 0.1 --count 3 --json >"$T_TMP/f"
	ASSERT_EQ "$(wc -l <"$T_TMP/f")" 3 "one line per interval"
	ASSERT_EQ "$(jq -s 'map(.interfaces[0].actions | keys | length) | unique' "$T_TMP/f" | jq -c .)" "[5]" "five actions"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq -c '.interfaces[0].actions.XDP_PASS | keys')" \
		'["bytes","mbps","packets","pps"]' "fields"
	ASSERT_EQ "$(tail -n1 "$T_TMP/f" | jq '.total.packets')" 10 "total"
}

run_tests
