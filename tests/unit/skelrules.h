/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rule maps of a private skeleton instance, in the form pw_rules_apply
 * takes them: the unit tests and bench/cost apply rule sets to maps that
 * are not pinned anywhere.
 */
#ifndef PW_SKELRULES_H
#define PW_SKELRULES_H

#include <bpf/libbpf.h>
#include "pinwall/rules.h"
#include "pinwall.skel.h"

/* The built-in program loaded with private maps (nothing pinned by name on
 * the host's bpffs) and @default_verdict; NULL if it does not load. */
static inline struct pinwall *skel_open_private(__u32 default_verdict)
{
	struct pinwall *s = pinwall__open();
	struct bpf_map *m;

	if (!s)
		return NULL;
	bpf_object__for_each_map(m, s->obj)
		bpf_map__set_pin_path(m, NULL);
	s->rodata->pw_default_verdict = default_verdict;
	if (pinwall__load(s)) {
		pinwall__destroy(s);
		return NULL;
	}
	return s;
}

static inline void skel_rule_maps(const struct pinwall *s, struct pw_rules_maps *m)
{
	m->fd[PW_RM_RULES] = bpf_map__fd(s->maps.pw_rules);
	m->fd[PW_RM_STATS] = bpf_map__fd(s->maps.pw_rule_stats);
	m->fd[PW_RM_CONFIG] = bpf_map__fd(s->maps.pw_config);
	m->fd[PW_RM_V4_TOP] = bpf_map__fd(s->maps.pw_v4_top);
	m->fd[PW_RM_V6_TOP] = bpf_map__fd(s->maps.pw_v6_top);
	m->fd[PW_RM_V4_LONG] = bpf_map__fd(s->maps.pw_v4_long);
	m->fd[PW_RM_V6_LONG] = bpf_map__fd(s->maps.pw_v6_long);
	m->fd[PW_RM_PORTS] = bpf_map__fd(s->maps.pw_ports);
	m->fd[PW_RM_PROTOS] = bpf_map__fd(s->maps.pw_protos);
	m->fd[PW_RM_ORD] = bpf_map__fd(s->maps.pw_ord);
	m->fd[PW_RM_NODES] = bpf_map__fd(s->maps.pw_nodes);
	m->fd[PW_RM_ORD_RULES] = bpf_map__fd(s->maps.pw_ord_rules);
	m->fd[PW_RM_SETS] = bpf_map__fd(s->maps.pw_sets);
	m->fd[PW_RM_SET_ELEMS] = bpf_map__fd(s->maps.pw_set_elems);
	m->fd[PW_RM_NODE_PFX] = bpf_map__fd(s->maps.pw_node_pfx);
	m->fd[PW_RM_ELEM_HITS] = bpf_map__fd(s->maps.pw_elem_hits);
	m->fd[PW_RM_LIMITS] = bpf_map__fd(s->maps.pw_limits);
	m->fd[PW_RM_LIM_STATE] = bpf_map__fd(s->maps.pw_limit_state);
	m->fd[PW_RM_LIM_PASS] = bpf_map__fd(s->maps.pw_limit_pass);
	m->fd[PW_RM_CT_RULES] = bpf_map__fd(s->maps.pw_ct_rules);
}

#endif
