// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CrowdSec local API over HTTP: GET the decisions stream with the
 * bouncer's key. The answer is capped while it arrives (a local API that
 * sends too much is cut off, never buffered whole); redirects are not
 * followed, so the key goes to the URL given and nowhere else.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "pinwall/crowdsec.h"
#include "crowdsec_http.h"
#include "cli.h"

struct cs_http {
	CURL *curl;
	struct curl_slist *headers;
	char *url_full, *url_delta;
};

struct body {
	char *buf;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;

	if (add > PW_CS_MAX_BODY - b->len) {
		b->too_big = true;
		return 0;	/* curl stops the transfer */
	}
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *buf;

		while (cap < b->len + add + 1)
			cap *= 2;
		if (!(buf = realloc(b->buf, cap)))
			return 0;
		b->buf = buf;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

static char *join(const char *url, const char *path)
{
	size_t n = strlen(url);
	char *out;

	while (n && url[n - 1] == '/')
		n--;
	if (asprintf(&out, "%.*s%s", (int)n, url, path) < 0)
		return NULL;
	return out;
}

struct cs_http *cs_http_new(const char *url, const char *key, unsigned int timeout_s)
{
	struct cs_http *h = calloc(1, sizeof(*h));
	char *hdr = NULL;

	if (!h || curl_global_init(CURL_GLOBAL_DEFAULT))
		goto fail;
	h->url_full = join(url, "/v1/decisions/stream?startup=true");
	h->url_delta = join(url, "/v1/decisions/stream?startup=false");
	if (!h->url_full || !h->url_delta || asprintf(&hdr, "X-Api-Key: %s", key) < 0 ||
	    !(h->headers = curl_slist_append(NULL, hdr)) || !(h->curl = curl_easy_init()))
		goto fail;
	free(hdr);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "pinwall-bouncer/" PW_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, (long)timeout_s);
	/* an announced length over the cap is refused before a byte is read */
	curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PW_CS_MAX_BODY);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	return h;
fail:
	free(hdr);
	cs_http_free(h);
	return NULL;
}

void cs_http_free(struct cs_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h->url_full);
	free(h->url_delta);
	free(h);
}

int cs_http_stream(struct cs_http *h, bool startup, char **body, size_t *len, char *err,
		   size_t errlen)
{
	struct body b = { 0 };
	long code = 0;
	CURLcode rc;

	curl_easy_setopt(h->curl, CURLOPT_URL, startup ? h->url_full : h->url_delta);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, errlen, "the local API's answer is over %u bytes", PW_CS_MAX_BODY);
	else if (rc != CURLE_OK)
		snprintf(err, errlen, "cannot reach the local API: %s", curl_easy_strerror(rc));
	else if (code == 401 || code == 403)
		snprintf(err, errlen, "the local API refused the key (HTTP %ld): check --key-file",
			 code);
	else if (code != 200)
		snprintf(err, errlen, "the local API answered HTTP %ld", code);
	else {
		*body = b.buf ? b.buf : strdup("");
		*len = b.len;
		return *body ? 0 : -1;
	}
	free(b.buf);
	return -1;
}
