// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drops: stream copies of the frames pinwall drops on an interface (the
 * first bytes, the deciding rule, the reason) until Ctrl-C, SIGTERM or
 * --count; capture is on in the kernel only while this runs (lib/capture.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drops.h"
#include "opts.h"

#define DEFAULT_RATE 1000

struct drops_args {
	unsigned int count;
	const char *pcap;
	unsigned int rate;
	unsigned int rule;
	unsigned int snaplen;
};

const struct cli_opt drops_opts[] = {
	CLI_UINT("count", 'c', struct drops_args, count, "N", 1, 0,
		 "stop after N frames"),
	CLI_STR("pcap", 'w', struct drops_args, pcap, "FILE",
		"also write the frames as pcap to FILE (- for standard output)"),
	CLI_UINT("rate", 'r', struct drops_args, rate, "PPS", 1, PW_CAP_RATE_MAX,
		 "capture at most PPS frames per second (default 1000), enforced in the kernel"),
	CLI_UINT("rule", 0, struct drops_args, rule, "ID", 1, PW_MAX_RULES - 1,
		 "only frames this rule dropped"),
	CLI_UINT("snaplen", 's', struct drops_args, snaplen, "BYTES", 1, PW_CAP_SNAPLEN,
		 "copy the first BYTES of each frame (default and most 128)"),
	{ NULL },
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* No SA_RESTART: a signal ends the wait for events at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe ends the capture, not the process */
}

/* What the kernel counted, at the end: on stderr, or as the last JSON line. */
static void summary(struct cli *cli, struct drops_out *o, const struct pw_capture_counts *n,
		    bool pcap_stdout)
{
	if (cli->json) {
		struct json_object *j = json_object_new_object(), *s = json_object_new_object();
		char *text;

		json_object_object_add(s, "ifname", json_object_new_string(o->ifname));
		json_object_object_add(s, "frames", json_object_new_int64((int64_t)o->printed));
		json_object_object_add(s, "captured", json_object_new_int64((int64_t)n->captured));
		json_object_object_add(s, "suppressed", json_object_new_int64((int64_t)n->suppressed));
		json_object_object_add(s, "lost", json_object_new_int64((int64_t)n->lost));
		json_object_object_add(j, "summary", s);
		text = cli_json_utf8(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		if (text)
			fprintf(pcap_stdout ? stderr : stdout, "%s\n", text);
		free(text);
		json_object_put(j);
		return;
	}
	fprintf(stderr, "drops on %s: %llu frames; in the kernel: %llu captured, %llu suppressed by the rate limit, %llu lost (ring buffer full)\n",
		o->safe_ifname, o->printed, (unsigned long long)n->captured,
		(unsigned long long)n->suppressed, (unsigned long long)n->lost);
}

/* Until a signal, --count, a closed output, or the capture ends. */
static int capture_loop(struct cli *cli, struct pw_capture *c, struct drops_out *o)
{
	while (!stop && !pw_capture_done(c)) {
		int n = pw_capture_poll(&cli->ctx, c, 250);

		if (n < 0)
			return n;
		if (n > 0 && !drops_flush(o))
			break;
	}
	return 0;
}

static int run(struct cli *cli, const char *ifname, const struct drops_args *a)
{
	struct pw_capture_opts co = { .rate = a->rate, .rule = a->rule, .snaplen = a->snaplen };
	bool pcap_stdout = a->pcap && !strcmp(a->pcap, "-");
	char *safe = cli_escape(ifname);
	struct drops_out o = { .cli = cli, .ifname = ifname, .safe_ifname = safe ? safe : "?",
			       .count = a->count, .lines = pcap_stdout ? NULL : stdout };
	struct pw_capture_counts n;
	struct pw_capture *c;
	char why[256];
	int err;

	if (pw_check_caps(&cli->ctx) || pw_bpffs_prepare(&cli->ctx, false) ||
	    pw_capture_start(&cli->ctx, ifname, &co, drops_emit, &o, &c)) {
		free(safe);
		return cli_lib_err(cli);
	}
	if (a->pcap && !(o.pcap = drops_pcap_open(a->pcap, a->snaplen, why, sizeof(why)))) {
		pw_capture_free(c);
		free(safe);
		return cli_err(cli, "cannot write pcap file '%s': %s", a->pcap, why);
	}
	catch_signals();
	err = capture_loop(cli, c, &o);
	/* off in the kernel first, then what it wrote before */
	pw_capture_stop(c);
	drops_flush(&o);
	pw_capture_counts(c, &n);
	summary(cli, &o, &n, pcap_stdout);
	pw_capture_free(c);
	drops_pcap_close(o.pcap);
	free(safe);
	return err ? cli_lib_err(cli) : 0;
}

int do_drops(struct cli *cli, int argc, char **argv)
{
	struct drops_args a = { .rate = DEFAULT_RATE, .snaplen = PW_CAP_SNAPLEN };
	int npos, ret;
	char **pos;

	ret = cli_parse(cli, cli->cmd, argc, argv, &a, &npos, &pos);
	if (ret)
		return ret;
	if ((ret = cli_check_ifname(cli, cli->cmd, pos[0])))
		return ret;
	if (cli_setup(cli))
		return 1;
	return run(cli, pos[0], &a);
}
