// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * CPU steering (load --steer, bpf/steer.h): the CPU list, checked against
 * the online CPUs, and its two maps. The program reads the list, then the
 * cpumap entry of the CPU a flow hashes to; a listed CPU without an entry
 * only falls back to XDP_PASS. So every order of the writes below is safe
 * to stop in (a killed command, a failed update): entries are added before
 * the list names them and removed after it stops naming them, and leftover
 * entries are removed by the next apply.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define CPU_WORDS (PW_STEER_MAX_CPUS / 64)

struct cpuset {
	__u64 w[CPU_WORDS];
};

static bool cs_has(const struct cpuset *s, unsigned int cpu)
{
	return cpu < PW_STEER_MAX_CPUS && (s->w[cpu / 64] >> (cpu % 64) & 1);
}

#define CPU_NUM_MAX (1L << 20)	/* far above any kernel's CPU count */

/* A CPU number at *p: digits only (else -1, p not moved). */
static long cpu_num(const char **p)
{
	const char *s = *p;
	long v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v >= CPU_NUM_MAX)
			return -1;
	}
	*p = s;
	return v;
}

/* "0-1,3" into @s: 0, -EINVAL (syntax) or, when @strict, -E2BIG for a CPU
 * a cpumap here cannot name; else such CPUs are left out. */
static int cs_parse(const char *text, struct cpuset *s, bool strict)
{
	const char *p = text;
	long lo, hi;

	memset(s, 0, sizeof(*s));
	for (;;) {
		if ((lo = cpu_num(&p)) < 0)
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if ((hi = cpu_num(&p)) < 0 || hi < lo)
				return -EINVAL;
		}
		if (strict && hi >= PW_STEER_MAX_CPUS)
			return -E2BIG;
		for (long c = lo; c <= hi && c < PW_STEER_MAX_CPUS; c++)
			s->w[c / 64] |= 1ULL << (c % 64);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

/* The kernel's online CPUs (as many as a cpumap here can name). */
static int online_cpus(struct pw_ctx *ctx, struct cpuset *s)
{
	char buf[1024];
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	if (!n)
		return pw_fail(ctx, EIO, "cannot read the online CPUs from /sys/devices/system/cpu/online");
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* CPUs beyond the cpumap are online but cannot be listed: left out */
	if (cs_parse(buf, s, false))
		return pw_fail(ctx, EIO, "cannot parse the online CPUs '%s'", buf);
	return 0;
}

void pw_steer_str(const struct pw_steer_cpus *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (!c->n) {
		snprintf(buf, len, "none");
		return;
	}
	for (__u32 i = 0; i < c->n && used < len; i++) {
		__u32 j = i;

		while (j + 1 < c->n && c->cpu[j + 1] == c->cpu[j] + 1)
			j++;
		used += snprintf(buf + used, len - used, j > i ? "%s%u-%u" : "%s%u",
				 i ? "," : "", c->cpu[i], c->cpu[j]);
		i = j;
	}
}

int pw_steer_parse(struct pw_ctx *ctx, const char *text, struct pw_steer_cpus *out)
{
	struct cpuset want, online;
	char on[256];
	int err;

	memset(out, 0, sizeof(*out));
	if (!strcmp(text, "none"))
		return 0;
	err = cs_parse(text, &want, true);
	if (err == -E2BIG)
		return pw_fail(ctx, EINVAL, "invalid cpu list '%s': cpus 0 to %d can be listed",
			       text, PW_STEER_MAX_CPUS - 1);
	if (err)
		return pw_fail(ctx, EINVAL, "invalid cpu list '%s': use cpu numbers and ranges like 0-1,3, or none",
			       text);
	if ((err = online_cpus(ctx, &online)))
		return err;
	for (__u32 c = 0; c < PW_STEER_MAX_CPUS; c++) {
		if (!cs_has(&want, c))
			continue;
		if (!cs_has(&online, c)) {
			struct pw_steer_cpus o = { 0 };

			for (__u32 k = 0; k < PW_STEER_MAX_CPUS; k++)
				if (cs_has(&online, k))
					o.cpu[o.n++] = k;
			pw_steer_str(&o, on, sizeof(on));
			return pw_fail(ctx, EINVAL, "invalid cpu list '%s': cpu %u is not online (online: %s)",
				       text, c, on);
		}
		out->cpu[out->n++] = c;
	}
	return 0;
}

/* The object's steering maps; --obj programs have none. */
static int steer_fds(struct bpf_object *obj, int *cpumap, int *list)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, PW_MAP_STEER);
	struct bpf_map *l = bpf_object__find_map_by_name(obj, PW_MAP_STEER_CPUS);

	if (!m || !l)
		return -ENOENT;
	*cpumap = bpf_map__fd(m);
	*list = bpf_map__fd(l);
	return 0;
}

int pw_steer_check_obj(struct pw_ctx *ctx, struct bpf_object *obj)
{
	int a, b;

	if (steer_fds(obj, &a, &b))
		return pw_fail(ctx, EINVAL, "--steer works with pinwall's built-in program only: this program has no '%s' map; nothing was changed",
			       PW_MAP_STEER);
	return 0;
}

/* An entry (and its kernel thread) for every listed CPU that has none;
 * on failure the ones added here are removed again. */
static int add_entries(struct pw_ctx *ctx, int fd, const struct pw_steer_cpus *want)
{
	struct bpf_cpumap_val v = { .qsize = PW_STEER_QSIZE }, cur;
	__u32 added[PW_STEER_MAX_CPUS], n = 0;

	for (__u32 i = 0; i < want->n; i++) {
		__u32 cpu = want->cpu[i];

		if (!bpf_map_lookup_elem(fd, &cpu, &cur))
			continue;
		if (bpf_map_update_elem(fd, &cpu, &v, BPF_ANY)) {
			int err = errno;

			while (n--)
				bpf_map_delete_elem(fd, &added[n]);
			return pw_fail(ctx, err, "cannot steer to cpu %u: %s; steering was not changed",
				       cpu, strerror(err));
		}
		added[n++] = cpu;
	}
	return 0;
}

/* Entries of CPUs the list does not name (also leftovers of a killed apply). */
static void remove_entries(int fd, const struct pw_steer_cpus *want)
{
	struct bpf_cpumap_val cur;
	struct cpuset keep = { { 0 } };

	for (__u32 i = 0; i < want->n; i++)
		keep.w[want->cpu[i] / 64] |= 1ULL << (want->cpu[i] % 64);
	for (__u32 cpu = 0; cpu < PW_STEER_MAX_CPUS; cpu++)
		if (!cs_has(&keep, cpu) && !bpf_map_lookup_elem(fd, &cpu, &cur))
			bpf_map_delete_elem(fd, &cpu);
}

int pw_steer_apply(struct pw_ctx *ctx, struct bpf_object *obj, const struct pw_steer_cpus *want)
{
	struct pw_steer_cpus old = { 0 };
	int cpumap, list, err;
	__u32 zero = 0;

	if (steer_fds(obj, &cpumap, &list))
		return want->n ? pw_steer_check_obj(ctx, obj) : 0;
	if (bpf_map_lookup_elem(list, &zero, &old) || old.n > PW_STEER_MAX_CPUS)
		old.n = 0;
	if ((err = add_entries(ctx, cpumap, want)))
		return err;
	if (bpf_map_update_elem(list, &zero, want, BPF_ANY)) {
		err = errno;
		remove_entries(cpumap, &old);
		return pw_fail(ctx, err, "cannot write the steering cpu list: %s; steering was not changed",
			       strerror(err));
	}
	remove_entries(cpumap, want);
	return 0;
}

/* The CPU list in force for the interface directory @ifdir (n == 0: off,
 * also when nothing is pinned there). */
int pw_steer_read(const struct pw_ctx *ctx, const char *ifdir, struct pw_steer_cpus *out)
{
	char path[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%s/%s", ifdir, PW_DIR_MAPS, PW_MAP_STEER_CPUS);
	fd = pw_obj_get_below(path, strlen(ctx->pin_root), BPF_F_RDONLY);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (bpf_map_lookup_elem(fd, &zero, out) || out->n > PW_STEER_MAX_CPUS) {
		err = -EINVAL;
		memset(out, 0, sizeof(*out));
	}
	close(fd);
	return err;
}
