// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The atomic apply of a rule set (fill the inactive buffer, flip
 * pw_config.active, wait for running programs, clean up), its recovery
 * after a kill, and the counters of set elements.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* ---- the atomic apply ---- */

static int write_array(int fd, __u32 first, const void *vals, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 *keys = malloc(n * sizeof(*keys)), count = n;
	int err;

	if (!keys)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	err = bpf_map_update_batch(fd, keys, vals, &count, &bo) ? -errno : 0;
	free(keys);
	return err;
}

/* Keys of one buffer deleted from a hash whose keys start with a meta
 * word holding the buffer in bits 16 and up. */
struct buf_clear {
	int fd;
	__u32 set;
	size_t ksize;
	char *del;
};

static int clear_batch(void *arg, const void *k, const void *v, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct buf_clear *bc = arg;
	const char *keys = k;
	__u32 ndel = 0;

	(void)v;
	for (__u32 i = 0; i < n; i++) {
		__u32 meta;

		memcpy(&meta, keys + i * bc->ksize, sizeof(meta));
		if ((meta >> 16) == bc->set)
			memcpy(bc->del + (ndel++) * bc->ksize, keys + i * bc->ksize, bc->ksize);
	}
	if (ndel && bpf_map_delete_batch(bc->fd, bc->del, &ndel, &bo))
		return -errno;
	return 0;
}

/* Delete every key of buffer @set from a long-prefix or element hash (left
 * from the last use of the buffer). */
static int clear_long(int fd, __u32 set, size_t ksize)
{
	struct buf_clear bc = { fd, set, ksize, malloc(65536 * ksize) };
	int err;

	if (!bc.del)
		return -ENOMEM;
	err = pw_hash_walk(fd, ksize, sizeof(__u32), clear_batch, &bc);
	free(bc.del);
	return err;
}

static int write_hash(int fd, const void *keys, const __u32 *vals, int n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 count = (__u32)n;

	if (!n)
		return 0;
	return bpf_map_update_batch(fd, keys, vals, &count, &bo) ? -errno : 0;
}

/* Free removed rule ids: action and counters back to zero, in two batches. */
static int zero_ids(const struct pw_rules_maps *m, __u32 *ids, int n)
{
	int cpus = libbpf_num_possible_cpus();
	struct pw_datarec *zs;
	struct pw_rule *none;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 count = (__u32)n;
	int err = 0;

	if (!n)
		return 0;
	zs = calloc((size_t)n * (cpus > 0 ? cpus : 1), sizeof(*zs));
	none = calloc(n, sizeof(*none));
	/* counters first: an entry still marked is settled again after a kill,
	 * one already freed is never looked at again */
	if (!zs || !none)
		err = -ENOMEM;
	else if (bpf_map_update_batch(m->fd[PW_RM_STATS], ids, zs, &count, &bo))
		err = -errno;
	count = (__u32)n;
	if (!err && bpf_map_update_batch(m->fd[PW_RM_RULES], ids, none, &count, &bo))
		err = -errno;
	/* an ordered rule's matches go with it (most ids have none) */
	for (int i = 0; !err && m->fd[PW_RM_ORD_RULES] > 0 && i < n; i++)
		if (bpf_map_delete_elem(m->fd[PW_RM_ORD_RULES], &ids[i]) && errno != ENOENT)
			err = -errno;
	if (!err)
		err = pw_limit_forget(m, ids, n);
	free(zs);
	free(none);
	return err;
}

/* Write @flag (generation @gen) into the kind of the rules with @ids. */
static int mark_ids(const struct pw_rules_maps *m, const struct pw_ruleset *cur, const __u32 *ids,
		    int n, __u32 flag, __u32 gen)
{
	struct pw_rule *v = calloc(n + 1, sizeof(*v));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 count = (__u32)n;
	int err = 0, k = 0;

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < cur->n && k < n; i++) {
		if (!cur->ids[i])
			continue;	/* kept: taken out of the removed list */
		v[k] = cur->r[i];
		v[k].kind = PW_RK_MARK(cur->r[i].kind, flag, gen);
		k++;
	}
	if (n && bpf_map_update_batch(m->fd[PW_RM_RULES], ids, v, &count, &bo))
		err = -errno;
	free(v);
	return err;
}

/*
 * End an apply, or one that was killed: every marked rule up to the highest
 * id the apply touched is settled by the generation in force. Switched:
 * after every packet that could still see the old set is done, removed
 * rules are freed (action and counters zero) and added ones unmarked. Not
 * switched: added rules are freed, removed ones unmarked. Then the intent
 * record goes.
 */
static int rules_settle(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_intent *in)
{
	struct pw_config cfg;
	__u32 zero = 0, count = in->new_prog_id + 1, *keys = NULL, *freed = NULL, *kept = NULL;
	struct pw_rule *vals = NULL;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err = 0, n_freed = 0, n_kept = 0;
	char path[PW_PATH_LEN];

	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &cfg))
		return pw_rules_config_fail(ctx, m, errno);
	if (cfg.generation != in->before && (err = pw_wait_for_programs())) {
		err = pw_fail(ctx, err, "cannot wait for running programs: %s", strerror(-err));
		goto out;
	}
	/* every id the apply touched */
	if ((err = pw_rules_read_entries(ctx, m, &count, &keys, &vals)))
		goto out;
	freed = calloc(count + 1, sizeof(*freed));
	kept = calloc(count + 1, sizeof(*kept));
	if (!freed || !kept) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	for (__u32 i = 0; i < count; i++) {
		__u32 k = vals[i].kind;

		if (!(k & (PW_RK_ADDING | PW_RK_REMOVING)))
			continue;
		if (pw_rule_in_force(k, &cfg)) {
			vals[n_kept] = vals[i];
			vals[n_kept].kind = PW_RK_KIND(k);
			kept[n_kept++] = keys[i];
		} else {
			freed[n_freed++] = keys[i];
		}
	}
	if ((err = zero_ids(m, freed, n_freed))) {
		err = pw_fail(ctx, err, "cannot clear removed rules: %s", strerror(-err));
		goto out;
	}
	pw_step(PW_OP_APPLY, "freed");
	count = (__u32)n_kept;
	if (n_kept && bpf_map_update_batch(m->fd[PW_RM_RULES], kept, vals, &count, &bo)) {
		err = pw_fail(ctx, errno, "cannot write the rules: %s", strerror(errno));
		goto out;
	}
	pw_join(path, sizeof(path), ctx->pin_root, PW_PIN_RULES_INTENT);
	unlink(path);
out:
	free(keys);
	free(freed);
	free(kept);
	free(vals);
	return err;
}

static void pw_rules_settle_quiet(struct pw_ctx *ctx, const struct pw_rules_maps *m,
				  struct pw_intent *in)
{
	char err[PW_ERR_LEN];

	/* keep the error that made the apply fail */
	memcpy(err, ctx->err, sizeof(err));
	rules_settle(ctx, m, in);
	memcpy(ctx->err, err, sizeof(err));
}

int pw_rules_recover(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_recovery *rec)
{
	struct pw_config cfg;
	struct pw_intent in;
	__u32 zero = 0;
	int err = pw_rules_intent_read(ctx, &in);

	memset(rec, 0, sizeof(*rec));
	if (err == -ENOENT)
		return 0;
	if (err)
		return pw_fail(ctx, err, "cannot read the rule intent record in '%s': %s",
			       ctx->pin_root, pw_record_problem(err));
	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &cfg))
		return pw_rules_config_fail(ctx, m, errno);
	rec->found = true;
	rec->op = in.op;
	rec->step = in.step;
	rec->pid = in.pid;
	rec->completed = cfg.generation != in.before;
	return rules_settle(ctx, m, &in);
}

bool pw_rules_interrupted(struct pw_ctx *ctx, struct pw_intent *in)
{
	/* an apply running now holds the lock */
	return !pw_rules_intent_read(ctx, in) && !pw_lock_held(ctx);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* An apply under way: what is in force, what is wanted, and the ids. */
struct apply {
	struct pw_ctx *ctx;
	const struct pw_rules_maps *m;
	struct pw_ruleset *want, cur;
	struct pw_config cfg;
	struct pw_intent in;
	struct pw_apply_report *rep;
	int policy, n_removed;
	__u32 set, *removed;
	unsigned char *used;	/* by id: 1 in force, 2 new in this apply */
};

/* Kept rules (same match and action) keep their ids and counters. */
static int match_kept(struct apply *a)
{
	size_t cap = 1;
	struct { __u64 h; int idx; } *tab;

	while (cap < (size_t)a->cur.n * 2 + 2)
		cap <<= 1;
	if (!(tab = calloc(cap, sizeof(*tab))))
		return pw_fail(a->ctx, ENOMEM, "out of memory");
	for (int i = 0; i < a->cur.n; i++) {
		__u64 h = (pw_ruleset_match_hash(&a->cur, i) ^ a->cur.r[i].action) | 1;
		size_t s = h & (cap - 1);

		while (tab[s].h)
			s = (s + 1) & (cap - 1);
		tab[s].h = h;
		tab[s].idx = i;
	}
	for (int i = 0; i < a->want->n; i++) {
		__u64 h = (pw_ruleset_match_hash(a->want, i) ^ a->want->r[i].action) | 1;

		a->want->ids[i] = 0;
		for (size_t s = h & (cap - 1); tab[s].h; s = (s + 1) & (cap - 1)) {
			int c = tab[s].idx;

			if (tab[s].h == h && a->cur.r[c].action == a->want->r[i].action &&
			    pw_ruleset_same_match(&a->cur, c, a->want, i) && a->cur.ids[c]) {
				a->want->ids[i] = a->cur.ids[c];
				a->cur.ids[c] = 0;	/* taken */
				a->rep->kept++;
				break;
			}
		}
	}
	free(tab);
	return 0;
}

/* Where the ordered rules and the table are, as ids: ordered rules in
 * order, 0 for the table's place. @ids: the ids of @rs's rules. */
static int order_of(const struct pw_ruleset *rs, const __u32 *ids, __u32 *out)
{
	int n = 0;
	bool table = false;

	for (int i = 0; i < rs->n; i++) {
		if (rs->r[i].kind == PW_RK_ORDERED)
			out[n++] = ids[i];
		else if (!table)
			out[n++] = 0, table = true;
	}
	return n;
}

/* Nothing to do: same rules, same policy, same order of the ordered rules
 * and the table, same sets. @before: the ids in force. */
static bool apply_unchanged(const struct apply *a, const __u32 *before)
{
	__u32 *x, *y;
	int nx, ny;
	bool same;

	if (a->rep->added || a->rep->removed || a->rep->policy_changed)
		return false;
	x = calloc(a->cur.n + 1, sizeof(*x));
	y = calloc(a->want->n + 1, sizeof(*y));
	if (!x || !y) {
		free(x);
		free(y);
		return false;
	}
	nx = order_of(&a->cur, before, x);
	ny = order_of(a->want, a->want->ids, y);
	same = nx == ny && !memcmp(x, y, nx * sizeof(*x));
	free(x);
	free(y);
	return same && pw_ruleset_sets_equal(&a->cur, a->want);
}

/* New rules get free ids that no packet can still be counting into. */
static int assign_ids(struct apply *a)
{
	__u32 next_free = 1;

	for (int i = 0; i < a->want->n; i++) {
		if (a->want->ids[i])
			continue;
		while (next_free < PW_MAX_RULES && a->used[next_free])
			next_free++;
		if (next_free >= PW_MAX_RULES)
			/* removed rules keep their ids until the switch is done */
			return pw_fail(a->ctx, ENOSPC,
				       "table full: %d rules in force and %d new ones exceed %d rule ids; apply the change in smaller steps",
				       a->cur.n, a->rep->added, PW_MAX_RULES - 1);
		a->want->ids[i] = next_free;
		a->used[next_free] = 2;
	}
	return 0;
}

/* Plan: kept ids, removed ids, new ids; 1 when nothing changes. */
static int apply_plan(struct apply *a)
{
	__u32 *before = calloc(a->cur.n + 1, sizeof(*before));
	int err;

	a->used = calloc(PW_MAX_RULES, 1);
	a->removed = calloc(a->cur.n + 1, sizeof(*a->removed));
	if (!a->used || !a->removed || !before) {
		free(before);
		return pw_fail(a->ctx, ENOMEM, "out of memory");
	}
	for (int i = 0; i < a->cur.n; i++) {
		a->used[a->cur.ids[i]] = 1;
		before[i] = a->cur.ids[i];
	}
	if ((err = match_kept(a))) {
		free(before);
		return err;
	}
	for (int i = 0; i < a->cur.n; i++)
		if (a->cur.ids[i])
			a->removed[a->n_removed++] = a->cur.ids[i];
	a->rep->removed = a->n_removed;
	a->rep->added = a->want->n - a->rep->kept;
	a->rep->policy_changed = a->policy != (int)PW_CFG_POLICY(&a->cfg);
	a->rep->unchanged = a->cur.n == a->want->n && apply_unchanged(a, before);
	free(before);
	if (a->rep->unchanged)
		return 1;
	return assign_ids(a);
}

/* Set names and elements of buffer @set. */
static int write_sets(struct apply *a)
{
	struct pw_set_info *si = calloc(PW_MAX_SETS, sizeof(*si));
	struct pw_elem_key *keys = NULL;
	__u32 *vals = NULL, n = 0, total = 0;
	int err;

	if (!si)
		return -ENOMEM;
	for (int i = 0; i < a->want->n_sets; i++) {
		snprintf(si[i].name, sizeof(si[i].name), "%s", a->want->sets[i].name);
		si[i].n = (__u32)a->want->sets[i].n;
		total += si[i].n;
	}
	err = write_array(a->m->fd[PW_RM_SETS], a->set * PW_MAX_SETS, si, PW_MAX_SETS);
	if (!err)
		err = clear_long(a->m->fd[PW_RM_SET_ELEMS], a->set, sizeof(struct pw_elem_key));
	if (!err && total) {
		keys = calloc(total, sizeof(*keys));
		vals = calloc(total, sizeof(*vals));
		if (!keys || !vals)
			err = -ENOMEM;
		for (int i = 0; !err && i < a->want->n_sets; i++)
			for (int e = 0; e < a->want->sets[i].n; e++, n++) {
				const struct pw_prefix *p = &a->want->sets[i].e[e];

				keys[n].meta = PW_ELEM_META(a->set, (__u32)i, p->family);
				keys[n].len = p->len;
				memcpy(keys[n].addr, p->addr, sizeof(keys[n].addr));
			}
		if (!err)
			err = write_hash(a->m->fd[PW_RM_SET_ELEMS], keys, vals, (int)n);
	}
	free(keys);
	free(vals);
	free(si);
	return err;
}

/* The limit of each ordered rule of buffer @set, by its bit (abi.h:
 * pw_limits); every entry written, so a bit that is no limit reads 0. */
static int write_limits(struct apply *a, const struct pw_tables *t)
{
	struct pw_limit lim[PW_ORD_MAX];

	memset(lim, 0, sizeof(lim));
	for (__u32 k = 0; k < t->ord.n && k < PW_ORD_MAX; k++)
		for (int i = 0; i < a->want->n; i++)
			if (a->want->ids[i] == t->ord.ids[k] && a->want->r[i].action == PW_ACT_LIMIT)
				pw_limit_compile(&a->want->r[i], a->want->ids[i], &lim[k]);
	return write_array(a->m->fd[PW_RM_LIMITS], a->set * PW_ORD_MAX, lim, PW_ORD_MAX);
}

/* 1. the inactive buffer gets the new tables, nodes, order and sets */
static int apply_tables(struct apply *a)
{
	const struct pw_rules_maps *m = a->m;
	struct pw_tables t;
	__u32 set = a->set;
	int err;

	if ((err = pw_tables_build(a->want, set, &t)) == -E2BIG)
		return pw_fail(a->ctx, E2BIG, "table full: the rules and sets need more than %d distinct lookup nodes",
			       PW_NODES);
	if (err)
		return pw_fail(a->ctx, err, "cannot build the rule tables: %s", strerror(-err));
	err = write_array(m->fd[PW_RM_V4_TOP], PW_TOP_INDEX(set, 0, 0), t.top4, 2 * PW_CHUNKS);
	if (!err)
		err = write_array(m->fd[PW_RM_V6_TOP], PW_TOP_INDEX(set, 0, 0), t.top6, 2 * PW_CHUNKS);
	if (!err)
		err = write_array(m->fd[PW_RM_PORTS], PW_PORT_INDEX(set, 0, 0, 0), t.ports, 4 * 65536);
	if (!err)
		err = write_array(m->fd[PW_RM_PROTOS], PW_PROTO_INDEX(set, 0), t.protos, 256);
	if (!err)
		err = clear_long(m->fd[PW_RM_V4_LONG], set, sizeof(struct pw_v4_key));
	if (!err)
		err = clear_long(m->fd[PW_RM_V6_LONG], set, sizeof(struct pw_v6_key));
	if (!err)
		err = write_hash(m->fd[PW_RM_V4_LONG], t.k4, t.v4, t.n4);
	if (!err)
		err = write_hash(m->fd[PW_RM_V6_LONG], t.k6, t.v6, t.n6);
	if (!err && m->fd[PW_RM_ORD] > 0 && t.n_nodes)
		err = write_array(m->fd[PW_RM_NODES], set * PW_NODES, t.nodes, (__u32)t.n_nodes);
	if (!err && m->fd[PW_RM_ORD] > 0 && t.n_nodes)
		err = write_array(m->fd[PW_RM_NODE_PFX], set * PW_NODES, t.node_pfx, (__u32)t.n_nodes);
	if (!err && m->fd[PW_RM_ORD] > 0)
		err = bpf_map_update_elem(m->fd[PW_RM_ORD], &set, &t.ord, BPF_ANY) ? -errno : 0;
	if (!err && m->fd[PW_RM_ORD] > 0)
		err = write_sets(a);
	if (!err && m->fd[PW_RM_LIMITS] > 0)
		err = write_limits(a, &t);
	/* every apply writes its buffer's ct bits, none left from before */
	if (!err && m->fd[PW_RM_CT_RULES] > 0)
		err = bpf_map_update_elem(m->fd[PW_RM_CT_RULES], &set, &t.ct, BPF_ANY) ? -errno : 0;
	pw_tables_free(&t);
	if (err)
		return pw_fail(a->ctx, err, err == -E2BIG || err == -ENOSPC ?
			       "table full: the rule tables have no room (%s)" :
			       "cannot write the rule tables: %s", strerror(-err));
	return 0;
}

/* 2. actions (and matches) of new rules, before any packet can reach them
 * (kept rules are already there; counters start from zero); removed rules
 * marked out of force from the switch on */
static int apply_rules(struct apply *a)
{
	struct pw_rule *nr = calloc(a->rep->added + 1, sizeof(*nr));
	__u32 *nid = calloc(a->rep->added + 1, sizeof(*nid)), count = 0, gen = a->cfg.generation + 1;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err = 0;

	for (int i = 0; nr && nid && !err && i < a->want->n; i++) {
		if (a->used[a->want->ids[i]] != 2)
			continue;
		nr[count] = a->want->r[i];
		/* in force only once the switch below happened */
		nr[count].kind = PW_RK_MARK(a->want->r[i].kind, PW_RK_ADDING, gen);
		nid[count++] = a->want->ids[i];
		if (a->want->r[i].kind == PW_RK_ORDERED &&
		    bpf_map_update_elem(a->m->fd[PW_RM_ORD_RULES], &a->want->ids[i], &a->want->ord[i], BPF_ANY))
			err = -errno;
	}
	if (!nr || !nid)
		err = -ENOMEM;
	else if (!err && count && bpf_map_update_batch(a->m->fd[PW_RM_RULES], nid, nr, &count, &bo))
		err = -errno;
	free(nr);
	free(nid);
	if (err)
		return pw_fail(a->ctx, err, "cannot write the new rules: %s", strerror(-err));
	if ((err = mark_ids(a->m, &a->cur, a->removed, a->n_removed, PW_RK_REMOVING, gen)))
		return pw_fail(a->ctx, err, "cannot mark the removed rules: %s", strerror(-err));
	return 0;
}

/* 3. the switch: one write; each packet reads the buffer index once */
static int apply_switch(struct apply *a)
{
	struct pw_config next = a->cfg;
	__u32 zero = 0;

	next.policy[a->set] = (__u32)a->policy;
	/* the inactive buffer's policy first: no packet reads it yet */
	if (bpf_map_update_elem(a->m->fd[PW_RM_CONFIG], &zero, &next, BPF_ANY))
		return pw_fail(a->ctx, errno, "cannot write the policy: %s", strerror(errno));
	next.active = a->set;
	next.generation = a->cfg.generation + 1;
	next.n_rules = (__u32)a->want->n;
	next.max_id = 0;
	for (int i = 0; i < a->want->n; i++)
		if (a->want->ids[i] > next.max_id)
			next.max_id = a->want->ids[i];
	if (bpf_map_update_elem(a->m->fd[PW_RM_CONFIG], &zero, &next, BPF_ANY))
		return pw_fail(a->ctx, errno, "cannot switch the rule set: %s", strerror(errno));
	return 0;
}

/* ---- hits per set element (abi.h: pw_elem_hits) ---- */

/* The sets each ordered rule matches by, by rule id: at most PW_ORD_MAX. */
struct set_rules {
	int n;
	struct { __u32 id; const struct pw_set *set[2]; } r[PW_ORD_MAX];
};

static void set_rules_of(const struct pw_ruleset *rs, struct set_rules *sr)
{
	sr->n = 0;
	for (int i = 0; i < rs->n && sr->n < PW_ORD_MAX; i++) {
		const struct pw_ord_rule *o;

		if (rs->r[i].kind != PW_RK_ORDERED)
			continue;
		o = &rs->ord[i];
		sr->r[sr->n].id = rs->ids[i];
		sr->r[sr->n].set[PW_SIDE_SRC] = o->src.family == PW_ADDR_SET ?
						pw_ruleset_find_set(rs, o->src.set) : NULL;
		sr->r[sr->n].set[PW_SIDE_DST] = o->dst.family == PW_ADDR_SET ?
						pw_ruleset_find_set(rs, o->dst.set) : NULL;
		sr->n++;
	}
}

static const struct pw_set *set_of(const struct set_rules *sr, const struct pw_hit_key *k)
{
	for (int i = 0; i < sr->n; i++)
		if (sr->r[i].id == k->rule)
			return k->side <= PW_SIDE_DST ? sr->r[i].set[k->side] : NULL;
	return NULL;
}

/* The longest element of @s containing the entry @k, or -1. */
static int longest_elem(const struct pw_set *s, const struct pw_prefix_key *k)
{
	struct pw_prefix p = { k->family, 0, { 0 } };

	if (k->family != 4 && k->family != 6)
		return -1;
	for (int len = (int)k->len; len >= 0; len--) {
		int at;

		memcpy(p.addr, k->addr, sizeof(p.addr));
		p.len = (__u32)len;
		pw_mask_addr(p.addr, (int)p.family, p.len);
		if ((at = pw_set_find(s, &p)) >= 0)
			return at;
	}
	return -1;
}

struct hits_walk {
	struct set_rules sr;
	const struct pw_set *s;		/* pw_set_hits: the set counted */
	__u64 *out;
	int fd;				/* clean-up: the map; keys no rule set holds go */
};

static int hits_batch(void *arg, const void *k, const void *v, __u32 n)
{
	const struct pw_hit_key *keys = k;
	const __u64 *vals = v;
	struct hits_walk *hw = arg;

	for (__u32 i = 0; i < n; i++) {
		const struct pw_set *s = set_of(&hw->sr, &keys[i]);
		int at = s ? longest_elem(s, &keys[i].pfx) : -1;

		if (hw->out && s == hw->s && at >= 0)
			hw->out[at] += vals[i];
		if (!hw->out && at < 0 && bpf_map_delete_elem(hw->fd, &keys[i]) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int pw_set_hits(struct pw_ctx *ctx, const struct pw_rules_maps *m, const struct pw_ruleset *rs,
		const struct pw_set *s, __u64 *out)
{
	struct hits_walk *hw;
	int err;

	memset(out, 0, s->n * sizeof(*out));
	if (m->fd[PW_RM_ELEM_HITS] <= 0)
		return 0;
	if (!(hw = calloc(1, sizeof(*hw))))
		return pw_fail(ctx, ENOMEM, "out of memory");
	set_rules_of(rs, &hw->sr);
	hw->s = s;
	hw->out = out;
	err = pw_hash_walk(m->fd[PW_RM_ELEM_HITS], sizeof(struct pw_hit_key), sizeof(__u64),
			   hits_batch, hw);
	free(hw);
	return err ? pw_fail(ctx, err, "cannot read the hits of set '%s': %s", s->name, strerror(-err)) : 0;
}

/* After a switch: counts of rules gone, or of prefixes their set no longer
 * holds, go (a leftover after a kill goes with the next apply). */
static int hits_clean(const struct pw_rules_maps *m, const struct pw_ruleset *want)
{
	struct hits_walk *hw;
	int err;

	if (m->fd[PW_RM_ELEM_HITS] <= 0)
		return 0;
	if (!(hw = calloc(1, sizeof(*hw))))
		return -ENOMEM;
	set_rules_of(want, &hw->sr);
	hw->fd = m->fd[PW_RM_ELEM_HITS];
	err = pw_hash_walk(hw->fd, sizeof(struct pw_hit_key), sizeof(__u64), hits_batch, hw);
	free(hw);
	return err;
}

/* Limit rules need the limit maps and a program that reads them: an older
 * one would take a limit rule for no rule at all. */
static int apply_limits_supported(struct apply *a)
{
	bool limits = false;

	for (int i = 0; i < a->want->n && !limits; i++)
		limits = a->want->r[i].action == PW_ACT_LIMIT;
	if (!limits)
		return 0;
	if (a->m->fd[PW_RM_LIMITS] <= 0 || a->m->fd[PW_RM_LIM_STATE] <= 0 || a->m->fd[PW_RM_LIM_PASS] <= 0)
		return pw_fail(a->ctx, ENOTSUP, "the rule maps have no room for limit rules; nothing was changed");
	if (a->m->old_lim_prog_id)
		return pw_fail(a->ctx, ENOTSUP, "the program on '%s' (id %u) predates limit rules and would not apply them: 'pinwall reload %s' first; nothing was changed",
			       a->m->old_lim_user, a->m->old_lim_prog_id, a->m->old_lim_user);
	return 0;
}

/* Ordered rules and sets need maps (and a program) that know them. */
static int apply_supported(struct apply *a)
{
	bool ordered = a->want->n_sets > 0;

	for (int i = 0; i < a->want->n && !ordered; i++)
		ordered = a->want->r[i].kind == PW_RK_ORDERED;
	if (!ordered)
		return 0;
	if (a->m->fd[PW_RM_ORD] <= 0)
		return pw_fail(a->ctx, ENOTSUP, "the rule maps have no room for ordered rules or sets; nothing was changed");
	if (a->m->old_prog_id)
		return pw_fail(a->ctx, ENOTSUP, "the program on '%s' (id %u) predates ordered rules and sets and would not see them: 'pinwall reload %s' first; nothing was changed",
			       a->m->old_user, a->m->old_prog_id, a->m->old_user);
	return apply_limits_supported(a) ?: pw_ct_supported(a->ctx, a->m, a->want);
}

int pw_rules_apply(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *want,
		   int policy, struct pw_apply_report *rep)
{
	struct apply a = { .ctx = ctx, .m = m, .want = want, .rep = rep, .policy = policy };
	bool intent = false;
	double t0 = mono_ms();
	int err;

	memset(rep, 0, sizeof(*rep));
	if ((err = apply_supported(&a)) || (err = pw_rules_read(ctx, m, &a.cur, &a.cfg)))
		return err;
	if ((err = apply_plan(&a)) != 0) {
		err = err > 0 ? 0 : err;
		goto out;
	}
	/* 0. the intent: a kill from here on is finished or rolled back by the
	 * next rule command (pw_rules_recover), up to the highest id touched */
	pw_intent_init(&a.in, PW_OP_APPLY);
	a.in.before = a.cfg.generation;
	a.in.new_prog_id = a.cfg.max_id;
	for (int i = 0; i < want->n; i++)
		if (want->ids[i] > a.in.new_prog_id)
			a.in.new_prog_id = want->ids[i];
	if ((err = pw_rules_intent_write(ctx, &a.in)))
		goto out;
	intent = true;
	pw_step(PW_OP_APPLY, "planned");
	a.set = (a.cfg.active & 1) ^ 1;
	if ((err = apply_tables(&a)) || (err = apply_rules(&a)))
		goto out;

	pw_step(PW_OP_APPLY, "staged");
	if ((err = apply_switch(&a)))
		goto out;
	rep->switch_ms = mono_ms() - t0;
	pw_step(PW_OP_APPLY, "switched");
	/* 4. once no packet can still use the old buffer, removed rules go and
	 * the new ones lose their mark */
	intent = false;		/* switched: from here on, only forward */
	if ((err = rules_settle(ctx, m, &a.in)))
		pw_detail(ctx, "the new rules are in force; 'pinwall recover' finishes the clean-up");
	else if ((err = hits_clean(m, want)))
		err = pw_fail(ctx, err, "the new rules are in force, but the counters of removed set prefixes could not be freed: %s",
			      strerror(-err));
out:
	if (err && intent)	/* not switched: take back what was written (recovery does the same) */
		pw_rules_settle_quiet(ctx, m, &a.in);
	rep->total_ms = mono_ms() - t0;
	free(a.used);
	free(a.removed);
	pw_ruleset_free(&a.cur);
	return err;
}
