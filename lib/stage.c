// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pinning what a plan (plan.c) decided: every map the new program brings is
 * pinned below pending/ (and migrated there) until the switch, after which
 * pw_intent_finish renames it into place; rule commands pin the shared maps
 * they create in place, since nothing runs on them yet.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static int pin_at(struct pw_ctx *ctx, int fd, const char *name, const char *path)
{
	char dir[PW_PATH_LEN];
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if ((err = pw_mkdirs(ctx, dir)))
		return err;
	if (bpf_obj_pin(fd, path))
		return pw_fail(ctx, errno, "cannot pin map '%s' at '%s': %s", name, path,
			       strerror(errno));
	return 0;
}

static void unpin_new(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		if (plan->m[i].pinned_now)
			unlink(plan->m[i].path);
		plan->m[i].pinned_now = false;
	}
}

int pw_plan_pin_shared(struct pw_ctx *ctx, struct pw_plan *plan)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->fate != PW_FATE_CREATE || pm->unpinned || !pm->shared)
			continue;
		if ((err = pin_at(ctx, bpf_map__fd(pm->map), bpf_map__name(pm->map), pm->path))) {
			unpin_new(plan);
			return err;
		}
		pm->pinned_now = true;
	}
	return 0;
}

/*
 * Every map the new program brings (created, migrated, fresh) pinned below
 * pending/, and the first copy of every migration (with a snapshot when an
 * old program still runs). Nothing outside pending/ changes here.
 */
int pw_plan_stage(struct pw_ctx *ctx, struct pw_plan *plan, bool old_runs)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];
		const char *name = bpf_map__name(pm->map);
		int nfd = bpf_map__fd(pm->map);

		if (pm->fate == PW_FATE_REUSE || pm->unpinned)
			continue;
		if (pm->fate == PW_FATE_MIGRATE) {
			if (old_runs) {
				pm->snap_fd = pw_migration_snapshot_create(pm->mig);
				if (pm->snap_fd < 0)
					return pw_fail(ctx, pm->snap_fd,
						       "cannot create a snapshot of map '%s': %s",
						       name, strerror(-pm->snap_fd));
				if ((err = pin_at(ctx, pm->snap_fd, name, pm->snap)))
					return err;
			}
			if (old_runs && (err = pw_migration_check_merge(pm->mig, nfd)))
				return pw_fail(ctx, err, "cannot load the merge helper for map '%s': %s; nothing was changed (start it empty with --fresh %s)",
					       name, strerror(-err), name);
			err = pw_migration_copy(pm->mig, pm->pinned_fd, pm->snap_fd, nfd);
			if (err)
				return pw_fail(ctx, err, "cannot copy the entries of map '%s' (%s): %s; nothing was changed",
					       name, pm->path, strerror(-err));
		}
		/* a map new here must still be new at the rename (see intent.c) */
		if ((err = pin_at(ctx, nfd, name, pm->fate == PW_FATE_CREATE ? pm->side_new : pm->side)))
			return err;
	}
	return 0;
}
