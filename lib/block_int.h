/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internal to the block files: the pinned block maps and their clocks. */
#ifndef PINWALL_BLOCK_INT_H
#define PINWALL_BLOCK_INT_H

#include "pinwall/block.h"

enum { PW_BM_V4, PW_BM_V6, PW_BM_PFX, PW_BM_COUNT };

struct pw_block_maps {
	int fd[PW_BM_COUNT];	/* 0: not open */
};

/* Open the pinned block maps. @create: make them when missing, and check
 * that every running program uses these very maps (else refuse, naming the
 * interface to reload or repin). Without @create, missing pins give
 * -ENOENT quietly (no block was ever added). @rdonly: for reading only. */
int pw_block_maps_open(struct pw_ctx *ctx, struct pw_block_maps *m, bool create, bool rdonly);
void pw_block_maps_close(struct pw_block_maps *m);

/* The clocks: now in epoch seconds and CLOCK_BOOTTIME ns. */
struct pw_block_now {
	__u64 real;		/* seconds since the epoch */
	__u64 boot_ns;
};
void pw_block_now(struct pw_block_now *now);
/* An entry's map value for @b (absolute expiry @b->expires). */
void pw_block_val_of(const struct pw_block *b, const struct pw_block_now *now,
		     struct pw_block_val *v);
bool pw_block_val_expired(const struct pw_block_val *v, const struct pw_block_now *now);

/* Which map and key hold @b; returns the map index. */
int pw_block_key(const struct pw_block *b, void *key);

/* Every entry of the maps (expired ones too, with @expired marked). */
typedef int (*pw_block_visit_fn)(void *arg, int map, const void *key,
				 const struct pw_block_val *v);
int pw_block_walk(struct pw_ctx *ctx, const struct pw_block_maps *m, pw_block_visit_fn fn,
		  void *arg);

#endif
