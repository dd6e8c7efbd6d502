// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every pinned object is untrusted input: what sits at a path pinwall reads
 * may have been put there by another tool, a script or a careless hand.
 * Before a byte is read or written, a pin is checked against what pinwall
 * expects there: map type, key and value size, max_entries and, when the
 * pin carries BTF, the layout of key and value. What pinwall expects of its
 * own maps is defined once, by the built-in objects themselves. Here too:
 * opening a pin as a map (what kind of object it holds, no link followed
 * below the pin root) and the kernel's info of a map, program or link.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall.skel.h"
#include "meta.skel.h"

struct expect {
	char name[BPF_OBJ_NAME_LEN];
	bool record;		/* from the record object (meta.bpf.c) */
	struct pw_map_desc d;
};

/* Built once per process from the objects compiled into pinwall. */
static struct expect *table;
static int n_table;

static void table_add(struct bpf_object *obj, bool record, int max)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		struct expect *e = &table[n_table];

		if (bpf_map__is_internal(map) || n_table == max)
			continue;
		snprintf(e->name, sizeof(e->name), "%s", bpf_map__name(map));
		e->record = record;
		pw_map_desc_from_map(map, btf, &e->d);
		n_table++;
	}
}

static int table_load(void)
{
	const int max = 48;
	struct pinwall *skel;
	struct meta *rec;

	if (table)
		return 0;
	skel = pinwall__open();
	rec = meta__open();
	table = calloc(max, sizeof(*table));
	if (skel && rec && table) {
		table_add(skel->obj, false, max);
		table_add(rec->obj, true, max);
	}
	pinwall__destroy(skel);
	meta__destroy(rec);
	if (!n_table) {
		free(table);
		table = NULL;
		return -ENOMEM;
	}
	return 0;
}

const struct pw_map_desc *pw_pin_expected(const char *name, bool record)
{
	if (table_load())
		return NULL;
	for (int i = 0; i < n_table; i++)
		if (table[i].record == record && !strcmp(table[i].name, name))
			return &table[i].d;
	return NULL;
}

static const char *type_str(__u32 type)
{
	return libbpf_bpf_map_type_str(type) ?: "unknown";
}

int pw_pin_check(int fd, const struct pw_map_desc *want, unsigned int flags, char *why,
		 size_t len)
{
	struct pw_map_desc *have;
	struct bpf_map_info info;
	char a[200], b[200];
	int err = pw_map_info(fd, &info);

	if (err) {
		snprintf(why, len, "cannot be read: %s", strerror(-err));
		return err;
	}
	err = -EPROTO;
	if (info.type != want->type)
		snprintf(why, len, "is a map of type %s, pinwall expects %s", type_str(info.type),
			 type_str(want->type));
	else if (info.key_size != want->key_size)
		snprintf(why, len, "has key size %u, pinwall expects %u", info.key_size,
			 want->key_size);
	else if (info.value_size != want->value_size &&
		 !((flags & PW_PIN_OLDER) && info.value_size >= 4 &&
		   info.value_size < want->value_size))
		snprintf(why, len, "has value size %u, pinwall expects %u", info.value_size,
			 want->value_size);
	else if (info.max_entries != want->max_entries)
		snprintf(why, len, "has max_entries %u, pinwall expects %u", info.max_entries,
			 want->max_entries);
	else
		err = 0;
	if (err || !info.btf_id || info.value_size != want->value_size)
		return err;
	/* written by pinwall, with BTF: the layout must be pinwall's too */
	have = calloc(1, sizeof(*have));
	if (!have)
		return 0;
	pw_map_desc_from_info(&info, have);
	if (have->key.btf && want->key.btf && !pw_layout_same(&have->key, &want->key)) {
		pw_layout_str(&have->key, a, sizeof(a));
		pw_layout_str(&want->key, b, sizeof(b));
		snprintf(why, len, "has key layout %s, pinwall expects %s", a, b);
		err = -EPROTO;
	} else if (have->value.btf && want->value.btf &&
		   !pw_layout_same(&have->value, &want->value)) {
		pw_layout_str(&have->value, a, sizeof(a));
		pw_layout_str(&want->value, b, sizeof(b));
		snprintf(why, len, "has value layout %s, pinwall expects %s", a, b);
		err = -EPROTO;
	}
	free(have);
	return err;
}

enum pw_obj_kind pw_fd_kind(int fd)
{
	char proc[64], target[128];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, target, sizeof(target) - 1);
	if (n < 0)
		return PW_OBJ_NONE;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:bpf-map"))
		return PW_OBJ_MAP;
	if (!strcmp(target, "anon_inode:bpf-prog"))
		return PW_OBJ_PROG;
	if (!strcmp(target, "anon_inode:bpf-link"))
		return PW_OBJ_LINK;
	return PW_OBJ_OTHER;
}

static const char *kind_name(enum pw_obj_kind k)
{
	switch (k) {
	case PW_OBJ_MAP: return "a map";
	case PW_OBJ_PROG: return "a program";
	case PW_OBJ_LINK: return "a link";
	default: return "an unknown object";
	}
}

int pw_open_map_pin(struct pw_ctx *ctx, const char *path, bool rdonly)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	enum pw_obj_kind kind;
	struct stat st;
	int fd = pw_nofollow(ctx, path);

	if (fd)
		return fd;
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return -ENOENT;
		return pw_fail(ctx, errno, "cannot look at pin '%s': %s%s", path, strerror(errno),
			       errno == EACCES ? " (run as root)" : "");
	}
	if (S_ISDIR(st.st_mode))
		return pw_fail(ctx, EISDIR, "pin path '%s' is a directory, not a map", path);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open pin '%s': %s", path, strerror(errno));
	kind = pw_fd_kind(fd);
	if (kind != PW_OBJ_MAP) {
		close(fd);
		return pw_fail(ctx, EEXIST, "pin path '%s' holds %s, not a map: remove it or choose another --pin-root",
			       path, kind_name(kind));
	}
	return fd;
}

int pw_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int pw_prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int pw_link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int pw_open_pin_checked(struct pw_ctx *ctx, const char *path, const struct pw_map_desc *want,
			unsigned int flags)
{
	char why[480];
	int fd = pw_open_map_pin(ctx, path, flags & PW_PIN_RDONLY), err;

	if (fd < 0 || !want)
		return fd;
	err = pw_pin_check(fd, want, flags, why, sizeof(why));
	if (!err)
		return fd;
	close(fd);
	return pw_fail(ctx, err, "pin '%s' %s: it is not pinwall's map; move it away ('pinwall repin' pins a running program's own maps again)",
		       path, why);
}

int pw_open_own_pin(struct pw_ctx *ctx, const char *path, const char *name, unsigned int flags)
{
	const struct pw_map_desc *want = pw_pin_expected(name, false);

	if (!want)
		return pw_fail(ctx, ENOENT, "pinwall has no map '%s'", name);
	return pw_open_pin_checked(ctx, path, want, flags);
}
