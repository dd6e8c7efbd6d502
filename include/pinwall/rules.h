/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall rules: parse, check, compile and apply rule sets kept in the
 * pinned rule maps. Grammar (one rule or set per line in files, '#' comments):
 *   ACTION MATCH...          MATCH: proto PROTO | src ADDR | dst ADDR |
 *                                   sport PORTS | dport PORTS, each at most once
 *   set NAME PREFIX...       a named set; ADDR is PREFIX or @NAME
 *   set NAME file PATH       its prefixes from a file, one a line
 *   policy allow|deny
 * PORTS is PORT, LOW-HIGH or {P,P,LOW-HIGH,...}. A rule with one match
 * (or [proto tcp|udp] with one port range) is a single-match rule: these
 * form the prefix table (longest prefix, precedence of kinds); every other
 * rule is ordered, first match wins (docs/RULES.md).
 */
#ifndef PINWALL_RULES_H
#define PINWALL_RULES_H

#include <linux/bpf.h>
#include "pinwall/pinwall.h"

struct pw_prefix {
	__u32 family;		/* 4 or 6 */
	__u32 len;
	__u32 addr[4];		/* network byte order, masked */
};

struct pw_set {
	char name[PW_SET_NAME_LEN];
	int n, cap;
	struct pw_prefix *e;	/* sorted, no duplicates once normalized */
};

/*
 * A rule set in evaluation order: ordered rules (kind PW_RK_ORDERED, their
 * matches in ord[i]) in the order written; the single-match rules, wherever
 * they are in r[], form the prefix table, placed before the first ordered
 * rule that follows the first single-match rule.
 */
struct pw_ruleset {
	int n, cap;
	struct pw_rule *r;
	__u32 *ids;		/* rule ids in pw_rules (0: not assigned yet) */
	struct pw_ord_rule *ord;	/* [i]: matches of ordered rule i; NULL while none */
	int policy;		/* enum pw_policy, -1: not given */
	int n_sets;
	struct pw_set *sets;	/* [PW_MAX_SETS] once any is defined */
	char *warnings;		/* lines, each "warning: ..."; NULL: none */
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
	bool ct_reply;		/* a reply to a flow the host opened, in time (`ct established`) */
};

enum pw_rule_map {
	PW_RM_RULES, PW_RM_STATS, PW_RM_CONFIG, PW_RM_V4_TOP, PW_RM_V6_TOP,
	PW_RM_V4_LONG, PW_RM_V6_LONG, PW_RM_PORTS, PW_RM_PROTOS,
	/* ordered rules and sets (rules 2): a program older than them has none */
	PW_RM_ORD, PW_RM_NODES, PW_RM_ORD_RULES, PW_RM_SETS, PW_RM_SET_ELEMS,
	PW_RM_NODE_PFX, PW_RM_ELEM_HITS,
	/* rate limits: a program older than them has none */
	PW_RM_LIMITS, PW_RM_LIM_STATE, PW_RM_LIM_PASS,
	/* `ct established`: a program older than it has none */
	PW_RM_CT_RULES,
	PW_RM_COUNT,
};
#define PW_RM_FIRST_ORD PW_RM_ORD

struct pw_rules_maps {
	int fd[PW_RM_COUNT];
	/* a running program uses the rule maps but predates ordered rules */
	char old_user[16];
	__u32 old_prog_id;
	/* ... or predates rate limits */
	char old_lim_user[16];
	__u32 old_lim_prog_id;
	/* ... or predates `ct established` */
	char ct_old_user[16];
	__u32 ct_old_prog_id;
};

struct pw_apply_report {
	int added, removed, kept;
	bool policy_changed;
	bool unchanged;
	double switch_ms;	/* start to the new set in force */
	double total_ms;	/* including the clean-up of removed rules */
};

/* A limit rule's parameters (kept in its pw_rule: abi.h, PW_ACT_LIMIT). */
struct pw_limit_spec {
	__u32 flags;		/* PW_LIM_BYTES, PW_LIM_BITS */
	__u32 per4, per6;	/* source prefix lengths of a bucket */
	__u64 rate;		/* per second: packets or bytes */
	__u64 burst;		/* packets or bytes */
};

void pw_rule_limit_get(const struct pw_rule *r, struct pw_limit_spec *s);
void pw_rule_limit_set(struct pw_rule *r, const struct pw_limit_spec *s);
/* tok[0] is "limit": returns the words taken (or -EINVAL with @err) */
int pw_limit_parse(char **tok, int n, struct pw_limit_spec *s, int *per4, int *per6,
		   char *err, size_t errlen);
int pw_limit_resolve(struct pw_limit_spec *s, int per4, int per6, const struct pw_ord_rule *o,
		     char *err, size_t errlen);
void pw_limit_format(const struct pw_rule *r, const struct pw_ord_rule *o, char *buf, size_t len);
void pw_limit_compile(const struct pw_rule *r, __u32 id, struct pw_limit *out);

/* Longest rule text pw_rule_parse takes; longer text is refused, never cut. */
#define PW_RULE_TEXT_MAX 1023
/* Longest line of a rule file, comment included. */
#define PW_RULE_LINE_MAX 4095

/* One rule of any kind: @o gets the matches of an ordered rule. */
int pw_rule_parse_full(const char *text, struct pw_rule *r, struct pw_ord_rule *o,
		       char *err, size_t errlen);
/* One single-match rule; an ordered rule is refused. */
int pw_rule_parse(const char *text, struct pw_rule *r, char *err, size_t errlen);
void pw_rule_format_full(const struct pw_rule *r, const struct pw_ord_rule *o, char *buf, size_t len);
void pw_rule_format(const struct pw_rule *r, char *buf, size_t len);
/* Rule i of @rs as text. */
void pw_ruleset_format(const struct pw_ruleset *rs, int i, char *buf, size_t len);
bool pw_rule_same_match(const struct pw_rule *a, const struct pw_rule *b);
/* Same match (action aside), ordered rules by their matches. */
bool pw_ruleset_same_match(const struct pw_ruleset *a, int i, const struct pw_ruleset *b, int j);
int pw_ruleset_push(struct pw_ruleset *rs, const struct pw_rule *r, const struct pw_ord_rule *o,
		    __u32 id);
/* Insert at @pos (0..n), ids and matches moving along. */
int pw_ruleset_insert(struct pw_ruleset *rs, int pos, const struct pw_rule *r,
		      const struct pw_ord_rule *o, __u32 id);
void pw_ruleset_remove(struct pw_ruleset *rs, int pos);
/* Deep copy of @src into @dst (ids, matches, sets). */
int pw_ruleset_copy(struct pw_ruleset *dst, const struct pw_ruleset *src);

/* Sets. */
int pw_prefix_parse(const char *text, struct pw_prefix *p, char *err, size_t errlen);
void pw_prefix_format(const struct pw_prefix *p, char *buf, size_t len);
bool pw_set_name_ok(const char *name);
struct pw_set *pw_ruleset_find_set(const struct pw_ruleset *rs, const char *name);
/* A new empty set named @name; NULL (errno) when full or out of memory. */
struct pw_set *pw_ruleset_new_set(struct pw_ruleset *rs, const char *name);
int pw_ruleset_del_set(struct pw_ruleset *rs, const char *name);
/* The same sets with the same (normalized) prefixes, in any order. */
bool pw_ruleset_sets_equal(const struct pw_ruleset *x, const struct pw_ruleset *y);
int pw_set_push(struct pw_set *s, const struct pw_prefix *p);
/* Sort and drop duplicates. */
void pw_set_normalize(struct pw_set *s);
/* Index of @p in the normalized @s, or -1. */
int pw_set_find(const struct pw_set *s, const struct pw_prefix *p);
/* Read prefixes from @path into @s: FILE:LINE errors, never a partial set. */
int pw_set_read_file(struct pw_ctx *ctx, const char *path, struct pw_set *s);

/* Read the rule file @path ('-': standard input) whole: a read error, a NUL
 * byte, a line too long or any bad line refuses the whole file. */
int pw_ruleset_parse_file(struct pw_ctx *ctx, const char *path, struct pw_ruleset *rs);
/* duplicates, conflicts, partly overlapping port ranges; @where may be NULL */
int pw_ruleset_check(struct pw_ctx *ctx, struct pw_ruleset *rs, const char *const *where);
void pw_ruleset_free(struct pw_ruleset *rs);
/* The verdict (XDP_DROP/XDP_PASS) by a plain scan of the rules: the
 * reference for tests and the lock-out guard. *rule_idx: deciding rule or -1.
 * Protocol 1 matches only IPv4 and 58 only IPv6 (each family's ICMP). */
__u32 pw_ruleset_classify(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx);
/* The same with limit rules (PW_ACT_LIMIT) modelled: @conform says whether
 * rule i's bucket lets the packet on (NULL: always); excess drops it, with
 * *rule_idx the limit rule. pw_ruleset_classify: every bucket conforms. */
typedef bool (*pw_limit_conform_cb)(const struct pw_ruleset *rs, int i, const struct pw_ref_pkt *p,
				    void *arg);
__u32 pw_ruleset_classify_lim(const struct pw_ruleset *rs, const struct pw_ref_pkt *p, int *rule_idx,
			      pw_limit_conform_cb conform, void *arg);

int pw_rules_open(struct pw_ctx *ctx, struct pw_rules_maps *m, bool create, bool rdonly);
void pw_rules_close(struct pw_rules_maps *m);
int pw_rules_read(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		  struct pw_config *cfg);
int pw_rules_counters(struct pw_ctx *ctx, const struct pw_rules_maps *m,
		      const struct pw_ruleset *rs, struct pw_counter *out);
/* A rule or set verb (pw_rules_change): lock, settle an interrupted apply,
 * read what is in force, make the wanted set, check, guard, apply. */
enum pw_rule_op {
	PW_RC_APPLY, PW_RC_ADD, PW_RC_DEL, PW_RC_FLUSH, PW_RC_POLICY,
	PW_RC_SET_ADD, PW_RC_SET_DEL, PW_RC_SET_FLUSH,
};

struct pw_rule_change {
	enum pw_rule_op op;
	const char *what;		/* names the change in messages (a file name) */
	const struct pw_ruleset *file;	/* APPLY: the rule set read */
	struct pw_rule rule;		/* ADD, DEL */
	struct pw_ord_rule ord;
	bool first;			/* ADD: an ordered rule goes first */
	__u32 before;			/* ADD: ... or before this rule id */
	int policy;			/* APPLY (-1: the file's or the one in force), POLICY */
	bool change_policy;		/* the policy may flip while rules are in force */
	bool force;			/* past the SSH lock-out guard */
	const char *set;		/* SET_*: the set */
	const struct pw_prefix *prefixes;
	int n_prefixes;
};

struct pw_change_result {
	struct pw_apply_report rep;
	struct pw_recovery rec;		/* an interrupted apply settled first */
	int rules, policy;		/* the set now in force */
	char *warnings;			/* lines "warning: ..."; the caller frees */
};

int pw_rules_change(struct pw_ctx *ctx, const struct pw_rule_change *c, struct pw_change_result *res);

/* Hits of each prefix of set @s of the rule set @rs in force: packets an
 * ordered rule matching by @s decided, for the longest element of @s
 * holding the address (abi.h). out[i] for s->e[i]. */
int pw_set_hits(struct pw_ctx *ctx, const struct pw_rules_maps *m, const struct pw_ruleset *rs,
		const struct pw_set *s, __u64 *out);
/* Packets and bytes limit rule @id let on to the next rule (its drops are
 * its hits, pw_rules_counters). */
int pw_limit_passed(const struct pw_rules_maps *m, __u32 id, struct pw_counter *out);
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
