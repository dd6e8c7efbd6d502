# Helpers of the rule tests (sourced after lib.sh): a loaded veth pair,
# paced frames, exact action and per-rule counts, and refusals that must
# change nothing.

setup() {
	ns_new NS r && veth_new "$NS" veth0 veth1
}

setup_loaded() {
	setup && pw "$NS" load veth0 >/dev/null
}

# send NS IFACE COUNT PWGEN-ARGS...: exactly COUNT frames out of IFACE (paced:
# a burst larger than the veth ring would lose frames before XDP sees them)
send() {
	local ns=$1 ifc=$2 n=$3 out
	shift 3
	out=$(gen "$ns" -i "$ifc" -c "$n" -r 50000 --json "$@") || { fail "pwgen -c $n $*: exit status $?"; return 1; }
	ASSERT_EQ "$(jq .sent <<<"$out")" "$n" "frames sent by 'pwgen -c $n $*'"
}

# acts NS IFACE: "DROP-packets DROP-bytes PASS-packets PASS-bytes"
acts() {
	pw "$1" stats "$2" --count 1 --interval 0.05 --json | jq -r '.interfaces[0].actions |
		"\(.XDP_DROP.packets) \(.XDP_DROP.bytes) \(.XDP_PASS.packets) \(.XDP_PASS.bytes)"'
}

# settle NS IFACE TOTAL: wait (up to 3 s) until the program has counted TOTAL
# frames on IFACE, then print acts; the caller asserts the exact values
settle() {
	local a d dp
	for _ in $(seq 1 60); do
		a=$(acts "$1" "$2")
		read -r dp _ d _ <<<"$a"
		[ $((dp + d)) -ge "$3" ] 2>/dev/null && break
		sleep 0.05
	done
	echo "$a"
}

# rules NS: "RULE packets bytes", one line per rule, sorted
rules() {
	pw "$1" rule list --json | jq -r '.rules[] | "\(.rule) \(.packets) \(.bytes)"' | sort
}

# cnt NS RULE: "packets bytes" of the rule printed as RULE ('' if none)
cnt() {
	pw "$1" rule list --json | jq -r --arg r "$2" '.rules[] | select(.rule == $r) | "\(.packets) \(.bytes)"'
}

# rule_id NS RULE
rule_id() {
	pw "$1" rule list --json | jq -r --arg r "$2" '.rules[] | select(.rule == $r) | .id'
}

# generation of the rule set (bumped by every apply that changes something)
generation() {
	bpftool -j map dump pinned "$ROOT/shared/pw_config" | jq -r '.[0].formatted.value.generation'
}

# state NS: everything a refused command must leave alone: the pins, the
# rule set generation, the rules with their ids and counters, the policy
state() {
	pin_snapshot
	echo "gen $(generation)"
	pw "$1" rule list --json | jq -c .
}

# REFUSED REGEX CMD...: like ERR1, but (cheaper, for runs of refusals that
# the caller brackets with 'state') only the rule set generation must not move
REFUSED() {
	local re=$1 g rc err
	shift
	g=$(generation)
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	err=$(cat "$T_TMP/err")
	[ $rc -ne 0 ] || fail "'$*' exited 0"
	ASSERT_MATCH "$(head -n1 <<<"$err")" "^pinwall: error: .*$re" "first stderr line of '$*'"
	ASSERT_EQ "$(nlines "$err")" 1 "stderr line count of '$*' (stderr: $err)"
	ASSERT_EQ "$(cat "$T_TMP/out")" "" "stdout of '$*'"
	ASSERT_EQ "$(generation)" "$g" "rule set generation after '$*'"
	LAST_RC=$rc
	LAST_ERR=$err
}

# write FILE LINES...: one line per argument
write() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

