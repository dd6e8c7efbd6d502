/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall: the pin lifecycle (bpffs, layout, lock, map reuse), XDP
 * attachment through pinned links, and stats reading. No argv parsing and
 * no printing to the user here: every function returns 0 or a negative
 * errno and leaves a one-line message (and optional detail lines) in the
 * context for the caller to print.
 */
#ifndef PINWALL_H
#define PINWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pinwall/abi.h"

#define PW_DEFAULT_PIN_ROOT "/sys/fs/bpf/pinwall"
#define PW_BPFFS_MOUNT      "/sys/fs/bpf"
/* Longest pin root: the pins below it take up to 127 more characters. */
#define PW_PIN_ROOT_MAX     128

/* Layout below the pin root (see README "Pin layout"). */
#define PW_DIR_SHARED   "shared"	/* maps pinned by name, shared by every interface */
#define PW_DIR_MAPS     "maps"		/* per interface: the program's own maps */
#define PW_PIN_LINK     "link"		/* per interface: the bpf_link of earlier versions (reload converts it) */
#define PW_PIN_META     "meta"		/* per interface: the load record (struct pw_meta) */
#define PW_PIN_BINDS    "binds"		/* per interface: map bindings, flat path (struct pw_binds) */

#define PW_ERR_LEN    1024
#define PW_DETAIL_LEN 8192

struct pw_ctx {
	char pin_root[PW_PATH_LEN];
	__u64 netns_ino;		/* network namespace the caller runs in */
	bool debug;			/* pass libbpf's debug output through */
	char err[PW_ERR_LEN];		/* the one-line error of the last failure */
	char detail[PW_DETAIL_LEN];	/* further lines: property diffs, verifier log */
};

int pw_ctx_init(struct pw_ctx *ctx, const char *pin_root);

/* Record an error: sets ctx->err, returns -abs(err) (or -EINVAL for 0). */
int pw_fail(struct pw_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pw_detail(struct pw_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Route libbpf's messages: kept for error reports, printed with debug. */
void pw_log_setup(struct pw_ctx *ctx);
/* Copy the tail of the last verifier log libbpf reported into detail. */
void pw_log_verifier_tail(struct pw_ctx *ctx, int max_lines);

/* ---- privileges, bpffs, layout, lock (pins.c) ---- */
int pw_check_caps(struct pw_ctx *ctx);		/* load, reload, unload */
int pw_check_caps_read(struct pw_ctx *ctx);	/* status, stats */
/* Make sure the pin root is on bpffs; mount bpffs at /sys/fs/bpf if that is
 * where it belongs and nothing is mounted; create the root when @create. */
int pw_bpffs_prepare(struct pw_ctx *ctx, bool create);
/* PINROOT/ns<INODE>: the interface directories of one network namespace. */
int pw_ns_dir(const struct pw_ctx *ctx, __u64 netns_ino, char *buf, size_t len);
int pw_iface_dir(const struct pw_ctx *ctx, __u64 netns_ino, const char *ifname,
		 char *buf, size_t len);
int pw_shared_dir(const struct pw_ctx *ctx, char *buf, size_t len);
/* The interface name of a pin directory name ('.' and '%' are escaped). */
void pw_ifname_unescape(const char *in, char *out, size_t len);
/* Exclusive lock on the pin root, held until pw_unlock(). */
int pw_lock(struct pw_ctx *ctx, int *lock_fd);
void pw_unlock(int lock_fd);
/* Does a writer hold the pin root's lock right now? Never waits. */
bool pw_lock_held(const struct pw_ctx *ctx);

/* pinobj.c */
enum pw_obj_kind { PW_OBJ_NONE, PW_OBJ_MAP, PW_OBJ_PROG, PW_OBJ_LINK, PW_OBJ_OTHER };
enum pw_obj_kind pw_fd_kind(int fd);
/* Open a pin that must hold a map; a missing pin gives -ENOENT quietly. */
int pw_open_map_pin(struct pw_ctx *ctx, const char *path, bool rdonly);

/* record.c */
int pw_meta_read(const char *ifdir, struct pw_meta *meta);
/* The record of an operation under way (or interrupted) on an interface. */
int pw_intent_read(const char *ifdir, struct pw_intent *in);

/* ---- XDP attachment (attach.c) ---- */
const char *pw_mode_name(enum pw_mode mode);
int pw_mode_parse(const char *s, enum pw_mode *mode);

struct pw_xdp_state {
	__u32 prog_id;		/* 0: nothing attached */
	enum pw_mode mode;
	bool hw;		/* an offloaded program is attached too */
};
int pw_xdp_state(int ifindex, struct pw_xdp_state *st);

/* ---- load / reload / unload (lifecycle.c) ---- */
struct pw_load_opts {
	const char *ifname;
	const char *obj_path;		/* NULL: the built-in program */
	const char *prog_name;		/* NULL: the object's only/first XDP program */
	enum pw_mode mode;
	bool force;			/* replace a program attached by another tool */
	bool keep_maps;			/* unload: leave the map pins */
	bool migrate;			/* allow migrations that drop fields */
	enum pw_pin_scope scope;	/* load --obj: where the maps are pinned */
	const char *const *fresh;	/* maps to start empty */
	int n_fresh;
	/* --steer: NULL: load turns steering off, reload keeps it; n == 0: off */
	const struct pw_steer_cpus *steer;
	const char *const *binds;	/* NAME=PATH: the object's map NAME is the pin at PATH */
	int n_binds;
	bool flat_path;			/* <bpffs root>/<ifname> links to the maps/ directory */
};

/* What the recovery of an interrupted operation found and did. */
struct pw_recovery {
	bool found;			/* an intent record was there */
	bool completed;			/* finished; false: rolled back */
	__u32 op, step, pid;		/* from the record */
};

struct pw_map_report {
	char name[PW_NAME_LEN];
	char path[PW_PATH_LEN];
	__u32 id;
	bool reused;			/* false: created and pinned by this call */
	char fate[12];			/* created, reused, migrated, fresh */
	char why[400];			/* migrated: what changed */
	bool removed;			/* unload: the pin was removed */
	bool config;			/* unload: kept as configuration (rule maps) */
};

#define PW_MAX_MAPS 64
#define PW_RECOVER_MAX 256	/* operations one pw_recover_all() call reports */

struct pw_load_report {
	char ifdir[PW_PATH_LEN];
	__u32 ifindex;
	__u32 prog_id;
	__u32 old_prog_id;		/* reload: the program replaced */
	struct pw_recovery recovered;	/* an interrupted operation finished first */
	__u32 link_id;
	enum pw_mode mode;
	double elapsed_ms;		/* start of the call to the new program running */
	int n_maps;
	struct pw_map_report maps[PW_MAX_MAPS];
	bool steer_set;			/* the steering below was written by this call */
	struct pw_steer_cpus steer;	/* CPU steering in force (n == 0: off) */
};

const char *pw_op_name(__u32 op);
const char *pw_scope_name(__u32 scope);	/* enum pw_pin_scope */
const char *pw_step_name(__u32 step);

int pw_load(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r);
int pw_reload(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r);
int pw_unload(struct pw_ctx *ctx, const struct pw_load_opts *o, struct pw_load_report *r);
/* ---- CPU steering (steer.c) ---- */
/* "0-1,3" (or "none": n = 0) into @out, each CPU online; one line if not. */
int pw_steer_parse(struct pw_ctx *ctx, const char *text, struct pw_steer_cpus *out);
void pw_steer_str(const struct pw_steer_cpus *c, char *buf, size_t len);
/* The CPU list in force for the interface directory @ifdir (n == 0: off). */
int pw_steer_read(const struct pw_ctx *ctx, const char *ifdir, struct pw_steer_cpus *out);
/* ---- map bindings and the flat path (mapbind.c, flatpath.c) ---- */
/* The bindings recorded for the interface directory @ifdir; -ENOENT: none. */
int pw_binds_read(const struct pw_ctx *ctx, const char *ifdir, struct pw_binds *b);
/* <bpffs root>/<ifname>: where the flat path of @ifname is. */
int pw_flat_path(const struct pw_ctx *ctx, const char *ifname, char *buf, size_t len);
/* ---- chaining a user's XDP program after pinwall's (chain.c) ---- */
struct pw_chain_opts {
	const char *obj_path;		/* "none": take the chained program away */
	const char *prog_name;		/* NULL: the object's only XDP program */
};

struct pw_chain_report {
	__u32 prog_id;			/* chained now (0: none) */
	__u32 old_prog_id;		/* chained before (0: none) */
	const char *recovered;		/* a killed chain change was "finished"/"rolled back" first */
};

/* What is chained on an interface (status). */
struct pw_chain_info {
	__u32 prog_id;			/* 0: nothing chained */
	char name[PW_NAME_LEN];
	char tag[17];
	char object[PW_PATH_LEN];	/* from the chain record ("" if unknown) */
	bool interrupted;		/* a chain change was killed halfway */
	__u64 verdicts[PW_CHAIN_VERDICTS];	/* per XDP action, then any other value */
};

struct pw_chain;
/* Everything that can be refused, before any change: the object, its
 * program, its maps against their pins, the kernel's verifier. */
int pw_chain_prepare(struct pw_ctx *ctx, const char *ifname, const struct pw_chain_opts *o,
		     struct pw_chain **out);
/* Put the prepared program in the interface's chain slot (one atomic
 * update), under the lock; @op (PW_OP_LOAD/RELOAD) names the test steps. */
int pw_chain_switch(struct pw_ctx *ctx, struct pw_chain *c, __u32 op, struct pw_chain_report *r);
void pw_chain_free(struct pw_chain *c);
/* --then and --steer both say where a passed frame goes: refused when
 * @ifname would have both after a command with @steer (NULL: kept, or off
 * for a load) and @then (NULL: kept). */
int pw_chain_steer_check(struct pw_ctx *ctx, const char *ifname, bool load,
			 const struct pw_steer_cpus *steer, const struct pw_chain_opts *then);
/* What interface directory @ifdir has chained; 0 with prog_id 0: nothing. */
int pw_chain_info(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_info *ci);

/* ---- repin (repin.c) ---- */
enum pw_repin_fate {
	PW_REPIN_PRESENT,		/* the pin holds the program's object already */
	PW_REPIN_PINNED,		/* pinned by this call */
	PW_REPIN_CONFLICT,		/* the path holds something else: left alone */
};

struct pw_repin_item {
	char kind[8];			/* "meta", "link", "map" or "shared" */
	char name[PW_NAME_LEN];
	char path[PW_PATH_LEN];
	__u32 id;			/* the program's object */
	__u32 other_id;			/* conflict: the map the pin holds (0: not a map) */
	enum pw_repin_fate fate;
};

struct pw_repin_report {
	char ifname[32];
	char ifdir[PW_PATH_LEN];
	__u32 ifindex;
	__u32 prog_id;
	enum pw_mode mode;
	bool bound;			/* the record came from the program; false: from its pin */
	int n_pinned, n_conflict;
	int n;
	struct pw_repin_item items[PW_MAX_MAPS + 2];
};

/* Rebuild the pin tree of pinwall's program on @ifname from the kernel: the
 * load record the program holds, then its maps by their ids. */
int pw_repin(struct pw_ctx *ctx, const char *ifname, struct pw_repin_report *r);
/* The same for every pinwall program attached in this network namespace;
 * @cb gets each report; *@n counts them (0: none attached). */
int pw_repin_all(struct pw_ctx *ctx, int (*cb)(const struct pw_repin_report *r, void *arg),
		 void *arg, int *n);

/* ---- recovery (recover.c) ---- */
/* Finish or roll back an operation on @ifname that was killed halfway. */
int pw_recover(struct pw_ctx *ctx, const char *ifname, struct pw_recovery *rec);
/* Every interrupted operation: a rule apply (names[i] empty), then each
 * interface of this network namespace with an intent record. */
int pw_recover_all(struct pw_ctx *ctx, struct pw_recovery *recs, char (*names)[32], int max,
		   int *n);

/* ---- status (status.c) ---- */
struct pw_status_map {
	char name[PW_NAME_LEN];
	char path[PW_PATH_LEN];
	__u32 id;			/* 0: pin missing */
	__u32 type;
	__u32 max_entries;
	bool shared;
	bool in_prog;			/* used by the attached program */
};

#define PW_MAX_DRIFT 16

/* What status makes of an interface; from PW_STATE_PINS_CONFLICT on, it is
 * drift (status exits 3). A worse state wins when several apply. */
enum pw_state {
	PW_STATE_OK = 0,		/* pinwall's program runs, every pin in place */
	PW_STATE_NONE,			/* no pins, no program */
	PW_STATE_KEPT,			/* unloaded with --keep-maps: no program, by choice */
	PW_STATE_OTHER,			/* no pinwall pins; another tool's program */
	PW_STATE_PINS_CONFLICT,		/* pinwall's program runs; a pin holds another map */
	PW_STATE_PINS_MISSING,		/* pinwall's program runs; pins partly or wholly gone */
	PW_STATE_PROG_GONE,		/* pins there, no program (or no interface) */
	PW_STATE_FOREIGN,		/* pins there, another tool's program attached */
	PW_STATE_INTERRUPTED,		/* an operation was killed halfway */
};
#define PW_STATE_DRIFT PW_STATE_PINS_CONFLICT	/* this and above: drift */

const char *pw_state_name(enum pw_state state);

struct pw_status {
	char ifname[32];
	char ifdir[PW_PATH_LEN];
	__u64 netns_ino;
	int ifindex;			/* 0: the interface does not exist (here) */
	bool managed;			/* a pinwall pin directory exists */
	bool ours;			/* the attached program is pinwall's */
	bool have_meta;			/* meta holds the record (from the program, or its pin) */
	bool meta_pinned;		/* the record's pin is there */
	__u32 record_id;		/* the record map the program holds (0: none) */
	struct pw_meta meta;
	enum pw_state state;
	struct pw_xdp_state xdp;	/* what the kernel has attached */
	char prog_name[PW_NAME_LEN];
	char prog_tag[17];
	__u32 link_id;			/* 0: no link pin */
	__u32 link_prog_id;
	__u32 link_ifindex;		/* 0: link detached (interface gone) */
	int n_maps;
	struct pw_status_map maps[PW_MAX_MAPS];
	int n_drift;
	char drift[PW_MAX_DRIFT][320];
	int n_notes;			/* worth knowing, not drift */
	char notes[4][320];
	bool have_intent;		/* an operation is under way or was interrupted */
	bool intent_running;		/* its process still holds the lock */
	struct pw_intent intent;
};

/* One interface, or (ifname NULL) every managed or XDP-carrying interface of
 * the current network namespace. Calls @cb for each; stops on non-zero. */
int pw_status_walk(struct pw_ctx *ctx, const char *ifname,
		   int (*cb)(const struct pw_status *st, void *arg), void *arg);

/* ---- stats follower (stats.c) ---- */
/* A class's name ("tcp"); an action's ("drop", or "XDP_DROP" with @xdp). */
const char *pw_class_name(__u32 k);
const char *pw_action_name(__u32 k, bool xdp);
struct pw_counter { __u64 packets, bytes; };

struct pw_stats_map {
	char name[PW_NAME_LEN];
	char path[PW_PATH_LEN];
	int fd;				/* -1: not open (pin missing) */
	__u32 id;
	__u32 n;			/* entries read */
	__u32 layout_id;		/* map id the offsets below were read for */
	__u32 off_packets, off_bytes;	/* of the u64 counters in a value */
	bool optional;			/* generic objects may not have it */
	bool seen;			/* was open at least once */
	bool waiting;			/* pin missing, reported */
	bool have_cur;			/* cur holds a reading of this map */
	bool have_prev;			/* prev too: a rate can be computed */
	int err;			/* the last poll failed: a pin that is not
					 * a map, an unreadable map (-errno); a
					 * missing pin is no error */
	struct pw_counter cur[PW_CLASS_MAX];
	struct pw_counter prev[PW_CLASS_MAX];
};

struct pw_stats_iface {
	char ifname[32];
	char ifdir[PW_PATH_LEN];
	bool present;			/* the interface exists */
	struct pw_stats_map actions;	/* per XDP action */
	struct pw_stats_map classes;	/* per protocol class (built-in program) */
};

enum pw_stats_event_kind {
	PW_EV_REPLACED,		/* id_old -> id_new */
	PW_EV_WAITING,		/* pin missing */
	PW_EV_RESUMED,		/* pin back */
	PW_EV_IFACE_GONE,
	PW_EV_IFACE_BACK,
};

struct pw_stats_event {
	enum pw_stats_event_kind kind;
	char ifname[32];
	char map[PW_NAME_LEN];
	char path[PW_PATH_LEN];
	__u32 id_old, id_new;
};

typedef void (*pw_stats_event_cb)(const struct pw_stats_event *ev, void *arg);

int pw_stats_iface_init(struct pw_ctx *ctx, struct pw_stats_iface *si, const char *ifname);
/* Check pins for replacement (reopen, report through @cb) and read all
 * counters into cur after moving the last reading to prev. */
int pw_stats_iface_poll(struct pw_ctx *ctx, struct pw_stats_iface *si,
			pw_stats_event_cb cb, void *arg);
void pw_stats_iface_close(struct pw_stats_iface *si);

/* ---- captured drops (capture.c) ---- */
#define PW_CAP_RATE_MAX 1000000		/* frames per second */

/* One dropped frame, as the program copied it. */
struct pw_drop {
	__u64 ts_ns;			/* CLOCK_REALTIME, ns */
	__u32 rule;			/* the deciding rule; 0: none */
	__u32 reason;			/* enum pw_drop_reason */
	__u32 len;			/* frame length */
	__u32 cap_len;			/* bytes at data: at most the snap length */
	const __u8 *data;
};

/* Non-zero: no more events (pw_capture_done() tells). */
typedef int (*pw_drop_cb)(const struct pw_drop *d, void *arg);

struct pw_capture_opts {
	__u32 rate;			/* frames per second, 1..PW_CAP_RATE_MAX */
	__u32 rule;			/* 0: every drop; else this rule's only */
	__u32 snaplen;			/* 1..PW_CAP_SNAPLEN */
};

/* Since the capture began: written, over the rate limit, ring full. */
struct pw_capture_counts { __u64 captured, suppressed, lost; };

struct pw_capture;
/* Turn capture on for @ifname (pinwall's program must run there; one
 * capture per interface); events go to @cb from pw_capture_poll(). */
int pw_capture_start(struct pw_ctx *ctx, const char *ifname, const struct pw_capture_opts *o,
		     pw_drop_cb cb, void *arg, struct pw_capture **out);
/* Wait up to @timeout_ms for events; renews the capture's lease when due
 * and fails when the maps were replaced or capture was taken over.
 * Returns the events handled (a signal: 0) or a negative errno. */
int pw_capture_poll(struct pw_ctx *ctx, struct pw_capture *c, int timeout_ms);
bool pw_capture_done(const struct pw_capture *c);
void pw_capture_counts(const struct pw_capture *c, struct pw_capture_counts *n);
/* Turn capture off, then hand what the ring still holds to the callback. */
int pw_capture_stop(struct pw_capture *c);
/* Stop (if still on) and release everything. */
void pw_capture_free(struct pw_capture *c);
const char *pw_drop_reason_name(__u32 reason);

/* What a captured frame holds, as far as its bytes go (framesum.c). */
struct pw_frame_sum {
	int family;			/* 4, 6; 0: not IP (or cut before it) */
	__u16 ethertype;		/* after the VLAN tags */
	__u16 vlan;			/* the outer VLAN id; 0: none */
	__u8 proto;			/* IP protocol (IPv6: after extension headers) */
	bool frag_later;		/* a later fragment: no L4 header */
	bool has_ports, has_icmp;
	bool truncated;			/* the snap length cut a header */
	__u16 sport, dport;
	__u8 icmp_type, icmp_code;
	char src[46], dst[46];		/* empty: not read */
};
void pw_frame_summary(const __u8 *data, __u32 len, struct pw_frame_sum *s);
/* ---- metrics collection (collect.c) ---- */
/* What a scrape failed to read; each counted in pw_collect.errors. */
enum pw_collect_what {
	PW_CW_INTERFACES,	/* the interface directories below the pin root */
	PW_CW_COUNTERS,		/* an interface's counter map */
	PW_CW_PROGRAM,		/* an interface's load record or attached program */
	PW_CW_RULES,		/* the rule maps or their counters */
	PW_CW_MAX,
};
const char *pw_collect_what_name(enum pw_collect_what w);

struct pw_collect_iface {
	struct pw_stats_iface st;	/* followed as stats follows it */
	__u32 prog_id;			/* pinwall's program attached (0: none) */
	enum pw_mode mode;
	bool seen;			/* its pin directory was there this scrape */
};

struct pw_rule_hits {
	__u32 id;
	struct pw_counter c;
	char *text;			/* the rule as 'rule list' prints it */
};

/* A long-lived collector: each pw_collect() reads everything again (the
 * interface directories, the counter maps by pin path, the rule counters),
 * so it follows loads, unloads, reloads and replaced maps; the rules
 * themselves only when another rule set is in force (its generation). */
struct pw_collect_rules;
struct pw_collect {
	int n_ifs, cap_ifs;
	struct pw_collect_iface *ifs;	/* sorted by name */
	bool have_rules;		/* the rule maps are pinned and read */
	int policy;			/* enum pw_policy */
	__u32 rules_map_id, rule_stats_map_id;
	int n_rules;			/* rules in force */
	int n_top;			/* of them in top[], most hits first */
	struct pw_rule_hits *top;
	double seconds;			/* how long the last pw_collect() took */
	int failed;			/* reads the last pw_collect() failed */
	__u64 errors[PW_CW_MAX];	/* failed reads, since the start */
	char last_err[PW_ERR_LEN];	/* the last failure's message */
	struct pw_collect_rules *rules;	/* the rule set last read, kept while
					 * its generation is in force */
};

/* Read everything once; @max_rules caps top[] (by hits, then id). Failed
 * reads are counted and leave their part out; the rest is still read. */
int pw_collect(struct pw_ctx *ctx, struct pw_collect *c, unsigned int max_rules);
void pw_collect_free(struct pw_collect *c);

/* ---- stale pins (clean.c) ---- */
struct pw_clean_item {
	char path[PW_PATH_LEN];
	char ifname[32];
	__u64 netns_ino;
	bool stale;		/* namespace or interface gone, or link detached */
	bool removed;
	char why[128];
};

/* Walk every interface directory below the pin root; with @remove, delete
 * the stale ones (under the lock). Never touches anything live or kept. */
int pw_clean(struct pw_ctx *ctx, bool remove,
	     int (*cb)(const struct pw_clean_item *it, void *arg), void *arg);

#endif /* PINWALL_H */
