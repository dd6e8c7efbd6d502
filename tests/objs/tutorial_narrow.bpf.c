// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but rx_packets narrowed to 32 bits: counts could
 * be cut, so reuse is refused. */
#define TUTORIAL_FIELDS __u32 rx_packets; __u64 rx_bytes;
#include "tutorial.bpf.c"
