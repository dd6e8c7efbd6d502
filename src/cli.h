/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The CLI's shared pieces: command table type, common options, output. */
#ifndef PINWALL_CLI_H
#define PINWALL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <json-c/json.h>
#include "pinwall/pinwall.h"
#include "pinwall/rules.h"
#include "opts.h"

#define PW_VERSION "0.1.0"

/* Exit statuses: 0 fine, 1 error, 2 usage; 3: status reports drift, or
 * repin left a pin in conflict; 4: restore left an interface not as saved
 * (missing device, conflict, failed load) and restored the rest
 * (documented in pinwall(8)). */
#define CLI_EXIT_DRIFT 3
#define CLI_EXIT_PARTIAL 4

struct cli {
	struct pw_ctx ctx;
	const char *prog;	/* argv[0] of the command, for messages */
	bool json;
	bool pretty;
	const char *pin_root;
	const char *netns;
	bool stdin_closed;	/* fd 0 was closed at start (now /dev/null) */
	const char *group;	/* "rule" while a rule subcommand runs: for usage */
	const struct cmd *cmd;	/* the table entry being run */
	const struct cmd *root;	/* the top-level table (main.c): .family names its entries */
};

/* A command: its options in one table (opts.h), from which parsing, --help
 * and the usage line come; or a group of subcommands (.sub). */
struct cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *usage;	/* a command without a table: "IFACE [--mode ...]" */
	const char *help;	/* one line */
	const struct cli_opt *opts;	/* its options, NULL-ended; common ones implied */
	const char *args;	/* the positional part of its usage: "IFACE", "[IFACE...]" */
	int min_args, max_args;	/* positional words accepted; max -1: any number */
	const struct cmd *sub;	/* a group: its subcommands, NULL-ended */
	const char *more;	/* --help: lines after the one-line help ("\n..." each) */
	const char *family;	/* top-level commands whose options this one refuses by
				 * name ("'unload' does not take --mode"): "load reload" */
	const char *nouns;	/* the positional words in errors, comma-separated
				 * ("rule file"); default from .args (IFACE: interface name) */
};

/* Dispatch argv[0] among @cmds (unique prefixes accepted). */
int cli_dispatch(struct cli *cli, const struct cmd *cmds, int argc, char **argv);

/* Common options every subcommand takes; their table entries and handler. */
#define CLI_COMMON_OPTS \
	{ "json", no_argument, NULL, 'j' }, \
	{ "pretty", no_argument, NULL, 'P' }, \
	{ "debug", no_argument, NULL, 'd' }, \
	{ "pin-root", required_argument, NULL, 'R' }, \
	{ "netns", required_argument, NULL, 'n' }, \
	{ "help", no_argument, NULL, 'h' }
#define CLI_COMMON_SHORT "jdn:h"
/* 0: handled; 1: not a common option (--help is cli_parse's) */
int cli_common_opt(struct cli *cli, int c, const char *arg);
/* Enter the netns, set up the library context: after options are parsed. */
int cli_setup(struct cli *cli);

/* Errors: one line, "pinwall: error: ..." or {"error": ...}; exit status. */
int cli_err(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A library failure: ctx->err plus its detail lines. */
int cli_lib_err(struct cli *cli);
int cli_usage(struct cli *cli, const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* JSON on stdout, one line (or indented with --pretty), valid UTF-8. */
void cli_print_json(struct cli *cli, struct json_object *o);
/* Values shown safely (quote.c): malloc'd, NULL without memory.
 * cli_escape: control characters and non-UTF-8 bytes as \xNN (one line);
 * cli_json_utf8: serialized JSON with non-UTF-8 bytes escaped. */
char *cli_escape(const char *s);
char *cli_json_utf8(const char *json);
/* Too long is refused, never cut: a usage error naming the limit. */
int cli_check_len(struct cli *cli, const struct cmd *cmd, const char *what, const char *value,
		  size_t max);
int cli_check_ifname(struct cli *cli, const struct cmd *cmd, const char *ifname);
/* Parse a positive integer or decimal; -1 on error. */
int cli_parse_u32(const char *s, unsigned int *out);
int cli_parse_double(const char *s, double *out);

/* Report a getopt failure ('?' unknown, ':' missing argument) as usage. */
int cli_opt_err(struct cli *cli, const struct cmd *cmd, int c, char **argv);
/* The command called @name in the table @cmds, or NULL. */
const struct cmd *cli_find(const struct cmd *cmds, const char *name);
/* The subcommands of the groups (cmd_rule.c, cmd_set.c). */
extern const struct cmd rule_cmds[], set_cmds[], block_cmds[];
/* The option tables of the commands (in their files). */
extern const struct cli_opt clean_opts[], load_opts[], reload_opts[], unload_opts[],
	stats_opts[], help_opts[], drops_opts[], save_opts[], restore_opts[], exporter_opts[],
	crowdsec_opts[];

int do_load(struct cli *cli, int argc, char **argv);
int do_reload(struct cli *cli, int argc, char **argv);
int do_unload(struct cli *cli, int argc, char **argv);
int do_status(struct cli *cli, int argc, char **argv);
int do_stats(struct cli *cli, int argc, char **argv);
int do_clean(struct cli *cli, int argc, char **argv);
int do_exporter(struct cli *cli, int argc, char **argv);
int do_repin(struct cli *cli, int argc, char **argv);
int do_recover(struct cli *cli, int argc, char **argv);
int do_drops(struct cli *cli, int argc, char **argv);
int do_save(struct cli *cli, int argc, char **argv);
int do_restore(struct cli *cli, int argc, char **argv);
int do_crowdsec(struct cli *cli, int argc, char **argv);

extern const struct cmd pw_cmds[];

/* The outcome of a rule or set verb (cmd_rule.c): the note of an interrupted
 * apply settled first, warnings, then the report or the error. */
int report_change(struct cli *cli, int err, const struct pw_change_result *res, const char *what);
const char *policy_name(int p);

/* chain_out.c: the chained program in status */
struct json_object *chain_status_json(const struct pw_chain_info *ci);
void chain_status_text(const struct pw_chain_info *ci);

#endif
