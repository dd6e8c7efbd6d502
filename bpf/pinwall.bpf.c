// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pinwall's XDP program: parse -> classify (rules) -> verdict -> count.
 * Every frame, however short or broken, is counted and gets a verdict; the
 * program never returns XDP_ABORTED. It fails closed: a frame it cannot
 * classify with certainty is dropped (parse.h says which).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pinwall/abi.h"
#include "parse.h"
#include "ct.h"
#include "rules.h"
#ifndef PW_NO_BLOCK
#include "block.h"
#else
#define pw_blocked(pkt) false
#endif
#include "capture.h"
#include "steer.h"
#include "chain.h"

/*
 * The verdict for frames no rule decides when the policy allows them.
 * Read-only data, fixed at load; user space may set it before load (the
 * tests use it to drive every action counter).
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

/*
 * Fragments: the verdict of a first fragment, kept for the later fragments of
 * the same datagram (keyed as the kernel's reassembly is: addresses, IP id,
 * and for IPv4 the protocol). A later fragment whose first fragment is not
 * known (not seen yet, or evicted) is decided by its addresses and the policy.
 */
struct pw_frag_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 id;
	__u8 l3;
	__u8 proto;		/* IPv4 only; 0 for IPv6 */
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_FRAG_TRACKED);
	__type(key, struct pw_frag_key);
	__type(value, __u32);	/* the first fragment's verdict */
} pw_frags SEC(".maps");

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

static __always_inline void pw_frag_key(const struct pw_pkt *pkt, struct pw_frag_key *k)
{
	__builtin_memcpy(k->saddr, pkt->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, pkt->daddr, sizeof(k->daddr));
	k->id = pkt->frag_id;
	k->l3 = pkt->l3;
	k->proto = pkt->l3 == PW_C_IPV4 ? pkt->l4_proto : 0;
	k->pad = 0;
}

/* The verdict of an IP packet by the rules, then the policy (@dflt: allow);
 * @why says what decided (read only for a drop). */
static __always_inline __u32 pw_decide_ip(struct pw_pkt *pkt, struct pw_config *cfg, __u32 set,
					  __u32 dflt, __u64 bytes, struct pw_why *why)
{
	struct pw_frag_key k;
	__u32 rule, *seen, verdict;
	struct pw_rule *r;

	if (pkt->frag != PW_FRAG_NONE)
		pw_frag_key(pkt, &k);
	if (pkt->frag == PW_FRAG_LATER) {
		seen = bpf_map_lookup_elem(&pw_frags, &k);
		if (seen) {
			why->reason = PW_DROP_FRAGMENT;
			return *seen;
		}
	}
	/* a later fragment without its first: addresses only (pw_classify) */
	rule = pw_classify(set, pkt, bytes);
	r = rule ? bpf_map_lookup_elem(&pw_rules, &rule) : NULL;
	if (r && (r->action == XDP_DROP || r->action == XDP_PASS)) {
		verdict = r->action;
		why->rule = rule;
		why->reason = PW_DROP_RULE;
		pw_count(&pw_rule_stats, rule, bytes);
	} else if (r && r->action == PW_ACT_LIMIT) {
		/* over the limit (a conforming packet went on: limit.h) */
		verdict = XDP_DROP;
		why->rule = rule;
		why->reason = PW_DROP_LIMIT;
		pw_count(&pw_rule_stats, rule, bytes);
	} else if (cfg->policy[set] == PW_POLICY_DENY && !pkt->link_ctl) {
		verdict = XDP_DROP;
		why->reason = PW_DROP_POLICY;
	} else {
		verdict = dflt;
	}
	if (pkt->frag == PW_FRAG_FIRST)
		bpf_map_update_elem(&pw_frags, &k, &verdict, BPF_ANY);
	return verdict;
}

/*
 * Malformed (or beyond the parser's bounds): dropped whatever the policy.
 * Not IP: the policy decides, but ARP always passes. IP: blocked sources
 * (block.h), then rules, then policy.
 */
static __always_inline __u32 pw_decide(struct pw_pkt *pkt, __u64 bytes, struct pw_why *why)
{
	__u32 zero = 0, set, dflt = pw_default_verdict;
	struct pw_config *cfg;

	if (dflt == XDP_ABORTED || dflt >= PW_ACTION_MAX)
		dflt = XDP_PASS;
	if (pkt->malformed) {
		why->reason = PW_DROP_MALFORMED;
		return XDP_DROP;
	}
	/* blocks before the rules; ND/RD control is exempt as from the policy */
	if (pkt->l3 != PW_C_L3_OTHER && !pkt->link_ctl && pw_blocked(pkt)) {
		why->reason = PW_DROP_BLOCK;
		return XDP_DROP;
	}
	cfg = bpf_map_lookup_elem(&pw_config, &zero);
	if (!cfg)
		return dflt;
	/* read once: the whole packet sees one set */
	set = READ_ONCE_ACTIVE(cfg) & 1;
	if (pkt->l3 == PW_C_L3_OTHER) {
		if (cfg->policy[set] == PW_POLICY_DENY && !pkt->link_ctl) {
			why->reason = PW_DROP_POLICY;
			return XDP_DROP;
		}
		return dflt;
	}
	return pw_decide_ip(pkt, cfg, set, dflt, bytes, why);
}

/*
 * The whole job on one frame, shared by the XDP program and the tc backstop:
 * parse, count the classes, decide, count the verdict. @tags_before: see
 * pw_parse_tags().
 */
static __always_inline __u32 pw_filter(void *data, void *data_end, __u64 bytes,
				       __u32 tags_before, struct pw_why *why, bool xdp)
{
	struct pw_pkt pkt = {};
	__u32 verdict;

	pw_parse_tags(data, data_end, &pkt, tags_before);

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

	verdict = pw_decide(&pkt, bytes, why);
	if (xdp && verdict == XDP_PASS)
		verdict = pw_steer_verdict(&pkt);	/* bpf/steer.h: XDP_REDIRECT when steered */
	pw_count_if(&xdp_stats_map, verdict, bytes);
	return verdict;
}

/*
 * The backstop (docs/LIFECYCLE.md): while the conversion of an earlier
 * version's bpf_link runs the tc program below beside this one, user space
 * sets pw_backstop to a random nonzero mark. XDP then writes it into the
 * metadata of every frame it passes, and tc lets such a frame go without
 * deciding or counting it again. Zero the rest of the time: one load.
 */
__u64 pw_backstop;

#define PW_READ_MARK() (*(volatile __u64 *)&pw_backstop)

static __always_inline void pw_mark_passed(struct xdp_md *ctx, __u64 mark)
{
	void *meta, *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(mark)))
		return;		/* no metadata here: tc counts it again */
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + sizeof(mark) <= data)
		__builtin_memcpy(meta, &mark, sizeof(mark));
}

SEC("xdp")
int pinwall_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* otherwise: the default verdict decided */
	struct pw_why why = { .reason = PW_DROP_DEFAULT };
	__u32 verdict = pw_filter(data, data_end, data_end - data, 0, &why, true);
	__u64 mark;

	if (verdict == XDP_DROP)
		pw_capture_drop(ctx, &why);
	if (verdict != XDP_PASS && verdict != XDP_REDIRECT)
		return verdict;
	if ((mark = PW_READ_MARK()))
		pw_mark_passed(ctx, mark);
	/* passed, not steered (load refuses both): the chained program decides */
	if (verdict == XDP_PASS)
		pw_chain_pass(ctx);
	return verdict;
}

/*
 * The backstop: the same job at tc ingress, loaded only by the conversion
 * ("?": never by an ordinary load), with every map of the XDP program it
 * stands in for. The frame starts at the Ethernet header as in XDP, but the
 * kernel has moved the outer VLAN tag (if any) into the skb: it counts as
 * a tag for the parser's bound and its 4 bytes for the byte counters. Only
 * XDP_DROP drops; every other verdict passes on to the next tc filter, if
 * another tool has one, as it would without the backstop.
 */
#define PW_TC_ACT_UNSPEC	(-1)	/* linux/pkt_cls.h: TC_ACT_UNSPEC, TC_ACT_SHOT */
#define PW_TC_ACT_SHOT		2

SEC("?tc")
int pinwall_tc(struct __sk_buff *skb)
{
	__u64 mark = PW_READ_MARK(), *meta = (void *)(long)skb->data_meta;
	__u32 tags = skb->vlan_present ? 1 : 0, verdict;
	__u64 bytes = skb->len + tags * 4;
	/* no capture here: the backstop runs for milliseconds */
	struct pw_why why = { .reason = PW_DROP_DEFAULT };

	/* passed by XDP already: decided and counted there */
	if (mark && (void *)(meta + 1) <= (void *)(long)skb->data && *meta == mark)
		return PW_TC_ACT_UNSPEC;
	/* the whole frame linear: headers are read up to the IP length; a
	 * failed pull leaves it short, so it is dropped as truncated */
	bpf_skb_pull_data(skb, skb->len);
	verdict = pw_filter((void *)(long)skb->data, (void *)(long)skb->data_end, bytes, tags,
			    &why, false);
	return verdict == XDP_DROP ? PW_TC_ACT_SHOT : PW_TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
