#!/usr/bin/env bash
# Crash safety: load, reload (with migrations), unload and rule apply are
# killed with SIGKILL at every step (PINWALL_TEST_KILL_AT=OP:STEP, a hook of
# the test build only: build/pinwall-test);
# status shows the interrupted operation, the next command or `pinwall
# recover` finishes or rolls it back, the interface keeps a program, and no
# counted frame is lost.
. "$(dirname "$0")/lib.sh"

RELOAD_STEPS="planned staged switched merged recorder repinned recorded"
LOAD_STEPS="planned staged attached switched merged recorder repinned recorded"
UNLOAD_STEPS="planned detached recorder unpinned"
# the step each kill point leaves in the intent record (status shows it):
# hooks sit between the record's coarser steps
declare -A RECORDED=(
	[reload:planned]=planned [reload:staged]=staged [reload:switched]=staged
	[reload:merged]=switched [reload:recorder]=merged [reload:repinned]=merged [reload:recorded]=merged
	[load:planned]=planned [load:staged]=staged [load:attached]=staged
	[load:switched]=staged [load:merged]=switched [load:recorder]=merged [load:repinned]=merged
	[load:recorded]=merged
	[unload:planned]=planned [unload:detached]=planned [unload:recorder]=planned [unload:unpinned]=planned
)

setup() {
	ns_new NS k && veth_new "$NS" veth0 veth1
}

xdp_id() {
	ip -n "$1" -j link show dev "$2" |
		jq -r '.[0].xdp.prog.id // (.[0].xdp.attached // [] | .[0].prog.id) // empty'
}

# killed_at OP:STEP ARGS...: pinwall with the hook; must die of SIGKILL
killed_at() {
	local at=$1 rc
	shift
	PINWALL_TEST_KILL_AT=$at pwt "$NS" "$@" >/dev/null 2>&1
	rc=$?
	ASSERT_EQ "$rc" 137 "exit status of '$*' killed at $at"
	KILLS=$((KILLS + 1))
}

interrupted() { # -> "op step" of the interface's intent record, per status
	pw "$NS" status veth0 --json | jq -r '.[0].operation | "\(.op) \(.step) \(.running)"'
}

no_leftovers() { # what
	local d
	d=$(ifdir "$NS" veth0)
	[ -e "$d/pending" ] && fail "$1: pending/ left behind"
	[ -e "$d/intent" ] && fail "$1: intent record left behind"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].operation // "none"')" none "$1: no operation in status"
}

test_reload_killed_at_every_step() {
	setup || { fail setup; return; }
	local step next sent n=0 out
	KILLS=0
	for step in $RELOAD_STEPS; do
		ASSERT_OK pw "$NS" load veth0
		gen "$NS" -i veth1 -c 0 -d 1.6 -r 20000 --json >"$T_TMP/gen" &
		local genpid=$!
		sleep 0.4
		killed_at "reload:$step" reload veth0 --obj "$OBJS/pinwall_v2.o"
		ASSERT_EQ "$(interrupted)" "reload ${RECORDED[reload:$step]} false" "status shows the interrupted reload ($step)"
		ASSERT_MATCH "$(pw "$NS" status veth0)" "drift +interrupted reload \(stopped after step '${RECORDED[reload:$step]}', pid [0-9]+\): 'pinwall recover veth0' finishes or rolls it back" "text status ($step)"
		ASSERT_NE "$(xdp_id "$NS" veth0)" "" "a program runs after the kill at $step"
		# the next command finishes it: recover, or a plain reload
		if [ $((n % 2)) -eq 0 ]; then
			out=$(pw "$NS" recover veth0) || fail "recover after $step: $out"
			ASSERT_MATCH "$out" "^(finished|rolled back) the interrupted reload of veth0" "recover says what it did ($step)"
		else
			out=$(pw "$NS" reload veth0) || fail "reload after $step: $out"
			ASSERT_MATCH "$out" "^(finished|rolled back) the interrupted reload of veth0 first" "reload finished it first ($step)"
		fi
		case $step in
		planned|staged) ASSERT_MATCH "$out" "rolled back" "before the switch: rolled back ($step)" ;;
		*) ASSERT_MATCH "$out" "finished" "after the switch: finished ($step)" ;;
		esac
		no_leftovers "reload killed at $step"
		wait $genpid
		sent=$(jq .sent "$T_TMP/gen")
		ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent, reload killed at $step"
		ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift after $step"
		ASSERT_OK pw "$NS" unload veth0
		n=$((n + 1))
	done
	ASSERT_EQ "$KILLS" 7 "kills injected"
	echo "    reload: $KILLS kills, $n recoveries"
}

test_load_killed_at_every_step() {
	setup || { fail setup; return; }
	local step out d
	d=$(ifdir "$NS" veth0)
	KILLS=0
	for step in $LOAD_STEPS; do
		killed_at "load:$step" load veth0
		ASSERT_EQ "$(interrupted)" "load ${RECORDED[load:$step]} false" "status shows the interrupted load ($step)"
		out=$(pw "$NS" recover veth0) || fail "recover after $step: $out"
		no_leftovers "load killed at $step"
		if [ "$step" = planned ]; then
			ASSERT_MATCH "$out" "^rolled back the interrupted load" "nothing staged: rolled back"
			ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
			[ -e "$d" ] && fail "interface directory left after the rollback"
			continue
		fi
		ASSERT_MATCH "$out" "^finished the interrupted load" "staged: finished ($step)"
		ASSERT_EQ "$(xdp_id "$NS" veth0)" "$(bpftool map dump pinned "$d/meta" -j | jq '.[0].formatted.value.prog_id')" "the recorded program runs ($step)"
		ASSERT_EQ "$(pw "$NS" status veth0 --json | jq '.[0].drift | length')" 0 "no drift ($step)"
		gen "$NS" -i veth1 -c 100 -q
		ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 100 "counts after the load killed at $step"
		ASSERT_OK pw "$NS" unload veth0
	done
	ASSERT_EQ "$KILLS" 8 "kills injected"
}

# --force over another tool's program (attached through netlink: replaced in
# one atomic swap), killed before and after the swap: the next command
# finishes the load
test_forced_load_killed() {
	setup || { fail setup; return; }
	local step
	KILLS=0
	for step in staged attached; do
		ip -n "$NS" link set dev veth0 xdpdrv obj "$OBJS/tutorial.o" sec xdp || { fail "ip link xdp"; return; }
		killed_at "load:$step" load veth0 --force
		ASSERT_NE "$(xdp_id "$NS" veth0)" "" "a program runs after the kill at $step"
		if [ "$step" = staged ]; then
			ASSERT_MATCH "$(pw "$NS" load veth0 2>&1)" "^finished the interrupted load of veth0 first" "next load finishes it ($step)"
		else
			# asked for another program: told which one runs
			ASSERT_MATCH "$(pw "$NS" load veth0 --obj "$OBJS/tutorial.o" 2>"$T_TMP/err")" \
				"^finished the interrupted load of veth0 first" "next load finishes it ($step)"
			ASSERT_MATCH "$(cat "$T_TMP/err")" "^note: the program attached is the interrupted load's \('pinwall_xdp' from the built-in object\), not the one asked for now" "note ($step)"
		fi
		ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].prog_name')" pinwall_xdp "pinwall's program runs ($step)"
		no_leftovers "forced load killed at $step"
		ASSERT_OK pw "$NS" unload veth0
	done
}

# an unload after a forced load killed before attaching: the load is rolled
# back, so the other tool's program keeps running
test_unload_after_killed_forced_load_keeps_other_program() {
	setup || { fail setup; return; }
	local other
	ip -n "$NS" link set dev veth0 xdpdrv obj "$OBJS/tutorial.o" sec xdp || { fail "ip link xdp"; return; }
	other=$(xdp_id "$NS" veth0)
	KILLS=0
	killed_at "load:staged" load veth0 --force
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$other" "the other program still runs after the kill"
	ASSERT_MATCH "$(pw "$NS" unload veth0 2>&1)" "rolled back the interrupted load of veth0 first" "unload rolls the load back"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$other" "the other program still runs"
	no_leftovers "unload after the killed load"
	ip -n "$NS" link set dev veth0 xdpdrv off
	# another mode than the other program's: detach, then attach (the kernel
	# allows one mode at a time); killed in between, the rollback puts it back
	ip -n "$NS" link set dev veth0 xdpgeneric obj "$OBJS/tutorial.o" sec xdp || { fail "ip link xdp"; return; }
	other=$(xdp_id "$NS" veth0)
	killed_at "load:detached" load veth0 --force --mode native
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "no program in the window"
	ASSERT_MATCH "$(pw "$NS" unload veth0 2>&1)" "rolled back the interrupted load of veth0 first" "unload rolls it back"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$other" "the other program is back"
	no_leftovers "unload after the load killed at detached"
	ip -n "$NS" link set dev veth0 xdpgeneric off
}

# a first load killed after staging its new shared maps; meanwhile a rule
# command creates the rule maps: recovery must not hide them
test_staged_new_map_never_hides_a_pin_made_since() {
	setup || { fail setup; return; }
	KILLS=0
	killed_at "load:staged" load veth0
	ASSERT_OK pw "$NS" rule add drop proto 47
	ASSERT_MATCH "$(pw "$NS" recover veth0)" "^rolled back the interrupted load" "rolled back: a staged map's path was taken"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '.rules[].rule')" "drop proto gre" "the rule made meanwhile is still there"
	no_leftovers "conflict"
	ASSERT_OK pw "$NS" load veth0
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '.rules[].rule')" "drop proto gre" "and the load uses it"
}

test_unload_killed_at_every_step() {
	setup || { fail setup; return; }
	local step out d
	d=$(ifdir "$NS" veth0)
	KILLS=0
	for step in $UNLOAD_STEPS; do
		ASSERT_OK pw "$NS" load veth0
		killed_at "unload:$step" unload veth0
		ASSERT_EQ "$(interrupted)" "unload ${RECORDED[unload:$step]} false" "status shows the interrupted unload ($step)"
		out=$(pw "$NS" unload veth0) || fail "unload after $step: $out"
		ASSERT_MATCH "$out" "^finished the interrupted unload of veth0 first" "the next unload finishes it ($step)"
		ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "detached ($step)"
		[ -e "$d" ] && fail "interface directory left ($step)"
		ASSERT_EQ "$(ls "$ROOT/shared" | grep -c '^pw_')" 24 "rule maps kept ($step)"
	done
	ASSERT_EQ "$KILLS" 4 "kills injected"
}

# a migration killed between the switch and the merge, while the old
# program still counted: the recovery folds every late count in
test_migration_recovery_exact_under_load() {
	setup || { fail setup; return; }
	local sent d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	gen "$NS" -i veth1 -c 0 -d 2 -r 30000 --json >"$T_TMP/gen" &
	local genpid=$!
	sleep 0.5
	KILLS=0
	killed_at "reload:switched" reload veth0 --obj "$OBJS/tutorial_swapped.o"
	[ -e "$d/pending/snap/xdp_stats_map" ] || fail "snapshot pinned while the merge is due"
	sleep 0.3
	ASSERT_OK pw "$NS" recover veth0
	wait $genpid
	sent=$(jq .sent "$T_TMP/gen")
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" "$sent" "counted == sent"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].object')" "$OBJS/tutorial_swapped.o" "the new object recorded"
}

rules_now() { pw "$NS" rule list --json | jq -r '[.rules[].rule] | sort | join(",")'; }

# rule apply: killed after every step, `rule list` (a reader, no lock) shows
# the old set or the new one, never a mix; the next rule command or
# `pinwall recover` settles it; kept rules keep their counters and a freed
# id never carries counts into the rule that gets it next
test_rule_apply_killed_at_every_step() {
	setup || { fail setup; return; }
	local step n=0 a b out hits
	printf 'drop src 10.11.0.0/16\ndrop dport 7000\n' >"$T_TMP/A"
	printf 'drop src 10.11.0.0/16\ndrop proto icmp\n' >"$T_TMP/B"
	a="drop dport 7000,drop src 10.11.0.0/16"
	b="drop proto icmp,drop src 10.11.0.0/16"
	ASSERT_OK pw "$NS" load veth0
	KILLS=0
	for step in planned staged switched freed; do
		ASSERT_OK pw "$NS" rule apply "$T_TMP/A"
		gen "$NS" -i veth1 -c 10 -q	# udp to 10.11.0.1 from 10.11.0.2: the src rule
		hits=$(pw "$NS" rule list --json | jq '.rules[] | select(.rule == "drop src 10.11.0.0/16") | .packets')
		PINWALL_TEST_KILL_AT="apply:$step" pwt "$NS" rule apply "$T_TMP/B" >/dev/null 2>&1
		ASSERT_EQ "$?" 137 "apply killed at $step"
		KILLS=$((KILLS + 1))
		case $step in
		planned|staged) ASSERT_EQ "$(rules_now)" "$a" "before the switch, list shows the old set ($step)" ;;
		*) ASSERT_EQ "$(rules_now)" "$b" "after the switch, list shows the new set ($step)" ;;
		esac
		[ -e "$ROOT/rules_intent" ] || fail "intent record kept by the kill at $step"
		ASSERT_MATCH "$(pw "$NS" rule list 2>&1 >/dev/null)" \
			"^pinwall: note: a rule apply \(pid [0-9]+\) was interrupted: 'pinwall recover' settles it$" "rule list says so ($step)"
		if [ $((n % 2)) -eq 0 ]; then
			out=$(pw "$NS" recover) || fail "recover after $step"
			ASSERT_MATCH "$out" "^(finished|rolled back) the interrupted rule apply" "recover ($step)"
		else
			out=$(pw "$NS" rule apply "$T_TMP/B" 2>&1) || fail "apply after $step: $out"
			ASSERT_MATCH "$out" "^pinwall: (finished|rolled back) the interrupted rule apply of pid [0-9]+ first" "the next apply settles it first ($step)"
		fi
		[ -e "$ROOT/rules_intent" ] && fail "intent record left after recovery ($step)"
		ASSERT_OK pw "$NS" rule apply "$T_TMP/B"
		ASSERT_EQ "$(rules_now)" "$b" "the new set in force ($step)"
		ASSERT_EQ "$(pw "$NS" rule list --json | jq '.rules[] | select(.rule == "drop src 10.11.0.0/16") | .packets')" "$hits" "kept rule kept its counters ($step)"
		ASSERT_EQ "$(pw "$NS" rule list --json | jq '.rules[] | select(.rule == "drop proto icmp") | .packets')" 0 "the added rule starts at zero ($step)"
		ASSERT_OK pw "$NS" rule flush
		n=$((n + 1))
	done
	ASSERT_EQ "$KILLS" 4 "kills injected"
}

# The release binary has no test hooks: the environment changes nothing.
test_release_binary_ignores_kill_hook() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK env PINWALL_TEST_KILL_AT=load:staged "$PW" -n "$NS" --pin-root "$ROOT" load veth0
	[ -e "$d/intent" ] && fail "an interrupted load"
	ASSERT_NE "$(xdp_id "$NS" veth0)" "" "loaded"
	ASSERT_OK env PINWALL_TEST_KILL_AT=reload:switched "$PW" -n "$NS" --pin-root "$ROOT" reload veth0
	ASSERT_OK env PINWALL_TEST_KILL_AT=unload:detached "$PW" -n "$NS" --pin-root "$ROOT" unload veth0
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "unloaded"
	ASSERT_EQ "$(strings "$PW" | grep -c PINWALL_TEST_)" 0 "no hook names in the release binary"
}

run_tests
