// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pinwall's XDP program: parse -> classify -> verdict -> count.
 * Every frame, however short or broken, is counted and gets a verdict; the
 * program never returns XDP_ABORTED.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pinwall/abi.h"
#include "parse.h"

/*
 * The verdict for frames no rule decides. Read-only data, fixed at load;
 * user space may set it before load (the tests use it to drive every
 * action counter).
 */
const volatile __u32 pw_default_verdict = XDP_PASS;

/* Per-interface maps: pinned in the interface's pin directory. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_ACTION_MAX);
	__type(key, __u32);
	__type(value, struct pw_datarec);
} xdp_stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_CLASS_MAX);
	__type(key, __u32);
	__type(value, struct pw_datarec);
} pw_classes SEC(".maps");

static __always_inline void pw_count(void *map, __u32 idx, __u64 bytes)
{
	struct pw_datarec *rec = bpf_map_lookup_elem(map, &idx);

	/* per-CPU slot: no other writer, no atomics needed */
	if (rec) {
		rec->rx_packets++;
		rec->rx_bytes += bytes;
	}
}

SEC("xdp")
int pinwall_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct pw_pkt pkt = {};
	__u32 verdict;

	pw_parse(data, data_end, &pkt);

	if (pkt.malformed) {
		pw_count(&pw_classes, PW_C_MALFORMED, bytes);
	} else {
		pw_count(&pw_classes, pkt.l3, bytes);
		if (pkt.l3 != PW_C_L3_OTHER)
			pw_count(&pw_classes, pkt.l4, bytes);
	}

	verdict = pw_default_verdict;
	if (verdict == XDP_ABORTED || verdict >= PW_ACTION_MAX)
		verdict = XDP_PASS;

	pw_count(&xdp_stats_map, verdict, bytes);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
