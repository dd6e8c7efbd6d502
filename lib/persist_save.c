// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * save: the desired state read from what runs (interfaces with pinwall's
 * program, the rule set in force), written as plain files that restore and
 * 'rule apply' read back to the same state. Each file is written whole to a
 * temporary name, synced, renamed over the old one and the directory
 * synced: a crash leaves the old file or the new one, never a mix. Set
 * files get names new with each save, so the rule file in place always
 * reads the set files it was written with (write_all).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "internal.h"
#include "pinwall/persist.h"

/* ---- collect ---- */

/* A value written as one word of the interfaces file. */
static bool word_ok(const char *v)
{
	if (!*v || *v == '#')
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (isspace(*p) || iscntrl(*p))
			return false;
	return true;
}

struct collect {
	struct pw_ctx *ctx;
	struct pw_saved *s;
};

/* load --steer and --then as in force (the chain record names the object
 * and program of what sits in the slot). */
static int collect_chain_steer(struct pw_ctx *ctx, const struct pw_status *st,
			       struct pw_saved_iface *i)
{
	struct pw_chain_rec rec;
	__u32 slot = 0;
	int fd;

	if (pw_steer_read(ctx, st->ifdir, &i->steer))
		memset(&i->steer, 0, sizeof(i->steer));
	ctx->err[0] = '\0';
	fd = pw_chain_array(ctx, st->ifdir);
	if (fd >= 0) {
		slot = pw_chain_slot_id(fd);
		close(fd);
	}
	ctx->err[0] = '\0';
	if (!slot)
		return 0;
	if (pw_chain_rec_read(ctx, st->ifdir, &rec) || rec.prog_id != slot || !rec.object[0])
		return pw_fail(ctx, ENOENT, "cannot save '%s': the record of its chained program (id %u) is missing ('pinwall reload %s --then OBJ' rewrites it); nothing was saved",
			       st->ifname, slot, st->ifname);
	snprintf(i->then, sizeof(i->then), "%.*s", (int)sizeof(i->then) - 1, rec.object);
	snprintf(i->then_prog, sizeof(i->then_prog), "%.*s", (int)sizeof(i->then_prog) - 1,
		 rec.prog);
	if (!word_ok(i->then) || (i->then_prog[0] && !word_ok(i->then_prog)))
		return pw_fail(ctx, EINVAL, "cannot save '%s': its chained object '%s' has a blank or control character (the interfaces file is words); nothing was saved",
			       st->ifname, i->then);
	return 0;
}

static int collect_iface(const struct pw_status *st, void *arg)
{
	struct pw_ctx *ctx = ((struct collect *)arg)->ctx;
	struct pw_saved *s = ((struct collect *)arg)->s;
	struct pw_saved_iface i = { 0 };
	struct stat sb;
	int err;

	if (!st->ours)
		return 0;	/* not loaded (kept maps, stale pins, another tool's) */
	if (st->have_intent && !st->intent_running)
		return pw_fail(ctx, EAGAIN, "an interrupted %s on '%s': 'pinwall recover %s' settles it; nothing was saved",
			       pw_op_name(st->intent.op), st->ifname, st->ifname);
	if (!st->have_meta)
		return pw_fail(ctx, ENOENT, "the load record of '%s' is missing ('pinwall repin %s' or 'pinwall reload %s' restores it); nothing was saved",
			       st->ifname, st->ifname, st->ifname);
	snprintf(i.ifname, sizeof(i.ifname), "%s", st->ifname);
	i.mode = st->xdp.mode;
	i.builtin = st->meta.builtin;
	i.scope = st->meta.pin_scope;
	snprintf(i.prog, sizeof(i.prog), "%.*s", (int)sizeof(i.prog) - 1, st->meta.prog);
	if (!i.builtin) {
		snprintf(i.object, sizeof(i.object), "%.*s", (int)sizeof(i.object) - 1,
			 st->meta.object);
		if (!word_ok(i.object))
			return pw_fail(ctx, EINVAL, "cannot save '%s': its object path '%s' has a blank or control character (the interfaces file is words); nothing was saved",
				       st->ifname, i.object);
		if (stat(i.object, &sb) || !S_ISREG(sb.st_mode))
			return pw_fail(ctx, ENOENT, "cannot save '%s': its object '%s' is gone (restore would need it): reload it from a file that stays; nothing was saved",
				       st->ifname, i.object);
	}
	/* load --map, --flat-path: kept as the record says */
	if (pw_binds_read(ctx, st->ifdir, &i.binds))
		memset(&i.binds, 0, sizeof(i.binds));
	for (__u32 k = 0; k < i.binds.n; k++)
		if (!word_ok(i.binds.map[k].path) || !word_ok(i.binds.map[k].name))
			return pw_fail(ctx, EINVAL, "cannot save '%s': its bound map '%s' has a blank or control character (the interfaces file is words); nothing was saved",
				       st->ifname, i.binds.map[k].path);
	if ((err = collect_chain_steer(ctx, st, &i)))
		return err;
	if (!word_ok(i.ifname) || !word_ok(i.prog))
		return pw_fail(ctx, EINVAL, "cannot save '%s': a name with a blank or '#' at its start; nothing was saved",
			       st->ifname);
	return pw_saved_push(ctx, s, &i);
}

/* The rule set in force; none configured is no rule and policy allow
 * (what the built-in program starts with). */
static int collect_rules(struct pw_ctx *ctx, struct pw_saved *s)
{
	char shared[PW_PATH_LEN], path[PW_PATH_LEN];
	struct pw_rules_maps m;
	struct pw_config cfg;
	int err;

	pw_shared_dir(ctx, shared, sizeof(shared));
	if (pw_join(path, sizeof(path), shared, PW_MAP_RULES))
		return pw_fail(ctx, ENAMETOOLONG, "pin root too long");
	if (!pw_path_exists(path)) {
		memset(&s->rules, 0, sizeof(s->rules));
		s->rules.policy = PW_POLICY_ALLOW;
		/* still refused when a program runs on rule maps whose pins are gone */
		if ((err = pw_rules_open(ctx, &m, false, true)) && err != -ENOENT)
			return err;
		if (!err)
			pw_rules_close(&m);
		return 0;
	}
	if ((err = pw_rules_open(ctx, &m, false, true)))
		return err;
	err = pw_rules_read(ctx, &m, &s->rules, &cfg);
	pw_rules_close(&m);
	return err;
}

static int cmp_iface(const void *a, const void *b)
{
	return strcmp(((const struct pw_saved_iface *)a)->ifname,
		      ((const struct pw_saved_iface *)b)->ifname);
}

int pw_save_collect(struct pw_ctx *ctx, struct pw_saved *s)
{
	struct collect c = { ctx, s };
	int err;

	memset(s, 0, sizeof(*s));
	if ((err = pw_check_caps_read(ctx)) ||
	    (err = pw_status_walk(ctx, NULL, collect_iface, &c)) ||
	    (err = collect_rules(ctx, s)) ||
	    (err = pw_block_list(ctx, &s->blocks))) {
		pw_saved_free(s);
		return err;
	}
	s->has_blocks = s->blocks.n > 0;	/* none: no blocks file, no line */
	/* by name: the same state saves to the same file */
	if (s->n)
		qsort(s->ifs, s->n, sizeof(*s->ifs), cmp_iface);
	return 0;
}

/* ---- write ---- */

/* The text of one file, built in memory. */
struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static int text_open(struct pw_ctx *ctx, struct text *t)
{
	memset(t, 0, sizeof(*t));
	if (!(t->f = open_memstream(&t->buf, &t->len)))
		return pw_fail(ctx, ENOMEM, "out of memory");
	return 0;
}

static int text_close(struct pw_ctx *ctx, struct text *t)
{
	int bad = ferror(t->f);

	bad |= fclose(t->f);
	t->f = NULL;
	return bad ? pw_fail(ctx, ENOMEM, "out of memory") : 0;
}

static void text_free(struct text *t)
{
	if (t->f)
		fclose(t->f);
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

static void header(FILE *f, const char *what, const char *writer)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", localtime_r(&now, &tm));
	fprintf(f, "# pinwall %s: written by %s at %s.\n", what, writer, when);
	fprintf(f, "# Counters are not configuration: they are not saved (they start from\n"
		   "# zero after a restore onto new maps). See pinwall(8) and docs/PERSISTENCE.md.\n");
}

#ifdef PW_TEST_HOOKS
/* Test builds: PINWALL_TEST_KILL_AT=save:STEP kills the save right there. */
static void save_step(const char *step)
{
	const char *at = getenv("PINWALL_TEST_KILL_AT");

	if (at && !strncmp(at, "save:", 5) && !strcmp(at + 5, step))
		raise(SIGKILL);
}
#else
static inline void save_step(const char *step)
{
	(void)step;
}
#endif

/* A new file @name in @dirfd holding @t, synced. Created, never reused: a
 * file, FIFO or symlink planted at the name is refused, not followed. 0 or
 * an errno; on error nothing of it is left. */
static int write_new(int dirfd, const char *name, const struct text *t)
{
	size_t off = 0;
	int fd, err = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno;
	while (!err && off < t->len) {
		ssize_t n = write(fd, t->buf + off, t->len - off);

		if (n < 0 && errno != EINTR)
			err = errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!err && fsync(fd))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (err)
		unlinkat(dirfd, name, 0);
	return err;
}

/* @name in @dirfd, atomically: temp file, write, fsync, rename, fsync dir. */
static int write_atomic(struct pw_ctx *ctx, int dirfd, const char *dir, const char *name,
			const struct text *t)
{
	char tmp[PW_PATH_LEN];
	int err;

	snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid());
	unlinkat(dirfd, tmp, 0);	/* a killed save's, of this pid */
	if ((err = write_new(dirfd, tmp, t)))
		return pw_fail(ctx, err, "cannot write '%s/%s': %s; the old file is untouched",
			       dir, tmp, strerror(err));
	if (renameat(dirfd, tmp, dirfd, name))
		err = errno;
	if (err) {
		unlinkat(dirfd, tmp, 0);
		return pw_fail(ctx, err, "cannot write '%s/%s': %s; the old file is untouched",
			       dir, name, strerror(err));
	}
	if (fsync(dirfd))
		return pw_fail(ctx, errno, "cannot sync directory '%s': %s", dir, strerror(errno));
	return 0;
}

static int open_dir(struct pw_ctx *ctx, const char *dir, int *fd)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		return pw_fail(ctx, errno, "cannot create config directory '%s': %s", dir,
			       strerror(errno));
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return pw_fail(ctx, errno, "config directory '%s': %s", dir, strerror(errno));
	return 0;
}

static int write_ifaces(struct pw_ctx *ctx, int dirfd, const char *dir, const struct pw_saved *s,
			const char *writer, const char *blocks)
{
	char line[4096];	/* a line the reader takes (CONF_LINE_MAX) */
	struct text t;
	int err;

	if ((err = text_open(ctx, &t)))
		return err;
	header(t.f, "interfaces", writer);
	fprintf(t.f, "# One interface a line, as it ran: IFACE mode MODE [obj PATH [prog NAME]\n"
		     "# scope SCOPE [map NAME=PATH]...] [flat on] [steer CPULIST] [then PATH [thenprog NAME]]\n"
		     "# (without obj: the built-in program).\n");
	for (int k = 0; k < s->n; k++) {
		pw_saved_iface_format(&s->ifs[k], line, sizeof(line));
		fprintf(t.f, "%s\n", line);
	}
	if (!s->n)
		fprintf(t.f, "# (pinwall's program ran on no interface)\n");
	if (blocks[0])
		fprintf(t.f, "# The timed blocks (pinwall block), with absolute expiry:\nblocks: %s\n",
			blocks);
	if (!(err = text_close(ctx, &t)))
		err = write_atomic(ctx, dirfd, dir, PW_CONF_IFACES, &t);
	text_free(&t);
	return err;
}

/* The sets/ directory, opened before anything is written: never through a
 * symlink (a save removes files there), and refused when not a directory.
 * -1 in *fd when there is none and none is needed. */
static int open_sets(struct pw_ctx *ctx, int dirfd, const char *setdir, bool need, int *fd)
{
	if (need && mkdirat(dirfd, PW_CONF_SETS, 0755) && errno != EEXIST)
		return pw_fail(ctx, errno, "cannot create config directory '%s': %s", setdir,
			       strerror(errno));
	*fd = openat(dirfd, PW_CONF_SETS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd >= 0 || (errno == ENOENT && !need))
		return 0;
	if (errno == ELOOP || errno == ENOTDIR)
		return pw_fail(ctx, ENOTDIR, "config directory '%s' is not a directory (a symlink or a file): save follows no link there; remove it; nothing was saved",
			       setdir);
	return pw_fail(ctx, errno, "config directory '%s': %s", setdir, strerror(errno));
}

/* A set file's name: NAME@SEC.NSEC.PID, new with every save ('@' is in no
 * set name), so a save never changes a file the rule file in place names. */
static bool save_set_file_name(const char *n)
{
	const char *at = strrchr(n, '@');
	char name[PW_SET_NAME_LEN];
	unsigned long a, b, c;

	if (!at || at == n || (size_t)(at - n) >= sizeof(name) ||
	    strspn(at + 1, "0123456789.") != strlen(at + 1) ||
	    sscanf(at + 1, "%lu.%lu.%lu", &a, &b, &c) != 3)
		return false;
	memcpy(name, n, at - n);
	name[at - n] = '\0';
	return pw_set_name_ok(name);
}

/* "set NAME P P ..." when it fits a line of a rule file, else the prefixes
 * go to sets/NAME@SUFFIX and the line names that file. 1: a set file is needed. */
static int set_line(const struct pw_set *set, const char *suffix, struct text *t)
{
	char p[64];
	size_t len = 4 + strlen(set->name);

	for (int i = 0; i < set->n; i++) {
		pw_prefix_format(&set->e[i], p, sizeof(p));
		len += 1 + strlen(p);
	}
	if (len > PW_RULE_LINE_MAX) {
		fprintf(t->f, "set %s file %s/%s%s\n", set->name, PW_CONF_SETS, set->name, suffix);
		return 1;
	}
	fprintf(t->f, "set %s", set->name);
	for (int i = 0; i < set->n; i++) {
		pw_prefix_format(&set->e[i], p, sizeof(p));
		fprintf(t->f, " %s", p);
	}
	fprintf(t->f, "\n");
	return 0;
}

static int write_set_file(struct pw_ctx *ctx, int setfd, const char *dir, const struct pw_set *set,
			  const char *suffix, const char *writer)
{
	char p[64], what[PW_SET_NAME_LEN + 16], name[PW_SET_NAME_LEN + 64];
	struct text t;
	int err;

	if ((err = text_open(ctx, &t)))
		return err;
	snprintf(what, sizeof(what), "set %s", set->name);
	snprintf(name, sizeof(name), "%s%s", set->name, suffix);
	header(t.f, what, writer);
	for (int i = 0; i < set->n; i++) {
		pw_prefix_format(&set->e[i], p, sizeof(p));
		fprintf(t.f, "%s\n", p);
	}
	if (!(err = text_close(ctx, &t)) && (err = write_new(setfd, name, &t)))
		err = pw_fail(ctx, err, "cannot write '%s/%s': %s; nothing was replaced", dir, name,
			      strerror(err));
	text_free(&t);
	return err;
}

/* Set files of earlier saves (named the way save names them, regular
 * files) that the rule file now in place does not name: those of this save
 * carry @suffix. Nothing else in sets/ is touched. */
static int remove_stale_sets(int setfd, const char *suffix)
{
	DIR *d = fdopendir(dup(setfd));
	size_t sl = strlen(suffix);
	struct dirent *e;
	struct stat st;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (!save_set_file_name(e->d_name) ||
		    (l > sl && !strcmp(e->d_name + l - sl, suffix)) ||
		    fstatat(setfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		n += !unlinkat(setfd, e->d_name, 0);
	}
	closedir(d);
	return n;
}

/* This save's set files, when the rule file that names them is not put in place. */
static void remove_new_sets(int setfd, const struct pw_ruleset *rs, const bool *filed,
			    const char *suffix)
{
	char name[PW_SET_NAME_LEN + 64];

	for (int i = 0; i < rs->n_sets && setfd >= 0; i++) {
		snprintf(name, sizeof(name), "%s%s", rs->sets[i].name, suffix);
		if (filed[i])
			unlinkat(setfd, name, 0);
	}
}

/* The rule file text: header, policy, sets, rules in evaluation order.
 * filed[i]: set i went to a set file. */
static int rules_text(struct pw_ctx *ctx, const struct pw_ruleset *rs, const char *writer,
		      const char *suffix, struct text *t, bool *filed)
{
	char rule[PW_RULE_TEXT_MAX + 1];
	int err;

	if ((err = text_open(ctx, t)))
		return err;
	header(t->f, "rules", writer);
	fprintf(t->f, "# The rule set in force: its policy, sets and rules in evaluation order\n"
		      "# (docs/RULES.md). 'pinwall rule apply' makes it the rule set again.\n");
	fprintf(t->f, "policy %s\n", rs->policy == PW_POLICY_DENY ? "deny" : "allow");
	for (int i = 0; i < rs->n_sets; i++)
		filed[i] = set_line(&rs->sets[i], suffix, t);
	for (int i = 0; i < rs->n; i++) {
		pw_ruleset_format(rs, i, rule, sizeof(rule));
		fprintf(t->f, "%s\n", rule);
	}
	return text_close(ctx, t);
}
/* The written rule file reads back to the same rule set, or it is refused. */
static int rules_verify(struct pw_ctx *ctx, const char *path, const struct pw_ruleset *want)
{
	char a[PW_RULE_TEXT_MAX + 1], b[PW_RULE_TEXT_MAX + 1];
	struct pw_ruleset got;
	int err = pw_ruleset_parse_file(ctx, path, &got), bad = 0;

	if (err)
		return err;
	bad = got.n != want->n || got.policy != want->policy || !pw_ruleset_sets_equal(&got, want);
	for (int i = 0; !bad && i < got.n; i++) {
		pw_ruleset_format(&got, i, a, sizeof(a));
		pw_ruleset_format(want, i, b, sizeof(b));
		bad = strcmp(a, b) != 0;
	}
	pw_ruleset_free(&got);
	return bad ? pw_fail(ctx, EPROTO, "'%s' does not read back as the rule set in force; nothing was replaced",
			     path) : 0;
}

/* The rule file: written under a temporary name beside the rule file (its
 * set files resolve against its directory), read back, renamed into place. */
static int put_rules(struct pw_ctx *ctx, int dirfd, const char *dir, const struct text *t,
		     const struct pw_ruleset *rs)
{
	char tmp[PW_PATH_LEN + 32], name[64];
	int err;

	snprintf(name, sizeof(name), ".%s.check.%d", PW_CONF_RULES, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);
	if ((err = write_atomic(ctx, dirfd, dir, name, t)))
		return err;
	err = rules_verify(ctx, tmp, rs);
	if (!err && renameat(dirfd, name, dirfd, PW_CONF_RULES))
		err = pw_fail(ctx, errno, "cannot write '%s/%s': %s", dir, PW_CONF_RULES,
			      strerror(errno));
	if (err)
		unlinkat(dirfd, name, 0);
	else if (fsync(dirfd))
		err = pw_fail(ctx, errno, "cannot sync directory '%s': %s", dir, strerror(errno));
	return err;
}

/* The blocks file of this save, under a name of its own (@name): the
 * interfaces file names it, so its rename switches both at once. */
static int write_blocks(struct pw_ctx *ctx, int dirfd, const char *dir, const struct pw_saved *s,
			const char *writer, const char *name)
{
	char p[64];
	struct text t;
	int err;

	if ((err = text_open(ctx, &t)))
		return err;
	header(t.f, "blocks", writer);
	fprintf(t.f, "# PREFIX EXPIRES ORIGIN: expiry in seconds since the epoch (0: never).\n");
	for (int i = 0; i < s->blocks.n; i++) {
		const struct pw_block *b = &s->blocks.e[i];

		pw_block_text(b, p, sizeof(p));
		fprintf(t.f, "%s %llu %s\n", p, (unsigned long long)b->expires,
			pw_block_origin_name(b->origin));
	}
	if (!(err = text_close(ctx, &t)) && (err = write_new(dirfd, name, &t)))
		err = pw_fail(ctx, err, "cannot write '%s/%s': %s; nothing was replaced", dir, name,
			      strerror(err));
	text_free(&t);
	return err;
}

/* Blocks files of earlier saves: every one but @keep. */
static void remove_stale_blocks(int dirfd, const char *keep)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *e;
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (pw_blocks_name_ok(e->d_name) && strcmp(e->d_name, keep) &&
		    !fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
			unlinkat(dirfd, e->d_name, 0);
	closedir(d);
}

/* The order makes every stop leave a rule file whose set files are all
 * there and as it was written: new set files under names of this save
 * only, the rule file (its rename is the switch), the interfaces file,
 * and only then the set files no rule file in place names. */
static int write_all(struct pw_ctx *ctx, int dirfd, const char *dir, const struct pw_saved *s,
		     const char *writer, struct pw_save_report *r)
{
	const struct pw_ruleset *rs = &s->rules;
	char setdir[PW_PATH_LEN], suffix[64], blocks[80] = "";
	bool filed[PW_MAX_SETS] = { false }, need = false;
	int setfd = -1, err;
	struct timespec ts;
	struct text t;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(suffix, sizeof(suffix), "@%lld.%09ld.%d", (long long)ts.tv_sec, ts.tv_nsec,
		 (int)getpid());
	pw_join(setdir, sizeof(setdir), dir, PW_CONF_SETS);
	if ((err = rules_text(ctx, rs, writer, suffix, &t, filed)))
		goto out;
	if (s->has_blocks) {
		snprintf(blocks, sizeof(blocks), "%s%s", PW_CONF_BLOCKS, suffix);
		if ((err = write_blocks(ctx, dirfd, dir, s, writer, blocks)))
			goto out;
	}
	for (int i = 0; i < rs->n_sets; i++)
		need |= filed[i];
	if ((err = open_sets(ctx, dirfd, setdir, need, &setfd)))
		goto out;
	for (int i = 0; i < rs->n_sets && !err; i++)
		if (filed[i] && !(err = write_set_file(ctx, setfd, setdir, &rs->sets[i], suffix, writer)))
			r->n_set_files++;
	if (!err && need && fsync(setfd))
		err = pw_fail(ctx, errno, "cannot sync directory '%s': %s", setdir, strerror(errno));
	save_step("sets");
	if (!err)
		err = put_rules(ctx, dirfd, dir, &t, rs);
	if (err)
		remove_new_sets(setfd, rs, filed, suffix);
	save_step("rules");
	if (!err)
		err = write_ifaces(ctx, dirfd, dir, s, writer, blocks);
	save_step("interfaces");
	if (err && blocks[0])
		unlinkat(dirfd, blocks, 0);
	else if (!err)
		remove_stale_blocks(dirfd, blocks);
	if (!err && setfd >= 0)
		r->n_stale = remove_stale_sets(setfd, suffix);
out:
	if (setfd >= 0)
		close(setfd);
	text_free(&t);
	return err;
}

int pw_save_write(struct pw_ctx *ctx, const char *dir, const struct pw_saved *s,
		  const char *writer, struct pw_save_report *r)
{
	int dirfd = -1, err;

	memset(r, 0, sizeof(*r));
	if (strlen(dir) + 64 >= PW_PATH_LEN)
		return pw_fail(ctx, ENAMETOOLONG, "config directory '%.40s...' is too long", dir);
	if ((err = open_dir(ctx, dir, &dirfd)))
		return err;
	err = write_all(ctx, dirfd, dir, s, writer, r);
	close(dirfd);
	if (err)
		return err;
	r->n_ifaces = s->n;
	r->n_blocks = s->blocks.n;
	r->n_rules = s->rules.n;
	r->n_sets = s->rules.n_sets;
	r->policy = s->rules.policy;
	pw_join(r->files[r->n_files++], PW_PATH_LEN, dir, PW_CONF_IFACES);
	pw_join(r->files[r->n_files++], PW_PATH_LEN, dir, PW_CONF_RULES);
	if (r->n_set_files)
		pw_join(r->files[r->n_files++], PW_PATH_LEN, dir, PW_CONF_SETS);
	return 0;
}
