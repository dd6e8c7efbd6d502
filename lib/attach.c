// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP attachment: what the kernel has on an interface, attaching through
 * netlink (the kernel keeps it whatever happens to pins and processes),
 * compare-and-swap replace and detach against the program expected there,
 * and the bpf_link attachment of earlier versions, converted by reload.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static const char *const mode_names[] = {
	[PW_MODE_AUTO] = "auto",
	[PW_MODE_NATIVE] = "native",
	[PW_MODE_SKB] = "skb",
};

const char *pw_mode_name(enum pw_mode mode)
{
	return mode <= PW_MODE_SKB ? mode_names[mode] : "unknown";
}

int pw_mode_parse(const char *s, enum pw_mode *mode)
{
	for (int m = PW_MODE_AUTO; m <= PW_MODE_SKB; m++) {
		if (!strcmp(s, mode_names[m])) {
			*mode = m;
			return 0;
		}
	}
	return -EINVAL;
}

int pw_xdp_state(int ifindex, struct pw_xdp_state *st)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err;

	memset(st, 0, sizeof(*st));
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	st->hw = q.hw_prog_id != 0;
	if (q.drv_prog_id) {
		st->prog_id = q.drv_prog_id;
		st->mode = PW_MODE_NATIVE;
	} else if (q.skb_prog_id) {
		st->prog_id = q.skb_prog_id;
		st->mode = PW_MODE_SKB;
	} else {
		st->prog_id = q.prog_id;
		st->mode = q.attach_mode == XDP_ATTACHED_SKB ? PW_MODE_SKB : PW_MODE_NATIVE;
	}
	return 0;
}

static __u32 mode_flags(enum pw_mode mode)
{
	return mode == PW_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static __u32 attached_id(int ifindex)
{
	struct pw_xdp_state st;

	return pw_xdp_state(ifindex, &st) ? 0 : st.prog_id;
}

/*
 * Attach @prog_fd through netlink where nothing is attached: the kernel holds
 * the attachment itself, so no pin (and no process) has to outlive the
 * command for the program to keep running.
 */
int pw_attach(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
	      enum pw_mode mode, enum pw_mode *used)
{
	enum pw_mode try = mode == PW_MODE_AUTO ? PW_MODE_NATIVE : mode;
	int err;

	for (;;) {
		err = bpf_xdp_attach(ifindex, prog_fd,
				     mode_flags(try) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (!err)
			break;
		/* auto: a driver without native XDP falls back to generic */
		if (mode == PW_MODE_AUTO && try == PW_MODE_NATIVE && err == -EOPNOTSUPP) {
			try = PW_MODE_SKB;
			continue;
		}
		if (err == -EOPNOTSUPP)
			return pw_fail(ctx, EOPNOTSUPP,
				       "mode '%s' is not supported on '%s': use --mode skb (or auto)",
				       pw_mode_name(try), ifname);
		if (err == -EBUSY || err == -EEXIST)
			return pw_fail(ctx, EBUSY, "'%s' already has an XDP program attached",
				       ifname);
		return pw_fail(ctx, -err, "cannot attach to '%s' in %s mode: %s", ifname,
			       pw_mode_name(try), strerror(-err));
	}
	*used = try;
	return 0;
}

/*
 * Compare-and-swap: @new_fd (-1: nothing) replaces @old_fd only if @old_fd
 * is what runs on @ifindex in @mode; one atomic step in the kernel, no
 * moment without a program. Someone else's program there: EEXIST.
 */
int pw_xdp_replace(struct pw_ctx *ctx, int ifindex, const char *ifname, enum pw_mode mode,
		   int old_fd, __u32 old_id, int new_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	int err = bpf_xdp_attach(ifindex, new_fd, mode_flags(mode) | XDP_FLAGS_REPLACE, &opts);
	__u32 now;

	if (!err)
		return 0;
	now = attached_id(ifindex);
	if ((err == -EEXIST || err == -EBUSY) && now != old_id)
		return pw_fail(ctx, EEXIST, "'%s' runs program id %u, not the expected %u (replaced by another tool?): nothing was changed",
			       ifname, now, old_id);
	if (err == -EBUSY && pw_find_xdp_link(ifindex, old_id) >= 0)
		return pw_fail(ctx, EBUSY, "program %u on '%s' is held by a bpf_link: nothing was changed",
			       old_id, ifname);
	return pw_fail(ctx, -err, "cannot %s program %u on '%s' in %s mode: %s",
		       new_fd < 0 ? "detach" : "replace", old_id, ifname, pw_mode_name(mode),
		       strerror(-err));
}

/*
 * load --force over another tool's program (@st, held open as @old_fd):
 * one atomic swap when it was attached through netlink in the mode asked for
 * (auto takes its mode); detach then attach, a moment without a program,
 * when a bpf_link holds it or the modes differ (the kernel allows only one).
 */
int pw_attach_over(struct pw_ctx *ctx, int ifindex, const char *ifname, enum pw_mode mode,
		   const struct pw_xdp_state *st, int old_fd, int new_fd, enum pw_mode *used,
		   bool *window)
{
	enum pw_mode want = mode == PW_MODE_AUTO ? st->mode : mode;
	int lfd = pw_find_xdp_link(ifindex, st->prog_id), err;

	*window = false;
	if (lfd >= 0)
		close(lfd);
	if (lfd < 0 && old_fd >= 0 && want == st->mode) {
		if ((err = pw_xdp_replace(ctx, ifindex, ifname, want, old_fd, st->prog_id, new_fd)))
			return err;
		*used = want;
		return 0;
	}
	if ((err = pw_detach_any(ctx, ifindex, ifname, st)))
		return err;
	*window = true;
	pw_step(PW_OP_LOAD, "detached");
	return pw_attach(ctx, new_fd, ifindex, ifname, mode, used);
}

/* The XDP link attached to @ifindex, or -ENOENT (attached through netlink). */
int pw_find_xdp_link(int ifindex, __u32 prog_id)
{
	__u32 id = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info;
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!pw_link_info(fd, &info) && info.type == BPF_LINK_TYPE_XDP &&
		    info.xdp.ifindex == (__u32)ifindex && info.prog_id == prog_id)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* An earlier version's link pin in @ifdir: none (fd -1), or an XDP link;
 * anything else there is refused. */
int pw_link_pin_open(struct pw_ctx *ctx, const char *ifdir, struct pw_link_pin *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->fd = -1;
	pw_join(lp->path, sizeof(lp->path), ifdir, PW_PIN_LINK);
	if (pw_nofollow(ctx, lp->path))
		return -ELOOP;
	if (!pw_path_exists(lp->path))
		return 0;
	lp->fd = bpf_obj_get(lp->path);
	if (lp->fd < 0)
		return pw_fail(ctx, errno, "cannot open link pin '%s': %s", lp->path,
			       strerror(errno));
	if (pw_fd_kind(lp->fd) != PW_OBJ_LINK || pw_link_info(lp->fd, &lp->info) ||
	    lp->info.type != BPF_LINK_TYPE_XDP) {
		close(lp->fd);
		lp->fd = -1;
		return pw_fail(ctx, EEXIST, "pin path '%s' does not hold an XDP link: remove it",
			       lp->path);
	}
	return 0;
}

void pw_link_pin_close(struct pw_link_pin *lp)
{
	if (lp->fd >= 0)
		close(lp->fd);
	lp->fd = -1;
}

/*
 * The bpf_link attachment of earlier versions becomes a netlink one, in
 * three calls (lib/lifecycle.c reload): pw_link_swap puts the new program
 * in the link (atomic), pw_link_detach removes the link, pw_attach attaches
 * the same program. The kernel refuses netlink while a link holds the hook
 * and allows one mode at a time, so between the last two the interface has
 * no program (docs/LIFECYCLE.md measures that window).
 */
int pw_link_swap(struct pw_ctx *ctx, int link_fd, const char *ifname, int old_fd, int new_fd)
{
	LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = BPF_F_REPLACE, .old_prog_fd = old_fd);

	if (bpf_link_update(link_fd, new_fd, &uo))
		return pw_fail(ctx, errno, "cannot replace the program on '%s': %s", ifname,
			       strerror(errno));
	return 0;
}

int pw_link_detach(struct pw_ctx *ctx, int link_fd, const char *ifname)
{
	if (bpf_link_detach(link_fd) && errno != EINVAL)	/* EINVAL: already detached */
		return pw_fail(ctx, errno, "cannot detach the bpf_link on '%s': %s", ifname,
			       strerror(errno));
	return 0;
}

/*
 * unload: detach pinwall's program (@st) only if it is still the one there:
 * through its bpf_link when an earlier version attached it so, else a
 * compare-and-swap detach, so a program another tool put there stays.
 */
int pw_detach_ours(struct pw_ctx *ctx, int ifindex, const char *ifname,
		   const struct pw_xdp_state *st)
{
	int lfd = pw_find_xdp_link(ifindex, st->prog_id), fd, err;

	if (lfd >= 0) {
		err = pw_link_detach(ctx, lfd, ifname);
		close(lfd);
		return err;
	}
	fd = bpf_prog_get_fd_by_id(st->prog_id);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open program %u on '%s': %s", st->prog_id,
			       ifname, strerror(errno));
	err = pw_xdp_replace(ctx, ifindex, ifname, st->mode, fd, st->prog_id, -1);
	close(fd);
	return err;
}

/* Remove whatever XDP program is attached to @ifindex (--force). */
int pw_detach_any(struct pw_ctx *ctx, int ifindex, const char *ifname,
		  const struct pw_xdp_state *st)
{
	int fd = pw_find_xdp_link(ifindex, st->prog_id);

	if (fd >= 0) {
		int err = bpf_link_detach(fd) ? -errno : 0;

		close(fd);
		if (err)
			return pw_fail(ctx, err, "cannot detach the link holding program %u on '%s': %s",
				       st->prog_id, ifname, strerror(-err));
		return 0;
	}
	if (bpf_xdp_detach(ifindex, mode_flags(st->mode), NULL))
		return pw_fail(ctx, errno, "cannot detach program %u from '%s': %s",
			       st->prog_id, ifname, strerror(errno));
	return 0;
}

void pw_put_back(struct pw_ctx *ctx, int ifindex, const char *ifname, int prog_fd, __u32 prog_id,
		 enum pw_mode mode)
{
	/* through netlink: the other tool's link, if it had one, is gone */
	if (prog_fd < 0 || bpf_xdp_attach(ifindex, prog_fd,
					  mode_flags(mode) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL))
		pw_detail(ctx, "could not put program %u back on '%s': %s", prog_id, ifname,
			  strerror(errno));
}

#ifdef PW_TEST_HOOKS
/* Test builds only: attach through a pinned bpf_link as pinwall did before,
 * so tests can make the state that `reload` converts. */
int pw_attach_legacy_link(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
			  enum pw_mode mode, const char *pin, enum pw_mode *used)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	enum pw_mode try = mode == PW_MODE_AUTO ? PW_MODE_NATIVE : mode;
	int fd;

	opts.flags = mode_flags(try);
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0 && mode == PW_MODE_AUTO && errno == EOPNOTSUPP) {
		try = PW_MODE_SKB;
		opts.flags = mode_flags(try);
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	}
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot attach a link to '%s': %s", ifname,
			       strerror(errno));
	if (bpf_obj_pin(fd, pin)) {
		int err = pw_fail(ctx, errno, "cannot pin link at '%s': %s", pin, strerror(errno));

		close(fd);
		return err;
	}
	close(fd);
	*used = try;
	return 0;
}
#endif
