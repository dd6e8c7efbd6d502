// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pins: privileges, bpffs, the layout below the pin root, the lock, and the
 * reuse-or-create decision for every map of an object.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

int pw_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool pw_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int pw_check_caps(struct pw_ctx *ctx)
{
	cap_flag_value_t bpf = CAP_CLEAR, admin = CAP_CLEAR, net = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return pw_fail(ctx, errno, "cannot read capabilities: %s", strerror(errno));
	cap_get_flag(caps, CAP_BPF, CAP_EFFECTIVE, &bpf);
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	cap_get_flag(caps, CAP_NET_ADMIN, CAP_EFFECTIVE, &net);
	cap_free(caps);
	if ((bpf != CAP_SET && admin != CAP_SET) || net != CAP_SET)
		return pw_fail(ctx, EPERM,
			       "missing capabilities: pinwall needs CAP_BPF and CAP_NET_ADMIN (run it as root)");
	return 0;
}

int pw_check_caps_read(struct pw_ctx *ctx)
{
	cap_flag_value_t bpf = CAP_CLEAR, admin = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return pw_fail(ctx, errno, "cannot read capabilities: %s", strerror(errno));
	cap_get_flag(caps, CAP_BPF, CAP_EFFECTIVE, &bpf);
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	cap_free(caps);
	/* with unprivileged BPF off (the default) every bpf() call needs it */
	if (bpf != CAP_SET && admin != CAP_SET)
		return pw_fail(ctx, EPERM,
			       "missing capabilities: reading pins needs CAP_BPF (run it as root)");
	return 0;
}

/* 1: on bpffs, 0: on another filesystem, -errno: cannot tell. A bpffs
 * mounted with mode 0700 (the default, and pinwall's own mount) hides what
 * is below it from the unprivileged: EACCES is no answer, not a "no". */
static int on_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

static int cannot_look(struct pw_ctx *ctx, int err)
{
	bool denied = err == EACCES || err == EPERM;

	return pw_fail(ctx, err, "cannot look at pin root '%s': %s", ctx->pin_root,
		       denied ? "permission denied (run as root)" : strerror(err));
}

int pw_mkdirs(struct pw_ctx *ctx, const char *path)
{
	char buf[PW_PATH_LEN];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return pw_fail(ctx, errno, "cannot create directory '%s': %s",
				       buf, strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

int pw_bpffs_prepare(struct pw_ctx *ctx, bool create)
{
	char probe[PW_PATH_LEN];
	struct stat st;
	char *slash;
	int fs;

	if (ctx->pin_root[0] != '/')
		return pw_fail(ctx, EINVAL, "pin root '%s' is not an absolute path",
			       ctx->pin_root);
	/* the nearest existing directory decides which filesystem we are on */
	snprintf(probe, sizeof(probe), "%s", ctx->pin_root);
	while (stat(probe, &st) && errno == ENOENT && (slash = strrchr(probe, '/'))) {
		if (slash == probe) {
			probe[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	if ((fs = on_bpffs(probe)) < 0)
		return cannot_look(ctx, -fs);
	if (!fs) {
		bool under_default = !strncmp(ctx->pin_root, PW_BPFFS_MOUNT "/",
					      strlen(PW_BPFFS_MOUNT) + 1) &&
				     !strcmp(probe, PW_BPFFS_MOUNT);

		if (!under_default)
			return pw_fail(ctx, ENOTSUP,
				       "pin root '%s' is not on bpffs: choose a --pin-root below %s, or mount one there with 'mkdir -p %s && mount -t bpf bpf %s'",
				       ctx->pin_root, PW_BPFFS_MOUNT, ctx->pin_root, ctx->pin_root);
		if (!create)
			return pw_fail(ctx, ENOENT,
				       "bpffs not mounted at %s: nothing is loaded (pinwall load mounts it, or run 'mount -t bpf bpf %s')",
				       PW_BPFFS_MOUNT, PW_BPFFS_MOUNT);
		if (mount("bpf", PW_BPFFS_MOUNT, "bpf", 0, "mode=0700"))
			return pw_fail(ctx, errno,
				       "cannot mount bpffs at %s: %s (mount it with 'mount -t bpf bpf %s' as root)",
				       PW_BPFFS_MOUNT, strerror(errno), PW_BPFFS_MOUNT);
		if (on_bpffs(PW_BPFFS_MOUNT) <= 0)
			return pw_fail(ctx, ENOTSUP, "mounted bpffs at %s but it is not visible there",
				       PW_BPFFS_MOUNT);
	}
	if (stat(ctx->pin_root, &st)) {
		if (errno != ENOENT)
			return cannot_look(ctx, errno);
	} else if (!S_ISDIR(st.st_mode)) {
		return pw_fail(ctx, ENOTDIR, "pin root '%s' is not a directory", ctx->pin_root);
	}
	return create ? pw_mkdirs(ctx, ctx->pin_root) : 0;
}

/* bpffs refuses names with '.', which interface names may carry (eth0.100). */
/* -ENAMETOOLONG, never a cut name: a cut one could name another interface */
static int escape_ifname(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 4 < len; in++) {
		if (*in == '.' || *in == '%')
			o += snprintf(out + o, len - o, "%%%02x", (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
	return *in ? -ENAMETOOLONG : 0;
}

void pw_ifname_unescape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	while (*in && o + 1 < len) {
		unsigned int c;

		if (in[0] == '%' && sscanf(in + 1, "%2x", &c) == 1) {
			out[o++] = (char)c;
			in += 3;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}

int pw_ns_dir(const struct pw_ctx *ctx, __u64 netns_ino, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/ns%llu", ctx->pin_root, (unsigned long long)netns_ino);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pw_iface_dir(const struct pw_ctx *ctx, __u64 netns_ino, const char *ifname,
		 char *buf, size_t len)
{
	char esc[3 * IFNAMSIZ + 1], ns[PW_PATH_LEN];
	int err = pw_ns_dir(ctx, netns_ino, ns, sizeof(ns));

	if (!err && strlen(ifname) >= IFNAMSIZ)
		err = -ENAMETOOLONG;
	err = err ?: escape_ifname(ifname, esc, sizeof(esc));
	if (err) {
		if (len)
			buf[0] = '\0';	/* callers that only probe find nothing there */
		return err;
	}
	return pw_join(buf, len, ns, esc);
}

int pw_shared_dir(const struct pw_ctx *ctx, char *buf, size_t len)
{
	return pw_join(buf, len, ctx->pin_root, PW_DIR_SHARED);
}

/* maps/, pending/, the interface directory and its ns<ino> parent, each
 * only when empty: what unload and a rolled-back load leave. */
void pw_remove_empty_dirs(const struct pw_ctx *ctx, const char *ifdir)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN], *slash;

	pw_join(path, sizeof(path), ifdir, PW_DIR_MAPS);
	pw_rmdir_below(path, root_len);
	pw_join(path, sizeof(path), ifdir, PW_DIR_PENDING);
	pw_rmdir_below(path, root_len);
	snprintf(path, sizeof(path), "%s", ifdir);
	/* ifdir, then its ns<ino> parent, never above the pin root */
	for (int i = 0; i < 2; i++) {
		if (pw_rmdir_below(path, root_len))
			break;
		slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) <= root_len)
			break;
		*slash = '\0';
	}
}

int pw_lock(struct pw_ctx *ctx, int *lock_fd)
{
	int fd = open(ctx->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open pin root '%s': %s",
			       ctx->pin_root, strerror(errno));
	if (flock(fd, LOCK_EX)) {
		int err = errno;

		close(fd);
		return pw_fail(ctx, err, "cannot lock pin root '%s': %s",
			       ctx->pin_root, strerror(err));
	}
	*lock_fd = fd;
	return 0;
}

bool pw_lock_held(const struct pw_ctx *ctx)
{
	int fd = open(ctx->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool held;

	/* a probe, never a wait: readers must not block behind a writer */
	held = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	if (fd >= 0)
		close(fd);	/* drops a shared lock taken */
	return held;
}

void pw_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);	/* releases the flock */
}

int pw_ifindex(struct pw_ctx *ctx, const char *ifname)
{
	unsigned int idx;

	if (strlen(ifname) >= IFNAMSIZ)
		return pw_fail(ctx, EINVAL, "interface name '%s' is longer than %d characters",
			       ifname, IFNAMSIZ - 1);
	idx = if_nametoindex(ifname);
	if (!idx)
		return pw_fail(ctx, ENODEV, "no such interface '%s' in this network namespace (see 'ip link')",
			       ifname);
	return (int)idx;
}

/* ---- reuse, migrate or create ---- */

/* Is shared map @name recorded by an interface other than @skip_dir? */
bool pw_shared_in_use(const struct pw_ctx *ctx, const char *skip_dir, const char *name,
		      char *user, size_t len)
{
	char nspath[PW_PATH_LEN], dir[PW_PATH_LEN];
	DIR *root = opendir(ctx->pin_root), *d;
	struct dirent *ns, *ifd;
	bool used = false;

	if (!root)
		return false;
	while (!used && (ns = readdir(root))) {
		if (strncmp(ns->d_name, "ns", 2) ||
		    pw_join(nspath, sizeof(nspath), ctx->pin_root, ns->d_name) ||
		    !(d = opendir(nspath)))
			continue;
		while (!used && (ifd = readdir(d))) {
			struct pw_meta m;

			struct pw_intent in;

			if (ifd->d_name[0] == '.' || pw_join(dir, sizeof(dir), nspath, ifd->d_name) ||
			    (skip_dir && !strcmp(dir, skip_dir)))
				continue;
			if (!pw_meta_read(dir, &m)) {
				for (__u32 i = 0; i < m.n_shared && i < PW_META_SHARED; i++)
					used |= !strncmp(m.shared[i], name, PW_MAP_NAME_LEN);
				if (used && user)
					snprintf(user, len, "%s", m.ifname);
			}
			/* a killed load or reload that staged a program using it */
			if (!used && !pw_intent_read(dir, &in) && in.step >= PW_STEP_STAGED &&
			    in.op != PW_OP_UNLOAD) {
				for (__u32 i = 0; i < in.next.n_shared && i < PW_META_SHARED; i++)
					used |= !strncmp(in.next.shared[i], name, PW_MAP_NAME_LEN);
				if (used && user)
					snprintf(user, len, "%s", in.next.ifname);
			}
		}
		closedir(d);
	}
	closedir(root);
	return used;
}

void pw_plan_free(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->pinned_fd >= 0)
			close(pm->pinned_fd);
		if (pm->snap_fd >= 0)
			close(pm->snap_fd);
		pm->pinned_fd = pm->snap_fd = -1;
		free(pm->mig);
		pm->mig = NULL;
	}
}

static bool in_list(const char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* The first detail line written since @from, without its "map 'X' (PATH): ". */
static void first_reason(const struct pw_ctx *ctx, size_t from, char *buf, size_t len)
{
	const char *p = ctx->detail + from, *colon = strstr(p, "): ");
	size_t n;

	if (colon && colon < strchrnul(p, '\n'))
		p = colon + 3;
	n = strchrnul(p, '\n') - p;
	snprintf(buf, len, "%.*s", (int)n, p);
}

int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 const struct pw_plan_opts *po, struct pw_plan *plan)
{
	static const struct pw_plan_opts none = { 0 };
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN], pending[PW_PATH_LEN];
	char first[PW_NAME_LEN] = "", reason[400] = "", names[256] = "";
	const struct btf *btf = bpf_object__btf(obj);
	struct pw_map_desc *pin = calloc(2, sizeof(*pin)), *nw = pin + 1;
	struct bpf_map *map;
	int err, refused = 0, lossy = 0;
	bool fresh_ok = true;		/* the first refused pin holds a map */
	size_t used = 0;

	memset(plan, 0, sizeof(*plan));
	if (!po)
		po = &none;
	if (!pin)
		return pw_fail(ctx, ENOMEM, "out of memory");
	if ((err = pw_shared_dir(ctx, shared, sizeof(shared))) ||
	    (err = pw_join(maps, sizeof(maps), ifdir, PW_DIR_MAPS)) ||
	    (err = pw_join(pending, sizeof(pending), ifdir, PW_DIR_PENDING))) {
		free(pin);
		return pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);
	}
	bpf_object__for_each_map(map, obj)
		if (!bpf_map__is_internal(map) && used < sizeof(names))
			used += snprintf(names + used, sizeof(names) - used, "%s'%s'",
					 used ? ", " : "", bpf_map__name(map));
	for (int i = 0; i < po->n_fresh; i++) {
		map = bpf_object__find_map_by_name(obj, po->fresh[i]);
		if (!map || bpf_map__is_internal(map)) {
			free(pin);
			return pw_fail(ctx, ENOENT, "--fresh '%s': the program has no such map (its maps: %s); nothing was changed",
				       po->fresh[i], names);
		}
	}

	bpf_object__for_each_map(map, obj) {
		struct pw_plan_map *pm;
		struct bpf_map_info info;
		const char *name = bpf_map__name(map);
		size_t mark = strlen(ctx->detail);
		int fd, d;

		/* .rodata/.bss/.data/.kconfig belong to one load, not to the pins */
		if (bpf_map__is_internal(map))
			continue;
		if (plan->n == PW_MAX_MAPS) {
			err = pw_fail(ctx, E2BIG, "object has more than %d maps", PW_MAX_MAPS);
			goto fail;
		}
		pm = &plan->m[plan->n++];
		pm->map = map;
		pm->pinned_fd = pm->snap_fd = -1;
		/* by default LIBBPF_PIN_BY_NAME keeps its meaning: one map per
		 * name, shared; --pin-scope overrides it for the whole object */
		pm->shared = po->scope == PW_SCOPE_GLOBAL ||
			     (po->scope == PW_SCOPE_OBJECT && bpf_map__pin_path(map) != NULL);
		pm->unpinned = po->scope == PW_SCOPE_NONE;
		bpf_map__set_pin_path(map, NULL);	/* we pin, not libbpf */
		if (pm->unpinned) {
			pm->fate = PW_FATE_CREATE;
			continue;
		}
		err = pw_join(pm->path, sizeof(pm->path), pm->shared ? shared : maps, name);
		if (!err)
			err = snprintf(pm->side, sizeof(pm->side), "%s/%s/%s", pending,
				       pm->shared ? PW_DIR_SHARED : PW_DIR_MAPS, name) >=
			      (int)sizeof(pm->side) ? -ENAMETOOLONG : 0;
		if (!err)
			err = snprintf(pm->side_new, sizeof(pm->side_new), "%s/%s/%s", pending,
				       pm->shared ? PW_DIR_SHARED_NEW : PW_DIR_MAPS_NEW, name) >=
			      (int)sizeof(pm->side_new) ? -ENAMETOOLONG : 0;
		if (!err)
			err = snprintf(pm->snap, sizeof(pm->snap), "%s/%s/%s", pending,
				       PW_DIR_SNAP, name) >= (int)sizeof(pm->snap) ? -ENAMETOOLONG : 0;
		if (err) {
			err = pw_fail(ctx, err, "pin path for map '%s' is too long", name);
			goto fail;
		}
		pm->fate = PW_FATE_CREATE;
		fd = pw_open_map_pin(ctx, pm->path, false);
		if (fd == -ENOENT)
			continue;		/* new in this version: created at load */
		if (fd < 0) {
			pw_detail(ctx, "%s", ctx->err);
			if (!refused++) {
				snprintf(first, sizeof(first), "%s", name);
				snprintf(reason, sizeof(reason), "%s", ctx->err);
				fresh_ok = false;
			}
			continue;
		}
		pm->pinned_fd = fd;
		if ((err = pw_map_info(fd, &info))) {
			err = pw_fail(ctx, err, "cannot read map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
		if (in_list(po->fresh, po->n_fresh, name)) {
			pm->fate = PW_FATE_FRESH;
			d = PW_MAP_MIGRATE;
		} else {
			pw_map_desc_from_info(&info, pin);
			pw_map_desc_from_map(map, btf, nw);
			d = pw_map_decide(ctx, name, pm->path, pin, nw, &pm->mig);
			if (d < 0) {
				err = pw_fail(ctx, d, "out of memory");
				goto fail;
			}
			if (d == PW_MAP_REUSE) {
				pm->fate = PW_FATE_REUSE;
				continue;
			}
			if (d == PW_MAP_MIGRATE && po == &none) {
				/* rule commands create maps, they never migrate them */
				pw_detail(ctx, "map '%s' (%s): %s: reload an interface to migrate it",
					  name, pm->path, pm->mig->why);
				d = PW_MAP_REFUSE;
			}
			if (d == PW_MAP_MIGRATE) {
				__u32 live = 0;
				int over = pw_migration_overflow(pm->mig, fd, &live);

				pm->fate = PW_FATE_MIGRATE;
				if (over < 0) {
					err = pw_fail(ctx, over, "cannot count the entries of map '%s' (%s): %s",
						      name, pm->path, strerror(-over));
					goto fail;
				}
				if (over > 0) {
					pw_detail(ctx, "map '%s' (%s): max_entries pinned %u, new %u: %u entries in use would not fit",
						  name, pm->path, pm->mig->old_max, pm->mig->new_max,
						  live);
					d = PW_MAP_REFUSE;
				} else if (pm->mig->n_dropped && !po->migrate) {
					pw_detail(ctx, "map '%s' (%s): fields pinned but not in the new layout would be dropped: %s",
						  name, pm->path, pm->mig->dropped);
					if (!lossy++ && !refused) {
						snprintf(first, sizeof(first), "%s", name);
						first_reason(ctx, mark, reason, sizeof(reason));
					}
					continue;
				}
			}
			if (d == PW_MAP_REFUSE) {
				if (!refused++) {
					snprintf(first, sizeof(first), "%s", name);
					first_reason(ctx, mark, reason, sizeof(reason));
				}
				continue;
			}
		}
		if (pm->shared) {
			char user[32] = "";

			if (pw_shared_in_use(ctx, po->ifdir ?: ifdir, name, user, sizeof(user))) {
				pw_detail(ctx, "map '%s' (%s): shared with the program on '%s', which would keep the old map",
					  name, pm->path, user);
				if (!refused++) {
					snprintf(first, sizeof(first), "%s", name);
					first_reason(ctx, mark, reason, sizeof(reason));
				}
				continue;
			}
		}
	}
	{
		int n_shared = 0;

		for (int i = 0; i < plan->n; i++)
			n_shared += plan->m[i].shared;
		/* the load record names them all, so unload knows who uses what */
		if (n_shared > PW_META_SHARED) {
			err = pw_fail(ctx, E2BIG, "the program has %d maps to pin by name; pinwall records at most %d: use --pin-scope iface; nothing was changed",
				      n_shared, PW_META_SHARED);
			goto fail;
		}
	}
	if (refused) {
		err = pw_fail(ctx, EEXIST,
			      "pinned map '%s' cannot be reused by this program: %s; nothing was changed%s%s%s%s",
			      first, reason, fresh_ok ? " (start it empty with --fresh " : "",
			      fresh_ok ? first : "", fresh_ok ? ")" : "",
			      refused + lossy > 1 ? " (more maps below)" : "");
		goto fail;
	}
	if (lossy) {
		err = pw_fail(ctx, EEXIST,
			      "pinned map '%s' would lose data in migration: %s; nothing was changed (allow it with --migrate, or start it empty with --fresh %s)%s",
			      first, reason, first, lossy > 1 ? " (more maps below)" : "");
		goto fail;
	}
	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->fate != PW_FATE_REUSE)
			continue;
		err = bpf_map__reuse_fd(pm->map, pm->pinned_fd);
		if (err) {
			err = pw_fail(ctx, err, "cannot reuse map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
	}
	free(pin);
	return 0;
fail:
	free(pin);
	pw_plan_free(plan);
	return err;
}

static int pin_at(struct pw_ctx *ctx, int fd, const char *name, const char *path)
{
	char dir[PW_PATH_LEN];
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if ((err = pw_mkdirs(ctx, dir)))
		return err;
	if (bpf_obj_pin(fd, path))
		return pw_fail(ctx, errno, "cannot pin map '%s' at '%s': %s", name, path,
			       strerror(errno));
	return 0;
}

static void unpin_new(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		if (plan->m[i].pinned_now)
			unlink(plan->m[i].path);
		plan->m[i].pinned_now = false;
	}
}

int pw_plan_pin_shared(struct pw_ctx *ctx, struct pw_plan *plan)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->fate != PW_FATE_CREATE || pm->unpinned || !pm->shared)
			continue;
		if ((err = pin_at(ctx, bpf_map__fd(pm->map), bpf_map__name(pm->map), pm->path))) {
			unpin_new(plan);
			return err;
		}
		pm->pinned_now = true;
	}
	return 0;
}

/*
 * Every map the new program brings (created, migrated, fresh) pinned below
 * pending/, and the first copy of every migration (with a snapshot when an
 * old program still runs). Nothing outside pending/ changes here.
 */
int pw_plan_stage(struct pw_ctx *ctx, struct pw_plan *plan, bool old_runs)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];
		const char *name = bpf_map__name(pm->map);
		int nfd = bpf_map__fd(pm->map);

		if (pm->fate == PW_FATE_REUSE || pm->unpinned)
			continue;
		if (pm->fate == PW_FATE_MIGRATE) {
			if (old_runs) {
				pm->snap_fd = pw_migration_snapshot_create(pm->mig);
				if (pm->snap_fd < 0)
					return pw_fail(ctx, pm->snap_fd,
						       "cannot create a snapshot of map '%s': %s",
						       name, strerror(-pm->snap_fd));
				if ((err = pin_at(ctx, pm->snap_fd, name, pm->snap)))
					return err;
			}
			if (old_runs && (err = pw_migration_check_merge(pm->mig, nfd)))
				return pw_fail(ctx, err, "cannot load the merge helper for map '%s': %s; nothing was changed (start it empty with --fresh %s)",
					       name, strerror(-err), name);
			err = pw_migration_copy(pm->mig, pm->pinned_fd, pm->snap_fd, nfd);
			if (err)
				return pw_fail(ctx, err, "cannot copy the entries of map '%s' (%s): %s; nothing was changed",
					       name, pm->path, strerror(-err));
		}
		/* a map new here must still be new at the rename (see intent.c) */
		if ((err = pin_at(ctx, nfd, name, pm->fate == PW_FATE_CREATE ? pm->side_new : pm->side)))
			return err;
	}
	return 0;
}

static const char *const fate_names[] = {
	[PW_FATE_CREATE] = "created", [PW_FATE_REUSE] = "reused",
	[PW_FATE_MIGRATE] = "migrated", [PW_FATE_FRESH] = "fresh",
};

void pw_plan_report(const struct pw_plan *plan, struct pw_load_report *r)
{
	r->n_maps = 0;
	for (int i = 0; i < plan->n; i++) {
		const struct pw_plan_map *pm = &plan->m[i];
		struct pw_map_report *mr = &r->maps[r->n_maps++];
		struct bpf_map_info info;

		snprintf(mr->name, sizeof(mr->name), "%s", bpf_map__name(pm->map));
		snprintf(mr->path, sizeof(mr->path), "%s", pm->path);
		mr->reused = pm->fate == PW_FATE_REUSE;
		snprintf(mr->fate, sizeof(mr->fate), "%s",
			 pm->unpinned ? "unpinned" : fate_names[pm->fate]);
		if (pm->mig)
			snprintf(mr->why, sizeof(mr->why), "%s", pm->mig->why);
		mr->id = pw_map_info(bpf_map__fd(pm->map), &info) ? 0 : info.id;
	}
}

/* Wait until no program still runs with what it read before: an update of a
 * map-in-map makes the kernel wait for running BPF programs to finish. */
int pw_wait_for_programs(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int inner, outer, err = 0;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (inner < 0)
		return -errno;
	o.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, NULL, 4, 4, 1, &o);
	if (outer < 0)
		err = -errno;
	else if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY))
		err = -errno;
	if (outer >= 0)
		close(outer);
	close(inner);
	return err;
}
