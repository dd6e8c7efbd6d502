// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CLI's ground floor: the one error path (text or JSON), JSON output,
 * number parsing, the common options and the set-up after parsing. Knows
 * nothing of commands or option tables (opts.c, above it).
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
#include "cli.h"

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
		return cli_err(cli, "network namespace '%.40s...' is longer than %zu characters (see 'pinwall help')",
			       cli->netns, sizeof(path) - sizeof("/run/netns/")) + 1;
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
