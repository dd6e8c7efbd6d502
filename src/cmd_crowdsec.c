// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * crowdsec: a bouncer. Follows a CrowdSec local API's decisions stream and
 * keeps the timed blocks with origin crowdsec equal to its ban decisions on
 * Ip and Range. It starts (and starts again after any failure) with the full
 * set, startup=true, and removes the crowdsec blocks not in it: a decision
 * deleted while the bouncer was away or while an answer was lost is never
 * left blocking. While the local API is down the blocks stay (each expires
 * with its decision) and the bouncer retries with backoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "pinwall/crowdsec.h"
#include "crowdsec_http.h"
#include "cli.h"

#define CS_KEY_MAX	256	/* a bouncer key is 32 hex digits */
#define CS_URL_MAX	512
#define CS_BACKOFF_MAX	300	/* seconds between retries at most */

struct crowdsec_args {
	const char *lapi;
	const char *key_file;
	unsigned int interval;
	unsigned int timeout;
	const char *state;
	bool once;
};

const struct cli_opt crowdsec_opts[] = {
	CLI_STR("lapi", 'u', struct crowdsec_args, lapi, "URL",
		"the local API: http://HOST:PORT or https://HOST:PORT; required"),
	CLI_STR("key-file", 'k', struct crowdsec_args, key_file, "FILE",
		"the bouncer's key: a regular file, not a symlink, not open to others; required"),
	CLI_UINT("interval", 'i', struct crowdsec_args, interval, "SEC", 1, 3600,
		 "seconds between polls (default 10)"),
	CLI_UINT("timeout", 0, struct crowdsec_args, timeout, "SEC", 1, 300,
		 "seconds one request may take (default 10)"),
	CLI_STR("state", 0, struct crowdsec_args, state, "FILE",
		"after each poll, replace FILE with the bouncer's state (JSON)"),
	CLI_FLAG("once", '1', struct crowdsec_args, once,
		 "one full pull and reconcile, then exit (1 if the local API fails)"),
	{ NULL },
};

struct bouncer {
	struct cli *cli;
	const struct crowdsec_args *a;
	struct cs_http *http;
	struct pw_cs_table *table;
	bool need_startup;
	unsigned int failures;		/* in a row */
	unsigned long long polls, added, removed, skipped;
	time_t last_ok;
	char last_err[256];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void warning(const char *msg)
{
	char *safe = cli_escape(msg);

	fprintf(stderr, "pinwall: warning: crowdsec: %s\n", safe ? safe : "?");
	free(safe);
}

/* The key: one word of printable ASCII (it goes into an HTTP header). */
static int key_text(struct cli *cli, const char *path, char *buf, ssize_t n, char *key)
{
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (!n)
		return cli_err(cli, "key file '%s' is empty: put the key of 'cscli bouncers add' in it",
			       path);
	if (n > CS_KEY_MAX)
		return cli_err(cli, "key file '%s' holds more than %d characters: put only the key in it",
			       path, CS_KEY_MAX);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			return cli_err(cli, "key file '%s' holds more than one word of printable "
				       "characters: put only the key in it", path);
	memcpy(key, buf, (size_t)n);
	key[n] = '\0';
	return 0;
}

/* Refused (not warned): a key others can read lets them read the decisions. */
static int read_key(struct cli *cli, const char *path, char *key)
{
	char buf[CS_KEY_MAX + 8];
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return cli_err(cli, "key file '%s' is a symlink: give the file itself", path);
	if (fd < 0)
		return cli_err(cli, "cannot open key file '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return cli_err(cli, "key file '%s' is not a regular file", path);
	}
	if (st.st_mode & S_IRWXO) {
		close(fd);
		return cli_err(cli, "key file '%s' is open to others (mode %04o): chmod o-rwx '%s'",
			       path, (unsigned int)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof(buf));
	ret = n < 0 ? cli_err(cli, "cannot read key file '%s': %s", path, strerror(errno))
		    : key_text(cli, path, buf, n, key);
	close(fd);
	return ret;
}

static int check_args(struct cli *cli, struct crowdsec_args *a, char *key)
{
	const struct cmd *cmd = cli->cmd;

	if (!a->lapi)
		return cli_usage(cli, cmd, "missing --lapi URL: the local API, e.g. http://127.0.0.1:8080");
	if (!a->key_file)
		return cli_usage(cli, cmd, "missing --key-file FILE: the key of 'cscli bouncers add'");
	if (cli_check_len(cli, cmd, "--lapi", a->lapi, CS_URL_MAX) ||
	    cli_check_len(cli, cmd, "--key-file", a->key_file, PATH_MAX) ||
	    (a->state && cli_check_len(cli, cmd, "--state", a->state, PATH_MAX - 8)))
		return 2;
	if (strncmp(a->lapi, "http://", 7) && strncmp(a->lapi, "https://", 8))
		return cli_usage(cli, cmd, "invalid value '%s' for --lapi: use http://HOST:PORT or "
				 "https://HOST:PORT", a->lapi);
	for (const char *p = a->lapi; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '?' || *p == '#')
			return cli_usage(cli, cmd, "invalid value '%s' for --lapi: the local API's "
					 "base URL, without spaces, query or fragment", a->lapi);
	return read_key(cli, a->key_file, key) ? 1 : 0;
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}


/* One poll's outcome: a line (or a JSON object) when something happened. */
static void report(struct bouncer *b, bool startup, const struct pw_cs_batch *bt,
		   const struct pw_cs_plan *plan, const struct pw_cs_applied *ap)
{
	unsigned int skipped = bt->other_type + bt->other_scope + bt->bad + bt->expired;

	for (unsigned int i = 0; i < bt->n_warn && i < PW_CS_WARN_KEEP; i++)
		warning(bt->warn[i]);
	if (bt->n_warn > PW_CS_WARN_KEEP)
		fprintf(stderr, "pinwall: warning: crowdsec: %u more bad decisions skipped\n",
			bt->n_warn - PW_CS_WARN_KEEP);
	if (!startup && !ap->added && !ap->removed && !skipped && !ap->other_origin && !ap->gone &&
	    !plan->stale_deletions)
		return;
	if (b->cli->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "startup", json_object_new_boolean(startup));
		json_object_object_add(o, "added", json_object_new_int64(ap->added));
		json_object_object_add(o, "removed", json_object_new_int64(ap->removed));
		json_object_object_add(o, "already_gone", json_object_new_int64(ap->gone));
		json_object_object_add(o, "other_origin", json_object_new_int64(ap->other_origin));
		json_object_object_add(o, "stale_deletions",
				       json_object_new_int64(plan->stale_deletions));
		json_object_object_add(o, "skipped_type", json_object_new_int64(bt->other_type));
		json_object_object_add(o, "skipped_scope", json_object_new_int64(bt->other_scope));
		json_object_object_add(o, "skipped_bad", json_object_new_int64(bt->bad));
		json_object_object_add(o, "skipped_expired", json_object_new_int64(bt->expired));
		json_object_object_add(o, "decisions",
				       json_object_new_int64((int64_t)pw_cs_table_count(b->table)));
		cli_print_json(b->cli, o);
		json_object_put(o);
	} else {
		printf("crowdsec: %s%u added, %u removed (%u already gone), %u left to other origins, "
		       "%u stale deletions; skipped %u (type %u, scope %u, bad %u, expired %u); "
		       "%zu decisions held\n",
		       startup ? "full set: " : "", ap->added, ap->removed, ap->gone, ap->other_origin,
		       plan->stale_deletions, skipped, bt->other_type, bt->other_scope, bt->bad, bt->expired,
		       pw_cs_table_count(b->table));
	}
	fflush(stdout);
	b->skipped += skipped;
}

/* After a startup answer: the crowdsec blocks it no longer holds. */
static int reconcile(struct bouncer *b, struct pw_cs_plan *plan)
{
	struct pw_cs_prefix *have;
	size_t n;
	int err;

	if ((err = pw_cs_blocks(&b->cli->ctx, &have, &n)))
		return err;
	err = pw_cs_plan_reconcile(&b->cli->ctx, b->table, have, n, plan);
	free(have);
	return err;
}

/* One answer of the stream, applied. 0, or -1 with b->last_err set. */
static int poll_once(struct bouncer *b)
{
	struct pw_ctx *ctx = &b->cli->ctx;
	bool startup = b->need_startup;
	struct pw_cs_applied ap = { 0 };
	struct pw_cs_plan plan = { 0 };
	struct pw_cs_batch bt;
	char *body = NULL;
	size_t len = 0;
	int err;

	if (cs_http_stream(b->http, startup, &body, &len, b->last_err, sizeof(b->last_err)))
		return -1;
	err = pw_cs_parse(ctx, body, len, &bt);
	free(body);
	if (err) {
		snprintf(b->last_err, sizeof(b->last_err), "%s", ctx->err);
		return -1;
	}
	if (!(err = pw_cs_plan_batch(ctx, b->table, &bt, startup, now_ms(), &plan)) &&
	    !(err = startup ? reconcile(b, &plan) : 0))
		err = pw_cs_apply(ctx, &plan, &ap);
	if (err)
		snprintf(b->last_err, sizeof(b->last_err), "%s", ctx->err);
	else
		report(b, startup, &bt, &plan, &ap);
	b->added += ap.added;
	b->removed += ap.removed;
	pw_cs_batch_free(&bt);
	pw_cs_plan_free(&plan);
	return err ? -1 : 0;
}

/* --state: the bouncer's state for monitoring, replaced atomically. */
static void write_state(struct bouncer *b)
{
	struct json_object *o = json_object_new_object();
	char tmp[PATH_MAX];
	const char *text;
	FILE *f;
	int fd;

	json_object_object_add(o, "lapi", json_object_new_string(b->a->lapi));
	json_object_object_add(o, "polls", json_object_new_int64((int64_t)b->polls));
	json_object_object_add(o, "last_ok", json_object_new_int64((int64_t)b->last_ok));
	json_object_object_add(o, "failures_in_a_row", json_object_new_int64(b->failures));
	json_object_object_add(o, "last_error", json_object_new_string(b->failures ? b->last_err : ""));
	json_object_object_add(o, "decisions",
			       json_object_new_int64((int64_t)pw_cs_table_count(b->table)));
	json_object_object_add(o, "added", json_object_new_int64((int64_t)b->added));
	json_object_object_add(o, "removed", json_object_new_int64((int64_t)b->removed));
	json_object_object_add(o, "skipped", json_object_new_int64((int64_t)b->skipped));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	snprintf(tmp, sizeof(tmp), "%s.tmp", b->a->state);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		warning("cannot write the --state file");
	} else {
		fprintf(f, "%s\n", text);
		if (fclose(f) || rename(tmp, b->a->state))
			warning("cannot write the --state file");
	}
	json_object_put(o);
}

/* Sleep @s seconds unless a signal asks to stop. */
static void nap(unsigned int s)
{
	for (unsigned int i = 0; i < s * 5 && !stop; i++)
		usleep(200000);
}

/* Doubling from one interval to four (at most CS_BACKOFF_MAX): a local API
 * that comes back is followed again soon, one that stays down is not hammered. */
static unsigned int backoff(const struct bouncer *b)
{
	unsigned int most = b->a->interval * 4, wait = b->a->interval;

	if (most > CS_BACKOFF_MAX)
		most = CS_BACKOFF_MAX;
	for (unsigned int i = 1; i < b->failures && wait < most; i++)
		wait *= 2;
	return wait < most ? wait : most;
}

/* Poll until a signal; any failure: back off, then a full pull again. */
static void run(struct bouncer *b)
{
	while (!stop) {
		b->polls++;
		if (poll_once(b)) {
			b->failures++;
			b->need_startup = true;
			fprintf(stderr, "pinwall: warning: crowdsec: %s; blocks kept, retry in %us\n",
				b->last_err, backoff(b));
		} else {
			b->failures = 0;
			b->need_startup = false;
			b->last_ok = time(NULL);
		}
		if (b->a->state)
			write_state(b);
		nap(b->failures ? backoff(b) : b->a->interval);
	}
}

int do_crowdsec(struct cli *cli, int argc, char **argv)
{
	struct crowdsec_args a = { .interval = 10, .timeout = 10 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct bouncer b = { .cli = cli, .a = &a, .need_startup = true };
	char key[CS_KEY_MAX + 1];
	int ret;

	if ((ret = cli_parse(cli, cli->cmd, argc, argv, &a, NULL, NULL)) ||
	    (ret = check_args(cli, &a, key)))
		return ret;
	if ((ret = cli_setup(cli)) || pw_check_caps(&cli->ctx) ||
	    pw_bpffs_prepare(&cli->ctx, false))
		return ret ?: cli_lib_err(cli);
	b.http = cs_http_new(a.lapi, key, a.timeout);
	explicit_bzero(key, sizeof(key));
	b.table = pw_cs_table_new();
	if (!b.http || !b.table) {
		ret = cli_err(cli, "cannot set up the HTTP client: out of memory");
		goto out;
	}
	if (a.once) {
		if (poll_once(&b))
			ret = cli_err(cli, "crowdsec: %s", b.last_err);
		b.polls = 1;
		b.failures = !!ret;
		if (a.state)
			write_state(&b);
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	run(&b);
out:
	cs_http_free(b.http);
	pw_cs_table_free(b.table);
	return ret;
}
