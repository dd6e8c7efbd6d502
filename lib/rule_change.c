// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every rule and set verb as one call: lock, settle an interrupted apply,
 * read what is in force, make the wanted set from it, check it (policy
 * flip, duplicates, the SSH guard), apply it, unlock. The CLI only parses
 * arguments and prints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

static const char *policy_word(int p)
{
	return p == PW_POLICY_DENY ? "deny" : "allow";
}

/* A rule with the same match in force: duplicate (same action) or conflicting. */
static int same_in_force(struct pw_ctx *ctx, const struct pw_ruleset *cur, const struct pw_ruleset *one)
{
	char text[PW_RULE_TEXT_MAX + 1], name[PW_RULE_TEXT_MAX + 1];

	for (int i = 0; i < cur->n; i++) {
		if (!pw_ruleset_same_match(cur, i, one, 0))
			continue;
		pw_ruleset_format(cur, i, text, sizeof(text));
		pw_ruleset_format(one, 0, name, sizeof(name));
		return pw_fail(ctx, EEXIST, "%s rule '%s': the set has '%s'",
			       cur->r[i].action == one->r[0].action ? "duplicate" : "conflicting",
			       name, text);
	}
	return 0;
}

/* Where a new rule goes: a single-match rule joins the table (after its
 * last rule); an ordered one goes last, first, or before rule id @before
 * (before the table when that id is a single-match rule). */
static int add_position(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *rs)
{
	int last_single = -1;

	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind != PW_RK_ORDERED)
			last_single = i;
	if (c->rule.kind != PW_RK_ORDERED) {
		if (c->first || c->before)
			return pw_fail(ctx, EINVAL, "a single-match rule joins the prefix table (longest prefix first), which has no order: --first and --before place ordered rules");
		return last_single >= 0 ? last_single + 1 : rs->n;
	}
	if (c->first)
		return 0;
	if (!c->before)
		return rs->n;
	for (int i = 0; i < rs->n; i++) {
		if (rs->ids[i] != c->before)
			continue;
		if (rs->r[i].kind == PW_RK_ORDERED)
			return i;
		for (int j = 0; j < rs->n; j++)	/* the table's place */
			if (rs->r[j].kind != PW_RK_ORDERED)
				return j;
	}
	return pw_fail(ctx, ENOENT, "no rule with id %u (see 'pinwall rule list')", c->before);
}

static int want_add(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *cur,
		    struct pw_ruleset *want)
{
	struct pw_ruleset one = { 0 };
	int err, pos;

	if (pw_ruleset_push(&one, &c->rule, &c->ord, 0))
		return pw_fail(ctx, ENOMEM, "out of memory");
	err = same_in_force(ctx, cur, &one);
	pw_ruleset_free(&one);
	if (err)
		return err;
	if (cur->n >= PW_MAX_RULES - 1)
		return pw_fail(ctx, ENOSPC, "table full: at most %d rules", PW_MAX_RULES - 1);
	if ((pos = add_position(ctx, c, cur)) < 0)
		return pos;
	if (pw_ruleset_copy(want, cur) || pw_ruleset_insert(want, pos, &c->rule, &c->ord, 0))
		return pw_fail(ctx, ENOMEM, "out of memory");
	return 0;
}

static int want_del(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *cur,
		    struct pw_ruleset *want)
{
	struct pw_ruleset one = { 0 };
	char name[PW_RULE_TEXT_MAX + 1];
	int found = -1;

	if (pw_ruleset_push(&one, &c->rule, &c->ord, 0))
		return pw_fail(ctx, ENOMEM, "out of memory");
	for (int i = 0; i < cur->n && found < 0; i++)
		if (pw_ruleset_same_match(cur, i, &one, 0) && cur->r[i].action == c->rule.action)
			found = i;
	pw_ruleset_format(&one, 0, name, sizeof(name));
	pw_ruleset_free(&one);
	if (found < 0)
		return pw_fail(ctx, ENOENT, "no such rule '%s' (see 'pinwall rule list')", name);
	if (pw_ruleset_copy(want, cur))
		return pw_fail(ctx, ENOMEM, "out of memory");
	pw_ruleset_remove(want, found);
	return 0;
}

/* The set named c->set in @rs, or a clear error naming the sets there are. */
static struct pw_set *known_set(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *name)
{
	struct pw_set *s = pw_ruleset_find_set(rs, name);
	char names[512] = "";
	size_t n = 0;

	if (s)
		return s;
	for (int i = 0; i < rs->n_sets && n < sizeof(names) - 40; i++)
		n += snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "", rs->sets[i].name);
	pw_fail(ctx, ENOENT, "unknown set '%s' (sets in force: %s); a rule file defines sets with 'set NAME PREFIX...'",
		name, rs->n_sets ? names : "none");
	return NULL;
}

static int want_set(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *cur,
		    struct pw_ruleset *want)
{
	struct pw_set *s;
	char t[64];

	if (!known_set(ctx, cur, c->set))
		return -ENOENT;
	if (pw_ruleset_copy(want, cur))
		return pw_fail(ctx, ENOMEM, "out of memory");
	s = pw_ruleset_find_set(want, c->set);
	if (c->op == PW_RC_SET_FLUSH)
		s->n = 0;
	for (int i = 0; i < c->n_prefixes; i++) {
		int at = pw_set_find(s, &c->prefixes[i]);

		pw_prefix_format(&c->prefixes[i], t, sizeof(t));
		if (c->op == PW_RC_SET_ADD && at >= 0)
			return pw_fail(ctx, EEXIST, "'%s' is already in set '%s'; nothing was changed", t, s->name);
		if (c->op == PW_RC_SET_DEL && at < 0)
			return pw_fail(ctx, ENOENT, "'%s' is not in set '%s'; nothing was changed", t, s->name);
		if (c->op == PW_RC_SET_ADD) {
			if (pw_set_push(s, &c->prefixes[i]))
				return pw_fail(ctx, ENOMEM, "out of memory");
			pw_set_normalize(s);
		} else {
			memmove(&s->e[at], &s->e[at + 1], (s->n - at - 1) * sizeof(*s->e));
			s->n--;
		}
	}
	return 0;
}

/* The policy the change asks for; a kept rule set never flips between
 * allow and deny by accident. */
static int want_policy(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *cur,
		       int in_force, struct pw_ruleset *want)
{
	int p = in_force;

	if (c->op == PW_RC_APPLY) {
		p = want->policy;	/* the file's, -1: none */
		if (c->policy >= 0) {
			if (p >= 0 && p != c->policy)
				return pw_fail(ctx, EINVAL, "--policy %s contradicts 'policy %s' in '%s'",
					       policy_word(c->policy), policy_word(p), c->what);
			p = c->policy;
		}
		if (p < 0)
			p = in_force;
	} else if (c->op == PW_RC_POLICY) {
		p = c->policy;
	}
	want->policy = p;
	if (p == in_force || !cur->n || c->change_policy)
		return 0;
	if (c->op == PW_RC_POLICY)
		return pw_fail(ctx, EPERM, "the %d rules in force use policy %s: add --change-policy to change it to %s",
			       cur->n, policy_word(in_force), policy_word(p));
	return pw_fail(ctx, EPERM, "'%s' sets policy %s but the %d rules in force use policy %s: add --change-policy to change it",
		       c->what, policy_word(p), cur->n, policy_word(in_force));
}

/* The wanted rule set, from what is in force and the change. */
static int make_want(struct pw_ctx *ctx, const struct pw_rule_change *c, const struct pw_ruleset *cur,
		     int in_force, struct pw_ruleset *want)
{
	int err = 0;

	memset(want, 0, sizeof(*want));
	want->policy = -1;
	switch (c->op) {
	case PW_RC_APPLY:
		if (pw_ruleset_copy(want, c->file) ||
		    (c->file->warnings && !(want->warnings = strdup(c->file->warnings))))
			return pw_fail(ctx, ENOMEM, "out of memory");
		break;
	case PW_RC_ADD:
		err = want_add(ctx, c, cur, want);
		break;
	case PW_RC_DEL:
		err = want_del(ctx, c, cur, want);
		break;
	case PW_RC_FLUSH:	/* the rules go; the sets stay */
	case PW_RC_POLICY:
		if (pw_ruleset_copy(want, cur))
			return pw_fail(ctx, ENOMEM, "out of memory");
		while (c->op == PW_RC_FLUSH && want->n)
			pw_ruleset_remove(want, want->n - 1);
		break;
	default:
		err = want_set(ctx, c, cur, want);
	}
	if (!err)
		err = want_policy(ctx, c, cur, in_force, want);
	/* what is added is checked; a file was checked as it was read, and
	 * removing rules or prefixes makes nothing new to check */
	if (!err && (c->op == PW_RC_ADD || c->op == PW_RC_SET_ADD))
		err = pw_ruleset_check(ctx, want, NULL);
	return err;
}

/* Locked: settle, read, make, guard, apply. */
static int change_locked(struct pw_ctx *ctx, const struct pw_rule_change *c, struct pw_change_result *res)
{
	struct pw_rules_maps m;
	struct pw_ruleset cur = { 0 }, want = { 0 };
	struct pw_config cfg;
	char why[512];
	int err;

	if ((err = pw_rules_open(ctx, &m, true, false)))
		return err;
	if ((err = pw_rules_recover(ctx, &m, &res->rec)) || (err = pw_rules_read(ctx, &m, &cur, &cfg)))
		goto out;
	if ((err = make_want(ctx, c, &cur, (int)PW_CFG_POLICY(&cfg), &want)))
		goto out;
	if (!c->force && pw_rules_ssh_guard(ctx, &want, why, sizeof(why))) {
		err = pw_fail(ctx, EPERM, "%s; nothing was changed (use --force if you mean it)", why);
		goto out;
	}
	if ((err = pw_rules_apply(ctx, &m, &want, want.policy, &res->rep)))
		goto out;
	res->rules = want.n;
	res->policy = want.policy;
	res->warnings = want.warnings;
	want.warnings = NULL;
out:
	pw_ruleset_free(&want);
	pw_ruleset_free(&cur);
	pw_rules_close(&m);
	return err;
}

int pw_rules_change(struct pw_ctx *ctx, const struct pw_rule_change *c, struct pw_change_result *res)
{
	int lock_fd = -1, err;

	memset(res, 0, sizeof(*res));
	if ((err = pw_check_caps(ctx)) || (err = pw_bpffs_prepare(ctx, true)) ||
	    (err = pw_lock(ctx, &lock_fd)))
		return err;
	err = change_locked(ctx, c, res);
	pw_unlock(lock_fd);
	return err;
}
