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
 * Too long is refused, never cut: a cut rule can mean another rule. */
static int rule_words(const char *text, char *buf, char **tok, char *err, size_t errlen)
{
	char *save = NULL;
	int n = 0;

	if (strlen(text) > PW_RULE_TEXT_MAX) {
		snprintf(err, errlen, "rule '%.40s...' is longer than %d characters",
			 text, PW_RULE_TEXT_MAX);
		return -E2BIG;
	}
	strcpy(buf, text);
	for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 8) {
			snprintf(err, errlen, "too many words in rule '%s'", text);
			return -EINVAL;
		}
		tok[n++] = t;
	}
	return n;
}

/* ADDR[/LEN] of a src or dst rule, host bits clear. */
static int parse_prefix(char *p, struct pw_rule *r, char *err, size_t errlen)
{
	char orig[PW_RULE_TEXT_MAX + 1], *slash, *end, want[INET6_ADDRSTRLEN];
	unsigned long len;
	__u32 masked[4];

	snprintf(orig, sizeof(orig), "%s", p);
	slash = strchr(p, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, p, r->addr) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, p, r->addr) == 1)
		r->family = 6;
	else {
		snprintf(err, errlen, "invalid address '%s' in '%s'", p, orig);
		return -EINVAL;
	}
	len = r->family == 4 ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno ||
		    len > (r->family == 4 ? 32u : 128u)) {
			snprintf(err, errlen, "invalid prefix length '/%s': IPv%u takes /0 to /%u",
				 slash + 1, r->family, r->family == 4 ? 32 : 128);
			return -EINVAL;
		}
	}
	r->len = (__u32)len;
	memcpy(masked, r->addr, sizeof(masked));
	pw_mask_addr(masked, r->family, r->len);
	if (memcmp(masked, r->addr, r->family == 4 ? 4 : 16)) {
		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, masked, want, sizeof(want));
		snprintf(err, errlen, "host bits set in '%s/%u': did you mean %s/%u?",
			 p, r->len, want, r->len);
		return -EINVAL;
	}
	return 0;
}

/* PORT or LOW-HIGH of a sport or dport rule. */
static int parse_ports(char *word, struct pw_rule *r, char *err, size_t errlen)
{
	char *dash = strchr(word, '-');

	if (dash)
		*dash = '\0';
	if (port_parse(word, &r->port_lo) || port_parse(dash ? dash + 1 : word, &r->port_hi)) {
		snprintf(err, errlen, "invalid port '%s%s%s': 0-65535 or LOW-HIGH", word,
			 dash ? "-" : "", dash ? dash + 1 : "");
		return -EINVAL;
	}
	if (r->port_lo > r->port_hi) {
		snprintf(err, errlen, "reversed port range '%u-%u': write %u-%u",
			 r->port_lo, r->port_hi, r->port_hi, r->port_lo);
		return -EINVAL;
	}
	return 0;
}

/* After the action: src|dst PREFIX, proto P, or [proto tcp|udp] sport|dport PORTS. */
static int parse_match(char **tok, int n, struct pw_rule *r, char *err, size_t errlen)
{
	int i = 1, proto;

	if (!strcmp(tok[i], "src") || !strcmp(tok[i], "dst")) {
		if (n != 3) {
			snprintf(err, errlen, "unexpected '%s' after the prefix", tok[3]);
			return -EINVAL;
		}
		r->kind = !strcmp(tok[i], "src") ? PW_RK_SRC : PW_RK_DST;
		return parse_prefix(tok[i + 1], r, err, errlen);
	}
	if (!strcmp(tok[i], "proto")) {
		if ((proto = proto_parse(tok[i + 1])) < 0) {
			snprintf(err, errlen, "unknown protocol '%s': a name (tcp, udp, icmp, ...) or 0-255",
				 tok[i + 1]);
			return -EINVAL;
		}
		r->proto = (__u32)proto;
		if (n == 3) {
			r->kind = PW_RK_PROTO;
			return 0;
		}
		if (proto != 6 && proto != 17) {
			snprintf(err, errlen, "port rules take proto tcp or udp, not '%s'", tok[i + 1]);
			return -EINVAL;
		}
		i += 2;
	}
	if (i + 1 >= n || (strcmp(tok[i], "sport") && strcmp(tok[i], "dport"))) {
		snprintf(err, errlen, "unknown match '%s': use src, dst, proto, sport or dport",
			 i < n ? tok[i] : "");
		return -EINVAL;
	}
	if (i + 2 != n) {
		snprintf(err, errlen, "unexpected '%s' after the port", tok[i + 2]);
		return -EINVAL;
	}
	r->kind = !strcmp(tok[i], "sport") ? PW_RK_SPORT : PW_RK_DPORT;
	return parse_ports(tok[i + 1], r, err, errlen);
}

int pw_rule_parse(const char *text, struct pw_rule *r, char *err, size_t errlen)
{
	char buf[PW_RULE_TEXT_MAX + 1], *tok[8];
	int n;

	memset(r, 0, sizeof(*r));
	if ((n = rule_words(text, buf, tok, err, errlen)) < 0)
		return n;
	if (n < 3) {
		snprintf(err, errlen, "incomplete rule '%s': expected ACTION src|dst|proto|sport|dport VALUE", text);
		return -EINVAL;
	}
	if (!strcmp(tok[0], "drop"))
		r->action = XDP_DROP;
	else if (!strcmp(tok[0], "pass"))
		r->action = XDP_PASS;
	else {
		snprintf(err, errlen, "unknown action '%s': use drop or pass", tok[0]);
		return -EINVAL;
	}
	return parse_match(tok, n, r, err, errlen);
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

/* Do two port rules overlap on a port and protocol? */
static bool ports_overlap(const struct pw_rule *a, const struct pw_rule *b)
{
	return a->kind == b->kind && (a->proto == b->proto || !a->proto || !b->proto) &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

void pw_ruleset_free(struct pw_ruleset *rs)
{
	free(rs->r);
	free(rs->ids);
	memset(rs, 0, sizeof(*rs));
}

int pw_ruleset_push(struct pw_ruleset *rs, const struct pw_rule *r, __u32 id)
{
	if (rs->n == rs->cap) {
		int cap = rs->cap ? rs->cap * 2 : 256;
		struct pw_rule *nr = realloc(rs->r, cap * sizeof(*nr));
		__u32 *ni = nr ? realloc(rs->ids, cap * sizeof(*ni)) : NULL;

		if (!nr || !ni) {
			if (nr)
				rs->r = nr;
			return -ENOMEM;
		}
		rs->r = nr;
		rs->ids = ni;
		rs->cap = cap;
	}
	rs->r[rs->n] = *r;
	rs->ids[rs->n++] = id;
	return 0;
}

/* Hash of the match, for duplicate detection in large files. */
__u64 pw_rule_match_hash(const struct pw_rule *r)
{
	struct pw_rule x = *r;
	const unsigned char *p = (const unsigned char *)&x;
	__u64 h = 1469598103934665603ull;

	x.action = 0;
	for (size_t i = 0; i < sizeof(x); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/*
 * Check a whole set: no duplicate or conflicting rule, and ranges of port
 * rules nest or are disjoint (the narrowest wins, so a partial overlap would
 * have no clear winner). @where names each rule for messages ("FILE:LINE").
 */
int pw_ruleset_check(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *const *where)
{
	size_t cap = 1;
	struct slot { __u64 h; int idx; } *tab;
	int err = 0;

	while (cap < (size_t)rs->n * 2 + 2)
		cap <<= 1;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return pw_fail(ctx, ENOMEM, "out of memory");
	for (int i = 0; i < rs->n && !err; i++) {
		__u64 h = pw_rule_match_hash(&rs->r[i]) | 1;
		size_t s = h & (cap - 1);

		for (; tab[s].h; s = (s + 1) & (cap - 1)) {
			const struct pw_rule *o = &rs->r[tab[s].idx];
			char a[128];

			if (tab[s].h != h || !pw_rule_same_match(o, &rs->r[i]))
				continue;
			pw_rule_format(&rs->r[i], a, sizeof(a));
			err = pw_fail(ctx, EEXIST, "%s: %s rule '%s' (first at %s)",
				      where ? where[i] : "rule", o->action == rs->r[i].action ?
				      "duplicate" : "conflicting", a, where ? where[tab[s].idx] : "earlier");
			break;
		}
		tab[s].h = h;
		tab[s].idx = i;
	}
	free(tab);
	if (err)
		return err;
	/* port rules are few: pairwise */
	for (int i = 0; i < rs->n; i++) {
		const struct pw_rule *a = &rs->r[i];

		if (a->kind != PW_RK_SPORT && a->kind != PW_RK_DPORT)
			continue;
		for (int j = i + 1; j < rs->n; j++) {
			const struct pw_rule *b = &rs->r[j];
			bool nested;
			char x[128], y[128];

			if (!ports_overlap(a, b))
				continue;
			nested = (a->port_lo <= b->port_lo && b->port_hi <= a->port_hi) ||
				 (b->port_lo <= a->port_lo && a->port_hi <= b->port_hi);
			if (nested && !(a->port_lo == b->port_lo && a->port_hi == b->port_hi))
				continue;
			if (nested && a->proto != b->proto)
				continue;	/* tcp-only vs both: the protocol-specific one wins */
			pw_rule_format(b, x, sizeof(x));
			pw_rule_format(a, y, sizeof(y));
			return pw_fail(ctx, EEXIST,
				       "%s: conflicting rule '%s': its ports partly overlap '%s' (%s); ranges must nest or be disjoint",
				       where ? where[j] : "rule", x, y, where ? where[i] : "earlier");
		}
	}
	return 0;
}

/* ---- rule files ---- */

/* A rule file being read: its name for messages, the current line, and
 * where each rule came from ("FILE:LINE"). */
struct rule_file {
	FILE *f;
	const char *name;		/* as given; "-" is standard input */
	int lineno;
	int policy_line;		/* the line that set the policy; 0: none */
	char **where;
	int wcap;
	char line[PW_RULE_LINE_MAX + 1];
};

/*
 * The next line into rf->line, newline dropped: 1 a line, 0 end of file.
 * A read error is an error, never an end of file: a partial file taken as
 * whole would remove every rule it did not reach. NUL bytes and overlong
 * lines are refused, never cut.
 */
static int read_line(struct pw_ctx *ctx, struct rule_file *rf)
{
	size_t n = 0;
	int c, e;

	rf->lineno++;
	errno = 0;
	while ((c = getc_unlocked(rf->f)) != EOF && c != '\n') {
		if (!c)
			return pw_fail(ctx, EINVAL, "%s:%d: NUL byte: a rule file is text",
				       rf->name, rf->lineno);
		if (n == PW_RULE_LINE_MAX)
			return pw_fail(ctx, E2BIG, "%s:%d: line is longer than %d characters",
				       rf->name, rf->lineno, PW_RULE_LINE_MAX);
		rf->line[n++] = (char)c;
	}
	rf->line[n] = '\0';
	if (ferror(rf->f)) {
		e = errno ? errno : EIO;
		return pw_fail(ctx, e, "cannot read rule file '%s': %s", rf->name, strerror(e));
	}
	return c != EOF || n;
}

/* "policy WORD": exactly one word, allow or deny, and one policy a file. */
static int parse_policy(struct pw_ctx *ctx, struct rule_file *rf, char *rest,
			struct pw_ruleset *rs)
{
	char *save = NULL, *word = strtok_r(rest, " \t\r", &save);
	char *extra = word ? strtok_r(NULL, " \t\r", &save) : NULL;
	int policy;

	if (!word)
		return pw_fail(ctx, EINVAL, "%s:%d: 'policy' needs one word: allow or deny",
			       rf->name, rf->lineno);
	if (extra)
		return pw_fail(ctx, EINVAL, "%s:%d: one policy word expected, got extra '%s' after '%s'",
			       rf->name, rf->lineno, extra, word);
	if (!strcmp(word, "allow"))
		policy = PW_POLICY_ALLOW;
	else if (!strcmp(word, "deny"))
		policy = PW_POLICY_DENY;
	else
		return pw_fail(ctx, EINVAL, "%s:%d: unknown policy '%s': use allow or deny",
			       rf->name, rf->lineno, word);
	if (rf->policy_line && policy != rs->policy)
		return pw_fail(ctx, EINVAL, "%s:%d: 'policy %s' contradicts 'policy %s' on line %d",
			       rf->name, rf->lineno, word,
			       rs->policy == PW_POLICY_DENY ? "deny" : "allow", rf->policy_line);
	rs->policy = policy;
	rf->policy_line = rf->lineno;
	return 0;
}

static int add_rule(struct pw_ctx *ctx, struct rule_file *rf, struct pw_ruleset *rs,
		    const struct pw_rule *r)
{
	if (rs->n >= PW_MAX_RULES - 1)
		return pw_fail(ctx, ENOSPC, "%s:%d: table full: at most %d rules",
			       rf->name, rf->lineno, PW_MAX_RULES - 1);
	if (rs->n == rf->wcap) {
		int cap = rf->wcap ? rf->wcap * 2 : 256;
		char **w = realloc(rf->where, cap * sizeof(*w));

		if (!w)
			return pw_fail(ctx, ENOMEM, "out of memory");
		rf->where = w;
		rf->wcap = cap;
	}
	if (asprintf(&rf->where[rs->n], "%s:%d", rf->name, rf->lineno) < 0)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if (pw_ruleset_push(rs, r, 0)) {
		free(rf->where[rs->n]);
		return pw_fail(ctx, ENOMEM, "out of memory");
	}
	return 0;
}

/* One line: blank, a comment, the policy or a rule. */
static int parse_line(struct pw_ctx *ctx, struct rule_file *rf, struct pw_ruleset *rs)
{
	char *p = rf->line, *hash = strchr(p, '#'), err[PW_ERR_LEN];
	struct pw_rule r;
	size_t n;

	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*p))
		p++;
	for (n = strlen(p); n && isspace((unsigned char)p[n - 1]); n--)
		p[n - 1] = '\0';
	if (!*p)
		return 0;
	if (!strncmp(p, "policy", 6) && (!p[6] || isspace((unsigned char)p[6])))
		return parse_policy(ctx, rf, p + 6, rs);
	if (pw_rule_parse(p, &r, err, sizeof(err)))
		return pw_fail(ctx, EINVAL, "%s:%d: %s", rf->name, rf->lineno, err);
	return add_rule(ctx, rf, rs, &r);
}

int pw_ruleset_parse_file(struct pw_ctx *ctx, const char *path, struct pw_ruleset *rs)
{
	struct rule_file *rf = calloc(1, sizeof(*rf));
	int ret;

	memset(rs, 0, sizeof(*rs));
	rs->policy = -1;
	if (!rf)
		return pw_fail(ctx, ENOMEM, "out of memory");
	rf->name = path;
	rf->f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!rf->f) {
		ret = pw_fail(ctx, errno, "rule file '%s': %s", path, strerror(errno));
		free(rf);
		return ret;
	}
	while ((ret = read_line(ctx, rf)) > 0 && !(ret = parse_line(ctx, rf, rs)))
		;
	if (!ret)
		ret = pw_ruleset_check(ctx, rs, (const char *const *)rf->where);
	for (int i = 0; i < rs->n; i++)
		free(rf->where[i]);
	free(rf->where);
	if (rf->f != stdin)
		fclose(rf->f);
	free(rf);
	if (ret)
		pw_ruleset_free(rs);
	return ret;
}
