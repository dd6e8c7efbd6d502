// SPDX-License-Identifier: GPL-2.0
/* A valid BPF object without any XDP program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("socket")
int sock_all(struct __sk_buff *skb)
{
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
