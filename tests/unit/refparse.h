/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reference parser of the fail-closed tests: what a frame is, written
 * from the rules in bpf/parse.h's header comment, independently of the BPF
 * code (byte offsets and lengths, no header structs). It says whether the
 * frame is malformed (dropped whatever the policy), not IP (the policy
 * decides, ARP exempt), or an IP packet with the fields the rules see, and
 * for fragments the key the first fragment's verdict is kept under.
 */
#ifndef PINWALL_REFPARSE_H
#define PINWALL_REFPARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "pinwall/abi.h"
#include "pinwall/rules.h"

enum ref_kind { REF_MALFORMED, REF_NOT_IP, REF_IP };
enum ref_frag { REF_WHOLE, REF_FIRST, REF_LATER };

struct ref_frame {
	enum ref_kind kind;
	bool link_ctl;		/* ARP; IPv6 ND/RD as the kernel accepts it */
	enum ref_frag frag;
	struct pw_ref_pkt pkt;	/* REF_IP: what the rules see */
	uint8_t key[40];	/* fragments: addresses, id, family, protocol */
};

static inline unsigned int ref_u16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static inline uint32_t ref_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ref_key(struct ref_frame *r, uint32_t id, int family, int proto)
{
	memset(r->key, 0, sizeof(r->key));
	memcpy(r->key, r->pkt.saddr, 16);
	memcpy(r->key + 16, r->pkt.daddr, 16);
	memcpy(r->key + 32, &id, 4);
	r->key[36] = (uint8_t)family;
	r->key[37] = (uint8_t)(family == 4 ? proto : 0);
}

/* The fixed L4 header at @off must end within @stop. false: malformed. */
static inline bool ref_l4(const uint8_t *f, size_t off, size_t stop, struct ref_frame *r)
{
	int proto = (int)r->pkt.proto;
	bool icmp = r->pkt.family == 4 ? proto == 1 : proto == 58;

	if (proto == 6 || proto == 17) {
		size_t need = proto == 6 ? 20 : 8;

		if (off + need > stop || (proto == 6 && (f[off + 12] >> 4) < 5))
			return false;
		r->pkt.has_ports = true;
		r->pkt.sport = ref_u16(f + off);
		r->pkt.dport = ref_u16(f + off + 2);
		return true;
	}
	return !icmp || off + 8 <= stop;
}

static inline void ref_ipv4(const uint8_t *f, size_t len, size_t off, struct ref_frame *r)
{
	size_t hl, tot;
	unsigned int fo;
	uint32_t id;

	if (off + 20 > len || f[off] >> 4 != 4 || (f[off] & 15) < 5)
		return;
	hl = (size_t)(f[off] & 15) * 4;
	tot = ref_u16(f + off + 2);
	if (tot < hl || off + tot > len)
		return;
	r->pkt.family = 4;
	memcpy(r->pkt.saddr, f + off + 12, 4);
	memcpy(r->pkt.daddr, f + off + 16, 4);
	r->pkt.proto = f[off + 9];
	fo = ref_u16(f + off + 6);
	id = ref_u16(f + off + 4);
	if (fo & 0x1fff) {
		r->frag = REF_LATER;
		r->pkt.frag_later = true;
	} else if (fo & 0x2000) {
		r->frag = REF_FIRST;
	}
	if (r->frag != REF_WHOLE)
		ref_key(r, id, 4, (int)r->pkt.proto);
	if (r->frag == REF_LATER || ref_l4(f, off + hl, off + tot, r))
		r->kind = REF_IP;
}

static inline bool ref_v6_ext(int nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

static inline void ref_ipv6(const uint8_t *f, size_t len, size_t off, struct ref_frame *r)
{
	size_t stop, cur = off + 40;
	int nh, n;

	if (off + 40 > len || f[off] >> 4 != 6)
		return;
	stop = off + 40 + ref_u16(f + off + 4);
	if (stop > len)
		return;
	r->pkt.family = 6;
	memcpy(r->pkt.saddr, f + off + 8, 16);
	memcpy(r->pkt.daddr, f + off + 24, 16);
	nh = f[off + 6];
	for (n = 0; ref_v6_ext(nh); n++) {
		if (n == PW_MAX_V6_EXT)
			return;		/* the chain goes on past the bound */
		if (nh == 44) {
			unsigned int fo;

			if (cur + 8 > stop || r->frag == REF_FIRST)
				return;
			fo = ref_u16(f + cur + 2);
			if (fo & 0xfff8) {
				r->frag = REF_LATER;
				r->pkt.frag_later = true;
				ref_key(r, ref_u32(f + cur + 4), 6, 0);
				r->kind = REF_IP;
				return;
			}
			r->frag = (fo & 1) ? REF_FIRST : REF_WHOLE;
			if (r->frag == REF_FIRST)
				ref_key(r, ref_u32(f + cur + 4), 6, 0);
			nh = f[cur];
			cur += 8;
		} else {
			size_t hl;

			if (cur + 2 > stop)
				return;
			hl = ((size_t)f[cur + 1] + 1) * 8;
			if (cur + hl > stop)
				return;
			nh = f[cur];
			cur += hl;
		}
	}
	r->pkt.proto = (uint32_t)nh;
	if (!ref_l4(f, cur, stop, r))
		return;
	r->kind = REF_IP;
	/* ND/RD: straight after the IPv6 header, hop limit 255, code 0 */
	if (f[off + 6] == 58 && f[off + 7] == 255 && f[cur] >= 133 && f[cur] <= 137 && f[cur + 1] == 0)
		r->pkt.link_ctl = r->link_ctl = true;
}

static inline void ref_parse(const uint8_t *f, size_t len, struct ref_frame *r)
{
	size_t off = 12;
	unsigned int type;
	int tags;

	memset(r, 0, sizeof(*r));
	r->kind = REF_MALFORMED;
	if (len < 14)
		return;
	type = ref_u16(f + 12);
	for (tags = 0; type == 0x8100 || type == 0x88a8; tags++) {
		if (tags == PW_MAX_VLAN || off + 6 > len)
			return;		/* too many tags, or a tag cut short */
		off += 4;
		type = ref_u16(f + off);
	}
	off += 2;
	if (type == 0x0800)
		ref_ipv4(f, len, off, r);
	else if (type == 0x86dd)
		ref_ipv6(f, len, off, r);
	else
		r->kind = REF_NOT_IP, r->link_ctl = type == 0x0806;
}

#endif
