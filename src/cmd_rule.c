// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* rule add|del|list|apply|flush|policy: the shared rule set. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "pinwall/rules.h"

enum { OPT_FORCE = 256, OPT_POLICY, OPT_CHANGE_POLICY, OPT_SORT, OPT_PREFIX, OPT_FIRST, OPT_BEFORE };

struct rule_args {
	bool force, change_policy, first;
	int policy;			/* -1: not given */
	const char *sort, *prefix, *before;
	int argc;
	char **argv;			/* positional words after the subcommand */
};

static const struct cmd *rule_cmd(const char *name);

static int parse(struct cli *cli, const struct cmd *cmd, int argc, char **argv,
		 struct rule_args *a)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "change-policy", no_argument, NULL, OPT_CHANGE_POLICY },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "first", no_argument, NULL, OPT_FIRST },
		{ "before", required_argument, NULL, OPT_BEFORE },
		CLI_COMMON_OPTS,
		{ 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->policy = -1;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE: a->force = true; break;
		case OPT_CHANGE_POLICY: a->change_policy = true; break;
		case OPT_POLICY:
			if (!strcmp(optarg, "allow"))
				a->policy = PW_POLICY_ALLOW;
			else if (!strcmp(optarg, "deny"))
				a->policy = PW_POLICY_DENY;
			else
				return cli_usage(cli, cmd, "invalid policy '%s': use allow or deny", optarg);
			break;
		case OPT_SORT:
			if (strcmp(optarg, "hits") && strcmp(optarg, "bytes") && strcmp(optarg, "rule") &&
			    strcmp(optarg, "order"))
				return cli_usage(cli, cmd, "invalid sort key '%s': use order, hits, bytes or rule", optarg);
			a->sort = optarg;
			break;
		case OPT_PREFIX: a->prefix = optarg; break;
		case OPT_FIRST: a->first = true; break;
		case OPT_BEFORE: a->before = optarg; break;
		case '?': case ':': return cli_opt_err(cli, cmd, c, argv);
		default:
			if (cli_common_opt(cli, c, optarg))
				return cli_opt_err(cli, cmd, '?', argv);
		}
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	return cli_setup(cli);
}

/* The words of a rule, one space apart; -1 when they do not fit. */
static int join(char *buf, size_t len, int argc, char **argv)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc; i++) {
		o += snprintf(buf + o, len - o, "%s%s", i ? " " : "", argv[i]);
		if (o >= len)
			return -1;
	}
	return 0;
}

const char *policy_name(int p)
{
	return p == PW_POLICY_DENY ? "deny" : "allow";
}

int tx_begin(struct cli *cli, struct rule_tx *tx)
{
	struct pw_recovery rec;

	memset(tx, 0, sizeof(*tx));
	tx->lock_fd = -1;
	/* a rule apply killed halfway is settled first (see pw_rules_recover) */
	if (pw_check_caps(&cli->ctx) || pw_bpffs_prepare(&cli->ctx, true) ||
	    pw_lock(&cli->ctx, &tx->lock_fd) || pw_rules_open(&cli->ctx, &tx->maps, true, false) ||
	    pw_rules_recover(&cli->ctx, &tx->maps, &rec) ||
	    pw_rules_read(&cli->ctx, &tx->maps, &tx->cur, &tx->cfg)) {
		pw_rules_close(&tx->maps);
		pw_unlock(tx->lock_fd);
		return cli_lib_err(cli);
	}
	if (rec.found)
		fprintf(stderr, "pinwall: %s the interrupted rule apply of pid %u first\n",
			rec.completed ? "finished" : "rolled back", rec.pid);
	return 0;
}

void tx_end(struct rule_tx *tx)
{
	pw_ruleset_free(&tx->cur);
	pw_rules_close(&tx->maps);
	pw_unlock(tx->lock_fd);
}

/* Guard, apply, report. @want's policy field is the policy to set. */
int commit(struct cli *cli, struct rule_tx *tx, struct pw_ruleset *want, bool force,
	   const char *what)
{
	struct pw_apply_report rep;
	char why[512];

	if (want->warnings && !cli->json)
		fputs(want->warnings, stderr);
	if (!force && pw_rules_ssh_guard(&cli->ctx, want, why, sizeof(why)))
		return cli_err(cli, "%s; nothing was changed (use --force if you mean it)", why);
	if (pw_rules_apply(&cli->ctx, &tx->maps, want, want->policy, &rep))
		return cli_lib_err(cli);
	if (cli->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "changed", json_object_new_boolean(!rep.unchanged));
		json_object_object_add(j, "added", json_object_new_int(rep.added));
		json_object_object_add(j, "removed", json_object_new_int(rep.removed));
		json_object_object_add(j, "kept", json_object_new_int(rep.kept));
		json_object_object_add(j, "rules", json_object_new_int(want->n));
		json_object_object_add(j, "policy", json_object_new_string(policy_name(want->policy)));
		json_object_object_add(j, "switch_ms", json_object_new_double(rep.switch_ms));
		json_object_object_add(j, "total_ms", json_object_new_double(rep.total_ms));
		cli_print_json(cli, j);
		json_object_put(j);
	} else {
		char *safe = cli_escape(what);	/* a file name: one line */

		if (rep.unchanged)
			printf("no change: %s already in force (%d rules, policy %s)\n", safe ? safe : what,
			       want->n, policy_name(want->policy));
		else
			printf("%s: added %d, removed %d, kept %d; %d rules, policy %s%s; in force after %.1f ms\n",
			       safe ? safe : what, rep.added, rep.removed, rep.kept, want->n,
			       policy_name(want->policy), rep.policy_changed ? " (changed)" : "",
			       rep.switch_ms);
		free(safe);
	}
	return 0;
}

/* add/del: options, the one rule from the words, then the transaction. */
static int begin_one_rule(struct cli *cli, const struct cmd *cmd, int argc, char **argv,
			  struct rule_args *a, struct pw_rule *r, struct pw_ord_rule *o,
			  struct rule_tx *tx)
{
	char text[PW_RULE_TEXT_MAX + 1], err[PW_ERR_LEN];
	int ret;

	if ((ret = parse(cli, cmd, argc, argv, a)))
		return ret;
	if (!a->argc)
		return cli_usage(cli, cmd, "missing rule");
	if (join(text, sizeof(text), a->argc, a->argv))
		return cli_err(cli, "rule '%.40s...' is longer than %d characters", text, PW_RULE_TEXT_MAX);
	if (pw_rule_parse_full(text, r, o, err, sizeof(err)))
		return cli_err(cli, "%s", err);
	return tx_begin(cli, tx);
}

/* Where a new rule goes: a single-match rule joins the table (after its
 * last rule); an ordered one goes last, first, or before rule id --before
 * (before the table when that id is a single-match rule). An error is the
 * negative exit status. */
static int add_position(struct cli *cli, const struct rule_args *a, const struct pw_ruleset *rs,
			const struct pw_rule *r)
{
	unsigned int id;
	int last_single = -1;

	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].kind != PW_RK_ORDERED)
			last_single = i;
	if (r->kind != PW_RK_ORDERED) {
		if (a->first || a->before)
			return -cli_err(cli, "a single-match rule joins the prefix table (longest prefix first), which has no order: --first and --before place ordered rules");
		return last_single >= 0 ? last_single + 1 : rs->n;
	}
	if (a->first)
		return 0;
	if (!a->before)
		return rs->n;
	if (cli_parse_u32(a->before, &id) || !id)
		return -cli_err(cli, "invalid --before '%s': a rule id (see 'pinwall rule list')", a->before);
	for (int i = 0; i < rs->n; i++) {
		if (rs->ids[i] != id)
			continue;
		if (rs->r[i].kind == PW_RK_ORDERED)
			return i;
		for (int j = 0; j < rs->n; j++)	/* the table's place */
			if (rs->r[j].kind != PW_RK_ORDERED)
				return j;
	}
	return -cli_err(cli, "no rule with id %u (see 'pinwall rule list')", id);
}

/* A rule with the same match in force: duplicate (same action) or conflicting. */
static int same_in_force(struct cli *cli, const struct pw_ruleset *cur, const struct pw_rule *r,
			 const struct pw_ord_rule *o, const char *name)
{
	struct pw_ruleset one = { 0 };
	char text[PW_RULE_TEXT_MAX + 1];
	int ret = 0;

	if (pw_ruleset_push(&one, r, o, 0))
		return cli_err(cli, "out of memory");
	for (int i = 0; i < cur->n && !ret; i++) {
		if (!pw_ruleset_same_match(cur, i, &one, 0))
			continue;
		pw_ruleset_format(cur, i, text, sizeof(text));
		ret = cli_err(cli, "%s rule '%s': the set has '%s'", cur->r[i].action == r->action ?
			      "duplicate" : "conflicting", name, text);
	}
	pw_ruleset_free(&one);
	return ret;
}

static int do_rule_add(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("add");
	char name[PW_RULE_TEXT_MAX + 1];
	struct pw_ruleset want;
	struct pw_ord_rule o;
	struct rule_args a;
	struct rule_tx tx;
	struct pw_rule r;
	int ret, pos;

	if ((ret = begin_one_rule(cli, cmd, argc, argv, &a, &r, &o, &tx)))
		return ret;
	pw_rule_format_full(&r, &o, name, sizeof(name));
	if ((ret = same_in_force(cli, &tx.cur, &r, &o, name)))
		goto out;
	if (tx.cur.n >= PW_MAX_RULES - 1) {
		ret = cli_err(cli, "table full: at most %d rules", PW_MAX_RULES - 1);
		goto out;
	}
	if ((pos = add_position(cli, &a, &tx.cur, &r)) < 0) {
		ret = -pos;
		goto out;
	}
	if (pw_ruleset_copy(&want, &tx.cur) || pw_ruleset_insert(&want, pos, &r, &o, 0)) {
		ret = cli_err(cli, "out of memory");
		goto out;
	}
	if (pw_ruleset_check(&cli->ctx, &want, NULL))
		ret = cli_lib_err(cli);
	else
		ret = commit(cli, &tx, &want, a.force, name);
	pw_ruleset_free(&want);
out:
	tx_end(&tx);
	return ret;
}

static int do_rule_del(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("del");
	char name[PW_RULE_TEXT_MAX + 1];
	struct pw_ruleset want, one = { 0 };
	struct pw_ord_rule o;
	struct rule_args a;
	struct rule_tx tx;
	struct pw_rule r;
	int ret, found = -1;

	if ((ret = begin_one_rule(cli, cmd, argc, argv, &a, &r, &o, &tx)))
		return ret;
	pw_rule_format_full(&r, &o, name, sizeof(name));
	if (pw_ruleset_push(&one, &r, &o, 0)) {
		ret = cli_err(cli, "out of memory");
		goto out;
	}
	for (int i = 0; i < tx.cur.n && found < 0; i++)
		if (pw_ruleset_same_match(&tx.cur, i, &one, 0) && tx.cur.r[i].action == r.action)
			found = i;
	if (found < 0) {
		ret = cli_err(cli, "no such rule '%s' (see 'pinwall rule list')", name);
		goto out;
	}
	if (pw_ruleset_copy(&want, &tx.cur)) {
		ret = cli_err(cli, "out of memory");
		goto out;
	}
	pw_ruleset_remove(&want, found);
	ret = commit(cli, &tx, &want, a.force, name);
	pw_ruleset_free(&want);
out:
	pw_ruleset_free(&one);
	tx_end(&tx);
	return ret;
}

/*
 * A FIFO, a terminal or a slow pipe can keep the read of a rule file
 * waiting: after WAIT_NOTE_SEC seconds one line on stderr says so. The read
 * goes on (SA_RESTART); nothing changes before the file is read whole.
 */
#define WAIT_NOTE_SEC 5

static char wait_note[4 * PW_PATH_LEN + 192];
static size_t wait_note_len;

static void on_wait_alarm(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, wait_note, wait_note_len) < 0)
		return;		/* nowhere to say it */
}

static void wait_note_arm(const char *path)
{
	struct sigaction sa = { .sa_handler = on_wait_alarm, .sa_flags = SA_RESTART };
	char *safe = strcmp(path, "-") ? cli_escape(path) : NULL;

	if (safe)
		snprintf(wait_note, sizeof(wait_note),
			 "pinwall: still reading rule file '%s' after %d s: the rules apply once it is read to its end (ctrl-c gives up, nothing changed)\n",
			 safe, WAIT_NOTE_SEC);
	else
		snprintf(wait_note, sizeof(wait_note),
			 "pinwall: still reading the rules from standard input after %d s: they apply at its end (ctrl-d; ctrl-c gives up, nothing changed)\n",
			 WAIT_NOTE_SEC);
	free(safe);
	wait_note_len = strlen(wait_note);
	sigaction(SIGALRM, &sa, NULL);
	alarm(WAIT_NOTE_SEC);
}

static void wait_note_disarm(void)
{
	alarm(0);
	signal(SIGALRM, SIG_DFL);
}

/* The rule file read whole, or refused: see pw_ruleset_parse_file. */
static int read_rule_file(struct cli *cli, const char *path, struct pw_ruleset *want)
{
	int err;

	if (!strcmp(path, "-") && cli->stdin_closed)
		return cli_err(cli, "rule file '-': standard input is closed; nothing was changed");
	wait_note_arm(path);
	err = pw_ruleset_parse_file(&cli->ctx, path, want);
	wait_note_disarm();
	return err ? cli_lib_err(cli) : 0;
}

static int do_rule_apply(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("apply");
	struct pw_ruleset want;
	struct rule_args a;
	struct rule_tx tx;
	int ret;

	if ((ret = parse(cli, cmd, argc, argv, &a)))
		return ret;
	if (a.argc != 1)
		return cli_usage(cli, cmd, a.argc ? "one rule file only" : "missing rule file");
	/* the whole file is checked before anything is touched */
	if ((ret = read_rule_file(cli, a.argv[0], &want)))
		return ret;
	if ((ret = tx_begin(cli, &tx))) {
		pw_ruleset_free(&want);
		return ret;
	}
	if (a.policy >= 0) {
		if (want.policy >= 0 && want.policy != a.policy) {
			ret = cli_err(cli, "--policy %s contradicts 'policy %s' in '%s'",
				      policy_name(a.policy), policy_name(want.policy), a.argv[0]);
			goto out;
		}
		want.policy = a.policy;
	}
	if (want.policy < 0)
		want.policy = (int)PW_CFG_POLICY(&tx.cfg);
	/* never flip a kept rule set between allow and deny by accident */
	if (want.policy != (int)PW_CFG_POLICY(&tx.cfg) && tx.cur.n && !a.change_policy) {
		ret = cli_err(cli, "'%s' sets policy %s but the %d rules in force use policy %s: add --change-policy to change it",
			      a.argv[0], policy_name(want.policy), tx.cur.n, policy_name((int)PW_CFG_POLICY(&tx.cfg)));
		goto out;
	}
	ret = commit(cli, &tx, &want, a.force, a.argv[0]);
out:
	pw_ruleset_free(&want);
	tx_end(&tx);
	return ret;
}

static int do_rule_flush(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("flush");
	struct pw_ruleset want = { 0 };
	struct rule_args a;
	struct rule_tx tx;
	int ret;

	if ((ret = parse(cli, cmd, argc, argv, &a)))
		return ret;
	if (a.argc)
		return cli_usage(cli, cmd, "unexpected argument '%s'", a.argv[0]);
	if ((ret = tx_begin(cli, &tx)))
		return ret;
	/* the rules go; the sets stay (pinwall set flush empties one) */
	if (pw_ruleset_copy(&want, &tx.cur)) {
		tx_end(&tx);
		return cli_err(cli, "out of memory");
	}
	while (want.n)
		pw_ruleset_remove(&want, want.n - 1);
	ret = commit(cli, &tx, &want, a.force, "flush");
	pw_ruleset_free(&want);
	tx_end(&tx);
	return ret;
}

static int do_rule_policy(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("policy");
	struct pw_ruleset want;
	struct rule_args a;
	struct rule_tx tx;
	int ret, policy;

	if ((ret = parse(cli, cmd, argc, argv, &a)))
		return ret;
	if (a.argc == 0) {
		struct pw_rules_maps m;
		struct pw_ruleset cur;
		struct pw_config cfg;

		if (pw_check_caps_read(&cli->ctx) || pw_rules_open(&cli->ctx, &m, false, true) ||
		    pw_rules_read(&cli->ctx, &m, &cur, &cfg))
			return cli_lib_err(cli);
		if (cli->json) {
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "policy", json_object_new_string(policy_name((int)PW_CFG_POLICY(&cfg))));
			cli_print_json(cli, j);
			json_object_put(j);
		} else {
			printf("policy %s\n", policy_name((int)PW_CFG_POLICY(&cfg)));
		}
		pw_ruleset_free(&cur);
		pw_rules_close(&m);
		return 0;
	}
	if (a.argc > 1)
		return cli_usage(cli, cmd, "one policy word expected, got extra '%s' after '%s'",
				 a.argv[1], a.argv[0]);
	if (strcmp(a.argv[0], "allow") && strcmp(a.argv[0], "deny"))
		return cli_usage(cli, cmd, "invalid policy '%s': use allow or deny", a.argv[0]);
	policy = !strcmp(a.argv[0], "deny") ? PW_POLICY_DENY : PW_POLICY_ALLOW;
	if ((ret = tx_begin(cli, &tx)))
		return ret;
	if (policy != (int)PW_CFG_POLICY(&tx.cfg) && tx.cur.n && !a.change_policy) {
		ret = cli_err(cli, "the %d rules in force use policy %s: add --change-policy to change it to %s",
			      tx.cur.n, policy_name((int)PW_CFG_POLICY(&tx.cfg)), a.argv[0]);
		goto out;
	}
	if (pw_ruleset_copy(&want, &tx.cur)) {
		ret = cli_err(cli, "out of memory");
		goto out;
	}
	want.policy = policy;
	ret = commit(cli, &tx, &want, a.force, "policy");
	pw_ruleset_free(&want);
out:
	tx_end(&tx);
	return ret;
}

struct listed {
	int idx;		/* place in the evaluation order */
	struct pw_counter c;
	__u32 id;
};

static const char *sort_key;

static int cmp_listed(const void *x, const void *y)
{
	const struct listed *a = x, *b = y;

	if (sort_key && !strcmp(sort_key, "hits") && a->c.packets != b->c.packets)
		return a->c.packets > b->c.packets ? -1 : 1;
	if (sort_key && !strcmp(sort_key, "bytes") && a->c.bytes != b->c.bytes)
		return a->c.bytes > b->c.bytes ? -1 : 1;
	if (sort_key && !strcmp(sort_key, "rule"))
		return a->id < b->id ? -1 : a->id > b->id;
	return a->idx - b->idx;
}

/* Address rules inside @filter (same family, at least as long, same bits). */
static bool in_prefix(const struct pw_rule *r, const struct pw_rule *filter)
{
	__u32 a[4];
	int words;

	if ((r->kind != PW_RK_SRC && r->kind != PW_RK_DST) || r->family != filter->family ||
	    r->len < filter->len)
		return false;
	memcpy(a, r->addr, sizeof(a));
	words = r->family == 4 ? 1 : 4;
	for (int w = 0; w < words; w++) {
		int bits = (int)filter->len - 32 * w;

		if (bits < 32)
			a[w] = bits <= 0 ? 0 : htonl(ntohl(a[w]) & ~(0xffffffffu >> bits));
	}
	return !memcmp(a, filter->addr, r->family == 4 ? 4 : 16);
}

static int do_rule_list(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = rule_cmd("list");
	struct pw_counter *cnt = NULL, total = { 0 };
	struct listed *l = NULL;
	struct pw_rules_maps m;
	struct pw_ruleset cur;
	struct pw_config cfg;
	struct pw_rule filter;
	struct rule_args a;
	char text[PW_RULE_TEXT_MAX + 1], err[PW_ERR_LEN];
	int ret, n = 0;

	if ((ret = parse(cli, cmd, argc, argv, &a)))
		return ret;
	if (a.argc)
		return cli_usage(cli, cmd, "unexpected argument '%s'", a.argv[0]);
	if (a.prefix) {
		if ((size_t)snprintf(text, sizeof(text), "drop src %s", a.prefix) >= sizeof(text))
			return cli_usage(cli, cmd, "invalid --prefix '%.40s...': longer than an address",
					 a.prefix);
		if (pw_rule_parse(text, &filter, err, sizeof(err)))
			return cli_usage(cli, cmd, "invalid --prefix '%s': %s", a.prefix, err);
	}
	if (pw_check_caps_read(&cli->ctx) || pw_bpffs_prepare(&cli->ctx, false) ||
	    pw_rules_open(&cli->ctx, &m, false, true))
		return cli_lib_err(cli);
	if (pw_rules_read(&cli->ctx, &m, &cur, &cfg)) {
		pw_rules_close(&m);
		return cli_lib_err(cli);
	}
	{
		struct pw_intent in;

		/* the list is right either way (marks decide); say what is pending */
		if (pw_rules_interrupted(&cli->ctx, &in))
			fprintf(stderr, "pinwall: note: a rule apply (pid %u) was interrupted: 'pinwall recover' settles it\n",
				in.pid);
	}
	cnt = calloc(cur.n + 1, sizeof(*cnt));
	l = calloc(cur.n + 1, sizeof(*l));
	if (!cnt || !l || pw_rules_counters(&cli->ctx, &m, &cur, cnt)) {
		ret = cnt && l ? cli_lib_err(cli) : cli_err(cli, "out of memory");
		goto out;
	}
	for (int i = 0; i < cur.n; i++) {
		if (a.prefix && !in_prefix(&cur.r[i], &filter))
			continue;
		l[n].idx = i;
		l[n].c = cnt[i];
		l[n].id = cur.ids[i];
		total.packets += cnt[i].packets;
		total.bytes += cnt[i].bytes;
		n++;
	}
	sort_key = a.sort;
	qsort(l, n, sizeof(*l), cmp_listed);
	if (cli->json) {
		struct json_object *j = json_object_new_object(), *arr = json_object_new_array(), *t;

		json_object_object_add(j, "policy", json_object_new_string(policy_name((int)PW_CFG_POLICY(&cfg))));
		for (int i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();

			pw_ruleset_format(&cur, l[i].idx, text, sizeof(text));
			json_object_object_add(o, "id", json_object_new_int64(l[i].id));
			json_object_object_add(o, "ordered", json_object_new_boolean(cur.r[l[i].idx].kind == PW_RK_ORDERED));
			json_object_object_add(o, "rule", json_object_new_string(text));
			json_object_object_add(o, "packets", json_object_new_int64((int64_t)l[i].c.packets));
			json_object_object_add(o, "bytes", json_object_new_int64((int64_t)l[i].c.bytes));
			json_object_array_add(arr, o);
		}
		json_object_object_add(j, "rules", arr);
		t = json_object_new_object();
		json_object_object_add(t, "rules", json_object_new_int(n));
		json_object_object_add(t, "packets", json_object_new_int64((int64_t)total.packets));
		json_object_object_add(t, "bytes", json_object_new_int64((int64_t)total.bytes));
		json_object_object_add(j, "total", t);
		cli_print_json(cli, j);
		json_object_put(j);
	} else {
		printf("policy %s, %d rule(s)%s\n", policy_name((int)PW_CFG_POLICY(&cfg)), n,
		       a.prefix ? " in the prefix" : "");
		printf("%-7s %-44s %14s %16s\n", "id", "rule", "packets", "bytes");
		for (int i = 0; i < n; i++) {
			pw_ruleset_format(&cur, l[i].idx, text, sizeof(text));
			printf("%-7u %-44s %14llu %16llu\n", l[i].id, text,
			       (unsigned long long)l[i].c.packets, (unsigned long long)l[i].c.bytes);
		}
		printf("%-7s %-44s %14llu %16llu\n", "total", "", (unsigned long long)total.packets,
		       (unsigned long long)total.bytes);
	}
out:
	free(cnt);
	free(l);
	pw_ruleset_free(&cur);
	pw_rules_close(&m);
	return ret;
}

static const struct cmd rule_cmds[] = {
	{ "add", do_rule_add, "RULE [--first|--before ID] [--force]", "add one rule" },
	{ "del", do_rule_del, "RULE", "delete one rule (exact match)" },
	{ "list", do_rule_list, "[--sort order|hits|bytes|rule] [--prefix PREFIX]",
	  "rules with their hit counters" },
	{ "apply", do_rule_apply, "FILE [--policy allow|deny] [--change-policy] [--force]",
	  "make FILE the whole rule set, atomically" },
	{ "flush", do_rule_flush, "[--force]", "remove every rule" },
	{ "policy", do_rule_policy, "[allow|deny [--change-policy]]",
	  "show or set the verdict for IP traffic no rule decides" },
	{ 0 },
};

static const struct cmd *rule_cmd(const char *name)
{
	for (const struct cmd *c = rule_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int do_rule(struct cli *cli, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "Usage: pinwall rule COMMAND\n");
		for (const struct cmd *c = rule_cmds; c->name; c++)
			fprintf(stderr, "  rule %-7s %s\n", c->name, c->usage);
		return 2;
	}
	cli->group = "rule";	/* usage lines say 'pinwall rule list' */
	return cli_dispatch(cli, rule_cmds, argc - 1, argv + 1);
}
