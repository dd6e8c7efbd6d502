// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Values from users and pins are shown safely: a message stays one line
 * (control characters are escaped) and JSON stays valid UTF-8 (bytes that
 * are not UTF-8 are escaped). Both write the byte as the text \xNN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Length of the valid UTF-8 sequence at @p (1 to 4), 0 if there is none.
 * The NUL at the end fails the continuation test: no overrun. */
static int utf8_seq(const unsigned char *p)
{
	unsigned int cp;
	int n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;	/* overlong, or a surrogate */
	if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return n;
}

/* C0 and C1 controls and DEL: they break lines or drive terminals. */
static bool is_control(const unsigned char *p, int n)
{
	return (n == 1 && (p[0] < 0x20 || p[0] == 0x7f)) ||
	       (n == 2 && p[0] == 0xc2 && p[1] < 0xa0);
}

/* @s with every byte outside UTF-8 (and of a control character, with
 * @controls) written as \xNN; @slashes: 2 inside JSON text. NULL: no memory. */
static char *escape(const char *s, bool controls, int slashes)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) * 5 + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		int n = utf8_seq(p);

		if (n && !(controls && is_control(p, n))) {
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		for (int i = 0; i < (n ? n : 1); i++, p++)
			o += sprintf(o, "%s%02x", slashes == 2 ? "\\\\x" : "\\x", *p);
	}
	*o = '\0';
	return out;
}

char *cli_escape(const char *s)
{
	return escape(s, true, 1);
}

char *cli_json_utf8(const char *json)
{
	/* json-c escapes controls itself; outside strings JSON text is ASCII */
	return escape(json, false, 2);
}
