// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rule text: parsing and printing one rule, reading a rule file, and the
 * checks a rule set must pass before it is applied.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* ---- parsing and printing ---- */

static const struct { const char *name; int num; } proto_names[] = {
	{ "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "icmpv6", 58 }, { "ipv6-icmp", 58 },
	{ "sctp", 132 }, { "udplite", 136 },
};

static int proto_parse(const char *s)
{
	unsigned long v;
	char *end;

	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (!strcasecmp(s, proto_names[i].name))
			return proto_names[i].num;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !*end && !errno && v <= 255 && isdigit((unsigned char)*s))
		return (int)v;
	return -1;
}

static const char *proto_name(int num)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].num == num)
			return proto_names[i].name;
	return NULL;
}

static int port_parse(const char *s, __u32 *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > 65535)
		return -1;
	*out = (__u32)v;
	return 0;
}

void pw_mask_addr(__u32 *a, int family, __u32 len)
{
	int words = family == 4 ? 1 : 4;

	for (int w = 0; w < words; w++) {
		int bits = (int)len - 32 * w;

		if (bits >= 32)
			continue;
		a[w] = bits <= 0 ? 0 : htonl(ntohl(a[w]) & ~(0xffffffffu >> bits));
	}
}

/* The words of @text, split in @buf: their number, or -errno (with @err).
 * Too long is refused, never cut: a cut rule can mean another rule. A
 * port list in braces is one word, spaces inside it dropped. */
#define RULE_WORDS 16
static int rule_words(const char *text, char *buf, char **tok, char *err, size_t errlen)
{
	char *save = NULL, *o = buf;
	int n = 0, depth = 0;

	if (strlen(text) > PW_RULE_TEXT_MAX) {
		snprintf(err, errlen, "rule '%.40s...' is longer than %d characters",
			 text, PW_RULE_TEXT_MAX);
		return -E2BIG;
	}
	for (const char *p = text; *p; p++) {
		depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
		if (depth > 0 && isspace((unsigned char)*p))
			continue;
		*o++ = *p;
	}
	*o = '\0';
	for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == RULE_WORDS) {
			snprintf(err, errlen, "too many words in rule '%s'", text);
			return -EINVAL;
		}
		tok[n++] = t;
	}
	return n;
}

int pw_prefix_parse(const char *text, struct pw_prefix *pf, char *err, size_t errlen)
{
	char p[INET6_ADDRSTRLEN + 8], *slash, *end, want[INET6_ADDRSTRLEN];
	unsigned long len;
	__u32 masked[4];

	memset(pf, 0, sizeof(*pf));
	if (strlen(text) >= sizeof(p)) {
		snprintf(err, errlen, "invalid address '%.60s'", text);
		return -EINVAL;
	}
	strcpy(p, text);
	slash = strchr(p, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, p, pf->addr) == 1)
		pf->family = 4;
	else if (inet_pton(AF_INET6, p, pf->addr) == 1)
		pf->family = 6;
	else {
		snprintf(err, errlen, "invalid address '%s' in '%s'", p, text);
		return -EINVAL;
	}
	len = pf->family == 4 ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno ||
		    len > (pf->family == 4 ? 32u : 128u)) {
			snprintf(err, errlen, "invalid prefix length '/%s': IPv%u takes /0 to /%u",
				 slash + 1, pf->family, pf->family == 4 ? 32 : 128);
			return -EINVAL;
		}
	}
	pf->len = (__u32)len;
	memcpy(masked, pf->addr, sizeof(masked));
	pw_mask_addr(masked, (int)pf->family, pf->len);
	if (memcmp(masked, pf->addr, pf->family == 4 ? 4 : 16)) {
		inet_ntop(pf->family == 4 ? AF_INET : AF_INET6, masked, want, sizeof(want));
		snprintf(err, errlen, "host bits set in '%s/%u': did you mean %s/%u?",
			 p, pf->len, want, pf->len);
		return -EINVAL;
	}
	return 0;
}

void pw_prefix_format(const struct pw_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

bool pw_set_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= PW_SET_NAME_LEN || !(isalpha((unsigned char)*name) || *name == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

/* ADDR: PREFIX or @SET. */
static int parse_addr(const char *key, const char *word, struct pw_addr_match *m,
		      char *err, size_t errlen)
{
	struct pw_prefix p;

	if (*word == '@') {
		if (!pw_set_name_ok(word + 1)) {
			snprintf(err, errlen, "invalid set name '%s' after '%s': a letter or '_', then letters, digits, '_', '.' or '-', at most %d",
				 word, key, PW_SET_NAME_LEN - 1);
			return -EINVAL;
		}
		m->family = PW_ADDR_SET;
		strcpy(m->set, word + 1);
		return 0;
	}
	if (pw_prefix_parse(word, &p, err, errlen))
		return -EINVAL;
	m->family = p.family;
	m->len = p.len;
	memcpy(m->addr, p.addr, sizeof(m->addr));
	return 0;
}

/* One PORT or LOW-HIGH. */
static int parse_range(const char *key, const char *text, __u16 *lo, __u16 *hi, char *err, size_t errlen)
{
	char word[32], *dash;
	__u32 a, b;

	if (strlen(text) >= sizeof(word)) {
		snprintf(err, errlen, "invalid port '%.20s...' after '%s': 0-65535, LOW-HIGH or {P,...}",
			 text, key);
		return -EINVAL;
	}
	strcpy(word, text);
	dash = strchr(word, '-');

	if (dash)
		*dash = '\0';
	if (port_parse(word, &a) || port_parse(dash ? dash + 1 : word, &b)) {
		snprintf(err, errlen, "invalid port '%s%s%s' after '%s': 0-65535, LOW-HIGH or {P,...}",
			 word, dash ? "-" : "", dash ? dash + 1 : "", key);
		return -EINVAL;
	}
	if (a > b) {
		snprintf(err, errlen, "reversed port range '%u-%u': write %u-%u", a, b, b, a);
		return -EINVAL;
	}
	*lo = (__u16)a;
	*hi = (__u16)b;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const __u16 *x = a, *y = b;

	return x[0] != y[0] ? (int)x[0] - (int)y[0] : (int)x[1] - (int)y[1];
}

/* One way to write a list: sorted, overlapping and adjacent ranges joined,
 * so {443,80} and {80,443} are the same rule. */
static void ports_normalize(struct pw_port_match *m)
{
	__u32 k = 0;

	qsort(m->r, m->n, sizeof(m->r[0]), cmp_range);
	for (__u32 i = 1; i < m->n; i++) {
		if ((__u32)m->r[i].lo <= (__u32)m->r[k].hi + 1) {
			if (m->r[i].hi > m->r[k].hi)
				m->r[k].hi = m->r[i].hi;
		} else {
			m->r[++k] = m->r[i];
		}
	}
	for (__u32 i = k + 1; i < m->n; i++)
		m->r[i].lo = m->r[i].hi = 0;
	m->n = k + 1;
}

/* PORTS: PORT, LOW-HIGH or {P,LOW-HIGH,...}. */
static int parse_ports(const char *key, const char *text, struct pw_port_match *m, char *err, size_t errlen)
{
	char word[PW_RULE_TEXT_MAX + 1], *save = NULL;
	size_t n = strlen(text);

	snprintf(word, sizeof(word), "%s", text);

	if (*word != '{')
		return m->n = 1, parse_range(key, word, &m->r[0].lo, &m->r[0].hi, err, errlen);
	if (n < 3 || word[n - 1] != '}' || strchr(word + 1, '{') || strchr(word, '}') != word + n - 1) {
		snprintf(err, errlen, "invalid port list '%s' after '%s': {P,LOW-HIGH,...}", word, key);
		return -EINVAL;
	}
	word[n - 1] = '\0';
	for (char *t = strtok_r(word + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (m->n == PW_PORT_RANGES) {
			snprintf(err, errlen, "too many ports after '%s': at most %d in a list",
				 key, PW_PORT_RANGES);
			return -E2BIG;
		}
		if (parse_range(key, t, &m->r[m->n].lo, &m->r[m->n].hi, err, errlen))
			return -EINVAL;
		m->n++;
	}
	if (!m->n) {
		snprintf(err, errlen, "empty port list after '%s'", key);
		return -EINVAL;
	}
	ports_normalize(m);
	return 0;
}

static const char *const match_keys[] = { "proto", "src", "dst", "sport", "dport" };

/* `ct established`: seen bit 6, and always an ordered rule. */
static int parse_ct(char **tok, int n, int i, struct pw_ord_rule *o, unsigned *seen,
		    char *err, size_t errlen)
{
	if (*seen & (1u << 6)) {
		snprintf(err, errlen, "'ct' given twice: one ct a rule");
		return -EINVAL;
	}
	*seen |= 1u << 6;
	if (i + 1 >= n || strcmp(tok[i + 1], "established")) {
		snprintf(err, errlen, "'ct' needs 'established'%s%s%s: replies to connections the host opened",
			 i + 1 < n ? ", not '" : "", i + 1 < n ? tok[i + 1] : "", i + 1 < n ? "'" : "");
		return -EINVAL;
	}
	PW_ORD_FLAGS(o) |= PW_ORD_F_CT;
	return 0;
}

/* The MATCH words into @o; @seen gets a bit per key. */
static int parse_matches(char **tok, int n, struct pw_ord_rule *o, unsigned *seen,
			 char *err, size_t errlen)
{
	for (int i = 1; i < n; i += 2) {
		int k = -1, proto;

		if (!strcmp(tok[i], "ct")) {
			if (parse_ct(tok, n, i, o, seen, err, errlen))
				return -EINVAL;
			continue;
		}
		for (int j = 0; j < 5; j++)
			if (!strcmp(tok[i], match_keys[j]))
				k = j;
		if (k < 0 && i > 1) {
			snprintf(err, errlen, "unexpected '%s' after '%s %s': another match (proto, src, dst, sport, dport, ct) or the end of the rule",
				 tok[i], tok[i - 2], tok[i - 1]);
			return -EINVAL;
		}
		if (k < 0) {
			snprintf(err, errlen, "unknown match '%s': expected proto, src, dst, sport, dport or ct",
				 tok[i]);
			return -EINVAL;
		}
		if (*seen & (1u << k)) {
			snprintf(err, errlen, "'%s' given twice: one %s a rule%s", tok[i], tok[i],
				 k == 1 || k == 2 ? " (a set, @NAME, holds many prefixes)" :
				 k >= 3 ? " (a list, {P,P}, holds many ports)" : "");
			return -EINVAL;
		}
		*seen |= 1u << k;
		if (i + 1 >= n) {
			snprintf(err, errlen, "'%s' needs a value: %s", tok[i],
				 k == 0 ? "a protocol name (tcp, udp, icmp, ...) or 0-255" :
				 k <= 2 ? "a prefix or @SET" : "a port, LOW-HIGH or {P,...}");
			return -EINVAL;
		}
		switch (k) {
		case 0:
			if ((proto = proto_parse(tok[i + 1])) < 0) {
				snprintf(err, errlen, "unknown protocol '%s': a name (tcp, udp, icmp, ...) or 0-255",
					 tok[i + 1]);
				return -EINVAL;
			}
			o->has_proto = 1;
			o->proto = (__u32)proto;
			break;
		case 1: case 2:
			if (parse_addr(tok[i], tok[i + 1], k == 1 ? &o->src : &o->dst, err, errlen))
				return -EINVAL;
			break;
		default:
			if (parse_ports(tok[i], tok[i + 1], k == 3 ? &o->sport : &o->dport, err, errlen))
				return -EINVAL;
			if (tok[i + 1][0] == '{')
				*seen |= 1u << 5;	/* a list: always an ordered rule */
		}
	}
	return 0;
}

/* A rule that can never match, told before it is applied. */
static int check_matches(const struct pw_ord_rule *o, char *err, size_t errlen)
{
	unsigned fam = 3;	/* bit 0: IPv4, bit 1: IPv6 */

	if ((o->sport.n || o->dport.n) && o->has_proto && o->proto != 6 && o->proto != 17) {
		const char *pn = proto_name((int)o->proto);

		if (pn)
			snprintf(err, errlen, "ports need proto tcp or udp (or no proto), not '%s'", pn);
		else
			snprintf(err, errlen, "ports need proto tcp or udp (or no proto), not '%u'", o->proto);
		return -EINVAL;
	}
	if (o->src.family == 4 || o->dst.family == 4)
		fam &= 1;
	if (o->src.family == 6 || o->dst.family == 6)
		fam &= 2;
	if (!fam) {
		struct pw_prefix a = { o->src.family, o->src.len, { 0 } }, b = { o->dst.family, o->dst.len, { 0 } };
		char x[64], y[64];

		memcpy(a.addr, o->src.addr, sizeof(a.addr));
		memcpy(b.addr, o->dst.addr, sizeof(b.addr));
		pw_prefix_format(&a, x, sizeof(x));
		pw_prefix_format(&b, y, sizeof(y));
		snprintf(err, errlen, "src '%s' is IPv%u but dst '%s' is IPv%u: the rule can never match",
			 x, a.family, y, b.family);
		return -EINVAL;
	}
	if (o->has_proto && ((o->proto == 1 && !(fam & 1)) || (o->proto == 58 && !(fam & 2)))) {
		snprintf(err, errlen, "proto %s is IPv%d's ICMP: with an IPv%d prefix the rule can never match",
			 o->proto == 1 ? "icmp" : "icmpv6", o->proto == 1 ? 4 : 6, o->proto == 1 ? 6 : 4);
		return -EINVAL;
	}
	return 0;
}

/* Today's single-match rule, if @o is one: a plain prefix, a protocol, or
 * [proto tcp|udp] with one port range. */
static bool single_match(const struct pw_ord_rule *o, unsigned seen, struct pw_rule *r)
{
	const struct pw_addr_match *a = seen == 2 ? &o->src : &o->dst;

	if (seen == 2 || seen == 4) {
		if (a->family == PW_ADDR_SET)
			return false;
		r->kind = seen == 2 ? PW_RK_SRC : PW_RK_DST;
		r->family = a->family;
		r->len = a->len;
		memcpy(r->addr, a->addr, sizeof(r->addr));
		return true;
	}
	if (seen == 1) {
		r->kind = PW_RK_PROTO;
		r->proto = o->proto;
		return true;
	}
	if ((seen & ~1u) == 8 || (seen & ~1u) == 16) {
		const struct pw_port_match *pm = seen & 8 ? &o->sport : &o->dport;

		if (pm->n != 1 || (o->has_proto && o->proto != 6 && o->proto != 17))
			return false;
		r->kind = seen & 8 ? PW_RK_SPORT : PW_RK_DPORT;
		r->proto = o->has_proto ? o->proto : 0;
		r->port_lo = pm->r[0].lo;
		r->port_hi = pm->r[0].hi;
		return true;
	}
	return false;
}

/* `limit RATE [burst N] [per /LEN] MATCH...`: always an ordered rule (a
 * conforming packet goes on to the next rule, in the order written). */
static int parse_limit_rule(const char *text, char **tok, int n, struct pw_rule *r,
			    struct pw_ord_rule *o, char *err, size_t errlen)
{
	struct pw_limit_spec s;
	unsigned seen = 0;
	int used, per4, per6;

	if ((used = pw_limit_parse(tok, n, &s, &per4, &per6, err, errlen)) < 0)
		return used;
	if (used >= n) {
		snprintf(err, errlen, "incomplete rule '%s': a limit needs matches: limit RATE [burst N] [per /LEN] MATCH VALUE...",
			 text);
		return -EINVAL;
	}
	/* the matches as if they followed the action word */
	tok[used - 1] = tok[0];
	if (parse_matches(tok + used - 1, n - used + 1, o, &seen, err, errlen) ||
	    check_matches(o, err, errlen) || pw_limit_resolve(&s, per4, per6, o, err, errlen))
		return -EINVAL;
	r->kind = PW_RK_ORDERED;
	pw_rule_limit_set(r, &s);
	o->action = PW_ACT_LIMIT;
	return 0;
}

int pw_rule_parse_full(const char *text, struct pw_rule *r, struct pw_ord_rule *o,
		       char *err, size_t errlen)
{
	char buf[PW_RULE_TEXT_MAX + 1], *tok[RULE_WORDS];
	unsigned seen = 0;
	int n;

	memset(r, 0, sizeof(*r));
	memset(o, 0, sizeof(*o));
	if ((n = rule_words(text, buf, tok, err, errlen)) < 0)
		return n;
	if (n < 3) {
		snprintf(err, errlen, "incomplete rule '%s': expected ACTION MATCH VALUE..., MATCH one of proto, src, dst, sport, dport, ct",
			 text);
		return -EINVAL;
	}
	if (!strcmp(tok[0], "limit"))
		return parse_limit_rule(text, tok, n, r, o, err, errlen);
	if (!strcmp(tok[0], "drop"))
		r->action = XDP_DROP;
	else if (!strcmp(tok[0], "pass"))
		r->action = XDP_PASS;
	else {
		snprintf(err, errlen, "unknown action '%s': use drop, pass or limit", tok[0]);
		return -EINVAL;
	}
	o->action = r->action;
	if (parse_matches(tok, n, o, &seen, err, errlen) || check_matches(o, err, errlen))
		return -EINVAL;
	if (single_match(o, seen, r)) {
		memset(o, 0, sizeof(*o));
		return 0;
	}
	r->kind = PW_RK_ORDERED;
	return 0;
}

int pw_rule_parse(const char *text, struct pw_rule *r, char *err, size_t errlen)
{
	struct pw_ord_rule o;
	int ret = pw_rule_parse_full(text, r, &o, err, errlen);

	if (!ret && r->kind == PW_RK_ORDERED) {
		snprintf(err, errlen, "'%s' is not a single-match rule", text);
		return -EINVAL;
	}
	return ret;
}

static void format_addr(const char *key, const struct pw_addr_match *a, char *buf, size_t len)
{
	struct pw_prefix p = { a->family, a->len, { 0 } };
	size_t n = strlen(buf);

	if (!a->family)
		return;
	if (a->family == PW_ADDR_SET) {
		snprintf(buf + n, len - n, " %s @%.*s", key, PW_SET_NAME_LEN - 1, a->set);
		return;
	}
	memcpy(p.addr, a->addr, sizeof(p.addr));
	snprintf(buf + n, len - n, " %s ", key);
	n = strlen(buf);
	pw_prefix_format(&p, buf + n, len - n);
}

static void format_ports(const char *key, const struct pw_port_match *m, bool braces,
			 char *buf, size_t len)
{
	size_t n = strlen(buf);

	if (!m->n)
		return;
	braces |= m->n > 1;
	snprintf(buf + n, len - n, " %s %s", key, braces ? "{" : "");
	for (__u32 i = 0; i < m->n && i < PW_PORT_RANGES; i++) {
		n = strlen(buf);
		if (m->r[i].lo == m->r[i].hi)
			snprintf(buf + n, len - n, "%s%u", i ? "," : "", m->r[i].lo);
		else
			snprintf(buf + n, len - n, "%s%u-%u", i ? "," : "", m->r[i].lo, m->r[i].hi);
	}
	n = strlen(buf);
	if (braces)
		snprintf(buf + n, len - n, "}");
}

void pw_rule_format_full(const struct pw_rule *r, const struct pw_ord_rule *o, char *buf, size_t len)
{
	bool braces;
	size_t n;

	if (PW_RK_KIND(r->kind) != PW_RK_ORDERED || !o) {
		pw_rule_format(r, buf, len);
		return;
	}
	if (r->action == PW_ACT_LIMIT)
		pw_limit_format(r, o, buf, len);
	else
		snprintf(buf, len, "%s", r->action == XDP_DROP ? "drop" : "pass");
	if (o->has_proto) {
		const char *pn = proto_name((int)o->proto);

		n = strlen(buf);
		if (pn)
			snprintf(buf + n, len - n, " proto %s", pn);
		else
			snprintf(buf + n, len - n, " proto %u", o->proto);
	}
	format_addr("src", &o->src, buf, len);
	format_addr("dst", &o->dst, buf, len);
	/* a lone port range in braces: without them it reads as a single-match rule */
	braces = !o->src.family && !o->dst.family && !o->sport.n != !o->dport.n &&
		 r->action != PW_ACT_LIMIT && !(PW_ORD_FLAGS(o) & PW_ORD_F_CT);
	format_ports("sport", &o->sport, braces, buf, len);
	format_ports("dport", &o->dport, braces, buf, len);
	n = strlen(buf);
	if (PW_ORD_FLAGS(o) & PW_ORD_F_CT)
		snprintf(buf + n, len - n, " ct established");
}

void pw_ruleset_format(const struct pw_ruleset *rs, int i, char *buf, size_t len)
{
	pw_rule_format_full(&rs->r[i], rs->ord ? &rs->ord[i] : NULL, buf, len);
}

void pw_rule_format(const struct pw_rule *r, char *buf, size_t len)
{
	const char *act = r->action == XDP_DROP ? "drop" : "pass";
	char a[INET6_ADDRSTRLEN];
	const char *pn;

	switch (r->kind) {
	case PW_RK_SRC:
	case PW_RK_DST:
		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
		snprintf(buf, len, "%s %s %s/%u", act, r->kind == PW_RK_SRC ? "src" : "dst", a, r->len);
		break;
	case PW_RK_PROTO:
		pn = proto_name((int)r->proto);
		if (pn)
			snprintf(buf, len, "%s proto %s", act, pn);
		else
			snprintf(buf, len, "%s proto %u", act, r->proto);
		break;
	case PW_RK_SPORT:
	case PW_RK_DPORT: {
		char ports[16];

		if (r->port_lo == r->port_hi)
			snprintf(ports, sizeof(ports), "%u", r->port_lo);
		else
			snprintf(ports, sizeof(ports), "%u-%u", r->port_lo, r->port_hi);
		snprintf(buf, len, "%s%s%s %s %s", act, r->proto ? " proto " : "",
			 r->proto ? (r->proto == 6 ? "tcp" : "udp") : "",
			 r->kind == PW_RK_SPORT ? "sport" : "dport", ports);
		break;
	}
	default:
		snprintf(buf, len, "(none)");
	}
}

/* Same match (action aside)? */
bool pw_rule_same_match(const struct pw_rule *a, const struct pw_rule *b)
{
	struct pw_rule x = *a, y = *b;

	x.action = y.action = 0;
	return !memcmp(&x, &y, sizeof(x));
}

bool pw_ruleset_same_match(const struct pw_ruleset *a, int i, const struct pw_ruleset *b, int j)
{
	struct pw_ord_rule x, y;

	if (!pw_rule_same_match(&a->r[i], &b->r[j]))
		return false;
	if (PW_RK_KIND(a->r[i].kind) != PW_RK_ORDERED)
		return true;
	x = a->ord[i];
	y = b->ord[j];
	x.action = y.action = 0;
	return !memcmp(&x, &y, sizeof(x));
}
