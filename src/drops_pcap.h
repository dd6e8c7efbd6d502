/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `pinwall drops --pcap` (drops_pcap.c): no libpcap header needed here. */
#ifndef PINWALL_DROPS_PCAP_H
#define PINWALL_DROPS_PCAP_H

#include <stdbool.h>
#include <stddef.h>

struct pw_drop;
struct drops_pcap;

/* @path '-': standard output. NULL on failure, the reason in @err. */
struct drops_pcap *drops_pcap_open(const char *path, unsigned int snaplen, char *err, size_t len);
void drops_pcap_write(struct drops_pcap *w, const struct pw_drop *d);
bool drops_pcap_flush(struct drops_pcap *w);
void drops_pcap_close(struct drops_pcap *w);

#endif
