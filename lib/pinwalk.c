// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Walking and removing below the pin root without following symbolic links.
 * The pin root itself is taken as the operator gave it (--pin-root, resolved
 * by the kernel once, when it is opened); every component below it must be
 * a real directory or pin. Removals go through directory file descriptors
 * (openat with O_NOFOLLOW, unlinkat), so a link found inside the root is
 * removed itself, never what it points to, and nothing outside the root is
 * ever removed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

size_t pw_root_len(const struct pw_ctx *ctx, const char *path)
{
	size_t n = strlen(ctx->pin_root);

	/* a path not below the pin root: only its last component is checked */
	if (strncmp(path, ctx->pin_root, n) || (path[n] != '/' && path[n] != '\0')) {
		const char *slash = strrchr(path, '/');

		return slash ? (size_t)(slash - path) : 0;
	}
	return n;
}

size_t pw_ifdir_root_len(const char *ifdir)
{
	const char *end = ifdir + strlen(ifdir);

	/* IFDIR is ROOT/ns<INODE>/IFNAME */
	for (int i = 0; i < 2 && end > ifdir; i++)
		while (--end > ifdir && *end != '/')
			;
	return (size_t)(end - ifdir);
}

int pw_below_check(const char *path, size_t root_len, char *link, size_t len)
{
	char buf[PW_PATH_LEN];
	struct stat st;
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = root_len + 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (lstat(buf, &st))
			return -errno;
		if (S_ISLNK(st.st_mode)) {
			if (link)
				snprintf(link, len, "%s", buf);
			return -ELOOP;
		}
		buf[i] = path[i];
	}
	return 0;
}

int pw_nofollow(struct pw_ctx *ctx, const char *path)
{
	char link[PW_PATH_LEN];

	if (pw_below_check(path, pw_root_len(ctx, path), link, sizeof(link)) != -ELOOP)
		return 0;
	return pw_fail(ctx, ELOOP, "'%s' is a symbolic link: pinwall never follows links inside the pin root (remove the link)",
		       link);
}

int pw_opendir_below(const char *path, size_t root_len)
{
	char buf[PW_PATH_LEN];
	size_t n = strlen(path);
	int fd, next;
	char *p, *save = NULL;

	if (n >= sizeof(buf) || root_len > n)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	buf[root_len] = '\0';
	/* the root: as given (an empty root is the current directory) */
	fd = open(root_len ? buf : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (root_len == n)
		return fd;
	for (p = strtok_r(buf + root_len + 1, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		next = openat(fd, p, DIR_FLAGS);
		close(fd);
		if (next < 0)
			return -errno;	/* ELOOP (or ENOTDIR): a link, never followed */
		fd = next;
	}
	return fd;
}

/* Open @name in @dirfd as a directory, never through a link. */
static int opendir_at(int dirfd, const char *name, DIR **out)
{
	int fd = openat(dirfd, name, DIR_FLAGS);

	*out = NULL;
	if (fd < 0)
		return -errno;
	*out = fdopendir(fd);
	if (!*out) {
		int err = -errno;

		close(fd);
		return err;
	}
	return 0;
}

int pw_rm_tree_at(int at, const char *name)
{
	struct dirent *e;
	DIR *d;
	int err = 0, oerr = opendir_at(at, name, &d);

	/* not a directory (a pin, a file, a link): the entry itself goes */
	if (oerr == -ELOOP || oerr == -ENOTDIR)
		return unlinkat(at, name, 0) ? -errno : 0;
	if (oerr)
		return oerr;
	while ((e = readdir(d))) {
		int e1;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((e1 = pw_rm_tree_at(dirfd(d), e->d_name)))
			err = err ?: e1;
	}
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR))
		err = err ?: -errno;
	return err;
}

void pw_rm_pins_at(int at, const char *name)
{
	struct dirent *e;
	DIR *d;
	int err = opendir_at(at, name, &d);

	if (err == -ELOOP || err == -ENOTDIR) {
		unlinkat(at, name, 0);	/* a link in our place: the link goes */
		return;
	}
	if (err)
		return;
	/* pins, and links among them (removed themselves); never subdirectories */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

/* Open the directory holding @path (below the root) and name its last part. */
static int parent_at(const char *path, size_t root_len, const char **name)
{
	char dir[PW_PATH_LEN];
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) < root_len ||
	    (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, path, slash - path);
	dir[slash - path] = '\0';
	*name = slash + 1;
	return pw_opendir_below(dir, root_len);
}

int pw_unlink_below(const char *path, size_t root_len)
{
	const char *name;
	int fd = parent_at(path, root_len, &name), err = 0;

	if (fd < 0)
		return fd;
	if (unlinkat(fd, name, 0))
		err = -errno;
	close(fd);
	return err;
}

int pw_rmdir_below(const char *path, size_t root_len)
{
	const char *name;
	int fd = parent_at(path, root_len, &name), err = 0;

	if (fd < 0)
		return fd;
	if (unlinkat(fd, name, AT_REMOVEDIR))
		err = -errno;
	close(fd);
	return err;
}

int pw_obj_get_below(const char *path, size_t root_len, __u32 file_flags)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = file_flags);
	int err = pw_below_check(path, root_len, NULL, 0);
	int fd;

	if (err)
		return err;
	fd = bpf_obj_get_opts(path, &opts);
	return fd < 0 ? -errno : fd;
}

/* Is @name in @dirfd a symbolic link? Its target (cut to fit) in @target. */
bool pw_symlink_at(int dirfd, const char *name, char *target, size_t len)
{
	struct stat sb;
	ssize_t n;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISLNK(sb.st_mode))
		return false;
	n = readlinkat(dirfd, name, target, len - 1);
	target[n > 0 ? n : 0] = '\0';
	return true;
}
