// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * repin: put back lost pins of a running program from what the kernel holds:
 * the link attached to the interface and the maps of its program, by ID.
 * Only the program's own maps are pinned, so a map that merely shares a name
 * is never picked; an existing pin holding another map is left alone and
 * reported.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

int pw_repin(struct pw_ctx *ctx, const char *ifname, struct pw_load_report *r)
{
	struct pw_xdp_state st;
	struct pw_meta meta;
	struct bpf_prog_info pi = {};
	__u32 ids[PW_MAX_MAPS], len = sizeof(pi);
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN], path[PW_PATH_LEN];
	int ifindex, lock_fd = -1, pfd = -1, lfd = -1, err;
	bool have_meta;

	memset(r, 0, sizeof(*r));
	if ((err = pw_check_caps(ctx)))
		return err;
	if ((ifindex = pw_ifindex(ctx, ifname)) < 0)
		return ifindex;
	/* the load record lives below the pin root: without it, nothing to match */
	if ((err = pw_bpffs_prepare(ctx, false)))
		return err;
	if (!pw_path_exists(ctx->pin_root))
		return pw_fail(ctx, ENOENT, "no pin root '%s': no load record to repin '%s' from",
			       ctx->pin_root, ifname);
	if ((err = pw_lock(ctx, &lock_fd)))
		return err;
	pw_iface_dir(ctx, ctx->netns_ino, ifname, r->ifdir, sizeof(r->ifdir));
	r->ifindex = ifindex;
	if ((err = pw_xdp_state(ifindex, &st)) || !st.prog_id) {
		err = pw_fail(ctx, ENOENT, "no XDP program is attached to '%s': nothing to repin",
			      ifname);
		goto out;
	}
	have_meta = !pw_meta_read(r->ifdir, &meta);
	/* only pinwall's own program: the record names it */
	if (!have_meta || meta.prog_id != st.prog_id) {
		err = pw_fail(ctx, EPERM,
			      "the program on '%s' (id %u) is not the one pinwall recorded%s: not repinning another tool's program",
			      ifname, st.prog_id, have_meta ? "" : " (no load record)");
		goto out;
	}
	r->prog_id = st.prog_id;
	r->mode = st.mode;
	pfd = bpf_prog_get_fd_by_id(st.prog_id);
	pi.nr_map_ids = PW_MAX_MAPS;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &pi, &len)) {
		err = pw_fail(ctx, errno, "cannot read program %u: %s", st.prog_id, strerror(errno));
		goto out;
	}
	/* the link */
	pw_join(path, sizeof(path), r->ifdir, PW_PIN_LINK);
	if (!pw_path_exists(path)) {
		lfd = pw_find_xdp_link(ifindex, st.prog_id);
		if (lfd >= 0 && bpf_obj_pin(lfd, path)) {
			err = pw_fail(ctx, errno, "cannot pin the link at '%s': %s", path, strerror(errno));
			goto out;
		}
		if (lfd >= 0) {
			struct bpf_link_info li;

			r->link_id = pw_link_info(lfd, &li) ? 0 : li.id;
		}
	}
	/* the maps, by the program's own IDs */
	pw_shared_dir(ctx, shared, sizeof(shared));
	pw_join(maps, sizeof(maps), r->ifdir, PW_DIR_MAPS);
	/* --pin-scope none: the maps were never pinned, nothing to restore */
	for (__u32 i = 0; meta.pin_scope != PW_SCOPE_NONE && i < pi.nr_map_ids &&
			  i < PW_MAX_MAPS && r->n_maps < PW_MAX_MAPS; i++) {
		struct pw_map_report *mr = &r->maps[r->n_maps];
		struct bpf_map_info mi;
		bool is_shared = false;
		int mfd = bpf_map_get_fd_by_id(ids[i]), old;

		if (mfd < 0)
			continue;
		if (pw_map_info(mfd, &mi) || strchr(mi.name, '.')) {	/* .rodata & co. */
			close(mfd);
			continue;
		}
		is_shared = meta.pin_scope == PW_SCOPE_GLOBAL;
		for (__u32 k = 0; k < meta.n_shared && k < PW_META_SHARED; k++)
			is_shared |= !strncmp(meta.shared[k], mi.name, BPF_OBJ_NAME_LEN);
		snprintf(mr->name, sizeof(mr->name), "%s", mi.name);
		pw_join(mr->path, sizeof(mr->path), is_shared ? shared : maps, mi.name);
		mr->id = mi.id;
		old = pw_open_map_pin(ctx, mr->path, true);
		if (old >= 0) {
			struct bpf_map_info oi;

			mr->reused = true;	/* already pinned */
			if (!pw_map_info(old, &oi) && oi.id != mi.id)
				pw_detail(ctx, "pin '%s' holds map id %u, not the program's %u: left alone",
					  mr->path, oi.id, mi.id);
			close(old);
		} else if ((err = pw_mkdirs(ctx, is_shared ? shared : maps)) ||
			   bpf_obj_pin(mfd, mr->path)) {
			err = err ?: pw_fail(ctx, errno, "cannot pin map '%s' at '%s': %s", mi.name,
					     mr->path, strerror(errno));
			close(mfd);
			goto out;
		}
		close(mfd);
		r->n_maps++;
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (pfd >= 0)
		close(pfd);
	pw_unlock(lock_fd);
	return err;
}
