// SPDX-License-Identifier: GPL-2.0
/* chained.bpf.c whose map `seen` has another value: it clashes with the
 * pin an earlier chained program left in chain/maps/seen. */
struct seen_pair { unsigned long long a, b; };
#define SEEN_VALUE struct seen_pair
#include "chained.bpf.c"
