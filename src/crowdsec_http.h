/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The CrowdSec local API over HTTP (libcurl): one stream answer at a time. */
#ifndef PINWALL_CROWDSEC_HTTP_H
#define PINWALL_CROWDSEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct cs_http;

/* @url: the local API's base ("http://127.0.0.1:8080"); @key: the bouncer's. */
struct cs_http *cs_http_new(const char *url, const char *key, unsigned int timeout_s);
void cs_http_free(struct cs_http *h);
/* GET /v1/decisions/stream (startup=true for the full set): the body in
 * *@body (malloc'd, NUL-ended, at most PW_CS_MAX_BODY), or -1 with a
 * one-line reason in @err. */
int cs_http_stream(struct cs_http *h, bool startup, char **body, size_t *len, char *err,
		   size_t errlen);

#endif
