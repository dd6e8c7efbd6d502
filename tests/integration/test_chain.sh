#!/usr/bin/env bash
# Chaining (`load/reload --then OBJ [--prog NAME]`): a user's XDP program
# runs after pinwall passed a frame, by a tail call through maps/pw_chain.
# Real frames over a veth pair: pinwall's drops never reach it, its own
# verdicts are honoured and counted, its maps are pinned below chain/maps/
# and reused, `reload --then` swaps it atomically under traffic (exact
# counts), `--then none` and unload remove it, a killed change is finished
# or undone, and every bad input is one line with nothing changed.
. "$(dirname "$0")/lib.sh"

CH="$OBJS/chained.o"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1
}

st() { # JQ-FILTER on veth0's status --json
	pw "$NS" status veth0 --json | jq -r ".[0] | $1"
}

seen() { # the chained programs' own counter (their map `seen`)
	bpftool -j map lookup pinned "$(ifdir "$NS" veth0)/chain/maps/seen" key 0 0 0 0 |
		jq -r .formatted.value
}

send() { # COUNT DPORT [pwgen options]
	local n=$1 port=$2
	shift 2
	gen "$NS" -i veth1 -c "$n" --dport "$port" -q "$@"
}

test_verdicts_counted() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --then "$CH" --prog drop_port
	ASSERT_OK pw "$NS" rule add drop dport 7777
	for p in maps/pw_chain chain/maps/seen chain/pw_chain_stats chain/record; do
		[ -e "$d/$p" ] || fail "missing pin $d/$p"
	done
	send 100 7777		# pinwall drops these: the chained program never sees them
	send 200 9		# the chained program drops these (its port)
	send 300 53		# and passes these
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_DROP)" "100 6400" "pinwall's drops"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "500 32000" "pinwall's passes"
	ASSERT_EQ "$(seen)" 500 "frames the chained program saw"
	ASSERT_EQ "$(st '.chain | [.prog_name, .verdicts.drop, .verdicts.pass, .verdicts.tx] | @csv')" \
		'"drop_port",200,300,0' "status: chained program and its verdicts"
	ASSERT_EQ "$(st .chain.prog_tag)" "$(bpftool -j prog show id "$(st .chain.prog_id)" | jq -r .tag)" \
		"status: the chained program's tag"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "chained  drop_port id [0-9]+ tag [0-9a-f]{16} from $CH" \
		"status text"

	# a reload of pinwall alone keeps pw_chain, so the chained program too
	ASSERT_OK pw "$NS" reload veth0
	send 5 9
	ASSERT_EQ "$(st '.chain | [.prog_name, .verdicts.drop] | @csv')" '"drop_port",205' \
		"still chained after a plain reload"

	# another program of the object: its map `seen` is the same pin, reused
	id=$(bpftool -j map show pinned "$d/chain/maps/seen" | jq .id)
	ASSERT_OK pw "$NS" reload veth0 --then "$CH" --prog reflect
	ASSERT_EQ "$(bpftool -j map show pinned "$d/chain/maps/seen" | jq .id)" "$id" "seen reused"
	send 50 7		# reflected: XDP_TX
	ASSERT_EQ "$(seen)" 555 "seen continues across the reload"
	ASSERT_EQ "$(st '.chain | [.prog_name, .verdicts.tx, .verdicts.drop] | @csv')" \
		'"reflect",50,205' "XDP_TX counted, earlier counts kept"

	# none: nothing chained, no chain pins; pinwall still filters
	ASSERT_OK pw "$NS" reload veth0 --then none
	[ -e "$d/chain" ] && fail "chain/ left after --then none"
	ASSERT_EQ "$(st .chain)" null "status after --then none"
	ASSERT_EQ "$(bpftool -j map dump pinned "$d/maps/pw_chain" | jq length)" 0 "empty slot"
	send 10 9
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "565 36160" "passes with nothing chained"

	ASSERT_OK pw "$NS" reload veth0 --then "$CH" --prog count_pass
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "unload left $(find "$d")"
	ASSERT_EQ "$(bpftool -j prog show | jq '[.[] | select(.name == "count_pass")] | length')" 0 \
		"chained program freed"
}

# reload --then under traffic: every frame is seen by exactly one of the
# two programs (both count into the same pinned `seen`).
test_atomic_swap() {
	setup || { fail setup; return; }
	local n pass drop
	ASSERT_OK pw "$NS" load veth0 --then "$CH" --prog count_pass
	# until stopped: the swap lands inside the traffic however slow it is
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -r 20000 --dport 9 --json \
		>"$T_TMP/gen"
	sleep 0.3
	ASSERT_OK pw "$NS" reload veth0 --then "$CH" --prog drop_port
	sleep 0.3
	kill -INT "$BG_PID"
	wait "$BG_PID"
	n=$(jq .sent "$T_TMP/gen")
	ASSERT_GE "$n" 1000 "frames sent"
	ASSERT_EQ "$(seen)" "$n" "frames seen by one chained program or the other"
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS)" "$n $((n * 64))" "pinwall passed every frame"
	pass=$(st .chain.verdicts.pass)
	drop=$(st .chain.verdicts.drop)
	ASSERT_EQ "$((pass + drop))" "$n" "verdicts: $pass pass (before) + $drop drop (after)"
	ASSERT_GE "$pass" 1 "frames before the swap"
	ASSERT_GE "$drop" 1 "frames after the swap"
}

test_errors() {
	setup || { fail setup; return; }
	ERR1 "object file '/nonexistent.o': No such file" pw "$NS" load veth0 --then /nonexistent.o
	ERR1 "no XDP program in '$OBJS/notxdp.o'" pw "$NS" load veth0 --then "$OBJS/notxdp.o"
	ERR1 "no program 'nope' in '$CH'" pw "$NS" load veth0 --then "$CH" --prog nope
	ERR1 "program 'not_xdp' in '$CH' is of type sched_cls, not xdp" \
		pw "$NS" load veth0 --then "$CH" --prog not_xdp
	ERR1 "program 'frags' in '$CH' is an xdp.frags program" \
		pw "$NS" load veth0 --then "$CH" --prog frags
	ERR1 "has several XDP programs" pw "$NS" load veth0 --then "$CH"
	ERR1 "--then chains after pinwall's built-in program: not with --obj" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --then "$CH"
	ERR1 "--prog 'x' needs --obj FILE or --then OBJ" pw "$NS" load veth0 --prog x
	ASSERT_OK pw "$NS" load veth0 --then "$CH" --prog count_pass
	ERR1 "map 'seen' of '$OBJS/chained_clash.o' clashes with the map pinned at '.*/chain/maps/seen'" \
		pw "$NS" reload veth0 --then "$OBJS/chained_clash.o" --prog count_pass
	ASSERT_EQ "$(st .chain.prog_name)" count_pass "still chained after the refusals"
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ERR1 "'veth0' runs program 'xdp_stats_func' from '$OBJS/tutorial.o', not pinwall's built-in one" \
		pw "$NS" reload veth0 --then "$CH" --prog count_pass
}

# a change killed before and after the slot's update: undone (with the
# maps it pinned anew), or finished
test_killed_change() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	PINWALL_TEST_KILL_AT=reload:chain-staged pwt "$NS" reload veth0 --then "$CH" --prog noop \
		>/dev/null 2>&1
	ASSERT_EQ "$?" 137 "killed at chain-staged"
	[ -e "$d/chain/maps/seen" ] || fail "the killed change had pinned no map"
	ASSERT_EQ "$(st .chain)" null "status: nothing chained yet"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "chained  none \(a change was interrupted" "status text"
	ASSERT_MATCH "$(pw "$NS" recover veth0 2>&1)" "rolled back the interrupted change of the chained program" \
		"recover rolls back"
	[ -e "$d/chain/maps/seen" ] && fail "the rolled-back change left its new map pinned"
	PINWALL_TEST_KILL_AT=reload:chain-switched pwt "$NS" reload veth0 --then "$CH" --prog noop \
		>/dev/null 2>&1
	ASSERT_EQ "$?" 137 "killed at chain-switched"
	ASSERT_EQ "$(st .chain.interrupted)" true "status: interrupted"
	ASSERT_MATCH "$(pw "$NS" reload veth0 2>&1)" "finished the interrupted change of the chained program" \
		"the next reload finishes it"
	ASSERT_EQ "$(st '.chain | [.prog_name, .interrupted] | @csv')" '"noop",false' \
		"the new program is chained"
	[ -e "$d/chain/maps/seen" ] || fail "the finished change lost its map"
	ASSERT_OK pw "$NS" unload veth0
	# a load --then killed after the switch: the next command finishes it
	PINWALL_TEST_KILL_AT=load:chain-switched pwt "$NS" load veth0 --then "$CH" --prog noop \
		>/dev/null 2>&1
	ASSERT_EQ "$?" 137 "load killed at chain-switched"
	ASSERT_MATCH "$(pw "$NS" recover veth0 2>&1)" "finished the interrupted change of the chained program" \
		"recover finishes the load's chain change"
	ASSERT_EQ "$(st '.chain | [.prog_name, .interrupted] | @csv')" '"noop",false' "chained after load"
	ASSERT_OK pw "$NS" unload veth0
	[ -e "$d" ] && fail "unload left $(find "$d")"
}

run_tests
