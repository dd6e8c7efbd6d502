// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Compiling a rule set into the lookup tables of one buffer (abi.h): the
 * prefix table's rules by longest prefix and narrowest range, and the
 * ordered rules as bitmaps folded into the same lookup values (nodes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

void pw_tables_free(struct pw_tables *t)
{
	free(t->top4); free(t->top6); free(t->ports);
	free(t->k4); free(t->k6); free(t->v4); free(t->v6);
	free(t->nodes); free(t->node_hash); free(t->node_pfx);
	memset(t, 0, sizeof(*t));
}

/* ---- nodes: (single-match rule, bitmap), shared by equal contents ---- */

#define NODE_HASH (2 * PW_NODES)

static __u64 node_key(__u32 rule, const __u64 *bits)
{
	__u64 h = rule * 0x9e3779b97f4a7c15ull;

	h ^= bits[0] + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
	h ^= bits[1] + 0x8cb92ba72f3d8dd7ull + (h << 6) + (h >> 2);
	return h;
}

/* The lookup value for @rule with ordered bitmap @bits on a field whose
 * wildcard bitmap is @any: the plain rule id when the bitmap says nothing
 * more; 0 with t->full set when the node table is full. */
static __u32 field_value(struct pw_tables *t, __u32 rule, const __u64 *bits, const __u64 *any)
{
	__u64 b[2] = { bits[0] | any[0], bits[1] | any[1] };
	size_t s;

	if (b[0] == any[0] && b[1] == any[1])
		return rule;
	for (s = node_key(rule, b) & (NODE_HASH - 1); t->node_hash[s]; s = (s + 1) & (NODE_HASH - 1)) {
		struct pw_node *nd = &t->nodes[t->node_hash[s] - 1];

		if (nd->rule == rule && nd->bits[0] == b[0] && nd->bits[1] == b[1])
			return PW_NODE | (t->set * PW_NODES + t->node_hash[s] - 1);
	}
	if (t->n_nodes == PW_NODES) {
		t->full = true;
		return 0;
	}
	t->nodes[t->n_nodes] = (struct pw_node){ .rule = rule, .bits = { b[0], b[1] } };
	t->node_hash[s] = (__u32)++t->n_nodes;
	return PW_NODE | (t->set * PW_NODES + t->n_nodes - 1);
}

/* A node of its own for table entry @elem, inside a set element: its hits
 * are counted under its prefix. */
static __u32 elem_value(struct pw_tables *t, __u32 rule, const __u64 *bits, const __u64 *any,
			const struct pw_prefix *elem)
{
	struct pw_prefix_key *k;

	if (t->n_nodes == PW_NODES) {
		t->full = true;
		return 0;
	}
	t->nodes[t->n_nodes] = (struct pw_node){ .rule = rule,
		.bits = { bits[0] | any[0], bits[1] | any[1] } };
	k = &t->node_pfx[t->n_nodes];
	k->family = elem->family;
	k->len = elem->len;
	memcpy(k->addr, elem->addr, sizeof(k->addr));
	return PW_NODE | (t->set * PW_NODES + t->n_nodes++);
}

/* ---- the ordered rules' header: ids, table place, wildcards ---- */

static void build_ord(const struct pw_ruleset *rs, struct pw_tables *t)
{
	struct pw_ord_set *os = &t->ord;
	bool single = false;

	memset(os, 0, sizeof(*os));
	for (int i = 0; i < rs->n; i++) {
		const struct pw_ord_rule *o = rs->ord ? &rs->ord[i] : NULL;
		__u32 k = os->n, w = k / 64;
		__u64 bit = 1ull << (k % 64);

		if (PW_RK_KIND(rs->r[i].kind) != PW_RK_ORDERED || !o) {
			if (!single)
				os->table_pos = os->n;
			single = true;
			continue;
		}
		if (k >= PW_ORD_MAX)
			break;
		os->ids[k] = rs->ids[i];
		t->ord_idx[i] = (int)k;
		if (!o->src.family) os->any[PW_F_SRC][w] |= bit;
		if (!o->dst.family) os->any[PW_F_DST][w] |= bit;
		if (!o->sport.n) os->any[PW_F_SPORT][w] |= bit;
		if (!o->dport.n) os->any[PW_F_DPORT][w] |= bit;
		if (!o->has_proto) os->any[PW_F_PROTO][w] |= bit;
		if (o->src.family == PW_ADDR_SET) os->set_bits[0][w] |= bit;
		if (o->dst.family == PW_ADDR_SET) os->set_bits[1][w] |= bit;
		if (PW_ORD_FLAGS(o) & PW_ORD_F_CT) t->ct.bits[w] |= bit;
		os->n++;
	}
	if (!single)
		os->table_pos = os->n;
}

/* ---- addresses ---- */

struct aent {
	struct pw_prefix p;
	__u32 rule;		/* own single-match rule */
	__u64 own[2];		/* ordered rules matching this prefix */
	__u32 value;
	bool is_elem;		/* a set element */
	const struct pw_prefix *elem;	/* a set element containing it, or NULL */
};

static int cmp_aent(const void *a, const void *b)
{
	const struct aent *x = a, *y = b;

	for (int w = 0; w < 4; w++) {
		__u32 u = ntohl(x->p.addr[w]), v = ntohl(y->p.addr[w]);

		if (u != v)
			return u < v ? -1 : 1;
	}
	return (int)x->p.len - (int)y->p.len;
}

static int cmp_aent_len(const void *a, const void *b)
{
	return (int)((const struct aent *)a)->p.len - (int)((const struct aent *)b)->p.len;
}

static bool contains(const struct pw_prefix *w, const struct pw_prefix *n)
{
	__u32 a[4];

	if (n->len < w->len)
		return false;
	memcpy(a, n->addr, sizeof(a));
	pw_mask_addr(a, (int)w->family, w->len);
	return !memcmp(a, w->addr, sizeof(a));
}

static int push_aent(struct aent **v, int *n, int *cap, const struct pw_prefix *p, __u32 rule, int bit,
		     bool is_elem)
{
	if (*n == *cap) {
		int c = *cap ? *cap * 2 : 1024;
		struct aent *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].p = *p;
	(*v)[*n].rule = rule;
	if (bit >= 0)
		(*v)[*n].own[bit / 64] |= 1ull << (bit % 64);
	(*v)[*n].is_elem = is_elem;
	(*n)++;
	return 0;
}

/* Every prefix one side of one family sees: single-match rules and the
 * prefixes (inline or from sets) of ordered rules. */
static int collect(const struct pw_ruleset *rs, const struct pw_tables *t, __u32 family, __u32 dir,
		   struct aent **v, int *n)
{
	int cap = 0;

	for (int i = 0; i < rs->n; i++) {
		const struct pw_rule *r = &rs->r[i];
		const struct pw_addr_match *m;
		struct pw_prefix p = { family, 0, { 0 } };
		const struct pw_set *s;

		if (r->kind == (dir == PW_SIDE_SRC ? PW_RK_SRC : PW_RK_DST) && r->family == family) {
			p.len = r->len;
			memcpy(p.addr, r->addr, sizeof(p.addr));
			if (push_aent(v, n, &cap, &p, rs->ids[i], -1, false))
				return -ENOMEM;
		}
		if (PW_RK_KIND(r->kind) != PW_RK_ORDERED || t->ord_idx[i] < 0)
			continue;
		m = dir == PW_SIDE_SRC ? &rs->ord[i].src : &rs->ord[i].dst;
		if (m->family == family) {
			p.len = m->len;
			memcpy(p.addr, m->addr, sizeof(p.addr));
			if (push_aent(v, n, &cap, &p, 0, t->ord_idx[i], false))
				return -ENOMEM;
		} else if (m->family == PW_ADDR_SET && (s = pw_ruleset_find_set(rs, m->set))) {
			for (int e = 0; e < s->n; e++)
				if (s->e[e].family == family &&
				    push_aent(v, n, &cap, &s->e[e], 0, t->ord_idx[i], true))
					return -ENOMEM;
		}
	}
	return 0;
}

/* Equal prefixes merged; then each prefix takes the longest single-match
 * rule and every ordered rule of the prefixes containing it (a sorted
 * sweep with a stack of the open prefixes). */
static int resolve(struct pw_tables *t, struct aent *v, int *n, const __u64 *any)
{
	struct aent **stack;
	int k = 0, depth = 0;

	if (!*n)
		return 0;
	qsort(v, *n, sizeof(*v), cmp_aent);
	for (int i = 1; i < *n; i++) {
		if (!cmp_aent(&v[k], &v[i])) {
			v[k].is_elem |= v[i].is_elem;
			v[k].rule = v[k].rule ?: v[i].rule;
			v[k].own[0] |= v[i].own[0];
			v[k].own[1] |= v[i].own[1];
		} else {
			v[++k] = v[i];
		}
	}
	*n = k + 1;
	if (!(stack = calloc(130, sizeof(*stack))))
		return -ENOMEM;
	for (int i = 0; i < *n; i++) {
		struct aent *e = &v[i];

		while (depth && !contains(&stack[depth - 1]->p, &e->p))
			depth--;
		e->elem = e->is_elem ? &e->p : NULL;
		if (depth) {
			e->rule = e->rule ?: stack[depth - 1]->rule;
			e->own[0] |= stack[depth - 1]->own[0];
			e->own[1] |= stack[depth - 1]->own[1];
			e->elem = e->elem ?: stack[depth - 1]->elem;
		}
		/* inside a set element: a node naming this entry, for its hits */
		e->value = e->elem ? elem_value(t, e->rule, e->own, any, &e->p) :
			   field_value(t, e->rule, e->own, any);
		stack[depth++] = e;
	}
	free(stack);
	return 0;
}

/* Write one prefix's value into the chunk table or the long-prefix hash. */
static void emit(struct pw_tables *t, __u32 dir, const struct aent *e)
{
	const struct pw_prefix *p = &e->p;
	struct pw_top *top = (p->family == 4 ? t->top4 : t->top6) + dir * PW_CHUNKS;
	__u32 chunk = ntohl(p->addr[0]) >> 16;

	if (p->len <= 16) {
		__u32 span = 1u << (16 - p->len);

		for (__u32 c = chunk; c < chunk + span; c++)
			top[c].rule = e->value;
		return;
	}
	top[chunk].bits[(p->len - 17) / 64] |= 1ull << ((p->len - 17) % 64);
	{
		/* the third bytes (address bits 16..23) this prefix covers */
		__u32 b3 = (ntohl(p->addr[0]) >> 8) & 0xff;
		__u32 span = p->len >= 24 ? 1 : 1u << (24 - p->len);

		for (__u32 b = b3 & ~(span - 1); b < (b3 & ~(span - 1)) + span; b++)
			top[chunk].b3[b >> 6] |= 1ull << (b & 63);
	}
	if (p->family == 4) {
		t->k4[t->n4] = (struct pw_v4_key){ PW_LONG_META(t->set, dir, p->len), p->addr[0] };
		t->v4[t->n4++] = e->value;
	} else {
		t->k6[t->n6].meta = PW_LONG_META(t->set, dir, p->len);
		memcpy(t->k6[t->n6].addr, p->addr, 16);
		t->v6[t->n6++] = e->value;
	}
}

static int long_room(struct pw_tables *t, __u32 family, int more)
{
	int *cap = family == 4 ? &t->cap4 : &t->cap6, need = (family == 4 ? t->n4 : t->n6) + more;

	if (need <= *cap)
		return 0;
	if (family == 4) {
		void *k = realloc(t->k4, need * sizeof(*t->k4)), *v = k ? realloc(t->v4, need * sizeof(*t->v4)) : NULL;

		if (k) t->k4 = k;
		if (v) t->v4 = v;
		if (!k || !v) return -ENOMEM;
	} else {
		void *k = realloc(t->k6, need * sizeof(*t->k6)), *v = k ? realloc(t->v6, need * sizeof(*t->v6)) : NULL;

		if (k) t->k6 = k;
		if (v) t->v6 = v;
		if (!k || !v) return -ENOMEM;
	}
	*cap = need;
	return 0;
}

static int build_addrs(const struct pw_ruleset *rs, struct pw_tables *t)
{
	int err = 0;

	for (__u32 family = 4; family <= 6 && !err; family += 2) {
		for (__u32 dir = 0; dir < 2 && !err; dir++) {
			struct aent *v = NULL;
			int n = 0;

			err = collect(rs, t, family, dir, &v, &n);
			if (!err)
				err = resolve(t, v, &n, t->ord.any[dir == PW_SIDE_SRC ? PW_F_SRC : PW_F_DST]);
			if (!err)
				err = long_room(t, family, n);
			if (!err) {
				/* shortest first, so longer prefixes overwrite chunks */
				qsort(v, n, sizeof(*v), cmp_aent_len);
				for (int i = 0; i < n; i++)
					emit(t, dir, &v[i]);
			}
			free(v);
		}
	}
	return err;
}

/* ---- ports and protocols ---- */

static int cmp_width_desc(const void *a, const void *b)
{
	const struct pw_rule *x = *(const struct pw_rule *const *)a, *y = *(const struct pw_rule *const *)b;
	__u32 wx = x->port_hi - x->port_lo, wy = y->port_hi - y->port_lo;

	if (wx != wy)
		return wx > wy ? -1 : 1;
	return (int)(x->proto != 0) - (int)(y->proto != 0);	/* both-protocols first */
}

/* Single-match port rules, widest first so narrower ranges overwrite. */
static int legacy_ports(const struct pw_ruleset *rs, struct pw_tables *t)
{
	const struct pw_rule **sorted = calloc(rs->n + 1, sizeof(*sorted));
	int n = 0;

	if (!sorted)
		return -ENOMEM;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_SPORT || rs->r[i].kind == PW_RK_DPORT)
			sorted[n++] = &rs->r[i];
	qsort(sorted, n, sizeof(*sorted), cmp_width_desc);
	for (int i = 0; i < n; i++) {
		const struct pw_rule *r = sorted[i];
		__u32 id = rs->ids[r - rs->r];
		__u32 dir = r->kind == PW_RK_SPORT ? PW_SIDE_SRC : PW_SIDE_DST;

		for (__u32 udp = 0; udp < 2; udp++) {
			if (r->proto && r->proto != (udp ? 17u : 6u))
				continue;
			for (__u32 p = r->port_lo; p <= r->port_hi; p++)
				t->ports[((dir * 2 + udp) << 16) | p] = id;
		}
	}
	free(sorted);
	return 0;
}

/* Ordered rules' ports and protocols folded into the values. */
static int ordered_ports(const struct pw_ruleset *rs, struct pw_tables *t)
{
	__u64 (*bits)[2] = calloc(4 * 65536, sizeof(*bits)), pbits[256][2];

	if (!bits)
		return -ENOMEM;
	memset(pbits, 0, sizeof(pbits));
	for (int i = 0; i < rs->n; i++) {
		const struct pw_ord_rule *o;
		int k = t->ord_idx[i];

		if (PW_RK_KIND(rs->r[i].kind) != PW_RK_ORDERED || k < 0)
			continue;
		o = &rs->ord[i];
		if (o->has_proto)
			pbits[o->proto & 255][k / 64] |= 1ull << (k % 64);
		for (__u32 dir = 0; dir < 2; dir++) {
			const struct pw_port_match *m = dir == PW_SIDE_SRC ? &o->sport : &o->dport;

			for (__u32 udp = 0; udp < 2; udp++) {
				if (o->has_proto && o->proto != (udp ? 17u : 6u))
					continue;
				for (__u32 j = 0; j < m->n && j < PW_PORT_RANGES; j++)
					for (__u32 p = m->r[j].lo; p <= m->r[j].hi; p++)
						bits[((dir * 2 + udp) << 16) | p][k / 64] |= 1ull << (k % 64);
			}
		}
	}
	for (__u32 i = 0; i < 4 * 65536; i++)
		t->ports[i] = field_value(t, t->ports[i], bits[i],
					  t->ord.any[(i >> 17) == PW_SIDE_SRC ? PW_F_SPORT : PW_F_DPORT]);
	for (__u32 p = 0; p < 256; p++)
		t->protos[p] = field_value(t, t->protos[p], pbits[p], t->ord.any[PW_F_PROTO]);
	free(bits);
	return 0;
}

int pw_tables_build(const struct pw_ruleset *rs, __u32 set, struct pw_tables *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->set = set;
	t->top4 = calloc(2 * PW_CHUNKS, sizeof(*t->top4));
	t->top6 = calloc(2 * PW_CHUNKS, sizeof(*t->top6));
	t->ports = calloc(4 * 65536, sizeof(*t->ports));
	t->nodes = calloc(PW_NODES, sizeof(*t->nodes));
	t->node_hash = calloc(NODE_HASH, sizeof(*t->node_hash));
	t->node_pfx = calloc(PW_NODES, sizeof(*t->node_pfx));
	t->ord_idx = calloc(rs->n + 1, sizeof(*t->ord_idx));
	if (!t->top4 || !t->top6 || !t->ports || !t->nodes || !t->node_hash || !t->node_pfx ||
	    !t->ord_idx) {
		free(t->ord_idx);
		pw_tables_free(t);
		return -ENOMEM;
	}
	for (int i = 0; i < rs->n; i++)
		t->ord_idx[i] = -1;
	build_ord(rs, t);
	err = build_addrs(rs, t);
	if (!err)
		err = legacy_ports(rs, t);
	for (int i = 0; !err && i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_PROTO)
			t->protos[rs->r[i].proto] = rs->ids[i];
	if (!err && t->ord.n)
		err = ordered_ports(rs, t);
	free(t->ord_idx);
	t->ord_idx = NULL;
	if (!err && t->full)
		err = -E2BIG;
	if (err)
		pw_tables_free(t);
	return err;
}
