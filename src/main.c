// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pinwall: the command table, common options and the one error path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
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

void cli_print_json(struct cli *cli, struct json_object *o)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (cli->pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN);
	char *text = cli_json_utf8(json_object_to_json_string_ext(o, flags));

	/* no memory for the escaped copy: print nothing rather than bad JSON */
	puts(text ? text : "{\"error\":\"out of memory\"}");
	free(text);
	fflush(stdout);
}

/* One line of an error report, escaped: a value never adds a line (and JSON
 * stays UTF-8). As a JSON string, or printed after @prefix. */
static struct json_object *json_line(const char *line)
{
	char *safe = cli_escape(line);
	struct json_object *o = json_object_new_string(safe ? safe : "?");

	free(safe);
	return o;
}

static void print_line(const char *prefix, const char *line)
{
	char *safe = cli_escape(line);

	fprintf(stderr, "%s%s\n", prefix, safe ? safe : "?");
	free(safe);
}

/* Detail lines into @arr (JSON), or printed. */
static void err_detail(struct json_object *arr, const char *detail)
{
	char *copy = strdup(detail), *save = NULL;

	for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		if (arr)
			json_object_array_add(arr, json_line(l));
		else
			print_line("", l);
	}
	free(copy);
}

static int verr(struct cli *cli, int status, const char *detail, const char *fmt, va_list ap)
{
	char msg[PW_ERR_LEN + 256];

	/* a cut message says so */
	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
		strcpy(msg + sizeof(msg) - 4, "...");
	if (cli->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_line(msg));
		if (detail && *detail) {
			struct json_object *a = json_object_new_array();

			err_detail(a, detail);
			json_object_object_add(o, "detail", a);
		}
		cli_print_json(cli, o);
		json_object_put(o);
	} else {
		print_line("pinwall: error: ", msg);
		if (detail && *detail)
			err_detail(NULL, detail);
	}
	return status;
}

int cli_err(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verr(cli, 1, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

static int lib_err_fmt(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verr(cli, 1, cli->ctx.detail, fmt, ap);
	va_end(ap);
	return ret;
}

int cli_lib_err(struct cli *cli)
{
	return lib_err_fmt(cli, "%s", cli->ctx.err);
}

int cli_usage(struct cli *cli, const struct cmd *cmd, const char *fmt, ...)
{
	char msg[PW_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
		strcpy(msg + sizeof(msg) - 4, "...");
	va_end(ap);
	if (cmd && !cmd->sub) {
		char usage[1024];

		cli_usage_line(cmd, usage, sizeof(usage));
		return cli_err(cli, "%s (usage: pinwall %s%s%s %s)", msg, cli->group ? cli->group : "",
			       cli->group ? " " : "", cmd->name, usage) + 1;
	}
	if (cmd && cmd->name)	/* a group's own options */
		return cli_err(cli, "%s (see 'pinwall %s --help')", msg, cmd->name) + 1;
	return cli_err(cli, "%s (see 'pinwall %s')", msg, cli->group ? cli->group : "help") + 1;
}

int cli_check_len(struct cli *cli, const struct cmd *cmd, const char *what, const char *value,
		  size_t max)
{
	size_t len = strlen(value);

	if (len <= max)
		return 0;
	return cli_usage(cli, cmd, "%s '%.40s%s' is longer than %zu characters", what, value,
			 len > 40 ? "..." : "", max);
}

int cli_check_ifname(struct cli *cli, const struct cmd *cmd, const char *ifname)
{
	return cli_check_len(cli, cmd, "interface name", ifname, IFNAMSIZ - 1);
}

int cli_parse_u32(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 0xffffffffUL || *s == '-')
		return -1;
	*out = (unsigned int)v;
	return 0;
}

int cli_parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end ? -1 : 0;
}

int cli_opt_err(struct cli *cli, const struct cmd *cmd, int c, char **argv)
{
	if (c == ':')
		return cli_usage(cli, cmd, "option '%s' needs an argument", argv[optind - 1]);
	if (optopt)
		return cli_usage(cli, cmd, "unknown option '-%c'", optopt);
	return cli_usage(cli, cmd, "unknown option '%s'", argv[optind - 1]);
}

const struct cmd *cli_find(const struct cmd *cmds, const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const struct cmd *cli_cmd(const char *name)
{
	return cli_find(pw_cmds, name);
}

int cli_common_opt(struct cli *cli, int c, const char *arg)
{
	switch (c) {
	case 'j': cli->json = true; return 0;
	case 'P': cli->json = cli->pretty = true; return 0;
	case 'd': cli->ctx.debug = true; return 0;
	case 'R': cli->pin_root = arg; return 0;
	case 'n': cli->netns = arg; return 0;
	default: return 1;
	}
}

/* Only the network namespace changes: unlike 'ip netns exec', the mounts
 * (and so the bpffs holding the pins) stay those of the caller. */
static int enter_netns(struct cli *cli)
{
	char path[PW_PATH_LEN];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), strchr(cli->netns, '/') ? "%s" : "/run/netns/%s",
			     cli->netns) >= sizeof(path))
		return cli_usage(cli, NULL, "network namespace '%.40s...' is longer than %zu characters",
				 cli->netns, sizeof(path) - sizeof("/run/netns/"));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_err(cli, "network namespace '%s': %s: %s (see 'ip netns list')",
			       cli->netns, path, strerror(errno));
	if (setns(fd, CLONE_NEWNET)) {
		int err = errno;

		close(fd);
		return cli_err(cli, "cannot enter network namespace '%s': %s", cli->netns,
			       strerror(err));
	}
	close(fd);
	return 0;
}

int cli_setup(struct cli *cli)
{
	bool debug = cli->ctx.debug;

	if (cli->netns && enter_netns(cli))
		return 1;
	if (pw_ctx_init(&cli->ctx, cli->pin_root))
		return cli_lib_err(cli);
	cli->ctx.debug = debug;
	pw_log_setup(&cli->ctx);
	return 0;
}

int cli_dispatch(struct cli *cli, const struct cmd *cmds, int argc, char **argv)
{
	const struct cmd *match = NULL;
	size_t len = strlen(argv[0]);

	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(c->name, argv[0])) {
			cli->cmd = c;
			return c->fn(cli, argc, argv);
		}
		if (!strncmp(c->name, argv[0], len)) {
			if (match)
				return cli_usage(cli, NULL, "command '%s' is ambiguous", argv[0]);
			match = c;
		}
	}
	if (!match)
		return cli_usage(cli, NULL, "unknown command '%s'", argv[0]);
	cli->cmd = match;
	return match->fn(cli, argc, argv);
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
	cli.cmd = &pw_root;
	return do_root(&cli, argc, argv);
}
