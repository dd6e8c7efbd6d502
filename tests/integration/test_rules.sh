#!/usr/bin/env bash
# The rule commands (rule add|del|list|apply|flush|policy) with real frames on
# veth pairs: exact XDP action counts and exact per-rule counters, rules
# shared by every interface and kept across reload/unload, apply summaries
# and atomicity under traffic, refusals of bad input (nothing applied), the
# policy-flip and SSH lock-out guards, list sorting/filtering and flush.
. "$(dirname "$0")/lib.sh"

# the lock-out guard must only see the sessions the subtests make up
unset SSH_CONNECTION

. "$(dirname "$0")/rules_lib.sh"

# ---- matching: exact verdicts and per-rule counters ----

test_v4_src_dst_cidr() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/v4.rules
	write "$f" "drop src 10.11.0.0/16" "pass src 10.11.7.0/24" "pass src 10.11.128.0/17" \
		"drop src 10.11.7.42" "drop dst 10.99.0.0/16" "pass dst 10.99.5.5/32" "drop dst 172.16.0.0/12"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 100                                         # src /16: drop
	send "$NS" veth1 50 --src 10.11.7.9 -s 100                   # src /24 beats /16: pass
	send "$NS" veth1 7 --src 10.11.7.42 -s 80                    # bare address = /32: drop
	send "$NS" veth1 30 --src 10.11.200.1                        # /17: pass
	send "$NS" veth1 40 --dst 10.99.5.5                          # src rule beats dst rule: drop
	send "$NS" veth1 20 --src 10.12.0.2 --dst 10.99.5.5 -s 70    # dst /32: pass
	send "$NS" veth1 25 --src 10.12.0.2 --dst 10.99.1.1          # dst /16: drop
	send "$NS" veth1 15 --src 10.12.0.2 --dst 172.20.3.4 -p tcp  # dst /12 (spans chunks): drop
	send "$NS" veth1 10 --src 10.12.0.2                          # no rule: policy allow
	send "$NS" veth1 12 --src 172.31.0.1                         # a dst rule is not a src rule
	ASSERT_EQ "$(settle "$NS" veth0 309)" \
		"187 $((140 * 64 + 7 * 80 + 25 * 64 + 15 * 64)) 122 $((50 * 100 + 30 * 64 + 20 * 70 + 22 * 64))" \
		"XDP_DROP/XDP_PASS packets and bytes"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src 10.11.0.0/16 140 $((140 * 64))
pass src 10.11.7.0/24 50 5000
pass src 10.11.128.0/17 30 $((30 * 64))
drop src 10.11.7.42/32 7 560
drop dst 10.99.0.0/16 25 $((25 * 64))
pass dst 10.99.5.5/32 20 1400
drop dst 172.16.0.0/12 15 $((15 * 64))
EOF
)" "per-rule counters"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -c .total)" \
		"{\"rules\":7,\"packets\":287,\"bytes\":$((140 * 64 + 5000 + 30 * 64 + 560 + 25 * 64 + 1400 + 15 * 64))}" \
		"JSON total"
}

test_v6_src_dst_cidr() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/v6.rules
	write "$f" "drop src fd00:11::/64" "pass src fd00:11::2" "pass src fd00:11:0:0:8000::/65" \
		"drop dst fd00:99::/32" "pass dst fd00:99:0:5::/64" "drop dst 2001::/16" \
		"drop src 10.11.0.0/16"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 60 -6 -s 90                                    # /128: pass
	send "$NS" veth1 30 -6 --src fd00:11::3                         # /64: drop
	send "$NS" veth1 8 -6 --src fd00:11::3 -p icmp                  # /64 whatever the protocol
	send "$NS" veth1 20 -6 --src fd00:11::8000:0:0:1                # /65: pass
	send "$NS" veth1 25 -6 --src fd00:12::2 --dst fd00:99::1        # dst /32: drop
	send "$NS" veth1 15 -6 --src fd00:12::2 --dst fd00:99:0:5::9    # dst /64: pass
	send "$NS" veth1 10 -6 --src fd00:12::2 --dst 2001:db8::1        # dst /16: drop
	send "$NS" veth1 5 -6 --src fd00:12::2                          # no rule: policy allow
	send "$NS" veth1 40                                             # IPv4 rule, IPv4 frame: drop
	ASSERT_EQ "$(settle "$NS" veth0 213)" "113 $((113 * 64)) 100 $((60 * 90 + 40 * 64))" \
		"XDP_DROP/XDP_PASS packets and bytes"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src fd00:11::/64 38 $((38 * 64))
pass src fd00:11::2/128 60 5400
pass src fd00:11:0:0:8000::/65 20 $((20 * 64))
drop dst fd00:99::/32 25 $((25 * 64))
pass dst fd00:99:0:5::/64 15 $((15 * 64))
drop dst 2001::/16 10 640
drop src 10.11.0.0/16 40 $((40 * 64))
EOF
)" "per-rule counters"
}

test_proto_and_ports() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/ports.rules
	write "$f" "drop dport 1000-1999" "pass dport 1500" "drop proto tcp dport 1500" \
		"drop sport 5000-5009" "pass proto udp sport 5005" "drop proto udp" "drop proto icmp" \
		"drop proto 58" "pass dport 65535" "drop proto tcp sport 0"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 30 --dport 1200                     # range: drop
	send "$NS" veth1 20 --dport 1500 -s 100              # nested narrower range wins: pass
	send "$NS" veth1 4 -6 --dport 1500                   # port rules apply to IPv6 too
	send "$NS" veth1 15 -p tcp --dport 1500              # equal range: tcp-only rule wins for tcp
	send "$NS" veth1 10 -p tcp --dport 1999              # upper bound: drop
	send "$NS" veth1 5 -p tcp --dport 2000               # just outside: no rule, policy allow
	# sports 4995..5014, 10 frames each: 5000-5009 drop, but 5005 (udp) pass;
	# the 100 others only match 'drop proto udp' (dport 9 has no rule)
	send "$NS" veth1 200 --sport 4995 --sport-range 20
	send "$NS" veth1 8 -p tcp --sport 5005               # 'pass proto udp sport 5005' is udp only
	send "$NS" veth1 6 -p tcp --sport 5005 --dport 1200  # dport beats sport
	send "$NS" veth1 12 -p icmp --sport 5003             # port rules never match icmp (echo id 5003)
	send "$NS" veth1 6 -6 -p icmp                        # 'proto icmp' is not ICMPv6 (58)
	send "$NS" veth1 3 --dport 65535                     # top port
	send "$NS" veth1 2 -p tcp --sport 0                  # port 0
	ASSERT_EQ "$(settle "$NS" veth0 321)" "279 $((279 * 64)) 42 $((20 * 100 + 22 * 64))" \
		"XDP_DROP/XDP_PASS packets and bytes"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop dport 1000-1999 46 $((46 * 64))
pass dport 1500 24 $((20 * 100 + 4 * 64))
drop proto tcp dport 1500 15 $((15 * 64))
drop sport 5000-5009 98 $((98 * 64))
pass proto udp sport 5005 10 640
drop proto udp 100 6400
drop proto icmp 12 $((12 * 64))
drop proto icmpv6 6 $((6 * 64))
pass dport 65535 3 192
drop proto tcp sport 0 2 128
EOF
)" "per-rule counters"
}

# Non-IP frames never meet rules or the policy.
# non-IP frames: no rule matches them; the policy decides, but ARP always passes
test_non_ip_policy_arp_passes() {
	setup_loaded || { fail setup; return; }
	ASSERT_OK pw "$NS" rule policy deny
	ASSERT_OK pw "$NS" rule add drop proto 0
	# 25 ARP-typed frames (ethertype 0x0806) and 5 LLDP-typed (0x88cc), 60 bytes
	ip netns exec "$NS" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth1", 0))
f = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x06" + b"\x00" * 46
for _ in range(25):
    s.send(f)
f = b"\x01\x80\xc2\x00\x00\x0e" + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xcc" + b"\x00" * 46
for _ in range(5):
    s.send(f)
' || { fail "sending ARP and LLDP frames"; return; }
	send "$NS" veth1 10
	ASSERT_EQ "$(settle "$NS" veth0 40)" "15 940 25 1500" "ARP passes; LLDP and IP meet the policy"
	ASSERT_EQ "$(cnt "$NS" "drop proto 0")" "0 0" "no rule counted a non-IP frame"
}

# ---- where rules live ----

test_shared_by_interfaces_and_kept() {
	setup || { fail setup; return; }
	veth_new "$NS" veth2 veth3 || { fail "second veth pair"; return; }
	local id1 id2 out
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" load veth2
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule add pass dport 9
	send "$NS" veth1 100
	send "$NS" veth3 50
	send "$NS" veth3 7 --src 10.12.0.2
	ASSERT_EQ "$(settle "$NS" veth0 100)" "100 6400 0 0" "veth0 drops"
	ASSERT_EQ "$(settle "$NS" veth2 57)" "50 3200 7 448" "veth2 drops and passes by the same set"
	ASSERT_EQ "$(cnt "$NS" "drop src 10.11.0.0/16")" "150 9600" "one counter for both interfaces"
	ASSERT_EQ "$(cnt "$NS" "pass dport 9")" "7 448" "pass rule counter"
	id1=$(pw "$NS" rule list --json | jq -c '[.rules[] | [.id, .rule, .packets]]')
	# reload keeps rules, ids and counters
	ASSERT_OK pw "$NS" reload veth0
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -c '[.rules[] | [.id, .rule, .packets]]')" "$id1" \
		"rules, ids and counters after reload"
	send "$NS" veth1 30
	ASSERT_EQ "$(settle "$NS" veth0 130)" "130 8320 0 0" "reloaded veth0 still drops"
	ASSERT_EQ "$(cnt "$NS" "drop src 10.11.0.0/16")" "180 11520" "counter continues after reload"
	# unload of every interface keeps the rule set and its counters
	ASSERT_OK pw "$NS" unload veth0
	out=$(pw "$NS" unload veth2)
	out=$(grep ' pw_rules ' <<<"$out")
	ASSERT_MATCH "$out" "^  map pw_rules +kept" "last unload keeps the rule maps"
	# nothing else is loaded: that is not why they stay
	ASSERT_NOMATCH "$out" "used by another interface" "reason the last unload gives for keeping pw_rules"
	id2=$(pw "$NS" rule list --json | jq -c '[.rules[] | [.id, .rule]]')
	ASSERT_EQ "$id2" "$(jq -c '[.[] | [.[0], .[1]]]' <<<"$id1")" "rules after unloading everything"
	ASSERT_EQ "$(cnt "$NS" "drop src 10.11.0.0/16")" "180 11520" "counter after unloading everything"
	# a new load uses them
	ASSERT_OK pw "$NS" load veth2
	send "$NS" veth3 20
	send "$NS" veth3 4 --src 10.12.0.2
	ASSERT_EQ "$(settle "$NS" veth2 24)" "20 1280 4 256" "new load applies the kept rules"
	ASSERT_EQ "$(cnt "$NS" "drop src 10.11.0.0/16")" "200 12800" "counter continues after a new load"
	ASSERT_EQ "$(cnt "$NS" "pass dport 9")" "11 704" "pass counter continues after a new load"
}

test_rules_before_load() {
	setup || { fail setup; return; }
	ERR1 "no rules configured" pw "$NS" rule list
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule add pass proto tcp dport 80
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[].rule] | join(",")')" \
		"drop src 10.11.0.0/16,pass proto tcp dport 80" "rules configured with nothing loaded"
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp // empty')" "" "nothing attached yet"
	ASSERT_OK pw "$NS" load veth0
	send "$NS" veth1 100
	send "$NS" veth1 10 -p tcp --dport 80 --src 10.12.0.2
	ASSERT_EQ "$(settle "$NS" veth0 110)" "100 6400 10 640" "the load applies them"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src 10.11.0.0/16 100 6400
pass proto tcp dport 80 10 640
EOF
)" "per-rule counters"
}

# ---- rule apply ----

test_apply_file() {
	setup_loaded || { fail setup; return; }
	local f1=$T_TMP/site.rules f2=$T_TMP/site2.rules j l1 g out
	cat >"$f1" <<'EOF'
# site rules
policy allow

drop src 10.11.0.0/16   # the lab
	pass dport 53
  # indented comment
drop proto icmp
EOF
	j=$(pw "$NS" rule apply "$f1" --json)
	ASSERT_EQ "$(jq -c '[.changed, .added, .removed, .kept, .rules, .policy]' <<<"$j")" \
		'[true,3,0,0,3,"allow"]' "first apply summary"
	send "$NS" veth1 100
	send "$NS" veth1 10 --src 10.12.0.2 --dport 53
	send "$NS" veth1 5 --src 10.12.0.2 -p icmp
	ASSERT_EQ "$(settle "$NS" veth0 115)" "105 6720 10 640" "verdicts of the first set"
	l1=$(pw "$NS" rule list --json)
	g=$(generation)
	# the same file again: no change at all
	j=$(pw "$NS" rule apply "$f1" --json)
	ASSERT_EQ "$(jq -c '[.changed, .added, .removed, .kept, .rules]' <<<"$j")" \
		'[false,0,0,3,3]' "same file again: summary"
	out=$(pw "$NS" rule apply "$f1")
	ASSERT_EQ "$out" "no change: $f1 already in force (3 rules, policy allow)" "same file again: text"
	ASSERT_EQ "$(pw "$NS" rule list --json)" "$l1" "ids and counters after applying the same file"
	ASSERT_EQ "$(generation)" "$g" "rule set generation after applying the same file"
	# another set: keeps two (in another order), drops one, adds one
	write "$f2" "drop proto icmp" "drop dst 10.99.0.0/16" "" "drop src 10.11.0.0/16"
	out=$(pw "$NS" rule apply "$f2")
	ASSERT_MATCH "$out" "^$f2: added 1, removed 1, kept 2; 3 rules, policy allow; in force after [0-9.]+ ms$" \
		"summary text"
	ASSERT_EQ "$(rule_id "$NS" "drop src 10.11.0.0/16")" "$(jq -r '.rules[] | select(.rule == "drop src 10.11.0.0/16") | .id' <<<"$l1")" \
		"kept rule keeps its id"
	ASSERT_EQ "$(rule_id "$NS" "drop proto icmp")" "$(jq -r '.rules[] | select(.rule == "drop proto icmp") | .id' <<<"$l1")" \
		"kept rule keeps its id"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src 10.11.0.0/16 100 6400
drop proto icmp 5 320
drop dst 10.99.0.0/16 0 0
EOF
)" "kept counters, new rule at zero, removed rule gone"
	send "$NS" veth1 50
	send "$NS" veth1 10 --src 10.12.0.2 --dport 53    # its rule is gone: policy allow
	send "$NS" veth1 3 --src 10.12.0.2 --dst 10.99.0.7
	ASSERT_EQ "$(settle "$NS" veth0 178)" "158 $((158 * 64)) 20 1280" "verdicts of the second set"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src 10.11.0.0/16 150 9600
drop proto icmp 5 320
drop dst 10.99.0.0/16 3 192
EOF
)" "counters continue across the apply"
	# back to the first file: the re-added rule starts from zero
	j=$(pw "$NS" rule apply "$f1" --json)
	ASSERT_EQ "$(jq -c '[.changed, .added, .removed, .kept]' <<<"$j")" '[true,1,1,2]' "back to the first file"
	ASSERT_EQ "$(cnt "$NS" "pass dport 53")" "0 0" "a removed rule does not come back with its old counter"
	# rule del: exact match, the others keep their counters
	ASSERT_OK pw "$NS" rule del drop proto icmp
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
drop src 10.11.0.0/16 150 9600
pass dport 53 0 0
EOF
)" "after rule del"
	# '-' reads the rule file from stdin
	j=$(printf 'drop src 10.11.0.0/16\npass dport 53\n' | pw "$NS" rule apply - --json)
	ASSERT_EQ "$(jq -c '[.changed, .kept]' <<<"$j")" '[false,2]' "apply from stdin: same set"
}

# Two sets that classify the traffic differently, applied again and again
# while frames flow. Stream L (sports 40000-40049) is decided in both sets by
# the kept rule 'pass sport 40000-40049'; stream U (dst 10.11.0.77, sports
# 40050-40099) by 'drop sport 40050-40099' in A and by 'drop dst
# 10.11.0.77/32' in B. The policy is allow: a frame that met a half-switched
# set (tables of one set, rules of the other, a rule freed too early) falls
# through to the policy and passes uncounted by any rule, so it shows as
# XDP_PASS above the L count or as a kept-rule count below it.
test_atomic_apply_under_traffic() {
	setup_loaded || { fail setup; return; }
	local a=$T_TMP/A.rules b=$T_TMP/B.rules gl gu sl su n=0 bad=0 j f
	write "$a" "policy allow" "pass sport 40000-40049" "drop sport 40050-40099"
	write "$b" "policy allow" "pass sport 40000-40049" "drop dst 10.11.0.77"
	ASSERT_OK pw "$NS" rule apply "$a"
	# 2 x 10000 frames/s until stopped (at most 20 s)
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -d 20 -r 10000 \
		--sport 40000 --sport-range 50 --json >"$T_TMP/genL"
	gl=$BG_PID
	bg nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -c 0 -d 20 -r 10000 \
		--dst 10.11.0.77 --sport 40050 --sport-range 50 --json >"$T_TMP/genU"
	gu=$BG_PID
	sleep 0.2
	SECONDS=0
	# B then A, again and again: at least 3 s and 12 applies
	while kill -0 "$gl" 2>/dev/null && kill -0 "$gu" 2>/dev/null &&
		{ [ "$n" -lt 12 ] || [ "$SECONDS" -lt 3 ]; }; do
		for f in "$b" "$a"; do
			j=$(pw "$NS" rule apply "$f" --json) || { bad=$((bad + 1)); continue; }
			[ "$(jq -c '[.changed, .added, .removed, .kept]' <<<"$j")" == '[true,1,1,1]' ] ||
				{ bad=$((bad + 1)); echo "    unexpected summary: $j"; }
			n=$((n + 1))
		done
	done
	sleep 0.2
	kill -INT "$gl" "$gu"
	wait "$gl"
	ASSERT_EQ "$?" 0 "pwgen L exit status"
	wait "$gu"
	ASSERT_EQ "$?" 0 "pwgen U exit status"
	sl=$(jq .sent "$T_TMP/genL")
	su=$(jq .sent "$T_TMP/genU")
	ASSERT_GE "$sl" 20000 "L frames sent"
	ASSERT_GE "$su" 20000 "U frames sent"
	echo "    $n applies during $sl + $su frames"
	ASSERT_GE "$n" 10 "applies during the traffic"
	ASSERT_EQ "$bad" 0 "failed or unexpected applies"
	ASSERT_EQ "$(settle "$NS" veth0 $((sl + su)))" "$su $((su * 64)) $sl $((sl * 64))" \
		"XDP_DROP == U frames, XDP_PASS == L frames (sum == sent)"
	ASSERT_EQ "$(cnt "$NS" "pass sport 40000-40049")" "$sl $((sl * 64))" \
		"the kept rule decided every L frame across $n applies"
	# the set in force now is A; its own drop rule counted only U frames
	j=$(cnt "$NS" "drop sport 40050-40099")
	ASSERT_LE "${j%% *}" "$su" "A's drop rule count"
	ASSERT_GE "${j%% *}" 1 "A's drop rule count"
	# and once traffic stops, the set in force decides every frame by a rule
	f=$(pw "$NS" rule list --json | jq .total.packets)
	send "$NS" veth1 500 --sport 40000 --sport-range 50
	send "$NS" veth1 500 --dst 10.11.0.77 --sport 40050 --sport-range 50
	settle "$NS" veth0 $((sl + su + 1000)) >/dev/null
	ASSERT_EQ "$(pw "$NS" rule list --json | jq .total.packets)" "$((f + 1000))" \
		"rule counters == frames decided by rules"
}

# ---- bad input: refused, nothing applied ----

test_bad_rules() {
	setup_loaded || { fail setup; return; }
	local s r
	write "$T_TMP/base.rules" "drop src 10.11.0.0/16" "drop dport 10-20" "pass proto tcp"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/base.rules"
	send "$NS" veth1 10
	settle "$NS" veth0 10 >/dev/null
	s=$(state "$NS")
	REFUSED "invalid prefix length '/33': IPv4 takes /0 to /32" pw "$NS" rule add drop src 10.11.0.0/33
	REFUSED "invalid prefix length '/129': IPv6 takes /0 to /128" pw "$NS" rule add drop dst fd00::/129
	REFUSED "invalid prefix length '/x'" pw "$NS" rule add drop src 10.11.0.0/x
	REFUSED "invalid address '10\.300\.0\.0' in '10\.300\.0\.0/16'" pw "$NS" rule add drop src 10.300.0.0/16
	REFUSED "host bits set in '10\.11\.0\.1/16': did you mean 10\.11\.0\.0/16\?" \
		pw "$NS" rule add drop src 10.11.0.1/16
	REFUSED "host bits set in 'fd00:11::1/64': did you mean fd00:11::/64\?" \
		pw "$NS" rule add pass dst fd00:11::1/64
	REFUSED "invalid port '65536' after 'dport': 0-65535, LOW-HIGH or \{P,\.\.\.\}" pw "$NS" rule add drop dport 65536
	REFUSED "invalid port '100-70000'" pw "$NS" rule add drop sport 100-70000
	REFUSED "reversed port range '20-10': write 10-20" pw "$NS" rule add drop dport 20-10
	REFUSED "unknown protocol 'foo'" pw "$NS" rule add drop proto foo
	REFUSED "unknown protocol '256'" pw "$NS" rule add drop proto 256
	REFUSED "ports need proto tcp or udp \(or no proto\), not 'icmp'" pw "$NS" rule add drop proto icmp dport 9
	REFUSED "duplicate rule 'drop src 10\.11\.0\.0/16'" pw "$NS" rule add drop src 10.11.0.0/16
	REFUSED "conflicting rule 'pass src 10\.11\.0\.0/16'.*'drop src 10\.11\.0\.0/16'" \
		pw "$NS" rule add pass src 10.11.0.0/16
	REFUSED "conflicting rule 'drop dport 15-30': its ports partly overlap 'drop dport 10-20'" \
		pw "$NS" rule add drop dport 15-30
	REFUSED "conflicting rule 'pass proto udp dport 5-10': its ports partly overlap 'drop dport 10-20'" \
		pw "$NS" rule add pass proto udp dport 5-10
	REFUSED "unknown action 'block': use drop, pass or limit" pw "$NS" rule add block src 10.12.0.0/16
	REFUSED "unknown match 'port'" pw "$NS" rule add drop port 9
	REFUSED "unexpected '9' after 'sport 1-5'" pw "$NS" rule add drop sport 1-5 9
	REFUSED "no such rule 'drop dport 99'" pw "$NS" rule del drop dport 99
	REFUSED "no such rule 'pass src 10\.11\.0\.0/16'" pw "$NS" rule del pass src 10.11.0.0/16
	ASSERT_EQ "$(state "$NS")" "$s" "rule set after refused rule add/del"
	# files: FILE:LINE, and none of the file is applied (the good lines
	# before the bad one would change the set)
	local f=$T_TMP/bad.rules
	bad() { # REGEX LINE...: the file of these lines is refused with REGEX
		local re=$1
		shift
		write "$f" "# candidate" "drop src 10.12.0.0/16" "$@"
		REFUSED "$re" pw "$NS" rule apply "$f"
	}
	bad "$f:3: invalid prefix length '/40'" "drop dst 10.0.0.0/40"
	bad "$f:3: invalid address '10\.0\.0' in '10\.0\.0/8'" "drop src 10.0.0/8"
	bad "$f:4: host bits set in '192\.168\.1\.0/16': did you mean 192\.168\.0\.0/16\?" \
		"pass dport 80" "drop src 192.168.1.0/16"
	bad "$f:3: invalid port '99999'" "drop sport 99999"
	bad "$f:3: reversed port range '443-80': write 80-443" "pass dport 443-80"
	bad "$f:3: unknown protocol 'tpc'" "pass proto tpc"
	bad "$f:5: duplicate rule 'drop src 10\.12\.0\.0/16' \(first at $f:2\)" "pass dport 80" "" \
		"drop src 10.12.0.0/16"
	bad "$f:3: conflicting rule 'pass src 10\.12\.0\.0/16' \(first at $f:2\)" "pass src 10.12.0.0/16"
	bad "$f:4: conflicting rule 'drop dport 1000-3000': its ports partly overlap 'pass dport 2000-4000' \($f:3\)" \
		"pass dport 2000-4000" "drop dport 1000-3000"
	bad "$f:3: unknown action 'deny'" "deny src 10.13.0.0/16"
	bad "$f:3: unknown match 'from'" "drop from 10.13.0.0/16"
	bad "$f:3: unknown policy 'block'" "policy block"
	REFUSED "rule file '$T_TMP/nosuch.rules': No such file or directory" pw "$NS" rule apply "$T_TMP/nosuch.rules"
	ASSERT_EQ "$(state "$NS")" "$s" "rule set after refused files"
	# and the set in force still decides as before
	send "$NS" veth1 5
	ASSERT_EQ "$(settle "$NS" veth0 15)" "15 960 0 0" "verdicts after the refusals"
}

# ---- policy ----

test_policy() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/deny.rules
	ASSERT_EQ "$(pw "$NS" rule policy)" "policy allow" "default policy"
	ASSERT_OK pw "$NS" rule policy deny     # no rules in force: no guard
	ASSERT_EQ "$(pw "$NS" rule policy --json | jq -r .policy)" deny "policy after 'rule policy deny'"
	send "$NS" veth1 20
	ASSERT_EQ "$(settle "$NS" veth0 20)" "20 1280 0 0" "policy deny, no rules: IP dropped"
	ASSERT_OK pw "$NS" rule add pass src 10.11.0.0/24
	ASSERT_OK pw "$NS" rule add pass proto icmp
	send "$NS" veth1 30
	send "$NS" veth1 10 --src 10.12.0.2
	send "$NS" veth1 4 --src 10.12.0.2 -p icmp
	ASSERT_EQ "$(settle "$NS" veth0 64)" "30 1920 34 2176" "only pass rules let traffic through"
	ASSERT_EQ "$(rules "$NS")" "$(sort <<EOF
pass src 10.11.0.0/24 30 1920
pass proto icmp 4 256
EOF
)" "pass rule counters"
	# rules in force: flipping the policy needs --change-policy
	local s
	s=$(state "$NS")
	REFUSED "the 2 rules in force use policy deny: add --change-policy to change it to allow" \
		pw "$NS" rule policy allow
	write "$f" "policy allow" "pass src 10.11.0.0/24"
	REFUSED "'$f' sets policy allow but the 2 rules in force use policy deny: add --change-policy to change it" \
		pw "$NS" rule apply "$f"
	write "$T_TMP/d2.rules" "policy deny"
	REFUSED "--policy allow contradicts 'policy deny' in '$T_TMP/d2.rules'" \
		pw "$NS" rule apply "$T_TMP/d2.rules" --policy allow
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refused flips"
	# a file without a policy line keeps the policy in force
	write "$f" "pass src 10.11.0.0/24"
	ASSERT_EQ "$(pw "$NS" rule apply "$f" --json | jq -c '[.changed, .removed, .policy]')" \
		'[true,1,"deny"]' "file without a policy line"
	ASSERT_OK pw "$NS" rule policy allow --change-policy
	ASSERT_EQ "$(pw "$NS" rule policy)" "policy allow" "policy after --change-policy"
	# from allow with rules in force: 'policy deny' in a file
	write "$f" "policy deny" "pass src 10.11.0.0/24" "pass dport 7"
	s=$(state "$NS")
	REFUSED "'$f' sets policy deny but the 1 rules in force use policy allow: add --change-policy" \
		pw "$NS" rule apply "$f"
	REFUSED "the 1 rules in force use policy allow: add --change-policy to change it to deny" \
		pw "$NS" rule policy deny
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refused flips"
	ASSERT_EQ "$(pw "$NS" rule apply "$f" --change-policy --json | jq -c '[.changed, .added, .kept, .policy]')" \
		'[true,1,1,"deny"]' "apply with --change-policy"
	send "$NS" veth1 10                           # pass src
	send "$NS" veth1 6 --src 10.12.0.2 --dport 7  # pass dport 7
	send "$NS" veth1 8 --src 10.12.0.2            # policy deny
	ASSERT_EQ "$(settle "$NS" veth0 88)" "$((30 + 8)) $((38 * 64)) 50 $((30 * 64 + 256 + 16 * 64))" \
		"verdicts under the new policy"
}

# ---- the SSH lock-out guard ----

SSH="10.11.0.2 40000 10.11.0.1 22"

pw_ssh() ( # pinwall run from the made-up SSH session $SSH
	export SSH_CONNECTION=$SSH
	pw "$@"
)

test_ssh_guard() {
	setup_loaded || { fail setup; return; }
	local s f=$T_TMP/ssh.rules
	ip -n "$NS" addr add 10.11.0.1/24 dev veth0 || { fail "address"; return; }
	s=$(state "$NS")
	REFUSED "rule 'drop src 10\.11\.0\.0/16' would drop your SSH session \(10\.11\.0\.2 port 40000 -> 10\.11\.0\.1 port 22 on 'veth0'\); nothing was changed \(use --force" \
		pw_ssh "$NS" rule add drop src 10.11.0.0/16
	REFUSED "rule 'drop proto tcp' would drop your SSH session" pw_ssh "$NS" rule add drop proto tcp
	REFUSED "policy deny would drop your SSH session \(10\.11\.0\.2 port 40000 -> 10\.11\.0\.1 port 22 on 'veth0'\)" \
		pw_ssh "$NS" rule policy deny
	write "$f" "policy deny" "pass src 10.12.0.0/16"
	REFUSED "policy deny would drop your SSH session" pw_ssh "$NS" rule apply "$f"
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refusals"
	# --force overrides; deleting the rule again is safe
	ASSERT_OK pw_ssh "$NS" rule add drop src 10.11.0.0/16 --force
	ASSERT_EQ "$(cnt "$NS" "drop src 10.11.0.0/16")" "0 0" "forced rule in force"
	ASSERT_OK pw_ssh "$NS" rule del drop src 10.11.0.0/16
	# a set that passes the session first is accepted, and the data path agrees
	write "$f" "policy deny" "pass proto tcp dport 22" "drop proto tcp"
	ASSERT_OK pw_ssh "$NS" rule apply "$f"
	send "$NS" veth1 10 -p tcp --dport 22
	send "$NS" veth1 5 -p tcp --dport 80
	send "$NS" veth1 3
	ASSERT_EQ "$(settle "$NS" veth0 18)" "8 512 10 640" "ssh passes, the rest drops"
	# a rule that outranks the port rule for the session is refused again
	s=$(state "$NS")
	REFUSED "rule 'drop dst 10\.11\.0\.1/32' would drop your SSH session" pw_ssh "$NS" rule add drop dst 10.11.0.1
	REFUSED "rule 'drop proto tcp' would drop your SSH session" pw_ssh "$NS" rule del pass proto tcp dport 22
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refusals"
	# a rule that does not match the session is fine
	ASSERT_OK pw_ssh "$NS" rule add drop src 10.11.1.0/24
	# another client's session: not refused
	ASSERT_OK pw "$NS" rule flush --force
	ASSERT_OK pw "$NS" rule policy allow
	ASSERT_OK env SSH_CONNECTION="10.50.0.9 40000 10.11.0.1 22" \
		"$PW" -n "$NS" --pin-root "$ROOT" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule flush
	# the server address on an interface pinwall does not run on: no refusal
	ip -n "$NS" addr del 10.11.0.1/24 dev veth0
	ip -n "$NS" addr add 10.11.0.1/24 dev veth1
	ASSERT_OK pw_ssh "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule flush
	# the address nowhere: the guard cannot tell, so it refuses (test_guard.sh has more)
	ip -n "$NS" addr del 10.11.0.1/24 dev veth1
	REFUSED "10\.11\.0\.1 is no address of any interface here; nothing was changed" \
		pw_ssh "$NS" rule add drop src 10.11.0.0/16
	# the address back on veth0 after unloading it: no refusal either
	ip -n "$NS" addr add 10.11.0.1/24 dev veth0
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_OK pw_ssh "$NS" rule add drop src 10.11.0.0/16
}

test_ssh_guard_v6() {
	setup_loaded || { fail setup; return; }
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.veth0.disable_ipv6=0 &&
		ip -n "$NS" addr add fd00:11::1/64 dev veth0 nodad || { fail "IPv6 address"; return; }
	local s
	s=$(state "$NS")
	REFUSED "rule 'drop src fd00:11::/64' would drop your SSH session \(fd00:11::2 port 5555 -> fd00:11::1 port 22 on 'veth0'\)" \
		env SSH_CONNECTION="fd00:11::2 5555 fd00:11::1 22" \
		"$PW" -n "$NS" --pin-root "$ROOT" rule add drop src fd00:11::/64
	ASSERT_EQ "$(state "$NS")" "$s" "nothing changed by the refusal"
	ASSERT_OK env SSH_CONNECTION="fd00:11::2 5555 fd00:11::1 22" \
		"$PW" -n "$NS" --pin-root "$ROOT" rule add drop src 10.11.0.0/16
}

# ---- rule list ----

test_list_sort_prefix() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/list.rules out
	write "$f" "drop src 10.0.0.0/8" "drop src 10.11.0.0/16" "pass src 10.11.7.0/24" "drop dst 10.11.9.0/24" \
		"drop src 10.12.0.0/16" "drop dst 10.99.0.0/16" "drop src 192.168.0.0/16" \
		"drop src fd00:11::/64" "drop proto icmp" "drop dport 53"
	ASSERT_OK pw "$NS" rule apply "$f"
	send "$NS" veth1 20 --src 10.13.0.2 -s 200              # /8: 20 pkts, 4000 B
	send "$NS" veth1 30                                     # 10.11/16: 30 pkts, 1920 B
	send "$NS" veth1 10 --src 10.11.7.1 -s 500              # /24: 10 pkts, 5000 B
	send "$NS" veth1 50 --src 10.12.0.2                     # 10.12/16: 50 pkts, 3200 B
	send "$NS" veth1 7 --src 172.16.0.1 --dst 10.99.0.1     # dst 10.99: 7
	send "$NS" veth1 4 --src 172.16.0.1 --dst 10.11.9.9     # dst 10.11.9/24: 4
	send "$NS" veth1 3 --src 192.168.1.1                    # 3
	settle "$NS" veth0 124 >/dev/null
	ASSERT_EQ "$(pw "$NS" rule list --sort hits --json | jq -r '[.rules[] | "\(.rule)=\(.packets)"] | join(",")')" \
		"drop src 10.12.0.0/16=50,drop src 10.11.0.0/16=30,drop src 10.0.0.0/8=20,pass src 10.11.7.0/24=10,drop dst 10.99.0.0/16=7,drop dst 10.11.9.0/24=4,drop src 192.168.0.0/16=3,drop src fd00:11::/64=0,drop proto icmp=0,drop dport 53=0" \
		"--sort hits: packets descending, then id"
	ASSERT_EQ "$(pw "$NS" rule list --sort bytes --json | jq -r '[.rules[] | .bytes] | join(",")')" \
		"5000,4000,3200,1920,448,256,192,0,0,0" "--sort bytes"
	ASSERT_EQ "$(pw "$NS" rule list --sort rule --json | jq -r '[.rules[] | .id] | . == sort')" true \
		"--sort rule: id order"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -r '[.rules[] | .id] | . == sort')" true \
		"default: id order"
	out=$(pw "$NS" rule list --sort hits)
	ASSERT_EQ "$(sed -n 3p <<<"$out" | awk '{print $2, $3, $4, $5, $6}')" "drop src 10.12.0.0/16 50 3200" \
		"text --sort hits: first rule line"
	ASSERT_MATCH "$(sed -n 1p <<<"$out")" "^policy allow, 10 rule\(s\)$" "text header"
	ASSERT_MATCH "$(tail -n1 <<<"$out")" "^total +124 +$((4000 + 1920 + 5000 + 3200 + 448 + 256 + 192))$" "text totals line"
	ASSERT_EQ "$(nlines "$out")" 13 "text: header, column titles, 10 rules, total"
	# --prefix: address rules inside the prefix, both directions
	ASSERT_EQ "$(pw "$NS" rule list --prefix 10.11.0.0/16 --json | jq -c '[[.rules[].rule], .total]')" \
		'[["drop src 10.11.0.0/16","pass src 10.11.7.0/24","drop dst 10.11.9.0/24"],{"rules":3,"packets":44,"bytes":7176}]' \
		"--prefix 10.11.0.0/16"
	out=$(pw "$NS" rule list --prefix 10.11.0.0/16)
	ASSERT_MATCH "$(sed -n 1p <<<"$out")" "^policy allow, 3 rule\(s\) in the prefix$" "text header with --prefix"
	ASSERT_MATCH "$(tail -n1 <<<"$out")" "^total +44 +7176$" "text totals with --prefix"
	ASSERT_EQ "$(pw "$NS" rule list --prefix 10.0.0.0/8 --json | jq .total.rules)" 6 "--prefix 10.0.0.0/8"
	ASSERT_EQ "$(pw "$NS" rule list --prefix fd00::/8 --json | jq -c '[.rules[].rule]')" '["drop src fd00:11::/64"]' \
		"--prefix fd00::/8"
	ASSERT_EQ "$(pw "$NS" rule list --prefix 10.11.7.0/24 --sort hits --json | jq -c '[.rules[].rule]')" \
		'["pass src 10.11.7.0/24"]' "--prefix with --sort"
	ASSERT_EQ "$(pw "$NS" rule list --prefix 172.16.0.0/12 --json | jq -c '[.rules, .total.rules]')" '[[],0]' \
		"--prefix with no rule inside"
	ERR1 "invalid --prefix '10\.11\.0\.1/16': host bits set" pw "$NS" rule list --prefix 10.11.0.1/16
	ASSERT_EQ "$LAST_RC" 2 "exit status of a bad --prefix"
	ERR1 "invalid sort key 'size'" pw "$NS" rule list --sort size
}

# ---- rule flush ----

test_flush() {
	setup_loaded || { fail setup; return; }
	local j
	write "$T_TMP/f.rules" "drop src 10.11.0.0/16" "drop dst 10.11.0.1" "drop dport 9" "drop proto udp"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/f.rules"
	send "$NS" veth1 40
	ASSERT_EQ "$(settle "$NS" veth0 40)" "40 2560 0 0" "dropped before the flush"
	j=$(pw "$NS" rule flush --json)
	ASSERT_EQ "$(jq -c '[.changed, .added, .removed, .kept, .rules, .policy]' <<<"$j")" \
		'[true,0,4,0,0,"allow"]' "flush summary"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq -c '[.rules, .total]')" '[[],{"rules":0,"packets":0,"bytes":0}]' \
		"rule list after flush"
	send "$NS" veth1 25
	ASSERT_EQ "$(settle "$NS" veth0 65)" "40 2560 25 1600" "traffic passes again"
	ASSERT_EQ "$(pw "$NS" rule flush --json | jq .changed)" false "flush of an empty set"
	# the same rules again start from zero
	ASSERT_OK pw "$NS" rule apply "$T_TMP/f.rules"
	ASSERT_EQ "$(pw "$NS" rule list --json | jq .total.packets)" 0 "counters after flush and re-apply"
}

run_tests
