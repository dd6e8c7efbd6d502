// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `pinwall drops --pcap`: captured frames written through libpcap
 * (Ethernet link type, nanosecond time stamps), readable by tcpdump,
 * tshark and Wireshark. Apart from the CLI's other files: libpcap's
 * headers and the kernel's BPF headers both define struct bpf_insn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>
#include "pinwall/pinwall.h"
#include "drops_pcap.h"

struct drops_pcap {
	pcap_t *p;
	pcap_dumper_t *d;
};

struct drops_pcap *drops_pcap_open(const char *path, unsigned int snaplen, char *err, size_t len)
{
	struct drops_pcap *w = calloc(1, sizeof(*w));

	if (!w || !(w->p = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snaplen,
								PCAP_TSTAMP_PRECISION_NANO))) {
		snprintf(err, len, "out of memory");
		free(w);
		return NULL;
	}
	/* '-': standard output (libpcap's own convention) */
	w->d = pcap_dump_open(w->p, path);
	if (!w->d) {
		snprintf(err, len, "%s", pcap_geterr(w->p));
		pcap_close(w->p);
		free(w);
		return NULL;
	}
	return w;
}

void drops_pcap_write(struct drops_pcap *w, const struct pw_drop *d)
{
	struct pcap_pkthdr h = {
		.ts = { .tv_sec = (time_t)(d->ts_ns / 1000000000ULL),
			/* nanoseconds: the file header says so */
			.tv_usec = (suseconds_t)(d->ts_ns % 1000000000ULL) },
		.caplen = d->cap_len,
		.len = d->len,
	};

	pcap_dump((u_char *)w->d, &h, d->data);
}

bool drops_pcap_flush(struct drops_pcap *w)
{
	return pcap_dump_flush(w->d) == 0;
}

void drops_pcap_close(struct drops_pcap *w)
{
	if (!w)
		return;
	pcap_dump_close(w->d);
	pcap_close(w->p);
	free(w);
}
