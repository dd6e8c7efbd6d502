// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Block entries as text: addresses and prefixes, durations, block files
 * (one entry a line), and the growing list the calls return.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "internal.h"
#include "block_int.h"

#define ADDR_TEXT_MAX 64

/* Are the bits of @addr past @len zero? */
static bool host_bits_zero(const __u32 *addr, __u32 len, __u32 bits)
{
	const unsigned char *p = (const unsigned char *)addr;

	for (__u32 i = len; i < bits; i++)
		if (p[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

static int parse_len(const char *s, __u32 max, __u32 *len)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*len = (__u32)v;
	return 0;
}

int pw_block_parse(struct pw_ctx *ctx, const char *s, struct pw_block *b)
{
	char addr[ADDR_TEXT_MAX];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	__u32 bits;

	memset(b, 0, sizeof(*b));
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, b->addr) == 1)
		b->family = 4, bits = 32;
	else if (inet_pton(AF_INET6, addr, b->addr) == 1)
		b->family = 6, bits = 128;
	else
		goto bad;
	b->len = bits;
	if (slash && parse_len(slash + 1, bits, &b->len))
		return pw_fail(ctx, EINVAL, "invalid prefix length in '%s': use 0 to %u", s, bits);
	if (!host_bits_zero(b->addr, b->len, bits))
		return pw_fail(ctx, EINVAL, "prefix '%s' has host bits set: write the network address",
			       s);
	return 0;
bad:
	return pw_fail(ctx, EINVAL, "invalid address '%s': use an IPv4 or IPv6 address or prefix (ADDR[/LEN])",
		       s);
}

void pw_block_text(const struct pw_block *b, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(b->family == 4 ? AF_INET : AF_INET6, b->addr, a, sizeof(a));
	if (b->len == (b->family == 4 ? 32u : 128u))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, b->len);
}

int pw_block_duration_parse(struct pw_ctx *ctx, const char *s, __u64 *secs)
{
	static const struct { char unit; __u64 mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	unsigned long long v;
	__u64 mult = 0;
	char *end;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoull(s, &end, 10);
		if (!errno && !*end)
			mult = 1;
		for (size_t i = 0; !errno && !mult && i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].unit && !end[1])
				mult = units[i].mult;
		/* at most ~100 years: past that it is a typo, not a ban */
		if (mult && v > 0 && v <= 3200000000ULL / mult) {
			*secs = v * mult;
			return 0;
		}
	}
	return pw_fail(ctx, EINVAL, "invalid duration '%s': use a whole number above 0 of seconds, or with s, m, h, d or w (e.g. 90s, 10m, 2h)",
		       s);
}

/* ---- the list ---- */

void pw_block_list_free(struct pw_block_list *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

int pw_block_list_push(struct pw_ctx *ctx, struct pw_block_list *l, const struct pw_block *b)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 256;
		struct pw_block *e = cap > 0 ? realloc(l->e, (size_t)cap * sizeof(*e)) : NULL;

		if (!e)
			return pw_fail(ctx, ENOMEM, "out of memory");
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n++] = *b;
	return 0;
}

/* ---- block files ---- */

#define PW_BLOCK_FILE_MAX (64 * 1024 * 1024)	/* bytes: ~3M entries */

/* One line (its comment cut off): ADDR[/LEN] [DURATION]. */
static int parse_file_line(struct pw_ctx *ctx, char *line, __u64 expires, __u64 now_real,
			   __u32 origin, struct pw_block *b, bool *empty)
{
	char *save = NULL, *w1, *w2, *w3;
	__u64 secs;
	int err;

	*empty = false;
	w1 = strtok_r(line, " \t\r", &save);
	if (!w1) {
		*empty = true;
		return 0;
	}
	w2 = strtok_r(NULL, " \t\r", &save);
	w3 = w2 ? strtok_r(NULL, " \t\r", &save) : NULL;
	if (w3)
		return pw_fail(ctx, EINVAL, "unexpected '%s': a line is ADDR[/LEN] [DURATION]", w3);
	if ((err = pw_block_parse(ctx, w1, b)))
		return err;
	b->expires = expires;
	b->origin = origin;
	if (w2) {
		if ((err = pw_block_duration_parse(ctx, w2, &secs)))
			return err;
		b->expires = now_real + secs;
	}
	return 0;
}

/* The whole file (or stdin for "-"), NUL-terminated, at most the limit. */
static int slurp(struct pw_ctx *ctx, const char *path, char **buf)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t n = 0, cap = 1 << 16;
	char *b = malloc(cap + 1);

	*buf = NULL;
	if (!f || !b) {
		free(b);
		return f ? pw_fail(ctx, ENOMEM, "out of memory")
			 : pw_fail(ctx, errno, "cannot read '%s': %s", path, strerror(errno));
	}
	for (;;) {
		size_t got = fread(b + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= PW_BLOCK_FILE_MAX) {
			free(b);
			if (f != stdin)
				fclose(f);
			return pw_fail(ctx, EFBIG, "'%s' is larger than %d MiB: split it", path,
				       PW_BLOCK_FILE_MAX >> 20);
		}
		cap *= 2;
		char *nb = realloc(b, cap + 1);

		if (!nb) {
			free(b);
			if (f != stdin)
				fclose(f);
			return pw_fail(ctx, ENOMEM, "out of memory");
		}
		b = nb;
	}
	if (ferror(f)) {
		free(b);
		if (f != stdin)
			fclose(f);
		return pw_fail(ctx, EIO, "cannot read '%s'", path);
	}
	if (f != stdin)
		fclose(f);
	b[n] = '\0';
	if (memchr(b, '\0', n)) {
		free(b);
		return pw_fail(ctx, EINVAL, "'%s' is not a text file (it holds a NUL byte)", path);
	}
	*buf = b;
	return 0;
}

int pw_block_file_read(struct pw_ctx *ctx, const char *path, __u64 expires, __u32 origin,
		       struct pw_block_list *out)
{
	char *buf, *line, *save = NULL, msg[PW_ERR_LEN];
	struct pw_block_now now;
	int err, lineno = 0;

	memset(out, 0, sizeof(*out));
	if ((err = slurp(ctx, path, &buf)))
		return err;
	pw_block_now(&now);
	for (line = buf; !err && line; line = save) {
		char *nl = strchr(line, '\n'), *hash;
		struct pw_block b;
		bool empty;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		err = parse_file_line(ctx, line, expires, now.real, origin, &b, &empty);
		if (err) {
			snprintf(msg, sizeof(msg), "%s", ctx->err);
			err = pw_fail(ctx, err, "%s:%d: %s; nothing was changed",
				      strcmp(path, "-") ? path : "stdin", lineno, msg);
		} else if (!empty) {
			err = pw_block_list_push(ctx, out, &b);
		}
	}
	free(buf);
	if (err)
		pw_block_list_free(out);
	return err;
}
