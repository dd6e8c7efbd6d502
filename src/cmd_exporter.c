// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * exporter: the counters, the rule hits and pinwall's own read errors as
 * Prometheus metrics, served on /metrics (--listen) and/or written for
 * node_exporter's textfile collector (--textfile). Every scrape reads the
 * pins again (pw_collect), so loads, reloads and replaced maps under a
 * running exporter are followed, as stats follows them.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "opts.h"
#include "httpd.h"
#include "metrics.h"
#include "textfile.h"

#define EXPORTER_MAX_RULES 1000		/* default --max-rules */

struct exporter_args {
	const char *listen;
	const char *textfile;
	double interval;		/* 0: the textfile is written once */
	unsigned int max_rules;
};

const struct cli_opt exporter_opts[] = {
	CLI_STR("listen", 'l', struct exporter_args, listen, "ADDR:PORT",
		"serve /metrics over HTTP (127.0.0.1:9840, [::1]:9840, :9840 for every address)"),
	CLI_STR("textfile", 't', struct exporter_args, textfile, "PATH",
		"write the metrics to PATH (atomically) for node_exporter's textfile collector"),
	CLI_NUM("interval", 'i', struct exporter_args, interval, "SEC", 0.1, 86400,
		"rewrite the textfile every SEC seconds (default: once)"),
	CLI_UINT("max-rules", 0, struct exporter_args, max_rules, "N", 0, PW_MAX_RULES,
		 "per-rule series for the N rules with the most hits (default 1000, 0: none)"),
	{ NULL },
};

struct exporter {
	struct cli *cli;
	struct pw_collect c;
	unsigned int max_rules;
	char said[PW_ERR_LEN];		/* the read failure last printed */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A run-time problem that does not stop the exporter: one line, escaped. */
static void warning(const char *msg, const char *tail)
{
	char *safe = cli_escape(msg);

	fprintf(stderr, "pinwall: warning: %s%s\n", safe ? safe : "?", tail);
	free(safe);
}

/* One scrape: read everything again, render it. A failed read is said on
 * stderr once (until another one), and counted in the metrics. */
static char *scrape(void *arg, size_t *len)
{
	struct exporter *x = arg;

	pw_collect(&x->cli->ctx, &x->c, x->max_rules);
	if (x->c.failed && strcmp(x->c.last_err, x->said)) {
		warning(x->c.last_err, " (counted in pinwall_scrape_errors_total)");
		snprintf(x->said, sizeof(x->said), "%s", x->c.last_err);
	} else if (!x->c.failed) {
		x->said[0] = '\0';
	}
	return metrics_render(&x->c, len);
}

/* Write the textfile: at start a failure is the command's error (status
 * 1); later ones are said and the next interval tries again. */
static int textfile_tick(struct exporter *x, const char *path, bool first)
{
	char why[PATH_MAX + 256];
	size_t len = 0;
	char *text = scrape(x, &len);
	int err;

	if (!text)
		return first ? cli_err(x->cli, "out of memory") : 0;
	err = textfile_write(path, text, len, why, sizeof(why));
	free(text);
	if (err && first)
		return cli_err(x->cli, "%s", why);
	if (err)
		warning(why, "");
	return 0;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Serve scrapes and rewrite the textfile on time until a signal. */
static void run(struct exporter *x, struct httpd *h, const struct exporter_args *a)
{
	double next = mono() + a->interval;

	while (!stop) {
		double left = next - mono();
		int wait_ms = 500;	/* a signal is noticed within this */

		if (a->textfile && a->interval > 0) {
			if (left <= 0) {
				textfile_tick(x, a->textfile, false);
				next += a->interval;
				if (next < mono())	/* fell behind: skip ahead */
					next = mono() + a->interval;
				continue;
			}
			if (left * 1000 < wait_ms)
				wait_ms = (int)(left * 1000) + 1;
		}
		if (h) {
			httpd_run(h, wait_ms);
		} else {
			struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
}

/* Everything the values alone can tell, before anything is done. */
static int check_args(struct cli *cli, const struct cmd *cmd, const struct exporter_args *a,
		      struct sockaddr_storage *ss, socklen_t *sslen)
{
	char why[PATH_MAX + 256];

	if (!a->listen && !a->textfile)
		return cli_usage(cli, cmd, "nothing to do: give --listen ADDR:PORT, --textfile PATH, or both");
	if (a->interval > 0 && !a->textfile)
		return cli_usage(cli, cmd, "--interval is how often the textfile is rewritten: give --textfile PATH too");
	if (a->listen && httpd_parse_addr(a->listen, ss, sslen, why, sizeof(why)))
		return cli_usage(cli, cmd, "invalid --listen '%s': %s (use ADDR:PORT, e.g. 127.0.0.1:9840, [::1]:9840 or :9840)",
				 a->listen, why);
	if (a->textfile && textfile_check(a->textfile, why, sizeof(why)))
		return cli_usage(cli, cmd, "invalid --textfile: %s", why);
	return 0;
}

/* The listening socket, bound in the network namespace pinwall was started
 * in (before --netns is entered): -1 when not listening, -2 on error. */
static int bind_listen(struct cli *cli, const struct exporter_args *a,
		       const struct sockaddr_storage *ss, socklen_t sslen)
{
	int fd;

	if (!a->listen)
		return -1;
	fd = httpd_listen(ss, sslen);
	if (fd < 0) {
		cli_err(cli, "cannot listen on '%s': %s", a->listen, strerror(-fd));
		return -2;
	}
	return fd;
}

int do_exporter(struct cli *cli, int argc, char **argv)
{
	struct exporter_args a = { .max_rules = EXPORTER_MAX_RULES };
	struct sigaction sa = { .sa_handler = on_signal };
	struct exporter x = { .cli = cli };
	struct sockaddr_storage ss;
	struct httpd *h = NULL;
	socklen_t sslen = 0;
	int ret, fd;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, &a, NULL, NULL)) ||
	    (ret = check_args(cli, cli->cmd, &a, &ss, &sslen)))
		return ret;
	x.max_rules = a.max_rules;
	if ((fd = bind_listen(cli, &a, &ss, sslen)) == -2)
		return 1;
	if ((ret = cli_setup(cli)) || pw_check_caps_read(&cli->ctx) ||
	    pw_bpffs_prepare(&cli->ctx, false)) {
		ret = ret ?: cli_lib_err(cli);
		goto out;
	}
	if (a.textfile && (ret = textfile_tick(&x, a.textfile, true)))
		goto out;
	if (fd >= 0) {
		if (!(h = httpd_start(fd, "/metrics", METRICS_CONTENT_TYPE, scrape, &x))) {
			ret = cli_err(cli, "cannot start the HTTP server on '%s'", a.listen);
			goto out;
		}
		fd = -1;	/* the server's now */
	} else if (!a.interval) {
		goto out;	/* the textfile, once */
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a scraper that hangs up is no reason to die */
	run(&x, h, &a);
out:
	httpd_stop(h);
	if (fd >= 0)
		close(fd);
	pw_collect_free(&x.c);
	return ret;
}
