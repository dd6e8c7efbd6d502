// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but the record's fields swapped: same sizes,
 * different layout, so its map must be migrated, never reused as is. */
#define TUTORIAL_FIELDS __u64 rx_bytes; __u64 rx_packets;
#include "tutorial.bpf.c"
