/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A private pin root for programs that apply rules to skeleton-owned maps
 * (the unit tests, bench/cost): pw_rules_apply keeps its intent record in the
 * pin root while it runs. The directory is removed at exit, with a record a
 * killed run may have left.
 */
#ifndef PW_SCRATCHROOT_H
#define PW_SCRATCHROOT_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char scratch_root[64];

static void scratch_root_remove(void)
{
	static const char *const left[] = { "rules_intent", "rules_intent_new" };
	char path[128];

	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch_root, left[i]);
		unlink(path);
	}
	rmdir(scratch_root);
}

/* /sys/fs/bpf/<PREFIX><PID>; removed at exit */
static const char *scratch_root_make(const char *prefix)
{
	snprintf(scratch_root, sizeof(scratch_root), "/sys/fs/bpf/%s%d", prefix, (int)getpid());
	atexit(scratch_root_remove);
	return scratch_root;
}

#endif
