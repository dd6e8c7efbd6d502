// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench/cost: per-packet cost of pinwall's XDP program, measured with
 * BPF_PROG_TEST_RUN, against a bare XDP_DROP program and xdp-filter.
 *
 * Every contestant runs the same frames: IPv4/IPv6 x TCP/UDP, each as
 *   hit        source = a /32 (/128) drop rule, the longest prefix length
 *   miss       no rule matches; source and destination lie in chunks (top
 *              16 address bits) holding the median number of prefix lengths
 *              > /16 among the chunks a non-matching address can be in
 *   miss-worst no rule matches; the chunks with the most such lengths, an
 *              address whose third byte a longer prefix shares (all probed)
 *   worst      the constructed worst frame: a nested chain of every prefix
 *              length around the address, matched by none (struct chain)
 * Each (contestant, frame) is run with --repeat runs per call, --rounds
 * times (rounds interleaved over all contestants); the kernel's reported
 * duration (ns per run, an integer) is kept, and the minimum is reported.
 *
 * Contestants:
 *   bare               bench/cost_bare.bpf.c: return XDP_DROP
 *   pinwall@10         the built-in program, 10 rules
 *   pinwall@10k        10,000 rules (a subset of the large set)
 *   pinwall@100k+100k  100k IPv4 + 100k IPv6 prefixes + 6 port/proto rules
 *   pinwall@64ord+sets the same prefixes as four named blocklists, small
 *                      sets, 64 ordered rules using them and the 6 port/proto
 *                      rules as the prefix table (gen_ordered below)
 *   xdp-filter/ip      xdpfilt_alw_ip.o, the same number of host addresses
 *   xdp-filter/all     xdpfilt_alw_all.o, hosts + the port rules
 * All pinwall maps are private (pin paths cleared before load); nothing is
 * pinned or attached.
 *
 * --emit-rules FILE writes the large rule set as a rule file (and with
 * --change PCT, the same set with PCT% of its rules replaced) for
 * bench/controlplane.sh; with --ordered, the ordered set instead (its
 * blocklists in set files FILE.NAME.set). It needs no privileges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pinwall/abi.h"
#include "pinwall/pinwall.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"
#include "cost_bare.skel.h"
#include "pktbuild.h"
#include "scratchroot.h"
#include "skelrules.h"

#define N_PORTRULES 6
static const char *const port_rules[N_PORTRULES] = {
	"drop proto tcp dport 23",
	"drop proto udp dport 1900",
	"drop dport 135-139",
	"drop sport 19",
	"drop proto gre",
	"drop proto sctp",
};
/* The frames' ports: no port rule above matches them. */
#define F_SPORT 40000
#define F_DPORT 443

/* xdp-filter's map value bits, read off its object (see the report). */
#define XF_SRC 1
#define XF_DST 2
#define XF_TCP 4
#define XF_UDP 8

static struct {
	int repeat, rounds, cpu;
	unsigned long long seed;
	int n4, n6;
	const char *json, *xf_dir, *emit;
	double change_pct;
	bool ordered;
} opt = {
	.repeat = 1000000, .rounds = 5, .cpu = -1, .seed = 1, .n4 = 100000, .n6 = 100000,
};

/* ---- random numbers: splitmix64, seeded ---- */

static __u64 rng;

static __u64 rnd(void)
{
	__u64 z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static __u32 rnd_below(__u32 n)
{
	return (__u32)(rnd() % n);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "cost: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		die("out of memory");
	return p;
}

/* ---- addresses (network byte order words; IPv4 in [0]) ---- */

static void mask(__u32 *a, int fam, int len)
{
	for (int w = 0; w < (fam == 4 ? 1 : 4); w++) {
		int bits = len - 32 * w;

		if (bits < 32)
			a[w] = bits <= 0 ? 0 : htonl(ntohl(a[w]) & ~(0xffffffffu >> bits));
	}
	if (fam == 4)
		a[1] = a[2] = a[3] = 0;
}

static __u32 chunk_of(const __u32 *a)
{
	return ntohl(a[0]) >> 16;
}

/* Random address in the space the rules are drawn from: IPv4 1.0.0.0 to
 * 223.255.255.255, IPv6 2000::/3. */
static void rnd_addr(int fam, __u32 *a)
{
	if (fam == 4) {
		__u32 v = (__u32)rnd();

		v = (v & 0x00ffffffu) | ((1 + rnd_below(223)) << 24);
		a[0] = htonl(v);
		a[1] = a[2] = a[3] = 0;
	} else {
		for (int w = 0; w < 4; w++)
			a[w] = htonl((__u32)rnd());
		a[0] = htonl((ntohl(a[0]) & 0x1fffffffu) | 0x20000000u);
	}
}

static bool in_space(int fam, __u32 chunk)
{
	return fam == 4 ? (chunk >> 8) >= 1 && (chunk >> 8) <= 223 : (chunk >> 13) == 1;
}

static const char *addr_str(int fam, const __u32 *a, char *buf)
{
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return buf;
}

/* ---- a hash set of (family, kind, length, address) ---- */

struct hkey {
	__u8 fam, kind, len, pad;
	__u32 a[4];
};

struct hset {
	struct hkey *k;
	__u32 *val;
	bool *used;
	size_t cap, n;
};

static __u64 hk_hash(const struct hkey *k)
{
	const unsigned char *p = (const unsigned char *)k;
	__u64 h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static void hs_init(struct hset *s, size_t n)
{
	s->cap = 1;
	while (s->cap < n * 2 + 16)
		s->cap <<= 1;
	s->k = xcalloc(s->cap, sizeof(*s->k));
	s->val = xcalloc(s->cap, sizeof(*s->val));
	s->used = xcalloc(s->cap, sizeof(*s->used));
	s->n = 0;
}

static void hs_free(struct hset *s)
{
	free(s->k);
	free(s->val);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* Slot of @k: found (*found) or where it would go. */
static size_t hs_slot(const struct hset *s, const struct hkey *k, bool *found)
{
	size_t i = hk_hash(k) & (s->cap - 1);

	for (; s->used[i]; i = (i + 1) & (s->cap - 1)) {
		if (!memcmp(&s->k[i], k, sizeof(*k))) {
			*found = true;
			return i;
		}
	}
	*found = false;
	return i;
}

/* 1: added, 0: was there. */
static int hs_add(struct hset *s, const struct hkey *k, __u32 val)
{
	bool found;
	size_t i = hs_slot(s, k, &found);

	if (found)
		return 0;
	if (s->n + 1 > s->cap / 2)
		die("hash set full");
	s->used[i] = true;
	s->k[i] = *k;
	s->val[i] = val;
	s->n++;
	return 1;
}

static bool hs_has(const struct hset *s, const struct hkey *k)
{
	bool found;

	hs_slot(s, k, &found);
	return found;
}

static struct hkey key_of(int fam, int kind, int len, const __u32 *a)
{
	struct hkey k = { .fam = (__u8)fam, .kind = (__u8)kind, .len = (__u8)len };

	memcpy(k.a, a, sizeof(k.a));
	mask(k.a, fam, len);
	return k;
}

/* ---- rule sets ---- */

struct rset {
	const char *name;
	struct pw_ruleset rs;
	struct hset hs;			/* address rules, for coverage and probes */
	/* per family (0: v4, 1: v6), dir (0: src, 1: dst), chunk: what the
	 * program's top table holds: lengths > 16 present, third bytes a
	 * longer prefix covers, covered by <= 16 */
	struct ctab { __u64 bits[2], b3[4]; __u8 covered; } *tab[2][2];
	int n4, n6, nother;
	bool ordered;			/* ordered rules: every field is looked up */
};

static void rset_push(struct rset *s, const struct pw_rule *r)
{
	if (s->rs.n == s->rs.cap) {
		s->rs.cap = s->rs.cap ? s->rs.cap * 2 : 1024;
		s->rs.r = realloc(s->rs.r, s->rs.cap * sizeof(*s->rs.r));
		s->rs.ids = realloc(s->rs.ids, s->rs.cap * sizeof(*s->rs.ids));
		if (!s->rs.r || !s->rs.ids)
			die("out of memory");
	}
	s->rs.ids[s->rs.n] = 0;
	s->rs.r[s->rs.n++] = *r;
	if (r->kind == PW_RK_SRC || r->kind == PW_RK_DST)
		(*(r->family == 4 ? &s->n4 : &s->n6))++;
	else
		s->nother++;
}

/* One prefix a lookup of direction @kind sees (a rule's or a set's). */
static void index_prefix(struct rset *s, int fam, int kind, int len, const __u32 *addr, __u32 val)
{
	struct hkey k = key_of(fam, kind, len, addr);
	struct ctab *t = s->tab[fam == 6][kind == PW_RK_DST];
	__u32 c = chunk_of(k.a), b3 = (ntohl(k.a[0]) >> 8) & 0xff, span;

	hs_add(&s->hs, &k, val);
	if (len <= 16) {
		for (__u32 x = c; x < c + (1u << (16 - len)); x++)
			t[x].covered = 1;
		return;
	}
	t[c].bits[(len - 17) / 64] |= 1ull << ((len - 17) % 64);
	span = len >= 24 ? 1 : 1u << (24 - len);
	for (__u32 b = b3 & ~(span - 1); b < (b3 & ~(span - 1)) + span; b++)
		t[c].b3[b >> 6] |= 1ull << (b & 63);
}

static void index_match(struct rset *s, const struct pw_addr_match *m, int kind, __u32 val)
{
	const struct pw_set *set;

	if (m->family == 4 || m->family == 6)
		index_prefix(s, (int)m->family, kind, (int)m->len, m->addr, val);
	else if (m->family == PW_ADDR_SET && (set = pw_ruleset_find_set(&s->rs, m->set)))
		for (int e = 0; e < set->n; e++)
			index_prefix(s, (int)set->e[e].family, kind, (int)set->e[e].len, set->e[e].addr, val);
}

static void rset_index(struct rset *s)
{
	size_t n = (size_t)s->rs.n;

	for (int i = 0; i < s->rs.n_sets; i++)
		n += 2 * (size_t)s->rs.sets[i].n;	/* a set may be used both ways */
	hs_init(&s->hs, n);
	for (int f = 0; f < 2; f++)
		for (int d = 0; d < 2; d++)
			s->tab[f][d] = xcalloc(PW_CHUNKS, sizeof(struct ctab));
	for (int i = 0; i < s->rs.n; i++) {
		const struct pw_rule *r = &s->rs.r[i];

		if (r->kind == PW_RK_ORDERED) {
			index_match(s, &s->rs.ord[i].src, PW_RK_SRC, (__u32)i);
			index_match(s, &s->rs.ord[i].dst, PW_RK_DST, (__u32)i);
		}
		if (r->kind == PW_RK_SRC || r->kind == PW_RK_DST)
			index_prefix(s, (int)r->family, (int)r->kind, (int)r->len, r->addr, (__u32)i);
	}
}

static void rset_free(struct rset *s)
{
	pw_ruleset_free(&s->rs);
	hs_free(&s->hs);
	for (int f = 0; f < 2; f++)
		for (int d = 0; d < 2; d++)
			free(s->tab[f][d]);
}

/* Is @a inside an address rule of (fam, kind)? */
static bool covered(const struct rset *s, int fam, int kind, const __u32 *a)
{
	for (int len = 0; len <= (fam == 4 ? 32 : 128); len++) {
		struct hkey k = key_of(fam, kind, len, a);

		if (hs_has(&s->hs, &k))
			return true;
	}
	return false;
}

/*
 * The hash probes pinwall's program makes for one address (one direction),
 * by the same walk as bpf/rules.h: the lengths present in the chunk,
 * longest first, up to the first hit. *hit: a rule matched.
 */
static int probes(const struct rset *s, int fam, int kind, const __u32 *a, bool *hit)
{
	const struct ctab *t = &s->tab[fam == 6][kind == PW_RK_DST][chunk_of(a)];
	__u32 b3 = (ntohl(a[0]) >> 8) & 0xff;
	int n = 0;

	*hit = false;
	/* the third-byte map: no longer prefix covers this address */
	if (!(t->b3[b3 >> 6] >> (b3 & 63) & 1)) {
		*hit = t->covered;
		return 0;
	}
	for (int w = 1; w >= 0; w--) {
		for (int b = 63; b >= 0; b--) {
			struct hkey k;

			if (!(t->bits[w] >> b & 1))
				continue;
			n++;
			k = key_of(fam, kind, 17 + w * 64 + b, a);
			if (hs_has(&s->hs, &k)) {
				*hit = true;
				return n;
			}
		}
	}
	*hit = t->covered;
	return n;
}

/* ---- the large set ---- */

static void len_counts(int fam, int n, int *cnt)
{
	int rest = n;

	memset(cnt, 0, 129 * sizeof(*cnt));
	if (fam == 4) {
		/* /8../16: 2^(L-5) each (8 /8s .. 2048 /16s at 100k): together
		 * they cover about a seventh of the space per direction, so
		 * non-matching addresses exist; /17../32: the rest, evenly */
		for (int l = 8; l <= 16; l++) {
			cnt[l] = (int)((double)(1 << (l - 5)) * n / 100000.0 + 0.5);
			rest -= cnt[l];
		}
		for (int l = 17; l <= 32; l++)
			cnt[l] = rest / 16 + (l - 17 < rest % 16);
	} else {
		/* /16../128 evenly */
		for (int l = 16; l <= 128; l++)
			cnt[l] = n / 113 + (l - 16 < n % 113);
	}
}

/* A new random prefix of (fam, len) not in @seen (nor in @avoid). */
static void gen_prefix(int fam, int len, struct hset *seen, const struct hset *avoid,
		       struct pw_rule *r)
{
	for (int tries = 0;; tries++) {
		struct hkey k;

		if (tries > 1000000)
			die("cannot draw a new /%d prefix: the space is full", len);
		memset(r, 0, sizeof(*r));
		r->action = XDP_DROP;
		r->kind = (rnd() & 1) ? PW_RK_DST : PW_RK_SRC;
		r->family = (__u32)fam;
		r->len = (__u32)len;
		rnd_addr(fam, r->addr);
		mask(r->addr, fam, len);
		k = key_of(fam, (int)r->kind, len, r->addr);
		if (avoid && hs_has(avoid, &k))
			continue;
		if (hs_add(seen, &k, 0))
			return;
	}
}

static void add_port_rules(struct rset *s, int n)
{
	char err[256];

	for (int i = 0; i < n; i++) {
		struct pw_rule r;

		if (pw_rule_parse(port_rules[i], &r, err, sizeof(err)))
			die("port rule '%s': %s", port_rules[i], err);
		rset_push(s, &r);
	}
}

/* The large set: n4 + n6 address rules, then the port/proto rules. */
static void gen_large(struct rset *s)
{
	int cnt[129];
	struct hset seen;

	memset(s, 0, sizeof(*s));
	s->name = "pinwall@100k+100k";
	s->rs.policy = PW_POLICY_ALLOW;
	hs_init(&seen, (size_t)(opt.n4 + opt.n6));
	for (int fam = 4; fam <= 6; fam += 2) {
		len_counts(fam, fam == 4 ? opt.n4 : opt.n6, cnt);
		for (int l = 0; l <= 128; l++) {
			for (int i = 0; i < cnt[l]; i++) {
				struct pw_rule r;

				gen_prefix(fam, l, &seen, NULL, &r);
				rset_push(s, &r);
			}
		}
	}
	add_port_rules(s, N_PORTRULES);
	hs_free(&seen);
}

/* ---- frames ---- */

enum { F_HIT, F_MISS, F_WORST, F_CHAIN, F_KINDS };
static const char *const fkind_name[F_KINDS] = { "hit", "miss", "miss-worst", "worst" };

struct frame {
	char name[32];
	int fam, l4, kind;
	__u16 sport, dport;
	__u32 src[4], dst[4];
	struct pb pb;
	size_t len;
};

/* An address in @chunk no rule of (fam, kind) covers; false if none found. */
/* An address in @chunk no rule of (fam, kind) covers; false if none found.
 * @marked: its third byte one the third-byte map marks (a longer prefix
 * lies there), so the lookup probes every length present in the chunk. */
static bool free_addr_in_chunk(const struct rset *s, int fam, int kind, __u32 chunk, bool marked,
			       __u32 *a)
{
	const struct ctab *t = &s->tab[fam == 6][kind == PW_RK_DST][chunk];
	__u32 bytes[256], nb = 0;

	for (__u32 b = 0; b < 256; b++)
		if (!marked || (t->b3[b >> 6] >> (b & 63) & 1))
			bytes[nb++] = b;
	for (int i = 0; nb && i < 4096; i++) {
		rnd_addr(fam, a);
		if (marked)
			a[0] = htonl((chunk << 16) | (bytes[rnd_below(nb)] << 8) | (ntohl(a[0]) & 0xff));
		else
			a[0] = htonl((chunk << 16) | (ntohl(a[0]) & 0xffff));
		if (!covered(s, fam, kind, a))
			return true;
	}
	return false;
}

/*
 * Chunk choice for the non-matching addresses: among the chunks of the rule
 * space no prefix <= 16 covers (in this direction), the one at the median
 * (which = 0) or the maximum (which = 1) number of lengths > 16 present;
 * for the maximum, an address whose third byte is marked (see above).
 */
static void pick_free_addr(const struct rset *s, int fam, int kind, int which, __u32 *a)
{
	const struct ctab *t = s->tab[fam == 6][kind == PW_RK_DST];
	int *cnt = xcalloc(PW_CHUNKS, sizeof(int)), hist[130] = { 0 }, n = 0, target = 0;
	__u32 *cand = xcalloc(PW_CHUNKS, sizeof(__u32)), nc = 0;

	for (__u32 c = 0; c < PW_CHUNKS; c++) {
		cnt[c] = -1;
		if (!in_space(fam, c) || t[c].covered)
			continue;
		cnt[c] = __builtin_popcountll(t[c].bits[0]) + __builtin_popcountll(t[c].bits[1]);
		hist[cnt[c]]++;
		n++;
	}
	if (!n)
		die("no free chunk: the IPv%d rules cover the whole space", fam);
	if (which == 0) {
		for (int acc = 0; target < 129; target++) {
			acc += hist[target];
			if (acc * 2 >= n)
				break;
		}
	} else {
		for (target = 128; target > 0 && !hist[target]; target--)
			;
	}
	/* from the target count downwards until a free address is found */
	for (; target >= 0; target--) {
		nc = 0;
		for (__u32 c = 0; c < PW_CHUNKS; c++)
			if (cnt[c] == target)
				cand[nc++] = c;
		for (__u32 i = 0; i < nc && i < 64; i++) {
			__u32 j = i + rnd_below(nc - i), tmp = cand[i];

			cand[i] = cand[j];
			cand[j] = tmp;
			if (free_addr_in_chunk(s, fam, kind, cand[i], which == 1, a))
				goto out;
		}
	}
	die("no uncovered IPv%d address found", fam);
out:
	free(cnt);
	free(cand);
}

/* The source of the hit frames: a src rule of the longest length (/32,
 * /128), from the chunk with the most lengths present. */
static int pick_target(const struct rset *s, int fam)
{
	int best = -1, best_n = -1, maxlen = fam == 4 ? 32 : 128;
	const struct ctab *t = s->tab[fam == 6][0];

	for (int i = 0; i < s->rs.n; i++) {
		const struct pw_rule *r = &s->rs.r[i];
		int n;

		if (r->kind != PW_RK_SRC || (int)r->family != fam || (int)r->len != maxlen)
			continue;
		n = __builtin_popcountll(t[chunk_of(r->addr)].bits[0]) +
		    __builtin_popcountll(t[chunk_of(r->addr)].bits[1]);
		if (n > best_n) {
			best = i;
			best_n = n;
		}
	}
	if (best < 0)
		die("no /%d source rule in the set", maxlen);
	return best;
}

static void build_frame(struct frame *f)
{
	struct pb *b = &f->pb;
	size_t ip;

	pb_init(b);
	if (f->fam == 4) {
		pb_eth(b, ETH_P_IP);
		ip = pb_ipv4(b, (uint8_t)f->l4, 5, 0);
		memcpy(b->buf + ip + 12, &f->src[0], 4);
		memcpy(b->buf + ip + 16, &f->dst[0], 4);
	} else {
		pb_eth(b, ETH_P_IPV6);
		ip = pb_ipv6(b, (uint8_t)f->l4);
		memcpy(b->buf + ip + 8, f->src, 16);
		memcpy(b->buf + ip + 24, f->dst, 16);
	}
	if (f->l4 == IPPROTO_TCP)
		pb_tcp(b, f->sport, f->dport, 5);
	else
		pb_udp(b, f->sport, f->dport);
	pb_payload(b, 18);
	f->len = pb_finish(b);
}

#define N_FRAMES (4 * F_KINDS)

/*
 * The constructed worst frame of a family: an address Y no rule of the
 * large set covers, beside a chain of nested prefixes X/25..X/max (X = Y
 * with address bit 24 flipped) and X'/17..X'/24 (X' = X with bit 16
 * flipped). Y's chunk then holds every length 17..max and Y's third byte is
 * marked, so a lookup of Y probes all 16 (IPv4) or 112 (IPv6) lengths and
 * matches none. Only the ordered contestant holds the chain (sets deep4 and
 * deep6, used as source and destination); its ports are values ordered
 * rules match on (TCP 53 -> 443, UDP 123 -> 443), so every field's lookup
 * value is a node.
 */
struct chain {
	__u32 x[4], y[4];
};
static struct chain chain[2];
#define CHAIN_SPORT_TCP 53
#define CHAIN_SPORT_UDP 123
#define CHAIN_DPORT 443

static void flip_bit(__u32 *a, int bit)
{
	a[bit / 32] ^= htonl(1u << (31 - bit % 32));
}

static void pick_chain(const struct rset *big, int fam, struct chain *c)
{
	for (int t = 0; t < 100000; t++) {
		rnd_addr(fam, c->y);
		if (covered(big, fam, PW_RK_SRC, c->y) || covered(big, fam, PW_RK_DST, c->y))
			continue;
		memcpy(c->x, c->y, sizeof(c->x));
		flip_bit(c->x, 24);
		return;
	}
	die("no uncovered IPv%d address for the chain", fam);
}

/* The chain's prefixes, /17 to the longest; returns how many. */
static int chain_prefixes(const struct chain *c, int fam, struct pw_prefix *out)
{
	int n = 0, max = fam == 4 ? 32 : 128;

	for (int len = 17; len <= max; len++) {
		struct pw_prefix *p = &out[n++];

		memset(p, 0, sizeof(*p));
		p->family = (__u32)fam;
		p->len = (__u32)len;
		memcpy(p->addr, c->x, sizeof(p->addr));
		if (len <= 24)
			flip_bit(p->addr, 16);
		mask(p->addr, fam, len);
	}
	return n;
}

static void make_frames(const struct rset *big, struct frame *fr, int *targets)
{
	__u32 src[2][F_KINDS][4], dst[2][F_KINDS][4];
	__u64 saved;
	int n = 0;

	/* the chains draw from their own stream: the other frames and the
	 * subsets stay what they were before the chains existed */
	saved = rng;
	rng = opt.seed ^ 0xc4a1c4a1ull;
	for (int fi = 0; fi < 2; fi++)
		pick_chain(big, fi ? 6 : 4, &chain[fi]);
	rng = saved;

	for (int fi = 0; fi < 2; fi++) {
		int fam = fi ? 6 : 4;

		targets[fi] = pick_target(big, fam);
		pick_free_addr(big, fam, PW_RK_SRC, 0, src[fi][F_MISS]);
		pick_free_addr(big, fam, PW_RK_DST, 0, dst[fi][F_MISS]);
		pick_free_addr(big, fam, PW_RK_SRC, 1, src[fi][F_WORST]);
		pick_free_addr(big, fam, PW_RK_DST, 1, dst[fi][F_WORST]);
		memcpy(src[fi][F_HIT], big->rs.r[targets[fi]].addr, 16);
		memcpy(dst[fi][F_HIT], dst[fi][F_MISS], 16);
		memcpy(src[fi][F_CHAIN], chain[fi].y, 16);
		memcpy(dst[fi][F_CHAIN], chain[fi].y, 16);
	}
	for (int fi = 0; fi < 2; fi++) {
		for (int l = 0; l < 2; l++) {
			for (int k = 0; k < F_KINDS; k++) {
				struct frame *f = &fr[n++];

				f->fam = fi ? 6 : 4;
				f->l4 = l ? IPPROTO_UDP : IPPROTO_TCP;
				f->kind = k;
				snprintf(f->name, sizeof(f->name), "v%d-%s-%s", f->fam, l ? "udp" : "tcp",
					 fkind_name[k]);
				memcpy(f->src, src[fi][k], 16);
				memcpy(f->dst, dst[fi][k], 16);
				f->sport = F_SPORT;
				f->dport = F_DPORT;
				if (k == F_CHAIN) {
					f->sport = l ? CHAIN_SPORT_UDP : CHAIN_SPORT_TCP;
					f->dport = CHAIN_DPORT;
				}
				build_frame(f);
			}
		}
	}
}

/* ---- subsets: the 10 and 10k sets ---- */

/* @n4 IPv4 and @n6 IPv6 address rules of @big (the targets first, the rest
 * a seeded random choice) plus the first @nports port/proto rules. */
static void subset(const struct rset *big, const char *name, int n4, int n6, int nports,
		   const int *targets, struct rset *s)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->rs.policy = PW_POLICY_ALLOW;
	for (int fi = 0; fi < 2; fi++) {
		int fam = fi ? 6 : 4, want = fi ? n6 : n4, m = 0;
		int *idx = xcalloc((size_t)big->rs.n, sizeof(int));

		for (int i = 0; i < big->rs.n; i++) {
			const struct pw_rule *r = &big->rs.r[i];

			if ((r->kind == PW_RK_SRC || r->kind == PW_RK_DST) && (int)r->family == fam &&
			    i != targets[fi])
				idx[m++] = i;
		}
		rset_push(s, &big->rs.r[targets[fi]]);
		for (int i = 0; i < want - 1 && i < m; i++) {
			int j = i + (int)rnd_below((__u32)(m - i)), t = idx[i];

			idx[i] = idx[j];
			idx[j] = t;
			rset_push(s, &big->rs.r[idx[i]]);
		}
		free(idx);
	}
	add_port_rules(s, nports);
}

/* ---- the ordered set: 64 ordered rules over named sets ---- */

/*
 * The large set's address rules become four blocklists (bad4src, bad4dst,
 * bad6src, bad6dst: the same prefixes, the same hit addresses), beside
 * small sets of services and networks and the two chains (deep4, deep6).
 * The 64 ordered rules below use them in the order a host firewall would;
 * the single-match port/proto rules of the large set form the prefix table,
 * placed after the first ORD_TABLE_AT ordered rules.
 */
#define ORD_TABLE_AT 5
static const char *const ord_rules[] = {
	"pass proto tcp src @mgmt4 dport 22",
	"pass proto tcp src @mgmt6 dport 22",
	"pass proto tcp src @vpn4 dport {22,3389}",
	"pass proto tcp src @vpn6 dport {22,3389}",
	"drop proto tcp dport {22,3389}",
	"pass src @partner4",
	"pass src @partner6",
	"drop src @bad4src",
	"drop src @bad6src",
	"drop dst @bad4dst",
	"drop dst @bad6dst",
	"drop src @deep4",
	"drop src @deep6",
	"drop dst @deep4",
	"drop dst @deep6",
	"pass proto udp src @dns4 sport 53",
	"pass proto udp src @dns6 sport 53",
	"pass proto tcp src @dns4 sport 53",
	"pass proto tcp src @dns6 sport 53",
	"drop proto udp sport 53 dport 1024-65535",
	"pass proto udp dst @dns4 dport 53",
	"pass proto udp dst @dns6 dport 53",
	"pass proto udp src @ntp4 sport 123",
	"pass proto udp src @ntp6 sport 123",
	"drop proto udp dst @web4 dport {53,123}",
	"drop proto udp dst @web6 dport {53,123}",
	"pass proto tcp dst @web4 dport {80,443}",
	"pass proto tcp dst @web6 dport {80,443}",
	"pass proto udp dst @web4 dport 443",
	"pass proto udp dst @web6 dport 443",
	"drop proto tcp dst @web4",
	"drop proto tcp dst @web6",
	"pass proto tcp src @mail4 dport {25,465,587}",
	"pass proto tcp src @mail6 dport {25,465,587}",
	"pass proto tcp dst @mail4 dport {25,465,587,993}",
	"pass proto tcp dst @mail6 dport {25,465,587,993}",
	"drop proto tcp dport {25,465,587}",
	"pass proto udp src @mon4 dport {161,162}",
	"pass proto udp src @mon6 dport {161,162}",
	"drop proto udp dport {161,162}",
	"pass proto tcp src @mon4 dport {9090,9100}",
	"pass proto tcp src @mon6 dport {9090,9100}",
	"drop proto tcp dport {6379,9090,9100,11211}",
	"pass proto tcp src @backup4 dport 873",
	"pass proto tcp src @backup6 dport 873",
	"drop proto tcp dport {111,873,2049}",
	"drop proto udp dport {111,2049,11211}",
	"pass proto udp src @vpn4 dport {500,4500,51820}",
	"pass proto udp src @vpn6 dport {500,4500,51820}",
	"drop proto udp dport {500,4500,51820}",
	"drop proto tcp sport {1-19,69}",
	"drop proto udp sport {1-19,1900}",
	"drop proto udp sport {389,11211}",
	"drop proto udp sport {1900,3702} dst @web6",
	"drop proto udp sport 123 dst @web4",
	"drop proto udp sport 123 dst @web6",
	"pass proto tcp src 10.20.0.0/16 dst @mon4 dport 8080",
	"pass proto tcp src 2001:db8:20::/48 dst @mon6 dport 8080",
	"drop proto tcp dport {8080,8443}",
	"pass proto icmp src @mon4",
	"pass proto icmpv6 src @mon6",
	"pass proto udp src @backup4 dport 873",
	"pass proto udp src @backup6 dport 873",
	"drop proto udp dst @mail4",
};
#define N_ORD_RULES ((int)(sizeof(ord_rules) / sizeof(ord_rules[0])))

/* The small sets: name, family, elements, their prefix lengths (cycled). */
static const struct { const char *name; int fam, n, lens[3]; } small_sets[] = {
	{ "mgmt4", 4, 4, { 24, 28, 32 } },	{ "mgmt6", 6, 4, { 48, 64, 128 } },
	{ "vpn4", 4, 4, { 24, 24, 32 } },	{ "vpn6", 6, 4, { 48, 56, 64 } },
	{ "partner4", 4, 16, { 24, 22, 20 } },	{ "partner6", 6, 16, { 48, 40, 32 } },
	{ "dns4", 4, 4, { 32, 32, 32 } },	{ "dns6", 6, 4, { 128, 128, 128 } },
	{ "ntp4", 4, 3, { 32, 32, 32 } },	{ "ntp6", 6, 3, { 128, 128, 128 } },
	{ "web4", 4, 8, { 24, 28, 32 } },	{ "web6", 6, 8, { 48, 64, 128 } },
	{ "mail4", 4, 4, { 32, 29, 32 } },	{ "mail6", 6, 4, { 128, 64, 128 } },
	{ "mon4", 4, 4, { 32, 28, 32 } },	{ "mon6", 6, 4, { 128, 64, 128 } },
	{ "backup4", 4, 2, { 32, 32, 32 } },	{ "backup6", 6, 2, { 64, 64, 64 } },
};
#define N_SMALL ((int)(sizeof(small_sets) / sizeof(small_sets[0])))

static bool prefix_has(const struct pw_prefix *p, int fam, const __u32 *a)
{
	__u32 m[4];

	if ((int)p->family != fam)
		return false;
	memcpy(m, a, sizeof(m));
	mask(m, fam, (int)p->len);
	return !memcmp(m, p->addr, sizeof(m));
}

/* A random prefix of (fam, len) holding no frame's address. */
static void small_prefix(int fam, int len, const struct frame *fr, struct pw_prefix *p)
{
	for (int t = 0; t < 1000; t++) {
		bool clash = false;

		memset(p, 0, sizeof(*p));
		p->family = (__u32)fam;
		p->len = (__u32)len;
		rnd_addr(fam, p->addr);
		mask(p->addr, fam, len);
		for (int f = 0; fr && f < N_FRAMES && !clash; f++)
			clash = prefix_has(p, fam, fr[f].src) || prefix_has(p, fam, fr[f].dst);
		if (!clash)
			return;
	}
	die("no /%d prefix clear of the frames", len);
}

static struct pw_set *new_set(struct rset *s, const char *name)
{
	struct pw_set *set = pw_ruleset_new_set(&s->rs, name);

	if (!set)
		die("cannot add set %s: %s", name, strerror(errno));
	return set;
}

static void set_add(struct rset *s, struct pw_set *set, const struct pw_prefix *p)
{
	if (pw_set_push(set, p))
		die("out of memory");
	(*(p->family == 4 ? &s->n4 : &s->n6))++;
}

/* The sets (see above); the large set's prefixes by family and direction. */
static void ord_sets(const struct rset *big, const struct frame *fr, struct rset *s)
{
	static const char *const bad[2][2] = { { "bad4src", "bad4dst" }, { "bad6src", "bad6dst" } };
	struct pw_set *b[2][2];
	struct pw_prefix deep[112];
	__u64 saved = rng;

	for (int f = 0; f < 2; f++)
		for (int d = 0; d < 2; d++)
			b[f][d] = new_set(s, bad[f][d]);
	for (int i = 0; i < big->rs.n; i++) {
		const struct pw_rule *r = &big->rs.r[i];
		struct pw_prefix p = { r->family, r->len, { 0 } };

		if (r->kind != PW_RK_SRC && r->kind != PW_RK_DST)
			continue;
		memcpy(p.addr, r->addr, sizeof(p.addr));
		set_add(s, b[r->family == 6][r->kind == PW_RK_DST], &p);
	}
	rng = opt.seed ^ 0x5e75e75eull;
	for (int i = 0; i < N_SMALL; i++) {
		struct pw_set *set = new_set(s, small_sets[i].name);

		for (int e = 0; e < small_sets[i].n; e++) {
			struct pw_prefix p;

			small_prefix(small_sets[i].fam, small_sets[i].lens[e % 3], fr, &p);
			set_add(s, set, &p);
		}
	}
	rng = saved;
	for (int fi = 0; fi < 2; fi++) {
		struct pw_set *set = new_set(s, fi ? "deep6" : "deep4");
		int n = chain_prefixes(&chain[fi], fi ? 6 : 4, deep);

		for (int e = 0; e < n; e++)
			set_add(s, set, &deep[e]);
	}
	for (int i = 0; i < s->rs.n_sets; i++)
		pw_set_normalize(&s->rs.sets[i]);
}

static void gen_ordered(const struct rset *big, const struct frame *fr, struct rset *s)
{
	char err[256];

	memset(s, 0, sizeof(*s));
	s->name = "pinwall@64ord+sets";
	s->ordered = true;
	s->rs.policy = PW_POLICY_ALLOW;
	ord_sets(big, fr, s);
	for (int i = 0; i < N_ORD_RULES; i++) {
		struct pw_rule r;
		struct pw_ord_rule o;

		if (i == ORD_TABLE_AT) {
			for (int k = 0; k < N_PORTRULES; k++) {
				if (pw_rule_parse(port_rules[k], &r, err, sizeof(err)) ||
				    pw_ruleset_push(&s->rs, &r, NULL, 0))
					die("port rule '%s': %s", port_rules[k], err);
				s->nother++;
			}
		}
		if (pw_rule_parse_full(ord_rules[i], &r, &o, err, sizeof(err)))
			die("ordered rule '%s': %s", ord_rules[i], err);
		if (r.kind != PW_RK_ORDERED)
			die("'%s' is not an ordered rule", ord_rules[i]);
		if (pw_ruleset_push(&s->rs, &r, &o, 0))
			die("out of memory");
	}
}

/* ---- emitting rule files (for bench/controlplane.sh) ---- */

/* The ordered set as a rule file: the four blocklists in set files beside
 * it (PATH.NAME.set), the small sets inline, the rules in order. */
static void emit_ordered(FILE *f, const char *path, struct rset *big, int changed, double pct)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct rset ord;
	char line[PW_RULE_TEXT_MAX + 1], p[INET6_ADDRSTRLEN + 8];

	rset_index(big);
	rng = opt.seed ^ 0xc4a1c4a1ull;
	for (int fi = 0; fi < 2; fi++)
		pick_chain(big, fi ? 6 : 4, &chain[fi]);
	gen_ordered(big, NULL, &ord);
	fprintf(f, "# bench/cost --emit-rules --ordered: %d IPv4 + %d IPv6 set elements in %d sets, %d ordered + %d single-match rules, seed %llu",
		ord.n4, ord.n6, ord.rs.n_sets, ord.rs.n - ord.nother, ord.nother, opt.seed);
	if (pct > 0)
		fprintf(f, "; %d blocklist prefixes replaced (%.2f%% of the elements)", changed,
			100.0 * changed / (ord.n4 + ord.n6));
	fputc('\n', f);
	for (int i = 0; i < ord.rs.n_sets; i++) {
		const struct pw_set *set = &ord.rs.sets[i];
		char sp[4096];
		FILE *sf;

		if (set->n <= 16) {
			fprintf(f, "set %s", set->name);
			for (int e = 0; e < set->n; e++) {
				pw_prefix_format(&set->e[e], p, sizeof(p));
				fprintf(f, " %s", p);
			}
			fputc('\n', f);
			continue;
		}
		snprintf(sp, sizeof(sp), "%s.%s.set", path, set->name);
		if (!(sf = fopen(sp, "w")))
			die("%s: %s", sp, strerror(errno));
		fprintf(sf, "# set %s: %d prefixes\n", set->name, set->n);
		for (int e = 0; e < set->n; e++) {
			pw_prefix_format(&set->e[e], p, sizeof(p));
			fprintf(sf, "%s\n", p);
		}
		if (fclose(sf))
			die("%s: %s", sp, strerror(errno));
		fprintf(f, "set %s file %s.%s.set\n", set->name, base, set->name);
	}
	for (int i = 0; i < ord.rs.n; i++) {
		pw_ruleset_format(&ord.rs, i, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	rset_free(&ord);
}

static int emit_rules(const char *path, double pct)
{
	struct rset big;
	FILE *f;
	char line[160];
	int changed = 0;

	rng = opt.seed;
	gen_large(&big);
	if (pct > 0) {
		/* replace k IPv4 and k IPv6 prefixes by new ones: pct% of all rules */
		int k = (int)(pct / 100.0 * big.rs.n / 2 + 0.5);
		struct hset seen, old;

		rng = opt.seed ^ 0x5eedc0ffee;
		hs_init(&old, (size_t)big.rs.n);
		hs_init(&seen, (size_t)big.rs.n);
		for (int i = 0; i < big.rs.n; i++) {
			const struct pw_rule *r = &big.rs.r[i];

			if (r->kind == PW_RK_SRC || r->kind == PW_RK_DST) {
				struct hkey key = key_of((int)r->family, (int)r->kind, (int)r->len, r->addr);

				hs_add(&old, &key, 0);
				hs_add(&seen, &key, 0);
			}
		}
		for (int fam = 4; fam <= 6; fam += 2) {
			int first = fam == 4 ? 0 : big.n4, n = fam == 4 ? big.n4 : big.n6;

			for (int c = 0; c < k && c < n; c++) {
				int i = first + (int)rnd_below((__u32)n);
				struct pw_rule *r = &big.rs.r[i];
				struct pw_rule nr;

				if (r->action == XDP_PASS) {	/* already replaced: draw again */
					c--;
					continue;
				}
				gen_prefix(fam, (int)r->len, &seen, &old, &nr);
				nr.action = XDP_PASS;	/* marks "new" until written */
				*r = nr;
				changed++;
			}
		}
		for (int i = 0; i < big.rs.n; i++)
			big.rs.r[i].action = XDP_DROP;
		hs_free(&seen);
		hs_free(&old);
	}
	if (opt.ordered && !strcmp(path, "-"))
		die("--ordered writes set files beside the rule file: give a path, not '-'");
	f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		die("%s: %s", path, strerror(errno));
	if (opt.ordered) {
		emit_ordered(f, path, &big, changed, pct);
		goto out;
	}
	fprintf(f, "# bench/cost --emit-rules: %d IPv4 + %d IPv6 prefixes, %d port/proto rules, seed %llu",
		big.n4, big.n6, big.nother, opt.seed);
	if (pct > 0)
		fprintf(f, "; %d prefixes replaced (%.2f%%)", changed, 100.0 * changed / big.rs.n);
	fputc('\n', f);
	for (int i = 0; i < big.rs.n; i++) {
		pw_rule_format(&big.rs.r[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
out:
	if (f != stdout && fclose(f))
		die("%s: %s", path, strerror(errno));
	rset_free(&big);
	return 0;
}

/* ---- contestants ---- */

struct contestant {
	const char *name;
	int fd;
	const struct rset *set;		/* pinwall: its rule set (reference, probes) */
	double ns[N_FRAMES];		/* min of the kernel's reported ns/run */
	double wall[N_FRAMES];		/* min of wall-clock ns/run (syscall included) */
	__u32 rounds_ns[N_FRAMES][64];
	__u32 retval[N_FRAMES];
	int probes[N_FRAMES];
	bool ok;
};

static struct pw_ctx ctx;

static struct pinwall *pinwall_private(void)
{
	struct pinwall *s = pinwall__open();
	struct bpf_map *m;

	if (!s)
		die("cannot open the pinwall skeleton: %s", strerror(errno));
	/* private maps: nothing pinned by name on the host's bpffs */
	bpf_object__for_each_map(m, s->obj)
		bpf_map__set_pin_path(m, NULL);
	if (pinwall__load(s))
		die("cannot load the pinwall skeleton (root?): %s", strerror(errno));
	return s;
}

static void pinwall_apply(struct pinwall *s, struct rset *set)
{
	struct pw_rules_maps m;
	struct pw_apply_report rep;

	memset(&m, 0, sizeof(m));
	skel_rule_maps(s, &m);
	if (pw_ruleset_check(&ctx, &set->rs, NULL))
		die("%s: the generated set fails the check: %s", set->name, ctx.err);
	if (pw_rules_apply(&ctx, &m, &set->rs, PW_POLICY_ALLOW, &rep))
		die("%s: apply failed: %s", set->name, ctx.err);
	if (set->ordered)
		printf("  %-18s %6d v4 + %6d v6 set elements in %d sets, %d ordered + %d single-match rules;\n"
		       "  %-18s applied in-process in %.0f ms (switch %.0f ms)\n",
		       set->name, set->n4, set->n6, set->rs.n_sets, set->rs.n - set->nother, set->nother, "",
		       rep.total_ms, rep.switch_ms);
	else
		printf("  %-18s %6d v4 + %6d v6 prefixes + %d port/proto rules; applied in-process in %.0f ms (switch %.0f ms)\n",
		       set->name, set->n4, set->n6, set->nother, rep.total_ms, rep.switch_ms);
	if (set->rs.warnings)
		printf("%s", set->rs.warnings);
}

static const char *find_xf(const char *file, char *buf, size_t len)
{
	static const char *const dirs[] = {
		"/usr/lib/x86_64-linux-gnu/bpf", "/usr/lib/aarch64-linux-gnu/bpf",
		"/usr/lib/bpf", "/usr/local/lib/bpf", "/usr/lib64/bpf",
	};

	if (opt.xf_dir) {
		snprintf(buf, len, "%s/%s", opt.xf_dir, file);
		return access(buf, R_OK) ? NULL : buf;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, len, "%s/%s", dirs[i], file);
		if (!access(buf, R_OK))
			return buf;
	}
	return NULL;
}

/*
 * xdp-filter's object, loaded directly: its maps are per-CPU hashes keyed by
 * the address (__u32 / struct in6_addr, network order) with a __u64 value
 * whose low bits say src/dst (and tcp/udp for ports); the program adds 64
 * per hit (a counter above the flag bits). The object pins by name and
 * sizes the address maps at 10,000: pins are cleared, sizes raised.
 */
struct xf_hosts {
	int n4, n6, merged;
	__u32 *k4;
	__u32 (*k6)[4];
	__u64 *f4, *f6;
};

static struct bpf_object *xf_load(const char *path, const struct xf_hosts *h, bool ports,
				  int *prog_fd)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int ncpu = libbpf_num_possible_cpus();
	struct bpf_program *p;
	struct bpf_map *m;
	__u32 cap4 = 1, cap6 = 1;

	if (!obj)
		die("%s: cannot open: %s", path, strerror(errno));
	while (cap4 < (__u32)h->n4 + 16)
		cap4 <<= 1;
	while (cap6 < (__u32)h->n6 + 16)
		cap6 <<= 1;
	bpf_object__for_each_map(m, obj) {
		bpf_map__set_pin_path(m, NULL);
		if (!strcmp(bpf_map__name(m), "filter_ipv4"))
			bpf_map__set_max_entries(m, cap4 > 10000 ? cap4 : 10000);
		if (!strcmp(bpf_map__name(m), "filter_ipv6"))
			bpf_map__set_max_entries(m, cap6 > 10000 ? cap6 : 10000);
	}
	if (bpf_object__load(obj))
		die("%s: cannot load: %s", path, strerror(errno));
	p = bpf_object__next_program(obj, NULL);
	*prog_fd = bpf_program__fd(p);
	for (int fi = 0; fi < 2; fi++) {
		int n = fi ? h->n6 : h->n4;
		struct bpf_map *map = bpf_object__find_map_by_name(obj, fi ? "filter_ipv6" : "filter_ipv4");
		__u64 *vals = xcalloc((size_t)n * ncpu, sizeof(__u64));
		__u32 count = (__u32)n;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		if (!map)
			die("%s: no %s map", path, fi ? "filter_ipv6" : "filter_ipv4");
		for (int i = 0; i < n; i++)
			for (int c = 0; c < ncpu; c++)
				vals[(size_t)i * ncpu + c] = fi ? h->f6[i] : h->f4[i];
		if (bpf_map_update_batch(bpf_map__fd(map), fi ? (void *)h->k6 : (void *)h->k4, vals,
					 &count, &bo))
			die("%s: filling %s: %s", path, bpf_map__name(map), strerror(errno));
		free(vals);
	}
	if (ports) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, "filter_ports");
		__u64 *v = xcalloc(ncpu, sizeof(__u64));
		static const struct { __u32 lo, hi; __u64 f; } pr[] = {
			/* the port rules of port_rules[] (proto rules have no equivalent) */
			{ 23, 23, XF_DST | XF_TCP }, { 1900, 1900, XF_DST | XF_UDP },
			{ 135, 139, XF_DST | XF_TCP | XF_UDP }, { 19, 19, XF_SRC | XF_TCP | XF_UDP },
		};

		if (!map)
			die("%s: no filter_ports map", path);
		for (size_t i = 0; i < sizeof(pr) / sizeof(pr[0]); i++) {
			for (__u32 port = pr[i].lo; port <= pr[i].hi; port++) {
				for (int c = 0; c < ncpu; c++)
					v[c] = pr[i].f;
				if (bpf_map_update_elem(bpf_map__fd(map), &port, v, BPF_ANY))
					die("%s: filling filter_ports: %s", path, strerror(errno));
			}
		}
		free(v);
	}
	return obj;
}

/* One host address inside every address rule of @big (a /32 or /128 is
 * its own host), flags by direction; hosts are distinct. */
static void xf_hosts_make(const struct rset *big, struct xf_hosts *h)
{
	struct hset seen;

	memset(h, 0, sizeof(*h));
	h->k4 = xcalloc((size_t)big->n4, sizeof(*h->k4));
	h->f4 = xcalloc((size_t)big->n4, sizeof(*h->f4));
	h->k6 = xcalloc((size_t)big->n6, sizeof(*h->k6));
	h->f6 = xcalloc((size_t)big->n6, sizeof(*h->f6));
	hs_init(&seen, (size_t)(big->n4 + big->n6));
	/* full-length rules first: their host is fixed; the rest draw around them */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < big->rs.n; i++) {
			const struct pw_rule *r = &big->rs.r[i];
			int fam = (int)r->family, maxlen = fam == 4 ? 32 : 128;
			__u64 flag = r->kind == PW_RK_SRC ? XF_SRC : XF_DST;
			__u32 a[4];
			struct hkey k;
			bool found;
			size_t slot;

			if ((r->kind != PW_RK_SRC && r->kind != PW_RK_DST) ||
			    ((int)r->len == maxlen) != (pass == 0))
				continue;
			for (int tries = 0;; tries++) {
				if (tries > 1000)
					die("cannot place a host inside a /%u", r->len);
				rnd_addr(fam, a);
				/* the prefix's bits, random host bits */
				for (int w = 0; w < (fam == 4 ? 1 : 4); w++) {
					int bits = (int)r->len - 32 * w;
					__u32 m = bits >= 32 ? 0xffffffffu : bits <= 0 ? 0 : ~(0xffffffffu >> bits);

					a[w] = htonl((ntohl(r->addr[w]) & m) | (ntohl(a[w]) & ~m));
				}
				k = key_of(fam, 0, maxlen, a);
				slot = hs_slot(&seen, &k, &found);
				if (!found)
					break;
				if ((int)r->len == maxlen) {
					/* the same host as src and dst: one entry, both flags */
					if (fam == 4)
						h->f4[seen.val[slot]] |= flag;
					else
						h->f6[seen.val[slot]] |= flag;
					h->merged++;
					goto next;
				}
			}
			if (fam == 4) {
				hs_add(&seen, &k, (__u32)h->n4);
				h->k4[h->n4] = a[0];
				h->f4[h->n4++] = flag;
			} else {
				hs_add(&seen, &k, (__u32)h->n6);
				memcpy(h->k6[h->n6], a, 16);
				h->f6[h->n6++] = flag;
			}
next:;
		}
	}
	hs_free(&seen);
}

/* ---- running ---- */

static int run(int fd, struct frame *f, int repeat, __u32 *retval, __u32 *dur, double *wall_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->pb.buf, .data_size_in = (__u32)f->len,
		    .repeat = repeat);
	struct timespec a, b;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &a);
	err = bpf_prog_test_run_opts(fd, &o);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (err)
		return -errno;
	*retval = o.retval;
	*dur = o.duration;
	*wall_ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / repeat;
	return 0;
}

static const char *verdict_name(__u32 v)
{
	static const char *const n[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return v < 5 ? n[v] : "?";
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* --prog-info ID: what the verifier and the JIT made of a loaded program,
 * as one JSON line (bpftool 7.1 does not show verified_insns). */
static int prog_info(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		die("program id %u: %s", id, strerror(errno));
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("program id %u: no info: %s", id, strerror(errno));
	printf("{\"id\":%u,\"name\":\"%s\",\"verified_insns\":%u,\"xlated_bytes\":%u,\"jited_bytes\":%u,\"map_count\":%u}\n",
	       id, info.name, info.verified_insns, info.xlated_prog_len, info.jited_prog_len, info.nr_map_ids);
	close(fd);
	return 0;
}

/* The scratch root goes with the run (umount2 and rmdir are safe here). */
static void on_signal(int sig)
{
	scratch_root_remove();
	_exit(128 + sig);
}

static int find_contestant(const struct contestant *cs, int nc, const char *name)
{
	for (int i = 0; i < nc; i++)
		if (!strcmp(cs[i].name, name))
			return i;
	return -1;
}

/* The frame of kind @kind with @f's family and transport. */
static int frame_like(const struct frame *fr, int f, int kind)
{
	for (int g = 0; g < N_FRAMES; g++)
		if (fr[g].fam == fr[f].fam && fr[g].l4 == fr[f].l4 && fr[g].kind == kind)
			return g;
	return f;
}

/*
 * The ordered contestant against its targets: hits and misses <= 1.0x
 * xdp-filter/ip and <= 1.3x pinwall@10; the constructed worst frame <=
 * 1.5x the typical one (the miss of the same family and transport).
 */
static void ord_report(const struct contestant *cs, int nc, const struct frame *fr)
{
	int io = find_contestant(cs, nc, "pinwall@64ord+sets"), i10 = find_contestant(cs, nc, "pinwall@10");
	int ibig = find_contestant(cs, nc, "pinwall@100k+100k"), ixf = find_contestant(cs, nc, "xdp-filter/ip");
	int met_xf = 0, met_10 = 0, met_w = 0, nreq = 0, nw = 0;
	double max_xf = 0, max_10 = 0, max_w = 0;

	if (io < 0 || i10 < 0 || ibig < 0)
		return;
	printf("\nratios of pinwall@64ord+sets (ord; typical = the miss frame of the same family and transport):\n\n");
	printf("%-16s %7s %7s %7s %7s %9s %9s %9s %9s\n", "frame", "ord", "pw10", "pw100k", "xf/ip",
	       "/xf-ip", "/pw10", "/pw100k", "/typical");
	for (int f = 0; f < N_FRAMES; f++) {
		double o = cs[io].ns[f], p10 = cs[i10].ns[f], xf = ixf >= 0 ? cs[ixf].ns[f] : 0;
		double typ = cs[io].ns[frame_like(fr, f, F_MISS)];
		bool req = fr[f].kind == F_HIT || fr[f].kind == F_MISS;

		printf("%-16s %7.0f %7.0f %7.0f %7.0f %8.2fx %8.2fx %8.2fx %8.2fx%s\n", fr[f].name, o, p10,
		       cs[ibig].ns[f], xf, xf > 0 ? o / xf : 0, o / p10, o / cs[ibig].ns[f], o / typ,
		       fr[f].kind == F_CHAIN ? "  (constructed worst)" : req ? "" : "  (extra)");
		if (req) {
			nreq++;
			met_xf += xf > 0 && o / xf <= 1.0;
			met_10 += o / p10 <= 1.3;
			if (xf > 0 && o / xf > max_xf)
				max_xf = o / xf;
			if (o / p10 > max_10)
				max_10 = o / p10;
		}
		if (fr[f].kind == F_CHAIN) {
			nw++;
			met_w += o / typ <= 1.5;
			if (o / typ > max_w)
				max_w = o / typ;
		}
	}
	printf("\ntargets of pinwall@64ord+sets (kernel-reported ns, min of rounds):\n");
	printf("  hits and misses <= 1.0x xdp-filter/ip : met on %d of %d frames (worst %.2fx) -> %s\n",
	       met_xf, nreq, max_xf, ixf >= 0 && met_xf == nreq ? "MET" : "NOT MET");
	printf("  hits and misses <= 1.3x pinwall@10    : met on %d of %d frames (worst %.2fx) -> %s\n",
	       met_10, nreq, max_10, met_10 == nreq ? "MET" : "NOT MET");
	printf("  worst frame <= 1.5x the typical one   : met on %d of %d frames (worst %.2fx) -> %s\n",
	       met_w, nw, max_w, met_w == nw ? "MET" : "NOT MET");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cost [--repeat N] [--rounds R] [--seed S] [--cpu C] [--json FILE]\n"
		"            [--v4 N] [--v6 N] [--xdp-filter-dir DIR]\n"
		"       cost --emit-rules FILE [--ordered] [--change PCT] [--seed S] [--v4 N] [--v6 N]\n"
		"       cost --prog-info PROG_ID   (verifier steps and sizes of a loaded program)\n"
		"Defaults: --repeat 1000000 --rounds 5 --seed 1 --v4 100000 --v6 100000.\n");
}

int main(int argc, char **argv)
{
	const char *root;
	static const struct option lo[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "v4", required_argument, NULL, '4' },
		{ "v6", required_argument, NULL, '6' },
		{ "xdp-filter-dir", required_argument, NULL, 'x' },
		{ "emit-rules", required_argument, NULL, 'e' },
		{ "change", required_argument, NULL, 'C' },
		{ "ordered", no_argument, NULL, 'O' },
		{ "prog-info", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct contestant cs[8];
	struct frame fr[N_FRAMES];
	struct rset big, s10, s10k, ord;
	struct xf_hosts hosts;
	struct pinwall *p10, *p10k, *pbig, *pord;
	struct cost_bare *bare;
	struct bpf_object *xf_ip = NULL, *xf_all = NULL;
	int targets[2], nc = 0, c, bad = 0;
	char path[512], a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN];
	FILE *json = NULL;
	time_t now = time(NULL);

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': opt.repeat = atoi(optarg); break;
		case 'R': opt.rounds = atoi(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'c': opt.cpu = atoi(optarg); break;
		case 'j': opt.json = optarg; break;
		case '4': opt.n4 = atoi(optarg); break;
		case '6': opt.n6 = atoi(optarg); break;
		case 'x': opt.xf_dir = optarg; break;
		case 'e': opt.emit = optarg; break;
		case 'C': opt.change_pct = atof(optarg); break;
		case 'O': opt.ordered = true; break;
		case 'P': return prog_info((__u32)strtoul(optarg, NULL, 0));
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || opt.repeat < 1 || opt.rounds < 1 || opt.rounds > 64 ||
	    opt.n4 < 10000 || opt.n6 < 10000) {
		usage(stderr);
		return 2;
	}
	if (opt.emit)
		return emit_rules(opt.emit, opt.change_pct);

	/* a private pin root: apply keeps its intent record there while it runs */
	root = scratch_root_make("pwbench-cost-");
	if (!root || pw_ctx_init(&ctx, root))
		die("%s", ctx.err);
	/* atexit() does not run on a signal: a killed run would leave its bpffs
	 * mounted below /tmp, where other tools may find and use it */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	pw_log_setup(&ctx);
	if (opt.json && !(json = fopen(opt.json, "w")))
		die("%s: %s", opt.json, strerror(errno));
	if (opt.cpu < 0)
		opt.cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("cannot pin to CPU %d: %s", opt.cpu, strerror(errno));
	}

	/* rule sets and frames */
	rng = opt.seed;
	gen_large(&big);
	rset_index(&big);
	make_frames(&big, fr, targets);
	subset(&big, "pinwall@10", 3, 3, 4, targets, &s10);
	subset(&big, "pinwall@10k", (10000 - N_PORTRULES) / 2, 10000 - N_PORTRULES - (10000 - N_PORTRULES) / 2,
	       N_PORTRULES, targets, &s10k);
	rset_index(&s10);
	rset_index(&s10k);
	gen_ordered(&big, fr, &ord);
	rset_index(&ord);
	xf_hosts_make(&big, &hosts);

	printf("rule sets (seed %llu; IPv4 from 1.0.0.0-223.255.255.255, /8../16 at 2^(L-5) per 100k,\n"
	       "           /17../32 evenly; IPv6 from 2000::/3, /16../128 evenly; src/dst at random):\n",
	       opt.seed);

	/* contestants */
	bare = cost_bare__open_and_load();
	if (!bare)
		die("cannot load the bare program: %s", strerror(errno));
	cs[nc++] = (struct contestant){ .name = "bare (XDP_DROP)",
		.fd = bpf_program__fd(bare->progs.cost_bare_drop) };
	p10 = pinwall_private();
	pinwall_apply(p10, &s10);
	cs[nc++] = (struct contestant){ .name = s10.name, .fd = bpf_program__fd(p10->progs.pinwall_xdp), .set = &s10 };
	p10k = pinwall_private();
	pinwall_apply(p10k, &s10k);
	cs[nc++] = (struct contestant){ .name = s10k.name, .fd = bpf_program__fd(p10k->progs.pinwall_xdp), .set = &s10k };
	pbig = pinwall_private();
	pinwall_apply(pbig, &big);
	cs[nc++] = (struct contestant){ .name = big.name, .fd = bpf_program__fd(pbig->progs.pinwall_xdp), .set = &big };
	pord = pinwall_private();
	pinwall_apply(pord, &ord);
	cs[nc++] = (struct contestant){ .name = ord.name, .fd = bpf_program__fd(pord->progs.pinwall_xdp), .set = &ord };
	if (find_xf("xdpfilt_alw_ip.o", path, sizeof(path))) {
		int fd;

		xf_ip = xf_load(path, &hosts, false, &fd);
		cs[nc++] = (struct contestant){ .name = "xdp-filter/ip", .fd = fd };
		printf("  %-18s %6d v4 + %6d v6 host addresses (%s)%s\n", "xdp-filter/ip", hosts.n4,
		       hosts.n6, path, hosts.merged ? " (some src+dst hosts merged)" : "");
	} else {
		printf("  xdp-filter/ip: xdpfilt_alw_ip.o not found (--xdp-filter-dir): skipped\n");
	}
	if (find_xf("xdpfilt_alw_all.o", path, sizeof(path))) {
		int fd;

		xf_all = xf_load(path, &hosts, true, &fd);
		cs[nc++] = (struct contestant){ .name = "xdp-filter/all", .fd = fd };
		printf("  %-18s %6d v4 + %6d v6 host addresses + the 4 port rules (%s)\n",
		       "xdp-filter/all", hosts.n4, hosts.n6, path);
	}

	printf("\nframes (TCP/UDP %d -> %d, worst: TCP %d / UDP %d -> %d; probes = pinwall's hash lookups\n"
	       "for src+dst at 10 / 10k / 100k+100k / 64ord+sets (which looks up both addresses always)):\n",
	       F_SPORT, F_DPORT, CHAIN_SPORT_TCP, CHAIN_SPORT_UDP, CHAIN_DPORT);
	for (int f = 0; f < N_FRAMES; f++) {
		int pr[4];
		const struct rset *sets[4] = { &s10, &s10k, &big, &ord };

		for (int i = 0; i < 4; i++) {
			bool hit;

			pr[i] = probes(sets[i], fr[f].fam, PW_RK_SRC, fr[f].src, &hit);
			if (!hit || sets[i]->ordered)
				pr[i] += probes(sets[i], fr[f].fam, PW_RK_DST, fr[f].dst, &hit);
		}
		for (int i = 0; i < nc; i++) {
			cs[i].probes[f] = -1;
			for (int k = 0; k < 4; k++)
				if (cs[i].set == sets[k])
					cs[i].probes[f] = pr[k];
		}
		printf("  %-16s %s -> %s  probes %d / %d / %d / %d\n", fr[f].name,
		       addr_str(fr[f].fam, fr[f].src, a1), addr_str(fr[f].fam, fr[f].dst, a2),
		       pr[0], pr[1], pr[2], pr[3]);
	}

	/* verdicts: one run each, checked against the expectation and, for
	 * pinwall, against libpinwall's reference classifier */
	for (int i = 0; i < nc; i++) {
		cs[i].ok = true;
		for (int f = 0; f < N_FRAMES; f++) {
			__u32 rv, dur, want;
			double w;
			int err = run(cs[i].fd, &fr[f], 1, &rv, &dur, &w);

			if (err)
				die("%s on %s: test run failed: %s", cs[i].name, fr[f].name, strerror(-err));
			cs[i].retval[f] = rv;
			want = i == 0 || fr[f].kind == F_HIT ? XDP_DROP : XDP_PASS;
			if (cs[i].set) {
				struct pw_ref_pkt p = { .family = fr[f].fam, .proto = (__u32)fr[f].l4,
					.has_ports = true, .sport = fr[f].sport, .dport = fr[f].dport };
				int idx;

				memcpy(p.saddr, fr[f].src, 16);
				memcpy(p.daddr, fr[f].dst, 16);
				if (pw_ruleset_classify(&cs[i].set->rs, &p, &idx) != want)
					fprintf(stderr, "WARNING: reference classifier disagrees on %s for %s\n",
						fr[f].name, cs[i].name), bad++;
				/* a miss matches no rule at all (a pass rule would pass it too) */
				if (fr[f].kind != F_HIT && idx >= 0)
					fprintf(stderr, "WARNING: %s matches rule %d of %s: not a miss\n",
						fr[f].name, idx, cs[i].name), bad++;
			}
			if (rv != want) {
				fprintf(stderr, "WARNING: %s on %s: verdict %s, expected %s\n", cs[i].name,
					fr[f].name, verdict_name(rv), verdict_name(want));
				cs[i].ok = false;
				bad++;
			}
		}
	}

	/* timing: rounds interleaved over contestants and frames */
	for (int i = 0; i < nc; i++)
		for (int f = 0; f < N_FRAMES; f++)
			cs[i].ns[f] = cs[i].wall[f] = 1e18;
	fprintf(stderr, "timing: %d contestants x %d frames x %d rounds x %d runs on CPU %d ...\n",
		nc, N_FRAMES, opt.rounds, opt.repeat, opt.cpu);
	for (int r = 0; r < opt.rounds; r++) {
		for (int i = 0; i < nc; i++) {
			for (int f = 0; f < N_FRAMES; f++) {
				__u32 rv, dur;
				double w;
				int err = run(cs[i].fd, &fr[f], opt.repeat, &rv, &dur, &w);

				if (err)
					die("%s on %s: test run failed: %s", cs[i].name, fr[f].name, strerror(-err));
				cs[i].rounds_ns[f][r] = dur;
				if (dur < cs[i].ns[f])
					cs[i].ns[f] = dur;
				if (w < cs[i].wall[f])
					cs[i].wall[f] = w;
			}
		}
	}

	/* results */
	printf("\nper-packet cost, BPF_PROG_TEST_RUN, repeat %d, min of %d rounds (kernel-reported ns/run;\n"
	       "wall = min wall-clock ns/run of the same calls, syscall and frame copy amortised in):\n\n",
	       opt.repeat, opt.rounds);
	printf("%-18s %-16s %-8s %8s %8s %8s %7s\n", "contestant", "frame", "verdict", "ns/pkt",
	       "median", "wall", "probes");
	for (int i = 0; i < nc; i++) {
		for (int f = 0; f < N_FRAMES; f++) {
			__u32 sorted[64];
			char pr[16] = "-";

			memcpy(sorted, cs[i].rounds_ns[f], opt.rounds * sizeof(__u32));
			qsort(sorted, opt.rounds, sizeof(__u32), cmp_u32);
			if (cs[i].probes[f] >= 0)
				snprintf(pr, sizeof(pr), "%d", cs[i].probes[f]);
			printf("%-18s %-16s %-8s %8.0f %8u %8.1f %7s\n", cs[i].name, fr[f].name,
			       verdict_name(cs[i].retval[f]), cs[i].ns[f], sorted[opt.rounds / 2],
			       cs[i].wall[f], pr);
			if (json) {
				fprintf(json, "{\"contestant\":\"%s\",\"frame\":\"%s\",\"family\":%d,\"l4\":\"%s\","
					"\"kind\":\"%s\",\"verdict\":\"%s\",\"ns_min\":%.0f,\"ns_median\":%u,"
					"\"wall_ns_min\":%.2f,\"probes\":%d,\"repeat\":%d,\"rounds\":[",
					cs[i].name, fr[f].name, fr[f].fam, fr[f].l4 == IPPROTO_TCP ? "tcp" : "udp",
					fkind_name[fr[f].kind], verdict_name(cs[i].retval[f]), cs[i].ns[f],
					sorted[opt.rounds / 2], cs[i].wall[f], cs[i].probes[f], opt.repeat);
				for (int r = 0; r < opt.rounds; r++)
					fprintf(json, "%s%u", r ? "," : "", cs[i].rounds_ns[f][r]);
				fprintf(json, "],\"seed\":%llu,\"time\":%lld}\n", opt.seed, (long long)now);
			}
		}
		printf("\n");
	}

	/* ratios and targets */
	{
		int ib = 0, i10 = 1, ibig = 3, ixf = -1, ixa = -1, met_xf = 0, met_10 = 0, nreq = 0;
		int met_xf_all = 0, met_10_all = 0;

		for (int i = 0; i < nc; i++) {
			if (!strcmp(cs[i].name, "xdp-filter/ip"))
				ixf = i;
			if (!strcmp(cs[i].name, "xdp-filter/all"))
				ixa = i;
		}
		printf("ratios (pw100k = pinwall@100k+100k; net = bare subtracted from both):\n\n");
		printf("%-16s %8s %8s %8s %9s %9s %9s %9s %9s\n", "frame", "pw100k", "pw10", "xf/ip",
		       "/xf-ip", "net", "/pw10", "net", "/xf-all");
		for (int f = 0; f < N_FRAMES; f++) {
			double b = cs[ib].ns[f], big_ns = cs[ibig].ns[f], p10ns = cs[i10].ns[f];
			double xf = ixf >= 0 ? cs[ixf].ns[f] : 0, xa = ixa >= 0 ? cs[ixa].ns[f] : 0;
			double r_xf = xf > 0 ? big_ns / xf : 0, r_10 = big_ns / p10ns;
			double n_xf = xf - b > 0 ? (big_ns - b) / (xf - b) : 0;
			double n_10 = p10ns - b > 0 ? (big_ns - b) / (p10ns - b) : 0;
			bool req = fr[f].kind == F_HIT || fr[f].kind == F_MISS;

			printf("%-16s %8.0f %8.0f %8.0f %8.2fx %8.2fx %8.2fx %8.2fx %8.2fx%s\n", fr[f].name,
			       big_ns, p10ns, xf, r_xf, n_xf, r_10, n_10, xa > 0 ? big_ns / xa : 0,
			       req ? "" : "  (extra)");
			if (req) {
				nreq++;
				met_xf += xf > 0 && r_xf <= 1.0;
				met_10 += r_10 <= 1.3;
			}
			met_xf_all += xf > 0 && r_xf <= 1.0;
			met_10_all += r_10 <= 1.3;
		}
		printf("\ntargets (on the kernel-reported ns, hit + miss frames; all frames in brackets):\n");
		printf("  pinwall@100k+100k <= 1.0x xdp-filter/ip : met on %d of %d frames [%d of %d] -> %s\n",
		       met_xf, nreq, met_xf_all, N_FRAMES, met_xf == nreq ? "MET" : "NOT MET");
		printf("  pinwall@100k+100k <= 1.3x pinwall@10    : met on %d of %d frames [%d of %d] -> %s\n",
		       met_10, nreq, met_10_all, N_FRAMES, met_10 == nreq ? "MET" : "NOT MET");
	}
	ord_report(cs, nc, fr);
	if (bad)
		printf("\nWARNING: %d verdict/reference mismatches (see stderr)\n", bad);
	printf("\nmachine: %ld CPUs online, pinned to CPU %d; repeat %d, rounds %d, seed %llu\n",
	       sysconf(_SC_NPROCESSORS_ONLN), opt.cpu, opt.repeat, opt.rounds, opt.seed);

	if (json)
		fclose(json);
	if (xf_all)
		bpf_object__close(xf_all);
	if (xf_ip)
		bpf_object__close(xf_ip);
	pinwall__destroy(pord);
	pinwall__destroy(pbig);
	pinwall__destroy(p10k);
	pinwall__destroy(p10);
	cost_bare__destroy(bare);
	rset_free(&s10);
	rset_free(&s10k);
	rset_free(&big);
	rset_free(&ord);
	free(hosts.k4); free(hosts.k6); free(hosts.f4); free(hosts.f6);
	return bad ? 1 : 0;
}
