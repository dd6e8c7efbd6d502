/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded header parsing for the XDP path: Ethernet, up to PW_MAX_VLAN VLAN
 * tags, IPv4 (with options), IPv6 (with up to PW_MAX_V6_EXT extension
 * headers), TCP, UDP, ICMP, ICMPv6. Every access is checked against
 * data_end; a frame that ends early or contradicts itself is marked
 * malformed, never aborted.
 */
#ifndef PINWALL_PARSE_H
#define PINWALL_PARSE_H

#define ETH_P_IP	0x0800
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

struct pw_pkt {
	__u8 l3;		/* PW_C_IPV4, PW_C_IPV6 or PW_C_L3_OTHER */
	__u8 l4;		/* PW_C_TCP .. PW_C_L4_OTHER; valid for IPv4/IPv6 */
	__u8 malformed;
	__u8 l4_proto;		/* IP protocol / final IPv6 next header */
	__u8 has_ports;
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u32 saddr[4];		/* network byte order; IPv4 in [0] */
	__u32 daddr[4];
};

/* Returns 0 when parsing stopped cleanly, -1 when the frame is malformed. */
static __always_inline int pw_parse_l4(void *cur, void *end, struct pw_pkt *p)
{
	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = cur;

		if ((void *)(th + 1) > end || th->doff < 5)
			return -1;
		if (cur + th->doff * 4 > end)
			return -1;
		p->l4 = PW_C_TCP;
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->has_ports = 1;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = cur;

		if ((void *)(uh + 1) > end)
			return -1;
		p->l4 = PW_C_UDP;
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_:
		/* ICMP inside IPv6 (and ICMPv6 inside IPv4) is just "other". */
		if ((p->l4_proto == IPPROTO_ICMP) != (p->l3 == PW_C_IPV4)) {
			p->l4 = PW_C_L4_OTHER;
			return 0;
		}
		/* Both carry at least type, code, checksum and a 4-byte word. */
		if (cur + 8 > end)
			return -1;
		p->l4 = PW_C_ICMP;
		return 0;
	default:
		p->l4 = PW_C_L4_OTHER;
		return 0;
	}
}

static __always_inline int pw_parse_ipv4(void *cur, void *end, struct pw_pkt *p)
{
	struct iphdr *iph = cur;
	__u32 hlen;

	if ((void *)(iph + 1) > end)
		return -1;
	if (iph->version != 4 || iph->ihl < 5)
		return -1;
	hlen = iph->ihl * 4;
	if (cur + hlen > end || bpf_ntohs(iph->tot_len) < hlen)
		return -1;
	p->l3 = PW_C_IPV4;
	p->saddr[0] = iph->saddr;
	p->daddr[0] = iph->daddr;
	p->l4_proto = iph->protocol;
	/* Only the first fragment carries the L4 header. */
	if (bpf_ntohs(iph->frag_off) & PW_IP_OFFSET) {
		p->l4 = PW_C_L4_OTHER;
		return 0;
	}
	return pw_parse_l4(cur + hlen, end, p);
}

static __always_inline int pw_parse_ipv6(void *cur, void *end, struct pw_pkt *p)
{
	struct ipv6hdr *ip6h = cur;
	__u8 nh;
	int i;

	if ((void *)(ip6h + 1) > end)
		return -1;
	if (ip6h->version != 6)
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
			/* The header must be all there, not just its first bytes. */
			if (cur > end)
				return -1;
			break;
		}
		case IPPROTO_FRAGMENT_: {
			struct frag_hdr *fh = cur;

			if ((void *)(fh + 1) > end)
				return -1;
			p->l4_proto = fh->nexthdr;
			if (bpf_ntohs(fh->frag_off) & ~7) {
				p->l4 = PW_C_L4_OTHER;	/* non-first fragment */
				return 0;
			}
			nh = fh->nexthdr;
			cur = fh + 1;
			break;
		}
		default:
			p->l4_proto = nh;
			return pw_parse_l4(cur, end, p);
		}
	}
	p->l4_proto = nh;
	/* Chain longer than the bound: counted, but not classified further. */
	if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
	    nh == IPPROTO_FRAGMENT_) {
		p->l4 = PW_C_L4_OTHER;
		return 0;
	}
	return pw_parse_l4(cur, end, p);
}

static __always_inline void pw_parse(void *data, void *end, struct pw_pkt *p)
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
	/* anything else, a third VLAN tag included, stays L3 "other" */

	if (err)
		p->malformed = 1;
}

#endif /* PINWALL_PARSE_H */
