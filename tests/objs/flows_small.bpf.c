// SPDX-License-Identifier: GPL-2.0
/* flows.bpf.c with room for 4 flows only. */
#define FLOWS_MAX 4
#include "flows.bpf.c"
