/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Timed blocks: drop IP packets by source address (abi.h has the maps).
 * One hash probe for the exact address, then the prefix trie. An entry past
 * its expiry never drops: the packet path deletes an expired exact entry on
 * sight, and every block command sweeps, so they go away without a daemon.
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

/* A live entry counts the hit; an expired one is deleted (@key in @map;
 * NULL: the trie, whose entry's own key the match does not give: the next
 * block command sweeps it). */
static __always_inline bool pw_block_hit(struct pw_block_val *v, void *map, void *key)
{
	__u64 exp;

	if (!v)
		return false;
	exp = v->expires_ns;
	if (exp && exp <= bpf_ktime_get_boot_ns()) {
		if (map)
			bpf_map_delete_elem(map, key);
		return false;
	}
	__sync_fetch_and_add(&v->hits, 1);
	return true;
}

/* Is the packet's source blocked? IP only: @pkt->l3 is IPv4 or IPv6. */
static __always_inline bool pw_blocked(struct pw_pkt *pkt)
{
	struct pw_block_pfx_key pk = {};
	struct pw_block_val *v;

	if (pkt->l3 == PW_C_IPV4) {
		v = bpf_map_lookup_elem(&pw_block4, &pkt->saddr[0]);
		if (pw_block_hit(v, &pw_block4, &pkt->saddr[0]))
			return true;
		pk.family = 4;
		pk.prefixlen = 32 + 32;
	} else {
		v = bpf_map_lookup_elem(&pw_block6, pkt->saddr);
		if (pw_block_hit(v, &pw_block6, pkt->saddr))
			return true;
		pk.family = 6;
		pk.prefixlen = 32 + 128;
	}
	__builtin_memcpy(pk.addr, pkt->saddr, sizeof(pk.addr));
	v = bpf_map_lookup_elem(&pw_block_pfx, &pk);
	return pw_block_hit(v, NULL, NULL);
}

#endif
