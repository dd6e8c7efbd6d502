/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tiny frame builder for the BPF unit tests.
 *
 * A frame is built front to back into a struct pb: every pb_*() call appends
 * one header and returns the offset it was written at, so a test can poke a
 * field afterwards (a wrong version, a short tot_len, ...). pb_finish() fills
 * in the length fields (IPv4 tot_len + header checksum, IPv6 payload_len, UDP
 * len) of the last IP/UDP header from the final length and returns that
 * length. Headers are assembled in local structs and copied into the byte
 * buffer, so nothing depends on the alignment of the offsets.
 *
 * Byte order: all arguments are host order; the builder converts.
 */
#ifndef PINWALL_PKTBUILD_H
#define PINWALL_PKTBUILD_H

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>	/* struct ethhdr, ETH_P_*, ETH_ALEN, ETH_HLEN */
#include <netinet/in.h>		/* IPPROTO_* */
#include <netinet/ip.h>		/* struct iphdr */
#include <netinet/ip6.h>	/* struct ip6_hdr, ip6_ext, ip6_frag */
#include <netinet/tcp.h>	/* struct tcphdr */
#include <netinet/udp.h>	/* struct udphdr */

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define PB_MAX 2048

struct pb {
	uint8_t buf[PB_MAX];
	size_t len;
	size_t ip_off;		/* offset of the last IP header (ip_ver != 0) */
	int ip_ver;		/* 0: none yet, 4 or 6 */
	size_t udp_off;		/* offset of the last UDP header (has_udp) */
	int has_udp;
	size_t hdr_len;		/* end of all headers: set by the first pb_payload() */
	int has_payload;
};

static inline void pb_init(struct pb *b)
{
	memset(b, 0, sizeof(*b));
}

/* Append n bytes (src NULL: zeros); returns the offset they start at. */
static inline size_t pb_put(struct pb *b, const void *src, size_t n)
{
	size_t off = b->len;

	if (n > PB_MAX - b->len)
		abort();	/* a test bug, not a test failure */
	if (src)
		memcpy(b->buf + off, src, n);
	else
		memset(b->buf + off, 0, n);
	b->len += n;
	return off;
}

/* Overwrite a 16-bit field at off, host order in. */
static inline void pb_set16(struct pb *b, size_t off, uint16_t v)
{
	uint16_t n = htons(v);

	memcpy(b->buf + off, &n, 2);
}

/* Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, EtherType/TPID. */
static inline size_t pb_eth(struct pb *b, uint16_t proto)
{
	struct ethhdr eth = {
		.h_dest = { 0x02, 0, 0, 0, 0, 0x02 },
		.h_source = { 0x02, 0, 0, 0, 0, 0x01 },
		.h_proto = htons(proto),
	};

	return pb_put(b, &eth, sizeof(eth));
}

/*
 * One 802.1Q/802.1ad tag body (TCI + the EtherType that follows). The TPID
 * that announces the tag is the previous header's EtherType, i.e. the
 * argument of pb_eth() or of the previous pb_vlan().
 */
static inline size_t pb_vlan(struct pb *b, uint16_t vid, uint16_t next_proto)
{
	uint16_t tag[2] = { htons(vid & 0x0fff), htons(next_proto) };

	return pb_put(b, tag, sizeof(tag));
}

/*
 * IPv4, 10.0.0.1 -> 10.0.0.2, TTL 64. ihl 5..15: the (ihl-5)*4 option bytes
 * are NOPs ended by an EOL. frag is the host-order frag_off field (flags and
 * offset in 8-byte units, e.g. IP_MF | 185).
 */
static inline size_t pb_ipv4(struct pb *b, uint8_t proto, unsigned int ihl, uint16_t frag)
{
	struct iphdr iph = {
		.version = 4,
		.ihl = ihl & 0xf,
		.ttl = 64,
		.protocol = proto,
		.frag_off = htons(frag),
		.id = htons(0x1234),
		.saddr = htonl(0x0a000001),
		.daddr = htonl(0x0a000002),
	};
	size_t off = pb_put(b, &iph, sizeof(iph));

	if (ihl > 5) {
		size_t n = (ihl - 5) * 4;
		size_t o = pb_put(b, NULL, n);

		memset(b->buf + o, IPOPT_NOP, n - 1);
		b->buf[o + n - 1] = IPOPT_EOL;
	}
	b->ip_off = off;
	b->ip_ver = 4;
	return off;
}

/* IPv6, 2001:db8::1 -> 2001:db8::2, hop limit 64. */
static inline size_t pb_ipv6(struct pb *b, uint8_t nexthdr)
{
	struct ip6_hdr ip6 = {
		.ip6_flow = htonl(6u << 28),
		.ip6_nxt = nexthdr,
		.ip6_hlim = 64,
	};
	size_t off;

	ip6.ip6_src.s6_addr[0] = 0x20;
	ip6.ip6_src.s6_addr[1] = 0x01;
	ip6.ip6_src.s6_addr[2] = 0x0d;
	ip6.ip6_src.s6_addr[3] = 0xb8;
	ip6.ip6_dst = ip6.ip6_src;
	ip6.ip6_src.s6_addr[15] = 1;
	ip6.ip6_dst.s6_addr[15] = 2;
	off = pb_put(b, &ip6, sizeof(ip6));
	b->ip_off = off;
	b->ip_ver = 6;
	return off;
}

/*
 * Hop-by-hop or destination options header of (hdrlen + 1) * 8 bytes; the
 * option space is one PadN option (hdrlen 0: 6 bytes, PadN of length 4).
 */
static inline size_t pb_ipv6_opts(struct pb *b, uint8_t nexthdr, uint8_t hdrlen)
{
	size_t n = ((size_t)hdrlen + 1) * 8;
	struct ip6_ext ext = { .ip6e_nxt = nexthdr, .ip6e_len = hdrlen };
	size_t off = pb_put(b, &ext, sizeof(ext));
	size_t o = pb_put(b, NULL, n - sizeof(ext));

	b->buf[o] = 1;				/* PadN */
	b->buf[o + 1] = (uint8_t)(n - sizeof(ext) - 2);
	return off;
}

#define pb_ipv6_hbh(b, nh, hdrlen)	pb_ipv6_opts(b, nh, hdrlen)
#define pb_ipv6_dstopts(b, nh, hdrlen)	pb_ipv6_opts(b, nh, hdrlen)

/* Routing header of (hdrlen + 1) * 8 bytes: type 0, segments left 0. */
static inline size_t pb_ipv6_rthdr(struct pb *b, uint8_t nexthdr, uint8_t hdrlen)
{
	size_t n = ((size_t)hdrlen + 1) * 8;
	struct ip6_rthdr rt = { .ip6r_nxt = nexthdr, .ip6r_len = hdrlen };
	size_t off = pb_put(b, &rt, sizeof(rt));

	pb_put(b, NULL, n - sizeof(rt));
	return off;
}

/* Fragment header: offset in 8-byte units, mf = more fragments. */
static inline size_t pb_ipv6_frag(struct pb *b, uint8_t nexthdr, uint16_t offset, int mf)
{
	struct ip6_frag fh = {
		.ip6f_nxt = nexthdr,
		.ip6f_offlg = htons((uint16_t)(offset << 3) | (mf ? 1 : 0)),
		.ip6f_ident = htonl(0xcafe),
	};

	return pb_put(b, &fh, sizeof(fh));
}

/*
 * TCP with data offset doff (in 32-bit words). doff >= 5: (doff-5)*4 option
 * bytes of NOPs follow; doff < 5 is only written into the field (the 20-byte
 * fixed header is still appended).
 */
static inline size_t pb_tcp(struct pb *b, uint16_t sport, uint16_t dport, unsigned int doff)
{
	struct tcphdr th = {
		.source = htons(sport),
		.dest = htons(dport),
		.seq = htonl(1),
		.doff = doff & 0xf,
		.syn = 1,
		.window = htons(65535),
	};
	size_t off = pb_put(b, &th, sizeof(th));

	if (doff > 5) {
		size_t n = (doff - 5) * 4;
		size_t o = pb_put(b, NULL, n);

		memset(b->buf + o, TCPOPT_NOP, n);
	}
	return off;
}

static inline size_t pb_udp(struct pb *b, uint16_t sport, uint16_t dport)
{
	struct udphdr uh = { .source = htons(sport), .dest = htons(dport) };
	size_t off = pb_put(b, &uh, sizeof(uh));

	b->udp_off = off;
	b->has_udp = 1;
	return off;
}

/* ICMP / ICMPv6: type, code, checksum and the 4-byte rest of header. */
static inline size_t pb_icmp_common(struct pb *b, uint8_t type, uint8_t code)
{
	uint8_t h[8] = { type, code, 0, 0, 0x00, 0x01, 0x00, 0x01 };

	return pb_put(b, h, sizeof(h));
}

#define pb_icmp(b)	pb_icmp_common(b, 8, 0)		/* echo request */
#define pb_icmp6(b)	pb_icmp_common(b, 128, 0)	/* echo request */

/* n bytes of payload (a counting pattern); marks where the headers end. */
static inline size_t pb_payload(struct pb *b, size_t n)
{
	size_t off = pb_put(b, NULL, n);
	size_t i;

	for (i = 0; i < n; i++)
		b->buf[off + i] = (uint8_t)i;
	if (!b->has_payload) {
		b->hdr_len = off;
		b->has_payload = 1;
	}
	return off;
}

static inline uint16_t pb_csum16(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Fill in the length fields from the final length (and the IPv4 header
 * checksum); returns the frame length. Without a payload, hdr_len becomes
 * the whole frame.
 */
static inline size_t pb_finish(struct pb *b)
{
	if (!b->has_payload)
		b->hdr_len = b->len;
	if (b->ip_ver == 4) {
		size_t ihl = (b->buf[b->ip_off] & 0xf) * 4;

		pb_set16(b, b->ip_off + 2, (uint16_t)(b->len - b->ip_off));
		pb_set16(b, b->ip_off + 10, 0);
		if (ihl >= 20 && b->ip_off + ihl <= b->len)
			pb_set16(b, b->ip_off + 10, pb_csum16(b->buf + b->ip_off, ihl));
	} else if (b->ip_ver == 6) {
		pb_set16(b, b->ip_off + 4, (uint16_t)(b->len - b->ip_off - 40));
	}
	if (b->has_udp)
		pb_set16(b, b->udp_off + 4, (uint16_t)(b->len - b->udp_off));
	return b->len;
}

#endif /* PINWALL_PKTBUILD_H */
