// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What a captured frame is, for one line of `pinwall drops`: Ethernet, VLAN
 * tags, IPv4/IPv6 addresses, protocol, ports or ICMP type. The bytes come
 * from a dropped (possibly malformed) frame cut at the snap length: every
 * read is bounded, and what cannot be read is left out and marked.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

#define ETH_HLEN 14

static __u16 be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* L4 at @off: ports, or ICMP type and code. */
static void sum_l4(const __u8 *d, __u32 len, __u32 off, struct pw_frame_sum *s)
{
	bool icmp = (s->family == 4 && s->proto == 1) || (s->family == 6 && s->proto == 58);
	bool ports = s->proto == 6 || s->proto == 17 || s->proto == 132;

	if (s->frag_later || (!icmp && !ports))
		return;
	if (off + 4 > len) {
		s->truncated = true;
		return;
	}
	if (icmp) {
		s->has_icmp = true;
		s->icmp_type = d[off];
		s->icmp_code = d[off + 1];
	} else {
		s->has_ports = true;
		s->sport = be16(d + off);
		s->dport = be16(d + off + 2);
	}
}

static void sum_ipv4(const __u8 *d, __u32 len, __u32 off, struct pw_frame_sum *s)
{
	__u32 ihl;

	if (off + 20 > len) {
		s->truncated = true;
		return;
	}
	s->family = 4;
	ihl = (d[off] & 0x0f) * 4u;
	s->proto = d[off + 9];
	s->frag_later = (be16(d + off + 6) & 0x1fff) != 0;
	inet_ntop(AF_INET, d + off + 12, s->src, sizeof(s->src));
	inet_ntop(AF_INET, d + off + 16, s->dst, sizeof(s->dst));
	if (ihl >= 20)
		sum_l4(d, len, off + ihl, s);
}

/* IPv6 and its extension headers (hop-by-hop, routing, fragment,
 * destination options), at most 8 of them. */
static void sum_ipv6(const __u8 *d, __u32 len, __u32 off, struct pw_frame_sum *s)
{
	__u8 next;

	if (off + 40 > len) {
		s->truncated = true;
		return;
	}
	s->family = 6;
	next = d[off + 6];
	inet_ntop(AF_INET6, d + off + 8, s->src, sizeof(s->src));
	inet_ntop(AF_INET6, d + off + 24, s->dst, sizeof(s->dst));
	off += 40;
	for (int i = 0; i < 8 && (next == 0 || next == 43 || next == 44 || next == 60); i++) {
		if (off + 8 > len) {
			s->truncated = true;
			s->proto = next;
			return;
		}
		__u8 cur = next;

		if (cur == 44)
			s->frag_later |= (be16(d + off + 2) & 0xfff8) != 0;
		/* this header's length is by its own type; its second byte
		 * is reserved in a fragment header (always 8 bytes) */
		next = d[off];
		off += cur == 44 ? 8 : (d[off + 1] + 1u) * 8;
	}
	s->proto = next;
	sum_l4(d, len, off, s);
}

void pw_frame_summary(const __u8 *d, __u32 len, struct pw_frame_sum *s)
{
	__u32 off = ETH_HLEN;

	memset(s, 0, sizeof(*s));
	if (len < ETH_HLEN) {
		s->truncated = true;
		return;
	}
	s->ethertype = be16(d + 12);
	for (int i = 0; i < 2 && (s->ethertype == 0x8100 || s->ethertype == 0x88a8); i++) {
		if (off + 4 > len) {
			s->truncated = true;
			return;
		}
		if (!i)
			s->vlan = be16(d + off) & 0x0fff;
		s->ethertype = be16(d + off + 2);
		off += 4;
	}
	if (s->ethertype == 0x0800)
		sum_ipv4(d, len, off, s);
	else if (s->ethertype == 0x86dd)
		sum_ipv6(d, len, off, s);
}
