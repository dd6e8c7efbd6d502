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
 * inconsistent anywhere, or goes beyond the parser's bounds, is counted in
 * PW_C_MALFORMED instead (and dropped: bpf/parse.h).
 */
enum pw_class {
	PW_C_IPV4 = 0,
	PW_C_IPV6,
	PW_C_L3_OTHER,
	PW_C_TCP,
	PW_C_UDP,
	PW_C_ICMP,	/* ICMP for IPv4, ICMPv6 for IPv6 */
	PW_C_L4_OTHER,	/* other protocols, later fragments */
	PW_C_MALFORMED,	/* truncated, inconsistent, or beyond the parser's bounds */
	PW_CLASS_MAX,
};

/* Bounds of the parser; fixed so the verifier can prove termination. */
#define PW_MAX_VLAN      2
#define PW_MAX_V6_EXT    8

/* First fragments whose verdict is kept for their later fragments (LRU). */
#define PW_FRAG_TRACKED  16384
#define PW_MAP_FRAGS     "pw_frags"

/*
 * Chaining (`load --then`, docs/CHAINING.md): pw_chain is the per-interface
 * program array pinwall tail-calls into after it passed a frame (slot 0).
 * The chained program's verdicts are counted per CPU in pw_chain_stats
 * (__u64 packets per slot: XDP_ABORTED..XDP_REDIRECT, then any other value),
 * pinned in the interface's chain/ directory with the program's own maps
 * (chain/maps/NAME) and struct pw_chain_rec (chain/record).
 */
#define PW_MAP_CHAIN        "pw_chain"
#define PW_MAP_CHAIN_STATS  "pw_chain_stats"
#define PW_CHAIN_SLOTS      1
#define PW_CHAIN_VERDICTS   (PW_ACTION_MAX + 1)
#define PW_CHAIN_VERSION    1


/*
 * Captured drops (`pinwall drops`, bpf/capture.h): per interface, a ring
 * buffer of struct pw_drop_event and a one-entry config (mmap-able: user
 * space and the program share its words through atomics). While nobody
 * captures, a dropped frame costs one load of pw_capture_cfg.until.
 *
 * Capture is on while CLOCK_MONOTONIC < until: the capturing process
 * renews this lease every second; a killed one stops renewing and capture
 * ends by itself at most PW_CAP_LEASE_NS later (the next drop past it
 * clears until). The limiter is shared by every CPU: a frame is admitted
 * when the next slot (tat) is at most burst_ns ahead of now; each admitted
 * frame moves tat by interval_ns (one compare-and-swap).
 */
#define PW_MAP_DROPS     "pw_drops"
#define PW_MAP_CAPTURE   "pw_capture"
#define PW_CAP_SNAPLEN   128		/* bytes of a frame copied, at most */
#define PW_CAP_RING      (256 * 1024)	/* ring buffer bytes: ~1600 events */
#define PW_CAP_LEASE_NS  3000000000ULL

enum pw_drop_reason {
	PW_DROP_NONE = 0,
	PW_DROP_RULE,		/* a rule with action drop decided (its id in rule) */
	PW_DROP_POLICY,		/* no rule decided; the policy is deny */
	PW_DROP_MALFORMED,	/* truncated, inconsistent, beyond the parser's bounds */
	PW_DROP_FRAGMENT,	/* a later fragment: its first fragment was dropped */
	PW_DROP_DEFAULT,	/* the program's default verdict is drop (test builds) */
	PW_DROP_BLOCK,		/* the source is blocked (pinwall block) */
	PW_DROP_LIMIT,		/* over a limit rule's rate (its id in rule) */
	PW_DROP_REASON_MAX,
};

struct pw_capture_cfg {
	__u64 until;		/* the enable word: CLOCK_MONOTONIC ns; 0: off */
	__u64 interval_ns;	/* limiter: ns per admitted frame */
	__u64 burst_ns;		/* limiter: how far ahead of now tat may run */
	__u64 tat;		/* limiter state: the next free slot */
	__u32 rule;		/* 0: every drop; else drops by this rule only */
	__u32 snaplen;		/* bytes to copy, 1..PW_CAP_SNAPLEN */
	__u32 pid;		/* the capturing process (for messages) */
	__u32 pad;
	__u64 captured;		/* events written */
	__u64 suppressed;	/* not written: over the rate limit */
	__u64 lost;		/* not written: ring buffer full */
};

struct pw_drop_event {
	__u64 ts;		/* CLOCK_MONOTONIC ns */
	__u32 rule;		/* the deciding rule; 0: none */
	__u32 reason;		/* enum pw_drop_reason */
	__u32 len;		/* frame length */
	__u32 cap_len;		/* bytes in data */
	__u8 data[PW_CAP_SNAPLEN];
};

/*
 * CPU steering (load --steer, bpf/steer.h): the frames the rules pass are
 * redirected into a cpumap, one entry per CPU in use, chosen by a flow hash
 * over the CPUs listed in the one-entry pw_steer_cpus (n == 0: no steering,
 * the frame passes here as before). Both maps are per interface. A listed
 * CPU without a cpumap entry makes the redirect fall back to XDP_PASS.
 */
#define PW_MAP_STEER       "pw_steer"
#define PW_MAP_STEER_CPUS  "pw_steer_cpus"
#define PW_STEER_MAX_CPUS  256	/* cpumap entries: CPUs 0..255 can be listed */
#define PW_STEER_QSIZE     2048	/* frames queued per CPU before the cpumap drops */

struct pw_steer_cpus {
	__u32 n;			/* CPUs listed; 0: steering off */
	__u32 pad;
	__u32 cpu[PW_STEER_MAX_CPUS];	/* the listed CPUs, ascending */
};

/*
 * Rules (shared by every interface; pinned by name under the shared dir).
 *
 * A rule has a stable id (1..PW_MAX_RULES-1; 0 means "no rule") that indexes
 * pw_rules (its action) and pw_rule_stats (its per-CPU hit counters). The
 * lookup tables are double-buffered: pw_config.active names the set (0/1)
 * the program reads, read once per packet, so a packet sees the old set or
 * the new one, never a mix. `rule apply` fills the other set and flips.
 *
 * Address lookup (per family, per direction): the top 16 bits of the
 * address index a chunk entry holding the best rule among prefixes of
 * length <= 16 covering the chunk, and a bitmap of the longer prefix lengths
 * present in the chunk, and a bitmap of the third address bytes those longer
 * prefixes cover; for a packet whose third byte is covered, the lengths are
 * probed longest first in a hash keyed by (set, dir, len, masked address).
 * The first hit is the longest match.
 */
#define PW_MAX_RULES      262144
#define PW_MAX_LONG       524288	/* long-prefix entries, both sets */

#define PW_MAP_RULES      "pw_rules"
#define PW_MAP_RULE_STATS "pw_rule_stats"
#define PW_MAP_CONFIG     "pw_config"
#define PW_MAP_V4_TOP     "pw_v4_top"
#define PW_MAP_V6_TOP     "pw_v6_top"
#define PW_MAP_V4_LONG    "pw_v4_long"
#define PW_MAP_V6_LONG    "pw_v6_long"
#define PW_MAP_PORTS      "pw_ports"
#define PW_MAP_PROTOS     "pw_protos"

/* which side of the packet a rule matches: source or destination address/port */
enum pw_side { PW_SIDE_SRC = 0, PW_SIDE_DST = 1 };
enum pw_policy { PW_POLICY_ALLOW = 0, PW_POLICY_DENY = 1 };
#define PW_CFG_POLICY(cfg) ((cfg)->policy[(cfg)->active & 1])

#define PW_CHUNKS         65536	/* top-16-bit chunks per (set, dir) */
#define PW_TOP_INDEX(set, dir, chunk) ((((set) * 2 + (dir)) << 16) | (chunk))
/* ports: (set, dir, udp?) -> 65536 entries; dir SRC = sport, DST = dport */
#define PW_PORT_INDEX(set, dir, udp, port) \
	(((((set) * 2 + (dir)) * 2 + (udp)) << 16) | (port))
#define PW_PROTO_INDEX(set, proto) (((set) << 8) | (proto))

struct pw_top {
	__u32 rule;		/* best prefix of length <= 16 covering the chunk, or 0 */
	__u32 pad;
	__u64 bits[2];		/* bit i: a prefix of length 17 + i exists here */
	/* bit b: some prefix longer than /16 here covers third byte b (address
	 * bits 16..23); a packet whose third byte is clear needs no probe */
	__u64 b3[4];
};

/* meta: set << 16 | dir << 8 | prefix length */
#define PW_LONG_META(set, dir, len) (((set) << 16) | ((dir) << 8) | (len))

struct pw_v4_key {
	__u32 meta;
	__u32 addr;		/* network byte order, masked to len */
};

struct pw_v6_key {
	__u32 meta;
	__u32 addr[4];
};

/* A rule as stored: the program reads only the action; the rest is what
 * the rule matches, so the pinned state alone says what is configured. */
struct pw_rule {
	__u32 action;		/* XDP_DROP or XDP_PASS */
	__u32 kind;		/* enum pw_rule_kind; PW_RK_NONE: free id */
	__u32 family;		/* address rules: 4 or 6 */
	__u32 len;		/* address rules: prefix length */
	__u32 proto;		/* proto rules: IP protocol; port rules: 0 (tcp and udp), 6, 17 */
	__u32 port_lo, port_hi;	/* port rules, inclusive */
	__u32 addr[4];		/* address rules: network byte order, masked */
};

/*
 * Besides the kind (low 8 bits), pw_rule.kind carries the state of an apply
 * under way, so that a killed apply never leaves a rule half in force:
 * PW_RK_ADDING marks a rule written by the apply that makes generation G
 * (bits 8..29; in force once pw_config.generation has G's low 22 bits);
 * PW_RK_REMOVING one that apply removes (out of force from G on). The apply
 * clears the marks when it ends; recovery after a kill clears them too. The
 * packet path reads only the action.
 */
#define PW_RK_KIND(k)     ((k) & 0xffu)
#define PW_RK_GEN(k)      (((k) >> 8) & 0x3fffffu)
#define PW_RK_GEN_OF(g)   ((__u32)(g) & 0x3fffffu)
#define PW_RK_ADDING      (1u << 31)
#define PW_RK_REMOVING    (1u << 30)
#define PW_RK_MARK(kind, flag, gen) (PW_RK_KIND(kind) | (flag) | (PW_RK_GEN_OF(gen) << 8))

enum pw_rule_kind {
	PW_RK_NONE = 0,
	PW_RK_SRC,
	PW_RK_DST,
	PW_RK_PROTO,
	PW_RK_SPORT,
	PW_RK_DPORT,
	PW_RK_ORDERED,		/* matches in pw_ord_rules */
};

/*
 * Ordered rules (rules 2): a rule with more than one match, a set reference
 * or a port list. They are evaluated in the order written, the first match
 * deciding; the single-match rules above form the prefix table (longest
 * prefix, the precedence of kinds), which sits among the ordered rules at
 * the place of the first single-match rule written (pw_ord_set.table_pos).
 *
 * Lookup by field bitmaps: every address, port and protocol lookup value
 * above is either a single-match rule id or, with PW_NODE set, the index of
 * a pw_node holding that rule id and the bitmap of ordered rules whose
 * match on that field covers the value. A plain rule id stands for
 * pw_ord_set.any[field]: the ordered rules that do not match on the field.
 * The AND of the five fields' bitmaps is the set of ordered rules matching
 * the packet; its lowest bit is the first. Nodes and pw_ord_set are double
 * buffered like the tables: set S owns nodes [S * PW_NODES, (S+1) * PW_NODES).
 */
#define PW_ORD_WORDS      2
#define PW_ORD_MAX        (64 * PW_ORD_WORDS)	/* ordered rules per set */
#define PW_NODES          262144		/* nodes per set */
#define PW_NODE           0x80000000u
#define PW_MAP_ORD        "pw_ord"
#define PW_MAP_NODES      "pw_nodes"
#define PW_MAP_ORD_RULES  "pw_ord_rules"
#define PW_MAP_SETS       "pw_sets"
#define PW_MAP_SET_ELEMS  "pw_set_elems"
#define PW_MAP_NODE_PFX   "pw_node_pfx"
#define PW_MAP_ELEM_HITS  "pw_elem_hits"

enum pw_field { PW_F_SRC = 0, PW_F_DST, PW_F_SPORT, PW_F_DPORT, PW_F_PROTO, PW_F_COUNT };

struct pw_ord_set {
	__u32 n;		/* ordered rules in this set; 0: the prefix table alone */
	__u32 table_pos;	/* the prefix table comes before ordered rule table_pos */
	__u32 ids[PW_ORD_MAX];	/* bit i: rule id */
	__u64 any[PW_F_COUNT][PW_ORD_WORDS];
	/* rules whose source [0] or destination [1] match is a set: their
	 * hits are counted for the set element too (pw_elem_hits) */
	__u64 set_bits[2][PW_ORD_WORDS];
};

struct pw_node {
	__u32 rule;		/* single-match rule for this value, or 0 */
	__u32 pad;
	__u64 bits[PW_ORD_WORDS];
};

/* An ordered rule's matches, kept by rule id (pw_rules holds its action,
 * with kind PW_RK_ORDERED): the pinned state alone says what it is. */
#define PW_SET_NAME_LEN   32
#define PW_PORT_RANGES    16
#define PW_ADDR_SET       255	/* pw_addr_match.family: the named set */

struct pw_addr_match {
	__u32 family;		/* 0: no match; 4 or 6: the prefix; PW_ADDR_SET: @set */
	__u32 len;
	__u32 addr[4];		/* network byte order, masked */
	char set[PW_SET_NAME_LEN];
};

struct pw_port_match {
	__u32 n;		/* ranges; 0: no match on this port */
	struct { __u16 lo, hi; } r[PW_PORT_RANGES];
};

struct pw_ord_rule {
	__u32 action;
	__u32 has_proto;
	__u32 proto;
	/* PW_ORD_F_* (PW_ORD_FLAGS()): zero padding before `ct`. Still named pad:
	 * pins are compared by field name, and a rename would make every host's
	 * pinned pw_ord_rules look like another layout at the upgrade. */
	__u32 pad;
	struct pw_addr_match src, dst;
	struct pw_port_match sport, dport;
};

#define PW_ORD_FLAGS(o)   ((o)->pad)
#define PW_ORD_F_CT       1u	/* `ct established`: only replies to the host's own flows */

/*
 * Replies to the host's own connections (`ct established`, bpf/ct.h). A tc
 * program at each interface's egress records the flows the host opens in
 * pw_ct (shared by all interfaces, LRU): TCP from its SYN, UDP from any
 * datagram, ICMP/ICMPv6 from echo requests. pw_ct_rules[S] marks the
 * ordered rules of buffer S that carry the match (bit i: ordered rule i):
 * when a packet is no reply to a known, unexpired flow, their bits leave
 * the candidate bitmap. The timeouts (seconds) are checked in the packet
 * path, so an expired flow never lets a packet in.
 */
#define PW_MAP_CT         "pw_ct"
#define PW_MAP_CT_RULES   "pw_ct_rules"
#define PW_CT_FLOWS       65536
#define PW_CT_PROG_NAME   "pinwall_ct_out"

enum pw_ct_state {
	PW_CT_SYN_SENT = 1,	/* TCP: our SYN went out */
	PW_CT_ESTABLISHED,	/* TCP: we sent more than a SYN */
	PW_CT_CLOSING,		/* TCP: we sent a FIN or a RST */
	PW_CT_UDP,
	PW_CT_ICMP,		/* an echo request */
};

#define PW_CT_TO_SYN_SENT    120
#define PW_CT_TO_ESTABLISHED 432000	/* 5 days */
#define PW_CT_TO_CLOSING     120
#define PW_CT_TO_UDP         120
#define PW_CT_TO_ICMP        30

struct pw_ct_key {
	__u32 local[4];		/* the host's address (network order; IPv4 in [0]) */
	__u32 remote[4];
	__u16 lport;		/* TCP/UDP: host byte order; ICMP: the echo id (wire order) */
	__u16 rport;		/* ICMP: 0 */
	__u8 family;		/* 4 or 6 */
	__u8 proto;		/* 6, 17, 1 or 58 */
	__u16 pad;
};

struct pw_ct_val {
	__u64 seen;		/* CLOCK_MONOTONIC ns of the last outbound packet */
	__u32 state;		/* enum pw_ct_state */
	__u32 pad;
};

struct pw_ct_set {
	__u64 bits[PW_ORD_WORDS];	/* ordered rules with `ct established` */
};

/*
 * Named sets as configured, per buffer like the tables: pw_sets[S *
 * PW_MAX_SETS + slot] names set slot of buffer S, pw_set_elems holds its
 * prefixes (key meta: S << 16 | slot << 8 | family).
 */
#define PW_MAX_SETS       64
#define PW_MAX_ELEMS      PW_MAX_LONG

struct pw_set_info {
	char name[PW_SET_NAME_LEN];	/* empty: free slot */
	__u32 n;
	__u32 pad;
};

struct pw_elem_key {
	__u32 meta;
	__u32 len;
	__u32 addr[4];
};

/*
 * Hits per set element. An address inside a set element gets a node of its
 * own, and pw_node_pfx names the prefix of that node's table entry. When an
 * ordered rule matching on a set decides, the packet is counted in
 * pw_elem_hits under (rule id, side, entry prefix); user space adds each
 * count to the longest element of the rule's set containing the entry, so
 * overlapping sets are told apart. Counts are kept across applies while
 * the rule and its set's element stay.
 */
struct pw_prefix_key {
	__u32 family;		/* 4 or 6; 0: the node is in no set element */
	__u32 len;
	__u32 addr[4];
};

struct pw_hit_key {
	__u32 rule;		/* the ordered rule that decided */
	__u32 side;		/* enum pw_side: the match by set */
	struct pw_prefix_key pfx;	/* the table entry the address fell in */
};
#define PW_ELEM_META(buf, slot, family) (((buf) << 16) | ((slot) << 8) | (family))

/*
 * Rate limits (`limit RATE [burst N] [per /LEN] MATCH...`): an ordered rule
 * whose action is PW_ACT_LIMIT. A packet within the rate of its source
 * key goes on to the next rule; excess is dropped (PW_DROP_LIMIT, counted
 * in pw_rule_stats under the rule's id; passed-on packets in
 * pw_limit_pass). In pw_rules, a limit rule keeps its parameters in the
 * fields an ordered rule leaves unused (struct pw_rule_limit, the same
 * size and first two words), so the pinned state says what it is.
 *
 * pw_limits, per buffer like pw_ord: entry S * PW_ORD_MAX + bit says
 * whether ordered rule `bit` of set S is a limit, with its cost per packet
 * or byte. pw_limit_state (LRU): per (rule, source key) the theoretical
 * arrival time of the next conforming packet (GCRA): a packet of cost c
 * conforms when max(tat, now) + c <= now + burst_ns, and then moves tat
 * there with one compare-and-swap, so every CPU draws from one bucket.
 */
#define PW_ACT_LIMIT      0x4c494du	/* pw_rule.action of a limit rule */
#define PW_LIM_BYTES      1u		/* rate and burst in bytes, else packets */
#define PW_LIM_BITS       2u		/* pw_rules only: the rate was written in bits */
#define PW_LIM_RATE_MAX   10000000000ULL	/* per second: packets or bytes */
#define PW_LIM_SOURCES    65536		/* source keys tracked (LRU) */
#define PW_LIM_Q          16		/* cost_q: ns per unit << PW_LIM_Q */
#define PW_MAP_LIMITS     "pw_limits"
#define PW_MAP_LIM_STATE  "pw_limit_state"
#define PW_MAP_LIM_PASS   "pw_limit_pass"

struct pw_rule_limit {
	__u32 action;		/* PW_ACT_LIMIT */
	__u32 kind;		/* PW_RK_ORDERED (and the apply's marks) */
	__u32 flags;		/* PW_LIM_BYTES */
	__u32 per;		/* source prefix lengths: IPv4 | IPv6 << 8 */
	__u32 rate[2];		/* per second: low, high word */
	__u32 burst[2];		/* packets or bytes: low, high word */
	__u32 pad[3];
};

struct pw_limit {
	__u32 rule;		/* the limit rule's id; 0: not a limit rule */
	__u32 flags;		/* PW_LIM_BYTES */
	__u64 cost_q;		/* ns per packet or byte, << PW_LIM_Q */
	__u64 burst_ns;		/* how far ahead of now tat may run */
	/* the source prefix of a bucket, as masks (network byte order) */
	__u32 mask4[4];		/* IPv4: [0] only */
	__u32 mask6[4];
};

struct pw_limit_key {
	__u32 rule;
	__u32 family;		/* 4 or 6 */
	__u32 addr[4];		/* source, masked to per4/per6 */
};

struct pw_limit_pass_rec {	/* per CPU, by rule id */
	__u64 packets;
	__u64 bytes;
};

struct pw_config {
	__u32 active;		/* set the packet path reads: 0 or 1 */
	/* per set, enum pw_policy: the verdict for IP traffic no rule decides.
	 * Part of the set, so the switch changes tables and policy at once. */
	__u32 policy[2];
	__u32 generation;	/* bumped by every apply */
	__u32 n_rules;
	__u32 max_id;		/* highest rule id in use: readers stop there */
};

/*
 * What pinwall recorded about a load, kept in a one-entry array map pinned
 * next to the link (bpffs holds only BPF objects, so the record is a map).
 * The map is also bound to the program it describes (bpf_prog_bind_map), so
 * it lives as long as that program: with every pin gone, the running
 * program still leads to its record, and the record to the pin tree.
 */
/*
 * Timed blocks (shared by every interface; pinned by name under the shared
 * dir, like the rule maps). Checked after the malformed check, before the
 * rules: exact IPv4 /32 and IPv6 /128 sources in two hashes (one probe),
 * true prefixes in a small LPM trie keyed by family then address. expires_ns
 * is CLOCK_BOOTTIME (the packet path's clock, bpf_ktime_get_boot_ns());
 * expires is the same instant in seconds since the epoch, for list and
 * save/restore. 0 in both: never expires.
 */
#define PW_BLOCK_EXACT     2097152	/* exact entries per family */
#define PW_BLOCK_PREFIXES  65536	/* prefix entries, both families */
#define PW_MAP_BLOCK4      "pw_block4"
#define PW_MAP_BLOCK6      "pw_block6"
#define PW_MAP_BLOCK_PFX   "pw_block_pfx"

struct pw_block_key6 {
	__u32 addr[4];		/* network byte order */
};

struct pw_block_pfx_key {
	__u32 prefixlen;	/* 32 + prefix length: the family word always matches */
	__u32 family;		/* 4 or 6 */
	__u32 addr[4];		/* network byte order, masked; IPv4 in [0] */
};

struct pw_block_val {
	__u64 expires_ns;	/* CLOCK_BOOTTIME ns; 0: never */
	__u64 expires;		/* seconds since the epoch; 0: never */
	__u64 hits;		/* packets dropped (atomic add) */
	__u32 origin;		/* enum pw_block_origin (pinwall/block.h) */
	__u32 len;		/* prefix length: the trie walk goes on below an expired one */
};

#define PW_META_VERSION  3
#define PW_PATH_LEN      256
#define PW_NAME_LEN      64
#define PW_META_SHARED   16	/* shared maps recorded per interface */
#define PW_MAP_NAME_LEN  32
#define PW_META_MAPS     64	/* maps recorded per interface (version 3) */

enum pw_mode {
	PW_MODE_AUTO = 0,
	PW_MODE_NATIVE,
	PW_MODE_SKB,
};

/* Where a user object's maps are pinned (load --pin-scope). */
enum pw_pin_scope {
	PW_SCOPE_OBJECT = 0,	/* as the object says: LIBBPF_PIN_BY_NAME shared, others per interface */
	PW_SCOPE_GLOBAL,	/* every map shared by name, like tc's PIN_GLOBAL_NS */
	PW_SCOPE_IFACE,		/* every map per interface, also LIBBPF_PIN_BY_NAME ones */
	PW_SCOPE_NONE,		/* nothing pinned, like PIN_NONE: maps live with the program */
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
	/* added in record version 2 (a version-1 record reads as zero here) */
	__u32 pin_scope;	/* enum pw_pin_scope chosen at load, kept on reload */
	__u32 pad;
	/* added in record version 3: every map pinwall pins for this program,
	 * by kernel id, with its full name (the kernel keeps only 15 characters
	 * of a map's name), so repin can rebuild the pins from the kernel alone */
	__u32 n_maps;
	__u32 pad3;
	struct pw_meta_map {
		__u32 id;
		__u32 shared;		/* 1: pinned below shared/; 0: below maps/ */
		char name[PW_NAME_LEN];	/* empty: the name did not fit */
	} maps[PW_META_MAPS];
};

/*
 * Map bindings and the flat tutorial path of an interface (load --map,
 * --flat-path): a one-entry array map pinned as "binds" in the interface
 * directory and bound to the program (bpf_prog_bind_map), like the load
 * record, so repin finds it from the running program. A bound map is the
 * user's pin: pinwall never pins it below its root nor removes it.
 */
#define PW_MAP_BINDS      "pw_binds"
#define PW_BINDS_VERSION  1
#define PW_BINDS_MAX      8
#define PW_BINDS_FLAT     1u	/* flags: <bpffs root>/<ifname> links to maps/ */

struct pw_binds {
	__u32 version;
	__u32 flags;		/* PW_BINDS_* */
	__u32 n;
	__u32 pad;
	struct pw_bind {
		__u32 id;		/* the bound map's kernel id at the last load/reload */
		__u32 pad;
		char name[PW_NAME_LEN];	/* the object's map */
		char path[PW_PATH_LEN];	/* the pin it is bound to */
	} map[PW_BINDS_MAX];
};

/*
 * An operation under way on an interface (load, reload, unload), kept in a
 * one-entry array map pinned as "intent" in the interface directory while
 * it runs; the pins it makes wait below "pending/" until the switch. A
 * killed operation leaves both behind, and the next pinwall command on the
 * interface (or `pinwall recover`) completes or rolls it back.
 */
#define PW_INTENT_VERSION 1

enum pw_op { PW_OP_NONE = 0, PW_OP_LOAD, PW_OP_RELOAD, PW_OP_UNLOAD, PW_OP_APPLY };

enum pw_step {
	PW_STEP_PLANNED = 1,	/* checks passed; nothing outside pending/ changed */
	PW_STEP_STAGED,		/* new program and maps pinned below pending/, first copy done */
	PW_STEP_SWITCHED,	/* the interface runs the new program */
	PW_STEP_MERGED,		/* the old program's late counts are folded in */
};

struct pw_intent {
	__u32 version;
	__u32 op;		/* enum pw_op */
	__u32 step;		/* enum pw_step: the last one completed */
	__u32 pid;
	__u64 started_at;	/* CLOCK_REALTIME, ns */
	/* what the operation replaces: reload, the old program's id; rule
	 * apply, the generation before (named for neither: it holds both) */
	__u32 before;
	__u32 new_prog_id;	/* load/reload: set once staged; apply: the highest rule id touched */
	__u32 foreign_prog_id;	/* load --force: the other tool's program */
	__u32 mode;		/* load: the mode asked for (enum pw_mode) */
	__u32 keep_maps;	/* unload --keep-maps */
	__u32 foreign_mode;	/* load --force: the mode it ran in (enum pw_mode) */
	struct pw_meta next;	/* load/reload: the record once done; unload: the old one */
	/* added later (an older record reads as zero here) */
	__u32 backstop;		/* reload converting a bpf_link: PW_BACKSTOP_* */
	__u32 pad;
};

/* pw_intent.backstop: the conversion's tc backstop (lib/backstop.c) */
#define PW_BACKSTOP_ON    1u	/* the tc filter may be attached: recovery removes it */
#define PW_BACKSTOP_QDISC 2u	/* pinwall created the clsact qdisc: recovery deletes it */

/* Chaining: what is chained, and a change under way (PW_MAP_CHAIN above). */
struct pw_chain_rec {
	__u32 version;
	__u32 prog_id;		/* the program in pw_chain when last written (0: none) */
	__u32 next_prog_id;	/* a change under way: the program it puts there; 0: none */
	__u32 pid;		/* the process making that change */
	char prog[PW_NAME_LEN];		/* of prog_id */
	char object[PW_PATH_LEN];
	char next_prog[PW_NAME_LEN];	/* of next_prog_id */
	char next_object[PW_PATH_LEN];
	/* maps the change under way pinned anew below chain/maps/: a change
	 * that never switched removes them again */
	__u32 n_new;
	__u32 pad;
	char new_maps[16][PW_NAME_LEN];
};

/* Arguments of the merge helper (bpf/merge.bpf.c): for one key, add to
 * (or set) up to PW_MERGE_OPS integer fields of its value. */
#define PW_MERGE_OPS     64
#define PW_MERGE_KEY_MAX 256

struct pw_merge_op {
	__u32 off;
	__u16 size;		/* 4 or 8 (BPF has no smaller atomics) */
	__u16 set;		/* 1: store val; 0: add val */
	__u64 val;
};

struct pw_merge_args {
	__u32 n_ops;
	__u32 pad;
	__u8 key[PW_MERGE_KEY_MAX];
	struct pw_merge_op ops[PW_MERGE_OPS];
};

#endif /* PINWALL_ABI_H */
