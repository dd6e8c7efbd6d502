#!/usr/bin/env bash
# Shared by every integration test: throwaway namespaces and veth pairs, a
# private pin root, subtests, ASSERT-style checks, and cleanup on any exit.
# Each test file sources this, defines test_* functions and ends with run_tests.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PW="$TOP/build/pinwall"
PWT="$TOP/build/pinwall-test"	# the same with the test hooks (PW_TEST_HOOKS)
GEN="$TOP/build/pwgen"
OBJS="$TOP/build/objs"
T_FILE=$(basename "$0" .sh)
T_ID="pwt$$"			# prefix of everything this test creates
ROOT="/sys/fs/bpf/$T_ID"	# private pin root
T_TMP=$(mktemp -d "/tmp/$T_ID.XXXXXX")
T_PIDS=()
T_NETNS=()
T_PASSED=0
T_FAILED=0
T_SUB_FAILED=0

cleanup() {
	local pid ns
	for pid in "${T_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	# a signal sent right after the fork can be lost before exec: insist
	for pid in "${T_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
			kill "$pid" 2>/dev/null
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	T_PIDS=()
	# deleting a namespace deletes its veths, which detaches their XDP links
	for ns in "${T_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	T_NETNS=()
	[ -d "$ROOT" ] && rm -rf "$ROOT"
	rm -rf "$ROOT"-*	# helper pins a test keeps beside the pin root
	rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The tests use bpftool on pins too, so the host bpffs must be there.
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != "bpf_fs" ]; then
	mount -t bpf bpf /sys/fs/bpf
fi

# ns_new VAR SUFFIX: create namespace $T_ID-SUFFIX (removed at exit), name in VAR.
ns_new() {
	local ns="$T_ID-$2"
	ip netns add "$ns" || return 1
	T_NETNS+=("$ns")
	printf -v "$1" '%s' "$ns"
	ip -n "$ns" link set lo up
	# no IPv6 autoconfiguration chatter: counts must be exact
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
}

# veth_new NS A B: a veth pair A <-> B inside NS, both up.
veth_new() {
	ip -n "$1" link add name "$2" type veth peer name "$3" &&
	ip -n "$1" link set "$2" up && ip -n "$1" link set "$3" up
}

# pw NS ARGS...: pinwall acting in NS on this test's pin root.
pw() {
	local ns=$1
	shift
	"$PW" -n "$ns" --pin-root "$ROOT" "$@"
}

# pwt NS ARGS...: the same with the test build (PINWALL_TEST_* hooks).
pwt() {
	local ns=$1
	shift
	"$PWT" -n "$ns" --pin-root "$ROOT" "$@"
}

# gen NS ARGS...: send frames with pwgen inside NS.
gen() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$GEN" "$@"
}

# bg CMD...: run a program (not a shell function: signals must reach it) in
# the background, killed at exit; sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}

# bg_pw NS ARGS...: pinwall in the background (e.g. the stats follower).
bg_pw() {
	local ns=$1
	shift
	bg "$PW" -n "$ns" --pin-root "$ROOT" "$@"
}

ifdir() { # NS IFACE: the interface's pin directory
	local ino
	ino=$(stat -L -c %i "/run/netns/$1")
	echo "$ROOT/ns$ino/$2"
}

# snapshot of everything under the pin root: paths and the objects behind them
pin_snapshot() {
	[ -d "$ROOT" ] || { echo "(no pin root)"; return; }
	# one bpftool call for every map's pins (-f), not one per pin
	bpftool -j -f map show 2>/dev/null |
		jq -r --arg r "$ROOT/" '.[] | .id as $i | (.pinned // [])[] | select(startswith($r)) | "\(.)\t\($i)"' |
		awk -F'\t' 'NR == FNR { id[$1] = $2; next }
			     { t = substr($0, 1, 1); p = substr($0, 3) }
			     t == "d" { print "d " p; next } { print "f " p " " id[p] }' - \
		    <(find "$ROOT" -printf '%Y %p\n' | sort -k2)
}

fail() {
	echo "    not ok: $*"
	T_SUB_FAILED=1
}

ASSERT_EQ() { # actual expected what
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
}
ASSERT_NE() {
	[ "$1" != "$2" ] || fail "$3: got '$1', expected anything else"
}
ASSERT_GE() {
	[ "$1" -ge "$2" ] 2>/dev/null || fail "$3: got '$1', expected >= $2"
}
ASSERT_LE() {
	[ "$1" -le "$2" ] 2>/dev/null || fail "$3: got '$1', expected <= $2"
}
ASSERT_MATCH() { # text regex what
	grep -qE -- "$2" <<<"$1" || fail "$3: '$1' does not match /$2/"
}
ASSERT_NOMATCH() {
	! grep -qE -- "$2" <<<"$1" || fail "$3: '$1' matches /$2/"
}
ASSERT_OK() { # cmd...: must exit 0
	local out
	out=$("$@" 2>&1) || fail "'$*' failed: $out"
}

# ASSERT_ERR EXPECTED_REGEX CMD...: fails with one 'pinwall: error:' line
# matching the regex, a non-zero exit, and no change below the pin root.
ASSERT_ERR() {
	local re=$1 before after rc err
	shift
	before=$(pin_snapshot)
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	after=$(pin_snapshot)
	err=$(cat "$T_TMP/err")
	[ $rc -ne 0 ] || fail "'$*' exited 0"
	ASSERT_MATCH "$(head -n1 <<<"$err")" "^pinwall: error: .*$re" "first stderr line of '$*'"
	ASSERT_EQ "$before" "$after" "pins after failing '$*'"
	LAST_RC=$rc
	LAST_ERR=$err
}

nlines() { printf '%s\n' "$1" | wc -l; }

# ERR1 REGEX CMD...: ASSERT_ERR, and stderr is that one line, stdout is empty
ERR1() {
	ASSERT_ERR "$@"
	shift
	ASSERT_EQ "$(nlines "$LAST_ERR")" 1 "stderr line count of '$*' (stderr: $LAST_ERR)"
	ASSERT_EQ "$(cat "$T_TMP/out")" "" "stdout of '$*'"
}

# counters of IFACE's per-action map, as "packets bytes" of one action
action_count() { # NS IFACE ACTION(XDP_PASS...)
	pw "$1" stats "$2" --count 1 --interval 0.05 --json |
		jq -r ".interfaces[0].actions.$3 | \"\(.packets) \(.bytes)\""
}

# run_tests: every test_* function is a subtest; cleanup between them.
run_tests() {
	local t filter=${T_FILTER:-}
	for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
		[ -n "$filter" ] && [[ "$t" != *$filter* ]] && continue
		T_SUB_FAILED=0
		echo "  -- $T_FILE/${t#test_}"
		local t0=$SECONDS
		"$t"
		cleanup
		T_TMP=$(mktemp -d "/tmp/$T_ID.XXXXXX")
		if [ $T_SUB_FAILED -eq 0 ]; then
			echo "PASS: $T_FILE/${t#test_} ($((SECONDS - t0)) s)"
			T_PASSED=$((T_PASSED + 1))
		else
			echo "FAIL: $T_FILE/${t#test_} ($((SECONDS - t0)) s)"
			T_FAILED=$((T_FAILED + 1))
		fi
	done
	[ $T_FAILED -eq 0 ]
}
