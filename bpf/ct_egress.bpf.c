// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The egress flow recorder of `ct established` (abi.h, bpf/ct.h): a tc
 * program at each interface's egress, loaded by pinwall next to the XDP
 * program and sharing its pw_ct map. It records the flows the host opens:
 * a TCP SYN (without ACK) creates a flow, later TCP packets only refresh
 * one; every UDP datagram; ICMP/ICMPv6 echo requests. It never drops or
 * changes a packet. Headers are read with bpf_skb_load_bytes, so large
 * (GSO) packets are never linearized.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pinwall/abi.h"

#define PW_CT_EGRESS
#include "ct.h"

#define PW_TC_ACT_UNSPEC (-1)
#define PW_ETH_P_IP      0x0800
#define PW_ETH_P_IPV6    0x86DD
#define PW_ETH_P_8021Q   0x8100
#define PW_ETH_P_8021AD  0x88A8

/* Only refresh a flow's time when it is this old: fewer writes. */
#define PW_CT_REFRESH_NS 1000000000ULL

/* L3 at @off: the key's addresses and protocol; the L4 offset, or -1. */
static __always_inline int pw_ct_l3(struct __sk_buff *skb, __u32 off, __u16 proto,
				    struct pw_ct_key *k)
{
	if (proto == bpf_htons(PW_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) || ip.ihl < 5 ||
		    (ip.frag_off & bpf_htons(0x1fff)))
			return -1;	/* a later fragment: no L4 header */
		k->family = 4;
		k->proto = ip.protocol;
		k->local[0] = ip.saddr;
		k->remote[0] = ip.daddr;
		return off + ip.ihl * 4;
	}
	if (proto == bpf_htons(PW_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		/* extension headers are not followed: such flows are not
		 * recorded, and their replies are not let in (fail closed) */
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		k->family = 6;
		k->proto = ip6.nexthdr;
		__builtin_memcpy(k->local, &ip6.saddr, 16);
		__builtin_memcpy(k->remote, &ip6.daddr, 16);
		return off + sizeof(ip6);
	}
	return -1;
}

/* L4 at @off: ports or echo id into @k, the new state; 0: not recorded.
 * *@create: may make a new flow (else only refresh one). */
static __always_inline __u32 pw_ct_l4(struct __sk_buff *skb, __u32 off, struct pw_ct_key *k,
				      bool *create)
{
	__u8 h[14];

	*create = true;
	if (k->proto == 6) {
		if (bpf_skb_load_bytes(skb, off, h, 14))
			return 0;
		k->lport = (h[0] << 8) | h[1];
		k->rport = (h[2] << 8) | h[3];
		if (h[13] & 0x05)		/* FIN or RST */
			return *create = false, PW_CT_CLOSING;
		if ((h[13] & 0x12) == 0x02)	/* SYN alone: the host opens */
			return PW_CT_SYN_SENT;
		*create = false;
		return PW_CT_ESTABLISHED;
	}
	if (k->proto == 17) {
		if (bpf_skb_load_bytes(skb, off, h, 4))
			return 0;
		k->lport = (h[0] << 8) | h[1];
		k->rport = (h[2] << 8) | h[3];
		return PW_CT_UDP;
	}
	if ((k->family == 4 && k->proto == 1) || (k->family == 6 && k->proto == 58)) {
		if (bpf_skb_load_bytes(skb, off, h, 8))
			return 0;
		if (h[0] != (k->family == 4 ? 8 : 128))
			return 0;	/* only echo requests open a flow */
		__builtin_memcpy(&k->lport, &h[4], 2);
		return PW_CT_ICMP;
	}
	return 0;
}

static __always_inline void pw_ct_record(const struct pw_ct_key *k, __u32 state, bool create)
{
	struct pw_ct_val *v = bpf_map_lookup_elem(&pw_ct, k), nv = {};
	__u64 now = bpf_ktime_get_coarse_ns();

	if (v) {
		/* the ACKs after our FIN keep the flow closing */
		if (v->state == PW_CT_CLOSING && state == PW_CT_ESTABLISHED)
			state = PW_CT_CLOSING;
		/* a SYN again (retransmit, port reuse) on an old flow restarts it */
		if (v->state == state && now - v->seen < PW_CT_REFRESH_NS)
			return;
		v->state = state;
		v->seen = now;
		return;
	}
	if (!create)
		return;
	nv.seen = now;
	nv.state = state;
	bpf_map_update_elem(&pw_ct, k, &nv, BPF_ANY);
}

SEC("tc")
int pinwall_ct_out(struct __sk_buff *skb)
{
	struct pw_ct_key k = {};
	__u32 off = 14, state;
	__u16 proto;
	bool create;
	int l4;

	if (bpf_skb_load_bytes(skb, 12, &proto, 2))
		return PW_TC_ACT_UNSPEC;
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(PW_ETH_P_8021Q) && proto != bpf_htons(PW_ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &proto, 2))
			return PW_TC_ACT_UNSPEC;
		off += 4;
	}
	l4 = pw_ct_l3(skb, off, proto, &k);
	if (l4 < 0)
		return PW_TC_ACT_UNSPEC;
	state = pw_ct_l4(skb, (__u32)l4, &k, &create);
	if (state)
		pw_ct_record(&k, state, create);
	return PW_TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
