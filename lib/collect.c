// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The metrics collector: everything a scrape reports, read again each time
 * from the pins alone (read-only), as data. The counter maps are followed
 * like stats follows them (reopened by path, a replaced map noticed by its
 * id); the interfaces are those with a pin directory in this network
 * namespace, so loads and unloads under a running exporter are followed. A
 * read that fails is counted and its part left out; the rest still reads.
 */
#define _GNU_SOURCE	/* qsort_r */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "pinwall/rules.h"

/* More interface directories than this are left out (and counted). */
#define PW_COLLECT_MAX_IFS 4096

const char *pw_collect_what_name(enum pw_collect_what w)
{
	static const char *const names[PW_CW_MAX] = {
		[PW_CW_INTERFACES] = "interfaces", [PW_CW_COUNTERS] = "counters",
		[PW_CW_PROGRAM] = "program", [PW_CW_RULES] = "rules",
	};

	return w < PW_CW_MAX ? names[w] : "?";
}

/* Count a failed read; the message is ctx->err unless @fmt gives one. */
static void failed(struct pw_ctx *ctx, struct pw_collect *c, enum pw_collect_what w,
		   const char *fmt, ...)
{
	va_list ap;

	c->errors[w]++;
	c->failed++;
	if (!fmt) {
		snprintf(c->last_err, sizeof(c->last_err), "%s", ctx->err);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(c->last_err, sizeof(c->last_err), fmt, ap);
	va_end(ap);
}

static int find_iface(const struct pw_collect *c, const char *name, bool *found)
{
	int lo = 0, hi = c->n_ifs;

	while (lo < hi) {
		int mid = (lo + hi) / 2, d = strcmp(c->ifs[mid].st.ifname, name);

		if (!d) {
			*found = true;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Mark @name seen, adding a follower for it in name order. */
static int add_iface(struct pw_ctx *ctx, struct pw_collect *c, const char *name)
{
	struct pw_collect_iface *ci;
	bool found;
	int at = find_iface(c, name, &found);

	if (found) {
		c->ifs[at].seen = true;
		return 0;
	}
	if (c->n_ifs >= PW_COLLECT_MAX_IFS)
		return -E2BIG;
	if (c->n_ifs == c->cap_ifs) {
		int cap = c->cap_ifs ? c->cap_ifs * 2 : 8;
		void *p = realloc(c->ifs, cap * sizeof(*c->ifs));

		if (!p)
			return -ENOMEM;
		c->ifs = p;
		c->cap_ifs = cap;
	}
	ci = &c->ifs[at];
	memmove(ci + 1, ci, (c->n_ifs - at) * sizeof(*ci));
	memset(ci, 0, sizeof(*ci));
	if (pw_stats_iface_init(ctx, &ci->st, name)) {
		memmove(ci, ci + 1, (c->n_ifs - at) * sizeof(*ci));
		return -ENAMETOOLONG;
	}
	ci->seen = true;
	c->n_ifs++;
	return 0;
}

/* Drop the followers of interfaces whose pin directory is gone. */
static void drop_unseen(struct pw_collect *c)
{
	int n = 0;

	for (int i = 0; i < c->n_ifs; i++) {
		if (!c->ifs[i].seen) {
			pw_stats_iface_close(&c->ifs[i].st);
			continue;
		}
		c->ifs[n++] = c->ifs[i];
	}
	c->n_ifs = n;
}

/* The interface directories of this network namespace, never through a
 * link; none (nothing loaded here) is no error. */
static void scan_ifaces(struct pw_ctx *ctx, struct pw_collect *c)
{
	char nsdir[PW_PATH_LEN], name[IFNAMSIZ * 3 + 1];
	struct dirent *e;
	DIR *d = NULL;
	int fd, err = 0;

	for (int i = 0; i < c->n_ifs; i++)
		c->ifs[i].seen = false;
	pw_ns_dir(ctx, ctx->netns_ino, nsdir, sizeof(nsdir));
	fd = pw_opendir_below(nsdir, strlen(ctx->pin_root));
	if (fd >= 0 && !(d = fdopendir(fd))) {
		err = -errno;
		close(fd);
		fd = err;
	}
	if (!d) {
		if (fd != -ENOENT)
			failed(ctx, c, PW_CW_INTERFACES, "cannot read '%s': %s", nsdir, strerror(-fd));
		else
			drop_unseen(c);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR || strlen(e->d_name) >= sizeof(name))
			continue;
		pw_ifname_unescape(e->d_name, name, sizeof(name));
		if (strlen(name) >= IFNAMSIZ)
			continue;	/* no interface has that name */
		if ((err = add_iface(ctx, c, name)))
			break;
	}
	closedir(d);
	if (err)	/* keep following those not reached */
		failed(ctx, c, PW_CW_INTERFACES, "cannot follow interface '%s' in '%s': %s", name,
		       nsdir, err == -E2BIG ? "too many interface directories" : strerror(-err));
	else
		drop_unseen(c);
}

/* A load with another pin scope moves the counters' pins: follow them. */
static void repath(struct pw_ctx *ctx, struct pw_collect_iface *ci)
{
	struct pw_stats_iface *now = malloc(sizeof(*now));

	if (!now)
		return;
	if (!pw_stats_iface_init(ctx, now, ci->st.ifname) &&
	    (strcmp(now->actions.path, ci->st.actions.path) ||
	     strcmp(now->classes.path, ci->st.classes.path))) {
		pw_stats_iface_close(&ci->st);
		ci->st = *now;
	}
	free(now);
}

static void map_failed(struct pw_ctx *ctx, struct pw_collect *c, const struct pw_stats_iface *si,
		       const struct pw_stats_map *m)
{
	if (m->err == -ENOENT || !m->err)
		return;
	failed(ctx, c, PW_CW_COUNTERS, "interface '%s': cannot read counter map '%s': %s",
	       si->ifname, m->path, strerror(-m->err));
}

/* The program attached, when it is the one pinwall's load record names. */
static void read_program(struct pw_ctx *ctx, struct pw_collect *c, struct pw_collect_iface *ci)
{
	unsigned int ifindex = if_nametoindex(ci->st.ifname);
	struct pw_xdp_state x;
	struct pw_meta meta;
	int err;

	ci->prog_id = 0;
	if (!ifindex)
		return;
	if ((err = pw_xdp_state((int)ifindex, &x)) == -ENODEV)
		return;		/* gone just now */
	if (err) {
		failed(ctx, c, PW_CW_PROGRAM, "interface '%s': cannot read its XDP program: %s",
		       ci->st.ifname, strerror(-err));
		return;
	}
	if (!x.prog_id)
		return;
	err = pw_meta_read(ci->st.ifdir, &meta);
	if (err && err != -ENOENT) {
		failed(ctx, c, PW_CW_PROGRAM, "interface '%s': cannot read its load record: %s",
		       ci->st.ifname, pw_record_problem(err));
		return;
	}
	if (!err && meta.prog_id == x.prog_id) {
		ci->prog_id = x.prog_id;
		ci->mode = x.mode;
	}
}

static void poll_iface(struct pw_ctx *ctx, struct pw_collect *c, struct pw_collect_iface *ci)
{
	repath(ctx, ci);
	pw_stats_iface_poll(ctx, &ci->st, NULL, NULL);
	map_failed(ctx, c, &ci->st, &ci->st.actions);
	map_failed(ctx, c, &ci->st, &ci->st.classes);
	read_program(ctx, c, ci);
}

static void free_top(struct pw_collect *c)
{
	for (int i = 0; i < c->n_top; i++)
		free(c->top[i].text);
	free(c->top);
	c->top = NULL;
	c->n_top = 0;
}

struct hits_order {
	const struct pw_ruleset *rs;
	const struct pw_counter *cnt;
};

/* Most hits first; equal hits by rule id, so the cut is stable. */
static int by_hits(const void *a, const void *b, void *arg)
{
	const struct hits_order *o = arg;
	int i = *(const int *)a, j = *(const int *)b;

	if (o->cnt[i].packets != o->cnt[j].packets)
		return o->cnt[i].packets > o->cnt[j].packets ? -1 : 1;
	return o->rs->ids[i] < o->rs->ids[j] ? -1 : o->rs->ids[i] > o->rs->ids[j];
}

/* The @max rules with the most hits, most first, with their text. */
static int pick_top(struct pw_collect *c, const struct pw_ruleset *rs,
		    const struct pw_counter *cnt, unsigned int max)
{
	struct hits_order o = { rs, cnt };
	int n = rs->n < 0 ? 0 : (unsigned int)rs->n < max ? rs->n : (int)max;
	int *idx = malloc((rs->n + 1) * sizeof(*idx));
	char text[PW_RULE_TEXT_MAX + 1];

	if (!idx || !(c->top = calloc(n + 1, sizeof(*c->top)))) {
		free(idx);
		return -ENOMEM;
	}
	for (int i = 0; i < rs->n; i++)
		idx[i] = i;
	qsort_r(idx, rs->n, sizeof(*idx), by_hits, &o);
	for (int k = 0; k < n; k++) {
		int i = idx[k];

		pw_ruleset_format(rs, i, text, sizeof(text));
		c->top[k] = (struct pw_rule_hits){ .id = rs->ids[i], .c = cnt[i], .text = strdup(text) };
		if (!c->top[k].text)
			break;
		c->n_top++;
	}
	free(idx);
	return c->n_top == n ? 0 : -ENOMEM;
}

/* The rule set in force, kept between scrapes: every apply that changes it
 * bumps pw_config.generation, so while the generation (and the rule maps)
 * stay, the rules read last time are the rules in force; only their
 * counters are read again. */
struct pw_collect_rules {
	struct pw_ruleset rs;
	__u32 generation, active, rules_map_id;
};

static void cache_drop(struct pw_collect *c)
{
	if (!c->rules)
		return;
	pw_ruleset_free(&c->rules->rs);
	free(c->rules);
	c->rules = NULL;
}

/* The rules in force, from the cache while still right. */
static int rules_in_force(struct pw_ctx *ctx, struct pw_collect *c, const struct pw_rules_maps *m,
			  struct pw_config *cfg)
{
	struct pw_collect_rules *k = c->rules;
	struct bpf_map_info info;
	__u32 zero = 0;
	int err;

	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, cfg))
		return pw_rules_config_fail(ctx, m, errno);
	if ((err = pw_map_info(m->fd[PW_RM_RULES], &info)))
		return pw_fail(ctx, err, "cannot read the rule map: %s", strerror(-err));
	if (k && k->generation == cfg->generation && k->active == cfg->active &&
	    k->rules_map_id == info.id)
		return 0;
	cache_drop(c);
	if (!(k = calloc(1, sizeof(*k))))
		return pw_fail(ctx, ENOMEM, "out of memory");
	/* read with the config it is consistent with */
	if ((err = pw_rules_read(ctx, m, &k->rs, cfg))) {
		free(k);
		return err;
	}
	k->generation = cfg->generation;
	k->active = cfg->active;
	k->rules_map_id = info.id;
	c->rules = k;
	return 0;
}

/* The rules in force and their counters (*@cnt, malloc'd), read again if
 * an apply switched sets meanwhile: a rule id freed and given to another
 * rule must not show its new counts under the old rule's text. */
static int rule_counters(struct pw_ctx *ctx, struct pw_collect *c, const struct pw_rules_maps *m,
			 struct pw_config *cfg, struct pw_counter **cnt)
{
	struct pw_config again;
	__u32 zero = 0;
	int err;

	for (int tries = 0; ; tries++) {
		if ((err = rules_in_force(ctx, c, m, cfg)))
			return err;
		free(*cnt);
		if (!(*cnt = calloc(c->rules->rs.n + 1, sizeof(**cnt))))
			return pw_fail(ctx, ENOMEM, "out of memory");
		if ((err = pw_rules_counters(ctx, m, &c->rules->rs, *cnt)))
			return err;
		if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &again))
			return pw_rules_config_fail(ctx, m, errno);
		if (again.generation == cfg->generation && again.active == cfg->active)
			return 0;
		/* still out of step: no series rather than counts under another rule's text */
		if (tries == 8)
			return pw_fail(ctx, EAGAIN,
				       "rule set changed during every one of 9 reads of its counters");
	}
}

/* The shared rule maps: rules in force, their hits, the policy. No rule
 * maps pinned (no rule ever configured) is no error. */
static void read_rules(struct pw_ctx *ctx, struct pw_collect *c, unsigned int max)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];
	struct pw_counter *cnt = NULL;
	struct bpf_map_info info;
	struct pw_rules_maps m;
	struct pw_config cfg;
	int err;

	free_top(c);
	c->have_rules = false;
	c->n_rules = 0;
	pw_shared_dir(ctx, shared, sizeof(shared));
	pw_join(path, sizeof(path), shared, PW_MAP_RULES);
	if ((err = pw_rules_open(ctx, &m, false, true))) {
		if (err != -ENOENT || pw_path_exists(path))
			failed(ctx, c, PW_CW_RULES, NULL);
		cache_drop(c);
		return;
	}
	if ((err = rule_counters(ctx, c, &m, &cfg, &cnt)))
		goto out;
	if ((err = pick_top(c, &c->rules->rs, cnt, max))) {
		err = pw_fail(ctx, err, "out of memory");
		goto out;
	}
	c->have_rules = true;
	c->n_rules = c->rules->rs.n;
	c->policy = (int)PW_CFG_POLICY(&cfg);
	c->rules_map_id = c->rules->rules_map_id;
	c->rule_stats_map_id = pw_map_info(m.fd[PW_RM_STATS], &info) ? 0 : info.id;
out:
	if (err) {
		free_top(c);
		cache_drop(c);
		failed(ctx, c, PW_CW_RULES, NULL);
	}
	free(cnt);
	pw_rules_close(&m);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int pw_collect(struct pw_ctx *ctx, struct pw_collect *c, unsigned int max_rules)
{
	double t0 = mono();

	c->failed = 0;
	scan_ifaces(ctx, c);
	for (int i = 0; i < c->n_ifs; i++)
		poll_iface(ctx, c, &c->ifs[i]);
	read_rules(ctx, c, max_rules);
	c->seconds = mono() - t0;
	return c->failed ? -EIO : 0;
}

void pw_collect_free(struct pw_collect *c)
{
	for (int i = 0; i < c->n_ifs; i++)
		pw_stats_iface_close(&c->ifs[i].st);
	free(c->ifs);
	free_top(c);
	cache_drop(c);
	memset(c, 0, sizeof(*c));
}
