/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `ct established` (abi.h): the flow table the egress recorder
 * (bpf/ct_egress.bpf.c) fills, and the ingress side's check. Included by
 * both objects; PW_CT_EGRESS leaves out what only the XDP program needs.
 */
#ifndef PINWALL_BPF_CT_H
#define PINWALL_BPF_CT_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_CT_FLOWS);
	__type(key, struct pw_ct_key);
	__type(value, struct pw_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pw_ct SEC(".maps");

/* How long after its last outbound packet a flow still lets replies in. */
static __always_inline __u64 pw_ct_timeout_ns(__u32 state)
{
	__u64 s;

	switch (state) {
	case PW_CT_SYN_SENT:	s = PW_CT_TO_SYN_SENT; break;
	case PW_CT_ESTABLISHED:	s = PW_CT_TO_ESTABLISHED; break;
	case PW_CT_CLOSING:	s = PW_CT_TO_CLOSING; break;
	case PW_CT_UDP:		s = PW_CT_TO_UDP; break;
	case PW_CT_ICMP:	s = PW_CT_TO_ICMP; break;
	default:		return 0;
	}
	return s * 1000000000ULL;
}

#ifndef PW_CT_EGRESS

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pw_ct_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pw_ct_rules SEC(".maps");

#define PW_TCP_SYN 0x02
#define PW_TCP_ACK 0x10

/*
 * Is @p a reply to a flow the host opened, still in time? Only TCP, UDP
 * and own-family echo replies can be; a bare SYN never is (the peer would
 * be opening a connection, not answering one).
 */
static __always_inline bool pw_ct_reply(const struct pw_pkt *p)
{
	struct pw_ct_key k = {};
	struct pw_ct_val *v;
	__u64 to;

	if (p->frag == PW_FRAG_LATER)
		return false;
	if (p->has_ports) {
		if (p->l4 == PW_C_TCP && (p->tcp_flags & (PW_TCP_SYN | PW_TCP_ACK)) == PW_TCP_SYN)
			return false;
		k.lport = p->dport;
		k.rport = p->sport;
	} else if (p->l4 == PW_C_ICMP &&
		   p->icmp_type == (p->l3 == PW_C_IPV4 ? 0 : 129)) {
		k.lport = p->icmp_id;	/* echo reply */
	} else {
		return false;
	}
	__builtin_memcpy(k.local, p->daddr, sizeof(k.local));
	__builtin_memcpy(k.remote, p->saddr, sizeof(k.remote));
	k.family = p->l3 == PW_C_IPV4 ? 4 : 6;
	k.proto = p->l4_proto;
	v = bpf_map_lookup_elem(&pw_ct, &k);
	if (!v)
		return false;
	to = pw_ct_timeout_ns(v->state);
	/* the coarse clock (a tick's resolution, ample for these timeouts) costs
	 * less; it may be a tick behind a time written from the precise one,
	 * so the difference is signed */
	return (__s64)(bpf_ktime_get_coarse_ns() - v->seen) < (__s64)to;
}

/* The ordered rules with the match leave the candidates @acc unless @p is
 * a reply; the flow is looked up only when one of them is a candidate. */
static __always_inline void pw_ct_filter(__u32 set, const struct pw_pkt *p, __u64 *acc)
{
	struct pw_ct_set *cs = bpf_map_lookup_elem(&pw_ct_rules, &set);

	if (!cs || !((acc[0] & cs->bits[0]) | (acc[1] & cs->bits[1])))
		return;
	if (pw_ct_reply(p))
		return;
	acc[0] &= ~cs->bits[0];
	acc[1] &= ~cs->bits[1];
}

#endif /* !PW_CT_EGRESS */
#endif /* PINWALL_BPF_CT_H */
