// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* clean: list (default) or remove (--yes) stale pin directories. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

struct clean_out {
	struct cli *cli;
	struct json_object *arr;
	int stale;
};

static int one(const struct pw_clean_item *it, void *arg)
{
	struct clean_out *o = arg;

	o->stale += it->stale;
	if (o->cli->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "path", json_object_new_string(it->path));
		json_object_object_add(j, "ifname", json_object_new_string(it->ifname));
		json_object_object_add(j, "netns_ino", json_object_new_int64((int64_t)it->netns_ino));
		json_object_object_add(j, "stale", json_object_new_boolean(it->stale));
		json_object_object_add(j, "removed", json_object_new_boolean(it->removed));
		json_object_object_add(j, "why", json_object_new_string(it->why));
		json_object_array_add(o->arr, j);
	} else {
		printf("%-8s %-16s %s  (%s)\n", it->removed ? "removed" : it->stale ? "stale" : "keep",
		       it->ifname, it->path, it->why);
	}
	return 0;
}

struct clean_args {
	bool yes;
};

const struct cli_opt clean_opts[] = {
	CLI_FLAG("yes", 'y', struct clean_args, yes, "remove them (default: only list them)"),
	{ NULL },
};

int do_clean(struct cli *cli, int argc, char **argv)
{
	struct clean_out out = { .cli = cli };
	struct clean_args a = { .yes = false };
	bool yes;
	int ret;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, &a, NULL, NULL)) || (ret = cli_setup(cli)))
		return ret;
	yes = a.yes;
	out.arr = json_object_new_array();
	if (pw_clean(&cli->ctx, yes, one, &out)) {
		json_object_put(out.arr);
		return cli_lib_err(cli);
	}
	if (cli->json)
		cli_print_json(cli, out.arr);
	else if (!yes && out.stale)
		printf("%d stale pin director%s: 'pinwall clean --yes' removes %s\n", out.stale,
		       out.stale == 1 ? "y" : "ies", out.stale == 1 ? "it" : "them");
	else if (!out.stale)
		printf("nothing stale below %s\n", cli->ctx.pin_root);
	json_object_put(out.arr);
	return 0;
}
