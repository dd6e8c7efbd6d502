// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * udpsink: a real receiving application for the steering test and bench.
 * It counts the UDP datagrams its sockets receive, and on which CPU the
 * kernel's stack handled them: with -s, one socket per flow, connected to
 * the sender's address and one of N source ports (the kernel records
 * SO_INCOMING_CPU for connected UDP sockets only; read after each batch of
 * recvmmsg, the batch counts for the CPU of its last datagram), plus an
 * unconnected one for the rest. Prints one JSON line at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#define BATCH 64
#define MAX_CPUS 256

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"Usage: udpsink -p PORT [-d SECONDS] [-i IDLE] [-s SRC -P SPORT [-n FLOWS]]\n"
		"Count UDP datagrams to PORT (IPv4 and IPv6) for SECONDS (default 5), or\n"
		"until IDLE seconds pass without one after the first; print JSON\n"
		"{\"packets\", \"bytes\", \"seconds\" (first to last datagram), \"cpus\"}.\n"
		"-s: one connected socket per flow from IPv4 SRC, ports SPORT..SPORT+FLOWS-1,\n"
		"so \"cpus\" counts datagrams by the CPU that handled them.\n");
	exit(rc);
}

#define MAX_FLOWS 256

static int open_sock(int port, const char *src, int sport)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(sport) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1, buf = 4 << 20;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (src && (inet_pton(AF_INET, src, &peer.sin_addr) != 1 ||
		     connect(fd, (struct sockaddr *)&peer, sizeof(peer))))) {
		fprintf(stderr, "udpsink: port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	return fd;
}

struct tally {
	unsigned long long packets, bytes, cpus[MAX_CPUS];
	double first, last;
	int max_cpu;
};

static void count_batch(int fd, struct mmsghdr *m, int n, struct tally *t)
{
	socklen_t len = sizeof(int);
	int cpu = -1;

	if (!t->packets)
		t->first = now();
	t->last = now();
	t->packets += n;
	for (int i = 0; i < n; i++)
		t->bytes += m[i].msg_len;
	if (!getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) && cpu >= 0 &&
	    cpu < MAX_CPUS) {
		t->cpus[cpu] += n;
		if (cpu > t->max_cpu)
			t->max_cpu = cpu;
	}
}

static void print(const struct tally *t)
{
	printf("{\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpus\":[", t->packets,
	       t->bytes, t->packets ? t->last - t->first : 0.0);
	for (int c = 0; c <= t->max_cpu; c++)
		printf("%s%llu", c ? "," : "", t->cpus[c]);
	printf("]}\n");
}

static void drain(int fd, struct mmsghdr *m, struct tally *t)
{
	int n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);

	if (n > 0)
		count_batch(fd, m, n, t);
}

int main(int argc, char **argv)
{
	static char bufs[BATCH][2048];
	struct pollfd p[MAX_FLOWS + 1];
	struct iovec iov[BATCH];
	struct mmsghdr m[BATCH];
	struct tally t = { .max_cpu = 0 };
	double dur = 5, idle = 0, end;
	int port = 0, sport = 0, flows = 1, c, nfd = 0;
	const char *src = NULL;

	while ((c = getopt(argc, argv, "p:d:i:s:P:n:h")) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else if (c == 'd')
			dur = atof(optarg);
		else if (c == 'i')
			idle = atof(optarg);
		else if (c == 's')
			src = optarg;
		else if (c == 'P')
			sport = atoi(optarg);
		else if (c == 'n')
			flows = atoi(optarg);
		else
			usage(c == 'h' ? 0 : 2);
	}
	if (port <= 0 || port > 65535 || dur <= 0 || flows < 1 || flows > MAX_FLOWS ||
	    (src && (sport <= 0 || sport + flows - 1 > 65535)))
		usage(2);
	for (int i = 0; src && i < flows; i++)
		p[nfd++] = (struct pollfd){ .fd = open_sock(port, src, sport + i), .events = POLLIN };
	p[nfd++] = (struct pollfd){ .fd = open_sock(port, NULL, 0), .events = POLLIN };
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	end = now() + dur;
	while (now() < end && !(idle > 0 && t.packets && now() - t.last > idle)) {
		if (poll(p, nfd, 50) <= 0)
			continue;
		for (int i = 0; i < nfd; i++)
			if (p[i].revents & POLLIN)
				drain(p[i].fd, m, &t);
	}
	print(&t);
	return 0;
}
