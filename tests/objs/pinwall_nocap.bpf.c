// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The built-in program without captured drops (no pw_drops, no pw_capture):
 * a program of the version before them, for the drops tests and the
 * capture-off cost baseline. */
#define PW_NO_CAPTURE
#include "pinwall.bpf.c"
