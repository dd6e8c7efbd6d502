// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * livegen: a line-rate-ish generator for the drop ladder. It sends one
 * 64-byte UDP/IPv4 frame (valid IPv4 and UDP checksums) out of an interface
 * with BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES): each
 * call runs livegen.bpf.c --repeat times, and every run redirects the frame
 * out of the interface (bpf_redirect), so a veth hands it straight to its
 * peer's receive ring (ndo_xdp_xmit) without an skb.
 *
 * Counting: a call that returns 0 ran all --repeat frames, so the total is
 * repeat x completed calls. A call cut short by a signal (-EINTR) is not
 * counted, although part of it was sent. "Sent" means handed to the
 * interface's XDP transmit: a veth whose peer ring is full drops the frame
 * there (ethtool -S IFACE: tx_queue_0_xdp_xmit_errors), and a veth whose peer
 * has neither an XDP program nor GRO enabled drops every frame (no NAPI).
 *
 * Runs in the current network namespace (use nsenter --net=/run/netns/NS)
 * and pins itself to one CPU (-C, default 0); the kernel runs the program
 * and the transmit on that CPU.
 *
 * Exit status: 0 done (duration over, SIGINT/SIGTERM), 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "livegen.skel.h"
#include "pktbuild.h"

#define PROG		"livegen"
#define FRAME_LEN	64	/* without FCS */
#define HDRS_LEN	(14 + 20 + 8)
#define MAX_KBATCH	256	/* kernel limit for batch_size (TEST_XDP_MAX_BATCH) */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see '" PROG " -h')\n");
	va_end(ap);
	exit(2);
}

static void usage(void)
{
	printf("Usage: " PROG " -i IFACE [options]\n"
	       "Send 64-byte UDP/IPv4 frames out of IFACE with BPF_PROG_RUN live frames.\n"
	       "  -i, --iface IFACE       transmit interface (in the current netns)\n"
	       "  -d, --duration SEC      run time, seconds (default 5; 0: until a signal)\n"
	       "  -C, --cpu CPU           pin to this CPU (default 0; -1: do not pin)\n"
	       "      --src ADDR          IPv4 source (default 10.11.0.2)\n"
	       "      --dst ADDR          IPv4 destination (default 10.12.0.1)\n"
	       "      --sport PORT        UDP source port, first of the range (default 1024)\n"
	       "      --sport-range N     cycle the source port over N values (default 1)\n"
	       "      --dport PORT        UDP destination port (default 9)\n"
	       "      --smac MAC          source MAC (default: IFACE's)\n"
	       "      --dmac MAC          destination MAC (default: the veth peer's if it is\n"
	       "                          in this netns, else ff:ff:ff:ff:ff:ff)\n"
	       "  -b, --batch N           frames per BPF_PROG_RUN call (repeat; default 65536)\n"
	       "      --batch-size N      kernel batch per flush, 1..256 (default: kernel's, 64)\n"
	       "  -j, --json              print the result as one JSON object\n"
	       "  -q, --quiet             print nothing but errors and the result\n"
	       "  -h, --help              this text\n");
}

static long num(const char *what, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		die_usage("invalid %s '%s': use %ld..%ld", what, s, lo, hi);
	return v;
}

static void parse_mac(const char *what, const char *s, uint8_t mac[6])
{
	unsigned int m[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &tail) != 6)
		die_usage("invalid %s '%s': use xx:xx:xx:xx:xx:xx", what, s);
	for (int i = 0; i < 6; i++) {
		if (m[i] > 0xff)
			die_usage("invalid %s '%s': use xx:xx:xx:xx:xx:xx", what, s);
		mac[i] = (uint8_t)m[i];
	}
}

static int if_mac(int fd, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* The "peer_ifindex" ethtool statistic of a veth; 0 if there is none. */
static long veth_peer(int fd, const char *ifname)
{
	struct ethtool_drvinfo drv = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_gstrings *str = NULL;
	struct ethtool_stats *st = NULL;
	struct ifreq ifr = { 0 };
	long peer = 0;
	__u32 n;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&drv;
	if (ioctl(fd, SIOCETHTOOL, &ifr) || strcmp(drv.driver, "veth") || !drv.n_stats)
		return 0;
	n = drv.n_stats;
	str = calloc(1, sizeof(*str) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(__u64));
	if (!str || !st)
		goto out;
	str->cmd = ETHTOOL_GSTRINGS;
	str->string_set = ETH_SS_STATS;
	str->len = n;
	ifr.ifr_data = (void *)str;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (void *)st;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	for (__u32 i = 0; i < n && i < str->len; i++)
		if (!strncmp((char *)str->data + (size_t)i * ETH_GSTRING_LEN, "peer_ifindex",
			     ETH_GSTRING_LEN))
			peer = (long)st->data[i];
out:
	free(str);
	free(st);
	return peer;
}

/*
 * Destination MAC default: the peer's, if the ifindex the veth names is a
 * veth in this namespace that names us back (an ifindex alone could be an
 * unrelated device when the peer lives in another namespace).
 */
static void default_dmac(int fd, const char *ifname, uint8_t mac[6])
{
	char peer[IF_NAMESIZE];
	long p = veth_peer(fd, ifname);

	memset(mac, 0xff, 6);
	if (p > 0 && if_indextoname((unsigned int)p, peer) &&
	    veth_peer(fd, peer) == (long)if_nametoindex(ifname) && if_mac(fd, peer, mac))
		memset(mac, 0xff, 6);
}

/* IPv4 + UDP checksums of the frame pktbuild made (pb_finish does the IP one). */
static void udp_csum(struct pb *b)
{
	const uint8_t *ip = b->buf + b->ip_off;
	size_t ulen = b->len - b->udp_off;
	uint32_t sum = 0;
	uint16_t c;

	for (int i = 12; i < 20; i += 2)	/* saddr, daddr */
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum += IPPROTO_UDP;
	sum += (uint32_t)ulen;
	for (size_t i = 0; i < ulen; i += 2)
		sum += (uint32_t)b->buf[b->udp_off + i] << 8 |
		       (i + 1 < ulen ? b->buf[b->udp_off + i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	pb_set16(b, b->udp_off + 6, c ? c : 0xffff);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	enum { O_SRC = 256, O_DST, O_SPORT, O_SRANGE, O_DPORT, O_SMAC, O_DMAC, O_KBATCH };
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "src", required_argument, NULL, O_SRC },
		{ "dst", required_argument, NULL, O_DST },
		{ "sport", required_argument, NULL, O_SPORT },
		{ "sport-range", required_argument, NULL, O_SRANGE },
		{ "dport", required_argument, NULL, O_DPORT },
		{ "smac", required_argument, NULL, O_SMAC },
		{ "dmac", required_argument, NULL, O_DMAC },
		{ "batch", required_argument, NULL, 'b' },
		{ "batch-size", required_argument, NULL, O_KBATCH },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ifname = NULL, *src = "10.11.0.2", *dst = "10.12.0.1";
	long duration = 5, cpu = 0, sport = 1024, srange = 1, dport = 9, batch = 65536, kbatch = 0;
	bool json = false, quiet = false, have_smac = false, have_dmac = false;
	uint8_t smac[6], dmac[6];
	struct in_addr sa, da;
	struct livegen *skel;
	unsigned int ifindex;
	unsigned long long frames = 0, runs = 0;
	double t0, t1, elapsed;
	struct pb b;
	size_t len;
	int c, fd, err, ret = 0;

	while ((c = getopt_long(argc, argv, "i:d:C:b:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'd': duration = num("duration", optarg, 0, 86400); break;
		case 'C': cpu = num("CPU", optarg, -1, CPU_SETSIZE - 1); break;
		case O_SRC: src = optarg; break;
		case O_DST: dst = optarg; break;
		case O_SPORT: sport = num("source port", optarg, 1, 65535); break;
		case O_SRANGE: srange = num("source port range", optarg, 1, 65535); break;
		case O_DPORT: dport = num("destination port", optarg, 1, 65535); break;
		case O_SMAC: parse_mac("source MAC", optarg, smac); have_smac = true; break;
		case O_DMAC: parse_mac("destination MAC", optarg, dmac); have_dmac = true; break;
		case 'b': batch = num("batch", optarg, 1, 1 << 30); break;
		case O_KBATCH: kbatch = num("batch size", optarg, 1, MAX_KBATCH); break;
		case 'j': json = true; break;
		case 'q': quiet = true; break;
		case 'h': usage(); return 0;
		default: die_usage("invalid option");
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!ifname)
		die_usage("missing -i IFACE");
	if (inet_pton(AF_INET, src, &sa) != 1)
		die_usage("invalid source address '%s': use an IPv4 address", src);
	if (inet_pton(AF_INET, dst, &da) != 1)
		die_usage("invalid destination address '%s': use an IPv4 address", dst);
	if (sport + srange - 1 > 65535)
		die_usage("source ports %ld..%ld run past 65535", sport, sport + srange - 1);

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, PROG ": error: no interface '%s' in this network namespace\n", ifname);
		return 1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": error: socket: %s\n", strerror(errno));
		return 1;
	}
	if (!have_smac && (err = if_mac(fd, ifname, smac))) {
		fprintf(stderr, PROG ": error: MAC of '%s': %s\n", ifname, strerror(-err));
		return 1;
	}
	if (!have_dmac)
		default_dmac(fd, ifname, dmac);
	close(fd);

	/* Ethernet / IPv4 / UDP / payload up to 64 bytes, then fix the fields up */
	pb_init(&b);
	pb_eth(&b, ETH_P_IP);
	pb_ipv4(&b, IPPROTO_UDP, 5, 0x4000);	/* DF */
	pb_udp(&b, (uint16_t)sport, (uint16_t)dport);
	pb_payload(&b, FRAME_LEN - HDRS_LEN);
	memcpy(b.buf, dmac, 6);
	memcpy(b.buf + 6, smac, 6);
	memcpy(b.buf + b.ip_off + 12, &sa, 4);
	memcpy(b.buf + b.ip_off + 16, &da, 4);
	len = pb_finish(&b);
	udp_csum(&b);

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, PROG ": error: pin to CPU %ld: %s\n", cpu, strerror(errno));
			return 1;
		}
	}

	libbpf_set_print(libbpf_quiet);
	skel = livegen__open();
	if (!skel) {
		fprintf(stderr, PROG ": error: open BPF skeleton: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->tx_ifindex = ifindex;
	skel->rodata->sport_base = (uint32_t)sport;
	skel->rodata->sport_range = (uint32_t)srange;
	if ((err = livegen__load(skel))) {
		fprintf(stderr, PROG ": error: load BPF program: %s (root, or CAP_BPF + CAP_NET_ADMIN?)\n",
			strerror(-err));
		livegen__destroy(skel);
		return 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!quiet && !json)
		fprintf(stderr, PROG ": %s (ifindex %u), %s:%ld -> %s:%ld, %ld source port(s), "
			"%zu-byte frames, %ld per call, CPU %ld, %ld s\n", ifname, ifindex, src, sport,
			dst, dport, srange, len, batch, cpu, duration);

	t0 = now();
	t1 = t0;
	while (!stop) {
		LIBBPF_OPTS(bpf_test_run_opts, topts,
			.data_in = b.buf,
			.data_size_in = (__u32)len,
			.repeat = (int)batch,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			.batch_size = (__u32)kbatch,
		);

		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.livegen_xdp), &topts);
		t1 = now();
		if (err) {
			if (errno == EINTR || stop)
				break;	/* a signal: this call's frames are not counted */
			fprintf(stderr, PROG ": error: BPF_PROG_RUN (live frames): %s%s\n", strerror(errno),
				errno == EINVAL ? " (kernel without BPF_F_TEST_XDP_LIVE_FRAMES, or a bad --batch-size?)" : "");
			ret = 1;
			break;
		}
		frames += (unsigned long long)batch;
		runs++;
		if (duration && t1 - t0 >= (double)duration)
			break;
	}
	elapsed = t1 - t0;

	if (json)
		printf("{\"iface\":\"%s\",\"frames\":%llu,\"calls\":%llu,\"repeat\":%ld,"
		       "\"seconds\":%.6f,\"pps\":%.0f,\"frame_len\":%zu,\"sport_range\":%ld,"
		       "\"cpu\":%ld}\n", ifname, frames, runs, batch, elapsed,
		       elapsed > 0 ? frames / elapsed : 0, len, srange, cpu);
	else
		printf("%s: %llu frames in %.3f s (%llu calls x %ld) = %.3f Mpps offered\n", ifname,
		       frames, elapsed, runs, batch, elapsed > 0 ? frames / elapsed / 1e6 : 0);
	livegen__destroy(skel);
	return ret;
}
