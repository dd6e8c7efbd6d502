// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* status: per interface, what is attached and pinned, and drift. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"

struct status_out {
	struct cli *cli;
	struct json_object *arr;
	int n;
	int n_drift;			/* interfaces with drift */
};

/* The state line of the text output: what it means, and what to do. */
static void state_text(const struct pw_status *st)
{
	const char *n = st->ifname;

	printf("  state    %s: ", pw_state_name(st->state));
	switch (st->state) {
	case PW_STATE_OK: printf("pinwall's program runs, every pin in place\n"); break;
	case PW_STATE_NONE: printf("nothing loaded\n"); break;
	case PW_STATE_KEPT: printf("unloaded, maps kept\n"); break;
	case PW_STATE_OTHER: printf("another tool's program, no pinwall pins\n"); break;
	case PW_STATE_PINS_CONFLICT:
		printf("pins hold maps the program does not use ('pinwall repin %s' lists them)\n", n);
		break;
	case PW_STATE_PINS_MISSING: printf("pins missing (run 'pinwall repin %s')\n", n); break;
	case PW_STATE_PROG_GONE: printf("program gone (pins there, no program runs)\n"); break;
	case PW_STATE_FOREIGN: printf("another tool's program (pins there, not the recorded program)\n"); break;
	case PW_STATE_INTERRUPTED: printf("operation interrupted (run 'pinwall recover %s')\n", n); break;
	}
}

static void fmt_time(__u64 ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", localtime_r(&t, &tm));
}

static struct json_object *status_json(const struct pw_status *st)
{
	struct json_object *j = json_object_new_object(), *maps = json_object_new_array(),
			   *drift = json_object_new_array();
	char tbuf[64];

	json_object_object_add(j, "ifname", json_object_new_string(st->ifname));
	json_object_object_add(j, "ifindex", json_object_new_int(st->ifindex));
	json_object_object_add(j, "netns_ino", json_object_new_int64((int64_t)st->netns_ino));
	json_object_object_add(j, "managed", json_object_new_boolean(st->managed));
	json_object_object_add(j, "state", json_object_new_string(pw_state_name(st->state)));
	json_object_object_add(j, "pinwall", json_object_new_boolean(st->ours || st->managed));
	json_object_object_add(j, "record_held", json_object_new_boolean(st->record_id != 0));
	if (st->managed)
		json_object_object_add(j, "pin_dir", json_object_new_string(st->ifdir));
	if (st->xdp.prog_id) {
		json_object_object_add(j, "mode", json_object_new_string(pw_mode_name(st->xdp.mode)));
		json_object_object_add(j, "prog_id", json_object_new_int64(st->xdp.prog_id));
		json_object_object_add(j, "prog_name", json_object_new_string(st->prog_name));
		json_object_object_add(j, "prog_tag", json_object_new_string(st->prog_tag));
	}
	if (st->link_id) {
		json_object_object_add(j, "link_id", json_object_new_int64(st->link_id));
		json_object_object_add(j, "link_prog_id", json_object_new_int64(st->link_prog_id));
		json_object_object_add(j, "link_attached", json_object_new_boolean(st->link_ifindex != 0));
	}
	if (st->have_meta) {
		json_object_object_add(j, "object", st->meta.builtin ? json_object_new_string("built-in")
								      : json_object_new_string(st->meta.object));
		json_object_object_add(j, "program", json_object_new_string(st->meta.prog));
		json_object_object_add(j, "pin_scope",
				       json_object_new_string(pw_scope_name(st->meta.pin_scope)));
		fmt_time(st->meta.loaded_at, tbuf, sizeof(tbuf));
		json_object_object_add(j, "loaded_at", json_object_new_string(tbuf));
		json_object_object_add(j, "reloads", json_object_new_int(st->meta.reloads));
		if (st->meta.reloaded_at) {
			fmt_time(st->meta.reloaded_at, tbuf, sizeof(tbuf));
			json_object_object_add(j, "reloaded_at", json_object_new_string(tbuf));
		}
	}
	if (st->have_intent) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "op", json_object_new_string(pw_op_name(st->intent.op)));
		json_object_object_add(o, "step", json_object_new_string(pw_step_name(st->intent.step)));
		json_object_object_add(o, "pid", json_object_new_int64(st->intent.pid));
		fmt_time(st->intent.started_at, tbuf, sizeof(tbuf));
		json_object_object_add(o, "started_at", json_object_new_string(tbuf));
		json_object_object_add(o, "running", json_object_new_boolean(st->intent_running));
		json_object_object_add(j, "operation", o);
	}
	for (int i = 0; i < st->n_maps; i++) {
		const struct pw_status_map *m = &st->maps[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "path", json_object_new_string(m->path));
		json_object_object_add(o, "id", json_object_new_int64(m->id));
		json_object_object_add(o, "type", json_object_new_string(
			libbpf_bpf_map_type_str(m->type) ?: "unknown"));
		json_object_object_add(o, "max_entries", json_object_new_int64(m->max_entries));
		json_object_object_add(o, "shared", json_object_new_boolean(m->shared));
		json_object_object_add(o, "in_program", json_object_new_boolean(m->in_prog));
		json_object_array_add(maps, o);
	}
	json_object_object_add(j, "maps", maps);
	for (int i = 0; i < st->n_drift; i++)
		json_object_array_add(drift, json_object_new_string(st->drift[i]));
	json_object_object_add(j, "drift", drift);
	{
		struct json_object *notes = json_object_new_array();

		for (int i = 0; i < st->n_notes; i++)
			json_object_array_add(notes, json_object_new_string(st->notes[i]));
		json_object_object_add(j, "notes", notes);
	}
	return j;
}

static void status_text(const struct pw_status *st)
{
	char tbuf[64];

	printf("%s", st->ifname);
	if (st->ifindex)
		printf(" (ifindex %d)", st->ifindex);
	else
		printf(" (absent)");
	printf(": %s\n", st->managed || st->ours ? (st->n_drift ? "pinwall, drift" : "pinwall") :
	       "not pinwall's");
	state_text(st);
	if (st->xdp.prog_id)
		printf("  program  %s id %u tag %s, %s mode\n", st->prog_name, st->xdp.prog_id,
		       st->prog_tag, pw_mode_name(st->xdp.mode));
	else
		printf("  program  none attached\n");
	if (st->link_id)
		printf("  link     id %u, program id %u%s\n", st->link_id, st->link_prog_id,
		       st->link_ifindex ? "" : ", detached");
	if (st->have_meta) {
		printf("  object   %s, program %s\n", st->meta.builtin ? "built-in" : st->meta.object,
		       st->meta.prog);
		fmt_time(st->meta.loaded_at, tbuf, sizeof(tbuf));
		printf("  loaded   %s", tbuf);
		if (st->meta.reloads) {
			fmt_time(st->meta.reloaded_at, tbuf, sizeof(tbuf));
			printf(", reloaded %u time(s), last %s", st->meta.reloads, tbuf);
		}
		if (!st->meta.prog_id)
			printf(", unloaded with maps kept");
		printf("\n");
	}
	if (st->managed)
		printf("  pin dir  %s\n", st->ifdir);
	if (st->have_intent && st->intent_running)
		printf("  running  %s (step '%s', pid %u)\n", pw_op_name(st->intent.op),
		       pw_step_name(st->intent.step), st->intent.pid);
	for (int i = 0; i < st->n_maps; i++) {
		const struct pw_status_map *m = &st->maps[i];

		printf("  map      %-16s id %-6u %-14s %6u entries%s  %s\n", m->name, m->id,
		       libbpf_bpf_map_type_str(m->type) ?: "unknown", m->max_entries,
		       m->shared ? " shared" : "", m->path);
	}
	for (int i = 0; i < st->n_drift; i++)
		printf("  drift    %s\n", st->drift[i]);
	for (int i = 0; i < st->n_notes; i++)
		printf("  note     %s\n", st->notes[i]);
}

/* What the pin of a binding holds now: the map bound (its id), another
 * one, or nothing. */
static const char *bind_state(const struct pw_bind *bd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(bd->path);
	bool same;

	if (fd < 0)
		return "pin missing";
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.id == bd->id;
	close(fd);
	return same ? "ok" : "pin holds another object";
}

/* load --map, --flat-path: the interface's binding record. */
static void binds_out(struct cli *cli, const struct pw_status *st, struct json_object *j)
{
	struct json_object *arr = j ? json_object_new_array() : NULL;
	char flat[PW_PATH_LEN] = "";
	struct pw_binds b;

	if (!st->managed || pw_binds_read(&cli->ctx, st->ifdir, &b))
		memset(&b, 0, sizeof(b));
	if (b.flags & PW_BINDS_FLAT)
		pw_flat_path(&cli->ctx, st->ifname, flat, sizeof(flat));
	for (__u32 i = 0; i < b.n; i++) {
		const struct pw_bind *bd = &b.map[i];
		struct json_object *o;

		if (!j) {
			printf("  bound    %-16s id %-6u %s (%s)\n", bd->name, bd->id, bd->path,
			       bind_state(bd));
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(bd->name));
		json_object_object_add(o, "path", json_object_new_string(bd->path));
		json_object_object_add(o, "id", json_object_new_int64(bd->id));
		json_object_object_add(o, "state", json_object_new_string(bind_state(bd)));
		json_object_array_add(arr, o);
	}
	if (!j) {
		if (flat[0])
			printf("  flat     %s -> maps/\n", flat);
		return;
	}
	json_object_object_add(j, "bindings", arr);
	json_object_object_add(j, "flat_path", flat[0] ? json_object_new_string(flat) : NULL);
}

/* load --steer in force: "steer 0-1" or the JSON list (null: off). */
static void steer_out(struct cli *cli, const struct pw_status *st, struct json_object *j)
{
	struct pw_steer_cpus c;
	struct json_object *arr;
	char text[256];

	if (!st->managed || pw_steer_read(&cli->ctx, st->ifdir, &c))
		memset(&c, 0, sizeof(c));
	if (!j) {
		pw_steer_str(&c, text, sizeof(text));
		if (c.n)
			printf("  steer    cpus %s\n", text);
		return;
	}
	arr = c.n ? json_object_new_array() : NULL;
	for (__u32 i = 0; i < c.n && i < PW_STEER_MAX_CPUS; i++)
		json_object_array_add(arr, json_object_new_int64(c.cpu[i]));
	json_object_object_add(j, "steer", arr);
}

static int one(const struct pw_status *st, void *arg)
{
	struct status_out *out = arg;
	struct pw_chain_info ci = { 0 };
	struct json_object *j;

	out->n++;
	out->n_drift += st->state >= PW_STATE_DRIFT;
	if (st->managed)
		pw_chain_info(&out->cli->ctx, st->ifdir, &ci);
	if (out->cli->json) {
		j = status_json(st);
		binds_out(out->cli, st, j);
		steer_out(out->cli, st, j);
		json_object_object_add(j, "chain", chain_status_json(&ci));
		json_object_array_add(out->arr, j);
	} else {
		status_text(st);
		binds_out(out->cli, st, NULL);
		steer_out(out->cli, st, NULL);
		chain_status_text(&ci);
	}
	return 0;
}

int do_status(struct cli *cli, int argc, char **argv)
{
	struct status_out out = { .cli = cli };
	char **pos;
	int npos, ret;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, NULL, &npos, &pos)) || (ret = cli_setup(cli)))
		return ret;
	out.arr = json_object_new_array();
	ret = pw_status_walk(&cli->ctx, npos ? pos[0] : NULL, one, &out);
	if (ret) {
		json_object_put(out.arr);
		return cli_lib_err(cli);
	}
	if (cli->json)
		cli_print_json(cli, out.arr);
	else if (!out.n)
		printf("nothing loaded in this network namespace (pin root %s)\n", cli->ctx.pin_root);
	json_object_put(out.arr);
	/* monitoring reads the exit status: drift is not fine */
	return out.n_drift ? CLI_EXIT_DRIFT : 0;
}
