// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but the record map has two more slots: only
 * max_entries differs, so it is migrated value by value. */
#define TUTORIAL_SLOTS (XDP_REDIRECT + 3)
#include "tutorial.bpf.c"
