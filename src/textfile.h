/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Whole files replaced atomically (textfile.c). */
#ifndef PINWALL_TEXTFILE_H
#define PINWALL_TEXTFILE_H

#include <stddef.h>

/* A reason @path cannot be written (its directory missing, the path a
 * directory), before anything is written: 0, or -errno with @why. */
int textfile_check(const char *path, char *why, size_t wlen);
/* @text into PATH.tmp (same directory), fsync, rename over @path, fsync the
 * directory: a reader sees the old file or the new one, never part of one.
 * 0, or -errno with @why naming the file; PATH.tmp is removed on failure. */
int textfile_write(const char *path, const char *text, size_t len, char *why, size_t wlen);

#endif
