/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall rules: parse, check, compile and apply rule sets kept in the
 * pinned rule maps. Grammar (one rule per line in files, '#' comments):
 *   ACTION src PREFIX | ACTION dst PREFIX | ACTION proto PROTO |
 *   ACTION [proto tcp|udp] sport|dport PORT[-PORT]
 * ACTION is drop or pass; a file may also say "policy allow|deny".
 */
#ifndef PINWALL_RULES_H
#define PINWALL_RULES_H

#include <linux/bpf.h>
#include "pinwall/pinwall.h"

struct pw_ruleset {
	int n, cap;
	struct pw_rule *r;
	__u32 *ids;		/* rule ids in pw_rules (0: not assigned yet) */
	int policy;		/* enum pw_policy, -1: not given */
};

/* A packet as the reference classifier sees it. */
struct pw_ref_pkt {
	int family;		/* 4 or 6 */
	__u32 saddr[4], daddr[4];	/* network byte order */
	__u32 proto;
	bool has_ports;
	__u32 sport, dport;
	bool frag_later;	/* a later fragment whose first was not seen: addresses only */
	bool link_ctl;		/* IPv6 ND/RD: the policy does not drop it */
};

enum pw_rule_map {
	PW_RM_RULES, PW_RM_STATS, PW_RM_CONFIG, PW_RM_V4_TOP, PW_RM_V6_TOP,
	PW_RM_V4_LONG, PW_RM_V6_LONG, PW_RM_PORTS, PW_RM_PROTOS, PW_RM_COUNT,
};

struct pw_rules_maps {
	int fd[PW_RM_COUNT];
};

struct pw_apply_report {
	int added, removed, kept;
	bool policy_changed;
	bool unchanged;
	double switch_ms;	/* start to the new set in force */
	double total_ms;	/* including the clean-up of removed rules */
};

int pw_rule_parse(const char *text, struct pw_rule *r, char *err, size_t errlen);
void pw_rule_format(const struct pw_rule *r, char *buf, size_t len);
bool pw_rule_same_match(const struct pw_rule *a, const struct pw_rule *b);

int pw_ruleset_parse_file(struct pw_ctx *ctx, const char *path, struct pw_ruleset *rs);
/* duplicates, conflicts, partly overlapping port ranges; @where may be NULL */
int pw_ruleset_check(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *const *where);
void pw_ruleset_free(struct pw_ruleset *rs);
/* The verdict (XDP_DROP/XDP_PASS) by a plain scan of the rules: the
 * reference for tests and the lock-out guard. *rule_idx: deciding rule or -1.
 * Protocol 1 matches only IPv4 and 58 only IPv6 (each family's ICMP). */
__u32 pw_ruleset_classify(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx);

int pw_rules_open(struct pw_ctx *ctx, struct pw_rules_maps *m, bool create, bool rdonly);
void pw_rules_close(struct pw_rules_maps *m);
int pw_rules_read(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		  struct pw_config *cfg);
int pw_rules_counters(struct pw_ctx *ctx, const struct pw_rules_maps *m,
		      const struct pw_ruleset *rs, struct pw_counter *out);
/* Make @want (with @policy) the rule set, atomically; assigns want->ids. */
int pw_rules_apply(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *want,
		   int policy, struct pw_apply_report *rep);
/* Finish (switched) or roll back (not) a rule apply that was killed. */
int pw_rules_recover(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_recovery *rec);
/* A rule apply was killed (its intent record is there, nobody holds the lock). */
bool pw_rules_interrupted(struct pw_ctx *ctx, struct pw_intent *in);
/* 1 (with a reason in @why) if the set would drop the caller's SSH session
 * (SSH_CONNECTION) arriving through an interface pinwall runs on in this
 * network namespace, or stacked on one (macvlan, VLAN, bridge, bond), or if
 * that cannot be told; 0 without SSH_CONNECTION. */
int pw_rules_ssh_guard(struct pw_ctx *ctx, const struct pw_ruleset *rs, char *why, size_t len);

#endif
