// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CrowdSec stream parser and the decisions table (no kernel, no HTTP):
 * answers as the local API writes them, hostile ones, and the plans that
 * follow (a repeated deletion never undoes a newer ban; a restart removes
 * the bans deleted meanwhile).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "pinwall/crowdsec.h"

static struct pw_ctx ctx;

#define DEC(id, type, scope, value, dur) \
	"{\"duration\":\"" dur "\",\"id\":" #id ",\"origin\":\"cscli\",\"scenario\":\"x\"," \
	"\"scope\":\"" scope "\",\"type\":\"" type "\",\"value\":\"" value "\"}"

static int parse(const char *s, struct pw_cs_batch *b)
{
	return pw_cs_parse(&ctx, s, strlen(s), b);
}

static void pfx_is(const struct pw_cs_prefix *p, const char *want)
{
	char buf[64];

	pw_cs_prefix_str(p, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_duration(void **state)
{
	__s64 ms;

	(void)state;
	assert_int_equal(pw_cs_duration_ms("3h59m56.0087s", &ms), 0);
	assert_int_equal(ms, (3 * 3600 + 59 * 60 + 56) * 1000LL + 8);
	assert_int_equal(pw_cs_duration_ms("-249.915454ms", &ms), 0);
	assert_int_equal(ms, -249);
	assert_int_equal(pw_cs_duration_ms("1m0.5s", &ms), 0);
	assert_int_equal(ms, 60500);
	assert_int_equal(pw_cs_duration_ms("1500us", &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(pw_cs_duration_ms("0", &ms), 0);
	assert_int_equal(ms, 0);
	const char *bad[] = { "", "-", "h", "10", "1x", "1h-2m", "99999999h", "1e400s", " 1s",
			      "nan s", "1s ", NULL };
	for (int i = 0; bad[i]; i++)
		assert_int_equal(pw_cs_duration_ms(bad[i], &ms), -1);
}

static void test_value(void **state)
{
	struct pw_cs_prefix p;

	(void)state;
	assert_int_equal(pw_cs_value("192.0.2.7", false, &p), 0);
	pfx_is(&p, "192.0.2.7/32");
	assert_int_equal(pw_cs_value("2001:db8::1", false, &p), 0);
	pfx_is(&p, "2001:db8::1/128");
	assert_int_equal(pw_cs_value("10.1.2.3/16", true, &p), 0);
	pfx_is(&p, "10.1.0.0/16");	/* host bits cleared */
	assert_int_equal(pw_cs_value("2001:db8:ff::/33", true, &p), 0);
	pfx_is(&p, "2001:db8::/33");
	const char *bad_ip[] = { "", "10.0.0.0/8", "300.1.1.1", "1.2.3", "x", NULL };
	const char *bad_range[] = { "10.0.0.1", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1",
				    "10.0.0.0/8x", "::/129", "10.0.0.0/ 8", NULL };
	for (int i = 0; bad_ip[i]; i++)
		assert_int_equal(pw_cs_value(bad_ip[i], false, &p), -1);
	for (int i = 0; bad_range[i]; i++)
		assert_int_equal(pw_cs_value(bad_range[i], true, &p), -1);
}

static void test_parse(void **state)
{
	struct pw_cs_batch b;

	(void)state;
	assert_int_equal(parse("{\"deleted\":[" DEC(1, "ban", "Ip", "10.9.9.9", "-1s")
			       "],\"new\":[" DEC(2, "ban", "Range", "10.8.0.0/16", "29m55.1s") ","
			       DEC(3, "captcha", "Ip", "10.9.9.8", "4h") ","
			       DEC(4, "ban", "Country", "FR", "4h") ","
			       DEC(5, "ban", "Ip", "10.1.1.1", "-2s") ","
			       DEC(6, "ban", "ip", "2001:db8::5", "1h") "]}", &b), 0);
	assert_int_equal(b.n_deleted, 1);
	pfx_is(&b.deleted[0].pfx, "10.9.9.9/32");
	assert_int_equal(b.n_added, 2);
	assert_int_equal(b.added[0].id, 2);
	assert_int_equal(b.added[0].remaining_ms, 1795100);
	pfx_is(&b.added[1].pfx, "2001:db8::5/128");
	assert_int_equal(b.other_type, 1);
	assert_int_equal(b.other_scope, 1);
	assert_int_equal(b.expired, 1);
	assert_int_equal(b.bad, 0);
	pw_cs_batch_free(&b);
	assert_int_equal(parse("{\"deleted\":null,\"new\":null}", &b), 0);
	assert_int_equal(b.n_added + b.n_deleted, 0);
	pw_cs_batch_free(&b);
}

/* Bad decisions are skipped and counted with a warning; the rest is kept. */
static void test_hostile_decisions(void **state)
{
	struct pw_cs_batch b;

	(void)state;
	assert_int_equal(parse("{\"new\":[1,\"x\",null,{},"
			       "{\"id\":\"7\",\"type\":\"ban\",\"scope\":\"Ip\",\"value\":\"1.1.1.1\",\"duration\":\"1h\"},"
			       "{\"id\":-7,\"type\":\"ban\",\"scope\":\"Ip\",\"value\":\"1.1.1.1\",\"duration\":\"1h\"},"
			       "{\"id\":8,\"type\":[],\"scope\":\"Ip\",\"value\":\"1.1.1.1\",\"duration\":\"1h\"},"
			       DEC(9, "ban", "Ip", "1.1.1.1\\n", "1h") ","
			       DEC(10, "ban", "Ip", "1.1.1.1", "forever") ","
			       DEC(11, "ban", "Range", "1.1.1.1/99", "1h") ","
			       DEC(12, "ban", "Ip", "1.1.1.2", "1h") "]}", &b), 0);
	assert_int_equal(b.n_added, 1);
	assert_int_equal(b.added[0].id, 12);
	assert_int_equal(b.bad, 10);
	assert_int_equal(b.n_warn, 10);
	assert_non_null(strstr(b.warn[PW_CS_WARN_KEEP - 1], "skipped"));
	pw_cs_batch_free(&b);
}

/* Answers refused whole: nothing returned, one reason. */
static void test_hostile_answers(void **state)
{
	const char *bad[] = { "", "[]", "null", "{\"new\":{}}", "{\"new\":[]", "{\"deleted\":3}",
			      "{\"new\":[]} x", "{\"new\":\"a\"}", NULL };
	struct pw_cs_batch b;
	char *big;

	(void)state;
	for (int i = 0; bad[i]; i++) {
		assert_int_not_equal(parse(bad[i], &b), 0);
		assert_null(b.added);
		assert_int_equal(b.n_added, 0);
	}
	big = malloc(PW_CS_MAX_BODY + 2);
	assert_non_null(big);
	memset(big, ' ', PW_CS_MAX_BODY + 1);
	assert_int_not_equal(pw_cs_parse(&ctx, big, PW_CS_MAX_BODY + 1, &b), 0);
	assert_non_null(strstr(ctx.err, "over"));
	free(big);
}

static struct pw_cs_batch batch(const char *s)
{
	struct pw_cs_batch b;

	assert_int_equal(parse(s, &b), 0);
	return b;
}

/* A deletion of a decision that is not the one held leaves the block. */
static void test_table_deltas(void **state)
{
	struct pw_cs_table *t = pw_cs_table_new();
	struct pw_cs_plan plan = { 0 };
	struct pw_cs_batch b;

	(void)state;
	b = batch("{\"new\":[" DEC(1, "ban", "Ip", "10.0.0.1", "1h") "]}");
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, true, 1000, &plan), 0);
	assert_int_equal(plan.n, 1);
	assert_true(plan.ops[0].add);
	assert_int_equal(plan.ops[0].expiry_ms, 1000 + 3600000);
	pw_cs_batch_free(&b);
	pw_cs_plan_free(&plan);
	/* id 1 deleted, id 2 added for the same address in one answer */
	b = batch("{\"deleted\":[" DEC(1, "ban", "Ip", "10.0.0.1", "-1s") "],\"new\":["
		  DEC(2, "ban", "Ip", "10.0.0.1", "2h") "]}");
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, false, 1000, &plan), 0);
	assert_int_equal(plan.n, 2);
	assert_false(plan.ops[0].add);
	assert_true(plan.ops[1].add);
	pw_cs_batch_free(&b);
	pw_cs_plan_free(&plan);
	/* the deletion of id 1 again: id 2 is held, nothing changes */
	b = batch("{\"deleted\":[" DEC(1, "ban", "Ip", "10.0.0.1", "-2s") "]}");
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, false, 1000, &plan), 0);
	assert_int_equal(plan.n, 0);
	assert_int_equal(plan.stale_deletions, 1);
	assert_int_equal(pw_cs_table_count(t), 1);
	pw_cs_batch_free(&b);
	pw_cs_plan_free(&plan);
	b = batch("{\"deleted\":[" DEC(2, "ban", "Ip", "10.0.0.1", "-2s") "]}");
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, false, 1000, &plan), 0);
	assert_int_equal(plan.n, 1);
	assert_false(plan.ops[0].add);
	assert_int_equal(pw_cs_table_count(t), 0);
	pw_cs_batch_free(&b);
	pw_cs_plan_free(&plan);
	pw_cs_table_free(t);
}

/* Restart: the full set replaces the table; crowdsec blocks not in it go. */
static void test_table_reconcile(void **state)
{
	struct pw_cs_table *t = pw_cs_table_new();
	struct pw_cs_plan plan = { 0 };
	struct pw_cs_prefix have[3];
	struct pw_cs_batch b;

	(void)state;
	pw_cs_value("10.0.0.1", false, &have[0]);
	pw_cs_value("10.0.0.2", false, &have[1]);
	pw_cs_value("10.8.0.0/16", true, &have[2]);
	b = batch("{\"new\":[" DEC(5, "ban", "Ip", "10.0.0.2", "1h") ","
		  DEC(6, "ban", "Range", "10.8.0.0/16", "1h") "]}");
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, true, 0, &plan), 0);
	assert_int_equal(pw_cs_plan_reconcile(&ctx, t, have, 3, &plan), 0);
	assert_int_equal(plan.n, 3);
	assert_false(plan.ops[2].add);
	pfx_is(&plan.ops[2].pfx, "10.0.0.1/32");
	pw_cs_batch_free(&b);
	pw_cs_plan_free(&plan);
	pw_cs_table_free(t);
}

/* Many decisions in and out: the hash keeps every one findable. */
static void test_table_many(void **state)
{
	struct pw_cs_table *t = pw_cs_table_new();
	struct pw_cs_plan plan = { 0 };
	struct pw_cs_batch b = { 0 };
	enum { N = 50000 };

	(void)state;
	b.added = calloc(N, sizeof(*b.added));
	b.n_added = N;
	for (int i = 0; i < N; i++) {
		b.added[i].id = (__u64)i;
		b.added[i].pfx.family = AF_INET;
		b.added[i].pfx.plen = 32;
		memcpy(b.added[i].pfx.addr, &i, 4);
		b.added[i].remaining_ms = 1000;
	}
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, true, 0, &plan), 0);
	assert_int_equal(pw_cs_table_count(t), N);
	pw_cs_plan_free(&plan);
	/* delete every other one, then every held one must still match its id */
	b.deleted = b.added;
	b.n_deleted = N / 2;
	for (int i = 0; i < N / 2; i++)
		b.deleted[i] = b.added[i * 2];
	b.added = NULL;
	b.n_added = 0;
	assert_int_equal(pw_cs_plan_batch(&ctx, t, &b, false, 0, &plan), 0);
	assert_int_equal(plan.n, N / 2);
	assert_int_equal(plan.stale_deletions, 0);
	assert_int_equal(pw_cs_table_count(t), N - N / 2);
	pw_cs_plan_free(&plan);
	pw_cs_batch_free(&b);
	pw_cs_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hostile_decisions),
		cmocka_unit_test(test_hostile_answers),
		cmocka_unit_test(test_table_deltas),
		cmocka_unit_test(test_table_reconcile),
		cmocka_unit_test(test_table_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
