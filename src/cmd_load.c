// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* load, reload, unload: parse, call the library, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define MAX_FRESH 16
#define MAX_BINDS PW_BINDS_MAX

struct load_args {
	struct pw_load_opts o;
	int mode, scope;	/* CLI_OPT_ENUM: ints, copied into o */
	const char *fresh[MAX_FRESH];
	int n_fresh;
	const char *steer_text;		/* --steer as written */
	struct pw_steer_cpus steer;	/* --steer checked */
	const char *binds[MAX_BINDS];
	int n_binds;
	struct pw_chain_opts then;	/* --then OBJ: obj_path NULL when not given */
};

static const struct cli_word modes[] = {
	{ "native", PW_MODE_NATIVE }, { "skb", PW_MODE_SKB }, { "auto", PW_MODE_AUTO }, { NULL },
};
static const struct cli_word scopes[] = {
	{ "global", PW_SCOPE_GLOBAL }, { "iface", PW_SCOPE_IFACE }, { "none", PW_SCOPE_NONE },
	{ NULL },
};

#define OBJ_OPT CLI_STR("obj", 0, struct load_args, o.obj_path, "FILE", \
			"a BPF ELF object's XDP program instead of the built-in one")
#define MIGRATE_OPT CLI_FLAG("migrate", 0, struct load_args, o.migrate, \
			     "allow migrations that drop fields of a map's value")
#define THEN_OPT CLI_STR("then", 0, struct load_args, then.obj_path, "OBJ", \
			 "chain OBJ's XDP program after pinwall's: it sees what pinwall passes (none: remove it)")
#define FRESH_OPT CLI_LIST("fresh", 0, struct load_args, fresh, n_fresh, MAX_FRESH, "MAP", \
			   "start MAP empty, whatever its pin holds", .what = "--fresh maps")

#define STEER_OPT(h) CLI_STR("steer", 0, struct load_args, steer_text, "CPULIST", h)
#define MAP_OPT(why) CLI_LIST("map", 0, struct load_args, binds, n_binds, MAX_BINDS, "NAME=PATH", \
				why, .what = "--map bindings")
#define FLAT_OPT CLI_FLAG("flat-path", 0, struct load_args, o.flat_path, \
			  "link <bpffs root>/IFACE to the maps (the tutorial's stats path)")

const struct cli_opt load_opts[] = {
	CLI_ENUM("mode", 'm', struct load_args, mode, "MODE", modes,
		 "driver (native) or generic (skb) XDP; auto (the default): native, else skb"),
	OBJ_OPT,
	CLI_ENUM("pin-scope", 0, struct load_args, scope, "SCOPE", scopes,
		 "where the object's maps are pinned", .what = "pin scope", .needs = "obj",
		 .needs_why = "the built-in program's rule maps are always shared"),
	CLI_STR("prog", 0, struct load_args, o.prog_name, "NAME",
		"the XDP program of --obj, or of --then (default: the object's only one)"),
	THEN_OPT,
	CLI_FLAG("force", 0, struct load_args, o.force, "replace a program attached by another tool"),
	MIGRATE_OPT,
	FRESH_OPT,
	STEER_OPT("spread the traffic passed over these CPUs (e.g. 0-1,3) by flow"),
	CLI_LIST("map", 0, struct load_args, binds, n_binds, MAX_BINDS, "NAME=PATH",
		 "use the map pinned at PATH as the object's map NAME", .what = "--map bindings",
		 .needs = "obj", .needs_why = "the built-in program's maps are pinwall's own"),
	FLAT_OPT,
	{ NULL },
};

const struct cli_opt reload_opts[] = {
	OBJ_OPT,
	CLI_STR("prog", 0, struct load_args, o.prog_name, "NAME",
		"the XDP program to use (default: the recorded one); with --then, the chained one"),
	THEN_OPT,
	MIGRATE_OPT,
	FRESH_OPT,
	STEER_OPT("spread the traffic passed over these CPUs by flow; none: stop (default: keep)"),
	MAP_OPT("bind (NAME=PATH) or unbind (NAME=) a map; the others stay bound"),
	FLAT_OPT,
	{ NULL },
};

const struct cli_opt unload_opts[] = {
	CLI_FLAG("keep-maps", 0, struct load_args, o.keep_maps,
		 "keep the map pins (the next load reuses them and their counters)"),
	{ NULL },
};

/* Refused, never cut: the load record keeps these in fixed fields. */
static int check_lengths(struct cli *cli, const struct cmd *cmd, const struct load_args *a)
{
	char *abs = a->o.obj_path ? realpath(a->o.obj_path, NULL) : NULL;
	int ret = cli_check_ifname(cli, cmd, a->o.ifname);

	if (!ret && abs)
		ret = cli_check_len(cli, cmd, "object file path", abs, PW_PATH_LEN - 1);
	if (!ret && a->o.prog_name)
		ret = cli_check_len(cli, cmd, "program name", a->o.prog_name, PW_NAME_LEN - 1);
	if (!ret && a->then.obj_path && strcmp(a->then.obj_path, "none"))
		ret = cli_check_len(cli, cmd, "object file path", a->then.obj_path, PW_PATH_LEN - 1);
	for (int i = 0; !ret && i < a->n_fresh; i++)
		ret = cli_check_len(cli, cmd, "map name", a->fresh[i], PW_NAME_LEN - 1);
	free(abs);
	return ret;
}

/* --then chains after pinwall's built-in program, and --prog then names
 * the chained program; on load, --prog needs one object or the other. */
static int then_args(struct cli *cli, const struct cmd *cmd, struct load_args *a)
{
	bool load = cmd->opts == load_opts;

	if (a->then.obj_path && a->o.obj_path)
		return cli_usage(cli, cmd, "--then chains after pinwall's built-in program: not with --obj");
	if (a->then.obj_path && a->o.prog_name && !strcmp(a->then.obj_path, "none"))
		return cli_usage(cli, cmd, "--prog '%s' with --then none: nothing is chained to name",
				 a->o.prog_name);
	if (load && a->o.prog_name && !a->o.obj_path && !a->then.obj_path)
		return cli_usage(cli, cmd, "--prog '%s' needs --obj FILE or --then OBJ",
				 a->o.prog_name);
	if (a->then.obj_path) {
		a->then.prog_name = a->o.prog_name;
		a->o.prog_name = NULL;
	}
	return 0;
}

/* The options by the command's table, the interface, the lengths. */
static int parse(struct cli *cli, int argc, char **argv, struct load_args *a)
{
	const struct cmd *cmd = cli->cmd;
	char **pos;
	int npos, ret;

	memset(a, 0, sizeof(*a));
	a->mode = PW_MODE_AUTO;
	a->scope = PW_SCOPE_OBJECT;
	if ((ret = cli_parse(cli, cmd, argc, argv, a, &npos, &pos)))
		return ret;
	a->o.mode = (enum pw_mode)a->mode;
	a->o.scope = (enum pw_pin_scope)a->scope;
	a->o.fresh = a->fresh;
	a->o.n_fresh = a->n_fresh;
	a->o.binds = a->binds;
	a->o.n_binds = a->n_binds;
	if ((ret = then_args(cli, cmd, a)))
		return ret;
	if (npos) {
		a->o.ifname = pos[0];
		if ((ret = check_lengths(cli, cmd, a)))
			return ret;
	}
	if ((ret = cli_setup(cli)))
		return ret;
	if (a->steer_text) {
		if (pw_steer_parse(&cli->ctx, a->steer_text, &a->steer))
			return cli_lib_err(cli);
		a->o.steer = &a->steer;
	}
	return 0;
}

/* An interrupted operation this command finished or rolled back first. */
static void recovered_text(const struct pw_recovery *rc, const char *ifname)
{
	if (rc->found)
		printf("%s the interrupted %s of %s first (it stopped after step '%s', pid %u)\n",
		       rc->completed ? "finished" : "rolled back", pw_op_name(rc->op), ifname,
		       pw_step_name(rc->step), rc->pid);
}

static struct json_object *recovered_json(const struct pw_recovery *rc)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "op", json_object_new_string(pw_op_name(rc->op)));
	json_object_object_add(j, "step", json_object_new_string(pw_step_name(rc->step)));
	json_object_object_add(j, "pid", json_object_new_int64(rc->pid));
	json_object_object_add(j, "result",
			       json_object_new_string(rc->completed ? "completed" : "rolled back"));
	return j;
}

static struct json_object *steer_json(const struct pw_steer_cpus *c)
{
	struct json_object *a = json_object_new_array();

	for (__u32 i = 0; i < c->n; i++)
		json_object_array_add(a, json_object_new_int64(c->cpu[i]));
	return a;
}

static struct json_object *chain_json(const struct pw_chain_report *cr)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "prog_id", json_object_new_int64(cr->prog_id));
	json_object_object_add(j, "old_prog_id", json_object_new_int64(cr->old_prog_id));
	if (cr->recovered)
		json_object_object_add(j, "recovered", json_object_new_string(cr->recovered));
	return j;
}

static void chain_text(const struct pw_chain_report *cr, const struct pw_chain_opts *t)
{
	if (cr->prog_id)
		printf("  chained program '%s' from %s: id %u", t->prog_name ?: "(its only one)",
		       t->obj_path, cr->prog_id);
	else
		printf("  no chained program");
	if (cr->old_prog_id)
		printf(" (was %u)", cr->old_prog_id);
	printf("\n");
}

static void report(struct cli *cli, const char *verb, const struct load_args *a,
		   const struct pw_load_report *r, const struct pw_chain_report *cr)
{
	const struct pw_load_opts *o = &a->o;

	if (cli->json) {
		struct json_object *j = json_object_new_object(), *maps = json_object_new_array();

		json_object_object_add(j, "ifname", json_object_new_string(o->ifname));
		json_object_object_add(j, "action", json_object_new_string(verb));
		if (r->recovered.found)
			json_object_object_add(j, "recovered", recovered_json(&r->recovered));
		json_object_object_add(j, "pin_dir", json_object_new_string(r->ifdir));
		if (r->ifindex)
			json_object_object_add(j, "ifindex", json_object_new_int(r->ifindex));
		if (r->prog_id)
			json_object_object_add(j, "prog_id", json_object_new_int64(r->prog_id));
		if (r->old_prog_id)
			json_object_object_add(j, "old_prog_id", json_object_new_int64(r->old_prog_id));
		if (r->link_id)
			json_object_object_add(j, "link_id", json_object_new_int64(r->link_id));
		if (strcmp(verb, "unloaded")) {
			json_object_object_add(j, "mode", json_object_new_string(pw_mode_name(r->mode)));
			json_object_object_add(j, "elapsed_ms", json_object_new_double(r->elapsed_ms));
		}
		for (int i = 0; i < r->n_maps; i++) {
			struct json_object *m = json_object_new_object();

			json_object_object_add(m, "name", json_object_new_string(r->maps[i].name));
			json_object_object_add(m, "path", json_object_new_string(r->maps[i].path));
			if (r->maps[i].id)
				json_object_object_add(m, "id", json_object_new_int64(r->maps[i].id));
			if (!strcmp(verb, "unloaded")) {
				json_object_object_add(m, "removed", json_object_new_boolean(r->maps[i].removed));
				json_object_object_add(m, "config", json_object_new_boolean(r->maps[i].config));
			}
			else {
				json_object_object_add(m, "reused", json_object_new_boolean(r->maps[i].reused));
				if (r->maps[i].fate[0])
					json_object_object_add(m, "fate", json_object_new_string(r->maps[i].fate));
				if (r->maps[i].why[0])
					json_object_object_add(m, "why", json_object_new_string(r->maps[i].why));
			}
			json_object_array_add(maps, m);
		}
		json_object_object_add(j, "maps", maps);
		if (r->steer_set)
			json_object_object_add(j, "steer", steer_json(&r->steer));
		if (cr)
			json_object_object_add(j, "chain", chain_json(cr));
		cli_print_json(cli, j);
		json_object_put(j);
		return;
	}
	recovered_text(&r->recovered, o->ifname);
	if (!strcmp(verb, "unloaded")) {
		printf("unloaded %s%s\n", o->ifname, o->keep_maps ? " (maps kept)" : "");
		for (int i = 0; i < r->n_maps; i++)
			printf("  map %-16s %s  %s\n", r->maps[i].name,
			       r->maps[i].removed ? "removed" : r->maps[i].config ?
			       "kept (rule configuration)" : "kept (named by another interface)",
			       r->maps[i].path);
	} else {
		printf("%s %s in %s mode: program id %u", verb, o->ifname, pw_mode_name(r->mode),
		       r->prog_id);
		if (r->old_prog_id)
			printf(" (was %u)", r->old_prog_id);
		if (r->link_id)
			printf(", link id %u", r->link_id);
		printf(", %.1f ms\n", r->elapsed_ms);
		for (int i = 0; i < r->n_maps; i++) {
			printf("  map %-16s id %-6u %-8s %s\n", r->maps[i].name, r->maps[i].id,
			       r->maps[i].fate[0] ? r->maps[i].fate :
			       r->maps[i].reused ? "reused" : "created", r->maps[i].path);
			if (r->maps[i].why[0])
				printf("    (%s)\n", r->maps[i].why);
		}
		if (r->steer_set) {
			char cpus[1024];

			pw_steer_str(&r->steer, cpus, sizeof(cpus));
			printf("  steering %s%s\n", r->steer.n ? "passed traffic over cpus " : "off",
			       r->steer.n ? cpus : "");
		}
		if (cr)
			chain_text(cr, &a->then);
	}
	if (cli->ctx.detail[0])
		fputs(cli->ctx.detail, stderr);
}

static int run(struct cli *cli, int argc, char **argv,
	       int (*fn)(struct pw_ctx *, const struct pw_load_opts *, struct pw_load_report *),
	       const char *verb)
{
	struct pw_chain_report cr = { 0 };
	struct pw_chain *chain = NULL;
	struct pw_load_report r;
	struct load_args a;
	int ret = parse(cli, argc, argv, &a);

	if (ret)
		return ret;
	if (fn != pw_unload && (a.o.steer || a.then.obj_path) &&
	    pw_chain_steer_check(&cli->ctx, a.o.ifname, fn == pw_load, a.o.steer,
				 a.then.obj_path ? &a.then : NULL))
		return cli_lib_err(cli);
	/* everything --then can refuse, before pinwall changes anything */
	if (a.then.obj_path && pw_chain_prepare(&cli->ctx, a.o.ifname, &a.then, &chain))
		return cli_lib_err(cli);
	if (fn(&cli->ctx, &a.o, &r)) {
		pw_chain_free(chain);
		return cli_lib_err(cli);
	}
	ret = chain ? pw_chain_switch(&cli->ctx, chain, fn == pw_load ? PW_OP_LOAD : PW_OP_RELOAD,
				      &cr) : 0;
	pw_chain_free(chain);
	if (ret) {
		pw_detail(&cli->ctx, "%s %s (program id %u); the chained program is unchanged",
			  verb, a.o.ifname, r.prog_id);
		return cli_lib_err(cli);
	}
	report(cli, verb, &a, &r, chain ? &cr : NULL);
	return 0;
}

int do_load(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, pw_load, "loaded");
}

int do_reload(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, pw_reload, "reloaded");
}

int do_unload(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, pw_unload, "unloaded");
}

static int recover(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r)
{
	memset(r, 0, sizeof(*r));
	return pw_recover(ctx, o->ifname, &r->recovered);
}

/* recover without IFACE: the rule apply, then every interface of this
 * network namespace with an intent record. */
static int recover_all(struct cli *cli)
{
	struct pw_recovery rec[PW_RECOVER_MAX];
	char names[PW_RECOVER_MAX][32];
	struct json_object *arr = NULL;
	int n = 0;

	if (pw_recover_all(&cli->ctx, rec, names, PW_RECOVER_MAX, &n))
		return cli_lib_err(cli);
	if (cli->json)
		arr = json_object_new_array();
	for (int i = 0; i < n; i++) {
		if (arr) {
			struct json_object *j = recovered_json(&rec[i]);

			json_object_object_add(j, "ifname", names[i][0] ?
					       json_object_new_string(names[i]) : NULL);
			json_object_array_add(arr, j);
		} else if (names[i][0]) {
			recovered_text(&rec[i], names[i]);
		} else {
			printf("%s the interrupted rule apply (pid %u)\n",
			       rec[i].completed ? "finished" : "rolled back", rec[i].pid);
		}
	}
	if (arr) {
		cli_print_json(cli, arr);
		json_object_put(arr);
	} else if (!n) {
		printf("no interrupted operation\n");
	}
	return 0;
}

int do_recover(struct cli *cli, int argc, char **argv)
{
	struct pw_load_report r;
	struct load_args a;
	int ret = parse(cli, argc, argv, &a);

	if (ret)
		return ret;
	if (!a.o.ifname)
		return recover_all(cli);
	if (recover(&cli->ctx, &a.o, &r))
		return cli_lib_err(cli);
	if (cli->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "ifname", json_object_new_string(a.o.ifname));
		json_object_object_add(j, "recovered", r.recovered.found ?
				       recovered_json(&r.recovered) : NULL);
		cli_print_json(cli, j);
		json_object_put(j);
	} else if (r.recovered.found) {
		printf("%s the interrupted %s of %s (it stopped after step '%s', pid %u)\n",
		       r.recovered.completed ? "finished" : "rolled back",
		       pw_op_name(r.recovered.op), a.o.ifname, pw_step_name(r.recovered.step),
		       r.recovered.pid);
	} else {
		printf("%s: no interrupted operation\n", a.o.ifname);
	}
	if (cli->ctx.detail[0])
		fputs(cli->ctx.detail, stderr);
	return 0;
}
