// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Chaining a user's XDP program after pinwall (`load/reload --then`,
 * docs/CHAINING.md). pw_chain_prepare() does everything that can be
 * refused without changing anything: the object opened, its program
 * checked to be tail-callable from pinwall's, its maps matched with their
 * pins below chain/maps/, the verdict count added, the program loaded.
 * pw_chain_switch() then makes the one change that matters, the update of
 * pw_chain's slot (atomic: a frame sees the old program or the new one),
 * between two writes of the chain record that let a killed change be
 * finished or undone (chain_rec.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

struct pw_chain {
	char ifname[32];
	char ifdir[PW_PATH_LEN];
	bool none;			/* --then none: empty the slot */
	struct pw_obj obj;
	int stats_fd;
	bool stats_new;			/* pw_chain_stats is not pinned yet */
	int n_new;			/* maps with no pin yet: new[] */
	struct bpf_map *new[16];
};

void pw_chain_free(struct pw_chain *c)
{
	if (!c)
		return;
	if (c->obj.obj)
		pw_obj_close(&c->obj);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c);
}

/* The kernel's rules for a tail call from pinwall_xdp (plain XDP, no
 * frags, attached at the XDP hook), checked before the kernel says EINVAL. */
static int check_prog(struct pw_ctx *ctx, const struct pw_obj *o)
{
	const char *name = bpf_program__name(o->prog);

	/* libbpf sets the flag only at load: the section says it */
	if (!strncmp(bpf_program__section_name(o->prog), "xdp.frags", 9) ||
	    (bpf_program__flags(o->prog) & BPF_F_XDP_HAS_FRAGS))
		return pw_fail(ctx, EINVAL, "program '%s' in '%s' is an xdp.frags program: pinwall's is not, and a tail call needs both the same; build it with SEC(\"xdp\")",
			       name, o->object);
	if (bpf_program__expected_attach_type(o->prog) != BPF_XDP)
		return pw_fail(ctx, EINVAL, "program '%s' in '%s' is for a devmap or cpumap entry, not the XDP hook: build it with SEC(\"xdp\")",
			       name, o->object);
	return 0;
}

/* IFDIR/chain/maps/NAME; non-zero when it does not fit. */
static int map_path(const struct pw_chain *c, const char *name, char *path, size_t len)
{
	char dir[PW_PATH_LEN];

	pw_chain_path(dir, sizeof(dir), c->ifdir, PW_DIR_MAPS);
	return (size_t)snprintf(path, len, "%s/%s", dir, name) >= len;
}

/* One map: reuse its pin below chain/maps/ when it matches, else refuse;
 * no pin: created at load, pinned by the switch. */
static int match_map(struct pw_ctx *ctx, struct pw_chain *c, struct bpf_map *map)
{
	const char *name = bpf_map__name(map);
	struct pw_map_desc *d = calloc(2, sizeof(*d));
	struct pw_migration *mig = NULL;
	struct bpf_map_info info;
	char path[PW_PATH_LEN];
	int fd, err = 0;

	bpf_map__set_pin_path(map, NULL);	/* never libbpf's own pinning */
	if (map_path(c, name, path, sizeof(path)))
		fd = pw_fail(ctx, ENAMETOOLONG, "map name '%s' is too long to pin", name);
	else if (!d)
		fd = pw_fail(ctx, ENOMEM, "out of memory");
	else
		fd = pw_open_map_pin(ctx, path, false);
	if (fd == -ENOENT && c->n_new < 16) {
		c->new[c->n_new++] = map;
	} else if (fd == -ENOENT) {
		err = pw_fail(ctx, E2BIG, "'%s' has more than 16 maps: pinwall chains objects with at most 16",
			      c->obj.object);
	} else if (fd < 0) {
		err = fd;
	} else if (pw_map_info(fd, &info) || pw_map_desc_from_info(&info, &d[0]) ||
		   pw_map_desc_from_map(map, bpf_object__btf(c->obj.obj), &d[1]) ||
		   pw_map_decide(ctx, name, path, &d[0], &d[1], &mig) != PW_MAP_REUSE) {
		err = pw_fail(ctx, EEXIST, "map '%s' of '%s' clashes with the map pinned at '%s': 'pinwall reload %s --then none' drops the chained program's maps",
			      name, c->obj.object, path, c->ifname);
	} else if ((err = bpf_map__reuse_fd(map, fd))) {
		err = pw_fail(ctx, err, "cannot reuse the map pinned at '%s': %s", path,
			      strerror(-err));
	}
	free(mig);
	free(d);
	if (fd >= 0)
		close(fd);
	return err;
}

/* The verdict counters: the pinned ones (kept across changes), or new. */
static int open_stats(struct pw_ctx *ctx, struct pw_chain *c)
{
	char path[PW_PATH_LEN];

	pw_chain_path(path, sizeof(path), c->ifdir, PW_MAP_CHAIN_STATS);
	c->stats_fd = pw_chain_open_pin(ctx, path, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u64),
					PW_CHAIN_VERDICTS);
	if (c->stats_fd != -ENOENT)
		return c->stats_fd < 0 ? c->stats_fd : 0;
	c->stats_new = true;
	c->stats_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, PW_MAP_CHAIN_STATS, 4,
				     sizeof(__u64), PW_CHAIN_VERDICTS, NULL);
	if (c->stats_fd < 0)
		return pw_fail(ctx, errno, "cannot create the chain's verdict counters: %s",
			       strerror(errno));
	return 0;
}

static int prepare_obj(struct pw_ctx *ctx, struct pw_chain *c, const struct pw_chain_opts *o)
{
	struct bpf_map *map;
	int err;

	if ((err = pw_obj_open(ctx, o->obj_path, o->prog_name, &c->obj)) ||
	    (err = check_prog(ctx, &c->obj)))
		return err;
	bpf_object__for_each_map(map, c->obj.obj) {
		if (!bpf_map__is_internal(map) && (err = match_map(ctx, c, map)))
			return err;
	}
	if ((err = open_stats(ctx, c)) ||
	    (err = pw_chain_count_insns(ctx, c->obj.prog, c->stats_fd)))
		return err;
	return pw_obj_load(ctx, &c->obj);
}

/* The tail call is pinwall's built-in program's: an --obj program has none. */
static int check_builtin(struct pw_ctx *ctx, const struct pw_chain *c)
{
	struct pw_meta m;

	if (pw_meta_read(c->ifdir, &m) || !m.prog_id || m.builtin)
		return 0;
	return pw_fail(ctx, EINVAL, "'%s' runs program '%s' from '%s', not pinwall's built-in one: --then chains after the built-in program only",
		       c->ifname, m.prog, m.object);
}

int pw_chain_prepare(struct pw_ctx *ctx, const char *ifname, const struct pw_chain_opts *o,
		     struct pw_chain **out)
{
	struct pw_chain *c = calloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (!c)
		return pw_fail(ctx, ENOMEM, "out of memory");
	c->stats_fd = -1;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	if (pw_iface_dir(ctx, ctx->netns_ino, ifname, c->ifdir, sizeof(c->ifdir))) {
		pw_chain_free(c);
		return pw_fail(ctx, ENAMETOOLONG, "interface name '%s' is too long", ifname);
	}
	c->none = !strcmp(o->obj_path, "none");
	if ((err = check_builtin(ctx, c)) || (!c->none && (err = prepare_obj(ctx, c, o)))) {
		pw_chain_free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* Pin what the switch brings anew, each named in the record first. */
static int pin_new(struct pw_ctx *ctx, struct pw_chain *c, struct pw_chain_rec *rec)
{
	char dir[PW_PATH_LEN], path[PW_PATH_LEN];
	int err;

	pw_chain_path(dir, sizeof(dir), c->ifdir, PW_DIR_MAPS);
	if ((err = pw_mkdirs(ctx, dir)))
		return err;
	for (int i = 0; i < c->n_new; i++)
		snprintf(rec->new_maps[rec->n_new++], PW_NAME_LEN, "%s", bpf_map__name(c->new[i]));
	if ((err = pw_chain_rec_write(ctx, c->ifdir, rec)))
		return err;
	for (int i = 0; i < c->n_new; i++) {
		map_path(c, bpf_map__name(c->new[i]), path, sizeof(path));
		if (bpf_obj_pin(bpf_map__fd(c->new[i]), path))
			return pw_fail(ctx, errno, "cannot pin map '%s' at '%s': %s",
				       bpf_map__name(c->new[i]), path, strerror(errno));
	}
	pw_chain_path(path, sizeof(path), c->ifdir, PW_MAP_CHAIN_STATS);
	if (c->stats_new && bpf_obj_pin(c->stats_fd, path))
		return pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));
	c->stats_new = false;
	return 0;
}

/* The one change: the slot, atomically (update or delete). */
static int set_slot(struct pw_ctx *ctx, struct pw_chain *c, int array_fd)
{
	__u32 zero = 0;
	int fd;

	if (c->none)
		return bpf_map_delete_elem(array_fd, &zero) && errno != ENOENT ?
		       pw_fail(ctx, errno, "cannot empty the chain slot of '%s': %s", c->ifname,
			       strerror(errno)) : 0;
	fd = bpf_program__fd(c->obj.prog);
	if (!bpf_map_update_elem(array_fd, &zero, &fd, BPF_ANY))
		return 0;
	return pw_fail(ctx, errno, "the kernel refused to chain program '%s' after pinwall's: %s (a tail call needs the same program type, xdp.frags flag and JIT state)",
		       bpf_program__name(c->obj.prog), strerror(errno));
}

static void rec_next(struct pw_chain *c, struct pw_chain_rec *rec, __u32 old_id)
{
	struct bpf_prog_info info;

	rec->version = PW_CHAIN_VERSION;
	rec->prog_id = old_id;
	rec->pid = (__u32)getpid();
	rec->next_prog_id = 0;
	if (c->none)
		return;
	if (!pw_prog_info(bpf_program__fd(c->obj.prog), &info))
		rec->next_prog_id = info.id;
	snprintf(rec->next_prog, sizeof(rec->next_prog), "%s", bpf_program__name(c->obj.prog));
	snprintf(rec->next_object, sizeof(rec->next_object), "%s", c->obj.object);
}

/* With the lock held, pinwall's program running on the interface. */
static int switch_locked(struct pw_ctx *ctx, struct pw_chain *c, __u32 op,
			 struct pw_chain_report *r)
{
	struct pw_chain_rec rec;
	int fd, err;

	if ((err = pw_chain_recover(ctx, c->ifdir, &r->recovered)))
		return err;
	fd = pw_chain_array(ctx, c->ifdir);
	if (fd == -ENOENT)
		return pw_fail(ctx, ENOENT, "the program on '%s' has no chain slot (%s/%s/%s): --then needs pinwall's built-in program of this version",
			       c->ifname, c->ifdir, PW_DIR_MAPS, PW_MAP_CHAIN);
	if (fd < 0)
		return fd;
	r->old_prog_id = pw_chain_slot_id(fd);
	if (c->none && !r->old_prog_id && pw_chain_rec_read(ctx, c->ifdir, &rec) == -ENOENT)
		goto out;	/* nothing chained, nothing pinned */
	if ((err = pw_chain_rec_read(ctx, c->ifdir, &rec)) && err != -ENOENT)
		goto out;
	rec_next(c, &rec, r->old_prog_id);
	if ((err = pin_new(ctx, c, &rec)))
		goto undo;
	pw_step(op, "chain-staged");
	if ((err = set_slot(ctx, c, fd)))
		goto undo;
	pw_step(op, "chain-switched");
	r->prog_id = rec.next_prog_id;
	err = pw_chain_settle(ctx, c->ifdir, &rec, true);
	goto out;
undo:
	if (rec.pid == (__u32)getpid())
		pw_chain_settle(ctx, c->ifdir, &rec, false);
out:
	close(fd);
	return err;
}

int pw_chain_switch(struct pw_ctx *ctx, struct pw_chain *c, __u32 op, struct pw_chain_report *r)
{
	int lock_fd = -1, err;

	memset(r, 0, sizeof(*r));
	if ((err = pw_lock(ctx, &lock_fd)))
		return err;
	err = switch_locked(ctx, c, op, r);
	pw_unlock(lock_fd);
	return err;
}

int pw_chain_steer_check(struct pw_ctx *ctx, const char *ifname, bool load,
			 const struct pw_steer_cpus *steer, const struct pw_chain_opts *then)
{
	struct pw_steer_cpus cur;
	struct pw_chain_info ci;
	char ifdir[PW_PATH_LEN];
	bool steered, chained;

	if (pw_iface_dir(ctx, ctx->netns_ino, ifname, ifdir, sizeof(ifdir)))
		return pw_fail(ctx, ENAMETOOLONG, "interface name '%s' is too long", ifname);
	if (steer)
		steered = steer->n > 0;
	else
		steered = !load && !pw_steer_read(ctx, ifdir, &cur) && cur.n > 0;
	if (then)
		chained = strcmp(then->obj_path, "none") != 0;
	else
		chained = !pw_chain_info(ctx, ifdir, &ci) && ci.prog_id;
	if (!steered || !chained)
		return 0;
	return pw_fail(ctx, EINVAL, "'%s' cannot have both --steer and --then: both decide where a passed frame goes (%s)",
		       ifname, steer && then ? "use one of them" : steer ?
		       "take the chained program away first: reload --then none" :
		       "stop the steering first: reload --steer none");
}
