// SPDX-License-Identifier: GPL-2.0
/* A tutorial-style user object: one XDP program and the classic per-CPU
 * per-action record map, no pinning attribute. The migration tests' variants
 * (tutorial_*.bpf.c) change one thing each through the macros below and
 * include this file. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#ifndef TUTORIAL_FIELDS
#define TUTORIAL_FIELDS __u64 rx_packets; __u64 rx_bytes;
#endif
#ifndef TUTORIAL_MAP_TYPE
#define TUTORIAL_MAP_TYPE BPF_MAP_TYPE_PERCPU_ARRAY
#endif
#ifndef TUTORIAL_SLOTS
#define TUTORIAL_SLOTS (XDP_REDIRECT + 1)
#endif

struct datarec {
	TUTORIAL_FIELDS
};

struct {
	__uint(type, TUTORIAL_MAP_TYPE);
	__uint(max_entries, TUTORIAL_SLOTS);
	__type(key, __u32);
	__type(value, struct datarec);
} xdp_stats_map SEC(".maps");

SEC("xdp")
int xdp_stats_func(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;
	struct datarec *rec = bpf_map_lookup_elem(&xdp_stats_map, &action);

	if (rec) {
		rec->rx_packets++;
		rec->rx_bytes += ctx->data_end - ctx->data;
	}
	return action;
}

char LICENSE[] SEC("license") = "GPL";
