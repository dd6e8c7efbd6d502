// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The chain's pins below an interface directory (chain/record, chain/
 * pw_chain_stats, chain/maps/NAME), the record of what is chained, and the
 * recovery of a chain change killed halfway: pw_chain (the program array)
 * holds the truth, the record only follows it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

void pw_chain_path(char *buf, size_t len, const char *ifdir, const char *name)
{
	snprintf(buf, len, "%s/%s%s%s", ifdir, PW_DIR_CHAIN, name ? "/" : "", name ?: "");
}

/* A pinned map of exactly this shape, or a negative errno (-ENOENT: none). */
int pw_chain_open_pin(struct pw_ctx *ctx, const char *path, __u32 type, __u32 vsize, __u32 max)
{
	struct bpf_map_info info;
	int fd = pw_open_map_pin(ctx, path, false);

	if (fd < 0)
		return fd;
	if (pw_map_info(fd, &info) || info.type != type || info.key_size != 4 ||
	    info.value_size != vsize || info.max_entries != max) {
		close(fd);
		return pw_fail(ctx, EPROTO, "pin '%s' is not the map pinwall expects there: move it away",
			       path);
	}
	return fd;
}

int pw_chain_rec_read(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_rec *rec)
{
	char path[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err = 0;

	memset(rec, 0, sizeof(*rec));
	pw_chain_path(path, sizeof(path), ifdir, PW_PIN_CHAIN_REC);
	fd = pw_chain_open_pin(ctx, path, BPF_MAP_TYPE_ARRAY, sizeof(*rec), 1);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, rec))
		err = pw_fail(ctx, errno, "cannot read '%s': %s", path, strerror(errno));
	close(fd);
	return err;
}

/* In place; a missing record is written before it is pinned, then renamed
 * into place, so a reader never sees an empty one. */
int pw_chain_rec_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_chain_rec *rec)
{
	char path[PW_PATH_LEN], tmp[PW_PATH_LEN];
	__u32 zero = 0;
	int fd, err = 0;

	pw_chain_path(path, sizeof(path), ifdir, PW_PIN_CHAIN_REC);
	fd = pw_chain_open_pin(ctx, path, BPF_MAP_TYPE_ARRAY, sizeof(*rec), 1);
	if (fd == -ENOENT) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pw_chain_rec", 4, sizeof(*rec), 1, NULL);
		if (fd < 0)
			return pw_fail(ctx, errno, "cannot create the chain record: %s",
				       strerror(errno));
		pw_chain_path(tmp, sizeof(tmp), ifdir, NULL);
		if ((err = pw_mkdirs(ctx, tmp))) {
			close(fd);
			return err;
		}
		snprintf(tmp, sizeof(tmp), "%s_new", path);
		unlink(tmp);
		if (bpf_map_update_elem(fd, &zero, rec, BPF_ANY) ||
		    bpf_obj_pin(fd, tmp) || rename(tmp, path))
			err = err ?: pw_fail(ctx, errno, "cannot pin '%s': %s", path, strerror(errno));
		unlink(tmp);
		close(fd);
		return err;
	}
	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &zero, rec, BPF_ANY))
		err = pw_fail(ctx, errno, "cannot write '%s': %s", path, strerror(errno));
	close(fd);
	return err;
}

/* The program id in pw_chain's slot (0: empty), from the open array @fd. */
__u32 pw_chain_slot_id(int fd)
{
	__u32 zero = 0, id = 0;

	if (bpf_map_lookup_elem(fd, &zero, &id))
		return 0;
	return id;
}

/* The interface's program array (maps/pw_chain), or a negative errno. */
int pw_chain_array(struct pw_ctx *ctx, const char *ifdir)
{
	char path[PW_PATH_LEN];

	snprintf(path, sizeof(path), "%s/%s/%s", ifdir, PW_DIR_MAPS, PW_MAP_CHAIN);
	return pw_chain_open_pin(ctx, path, BPF_MAP_TYPE_PROG_ARRAY, 4, PW_CHAIN_SLOTS);
}

/* Everything below chain/ (the chain is gone, or unload). */
void pw_chain_unpin(const struct pw_ctx *ctx, const char *ifdir)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN];
	int dfd;

	snprintf(path, sizeof(path), "%s", ifdir);
	dfd = pw_opendir_below(path, root_len);
	if (dfd < 0)
		return;
	pw_rm_tree_at(dfd, PW_DIR_CHAIN);
	close(dfd);
}

/* The change under way did not switch: remove the maps it pinned anew. */
static void unpin_new(const struct pw_ctx *ctx, const char *ifdir, const struct pw_chain_rec *rec)
{
	size_t root_len = strlen(ctx->pin_root);
	char path[PW_PATH_LEN], name[PW_NAME_LEN];

	for (__u32 i = 0; i < rec->n_new && i < 16; i++) {
		snprintf(name, sizeof(name), "%.*s", PW_NAME_LEN - 1, rec->new_maps[i]);
		if (!name[0] || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
			continue;
		pw_chain_path(path, sizeof(path), ifdir, PW_DIR_MAPS);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
		pw_unlink_below(path, root_len);
	}
}

/* The record after a change: what pw_chain holds now; an empty slot
 * leaves no chain pins at all. */
int pw_chain_settle(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_rec *rec,
		    bool switched)
{
	if (switched && !rec->next_prog_id) {
		pw_chain_unpin(ctx, ifdir);
		return 0;
	}
	if (switched) {
		rec->prog_id = rec->next_prog_id;
		memcpy(rec->prog, rec->next_prog, sizeof(rec->prog));
		memcpy(rec->object, rec->next_object, sizeof(rec->object));
	} else {
		unpin_new(ctx, ifdir, rec);
	}
	rec->next_prog_id = rec->pid = rec->n_new = 0;
	memset(rec->next_prog, 0, sizeof(rec->next_prog));
	memset(rec->next_object, 0, sizeof(rec->next_object));
	memset(rec->new_maps, 0, sizeof(rec->new_maps));
	return pw_chain_rec_write(ctx, ifdir, rec);
}

/* With the lock held: a chain change killed halfway is finished when
 * pw_chain holds its program (or, for --then none, nothing), else undone.
 * *@what says which (NULL: nothing to do). */
int pw_chain_recover(struct pw_ctx *ctx, const char *ifdir, const char **what)
{
	struct pw_chain_rec rec;
	bool switched;
	int fd, err;

	*what = NULL;
	err = pw_chain_rec_read(ctx, ifdir, &rec);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (!rec.pid)
		return 0;
	fd = pw_chain_array(ctx, ifdir);
	/* no array (pinwall unloaded meanwhile): nothing is chained */
	switched = (fd < 0 ? 0 : pw_chain_slot_id(fd)) == rec.next_prog_id;
	if (fd >= 0)
		close(fd);
	*what = switched ? "finished" : "rolled back";
	return pw_chain_settle(ctx, ifdir, &rec, switched);
}

/* Counters summed over CPUs. */
static void read_verdicts(struct pw_ctx *ctx, const char *ifdir, __u64 *v)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	char path[PW_PATH_LEN];
	__u64 *per;

	pw_chain_path(path, sizeof(path), ifdir, PW_MAP_CHAIN_STATS);
	fd = pw_chain_open_pin(ctx, path, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u64),
			       PW_CHAIN_VERDICTS);
	per = ncpu > 0 && fd >= 0 ? calloc(ncpu, sizeof(*per)) : NULL;
	for (__u32 k = 0; per && k < PW_CHAIN_VERDICTS; k++) {
		if (bpf_map_lookup_elem(fd, &k, per))
			continue;
		for (int c = 0; c < ncpu; c++)
			v[k] += per[c];
	}
	free(per);
	if (fd >= 0)
		close(fd);
	ctx->err[0] = '\0';
}

int pw_chain_info(struct pw_ctx *ctx, const char *ifdir, struct pw_chain_info *ci)
{
	struct bpf_prog_info info;
	struct pw_chain_rec rec;
	int fd = pw_chain_array(ctx, ifdir), pfd;

	memset(ci, 0, sizeof(*ci));
	ctx->err[0] = '\0';
	if (fd < 0)
		return 0;
	ci->prog_id = pw_chain_slot_id(fd);
	close(fd);
	if (!pw_chain_rec_read(ctx, ifdir, &rec)) {
		ci->interrupted = rec.pid != 0;
		if (rec.prog_id == ci->prog_id)
			snprintf(ci->object, sizeof(ci->object), "%.*s", PW_PATH_LEN - 1, rec.object);
	}
	ctx->err[0] = '\0';
	if (!ci->prog_id)
		return 0;
	pfd = bpf_prog_get_fd_by_id(ci->prog_id);
	if (pfd >= 0 && !pw_prog_info(pfd, &info)) {
		snprintf(ci->name, sizeof(ci->name), "%s", info.name);
		for (int i = 0; i < 8; i++)
			snprintf(ci->tag + 2 * i, 3, "%02x", info.tag[i]);
	}
	if (pfd >= 0)
		close(pfd);
	read_verdicts(ctx, ifdir, ci->verdicts);
	return 0;
}
