/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libpinwall persistence: the desired state of this network namespace as
 * plain files (docs/PERSISTENCE.md), written by save and brought back by
 * restore. A config directory holds:
 *   interfaces   one line per interface: IFACE [mode M] [obj PATH [prog NAME] [scope S]]
 *                [steer CPULIST] [then PATH [thenprog NAME]]
 *   rules        a rule file (docs/RULES.md): policy, sets, rules in order
 *   sets/NAME    the prefixes of a set too large for one line of the rule file
 *   blocks@SAVE  the timed blocks (pinwall block), named by the interfaces
 *                file's 'blocks: NAME' line
 * Counters are not configuration: never saved.
 */
#ifndef PINWALL_PERSIST_H
#define PINWALL_PERSIST_H

#include <net/if.h>
#include "pinwall/pinwall.h"
#include "pinwall/rules.h"
#include "pinwall/block.h"

#define PW_CONFIG_DIR      "/etc/pinwall"
#define PW_CONF_IFACES     "interfaces"
#define PW_CONF_RULES      "rules"
#define PW_CONF_SETS       "sets"	/* directory of set files */

/* One interface as saved. */
struct pw_saved_iface {
	char ifname[IF_NAMESIZE];
	enum pw_mode mode;
	bool builtin;			/* no obj: the built-in program */
	char object[PW_PATH_LEN];
	char prog[PW_NAME_LEN];		/* empty: the object's only XDP program */
	enum pw_pin_scope scope;
	int line;			/* in the interfaces file (0: from save) */
	struct pw_binds binds;		/* load --map, --flat-path */
	struct pw_steer_cpus steer;	/* load --steer (n == 0: off) */
	char then[PW_PATH_LEN];		/* load --then (empty: nothing chained) */
	char then_prog[PW_NAME_LEN];	/* load --prog of --then (empty: the only one) */
};

/* The desired state: interfaces and the rule set with its policy. */
struct pw_saved {
	char dir[PW_PATH_LEN];
	char ifaces_path[PW_PATH_LEN];
	char rules_path[PW_PATH_LEN];
	int n, cap;
	struct pw_saved_iface *ifs;
	struct pw_ruleset rules;
	bool has_blocks;		/* false: a save without blocks file: left alone */
	char blocks_path[PW_PATH_LEN];
	int blocks_line;		/* of 'blocks:' in the interfaces file */
	struct pw_block_list blocks;	/* absolute expiry, origin, prefix */
};

void pw_saved_free(struct pw_saved *s);

/* ---- save (persist_save.c) ---- */
struct pw_save_report {
	int n_ifaces, n_rules, n_sets, n_set_files;
	int policy;
	int n_stale;			/* set files of an earlier save removed */
	int n_blocks;
	char files[4][PW_PATH_LEN];	/* written: interfaces, rules (and sets/ when used) */
	int n_files;
};

/* Read the desired state from what runs: every interface pinwall's program
 * runs on in this network namespace, and the rule set in force. */
int pw_save_collect(struct pw_ctx *ctx, struct pw_saved *s);
/* Write @s below @dir (created if missing), each file atomically (temp
 * file, fsync, rename, fsync of the directory). @writer names the tool in
 * the header comment. */
int pw_save_write(struct pw_ctx *ctx, const char *dir, const struct pw_saved *s,
		  const char *writer, struct pw_save_report *r);

/* ---- the config files (persist_conf.c) ---- */
/* Read and check the config of @dir: both files parse, every interface name
 * is valid and given once, every object file opens with its program. On
 * error: one message naming FILE:LINE, @s empty. */
int pw_config_read(struct pw_ctx *ctx, const char *dir, struct pw_saved *s);
/* The interfaces line of @i (without newline). */
void pw_saved_iface_format(const struct pw_saved_iface *i, char *buf, size_t len);

/* ---- the blocks file (persist_blocks.c) ---- */
#define PW_CONF_BLOCKS      "blocks"	/* file name prefix: blocks@SEC.NSEC.PID */
#define PW_CONF_BLOCKS_MAX  (1 << 20)	/* entries a blocks file may hold */
/* A blocks file name save writes: "blocks@" then digits and dots. */
bool pw_blocks_name_ok(const char *name);
/* Read @path (hostile): "PREFIX EXPIRES ORIGIN" a line, '#' comments. On
 * error one message naming FILE:LINE and @out empty. */
int pw_blocks_file_read(struct pw_ctx *ctx, const char *path, struct pw_block_list *out);
struct pw_restore_report;
/* Re-add the saved entries not yet expired (one bulk call), each with its
 * expiry and origin; nothing is removed. */
int pw_blocks_restore(struct pw_ctx *ctx, const struct pw_saved *s, bool dry_run,
		      struct pw_restore_report *r);

/* ---- restore (persist_restore.c) ---- */
enum pw_restore_fate {
	PW_RS_UNCHANGED,		/* already as saved */
	PW_RS_LOADED,			/* loaded (or, dry run: would be) */
	PW_RS_RELOADED,			/* pinwall's program replaced by the saved object */
	PW_RS_MISSING,			/* no such device (yet): nothing done */
	PW_RS_CONFLICT,			/* differs in a way restore does not force: left alone */
	PW_RS_FAILED,			/* the load or reload failed */
	PW_RS_DRIFT,			/* runs as saved, pins missing or holding other maps:
					 * left alone ('pinwall repin'); counted in n_conflict */
};

struct pw_restore_iface {
	char ifname[IF_NAMESIZE];
	enum pw_restore_fate fate;
	__u32 prog_id;
	enum pw_mode mode;
	struct pw_recovery recovered;	/* an interrupted operation settled first */
	char why[PW_ERR_LEN];		/* conflict, failure or a note */
};

struct pw_restore_report {
	bool dry_run;
	bool rules_changed;		/* false: the rule set in force was the saved one */
	struct pw_change_result rules;	/* the apply (not in a dry run) */
	int n_rules, policy;		/* the saved rule set */
	int n;
	struct pw_restore_iface *ifs;	/* [n], one per saved interface, in file order */
	int n_changed, n_missing, n_conflict, n_failed;
	double waited_ms;		/* spent waiting for missing devices */
	bool blocks_saved;		/* the save has a blocks file */
	int n_blocks, n_blocks_expired;	/* re-added (or would be); dropped as expired */
};

struct pw_restore_opts {
	bool dry_run;			/* plan and report only */
	bool force;			/* past the SSH lock-out guard of the rule apply */
	unsigned int wait_ms;		/* wait up to this long for missing devices */
};

const char *pw_restore_fate_name(enum pw_restore_fate f);
/* Bring this network namespace to @s: the rule set first (so a program
 * attached next filters by it from its first packet), then each interface.
 * A missing device, a conflict or a failed load is reported in @r and the
 * rest goes on; a failure of the rule apply stops before any interface.
 * With wait_ms, devices missing after the first pass are waited for and
 * restored as they appear (the rest filters meanwhile). */
int pw_restore(struct pw_ctx *ctx, const struct pw_saved *s, const struct pw_restore_opts *o,
	       struct pw_restore_report *r);
void pw_restore_report_free(struct pw_restore_report *r);

#endif
