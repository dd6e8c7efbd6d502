// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of a rate-limited rule (BPF_PROG_TEST_RUN, the built-in
 * program on private maps), against the same match as a plain rule:
 *   plain           pass src 10.0.0.0/8 proto udp (decides)
 *   limit-conform   limit ... src 10.0.0.0/8 proto udp, within the rate,
 *                   then the plain rule decides (the bucket's update, the
 *                   walk on to the next rule)
 *   limit-excess    the same limit over its rate: it drops
 * Usage: limit [REPEAT] (default 2000000 runs per case). Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pinwall/abi.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"
#include "scratchroot.h"
#include "skelrules.h"

static struct pinwall *skel;
static struct pw_rules_maps maps;
static struct pw_ctx ctx;

static void die(const char *what)
{
	fprintf(stderr, "limit: %s: %s\n", what, ctx.err[0] ? ctx.err : strerror(errno));
	exit(1);
}

/* Apply @rules (NULL-terminated rule texts). */
static void apply(const char *const *rules)
{
	struct pw_ruleset rs = { .policy = PW_POLICY_ALLOW };
	struct pw_apply_report rep;
	char err[256];

	for (; *rules; rules++) {
		struct pw_rule r;
		struct pw_ord_rule o;

		if (pw_rule_parse_full(*rules, &r, &o, err, sizeof(err))) {
			fprintf(stderr, "limit: %s\n", err);
			exit(1);
		}
		if (pw_ruleset_push(&rs, &r, &o, 0))
			die("out of memory");
	}
	if (pw_rules_apply(&ctx, &maps, &rs, PW_POLICY_ALLOW, &rep))
		die("apply");
	pw_ruleset_free(&rs);
}

/* ns per run of the frame, and its verdict */
static double run(const struct pb *f, __u32 repeat, __u32 *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf, .data_size_in = (__u32)f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.pinwall_xdp), &o))
		die("BPF_PROG_TEST_RUN");
	*verdict = o.retval;
	return o.duration;
}

static void one(const char *name, const char *const *rules, const struct pb *f, __u32 repeat,
		double base)
{
	double best = 0;
	__u32 v = 0;

	apply(rules);
	for (int k = 0; k < 5; k++) {	/* the best of 5: the least disturbed */
		double ns = run(f, repeat, &v);

		if (!k || ns < best)
			best = ns;
	}
	printf("%-14s %8.1f ns/pkt  %+6.1f ns  verdict %-4s  %s\n", name, best, base ? best - base : 0.0,
	       v == XDP_DROP ? "drop" : v == XDP_PASS ? "pass" : "?", rules[0]);
}

int main(int argc, char **argv)
{
	static const char *const plain[] = { "pass proto udp src 10.0.0.0/8 dst 10.0.0.0/8", NULL };
	static const char *const conform[] = {
		"limit 10000000000 proto udp src 10.0.0.0/8", "pass proto udp src 10.0.0.0/8 dst 10.0.0.0/8", NULL };
	static const char *const excess[] = {
		"limit 1 burst 1 proto udp src 10.0.0.0/8", "pass proto udp src 10.0.0.0/8 dst 10.0.0.0/8", NULL };
	__u32 repeat = argc > 1 ? (__u32)strtoul(argv[1], NULL, 10) : 2000000, v;
	const char *root = scratch_root_make("pwb");
	struct bpf_map *m;
	struct pb f;
	double base;

	if (!root || pw_ctx_init(&ctx, root))
		die("pin root");
	if (!(skel = pinwall__open()))
		die("open");
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* private maps */
	if (pinwall__load(skel))
		die("load (root?)");
	skel_rule_maps(skel, &maps);
	pb_init(&f);
	pb_eth(&f, 0x0800);
	pb_ipv4(&f, 17, 5, 0);
	pb_udp(&f, 40000, 9);
	pb_payload(&f, 18);
	pb_finish(&f);
	printf("%-14s %8s         %8s\n", "case", "cost", "vs plain");
	apply(plain);
	run(&f, repeat, &v);	/* warm up */
	base = 0;
	for (int k = 0; k < 5; k++) {
		double ns = run(&f, repeat, &v);

		if (!k || ns < base)
			base = ns;
	}
	one("plain", plain, &f, repeat, 0);
	one("limit-conform", conform, &f, repeat, base);
	one("limit-excess", excess, &f, repeat, base);
	pinwall__destroy(skel);
	return 0;
}
