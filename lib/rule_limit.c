// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rate limits: the words `limit RATE [burst N] [per /LEN[,/LEN6]]` of a
 * rule, their text, and what the program reads (abi.h: PW_ACT_LIMIT).
 * RATE is packets per second, or with a unit bits (kbit, mbit, gbit) or
 * bytes (byte, kbyte, mbyte, gbyte) per second, decimal (k = 1000).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "pinwall/rules.h"

_Static_assert(sizeof(struct pw_rule_limit) == sizeof(struct pw_rule),
	       "a limit rule is stored as a pw_rule");

#define MIN_BYTE_BURST 1514	/* a full Ethernet frame */
#define MAX_BURST_S    60	/* at most a minute's worth */

static const struct { const char *name; __u64 mult; bool bits; } units[] = {
	{ "kbit", 1000, true }, { "mbit", 1000000, true }, { "gbit", 1000000000, true },
	{ "byte", 1, false }, { "kbyte", 1000, false }, { "mbyte", 1000000, false },
	{ "gbyte", 1000000000, false },
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* NUMBER[UNIT] into bytes or packets; *unit: -1 without one. */
static int amount_parse(const char *s, __u64 *out, int *unit)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > PW_LIM_RATE_MAX * 60)
		return -1;
	*unit = -1;
	if (*end) {
		for (size_t i = 0; i < N_UNITS; i++)
			if (!strcmp(end, units[i].name))
				*unit = (int)i;
		if (*unit < 0 || v > PW_LIM_RATE_MAX * 60 / units[*unit].mult)
			return -1;
		v *= units[*unit].mult;
		if (units[*unit].bits)
			v /= 8;
	}
	*out = v;
	return 0;
}

static __u64 get64(const __u32 *w)
{
	return (__u64)w[0] | (__u64)w[1] << 32;
}

static void put64(__u32 *w, __u64 v)
{
	w[0] = (__u32)v;
	w[1] = (__u32)(v >> 32);
}

void pw_rule_limit_get(const struct pw_rule *r, struct pw_limit_spec *s)
{
	struct pw_rule_limit l;

	memcpy(&l, r, sizeof(l));
	s->flags = l.flags;
	s->per4 = l.per & 0xff;
	s->per6 = (l.per >> 8) & 0xff;
	s->rate = get64(l.rate);
	s->burst = get64(l.burst);
}

void pw_rule_limit_set(struct pw_rule *r, const struct pw_limit_spec *s)
{
	struct pw_rule_limit l = { .action = PW_ACT_LIMIT, .kind = r->kind };

	l.flags = s->flags;
	l.per = s->per4 | s->per6 << 8;
	put64(l.rate, s->rate);
	put64(l.burst, s->burst);
	memcpy(r, &l, sizeof(l));
}

static int rate_word(const char *w, struct pw_limit_spec *s, char *err, size_t errlen)
{
	int unit;

	if (amount_parse(w, &s->rate, &unit) || !s->rate || s->rate > PW_LIM_RATE_MAX) {
		snprintf(err, errlen, "invalid rate '%s': packets per second (1-%llu), or with a unit: kbit, mbit, gbit (bits) or byte, kbyte, mbyte, gbyte (bytes) per second, like 100, 10mbit or 1mbyte",
			 w, (unsigned long long)PW_LIM_RATE_MAX);
		return -EINVAL;
	}
	if (unit >= 0)
		s->flags |= PW_LIM_BYTES | (units[unit].bits ? PW_LIM_BITS : 0);
	return 0;
}

static int burst_word(const char *w, struct pw_limit_spec *s, char *err, size_t errlen)
{
	bool bytes = s->flags & PW_LIM_BYTES;
	int unit;

	if (amount_parse(w, &s->burst, &unit) || !s->burst || (unit >= 0 && (!bytes || units[unit].bits))) {
		snprintf(err, errlen, bytes ? "invalid burst '%s': bytes, like 64000 or 64kbyte (byte, kbyte, mbyte, gbyte)" :
			 "invalid burst '%s': a number of packets (the rate counts packets)", w);
		return -EINVAL;
	}
	if (bytes && s->burst < MIN_BYTE_BURST) {
		snprintf(err, errlen, "burst '%s' is smaller than one %d-byte frame, which would never pass: at least %d",
			 w, MIN_BYTE_BURST, MIN_BYTE_BURST);
		return -EINVAL;
	}
	if (s->burst > s->rate * MAX_BURST_S) {
		snprintf(err, errlen, "burst '%s' is more than %d seconds' worth of the rate: at most %llu",
			 w, MAX_BURST_S, (unsigned long long)(s->rate * MAX_BURST_S));
		return -EINVAL;
	}
	return 0;
}

/* /LEN or /LEN4,/LEN6; *n6 = -1 for the one-length form. */
static int per_word(const char *w, int *n4, int *n6, char *err, size_t errlen)
{
	char *end;
	long a, b = -1;

	if (*w != '/' || !isdigit((unsigned char)w[1]))
		goto bad;
	a = strtol(w + 1, &end, 10);
	if (*end == ',') {
		if (end[1] != '/' || !isdigit((unsigned char)end[2]))
			goto bad;
		b = strtol(end + 2, &end, 10);
	}
	if (*end || a > 128 || b > 128 || (b >= 0 && a > 32))
		goto bad;
	*n4 = (int)a;
	*n6 = (int)b;
	return 0;
bad:
	snprintf(err, errlen, "invalid source prefix 'per %s': /LEN (the rule's address family), or /LEN4,/LEN6 like /24,/64",
		 w);
	return -EINVAL;
}

/*
 * The words after `limit` into @s: RATE, then `burst N` and `per /LEN`
 * in any order, each at most once. Returns the number of words taken;
 * @per4/@per6 get the raw per lengths (-1: not given), resolved by
 * pw_limit_resolve once the matches say the family.
 */
int pw_limit_parse(char **tok, int n, struct pw_limit_spec *s, int *per4, int *per6,
		   char *err, size_t errlen)
{
	const char *burst = NULL, *per = NULL;
	int i = 1;

	memset(s, 0, sizeof(*s));
	*per4 = *per6 = -1;
	if (n < 2) {
		snprintf(err, errlen, "'limit' needs a rate: limit RATE [burst N] [per /LEN] MATCH...");
		return -EINVAL;
	}
	if (rate_word(tok[i++], s, err, errlen))
		return -EINVAL;
	while (i < n && (!strcmp(tok[i], "burst") || !strcmp(tok[i], "per"))) {
		const char **slot = tok[i][0] == 'b' ? &burst : &per;

		if (*slot || i + 1 >= n) {
			snprintf(err, errlen, *slot ? "'%s' given twice in a limit" :
				 "'%s' needs a value", tok[i]);
			return -EINVAL;
		}
		*slot = tok[i + 1];
		i += 2;
	}
	if (burst && burst_word(burst, s, err, errlen))
		return -EINVAL;
	if (!burst)	/* one second's worth, at least a full frame */
		s->burst = (s->flags & PW_LIM_BYTES) && s->rate < MIN_BYTE_BURST ? MIN_BYTE_BURST : s->rate;
	if (per && per_word(per, per4, per6, err, errlen))
		return -EINVAL;
	return i;
}

/* The family a rule's addresses pin it to: 4, 6, or 0 for both. */
static int rule_family(const struct pw_ord_rule *o)
{
	if (o->src.family == 4 || o->src.family == 6)
		return (int)o->src.family;
	if (o->dst.family == 4 || o->dst.family == 6)
		return (int)o->dst.family;
	if (o->has_proto && (o->proto == 1 || o->proto == 58))
		return o->proto == 1 ? 4 : 6;
	return 0;
}

int pw_limit_resolve(struct pw_limit_spec *s, int per4, int per6, const struct pw_ord_rule *o,
		     char *err, size_t errlen)
{
	int fam = rule_family(o);

	s->per4 = 32;
	s->per6 = 128;
	if (per4 < 0)
		return 0;
	if (per6 >= 0) {
		s->per4 = (__u32)per4;
		s->per6 = (__u32)per6;
		return 0;
	}
	if (!fam) {
		snprintf(err, errlen, "'per /%d' is ambiguous: the rule matches IPv4 and IPv6; write per /LEN4,/LEN6, like /24,/64",
			 per4);
		return -EINVAL;
	}
	if (fam == 4 && per4 > 32) {
		snprintf(err, errlen, "invalid source prefix 'per /%d': IPv4 takes /0 to /32", per4);
		return -EINVAL;
	}
	if (fam == 4)
		s->per4 = (__u32)per4;
	else
		s->per6 = (__u32)per4;
	return 0;
}

/* AMOUNT in the largest unit that writes it exactly. */
static void amount_format(__u64 v, bool bytes, bool bits, char *buf, size_t len)
{
	if (bits) {
		v *= 8;
		for (int i = 2; i >= 0; i--)
			if (v % units[i].mult == 0) {
				snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].mult), units[i].name);
				return;
			}
	}
	if (bytes) {
		for (int i = 6; i >= 4; i--)
			if (v % units[i].mult == 0) {
				snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].mult), units[i].name);
				return;
			}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* "limit RATE [burst N] [per ...]" of a limit rule (without matches). */
void pw_limit_format(const struct pw_rule *r, const struct pw_ord_rule *o, char *buf, size_t len)
{
	struct pw_limit_spec s;
	bool bytes, dflt_burst;
	char a[48], b[48];
	size_t n;
	int fam = o ? rule_family(o) : 0;

	pw_rule_limit_get(r, &s);
	bytes = s.flags & PW_LIM_BYTES;
	amount_format(s.rate, bytes, s.flags & PW_LIM_BITS, a, sizeof(a));
	amount_format(s.burst, bytes, false, b, sizeof(b));
	dflt_burst = s.burst == (bytes && s.rate < MIN_BYTE_BURST ? MIN_BYTE_BURST : s.rate);
	snprintf(buf, len, "limit %s%s%s", a, dflt_burst ? "" : " burst ", dflt_burst ? "" : b);
	n = strlen(buf);
	if (fam == 4 && s.per6 == 128 && s.per4 != 32)
		snprintf(buf + n, len - n, " per /%u", s.per4);
	else if (fam == 6 && s.per4 == 32 && s.per6 != 128)
		snprintf(buf + n, len - n, " per /%u", s.per6);
	else if (s.per4 != 32 || s.per6 != 128)
		snprintf(buf + n, len - n, " per /%u,/%u", s.per4, s.per6);
}

/* What the program reads for limit rule @id (abi.h: struct pw_limit). */
void pw_limit_compile(const struct pw_rule *r, __u32 id, struct pw_limit *out)
{
	struct pw_limit_spec s;

	pw_rule_limit_get(r, &s);
	memset(out, 0, sizeof(*out));
	if (!s.rate)
		return;
	out->rule = id;
	out->flags = s.flags & PW_LIM_BYTES;
	out->mask4[0] = 0xffffffffu;
	memset(out->mask6, 0xff, sizeof(out->mask6));
	pw_mask_addr(out->mask4, 4, s.per4 > 32 ? 32 : s.per4);
	pw_mask_addr(out->mask6, 6, s.per6 > 128 ? 128 : s.per6);
	out->cost_q = (__u64)(((unsigned __int128)1000000000 << PW_LIM_Q) / s.rate);
	out->burst_ns = (__u64)((unsigned __int128)s.burst * 1000000000 / s.rate);
}
