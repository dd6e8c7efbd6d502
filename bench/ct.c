// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of `ct established` (BPF_PROG_TEST_RUN on a private
 * skeleton instance, as bench/cost): a TCP ACK (IPv4 and IPv6) against
 *   baseline  "pass proto tcp"                  (an ordered rule, no ct)
 *   hit       "pass ct established proto tcp"   its reply flow is in pw_ct
 *   miss      the same, the flow not recorded  (the lookup fails: policy deny)
 * with pw_ct holding --flows other flows. Prints the median of --rounds
 * calls of --repeat runs each, in ns per packet (the kernel's own timing).
 * Needs root. Usage: ct [--repeat N] [--rounds N] [--flows N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pinwall/abi.h"
#include "pinwall/pinwall.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"
#include "scratchroot.h"
#include "skelrules.h"

static struct pw_ctx ctx;
static int repeat = 1000000, rounds = 5, nflows = 10000;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench/ct: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	scratch_root_remove();
	exit(1);
}

static void on_signal(int sig)
{
	scratch_root_remove();
	_exit(128 + sig);
}

static void apply(struct pinwall *s, const char *rule)
{
	struct pw_ruleset rs = { .policy = PW_POLICY_DENY };
	struct pw_rules_maps m = { 0 };
	struct pw_apply_report rep;
	struct pw_ord_rule o;
	struct pw_rule r;
	char err[256];

	if (pw_rule_parse_full(rule, &r, &o, err, sizeof(err)) || pw_ruleset_push(&rs, &r, &o, 0))
		die("rule '%s': %s", rule, err);
	skel_rule_maps(s, &m);
	if (pw_rules_apply(&ctx, &m, &rs, PW_POLICY_DENY, &rep))
		die("apply '%s': %s", rule, ctx.err);
	pw_ruleset_free(&rs);
}

/* A TCP ACK from the peer 192.0.2.1:443 (or 2001:db8::1) to the host's port 40000. */
static size_t frame(struct pb *b, int fam)
{
	static const __u8 peer6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const __u8 host6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	__u32 peer4 = htonl(0xc0000201), host4 = htonl(0xc0000202);
	size_t ip, th;

	pb_init(b);
	pb_eth(b, fam == 4 ? ETH_P_IP : ETH_P_IPV6);
	if (fam == 4) {
		ip = pb_ipv4(b, IPPROTO_TCP, 5, 0);
		memcpy(b->buf + ip + 12, &peer4, 4);
		memcpy(b->buf + ip + 16, &host4, 4);
	} else {
		ip = pb_ipv6(b, IPPROTO_TCP);
		memcpy(b->buf + ip + 8, peer6, 16);
		memcpy(b->buf + ip + 24, host6, 16);
	}
	th = pb_tcp(b, 443, 40000, 5);
	b->buf[th + 13] = 0x10;		/* ACK */
	return pb_finish(b);
}

static void flow(int fd, int fam, __u16 lport, bool add)
{
	struct pw_ct_key k = { .family = (__u8)fam, .proto = IPPROTO_TCP, .lport = lport, .rport = 443 };
	struct pw_ct_val v = { .state = PW_CT_ESTABLISHED };
	struct timespec ts;

	if (fam == 4) {
		k.local[0] = htonl(0xc0000202);
		k.remote[0] = htonl(0xc0000201);
	} else {
		k.local[0] = k.remote[0] = htonl(0x20010db8);
		k.local[3] = htonl(2);
		k.remote[3] = htonl(1);
	}
	if (!add) {
		bpf_map_delete_elem(fd, &k);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.seen = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		die("cannot add a flow: %s", strerror(errno));
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Median ns per packet; the verdict must be @want. */
static __u32 measure(int prog, struct pb *b, size_t len, __u32 want)
{
	__u32 d[64];

	for (int i = 0; i < rounds; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b->buf, .data_size_in = (__u32)len,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(prog, &o))
			die("test run: %s", strerror(errno));
		if (o.retval != want)
			die("verdict %u, expected %u", o.retval, want);
		d[i] = o.duration;
	}
	qsort(d, rounds, sizeof(d[0]), cmp_u32);
	return d[rounds / 2];
}

int main(int argc, char **argv)
{
	struct pinwall *s;
	struct bpf_map *m;
	const char *root;
	int prog, ct;

	for (int i = 1; i + 1 < argc; i += 2) {
		int v = atoi(argv[i + 1]);

		if (!strcmp(argv[i], "--repeat") && v > 0)
			repeat = v;
		else if (!strcmp(argv[i], "--rounds") && v > 0 && v <= 64)
			rounds = v;
		else if (!strcmp(argv[i], "--flows") && v >= 0 && v < PW_CT_FLOWS)
			nflows = v;
		else
			die("usage: ct [--repeat N] [--rounds 1-64] [--flows 0-%d]", PW_CT_FLOWS - 1);
	}
	root = scratch_root_make("pwbench-ct-");
	if (!root || pw_ctx_init(&ctx, root))
		die("no scratch root: %s", ctx.err);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!(s = pinwall__open()))
		die("cannot open the skeleton: %s", strerror(errno));
	bpf_object__for_each_map(m, s->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(s))
		die("cannot load the skeleton (root?): %s", strerror(errno));
	prog = bpf_program__fd(s->progs.pinwall_xdp);
	ct = bpf_map__fd(s->maps.pw_ct);
	for (int i = 0; i < nflows; i++)
		flow(ct, i % 2 ? 6 : 4, (__u16)(1000 + i / 2), true);
	printf("  %d flows in pw_ct; median of %d x %d runs, ns per packet (TCP ACK)\n", nflows,
	       rounds, repeat);
	printf("  %-5s %10s %10s %10s\n", "", "baseline", "ct hit", "ct miss");
	for (int fam = 4; fam <= 6; fam += 2) {
		struct pb b;
		size_t len = frame(&b, fam);
		__u32 base, hit, miss;

		apply(s, "pass proto tcp");
		base = measure(prog, &b, len, XDP_PASS);
		apply(s, "pass ct established proto tcp");
		flow(ct, fam, 40000, true);
		hit = measure(prog, &b, len, XDP_PASS);
		flow(ct, fam, 40000, false);
		miss = measure(prog, &b, len, XDP_DROP);
		printf("  IPv%d  %10u %10u %10u\n", fam, base, hit, miss);
	}
	pinwall__destroy(s);
	scratch_root_remove();
	return 0;
}
