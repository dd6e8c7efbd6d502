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

__u32 pw_ruleset_classify(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx)
{
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
	{
		static const int order[] = { PW_RK_SRC, PW_RK_DST, PW_RK_DPORT, PW_RK_SPORT, PW_RK_PROTO };

		for (size_t k = 0; k < 5; k++) {
			if (best[order[k]] >= 0) {
				if (rule_idx)
					*rule_idx = best[order[k]];
				return rs->r[best[order[k]]].action;
			}
		}
	}
	if (rule_idx)
		*rule_idx = -1;
	return rs->policy == PW_POLICY_DENY && !p->link_ctl ? XDP_DROP : XDP_PASS;
}
