// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pins: privileges, bpffs, the layout below the pin root, the lock, and the
 * reuse-or-create decision for every map of an object.
 */
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
#include "meta.skel.h"

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

static bool on_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
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
	if (!on_bpffs(probe)) {
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
		if (!on_bpffs(PW_BPFFS_MOUNT))
			return pw_fail(ctx, ENOTSUP, "mounted bpffs at %s but it is not visible there",
				       PW_BPFFS_MOUNT);
	}
	if (stat(ctx->pin_root, &st) == 0 && !S_ISDIR(st.st_mode))
		return pw_fail(ctx, ENOTDIR, "pin root '%s' is not a directory", ctx->pin_root);
	return create ? pw_mkdirs(ctx, ctx->pin_root) : 0;
}

/* bpffs refuses names with '.', which interface names may carry (eth0.100). */
static void escape_ifname(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 4 < len; in++) {
		if (*in == '.' || *in == '%')
			o += snprintf(out + o, len - o, "%%%02x", (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
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

	escape_ifname(ifname, esc, sizeof(esc));
	return err ?: pw_join(buf, len, ns, esc);
}

int pw_shared_dir(const struct pw_ctx *ctx, char *buf, size_t len)
{
	return pw_join(buf, len, ctx->pin_root, PW_DIR_SHARED);
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

void pw_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);	/* releases the flock */
}

enum pw_obj_kind pw_fd_kind(int fd)
{
	char proc[64], target[128];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, target, sizeof(target) - 1);
	if (n < 0)
		return PW_OBJ_NONE;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:bpf-map"))
		return PW_OBJ_MAP;
	if (!strcmp(target, "anon_inode:bpf-prog"))
		return PW_OBJ_PROG;
	if (!strcmp(target, "anon_inode:bpf-link"))
		return PW_OBJ_LINK;
	return PW_OBJ_OTHER;
}

static const char *kind_name(enum pw_obj_kind k)
{
	switch (k) {
	case PW_OBJ_MAP: return "a map";
	case PW_OBJ_PROG: return "a program";
	case PW_OBJ_LINK: return "a link";
	default: return "an unknown object";
	}
}

int pw_open_map_pin(struct pw_ctx *ctx, const char *path, bool rdonly)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	enum pw_obj_kind kind;
	struct stat st;
	int fd;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return -ENOENT;
		return pw_fail(ctx, errno, "cannot look at pin '%s': %s%s", path, strerror(errno),
			       errno == EACCES ? " (run as root)" : "");
	}
	if (S_ISDIR(st.st_mode))
		return pw_fail(ctx, EISDIR, "pin path '%s' is a directory, not a map", path);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return pw_fail(ctx, errno, "cannot open pin '%s': %s", path, strerror(errno));
	kind = pw_fd_kind(fd);
	if (kind != PW_OBJ_MAP) {
		close(fd);
		return pw_fail(ctx, EEXIST, "pin path '%s' holds %s, not a map: remove it or choose another --pin-root",
			       path, kind_name(kind));
	}
	return fd;
}

int pw_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int pw_prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int pw_link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
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

/* ---- reuse or create ---- */

static __u32 expected_max_entries(const struct bpf_map *map)
{
	__u32 n = bpf_map__max_entries(map);

	/* libbpf sizes a perf event array with 0 entries to the CPU count */
	if (bpf_map__type(map) == BPF_MAP_TYPE_PERF_EVENT_ARRAY && n == 0) {
		int cpus = libbpf_num_possible_cpus();

		n = cpus > 0 ? (__u32)cpus : 0;
	}
	return n;
}

/* One detail line per differing property; returns the number of them. */
static int compat_diff(struct pw_ctx *ctx, const char *name, const char *path,
		       const struct bpf_map_info *pin, const struct bpf_map *map)
{
	struct {
		const char *what;
		__u32 pinned, wanted;
	} props[] = {
		{ "type", pin->type, bpf_map__type(map) },
		{ "key_size", pin->key_size, bpf_map__key_size(map) },
		{ "value_size", pin->value_size, bpf_map__value_size(map) },
		{ "max_entries", pin->max_entries, expected_max_entries(map) },
		{ "flags", pin->map_flags, bpf_map__map_flags(map) },
	};
	int diffs = 0;

	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		if (props[i].pinned == props[i].wanted)
			continue;
		if (!strcmp(props[i].what, "type"))
			pw_detail(ctx, "map '%s' (%s): type pinned %s, new %s", name, path,
				  libbpf_bpf_map_type_str(props[i].pinned) ?: "?",
				  libbpf_bpf_map_type_str(props[i].wanted) ?: "?");
		else if (!strcmp(props[i].what, "flags"))
			pw_detail(ctx, "map '%s' (%s): flags pinned 0x%x, new 0x%x", name, path,
				  props[i].pinned, props[i].wanted);
		else
			pw_detail(ctx, "map '%s' (%s): %s pinned %u, new %u", name, path,
				  props[i].what, props[i].pinned, props[i].wanted);
		diffs++;
	}
	return diffs;
}

void pw_plan_free(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		if (plan->m[i].pinned_fd >= 0)
			close(plan->m[i].pinned_fd);
		plan->m[i].pinned_fd = -1;
	}
}

int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 struct pw_plan *plan)
{
	char shared[PW_PATH_LEN], maps[PW_PATH_LEN];
	struct bpf_map *map;
	int err, bad = 0, incompatible = 0;

	memset(plan, 0, sizeof(*plan));
	if ((err = pw_shared_dir(ctx, shared, sizeof(shared))) ||
	    (err = pw_join(maps, sizeof(maps), ifdir, PW_DIR_MAPS)))
		return pw_fail(ctx, err, "pin root '%s' is too long", ctx->pin_root);

	bpf_object__for_each_map(map, obj) {
		struct pw_plan_map *pm;
		struct bpf_map_info info;
		const char *name = bpf_map__name(map);
		int fd;

		/* .rodata/.bss/.data/.kconfig belong to one load, not to the pins */
		if (bpf_map__is_internal(map))
			continue;
		if (plan->n == PW_MAX_MAPS) {
			err = pw_fail(ctx, E2BIG, "object has more than %d maps", PW_MAX_MAPS);
			goto fail;
		}
		pm = &plan->m[plan->n++];
		pm->map = map;
		pm->pinned_fd = -1;
		/* LIBBPF_PIN_BY_NAME keeps its meaning: one map per name, shared */
		pm->shared = bpf_map__pin_path(map) != NULL;
		bpf_map__set_pin_path(map, NULL);	/* we pin, not libbpf */
		err = pw_join(pm->path, sizeof(pm->path), pm->shared ? shared : maps, name);
		if (err) {
			err = pw_fail(ctx, err, "pin path for map '%s' is too long", name);
			goto fail;
		}
		fd = pw_open_map_pin(ctx, pm->path, false);
		if (fd == -ENOENT)
			continue;		/* new in this version: created at load */
		if (fd < 0) {
			pw_detail(ctx, "%s", ctx->err);
			bad++;
			continue;
		}
		pm->pinned_fd = fd;
		if ((err = pw_map_info(fd, &info))) {
			err = pw_fail(ctx, err, "cannot read map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
		if (compat_diff(ctx, name, pm->path, &info, map))
			incompatible++;
	}
	if (bad || incompatible) {
		err = pw_fail(ctx, EEXIST,
			      "%d pinned map(s) cannot be reused by this program; nothing was changed",
			      bad + incompatible);
		goto fail;
	}
	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];

		if (pm->pinned_fd < 0)
			continue;
		err = bpf_map__reuse_fd(pm->map, pm->pinned_fd);
		if (err) {
			err = pw_fail(ctx, err, "cannot reuse map pinned at '%s': %s",
				      pm->path, strerror(-err));
			goto fail;
		}
	}
	return 0;
fail:
	pw_plan_free(plan);
	return err;
}

int pw_plan_pin_new(struct pw_ctx *ctx, struct pw_plan *plan, bool shared_only)
{
	int err;

	for (int i = 0; i < plan->n; i++) {
		struct pw_plan_map *pm = &plan->m[i];
		char dir[PW_PATH_LEN];

		if (pm->pinned_fd >= 0 || (shared_only && !pm->shared))
			continue;
		snprintf(dir, sizeof(dir), "%s", pm->path);
		*strrchr(dir, '/') = '\0';
		if ((err = pw_mkdirs(ctx, dir)))
			goto undo;
		if (bpf_obj_pin(bpf_map__fd(pm->map), pm->path)) {
			err = pw_fail(ctx, errno, "cannot pin map '%s' at '%s': %s",
				      bpf_map__name(pm->map), pm->path, strerror(errno));
			goto undo;
		}
		pm->pinned_now = true;
	}
	return 0;
undo:
	pw_plan_unpin_new(plan);
	return err;
}

void pw_plan_unpin_new(struct pw_plan *plan)
{
	for (int i = 0; i < plan->n; i++) {
		if (plan->m[i].pinned_now)
			unlink(plan->m[i].path);
		plan->m[i].pinned_now = false;
	}
}

void pw_plan_report(const struct pw_plan *plan, struct pw_load_report *r)
{
	r->n_maps = 0;
	for (int i = 0; i < plan->n; i++) {
		const struct pw_plan_map *pm = &plan->m[i];
		struct pw_map_report *mr = &r->maps[r->n_maps++];
		struct bpf_map_info info;

		snprintf(mr->name, sizeof(mr->name), "%s", bpf_map__name(pm->map));
		snprintf(mr->path, sizeof(mr->path), "%s", pm->path);
		mr->reused = pm->pinned_fd >= 0;
		mr->id = pw_map_info(bpf_map__fd(pm->map), &info) ? 0 : info.id;
	}
}

/* ---- the load record ---- */

int pw_meta_read(const char *ifdir, struct pw_meta *meta)
{
	char path[PW_PATH_LEN];
	struct bpf_map_info info;
	__u32 zero = 0;
	int fd, err;

	if (pw_join(path, sizeof(path), ifdir, PW_PIN_META))
		return -ENAMETOOLONG;
	fd = bpf_obj_get_opts(path, &(struct bpf_obj_get_opts){
		.sz = sizeof(struct bpf_obj_get_opts), .file_flags = BPF_F_RDONLY });
	if (fd < 0)
		return -errno;
	err = pw_fd_kind(fd) != PW_OBJ_MAP ? -EPROTO : pw_map_info(fd, &info);
	if (!err && info.value_size != sizeof(*meta))
		err = -EPROTO;		/* written by another pinwall version */
	if (!err && bpf_map_lookup_elem(fd, &zero, meta))
		err = -errno;
	close(fd);
	return err;
}

int pw_meta_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta)
{
	struct meta *skel = NULL;
	char path[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err;

	if ((err = pw_join(path, sizeof(path), ifdir, PW_PIN_META)))
		return pw_fail(ctx, err, "pin path in '%s' is too long", ifdir);
	fd = pw_open_map_pin(ctx, path, false);
	if (fd == -ENOENT) {
		skel = meta__open_and_load();
		if (!skel)
			return pw_fail(ctx, errno, "cannot create the load record map: %s",
				       strerror(errno));
		fd = dup(bpf_map__fd(skel->maps.pw_meta));
		if (fd >= 0 && bpf_obj_pin(fd, path)) {
			err = pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));
			goto out;
		}
	}
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (bpf_map_update_elem(fd, &zero, meta, BPF_ANY))
		err = pw_fail(ctx, errno, "cannot write '%s': %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	meta__destroy(skel);
	return err;
}
