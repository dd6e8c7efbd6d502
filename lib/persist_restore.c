// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * restore: bring this network namespace to the saved state from wherever
 * it is. The rule set goes first, through the same call as 'rule apply'
 * (one atomic switch; nothing when it is already in force), so a program
 * attached next filters by the saved rules from its first packet. Then
 * each interface: loaded, reloaded with the saved object, or left as it
 * is when it already runs as saved. What restore will not force (another
 * tool's program, a different mode or pin scope) is reported and left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "pinwall/persist.h"

const char *pw_restore_fate_name(enum pw_restore_fate f)
{
	switch (f) {
	case PW_RS_UNCHANGED: return "unchanged";
	case PW_RS_LOADED: return "loaded";
	case PW_RS_RELOADED: return "reloaded";
	case PW_RS_MISSING: return "missing";
	case PW_RS_CONFLICT: return "conflict";
	case PW_RS_FAILED: return "failed";
	case PW_RS_DRIFT: return "drift";
	}
	return "unknown";
}

void pw_restore_report_free(struct pw_restore_report *r)
{
	free(r->ifs);
	free(r->rules.warnings);
	memset(r, 0, sizeof(*r));
}

/* ---- the rule set ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rules as texts: the sequence (ordered rules, "" at the table's
 * place) and, in *@table, the table's rules sorted. */
static char **rule_texts(const struct pw_ruleset *rs, int *n_seq, char ***table, int *n_table)
{
	char **seq = calloc(rs->n + 1, sizeof(*seq)), **tab = calloc(rs->n + 1, sizeof(*tab));
	char text[PW_RULE_TEXT_MAX + 1];
	bool placed = false;

	*n_seq = *n_table = 0;
	for (int i = 0; seq && tab && i < rs->n; i++) {
		pw_ruleset_format(rs, i, text, sizeof(text));
		if (rs->r[i].kind != PW_RK_ORDERED) {
			tab[(*n_table)++] = strdup(text);
			if (placed)
				continue;
			placed = true;
			seq[(*n_seq)++] = strdup("");
		} else {
			seq[(*n_seq)++] = strdup(text);
		}
	}
	*table = tab;
	if (!tab) {
		free(seq);
		return NULL;
	}
	qsort(tab, *n_table, sizeof(*tab), cmp_str);
	return seq;
}

static bool same_texts(char **a, int na, char **b, int nb)
{
	if (!a || !b || na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (!a[i] || !b[i] || strcmp(a[i], b[i]))
			return false;
	return true;
}

static void free_texts(char **t, int n)
{
	for (int i = 0; t && i < n; i++)
		free(t[i]);
	free(t);
}

/* Would 'rule apply' change anything? The same test as its own: policy,
 * sets, ordered rules in order with the table at its place, table rules in
 * any order (the table has none). */
static bool rules_same(const struct pw_ruleset *cur, const struct pw_ruleset *want)
{
	char **sa, **sb, **ta = NULL, **tb = NULL;
	int nsa, nsb, nta, ntb;
	bool same;

	if (cur->n != want->n || cur->policy != want->policy || !pw_ruleset_sets_equal(cur, want))
		return false;
	sa = rule_texts(cur, &nsa, &ta, &nta);
	sb = rule_texts(want, &nsb, &tb, &ntb);
	same = same_texts(sa, nsa, sb, nsb) && same_texts(ta, nta, tb, ntb);
	free_texts(sa, nsa);
	free_texts(sb, nsb);
	free_texts(ta, nta);
	free_texts(tb, ntb);
	return same;
}

/* Dry run: compare with the rule set in force (none: no rule, allow). */
static int rules_dry(struct pw_ctx *ctx, const struct pw_saved *s, struct pw_restore_report *r)
{
	struct pw_ruleset cur = { .policy = PW_POLICY_ALLOW };
	struct pw_rules_maps m;
	struct pw_config cfg;
	int err = pw_rules_open(ctx, &m, false, true);

	if (err && err != -ENOENT)
		return err;
	if (!err) {
		err = pw_rules_read(ctx, &m, &cur, &cfg);
		pw_rules_close(&m);
		if (err)
			return err;
	}
	r->rules_changed = !rules_same(&cur, &s->rules);
	pw_ruleset_free(&cur);
	return 0;
}

static int restore_rules(struct pw_ctx *ctx, const struct pw_saved *s, bool dry_run, bool force,
			 struct pw_restore_report *r)
{
	struct pw_rule_change c = {
		.op = PW_RC_APPLY, .what = s->rules_path, .file = &s->rules, .policy = -1,
		.change_policy = true,	/* the saved policy is part of the state */
		.force = force,
	};
	int err;

	r->n_rules = s->rules.n;
	r->policy = s->rules.policy;
	if (dry_run)
		return rules_dry(ctx, s, r);
	err = pw_rules_change(ctx, &c, &r->rules);
	r->rules_changed = !err && !r->rules.rep.unchanged;
	return err;
}

/* ---- the interfaces ---- */

static int copy_status(const struct pw_status *st, void *arg)
{
	memcpy(arg, st, sizeof(*st));
	return 0;
}

static bool same_object(const struct pw_saved_iface *w, const struct pw_meta *m)
{
	if (w->builtin || m->builtin)
		return w->builtin && m->builtin;
	return !strncmp(w->object, m->object, sizeof(m->object)) &&
	       (!w->prog[0] || !strncmp(w->prog, m->prog, sizeof(m->prog)));
}

/* What restore does on an interface in state @st; @why says what it leaves. */
static enum pw_restore_fate decide(const struct pw_saved_iface *w, const struct pw_status *st,
				   char *why, size_t len)
{
	const char *n = w->ifname;

	if (!st->ours && st->xdp.prog_id) {
		snprintf(why, len, "another tool's XDP program '%s' (id %u) is attached: not replaced ('pinwall load %s --force' replaces it)",
			 st->prog_name, st->xdp.prog_id, n);
		return PW_RS_CONFLICT;
	}
	if (!st->ours)
		return PW_RS_LOADED;
	if (!st->have_meta) {
		snprintf(why, len, "pinwall's program runs without its load record: 'pinwall repin %s' first", n);
		return PW_RS_CONFLICT;
	}
	if (w->mode != PW_MODE_AUTO && st->xdp.mode != w->mode) {
		snprintf(why, len, "runs in %s mode, saved %s: a reload keeps the mode ('pinwall unload %s', then restore again)",
			 pw_mode_name(st->xdp.mode), pw_mode_name(w->mode), n);
		return PW_RS_CONFLICT;
	}
	if (!w->builtin && st->meta.pin_scope != w->scope) {
		snprintf(why, len, "its maps are pinned with scope %s, saved %s: a reload keeps the scope ('pinwall unload %s', then restore again)",
			 pw_scope_name(st->meta.pin_scope), pw_scope_name(w->scope), n);
		return PW_RS_CONFLICT;
	}
	if (same_object(w, &st->meta)) {
		/* the program filters as saved, but what status, stats and a
		 * later reload read is not all there: not restored, said so */
		if (st->state == PW_STATE_PINS_MISSING || st->state == PW_STATE_PINS_CONFLICT) {
			snprintf(why, len, "runs as saved, but %s: 'pinwall repin %s' puts its pins back (see 'pinwall status %s')",
				 st->state == PW_STATE_PINS_MISSING ? "pins are missing" :
				 "a pin holds another map", n, n);
			return PW_RS_DRIFT;
		}
		if (st->state >= PW_STATE_DRIFT)
			snprintf(why, len, "runs as saved, state %s: see 'pinwall status %s'",
				 pw_state_name(st->state), n);
		return PW_RS_UNCHANGED;
	}
	if (w->builtin) {
		snprintf(why, len, "runs '%s' from %s, saved the built-in program ('pinwall unload %s', then restore again)",
			 st->meta.prog, st->meta.object, n);
		return PW_RS_CONFLICT;
	}
	return PW_RS_RELOADED;
}

/* The interface's state; an operation killed halfway is settled first. */
static int iface_state(struct pw_ctx *ctx, const char *ifname, bool dry_run, struct pw_status *st,
		       struct pw_restore_iface *out)
{
	int err = pw_status_walk(ctx, ifname, copy_status, st);

	if (err || dry_run || !st->have_intent || st->intent_running)
		return err;
	if ((err = pw_recover(ctx, ifname, &out->recovered)))
		return err;
	memset(st, 0, sizeof(*st));
	return pw_status_walk(ctx, ifname, copy_status, st);
}

/* load/reload as saved, with its chained program (load --then): everything
 * the chained object can refuse is checked before pinwall's load. */
static int load_chained(struct pw_ctx *ctx, const struct pw_saved_iface *w, bool load,
			const struct pw_load_opts *o, struct pw_load_report *lr)
{
	struct pw_chain_opts then = {
		.obj_path = w->then, .prog_name = w->then_prog[0] ? w->then_prog : NULL,
	};
	struct pw_chain_report cr;
	struct pw_chain *c = NULL;
	int err;

	if (w->then[0] && (err = pw_chain_prepare(ctx, w->ifname, &then, &c)))
		return err;
	err = load ? pw_load(ctx, o, lr) : pw_reload(ctx, o, lr);
	if (!err && c)
		err = pw_chain_switch(ctx, c, load ? PW_OP_LOAD : PW_OP_RELOAD, &cr);
	pw_chain_free(c);
	return err;
}

static void restore_iface(struct pw_ctx *ctx, const struct pw_saved_iface *w, bool dry_run,
			  struct pw_status *st, struct pw_load_report *lr, struct pw_restore_iface *out)
{
	struct pw_load_opts o = {
		.ifname = w->ifname, .obj_path = w->builtin ? NULL : w->object,
		.prog_name = w->prog[0] ? w->prog : NULL, .mode = w->mode,
		.scope = w->builtin ? PW_SCOPE_OBJECT : w->scope,
		.flat_path = w->binds.flags & PW_BINDS_FLAT,
		.steer = &w->steer,
	};
	char specs[PW_BINDS_MAX][PW_NAME_LEN + PW_PATH_LEN + 2];
	const char *spec[PW_BINDS_MAX];
	int err;

	/* load --map NAME=PATH, as saved */
	for (__u32 k = 0; k < w->binds.n && k < PW_BINDS_MAX; k++) {
		snprintf(specs[k], sizeof(specs[k]), "%s=%s", w->binds.map[k].name,
			 w->binds.map[k].path);
		spec[o.n_binds++] = specs[k];
	}
	o.binds = spec;

	snprintf(out->ifname, sizeof(out->ifname), "%s", w->ifname);
	out->mode = w->mode;
	if (!if_nametoindex(w->ifname)) {
		out->fate = PW_RS_MISSING;
		snprintf(out->why, sizeof(out->why), "no such device '%s' (yet): 'pinwall restore' again once it exists",
			 w->ifname);
		return;
	}
	memset(st, 0, sizeof(*st));
	if (iface_state(ctx, w->ifname, dry_run, st, out)) {
		out->fate = PW_RS_FAILED;
		snprintf(out->why, sizeof(out->why), "%s", ctx->err);
		return;
	}
	out->fate = decide(w, st, out->why, sizeof(out->why));
	out->prog_id = st->xdp.prog_id;
	if (st->xdp.prog_id)
		out->mode = st->xdp.mode;
	if (dry_run || (out->fate != PW_RS_LOADED && out->fate != PW_RS_RELOADED))
		return;
	err = load_chained(ctx, w, out->fate == PW_RS_LOADED, &o, lr);
	if (err) {
		out->fate = PW_RS_FAILED;
		snprintf(out->why, sizeof(out->why), "%s", ctx->err);
		return;
	}
	out->prog_id = lr->prog_id;
	out->mode = lr->mode;
	if (lr->recovered.found)
		out->recovered = lr->recovered;
}

static void count(struct pw_restore_report *r, const struct pw_restore_iface *o, int sign)
{
	r->n_changed += sign * (o->fate == PW_RS_LOADED || o->fate == PW_RS_RELOADED);
	r->n_missing += sign * (o->fate == PW_RS_MISSING);
	r->n_conflict += sign * (o->fate == PW_RS_CONFLICT || o->fate == PW_RS_DRIFT);
	r->n_failed += sign * (o->fate == PW_RS_FAILED);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Devices still missing: restored as each appears (a NIC whose driver
 * loads late, a name udev gives once it has renamed the device). */
static void wait_missing(struct pw_ctx *ctx, const struct pw_saved *s, const struct pw_restore_opts *o,
			 struct pw_status *st, struct pw_load_report *lr, struct pw_restore_report *r)
{
	double t0 = mono_ms();

	while (r->n_missing && mono_ms() - t0 < o->wait_ms) {
		usleep(50 * 1000);
		for (int k = 0; k < r->n; k++) {
			struct pw_restore_iface *f = &r->ifs[k];

			if (f->fate != PW_RS_MISSING || !if_nametoindex(f->ifname))
				continue;
			count(r, f, -1);
			memset(f, 0, sizeof(*f));
			restore_iface(ctx, &s->ifs[k], false, st, lr, f);
			count(r, f, 1);
		}
	}
	r->waited_ms = mono_ms() - t0;
}

int pw_restore(struct pw_ctx *ctx, const struct pw_saved *s, const struct pw_restore_opts *o,
	       struct pw_restore_report *r)
{
	struct pw_status *st = calloc(1, sizeof(*st));
	struct pw_load_report *lr = calloc(1, sizeof(*lr));
	int err;

	memset(r, 0, sizeof(*r));
	r->dry_run = o->dry_run;
	r->ifs = calloc(s->n + 1, sizeof(*r->ifs));
	if (!st || !lr || !r->ifs) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	if ((err = o->dry_run ? pw_check_caps_read(ctx) : pw_check_caps(ctx)) ||
	    (err = restore_rules(ctx, s, o->dry_run, o->force, r)) ||
	    (err = pw_blocks_restore(ctx, s, o->dry_run, r)))
		goto out;
	for (int k = 0; k < s->n; k++) {
		restore_iface(ctx, &s->ifs[k], o->dry_run, st, lr, &r->ifs[r->n]);
		count(r, &r->ifs[r->n++], 1);
	}
	if (!o->dry_run && o->wait_ms)
		wait_missing(ctx, s, o, st, lr, r);
	ctx->err[0] = '\0';
	ctx->detail[0] = '\0';
out:
	free(st);
	free(lr);
	return err;
}
