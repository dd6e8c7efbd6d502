/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the rule tests share to make random rule sets and frames: a seeded
 * PRNG (splitmix64), address bit helpers, VLAN headers, and names of
 * verdicts for messages. Static: each test file has its own PRNG state.
 */
#ifndef PW_RANDPKT_H
#define PW_RANDPKT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include "pktbuild.h"

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static int chance(int pct)
{
	return (int)rn(100) < pct;
}

static int abits(int fam)
{
	return fam == 4 ? 32 : 128;
}

static int abytes(int fam)
{
	return fam == 4 ? 4 : 16;
}

static int getbit(const uint8_t *a, int i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

static void setbit(uint8_t *a, int i, int v)
{
	uint8_t m = (uint8_t)(1u << (7 - (i & 7)));

	if (v)
		a[i >> 3] |= m;
	else
		a[i >> 3] &= (uint8_t)~m;
}

/* Host bits (from bit len on): 0 zeros, 1 ones, 2 random. */
static void fill_host(uint8_t *a, int fam, int len, int mode)
{
	for (int i = len; i < abits(fam); i++)
		setbit(a, i, mode == 2 ? (int)(rnd() & 1) : mode);
	for (int i = abytes(fam); i < 16; i++)
		a[i] = 0;
}

static void rand_addr(uint8_t *a, int fam)
{
	memset(a, 0, 16);
	fill_host(a, fam, 0, 2);
}

static const char *astr(int fam, const void *a, char *buf)
{
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return buf;
}

static const char *vname(__u32 v)
{
	return v == XDP_DROP ? "DROP" : v == XDP_PASS ? "PASS" : "OTHER";
}

static void derive(uint8_t *dst, const uint8_t *src, int fam, int keep)
{
	memcpy(dst, src, 16);
	fill_host(dst, fam, keep, 2);
}

static const char *act_txt(void)
{
	return chance(50) ? "drop" : "pass";
}

static void put_l2(struct pb *b, int vlan, uint16_t l3)
{
	if (vlan <= 0) {
		pb_eth(b, l3);
	} else if (vlan == 1) {
		pb_eth(b, ETH_P_8021Q);
		pb_vlan(b, 100, l3);
	} else {
		pb_eth(b, ETH_P_8021AD);
		pb_vlan(b, 200, ETH_P_8021Q);
		pb_vlan(b, 100, l3);
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

#endif
