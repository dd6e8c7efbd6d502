// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The plan of a load, reload or rule command, made before any change: for
 * every map of the object, where it is pinned (below the interface or
 * shared by name, or not at all) and whether its pin is reused as it is,
 * migrated, started empty or created. Any pin that cannot be used fails
 * the whole plan, one detail line per map. stage.c pins what it decided.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* Is shared map @name recorded by an interface other than @skip_dir? */
bool pw_shared_in_use(const struct pw_ctx *ctx, const char *skip_dir, const char *name,
		      char *user, size_t len)
{
	char nspath[PW_PATH_LEN], dir[PW_PATH_LEN];
	DIR *root = opendir(ctx->pin_root), *d;
	struct dirent *ns, *ifd;
	bool used = false;

	if (!root)
		return false;
	while (!used && (ns = readdir(root))) {
		if (strncmp(ns->d_name, "ns", 2) ||
		    pw_join(nspath, sizeof(nspath), ctx->pin_root, ns->d_name) ||
		    !(d = opendir(nspath)))
			continue;
		while (!used && (ifd = readdir(d))) {
			struct pw_meta m;

			struct pw_intent in;

			if (ifd->d_name[0] == '.' || pw_join(dir, sizeof(dir), nspath, ifd->d_name) ||
			    (skip_dir && !strcmp(dir, skip_dir)))
				continue;
			if (!pw_meta_read(dir, &m)) {
				for (__u32 i = 0; i < m.n_shared && i < PW_META_SHARED; i++)
					used |= !strncmp(m.shared[i], name, PW_MAP_NAME_LEN);
				if (used && user)
					snprintf(user, len, "%s", m.ifname);
			}
			/* a killed load or reload that staged a program using it */
			if (!used && !pw_intent_read(dir, &in) && in.step >= PW_STEP_STAGED &&
			    in.op != PW_OP_UNLOAD) {
				for (__u32 i = 0; i < in.next.n_shared && i < PW_META_SHARED; i++)
					used |= !strncmp(in.next.shared[i], name, PW_MAP_NAME_LEN);
				if (used && user)
					snprintf(user, len, "%s", in.next.ifname);
			}
		}
		closedir(d);
	}
	closedir(root);
	return used;
}

void pw_plan_free(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->pinned_fd >= 0)
			close(pm->pinned_fd);
		if (pm->snap_fd >= 0)
			close(pm->snap_fd);
		pm->pinned_fd = pm->snap_fd = -1;
		free(pm->mig);
		pm->mig = NULL;
	}
}

static bool in_list(const char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* The first detail line written since @from, without its "map 'X' (PATH): ". */
static void first_reason(const struct pw_ctx *ctx, size_t from, char *buf, size_t len)
{
	const char *p = ctx->detail + from, *colon = strstr(p, "): ");
	size_t n;

	if (colon && colon < strchrnul(p, '\n'))
		p = colon + 3;
	n = strchrnul(p, '\n') - p;
	snprintf(buf, len, "%.*s", (int)n, p);
}

int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 const struct pw_plan_opts *po, struct pw_plan *plan)
{
	static const struct pw_plan_opts none = { 0 };
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN], pending[PW_PATH_LEN];
	char first[PW_NAME_LEN] = "", reason[400] = "", names[256] = "";
	const struct btf *btf = bpf_object__btf(obj);
	struct pw_map_desc *pin = calloc(2, sizeof(*pin)), *nw = pin + 1;
	struct bpf_map *map;
	int err, refused = 0, lossy = 0;
	bool fresh_ok = true;		/* the first refused pin holds a map */
	size_t used = 0;

	memset(plan, 0, sizeof(*plan));
	if (!po)
		po = &none;
	if (!pin)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = pw_shared_dir(ctx, shared, sizeof(shared))) ||
	    (err = pw_join(maps, sizeof(maps), ifdir, PW_DIR_MAPS)) ||
	    (err = pw_join(pending, sizeof(pending), ifdir, PW_DIR_PENDING))) {
		free(pin);
		return pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);
	}
	bpf_object__for_each_map(map, obj)
		if (!bpf_map__is_internal(map) && used < sizeof(names))
			used += snprintf(names + used, sizeof(names) - used, "%s'%s'",
					 used ? ", " : "", bpf_map__name(map));
	for (int i = 0; i < po->n_fresh; i++) {
		map = bpf_object__find_map_by_name(obj, po->fresh[i]);
		if (!map || bpf_map__is_internal(map)) {
			free(pin);
			return pw_fail(ctx, ENOENT, "--fresh '%s': the program has no such map (its maps: %s); nothing was changed",
				       po->fresh[i], names);
		}
	}

	bpf_object__for_each_map(map, obj) {
		struct pw_plan_map *pm;
		struct bpf_map_info info;
		const char *name = bpf_map__name(map);
		size_t mark = strlen(ctx->detail);
		int fd, d;

		/* .rodata/.bss/.data/.kconfig belong to one load, not to the pins */
		if (bpf_map__is_internal(map))
			continue;
		if (plan->n == PW_MAX_MAPS) {
			err = pw_fail(ctx, E2BIG, "object has more than %d maps", PW_MAX_MAPS);
			goto fail;
		}
		pm = &plan->m[plan->n++];
		pm->map = map;
		pm->pinned_fd = pm->snap_fd = -1;
		/* by default LIBBPF_PIN_BY_NAME keeps its meaning: one map per
		 * name, shared; --pin-scope overrides it for the whole object */
		pm->shared = po->scope == PW_SCOPE_GLOBAL ||
			     (po->scope == PW_SCOPE_OBJECT && bpf_map__pin_path(map) != NULL);
		pm->unpinned = po->scope == PW_SCOPE_NONE;
		bpf_map__set_pin_path(map, NULL);	/* we pin, not libbpf */
		if (pm->unpinned) {
			pm->fate = PW_FATE_CREATE;
			continue;
		}
		err = pw_join(pm->path, sizeof(pm->path), pm->shared ? shared : maps, name);
		if (!err)
			err = snprintf(pm->side, sizeof(pm->side), "%s/%s/%s", pending,
				       pm->shared ? PW_DIR_SHARED : PW_DIR_MAPS, name) >=
			      (int)sizeof(pm->side) ? -ENAMETOOLONG : 0;
		if (!err)
			err = snprintf(pm->side_new, sizeof(pm->side_new), "%s/%s/%s", pending,
				       pm->shared ? PW_DIR_SHARED_NEW : PW_DIR_MAPS_NEW, name) >=
			      (int)sizeof(pm->side_new) ? -ENAMETOOLONG : 0;
		if (!err)
			err = snprintf(pm->snap, sizeof(pm->snap), "%s/%s/%s", pending,
				       PW_DIR_SNAP, name) >= (int)sizeof(pm->snap) ? -ENAMETOOLONG : 0;
		if (err) {
			err = pw_fail(ctx, err, "pin path for map '%s' is too long", name);
			goto fail;
		}
		pm->fate = PW_FATE_CREATE;
		fd = pw_open_map_pin(ctx, pm->path, false);
		if (fd == -ENOENT)
			continue;		/* new in this version: created at load */
		if (fd < 0) {
			pw_detail(ctx, "%s", ctx->err);
			if (!refused++) {
				snprintf(first, sizeof(first), "%s", name);
				snprintf(reason, sizeof(reason), "%s", ctx->err);
				fresh_ok = false;
			}
			continue;
		}
		pm->pinned_fd = fd;
		if ((err = pw_map_info(fd, &info))) {
			err = pw_fail(ctx, err, "cannot read map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
		if (in_list(po->fresh, po->n_fresh, name)) {
			pm->fate = PW_FATE_FRESH;
			d = PW_MAP_MIGRATE;
		} else {
			pw_map_desc_from_info(&info, pin);
			pw_map_desc_from_map(map, btf, nw);
			d = pw_map_decide(ctx, name, pm->path, pin, nw, &pm->mig);
			if (d < 0) {
				err = pw_fail(ctx, d, "out of memory");
				goto fail;
			}
			if (d == PW_MAP_REUSE) {
				pm->fate = PW_FATE_REUSE;
				continue;
			}
			if (d == PW_MAP_MIGRATE && po == &none) {
				/* rule commands create maps, they never migrate them */
				pw_detail(ctx, "map '%s' (%s): %s: reload an interface to migrate it",
					  name, pm->path, pm->mig->why);
				d = PW_MAP_REFUSE;
			}
			if (d == PW_MAP_MIGRATE) {
				__u32 live = 0;
				int over = pw_migration_overflow(pm->mig, fd, &live);

				pm->fate = PW_FATE_MIGRATE;
				if (over < 0) {
					err = pw_fail(ctx, over, "cannot count the entries of map '%s' (%s): %s",
						      name, pm->path, strerror(-over));
					goto fail;
				}
				if (over > 0) {
					pw_detail(ctx, "map '%s' (%s): max_entries pinned %u, new %u: %u entries in use would not fit",
						  name, pm->path, pm->mig->old_max, pm->mig->new_max,
						  live);
					d = PW_MAP_REFUSE;
				} else if (pm->mig->n_dropped && !po->migrate) {
					pw_detail(ctx, "map '%s' (%s): fields pinned but not in the new layout would be dropped: %s",
						  name, pm->path, pm->mig->dropped);
					if (!lossy++ && !refused) {
						snprintf(first, sizeof(first), "%s", name);
						first_reason(ctx, mark, reason, sizeof(reason));
					}
					continue;
				}
			}
			if (d == PW_MAP_REFUSE) {
				if (!refused++) {
					snprintf(first, sizeof(first), "%s", name);
					first_reason(ctx, mark, reason, sizeof(reason));
				}
				continue;
			}
		}
		if (pm->shared) {
			char user[32] = "";

			if (pw_shared_in_use(ctx, po->ifdir ?: ifdir, name, user, sizeof(user))) {
				pw_detail(ctx, "map '%s' (%s): shared with the program on '%s', which would keep the old map",
					  name, pm->path, user);
				if (!refused++) {
					snprintf(first, sizeof(first), "%s", name);
					first_reason(ctx, mark, reason, sizeof(reason));
				}
				continue;
			}
		}
	}
	{
		int n_shared = 0;

		for (int i = 0; i < plan->n; i++)
			n_shared += plan->m[i].shared;
		/* the load record names them all, so unload knows who uses what */
		if (n_shared > PW_META_SHARED) {
			err = pw_fail(ctx, E2BIG, "the program has %d maps to pin by name; pinwall records at most %d: use --pin-scope iface; nothing was changed",
				      n_shared, PW_META_SHARED);
			goto fail;
		}
	}
	if (refused) {
		err = pw_fail(ctx, EEXIST,
			      "pinned map '%s' cannot be reused by this program: %s; nothing was changed%s%s%s%s",
			      first, reason, fresh_ok ? " (start it empty with --fresh " : "",
			      fresh_ok ? first : "", fresh_ok ? ")" : "",
			      refused + lossy > 1 ? " (more maps below)" : "");
		goto fail;
	}
	if (lossy) {
		err = pw_fail(ctx, EEXIST,
			      "pinned map '%s' would lose data in migration: %s; nothing was changed (allow it with --migrate, or start it empty with --fresh %s)%s",
			      first, reason, first, lossy > 1 ? " (more maps below)" : "");
		goto fail;
	}
	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->fate != PW_FATE_REUSE)
			continue;
		err = bpf_map__reuse_fd(pm->map, pm->pinned_fd);
		if (err) {
			err = pw_fail(ctx, err, "cannot reuse map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
	}
	free(pin);
	return 0;
fail:
	free(pin);
	pw_plan_free(plan);
	return err;
}

static const char *const fate_names[] = {
	[PW_FATE_CREATE] = "created", [PW_FATE_REUSE] = "reused",
	[PW_FATE_MIGRATE] = "migrated", [PW_FATE_FRESH] = "fresh",
};

void pw_plan_report(const struct pw_plan *plan, struct pw_load_report *r)
{
	r->n_maps = 0;
	for (int i = 0; i < plan->n; i++) {
		const struct pw_plan_map *pm = &plan->m[i];
		struct pw_map_report *mr = &r->maps[r->n_maps++];
		struct bpf_map_info info;

		snprintf(mr->name, sizeof(mr->name), "%s", bpf_map__name(pm->map));
		snprintf(mr->path, sizeof(mr->path), "%s", pm->path);
		mr->reused = pm->fate == PW_FATE_REUSE;
		snprintf(mr->fate, sizeof(mr->fate), "%s",
			 pm->unpinned ? "unpinned" : fate_names[pm->fate]);
		if (pm->mig)
			snprintf(mr->why, sizeof(mr->why), "%s", pm->mig->why);
		mr->id = pw_map_info(bpf_map__fd(pm->map), &info) ? 0 : info.id;
	}
}
