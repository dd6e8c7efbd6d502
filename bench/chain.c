// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The chain's per-packet cost (BPF_PROG_TEST_RUN, like bench/cost.c): the
 * built-in program on a 64-byte UDP frame it passes, with its chain slot
 * empty, with a no-op XDP program chained as it is, and with the same
 * program chained as `--then` chains it (its verdict counted by the
 * appended instructions, lib/chain_count.c). Each figure is the median of
 * @runs runs of @repeat frames; the differences are the tail call's and
 * the count's cost.
 * Usage: build/bench/chain [OBJ [REPEAT [RUNS]]] (OBJ: build/objs/chained.o)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall.skel.h"
#include "pktbuild.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One run of @repeat frames: ns per frame; -1 on failure. */
static double run_once(int fd, struct pb *f, int repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf, .data_size_in = f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o) || o.retval != XDP_PASS)
		return -1;
	return o.duration;
}

/* The three cases interleaved run by run (a busy machine slows them
 * alike), @slot_fds[c] in the slot for case c (-1: empty); medians. */
static int measure(int xdp, int slot, const int *slot_fds, struct pb *f, int repeat, int runs,
		   double *med)
{
	static double t[3][64];
	__u32 zero = 0;

	for (int i = 0; i < runs; i++) {
		for (int c = 0; c < 3; c++) {
			if (slot_fds[c] < 0)
				bpf_map_delete_elem(slot, &zero);
			else
				bpf_map_update_elem(slot, &zero, &slot_fds[c], BPF_ANY);
			if ((t[c][i] = run_once(xdp, f, repeat)) < 0)
				return -1;
		}
	}
	for (int c = 0; c < 3; c++) {
		qsort(t[c], runs, sizeof(double), cmp);
		med[c] = t[c][runs / 2];
	}
	return 0;
}

/* The no-op program of @path, loaded; counted into @stats_fd unless -1. */
static struct bpf_object *noop(struct pw_ctx *ctx, const char *path, int stats_fd, int *fd)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p, *want = NULL;

	if (!obj)
		return NULL;
	bpf_object__for_each_program(p, obj) {
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "noop"));
		if (!strcmp(bpf_program__name(p), "noop"))
			want = p;
	}
	if (!want || (stats_fd >= 0 && pw_chain_count_insns(ctx, want, stats_fd)) ||
	    bpf_object__load(obj)) {
		bpf_object__close(obj);
		return NULL;
	}
	*fd = bpf_program__fd(want);
	return obj;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "build/objs/chained.o";
	int repeat = argc > 2 ? atoi(argv[2]) : 1000000, runs = argc > 3 ? atoi(argv[3]) : 9;
	struct bpf_object *plain, *counted;
	int plain_fd, counted_fd, stats_fd, xdp, slot;
	struct pinwall *skel = pinwall__open();
	struct pw_ctx ctx = { 0 };
	struct bpf_map *m;
	double none, tail, count, med[3];
	struct pb f;

	/* never libbpf's own pinning: the shared maps would land in /sys/fs/bpf */
	if (skel) {
		bpf_object__for_each_map(m, skel->obj)
			bpf_map__set_pin_path(m, NULL);
		if (pinwall__load(skel)) {
			pinwall__destroy(skel);
			skel = NULL;
		}
	}
	pb_init(&f);
	pb_eth(&f, ETH_P_IP);
	pb_ipv4(&f, IPPROTO_UDP, 5, 0);
	pb_udp(&f, 40000, 53);
	pb_payload(&f, 64 - f.len);
	pb_finish(&f);
	stats_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "pw_chain_stats", 4, 8,
				  PW_CHAIN_VERDICTS, NULL);
	if (!skel || stats_fd < 0 || runs < 1 || runs > 64 || repeat < 1) {
		fprintf(stderr, "chain: cannot load the built-in program: %s\n", strerror(errno));
		return 1;
	}
	plain = noop(&ctx, path, -1, &plain_fd);
	counted = noop(&ctx, path, stats_fd, &counted_fd);
	if (!plain || !counted) {
		fprintf(stderr, "chain: cannot load program 'noop' of '%s' %s\n", path, ctx.err);
		return 1;
	}
	xdp = bpf_program__fd(skel->progs.pinwall_xdp);
	slot = bpf_map__fd(skel->maps.pw_chain);
	if (measure(xdp, slot, (int[]){ -1, plain_fd, counted_fd }, &f, repeat, runs, med)) {
		fprintf(stderr, "chain: BPF_PROG_TEST_RUN failed: %s\n", strerror(errno));
		return 1;
	}
	none = med[0];
	tail = med[1];
	count = med[2];
	printf("%-44s %8s %10s\n", "pinwall_xdp, 64-byte UDP frame it passes", "ns/frame", "vs empty");
	printf("%-44s %8.1f %10s\n", "chain slot empty (the tail call falls through)", none, "");
	printf("%-44s %8.1f %+10.1f\n", "no-op program chained, not counted", tail, tail - none);
	printf("%-44s %8.1f %+10.1f\n", "no-op program chained as --then does", count, count - none);
	printf("(median of %d runs of %d frames; the last line's extra over the second is the verdict count)\n",
	       runs, repeat);
	bpf_object__close(plain);
	bpf_object__close(counted);
	pinwall__destroy(skel);
	return 0;
}
