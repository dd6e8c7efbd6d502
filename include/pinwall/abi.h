/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between pinwall's BPF programs and user space: record layouts,
 * indices and map names. Defined once, included by both sides; a change here
 * is a change of the pinned-map layout.
 */
#ifndef PINWALL_ABI_H
#define PINWALL_ABI_H

#ifndef __bpf__
#include <linux/types.h>	/* the BPF side gets __u32 & co. from vmlinux.h */
#endif

/* Names of the built-in program and its maps (also their bpffs pin names). */
#define PW_PROG_NAME        "pinwall_xdp"
#define PW_MAP_ACTIONS      "xdp_stats_map"
#define PW_MAP_CLASSES      "pw_classes"
#define PW_MAP_META         "pw_meta"

/*
 * Per-action counters: one slot per XDP action, indexed by the verdict the
 * program returned (XDP_ABORTED .. XDP_REDIRECT). The field names and layout
 * match the classic tutorial record so generic tooling can read both.
 */
#define PW_ACTION_MAX 5

struct pw_datarec {
	__u64 rx_packets;
	__u64 rx_bytes;
};

/*
 * Per-protocol-class counters. A frame is counted once in one L3 class and,
 * when it is IPv4/IPv6, once in one L4 class; a frame that is truncated or
 * inconsistent anywhere is counted in PW_C_MALFORMED instead of the class of
 * the layer that failed (it still gets a verdict).
 */
enum pw_class {
	PW_C_IPV4 = 0,
	PW_C_IPV6,
	PW_C_L3_OTHER,
	PW_C_TCP,
	PW_C_UDP,
	PW_C_ICMP,	/* ICMP for IPv4, ICMPv6 for IPv6 */
	PW_C_L4_OTHER,	/* other protocols, non-first fragments, ext-header chain too long */
	PW_C_MALFORMED,
	PW_CLASS_MAX,
};

/* Bounds of the parser; fixed so the verifier can prove termination. */
#define PW_MAX_VLAN      2
#define PW_MAX_V6_EXT    8

/*
 * What pinwall recorded about a load, kept in a one-entry array map pinned
 * next to the link (bpffs holds only BPF objects, so the record is a map).
 */
#define PW_META_VERSION  1
#define PW_PATH_LEN      256
#define PW_NAME_LEN      64
#define PW_META_SHARED   8	/* shared maps recorded per interface */
#define PW_MAP_NAME_LEN  32

enum pw_mode {
	PW_MODE_AUTO = 0,
	PW_MODE_NATIVE,
	PW_MODE_SKB,
};

struct pw_meta {
	__u32 version;
	__u32 mode;		/* enum pw_mode actually in use */
	__u32 ifindex;
	__u32 prog_id;		/* program attached by the last load/reload */
	__u64 netns_ino;
	__u64 loaded_at;	/* CLOCK_REALTIME, ns, of the first load */
	__u64 reloaded_at;	/* CLOCK_REALTIME, ns, of the last reload (0: none) */
	__u32 reloads;
	__u32 builtin;		/* 1: the program built into pinwall */
	char ifname[16];
	char prog[PW_NAME_LEN];
	char object[PW_PATH_LEN];
	/* shared (pinned-by-name) maps this interface's program uses: they stay
	 * while any interface, loaded or unloaded with --keep-maps, names them */
	__u32 n_shared;
	char shared[PW_META_SHARED][PW_MAP_NAME_LEN];
};

#endif /* PINWALL_ABI_H */
