/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `pinwall drops`: the outputs of one captured frame (drops_out.c, drops_pcap.c). */
#ifndef PINWALL_DROPS_H
#define PINWALL_DROPS_H

#include <stdio.h>
#include "cli.h"
#include "drops_pcap.h"

struct drops_out {
	struct cli *cli;
	const char *ifname;
	const char *safe_ifname;	/* for text lines: control characters escaped */
	FILE *lines;		/* text or JSON lines; NULL: none (pcap on stdout) */
	struct drops_pcap *pcap;	/* --pcap, or NULL */
	unsigned long long printed;
	unsigned int count;	/* --count; 0: no limit */
};

/* One frame to every output; non-zero once --count frames are out. */
int drops_emit(const struct pw_drop *d, void *arg);
/* Flush what was written; false when standard output is gone. */
bool drops_flush(struct drops_out *o);

#endif
