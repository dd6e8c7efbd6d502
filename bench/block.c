// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench/block: per-packet cost of timed blocks, by BPF_PROG_TEST_RUN of the
 * built-in program (private maps: nothing pinned or attached), side by side:
 *   none      no block at all
 *   1M miss   1M exact IPv4 blocks + 1k prefixes, the frame's source in none
 *   1M hit    the same, the frame's source blocked (dropped)
 * for an IPv4 UDP frame. Each figure: the minimum over --rounds of the
 * kernel's ns per run at --repeat runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pinwall/abi.h"
#include "pktbuild.h"
#include "pinwall.skel.h"

static int run(int fd, struct pb *b, size_t len, int repeat, __u32 *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b->buf, .data_size_in = (__u32)len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	*ret = o.retval;
	return (int)o.duration;
}

static size_t frame(struct pb *b, __u32 saddr)
{
	pb_init(b);
	pb_eth(b, ETH_P_IP);
	pb_ipv4(b, IPPROTO_UDP, 5, 0);
	memcpy(b->buf + b->ip_off + 12, &saddr, 4);
	pb_udp(b, 40000, 9);
	pb_payload(b, 18);
	return pb_finish(b);
}

/* @n exact IPv4 entries 11.0.0.0 upwards, and 1000 /24 prefixes in 12/8. */
static int fill(struct pinwall *s, __u32 n)
{
	int fd4 = bpf_map__fd(s->maps.pw_block4), fdp = bpf_map__fd(s->maps.pw_block_pfx);
	struct pw_block_val v = { 0 };
	__u32 chunk = 8192, *keys = calloc(chunk, 4);
	struct pw_block_val *vals = calloc(chunk, sizeof(*vals));

	if (!keys || !vals)
		return -1;
	for (__u32 i = 0; i < n; i += chunk) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		__u32 c = n - i < chunk ? n - i : chunk;

		for (__u32 k = 0; k < c; k++) {
			keys[k] = htonl(0x0b000000u + i + k);
			vals[k] = v;
		}
		if (bpf_map_update_batch(fd4, keys, vals, &c, &bo))
			return -1;
	}
	for (__u32 i = 0; i < 1000; i++) {
		struct pw_block_pfx_key k = { .prefixlen = 32 + 24, .family = 4 };

		k.addr[0] = htonl(0x0c000000u + (i << 8));
		if (bpf_map_update_elem(fdp, &k, &v, BPF_ANY))
			return -1;
	}
	free(keys);
	free(vals);
	return 0;
}

static int best(int fd, struct pb *b, size_t len, int repeat, int rounds, __u32 *ret)
{
	int m = -1;

	for (int r = 0; r < rounds; r++) {
		int d = run(fd, b, len, repeat, ret);

		if (d >= 0 && (m < 0 || d < m))
			m = d;
	}
	return m;
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1000000, rounds = argc > 2 ? atoi(argv[2]) : 5;
	__u32 n = argc > 3 ? (__u32)atoi(argv[3]) : 1000000, r0, r1, r2;
	struct pinwall *s = pinwall__open();
	struct bpf_map *m;
	struct pb miss, hit;
	size_t lm, lh;
	int fd, none, dmiss, dhit;

	if (!s)
		return 1;
	bpf_object__for_each_map(m, s->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(s)) {
		fprintf(stderr, "block bench: cannot load the built-in program\n");
		return 1;
	}
	fd = bpf_program__fd(s->progs.pinwall_xdp);
	lm = frame(&miss, htonl(0x0a000001));
	lh = frame(&hit, htonl(0x0b000000u + n / 2));
	none = best(fd, &miss, lm, repeat, rounds, &r0);
	if (fill(s, n)) {
		fprintf(stderr, "block bench: cannot fill the block maps: %s\n", strerror(errno));
		return 1;
	}
	/* interleaved again: the load of the machine shifts both the same way */
	dmiss = best(fd, &miss, lm, repeat, rounds, &r1);
	none = none < 0 ? -1 : none;
	dhit = best(fd, &hit, lh, repeat, rounds, &r2);
	printf("%-24s %8s %8s\n", "case", "ns/pkt", "verdict");
	printf("%-24s %8d %8s\n", "no blocks", none, r0 == XDP_PASS ? "pass" : "?");
	printf("%-24s %8d %8s\n", "1M+1k blocks, miss", dmiss, r1 == XDP_PASS ? "pass" : "?");
	printf("%-24s %8d %8s\n", "1M+1k blocks, hit", dhit, r2 == XDP_DROP ? "drop" : "?");
	printf("ratio miss/none: %.2f\n", none > 0 ? (double)dmiss / none : 0.0);
	pinwall__destroy(s);
	return 0;
}
