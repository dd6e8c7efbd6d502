// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CrowdSec decisions held, one per prefix, and the blocks to add and
 * remove that follow from a stream answer. The local API sends the longest
 * decision of a value and may repeat a deletion in later answers: a deletion
 * removes a block only while the deleted decision is the one behind it, so a
 * repeated deletion cannot undo a newer ban of the same address.
 *
 * An open-addressing hash keyed by prefix (linear probing, backward-shift
 * deletion): O(1) per decision for the million a community list can hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pinwall/crowdsec.h"

struct slot {
	bool used;
	__u64 id;
	__u64 expiry_ms;
	struct pw_cs_prefix pfx;
};

struct pw_cs_table {
	struct slot *s;
	size_t cap;		/* a power of two */
	size_t n;
};

static size_t hash_pfx(const struct pw_cs_prefix *p)
{
	__u64 h = 1469598103934665603ULL;	/* FNV-1a */
	const __u8 *b = (const __u8 *)p;

	for (size_t i = 0; i < sizeof(*p); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return (size_t)h;
}

static bool same(const struct pw_cs_prefix *a, const struct pw_cs_prefix *b)
{
	return !memcmp(a, b, sizeof(*a));
}

struct pw_cs_table *pw_cs_table_new(void)
{
	struct pw_cs_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = 64;
	t->s = calloc(t->cap, sizeof(*t->s));
	if (!t->s) {
		free(t);
		return NULL;
	}
	return t;
}

void pw_cs_table_free(struct pw_cs_table *t)
{
	if (!t)
		return;
	free(t->s);
	free(t);
}

size_t pw_cs_table_count(const struct pw_cs_table *t)
{
	return t->n;
}

/* The slot of @p, or the free slot where it would go. */
static struct slot *find(const struct pw_cs_table *t, const struct pw_cs_prefix *p)
{
	size_t i = hash_pfx(p) & (t->cap - 1);

	while (t->s[i].used && !same(&t->s[i].pfx, p))
		i = (i + 1) & (t->cap - 1);
	return &t->s[i];
}

static int grow(struct pw_cs_table *t)
{
	struct pw_cs_table bigger = { .cap = t->cap * 2 };

	bigger.s = calloc(bigger.cap, sizeof(*bigger.s));
	if (!bigger.s)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].used)
			*find(&bigger, &t->s[i].pfx) = t->s[i];
	free(t->s);
	t->s = bigger.s;
	t->cap = bigger.cap;
	return 0;
}

static void erase(struct pw_cs_table *t, struct slot *gone)
{
	size_t i = (size_t)(gone - t->s), j = i;

	t->s[i].used = false;
	t->n--;
	/* backward shift: move up entries whose probe passed the hole */
	for (;;) {
		size_t home;

		j = (j + 1) & (t->cap - 1);
		if (!t->s[j].used)
			return;
		home = hash_pfx(&t->s[j].pfx) & (t->cap - 1);
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->s[i] = t->s[j];
			t->s[j].used = false;
			i = j;
		}
	}
}

static int plan_push(struct pw_ctx *ctx, struct pw_cs_plan *plan, bool add,
		     const struct pw_cs_prefix *p, __u64 expiry_ms)
{
	if (plan->n == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 64;
		struct pw_cs_op *ops = realloc(plan->ops, cap * sizeof(*ops));

		if (!ops)
			return pw_fail(ctx, ENOMEM, "out of memory for %zu block changes", cap);
		plan->ops = ops;
		plan->cap = cap;
	}
	plan->ops[plan->n++] = (struct pw_cs_op){ .add = add, .pfx = *p, .expiry_ms = expiry_ms };
	return 0;
}

static int hold(struct pw_ctx *ctx, struct pw_cs_table *t, const struct pw_cs_decision *d,
		__u64 now_ms, struct pw_cs_plan *plan)
{
	__u64 expiry = now_ms + (__u64)d->remaining_ms;
	struct slot *s;

	if ((t->n + 1) * 2 > t->cap && grow(t))
		return pw_fail(ctx, ENOMEM, "out of memory for %zu decisions", t->n + 1);
	s = find(t, &d->pfx);
	if (s->used && s->expiry_ms > expiry)
		return 0;	/* a longer ban of the same prefix is held: keep it */
	if (!s->used)
		t->n++;
	*s = (struct slot){ .used = true, .id = d->id, .expiry_ms = expiry, .pfx = d->pfx };
	return plan_push(ctx, plan, true, &d->pfx, expiry);
}

static int drop(struct pw_ctx *ctx, struct pw_cs_table *t, const struct pw_cs_decision *d,
		struct pw_cs_plan *plan)
{
	struct slot *s = find(t, &d->pfx);

	if (!s->used || s->id != d->id) {
		plan->stale_deletions++;
		return 0;
	}
	erase(t, s);
	return plan_push(ctx, plan, false, &d->pfx, 0);
}

int pw_cs_plan_batch(struct pw_ctx *ctx, struct pw_cs_table *t, const struct pw_cs_batch *b,
		     bool startup, __u64 now_ms, struct pw_cs_plan *plan)
{
	int err;

	if (startup) {
		memset(t->s, 0, t->cap * sizeof(*t->s));
		t->n = 0;
	} else {
		/* deletions first: an answer may delete an old decision and add a new one */
		for (size_t i = 0; i < b->n_deleted; i++)
			if ((err = drop(ctx, t, &b->deleted[i], plan)))
				return err;
	}
	for (size_t i = 0; i < b->n_added; i++)
		if ((err = hold(ctx, t, &b->added[i], now_ms, plan)))
			return err;
	return 0;
}

int pw_cs_plan_reconcile(struct pw_ctx *ctx, const struct pw_cs_table *t,
			 const struct pw_cs_prefix *have, size_t n_have, struct pw_cs_plan *plan)
{
	int err;

	for (size_t i = 0; i < n_have; i++)
		if (!find(t, &have[i])->used && (err = plan_push(ctx, plan, false, &have[i], 0)))
			return err;
	return 0;
}

void pw_cs_plan_free(struct pw_cs_plan *plan)
{
	free(plan->ops);
	memset(plan, 0, sizeof(*plan));
}
