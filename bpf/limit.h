/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rate limits (abi.h: PW_ACT_LIMIT): when the first ordered rule a packet
 * matches is a limit rule, its source key's bucket decides. Conforming:
 * the rule is passed over and the next matching one is tried; excess: the
 * limit rule decides (its action drops). Shared maps, pinned by name.
 */
#ifndef PINWALL_BPF_LIMIT_H
#define PINWALL_BPF_LIMIT_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_ORD_MAX);
	__type(key, __u32);
	__type(value, struct pw_limit);
	PW_SHARED;
} pw_limits SEC(".maps");

/* the theoretical arrival time (ns) per (rule, source key) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_LIM_SOURCES);
	__type(key, struct pw_limit_key);
	__type(value, __u64);
	PW_SHARED;
} pw_limit_state SEC(".maps");

/* per rule id: two buffers' worth of limit rules */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * PW_ORD_MAX);
	__type(key, __u32);
	__type(value, struct pw_limit_pass_rec);
	PW_SHARED;
} pw_limit_pass SEC(".maps");

#define PW_LIM_TRIES 4	/* compare-and-swap attempts under contention */

static __always_inline void pw_limit_count(__u32 rule, __u64 bytes)
{
	struct pw_limit_pass_rec *c = bpf_map_lookup_elem(&pw_limit_pass, &rule), one = { 1, bytes };

	/* per-CPU value: no other writer */
	if (c) {
		c->packets++;
		c->bytes += bytes;
	} else {
		bpf_map_update_elem(&pw_limit_pass, &rule, &one, BPF_NOEXIST);
	}
}

/* The walk over the matching ordered rules, one bpf_loop step per limit
 * rule passed over. Only the packet's source is needed: a copy, so that
 * the walk is a global function, verified once on its own. */
struct pw_lim_walk {
	__u64 acc[PW_ORD_WORDS];	/* matching ordered rules not passed over yet */
	__u32 saddr[4];
	__u64 bytes;
	__u32 v6, set, n, table_pos, table_rule;
	__u32 i;			/* out: the deciding bit, or PW_ORD_MAX for none */
};

/*
 * GCRA on one shared word: conforming when the next slot, moved by this
 * packet's cost, stays within burst_ns of now. A lost compare-and-swap
 * means another CPU took a slot: retry from its value. Out of attempts or
 * out of state, the packet is excess: the limit holds whatever the load.
 */
__noinline bool pw_limit_conform(const struct pw_limit *l, const struct pw_lim_walk *w)
{
	const __u32 *m, *saddr;
	struct pw_limit_key k;
	__u64 now = bpf_ktime_get_ns(), cost, *tat, t, base;

	/* a global function: verified once, not once per loop step */
	if (!l || !w)
		return false;
	m = w->v6 ? l->mask6 : l->mask4;
	saddr = w->saddr;
	cost = ((l->flags & PW_LIM_BYTES ? w->bytes : 1) * l->cost_q) >> PW_LIM_Q;
	k.rule = l->rule;
	k.family = w->v6 ? 6 : 4;
	k.addr[0] = saddr[0] & m[0];
	k.addr[1] = saddr[1] & m[1];
	k.addr[2] = saddr[2] & m[2];
	k.addr[3] = saddr[3] & m[3];
	tat = bpf_map_lookup_elem(&pw_limit_state, &k);
	if (!tat) {
		t = now + cost;
		if (cost <= l->burst_ns && !bpf_map_update_elem(&pw_limit_state, &k, &t, BPF_NOEXIST))
			return true;
		/* created meanwhile by another CPU: share its bucket */
		if (!(tat = bpf_map_lookup_elem(&pw_limit_state, &k)))
			return false;
	}
	for (int i = 0; i < PW_LIM_TRIES; i++) {
		t = *(volatile __u64 *)tat;
		base = t > now ? t : now;
		if (base + cost - now > l->burst_ns)
			return false;
		if (__sync_val_compare_and_swap(tat, t, base + cost) == t)
			return true;
	}
	return false;
}

/* The first matching bit that can decide, or PW_ORD_MAX when the table
 * (or nothing) decides. */
static __always_inline __u32 pw_lim_first(const struct pw_lim_walk *w)
{
	__u32 i;

	if (w->acc[0])
		i = pw_ffs64(w->acc[0]);
	else if (w->acc[1])
		i = 64 + pw_ffs64(w->acc[1]);
	else
		return PW_ORD_MAX;
	if (i >= w->n || (w->table_rule && w->table_pos <= i))
		return PW_ORD_MAX;
	return i;
}

/* One step of the walk: 0 when a limit rule was passed over (on to the
 * next), 1 when the walk is done (w->i decides). A global function, so
 * that the loop's state is opaque to the verifier and its steps converge
 * at once instead of one bit pattern at a time. */
__noinline int pw_lim_try(struct pw_lim_walk *w)
{
	struct pw_limit *l;
	__u32 i, idx;

	if (!w)
		return 1;
	i = pw_lim_first(w);
	w->i = i;
	if (i >= PW_ORD_MAX)
		return 1;
	idx = (w->set & 1) * PW_ORD_MAX + (i & (PW_ORD_MAX - 1));
	l = bpf_map_lookup_elem(&pw_limits, &idx);
	if (!l || !l->rule || !pw_limit_conform(l, w))
		return 1;	/* a plain rule, or excess: this rule decides */
	pw_limit_count(l->rule, w->bytes);
	w->acc[(i / 64) & 1] &= ~(1ULL << (i % 64));
	w->i = PW_ORD_MAX;	/* every bit passed over: the table decides */
	return 0;
}

static long pw_lim_step(__u32 k, void *arg)
{
	(void)k;
	return pw_lim_try(arg) ? 1 : 0;
}

/*
 * The ordered rule deciding after limit rules: @in->i is the first
 * matching bit; returns it, or the first bit after the limit rules passed
 * over, or PW_ORD_MAX for none (the table decides). A global function: the
 * caller's paths (one per bit) meet here, verified once; a set without
 * limit rules pays the call and one array lookup.
 */
__noinline __u32 pw_limit_walk(const struct pw_lim_walk *in)
{
	struct pw_lim_walk w;
	struct pw_limit *l;
	__u32 idx;

	if (!in)
		return PW_ORD_MAX;
	idx = (in->set & 1) * PW_ORD_MAX + (in->i & (PW_ORD_MAX - 1));
	l = bpf_map_lookup_elem(&pw_limits, &idx);
	if (!l || !l->rule)
		return in->i;
	__builtin_memcpy(&w, in, sizeof(w));
	bpf_loop(PW_ORD_MAX, pw_lim_step, &w, 0);
	return w.i;
}

static __always_inline __u32 pw_limit_hook(__u32 set, const struct pw_ord_set *os, const __u64 *acc,
					   __u32 i, __u32 table_rule, const struct pw_pkt *p,
					   __u64 bytes)
{
	struct pw_lim_walk w;

	w.acc[0] = acc[0];
	w.acc[1] = acc[1];
	__builtin_memcpy(w.saddr, p->saddr, sizeof(w.saddr));
	w.bytes = bytes;
	w.v6 = p->l3 != PW_C_IPV4;
	w.set = set;
	w.n = os->n;
	w.table_pos = os->table_pos;
	w.table_rule = table_rule;
	w.i = i;
	return pw_limit_walk(&w);
}

#endif /* PINWALL_BPF_LIMIT_H */
