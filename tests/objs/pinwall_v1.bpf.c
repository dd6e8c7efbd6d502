// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The built-in program as a user object: the "v1" of the upgrade tests. */
#include "pinwall.bpf.c"
