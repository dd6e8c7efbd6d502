// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * clean: find (and with @remove, delete) pin directories whose network
 * namespace or interface is gone, or whose link is detached. Live pins,
 * directories unloaded with --keep-maps, rule maps, and anything outside the
 * pin root are never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

/* Inodes of every network namespace some process or /run/netns holds. */
static int live_netns(__u64 *ino, int max)
{
	const char *dirs[] = { "/proc", "/run/netns" };
	int n = 0;

	for (int d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir)) && n < max) {
			char path[PW_PATH_LEN];
			struct stat st;
			bool seen = false;

			if (d == 0 && (e->d_name[0] < '0' || e->d_name[0] > '9'))
				continue;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s" : "%s/%s/ns/net", dirs[d], e->d_name);
			if (stat(path, &st))
				continue;
			for (int i = 0; i < n && !seen; i++)
				seen = ino[i] == st.st_ino;
			if (!seen)
				ino[n++] = st.st_ino;
		}
		closedir(dir);
	}
	return n;
}

/* A symbolic link inside the pin root is never followed: reported as stale
 * (the link itself is what clean --yes removes, never its target). */
static bool is_link_at(int dirfd, const char *name, char *why, size_t len)
{
	char target[160];

	if (!pw_symlink_at(dirfd, name, target, sizeof(target)))
		return false;
	snprintf(why, len, "symbolic link to '%s' inside the pin root: never followed", target);
	return true;
}

static __u32 attached_id(const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	struct pw_xdp_state st;

	return ifindex > 0 && !pw_xdp_state(ifindex, &st) ? st.prog_id : 0;
}

static bool prog_exists(__u32 id)
{
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno != ENOENT;
}

/* Why the interface directory @it->path is stale, live or kept. */
static void judge(struct pw_clean_item *it, bool ns_live, bool here, size_t root_len)
{
	char lpath[PW_PATH_LEN];
	struct bpf_link_info li;
	struct pw_intent in;
	struct pw_meta meta;
	int fd;

	pw_join(lpath, sizeof(lpath), it->path, PW_PIN_LINK);
	fd = pw_obj_get_below(lpath, root_len, 0);
	/* an attached link is live whatever else we think we know */
	if (fd >= 0 && (!ns_live || !here) && !pw_link_info(fd, &li) && li.xdp.ifindex != 0)
		snprintf(it->why, sizeof(it->why), "live: its link is attached");
	else if (!ns_live) {
		it->stale = true;
		snprintf(it->why, sizeof(it->why), "network namespace %llu is gone",
			 (unsigned long long)it->netns_ino);
	} else if (!here) {
		snprintf(it->why, sizeof(it->why), "in another network namespace: not checked (use -n)");
	} else if (!if_nametoindex(it->ifname)) {
		it->stale = true;
		snprintf(it->why, sizeof(it->why), "interface '%s' is gone", it->ifname);
	} else if (!pw_intent_read(it->path, &in)) {
		/* a killed operation: recover decides, not clean */
		snprintf(it->why, sizeof(it->why), "interrupted %s: run 'pinwall recover %s'",
			 pw_op_name(in.op), it->ifname);
	} else if (fd >= 0 && !pw_link_info(fd, &li) && li.xdp.ifindex == 0) {
		it->stale = true;
		snprintf(it->why, sizeof(it->why), "link %u is detached: its program is gone", li.id);
	} else if (fd >= 0) {
		snprintf(it->why, sizeof(it->why), "live");
	} else if (pw_meta_read(it->path, &meta)) {
		snprintf(it->why, sizeof(it->why), "no load record: see 'pinwall status %s'", it->ifname);
	} else if (!meta.prog_id) {
		snprintf(it->why, sizeof(it->why), "unloaded with --keep-maps: kept");
	} else if (attached_id(it->ifname) == meta.prog_id) {
		snprintf(it->why, sizeof(it->why), "live");
	} else if (!prog_exists(meta.prog_id)) {
		/* attached through netlink: gone with its interface or its detach */
		it->stale = true;
		snprintf(it->why, sizeof(it->why), "program %u is gone", meta.prog_id);
	} else {
		snprintf(it->why, sizeof(it->why), "program %u is not attached: see 'pinwall status %s'",
			 meta.prog_id, it->ifname);
	}
	if (fd >= 0)
		close(fd);
}

/* Every interface directory of one ns<INODE> directory, opened below the
 * root without following links. */
static int clean_ns(struct pw_ctx *ctx, int nsfd, const char *nsdir, __u64 ino, bool ns_live,
		    bool remove, int (*cb)(const struct pw_clean_item *it, void *arg), void *arg)
{
	size_t root_len = strlen(ctx->pin_root);
	DIR *d = fdopendir(nsfd);
	struct dirent *ifd;
	int err = 0;

	if (!d) {
		close(nsfd);
		return 0;
	}
	while (!err && (ifd = readdir(d))) {
		struct pw_clean_item it = { 0 };

		if (ifd->d_name[0] == '.')
			continue;
		pw_join(it.path, sizeof(it.path), nsdir, ifd->d_name);
		pw_ifname_unescape(ifd->d_name, it.ifname, sizeof(it.ifname));
		it.netns_ino = ino;
		if (is_link_at(dirfd(d), ifd->d_name, it.why, sizeof(it.why)))
			it.stale = true;
		else
			judge(&it, ns_live, ino == ctx->netns_ino, root_len);
		if (it.stale && remove) {
			int e1;

			/* its flat path (load --flat-path) goes with it, only if ours */
			pw_flat_remove(ctx, it.ifname, it.path);
			e1 = pw_rm_tree_at(dirfd(d), ifd->d_name);

			it.removed = e1 == 0;
			if (e1)
				err = pw_fail(ctx, e1, "cannot remove '%s': %s", it.path, strerror(-e1));
		}
		if (!err)
			err = cb(&it, arg);
	}
	closedir(d);
	return err;
}

int pw_clean(struct pw_ctx *ctx, bool remove,
	     int (*cb)(const struct pw_clean_item *it, void *arg), void *arg)
{
	__u64 *live = calloc(65536, sizeof(*live));
	int n_live, lock_fd = -1, err = 0, rootfd = -1;
	DIR *root = NULL;
	struct dirent *ns;

	if (!live)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = pw_check_caps(ctx)) || (err = pw_bpffs_prepare(ctx, false)))
		goto out;
	if (!pw_path_exists(ctx->pin_root))
		goto out;	/* nothing pinned: nothing stale */
	if (remove && (err = pw_lock(ctx, &lock_fd)))
		goto out;
	n_live = live_netns(live, 65536);
	/* the root as given; everything below it is walked by fd */
	rootfd = pw_opendir_below(ctx->pin_root, strlen(ctx->pin_root));
	root = rootfd >= 0 ? fdopendir(rootfd) : NULL;
	while (root && !err && (ns = readdir(root))) {
		struct pw_clean_item it = { 0 };
		char nsdir[PW_PATH_LEN];
		unsigned long long ino;
		bool ns_live = false;
		int nsfd;

		if (sscanf(ns->d_name, "ns%llu", &ino) != 1 ||
		    pw_join(nsdir, sizeof(nsdir), ctx->pin_root, ns->d_name))
			continue;
		for (int i = 0; i < n_live; i++)
			ns_live |= live[i] == ino;
		if (is_link_at(dirfd(root), ns->d_name, it.why, sizeof(it.why))) {
			snprintf(it.path, sizeof(it.path), "%s", nsdir);
			it.netns_ino = ino;
			it.stale = true;
			if (remove) {
				it.removed = !unlinkat(dirfd(root), ns->d_name, 0);
				if (!it.removed)
					err = pw_fail(ctx, errno, "cannot remove '%s': %s", nsdir,
						      strerror(errno));
			}
			err = err ?: cb(&it, arg);
			continue;
		}
		nsfd = openat(dirfd(root), ns->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nsfd < 0)
			continue;
		err = clean_ns(ctx, nsfd, nsdir, ino, ns_live, remove, cb, arg);
		if (remove)
			unlinkat(dirfd(root), ns->d_name, AT_REMOVEDIR);	/* only if now empty */
	}
out:
	if (root)
		closedir(root);
	else if (rootfd >= 0)
		close(rootfd);
	pw_unlock(lock_fd);
	free(live);
	return err;
}
