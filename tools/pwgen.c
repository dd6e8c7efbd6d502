// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pwgen: a small traffic generator for pinwall's tests and benchmarks.
 *
 * Builds one Ethernet frame (optional 802.1Q tag, IPv4 or IPv6, UDP, TCP SYN
 * or ICMP/ICMPv6 echo request, zero payload up to --size) and sends it out of
 * one interface through an AF_PACKET SOCK_RAW socket, over the normal transmit
 * path (no PACKET_QDISC_BYPASS). Frames are paced against CLOCK_MONOTONIC
 * deadlines (frame k is due at start + k / rate) and sent in sendmmsg()
 * batches of whatever is due; above 1 / WAKE_NS (20 kpps) a paced sender
 * wakes every WAKE_NS and sends what is due then, so the rate holds over time
 * but arrives in short bursts. Only frames the kernel accepted are counted;
 * ENOBUFS/EAGAIN are retried with a short back-off.
 *
 * Per frame only the source port (ICMP: echo identifier) and, for ICMP, the
 * echo sequence change; the L4 checksum is finished from a precomputed sum.
 *
 * Exit status: 0 done (count reached, duration over, SIGINT/SIGTERM),
 * 1 run-time failure, 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROG            "pwgen"
#define BATCH           64		/* frames per sendmmsg() */
#define MAX_FRAME       1514		/* without FCS */
#define DEFAULT_SIZE    64
#define MAX_SLEEP_NS    100000000LL	/* re-check for signals at least this often */
#define END_GRACE_NS    5000000LL	/* paced: late frames still sent after --duration */
#ifndef WAKE_NS
#define WAKE_NS         50000		/* paced: wake up at most this often (ns) */
#endif

#define ETH_HDR         14
#define VLAN_HDR        4
#define IP4_HDR         20
#define IP6_HDR         40
#define UDP_HDR         8
#define TCP_HDR         20
#define ICMP_HDR        8

#define EXIT_RUNTIME    1
#define EXIT_USAGE      2

enum proto { P_UDP, P_TCP, P_ICMP };

struct cfg {
	const char *iface;
	uint64_t count;
	double rate;			/* frames/s, 0: unpaced */
	double duration;		/* s, 0: none */
	enum proto proto;
	int family;			/* AF_INET or AF_INET6 */
	const char *src_str, *dst_str;
	uint16_t sport, dport;
	uint32_t sport_range;
	bool have_smac;
	uint8_t smac[6], dmac[6];
	long size;			/* 0: default */
	int vlan;			/* -1: none */
	bool quiet, json;
};

/* Where the per-frame fields of the template live. */
struct layout {
	size_t len;			/* whole frame */
	size_t l4_off, l4_len;
	size_t id_off;			/* sport / echo identifier */
	size_t seq_off;			/* echo sequence, 0: none */
	size_t csum_off;		/* L4 checksum */
	uint64_t base_sum;		/* L4 sum with id, seq and checksum zero */
	bool udp;			/* checksum 0 is sent as 0xffff */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " -i IFACE [options]\n"
"Send raw Ethernet frames out of IFACE with an AF_PACKET socket.\n"
"\n"
"  -i, --iface IFACE         interface to send on (required)\n"
"  -c, --count N             frames to send (default 1000; 0 = until --duration\n"
"                            or SIGINT/SIGTERM)\n"
"  -r, --rate PPS            frames per second (default 0 = as fast as possible)\n"
"  -d, --duration SEC        stop after SEC seconds (fractions allowed)\n"
"  -p, --proto udp|tcp|icmp  L4 protocol (default udp; tcp = SYN; icmp = echo\n"
"                            request, ICMPv6 with -6)\n"
"  -4, -6                    IPv4 (default) or IPv6\n"
"      --src ADDR            source IP (default 10.11.0.2 / fd00:11::2)\n"
"      --dst ADDR            destination IP (default 10.11.0.1 / fd00:11::1)\n"
"      --sport N             source port (default 40000; icmp: echo identifier)\n"
"      --dport N             destination port (default 9; ignored for icmp)\n"
"      --sport-range N       cycle the source port over N consecutive values\n"
"                            starting at --sport (default 1)\n"
"      --smac MAC            source MAC (default: the interface's own)\n"
"      --dmac MAC            destination MAC (default ff:ff:ff:ff:ff:ff)\n"
"  -s, --size BYTES          frame length incl. Ethernet header, without FCS\n"
"                            (default 64, or the header size if larger;\n"
"                            at most 1514)\n"
"      --vlan ID             add one 802.1Q tag with VLAN ID (0..4094)\n"
"  -q, --quiet               no summary\n"
"      --json                summary as one JSON object\n"
"  -h, --help                this text\n"
"\n"
"Summary on stdout: sent N frames (B bytes) in S.sss s, P pps\n"
"Exit status: 0 done, 1 run-time error, 2 bad usage.\n");
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Decimal unsigned integer, no sign, no trailing garbage. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* Non-negative finite decimal number ("1", "0.5", "2e3"). */
static bool parse_nonneg(const char *s, double *out)
{
	double v;
	char *end;

	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !__builtin_isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* aa:bb:cc:dd:ee:ff (one or two hex digits per byte; ':' or '-'). */
static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(*s), lo;

		if (hi < 0)
			return false;
		s++;
		lo = hexval(*s);
		if (lo >= 0) {
			mac[i] = (uint8_t)(hi << 4 | lo);
			s++;
		} else {
			mac[i] = (uint8_t)hi;
		}
		if (i < 5) {
			if (*s != ':' && *s != '-')
				return false;
			s++;
		}
	}
	return *s == '\0';
}

static const char *proto_name(enum proto p, int family)
{
	switch (p) {
	case P_UDP:
		return "udp";
	case P_TCP:
		return "tcp";
	default:
		return family == AF_INET6 ? "icmpv6" : "icmp";
	}
}

enum {
	OPT_SRC = 256,
	OPT_DST,
	OPT_SPORT,
	OPT_DPORT,
	OPT_SPORT_RANGE,
	OPT_SMAC,
	OPT_DMAC,
	OPT_VLAN,
	OPT_JSON,
};

static const struct option long_opts[] = {
	{ "iface",       required_argument, NULL, 'i' },
	{ "count",       required_argument, NULL, 'c' },
	{ "rate",        required_argument, NULL, 'r' },
	{ "duration",    required_argument, NULL, 'd' },
	{ "proto",       required_argument, NULL, 'p' },
	{ "src",         required_argument, NULL, OPT_SRC },
	{ "dst",         required_argument, NULL, OPT_DST },
	{ "sport",       required_argument, NULL, OPT_SPORT },
	{ "dport",       required_argument, NULL, OPT_DPORT },
	{ "sport-range", required_argument, NULL, OPT_SPORT_RANGE },
	{ "smac",        required_argument, NULL, OPT_SMAC },
	{ "dmac",        required_argument, NULL, OPT_DMAC },
	{ "size",        required_argument, NULL, 's' },
	{ "vlan",        required_argument, NULL, OPT_VLAN },
	{ "quiet",       no_argument,       NULL, 'q' },
	{ "json",        no_argument,       NULL, OPT_JSON },
	{ "help",        no_argument,       NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* "--iface" or "-i" for messages, from the option's return value. */
static const char *opt_label(int c, char *buf, size_t n)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == c) {
			snprintf(buf, n, "--%s", o->name);
			return buf;
		}
	snprintf(buf, n, "-%c", c);
	return buf;
}

static void parse_args(int argc, char **argv, struct cfg *cfg)
{
	const char *shortopts = ":i:c:r:d:p:46s:qh";
	uint64_t v;
	char lbl[32];
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->count = 1000;
	cfg->proto = P_UDP;
	cfg->family = AF_INET;
	cfg->sport = 40000;
	cfg->dport = 9;
	cfg->sport_range = 1;
	memset(cfg->dmac, 0xff, sizeof(cfg->dmac));
	cfg->vlan = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ)
				die_usage("invalid interface name '%s'", optarg);
			cfg->iface = optarg;
			break;
		case 'c':
			if (!parse_u64(optarg, UINT64_MAX, &cfg->count))
				die_usage("invalid --count '%s' (want a non-negative integer)", optarg);
			break;
		case 'r':
			if (!parse_nonneg(optarg, &cfg->rate))
				die_usage("invalid --rate '%s' (want frames/s >= 0)", optarg);
			break;
		case 'd':
			if (!parse_nonneg(optarg, &cfg->duration) || cfg->duration <= 0)
				die_usage("invalid --duration '%s' (want seconds > 0)", optarg);
			break;
		case 'p':
			if (!strcmp(optarg, "udp"))
				cfg->proto = P_UDP;
			else if (!strcmp(optarg, "tcp"))
				cfg->proto = P_TCP;
			else if (!strcmp(optarg, "icmp"))
				cfg->proto = P_ICMP;
			else
				die_usage("invalid --proto '%s' (want udp, tcp or icmp)", optarg);
			break;
		case '4':
			cfg->family = AF_INET;
			break;
		case '6':
			cfg->family = AF_INET6;
			break;
		case OPT_SRC:
			cfg->src_str = optarg;
			break;
		case OPT_DST:
			cfg->dst_str = optarg;
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (!parse_u64(optarg, 65535, &v))
				die_usage("invalid %s '%s' (want 0..65535)",
					  opt_label(c, lbl, sizeof(lbl)), optarg);
			if (c == OPT_SPORT)
				cfg->sport = (uint16_t)v;
			else
				cfg->dport = (uint16_t)v;
			break;
		case OPT_SPORT_RANGE:
			if (!parse_u64(optarg, 65536, &v) || v == 0)
				die_usage("invalid --sport-range '%s' (want 1..65536)", optarg);
			cfg->sport_range = (uint32_t)v;
			break;
		case OPT_SMAC:
			if (!parse_mac(optarg, cfg->smac))
				die_usage("invalid --smac '%s' (want xx:xx:xx:xx:xx:xx)", optarg);
			cfg->have_smac = true;
			break;
		case OPT_DMAC:
			if (!parse_mac(optarg, cfg->dmac))
				die_usage("invalid --dmac '%s' (want xx:xx:xx:xx:xx:xx)", optarg);
			break;
		case 's':
			if (!parse_u64(optarg, MAX_FRAME, &v))
				die_usage("invalid --size '%s' (want at most %d bytes)",
					  optarg, MAX_FRAME);
			cfg->size = (long)v;
			if (cfg->size == 0)
				die_usage("invalid --size '%s' (too small for the headers)", optarg);
			break;
		case OPT_VLAN:
			if (!parse_u64(optarg, 4094, &v))
				die_usage("invalid --vlan '%s' (want 0..4094)", optarg);
			cfg->vlan = (int)v;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case OPT_JSON:
			cfg->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			if (optopt)
				die_usage("option '%s' requires an argument",
					  opt_label(optopt, lbl, sizeof(lbl)));
			die_usage("option '%s' requires an argument", argv[optind - 1]);
		default:	/* '?' */
			if (optopt)
				die_usage("unknown option '-%c' (see --help)", optopt);
			die_usage("unknown or ambiguous option '%s' (see --help)",
				  argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!cfg->iface)
		die_usage("missing --iface (see --help)");
	if ((uint32_t)cfg->sport + cfg->sport_range - 1 > 65535)
		die_usage("--sport-range %u from --sport %u goes past port 65535",
			  cfg->sport_range, cfg->sport);
}

/* One's-complement sum of big-endian 16-bit words; len must be even except last. */
static uint64_t sum16(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static size_t l4_hdr_len(enum proto p)
{
	return p == P_TCP ? TCP_HDR : p == P_UDP ? UDP_HDR : ICMP_HDR;
}

/*
 * Build the template frame into buf (cfg->size bytes, zeroed) and describe the
 * fields that change per frame.
 */
static void build_frame(const struct cfg *cfg, const void *src, const void *dst,
			uint8_t *buf, struct layout *lo)
{
	bool v6 = cfg->family == AF_INET6;
	size_t off = 0, l3_off, l3_len = v6 ? IP6_HDR : IP4_HDR;
	uint8_t l4proto;
	uint64_t sum = 0;

	memset(lo, 0, sizeof(*lo));
	lo->len = (size_t)cfg->size;

	memcpy(buf, cfg->dmac, 6);
	memcpy(buf + 6, cfg->smac, 6);
	off = 12;
	if (cfg->vlan >= 0) {
		put16(buf + off, ETHERTYPE_VLAN);
		put16(buf + off + 2, (uint16_t)cfg->vlan);
		off += VLAN_HDR;
	}
	put16(buf + off, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
	off += 2;
	l3_off = off;

	lo->l4_off = l3_off + l3_len;
	lo->l4_len = lo->len - lo->l4_off;

	switch (cfg->proto) {
	case P_UDP:
		l4proto = IPPROTO_UDP;
		break;
	case P_TCP:
		l4proto = IPPROTO_TCP;
		break;
	default:
		l4proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		break;
	}

	if (v6) {
		uint8_t *ip = buf + l3_off;

		ip[0] = 0x60;		/* version 6, traffic class 0, flow label 0 */
		put16(ip + 4, (uint16_t)lo->l4_len);
		ip[6] = l4proto;
		ip[7] = 64;		/* hop limit */
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	} else {
		uint8_t *ip = buf + l3_off;

		ip[0] = 0x45;		/* version 4, IHL 5 */
		put16(ip + 2, (uint16_t)(lo->len - l3_off));
		put16(ip + 6, 0x4000);	/* DF, offset 0 */
		ip[8] = 64;		/* TTL */
		ip[9] = l4proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, (uint16_t)~fold(sum16(0, ip, IP4_HDR)));
	}

	uint8_t *l4 = buf + lo->l4_off;

	switch (cfg->proto) {
	case P_UDP:
		lo->id_off = lo->l4_off;
		put16(l4 + 2, cfg->dport);
		put16(l4 + 4, (uint16_t)lo->l4_len);
		lo->csum_off = lo->l4_off + 6;
		lo->udp = true;
		break;
	case P_TCP:
		lo->id_off = lo->l4_off;
		put16(l4 + 2, cfg->dport);
		put32(l4 + 4, 0x70770001);	/* sequence number */
		l4[12] = 5 << 4;		/* data offset 5 */
		l4[13] = 0x02;			/* SYN */
		put16(l4 + 14, 65535);		/* window */
		lo->csum_off = lo->l4_off + 16;
		break;
	case P_ICMP:
		l4[0] = v6 ? 128 : 8;		/* echo request */
		lo->csum_off = lo->l4_off + 2;
		lo->id_off = lo->l4_off + 4;
		lo->seq_off = lo->l4_off + 6;
		break;
	}

	/* Pseudo-header for everything but ICMPv4. */
	if (v6) {
		sum = sum16(sum, src, 16);
		sum = sum16(sum, dst, 16);
		sum += lo->l4_len;	/* 32-bit length, fits in 16 bits here */
		sum += l4proto;
	} else if (l4proto != IPPROTO_ICMP) {
		sum = sum16(sum, src, 4);
		sum = sum16(sum, dst, 4);
		sum += l4proto;
		sum += lo->l4_len;
	}
	lo->base_sum = sum16(sum, l4, lo->l4_len);	/* id, seq, csum are zero */
}

/* Set the per-frame fields of frame number k in buf. */
static void patch_frame(const struct cfg *cfg, const struct layout *lo,
			uint8_t *buf, uint64_t k)
{
	uint16_t id = (uint16_t)(cfg->sport + k % cfg->sport_range);
	uint64_t sum = lo->base_sum + id;
	uint16_t cs;

	put16(buf + lo->id_off, id);
	if (lo->seq_off) {
		uint16_t seq = (uint16_t)k;

		put16(buf + lo->seq_off, seq);
		sum += seq;
	}
	cs = (uint16_t)~fold(sum);
	if (lo->udp && cs == 0)
		cs = 0xffff;
	put16(buf + lo->csum_off, cs);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000LL,
		.tv_nsec = t % 1000000000LL,
	};

	/* EINTR: the caller re-checks stop_flag and the clock. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Back off after ENOBUFS/EAGAIN: yield first, then sleep 10us .. 1ms. */
static void backoff(unsigned int attempt)
{
	if (attempt < 4) {
		sched_yield();
		return;
	}
	long us = 10L << (attempt - 4 < 7 ? attempt - 4 : 7);
	struct timespec ts = { 0, (us > 1000 ? 1000 : us) * 1000L };

	nanosleep(&ts, NULL);
}

/* Interface index, MAC and MTU; exits on a bad interface. */
static int setup_iface(int fd, struct cfg *cfg, int *mtu)
{
	struct ifreq ifr;
	unsigned int ifindex = if_nametoindex(cfg->iface);

	if (!ifindex)
		die_usage("no such interface '%s'", cfg->iface);

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, cfg->iface, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err_msg("SIOCGIFHWADDR on '%s': %s", cfg->iface, strerror(errno));
		exit(EXIT_RUNTIME);
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK)
		die_usage("interface '%s' is not an Ethernet device", cfg->iface);
	if (!cfg->have_smac)
		memcpy(cfg->smac, ifr.ifr_hwaddr.sa_data, 6);

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, cfg->iface, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		err_msg("SIOCGIFMTU on '%s': %s", cfg->iface, strerror(errno));
		exit(EXIT_RUNTIME);
	}
	*mtu = ifr.ifr_mtu;
	return (int)ifindex;
}

static void print_summary(const struct cfg *cfg, uint64_t sent, double secs)
{
	uint64_t bytes = sent * (uint64_t)cfg->size;
	double pps = secs > 0 ? (double)sent / secs : 0;

	if (cfg->quiet)
		return;
	if (cfg->json)
		printf("{\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.1f}\n",
		       (unsigned long long)sent, (unsigned long long)bytes, secs, pps);
	else
		printf("sent %llu frames (%llu bytes) in %.3f s, %.0f pps\n",
		       (unsigned long long)sent, (unsigned long long)bytes, secs, pps);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static uint8_t frames[BATCH][MAX_FRAME];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sll;
	struct sigaction sa;
	struct layout lo;
	struct cfg cfg;
	uint8_t src[16], dst[16];
	const char *src_def, *dst_def;
	size_t min_size;
	int fd, ifindex, mtu, zero = 0, rc = 0;
	bool v6;

	parse_args(argc, argv, &cfg);
	v6 = cfg.family == AF_INET6;

	src_def = v6 ? "fd00:11::2" : "10.11.0.2";
	dst_def = v6 ? "fd00:11::1" : "10.11.0.1";
	if (inet_pton(cfg.family, cfg.src_str ? cfg.src_str : src_def, src) != 1)
		die_usage("invalid --src '%s' (want an %s address%s)", cfg.src_str,
			  v6 ? "IPv6" : "IPv4", v6 ? "" : "; -6 for IPv6");
	if (inet_pton(cfg.family, cfg.dst_str ? cfg.dst_str : dst_def, dst) != 1)
		die_usage("invalid --dst '%s' (want an %s address%s)", cfg.dst_str,
			  v6 ? "IPv6" : "IPv4", v6 ? "" : "; -6 for IPv6");

	min_size = (size_t)(ETH_HDR + (cfg.vlan >= 0 ? VLAN_HDR : 0) +
			    (v6 ? IP6_HDR : IP4_HDR)) + l4_hdr_len(cfg.proto);
	if (!cfg.size)
		cfg.size = (long)min_size > DEFAULT_SIZE ? (long)min_size : DEFAULT_SIZE;
	else if (cfg.size < (long)min_size)
		die_usage("invalid --size '%ld' (%s/%s%s needs at least %zu bytes)",
			  cfg.size, proto_name(cfg.proto, cfg.family),
			  v6 ? "IPv6" : "IPv4", cfg.vlan >= 0 ? "/VLAN" : "", min_size);

	fd = socket(AF_PACKET, SOCK_RAW, 0);	/* protocol 0: send only */
	if (fd < 0) {
		err_msg("socket(AF_PACKET, SOCK_RAW): %s%s", strerror(errno),
			errno == EPERM ? " (needs CAP_NET_RAW)" : "");
		return EXIT_RUNTIME;
	}
	ifindex = setup_iface(fd, &cfg, &mtu);
	if (cfg.size > (long)mtu + ETH_HDR + (cfg.vlan >= 0 ? VLAN_HDR : 0))
		die_usage("invalid --size '%ld' (MTU of '%s' is %d)", cfg.size, cfg.iface, mtu);

	/* Normal transmit path: qdisc, taps (tcpdump), driver. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &zero, sizeof(zero)) < 0) {
		err_msg("setsockopt(PACKET_QDISC_BYPASS): %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_protocol = 0;		/* do not receive */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err_msg("bind to '%s': %s", cfg.iface, strerror(errno));
		return EXIT_RUNTIME;
	}

	build_frame(&cfg, src, dst, frames[0], &lo);
	for (int i = 1; i < BATCH; i++)
		memcpy(frames[i], frames[0], lo.len);
	memset(msgs, 0, sizeof(msgs));

	/* No SA_RESTART: a blocked send or sleep returns EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* Default timer slack (50us) would make every paced sleep late. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	const int64_t t0 = now_ns();
	int64_t end = INT64_MAX;

	if (cfg.duration > 0)
		end = cfg.duration * 1e9 < (double)(INT64_MAX / 2) ?
			t0 + (int64_t)(cfg.duration * 1e9) : INT64_MAX;
	int64_t t_last = t0;
	uint64_t sent = 0;
	unsigned int retries = 0;
	/*
	 * Frames per wake-up when paced: one for rates up to 1 / WAKE_NS,
	 * above that what is due every WAKE_NS (at most a batch), so high
	 * rates do not cost a timer wake-up per frame.
	 */
	double burst = cfg.rate * (WAKE_NS * 1e-9);

	burst = burst < 1 ? 1 : burst > BATCH ? BATCH : (double)(uint64_t)burst;

	while (!stop_flag && (!cfg.count || sent < cfg.count)) {
		int64_t now = now_ns();
		uint64_t n = BATCH;

		if (cfg.rate > 0) {
			/* Frame k is due at t0 + k / rate; send what is due now. */
			int64_t t = now < end ? now : end - 1;
			double due = (double)(t - t0) * 1e-9 * cfg.rate + 1 - (double)sent;

			if (due < 1) {
				if (now >= end)
					break;
				/* Sleep until `burst` more frames (or the last ones) are due. */
				double last = (double)sent + burst - 1;

				if (cfg.count && last > (double)(cfg.count - 1))
					last = (double)(cfg.count - 1);
				double next = last / cfg.rate * 1e9;
				int64_t wake = now + MAX_SLEEP_NS;

				if (next < (double)(wake - t0))
					wake = t0 + (int64_t)next + 1;
				if (wake > end)
					wake = end;
				sleep_until_ns(wake);
				continue;
			}
			if (due < BATCH)
				n = (uint64_t)due;	/* truncation: due >= 1 */
			/* Frames due before the end may go out up to END_GRACE_NS late. */
			if (now >= end && now - end >= END_GRACE_NS)
				break;
		} else if (now >= end) {
			break;
		}
		if (cfg.count && cfg.count - sent < n)
			n = cfg.count - sent;

		for (uint64_t i = 0; i < n; i++) {
			patch_frame(&cfg, &lo, frames[i], sent + i);
			iov[i].iov_base = frames[i];
			iov[i].iov_len = lo.len;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}

		int r;

		if (n == 1)
			r = send(fd, frames[0], lo.len, 0) < 0 ? -1 : 1;
		else
			r = sendmmsg(fd, msgs, (unsigned int)n, 0);
		if (r > 0) {
			sent += (uint64_t)r;
			retries = 0;
			t_last = now_ns();
			continue;
		}
		if (r == 0 || errno == ENOBUFS || errno == EAGAIN) {
			/* Nothing accepted: the same frames go again. */
			backoff(retries++);
			continue;
		}
		if (errno == EINTR)
			continue;
		err_msg("send on '%s': %s", cfg.iface, strerror(errno));
		rc = EXIT_RUNTIME;
		break;
	}

	/* Until the last accepted frame, or until the stop if that came later. */
	int64_t t_end = now_ns();

	if (!stop_flag && rc == 0 && cfg.count && sent >= cfg.count)
		t_end = t_last;
	if (t_end > end)
		t_end = end > t_last ? end : t_last;
	print_summary(&cfg, sent, (double)(t_end - t0) * 1e-9);
	close(fd);
	return rc;
}
