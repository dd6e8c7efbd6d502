#!/usr/bin/env bash
# Ordered rules and named sets (rules that combine matches, first match
# wins) with real frames on veth pairs: exact XDP action counts and per-rule
# counters, the prefix table's place among the ordered rules, set changes
# under traffic with exact counters, the set commands, rule placement, and
# refusals (FILE:LINE, nothing applied).
. "$(dirname "$0")/lib.sh"

unset SSH_CONNECTION

. "$(dirname "$0")/rules_lib.sh"

# ---- matching ----

# The most asked-for policy: SSH only from the management network.
test_ssh_only_from_mgmt() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/ssh.rules
	write "$f" "set mgmt 10.20.0.0/16 fd00:20::/32" \
		"pass proto tcp src @mgmt dport 22" "drop proto tcp dport 22"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 20 -p tcp --src 10.20.3.4 --dport 22        # mgmt: pass
	send "$NS" veth1 30 -p tcp --src 10.21.0.1 --dport 22        # elsewhere: drop
	send "$NS" veth1 7 -6 -p tcp --src fd00:20::9 --dport 22     # mgmt v6: pass
	send "$NS" veth1 9 -6 -p tcp --src fd00:21::9 --dport 22     # drop
	send "$NS" veth1 11 -p udp --src 10.21.0.1 --dport 22        # udp: no rule, policy allow
	send "$NS" veth1 5 -p tcp --src 10.20.3.4 --dport 23         # not ssh: no rule
	# an IPv6 TCP SYN is a 74-byte frame
	ASSERT_EQ "$(settle "$NS" veth0 82)" "39 $((30 * 64 + 9 * 74)) 43 $((36 * 64 + 7 * 74))" "XDP_DROP/XDP_PASS"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
pass proto tcp src @mgmt dport 22 27 $((20 * 64 + 7 * 74))
drop proto tcp dport 22 39 $((30 * 64 + 9 * 74))
EOF
)" "per-rule counters"
	# listed in evaluation order
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[].rule] | join("|")')" \
		"pass proto tcp src @mgmt dport 22|drop proto tcp dport 22" "rule list order"
}

# A blocklist with an exception, by sets; the first match decides.
test_blocklist_with_exception() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/block.rules
	printf '%s\n' "# blocklist" "10.11.0.0/16" "  fd00:11::/32   # v6 too" "" "192.0.2.0/24" >"$T_TMP/block.txt"
	write "$f" "policy allow" "set block file block.txt" "set customers 10.11.5.0/24, 10.11.6.7" \
		"pass src @customers" "drop src @block" "drop dst @block proto udp dport {7,9,1000-1100}"
	ASSERT_OK pw "$NS" rule apply "$f"
	ASSERT_EQ "$(pw "$NS" set list --json | jq -c '[.sets[] | [.name, .elements]]')" \
		'[["block",3],["customers",2]]' "sets as read back"
	send "$NS" veth1 10 --src 10.11.5.9                    # customer: pass
	send "$NS" veth1 12 --src 10.11.6.7                    # customer host: pass
	send "$NS" veth1 14 --src 10.11.6.8                    # blocked
	send "$NS" veth1 6 -6 --src fd00:11::5                 # blocked v6
	send "$NS" veth1 8 --src 10.12.0.1 --dst 10.11.0.1     # dst blocked, udp dport 9: drop
	send "$NS" veth1 4 --src 10.12.0.1 --dst 10.11.0.1 --dport 1050
	send "$NS" veth1 3 --src 10.12.0.1 --dst 10.11.0.1 --dport 1101   # port not listed: pass
	send "$NS" veth1 2 -p tcp --src 10.12.0.1 --dst 10.11.0.1         # tcp: pass
	ASSERT_EQ "$(settle "$NS" veth0 59)" "32 $((32 * 64)) 27 $((27 * 64))" "XDP_DROP/XDP_PASS"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
pass src @customers 22 $((22 * 64))
drop src @block 20 $((20 * 64))
drop proto udp dst @block dport {7,9,1000-1100} 12 $((12 * 64))
EOF
)" "per-rule counters"
	# hits per set element: which prefix matched
	ASSERT_EQ "$(pw "$NS" set list block --sort hits --json | jq -c '[.sets[0].prefixes[] | [.prefix, .hits]]')" \
		'[["10.11.0.0/16",26],["fd00:11::/32",6],["192.0.2.0/24",0]]' "hits per element of block"
	ASSERT_EQ "$(pw "$NS" set list customers --json | jq -c '[.sets[0].prefixes[] | [.prefix, .hits]]')" \
		'[["10.11.5.0/24",10],["10.11.6.7/32",12]]' "hits per element of customers"
	# a change of the set keeps the counts of the prefixes that stay
	ASSERT_OK pw "$NS" set add block 203.0.113.0/24
	ASSERT_OK pw "$NS" set del block 192.0.2.0/24
	ASSERT_EQ "$(pw "$NS" set list block --json | jq -c '[.sets[0].prefixes[] | [.prefix, .hits]]')" \
		'[["10.11.0.0/16",26],["203.0.113.0/24",0],["fd00:11::/32",6]]' "hits after set changes"
	ASSERT_EQ "$(cnt "$NS" "drop src @block")" "20 $((20 * 64))" "rule counter after set changes"
}

# Single-match rules decide together, as one table, where the first of them
# is written: between the ordered rules before and after it.
test_table_place() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/place.rules
	write "$f" "policy deny" "pass proto udp src 10.11.0.0/16 dport 53" \
		"drop dport 53" "drop src 10.11.0.2" "pass src 10.11.0.0/16" \
		"pass proto udp dport {9,10}" "drop proto udp src 10.13.0.0/16 dport 9"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 5 --src 10.11.0.2 --dport 53     # ordered rule 1 before the table: pass
	send "$NS" veth1 6 --src 10.12.0.2 --dport 53     # table: drop dport 53
	send "$NS" veth1 7 --src 10.11.0.2 --dport 9      # table: drop src (/32 beats /16)
	send "$NS" veth1 8 --src 10.11.0.3 --dport 9      # table: pass src /16
	send "$NS" veth1 9 --src 10.13.0.3 --dport 9      # after the table: pass {9,10} first
	send "$NS" veth1 4 --src 10.13.0.3 --dport 11     # nothing: policy deny
	ASSERT_EQ "$(settle "$NS" veth0 39)" "17 $((17 * 64)) 22 $((22 * 64))" "XDP_DROP/XDP_PASS"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
pass proto udp src 10.11.0.0/16 dport 53 5 320
drop dport 53 6 384
drop src 10.11.0.2/32 7 448
pass src 10.11.0.0/16 8 512
pass proto udp dport {9-10} 9 576
drop proto udp src 10.13.0.0/16 dport 9 0 0
EOF
)" "per-rule counters"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[] | (if .ordered then "o" else "t" end)] | join("")')" \
		"otttoo" "ordered, table, ordered"
}

# ---- sets: commands, changes under traffic ----

test_set_commands() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/s.rules s
	write "$f" "set block 10.30.0.0/16" "set empty" "drop src @block" "drop dst @empty proto tcp"
	ASSERT_OK pw "$NS" rule apply "$f"
	ASSERT_OK pw "$NS" set add block 10.31.0.0/16 fd00:31::/48
	ASSERT_OK pw "$NS" set del block 10.30.0.0/16
	ASSERT_OK pw "$NS" set add empty 192.0.2.1
	ASSERT_EQ "$(pw "$NS" set list block --json | jq -c '[.sets[0].prefixes[].prefix]')" \
		'["10.31.0.0/16","fd00:31::/48"]' "set block after add and del"
	ASSERT_EQ "$(pw "$NS" set list | head -n1)" "set block (2 prefixes, 0 hits)" "set list text"
	s=$(state "$NS")
	REFUSED "unknown set 'blok' \(sets in force: block, empty\)" pw "$NS" set add blok 10.1.0.0/16
	REFUSED "'10\.31\.0\.0/16' is already in set 'block'; nothing was changed" pw "$NS" set add block 10.31.0.0/16
	REFUSED "'10\.99\.0\.0/16' is not in set 'block'; nothing was changed" pw "$NS" set del block 10.99.0.0/16
	REFUSED "host bits set in '10\.1\.2\.3/16'" pw "$NS" set add block 10.1.2.3/16
	REFUSED "missing prefix" pw "$NS" set add block
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refusals"
	ASSERT_OK pw "$NS" set flush empty
	ASSERT_EQ "$(pw "$NS" set list empty --json | jq '.sets[0].elements')" 0 "flushed"
	# rule flush keeps the sets
	ASSERT_OK pw "$NS" rule flush
	ASSERT_EQ "$(pw "$NS" set list --json | jq -c '[.sets[].name]')" '["block","empty"]' "sets after rule flush"
}

# Every frame is decided by the set before or after a change, counted once:
# exact totals while the set changes 20 times under traffic.
test_set_change_under_traffic() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/t.rules n=20000 out drop pass
	write "$f" "set block 10.11.0.0/16" "set other 198.51.100.0/24" "drop src @block" \
		"pass proto udp src @other dport 9"
	ASSERT_OK pw "$NS" rule apply "$f"
	bg gen "$NS" -i veth1 -c "$n" -r 20000 -q
	for i in $(seq 1 10); do
		pw "$NS" set del block 10.11.0.0/16 >/dev/null || fail "set del $i"
		pw "$NS" set add block 10.11.0.0/16 >/dev/null || fail "set add $i"
	done
	wait "$BG_PID"
	out=$(settle "$NS" veth0 "$n")
	read -r drop _ pass _ <<<"$out"
	ASSERT_EQ "$((drop + pass))" "$n" "every frame decided once"
	ASSERT_GE "$drop" 1 "frames dropped while in the set"
	ASSERT_EQ "$(cnt "$NS" "drop src @block")" "$drop $((drop * 64))" "rule counter = XDP_DROP count"
	ASSERT_EQ "$(cnt "$NS" "pass proto udp src @other dport 9")" "0 0" "the other rule untouched"
}

# ---- rule placement ----

test_rule_add_positions() {
	setup_loaded || { fail setup; return; }
	local id
	ASSERT_OK pw "$NS" rule add drop proto udp src 10.11.0.0/16 dport 9
	ASSERT_OK pw "$NS" rule add drop src 10.40.0.0/16
	ASSERT_OK pw "$NS" rule add pass proto udp src 10.11.0.2 dport 9 --first
	id=$(rule_id "$NS" "drop proto udp src 10.11.0.0/16 dport 9")
	ASSERT_OK pw "$NS" rule add pass proto udp src 10.11.0.3 dport 9 --before "$id"
	ASSERT_OK pw "$NS" rule add drop proto tcp dport "{80,443}"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[].rule] | join("|")')" \
		"pass proto udp src 10.11.0.2/32 dport 9|pass proto udp src 10.11.0.3/32 dport 9|drop proto udp src 10.11.0.0/16 dport 9|drop src 10.40.0.0/16|drop proto tcp dport {80,443}" \
		"evaluation order"
	send "$NS" veth1 6 --src 10.11.0.2          # first rule: pass
	send "$NS" veth1 5 --src 10.11.0.3          # placed before: pass
	send "$NS" veth1 4 --src 10.11.0.4          # drop
	ASSERT_EQ "$(settle "$NS" veth0 15)" "4 256 11 704" "verdicts follow the order"
	local s
	s=$(state "$NS")
	REFUSED "a single-match rule joins the prefix table" pw "$NS" rule add drop src 10.41.0.0/16 --first
	REFUSED "no rule with id 99999" pw "$NS" rule add drop proto tcp src 10.42.0.0/16 dport 1 --before 99999
	REFUSED "duplicate rule 'drop proto tcp dport \{80,443\}'" pw "$NS" rule add drop proto tcp dport "{80,443}"
	REFUSED "conflicting rule 'pass proto tcp dport \{80,443\}'" pw "$NS" rule add pass proto tcp dport "{443, 80}"
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refusals"
	ASSERT_OK pw "$NS" rule del pass proto udp src 10.11.0.2 dport 9
	ASSERT_EQ "$(rule_id "$NS" "pass proto udp src 10.11.0.2/32 dport 9")" "" "deleted"
}

# ---- refusals: FILE:LINE and the offending token; nothing applied ----

test_file_errors() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/bad.rules s
	write "$T_TMP/ok.rules" "set a 10.50.0.0/16" "drop src @a proto udp"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/ok.rules"
	s=$(state "$NS")
	bad() { # REGEX LINE...: a file of these lines is refused with REGEX
		local re=$1
		shift
		write "$f" "# candidate" "$@"
		REFUSED "$re" pw "$NS" rule apply "$f"
	}
	bad "$f:2: unknown set '@nope': define it" "drop src @nope dport 1"
	bad "$f:2: unknown set '@late'" "drop src @late dport 1" "set late 10.0.0.0/8"
	bad "$f:3: duplicate set 'x' \(first at $f:2\)" "set x 10.0.0.0/8" "set x 10.1.0.0/16"
	bad "$f:3: rule 'drop proto icmp src @v6' can never match" "set v6 fd00::/16" "drop proto icmp src @v6"
	bad "$f:2: src '10\.0\.0\.0/8' is IPv4 but dst 'fd00::/8' is IPv6: the rule can never match" "drop src 10.0.0.0/8 dst fd00::/8"
	bad "$f:2: ports need proto tcp or udp \(or no proto\), not 'icmp'" "drop proto icmp dport {1,2}"
	bad "$f:4: single-match rule 'drop src 10\.3\.0\.0/16' is written after the ordered rule at $f:3" \
		"drop src 10.2.0.0/16" "drop proto udp src 10.1.0.0/16 dport 9" "drop src 10.3.0.0/16"
	bad "$f:2: 'src' given twice" "drop src 10.0.0.0/8 src 10.1.0.0/16"
	bad "$f:2: invalid set name '@1x'" "drop src @1x proto tcp"
	bad "$f:2: too many ports after 'dport': at most 16" \
		"drop dport {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}"
	printf '10.0.0.0/8\nnot-a-prefix\n' >"$T_TMP/set.txt"
	bad "$T_TMP/set.txt:2: invalid address 'not-a-prefix'" "set s file set.txt" "drop src @s proto tcp"
	bad "set file '$T_TMP/missing.txt': No such file" "set s file missing.txt"
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refused files"
	# a shadowed rule is applied, with a warning
	write "$f" "drop proto udp src 10.0.0.0/8" "pass proto udp src 10.1.0.0/16 dport 9"
	ASSERT_OK pw "$NS" rule apply "$f"
	ASSERT_MATCH "$(pw "$NS" rule apply "$f" 2>&1 >/dev/null)" \
		"warning: $f:2: rule 'pass proto udp src 10\.1\.0\.0/16 dport 9' can never match: the earlier rule 'drop proto udp src 10\.0\.0\.0/8'" \
		"shadowed rule warning"
}

# ---- rule maps of an earlier version ----

# Rule maps pinned before ordered rules existed (no pw_ord, pw_nodes, ...):
# the single-match rules in them read and decide as before, and the next
# rule command adds the missing maps.
test_older_rule_maps() {
	setup || { fail setup; return; }
	local m
	write "$T_TMP/old.rules" "drop src 10.11.0.0/16" "pass dport 9"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/old.rules"
	for m in pw_ord pw_nodes pw_ord_rules pw_sets pw_set_elems; do
		rm -f "$ROOT/shared/$m"
	done
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[].rule] | join("|")')" \
		"drop src 10.11.0.0/16|pass dport 9" "rules readable without the new maps"
	ASSERT_OK pw "$NS" load veth0
	for m in pw_ord pw_nodes pw_ord_rules pw_sets pw_set_elems; do
		[ -e "$ROOT/shared/$m" ] || fail "load did not pin $m"
	done
	send "$NS" veth1 10                  # src 10.11.0.2: drop
	ASSERT_EQ "$(settle "$NS" veth0 10)" "10 640 0 0" "the old rules decide"
	ASSERT_OK pw "$NS" rule add drop proto tcp src 10.12.0.0/16 dport 22
	ASSERT_EQ "$(pw "$NS" rule list --json | jq '.rules | length')" 3 "ordered rule added"
}

run_tests
