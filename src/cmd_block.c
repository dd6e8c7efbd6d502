// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* block add|del|list|flush: timed blocks by source address or prefix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "pinwall/block.h"

struct block_args {
	const char *dur;
	const char *file;
	int origin;		/* enum pw_block_origin; -1: not given */
	int argc;
	char **argv;
};

static const struct cli_word origins[] = {
	{ "manual", PW_BO_MANUAL }, { "fail2ban", PW_BO_FAIL2BAN }, { "crowdsec", PW_BO_CROWDSEC },
	{ "file", PW_BO_FILE }, { "other", PW_BO_OTHER }, { NULL },
};

static const struct cli_opt add_opts[] = {
	CLI_STR("for", 0, struct block_args, dur, "DURATION",
		"expire after DURATION (90, 90s, 10m, 2h, 7d, 1w; default: never)"),
	CLI_STR("file", 'f', struct block_args, file, "FILE",
		"also add the entries of FILE (- for stdin): ADDR[/LEN] [DURATION] a line"),
	CLI_ENUM("origin", 0, struct block_args, origin, "NAME", origins,
		 "who adds them (default: manual; file for --file entries)", .what = "origin"),
	{ NULL },
};

static const struct cli_opt del_opts[] = {
	CLI_STR("file", 'f', struct block_args, file, "FILE",
		"also delete the entries of FILE (- for stdin), as add reads it"),
	CLI_ENUM("origin", 0, struct block_args, origin, "NAME", origins,
		 "only entries of this origin (an unban leaves others' blocks)", .what = "origin"),
	{ NULL },
};

static const struct cli_opt flush_opts[] = {
	CLI_ENUM("origin", 0, struct block_args, origin, "NAME", origins,
		 "only the entries of this origin", .what = "origin"),
	{ NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

static int parse(struct cli *cli, int argc, char **argv, struct block_args *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->origin = -1;
	if ((ret = cli_parse(cli, cli->cmd, argc, argv, a, &a->argc, &a->argv)))
		return ret;
	return cli_setup(cli);
}

/* Every word, then the file, checked before anything changes. */
static int gather(struct cli *cli, const struct block_args *a, bool add,
		  struct pw_block_list *l)
{
	__u64 secs = 0, expires = 0;
	__u32 origin = a->origin >= 0 ? (__u32)a->origin : PW_BO_MANUAL;
	struct pw_block b;

	memset(l, 0, sizeof(*l));
	if (a->dur) {
		if (pw_block_duration_parse(&cli->ctx, a->dur, &secs))
			return cli_lib_err(cli);
		expires = (__u64)time(NULL) + secs;
	}
	if (a->file) {
		__u32 forig = a->origin >= 0 ? origin : PW_BO_FILE;

		if (pw_block_file_read(&cli->ctx, a->file, expires, forig, l))
			return cli_lib_err(cli);
	}
	for (int i = 0; i < a->argc; i++) {
		if (pw_block_parse(&cli->ctx, a->argv[i], &b)) {
			pw_block_list_free(l);
			return cli_err(cli, "%s; nothing was changed", cli->ctx.err);
		}
		b.expires = expires;
		b.origin = origin;
		if (pw_block_list_push(&cli->ctx, l, &b)) {
			pw_block_list_free(l);
			return cli_lib_err(cli);
		}
	}
	if (!l->n && !a->file)
		return cli_err(cli, "nothing to %s: name ADDR[/LEN] or --file FILE", add ? "add" : "delete");
	return 0;
}

static void report(struct cli *cli, const char *key, int n, const char *key2, int n2)
{
	if (cli->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, key, json_object_new_int(n));
		if (key2)
			json_object_object_add(j, key2, json_object_new_int(n2));
		cli_print_json(cli, j);
		json_object_put(j);
	} else if (key2) {
		printf("%s %d, %s %d\n", key, n, key2, n2);
	} else {
		printf("%s %d\n", key, n);
	}
}

static int do_block_add(struct cli *cli, int argc, char **argv)
{
	struct pw_block_list l;
	struct block_args a;
	int ret, added = 0;

	if ((ret = parse(cli, argc, argv, &a)) || (ret = gather(cli, &a, true, &l)))
		return ret;
	ret = pw_block_add(&cli->ctx, l.e, l.n, &added);
	pw_block_list_free(&l);
	if (ret)
		return cli_lib_err(cli);
	report(cli, "added", added, NULL, 0);
	return 0;
}

static int do_block_del(struct cli *cli, int argc, char **argv)
{
	struct pw_block_list l;
	struct block_args a;
	int ret, missing = 0, n;

	if ((ret = parse(cli, argc, argv, &a)) || (ret = gather(cli, &a, false, &l)))
		return ret;
	n = l.n;
	ret = pw_block_del_origin(&cli->ctx, l.e, l.n,
				  a.origin >= 0 ? (__u32)a.origin : PW_BO_ALL, &missing);
	pw_block_list_free(&l);
	if (ret)
		return cli_lib_err(cli);
	report(cli, "deleted", n - missing, "not blocked", missing);
	return 0;
}

static int do_block_flush(struct cli *cli, int argc, char **argv)
{
	struct block_args a;
	int ret, removed = 0;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	if (pw_block_flush(&cli->ctx, a.origin >= 0 ? (__u32)a.origin : PW_BO_ALL, &removed))
		return cli_lib_err(cli);
	report(cli, "deleted", removed, NULL, 0);
	return 0;
}

static void list_json(struct cli *cli, const struct pw_block_list *l)
{
	struct json_object *j = json_object_new_object(), *arr = json_object_new_array();
	char text[64];

	for (int i = 0; i < l->n; i++) {
		const struct pw_block *b = &l->e[i];
		struct json_object *o = json_object_new_object();

		pw_block_text(b, text, sizeof(text));
		json_object_object_add(o, "prefix", json_object_new_string(text));
		json_object_object_add(o, "origin",
				       json_object_new_string(pw_block_origin_name(b->origin)));
		json_object_object_add(o, "expires", b->expires ?
				       json_object_new_int64((int64_t)b->expires) : NULL);
		json_object_object_add(o, "remaining", b->expires ?
				       json_object_new_int64((int64_t)b->remaining) : NULL);
		json_object_object_add(o, "hits", json_object_new_int64((int64_t)b->hits));
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "blocks", arr);
	cli_print_json(cli, j);
	json_object_put(j);
}

static void list_text(const struct pw_block_list *l)
{
	char text[64], left[32];

	printf("%-43s %-9s %12s %14s\n", "PREFIX", "ORIGIN", "REMAINING", "HITS");
	for (int i = 0; i < l->n; i++) {
		const struct pw_block *b = &l->e[i];

		pw_block_text(b, text, sizeof(text));
		if (b->expires)
			snprintf(left, sizeof(left), "%llus", (unsigned long long)b->remaining);
		else
			snprintf(left, sizeof(left), "never");
		printf("%-43s %-9s %12s %14llu\n", text, pw_block_origin_name(b->origin), left,
		       (unsigned long long)b->hits);
	}
}

static int do_block_list(struct cli *cli, int argc, char **argv)
{
	struct pw_block_list l;
	struct block_args a;
	int ret;

	if ((ret = parse(cli, argc, argv, &a)))
		return ret;
	if (pw_bpffs_prepare(&cli->ctx, false) || pw_block_list(&cli->ctx, &l))
		return cli_lib_err(cli);
	if (cli->json)
		list_json(cli, &l);
	else
		list_text(&l);
	pw_block_list_free(&l);
	return 0;
}

const struct cmd block_cmds[] = {
	{ .name = "add", .fn = do_block_add, .args = "[ADDR|PREFIX...]", .max_args = -1,
	  .opts = add_opts, .help = "block sources (until --for runs out), all or nothing" },
	{ .name = "del", .fn = do_block_del, .args = "[ADDR|PREFIX...]", .max_args = -1,
	  .opts = del_opts, .help = "unblock sources (the same words as add)" },
	{ .name = "list", .fn = do_block_list, .opts = no_opts,
	  .help = "blocks in force: origin, seconds remaining, hits" },
	{ .name = "flush", .fn = do_block_flush, .opts = flush_opts,
	  .help = "delete every block (or one origin's)" },
	{ 0 },
};
