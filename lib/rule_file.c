// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rule files and set files: reading them whole (or refusing them whole),
 * and the checks a rule set must pass before it is applied.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* ---- checks ---- */

/* Do two port rules overlap on a port and protocol? */
static bool ports_overlap(const struct pw_rule *a, const struct pw_rule *b)
{
	return a->kind == b->kind && (a->proto == b->proto || !a->proto || !b->proto) &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

static void warn(struct pw_ruleset *rs, const char *fmt, ...)
{
	size_t n = rs->warnings ? strlen(rs->warnings) : 0;
	char line[PW_ERR_LEN], *w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 64 * 1024 || !(w = realloc(rs->warnings, n + strlen(line) + 12)))
		return;
	sprintf(w + n, "warning: %s\n", line);
	rs->warnings = w;
}

#define WHERE(i) (where ? where[i] : "rule")

/* No two rules with the same match. */
static int check_duplicates(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *const *where)
{
	size_t cap = 1;
	struct slot { __u64 h; int idx; } *tab;
	int err = 0;

	while (cap < (size_t)rs->n * 2 + 2)
		cap <<= 1;
	if (!(tab = calloc(cap, sizeof(*tab))))
		return pw_fail(ctx, ENOMEM, "out of memory");
	for (int i = 0; i < rs->n && !err; i++) {
		__u64 h = pw_ruleset_match_hash(rs, i) | 1;
		size_t s = h & (cap - 1);

		for (; tab[s].h; s = (s + 1) & (cap - 1)) {
			int o = tab[s].idx;
			char a[256];

			if (tab[s].h != h || !pw_ruleset_same_match(rs, o, rs, i))
				continue;
			pw_ruleset_format(rs, i, a, sizeof(a));
			err = pw_fail(ctx, EEXIST, "%s: %s rule '%s' (first at %s)", WHERE(i),
				      rs->r[o].action == rs->r[i].action ? "duplicate" : "conflicting",
				      a, where ? where[o] : "earlier");
			break;
		}
		tab[s].h = h;
		tab[s].idx = i;
	}
	free(tab);
	return err;
}

/* Ranges of single-match port rules nest or are disjoint (the narrowest
 * wins, so a partial overlap would have no clear winner). */
static int check_port_ranges(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *const *where)
{
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
				       WHERE(j), x, y, where ? where[i] : "earlier");
		}
	}
	return 0;
}

/* Families an address match can match: bit 0 IPv4, bit 1 IPv6. An empty
 * set may be filled later: both. */
static unsigned addr_families(const struct pw_ruleset *rs, const struct pw_addr_match *a)
{
	const struct pw_set *s;
	unsigned f = 0;

	if (a->family == 4 || a->family == 6)
		return a->family == 4 ? 1 : 2;
	if (a->family != PW_ADDR_SET || !(s = pw_ruleset_find_set(rs, a->set)) || !s->n)
		return 3;
	for (int i = 0; i < s->n && f != 3; i++)
		f |= s->e[i].family == 4 ? 1 : 2;
	return f;
}

/* Each ordered rule: its sets exist, and it can match some packet. */
static int check_ordered_rule(struct pw_ctx *ctx, const struct pw_ruleset *rs, int i,
			      const char *const *where)
{
	const struct pw_ord_rule *o = &rs->ord[i];
	const struct pw_addr_match *m[2] = { &o->src, &o->dst };
	unsigned fam = 3;
	char a[256];

	for (int k = 0; k < 2; k++) {
		if (m[k]->family == PW_ADDR_SET && !pw_ruleset_find_set(rs, m[k]->set))
			return pw_fail(ctx, ENOENT, "%s: unknown set '@%s': define it with 'set %s PREFIX...' before the rules that use it",
				       WHERE(i), m[k]->set, m[k]->set);
		fam &= addr_families(rs, m[k]);
	}
	if (o->has_proto && o->proto == 1)
		fam &= 1;
	if (o->has_proto && o->proto == 58)
		fam &= 2;
	if (!fam) {
		pw_ruleset_format(rs, i, a, sizeof(a));
		return pw_fail(ctx, EINVAL, "%s: rule '%s' can never match: its sets, prefixes and protocol have no address family in common",
			       WHERE(i), a);
	}
	return 0;
}

static bool ports_cover(const struct pw_port_match *w, const struct pw_port_match *n)
{
	if (!w->n)
		return true;
	if (!n->n)
		return false;
	for (__u32 j = 0; j < n->n; j++) {
		bool in = false;

		for (__u32 i = 0; i < w->n && !in; i++)
			in = w->r[i].lo <= n->r[j].lo && n->r[j].hi <= w->r[i].hi;
		if (!in)
			return false;
	}
	return true;
}

static bool addr_covers(const struct pw_addr_match *w, const struct pw_addr_match *n)
{
	__u32 a[4];

	if (!w->family)
		return true;
	if (w->family == PW_ADDR_SET)
		return n->family == PW_ADDR_SET && !strcmp(w->set, n->set);
	if (n->family != w->family || n->len < w->len)
		return false;
	memcpy(a, n->addr, sizeof(a));
	pw_mask_addr(a, (int)w->family, w->len);
	return !memcmp(a, w->addr, sizeof(a));
}

/* Does ordered rule @w match every packet ordered rule @n matches? */
static bool rule_covers(const struct pw_ord_rule *w, const struct pw_ord_rule *n)
{
	return (!(PW_ORD_FLAGS(w) & PW_ORD_F_CT) || (PW_ORD_FLAGS(n) & PW_ORD_F_CT)) &&
	       (!w->has_proto || (n->has_proto && n->proto == w->proto)) &&
	       addr_covers(&w->src, &n->src) && addr_covers(&w->dst, &n->dst) &&
	       ports_cover(&w->sport, &n->sport) && ports_cover(&w->dport, &n->dport);
}

/* Does single-match rule @t match every packet ordered rule @n matches?
 * Then the table, placed before @n, always decides first. */
static bool table_covers(const struct pw_rule *t, const struct pw_ord_rule *n)
{
	struct pw_addr_match w = { t->family, t->len, { 0 }, "" };
	const struct pw_port_match *pm = t->kind == PW_RK_SPORT ? &n->sport : &n->dport;

	memcpy(w.addr, t->addr, sizeof(w.addr));
	switch (t->kind) {
	case PW_RK_SRC:
		return n->src.family == t->family && addr_covers(&w, &n->src);
	case PW_RK_DST:
		return n->dst.family == t->family && addr_covers(&w, &n->dst);
	case PW_RK_PROTO:
		return n->has_proto && n->proto == t->proto;
	case PW_RK_SPORT:
	case PW_RK_DPORT: {
		struct pw_port_match r = { 1, { { (__u16)t->port_lo, (__u16)t->port_hi } } };

		return pm->n && (!t->proto || (n->has_proto && n->proto == t->proto)) &&
		       ports_cover(&r, pm);
	}
	}
	return false;
}

/* An ordered rule after the table that a table rule always beats: a warning. */
static void warn_table_shadow(struct pw_ruleset *rs, int i, int first_single, const char *const *where)
{
	char a[256], b[256];

	for (int t = 0; t < rs->n; t++) {
		if (PW_RK_KIND(rs->r[t].kind) == PW_RK_ORDERED || !table_covers(&rs->r[t], &rs->ord[i]))
			continue;
		pw_ruleset_format(rs, i, a, sizeof(a));
		pw_rule_format(&rs->r[t], b, sizeof(b));
		warn(rs, "%s: rule '%s' can never match: the prefix table, placed before it at %s, decides every packet it matches ('%s')",
		     WHERE(i), a, where ? where[first_single] : "earlier", b);
		return;
	}
}

/*
 * Ordered rules: at most PW_ORD_MAX; sets exist; each can match; the
 * single-match rules written together (they form one table, placed where
 * the first is); a rule an earlier one always shadows is a warning.
 */
static int check_ordered(struct pw_ctx *ctx, struct pw_ruleset *rs, const char *const *where)
{
	int n_ord = 0, first_single = -1, ord_after = -1, err;

	for (int i = 0; i < rs->n; i++) {
		if (PW_RK_KIND(rs->r[i].kind) != PW_RK_ORDERED) {
			if (first_single < 0)
				first_single = i;
			else if (ord_after >= 0) {
				char a[256];

				pw_ruleset_format(rs, i, a, sizeof(a));
				return pw_fail(ctx, EINVAL, "%s: single-match rule '%s' is written after the ordered rule at %s, but single-match rules form one table, placed at the first of them (%s): move it up to them, or make it ordered with a set ('set NAME PREFIX' and '@NAME')",
					       WHERE(i), a, WHERE(ord_after), WHERE(first_single));
			}
			continue;
		}
		if (first_single >= 0 && ord_after < 0)
			ord_after = i;
		if (++n_ord > PW_ORD_MAX) {
			char a[256];

			pw_ruleset_format(rs, i, a, sizeof(a));
			return pw_fail(ctx, ENOSPC, "%s: table full: '%s' is one too many: at most %d ordered rules (rules with more than one match, a set or a port list)",
				       WHERE(i), a, PW_ORD_MAX);
		}
		if ((err = check_ordered_rule(ctx, rs, i, where)))
			return err;
		if (first_single >= 0)
			warn_table_shadow(rs, i, first_single, where);
		for (int j = 0; j < i; j++) {
			char a[256], b[256];

			/* a limit rule lets conforming packets on: it shadows nothing */
			if (PW_RK_KIND(rs->r[j].kind) != PW_RK_ORDERED || rs->r[j].action == PW_ACT_LIMIT ||
			    !rule_covers(&rs->ord[j], &rs->ord[i]))
				continue;
			pw_ruleset_format(rs, i, a, sizeof(a));
			pw_ruleset_format(rs, j, b, sizeof(b));
			warn(rs, "%s: rule '%s' can never match: the earlier rule '%s' (%s) matches all it matches",
			     WHERE(i), a, b, where ? where[j] : "earlier");
			break;
		}
	}
	return 0;
}

int pw_ruleset_check(struct pw_ctx *ctx, struct pw_ruleset *rs, const char *const *where)
{
	int err;

	if ((err = check_duplicates(ctx, rs, where)) || (err = check_port_ranges(ctx, rs, where)))
		return err;
	return check_ordered(ctx, rs, where);
}

/* ---- reading files ---- */

/* A text file being read: its name for messages and the current line. */
struct text_file {
	FILE *f;
	const char *name;		/* as given; "-" is standard input */
	int lineno;
	char line[PW_RULE_LINE_MAX + 1];
};

/*
 * The next line into tf->line, newline dropped: 1 a line, 0 end of file.
 * A read error is an error, never an end of file: a partial file taken as
 * whole would remove every rule it did not reach. NUL bytes and overlong
 * lines are refused, never cut.
 */
static int read_line(struct pw_ctx *ctx, struct text_file *tf, const char *what)
{
	size_t n = 0;
	int c, e;

	tf->lineno++;
	errno = 0;
	while ((c = getc_unlocked(tf->f)) != EOF && c != '\n') {
		if (!c)
			return pw_fail(ctx, EINVAL, "%s:%d: NUL byte: a %s is text",
				       tf->name, tf->lineno, what);
		if (n == PW_RULE_LINE_MAX)
			return pw_fail(ctx, E2BIG, "%s:%d: line is longer than %d characters",
				       tf->name, tf->lineno, PW_RULE_LINE_MAX);
		tf->line[n++] = (char)c;
	}
	tf->line[n] = '\0';
	if (ferror(tf->f)) {
		e = errno ? errno : EIO;
		return pw_fail(ctx, e, "cannot read %s '%s': %s", what, tf->name, strerror(e));
	}
	return c != EOF || n;
}

/* The line without its comment and surrounding blanks. */
static char *line_text(char *p)
{
	char *hash = strchr(p, '#');
	size_t n;

	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*p))
		p++;
	for (n = strlen(p); n && isspace((unsigned char)p[n - 1]); n--)
		p[n - 1] = '\0';
	return p;
}

/* A set file is a regular file: a FIFO or a device (say /dev/stdin) would
 * block a restore at boot or never end. Opened without blocking, checked,
 * then read through that same descriptor. */
static int set_file_open(struct pw_ctx *ctx, const char *path, FILE **f)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e;
	struct stat st;

	if (fd < 0)
		return pw_fail(ctx, errno, "set file '%s': %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		e = errno;
		close(fd);
		return pw_fail(ctx, e, "set file '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pw_fail(ctx, EINVAL, "set file '%s' is not a regular file: a set file holds one prefix a line",
			       path);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) || !(*f = fdopen(fd, "re"))) {
		e = errno;
		close(fd);
		return pw_fail(ctx, e, "set file '%s': %s", path, strerror(e));
	}
	return 0;
}

int pw_set_read_file(struct pw_ctx *ctx, const char *path, struct pw_set *s)
{
	struct text_file *tf = calloc(1, sizeof(*tf));
	char err[PW_ERR_LEN];
	struct pw_prefix p;
	int ret;

	if (!tf)
		return pw_fail(ctx, ENOMEM, "out of memory");
	tf->name = path;
	if ((ret = set_file_open(ctx, path, &tf->f))) {
		free(tf);
		return ret;
	}
	while ((ret = read_line(ctx, tf, "set file")) > 0) {
		char *t = line_text(tf->line);

		if (!*t)
			continue;
		if (pw_prefix_parse(t, &p, err, sizeof(err))) {
			ret = pw_fail(ctx, EINVAL, "%s:%d: %s: one prefix a line", path, tf->lineno, err);
			break;
		}
		if (pw_set_push(s, &p)) {
			ret = pw_fail(ctx, ENOMEM, "out of memory");
			break;
		}
	}
	fclose(tf->f);
	free(tf);
	if (ret)
		return ret;
	pw_set_normalize(s);
	return 0;
}

/* A rule file being read: where each rule came from ("FILE:LINE"), and
 * where each set was defined. */
struct rule_file {
	struct text_file tf;
	int policy_line;		/* the line that set the policy; 0: none */
	char **where;
	int wcap;
	int set_line[PW_MAX_SETS];
};

/* "policy WORD": exactly one word, allow or deny, and one policy a file. */
static int parse_policy(struct pw_ctx *ctx, struct rule_file *rf, char *rest,
			struct pw_ruleset *rs)
{
	char *save = NULL, *word = strtok_r(rest, " \t\r", &save);
	char *extra = word ? strtok_r(NULL, " \t\r", &save) : NULL;
	const char *name = rf->tf.name;
	int policy, line = rf->tf.lineno;

	if (!word)
		return pw_fail(ctx, EINVAL, "%s:%d: 'policy' needs one word: allow or deny", name, line);
	if (extra)
		return pw_fail(ctx, EINVAL, "%s:%d: one policy word expected, got extra '%s' after '%s'",
			       name, line, extra, word);
	if (!strcmp(word, "allow"))
		policy = PW_POLICY_ALLOW;
	else if (!strcmp(word, "deny"))
		policy = PW_POLICY_DENY;
	else
		return pw_fail(ctx, EINVAL, "%s:%d: unknown policy '%s': use allow or deny", name, line, word);
	if (rf->policy_line && policy != rs->policy)
		return pw_fail(ctx, EINVAL, "%s:%d: 'policy %s' contradicts 'policy %s' on line %d",
			       name, line, word, rs->policy == PW_POLICY_DENY ? "deny" : "allow",
			       rf->policy_line);
	rs->policy = policy;
	rf->policy_line = line;
	return 0;
}

/* A set file named in a rule file: relative to the rule file's directory. */
static int set_file(struct pw_ctx *ctx, struct rule_file *rf, const char *path, struct pw_set *s)
{
	char *dir, *copy, *full = NULL;
	int ret;

	if (path[0] == '/' || !strcmp(rf->tf.name, "-"))
		return pw_set_read_file(ctx, path, s);
	if (!(copy = strdup(rf->tf.name)))
		return pw_fail(ctx, ENOMEM, "out of memory");
	dir = dirname(copy);
	if (asprintf(&full, "%s/%s", dir, path) < 0)
		full = NULL;
	ret = full ? pw_set_read_file(ctx, full, s) : pw_fail(ctx, ENOMEM, "out of memory");
	free(full);
	free(copy);
	return ret;
}

/* A set file's error, said at the rule file line that names the file. */
static int set_file_at(struct pw_ctx *ctx, struct rule_file *rf, const char *path, struct pw_set *s)
{
	char err[PW_ERR_LEN];
	int ret = set_file(ctx, rf, path, s);

	if (ret) {
		memcpy(err, ctx->err, sizeof(err));
		pw_fail(ctx, ret, "%s:%d: set '%s': %s", rf->tf.name, rf->tf.lineno, s->name, err);
	}
	return ret;
}

/* "set NAME [PREFIX...]" or "set NAME file PATH". */
static int parse_set(struct pw_ctx *ctx, struct rule_file *rf, char *rest, struct pw_ruleset *rs)
{
	char *save = NULL, *name = strtok_r(rest, " \t\r,", &save), *w, err[PW_ERR_LEN];
	const char *fn = rf->tf.name;
	int line = rf->tf.lineno;
	struct pw_set *s;
	struct pw_prefix p;

	if (!name || !pw_set_name_ok(name))
		return pw_fail(ctx, EINVAL, "%s:%d: invalid set name '%s': a letter or '_', then letters, digits, '_', '.' or '-', at most %d",
			       fn, line, name ?: "", PW_SET_NAME_LEN - 1);
	if ((s = pw_ruleset_find_set(rs, name)))
		return pw_fail(ctx, EEXIST, "%s:%d: duplicate set '%s' (first at %s:%d)", fn, line,
			       name, fn, rf->set_line[s - rs->sets]);
	if (!(s = pw_ruleset_new_set(rs, name)))
		return errno == ENOSPC ?
			pw_fail(ctx, ENOSPC, "%s:%d: table full: set '%s' is one too many: at most %d sets",
				fn, line, name, PW_MAX_SETS) :
			pw_fail(ctx, ENOMEM, "out of memory");
	rf->set_line[s - rs->sets] = line;
	w = strtok_r(NULL, " \t\r,", &save);
	if (w && !strcmp(w, "file")) {
		char *path = strtok_r(NULL, " \t\r", &save), *extra = strtok_r(NULL, " \t\r", &save);

		if (!path || extra)
			return pw_fail(ctx, EINVAL, "%s:%d: 'set %s file' takes one path%s%s%s", fn, line,
				       name, extra ? ", got extra '" : "", extra ?: "", extra ? "'" : "");
		return set_file_at(ctx, rf, path, s);
	}
	for (; w; w = strtok_r(NULL, " \t\r,", &save)) {
		if (pw_prefix_parse(w, &p, err, sizeof(err)))
			return pw_fail(ctx, EINVAL, "%s:%d: %s in set '%s'", fn, line, err, name);
		if (pw_set_push(s, &p))
			return pw_fail(ctx, ENOMEM, "out of memory");
	}
	pw_set_normalize(s);
	return 0;
}

static int add_rule(struct pw_ctx *ctx, struct rule_file *rf, struct pw_ruleset *rs,
		    const struct pw_rule *r, const struct pw_ord_rule *o)
{
	const char *const m[2] = { o->src.set, o->dst.set };
	const __u32 f[2] = { o->src.family, o->dst.family };

	if (rs->n >= PW_MAX_RULES - 1)
		return pw_fail(ctx, ENOSPC, "%s:%d: table full: at most %d rules",
			       rf->tf.name, rf->tf.lineno, PW_MAX_RULES - 1);
	for (int k = 0; k < 2; k++)
		if (r->kind == PW_RK_ORDERED && f[k] == PW_ADDR_SET && !pw_ruleset_find_set(rs, m[k]))
			return pw_fail(ctx, ENOENT, "%s:%d: unknown set '@%s': define it with 'set %s PREFIX...' above the rules that use it",
				       rf->tf.name, rf->tf.lineno, m[k], m[k]);
	if (rs->n == rf->wcap) {
		int cap = rf->wcap ? rf->wcap * 2 : 256;
		char **w = realloc(rf->where, cap * sizeof(*w));

		if (!w)
			return pw_fail(ctx, ENOMEM, "out of memory");
		rf->where = w;
		rf->wcap = cap;
	}
	if (asprintf(&rf->where[rs->n], "%s:%d", rf->tf.name, rf->tf.lineno) < 0)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if (pw_ruleset_push(rs, r, o, 0)) {
		free(rf->where[rs->n]);
		return pw_fail(ctx, ENOMEM, "out of memory");
	}
	return 0;
}

static bool keyword(const char *p, const char *k)
{
	size_t n = strlen(k);

	return !strncmp(p, k, n) && (!p[n] || isspace((unsigned char)p[n]));
}

/* One line: blank, a comment, the policy, a set or a rule. */
static int parse_line(struct pw_ctx *ctx, struct rule_file *rf, struct pw_ruleset *rs)
{
	char *p = line_text(rf->tf.line), err[PW_ERR_LEN];
	struct pw_ord_rule o;
	struct pw_rule r;

	if (!*p)
		return 0;
	if (keyword(p, "policy"))
		return parse_policy(ctx, rf, p + 6, rs);
	if (keyword(p, "set"))
		return parse_set(ctx, rf, p + 3, rs);
	if (pw_rule_parse_full(p, &r, &o, err, sizeof(err)))
		return pw_fail(ctx, EINVAL, "%s:%d: %s", rf->tf.name, rf->tf.lineno, err);
	return add_rule(ctx, rf, rs, &r, &o);
}

int pw_ruleset_parse_file(struct pw_ctx *ctx, const char *path, struct pw_ruleset *rs)
{
	struct rule_file *rf = calloc(1, sizeof(*rf));
	int ret;

	memset(rs, 0, sizeof(*rs));
	rs->policy = -1;
	if (!rf)
		return pw_fail(ctx, ENOMEM, "out of memory");
	rf->tf.name = path;
	rf->tf.f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!rf->tf.f) {
		ret = pw_fail(ctx, errno, "rule file '%s': %s", path, strerror(errno));
		free(rf);
		return ret;
	}
	while ((ret = read_line(ctx, &rf->tf, "rule file")) > 0 && !(ret = parse_line(ctx, rf, rs)))
		;
	if (!ret)
		ret = pw_ruleset_check(ctx, rs, (const char *const *)rf->where);
	for (int i = 0; i < rs->n; i++)
		free(rf->where[i]);
	free(rf->where);
	if (rf->tf.f != stdin)
		fclose(rf->tf.f);
	free(rf);
	if (ret)
		pw_ruleset_free(rs);
	return ret;
}
