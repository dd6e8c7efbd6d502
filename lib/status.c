// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * status: what pinwall pinned compared with what the kernel runs, and the
 * drift between the two. Read-only: takes no lock, changes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

const char *pw_state_name(enum pw_state state)
{
	switch (state) {
	case PW_STATE_OK: return "ok";
	case PW_STATE_NONE: return "not-loaded";
	case PW_STATE_KEPT: return "maps-kept";
	case PW_STATE_OTHER: return "not-pinwall";
	case PW_STATE_PINS_CONFLICT: return "pins-conflict";
	case PW_STATE_PINS_MISSING: return "pins-missing";
	case PW_STATE_PROG_GONE: return "program-gone";
	case PW_STATE_FOREIGN: return "foreign-program";
	case PW_STATE_INTERRUPTED: return "interrupted";
	}
	return "unknown";
}

static void vline(char (*lines)[320], int *n, int max, const char *fmt, va_list ap)
{
	if (*n < max)
		vsnprintf(lines[(*n)++], sizeof(lines[0]), fmt, ap);
}

/* One drift line, and the state it implies (the worst one wins). */
__attribute__((format(printf, 3, 4)))
static void drift(struct pw_status *st, enum pw_state state, const char *fmt, ...)
{
	va_list ap;

	if (state > st->state)
		st->state = state;
	va_start(ap, fmt);
	vline(st->drift, &st->n_drift, PW_MAX_DRIFT, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void note(struct pw_status *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(st->notes, &st->n_notes, 4, fmt, ap);
	va_end(ap);
}

static void add_map(struct pw_status *st, const char *path, const char *name, bool shared,
		    size_t root_len)
{
	struct pw_status_map *m;
	struct bpf_map_info info;
	int fd;

	if (st->n_maps == PW_MAX_MAPS)
		return;
	m = &st->maps[st->n_maps];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->shared = shared;
	fd = pw_obj_get_below(path, root_len, BPF_F_RDONLY);
	if (fd >= 0) {
		if (pw_fd_kind(fd) == PW_OBJ_MAP && !pw_map_info(fd, &info)) {
			m->id = info.id;
			m->type = info.type;
			m->max_entries = info.max_entries;
		}
		close(fd);
	}
	st->n_maps++;
}

/* A link inside the pin root is drift: never followed, only reported. */
static bool link_drift(struct pw_status *st, int dirfd, const char *name, const char *path)
{
	char target[128];

	if (!pw_symlink_at(dirfd, name, target, sizeof(target)))
		return false;
	drift(st, PW_STATE_PINS_CONFLICT, "'%s' is a symbolic link to '%s' inside the pin root: never followed (remove it)",
	      path, target);
	return true;
}

static void list_maps(struct pw_ctx *ctx, struct pw_status *st, const char *dir, bool shared,
		      const __u32 *prog_maps, int n_prog_maps)
{
	int fd = pw_opendir_below(dir, strlen(ctx->pin_root));
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char path[PW_PATH_LEN];

	if (fd == -ELOOP || fd == -ENOTDIR) {
		char link[PW_PATH_LEN];

		/* a link above this directory is reported once, at the interface */
		if (pw_below_check(dir, strlen(ctx->pin_root), link, sizeof(link)) == -ELOOP &&
		    strncmp(st->ifdir, link, strlen(link)))
			link_drift(st, AT_FDCWD, link, link);
	}
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || pw_join(path, sizeof(path), dir, e->d_name) ||
		    link_drift(st, dirfd(d), e->d_name, path))
			continue;
		add_map(st, path, e->d_name, shared, strlen(ctx->pin_root));
		if (st->n_maps == 0)
			continue;
		struct pw_status_map *m = &st->maps[st->n_maps - 1];

		for (int i = 0; i < n_prog_maps; i++)
			m->in_prog |= prog_maps[i] == m->id;
		/* shared maps belong to this interface if its program uses them or
		 * its record names them (unloaded with --keep-maps) */
		if (shared && !m->in_prog) {
			bool named = false;

			named = st->have_meta && pw_meta_names_shared(&st->meta, e->d_name);
			if (!named)
				st->n_maps--;
		}
	}
	closedir(d);
}

/* The id of the map pinned at @path (0: none, or not a map). */
static __u32 pin_map_id(const char *path)
{
	struct bpf_map_info info;
	__u32 id = 0;
	int fd = bpf_obj_get_opts(path, &(struct bpf_obj_get_opts){
		.sz = sizeof(struct bpf_obj_get_opts), .file_flags = BPF_F_RDONLY });

	if (fd < 0)
		return 0;
	if (pw_fd_kind(fd) == PW_OBJ_MAP && !pw_map_info(fd, &info))
		id = info.id;
	close(fd);
	return id;
}

/* What the kernel runs on the interface: the program, its maps, and the
 * load record it holds. Returns the number of map ids read. */
static int read_kernel(struct pw_ctx *ctx, struct pw_status *st, __u32 *prog_maps)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	int n = 0, fd;

	st->ifindex = (int)if_nametoindex(st->ifname);
	if (st->ifindex)
		pw_xdp_state(st->ifindex, &st->xdp);
	if (!st->xdp.prog_id || (fd = bpf_prog_get_fd_by_id(st->xdp.prog_id)) < 0)
		return 0;
	pi.nr_map_ids = PW_PROG_MAPS;
	pi.map_ids = (__u64)(unsigned long)prog_maps;
	if (!bpf_obj_get_info_by_fd(fd, &pi, &len)) {
		snprintf(st->prog_name, sizeof(st->prog_name), "%s", pi.name);
		for (int i = 0; i < 8; i++)
			snprintf(st->prog_tag + 2 * i, 3, "%02x", pi.tag[i]);
		n = pi.nr_map_ids < PW_PROG_MAPS ? pi.nr_map_ids : PW_PROG_MAPS;
	}
	close(fd);
	st->have_meta = !pw_meta_of_prog(ctx, st->xdp.prog_id, st->ifindex, &st->meta,
					 &st->record_id);
	return n;
}

/* What pinwall pinned: the record (when the program holds none, the pinned
 * one is shown), the operation under way, the link. */
static void read_pins(struct pw_ctx *ctx, struct pw_status *st)
{
	char path[PW_PATH_LEN];
	struct pw_meta pinned;
	int fd;

	if (!st->managed)
		return;
	st->meta_pinned = !pw_meta_read(st->ifdir, &pinned);
	if (st->meta_pinned && !st->record_id) {
		st->meta = pinned;
		st->have_meta = true;
	}
	st->have_intent = !pw_intent_read(st->ifdir, &st->intent);
	/* an operation running now holds the root's lock; a killed one does not */
	st->intent_running = st->have_intent && pw_lock_held(ctx);

	if (st->managed && pw_below_check(st->ifdir, strlen(ctx->pin_root), path,
					  sizeof(path)) == -ELOOP)
		link_drift(st, AT_FDCWD, path, path);
	if (st->managed && !pw_join(path, sizeof(path), st->ifdir, PW_PIN_LINK) &&
	    (fd = pw_obj_get_below(path, strlen(ctx->pin_root), 0)) >= 0) {
		struct bpf_link_info li;

		if (pw_fd_kind(fd) == PW_OBJ_LINK && !pw_link_info(fd, &li)) {
			st->link_id = li.id;
			st->link_prog_id = li.prog_id;
			st->link_ifindex = li.xdp.ifindex;
		}
		close(fd);
	}
}

/* Is the attached program pinwall's? It holds our record; or, loaded by an
 * older pinwall, our link or the pinned record names it. */
static bool is_ours(const struct pw_status *st)
{
	if (!st->xdp.prog_id)
		return false;
	if (st->record_id)
		return true;
	if (st->link_id && st->link_ifindex && st->link_prog_id == st->xdp.prog_id)
		return true;
	return st->meta_pinned && st->meta.prog_id == st->xdp.prog_id;
}

/* Does pinwall pin map @id of the program, and under which name? By the
 * record (version 3, by id), else by the kernel's name. */
static bool pinwall_pins(const struct pw_status *st, __u32 id, char *name, size_t len)
{
	const struct pw_meta *m = &st->meta;
	struct bpf_map_info mi;
	bool found = false;
	int fd;

	name[0] = '\0';
	if (id == st->record_id)
		return false;	/* the record: checked on its own */
	if (st->have_meta && m->version >= 3) {
		for (__u32 k = 0; !found && k < m->n_maps && k < PW_META_MAPS; k++)
			if ((found = m->maps[k].id == id))
				snprintf(name, len, "%.*s", (int)sizeof(m->maps[k].name) - 1,
					 m->maps[k].name);
		if (!found || name[0])
			return found;
		/* recorded without its name (too long): the kernel's cut one */
	} else if (st->have_meta && m->pin_scope == PW_SCOPE_NONE) {
		return false;	/* --pin-scope none: unpinned maps are what was asked for */
	}
	if ((fd = bpf_map_get_fd_by_id(id)) < 0)
		return false;
	/* .rodata, .bss & co. are never pinned */
	if (pw_map_info(fd, &mi) || strchr(mi.name, '.')) {
		close(fd);
		return false;
	}
	close(fd);
	snprintf(name, len, "%s", mi.name);
	return true;
}

/* pinwall's program runs: is every pin it needs there, holding its map? */
static void check_pins(struct pw_status *st, const __u32 *prog_maps, int n_prog_maps)
{
	char path[PW_PATH_LEN], name[PW_NAME_LEN];
	__u32 id;
	int fd;

	if (!st->managed) {
		drift(st, PW_STATE_PINS_MISSING, "pinwall's program '%s' (id %u) runs but its pins are gone: run 'pinwall repin %s'",
		      st->prog_name, st->xdp.prog_id, st->ifname);
		return;
	}
	pw_join(path, sizeof(path), st->ifdir, PW_PIN_META);
	if (st->record_id && !(id = pin_map_id(path)))
		drift(st, PW_STATE_PINS_MISSING, "the load record of program %u is not pinned (pinwall repin %s)",
		      st->xdp.prog_id, st->ifname);
	else if (st->record_id && id != st->record_id)
		drift(st, PW_STATE_PINS_CONFLICT, "pin '%s' holds map id %u, not the load record program %u holds (id %u)",
		      path, id, st->xdp.prog_id, st->record_id);
	else if (!st->record_id)
		note(st, "the program does not hold its load record (loaded by an older pinwall): 'pinwall reload %s' lets it survive a loss of its pins",
		     st->ifname);
	/* link-based attachment: the link that holds the program is pinned */
	if (!st->link_id && (fd = pw_find_xdp_link(st->ifindex, st->xdp.prog_id)) >= 0) {
		close(fd);
		drift(st, PW_STATE_PINS_MISSING, "program attached (id %u) through a bpf_link whose pin is missing: 'pinwall reload %s' moves it to a netlink attachment",
		      st->xdp.prog_id, st->ifname);
	}
	for (int i = 0; i < n_prog_maps; i++) {
		bool pinned = false;

		for (int j = 0; j < st->n_maps; j++)
			pinned |= st->maps[j].id == prog_maps[i];
		if (!pinned && pinwall_pins(st, prog_maps[i], name, sizeof(name)))
			drift(st, PW_STATE_PINS_MISSING, "map '%s' (id %u) of the attached program is not pinned (pinwall repin %s)",
			      name, prog_maps[i], st->ifname);
	}
	if (pw_ct_egress_wanted(st->xdp.prog_id) &&
	    !pw_ct_egress_running(st->ifindex, st->xdp.prog_id))
		drift(st, PW_STATE_PINS_MISSING, "the egress flow recorder of `ct established` is not attached: 'pinwall repin %s' attaches it",
		      st->ifname);
	for (int j = 0; j < st->n_maps; j++) {
		if (!st->maps[j].id)
			drift(st, PW_STATE_PINS_CONFLICT, "pin '%s' does not hold a readable map",
			      st->maps[j].path);
		else if (!st->maps[j].in_prog)
			drift(st, PW_STATE_PINS_CONFLICT, "pinned map '%s' is not used by the attached program",
			      st->maps[j].name);
	}
}

/* No program of pinwall's runs: why, and is that drift? */
static void check_absent(struct pw_status *st)
{
	bool link_alive = st->link_id && st->link_ifindex;

	if (st->xdp.prog_id && st->managed) {
		drift(st, PW_STATE_FOREIGN, "attached program '%s' (id %u) is not pinwall's: attached by another tool",
		      st->prog_name, st->xdp.prog_id);
	} else if (st->xdp.prog_id) {
		st->state = PW_STATE_OTHER;
		note(st, "XDP program '%s' (id %u) attached by another tool, not by pinwall",
		     st->prog_name, st->xdp.prog_id);
	} else if (!st->managed) {
		st->state = PW_STATE_NONE;
	} else if (link_alive || !st->meta_pinned || st->meta.prog_id) {
		drift(st, PW_STATE_PROG_GONE, "no program attached: pins whose program is gone");
	} else {
		st->state = PW_STATE_KEPT;	/* unload --keep-maps */
	}
}

static void fill_status(struct pw_ctx *ctx, struct pw_status *st)
{
	char path[PW_PATH_LEN];
	__u32 prog_maps[PW_PROG_MAPS];
	int n_prog_maps = read_kernel(ctx, st, prog_maps);

	read_pins(ctx, st);
	st->ours = is_ours(st);
	st->state = PW_STATE_OK;
	if (st->managed || st->ours) {
		pw_join(path, sizeof(path), st->ifdir, PW_DIR_MAPS);
		if (st->managed)
			list_maps(ctx, st, path, false, prog_maps, n_prog_maps);
		pw_shared_dir(ctx, path, sizeof(path));
		list_maps(ctx, st, path, true, prog_maps, n_prog_maps);
	}
	if (st->have_intent && !st->intent_running)
		drift(st, PW_STATE_INTERRUPTED, "interrupted %s (stopped after step '%s', pid %u): 'pinwall recover %s' finishes or rolls it back",
		      pw_op_name(st->intent.op), pw_step_name(st->intent.step), st->intent.pid,
		      st->ifname);
	if (st->managed && !st->ifindex) {
		drift(st, PW_STATE_PROG_GONE, "interface '%s' does not exist: pins are stale (pinwall unload %s removes them)",
		      st->ifname, st->ifname);
		return;
	}
	if (st->link_id && !st->link_ifindex)
		drift(st, PW_STATE_PROG_GONE, "link %u is detached (interface re-created?): pins whose program is gone",
		      st->link_id);
	if (st->ours)
		check_pins(st, prog_maps, n_prog_maps);
	else
		check_absent(st);
}

int pw_status_walk(struct pw_ctx *ctx, const char *ifname,
		   int (*cb)(const struct pw_status *st, void *arg), void *arg)
{
	struct pw_status *st = calloc(1, sizeof(*st));
	char nsdir[PW_PATH_LEN];
	struct if_nameindex *ifs = NULL;
	int err = pw_bpffs_prepare(ctx, false), found = 0, fd;
	/* bpffs not mounted: nothing loaded; a bad pin root is an error */
	bool bpffs = err == 0;
	DIR *d = NULL;
	struct dirent *e;

	if (err && err != -ENOENT) {
		free(st);
		return err;
	}
	err = pw_check_caps_read(ctx);
	if (err || !st) {
		free(st);
		return err ?: pw_fail(ctx, ENOMEM, "out of memory");
	}
	if (ifname) {
		snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);
		pw_iface_dir(ctx, ctx->netns_ino, ifname, st->ifdir, sizeof(st->ifdir));
		st->netns_ino = ctx->netns_ino;
		st->managed = bpffs && pw_path_exists(st->ifdir);
		fill_status(ctx, st);
		if (!st->managed && !st->ifindex)
			err = pw_fail(ctx, ENODEV, "no such interface '%s' and no pinwall pins for it",
				      ifname);
		else
			err = cb(st, arg);
		goto out;
	}
	/* managed interfaces first, then others that carry an XDP program */
	pw_ns_dir(ctx, ctx->netns_ino, nsdir, sizeof(nsdir));
	if (bpffs && (fd = pw_opendir_below(nsdir, strlen(ctx->pin_root))) >= 0 &&
	    !(d = fdopendir(fd)))
		close(fd);
	if (d) {
		while (!err && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			memset(st, 0, sizeof(*st));
			pw_ifname_unescape(e->d_name, st->ifname, sizeof(st->ifname));
			pw_join(st->ifdir, sizeof(st->ifdir), nsdir, e->d_name);
			st->netns_ino = ctx->netns_ino;
			st->managed = true;
			fill_status(ctx, st);
			err = cb(st, arg);
			found++;
		}
		closedir(d);
	}
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; !err && i && i->if_index; i++) {
		struct pw_xdp_state x;
		char dir[PW_PATH_LEN];

		pw_iface_dir(ctx, ctx->netns_ino, i->if_name, dir, sizeof(dir));
		if ((bpffs && pw_path_exists(dir)) || pw_xdp_state(i->if_index, &x) || !x.prog_id)
			continue;
		memset(st, 0, sizeof(*st));
		snprintf(st->ifname, sizeof(st->ifname), "%s", i->if_name);
		snprintf(st->ifdir, sizeof(st->ifdir), "%s", dir);
		st->netns_ino = ctx->netns_ino;
		fill_status(ctx, st);
		err = cb(st, arg);
		found++;
	}
	if (ifs)
		if_freenameindex(ifs);
out:
	free(st);
	return err;
}
