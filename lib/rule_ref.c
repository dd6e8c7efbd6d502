// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reference classifier: the verdict a rule set gives a packet, by a
 * plain scan of the rules, independent of the lookup tables the XDP program
 * uses. Tests hold the program against it; the lock-out guard asks it.
 */
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* ---- the reference classifier: a plain scan, independent of the tables ---- */

static bool prefix_match(const struct pw_rule *r, const __u32 *addr)
{
	__u32 a[4];

	memcpy(a, addr, sizeof(a));
	pw_mask_addr(a, (int)r->family, r->len);
	return !memcmp(a, r->addr, r->family == 4 ? 4 : 16);
}

/* ICMP is protocol 1 in IPv4 and 58 in IPv6; the other number is no ICMP. */
static bool icmp_of_other_family(const struct pw_ref_pkt *p)
{
	return p->family == 4 ? p->proto == 58 : p->proto == 1;
}

/* The single-match rule that decides, by the table's precedence: -1 for none. */
static int table_winner(const struct pw_ruleset *rs, const struct pw_ref_pkt *p)
{
	static const int order[] = { PW_RK_SRC, PW_RK_DST, PW_RK_DPORT, PW_RK_SPORT, PW_RK_PROTO };
	int best[6] = { -1, -1, -1, -1, -1, -1 };
	__u32 width[6] = { 0 };

	for (int i = 0; i < rs->n; i++) {
		const struct pw_rule *r = &rs->r[i];

		/* a later fragment's L4 fields are not its own */
		if (p->frag_later && r->kind != PW_RK_SRC && r->kind != PW_RK_DST)
			continue;
		switch (r->kind) {
		case PW_RK_SRC:
		case PW_RK_DST:
			if ((int)r->family != p->family ||
			    !prefix_match(r, r->kind == PW_RK_SRC ? p->saddr : p->daddr))
				break;
			if (best[r->kind] < 0 || r->len > rs->r[best[r->kind]].len)
				best[r->kind] = i;
			break;
		case PW_RK_SPORT:
		case PW_RK_DPORT: {
			__u32 port = r->kind == PW_RK_SPORT ? p->sport : p->dport;
			__u32 w = r->port_hi - r->port_lo;

			if (!p->has_ports || (r->proto && r->proto != p->proto) ||
			    port < r->port_lo || port > r->port_hi)
				break;
			/* narrowest wins; equal ranges: the protocol-specific one */
			if (best[r->kind] < 0 || w < width[r->kind] ||
			    (w == width[r->kind] && r->proto))
				best[r->kind] = i, width[r->kind] = w;
			break;
		}
		case PW_RK_PROTO:
			if (r->proto == p->proto && !icmp_of_other_family(p))
				best[PW_RK_PROTO] = i;
			break;
		}
	}
	for (size_t k = 0; k < 5; k++)
		if (best[order[k]] >= 0)
			return best[order[k]];
	return -1;
}

static bool addr_match(const struct pw_ruleset *rs, const struct pw_addr_match *m,
		       const struct pw_ref_pkt *p, const __u32 *addr)
{
	const struct pw_set *s;
	struct pw_rule r = { 0 };

	if (!m->family)
		return true;
	if (m->family != PW_ADDR_SET) {
		r.family = m->family;
		r.len = m->len;
		memcpy(r.addr, m->addr, sizeof(r.addr));
		return (int)r.family == p->family && prefix_match(&r, addr);
	}
	if (!(s = pw_ruleset_find_set(rs, m->set)))
		return false;
	for (int i = 0; i < s->n; i++) {
		r.family = s->e[i].family;
		r.len = s->e[i].len;
		memcpy(r.addr, s->e[i].addr, sizeof(r.addr));
		if ((int)r.family == p->family && prefix_match(&r, addr))
			return true;
	}
	return false;
}

static bool port_match(const struct pw_port_match *m, const struct pw_ref_pkt *p, __u32 port)
{
	if (!m->n)
		return true;
	if (!p->has_ports || p->frag_later)
		return false;
	for (__u32 i = 0; i < m->n && i < PW_PORT_RANGES; i++)
		if (m->r[i].lo <= port && port <= m->r[i].hi)
			return true;
	return false;
}

static bool ordered_match(const struct pw_ruleset *rs, int i, const struct pw_ref_pkt *p)
{
	const struct pw_ord_rule *o = &rs->ord[i];

	if ((PW_ORD_FLAGS(o) & PW_ORD_F_CT) && !p->ct_reply)
		return false;
	if (o->has_proto && (p->frag_later || o->proto != p->proto || icmp_of_other_family(p)))
		return false;
	return addr_match(rs, &o->src, p, p->saddr) && addr_match(rs, &o->dst, p, p->daddr) &&
	       port_match(&o->sport, p, p->sport) && port_match(&o->dport, p, p->dport);
}

/* Rules in order, the first match deciding; the single-match rules decide
 * together, as one table, at the place of the first of them. */
__u32 pw_ruleset_classify_lim(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx,
			      pw_limit_conform_cb conform, void *arg)
{
	int table = table_winner(rs, p), hit = -1;
	bool table_seen = false;

	for (int i = 0; i < rs->n && hit < 0; i++) {
		if (PW_RK_KIND(rs->r[i].kind) != PW_RK_ORDERED) {
			if (!table_seen && table >= 0)
				hit = table;
			table_seen = true;
		} else if (ordered_match(rs, i, p)) {
			/* a limit rule: within the rate, on to the next rule */
			if (rs->r[i].action != PW_ACT_LIMIT || (conform && !conform(rs, i, p, arg)))
				hit = i;
		}
	}
	if (rule_idx)
		*rule_idx = hit;
	if (hit >= 0)
		return rs->r[hit].action == PW_ACT_LIMIT ? XDP_DROP : rs->r[hit].action;
	return rs->policy == PW_POLICY_DENY && !p->link_ctl ? XDP_DROP : XDP_PASS;
}

__u32 pw_ruleset_classify(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx)
{
	return pw_ruleset_classify_lim(rs, p, rule_idx, NULL, NULL);
}
