/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rule maps and the lookup. All rule maps are pinned by name (shared by
 * every interface, kept across reloads). See abi.h for the layout.
 */
#ifndef PINWALL_BPF_RULES_H
#define PINWALL_BPF_RULES_H

#define PW_SHARED __uint(pinning, LIBBPF_PIN_BY_NAME)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pw_rule);
	PW_SHARED;
} pw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pw_datarec);
	PW_SHARED;
} pw_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_config);
	PW_SHARED;
} pw_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4 * PW_CHUNKS);
	__type(key, __u32);
	__type(value, struct pw_top);
	PW_SHARED;
} pw_v4_top SEC(".maps"), pw_v6_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_MAX_LONG);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_v4_key);
	__type(value, __u32);
	PW_SHARED;
} pw_v4_long SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_MAX_LONG);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_v6_key);
	__type(value, __u32);
	PW_SHARED;
} pw_v6_long SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8 * 65536);
	__type(key, __u32);
	__type(value, __u32);
	PW_SHARED;
} pw_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 256);
	__type(key, __u32);
	__type(value, __u32);
	PW_SHARED;
} pw_protos SEC(".maps");

/* Ordered rules (abi.h): per set, then nodes, then what they match. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pw_ord_set);
	PW_SHARED;
} pw_ord SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_NODES);
	__type(key, __u32);
	__type(value, struct pw_node);
	PW_SHARED;
} pw_nodes SEC(".maps");

/* read by user space only: what each ordered rule and set is */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * PW_ORD_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pw_ord_rule);
	PW_SHARED;
} pw_ord_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_MAX_SETS);
	__type(key, __u32);
	__type(value, struct pw_set_info);
	PW_SHARED;
} pw_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_MAX_ELEMS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_elem_key);
	__type(value, __u32);
	PW_SHARED;
} pw_set_elems SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_NODES);
	__type(key, __u32);
	__type(value, struct pw_prefix_key);
	PW_SHARED;
} pw_node_pfx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_MAX_ELEMS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_hit_key);
	__type(value, __u64);
	PW_SHARED;
} pw_elem_hits SEC(".maps");

/* Index of the highest set bit; x != 0. No clz in BPF: six compares. */
static __always_inline __u32 pw_fls64(__u64 x)
{
	__u32 r = 0;

	if (x >> 32) { x >>= 32; r += 32; }
	if (x >> 16) { x >>= 16; r += 16; }
	if (x >> 8) { x >>= 8; r += 8; }
	if (x >> 4) { x >>= 4; r += 4; }
	if (x >> 2) { x >>= 2; r += 2; }
	if (x >> 1) r += 1;
	return r;
}

static __always_inline __u32 pw_mask_be(__u32 word_be, int bits)
{
	if (bits >= 32)
		return word_be;
	if (bits <= 0)
		return 0;
	return bpf_htonl(bpf_ntohl(word_be) & ~(0xffffffffu >> bits));
}

/*
 * Probing the lengths present in a chunk, longest first. The loop runs
 * through bpf_loop so the verifier checks its body once, not once per
 * combination of bits; it runs once per present length and stops at a hit.
 */
struct pw_probe {
	__u64 bits;		/* lengths still to try: bit i = length base + i */
	__u32 base;
	__u32 set, dir;
	__u32 rule;		/* out */
	__u32 addr[4];		/* network byte order; IPv4 in [0] */
};

/* Next length to try, longest first; 0 when none is left. */
static __always_inline __u32 pw_next_len(struct pw_probe *pp)
{
	__u32 b;

	if (!pp->bits)
		return 0;
	b = pw_fls64(pp->bits);
	pp->bits &= ~(1ULL << (b & 63));
	return pp->base + b;
}

/* One callback per family: a single lookup site per map lets the verifier
 * inline the hash lookup instead of calling the generic helper. */
static long pw_probe4(__u32 i, void *arg)
{
	struct pw_probe *pp = arg;
	__u32 len = pw_next_len(pp), *r;
	struct pw_v4_key k;

	(void)i;
	if (!len)
		return 1;
	k.meta = PW_LONG_META(pp->set, pp->dir, len);
	k.addr = pw_mask_be(pp->addr[0], len);
	r = bpf_map_lookup_elem(&pw_v4_long, &k);
	if (!r)
		return 0;
	pp->rule = *r;
	return 1;
}

static long pw_probe6(__u32 i, void *arg)
{
	struct pw_probe *pp = arg;
	__u32 len = pw_next_len(pp), *r;
	struct pw_v6_key k;

	(void)i;
	if (!len)
		return 1;
	k.meta = PW_LONG_META(pp->set, pp->dir, len);
	k.addr[0] = pw_mask_be(pp->addr[0], len);
	k.addr[1] = pw_mask_be(pp->addr[1], (int)len - 32);
	k.addr[2] = pw_mask_be(pp->addr[2], (int)len - 64);
	k.addr[3] = pw_mask_be(pp->addr[3], (int)len - 96);
	r = bpf_map_lookup_elem(&pw_v6_long, &k);
	if (!r)
		return 0;
	pp->rule = *r;
	return 1;
}

static __always_inline __u32 pw_lpm(__u32 set, __u32 dir, const __u32 *a, bool v6)
{
	__u32 idx = PW_TOP_INDEX(set, dir, bpf_ntohl(a[0]) >> 16);
	struct pw_top *t = bpf_map_lookup_elem(v6 ? (void *)&pw_v6_top : (void *)&pw_v4_top, &idx);
	struct pw_probe pp;

	if (!t)
		return 0;
	{
		__u32 b3 = (bpf_ntohl(a[0]) >> 8) & 0xff;

		/* nothing longer than /16 covers this address: no probe */
		if (!(t->b3[(b3 >> 6) & 3] & (1ULL << (b3 & 63))))
			return t->rule;
	}
	pp.set = set;
	pp.dir = dir;
	pp.rule = 0;
	pp.addr[0] = a[0];
	if (v6) {
		pp.addr[1] = a[1];
		pp.addr[2] = a[2];
		pp.addr[3] = a[3];
		/* bits[1]: lengths 81..128, then bits[0]: 17..80 */
		pp.bits = t->bits[1];
		pp.base = 81;
		if (pp.bits)
			bpf_loop(48, pw_probe6, &pp, 0);
		if (pp.rule)
			return pp.rule;
	}
	pp.bits = t->bits[0];
	pp.base = 17;
	if (pp.bits)
		bpf_loop(64, v6 ? pw_probe6 : pw_probe4, &pp, 0);
	return pp.rule ?: t->rule;
}

/* The longest-prefix lookup value of one address of @p (@dir: source or
 * destination). Global functions: verified once each, not once per caller. */
__noinline __u32 pw_lpm_v4(__u32 set, __u32 dir, const struct pw_pkt *p)
{
	if (!p)
		return 0;
	return pw_lpm(set & 1, dir & 1, dir == PW_SIDE_SRC ? p->saddr : p->daddr, false);
}

__noinline __u32 pw_lpm_v6(__u32 set, __u32 dir, const struct pw_pkt *p)
{
	if (!p)
		return 0;
	return pw_lpm(set & 1, dir & 1, dir == PW_SIDE_SRC ? p->saddr : p->daddr, true);
}

#define PW_LPM(set, dir, p, v6) ((v6) ? pw_lpm_v6(set, dir, p) : pw_lpm_v4(set, dir, p))

static __always_inline __u32 pw_lookup_u32(void *map, __u32 idx)
{
	__u32 *r = bpf_map_lookup_elem(map, &idx);

	return r ? *r : 0;
}

/* The single-match rule a lookup value names (abi.h: PW_NODE). */
static __always_inline __u32 pw_table_rule(__u32 v)
{
	struct pw_node *nd;
	__u32 idx = v & ~PW_NODE;

	if (!(v & PW_NODE))
		return v;
	nd = bpf_map_lookup_elem(&pw_nodes, &idx);
	return nd ? nd->rule : 0;
}

/* Fold one field's lookup value into the ordered-rule bitmap @acc; returns
 * its single-match rule. A missing node matches no ordered rule. */
static __always_inline __u32 pw_field(__u32 v, const __u64 *any, __u64 *acc)
{
	struct pw_node *nd;
	__u32 idx = v & ~PW_NODE;

	if (!(v & PW_NODE)) {
		acc[0] &= any[0];
		acc[1] &= any[1];
		return v;
	}
	nd = bpf_map_lookup_elem(&pw_nodes, &idx);
	if (!nd) {
		acc[0] = acc[1] = 0;
		return 0;
	}
	acc[0] &= nd->bits[0];
	acc[1] &= nd->bits[1];
	return nd->rule;
}

/* One hit of @rule, by its set match on @side, for the table entry the
 * node of lookup value @v stands for (abi.h: pw_elem_hits). */
static __always_inline void pw_count_elem(__u32 v, __u32 rule, __u32 side)
{
	struct pw_prefix_key *k;
	struct pw_hit_key hk;
	__u32 idx = v & ~PW_NODE;
	__u64 *n, one = 1;

	if (!(v & PW_NODE))
		return;
	k = bpf_map_lookup_elem(&pw_node_pfx, &idx);
	if (!k || !k->family)
		return;
	hk.rule = rule;
	hk.side = side;
	__builtin_memcpy(&hk.pfx, k, sizeof(hk.pfx));
	n = bpf_map_lookup_elem(&pw_elem_hits, &hk);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&pw_elem_hits, &hk, &one, BPF_NOEXIST) &&
		 (n = bpf_map_lookup_elem(&pw_elem_hits, &hk)))
		__sync_fetch_and_add(n, 1);	/* created meanwhile by another CPU */
}

/* Index of the lowest set bit; x != 0. */
static __always_inline __u32 pw_ffs64(__u64 x)
{
	return pw_fls64(x & -x);
}

#include "limit.h"

/* The prefix table alone (no ordered rule): lookups stop at the first hit. */
static __always_inline __u32 pw_classify_table(__u32 set, const struct pw_pkt *p, bool v6)
{
	__u32 rule;

	rule = pw_table_rule(PW_LPM(set, PW_SIDE_SRC, p, v6));
	if (!rule)
		rule = pw_table_rule(PW_LPM(set, PW_SIDE_DST, p, v6));
	/* a later fragment's L4 fields are not its own: no port or proto rule */
	if (rule || p->frag == PW_FRAG_LATER)
		return rule;
	if (p->has_ports) {
		__u32 udp = p->l4 == PW_C_UDP;

		rule = pw_table_rule(pw_lookup_u32(&pw_ports, PW_PORT_INDEX(set, PW_SIDE_DST, udp, p->dport)));
		if (!rule)
			rule = pw_table_rule(pw_lookup_u32(&pw_ports, PW_PORT_INDEX(set, PW_SIDE_SRC, udp, p->sport)));
	}
	/* protocol 1 is ICMP only in IPv4, 58 ICMPv6 only in IPv6 */
	if (!rule && !(v6 ? p->l4_proto == IPPROTO_ICMP : p->l4_proto == IPPROTO_ICMPV6_))
		rule = pw_table_rule(pw_lookup_u32(&pw_protos, PW_PROTO_INDEX(set, p->l4_proto)));
	return rule;
}

/* Ordered rules and the prefix table: every field is looked up, the
 * bitmaps ANDed; the first ordered rule decides unless the table, placed
 * before it, has a rule. */
static __always_inline __u32 pw_classify_ordered(__u32 set, const struct pw_pkt *p, bool v6,
						 const struct pw_ord_set *os, __u64 bytes)
{
	__u64 acc[PW_ORD_WORDS] = { ~0ULL, ~0ULL };
	__u32 r_src, r_dst, r_dp = 0, r_sp = 0, r_pr = 0, rule, i, v_src, v_dst;

	v_src = PW_LPM(set, PW_SIDE_SRC, p, v6);
	v_dst = PW_LPM(set, PW_SIDE_DST, p, v6);
	r_src = pw_field(v_src, os->any[PW_F_SRC], acc);
	r_dst = pw_field(v_dst, os->any[PW_F_DST], acc);
	if (p->frag == PW_FRAG_LATER || !p->has_ports) {
		pw_field(0, os->any[PW_F_DPORT], acc);
		pw_field(0, os->any[PW_F_SPORT], acc);
	} else {
		__u32 udp = p->l4 == PW_C_UDP;

		r_dp = pw_field(pw_lookup_u32(&pw_ports, PW_PORT_INDEX(set, PW_SIDE_DST, udp, p->dport)),
				os->any[PW_F_DPORT], acc);
		r_sp = pw_field(pw_lookup_u32(&pw_ports, PW_PORT_INDEX(set, PW_SIDE_SRC, udp, p->sport)),
				os->any[PW_F_SPORT], acc);
	}
	if (p->frag == PW_FRAG_LATER || (v6 ? p->l4_proto == IPPROTO_ICMP : p->l4_proto == IPPROTO_ICMPV6_))
		pw_field(0, os->any[PW_F_PROTO], acc);
	else
		r_pr = pw_field(pw_lookup_u32(&pw_protos, PW_PROTO_INDEX(set, p->l4_proto)),
				os->any[PW_F_PROTO], acc);
	pw_ct_filter(set, p, acc);	/* bpf/ct.h: `ct established` */
	rule = r_src ?: r_dst;
	if (!rule && p->frag != PW_FRAG_LATER)
		rule = r_dp ?: r_sp ?: r_pr;
	if (acc[0])
		i = pw_ffs64(acc[0]);
	else if (acc[1])
		i = 64 + pw_ffs64(acc[1]);
	else
		return rule;
	if (i >= os->n || (rule && os->table_pos <= i))
		return rule;
	/* limit rules the packet conforms to are passed over (limit.h) */
	if ((i = pw_limit_hook(set, os, acc, i, rule, p, bytes)) >= PW_ORD_MAX)
		return rule;
	i &= PW_ORD_MAX - 1;
	if (os->set_bits[0][i / 64] & (1ULL << (i % 64)))
		pw_count_elem(v_src, os->ids[i], PW_SIDE_SRC);
	if (os->set_bits[1][i / 64] & (1ULL << (i % 64)))
		pw_count_elem(v_dst, os->ids[i], PW_SIDE_DST);
	return os->ids[i];
}

/*
 * The rule deciding an IP packet, 0 for none. The prefix table's precedence
 * (README): source address, destination address (longest prefix within
 * each), destination port, source port (narrowest range within each),
 * protocol. A later fragment is matched by its addresses only.
 */
/*
 * pw_ord_rules, pw_sets and pw_set_elems are read by user space only. They
 * are referenced here (never at run time: the flag is 0 and read-only) so
 * that they are maps of the program: status sees them in use, and repin
 * finds them from the running program when their pins are gone.
 */
const volatile __u32 pw_user_maps_touch = 0;

static __always_inline void pw_user_maps(void)
{
	__u32 zero = 0;
	struct pw_elem_key k = {};

	if (!pw_user_maps_touch)
		return;
	bpf_map_lookup_elem(&pw_ord_rules, &zero);
	bpf_map_lookup_elem(&pw_sets, &zero);
	bpf_map_lookup_elem(&pw_set_elems, &k);
}

__noinline __u32 pw_classify(__u32 set, const struct pw_pkt *p, __u64 bytes)
{
	struct pw_ord_set *os;

	pw_user_maps();

	/* a global function: verified once, not once per parser path */
	if (!p)
		return 0;
	set &= 1;
	os = bpf_map_lookup_elem(&pw_ord, &set);
	if (os && os->n)
		return pw_classify_ordered(set, p, p->l3 != PW_C_IPV4, os, bytes);
	return pw_classify_table(set, p, p->l3 != PW_C_IPV4);
}

#endif /* PINWALL_BPF_RULES_H */
