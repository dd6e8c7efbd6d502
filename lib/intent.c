// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Crash safety of load, reload and unload. Each writes an intent record
 * before its first change and advances its step as it goes; everything the
 * new program brings waits below pending/ until the interface runs it. If
 * the process dies, the next command on the interface (or `pinwall
 * recover`) reads the record and finishes the operation once the switch
 * happened, or removes pending/ when it did not: the interface keeps the
 * program it had, or gets the one asked for, never neither (see
 * docs/LIFECYCLE.md for the one window a kill cannot be made safe).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

const char *pw_op_name(__u32 op)
{
	switch (op) {
	case PW_OP_LOAD: return "load";
	case PW_OP_RELOAD: return "reload";
	case PW_OP_UNLOAD: return "unload";
	case PW_OP_APPLY: return "apply";
	default: return "unknown";
	}
}

const char *pw_step_name(__u32 step)
{
	switch (step) {
	case PW_STEP_PLANNED: return "planned";
	case PW_STEP_STAGED: return "staged";
	case PW_STEP_SWITCHED: return "switched";
	case PW_STEP_MERGED: return "merged";
	default: return "unknown";
	}
}

#ifdef PW_TEST_HOOKS
/* Test hooks (test builds only): PINWALL_TEST_KILL_AT=OP:STEP kills this
 * process right there, the way an operator's kill -9 or a crash would;
 * PINWALL_TEST_STOP_AT=OP:STEP stops it (SIGSTOP) so a test can change
 * the kernel's state before it goes on. */
static bool step_is(const char *var, __u32 op, const char *step)
{
	const char *at = getenv(var);
	char here[64];

	if (!at)
		return false;
	snprintf(here, sizeof(here), "%s:%s", pw_op_name(op), step);
	return !strcmp(at, here);
}

void pw_step(__u32 op, const char *step)
{
	if (step_is("PINWALL_TEST_STOP_AT", op, step))
		raise(SIGSTOP);
	if (step_is("PINWALL_TEST_KILL_AT", op, step))
		raise(SIGKILL);
}
#endif

void pw_intent_init(struct pw_intent *in, __u32 op)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(in, 0, sizeof(*in));
	in->version = PW_INTENT_VERSION;
	in->op = op;
	in->step = PW_STEP_PLANNED;
	in->pid = (__u32)getpid();
	in->started_at = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int pw_intent_step(struct pw_ctx *ctx, const char *ifdir, struct pw_intent *in, __u32 step)
{
	in->step = step;
	return pw_intent_write(ctx, ifdir, in);
}

/* Drop pending/ (what an operation staged) and the intent record, walking
 * from the interface directory without following links (pinwalk.c). */
void pw_intent_clear(const char *ifdir)
{
	static const char *const subs[] = { PW_DIR_MAPS, PW_DIR_SHARED, PW_DIR_MAPS_NEW,
					    PW_DIR_SHARED_NEW, PW_DIR_SNAP };
	int fd = pw_opendir_below(ifdir, pw_ifdir_root_len(ifdir)), pfd;

	if (fd < 0)
		return;
	pfd = openat(fd, PW_DIR_PENDING, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd >= 0) {
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			pw_rm_pins_at(pfd, subs[i]);
		close(pfd);
	}
	pw_rm_pins_at(fd, PW_DIR_PENDING);
	unlinkat(fd, PW_PIN_INTENT, 0);
	/* a record write killed between pinning beside and renaming */
	unlinkat(fd, PW_PIN_INTENT "_new", 0);
	close(fd);
}

/* Fold the old program's late changes of one migrated map into its successor. */
static int merge_one(struct pw_ctx *ctx, const char *name, const char *old_path,
		     const char *snap_path, const char *new_path)
{
	struct pw_map_desc *d = calloc(2, sizeof(*d));
	struct pw_migration *mg = NULL;
	struct bpf_map_info oi, ni;
	int ofd = -1, sfd = -1, nfd = -1, err;

	if (!d)
		return pw_fail(ctx, ENOMEM, "out of memory");
	ofd = bpf_obj_get(old_path);
	sfd = bpf_obj_get(snap_path);
	nfd = bpf_obj_get(new_path);
	if (ofd < 0 || sfd < 0 || nfd < 0) {
		err = pw_fail(ctx, errno, "cannot open map '%s' to merge its late counts (%s): %s",
			      name, ofd < 0 ? old_path : sfd < 0 ? snap_path : new_path,
			      strerror(errno));
		goto out;
	}
	if ((err = pw_map_info(ofd, &oi)) || (err = pw_map_info(nfd, &ni))) {
		err = pw_fail(ctx, err, "cannot read map '%s': %s", name, strerror(-err));
		goto out;
	}
	pw_map_desc_from_info(&oi, &d[0]);
	pw_map_desc_from_info(&ni, &d[1]);
	err = pw_map_decide(ctx, name, old_path, &d[0], &d[1], &mg);
	if (err == PW_MAP_REUSE)
		mg = pw_migration_identity(&d[0], &d[1]);	/* same layout and size */
	if (!mg) {
		err = pw_fail(ctx, EPROTO, "map '%s' at '%s' no longer matches the one staged: cannot merge",
			      name, old_path);
		goto out;
	}
	err = pw_migration_merge(mg, ofd, sfd, nfd);
	if (err)
		err = pw_fail(ctx, err, "cannot merge the late counts of map '%s': %s", name,
			      strerror(-err));
out:
	free(mg);
	free(d);
	if (ofd >= 0)
		close(ofd);
	if (sfd >= 0)
		close(sfd);
	if (nfd >= 0)
		close(nfd);
	return err;
}

/* pending/maps/NAME -> IFDIR/maps/NAME, pending/shared/NAME -> ROOT/shared/NAME */
static int real_path(const struct pw_ctx *ctx, const char *ifdir, const char *sub,
		     const char *name, char *buf, size_t len)
{
	char dir[PW_PATH_LEN];

	if (!strcmp(sub, PW_DIR_SHARED) || !strcmp(sub, PW_DIR_SHARED_NEW))
		pw_shared_dir(ctx, dir, sizeof(dir));
	else
		pw_join(dir, sizeof(dir), ifdir, PW_DIR_MAPS);
	return pw_join(buf, len, dir, name);
}

/*
 * Everything after the switch, from the pins alone (so recovery runs the
 * same code): merge the late counts of migrated maps, move the staged pins
 * over the old ones (rename replaces a pin atomically), write the load
 * record, drop the intent.
 */
/* A map staged as new whose pin path was taken since (another command made
 * it while this operation lay killed): renaming would hide that map. */
static bool staged_conflict(const struct pw_ctx *ctx, const char *ifdir, char *what, size_t len)
{
	static const char *const subs[] = { PW_DIR_MAPS_NEW, PW_DIR_SHARED_NEW };
	char dir[PW_PATH_LEN], real[PW_PATH_LEN];
	bool taken = false;
	struct dirent *e;
	DIR *d;

	for (size_t i = 0; i < 2 && !taken; i++) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", ifdir, PW_DIR_PENDING, subs[i]);
		if (!(d = opendir(dir)))
			continue;
		while (!taken && (e = readdir(d))) {
			if (e->d_name[0] == '.' ||
			    real_path(ctx, ifdir, subs[i], e->d_name, real, sizeof(real)))
				continue;
			if ((taken = pw_path_exists(real)))
				snprintf(what, len, "%s", real);
		}
		closedir(d);
	}
	return taken;
}

int pw_intent_finish(struct pw_ctx *ctx, const char *ifdir, struct pw_intent *in)
{
	static const char *const subs[] = { PW_DIR_MAPS, PW_DIR_SHARED, PW_DIR_MAPS_NEW,
					    PW_DIR_SHARED_NEW };
	char pending[PW_PATH_LEN], dir[PW_PATH_LEN], side[PW_PATH_LEN], real[PW_PATH_LEN];
	struct dirent *e;
	DIR *d;
	int err = 0;

	pw_join(pending, sizeof(pending), ifdir, PW_DIR_PENDING);
	if (in->step < PW_STEP_MERGED) {
		char snap[PW_PATH_LEN];

		/* the old program may still be running on another CPU */
		if ((err = pw_wait_for_programs()))
			return pw_fail(ctx, err, "cannot wait for the old program to finish: %s",
				       strerror(-err));
		pw_join(dir, sizeof(dir), pending, PW_DIR_SNAP);
		if ((d = opendir(dir))) {
			while ((e = readdir(d))) {
				const char *sub = NULL;

				if (e->d_name[0] == '.')
					continue;
				for (size_t i = 0; i < 2 && !sub; i++) {
					snprintf(side, sizeof(side), "%s/%s/%s", pending, subs[i], e->d_name);
					if (pw_path_exists(side))
						sub = subs[i];
				}
				snprintf(snap, sizeof(snap), "%s/%s", dir, e->d_name);
				if (sub && !real_path(ctx, ifdir, sub, e->d_name, real, sizeof(real)) &&
				    (err = merge_one(ctx, e->d_name, real, snap, side))) {
					closedir(d);
					return err;
				}
				unlink(snap);	/* merged: a rerun skips it */
			}
			closedir(d);
			rmdir(dir);
		}
		pw_step(in->op, "merged");
		if ((err = pw_intent_step(ctx, ifdir, in, PW_STEP_MERGED)))
			return err;
	}
	for (size_t i = 0; i < 4; i++) {
		bool fresh = i >= 2;	/* *_new: only to a free path */

		pw_join(dir, sizeof(dir), pending, subs[i]);
		if (!(d = opendir(dir)))
			continue;
		while ((e = readdir(d))) {
			char parent[PW_PATH_LEN];

			if (e->d_name[0] == '.')
				continue;
			snprintf(side, sizeof(side), "%s/%s", dir, e->d_name);
			real_path(ctx, ifdir, subs[i], e->d_name, real, sizeof(real));
			snprintf(parent, sizeof(parent), "%s", real);
			*strrchr(parent, '/') = '\0';
			if ((err = pw_mkdirs(ctx, parent)))
				break;
			if (renameat2(AT_FDCWD, side, AT_FDCWD, real, fresh ? RENAME_NOREPLACE : 0)) {
				err = errno == EEXIST ?
					pw_fail(ctx, EEXIST, "'%s' was pinned by another command while this %s lay interrupted: the program runs with its own '%s' (staged at '%s'); remove one of the two and run 'pinwall recover' again",
						real, pw_op_name(in->op), e->d_name, side) :
					pw_fail(ctx, errno, "cannot move pin '%s' to '%s': %s", side, real,
						strerror(errno));
				break;
			}
		}
		closedir(d);
		if (err)
			return err;
	}
	pw_step(in->op, "repinned");
	in->next.prog_id = in->new_prog_id;
	if ((err = pw_meta_write(ctx, ifdir, &in->next)))
		return err;
	pw_step(in->op, "recorded");
	pw_intent_clear(ifdir);
	return 0;
}

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

/* reload killed while converting an earlier version's bpf_link: the link
 * was detached, the new program not yet attached through netlink. */
static int reload_reattach(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
			   const struct pw_intent *in)
{
	char path[PW_PATH_LEN];
	struct bpf_link_info li;
	struct pw_xdp_state st;
	enum pw_mode used;
	int ifindex = (int)if_nametoindex(ifname), fd, pfd, err;
	bool detached;

	if (ifindex <= 0 || attached_prog(ifname, &st))
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
	if ((pfd = open_staged_prog(ctx, ifdir)) < 0)
		return pfd;
	err = pw_attach(ctx, pfd, ifindex, ifname, in->next.mode, &used);
	close(pfd);
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

int pw_recover_locked(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		      struct pw_recovery *rec, bool undo_load)
{
	char taken[PW_PATH_LEN];
	struct pw_xdp_state st;
	struct pw_intent in;
	__u32 prog;
	int err = pw_intent_read(ifdir, &in);

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
		prog = attached_prog(ifname, &st);
		if (in.step < PW_STEP_SWITCHED &&
		    !(in.step == PW_STEP_STAGED && in.new_prog_id && prog == in.new_prog_id)) {
			/* never switched: the old program runs on its own maps */
			pw_intent_clear(ifdir);
			rec->completed = false;
			return 0;
		}
		if (in.step < PW_STEP_SWITCHED &&
		    (err = pw_intent_step(ctx, ifdir, &in, PW_STEP_SWITCHED)))
			return err;
		rec->completed = true;
		if ((err = reload_reattach(ctx, ifname, ifdir, &in)))
			return err;
		return pw_intent_finish(ctx, ifdir, &in);
	case PW_OP_LOAD:
		/* netlink keeps what the killed load attached */
		prog = attached_prog(ifname, &st);
		if (in.step < PW_STEP_SWITCHED && prog == in.new_prog_id && in.new_prog_id) {
			in.next.mode = st.mode;
			if ((err = pw_intent_step(ctx, ifdir, &in, PW_STEP_SWITCHED)))
				return err;
		}
		/* not attached yet: roll back when nothing was staged, when an
		 * unload asks (finishing would detach another tool's program only
		 * to detach pinwall's), or when a staged map's path was taken */
		if (in.step < PW_STEP_SWITCHED &&
		    (in.step < PW_STEP_STAGED || undo_load ||
		     staged_conflict(ctx, ifdir, taken, sizeof(taken)))) {
			put_back_foreign(ctx, ifname, ifdir, &in);
			pw_intent_clear(ifdir);
			pw_remove_empty_dirs(ctx, ifdir);
			rec->completed = false;
			return 0;
		}
		rec->completed = true;
		if (in.step < PW_STEP_SWITCHED) {
			err = load_attach_staged(ctx, ifname, ifdir, &in);
			if (err == -EBUSY) {
				/* someone attached a program meanwhile: leave it, undo ours */
				pw_detail(ctx, "%s", ctx->err);
				pw_intent_clear(ifdir);
				pw_remove_empty_dirs(ctx, ifdir);
				rec->completed = false;
				return 0;
			}
			if (err)
				return err;
		}
		return pw_intent_finish(ctx, ifdir, &in);
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
