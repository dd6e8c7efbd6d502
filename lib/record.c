// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The load record as the kernel holds it: bound to the program it describes
 * (bpf_prog_bind_map), so it lives exactly as long as that program, pins or
 * no pins. repin and status find it through the running program's own map
 * ids, never through a name alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "meta.skel.h"

int pw_prog_map_ids(__u32 prog_id, __u32 *ids, __u32 max, __u32 *n)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	int fd = bpf_prog_get_fd_by_id(prog_id), err = 0;

	*n = 0;
	if (fd < 0)
		return -errno;
	pi.nr_map_ids = max;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		err = -errno;
	else if (pi.nr_map_ids > max)
		err = -E2BIG;	/* more maps than any program pinwall loads */
	else
		*n = pi.nr_map_ids;
	close(fd);
	return err;
}

/* A map shaped like pinwall's load record: the kernel name, the value size
 * and, when the map has BTF, the value type's name. */
static bool is_record_map(const struct bpf_map_info *info)
{
	const struct btf_type *t;
	struct btf *btf;
	bool ok;

	if (strcmp(info->name, PW_MAP_META) || info->type != BPF_MAP_TYPE_ARRAY ||
	    info->key_size != 4 || info->value_size != sizeof(struct pw_meta) ||
	    info->max_entries != 1)
		return false;
	if (!info->btf_id || !info->btf_value_type_id)
		return true;
	btf = btf__load_from_kernel_by_id(info->btf_id);
	if (!btf)
		return false;
	t = btf__type_by_id(btf, info->btf_value_type_id);
	ok = t && btf_is_struct(t) && !strcmp(btf__name_by_offset(btf, t->name_off) ?: "",
					      PW_MAP_META);
	btf__free(btf);
	return ok;
}

int pw_meta_of_prog(const struct pw_ctx *ctx, __u32 prog_id, int ifindex,
		    struct pw_meta *meta, __u32 *map_id)
{
	__u32 ids[PW_PROG_MAPS], n, zero = 0;
	int err = pw_prog_map_ids(prog_id, ids, PW_PROG_MAPS, &n);

	if (err)
		return err;
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info info;
		int fd = bpf_map_get_fd_by_id(ids[i]);
		bool found;

		if (fd < 0)
			continue;
		found = !pw_map_info(fd, &info) && is_record_map(&info) &&
			!bpf_map_lookup_elem(fd, &zero, meta) &&
			meta->version >= 3 && meta->prog_id == prog_id &&
			meta->ifindex == (__u32)ifindex && meta->netns_ino == ctx->netns_ino;
		close(fd);
		if (found) {
			meta->ifname[sizeof(meta->ifname) - 1] = '\0';
			*map_id = info.id;
			return 0;
		}
	}
	memset(meta, 0, sizeof(*meta));
	return -ENOENT;
}

/* A new, empty record map pinned at @path (nothing reads it before the
 * record write fills it). */
static int new_record_map(struct pw_ctx *ctx, const char *path)
{
	struct meta *skel = meta__open_and_load();
	int fd;

	if (!skel)
		return pw_fail(ctx, errno, "cannot create the load record map: %s", strerror(errno));
	fd = dup(bpf_map__fd(skel->maps.pw_meta));
	meta__destroy(skel);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot create the load record map: %s", strerror(errno));
	unlink(path);
	if (bpf_obj_pin(fd, path)) {
		int err = pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));

		close(fd);
		return err;
	}
	return fd;
}

int pw_meta_bind(struct pw_ctx *ctx, const char *ifdir, int prog_fd)
{
	char path[PW_PATH_LEN];
	struct bpf_map_info info;
	int fd, err = 0;

	if ((err = pw_join(path, sizeof(path), ifdir, PW_PIN_META)))
		return pw_fail(ctx, err, "pin path in '%s' is too long", ifdir);
	fd = pw_open_map_pin(ctx, path, false);
	if (fd >= 0 && (err = pw_map_info(fd, &info)))
		err = pw_fail(ctx, err, "cannot read the load record '%s': %s", path, strerror(-err));
	else if (fd >= 0 && info.value_size > sizeof(struct pw_meta))
		err = pw_fail(ctx, EPROTO, "'%s' was written by a newer pinwall (record of %u bytes, this one writes %zu): use that version",
			      path, info.value_size, sizeof(struct pw_meta));
	if (fd >= 0 && !err && info.value_size < sizeof(struct pw_meta)) {
		/* an older layout: the record write replaces it by the staged one */
		close(fd);
		fd = -ENOENT;
	}
	if (fd == -ENOENT) {
		pw_join(path, sizeof(path), ifdir, PW_PIN_META_STAGED);
		fd = new_record_map(ctx, path);
	}
	if (fd < 0)
		return fd;
	if (!err && bpf_prog_bind_map(prog_fd, fd, NULL))
		err = pw_fail(ctx, errno, "cannot bind the load record to the program: %s (pinwall needs Linux 5.10 or later)",
			      strerror(errno));
	close(fd);
	return err;
}
