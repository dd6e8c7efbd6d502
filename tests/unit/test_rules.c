// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rule tests: pinwall's packet path (BPF_PROG_TEST_RUN on a private
 * skeleton instance, rule tables filled by pw_rules_apply) against the
 * reference classifier in libpinwall (pw_ruleset_classify) and against
 * hand-written expectations.
 *
 *  differential_round_NN  random rule sets (IPv4/IPv6 prefixes of every
 *                         length drawn around a small pool of base addresses,
 *                         nested/disjoint port ranges, protocols, random
 *                         actions and policy), thousands of random packets
 *                         each; every verdict must equal the reference, the
 *                         deciding rule's counter must gain exactly one
 *                         packet (and the frame's bytes) and no other rule
 *                         counter may move. Each round then applies a
 *                         modified set B (the other table set) and a set C
 *                         modified again (back on A's table set), then C
 *                         again (nothing to do).
 *  test_lpm_* / lpm_*     longest-prefix semantics at every prefix length.
 *  prec_* / frag_* / ...  fixed precedence cases, non-IP and malformed frames.
 *  test_double_buffer_stale  nothing of a set survives in its table set.
 *  test_apply_switch_*    packets running during applies see one set.
 *  parse_* / check_*      pw_rule_parse and pw_ruleset_check errors.
 *
 * Every applied set goes through apply_verified(): the apply report, the
 * flip of pw_config.active, ids and counters of kept, added and removed
 * rules are all checked.
 *
 * The PRNG seed is printed; set PW_SEED (decimal or 0x hex) to replay.
 * Needs root (or CAP_BPF + CAP_NET_ADMIN). Usage: test_rules [glob]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pinwall/abi.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"
#include "scratchroot.h"
#include "skelrules.h"
#include "randpkt.h"
#include "ruleharness.h"

#define DEFAULT_SEED 0x70696e77616c6cull	/* "pinwall" */

#define DROP XDP_DROP
#define PASS XDP_PASS
#define ALLOW PW_POLICY_ALLOW
#define DENY PW_POLICY_DENY

/* ---- globals ------------------------------------------------------------ */

static unsigned long long g_race_runs;	/* program runs of the switch race test */


/* ---- PRNG (splitmix64) -------------------------------------------------- */

static int g_short_pct = 3;	/* differential: share of prefixes of length 0..3 */

/* ---- addresses as byte strings (network order, bit 0 = MSB) ------------ */

/* +1 / -1 over the address; returns 1 on wrap-around. */
static int addr_inc(uint8_t *a, int fam)
{
	for (int i = abytes(fam) - 1; i >= 0; i--)
		if (++a[i])
			return 0;
	return 1;
}

static int addr_dec(uint8_t *a, int fam)
{
	for (int i = abytes(fam) - 1; i >= 0; i--)
		if (a[i]--)
			return 0;
	return 1;
}

static void parse_addr(int fam, const char *s, uint8_t *out)
{
	memset(out, 0, 16);
	if (s && inet_pton(fam == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		print_error("test bug: bad address '%s'\n", s);
		fail();
	}
}

/* ---- rule sets ----------------------------------------------------------- */

static void rs_init(struct pw_ruleset *rs, int cap)
{
	memset(rs, 0, sizeof(*rs));
	rs->cap = cap < 4 ? 4 : cap;
	rs->r = calloc(rs->cap, sizeof(*rs->r));
	rs->ids = calloc(rs->cap, sizeof(*rs->ids));
	rs->policy = ALLOW;
	assert_non_null(rs->r);
	assert_non_null(rs->ids);
}

static void rs_reserve(struct pw_ruleset *rs, int n)
{
	if (n <= rs->cap)
		return;
	while (rs->cap < n)
		rs->cap *= 2;
	rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
	rs->ids = realloc(rs->ids, rs->cap * sizeof(*rs->ids));
	assert_non_null(rs->r);
	assert_non_null(rs->ids);
}

static void rs_copy(struct pw_ruleset *dst, const struct pw_ruleset *src)
{
	rs_init(dst, src->n);
	dst->n = src->n;
	dst->policy = src->policy;
	memcpy(dst->r, src->r, src->n * sizeof(*src->r));
	memcpy(dst->ids, src->ids, src->n * sizeof(*src->ids));
}

/* Parse a rule that must parse; appended with id 0. */
static void rs_add(struct pw_ruleset *rs, const char *text)
{
	char err[256] = "";

	rs_reserve(rs, rs->n + 1);
	if (pw_rule_parse(text, &rs->r[rs->n], err, sizeof(err))) {
		print_error("rule '%s' does not parse: %s\n", text, err);
		fail();
	}
	rs->ids[rs->n++] = 0;
}

/* Add a rule if it parses and the set stays valid; returns 1 if added. */
static int rs_try_add(struct pw_ruleset *rs, const char *text)
{
	char err[256] = "";

	rs_reserve(rs, rs->n + 1);
	if (pw_rule_parse(text, &rs->r[rs->n], err, sizeof(err))) {
		print_error("generated rule '%s' does not parse: %s\n", text, err);
		fail();
	}
	rs->ids[rs->n++] = 0;
	if (pw_ruleset_check(&g_ctx, rs, NULL)) {
		rs->n--;
		return 0;
	}
	return 1;
}

static void rs_remove(struct pw_ruleset *rs, int i)
{
	memmove(&rs->r[i], &rs->r[i + 1], (rs->n - i - 1) * sizeof(*rs->r));
	memmove(&rs->ids[i], &rs->ids[i + 1], (rs->n - i - 1) * sizeof(*rs->ids));
	rs->n--;
}

static void rs_dump(const char *title, const struct pw_ruleset *rs)
{
	char buf[160];

	print_error("%s: %d rules, policy %s\n", title, rs->n,
		    rs->policy == DENY ? "deny" : "allow");
	for (int i = 0; i < rs->n; i++) {
		pw_rule_format(&rs->r[i], buf, sizeof(buf));
		print_error("  [%d] id %u: %s\n", i, rs->ids[i], buf);
	}
}

static int rs_find_same(const struct pw_ruleset *rs, const struct pw_rule *r)
{
	for (int i = 0; i < rs->n; i++)
		if (!memcmp(&rs->r[i], r, sizeof(*r)))
			return i;
	return -1;
}

/* ---- maps: counters, rules, config -------------------------------------- */

static void read_rule(__u32 id, struct pw_rule *r)
{
	assert_int_equal(bpf_map_lookup_elem(g_maps.fd[PW_RM_RULES], &id, r), 0);
}

/*
 * Make @want (with @policy) the set in force through pw_rules_apply and
 * check everything apply promises: the report, the switch of the active
 * table set, ids and counters of kept rules unchanged, new rules on fresh
 * ids with zero counters, removed rules cleared.
 */
static void apply_verified(const char *label, struct pw_ruleset *want, int policy)
{
	struct pw_apply_report rep;
	struct pw_config before, after;
	struct pw_datarec *cnt_cur = calloc(g_cur.n + 1, sizeof(*cnt_cur));
	int *match = calloc(want->n + 1, sizeof(*match));
	char *taken = calloc(g_cur.n + 1, 1);
	int kept = 0, err, bad = 0;
	bool unchanged;

	assert_non_null(cnt_cur);
	assert_non_null(match);
	assert_non_null(taken);
	want->policy = policy;
	if (pw_ruleset_check(&g_ctx, want, NULL)) {
		print_error("[%s] pw_ruleset_check rejects the set: %s\n", label, g_ctx.err);
		rs_dump("set", want);
		fail();
	}
	read_config(&before);
	for (int i = 0; i < g_cur.n; i++)
		stat_one(g_cur.ids[i], &cnt_cur[i]);
	for (int j = 0; j < want->n; j++) {
		match[j] = rs_find_same(&g_cur, &want->r[j]);
		if (match[j] >= 0) {
			taken[match[j]] = 1;
			kept++;
		}
	}
	unchanged = kept == want->n && kept == g_cur.n && policy == g_cur.policy;

	err = pw_rules_apply(&g_ctx, &g_maps, want, policy, &rep);
	g_applies++;
	if (err) {
		print_error("[%s] pw_rules_apply: %d: %s\n", label, err, g_ctx.err);
		fail();
	}
	read_config(&after);
#define CHK(cond, ...) do { if (!(cond)) { print_error("[%s] ", label); \
	print_error(__VA_ARGS__); print_error("\n"); bad++; } } while (0)
	CHK(rep.kept == kept, "report: kept %d, expected %d", rep.kept, kept);
	CHK(rep.added == want->n - kept, "report: added %d, expected %d", rep.added, want->n - kept);
	CHK(rep.removed == g_cur.n - kept, "report: removed %d, expected %d", rep.removed,
	    g_cur.n - kept);
	CHK(rep.unchanged == unchanged, "report: unchanged %d, expected %d", rep.unchanged, unchanged);
	if (unchanged) {
		CHK(!memcmp(&before, &after, sizeof(before)),
		    "config changed by an apply that changed nothing");
	} else {
		CHK(after.active == ((before.active & 1) ^ 1), "active set %u after %u: no flip",
		    after.active, before.active);
		CHK(after.generation == before.generation + 1, "generation %u after %u",
		    after.generation, before.generation);
		CHK(after.n_rules == (__u32)want->n, "n_rules %u, expected %d", after.n_rules, want->n);
	}
	for (int j = 0; j < want->n; j++) {
		__u32 id = want->ids[j];
		struct pw_datarec c;
		struct pw_rule r;

		CHK(id > 0 && id < PW_MAX_RULES, "rule %d: id %u out of range", j, id);
		if (!(id > 0 && id < PW_MAX_RULES))
			continue;
		for (int k = 0; k < j; k++)
			CHK(want->ids[k] != id, "rules %d and %d share id %u", k, j, id);
		read_rule(id, &r);
		CHK(!memcmp(&r, &want->r[j], sizeof(r)), "pw_rules[%u] differs from rule %d", id, j);
		stat_one(id, &c);
		if (match[j] >= 0) {
			CHK(id == g_cur.ids[match[j]], "kept rule %d: id %u, was %u", j, id,
			    g_cur.ids[match[j]]);
			CHK(c.rx_packets == cnt_cur[match[j]].rx_packets &&
			    c.rx_bytes == cnt_cur[match[j]].rx_bytes,
			    "kept rule %d (id %u): counter %llu pkts/%llu bytes, was %llu/%llu", j, id,
			    (unsigned long long)c.rx_packets, (unsigned long long)c.rx_bytes,
			    (unsigned long long)cnt_cur[match[j]].rx_packets,
			    (unsigned long long)cnt_cur[match[j]].rx_bytes);
		} else {
			for (int i = 0; i < g_cur.n; i++)
				CHK(g_cur.ids[i] != id, "new rule %d got id %u still used by an old rule",
				    j, id);
			CHK(c.rx_packets == 0 && c.rx_bytes == 0,
			    "new rule %d (id %u): counter %llu pkts, expected 0", j, id,
			    (unsigned long long)c.rx_packets);
		}
	}
	for (int i = 0; i < g_cur.n; i++) {
		struct pw_datarec c;
		struct pw_rule r;

		if (taken[i])
			continue;
		read_rule(g_cur.ids[i], &r);
		stat_one(g_cur.ids[i], &c);
		CHK(r.kind == PW_RK_NONE, "removed rule (id %u) still in pw_rules", g_cur.ids[i]);
		CHK(c.rx_packets == 0 && c.rx_bytes == 0, "removed rule (id %u): counter %llu, expected 0",
		    g_cur.ids[i], (unsigned long long)c.rx_packets);
	}
#undef CHK
	free(cnt_cur);
	free(match);
	free(taken);
	if (bad) {
		rs_dump("new set", want);
		fail();
	}
	pw_ruleset_free(&g_cur);
	rs_copy(&g_cur, want);
}

/* ---- packets ---------------------------------------------------------------- */

enum raw_kind {
	RAW_NONE = 0,		/* an IP packet built from the fields */
	RAW_ARP,
	RAW_VLAN3,		/* three VLAN tags: L3 "other" */
	RAW_V4_TRUNC_TCP,	/* TCP header cut short */
	RAW_V4_TRUNC_UDP,
	RAW_V4_TRUNC_ICMP,
	RAW_V4_IHL4,
	RAW_V4_TOTLEN,		/* tot_len < header length */
	RAW_V4_DOFF4,		/* TCP data offset 4 */
	RAW_V6_TRUNC,		/* IPv6 header cut short */
	RAW_V6_EXT_TRUNC,	/* extension header runs past the end */
	RAW_V6_VERSION,		/* EtherType IPv6, version 4 */
	RAW_VLAN_TRUNC,		/* VLAN tag cut short */
};

struct pkt {
	int family;		/* 4 or 6 */
	uint8_t src[16], dst[16];
	int proto;
	uint16_t sport, dport;
	int frag;		/* 0 none, 1 first fragment (MF), 2 non-first fragment,
				 * 3 IPv4 DF set (not a fragment) */
	int ext;		/* IPv6: extension headers before L4 (0..3) */
	int vlan;		/* VLAN tags (0..2) */
	int ihl;		/* IPv4 header words (0: 5) */
	int payload;
	int raw;		/* enum raw_kind */
	uint32_t frag_id;	/* fragments: 0 = a fresh id (no first fragment seen) */
};

static uint32_t g_frag_id = 0x10000;	/* fresh fragment ids: none repeats */

static void describe(const struct pkt *p, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	if (p->raw == RAW_ARP || p->raw == RAW_VLAN3 || p->raw == RAW_VLAN_TRUNC) {
		snprintf(buf, len, "non-IP frame (kind %d)", p->raw);
		return;
	}
	snprintf(buf, len, "%sIPv%d proto %d %s sport %u -> %s dport %u%s%s ext=%d vlan=%d ihl=%d payload=%d",
		 p->raw ? "malformed " : "", p->family, p->proto, astr(p->family, p->src, s),
		 p->sport, astr(p->family, p->dst, d), p->dport,
		 p->frag == 1 ? " first-fragment" : p->frag == 3 ? " DF" : "",
		 p->frag == 2 ? " NON-FIRST-fragment" : "",
		 p->ext, p->vlan, p->ihl ? p->ihl : 5, p->payload);
}

/* Build the frame; fills @ref (the reference's view). Returns the length. */
static size_t build(const struct pkt *p, struct pb *b, struct pw_ref_pkt *ref)
{
	bool v6 = p->family == 6;
	size_t ip, cut = 0;
	int proto = p->proto;
	uint32_t fid;

	pb_init(b);
	memset(ref, 0, sizeof(*ref));
	switch (p->raw) {
	case RAW_ARP: {
		uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

		pb_eth(b, ETH_P_ARP);
		pb_put(b, arp, sizeof(arp));
		return pb_finish(b);
	}
	case RAW_VLAN3:
		pb_eth(b, ETH_P_8021AD);
		pb_vlan(b, 1, ETH_P_8021Q);
		pb_vlan(b, 2, ETH_P_8021Q);
		pb_vlan(b, 3, ETH_P_IP);
		pb_ipv4(b, IPPROTO_TCP, 5, 0);
		pb_tcp(b, p->sport, p->dport, 5);
		pb_payload(b, 16);
		return pb_finish(b);
	case RAW_VLAN_TRUNC:
		pb_eth(b, ETH_P_8021Q);
		pb_put(b, "\x00", 1);
		return b->len;
	case RAW_V4_TRUNC_TCP: proto = IPPROTO_TCP; break;
	case RAW_V4_TRUNC_UDP: proto = IPPROTO_UDP; break;
	case RAW_V4_TRUNC_ICMP: proto = IPPROTO_ICMP; break;
	case RAW_V4_DOFF4: proto = IPPROTO_TCP; break;
	default: break;
	}

	ref->family = p->family;
	memcpy(ref->saddr, p->src, 16);
	memcpy(ref->daddr, p->dst, 16);
	ref->proto = (__u32)proto;
	ref->has_ports = (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && p->frag != 2;
	ref->sport = p->sport;
	ref->dport = p->dport;
	/* fresh ids: a later fragment never meets a first fragment by chance */
	fid = p->frag_id ? p->frag_id : ++g_frag_id;
	ref->frag_later = p->frag == 2;

	put_l2(b, p->vlan, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (!v6) {
		uint16_t frag = p->frag == 1 ? IP_MF : p->frag == 2 ? (uint16_t)(0x0100 | (p->sport & 0x3f)) :
				p->frag == 3 ? IP_DF : 0;

		if (p->frag == 2 && (p->dport & 1))
			frag |= IP_MF;
		ip = pb_ipv4(b, (uint8_t)proto, p->ihl ? (unsigned)p->ihl : 5, frag);
		pb_set16(b, ip + 4, (uint16_t)fid);
		memcpy(b->buf + ip + 12, p->src, 4);
		memcpy(b->buf + ip + 16, p->dst, 4);
		if (p->raw == RAW_V4_IHL4)
			b->buf[ip] = 0x44;
	} else {
		/* extension chain: types[0..ext-1], then a fragment header */
		uint8_t chain[5];
		int n = 0;

		for (int i = 0; i < p->ext; i++)
			chain[n++] = (uint8_t[]){ IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING }[(i + p->sport) % 3];
		if (p->frag == 1 || p->frag == 2)
			chain[n++] = IPPROTO_FRAGMENT;
		if (p->raw == RAW_V6_EXT_TRUNC && !n)
			chain[n++] = IPPROTO_DSTOPTS;
		chain[n] = (uint8_t)proto;
		ip = pb_ipv6(b, chain[0]);
		memcpy(b->buf + ip + 8, p->src, 16);
		memcpy(b->buf + ip + 24, p->dst, 16);
		if (p->raw == RAW_V6_VERSION)
			b->buf[ip] = 0x40;
		if (p->raw == RAW_V6_TRUNC)
			cut = ip + 30;
		for (int i = 0; i < n; i++) {
			uint8_t hl = (uint8_t)((p->dport + i) % 3);

			if (chain[i] == IPPROTO_FRAGMENT) {
				size_t fo = pb_ipv6_frag(b, chain[i + 1],
							 p->frag == 2 ? (uint16_t)(1 + p->sport % 500) : 0,
							 p->frag == 1 || (p->dport & 1));
				uint32_t nid = htonl(fid);

				memcpy(b->buf + fo + 4, &nid, 4);
			}
			else if (chain[i] == IPPROTO_ROUTING)
				pb_ipv6_rthdr(b, chain[i + 1], hl);
			else
				pb_ipv6_opts(b, chain[i + 1], p->raw == RAW_V6_EXT_TRUNC ? 4 : hl);
		}
		if (p->raw == RAW_V6_EXT_TRUNC)
			cut = b->len - 8;
	}

	if (p->frag == 2) {
		/* the first bytes look like ports: a parser ignoring the offset would use them */
		uint16_t fake[2] = { htons(p->sport), htons(p->dport) };

		pb_put(b, fake, sizeof(fake));
	} else if (proto == IPPROTO_TCP) {
		size_t t = pb_tcp(b, p->sport, p->dport, p->raw == RAW_V4_DOFF4 ? 4 : 5 + (p->payload & 1));

		if (p->raw == RAW_V4_TRUNC_TCP)
			cut = t + 12;
	} else if (proto == IPPROTO_UDP) {
		size_t t = pb_udp(b, p->sport, p->dport);

		if (p->raw == RAW_V4_TRUNC_UDP)
			cut = t + 6;
	} else if ((proto == IPPROTO_ICMP && !v6) || (proto == IPPROTO_ICMPV6 && v6)) {
		size_t t = pb_icmp_common(b, v6 ? 128 : 8, 0);

		if (p->raw == RAW_V4_TRUNC_ICMP)
			cut = t + 5;
	}
	if (p->payload)
		pb_payload(b, (size_t)p->payload);
	pb_finish(b);
	if (p->raw == RAW_V4_TOTLEN)
		pb_set16(b, b->ip_off + 2, 16);
	if (cut)
		b->len = cut;
	return b->len;
}

/*
 * One packet with a hand-written expectation: verdict and deciding rule
 * (index into rs, -1: none). The reference classifier must agree (for IP
 * frames); the deciding rule's counter gains one packet and the frame's
 * bytes, no other counter moves. Returns the number of problems found
 * (all printed); the caller fails.
 */
static int expect_pkt(const char *label, const struct pw_ruleset *rs, const struct pkt *p,
		      __u32 verdict, int rule, bool tracked)
{
	static struct pw_datarec a[SNAP_MAX], b[SNAP_MAX];
	struct pw_ref_pkt ref;
	struct pb f;
	char desc[400], rf[160];
	__u32 n = snap_span(rs), got;
	int bad = 0;

	build(p, &f, &ref);
	describe(p, desc, sizeof(desc));
	/* the stateless reference knows nothing of a first fragment seen before */
	if (!p->raw && !tracked) {
		int idx;
		__u32 rv = pw_ruleset_classify(rs, &ref, &idx);

		if (rv != verdict || idx != rule) {
			print_error("[%s] REFERENCE classifier: %s idx %d, expected %s idx %d for %s\n",
				    label, vname(rv), idx, vname(verdict), rule, desc);
			bad++;
		}
	}
	stats_snap(n, a);
	got = run_frame(&f);
	stats_snap(n, b);
	if (got != verdict) {
		print_error("[%s] verdict %s (%u), expected %s, for %s\n", label, vname(got), got,
			    vname(verdict), desc);
		bad++;
	}
	for (__u32 id = 0; id < n; id++) {
		__u64 dp = b[id].rx_packets - a[id].rx_packets, db = b[id].rx_bytes - a[id].rx_bytes;
		bool exp = rule >= 0 && rs->ids[rule] == id;

		if (dp != (exp ? 1u : 0u) || db != (exp ? f.len : 0u)) {
			int k;

			for (k = 0; k < rs->n && rs->ids[k] != id; k++)
				;
			if (k < rs->n)
				pw_rule_format(&rs->r[k], rf, sizeof(rf));
			else
				snprintf(rf, sizeof(rf), "(no rule)");
			print_error("[%s] counter of id %u '%s': +%llu pkts +%llu bytes, expected +%u/+%zu, for %s\n",
				    label, id, rf, (unsigned long long)dp, (unsigned long long)db,
				    exp ? 1 : 0, exp ? f.len : 0, desc);
			bad++;
		}
	}
	return bad;
}

/* ---- random rule sets and packets (differential) ----------------------------- */

struct pools {
	uint8_t v4[6][16], v6[6][16];
	uint16_t ports[10];
	int protos[8];
};

static void gen_pools(struct pools *pl)
{
	static const uint16_t fixed_ports[] = { 0, 22, 53, 80, 443, 8080, 65535 };
	static const int fixed_protos[] = { 1, 6, 17, 58, 47, 132, 50 };

	rand_addr(pl->v4[0], 4);
	derive(pl->v4[1], pl->v4[0], 4, 8);
	derive(pl->v4[2], pl->v4[0], 4, 16);	/* same top-16 chunk */
	derive(pl->v4[3], pl->v4[0], 4, 24);
	rand_addr(pl->v4[4], 4);
	derive(pl->v4[5], pl->v4[4], 4, 20);

	rand_addr(pl->v6[0], 6);
	derive(pl->v6[1], pl->v6[0], 6, 16);	/* same chunk: long probes */
	derive(pl->v6[2], pl->v6[0], 6, 48);
	derive(pl->v6[3], pl->v6[0], 6, 64);
	derive(pl->v6[4], pl->v6[3], 6, 100);
	rand_addr(pl->v6[5], 6);

	for (size_t i = 0; i < 7; i++)
		pl->ports[i] = fixed_ports[i];
	for (size_t i = 7; i < 10; i++)
		pl->ports[i] = (uint16_t)rn(65536);
	for (size_t i = 0; i < 7; i++)
		pl->protos[i] = fixed_protos[i];
	pl->protos[7] = (int)rn(256);
}

/* One random address rule around the pool. */
static void gen_addr_rule(const struct pools *pl, int fam, char *out, size_t len)
{
	uint8_t a[16];
	char s[INET6_ADDRSTRLEN];
	int l;

	memcpy(a, (fam == 4 ? pl->v4 : pl->v6)[rn(6)], 16);
	/* every length, with extra weight on the edges and the chunk boundary;
	 * very short prefixes (they decide most packets) only now and then */
	if (chance(g_short_pct))
		l = (int)rn(4);
	else if (chance(12))
		l = abits(fam) - (int)rn(3);
	else if (chance(12))
		l = 15 + (int)rn(3);
	else
		l = 4 + (int)rn((uint32_t)abits(fam) - 3);
	if (l > 0 && chance(30)) {
		/* a cousin: flip one bit inside the prefix (often the last one) */
		int bi = chance(50) ? l - 1 : (int)rn((uint32_t)l);

		setbit(a, bi, !getbit(a, bi));
	}
	fill_host(a, fam, l, 0);
	if (l == abits(fam) && chance(50))
		snprintf(out, len, "%s %s %s", act_txt(), chance(50) ? "src" : "dst", astr(fam, a, s));
	else
		snprintf(out, len, "%s %s %s/%d", act_txt(), chance(50) ? "src" : "dst", astr(fam, a, s), l);
}

static void gen_port_rule(const struct pools *pl, char *out, size_t len)
{
	static const uint32_t widths[] = { 0, 0, 0, 1, 3, 10, 50, 100, 1000, 20000, 65535 };
	static const char *const protos[] = { "", "", "proto tcp ", "proto udp " };
	uint32_t w = widths[rn(sizeof(widths) / sizeof(widths[0]))];
	int32_t c = pl->ports[rn(10)];
	int32_t lo = c - (int32_t)rn(w + 1), hi;

	if (lo < 0)
		lo = 0;
	hi = lo + (int32_t)w;
	if (hi > 65535)
		hi = 65535;
	if (lo == hi && chance(70))
		snprintf(out, len, "%s %s%s %d", act_txt(), protos[rn(4)], chance(50) ? "sport" : "dport", lo);
	else
		snprintf(out, len, "%s %s%s %d-%d", act_txt(), protos[rn(4)], chance(50) ? "sport" : "dport",
			 lo, hi);
}

static void gen_proto_rule(const struct pools *pl, char *out, size_t len)
{
	static const char *const names[] = { "icmp", "tcp", "udp", "icmpv6", "gre", "sctp", "esp" };
	int i = (int)rn(8);

	if (i < 7 && chance(50))
		snprintf(out, len, "%s proto %s", act_txt(), names[i]);
	else
		snprintf(out, len, "%s proto %d", act_txt(), pl->protos[i]);
}

/* mix: percentages of v4 address, v6 address, port rules (rest: proto) */
static void gen_rules(struct pw_ruleset *rs, const struct pools *pl, int n, int p4, int p6, int pport)
{
	char text[200];
	int tries = 0;

	for (int added = 0; added < n && tries < n * 20; tries++) {
		int r = (int)rn(100);

		if (r < p4)
			gen_addr_rule(pl, 4, text, sizeof(text));
		else if (r < p4 + p6)
			gen_addr_rule(pl, 6, text, sizeof(text));
		else if (r < p4 + p6 + pport)
			gen_port_rule(pl, text, sizeof(text));
		else
			gen_proto_rule(pl, text, sizeof(text));
		added += rs_try_add(rs, text);
	}
}

/* An address near the set's prefixes of that family (or the pool, or random). */
static void gen_pkt_addr(uint8_t *out, int fam, int near_pct, const struct pw_ruleset *rs,
			 const struct pools *pl)
{
	int cand[512], nc = 0;

	if (!chance(near_pct)) {
		rand_addr(out, fam);
		return;
	}
	for (int i = 0; i < rs->n && nc < 512; i++)
		if ((rs->r[i].kind == PW_RK_SRC || rs->r[i].kind == PW_RK_DST) &&
		    (int)rs->r[i].family == fam)
			cand[nc++] = i;
	if (!nc || chance(15)) {
		derive(out, (fam == 4 ? pl->v4 : pl->v6)[rn(6)], fam, (int)rn((uint32_t)abits(fam) + 1));
		return;
	}
	{
		const struct pw_rule *r = &rs->r[cand[rn((uint32_t)nc)]];
		int l = (int)r->len;

		memcpy(out, r->addr, 16);
		switch (rn(7)) {
		case 0:
		case 1: fill_host(out, fam, l, 2); break;
		case 2: fill_host(out, fam, l, 0); break;
		case 3: fill_host(out, fam, l, 1); break;
		case 4:
			if (l > 0)
				setbit(out, l - 1, !getbit(out, l - 1));
			fill_host(out, fam, l, 2);
			break;
		case 5: fill_host(out, fam, l, 0); addr_dec(out, fam); break;
		default: fill_host(out, fam, l, 1); addr_inc(out, fam); break;
		}
	}
}

static uint16_t gen_port(const struct pw_ruleset *rs, const struct pools *pl)
{
	int cand[512], nc = 0, r = (int)rn(100);

	if (r < 20)
		return (uint16_t)rn(65536);
	if (r < 45)
		return (uint16_t)(pl->ports[rn(10)] + (int)rn(5) - 2);
	for (int i = 0; i < rs->n && nc < 512; i++)
		if (rs->r[i].kind == PW_RK_SPORT || rs->r[i].kind == PW_RK_DPORT)
			cand[nc++] = i;
	if (!nc)
		return (uint16_t)(pl->ports[rn(10)] + (int)rn(3) - 1);
	{
		const struct pw_rule *pr = &rs->r[cand[rn((uint32_t)nc)]];

		switch (rn(5)) {
		case 0: return (uint16_t)pr->port_lo;
		case 1: return (uint16_t)pr->port_hi;
		case 2: return (uint16_t)(pr->port_lo - 1);
		case 3: return (uint16_t)(pr->port_hi + 1);
		default: return (uint16_t)(pr->port_lo + rn(pr->port_hi - pr->port_lo + 1));
		}
	}
}

static void gen_pkt(struct pkt *p, const struct pw_ruleset *rs, const struct pools *pl, int p4)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->family = chance(p4) ? 4 : 6;
	gen_pkt_addr(p->src, p->family, 40, rs, pl);
	gen_pkt_addr(p->dst, p->family, 85, rs, pl);
	r = (int)rn(100);
	if (r < 38) {
		p->proto = IPPROTO_TCP;
	} else if (r < 76) {
		p->proto = IPPROTO_UDP;
	} else if (r < 86) {
		p->proto = p->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	} else if (r < 94) {
		p->proto = pl->protos[rn(8)];
	} else {
		p->proto = (int)rn(256);
	}
	/* IPv6 extension-header numbers would be parsed as headers: not an L4 protocol */
	if (p->family == 6 && (p->proto == 0 || p->proto == 43 || p->proto == 44 || p->proto == 60))
		p->proto = 253;
	p->sport = gen_port(rs, pl);
	p->dport = gen_port(rs, pl);
	r = (int)rn(100);
	if (r < 7)
		p->frag = 2;
	else if (r < 11)
		p->frag = 1;
	else if (r < 25 && p->family == 4)
		p->frag = 3;
	if (p->family == 6 && chance(15))
		p->ext = 1 + (int)rn(3);
	r = (int)rn(100);
	p->vlan = r < 8 ? 1 : r < 11 ? 2 : 0;
	if (p->family == 4 && chance(10))
		p->ihl = 6 + (int)rn(4);
	p->payload = (int)rn(48);
}

/* Run @count random packets against the set in force (g_cur). */
static void diff_packets(const char *label, const struct pools *pl, int count, int p4)
{
	const struct pw_ruleset *rs = &g_cur;
	__u32 n = snap_span(rs);
	struct pw_datarec *prev = calloc(n, sizeof(*prev)), *now = calloc(n, sizeof(*now));
	int bad = 0, decided = 0, by_kind[PW_RK_DPORT + 1] = { 0 }, long_pfx = 0;

	assert_non_null(prev);
	assert_non_null(now);
	stats_snap(n, prev);
	for (int k = 0; k < count; k++) {
		struct pkt p;
		struct pw_ref_pkt ref;
		struct pb f;
		int idx, err = 0;
		__u32 exp, got, exp_id;

		gen_pkt(&p, rs, pl, p4);
		build(&p, &f, &ref);
		exp = pw_ruleset_classify(rs, &ref, &idx);
		exp_id = idx >= 0 ? rs->ids[idx] : 0;
		decided += idx >= 0;
		if (idx >= 0) {
			by_kind[rs->r[idx].kind]++;
			long_pfx += (rs->r[idx].kind == PW_RK_SRC || rs->r[idx].kind == PW_RK_DST) &&
				    rs->r[idx].len > 16;
		}
		got = run_frame(&f);
		stats_snap(n, now);
		if (got != exp)
			err = 1;
		for (__u32 id = 0; id < n; id++) {
			bool e = idx >= 0 && id == exp_id;

			if (now[id].rx_packets - prev[id].rx_packets != (e ? 1u : 0u) ||
			    now[id].rx_bytes - prev[id].rx_bytes != (e ? f.len : 0u))
				err = 1;
		}
		if (err) {
			char desc[400], rf[160];

			describe(&p, desc, sizeof(desc));
			if (idx >= 0)
				pw_rule_format(&rs->r[idx], rf, sizeof(rf));
			else
				snprintf(rf, sizeof(rf), "policy %s", rs->policy == DENY ? "deny" : "allow");
			print_error("[%s] packet %d: %s\n", label, k, desc);
			print_error("    reference: %s by [%d] id %u '%s'; BPF: %s\n", vname(exp), idx,
				    exp_id, rf, vname(got));
			for (__u32 id = 0; id < n; id++) {
				__u64 dp = now[id].rx_packets - prev[id].rx_packets;

				if (dp || (idx >= 0 && id == exp_id)) {
					int j;

					for (j = 0; j < rs->n && rs->ids[j] != id; j++)
						;
					if (j < rs->n)
						pw_rule_format(&rs->r[j], rf, sizeof(rf));
					else
						snprintf(rf, sizeof(rf), "(no rule)");
					print_error("    counter id %u '%s': +%llu\n", id, rf,
						    (unsigned long long)dp);
				}
			}
			if (++bad >= 8)
				break;
		}
		memcpy(prev, now, n * sizeof(*now));
	}
	free(prev);
	free(now);
	if (bad) {
		print_error("[%s] %d mismatching packets (stopped at 8); seed 0x%llx\n", label, bad,
			    (unsigned long long)g_seed);
		rs_dump("rule set in force", rs);
		fail();
	}
	print_message("  %-34s %3d rules, %4d pkts: src %d dst %d (prefix > /16: %d) dport %d sport %d proto %d policy %d\n",
		      label, rs->n, count, by_kind[PW_RK_SRC], by_kind[PW_RK_DST], long_pfx,
		      by_kind[PW_RK_DPORT], by_kind[PW_RK_SPORT], by_kind[PW_RK_PROTO], count - decided);
}

/* A modified copy of the set in force: some rules removed, some actions
 * flipped (a new rule for the same match), some added, order shuffled. */
static void modify_set(struct pw_ruleset *out, const struct pools *pl, int p4, int p6, int pport)
{
	char text[200];
	int n;

	rs_copy(out, &g_cur);
	for (int i = out->n - 1; i >= 0; i--) {
		int r = (int)rn(100);

		if (r < 20)
			rs_remove(out, i);
		else if (r < 30)
			out->r[i].action = out->r[i].action == DROP ? PASS : DROP;
	}
	for (int i = 0; i < out->n; i++)
		out->ids[i] = 0;
	n = 2 + (int)rn(30);
	for (int k = 0; k < n; k++) {
		int r = (int)rn(100);

		if (r < p4)
			gen_addr_rule(pl, 4, text, sizeof(text));
		else if (r < p4 + p6)
			gen_addr_rule(pl, 6, text, sizeof(text));
		else if (r < p4 + p6 + pport)
			gen_port_rule(pl, text, sizeof(text));
		else
			gen_proto_rule(pl, text, sizeof(text));
		rs_try_add(out, text);
	}
	/* order must not matter */
	for (int i = out->n - 1; i > 0; i--) {
		int j = (int)rn((uint32_t)i + 1);
		struct pw_rule t = out->r[i];

		out->r[i] = out->r[j];
		out->r[j] = t;
	}
}

#define DIFF_ROUNDS 24
#define DIFF_PKTS 1000

struct diff_round {
	char name[32];
	int round;
};

static struct diff_round diff_rounds[DIFF_ROUNDS];

static void test_differential(void **state)
{
	const struct diff_round *dr = *state;
	struct pools pl;
	struct pw_ruleset a, b, c;
	char label[64];
	int n, p4, p6, pport, policy, mode = dr->round % 4;

	rng_seed(g_seed ^ (0x1000u + (unsigned)dr->round) * 0x9e3779b97f4a7c15ull);
	print_message("%s: seed 0x%llx\n", dr->name, (unsigned long long)g_seed);
	gen_pools(&pl);
	g_short_pct = dr->round % 3 == 0 ? 10 : 1;
	switch (mode) {
	case 0: p4 = 60; p6 = 10; pport = 20; break;	/* v4 heavy */
	case 1: p4 = 10; p6 = 60; pport = 20; break;	/* v6 heavy */
	case 2: p4 = 30; p6 = 30; pport = 25; break;	/* mixed */
	default: p4 = 15; p6 = 15; pport = 50; break;	/* ports heavy */
	}
	n = dr->round == 0 ? 0 : dr->round == 1 ? 3 : 10 + (int)rn(110);
	rs_init(&a, n + 8);
	gen_rules(&a, &pl, n, p4, p6, pport);
	policy = chance(50) ? DENY : ALLOW;
	snprintf(label, sizeof(label), "%s/set A", dr->name);
	apply_verified(label, &a, policy);
	diff_packets(label, &pl, DIFF_PKTS, mode == 1 ? 25 : mode == 0 ? 75 : 50);

	/* B: a modified copy, into the other table set; C: modified again, into
	 * the table set A used (long-prefix entries of A must be gone) */
	modify_set(&b, &pl, p4, p6, pport);
	if (chance(30))
		policy ^= 1;
	snprintf(label, sizeof(label), "%s/set B", dr->name);
	apply_verified(label, &b, policy);
	diff_packets(label, &pl, DIFF_PKTS, mode == 1 ? 25 : mode == 0 ? 75 : 50);

	modify_set(&c, &pl, p4, p6, pport);
	if (chance(30))
		policy ^= 1;
	snprintf(label, sizeof(label), "%s/set C", dr->name);
	apply_verified(label, &c, policy);
	diff_packets(label, &pl, DIFF_PKTS, mode == 1 ? 25 : mode == 0 ? 75 : 50);

	/* the same set again: nothing to do, nothing moves */
	snprintf(label, sizeof(label), "%s/set C again", dr->name);
	apply_verified(label, &c, policy);
	diff_packets(label, &pl, DIFF_PKTS / 10, 50);
	pw_ruleset_free(&a);
	pw_ruleset_free(&b);
	pw_ruleset_free(&c);
}

/* ---- LPM semantics ------------------------------------------------------------ */

static void set_l4(struct pkt *p, int i)
{
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, -1 };
	int pr = protos[i % 3];

	p->proto = pr >= 0 ? pr : p->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	p->sport = (uint16_t)(1024 + i);
	p->dport = (uint16_t)(80 + i % 7);
	p->payload = 8;
}

/* A rule alone at each length: first/last/random inside match; the closest
 * outside addresses and the other family do not. */
static void lpm_each_length(int fam, int dir)
{
	int bits = abits(fam), bad = 0;

	rng_seed(g_seed ^ (uint64_t)(fam * 2 + dir) * 0x51ed27ull);
	for (int l = 0; l <= bits; l++) {
		struct pw_ruleset rs;
		uint8_t base[16], a[16];
		char s[INET6_ADDRSTRLEN], text[128], label[64];
		bool drop = l % 2 == 0;
		int pol = drop ? ALLOW : DENY;
		__u32 in = drop ? DROP : PASS, out = drop ? PASS : DROP;
		struct pkt p;

		rand_addr(base, fam);
		/* make the bits right at the boundary 1 then 0 .. so masking errors show */
		if (l > 0)
			setbit(base, l - 1, 1);
		if (l < bits)
			setbit(base, l, 1);
		fill_host(base, fam, l, 0);
		snprintf(text, sizeof(text), "%s %s %s/%d", drop ? "drop" : "pass",
			 dir == PW_SIDE_SRC ? "src" : "dst", astr(fam, base, s), l);
		snprintf(label, sizeof(label), "%s", text);
		rs_init(&rs, 2);
		rs_add(&rs, text);
		assert_int_equal(rs.r[0].len, l);
		apply_verified(label, &rs, pol);

		for (int k = 0; k < 9; k++) {
			bool inside = true, skip = false;

			memcpy(a, base, 16);
			switch (k) {
			case 0: fill_host(a, fam, l, 0); break;
			case 1: fill_host(a, fam, l, 1); break;
			case 2: case 3: fill_host(a, fam, l, 2); break;
			case 4:	/* the sibling prefix: differs in the last prefix bit */
				inside = false;
				skip = l == 0;
				if (!skip)
					setbit(a, l - 1, !getbit(a, l - 1));
				fill_host(a, fam, l, 2);
				break;
			case 5:	/* just below the first address */
				inside = false;
				skip = addr_dec(a, fam);
				break;
			case 6:	/* just above the last address */
				inside = false;
				fill_host(a, fam, l, 1);
				skip = addr_inc(a, fam);
				break;
			case 7:	/* sibling, first address */
				inside = false;
				skip = l == 0;
				if (!skip)
					setbit(a, l - 1, !getbit(a, l - 1));
				break;
			default: /* sibling, last address */
				inside = false;
				skip = l == 0;
				if (!skip)
					setbit(a, l - 1, !getbit(a, l - 1));
				fill_host(a, fam, l, 1);
				break;
			}
			if (skip)
				continue;
			memset(&p, 0, sizeof(p));
			p.family = fam;
			set_l4(&p, k + l);
			memcpy(dir == PW_SIDE_SRC ? p.src : p.dst, a, 16);
			/* the other address: the matching one of the other direction,
			 * which no rule covers */
			memcpy(dir == PW_SIDE_SRC ? p.dst : p.src, base, 16);
			bad += expect_pkt(label, &rs, &p, inside ? in : out, inside ? 0 : -1, false);
		}
		/* the other family: never matched */
		memset(&p, 0, sizeof(p));
		p.family = fam == 4 ? 6 : 4;
		rand_addr(p.src, p.family);
		rand_addr(p.dst, p.family);
		if (fam == 6)	/* an IPv4 address equal to the rule's first 32 bits */
			memcpy(dir == PW_SIDE_SRC ? p.src : p.dst, base, 4);
		set_l4(&p, l);
		bad += expect_pkt(label, &rs, &p, out, -1, false);
		pw_ruleset_free(&rs);
		if (bad) {
			print_error("seed 0x%llx\n", (unsigned long long)g_seed);
			fail();
		}
	}
}

static void test_lpm_v4_each_length_src(void **s) { (void)s; lpm_each_length(4, PW_SIDE_SRC); }
static void test_lpm_v4_each_length_dst(void **s) { (void)s; lpm_each_length(4, PW_SIDE_DST); }
static void test_lpm_v6_each_length_src(void **s) { (void)s; lpm_each_length(6, PW_SIDE_SRC); }
static void test_lpm_v6_each_length_dst(void **s) { (void)s; lpm_each_length(6, PW_SIDE_DST); }

/*
 * Nested prefixes of the same address at the given lengths, alternating
 * drop/pass. A packet sharing exactly L leading bits with the address is
 * decided by the longest listed length <= L.
 */
static void lpm_nested(int fam, int dir, const int *lens, int nl, const char *label)
{
	struct pw_ruleset rs;
	uint8_t base[16];
	char s[INET6_ADDRSTRLEN], text[128];
	int bits = abits(fam), bad = 0;
	struct pkt p;

	rng_seed(g_seed ^ (uint64_t)(fam * 131 + dir * 7 + nl) * 0x2545f491ull);
	rand_addr(base, fam);
	rs_init(&rs, nl + 1);
	for (int i = 0; i < nl; i++) {
		uint8_t a[16];

		memcpy(a, base, 16);
		fill_host(a, fam, lens[i], 0);
		snprintf(text, sizeof(text), "%s %s %s/%d", i % 2 ? "pass" : "drop",
			 dir == PW_SIDE_SRC ? "src" : "dst", astr(fam, a, s), lens[i]);
		rs_add(&rs, text);
	}
	/* reversed order in the set: the table compiler must sort */
	for (int i = 0; i < rs.n / 2; i++) {
		struct pw_rule t = rs.r[i];

		rs.r[i] = rs.r[rs.n - 1 - i];
		rs.r[rs.n - 1 - i] = t;
	}
	apply_verified(label, &rs, DENY);
	for (int shared = 0; shared <= bits; shared++) {
		int best = -1;
		__u32 v = DROP;

		memset(&p, 0, sizeof(p));
		p.family = fam;
		memcpy(p.src, base, 16);
		if (shared < bits)
			setbit(p.src, shared, !getbit(p.src, shared));
		fill_host(p.src, fam, shared + 1, 2);
		for (int i = 0; i < nl; i++)
			if (lens[i] <= shared && (best < 0 || lens[i] > lens[best]))
				best = i;
		if (best >= 0)
			v = best % 2 ? PASS : DROP;
		if (dir == PW_SIDE_DST) {
			memcpy(p.dst, p.src, 16);
			rand_addr(p.src, fam);
			/* the src must not match a (dst) rule: nothing to avoid */
		} else {
			rand_addr(p.dst, fam);
		}
		set_l4(&p, shared);
		bad += expect_pkt(label, &rs, &p, v, best < 0 ? -1 : rs.n - 1 - best, false);
		if (bad > 10)
			break;
	}
	/* the address in the other direction matches nothing */
	memset(&p, 0, sizeof(p));
	p.family = fam;
	memcpy(dir == PW_SIDE_SRC ? p.dst : p.src, base, 16);
	rand_addr(dir == PW_SIDE_SRC ? p.src : p.dst, fam);
	/* ... and this direction's address is outside the shortest prefix (lens[0] > 0) */
	if (lens[0] > 0) {
		uint8_t *o = dir == PW_SIDE_SRC ? p.src : p.dst;

		memcpy(o, base, 16);
		setbit(o, 0, !getbit(o, 0));
		set_l4(&p, 1);
		bad += expect_pkt(label, &rs, &p, DROP, -1, false);
	}
	pw_ruleset_free(&rs);
	if (bad) {
		print_error("seed 0x%llx\n", (unsigned long long)g_seed);
		fail();
	}
}

static void lpm_nested_all(int fam, int dir)
{
	int lens[129], n = abits(fam) + 1;
	char label[64];

	for (int i = 0; i < n; i++)
		lens[i] = i;
	snprintf(label, sizeof(label), "nested v%d %s /0../%d", fam, dir ? "dst" : "src", n - 1);
	lpm_nested(fam, dir, lens, n, label);
}

static void test_lpm_v4_nested_all_src(void **s) { (void)s; lpm_nested_all(4, PW_SIDE_SRC); }
static void test_lpm_v4_nested_all_dst(void **s) { (void)s; lpm_nested_all(4, PW_SIDE_DST); }
static void test_lpm_v6_nested_all_src(void **s) { (void)s; lpm_nested_all(6, PW_SIDE_SRC); }
static void test_lpm_v6_nested_all_dst(void **s) { (void)s; lpm_nested_all(6, PW_SIDE_DST); }

static void test_lpm_v4_nested_8_16_24_32(void **s)
{
	static const int l[] = { 8, 16, 24, 32 };

	(void)s;
	lpm_nested(4, PW_SIDE_SRC, l, 4, "nested v4 src /8 /16 /24 /32");
	lpm_nested(4, PW_SIDE_DST, l, 4, "nested v4 dst /8 /16 /24 /32");
}

static void test_lpm_v4_nested_around_chunk(void **s)
{
	static const int l[] = { 1, 15, 16, 17, 18, 31 };

	(void)s;
	lpm_nested(4, PW_SIDE_SRC, l, 6, "nested v4 src /1 /15 /16 /17 /18 /31");
	lpm_nested(4, PW_SIDE_DST, l, 6, "nested v4 dst /1 /15 /16 /17 /18 /31");
}

static void test_lpm_v6_nested_sparse(void **s)
{
	static const int l[] = { 16, 32, 48, 64, 80, 81, 96, 112, 127, 128 };
	static const int l2[] = { 3, 17, 79, 80, 81, 82, 120 };

	(void)s;
	lpm_nested(6, PW_SIDE_SRC, l, 10, "nested v6 src /16../128");
	lpm_nested(6, PW_SIDE_DST, l, 10, "nested v6 dst /16../128");
	lpm_nested(6, PW_SIDE_SRC, l2, 7, "nested v6 src /3 /17 /79-/82 /120");
}

struct fixed_pkt {
	const char *what;
	int family;
	const char *src, *dst;
	int proto;
	uint16_t sport, dport;
	int frag, ext, vlan, raw;
	__u32 verdict;
	int rule;		/* index in rules[], -1: none */
	uint32_t fid;		/* fragment id shared by a first and later fragments */
	bool tracked;		/* a later fragment: the verdict is its first fragment's */
};

struct fixed_case {
	const char *name;
	const char *rules[10];
	int policy;
	struct fixed_pkt pkts[16];
};

static void run_fixed(const struct fixed_case *c)
{
	struct pw_ruleset rs;
	int bad = 0;

	rs_init(&rs, 10);
	for (int i = 0; i < 10 && c->rules[i]; i++)
		rs_add(&rs, c->rules[i]);
	apply_verified(c->name, &rs, c->policy);
	for (int i = 0; i < 16 && c->pkts[i].what; i++) {
		const struct fixed_pkt *f = &c->pkts[i];
		struct pkt p = { 0 };
		char label[160];

		p.family = f->family ? f->family : 4;
		parse_addr(p.family, f->src ? f->src : p.family == 4 ? "192.0.2.1" : "2001:db8::1", p.src);
		parse_addr(p.family, f->dst ? f->dst : p.family == 4 ? "198.51.100.1" : "2001:db8::2", p.dst);
		p.proto = f->proto;
		p.sport = f->sport;
		p.dport = f->dport;
		p.frag = f->frag;
		p.ext = f->ext;
		p.vlan = f->vlan;
		p.raw = f->raw;
		p.frag_id = f->fid;
		p.payload = 24;
		snprintf(label, sizeof(label), "%s: %s", c->name, f->what);
		bad += expect_pkt(label, &rs, &p, f->verdict, f->rule, f->tracked);
	}
	if (bad) {
		rs_dump(c->name, &rs);
		fail();
	}
	pw_ruleset_free(&rs);
}

#define TCP_ IPPROTO_TCP
#define UDP_ IPPROTO_UDP
#define ICMP_ IPPROTO_ICMP
#define ICMP6_ IPPROTO_ICMPV6

static const struct fixed_case lpm_cases[] = {
	{ "lpm_v4_zero_is_v4_only", { "drop src 0.0.0.0/0" }, ALLOW, {
		{ "v4 any", 4, "203.0.113.9", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v4 0.0.0.0", 4, "0.0.0.0", NULL, UDP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v4 255.255.255.255", 4, "255.255.255.255", NULL, ICMP_, .verdict = DROP, .rule = 0 },
		{ "v6 ::", 6, "::", NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "v6 ::ffff:203.0.113.9", 6, "::ffff:203.0.113.9", NULL, UDP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "v6 2001:db8::1", 6, "2001:db8::1", NULL, ICMP6_, .verdict = PASS, .rule = -1 },
	} },
	{ "lpm_v6_zero_is_v6_only", { "drop dst ::/0" }, ALLOW, {
		{ "v6 any", 6, NULL, "2001:db8::99", TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v6 ::", 6, NULL, "::", UDP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v6 ffff::ffff", 6, NULL, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ICMP6_, .verdict = DROP, .rule = 0 },
		{ "v4 0.0.0.0", 4, NULL, "0.0.0.0", TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "v4 any", 4, NULL, "198.51.100.7", UDP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "lpm_zero_both_families", { "pass src 0.0.0.0/0", "drop src ::/0", "pass dst ::/0" }, DENY, {
		{ "v4", 4, NULL, NULL, TCP_, 1, 2, .verdict = PASS, .rule = 0 },
		{ "v6: src /0 beats dst /0", 6, NULL, NULL, TCP_, 1, 2, .verdict = DROP, .rule = 1 },
	} },
	{ "lpm_host_routes", { "drop src 192.0.2.7", "pass src 192.0.2.0/24", "drop dst 2001:db8::7",
			       "pass dst 2001:db8::/64" }, DENY, {
		{ "v4 the host", 4, "192.0.2.7", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v4 host - 1", 4, "192.0.2.6", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "v4 host + 1", 4, "192.0.2.8", NULL, UDP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "v4 outside /24", 4, "192.0.3.7", NULL, UDP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "v4 host as dst", 4, "198.51.100.1", "192.0.2.7", UDP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "v6 the host", 6, "2001:db9::1", "2001:db8::7", TCP_, 1, 2, .verdict = DROP, .rule = 2 },
		{ "v6 host - 1", 6, "2001:db9::1", "2001:db8::6", TCP_, 1, 2, .verdict = PASS, .rule = 3 },
		{ "v6 host + 1", 6, "2001:db9::1", "2001:db8::8", ICMP6_, .verdict = PASS, .rule = 3 },
		{ "v6 host in high bits", 6, "2001:db9::1", "2001:db8::7:0:0:0", ICMP6_, .verdict = PASS, .rule = 3 },
		{ "v6 outside /64", 6, "2001:db9::1", "2001:db8:0:1::7", UDP_, 1, 2, .verdict = DROP, .rule = -1 },
	} },
	{ "lpm_chunk_straddle", { "drop src 10.0.0.0/15", "pass src 10.1.0.0/17", "pass src 10.0.200.0/24" }, ALLOW, {
		{ "in /17", 4, "10.1.0.5", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "same chunk, not /17", 4, "10.1.128.1", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "first chunk of /15, in /24", 4, "10.0.200.1", NULL, UDP_, 1, 2, .verdict = PASS, .rule = 2 },
		{ "first chunk of /15, not /24", 4, "10.0.201.1", NULL, UDP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "outside /15", 4, "10.2.0.0", NULL, UDP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "below /15", 4, "9.255.255.255", NULL, UDP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "lpm_same_chunk_disjoint_long", { "drop src 10.1.2.0/24", "pass src 10.1.3.128/25",
					    "drop dst 10.1.3.0/26" }, ALLOW, {
		{ "in /24", 4, "10.1.2.9", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "in /25", 4, "10.1.3.200", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "chunk hit, no prefix: falls to dst", 4, "10.1.3.5", "10.1.3.5", TCP_, 1, 2, .verdict = DROP, .rule = 2 },
		{ "chunk hit, no prefix anywhere", 4, "10.1.3.5", "10.1.3.64", TCP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "lpm_v6_same_chunk_many_lengths", { "drop src 2001:db8::/32", "pass src 2001:db8:1::/48",
		"drop src 2001:db8:1:2::/64", "pass src 2001:db8:1:2:3::/80", "drop src 2001:db8:1:2:3:4::/96",
		"pass src 2001:db8:1:2:3:4:5::/112", "drop src 2001:db8:1:2:3:4:5:6/128",
		"pass src 2001:db8:ffff::/48" }, DENY, {
		{ "/128", 6, "2001:db8:1:2:3:4:5:6", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 6 },
		{ "/112", 6, "2001:db8:1:2:3:4:5:7", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 5 },
		{ "/96", 6, "2001:db8:1:2:3:4:6:6", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 4 },
		{ "/80", 6, "2001:db8:1:2:3:5::", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 3 },
		{ "/64", 6, "2001:db8:1:2:4::", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 2 },
		{ "/48", 6, "2001:db8:1:3::", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "/32", 6, "2001:db8:2::", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "other /48", 6, "2001:db8:ffff:1::", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 7 },
		{ "none", 6, "2001:db9::", NULL, TCP_, 1, 2, .verdict = DROP, .rule = -1 },
	} },
};

static const struct fixed_case prec_cases[] = {
	{ "prec_src_beats_dst", { "pass src 10.0.0.0/8", "drop dst 10.2.3.4" }, DENY, {
		{ "both match", 4, "10.1.1.1", "10.2.3.4", TCP_, 1000, 80, .verdict = PASS, .rule = 0 },
		{ "dst only", 4, "192.168.1.1", "10.2.3.4", TCP_, 1000, 80, .verdict = DROP, .rule = 1 },
		{ "neither", 4, "192.168.1.1", "10.2.3.5", TCP_, 1000, 80, .verdict = DROP, .rule = -1 },
	} },
	{ "prec_src_beats_dst_v6", { "drop src 2001:db8::/32", "pass dst 2001:db8:1::1" }, ALLOW, {
		{ "both match", 6, "2001:db8::5", "2001:db8:1::1", UDP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "dst only", 6, "2001:db9::5", "2001:db8:1::1", UDP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "neither", 6, "2001:db9::5", "2001:db8:1::2", UDP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_dst_beats_dport", { "drop dst 10.2.0.0/16", "pass dport 80" }, ALLOW, {
		{ "both, tcp", 4, "10.1.1.1", "10.2.3.4", TCP_, 1000, 80, .verdict = DROP, .rule = 0 },
		{ "both, udp", 4, "10.1.1.1", "10.2.3.4", UDP_, 1000, 80, .verdict = DROP, .rule = 0 },
		{ "dport only", 4, "10.1.1.1", "10.3.3.4", TCP_, 1000, 80, .verdict = PASS, .rule = 1 },
	} },
	{ "prec_dport_beats_sport", { "pass dport 443", "drop sport 1000", "pass sport 0-65535" }, ALLOW, {
		{ "both", 4, NULL, NULL, TCP_, 1000, 443, .verdict = PASS, .rule = 0 },
		{ "sport only", 4, NULL, NULL, TCP_, 1000, 80, .verdict = DROP, .rule = 1 },
		{ "neither narrow", 4, NULL, NULL, UDP_, 2000, 80, .verdict = PASS, .rule = 2 },
		{ "v6 both", 6, NULL, NULL, UDP_, 1000, 443, .verdict = PASS, .rule = 0 },
	} },
	{ "prec_dport_any_beats_exact_sport", { "pass dport 0-65535", "drop sport 1000" }, DENY, {
		{ "tcp", 4, NULL, NULL, TCP_, 1000, 80, .verdict = PASS, .rule = 0 },
		{ "icmp: no ports", 4, NULL, NULL, ICMP_, .verdict = DROP, .rule = -1 },
	} },
	{ "prec_sport_beats_proto", { "drop sport 1000", "pass proto tcp" }, DENY, {
		{ "both", 4, NULL, NULL, TCP_, 1000, 80, .verdict = DROP, .rule = 0 },
		{ "proto only", 4, NULL, NULL, TCP_, 1001, 80, .verdict = PASS, .rule = 1 },
		{ "sport only (udp)", 4, NULL, NULL, UDP_, 1000, 80, .verdict = DROP, .rule = 0 },
		{ "neither", 4, NULL, NULL, UDP_, 1001, 80, .verdict = DROP, .rule = -1 },
		{ "v6 both", 6, NULL, NULL, TCP_, 1000, 80, .verdict = DROP, .rule = 0 },
	} },
	{ "prec_proto_beats_policy", { "pass proto udp", "pass proto icmp", "pass proto 47", "pass proto icmpv6" }, DENY, {
		{ "udp", 4, NULL, NULL, UDP_, 1, 2, .verdict = PASS, .rule = 0 },
		{ "icmp", 4, NULL, NULL, ICMP_, .verdict = PASS, .rule = 1 },
		{ "gre", 4, NULL, NULL, 47, .verdict = PASS, .rule = 2 },
		{ "v6 gre", 6, NULL, NULL, 47, .verdict = PASS, .rule = 2 },
		{ "v6 icmpv6", 6, NULL, NULL, ICMP6_, .verdict = PASS, .rule = 3 },
		{ "tcp: policy", 4, NULL, NULL, TCP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "v6 sctp: policy", 6, NULL, NULL, 132, .verdict = DROP, .rule = -1 },
	} },
	{ "prec_policy_deny_no_rules", { NULL }, DENY, {
		{ "v4 tcp", 4, NULL, NULL, TCP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "v6 udp", 6, NULL, NULL, UDP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "v4 icmp vlan", 4, NULL, NULL, ICMP_, .vlan = 1, .verdict = DROP, .rule = -1 },
	} },
	{ "prec_policy_allow_no_rules", { NULL }, ALLOW, {
		{ "v4 tcp", 4, NULL, NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "v6 udp", 6, NULL, NULL, UDP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_narrowest_dport", { "drop dport 1-1000", "pass dport 80-90", "drop dport 85",
				    "pass dport 0-65535" }, DENY, {
		{ "85", 4, NULL, NULL, TCP_, 7, 85, .verdict = DROP, .rule = 2 },
		{ "80", 4, NULL, NULL, TCP_, 7, 80, .verdict = PASS, .rule = 1 },
		{ "90", 4, NULL, NULL, UDP_, 7, 90, .verdict = PASS, .rule = 1 },
		{ "79", 4, NULL, NULL, UDP_, 7, 79, .verdict = DROP, .rule = 0 },
		{ "91", 6, NULL, NULL, TCP_, 7, 91, .verdict = DROP, .rule = 0 },
		{ "1", 4, NULL, NULL, TCP_, 7, 1, .verdict = DROP, .rule = 0 },
		{ "1000", 4, NULL, NULL, TCP_, 7, 1000, .verdict = DROP, .rule = 0 },
		{ "1001", 4, NULL, NULL, TCP_, 7, 1001, .verdict = PASS, .rule = 3 },
		{ "0", 4, NULL, NULL, UDP_, 7, 0, .verdict = PASS, .rule = 3 },
		{ "65535", 6, NULL, NULL, UDP_, 7, 65535, .verdict = PASS, .rule = 3 },
	} },
	{ "prec_narrowest_sport", { "pass sport 50000-60000", "drop sport 55000-55999", "pass sport 55555" }, ALLOW, {
		{ "55555", 4, NULL, NULL, UDP_, 55555, 9, .verdict = PASS, .rule = 2 },
		{ "55554", 4, NULL, NULL, UDP_, 55554, 9, .verdict = DROP, .rule = 1 },
		{ "55000", 6, NULL, NULL, TCP_, 55000, 9, .verdict = DROP, .rule = 1 },
		{ "54999", 4, NULL, NULL, TCP_, 54999, 9, .verdict = PASS, .rule = 0 },
		{ "60001", 4, NULL, NULL, TCP_, 60001, 9, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_tcp_dport80_vs_dport80", { "pass proto tcp dport 80", "drop dport 80" }, ALLOW, {
		{ "tcp 80", 4, NULL, NULL, TCP_, 1234, 80, .verdict = PASS, .rule = 0 },
		{ "udp 80", 4, NULL, NULL, UDP_, 1234, 80, .verdict = DROP, .rule = 1 },
		{ "v6 tcp 80", 6, NULL, NULL, TCP_, 1234, 80, .verdict = PASS, .rule = 0 },
		{ "v6 udp 80", 6, NULL, NULL, UDP_, 1234, 80, .verdict = DROP, .rule = 1 },
		{ "tcp 81", 4, NULL, NULL, TCP_, 1234, 81, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_dport80_vs_tcp_dport80_reversed", { "drop dport 80", "pass proto tcp dport 80" }, ALLOW, {
		{ "tcp 80", 4, NULL, NULL, TCP_, 1234, 80, .verdict = PASS, .rule = 1 },
		{ "udp 80", 4, NULL, NULL, UDP_, 1234, 80, .verdict = DROP, .rule = 0 },
	} },
	{ "prec_udp_sport53_vs_sport53", { "pass sport 53", "drop proto udp sport 53" }, DENY, {
		{ "udp 53", 4, NULL, NULL, UDP_, 53, 1234, .verdict = DROP, .rule = 1 },
		{ "tcp 53", 4, NULL, NULL, TCP_, 53, 1234, .verdict = PASS, .rule = 0 },
	} },
	{ "prec_narrow_generic_beats_wide_specific", { "pass proto tcp dport 0-1023", "drop dport 80",
						       "drop proto udp dport 0-1023" }, ALLOW, {
		{ "tcp 80", 4, NULL, NULL, TCP_, 5000, 80, .verdict = DROP, .rule = 1 },
		{ "tcp 22", 4, NULL, NULL, TCP_, 5000, 22, .verdict = PASS, .rule = 0 },
		{ "udp 22", 4, NULL, NULL, UDP_, 5000, 22, .verdict = DROP, .rule = 2 },
		{ "udp 80", 4, NULL, NULL, UDP_, 5000, 80, .verdict = DROP, .rule = 1 },
		{ "tcp 1024", 4, NULL, NULL, TCP_, 5000, 1024, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_port_rules_only_tcp_udp", { "drop dport 0-65535", "drop sport 0-65535" }, ALLOW, {
		{ "icmp", 4, NULL, NULL, ICMP_, .verdict = PASS, .rule = -1 },
		{ "icmpv6", 6, NULL, NULL, ICMP6_, .verdict = PASS, .rule = -1 },
		{ "gre", 4, NULL, NULL, 47, .verdict = PASS, .rule = -1 },
		{ "sctp", 6, NULL, NULL, 132, .verdict = PASS, .rule = -1 },
		{ "udplite", 4, NULL, NULL, 136, .verdict = PASS, .rule = -1 },
		{ "tcp", 4, NULL, NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
	} },
	{ "prec_proto_icmp_by_family", { "drop proto icmp" }, ALLOW, {
		{ "v4 icmp", 4, NULL, NULL, ICMP_, .verdict = DROP, .rule = 0 },
		{ "v6 icmpv6", 6, NULL, NULL, ICMP6_, .verdict = PASS, .rule = -1 },
		/* protocol 1 is not ICMP in IPv6: the rule does not match it */
		{ "v6 proto 1", 6, NULL, NULL, ICMP_, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_proto_icmpv6_by_family", { "drop proto icmpv6" }, ALLOW, {
		{ "v6 icmpv6", 6, NULL, NULL, ICMP6_, .verdict = DROP, .rule = 0 },
		{ "v4 proto 58", 4, NULL, NULL, ICMP6_, .verdict = PASS, .rule = -1 },
		{ "v4 icmp", 4, NULL, NULL, ICMP_, .verdict = PASS, .rule = -1 },
	} },
	{ "prec_proto_ipv6_ext_headers", { "drop proto udp", "pass dport 53" }, DENY, {
		{ "udp 53 behind 2 ext", 6, NULL, NULL, UDP_, 9, 53, .ext = 2, .verdict = PASS, .rule = 1 },
		{ "udp 54 behind 3 ext", 6, NULL, NULL, UDP_, 9, 54, .ext = 3, .verdict = DROP, .rule = 0 },
		{ "tcp 53 behind 1 ext", 6, NULL, NULL, TCP_, 9, 53, .ext = 1, .verdict = PASS, .rule = 1 },
		{ "tcp 54 behind 1 ext", 6, NULL, NULL, TCP_, 9, 54, .ext = 1, .verdict = DROP, .rule = -1 },
		{ "udp 53 first fragment", 6, NULL, NULL, UDP_, 9, 53, .frag = 1, .verdict = PASS, .rule = 1 },
	} },
	{ "prec_vlan_tagged", { "drop src 10.0.0.0/8", "drop dst 2001:db8::/32" }, ALLOW, {
		{ "1 tag", 4, "10.1.1.1", NULL, TCP_, 1, 2, .vlan = 1, .verdict = DROP, .rule = 0 },
		{ "2 tags", 4, "10.1.1.1", NULL, UDP_, 1, 2, .vlan = 2, .verdict = DROP, .rule = 0 },
		{ "1 tag, no match", 4, "11.1.1.1", NULL, TCP_, 1, 2, .vlan = 1, .verdict = PASS, .rule = -1 },
		{ "v6 2 tags", 6, NULL, "2001:db8::5", UDP_, 1, 2, .vlan = 2, .verdict = DROP, .rule = 1 },
	} },
	{ "nonip_arp_ignores_rules_and_deny", { "drop src 0.0.0.0/0", "drop dst 0.0.0.0/0", "drop src ::/0",
						"drop proto 0", "drop dport 0-65535" }, DENY, {
		{ "ARP", .raw = RAW_ARP, .verdict = PASS, .rule = -1 },
		/* beyond the parser's bounds: dropped whatever the policy */
		{ "three VLAN tags", .raw = RAW_VLAN3, .sport = 1, .dport = 2, .verdict = DROP, .rule = -1 },
		{ "control: v4 tcp", 4, NULL, NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
	} },
	{ "nonip_arp_passes_allow", { "drop src 0.0.0.0/0" }, ALLOW, {
		{ "ARP", .raw = RAW_ARP, .verdict = PASS, .rule = -1 },
		{ "three VLAN tags", .raw = RAW_VLAN3, .sport = 1, .dport = 2, .verdict = DROP, .rule = -1 },
	} },
	/* malformed frames are dropped before any rule: no rule counter moves */
	{ "malformed_dropped_before_rules", { "drop src 0.0.0.0/0", "drop dst 0.0.0.0/0", "drop src ::/0",
						"drop proto tcp", "drop proto udp", "drop dport 0-65535" }, DENY, {
		{ "v4 tcp header cut", 4, NULL, NULL, TCP_, 1, 2, .raw = RAW_V4_TRUNC_TCP, .verdict = DROP, .rule = -1 },
		{ "v4 udp header cut", 4, NULL, NULL, UDP_, 1, 2, .raw = RAW_V4_TRUNC_UDP, .verdict = DROP, .rule = -1 },
		{ "v4 icmp header cut", 4, NULL, NULL, ICMP_, .raw = RAW_V4_TRUNC_ICMP, .verdict = DROP, .rule = -1 },
		{ "v4 ihl 4", 4, NULL, NULL, TCP_, 1, 2, .raw = RAW_V4_IHL4, .verdict = DROP, .rule = -1 },
		{ "v4 tot_len < ihl", 4, NULL, NULL, UDP_, 1, 2, .raw = RAW_V4_TOTLEN, .verdict = DROP, .rule = -1 },
		{ "v4 tcp doff 4", 4, NULL, NULL, TCP_, 1, 2, .raw = RAW_V4_DOFF4, .verdict = DROP, .rule = -1 },
		{ "v6 header cut", 6, NULL, NULL, UDP_, 1, 2, .raw = RAW_V6_TRUNC, .verdict = DROP, .rule = -1 },
		{ "v6 ext header cut", 6, NULL, NULL, UDP_, 1, 2, .raw = RAW_V6_EXT_TRUNC, .verdict = DROP, .rule = -1 },
		{ "v6 version 4", 6, NULL, NULL, UDP_, 1, 2, .raw = RAW_V6_VERSION, .verdict = DROP, .rule = -1 },
		{ "vlan tag cut", .raw = RAW_VLAN_TRUNC, .verdict = DROP, .rule = -1 },
		{ "control: v6 udp", 6, NULL, NULL, UDP_, 1, 2, .verdict = DROP, .rule = 2 },
	} },
	/* a later fragment without its first: addresses, then the policy */
	{ "frag_v4_nonfirst_no_ports", { "drop dport 80", "drop sport 1000", "pass proto tcp",
					 "drop proto udp", "pass src 203.0.113.0/24" }, DENY, {
		{ "tcp non-first", 4, NULL, NULL, TCP_, 1000, 80, .frag = 2, .verdict = DROP, .rule = -1 },
		{ "tcp non-first MF", 4, NULL, NULL, TCP_, 1000, 81, .frag = 2, .verdict = DROP, .rule = -1 },
		{ "udp non-first", 4, NULL, NULL, UDP_, 1000, 80, .frag = 2, .verdict = DROP, .rule = -1 },
		{ "non-first from a passed source", 4, "203.0.113.9", NULL, UDP_, 1000, 80, .frag = 2,
		  .verdict = PASS, .rule = 4 },
		{ "tcp first fragment, dport", 4, NULL, NULL, TCP_, 1000, 80, .frag = 1, .verdict = DROP, .rule = 0 },
		{ "tcp first fragment, sport", 4, NULL, NULL, TCP_, 1000, 81, .frag = 1, .verdict = DROP, .rule = 1 },
		{ "tcp first fragment, proto", 4, NULL, NULL, TCP_, 999, 81, .frag = 1, .verdict = PASS, .rule = 2 },
	} },
	{ "frag_v4_nonfirst_policy", { "drop dport 80", "drop sport 0-65535" }, ALLOW, {
		{ "tcp non-first", 4, NULL, NULL, TCP_, 1000, 80, .frag = 2, .verdict = PASS, .rule = -1 },
		{ "udp non-first", 4, NULL, NULL, UDP_, 1000, 80, .frag = 2, .verdict = PASS, .rule = -1 },
		{ "control: tcp unfragmented", 4, NULL, NULL, TCP_, 1000, 80, .verdict = DROP, .rule = 0 },
	} },
	{ "frag_v6_nonfirst_no_ports", { "drop dport 80", "drop sport 1000", "pass proto tcp",
					 "drop proto udp" }, DENY, {
		{ "tcp non-first", 6, NULL, NULL, TCP_, 1000, 80, .frag = 2, .verdict = DROP, .rule = -1 },
		{ "udp non-first", 6, NULL, NULL, UDP_, 1000, 80, .frag = 2, .verdict = DROP, .rule = -1 },
		{ "tcp non-first behind ext", 6, NULL, NULL, TCP_, 1000, 80, .frag = 2, .ext = 2, .verdict = DROP, .rule = -1 },
		{ "tcp first fragment", 6, NULL, NULL, TCP_, 1000, 80, .frag = 1, .verdict = DROP, .rule = 0 },
		{ "udp first fragment, sport", 6, NULL, NULL, UDP_, 1000, 81, .frag = 1, .verdict = DROP, .rule = 1 },
	} },
	/* a later fragment gets its first fragment's verdict, whatever it claims */
	{ "frag_later_tracked", { "pass proto icmpv6", "pass proto icmp", "drop dport 22" }, DENY, {
		{ "v6 first: icmpv6", 6, NULL, NULL, ICMP6_, .frag = 1, .fid = 7001, .verdict = PASS, .rule = 0 },
		{ "v6 later of it", 6, NULL, NULL, TCP_, 1, 22, .frag = 2, .fid = 7001, .verdict = PASS,
		  .rule = -1, .tracked = true },
		{ "v6 first: tcp 80", 6, NULL, NULL, TCP_, 1, 80, .frag = 1, .fid = 7002, .verdict = DROP, .rule = -1 },
		{ "v6 later claims icmpv6", 6, NULL, NULL, ICMP6_, .frag = 2, .fid = 7002, .verdict = DROP,
		  .rule = -1, .tracked = true },
		{ "v6 later, unknown first", 6, NULL, NULL, ICMP6_, .frag = 2, .fid = 7003, .verdict = DROP, .rule = -1 },
		{ "v4 first: icmp", 4, NULL, NULL, ICMP_, .frag = 1, .fid = 7004, .verdict = PASS, .rule = 1 },
		{ "v4 later of it", 4, NULL, NULL, ICMP_, .frag = 2, .fid = 7004, .verdict = PASS,
		  .rule = -1, .tracked = true },
		{ "v4 later, other proto: another datagram", 4, NULL, NULL, TCP_, 1, 22, .frag = 2, .fid = 7004,
		  .verdict = DROP, .rule = -1 },
	} },
};

static void test_fixed(void **state)
{
	run_fixed(*state);
}

/*
 * Double buffering: sets 1, 3 and 5 land in the same table set. Whatever
 * set 1 put there (long prefixes in the hash, chunk entries, ports,
 * protocols) must be gone when set 3 is in force; the rule kept through
 * all steps keeps its id and counter (apply_verified); a policy-only change
 * flips the table set too.
 */
static const struct fixed_case stale_steps[] = {
	{ "stale/1", { "drop src 10.1.2.0/24", "drop dst 2001:db8:1:2::/64", "drop dport 80", "drop proto gre",
		       "pass src 10.9.0.0/16", "drop sport 7000-7999", "drop src 10.1.2.128/25",
		       "drop dst 2001:db8:1:2:3::/80" }, ALLOW, {
		{ "v4 /24", 4, "10.1.2.5", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "v4 /25", 4, "10.1.2.200", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 6 },
		{ "v6 /64", 6, NULL, "2001:db8:1:2::5", UDP_, 1, 2, .verdict = DROP, .rule = 1 },
		{ "v6 /80", 6, NULL, "2001:db8:1:2:3::5", UDP_, 1, 2, .verdict = DROP, .rule = 7 },
		{ "dport 80", 4, NULL, NULL, TCP_, 1, 80, .verdict = DROP, .rule = 2 },
		{ "gre", 6, NULL, NULL, 47, .verdict = DROP, .rule = 3 },
		{ "sport 7500", 4, NULL, NULL, UDP_, 7500, 2, .verdict = DROP, .rule = 5 },
		{ "kept /16", 4, "10.9.1.1", NULL, UDP_, 7500, 80, .verdict = PASS, .rule = 4 },
	} },
	{ "stale/2", { "pass src 10.9.0.0/16", "drop src 10.1.0.0/16" }, ALLOW, {
		{ "v4 /16", 4, "10.1.2.5", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 1 },
		{ "kept /16", 4, "10.9.1.1", NULL, TCP_, 1, 80, .verdict = PASS, .rule = 0 },
		{ "dport 80", 4, NULL, NULL, TCP_, 1, 80, .verdict = PASS, .rule = -1 },
	} },
	{ "stale/3", { "drop src 10.1.3.0/24", "drop dst 2001:db8:1:3::/64", "drop dport 81",
		       "pass src 10.9.0.0/16", "drop src 10.1.3.0/25", "drop dst 2001:db8:1:2:4::/80" }, ALLOW, {
		{ "old v4 /24", 4, "10.1.2.5", NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "old v4 /25", 4, "10.1.2.200", NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "new v4 /24", 4, "10.1.3.200", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "new v4 /25", 4, "10.1.3.5", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 4 },
		{ "old v6 /64", 6, NULL, "2001:db8:1:2::5", UDP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "old v6 /80", 6, NULL, "2001:db8:1:2:3::5", UDP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "new v6 /80", 6, NULL, "2001:db8:1:2:4::5", UDP_, 1, 2, .verdict = DROP, .rule = 5 },
		{ "new v6 /64", 6, NULL, "2001:db8:1:3::5", UDP_, 1, 2, .verdict = DROP, .rule = 1 },
		{ "old dport 80", 4, NULL, NULL, TCP_, 1, 80, .verdict = PASS, .rule = -1 },
		{ "new dport 81", 4, NULL, NULL, TCP_, 1, 81, .verdict = DROP, .rule = 2 },
		{ "old gre", 6, NULL, NULL, 47, .verdict = PASS, .rule = -1 },
		{ "old sport 7500", 4, NULL, NULL, UDP_, 7500, 2, .verdict = PASS, .rule = -1 },
		{ "kept /16", 4, "10.9.1.1", NULL, UDP_, 7500, 80, .verdict = PASS, .rule = 3 },
	} },
	{ "stale/4 policy only", { "drop src 10.1.3.0/24", "drop dst 2001:db8:1:3::/64", "drop dport 81",
				   "pass src 10.9.0.0/16", "drop src 10.1.3.0/25", "drop dst 2001:db8:1:2:4::/80" }, DENY, {
		{ "old v4 /24", 4, "10.1.2.5", NULL, TCP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "new v4 /24", 4, "10.1.3.200", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "old dport 80", 6, NULL, NULL, TCP_, 1, 80, .verdict = DROP, .rule = -1 },
		{ "kept /16", 4, "10.9.1.1", NULL, UDP_, 7500, 80, .verdict = PASS, .rule = 3 },
	} },
	{ "stale/5 = 1 again", { "drop src 10.1.2.0/24", "drop dst 2001:db8:1:2::/64", "drop dport 80", "drop proto gre",
		       "pass src 10.9.0.0/16", "drop sport 7000-7999", "drop src 10.1.2.128/25",
		       "drop dst 2001:db8:1:2:3::/80" }, ALLOW, {
		{ "v4 /25", 4, "10.1.2.200", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 6 },
		{ "3's v4 /24", 4, "10.1.3.200", NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
		{ "3's v6 /80", 6, NULL, "2001:db8:1:2:4::5", UDP_, 1, 2, .verdict = DROP, .rule = 1 },
		{ "3's dport 81", 4, NULL, NULL, TCP_, 1, 81, .verdict = PASS, .rule = -1 },
		{ "gre", 4, NULL, NULL, 47, .verdict = DROP, .rule = 3 },
	} },
};

static void test_double_buffer_stale(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(stale_steps) / sizeof(stale_steps[0]); i++)
		run_fixed(&stale_steps[i]);
}

/*
 * The switch is atomic: packets running while sets are applied see the old
 * set or the new one, never a mix (README "Apply", abi.h). A rule file
 * carries its policy, so the policy belongs to the set.
 *   set A: "drop src Y", policy allow      set B: "pass src P", policy deny
 * P passes under both sets, Y is dropped under both. Only a mix of one
 * set's tables with the other's policy changes that:
 *   A's tables + B's policy (switch A -> B): P finds no rule, deny: DROP
 *   B's tables + A's policy (switch B -> A): Y finds no rule, allow: PASS
 * One thread applies B, A, B, A ... (pw_rules_apply); this one runs P and Y
 * in turns (BPF_PROG_TEST_RUN, many repeats per call) and reads the
 * verdict counters of xdp_stats_map around each call. P and Y are IPv6 and
 * both sets hold the same 224 prefixes of every length 17..128 in the
 * packets' source and destination chunks that match neither packet, so
 * finding "no rule" takes every long-prefix probe: the time between the
 * program's read of the active set and its read of the policy is long,
 * and a switch landing in it is likely.
 */
struct flipper {
	struct pw_ruleset *set[2];
	int flips, done, err, cpu;
	bool same_policy;
	char msg[PW_ERR_LEN];
};

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;

	pin_to(pthread_self(), f->cpu);
	for (int i = 0; i < f->flips && !f->err; i++) {
		struct pw_apply_report rep;
		int k = (i + 1) % 2;	/* starts with B: A is in force */

		f->err = pw_rules_apply(&g_ctx, &g_maps, f->set[k], k && !f->same_policy ? DENY : ALLOW,
					&rep);
		if (f->err)
			snprintf(f->msg, sizeof(f->msg), "%s", g_ctx.err);
	}
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}


/* control (@same_policy): B also drops Y and both sets allow: no mix can
 * show, so any wrong verdict would come from somewhere else */
static void apply_switch_race(bool same_policy)
{
	struct pw_ruleset a, b;
	struct flipper f = { .flips = 24, .same_policy = same_policy };
	struct pkt p = { .family = 6, .proto = IPPROTO_TCP, .sport = 1000, .dport = 80, .payload = 16 };
	struct pw_ref_pkt ref;
	struct pb fr[2];
	pthread_t th;
	__u64 runs[2] = { 0 }, wrong[2] = { 0 };
	__u32 repeat = 1000;
	cpu_set_t saved_cpus;
	bool restore_cpus = false;
	uint8_t z[16];
	char zs[INET6_ADDRSTRLEN], text[128];
	int k = 0;

	rs_init(&a, 256);
	rs_init(&b, 256);
	rs_add(&a, "drop src 2001:db8::66");
	rs_add(&b, "pass src 2001:db8::33");
	if (same_policy)
		rs_add(&b, "drop src 2001:db8::66");
	for (int dir = 0; dir < 2; dir++) {
		/* same top-16 chunk as the packets, bit 16 flipped: matches neither */
		parse_addr(6, dir ? "2001:db8:ffff::1" : "2001:db8::33", z);
		setbit(z, 16, !getbit(z, 16));
		for (int l = 17; l <= 128; l++) {
			uint8_t m[16];

			memcpy(m, z, 16);
			fill_host(m, 6, l, 0);
			snprintf(text, sizeof(text), "%s %s %s/%d", l % 2 ? "drop" : "pass",
				 dir ? "dst" : "src", astr(6, m, zs), l);
			rs_add(&a, text);
			rs_add(&b, text);
		}
	}
	a.policy = ALLOW;
	b.policy = same_policy ? ALLOW : DENY;
	parse_addr(6, "2001:db8:ffff::1", p.dst);
	parse_addr(6, "2001:db8::33", p.src);	/* P */
	build(&p, &fr[0], &ref);
	assert_int_equal(pw_ruleset_classify(&a, &ref, NULL), PASS);
	assert_int_equal(pw_ruleset_classify(&b, &ref, NULL), PASS);
	parse_addr(6, "2001:db8::66", p.src);	/* Y */
	build(&p, &fr[1], &ref);
	assert_int_equal(pw_ruleset_classify(&a, &ref, NULL), DROP);
	assert_int_equal(pw_ruleset_classify(&b, &ref, NULL), DROP);
	apply_verified("switch: set A", &a, ALLOW);
	/* plain runs first: the verdicts with one set in force, and the time per run */
	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr[i].buf, .data_size_in = (__u32)fr[i].len,
			    .repeat = 1000);

		assert_int_equal(bpf_prog_test_run_opts(g_prog_fd, &o), 0);
		assert_int_equal(o.retval, i ? DROP : PASS);
		if (o.duration)
			repeat = 4000000 / o.duration;	/* about 4 ms per call */
	}
	if (repeat < 100)
		repeat = 100;

	f.set[0] = &a;
	f.set[1] = &b;
	/* the two threads on two different CPUs, so they really run at once */
	{
		cpu_set_t cs;
		int first = -1;

		f.cpu = -1;
		if (!sched_getaffinity(0, sizeof(cs), &cs))
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &cs)) {
					if (first < 0)
						first = c;
					else if (f.cpu < 0)
						f.cpu = c;
				}
		if (f.cpu >= 0 && sched_getaffinity(0, sizeof(saved_cpus), &saved_cpus) == 0) {
			restore_cpus = true;
			pin_to(pthread_self(), first);
		}
	}
	assert_int_equal(pthread_create(&th, NULL, flip_thread, &f), 0);
	while (!__atomic_load_n(&f.done, __ATOMIC_ACQUIRE)) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = fr[k].buf,
			    .data_size_in = (__u32)fr[k].len, .repeat = repeat);
		/* P must never be dropped, Y never passed */
		__u32 bad_verdict = k == 0 ? XDP_DROP : XDP_PASS;
		__u64 before = action_count(bad_verdict);

		assert_int_equal(bpf_prog_test_run_opts(g_prog_fd, &opts), 0);
		wrong[k] += action_count(bad_verdict) - before;
		runs[k] += repeat;
		k ^= 1;
	}
	pthread_join(th, NULL);
	if (restore_cpus)
		sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
	g_race_runs += runs[0] + runs[1];
	g_applies += (unsigned)f.flips;
	if (f.err) {
		print_error("apply in the flipping thread: %d: %s\n", f.err, f.msg);
		fail();
	}
	/* the flips ended with A in force: make the book-keeping agree */
	pw_ruleset_free(&g_cur);
	rs_copy(&g_cur, &a);
	print_message("  %s%d applies (A/B): P %llu runs, %llu dropped; Y %llu runs, %llu passed\n",
		      same_policy ? "control, one policy: " : "", f.flips, (unsigned long long)runs[0],
		      (unsigned long long)wrong[0],
		      (unsigned long long)runs[1], (unsigned long long)wrong[1]);
	if (wrong[0])
		print_error("%llu runs of P (passed by set A and by set B) were DROPPED: A's tables "
			    "(no rule) combined with B's policy (deny)\n", (unsigned long long)wrong[0]);
	if (wrong[1])
		print_error("%llu runs of Y (dropped by set A and by set B) were PASSED: B's tables "
			    "(no rule) combined with A's policy (allow)\n", (unsigned long long)wrong[1]);
	pw_ruleset_free(&a);
	pw_ruleset_free(&b);
	assert_int_equal(wrong[0], 0);
	assert_int_equal(wrong[1], 0);
}

static void test_apply_switch_never_mixes(void **state)
{
	(void)state;
	apply_switch_race(false);
}

static void test_apply_switch_control_same_policy(void **state)
{
	(void)state;
	apply_switch_race(true);
}

/* ---- parser and check errors --------------------------------------------------- */

struct err_case {
	const char *name;
	const char *rules[6];	/* check cases: the set; parse cases: rules[0] */
	int check;		/* 0: pw_rule_parse fails on rules[0]; 1: check fails; 2: check accepts */
	const char *msg[3];	/* substrings of the error */
};

static const struct err_case err_cases[] = {
	{ "parse_prefix_len_33", { "drop src 10.0.0.0/33" }, 0, { "invalid prefix length", "/0 to /32" } },
	{ "parse_prefix_len_129", { "drop dst 2001:db8::/129" }, 0, { "invalid prefix length", "/0 to /128" } },
	{ "parse_prefix_len_empty", { "drop src 10.0.0.0/" }, 0, { "invalid prefix length" } },
	{ "parse_prefix_len_garbage", { "drop src 10.0.0.0/8x" }, 0, { "invalid prefix length" } },
	{ "parse_prefix_len_negative", { "drop src 10.0.0.0/-8" }, 0, { "invalid prefix length" } },
	{ "parse_prefix_len_huge", { "drop src 10.0.0.0/4294967304" }, 0, { "invalid prefix length" } },
	{ "parse_invalid_addr_short", { "drop src 10.0.0/8" }, 0, { "invalid address", "10.0.0" } },
	{ "parse_invalid_addr_octet", { "drop src 256.0.0.0/8" }, 0, { "invalid address" } },
	{ "parse_invalid_addr_v6", { "drop dst 2001:db8:::1/64" }, 0, { "invalid address" } },
	{ "parse_invalid_addr_name", { "drop src example.com" }, 0, { "invalid address" } },
	{ "parse_host_bits_v4", { "drop src 10.1.2.3/8" }, 0, { "host bits set", "10.0.0.0/8" } },
	{ "parse_host_bits_v4_len0", { "drop dst 1.2.3.4/0" }, 0, { "host bits set", "0.0.0.0/0" } },
	{ "parse_host_bits_v4_len31", { "pass src 10.0.0.1/31" }, 0, { "host bits set", "10.0.0.0/31" } },
	{ "parse_host_bits_v4_len17", { "pass src 10.1.255.0/17" }, 0, { "host bits set", "10.1.128.0/17" } },
	{ "parse_host_bits_v6", { "drop src 2001:db8::1/64" }, 0, { "host bits set", "2001:db8::/64" } },
	{ "parse_host_bits_v6_len127", { "drop dst 2001:db8::3/127" }, 0, { "host bits set", "2001:db8::2/127" } },
	{ "parse_host_bits_v6_len0", { "drop dst ::1/0" }, 0, { "host bits set", "::/0" } },
	{ "parse_port_65536", { "drop dport 65536" }, 0, { "invalid port" } },
	{ "parse_port_range_hi_70000", { "drop sport 1-70000" }, 0, { "invalid port" } },
	{ "parse_port_negative", { "drop dport -1" }, 0, { "invalid port" } },
	{ "parse_port_garbage", { "drop dport 80x" }, 0, { "invalid port" } },
	{ "parse_port_open_range", { "drop dport 80-" }, 0, { "invalid port" } },
	{ "parse_port_reversed", { "drop dport 90-80" }, 0, { "reversed port range", "80-90" } },
	{ "parse_port_reversed_tcp", { "pass proto tcp sport 65535-0" }, 0, { "reversed port range", "0-65535" } },
	{ "parse_proto_unknown", { "drop proto foo" }, 0, { "unknown protocol", "foo" } },
	{ "parse_proto_256", { "drop proto 256" }, 0, { "unknown protocol" } },
	{ "parse_proto_negative", { "drop proto -1" }, 0, { "unknown protocol" } },
	{ "parse_proto_port_not_tcp_udp", { "drop proto icmp dport 80" }, 0, { "tcp or udp" } },
	{ "parse_unknown_action", { "reject src 10.0.0.0/8" }, 0, { "unknown action" } },
	{ "parse_incomplete", { "drop src" }, 0, { "incomplete rule" } },
	{ "parse_trailing_word", { "drop src 10.0.0.0/8 extra" }, 0, { "unexpected" } },
	{ "parse_unknown_match", { "drop from 10.0.0.0/8" }, 0, { "unknown match" } },

	{ "check_duplicate", { "drop src 10.0.0.0/8", "pass dport 22", "drop src 10.0.0.0/8" }, 1, { "duplicate" } },
	{ "check_duplicate_host_route", { "pass src 192.0.2.1", "pass src 192.0.2.1/32" }, 1, { "duplicate" } },
	{ "check_duplicate_v6_spelling", { "drop dst 2001:db8:0::/48", "drop dst 2001:0db8::/48" }, 1, { "duplicate" } },
	{ "check_duplicate_port_single_vs_range", { "drop dport 80", "drop dport 80-80" }, 1, { "duplicate" } },
	{ "check_duplicate_proto_name_number", { "drop proto tcp", "drop proto 6" }, 1, { "duplicate" } },
	{ "check_conflicting_prefix", { "drop dst 10.0.0.0/8", "pass dst 10.0.0.0/8" }, 1, { "conflicting" } },
	{ "check_conflicting_port", { "drop proto udp sport 53", "pass proto udp sport 53" }, 1, { "conflicting" } },
	{ "check_conflicting_proto", { "drop proto gre", "pass proto 47" }, 1, { "conflicting" } },
	{ "check_partial_overlap", { "drop dport 10-20", "pass dport 15-25" }, 1, { "partly overlap", "nest or be disjoint" } },
	{ "check_partial_overlap_touching", { "drop sport 10-20", "drop sport 20-30" }, 1, { "partly overlap" } },
	{ "check_partial_overlap_specific_vs_both", { "drop proto tcp dport 10-20", "pass dport 15-25" }, 1, { "partly overlap" } },
	{ "check_partial_overlap_among_nested", { "drop dport 1-100", "pass dport 10-20", "drop dport 50-60",
						  "pass dport 55-70" }, 1, { "partly overlap" } },

	{ "check_ok_nested_ranges", { "drop dport 1-1000", "pass dport 80-90", "drop dport 85",
				      "pass dport 0-65535" }, 2, { NULL } },
	{ "check_ok_adjacent_ranges", { "drop dport 10-20", "pass dport 21-30" }, 2, { NULL } },
	{ "check_ok_tcp_udp_partial_overlap", { "drop proto tcp dport 10-20", "pass proto udp dport 15-25" }, 2, { NULL } },
	{ "check_ok_equal_range_specific_and_both", { "drop proto tcp dport 80", "pass dport 80",
						      "pass proto udp dport 80" }, 2, { NULL } },
	{ "check_ok_sport_vs_dport_overlap", { "drop sport 10-20", "pass dport 15-25" }, 2, { NULL } },
	{ "check_ok_same_prefix_src_and_dst", { "drop src 10.0.0.0/8", "pass dst 10.0.0.0/8" }, 2, { NULL } },
	{ "check_ok_same_address_other_length", { "drop src 10.0.0.0/8", "pass src 10.0.0.0/16",
						  "drop src 10.0.0.0/32" }, 2, { NULL } },
};

static void test_err(void **state)
{
	const struct err_case *c = *state;
	struct pw_rule r;
	char err[256] = "";
	int ret, bad = 0;

	if (c->check == 0) {
		memset(&r, 0xa5, sizeof(r));
		ret = pw_rule_parse(c->rules[0], &r, err, sizeof(err));
		if (!ret) {
			char f[160];

			pw_rule_format(&r, f, sizeof(f));
			print_error("[%s] '%s' parsed (as '%s'), expected an error\n", c->name,
				    c->rules[0], f);
			fail();
		}
		if (ret != -EINVAL)
			print_error("[%s] '%s': returned %d, expected -EINVAL\n", c->name, c->rules[0], ret), bad++;
	} else {
		struct pw_ruleset rs;

		rs_init(&rs, 6);
		for (int i = 0; i < 6 && c->rules[i]; i++)
			rs_add(&rs, c->rules[i]);
		g_ctx.err[0] = '\0';
		ret = pw_ruleset_check(&g_ctx, &rs, NULL);
		snprintf(err, sizeof(err), "%s", g_ctx.err);
		if (c->check == 2) {
			if (ret) {
				print_error("[%s] the set is rejected: %d: %s\n", c->name, ret, err);
				bad++;
			} else {
				/* and it applies and classifies like the reference on a few packets */
				apply_verified(c->name, &rs, ALLOW);
			}
			pw_ruleset_free(&rs);
			if (bad)
				fail();
			return;
		}
		pw_ruleset_free(&rs);
		if (!ret) {
			print_error("[%s] the set is accepted, expected an error\n", c->name);
			fail();
		}
		if (ret != -EEXIST)
			print_error("[%s] returned %d, expected -EEXIST\n", c->name, ret), bad++;
	}
	for (int i = 0; i < 3 && c->msg[i]; i++)
		if (!strstr(err, c->msg[i]))
			print_error("[%s] message '%s' lacks '%s'\n", c->name, err, c->msg[i]), bad++;
	if (bad)
		fail();
}

/* The accepted spellings parse to the expected records. */
static void test_parse_ok_forms(void **state)
{
	static const struct {
		const char *text;
		struct pw_rule want;
	} ok[] = {
		{ "drop src 10.0.0.0/8", { .action = DROP, .kind = PW_RK_SRC, .family = 4, .len = 8, .addr = { 0x0000000a } } },
		{ "pass dst 192.0.2.7", { .action = PASS, .kind = PW_RK_DST, .family = 4, .len = 32, .addr = { 0x070200c0 } } },
		{ "drop src 0.0.0.0/0", { .action = DROP, .kind = PW_RK_SRC, .family = 4, .len = 0 } },
		{ "drop dst ::/0", { .action = DROP, .kind = PW_RK_DST, .family = 6, .len = 0 } },
		{ "pass src ::1", { .action = PASS, .kind = PW_RK_SRC, .family = 6, .len = 128, .addr = { 0, 0, 0, 0x01000000 } } },
		{ "drop src 2001:db8::/32", { .action = DROP, .kind = PW_RK_SRC, .family = 6, .len = 32, .addr = { 0xb80d0120 } } },
		{ "drop src 10.0.0.0/08", { .action = DROP, .kind = PW_RK_SRC, .family = 4, .len = 8, .addr = { 0x0000000a } } },
		{ "drop proto tcp", { .action = DROP, .kind = PW_RK_PROTO, .family = 0, .len = 0, .proto = 6 } },
		{ "pass proto 0", { .action = PASS, .kind = PW_RK_PROTO, .family = 0, .len = 0, .proto = 0 } },
		{ "pass proto 255", { .action = PASS, .kind = PW_RK_PROTO, .family = 0, .len = 0, .proto = 255 } },
		{ "drop proto ICMPv6", { .action = DROP, .kind = PW_RK_PROTO, .family = 0, .len = 0, .proto = 58 } },
		{ "pass proto tcp dport 22", { .action = PASS, .kind = PW_RK_DPORT, .family = 0, .len = 0, .proto = 6, .port_lo = 22, .port_hi = 22 } },
		{ "pass proto udp sport 0-65535", { .action = PASS, .kind = PW_RK_SPORT, .family = 0, .len = 0, .proto = 17, .port_lo = 0, .port_hi = 65535 } },
		{ "drop dport 1000-2000", { .action = DROP, .kind = PW_RK_DPORT, .family = 0, .len = 0, .proto = 0, .port_lo = 1000, .port_hi = 2000 } },
		{ "  drop\tsport   7 ", { .action = DROP, .kind = PW_RK_SPORT, .family = 0, .len = 0, .proto = 0, .port_lo = 7, .port_hi = 7 } },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct pw_rule r;
		char err[256] = "", f[160];

		if (pw_rule_parse(ok[i].text, &r, err, sizeof(err))) {
			print_error("'%s': %s\n", ok[i].text, err);
			bad++;
			continue;
		}
		if (memcmp(&r, &ok[i].want, sizeof(r))) {
			pw_rule_format(&r, f, sizeof(f));
			print_error("'%s' parsed as '%s' (kind %u fam %u len %u proto %u ports %u-%u addr %08x %08x %08x %08x)\n",
				    ok[i].text, f, r.kind, r.family, r.len, r.proto, r.port_lo,
				    r.port_hi, r.addr[0], r.addr[1], r.addr[2], r.addr[3]);
			bad++;
		}
	}
	if (bad)
		fail();
}

/* ---- fixtures and main ------------------------------------------------------------ */

static int group_setup(void **state)
{
	struct bpf_map *m;

	(void)state;
	g_skel = pinwall__open();
	if (!g_skel) {
		print_error("pinwall__open failed (errno %d)\n", errno);
		return -1;
	}
	/* private maps: nothing pinned by name on the host's bpffs */
	bpf_object__for_each_map(m, g_skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(g_skel)) {
		print_error("load of the pinwall skeleton failed (errno %d); root?\n", errno);
		pinwall__destroy(g_skel);
		g_skel = NULL;
		return -1;
	}
	g_prog_fd = bpf_program__fd(g_skel->progs.pinwall_xdp);
	g_stats_fd = bpf_map__fd(g_skel->maps.pw_rule_stats);
	skel_rule_maps(g_skel, &g_maps);
	rs_init(&g_cur, 4);
	return 0;
}

int main(int argc, char **argv)
{
	const char *root;
	static const struct CMUnitTest fixed_tests[] = {
		cmocka_unit_test(test_lpm_v4_each_length_src),
		cmocka_unit_test(test_lpm_v4_each_length_dst),
		cmocka_unit_test(test_lpm_v6_each_length_src),
		cmocka_unit_test(test_lpm_v6_each_length_dst),
		cmocka_unit_test(test_lpm_v4_nested_all_src),
		cmocka_unit_test(test_lpm_v4_nested_all_dst),
		cmocka_unit_test(test_lpm_v6_nested_all_src),
		cmocka_unit_test(test_lpm_v6_nested_all_dst),
		cmocka_unit_test(test_lpm_v4_nested_8_16_24_32),
		cmocka_unit_test(test_lpm_v4_nested_around_chunk),
		cmocka_unit_test(test_lpm_v6_nested_sparse),
		cmocka_unit_test(test_parse_ok_forms),
		cmocka_unit_test(test_double_buffer_stale),
		cmocka_unit_test(test_apply_switch_control_same_policy),
		cmocka_unit_test(test_apply_switch_never_mixes),
	};
	size_t nlpm = sizeof(lpm_cases) / sizeof(lpm_cases[0]);
	size_t nprec = sizeof(prec_cases) / sizeof(prec_cases[0]);
	size_t nerr = sizeof(err_cases) / sizeof(err_cases[0]);
	size_t nfixed = sizeof(fixed_tests) / sizeof(fixed_tests[0]);
	size_t ntests = nfixed + nlpm + nprec + nerr + DIFF_ROUNDS, t = 0;
	struct CMUnitTest *tests = calloc(ntests, sizeof(*tests));
	const char *env = getenv("PW_SEED");
	struct timespec t0, t1;
	int failed;

	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0 || !tests) {
		fprintf(stderr, "libbpf_num_possible_cpus: %d\n", ncpus);
		return 1;
	}
	g_keys = calloc(SNAP_MAX, sizeof(*g_keys));
	g_percpu = calloc((size_t)SNAP_MAX * ncpus, sizeof(*g_percpu));
	if (!g_keys || !g_percpu)
		return 1;
	g_seed = DEFAULT_SEED;
	if (env && *env) {
		char *end;

		errno = 0;
		g_seed = strtoull(env, &end, 0);
		if (errno || *end) {
			fprintf(stderr, "PW_SEED '%s': not a number\n", env);
			return 1;
		}
	}
	printf("test_rules: seed 0x%llx (%s; set PW_SEED to replay)\n", (unsigned long long)g_seed,
	       env && *env ? "from PW_SEED" : "default");
	fflush(stdout);
	/* a private pin root: apply keeps its intent record there while it runs */
	root = scratch_root_make("pwt");
	if (!root)
		return 1;
	if (pw_ctx_init(&g_ctx, root)) {
		fprintf(stderr, "pw_ctx_init: %s\n", g_ctx.err);
		return 1;
	}
	pw_log_setup(&g_ctx);
	libbpf_set_print(libbpf_print);	/* keep our own print hook for warnings */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);

	for (size_t i = 0; i < DIFF_ROUNDS; i++) {
		diff_rounds[i].round = (int)i;
		snprintf(diff_rounds[i].name, sizeof(diff_rounds[i].name), "differential_round_%02zu", i);
		tests[t++] = (struct CMUnitTest){
			.name = diff_rounds[i].name, .test_func = test_differential,
			.initial_state = &diff_rounds[i],
		};
	}
	for (size_t i = 0; i < nfixed; i++)
		tests[t++] = fixed_tests[i];
	for (size_t i = 0; i < nlpm; i++)
		tests[t++] = (struct CMUnitTest){
			.name = lpm_cases[i].name, .test_func = test_fixed,
			.initial_state = (void *)&lpm_cases[i],
		};
	for (size_t i = 0; i < nprec; i++)
		tests[t++] = (struct CMUnitTest){
			.name = prec_cases[i].name, .test_func = test_fixed,
			.initial_state = (void *)&prec_cases[i],
		};
	for (size_t i = 0; i < nerr; i++)
		tests[t++] = (struct CMUnitTest){
			.name = err_cases[i].name, .test_func = test_err,
			.initial_state = (void *)&err_cases[i],
		};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	failed = _cmocka_run_group_tests("pinwall_rules", tests, t, group_setup, group_teardown);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("test_rules: %llu packet cases (+%llu runs in the switch race), %llu applies, %.1f s, seed 0x%llx\n",
	       g_pkts, g_race_runs, g_applies,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, (unsigned long long)g_seed);
	free(tests);
	free(g_keys);
	free(g_percpu);
	return failed ? 1 : 0;
}
