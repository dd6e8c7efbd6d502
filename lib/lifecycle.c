// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * load, reload, unload: the steps that change pins and attachments, each
 * under the pin-root lock. Order matters: everything that can be refused is
 * checked before the first change, and every change after that is undone
 * when a later step fails. Each command first recovers a killed operation
 * (recover.c); what it stages is planned in plan.c and pinned by stage.c,
 * the pins after the switch are intent.c's, the unload steps unload.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The directories a load may create, and whether each existed before, so a
 * failed load removes exactly what it made. */
struct made_dirs {
	int n;
	char path[16][PW_PATH_LEN];
};

static void note_missing(struct made_dirs *md, const char *path, const char *stop)
{
	char buf[PW_PATH_LEN], *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	/* deepest first, up to the first directory that exists */
	while (md->n < 16 && !pw_path_exists(buf) && strcmp(buf, stop)) {
		snprintf(md->path[md->n++], PW_PATH_LEN, "%s", buf);
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			break;
		*slash = '\0';
	}
}

static void remove_made(const struct made_dirs *md)
{
	for (int i = 0; i < md->n; i++)
		rmdir(md->path[i]);	/* only empty ones go */
}

static void fill_meta(struct pw_meta *m, const struct pw_obj *o, const struct pw_ctx *ctx,
		      const char *ifname, int ifindex, enum pw_mode mode, __u32 prog_id)
{
	m->version = PW_META_VERSION;
	m->mode = mode;
	m->ifindex = ifindex;
	m->prog_id = prog_id;
	m->netns_ino = ctx->netns_ino;
	m->builtin = o->skel != NULL;
	snprintf(m->ifname, sizeof(m->ifname), "%s", ifname);
	snprintf(m->prog, sizeof(m->prog), "%s", bpf_program__name(o->prog));
	snprintf(m->object, sizeof(m->object), "%s", o->object);
}

/* The maps the record names: shared ones by name, and (once the program is
 * loaded) every pinned one by kernel id, for repin. */
static void meta_shared_names(struct pw_meta *m, const struct pw_plan *plan)
{
	/* others' maps first: pinwall's own (pw_*) may not all fit, and unload
	 * keeps those whatever the record says */
	for (int own = 0; own < 2; own++)
		for (int i = 0; i < plan->n; i++) {
			const char *name = bpf_map__name(plan->m[i].map);

			if (plan->m[i].shared && !plan->m[i].bound && m->n_shared < PW_META_SHARED &&
			    (strncmp(name, "pw_", 3) == 0) == own)
				snprintf(m->shared[m->n_shared++], PW_MAP_NAME_LEN, "%s", name);
		}
}

static void meta_shared(struct pw_meta *m, const struct pw_plan *plan)
{
	m->n_shared = m->n_maps = 0;
	meta_shared_names(m, plan);
	for (int i = 0; i < plan->n; i++) {
		const struct pw_plan_map *pm = &plan->m[i];
		const char *name = bpf_map__name(pm->map);
		struct pw_meta_map *mm = &m->maps[m->n_maps];
		struct bpf_map_info info;

		if (pm->bound)
			continue;	/* the user's pin: not pinwall's to pin or remove */
		if (pm->unpinned || m->n_maps == PW_META_MAPS ||
		    pw_map_info(bpf_map__fd(pm->map), &info))
			continue;
		mm->id = info.id;
		mm->shared = pm->shared;
		/* a name that does not fit stays empty: repin then says so */
		if (strlen(name) < sizeof(mm->name))
			snprintf(mm->name, sizeof(mm->name), "%s", name);
		m->n_maps++;
	}
}

static __u32 fd_prog_id(int fd)
{
	struct bpf_prog_info info;

	return pw_prog_info(fd, &info) ? 0 : info.id;
}

static int pin_staged_prog(struct pw_ctx *ctx, const char *ifdir, int prog_fd)
{
	char path[PW_PATH_LEN];
	int err;

	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING);
	if ((err = pw_mkdirs(ctx, path)))
		return err;
	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING "/" PW_PIN_PROG);
	unlink(path);
	if (bpf_obj_pin(prog_fd, path))
		return pw_fail(ctx, errno, "cannot pin the new program at '%s': %s", path,
			       strerror(errno));
	return 0;
}

const char *pw_scope_name(__u32 scope)
{
	switch (scope) {
	case PW_SCOPE_GLOBAL: return "global";
	case PW_SCOPE_IFACE: return "iface";
	case PW_SCOPE_NONE: return "none";
	default: return "object";
	}
}

/*
 * The first change of a load or reload: write the intent record, load the
 * new program, bind the load record's map to it (so the record lives as
 * long as the program, pins or not), and pin it and every map it brings
 * below pending/ (first copy of each migration included; snapshots when
 * @old_runs). Nothing outside pending/ changes; *@intent says the record
 * is there to undo.
 */
static int stage(struct pw_ctx *ctx, const char *ifdir, struct pw_obj *obj,
		 struct pw_plan *plan, struct pw_intent *in, bool old_runs, bool *intent)
{
	int err;

	if ((err = pw_intent_write(ctx, ifdir, in)))
		return err;
	*intent = true;
	pw_step(in->op, "planned");
	if ((err = pw_obj_load(ctx, obj)) ||
	    (err = pin_staged_prog(ctx, ifdir, bpf_program__fd(obj->prog))) ||
	    (err = pw_meta_bind(ctx, ifdir, bpf_program__fd(obj->prog))) ||
	    (err = pw_plan_stage(ctx, plan, old_runs)))
		return err;
	in->new_prog_id = fd_prog_id(bpf_program__fd(obj->prog));
	return 0;
}

/* The bindings a command uses: the built-in program's maps are pinwall's
 * own (shared rule maps, counters other commands read): never bound. */
static int binds_fit(struct pw_ctx *ctx, const struct pw_obj *obj, const struct pw_binds *b)
{
	if (obj->skel && b->n)
		return pw_fail(ctx, EINVAL, "--map '%s=%s': the built-in program's maps are pinwall's own and are never bound (bind the maps of an --obj program); nothing was changed",
			       b->map[0].name, b->map[0].path);
	return 0;
}

/* After the switch: the binding record, the old pins of bound maps, the
 * flat path. The program runs: a failure is reported, not undone. */
static int binds_after(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		       const struct pw_obj *obj, struct pw_binds *b)
{
	int err = pw_binds_commit(ctx, ifdir, obj->obj, bpf_program__fd(obj->prog), b);

	if (!err && (b->flags & PW_BINDS_FLAT))
		err = pw_flat_make(ctx, ifname, ifdir);
	if (err)
		pw_detail(ctx, "the new program runs; run the command again to finish");
	return err;
}

static void plan_opts(const struct pw_load_opts *o, const char *ifdir, struct pw_plan_opts *po)
{
	memset(po, 0, sizeof(*po));
	po->scope = o->scope;
	po->migrate = o->migrate;
	po->fresh = o->fresh;
	po->n_fresh = o->n_fresh;
	po->ifdir = ifdir;
}

/* load onto a free hook: through netlink, so no pin keeps it alive. */
static int attach_new(struct pw_ctx *ctx, const struct pw_load_opts *o, int ifindex,
		      const char *link_pin, int prog_fd, enum pw_mode *used)
{
#ifdef PW_TEST_HOOKS
	/* tests make the bpf_link attachment of earlier versions this way */
	if (getenv("PINWALL_TEST_LEGACY_LINK"))
		return pw_attach_legacy_link(ctx, prog_fd, ifindex, o->ifname, o->mode, link_pin,
					     used);
#else
	(void)link_pin;
#endif
	return pw_attach(ctx, prog_fd, ifindex, o->ifname, o->mode, used);
}

/*
 * load --force over another tool's program @st. It is held (*@foreign_fd)
 * so it can be put back if our attach fails, and pinned so a rollback after
 * a kill can too (nothing else may hold it).
 */
static int attach_forced(struct pw_ctx *ctx, const struct pw_load_opts *o, int ifindex,
			 const char *ifdir, const struct pw_xdp_state *st, int prog_fd,
			 int *foreign_fd, enum pw_mode *used)
{
	char fpath[PW_PATH_LEN];
	bool window;
	int err;

	*foreign_fd = bpf_prog_get_fd_by_id(st->prog_id);
	pw_join(fpath, sizeof(fpath), ifdir, PW_DIR_PENDING "/" PW_PIN_FOREIGN);
	if (*foreign_fd >= 0 && bpf_obj_pin(*foreign_fd, fpath))
		return pw_fail(ctx, errno, "cannot pin program %u at '%s': %s", st->prog_id,
			       fpath, strerror(errno));
	err = pw_attach_over(ctx, ifindex, o->ifname, o->mode, st, *foreign_fd, prog_fd, used,
			     &window);
	if (err && window && *foreign_fd >= 0)
		pw_put_back(ctx, ifindex, o->ifname, *foreign_fd, st->prog_id, st->mode);
	return err;
}

/* What a load holds while it runs; load_end() releases it. */
struct load_state {
	struct pw_obj obj;
	struct pw_plan plan;
	struct pw_plan_opts po;
	struct pw_link_pin lp;
	struct pw_xdp_state st;	/* what the hook held before */
	struct pw_intent in;
	struct made_dirs made;
	struct pw_binds binds;	/* --map, --flat-path */
	bool foreign;		/* --force over another tool's program */
	bool intent;		/* the intent record is there to undo */
	int ifindex, lock_fd, foreign_fd;
};

/* The directories this load may make (a failure removes exactly those), a
 * bpffs that outlives the command, and the lock. */
static int load_lock(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r,
		     struct load_state *l)
{
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN];
	int err;

	pw_iface_dir(ctx, ctx->netns_ino, o->ifname, r->ifdir, sizeof(r->ifdir));
	pw_shared_dir(ctx, shared, sizeof(shared));
	snprintf(maps, sizeof(maps), "%s/%s", r->ifdir, PW_DIR_MAPS);
	note_missing(&l->made, maps, "/");
	note_missing(&l->made, shared, "/");
	if ((err = pw_pins_outlive(ctx)) || (err = pw_bpffs_prepare(ctx, true)))
		return err;
	return pw_lock(ctx, &l->lock_fd);
}

/* A load was interrupted and finishing it was this load: report what runs. */
static void report_finished_load(struct pw_ctx *ctx, const struct pw_load_opts *o,
				 struct pw_load_report *r, const struct pw_obj *obj)
{
	struct pw_meta m;

	if (pw_meta_read(r->ifdir, &m))
		return;
	r->prog_id = m.prog_id;
	r->mode = m.mode;
	/* what was finished is what the killed load asked for */
	if (strcmp(m.object, obj->object) || strcmp(m.prog, bpf_program__name(obj->prog)))
		pw_detail(ctx, "note: the program attached is the interrupted load's ('%s' from %s), not the one asked for now: 'pinwall reload %s --obj FILE' changes it",
			  m.prog, m.builtin ? "the built-in object" : m.object, o->ifname);
}

/*
 * What the hook holds decides: nothing (attach), pinwall's program (refused:
 * reload it, or repin it when its pins are lost), or another tool's (refused
 * without --force; with it, l->foreign). A stale link pin is opened to give way.
 */
static int check_hook(struct pw_ctx *ctx, const struct pw_load_opts *o,
		      const struct pw_load_report *r, struct load_state *l)
{
	const struct pw_xdp_state *st = &l->st;
	struct bpf_prog_info pi = {};
	struct pw_meta meta = {};
	int err, pfd;

	if ((err = pw_xdp_state(l->ifindex, &l->st)))
		return pw_fail(ctx, err, "cannot query XDP on '%s': %s", o->ifname, strerror(-err));
	if ((err = pw_link_pin_open(ctx, r->ifdir, &l->lp)) || !st->prog_id)
		return err;
	if ((l->lp.fd >= 0 && l->lp.info.xdp.ifindex == (__u32)l->ifindex &&
	     st->prog_id == l->lp.info.prog_id) ||
	    (!pw_meta_read(r->ifdir, &meta) && meta.prog_id == st->prog_id))
		return pw_fail(ctx, EEXIST, "'%s' is already loaded by pinwall (program id %u): use 'pinwall reload %s'",
			       o->ifname, st->prog_id, o->ifname);
	pfd = bpf_prog_get_fd_by_id(st->prog_id);
	if (pfd >= 0) {
		pw_prog_info(pfd, &pi);
		close(pfd);
	}
	/* pinwall's program, its pins lost: repin, never a new load over it */
	if (!o->force && !pw_meta_of_prog(ctx, st->prog_id, l->ifindex, &meta, &(__u32){ 0 }))
		return pw_fail(ctx, EBUSY, "'%s' runs pinwall's program (id %u) but its pins are incomplete: 'pinwall repin %s' puts them back",
			       o->ifname, st->prog_id, o->ifname);
	if (!o->force)
		return pw_fail(ctx, EBUSY,
			       "'%s' has XDP program '%s' (id %u) attached by another tool: refusing to replace it (use --force)",
			       o->ifname, pi.name, st->prog_id);
	l->foreign = true;
	return 0;
}

/* The plan of the object's maps, under the pin scope asked for. */
static int load_plan(struct pw_ctx *ctx, const struct pw_load_opts *o,
		     const struct pw_load_report *r, struct load_state *l)
{
	struct pw_meta kept;
	int err;

	plan_opts(o, r->ifdir, &l->po);
	/* maps kept by unload --keep-maps were pinned under a scope: the
	 * load that reuses them keeps it (and refuses another) */
	if (!pw_meta_read(r->ifdir, &kept) && !kept.prog_id && kept.pin_scope != o->scope) {
		if (o->scope != PW_SCOPE_OBJECT)
			return pw_fail(ctx, EEXIST, "'%s' was unloaded with --keep-maps under --pin-scope %s: load with that scope, or unload it without --keep-maps to choose another; nothing was changed",
				       o->ifname, pw_scope_name(kept.pin_scope));
		l->po.scope = kept.pin_scope;
	}
	l->po.binds = &l->binds;
	if (l->binds.flags && (err = pw_flat_check(ctx, o->ifname, r->ifdir)))
		return err;
	return pw_plan_maps(ctx, l->obj.obj, r->ifdir, &l->po, &l->plan);
}

/* Checks done: from here every change is recorded, and undone on failure. */
static int load_stage(struct pw_ctx *ctx, const struct pw_load_opts *o,
		      const struct pw_load_report *r, struct load_state *l)
{
	struct pw_intent *in = &l->in;
	int err;

	pw_intent_init(in, PW_OP_LOAD);
	in->mode = o->mode;
	in->foreign_prog_id = l->foreign ? l->st.prog_id : 0;
	in->foreign_mode = l->st.mode;
	/* with --force, the program replaced may still count into kept maps */
	if ((err = stage(ctx, r->ifdir, &l->obj, &l->plan, in, l->foreign, &l->intent)))
		return err;
	fill_meta(&in->next, &l->obj, ctx, o->ifname, l->ifindex, o->mode, in->new_prog_id);
	meta_shared(&in->next, &l->plan);
	in->next.pin_scope = l->po.scope;
	in->next.loaded_at = realtime_ns();
	if ((err = pw_intent_step(ctx, r->ifdir, in, PW_STEP_STAGED)))
		return err;
	pw_step(in->op, "staged");
	return 0;
}

/* Staged, not running yet: the CPU steering asked for (none without
 * --steer, also over maps kept by unload --keep-maps). */
static int load_steer(struct pw_ctx *ctx, const struct pw_load_opts *o,
		      struct pw_load_report *r, struct load_state *l)
{
	static const struct pw_steer_cpus off;
	int err = pw_steer_apply(ctx, l->obj.obj, o->steer ?: &off);

	if (!err && o->steer) {
		r->steer_set = true;
		r->steer = *o->steer;
	}
	return err;
}

/* The switch of a load: attach, over another tool's program with --force. */
static int load_attach(struct pw_ctx *ctx, const struct pw_load_opts *o,
		       const struct pw_load_report *r, struct load_state *l, enum pw_mode *used)
{
	int prog_fd = bpf_program__fd(l->obj.prog), err;

	/* a stale link pin (interface re-created, program gone) gives way */
	if (l->lp.fd >= 0)
		unlink(l->lp.path);
	if (l->foreign)
		err = attach_forced(ctx, o, l->ifindex, r->ifdir, &l->st, prog_fd, &l->foreign_fd,
				    used);
	else
		err = attach_new(ctx, o, l->ifindex, l->lp.path, prog_fd, used);
	if (!err)
		pw_step(l->in.op, "attached");
	return err;
}

/* The program runs (the kernel holds it): only forward from here; what
 * fails now is finished by the next command, never undone. */
static int load_finish(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r,
		       struct load_state *l, enum pw_mode used)
{
	int err;

	l->in.next.mode = used;
	l->intent = false;
	pw_step(l->in.op, "switched");
	if ((err = pw_intent_step(ctx, r->ifdir, &l->in, PW_STEP_SWITCHED)) ||
	    (err = pw_intent_finish(ctx, r->ifdir, &l->in))) {
		pw_detail(ctx, "the program runs; 'pinwall recover %s' finishes the pins", o->ifname);
		return err;
	}
	r->prog_id = l->in.new_prog_id;
	r->mode = used;
	pw_plan_report(&l->plan, r);
	return 0;
}

/* Release what the load holds; after a failure before the switch, remove
 * what it staged and the directories it made. */
static void load_end(struct pw_ctx *ctx, const struct pw_load_report *r, struct load_state *l,
		     int err)
{
	if (err && l->intent) {
		pw_intent_clear(r->ifdir);
		pw_remove_empty_dirs(ctx, r->ifdir);
	}
	if (l->foreign_fd >= 0)
		close(l->foreign_fd);
	pw_link_pin_close(&l->lp);
	pw_plan_free(&l->plan);
	pw_obj_close(&l->obj);
	if (err) {
		/* twice: shared/ and maps/ may share parents made by this call */
		remove_made(&l->made);
		remove_made(&l->made);
	}
	pw_unlock(l->lock_fd);
}

int pw_load(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r)
{
	struct load_state l = { .lp.fd = -1, .lock_fd = -1, .foreign_fd = -1 };
	double t0 = now_ms();
	enum pw_mode used;
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = pw_check_caps(ctx)))
		return err;
	if ((l.ifindex = pw_ifindex(ctx, o->ifname)) < 0)
		return l.ifindex;
	if ((err = pw_binds_resolve(ctx, o->binds, o->n_binds, false, &l.binds)))
		return err;
	l.binds.flags = o->flat_path ? PW_BINDS_FLAT : 0;
	if ((err = pw_obj_open(ctx, o->obj_path, o->prog_name, &l.obj)))
		return err;
	if (o->steer && o->steer->n && (err = pw_steer_check_obj(ctx, l.obj.obj)))
		goto out;
	if ((err = binds_fit(ctx, &l.obj, &l.binds)))
		goto out;
	if ((err = load_lock(ctx, o, r, &l)))
		goto out;
	r->ifindex = l.ifindex;
	if ((err = pw_recover_locked(ctx, o->ifname, r->ifdir, &r->recovered, false)))
		goto out;
	if (r->recovered.op == PW_OP_LOAD && r->recovered.completed) {
		/* a load was interrupted: finishing it was this load */
		report_finished_load(ctx, o, r, &l.obj);
		goto out;
	}
	if ((err = check_hook(ctx, o, r, &l)) ||
	    (err = pw_ct_egress_check(ctx, l.ifindex, o->ifname, l.obj.obj)) ||
	    (err = load_plan(ctx, o, r, &l)) || (err = load_stage(ctx, o, r, &l)) ||
	    (err = load_steer(ctx, o, r, &l)) || (err = load_attach(ctx, o, r, &l, &used)))
		goto out;
	r->elapsed_ms = now_ms() - t0;
	err = load_finish(ctx, o, r, &l, used);
	if (!err)
		err = binds_after(ctx, o->ifname, r->ifdir, &l.obj, &l.binds);
out:
	load_end(ctx, r, &l, err);
	return err;
}

/* reload/unload work on what load made: no pin root means nothing loaded. */
static int prepare_existing(struct pw_ctx *ctx, const char *ifname)
{
	int err = pw_bpffs_prepare(ctx, false);

	if (!err && !pw_path_exists(ctx->pin_root))
		err = pw_fail(ctx, ENOENT, "'%s' is not loaded by pinwall (no pin root '%s')",
			      ifname, ctx->pin_root);
	return err;
}

/*
 * What reload replaces: the program the load record names, checked to be the
 * one attached (the compare-and-swap then checks it again, atomically), and
 * the bpf_link holding it when an earlier version attached it (*@link_fd,
 * -1: netlink; pinned at @lp's path so a killed conversion is found).
 */
static int open_managed(struct pw_ctx *ctx, const char *ifname, int ifindex,
			const char *ifdir, struct pw_link_pin *lp, struct pw_xdp_state *st,
			struct pw_meta *meta, int *link_fd)
{
	int err;

	*link_fd = -1;
	if ((err = pw_link_pin_open(ctx, ifdir, lp)))
		return err;
	if (pw_meta_read(ifdir, meta))
		return pw_fail(ctx, ENOENT, "'%s' is not loaded by pinwall (no load record in '%s'): use 'pinwall load %s'",
			       ifname, ifdir, ifname);
	if (!meta->prog_id)
		return pw_fail(ctx, ENOENT, "'%s' is not loaded by pinwall (unloaded with --keep-maps): use 'pinwall load %s'",
			       ifname, ifname);
	if ((err = pw_xdp_state(ifindex, st)))
		return pw_fail(ctx, err, "cannot query XDP on '%s': %s", ifname, strerror(-err));
	if (!st->prog_id)
		return pw_fail(ctx, ENODEV, "'%s' has no XDP program attached (pinwall's, id %u, is gone): use 'pinwall load %s'",
			       ifname, meta->prog_id, ifname);
	if (st->prog_id != meta->prog_id)
		return pw_fail(ctx, EBUSY, "'%s' runs program id %u, not pinwall's (id %u): see 'pinwall status %s'",
			       ifname, st->prog_id, meta->prog_id, ifname);
	if (lp->fd >= 0 && lp->info.xdp.ifindex == (__u32)ifindex &&
	    lp->info.prog_id == st->prog_id) {
		*link_fd = lp->fd;
		lp->fd = -1;
		return 0;
	}
	*link_fd = pw_find_xdp_link(ifindex, st->prog_id);
	if (*link_fd < 0)
		*link_fd = -1;
	else if ((lp->fd >= 0 && unlink(lp->path)) || bpf_obj_pin(*link_fd, lp->path))
		return pw_fail(ctx, errno, "cannot pin the bpf_link to convert at '%s': %s",
			       lp->path, strerror(errno));
	return 0;
}

/*
 * The backstop of a conversion, made before the switch: without it (an
 * --obj program, no clsact, the slot taken) the conversion goes on as it
 * did before, with a window, and says so. The intent records what to undo.
 */
static bool backstop_begin(struct pw_ctx *ctx, const char *ifname, int ifindex, const char *ifdir,
			   struct pw_intent *in, const struct pw_obj *obj, struct pw_backstop *b)
{
	int err = pw_backstop_prepare(ctx, b, obj, ifindex, ifname);

	if (!err) {
		in->backstop = b->flags;
		if (!(err = pw_intent_write(ctx, ifdir, in)))
			return true;
		pw_backstop_remove(ctx, b);
		pw_backstop_close(b);
	}
	pw_detail(ctx, "warning: no tc backstop for the conversion of '%s' (%s): frames arriving between the bpf_link's detach and the netlink attach pass unfiltered and uncounted",
		  ifname, ctx->err);
	ctx->err[0] = '\0';
	return false;
}

/* After the netlink attach: the backstop goes (a failure leaves it to
 * recovery: it filters the same way meanwhile). */
static void backstop_end(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			 struct pw_intent *in, struct pw_backstop *b)
{
	if (pw_backstop_remove(ctx, b)) {
		pw_detail(ctx, "%s: 'pinwall recover %s' removes it", ctx->err, ifname);
		ctx->err[0] = '\0';
	} else {
		in->backstop = 0;
		pw_intent_write(ctx, ifdir, in);
	}
	pw_backstop_close(b);
}

/*
 * The conversion of an earlier version's bpf_link: swap inside the link
 * (atomic; the intent says "switched" before the link goes, so a kill from
 * here is finished by recovery), the tc backstop on, the link off, netlink
 * on, the backstop off. Between the link's detach and the attach only the
 * backstop filters.
 */
static int reload_convert(struct pw_ctx *ctx, const char *ifname, int ifindex, const char *ifdir,
			  struct pw_intent *in, const struct pw_xdp_state *st, int link_fd,
			  int old_fd, const struct pw_obj *obj)
{
	int new_fd = bpf_program__fd(obj->prog), err;
	struct pw_backstop b = { .bss_fd = -1 };
	bool backstop;
	enum pw_mode used;
	double t0 = now_ms(), t1;

	backstop = backstop_begin(ctx, ifname, ifindex, ifdir, in, obj, &b);
#ifdef PW_TEST_HOOKS
	if (getenv("PINWALL_TEST_WINDOW"))
		pw_detail(ctx, "backstop prepared in %.1f ms", now_ms() - t0);
#endif
	if ((err = pw_link_swap(ctx, link_fd, ifname, old_fd, new_fd)) ||
	    (err = pw_intent_step(ctx, ifdir, in, PW_STEP_SWITCHED)))
		goto out;
	pw_step(in->op, "converting");
	if (backstop && (err = pw_backstop_attach(ctx, &b, ifname))) {
		pw_detail(ctx, "warning: %s: frames arriving between the bpf_link's detach and the netlink attach pass unfiltered and uncounted",
			  ctx->err);
		ctx->err[0] = '\0';
	}
	pw_step(in->op, "backstopped");
	t0 = now_ms();
	if ((err = pw_link_detach(ctx, link_fd, ifname)))
		goto out;
	pw_step(in->op, "unlinked");
	t1 = now_ms();
	err = pw_attach(ctx, new_fd, ifindex, ifname, st->mode, &used);
#ifdef PW_TEST_HOOKS
	/* bench/conversion.sh: detach start to attach end, and the detach alone */
	if (getenv("PINWALL_TEST_WINDOW"))
		pw_detail(ctx, "conversion window: %.1f us (detach %.1f us)%s",
			  (now_ms() - t0) * 1000, (t1 - t0) * 1000, backstop ? ", backstop" : "");
#endif
	(void)t0;
	(void)t1;
	if (err) {
		pw_detail(ctx, "'%s' has no XDP program%s: 'pinwall recover %s' attaches the new one",
			  ifname, backstop ? " (the tc backstop filters meanwhile)" : "", ifname);
		goto out;
	}
	pw_step(in->op, "reattached");
out:
	/* the backstop stays only while XDP has no program (recovery ends it) */
	if (backstop && (!err || in->step < PW_STEP_SWITCHED))
		backstop_end(ctx, ifname, ifdir, in, &b);
	pw_backstop_close(&b);
	return err;
}

/*
 * The switch of a reload: one compare-and-swap against the program pinwall
 * expects there, or the conversion of a bpf_link of an earlier version.
 */
static int reload_switch(struct pw_ctx *ctx, const char *ifname, int ifindex, const char *ifdir,
			 struct pw_intent *in, const struct pw_xdp_state *st, int link_fd,
			 int old_fd, const struct pw_obj *obj)
{
	if (link_fd < 0)
		return pw_xdp_replace(ctx, ifindex, ifname, st->mode, old_fd, st->prog_id,
				      bpf_program__fd(obj->prog));
	return reload_convert(ctx, ifname, ifindex, ifdir, in, st, link_fd, old_fd, obj);
}

/* What a reload holds while it runs; reload_end() releases it. */
struct reload_state {
	struct pw_obj obj;
	struct pw_plan plan;
	struct pw_link_pin lp;
	struct pw_xdp_state st;	/* pinwall's program, running */
	struct pw_meta meta;	/* its load record */
	struct pw_binds binds;	/* recorded, changed by --map, --flat-path */
	struct pw_intent in;
	bool intent;		/* the intent record is there to undo */
	int ifindex, lock_fd, old_fd, link_fd;
};

/* The object (without --obj: the one loaded, re-read), its plan under the
 * scope chosen at load, and the running program to swap against. */
static int reload_plan(struct pw_ctx *ctx, const struct pw_load_opts *o,
		       const struct pw_load_report *r, struct reload_state *s)
{
	const char *path = o->obj_path, *prog = o->prog_name;
	struct pw_plan_opts po;
	int err;

	/* without --obj: the same object again (re-read: it may be a new build) */
	if (!path && !s->meta.builtin) {
		path = s->meta.object;
		if (!prog)
			prog = s->meta.prog;
	}
	plan_opts(o, r->ifdir, &po);
	po.scope = s->meta.pin_scope;	/* chosen at load; unload and load to change it */
	po.binds = &s->binds;
	if (o->flat_path)
		s->binds.flags |= PW_BINDS_FLAT;
	if ((err = pw_obj_open(ctx, path, prog, &s->obj)) ||
	    (o->steer && o->steer->n && (err = pw_steer_check_obj(ctx, s->obj.obj))) ||
	    (err = binds_fit(ctx, &s->obj, &s->binds)) ||
	    (err = pw_binds_check_names(ctx, s->obj.obj, &s->binds, true)) ||
	    (s->binds.flags && (err = pw_flat_check(ctx, o->ifname, r->ifdir))) ||
	    (err = pw_plan_maps(ctx, s->obj.obj, r->ifdir, &po, &s->plan)))
		return err;
	s->old_fd = bpf_prog_get_fd_by_id(s->st.prog_id);
	if (s->old_fd < 0)
		return pw_fail(ctx, errno, "cannot open the running program (id %u): %s",
			       s->st.prog_id, strerror(errno));
	return 0;
}

/* The first change: the intent, the new program and its maps below pending/. */
static int reload_stage(struct pw_ctx *ctx, const struct pw_load_opts *o,
			const struct pw_load_report *r, struct reload_state *s)
{
	struct pw_intent *in = &s->in;
	int err;

	pw_intent_init(in, PW_OP_RELOAD);
	in->before = s->st.prog_id;
	if ((err = stage(ctx, r->ifdir, &s->obj, &s->plan, in, true, &s->intent)))
		return err;
	fill_meta(&in->next, &s->obj, ctx, o->ifname, s->ifindex, s->st.mode, in->new_prog_id);
	meta_shared(&in->next, &s->plan);
	in->next.pin_scope = s->meta.pin_scope;
	in->next.loaded_at = s->meta.loaded_at ?: realtime_ns();
	in->next.reloaded_at = realtime_ns();
	in->next.reloads = s->meta.reloads + 1;
	if ((err = pw_intent_step(ctx, r->ifdir, in, PW_STEP_STAGED)))
		return err;
	pw_step(in->op, "staged");
	return 0;
}

/* Switched: the new program runs; move the pins into place (a failure is
 * finished by the next command). */
static int reload_finish(struct pw_ctx *ctx, const struct pw_load_opts *o,
			 struct pw_load_report *r, struct reload_state *s)
{
	int err;

	if (s->link_fd >= 0)
		unlink(s->lp.path);	/* converted: netlink holds the program now */
	pw_step(s->in.op, "switched");
	if ((err = pw_intent_step(ctx, r->ifdir, &s->in, PW_STEP_SWITCHED)) ||
	    (err = pw_intent_finish(ctx, r->ifdir, &s->in))) {
		pw_detail(ctx, "the new program runs; 'pinwall recover %s' finishes the pins",
			  o->ifname);
		return err;
	}
	r->old_prog_id = s->st.prog_id;
	r->prog_id = s->in.new_prog_id;
	r->mode = s->st.mode;
	pw_plan_report(&s->plan, r);
	return 0;
}

/* reload --steer: after the switch (the steering is a setting of the
 * program running; a failure leaves the earlier steering in force). */
static int reload_steer(struct pw_ctx *ctx, const struct pw_load_opts *o,
			struct pw_load_report *r, struct reload_state *s)
{
	int err = pw_steer_apply(ctx, s->obj.obj, o->steer);

	if (err) {
		pw_detail(ctx, "the new program runs, with the steering it had");
		return err;
	}
	r->steer_set = true;
	r->steer = *o->steer;
	return 0;
}

static void reload_end(const struct pw_load_report *r, struct reload_state *s, int err)
{
	if (err && s->intent)
		pw_intent_clear(r->ifdir);	/* nothing outside pending/ changed */
	if (s->old_fd >= 0)
		close(s->old_fd);
	if (s->link_fd >= 0)
		close(s->link_fd);
	pw_link_pin_close(&s->lp);
	pw_plan_free(&s->plan);
	pw_obj_close(&s->obj);
	pw_unlock(s->lock_fd);
}

int pw_reload(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r)
{
	struct reload_state s = { .lp.fd = -1, .lock_fd = -1, .old_fd = -1, .link_fd = -1 };
	double t0 = now_ms();
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = pw_check_caps(ctx)))
		return err;
	if ((s.ifindex = pw_ifindex(ctx, o->ifname)) < 0)
		return s.ifindex;
	if ((err = prepare_existing(ctx, o->ifname)) || (err = pw_lock(ctx, &s.lock_fd)))
		return err;
	pw_iface_dir(ctx, ctx->netns_ino, o->ifname, r->ifdir, sizeof(r->ifdir));
	r->ifindex = s.ifindex;
	if ((err = pw_recover_locked(ctx, o->ifname, r->ifdir, &r->recovered, false)) ||
	    (err = open_managed(ctx, o->ifname, s.ifindex, r->ifdir, &s.lp, &s.st, &s.meta,
				&s.link_fd)) ||
	    (err = pw_binds_recorded(ctx, r->ifdir, &s.binds)) ||
	    (err = pw_binds_resolve(ctx, o->binds, o->n_binds, true, &s.binds)) ||
	    (err = reload_plan(ctx, o, r, &s)) ||
	    (err = pw_ct_egress_check(ctx, s.ifindex, o->ifname, s.obj.obj)) ||
	    (err = reload_stage(ctx, o, r, &s)))
		goto out;
	/* atomic: the interface runs the old program until this returns */
	err = reload_switch(ctx, o->ifname, s.ifindex, r->ifdir, &s.in, &s.st, s.link_fd, s.old_fd,
			    &s.obj);
	if (err && s.in.step < PW_STEP_SWITCHED)
		goto out;
	s.intent = false;	/* switched: from here on, only forward */
	if (err)
		goto out;
	r->elapsed_ms = now_ms() - t0;
	if (!(err = reload_finish(ctx, o, r, &s)) && o->steer)
		err = reload_steer(ctx, o, r, &s);
	if (!err)
		err = binds_after(ctx, o->ifname, r->ifdir, &s.obj, &s.binds);
out:
	reload_end(r, &s, err);
	return err;
}

int pw_unload(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r)
{
	struct pw_link_pin lp = { .fd = -1 };
	struct pw_intent in;
	int lock_fd = -1, err;

	memset(r, 0, sizeof(*r));
	if ((err = pw_check_caps(ctx)))
		return err;
	if ((err = prepare_existing(ctx, o->ifname)) || (err = pw_lock(ctx, &lock_fd)))
		return err;
	if (pw_iface_dir(ctx, ctx->netns_ino, o->ifname, r->ifdir, sizeof(r->ifdir))) {
		err = pw_fail(ctx, ENAMETOOLONG, "interface name '%s' is too long: at most %d characters",
			      o->ifname, IFNAMSIZ - 1);
		goto out;
	}
	if ((err = pw_recover_locked(ctx, o->ifname, r->ifdir, &r->recovered, true)))
		goto out;
	if (r->recovered.found && (r->recovered.op == PW_OP_UNLOAD ||
				   (r->recovered.op == PW_OP_LOAD && !r->recovered.completed))) {
		/* an unload was interrupted: finishing it was this unload; a load
		 * was: rolling it back left nothing of pinwall's to unload */
		r->ifindex = if_nametoindex(o->ifname);
		goto out;
	}
	if (!pw_path_exists(r->ifdir)) {
		err = pw_fail(ctx, ENOENT, "'%s' is not loaded by pinwall (no pins at '%s')",
			      o->ifname, r->ifdir);
		goto out;
	}
	/* refuse before the first change: a link pin holding something else */
	if ((err = pw_link_pin_open(ctx, r->ifdir, &lp)))
		goto out;
	pw_link_pin_close(&lp);
	pw_intent_init(&in, PW_OP_UNLOAD);
	in.keep_maps = o->keep_maps;
	if (pw_meta_read(r->ifdir, &in.next))
		memset(&in.next, 0, sizeof(in.next));
	if ((err = pw_intent_write(ctx, r->ifdir, &in)))
		goto out;
	pw_step(in.op, "planned");
	err = pw_unload_core(ctx, o->ifname, r->ifdir, &in, r);
out:
	pw_unlock(lock_fd);
	return err;
}
