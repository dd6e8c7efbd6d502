// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kernel state of limit rules: passed-on counters by rule id and the
 * buckets by (rule id, source key). Both go with their rule, so an id
 * used again later starts with neither.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall/rules.h"

struct forget {
	int fd;
	const __u32 *ids;
	int n;
};

static int forget_batch(void *arg, const void *k, const void *v, __u32 n)
{
	const struct pw_limit_key *keys = k;
	struct forget *f = arg;

	(void)v;
	for (__u32 i = 0; i < n; i++)
		for (int j = 0; j < f->n; j++)
			if (keys[i].rule == f->ids[j] && bpf_map_delete_elem(f->fd, &keys[i]) &&
			    errno != ENOENT)
				return -errno;
	return 0;
}

/* Removed rule ids @ids: their counters and buckets go. The buckets are
 * walked only when one of them was a limit rule (it has a counter). */
int pw_limit_forget(const struct pw_rules_maps *m, const __u32 *ids, int n)
{
	struct forget f = { m->fd[PW_RM_LIM_STATE], ids, n };
	bool any = false;

	if (m->fd[PW_RM_LIM_PASS] <= 0 || m->fd[PW_RM_LIM_STATE] <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!bpf_map_delete_elem(m->fd[PW_RM_LIM_PASS], &ids[i]))
			any = true;
		else if (errno != ENOENT)
			return -errno;
	}
	if (!any)
		return 0;
	return pw_hash_walk(f.fd, sizeof(struct pw_limit_key), sizeof(__u64), forget_batch, &f);
}

/* Packets and bytes limit rule @id let on, summed over the CPUs. */
int pw_limit_passed(const struct pw_rules_maps *m, __u32 id, struct pw_counter *out)
{
	int cpus = libbpf_num_possible_cpus();
	struct pw_limit_pass_rec *v;

	memset(out, 0, sizeof(*out));
	if (m->fd[PW_RM_LIM_PASS] <= 0 || cpus <= 0)
		return 0;
	if (!(v = calloc(cpus, sizeof(*v))))
		return -ENOMEM;
	if (!bpf_map_lookup_elem(m->fd[PW_RM_LIM_PASS], &id, v))
		for (int c = 0; c < cpus; c++) {
			out->packets += v[c].packets;
			out->bytes += v[c].bytes;
		}
	free(v);
	return 0;
}
