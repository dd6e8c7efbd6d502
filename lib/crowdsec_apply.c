// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A CrowdSec plan applied to the timed blocks, with origin crowdsec. The
 * blocks of other origins are the operator's: a prefix that one of them
 * holds is neither replaced (a ban would turn a permanent block into one
 * that expires) nor removed by a deletion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "pinwall/block.h"
#include "pinwall/crowdsec.h"

/* One block as it is now: its prefix and origin, sorted for bsearch. */
struct held {
	struct pw_cs_prefix pfx;
	__u32 origin;
};

static int cmp_held(const void *a, const void *b)
{
	return memcmp(&((const struct held *)a)->pfx, &((const struct held *)b)->pfx,
		      sizeof(struct pw_cs_prefix));
}

static void to_prefix(const struct pw_block *b, struct pw_cs_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = b->family == 4 ? AF_INET : AF_INET6;
	p->plen = (__u8)b->len;
	memcpy(p->addr, b->addr, b->family == 4 ? 4 : 16);
}

static void to_block(const struct pw_cs_prefix *p, __u64 expiry_ms, struct pw_block *b)
{
	memset(b, 0, sizeof(*b));
	b->family = p->family == AF_INET ? 4 : 6;
	b->len = p->plen;
	memcpy(b->addr, p->addr, p->family == AF_INET ? 4 : 16);
	b->expires = (expiry_ms + 999) / 1000;	/* never earlier than the decision's end */
	b->origin = PW_BO_CROWDSEC;
}

/* The blocks now, sorted by prefix. */
static int held_now(struct pw_ctx *ctx, struct held **out, size_t *n)
{
	struct pw_block_list l = { 0 };
	int err = pw_block_list(ctx, &l);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	if (l.n > 0 && !(*out = calloc((size_t)l.n, sizeof(**out)))) {
		pw_block_list_free(&l);
		return pw_fail(ctx, ENOMEM, "out of memory for %d blocks", l.n);
	}
	for (int i = 0; i < l.n; i++) {
		to_prefix(&l.e[i], &(*out)[i].pfx);
		(*out)[i].origin = l.e[i].origin;
	}
	*n = (size_t)l.n;
	pw_block_list_free(&l);
	qsort(*out, *n, sizeof(**out), cmp_held);
	return 0;
}

int pw_cs_blocks(struct pw_ctx *ctx, struct pw_cs_prefix **out, size_t *n)
{
	struct held *h;
	size_t nh, k = 0;
	int err = held_now(ctx, &h, &nh);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	if (nh && !(*out = calloc(nh, sizeof(**out)))) {
		free(h);
		return pw_fail(ctx, ENOMEM, "out of memory for %zu blocks", nh);
	}
	for (size_t i = 0; i < nh; i++)
		if (h[i].origin == PW_BO_CROWDSEC)
			(*out)[k++] = h[i].pfx;
	*n = k;
	free(h);
	return 0;
}

/* Sort the plan's operations into the blocks to remove and to add. */
static void split(const struct pw_cs_plan *plan, const struct held *h, size_t nh,
		  struct pw_block *dels, int *nd, struct pw_block *adds, int *na,
		  struct pw_cs_applied *out)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct pw_cs_op *op = &plan->ops[i];
		struct held key = { .pfx = op->pfx };
		const struct held *now = nh ? bsearch(&key, h, nh, sizeof(*h), cmp_held) : NULL;

		if (now && now->origin != PW_BO_CROWDSEC)
			out->other_origin++;
		else if (op->add && op->expiry_ms && op->expiry_ms / 1000 <= (__u64)time(NULL) + 1)
			out->gone++;	/* ends within a second: it would be refused, and the batch */
		else if (op->add)
			to_block(&op->pfx, op->expiry_ms, &adds[(*na)++]);
		else if (!now)
			out->gone++;
		else
			to_block(&op->pfx, 0, &dels[(*nd)++]);
	}
}

int pw_cs_apply(struct pw_ctx *ctx, const struct pw_cs_plan *plan, struct pw_cs_applied *out)
{
	struct pw_block *dels = NULL, *adds = NULL;
	int nd = 0, na = 0, done = 0, err;
	struct held *h = NULL;
	size_t nh;

	memset(out, 0, sizeof(*out));
	if (!plan->n)
		return 0;
	if (plan->n > PW_CS_MAX_DECISIONS * 2u)
		return pw_fail(ctx, E2BIG, "%zu block changes at once, over %u", plan->n,
			       PW_CS_MAX_DECISIONS * 2u);
	if ((err = held_now(ctx, &h, &nh)))
		return err;
	dels = calloc(plan->n, sizeof(*dels));
	adds = calloc(plan->n, sizeof(*adds));
	if (!dels || !adds) {
		err = pw_fail(ctx, ENOMEM, "out of memory for %zu block changes", plan->n);
		goto out;
	}
	split(plan, h, nh, dels, &nd, adds, &na, out);
	/* removals first: a plan may remove a prefix's old ban and add its new one */
	if (nd && (err = pw_block_del_origin(ctx, dels, nd, PW_BO_CROWDSEC, &done)))
		goto out;
	out->removed = (unsigned int)(nd - done);
	out->gone += (unsigned int)done;
	done = 0;
	if (na && (err = pw_block_add(ctx, adds, na, &done))) {
		out->added = (unsigned int)done;
		goto out;
	}
	out->added = (unsigned int)na;
out:
	free(h);
	free(dels);
	free(adds);
	return err;
}
