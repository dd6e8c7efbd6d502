/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A private pin root for programs that apply rules to skeleton-owned maps
 * (the unit tests, bench/cost): pw_rules_apply keeps its intent record in the
 * pin root while it runs. The root is a bpffs instance of its own, mounted on
 * a fresh directory below /tmp, so nothing depends on whether or how the
 * machine has bpffs mounted at /sys/fs/bpf; it is unmounted and removed at
 * exit, with whatever a killed run left in it.
 */
#ifndef PW_SCRATCHROOT_H
#define PW_SCRATCHROOT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char scratch_root[64];

static void scratch_root_remove(void)
{
	/* a bpffs instance goes with its pins when unmounted */
	umount2(scratch_root, MNT_DETACH);
	rmdir(scratch_root);
}

/* /tmp/<PREFIX><PID>.bpffs, a private bpffs; removed at exit. NULL on failure. */
static const char *scratch_root_make(const char *prefix)
{
	snprintf(scratch_root, sizeof(scratch_root), "/tmp/%s%d.bpffs", prefix, (int)getpid());
	if (mkdir(scratch_root, 0700) && errno != EEXIST) {
		fprintf(stderr, "scratch root '%s': %s\n", scratch_root, strerror(errno));
		return NULL;
	}
	if (mount("bpf", scratch_root, "bpf", 0, "mode=0700")) {
		fprintf(stderr, "cannot mount bpffs on '%s': %s\n", scratch_root, strerror(errno));
		rmdir(scratch_root);
		return NULL;
	}
	atexit(scratch_root_remove);
	return scratch_root;
}

#endif
