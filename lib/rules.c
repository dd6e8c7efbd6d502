// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rule set kept in the pinned rule maps: reading it, compiling a set
 * into the lookup tables, and the atomic apply (fill the inactive set,
 * flip pw_config.active, wait for running programs, clean up).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"


/* ---- the pinned rule maps ---- */

static const char *const map_names[PW_RM_COUNT] = {
	[PW_RM_RULES] = PW_MAP_RULES, [PW_RM_STATS] = PW_MAP_RULE_STATS,
	[PW_RM_CONFIG] = PW_MAP_CONFIG, [PW_RM_V4_TOP] = PW_MAP_V4_TOP,
	[PW_RM_V6_TOP] = PW_MAP_V6_TOP, [PW_RM_V4_LONG] = PW_MAP_V4_LONG,
	[PW_RM_V6_LONG] = PW_MAP_V6_LONG, [PW_RM_PORTS] = PW_MAP_PORTS,
	[PW_RM_PROTOS] = PW_MAP_PROTOS,
};

void pw_rules_close(struct pw_rules_maps *m)
{
	for (int i = 0; i < PW_RM_COUNT; i++)
		if (m->fd[i] > 0)
			close(m->fd[i]);
	memset(m, 0, sizeof(*m));
}

/* Create the rule maps (no program is loaded) and pin them by name. */
static int rules_create(struct pw_ctx *ctx)
{
	struct pinwall *skel = pinwall__open();
	struct pw_plan plan;
	int err;

	if (!skel)
		return pw_fail(ctx, errno, "cannot open the built-in object: %s", strerror(errno));
	bpf_program__set_autoload(skel->progs.pinwall_xdp, false);
	err = pw_plan_maps(ctx, skel->obj, ctx->pin_root, NULL, &plan);
	if (!err) {
		err = bpf_object__load(skel->obj);
		if (err)
			err = pw_fail(ctx, err, "cannot create the rule maps: %s", strerror(-err));
		else
			err = pw_plan_pin_shared(ctx, &plan);
		pw_plan_free(&plan);
	}
	pinwall__destroy(skel);
	return err;
}

int pw_rules_open(struct pw_ctx *ctx, struct pw_rules_maps *m, bool create, bool rdonly)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];
	int err;

	memset(m, 0, sizeof(*m));
	pw_shared_dir(ctx, shared, sizeof(shared));
	pw_join(path, sizeof(path), shared, PW_MAP_RULES);
	if (!pw_path_exists(path)) {
		if (!create)
			return pw_fail(ctx, ENOENT, "no rules configured (no pin at '%s')", path);
		if ((err = rules_create(ctx)))
			return err;
	}
	for (int i = 0; i < PW_RM_COUNT; i++) {
		pw_join(path, sizeof(path), shared, map_names[i]);
		m->fd[i] = pw_open_map_pin(ctx, path, rdonly);
		if (m->fd[i] < 0) {
			err = m->fd[i] == -ENOENT ?
				pw_fail(ctx, ENOENT, "rule map '%s' is missing: the rule state is incomplete",
					path) : m->fd[i];
			m->fd[i] = 0;
			pw_rules_close(m);
			return err;
		}
	}
	return 0;
}

/* Is a stored rule in force? Marks of an apply under way (or killed) decide
 * by the generation in force: see PW_RK_ADDING in abi.h. */
static bool rule_in_force(__u32 kind, const struct pw_config *cfg)
{
	bool now = PW_RK_GEN(kind) == PW_RK_GEN_OF(cfg->generation);

	if (kind & PW_RK_ADDING)
		return now;
	if (kind & PW_RK_REMOVING)
		return !now;
	return true;
}

static int read_once(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		     struct pw_config *cfg);

/* The stored rule entries of ids below @count, in one batch syscall: *@count
 * becomes the number read. */
static int read_entries(struct pw_ctx *ctx, const struct pw_rules_maps *m, __u32 *count,
			__u32 **keys, struct pw_rule **vals)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 out_batch;

	if (*count > PW_MAX_RULES)
		*count = PW_MAX_RULES;
	*keys = calloc(*count, sizeof(**keys));
	*vals = calloc(*count, sizeof(**vals));
	if (!*keys || !*vals)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if (bpf_map_lookup_batch(m->fd[PW_RM_RULES], NULL, &out_batch, *keys, *vals, count, &bo) &&
	    errno != ENOENT)
		return pw_fail(ctx, errno, "cannot read the rules: %s", strerror(errno));
	return 0;
}

int pw_rules_read(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		  struct pw_config *cfg)
{
	__u32 zero = 0;
	int err;

	/* readers take no lock: if an apply switched sets while the rules were
	 * read, read again (the marks are judged by the generation read) */
	for (int tries = 0; ; tries++) {
		struct pw_config again;

		err = read_once(ctx, m, rs, cfg);
		if (err || tries == 8)
			return err;
		if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &again))
			return pw_fail(ctx, errno, "cannot read the rule config: %s", strerror(errno));
		if (again.generation == cfg->generation && again.active == cfg->active)
			return 0;
		pw_ruleset_free(rs);
	}
}

static int read_once(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		     struct pw_config *cfg)
{
	__u32 zero = 0, count, *keys = NULL;
	struct pw_rule *vals = NULL;
	int err = 0;

	memset(rs, 0, sizeof(*rs));
	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, cfg))
		return pw_fail(ctx, errno, "cannot read the rule config: %s", strerror(errno));
	rs->policy = (int)PW_CFG_POLICY(cfg);
	/* up to the highest id in use */
	count = cfg->max_id < PW_MAX_RULES ? cfg->max_id + 1 : PW_MAX_RULES;
	if ((err = read_entries(ctx, m, &count, &keys, &vals)))
		goto out;
	for (__u32 i = 0; i < count; i++) {
		if (PW_RK_KIND(vals[i].kind) == PW_RK_NONE || !rule_in_force(vals[i].kind, cfg))
			continue;
		vals[i].kind = PW_RK_KIND(vals[i].kind);
		if (pw_ruleset_push(rs, &vals[i], keys[i])) {
			err = pw_fail(ctx, ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	free(keys);
	free(vals);
	if (err)
		pw_ruleset_free(rs);
	return err;
}

int pw_rules_counters(struct pw_ctx *ctx, const struct pw_rules_maps *m,
		      const struct pw_ruleset *rs, struct pw_counter *out)
{
	int cpus = libbpf_num_possible_cpus();
	__u32 count = 1, out_batch, *keys;
	struct pw_datarec *vals;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err = 0;

	if (cpus <= 0)
		return pw_fail(ctx, EINVAL, "cannot count CPUs");
	/* only up to the highest id in use */
	for (int i = 0; i < rs->n; i++)
		if (rs->ids[i] >= count)
			count = rs->ids[i] + 1;
	keys = calloc(count, sizeof(*keys));
	vals = calloc((size_t)count * cpus, sizeof(*vals));
	if (!keys || !vals) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	if (bpf_map_lookup_batch(m->fd[PW_RM_STATS], NULL, &out_batch, keys, vals, &count, &bo) &&
	    errno != ENOENT) {
		err = pw_fail(ctx, errno, "cannot read the rule counters: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < rs->n; i++) {
		__u32 id = rs->ids[i];

		out[i].packets = out[i].bytes = 0;
		if (id >= count)
			continue;
		for (int c = 0; c < cpus; c++) {
			out[i].packets += vals[(size_t)id * cpus + c].rx_packets;
			out[i].bytes += vals[(size_t)id * cpus + c].rx_bytes;
		}
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* ---- compiling a set into tables, and the atomic apply ---- */

struct tables {
	struct pw_top *top4, *top6;	/* [2 dirs][65536] */
	__u32 *ports;			/* [2 dirs][2 protos][65536] */
	__u32 protos[256];
	int n4, n6;
	struct pw_v4_key *k4;
	struct pw_v6_key *k6;
	__u32 *v4, *v6;
};

static void tables_free(struct tables *t)
{
	free(t->top4); free(t->top6); free(t->ports);
	free(t->k4); free(t->k6); free(t->v4); free(t->v6);
}

static int cmp_len(const void *a, const void *b)
{
	const struct pw_rule *x = *(const struct pw_rule *const *)a, *y = *(const struct pw_rule *const *)b;

	return (int)x->len - (int)y->len;
}

static int cmp_width_desc(const void *a, const void *b)
{
	const struct pw_rule *x = *(const struct pw_rule *const *)a, *y = *(const struct pw_rule *const *)b;
	__u32 wx = x->port_hi - x->port_lo, wy = y->port_hi - y->port_lo;

	if (wx != wy)
		return wx > wy ? -1 : 1;
	return (int)(x->proto != 0) - (int)(y->proto != 0);	/* both-protocols first */
}

static int tables_build(const struct pw_ruleset *rs, __u32 set, struct tables *t)
{
	const struct pw_rule **sorted = calloc(rs->n + 1, sizeof(*sorted));
	int n = 0;

	memset(t, 0, sizeof(*t));
	t->top4 = calloc(2 * PW_CHUNKS, sizeof(*t->top4));
	t->top6 = calloc(2 * PW_CHUNKS, sizeof(*t->top6));
	t->ports = calloc(4 * 65536, sizeof(*t->ports));
	t->k4 = calloc(rs->n + 1, sizeof(*t->k4));
	t->k6 = calloc(rs->n + 1, sizeof(*t->k6));
	t->v4 = calloc(rs->n + 1, sizeof(*t->v4));
	t->v6 = calloc(rs->n + 1, sizeof(*t->v6));
	if (!sorted || !t->top4 || !t->top6 || !t->ports || !t->k4 || !t->k6 || !t->v4 || !t->v6) {
		free(sorted);
		tables_free(t);
		return -ENOMEM;
	}
	/* address rules, shortest first so longer prefixes overwrite chunks */
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_SRC || rs->r[i].kind == PW_RK_DST)
			sorted[n++] = &rs->r[i];
	qsort(sorted, n, sizeof(*sorted), cmp_len);
	for (int i = 0; i < n; i++) {
		const struct pw_rule *r = sorted[i];
		__u32 id = rs->ids[r - rs->r];
		__u32 dir = r->kind == PW_RK_SRC ? PW_SIDE_SRC : PW_SIDE_DST;
		struct pw_top *top = (r->family == 4 ? t->top4 : t->top6) + dir * PW_CHUNKS;
		__u32 chunk = ntohl(r->addr[0]) >> 16;

		if (r->len <= 16) {
			__u32 span = 1u << (16 - r->len);

			for (__u32 c = chunk; c < chunk + span; c++)
				top[c].rule = id;
			continue;
		}
		top[chunk].bits[(r->len - 17) / 64] |= 1ull << ((r->len - 17) % 64);
		{
			/* the third bytes (address bits 16..23) this prefix covers */
			__u32 b3 = (ntohl(r->addr[0]) >> 8) & 0xff;
			__u32 span = r->len >= 24 ? 1 : 1u << (24 - r->len);

			for (__u32 b = b3 & ~(span - 1); b < (b3 & ~(span - 1)) + span; b++)
				top[chunk].b3[b >> 6] |= 1ull << (b & 63);
		}
		if (r->family == 4) {
			t->k4[t->n4] = (struct pw_v4_key){ PW_LONG_META(set, dir, r->len), r->addr[0] };
			t->v4[t->n4++] = id;
		} else {
			t->k6[t->n6].meta = PW_LONG_META(set, dir, r->len);
			memcpy(t->k6[t->n6].addr, r->addr, 16);
			t->v6[t->n6++] = id;
		}
	}
	/* port rules, widest first so narrower ranges overwrite */
	n = 0;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_SPORT || rs->r[i].kind == PW_RK_DPORT)
			sorted[n++] = &rs->r[i];
	qsort(sorted, n, sizeof(*sorted), cmp_width_desc);
	for (int i = 0; i < n; i++) {
		const struct pw_rule *r = sorted[i];
		__u32 id = rs->ids[r - rs->r];
		__u32 dir = r->kind == PW_RK_SPORT ? PW_SIDE_SRC : PW_SIDE_DST;

		for (__u32 udp = 0; udp < 2; udp++) {
			if (r->proto && r->proto != (udp ? 17u : 6u))
				continue;
			for (__u32 p = r->port_lo; p <= r->port_hi; p++)
				t->ports[((dir * 2 + udp) << 16) | p] = id;
		}
	}
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_PROTO)
			t->protos[rs->r[i].proto] = rs->ids[i];
	free(sorted);
	return 0;
}

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

/* Delete every key of @set from a long-prefix hash (left from the last use). */
static int clear_long(int fd, __u32 set, size_t ksize)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	size_t cap = 65536;
	char *keys = malloc(cap * ksize), *del = malloc(cap * ksize);
	__u32 *vals = malloc(cap * sizeof(__u32));
	__u32 in, out, count;
	bool first = true;
	int err = 0;

	if (!keys || !del || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 ndel = 0;

		count = (__u32)cap;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &bo);
		err = err ? -errno : 0;
		if (err && err != -ENOENT)
			goto out;
		for (__u32 i = 0; i < count; i++) {
			__u32 meta;

			memcpy(&meta, keys + i * ksize, sizeof(meta));
			if ((meta >> 16) == set)
				memcpy(del + (ndel++) * ksize, keys + i * ksize, ksize);
		}
		if (ndel) {
			__u32 c = ndel;

			if (bpf_map_delete_batch(fd, del, &c, &bo)) {
				err = -errno;
				goto out;
			}
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(del);
	free(vals);
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
		return pw_fail(ctx, errno, "cannot read the rule config: %s", strerror(errno));
	if (cfg.generation != in->old_prog_id && (err = pw_wait_for_programs())) {
		err = pw_fail(ctx, err, "cannot wait for running programs: %s", strerror(-err));
		goto out;
	}
	/* every id the apply touched */
	if ((err = read_entries(ctx, m, &count, &keys, &vals)))
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
		if (rule_in_force(k, &cfg)) {
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
			       ctx->pin_root, strerror(-err));
	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &cfg))
		return pw_fail(ctx, errno, "cannot read the rule config: %s", strerror(errno));
	rec->found = true;
	rec->op = in.op;
	rec->step = in.step;
	rec->pid = in.pid;
	rec->completed = cfg.generation != in.old_prog_id;
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

int pw_rules_apply(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *want,
		   int policy, struct pw_apply_report *rep)
{
	struct pw_ruleset cur;
	struct pw_config cfg, next;
	struct pw_intent in;
	struct tables t;
	__u32 set, zero = 0, *removed = NULL, next_free = 1;
	unsigned char *used = NULL;
	int err, n_removed = 0;
	bool intent = false;
	double t0 = mono_ms();

	memset(rep, 0, sizeof(*rep));
	if ((err = pw_rules_read(ctx, m, &cur, &cfg)))
		return err;
	used = calloc(PW_MAX_RULES, 1);
	removed = calloc(cur.n + 1, sizeof(*removed));
	if (!used || !removed) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	/* kept rules keep their ids (and counters); the rest get free ids that
	 * no packet can still be counting into */
	for (int i = 0; i < cur.n; i++)
		used[cur.ids[i]] = 1;
	for (int i = 0; i < want->n; i++)
		want->ids[i] = 0;
	{
		/* match current rules by content through a hash of the full rule */
		size_t cap = 1;
		struct { __u64 h; int idx; } *tab;

		while (cap < (size_t)cur.n * 2 + 2)
			cap <<= 1;
		tab = calloc(cap, sizeof(*tab));
		if (!tab) {
			err = pw_fail(ctx, ENOMEM, "out of memory");
			goto out;
		}
		for (int i = 0; i < cur.n; i++) {
			__u64 h = (pw_rule_match_hash(&cur.r[i]) ^ cur.r[i].action) | 1;
			size_t s = h & (cap - 1);

			while (tab[s].h)
				s = (s + 1) & (cap - 1);
			tab[s].h = h;
			tab[s].idx = i;
		}
		for (int i = 0; i < want->n; i++) {
			__u64 h = (pw_rule_match_hash(&want->r[i]) ^ want->r[i].action) | 1;

			for (size_t s = h & (cap - 1); tab[s].h; s = (s + 1) & (cap - 1)) {
				struct pw_rule *c = &cur.r[tab[s].idx];

				if (tab[s].h == h && c->action == want->r[i].action &&
				    pw_rule_same_match(c, &want->r[i]) && cur.ids[tab[s].idx]) {
					want->ids[i] = cur.ids[tab[s].idx];
					cur.ids[tab[s].idx] = 0;	/* taken */
					rep->kept++;
					break;
				}
			}
		}
		free(tab);
	}
	for (int i = 0; i < cur.n; i++)
		if (cur.ids[i])
			removed[n_removed++] = cur.ids[i];
	rep->removed = n_removed;
	rep->added = want->n - rep->kept;
	rep->policy_changed = policy != (int)PW_CFG_POLICY(&cfg);
	if (!rep->added && !rep->removed && !rep->policy_changed) {
		rep->unchanged = true;
		goto out;
	}
	for (int i = 0; i < want->n; i++) {
		if (want->ids[i])
			continue;
		while (next_free < PW_MAX_RULES && used[next_free])
			next_free++;
		if (next_free >= PW_MAX_RULES) {
			/* removed rules keep their ids until the switch is done */
			err = pw_fail(ctx, ENOSPC,
				      "table full: %d rules in force and %d new ones exceed %d rule ids; apply the change in smaller steps",
				      cur.n, rep->added, PW_MAX_RULES - 1);
			goto out;
		}
		want->ids[i] = next_free;
		used[next_free] = 2;	/* new in this apply */
	}

	/* 0. the intent: a kill from here on is finished or rolled back by the
	 * next rule command (pw_rules_recover), up to the highest id touched */
	pw_intent_init(&in, PW_OP_APPLY);
	in.old_prog_id = cfg.generation;
	in.new_prog_id = cfg.max_id;
	for (int i = 0; i < want->n; i++)
		if (want->ids[i] > in.new_prog_id)
			in.new_prog_id = want->ids[i];
	if ((err = pw_rules_intent_write(ctx, &in)))
		goto out;
	intent = true;
	pw_step(PW_OP_APPLY, "planned");

	/* 1. the inactive set gets the new tables */
	set = (cfg.active & 1) ^ 1;
	if ((err = tables_build(want, set, &t))) {
		err = pw_fail(ctx, err, "cannot build the rule tables: %s", strerror(-err));
		goto out;
	}
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
	tables_free(&t);
	if (err) {
		err = pw_fail(ctx, err, err == -E2BIG || err == -ENOSPC ?
			      "table full: the rule tables have no room (%s)" :
			      "cannot write the rule tables: %s", strerror(-err));
		goto out;
	}
	/* 2. actions of new rules, before any packet can reach them (kept
	 * rules are already there); their counters start from zero */
	{
		struct pw_rule *nr = calloc(rep->added + 1, sizeof(*nr));
		__u32 *nid = calloc(rep->added + 1, sizeof(*nid)), count = 0;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		for (int i = 0; nr && nid && i < want->n; i++) {
			if (used[want->ids[i]] != 2)
				continue;
			nr[count] = want->r[i];
			/* in force only once the switch below happened */
			nr[count].kind = PW_RK_MARK(want->r[i].kind, PW_RK_ADDING, cfg.generation + 1);
			nid[count++] = want->ids[i];
		}
		if (!nr || !nid)
			err = -ENOMEM;
		else if (count && bpf_map_update_batch(m->fd[PW_RM_RULES], nid, nr, &count, &bo))
			err = -errno;
		free(nr);
		free(nid);
		if (err) {
			err = pw_fail(ctx, err, "cannot write the new rules: %s", strerror(-err));
			goto out;
		}
	}
	/* removed rules: out of force once the switch happened */
	if ((err = mark_ids(m, &cur, removed, n_removed, PW_RK_REMOVING, cfg.generation + 1))) {
		err = pw_fail(ctx, err, "cannot mark the removed rules: %s", strerror(-err));
		goto out;
	}
	pw_step(PW_OP_APPLY, "staged");
	/* 3. the switch: one write; each packet reads the set index once */
	next = cfg;
	next.policy[set] = (__u32)policy;
	/* the inactive set's policy first: no packet reads it yet */
	if (bpf_map_update_elem(m->fd[PW_RM_CONFIG], &zero, &next, BPF_ANY)) {
		err = pw_fail(ctx, errno, "cannot write the policy: %s", strerror(errno));
		goto out;
	}
	next.active = set;
	next.generation = cfg.generation + 1;
	next.n_rules = (__u32)want->n;
	next.max_id = 0;
	for (int i = 0; i < want->n; i++)
		if (want->ids[i] > next.max_id)
			next.max_id = want->ids[i];
	if (bpf_map_update_elem(m->fd[PW_RM_CONFIG], &zero, &next, BPF_ANY)) {
		err = pw_fail(ctx, errno, "cannot switch the rule set: %s", strerror(errno));
		goto out;
	}
	rep->switch_ms = mono_ms() - t0;
	pw_step(PW_OP_APPLY, "switched");
	/* 4. once no packet can still use the old set, removed rules go and
	 * the new ones lose their mark */
	intent = false;		/* switched: from here on, only forward */
	if ((err = rules_settle(ctx, m, &in))) {
		pw_detail(ctx, "the new rules are in force; 'pinwall recover' finishes the clean-up");
		goto out;
	}
out:
	if (err && intent) {
		/* not switched: take back what was written (recovery does the same) */
		pw_rules_settle_quiet(ctx, m, &in);
	}
	rep->total_ms = mono_ms() - t0;
	free(used);
	free(removed);
	pw_ruleset_free(&cur);
	return err;
}

