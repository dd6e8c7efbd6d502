/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One declarative option table per command: parsing, --help, the usage line
 * (and the man page test and bash completion, through 'pinwall help') all
 * come from it, so they cannot drift apart.
 */
#ifndef PINWALL_OPTS_H
#define PINWALL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli;
struct cmd;

enum cli_opt_type {
	CLI_OPT_FLAG,	/* bool, set when given */
	CLI_OPT_STR,	/* const char * */
	CLI_OPT_UINT,	/* unsigned int within [min, max] (max 0: no upper bound) */
	CLI_OPT_NUM,	/* double within [dmin, dmax] */
	CLI_OPT_ENUM,	/* int: the value of the word given, from .words */
	CLI_OPT_LIST,	/* const char *[max] plus an int count: repeatable */
};

/* A word an enumerated option accepts, and the value it stores. */
struct cli_word {
	const char *word;
	int value;
};

struct cli_opt {
	const char *name;		/* "count": --count */
	char short_name;		/* 'c': -c; 0 for none */
	enum cli_opt_type type;
	size_t off;			/* its field in the command's argument struct */
	const char *arg;		/* "N", "FILE": in usage and --help */
	const char *help;		/* one line */
	const struct cli_word *words;	/* CLI_OPT_ENUM: NULL-ended */
	unsigned int min, max;		/* CLI_OPT_UINT range; CLI_OPT_LIST: most entries */
	double dmin, dmax;		/* CLI_OPT_NUM range */
	size_t count_off;		/* CLI_OPT_LIST: the int count field */
	const char *what;		/* the value's name in errors ("mode"); default the option's */
	const char *range;		/* what a valid value is, in errors ("a positive number") */
	const char *needs;		/* the option this one needs ("obj"): checked, and nested
					 * in the usage line ("[--obj FILE [--prog NAME]]") */
	const char *needs_why;		/* said after the error when .needs is missing */
};

/* Fields beyond the common ones follow as designated initializers:
 * CLI_UINT(..., "stop after N", .range = "a positive number"). */
#define CLI_FLAG(n, s, T, f, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_FLAG, .off = offsetof(T, f), .help = h, __VA_ARGS__ }
#define CLI_STR(n, s, T, f, a, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_STR, .off = offsetof(T, f), .arg = a, .help = h, __VA_ARGS__ }
#define CLI_UINT(n, s, T, f, a, lo, hi, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_UINT, .off = offsetof(T, f), .arg = a, \
	  .min = lo, .max = hi, .help = h, __VA_ARGS__ }
#define CLI_NUM(n, s, T, f, a, lo, hi, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_NUM, .off = offsetof(T, f), .arg = a, \
	  .dmin = lo, .dmax = hi, .help = h, __VA_ARGS__ }
#define CLI_ENUM(n, s, T, f, a, w, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_ENUM, .off = offsetof(T, f), .arg = a, \
	  .words = w, .help = h, __VA_ARGS__ }
#define CLI_LIST(n, s, T, f, cnt, most, a, h, ...) \
	{ .name = n, .short_name = s, .type = CLI_OPT_LIST, .off = offsetof(T, f), .arg = a, \
	  .max = most, .count_off = offsetof(T, cnt), .help = h, __VA_ARGS__ }

/*
 * Parse @argv (argv[0] is the command's name) by @cmd->opts into @args, and
 * the common options into @cli. The positional words are left in @pos/@npos
 * (either may be NULL when the command takes none) after their count is
 * checked against @cmd->min_args/max_args. --help prints the command's help
 * and exits 0. A usage error is reported and its exit status (2) returned;
 * 0 otherwise. Nothing is set up: the command calls cli_setup() next.
 */
int cli_parse(struct cli *cli, const struct cmd *cmd, int argc, char **argv, void *args,
	      int *npos, char ***pos);

/* The usage line's arguments: "IFACE [-m MODE] [--obj FILE]..." into @buf. */
void cli_usage_line(const struct cmd *cmd, char *buf, size_t len);
/* 'pinwall [GROUP] CMD --help': usage, what it does, its options. */
void cli_print_cmd_help(FILE *f, const char *group, const struct cmd *cmd);
/* The common options' lines of every --help. */
void cli_print_common_opts(FILE *f);
/* 'pinwall GROUP --help' and 'pinwall GROUP' alone: its subcommands. */
void cli_print_group_help(FILE *f, const struct cmd *group);

/*
 * For completion and the man page test ('pinwall help --options'): the
 * options of @cmd (NULL: the common ones), one per line, long then short,
 * each followed by its argument's name and an enumeration's words:
 * "--mode MODE native skb auto", "-m MODE native skb auto", "--force".
 */
void cli_print_opt_names(FILE *f, const struct cmd *cmd);

/* A group's (or pinwall's own) options, then its subcommand from .sub. */
int cli_run_group(struct cli *cli, int argc, char **argv);

#endif
