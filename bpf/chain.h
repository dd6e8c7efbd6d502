/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Chaining (`load --then OBJ`, docs/CHAINING.md): a frame pinwall passed
 * goes on to a user's XDP program by a tail call through pw_chain, a
 * one-slot program array pinned per interface. An empty slot makes the
 * tail call fall through, and pinwall's own XDP_PASS stands: one lookup.
 * The user program's verdict is final (a tail call does not return);
 * user space counts it with a few instructions it appends to that program.
 */
#ifndef PW_CHAIN_H
#define PW_CHAIN_H

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, PW_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} pw_chain SEC(".maps");

/* Returns only when no program is chained. */
static __always_inline void pw_chain_pass(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &pw_chain, 0);
}

#endif /* PW_CHAIN_H */
