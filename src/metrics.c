// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A collection as Prometheus text (exposition format 0.0.4): each family
 * once, HELP and TYPE first, counters named _total in base units (bytes).
 * Label values are escaped as the format says (backslash, quote, newline);
 * before that, a backslash in a value is doubled and bytes that are not
 * UTF-8 and control characters are written as the text \xNN, so a hostile
 * interface name cannot break a line nor pass for another name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "metrics.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_grow(struct sbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap == b->cap)
		return;
	if (!(p = realloc(b->p, cap))) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_grow(b, n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += n;
}

static void sb_putc(struct sbuf *b, char ch)
{
	if (b->len + 2 > b->cap)
		sb_grow(b, 1);
	if (b->oom)
		return;
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
}

/* @value with each backslash doubled, so that the \xNN that cli_escape()
 * writes for a byte that is not UTF-8 is told apart from the same four
 * characters in a name ("a\\xff" is the name, "a\xff" the byte). */
static char *label_text(const char *value)
{
	size_t n = strlen(value), extra = 0;
	char *dbl, *o, *safe;

	for (const char *s = value; *s; s++)
		extra += *s == '\\';
	if (!(dbl = o = malloc(n + extra + 1)))
		return NULL;
	for (const char *s = value; *s; s++) {
		if (*s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	safe = cli_escape(dbl);
	free(dbl);
	return safe;
}

/* name="value", the value escaped; @sep before it ("{" or ","). */
static void sb_label(struct sbuf *b, char sep, const char *name, const char *value)
{
	char *safe = label_text(value);

	if (!safe) {
		b->oom = true;
		return;
	}
	sb_printf(b, "%c%s=\"", sep, name);
	for (const char *s = safe; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			sb_putc(b, '\\');
		sb_putc(b, *s == '\n' ? 'n' : *s);
	}
	sb_putc(b, '"');
	free(safe);
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s ", name);
	/* HELP text escapes backslash and newline (the format says so) */
	for (const char *s = help; *s; s++) {
		if (*s == '\\' || *s == '\n')
			sb_putc(b, '\\');
		sb_putc(b, *s == '\n' ? 'n' : *s);
	}
	sb_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{interface="IF",KEY="VALUE"} N */
static void sample_if(struct sbuf *b, const char *name, const char *ifname, const char *key,
		      const char *value, unsigned long long n)
{
	sb_printf(b, "%s", name);
	sb_label(b, '{', "interface", ifname);
	if (key)
		sb_label(b, ',', key, value);
	sb_printf(b, "} %llu\n", n);
}

/* A counter map that read right this scrape (a failed read is left out). */
static bool readable(const struct pw_stats_map *m)
{
	return m->have_cur && !m->err;
}

/* pinwall_{packets,bytes}_total per action, pinwall_class_* per class. */
static void counters(struct sbuf *b, const struct pw_collect *c, bool classes, bool bytes)
{
	unsigned int max = classes ? PW_CLASS_MAX : PW_ACTION_MAX;

	for (int i = 0; i < c->n_ifs; i++) {
		const struct pw_stats_iface *si = &c->ifs[i].st;
		const struct pw_stats_map *m = classes ? &si->classes : &si->actions;

		for (__u32 k = 0; readable(m) && k < m->n && k < max; k++)
			sample_if(b, bytes ? (classes ? "pinwall_class_bytes_total" : "pinwall_bytes_total") :
				  (classes ? "pinwall_class_packets_total" : "pinwall_packets_total"),
				  si->ifname, classes ? "class" : "action",
				  classes ? pw_class_name(k) : pw_action_name(k, false),
				  bytes ? m->cur[k].bytes : m->cur[k].packets);
	}
}

static void traffic(struct sbuf *b, const struct pw_collect *c)
{
	family(b, "pinwall_packets_total", "counter",
	       "Frames the XDP program returned each action for, per interface.");
	counters(b, c, false, false);
	family(b, "pinwall_bytes_total", "counter",
	       "Bytes of the frames the XDP program returned each action for, per interface.");
	counters(b, c, false, true);
	family(b, "pinwall_class_packets_total", "counter",
	       "Frames per protocol class (one L3 class, and one L4 class for IP), per interface.");
	counters(b, c, true, false);
	family(b, "pinwall_class_bytes_total", "counter",
	       "Bytes of the frames per protocol class, per interface.");
	counters(b, c, true, true);
}

static void map_info(struct sbuf *b, const char *ifname, const struct pw_stats_map *m)
{
	if (!readable(m))
		return;
	sb_printf(b, "pinwall_map_info");
	sb_label(b, '{', "interface", ifname);
	sb_label(b, ',', "map", m->name);
	sb_printf(b, ",map_id=\"%u\"} 1\n", m->id);
}

/* What runs where: presence, pinwall's program, the counter maps read. */
static void interfaces(struct sbuf *b, const struct pw_collect *c)
{
	family(b, "pinwall_interface_present", "gauge",
	       "1 if the interface exists, 0 if only its pins are left.");
	for (int i = 0; i < c->n_ifs; i++)
		sample_if(b, "pinwall_interface_present", c->ifs[i].st.ifname, NULL, NULL,
			  c->ifs[i].st.present);
	family(b, "pinwall_program_info", "gauge",
	       "1 for pinwall's XDP program attached to the interface: its id and mode.");
	for (int i = 0; i < c->n_ifs; i++) {
		const struct pw_collect_iface *ci = &c->ifs[i];

		if (!ci->prog_id)
			continue;
		sb_printf(b, "pinwall_program_info");
		sb_label(b, '{', "interface", ci->st.ifname);
		sb_printf(b, ",prog_id=\"%u\",mode=\"%s\"} 1\n", ci->prog_id, pw_mode_name(ci->mode));
	}
	family(b, "pinwall_map_info", "gauge",
	       "1 for each counter map read: its id (a new id: counters start again from 0).");
	for (int i = 0; i < c->n_ifs; i++) {
		map_info(b, c->ifs[i].st.ifname, &c->ifs[i].st.actions);
		map_info(b, c->ifs[i].st.ifname, &c->ifs[i].st.classes);
	}
}

static void rule_samples(struct sbuf *b, const struct pw_collect *c, bool bytes)
{
	for (int i = 0; i < c->n_top; i++) {
		const struct pw_rule_hits *h = &c->top[i];

		sb_printf(b, "%s{id=\"%u\"", bytes ? "pinwall_rule_bytes_total" : "pinwall_rule_hits_total",
			  h->id);
		sb_label(b, ',', "rule", h->text);
		sb_printf(b, "} %llu\n", (unsigned long long)(bytes ? h->c.bytes : h->c.packets));
	}
}

static void rules(struct sbuf *b, const struct pw_collect *c)
{
	family(b, "pinwall_rules", "gauge", "Rules in force.");
	sb_printf(b, "pinwall_rules %d\n", c->n_rules);
	family(b, "pinwall_rules_omitted", "gauge",
	       "Rules in force left out of pinwall_rule_hits_total and pinwall_rule_bytes_total (over --max-rules, fewest hits).");
	sb_printf(b, "pinwall_rules_omitted %d\n", c->n_rules - c->n_top);
	family(b, "pinwall_rule_hits_total", "counter",
	       "Frames each rule decided (the --max-rules rules with the most hits).");
	rule_samples(b, c, false);
	family(b, "pinwall_rule_bytes_total", "counter", "Bytes of the frames each rule decided.");
	rule_samples(b, c, true);
	family(b, "pinwall_rules_info", "gauge",
	       "1 while rules are configured: the policy and the ids of the rule and rule counter maps.");
	if (c->have_rules)
		sb_printf(b, "pinwall_rules_info{policy=\"%s\",rules_map_id=\"%u\",stats_map_id=\"%u\"} 1\n",
			  policy_name(c->policy), c->rules_map_id, c->rule_stats_map_id);
}

static void scrape(struct sbuf *b, const struct pw_collect *c)
{
	family(b, "pinwall_scrape_duration_seconds", "gauge",
	       "How long reading the pinned maps took for this scrape.");
	sb_printf(b, "pinwall_scrape_duration_seconds %.6f\n", c->seconds);
	family(b, "pinwall_scrape_errors_total", "counter",
	       "Reads that failed since the exporter started, by what was read; that part is left out of the scrape.");
	for (int w = 0; w < PW_CW_MAX; w++)
		sb_printf(b, "pinwall_scrape_errors_total{what=\"%s\"} %llu\n",
			  pw_collect_what_name(w), (unsigned long long)c->errors[w]);
}

char *metrics_render(const struct pw_collect *c, size_t *len)
{
	struct sbuf b = { 0 };

	traffic(&b, c);
	interfaces(&b, c);
	rules(&b, c);
	scrape(&b, c);
	if (b.oom || !b.p) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
