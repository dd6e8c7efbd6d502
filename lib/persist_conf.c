// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The config directory restore reads: the interfaces file (parsed here) and
 * the rule file (docs/RULES.md, parsed by rule_file.c), both read whole and
 * checked whole before anything is changed; every error names FILE:LINE.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "internal.h"
#include "pinwall/persist.h"

#define CONF_LINE_MAX 4095

void pw_saved_free(struct pw_saved *s)
{
	free(s->ifs);
	pw_ruleset_free(&s->rules);
	pw_block_list_free(&s->blocks);
	memset(s, 0, sizeof(*s));
}

void pw_saved_iface_format(const struct pw_saved_iface *i, char *buf, size_t len)
{
	size_t o = snprintf(buf, len, "%s mode %s", i->ifname, pw_mode_name(i->mode));

	if (!i->builtin && o < len) {
		o += snprintf(buf + o, len - o, " obj %s", i->object);
		if (i->prog[0] && o < len)
			o += snprintf(buf + o, len - o, " prog %s", i->prog);
		if (o < len)
			o += snprintf(buf + o, len - o, " scope %s", pw_scope_name(i->scope));
	}
	for (__u32 k = 0; k < i->binds.n && k < PW_BINDS_MAX && o < len; k++)
		o += snprintf(buf + o, len - o, " map %s=%s", i->binds.map[k].name,
			      i->binds.map[k].path);
	if ((i->binds.flags & PW_BINDS_FLAT) && o < len)
		o += snprintf(buf + o, len - o, " flat on");
	if (i->steer.n && o < len) {
		char cpus[256];

		pw_steer_str(&i->steer, cpus, sizeof(cpus));
		o += snprintf(buf + o, len - o, " steer %s", cpus);
	}
	if (i->then[0] && o < len)
		o += snprintf(buf + o, len - o, " then %s", i->then);
	if (i->then[0] && i->then_prog[0] && o < len)
		snprintf(buf + o, len - o, " thenprog %s", i->then_prog);
}

/* What the kernel takes as a device name, and a word of this format. */
static bool ifname_ok(const char *n)
{
	if (!*n || strlen(n) >= IF_NAMESIZE || !strcmp(n, ".") || !strcmp(n, "..") || *n == '#')
		return false;
	for (const char *p = n; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return false;
	return true;
}

/* The interfaces file being read: its name and line for messages. */
struct conf_file {
	FILE *f;
	const char *name;
	int line;
};

__attribute__((format(printf, 3, 4)))
static int conf_fail(struct pw_ctx *ctx, const struct conf_file *cf, const char *fmt, ...)
{
	char msg[PW_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pw_fail(ctx, EINVAL, "%s:%d: %s", cf->name, cf->line, msg);
}

static int scope_parse(const char *w, enum pw_pin_scope *scope)
{
	for (int s = PW_SCOPE_OBJECT; s <= PW_SCOPE_NONE; s++)
		if (!strcmp(w, pw_scope_name(s))) {
			*scope = s;
			return 0;
		}
	return -EINVAL;
}

/* The value of KEYWORD VALUE, or an error naming the keyword. */
static const char *value_of(struct pw_ctx *ctx, const struct conf_file *cf, const char *key,
			    char **save, int *err)
{
	const char *v = strtok_r(NULL, " \t\r", save);

	if (!v || *v == '#')
		*err = conf_fail(ctx, cf, "'%s' needs a value", key);
	return *err ? NULL : v;
}

/* map NAME=PATH (load --map): one more binding of @i. */
static int bind_word(struct pw_ctx *ctx, const struct conf_file *cf, const char *v,
		     struct pw_saved_iface *i)
{
	const char *eq = strchr(v, '=');
	struct pw_bind *bd = &i->binds.map[i->binds.n];

	if (!eq || eq == v || !eq[1] || eq[1] != '/')
		return conf_fail(ctx, cf, "invalid map '%s': use NAME=PATH with an absolute PATH", v);
	if ((size_t)(eq - v) >= sizeof(bd->name) || strlen(eq + 1) >= sizeof(bd->path))
		return conf_fail(ctx, cf, "map '%.40s...' is too long", v);
	if (i->binds.n >= PW_BINDS_MAX)
		return conf_fail(ctx, cf, "more than %d maps bound", PW_BINDS_MAX);
	snprintf(bd->name, sizeof(bd->name), "%.*s", (int)(eq - v), v);
	snprintf(bd->path, sizeof(bd->path), "%s", eq + 1);
	i->binds.n++;
	i->binds.version = PW_BINDS_VERSION;
	return 0;
}

/* steer CPULIST, then PATH, thenprog NAME (load --steer, --then, --prog). */
static int chain_steer_word(struct pw_ctx *ctx, const struct conf_file *cf, int k,
			    const char *v, struct pw_saved_iface *i)
{
	if (k == 6 && pw_steer_parse(ctx, v, &i->steer))
		return conf_fail(ctx, cf, "invalid steer '%.60s': %s", v, ctx->err);
	if (k == 7 && (*v != '/' || strlen(v) >= sizeof(i->then)))
		return conf_fail(ctx, cf, *v != '/' ? "chained object path '%s' is not absolute" :
				 "chained object path '%.40s...' is too long", v);
	if (k == 8 && strlen(v) >= sizeof(i->then_prog))
		return conf_fail(ctx, cf, "chained program name '%.40s...' is too long", v);
	if (k == 7)
		snprintf(i->then, sizeof(i->then), "%s", v);
	if (k == 8)
		snprintf(i->then_prog, sizeof(i->then_prog), "%s", v);
	return 0;
}

/* KEY VALUE pairs after the interface name, in any order, each once
 * (map: as often as maps are bound). */
static int parse_words(struct pw_ctx *ctx, const struct conf_file *cf, char **save,
		       struct pw_saved_iface *i)
{
	bool seen[9] = { false };
	static const char *const keys[] = { "mode", "obj", "prog", "scope", "map", "flat",
					    "steer", "then", "thenprog" };
	const char *w, *v;
	int err = 0, k;

	while (!err && (w = strtok_r(NULL, " \t\r", save)) && *w != '#') {
		for (k = 0; k < 9 && strcmp(w, keys[k]); k++)
			;
		if (k == 9)
			return conf_fail(ctx, cf, "unknown keyword '%s': use mode, obj, prog, scope, map, flat, steer, then or thenprog", w);
		if (seen[k] && k != 4)
			return conf_fail(ctx, cf, "'%s' given twice", w);
		seen[k] = true;
		if (!(v = value_of(ctx, cf, w, save, &err)))
			return err;
		if (k == 0 && pw_mode_parse(v, &i->mode))
			return conf_fail(ctx, cf, "invalid mode '%s': use native, skb or auto", v);
		if (k == 1 && (*v != '/' || strlen(v) >= sizeof(i->object)))
			return conf_fail(ctx, cf, *v != '/' ? "object path '%s' is not absolute" :
					 "object path '%.40s...' is too long", v);
		if (k == 2 && strlen(v) >= sizeof(i->prog))
			return conf_fail(ctx, cf, "program name '%.40s...' is too long", v);
		if (k == 4 && (err = bind_word(ctx, cf, v, i)))
			return err;
		if (k == 5 && strcmp(v, "on"))
			return conf_fail(ctx, cf, "invalid flat '%s': use 'flat on'", v);
		if (k == 5)
			i->binds.flags |= PW_BINDS_FLAT;
		if (k == 3 && scope_parse(v, &i->scope))
			return conf_fail(ctx, cf, "invalid scope '%s': use object, global, iface or none", v);
		if (k >= 6 && (err = chain_steer_word(ctx, cf, k, v, i)))
			return err;
		if (k == 1)
			snprintf(i->object, sizeof(i->object), "%s", v);
		if (k == 2)
			snprintf(i->prog, sizeof(i->prog), "%s", v);
	}
	i->builtin = !seen[1];
	if (i->builtin && (seen[2] || seen[3] || seen[4]))
		return conf_fail(ctx, cf, "'%s' needs 'obj PATH' (the built-in program has one program and shared rule maps)",
				 seen[2] ? "prog" : seen[3] ? "scope" : "map");
	if (seen[8] && !seen[7])
		return conf_fail(ctx, cf, "'thenprog' needs 'then PATH' (the chained object)");
	if (seen[6] && seen[7])
		return conf_fail(ctx, cf, "'steer' and 'then' both say where a passed frame goes: keep one");
	return 0;
}

int pw_saved_push(struct pw_ctx *ctx, struct pw_saved *s, const struct pw_saved_iface *i)
{
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		struct pw_saved_iface *n = realloc(s->ifs, cap * sizeof(*n));

		if (!n)
			return pw_fail(ctx, ENOMEM, "out of memory");
		s->ifs = n;
		s->cap = cap;
	}
	s->ifs[s->n++] = *i;
	return 0;
}

/* blocks: NAME, the blocks file of this save (a name save writes, in the
 * config directory). */
static int blocks_line(struct pw_ctx *ctx, const struct conf_file *cf, char **save,
		       struct pw_saved *s)
{
	const char *v, *name;
	int err = 0;

	if (s->has_blocks)
		return conf_fail(ctx, cf, "'blocks:' given twice (first on line %d)", s->blocks_line);
	if (!(v = value_of(ctx, cf, "blocks:", save, &err)))
		return err;
	name = v;
	if (!pw_blocks_name_ok(v))
		return conf_fail(ctx, cf, "invalid blocks file name '%.60s': '%s@' and digits, as save writes it",
				 v, PW_CONF_BLOCKS);
	if ((v = strtok_r(NULL, " \t\r", save)) && *v != '#')
		return conf_fail(ctx, cf, "unexpected '%.60s' after the blocks file name", v);
	if (pw_join(s->blocks_path, sizeof(s->blocks_path), s->dir, name))
		return conf_fail(ctx, cf, "config directory too long");
	s->has_blocks = true;
	s->blocks_line = cf->line;
	return 0;
}

/* One line: blank, a comment, 'blocks: NAME' or an interface. */
static int parse_line(struct pw_ctx *ctx, const struct conf_file *cf, char *line,
		      struct pw_saved *s)
{
	struct pw_saved_iface i = { .line = cf->line };
	char *save = NULL, *name = strtok_r(line, " \t\r", &save);
	int err;

	if (!name || *name == '#')
		return 0;
	if (!strcmp(name, "blocks:"))
		return blocks_line(ctx, cf, &save, s);
	if (!ifname_ok(name))
		return conf_fail(ctx, cf, "invalid interface name '%s': 1 to %d characters, no '/', ':' or blanks",
				 name, IF_NAMESIZE - 1);
	for (int k = 0; k < s->n; k++)
		if (!strcmp(s->ifs[k].ifname, name))
			return conf_fail(ctx, cf, "interface '%s' given twice (first on line %d)",
					 name, s->ifs[k].line);
	snprintf(i.ifname, sizeof(i.ifname), "%s", name);
	if ((err = parse_words(ctx, cf, &save, &i)))
		return err;
	return pw_saved_push(ctx, s, &i);
}

/* Read the whole file: a read error, a NUL byte or a line too long refuses it. */
static int read_ifaces(struct pw_ctx *ctx, struct conf_file *cf, struct pw_saved *s)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;

	errno = 0;
	while (!err && (n = getline(&line, &cap, cf->f)) >= 0) {
		cf->line++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n)
			err = conf_fail(ctx, cf, "NUL byte: the interfaces file is text");
		else if (n > CONF_LINE_MAX)
			err = conf_fail(ctx, cf, "line is longer than %d characters", CONF_LINE_MAX);
		else
			err = parse_line(ctx, cf, line, s);
	}
	if (!err && ferror(cf->f))
		err = pw_fail(ctx, errno ?: EIO, "cannot read '%s': %s", cf->name,
			      strerror(errno ?: EIO));
	free(line);
	return err;
}

/* Every object opens and has the program named: a load would not fail on it. */
static int check_objects(struct pw_ctx *ctx, const struct pw_saved *s)
{
	for (int k = 0; k < s->n; k++) {
		const struct pw_saved_iface *i = &s->ifs[k];
		struct pw_obj o;
		char msg[PW_ERR_LEN];
		int err;

		if (i->then[0] &&
		    (err = pw_obj_open(ctx, i->then, i->then_prog[0] ? i->then_prog : NULL, &o))) {
			snprintf(msg, sizeof(msg), "%s", ctx->err);
			return pw_fail(ctx, err, "%s:%d: chained: %s", s->ifaces_path, i->line, msg);
		}
		if (i->then[0])
			pw_obj_close(&o);
		if (i->builtin)
			continue;
		if ((err = pw_obj_open(ctx, i->object, i->prog[0] ? i->prog : NULL, &o))) {
			snprintf(msg, sizeof(msg), "%s", ctx->err);
			return pw_fail(ctx, err, "%s:%d: %s", s->ifaces_path, i->line, msg);
		}
		pw_obj_close(&o);
	}
	return 0;
}

static int regular(struct pw_ctx *ctx, int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st))
		return pw_fail(ctx, errno, "'%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pw_fail(ctx, EINVAL, "'%s' is not a regular file", path);
	return 0;
}

int pw_config_read(struct pw_ctx *ctx, const char *dir, struct pw_saved *s)
{
	struct conf_file cf = { 0 };
	int err, fd;

	memset(s, 0, sizeof(*s));
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir) ||
	    pw_join(s->ifaces_path, sizeof(s->ifaces_path), dir, PW_CONF_IFACES) ||
	    pw_join(s->rules_path, sizeof(s->rules_path), dir, PW_CONF_RULES))
		return pw_fail(ctx, ENAMETOOLONG, "config directory '%.40s...' is too long", dir);
	cf.name = s->ifaces_path;
	/* a FIFO or a device would hang a boot or never end: opened without
	 * blocking, checked, then read through the same descriptor */
	if ((fd = open(cf.name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return pw_fail(ctx, errno, "interfaces file '%s': %s (written by 'pinwall save')",
			       cf.name, strerror(errno));
	if ((err = regular(ctx, fd, cf.name)) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) || !(cf.f = fdopen(fd, "re"))) {
		err = err ?: pw_fail(ctx, errno, "interfaces file '%s': %s", cf.name, strerror(errno));
		close(fd);
		return err;
	}
	err = read_ifaces(ctx, &cf, s);
	if (!err && (fd = open(s->rules_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		err = regular(ctx, fd, s->rules_path);
		close(fd);
	}
	fclose(cf.f);
	if (!err)
		err = pw_ruleset_parse_file(ctx, s->rules_path, &s->rules);
	if (!err && s->rules.policy < 0)
		err = pw_fail(ctx, EINVAL, "rule file '%s' has no 'policy allow|deny' line: a saved rule set names its policy",
			      s->rules_path);
	if (!err)
		err = check_objects(ctx, s);
	if (!err && s->has_blocks)
		err = pw_blocks_file_read(ctx, s->blocks_path, &s->blocks);
	if (err)
		pw_saved_free(s);
	return err;
}
