// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Will the pins a load makes outlive the command? A bpffs mounted only in
 * this process's mount namespace (`unshare -m`, and the bpffs pinwall
 * would mount there itself) goes away with the namespace, taking the pins
 * and with them every way to find, reload or unload the program. The
 * program itself stays attached (netlink), so a load there would leave a
 * filter nobody can manage: refuse it before any change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include "internal.h"

/* The nearest existing directory at or above @path. */
static void nearest_existing(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) && errno == ENOENT && (slash = strrchr(buf, '/'))) {
		if (slash == buf) {
			buf[1] = '\0';
			break;
		}
		*slash = '\0';
	}
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Kernels that number the initial mount namespace give it this inode
 * (PROC_MNT_INIT_INO); it needs no access to PID 1 to be recognised. */
#define MNT_NS_INIT_INO 0xEFFFFFF8u

static bool host_mount_ns(void)
{
	struct stat st;

	if (!stat("/proc/self/ns/mnt", &st) && st.st_ino == MNT_NS_INIT_INO)
		return true;
	return same_file("/proc/self/ns/mnt", "/proc/1/ns/mnt");
}

int pw_pins_outlive(struct pw_ctx *ctx)
{
	char probe[PW_PATH_LEN], host[PW_PATH_LEN + 16];
	const char *mnt = PW_BPFFS_MOUNT;
	struct statfs sfs;
	struct stat here, there;

	if (host_mount_ns())
		return 0;	/* the host's (or the container's) own mount namespace */
#ifdef PW_TEST_HOOKS
	/* tests of load --flat-path: a fresh bpffs of their own, its root free */
	if (getenv("PINWALL_TEST_PRIVATE_BPFFS"))
		return 0;
#endif
	nearest_existing(ctx->pin_root, probe, sizeof(probe));
	if (strncmp(ctx->pin_root, PW_BPFFS_MOUNT "/", strlen(PW_BPFFS_MOUNT) + 1))
		mnt = probe;
	if (statfs(probe, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		if (mnt == probe)
			return 0;	/* not on bpffs: pw_bpffs_prepare says so */
		goto refuse;		/* pinwall would mount a private one */
	}
	/* the same bpffs instance at the same path in PID 1's mount namespace
	 * (PID 1 out of reach: cannot tell, refused) */
	snprintf(host, sizeof(host), "/proc/1/root%s", probe);
	if (!stat(probe, &here) && !stat(host, &there) && here.st_dev == there.st_dev)
		return 0;
refuse:
	return pw_fail(ctx, EXDEV,
		       "bpffs at '%s' is not mounted in the host's mount namespace: pins made here vanish when 'pinwall' exits; mount it there first or run outside 'unshare -m'",
		       mnt);
}
