// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Ordered rules and named sets (rules 2): pinwall's packet path
 * (BPF_PROG_TEST_RUN on a private skeleton instance, tables filled by
 * pw_rules_apply) against the reference classifier pw_ruleset_classify,
 * against an independent classifier of today's single-match semantics, and
 * against hand-written expectations.
 *
 *  differential_ordered_round_NN  12 rounds of random rule lists: up to 128 ordered rules
 *                         (random combinations of proto/src/dst/sport/dport/
 *                         ct established, packets with their reply flow
 *                         recorded in pw_ct, expired, or on another port/id;
 *                         TCP flags SYN, ACK, SYN-ACK, PSH-ACK;
 *                         inline prefixes or @sets, port lists) with the
 *                         single-match rules (the prefix table) written
 *                         together at a random place; several sets, IPv4
 *                         and IPv6 mixed, nested and overlapping, shared by
 *                         rules and used as src and dst. Packets biased to
 *                         hit (and just miss) them. Every verdict equals the
 *                         reference; the deciding rule's counter gains one
 *                         packet and its bytes, no other counter moves. Each
 *                         round applies A, a modified B (rules, order, table
 *                         place and set contents), C, then C again (nothing
 *                         to do).
 *                         Limit rules among them (`limit ... MATCH`): each
 *                         (rule, source key) bucket is made to conform or
 *                         not by a hash of the key (its pinned state
 *                         deleted, or set far ahead), and the reference
 *                         is told the same; a conforming packet goes on to
 *                         the next rule, excess is dropped by the limit
 *                         rule and counted for it.
 *  old_grammar_agrees_NN  today's grammar only: BPF, pw_ruleset_classify and
 *                         a small longest-prefix/precedence classifier
 *                         written here agree on verdict and deciding rule;
 *                         reordering such a file is no change.
 *  fixed_*                hand-written rule files (parsed by
 *                         pw_ruleset_parse_file) and packets.
 *  set_change_atomic_under_traffic  set contents switch back and forth
 *                         while packets run: each run is decided by the old
 *                         or the new set's rule, counters exact.
 *  order_change_atomic_under_traffic  the same for the rules' order and the
 *                         table's place.
 *  ordered_max_replaced_whole, nodes_full_refused_nothing_changed,
 *  big_set_applies_reads_back_changes  limits.
 *  set_element_hits       hits per set element.
 *  err_*                  rule file errors name FILE:LINE and the token;
 *                         a shadowed rule is a warning.
 *
 * Known gaps are kept as failing checks, compiled in with -DPW_KNOWN_BUG_X:
 * SET_CAPACITY (a set above
 * 262144 elements cannot be applied or changed).
 *
 * The PRNG seed is printed; set PW_SEED (decimal or 0x hex) to replay.
 * Needs root (or CAP_BPF + CAP_NET_ADMIN + CAP_SYS_ADMIN for the scratch
 * bpffs). Usage: test_ordered [glob]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pinwall/abi.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "pktbuild.h"
#include "scratchroot.h"
#include "skelrules.h"
#include "randpkt.h"
#include "ruleharness.h"

#define DEFAULT_SEED 0x6f7264657265646cull	/* "orderedl" */

#define DROP XDP_DROP
#define PASS XDP_PASS
#define ALLOW PW_POLICY_ALLOW
#define DENY PW_POLICY_DENY

/* ---- globals ------------------------------------------------------------ */

static unsigned long long g_race_runs;	/* program runs of the set change race */
static double g_apply_ms;		/* time in pw_rules_apply */
static char g_tmpdir[64];		/* rule and set files of the tests */


/* ---- PRNG (splitmix64) -------------------------------------------------- */


/* ---- addresses as byte strings (network order, bit 0 = MSB) ------------ */

static void addr_step(uint8_t *a, int fam, int up)
{
	for (int i = abytes(fam) - 1; i >= 0; i--)
		if (up ? ++a[i] : a[i]--)
			return;
}

static __attribute__((unused)) void parse_addr(int fam, const char *s, uint8_t *out)
{
	memset(out, 0, 16);
	if (s && inet_pton(fam == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		print_error("test bug: bad address '%s'\n", s);
		fail();
	}
}

/* ---- rule sets ----------------------------------------------------------- */

static void rs_init(struct pw_ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->policy = ALLOW;
}

/* Parse one rule of any kind and insert it at @pos (-1: the end). */
static int rs_insert_text(struct pw_ruleset *rs, int pos, const char *text, bool must)
{
	struct pw_rule r;
	struct pw_ord_rule o;
	char err[256] = "";

	if (pw_rule_parse_full(text, &r, &o, err, sizeof(err))) {
		if (must) {
			print_error("rule '%s' does not parse: %s\n", text, err);
			fail();
		}
		return -1;
	}
	assert_int_equal(pw_ruleset_insert(rs, pos < 0 ? rs->n : pos, &r, &o, 0), 0);
	return pos < 0 ? rs->n - 1 : pos;
}

static __attribute__((unused)) void rs_add(struct pw_ruleset *rs, const char *text)
{
	rs_insert_text(rs, -1, text, true);
}

/* Insert a generated rule if it parses and the set stays valid: 1 if added.
 * @kind_want: PW_RK_ORDERED or 0 (a single-match rule) or -1 (either). */
static int rs_try_insert(struct pw_ruleset *rs, int pos, const char *text, int kind_want)
{
	int at = rs_insert_text(rs, pos, text, false);

	if (at < 0)
		return 0;
	if ((kind_want == PW_RK_ORDERED && rs->r[at].kind != PW_RK_ORDERED) ||
	    (kind_want == 0 && rs->r[at].kind == PW_RK_ORDERED) ||
	    pw_ruleset_check(&g_ctx, rs, NULL)) {
		pw_ruleset_remove(rs, at);
		return 0;
	}
	return 1;
}

/* A set from prefix texts (NULL-ended). */
static __attribute__((unused)) struct pw_set *rs_set(struct pw_ruleset *rs, const char *name, const char *const *elems)
{
	struct pw_set *s = pw_ruleset_new_set(rs, name);
	char err[256];

	assert_non_null(s);
	for (int i = 0; elems && elems[i]; i++) {
		struct pw_prefix p;

		if (pw_prefix_parse(elems[i], &p, err, sizeof(err))) {
			print_error("test bug: set element '%s': %s\n", elems[i], err);
			fail();
		}
		assert_int_equal(pw_set_push(s, &p), 0);
	}
	pw_set_normalize(s);
	return s;
}

static void rs_dump(const char *title, const struct pw_ruleset *rs)
{
	char buf[400];

	print_error("%s: %d rules, policy %s, %d sets\n", title, rs->n,
		    rs->policy == DENY ? "deny" : "allow", rs->n_sets);
	for (int i = 0; i < rs->n_sets; i++) {
		const struct pw_set *s = &rs->sets[i];
		size_t o = 0;

		buf[0] = '\0';
		for (int e = 0; e < s->n && o < sizeof(buf) - 60; e++) {
			buf[o++] = ' ';
			pw_prefix_format(&s->e[e], buf + o, sizeof(buf) - o);
			o = strlen(buf);
		}
		print_error("  set %s (%d):%s\n", s->name, s->n, buf);
	}
	for (int i = 0; i < rs->n; i++) {
		pw_ruleset_format(rs, i, buf, sizeof(buf));
		print_error("  [%d] id %u %s: %s\n", i, rs->ids[i],
			    rs->r[i].kind == PW_RK_ORDERED ? "ord  " : "table", buf);
	}
}

static void rs_fmt(const struct pw_ruleset *rs, int i, char *buf, size_t len)
{
	if (i < 0)
		snprintf(buf, len, "policy %s", rs->policy == DENY ? "deny" : "allow");
	else
		pw_ruleset_format(rs, i, buf, len);
}

/* ---- maps: counters, rules, config -------------------------------------- */

/* ---- apply, checked ------------------------------------------------------ */

/* Evaluation order as rule indices, the table once (as -1 - first index). */
static int eval_order(const struct pw_ruleset *rs, int *out)
{
	int n = 0;
	bool table = false;

	for (int i = 0; i < rs->n; i++) {
		if (rs->r[i].kind == PW_RK_ORDERED)
			out[n++] = i;
		else if (!table)
			out[n++] = -1, table = true;
	}
	return n;
}

/* Kept rules: same match and action as a rule in force (-1: none). */
static void match_cur(const struct pw_ruleset *want, int *match, int *kept)
{
	char *taken = calloc(g_cur.n + 1, 1);

	assert_non_null(taken);
	*kept = 0;
	for (int j = 0; j < want->n; j++) {
		match[j] = -1;
		for (int i = 0; i < g_cur.n; i++)
			if (!taken[i] && g_cur.r[i].action == want->r[j].action &&
			    pw_ruleset_same_match(&g_cur, i, want, j)) {
				match[j] = i;
				taken[i] = 1;
				(*kept)++;
				break;
			}
	}
	free(taken);
}

/* Same rules in the same evaluation order (by match), same sets, same policy. */
static bool nothing_to_do(const struct pw_ruleset *want, const int *match, int kept, int policy)
{
	int *a, *b, na, nb;
	bool same = true;

	if (kept != want->n || kept != g_cur.n || policy != g_cur.policy || !pw_ruleset_sets_equal(want, &g_cur))
		return false;
	a = calloc(want->n + 1, sizeof(*a));
	b = calloc(want->n + 1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	na = eval_order(want, a);
	nb = eval_order(&g_cur, b);
	same = na == nb;
	for (int k = 0; same && k < na; k++)
		same = (a[k] < 0 && b[k] < 0) || (a[k] >= 0 && match[a[k]] == b[k]);
	free(a);
	free(b);
	return same;
}

/* The rule set read back from the maps says what was applied: the ordered
 * rules in order by id, the table at its place, the same sets. */
static int check_read_back(const char *label, const struct pw_ruleset *want)
{
	struct pw_ruleset back;
	struct pw_config cfg;
	int *a, *b, na, nb, bad = 0;

	if (pw_rules_read(&g_ctx, &g_maps, &back, &cfg)) {
		print_error("[%s] pw_rules_read: %s\n", label, g_ctx.err);
		return 1;
	}
	a = calloc(want->n + 1, sizeof(*a));
	b = calloc(back.n + 1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	na = eval_order(want, a);
	nb = eval_order(&back, b);
	if (back.n != want->n || na != nb || back.policy != want->policy) {
		print_error("[%s] read back: %d rules (%d places), policy %d; applied %d (%d), %d\n",
			    label, back.n, nb, back.policy, want->n, na, want->policy);
		bad++;
	}
	for (int k = 0; !bad && k < na; k++)
		if ((a[k] < 0) != (b[k] < 0) ||
		    (a[k] >= 0 && (want->ids[a[k]] != back.ids[b[k]] ||
				   !pw_ruleset_same_match(want, a[k], &back, b[k])))) {
			print_error("[%s] read back: place %d differs\n", label, k);
			bad++;
		}
	if (!pw_ruleset_sets_equal(want, &back)) {
		print_error("[%s] read back: the sets differ\n", label);
		rs_dump("read back", &back);
		bad++;
	}
	free(a);
	free(b);
	pw_ruleset_free(&back);
	return bad;
}

#define CHK(cond, ...) do { if (!(cond)) { print_error("[%s] ", label); \
	print_error(__VA_ARGS__); print_error("\n"); bad++; } } while (0)

/* Kept rules keep id and counter; new ones start at zero on fresh ids;
 * removed ones are cleared with their matches. */
static int check_ids(const char *label, const struct pw_ruleset *want, const int *match,
		     const struct pw_datarec *cnt_cur, const char *taken)
{
	int bad = 0;

	for (int j = 0; j < want->n; j++) {
		__u32 id = want->ids[j];
		struct pw_datarec c;
		struct pw_rule r;

		CHK(id > 0 && id < PW_MAX_RULES, "rule %d: id %u out of range", j, id);
		if (!(id > 0 && id < PW_MAX_RULES))
			continue;
		for (int k = 0; k < j; k++)
			CHK(want->ids[k] != id, "rules %d and %d share id %u", k, j, id);
		assert_int_equal(bpf_map_lookup_elem(g_maps.fd[PW_RM_RULES], &id, &r), 0);
		CHK(!memcmp(&r, &want->r[j], sizeof(r)), "pw_rules[%u] differs from rule %d", id, j);
		if (want->r[j].kind == PW_RK_ORDERED) {
			struct pw_ord_rule o;

			CHK(!bpf_map_lookup_elem(g_maps.fd[PW_RM_ORD_RULES], &id, &o) &&
			    !memcmp(&o, &want->ord[j], sizeof(o)),
			    "pw_ord_rules[%u] missing or differs from rule %d", id, j);
		}
		stat_one(id, &c);
		if (match[j] >= 0) {
			CHK(id == g_cur.ids[match[j]], "kept rule %d: id %u, was %u", j, id,
			    g_cur.ids[match[j]]);
			CHK(c.rx_packets == cnt_cur[match[j]].rx_packets &&
			    c.rx_bytes == cnt_cur[match[j]].rx_bytes,
			    "kept rule %d (id %u): counter %llu, was %llu", j, id,
			    (unsigned long long)c.rx_packets,
			    (unsigned long long)cnt_cur[match[j]].rx_packets);
		} else {
			for (int i = 0; i < g_cur.n; i++)
				CHK(g_cur.ids[i] != id, "new rule %d got id %u of an old rule", j, id);
			CHK(c.rx_packets == 0 && c.rx_bytes == 0,
			    "new rule %d (id %u): counter %llu, expected 0", j, id,
			    (unsigned long long)c.rx_packets);
		}
	}
	for (int i = 0; i < g_cur.n; i++) {
		struct pw_datarec c;
		struct pw_rule r;
		struct pw_ord_rule o;

		if (taken[i])
			continue;
		assert_int_equal(bpf_map_lookup_elem(g_maps.fd[PW_RM_RULES], &g_cur.ids[i], &r), 0);
		stat_one(g_cur.ids[i], &c);
		CHK(r.kind == PW_RK_NONE, "removed rule (id %u) still in pw_rules", g_cur.ids[i]);
		CHK(c.rx_packets == 0, "removed rule (id %u): counter %llu", g_cur.ids[i],
		    (unsigned long long)c.rx_packets);
		CHK(bpf_map_lookup_elem(g_maps.fd[PW_RM_ORD_RULES], &g_cur.ids[i], &o),
		    "removed rule (id %u) still in pw_ord_rules", g_cur.ids[i]);
	}
	return bad;
}

/*
 * Make @want (with @policy) the set in force through pw_rules_apply and
 * check what apply promises: the report, the flip, ids and counters, the
 * state read back.
 */
static void apply_verified(const char *label, struct pw_ruleset *want, int policy)
{
	struct pw_apply_report rep;
	struct pw_config before, after;
	struct pw_datarec *cnt_cur = calloc(g_cur.n + 1, sizeof(*cnt_cur));
	int *match = calloc(want->n + 1, sizeof(*match));
	char *taken = calloc(g_cur.n + 1, 1);
	int kept, err, bad = 0;
	bool unchanged;

	assert_non_null(cnt_cur);
	assert_non_null(match);
	assert_non_null(taken);
	want->policy = policy;
	if (pw_ruleset_check(&g_ctx, want, NULL)) {
		print_error("[%s] pw_ruleset_check rejects the set: %s\n", label, g_ctx.err);
		rs_dump("set", want);
		fail();
	}
	read_config(&before);
	for (int i = 0; i < g_cur.n; i++)
		stat_one(g_cur.ids[i], &cnt_cur[i]);
	match_cur(want, match, &kept);
	for (int j = 0; j < want->n; j++)
		if (match[j] >= 0)
			taken[match[j]] = 1;
	unchanged = nothing_to_do(want, match, kept, policy);

	err = pw_rules_apply(&g_ctx, &g_maps, want, policy, &rep);
	g_applies++;
	g_apply_ms += rep.total_ms;
	if (err) {
		print_error("[%s] pw_rules_apply: %d: %s\n", label, err, g_ctx.err);
		rs_dump("set", want);
		fail();
	}
	read_config(&after);
	CHK(rep.kept == kept, "report: kept %d, expected %d", rep.kept, kept);
	CHK(rep.added == want->n - kept, "report: added %d, expected %d", rep.added, want->n - kept);
	CHK(rep.removed == g_cur.n - kept, "report: removed %d, expected %d", rep.removed,
	    g_cur.n - kept);
	CHK(rep.unchanged == unchanged, "report: unchanged %d, expected %d", rep.unchanged, unchanged);
	if (unchanged) {
		CHK(!memcmp(&before, &after, sizeof(before)), "config changed by an apply that changed nothing");
	} else {
		CHK(after.active == ((before.active & 1) ^ 1), "active set %u after %u: no flip",
		    after.active, before.active);
		CHK(after.generation == before.generation + 1, "generation %u after %u",
		    after.generation, before.generation);
		CHK(after.n_rules == (__u32)want->n, "n_rules %u, expected %d", after.n_rules, want->n);
	}
	bad += check_ids(label, want, match, cnt_cur, taken);
	bad += check_read_back(label, want);
	free(cnt_cur);
	free(match);
	free(taken);
	if (bad) {
		rs_dump("new set", want);
		fail();
	}
	pw_ruleset_free(&g_cur);
	assert_int_equal(pw_ruleset_copy(&g_cur, want), 0);
}

/* ---- packets ---------------------------------------------------------------- */

struct pkt {
	int family;		/* 4 or 6 */
	uint8_t src[16], dst[16];
	int proto;
	uint16_t sport, dport;
	int frag;		/* 0 none, 1 first fragment (MF), 2 later fragment,
				 * 3 IPv4 DF set (not a fragment) */
	int ext;		/* IPv6: extension headers before L4 (0..3) */
	int vlan;		/* VLAN tags (0..2) */
	int ihl;		/* IPv4 header words (0: 5) */
	int payload;
	bool nd;		/* ICMPv6 neighbour solicitation, hop limit 255 */
	int ct;			/* `ct established`: 0 no flow, 1 its reply flow recorded,
				 * 2 recorded but expired, 3 a flow on another port/id */
	uint8_t tflags;		/* TCP flags (0: SYN alone, as pb_tcp writes) */
};

static uint32_t g_frag_id = 0x20000;	/* fresh fragment ids: none repeats */

static void describe(const struct pkt *p, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	snprintf(buf, len, "IPv%d proto %d %s sport %u -> %s dport %u%s%s%s ext=%d vlan=%d ihl=%d payload=%d ct=%d tcp-flags=0x%02x",
		 p->family, p->proto, astr(p->family, p->src, s), p->sport,
		 astr(p->family, p->dst, d), p->dport,
		 p->frag == 1 ? " first-fragment" : p->frag == 3 ? " DF" : "",
		 p->frag == 2 ? " LATER-fragment" : "", p->nd ? " ND" : "",
		 p->ext, p->vlan, p->ihl ? p->ihl : 5, p->payload, p->ct, p->tflags ?: 0x02);
}

static void build_v4(const struct pkt *p, struct pb *b, uint32_t fid)
{
	uint16_t frag = p->frag == 1 ? IP_MF : p->frag == 2 ? (uint16_t)(0x0100 | (p->sport & 0x3f)) :
			p->frag == 3 ? IP_DF : 0;
	size_t ip;

	if (p->frag == 2 && (p->dport & 1))
		frag |= IP_MF;
	ip = pb_ipv4(b, (uint8_t)p->proto, p->ihl ? (unsigned)p->ihl : 5, frag);
	pb_set16(b, ip + 4, (uint16_t)fid);
	memcpy(b->buf + ip + 12, p->src, 4);
	memcpy(b->buf + ip + 16, p->dst, 4);
}

static void build_v6(const struct pkt *p, struct pb *b, uint32_t fid)
{
	/* extension chain: types[0..ext-1], then a fragment header */
	uint8_t chain[5];
	int n = 0;
	size_t ip;

	for (int i = 0; i < p->ext; i++)
		chain[n++] = (uint8_t[]){ IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING }[(i + p->sport) % 3];
	if (p->frag == 1 || p->frag == 2)
		chain[n++] = IPPROTO_FRAGMENT;
	chain[n] = (uint8_t)p->proto;
	ip = pb_ipv6(b, chain[0]);
	memcpy(b->buf + ip + 8, p->src, 16);
	memcpy(b->buf + ip + 24, p->dst, 16);
	if (p->nd)
		b->buf[ip + 7] = 255;
	for (int i = 0; i < n; i++) {
		uint8_t hl = (uint8_t)((p->dport + i) % 3);

		if (chain[i] == IPPROTO_FRAGMENT) {
			size_t fo = pb_ipv6_frag(b, chain[i + 1],
						 p->frag == 2 ? (uint16_t)(1 + p->sport % 500) : 0,
						 p->frag == 1 || (p->dport & 1));
			uint32_t nid = htonl(fid);

			memcpy(b->buf + fo + 4, &nid, 4);
		} else if (chain[i] == IPPROTO_ROUTING) {
			pb_ipv6_rthdr(b, chain[i + 1], hl);
		} else {
			pb_ipv6_opts(b, chain[i + 1], hl);
		}
	}
}

/* Could @p be a reply at all: TCP but a bare SYN, UDP, an echo reply of
 * its own family, not a later fragment. */
static bool ct_reply_kind(const struct pkt *p)
{
	if (p->frag == 2)
		return false;
	if (p->proto == IPPROTO_TCP)
		return (p->tflags ?: 0x02) != 0x02;
	if (p->proto == IPPROTO_UDP)
		return true;
	return !p->nd && (p->family == 4 ? p->proto == IPPROTO_ICMP : p->proto == IPPROTO_ICMPV6);
}

/* The flow @p->ct asks for, put into (@add) or taken out of pw_ct. */
static void ct_flow(const struct pkt *p, bool add)
{
	struct pw_ct_key k = { .family = (__u8)p->family, .proto = (__u8)p->proto };
	struct pw_ct_val v = { .state = PW_CT_ESTABLISHED };
	int fd = bpf_map__fd(g_skel->maps.pw_ct);
	struct timespec ts;

	if (!p->ct)
		return;
	memcpy(k.local, p->dst, p->family == 4 ? 4 : 16);
	memcpy(k.remote, p->src, p->family == 4 ? 4 : 16);
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		k.lport = p->dport;
		k.rport = p->sport;
	} else {
		k.lport = htons(1);	/* the echo id build() writes */
	}
	if (p->ct == 3)
		k.lport++;		/* another port or id: no reply to it */
	if (!add) {
		bpf_map_delete_elem(fd, &k);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.seen = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (p->proto == IPPROTO_UDP)
		v.state = PW_CT_UDP;
	else if (p->proto != IPPROTO_TCP)
		v.state = PW_CT_ICMP;
	if (p->ct == 2) {	/* a SYN sent just over its timeout ago */
		v.state = PW_CT_SYN_SENT;
		v.seen -= (PW_CT_TO_SYN_SENT + 1) * 1000000000ull;
	}
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

/* Build the frame; fills @ref (the reference's view). Returns the length. */
static size_t build(const struct pkt *p, struct pb *b, struct pw_ref_pkt *ref)
{
	bool v6 = p->family == 6;
	uint32_t fid = ++g_frag_id;	/* fresh: a later fragment never meets a first one */

	pb_init(b);
	memset(ref, 0, sizeof(*ref));
	ref->family = p->family;
	memcpy(ref->saddr, p->src, 16);
	memcpy(ref->daddr, p->dst, 16);
	ref->proto = (__u32)p->proto;
	ref->has_ports = (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) && p->frag != 2;
	ref->sport = p->sport;
	ref->dport = p->dport;
	ref->frag_later = p->frag == 2;
	ref->link_ctl = p->nd;
	ref->ct_reply = p->ct == 1 && ct_reply_kind(p);

	put_l2(b, p->vlan, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6)
		build_v6(p, b, fid);
	else
		build_v4(p, b, fid);
	if (p->frag == 2) {
		/* the first bytes look like ports: a parser ignoring the offset would use them */
		uint16_t fake[2] = { htons(p->sport), htons(p->dport) };

		pb_put(b, fake, sizeof(fake));
	} else if (p->proto == IPPROTO_TCP) {
		size_t th = pb_tcp(b, p->sport, p->dport, 5 + (p->payload & 1));

		if (p->tflags)
			b->buf[th + 13] = p->tflags;
	} else if (p->proto == IPPROTO_UDP) {
		pb_udp(b, p->sport, p->dport);
	} else if ((p->proto == IPPROTO_ICMP && !v6) || (p->proto == IPPROTO_ICMPV6 && v6)) {
		/* with a flow: an echo reply (id 1), else a request */
		pb_icmp_common(b, v6 ? (p->nd ? 135 : p->ct ? 129 : 128) : p->ct ? 0 : 8, 0);
	}
	if (p->payload)
		pb_payload(b, (size_t)p->payload);
	return pb_finish(b);
}

/*
 * Run one packet against the set in force (g_cur). @want_verdict/@want_rule:
 * an expectation of the caller (want_rule -2: none but the reference's).
 * The reference must give the expectation, the program the reference's
 * verdict, the deciding rule's counter +1 packet (+ the frame's bytes) and
 * no other counter may move. @prev holds the counters before (updated).
 * Returns the problems found (printed).
 */
/* ---- limit rules: a bucket per (rule, source key) that conforms or not
 * by a hash of the key, for the program and the reference alike ---- */

static void lim_key(const struct pw_ruleset *rs, int i, const struct pw_ref_pkt *p,
		    struct pw_limit_key *k)
{
	struct pw_limit_spec s;
	int bits;

	pw_rule_limit_get(&rs->r[i], &s);
	memset(k, 0, sizeof(*k));
	k->rule = rs->ids[i];
	k->family = (__u32)p->family;
	memcpy(k->addr, p->saddr, p->family == 4 ? 4 : 16);
	bits = (int)(p->family == 4 ? s.per4 : s.per6);
	for (int w = 0; w < 4; w++, bits -= 32)
		k->addr[w] = bits >= 32 ? k->addr[w] : bits <= 0 ? 0 :
			     htonl(ntohl(k->addr[w]) & ~(0xffffffffu >> bits));
}

static bool lim_conform(const struct pw_ruleset *rs, int i, const struct pw_ref_pkt *p, void *arg)
{
	struct pw_limit_key k;
	uint64_t h = g_seed ^ 0x9e3779b97f4a7c15ull;

	(void)arg;
	lim_key(rs, i, p, &k);
	for (size_t b = 0; b < sizeof(k) / 4; b++)
		h = (h ^ ((const uint32_t *)&k)[b]) * 0x100000001b3ull;
	return (h >> 29) % 3 != 0;
}

/* The pinned buckets of every limit rule for @p's source: deleted (a fresh
 * bucket conforms) or far ahead of now (excess), as lim_conform says. */
static void lim_prepare(const struct pw_ruleset *rs, const struct pw_ref_pkt *p)
{
	__u64 far = 1ull << 62;

	for (int i = 0; i < rs->n; i++) {
		struct pw_limit_key k;

		if (rs->r[i].action != PW_ACT_LIMIT)
			continue;
		lim_key(rs, i, p, &k);
		if (lim_conform(rs, i, p, NULL))
			bpf_map_delete_elem(g_maps.fd[PW_RM_LIM_STATE], &k);
		else
			assert_int_equal(bpf_map_update_elem(g_maps.fd[PW_RM_LIM_STATE], &k, &far, BPF_ANY), 0);
	}
}

static int check_pkt(const char *label, const struct pkt *p, __u32 want_verdict, int want_rule,
		     struct pw_datarec *prev, struct pw_datarec *now, int *ref_idx)
{
	const struct pw_ruleset *rs = &g_cur;
	struct pw_ref_pkt ref;
	struct pb f;
	__u32 n = snap_span(rs), exp, got, exp_id;
	int idx, bad = 0;
	char desc[400], rf[400];

	build(p, &f, &ref);
	exp = pw_ruleset_classify_lim(rs, &ref, &idx, lim_conform, NULL);
	lim_prepare(rs, &ref);
	exp_id = idx >= 0 ? rs->ids[idx] : 0;
	if (ref_idx)
		*ref_idx = idx;
	describe(p, desc, sizeof(desc));
	if (want_rule != -2 && (exp != want_verdict || idx != want_rule)) {
		rs_fmt(rs, idx, rf, sizeof(rf));
		print_error("[%s] REFERENCE: %s by [%d] '%s', expected %s by [%d], for %s\n", label,
			    vname(exp), idx, rf, vname(want_verdict), want_rule, desc);
		bad++;
	}
	ct_flow(p, true);
	got = run_frame(&f);
	ct_flow(p, false);
	stats_snap(n, now);
	if (got != exp) {
		rs_fmt(rs, idx, rf, sizeof(rf));
		print_error("[%s] BPF verdict %s, reference %s by [%d] id %u '%s', for %s\n", label,
			    vname(got), vname(exp), idx, exp_id, rf, desc);
		bad++;
	}
	for (__u32 id = 0; id < n; id++) {
		bool e = idx >= 0 && id == exp_id;
		__u64 dp = now[id].rx_packets - prev[id].rx_packets;
		__u64 db = now[id].rx_bytes - prev[id].rx_bytes;

		if (dp != (e ? 1u : 0u) || db != (e ? f.len : 0u)) {
			int k;

			for (k = 0; k < rs->n && rs->ids[k] != id; k++)
				;
			if (k < rs->n)
				rs_fmt(rs, k, rf, sizeof(rf));
			else
				snprintf(rf, sizeof(rf), "(no rule)");
			print_error("[%s] counter of id %u [%d] '%s': +%llu pkts +%llu bytes, expected +%u/+%zu, for %s\n",
				    label, id, k < rs->n ? k : -1, rf, (unsigned long long)dp,
				    (unsigned long long)db, e ? 1 : 0, e ? f.len : 0, desc);
			bad++;
		}
	}
	memcpy(prev, now, n * sizeof(*now));
	return bad;
}

static void write_file(const char *name, const char *text);

/* ---- random rule lists with sets (differential) ------------------------------ */

struct pools {
	uint8_t v4[6][16], v6[6][16];
	uint16_t ports[10];
	int protos[8];
};

static void gen_pools(struct pools *pl)
{
	static const uint16_t fixed_ports[] = { 0, 22, 53, 80, 443, 8080, 65535 };
	static const int fixed_protos[] = { 1, 6, 17, 58, 47, 132, 50 };

	rand_addr(pl->v4[0], 4);
	derive(pl->v4[1], pl->v4[0], 4, 8);
	derive(pl->v4[2], pl->v4[0], 4, 16);	/* same top-16 chunk */
	derive(pl->v4[3], pl->v4[0], 4, 24);
	rand_addr(pl->v4[4], 4);
	derive(pl->v4[5], pl->v4[4], 4, 20);
	rand_addr(pl->v6[0], 6);
	derive(pl->v6[1], pl->v6[0], 6, 16);	/* same chunk: long probes */
	derive(pl->v6[2], pl->v6[0], 6, 48);
	derive(pl->v6[3], pl->v6[0], 6, 64);
	derive(pl->v6[4], pl->v6[3], 6, 100);
	rand_addr(pl->v6[5], 6);
	for (size_t i = 0; i < 7; i++)
		pl->ports[i] = fixed_ports[i];
	for (size_t i = 7; i < 10; i++)
		pl->ports[i] = (uint16_t)rn(65536);
	for (size_t i = 0; i < 7; i++)
		pl->protos[i] = fixed_protos[i];
	pl->protos[7] = (int)rn(256);
}

/* A prefix around the pool, as text: every length, nested and cousins. */
static void gen_prefix(const struct pools *pl, int fam, char *out, size_t len)
{
	uint8_t a[16];
	char s[INET6_ADDRSTRLEN];
	int l;

	memcpy(a, (fam == 4 ? pl->v4 : pl->v6)[rn(6)], 16);
	if (chance(2))
		l = (int)rn(4);
	else if (chance(12))
		l = abits(fam) - (int)rn(3);
	else if (chance(12))
		l = 15 + (int)rn(3);
	else
		l = 4 + (int)rn((uint32_t)abits(fam) - 3);
	if (l > 0 && chance(30)) {
		int bi = chance(50) ? l - 1 : (int)rn((uint32_t)l);

		setbit(a, bi, !getbit(a, bi));
	}
	fill_host(a, fam, l, 0);
	snprintf(out, len, "%s/%d", astr(fam, a, s), l);
}

static void gen_range(const struct pools *pl, char *out, size_t len)
{
	static const uint32_t widths[] = { 0, 0, 0, 1, 3, 10, 50, 100, 1000, 20000, 65535 };
	uint32_t w = widths[rn(sizeof(widths) / sizeof(widths[0]))];
	int32_t lo = (int32_t)pl->ports[rn(10)] - (int32_t)rn(w + 1), hi;

	if (lo < 0)
		lo = 0;
	hi = lo + (int32_t)w;
	if (hi > 65535)
		hi = 65535;
	if (lo == hi)
		snprintf(out, len, "%d", lo);
	else
		snprintf(out, len, "%d-%d", lo, hi);
}

/* PORT, LO-HI or a list {..} of up to 5 */
static void gen_ports(const struct pools *pl, char *out, size_t len)
{
	int n = chance(60) ? 1 : 2 + (int)rn(4);
	size_t o = 0;

	if (n == 1) {
		gen_range(pl, out, len);
		return;
	}
	out[o++] = '{';
	for (int i = 0; i < n; i++) {
		if (i)
			out[o++] = ',';
		gen_range(pl, out + o, len - o - 2);
		o = strlen(out);
	}
	out[o++] = '}';
	out[o] = '\0';
}

static void gen_set(struct pw_ruleset *rs, const struct pools *pl, int k)
{
	char name[16], text[64], err[256];
	int kind = (int)rn(10), n = 1 + (int)rn(24);	/* 0-3 v4, 4-6 v6, 7-8 both, 9 empty */
	struct pw_set *s;

	snprintf(name, sizeof(name), "s%d", k);
	s = pw_ruleset_new_set(rs, name);
	assert_non_null(s);
	if (kind == 9)
		return;
	for (int i = 0; i < n; i++) {
		int fam = kind < 4 ? 4 : kind < 7 ? 6 : chance(50) ? 4 : 6;
		struct pw_prefix p;

		gen_prefix(pl, fam, text, sizeof(text));
		assert_int_equal(pw_prefix_parse(text, &p, err, sizeof(err)), 0);
		assert_int_equal(pw_set_push(s, &p), 0);
	}
	/* overlap with another set: a shared element */
	if (k > 0 && chance(40)) {
		const struct pw_set *o = &rs->sets[rn((uint32_t)k)];

		if (o->n)
			assert_int_equal(pw_set_push(s, &o->e[rn((uint32_t)o->n)]), 0);
	}
	pw_set_normalize(s);
}

static void gen_addr_match(const struct pw_ruleset *rs, const struct pools *pl, int fam,
			   char *out, size_t len)
{
	if (rs->n_sets && chance(55))
		snprintf(out, len, "@%s", rs->sets[rn((uint32_t)rs->n_sets)].name);
	else
		gen_prefix(pl, fam, out, len);
}

/* An ordered rule: a random combination of matches. */
static void gen_ord_rule(const struct pw_ruleset *rs, const struct pools *pl, char *out, size_t len)
{
	static const char *const l4[] = { "tcp", "udp" };
	int fam = chance(50) ? 4 : 6;
	bool sp = chance(25), dp = chance(45), pr = chance(45), s = chance(55), d = chance(50);
	char w[160];
	size_t o;

	/* mostly an address: rules without one shadow too much of the rest */
	if (!s && !d && chance(80))
		*(chance(50) ? &s : &d) = true;

	/* some limit rules: a packet within the rate goes on to the next rule */
	if (chance(15))
		snprintf(out, len, "limit %s", chance(30) ? "1000 burst 60000 per /24,/64" :
			 chance(50) ? "1000 burst 60000" : "10mbit");
	else
		snprintf(out, len, "%s", act_txt());
	if (pr) {
		o = strlen(out);
		if (sp || dp) {
			snprintf(out + o, len - o, " proto %s", l4[rn(2)]);
		} else {
			int r = (int)rn(10);

			if (r < 3)
				snprintf(out + o, len - o, " proto %s", l4[rn(2)]);
			else if (r < 6)
				snprintf(out + o, len - o, " proto %s", fam == 4 ? "icmp" : "icmpv6");
			else
				snprintf(out + o, len - o, " proto %d", pl->protos[rn(8)]);
		}
	}
	if (s) {
		gen_addr_match(rs, pl, fam, w, sizeof(w));
		o = strlen(out);
		snprintf(out + o, len - o, " src %s", w);
	}
	if (d) {
		gen_addr_match(rs, pl, fam, w, sizeof(w));
		o = strlen(out);
		snprintf(out + o, len - o, " dst %s", w);
	}
	if (chance(20)) {
		o = strlen(out);
		snprintf(out + o, len - o, " ct established");
	}
	if (sp) {
		gen_ports(pl, w, sizeof(w));
		o = strlen(out);
		snprintf(out + o, len - o, " sport %s", w);
	}
	if (dp) {
		gen_ports(pl, w, sizeof(w));
		o = strlen(out);
		snprintf(out + o, len - o, " dport %s", w);
	}
}

/* A single-match rule (today's grammar). */
static void gen_single_rule(const struct pools *pl, char *out, size_t len)
{
	static const char *const protos[] = { "", "", "proto tcp ", "proto udp " };
	static const char *const names[] = { "icmp", "tcp", "udp", "icmpv6", "gre", "sctp", "esp" };
	int r = (int)rn(100), fam = chance(50) ? 4 : 6, i;
	char w[64];

	if (r < 55) {
		gen_prefix(pl, fam, w, sizeof(w));
		snprintf(out, len, "%s %s %s", act_txt(), chance(50) ? "src" : "dst", w);
	} else if (r < 85) {
		gen_range(pl, w, sizeof(w));
		snprintf(out, len, "%s %s%s %s", act_txt(), protos[rn(4)], chance(50) ? "sport" : "dport", w);
	} else if ((i = (int)rn(8)) < 7 && chance(50)) {
		snprintf(out, len, "%s proto %s", act_txt(), names[i]);
	} else {
		snprintf(out, len, "%s proto %d", act_txt(), pl->protos[i]);
	}
}

static int count_ordered(const struct pw_ruleset *rs)
{
	int n = 0;

	for (int i = 0; i < rs->n; i++)
		n += rs->r[i].kind == PW_RK_ORDERED;
	return n;
}

/* [first, end) of the table's rules; first = end = -1 without one */
static void table_span(const struct pw_ruleset *rs, int *first, int *end)
{
	*first = *end = -1;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind != PW_RK_ORDERED) {
			if (*first < 0)
				*first = i;
			*end = i + 1;
		}
}

/* Add up to @n ordered rules, each at a random place outside the table. */
static void add_ordered(struct pw_ruleset *rs, const struct pools *pl, int n)
{
	char text[512];

	for (int added = 0, tries = 0; added < n && tries < n * 20 && count_ordered(rs) < PW_ORD_MAX;
	     tries++) {
		int first, end, pos = (int)rn((uint32_t)rs->n + 1);

		table_span(rs, &first, &end);
		if (first >= 0 && pos > first && pos < end)
			pos = chance(50) ? first : end;
		gen_ord_rule(rs, pl, text, sizeof(text));
		added += rs_try_insert(rs, pos, text, PW_RK_ORDERED);
	}
}

/* Add up to @n single-match rules inside the table (at @at when there is none). */
static void add_single(struct pw_ruleset *rs, const struct pools *pl, int n, int at)
{
	char text[256];

	for (int added = 0, tries = 0; added < n && tries < n * 20; tries++) {
		int first, end, pos;

		table_span(rs, &first, &end);
		pos = first < 0 ? at : first + (int)rn((uint32_t)(end - first + 1));
		gen_single_rule(pl, text, sizeof(text));
		added += rs_try_insert(rs, pos, text, 0);
	}
}

static void gen_ruleset(struct pw_ruleset *rs, const struct pools *pl, int n_ord, int n_single)
{
	int n_sets = 2 + (int)rn(5);

	rs_init(rs);
	for (int k = 0; k < n_sets; k++)
		gen_set(rs, pl, k);
	add_ordered(rs, pl, n_ord);
	add_single(rs, pl, n_single, (int)rn((uint32_t)rs->n + 1));
	free(rs->warnings);
	rs->warnings = NULL;
}

/* Move the whole table to another place among the ordered rules. */
static void move_table(struct pw_ruleset *rs)
{
	struct pw_ruleset t;
	int first, end, pos;

	table_span(rs, &first, &end);
	if (first < 0)
		return;
	rs_init(&t);
	for (int i = first; i < end; i++)
		assert_int_equal(pw_ruleset_push(&t, &rs->r[i], NULL, 0), 0);
	for (int i = end - 1; i >= first; i--)
		pw_ruleset_remove(rs, i);
	pos = (int)rn((uint32_t)rs->n + 1);
	for (int i = 0; i < t.n; i++)
		assert_int_equal(pw_ruleset_insert(rs, pos + i, &t.r[i], NULL, 0), 0);
	pw_ruleset_free(&t);
}

static void modify_sets(struct pw_ruleset *rs, const struct pools *pl)
{
	char text[64], err[256];

	for (int k = 0; k < rs->n_sets; k++) {
		struct pw_set *s = &rs->sets[k];
		int add;

		if (!chance(45))
			continue;
		if (chance(8)) {
			s->n = 0;	/* flushed */
			continue;
		}
		for (int i = s->n - 1; i >= 0; i--)
			if (chance(25))
				s->e[i] = s->e[--s->n];
		add = (int)rn(8);
		for (int i = 0; i < add; i++) {
			struct pw_prefix p;

			gen_prefix(pl, chance(50) ? 4 : 6, text, sizeof(text));
			assert_int_equal(pw_prefix_parse(text, &p, err, sizeof(err)), 0);
			assert_int_equal(pw_set_push(s, &p), 0);
		}
		pw_set_normalize(s);
	}
}

/*
 * A modified copy of the set in force: rules removed, actions flipped,
 * ordered rules swapped, the table moved, set contents changed, rules
 * added. Changes that make the set invalid (a set that lost its last
 * element of a rule's family) are undone by dropping such rules.
 */
static void modify(struct pw_ruleset *out, const struct pools *pl)
{
	assert_int_equal(pw_ruleset_copy(out, &g_cur), 0);
	for (int i = out->n - 1; i >= 0; i--) {
		int r = (int)rn(100);

		if (r < 15) {
			pw_ruleset_remove(out, i);
		} else if (r < 25 && out->r[i].action != PW_ACT_LIMIT) {	/* a limit stays */
			out->r[i].action = out->r[i].action == DROP ? PASS : DROP;
			if (out->r[i].kind == PW_RK_ORDERED)
				out->ord[i].action = out->r[i].action;
		}
	}
	for (int k = 0, n = (int)rn(6); k < n && out->n > 1; k++) {
		int i = (int)rn((uint32_t)out->n), j = (int)rn((uint32_t)out->n);

		if (out->r[i].kind == PW_RK_ORDERED && out->r[j].kind == PW_RK_ORDERED) {
			struct pw_rule r = out->r[i];
			struct pw_ord_rule o = out->ord[i];

			out->r[i] = out->r[j], out->ord[i] = out->ord[j];
			out->r[j] = r, out->ord[j] = o;
		}
	}
	if (chance(35))
		move_table(out);
	modify_sets(out, pl);
	/* rules that cannot match any more (a set lost a family) go */
	for (int i = out->n - 1; i >= 0; i--)
		if (out->r[i].kind == PW_RK_ORDERED) {
			struct pw_ruleset one;

			assert_int_equal(pw_ruleset_copy(&one, out), 0);
			while (one.n > i + 1)
				pw_ruleset_remove(&one, one.n - 1);
			while (one.n > 1)
				pw_ruleset_remove(&one, 0);
			if (pw_ruleset_check(&g_ctx, &one, NULL))
				pw_ruleset_remove(out, i);
			pw_ruleset_free(&one);
		}
	add_ordered(out, pl, (int)rn(12));
	add_single(out, pl, (int)rn(10), (int)rn((uint32_t)out->n + 1));
	for (int i = 0; i < out->n; i++)
		out->ids[i] = 0;
	free(out->warnings);
	out->warnings = NULL;
}

/* ---- random packets near the rules ------------------------------------------- */

/* Prefixes of family @fam anywhere in @rs: table rules, inline, set elements. */
static int collect_prefixes(const struct pw_ruleset *rs, int fam, struct pw_prefix *out, int max)
{
	int n = 0;

	for (int i = 0; i < rs->n && n < max; i++) {
		const struct pw_rule *r = &rs->r[i];
		const struct pw_addr_match *m[2] = { &rs->ord[i].src, &rs->ord[i].dst };

		if ((r->kind == PW_RK_SRC || r->kind == PW_RK_DST) && (int)r->family == fam) {
			out[n] = (struct pw_prefix){ r->family, r->len, { 0 } };
			memcpy(out[n++].addr, r->addr, 16);
		}
		if (r->kind != PW_RK_ORDERED)
			continue;
		for (int k = 0; k < 2 && n < max; k++)
			if ((int)m[k]->family == fam) {
				out[n] = (struct pw_prefix){ m[k]->family, m[k]->len, { 0 } };
				memcpy(out[n++].addr, m[k]->addr, 16);
			}
	}
	for (int k = 0; k < rs->n_sets; k++)
		for (int e = 0; e < rs->sets[k].n && n < max; e++)
			if ((int)rs->sets[k].e[e].family == fam)
				out[n++] = rs->sets[k].e[e];
	return n;
}

static void gen_pkt_addr(uint8_t *out, int fam, int near_pct, const struct pw_prefix *cand, int nc,
			 const struct pools *pl)
{
	const struct pw_prefix *p;
	int l;

	if (!chance(near_pct)) {
		rand_addr(out, fam);
		return;
	}
	if (!nc || chance(10)) {
		derive(out, (fam == 4 ? pl->v4 : pl->v6)[rn(6)], fam, (int)rn((uint32_t)abits(fam) + 1));
		return;
	}
	p = &cand[rn((uint32_t)nc)];
	l = (int)p->len;
	memcpy(out, p->addr, 16);
	switch (rn(7)) {
	case 0:
	case 1: fill_host(out, fam, l, 2); break;
	case 2: fill_host(out, fam, l, 0); break;
	case 3: fill_host(out, fam, l, 1); break;
	case 4:
		if (l > 0)
			setbit(out, l - 1, !getbit(out, l - 1));
		fill_host(out, fam, l, 2);
		break;
	case 5: fill_host(out, fam, l, 0); addr_step(out, fam, 0); break;
	default: fill_host(out, fam, l, 1); addr_step(out, fam, 1); break;
	}
}

/* Port boundaries of the rules: lo, hi of every range. */
static int collect_ports(const struct pw_ruleset *rs, uint16_t *lo, uint16_t *hi, int max)
{
	int n = 0;

	for (int i = 0; i < rs->n && n < max; i++) {
		const struct pw_rule *r = &rs->r[i];

		if (r->kind == PW_RK_SPORT || r->kind == PW_RK_DPORT) {
			lo[n] = (uint16_t)r->port_lo;
			hi[n++] = (uint16_t)r->port_hi;
		}
		if (r->kind != PW_RK_ORDERED)
			continue;
		for (int k = 0; k < 2; k++) {
			const struct pw_port_match *m = k ? &rs->ord[i].dport : &rs->ord[i].sport;

			for (__u32 j = 0; j < m->n && n < max; j++) {
				lo[n] = m->r[j].lo;
				hi[n++] = m->r[j].hi;
			}
		}
	}
	return n;
}

static uint16_t gen_port(const uint16_t *lo, const uint16_t *hi, int n, const struct pools *pl)
{
	int r = (int)rn(100), k;

	if (r < 15)
		return (uint16_t)rn(65536);
	if (r < 35 || !n)
		return (uint16_t)(pl->ports[rn(10)] + (int)rn(5) - 2);
	k = (int)rn((uint32_t)n);
	switch (rn(5)) {
	case 0: return lo[k];
	case 1: return hi[k];
	case 2: return (uint16_t)(lo[k] - 1);
	case 3: return (uint16_t)(hi[k] + 1);
	default: return (uint16_t)(lo[k] + rn((uint32_t)(hi[k] - lo[k]) + 1));
	}
}

struct pkt_env {
	struct pw_prefix *c4, *c6;
	int n4, n6, np;
	uint16_t lo[1024], hi[1024];
	int protos[64], nprotos;
};

static void env_init(struct pkt_env *e, const struct pw_ruleset *rs)
{
	e->c4 = calloc(4096, sizeof(*e->c4));
	e->c6 = calloc(4096, sizeof(*e->c6));
	assert_non_null(e->c4);
	assert_non_null(e->c6);
	e->n4 = collect_prefixes(rs, 4, e->c4, 4096);
	e->n6 = collect_prefixes(rs, 6, e->c6, 4096);
	e->np = collect_ports(rs, e->lo, e->hi, 1024);
	e->nprotos = 0;
	for (int i = 0; i < rs->n && e->nprotos < 64; i++)
		if (rs->r[i].kind == PW_RK_PROTO)
			e->protos[e->nprotos++] = (int)rs->r[i].proto;
		else if (rs->r[i].kind == PW_RK_ORDERED && rs->ord[i].has_proto)
			e->protos[e->nprotos++] = (int)rs->ord[i].proto;
}

static void env_free(struct pkt_env *e)
{
	free(e->c4);
	free(e->c6);
}

static void gen_pkt(struct pkt *p, const struct pkt_env *e, const struct pools *pl)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->family = chance(50) ? 4 : 6;
	gen_pkt_addr(p->src, p->family, 75, p->family == 4 ? e->c4 : e->c6,
		     p->family == 4 ? e->n4 : e->n6, pl);
	gen_pkt_addr(p->dst, p->family, 75, p->family == 4 ? e->c4 : e->c6,
		     p->family == 4 ? e->n4 : e->n6, pl);
	r = (int)rn(100);
	if (r < 35)
		p->proto = IPPROTO_TCP;
	else if (r < 68)
		p->proto = IPPROTO_UDP;
	else if (r < 78)
		p->proto = p->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	else if (r < 81)	/* the other family's ICMP number: no ICMP */
		p->proto = p->family == 4 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	else if (r < 92 && e->nprotos)
		p->proto = e->protos[rn((uint32_t)e->nprotos)];
	else
		p->proto = chance(50) ? pl->protos[rn(8)] : (int)rn(256);
	/* IPv6 extension-header numbers would be parsed as headers: not an L4 protocol */
	if (p->family == 6 && (p->proto == 0 || p->proto == 43 || p->proto == 44 || p->proto == 60))
		p->proto = 253;
	p->sport = gen_port(e->lo, e->hi, e->np, pl);
	p->dport = gen_port(e->lo, e->hi, e->np, pl);
	r = (int)rn(100);
	if (r < 7)
		p->frag = 2;
	else if (r < 11)
		p->frag = 1;
	else if (r < 20 && p->family == 4)
		p->frag = 3;
	if (p->family == 6 && chance(12))
		p->ext = 1 + (int)rn(3);
	r = (int)rn(100);
	p->vlan = r < 6 ? 1 : r < 9 ? 2 : 0;
	if (p->family == 4 && chance(8))
		p->ihl = 6 + (int)rn(4);
	p->payload = (int)rn(48);
	r = (int)rn(100);
	p->ct = r < 30 ? 1 : r < 38 ? 2 : r < 44 ? 3 : 0;
	p->tflags = (uint8_t[]){ 0, 0x10, 0x12, 0x18 }[rn(4)];
}

/* An address inside @m (of family @fam), or near it with @miss. */
static void addr_in(const struct pw_ruleset *rs, const struct pw_addr_match *m, int fam, uint8_t *out,
		    bool miss)
{
	struct pw_prefix c[64];
	int n = 0, l;

	if (m->family == 4 || m->family == 6) {
		c[n] = (struct pw_prefix){ m->family, m->len, { 0 } };
		memcpy(c[n++].addr, m->addr, 16);
	} else if (m->family == PW_ADDR_SET) {
		const struct pw_set *s = pw_ruleset_find_set(rs, m->set);

		for (int e = 0; s && e < s->n && n < 64; e++)
			if ((int)s->e[(e + (int)rn(64)) % s->n].family == fam)
				c[n++] = s->e[(e + (int)rn(64)) % s->n];
	}
	if (!n || (int)c[0].family != fam) {
		rand_addr(out, fam);
		return;
	}
	l = (int)c[rn((uint32_t)n)].len;
	memcpy(out, c[0].addr, 16);
	fill_host(out, fam, l, 2);
	if (miss && l > 0)
		setbit(out, l - 1, !getbit(out, l - 1));
}

/* Families an address match allows: bit 0 IPv4, bit 1 IPv6. */
static unsigned fams_of(const struct pw_ruleset *rs, const struct pw_addr_match *m)
{
	const struct pw_set *s;
	unsigned f = 0;

	if (m->family == 4 || m->family == 6)
		return m->family == 4 ? 1 : 2;
	if (m->family != PW_ADDR_SET)
		return 3;
	s = pw_ruleset_find_set(rs, m->set);
	for (int e = 0; s && e < s->n; e++)
		f |= s->e[e].family == 4 ? 1 : 2;
	return f ? f : 3;
}

static uint16_t port_in(const struct pw_port_match *m, bool miss)
{
	int k = (int)rn(m->n);

	if (miss)
		return chance(50) ? (uint16_t)(m->r[k].lo - 1) : (uint16_t)(m->r[k].hi + 1);
	return (uint16_t)(m->r[k].lo + rn((uint32_t)(m->r[k].hi - m->r[k].lo) + 1));
}

/* A packet aimed at ordered rule @i (every match hit, or one just missed). */
static void aim_ordered(struct pkt *p, const struct pw_ruleset *rs, int i)
{
	const struct pw_ord_rule *o = &rs->ord[i];
	unsigned f = fams_of(rs, &o->src) & fams_of(rs, &o->dst);
	int miss = chance(20) ? (int)rn(5) : -1;	/* 0 proto 1 src 2 dst 3 sport 4 dport */

	if (o->has_proto && o->proto == 1)
		f &= 1;
	if (o->has_proto && o->proto == 58)
		f &= 2;
	p->family = f == 1 ? 4 : f == 2 ? 6 : chance(50) ? 4 : 6;
	if (o->has_proto)
		p->proto = miss == 0 ? (int)((o->proto + 1 + rn(3)) & 255) : (int)o->proto;
	else if (o->sport.n || o->dport.n)
		p->proto = chance(50) ? IPPROTO_TCP : IPPROTO_UDP;
	if (p->family == 6 && (p->proto == 0 || p->proto == 43 || p->proto == 44 || p->proto == 60))
		p->proto = 253;
	if (o->src.family)
		addr_in(rs, &o->src, p->family, p->src, miss == 1);
	if (o->dst.family)
		addr_in(rs, &o->dst, p->family, p->dst, miss == 2);
	if (o->sport.n)
		p->sport = port_in(&o->sport, miss == 3);
	if (o->dport.n)
		p->dport = port_in(&o->dport, miss == 4);
}

/* A packet aimed at single-match rule @i. */
static void aim_single(struct pkt *p, const struct pw_ruleset *rs, int i)
{
	const struct pw_rule *r = &rs->r[i];
	struct pw_addr_match m = { r->family, r->len, { 0 }, "" };
	struct pw_port_match pm = { 1, { { (__u16)r->port_lo, (__u16)r->port_hi } } };
	bool miss = chance(20);

	memcpy(m.addr, r->addr, 16);
	switch (r->kind) {
	case PW_RK_SRC:
	case PW_RK_DST:
		p->family = (int)r->family;
		addr_in(rs, &m, p->family, r->kind == PW_RK_SRC ? p->src : p->dst, miss);
		break;
	case PW_RK_SPORT:
	case PW_RK_DPORT:
		p->proto = r->proto ? (int)r->proto : chance(50) ? IPPROTO_TCP : IPPROTO_UDP;
		*(r->kind == PW_RK_SPORT ? &p->sport : &p->dport) = port_in(&pm, miss);
		break;
	default:
		p->proto = (int)r->proto;
		if (p->proto == 1 || p->proto == 58)
			p->family = p->proto == 1 ? 4 : 6;
		if (p->family == 6 && (p->proto == 0 || p->proto == 43 || p->proto == 44 || p->proto == 60))
			p->proto = 253;
	}
}

/* Half the packets: aimed at a random rule; the fields it does not fix stay random. */
static void gen_pkt_aimed(struct pkt *p, const struct pkt_env *e, const struct pools *pl,
			  const struct pw_ruleset *rs)
{
	struct pkt q;
	int i;

	gen_pkt(p, e, pl);
	if (!rs->n || chance(50))
		return;
	q = *p;
	i = (int)rn((uint32_t)rs->n);
	if (rs->r[i].kind == PW_RK_ORDERED)
		aim_ordered(&q, rs, i);
	else
		aim_single(&q, rs, i);
	if (q.family != p->family) {
		/* the other family: fresh addresses for the fields the rule did not set */
		int fam = q.family;

		q = *p;
		q.family = fam;
		rand_addr(q.src, fam);
		rand_addr(q.dst, fam);
		q.ihl = 0;
		q.ext = 0;
		if (rs->r[i].kind == PW_RK_ORDERED)
			aim_ordered(&q, rs, i);
		else
			aim_single(&q, rs, i);
	}
	if (q.family == 6 && (q.proto == 0 || q.proto == 43 || q.proto == 44 || q.proto == 60))
		q.proto = 253;
	*p = q;
}

/* Run @count random packets against the set in force; returns how many
 * the ordered rules decided. */
static int diff_packets(const char *label, const struct pools *pl, int count)
{
	__u32 n = snap_span(&g_cur);
	struct pw_datarec *prev = calloc(n, sizeof(*prev)), *now = calloc(n, sizeof(*now));
	struct pkt_env e;
	int bad = 0, by_ord = 0, by_table = 0, by_policy = 0, later = 0, distinct = 0;
	char *hit = calloc(g_cur.n + 1, 1);

	assert_non_null(hit);
	assert_non_null(prev);
	assert_non_null(now);
	env_init(&e, &g_cur);
	stats_snap(n, prev);
	for (int k = 0; k < count && bad < 8; k++) {
		struct pkt p;
		int idx;

		gen_pkt_aimed(&p, &e, pl, &g_cur);
		bad += check_pkt(label, &p, 0, -2, prev, now, &idx) ? 1 : 0;
		if (idx < 0)
			by_policy++;
		else if (g_cur.r[idx].kind == PW_RK_ORDERED)
			by_ord++;
		else
			by_table++;
		if (idx >= 0 && !hit[idx])
			hit[idx] = 1, distinct++;
		later += p.frag == 2;
	}
	free(hit);
	env_free(&e);
	free(prev);
	free(now);
	if (bad) {
		print_error("[%s] mismatching packets (stopped at 8); seed 0x%llx\n", label,
			    (unsigned long long)g_seed);
		rs_dump("rule set in force", &g_cur);
		fail();
	}
	print_message("  %-40s %3d rules (%3d ordered), %d sets, %4d pkts: ordered %d table %d policy %d; %d rules decided; %d later fragments\n",
		      label, g_cur.n, count_ordered(&g_cur), g_cur.n_sets, count, by_ord, by_table,
		      by_policy, distinct, later);
	return by_ord;
}

/*
 * The rule set written out as a rule file (rules as pw_ruleset_format
 * prints them, small sets inline, larger ones in set files) reads back
 * as the same rule set: what `rule list` and `set list` show can be
 * applied again unchanged.
 */
static int roundtrip(const char *label, const struct pw_ruleset *rs)
{
	size_t cap = 1 << 20, o = 0;
	char *text = malloc(cap), path[128], buf[512];
	struct pw_ruleset back;
	int bad = 0;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "policy %s\n", rs->policy == DENY ? "deny" : "allow");
	for (int k = 0; k < rs->n_sets; k++) {
		const struct pw_set *st = &rs->sets[k];
		char *sf = st->n > 20 ? malloc(cap) : NULL;
		size_t so = 0;

		if (sf) {
			snprintf(buf, sizeof(buf), "%s.set", st->name);
			for (int e = 0; e < st->n; e++) {
				pw_prefix_format(&st->e[e], sf + so, cap - so);
				so += strlen(sf + so);
				so += (size_t)snprintf(sf + so, cap - so, e % 3 ? "\n" : "  # no. %d\n", e);
			}
			write_file(buf, sf);
			free(sf);
			o += (size_t)snprintf(text + o, cap - o, "set %s file %s\n", st->name, buf);
			continue;
		}
		o += (size_t)snprintf(text + o, cap - o, "set %s", st->name);
		for (int e = 0; e < st->n; e++) {
			pw_prefix_format(&st->e[e], buf, sizeof(buf));
			o += (size_t)snprintf(text + o, cap - o, " %s", buf);
		}
		o += (size_t)snprintf(text + o, cap - o, "\n");
	}
	for (int i = 0; i < rs->n; i++) {
		pw_ruleset_format(rs, i, buf, sizeof(buf));
		o += (size_t)snprintf(text + o, cap - o, "%s\n", buf);
	}
	write_file("roundtrip.rules", text);
	free(text);
	snprintf(path, sizeof(path), "%s/roundtrip.rules", g_tmpdir);
	if (pw_ruleset_parse_file(&g_ctx, path, &back)) {
		print_error("[%s] the rule set written out does not read back: %s\n", label, g_ctx.err);
		return 1;
	}
	if (back.n != rs->n || back.policy != rs->policy || !pw_ruleset_sets_equal(rs, &back)) {
		print_error("[%s] read back: %d rules, policy %d, sets %s; written %d, %d\n", label, back.n,
			    back.policy, pw_ruleset_sets_equal(rs, &back) ? "equal" : "DIFFER", rs->n, rs->policy);
		bad++;
	}
	for (int i = 0; !bad && i < rs->n; i++)
		if (memcmp(&back.r[i], &rs->r[i], sizeof(rs->r[i])) ||
		    (rs->r[i].kind == PW_RK_ORDERED && memcmp(&back.ord[i], &rs->ord[i], sizeof(rs->ord[i])))) {
			pw_ruleset_format(rs, i, buf, sizeof(buf));
			print_error("[%s] rule %d '%s' reads back differently\n", label, i, buf);
			bad++;
		}
	pw_ruleset_free(&back);
	return bad;
}

#define DIFF_ROUNDS 12
#define DIFF_PKTS 2800

struct round {
	char name[40];
	int round;
};

static struct round diff_rounds[DIFF_ROUNDS];

static void test_differential(void **state)
{
	const struct round *dr = *state;
	struct pools pl;
	struct pw_ruleset a, b, c;
	char label[64];
	int n_ord, n_single, policy, by_ord = 0;

	rng_seed(g_seed ^ (0x2000u + (unsigned)dr->round) * 0x9e3779b97f4a7c15ull);
	print_message("%s: seed 0x%llx\n", dr->name, (unsigned long long)g_seed);
	gen_pools(&pl);
	/* round 0: ordered rules only; 1: few; 2, 3: the maximum; others random */
	n_ord = dr->round == 1 ? 3 : dr->round == 2 || dr->round == 3 ? PW_ORD_MAX :
		8 + (int)rn(PW_ORD_MAX - 7);
	n_single = dr->round == 0 ? 0 : (int)rn(50);
	gen_ruleset(&a, &pl, n_ord, n_single);
	policy = chance(50) ? DENY : ALLOW;
	snprintf(label, sizeof(label), "%s/set A", dr->name);
	apply_verified(label, &a, policy);
	assert_int_equal(roundtrip(label, &g_cur), 0);
	by_ord += diff_packets(label, &pl, DIFF_PKTS);

	/* B into the other buffer, C back into A's: nothing of A may remain */
	modify(&b, &pl);
	if (chance(30))
		policy ^= 1;
	snprintf(label, sizeof(label), "%s/set B", dr->name);
	apply_verified(label, &b, policy);
	assert_int_equal(roundtrip(label, &g_cur), 0);
	by_ord += diff_packets(label, &pl, DIFF_PKTS);

	modify(&c, &pl);
	if (chance(30))
		policy ^= 1;
	snprintf(label, sizeof(label), "%s/set C", dr->name);
	apply_verified(label, &c, policy);
	by_ord += diff_packets(label, &pl, DIFF_PKTS);

	snprintf(label, sizeof(label), "%s/set C again", dr->name);
	apply_verified(label, &c, policy);
	by_ord += diff_packets(label, &pl, DIFF_PKTS / 4);
	pw_ruleset_free(&a);
	pw_ruleset_free(&b);
	pw_ruleset_free(&c);
	/* the generator must reach the ordered rules, not only the table */
	assert_true(dr->round == 1 || by_ord > DIFF_PKTS / 10);
}

/* ---- today's grammar: old and new semantics agree ------------------------------ */

/*
 * Today's semantics, written here from the documentation (README, rule
 * precedence) and independent of libpinwall: the longest matching source
 * prefix, else the longest destination prefix, else the narrowest
 * destination port range (equal ranges: the one for the packet's protocol
 * over the one for both), else the same for the source port, else the
 * protocol. A later fragment is matched by addresses only; ICMP is protocol
 * 1 in IPv4 and 58 in IPv6 only. Returns the deciding rule or -1.
 */
static bool old_in_prefix(const struct pw_rule *r, int fam, const uint8_t *a)
{
	const uint8_t *ra = (const uint8_t *)r->addr;

	if ((int)r->family != fam)
		return false;
	for (int b = 0; b < (int)r->len; b++)
		if (getbit(ra, b) != getbit(a, b))
			return false;
	return true;
}

static bool old_port_better(const struct pw_ruleset *rs, int cand, int best)
{
	__u32 wc, wb;

	if (best < 0)
		return true;
	wc = rs->r[cand].port_hi - rs->r[cand].port_lo;
	wb = rs->r[best].port_hi - rs->r[best].port_lo;
	return wc < wb || (wc == wb && rs->r[cand].proto && !rs->r[best].proto);
}

static int old_classify(const struct pw_ruleset *rs, const struct pkt *p)
{
	bool later = p->frag == 2, l4 = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;
	bool icmp_other = (p->family == 4 && p->proto == 58) || (p->family == 6 && p->proto == 1);
	int best[PW_RK_DPORT + 1] = { -1, -1, -1, -1, -1, -1 };

	for (int i = 0; i < rs->n; i++) {
		const struct pw_rule *r = &rs->r[i];
		__u32 port = r->kind == PW_RK_SPORT ? p->sport : p->dport;

		switch (r->kind) {
		case PW_RK_SRC:
		case PW_RK_DST:
			if (old_in_prefix(r, p->family, r->kind == PW_RK_SRC ? p->src : p->dst) &&
			    (best[r->kind] < 0 || r->len > rs->r[best[r->kind]].len))
				best[r->kind] = i;
			break;
		case PW_RK_SPORT:
		case PW_RK_DPORT:
			if (later || !l4 || (r->proto && (int)r->proto != p->proto) ||
			    port < r->port_lo || port > r->port_hi)
				break;
			if (old_port_better(rs, i, best[r->kind]))
				best[r->kind] = i;
			break;
		case PW_RK_PROTO:
			if (!later && (int)r->proto == p->proto && !icmp_other)
				best[PW_RK_PROTO] = i;
			break;
		default:
			fail_msg("old grammar: rule %d is ordered", i);
		}
	}
	if (best[PW_RK_SRC] >= 0)
		return best[PW_RK_SRC];
	if (best[PW_RK_DST] >= 0)
		return best[PW_RK_DST];
	if (best[PW_RK_DPORT] >= 0)
		return best[PW_RK_DPORT];
	return best[PW_RK_SPORT] >= 0 ? best[PW_RK_SPORT] : best[PW_RK_PROTO];
}

#define OLD_ROUNDS 4
#define OLD_PKTS 2000

static struct round old_rounds[OLD_ROUNDS];

static void test_old_grammar(void **state)
{
	const struct round *dr = *state;
	struct pools pl;
	struct pw_ruleset a, shuffled;
	struct pkt_env e;
	char label[64];
	int n = dr->round == 0 ? 0 : 20 + (int)rn(130), policy, bad = 0, decided = 0;
	__u32 span;
	struct pw_datarec *prev, *now;

	rng_seed(g_seed ^ (0x3000u + (unsigned)dr->round) * 0x9e3779b97f4a7c15ull);
	gen_pools(&pl);
	rs_init(&a);
	add_single(&a, &pl, n, 0);
	free(a.warnings);
	a.warnings = NULL;
	policy = chance(50) ? DENY : ALLOW;
	snprintf(label, sizeof(label), "%s", dr->name);
	apply_verified(label, &a, policy);
	/* a file of today's grammar in another order is the same rule set */
	assert_int_equal(pw_ruleset_copy(&shuffled, &a), 0);
	for (int i = shuffled.n - 1; i > 0; i--) {
		int j = (int)rn((uint32_t)i + 1);
		struct pw_rule t = shuffled.r[i];

		shuffled.r[i] = shuffled.r[j];
		shuffled.r[j] = t;
	}
	snprintf(label, sizeof(label), "%s/shuffled", dr->name);
	apply_verified(label, &shuffled, policy);	/* expects "unchanged" */

	span = snap_span(&g_cur);
	prev = calloc(span, sizeof(*prev));
	now = calloc(span, sizeof(*now));
	assert_non_null(prev);
	assert_non_null(now);
	env_init(&e, &g_cur);
	stats_snap(span, prev);
	for (int k = 0; k < OLD_PKTS && bad < 8; k++) {
		struct pkt p;
		int old;
		__u32 v;

		gen_pkt_aimed(&p, &e, &pl, &g_cur);
		old = old_classify(&g_cur, &p);
		v = old >= 0 ? g_cur.r[old].action : policy == DENY ? DROP : PASS;
		decided += old >= 0;
		/* the reference must agree with the old semantics, the program with both */
		bad += check_pkt(label, &p, v, old, prev, now, NULL) ? 1 : 0;
	}
	env_free(&e);
	free(prev);
	free(now);
	pw_ruleset_free(&a);
	pw_ruleset_free(&shuffled);
	if (bad) {
		print_error("[%s] mismatches (stopped at 8); seed 0x%llx\n", label, (unsigned long long)g_seed);
		rs_dump("rule set in force", &g_cur);
		fail();
	}
	print_message("  %-40s %3d rules, %d pkts, %d decided by a rule\n", dr->name, g_cur.n, OLD_PKTS,
		      decided);
}

/* ---- hand-written rule files ----------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g_tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

struct fpkt {
	const char *what;
	int family;
	const char *src, *dst;
	int proto;
	uint16_t sport, dport;
	int frag;
	bool nd;
	__u32 verdict;
	int rule;		/* index among the file's rules, -1: none */
};

struct fcase {
	const char *name;
	const char *file;	/* a rule file */
	const char *setfile;	/* written as set.txt next to it */
	const char *warning;	/* expected in rs->warnings */
	struct fpkt pkts[16];
};

static int run_fcase(const struct fcase *c)
{
	struct pw_ruleset rs;
	__u32 n;
	struct pw_datarec *prev, *now;
	char path[128];
	int bad = 0;

	if (c->setfile)
		write_file("set.txt", c->setfile);
	write_file("fixed.rules", c->file);
	snprintf(path, sizeof(path), "%s/fixed.rules", g_tmpdir);
	if (pw_ruleset_parse_file(&g_ctx, path, &rs)) {
		print_error("[%s] the rule file does not parse: %s\n", c->name, g_ctx.err);
		fail();
	}
	if (c->warning && (!rs.warnings || !strstr(rs.warnings, c->warning))) {
		print_error("[%s] warnings '%s' lack '%s'\n", c->name, rs.warnings ?: "", c->warning);
		bad++;
	}
	if (!c->warning && rs.warnings) {
		print_error("[%s] unexpected warnings: %s\n", c->name, rs.warnings);
		bad++;
	}
	apply_verified(c->name, &rs, rs.policy < 0 ? ALLOW : rs.policy);
	n = snap_span(&g_cur);
	prev = calloc(n, sizeof(*prev));
	now = calloc(n, sizeof(*now));
	assert_non_null(prev);
	assert_non_null(now);
	stats_snap(n, prev);
	for (int i = 0; i < 16 && c->pkts[i].what; i++) {
		const struct fpkt *f = &c->pkts[i];
		struct pkt p = { 0 };
		char label[160];

		p.family = f->family ? f->family : 4;
		parse_addr(p.family, f->src ? f->src : p.family == 4 ? "192.0.2.1" : "2001:db8::1", p.src);
		parse_addr(p.family, f->dst ? f->dst : p.family == 4 ? "198.51.100.1" : "2001:db8::2", p.dst);
		p.proto = f->proto;
		p.sport = f->sport;
		p.dport = f->dport;
		p.frag = f->frag;
		p.nd = f->nd;
		p.payload = 24;
		snprintf(label, sizeof(label), "%s: %s", c->name, f->what);
		bad += check_pkt(label, &p, f->verdict, f->rule, prev, now, NULL);
	}
	free(prev);
	free(now);
	if (bad)
		rs_dump(c->name, &g_cur);
	pw_ruleset_free(&rs);
	return bad;
}

#define TCP_ IPPROTO_TCP
#define UDP_ IPPROTO_UDP
#define ICMP_ IPPROTO_ICMP
#define ICMP6_ IPPROTO_ICMPV6

static const struct fcase fixed_cases[] = {
	{ "fixed_ssh_from_mgmt",
	  "pass proto tcp src 10.20.0.0/16 dport 22\n"
	  "drop proto tcp dport 22\n", NULL, NULL, {
		{ "mgmt ssh", 4, "10.20.3.4", NULL, TCP_, 40000, 22, .verdict = PASS, .rule = 0 },
		{ "mgmt edge", 4, "10.20.255.255", NULL, TCP_, 1, 22, .verdict = PASS, .rule = 0 },
		{ "other ssh", 4, "10.21.0.1", NULL, TCP_, 40000, 22, .verdict = DROP, .rule = 1 },
		{ "v6 ssh", 6, NULL, NULL, TCP_, 40000, 22, .verdict = DROP, .rule = 1 },
		{ "mgmt udp 22", 4, "10.20.3.4", NULL, UDP_, 40000, 22, .verdict = PASS, .rule = -1 },
		{ "mgmt tcp 23", 4, "10.20.3.4", NULL, TCP_, 40000, 23, .verdict = PASS, .rule = -1 },
		{ "other ssh, first fragment", 4, "10.21.0.1", NULL, TCP_, 1, 22, .frag = 1, .verdict = DROP, .rule = 1 },
		{ "other ssh, later fragment", 4, "10.21.0.1", NULL, TCP_, 1, 22, .frag = 2, .verdict = PASS, .rule = -1 },
		{ "mgmt, later fragment", 4, "10.20.3.4", NULL, TCP_, 1, 22, .frag = 2, .verdict = PASS, .rule = -1 },
	} },
	{ "fixed_ssh_from_mgmt_set_deny",
	  "policy deny\n"
	  "set mgmt 10.20.0.0/16 2001:db8:20::/48\n"
	  "pass proto tcp src @mgmt dport 22\n"
	  "drop proto tcp dport 22\n"
	  "pass proto tcp dport 443\n", NULL, NULL, {
		{ "mgmt v4", 4, "10.20.3.4", NULL, TCP_, 40000, 22, .verdict = PASS, .rule = 0 },
		{ "mgmt v6", 6, "2001:db8:20:1::9", NULL, TCP_, 40000, 22, .verdict = PASS, .rule = 0 },
		{ "other v6", 6, "2001:db8:21::9", NULL, TCP_, 40000, 22, .verdict = DROP, .rule = 1 },
		{ "https", 6, "2001:db8:21::9", NULL, TCP_, 40000, 443, .verdict = PASS, .rule = 2 },
		{ "mgmt udp 22: policy", 4, "10.20.3.4", NULL, UDP_, 40000, 22, .verdict = DROP, .rule = -1 },
		{ "ND passes a deny policy", 6, "fe80::1", "fe80::2", ICMP6_, .nd = true, .verdict = PASS, .rule = -1 },
		{ "echo does not", 6, "fe80::1", "fe80::2", ICMP6_, .verdict = DROP, .rule = -1 },
	} },
	{ "fixed_nd_rule_decides",
	  "policy deny\n"
	  "drop proto icmpv6 src 2001:db8:bad::/48\n"
	  "pass proto udp src 2001:db8:bad::/48 dport 53\n", NULL, NULL, {
		{ "ND from a dropped source: the rule", 6, "2001:db8:bad::1", "fe80::2", ICMP6_, .nd = true, .verdict = DROP, .rule = 0 },
		{ "ND from elsewhere: not the policy", 6, "fe80::1", "fe80::2", ICMP6_, .nd = true, .verdict = PASS, .rule = -1 },
		{ "echo from elsewhere: the policy", 6, "fe80::1", "fe80::2", ICMP6_, .verdict = DROP, .rule = -1 },
		{ "dns from the source", 6, "2001:db8:bad::1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = 1 },
	} },
	{ "fixed_blocklist_except_customer",
	  "set block 203.0.113.0/24 198.51.100.0/24 2001:db8:bad::/48\n"
	  "set customer 203.0.113.128/25 2001:db8:bad:1::/64\n"
	  "pass src @customer\n"
	  "drop src @block\n", NULL, NULL, {
		{ "blocked", 4, "203.0.113.5", "192.0.2.1", TCP_, 1, 80, .verdict = DROP, .rule = 1 },
		{ "customer", 4, "203.0.113.200", "192.0.2.1", TCP_, 1, 80, .verdict = PASS, .rule = 0 },
		{ "customer edge", 4, "203.0.113.128", "192.0.2.1", UDP_, 1, 53, .verdict = PASS, .rule = 0 },
		{ "below customer", 4, "203.0.113.127", "192.0.2.1", UDP_, 1, 53, .verdict = DROP, .rule = 1 },
		{ "other blocked", 4, "198.51.100.9", "192.0.2.1", ICMP_, .verdict = DROP, .rule = 1 },
		{ "v6 customer", 6, "2001:db8:bad:1::9", NULL, TCP_, 1, 80, .verdict = PASS, .rule = 0 },
		{ "v6 blocked", 6, "2001:db8:bad:2::1", NULL, TCP_, 1, 80, .verdict = DROP, .rule = 1 },
		{ "unlisted", 4, "192.0.2.77", "192.0.2.1", TCP_, 1, 80, .verdict = PASS, .rule = -1 },
		{ "blocked as dst only", 4, "192.0.2.77", "203.0.113.5", TCP_, 1, 80, .verdict = PASS, .rule = -1 },
		{ "blocked, later fragment", 4, "203.0.113.5", "192.0.2.1", UDP_, 1, 53, .frag = 2, .verdict = DROP, .rule = 1 },
		{ "customer, later fragment", 4, "203.0.113.130", "192.0.2.1", UDP_, 1, 53, .frag = 2, .verdict = PASS, .rule = 0 },
	} },
	{ "fixed_table_before_ordered",
	  "policy deny\n"
	  "set admins 10.9.0.0/16 2001:db8:9::/48\n"
	  "drop proto tcp dport 22\n"
	  "pass dst 192.0.2.0/24\n"
	  "pass proto tcp src @admins dport {22,2222}\n"
	  "drop proto udp src 10.0.0.0/8\n"
	  "pass proto udp src 0.0.0.0/0 dport 0-65535\n", NULL, NULL, {
		{ "admin ssh: the table first", 4, "10.9.1.1", NULL, TCP_, 1, 22, .verdict = DROP, .rule = 0 },
		{ "admin 2222", 4, "10.9.1.1", NULL, TCP_, 1, 2222, .verdict = PASS, .rule = 2 },
		{ "admin v6 2222", 6, "2001:db8:9::5", NULL, TCP_, 1, 2222, .verdict = PASS, .rule = 2 },
		{ "admin ssh to dst: dst beats dport", 4, "10.9.1.1", "192.0.2.7", TCP_, 1, 22, .verdict = PASS, .rule = 1 },
		{ "udp from 10/8", 4, "10.1.1.1", NULL, UDP_, 1, 53, .verdict = DROP, .rule = 3 },
		{ "udp elsewhere", 4, "172.16.0.1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = 4 },
		{ "udp v6: policy", 6, NULL, NULL, UDP_, 1, 53, .verdict = DROP, .rule = -1 },
		{ "tcp 80: policy", 4, "172.16.0.1", NULL, TCP_, 1, 80, .verdict = DROP, .rule = -1 },
	} },
	{ "fixed_table_after_ordered",
	  "policy deny\n"
	  "set admins 10.9.0.0/16 2001:db8:9::/48\n"
	  "pass proto tcp src @admins dport {22,2222}\n"
	  "drop proto udp src 10.0.0.0/8\n"
	  "pass proto udp src 0.0.0.0/0 dport 0-65535\n"
	  "drop proto tcp dport 22\n"
	  "pass dst 192.0.2.0/24\n", NULL, NULL, {
		{ "admin ssh: ordered first", 4, "10.9.1.1", NULL, TCP_, 1, 22, .verdict = PASS, .rule = 0 },
		{ "admin ssh to dst", 4, "10.9.1.1", "192.0.2.7", TCP_, 1, 22, .verdict = PASS, .rule = 0 },
		{ "other ssh", 4, "172.16.0.1", NULL, TCP_, 1, 22, .verdict = DROP, .rule = 3 },
		{ "udp from 10/8 to dst", 4, "10.1.1.1", "192.0.2.7", UDP_, 1, 53, .verdict = DROP, .rule = 1 },
		{ "tcp 80 to dst", 4, "172.16.0.1", "192.0.2.7", TCP_, 1, 80, .verdict = PASS, .rule = 4 },
		{ "tcp 80 elsewhere", 4, "172.16.0.1", NULL, TCP_, 1, 80, .verdict = DROP, .rule = -1 },
	} },
	{ "fixed_table_between_ordered",
	  "drop proto tcp src 10.0.0.0/8 dport 80\n"
	  "pass src 10.1.0.0/16\n"
	  "drop dport 80\n"
	  "drop dst 192.0.2.0/24 proto udp\n", NULL, NULL, {
		{ "tcp 80 from 10.1: ordered before", 4, "10.1.2.3", NULL, TCP_, 1, 80, .verdict = DROP, .rule = 0 },
		{ "udp 80 from 10.1: table src", 4, "10.1.2.3", NULL, UDP_, 1, 80, .verdict = PASS, .rule = 1 },
		{ "tcp 80 elsewhere: table dport", 4, "172.16.0.1", NULL, TCP_, 1, 80, .verdict = DROP, .rule = 2 },
		{ "udp to dst: ordered after", 4, "172.16.0.1", "192.0.2.5", UDP_, 1, 53, .verdict = DROP, .rule = 3 },
		{ "udp from 10.1 to dst: table before", 4, "10.1.2.3", "192.0.2.5", UDP_, 1, 53, .verdict = PASS, .rule = 1 },
		{ "v6 tcp 80: table dport", 6, NULL, NULL, TCP_, 1, 80, .verdict = DROP, .rule = 2 },
	} },
	{ "fixed_icmp_family",
	  "set mixed 10.0.0.0/8 2001:db8::/32\n"
	  "drop proto icmp src @mixed\n"
	  "pass proto icmpv6 src @mixed\n"
	  "drop src @mixed dst @mixed\n", NULL, NULL, {
		{ "v4 icmp", 4, "10.1.1.1", "10.2.2.2", ICMP_, .verdict = DROP, .rule = 0 },
		{ "v6 icmpv6", 6, "2001:db8::1", "2001:db8::2", ICMP6_, .verdict = PASS, .rule = 1 },
		{ "v6 with protocol 1: no icmp", 6, "2001:db8::1", "2001:db8::2", ICMP_, .verdict = DROP, .rule = 2 },
		{ "v4 with protocol 58: no icmpv6", 4, "10.1.1.1", "10.2.2.2", ICMP6_, .verdict = DROP, .rule = 2 },
		{ "v4 icmp from outside", 4, "192.0.2.1", "10.2.2.2", ICMP_, .verdict = PASS, .rule = -1 },
		{ "v6 protocol 1 from outside", 6, "2001:db9::1", NULL, ICMP_, .verdict = PASS, .rule = -1 },
	} },
	{ "fixed_icmp_table",
	  "drop proto icmp\n"
	  "pass proto icmpv6\n"
	  "drop src 2001:db8::/32 proto icmpv6\n", NULL,
	  "fixed.rules:3: rule 'drop proto icmpv6 src 2001:db8::/32' can never match: the prefix table", {
		{ "v4 icmp", 4, NULL, NULL, ICMP_, .verdict = DROP, .rule = 0 },
		{ "v6 icmpv6: table first", 6, NULL, NULL, ICMP6_, .verdict = PASS, .rule = 1 },
		{ "v6 protocol 1: neither", 6, NULL, NULL, ICMP_, .verdict = PASS, .rule = -1 },
		{ "v4 protocol 58: neither", 4, NULL, NULL, ICMP6_, .verdict = PASS, .rule = -1 },
	} },
	{ "fixed_later_fragments",
	  "set v6 2001:db8:1::/48\n"
	  "pass proto udp src 10.0.0.0/8\n"
	  "drop src 10.0.0.0/8 dst 192.0.2.0/24\n"
	  "drop dport 53 dst 198.51.100.0/24\n"
	  "drop src 2001:db8::/32 dst @v6\n"
	  "pass dst @v6\n"
	  "drop dst 203.0.113.0/24\n"
	  "drop proto udp\n", NULL, NULL, {
		{ "later: no proto rule", 4, "10.1.1.1", "192.0.2.1", UDP_, 1, 53, .frag = 2, .verdict = DROP, .rule = 1 },
		{ "first: proto rule", 4, "10.1.1.1", "192.0.2.1", UDP_, 1, 53, .frag = 1, .verdict = PASS, .rule = 0 },
		{ "later: no port rule", 4, "172.16.0.1", "198.51.100.1", UDP_, 1, 53, .frag = 2, .verdict = PASS, .rule = -1 },
		{ "first: port rule", 4, "172.16.0.1", "198.51.100.1", UDP_, 1, 53, .frag = 1, .verdict = DROP, .rule = 2 },
		{ "later: table dst", 4, "172.16.0.1", "203.0.113.9", UDP_, 1, 53, .frag = 2, .verdict = DROP, .rule = 5 },
		{ "later: no table proto", 4, "172.16.0.1", "8.8.8.8", UDP_, 1, 53, .frag = 2, .verdict = PASS, .rule = -1 },
		{ "whole: table proto", 4, "172.16.0.1", "8.8.8.8", UDP_, 1, 53, .verdict = DROP, .rule = 6 },
		{ "v6 later: set", 6, "2001:db8::1", "2001:db8:1::5", UDP_, 1, 53, .frag = 2, .verdict = DROP, .rule = 3 },
		{ "v6 later: set dst", 6, "2001:db9::1", "2001:db8:1::5", TCP_, 1, 53, .frag = 2, .verdict = PASS, .rule = 4 },
	} },
	{ "fixed_port_lists",
	  "set x 192.0.2.0/24\n"
	  "drop proto tcp dport { 22, 80,443 , 8000-8100 }\n"
	  "pass dport {53,5353} src 10.0.0.0/8\n"
	  "drop proto udp sport {0-1023,2049} dst @x\n", NULL, NULL, {
		{ "tcp 80", 4, NULL, NULL, TCP_, 1, 80, .verdict = DROP, .rule = 0 },
		{ "tcp 8050", 4, NULL, NULL, TCP_, 1, 8050, .verdict = DROP, .rule = 0 },
		{ "tcp 8100", 6, NULL, NULL, TCP_, 1, 8100, .verdict = DROP, .rule = 0 },
		{ "tcp 8101", 4, NULL, NULL, TCP_, 1, 8101, .verdict = PASS, .rule = -1 },
		{ "tcp 7999", 4, NULL, NULL, TCP_, 1, 7999, .verdict = PASS, .rule = -1 },
		{ "udp 80", 4, NULL, NULL, UDP_, 1, 80, .verdict = PASS, .rule = -1 },
		{ "udp 53 from 10/8", 4, "10.1.1.1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = 1 },
		{ "tcp 5353 from 10/8", 4, "10.1.1.1", NULL, TCP_, 1, 5353, .verdict = PASS, .rule = 1 },
		{ "tcp 5354 from 10/8", 4, "10.1.1.1", NULL, TCP_, 1, 5354, .verdict = PASS, .rule = -1 },
		{ "udp sport 2049 to x", 4, NULL, "192.0.2.5", UDP_, 2049, 9, .verdict = DROP, .rule = 2 },
		{ "udp sport 1024 to x", 4, NULL, "192.0.2.5", UDP_, 1024, 9, .verdict = PASS, .rule = -1 },
		{ "tcp sport 1000 to x", 4, NULL, "192.0.2.5", TCP_, 1000, 9, .verdict = PASS, .rule = -1 },
		{ "icmp from 10/8", 4, "10.1.1.1", NULL, ICMP_, .verdict = PASS, .rule = -1 },
	} },
	{ "fixed_set_in_src_and_dst",
	  "set lan 192.168.0.0/16 fd00::/8\n"
	  "pass src @lan dst @lan\n"
	  "drop dst @lan\n"
	  "drop src @lan proto tcp dport 25\n", NULL, NULL, {
		{ "lan to lan", 4, "192.168.1.1", "192.168.2.2", TCP_, 1, 25, .verdict = PASS, .rule = 0 },
		{ "wan to lan", 4, "192.0.2.1", "192.168.2.2", TCP_, 1, 80, .verdict = DROP, .rule = 1 },
		{ "lan to wan smtp", 4, "192.168.1.1", "192.0.2.1", TCP_, 1, 25, .verdict = DROP, .rule = 2 },
		{ "lan to wan web", 4, "192.168.1.1", "192.0.2.1", TCP_, 1, 80, .verdict = PASS, .rule = -1 },
		{ "v6 lan to lan", 6, "fd00::1", "fd12::2", UDP_, 1, 53, .verdict = PASS, .rule = 0 },
		{ "v6 wan to lan", 6, "2001:db8::1", "fd00::5", UDP_, 1, 53, .verdict = DROP, .rule = 1 },
	} },
	{ "fixed_empty_set",
	  "policy deny\n"
	  "set empty\n"
	  "drop src @empty\n"
	  "drop dst @empty proto tcp\n"
	  "pass proto tcp dport 22\n"
	  "pass src 0.0.0.0/0 dst @empty\n", NULL, NULL, {
		{ "tcp 22 v4", 4, NULL, NULL, TCP_, 1, 22, .verdict = PASS, .rule = 2 },
		{ "tcp 22 v6", 6, NULL, NULL, TCP_, 1, 22, .verdict = PASS, .rule = 2 },
		{ "tcp 80", 4, NULL, NULL, TCP_, 1, 80, .verdict = DROP, .rule = -1 },
		{ "udp v6", 6, NULL, NULL, UDP_, 1, 80, .verdict = DROP, .rule = -1 },
		{ "icmp", 4, NULL, NULL, ICMP_, .verdict = DROP, .rule = -1 },
	} },
	{ "fixed_set_file",
	  "set big file set.txt\n"
	  "drop src @big proto udp\n"
	  "pass src @big\n",
	  "# prefixes, one a line\n10.0.0.0/8\n\n2001:db8::/32  # trailing comment\n192.0.2.128/25\n", NULL, {
		{ "udp from 10/8", 4, "10.1.1.1", NULL, UDP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "tcp from v6", 6, "2001:db8::9", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "tcp from .200", 4, "192.0.2.200", NULL, TCP_, 1, 2, .verdict = PASS, .rule = 1 },
		{ "tcp from .100", 4, "192.0.2.100", NULL, TCP_, 1, 2, .verdict = PASS, .rule = -1 },
	} },
	{ "fixed_shadowed_rule_warned",
	  "pass proto tcp src 10.0.0.0/8\n"
	  "drop proto tcp src 10.1.0.0/16 dport 22\n", NULL,
	  "fixed.rules:2: rule 'drop proto tcp src 10.1.0.0/16 dport 22' can never match", {
		{ "tcp 22 from 10.1", 4, "10.1.1.1", NULL, TCP_, 1, 22, .verdict = PASS, .rule = 0 },
		{ "udp 22 from 10.1", 4, "10.1.1.1", NULL, UDP_, 1, 22, .verdict = PASS, .rule = -1 },
	} },
	/* three applies: nothing of an earlier set (ordered rules, sets) stays in a buffer */
	{ "fixed_stale_1",
	  "policy deny\nset s 10.1.0.0/16 2001:db8:1::/48\ndrop src @s proto tcp\npass src @s\n", NULL, NULL, {
		{ "tcp", 4, "10.1.1.1", NULL, TCP_, 1, 2, .verdict = DROP, .rule = 0 },
		{ "udp v6", 6, "2001:db8:1::1", NULL, UDP_, 1, 2, .verdict = PASS, .rule = 1 },
	} },
	{ "fixed_stale_2",
	  "policy deny\ndrop src 10.2.0.0/16\n", NULL, NULL, {
		{ "old tcp", 4, "10.1.1.1", NULL, TCP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "old udp v6", 6, "2001:db8:1::1", NULL, UDP_, 1, 2, .verdict = DROP, .rule = -1 },
		{ "new", 4, "10.2.1.1", NULL, UDP_, 1, 2, .verdict = DROP, .rule = 0 },
	} },
	{ "fixed_stale_3",
	  "set s 10.2.0.0/16\npass src @s proto udp dport 53\ndrop src 10.3.0.0/16\n", NULL, NULL, {
		{ "old set", 4, "10.1.1.1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = -1 },
		{ "new set", 4, "10.2.1.1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = 0 },
		{ "new set tcp", 4, "10.2.1.1", NULL, TCP_, 1, 53, .verdict = PASS, .rule = -1 },
		{ "old v6 elem", 6, "2001:db8:1::1", NULL, UDP_, 1, 53, .verdict = PASS, .rule = -1 },
		{ "table", 4, "10.3.1.1", NULL, UDP_, 1, 53, .verdict = DROP, .rule = 1 },
	} },
};

static void test_fixed(void **state)
{
	const struct fcase *c = *state;

	if (!strcmp(c->name, "fixed_stale_1")) {
		/* the three steps in order, whatever the filter */
		int bad = 0;

		for (int k = 0; k < 3; k++)
			bad += run_fcase(c + k);
		if (bad)
			fail();
		return;
	}
	if (!strncmp(c->name, "fixed_stale_", 12))
		skip();
	if (run_fcase(c))
		fail();
}

/*
 * 128 ordered rules replaced by 128 others in one apply, twice: the old
 * and the new rules' matches are kept side by side until the switch.
 * Each rule decides its own packets afterwards.
 */
static void test_ordered_max_replaced(void **state)
{
	static const char *const act[] = { "drop", "pass" };
	int bad = 0;

	(void)state;
	for (int step = 0; step < 3; step++) {
		struct pw_ruleset rs;
		struct pw_datarec *prev, *now;
		char text[128], label[64];
		__u32 n;

		rs_init(&rs);
		for (int i = 0; i < PW_ORD_MAX; i++) {
			snprintf(text, sizeof(text), "%s proto %s src 10.%d.%d.0/24 dport %d", act[(i + step) & 1],
				 step == 1 ? "udp" : "tcp", step, i, 1000 + i);
			rs_add(&rs, text);
		}
		rs_add(&rs, step == 1 ? "drop src 2001:db8::/32" : "pass dst 2001:db8::/32");
		snprintf(label, sizeof(label), "128 ordered rules, step %d", step);
		apply_verified(label, &rs, step == 2 ? DENY : ALLOW);
		n = snap_span(&g_cur);
		prev = calloc(n, sizeof(*prev));
		now = calloc(n, sizeof(*now));
		assert_non_null(prev);
		assert_non_null(now);
		stats_snap(n, prev);
		for (int i = 0; i < PW_ORD_MAX; i++) {
			struct pkt p = { .family = 4, .proto = step == 1 ? UDP_ : TCP_, .sport = 5,
					 .dport = (uint16_t)(1000 + i), .payload = 8 };
			char s[32];

			snprintf(s, sizeof(s), "10.%d.%d.9", step, i);
			parse_addr(4, s, p.src);
			parse_addr(4, "192.0.2.1", p.dst);
			bad += check_pkt(label, &p, (i + step) & 1 ? PASS : DROP, i, prev, now, NULL);
			/* the neighbour's port: not this rule's */
			p.dport = (uint16_t)(1001 + i);
			bad += check_pkt(label, &p, step == 2 ? DROP : PASS, -1, prev, now, NULL);
		}
		free(prev);
		free(now);
		pw_ruleset_free(&rs);
		if (bad)
			fail();
	}
}

/*
 * More distinct lookup values than nodes: every element of a set an
 * ordered rule uses has a node of its own (its hits are counted), so a set
 * of PW_NODES + 1000 prefixes does not fit. The apply is refused as
 * "table full" and nothing changes: the same config, the same rules read
 * back, the same verdicts and counters.
 */
static void test_nodes_full_refused(void **state)
{
	struct pw_ruleset big, old;
	struct pw_apply_report rep;
	struct pw_config before, after;
	struct pw_datarec *prev, *now;
	struct pw_set *s;
	int err, bad = 0;
	__u32 n;

	(void)state;
	rs_init(&old);
	rs_add(&old, "drop proto udp src 10.0.0.0/8");
	rs_add(&old, "pass src 10.1.2.3");
	apply_verified("nodes: before", &old, DENY);
	rs_init(&big);
	s = pw_ruleset_new_set(&big, "many");
	assert_non_null(s);
	for (__u32 i = 0; i < PW_NODES + 1000; i++) {
		struct pw_prefix p = { 4, 32, { htonl(0x0b000000u + i) } };

		assert_int_equal(pw_set_push(s, &p), 0);
	}
	pw_set_normalize(s);
	rs_add(&big, "drop proto tcp src @many");
	assert_int_equal(pw_ruleset_check(&g_ctx, &big, NULL), 0);
	read_config(&before);
	err = pw_rules_apply(&g_ctx, &g_maps, &big, DENY, &rep);
	g_applies++;
	read_config(&after);
	if (!err) {
		print_error("an apply needing %d nodes (room for %d) succeeded\n", PW_NODES + 1000, PW_NODES);
		pw_ruleset_free(&g_cur);
		assert_int_equal(pw_ruleset_copy(&g_cur, &big), 0);
		pw_ruleset_free(&big);
		pw_ruleset_free(&old);
		fail();
	}
	if (err != -E2BIG || !strstr(g_ctx.err, "table full"))
		print_error("refused with %d '%s', expected -E2BIG, 'table full'\n", err, g_ctx.err), bad++;
	if (memcmp(&before, &after, sizeof(before)))
		print_error("pw_config changed by a refused apply\n"), bad++;
	bad += check_read_back("nodes: after the refused apply", &g_cur);
	n = snap_span(&g_cur);
	prev = calloc(n, sizeof(*prev));
	now = calloc(n, sizeof(*now));
	assert_non_null(prev);
	assert_non_null(now);
	stats_snap(n, prev);
	{
		struct pkt p = { .family = 4, .proto = UDP_, .sport = 1, .dport = 2, .payload = 8 };

		parse_addr(4, "10.9.9.9", p.src);
		parse_addr(4, "192.0.2.1", p.dst);
		bad += check_pkt("nodes: old udp rule", &p, DROP, 0, prev, now, NULL);
		p.proto = TCP_;
		bad += check_pkt("nodes: tcp, old set", &p, DROP, -1, prev, now, NULL);
		parse_addr(4, "10.1.2.3", p.src);
		bad += check_pkt("nodes: old host route", &p, PASS, 1, prev, now, NULL);
	}
	free(prev);
	free(now);
	pw_ruleset_free(&big);
	pw_ruleset_free(&old);
	if (bad)
		fail();
}

/*
 * A set of 100000 IPv4 and 20000 IPv6 prefixes: applied, read back whole
 * (more elements than one batch read of the set maps takes), changed by
 * one element each way, and its first, last and removed elements decide
 * as they must.
 */
static void test_big_set(void **state)
{
	struct pw_ruleset rs;
	struct pw_set *s;
	struct pw_datarec *prev, *now;
	__u32 n;
	int bad = 0;

	(void)state;
	rs_init(&rs);
	s = pw_ruleset_new_set(&rs, "big");
	assert_non_null(s);
	for (int i = 0; i < 120000; i++) {
		struct pw_prefix p = { 4, 32, { htonl(0x0a000000u + (__u32)i * 3) } };

		if (i >= 100000) {
			p = (struct pw_prefix){ 6, 64, { htonl(0x20010db8u), htonl((__u32)i), 0, 0 } };
		}
		assert_int_equal(pw_set_push(s, &p), 0);
	}
	pw_set_normalize(s);
	rs_add(&rs, "drop proto tcp src @big");
	rs_add(&rs, "pass src @big");
	apply_verified("big set", &rs, DENY);
	s = &rs.sets[0];
	s->e[0] = s->e[--s->n];		/* 10.0.0.0 out, and one in */
	{
		struct pw_prefix p = { 4, 24, { htonl(0xc0000200u) } };

		assert_int_equal(pw_set_push(s, &p), 0);
	}
	pw_set_normalize(s);
	apply_verified("big set, one out, one in", &rs, DENY);
	n = snap_span(&g_cur);
	prev = calloc(n, sizeof(*prev));
	now = calloc(n, sizeof(*now));
	assert_non_null(prev);
	assert_non_null(now);
	stats_snap(n, prev);
	{
		static const struct { int fam; const char *src; int proto; __u32 v; int rule; } c[] = {
			{ 4, "10.0.0.0", TCP_, DROP, -1 },	/* removed: the policy */
			{ 4, "10.0.0.3", TCP_, DROP, 0 },
			{ 4, "10.0.0.4", UDP_, DROP, -1 },
			{ 4, "10.4.147.221", UDP_, PASS, 1 },	/* 10.0.0.0 + 99999 * 3 */
			{ 4, "192.0.2.77", UDP_, PASS, 1 },	/* the one in */
			{ 6, "2001:db8:1:d4bf::1", UDP_, PASS, 1 },	/* element 119999 */
			{ 6, "2001:db8:1:86a0::1", TCP_, DROP, 0 },	/* element 100000 */
			{ 6, "2001:db8:1:d4c0::1", TCP_, DROP, -1 },	/* one past the last */
		};

		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			struct pkt p = { .family = c[i].fam, .proto = c[i].proto, .sport = 1, .dport = 2,
					 .payload = 8 };

			parse_addr(p.family, c[i].src, p.src);
			parse_addr(p.family, p.family == 4 ? "192.0.2.1" : "2001:db8::2", p.dst);
			bad += check_pkt("big set", &p, c[i].v, c[i].rule, prev, now, NULL);
		}
	}
	free(prev);
	free(now);
	pw_ruleset_free(&rs);
	if (bad)
		fail();
}

/* Hits of each element of set @name in force. */
static void set_hits(const char *name, __u64 *out, int n)
{
	const struct pw_set *s = pw_ruleset_find_set(&g_cur, name);

	assert_non_null(s);
	assert_int_equal(s->n, n);
	if (pw_set_hits(&g_ctx, &g_maps, &g_cur, s, out))
		fail_msg("pw_set_hits(%s): %s", name, g_ctx.err);
}

/*
 * Hits per set element: a packet an ordered rule with a set decides is
 * counted under the element of that set holding its address; nothing else
 * is. Set A holds 10.0.0.0/8, set B 10.1.0.0/16 (inside it); B's rule
 * takes only UDP. Element counters survive an apply that keeps the element.
 */
static void test_elem_hits(void **state)
{
	static const struct {
		const char *what, *src;
		int proto;
		__u32 verdict;
		int rule;
		int a, b;	/* expected hits of A's and B's element after the packet */
	} pk[] = {
		{ "udp from B: B's rule", "10.1.2.3", UDP_, PASS, 0, 0, 1 },
		{ "tcp from A only: A's rule", "10.2.0.1", TCP_, DROP, 1, 1, 1 },
		{ "tcp from B: A's rule, A's element", "10.1.2.3", TCP_, DROP, 1, 2, 1 },
		{ "from neither", "192.0.2.1", TCP_, PASS, -1, 2, 1 },
		{ "udp from B again", "10.1.9.9", UDP_, PASS, 0, 2, 2 },
	};
	struct pw_ruleset rs;
	struct pw_datarec *prev, *now;
	__u64 ha[1], hb[2], last = 0;
	__u32 n;
	int bad = 0;

	(void)state;
	rs_init(&rs);
	rs_set(&rs, "A", (const char *const[]){ "10.0.0.0/8", NULL });
	rs_set(&rs, "B", (const char *const[]){ "10.1.0.0/16", NULL });
	rs_add(&rs, "pass src @B proto udp");
	rs_add(&rs, "drop src @A");
	apply_verified("element hits", &rs, ALLOW);
	n = snap_span(&g_cur);
	prev = calloc(n, sizeof(*prev));
	now = calloc(n, sizeof(*now));
	assert_non_null(prev);
	assert_non_null(now);
	stats_snap(n, prev);
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		struct pkt p = { .family = 4, .proto = pk[i].proto, .sport = 1, .dport = 2, .payload = 8 };

		parse_addr(4, pk[i].src, p.src);
		parse_addr(4, "198.51.100.1", p.dst);
		bad += check_pkt("element hits", &p, pk[i].verdict, pk[i].rule, prev, now, NULL);
		set_hits("A", ha, 1);
		set_hits("B", hb, 1);
		/* exactly one element counts a packet a set decided */
		if (ha[0] + hb[0] != last + (pk[i].rule >= 0))
			print_error("'%s': element hits %llu + %llu, expected %llu in all\n", pk[i].what,
				    (unsigned long long)ha[0], (unsigned long long)hb[0],
				    (unsigned long long)(last + (pk[i].rule >= 0))), bad++;
		last = ha[0] + hb[0];
		/* the packet is counted under the element of the set whose rule
		 * decided (A's 10.0.0.0/8 for a TCP packet from 10.1.2.3), not
		 * under the longest element of any set (B's 10.1.0.0/16) */
		if (ha[0] != (__u64)pk[i].a || hb[0] != (__u64)pk[i].b)
			print_error("'%s': hits A 10.0.0.0/8 %llu, B 10.1.0.0/16 %llu; expected %d, %d\n",
				    pk[i].what, (unsigned long long)ha[0], (unsigned long long)hb[0],
				    pk[i].a, pk[i].b), bad++;
	}
	free(prev);
	free(now);
	/* B grows: its kept element keeps its hits, the new one starts at zero */
	set_hits("B", hb, 1);
	last = hb[0];
	{
		struct pw_set *b = pw_ruleset_find_set(&rs, "B");
		struct pw_prefix p;
		char err[128];

		assert_int_equal(pw_prefix_parse("10.3.0.0/16", &p, err, sizeof(err)), 0);
		assert_int_equal(pw_set_push(b, &p), 0);
		pw_set_normalize(b);
	}
	apply_verified("element hits, B grown", &rs, ALLOW);
	set_hits("B", hb, 2);
	if (hb[0] != last || hb[1] != 0)
		print_error("after B grew: hits %llu, %llu; expected %llu, 0\n", (unsigned long long)hb[0],
			    (unsigned long long)hb[1], (unsigned long long)last), bad++;
	pw_ruleset_free(&rs);
	if (bad)
		fail();
}

#ifdef PW_KNOWN_BUG_SET_CAPACITY
/*
 * Issue #9 asks for sets of up to millions of elements. A set of 270000
 * prefixes used by one rule is refused: each element needs a lookup node
 * of its own (PW_NODES, 262144 a buffer); the element maps (PW_MAX_LONG,
 * 524288 entries for both buffers, which hold a set at once during an
 * apply) set the same bound.
 */
static void test_set_capacity(void **state)
{
	struct pw_ruleset rs;
	struct pw_set *s;
	struct pw_apply_report rep;
	int err;

	(void)state;
	rs_init(&rs);
	s = pw_ruleset_new_set(&rs, "big");
	assert_non_null(s);
	for (int i = 0; i < 270000; i++) {
		struct pw_prefix p = { 4, 32, { htonl(0x0a000000u + (__u32)i) } };

		assert_int_equal(pw_set_push(s, &p), 0);
	}
	pw_set_normalize(s);
	rs_add(&rs, "drop proto tcp src @big");
	rs.policy = ALLOW;
	err = pw_rules_apply(&g_ctx, &g_maps, &rs, ALLOW, &rep);
	if (err)
		fail_msg("first apply of a 270000-element set: %s", g_ctx.err);
	s->n--;		/* one element less */
	err = pw_rules_apply(&g_ctx, &g_maps, &rs, ALLOW, &rep);
	if (err)
		s->n++;	/* refused: the whole set stays in force */
	pw_ruleset_free(&g_cur);
	assert_int_equal(pw_ruleset_copy(&g_cur, &rs), 0);
	pw_ruleset_free(&rs);
	if (err)
		fail_msg("removing one element of a 270000-element set: %d: %s", err, g_ctx.err);
}
#endif

/* ---- set contents switched under traffic -------------------------------------------- */

/*
 * Two rule sets with the same rules (so every rule keeps its id and
 * counter) and other set contents (or another order), applied in turns by one thread while
 * this one runs packets (BPF_PROG_TEST_RUN, many repeats a call). Each
 * packet is decided under both sets, by the same rule or by one of two
 * rules with the same action; a packet that saw half a set (elements of
 * the new one missing, or the old one's taken away before the switch)
 * would reach another rule or the deny policy. Around each call: the
 * deciding rules' counters together gain exactly the runs, no other rule
 * counter moves, and every run got the expected verdict. IPv6 and IPv4
 * prefixes of every length in the packets' chunks (matching none of them)
 * make each lookup probe long: a switch lands in a packet more often.
 */
struct flipper {
	struct pw_ruleset *set[2];
	int flips, done, err, cpu;
	char msg[PW_ERR_LEN];
};

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;

	pin_to(pthread_self(), f->cpu);
	for (int i = 0; i < f->flips && !f->err; i++) {
		struct pw_apply_report rep;
		int k = (i + 1) % 2;	/* starts with B: A is in force */

		f->err = pw_rules_apply(&g_ctx, &g_maps, f->set[k], DENY, &rep);
		if (!f->err && (rep.added || rep.removed || rep.unchanged)) {
			f->err = -EPROTO;
			snprintf(f->msg, sizeof(f->msg), "apply %d: added %d removed %d unchanged %d, expected only set changes",
				 i, rep.added, rep.removed, rep.unchanged);
		} else if (f->err) {
			snprintf(f->msg, sizeof(f->msg), "%s", g_ctx.err);
		}
	}
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* @reorder: the ordered rules in another order, the table after them */
static void race_rules(struct pw_ruleset *rs, const char *const *mgmt, const char *const *block,
		       bool reorder)
{
	static const char *const ord[] = { "pass proto tcp src @mgmt dport 22", "drop src @block",
					   "pass dst @svc", "drop dst @sink" };
	static const int other[] = { 1, 2, 0, 3 };
	static const char *const svc[] = { "198.51.100.0/24", "2001:db8:5::/48", NULL };
	static const char *const sink[] = { "203.0.113.0/24", NULL };
	char text[128], zs[INET6_ADDRSTRLEN];

	rs_init(rs);
	rs_set(rs, "mgmt", mgmt);
	rs_set(rs, "block", block);
	rs_set(rs, "svc", svc);
	rs_set(rs, "sink", sink);
	for (int i = 0; reorder && i < 4; i++)
		rs_add(rs, ord[other[i]]);
	/* the table (first in A): prefixes near the packets that match none of them */
	for (int dir = 0; dir < 2; dir++)
		for (int fam = 4; fam <= 6; fam += 2) {
			uint8_t z[16];

			parse_addr(fam, fam == 4 ? (dir ? "100.64.0.1" : "10.20.1.5") :
				   dir ? "2001:db8:99::1" : "2001:db8:20:1::5", z);
			setbit(z, 16, !getbit(z, 16));
			for (int l = 17; l <= abits(fam); l += fam == 4 ? 1 : 2) {
				uint8_t m[16];

				memcpy(m, z, 16);
				fill_host(m, fam, l, 0);
				snprintf(text, sizeof(text), "%s %s %s/%d", l % 2 ? "drop" : "pass",
					 dir ? "dst" : "src", astr(fam, m, zs), l);
				rs_add(rs, text);
			}
		}
	for (int i = 0; !reorder && i < 4; i++)
		rs_add(rs, ord[i]);
}

struct race_pkt {
	const char *what;
	int family;
	const char *src, *dst;
	int proto;
	__u32 verdict;
	int rules[2];		/* ordered rule numbers (0..3, A's order) that may decide; -1: none */
};

static const struct race_pkt set_race_pkts[] = {
	{ "mgmt v4, in both", 4, "10.20.1.5", "100.64.0.1", TCP_, PASS, { 0, -1 } },
	{ "mgmt v6, in both", 6, "2001:db8:20:1::5", "2001:db8:99::1", TCP_, PASS, { 0, -1 } },
	{ "mgmt in A, svc dst", 4, "10.20.1.200", "198.51.100.7", TCP_, PASS, { 0, 2 } },
	{ "block in A, sink dst", 4, "192.0.2.10", "203.0.113.9", UDP_, DROP, { 1, 3 } },
	{ "block in both", 4, "192.0.2.77", "100.64.0.1", UDP_, DROP, { 1, -1 } },
	{ "svc v6, unchanged", 6, "2001:db8:99::1", "2001:db8:5::9", UDP_, PASS, { 2, -1 } },
};

/* the same sets, the rules in another order: block, svc, mgmt, sink */
static const struct race_pkt order_race_pkts[] = {
	{ "mgmt v4, mgmt in both", 4, "10.20.1.5", "100.64.0.1", TCP_, PASS, { 0, -1 } },
	{ "mgmt to svc: mgmt or svc", 4, "10.20.1.5", "198.51.100.7", TCP_, PASS, { 0, 2 } },
	{ "mgmt v6 to svc", 6, "2001:db8:20:1::5", "2001:db8:5::9", TCP_, PASS, { 0, 2 } },
	{ "block to svc: block in both", 4, "192.0.2.10", "198.51.100.7", TCP_, DROP, { 1, -1 } },
	{ "block to sink", 4, "192.0.2.10", "203.0.113.9", UDP_, DROP, { 1, -1 } },
};
#define N_RACE_MAX 8

/* Index in @rs of ordered rule number @k (0..3). */
static int ord_index(const struct pw_ruleset *rs, int k)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind == PW_RK_ORDERED && k-- == 0)
			return i;
	return -1;
}

/* One call of @repeat runs of frame @k: 0 if the counters say what they must. */
static int race_call(const struct race_pkt *rp, const struct pb *fr, __u32 repeat,
		     const struct pw_ruleset *a, struct pw_datarec *before, struct pw_datarec *after,
		     __u32 span)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = fr->buf, .data_size_in = (__u32)fr->len,
		    .repeat = repeat);
	__u64 ok0 = action_count(rp->verdict), bad0 = action_count(rp->verdict == PASS ? DROP : PASS);
	__u64 ok, bad, by_rules = 0;
	int problems = 0;

	stats_snap(span, before);
	assert_int_equal(bpf_prog_test_run_opts(g_prog_fd, &opts), 0);
	stats_snap(span, after);
	ok = action_count(rp->verdict) - ok0;
	bad = action_count(rp->verdict == PASS ? DROP : PASS) - bad0;
	for (__u32 id = 0; id < span; id++) {
		__u64 d = after[id].rx_packets - before[id].rx_packets;
		bool allowed = false;

		for (int j = 0; j < 2; j++)
			allowed |= rp->rules[j] >= 0 && a->ids[ord_index(a, rp->rules[j])] == id;
		if (allowed)
			by_rules += d;
		else if (d) {
			print_error("'%s': %llu of %u runs counted by id %u, not a rule that decides it\n",
				    rp->what, (unsigned long long)d, repeat, id);
			problems++;
		}
	}
	if (by_rules != repeat || ok != repeat || bad) {
		print_error("'%s': %u runs: %llu %s (expected all), %llu the other verdict, %llu counted by its rules\n",
			    rp->what, repeat, (unsigned long long)ok, vname(rp->verdict),
			    (unsigned long long)bad, (unsigned long long)by_rules);
		problems++;
	}
	return problems;
}

/* This thread on the first allowed CPU, *@other: the second (-1: none), so
 * the packets and the applies really run at once. True if @saved holds the
 * affinity to restore. */
static bool pin_apart(int *other, cpu_set_t *saved)
{
	cpu_set_t cs;
	int first = -1;

	*other = -1;
	if (!sched_getaffinity(0, sizeof(cs), &cs))
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cs)) {
				if (first < 0)
					first = c;
				else if (*other < 0)
					*other = c;
			}
	if (*other < 0 || sched_getaffinity(0, sizeof(*saved), saved))
		return false;
	pin_to(pthread_self(), first);
	return true;
}

static bool id_allowed(const struct pw_ruleset *a, const struct race_pkt *rp, __u32 id)
{
	for (int j = 0; j < 2; j++)
		if (rp->rules[j] >= 0 && a->ids[ord_index(a, rp->rules[j])] == id)
			return true;
	return false;
}

/* A and B (applied, with ids) switched @flips times under the packets @pkts. */
static void race_run(struct pw_ruleset *a, struct pw_ruleset *b, const struct race_pkt *pkts,
		     size_t np, int flips)
{
	struct flipper f = { .flips = flips };
	struct pb fr[N_RACE_MAX];
	__u64 runs = 0, calls = 0;
	__u32 repeat = 200, span;
	struct pw_datarec *before, *after;
	cpu_set_t saved;
	bool restore;
	int problems = 0, k = 0;
	pthread_t th;

	assert_true(np <= N_RACE_MAX);
	/* the test's premise: each packet's deciding rules under A and under B */
	for (size_t i = 0; i < np; i++) {
		const struct race_pkt *rp = &pkts[i];
		struct pkt p = { .family = rp->family, .proto = rp->proto, .sport = 40000, .dport = 22,
				 .payload = 16 };
		struct pw_ref_pkt ref;
		int ia, ib;

		parse_addr(p.family, rp->src, p.src);
		parse_addr(p.family, rp->dst, p.dst);
		build(&p, &fr[i], &ref);
		assert_int_equal(pw_ruleset_classify(a, &ref, &ia), rp->verdict);
		assert_int_equal(pw_ruleset_classify(b, &ref, &ib), rp->verdict);
		assert_true(ia >= 0 && ib >= 0);
		assert_true(id_allowed(a, rp, a->ids[ia]));
		assert_true(id_allowed(a, rp, b->ids[ib]));
		assert_int_equal(a->ids[ia], a->ids[ord_index(a, rp->rules[0])]);
	}
	span = snap_span(a);
	before = calloc(span, sizeof(*before));
	after = calloc(span, sizeof(*after));
	assert_non_null(before);
	assert_non_null(after);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr[0].buf, .data_size_in = (__u32)fr[0].len,
			    .repeat = 1000);

		assert_int_equal(bpf_prog_test_run_opts(g_prog_fd, &o), 0);
		if (o.duration)
			repeat = 2000000 / o.duration;	/* about 2 ms a call */
		if (repeat < 50)
			repeat = 50;
	}
	f.set[0] = a;
	f.set[1] = b;
	restore = pin_apart(&f.cpu, &saved);
	assert_int_equal(pthread_create(&th, NULL, flip_thread, &f), 0);
	while (!__atomic_load_n(&f.done, __ATOMIC_ACQUIRE) && problems < 8) {
		problems += race_call(&pkts[k], &fr[k], repeat, a, before, after, span);
		runs += repeat;
		calls++;
		k = (k + 1) % (int)np;
	}
	pthread_join(th, NULL);
	if (restore)
		sched_setaffinity(0, sizeof(saved), &saved);
	g_race_runs += runs;
	g_applies += (unsigned)f.flips;
	free(before);
	free(after);
	print_message("  %d applies (A/B), %llu calls, %llu runs, %d problems\n", f.flips,
		      (unsigned long long)calls, (unsigned long long)runs, problems);
	if (f.err) {
		print_error("apply in the flipping thread: %d: %s\n", f.err, f.msg);
		fail();
	}
	assert_int_equal(problems, 0);
	assert_true(calls >= (unsigned long long)f.flips);
}

/* A in force, B applied once (both get their ids), A again. */
static void race_setup(struct pw_ruleset *a, struct pw_ruleset *b)
{
	apply_verified("race: set A", a, DENY);
	apply_verified("race: set B", b, DENY);
	apply_verified("race: set A again", a, DENY);
}

static void race_finish(struct pw_ruleset *a, struct pw_ruleset *b)
{
	/* the flips (an even number) end with A in force */
	pw_ruleset_free(&g_cur);
	assert_int_equal(pw_ruleset_copy(&g_cur, a), 0);
	pw_ruleset_free(a);
	pw_ruleset_free(b);
}

static void test_set_change_race(void **state)
{
	static const char *const mgmt_a[] = { "10.20.1.0/24", "2001:db8:20::/48", NULL };
	static const char *const mgmt_b[] = { "10.20.1.0/25", "10.20.2.0/24", "2001:db8:20::/64",
					      "2001:db8:20:1::/64", NULL };
	static const char *const block_a[] = { "192.0.2.0/24", NULL };
	static const char *const block_b[] = { "192.0.2.64/26", "198.18.0.0/15", NULL };
	struct pw_ruleset a, b;

	(void)state;
	race_rules(&a, mgmt_a, block_a, false);
	race_rules(&b, mgmt_b, block_b, false);
	race_setup(&a, &b);
	race_run(&a, &b, set_race_pkts, sizeof(set_race_pkts) / sizeof(set_race_pkts[0]), 4);
	race_finish(&a, &b);
}

/* Rule changes under traffic: the same rules in another order, the table moved. */
static void test_order_change_race(void **state)
{
	static const char *const mgmt[] = { "10.20.1.0/24", "2001:db8:20::/48", NULL };
	static const char *const block[] = { "192.0.2.0/24", NULL };
	struct pw_ruleset a, b;

	(void)state;
	race_rules(&a, mgmt, block, false);
	race_rules(&b, mgmt, block, true);
	race_setup(&a, &b);
	race_run(&a, &b, order_race_pkts, sizeof(order_race_pkts) / sizeof(order_race_pkts[0]), 2);
	race_finish(&a, &b);
}

/* ---- rule file errors -------------------------------------------------------------- */

struct ecase {
	const char *name;
	const char *file;	/* err.rules; NULL: generated (gen) */
	const char *setfile;	/* set.txt */
	const char *warning;	/* no error: this warning */
	const char *msg[4];	/* substrings of the error ('%' = the test directory) */
};

static const struct ecase err_cases[] = {
	{ "err_unknown_set", "drop src 10.0.0.0/8\ndrop proto tcp src @nope dport 22\n", NULL, NULL,
	  { "err.rules:2: ", "unknown set '@nope'" } },
	{ "err_set_used_before_defined", "drop src @late proto tcp\nset late 10.0.0.0/8\n", NULL, NULL,
	  { "err.rules:1: ", "'@late'", "above the rules" } },
	{ "err_duplicate_set", "set a 10.0.0.0/8\nset b 10.1.0.0/16\nset a 10.2.0.0/16\n", NULL, NULL,
	  { "err.rules:3: ", "duplicate set 'a'", "err.rules:1" } },
	{ "err_wrong_family_set_icmp", "set v6 2001:db8::/32\ndrop proto icmp src @v6\n", NULL, NULL,
	  { "err.rules:2: ", "'drop proto icmp src @v6'", "can never match" } },
	{ "err_wrong_family_set_icmpv6", "set v4 10.0.0.0/8 192.0.2.0/24\npass dst @v4 proto icmpv6\n", NULL, NULL,
	  { "err.rules:2: ", "'pass proto icmpv6 dst @v4'", "can never match" } },
	{ "err_wrong_family_set_and_prefix", "set v4 10.0.0.0/8\ndrop src @v4 dst 2001:db8::/32\n", NULL, NULL,
	  { "err.rules:2: ", "@v4", "2001:db8::/32", "can never match" } },
	{ "err_wrong_family_two_sets", "set v4 10.0.0.0/8\nset v6 2001:db8::/32\npass src @v4 dst @v6\n", NULL, NULL,
	  { "err.rules:3: ", "@v4", "@v6", "can never match" } },
	{ "err_port_list_with_icmp", "drop proto icmp dport {22,80}\n", NULL, NULL,
	  { "err.rules:1: ", "'icmp'", "tcp or udp" } },
	{ "err_port_with_gre", "set s 10.0.0.0/8\npass src @s proto gre sport 1-2\n", NULL, NULL,
	  { "err.rules:2: ", "'gre'", "tcp or udp" } },
	{ "err_single_after_ordered", "drop src 10.0.0.0/8\ndrop proto tcp src 10.1.0.0/16 dport 22\n"
	  "drop dst 10.2.0.0/16\n", NULL, NULL,
	  { "err.rules:3: ", "'drop dst 10.2.0.0/16'", "err.rules:2", "err.rules:1" } },
	{ "err_too_many_sets", NULL, "65 sets", NULL, { "err.rules:65: ", "at most 64 sets",
	    /* the set that is one too many is not named */
	    "'s64'",
	  } },
	{ "err_too_many_ordered", NULL, NULL, NULL,
	  { "err.rules:129: ", "at most 128 ordered rules",
	    /* the message names the line but not the rule that is one too many */
	    "'drop proto tcp src 10.0.128.0/24 dport 22'",
	  } },
	{ "err_bad_set_file_line", "set big file set.txt\ndrop src @big\n", "10.0.0.0/8\n# comment\nbogus\n", NULL,
	  { "%/set.txt:3: ", "'bogus'",
	    /* which rule file line named the set file is not said */
	    "err.rules:1",
	  } },
	{ "err_set_file_missing", "set s file nope.txt\ndrop src @s\n", NULL, NULL,
	  { "%/nope.txt'",
	    "err.rules:1",
	  } },
	{ "err_bad_set_element", "set s 10.0.0.0/8 10.1.2.3/8\n", NULL, NULL,
	  { "err.rules:1: ", "'10.1.2.3/8'", "set 's'" } },
	{ "err_set_name", "set 1bad 10.0.0.0/8\n", NULL, NULL, { "err.rules:1: ", "'1bad'" } },
	{ "err_set_ref_name", "drop src @1bad\n", NULL, NULL, { "err.rules:1: ", "'@1bad'" } },
	{ "err_unknown_match", "drop proto tcp from 10.0.0.0/8\n", NULL, NULL, { "err.rules:1: ", "'from'" } },
	{ "err_match_twice", "drop src 10.0.0.0/8 proto tcp src 10.1.0.0/16\n", NULL, NULL,
	  { "err.rules:1: ", "'src' given twice" } },
	{ "err_port_list_too_long", "drop dport {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}\n", NULL, NULL,
	  { "err.rules:1: ", "'dport'", "at most 16" } },
	{ "err_port_list_bad", "drop dport {22,x}\n", NULL, NULL, { "err.rules:1: ", "'x'" } },
	{ "err_duplicate_ordered", "set s 10.0.0.0/8\ndrop src @s dport 22\npass dport 22 src @s\n", NULL, NULL,
	  { "err.rules:3: ", "conflicting", "err.rules:2" } },
	{ "err_family_inline",
	  "drop src 10.0.0.0/8 dst 2001:db8::/32\n", NULL, NULL,
	  { "err.rules:1: ", "can never match",
	    /* neither prefix is named */
	    "10.0.0.0/8",
	  } },
	{ "warn_shadowed_by_set", "set s 10.0.0.0/8\ndrop src @s\ndrop src @s proto tcp dport 22\n", NULL,
	  "err.rules:3: rule 'drop proto tcp src @s dport 22' can never match: the earlier rule 'drop src @s'", { NULL } },
	/* the prefix table, placed first, decides every packet from 10/8: the
	 * ordered rule after it can never match, and no warning says so */
	{ "warn_shadowed_by_table", "drop src 10.0.0.0/8\ndrop src 10.1.0.0/16 proto tcp dport 22\n", NULL,
	  "err.rules:2: rule 'drop proto tcp src 10.1.0.0/16 dport 22' can never match", { NULL } },
	{ "warn_shadowed_by_wider", "pass proto tcp src 10.0.0.0/8 dport {20-30}\n"
	  "drop src 10.1.0.0/16 proto tcp dport 22\n", NULL,
	  "err.rules:2: rule 'drop proto tcp src 10.1.0.0/16 dport 22' can never match", { NULL } },
};

static void test_err(void **state)
{
	const struct ecase *c = *state;
	struct pw_ruleset rs;
	char path[128], want[256];
	int ret, bad = 0;

	if (c->setfile && c->file)
		write_file("set.txt", c->setfile);
	if (c->file) {
		write_file("err.rules", c->file);
	} else {
		char *text = calloc(129, 64);
		bool sets = c->setfile != NULL;	/* "65 sets", else 129 ordered rules */

		assert_non_null(text);
		for (int i = 0; i < (sets ? 65 : 129); i++)
			if (sets)
				snprintf(text + strlen(text), 64, "set s%d 10.%d.0.0/16\n", i, i);
			else
				snprintf(text + strlen(text), 64, "drop proto tcp src 10.0.%d.0/24 dport 22\n", i);
		write_file("err.rules", text);
		free(text);
	}
	snprintf(path, sizeof(path), "%s/err.rules", g_tmpdir);
	g_ctx.err[0] = '\0';
	memset(&rs, 0xa5, sizeof(rs));
	ret = pw_ruleset_parse_file(&g_ctx, path, &rs);
	if (c->warning) {
		if (ret) {
			print_error("[%s] refused: %s\n", c->name, g_ctx.err);
			fail();
		}
		if (!rs.warnings || !strstr(rs.warnings, c->warning)) {
			print_error("[%s] warnings '%s' lack '%s'\n", c->name, rs.warnings ?: "", c->warning);
			bad++;
		}
		pw_ruleset_free(&rs);
		if (bad)
			fail();
		return;
	}
	if (!ret) {
		print_error("[%s] accepted (%d rules), expected an error\n", c->name, rs.n);
		pw_ruleset_free(&rs);
		fail();
	}
	if (ret > 0 || rs.n || rs.r || rs.n_sets || rs.sets) {
		print_error("[%s] returned %d with %d rules, %d sets left\n", c->name, ret, rs.n, rs.n_sets);
		bad++;
	}
	if (strchr(g_ctx.err, '\n')) {
		print_error("[%s] message of more than one line: '%s'\n", c->name, g_ctx.err);
		bad++;
	}
	for (int i = 0; i < 4 && c->msg[i]; i++) {
		/* FILE:LINE with the path as it was given */
		if (c->msg[i][0] == '%')
			snprintf(want, sizeof(want), "%s%s", g_tmpdir, c->msg[i] + 1);
		else if (!strncmp(c->msg[i], "err.rules:", 10))
			snprintf(want, sizeof(want), "%s/%s", g_tmpdir, c->msg[i]);
		else
			snprintf(want, sizeof(want), "%s", c->msg[i]);
		if (!strstr(g_ctx.err, want)) {
			print_error("[%s] message '%s' lacks '%s'\n", c->name, g_ctx.err, want);
			bad++;
		}
	}
	if (bad)
		fail();
}

/* ---- fixtures and main ------------------------------------------------------------ */

static int group_setup(void **state)
{
	struct bpf_map *m;

	(void)state;
	g_skel = pinwall__open();
	if (!g_skel) {
		print_error("pinwall__open failed (errno %d)\n", errno);
		return -1;
	}
	/* private maps: nothing pinned by name on the host's bpffs */
	bpf_object__for_each_map(m, g_skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(g_skel)) {
		print_error("load of the pinwall skeleton failed (errno %d); root?\n", errno);
		pinwall__destroy(g_skel);
		g_skel = NULL;
		return -1;
	}
	g_prog_fd = bpf_program__fd(g_skel->progs.pinwall_xdp);
	g_stats_fd = bpf_map__fd(g_skel->maps.pw_rule_stats);
	skel_rule_maps(g_skel, &g_maps);
	rs_init(&g_cur);
	return 0;
}

static void tmpdir_remove(void)
{
	char cmd[128];

	if (!g_tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", g_tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove '%s'\n", g_tmpdir);
}

static int parse_seed(void)
{
	const char *env = getenv("PW_SEED");

	g_seed = DEFAULT_SEED;
	if (env && *env) {
		char *end;

		errno = 0;
		g_seed = strtoull(env, &end, 0);
		if (errno || *end) {
			fprintf(stderr, "PW_SEED '%s': not a number\n", env);
			return -1;
		}
	}
	printf("test_ordered: seed 0x%llx (%s; set PW_SEED to replay)\n", (unsigned long long)g_seed,
	       env && *env ? "from PW_SEED" : "default");
	fflush(stdout);
	return 0;
}

#define ADD_TABLE(arr, fn) \
	for (size_t i = 0; i < sizeof(arr) / sizeof(arr[0]); i++) \
		tests[t++] = (struct CMUnitTest){ .name = arr[i].name, .test_func = fn, \
						  .initial_state = (void *)&arr[i] }

/* Every subtest, in the order they run; returns their number. */
static size_t add_tests(struct CMUnitTest *tests)
{
	size_t t = 0;

	for (size_t i = 0; i < DIFF_ROUNDS; i++) {
		diff_rounds[i].round = (int)i;
		snprintf(diff_rounds[i].name, sizeof(diff_rounds[i].name),
			 "differential_ordered_round_%02zu", i);
		tests[t++] = (struct CMUnitTest){ .name = diff_rounds[i].name,
						  .test_func = test_differential,
						  .initial_state = &diff_rounds[i] };
	}
	for (size_t i = 0; i < OLD_ROUNDS; i++) {
		old_rounds[i].round = (int)i;
		snprintf(old_rounds[i].name, sizeof(old_rounds[i].name), "old_grammar_agrees_%02zu", i);
		tests[t++] = (struct CMUnitTest){ .name = old_rounds[i].name,
						  .test_func = test_old_grammar,
						  .initial_state = &old_rounds[i] };
	}
	ADD_TABLE(err_cases, test_err);
	tests[t++] = (struct CMUnitTest){ .name = "ordered_max_replaced_whole",
					  .test_func = test_ordered_max_replaced };
#ifdef PW_KNOWN_BUG_SET_CAPACITY
	tests[t++] = (struct CMUnitTest){ .name = "set_of_270000_changes", .test_func = test_set_capacity };
#endif
	tests[t++] = (struct CMUnitTest){ .name = "big_set_applies_reads_back_changes",
					  .test_func = test_big_set };
	tests[t++] = (struct CMUnitTest){ .name = "set_element_hits", .test_func = test_elem_hits };
	tests[t++] = (struct CMUnitTest){ .name = "nodes_full_refused_nothing_changed",
					  .test_func = test_nodes_full_refused };
	tests[t++] = (struct CMUnitTest){ .name = "set_change_atomic_under_traffic",
					  .test_func = test_set_change_race };
	tests[t++] = (struct CMUnitTest){ .name = "order_change_atomic_under_traffic",
					  .test_func = test_order_change_race };
	for (size_t i = 0; i < sizeof(fixed_cases) / sizeof(fixed_cases[0]); i++)
		if (strncmp(fixed_cases[i].name, "fixed_stale_", 12) || !strcmp(fixed_cases[i].name, "fixed_stale_1"))
			tests[t++] = (struct CMUnitTest){ .name = fixed_cases[i].name, .test_func = test_fixed,
							  .initial_state = (void *)&fixed_cases[i] };
	return t;
}

int main(int argc, char **argv)
{
	const char *root;
	struct CMUnitTest *tests = calloc(512, sizeof(*tests));
	struct timespec t0, t1;
	size_t t = 0;
	int failed;

	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0 || !tests) {
		fprintf(stderr, "libbpf_num_possible_cpus: %d\n", ncpus);
		return 1;
	}
	g_keys = calloc(SNAP_MAX, sizeof(*g_keys));
	g_percpu = calloc((size_t)SNAP_MAX * ncpus, sizeof(*g_percpu));
	if (!g_keys || !g_percpu || parse_seed())
		return 1;
	/* a private pin root: apply keeps its intent record there while it runs */
	root = scratch_root_make("pwt");
	if (!root)
		return 1;
	snprintf(g_tmpdir, sizeof(g_tmpdir), "/tmp/pwt%d.files.XXXXXX", (int)getpid());
	if (!mkdtemp(g_tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		g_tmpdir[0] = '\0';
		return 1;
	}
	atexit(tmpdir_remove);
	if (pw_ctx_init(&g_ctx, root)) {
		fprintf(stderr, "pw_ctx_init: %s\n", g_ctx.err);
		return 1;
	}
	pw_log_setup(&g_ctx);
	libbpf_set_print(libbpf_print);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);

	t = add_tests(tests);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	failed = _cmocka_run_group_tests("pinwall_ordered", tests, t, group_setup, group_teardown);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("test_ordered: %llu packet cases (+%llu runs in the set change race), %llu applies (%.1f s), %.1f s, seed 0x%llx\n",
	       g_pkts, g_race_runs, g_applies, g_apply_ms / 1e3,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, (unsigned long long)g_seed);
	free(tests);
	free(g_keys);
	free(g_percpu);
	return failed ? 1 : 0;
}
