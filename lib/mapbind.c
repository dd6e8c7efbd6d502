// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * load --map NAME=PATH: the object's map NAME is the map pinned at PATH, a
 * pin pinwall did not make (bpftool map create, another tool). Here: the
 * checks of a binding, the bindings a load or reload uses (the recorded
 * ones, changed by the command's), and their record (abi.h struct
 * pw_binds), pinned as "binds" and bound to the program like the load
 * record. A bound map is never pinned below the pin root nor removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

struct pw_bind *pw_bind_find(struct pw_binds *b, const char *name)
{
	for (__u32 i = 0; i < b->n && i < PW_BINDS_MAX; i++)
		if (!strcmp(b->map[i].name, name))
			return &b->map[i];
	return NULL;
}

static void bind_drop(struct pw_binds *b, struct pw_bind *bd)
{
	size_t i = bd - b->map;

	memmove(bd, bd + 1, (b->n - i - 1) * sizeof(*bd));
	b->n--;
	memset(&b->map[b->n], 0, sizeof(b->map[0]));
}

/* One NAME=PATH into @b: a new binding, another path, or (@reload, empty
 * PATH) the binding dropped. */
static int bind_apply(struct pw_ctx *ctx, const char *spec, bool reload, struct pw_binds *b)
{
	const char *eq = strchr(spec, '=');
	char name[PW_NAME_LEN];
	struct pw_bind *bd;

	if (!eq || eq == spec)
		return pw_fail(ctx, EINVAL, "--map '%s': use NAME=PATH (the object's map NAME, the pinned map at PATH)",
			       spec);
	if ((size_t)(eq - spec) >= sizeof(name))
		return pw_fail(ctx, ENAMETOOLONG, "--map '%s': map name longer than %d characters",
			       spec, PW_NAME_LEN - 1);
	if (strlen(eq + 1) >= PW_PATH_LEN)
		return pw_fail(ctx, ENAMETOOLONG, "--map '%s': path longer than %d characters",
			       spec, PW_PATH_LEN - 1);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - spec), spec);
	bd = pw_bind_find(b, name);
	if (!eq[1]) {
		if (!reload)
			return pw_fail(ctx, EINVAL, "--map '%s': PATH is missing (an empty PATH drops a binding on reload)",
				       spec);
		if (!bd)
			return pw_fail(ctx, ENOENT, "--map '%s': map '%s' is not bound; nothing was changed",
				       spec, name);
		bind_drop(b, bd);
		return 0;
	}
	if (!bd) {
		if (b->n >= PW_BINDS_MAX)
			return pw_fail(ctx, E2BIG, "--map '%s': at most %d maps can be bound", spec,
				       PW_BINDS_MAX);
		bd = &b->map[b->n++];
		snprintf(bd->name, sizeof(bd->name), "%s", name);
	}
	snprintf(bd->path, sizeof(bd->path), "%s", eq + 1);
	bd->id = 0;
	return 0;
}

int pw_binds_resolve(struct pw_ctx *ctx, const char *const *specs, int n, bool reload,
		     struct pw_binds *b)
{
	int err;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (!strncmp(specs[i], specs[j], strchrnul(specs[j], '=') - specs[j] + 1))
				return pw_fail(ctx, EINVAL, "--map '%s': map bound twice ('%s' too)",
					       specs[i], specs[j]);
		if ((err = bind_apply(ctx, specs[i], reload, b)))
			return err;
	}
	b->version = PW_BINDS_VERSION;
	return 0;
}

/* What a binding's path must be: a pin of its own on bpffs, outside the pin
 * root, reached through no link, holding a map. Its fd, or one error. */
int pw_bind_open(struct pw_ctx *ctx, const struct pw_bind *bd)
{
	const char *p = bd->path;
	char link[PW_PATH_LEN];
	size_t rl = strlen(ctx->pin_root);
	struct statfs sfs;
	struct stat st;
	int fd;

	if (p[0] != '/')
		return pw_fail(ctx, EINVAL, "--map '%s=%s': the path must be absolute", bd->name, p);
	if (lstat(p, &st))
		return pw_fail(ctx, errno, "--map '%s=%s': %s%s", bd->name, p,
			       errno == ENOENT ? "nothing is pinned there" : strerror(errno),
			       errno == ENOENT ? " (pin a map there first, e.g. with bpftool map create)" : "");
	if (pw_below_check(p, 0, link, sizeof(link)) == -ELOOP)
		return pw_fail(ctx, ELOOP, "--map '%s=%s': '%s' is a symbolic link, never followed: name the pin itself",
			       bd->name, p, link);
	if (statfs(p, &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return pw_fail(ctx, EXDEV, "--map '%s=%s': not on bpffs: name a pinned map", bd->name, p);
	if (!strncmp(p, ctx->pin_root, rl) && (p[rl] == '/' || !p[rl]))
		return pw_fail(ctx, EINVAL, "--map '%s=%s': the path is below pinwall's pin root '%s': bind a pin of your own",
			       bd->name, p, ctx->pin_root);
	if (S_ISDIR(st.st_mode))
		return pw_fail(ctx, EISDIR, "--map '%s=%s': a directory, not a pinned map", bd->name, p);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return pw_fail(ctx, errno, "--map '%s=%s': cannot open the pin: %s", bd->name, p,
			       strerror(errno));
	if (pw_fd_kind(fd) != PW_OBJ_MAP) {
		enum pw_obj_kind k = pw_fd_kind(fd);

		close(fd);
		return pw_fail(ctx, EINVAL, "--map '%s=%s': the pin holds a %s, not a map", bd->name, p,
			       k == PW_OBJ_PROG ? "program" : k == PW_OBJ_LINK ? "link" : "non-map object");
	}
	return fd;
}

/* Every bound name is a map of the object (a recorded binding too). */
int pw_binds_check_names(struct pw_ctx *ctx, struct bpf_object *obj, const struct pw_binds *b,
			 bool reload)
{
	struct bpf_map *map;
	char names[256];

	pw_obj_map_names(obj, names, sizeof(names));
	for (__u32 i = 0; i < b->n; i++) {
		const struct pw_bind *bd = &b->map[i];

		map = bpf_object__find_map_by_name(obj, bd->name);
		if (map && !bpf_map__is_internal(map))
			continue;
		return pw_fail(ctx, ENOENT, "--map '%s=%s': the program has no map '%s' (its maps: %s); nothing was changed%s%s%s",
			       bd->name, bd->path, bd->name, names,
			       reload ? " (a recorded binding: drop it with --map " : "",
			       reload ? bd->name : "", reload ? "=)" : "");
	}
	return 0;
}

/* ---- the record ---- */

int pw_binds_read(const struct pw_ctx *ctx, const char *ifdir, struct pw_binds *b)
{
	char path[PW_PATH_LEN];
	struct bpf_map_info info;
	__u32 zero = 0;
	int fd, err = 0;

	(void)ctx;
	memset(b, 0, sizeof(*b));
	if (pw_join(path, sizeof(path), ifdir, PW_PIN_BINDS))
		return -ENAMETOOLONG;
	fd = pw_obj_get_below(path, pw_ifdir_root_len(ifdir), BPF_F_RDONLY);
	if (fd < 0)
		return fd;
	if (pw_fd_kind(fd) != PW_OBJ_MAP || pw_map_info(fd, &info) ||
	    strcmp(info.name, PW_MAP_BINDS) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.key_size != 4 || info.value_size != sizeof(*b) || info.max_entries != 1)
		err = -EPROTO;
	else if (bpf_map_lookup_elem(fd, &zero, b))
		err = -errno;
	close(fd);
	if (!err && (b->version != PW_BINDS_VERSION || b->n > PW_BINDS_MAX))
		err = -EPROTO;
	for (__u32 i = 0; !err && i < b->n; i++) {
		b->map[i].name[PW_NAME_LEN - 1] = '\0';
		b->map[i].path[PW_PATH_LEN - 1] = '\0';
	}
	if (err)
		memset(b, 0, sizeof(*b));
	return err;
}

/* The record read for a reload: none is no binding; a damaged one refused. */
int pw_binds_recorded(struct pw_ctx *ctx, const char *ifdir, struct pw_binds *b)
{
	int err = pw_binds_read(ctx, ifdir, b);

	if (err == -ENOENT)
		return 0;
	if (err)
		return pw_fail(ctx, err, "the binding record '%s/%s' cannot be read: %s; nothing was changed",
			       ifdir, PW_PIN_BINDS, err == -EPROTO ? "not pinwall's record" :
			       strerror(-err));
	return 0;
}

void pw_binds_unpin(const struct pw_ctx *ctx, const char *ifdir)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN];

	if (!pw_join(path, sizeof(path), ifdir, PW_PIN_BINDS))
		pw_unlink_below(path, root_len);
	if (!pw_join(path, sizeof(path), ifdir, PW_PIN_BINDS "_new"))
		pw_unlink_below(path, root_len);
}

/* A new record map: filled, bound to the program, pinned beside the old
 * one and renamed over it. */
static int binds_pin(struct pw_ctx *ctx, const char *ifdir, int prog_fd, const struct pw_binds *b)
{
	char path[PW_PATH_LEN], tmp[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err = 0;

	if (pw_join(path, sizeof(path), ifdir, PW_PIN_BINDS) ||
	    pw_join(tmp, sizeof(tmp), ifdir, PW_PIN_BINDS "_new"))
		return pw_fail(ctx, ENAMETOOLONG, "pin path in '%s' is too long", ifdir);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, PW_MAP_BINDS, 4, sizeof(*b), 1, NULL);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot create the binding record: %s", strerror(errno));
	unlink(tmp);
	if (bpf_map_update_elem(fd, &zero, b, BPF_ANY) || bpf_prog_bind_map(prog_fd, fd, NULL) ||
	    bpf_obj_pin(fd, tmp) || rename(tmp, path)) {
		err = pw_fail(ctx, errno, "cannot write the binding record '%s': %s", path,
			      strerror(errno));
		unlink(tmp);
	}
	close(fd);
	return err;
}

/* A bound map's pin from before the binding (maps/NAME, pinwall's, unused
 * now) goes; shared/ pins stay for the other interfaces. */
static void unpin_unbound(const struct pw_ctx *ctx, const char *ifdir, const struct pw_bind *bd)
{
	char path[PW_PATH_LEN];

	if (snprintf(path, sizeof(path), "%s/%s/%s", ifdir, PW_DIR_MAPS, bd->name) >=
	    (int)sizeof(path))
		return;
	pw_unlink_below(path, strlen(ctx->pin_root));
}

/* After the switch: the bound maps' ids, the record, the old pins. The
 * program runs already: a failure here is reported, never undone. */
int pw_binds_commit(struct pw_ctx *ctx, const char *ifdir, struct bpf_object *obj, int prog_fd,
		    struct pw_binds *b)
{
	for (__u32 i = 0; i < b->n; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, b->map[i].name);
		struct bpf_map_info info;

		if (map && !pw_map_info(bpf_map__fd(map), &info))
			b->map[i].id = info.id;
		unpin_unbound(ctx, ifdir, &b->map[i]);
	}
	if (!b->n && !b->flags) {
		pw_binds_unpin(ctx, ifdir);
		return 0;
	}
	return binds_pin(ctx, ifdir, prog_fd, b);
}

/* ---- repin ---- */

/* The program's binding record among its maps @ids: its fd, or -ENOENT. */
static int binds_of_prog(const __u32 *ids, __u32 n, struct pw_binds *b, __u32 *id)
{
	__u32 zero = 0;

	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info info;
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!pw_map_info(fd, &info) && !strcmp(info.name, PW_MAP_BINDS) &&
		    info.type == BPF_MAP_TYPE_ARRAY && info.value_size == sizeof(*b) &&
		    !bpf_map_lookup_elem(fd, &zero, b) && b->version == PW_BINDS_VERSION &&
		    b->n <= PW_BINDS_MAX) {
			*id = info.id;
			return fd;
		}
		close(fd);
	}
	return -ENOENT;
}

static struct pw_repin_item *repin_item(struct pw_repin_report *r, const char *kind,
					const char *name, const char *path, __u32 id)
{
	struct pw_repin_item *it;

	if (r->n == (int)(sizeof(r->items) / sizeof(r->items[0])))
		return NULL;
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	snprintf(it->name, sizeof(it->name), "%s", name);
	snprintf(it->path, sizeof(it->path), "%s", path);
	it->id = id;
	return it;
}

/* Pin @fd (id @id) at @path unless something is there: the same object is
 * present, anything else a conflict left alone. */
static void repin_at(struct pw_repin_report *r, struct pw_repin_item *it, int fd)
{
	struct bpf_map_info info;
	struct stat st;
	int ofd;

	if (!lstat(it->path, &st)) {
		ofd = S_ISREG(st.st_mode) ? bpf_obj_get(it->path) : -1;
		it->other_id = ofd >= 0 && pw_fd_kind(ofd) == PW_OBJ_MAP &&
			       !pw_map_info(ofd, &info) ? info.id : 0;
		if (ofd >= 0)
			close(ofd);
		it->fate = it->other_id == it->id ? PW_REPIN_PRESENT : PW_REPIN_CONFLICT;
	} else {
		it->fate = bpf_obj_pin(fd, it->path) ? PW_REPIN_CONFLICT : PW_REPIN_PINNED;
	}
	r->n_pinned += it->fate == PW_REPIN_PINNED;
	r->n_conflict += it->fate == PW_REPIN_CONFLICT;
}

/* The binding record the program holds, pinned again; each bound map
 * pinned again at its path when that path is free (the user's pin, as the
 * binding named it); the flat path made again. */
int pw_binds_repin(struct pw_ctx *ctx, struct pw_repin_report *r, const __u32 *ids, __u32 n)
{
	struct pw_repin_item *it;
	struct pw_binds b;
	char path[PW_PATH_LEN];
	__u32 id;
	int fd = binds_of_prog(ids, n, &b, &id), mfd;

	if (fd < 0)
		return 0;	/* no binding, no flat path */
	if (pw_join(path, sizeof(path), r->ifdir, PW_PIN_BINDS) ||
	    !(it = repin_item(r, "binds", PW_PIN_BINDS, path, id))) {
		close(fd);
		return pw_fail(ctx, E2BIG, "cannot repin the binding record of program %u",
			       r->prog_id);
	}
	repin_at(r, it, fd);
	close(fd);
	for (__u32 i = 0; i < b.n; i++) {
		b.map[i].name[PW_NAME_LEN - 1] = b.map[i].path[PW_PATH_LEN - 1] = '\0';
		if (!(it = repin_item(r, "bound", b.map[i].name, b.map[i].path, b.map[i].id)))
			break;
		if ((mfd = bpf_map_get_fd_by_id(b.map[i].id)) < 0) {
			it->fate = PW_REPIN_CONFLICT;
			r->n_conflict++;
			continue;
		}
		repin_at(r, it, mfd);
		close(mfd);
	}
	if ((b.flags & PW_BINDS_FLAT) && pw_flat_make(ctx, r->ifname, r->ifdir)) {
		pw_detail(ctx, "%s", ctx->err);
		ctx->err[0] = '\0';
	}
	return 0;
}
