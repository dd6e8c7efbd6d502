// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The last step of a migration: add what the old program counted after the
 * first copy into the new map, while the new program counts into it too.
 * User space cannot add to a map value atomically; this program can. It is
 * run with BPF_PROG_TEST_RUN by a thread pinned to the CPU whose per-CPU
 * slot it changes, so its one atomic add per field can never split a plain
 * increment of the packet path on that CPU (that runs in softirq, which
 * this cannot interrupt). `target` is replaced by the migrated map before
 * load; pw_vsize is its value size, so the verifier bounds every offset.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pinwall/abi.h"

const volatile __u32 pw_vsize = 8;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 8);
} target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_merge_args);
} args SEC(".maps");

SEC("xdp")
int pw_merge_add(struct xdp_md *ctx)
{
	struct pw_merge_args *a;
	__u32 zero = 0;
	__u8 *v;

	(void)ctx;
	a = bpf_map_lookup_elem(&args, &zero);
	if (!a)
		return XDP_ABORTED;
	v = bpf_map_lookup_elem(&target, a->key);
	if (!v)
		return XDP_DROP;	/* no such key: user space inserts it */
	for (__u32 i = 0; i < PW_MERGE_OPS && i < a->n_ops; i++) {
		struct pw_merge_op *op = &a->ops[i];
		/* 64-bit, so the bound checked is the one used (no zero extension) */
		__u64 off = op->off, lim = pw_vsize;

		if (op->size == 8) {
			off &= ~7ull;
			if (lim < 8 || off > lim - 8)
				continue;
			if (op->set)
				*(__u64 *)(v + off) = op->val;
			else
				__sync_fetch_and_add((__u64 *)(v + off), op->val);
		} else if (op->size == 4) {
			off &= ~3ull;
			if (lim < 4 || off > lim - 4)
				continue;
			if (op->set)
				*(__u32 *)(v + off) = (__u32)op->val;
			else
				__sync_fetch_and_add((__u32 *)(v + off), (__u32)op->val);
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
