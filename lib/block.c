// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Timed blocks: add, delete, list, flush and sweep entries in the pinned
 * block maps (block_maps.c). Writers hold the pin root's lock; each call
 * sweeps expired entries first, so they go away without a daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "block_int.h"

static const char *const origin_names[PW_BO_COUNT] = {
	[PW_BO_MANUAL] = "manual", [PW_BO_FAIL2BAN] = "fail2ban",
	[PW_BO_CROWDSEC] = "crowdsec", [PW_BO_FILE] = "file",
	[PW_BO_RESTORE] = "restore", [PW_BO_OTHER] = "other",
};

const char *pw_block_origin_name(__u32 origin)
{
	return origin < PW_BO_COUNT ? origin_names[origin] : "other";
}

int pw_block_origin_parse(const char *s, __u32 *origin)
{
	for (__u32 i = 0; i < PW_BO_COUNT; i++)
		if (!strcmp(s, origin_names[i])) {
			*origin = i;
			return 0;
		}
	return -EINVAL;
}

int pw_block_key(const struct pw_block *b, void *key)
{
	struct pw_block_pfx_key *pk = key;

	if (b->family == 4 && b->len == 32) {
		memcpy(key, b->addr, 4);
		return PW_BM_V4;
	}
	if (b->family == 6 && b->len == 128) {
		memcpy(key, b->addr, 16);
		return PW_BM_V6;
	}
	memset(pk, 0, sizeof(*pk));
	pk->prefixlen = 32 + b->len;
	pk->family = b->family;
	memcpy(pk->addr, b->addr, b->family == 4 ? 4 : 16);
	return PW_BM_PFX;
}

/* The entry a map key stands for. */
static void block_of_key(int map, const void *key, struct pw_block *b)
{
	const struct pw_block_pfx_key *pk = key;

	memset(b, 0, sizeof(*b));
	if (map == PW_BM_V4) {
		b->family = 4, b->len = 32;
		memcpy(b->addr, key, 4);
	} else if (map == PW_BM_V6) {
		b->family = 6, b->len = 128;
		memcpy(b->addr, key, 16);
	} else {
		b->family = pk->family;
		b->len = pk->prefixlen - 32;
		memcpy(b->addr, pk->addr, 16);
	}
}

/* ---- walking every entry ---- */

#define WALK_CHUNK 8192

static int walk_hash(struct pw_ctx *ctx, int fd, int map, pw_block_visit_fn fn, void *arg)
{
	size_t ksz = map == PW_BM_V4 ? 4 : 16;
	char *keys = malloc(WALK_CHUNK * ksz);
	struct pw_block_val *vals = malloc(WALK_CHUNK * sizeof(*vals));
	__u64 in = 0, out = 0;
	bool first = true, done = false;
	int err = 0;

	if (!keys || !vals)
		err = pw_fail(ctx, ENOMEM, "out of memory");
	while (!err && !done) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		__u32 n = WALK_CHUNK;

		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &bo)) {
			if (errno != ENOENT) {
				err = pw_fail(ctx, errno, "cannot read the blocks: %s", strerror(errno));
				break;
			}
			done = true;
		}
		for (__u32 i = 0; !err && i < n; i++)
			err = fn(arg, map, keys + i * ksz, &vals[i]);
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}

static int walk_trie(struct pw_ctx *ctx, int fd, pw_block_visit_fn fn, void *arg)
{
	struct pw_block_pfx_key k, next;
	struct pw_block_val v;
	bool first = true;
	int err = 0;

	while (!err && !bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		if (!bpf_map_lookup_elem(fd, &k, &v))
			err = fn(arg, PW_BM_PFX, &k, &v);
	}
	if (!err && errno != ENOENT)
		err = pw_fail(ctx, errno, "cannot read the block prefixes: %s", strerror(errno));
	return err;
}

int pw_block_walk(struct pw_ctx *ctx, const struct pw_block_maps *m, pw_block_visit_fn fn,
		  void *arg)
{
	int err = walk_hash(ctx, m->fd[PW_BM_V4], PW_BM_V4, fn, arg);

	if (!err)
		err = walk_hash(ctx, m->fd[PW_BM_V6], PW_BM_V6, fn, arg);
	if (!err)
		err = walk_trie(ctx, m->fd[PW_BM_PFX], fn, arg);
	return err;
}

/* ---- sweep and flush: collect keys, then delete ---- */

struct doomed {
	const struct pw_block_maps *m;
	struct pw_block_now now;
	__u32 origin;		/* flush: PW_BO_ALL or one origin; sweep: unused */
	bool flush;
	int removed;
};

static int doom_one(void *arg, int map, const void *key, const struct pw_block_val *v)
{
	struct doomed *d = arg;

	if (d->flush ? (d->origin == PW_BO_ALL || v->origin == d->origin)
		     : pw_block_val_expired(v, &d->now))
		/* deleting the key just visited is safe for these walks: the
		 * batch cursor and get_next_key restart from the next bucket */
		d->removed += !bpf_map_delete_elem(d->m->fd[map], key);
	return 0;
}

static int remove_where(struct pw_ctx *ctx, const struct pw_block_maps *m, bool flush,
			__u32 origin, int *removed)
{
	struct doomed d = { .m = m, .origin = origin, .flush = flush };
	int err;

	pw_block_now(&d.now);
	err = pw_block_walk(ctx, m, doom_one, &d);
	if (removed)
		*removed = d.removed;
	return err;
}

/* ---- the calls ---- */

static int locked_begin(struct pw_ctx *ctx, int *lock_fd)
{
	int err;

	*lock_fd = -1;
	if ((err = pw_check_caps(ctx)) || (err = pw_bpffs_prepare(ctx, true)) ||
	    (err = pw_lock(ctx, lock_fd)))
		return err;
	return 0;
}

static int check_entries(struct pw_ctx *ctx, const struct pw_block *e, int n,
			 const struct pw_block_now *now)
{
	char text[64];

	for (int i = 0; i < n; i++) {
		if ((e[i].family != 4 && e[i].family != 6) ||
		    e[i].len > (e[i].family == 4 ? 32u : 128u))
			return pw_fail(ctx, EINVAL, "entry %d: not an IPv4 or IPv6 prefix; nothing was changed", i + 1);
		if (e[i].expires && e[i].expires <= now->real) {
			pw_block_text(&e[i], text, sizeof(text));
			return pw_fail(ctx, EINVAL, "block '%s' would have expired already; nothing was changed",
				       text);
		}
	}
	return 0;
}

/* Does expiry @a (0: never) end later than @b? */
static bool later(__u64 a, __u64 b)
{
	return b && (!a || a > b);
}

/*
 * The value of @b over a live entry it replaces: the hits kept, and never a
 * shorter block than the one in force. The later expiry wins with its origin
 * (a tie keeps the old one), so a fail2ban or crowdsec ban never shortens an
 * operator's block, and their unban (del --origin) leaves it.
 */
static void add_val(const struct pw_block_maps *m, int map, const void *key,
		    const struct pw_block *b, const struct pw_block_now *now, struct pw_block_val *v)
{
	struct pw_block_val old;

	pw_block_val_of(b, now, v);
	if (bpf_map_lookup_elem(m->fd[map], key, &old) || pw_block_val_expired(&old, now))
		return;
	v->hits = old.hits;
	if (!later(v->expires, old.expires)) {
		v->expires = old.expires;
		v->expires_ns = old.expires_ns;
		v->origin = old.origin;
	}
}

static int add_fail(struct pw_ctx *ctx, const struct pw_block *b, int err)
{
	char text[64];

	pw_block_text(b, text, sizeof(text));
	return pw_fail(ctx, err, "cannot add block '%s': %s%s", text, strerror(err),
		       err == E2BIG || err == ENOSPC ? " (the block map is full)" : "");
}

#define ADD_CHUNK 4096

/* The entries of one exact map, in batches of ADD_CHUNK (one syscall each). */
static int add_exact(struct pw_ctx *ctx, const struct pw_block_maps *m, int map,
		     const struct pw_block *e, int n, const struct pw_block_now *now, int *added)
{
	size_t ksz = map == PW_BM_V4 ? 4 : 16;
	char *keys = malloc(ADD_CHUNK * 16);
	struct pw_block_val *vals = malloc(ADD_CHUNK * sizeof(*vals));
	struct pw_block_pfx_key k;
	int err = 0, i = 0;

	if (!keys || !vals)
		err = pw_fail(ctx, ENOMEM, "out of memory");
	while (!err && i < n) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		const struct pw_block *first = NULL;
		__u32 c = 0;

		for (; i < n && c < ADD_CHUNK; i++) {
			if (pw_block_key(&e[i], &k) != map)
				continue;
			first = first ?: &e[i];
			memcpy(keys + c * ksz, &k, ksz);
			add_val(m, map, &k, &e[i], now, &vals[c++]);
		}
		if (c && bpf_map_update_batch(m->fd[map], keys, vals, &c, &bo))
			err = add_fail(ctx, first, errno);
		*added += (int)c;
	}
	free(keys);
	free(vals);
	return err;
}

static int add_prefixes(struct pw_ctx *ctx, const struct pw_block_maps *m,
			const struct pw_block *e, int n, const struct pw_block_now *now,
			int *added)
{
	struct pw_block_pfx_key k;
	struct pw_block_val v;

	for (int i = 0; i < n; i++) {
		if (pw_block_key(&e[i], &k) != PW_BM_PFX)
			continue;
		add_val(m, PW_BM_PFX, &k, &e[i], now, &v);
		if (bpf_map_update_elem(m->fd[PW_BM_PFX], &k, &v, BPF_ANY))
			return add_fail(ctx, &e[i], errno);
		(*added)++;
	}
	return 0;
}

int pw_block_add(struct pw_ctx *ctx, const struct pw_block *e, int n, int *added)
{
	struct pw_block_maps m;
	struct pw_block_now now;
	int lock_fd, err, count = 0;

	if (added)
		*added = 0;
	pw_block_now(&now);
	if ((err = check_entries(ctx, e, n, &now)))
		return err;
	if ((err = locked_begin(ctx, &lock_fd)))
		goto unlock;
	if ((err = pw_block_maps_open(ctx, &m, true, false)))
		goto unlock;
	err = remove_where(ctx, &m, false, 0, NULL);
	if (!err)
		err = add_exact(ctx, &m, PW_BM_V4, e, n, &now, &count);
	if (!err)
		err = add_exact(ctx, &m, PW_BM_V6, e, n, &now, &count);
	if (!err)
		err = add_prefixes(ctx, &m, e, n, &now, &count);
	if (added)
		*added = count;
	pw_block_maps_close(&m);
unlock:
	pw_unlock(lock_fd);
	return err;
}

/* Delete @key from @fd if its origin is @origin (PW_BO_ALL: any). */
static int del_one(int fd, const void *key, __u32 origin)
{
	struct pw_block_val v;

	if (origin != PW_BO_ALL &&
	    (bpf_map_lookup_elem(fd, key, &v) || v.origin != origin))
		return -ENOENT;
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int pw_block_del(struct pw_ctx *ctx, const struct pw_block *e, int n, int *missing)
{
	return pw_block_del_origin(ctx, e, n, PW_BO_ALL, missing);
}

int pw_block_del_origin(struct pw_ctx *ctx, const struct pw_block *e, int n, __u32 origin,
			int *missing)
{
	struct pw_block_pfx_key key;
	struct pw_block_maps m;
	int lock_fd, err, miss = 0;

	if (missing)
		*missing = 0;
	if ((err = locked_begin(ctx, &lock_fd)))
		goto unlock;
	if ((err = pw_block_maps_open(ctx, &m, false, false))) {
		if (err == -ENOENT) {
			err = 0;
			miss = n;
		}
		goto unlock;
	}
	err = remove_where(ctx, &m, false, 0, NULL);
	for (int i = 0; !err && i < n; i++) {
		int map = pw_block_key(&e[i], &key);

		if (del_one(m.fd[map], &key, origin))
			miss++;
	}
	pw_block_maps_close(&m);
unlock:
	if (missing)
		*missing = miss;
	pw_unlock(lock_fd);
	return err;
}

static int flush_or_sweep(struct pw_ctx *ctx, bool flush, __u32 origin, int *removed)
{
	struct pw_block_maps m;
	int lock_fd, err;

	if (removed)
		*removed = 0;
	if ((err = locked_begin(ctx, &lock_fd)))
		goto unlock;
	if ((err = pw_block_maps_open(ctx, &m, false, false))) {
		err = err == -ENOENT ? 0 : err;
		goto unlock;
	}
	err = remove_where(ctx, &m, flush, origin, removed);
	pw_block_maps_close(&m);
unlock:
	pw_unlock(lock_fd);
	return err;
}

int pw_block_flush(struct pw_ctx *ctx, __u32 origin, int *removed)
{
	return flush_or_sweep(ctx, true, origin, removed);
}

int pw_block_sweep(struct pw_ctx *ctx, int *removed)
{
	return flush_or_sweep(ctx, false, 0, removed);
}

/* ---- list ---- */

struct lister {
	struct pw_ctx *ctx;
	struct pw_block_list *out;
	struct pw_block_now now;
};

static int list_one(void *arg, int map, const void *key, const struct pw_block_val *v)
{
	struct lister *l = arg;
	struct pw_block b;

	if (pw_block_val_expired(v, &l->now))
		return 0;
	block_of_key(map, key, &b);
	b.expires = v->expires;
	b.origin = v->origin;
	b.hits = v->hits;
	b.remaining = v->expires_ns ? (v->expires_ns - l->now.boot_ns + 999999999ULL) / 1000000000ULL : 0;
	return pw_block_list_push(l->ctx, l->out, &b);
}

static int block_cmp(const void *a, const void *b)
{
	const struct pw_block *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if ((c = memcmp(x->addr, y->addr, sizeof(x->addr))))
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int pw_block_list(struct pw_ctx *ctx, struct pw_block_list *out)
{
	struct lister l = { .ctx = ctx, .out = out };
	struct pw_block_maps m;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = pw_check_caps_read(ctx)))
		return err;
	if ((err = pw_block_maps_open(ctx, &m, false, true)))
		return err == -ENOENT ? 0 : err;
	pw_block_now(&l.now);
	err = pw_block_walk(ctx, &m, list_one, &l);
	pw_block_maps_close(&m);
	if (!err && out->n > 1)
		qsort(out->e, (size_t)out->n, sizeof(*out->e), block_cmp);
	return err;
}
