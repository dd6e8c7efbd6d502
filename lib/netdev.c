// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The network devices of this network namespace from one RTM_GETLINK dump,
 * and the device one RTM_GETROUTE lookup picks. Every reply is checked
 * whole: a truncated message or attribute is an error, never a shorter name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "netdev.h"

#define NL_BUF (64 * 1024)	/* the kernel fills dump messages up to 32 KiB */
#define DUMP_TRIES 3		/* a dump interrupted by a change is redone */

static int attr_u32(const struct rtattr *a, __u32 *v)
{
	if (RTA_PAYLOAD(a) < sizeof(*v))
		return -EBADMSG;
	memcpy(v, RTA_DATA(a), sizeof(*v));
	return 0;
}

/* a NUL-terminated string that fits @len, or -EBADMSG */
static int attr_str(const struct rtattr *a, char *buf, size_t len)
{
	size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));

	if (n >= RTA_PAYLOAD(a) || n >= len)
		return -EBADMSG;
	memcpy(buf, RTA_DATA(a), n + 1);
	return 0;
}

static int parse_linkinfo(const struct rtattr *nest, struct pw_netdev *d)
{
	int len = RTA_PAYLOAD(nest);

	for (const struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((a->rta_type & NLA_TYPE_MASK) == IFLA_INFO_KIND)
			return attr_str(a, d->kind, sizeof(d->kind));
	return 0;
}

static int parse_xdp(const struct rtattr *nest, struct pw_netdev *d)
{
	int len = RTA_PAYLOAD(nest), n = 0, err;
	__u32 id;

	for (const struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type & NLA_TYPE_MASK) {
		case IFLA_XDP_PROG_ID:
		case IFLA_XDP_DRV_PROG_ID:
		case IFLA_XDP_SKB_PROG_ID:
		case IFLA_XDP_HW_PROG_ID:
			if ((err = attr_u32(a, &id)))
				return err;
			if (id && n < PW_NETDEV_XDP_IDS)
				d->xdp_ids[n++] = id;
			break;
		}
	}
	return 0;
}

static int parse_attr(const struct rtattr *a, struct pw_netdev *d)
{
	__u32 v = 0;
	int err = 0;

	switch (a->rta_type & NLA_TYPE_MASK) {
	case IFLA_IFNAME:
		return attr_str(a, d->name, sizeof(d->name));
	case IFLA_LINK:
		err = attr_u32(a, &v);
		d->link = (int)v;
		return err;
	case IFLA_LINK_NETNSID:
		d->link_elsewhere = true;
		return 0;
	case IFLA_MASTER:
		err = attr_u32(a, &v);
		d->master = (int)v;
		return err;
	case IFLA_LINKINFO:
		return parse_linkinfo(a, d);
	case IFLA_XDP:
		return parse_xdp(a, d);
	}
	return 0;
}

static int parse_link(const struct nlmsghdr *nh, struct pw_netdevs *ds)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi)), err;
	struct pw_netdev *d;

	if (len < 0)
		return -EBADMSG;
	if (ds->n == ds->cap) {
		int cap = ds->cap ? 2 * ds->cap : 32;
		void *p = realloc(ds->d, cap * sizeof(*ds->d));

		if (!p)
			return -ENOMEM;
		ds->d = p;
		ds->cap = cap;
	}
	d = &ds->d[ds->n];
	memset(d, 0, sizeof(*d));
	d->ifindex = ifi->ifi_index;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((err = parse_attr(a, d)))
			return err;
	if (!d->name[0])
		return -EBADMSG;
	ds->n++;
	return 0;
}

static int parse_msg(const struct nlmsghdr *nh, struct pw_netdevs *ds)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);

	if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
		return -EAGAIN;
	switch (nh->nlmsg_type) {
	case NLMSG_DONE:
		return 1;
	case NLMSG_ERROR:
		if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			return -EBADMSG;
		return e->error ? e->error : -EBADMSG;
	case RTM_NEWLINK:
		return parse_link(nh, ds);
	}
	return 0;
}

/* One batch of replies: 1 at the end of the dump, 0 for more, or -errno. */
static int parse_batch(const char *buf, int len, __u32 seq, struct pw_netdevs *ds)
{
	while (len >= (int)sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nh = (const void *)buf;
		int step = NLMSG_ALIGN(nh->nlmsg_len), err;

		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > (__u32)len)
			return -EBADMSG;
		/* replies to an earlier, interrupted dump are skipped */
		if (nh->nlmsg_seq == seq && (err = parse_msg(nh, ds)))
			return err;
		step = step < len ? step : len;
		buf += step;
		len -= step;
	}
	return len ? -EBADMSG : 0;
}

static int dump_once(int fd, __u32 seq, char *buf, struct pw_netdevs *ds)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	int err = 0;

	ds->n = 0;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		return -errno;
	while (!err) {
		ssize_t n = recv(fd, buf, NL_BUF, MSG_TRUNC);

		if (n < 0)
			return -errno;
		if (n > NL_BUF)
			return -EMSGSIZE;
		err = parse_batch(buf, (int)n, seq, ds);
	}
	return err < 0 ? err : 0;
}

int pw_netdevs_read(struct pw_netdevs *ds)
{
	char *buf = malloc(NL_BUF);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), err = -EAGAIN;

	memset(ds, 0, sizeof(*ds));
	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (__u32 seq = 1; err == -EAGAIN && seq <= DUMP_TRIES; seq++)
		err = dump_once(fd, seq, buf, ds);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (err)
		pw_netdevs_free(ds);
	return err;
}

void pw_netdevs_free(struct pw_netdevs *ds)
{
	free(ds->d);
	memset(ds, 0, sizeof(*ds));
}

int pw_netdev_by_index(const struct pw_netdevs *ds, int ifindex)
{
	for (int i = 0; i < ds->n; i++)
		if (ds->d[i].ifindex == ifindex)
			return i;
	return -1;
}

int pw_netdev_by_name(const struct pw_netdevs *ds, const char *name)
{
	for (int i = 0; i < ds->n; i++)
		if (!strcmp(ds->d[i].name, name))
			return i;
	return -1;
}

static void add_attr(struct nlmsghdr *nh, int type, const void *data, int len)
{
	struct rtattr *a = (void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* RTA_OIF of the RTM_NEWROUTE reply in @buf, or -errno */
static int parse_route(const char *buf, ssize_t n)
{
	const struct nlmsghdr *nh = (const void *)buf;
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	const struct rtmsg *rt = NLMSG_DATA(nh);
	int len;
	__u32 oif;

	if (n < (ssize_t)sizeof(*nh) || nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > n)
		return -EBADMSG;
	if (nh->nlmsg_type == NLMSG_ERROR)
		return nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) || !e->error ? -EBADMSG : e->error;
	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return -EBADMSG;
	len = RTM_PAYLOAD(nh);
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == RTA_OIF)
			return attr_u32(a, &oif) ?: (int)oif;
	return -ENODEV;
}

int pw_route_dev(int family, const __u32 *dst, const __u32 *src)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[2 * RTA_SPACE(16)];
	} req;
	int alen = family == 4 ? 4 : 16, fd, err;
	char buf[8192];
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family == 4 ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = req.rt.rtm_src_len = 8 * alen;
	add_attr(&req.nh, RTA_DST, dst, alen);
	add_attr(&req.nh, RTA_SRC, src, alen);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) != (ssize_t)req.nh.nlmsg_len)
		err = -errno;
	else if ((n = recv(fd, buf, sizeof(buf), MSG_TRUNC)) < 0)
		err = -errno;
	else
		err = n > (ssize_t)sizeof(buf) ? -EMSGSIZE : parse_route(buf, n);
	close(fd);
	return err;
}
