/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded header parsing for the XDP path: Ethernet, up to PW_MAX_VLAN VLAN
 * tags, IPv4 (with options), IPv6 (with up to PW_MAX_V6_EXT extension
 * headers), TCP, UDP, ICMP, ICMPv6.
 *
 * The parser sees the packet the kernel will see, or says it cannot: a frame
 * that is truncated, contradicts itself, or goes beyond the parser's bounds
 * is marked malformed, and the program drops it whatever the policy (a frame
 * pinwall cannot classify with certainty could otherwise step around a rule).
 * In detail:
 *  - IP headers are read within the IP length (tot_len, payload_len), never
 *    into Ethernet padding; a frame shorter than its IP length is malformed
 *    (the kernel drops it too);
 *  - a whole packet and a first fragment must hold every header up to and
 *    including the fixed L4 header (TCP 20 bytes, UDP 8, ICMP/ICMPv6 8), or
 *    it is malformed (RFC 7112); TCP options may lie in a later fragment;
 *  - a later fragment's L4 fields and claimed protocol are never read: it is
 *    marked PW_FRAG_LATER and gets its first fragment's verdict (pinwall.bpf.c);
 *  - ICMP is ICMP only in IPv4 (protocol 1) and ICMPv6 only in IPv6 (58);
 *  - more VLAN tags than PW_MAX_VLAN, or more IPv6 extension headers than
 *    PW_MAX_V6_EXT, or a second fragment header, make the frame malformed.
 * Every access is checked against data_end; the program never aborts.
 */
#ifndef PINWALL_PARSE_H
#define PINWALL_PARSE_H

#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8

#define IPPROTO_HOPOPTS_	0
#define IPPROTO_ROUTING_	43
#define IPPROTO_FRAGMENT_	44
#define IPPROTO_ICMPV6_		58
#define IPPROTO_DSTOPTS_	60

#define PW_IP_MF	0x2000
#define PW_IP_OFFSET	0x1fff

/* IPv6 neighbour and router discovery (RFC 4861): RS, RA, NS, NA, redirect */
#define PW_ND_FIRST	133
#define PW_ND_LAST	137

enum pw_frag { PW_FRAG_NONE = 0, PW_FRAG_FIRST, PW_FRAG_LATER };

struct pw_pkt {
	__u8 l3;		/* PW_C_IPV4, PW_C_IPV6 or PW_C_L3_OTHER */
	__u8 l4;		/* PW_C_TCP .. PW_C_L4_OTHER; valid for IPv4/IPv6 */
	__u8 malformed;		/* or beyond the parser's bounds: dropped */
	__u8 l4_proto;		/* IP protocol / final IPv6 next header (not for PW_FRAG_LATER) */
	__u8 has_ports;
	__u8 frag;		/* enum pw_frag */
	__u8 link_ctl;		/* ARP, or IPv6 ND/RD checked exactly: not cut off by policy deny */
	__u8 pad;
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u32 frag_id;		/* fragments: the IP identification (IPv4: 16 bits) */
	__u32 saddr[4];		/* network byte order; IPv4 in [0] */
	__u32 daddr[4];
	/* for the ct match (bpf/ct.h) */
	__u8 tcp_flags;		/* TCP: the flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 icmp_type;		/* own-family ICMP: type */
	__u16 icmp_id;		/* own-family ICMP: the echo identifier (network byte order) */
};

/*
 * The fixed L4 header at @cur must lie within the frame (@end) and the IP
 * length (@lim). Returns 0, or -1 when the frame is malformed.
 */
static __always_inline int pw_parse_l4(void *cur, void *end, void *lim, struct pw_pkt *p)
{
	bool own_icmp = p->l3 == PW_C_IPV4 ? p->l4_proto == IPPROTO_ICMP
					    : p->l4_proto == IPPROTO_ICMPV6_;

	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = cur;

		if ((void *)(th + 1) > end || (void *)(th + 1) > lim || th->doff < 5)
			return -1;
		p->l4 = PW_C_TCP;
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
		p->has_ports = 1;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = cur;

		if ((void *)(uh + 1) > end || (void *)(uh + 1) > lim)
			return -1;
		p->l4 = PW_C_UDP;
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
		return 0;
	}
	default:
		/* ICMP inside IPv6 (and ICMPv6 inside IPv4) is just "other" */
		if (!own_icmp) {
			p->l4 = PW_C_L4_OTHER;
			return 0;
		}
		/* both carry at least type, code, checksum and a 4-byte word */
		if (cur + 8 > end || cur + 8 > lim)
			return -1;
		p->l4 = PW_C_ICMP;
		p->icmp_type = ((__u8 *)cur)[0];
		p->icmp_id = ((__u16 *)cur)[2];
		return 0;
	}
}

static __always_inline int pw_parse_ipv4(void *cur, void *end, struct pw_pkt *p)
{
	struct iphdr *iph = cur;
	__u32 hlen, tot;
	__u16 frag;
	void *lim;

	if ((void *)(iph + 1) > end)
		return -1;
	if (iph->version != 4 || iph->ihl < 5)
		return -1;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || cur + tot > end)
		return -1;
	lim = cur + tot;
	if (cur + hlen > end)
		return -1;
	p->l3 = PW_C_IPV4;
	p->saddr[0] = iph->saddr;
	p->daddr[0] = iph->daddr;
	p->l4_proto = iph->protocol;
	frag = bpf_ntohs(iph->frag_off);
	if (frag & (PW_IP_MF | PW_IP_OFFSET))
		p->frag_id = bpf_ntohs(iph->id);
	if (frag & PW_IP_OFFSET) {
		/* only the first fragment carries the L4 header */
		p->frag = PW_FRAG_LATER;
		p->l4 = PW_C_L4_OTHER;
		return 0;
	}
	if (frag & PW_IP_MF)
		p->frag = PW_FRAG_FIRST;
	return pw_parse_l4(cur + hlen, end, lim, p);
}

/* ND/RD as the kernel accepts it: no extension header, hop limit 255, code 0. */
static __always_inline void pw_check_nd(struct ipv6hdr *ip6h, void *cur, void *end,
					struct pw_pkt *p)
{
	__u8 *icmp = cur;

	if (ip6h->nexthdr != IPPROTO_ICMPV6_ || ip6h->hop_limit != 255 || p->l4 != PW_C_ICMP)
		return;
	if ((void *)(icmp + 2) > end)
		return;
	if (icmp[0] >= PW_ND_FIRST && icmp[0] <= PW_ND_LAST && icmp[1] == 0)
		p->link_ctl = 1;
}

static __always_inline int pw_parse_ipv6(void *cur, void *end, struct pw_pkt *p)
{
	struct ipv6hdr *ip6h = cur;
	void *lim;
	__u8 nh;
	int i;

	if ((void *)(ip6h + 1) > end)
		return -1;
	if (ip6h->version != 6)
		return -1;
	/* payload_len 0 with a hop-by-hop header announces a jumbogram, which
	 * XDP never holds: the header then fails the length check below */
	lim = (void *)(ip6h + 1) + bpf_ntohs(ip6h->payload_len);
	if (lim > end)
		return -1;
	p->l3 = PW_C_IPV6;
	__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6h->daddr, 16);
	nh = ip6h->nexthdr;
	cur = ip6h + 1;

#pragma unroll
	for (i = 0; i < PW_MAX_V6_EXT; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_: {
			struct ipv6_opt_hdr *oh = cur;

			if ((void *)(oh + 1) > end)
				return -1;
			nh = oh->nexthdr;
			cur += (oh->hdrlen + 1) * 8;
			/* the header must be all there, not just its first bytes */
			if (cur > end || cur > lim)
				return -1;
			break;
		}
		case IPPROTO_FRAGMENT_: {
			struct frag_hdr *fh = cur;

			if ((void *)(fh + 1) > end || (void *)(fh + 1) > lim || p->frag)
				return -1;
			p->frag_id = bpf_ntohl(fh->identification);
			if (bpf_ntohs(fh->frag_off) & ~7) {
				/* a later fragment: its next header is not trusted */
				p->frag = PW_FRAG_LATER;
				p->l4 = PW_C_L4_OTHER;
				return 0;
			}
			/* offset 0 with M clear is an atomic fragment: a whole packet */
			p->frag = (bpf_ntohs(fh->frag_off) & 1) ? PW_FRAG_FIRST : PW_FRAG_NONE;
			if (p->frag == PW_FRAG_NONE)
				p->frag_id = 0;
			nh = fh->nexthdr;
			cur = fh + 1;
			break;
		}
		default:
			p->l4_proto = nh;
			if (pw_parse_l4(cur, end, lim, p))
				return -1;
			pw_check_nd(ip6h, cur, end, p);
			return 0;
		}
	}
	/* a chain longer than the bound: the L4 header was never reached */
	if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
	    nh == IPPROTO_FRAGMENT_)
		return -1;
	p->l4_proto = nh;
	return pw_parse_l4(cur, end, lim, p);
}

/*
 * @tags_before: VLAN tags taken out of the frame before the program saw it
 * (tc: the kernel moves the outer tag into skb metadata); they count
 * against PW_MAX_VLAN as if they were still in the frame.
 */
static __always_inline void pw_parse_tags(void *data, void *end, struct pw_pkt *p,
					  __u32 tags_before)
{
	struct ethhdr *eth = data;
	void *cur;
	__u16 proto;
	int i, err = 0;

	p->l3 = PW_C_L3_OTHER;
	p->l4 = PW_C_L4_OTHER;
	if ((void *)(eth + 1) > end) {
		p->malformed = 1;
		return;
	}
	proto = eth->h_proto;
	cur = eth + 1;

#pragma unroll
	for (i = 0; i < PW_MAX_VLAN; i++) {
		struct vlan_hdr *vh = cur;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (i + tags_before >= PW_MAX_VLAN)
			break;	/* over the bound: malformed below */
		if ((void *)(vh + 1) > end) {
			p->malformed = 1;
			return;
		}
		proto = vh->h_vlan_encapsulated_proto;
		cur = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP))
		err = pw_parse_ipv4(cur, end, p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		err = pw_parse_ipv6(cur, end, p);
	else if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		err = -1;	/* more tags than the parser follows: the kernel strips them */
	else if (proto == bpf_htons(ETH_P_ARP))
		p->link_ctl = 1;
	/* anything else stays L3 "other": decided by the policy */

	if (err)
		p->malformed = 1;
}

static __always_inline void pw_parse(void *data, void *end, struct pw_pkt *p)
{
	pw_parse_tags(data, end, p, 0);
}

#endif /* PINWALL_PARSE_H */
