// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but rx_packets narrowed to 32 bits: counts could
 * be cut, so reuse is refused. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct datarec {
	__u32 rx_packets;
	__u64 rx_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_REDIRECT + 1);
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
