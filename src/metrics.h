/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Prometheus exposition text of a collection (metrics.c). */
#ifndef PINWALL_METRICS_H
#define PINWALL_METRICS_H

#include <stddef.h>
#include "pinwall/pinwall.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Text format 0.0.4 of @c: malloc'd (*@len bytes, NUL-terminated), NULL
 * without memory. Names, types and labels: docs/METRICS.md. */
char *metrics_render(const struct pw_collect *c, size_t *len);

#endif
