// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fail-closed fuzz: random frames built around the parser's edges (VLAN
 * stacks of 0..5 tags, lying IP lengths, IPv4 options, IPv6 extension chains
 * past the bound, fragments first and later with ids from a small pool so
 * later fragments meet their first, TCP/UDP/ICMP headers cut anywhere,
 * Ethernet padding, ND lookalikes, protocol numbers of the other family)
 * run through pinwall's XDP program with BPF_PROG_TEST_RUN under rule sets
 * applied by pw_rules_apply, with policy deny and allow. Every verdict must
 * equal the reference: refparse.h for what the frame is, the reference
 * classifier for the rules, and a table of first-fragment verdicts.
 *
 *  fuzz_<set>_<policy>   one rule set and policy, FUZZ_FRAMES frames each
 *
 * The seed is printed; PW_SEED replays, PW_FUZZ_FRAMES changes the count.
 * Needs root. Usage: test_fuzz [glob]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pinwall/abi.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"
#include "refparse.h"
#include "scratchroot.h"
#include "skelrules.h"

#define DEFAULT_SEED	0x6661696c636c6fULL	/* "failclo" */
#define FUZZ_FRAMES	125000			/* per set and policy: 8 x = 1M */
#define MAX_FIRSTS	4096

static struct pinwall *g_skel;
static struct pw_ctx g_ctx;
static struct pw_rules_maps g_maps;
static int g_prog_fd;
static uint64_t g_rng, g_seed;
static long g_frames = FUZZ_FRAMES;
static unsigned long long g_total, g_by_kind[3], g_dropped, g_later_tracked;

/* first fragments seen (any set, any policy): key -> verdict */
static struct { uint8_t key[40]; __u32 verdict; } g_firsts[MAX_FIRSTS];
static int g_nfirsts;

static uint64_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static unsigned int rn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static bool chance(unsigned int pct)
{
	return rn(100) < pct;
}

/* ---- rule sets -------------------------------------------------------------- */

struct fuzz_set {
	const char *name;
	const char *rules[16];
};

/* Addresses are drawn from these networks, ports from 22, 53, 80, 443, ... */
static const struct fuzz_set sets[] = {
	{ "icmp6_ssh", { "pass proto icmpv6", "pass proto icmp", "pass proto tcp dport 22",
			 "drop src 10.1.0.0/16", "drop src 2001:db8:1::/48", NULL } },
	{ "ports", { "drop dport 22", "drop proto udp dport 53", "pass dport 80", "drop sport 443",
		     "pass dport 1000-2000", "drop proto tcp dport 1500", NULL } },
	{ "mixed", { "drop dst 10.2.0.0/16", "pass src 10.1.2.0/24", "drop dst 2001:db8:2::/64",
		     "pass src 2001:db8:1:2::/64", "drop proto 58", "drop proto 1", "pass proto 47",
		     "drop dport 443", "pass sport 53", NULL } },
	{ "empty", { NULL } },
};

static void apply_set(const struct fuzz_set *fs, int policy)
{
	struct pw_ruleset rs = { .policy = policy };
	struct pw_apply_report rep;

	for (int i = 0; fs->rules[i]; i++) {
		struct pw_rule r;
		char err[256];

		assert_int_equal(pw_rule_parse(fs->rules[i], &r, err, sizeof(err)), 0);
		if (rs.n == rs.cap) {
			rs.cap = rs.cap ? rs.cap * 2 : 16;
			rs.r = realloc(rs.r, rs.cap * sizeof(*rs.r));
			rs.ids = realloc(rs.ids, rs.cap * sizeof(*rs.ids));
			assert_non_null(rs.r);
			assert_non_null(rs.ids);
		}
		rs.ids[rs.n] = 0;
		rs.r[rs.n++] = r;
	}
	if (pw_rules_apply(&g_ctx, &g_maps, &rs, policy, &rep)) {
		print_error("pw_rules_apply: %s\n", g_ctx.err);
		fail();
	}
	pw_ruleset_free(&rs);
}

/* ---- frames ----------------------------------------------------------------- */

/* Fragments take one of two address pairs so later fragments meet their first. */
static void frag_addr(int fam, uint8_t *a, int which)
{
	if (fam == 4)
		memcpy(a, which ? "\x0a\x01\x02\x07" : "\x0a\x02\x00\x09", 4);
	else
		memcpy(a, which ? "\x20\x01\x0d\xb8\x00\x01\x00\x02\0\0\0\0\0\0\0\x07"
				: "\x20\x01\x0d\xb8\x00\x02\x00\x00\0\0\0\0\0\0\0\x09", 16);
}

static void rand_addr(int fam, uint8_t *a)
{
	static const uint8_t v4[][2] = { { 10, 1 }, { 10, 2 }, { 10, 3 }, { 192, 0 } };

	if (fam == 4) {
		memcpy(a, v4[rn(4)], 2);
		a[2] = chance(50) ? 2 : (uint8_t)rn(256);
		a[3] = (uint8_t)rn(256);
		return;
	}
	memcpy(a, "\x20\x01\x0d\xb8", 4);
	a[4] = 0;
	a[5] = (uint8_t)(1 + rn(3));
	for (int i = 6; i < 16; i++)
		a[i] = (uint8_t)(i == 7 ? (chance(50) ? 2 : rn(256)) : i < 8 ? 0 : rn(256));
}

static int rand_proto(int fam)
{
	static const int common[] = { 6, 17, 6, 17, 1, 58, 47, 132, 59 };
	int p = chance(90) ? common[rn(9)] : (int)rn(256);

	/* a v4 packet may claim 58, a v6 one 1: the other family's numbers */
	(void)fam;
	return p;
}

static uint16_t rand_port(void)
{
	static const uint16_t ports[] = { 22, 53, 80, 443, 1000, 1500, 2000, 2001, 40000 };

	return chance(85) ? ports[rn(9)] : (uint16_t)rn(65536);
}

/* An L4 header of @proto, possibly cut short or lying about its length. */
static void put_l4(struct pb *b, int proto, int fam)
{
	if (proto == 6) {
		size_t o = pb_tcp(b, rand_port(), rand_port(), 5);

		if (chance(10))
			b->buf[o + 12] = (uint8_t)(rn(16) << 4);
		if (chance(5))
			b->len = o + rn(20);
	} else if (proto == 17) {
		size_t o = pb_udp(b, rand_port(), rand_port());

		if (chance(5))
			b->len = o + rn(8);
	} else if (proto == 1 || proto == 58) {
		static const uint8_t types[] = { 8, 0, 128, 129, 133, 134, 135, 136, 137, 138 };
		size_t o = pb_icmp_common(b, types[rn(10)], chance(90) ? 0 : 1);

		(void)fam;
		if (chance(5))
			b->len = o + rn(8);
	}
}

static uint32_t frag_id(void)
{
	return 0x100 + rn(8);		/* small pool: later fragments meet their first */
}

static void build_v4(struct pb *b)
{
	int proto = rand_proto(4), ihl = chance(80) ? 5 : 5 + (int)rn(11);
	uint16_t frag = 0;
	size_t ip;
	uint8_t a[16];

	if (chance(25))
		frag = chance(50) ? 0x2000 : (uint16_t)(1 + rn(200)) | (chance(50) ? 0x2000 : 0);
	ip = pb_ipv4(b, (uint8_t)proto, (unsigned)ihl, frag);
	pb_set16(b, ip + 4, (uint16_t)frag_id());
	if (frag) {
		frag_addr(4, a, (int)rn(2));
		memcpy(b->buf + ip + 12, a, 4);
		frag_addr(4, a, (int)rn(2));
		memcpy(b->buf + ip + 16, a, 4);
	} else {
		rand_addr(4, a);
		memcpy(b->buf + ip + 12, a, 4);
		rand_addr(4, a);
		memcpy(b->buf + ip + 16, a, 4);
	}
	if (chance(3))
		b->buf[ip] = (uint8_t)(rn(16) << 4 | (b->buf[ip] & 15));
	if (chance(3))
		b->buf[ip] = (uint8_t)((b->buf[ip] & 0xf0) | rn(5));
	if (!(frag & 0x1fff))
		put_l4(b, proto, 4);
	else
		pb_payload(b, 8);	/* looks like ports to a parser that ignores the offset */
}

static void build_v6(struct pb *b)
{
	static const uint8_t ext[] = { 0, 43, 60, 44 };
	int n = chance(60) ? 0 : (int)rn(11), proto = rand_proto(6);
	uint8_t chain[12], a[16];
	size_t ip;

	for (int i = 0; i < n; i++)
		chain[i] = chance(70) ? ext[rn(4)] : 60;
	chain[n] = (uint8_t)proto;
	ip = pb_ipv6(b, chain[0]);
	if (memchr(chain, 44, (size_t)n)) {
		frag_addr(6, a, (int)rn(2));
		memcpy(b->buf + ip + 8, a, 16);
		frag_addr(6, a, (int)rn(2));
		memcpy(b->buf + ip + 24, a, 16);
	} else {
		rand_addr(6, a);
		memcpy(b->buf + ip + 8, a, 16);
		rand_addr(6, a);
		memcpy(b->buf + ip + 24, a, 16);
	}
	if (chance(30))
		b->buf[ip + 7] = 255;		/* hop limit of ND */
	if (chance(2))
		b->buf[ip] = (uint8_t)(rn(16) << 4);
	for (int i = 0; i < n; i++) {
		if (chain[i] == 44) {
			uint16_t off = chance(50) ? 0 : (uint16_t)(1 + rn(300));
			size_t o = pb_ipv6_frag(b, chain[i + 1], off, chance(80));
			uint32_t id = htonl(frag_id());

			memcpy(b->buf + o + 4, &id, 4);
			if (off) {
				pb_payload(b, 8);
				return;
			}
		} else {
			pb_ipv6_opts(b, chain[i + 1], (uint8_t)(chance(80) ? 0 : rn(3)));
		}
	}
	put_l4(b, proto, 6);
}

static void build_frame(struct pb *b)
{
	int tags = chance(70) ? 0 : (int)rn(6), r = (int)rn(100);
	uint16_t l3 = r < 45 ? ETH_P_IP : r < 90 ? ETH_P_IPV6 : r < 95 ? 0x0806 : (uint16_t)rnd();

	pb_init(b);
	pb_eth(b, tags ? (chance(50) ? ETH_P_8021Q : ETH_P_8021AD) : l3);
	for (int i = 0; i < tags; i++)
		pb_vlan(b, (uint16_t)rn(4096), i + 1 < tags ? (chance(50) ? ETH_P_8021Q : ETH_P_8021AD) : l3);
	if (l3 == ETH_P_IP)
		build_v4(b);
	else if (l3 == ETH_P_IPV6)
		build_v6(b);
	else
		pb_payload(b, 28);
	if (chance(70))
		pb_payload(b, rn(40));
	if (l3 == ETH_P_IP || l3 == ETH_P_IPV6) {
		size_t keep = b->len;

		pb_finish(b);
		b->len = keep;
		/* lie about the IP length now and then */
		if (chance(8) && b->ip_ver)
			pb_set16(b, b->ip_off + (b->ip_ver == 4 ? 2 : 4), (uint16_t)rn(200));
	}
	if (chance(10))
		pb_put(b, NULL, rn(30));		/* Ethernet padding */
	if (chance(10) && b->len > ETH_HLEN)
		b->len = ETH_HLEN + rn((unsigned)(b->len - ETH_HLEN));
}

/* ---- the reference verdict -------------------------------------------------- */

static __u32 *first_seen(const uint8_t *key)
{
	for (int i = 0; i < g_nfirsts; i++)
		if (!memcmp(g_firsts[i].key, key, sizeof(g_firsts[i].key)))
			return &g_firsts[i].verdict;
	return NULL;
}

static __u32 ref_verdict(const struct pw_ruleset *rs, const uint8_t *f, size_t len)
{
	struct ref_frame r;
	__u32 v, *seen;

	ref_parse(f, len, &r);
	g_by_kind[r.kind]++;
	if (r.kind == REF_MALFORMED)
		return XDP_DROP;
	if (r.kind == REF_NOT_IP)
		return rs->policy == PW_POLICY_DENY && !r.link_ctl ? XDP_DROP : XDP_PASS;
	if (r.frag == REF_LATER && (seen = first_seen(r.key))) {
		g_later_tracked++;
		return *seen;
	}
	v = pw_ruleset_classify(rs, &r.pkt, NULL);
	if (r.frag == REF_FIRST) {
		seen = first_seen(r.key);
		if (!seen && g_nfirsts < MAX_FIRSTS) {
			memcpy(g_firsts[g_nfirsts].key, r.key, sizeof(r.key));
			seen = &g_firsts[g_nfirsts++].verdict;
		}
		if (seen)
			*seen = v;
	}
	return v;
}

static void hexdump(const uint8_t *f, size_t len)
{
	char line[3 * 32 + 1];

	for (size_t o = 0; o < len; o += 32) {
		size_t n = 0;

		for (size_t i = o; i < len && i < o + 32; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%02x ", f[i]);
		print_error("    %04zx: %s\n", o, line);
	}
}

/* ---- the test --------------------------------------------------------------- */

struct fuzz_case {
	char name[64];
	const struct fuzz_set *set;
	int policy;
};

static void test_fuzz(void **state)
{
	const struct fuzz_case *fc = *state;
	struct pw_ruleset rs = { 0 };
	int bad = 0;

	apply_set(fc->set, fc->policy);
	/* the reference's copy of the set */
	rs.policy = fc->policy;
	for (int i = 0; fc->set->rules[i]; i++) {
		char err[256];

		rs.r = realloc(rs.r, (rs.n + 1) * sizeof(*rs.r));
		assert_non_null(rs.r);
		assert_int_equal(pw_rule_parse(fc->set->rules[i], &rs.r[rs.n++], err, sizeof(err)), 0);
	}
	for (long k = 0; k < g_frames; k++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1);
		struct pb b;
		__u32 exp;

		build_frame(&b);
		opts.data_in = b.buf;
		opts.data_size_in = (__u32)b.len;
		exp = ref_verdict(&rs, b.buf, b.len);
		assert_int_equal(bpf_prog_test_run_opts(g_prog_fd, &opts), 0);
		g_total++;
		g_dropped += opts.retval == XDP_DROP;
		if (opts.retval != exp) {
			print_error("[%s] frame %ld: BPF %u, reference %u (%zu bytes)\n", fc->name, k,
				    opts.retval, exp, b.len);
			hexdump(b.buf, b.len);
			if (++bad == 5)
				break;
		}
	}
	free(rs.r);
	if (bad) {
		print_error("[%s] seed 0x%llx: replay with PW_SEED\n", fc->name,
			    (unsigned long long)g_seed);
		fail();
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level > LIBBPF_WARN ? 0 : vfprintf(stderr, fmt, ap);
}

static int setup_prog(void)
{
	struct bpf_map *m;

	g_skel = pinwall__open();
	if (!g_skel)
		return -1;
	/* private maps: nothing pinned by name on the host's bpffs */
	bpf_object__for_each_map(m, g_skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(g_skel))
		return -1;
	g_prog_fd = bpf_program__fd(g_skel->progs.pinwall_xdp);
	skel_rule_maps(g_skel, &g_maps);
	return 0;
}

int main(int argc, char **argv)
{
	enum { NSETS = sizeof(sets) / sizeof(sets[0]) };
	static struct fuzz_case cases[NSETS * 2];
	struct CMUnitTest tests[NSETS * 2];
	const char *env = getenv("PW_SEED"), *root;
	int failed, t = 0;

	g_seed = env && *env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	g_rng = g_seed ? g_seed : 1;
	if ((env = getenv("PW_FUZZ_FRAMES")) && *env)
		g_frames = strtol(env, NULL, 10);
	printf("test_fuzz: seed 0x%llx, %ld frames per case\n", (unsigned long long)g_seed, g_frames);
	fflush(stdout);
	libbpf_set_print(libbpf_print);
	root = scratch_root_make("pwt");
	if (!root || pw_ctx_init(&g_ctx, root))
		return 1;
	pw_log_setup(&g_ctx);
	libbpf_set_print(libbpf_print);
	if (setup_prog()) {
		fprintf(stderr, "open+load of the pinwall skeleton failed (errno %d); root?\n", errno);
		return 1;
	}
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	for (int i = 0; i < NSETS; i++) {
		for (int p = 0; p < 2; p++) {
			struct fuzz_case *c = &cases[t];

			snprintf(c->name, sizeof(c->name), "fuzz_%s_%s", sets[i].name,
				 p ? "deny" : "allow");
			c->set = &sets[i];
			c->policy = p ? PW_POLICY_DENY : PW_POLICY_ALLOW;
			tests[t++] = (struct CMUnitTest){ .name = c->name, .test_func = test_fuzz,
							  .initial_state = c };
		}
	}
	failed = _cmocka_run_group_tests("fail_closed_fuzz", tests, t, NULL, NULL);
	printf("test_fuzz: %llu frames: %llu malformed, %llu not IP, %llu IP (%llu later fragments with a known first); %llu dropped\n",
	       g_total, g_by_kind[REF_MALFORMED], g_by_kind[REF_NOT_IP], g_by_kind[REF_IP],
	       g_later_tracked, g_dropped);
	pinwall__destroy(g_skel);
	return failed ? 1 : 0;
}
