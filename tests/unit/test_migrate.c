// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Migration tests: BTF layouts, the reuse/migrate/refuse decision, and the
 * entry copy and merge on real kernel maps.
 *
 *  layout_*    types built with libbpf's BTF writer, flattened into leaves
 *              (names, offsets, sizes, kinds): nesting, arrays, anonymous
 *              members, bitfields, typedefs, enums.
 *  decide_*    one row per case of docs/LIFECYCLE.md's table: the decision,
 *              what the migration copies, and the detail line naming the
 *              property and both values.
 *  merge_*     first copy with a snapshot, then late writes by the "old
 *              program" and the "new program" (user space standing in for
 *              both), then the merge: every count lands exactly once.
 *
 * Needs root (maps are created; the merge helper is loaded).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* ---- BTF building ---- */

struct types {
	struct btf *btf;
	int u8, u16, u32, u64, s32;
};

static void types_init(struct types *t)
{
	t->btf = btf__new_empty();
	assert_non_null(t->btf);
	t->u8 = btf__add_int(t->btf, "unsigned char", 1, 0);
	t->u16 = btf__add_int(t->btf, "unsigned short", 2, 0);
	t->u32 = btf__add_int(t->btf, "unsigned int", 4, 0);
	t->u64 = btf__add_int(t->btf, "unsigned long long", 8, 0);
	t->s32 = btf__add_int(t->btf, "int", 4, BTF_INT_SIGNED);
}

/* struct NAME { fields... }: (name, type) pairs, laid out in order, each at
 * its natural alignment; returns the struct's type id */
static int add_struct(struct types *t, const char *name, int n, ...)
{
	struct { const char *name; int type; } f[16];
	__u32 off = 0, align = 1;
	va_list ap;
	int id;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		f[i].name = va_arg(ap, const char *);
		f[i].type = va_arg(ap, int);
	}
	va_end(ap);
	for (int i = 0; i < n; i++) {
		__u32 sz = (__u32)btf__resolve_size(t->btf, f[i].type), a = sz >= 8 ? 8 : sz;

		if (btf_is_array(btf__type_by_id(t->btf, f[i].type)))
			a = 8;
		off = (off + a - 1) / a * a + sz;
		align = a > align ? a : align;
	}
	id = btf__add_struct(t->btf, name, (off + align - 1) / align * align);
	off = 0;
	for (int i = 0; i < n; i++) {
		__u32 sz = (__u32)btf__resolve_size(t->btf, f[i].type), a = sz >= 8 ? 8 : sz;

		if (btf_is_array(btf__type_by_id(t->btf, f[i].type)))
			a = 8;
		off = (off + a - 1) / a * a;
		assert_int_equal(btf__add_field(t->btf, f[i].name, f[i].type, off * 8, 0), 0);
		off += sz;
	}
	return id;
}

static void leaf_is(const struct pw_layout *l, int i, const char *name, __u32 off, __u32 size,
		    enum pw_leaf_kind kind)
{
	assert_true(i < l->n);
	assert_string_equal(l->leaf[i].name, name);
	assert_int_equal(l->leaf[i].off, off);
	assert_int_equal(l->leaf[i].size, size);
	assert_int_equal(l->leaf[i].kind, kind);
}

/* ---- layouts ---- */

static void layout_datarec(void **state)
{
	struct types t;
	struct pw_layout l;
	int id;

	(void)state;
	types_init(&t);
	id = add_struct(&t, "datarec", 2, "rx_packets", t.u64, "rx_bytes", t.u64);
	assert_int_equal(pw_layout_from_btf(t.btf, id, &l), 0);
	assert_true(l.btf);
	assert_int_equal(l.size, 16);
	assert_int_equal(l.n, 2);
	leaf_is(&l, 0, "rx_packets", 0, 8, PW_LEAF_INT);
	leaf_is(&l, 1, "rx_bytes", 8, 8, PW_LEAF_INT);
	btf__free(t.btf);
}

static void layout_nested_array_typedef_enum(void **state)
{
	struct types t;
	struct pw_layout l;
	int hdr, arr, td, cst, en, id;

	(void)state;
	types_init(&t);
	hdr = add_struct(&t, "hdr", 2, "len", t.u32, "flags", t.u16);
	arr = btf__add_array(t.btf, t.u32, t.u64, 3);
	td = btf__add_typedef(t.btf, "counter_t", t.u64);
	cst = btf__add_const(t.btf, td);
	en = btf__add_enum(t.btf, "state", 4);
	btf__add_enum_value(t.btf, "ST_A", 0);
	id = add_struct(&t, "rec", 4, "hdr", hdr, "slots", arr, "total", cst, "state", en);
	assert_int_equal(pw_layout_from_btf(t.btf, id, &l), 0);
	assert_int_equal(l.n, 7);
	leaf_is(&l, 0, "hdr.len", 0, 4, PW_LEAF_INT);
	leaf_is(&l, 1, "hdr.flags", 4, 2, PW_LEAF_INT);
	leaf_is(&l, 2, "slots[0]", 8, 8, PW_LEAF_INT);
	leaf_is(&l, 4, "slots[2]", 24, 8, PW_LEAF_INT);
	leaf_is(&l, 5, "total", 32, 8, PW_LEAF_INT);	/* const typedef u64 */
	leaf_is(&l, 6, "state", 40, 4, PW_LEAF_INT);	/* enum */
	btf__free(t.btf);
}

static void layout_anonymous_members_and_bitfields(void **state)
{
	struct types t;
	struct pw_layout l;
	int anon_s, anon_u, bits, id;

	(void)state;
	types_init(&t);
	anon_s = add_struct(&t, NULL, 1, "inner", t.u32);
	anon_u = btf__add_union(t.btf, NULL, 8);
	btf__add_field(t.btf, "as_u64", t.u64, 0, 0);
	btf__add_field(t.btf, "as_u32", t.u32, 0, 0);
	bits = btf__add_struct(t.btf, "bits", 4);
	btf__add_field(t.btf, "a", t.u32, 0, 3);
	btf__add_field(t.btf, "b", t.u32, 3, 5);
	id = btf__add_struct(t.btf, "rec", 24);
	btf__add_field(t.btf, NULL, anon_s, 0, 0);	/* members belong to rec */
	btf__add_field(t.btf, NULL, anon_u, 64, 0);	/* one opaque leaf */
	btf__add_field(t.btf, "b", bits, 128, 0);	/* bitfields: opaque */
	assert_int_equal(pw_layout_from_btf(t.btf, id, &l), 0);
	assert_int_equal(l.n, 3);
	leaf_is(&l, 0, "inner", 0, 4, PW_LEAF_INT);
	leaf_is(&l, 1, "(union@8)", 8, 8, PW_LEAF_BYTES);
	leaf_is(&l, 2, "b", 16, 4, PW_LEAF_BYTES);
	btf__free(t.btf);
}

/* ---- the decision ---- */

struct side {
	__u32 type, ksize, max, flags;
	int key, value;			/* BTF type ids, 0: no BTF */
	__u32 vsize;			/* without BTF */
};

struct dcase {
	const char *name;
	int expect;			/* enum pw_map_decision */
	int n_copy, n_added, n_dropped;	/* migrations; -1: not checked */
	const char *detail;		/* substring of the detail lines, or NULL */
};

static struct types T;
static int V_REC, V_SWAPPED, V_WIDE, V_NARROW, V_U32, V_U64, K_U32, K_PAIR, K_SWAPPED;

static void desc_of(const struct side *s, struct pw_map_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->type = s->type;
	d->max_entries = s->max;
	d->flags = s->flags;
	if (s->key)
		pw_layout_from_btf(T.btf, s->key, &d->key);
	if (s->value)
		pw_layout_from_btf(T.btf, s->value, &d->value);
	d->key_size = s->key ? (__u32)btf__resolve_size(T.btf, s->key) : s->ksize;
	d->value_size = s->value ? (__u32)btf__resolve_size(T.btf, s->value) : s->vsize;
}

static int decide(const struct side *a, const struct side *b, struct pw_ctx *ctx,
		  struct pw_migration **mg)
{
	struct pw_map_desc *d = calloc(2, sizeof(*d));
	int r;

	assert_non_null(d);
	desc_of(a, &d[0]);
	desc_of(b, &d[1]);
	memset(ctx, 0, sizeof(*ctx));
	r = pw_map_decide(ctx, "m", "/pin/m", &d[0], &d[1], mg);
	free(d);
	return r;
}

#define PA BPF_MAP_TYPE_PERCPU_ARRAY
#define HA BPF_MAP_TYPE_HASH

static void test_decide(void **state)
{
	const struct { struct dcase c; struct side pin, now; } *row = *state;
	struct pw_migration *mg = NULL;
	struct pw_ctx ctx;
	int r = decide(&row->pin, &row->now, &ctx, &mg);

	if (r != row->c.expect)
		fail_msg("%s: decision %d, expected %d (detail: %s)", row->c.name, r, row->c.expect,
			 ctx.detail);
	if (row->c.expect == PW_MAP_MIGRATE) {
		assert_non_null(mg);
		if (row->c.n_copy >= 0)
			assert_int_equal(mg->n_copy, row->c.n_copy);
		if (row->c.n_added >= 0)
			assert_int_equal(mg->n_added, row->c.n_added);
		if (row->c.n_dropped >= 0)
			assert_int_equal(mg->n_dropped, row->c.n_dropped);
	} else {
		assert_null(mg);
	}
	if (row->c.detail && !strstr(ctx.detail, row->c.detail))
		fail_msg("%s: detail '%s' lacks '%s'", row->c.name, ctx.detail, row->c.detail);
	free(mg);
}

/* ---- merge on real maps ---- */

static int ncpu;

static int map_of(__u32 type, __u32 ksize, __u32 vsize, __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int fd;

	if (type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH)
		o.map_flags = BPF_F_NO_PREALLOC;
	fd = bpf_map_create(type, NULL, ksize, vsize, max, &o);
	assert_true(fd >= 0);
	return fd;
}

static struct pw_migration *plan(struct side pin, struct side now)
{
	struct pw_migration *mg = NULL;
	struct pw_ctx ctx;

	assert_int_equal(decide(&pin, &now, &ctx, &mg), PW_MAP_MIGRATE);
	return mg;
}

/* per-CPU {rx_packets, rx_bytes} -> {rx_bytes, rx_packets, rx_large} */
static void merge_percpu_reordered_grown(void **state)
{
	struct pw_migration *mg = plan((struct side){ PA, 0, 4, 0, K_U32, V_REC, 0 },
				       (struct side){ PA, 0, 4, 0, K_U32, V_WIDE, 0 });
	int oldf = map_of(PA, 4, 16, 4), newf = map_of(PA, 4, 24, 4), snap;
	__u64 (*ov)[2] = calloc(ncpu, sizeof(*ov)), (*nv)[3] = calloc(ncpu, sizeof(*nv));

	(void)state;
	for (__u32 k = 0; k < 4; k++) {
		for (int c = 0; c < ncpu; c++) {
			ov[c][0] = 100 * k + c;
			ov[c][1] = 1000 * k + c;
		}
		assert_int_equal(bpf_map_update_elem(oldf, &k, ov, BPF_ANY), 0);
	}
	snap = pw_migration_snapshot_create(mg);
	assert_true(snap >= 0);
	assert_int_equal(pw_migration_copy(mg, oldf, snap, newf), 0);
	/* late: the old program counts key 1 on CPU 0, key 2 on every CPU */
	{
		__u32 k = 1;

		bpf_map_lookup_elem(oldf, &k, ov);
		ov[0][0] += 5;
		ov[0][1] += 320;
		bpf_map_update_elem(oldf, &k, ov, BPF_ANY);
		k = 2;
		bpf_map_lookup_elem(oldf, &k, ov);
		for (int c = 0; c < ncpu; c++)
			ov[c][0] += 7;
		bpf_map_update_elem(oldf, &k, ov, BPF_ANY);
		/* the new program counts key 1 on CPU 0 too */
		k = 1;
		bpf_map_lookup_elem(newf, &k, nv);
		nv[0][1] += 3;
		nv[0][0] += 192;
		nv[0][2] += 1;
		bpf_map_update_elem(newf, &k, nv, BPF_ANY);
	}
	assert_int_equal(pw_migration_merge(mg, oldf, snap, newf), 0);
	for (__u32 k = 0; k < 4; k++) {
		assert_int_equal(bpf_map_lookup_elem(newf, &k, nv), 0);
		for (int c = 0; c < ncpu; c++) {
			__u64 p = 100 * k + c, b = 1000 * k + c, large = 0;

			if (k == 1 && c == 0)
				p += 5 + 3, b += 320 + 192, large = 1;
			if (k == 2)
				p += 7;
			assert_int_equal(nv[c][1], p);
			assert_int_equal(nv[c][0], b);
			assert_int_equal(nv[c][2], large);
		}
	}
	/* a second merge (recovery after a kill) adds nothing */
	assert_int_equal(pw_migration_merge(mg, oldf, snap, newf), 0);
	{
		__u32 k = 2;

		bpf_map_lookup_elem(newf, &k, nv);
		assert_int_equal(nv[0][1], 200 + 7);
	}
	close(oldf);
	close(newf);
	close(snap);
	free(ov);
	free(nv);
	free(mg);
}

/* hash: keys created, deleted and changed by the old program after the
 * snapshot, one changed by the new program */
static void merge_hash_keys(void **state)
{
	struct pw_migration *mg = plan((struct side){ HA, 0, 16, 0, K_U32, V_U64, 0 },
				       (struct side){ HA, 0, 64, 0, K_U32, V_U64, 0 });
	int oldf = map_of(HA, 4, 8, 16), newf = map_of(HA, 4, 8, 64), snap;
	__u64 v;
	__u32 k;

	(void)state;
	for (k = 1; k <= 3; k++) {
		v = 10 * k;
		bpf_map_update_elem(oldf, &k, &v, BPF_ANY);
	}
	snap = pw_migration_snapshot_create(mg);
	assert_int_equal(pw_migration_copy(mg, oldf, snap, newf), 0);
	k = 4, v = 40;
	bpf_map_update_elem(oldf, &k, &v, BPF_ANY);	/* created late */
	k = 2;
	bpf_map_delete_elem(oldf, &k);			/* deleted late */
	k = 3, v = 35;
	bpf_map_update_elem(oldf, &k, &v, BPF_ANY);	/* changed late */
	k = 1, v = 12;
	bpf_map_update_elem(newf, &k, &v, BPF_ANY);	/* the new program's */
	assert_int_equal(pw_migration_merge(mg, oldf, snap, newf), 0);
	k = 1;
	assert_int_equal(bpf_map_lookup_elem(newf, &k, &v), 0);
	assert_int_equal(v, 12);
	k = 2;
	assert_int_not_equal(bpf_map_lookup_elem(newf, &k, &v), 0);
	k = 3;
	assert_int_equal(bpf_map_lookup_elem(newf, &k, &v), 0);
	assert_int_equal(v, 35);
	k = 4;
	assert_int_equal(bpf_map_lookup_elem(newf, &k, &v), 0);
	assert_int_equal(v, 40);
	close(oldf);
	close(newf);
	close(snap);
	free(mg);
}

/* u32 -> u64 while the old u32 wraps after the snapshot */
static void merge_widened_wraps(void **state)
{
	struct pw_migration *mg = plan((struct side){ BPF_MAP_TYPE_ARRAY, 0, 1, 0, K_U32, V_U32, 0 },
				       (struct side){ BPF_MAP_TYPE_ARRAY, 0, 1, 0, K_U32, V_U64, 0 });
	int oldf = map_of(BPF_MAP_TYPE_ARRAY, 4, 4, 1), newf = map_of(BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	int snap;
	__u32 k = 0, o = 0xfffffff0u;
	__u64 n;

	(void)state;
	bpf_map_update_elem(oldf, &k, &o, BPF_ANY);
	snap = pw_migration_snapshot_create(mg);
	assert_int_equal(pw_migration_copy(mg, oldf, snap, newf), 0);
	bpf_map_lookup_elem(newf, &k, &n);
	assert_int_equal(n, 0xfffffff0ull);
	n += 1;						/* the new program */
	bpf_map_update_elem(newf, &k, &n, BPF_ANY);
	o = 0x10;					/* the old one: +0x20, wrapped */
	bpf_map_update_elem(oldf, &k, &o, BPF_ANY);
	assert_int_equal(pw_migration_merge(mg, oldf, snap, newf), 0);
	bpf_map_lookup_elem(newf, &k, &n);
	assert_int_equal(n, 0xfffffff0ull + 1 + 0x20);
	close(oldf);
	close(newf);
	close(snap);
	free(mg);
}

/* array shrunk: what would be cut must be zero */
static void merge_array_shrink_overflow(void **state)
{
	struct pw_migration *mg = plan((struct side){ BPF_MAP_TYPE_ARRAY, 0, 8, 0, K_U32, V_U64, 0 },
				       (struct side){ BPF_MAP_TYPE_ARRAY, 0, 4, 0, K_U32, V_U64, 0 });
	int oldf = map_of(BPF_MAP_TYPE_ARRAY, 4, 8, 8);
	__u32 k = 6, live;
	__u64 v = 1;

	(void)state;
	assert_int_equal(pw_migration_overflow(mg, oldf, &live), 0);
	bpf_map_update_elem(oldf, &k, &v, BPF_ANY);
	assert_int_equal(pw_migration_overflow(mg, oldf, &live), 1);
	close(oldf);
	free(mg);
}

static int group_setup(void **state)
{
	(void)state;
	ncpu = libbpf_num_possible_cpus();
	types_init(&T);
	V_REC = add_struct(&T, "datarec", 2, "rx_packets", T.u64, "rx_bytes", T.u64);
	V_SWAPPED = add_struct(&T, "datarec", 2, "rx_bytes", T.u64, "rx_packets", T.u64);
	V_WIDE = add_struct(&T, "datarec", 3, "rx_bytes", T.u64, "rx_packets", T.u64,
			    "rx_large", T.u64);
	V_NARROW = add_struct(&T, "datarec", 2, "rx_packets", T.u32, "rx_bytes", T.u64);
	V_U32 = T.u32;
	V_U64 = T.u64;
	K_U32 = T.u32;
	K_PAIR = add_struct(&T, "key", 2, "ip", T.u32, "port", T.u32);
	K_SWAPPED = add_struct(&T, "key", 2, "port", T.u32, "ip", T.u32);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	btf__free(T.btf);
	return 0;
}

int main(void)
{
	/* built here: the type ids exist only after group_setup */
	static struct { struct dcase c; struct side pin, now; } rows[32];
	struct CMUnitTest tests[48];
	int n = 0, t = 0;

	group_setup(NULL);
#define ROW(nm, ex, cp, ad, dr, det, p, q) \
	rows[n++] = (typeof(rows[0])){ { nm, ex, cp, ad, dr, det }, p, q }
	ROW("decide_identical_reused", PW_MAP_REUSE, 0, 0, 0, NULL,
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }), ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }));
	ROW("decide_same_size_swapped_migrated", PW_MAP_MIGRATE, 2, 0, 0, NULL,
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }), ((struct side){ PA, 0, 5, 0, K_U32, V_SWAPPED, 0 }));
	ROW("decide_field_added_migrated", PW_MAP_MIGRATE, 2, 1, 0, NULL,
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }), ((struct side){ PA, 0, 5, 0, K_U32, V_WIDE, 0 }));
	ROW("decide_field_dropped_migrated_lossy", PW_MAP_MIGRATE, 2, 0, 1, NULL,
	    ((struct side){ PA, 0, 5, 0, K_U32, V_WIDE, 0 }), ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }));
	ROW("decide_widened_migrated", PW_MAP_MIGRATE, 1, 0, 0, NULL,
	    ((struct side){ BPF_MAP_TYPE_ARRAY, 0, 1, 0, K_U32, V_U32, 0 }),
	    ((struct side){ BPF_MAP_TYPE_ARRAY, 0, 1, 0, K_U32, V_U64, 0 }));
	ROW("decide_narrowed_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "map 'm' (/pin/m): field 'rx_packets' size pinned 8, new 4 (narrowed)",
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }), ((struct side){ PA, 0, 5, 0, K_U32, V_NARROW, 0 }));
	ROW("decide_type_changed_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "map 'm' (/pin/m): type pinned percpu_array, new percpu_hash",
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }),
	    ((struct side){ BPF_MAP_TYPE_PERCPU_HASH, 0, 5, 0, K_U32, V_REC, 0 }));
	ROW("decide_key_layout_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "key layout pinned {ip u32@0, port u32@4}, new {port u32@0, ip u32@4}",
	    ((struct side){ HA, 0, 8, 0, K_PAIR, V_U64, 0 }), ((struct side){ HA, 0, 8, 0, K_SWAPPED, V_U64, 0 }));
	ROW("decide_key_size_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "key_size pinned 4, new 8",
	    ((struct side){ HA, 0, 8, 0, K_U32, V_U64, 0 }), ((struct side){ HA, 0, 8, 0, K_PAIR, V_U64, 0 }));
	ROW("decide_max_entries_field_by_field", PW_MAP_MIGRATE, 2, 0, 0, NULL,
	    ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }), ((struct side){ PA, 0, 7, 0, K_U32, V_REC, 0 }));
	ROW("decide_flags_migrated", PW_MAP_MIGRATE, 1, 0, 0, NULL,
	    ((struct side){ HA, 0, 8, 0, K_U32, V_U64, 0 }),
	    ((struct side){ HA, 0, 8, BPF_F_NO_PREALLOC, K_U32, V_U64, 0 }));
	ROW("decide_ringbuf_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "max_entries pinned 4096, new 8192",
	    ((struct side){ BPF_MAP_TYPE_RINGBUF, 0, 4096, 0, 0, 0, 0 }),
	    ((struct side){ BPF_MAP_TYPE_RINGBUF, 0, 8192, 0, 0, 0, 0 }));
	ROW("decide_lpm_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "a lpm_trie map holds no entries pinwall can migrate",
	    ((struct side){ BPF_MAP_TYPE_LPM_TRIE, 8, 16, BPF_F_NO_PREALLOC, 0, 0, 8 }),
	    ((struct side){ BPF_MAP_TYPE_LPM_TRIE, 8, 32, BPF_F_NO_PREALLOC, 0, 0, 8 }));
	ROW("decide_no_btf_size_changed_refused", PW_MAP_REFUSE, -1, -1, -1,
	    "value_size pinned 16, new 24, and the pinned map has no BTF",
	    ((struct side){ PA, 4, 5, 0, 0, 0, 16 }), ((struct side){ PA, 0, 5, 0, K_U32, V_WIDE, 0 }));
	ROW("decide_no_btf_resized_words", PW_MAP_MIGRATE, 2, 0, 0, NULL,
	    ((struct side){ PA, 4, 5, 0, 0, 0, 16 }), ((struct side){ PA, 4, 9, 0, 0, 0, 16 }));
	ROW("decide_no_btf_same_reused", PW_MAP_REUSE, 0, 0, 0, NULL,
	    ((struct side){ PA, 4, 5, 0, 0, 0, 16 }), ((struct side){ PA, 0, 5, 0, K_U32, V_REC, 0 }));
#undef ROW
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(layout_datarec);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(layout_nested_array_typedef_enum);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(layout_anonymous_members_and_bitfields);
	for (int i = 0; i < n; i++)
		tests[t++] = (struct CMUnitTest){ .name = rows[i].c.name, .test_func = test_decide,
						  .initial_state = &rows[i] };
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(merge_percpu_reordered_grown);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(merge_hash_keys);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(merge_widened_wraps);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(merge_array_shrink_overflow);
	return _cmocka_run_group_tests("pinwall_migrate", tests, t, NULL, group_teardown) ? 1 : 0;
}
