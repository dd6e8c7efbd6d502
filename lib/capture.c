// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Captured drops, the user-space side: open an interface's pinned ring
 * buffer and capture config (checked to be pinwall's, and used by the
 * program that runs there), take the capture lease, hand each event to a
 * callback, renew the lease every second, and give it back at the end.
 * abi.h describes the lease and the limiter; bpf/capture.h the kernel side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define RENEW_NS 1000000000ULL	/* well inside PW_CAP_LEASE_NS */

struct pw_capture {
	char ifname[32];
	char ifdir[PW_PATH_LEN];
	char ring_path[PW_PATH_LEN], cfg_path[PW_PATH_LEN];
	int ifindex;
	int ring_fd, cfg_fd;
	__u32 ring_id, cfg_id;
	struct pw_capture_cfg *cfg;	/* the map's one value, mmap'ed */
	size_t cfg_len;
	struct ring_buffer *rb;
	__u64 since;			/* lease taken: older events are a killed capture's */
	__u64 until;			/* our lease */
	__u64 renew_at;
	__s64 real_off;			/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	__u32 rule;
	bool done;			/* the callback asked to stop */
	pw_drop_cb cb;
	void *arg;
};

static const char *const reason_names[PW_DROP_REASON_MAX] = {
	[PW_DROP_NONE] = "none", [PW_DROP_RULE] = "rule", [PW_DROP_POLICY] = "policy",
	[PW_DROP_MALFORMED] = "malformed", [PW_DROP_FRAGMENT] = "fragment",
	[PW_DROP_DEFAULT] = "default", [PW_DROP_BLOCK] = "block", [PW_DROP_LIMIT] = "limit",
};

const char *pw_drop_reason_name(__u32 reason)
{
	return reason < PW_DROP_REASON_MAX ? reason_names[reason] : "unknown";
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* The id of the map behind @fd (0: unreadable). */
static __u32 map_id(int fd)
{
	struct bpf_map_info info;

	return pw_map_info(fd, &info) ? 0 : info.id;
}

/* One of the two pins, checked to be pinwall's map. */
static int open_pin(struct pw_ctx *ctx, struct pw_capture *c, const char *name, char *path,
		    size_t len)
{
	char maps[PW_PATH_LEN];
	int fd;

	if (pw_join(maps, sizeof(maps), c->ifdir, PW_DIR_MAPS) || pw_join(path, len, maps, name))
		return pw_fail(ctx, ENAMETOOLONG, "pin root '%s' is too long", ctx->pin_root);
	fd = pw_open_own_pin(ctx, path, name, 0);
	if (fd == -ENOENT && !pw_path_exists(c->ifdir))
		return pw_fail(ctx, ENOENT, "'%s' is not loaded by pinwall (no pins at '%s'): load it first",
			       c->ifname, c->ifdir);
	if (fd == -ENOENT)
		return pw_fail(ctx, ENOENT, "'%s' has no capture maps (no pin at '%s'): its program does not capture drops (loaded by an earlier pinwall: 'pinwall reload %s' brings them)",
			       c->ifname, path, c->ifname);
	return fd;
}

/* The program attached to the interface must be the one using both maps:
 * otherwise nothing would ever be captured. */
static int check_prog(struct pw_ctx *ctx, const struct pw_capture *c)
{
	__u32 ids[PW_PROG_MAPS], n = 0;
	bool ring = false, cfg = false;
	struct pw_xdp_state st;
	int err;

	if ((err = pw_xdp_state(c->ifindex, &st)))
		return pw_fail(ctx, err, "cannot query XDP on '%s': %s", c->ifname, strerror(-err));
	if (!st.prog_id)
		return pw_fail(ctx, ENOENT, "no XDP program is attached to '%s': nothing is dropped there",
			       c->ifname);
	if ((err = pw_prog_map_ids(st.prog_id, ids, PW_PROG_MAPS, &n)))
		return pw_fail(ctx, err, "cannot read the maps of program %u: %s", st.prog_id,
			       strerror(-err));
	for (__u32 i = 0; i < n; i++) {
		ring |= ids[i] == c->ring_id;
		cfg |= ids[i] == c->cfg_id;
	}
	if (!ring || !cfg)
		return pw_fail(ctx, ENOENT, "the program on '%s' (id %u) does not use the capture maps pinned at '%s': it is not pinwall's current program",
			       c->ifname, st.prog_id, c->ring_path);
	return 0;
}

static int open_maps(struct pw_ctx *ctx, struct pw_capture *c)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	c->cfg_fd = open_pin(ctx, c, PW_MAP_CAPTURE, c->cfg_path, sizeof(c->cfg_path));
	if (c->cfg_fd < 0)
		return c->cfg_fd;
	c->ring_fd = open_pin(ctx, c, PW_MAP_DROPS, c->ring_path, sizeof(c->ring_path));
	if (c->ring_fd < 0)
		return c->ring_fd;
	c->cfg_id = map_id(c->cfg_fd);
	c->ring_id = map_id(c->ring_fd);
	c->cfg_len = page > 0 ? (size_t)page : 4096;
	p = mmap(NULL, c->cfg_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->cfg_fd, 0);
	if (p == MAP_FAILED)
		return pw_fail(ctx, errno, "cannot map '%s': %s", c->cfg_path, strerror(errno));
	c->cfg = p;
	return check_prog(ctx, c);
}

#define LOAD(f) __atomic_load_n(&(f), __ATOMIC_ACQUIRE)
#define STORE(f, v) __atomic_store_n(&(f), (v), __ATOMIC_RELEASE)
#define CAS(f, old, new) __atomic_compare_exchange_n(&(f), &(old), (new), false, \
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

/* Take the lease when nobody holds it (0, or expired), then set the
 * filter, limiter and counters. Events from before are told by their time. */
static int claim(struct pw_ctx *ctx, struct pw_capture *c, const struct pw_capture_opts *o)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC), cur = LOAD(c->cfg->until);
	__u64 interval = 1000000000ULL / o->rate, burst = o->rate / 10;
	bool taken = false;

	/* a CAS lost to the program clearing an expired lease is tried again */
	for (int i = 0; i < 3 && !taken && !(cur && cur > now); i++)
		taken = CAS(c->cfg->until, cur, now + PW_CAP_LEASE_NS);
	if (!taken)
		return pw_fail(ctx, EBUSY, "a capture is already running on '%s' (process %u): one at a time per interface",
			       c->ifname, LOAD(c->cfg->pid));
	c->since = now;
	c->until = now + PW_CAP_LEASE_NS;
	c->renew_at = now + RENEW_NS;
	c->real_off = (__s64)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	burst = burst < 1 ? 1 : burst > 1000 ? 1000 : burst;
	STORE(c->cfg->pid, (__u32)getpid());
	STORE(c->cfg->rule, o->rule);
	STORE(c->cfg->snaplen, o->snaplen);
	STORE(c->cfg->interval_ns, interval);
	STORE(c->cfg->burst_ns, (burst - 1) * interval);
	STORE(c->cfg->tat, 0);
	STORE(c->cfg->captured, 0);
	STORE(c->cfg->suppressed, 0);
	STORE(c->cfg->lost, 0);
	return 0;
}

static int on_sample(void *arg, void *data, size_t size)
{
	struct pw_capture *c = arg;
	const struct pw_drop_event *e = data;
	struct pw_drop d;

	if (c->done)
		return -ECANCELED;
	/* a killed capture's leftovers, or the moment before our filter held */
	if (size < sizeof(*e) || e->ts < c->since || (c->rule && e->rule != c->rule))
		return 0;
	d.ts_ns = e->ts + c->real_off;
	d.rule = e->rule;
	d.reason = e->reason;
	d.len = e->len;
	d.cap_len = e->cap_len < PW_CAP_SNAPLEN ? e->cap_len : PW_CAP_SNAPLEN;
	d.data = e->data;
	if (c->cb(&d, c->arg))
		c->done = true;
	return 0;
}

static void capture_init(struct pw_capture *c, const char *ifname, pw_drop_cb cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->ring_fd = c->cfg_fd = -1;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->cb = cb;
	c->arg = arg;
}

int pw_capture_start(struct pw_ctx *ctx, const char *ifname, const struct pw_capture_opts *o,
		     pw_drop_cb cb, void *arg, struct pw_capture **out)
{
	struct pw_capture *c = calloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (!c)
		return pw_fail(ctx, ENOMEM, "out of memory");
	capture_init(c, ifname, cb, arg);
	if (!o->rate || o->rate > PW_CAP_RATE_MAX || !o->snaplen || o->snaplen > PW_CAP_SNAPLEN)
		err = pw_fail(ctx, EINVAL, "capture rate %u or snap length %u out of range",
			      o->rate, o->snaplen);
	else if ((c->ifindex = pw_ifindex(ctx, ifname)) < 0)
		err = c->ifindex;
	else if ((err = pw_iface_dir(ctx, ctx->netns_ino, ifname, c->ifdir, sizeof(c->ifdir))))
		err = pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);
	else
		err = open_maps(ctx, c);
	if (!err && !(c->rb = ring_buffer__new(c->ring_fd, on_sample, c, NULL)))
		err = pw_fail(ctx, errno, "cannot read the ring buffer '%s': %s", c->ring_path,
			      strerror(errno));
	c->rule = o->rule;
	if (!err)
		err = claim(ctx, c, o);
	if (err) {
		pw_capture_free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* Every second: the pins still hold our maps, the program still uses
 * them, and the lease runs on. */
static int renew(struct pw_ctx *ctx, struct pw_capture *c, __u64 now)
{
	__u64 cur = c->until;
	int fd;

	fd = pw_open_map_pin(ctx, c->ring_path, true);
	if (fd < 0 || map_id(fd) != c->ring_id) {
		if (fd >= 0)
			close(fd);
		return pw_fail(ctx, ESTALE, "the capture maps of '%s' are gone or replaced (unloaded, or loaded again): capture ended",
			       c->ifname);
	}
	close(fd);
	if (check_prog(ctx, c))
		return -ESTALE;
	/* we stalled past the lease and the program turned capture off: take it again */
	if (!CAS(c->cfg->until, cur, now + PW_CAP_LEASE_NS) &&
	    (cur != 0 || !CAS(c->cfg->until, cur, now + PW_CAP_LEASE_NS)))
		return pw_fail(ctx, EBUSY, "capture on '%s' was taken over by process %u: capture ended",
			       c->ifname, LOAD(c->cfg->pid));
	c->until = now + PW_CAP_LEASE_NS;
	c->renew_at = now + RENEW_NS;
	return 0;
}

int pw_capture_poll(struct pw_ctx *ctx, struct pw_capture *c, int timeout_ms)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	int n, err;

	if (c->done)
		return 0;
	if (now >= c->renew_at && (err = renew(ctx, c, now)))
		return err;
	if (timeout_ms > (int)((c->renew_at - now) / 1000000))
		timeout_ms = (int)((c->renew_at - now) / 1000000);
	n = ring_buffer__poll(c->rb, timeout_ms);
	if (n == -EINTR || (n == -ECANCELED && c->done))
		return 0;
	if (n < 0)
		return pw_fail(ctx, n, "cannot read the ring buffer '%s': %s", c->ring_path,
			       strerror(-n));
	return n;
}

bool pw_capture_done(const struct pw_capture *c)
{
	return c->done;
}

void pw_capture_counts(const struct pw_capture *c, struct pw_capture_counts *n)
{
	n->captured = LOAD(c->cfg->captured);
	n->suppressed = LOAD(c->cfg->suppressed);
	n->lost = LOAD(c->cfg->lost);
}

int pw_capture_stop(struct pw_capture *c)
{
	__u64 mine = c->until;

	if (!c->cfg)
		return 0;
	/* only our own lease: a capture that took over keeps its own */
	CAS(c->cfg->until, mine, 0);
	c->until = 0;
	/* what was written before: to the callback, unless it has had enough */
	if (c->rb && !c->done)
		ring_buffer__consume(c->rb);
	return 0;
}

void pw_capture_free(struct pw_capture *c)
{
	if (!c)
		return;
	if (c->until)
		pw_capture_stop(c);
	ring_buffer__free(c->rb);
	if (c->cfg)
		munmap(c->cfg, c->cfg_len);
	if (c->ring_fd >= 0)
		close(c->ring_fd);
	if (c->cfg_fd >= 0)
		close(c->cfg_fd);
	free(c);
}
