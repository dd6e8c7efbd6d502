// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The steps of unload: detach pinwall's program (only if it still runs
 * there), then remove the interface's pins and the shared maps no other
 * interface records. Each step is safe to run again, so `pinwall unload`
 * and the recovery of a killed unload run this same code.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "internal.h"

/* Detach pinwall's program: through an earlier version's link @lp when
 * there is one, else only if the program the record names still runs. */
static int detach_prog(struct pw_ctx *ctx, const char *ifname, const struct pw_link_pin *lp,
		       const struct pw_meta *meta, struct pw_load_report *r)
{
	size_t root_len = strlen(ctx->pin_root);
	int ifindex = (int)if_nametoindex(ifname), err;

	r->ifindex = ifindex;
	if (lp->fd >= 0) {
		/* an earlier version's link; detached (interface gone): nothing to do */
		r->prog_id = lp->info.prog_id;
		r->link_id = lp->info.id;
		if (lp->info.xdp.ifindex && (err = pw_link_detach(ctx, lp->fd, ifname)))
			return err;
		pw_step(PW_OP_UNLOAD, "detached");
		pw_unlink_below(lp->path, root_len);
	} else if (meta->version && meta->prog_id && ifindex > 0) {
		/* only pinwall's program: another tool's put there since stays */
		struct pw_xdp_state st;

		if (!pw_xdp_state(ifindex, &st) && st.prog_id == meta->prog_id &&
		    (err = pw_detach_ours(ctx, ifindex, ifname, &st)))
			return err;
		pw_step(PW_OP_UNLOAD, "detached");
		r->prog_id = meta->prog_id;
	}
	return 0;
}

/* unload --keep-maps: the record stays, marked as not attached; load
 * reuses the maps. */
static void keep_maps(struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta)
{
	if (meta->version) {
		struct pw_meta m = *meta;

		m.prog_id = 0;
		pw_meta_write(ctx, ifdir, &m);
	}
	pw_intent_clear(ifdir);
}

/* Every pin below the interface's maps/, each reported. */
static void unpin_iface_maps(const struct pw_ctx *ctx, const char *ifdir,
			     struct pw_load_report *r)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN];
	struct dirent *e;
	DIR *d = NULL;
	int dfd;

	pw_join(path, sizeof(path), ifdir, PW_DIR_MAPS);
	/* below the root, no link is followed: a link is removed, not its target */
	if ((dfd = pw_opendir_below(path, root_len)) >= 0 && !(d = fdopendir(dfd)))
		close(dfd);
	else if (dfd == -ELOOP || dfd == -ENOTDIR)
		pw_unlink_below(path, root_len);
	if (dfd < 0 || !d)
		return;
	while ((e = readdir(d)) && r->n_maps < PW_MAX_MAPS) {
		struct pw_map_report *mr = &r->maps[r->n_maps];

		if (e->d_name[0] == '.' || pw_join(mr->path, sizeof(mr->path), path, e->d_name))
			continue;
		snprintf(mr->name, sizeof(mr->name), "%.63s", e->d_name);
		mr->removed = unlinkat(dirfd(d), e->d_name, 0) == 0;
		r->n_maps++;
	}
	closedir(d);
}

static void unpin_record(const struct pw_ctx *ctx, const char *ifdir)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN];

	pw_join(path, sizeof(path), ifdir, PW_PIN_META);
	pw_unlink_below(path, root_len);
	pw_join(path, sizeof(path), ifdir, PW_PIN_META "_new");
	pw_unlink_below(path, root_len);
}

/* The shared maps this interface recorded that no other interface records
 * (pinwall's rule maps stay: they are configuration), each reported. */
static void unpin_shared(const struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta,
			 struct pw_load_report *r)
{
	size_t root_len = strlen(ctx->pin_root);
	char shared[PW_PATH_LEN];

	pw_shared_dir(ctx, shared, sizeof(shared));
	for (__u32 i = 0; meta->version && i < meta->n_shared && i < PW_META_SHARED &&
			  r->n_maps < PW_MAX_MAPS; i++) {
		struct pw_map_report *mr = &r->maps[r->n_maps];
		char name[PW_MAP_NAME_LEN + 1];

		snprintf(name, sizeof(name), "%.*s", PW_MAP_NAME_LEN, meta->shared[i]);
		if (pw_join(mr->path, sizeof(mr->path), shared, name) || !pw_path_exists(mr->path))
			continue;
		snprintf(mr->name, sizeof(mr->name), "%s", name);
		/* pinwall's rule maps are configuration: they outlive every load */
		mr->config = !strncmp(name, "pw_", 3);
		mr->removed = !mr->config &&
			      !pw_shared_in_use(ctx, ifdir, name, NULL, 0) &&
			      pw_unlink_below(mr->path, root_len) == 0;
		r->n_maps++;
	}
	pw_rmdir_below(shared, root_len);
}

/* The steps of unload, each safe to run again after a kill. @in carries the
 * load record as it was when the unload began. */
int pw_unload_core(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		   struct pw_intent *in, struct pw_load_report *rep)
{
	struct pw_load_report *r = rep ?: calloc(1, sizeof(*r));
	struct pw_link_pin lp = { .fd = -1 };
	int err;

	if (!r)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = pw_link_pin_open(ctx, ifdir, &lp)) ||
	    (err = detach_prog(ctx, ifname, &lp, &in->next, r)))
		goto out;
	/* after XDP: a flow recorder without a reader is harmless */
	if ((err = pw_ct_egress_remove(ctx, if_nametoindex(ifname), ifname)))
		goto out;
	pw_step(PW_OP_UNLOAD, "recorder");
	/* the flat path and the binding record go; bound maps are the user's */
	pw_flat_remove(ctx, ifname, ifdir);
	pw_binds_unpin(ctx, ifdir);
	if (in->keep_maps) {
		keep_maps(ctx, ifdir, &in->next);
		goto out;
	}
	unpin_iface_maps(ctx, ifdir, r);
	pw_chain_unpin(ctx, ifdir);	/* the chained program went with pw_chain */
	pw_step(PW_OP_UNLOAD, "unpinned");
	unpin_record(ctx, ifdir);
	unpin_shared(ctx, ifdir, &in->next, r);
	pw_intent_clear(ifdir);
	pw_remove_empty_dirs(ctx, ifdir);
out:
	pw_link_pin_close(&lp);
	if (!rep)
		free(r);
	return err;
}
