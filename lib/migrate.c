// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Map layouts from BTF, the reuse/migrate/refuse decision, and the entry
 * copy that carries a map's contents into a changed layout.
 *
 * A key or value is flattened into leaves (integers, floats, pointers, and
 * opaque bytes for unions and bitfield structs), each named by its member
 * path ("rx_packets", "hdr.len", "slots[3]"). Two layouts are identical when
 * every leaf has the same name, offset, size and kind. A changed value maps
 * leaf by leaf by name: kept, moved, widened (integers), added (zero) or
 * dropped. Keys must be identical: entries are found by key.
 *
 * Copy and merge: the first copy runs while the old program still counts;
 * it keeps a raw snapshot of every old value. After the switch (and after
 * every old-program run finished), merge adds what the old program changed
 * since the snapshot: a field the new program left alone takes the old
 * program's final value; one both changed gets the old program's increase
 * added (counter semantics).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "merge.skel.h"

/* ---- layouts ---- */

static const struct btf_type *skip_mods(const struct btf *btf, __u32 *id)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		*id = t->type;
		t = btf__type_by_id(btf, *id);
	}
	return t;
}

static int add_leaf(struct pw_layout *l, const char *name, __u32 off, __u32 size,
		    enum pw_leaf_kind kind, bool sign)
{
	struct pw_leaf *f;

	if (l->n == PW_MAX_LEAVES)
		return -E2BIG;
	f = &l->leaf[l->n++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->off = off;
	f->size = size;
	f->kind = kind;
	f->sign = sign;
	return 0;
}

static int flatten(const struct btf *btf, __u32 id, const char *name, __u32 off,
		   struct pw_layout *l, int depth)
{
	const struct btf_type *t = skip_mods(btf, &id);
	__s64 size = btf__resolve_size(btf, id);
	char sub[sizeof(l->leaf[0].name)];
	int mark = l->n, err = 0;

	if (!t || size < 0 || depth > 8)
		return -EINVAL;
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		if (btf_int_offset(t) || btf_int_bits(t) != t->size * 8)
			break;	/* odd encodings: opaque */
		return add_leaf(l, name, off, t->size, PW_LEAF_INT,
				btf_int_encoding(t) & BTF_INT_SIGNED);
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		return add_leaf(l, name, off, t->size, PW_LEAF_INT, btf_kflag(t));
	case BTF_KIND_PTR:
		return add_leaf(l, name, off, (__u32)size, PW_LEAF_PTR, false);
	case BTF_KIND_FLOAT:
		return add_leaf(l, name, off, t->size, PW_LEAF_FLOAT, false);
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		__s64 esz = btf__resolve_size(btf, a->type);

		for (__u32 i = 0; esz > 0 && i < a->nelems && !err; i++) {
			snprintf(sub, sizeof(sub), "%s[%u]", name, i);
			err = flatten(btf, a->type, sub, off + i * (__u32)esz, l, depth + 1);
		}
		if (esz > 0 && !err)
			return 0;
		break;
	}
	case BTF_KIND_STRUCT: {
		const struct btf_member *m = btf_members(t);

		for (__u16 i = 0; i < btf_vlen(t) && !err; i++, m++) {
			const char *mn = btf__name_by_offset(btf, m->name_off);

			if (btf_member_bitfield_size(t, i)) {
				err = -ENOTSUP;		/* bitfields: the struct is opaque */
				break;
			}
			if (mn && *mn) {
				snprintf(sub, sizeof(sub), "%s%s%s", name, *name ? "." : "", mn);
			} else {
				__u32 mt = m->type;
				const struct btf_type *at = skip_mods(btf, &mt);

				/* an anonymous struct's members belong to the parent; an
				 * anonymous union is one opaque leaf, named by its place */
				if (at && btf_is_union(at))
					snprintf(sub, sizeof(sub), "%s%s(union@%u)", name, *name ? "." : "",
						 off + btf_member_bit_offset(t, i) / 8);
				else
					snprintf(sub, sizeof(sub), "%s", name);
			}
			err = flatten(btf, m->type, sub, off + btf_member_bit_offset(t, i) / 8,
				      l, depth + 1);
		}
		if (!err)
			return 0;
		break;
	}
	default:
		break;
	}
	/* unions, bitfields, odd ints, too many leaves: compared as bytes */
	l->n = mark;
	return add_leaf(l, name, off, (__u32)size, PW_LEAF_BYTES, false);
}

int pw_layout_from_btf(const struct btf *btf, __u32 type_id, struct pw_layout *l)
{
	__s64 size;

	memset(l, 0, sizeof(*l));
	if (!btf || !type_id)
		return -ENOENT;
	size = btf__resolve_size(btf, type_id);
	if (size < 0)
		return (int)size;
	l->size = (__u32)size;
	l->btf = true;
	if (flatten(btf, type_id, "", 0, l, 0)) {
		l->n = 0;
		return add_leaf(l, "", 0, l->size, PW_LEAF_BYTES, false);
	}
	return 0;
}

static const char *kind_str(enum pw_leaf_kind k)
{
	switch (k) {
	case PW_LEAF_INT: return "int";
	case PW_LEAF_FLOAT: return "float";
	case PW_LEAF_PTR: return "ptr";
	default: return "bytes";
	}
}

static const char *leaf_name(const struct pw_leaf *f)
{
	return f->name[0] ? f->name : "(whole)";
}

/* "{rx_packets u64@0, rx_bytes u64@8}", cut to fit */
void pw_layout_str(const struct pw_layout *l, char *buf, size_t len)
{
	size_t o = 0;

	o += snprintf(buf, len, "{");
	for (int i = 0; i < l->n && o < len; i++) {
		const struct pw_leaf *f = &l->leaf[i];

		if (o + 8 >= len) {
			snprintf(buf + len - 6, 6, "...}");
			return;
		}
		o += snprintf(buf + o, len - o, "%s%s %s%u@%u", i ? ", " : "", leaf_name(f),
			      f->kind == PW_LEAF_INT ? (f->sign ? "s" : "u") : kind_str(f->kind),
			      f->kind == PW_LEAF_INT ? f->size * 8 : f->size, f->off);
	}
	if (o < len)
		snprintf(buf + o, len - o, "}");
}

bool pw_layout_same(const struct pw_layout *a, const struct pw_layout *b)
{
	if (a->size != b->size || a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++) {
		const struct pw_leaf *x = &a->leaf[i], *y = &b->leaf[i];

		if (strcmp(x->name, y->name) || x->off != y->off || x->size != y->size ||
		    x->kind != y->kind || x->sign != y->sign)
			return false;
	}
	return true;
}

const struct pw_leaf *pw_layout_find(const struct pw_layout *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->leaf[i].name, name))
			return &l->leaf[i];
	return NULL;
}

/* ---- the decision ---- */

/* Types whose entries can be copied and merged by exact key. (LPM tries
 * are not: a lookup finds the longest prefix, not the key.) */
static bool migratable_type(__u32 type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return true;
	default:
		return false;
	}
}

static bool is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static bool is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static const char *type_str(__u32 t)
{
	return libbpf_bpf_map_type_str(t) ?: "?";
}

/* A pinned map as the kernel describes it, layouts from its BTF. */
int pw_map_desc_from_info(const struct bpf_map_info *info, struct pw_map_desc *d)
{
	struct btf *btf = NULL;

	memset(d, 0, sizeof(*d));
	d->type = info->type;
	d->key_size = info->key_size;
	d->value_size = info->value_size;
	d->max_entries = info->max_entries;
	d->flags = info->map_flags;
	if (info->btf_id && info->btf_value_type_id)
		btf = btf__load_from_kernel_by_id(info->btf_id);
	if (btf) {
		if (info->btf_key_type_id)
			pw_layout_from_btf(btf, info->btf_key_type_id, &d->key);
		pw_layout_from_btf(btf, info->btf_value_type_id, &d->value);
		btf__free(btf);
	}
	return 0;
}

/* A map of an opened (not yet loaded) object. */
int pw_map_desc_from_map(const struct bpf_map *map, const struct btf *btf,
			 struct pw_map_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->type = bpf_map__type(map);
	d->key_size = bpf_map__key_size(map);
	d->value_size = bpf_map__value_size(map);
	d->max_entries = bpf_map__max_entries(map);
	d->flags = bpf_map__map_flags(map);
	/* libbpf sizes a perf event array with 0 entries to the CPU count */
	if (d->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && d->max_entries == 0) {
		int cpus = libbpf_num_possible_cpus();

		d->max_entries = cpus > 0 ? (__u32)cpus : 0;
	}
	if (!btf || !bpf_map__btf_value_type_id(map))
		return 0;
	if (bpf_map__btf_key_type_id(map))
		pw_layout_from_btf(btf, bpf_map__btf_key_type_id(map), &d->key);
	pw_layout_from_btf(btf, bpf_map__btf_value_type_id(map), &d->value);
	return 0;
}

/* Map every new value leaf to its old one by name; one detail line per
 * leaf that cannot be carried over. Returns the number of such leaves. */
static int map_fields(struct pw_ctx *ctx, const char *what, const struct pw_layout *ov,
		      const struct pw_layout *nv, struct pw_migration *mg)
{
	bool used[PW_MAX_LEAVES] = { false };
	int bad = 0;
	size_t o = 0;

	mg->n_copy = 0;
	for (int j = 0; j < nv->n; j++) {
		const struct pw_leaf *n = &nv->leaf[j], *p = pw_layout_find(ov, n->name);
		struct pw_copy *c;

		if (!p) {
			mg->n_added++;
			continue;
		}
		used[p - ov->leaf] = true;
		if (p->kind != n->kind) {
			pw_detail(ctx, "%s: field '%s' kind pinned %s, new %s", what, leaf_name(n),
				  kind_str(p->kind), kind_str(n->kind));
			bad++;
			continue;
		}
		if (n->size < p->size || (n->kind != PW_LEAF_INT && n->size != p->size) ||
		    (n->kind == PW_LEAF_INT && n->size > 8 && n->size != p->size)) {
			pw_detail(ctx, "%s: field '%s' size pinned %u, new %u%s", what, leaf_name(n),
				  p->size, n->size, n->size < p->size ? " (narrowed)" : "");
			bad++;
			continue;
		}
		c = &mg->copy[mg->n_copy++];
		c->old_off = p->off;
		c->old_size = p->size;
		c->new_off = n->off;
		c->new_size = n->size;
		c->kind = n->kind;
		c->sign = p->sign;
	}
	for (int i = 0; i < ov->n; i++) {
		if (used[i])
			continue;
		mg->n_dropped++;
		if (o < sizeof(mg->dropped) - 1)
			o += snprintf(mg->dropped + o, sizeof(mg->dropped) - o, "%s'%s'",
				      o ? ", " : "", leaf_name(&ov->leaf[i]));
	}
	return bad;
}

/* Without BTF a value is merged as 64-bit words (counters), a tail as bytes. */
static void same_value_words(struct pw_migration *mg, __u32 size)
{
	__u32 off = 0;

	mg->n_copy = 0;
	for (; off + 8 <= size && mg->n_copy < PW_MAX_LEAVES - 1; off += 8)
		mg->copy[mg->n_copy++] = (struct pw_copy){ .old_off = off, .old_size = 8,
							   .new_off = off, .new_size = 8,
							   .kind = PW_LEAF_INT };
	if (off < size)
		mg->copy[mg->n_copy++] = (struct pw_copy){ .old_off = off, .old_size = size - off,
							   .new_off = off, .new_size = size - off,
							   .kind = PW_LEAF_BYTES };
}

static struct pw_migration *migration_new(const struct pw_map_desc *pin,
					  const struct pw_map_desc *nw)
{
	struct pw_migration *mg = calloc(1, sizeof(*mg));

	if (mg)
		*mg = (struct pw_migration){
			.type = nw->type, .key_size = pin->key_size,
			.old_vsize = pin->value_size, .new_vsize = nw->value_size,
			.old_max = pin->max_entries, .new_max = nw->max_entries,
			.old_flags = pin->flags,
		};
	return mg;
}

struct pw_migration *pw_migration_identity(const struct pw_map_desc *pin,
					   const struct pw_map_desc *nw)
{
	struct pw_migration *mg = migration_new(pin, nw);
	struct pw_ctx quiet = { 0 };	/* identical layouts: no detail lines */

	if (!mg)
		return NULL;
	/* every field onto itself, so merge adds late counts field by field */
	if (pin->value.btf && nw->value.btf)
		map_fields(&quiet, "", &pin->value, &nw->value, mg);
	else
		same_value_words(mg, pin->value_size);
	return mg;
}

/* Type and key: one detail line per difference; how many there are. */
static int key_differs(struct pw_ctx *ctx, const char *what, const struct pw_map_desc *pin,
		       const struct pw_map_desc *nw)
{
	char a[160], b[160];
	int bad = 0;

	if (pin->type != nw->type) {
		pw_detail(ctx, "%s: type pinned %s, new %s", what, type_str(pin->type),
			  type_str(nw->type));
		bad++;
	}
	if (pin->key_size != nw->key_size) {
		pw_detail(ctx, "%s: key_size pinned %u, new %u", what, pin->key_size, nw->key_size);
		bad++;
	} else if (pin->key.btf && nw->key.btf && !pw_layout_same(&pin->key, &nw->key)) {
		pw_layout_str(&pin->key, a, sizeof(a));
		pw_layout_str(&nw->key, b, sizeof(b));
		pw_detail(ctx, "%s: key layout pinned %s, new %s", what, a, b);
		bad++;
	}
	return bad;
}

/* Refused: name everything else that differs too. */
static int refuse_all(struct pw_ctx *ctx, const char *what, const struct pw_map_desc *pin,
		      const struct pw_map_desc *nw, int bad)
{
	if (pin->value_size != nw->value_size)
		pw_detail(ctx, "%s: value_size pinned %u, new %u", what, pin->value_size,
			  nw->value_size);
	if (pin->max_entries != nw->max_entries)
		pw_detail(ctx, "%s: max_entries pinned %u, new %u", what, pin->max_entries,
			  nw->max_entries);
	if (pin->flags != nw->flags)
		pw_detail(ctx, "%s: flags pinned 0x%x, new 0x%x", what, pin->flags, nw->flags);
	if (!bad)
		pw_detail(ctx, "%s: a %s map holds no entries pinwall can migrate", what,
			  type_str(nw->type));
	return PW_MAP_REFUSE;
}

/* The same value layout, other max_entries or flags: every field as it is. */
static int identity_migration(const struct pw_map_desc *pin, const struct pw_map_desc *nw,
			      struct pw_migration **out)
{
	struct pw_migration *mg = pw_migration_identity(pin, nw);

	if (!mg)
		return -ENOMEM;
	if (pin->max_entries != nw->max_entries)
		snprintf(mg->why, sizeof(mg->why), "max_entries pinned %u, new %u",
			 pin->max_entries, nw->max_entries);
	else
		snprintf(mg->why, sizeof(mg->why), "flags pinned 0x%x, new 0x%x",
			 pin->flags, nw->flags);
	*out = mg;
	return PW_MAP_MIGRATE;
}

/* Another value layout: field by field, by name (both sides need BTF). */
static int field_migration(struct pw_ctx *ctx, const char *what, const struct pw_map_desc *pin,
			   const struct pw_map_desc *nw, struct pw_migration **out)
{
	const struct pw_layout *ov = &pin->value, *nv = &nw->value;
	struct pw_migration *mg = migration_new(pin, nw);
	char a[160], b[160];
	int ret;

	if (!mg)
		return -ENOMEM;
	if (!ov->btf || !nv->btf) {
		pw_detail(ctx, "%s: value_size pinned %u, new %u, and the %s map has no BTF to match fields by name",
			  what, pin->value_size, nw->value_size, ov->btf ? "new" : "pinned");
		ret = PW_MAP_REFUSE;
		goto out;
	}
	if (map_fields(ctx, what, ov, nv, mg)) {
		ret = PW_MAP_REFUSE;
		goto out;
	}
	pw_layout_str(ov, a, sizeof(a));
	pw_layout_str(nv, b, sizeof(b));
	snprintf(mg->why, sizeof(mg->why), "value layout pinned %s, new %s", a, b);
	*out = mg;
	mg = NULL;
	ret = PW_MAP_MIGRATE;
out:
	free(mg);
	return ret;
}

int pw_map_decide(struct pw_ctx *ctx, const char *name, const char *path,
		  const struct pw_map_desc *pin, const struct pw_map_desc *nw,
		  struct pw_migration **out)
{
	const struct pw_layout *ov = &pin->value, *nv = &nw->value;
	char what[PW_PATH_LEN + 96];
	bool vsame, props_same;
	int bad;

	*out = NULL;
	snprintf(what, sizeof(what), "map '%s' (%s)", name, path);
	bad = key_differs(ctx, what, pin, nw);
	/* without BTF on one side only the sizes can be compared */
	vsame = pin->value_size == nw->value_size &&
		(!ov->btf || !nv->btf || pw_layout_same(ov, nv));
	props_same = pin->max_entries == nw->max_entries && pin->flags == nw->flags;
	if (!bad && vsame && props_same)
		return PW_MAP_REUSE;
	if (bad || !migratable_type(nw->type))
		return refuse_all(ctx, what, pin, nw, bad);
	if (pin->key_size > PW_MERGE_KEY_MAX) {
		pw_detail(ctx, "%s: key_size %u is over the %u bytes a migration can merge", what,
			  pin->key_size, PW_MERGE_KEY_MAX);
		return PW_MAP_REFUSE;
	}
	if (vsame)
		return identity_migration(pin, nw, out);
	return field_migration(ctx, what, pin, nw, out);
}

/* ---- copying ---- */

static __u32 stride(__u32 vsize)
{
	return (vsize + 7) & ~7u;
}

static size_t value_buf(const struct pw_migration *mg, __u32 vsize)
{
	int cpus = is_percpu(mg->type) ? libbpf_num_possible_cpus() : 1;

	return (size_t)(cpus > 0 ? cpus : 1) * stride(vsize);
}

static int n_slots(const struct pw_migration *mg)
{
	int cpus = is_percpu(mg->type) ? libbpf_num_possible_cpus() : 1;

	return cpus > 0 ? cpus : 1;
}

static __u64 get_int(const unsigned char *p, __u32 size, bool sign)
{
	__u64 v = 0;

	/* sizes 1..8; the host order is the map's order */
	switch (size) {
	case 1: { __u8 x; memcpy(&x, p, 1); v = sign ? (__u64)(__s64)(__s8)x : x; break; }
	case 2: { __u16 x; memcpy(&x, p, 2); v = sign ? (__u64)(__s64)(__s16)x : x; break; }
	case 4: { __u32 x; memcpy(&x, p, 4); v = sign ? (__u64)(__s64)(__s32)x : x; break; }
	case 8: memcpy(&v, p, 8); break;
	}
	return v;
}

static void put_int(unsigned char *p, __u32 size, __u64 v)
{
	switch (size) {
	case 1: { __u8 x = (__u8)v; memcpy(p, &x, 1); break; }
	case 2: { __u16 x = (__u16)v; memcpy(p, &x, 2); break; }
	case 4: { __u32 x = (__u32)v; memcpy(p, &x, 4); break; }
	case 8: memcpy(p, &v, 8); break;
	}
}

static bool int_copy(const struct pw_copy *c)
{
	return c->kind == PW_LEAF_INT && c->new_size <= 8 &&
	       (c->new_size == 1 || c->new_size == 2 || c->new_size == 4 || c->new_size == 8);
}

/* old value (all slots) -> new value (all slots); new fields are zero */
static void convert(const struct pw_migration *mg, const unsigned char *ov, unsigned char *nv)
{
	int slots = n_slots(mg);

	memset(nv, 0, value_buf(mg, mg->new_vsize));
	for (int s = 0; s < slots; s++) {
		const unsigned char *o = ov + (size_t)s * stride(mg->old_vsize);
		unsigned char *n = nv + (size_t)s * stride(mg->new_vsize);

		for (int i = 0; i < mg->n_copy; i++) {
			const struct pw_copy *c = &mg->copy[i];

			if (int_copy(c))
				put_int(n + c->new_off, c->new_size,
					get_int(o + c->old_off, c->old_size, c->sign));
			else
				memcpy(n + c->new_off, o + c->old_off, c->old_size);
		}
	}
}

/* The merge helper (bpf/merge.bpf.c) loaded against one new map. */
struct merger {
	struct merge *skel;
	int args_fd, prog_fd;
	cpu_set_t saved;
	bool have_saved;
};

static int merger_open(struct merger *m, int new_fd, __u32 vsize)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->skel = merge__open();
	if (!m->skel)
		return -errno;
	m->skel->rodata->pw_vsize = vsize;
	if ((err = bpf_map__reuse_fd(m->skel->maps.target, new_fd)) ||
	    (err = merge__load(m->skel))) {
		merge__destroy(m->skel);
		m->skel = NULL;
		return err;
	}
	m->args_fd = bpf_map__fd(m->skel->maps.args);
	m->prog_fd = bpf_program__fd(m->skel->progs.pw_merge_add);
	m->have_saved = !sched_getaffinity(0, sizeof(m->saved), &m->saved);
	return 0;
}

static void merger_close(struct merger *m)
{
	if (m->have_saved)
		sched_setaffinity(0, sizeof(m->saved), &m->saved);
	merge__destroy(m->skel);
}

/* Run the ops on @cpu's slot (-1: a shared value, any CPU). 1: applied,
 * 0: the key is gone, < 0: error. */
static int merger_run(struct merger *m, int cpu, const struct pw_merge_args *a)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);
	__u32 zero = 0;

	if (cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		/* the slot is changed from its own CPU: see merge.bpf.c */
		if (sched_setaffinity(0, sizeof(one), &one))
			return -errno;
	}
	if (bpf_map_update_elem(m->args_fd, &zero, a, BPF_ANY) ||
	    bpf_prog_test_run_opts(m->prog_fd, &t))
		return -errno;
	return t.retval == XDP_PASS ? 1 : t.retval == XDP_DROP ? 0 : -EIO;
}

/* Ops that carry one slot's late changes: integers get the old program's
 * increase added (atomically, so the new program's counts stay); small
 * opaque fields the new program left alone get the old final bytes. */
static int slot_ops(const struct pw_migration *mg, const unsigned char *o,
		    const unsigned char *p, const unsigned char *n, struct pw_merge_op *ops)
{
	int k = 0;

	for (int i = 0; i < mg->n_copy; i++) {
		const struct pw_copy *c = &mg->copy[i];
		struct pw_merge_op *op = &ops[k];

		/* late changes of 1- and 2-byte fields, and of misaligned ones,
		 * cannot be added atomically: see docs/LIFECYCLE.md */
		if ((c->new_size != 4 && c->new_size != 8) || c->new_off % c->new_size)
			continue;
		if (int_copy(c)) {
			/* the old program's increase, in the old field's width
			 * (a u32 that wrapped still adds what it counted) */
			__u64 d = get_int(o + c->old_off, c->old_size, false) -
				  (p ? get_int(p + c->old_off, c->old_size, false) : 0);

			if (c->old_size < 8) {
				d &= (1ull << (c->old_size * 8)) - 1;
				if (c->sign && (d >> (c->old_size * 8 - 1)) & 1)
					d |= ~((1ull << (c->old_size * 8)) - 1);
			}
			if (!d)
				continue;
			*op = (struct pw_merge_op){ .off = c->new_off, .size = (__u16)c->new_size,
						    .val = d };
			k++;
		} else if (c->old_size == c->new_size &&
			   (!p || (memcmp(o + c->old_off, p + c->old_off, c->old_size) &&
				   !memcmp(n + c->new_off, p + c->old_off, c->old_size)))) {
			*op = (struct pw_merge_op){ .off = c->new_off, .size = (__u16)c->new_size,
						    .set = 1,
						    .val = get_int(o + c->old_off, c->old_size, false) };
			k++;
		}
	}
	return k;
}

/* Keys of a hash-like map, read into one buffer; arrays need none. */
static int read_keys(int fd, __u32 key_size, __u32 max, void **keys, __u32 *n)
{
	unsigned char *buf = NULL, *prev = NULL;
	__u32 cap = 0, cnt = 0;

	*keys = NULL;
	*n = 0;
	/* a map that changes under us may restart the walk: bound it */
	for (__u64 guard = 0; guard < (__u64)max * 2 + 16; guard++) {
		if (cnt == cap) {
			unsigned char *nb;

			cap = cap ? cap * 2 : 256;
			nb = realloc(buf, (size_t)cap * key_size);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			if (cnt)
				prev = buf + (size_t)(cnt - 1) * key_size;
		}
		if (bpf_map_get_next_key(fd, prev, buf + (size_t)cnt * key_size)) {
			if (errno == ENOENT)
				break;
			free(buf);
			return -errno;
		}
		prev = buf + (size_t)cnt * key_size;
		cnt++;
	}
	*keys = buf;
	*n = cnt;
	return 0;
}

/* The keys a copy or merge walks: array indices below the smaller size
 * (@keys NULL), or the old hash map's keys. */
static int old_keys(const struct pw_migration *mg, int old_fd, void **keys, __u32 *n)
{
	*keys = NULL;
	if (is_array(mg->type)) {
		*n = mg->old_max < mg->new_max ? mg->old_max : mg->new_max;
		return 0;
	}
	return read_keys(old_fd, mg->key_size, mg->old_max, keys, n);
}

static const void *key_at(const struct pw_migration *mg, const void *keys, const __u32 *i)
{
	return keys ? (const unsigned char *)keys + (size_t)*i * mg->key_size : (const void *)i;
}

/* Entries that would not fit into the new map; 0 when everything fits. */
int pw_migration_overflow(const struct pw_migration *mg, int old_fd, __u32 *live)
{
	void *keys = NULL;
	unsigned char *v;
	__u32 n = 0, over = 0;
	int err;

	*live = 0;
	if (mg->new_max >= mg->old_max)
		return 0;
	if (!is_array(mg->type)) {
		if ((err = read_keys(old_fd, mg->key_size, mg->old_max, &keys, &n)))
			return err;
		free(keys);
		*live = n;
		return n > mg->new_max ? (int)(n - mg->new_max) : 0;
	}
	/* arrays: the cut-off tail must be all zero */
	v = malloc(value_buf(mg, mg->old_vsize));
	if (!v)
		return -ENOMEM;
	for (__u32 i = mg->new_max; i < mg->old_max; i++) {
		size_t len = value_buf(mg, mg->old_vsize);

		if (bpf_map_lookup_elem(old_fd, &i, v))
			continue;
		for (size_t b = 0; b < len; b++)
			if (v[b]) {
				over++;
				break;
			}
	}
	free(v);
	*live = over;
	return (int)over;
}

int pw_migration_snapshot_create(const struct pw_migration *mg)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = mg->old_flags);
	__u32 type = mg->type;
	int fd;

	/* an LRU snapshot could evict what it must remember: a plain hash */
	if (type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH) {
		type = type == BPF_MAP_TYPE_LRU_HASH ? BPF_MAP_TYPE_HASH : BPF_MAP_TYPE_PERCPU_HASH;
		o.map_flags = BPF_F_NO_PREALLOC;
	}
	fd = bpf_map_create(type, "pw_snapshot", mg->key_size, mg->old_vsize, mg->old_max, &o);
	return fd < 0 ? -errno : fd;
}

/* Load the merge helper against the new map now, while a failure can still
 * refuse the reload (after the switch it could only leave it unfinished). */
int pw_migration_check_merge(const struct pw_migration *mg, int new_fd)
{
	struct merger m;
	int err = merger_open(&m, new_fd, mg->new_vsize);

	if (!err)
		merger_close(&m);
	return err;
}

/* First copy: every old entry converted into @new_fd; raw copy into @snap_fd
 * (when >= 0) so merge knows what was carried over. */
int pw_migration_copy(const struct pw_migration *mg, int old_fd, int snap_fd, int new_fd)
{
	unsigned char *ov = malloc(value_buf(mg, mg->old_vsize));
	unsigned char *nv = malloc(value_buf(mg, mg->new_vsize));
	void *keys = NULL;
	__u32 n = 0;
	int err = 0;

	if (!ov || !nv) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = old_keys(mg, old_fd, &keys, &n)))
		goto out;
	for (__u32 i = 0; i < n; i++) {
		const void *k = key_at(mg, keys, &i);

		if (bpf_map_lookup_elem(old_fd, k, ov))
			continue;		/* deleted meanwhile */
		if (snap_fd >= 0 && bpf_map_update_elem(snap_fd, k, ov, BPF_ANY)) {
			err = -errno;
			goto out;
		}
		convert(mg, ov, nv);
		if (bpf_map_update_elem(new_fd, k, nv, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(keys);
	free(ov);
	free(nv);
	return err;
}

/* What a merge works with: the three maps, a value buffer for each, and
 * the merge helper (opened at the first key that needs it). */
struct merge_run {
	const struct pw_migration *mg;
	int old_fd, snap_fd, new_fd;
	unsigned char *ov, *sv, *nv;	/* old, snapshot and new values */
	struct pw_merge_args *a;
	struct pw_merge_op *ops;
	struct merger m;
	bool have_m, percpu;
};

/* Key @k's late changes added slot by slot (one per CPU of a per-CPU map)
 * through the helper, which the new program may be writing meanwhile. */
static int merge_slots(struct merge_run *r, const void *k, bool have_snap)
{
	const struct pw_migration *mg = r->mg;
	int slots = r->percpu ? n_slots(mg) : 1, err;

	if (!r->have_m) {
		if ((err = merger_open(&r->m, r->new_fd, mg->new_vsize)))
			return err;
		r->have_m = true;
	}
	memcpy(r->a->key, k, mg->key_size);
	for (int c = 0; c < slots; c++) {
		size_t os = (size_t)c * stride(mg->old_vsize), ns = (size_t)c * stride(mg->new_vsize);
		int nops = slot_ops(mg, r->ov + os, have_snap ? r->sv + os : NULL, r->nv + ns,
				    r->ops);

		/* the helper takes PW_MERGE_OPS at a time */
		for (int from = 0; from < nops; from += PW_MERGE_OPS) {
			r->a->n_ops = nops - from < PW_MERGE_OPS ? nops - from : PW_MERGE_OPS;
			memcpy(r->a->ops, r->ops + from, r->a->n_ops * sizeof(*r->ops));
			if ((err = merger_run(&r->m, r->percpu ? c : -1, r->a)) < 0)
				return err;
		}
		/* this slot is folded: a rerun after a kill skips it */
		if (nops && have_snap && slots > 1) {
			memcpy(r->sv + os, r->ov + os, stride(mg->old_vsize));
			if (bpf_map_update_elem(r->snap_fd, k, r->sv, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

/* One key of the old map: skipped when the old program left it as the
 * snapshot has it; inserted as the old program left it when the new map
 * lacks it; else its late changes added. Then the snapshot holds it. */
static int merge_key(struct merge_run *r, const void *k)
{
	const struct pw_migration *mg = r->mg;
	bool have_snap, inserted = false;
	int err;

	if (bpf_map_lookup_elem(r->old_fd, k, r->ov))
		return 0;
	have_snap = !bpf_map_lookup_elem(r->snap_fd, k, r->sv);
	if (have_snap && !memcmp(r->ov, r->sv, value_buf(mg, mg->old_vsize)))
		return 0;		/* the old program did not touch it */
	if (bpf_map_lookup_elem(r->new_fd, k, r->nv)) {
		/* not in the new map: insert it as the old program left it */
		convert(mg, r->ov, r->nv);
		inserted = !bpf_map_update_elem(r->new_fd, k, r->nv, BPF_NOEXIST);
		if (!inserted && (errno != EEXIST || bpf_map_lookup_elem(r->new_fd, k, r->nv)))
			return -errno;
		/* not inserted: the new program made it meanwhile: add to it */
	}
	if (!inserted && (err = merge_slots(r, k, have_snap)))
		return err;
	if (bpf_map_update_elem(r->snap_fd, k, r->ov, BPF_ANY))
		return -errno;
	return 0;
}

/* Keys the old program deleted after the snapshot, untouched since. */
static int merge_deleted(struct merge_run *r)
{
	const struct pw_migration *mg = r->mg;
	unsigned char *cv = malloc(value_buf(mg, mg->new_vsize));
	void *skeys = NULL;
	__u32 sn = 0;
	int err = 0;

	if (!cv || (err = read_keys(r->snap_fd, mg->key_size, mg->old_max, &skeys, &sn))) {
		free(cv);
		return err ?: -ENOMEM;
	}
	for (__u32 i = 0; i < sn; i++) {
		const void *k = (unsigned char *)skeys + (size_t)i * mg->key_size;

		if (!bpf_map_lookup_elem(r->old_fd, k, r->ov) ||
		    bpf_map_lookup_elem(r->snap_fd, k, r->sv) ||
		    bpf_map_lookup_elem(r->new_fd, k, r->nv))
			continue;
		convert(mg, r->sv, cv);
		if (!memcmp(cv, r->nv, value_buf(mg, mg->new_vsize)))
			bpf_map_delete_elem(r->new_fd, k);
		bpf_map_delete_elem(r->snap_fd, k);
	}
	free(skeys);
	free(cv);
	return 0;
}

/*
 * After the switch (and after every old-program run ended): fold the old
 * program's changes since the snapshot into the new map, which the new
 * program is writing at the same time (hence the helper's atomic adds).
 * Each key's snapshot is set to the folded old value right after, so running
 * this again (recovery after a kill) adds nothing twice.
 */
int pw_migration_merge(const struct pw_migration *mg, int old_fd, int snap_fd, int new_fd)
{
	struct merge_run r = { .mg = mg, .old_fd = old_fd, .snap_fd = snap_fd, .new_fd = new_fd,
			       .percpu = is_percpu(mg->type) };
	void *keys = NULL;
	__u32 n = 0;
	int err = 0;

	r.ov = malloc(value_buf(mg, mg->old_vsize));
	r.sv = malloc(value_buf(mg, mg->old_vsize));
	r.nv = malloc(value_buf(mg, mg->new_vsize));
	r.a = calloc(1, sizeof(*r.a));
	r.ops = calloc(PW_MAX_LEAVES, sizeof(*r.ops));
	if (!r.a || !r.ops || mg->key_size > PW_MERGE_KEY_MAX) {
		err = r.a && r.ops ? -E2BIG : -ENOMEM;
		goto out;
	}
	if (!r.ov || !r.sv || !r.nv) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = old_keys(mg, old_fd, &keys, &n)))
		goto out;
	for (__u32 i = 0; i < n && !err; i++)
		err = merge_key(&r, key_at(mg, keys, &i));
	if (!err && !is_array(mg->type))
		err = merge_deleted(&r);
out:
	if (r.have_m)
		merger_close(&r.m);
	free(r.ops);
	free(r.a);
	free(keys);
	free(r.ov);
	free(r.sv);
	free(r.nv);
	return err;
}
