// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pin root: privileges, bpffs (mounted by load when missing), the
 * layout below the root (a directory per network namespace and interface,
 * shared/ for maps pinned by name), and the lock every change takes.
 * What goes into that layout: plan.c and stage.c (maps), record.c (records).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

int pw_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool pw_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int pw_check_caps(struct pw_ctx *ctx)
{
	cap_flag_value_t bpf = CAP_CLEAR, admin = CAP_CLEAR, net = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return pw_fail(ctx, errno, "cannot read capabilities: %s", strerror(errno));
	cap_get_flag(caps, CAP_BPF, CAP_EFFECTIVE, &bpf);
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	cap_get_flag(caps, CAP_NET_ADMIN, CAP_EFFECTIVE, &net);
	cap_free(caps);
	if ((bpf != CAP_SET && admin != CAP_SET) || net != CAP_SET)
		return pw_fail(ctx, EPERM,
			       "missing capabilities: pinwall needs CAP_BPF and CAP_NET_ADMIN (run it as root)");
	return 0;
}

int pw_check_caps_read(struct pw_ctx *ctx)
{
	cap_flag_value_t bpf = CAP_CLEAR, admin = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return pw_fail(ctx, errno, "cannot read capabilities: %s", strerror(errno));
	cap_get_flag(caps, CAP_BPF, CAP_EFFECTIVE, &bpf);
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	cap_free(caps);
	/* with unprivileged BPF off (the default) every bpf() call needs it */
	if (bpf != CAP_SET && admin != CAP_SET)
		return pw_fail(ctx, EPERM,
			       "missing capabilities: reading pins needs CAP_BPF (run it as root)");
	return 0;
}

/* 1: on bpffs, 0: on another filesystem, -errno: cannot tell. A bpffs
 * mounted with mode 0700 (the default, and pinwall's own mount) hides what
 * is below it from the unprivileged: EACCES is no answer, not a "no". */
static int on_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

static int cannot_look(struct pw_ctx *ctx, int err)
{
	bool denied = err == EACCES || err == EPERM;

	return pw_fail(ctx, err, "cannot look at pin root '%s': %s", ctx->pin_root,
		       denied ? "permission denied (run as root)" : strerror(err));
}

int pw_mkdirs(struct pw_ctx *ctx, const char *path)
{
	char buf[PW_PATH_LEN];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return pw_fail(ctx, errno, "cannot create directory '%s': %s",
				       buf, strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

int pw_bpffs_prepare(struct pw_ctx *ctx, bool create)
{
	char probe[PW_PATH_LEN];
	struct stat st;
	char *slash;
	int fs;

	if (ctx->pin_root[0] != '/')
		return pw_fail(ctx, EINVAL, "pin root '%s' is not an absolute path",
			       ctx->pin_root);
	/* the nearest existing directory decides which filesystem we are on */
	snprintf(probe, sizeof(probe), "%s", ctx->pin_root);
	while (stat(probe, &st) && errno == ENOENT && (slash = strrchr(probe, '/'))) {
		if (slash == probe) {
			probe[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	if ((fs = on_bpffs(probe)) < 0)
		return cannot_look(ctx, -fs);
	if (!fs) {
		bool under_default = !strncmp(ctx->pin_root, PW_BPFFS_MOUNT "/",
					      strlen(PW_BPFFS_MOUNT) + 1) &&
				     !strcmp(probe, PW_BPFFS_MOUNT);

		if (!under_default)
			return pw_fail(ctx, ENOTSUP,
				       "pin root '%s' is not on bpffs: choose a --pin-root below %s, or mount one there with 'mkdir -p %s && mount -t bpf bpf %s'",
				       ctx->pin_root, PW_BPFFS_MOUNT, ctx->pin_root, ctx->pin_root);
		if (!create)
			return pw_fail(ctx, ENOENT,
				       "bpffs not mounted at %s: nothing is loaded (pinwall load mounts it, or run 'mount -t bpf bpf %s')",
				       PW_BPFFS_MOUNT, PW_BPFFS_MOUNT);
		if (mount("bpf", PW_BPFFS_MOUNT, "bpf", 0, "mode=0700"))
			return pw_fail(ctx, errno,
				       "cannot mount bpffs at %s: %s (mount it with 'mount -t bpf bpf %s' as root)",
				       PW_BPFFS_MOUNT, strerror(errno), PW_BPFFS_MOUNT);
		if (on_bpffs(PW_BPFFS_MOUNT) <= 0)
			return pw_fail(ctx, ENOTSUP, "mounted bpffs at %s but it is not visible there",
				       PW_BPFFS_MOUNT);
	}
	if (stat(ctx->pin_root, &st)) {
		if (errno != ENOENT)
			return cannot_look(ctx, errno);
	} else if (!S_ISDIR(st.st_mode)) {
		return pw_fail(ctx, ENOTDIR, "pin root '%s' is not a directory", ctx->pin_root);
	}
	return create ? pw_mkdirs(ctx, ctx->pin_root) : 0;
}

/* bpffs refuses names with '.', which interface names may carry (eth0.100). */
/* -ENAMETOOLONG, never a cut name: a cut one could name another interface */
static int escape_ifname(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 4 < len; in++) {
		if (*in == '.' || *in == '%')
			o += snprintf(out + o, len - o, "%%%02x", (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
	return *in ? -ENAMETOOLONG : 0;
}

void pw_ifname_unescape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	while (*in && o + 1 < len) {
		unsigned int c;

		if (in[0] == '%' && sscanf(in + 1, "%2x", &c) == 1) {
			out[o++] = (char)c;
			in += 3;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}

int pw_ns_dir(const struct pw_ctx *ctx, __u64 netns_ino, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/ns%llu", ctx->pin_root, (unsigned long long)netns_ino);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pw_iface_dir(const struct pw_ctx *ctx, __u64 netns_ino, const char *ifname,
		 char *buf, size_t len)
{
	char esc[3 * IFNAMSIZ + 1], ns[PW_PATH_LEN];
	int err = pw_ns_dir(ctx, netns_ino, ns, sizeof(ns));

	if (!err && strlen(ifname) >= IFNAMSIZ)
		err = -ENAMETOOLONG;
	err = err ?: escape_ifname(ifname, esc, sizeof(esc));
	if (err) {
		if (len)
			buf[0] = '\0';	/* callers that only probe find nothing there */
		return err;
	}
	return pw_join(buf, len, ns, esc);
}

int pw_shared_dir(const struct pw_ctx *ctx, char *buf, size_t len)
{
	return pw_join(buf, len, ctx->pin_root, PW_DIR_SHARED);
}

/* maps/, pending/, the interface directory and its ns<ino> parent, each
 * only when empty: what unload and a rolled-back load leave. */
void pw_remove_empty_dirs(const struct pw_ctx *ctx, const char *ifdir)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN], *slash;

	pw_join(path, sizeof(path), ifdir, PW_DIR_MAPS);
	pw_rmdir_below(path, root_len);
	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING);
	pw_rmdir_below(path, root_len);
	snprintf(path, sizeof(path), "%s", ifdir);
	/* ifdir, then its ns<ino> parent, never above the pin root */
	for (int i = 0; i < 2; i++) {
		if (pw_rmdir_below(path, root_len))
			break;
		slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) <= root_len)
			break;
		*slash = '\0';
	}
}

int pw_lock(struct pw_ctx *ctx, int *lock_fd)
{
	int fd = open(ctx->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open pin root '%s': %s",
			       ctx->pin_root, strerror(errno));
	if (flock(fd, LOCK_EX)) {
		int err = errno;

		close(fd);
		return pw_fail(ctx, err, "cannot lock pin root '%s': %s",
			       ctx->pin_root, strerror(err));
	}
	*lock_fd = fd;
	return 0;
}

bool pw_lock_held(const struct pw_ctx *ctx)
{
	int fd = open(ctx->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool held;

	/* a probe, never a wait: readers must not block behind a writer */
	held = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	if (fd >= 0)
		close(fd);	/* drops a shared lock taken */
	return held;
}

void pw_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);	/* releases the flock */
}

int pw_ifindex(struct pw_ctx *ctx, const char *ifname)
{
	unsigned int idx;

	if (strlen(ifname) >= IFNAMSIZ)
		return pw_fail(ctx, EINVAL, "interface name '%s' is longer than %d characters",
			       ifname, IFNAMSIZ - 1);
	idx = if_nametoindex(ifname);
	if (!idx)
		return pw_fail(ctx, ENODEV, "no such interface '%s' in this network namespace (see 'ip link')",
			       ifname);
	return (int)idx;
}
