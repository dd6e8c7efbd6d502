// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Crash safety of load, reload and unload. Each writes an intent record
 * before its first change and advances its step as it goes; everything the
 * new program brings waits below pending/ until the interface runs it. If
 * the process dies, the next command on the interface (or `pinwall
 * recover`, see recover.c) reads the record and finishes the operation once
 * the switch happened (pw_intent_finish here), or removes pending/ when it
 * did not: the interface keeps the program it had, or gets the one asked
 * for, never neither (see docs/LIFECYCLE.md for the one window a kill
 * cannot be made safe).
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
#include <bpf/bpf.h>
#include "internal.h"

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

/* Wait until no program still runs with what it read before: an update of a
 * map-in-map makes the kernel wait for running BPF programs to finish. */
int pw_wait_for_programs(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int inner, outer, err = 0;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (inner < 0)
		return -errno;
	o.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, NULL, 4, 4, 1, &o);
	if (outer < 0)
		err = -errno;
	else if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY))
		err = -errno;
	if (outer >= 0)
		close(outer);
	close(inner);
	return err;
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

/* A map staged as new whose pin path was taken since (another command made
 * it while this operation lay killed): renaming would hide that map. */
bool pw_staged_conflict(const struct pw_ctx *ctx, const char *ifdir, char *what, size_t len)
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

/* The old program's late changes folded into each migrated map, from its
 * snapshot below pending/snap/ (removed once merged: a rerun skips it). */
static int merge_late_counts(struct pw_ctx *ctx, const char *ifdir, const char *pending)
{
	static const char *const subs[] = { PW_DIR_MAPS, PW_DIR_SHARED };
	char dir[PW_PATH_LEN], side[PW_PATH_LEN], real[PW_PATH_LEN], snap[PW_PATH_LEN];
	struct dirent *e;
	DIR *d;
	int err;

	/* the old program may still be running on another CPU */
	if ((err = pw_wait_for_programs()))
		return pw_fail(ctx, err, "cannot wait for the old program to finish: %s",
			       strerror(-err));
	pw_join(dir, sizeof(dir), pending, PW_DIR_SNAP);
	if (!(d = opendir(dir)))
		return 0;
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
	return 0;
}

/* Staged pin @name in @dir (pending/@sub) renamed over its real path; a
 * map staged as new (@fresh) only to a free path. */
static int move_pin(struct pw_ctx *ctx, const char *ifdir, const char *dir, const char *sub,
		    const char *name, bool fresh, __u32 op)
{
	char side[PW_PATH_LEN], real[PW_PATH_LEN], parent[PW_PATH_LEN];
	int err;

	snprintf(side, sizeof(side), "%s/%s", dir, name);
	real_path(ctx, ifdir, sub, name, real, sizeof(real));
	snprintf(parent, sizeof(parent), "%s", real);
	*strrchr(parent, '/') = '\0';
	if ((err = pw_mkdirs(ctx, parent)))
		return err;
	if (!renameat2(AT_FDCWD, side, AT_FDCWD, real, fresh ? RENAME_NOREPLACE : 0))
		return 0;
	return errno == EEXIST ?
		pw_fail(ctx, EEXIST, "'%s' was pinned by another command while this %s lay interrupted: the program runs with its own '%s' (staged at '%s'); remove one of the two and run 'pinwall recover' again",
			real, pw_op_name(op), name, side) :
		pw_fail(ctx, errno, "cannot move pin '%s' to '%s': %s", side, real,
			strerror(errno));
}

/* Every pin staged below pending/ moved over the one it replaces (rename
 * replaces a pin atomically). */
static int move_staged_pins(struct pw_ctx *ctx, const char *ifdir, const char *pending, __u32 op)
{
	static const char *const subs[] = { PW_DIR_MAPS, PW_DIR_SHARED, PW_DIR_MAPS_NEW,
					    PW_DIR_SHARED_NEW };
	char dir[PW_PATH_LEN];
	struct dirent *e;
	int err = 0;
	DIR *d;

	for (size_t i = 0; i < 4; i++) {
		bool fresh = i >= 2;	/* *_new: only to a free path */

		pw_join(dir, sizeof(dir), pending, subs[i]);
		if (!(d = opendir(dir)))
			continue;
		while (!err && (e = readdir(d)))
			if (e->d_name[0] != '.')
				err = move_pin(ctx, ifdir, dir, subs[i], e->d_name, fresh, op);
		closedir(d);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Everything after the switch, from the pins alone (so recovery runs the
 * same code): merge the late counts of migrated maps, move the staged pins
 * over the old ones, write the load record, drop the intent.
 */
int pw_intent_finish(struct pw_ctx *ctx, const char *ifdir, struct pw_intent *in)
{
	char pending[PW_PATH_LEN];
	int err;

	pw_join(pending, sizeof(pending), ifdir, PW_DIR_PENDING);
	if (in->step < PW_STEP_MERGED) {
		if ((err = merge_late_counts(ctx, ifdir, pending)))
			return err;
		pw_step(in->op, "merged");
		if ((err = pw_intent_step(ctx, ifdir, in, PW_STEP_MERGED)))
			return err;
	}
	/* the egress flow recorder follows the program now running */
	if ((err = pw_ct_egress_ensure(ctx, (int)in->next.ifindex, in->next.ifname,
				       in->new_prog_id)))
		return err;
	pw_step(in->op, "recorder");
	if ((err = move_staged_pins(ctx, ifdir, pending, in->op)))
		return err;
	pw_step(in->op, "repinned");
	in->next.prog_id = in->new_prog_id;
	if ((err = pw_meta_write(ctx, ifdir, &in->next)))
		return err;
	pw_step(in->op, "recorded");
	pw_intent_clear(ifdir);
	return 0;
}
