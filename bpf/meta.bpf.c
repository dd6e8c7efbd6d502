// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * No program, only the map pinwall keeps its load record in. Built like the
 * packet path so the record carries BTF and `bpftool map dump` names its
 * fields.
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
