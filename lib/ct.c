// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `ct established` (docs/RULES.md, abi.h): the egress flow recorder's place
 * in the lifecycle, and the check that a rule set using the match is seen.
 *
 * The recorder (bpf/ct_egress.bpf.c, a separate object) runs at tc egress
 * in pinwall's own slot (priority, handle) of a clsact qdisc, attached
 * through netlink like the XDP program: the kernel holds it, no pin does,
 * so losing the pins never stops it. It shares the pw_ct map of the XDP
 * program on the same interface. Its state follows from the XDP program's:
 * pinwall's program with a pw_ct map runs => the recorder runs on that map.
 * pw_ct_egress_ensure() and pw_ct_egress_remove() make it so and are safe
 * to run again, so the load, reload, repin and recovery paths just call
 * them (a killed command is finished by the next one). The clsact qdisc is
 * created when missing and never deleted: another tool may have filters
 * on it, which its deletion would remove too.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall/rules.h"
#include "ct_egress.skel.h"

#define PW_CT_PRIO   1
#define PW_CT_HANDLE 0x7063

/* The id of map @name among program @prog_id's maps; 0: none. */
static __u32 prog_map_id(__u32 prog_id, const char *name)
{
	__u32 ids[PW_PROG_MAPS], n, id = 0;
	struct bpf_map_info mi;

	if (pw_prog_map_ids(prog_id, ids, PW_PROG_MAPS, &n))
		return 0;
	for (__u32 i = 0; i < n && !id; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!pw_map_info(fd, &mi) && !strcmp(mi.name, name))
			id = mi.id;
		close(fd);
	}
	return id;
}

/* The program in pinwall's egress slot: 0 with its id and whether it is the
 * recorder (by name); -ENOENT when the slot (or clsact) is empty. */
static int slot_prog(int ifindex, __u32 *prog_id, bool *ours)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PW_CT_HANDLE, .priority = PW_CT_PRIO);
	struct bpf_prog_info info;
	int fd, err;

	if (bpf_tc_query(&hook, &o))
		return -ENOENT;
	*prog_id = o.prog_id;
	fd = bpf_prog_get_fd_by_id(o.prog_id);
	err = fd < 0 ? -errno : pw_prog_info(fd, &info);
	if (fd >= 0)
		close(fd);
	*ours = !err && !strcmp(info.name, PW_CT_PROG_NAME);
	return 0;
}

bool pw_ct_egress_wanted(__u32 xdp_prog_id)
{
	return prog_map_id(xdp_prog_id, PW_MAP_CT) != 0;
}

bool pw_ct_egress_running(int ifindex, __u32 xdp_prog_id)
{
	__u32 id, ct = prog_map_id(xdp_prog_id, PW_MAP_CT);
	bool ours;

	return ct && !slot_prog(ifindex, &id, &ours) && ours && prog_map_id(id, PW_MAP_CT) == ct;
}

/* A new recorder on map @ct_id, into the slot (replacing the one there in
 * one step: no moment without a recorder). */
static int attach_recorder(struct pw_ctx *ctx, int ifindex, const char *ifname, __u32 ct_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PW_CT_HANDLE, .priority = PW_CT_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	struct ct_egress *skel = ct_egress__open();
	int fd = bpf_map_get_fd_by_id(ct_id), err;

	if (!skel || fd < 0) {
		err = pw_fail(ctx, errno, "cannot prepare the egress flow recorder: %s",
			      strerror(errno));
		goto out;
	}
	/* the map is the XDP program's, pinned already: never pin it again */
	bpf_map__set_pin_path(skel->maps.pw_ct, NULL);
	if ((err = bpf_map__reuse_fd(skel->maps.pw_ct, fd)) || (err = ct_egress__load(skel))) {
		err = pw_fail(ctx, err, "the kernel rejected the egress flow recorder: %s",
			      strerror(-err));
		goto out;
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		err = pw_fail(ctx, err, "cannot create a clsact qdisc on '%s': %s", ifname,
			      strerror(-err));
		goto out;
	}
	o.prog_fd = bpf_program__fd(skel->progs.pinwall_ct_out);
	if ((err = bpf_tc_attach(&hook, &o)))
		err = pw_fail(ctx, err, "cannot attach the egress flow recorder to '%s': %s",
			      ifname, strerror(-err));
out:
	if (fd >= 0)
		close(fd);
	ct_egress__destroy(skel);	/* the filter holds the program */
	return err;
}

/* Before a load or reload's first change: the recorder's slot must be free
 * or pinwall's, when the object (@obj) has the match at all. */
int pw_ct_egress_check(struct pw_ctx *ctx, int ifindex, const char *ifname,
		       const struct bpf_object *obj)
{
	__u32 id;
	bool ours;

	if (!bpf_object__find_map_by_name(obj, PW_MAP_CT) || slot_prog(ifindex, &id, &ours) || ours)
		return 0;
	return pw_fail(ctx, EEXIST, "tc egress of '%s' has program id %u in pinwall's slot (priority %d, handle 0x%x): remove it for the flow recorder of `ct established`; nothing was changed",
		       ifname, id, PW_CT_PRIO, PW_CT_HANDLE);
}

int pw_ct_egress_ensure(struct pw_ctx *ctx, int ifindex, const char *ifname, __u32 xdp_prog_id)
{
	__u32 ct = prog_map_id(xdp_prog_id, PW_MAP_CT), id;
	bool ours;

	if (!ct)	/* a program without the match (older, or --obj) */
		return pw_ct_egress_remove(ctx, ifindex, ifname);
	if (!slot_prog(ifindex, &id, &ours)) {
		if (!ours)
			return pw_fail(ctx, EEXIST, "tc egress of '%s' has program id %u in pinwall's slot (priority %d, handle 0x%x): remove it for the flow recorder of `ct established`",
				       ifname, id, PW_CT_PRIO, PW_CT_HANDLE);
		if (prog_map_id(id, PW_MAP_CT) == ct)
			return 0;
	}
	return attach_recorder(ctx, ifindex, ifname, ct);
}

int pw_ct_egress_remove(struct pw_ctx *ctx, int ifindex, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PW_CT_HANDLE, .priority = PW_CT_PRIO);
	__u32 id;
	bool ours;
	int err;

	/* another tool's filter in the slot stays */
	if (ifindex <= 0 || slot_prog(ifindex, &id, &ours) || !ours)
		return 0;
	if ((err = bpf_tc_detach(&hook, &o)) && err != -ENOENT)
		return pw_fail(ctx, err, "cannot detach the egress flow recorder from '%s': %s",
			       ifname, strerror(-err));
	return 0;
}

/* A rule set with `ct established` needs maps and programs that know it:
 * refused (naming the interface to reload) before anything changes. */
int pw_ct_supported(struct pw_ctx *ctx, const struct pw_rules_maps *m, const struct pw_ruleset *rs)
{
	struct if_nameindex *ifs, *i;
	bool ct = false;
	int err = 0;

	for (int k = 0; k < rs->n && !ct; k++)
		ct = rs->ord && PW_RK_KIND(rs->r[k].kind) == PW_RK_ORDERED &&
		     (PW_ORD_FLAGS(&rs->ord[k]) & PW_ORD_F_CT);
	if (!ct)
		return 0;
	if (m->fd[PW_RM_CT_RULES] <= 0)
		return pw_fail(ctx, ENOTSUP, "the rule maps have no room for `ct established`; nothing was changed");
	if (m->ct_old_prog_id)
		return pw_fail(ctx, ENOTSUP, "the program on '%s' (id %u) predates `ct established` and would not see it: 'pinwall reload %s' first; nothing was changed",
			       m->ct_old_user, m->ct_old_prog_id, m->ct_old_user);
	ifs = if_nameindex();
	for (i = ifs; !err && i && i->if_index; i++) {
		struct pw_xdp_state st;

		if (pw_xdp_state((int)i->if_index, &st) || !st.prog_id ||
		    !prog_map_id(st.prog_id, PW_MAP_CT_RULES))
			continue;
		if (!pw_ct_egress_running((int)i->if_index, st.prog_id))
			err = pw_fail(ctx, ENOTSUP, "'%s' has no egress flow recorder for `ct established`: 'pinwall repin %s' attaches it; nothing was changed",
				      i->if_name, i->if_name);
	}
	if (ifs)
		if_freenameindex(ifs);
	return err;
}
