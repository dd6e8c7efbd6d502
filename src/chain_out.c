// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What status says about the program chained after pinwall's (--then). */
#include <stdio.h>
#include "cli.h"

static const char *const verdict_names[PW_CHAIN_VERDICTS] = {
	"aborted", "drop", "pass", "tx", "redirect", "other",
};

/* null when nothing is chained */
struct json_object *chain_status_json(const struct pw_chain_info *ci)
{
	struct json_object *j, *v;

	if (!ci->prog_id)
		return NULL;
	j = json_object_new_object();
	v = json_object_new_object();
	json_object_object_add(j, "prog_id", json_object_new_int64(ci->prog_id));
	json_object_object_add(j, "prog_name", json_object_new_string(ci->name));
	json_object_object_add(j, "prog_tag", json_object_new_string(ci->tag));
	json_object_object_add(j, "object", ci->object[0] ?
			       json_object_new_string(ci->object) : NULL);
	json_object_object_add(j, "interrupted", json_object_new_boolean(ci->interrupted));
	for (int i = 0; i < PW_CHAIN_VERDICTS; i++)
		json_object_object_add(v, verdict_names[i],
				       json_object_new_int64((int64_t)ci->verdicts[i]));
	json_object_object_add(j, "verdicts", v);
	return j;
}

void chain_status_text(const struct pw_chain_info *ci)
{
	if (!ci->prog_id) {
		if (ci->interrupted)
			printf("  chained  none (a change was interrupted: the next load, reload or recover finishes it)\n");
		return;
	}
	printf("  chained  %s id %u tag %s%s%s\n", ci->name, ci->prog_id, ci->tag,
	       ci->object[0] ? " from " : "", ci->object);
	printf("  verdicts");
	for (int i = 0; i < PW_CHAIN_VERDICTS; i++)
		printf(" %s %llu", verdict_names[i], (unsigned long long)ci->verdicts[i]);
	printf("%s\n", ci->interrupted ? " (a change was interrupted)" : "");
}
