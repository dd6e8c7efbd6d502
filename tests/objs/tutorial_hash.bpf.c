// SPDX-License-Identifier: GPL-2.0
/* Like tutorial.bpf.c, but the record map is a hash: a type change no
 * migration can carry, so reuse is refused (or --fresh starts it empty). */
#define TUTORIAL_MAP_TYPE BPF_MAP_TYPE_PERCPU_HASH
#include "tutorial.bpf.c"
