// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Option tables: parsing, usage lines and --help from one declaration. */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
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

/* getopt's tables for @cmd: its options, then the common ones, then the
 * long options of its family that it refuses by name. */
struct getopt_tables {
	struct option longs[MAX_OPTS];
	char shorts[2 * MAX_OPTS + 8];
	const struct cli_opt *refused[MAX_OPTS];
};

static bool has_long(const struct option *longs, int k, const char *name)
{
	for (int i = 0; i < k; i++)
		if (!strcmp(longs[i].name, name))
			return true;
	return false;
}

/* The options of @cmd's siblings (.family) it does not take. */
static int add_family(const struct cmd *root, const struct cmd *cmd, struct getopt_tables *t,
		      int k)
{
	char names[128], *save = NULL;

	snprintf(names, sizeof(names), "%s", cmd->family ? cmd->family : "");
	for (char *w = strtok_r(names, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		const struct cmd *sib = cli_find(root, w);

		for (int i = 0; sib && i < n_opts(sib); i++) {
			const struct cli_opt *op = &sib->opts[i];

			if (has_long(t->longs, k, op->name))
				continue;
			if (k + 1 >= MAX_OPTS)
				return -1;
			t->refused[k] = op;
			t->longs[k] = (struct option){ op->name, op->type == CLI_OPT_FLAG ?
						       no_argument : required_argument, NULL, OPT_VAL + k };
			k++;
		}
	}
	return k;
}

static int build_getopt(const struct cmd *root, const struct cmd *cmd, struct getopt_tables *t)
{
	int n = n_opts(cmd), k = 0;
	size_t o, slen = sizeof(t->shorts);
	char *shorts = t->shorts;

	if (n + N_COMMON + 1 > MAX_OPTS)
		return -1;
	/* a group stops at its subcommand, whose options are its own */
	o = snprintf(shorts, slen, "%s:%s", cmd->sub ? "+" : "", CLI_COMMON_SHORT);
	for (int i = 0; i < n; i++) {
		const struct cli_opt *op = &cmd->opts[i];
		bool has_arg = op->type != CLI_OPT_FLAG;

		t->refused[k] = NULL;
		t->longs[k++] = (struct option){ op->name, has_arg ? required_argument : no_argument,
						 NULL, OPT_VAL + i };
		if (op->short_name && o + 3 < slen) {
			shorts[o++] = op->short_name;
			if (has_arg)
				shorts[o++] = ':';
			shorts[o] = '\0';
		}
	}
	for (size_t i = 0; i < N_COMMON; i++) {
		t->refused[k] = NULL;
		t->longs[k++] = common_longs[i];
	}
	k = add_family(root, cmd, t, k);
	if (k < 0)
		return -1;
	t->longs[k] = (struct option){ 0 };
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

/* "invalid count '0': a positive number": .range, else @fix */
static int bad_value(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		     const char *arg, const char *fix)
{
	return cli_usage(cli, cmd, "invalid %s '%s': %s", what(op), arg, op->range ? op->range : fix);
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
	strcpy(list, "use ");
	words_text(op->words, list + 4, sizeof(list) - 4);
	return bad_value(cli, cmd, op, arg, list);
}

static int set_uint(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		    const char *arg, void *field)
{
	char fix[96];
	unsigned int v;

	if (cli_parse_u32(arg, &v) || v < op->min || (op->max && v > op->max)) {
		if (op->max)
			snprintf(fix, sizeof(fix), "use a whole number from %u to %u", op->min, op->max);
		else
			snprintf(fix, sizeof(fix), "use a whole number from %u", op->min);
		return bad_value(cli, cmd, op, arg, fix);
	}
	*(unsigned int *)field = v;
	return 0;
}

static int set_num(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		   const char *arg, void *field)
{
	char fix[96];
	double v;

	/* written so that NaN fails too */
	if (cli_parse_double(arg, &v) || !(v >= op->dmin && v <= op->dmax)) {
		snprintf(fix, sizeof(fix), "use a number from %g to %g", op->dmin, op->dmax);
		return bad_value(cli, cmd, op, arg, fix);
	}
	*(double *)field = v;
	return 0;
}

static int set_list(struct cli *cli, const struct cmd *cmd, const struct cli_opt *op,
		    const char *arg, void *args)
{
	int *count = (int *)((char *)args + op->count_off);
	const char **list = (const char **)((char *)args + op->off);

	if (*count >= (int)op->max && op->what)
		return cli_usage(cli, cmd, "more than %u %s", op->max, op->what);
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

/* The @i-th word of the positional part, for "missing ...": from .nouns,
 * else the word of .args ("PREFIX..." of "SET PREFIX...": prefix). */
static void arg_noun(const struct cmd *cmd, int i, char *buf, size_t len)
{
	static const char *const nouns[][2] = {
		{ "IFACE", "interface name" }, { "SET", "set name" },
	};
	const char *a = cmd->nouns ? cmd->nouns : cmd->args ? cmd->args : "ARGUMENT";
	const char *sep = cmd->nouns ? "," : " ";
	size_t n;

	for (int k = 0; k < i && a[strcspn(a, sep)]; k++)
		a += strcspn(a, sep) + 1;
	a += strspn(a, "[ ");
	n = cmd->nouns ? strcspn(a, sep) : strcspn(a, " ].");
	snprintf(buf, len, "%.*s", (int)n, a);
	for (size_t k = 0; !cmd->nouns && k < sizeof(nouns) / sizeof(nouns[0]); k++)
		if (!strcmp(buf, nouns[k][0]))
			snprintf(buf, len, "%s", nouns[k][1]);
	for (char *c = buf; !cmd->nouns && *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

static int check_positional(struct cli *cli, const struct cmd *cmd, int npos, char **pos)
{
	char name[64];

	if (npos < cmd->min_args) {
		arg_noun(cmd, npos, name, sizeof(name));
		return cli_usage(cli, cmd, "missing %s", name);
	}
	if (cmd->max_args >= 0 && npos > cmd->max_args)
		return cli_usage(cli, cmd, "unexpected argument '%s'", pos[cmd->max_args]);
	return 0;
}

static int find_opt(const struct cmd *cmd, const char *name)
{
	for (int i = 0; i < n_opts(cmd); i++)
		if (!strcmp(cmd->opts[i].name, name))
			return i;
	return -1;
}

static int opt_form(const struct cli_opt *op, char *buf, size_t len);

/* An option given without the one it needs (--prog without --obj). */
static int check_needs(struct cli *cli, const struct cmd *cmd, const char *const *given)
{
	for (int i = 0; i < n_opts(cmd); i++) {
		const struct cli_opt *op = &cmd->opts[i];
		int need = op->needs ? find_opt(cmd, op->needs) : -1;
		char form[96];

		if (!given[i] || need < 0 || given[need])
			continue;
		opt_form(&cmd->opts[need], form, sizeof(form));
		return cli_usage(cli, cmd, "--%s%s%s%s needs %s%s%s%s", op->name,
				 *given[i] ? " '" : "", given[i], *given[i] ? "'" : "", form,
				 op->needs_why ? " (" : "", op->needs_why ? op->needs_why : "",
				 op->needs_why ? ")" : "");
	}
	return 0;
}

/* One option from getopt, @c its value. */
static int one_opt(struct cli *cli, const struct cmd *cmd, const struct getopt_tables *t, int c,
		   char **argv, void *args, const char **given)
{
	int i = c >= OPT_VAL ? c - OPT_VAL : by_short(cmd, c);

	if (c == '?' || c == ':')
		return cli_opt_err(cli, cmd, c, argv);
	if (c == 'h') {
		if (cmd->sub)
			cli_print_group_help(stdout, cmd);
		else
			cli_print_cmd_help(stdout, cli->group, cmd);
		exit(0);
	}
	if (c >= OPT_VAL && t->refused[i])
		return cli_usage(cli, cmd, "'%s' does not take --%s", cmd->name, t->refused[i]->name);
	if (i >= 0 && i < n_opts(cmd)) {
		given[i] = optarg ? optarg : "";
		return set_opt(cli, cmd, &cmd->opts[i], optarg, args);
	}
	if (cli_common_opt(cli, c, optarg))
		return cli_opt_err(cli, cmd, '?', argv);
	return 0;
}

int cli_parse(struct cli *cli, const struct cmd *cmd, int argc, char **argv, void *args,
	      int *npos, char ***pos)
{
	const char *given[MAX_OPTS] = { 0 };
	struct getopt_tables t;
	int c, ret;

	if (build_getopt(cli->root, cmd, &t))
		return cli_usage(cli, cmd, "too many options in the table of '%s'", cmd->name);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1)
		if ((ret = one_opt(cli, cmd, &t, c, argv, args, given)))
			return ret;
	if ((ret = check_needs(cli, cmd, given)))
		return ret;
	if (!cmd->sub && (ret = check_positional(cli, cmd, argc - optind, argv + optind)))
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

/* "[--obj FILE [--prog NAME]]": @op, and nested in it the options that need it. */
static size_t usage_opt(const struct cmd *cmd, const struct cli_opt *op, char *buf, size_t len)
{
	size_t o;
	char form[96];

	opt_form(op, form, sizeof(form));
	o = snprintf(buf, len, "[%s", form);
	for (int i = 0; i < n_opts(cmd) && o < len; i++) {
		if (cmd->opts[i].needs && !strcmp(cmd->opts[i].needs, op->name)) {
			o += snprintf(buf + o, len - o, " ");
			if (o < len)
				o += usage_opt(cmd, &cmd->opts[i], buf + o, len - o);
		}
	}
	if (o < len)
		o += snprintf(buf + o, len - o, "]%s", op->type == CLI_OPT_LIST ? "..." : "");
	return o;
}

void cli_usage_line(const struct cmd *cmd, char *buf, size_t len)
{
	size_t o;

	if (cmd->sub) {
		snprintf(buf, len, "COMMAND [OPTIONS] [ARGS]");
		return;
	}
	if (!cmd->opts && cmd->usage) {	/* a command without a table */
		snprintf(buf, len, "%s", cmd->usage);
		return;
	}
	o = snprintf(buf, len, "%s", cmd->args ? cmd->args : "");
	for (int i = 0; i < n_opts(cmd) && o < len; i++) {
		if (cmd->opts[i].needs && find_opt(cmd, cmd->opts[i].needs) >= 0)
			continue;	/* nested in the one it needs */
		if (o)
			o += snprintf(buf + o, len - o, " ");
		if (o < len)
			o += usage_opt(cmd, &cmd->opts[i], buf + o, len - o);
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
	if (op->needs)
		fprintf(f, " (with --%s)", op->needs);
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

/* @text's lines, each after @indent spaces. */
static void print_indented(FILE *f, const char *text, int indent)
{
	for (const char *l = text; *l;) {
		int n = (int)strcspn(l, "\n");

		fprintf(f, "%*s%.*s\n", indent, "", n, l);
		l += n + (l[n] == '\n');
	}
}

static void print_opts(FILE *f, const struct cmd *cmd)
{
	if (n_opts(cmd)) {
		fprintf(f, "\nOptions:\n");
		for (int i = 0; i < n_opts(cmd); i++)
			opt_help_line(f, &cmd->opts[i]);
	}
	fprintf(f, "\nCommon options (before or after the command):\n");
	cli_print_common_opts(f);
}

void cli_print_cmd_help(FILE *f, const char *group, const struct cmd *cmd)
{
	char usage[1024];

	cli_usage_line(cmd, usage, sizeof(usage));
	fprintf(f, "Usage: pinwall %s%s%s %s\n\n", group ? group : "", group ? " " : "", cmd->name,
		usage);
	fprintf(f, "%s%s\n", cmd->help, cmd->more ? cmd->more : "");
	print_opts(f, cmd);
	fprintf(f, "\nSee pinwall(8).\n");
}

/* pinwall's own help (the root group has no name) or a group's. */
void cli_print_group_help(FILE *f, const struct cmd *group)
{
	const char *g = group->name;

	fprintf(f, "Usage: pinwall %s%s\n\n%s\n\nCommands:\n",
		g ? g : "[OPTIONS] COMMAND [ARGS]", g ? " COMMAND [OPTIONS] [ARGS]" : "", group->help);
	for (const struct cmd *c = group->sub; c->name; c++) {
		char usage[1024];

		cli_usage_line(c, usage, sizeof(usage));
		fprintf(f, "  %s%s%s %s\n", g ? g : "", g ? " " : "", c->name, usage);
		print_indented(f, c->help, 6);
	}
	print_opts(f, group);
	fprintf(f, "\n'pinwall %s%sCOMMAND --help' shows a command's options. See pinwall(8).\n",
		g ? g : "", g ? " " : "");
}

static void opt_names_line(FILE *f, const char *form, const char *arg, const struct cli_word *w)
{
	fprintf(f, "%s%s%s", form, arg ? " " : "", arg ? arg : "");
	for (; w && w->word; w++)
		fprintf(f, " %s", w->word);
	fputc('\n', f);
}

void cli_print_opt_names(FILE *f, const struct cmd *cmd)
{
	static const char *const common_args[] = { NULL, NULL, NULL, "DIR", "NETNS", NULL };
	char form[64];

	if (!cmd) {
		for (size_t i = 0; i < N_COMMON; i++) {
			const char *arg = i < sizeof(common_args) / sizeof(common_args[0]) ?
					  common_args[i] : NULL;

			snprintf(form, sizeof(form), "--%s", common_longs[i].name);
			opt_names_line(f, form, arg, NULL);
			if (common_longs[i].val != 'P' && common_longs[i].val != 'R') {
				snprintf(form, sizeof(form), "-%c", common_longs[i].val);
				opt_names_line(f, form, arg, NULL);
			}
		}
		return;
	}
	for (int i = 0; i < n_opts(cmd); i++) {
		const struct cli_opt *op = &cmd->opts[i];
		const char *arg = op->type == CLI_OPT_FLAG ? NULL : op->arg ? op->arg : "VALUE";

		snprintf(form, sizeof(form), "--%s", op->name);
		opt_names_line(f, form, arg, op->words);
		if (op->short_name) {
			snprintf(form, sizeof(form), "-%c", op->short_name);
			opt_names_line(f, form, arg, op->words);
		}
	}
}

/* A group without options of its own (they would need an argument struct). */
int cli_run_group(struct cli *cli, int argc, char **argv)
{
	const struct cmd *g = cli->cmd;
	char **pos;
	int npos, ret;

	if ((ret = cli_parse(cli, g, argc, argv, NULL, &npos, &pos)))
		return ret;
	if (!npos) {
		cli_print_group_help(stderr, g);
		return 2;
	}
	if (g->name)
		cli->group = g->name;	/* usage lines say 'pinwall GROUP CMD' */
	return cli_dispatch(cli, g->sub, npos, pos);
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
