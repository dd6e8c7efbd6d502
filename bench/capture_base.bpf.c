// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bench/capture's baseline: the built-in program built without captured
 * drops (no maps, no check on the drop path). */
#define PW_NO_CAPTURE
#include "../bpf/pinwall.bpf.c"
