// SPDX-License-Identifier: GPL-2.0
/* flows.bpf.c with room for 4096 flows. */
#define FLOWS_MAX 4096
#include "flows.bpf.c"
