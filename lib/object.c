// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The BPF object a load or reload brings: the built-in program or an ELF
 * file (checked to be one before libbpf reads it), its one XDP program
 * picked (every other program stays unloaded), and the kernel's verdict.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "pinwall.skel.h"

void pw_obj_close(struct pw_obj *o)
{
	if (o->skel)
		pinwall__destroy(o->skel);
	else
		bpf_object__close(o->obj);
	memset(o, 0, sizeof(*o));
}

static int obj_check_file(struct pw_ctx *ctx, const char *path)
{
	unsigned char magic[4];
	struct stat st;
	int fd;
	ssize_t n;

	if (stat(path, &st))
		return pw_fail(ctx, errno, "object file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pw_fail(ctx, EINVAL, "object file '%s' is not a regular file", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pw_fail(ctx, errno, "object file '%s': %s", path, strerror(errno));
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n != sizeof(magic) || memcmp(magic, "\177ELF", 4))
		return pw_fail(ctx, ENOEXEC,
			       "object file '%s' is not an ELF file: build it with clang -target bpf",
			       path);
	return 0;
}

/* The object's absolute path, as the load record keeps it: never cut. */
static int obj_abs_path(struct pw_ctx *ctx, const char *path, char *out, size_t len)
{
	char real[PATH_MAX];
	const char *p = realpath(path, real) ? real : path;

	if (strlen(p) >= len)
		return pw_fail(ctx, ENAMETOOLONG, "object path '%s' is too long: at most %zu characters",
			       p, len - 1);
	snprintf(out, len, "%s", p);
	return 0;
}

/* Pick the XDP program; every other program in the object stays unloaded. */
static int obj_pick_prog(struct pw_ctx *ctx, struct pw_obj *o, const char *name)
{
	const char *what = o->object[0] ? o->object : "the built-in object";
	struct bpf_program *p;
	char names[256] = "";
	size_t used = 0;

	bpf_object__for_each_program(p, o->obj) {
		bool xdp = bpf_program__type(p) == BPF_PROG_TYPE_XDP;

		if (xdp && used < sizeof(names))
			used += snprintf(names + used, sizeof(names) - used, "%s'%s'",
					 used ? ", " : "", bpf_program__name(p));
		if (name && !strcmp(bpf_program__name(p), name)) {
			if (!xdp)
				return pw_fail(ctx, EINVAL, "program '%s' in '%s' is of type %s, not xdp",
					       name, what,
					       libbpf_bpf_prog_type_str(bpf_program__type(p)) ?: "?");
			o->prog = p;
		} else if (!name && xdp && !o->prog) {
			o->prog = p;
		}
	}
	if (!o->prog && name)
		return pw_fail(ctx, ENOENT, "no program '%s' in '%s'%s%s%s", name, what,
			       names[0] ? " (XDP programs: " : "", names, names[0] ? ")" : "");
	if (!o->prog)
		return pw_fail(ctx, ENOENT, "no XDP program in '%s' (programs need SEC(\"xdp\"))",
			       what);
	bpf_object__for_each_program(p, o->obj)
		bpf_program__set_autoload(p, p == o->prog);
	if (names[0] && !name && strchr(names, ','))
		return pw_fail(ctx, EINVAL, "'%s' has several XDP programs (%s): choose one with --prog",
			       what, names);
	return 0;
}

/* "'a', 'b', ..." of @obj's own maps, for messages (cut at @len). */
void pw_obj_map_names(struct bpf_object *obj, char *buf, size_t len)
{
	struct bpf_map *map;
	size_t used = 0;

	buf[0] = 0;
	bpf_object__for_each_map(map, obj)
		if (!bpf_map__is_internal(map) && used < len)
			used += snprintf(buf + used, len - used, "%s'%s'", used ? ", " : "",
					 bpf_map__name(map));
}

int pw_obj_open(struct pw_ctx *ctx, const char *path, const char *prog, struct pw_obj *o)
{
	char shared[PW_PATH_LEN];
	int err;

	memset(o, 0, sizeof(*o));
	pw_shared_dir(ctx, shared, sizeof(shared));
	if (!path) {
		o->skel = pinwall__open();
		if (!o->skel)
			return pw_fail(ctx, errno, "cannot open the built-in program: %s",
				       strerror(errno));
		o->obj = o->skel->obj;
	} else {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = shared);

		if ((err = obj_check_file(ctx, path)))
			return err;
		if ((err = obj_abs_path(ctx, path, o->object, sizeof(o->object))))
			return err;
		o->obj = bpf_object__open_file(path, &opts);
		if (!o->obj) {
			err = -errno;
			char msg[128];

			libbpf_strerror(err, msg, sizeof(msg));
			memset(o, 0, sizeof(*o));
			return pw_fail(ctx, err, "object file '%s' is not a usable BPF object: %s",
				       path, msg);
		}
	}
	err = obj_pick_prog(ctx, o, prog);
	if (err)
		pw_obj_close(o);
	return err;
}

int pw_obj_load(struct pw_ctx *ctx, struct pw_obj *o)
{
	int err = bpf_object__load(o->obj);
	char msg[128];

	if (!err)
		return 0;
	libbpf_strerror(err, msg, sizeof(msg));
	err = pw_fail(ctx, err, "the kernel rejected program '%s' from '%s': %s",
		      bpf_program__name(o->prog),
		      o->object[0] ? o->object : "the built-in object", msg);
	pw_log_verifier_tail(ctx, 12);
	return err;
}
