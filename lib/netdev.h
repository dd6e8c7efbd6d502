/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The network devices of the caller's network namespace, read in one
 * rtnetlink dump: names, and how they stack (what lies below each device);
 * and the device a route lookup picks.
 * rtnetlink rather than /sys/class/net: 'pinwall -n NS' enters only the
 * network namespace, so sysfs still shows the devices of the caller's.
 */
#ifndef PINWALL_NETDEV_H
#define PINWALL_NETDEV_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>

#define PW_NETDEV_XDP_IDS 4	/* generic, native, offloaded, and the single-mode id */

struct pw_netdev {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[32];		/* IFLA_INFO_KIND ("macvlan", "bridge", "veth"), "" if none */
	int link;		/* IFLA_LINK: the device below (macvlan, VLAN), a veth's peer; 0: none */
	bool link_elsewhere;	/* that device is in another network namespace */
	int master;		/* IFLA_MASTER: the bridge, bond, team or VRF this is a port of */
	__u32 xdp_ids[PW_NETDEV_XDP_IDS];	/* attached XDP programs, 0: unused */
};

struct pw_netdevs {
	struct pw_netdev *d;
	int n, cap;
};

/* 0, or -errno (-EBADMSG: a reply pinwall cannot read whole). */
int pw_netdevs_read(struct pw_netdevs *ds);
void pw_netdevs_free(struct pw_netdevs *ds);
/* index into ds->d, or -1 */
int pw_netdev_by_index(const struct pw_netdevs *ds, int ifindex);
int pw_netdev_by_name(const struct pw_netdevs *ds, const char *name);
/* The interface index the kernel routes a packet to @dst from @src through
 * (family 4 or 6, network byte order), or -errno (-ENETUNREACH: no route). */
int pw_route_dev(int family, const __u32 *dst, const __u32 *src);

#endif
