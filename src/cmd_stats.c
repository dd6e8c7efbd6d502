// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats: a follower that only opens pins. Every interval it checks each
 * pin's map ID, reopens on change, and prints counters and rates; a rate is
 * only printed between two readings of the same map, so a replacement never
 * shows as a negative rate or a spike.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <sys/stat.h>
#include "cli.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct follower {
	struct cli *cli;
	int n;
	struct pw_stats_iface *ifs;
	struct json_object *events;	/* this interval's, JSON mode */
};

static void on_event(const struct pw_stats_event *ev, void *arg)
{
	struct follower *f = arg;
	static const char *const kinds[] = {
		[PW_EV_REPLACED] = "map_replaced", [PW_EV_WAITING] = "waiting",
		[PW_EV_RESUMED] = "resumed", [PW_EV_IFACE_GONE] = "iface_gone",
		[PW_EV_IFACE_BACK] = "iface_back",
	};

	if (f->cli->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string(kinds[ev->kind]));
		json_object_object_add(o, "ifname", json_object_new_string(ev->ifname));
		if (ev->map[0]) {
			json_object_object_add(o, "map", json_object_new_string(ev->map));
			json_object_object_add(o, "path", json_object_new_string(ev->path));
		}
		if (ev->kind == PW_EV_REPLACED)
			json_object_object_add(o, "old_id", json_object_new_int64(ev->id_old));
		if (ev->id_new)
			json_object_object_add(o, "new_id", json_object_new_int64(ev->id_new));
		json_object_array_add(f->events, o);
		return;
	}
	switch (ev->kind) {
	case PW_EV_REPLACED:
		printf("%s: map %s replaced (id %u -> %u)\n", ev->ifname, ev->map, ev->id_old, ev->id_new);
		break;
	case PW_EV_WAITING:
		printf("%s: map %s: no pin at %s, waiting for it\n", ev->ifname, ev->map, ev->path);
		break;
	case PW_EV_RESUMED:
		printf("%s: map %s is back (id %u)\n", ev->ifname, ev->map, ev->id_new);
		break;
	case PW_EV_IFACE_GONE:
		printf("%s: interface is gone; following the others\n", ev->ifname);
		break;
	case PW_EV_IFACE_BACK:
		printf("%s: interface is back\n", ev->ifname);
		break;
	}
	fflush(stdout);
}

struct rate {
	double pps, mbps;
	bool valid;
};

static struct rate rate_of(const struct pw_stats_map *m, int k, double dt)
{
	struct rate r = { 0 };

	if (!m->have_prev || dt <= 0)
		return r;
	r.pps = (m->cur[k].packets - m->prev[k].packets) / dt;
	r.mbps = (m->cur[k].bytes - m->prev[k].bytes) * 8.0 / dt / 1e6;
	r.valid = true;
	return r;
}

static struct json_object *counter_json(const struct pw_counter *c, struct rate r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "packets", json_object_new_int64((int64_t)c->packets));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)c->bytes));
	json_object_object_add(o, "pps", r.valid ? json_object_new_double(round(r.pps * 10) / 10) : NULL);
	json_object_object_add(o, "mbps", r.valid ? json_object_new_double(round(r.mbps * 1000) / 1000) : NULL);
	return o;
}

static void fmt_rate(char *buf, size_t len, struct rate r, bool mbit)
{
	if (!r.valid)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, mbit ? "%.3f" : "%.1f", mbit ? r.mbps : r.pps);
}

static void print_interval(struct follower *f, double dt, double since)
{
	struct pw_counter total = { 0 };
	struct rate trate = { .valid = true };
	struct json_object *jo = NULL, *jifs = NULL;
	char tbuf[64], a[32], b[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S%z", localtime_r(&now, &tm));
	if (f->cli->json) {
		jo = json_object_new_object();
		jifs = json_object_new_array();
		json_object_object_add(jo, "time", json_object_new_string(tbuf));
		json_object_object_add(jo, "elapsed", json_object_new_double(round(since * 1000) / 1000));
		json_object_object_add(jo, "interval", json_object_new_double(round(dt * 1000) / 1000));
	} else {
		printf("--- %s  interval %.2f s\n", tbuf, dt);
		printf("%-12s %-13s %14s %16s %12s %10s\n", "iface", "action", "packets", "bytes",
		       "pps", "Mbit/s");
	}
	for (int i = 0; i < f->n; i++) {
		struct pw_stats_iface *si = &f->ifs[i];
		struct pw_stats_map *m = &si->actions;
		struct json_object *ji = NULL, *ja = NULL;

		if (jo) {
			ji = json_object_new_object();
			ja = json_object_new_object();
			json_object_object_add(ji, "ifname", json_object_new_string(si->ifname));
			json_object_object_add(ji, "present", json_object_new_boolean(si->present));
			json_object_object_add(ji, "map_id", m->have_cur ? json_object_new_int64(m->id) : NULL);
		} else if (!m->have_cur) {
			printf("%-12s (waiting for %s)\n", si->ifname, m->path);
		}
		for (__u32 k = 0; m->have_cur && k < m->n && k < PW_ACTION_MAX; k++) {
			struct rate r = rate_of(m, k, dt);

			total.packets += m->cur[k].packets;
			total.bytes += m->cur[k].bytes;
			if (r.valid) {
				trate.pps += r.pps;
				trate.mbps += r.mbps;
			} else {
				trate.valid = false;
			}
			if (ja) {
				json_object_object_add(ja, pw_action_name(k, true), counter_json(&m->cur[k], r));
				continue;
			}
			fmt_rate(a, sizeof(a), r, false);
			fmt_rate(b, sizeof(b), r, true);
			printf("%-12s %-13s %14llu %16llu %12s %10s\n", k ? "" : si->ifname,
			       pw_action_name(k, true), (unsigned long long)m->cur[k].packets,
			       (unsigned long long)m->cur[k].bytes, a, b);
		}
		if (!m->have_cur)
			trate.valid = false;
		if (ji) {
			struct json_object *jc = json_object_new_object();
			struct pw_stats_map *c = &si->classes;

			for (__u32 k = 0; c->have_cur && k < c->n; k++)
				json_object_object_add(jc, pw_class_name(k), counter_json(&c->cur[k], rate_of(c, k, dt)));
			json_object_object_add(ji, "actions", ja);
			json_object_object_add(ji, "classes", jc);
			json_object_array_add(jifs, ji);
		} else if (si->classes.have_cur) {
			struct pw_stats_map *c = &si->classes;

			printf("%-12s", "");
			for (__u32 k = 0; k < c->n; k++)
				printf(" %s %llu", pw_class_name(k), (unsigned long long)c->cur[k].packets);
			printf("\n");
		}
	}
	if (jo) {
		json_object_object_add(jo, "interfaces", jifs);
		json_object_object_add(jo, "total", counter_json(&total, trate));
		json_object_object_add(jo, "events", f->events);
		f->events = json_object_new_array();
		cli_print_json(f->cli, jo);
		json_object_put(jo);
		return;
	}
	fmt_rate(a, sizeof(a), trate, false);
	fmt_rate(b, sizeof(b), trate, true);
	printf("%-12s %-13s %14llu %16llu %12s %10s\n", "total", "", (unsigned long long)total.packets,
	       (unsigned long long)total.bytes, a, b);
	fflush(stdout);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* No interface named: every interface pinwall manages in this netns. */
static int list_managed(struct cli *cli, char ***names, int *n)
{
	char dir[PW_PATH_LEN];
	struct dirent *e;
	DIR *d;

	pw_ns_dir(&cli->ctx, cli->ctx.netns_ino, dir, sizeof(dir));
	d = opendir(dir);
	if (!d)
		return cli_err(cli, "nothing loaded in this network namespace (no pins at '%s'): name an interface to wait for it",
			       dir);
	*n = 0;
	*names = NULL;
	while ((e = readdir(d))) {
		char *name;

		if (e->d_name[0] == '.')
			continue;
		name = calloc(1, strlen(e->d_name) + 1);
		if (name)
			pw_ifname_unescape(e->d_name, name, strlen(e->d_name) + 1);
		*names = realloc(*names, (*n + 1) * sizeof(char *));
		(*names)[(*n)++] = name;
	}
	closedir(d);
	if (!*n)
		return cli_err(cli, "nothing loaded in this network namespace: name an interface to wait for it");
	return 0;
}

/* A named interface must exist, or have pins from when it did: then the
 * follower waits for it to come back. A typo is an error, not a wait. */
static int check_named(struct cli *cli, const struct cmd *cmd, const char *name)
{
	char dir[PW_PATH_LEN];
	struct stat st;
	int ret;

	if ((ret = cli_check_ifname(cli, cmd, name)))
		return ret;
	if (if_nametoindex(name))
		return 0;
	if (!pw_iface_dir(&cli->ctx, cli->ctx.netns_ino, name, dir, sizeof(dir)) && !lstat(dir, &st))
		return 0;
	return cli_err(cli, "no such interface '%s' in this network namespace and no pinwall pins for it (see 'ip link')",
		       name);
}

struct stats_args {
	double interval;
	unsigned int count;
};

const struct cli_opt stats_opts[] = {
	CLI_NUM("interval", 'i', struct stats_args, interval, "SEC", 0.05, 3600,
		"seconds between reports (default 1)", .range = "seconds from 0.05 to 3600"),
	CLI_UINT("count", 'c', struct stats_args, count, "N", 1, 0, "stop after N reports",
		 .range = "a positive number"),
	{ NULL },
};

int do_stats(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd = cli->cmd;
	struct stats_args a = { .interval = 1.0, .count = 0 };
	struct follower f = { .cli = cli };
	struct sigaction sa = { .sa_handler = on_signal };
	double interval, start, last, next;
	unsigned int count, done = 0;
	char **names = NULL, **pos;
	int ret = 0, n_names = 0, npos;

	if ((ret = cli_parse(cli, cmd, argc, argv, &a, &npos, &pos)) || (ret = cli_setup(cli)))
		return ret;
	interval = a.interval;
	count = a.count;
	if (pw_check_caps_read(&cli->ctx) || pw_bpffs_prepare(&cli->ctx, false))
		return cli_lib_err(cli);
	if (npos) {
		names = pos;
		n_names = npos;
		for (int i = 0; i < n_names; i++)
			if ((ret = check_named(cli, cmd, names[i])))
				return ret;
	} else if ((ret = list_managed(cli, &names, &n_names))) {
		return ret;
	}
	f.ifs = calloc((unsigned int)n_names, sizeof(*f.ifs));
	f.events = json_object_new_array();
	for (int i = 0; i < n_names; i++) {
		if (pw_stats_iface_init(&cli->ctx, &f.ifs[i], names[i])) {
			ret = cli_lib_err(cli);
			goto out;
		}
		f.n++;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	start = last = mono();
	for (int i = 0; i < f.n; i++)
		pw_stats_iface_poll(&cli->ctx, &f.ifs[i], on_event, &f);
	next = start + interval;
	while (!stop) {
		struct timespec ts = { .tv_sec = (time_t)next,
				       .tv_nsec = (long)((next - (time_t)next) * 1e9) };
		double now;

		/* absolute deadlines: no drift; a signal ends the wait */
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR || stop)
			break;
		now = mono();
		for (int i = 0; i < f.n; i++)
			pw_stats_iface_poll(&cli->ctx, &f.ifs[i], on_event, &f);
		print_interval(&f, now - last, now - start);
		last = now;
		next += interval;
		if (next < now)		/* fell behind (stopped, slow): skip ahead */
			next = now + interval;
		if (count && ++done >= count)
			break;
	}
out:
	for (int i = 0; i < f.n; i++)
		pw_stats_iface_close(&f.ifs[i]);
	free(f.ifs);
	json_object_put(f.events);
	if (!npos && names) {
		for (int i = 0; i < n_names; i++)
			free(names[i]);
		free(names);
	}
	return ret;
}
