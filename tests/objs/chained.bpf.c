// SPDX-License-Identifier: GPL-2.0
/*
 * User programs to chain after pinwall (`load --then`): each counts the
 * frames it sees in its own map `seen` (pinned below the interface's
 * chain/maps/), then: pass them all, drop UDP to port CHAIN_DROP_PORT,
 * reflect UDP to port CHAIN_TX_PORT (XDP_TX), or do nothing (the benchmark).
 * An xdp.frags program and a tc program stand for objects that cannot be
 * chained. chained_clash.bpf.c reuses this file with another `seen`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_ALEN 6
#define CHAIN_DROP_PORT 9
#define CHAIN_TX_PORT   7

#ifndef SEEN_VALUE
#define SEEN_VALUE __u64
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, SEEN_VALUE);
} seen SEC(".maps");

static __always_inline void count_seen(void)
{
	__u32 zero = 0;
	SEEN_VALUE *n = bpf_map_lookup_elem(&seen, &zero);

	if (n)
		__sync_fetch_and_add((__u64 *)n, 1);
}

/* The UDP destination port of an untagged IPv4 frame without options; 0: other. */
static __always_inline __u16 udp_dport(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return 0;
	return bpf_ntohs(udp->dest);
}

SEC("xdp")
int count_pass(struct xdp_md *ctx)
{
	(void)ctx;
	count_seen();
	return XDP_PASS;
}

SEC("xdp")
int drop_port(struct xdp_md *ctx)
{
	count_seen();
	return udp_dport(ctx) == CHAIN_DROP_PORT ? XDP_DROP : XDP_PASS;
}

/* Swap the MAC addresses and send the frame back out (the peer sees its
 * own frame come back only when its side runs NAPI; the verdict counts). */
SEC("xdp")
int reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	count_seen();
	if (udp_dport(ctx) != CHAIN_TX_PORT || (void *)(eth + 1) > end)
		return XDP_PASS;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int noop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("xdp.frags")
int frags(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("tc")
int not_xdp(struct __sk_buff *skb)
{
	(void)skb;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
