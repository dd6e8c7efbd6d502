// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* set list|add|del|flush: the named sets the ordered rules use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct set_args {
	bool force;
	int by_hits;
	int argc;
	char **argv;
};

static const struct cli_word sort_keys[] = { { "prefix", 0 }, { "hits", 1 }, { NULL } };

static const struct cli_opt list_opts[] = {
	CLI_ENUM("sort", 0, struct set_args, by_hits, "KEY", sort_keys,
		 "order of each set's prefixes (default: prefix)", .what = "sort key"),
	{ NULL },
};

static const struct cli_opt change_opts[] = {
	CLI_FLAG("force", 0, struct set_args, force,
		 "even when the change would drop this SSH session"),
	{ NULL },
};

static int parse(struct cli *cli, int argc, char **argv, struct set_args *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = cli_parse(cli, cli->cmd, argc, argv, a, &a->argc, &a->argv)))
		return ret;
	return cli_setup(cli);
}

static const __u64 *sort_hits;

static int cmp_by_hits(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	if (sort_hits[a] != sort_hits[b])
		return sort_hits[a] > sort_hits[b] ? -1 : 1;
	return a - b;
}

/* One set: its prefixes (sorted, or by hits) with their hits. */
static int print_set(struct cli *cli, const struct pw_rules_maps *m, const struct pw_ruleset *rs,
		     const struct pw_set *s, bool by_hits, struct json_object *arr)
{
	__u64 *hits = calloc(s->n + 1, sizeof(*hits)), total = 0;
	int *order = calloc(s->n + 1, sizeof(*order));
	struct json_object *o = NULL, *e = NULL;
	char p[64];

	if (!hits || !order) {
		free(hits);
		free(order);
		return cli_err(cli, "out of memory");
	}
	if (pw_set_hits(&cli->ctx, m, rs, s, hits)) {
		free(hits);
		free(order);
		return cli_lib_err(cli);
	}
	for (int i = 0; i < s->n; i++) {
		order[i] = i;
		total += hits[i];
	}
	sort_hits = hits;
	if (by_hits)
		qsort(order, s->n, sizeof(*order), cmp_by_hits);
	if (cli->json) {
		o = json_object_new_object();
		e = json_object_new_array();
		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "elements", json_object_new_int(s->n));
		json_object_object_add(o, "hits", json_object_new_int64((int64_t)total));
	} else {
		printf("set %s (%d prefix%s, %llu hits)\n", s->name, s->n, s->n == 1 ? "" : "es",
		       (unsigned long long)total);
	}
	for (int k = 0; k < s->n; k++) {
		int i = order[k];

		pw_prefix_format(&s->e[i], p, sizeof(p));
		if (cli->json) {
			struct json_object *x = json_object_new_object();

			json_object_object_add(x, "prefix", json_object_new_string(p));
			json_object_object_add(x, "hits", json_object_new_int64((int64_t)hits[i]));
			json_object_array_add(e, x);
		} else {
			printf("  %-43s %14llu\n", p, (unsigned long long)hits[i]);
		}
	}
	if (cli->json) {
		json_object_object_add(o, "prefixes", e);
		json_object_array_add(arr, o);
	}
	free(hits);
	free(order);
	return 0;
}

static int do_set_list(struct cli *cli, int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct pw_rules_maps m;
	struct pw_ruleset cur;
	struct pw_config cfg;
	struct set_args a;
	int ret = 0;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	if (pw_check_caps_read(&cli->ctx) || pw_bpffs_prepare(&cli->ctx, false) ||
	    pw_rules_open(&cli->ctx, &m, false, true))
		return cli_lib_err(cli);
	if (pw_rules_read(&cli->ctx, &m, &cur, &cfg)) {
		pw_rules_close(&m);
		return cli_lib_err(cli);
	}
	if (a.argc && !pw_ruleset_find_set(&cur, a.argv[0])) {
		ret = cli_err(cli, "unknown set '%s' (see 'pinwall set list')", a.argv[0]);
		goto out;
	}
	if (cli->json)
		arr = json_object_new_array();
	for (int i = 0; i < cur.n_sets && !ret; i++)
		if (!a.argc || !strcmp(cur.sets[i].name, a.argv[0]))
			ret = print_set(cli, &m, &cur, &cur.sets[i], a.by_hits, arr);
	if (cli->json && !ret) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "sets", arr);
		cli_print_json(cli, j);
		json_object_put(j);
	} else if (arr) {
		json_object_put(arr);
	}
out:
	pw_ruleset_free(&cur);
	pw_rules_close(&m);
	return ret;
}

/* add/del/flush: every prefix checked before anything starts. */
static int set_change(struct cli *cli, const char *verb, enum pw_rule_op op, int argc, char **argv)
{
	struct pw_rule_change c = { .op = op, .policy = -1 };
	struct pw_change_result res;
	struct pw_prefix *p;
	struct set_args a;
	char err[PW_ERR_LEN], what[128];
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	if (!(p = calloc(a.argc, sizeof(*p))))
		return cli_err(cli, "out of memory");
	for (int i = 1; i < a.argc; i++)
		if (pw_prefix_parse(a.argv[i], &p[i - 1], err, sizeof(err))) {
			free(p);
			return cli_err(cli, "%s; nothing was changed", err);
		}
	c.set = a.argv[0];
	c.prefixes = p;
	c.n_prefixes = a.argc - 1;
	c.force = a.force;
	snprintf(what, sizeof(what), "set %s %.*s", verb, PW_SET_NAME_LEN, a.argv[0]);
	ret = pw_rules_change(&cli->ctx, &c, &res);
	ret = report_change(cli, ret, &res, what);
	free(p);
	return ret;
}

static int do_set_add(struct cli *cli, int argc, char **argv)
{
	return set_change(cli, "add", PW_RC_SET_ADD, argc, argv);
}

static int do_set_del(struct cli *cli, int argc, char **argv)
{
	return set_change(cli, "del", PW_RC_SET_DEL, argc, argv);
}

static int do_set_flush(struct cli *cli, int argc, char **argv)
{
	return set_change(cli, "flush", PW_RC_SET_FLUSH, argc, argv);
}

const struct cmd set_cmds[] = {
	{ .name = "list", .fn = do_set_list, .args = "[SET]", .max_args = 1, .opts = list_opts,
	  .help = "sets in force with their prefixes and hits" },
	{ .name = "add", .fn = do_set_add, .args = "SET PREFIX...", .min_args = 2, .max_args = -1,
	  .opts = change_opts, .help = "add prefixes to a set, atomically" },
	{ .name = "del", .fn = do_set_del, .args = "SET PREFIX...", .min_args = 2, .max_args = -1,
	  .opts = change_opts, .help = "delete prefixes from a set, atomically" },
	{ .name = "flush", .fn = do_set_flush, .args = "SET", .min_args = 1, .max_args = 1,
	  .opts = change_opts, .help = "empty a set" },
	{ 0 },
};
