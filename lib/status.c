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
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

__attribute__((format(printf, 2, 3)))
static void drift(struct pw_status *st, const char *fmt, ...)
{
	char line[sizeof(st->drift[0])];
	va_list ap;

	if (st->n_drift >= PW_MAX_DRIFT)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	memcpy(st->drift[st->n_drift++], line, sizeof(line));
}

static void add_map(struct pw_status *st, const char *path, const char *name, bool shared)
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
	fd = bpf_obj_get_opts(path, &(struct bpf_obj_get_opts){
		.sz = sizeof(struct bpf_obj_get_opts), .file_flags = BPF_F_RDONLY });
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

static void list_maps(struct pw_status *st, const char *dir, bool shared,
		      const __u32 *prog_maps, int n_prog_maps)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PW_PATH_LEN];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || pw_join(path, sizeof(path), dir, e->d_name))
			continue;
		add_map(st, path, e->d_name, shared);
		if (st->n_maps == 0)
			continue;
		struct pw_status_map *m = &st->maps[st->n_maps - 1];

		for (int i = 0; i < n_prog_maps; i++)
			m->in_prog |= prog_maps[i] == m->id;
		/* shared maps belong to this interface if its program uses them or
		 * its record names them (unloaded with --keep-maps) */
		if (shared && !m->in_prog) {
			bool named = false;

			for (__u32 i = 0; st->have_meta && i < st->meta.n_shared && i < PW_META_SHARED; i++)
				named |= !strncmp(st->meta.shared[i], e->d_name, PW_MAP_NAME_LEN);
			if (!named)
				st->n_maps--;
		}
	}
	closedir(d);
}

static void fill_status(struct pw_ctx *ctx, struct pw_status *st)
{
	char path[PW_PATH_LEN];
	__u32 prog_maps[PW_MAX_MAPS];
	int n_prog_maps = 0, fd;
	__u32 ours;

	st->ifindex = (int)if_nametoindex(st->ifname);
	if (st->ifindex)
		pw_xdp_state(st->ifindex, &st->xdp);
	st->have_meta = st->managed && !pw_meta_read(st->ifdir, &st->meta);
	st->have_intent = st->managed && !pw_intent_read(st->ifdir, &st->intent);
	/* an operation running now holds the root's lock; a killed one does not */
	st->intent_running = st->have_intent && pw_lock_held(ctx);

	if (st->managed && !pw_join(path, sizeof(path), st->ifdir, PW_PIN_LINK) &&
	    (fd = bpf_obj_get(path)) >= 0) {
		struct bpf_link_info li;

		if (pw_fd_kind(fd) == PW_OBJ_LINK && !pw_link_info(fd, &li)) {
			st->link_id = li.id;
			st->link_prog_id = li.prog_id;
			st->link_ifindex = li.xdp.ifindex;
		}
		close(fd);
	}

	if (st->xdp.prog_id && (fd = bpf_prog_get_fd_by_id(st->xdp.prog_id)) >= 0) {
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);

		pi.nr_map_ids = PW_MAX_MAPS;
		pi.map_ids = (__u64)(unsigned long)prog_maps;
		if (!bpf_obj_get_info_by_fd(fd, &pi, &len)) {
			snprintf(st->prog_name, sizeof(st->prog_name), "%s", pi.name);
			for (int i = 0; i < 8; i++)
				snprintf(st->prog_tag + 2 * i, 3, "%02x", pi.tag[i]);
			n_prog_maps = pi.nr_map_ids < PW_MAX_MAPS ? pi.nr_map_ids : PW_MAX_MAPS;
		}
		close(fd);
	}

	if (!st->managed) {
		if (st->xdp.prog_id)
			drift(st, "XDP program '%s' (id %u) attached by another tool, not by pinwall",
			      st->prog_name, st->xdp.prog_id);
		return;
	}
	pw_join(path, sizeof(path), st->ifdir, PW_DIR_MAPS);
	list_maps(st, path, false, prog_maps, n_prog_maps);
	pw_shared_dir(ctx, path, sizeof(path));
	list_maps(st, path, true, prog_maps, n_prog_maps);

	if (st->have_intent && !st->intent_running)
		drift(st, "interrupted %s (stopped after step '%s', pid %u): 'pinwall recover %s' finishes or rolls it back",
		      pw_op_name(st->intent.op), pw_step_name(st->intent.step), st->intent.pid,
		      st->ifname);
	/* pinwall's program: the one its record names (attached through
	 * netlink), or the one an earlier version's attached bpf_link holds */
	ours = !st->link_id ? (st->have_meta ? st->meta.prog_id : 0) :
	       st->link_ifindex ? st->link_prog_id : 0;
	if (!st->ifindex)
		drift(st, "interface '%s' does not exist: pins are stale (pinwall unload %s removes them)",
		      st->ifname, st->ifname);
	else if (st->link_id && !st->link_ifindex)
		drift(st, "link %u is detached (interface re-created?): pins whose program is gone",
		      st->link_id);
	if (st->xdp.prog_id && st->xdp.prog_id != ours)
		drift(st, "attached program '%s' (id %u) is not pinwall's: attached by another tool",
		      st->prog_name, st->xdp.prog_id);
	else if (st->ifindex && !st->xdp.prog_id &&
		 (ours || !st->have_meta || st->meta.prog_id))
		drift(st, "no program attached: pins whose program is gone");

	if (ours && st->xdp.prog_id == ours) {
		/* --pin-scope none: unpinned maps are what was asked for */
		for (int i = 0; !(st->have_meta && st->meta.pin_scope == PW_SCOPE_NONE) &&
				i < n_prog_maps; i++) {
			struct bpf_map_info mi;
			bool pinned = false;

			for (int j = 0; j < st->n_maps; j++)
				pinned |= st->maps[j].id == prog_maps[i];
			fd = bpf_map_get_fd_by_id(prog_maps[i]);
			if (fd < 0)
				continue;
			/* .rodata, .bss & co. are never pinned */
			if (!pinned && !pw_map_info(fd, &mi) && !strchr(mi.name, '.'))
				drift(st, "map '%s' (id %u) of the attached program is not pinned (pinwall repin %s)",
				      mi.name, mi.id, st->ifname);
			close(fd);
		}
		for (int j = 0; j < st->n_maps; j++) {
			if (!st->maps[j].id)
				drift(st, "pin '%s' does not hold a readable map", st->maps[j].path);
			else if (!st->maps[j].in_prog)
				drift(st, "pinned map '%s' is not used by the attached program",
				      st->maps[j].name);
		}
	}
}

int pw_status_walk(struct pw_ctx *ctx, const char *ifname,
		   int (*cb)(const struct pw_status *st, void *arg), void *arg)
{
	struct pw_status *st = calloc(1, sizeof(*st));
	char nsdir[PW_PATH_LEN];
	struct if_nameindex *ifs = NULL;
	int err = pw_bpffs_prepare(ctx, false), found = 0;
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
	if (bpffs && (d = opendir(nsdir))) {
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
