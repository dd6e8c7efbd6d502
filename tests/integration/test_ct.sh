#!/usr/bin/env bash
# `ct established`: with `policy deny`, replies to the host's own TCP, UDP
# and ping (IPv4 and IPv6) come in through `pass ct established` and not
# without it; unsolicited lookalikes (a bare ACK or a SYN-ACK to a port never
# used, UDP from the right port to an unused one, an echo reply with an
# unused id) are dropped and counted; the egress flow recorder follows the
# program through reload, repin and unload, and a kill during load or
# unload is recovered. The pinwall host is namespace A (veth0), the peer B.
. "$(dirname "$0")/lib.sh"

unset SSH_CONNECTION
PY=/usr/bin/python3

setup_ct() {
	ns_new A a && ns_new B b || return 1
	ip link add veth0 netns "$A" type veth peer name veth1 netns "$B" || return 1
	local ns
	for ns in "$A" "$B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
			net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	ip -n "$A" addr add 10.77.0.1/24 dev veth0 && ip -n "$A" addr add fd77::1/64 dev veth0 nodad &&
	ip -n "$B" addr add 10.77.0.2/24 dev veth1 && ip -n "$B" addr add fd77::2/64 dev veth1 nodad &&
	ip -n "$A" link set veth0 up && ip -n "$B" link set veth1 up || return 1
	# servers in B: TCP and UDP echo on both families
	bg ip netns exec "$B" "$PY" -c '
import socket, threading
def tcp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 8080)); s.listen(16)
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        try: c.sendall(c.recv(100))
        except OSError: pass
        c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(("::", 5353))
while True:
    d, a = u.recvfrom(100); u.sendto(d, a)
'
	pw "$A" load veth0 >/dev/null
}

# client KIND ADDR: "ok" if the host in A gets its answer within 1 s
client() {
	ip netns exec "$A" "$PY" - "$1" "$2" <<'EOF' 2>/dev/null || echo fail
import socket, sys
kind, addr = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
s.settimeout(1)
if kind == "tcp":
    s.connect((addr, 8080)); s.sendall(b"hello")
else:
    s.sendto(b"hello", (addr, 5353))
print("ok" if s.recv(100) == b"hello" else "fail")
EOF
}

ping_ok() { # ADDR
	ip netns exec "$A" ping -q -c 1 -W 1 "$1" >/dev/null 2>&1 && echo ok || echo fail
}

# all six flows from A at once (each waits up to 1 s), as one line
flows() {
	local a i=0 k
	for a in 10.77.0.2 fd77::2; do
		client tcp "$a" >"$T_TMP/f$i" & i=$((i + 1))
		client udp "$a" >"$T_TMP/f$i" & i=$((i + 1))
		ping_ok "$a" >"$T_TMP/f$i" & i=$((i + 1))
	done
	wait
	for k in 0 1 2 3 4 5; do cat "$T_TMP/f$k"; done | paste -sd' ' -
}

rulefile() {
	printf '%s\n' "$@" >"$T_TMP/r"
	echo "$T_TMP/r"
}

drops() {
	pw "$A" stats veth0 --count 1 --interval 0.05 --json | jq -r '.interfaces[0].actions.XDP_DROP.packets'
}

# recorder NS: the program in pinwall's tc egress slot of veth0, or none
recorder() {
	tc -n "$1" filter show dev veth0 egress 2>/dev/null | grep -o 'pinwall_ct_out' | head -n1
}

test_replies_pass_with_ct_only() {
	setup_ct || { fail setup; return; }
	ASSERT_EQ "$(recorder "$A")" pinwall_ct_out "recorder after load"
	# the peer's address answers ARP/ND without rules; learn it first
	ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'drop proto 253')"
	ASSERT_EQ "$(flows)" "fail fail fail fail fail fail" "deny without ct: tcp udp ping v4, v6"
	ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established')"
	ASSERT_EQ "$(flows)" "ok ok ok ok ok ok" "deny with ct: tcp udp ping v4, v6"
	ASSERT_MATCH "$(pw "$A" rule list)" "pass ct established" "rule list"
	# with other matches: UDP from port 5353 only
	ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established proto udp sport 5353')"
	ASSERT_EQ "$(flows)" "fail ok fail fail ok fail" "ct with proto udp sport 5353"
}

test_lookalikes_dropped() {
	setup_ct || { fail setup; return; }
	ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established')"
	ASSERT_EQ "$(flows)" "ok ok ok ok ok ok" "own flows"
	local before after sb sa
	before=$(drops)
	sb=$(stack_replies)
	# from B's real addresses and ports, to ports and ids A never used
	ip netns exec "$B" "$PY" - <<'EOF' || fail "scapy"
from scapy.all import Ether, IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoReply, sendp, conf
conf.verb = 0
e = Ether(dst="ff:ff:ff:ff:ff:ff")
for ip in (IP(src="10.77.0.2", dst="10.77.0.1"), IPv6(src="fd77::2", dst="fd77::1")):
    pk = [e/ip/TCP(sport=8080, dport=45678, flags="A"),
          e/ip/TCP(sport=8080, dport=45679, flags="SA"),
          e/ip/TCP(sport=8080, dport=45680, flags="S"),
          e/ip/UDP(sport=5353, dport=40000)]
    pk.append(e/ip/(ICMP(type=0, id=0x4242) if ip.version == 4 else ICMPv6EchoReply(id=0x4242)))
    sendp(pk, iface="veth1")
EOF
	sleep 0.3
	after=$(drops)
	sa=$(stack_replies)
	# other frames (e.g. B's own multicast reports) may be dropped meanwhile
	[ "$((after - before))" -ge 10 ] || fail "lookalikes dropped: $((after - before)) of 10"
	# the oracle: A's stack saw none (no RST, no port unreachable, no echo reply)
	ASSERT_EQ "$sa" "$sb" "A's stack received no lookalike"
}

# stack_replies: A's counters that a delivered lookalike would move
stack_replies() {
	ip netns exec "$A" nstat -asz 2>/dev/null |
		awk '$1 ~ /^(TcpOutRsts|TcpExtTCPACKSkippedSynRecv|UdpNoPorts|Udp6NoPorts|IcmpInEchoReps|Icmp6InEchoReplies)$/ {printf "%s=%s ", $1, $2}'
}

test_recorder_lifecycle() {
	setup_ct || { fail setup; return; }
	ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established')"
	ASSERT_OK pw "$A" reload veth0
	ASSERT_EQ "$(recorder "$A")" pinwall_ct_out "recorder after reload"
	ASSERT_EQ "$(flows)" "ok ok ok ok ok ok" "after reload"
	rm -rf "$ROOT"/ns*
	ASSERT_EQ "$(flows)" "ok ok ok ok ok ok" "pins gone: still recording"
	ASSERT_OK pw "$A" repin veth0
	ASSERT_OK pw "$A" unload veth0
	ASSERT_EQ "$(recorder "$A")" "" "recorder after unload"
	# a set with the match is refused while the recorder is missing
	ASSERT_OK pw "$A" load veth0
	tc -n "$A" filter del dev veth0 egress prio 1 handle 0x7063 bpf
	ERR1 "'veth0' has no egress flow recorder.*'pinwall repin veth0'" \
		pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established' 'pass proto tcp')"
	ASSERT_MATCH "$(pw "$A" status veth0)" "egress flow recorder of .ct established. is not attached: 'pinwall repin veth0'" "status"
	ASSERT_OK pw "$A" repin veth0
	ASSERT_EQ "$(recorder "$A")" pinwall_ct_out "recorder after repin puts it back"
	ASSERT_NOMATCH "$(pw "$A" status veth0)" "recorder" "status after repin"
}

test_kill_recovered() {
	setup_ct || { fail setup; return; }
	ASSERT_OK pw "$A" unload veth0
	local at
	for at in load:merged load:recorder; do
		PINWALL_TEST_KILL_AT=$at pwt "$A" load veth0 >/dev/null 2>&1
		ASSERT_OK pw "$A" recover veth0
		ASSERT_EQ "$(recorder "$A")" pinwall_ct_out "recorder after a kill at $at"
		ASSERT_OK pw "$A" rule apply "$(rulefile 'policy deny' 'pass ct established')"
		ASSERT_EQ "$(flows)" "ok ok ok ok ok ok" "flows after a kill at $at"
		PINWALL_TEST_KILL_AT=unload:detached pwt "$A" unload veth0 >/dev/null 2>&1
		ASSERT_OK pw "$A" recover veth0
		ASSERT_EQ "$(recorder "$A")" "" "recorder after a kill at unload:detached"
	done
}

test_grammar() {
	setup_ct || { fail setup; return; }
	ERR1 "'ct' needs 'established', not 'new'" pw "$A" rule add "pass ct new"
	ERR1 "'ct' given twice" pw "$A" rule add "pass ct established ct established"
	ERR1 "'ct' needs 'established': replies" pw "$A" rule add "pass proto udp ct"
	# a rule with ct shadows only rules with ct; printed as written
	local f
	f=$(rulefile 'pass ct established' 'drop proto tcp src 10.0.0.0/8')
	ASSERT_EQ "$(pw "$A" rule apply "$f" 2>&1 >/dev/null)" "" "no shadow warning after a ct rule"
	f=$(rulefile 'drop proto tcp' 'pass proto tcp ct established')
	ASSERT_MATCH "$(pw "$A" rule apply "$f" 2>&1 >/dev/null)" \
		"warning: .*rule 'pass proto tcp ct established' can never match: the prefix table.*'drop proto tcp'" \
		"a ct rule shadowed"
	ASSERT_EQ "$(pw "$A" rule list --json | jq -r '[.rules[].rule] | join("|")')" \
		"drop proto tcp|pass proto tcp ct established" "rule list"
}

run_tests
