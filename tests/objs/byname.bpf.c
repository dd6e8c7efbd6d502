// SPDX-License-Identifier: GPL-2.0
/* Two XDP programs and a map pinned by name: one map shared by every
 * interface the object is loaded on. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} local_hits SEC(".maps");

static __always_inline void hit(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_hits, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&local_hits, &zero);
	if (v)
		(*v)++;
}

SEC("xdp")
int xdp_count_pass(struct xdp_md *ctx)
{
	(void)ctx;
	hit();
	return XDP_PASS;
}

SEC("xdp")
int xdp_count_drop(struct xdp_md *ctx)
{
	(void)ctx;
	hit();
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
