/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Library-internal helpers shared between lib/ files; not part of the API. */
#ifndef PINWALL_INTERNAL_H
#define PINWALL_INTERNAL_H

#include <bpf/libbpf.h>
#include "pinwall/pinwall.h"

/* What happens to each map of an object being loaded. */
struct pw_plan_map {
	struct bpf_map *map;
	char path[PW_PATH_LEN];
	int pinned_fd;		/* reused pin, or -1 */
	bool shared;		/* pinned by name below shared/ */
	bool pinned_now;	/* created and pinned by this call */
};

struct pw_plan {
	int n;
	struct pw_plan_map m[PW_MAX_MAPS];
};

int pw_join(char *buf, size_t len, const char *a, const char *b);
int pw_mkdirs(struct pw_ctx *ctx, const char *path);
bool pw_path_exists(const char *path);

/* Decide reuse or creation for every map of @obj (before load); any
 * incompatible pin fails the whole plan with one detail line per property. */
int pw_plan_maps(struct pw_ctx *ctx, struct bpf_object *obj, const char *ifdir,
		 struct pw_plan *plan);
/* After load: pin the maps that were created; undone on failure. */
int pw_plan_pin_new(struct pw_ctx *ctx, struct pw_plan *plan, bool shared_only);
void pw_plan_unpin_new(struct pw_plan *plan);
void pw_plan_free(struct pw_plan *plan);
void pw_plan_report(const struct pw_plan *plan, struct pw_load_report *r);

int pw_meta_write(struct pw_ctx *ctx, const char *ifdir, const struct pw_meta *meta);

int pw_map_info(int fd, struct bpf_map_info *info);
int pw_prog_info(int fd, struct bpf_prog_info *info);
int pw_link_info(int fd, struct bpf_link_info *info);
int pw_ifindex(struct pw_ctx *ctx, const char *ifname);

int pw_attach_link(struct pw_ctx *ctx, int prog_fd, int ifindex, const char *ifname,
		   enum pw_mode mode, int *link_fd, enum pw_mode *used);
int pw_find_xdp_link(int ifindex, __u32 prog_id);
int pw_detach_any(struct pw_ctx *ctx, int ifindex, const char *ifname,
		  const struct pw_xdp_state *st);

#endif
