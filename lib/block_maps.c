// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pinned block maps (shared, like the rule maps): opening them, making
 * them when missing, and refusing when a running program would not see them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "block_int.h"

static const char *const bm_names[PW_BM_COUNT] = {
	[PW_BM_V4] = PW_MAP_BLOCK4, [PW_BM_V6] = PW_MAP_BLOCK6, [PW_BM_PFX] = PW_MAP_BLOCK_PFX,
};

void pw_block_maps_close(struct pw_block_maps *m)
{
	for (int i = 0; i < PW_BM_COUNT; i++)
		if (m->fd[i] > 0)
			close(m->fd[i]);
	memset(m, 0, sizeof(*m));
}

/* The ids of pw_rules and the block maps program @prog_id uses (0: none). */
static void prog_block_ids(__u32 prog_id, __u32 *rules_id, __u32 id[PW_BM_COUNT])
{
	__u32 ids[PW_PROG_MAPS], n = 0;

	*rules_id = 0;
	memset(id, 0, sizeof(__u32) * PW_BM_COUNT);
	if (pw_prog_map_ids(prog_id, ids, PW_PROG_MAPS, &n))
		return;
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info mi;
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!pw_map_info(fd, &mi)) {
			if (!strcmp(mi.name, PW_MAP_RULES))
				*rules_id = mi.id;
			for (int k = 0; k < PW_BM_COUNT; k++)
				if (!strncmp(mi.name, bm_names[k], sizeof(mi.name) - 1))
					id[k] = mi.id;
		}
		close(fd);
	}
}

/* One running program against the pins (@m NULL: none pinned). */
static int check_user(struct pw_ctx *ctx, const char *ifname, __u32 prog_id,
		      const struct pw_block_maps *m)
{
	__u32 rules_id, id[PW_BM_COUNT];
	struct bpf_map_info mi;

	prog_block_ids(prog_id, &rules_id, id);
	if (!rules_id)
		return 0;	/* not pinwall's program */
	if (!id[PW_BM_V4])
		return pw_fail(ctx, ENOTSUP, "the program on '%s' (id %u) predates blocks and would not see them: 'pinwall reload %s' first; nothing was changed",
			       ifname, prog_id, ifname);
	for (int k = 0; k < PW_BM_COUNT; k++) {
		if (!m)
			return pw_fail(ctx, ESTALE, "the program on '%s' (id %u) uses block maps that are not pinned: 'pinwall repin %s' pins them again; nothing was changed",
				       ifname, prog_id, ifname);
		if (pw_map_info(m->fd[k], &mi) || mi.id != id[k])
			return pw_fail(ctx, ESTALE, "block map '%s' is map id %u, but the program on '%s' (id %u) uses map id %u: 'pinwall repin %s' pins its own again; nothing was changed",
				       bm_names[k], mi.id, ifname, prog_id, id[k], ifname);
	}
	return 0;
}

static int check_users(struct pw_ctx *ctx, const struct pw_block_maps *m)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int err = 0;

	for (i = ifs; !err && i && i->if_index; i++) {
		struct pw_xdp_state st;

		if (!pw_xdp_state((int)i->if_index, &st) && st.prog_id)
			err = check_user(ctx, i->if_name, st.prog_id, m);
	}
	if (ifs)
		if_freenameindex(ifs);
	return err;
}

static bool pins_missing(struct pw_ctx *ctx)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];

	pw_shared_dir(ctx, shared, sizeof(shared));
	for (int i = 0; i < PW_BM_COUNT; i++)
		if (pw_join(path, sizeof(path), shared, bm_names[i]) || !pw_path_exists(path))
			return true;
	return false;
}

int pw_block_maps_open(struct pw_ctx *ctx, struct pw_block_maps *m, bool create, bool rdonly)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];
	int err;

	memset(m, 0, sizeof(*m));
	if (pins_missing(ctx)) {
		if (!create)
			return -ENOENT;
		/* a program runs on block maps whose pins are gone: never new ones */
		if ((err = check_users(ctx, NULL)) || (err = pw_shared_maps_create(ctx, "block maps")))
			return err;
	}
	pw_shared_dir(ctx, shared, sizeof(shared));
	for (int i = 0; i < PW_BM_COUNT; i++) {
		pw_join(path, sizeof(path), shared, bm_names[i]);
		m->fd[i] = pw_open_own_pin(ctx, path, bm_names[i], rdonly ? PW_PIN_RDONLY : 0);
		if (m->fd[i] < 0) {
			err = m->fd[i];
			m->fd[i] = 0;
			pw_block_maps_close(m);
			return err;
		}
	}
	if (!rdonly && (err = check_users(ctx, m)))
		pw_block_maps_close(m);
	return err;
}

void pw_block_now(struct pw_block_now *now)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	now->real = (__u64)rt.tv_sec;
	now->boot_ns = (__u64)bt.tv_sec * 1000000000ULL + (__u64)bt.tv_nsec;
}

void pw_block_val_of(const struct pw_block *b, const struct pw_block_now *now,
		     struct pw_block_val *v)
{
	memset(v, 0, sizeof(*v));
	v->origin = b->origin;
	v->len = b->len;
	v->expires = b->expires;
	if (b->expires)
		v->expires_ns = now->boot_ns + (b->expires > now->real ?
				(b->expires - now->real) * 1000000000ULL : 0);
}

bool pw_block_val_expired(const struct pw_block_val *v, const struct pw_block_now *now)
{
	return v->expires_ns && v->expires_ns <= now->boot_ns;
}
