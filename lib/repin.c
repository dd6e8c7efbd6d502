// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * repin: rebuild the pin tree of a running pinwall program from the kernel
 * alone, on the old bpffs or a fresh one. The program holds its load record
 * (bound at load, see record.c); the record names every map pinwall pinned
 * for it, by kernel id, and where its pin goes. Only the program's own maps
 * are pinned, matched by id, never by a name alone; a path that already
 * holds something else is left alone and reported as a conflict.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

struct repin_src {
	struct pw_meta meta;
	__u32 meta_id;			/* the record map the program holds; 0: read from its pin */
	__u32 ids[PW_PROG_MAPS];	/* the program's maps */
	__u32 n_ids;
};

/*
 * Is the program on @ifindex pinwall's, and what does its record say? Only
 * reads. -ENOENT: nothing attached; -EPERM: not pinwall's program.
 */
static int identify(struct pw_ctx *ctx, const char *ifname, int ifindex,
		    struct pw_repin_report *r, struct repin_src *src)
{
	char path[PW_PATH_LEN];
	struct pw_xdp_state st;
	int err;

	memset(src, 0, sizeof(*src));
	memset(r, 0, sizeof(*r));
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	r->ifindex = ifindex;
	if ((err = pw_iface_dir(ctx, ctx->netns_ino, ifname, r->ifdir, sizeof(r->ifdir))))
		return pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);
	if ((err = pw_xdp_state(ifindex, &st)))
		return pw_fail(ctx, err, "cannot query XDP on '%s': %s", ifname, strerror(-err));
	if (!st.prog_id)
		return pw_fail(ctx, ENOENT, "no XDP program is attached to '%s': nothing to repin",
			       ifname);
	r->prog_id = st.prog_id;
	r->mode = st.mode;
	if (!pw_meta_of_prog(ctx, st.prog_id, ifindex, &src->meta, &src->meta_id))
		r->bound = true;
	/* a program loaded by an older pinwall holds no record: its pin may */
	else if (pw_meta_read(r->ifdir, &src->meta) || src->meta.prog_id != st.prog_id)
		return pw_fail(ctx, EPERM, "the program on '%s' (id %u) holds no pinwall load record: not repinning another tool's program",
			       ifname, st.prog_id);
	pw_join(path, sizeof(path), r->ifdir, PW_PIN_INTENT);
	if (pw_path_exists(path))
		return pw_fail(ctx, EBUSY, "an operation on '%s' was interrupted: run 'pinwall recover %s' first",
			       ifname, ifname);
	if ((err = pw_prog_map_ids(st.prog_id, src->ids, PW_PROG_MAPS, &src->n_ids)))
		return pw_fail(ctx, err, "cannot read the maps of program %u: %s", st.prog_id,
			       strerror(-err));
	return 0;
}

/* Existing directories from @dir up to the pin root must be directories,
 * not symbolic links: nothing is pinned outside the pin root. */
static bool dirs_real(struct pw_ctx *ctx, const char *dir)
{
	char buf[PW_PATH_LEN], *slash;
	size_t root = strlen(ctx->pin_root);
	struct stat sb;

	snprintf(buf, sizeof(buf), "%s", dir);
	while (strlen(buf) > root) {
		if (lstat(buf, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			char line[PW_PATH_LEN + 64];

			snprintf(line, sizeof(line), "'%s' is not a directory: nothing pinned below it",
				 buf);
			if (!strstr(ctx->detail, line))	/* once, not once per map */
				pw_detail(ctx, "%s", line);
			return false;
		}
		if (!(slash = strrchr(buf, '/')))
			break;
		*slash = '\0';
	}
	return true;
}

/* The id of the @kind object pinned at @path (0: something else). */
static __u32 pinned_id(const char *path, enum pw_obj_kind kind)
{
	struct bpf_map_info mi;
	struct bpf_link_info li;
	struct stat sb;
	__u32 id = 0;
	int fd;

	if (lstat(path, &sb) || !S_ISREG(sb.st_mode) || (fd = bpf_obj_get(path)) < 0)
		return 0;
	if (pw_fd_kind(fd) == kind && kind == PW_OBJ_MAP && !pw_map_info(fd, &mi))
		id = mi.id;
	else if (pw_fd_kind(fd) == kind && kind == PW_OBJ_LINK && !pw_link_info(fd, &li))
		id = li.id;
	close(fd);
	return id;
}

/* Pin the program's object @fd (id @id) at @dir/@name unless the path holds
 * it already; a path that holds anything else is left alone. */
static int pin_obj(struct pw_ctx *ctx, struct pw_repin_report *r, const char *kind,
		   const char *name, const char *dir, int fd, __u32 id, enum pw_obj_kind okind)
{
	struct pw_repin_item *it;
	bool real;
	int err;

	if (r->n == (int)(sizeof(r->items) / sizeof(r->items[0])))
		return pw_fail(ctx, E2BIG, "program %u has more maps than pinwall pins", r->prog_id);
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->id = id;
	if ((err = pw_join(it->path, sizeof(it->path), dir, name)))
		return pw_fail(ctx, err, "pin path for '%s' in '%s' is too long", name, dir);
	/* a directory on the way that is not one is a conflict too (and is
	 * not looked through) */
	real = dirs_real(ctx, dir);
	if (!real || pw_path_exists(it->path)) {
		it->other_id = real ? pinned_id(it->path, okind) : 0;
		it->fate = it->other_id == id ? PW_REPIN_PRESENT : PW_REPIN_CONFLICT;
		r->n_conflict += it->fate == PW_REPIN_CONFLICT;
		return 0;
	}
	if ((err = pw_mkdirs(ctx, dir)))
		return err;
	if (!dirs_real(ctx, dir)) {	/* made a symbolic link meanwhile */
		it->fate = PW_REPIN_CONFLICT;
		r->n_conflict++;
		return 0;
	}
	if (bpf_obj_pin(fd, it->path))
		return pw_fail(ctx, errno, "cannot pin %s '%s' (id %u) at '%s': %s", kind, name, id,
			       it->path, strerror(errno));
	it->fate = PW_REPIN_PINNED;
	r->n_pinned++;
	return 0;
}

/* Where a map of the program goes: from the record (version 3: by id), or
 * for an older record by its kernel name. false: not pinned by pinwall. */
static bool map_place(struct pw_ctx *ctx, const struct repin_src *src, __u32 id,
		      char *name, size_t len, bool *shared)
{
	const struct pw_meta *m = &src->meta;
	struct bpf_map_info info;
	int fd;

	if (m->version >= 3) {
		for (__u32 k = 0; k < m->n_maps && k < PW_META_MAPS; k++) {
			if (m->maps[k].id != id)
				continue;
			snprintf(name, len, "%.*s", (int)sizeof(m->maps[k].name) - 1,
				 m->maps[k].name);
			*shared = m->maps[k].shared;
			if (!name[0])
				pw_detail(ctx, "map id %u: its name was too long to record: not pinned",
					  id);
			return name[0] != '\0';
		}
		return false;	/* internal (.rodata & co.), or never pinned */
	}
	if (m->pin_scope == PW_SCOPE_NONE || (fd = bpf_map_get_fd_by_id(id)) < 0)
		return false;
	if (pw_map_info(fd, &info) || strchr(info.name, '.')) {
		close(fd);
		return false;
	}
	close(fd);
	snprintf(name, len, "%s", info.name);
	*shared = m->pin_scope == PW_SCOPE_GLOBAL;
	*shared |= pw_meta_names_shared(m, info.name);
	return true;
}

static int repin_maps(struct pw_ctx *ctx, struct pw_repin_report *r,
		      const struct repin_src *src)
{
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN], name[PW_NAME_LEN];
	bool is_shared;
	int err = 0;

	pw_shared_dir(ctx, shared, sizeof(shared));
	pw_join(maps, sizeof(maps), r->ifdir, PW_DIR_MAPS);
	for (__u32 i = 0; !err && i < src->n_ids; i++) {
		__u32 id = src->ids[i];
		int fd;

		if (id == src->meta_id || !map_place(ctx, src, id, name, sizeof(name), &is_shared))
			continue;
		if ((fd = bpf_map_get_fd_by_id(id)) < 0)
			continue;	/* freed meanwhile: not the program's any more */
		err = pin_obj(ctx, r, is_shared ? "shared" : "map", name, is_shared ? shared : maps,
			      fd, id, PW_OBJ_MAP);
		close(fd);
	}
	/* the record names a map the program does not use: say so */
	for (__u32 k = 0; !err && k < src->meta.n_maps && k < PW_META_MAPS; k++) {
		bool used = false;

		for (__u32 i = 0; i < src->n_ids; i++)
			used |= src->ids[i] == src->meta.maps[k].id;
		if (!used)
			pw_detail(ctx, "the record names map '%.*s' (id %u), which program %u does not use: not pinned",
				  (int)sizeof(src->meta.maps[k].name) - 1, src->meta.maps[k].name,
				  src->meta.maps[k].id, r->prog_id);
	}
	return err;
}

/* Link-based attachment only: the link that holds the program. */
static int repin_link(struct pw_ctx *ctx, struct pw_repin_report *r)
{
	struct bpf_link_info li;
	int fd = pw_find_xdp_link(r->ifindex, r->prog_id), err = 0;

	if (fd < 0)
		return 0;	/* attached without a link */
	if (!pw_link_info(fd, &li))
		err = pin_obj(ctx, r, "link", PW_PIN_LINK, r->ifdir, fd, li.id, PW_OBJ_LINK);
	close(fd);
	return err;
}

static int repin_locked(struct pw_ctx *ctx, struct pw_repin_report *r,
			const struct repin_src *src)
{
	int fd, err;

	if (src->meta_id) {
		if ((fd = bpf_map_get_fd_by_id(src->meta_id)) < 0)
			return pw_fail(ctx, errno, "cannot open the load record of program %u: %s",
				       r->prog_id, strerror(errno));
		err = pin_obj(ctx, r, "meta", PW_PIN_META, r->ifdir, fd, src->meta_id, PW_OBJ_MAP);
		close(fd);
		if (err)
			return err;
	}
	return repin_link(ctx, r) ?: repin_maps(ctx, r, src) ?:
	       pw_binds_repin(ctx, r, src->ids, src->n_ids) ?:
	       pw_ct_egress_ensure(ctx, (int)r->ifindex, r->ifname, r->prog_id);
}

static int prepare(struct pw_ctx *ctx, int *lock_fd)
{
	int err;

	/* a fresh bpffs: the pin root is made again */
	if ((err = pw_bpffs_prepare(ctx, true)))
		return err;
	return pw_lock(ctx, lock_fd);
}

int pw_repin(struct pw_ctx *ctx, const char *ifname, struct pw_repin_report *r)
{
	struct repin_src *src = calloc(1, sizeof(*src));
	int ifindex, lock_fd = -1, err;

	memset(r, 0, sizeof(*r));
	if (!src)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = pw_check_caps(ctx)))
		goto out;
	if ((ifindex = pw_ifindex(ctx, ifname)) < 0) {
		err = ifindex;
		goto out;
	}
	/* checked before the first change, and again under the lock (a reload
	 * may have switched the program meanwhile) */
	if ((err = identify(ctx, ifname, ifindex, r, src)) || (err = prepare(ctx, &lock_fd)) ||
	    (err = identify(ctx, ifname, ifindex, r, src)))
		goto out;
	err = repin_locked(ctx, r, src);
out:
	pw_unlock(lock_fd);
	free(src);
	return err;
}

#define MAX_IFACES 256

int pw_repin_all(struct pw_ctx *ctx, int (*cb)(const struct pw_repin_report *r, void *arg),
		 void *arg, int *n)
{
	struct pw_repin_report *r = calloc(1, sizeof(*r));
	struct repin_src *src = calloc(1, sizeof(*src));
	struct if_nameindex *ifs = NULL;
	int idx[MAX_IFACES], n_idx = 0, lock_fd = -1, err;

	*n = 0;
	if (!r || !src) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	if ((err = pw_check_caps(ctx)))
		goto out;
	if (!(ifs = if_nameindex())) {
		err = pw_fail(ctx, errno, "cannot list interfaces: %s", strerror(errno));
		goto out;
	}
	/* every pinwall program, checked before the first change */
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		err = identify(ctx, i->if_name, (int)i->if_index, r, src);
		if (err == -ENOENT || err == -EPERM)
			continue;	/* nothing attached, or another tool's program */
		if (!err && n_idx == MAX_IFACES)
			err = pw_fail(ctx, E2BIG, "more than %d interfaces run pinwall's program: repin them one by one (pinwall repin IFACE)",
				      MAX_IFACES);
		if (err)
			goto out;
		idx[n_idx++] = (int)(i - ifs);
	}
	err = 0;
	if (!n_idx || (err = prepare(ctx, &lock_fd)))
		goto out;
	for (int k = 0; !err && k < n_idx; k++) {
		struct if_nameindex *i = &ifs[idx[k]];

		if (!(err = identify(ctx, i->if_name, (int)i->if_index, r, src)) &&
		    !(err = repin_locked(ctx, r, src))) {
			(*n)++;
			err = cb(r, arg);
		}
	}
out:
	if (ifs)
		if_freenameindex(ifs);
	pw_unlock(lock_fd);
	free(src);
	free(r);
	return err;
}
