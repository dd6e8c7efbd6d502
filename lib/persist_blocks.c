// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The blocks file of a save: the timed blocks with their absolute expiry,
 * read as hostile input (every line checked before anything is applied),
 * and re-added by restore.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "internal.h"
#include "pinwall/persist.h"

#define BLOCKS_FILE_MAX (256u << 20)	/* bytes: far above PW_CONF_BLOCKS_MAX lines */
#define BLOCKS_LINE_MAX 255

bool pw_blocks_name_ok(const char *name)
{
	size_t l = strlen(PW_CONF_BLOCKS);

	if (strncmp(name, PW_CONF_BLOCKS "@", l + 1) || !name[l + 1] || strlen(name) > 64)
		return false;
	for (const char *p = name + l + 1; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return false;
	return true;
}

/* PREFIX EXPIRES ORIGIN: one entry into @b; an error message in @why. */
static int parse_entry(struct pw_ctx *ctx, char *line, struct pw_block *b, char *why, size_t len)
{
	char *save = NULL, *w[4], *end;
	int n = 0;

	while (n < 4 && (w[n] = strtok_r(n ? NULL : line, " \t\r", &save)) && *w[n] != '#')
		n++;
	if (n != 3) {
		snprintf(why, len, "want 'PREFIX EXPIRES ORIGIN' (3 words), got %d", n);
		return -EINVAL;
	}
	if (pw_block_parse(ctx, w[0], b)) {
		snprintf(why, len, "%s", ctx->err);
		return -EINVAL;
	}
	errno = 0;
	b->expires = strtoull(w[1], &end, 10);
	if (!isdigit((unsigned char)*w[1]) || *end || errno || b->expires > (1ull << 40)) {
		snprintf(why, len, "invalid expiry '%.40s': seconds since the epoch, 0 for never", w[1]);
		return -EINVAL;
	}
	if (pw_block_origin_parse(w[2], &b->origin) || b->origin >= PW_BO_COUNT) {
		snprintf(why, len, "invalid origin '%.40s'", w[2]);
		return -EINVAL;
	}
	return 0;
}

static int read_lines(struct pw_ctx *ctx, FILE *f, const char *path, struct pw_block_list *out)
{
	char *line = NULL, why[PW_ERR_LEN];
	size_t cap = 0;
	ssize_t n;
	int no = 0, err = 0;

	while (!err && (n = getline(&line, &cap, f)) >= 0) {
		struct pw_block b = { 0 };
		char *p = line;

		no++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if ((size_t)n != strlen(line) || n > BLOCKS_LINE_MAX) {
			err = pw_fail(ctx, EINVAL, "%s:%d: a NUL byte or a line over %d bytes", path, no,
				      BLOCKS_LINE_MAX);
			break;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (parse_entry(ctx, p, &b, why, sizeof(why)))
			err = pw_fail(ctx, EINVAL, "%s:%d: %s", path, no, why);
		else if (out->n >= PW_CONF_BLOCKS_MAX)
			err = pw_fail(ctx, E2BIG, "%s:%d: more than %d blocks", path, no,
				      PW_CONF_BLOCKS_MAX);
		else
			err = pw_block_list_push(ctx, out, &b);
	}
	if (!err && ferror(f))
		err = pw_fail(ctx, EIO, "cannot read '%s'", path);
	free(line);
	return err;
}

int pw_blocks_file_read(struct pw_ctx *ctx, const char *path, struct pw_block_list *out)
{
	struct stat st;
	FILE *f;
	int fd, err;

	memset(out, 0, sizeof(*out));
	/* not followed, not a FIFO or device (a boot would hang on it) */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)) < 0)
		return pw_fail(ctx, errno, "blocks file '%s': %s (written by 'pinwall save')", path,
			       strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > BLOCKS_FILE_MAX) {
		close(fd);
		return pw_fail(ctx, EINVAL, "blocks file '%s' is not a regular file of at most %u bytes",
			       path, BLOCKS_FILE_MAX);
	}
	if (!(f = fdopen(fd, "re"))) {
		close(fd);
		return pw_fail(ctx, errno, "blocks file '%s': %s", path, strerror(errno));
	}
	err = read_lines(ctx, f, path, out);
	fclose(f);
	if (err)
		pw_block_list_free(out);
	return err;
}

int pw_blocks_restore(struct pw_ctx *ctx, const struct pw_saved *s, bool dry_run,
		      struct pw_restore_report *r)
{
	struct pw_block_list live = { 0 };
	time_t now = time(NULL);
	int err = 0;

	r->blocks_saved = s->has_blocks;
	if (!s->has_blocks)
		return 0;
	for (int k = 0; k < s->blocks.n && !err; k++) {
		const struct pw_block *b = &s->blocks.e[k];

		if (b->expires && b->expires <= (__u64)now + 1)
			r->n_blocks_expired++;	/* its time is over: not brought back */
		else
			err = pw_block_list_push(ctx, &live, b);
	}
	r->n_blocks = live.n;
	if (!err && !dry_run && live.n)
		err = pw_block_add(ctx, live.e, live.n, NULL);
	pw_block_list_free(&live);
	return err;
}
