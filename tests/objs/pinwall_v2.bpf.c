// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The built-in program's test-only second version: counter record
 * reordered and grown, one more map (see PW_TEST_V2 in bpf/pinwall.bpf.c). */
#define PW_TEST_V2 1
#include "pinwall.bpf.c"
