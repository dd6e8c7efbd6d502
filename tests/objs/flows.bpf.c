// SPDX-License-Identifier: GPL-2.0
/* A user object with a hash map: per-UDP-source-port counters, for the
 * migration tests (max_entries changes; entries must fit). The variants
 * flows_small and flows_big include this file with another FLOWS_MAX. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IPV4 0x0800

#ifndef FLOWS_MAX
#define FLOWS_MAX 64
#endif

struct flow_rec {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOWS_MAX);
	__type(key, __u32);
	__type(value, struct flow_rec);
} flows SEC(".maps");

SEC("xdp")
int xdp_flows(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	struct flow_rec *r, one = { 1, 0 };
	__u32 port;

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV4) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	port = bpf_ntohs(udp->source);
	one.bytes = end - data;
	r = bpf_map_lookup_elem(&flows, &port);
	/* another CPU may create the entry first: then count into it */
	if (!r && !bpf_map_update_elem(&flows, &port, &one, BPF_NOEXIST))
		return XDP_PASS;
	if (!r)
		r = bpf_map_lookup_elem(&flows, &port);
	if (r) {
		__sync_fetch_and_add(&r->packets, 1);
		__sync_fetch_and_add(&r->bytes, end - data);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
