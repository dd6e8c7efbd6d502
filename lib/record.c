// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The load record as the kernel holds it: bound to the program it describes
 * (bpf_prog_bind_map), so it lives exactly as long as that program, pins or
 * no pins. repin and status find it through the running program's own map
 * ids, never through a name alone. The records are pinned too: the load
 * record, an interface's intent record and the rule apply's are read and
 * written through their pins, each checked before use.
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

/* ---- the load record and the intent records as pinned ---- */

/* The record object's map behind pin @pin ("meta", "intent", "rules_intent"). */
static const struct pw_map_desc *record_desc(const char *pin)
{
	return pw_pin_expected(strcmp(pin, PW_PIN_META) ? "pw_intent" : "pw_meta", true);
}

static char record_why[PW_PATH_LEN + 480];

const char *pw_record_problem(int err)
{
	if (err == -EPROTO && record_why[0])
		return record_why;
	if (err == -ELOOP)
		return "reached through a symbolic link inside the pin root, never followed (remove the link)";
	return strerror(-err);
}

/* @root_len: the pin root's part of @dir; below it no link is followed. */
static int record_read(const char *dir, size_t root_len, const char *pin, void *val,
		       size_t size)
{
	const struct pw_map_desc *want = record_desc(pin);
	char path[PW_PATH_LEN], why[480];
	__u32 zero = 0;
	int fd, err;

	if (pw_join(path, sizeof(path), dir, pin))
		return -ENAMETOOLONG;
	if (!want)
		return -ENOMEM;
	fd = pw_obj_get_below(path, root_len, BPF_F_RDONLY);
	if (fd < 0)
		return fd;
	/* records only grow at their end: an older, shorter one reads with the
	 * new fields zero; a longer one is from a newer pinwall */
	record_why[0] = '\0';
	err = pw_fd_kind(fd) != PW_OBJ_MAP ? -EPROTO :
	      pw_pin_check(fd, want, PW_PIN_OLDER, why, sizeof(why));
	if (err == -EPROTO)
		snprintf(record_why, sizeof(record_why), "pin '%s' %s", path,
			 pw_fd_kind(fd) != PW_OBJ_MAP ? "does not hold a map" : why);
	if (!err) {
		void *buf = calloc(1, size);

		if (!buf)
			err = -ENOMEM;
		else if (bpf_map_lookup_elem(fd, &zero, buf))
			err = -errno;
		else
			memcpy(val, buf, size);
		free(buf);
	}
	close(fd);
	return err;
}

/* The record map pw_meta_bind() staged and bound to the new program: filled,
 * then renamed over @path, so the pin holds the map the program holds.
 * -ENOENT: nothing staged. */
static int write_staged_meta(struct pw_ctx *ctx, const char *ifdir, const char *path,
			     const void *val)
{
	char staged[PW_PATH_LEN];
	struct bpf_map_info info;
	__u32 zero = 0;
	int fd, err = 0;

	if (pw_join(staged, sizeof(staged), ifdir, PW_PIN_META_STAGED) || !pw_path_exists(staged))
		return -ENOENT;
	fd = pw_open_map_pin(ctx, staged, false);
	if (fd < 0)
		return fd;
	if (pw_map_info(fd, &info) || info.value_size != sizeof(struct pw_meta))
		err = pw_fail(ctx, EPROTO, "'%s' is not a load record of this pinwall", staged);
	else if (bpf_map_update_elem(fd, &zero, val, BPF_ANY))
		err = pw_fail(ctx, errno, "cannot write '%s': %s", staged, strerror(errno));
	else if (rename(staged, path))
		err = pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));
	close(fd);
	return err;
}

/* The record pinned at @path when it has this layout (then written in
 * place), -ENOENT when there is none or one of an older layout (then
 * replaced), else an error: a newer pinwall's record, or no record at all. */
static int open_record_pin(struct pw_ctx *ctx, const char *path, const char *pin, bool intent)
{
	size_t want = intent ? sizeof(struct pw_intent) : sizeof(struct pw_meta);
	const struct pw_map_desc *d;
	struct bpf_map_info info;
	char why[480];
	int fd = pw_open_map_pin(ctx, path, false), err;

	if (fd < 0)
		return fd;
	d = record_desc(pin);
	/* a record of an older layout is replaced by one of this layout;
	 * a longer one is a newer pinwall's: left alone */
	if (!pw_map_info(fd, &info) && info.value_size > want &&
	    info.type == BPF_MAP_TYPE_ARRAY) {
		close(fd);
		return pw_fail(ctx, EPROTO, "'%s' was written by a newer pinwall (record of %u bytes, this one writes %zu): use that version",
			       path, info.value_size, want);
	}
	if (!d || (err = pw_pin_check(fd, d, PW_PIN_OLDER, why, sizeof(why)))) {
		close(fd);
		return pw_fail(ctx, d ? err : ENOMEM, "pin '%s' %s: it is not a pinwall record; move it away",
			       path, d ? why : "cannot be checked");
	}
	if (info.value_size != want) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* A new record map, written before it is pinned, pinned beside @path and
 * renamed over it: a reader (or a recovery after a kill) never sees an
 * empty record, and an older layout is replaced in one step. */
static int pin_new_record(struct pw_ctx *ctx, const char *ifdir, const char *pin,
			  const char *path, bool intent, const void *val)
{
	struct meta *skel = meta__open_and_load();
	char tmp[PW_PATH_LEN], tmpname[64];
	__u32 zero = 0;
	int fd = -1, err = 0;

	if (!skel)
		return pw_fail(ctx, errno, "cannot create the record map '%s': %s", pin,
			       strerror(errno));
	fd = dup(bpf_map__fd(intent ? skel->maps.pw_intent : skel->maps.pw_meta));
	if (fd < 0) {
		err = pw_fail(ctx, errno, "cannot create the record map '%s': %s", pin,
			      strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(fd, &zero, val, BPF_ANY)) {
		err = pw_fail(ctx, errno, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if ((err = pw_mkdirs(ctx, ifdir)))
		goto out;
	snprintf(tmpname, sizeof(tmpname), "%s_new", pin);
	pw_join(tmp, sizeof(tmp), ifdir, tmpname);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || rename(tmp, path)) {
		err = pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	meta__destroy(skel);
	return err;
}

static int record_write(struct pw_ctx *ctx, const char *ifdir, const char *pin,
			const void *val)
{
	bool intent = strcmp(pin, PW_PIN_META) != 0;
	char path[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err = 0;

	if ((err = pw_join(path, sizeof(path), ifdir, pin)))
		return pw_fail(ctx, err, "pin path in '%s' is too long", ifdir);
	fd = open_record_pin(ctx, path, pin, intent);
	if (fd == -ENOENT && !intent) {
		err = write_staged_meta(ctx, ifdir, path, val);
		if (err != -ENOENT)
			return err;
	}
	if (fd == -ENOENT)
		return pin_new_record(ctx, ifdir, pin, path, intent, val);
	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &zero, val, BPF_ANY))
		err = pw_fail(ctx, errno, "cannot write '%s': %s", path, strerror(errno));
	close(fd);
	return err;
}

int pw_meta_read(const char *ifdir, struct pw_meta *meta)
{
	return record_read(ifdir, pw_ifdir_root_len(ifdir), PW_PIN_META, meta, sizeof(*meta));
}

int pw_meta_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta)
{
	return record_write(ctx, ifdir, PW_PIN_META, meta);
}

int pw_intent_read(const char *ifdir, struct pw_intent *in)
{
	return record_read(ifdir, pw_ifdir_root_len(ifdir), PW_PIN_INTENT, in, sizeof(*in));
}

int pw_intent_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_intent *in)
{
	return record_write(ctx, ifdir, PW_PIN_INTENT, in);
}

int pw_rules_intent_read(const struct pw_ctx *ctx, struct pw_intent *in)
{
	return record_read(ctx->pin_root, strlen(ctx->pin_root), PW_PIN_RULES_INTENT, in,
			   sizeof(*in));
}

int pw_rules_intent_write(struct pw_ctx *ctx, const struct pw_intent *in)
{
	return record_write(ctx, ctx->pin_root, PW_PIN_RULES_INTENT, in);
}
