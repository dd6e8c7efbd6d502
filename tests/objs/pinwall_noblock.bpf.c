// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The built-in program without timed blocks (no block maps): a program of
 * the version before them, for the block tests. */
#define PW_NO_BLOCK
#include "pinwall.bpf.c"
