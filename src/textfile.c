// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Atomic replacement of a whole file, for readers that may look at any
 * moment (node_exporter's textfile collector reads *.prom files; the
 * temporary PATH.tmp is not one).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "textfile.h"

static int fail(char *why, size_t wlen, int err, const char *what, const char *path)
{
	snprintf(why, wlen, "%s '%s': %s", what, path, strerror(err));
	return -err;
}

/* The directory of @path into @dir ("." for a bare name). */
static int dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;

	if (n >= len)
		return -ENAMETOOLONG;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (!n)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return 0;
}

int textfile_check(const char *path, char *why, size_t wlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (strlen(path) + sizeof(".tmp") > PATH_MAX || dir_of(path, dir, sizeof(dir)))
		return fail(why, wlen, ENAMETOOLONG, "cannot write", path);
	if (!*path || path[strlen(path) - 1] == '/')
		return fail(why, wlen, EISDIR, "cannot write", path);
	if (stat(dir, &st))
		return fail(why, wlen, errno, "cannot write into directory", dir);
	if (!S_ISDIR(st.st_mode))
		return fail(why, wlen, ENOTDIR, "cannot write into", dir);
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return fail(why, wlen, EISDIR, "cannot write", path);
	if (access(dir, W_OK | X_OK))
		return fail(why, wlen, errno, "cannot write into directory", dir);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The rename is on disk once the directory is. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd;

	if (dir_of(path, dir, sizeof(dir)))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A new regular file at @tmp, ours alone: whatever was left or planted
 * there (a link, a FIFO that would block the open, a file someone else
 * owns) is removed first, and O_EXCL fails rather than open one put back. */
static int open_new(const char *tmp)
{
	struct stat st;
	int fd;

	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EEXIST;
	}
	return fd;
}

int textfile_write(const char *path, const char *text, size_t len, char *why, size_t wlen)
{
	char tmp[PATH_MAX];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return fail(why, wlen, ENAMETOOLONG, "cannot write", path);
	fd = open_new(tmp);
	if (fd < 0)
		return fail(why, wlen, -fd, "cannot write", tmp);
	fchmod(fd, 0644);	/* node_exporter runs as its own user: it must read it */
	err = write_all(fd, text, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err) {
		unlink(tmp);
		return fail(why, wlen, -err, "cannot write", tmp);
	}
	if (rename(tmp, path)) {
		err = errno;
		unlink(tmp);
		return fail(why, wlen, err, "cannot rename the new file over", path);
	}
	sync_dir(path);
	return 0;
}
