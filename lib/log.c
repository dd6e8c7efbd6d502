// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One error path for the library, and libbpf's print hook. libbpf reports
 * through a bare function pointer, so its messages are kept in a file-local
 * buffer: quiet by default, printed with --debug, and mined for the
 * verifier log when a load fails.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "pinwall/pinwall.h"

#define PW_LOG_KEEP (256 * 1024)

static struct {
	bool debug;
	size_t len;
	char buf[PW_LOG_KEEP];
} libbpf_log;

int pw_ctx_init(struct pw_ctx *ctx, const char *pin_root)
{
	struct stat st;

	memset(ctx, 0, sizeof(*ctx));
	if (!pin_root)
		pin_root = PW_DEFAULT_PIN_ROOT;
	/* refused, never cut: the paths below it need the rest of PW_PATH_LEN */
	if (strlen(pin_root) > PW_PIN_ROOT_MAX)
		return pw_fail(ctx, ENAMETOOLONG, "pin root '%.40s...' is longer than %d characters",
			       pin_root, PW_PIN_ROOT_MAX);
	snprintf(ctx->pin_root, sizeof(ctx->pin_root), "%s", pin_root);
	/* strip trailing slashes so joined paths read well */
	for (size_t n = strlen(ctx->pin_root); n > 1 && ctx->pin_root[n - 1] == '/'; n--)
		ctx->pin_root[n - 1] = '\0';
	if (stat("/proc/self/ns/net", &st))
		return pw_fail(ctx, errno, "cannot read the network namespace: %s",
			       strerror(errno));
	ctx->netns_ino = st.st_ino;
	return 0;
}

int pw_fail(struct pw_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	if (err < 0)
		err = -err;
	return err ? -err : -EINVAL;
}

void pw_detail(struct pw_ctx *ctx, const char *fmt, ...)
{
	size_t n = strlen(ctx->detail);
	va_list ap;

	if (n >= sizeof(ctx->detail) - 2)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->detail + n, sizeof(ctx->detail) - n, fmt, ap);
	va_end(ap);
	n = strlen(ctx->detail);
	if (n && ctx->detail[n - 1] != '\n' && n < sizeof(ctx->detail) - 1) {
		ctx->detail[n] = '\n';
		ctx->detail[n + 1] = '\0';
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t room;
	va_list copy;
	int n;

	if (libbpf_log.debug) {
		va_copy(copy, ap);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (level == LIBBPF_DEBUG)
		return 0;
	/* keep the newest output: drop the older half when full */
	if (libbpf_log.len > PW_LOG_KEEP - 16384) {
		size_t half = libbpf_log.len / 2;

		memmove(libbpf_log.buf, libbpf_log.buf + half, libbpf_log.len - half);
		libbpf_log.len -= half;
	}
	room = PW_LOG_KEEP - libbpf_log.len;
	n = vsnprintf(libbpf_log.buf + libbpf_log.len, room, fmt, ap);
	if (n > 0)
		libbpf_log.len += (size_t)n < room ? (size_t)n : room - 1;
	return 0;
}

void pw_log_setup(struct pw_ctx *ctx)
{
	libbpf_log.debug = ctx->debug;
	libbpf_log.len = 0;
	libbpf_log.buf[0] = '\0';
	libbpf_set_print(libbpf_print);
}

void pw_log_verifier_tail(struct pw_ctx *ctx, int max_lines)
{
	const char *begin = NULL, *end, *p, *from;
	int lines = 0;

	/* the last log libbpf printed */
	for (p = libbpf_log.buf; (p = strstr(p, "-- BEGIN PROG LOAD LOG --")); p++)
		begin = p;
	if (!begin)
		return;
	begin = strchr(begin, '\n');
	if (!begin)
		return;
	begin++;
	end = strstr(begin, "-- END PROG LOAD LOG --");
	if (!end)
		end = libbpf_log.buf + libbpf_log.len;
	/* walk back max_lines lines from the end */
	from = end;
	while (from > begin && lines <= max_lines) {
		from--;
		if (*from == '\n' && from + 1 < end)
			lines++;
	}
	if (from > begin)
		from++;
	pw_detail(ctx, "verifier log (last %d lines):", max_lines);
	while (from < end) {
		const char *nl = memchr(from, '\n', end - from);
		int len = nl ? (int)(nl - from) : (int)(end - from);

		if (len > 0)
			pw_detail(ctx, "  %.*s", len, from);
		from += len + 1;
	}
}
