// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A rule set in memory: its rules in order (with ids and the matches of
 * ordered rules) and its named sets. No kernel, no text: containers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

void pw_ruleset_free(struct pw_ruleset *rs)
{
	for (int i = 0; i < rs->n_sets; i++)
		free(rs->sets[i].e);
	free(rs->sets);
	free(rs->r);
	free(rs->ids);
	free(rs->ord);
	free(rs->warnings);
	memset(rs, 0, sizeof(*rs));
}

/* The matches of ordered rules (264 bytes a rule) exist only once a set
 * has an ordered rule: a table of 200k single-match rules carries none. */
static int grow(struct pw_ruleset *rs)
{
	int cap = rs->cap ? rs->cap * 2 : 256;
	struct pw_rule *nr;
	struct pw_ord_rule *no;
	__u32 *ni;

	if (!(nr = realloc(rs->r, cap * sizeof(*nr))))
		return -ENOMEM;
	rs->r = nr;
	if (!(ni = realloc(rs->ids, cap * sizeof(*ni))))
		return -ENOMEM;
	rs->ids = ni;
	if (rs->ord) {
		if (!(no = realloc(rs->ord, cap * sizeof(*no))))
			return -ENOMEM;
		memset(no + rs->cap, 0, (cap - rs->cap) * sizeof(*no));
		rs->ord = no;
	}
	rs->cap = cap;
	return 0;
}

int pw_ruleset_insert(struct pw_ruleset *rs, int pos, const struct pw_rule *r,
		      const struct pw_ord_rule *o, __u32 id)
{
	bool ordered = PW_RK_KIND(r->kind) == PW_RK_ORDERED;

	if (pos < 0 || pos > rs->n || (ordered && !o))
		return -EINVAL;
	if (rs->n == rs->cap && grow(rs))
		return -ENOMEM;
	if (ordered && !rs->ord && !(rs->ord = calloc(rs->cap, sizeof(*rs->ord))))
		return -ENOMEM;
	memmove(rs->r + pos + 1, rs->r + pos, (rs->n - pos) * sizeof(*rs->r));
	memmove(rs->ids + pos + 1, rs->ids + pos, (rs->n - pos) * sizeof(*rs->ids));
	rs->r[pos] = *r;
	rs->ids[pos] = id;
	if (rs->ord) {
		memmove(rs->ord + pos + 1, rs->ord + pos, (rs->n - pos) * sizeof(*rs->ord));
		if (ordered)
			rs->ord[pos] = *o;
		else
			memset(&rs->ord[pos], 0, sizeof(rs->ord[pos]));
	}
	rs->n++;
	return 0;
}

int pw_ruleset_push(struct pw_ruleset *rs, const struct pw_rule *r, const struct pw_ord_rule *o,
		    __u32 id)
{
	return pw_ruleset_insert(rs, rs->n, r, o, id);
}

void pw_ruleset_remove(struct pw_ruleset *rs, int pos)
{
	if (pos < 0 || pos >= rs->n)
		return;
	memmove(rs->r + pos, rs->r + pos + 1, (rs->n - pos - 1) * sizeof(*rs->r));
	memmove(rs->ids + pos, rs->ids + pos + 1, (rs->n - pos - 1) * sizeof(*rs->ids));
	if (rs->ord)
		memmove(rs->ord + pos, rs->ord + pos + 1, (rs->n - pos - 1) * sizeof(*rs->ord));
	rs->n--;
}

static int set_copy(struct pw_set *d, const struct pw_set *s)
{
	*d = *s;
	d->cap = s->n;
	d->e = s->n ? malloc(s->n * sizeof(*d->e)) : NULL;
	if (s->n && !d->e)
		return -ENOMEM;
	if (s->n)
		memcpy(d->e, s->e, s->n * sizeof(*d->e));
	return 0;
}

int pw_ruleset_copy(struct pw_ruleset *dst, const struct pw_ruleset *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->policy = src->policy;
	for (int i = 0; i < src->n; i++)
		if (pw_ruleset_push(dst, &src->r[i], src->ord ? &src->ord[i] : NULL, src->ids[i]))
			goto fail;
	if (src->n_sets) {
		if (!(dst->sets = calloc(PW_MAX_SETS, sizeof(*dst->sets))))
			goto fail;
		for (int i = 0; i < src->n_sets; i++, dst->n_sets++)
			if (set_copy(&dst->sets[i], &src->sets[i]))
				goto fail;
	}
	return 0;
fail:
	pw_ruleset_free(dst);
	return -ENOMEM;
}

/* Hash of a rule's match (action aside), ordered rules by their matches. */
__u64 pw_ruleset_match_hash(const struct pw_ruleset *rs, int i)
{
	struct pw_ord_rule o;
	__u64 h = pw_rule_match_hash(&rs->r[i]);
	const unsigned char *p = (const unsigned char *)&o;

	if (PW_RK_KIND(rs->r[i].kind) != PW_RK_ORDERED)
		return h;
	o = rs->ord[i];
	o.action = 0;
	for (size_t k = 0; k < sizeof(o); k++)
		h = (h ^ p[k]) * 1099511628211ull;
	return h;
}

/* Hash of the match, for duplicate detection in large files. */
__u64 pw_rule_match_hash(const struct pw_rule *r)
{
	struct pw_rule x = *r;
	const unsigned char *p = (const unsigned char *)&x;
	__u64 h = 1469598103934665603ull;

	x.action = 0;
	for (size_t i = 0; i < sizeof(x); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* ---- named sets ---- */

struct pw_set *pw_ruleset_find_set(const struct pw_ruleset *rs, const char *name)
{
	for (int i = 0; i < rs->n_sets; i++)
		if (!strcmp(rs->sets[i].name, name))
			return &rs->sets[i];
	return NULL;
}

struct pw_set *pw_ruleset_new_set(struct pw_ruleset *rs, const char *name)
{
	struct pw_set *s;

	if (!rs->sets && !(rs->sets = calloc(PW_MAX_SETS, sizeof(*rs->sets))))
		return NULL;
	if (rs->n_sets == PW_MAX_SETS) {
		errno = ENOSPC;
		return NULL;
	}
	s = &rs->sets[rs->n_sets++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

int pw_ruleset_del_set(struct pw_ruleset *rs, const char *name)
{
	struct pw_set *s = pw_ruleset_find_set(rs, name);
	int i;

	if (!s)
		return -ENOENT;
	i = (int)(s - rs->sets);
	free(s->e);
	memmove(s, s + 1, (rs->n_sets - i - 1) * sizeof(*s));
	rs->n_sets--;
	return 0;
}

bool pw_ruleset_sets_equal(const struct pw_ruleset *x, const struct pw_ruleset *y)
{
	if (x->n_sets != y->n_sets)
		return false;
	for (int i = 0; i < x->n_sets; i++) {
		const struct pw_set *a = &x->sets[i], *b = pw_ruleset_find_set(y, a->name);

		if (!b || a->n != b->n || (a->n && memcmp(a->e, b->e, a->n * sizeof(*a->e))))
			return false;
	}
	return true;
}

int pw_set_push(struct pw_set *s, const struct pw_prefix *p)
{
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 64;
		struct pw_prefix *e = realloc(s->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	s->e[s->n++] = *p;
	return 0;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct pw_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	for (int w = 0; w < (x->family == 4 ? 1 : 4); w++) {
		__u32 u = ntohl(x->addr[w]), v = ntohl(y->addr[w]);

		if (u != v)
			return u < v ? -1 : 1;
	}
	c = (int)x->len - (int)y->len;
	return c;
}

void pw_set_normalize(struct pw_set *s)
{
	int k = 0;

	if (s->n < 2)
		return;
	qsort(s->e, s->n, sizeof(*s->e), cmp_prefix);
	for (int i = 1; i < s->n; i++)
		if (cmp_prefix(&s->e[k], &s->e[i]))
			s->e[++k] = s->e[i];
	s->n = k + 1;
}

int pw_set_find(const struct pw_set *s, const struct pw_prefix *p)
{
	const struct pw_prefix *f = s->n ? bsearch(p, s->e, s->n, sizeof(*p), cmp_prefix) : NULL;

	return f ? (int)(f - s->e) : -1;
}
