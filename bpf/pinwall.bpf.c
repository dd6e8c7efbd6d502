// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pinwall's XDP program: parse -> classify (rules) -> verdict -> count.
 * Every frame, however short or broken, is counted and gets a verdict; the
 * program never returns XDP_ABORTED.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pinwall/abi.h"
#include "parse.h"
#include "rules.h"

/*
 * The verdict for frames no rule decides. Read-only data, fixed at load;
 * user space may set it before load (the tests use it to drive every
 * action counter).
 */
const volatile __u32 pw_default_verdict = XDP_PASS;

#ifdef PW_TEST_V2
/*
 * A second version of this program, built only for the upgrade tests
 * (tests/objs/pinwall_v2.bpf.c): its counter record is reordered and grown,
 * and it has one more map. Upgrading to it must migrate every counter.
 */
struct pw_ifrec {
	__u64 rx_bytes;
	__u64 rx_packets;
	__u64 rx_large;		/* frames over 1000 bytes */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pw_sizes SEC(".maps");
#else
#define pw_ifrec pw_datarec
#endif

/* Per-interface maps: pinned in the interface's pin directory. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_ACTION_MAX);
	__type(key, __u32);
	__type(value, struct pw_ifrec);
} xdp_stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_CLASS_MAX);
	__type(key, __u32);
	__type(value, struct pw_ifrec);
} pw_classes SEC(".maps");

#define READ_ONCE_ACTIVE(cfg) (*(volatile __u32 *)&(cfg)->active)

static __always_inline void pw_count_if(void *map, __u32 idx, __u64 bytes)
{
	struct pw_ifrec *rec = bpf_map_lookup_elem(map, &idx);

	if (rec) {
		rec->rx_packets++;
		rec->rx_bytes += bytes;
#ifdef PW_TEST_V2
		rec->rx_large += bytes > 1000;
#endif
	}
}

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
		pw_count_if(&pw_classes, PW_C_MALFORMED, bytes);
	} else {
		pw_count_if(&pw_classes, pkt.l3, bytes);
		if (pkt.l3 != PW_C_L3_OTHER)
			pw_count_if(&pw_classes, pkt.l4, bytes);
	}
#ifdef PW_TEST_V2
	{
		__u32 b = bytes < 128 ? 0 : bytes < 512 ? 1 : bytes < 1024 ? 2 : 3;
		__u64 *n = bpf_map_lookup_elem(&pw_sizes, &b);

		if (n)
			(*n)++;
	}
#endif

	verdict = pw_default_verdict;
	if (verdict == XDP_ABORTED || verdict >= PW_ACTION_MAX)
		verdict = XDP_PASS;

	/* rules and the policy apply to IP traffic; other frames take the default */
	if (!pkt.malformed && pkt.l3 != PW_C_L3_OTHER) {
		__u32 zero = 0, rule;
		struct pw_config *cfg = bpf_map_lookup_elem(&pw_config, &zero);
		struct pw_rule *r;

		if (cfg) {
			/* read once: the whole packet sees one set */
			__u32 set = READ_ONCE_ACTIVE(cfg) & 1;

			rule = pw_classify(set, &pkt);
			r = rule ? bpf_map_lookup_elem(&pw_rules, &rule) : NULL;
			if (r && (r->action == XDP_DROP || r->action == XDP_PASS)) {
				verdict = r->action;
				pw_count(&pw_rule_stats, rule, bytes);
			} else if (cfg->policy[set] == PW_POLICY_DENY) {
				verdict = XDP_DROP;
			}
		}
	}

	pw_count_if(&xdp_stats_map, verdict, bytes);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
