// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Option tables: parsing, usage lines and --help from one declaration. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define MAX_OPTS 48	/* a command's own plus the common ones */
#define OPT_VAL 256	/* getopt value of table entry i: OPT_VAL + i */

static const struct option common_longs[] = { CLI_COMMON_OPTS };
#define N_COMMON (sizeof(common_longs) / sizeof(common_longs[0]))

static int n_opts(const struct cmd *cmd)
{
	int n = 0;

	while (cmd->opts && cmd->opts[n].name)
		n++;
	return n;
}

/* getopt's tables for @cmd: long options and the short string. */
static int build_getopt(const struct cmd *cmd, struct option *longs, char *shorts, size_t slen)
{
	int n = n_opts(cmd), k = 0;
	size_t o;

	if (n + N_COMMON + 1 > MAX_OPTS)
		return -1;
	o = snprintf(shorts, slen, ":%s", CLI_COMMON_SHORT);
	for (int i = 0; i < n; i++) {
		const struct cli_opt *op = &cmd->opts[i];
		bool has_arg = op->type != CLI_OPT_FLAG;

		longs[k++] = (struct option){ op->name, has_arg ? required_argument : no_argument,
					      NULL, OPT_VAL + i };
		if (op->short_name && o + 3 < slen) {
			shorts[o++] = op->short_name;
			if (has_arg)
				shorts[o++] = ':';
			shorts[o] = '\0';
		}
	}
	for (size_t i = 0; i < N_COMMON; i++)
		longs[k++] = common_longs[i];
	longs[k] = (struct option){ 0 };
	return 0;
}

static int by_short(const struct cmd *cmd, int c)
{
	for (int i = 0; i < n_opts(cmd); i++)
		if (cmd->opts[i].short_name == c)
			return i;
	return -1;
}

static const char *what(const struct cli_opt *op)
{
	return op->what ? op->what : op->name;
}

/* "native, skb or auto" */
static void words_text(const struct cli_word *w, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; w[i].word && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s", i == 0 ? "" : w[i + 1].word ? ", " : " or ",
			      w[i].word);
}

static int set_enum(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		    const char *arg, void *field)
{
	char list[256];

	for (const struct cli_word *w = op->words; w->word; w++) {
		if (!strcmp(w->word, arg)) {
			*(int *)field = w->value;
			return 0;
		}
	}
	words_text(op->words, list, sizeof(list));
	return cli_usage(cli, cmd, "invalid %s '%s': use %s", what(op), arg, list);
}

static int set_uint(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		    const char *arg, void *field)
{
	unsigned int v;

	if (cli_parse_u32(arg, &v) || v < op->min || (op->max && v > op->max)) {
		if (op->max)
			return cli_usage(cli, cmd, "invalid %s '%s': use a whole number from %u to %u",
					 what(op), arg, op->min, op->max);
		return cli_usage(cli, cmd, "invalid %s '%s': use a whole number from %u", what(op),
				 arg, op->min);
	}
	*(unsigned int *)field = v;
	return 0;
}

static int set_num(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		   const char *arg, void *field)
{
	double v;

	/* written so that NaN fails too */
	if (cli_parse_double(arg, &v) || !(v >= op->dmin && v <= op->dmax))
		return cli_usage(cli, cmd, "invalid %s '%s': use a number from %g to %g", what(op),
				 arg, op->dmin, op->dmax);
	*(double *)field = v;
	return 0;
}

static int set_list(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		    const char *arg, void *args)
{
	int *count = (int *)((char *)args + op->count_off);
	const char **list = (const char **)((char *)args + op->off);

	if (*count >= (int)op->max)
		return cli_usage(cli, cmd, "more than %u --%s options", op->max, op->name);
	list[(*count)++] = arg;
	return 0;
}

/* Store one option's value in @args. */
static int set_opt(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		   const char *arg, void *args)
{
	void *field = (char *)args + op->off;

	switch (op->type) {
	case CLI_OPT_FLAG: *(bool *)field = true; return 0;
	case CLI_OPT_STR: *(const char **)field = arg; return 0;
	case CLI_OPT_UINT: return set_uint(cli, cmd, op, arg, field);
	case CLI_OPT_NUM: return set_num(cli, cmd, op, arg, field);
	case CLI_OPT_ENUM: return set_enum(cli, cmd, op, arg, field);
	case CLI_OPT_LIST: return set_list(cli, cmd, op, arg, args);
	}
	return cli_usage(cli, cmd, "option --%s: unknown type", op->name);
}

/* The first word of the positional part ("IFACE" of "IFACE [MAP...]"). */
static void first_arg(const struct cmd *cmd, char *buf, size_t len)
{
	const char *a = cmd->args ? cmd->args : "ARGUMENT";

	a += strspn(a, "[");
	snprintf(buf, len, "%.*s", (int)strcspn(a, " ]."), a);
}

static int check_positional(struct cli *cli, const struct cmd *cmd, int npos, char **pos)
{
	char name[64];

	if (npos < cmd->min_args) {
		first_arg(cmd, name, sizeof(name));
		return cli_usage(cli, cmd, "missing %s", name);
	}
	if (cmd->max_args >= 0 && npos > cmd->max_args)
		return cli_usage(cli, cmd, "unexpected argument '%s'", pos[cmd->max_args]);
	return 0;
}

int cli_parse(struct cli *cli, const struct cmd *cmd, int argc, char **argv, void *args,
	      int *npos, char ***pos)
{
	struct option longs[MAX_OPTS];
	char shorts[2 * MAX_OPTS + 8];
	int c, ret;

	if (build_getopt(cmd, longs, shorts, sizeof(shorts)))
		return cli_usage(cli, cmd, "too many options in the table of '%s'", cmd->name);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		int i = c >= OPT_VAL ? c - OPT_VAL : by_short(cmd, c);

		if (c == '?' || c == ':')
			return cli_opt_err(cli, cmd, c, argv);
		if (c == 'h') {
			cli_print_cmd_help(stdout, cli->group, cmd);
			exit(0);
		}
		if (i >= 0) {
			if ((ret = set_opt(cli, cmd, &cmd->opts[i], optarg, args)))
				return ret;
		} else if (cli_common_opt(cli, c, optarg)) {
			return cli_opt_err(cli, cmd, '?', argv);
		}
	}
	if ((ret = check_positional(cli, cmd, argc - optind, argv + optind)))
		return ret;
	if (npos)
		*npos = argc - optind;
	if (pos)
		*pos = argv + optind;
	return 0;
}

/* "--obj FILE" or "-m MODE" */
static int opt_form(const struct cli_opt *op, char *buf, size_t len)
{
	const char *arg = op->type == CLI_OPT_FLAG ? NULL : op->arg ? op->arg : "VALUE";

	return snprintf(buf, len, "--%s%s%s", op->name, arg ? " " : "", arg ? arg : "");
}

void cli_usage_line(const struct cmd *cmd, char *buf, size_t len)
{
	size_t o;

	if (!cmd->opts && cmd->usage) {	/* a group, or a command without a table */
		snprintf(buf, len, "%s", cmd->usage);
		return;
	}
	o = snprintf(buf, len, "%s", cmd->args ? cmd->args : "");
	for (int i = 0; i < n_opts(cmd) && o < len; i++) {
		char form[96];

		opt_form(&cmd->opts[i], form, sizeof(form));
		o += snprintf(buf + o, len - o, "%s[%s]%s", o ? " " : "", form,
			      cmd->opts[i].type == CLI_OPT_LIST ? "..." : "");
	}
}

static void opt_help_line(FILE *f, const struct cli_opt *op)
{
	const char *arg = op->type == CLI_OPT_FLAG ? NULL : op->arg ? op->arg : "VALUE";
	char left[96], list[256];

	snprintf(left, sizeof(left), "%s%c%s--%s%s%s", op->short_name ? "-" : " ",
		 op->short_name ? op->short_name : ' ', op->short_name ? ", " : "  ", op->name,
		 arg ? " " : "", arg ? arg : "");
	fprintf(f, "  %-24s %s", left, op->help ? op->help : "");
	if (op->type == CLI_OPT_ENUM) {
		words_text(op->words, list, sizeof(list));
		fprintf(f, " (%s)", list);
	}
	if (op->type == CLI_OPT_LIST)
		fprintf(f, " (repeatable, up to %u)", op->max);
	fputc('\n', f);
}

void cli_print_common_opts(FILE *f)
{
	fprintf(f,
		"  -j, --json               machine-readable output (JSON; stats: JSON Lines)\n"
		"      --pretty             indented JSON\n"
		"  -d, --debug              show libbpf's messages\n"
		"      --pin-root DIR       pin root on bpffs (default %s)\n"
		"  -n, --netns NAME         act in network namespace NAME (/run/netns/NAME),\n"
		"                           keeping this mount namespace and its bpffs\n"
		"  -h, --help               this text\n", PW_DEFAULT_PIN_ROOT);
}

void cli_print_cmd_help(FILE *f, const char *group, const struct cmd *cmd)
{
	char usage[1024];

	cli_usage_line(cmd, usage, sizeof(usage));
	fprintf(f, "Usage: pinwall %s%s%s %s\n\n", group ? group : "", group ? " " : "", cmd->name,
		usage);
	fprintf(f, "%s%s\n", cmd->help, cmd->more ? cmd->more : "");
	if (n_opts(cmd)) {
		fprintf(f, "\nOptions:\n");
		for (int i = 0; i < n_opts(cmd); i++)
			opt_help_line(f, &cmd->opts[i]);
	}
	fprintf(f, "\nCommon options:\n");
	cli_print_common_opts(f);
	fprintf(f, "\nSee pinwall(8).\n");
}

void cli_print_group_help(FILE *f, const struct cmd *group)
{
	fprintf(f, "Usage: pinwall %s COMMAND [OPTIONS] [ARGS]\n\n%s\n\nCommands:\n", group->name,
		group->help);
	for (const struct cmd *c = group->sub; c->name; c++) {
		char usage[1024];

		cli_usage_line(c, usage, sizeof(usage));
		fprintf(f, "  %s %s %s\n      %s\n", group->name, c->name, usage, c->help);
	}
	fprintf(f, "\n'pinwall %s COMMAND --help' shows a command's options. See pinwall(8).\n",
		group->name);
}

void cli_print_opt_names(FILE *f, const struct cmd *cmd)
{
	for (int i = 0; i < n_opts(cmd); i++) {
		fprintf(f, "--%s\n", cmd->opts[i].name);
		if (cmd->opts[i].short_name)
			fprintf(f, "-%c\n", cmd->opts[i].short_name);
	}
	for (size_t i = 0; i < N_COMMON; i++)
		fprintf(f, "--%s\n", common_longs[i].name);
}
