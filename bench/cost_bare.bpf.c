// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The floor for bench/cost: an XDP program that drops every frame. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int cost_bare_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
