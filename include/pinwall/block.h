/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall blocks: timed drops by SOURCE address or prefix, kept in maps
 * pinned under the shared directory (one block list per host, like the rule
 * maps). The packet path checks them after the malformed check and before
 * the rules; an entry past its expiry never drops a packet and is deleted
 * by the packet path or the next call here that meets it.
 *
 * Times: expiry is absolute, in seconds since the Unix epoch (0 = never), so
 * that save/restore and every caller agree; the library converts it to the
 * kernel's boot clock for the maps. No printing: errors through ctx.
 */
#ifndef PINWALL_BLOCK_H
#define PINWALL_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pinwall/pinwall.h"

/* Who added an entry (kept with it; `block list` shows it). */
enum pw_block_origin {
	PW_BO_MANUAL = 0,	/* pinwall block add */
	PW_BO_FAIL2BAN = 1,
	PW_BO_CROWDSEC = 2,
	PW_BO_FILE = 3,		/* block add --file */
	PW_BO_RESTORE = 4,	/* kept by save/restore (the saved origin wins when known) */
	PW_BO_OTHER = 5,
	PW_BO_COUNT,
};

struct pw_block {
	__u32 family;		/* 4 or 6 */
	__u32 len;		/* prefix length: 0..32 or 0..128 */
	__u32 addr[4];		/* network byte order, masked to len */
	__u64 expires;		/* absolute, seconds since the epoch; 0: never */
	__u32 origin;		/* enum pw_block_origin */
	/* pw_block_list only: */
	__u64 remaining;	/* seconds left (0 with expires == 0: never) */
	__u64 hits;		/* packets this entry dropped */
};

struct pw_block_list {
	int n, cap;
	struct pw_block *e;
};

/* Origin names: "manual", "fail2ban", "crowdsec", "file", "restore", "other". */
const char *pw_block_origin_name(__u32 origin);
int pw_block_origin_parse(const char *s, __u32 *origin);

/*
 * Parse "ADDR" or "ADDR/LEN" (IPv4 or IPv6) into @b (family, len, addr;
 * host bits must be zero). On error the message names the value.
 */
int pw_block_parse(struct pw_ctx *ctx, const char *s, struct pw_block *b);
/* "ADDR" for a full-length entry, else "ADDR/LEN". */
void pw_block_text(const struct pw_block *b, char *buf, size_t len);
/* Parse a duration: "90", "90s", "10m", "2h", "7d" (> 0) into seconds. */
int pw_block_duration_parse(struct pw_ctx *ctx, const char *s, __u64 *secs);
/*
 * Read entries from a file (path or "-" for stdin): one ADDR[/LEN] a line,
 * optional second word a duration, '#' comments. All lines are checked
 * first; an error names the file, line and value and returns nothing.
 * Entries get @expires / @origin unless the line gives a duration.
 */
int pw_block_file_read(struct pw_ctx *ctx, const char *path, __u64 expires,
		       __u32 origin, struct pw_block_list *out);

void pw_block_list_free(struct pw_block_list *l);
int pw_block_list_push(struct pw_ctx *ctx, struct pw_block_list *l,
		       const struct pw_block *b);

/*
 * Add (or replace: a later add of the same prefix sets its expiry and
 * origin; hits are kept) @n entries in one call. Entries already expired
 * are refused. Creates the block maps when missing. If a program attached
 * on any interface predates blocks, nothing is added and the error names
 * the interface to reload. All or nothing for checks; map errors part way
 * report how many were added in *added (may be NULL).
 */
int pw_block_add(struct pw_ctx *ctx, const struct pw_block *e, int n, int *added);
/* Delete entries; an entry not present is counted in *missing (may be NULL). */
int pw_block_del(struct pw_ctx *ctx, const struct pw_block *e, int n, int *missing);
/* The same, only entries of @origin (PW_BO_ALL: any); others count as missing:
 * an unban by fail2ban or crowdsec never removes another origin's block. */
int pw_block_del_origin(struct pw_ctx *ctx, const struct pw_block *e, int n, __u32 origin,
			int *missing);
/* The live entries (expired ones are swept first), sorted by family/prefix. */
int pw_block_list(struct pw_ctx *ctx, struct pw_block_list *out);
/* Delete every entry (@origin < PW_BO_COUNT: only that origin's); *removed counts. */
int pw_block_flush(struct pw_ctx *ctx, __u32 origin, int *removed);
/* Delete expired entries now; *removed counts (may be NULL). */
int pw_block_sweep(struct pw_ctx *ctx, int *removed);

#define PW_BO_ALL 0xffffffffu	/* pw_block_flush: every origin */

#endif
