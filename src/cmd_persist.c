// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* save, restore: the desired state as files, and back (docs/PERSISTENCE.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "pinwall/persist.h"

struct persist_args {
	const char *config;
	bool dry_run, force;
	double wait;
};

#define CONFIG_OPT(T) CLI_STR("config", 'c', T, config, "DIR", \
			      "the config directory (default " PW_CONFIG_DIR ")")

const struct cli_opt save_opts[] = {
	CONFIG_OPT(struct persist_args),
	{ NULL },
};

const struct cli_opt restore_opts[] = {
	CONFIG_OPT(struct persist_args),
	CLI_FLAG("dry-run", 0, struct persist_args, dry_run, "say what would be done; change nothing"),
	CLI_NUM("wait", 'w', struct persist_args, wait, "SEC", 0, 3600,
		"wait up to SEC seconds for missing devices, restoring each as it appears"),
	CLI_FLAG("force", 0, struct persist_args, force,
		 "apply the rules even if they would cut this SSH session"),
	{ NULL },
};

static int parse(struct cli *cli, int argc, char **argv, struct persist_args *a)
{
	int ret;

	a->config = PW_CONFIG_DIR;
	if ((ret = cli_parse(cli, cli->cmd, argc, argv, a, NULL, NULL)))
		return ret;
	if (!*a->config)
		return cli_usage(cli, cli->cmd, "empty --config: name a directory");
	return cli_check_len(cli, cli->cmd, "config directory", a->config, PW_PATH_LEN - 64) ?:
	       cli_setup(cli);
}

/* ---- save ---- */

static void save_report(struct cli *cli, const char *dir, const struct pw_save_report *r)
{
	if (cli->json) {
		struct json_object *j = json_object_new_object(), *f = json_object_new_array();

		json_object_object_add(j, "config", json_object_new_string(dir));
		json_object_object_add(j, "interfaces", json_object_new_int(r->n_ifaces));
		json_object_object_add(j, "rules", json_object_new_int(r->n_rules));
		json_object_object_add(j, "sets", json_object_new_int(r->n_sets));
		json_object_object_add(j, "set_files", json_object_new_int(r->n_set_files));
		json_object_object_add(j, "blocks", json_object_new_int(r->n_blocks));
		json_object_object_add(j, "policy", json_object_new_string(policy_name(r->policy)));
		for (int i = 0; i < r->n_files; i++)
			json_object_array_add(f, json_object_new_string(r->files[i]));
		json_object_object_add(j, "files", f);
		cli_print_json(cli, j);
		json_object_put(j);
		return;
	}
	printf("saved %d interface(s), %d rule(s), %d set(s) (%d in set files), policy %s\n",
	       r->n_ifaces, r->n_rules, r->n_sets, r->n_set_files, policy_name(r->policy));
	printf("%d block(s) with their absolute expiry\n", r->n_blocks);
	for (int i = 0; i < r->n_files; i++)
		printf("  %s\n", r->files[i]);
	printf("counters are not configuration: not saved\n");
}

int do_save(struct cli *cli, int argc, char **argv)
{
	struct persist_args a = { 0 };
	struct pw_save_report r;
	struct pw_saved s;
	int ret = parse(cli, argc, argv, &a);

	if (ret)
		return ret;
	if (pw_save_collect(&cli->ctx, &s))
		return cli_lib_err(cli);
	ret = pw_save_write(&cli->ctx, a.config, &s, "pinwall save (pinwall " PW_VERSION ")", &r);
	pw_saved_free(&s);
	if (ret)
		return cli_lib_err(cli);
	save_report(cli, a.config, &r);
	return 0;
}

/* ---- restore ---- */

static const char *fate_text(enum pw_restore_fate f, bool dry)
{
	switch (f) {
	case PW_RS_LOADED: return dry ? "would load" : "loaded";
	case PW_RS_RELOADED: return dry ? "would reload" : "reloaded";
	default: return pw_restore_fate_name(f);
	}
}

static struct json_object *restore_json(const struct pw_restore_report *r)
{
	struct json_object *j = json_object_new_object(), *ru = json_object_new_object(),
			   *arr = json_object_new_array();

	json_object_object_add(j, "dry_run", json_object_new_boolean(r->dry_run));
	json_object_object_add(j, "changed", json_object_new_boolean(r->rules_changed || r->n_changed));
	json_object_object_add(ru, "changed", json_object_new_boolean(r->rules_changed));
	json_object_object_add(ru, "rules", json_object_new_int(r->n_rules));
	json_object_object_add(ru, "policy", json_object_new_string(policy_name(r->policy)));
	if (!r->dry_run) {
		json_object_object_add(ru, "added", json_object_new_int(r->rules.rep.added));
		json_object_object_add(ru, "removed", json_object_new_int(r->rules.rep.removed));
		json_object_object_add(ru, "kept", json_object_new_int(r->rules.rep.kept));
	}
	json_object_object_add(j, "rules", ru);
	if (r->blocks_saved) {
		struct json_object *b = json_object_new_object();

		json_object_object_add(b, "added", json_object_new_int(r->n_blocks));
		json_object_object_add(b, "expired", json_object_new_int(r->n_blocks_expired));
		json_object_object_add(j, "blocks", b);
	}
	for (int i = 0; i < r->n; i++) {
		const struct pw_restore_iface *f = &r->ifs[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ifname", json_object_new_string(f->ifname));
		json_object_object_add(o, "result", json_object_new_string(pw_restore_fate_name(f->fate)));
		json_object_object_add(o, "mode", json_object_new_string(pw_mode_name(f->mode)));
		if (f->prog_id)
			json_object_object_add(o, "prog_id", json_object_new_int64(f->prog_id));
		if (f->why[0])
			json_object_object_add(o, "why", json_object_new_string(f->why));
		if (f->recovered.found)
			json_object_object_add(o, "recovered", json_object_new_string(
				f->recovered.completed ? "completed" : "rolled back"));
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "interfaces", arr);
	return j;
}

static void restore_text(const struct pw_restore_report *r, const char *rules_path)
{
	const char *dry = r->dry_run ? "(dry run) " : "";

	if (!r->rules_changed)
		printf("%srules: unchanged (%d rules, policy %s)\n", dry, r->n_rules,
		       policy_name(r->policy));
	else if (r->dry_run)
		printf("%srules: would apply %s (%d rules, policy %s)\n", dry, rules_path, r->n_rules,
		       policy_name(r->policy));
	else
		printf("rules: applied %s: added %d, removed %d, kept %d; %d rules, policy %s; in force after %.1f ms\n",
		       rules_path, r->rules.rep.added, r->rules.rep.removed, r->rules.rep.kept,
		       r->n_rules, policy_name(r->policy), r->rules.rep.switch_ms);
	if (r->blocks_saved)
		printf("%sblocks: %s %d, %d expired since the save (not brought back)\n", dry,
		       r->dry_run ? "would add" : "added", r->n_blocks, r->n_blocks_expired);
	for (int i = 0; i < r->n; i++) {
		const struct pw_restore_iface *f = &r->ifs[i];

		printf("%s%s: %s", dry, f->ifname, fate_text(f->fate, r->dry_run));
		if (f->fate == PW_RS_LOADED || f->fate == PW_RS_RELOADED || f->fate == PW_RS_UNCHANGED)
			printf(" (%s mode%s", pw_mode_name(f->mode), f->prog_id ? "" : ")");
		if (f->prog_id && f->fate != PW_RS_MISSING && f->fate != PW_RS_CONFLICT &&
		    f->fate != PW_RS_FAILED && f->fate != PW_RS_DRIFT)
			printf(", program id %u)", f->prog_id);
		if (f->recovered.found)
			printf(", after the interrupted %s was %s", pw_op_name(f->recovered.op),
			       f->recovered.completed ? "finished" : "rolled back");
		printf("%s%s\n", f->why[0] ? ": " : "", f->why);
	}
	if (!r->rules_changed && !r->n_changed && !r->n_missing && !r->n_conflict && !r->n_failed)
		printf("%snothing changed: already in the saved state\n", dry);
}

/* Interfaces left as they are (missing, conflict, failed): one error line
 * naming them; the rest is restored. */
static int restore_status(struct cli *cli, const struct pw_restore_report *r)
{
	char names[PW_ERR_LEN] = "";
	size_t o = 0;

	if (!r->n_missing && !r->n_conflict && !r->n_failed)
		return 0;
	for (int i = 0; i < r->n && o < sizeof(names) - 64; i++)
		if (r->ifs[i].fate >= PW_RS_MISSING)
			o += snprintf(names + o, sizeof(names) - o, "%s%s %s", o ? ", " : "",
				      r->ifs[i].ifname, pw_restore_fate_name(r->ifs[i].fate));
	if (!cli->json)
		cli_err(cli, "%s not as saved (%s); the rest %s", r->n_missing + r->n_conflict +
			r->n_failed == 1 ? "one interface is" : "interfaces are", names,
			r->dry_run ? "would be restored" : "is restored");
	return CLI_EXIT_PARTIAL;
}

int do_restore(struct cli *cli, int argc, char **argv)
{
	struct persist_args a = { 0 };
	struct pw_restore_opts o = { 0 };
	struct pw_restore_report r;
	struct pw_saved s;
	int ret = parse(cli, argc, argv, &a);

	if (ret)
		return ret;
	o.dry_run = a.dry_run;
	o.force = a.force;
	o.wait_ms = (unsigned int)(a.wait * 1000);
	/* every file read and checked whole before the first change */
	if (pw_config_read(&cli->ctx, a.config, &s))
		return cli_lib_err(cli);
	ret = pw_restore(&cli->ctx, &s, &o, &r);
	if (r.rules.rec.found)
		fprintf(stderr, "pinwall: %s the interrupted rule apply of pid %u first\n",
			r.rules.rec.completed ? "finished" : "rolled back", r.rules.rec.pid);
	if (r.rules.warnings && !cli->json)
		fputs(r.rules.warnings, stderr);
	if (ret) {
		ret = cli_lib_err(cli);
	} else if (cli->json) {
		struct json_object *j = restore_json(&r);

		cli_print_json(cli, j);
		json_object_put(j);
		ret = restore_status(cli, &r);
	} else {
		restore_text(&r, s.rules_path);
		ret = restore_status(cli, &r);
	}
	pw_restore_report_free(&r);
	pw_saved_free(&s);
	return ret;
}
