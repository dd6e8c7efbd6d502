// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench/capture: what captured drops cost per dropped frame, with
 * BPF_PROG_TEST_RUN. One 64-byte UDP/IPv4 frame, dropped by the policy
 * (deny, no rule), through four programs:
 *   no-capture-code  the built-in program built with PW_NO_CAPTURE
 *   capture-off      the built-in program, nobody capturing (the default)
 *   capture-limited  capturing at --rate 1000: nearly every frame is over
 *                    the limit (one compare per frame, counted suppressed)
 *   capture-every    capturing with no limit: every frame copied to the
 *                    ring buffer (drained between calls)
 * and, given an object file as third argument (e.g. the built-in program of
 * the version before captured drops, built from its tree), that program too
 * ("before"). Each is run REPEAT times per call (capture-every: 1000, what
 * the ring holds), ROUNDS rounds interleaved; the minimum of the wall time
 * per run (sub-ns resolution, syscall included) and of the kernel's own
 * figure (whole ns) are printed. All maps are private; nothing is pinned
 * or attached. Needs root. Usage: capture [REPEAT [ROUNDS [OBJECT]]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pinwall/abi.h"
#include "pinwall.skel.h"
#include "capture_base.skel.h"
#include "pktbuild.h"

enum { C_BASE, C_OFF, C_LIMITED, C_EVERY, C_BEFORE, N_C };
static const char *const names[N_C] = {
	"no-capture-code", "capture-off", "capture-limited", "capture-every", "before",
};

struct contestant {
	int prog_fd, cfg_fd;
	struct ring_buffer *rb;
	double wall[64];
	__u32 dur[64];
};

static void die(const char *what)
{
	fprintf(stderr, "capture: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void private_maps(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
}

/* Policy deny in set 0: every IP frame no rule decides is dropped. */
static void deny(int cfg_fd)
{
	struct pw_config c = { .active = 0, .policy = { PW_POLICY_DENY, PW_POLICY_DENY } };
	__u32 zero = 0;

	if (bpf_map_update_elem(cfg_fd, &zero, &c, 0))
		die("pw_config");
}

static void capture_on(int fd, __u64 interval_ns, __u64 burst_ns)
{
	struct pw_capture_cfg c = { .until = ~0ULL >> 1, .interval_ns = interval_ns,
				    .burst_ns = burst_ns, .snaplen = PW_CAP_SNAPLEN };
	__u32 zero = 0;

	if (bpf_map_update_elem(fd, &zero, &c, 0))
		die("pw_capture");
}

static int drain(void *ctx, void *data, size_t size)
{
	(void)ctx; (void)data; (void)size;
	return 0;
}

static void setup(struct contestant *cs)
{
	struct capture_base *b = capture_base__open();
	struct pinwall *p[3];

	if (!b)
		die("open");
	private_maps(b->obj);
	if (capture_base__load(b))
		die("load the baseline");
	cs[C_BASE].prog_fd = bpf_program__fd(b->progs.pinwall_xdp);
	deny(bpf_map__fd(b->maps.pw_config));
	for (int i = 0; i < 3; i++) {
		struct contestant *c = &cs[C_OFF + i];

		if (!(p[i] = pinwall__open()))
			die("open");
		private_maps(p[i]->obj);
		if (pinwall__load(p[i]))
			die("load the built-in program");
		c->prog_fd = bpf_program__fd(p[i]->progs.pinwall_xdp);
		c->cfg_fd = bpf_map__fd(p[i]->maps.pw_capture);
		deny(bpf_map__fd(p[i]->maps.pw_config));
		c->rb = ring_buffer__new(bpf_map__fd(p[i]->maps.pw_drops), drain, NULL, NULL);
		if (!c->rb)
			die("ring buffer");
	}
	capture_on(cs[C_LIMITED].cfg_fd, 1000000, 99 * 1000000ULL);
	capture_on(cs[C_EVERY].cfg_fd, 0, 0);
}

/* The program of another build, from its object file. */
static void setup_before(struct contestant *c, const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	if (!obj)
		die(path);
	private_maps(obj);
	if (bpf_object__load(obj))
		die(path);
	p = bpf_object__find_program_by_name(obj, "pinwall_xdp");
	if (!p)
		die("no pinwall_xdp in the object");
	c->prog_fd = bpf_program__fd(p);
	deny(bpf_map__fd(bpf_object__find_map_by_name(obj, "pw_config")));
}

static void run(struct contestant *c, struct pb *f, int repeat, int round)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf, .data_size_in = (__u32)f->len,
		    .repeat = repeat);
	struct timespec a, b;

	if (c->rb)
		ring_buffer__consume(c->rb);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (bpf_prog_test_run_opts(c->prog_fd, &o))
		die("test run");
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (o.retval != XDP_DROP) {
		fprintf(stderr, "capture: the frame was not dropped (verdict %u)\n", o.retval);
		exit(1);
	}
	c->wall[round] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / repeat;
	c->dur[round] = o.duration;
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1000000, rounds = argc > 2 ? atoi(argv[2]) : 7;
	int n = argc > 3 ? N_C : C_BEFORE;
	struct contestant cs[N_C] = { 0 };
	cpu_set_t set;
	struct pb f;

	if (repeat < 1000 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: capture [REPEAT >= 1000 [ROUNDS 1..64 [OBJECT]]]\n");
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET((int)sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pb_init(&f);
	pb_eth(&f, ETH_P_IP);
	pb_ipv4(&f, IPPROTO_UDP, 5, 0);
	pb_udp(&f, 40000, 9);
	pb_payload(&f, 64 - f.len);
	pb_finish(&f);
	setup(cs);
	if (argc > 3)
		setup_before(&cs[C_BEFORE], argv[3]);
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++)
			run(&cs[i], &f, i == C_EVERY ? 1000 : repeat, r);
	printf("%-16s %12s %10s\n", "program", "wall ns/run", "kernel ns");
	for (int i = 0; i < n; i++) {
		double w = cs[i].wall[0];
		__u32 d = cs[i].dur[0];

		for (int r = 1; r < rounds; r++) {
			w = cs[i].wall[r] < w ? cs[i].wall[r] : w;
			d = cs[i].dur[r] < d ? cs[i].dur[r] : d;
		}
		printf("%-16s %12.2f %10u\n", names[i], w, d);
	}
	return 0;
}
