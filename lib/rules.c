// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pinned rule maps: finding and opening them (never maps no program
 * uses while one runs on others), and reading the rule set in force from
 * them (rules, order, sets, counters).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall/rules.h"
#include "pinwall.skel.h"


/* ---- the pinned rule maps ---- */

static const char *const map_names[PW_RM_COUNT] = {
	[PW_RM_RULES] = PW_MAP_RULES, [PW_RM_STATS] = PW_MAP_RULE_STATS,
	[PW_RM_CONFIG] = PW_MAP_CONFIG, [PW_RM_V4_TOP] = PW_MAP_V4_TOP,
	[PW_RM_V6_TOP] = PW_MAP_V6_TOP, [PW_RM_V4_LONG] = PW_MAP_V4_LONG,
	[PW_RM_V6_LONG] = PW_MAP_V6_LONG, [PW_RM_PORTS] = PW_MAP_PORTS,
	[PW_RM_PROTOS] = PW_MAP_PROTOS, [PW_RM_ORD] = PW_MAP_ORD, [PW_RM_NODES] = PW_MAP_NODES,
	[PW_RM_ORD_RULES] = PW_MAP_ORD_RULES, [PW_RM_SETS] = PW_MAP_SETS,
	[PW_RM_SET_ELEMS] = PW_MAP_SET_ELEMS, [PW_RM_NODE_PFX] = PW_MAP_NODE_PFX,
	[PW_RM_ELEM_HITS] = PW_MAP_ELEM_HITS, [PW_RM_LIMITS] = PW_MAP_LIMITS,
	[PW_RM_LIM_STATE] = PW_MAP_LIM_STATE, [PW_RM_LIM_PASS] = PW_MAP_LIM_PASS,
	[PW_RM_CT_RULES] = PW_MAP_CT_RULES,
};

void pw_rules_close(struct pw_rules_maps *m)
{
	for (int i = 0; i < PW_RM_COUNT; i++)
		if (m->fd[i] > 0)
			close(m->fd[i]);
	memset(m, 0, sizeof(*m));
}

/*
 * Create the built-in object's shared maps still missing (no program is
 * loaded) and pin them by name: the rule maps, the block maps. @what names
 * them in the error.
 */
int pw_shared_maps_create(struct pw_ctx *ctx, const char *what)
{
	struct pinwall *skel = pinwall__open();
	struct pw_plan plan;
	int err;

	if (!skel)
		return pw_fail(ctx, errno, "cannot open the built-in object: %s", strerror(errno));
	bpf_program__set_autoload(skel->progs.pinwall_xdp, false);
	err = pw_plan_maps(ctx, skel->obj, ctx->pin_root, NULL, &plan);
	if (!err) {
		err = bpf_object__load(skel->obj);
		if (err)
			err = pw_fail(ctx, err, "cannot create the %s: %s", what, strerror(-err));
		else
			err = pw_plan_pin_shared(ctx, &plan);
		pw_plan_free(&plan);
	}
	pinwall__destroy(skel);
	return err;
}

/* The rule maps a running program uses, found through its own map IDs. */
struct rule_user {
	char ifname[IF_NAMESIZE];
	__u32 prog_id;
	__u32 id[PW_RM_COUNT];		/* 0: the program has no such map */
};

static void prog_rule_maps(__u32 prog_id, struct rule_user *u)
{
	__u32 ids[64], len;
	struct bpf_prog_info pi;
	int pfd = bpf_prog_get_fd_by_id(prog_id);

	memset(u->id, 0, sizeof(u->id));
	if (pfd < 0)
		return;
	memset(&pi, 0, sizeof(pi));
	len = sizeof(pi);
	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len))
		pi.nr_map_ids = 0;
	close(pfd);
	for (__u32 i = 0; i < pi.nr_map_ids && i < 64; i++) {
		struct bpf_map_info mi;
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!pw_map_info(mfd, &mi))
			for (int k = 0; k < PW_RM_COUNT; k++)
				if (!strcmp(mi.name, map_names[k]))
					u->id[k] = mi.id;
		close(mfd);
	}
}

/*
 * Rule commands act on the pinned rule maps; the running programs act on
 * the maps they were loaded with. When the two differ (pins moved, a fresh
 * bpffs), a rule change would go where no packet looks: refuse, naming the
 * program. @m: the opened pins, or NULL when there are none.
 */
static int rules_in_use_check(struct pw_ctx *ctx, struct pw_rules_maps *m,
			      const char *shared)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct rule_user u;
	int err = 0;

	for (i = ifs; !err && i && i->if_index; i++) {
		struct pw_xdp_state st;

		if (pw_xdp_state((int)i->if_index, &st) || !st.prog_id)
			continue;
		prog_rule_maps(st.prog_id, &u);
		if (m && u.id[PW_RM_RULES] && !u.id[PW_RM_ORD] && !m->old_prog_id) {
			snprintf(((struct pw_rules_maps *)m)->old_user, sizeof(m->old_user), "%s", i->if_name);
			((struct pw_rules_maps *)m)->old_prog_id = st.prog_id;
		}
		if (m && u.id[PW_RM_RULES] && !u.id[PW_RM_LIMITS] && !m->old_lim_prog_id) {
			snprintf(((struct pw_rules_maps *)m)->old_lim_user, sizeof(m->old_lim_user), "%s", i->if_name);
			((struct pw_rules_maps *)m)->old_lim_prog_id = st.prog_id;
		}
		if (m && u.id[PW_RM_RULES] && !u.id[PW_RM_CT_RULES] && !m->ct_old_prog_id) {
			snprintf(((struct pw_rules_maps *)m)->ct_old_user, sizeof(m->ct_old_user), "%s", i->if_name);
			((struct pw_rules_maps *)m)->ct_old_prog_id = st.prog_id;
		}
		for (int k = 0; !err && k < PW_RM_COUNT; k++) {
			struct bpf_map_info mi;

			if (!u.id[k])
				continue;
			if (!m) {
				err = pw_fail(ctx, ESTALE, "the program on '%s' (id %u) uses rule maps that are not pinned in '%s': 'pinwall repin %s' pins them again; nothing was changed",
					      i->if_name, st.prog_id, shared, i->if_name);
			} else if (pw_map_info(m->fd[k], &mi) || mi.id != u.id[k]) {
				err = pw_fail(ctx, ESTALE, "rule map '%s/%s' is map id %u, but the program on '%s' (id %u) uses map id %u: 'pinwall repin %s' pins its own again; nothing was changed",
					      shared, map_names[k], mi.id, i->if_name, st.prog_id,
					      u.id[k], i->if_name);
			}
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return err;
}

int pw_rules_open(struct pw_ctx *ctx, struct pw_rules_maps *m, bool create, bool rdonly)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];
	int err;

	memset(m, 0, sizeof(*m));
	pw_shared_dir(ctx, shared, sizeof(shared));
	pw_join(path, sizeof(path), shared, PW_MAP_RULES);
	if (!pw_path_exists(path)) {
		/* a program runs on rule maps whose pins are gone: never new ones */
		if ((err = rules_in_use_check(ctx, NULL, shared)))
			return err;
		if (!create)
			return pw_fail(ctx, ENOENT, "no rules configured (no pin at '%s')", path);
		if ((err = pw_shared_maps_create(ctx, "rule maps")))
			return err;
	}
	/* rule maps pinned by a version before ordered rules: add theirs */
	for (int i = PW_RM_FIRST_ORD; i < PW_RM_COUNT && !rdonly; i++) {
		pw_join(path, sizeof(path), shared, map_names[i]);
		if (!pw_path_exists(path)) {
			if ((err = pw_shared_maps_create(ctx, "rule maps")))
				return err;
			break;
		}
	}
	for (int i = 0; i < PW_RM_COUNT; i++) {
		pw_join(path, sizeof(path), shared, map_names[i]);
		m->fd[i] = pw_open_own_pin(ctx, path, map_names[i], rdonly ? PW_PIN_RDONLY : 0);
		if (m->fd[i] == -ENOENT && rdonly && i >= PW_RM_FIRST_ORD) {
			m->fd[i] = 0;	/* an older version's rules: no ordered rule */
			continue;
		}
		if (m->fd[i] < 0) {
			err = m->fd[i] == -ENOENT ?
				pw_fail(ctx, ENOENT, "rule map '%s' is missing: the rule state is incomplete",
					path) : m->fd[i];
			m->fd[i] = 0;
			pw_rules_close(m);
			return err;
		}
	}
	if ((err = rules_in_use_check(ctx, m, shared)))
		pw_rules_close(m);
	return err;
}

/* Is a stored rule in force? Marks of an apply under way (or killed) decide
 * by the generation in force: see PW_RK_ADDING in abi.h. */
bool pw_rule_in_force(__u32 kind, const struct pw_config *cfg)
{
	bool now = PW_RK_GEN(kind) == PW_RK_GEN_OF(cfg->generation);

	if (kind & PW_RK_ADDING)
		return now;
	if (kind & PW_RK_REMOVING)
		return !now;
	return true;
}

static int read_once(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		     struct pw_config *cfg);

/* The stored rule entries of ids below @count, in one batch syscall: *@count
 * becomes the number read. */
int pw_rules_read_entries(struct pw_ctx *ctx, const struct pw_rules_maps *m, __u32 *count,
			__u32 **keys, struct pw_rule **vals)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 out_batch;

	if (*count > PW_MAX_RULES)
		*count = PW_MAX_RULES;
	*keys = calloc(*count, sizeof(**keys));
	*vals = calloc(*count, sizeof(**vals));
	if (!*keys || !*vals)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if (bpf_map_lookup_batch(m->fd[PW_RM_RULES], NULL, &out_batch, *keys, *vals, count, &bo) &&
	    errno != ENOENT)
		return pw_fail(ctx, errno, "cannot read the rules: %s", strerror(errno));
	return 0;
}

/* pw_config could not be read: name the pin and what it holds (another
 * kind of map there reads as "no such entry", which says nothing). */
int pw_rules_config_fail(struct pw_ctx *ctx, const struct pw_rules_maps *m, int err)
{
	struct bpf_map_info info;

	if (pw_map_info(m->fd[PW_RM_CONFIG], &info) || (info.type == BPF_MAP_TYPE_ARRAY &&
	    info.key_size == 4 && info.value_size == sizeof(struct pw_config) && info.max_entries == 1))
		return pw_fail(ctx, err, "cannot read the rule config pin '%s/%s/%s': %s",
			       ctx->pin_root, PW_DIR_SHARED, PW_MAP_CONFIG, strerror(err));
	return pw_fail(ctx, EPROTO, "rule config pin '%s/%s/%s' holds a %s map (%u-byte keys, %u-byte values, %u entries), not pinwall's array (4, %zu, 1)",
		       ctx->pin_root, PW_DIR_SHARED, PW_MAP_CONFIG,
		       libbpf_bpf_map_type_str(info.type) ?: "unknown", info.key_size,
		       info.value_size, info.max_entries, sizeof(struct pw_config));
}

int pw_rules_read(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		  struct pw_config *cfg)
{
	__u32 zero = 0;
	int err;

	/* readers take no lock: if an apply switched sets while the rules were
	 * read, read again (the marks are judged by the generation read) */
	for (int tries = 0; ; tries++) {
		struct pw_config again;

		err = read_once(ctx, m, rs, cfg);
		if (err || tries == 8)
			return err;
		if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, &again))
			return pw_rules_config_fail(ctx, m, errno);
		if (again.generation == cfg->generation && again.active == cfg->active)
			return 0;
		pw_ruleset_free(rs);
	}
}

int pw_hash_walk(int fd, size_t ksize, size_t vsize, pw_walk_fn fn, void *arg)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	const __u32 cap = 65536;
	char *keys = malloc(cap * ksize), *vals = malloc(cap * vsize);
	__u32 in, out, count;
	bool first = true;
	int err = 0, r;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		count = cap;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &bo) ?
		      -errno : 0;
		if (err && err != -ENOENT)
			goto out;
		if (count && (r = fn(arg, keys, vals, count))) {
			err = r;
			goto out;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* Set elements of one buffer into their sets, by slot. */
struct elems_read {
	__u32 buf;
	struct pw_set *slot[PW_MAX_SETS];
};

static int elems_batch(void *arg, const void *k, const void *v, __u32 n)
{
	const struct pw_elem_key *keys = k;
	struct elems_read *er = arg;

	(void)v;
	for (__u32 i = 0; i < n; i++) {
		struct pw_prefix p = { keys[i].meta & 0xff, keys[i].len, { 0 } };
		__u32 sl = (keys[i].meta >> 8) & 0xff;

		if ((keys[i].meta >> 16) != er->buf || sl >= PW_MAX_SETS || !er->slot[sl])
			continue;
		memcpy(p.addr, keys[i].addr, sizeof(p.addr));
		if (pw_set_push(er->slot[sl], &p))
			return -ENOMEM;
	}
	return 0;
}

/* The named sets of buffer @buf: names from pw_sets, prefixes from
 * pw_set_elems (one batch walk over every element). */
static int read_sets(struct pw_ctx *ctx, const struct pw_rules_maps *m, __u32 buf,
		     struct pw_ruleset *rs)
{
	struct elems_read er = { .buf = buf };
	int err;

	for (__u32 i = 0; i < PW_MAX_SETS; i++) {
		struct pw_set_info si;
		__u32 k = buf * PW_MAX_SETS + i;

		if (bpf_map_lookup_elem(m->fd[PW_RM_SETS], &k, &si))
			return pw_fail(ctx, errno, "cannot read the sets: %s", strerror(errno));
		si.name[PW_SET_NAME_LEN - 1] = '\0';
		if (si.name[0] && !(er.slot[i] = pw_ruleset_new_set(rs, si.name)))
			return pw_fail(ctx, ENOMEM, "out of memory");
	}
	if (!rs->n_sets)
		return 0;
	err = pw_hash_walk(m->fd[PW_RM_SET_ELEMS], sizeof(struct pw_elem_key), sizeof(__u32),
			   elems_batch, &er);
	if (err)
		return pw_fail(ctx, err, "cannot read the set elements: %s", strerror(-err));
	for (int i = 0; i < rs->n_sets; i++)
		pw_set_normalize(&rs->sets[i]);
	return 0;
}

/* Ordered rules into their place: the order of pw_ord[active], the table
 * (the single-match rules read so far, by id) before ordered rule
 * table_pos. @rs holds the rules in force by id on entry. */
static int read_order(struct pw_ctx *ctx, const struct pw_rules_maps *m, const struct pw_config *cfg,
		      struct pw_ruleset *rs)
{
	__u32 buf = cfg->active & 1;
	struct pw_ruleset out = { 0 };
	struct pw_ord_set os;
	int err = 0, placed = 0, n_ord = 0;

	for (int i = 0; i < rs->n; i++)
		n_ord += rs->r[i].kind == PW_RK_ORDERED;

	if (bpf_map_lookup_elem(m->fd[PW_RM_ORD], &buf, &os))
		return pw_fail(ctx, errno, "cannot read the rule order: %s", strerror(errno));
	if (os.n > PW_ORD_MAX)
		return pw_fail(ctx, EPROTO, "rule order pin holds %u ordered rules, more than %d", os.n, PW_ORD_MAX);
	out.policy = rs->policy;
	for (__u32 k = 0; k <= os.n && !err; k++) {
		if (k == os.table_pos || (k == os.n && os.table_pos > os.n))
			for (int i = 0; i < rs->n && !err; i++)
				if (rs->r[i].kind != PW_RK_ORDERED)
					err = pw_ruleset_push(&out, &rs->r[i], NULL, rs->ids[i]);
		if (k == os.n)
			break;
		for (int i = 0; i < rs->n && !err; i++) {
			struct pw_ord_rule o;

			if (rs->r[i].kind != PW_RK_ORDERED || rs->ids[i] != os.ids[k])
				continue;
			if (bpf_map_lookup_elem(m->fd[PW_RM_ORD_RULES], &rs->ids[i], &o)) {
				err = pw_fail(ctx, errno, "cannot read ordered rule %u: %s", rs->ids[i], strerror(errno));
				break;
			}
			o.src.set[PW_SET_NAME_LEN - 1] = o.dst.set[PW_SET_NAME_LEN - 1] = '\0';
			err = pw_ruleset_push(&out, &rs->r[i], &o, rs->ids[i]);
			placed++;
		}
	}
	if (err) {
		pw_ruleset_free(&out);
		return err == -ENOMEM ? pw_fail(ctx, ENOMEM, "out of memory") : err;
	}
	/* the sets move over with the rules */
	out.sets = rs->sets;
	out.n_sets = rs->n_sets;
	rs->sets = NULL;
	rs->n_sets = 0;
	pw_ruleset_free(rs);
	*rs = out;
	if (placed != n_ord)
		return pw_fail(ctx, EPROTO, "ordered rules in force are missing from the rule order in '%s': the rule state is inconsistent",
			       PW_MAP_ORD);
	return 0;
}

static int read_once(struct pw_ctx *ctx, const struct pw_rules_maps *m, struct pw_ruleset *rs,
		     struct pw_config *cfg)
{
	__u32 zero = 0, count, *keys = NULL;
	struct pw_rule *vals = NULL;
	int err = 0;

	memset(rs, 0, sizeof(*rs));
	if (bpf_map_lookup_elem(m->fd[PW_RM_CONFIG], &zero, cfg))
		return pw_rules_config_fail(ctx, m, errno);
	rs->policy = (int)PW_CFG_POLICY(cfg);
	/* up to the highest id in use */
	count = cfg->max_id < PW_MAX_RULES ? cfg->max_id + 1 : PW_MAX_RULES;
	if ((err = pw_rules_read_entries(ctx, m, &count, &keys, &vals)))
		goto out;
	for (__u32 i = 0; i < count; i++) {
		if (PW_RK_KIND(vals[i].kind) == PW_RK_NONE || !pw_rule_in_force(vals[i].kind, cfg))
			continue;
		vals[i].kind = PW_RK_KIND(vals[i].kind);
		/* an ordered rule's matches: read with the order (read_order) */
		if (pw_ruleset_push(rs, &vals[i], &(struct pw_ord_rule){ 0 }, keys[i])) {
			err = pw_fail(ctx, ENOMEM, "out of memory");
			goto out;
		}
	}
	/* an older version's rule maps have no ordered rules or sets; without
	 * ordered rules the table alone is in force, in id order */
	if (m->fd[PW_RM_ORD] > 0 && !(err = read_sets(ctx, m, cfg->active & 1, rs)) && rs->ord)
		err = read_order(ctx, m, cfg, rs);
out:
	free(keys);
	free(vals);
	if (err)
		pw_ruleset_free(rs);
	return err;
}

int pw_rules_counters(struct pw_ctx *ctx, const struct pw_rules_maps *m,
		      const struct pw_ruleset *rs, struct pw_counter *out)
{
	int cpus = libbpf_num_possible_cpus();
	__u32 count = 1, out_batch, *keys;
	struct pw_datarec *vals;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err = 0;

	if (cpus <= 0)
		return pw_fail(ctx, EINVAL, "cannot count CPUs");
	/* only up to the highest id in use */
	for (int i = 0; i < rs->n; i++)
		if (rs->ids[i] >= count)
			count = rs->ids[i] + 1;
	keys = calloc(count, sizeof(*keys));
	vals = calloc((size_t)count * cpus, sizeof(*vals));
	if (!keys || !vals) {
		err = pw_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	if (bpf_map_lookup_batch(m->fd[PW_RM_STATS], NULL, &out_batch, keys, vals, &count, &bo) &&
	    errno != ENOENT) {
		err = pw_fail(ctx, errno, "cannot read the rule counters: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < rs->n; i++) {
		__u32 id = rs->ids[i];

		out[i].packets = out[i].bytes = 0;
		if (id >= count)
			continue;
		for (int c = 0; c < cpus; c++) {
			out[i].packets += vals[(size_t)id * cpus + c].rx_packets;
			out[i].bytes += vals[(size_t)id * cpus + c].rx_bytes;
		}
	}
out:
	free(keys);
	free(vals);
	return err;
}

