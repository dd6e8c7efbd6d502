// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP attachment: what the kernel has on an interface, attaching through a
 * bpf_link (so the attachment can be pinned and later updated atomically),
 * and finding the link that holds a program attached by someone else.
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

int pw_attach_link(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
		   enum pw_mode mode, int *link_fd, enum pw_mode *used)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	enum pw_mode try = mode == PW_MODE_AUTO ? PW_MODE_NATIVE : mode;
	int fd;

	for (;;) {
		opts.flags = try == PW_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
		if (fd >= 0)
			break;
		fd = -errno;
		/* auto: a driver without native XDP falls back to generic */
		if (mode == PW_MODE_AUTO && try == PW_MODE_NATIVE && fd == -EOPNOTSUPP) {
			try = PW_MODE_SKB;
			continue;
		}
		if (fd == -EOPNOTSUPP)
			return pw_fail(ctx, EOPNOTSUPP,
				       "mode '%s' is not supported on '%s': use --mode skb (or auto)",
				       pw_mode_name(try), ifname);
		if (fd == -EBUSY || fd == -EEXIST)
			return pw_fail(ctx, EBUSY, "'%s' already has an XDP program attached",
				       ifname);
		return pw_fail(ctx, -fd, "cannot attach to '%s' in %s mode: %s", ifname,
			       pw_mode_name(try), strerror(-fd));
	}
	*link_fd = fd;
	*used = try;
	return 0;
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
	if (bpf_xdp_detach(ifindex, st->mode == PW_MODE_SKB ? XDP_FLAGS_SKB_MODE
							    : XDP_FLAGS_DRV_MODE, NULL))
		return pw_fail(ctx, errno, "cannot detach program %u from '%s': %s",
			       st->prog_id, ifname, strerror(errno));
	return 0;
}

void pw_put_back(struct pw_ctx *ctx, int ifindex, const char *ifname, int prog_fd, __u32 prog_id,
		 enum pw_mode mode)
{
	__u32 flags = mode == PW_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;

	/* through netlink: the other tool's link, if it had one, is gone */
	if (prog_fd < 0 || bpf_xdp_attach(ifindex, prog_fd, flags, NULL))
		pw_detail(ctx, "could not put program %u back on '%s': %s", prog_id, ifname,
			  strerror(errno));
}
