// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CrowdSec local API's decisions stream, parsed: ban decisions on Ip and
 * Range become prefixes with their remaining time. The answer is untrusted:
 * sizes are capped and every field's type checked; one bad decision is
 * skipped and counted, never the end of the answer.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <json-c/json.h>
#include "pinwall/crowdsec.h"

#define TEN_YEARS_MS (10LL * 366 * 24 * 3600 * 1000)

static const struct { const char *name; double ms; } go_units[] = {
	{ "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 }, { "\xce\xbcs", 1e-3 },
	{ "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 }, { NULL, 0 },
};

/* The unit at @s (longest match first: "ms" before "m"); its length or 0. */
static size_t go_unit(const char *s, double *ms)
{
	size_t best = 0;

	for (int i = 0; go_units[i].name; i++) {
		size_t n = strlen(go_units[i].name);

		if (n > best && !strncmp(s, go_units[i].name, n)) {
			best = n;
			*ms = go_units[i].ms;
		}
	}
	return best;
}

int pw_cs_duration_ms(const char *s, __s64 *ms)
{
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!*s)
		return -1;
	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	while (*s) {
		double v, unit;
		char *end;
		size_t n;

		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s || v < 0)
			return -1;
		n = go_unit(end, &unit);
		if (!n)
			return -1;
		total += v * unit;
		if (total > TEN_YEARS_MS)
			return -1;
		s = end + n;
	}
	*ms = (__s64)total * (neg ? -1 : 1);
	return 0;
}

static void mask_host_bits(struct pw_cs_prefix *p)
{
	unsigned int bytes = p->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < bytes; i++) {
		int keep = (int)p->plen - (int)(i * 8);

		if (keep <= 0)
			p->addr[i] = 0;
		else if (keep < 8)
			p->addr[i] &= (__u8)(0xff << (8 - keep));
	}
}

int pw_cs_value(const char *s, bool range, struct pw_cs_prefix *out)
{
	char buf[PW_CS_MAX_VALUE + 1], *slash = NULL;
	unsigned long plen;
	char *end;

	if (strlen(s) > PW_CS_MAX_VALUE)
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	if (range) {
		slash = strchr(buf, '/');
		if (!slash || !slash[1] || !isdigit((unsigned char)slash[1]))
			return -1;
		*slash++ = '\0';
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	out->plen = out->family == AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		plen = strtoul(slash, &end, 10);
		if (errno || *end || plen > out->plen)
			return -1;
		out->plen = (__u8)plen;
	}
	mask_host_bits(out);
	return 0;
}

void pw_cs_prefix_str(const struct pw_cs_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->plen);
}

static void warn(struct pw_cs_batch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct pw_cs_batch *b, const char *fmt, ...)
{
	va_list ap;

	if (b->n_warn < PW_CS_WARN_KEEP) {
		va_start(ap, fmt);
		vsnprintf(b->warn[b->n_warn], PW_CS_WARN_LEN, fmt, ap);
		va_end(ap);
	}
	b->n_warn++;
}

/* A string member of @d, or NULL when missing or not a string. */
static const char *str_field(struct json_object *d, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(d, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Shown in a warning: printable ASCII only, cut at 40. */
static void shown(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s && s[i] && i < 40 && i + 1 < len; i++)
		out[i] = isprint((unsigned char)s[i]) && s[i] != '\'' ? s[i] : '?';
	out[i] = '\0';
}

/* One decision: 1 kept in @d, 0 left out (counted), never an error. */
static int one_decision(struct pw_cs_batch *b, struct json_object *j, bool deleted,
			struct pw_cs_decision *d)
{
	const char *type, *scope, *value, *dur;
	struct json_object *idv;
	char v[48];
	bool range;

	if (!json_object_is_type(j, json_type_object) ||
	    !json_object_object_get_ex(j, "id", &idv) || !json_object_is_type(idv, json_type_int) ||
	    json_object_get_int64(idv) < 0 ||
	    !(type = str_field(j, "type")) || !(scope = str_field(j, "scope")) ||
	    !(value = str_field(j, "value")) || !(dur = str_field(j, "duration"))) {
		b->bad++;
		warn(b, "decision skipped: not an object with id, type, scope, value and duration");
		return 0;
	}
	if (strcasecmp(type, "ban")) {
		b->other_type++;
		return 0;
	}
	range = !strcasecmp(scope, "range");
	if (!range && strcasecmp(scope, "ip")) {
		b->other_scope++;
		return 0;
	}
	d->id = (__u64)json_object_get_int64(idv);
	if (pw_cs_value(value, range, &d->pfx)) {
		shown(value, v, sizeof(v));
		b->bad++;
		warn(b, "decision %llu skipped: bad %s value '%s'", (unsigned long long)d->id,
		     range ? "Range" : "Ip", v);
		return 0;
	}
	if (pw_cs_duration_ms(dur, &d->remaining_ms)) {
		shown(dur, v, sizeof(v));
		b->bad++;
		warn(b, "decision %llu skipped: bad duration '%s'", (unsigned long long)d->id, v);
		return 0;
	}
	if (!deleted && d->remaining_ms <= 0) {
		b->expired++;
		return 0;
	}
	return 1;
}

/* The member @key: an array (its length in @n), or null/missing (n = 0). */
static int list_of(struct pw_ctx *ctx, struct json_object *top, const char *key,
		   struct json_object **arr, size_t *n)
{
	*arr = NULL;
	*n = 0;
	if (!json_object_object_get_ex(top, key, arr) || !*arr)
		return 0;
	if (!json_object_is_type(*arr, json_type_array))
		return pw_fail(ctx, EPROTO, "the local API's answer has '%s' that is not a list", key);
	*n = json_object_array_length(*arr);
	return 0;
}

static int parse_list(struct pw_ctx *ctx, struct pw_cs_batch *b, struct json_object *arr, size_t n,
		      bool deleted)
{
	struct pw_cs_decision *out;
	size_t k = 0;

	if (!n)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return pw_fail(ctx, ENOMEM, "out of memory for %zu decisions", n);
	for (size_t i = 0; i < n; i++)
		k += one_decision(b, json_object_array_get_idx(arr, i), deleted, &out[k]);
	if (deleted) {
		b->deleted = out;
		b->n_deleted = k;
	} else {
		b->added = out;
		b->n_added = k;
	}
	return 0;
}

static struct json_object *parse_json(struct pw_ctx *ctx, const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *top;

	if (len > PW_CS_MAX_BODY) {
		pw_fail(ctx, EFBIG, "the local API's answer is over %u bytes", PW_CS_MAX_BODY);
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		pw_fail(ctx, ENOMEM, "out of memory");
		return NULL;
	}
	top = json_tokener_parse_ex(tok, body, (int)len);
	if (!top || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		pw_fail(ctx, EPROTO, "the local API's answer is not JSON");
		json_object_put(top);
		top = NULL;
	} else if (!json_object_is_type(top, json_type_object)) {
		pw_fail(ctx, EPROTO, "the local API's answer is not a JSON object");
		json_object_put(top);
		top = NULL;
	}
	json_tokener_free(tok);
	return top;
}

int pw_cs_parse(struct pw_ctx *ctx, const char *body, size_t len, struct pw_cs_batch *b)
{
	struct json_object *top, *added, *deleted;
	size_t n_added, n_deleted;
	int err;

	memset(b, 0, sizeof(*b));
	top = parse_json(ctx, body, len);
	if (!top)
		return -EPROTO;
	if ((err = list_of(ctx, top, "new", &added, &n_added)) ||
	    (err = list_of(ctx, top, "deleted", &deleted, &n_deleted)))
		goto out;
	if (n_added + n_deleted > PW_CS_MAX_DECISIONS) {
		err = pw_fail(ctx, EFBIG, "the local API's answer has %zu decisions, over %u",
			      n_added + n_deleted, PW_CS_MAX_DECISIONS);
		goto out;
	}
	if ((err = parse_list(ctx, b, added, n_added, false)) ||
	    (err = parse_list(ctx, b, deleted, n_deleted, true)))
		pw_cs_batch_free(b);
out:
	json_object_put(top);
	return err;
}

void pw_cs_batch_free(struct pw_cs_batch *b)
{
	free(b->added);
	free(b->deleted);
	memset(b, 0, sizeof(*b));
}
