/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Library-internal helpers shared between lib/ files; not part of the API. */
#ifndef PINWALL_INTERNAL_H
#define PINWALL_INTERNAL_H

#include <bpf/libbpf.h>
#include "pinwall/pinwall.h"

/* ---- map layouts and migration (migrate.c) ---- */
#define PW_MAX_LEAVES 256

enum pw_leaf_kind { PW_LEAF_INT, PW_LEAF_FLOAT, PW_LEAF_PTR, PW_LEAF_BYTES };

/* One scalar of a key or value, named by its member path. */
struct pw_leaf {
	char name[96];
	__u32 off, size;
	__u8 kind;		/* enum pw_leaf_kind */
	bool sign;
};

struct pw_layout {
	bool btf;		/* false: no BTF, nothing known beyond sizes */
	__u32 size;
	int n;
	struct pw_leaf leaf[PW_MAX_LEAVES];
};

struct btf;
int pw_layout_from_btf(const struct btf *btf, __u32 type_id, struct pw_layout *l);
bool pw_layout_same(const struct pw_layout *a, const struct pw_layout *b);
const struct pw_leaf *pw_layout_find(const struct pw_layout *l, const char *name);
void pw_layout_str(const struct pw_layout *l, char *buf, size_t len);

struct pw_copy {
	__u32 old_off, old_size, new_off, new_size;
	__u8 kind;
	bool sign;
};

/* How the entries of a pinned map go into the new program's map. */
struct pw_migration {
	__u32 type, key_size, old_vsize, new_vsize, old_max, new_max, old_flags;
	int n_copy, n_added, n_dropped;
	struct pw_copy copy[PW_MAX_LEAVES];
	char dropped[256];	/* names of fields the new layout drops */
	char why[400];		/* what changed, for the report */
};

enum pw_map_decision { PW_MAP_REUSE, PW_MAP_MIGRATE, PW_MAP_REFUSE };

/* What the decision compares: properties and BTF layouts of key and value. */
struct pw_map_desc {
	__u32 type, key_size, value_size, max_entries, flags;
	struct pw_layout key, value;
};

int pw_map_desc_from_info(const struct bpf_map_info *info, struct pw_map_desc *d);
int pw_map_desc_from_map(const struct bpf_map *map, const struct btf *btf,
			 struct pw_map_desc *d);
/* Compare a pinned map with its successor: reuse as it is, migrate (*out
 * set), or refuse (one detail line per differing property). */
int pw_map_decide(struct pw_ctx *ctx, const char *name, const char *path,
		  const struct pw_map_desc *pin, const struct pw_map_desc *nw,
		  struct pw_migration **out);
/* A migration that carries every field onto itself (same value layout). */
struct pw_migration *pw_migration_identity(const struct pw_map_desc *pin,
					   const struct pw_map_desc *nw);
int pw_migration_overflow(const struct pw_migration *mg, int old_fd, __u32 *live);
int pw_migration_snapshot_create(const struct pw_migration *mg);
int pw_migration_check_merge(const struct pw_migration *mg, int new_fd);
int pw_migration_copy(const struct pw_migration *mg, int old_fd, int snap_fd, int new_fd);
int pw_migration_merge(const struct pw_migration *mg, int old_fd, int snap_fd, int new_fd);

/* What happens to each map of an object being loaded. */
enum pw_map_fate {
	PW_FATE_CREATE,		/* no pin: created, pinned */
	PW_FATE_REUSE,		/* pin reused as it is */
	PW_FATE_MIGRATE,	/* new map, entries copied, pin replaced */
	PW_FATE_FRESH,		/* new empty map, pin replaced (--fresh) */
};

struct pw_plan_map {
	struct bpf_map *map;
	char path[PW_PATH_LEN];
	char side[PW_PATH_LEN];	/* pending pin of a replacing map */
	char side_new[PW_PATH_LEN];	/* pending pin of a map with no pin yet */
	char snap[PW_PATH_LEN];	/* pending pin of the migration snapshot */
	enum pw_map_fate fate;
	int pinned_fd;		/* the pin's map (reused or replaced), or -1 */
	int snap_fd;		/* migration snapshot, or -1 */
	struct pw_migration *mig;
	bool shared;		/* pinned by name below shared/ */
	bool unpinned;		/* --pin-scope none: never pinned */
	bool pinned_now;	/* created and pinned by this call */
	bool bound;		/* load --map: the user's pin at path, used as it is */
};

struct pw_plan {
	int n;
	struct pw_plan_map m[PW_MAX_MAPS];
};

#define PW_DIR_PENDING "pending"	/* per interface: pins of an operation under way */
#define PW_DIR_SNAP    "snap"		/* pending/snap: migration snapshots */
#define PW_DIR_MAPS_NEW   "maps_new"	/* pending/: new maps, renamed only to a free path */
#define PW_DIR_SHARED_NEW "shared_new"
#define PW_PIN_PROG    "prog"		/* pending/prog: the program being switched to */
#define PW_PIN_FOREIGN "foreign"	/* pending/foreign: load --force: the program replaced */
#define PW_PIN_INTENT  "intent"		/* per interface: the operation under way */
#define PW_PIN_RULES_INTENT "rules_intent"	/* pin root: a rule apply under way */

struct pw_plan_opts {
	bool migrate;			/* allow migrations that drop fields */
	const char *const *fresh;	/* maps to start empty */
	int n_fresh;
	const char *ifdir;		/* the interface (shared-map users are others) */
	enum pw_pin_scope scope;
	struct pw_binds *binds;		/* load --map: maps bound to others' pins */
};

/* ---- the pin root: privileges, bpffs, layout, lock (pins.c) ---- */
int pw_join(char *buf, size_t len, const char *a, const char *b);
int pw_mkdirs(struct pw_ctx *ctx, const char *path);
bool pw_path_exists(const char *path);
void pw_remove_empty_dirs(const struct pw_ctx *ctx, const char *ifdir);

/* ---- the plan: where each map is pinned, and its fate (plan.c) ---- */
/* Decide reuse or creation for every map of @obj (before load); any
 * incompatible pin fails the whole plan with one detail line per property. */
int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 const struct pw_plan_opts *po, struct pw_plan *plan);
bool pw_shared_in_use(const struct pw_ctx *ctx, const char *skip_dir, const char *name,
		      char *user, size_t len);
bool pw_meta_names_shared(const struct pw_meta *m, const char *name);

/* Removed rule ids: their limit counters and buckets go (limit_state.c). */
struct pw_rules_maps;
int pw_limit_forget(const struct pw_rules_maps *m, const __u32 *ids, int n);
void pw_plan_free(struct pw_plan *plan);
void pw_plan_report(const struct pw_plan *plan, struct pw_load_report *r);

/* ---- pinning what the plan decided (stage.c) ---- */
/* Pin every map the new program brings below pending/ and run the first
 * copy of each migration (with snapshots when @old_runs). */
int pw_plan_stage(struct pw_ctx *ctx, struct pw_plan *plan, bool old_runs);
/* Rule commands, before any load: pin the shared maps just created, in
 * place (nothing runs on them yet); undone on failure. */
int pw_plan_pin_shared(struct pw_ctx *ctx, struct pw_plan *plan);

/* ---- the load and intent records, bound and pinned (record.c) ---- */
#define PW_PIN_META_STAGED PW_DIR_PENDING "/" PW_PIN_META	/* bound, not yet written */
#define PW_PROG_MAPS 256	/* map ids read per program */
/* The ids of the maps program @prog_id uses (bound ones included). */
int pw_prog_map_ids(__u32 prog_id, __u32 *ids, __u32 max, __u32 *n);
/* Bind the interface's record map to the new program before it runs: the
 * pinned one when it has this layout, else a new one staged at
 * PW_PIN_META_STAGED that pw_meta_write() renames over the pin. */
int pw_meta_bind(struct pw_ctx *ctx, const char *ifdir, int prog_fd);
/* The record program @prog_id holds, when it is pinwall's record of that
 * very program on @ifindex in this network namespace; -ENOENT if none. */
int pw_meta_of_prog(const struct pw_ctx *ctx, __u32 prog_id, int ifindex,
		    struct pw_meta *meta, __u32 *map_id);
int pw_meta_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta);
/* Why the last record read failed with @err: the pin's mismatch ("pin 'P'
 * has value size X, pinwall expects Y") or strerror. */
const char *pw_record_problem(int err);
int pw_intent_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_intent *in);
int pw_rules_intent_read(const struct pw_ctx *ctx, struct pw_intent *in);
int pw_rules_intent_write(struct pw_ctx *ctx, const struct pw_intent *in);

/* ---- untrusted pins (pinobj.c) ---- */
#define PW_PIN_RDONLY	1u	/* open read-only */
#define PW_PIN_OLDER	2u	/* a record: an older, shorter value is fine */

int pw_map_info(int fd, struct bpf_map_info *info);
int pw_prog_info(int fd, struct bpf_prog_info *info);
int pw_link_info(int fd, struct bpf_link_info *info);
/* What pinwall expects of its own map @name (@record: the load and intent
 * records), from the built-in objects; NULL if it has none. */
const struct pw_map_desc *pw_pin_expected(const char *name, bool record);
/* 0 if the map behind @fd matches @want, else -EPROTO with @why saying how,
 * naming both values ("has value size 4096, pinwall expects 24"). */
int pw_pin_check(int fd, const struct pw_map_desc *want, unsigned int flags, char *why,
		 size_t len);
/* pw_open_map_pin, then pw_pin_check: a mismatch is one error naming both. */
int pw_open_pin_checked(struct pw_ctx *ctx, const char *path, const struct pw_map_desc *want,
			unsigned int flags);
/* The same for pinwall's own map @name (the built-in program's). */
int pw_open_own_pin(struct pw_ctx *ctx, const char *path, const char *name, unsigned int flags);

/* ---- below the pin root, never through a link (pinwalk.c) ---- */
/* Length of the pin root prefix of @path (of its directory if not below). */
size_t pw_root_len(const struct pw_ctx *ctx, const char *path);
/* Of ROOT/ns<INODE>/IFNAME, for callers that only have the interface dir. */
size_t pw_ifdir_root_len(const char *ifdir);
/* -ELOOP (and the link in @link) if a component of @path after its first
 * @root_len characters is a symbolic link; -errno if one is missing. */
int pw_below_check(const char *path, size_t root_len, char *link, size_t len);
/* pw_below_check below the pin root, as one error naming the link. */
int pw_nofollow(struct pw_ctx *ctx, const char *path);
/* Directory fd of @path, each component below the root opened O_NOFOLLOW. */
int pw_opendir_below(const char *path, size_t root_len);
/* Remove @name in @dirfd and, if a real directory, all below it. */
int pw_rm_tree_at(int dirfd, const char *name);
/* Is @name in @dirfd a symbolic link? Its target (cut to fit) in @target. */
bool pw_symlink_at(int dirfd, const char *name, char *target, size_t len);
/* Remove the entries of directory @name in @dirfd, then the directory. */
void pw_rm_pins_at(int dirfd, const char *name);
int pw_unlink_below(const char *path, size_t root_len);
int pw_rmdir_below(const char *path, size_t root_len);
/* bpf_obj_get of a pin, refused (-ELOOP) if reached through a link. */
int pw_obj_get_below(const char *path, size_t root_len, __u32 file_flags);

int pw_ifindex(struct pw_ctx *ctx, const char *ifname);

/* load: refuse when the pin root's bpffs is private to this mount namespace. */
int pw_pins_outlive(struct pw_ctx *ctx);

/* Attach through netlink where nothing is attached (auto: native, else skb). */
int pw_attach(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
	      enum pw_mode mode, enum pw_mode *used);
/* Atomic replace (@new_fd -1: detach) only if @old_fd runs there. */
int pw_xdp_replace(struct pw_ctx *ctx, int ifindex, const char *ifname, enum pw_mode mode,
		   int old_fd, __u32 old_id, int new_fd);
/* load --force: @new_fd over another tool's program; *@window: not atomic. */
int pw_attach_over(struct pw_ctx *ctx, int ifindex, const char *ifname, enum pw_mode mode,
		   const struct pw_xdp_state *st, int old_fd, int new_fd, enum pw_mode *used,
		   bool *window);
int pw_find_xdp_link(int ifindex, __u32 prog_id);
/* The bpf_link an earlier version pinned in @ifdir (reload converts it). */
struct pw_link_pin {
	int fd;				/* -1: no pin */
	struct bpf_link_info info;
	char path[PW_PATH_LEN];
};
int pw_link_pin_open(struct pw_ctx *ctx, const char *ifdir, struct pw_link_pin *lp);
void pw_link_pin_close(struct pw_link_pin *lp);
/* The tc backstop of a conversion (backstop.c): prepare before the switch
 * (a failure leaves nothing), attach before the link's detach, remove after
 * the netlink attach; *_recover after a kill, from the intent's flags. */
struct pw_obj;
struct pinwall;
struct pw_backstop {
	struct pinwall *skel;		/* a second open: only its tc program loaded */
	int bss_fd;			/* the staged XDP program's mark word */
	int ifindex;
	__u32 flags;			/* PW_BACKSTOP_*, as the intent records them */
};
int pw_backstop_prepare(struct pw_ctx *ctx, struct pw_backstop *b, const struct pw_obj *staged,
			int ifindex, const char *ifname);
int pw_backstop_attach(struct pw_ctx *ctx, struct pw_backstop *b, const char *ifname);
int pw_backstop_remove(struct pw_ctx *ctx, struct pw_backstop *b);
void pw_backstop_close(struct pw_backstop *b);
int pw_backstop_recover(struct pw_ctx *ctx, int ifindex, __u32 flags, __u32 prog_id);

/* An earlier version's bpf_link attachment -> netlink (see attach.c). */
int pw_link_swap(struct pw_ctx *ctx, int link_fd, const char *ifname, int old_fd, int new_fd);
int pw_link_detach(struct pw_ctx *ctx, int link_fd, const char *ifname);
/* unload: detach pinwall's program @st only if it still runs there. */
int pw_detach_ours(struct pw_ctx *ctx, int ifindex, const char *ifname,
		   const struct pw_xdp_state *st);
/* Attach another tool's program again after pinwall detached it. */
void pw_put_back(struct pw_ctx *ctx, int ifindex, const char *ifname, int prog_fd, __u32 prog_id,
		 enum pw_mode mode);
int pw_detach_any(struct pw_ctx *ctx, int ifindex, const char *ifname,
		  const struct pw_xdp_state *st);
#ifdef PW_TEST_HOOKS
int pw_attach_legacy_link(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
			  enum pw_mode mode, const char *pin, enum pw_mode *used);
#endif

/* ---- rule sets (ruleset.c, rule_text.c) ---- */
struct pw_ruleset;
/* Hash of a rule's match, for duplicate detection in large sets. */
__u64 pw_rule_match_hash(const struct pw_rule *r);
__u64 pw_ruleset_match_hash(const struct pw_ruleset *rs, int i);
/* Clear the host bits of @a beyond @len (network byte order). */
void pw_mask_addr(__u32 *a, int family, __u32 len);

/* ---- the rule maps (rules.c), shared with the apply (rule_apply.c) ---- */
struct pw_rules_maps;
struct pw_config;
/* Is a stored rule in force? Marks of an apply under way decide by the
 * generation in force (abi.h: PW_RK_ADDING). */
bool pw_rule_in_force(__u32 kind, const struct pw_config *cfg);
/* The stored rule entries of ids below *@count, in one batch. */
int pw_rules_read_entries(struct pw_ctx *ctx, const struct pw_rules_maps *m, __u32 *count,
			  __u32 **keys, struct pw_rule **vals);
/* Every key of the hash map @fd, in batches of up to 65536 (@vsize: its
 * value size): @fn gets each batch of keys and values, and a non-zero
 * return stops the walk. */
typedef int (*pw_walk_fn)(void *arg, const void *keys, const void *vals, __u32 n);
int pw_hash_walk(int fd, size_t ksize, size_t vsize, pw_walk_fn fn, void *arg);
/* pw_config could not be read: say why, naming the pin. */
int pw_rules_config_fail(struct pw_ctx *ctx, const struct pw_rules_maps *m, int err);

/* ---- compiled rule tables of one buffer (rule_tables.c) ---- */
struct pw_tables {
	__u32 set;			/* the buffer: 0 or 1 */
	struct pw_top *top4, *top6;	/* [2 dirs][65536] */
	__u32 *ports;			/* [2 dirs][2 protos][65536] */
	__u32 protos[256];
	int n4, n6, cap4, cap6;
	struct pw_v4_key *k4;
	struct pw_v6_key *k6;
	__u32 *v4, *v6;
	struct pw_node *nodes;		/* this buffer's, from index 0 */
	struct pw_prefix_key *node_pfx;	/* [node]: the set element it names */
	int n_nodes;
	__u32 *node_hash;
	bool full;			/* more than PW_NODES distinct nodes */
	int *ord_idx;			/* while building: rule index -> ordered bit, or -1 */
	struct pw_ord_set ord;
	struct pw_ct_set ct;		/* ordered rules with `ct established` */
};
/* -ENOMEM, or -E2BIG when the nodes do not fit. */
int pw_tables_build(const struct pw_ruleset *rs, __u32 set, struct pw_tables *t);
void pw_tables_free(struct pw_tables *t);

/* ---- `ct established`: the egress flow recorder (ct.c) ---- */
/* The recorder on the pw_ct map of XDP program @xdp_prog_id, attached when
 * missing; removed when that program has no such map. Safe to repeat. */
int pw_ct_egress_ensure(struct pw_ctx *ctx, int ifindex, const char *ifname, __u32 xdp_prog_id);
/* pinwall's recorder out of its tc egress slot (anything else stays). */
int pw_ct_egress_remove(struct pw_ctx *ctx, int ifindex, const char *ifname);
bool pw_ct_egress_running(int ifindex, __u32 xdp_prog_id);
/* The program has the match (a pw_ct map): it needs the recorder. */
bool pw_ct_egress_wanted(__u32 xdp_prog_id);
int pw_ct_egress_check(struct pw_ctx *ctx, int ifindex, const char *ifname,
		       const struct bpf_object *obj);
struct pw_rules_maps;
struct pw_ruleset;
int pw_ct_supported(struct pw_ctx *ctx, const struct pw_rules_maps *m, const struct pw_ruleset *rs);

/* ---- crash safety (intent.c) ---- */
#ifdef PW_TEST_HOOKS
/* Test builds: PINWALL_TEST_KILL_AT=OP:STEP is a SIGKILL at that step. */
void pw_step(__u32 op, const char *step);
#else
static inline void pw_step(__u32 op, const char *step)
{
	(void)op;
	(void)step;
}
#endif
void pw_intent_init(struct pw_intent *in, __u32 op);
int pw_intent_step(struct pw_ctx *ctx, const char *ifdir, struct pw_intent *in, __u32 step);
void pw_intent_clear(const char *ifdir);
/* Returns once every BPF program run that started before has ended. */
int pw_wait_for_programs(void);
int pw_intent_finish(struct pw_ctx *ctx, const char *ifdir, struct pw_intent *in);
/* A map staged as new whose pin path was taken since: its path in @what. */
bool pw_staged_conflict(const struct pw_ctx *ctx, const char *ifdir, char *what, size_t len);

/* ---- chaining (chain.c, chain_rec.c, chain_count.c) ---- */
#define PW_DIR_CHAIN      "chain"	/* per interface: the chained program's pins */
#define PW_PIN_CHAIN_REC  "record"	/* chain/record: struct pw_chain_rec */
/* IFDIR/chain/NAME (@name NULL: the directory). */
void pw_chain_path(char *buf, size_t len, const char *ifdir, const char *name);
int pw_chain_open_pin(struct pw_ctx *ctx, const char *path, __u32 type, __u32 vsize, __u32 max);
int pw_chain_rec_read(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_rec *rec);
int pw_chain_rec_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_chain_rec *rec);
__u32 pw_chain_slot_id(int array_fd);
int pw_chain_array(struct pw_ctx *ctx, const char *ifdir);
void pw_chain_unpin(const struct pw_ctx *ctx, const char *ifdir);
int pw_chain_settle(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_rec *rec,
		    bool switched);
int pw_chain_recover(struct pw_ctx *ctx, const char *ifdir, const char **what);
/* Count @prog's verdicts in @stats_fd: call before the object is loaded. */
int pw_chain_count_insns(struct pw_ctx *ctx, struct bpf_program *prog, int stats_fd);

/* ---- recovery of a killed operation (recover.c) ---- */
/* With the lock held: finish or roll back what an intent record describes. */
int pw_recover_locked(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		      struct pw_recovery *rec, bool undo_load);

/* ---- the object a load brings (object.c) ---- */
void pw_obj_map_names(struct bpf_object *obj, char *buf, size_t len);
struct pinwall;
struct pw_obj {
	struct pinwall *skel;		/* the built-in program, or NULL */
	struct bpf_object *obj;
	struct bpf_program *prog;
	char object[PW_PATH_LEN];	/* absolute path; empty for built-in */
};
/* The built-in program (@path NULL) or the file's, with its XDP program
 * @prog (NULL: the only one) picked. */
int pw_obj_open(struct pw_ctx *ctx, const char *path, const char *prog, struct pw_obj *o);
int pw_obj_load(struct pw_ctx *ctx, struct pw_obj *o);
void pw_obj_close(struct pw_obj *o);

/* ---- the unload steps (unload.c) ---- */
int pw_unload_core(struct pw_ctx *ctx, const char *ifname, const char *ifdir,
		   struct pw_intent *in, struct pw_load_report *r);

/* ---- load --map (mapbind.c) ---- */
struct pw_bind *pw_bind_find(struct pw_binds *b, const char *name);
/* The command's NAME=PATH specs applied to @b (the recorded bindings on
 * reload, where an empty PATH drops one). */
int pw_binds_resolve(struct pw_ctx *ctx, const char *const *specs, int n, bool reload,
		     struct pw_binds *b);
/* The pin a binding names, checked (bpffs, no link, a map): its fd. */
int pw_bind_open(struct pw_ctx *ctx, const struct pw_bind *bd);
int pw_binds_check_names(struct pw_ctx *ctx, struct bpf_object *obj, const struct pw_binds *b,
			 bool reload);
int pw_binds_recorded(struct pw_ctx *ctx, const char *ifdir, struct pw_binds *b);
/* After the switch: ids, the record (bound to @prog_fd), old maps/ pins. */
int pw_binds_commit(struct pw_ctx *ctx, const char *ifdir, struct bpf_object *obj, int prog_fd,
		    struct pw_binds *b);
void pw_binds_unpin(const struct pw_ctx *ctx, const char *ifdir);
/* repin: the record the program holds (@ids: its maps), its bound maps at
 * their free paths, the flat path. */
int pw_binds_repin(struct pw_ctx *ctx, struct pw_repin_report *r, const __u32 *ids, __u32 n);

/* ---- load --flat-path (flatpath.c) ---- */
int pw_flat_check(struct pw_ctx *ctx, const char *ifname, const char *ifdir);
int pw_flat_make(struct pw_ctx *ctx, const char *ifname, const char *ifdir);
void pw_flat_remove(struct pw_ctx *ctx, const char *ifname, const char *ifdir);

/* persist_conf.c: one interface appended to a saved state (grown as needed). */
struct pw_saved;
struct pw_saved_iface;
int pw_saved_push(struct pw_ctx *ctx, struct pw_saved *s, const struct pw_saved_iface *i);

/* ---- CPU steering (steer.c) ---- */
int pw_steer_check_obj(struct pw_ctx *ctx, struct bpf_object *obj);
int pw_steer_apply(struct pw_ctx *ctx, struct bpf_object *obj, const struct pw_steer_cpus *want);
/* rules.c: the built-in object's missing shared maps created and pinned */
int pw_shared_maps_create(struct pw_ctx *ctx, const char *what);

#endif
