// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * CPU steering (bpf/steer.h) through BPF_PROG_TEST_RUN: a passed frame is
 * redirected when its CPU has a cpumap entry and passes when not (never
 * dropped), a dropped frame stays dropped, the redirect is counted in the
 * XDP_REDIRECT slot, and the flow hash is symmetric, spreads flows and
 * keeps the fragments of a datagram together.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pinwall/abi.h"
#include "pinwall.skel.h"
#include "skelrules.h"
#include "pktbuild.h"


/* A UDP/IPv4 frame from saddr:sport to daddr:dport (host byte order). */
static void flow_frame(struct pb *b, __u32 saddr, __u32 daddr, __u16 sport, __u16 dport)
{
	size_t ip;
	__u32 s = htonl(saddr), d = htonl(daddr);

	pb_init(b);
	pb_eth(b, ETH_P_IP);
	ip = pb_ipv4(b, IPPROTO_UDP, 5, 0);
	memcpy(b->buf + ip + 12, &s, 4);
	memcpy(b->buf + ip + 16, &d, 4);
	pb_udp(b, sport, dport);
	pb_payload(b, 18);
	pb_finish(b);
}

static __u32 run(struct pinwall *s, const struct pb *b)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = b->buf, .data_size_in = (__u32)b->len);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(s->progs.pinwall_xdp), &opts), 0);
	return opts.retval;
}

/* Steer over @n CPUs of @cpus; a cpumap entry only for those in @entries. */
static void steer(struct pinwall *s, __u32 n, const __u32 *cpus, __u32 n_entries,
		  const __u32 *entries)
{
	struct pw_steer_cpus c = { .n = n };
	struct bpf_cpumap_val v = { .qsize = 64 };
	__u32 zero = 0;

	for (__u32 i = 0; i < n; i++)
		c.cpu[i] = cpus[i];
	for (__u32 i = 0; i < n_entries; i++)
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(s->maps.pw_steer), &entries[i], &v, 0), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(s->maps.pw_steer_cpus), &zero, &c, 0), 0);
}

static __u64 action_packets(struct pinwall *s, __u32 action)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pw_datarec rec[ncpu];
	__u64 sum = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(s->maps.xdp_stats_map), &action, rec), 0);
	for (int i = 0; i < ncpu; i++)
		sum += rec[i].rx_packets;
	return sum;
}

static void t_off_passes(void **state)
{
	struct pinwall *s = skel_open_private(XDP_PASS);
	struct pb b;

	(void)state;
	assert_non_null(s);
	flow_frame(&b, 0x0a000001, 0x0a000002, 40000, 53);
	assert_int_equal(run(s, &b), XDP_PASS);
	pinwall__destroy(s);
}

static void t_redirect_counted_fallback_pass(void **state)
{
	struct pinwall *s = skel_open_private(XDP_PASS);
	__u32 cpu0 = 0;
	struct pb b;

	(void)state;
	assert_non_null(s);
	steer(s, 1, &cpu0, 1, &cpu0);
	flow_frame(&b, 0x0a000001, 0x0a000002, 40000, 53);
	assert_int_equal(run(s, &b), XDP_REDIRECT);
	assert_int_equal(action_packets(s, XDP_REDIRECT), 1);
	assert_int_equal(action_packets(s, XDP_PASS), 0);
	/* the entry gone: the frame passes, it is never dropped */
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(s->maps.pw_steer), &cpu0), 0);
	assert_int_equal(run(s, &b), XDP_PASS);
	assert_int_equal(action_packets(s, XDP_PASS), 1);
	assert_int_equal(action_packets(s, XDP_DROP), 0);
	pinwall__destroy(s);
}

static void t_drop_before_redirect(void **state)
{
	struct pinwall *s = skel_open_private(XDP_DROP);
	__u32 cpu0 = 0;
	struct pb b;

	(void)state;
	assert_non_null(s);
	steer(s, 1, &cpu0, 1, &cpu0);
	flow_frame(&b, 0x0a000001, 0x0a000002, 40000, 53);
	assert_int_equal(run(s, &b), XDP_DROP);
	assert_int_equal(action_packets(s, XDP_REDIRECT), 0);
	pinwall__destroy(s);
}

/* Two CPUs listed, an entry for the first only: REDIRECT says the flow hashed
 * to it, PASS to the other. A flow and its reverse agree; flows spread. */
static void t_symmetric_spread(void **state)
{
	struct pinwall *s = skel_open_private(XDP_PASS);
	__u32 cpus[2] = { 0, 1 }, first = 0, redirected = 0;
	struct pb b;

	(void)state;
	assert_non_null(s);
	steer(s, 2, cpus, 1, &first);
	for (__u32 i = 0; i < 64; i++) {
		__u32 sa = 0x0a000001 + i * 7919, da = 0xc0a80001;
		__u16 sp = 40000 + i, dp = 443;
		__u32 v, r;

		flow_frame(&b, sa, da, sp, dp);
		v = run(s, &b);
		flow_frame(&b, da, sa, dp, sp);
		r = run(s, &b);
		assert_int_equal(v, r);
		assert_true(v == XDP_REDIRECT || v == XDP_PASS);
		redirected += v == XDP_REDIRECT;
	}
	/* 64 flows over 2 CPUs: far from all on one */
	assert_in_range(redirected, 12, 52);
	pinwall__destroy(s);
}

/* The pieces of one fragmented datagram go to one CPU, whatever its ports. */
static void t_fragments_together(void **state)
{
	struct pinwall *s = skel_open_private(XDP_PASS);
	__u32 cpus[2] = { 0, 1 }, first = 0;

	(void)state;
	assert_non_null(s);
	steer(s, 2, cpus, 1, &first);
	for (__u32 i = 0; i < 32; i++) {
		__u32 sa = htonl(0x0a000001 + i * 104729);
		__u32 v[2];

		for (int k = 0; k < 2; k++) {
			struct pb b;
			size_t ip;

			pb_init(&b);
			pb_eth(&b, ETH_P_IP);
			/* first fragment (MF, offset 0, with the UDP header), then a later one */
			ip = pb_ipv4(&b, IPPROTO_UDP, 5, k ? 185 : IP_MF);
			memcpy(b.buf + ip + 12, &sa, 4);
			if (!k)
				pb_udp(&b, 40000 + i, 53);
			pb_payload(&b, 64);
			pb_finish(&b);
			v[k] = run(s, &b);
		}
		assert_int_equal(v[0], v[1]);
	}
	pinwall__destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_off_passes),
		cmocka_unit_test(t_redirect_counted_fallback_pass),
		cmocka_unit_test(t_drop_before_redirect),
		cmocka_unit_test(t_symmetric_spread),
		cmocka_unit_test(t_fragments_together),
	};

	return cmocka_run_group_tests_name("test_steer", tests, NULL, NULL);
}
