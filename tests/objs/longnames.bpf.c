// SPDX-License-Identifier: GPL-2.0
/* Map names longer than the kernel keeps (15 characters): one pinned by
 * name (shared), one per interface. Pins carry the full names, so repin
 * must take them from the load record, not from the kernel. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_frames_by_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_interface_frames SEC(".maps");

SEC("xdp")
int xdp_count_long(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_frames_by_name, &zero);

	(void)ctx;
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&per_interface_frames, &zero);
	if (v)
		(*v)++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
