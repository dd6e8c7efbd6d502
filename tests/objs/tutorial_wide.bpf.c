// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but the record grew a field: its map is migrated;
 * going back to the tutorial's record drops the field (needs --migrate). */
#define TUTORIAL_FIELDS __u64 rx_packets; __u64 rx_bytes; __u64 rx_dropped;
#include "tutorial.bpf.c"
