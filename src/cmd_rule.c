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

enum { SORT_ORDER, SORT_HITS, SORT_BYTES, SORT_RULE };

struct rule_args {
	bool force, change_policy, first;
	int policy;			/* -1: not given */
	int sort;
	const char *prefix;
	unsigned int before;		/* 0: not given */
	int argc;
	char **argv;			/* positional words after the subcommand */
};

static const struct cli_word policies[] = {
	{ "allow", PW_POLICY_ALLOW }, { "deny", PW_POLICY_DENY }, { NULL },
};
static const struct cli_word sort_keys[] = {
	{ "order", SORT_ORDER }, { "hits", SORT_HITS }, { "bytes", SORT_BYTES },
	{ "rule", SORT_RULE }, { NULL },
};

#define FORCE_OPT CLI_FLAG("force", 0, struct rule_args, force, \
			   "even when the change would drop this SSH session")
#define CHANGE_POLICY_OPT CLI_FLAG("change-policy", 0, struct rule_args, change_policy, \
				   "allow a policy change while rules are in force")

static const struct cli_opt add_opts[] = {
	CLI_FLAG("first", 0, struct rule_args, first, "an ordered rule goes first (default: last)"),
	CLI_UINT("before", 0, struct rule_args, before, "ID", 1, 0,
		 "an ordered rule goes before the rule with this id", .what = "--before",
		 .range = "a rule id (see 'pinwall rule list')"),
	FORCE_OPT,
	{ NULL },
};

static const struct cli_opt del_opts[] = { FORCE_OPT, { NULL } };
static const struct cli_opt flush_opts[] = { FORCE_OPT, { NULL } };

static const struct cli_opt apply_opts[] = {
	CLI_ENUM("policy", 0, struct rule_args, policy, "POLICY", policies,
		 "the policy (it must agree with the file's)"),
	CHANGE_POLICY_OPT,
	FORCE_OPT,
	{ NULL },
};

static const struct cli_opt policy_opts[] = { CHANGE_POLICY_OPT, FORCE_OPT, { NULL } };

static const struct cli_opt list_opts[] = {
	CLI_ENUM("sort", 0, struct rule_args, sort, "KEY", sort_keys,
		 "order of the list (default: evaluation order)", .what = "sort key"),
	CLI_STR("prefix", 0, struct rule_args, prefix, "PREFIX",
		"only the address rules inside PREFIX"),
	{ NULL },
};

/* The subcommand's options by its table; the words left in @a. */
static int parse(struct cli *cli, int argc, char **argv, struct rule_args *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->policy = -1;
	if ((ret = cli_parse(cli, cli->cmd, argc, argv, a, &a->argc, &a->argv)))
		return ret;
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

/* The recovery note, the warnings, and the outcome of a rule or set verb. */
int report_change(struct cli *cli, int err, const struct pw_change_result *res, const char *what)
{
	if (res->rec.found)
		fprintf(stderr, "pinwall: %s the interrupted rule apply of pid %u first\n",
			res->rec.completed ? "finished" : "rolled back", res->rec.pid);
	if (res->warnings && !cli->json)
		fputs(res->warnings, stderr);
	free(res->warnings);
	if (err)
		return cli_lib_err(cli);
	if (cli->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "changed", json_object_new_boolean(!res->rep.unchanged));
		json_object_object_add(j, "added", json_object_new_int(res->rep.added));
		json_object_object_add(j, "removed", json_object_new_int(res->rep.removed));
		json_object_object_add(j, "kept", json_object_new_int(res->rep.kept));
		json_object_object_add(j, "rules", json_object_new_int(res->rules));
		json_object_object_add(j, "policy", json_object_new_string(policy_name(res->policy)));
		json_object_object_add(j, "switch_ms", json_object_new_double(res->rep.switch_ms));
		json_object_object_add(j, "total_ms", json_object_new_double(res->rep.total_ms));
		cli_print_json(cli, j);
		json_object_put(j);
	} else {
		char *safe = cli_escape(what);	/* a file name: one line */

		if (res->rep.unchanged)
			printf("no change: %s already in force (%d rules, policy %s)\n", safe ? safe : what,
			       res->rules, policy_name(res->policy));
		else
			printf("%s: added %d, removed %d, kept %d; %d rules, policy %s%s; in force after %.1f ms\n",
			       safe ? safe : what, res->rep.added, res->rep.removed, res->rep.kept, res->rules,
			       policy_name(res->policy), res->rep.policy_changed ? " (changed)" : "",
			       res->rep.switch_ms);
		free(safe);
	}
	return 0;
}

static int run_change(struct cli *cli, struct pw_rule_change *c, const char *what)
{
	struct pw_change_result res;
	int err = pw_rules_change(&cli->ctx, c, &res);

	return report_change(cli, err, &res, what);
}

/* add/del: options and the one rule from the words. */
static int one_rule(struct cli *cli, int argc, char **argv, struct rule_args *a,
		    struct pw_rule_change *c, char *name, size_t len)
{
	char text[PW_RULE_TEXT_MAX + 1], err[PW_ERR_LEN];
	int ret;

	if ((ret = parse(cli, argc, argv, a)))
		return ret;
	if (join(text, sizeof(text), a->argc, a->argv))
		return cli_err(cli, "rule '%.40s...' is longer than %d characters", text, PW_RULE_TEXT_MAX);
	if (pw_rule_parse_full(text, &c->rule, &c->ord, err, sizeof(err)))
		return cli_err(cli, "%s", err);
	c->first = a->first;
	c->before = a->before;
	c->force = a->force;
	pw_rule_format_full(&c->rule, &c->ord, name, len);
	return 0;
}

static int do_rule_add(struct cli *cli, int argc, char **argv)
{
	struct pw_rule_change c = { .op = PW_RC_ADD, .policy = -1 };
	char name[PW_RULE_TEXT_MAX + 1];
	struct rule_args a;
	int ret;

	if ((ret = one_rule(cli, argc, argv, &a, &c, name, sizeof(name))))
		return ret;
	return run_change(cli, &c, name);
}

static int do_rule_del(struct cli *cli, int argc, char **argv)
{
	struct pw_rule_change c = { .op = PW_RC_DEL, .policy = -1 };
	char name[PW_RULE_TEXT_MAX + 1];
	struct rule_args a;
	int ret;

	if ((ret = one_rule(cli, argc, argv, &a, &c, name, sizeof(name))))
		return ret;
	return run_change(cli, &c, name);
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
	struct pw_rule_change c = { .op = PW_RC_APPLY };
	struct pw_ruleset file;
	struct rule_args a;
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	/* the whole file is checked before anything is touched */
	if ((ret = read_rule_file(cli, a.argv[0], &file)))
		return ret;
	c.what = a.argv[0];
	c.file = &file;
	c.policy = a.policy;
	c.change_policy = a.change_policy;
	c.force = a.force;
	ret = run_change(cli, &c, a.argv[0]);
	pw_ruleset_free(&file);
	return ret;
}

static int do_rule_flush(struct cli *cli, int argc, char **argv)
{
	struct pw_rule_change c = { .op = PW_RC_FLUSH, .policy = -1 };
	struct rule_args a;
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	c.force = a.force;
	return run_change(cli, &c, "flush");
}

static int show_policy(struct cli *cli)
{
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

static int do_rule_policy(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = cli->cmd;
	struct pw_rule_change c = { .op = PW_RC_POLICY };
	struct rule_args a;
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	if (a.argc == 0)
		return show_policy(cli);
	if (a.argc > 1)
		return cli_usage(cli, cmd, "one policy word expected, got extra '%s' after '%s'",
				 a.argv[1], a.argv[0]);
	if (strcmp(a.argv[0], "allow") && strcmp(a.argv[0], "deny"))
		return cli_usage(cli, cmd, "invalid policy '%s': use allow or deny", a.argv[0]);
	c.policy = !strcmp(a.argv[0], "deny") ? PW_POLICY_DENY : PW_POLICY_ALLOW;
	c.change_policy = a.change_policy;
	c.force = a.force;
	return run_change(cli, &c, "policy");
}

struct listed {
	int idx;		/* place in the evaluation order */
	struct pw_counter c;	/* a limit rule: what it dropped */
	struct pw_counter passed;	/* a limit rule: what it let on */
	__u32 id;
};

static int sort_key;

static int cmp_listed(const void *x, const void *y)
{
	const struct listed *a = x, *b = y;

	if (sort_key == SORT_HITS && a->c.packets != b->c.packets)
		return a->c.packets > b->c.packets ? -1 : 1;
	if (sort_key == SORT_BYTES && a->c.bytes != b->c.bytes)
		return a->c.bytes > b->c.bytes ? -1 : 1;
	if (sort_key == SORT_RULE)
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

/* The rules listed, filtered and sorted. */
struct listing {
	struct pw_ruleset cur;
	struct pw_config cfg;
	struct listed *l;
	int n;
	struct pw_counter total;
};

static void list_json(struct cli *cli, const struct listing *ls)
{
	struct json_object *j = json_object_new_object(), *arr = json_object_new_array(), *t;
	char text[PW_RULE_TEXT_MAX + 1];

	json_object_object_add(j, "policy", json_object_new_string(policy_name((int)PW_CFG_POLICY(&ls->cfg))));
	for (int i = 0; i < ls->n; i++) {
		struct json_object *o = json_object_new_object();
		const struct listed *l = &ls->l[i];

		pw_ruleset_format(&ls->cur, l->idx, text, sizeof(text));
		json_object_object_add(o, "id", json_object_new_int64(l->id));
		json_object_object_add(o, "ordered", json_object_new_boolean(ls->cur.r[l->idx].kind == PW_RK_ORDERED));
		json_object_object_add(o, "rule", json_object_new_string(text));
		json_object_object_add(o, "packets", json_object_new_int64((int64_t)l->c.packets));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)l->c.bytes));
		if (ls->cur.r[l->idx].action == PW_ACT_LIMIT) {
			struct json_object *p = json_object_new_object();

			json_object_object_add(p, "packets", json_object_new_int64((int64_t)l->passed.packets));
			json_object_object_add(p, "bytes", json_object_new_int64((int64_t)l->passed.bytes));
			json_object_object_add(o, "passed", p);
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "rules", arr);
	t = json_object_new_object();
	json_object_object_add(t, "rules", json_object_new_int(ls->n));
	json_object_object_add(t, "packets", json_object_new_int64((int64_t)ls->total.packets));
	json_object_object_add(t, "bytes", json_object_new_int64((int64_t)ls->total.bytes));
	json_object_object_add(j, "total", t);
	cli_print_json(cli, j);
	json_object_put(j);
}

static void list_text(const struct listing *ls, bool filtered)
{
	char text[PW_RULE_TEXT_MAX + 1];

	printf("policy %s, %d rule(s)%s\n", policy_name((int)PW_CFG_POLICY(&ls->cfg)), ls->n,
	       filtered ? " in the prefix" : "");
	printf("%-7s %-44s %14s %16s\n", "id", "rule", "packets", "bytes");
	for (int i = 0; i < ls->n; i++) {
		pw_ruleset_format(&ls->cur, ls->l[i].idx, text, sizeof(text));
		printf("%-7u %-44s %14llu %16llu\n", ls->l[i].id, text,
		       (unsigned long long)ls->l[i].c.packets, (unsigned long long)ls->l[i].c.bytes);
		if (ls->cur.r[ls->l[i].idx].action == PW_ACT_LIMIT)
			printf("%-7s %-44s %14llu %16llu\n", "", "  (passed on; the counts above: dropped)",
			       (unsigned long long)ls->l[i].passed.packets,
			       (unsigned long long)ls->l[i].passed.bytes);
	}
	printf("%-7s %-44s %14llu %16llu\n", "total", "", (unsigned long long)ls->total.packets,
	       (unsigned long long)ls->total.bytes);
}

/* Read the rules and their counters; keep those in @filter (NULL: all). */
static int list_collect(struct cli *cli, const struct pw_rules_maps *m, const struct pw_rule *filter,
			int sort, struct listing *ls)
{
	struct pw_counter *cnt;
	struct pw_intent in;

	if (pw_rules_read(&cli->ctx, m, &ls->cur, &ls->cfg))
		return cli_lib_err(cli);
	/* the list is right either way (marks decide); say what is pending */
	if (pw_rules_interrupted(&cli->ctx, &in))
		fprintf(stderr, "pinwall: note: a rule apply (pid %u) was interrupted: 'pinwall recover' settles it\n",
			in.pid);
	cnt = calloc(ls->cur.n + 1, sizeof(*cnt));
	ls->l = calloc(ls->cur.n + 1, sizeof(*ls->l));
	if (!cnt || !ls->l || pw_rules_counters(&cli->ctx, m, &ls->cur, cnt)) {
		int ret = cnt && ls->l ? cli_lib_err(cli) : cli_err(cli, "out of memory");

		free(cnt);
		return ret;
	}
	for (int i = 0; i < ls->cur.n; i++) {
		if (filter && !in_prefix(&ls->cur.r[i], filter))
			continue;
		ls->l[ls->n] = (struct listed){ .idx = i, .c = cnt[i], .id = ls->cur.ids[i] };
		if (ls->cur.r[i].action == PW_ACT_LIMIT &&
		    pw_limit_passed(m, ls->cur.ids[i], &ls->l[ls->n].passed)) {
			free(cnt);
			return cli_err(cli, "out of memory");
		}
		ls->n++;
		ls->total.packets += cnt[i].packets;
		ls->total.bytes += cnt[i].bytes;
	}
	free(cnt);
	sort_key = sort;
	qsort(ls->l, ls->n, sizeof(*ls->l), cmp_listed);
	return 0;
}

static int do_rule_list(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = cli->cmd;
	struct listing ls = { 0 };
	struct pw_rules_maps m;
	struct pw_rule filter;
	struct rule_args a;
	char text[PW_RULE_TEXT_MAX + 1], err[PW_ERR_LEN];
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
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
	ret = list_collect(cli, &m, a.prefix ? &filter : NULL, a.sort, &ls);
	if (!ret && cli->json)
		list_json(cli, &ls);
	else if (!ret)
		list_text(&ls, a.prefix);
	free(ls.l);
	pw_ruleset_free(&ls.cur);
	pw_rules_close(&m);
	return ret;
}

const struct cmd rule_cmds[] = {
	{ .name = "add", .fn = do_rule_add, .args = "RULE...", .min_args = 1, .max_args = -1,
	  .opts = add_opts, .help = "add one rule (see RULES in pinwall(8))" },
	{ .name = "del", .fn = do_rule_del, .args = "RULE...", .min_args = 1, .max_args = -1,
	  .opts = del_opts, .help = "delete one rule (exact match)" },
	{ .name = "list", .fn = do_rule_list, .opts = list_opts,
	  .help = "rules with their hit counters" },
	{ .name = "apply", .fn = do_rule_apply, .args = "FILE", .min_args = 1, .max_args = 1,
	  .nouns = "rule file", .opts = apply_opts,
	  .help = "make FILE (- for standard input) the whole rule set, atomically" },
	{ .name = "flush", .fn = do_rule_flush, .opts = flush_opts, .help = "remove every rule" },
	/* any number: the rule file's message for extra words ("one policy word expected") */
	{ .name = "policy", .fn = do_rule_policy, .args = "[allow|deny]", .max_args = -1,
	  .opts = policy_opts, .help = "show or set the verdict for IP traffic no rule decides" },
	{ 0 },
};
