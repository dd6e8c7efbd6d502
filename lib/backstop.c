// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backstop of a bpf_link conversion (docs/LIFECYCLE.md). Between the
 * detach of an earlier version's link and the netlink attach the XDP hook
 * is empty; meanwhile the built-in object's tc program, loaded with every
 * map of the staged XDP program, filters and counts at tc ingress. While
 * both run, the XDP program marks the frames it passed (pw_backstop, a
 * random value) and tc leaves those alone: each frame is decided and
 * counted once. Only the conversion loads it; it sits in pinwall's own
 * slot (priority, handle) of a clsact qdisc, created only when missing and
 * deleted afterwards only when pinwall created it.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall.skel.h"

/* pinwall's slot at tc ingress: first, with a handle of its own */
#define PW_TC_PRIO   1
#define PW_TC_HANDLE 0x7077

#define PW_TC_PROG_NAME "pinwall_tc"

/* The staged XDP program's mark word (its .bss), read, changed, written. */
static int set_mark(int bss_fd, __u64 mark)
{
	struct pinwall__bss v;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bss_fd, &zero, &v))
		return -errno;
	v.pw_backstop = mark;
	return bpf_map_update_elem(bss_fd, &zero, &v, BPF_ANY) ? -errno : 0;
}

/* The tc program alone, every map the staged program's own. */
static int load_tc(struct pw_ctx *ctx, struct pw_backstop *b, const struct pw_obj *staged)
{
	struct bpf_map *m, *s;
	int err;

	if (!staged->skel)
		return pw_fail(ctx, EOPNOTSUPP, "the new program is not the built-in one (--obj), which alone has the tc backstop");
	b->skel = pinwall__open();
	if (!b->skel)
		return pw_fail(ctx, errno, "cannot open the built-in object: %s", strerror(errno));
	bpf_program__set_autoload(b->skel->progs.pinwall_xdp, false);
	bpf_program__set_autoload(b->skel->progs.pinwall_tc, true);
	bpf_object__for_each_map(m, b->skel->obj) {
		s = bpf_object__find_map_by_name(staged->obj, bpf_map__name(m));
		if (!s || bpf_map__fd(s) < 0)
			return pw_fail(ctx, ENOENT, "the staged program has no map '%s'",
				       bpf_map__name(m));
		/* the live maps are pinned already, below the pin root: libbpf must
		 * not pin them again at its default /sys/fs/bpf/NAME */
		bpf_map__set_pin_path(m, NULL);
		if ((err = bpf_map__reuse_fd(m, bpf_map__fd(s))))
			return pw_fail(ctx, err, "cannot share map '%s': %s", bpf_map__name(m),
				       strerror(-err));
	}
	if ((err = pinwall__load(b->skel)))
		return pw_fail(ctx, err, "the kernel rejected the tc program: %s", strerror(-err));
	b->bss_fd = bpf_map__fd(staged->skel->maps.bss);
	return 0;
}

/* clsact at @ifindex: created when missing (PW_BACKSTOP_QDISC), and
 * pinwall's slot free there. */
static int make_hook(struct pw_ctx *ctx, struct pw_backstop *b, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = b->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = PW_TC_HANDLE, .priority = PW_TC_PRIO);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return pw_fail(ctx, err, "cannot create a clsact qdisc on '%s': %s", ifname,
			       strerror(-err));
	if (!err)
		b->flags |= PW_BACKSTOP_QDISC;
	if (!bpf_tc_query(&hook, &q))
		return pw_fail(ctx, EEXIST, "tc ingress of '%s' has program id %u in pinwall's slot (priority %d, handle 0x%x)",
			       ifname, q.prog_id, PW_TC_PRIO, PW_TC_HANDLE);
	return 0;
}

void pw_backstop_close(struct pw_backstop *b)
{
	if (b->skel)
		pinwall__destroy(b->skel);
	b->skel = NULL;
}

/*
 * Everything that can fail before the switch: the tc program loaded, the
 * hook made, the mark set in the staged XDP program. A failure leaves
 * nothing behind (the caller goes on without a backstop, warned).
 */
int pw_backstop_prepare(struct pw_ctx *ctx, struct pw_backstop *b, const struct pw_obj *staged,
			int ifindex, const char *ifname)
{
	__u64 mark = 0;
	int err;

	memset(b, 0, sizeof(*b));
	b->ifindex = ifindex;
	b->bss_fd = -1;
	if ((err = load_tc(ctx, b, staged)) || (err = make_hook(ctx, b, ifname)))
		goto fail;
	while (!mark)
		if (getrandom(&mark, sizeof(mark), 0) != sizeof(mark)) {
			err = pw_fail(ctx, errno, "cannot draw the backstop's mark: %s",
				      strerror(errno));
			goto fail;
		}
	if ((err = set_mark(b->bss_fd, mark))) {
		err = pw_fail(ctx, err, "cannot set the backstop's mark: %s", strerror(-err));
		goto fail;
	}
	b->flags |= PW_BACKSTOP_ON;
	return 0;
fail:
	pw_backstop_remove(ctx, b);
	pw_backstop_close(b);
	return err;
}

int pw_backstop_attach(struct pw_ctx *ctx, struct pw_backstop *b, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = b->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PW_TC_HANDLE, .priority = PW_TC_PRIO,
		    .prog_fd = bpf_program__fd(b->skel->progs.pinwall_tc));
	int err = bpf_tc_attach(&hook, &o);

	if (err)
		return pw_fail(ctx, err, "cannot attach the tc backstop to '%s': %s", ifname,
			       strerror(-err));
	return 0;
}

/* pinwall's tc program out of its slot; anything else there stays. */
static int detach_ours(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PW_TC_HANDLE, .priority = PW_TC_PRIO);
	struct bpf_prog_info info;
	int fd, err;

	if (bpf_tc_query(&hook, &o))
		return 0;	/* nothing there (or no clsact at all) */
	fd = bpf_prog_get_fd_by_id(o.prog_id);
	err = fd < 0 ? -errno : pw_prog_info(fd, &info);
	if (fd >= 0)
		close(fd);
	if (err || strcmp(info.name, PW_TC_PROG_NAME))
		return err ?: -EEXIST;
	o.prog_id = 0;
	return bpf_tc_detach(&hook, &o);
}

/* Remove what @flags (PW_BACKSTOP_*) says is there: the filter, then the
 * qdisc if pinwall made it. */
static int remove_hook(struct pw_ctx *ctx, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = 0, e;

	if ((flags & PW_BACKSTOP_ON) && (e = detach_ours(ifindex)) && e != -ENOENT)
		err = pw_fail(ctx, e, "cannot detach the tc backstop (priority %d, handle 0x%x): %s",
			      PW_TC_PRIO, PW_TC_HANDLE, strerror(-e));
	if ((flags & PW_BACKSTOP_QDISC) && (e = bpf_tc_hook_destroy(&hook)) && e != -ENOENT &&
	    e != -EINVAL)
		err = err ?: pw_fail(ctx, e, "cannot delete the clsact qdisc pinwall made: %s",
				     strerror(-e));
	return err;
}

/*
 * After the netlink attach: the filter out first, then the mark cleared (in
 * that order: a frame XDP passes unmarked while tc still runs would be
 * counted twice).
 */
int pw_backstop_remove(struct pw_ctx *ctx, struct pw_backstop *b)
{
	int err = remove_hook(ctx, b->ifindex, b->flags), e;

	if (b->bss_fd >= 0 && (e = set_mark(b->bss_fd, 0)) && !err)
		err = pw_fail(ctx, e, "cannot clear the backstop's mark: %s", strerror(-e));
	if (!err)
		b->flags = 0;
	return err;
}

/* The mark word of XDP program @prog_id: its .bss map, by the kernel's ids. */
static int prog_bss(__u32 prog_id)
{
	__u32 ids[PW_PROG_MAPS], n;
	int err = pw_prog_map_ids(prog_id, ids, PW_PROG_MAPS, &n), fd;

	if (err)
		return err;
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info mi;
		size_t l;

		if ((fd = bpf_map_get_fd_by_id(ids[i])) < 0)
			continue;
		if (!pw_map_info(fd, &mi) && (l = strlen(mi.name)) > 4 &&
		    !strcmp(mi.name + l - 4, ".bss") &&
		    mi.value_size == sizeof(struct pinwall__bss))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/*
 * Recovery of a conversion killed with the backstop (@flags from the intent
 * record): pinwall's filter removed and the mark of @prog_id (the new
 * program, once it runs; 0: none) cleared. The clsact qdisc pinwall made is
 * left: since the kill another tool may have added filters to it, and
 * deleting the qdisc would delete them too. Call only once XDP holds a
 * program again.
 */
int pw_backstop_recover(struct pw_ctx *ctx, int ifindex, __u32 flags, __u32 prog_id)
{
	int err = remove_hook(ctx, ifindex, flags & ~PW_BACKSTOP_QDISC), fd;

	if (err || !prog_id || (fd = prog_bss(prog_id)) < 0)
		return err;
	if ((err = set_mark(fd, 0)))
		err = pw_fail(ctx, err, "cannot clear the backstop's mark of program %u: %s",
			      prog_id, strerror(-err));
	close(fd);
	return err;
}
