// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The exporter's HTTP server: libmicrohttpd on a socket bound here (so it
 * is bound before pinwall enters --netns, and a bad address fails before
 * anything starts), driven from the caller's one thread: a scrape never
 * runs concurrently with another or with a textfile write, and reads the
 * pins from the network namespace the caller is in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include "cli.h"
#include "httpd.h"

/* A host running a firewall: few scrapers, none allowed to linger. */
#define HTTPD_MAX_CONNS   16
#define HTTPD_TIMEOUT_SEC 10

struct httpd {
	struct MHD_Daemon *d;
	int fd;
	const char *path, *content_type;
	httpd_page_fn fn;
	void *arg;
};

static int parse_host(const char *host, size_t n, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char buf[INET6_ADDRSTRLEN + 2];

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (!n) {			/* every address: IPv6 and IPv4 */
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		*len = sizeof(*s6);
		return 0;
	}
	if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') {
		buf[n - 1] = '\0';
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, buf + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	s4->sin_family = AF_INET;
	*len = sizeof(*s4);
	return inet_pton(AF_INET, buf, &s4->sin_addr) == 1 ? 0 : -1;
}

int httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *why,
		     size_t wlen)
{
	const char *colon = strrchr(s, ':');
	unsigned int port;

	memset(ss, 0, sizeof(*ss));
	if (!colon) {
		snprintf(why, wlen, "no port");
		return -1;
	}
	if (cli_parse_u32(colon + 1, &port) || !port || port > 65535) {
		snprintf(why, wlen, "the port must be a number from 1 to 65535");
		return -1;
	}
	if (parse_host(s, colon - s, ss, len)) {
		snprintf(why, wlen, "the address must be numeric: an IPv4 address, an IPv6 address in brackets, or nothing for every address");
		return -1;
	}
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	return 0;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1, zero = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] takes IPv4 too */
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int httpd_listen(const struct sockaddr_storage *ss, socklen_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	int fd = listen_on(ss, len);

	/* every address, on a host without IPv6: IPv4's */
	if (fd == -EAFNOSUPPORT && ss->ss_family == AF_INET6 &&
	    !memcmp(&s6->sin6_addr, &in6addr_any, sizeof(in6addr_any))) {
		struct sockaddr_storage v4 = { 0 };
		struct sockaddr_in *s4 = (struct sockaddr_in *)&v4;

		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		fd = listen_on(&v4, sizeof(*s4));
	}
	return fd;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t len, const char *type, bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *conn, unsigned int status,
				  const char *msg, bool allow)
{
	char *body = strdup(msg);

	return body ? reply(conn, status, body, strlen(body), "text/plain; charset=utf-8", allow) :
		      MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	size_t len = 0;
	char *body;

	(void)version; (void)upload; (void)con_cls;
	*upload_size = 0;	/* a body is not read: the page takes none */
	if (strcmp(url, h->path))
		return text_reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", false);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n", true);
	body = h->fn(h->arg, &len);
	if (!body)
		return text_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false);
	return reply(conn, MHD_HTTP_OK, body, len, h->content_type, false);
}

struct httpd *httpd_start(int fd, const char *path, const char *content_type,
			  httpd_page_fn fn, void *arg)
{
	struct httpd *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	*h = (struct httpd){ .fd = fd, .path = path, .content_type = content_type, .fn = fn, .arg = arg };
	/* no flags: no thread of its own, MHD_run_wait() drives it */
	h->d = MHD_start_daemon(0, 0, NULL, NULL, on_request, h,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_TIMEOUT_SEC,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return NULL;
	}
	return h;
}

void httpd_run(struct httpd *h, int timeout_ms)
{
	MHD_run_wait(h->d, timeout_ms);
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);	/* closes the listening socket too */
	free(h);
}
