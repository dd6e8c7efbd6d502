// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * No program, only the maps pinwall keeps its load record and the record of
 * an operation under way in. Built like the packet path so the records
 * carry BTF and `bpftool map dump` names their fields.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pinwall/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_meta);
} pw_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_intent);
} pw_intent SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
