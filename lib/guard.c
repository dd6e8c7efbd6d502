// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The SSH lock-out guard: would a rule set drop the caller's own session?
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* ---- the lock-out guard ---- */

int pw_rules_ssh_guard(struct pw_ctx *ctx, const struct pw_ruleset *rs, char *why, size_t len)
{
	const char *env = getenv("SSH_CONNECTION");
	char cip[64], sip[64], ifname[IF_NAMESIZE] = "";
	unsigned int cport, sport;
	struct pw_ref_pkt p = { 0 };
	struct ifaddrs *ifa = NULL;
	int idx;
	__u32 verdict;

	if (!env || sscanf(env, "%63s %u %63s %u", cip, &cport, sip, &sport) != 4)
		return 0;
	if (inet_pton(AF_INET, cip, p.saddr) == 1 && inet_pton(AF_INET, sip, p.daddr) == 1)
		p.family = 4;
	else if (inet_pton(AF_INET6, cip, p.saddr) == 1 && inet_pton(AF_INET6, sip, p.daddr) == 1)
		p.family = 6;
	else
		return 0;
	p.proto = 6;
	p.has_ports = true;
	p.sport = cport;
	p.dport = sport;
	verdict = pw_ruleset_classify(rs, &p, &idx);
	if (verdict != XDP_DROP)
		return 0;
	/* only if the session arrives on an interface pinwall runs on here */
	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
			char dir[PW_PATH_LEN];
			const void *a;

			if (!i->ifa_addr || i->ifa_addr->sa_family != (p.family == 4 ? AF_INET : AF_INET6))
				continue;
			a = p.family == 4 ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
					  : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (memcmp(a, p.daddr, p.family == 4 ? 4 : 16))
				continue;
			pw_iface_dir(ctx, ctx->netns_ino, i->ifa_name, dir, sizeof(dir));
			if (pw_path_exists(dir))
				snprintf(ifname, sizeof(ifname), "%s", i->ifa_name);
		}
		freeifaddrs(ifa);
	}
	if (!ifname[0])
		return 0;
	if (idx >= 0) {
		char r[128];

		pw_rule_format(&rs->r[idx], r, sizeof(r));
		snprintf(why, len, "rule '%s' would drop your SSH session (%s port %u -> %s port %u on '%s')",
			 r, cip, cport, sip, sport, ifname);
	} else {
		snprintf(why, len, "policy deny would drop your SSH session (%s port %u -> %s port %u on '%s')",
			 cip, cport, sip, sport, ifname);
	}
	return 1;
}
