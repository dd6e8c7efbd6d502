// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pinwall: the command table, help, and main() (the top floor of the CLI:
 * commands and opts.c below it, cli.c at the bottom).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "pinwall/persist.h"

static int do_help(struct cli *cli, int argc, char **argv);
static int do_root(struct cli *cli, int argc, char **argv);

const struct cmd pw_cmds[] = {
	{ .name = "load", .fn = do_load, .args = "IFACE", .min_args = 1, .max_args = 1,
	  .opts = load_opts, .family = "reload unload",
	  .help = "attach the XDP program (netlink, no pin holds it), reusing pinned maps" },
	{ .name = "reload", .fn = do_reload, .args = "IFACE", .min_args = 1, .max_args = 1,
	  .opts = reload_opts, .family = "load unload",
	  .help = "replace the program atomically; maps and counters carry over\n"
	  "(changed layouts are migrated; see pinwall(8))" },
	{ .name = "unload", .fn = do_unload, .args = "IFACE", .min_args = 1, .max_args = 1,
	  .opts = unload_opts, .family = "load reload",
	  .help = "detach and remove the interface's pins" },
	{ .name = "status", .fn = do_status, .args = "[IFACE]", .max_args = 1,
	  .help = "what is loaded, pinned and attached, its state, and any drift between\n"
	  "them (exit status 3 on drift)" },
	{ .name = "stats", .fn = do_stats, .args = "[IFACE...]", .max_args = -1, .opts = stats_opts,
	  .help = "follow the pinned counters: packets, bytes, pps, Mbit/s" },
	{ .name = "drops", .fn = do_drops, .opts = drops_opts, .args = "IFACE", .min_args = 1,
	  .max_args = 1, .help = "show the frames pinwall drops on IFACE, with the rule that decided\n"
	  "(lines, JSON, pcap; rate-limited in the kernel)" },
	{ .name = "exporter", .fn = do_exporter, .opts = exporter_opts,
	  .help = "Prometheus metrics: counters, rule hits, program and map ids,\n"
	  "on /metrics (--listen) or in a file for node_exporter (--textfile)" },
	{ .name = "rule", .fn = cli_run_group, .sub = rule_cmds,
	  .help = "the rules shared by every interface" },
	{ .name = "set", .fn = cli_run_group, .sub = set_cmds,
	  .help = "the named prefix sets rules use" },
	{ .name = "block", .fn = cli_run_group, .sub = block_cmds,
	  .help = "timed blocks of source addresses and prefixes, checked before the rules" },
	{ .name = "repin", .fn = do_repin, .args = "[IFACE]", .max_args = 1,
	  .help = "rebuild the pins of pinwall's running program from the kernel alone\n"
	  "(default: every pinwall program in this network namespace)" },
	{ .name = "recover", .fn = do_recover, .args = "[IFACE]", .max_args = 1,
	  .help = "finish or roll back an operation killed halfway (default: every one\n"
	  "in this network namespace, and a rule apply)" },
	{ .name = "save", .fn = do_save, .opts = save_opts,
	  .help = "write the interfaces and the rule set in force to the config\n"
	  "directory, atomically (counters are not saved)",
	  .more = "\nFiles: DIR/interfaces, DIR/rules (and DIR/sets/NAME for large sets);\n"
	  "see docs/PERSISTENCE.md." },
	{ .name = "restore", .fn = do_restore, .opts = restore_opts,
	  .help = "bring this network namespace to the saved state: rules first,\n"
	  "then each interface (exit status 4: one missing or left as it was)",
	  .more = "\nEvery file is read and checked before the first change; an interface\n"
	  "already as saved is left alone, and with nothing to do restore says so." },
	{ .name = "clean", .fn = do_clean, .opts = clean_opts,
	  .help = "list (or remove) pins whose namespace, interface or program is gone" },
	{ .name = "crowdsec", .fn = do_crowdsec, .opts = crowdsec_opts,
	  .help = "a CrowdSec bouncer: follow a local API's decisions as timed blocks",
	  .more = "\nBan decisions on Ip and Range become blocks with origin crowdsec that\n"
	  "expire with the decision; deleted decisions remove them. At start (and after\n"
	  "any failure) the full set is pulled and crowdsec blocks not in it are removed;\n"
	  "other origins' blocks are never touched. See docs/CROWDSEC.md." },
	{ .name = "help", .fn = do_help, .args = "[COMMAND [SUBCOMMAND]]", .max_args = 2,
	  .opts = help_opts, .help = "this text, or a command's" },
	{ 0 },
};

struct root_args {
	bool version;
};

static const struct cli_opt root_opts[] = {
	CLI_FLAG("version", 'V', struct root_args, version, "the version"),
	{ NULL },
};

/* pinwall itself: a group whose subcommands are the commands. */
static const struct cmd pw_root = {
	.fn = do_root, .sub = pw_cmds, .opts = root_opts,
	.help = "An XDP packet filter and counter whose state lives in BPF maps pinned on bpffs.",
};

static int do_root(struct cli *cli, int argc, char **argv)
{
	struct root_args a = { .version = false };
	char **pos;
	int npos, ret;

	if ((ret = cli_parse(cli, &pw_root, argc, argv, &a, &npos, &pos)))
		return ret;
	if (a.version) {
		printf("pinwall %s\n", PW_VERSION);
		return 0;
	}
	if (!npos) {
		cli_print_group_help(stderr, &pw_root);
		return 2;
	}
	return cli_dispatch(cli, pw_cmds, npos, pos);
}

struct help_args {
	bool commands, options, args;
};

const struct cli_opt help_opts[] = {
	CLI_FLAG("commands", 0, struct help_args, commands,
		 "list every command and subcommand, one a line (for scripts)"),
	CLI_FLAG("options", 0, struct help_args, options,
		 "list the options of COMMAND (or pinwall's own), the common ones too, one a line"),
	CLI_FLAG("args", 0, struct help_args, args,
		 "print the positional arguments of COMMAND, as in its usage line"),
	{ NULL },
};

static void list_commands(const struct cmd *cmds, const char *group)
{
	for (const struct cmd *c = cmds; c->name; c++) {
		printf("%s%s%s\n", group ? group : "", group ? " " : "", c->name);
		if (c->sub)
			list_commands(c->sub, c->name);
	}
}

/* COMMAND [SUBCOMMAND] by exact names; NULL after a usage error. */
static const struct cmd *help_target(struct cli *cli, int npos, char **pos, const char **group)
{
	const struct cmd *c = npos ? cli_find(pw_cmds, pos[0]) : &pw_root;

	*group = NULL;
	if (!c) {
		cli_usage(cli, NULL, "unknown command '%s'", pos[0]);
		return NULL;
	}
	if (npos < 2)
		return c;
	if (!c->sub || !cli_find(c->sub, pos[1])) {
		cli_usage(cli, NULL, "unknown command '%s %s'", pos[0], pos[1]);
		return NULL;
	}
	*group = c->name;
	return cli_find(c->sub, pos[1]);
}

static int do_help(struct cli *cli, int argc, char **argv)
{
	struct help_args a = { .commands = false };
	const struct cmd *c;
	const char *group;
	char **pos;
	int npos, ret;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, &a, &npos, &pos)))
		return ret;
	if (a.commands) {
		list_commands(pw_cmds, NULL);
		return 0;
	}
	if (!(c = help_target(cli, npos, pos, &group)))
		return 2;
	if (a.options) {
		cli_print_opt_names(stdout, c);
		cli_print_opt_names(stdout, NULL);
	}
	else if (a.args)
		printf("%s\n", c->args ? c->args : "");
	else if (c->sub)
		cli_print_group_help(stdout, c);
	else
		cli_print_cmd_help(stdout, group, c);
	return 0;
}

/*
 * A closed 0, 1 or 2 is held by /dev/null: else the next file opened (a
 * pin, the lock) would take its number, and output or a rule read from
 * standard input would go to it. A closed stdin is remembered: reading
 * rules from it is an error, not an empty rule set.
 */
static int guard_std_fds(struct cli *cli)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			return 1;	/* cannot even report it: stderr may be closed */
		if (!fd)
			cli->stdin_closed = true;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };

	if (guard_std_fds(&cli))
		return 1;
	cli.root = pw_cmds;
	cli.cmd = &pw_root;
	return do_root(&cli, argc, argv);
}
