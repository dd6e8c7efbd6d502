// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * load --flat-path: <bpffs root>/<ifname> as a bpffs symbolic link to the
 * interface's maps/ directory, the path the classic tutorial's stats
 * readers open (<ifname>/xdp_stats_map). A link, never a second pin: it
 * follows every map a reload puts in place, where a second pin would keep
 * the old map alive. The name holds no network namespace, so one namespace
 * per interface name can have it. pinwall only ever replaces or removes a
 * link it made: one whose target is an interface's maps/ of its pin root.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "internal.h"

/* The mount point of the bpffs holding the pin root (nearest existing
 * directory, then up while the parent is the same file system). */
static int bpffs_root(const struct pw_ctx *ctx, char *buf, size_t len)
{
	char up[PW_PATH_LEN];
	struct stat st, pst;

	snprintf(buf, len, "%s", ctx->pin_root);
	while (stat(buf, &st) && strrchr(buf, '/') && strcmp(buf, "/"))
		*strrchr(buf, '/') = '\0';
	if (!buf[0] || stat(buf, &st))
		return -ENOENT;
	while (strcmp(buf, "/")) {
		snprintf(up, sizeof(up), "%s", buf);
		dirname(up);
		if (stat(up, &pst) || pst.st_dev != st.st_dev)
			break;
		snprintf(buf, len, "%s", up);
	}
	return 0;
}

int pw_flat_path(const struct pw_ctx *ctx, const char *ifname, char *buf, size_t len)
{
	char root[PW_PATH_LEN];
	int err = bpffs_root(ctx, root, sizeof(root));

	return err ?: pw_join(buf, len, root, ifname);
}

/* The link's target for the interface directory @ifdir: relative to the
 * bpffs root, so it holds wherever that bpffs is mounted. */
static int flat_target(const char *flat, const char *ifdir, char *buf, size_t len)
{
	size_t rl = strrchr(flat, '/') - flat;

	if (strncmp(ifdir, flat, rl) || ifdir[rl] != '/')
		return -EXDEV;
	return snprintf(buf, len, "%s/%s", ifdir + rl + 1, PW_DIR_MAPS) >= (int)len ?
	       -ENAMETOOLONG : 0;
}

/* @ours is REL/ns<INODE>/ESC/maps: is @target the same for another
 * network namespace? Its inode number in @ino. */
static bool other_ns_link(const char *target, const char *ours, char *ino, size_t len)
{
	const char *tail = ours + strlen(ours), *nsp;
	size_t pre, dl;

	for (int i = 0; i < 2 && tail > ours; i++)
		while (--tail > ours && *tail != '/')
			;
	for (nsp = tail; nsp > ours && nsp[-1] != '/'; nsp--)
		;
	pre = nsp - ours;
	if (strncmp(nsp, "ns", 2) || strncmp(target, ours, pre) || strncmp(target + pre, "ns", 2))
		return false;
	dl = strspn(target + pre + 2, "0123456789");
	if (!dl || strcmp(target + pre + 2 + dl, tail))
		return false;
	snprintf(ino, len, "%.*s", (int)dl, target + pre + 2);
	return true;
}

struct flat {
	char path[PW_PATH_LEN], target[PW_PATH_LEN], cur[PW_PATH_LEN];
	bool exists, ours, stale;	/* a link: to this interface, to a gone one */
};

/* What is at the flat path of @ifname now; an error names it when it is
 * not free for this interface. */
static int flat_look(struct pw_ctx *ctx, const char *ifname, const char *ifdir, struct flat *f)
{
	char ino[24], otherdir[PW_PATH_LEN];
	struct stat st;
	ssize_t n;
	int err;

	memset(f, 0, sizeof(*f));
	if (strchr(ifname, '.'))
		return pw_fail(ctx, EINVAL, "--flat-path: interface name '%s' has a '.', which bpffs refuses in names",
			       ifname);
	if ((err = pw_flat_path(ctx, ifname, f->path, sizeof(f->path))) ||
	    (err = flat_target(f->path, ifdir, f->target, sizeof(f->target))))
		return pw_fail(ctx, err, "--flat-path: no flat path for '%s' below the bpffs of '%s'",
			       ifname, ctx->pin_root);
	if (lstat(f->path, &st))
		return errno == ENOENT ? 0 : pw_fail(ctx, errno, "--flat-path: cannot look at '%s': %s",
						     f->path, strerror(errno));
	f->exists = true;
	if (!S_ISLNK(st.st_mode))
		return pw_fail(ctx, EEXIST, "--flat-path: '%s' exists and is not pinwall's link: left alone; nothing was changed",
			       f->path);
	n = readlink(f->path, f->cur, sizeof(f->cur) - 1);
	f->cur[n > 0 ? n : 0] = '\0';
	if ((f->ours = !strcmp(f->cur, f->target)))
		return 0;
	if (!other_ns_link(f->cur, f->target, ino, sizeof(ino)))
		return pw_fail(ctx, EEXIST, "--flat-path: '%s' is a link pinwall did not make (to '%s'): left alone; nothing was changed",
			       f->path, f->cur);
	/* the other namespace's interface directory, without the "/maps" */
	snprintf(otherdir, sizeof(otherdir), "%.*s/%.*s", (int)(strrchr(f->path, '/') - f->path),
		 f->path, (int)(strlen(f->cur) - strlen(PW_DIR_MAPS) - 1), f->cur);
	if (pw_path_exists(otherdir))
		return pw_fail(ctx, EEXIST, "--flat-path: '%s' is taken by '%s' of network namespace %s (one namespace per interface name can have it); nothing was changed",
			       f->path, ifname, ino);
	f->stale = true;	/* pinwall's, for an interface whose pins are gone */
	return 0;
}

int pw_flat_check(struct pw_ctx *ctx, const char *ifname, const char *ifdir)
{
	struct flat f;

	return flat_look(ctx, ifname, ifdir, &f);
}

/* After the switch: the link made (or made again over a stale one of ours). */
int pw_flat_make(struct pw_ctx *ctx, const char *ifname, const char *ifdir)
{
	struct flat f;
	int err = flat_look(ctx, ifname, ifdir, &f);

	if (err || f.ours)
		return err;
	if (f.stale && unlink(f.path))
		return pw_fail(ctx, errno, "--flat-path: cannot replace '%s': %s", f.path,
			       strerror(errno));
	if (symlink(f.target, f.path))
		return pw_fail(ctx, errno, "--flat-path: cannot make the link '%s': %s", f.path,
			       strerror(errno));
	return 0;
}

/* unload, clean: the link goes only when it is this interface's. */
void pw_flat_remove(struct pw_ctx *ctx, const char *ifname, const char *ifdir)
{
	char err[PW_ERR_LEN];
	struct flat f;

	memcpy(err, ctx->err, sizeof(err));
	if (!flat_look(ctx, ifname, ifdir, &f) && f.ours)
		unlink(f.path);
	memcpy(ctx->err, err, sizeof(err));
}
