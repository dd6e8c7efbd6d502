// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `pinwall drops` output: one text or JSON line per captured frame, and
 * the frame to the pcap writer (drops_pcap.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "drops.h"

static const char *proto_name(const struct pw_frame_sum *s, char *buf, size_t len)
{
	switch (s->proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 132: return "sctp";
	case 1: return s->family == 4 ? "icmp" : "proto-1";
	case 58: return s->family == 6 ? "icmp6" : "proto-58";
	}
	snprintf(buf, len, "proto-%u", s->proto);
	return buf;
}

/* "udp 10.0.0.2:40000 > 10.0.0.1:53", "icmp6 a > b type 128 code 0", "arp" */
static void frame_text(const struct pw_frame_sum *s, char *buf, size_t len)
{
	bool v6 = s->family == 6;
	char p[16], sp[8] = "", dp[8] = "";
	int n = 0;

	if (s->vlan)
		n = snprintf(buf, len, "vlan %u ", s->vlan);
	if (!s->family) {
		snprintf(buf + n, len - n, s->ethertype == 0x0806 ? "arp" : "ethertype 0x%04x%s",
			 s->ethertype, s->truncated ? " (cut)" : "");
		return;
	}
	if (s->has_ports) {
		snprintf(sp, sizeof(sp), ":%u", s->sport);
		snprintf(dp, sizeof(dp), ":%u", s->dport);
	}
	n += snprintf(buf + n, len - n, "%s %s%s%s%s > %s%s%s%s", proto_name(s, p, sizeof(p)),
		      v6 && s->has_ports ? "[" : "", s->src, v6 && s->has_ports ? "]" : "", sp,
		      v6 && s->has_ports ? "[" : "", s->dst, v6 && s->has_ports ? "]" : "", dp);
	if (s->has_icmp && (size_t)n < len)
		n += snprintf(buf + n, len - n, " type %u code %u", s->icmp_type, s->icmp_code);
	if (s->frag_later && (size_t)n < len)
		n += snprintf(buf + n, len - n, " (fragment)");
	if (s->truncated && (size_t)n < len)
		snprintf(buf + n, len - n, " (cut at the snap length)");
}

static void text_line(struct drops_out *o, const struct pw_drop *d, const struct pw_frame_sum *s)
{
	time_t sec = (time_t)(d->ts_ns / 1000000000ULL);
	char when[32], rule[16], what[200];
	struct tm tm;

	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&sec, &tm));
	snprintf(rule, sizeof(rule), d->rule ? "rule %u" : "no rule", d->rule);
	frame_text(s, what, sizeof(what));
	fprintf(o->lines, "%s.%06llu %s %-9s %s %s len %u\n", when,
		(unsigned long long)(d->ts_ns % 1000000000ULL / 1000), o->safe_ifname,
		pw_drop_reason_name(d->reason), rule, what, d->len);
}

static void json_frame(struct json_object *j, const struct pw_frame_sum *s)
{
	char p[16];

	if (s->vlan)
		json_object_object_add(j, "vlan", json_object_new_int(s->vlan));
	json_object_object_add(j, "ethertype", json_object_new_int(s->ethertype));
	if (!s->family)
		return;
	json_object_object_add(j, "family", json_object_new_int(s->family));
	json_object_object_add(j, "proto", json_object_new_string(proto_name(s, p, sizeof(p))));
	json_object_object_add(j, "src", json_object_new_string(s->src));
	json_object_object_add(j, "dst", json_object_new_string(s->dst));
	if (s->has_ports) {
		json_object_object_add(j, "sport", json_object_new_int(s->sport));
		json_object_object_add(j, "dport", json_object_new_int(s->dport));
	}
	if (s->has_icmp) {
		json_object_object_add(j, "icmp_type", json_object_new_int(s->icmp_type));
		json_object_object_add(j, "icmp_code", json_object_new_int(s->icmp_code));
	}
	if (s->frag_later)
		json_object_object_add(j, "fragment", json_object_new_boolean(true));
}

static void json_line(struct drops_out *o, const struct pw_drop *d, const struct pw_frame_sum *s)
{
	struct json_object *j = json_object_new_object();
	time_t sec = (time_t)(d->ts_ns / 1000000000ULL);
	char when[64], *text;
	struct tm tm;
	size_t n;

	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
	snprintf(when + n, sizeof(when) - n, ".%09lluZ",
		 (unsigned long long)(d->ts_ns % 1000000000ULL));
	json_object_object_add(j, "time", json_object_new_string(when));
	json_object_object_add(j, "ifname", json_object_new_string(o->ifname));
	json_object_object_add(j, "rule", d->rule ? json_object_new_int64(d->rule) : NULL);
	json_object_object_add(j, "reason", json_object_new_string(pw_drop_reason_name(d->reason)));
	json_object_object_add(j, "len", json_object_new_int64(d->len));
	json_object_object_add(j, "caplen", json_object_new_int64(d->cap_len));
	json_frame(j, s);
	json_object_object_add(j, "truncated", json_object_new_boolean(s->truncated));
	text = cli_json_utf8(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	/* no memory for the escaped copy: no line rather than bad JSON */
	if (text)
		fprintf(o->lines, "%s\n", text);
	free(text);
	json_object_put(j);
}

int drops_emit(const struct pw_drop *d, void *arg)
{
	struct drops_out *o = arg;
	struct pw_frame_sum s;

	if (o->count && o->printed >= o->count)
		return 1;
	if (o->pcap)
		drops_pcap_write(o->pcap, d);
	if (o->lines) {
		pw_frame_summary(d->data, d->cap_len, &s);
		if (o->cli->json)
			json_line(o, d, &s);
		else
			text_line(o, d, &s);
	}
	o->printed++;
	return o->count && o->printed >= o->count;
}

bool drops_flush(struct drops_out *o)
{
	bool ok = true;

	if (o->pcap && !drops_pcap_flush(o->pcap))
		ok = false;
	if (o->lines && fflush(o->lines))
		ok = false;
	return ok;
}
