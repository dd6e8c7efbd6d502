// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `pinwall drops --pcap`: captured frames written through libpcap
 * (Ethernet link type, nanosecond time stamps), readable by tcpdump,
 * tshark and Wireshark. Apart from the CLI's other files: libpcap's
 * headers and the kernel's BPF headers both define struct bpf_insn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pcap/pcap.h>
#include "pinwall/pinwall.h"
#include "drops_pcap.h"

struct drops_pcap {
	pcap_t *p;
	pcap_dumper_t *d;
};

/* @path opened without following a symlink (one planted at a path that
 * root writes would truncate its target), and written only if it is a
 * regular file (truncated first) or a FIFO (a reader such as tcpdump
 * waiting at its other end): never a device or anything else. */
static pcap_dumper_t *dump_open(pcap_t *p, const char *path, char *err, size_t len)
{
	struct stat st;
	pcap_dumper_t *d;
	FILE *f;
	int fd;

	err[0] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, len, "%s", errno == ELOOP ? "a symbolic link (not followed)"
							  : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		snprintf(err, len, "not a regular file or a FIFO");
		close(fd);
		return NULL;
	}
	if (S_ISREG(st.st_mode) && ftruncate(fd, 0)) {
		snprintf(err, len, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!(f = fdopen(fd, "w"))) {
		snprintf(err, len, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	/* on failure libpcap has closed @f (header not written) */
	d = pcap_dump_fopen(p, f);
	return d;
}

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
	if (!strcmp(path, "-"))
		w->d = pcap_dump_open(w->p, path);
	else
		w->d = dump_open(w->p, path, err, len);
	if (!w->d) {
		if (!err[0])
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
