/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * CPU steering (load --steer): a frame the rules passed is redirected into
 * a cpumap, so the rest of its way through the stack (skb, GRO, tc,
 * netfilter, the socket) runs on the CPU its flow hashes to, not on the CPU
 * of the receive queue. Drops never get here: the verdict comes first.
 *
 * The hash is symmetric (both directions of a flow give the same value): a
 * host forwarding between two steered interfaces handles both directions of
 * a connection on one CPU, where its conntrack entry is warm; on a single
 * interface it costs nothing. Fragments hash by their addresses alone
 * (later ones carry no ports), so every piece of a datagram meets on the
 * same CPU.
 */
#ifndef PINWALL_BPF_STEER_H
#define PINWALL_BPF_STEER_H

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, PW_STEER_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} pw_steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_steer_cpus);
} pw_steer_cpus SEC(".maps");

/* One 32-bit word mixed in (a multiply-xorshift round). */
static __always_inline __u32 pw_steer_mix(__u32 h, __u32 w)
{
	h ^= w;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

/* One end of the flow: its address and port, mixed on their own. */
static __always_inline __u32 pw_steer_end(const __u32 *addr, __u16 port)
{
	__u32 h = port;

	h = pw_steer_mix(h, addr[0]);
	h = pw_steer_mix(h, addr[1]);
	h = pw_steer_mix(h, addr[2]);
	return pw_steer_mix(h, addr[3]);
}

/* Symmetric: the two ends are added, so swapping them changes nothing. */
static __always_inline __u32 pw_steer_hash(const struct pw_pkt *pkt)
{
	/* fragments: addresses only (a later one has no ports, nor here a protocol) */
	bool whole = pkt->frag == PW_FRAG_NONE, ports = whole && pkt->has_ports;
	__u32 h;

	h = pw_steer_end(pkt->saddr, ports ? pkt->sport : 0) +
	    pw_steer_end(pkt->daddr, ports ? pkt->dport : 0);
	h = pw_steer_mix(h, whole ? pkt->l4_proto : 0);
	return pw_steer_mix(h, pkt->l3);
}

/*
 * The verdict of a passed frame: XDP_REDIRECT when steering is on and the
 * CPU's cpumap entry is there; otherwise XDP_PASS (the lookup failure's
 * fallback is the low bits of the flags), never a drop.
 */
static __always_inline __u32 pw_steer_verdict(const struct pw_pkt *pkt)
{
	struct pw_steer_cpus *c;
	__u32 zero = 0, n, i;

	if (pkt->l3 == PW_C_L3_OTHER)
		return XDP_PASS;	/* no flow to hash (ARP & co.): stays here */
	c = bpf_map_lookup_elem(&pw_steer_cpus, &zero);
	if (!c)
		return XDP_PASS;
	n = c->n;
	if (!n || n > PW_STEER_MAX_CPUS)
		return XDP_PASS;
	i = pw_steer_hash(pkt) % n;
	barrier_var(i);		/* the bound below is for the verifier: keep it */
	if (i >= PW_STEER_MAX_CPUS)
		return XDP_PASS;
	return bpf_redirect_map(&pw_steer, c->cpu[i], XDP_PASS);
}

#endif
