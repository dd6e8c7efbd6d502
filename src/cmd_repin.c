// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* repin [IFACE]: rebuild lost pins from the kernel; report per interface. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *const fates[] = {
	[PW_REPIN_PRESENT] = "present", [PW_REPIN_PINNED] = "pinned",
	[PW_REPIN_CONFLICT] = "conflict",
};

struct repin_out {
	struct cli *cli;
	struct json_object *arr;	/* repin without IFACE: one object each */
	int conflicts;
};

static struct json_object *repin_json(const struct pw_repin_report *r)
{
	struct json_object *j = json_object_new_object(), *pins = json_object_new_array();

	json_object_object_add(j, "ifname", json_object_new_string(r->ifname));
	json_object_object_add(j, "ifindex", json_object_new_int(r->ifindex));
	json_object_object_add(j, "prog_id", json_object_new_int64(r->prog_id));
	json_object_object_add(j, "mode", json_object_new_string(pw_mode_name(r->mode)));
	json_object_object_add(j, "pin_dir", json_object_new_string(r->ifdir));
	json_object_object_add(j, "record", json_object_new_string(r->bound ? "program" : "pin"));
	json_object_object_add(j, "pinned", json_object_new_int(r->n_pinned));
	json_object_object_add(j, "conflicts", json_object_new_int(r->n_conflict));
	for (int i = 0; i < r->n; i++) {
		const struct pw_repin_item *it = &r->items[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "kind", json_object_new_string(it->kind));
		json_object_object_add(o, "name", json_object_new_string(it->name));
		json_object_object_add(o, "path", json_object_new_string(it->path));
		json_object_object_add(o, "id", json_object_new_int64(it->id));
		json_object_object_add(o, "result", json_object_new_string(fates[it->fate]));
		if (it->fate == PW_REPIN_CONFLICT)
			json_object_object_add(o, "pinned_id", json_object_new_int64(it->other_id));
		json_object_array_add(pins, o);
	}
	json_object_object_add(j, "pins", pins);
	return j;
}

static void repin_text(const struct pw_repin_report *r)
{
	if (!r->n_pinned && !r->n_conflict)
		printf("%s: nothing to repin, all %d pins present (program id %u)\n", r->ifname,
		       r->n, r->prog_id);
	else
		printf("repinned %s (program id %u): %d pinned, %d present, %d conflict%s\n",
		       r->ifname, r->prog_id, r->n_pinned, r->n - r->n_pinned - r->n_conflict,
		       r->n_conflict, r->n_conflict == 1 ? "" : "s");
	for (int i = 0; i < r->n; i++) {
		const struct pw_repin_item *it = &r->items[i];

		printf("  %-6s %-16s id %-6u %-8s %s", it->kind, it->name, it->id, fates[it->fate],
		       it->path);
		if (it->fate == PW_REPIN_CONFLICT && it->other_id)
			printf(" (holds map id %u: left alone)", it->other_id);
		else if (it->fate == PW_REPIN_CONFLICT)
			printf(" (holds something else: left alone)");
		printf("\n");
	}
	if (!r->bound)
		printf("  note   the record was read from its pin (loaded by an older pinwall): 'pinwall reload %s' lets the program hold it, so that a loss of every pin can be repinned\n",
		       r->ifname);
}

/* The library's detail lines about this interface: stderr, or "notes" in
 * its JSON object; consumed, so the next interface starts with none. */
static void detail(struct cli *cli, struct json_object *j)
{
	char *save = NULL;

	if (j) {
		struct json_object *notes = json_object_new_array();

		for (char *l = strtok_r(cli->ctx.detail, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			json_object_array_add(notes, json_object_new_string(l));
		json_object_object_add(j, "notes", notes);
	} else if (cli->ctx.detail[0]) {
		fputs(cli->ctx.detail, stderr);
	}
	cli->ctx.detail[0] = '\0';
}

static int one(const struct pw_repin_report *r, void *arg)
{
	struct repin_out *out = arg;
	struct json_object *j = NULL;

	out->conflicts += r->n_conflict;
	if (out->cli->json) {
		j = repin_json(r);
		json_object_array_add(out->arr, j);
	} else {
		repin_text(r);
	}
	detail(out->cli, j);
	return 0;
}

int do_repin(struct cli *cli, int argc, char **argv)
{
	struct repin_out out = { .cli = cli };
	struct pw_repin_report r;
	int n = 0, npos, ret;
	char **pos;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, NULL, &npos, &pos)) || (ret = cli_setup(cli)))
		return ret;
	if (npos) {
		if (pw_repin(&cli->ctx, pos[0], &r))
			return cli_lib_err(cli);
		if (cli->json) {
			struct json_object *j = repin_json(&r);

			detail(cli, j);
			cli_print_json(cli, j);
			json_object_put(j);
		} else {
			repin_text(&r);
			detail(cli, NULL);
		}
		return r.n_conflict ? CLI_EXIT_DRIFT : 0;
	}
	if (cli->json)
		out.arr = json_object_new_array();
	if (pw_repin_all(&cli->ctx, one, &out, &n)) {
		json_object_put(out.arr);
		return cli_lib_err(cli);
	}
	if (out.arr)
		cli_print_json(cli, out.arr);
	else if (!n)
		printf("no pinwall program is attached in this network namespace: nothing to repin\n");
	json_object_put(out.arr);
	return out.conflicts ? CLI_EXIT_DRIFT : 0;
}
