// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The stats follower's reading side: open counter maps by pin path only
 * (read-only fds, plain bpf syscall wrappers, no object loaded), sum the
 * per-CPU slots, and notice when the map behind a pin is another one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* The names of the counters' slots, for stats and the exporter alike. */
static const char *const class_names[PW_CLASS_MAX] = {
	[PW_C_IPV4] = "ipv4", [PW_C_IPV6] = "ipv6", [PW_C_L3_OTHER] = "l3_other",
	[PW_C_TCP] = "tcp", [PW_C_UDP] = "udp", [PW_C_ICMP] = "icmp",
	[PW_C_L4_OTHER] = "l4_other", [PW_C_MALFORMED] = "malformed",
};
static const char *const action_names[PW_ACTION_MAX][2] = {
	{ "aborted", "XDP_ABORTED" }, { "drop", "XDP_DROP" }, { "pass", "XDP_PASS" },
	{ "tx", "XDP_TX" }, { "redirect", "XDP_REDIRECT" },
};

const char *pw_class_name(__u32 k)
{
	return k < PW_CLASS_MAX ? class_names[k] : "unknown";
}

const char *pw_action_name(__u32 k, bool xdp)
{
	return k < PW_ACTION_MAX ? action_names[k][xdp] : "unknown";
}

static void map_init(struct pw_stats_map *m, const char *ifdir, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->path, sizeof(m->path), "%s/%s/%s", ifdir, PW_DIR_MAPS, name);
}

int pw_stats_iface_init(struct pw_ctx *ctx, struct pw_stats_iface *si, const char *ifname)
{
	struct pw_meta meta;
	int err;

	memset(si, 0, sizeof(*si));
	snprintf(si->ifname, sizeof(si->ifname), "%s", ifname);
	if ((err = pw_iface_dir(ctx, ctx->netns_ino, ifname, si->ifdir, sizeof(si->ifdir))))
		return pw_fail(ctx, err, "pin path for '%s' is too long", ifname);
	si->present = if_nametoindex(ifname) != 0;
	map_init(&si->actions, si->ifdir, PW_MAP_ACTIONS);
	map_init(&si->classes, si->ifdir, PW_MAP_CLASSES);
	if (!pw_meta_read(si->ifdir, &meta)) {
		/* counters pinned by name (--pin-scope global, or the object's
		 * own LIBBPF_PIN_BY_NAME) are in the shared directory */
		struct pw_stats_map *ms[] = { &si->actions, &si->classes };
		char shared[PW_PATH_LEN];

		pw_shared_dir(ctx, shared, sizeof(shared));
		for (size_t i = 0; i < 2; i++) {
			bool by_name = meta.pin_scope == PW_SCOPE_GLOBAL;

			for (__u32 k = 0; k < meta.n_shared && k < PW_META_SHARED; k++)
				by_name |= !strncmp(meta.shared[k], ms[i]->name, PW_MAP_NAME_LEN);
			if (by_name)
				snprintf(ms[i]->path, sizeof(ms[i]->path), "%s/%s", shared, ms[i]->name);
		}
	}
	si->classes.optional = true;
	return 0;
}

static void emit(pw_stats_event_cb cb, void *arg, enum pw_stats_event_kind kind,
		 const struct pw_stats_iface *si, const struct pw_stats_map *m,
		 __u32 id_old, __u32 id_new)
{
	struct pw_stats_event ev = { .kind = kind, .id_old = id_old, .id_new = id_new };

	if (!cb)
		return;
	snprintf(ev.ifname, sizeof(ev.ifname), "%s", si->ifname);
	if (m) {
		snprintf(ev.map, sizeof(ev.map), "%s", m->name);
		snprintf(ev.path, sizeof(ev.path), "%s", m->path);
	}
	cb(&ev, arg);
}

/* Where packets and bytes sit in a value: by BTF field name (rx_packets,
 * rx_bytes), so a record whose layout changed in an upgrade reads right;
 * without BTF, the first two u64 (struct pw_datarec, the tutorial's). */
static void find_fields(struct pw_stats_map *m, const struct bpf_map_info *info)
{
	struct pw_map_desc *d = calloc(1, sizeof(*d));
	const struct pw_leaf *p, *b;

	m->layout_id = info->id;
	m->off_packets = 0;
	m->off_bytes = 8;
	if (!d)
		return;
	pw_map_desc_from_info(info, d);
	p = pw_layout_find(&d->value, "rx_packets");
	b = pw_layout_find(&d->value, "rx_bytes");
	if (p && b && p->kind == PW_LEAF_INT && b->kind == PW_LEAF_INT && p->size == 8 &&
	    b->size == 8) {
		m->off_packets = p->off;
		m->off_bytes = b->off;
	}
	free(d);
}

/* Sum slots [0, n) over all possible CPUs. */
static int map_read(struct pw_stats_map *m, const struct bpf_map_info *info)
{
	bool percpu = info->type == BPF_MAP_TYPE_PERCPU_ARRAY;
	int cpus = percpu ? libbpf_num_possible_cpus() : 1;
	size_t stride = (info->value_size + 7) & ~7u;
	__u32 n = info->max_entries < PW_CLASS_MAX ? info->max_entries : PW_CLASS_MAX;
	unsigned char *buf;

	if (cpus <= 0)
		return -EINVAL;
	if (info->key_size != 4 || info->value_size < 16 ||
	    (info->type != BPF_MAP_TYPE_PERCPU_ARRAY && info->type != BPF_MAP_TYPE_ARRAY))
		return -EPROTO;
	if (m->layout_id != info->id)
		find_fields(m, info);
	if (m->off_packets + 8 > info->value_size || m->off_bytes + 8 > info->value_size)
		return -EPROTO;
	buf = calloc(cpus, stride);
	if (!buf)
		return -ENOMEM;
	for (__u32 k = 0; k < n; k++) {
		struct pw_counter sum = {};

		if (bpf_map_lookup_elem(m->fd, &k, buf)) {
			free(buf);
			return -errno;
		}
		for (int c = 0; c < cpus; c++) {
			__u64 p, b;

			memcpy(&p, buf + c * stride + m->off_packets, 8);
			memcpy(&b, buf + c * stride + m->off_bytes, 8);
			sum.packets += p;
			sum.bytes += b;
		}
		m->cur[k] = sum;
	}
	m->n = n;
	free(buf);
	return 0;
}

static void map_poll(struct pw_ctx *ctx, struct pw_stats_iface *si, struct pw_stats_map *m,
		     pw_stats_event_cb cb, void *arg)
{
	struct bpf_map_info info;
	bool had = m->have_cur;
	int fd = pw_open_map_pin(ctx, m->path, true);

	m->err = fd == -ENOENT ? 0 : fd;	/* missing is no error: unloaded */
	if (fd < 0) {
		/* missing (or not a map): wait for it to come back */
		if (m->fd >= 0 || !m->waiting) {
			if (!m->optional || m->fd >= 0)
				emit(cb, arg, PW_EV_WAITING, si, m, m->id, 0);
			m->waiting = true;
		}
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		m->have_cur = m->have_prev = false;
		return;
	}
	if ((m->err = pw_map_info(fd, &info))) {
		close(fd);
		return;
	}
	if (m->fd < 0) {
		/* back after a gap: the same map, or another one (unload + load) */
		if (m->seen && m->id && m->id != info.id)
			emit(cb, arg, PW_EV_REPLACED, si, m, m->id, info.id);
		else if (m->waiting && (!m->optional || m->seen))
			emit(cb, arg, PW_EV_RESUMED, si, m, 0, info.id);
		m->fd = fd;
		m->id = info.id;
		m->waiting = false;
		had = false;
	} else if (info.id != m->id) {
		emit(cb, arg, PW_EV_REPLACED, si, m, m->id, info.id);
		close(m->fd);
		m->fd = fd;
		m->id = info.id;
		had = false;	/* counters of another map: no rate across the switch */
	} else {
		close(fd);
	}
	m->seen = true;
	memcpy(m->prev, m->cur, sizeof(m->prev));
	if ((m->err = map_read(m, &info))) {
		m->have_cur = m->have_prev = false;
		return;
	}
	m->have_cur = true;
	m->have_prev = had;
	/* a counter that went down was reset under us: start over, never negative */
	for (__u32 k = 0; m->have_prev && k < m->n; k++)
		if (m->cur[k].packets < m->prev[k].packets || m->cur[k].bytes < m->prev[k].bytes)
			m->have_prev = false;
}

int pw_stats_iface_poll(struct pw_ctx *ctx, struct pw_stats_iface *si,
			pw_stats_event_cb cb, void *arg)
{
	bool present = if_nametoindex(si->ifname) != 0;

	if (present != si->present)
		emit(cb, arg, present ? PW_EV_IFACE_BACK : PW_EV_IFACE_GONE, si, NULL, 0, 0);
	si->present = present;
	map_poll(ctx, si, &si->actions, cb, arg);
	map_poll(ctx, si, &si->classes, cb, arg);
	return 0;
}

void pw_stats_iface_close(struct pw_stats_iface *si)
{
	if (si->actions.fd >= 0)
		close(si->actions.fd);
	if (si->classes.fd >= 0)
		close(si->classes.fd);
	si->actions.fd = si->classes.fd = -1;
}
