/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall CrowdSec bouncer logic: the local API's decisions stream parsed
 * into prefixes (crowdsec_stream.c), and the decisions held, turned into the
 * timed blocks to add and remove (crowdsec_table.c). No HTTP here, no output:
 * the caller fetches the stream and applies the plan.
 *
 * The local API's answers are untrusted: a body larger than
 * PW_CS_MAX_BODY or with more than PW_CS_MAX_DECISIONS decisions is refused
 * whole; a decision with a wrong type or value is skipped and counted.
 */
#ifndef PINWALL_CROWDSEC_H
#define PINWALL_CROWDSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pinwall/pinwall.h"

#define PW_CS_MAX_BODY		(64u << 20)	/* bytes of one stream answer */
#define PW_CS_MAX_DECISIONS	1000000u	/* "new" plus "deleted" in one answer */
#define PW_CS_MAX_VALUE		64		/* characters of an Ip or Range value */
#define PW_CS_WARN_KEEP		8		/* warning texts kept per answer */
#define PW_CS_WARN_LEN		160

/* One address or prefix; host bits below plen are zero. */
struct pw_cs_prefix {
	__u8 family;		/* AF_INET or AF_INET6 */
	__u8 plen;
	__u8 addr[16];		/* IPv4 in the first 4 bytes */
};

struct pw_cs_decision {
	__u64 id;
	struct pw_cs_prefix pfx;
	__s64 remaining_ms;	/* what the local API says is left; <= 0 expired */
};

/* One stream answer: the ban decisions on Ip and Range, and what was left out. */
struct pw_cs_batch {
	struct pw_cs_decision *added, *deleted;
	size_t n_added, n_deleted;
	unsigned int other_type;	/* not "ban" (captcha, throttle, ...) */
	unsigned int other_scope;	/* not Ip or Range (Country, AS, ...) */
	unsigned int bad;		/* malformed: wrong type, bad value, bad duration */
	unsigned int expired;		/* new, but no time left */
	unsigned int n_warn;		/* warnings; the first PW_CS_WARN_KEEP kept */
	char warn[PW_CS_WARN_KEEP][PW_CS_WARN_LEN];
};

/* Parse one answer of GET /v1/decisions/stream. Refused whole (error, @b
 * empty) when it is not a JSON object with "new" and "deleted" arrays (or
 * null) or is over the caps; single bad decisions are counted in @b. */
int pw_cs_parse(struct pw_ctx *ctx, const char *body, size_t len, struct pw_cs_batch *b);
void pw_cs_batch_free(struct pw_cs_batch *b);

/* A Go duration as the local API writes it ("3h59m56.0087s", "-249.9ms")
 * in milliseconds; -1 when it is not one or is over ten years. */
int pw_cs_duration_ms(const char *s, __s64 *ms);
/* An Ip value (@range false) or a Range value "ADDR/LEN". */
int pw_cs_value(const char *s, bool range, struct pw_cs_prefix *out);
/* "10.0.0.0/8" or "2001:db8::1/128": @buf of at least 64 bytes. */
void pw_cs_prefix_str(const struct pw_cs_prefix *p, char *buf, size_t len);

/* The decisions held: one per prefix (the local API sends the longest one of
 * a value), so that a deletion of a decision that is no longer the one
 * behind a block (a stale or repeated deletion) leaves the block alone. */
struct pw_cs_table;

struct pw_cs_op {
	bool add;			/* false: remove the block */
	struct pw_cs_prefix pfx;
	__u64 expiry_ms;		/* add: absolute, CLOCK_REALTIME milliseconds */
};

struct pw_cs_plan {
	struct pw_cs_op *ops;
	size_t n, cap;
	unsigned int stale_deletions;	/* deletions of a decision not held: ignored */
};

struct pw_cs_table *pw_cs_table_new(void);
void pw_cs_table_free(struct pw_cs_table *t);
size_t pw_cs_table_count(const struct pw_cs_table *t);

/* The blocks to add and remove for @b at @now_ms (CLOCK_REALTIME ms).
 * @startup: @b is the full set (startup=true): the table is replaced by it. */
int pw_cs_plan_batch(struct pw_ctx *ctx, struct pw_cs_table *t, const struct pw_cs_batch *b,
		     bool startup, __u64 now_ms, struct pw_cs_plan *plan);
/* After a startup batch: removals for the crowdsec blocks @have that the
 * table does not hold (decisions deleted while the bouncer was away). */
int pw_cs_plan_reconcile(struct pw_ctx *ctx, const struct pw_cs_table *t,
			 const struct pw_cs_prefix *have, size_t n_have, struct pw_cs_plan *plan);
void pw_cs_plan_free(struct pw_cs_plan *plan);

/* A plan applied to the timed blocks (crowdsec_apply.c, block.h): blocks
 * with origin crowdsec. A prefix blocked by another origin (a manual block)
 * is never replaced nor removed: counted in other_origin. */
struct pw_cs_applied {
	unsigned int added, removed;
	unsigned int other_origin;	/* left alone: another origin's block */
	unsigned int gone;		/* to remove, but already gone (expired) */
};

int pw_cs_apply(struct pw_ctx *ctx, const struct pw_cs_plan *plan, struct pw_cs_applied *out);
/* The prefixes of the blocks with origin crowdsec now (malloc'd). */
int pw_cs_blocks(struct pw_ctx *ctx, struct pw_cs_prefix **out, size_t *n);

#endif
