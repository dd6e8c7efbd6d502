// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Recovery of an operation killed midway (`pinwall recover`, and the first
 * step of every load, reload and unload): read the interface's intent
 * record and finish the operation once the switch happened (intent.c does
 * the pins, unload.c the unload steps), or roll it back when it did not.
 * The interface keeps the program it had, or gets the one asked for.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* What the kernel runs on @ifname (0: nothing, or no such interface). */
static __u32 attached_prog(const char *ifname, struct pw_xdp_state *st)
{
	int ifindex = (int)if_nametoindex(ifname);

	memset(st, 0, sizeof(*st));
	if (ifindex <= 0 || pw_xdp_state(ifindex, st))
		return 0;
	return st->prog_id;
}

static int open_staged_prog(struct pw_ctx *ctx, const char *ifdir)
{
	char path[PW_PATH_LEN];
	int fd;

	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING "/" PW_PIN_PROG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open the staged program '%s': %s", path,
			       strerror(errno));
	return fd;
}

/* load: attach the staged program (the kill came before the attach). */
static int load_attach_staged(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			      struct pw_intent *in)
{
	char path[PW_PATH_LEN];
	struct pw_xdp_state st;
	enum pw_mode used;
	bool window;
	int ifindex = (int)if_nametoindex(ifname), pfd, ffd, err;

	if (ifindex <= 0)
		return pw_fail(ctx, ENODEV, "cannot finish the interrupted load of '%s': the interface is gone (run 'pinwall clean --yes')",
			       ifname);
	if ((err = pw_xdp_state(ifindex, &st)))
		return pw_fail(ctx, err, "cannot query XDP on '%s': %s", ifname, strerror(-err));
	if (st.prog_id && st.prog_id != in->foreign_prog_id)
		return pw_fail(ctx, EBUSY, "cannot finish the interrupted load of '%s': program id %u was attached meanwhile",
			       ifname, st.prog_id);
	if ((pfd = open_staged_prog(ctx, ifdir)) < 0)
		return pfd;
	if (!st.prog_id) {
		err = pw_attach(ctx, pfd, ifindex, ifname, in->mode, &used);
	} else {
		/* the load had --force: finish what it started */
		pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING "/" PW_PIN_FOREIGN);
		ffd = bpf_obj_get(path);
		err = pw_attach_over(ctx, ifindex, ifname, in->mode, &st, ffd, pfd, &used, &window);
		if (ffd >= 0)
			close(ffd);
	}
	close(pfd);
	if (err)
		return err;
	in->next.mode = used;
	in->next.ifindex = ifindex;
	return pw_intent_step(ctx, ifdir, in, PW_STEP_SWITCHED);
}

/* reload killed while converting an earlier version's bpf_link, after the
 * link's detach: the new program attached through netlink unless the kill
 * came first, and the detached link's pin removed either way. */
static int reload_reattach(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			   const struct pw_intent *in)
{
	char path[PW_PATH_LEN];
	struct bpf_link_info li;
	struct pw_xdp_state st;
	enum pw_mode used;
	int ifindex = (int)if_nametoindex(ifname), fd, pfd, err = 0;
	bool detached;

	if (ifindex <= 0)
		return 0;
	pw_join(path, sizeof(path), ifdir, PW_PIN_LINK);
	if ((fd = bpf_obj_get(path)) < 0)
		return 0;
	detached = pw_fd_kind(fd) == PW_OBJ_LINK && !pw_link_info(fd, &li) &&
		   li.type == BPF_LINK_TYPE_XDP && li.prog_id == in->new_prog_id &&
		   li.xdp.ifindex == 0;
	close(fd);
	if (!detached)
		return 0;
	if (!attached_prog(ifname, &st)) {
		if ((pfd = open_staged_prog(ctx, ifdir)) < 0)
			return pfd;
		err = pw_attach(ctx, pfd, ifindex, ifname, in->next.mode, &used);
		close(pfd);
	}
	if (!err)
		unlink(path);
	return err;
}

/* Rolling back a --force load killed after it detached the other tool's
 * program: attach that program again (through netlink; its link is gone). */
static void put_back_foreign(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			     const struct pw_intent *in)
{
	int ifindex = (int)if_nametoindex(ifname), fd;
	char path[PW_PATH_LEN];
	struct pw_xdp_state st;

	if (!in->foreign_prog_id || ifindex <= 0 || pw_xdp_state(ifindex, &st) || st.prog_id)
		return;
	/* pinned by the load before it detached the program */
	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING "/" PW_PIN_FOREIGN);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fd = bpf_prog_get_fd_by_id(in->foreign_prog_id);
	pw_put_back(ctx, ifindex, ifname, fd, in->foreign_prog_id, in->foreign_mode);
	if (fd >= 0)
		close(fd);
}

/* A conversion killed with its tc backstop made (@prog: the program whose
 * mark to clear, 0: none): removed once XDP holds a program again. */
static int backstop_undo(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			 struct pw_intent *in, __u32 prog)
{
	int ifindex = (int)if_nametoindex(ifname), err;

	if (!in->backstop || ifindex <= 0)
		return 0;
	if ((err = pw_backstop_recover(ctx, ifindex, in->backstop, prog)))
		return err;
	in->backstop = 0;
	return pw_intent_write(ctx, ifdir, in);
}

/* A killed reload: finished once the switch happened (or the new program
 * runs), else dropped: the old program runs on its own maps. */
static int recover_reload(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			  struct pw_intent *in, struct pw_recovery *rec)
{
	struct pw_xdp_state st;
	__u32 prog = attached_prog(ifname, &st);
	int err;

	if (in->step < PW_STEP_SWITCHED &&
	    !(in->step == PW_STEP_STAGED && in->new_prog_id && prog == in->new_prog_id)) {
		/* never switched: the old program runs on its own maps */
		if ((err = backstop_undo(ctx, ifname, ifdir, in, 0)))
			return err;
		pw_intent_clear(ifdir);
		rec->completed = false;
		return 0;
	}
	if (in->step < PW_STEP_SWITCHED &&
	    (err = pw_intent_step(ctx, ifdir, in, PW_STEP_SWITCHED)))
		return err;
	rec->completed = true;
	if ((err = reload_reattach(ctx, ifname, ifdir, in)) ||
	    (err = backstop_undo(ctx, ifname, ifdir, in, in->new_prog_id)))
		return err;
	return pw_intent_finish(ctx, ifdir, in);
}

/* A killed load rolled back: what it staged and the directories it left. */
static int load_rolled_back(const struct pw_ctx *ctx, const char *ifdir, struct pw_recovery *rec)
{
	pw_intent_clear(ifdir);
	pw_remove_empty_dirs(ctx, ifdir);
	rec->completed = false;
	return 0;
}

/* A killed load: finished when its program runs or can still be attached,
 * rolled back otherwise. */
static int recover_load(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			struct pw_intent *in, struct pw_recovery *rec, bool undo_load)
{
	char taken[PW_PATH_LEN];
	struct pw_xdp_state st;
	__u32 prog;
	int err;

	/* netlink keeps what the killed load attached */
	prog = attached_prog(ifname, &st);
	if (in->step < PW_STEP_SWITCHED && prog == in->new_prog_id && in->new_prog_id) {
		in->next.mode = st.mode;
		if ((err = pw_intent_step(ctx, ifdir, in, PW_STEP_SWITCHED)))
			return err;
	}
	/* not attached yet: roll back when nothing was staged, when an
	 * unload asks (finishing would detach another tool's program only
	 * to detach pinwall's), or when a staged map's path was taken */
	if (in->step < PW_STEP_SWITCHED &&
	    (in->step < PW_STEP_STAGED || undo_load ||
	     pw_staged_conflict(ctx, ifdir, taken, sizeof(taken)))) {
		put_back_foreign(ctx, ifname, ifdir, in);
		return load_rolled_back(ctx, ifdir, rec);
	}
	rec->completed = true;
	if (in->step < PW_STEP_SWITCHED) {
		err = load_attach_staged(ctx, ifname, ifdir, in);
		if (err == -EBUSY) {
			/* someone attached a program meanwhile: leave it, undo ours */
			pw_detail(ctx, "%s", ctx->err);
			return load_rolled_back(ctx, ifdir, rec);
		}
		if (err)
			return err;
	}
	return pw_intent_finish(ctx, ifdir, in);
}

int pw_recover_locked(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		      struct pw_recovery *rec, bool undo_load)
{
	struct pw_intent in;
	const char *chain;
	int err = pw_chain_recover(ctx, ifdir, &chain);

	if (err)
		return err;
	if (chain)
		pw_detail(ctx, "%s the interrupted change of the chained program on %s first",
			  chain, ifname);
	err = pw_intent_read(ifdir, &in);
	memset(rec, 0, sizeof(*rec));
	if (err == -ENOENT)
		return 0;
	if (err)
		return pw_fail(ctx, err, "cannot read the intent record in '%s': %s", ifdir,
			       pw_record_problem(err));
	rec->found = true;
	rec->op = in.op;
	rec->step = in.step;
	rec->pid = in.pid;
	switch (in.op) {
	case PW_OP_RELOAD:
		return recover_reload(ctx, ifname, ifdir, &in, rec);
	case PW_OP_LOAD:
		return recover_load(ctx, ifname, ifdir, &in, rec, undo_load);
	case PW_OP_UNLOAD:
		rec->completed = true;
		return pw_unload_core(ctx, ifname, ifdir, &in, NULL);
	default:
		return pw_fail(ctx, EPROTO, "intent record in '%s' names unknown operation %u: remove '%s/%s' by hand",
			       ifdir, in.op, ifdir, PW_PIN_INTENT);
	}
}

int pw_recover(struct pw_ctx *ctx, const char *ifname, struct pw_recovery *rec)
{
	char ifdir[PW_PATH_LEN];
	int lock_fd = -1, err;

	memset(rec, 0, sizeof(*rec));
	if ((err = pw_check_caps(ctx)))
		return err;
	if ((err = pw_bpffs_prepare(ctx, false)))
		return err;
	if (!pw_path_exists(ctx->pin_root))
		return 0;
	if ((err = pw_lock(ctx, &lock_fd)))
		return err;
	if (pw_iface_dir(ctx, ctx->netns_ino, ifname, ifdir, sizeof(ifdir)))
		err = pw_fail(ctx, ENAMETOOLONG, "interface name '%s' is too long: at most %d characters",
			      ifname, IFNAMSIZ - 1);
	else
		err = pw_recover_locked(ctx, ifname, ifdir, rec, false);
	pw_unlock(lock_fd);
	return err;
}

int pw_recover_all(struct pw_ctx *ctx, struct pw_recovery *recs, char (*names)[32], int max,
		   int *n)
{
	char nsdir[PW_PATH_LEN], ifdir[PW_PATH_LEN], ifname[32];
	struct pw_rules_maps m;
	struct dirent *e;
	int lock_fd = -1, err;
	DIR *d;

	*n = 0;
	if ((err = pw_check_caps(ctx)) || (err = pw_bpffs_prepare(ctx, false)))
		return err;
	if (!pw_path_exists(ctx->pin_root))
		return 0;
	if ((err = pw_lock(ctx, &lock_fd)))
		return err;
	/* the rule apply: only when the rule maps exist (never created here) */
	if (!pw_rules_open(ctx, &m, false, false)) {
		err = pw_rules_recover(ctx, &m, &recs[*n]);
		pw_rules_close(&m);
		if (err)
			goto out;
		if (recs[*n].found)
			names[(*n)++][0] = '\0';
	}
	ctx->err[0] = '\0';
	pw_ns_dir(ctx, ctx->netns_ino, nsdir, sizeof(nsdir));
	if (!(d = opendir(nsdir)))
		goto out;
	while ((e = readdir(d))) {
		struct pw_intent in;

		if (e->d_name[0] == '.' || pw_join(ifdir, sizeof(ifdir), nsdir, e->d_name) ||
		    pw_intent_read(ifdir, &in))
			continue;
		if (*n == max) {
			/* never a silent stop: the rest waits for the next call */
			err = pw_fail(ctx, E2BIG, "more than %d interrupted operations: run 'pinwall recover' again for the rest",
				      max);
			break;
		}
		pw_ifname_unescape(e->d_name, ifname, sizeof(ifname));
		/* one that cannot be recovered does not stop the others */
		int e1 = pw_recover_locked(ctx, ifname, ifdir, &recs[*n], false);

		if (e1) {
			pw_detail(ctx, "%s: %s", ifname, ctx->err);
			err = err ?: e1;
			continue;
		}
		snprintf(names[(*n)++], 32, "%s", ifname);
	}
	closedir(d);
out:
	pw_unlock(lock_fd);
	return err;
}
