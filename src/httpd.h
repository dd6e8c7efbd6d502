/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The exporter's HTTP side (httpd.c): one page, served by libmicrohttpd. */
#ifndef PINWALL_HTTPD_H
#define PINWALL_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

struct httpd;

/* The body of the page (malloc'd, *len bytes), NULL on failure (500). */
typedef char *(*httpd_page_fn)(void *arg, size_t *len);

/* ADDR:PORT with a numeric address: 127.0.0.1:9840, [::1]:9840, or :9840
 * (every address). 0, or -1 with the reason in @why. */
int httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *why,
		     size_t wlen);
/* A listening socket on @ss: its fd, or -errno. */
int httpd_listen(const struct sockaddr_storage *ss, socklen_t len);
/* Serve @path (GET and HEAD) from @fn on the listening socket @fd; every
 * other path is 404. Runs only inside httpd_run(), in the caller's thread.
 * Started, it owns @fd; NULL: not started, @fd is still the caller's. */
struct httpd *httpd_start(int fd, const char *path, const char *content_type,
			  httpd_page_fn fn, void *arg);
/* Answer what comes within @timeout_ms milliseconds. */
void httpd_run(struct httpd *h, int timeout_ms);
void httpd_stop(struct httpd *h);

#endif
