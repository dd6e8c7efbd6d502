#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Crafted frames that try to reach sockets behind pinwall, and what the
receiving kernel delivered of each.

Run inside the sending namespace. Each case's frames go out of --iface to
--dst-mac; the receiving kernel is the oracle: what its TCP and UDP layers
counted (Tcp InSegs, Udp/Udp6 InDatagrams + NoPorts, read from
/proc/RXPID/net/snmp{,6} of a process living in the receiving namespace)
while the case was sent. Prints one JSON object per case:
{"case": NAME, "sent": FRAMES, "delivered": SEGMENTS_OR_DATAGRAMS}.

Usage: bypass.py --iface IF --dst-mac MAC --src4 A --dst4 B --src6 A --dst6 B
                 --rx-pid PID --port P [--repeat N] [CASE...]
"""
import argparse
import json
import socket
import sys
import time

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrRouting)
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether


def counters(pid):
    """TCP segments and UDP datagrams the receiving kernel took in."""
    vals = {}
    with open(f"/proc/{pid}/net/snmp") as f:
        lines = f.read().splitlines()
    for head, body in zip(lines[::2], lines[1::2]):
        proto = head.split(":")[0]
        for k, v in zip(head.split()[1:], body.split()[1:]):
            vals[f"{proto}.{k}"] = int(v)
    with open(f"/proc/{pid}/net/snmp6") as f:
        for line in f:
            k, v = line.split()
            vals[k] = int(v)
    return (vals["Tcp.InSegs"] + vals["Udp.InDatagrams"] + vals["Udp.NoPorts"]
            + vals.get("Udp6InDatagrams", 0) + vals.get("Udp6NoPorts", 0))


class Cases:
    def __init__(self, a):
        self.a = a
        self.eth = Ether(dst=a.dst_mac, src="02:00:00:00:99:01")
        self.seq = 1000

    def l4(self, kind, sport=40000):
        self.seq += 1
        if kind == "udp":
            return UDP(sport=sport, dport=self.a.port) / (b"x" * 16)
        return TCP(sport=sport, dport=self.a.port, flags="S", seq=self.seq)

    def ip(self, fam, **kw):
        if fam == 4:
            return IP(src=self.a.src4, dst=self.a.dst4, **kw)
        return IPv6(src=self.a.src6, dst=self.a.dst6, **kw)

    def vlan(self, n, fam, kind):
        """n priority tags (VID 0), outer 802.1ad: the kernel strips them all."""
        tags = Dot1AD(vlan=0)
        for _ in range(n - 1):
            tags = tags / Dot1Q(vlan=0)
        return [self.eth / tags / self.ip(fam) / self.l4(kind)]

    def chain(self, n, kind):
        """n destination-options headers before the L4 header."""
        p = self.ip(6)
        for _ in range(n):
            p = p / IPv6ExtHdrDestOpt()
        return [self.eth / p / self.l4(kind)]

    def v6_frags(self, first_len, later_nh, head=None, doff=None):
        """A TCP SYN (doff words, options of NOPs) cut after first_len bytes;
        the later fragment's header announces later_nh."""
        tcp = TCP(sport=40001, dport=self.a.port, flags="S", seq=self.seq)
        if doff:
            tcp.options = [("NOP", None)] * ((doff - 5) * 4)
        raw = bytes(IPv6(src=self.a.src6, dst=self.a.dst6) / tcp)[40:] + b"d" * 16
        fid = 0x5000 + self.seq
        self.seq += 1
        first = self.ip(6)
        if head:
            first = first / head
        first = first / IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=fid) / raw[:first_len]
        later = self.ip(6) / IPv6ExtHdrFragment(nh=later_nh, offset=first_len // 8, m=0,
                                                 id=fid) / raw[first_len:]
        return [self.eth / first, self.eth / later]

    def v4_frags(self, first_len, doff=None):
        tcp = TCP(sport=40002, dport=self.a.port, flags="S", seq=self.seq)
        if doff:
            tcp.options = [("NOP", None)] * ((doff - 5) * 4)
        raw = bytes(IP(src=self.a.src4, dst=self.a.dst4) / tcp)[20:] + b"d" * 16
        fid = 0x500 + self.seq % 1000
        self.seq += 1
        first = self.ip(4, id=fid, flags="MF", frag=0, proto=6) / raw[:first_len]
        later = self.ip(4, id=fid, frag=first_len // 8, proto=6) / raw[first_len:]
        return [self.eth / first, self.eth / later]

    def all(self):
        c = {}
        for n in (3, 4, 6):
            for fam in (4, 6):
                for kind in ("udp", "tcp"):
                    c[f"vlan{n}_v{fam}_{kind}"] = lambda n=n, fam=fam, kind=kind: self.vlan(n, fam, kind)
        for n in (9, 12, 16):
            for kind in ("udp", "tcp"):
                c[f"v6_chain{n}_{kind}"] = lambda n=n, kind=kind: self.chain(n, kind)
        c["v6_frag_tiny_first_later_claims_icmpv6"] = lambda: self.v6_frags(8, 58)
        c["v6_frag_tiny_first"] = lambda: self.v6_frags(8, 6)
        c["v6_frag_first_cut_in_options_later_claims_icmpv6"] = lambda: self.v6_frags(24, 58, doff=10)
        c["v6_frag_first_cut_in_options"] = lambda: self.v6_frags(24, 6, doff=10)
        c["v6_frag_behind_routing_claims_icmpv6"] = lambda: self.v6_frags(
            24, 58, head=IPv6ExtHdrRouting(segleft=0), doff=10)
        c["v4_frag_tiny_first"] = lambda: self.v4_frags(8)
        c["v4_frag_first_cut_in_options"] = lambda: self.v4_frags(24, doff=10)
        c["v4_udp_plain"] = lambda: [self.eth / self.ip(4) / self.l4("udp")]
        c["v6_udp_plain"] = lambda: [self.eth / self.ip(6) / self.l4("udp")]
        c["v4_tcp_plain"] = lambda: [self.eth / self.ip(4) / self.l4("tcp")]
        c["v6_tcp_plain"] = lambda: [self.eth / self.ip(6) / self.l4("tcp")]
        return c


def main():
    ap = argparse.ArgumentParser()
    for opt in ("iface", "dst-mac", "src4", "dst4", "src6", "dst6"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--rx-pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    cases = Cases(a).all()
    if a.list:
        print("\n".join(cases))
        return 0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    for name in a.cases or list(cases):
        if name not in cases:
            print(f"bypass.py: unknown case '{name}'", file=sys.stderr)
            return 2
        before = counters(a.rx_pid)
        sent = 0
        for _ in range(a.repeat):
            for frame in cases[name]():
                s.send(bytes(frame))
                sent += 1
        time.sleep(0.05)	# let softirq and reassembly finish
        print(json.dumps({"case": name, "sent": sent,
                          "delivered": counters(a.rx_pid) - before}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
