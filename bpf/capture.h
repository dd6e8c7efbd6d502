/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Captured drops: a copy of the first bytes of a dropped frame, with the
 * deciding rule and the reason, into a ring buffer for `pinwall drops`.
 * Per-interface maps (pinned below the interface's maps/). abi.h describes
 * the enable word (a lease in CLOCK_MONOTONIC ns) and the shared limiter.
 *
 * The drop path pays one array lookup and one load while nobody captures;
 * everything else runs only while capture is on.
 */
#ifndef PINWALL_BPF_CAPTURE_H
#define PINWALL_BPF_CAPTURE_H

/* Why a frame got its verdict: read only when it is XDP_DROP. */
struct pw_why {
	__u32 rule;
	__u32 reason;		/* enum pw_drop_reason */
};

#ifndef PW_NO_CAPTURE
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PW_CAP_RING);
} pw_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);	/* user space renews the lease in place */
	__type(key, __u32);
	__type(value, struct pw_capture_cfg);
} pw_capture SEC(".maps");

#define PW_READ_ONCE_U64(x) (*(volatile __u64 *)&(x))

/* The shared limiter (abi.h): true when this frame may be written. Losing
 * the compare-and-swap to another CPU counts as over the limit: the limit
 * holds whatever the contention. */
static __always_inline bool pw_cap_admit(struct pw_capture_cfg *c, __u64 now)
{
	__u64 tat = PW_READ_ONCE_U64(c->tat), base = tat > now ? tat : now;

	if (base - now > c->burst_ns)
		return false;
	return __sync_val_compare_and_swap(&c->tat, tat, base + c->interval_ns) == tat;
}

static __noinline void pw_capture_on(struct xdp_md *ctx, struct pw_capture_cfg *c, __u64 until,
				     __u32 rule, __u32 reason)
{
	__u64 now = bpf_ktime_get_ns();
	struct pw_drop_event *e;
	__u64 snap, len;

	if (!ctx || !c)
		return;
	len = ctx->data_end - ctx->data;
	if (now >= until) {
		/* not renewed: the capturing process is gone. Off, unless it
		 * (or another) renewed it meanwhile. */
		__sync_val_compare_and_swap(&c->until, until, 0);
		return;
	}
	if (c->rule && c->rule != rule)
		return;
	if (!pw_cap_admit(c, now)) {
		__sync_fetch_and_add(&c->suppressed, 1);
		return;
	}
	e = bpf_ringbuf_reserve(&pw_drops, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&c->lost, 1);
		return;
	}
	e->ts = now;
	e->rule = rule;
	e->reason = reason;
	e->len = len;
	/* 64-bit, so the verifier keeps the bounds: 1..PW_CAP_SNAPLEN */
	snap = c->snaplen < len ? c->snaplen : len;
	if (snap > PW_CAP_SNAPLEN)
		snap = PW_CAP_SNAPLEN;
	if (snap < 1 || bpf_xdp_load_bytes(ctx, 0, e->data, snap))
		snap = 0;
	e->cap_len = snap;
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&c->captured, 1);
}

/* On the drop path only: the one check while nobody captures. */
static __always_inline void pw_capture_drop(struct xdp_md *ctx, const struct pw_why *why)
{
	__u32 zero = 0;
	struct pw_capture_cfg *c = bpf_map_lookup_elem(&pw_capture, &zero);
	__u64 until;

	if (!c || !(until = PW_READ_ONCE_U64(c->until)))
		return;
	pw_capture_on(ctx, c, until, why->rule, why->reason);
}
#else
/* the program without capture, for the cost benchmark's baseline */
#define pw_capture_drop(ctx, why) do { (void)(why); } while (0)
#endif

#endif /* PINWALL_BPF_CAPTURE_H */
