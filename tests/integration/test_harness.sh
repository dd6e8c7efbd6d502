#!/usr/bin/env bash
# The harness itself: a test that fails, exits early or is killed still
# leaves no namespace, pin, XDP program or background process behind.
. "$(dirname "$0")/lib.sh"

# child BODY: run a throwaway test script that sources lib.sh and does BODY
child() {
	cat >"$T_TMP/child.sh" <<EOS
. "$TOP/tests/integration/lib.sh"
ns_new NS c && veth_new "\$NS" veth0 veth1 || exit 3
pw "\$NS" load veth0 >/dev/null || exit 4
bg_pw "\$NS" stats veth0 --interval 0.2 >/dev/null
echo "\$T_ID \$BG_PID" >"$T_TMP/child.id"
$1
EOS
	bash "$T_TMP/child.sh" >"$T_TMP/child.out" 2>&1
	CHILD_RC=$?
	read -r CHILD_ID CHILD_PID <"$T_TMP/child.id"
}

left_of() { # T_ID PID: what a child left behind
	ip netns list | awk -v p="$1-" 'index($1, p) == 1 {print "netns " $1}'
	[ -e "/sys/fs/bpf/$1" ] && echo "pins /sys/fs/bpf/$1"
	ls -d /tmp/"$1".* 2>/dev/null
	kill -0 "$2" 2>/dev/null && echo "process $2"
}

test_failed_assertion_cleans_up() {
	child 'ASSERT_EQ 1 2 "deliberate"; run_tests'
	ASSERT_MATCH "$(cat "$T_TMP/child.out")" "not ok: deliberate" "child failed"
	ASSERT_EQ "$(left_of "$CHILD_ID" "$CHILD_PID")" "" "left behind after a failed test"
}

test_early_exit_cleans_up() {
	child 'exit 7'
	ASSERT_EQ "$CHILD_RC" 7 "child exit status"
	ASSERT_EQ "$(left_of "$CHILD_ID" "$CHILD_PID")" "" "left behind after exit 7"
}

test_sigterm_cleans_up() {
	child 'kill -TERM $$; sleep 5'
	ASSERT_NE "$CHILD_RC" 0 "child killed"
	ASSERT_EQ "$(left_of "$CHILD_ID" "$CHILD_PID")" "" "left behind after SIGTERM"
}

run_tests
