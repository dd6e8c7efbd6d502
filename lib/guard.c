// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The SSH lock-out guard: would a rule set drop the caller's own session?
 *
 * Phases: parse SSH_CONNECTION, ask the reference classifier, find the
 * interfaces holding the server address (or the one its %zone names) and
 * the one the route back to the client leaves through (Linux takes a packet
 * for any local address on any interface: an address on lo arrives through
 * the uplink), walk the devices below each (macvlan and VLAN to their lower
 * device, bridge and bond to their ports, chains of these), and refuse when
 * pinwall runs on any of them. Whatever cannot be decided refuses too: a guard that
 * allows when unsure is the lock-out it exists to prevent.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "netdev.h"
#include "pinwall/rules.h"

#define GUARD_DEPTH 16		/* devices on one path down: a bound, not a limit seen in practice */
#define ENV_MAX 256		/* SSH_CONNECTION is two addresses and two ports */

enum { HOLDS = 1, ROUTE = 2 };	/* why a device is a way in */

struct session {
	struct pw_ref_pkt p;	/* the session's packet as it arrives */
	char zone[IF_NAMESIZE];	/* from ADDR%ZONE, "" if none */
};

struct guard {
	struct pw_ctx *ctx;
	struct session s;
	struct pw_netdevs ds;
	char *mark;		/* per device: HOLDS the server address, ROUTE back to the client */
	bool *seen;		/* per device: walked already */
	int path[GUARD_DEPTH];	/* the way in (HOLDS or ROUTE) down to pinwall's device */
	int found_by;		/* HOLDS or ROUTE: how path[0] was found */
	int depth;
	char unsure[256];	/* why the guard cannot decide */
};

/* a name or value from outside, printable and bounded for a one-line message */
static const char *quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 8 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
			o += snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	snprintf(buf + o, len - o, "%s", *s ? "..." : "");
	return buf;
}

static int unsure(struct guard *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->unsure, sizeof(g->unsure), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- phase 1: the session ---- */

static int parse_port(const char *t, __u32 *port)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)t[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(t, &end, 10);
	if (*end || errno || v == 0 || v > 65535)
		return -EINVAL;
	*port = (__u32)v;
	return 0;
}

/* ADDR or ADDR%ZONE (IPv6 only); an IPv4-mapped IPv6 address is the IPv4
 * packet it stands for */
static int parse_addr(const char *t, int *family, __u32 *a, char *zone)
{
	const char *pct = strchr(t, '%');
	size_t n = pct ? (size_t)(pct - t) : strlen(t);
	char buf[INET6_ADDRSTRLEN];

	zone[0] = '\0';
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, t, n);
	buf[n] = '\0';
	if (!pct && inet_pton(AF_INET, buf, a) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -EINVAL;
	*family = 6;
	if (pct && (!pct[1] || strlen(pct + 1) >= IF_NAMESIZE))
		return -EINVAL;
	if (pct)
		strcpy(zone, pct + 1);
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		a[0] = a[3];
		a[1] = a[2] = a[3] = 0;
		*family = 4;
	}
	return 0;
}

/* "CLIENT CPORT SERVER SPORT", as sshd sets it */
static int parse_session(const char *env, struct session *s)
{
	char copy[ENV_MAX], zc[IF_NAMESIZE], zs[IF_NAMESIZE], *tok[4], *save, *t;
	int n = 0, fc, fs;

	if (strlen(env) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, env);
	for (t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == 4)
			return -EINVAL;
		tok[n++] = t;
	}
	memset(s, 0, sizeof(*s));
	if (n != 4 || parse_addr(tok[0], &fc, s->p.saddr, zc) || parse_port(tok[1], &s->p.sport) ||
	    parse_addr(tok[2], &fs, s->p.daddr, zs) || parse_port(tok[3], &s->p.dport) || fc != fs)
		return -EINVAL;
	if (zc[0] && zs[0] && strcmp(zc, zs))
		return -EINVAL;		/* one session arrives on one interface */
	strcpy(s->zone, zs[0] ? zs : zc);
	s->p.family = fc;
	s->p.proto = IPPROTO_TCP;
	s->p.has_ports = true;
	return 0;
}

static bool set_can_drop(const struct pw_ruleset *rs)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].action == XDP_DROP)
			return true;
	return rs->policy == PW_POLICY_DENY;
}

/* ---- phase 2: the interfaces holding the server address ---- */

static int zone_device(const struct pw_netdevs *ds, const char *zone)
{
	int i = pw_netdev_by_name(ds, zone);
	char *end;
	unsigned long v;

	if (i >= 0 || !isdigit((unsigned char)zone[0]))
		return i;
	v = strtoul(zone, &end, 10);	/* a numeric zone is an interface index */
	return *end || v > 0x7fffffff ? -1 : pw_netdev_by_index(ds, (int)v);
}

static bool holds_addr(const struct ifaddrs *i, const struct pw_ref_pkt *p)
{
	const struct sockaddr *sa = i->ifa_addr;

	if (!sa || sa->sa_family != (p->family == 4 ? AF_INET : AF_INET6))
		return false;
	if (p->family == 4)
		return !memcmp(&((const struct sockaddr_in *)sa)->sin_addr, p->daddr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, p->daddr, 16);
}

static int find_interfaces(struct guard *g)
{
	int zone = -1, found = 0, err = 0;
	char addr[INET6_ADDRSTRLEN], q[64];
	struct ifaddrs *ifa;

	inet_ntop(g->s.p.family == 4 ? AF_INET : AF_INET6, g->s.p.daddr, addr, sizeof(addr));
	if (g->s.zone[0] && (zone = zone_device(&g->ds, g->s.zone)) < 0)
		return unsure(g, "its zone '%s' names no interface here", quote(g->s.zone, q, sizeof(q)));
	if (getifaddrs(&ifa))
		return unsure(g, "cannot list the addresses here: %s", strerror(errno));
	for (const struct ifaddrs *i = ifa; i && !err; i = i->ifa_next) {
		int d;

		if (!holds_addr(i, &g->s.p))
			continue;
		d = pw_netdev_by_name(&g->ds, i->ifa_name);
		if (d < 0)
			err = unsure(g, "interface '%s' changed while it was checked",
				     quote(i->ifa_name, q, sizeof(q)));
		else if (zone < 0 || d == zone) {
			g->mark[d] = HOLDS;
			found++;
		}
	}
	freeifaddrs(ifa);
	if (!err && !found && zone >= 0)
		return unsure(g, "%s is no address of '%s'", addr,
			      quote(g->ds.d[zone].name, q, sizeof(q)));
	if (!err && !found)
		return unsure(g, "%s is no address of any interface here", addr);
	return err;
}

static bool link_local(const struct pw_ref_pkt *p)
{
	return p->family == 6 && (ntohl(p->daddr[0]) & 0xffc00000) == 0xfe800000;
}

/* the way back to the client: with symmetric routing, the way in */
static int find_route(struct guard *g)
{
	char cip[INET6_ADDRSTRLEN];
	int oif, d;

	if (g->s.zone[0] || link_local(&g->s.p))
		return 0;	/* on the link the zone or the address names */
	inet_ntop(g->s.p.family == 4 ? AF_INET : AF_INET6, g->s.p.saddr, cip, sizeof(cip));
	oif = pw_route_dev(g->s.p.family, g->s.p.saddr, g->s.p.daddr);
	if (oif < 0)
		return unsure(g, "cannot route back to %s here: %s", cip, strerror(-oif));
	if ((d = pw_netdev_by_index(&g->ds, oif)) < 0)
		return unsure(g, "the route back to %s leaves through interface %d, which is gone",
			      cip, oif);
	g->mark[d] |= ROUTE;
	return 0;
}

/* ---- phase 3: down from each of them to the devices pinwall runs on ---- */

/* 1 if @map_ids include pinwall's rule map: the program applies the rules */
static int uses_rule_map(const __u32 *map_ids, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info mi;
		int fd = bpf_map_get_fd_by_id(map_ids[i]), hit;

		if (fd < 0)
			continue;	/* gone since the program was read */
		hit = !pw_map_info(fd, &mi) && !strncmp(mi.name, PW_MAP_RULES, sizeof(mi.name));
		close(fd);
		if (hit)
			return 1;
	}
	return 0;
}

/* pinwall's program, known by name or by the rule map it reads: this
 * holds when its pins are gone */
static int prog_is_pinwall(struct guard *g, __u32 id, const char *dev)
{
	__u32 map_ids[PW_MAX_MAPS], len = sizeof(struct bpf_prog_info);
	struct bpf_prog_info pi = { 0 };
	char q[64];
	int fd = bpf_prog_get_fd_by_id(id), r;

	if (fd < 0 && errno == ENOENT)
		return 0;	/* detached since the dump */
	if (fd < 0)
		return unsure(g, "cannot read XDP program %u on '%s': %s", id,
			      quote(dev, q, sizeof(q)), strerror(errno));
	pi.nr_map_ids = PW_MAX_MAPS;
	pi.map_ids = (__u64)(unsigned long)map_ids;
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		r = unsure(g, "cannot read XDP program %u on '%s': %s", id,
			   quote(dev, q, sizeof(q)), strerror(errno));
	else if (!strncmp(pi.name, PW_PROG_NAME, sizeof(pi.name)))
		r = 1;
	else if (pi.nr_map_ids > PW_MAX_MAPS)
		r = unsure(g, "XDP program %u on '%s' uses more than %d maps", id,
			   quote(dev, q, sizeof(q)), PW_MAX_MAPS);
	else
		r = uses_rule_map(map_ids, pi.nr_map_ids);
	close(fd);
	return r;
}

/* 1: pinwall has its pins for @d here or its program attached; 0: no; -1: unsure */
static int runs_pinwall(struct guard *g, const struct pw_netdev *d)
{
	char dir[PW_PATH_LEN], q[64];
	int r;

	if (pw_iface_dir(g->ctx, g->ctx->netns_ino, d->name, dir, sizeof(dir)))
		return unsure(g, "the pin directory of '%s' is too long", quote(d->name, q, sizeof(q)));
	if (pw_path_exists(dir))
		return 1;
	for (int i = 0; i < PW_NETDEV_XDP_IDS && d->xdp_ids[i]; i++)
		if ((r = prog_is_pinwall(g, d->xdp_ids[i], d->name)))
			return r;
	return 0;
}

/* a veth's (netkit's, vxcan's) IFLA_LINK is its peer, not a device below it */
static bool link_is_peer(const struct pw_netdev *d)
{
	return !strcmp(d->kind, "veth") || !strcmp(d->kind, "netkit") || !strcmp(d->kind, "vxcan");
}

static int walk_down(struct guard *g, int i);

/* the device a macvlan or VLAN (or tunnel) sits on */
static int walk_link(struct guard *g, const struct pw_netdev *d)
{
	char q[64];
	int low;

	if (!d->link || d->link == d->ifindex || link_is_peer(d))
		return 0;
	if (d->link_elsewhere)
		return unsure(g, "'%s' sits on a device in another network namespace",
			      quote(d->name, q, sizeof(q)));
	if ((low = pw_netdev_by_index(&g->ds, d->link)) < 0)
		return unsure(g, "the device below '%s' (index %d) is gone",
			      quote(d->name, q, sizeof(q)), d->link);
	return walk_down(g, low);
}

/* 1: pinwall runs on device @i or below it (g->path holds the way down);
 * 0: it does not; -1: unsure */
static int walk_down(struct guard *g, int i)
{
	const struct pw_netdev *d = &g->ds.d[i];
	char q[64];
	int r;

	if (g->seen[i])
		return 0;
	g->seen[i] = true;
	if (g->depth == GUARD_DEPTH)
		return unsure(g, "more than %d devices are stacked below '%s'", GUARD_DEPTH,
			      quote(g->ds.d[g->path[0]].name, q, sizeof(q)));
	g->path[g->depth++] = i;
	if ((r = runs_pinwall(g, d)) || (r = walk_link(g, d)))
		return r;
	/* a bridge's ports, a bond's slaves */
	for (int k = 0; k < g->ds.n; k++)
		if (g->ds.d[k].master == d->ifindex && (r = walk_down(g, k)))
			return r;
	g->depth--;
	return 0;
}

/* from every device marked @by; the address holders first, for the message */
static int walk_from(struct guard *g, int by)
{
	int r;

	for (int i = 0; i < g->ds.n; i++) {
		if (!(g->mark[i] & by))
			continue;
		memset(g->seen, 0, g->ds.n * sizeof(*g->seen));
		g->depth = 0;
		g->found_by = by;
		if ((r = walk_down(g, i)))
			return r;
	}
	return 0;
}

/* ---- phase 4: the verdict and its reason ---- */

static void describe_path(const struct guard *g, char *buf, size_t len)
{
	char q[64];
	size_t o = 0;

	for (int k = 0; k < g->depth && o < len; k++)
		o += snprintf(buf + o, len - o, "%s'%s'", k == 0 ? "" : k == 1 ? " via " : ", ",
			      quote(g->ds.d[g->path[k]].name, q, sizeof(q)));
}

static void describe(const struct guard *g, const struct pw_ruleset *rs, int idx, int found,
		     char *why, size_t len)
{
	char what[160], rule[128], cip[INET6_ADDRSTRLEN], sip[INET6_ADDRSTRLEN], path[256];
	int af = g->s.p.family == 4 ? AF_INET : AF_INET6;

	if (idx >= 0) {
		pw_ruleset_format(rs, idx, rule, sizeof(rule));
		snprintf(what, sizeof(what), "rule '%s'", rule);
	} else {
		snprintf(what, sizeof(what), "policy deny");
	}
	inet_ntop(af, g->s.p.saddr, cip, sizeof(cip));
	inet_ntop(af, g->s.p.daddr, sip, sizeof(sip));
	if (found > 0) {
		describe_path(g, path, sizeof(path));
		snprintf(why, len, "%s would drop your SSH session (%s port %u -> %s port %u %s %s)",
			 what, cip, g->s.p.sport, sip, g->s.p.dport,
			 g->found_by == HOLDS ? "on" : "routed through", path);
	} else {
		snprintf(why, len, "%s would drop your SSH session (%s port %u -> %s port %u) and pinwall cannot tell where it arrives: %s",
			 what, cip, g->s.p.sport, sip, g->s.p.dport, g->unsure);
	}
}

/* 1: pinwall runs on the session's way in; 0: it does not; -1: unsure */
static int locate(struct guard *g)
{
	int err = pw_netdevs_read(&g->ds);

	if (err)
		return unsure(g, "cannot read the network devices here: %s", strerror(-err));
	g->mark = calloc(g->ds.n, sizeof(*g->mark));
	g->seen = calloc(g->ds.n, sizeof(*g->seen));
	if (!g->mark || !g->seen)
		return unsure(g, "%s", strerror(ENOMEM));
	return find_interfaces(g) ?: walk_from(g, HOLDS) ?: find_route(g) ?: walk_from(g, ROUTE);
}

int pw_rules_ssh_guard(struct pw_ctx *ctx, const struct pw_ruleset *rs, char *why, size_t len)
{
	const char *env = getenv("SSH_CONNECTION");
	struct guard g = { .ctx = ctx };
	char q[96];
	int idx, found;

	if (!env)
		return 0;
	if (parse_session(env, &g.s)) {
		if (!set_can_drop(rs))
			return 0;
		snprintf(why, len, "cannot tell whether these rules would drop your SSH session: SSH_CONNECTION '%s' is not 'CLIENT PORT SERVER PORT'",
			 quote(env, q, sizeof(q)));
		return 1;
	}
	if (pw_ruleset_classify(rs, &g.s.p, &idx) != XDP_DROP)
		return 0;
	found = locate(&g);
	if (found)
		describe(&g, rs, idx, found, why, len);
	free(g.mark);
	free(g.seen);
	pw_netdevs_free(&g.ds);
	return found != 0;
}
