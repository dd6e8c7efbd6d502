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

/* Does the record name shared map @name? The first PW_META_SHARED by
 * name; beyond them, a version-3 record's map list (with its shared flag)
 * names the rest. */
bool pw_meta_names_shared(const struct pw_meta *m, const char *name)
{
	for (__u32 i = 0; i < m->n_shared && i < PW_META_SHARED; i++)
		if (!strncmp(m->shared[i], name, PW_MAP_NAME_LEN))
			return true;
	for (__u32 i = 0; m->version >= 3 && i < m->n_maps && i < PW_META_MAPS; i++)
		if (m->maps[i].shared && !strncmp(m->maps[i].name, name, PW_NAME_LEN))
			return true;
	return false;
}

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
				used = pw_meta_names_shared(&m, name);
				if (used && user)
					snprintf(user, len, "%s", m.ifname);
			}
			/* a killed load or reload that staged a program using it */
			if (!used && !pw_intent_read(dir, &in) && in.step >= PW_STEP_STAGED &&
			    in.op != PW_OP_UNLOAD) {
				used = pw_meta_names_shared(&in.next, name);
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

/* What the plan refuses, for its one error line: the first map refused
 * (else the first that would lose fields) and why. */
struct verdict {
	char first[PW_NAME_LEN];
	char reason[400];
	int refused, lossy;
	bool fresh_ok;		/* the first refused pin holds a map */
};

/* Where an interface's maps are pinned: its maps/, shared/, its pending/. */
struct plan_dirs {
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN], pending[PW_PATH_LEN];
};

static int plan_dirs(struct pw_ctx *ctx, const char *ifdir, struct plan_dirs *dirs)
{
	int err;

	if ((err = pw_shared_dir(ctx, dirs->shared, sizeof(dirs->shared))) ||
	    (err = pw_join(dirs->maps, sizeof(dirs->maps), ifdir, PW_DIR_MAPS)) ||
	    (err = pw_join(dirs->pending, sizeof(dirs->pending), ifdir, PW_DIR_PENDING)))
		return pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);
	return 0;
}

/* Every --fresh name is a map of the program, checked before any pin. */
static int check_fresh(struct pw_ctx *ctx, struct bpf_object *obj, const struct pw_plan_opts *po)
{
	struct bpf_map *map;
	char names[256];

	pw_obj_map_names(obj, names, sizeof(names));
	for (int i = 0; i < po->n_fresh; i++) {
		map = bpf_object__find_map_by_name(obj, po->fresh[i]);
		if (!map || bpf_map__is_internal(map))
			return pw_fail(ctx, ENOENT, "--fresh '%s': the program has no such map (its maps: %s); nothing was changed",
				       po->fresh[i], names);
	}
	return 0;
}

static void refuse(const struct pw_ctx *ctx, struct verdict *v, const char *name, size_t mark)
{
	if (!v->refused++) {
		snprintf(v->first, sizeof(v->first), "%s", name);
		first_reason(ctx, mark, v->reason, sizeof(v->reason));
	}
}

/* Where map @pm is pinned (by name below shared/, below the interface, or
 * nowhere) and, when pinned, its pending pins below pending/. */
static int plan_paths(struct pw_ctx *ctx, struct pw_plan_map *pm, const struct plan_dirs *dirs,
		      const struct pw_plan_opts *po)
{
	const char *name = bpf_map__name(pm->map);
	int err;

	/* by default LIBBPF_PIN_BY_NAME keeps its meaning: one map per
	 * name, shared; --pin-scope overrides it for the whole object */
	pm->shared = po->scope == PW_SCOPE_GLOBAL ||
		     (po->scope == PW_SCOPE_OBJECT && bpf_map__pin_path(pm->map) != NULL);
	pm->unpinned = po->scope == PW_SCOPE_NONE;
	bpf_map__set_pin_path(pm->map, NULL);	/* we pin, not libbpf */
	pm->fate = PW_FATE_CREATE;
	if (pm->unpinned)
		return 0;
	err = pw_join(pm->path, sizeof(pm->path), pm->shared ? dirs->shared : dirs->maps, name);
	if (!err)
		err = snprintf(pm->side, sizeof(pm->side), "%s/%s/%s", dirs->pending,
			       pm->shared ? PW_DIR_SHARED : PW_DIR_MAPS, name) >=
		      (int)sizeof(pm->side) ? -ENAMETOOLONG : 0;
	if (!err)
		err = snprintf(pm->side_new, sizeof(pm->side_new), "%s/%s/%s", dirs->pending,
			       pm->shared ? PW_DIR_SHARED_NEW : PW_DIR_MAPS_NEW, name) >=
		      (int)sizeof(pm->side_new) ? -ENAMETOOLONG : 0;
	if (!err)
		err = snprintf(pm->snap, sizeof(pm->snap), "%s/%s/%s", dirs->pending,
			       PW_DIR_SNAP, name) >= (int)sizeof(pm->snap) ? -ENAMETOOLONG : 0;
	if (err)
		return pw_fail(ctx, err, "pin path for map '%s' is too long", name);
	return 0;
}

/* A pinned map to migrate: refused when its live entries would not fit,
 * lossy when fields would be dropped without --migrate. Returns as
 * decide_pinned() does. */
static int check_migration(struct pw_ctx *ctx, struct pw_plan_map *pm, int fd,
			   const struct pw_plan_opts *po, struct verdict *v, size_t mark)
{
	const char *name = bpf_map__name(pm->map);
	__u32 live = 0;
	int over = pw_migration_overflow(pm->mig, fd, &live);

	pm->fate = PW_FATE_MIGRATE;
	if (over < 0)
		return pw_fail(ctx, over, "cannot count the entries of map '%s' (%s): %s",
			       name, pm->path, strerror(-over));
	if (over > 0) {
		pw_detail(ctx, "map '%s' (%s): max_entries pinned %u, new %u: %u entries in use would not fit",
			  name, pm->path, pm->mig->old_max, pm->mig->new_max, live);
		refuse(ctx, v, name, mark);
		return 1;
	}
	if (pm->mig->n_dropped && !po->migrate) {
		pw_detail(ctx, "map '%s' (%s): fields pinned but not in the new layout would be dropped: %s",
			  name, pm->path, pm->mig->dropped);
		if (!v->lossy++ && !v->refused) {
			snprintf(v->first, sizeof(v->first), "%s", name);
			first_reason(ctx, mark, v->reason, sizeof(v->reason));
		}
		return 1;
	}
	return 0;
}

/*
 * The fate of map @pm, whose pin @fd is open: reused as it is, migrated, or
 * started empty (--fresh); a refusal or a lossy migration goes to @v.
 * 1: settled (reused, or noted in @v), 0: a new map replaces the pin,
 * <0: the plan fails. @desc: room for two descriptions.
 */
static int decide_pinned(struct pw_ctx *ctx, struct pw_plan_map *pm, int fd, const struct btf *btf,
			 const struct pw_plan_opts *po, bool rule_cmd, struct pw_map_desc *desc,
			 struct verdict *v, size_t mark)
{
	const char *name = bpf_map__name(pm->map);
	struct bpf_map_info info;
	int err, d;

	pm->pinned_fd = fd;
	if ((err = pw_map_info(fd, &info)))
		return pw_fail(ctx, err, "cannot read map pinned at '%s': %s",
			       pm->path, strerror(-err));
	if (in_list(po->fresh, po->n_fresh, name)) {
		pm->fate = PW_FATE_FRESH;
		return 0;
	}
	pw_map_desc_from_info(&info, &desc[0]);
	pw_map_desc_from_map(pm->map, btf, &desc[1]);
	d = pw_map_decide(ctx, name, pm->path, &desc[0], &desc[1], &pm->mig);
	if (d < 0)
		return pw_fail(ctx, d, "out of memory");
	if (d == PW_MAP_REUSE) {
		pm->fate = PW_FATE_REUSE;
		return 1;
	}
	if (d == PW_MAP_MIGRATE && rule_cmd) {
		/* rule commands create maps, they never migrate them */
		pw_detail(ctx, "map '%s' (%s): %s: reload an interface to migrate it",
			  name, pm->path, pm->mig->why);
		d = PW_MAP_REFUSE;
	}
	if (d == PW_MAP_MIGRATE)
		return check_migration(ctx, pm, fd, po, v, mark);
	refuse(ctx, v, name, mark);
	return 1;
}

/* A bound map (load --map): the user's pin, reused as it is or refused
 * with one line; never migrated, never replaced. */
static int plan_bound(struct pw_ctx *ctx, struct pw_plan_map *pm, const struct pw_bind *bd,
		      const struct btf *btf, struct pw_map_desc *desc)
{
	size_t mark = strlen(ctx->detail);
	struct bpf_map_info info;
	char why[400];
	int fd = pw_bind_open(ctx, bd), d;

	if (fd < 0)
		return fd;
	pm->pinned_fd = fd;
	pm->bound = true;
	pm->unpinned = pm->shared = false;
	snprintf(pm->path, sizeof(pm->path), "%s", bd->path);
	if ((d = pw_map_info(fd, &info)))
		return pw_fail(ctx, d, "--map '%s=%s': cannot read the map: %s", bd->name,
			       bd->path, strerror(-d));
	pw_map_desc_from_info(&info, &desc[0]);
	pw_map_desc_from_map(pm->map, btf, &desc[1]);
	d = pw_map_decide(ctx, bd->name, bd->path, &desc[0], &desc[1], &pm->mig);
	if (d < 0)
		return pw_fail(ctx, d, "out of memory");
	pm->fate = PW_FATE_REUSE;
	if (d == PW_MAP_REUSE)
		return 0;
	if (pm->mig)
		snprintf(why, sizeof(why), "%s", pm->mig->why);
	else
		first_reason(ctx, mark, why, sizeof(why));
	ctx->detail[mark] = '\0';	/* one line: the first difference */
	return pw_fail(ctx, EEXIST, "--map '%s=%s': the pinned map does not fit the program's map '%s': %s; nothing was changed",
		       bd->name, bd->path, bd->name, why);
}

/* One map: its paths, then, when a pin is there, its fate and whether a
 * program on another interface shares it (and would keep the old map). */
static int plan_one(struct pw_ctx *ctx, struct pw_plan_map *pm, const struct plan_dirs *dirs,
		    const struct pw_plan_opts *po, bool rule_cmd, const char *ifdir,
		    const struct btf *btf, struct pw_map_desc *desc, struct verdict *v)
{
	const char *name = bpf_map__name(pm->map);
	size_t mark = strlen(ctx->detail);
	char user[32] = "";
	int fd, err;

	if ((err = plan_paths(ctx, pm, dirs, po)))
		return err;
	if (po->binds && pw_bind_find(po->binds, name))
		return plan_bound(ctx, pm, pw_bind_find(po->binds, name), btf, desc);
	if (pm->unpinned)
		return 0;
	fd = pw_open_map_pin(ctx, pm->path, false);
	if (fd == -ENOENT)
		return 0;		/* new in this version: created at load */
	if (fd < 0) {
		pw_detail(ctx, "%s", ctx->err);
		if (!v->refused++) {
			snprintf(v->first, sizeof(v->first), "%s", name);
			snprintf(v->reason, sizeof(v->reason), "%s", ctx->err);
			v->fresh_ok = false;
		}
		return 0;
	}
	err = decide_pinned(ctx, pm, fd, btf, po, rule_cmd, desc, v, mark);
	if (err)
		return err < 0 ? err : 0;
	if (pm->shared && pw_shared_in_use(ctx, po->ifdir ?: ifdir, name, user, sizeof(user))) {
		pw_detail(ctx, "map '%s' (%s): shared with the program on '%s', which would keep the old map",
			  name, pm->path, user);
		refuse(ctx, v, name, mark);
	}
	return 0;
}

/* The load record names every shared map, so unload knows who uses what.
 * pinwall's own (pw_*) are configuration that unload always keeps: the
 * record may leave those out (meta_shared() names the others first). */
static int check_shared_count(struct pw_ctx *ctx, const struct pw_plan *plan)
{
	int n_shared = 0;

	for (int i = 0; i < plan->n; i++)
		n_shared += plan->m[i].shared &&
			    strncmp(bpf_map__name(plan->m[i].map), "pw_", 3);
	if (n_shared > PW_META_SHARED)
		return pw_fail(ctx, E2BIG, "the program has %d maps to pin by name; pinwall records at most %d: use --pin-scope iface; nothing was changed",
			       n_shared, PW_META_SHARED);
	return 0;
}

/* One error line for the whole plan: a refused map first, else a lossy one. */
static int fail_verdict(struct pw_ctx *ctx, const struct verdict *v)
{
	if (v->refused)
		return pw_fail(ctx, EEXIST,
			       "pinned map '%s' cannot be reused by this program: %s; nothing was changed%s%s%s%s",
			       v->first, v->reason, v->fresh_ok ? " (start it empty with --fresh " : "",
			       v->fresh_ok ? v->first : "", v->fresh_ok ? ")" : "",
			       v->refused + v->lossy > 1 ? " (more maps below)" : "");
	if (v->lossy)
		return pw_fail(ctx, EEXIST,
			       "pinned map '%s' would lose data in migration: %s; nothing was changed (allow it with --migrate, or start it empty with --fresh %s)%s",
			       v->first, v->reason, v->first, v->lossy > 1 ? " (more maps below)" : "");
	return 0;
}

/* The maps whose pins are reused as they are: the program gets the pinned map. */
static int reuse_pinned(struct pw_ctx *ctx, struct pw_plan *plan)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->fate != PW_FATE_REUSE)
			continue;
		err = bpf_map__reuse_fd(pm->map, pm->pinned_fd);
		if (err)
			return pw_fail(ctx, err, "cannot reuse map pinned at '%s': %s",
				       pm->path, strerror(-err));
	}
	return 0;
}

int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 const struct pw_plan_opts *po, struct pw_plan *plan)
{
	static const struct pw_plan_opts none = { 0 };
	struct pw_map_desc *desc = calloc(2, sizeof(*desc));
	struct verdict v = { .fresh_ok = true };
	bool rule_cmd = !po;		/* rule commands plan with no options */
	struct plan_dirs dirs;
	struct bpf_map *map;
	int err;

	memset(plan, 0, sizeof(*plan));
	if (!po)
		po = &none;
	if (!desc)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = plan_dirs(ctx, ifdir, &dirs)) || (err = check_fresh(ctx, obj, po)) ||
	    (po->binds && (err = pw_binds_check_names(ctx, obj, po->binds, false))))
		goto fail;
	bpf_object__for_each_map(map, obj) {
		struct pw_plan_map *pm;

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
		if ((err = plan_one(ctx, pm, &dirs, po, rule_cmd, ifdir, bpf_object__btf(obj), desc,
				    &v)))
			goto fail;
	}
	if ((err = check_shared_count(ctx, plan)) || (err = fail_verdict(ctx, &v)) ||
	    (err = reuse_pinned(ctx, plan)))
		goto fail;
	free(desc);
	return 0;
fail:
	free(desc);
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
		snprintf(mr->fate, sizeof(mr->fate), "%s", pm->bound ? "bound" :
			 pm->unpinned ? "unpinned" : fate_names[pm->fate]);
		if (pm->mig)
			snprintf(mr->why, sizeof(mr->why), "%s", pm->mig->why);
		mr->id = pw_map_info(bpf_map__fd(pm->map), &info) ? 0 : info.id;
	}
}
