#!/usr/bin/env bash
# The SSH lock-out guard on stacked devices: the session's address on a
# macvlan, VLAN, bridge or bond above the interface pinwall runs on is
# refused like the interface itself; a %zone picks the interface; when the
# guard cannot decide (bad SSH_CONNECTION, address on no interface) it
# refuses; --force overrides; an address with no pinwall below is allowed.
. "$(dirname "$0")/lib.sh"

# the guard must only see the sessions the subtests make up
unset SSH_CONNECTION

SSH4="10.11.0.2 40000 10.11.0.1 22"
DROP4="rule 'drop src 10\.11\.0\.0/16' would drop your SSH session \(10\.11\.0\.2 port 40000 -> 10\.11\.0\.1 port 22"
FIX="; nothing was changed \(use --force if you mean it\)$"

setup() {
	ns_new NS g && veth_new "$NS" veth0 veth1 && pw "$NS" load veth0 >/dev/null
}

# addr NS IFACE ADDR/LEN: the server address on IFACE, which is brought up
addr() {
	ip -n "$1" link set "$2" up && ip -n "$1" addr add "$3" dev "$2" nodad 2>/dev/null ||
		ip -n "$1" addr add "$3" dev "$2"
}

# v6 NS IFACE: IPv6 on for IFACE (the test namespaces have it off)
v6() {
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=0"
}

# ssh_pw SESSION NS ARGS...: pinwall run from SSH session SESSION
ssh_pw() {
	local s=$1 ns=$2
	shift 2
	SSH_CONNECTION=$s "$PW" -n "$ns" --pin-root "$ROOT" "$@"
}

rules() {
	pw "$1" rule list --json | jq -c '[.policy, [.rules[].rule]]'
}

# REFUSED REGEX SESSION NS ARGS...: one error line matching REGEX, nothing
# printed, the rules and the pins unchanged
REFUSED() {
	local re=$1 s=$2 ns=$3 before
	shift 3
	before=$(rules "$ns")
	ERR1 "$re" ssh_pw "$s" "$ns" "$@"
	ASSERT_EQ "$(rules "$ns")" "$before" "rules after the refused '$*' from '$s'"
}

# ALLOWED SESSION NS ARGS...: the command succeeds (the caller undoes it)
ALLOWED() {
	local s=$1
	shift
	ASSERT_OK ssh_pw "$s" "$@"
}

# kind_available ARGS...: can this kernel make 'ip link add name p0 ARGS' on a veth?
kind_available() {
	local ns=$T_ID-probe ok=1
	ip netns add "$ns" || return 1
	T_NETNS+=("$ns")
	ip -n "$ns" link add v0 type veth peer name v1 &&
		ip -n "$ns" link add name p0 "$@" 2>/dev/null && ok=0
	ip netns del "$ns"
	T_NETNS=()
	return $ok
}

test_macvlan() {
	setup || { fail setup; return; }
	ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge && addr "$NS" mv0 10.11.0.1/24 ||
		{ fail macvlan; return; }
	REFUSED "$DROP4 on 'mv0' via 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	REFUSED "policy deny would drop your SSH session \(10\.11\.0\.2 port 40000 -> 10\.11\.0\.1 port 22 on 'mv0' via 'veth0'\)$FIX" \
		"$SSH4" "$NS" rule policy deny
	# a set that passes the session first is fine; taking that away is not
	ALLOWED "$SSH4" "$NS" rule add pass src 10.11.0.2
	ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	REFUSED "$DROP4 on 'mv0' via 'veth0'\)$FIX" "$SSH4" "$NS" rule del pass src 10.11.0.2
}

# the same, one level further: a macvlan on a bridge whose port runs pinwall
test_bridge() {
	setup || { fail setup; return; }
	ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set veth0 master br0 &&
		addr "$NS" br0 10.11.0.1/24 || { fail bridge; return; }
	REFUSED "$DROP4 on 'br0' via 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	ip -n "$NS" addr flush dev br0
	ip -n "$NS" link add mv1 link br0 type macvlan mode bridge && addr "$NS" mv1 10.11.0.1/24 ||
		{ fail "macvlan on the bridge"; return; }
	REFUSED "$DROP4 on 'mv1' via 'br0', 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	# the port leaves the bridge: nothing of pinwall below mv1 any more
	ip -n "$NS" link set veth0 nomaster
	ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16
}

vlan_case() {
	setup || { fail setup; return; }
	ip -n "$NS" link add link veth0 name veth0.5 type vlan id 5 && addr "$NS" veth0.5 10.11.0.1/24 ||
		{ fail vlan; return; }
	REFUSED "$DROP4 on 'veth0\.5' via 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
}

bond_case() {
	setup || { fail setup; return; }
	ip -n "$NS" link add bond0 type bond && ip -n "$NS" link set veth0 down &&
		ip -n "$NS" link set veth0 master bond0 && addr "$NS" bond0 10.11.0.1/24 ||
		{ fail bond; return; }
	REFUSED "$DROP4 on 'bond0' via 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
}

# devices this kernel may not have: their subtests run only where it does
if kind_available link v0 type vlan id 5; then
	test_vlan() { vlan_case; }
else
	echo "note: $T_FILE/vlan not run: this kernel makes no VLAN devices"
fi
if kind_available type bond; then
	test_bond() { bond_case; }
else
	echo "note: $T_FILE/bond not run: this kernel makes no bond devices"
fi

# a %zone names the interface: the same link-local address elsewhere is not it
test_zone() {
	setup || { fail setup; return; }
	local d="rule 'drop src fe80::/10' would drop your SSH session \(fe80::2 port 5555 -> fe80::1 port 22"
	ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge || { fail macvlan; return; }
	v6 "$NS" veth0 && v6 "$NS" veth1 && v6 "$NS" mv0 || { fail "IPv6 on"; return; }
	addr "$NS" veth0 fe80::1/64 && addr "$NS" veth1 fe80::1/64 && addr "$NS" mv0 fe80::1/64 ||
		{ fail "link-local addresses"; return; }
	REFUSED "$d on 'veth0'\)$FIX" "fe80::2%veth0 5555 fe80::1%veth0 22" "$NS" rule add drop src fe80::/10
	REFUSED "$d on 'mv0' via 'veth0'\)$FIX" "fe80::2%mv0 5555 fe80::1%mv0 22" "$NS" rule add drop src fe80::/10
	# the zone on one side only, or as an interface index
	REFUSED "$d on 'mv0' via 'veth0'\)" "fe80::2 5555 fe80::1%mv0 22" "$NS" rule add drop src fe80::/10
	REFUSED "$d on 'veth0'\)" "fe80::2%$(ip -n "$NS" -j link show veth0 | jq .[0].ifindex) 5555 fe80::1 22" \
		"$NS" rule add drop src fe80::/10
	REFUSED "$d\) and pinwall cannot tell where it arrives: its zone 'nosuch0' names no interface here$FIX" \
		"fe80::2%nosuch0 5555 fe80::1%nosuch0 22" "$NS" rule add drop src fe80::/10
	# veth1 holds the same address, but nothing of pinwall is below it
	ALLOWED "fe80::2%veth1 5555 fe80::1%veth1 22" "$NS" rule add drop src fe80::/10
	ASSERT_OK pw "$NS" rule flush
	# the zone picks the interface: the address must be on it
	ip -n "$NS" addr del fe80::1/64 dev veth1
	REFUSED "$d\) and pinwall cannot tell where it arrives: fe80::1 is no address of 'veth1'$FIX" \
		"fe80::2%veth1 5555 fe80::1%veth1 22" "$NS" rule add drop src fe80::/10
}

test_unparsable() {
	setup || { fail setup; return; }
	local s
	for s in "" "garbage" "10.11.0.2 40000 10.11.0.1" "10.11.0.2 40000 10.11.0.1 22 9" \
		"10.11.0.2 0 10.11.0.1 22" "10.11.0.2 40000 10.11.0.1 65536" "10.11.0.2 4x 10.11.0.1 22" \
		"10.11.0.2 -1 10.11.0.1 22" "10.11.0.2 40000 fd00::1 22" "10.11.0.2%veth0 40000 10.11.0.1 22" \
		"fe80::2%veth0 5555 fe80::1%veth1 22" "fe80::2% 5555 fe80::1 22"; do
		REFUSED "cannot tell whether these rules would drop your SSH session: SSH_CONNECTION '${s//./\\.}' is not 'CLIENT PORT SERVER PORT'$FIX" \
			"$s" "$NS" rule add drop src 10.11.0.0/16
	done
	REFUSED "SSH_CONNECTION 'a\\\\x0ab' is not" $'a\nb' "$NS" rule policy deny
	# a set that drops nothing cannot lock anyone out
	ALLOWED "garbage" "$NS" rule add pass src 10.11.0.0/16
	ALLOWED "garbage" "$NS" rule flush
	ASSERT_OK pw "$NS" rule add drop src 10.12.0.0/16
	ALLOWED "garbage" "$NS" rule del drop src 10.12.0.0/16
}

# no pinwall below the address: allowed; the address on no interface: refused
test_unrelated() {
	setup || { fail setup; return; }
	addr "$NS" veth1 10.11.0.1/24 || { fail address; return; }
	ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule flush
	ip -n "$NS" addr flush dev veth1
	ip -n "$NS" link add mv1 link veth1 type macvlan mode bridge && addr "$NS" mv1 10.11.0.1/24 ||
		{ fail macvlan; return; }
	ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule flush
	# another tool's XDP program below it is not pinwall
	if ip -n "$NS" link set dev veth1 xdpgeneric obj "$OBJS/tutorial.o" sec xdp 2>"$T_TMP/iperr"; then
		ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16
		ASSERT_OK pw "$NS" rule flush
	else
		echo "    note: iproute2 cannot attach XDP objects here: $(head -n1 "$T_TMP/iperr")"
	fi
	ip -n "$NS" link del mv1
	REFUSED "$DROP4\) and pinwall cannot tell where it arrives: 10\.11\.0\.1 is no address of any interface here$FIX" \
		"$SSH4" "$NS" rule add drop src 10.11.0.0/16
	# a session the rules pass needs no interface
	ALLOWED "$SSH4" "$NS" rule add drop src 10.12.0.0/16
	# IPv4-mapped IPv6 is the IPv4 session
	addr "$NS" veth0 10.11.0.1/24
	REFUSED "$DROP4 on 'veth0'\)" "::ffff:10.11.0.2 40000 ::ffff:10.11.0.1 22" "$NS" rule add drop src 10.11.0.0/16
}

# a container's macvlan on the host's interface: what runs below is out of sight
test_other_netns() {
	setup && ns_new NS2 c || { fail setup; return; }
	ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge && ip -n "$NS" link set mv0 netns "$NS2" &&
		addr "$NS2" mv0 10.11.0.1/24 || { fail "macvlan in the other namespace"; return; }
	REFUSED "$DROP4\) and pinwall cannot tell where it arrives: 'mv0' sits on a device in another network namespace$FIX" \
		"$SSH4" "$NS2" rule add drop src 10.11.0.0/16
}

# Linux takes a packet for any local address on any interface: an address
# on lo arrives through the interface the route back to the client leaves by
test_routed() {
	setup || { fail setup; return; }
	local s="10.11.0.2 40000 10.99.0.1 22"
	local d="rule 'drop src 10\.11\.0\.0/16' would drop your SSH session \(10\.11\.0\.2 port 40000 -> 10\.99\.0\.1 port 22"
	addr "$NS" lo 10.99.0.1/32 && ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge &&
		addr "$NS" mv0 10.11.0.3/24 || { fail addresses; return; }
	REFUSED "$d routed through 'mv0' via 'veth0'\)$FIX" "$s" "$NS" rule add drop src 10.11.0.0/16
	# the client's network on veth1 instead: nothing of pinwall on the way
	ip -n "$NS" link del mv0
	addr "$NS" veth1 10.11.0.3/24 || { fail address; return; }
	ALLOWED "$s" "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" rule flush
	# no way back at all: cannot tell
	ip -n "$NS" addr flush dev veth1
	REFUSED "$d\) and pinwall cannot tell where it arrives: cannot route back to 10\.11\.0\.2 here: Network is unreachable$FIX" \
		"$s" "$NS" rule add drop src 10.11.0.0/16
}

# pinwall's program is known without its pins (they may be gone: repin)
test_pins_moved() {
	setup || { fail setup; return; }
	local dir
	dir=$(ifdir "$NS" veth0)
	ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge && addr "$NS" mv0 10.11.0.1/24 ||
		{ fail macvlan; return; }
	mv "$dir" "$ROOT-moved" || { fail "moving the pins"; return; }
	ASSERT_NE "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp.prog.id // empty')" "" "program attached"
	REFUSED "$DROP4 on 'mv0' via 'veth0'\)$FIX" "$SSH4" "$NS" rule add drop src 10.11.0.0/16
	mv "$ROOT-moved" "$dir"
}

test_force() {
	setup || { fail setup; return; }
	ip -n "$NS" link add mv0 link veth0 type macvlan mode bridge && addr "$NS" mv0 10.11.0.1/24 ||
		{ fail macvlan; return; }
	ALLOWED "$SSH4" "$NS" rule add drop src 10.11.0.0/16 --force
	ASSERT_EQ "$(rules "$NS")" '["allow",["drop src 10.11.0.0/16"]]' "forced rule in force"
	ALLOWED "garbage" "$NS" rule policy deny --change-policy --force
	ASSERT_EQ "$(rules "$NS")" '["deny",["drop src 10.11.0.0/16"]]' "forced policy in force"
	ALLOWED "10.11.0.2 40000 10.99.0.1 22" "$NS" rule add drop src 10.12.0.0/16 --force
	ASSERT_EQ "$(rules "$NS")" '["deny",["drop src 10.11.0.0/16","drop src 10.12.0.0/16"]]' \
		"forced with the address nowhere"
}

run_tests
