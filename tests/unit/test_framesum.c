// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The frame summary of `pinwall drops` on IPv6 extension header chains:
 * each header's length is read by its own type (a fragment header is
 * always 8 bytes, whatever its reserved byte says). No kernel needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "pinwall/pinwall.h"

#define NH_HOP 0
#define NH_FRAG 44
#define NH_UDP 17

/* Ethernet + IPv6 (next header @nh) at the start of @f; returns 54. */
static unsigned int ipv6_head(__u8 *f, __u8 nh)
{
	memset(f, 0, 54);
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60;
	f[14 + 6] = nh;
	f[14 + 7] = 64;
	f[14 + 8 + 15] = 1;	/* ::1 -> ::2 */
	f[14 + 24 + 15] = 2;
	return 54;
}

static unsigned int udp(__u8 *f, unsigned int off, __u16 sport, __u16 dport)
{
	memset(f + off, 0, 8);
	f[off] = sport >> 8;
	f[off + 1] = sport & 0xff;
	f[off + 2] = dport >> 8;
	f[off + 3] = dport & 0xff;
	return off + 8;
}

/* hop-by-hop of 24 bytes (ext-len 2), then a first fragment, then UDP */
static void hop_len2_then_fragment(void **state)
{
	__u8 f[128];
	struct pw_frame_sum s;
	unsigned int off = ipv6_head(f, NH_HOP);

	(void)state;
	memset(f + off, 0xaa, 24);	/* an option to skip: type 0x1e, 20 bytes */
	f[off] = NH_FRAG;
	f[off + 1] = 2;
	f[off + 2] = 0x1e;
	f[off + 3] = 20;
	off += 24;
	memset(f + off, 0, 8);
	f[off] = NH_UDP;
	f[off + 3] = 1;		/* offset 0, more fragments */
	off += 8;
	off = udp(f, off, 5353, 53);
	pw_frame_summary(f, off, &s);
	assert_int_equal(s.family, 6);
	assert_int_equal(s.proto, NH_UDP);
	assert_false(s.truncated);
	assert_false(s.frag_later);
	assert_true(s.has_ports);
	assert_int_equal(s.sport, 5353);
	assert_int_equal(s.dport, 53);
}

/* a fragment header with its reserved byte 0xff is 8 bytes, not 2048 */
static void fragment_reserved_ff(void **state)
{
	__u8 f[128];
	struct pw_frame_sum s;
	unsigned int off = ipv6_head(f, NH_FRAG);

	(void)state;
	memset(f + off, 0, 8);
	f[off] = NH_UDP;
	f[off + 1] = 0xff;
	off += 8;
	off = udp(f, off, 1000, 2000);
	pw_frame_summary(f, off, &s);
	assert_int_equal(s.proto, NH_UDP);
	assert_false(s.truncated);
	assert_true(s.has_ports);
	assert_int_equal(s.sport, 1000);
	assert_int_equal(s.dport, 2000);
}

/* a fragment header then a hop-by-hop header of 16 bytes (ext-len 1) */
static void fragment_then_hop_len1(void **state)
{
	__u8 f[128];
	struct pw_frame_sum s;
	unsigned int off = ipv6_head(f, NH_FRAG);

	(void)state;
	memset(f + off, 0, 8);
	f[off] = NH_HOP;
	off += 8;
	memset(f + off, 0, 16);
	f[off] = NH_UDP;
	f[off + 1] = 1;
	off += 16;
	off = udp(f, off, 7, 9);
	pw_frame_summary(f, off, &s);
	assert_int_equal(s.proto, NH_UDP);
	assert_false(s.truncated);
	assert_int_equal(s.sport, 7);
	assert_int_equal(s.dport, 9);
}

/* an extension header longer than the captured bytes: truncated, no ports */
static void hop_past_the_end(void **state)
{
	__u8 f[128];
	struct pw_frame_sum s;
	unsigned int off = ipv6_head(f, NH_HOP);

	(void)state;
	memset(f + off, 0, 8);
	f[off] = NH_UDP;
	f[off + 1] = 8;		/* 72 bytes; 8 captured */
	off += 8;
	pw_frame_summary(f, off, &s);
	assert_true(s.truncated);
	assert_false(s.has_ports);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hop_len2_then_fragment),
		cmocka_unit_test(fragment_reserved_ff),
		cmocka_unit_test(fragment_then_hop_len1),
		cmocka_unit_test(hop_past_the_end),
	};

	return cmocka_run_group_tests_name("pinwall_framesum", tests, NULL, NULL);
}
