/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The harness the rule tests share: one private skeleton instance with its
 * rule maps, the set in force, per-rule counter snapshots, running one
 * frame through the program, and the group teardown.
 */
#ifndef PW_RULEHARNESS_H
#define PW_RULEHARNESS_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>
#include "pinwall/abi.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"

static struct pinwall *g_skel;
static struct pw_ctx g_ctx;
static struct pw_rules_maps g_maps;
static int ncpus, g_prog_fd, g_stats_fd;
static uint64_t g_seed;
static unsigned long long g_applies;
static unsigned long long g_pkts;	/* packet cases run, all tests */
static struct pw_ruleset g_cur;		/* the set in force (ids as applied) */

#define SNAP_MAX 8192			/* ids covered by a counter snapshot */
static __u32 *g_keys;
static struct pw_datarec *g_percpu;

static void stat_one(__u32 id, struct pw_datarec *out)
{
	struct pw_datarec v[ncpus];

	*out = (struct pw_datarec){ 0 };
	if (bpf_map_lookup_elem(g_stats_fd, &id, v)) {
		print_error("lookup pw_rule_stats[%u]: errno %d\n", id, errno);
		fail();
	}
	for (int c = 0; c < ncpus; c++) {
		out->rx_packets += v[c].rx_packets;
		out->rx_bytes += v[c].rx_bytes;
	}
}

/* Counters of ids 0..n-1, summed over CPUs: one batch syscall. */
static void stats_snap(__u32 n, struct pw_datarec *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 count = n, out_batch = 0;
	int err;

	assert_true(n <= SNAP_MAX);
	err = bpf_map_lookup_batch(g_stats_fd, NULL, &out_batch, g_keys, g_percpu, &count, &bo);
	if ((err && errno != ENOENT) || count != n) {
		print_error("batch lookup of pw_rule_stats: err %d errno %d count %u of %u\n",
			    err, errno, count, n);
		fail();
	}
	memset(out, 0, n * sizeof(*out));
	for (__u32 i = 0; i < n; i++) {
		__u32 k = g_keys[i];

		assert_true(k < n);
		for (int c = 0; c < ncpus; c++) {
			out[k].rx_packets += g_percpu[(size_t)i * ncpus + c].rx_packets;
			out[k].rx_bytes += g_percpu[(size_t)i * ncpus + c].rx_bytes;
		}
	}
}

static void read_config(struct pw_config *cfg)
{
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(g_maps.fd[PW_RM_CONFIG], &zero, cfg), 0);
}

/* ids 0..max id of the set + slack, for snapshots */
static __u32 snap_span(const struct pw_ruleset *rs)
{
	__u32 m = 0;

	for (int i = 0; i < rs->n; i++)
		if (rs->ids[i] > m)
			m = rs->ids[i];
	m += 16;
	return m > SNAP_MAX ? SNAP_MAX : m;
}

static __u32 run_frame(const struct pb *b)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = b->buf,
		.data_size_in = (__u32)b->len,
		.repeat = 1,
	);
	int err = bpf_prog_test_run_opts(g_prog_fd, &opts);

	if (err) {
		print_error("BPF_PROG_TEST_RUN: %d (errno %d), frame of %zu bytes\n", err, errno, b->len);
		fail();
	}
	g_pkts++;
	return opts.retval;
}

static void pin_to(pthread_t t, int cpu)
{
	cpu_set_t cs;

	if (cpu < 0)
		return;
	CPU_ZERO(&cs);
	CPU_SET(cpu, &cs);
	pthread_setaffinity_np(t, sizeof(cs), &cs);	/* best effort */
}

static __u64 action_count(__u32 action)
{
	struct pw_datarec v[ncpus];
	__u64 n = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(g_skel->maps.xdp_stats_map), &action, v), 0);
	for (int c = 0; c < ncpus; c++)
		n += v[c].rx_packets;
	return n;
}

static int group_teardown(void **state)
{
	(void)state;
	pw_ruleset_free(&g_cur);
	pinwall__destroy(g_skel);	/* closes the map fds in g_maps */
	g_skel = NULL;
	return 0;
}

#endif
