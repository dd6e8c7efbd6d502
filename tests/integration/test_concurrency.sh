#!/usr/bin/env bash
# Concurrency: every mutating command holds an exclusive lock on the pin
# root; 8 parallel rule writers plus reloads lose nothing; readers never
# wait for a writer.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS c && veth_new "$NS" veth0 veth1 && pw "$NS" load veth0 >/dev/null
}

# writer I N: add N rules of its own, one command each
writer() {
	local i=$1 n=$2 j
	for j in $(seq 1 "$n"); do
		pw "$NS" rule add drop src "10.$i.$j.0/24" >/dev/null || echo "writer $i: rule $j failed"
	done
}

test_parallel_writers_and_reloads_lose_nothing() {
	setup || { fail setup; return; }
	local i pids=() reloads=0 sent errs
	gen "$NS" -i veth1 -c 0 -d 4 -r 10000 --json >"$T_TMP/gen" &
	local genpid=$!
	for i in 1 2 3 4 5 6 7 8; do
		writer "$i" 15 >"$T_TMP/w$i" 2>&1 &
		pids+=($!)
	done
	# reloads, alternating the built-in program's v2 and v1 (migrations both
	# ways), ending on v2 so every pinned map is in use
	for i in 1 2 3 4 5 6 7; do
		if [ $((i % 2)) -eq 1 ]; then
			pw "$NS" reload veth0 --obj "$OBJS/pinwall_v2.o" >/dev/null || echo "reload $i failed" >>"$T_TMP/r"
		else
			pw "$NS" reload veth0 --obj "$OBJS/pinwall_v1.o" --migrate >/dev/null || echo "reload $i failed" >>"$T_TMP/r"
		fi
		reloads=$((reloads + 1))
	done
	for i in "${pids[@]}"; do wait "$i"; done
	wait $genpid
	errs=$(cat "$T_TMP"/w* "$T_TMP/r" 2>/dev/null)
	ASSERT_EQ "$errs" "" "every writer command and reload succeeded"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq '.rules | length')" 120 "all 8 x 15 rules in force"
	for i in 1 2 3 4 5 6 7 8; do
		ASSERT_EQ "$(pw "$NS" rule list --json | jq --arg p " src 10[.]$i[.]" '[.rules[] | select(.rule | test($p))] | length')" 15 "writer $i's rules"
	done
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq .[0].reloads)" "$reloads" "every reload recorded"
	sent=$(jq .sent "$T_TMP/gen")
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent across reloads and rule writes"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift"
}

test_readers_never_wait_for_a_writer() {
	setup || { fail setup; return; }
	# hold the pin root's lock the way a long writer would
	bg flock "$ROOT" sleep 5
	sleep 0.3
	# each would be killed by timeout if it waited for the 5 s lock
	ASSERT_OK timeout 2 "$PW" -n "$NS" --pin-root "$ROOT" status veth0
	ASSERT_OK timeout 2 "$PW" -n "$NS" --pin-root "$ROOT" stats veth0 --count 1 --interval 0.1
	ASSERT_OK timeout 2 "$PW" -n "$NS" --pin-root "$ROOT" rule list
	# a writer waits for the lock instead of failing or racing
	ASSERT_EQ "$(timeout 1 "$PW" -n "$NS" --pin-root "$ROOT" rule add drop proto 47 >/dev/null 2>&1; echo $?)" 124 "a writer waits"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq '.rules | length')" 0 "the waiting writer changed nothing"
}

run_tests
