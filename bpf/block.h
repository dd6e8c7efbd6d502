/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Timed blocks: drop IP packets by source address (abi.h has the maps).
 * One hash probe for the exact address, then the prefix trie. An entry past
 * its expiry never drops, and hides no live shorter prefix; every block
 * command sweeps the expired ones away, so no daemon is needed.
 */
#ifndef PINWALL_BPF_BLOCK_H
#define PINWALL_BPF_BLOCK_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_BLOCK_EXACT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pw_block_val);
	PW_SHARED;
} pw_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_BLOCK_EXACT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_block_key6);
	__type(value, struct pw_block_val);
	PW_SHARED;
} pw_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PW_BLOCK_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_block_pfx_key);
	__type(value, struct pw_block_val);
	PW_SHARED;
} pw_block_pfx SEC(".maps");

/*
 * A live entry counts the hit. An expired one is left to the sweep of the
 * next block command: deleting it here could delete the entry a concurrent
 * `block add` of the same key just wrote.
 */
static __always_inline bool pw_block_live(struct pw_block_val *v)
{
	__u64 exp = v->expires_ns;

	if (exp && exp <= bpf_ktime_get_boot_ns())
		return false;
	__sync_fetch_and_add(&v->hits, 1);
	return true;
}

/* Nested prefixes the trie walk passes over when they have expired; deeper
 * than that (only stale entries no command swept) the frame is dropped:
 * a live shorter prefix may be below them. */
#define PW_BLOCK_WALK 24

/* The longest live prefix holding @pk's address: the trie gives only the
 * longest match, so below an expired one the walk asks again, shorter. */
static __always_inline bool pw_block_trie(struct pw_block_pfx_key *pk)
{
	struct pw_block_val *v;

	for (int i = 0; i < PW_BLOCK_WALK; i++) {
		v = bpf_map_lookup_elem(&pw_block_pfx, pk);
		if (!v)
			return false;
		if (pw_block_live(v))
			return true;
		if (!v->len || v->len >= pk->prefixlen - 32)
			return false;	/* no shorter prefix holds it (or a bad entry) */
		pk->prefixlen = 32 + v->len - 1;
	}
	return true;
}

/* Is the packet's source blocked? IP only: @pkt->l3 is IPv4 or IPv6. */
static __always_inline bool pw_blocked(struct pw_pkt *pkt)
{
	struct pw_block_pfx_key pk = {};
	struct pw_block_val *v;

	if (pkt->l3 == PW_C_IPV4) {
		v = bpf_map_lookup_elem(&pw_block4, &pkt->saddr[0]);
		if (v && pw_block_live(v))
			return true;
		pk.family = 4;
		pk.prefixlen = 32 + 32;
	} else {
		v = bpf_map_lookup_elem(&pw_block6, pkt->saddr);
		if (v && pw_block_live(v))
			return true;
		pk.family = 6;
		pk.prefixlen = 32 + 128;
	}
	__builtin_memcpy(pk.addr, pkt->saddr, sizeof(pk.addr));
	return pw_block_trie(&pk);
}

#endif
