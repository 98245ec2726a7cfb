// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * splunk_hec: the HTTP Event Collector's envelopes, one per event,
 *   {"time":<s>.<us>,"host":..,"sourcetype":..,["index":..,]"event":{..}}
 * The event keeps its own nanosecond "time"; the envelope's is what Splunk
 * indexes by, and Splunk reads it as a double, so microseconds are all it
 * can hold. The token goes as "Authorization: Splunk <token>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util.h"

struct hec {
	char *mid;		/* ,"host":"..","sourcetype":"..",["index":"..",]"event": */
	size_t mid_len;
};

static void hec_free(void *state)
{
	struct hec *h = state;

	if (h) {
		free(h->mid);
		free(h);
	}
}

static int hec_open(const struct ts_http_conf *c, const struct ts_run *run,
		    struct ts_http_fmt_setup *s, char *err, size_t errlen)
{
	char *st, *ix = NULL;
	struct hec *h;
	int n;

	if (!c->token_file && !c->token_env && !ts_http_user_header(c, "Authorization"))
		return ts_errf(err, errlen, "splunk_hec needs the HEC token: token_file or "
			       "token_env");
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->state = h;
	st = ts_http_json_str(c->sourcetype ? c->sourcetype : "tcpship");
	if (c->index)
		ix = ts_http_json_str(c->index);
	n = st && (!c->index || ix) ?
		asprintf(&h->mid, ",\"host\":\"%s\",\"sourcetype\":\"%s\"%s%s%s,\"event\":",
			 run->host_json, st, ix ? ",\"index\":\"" : "", ix ? ix : "",
			 ix ? "\"" : "") : -1;
	free(st);
	free(ix);
	if (n < 0) {
		h->mid = NULL;
		return -ENOMEM;
	}
	h->mid_len = (size_t)n;
	return 0;
}

static int hec_build(const void *state, void **scratch, const struct ts_http_body *u,
		     struct ts_buf *out)
{
	const struct hec *h = state;

	for (uint32_t i = 0; i < u->n; i++) {
		const struct ts_rec *r = ts_http_rec(u, i);
		uint64_t us = (r->time_ns / 1000ULL) % 1000000ULL;
		char frac[8];

		if (ts_buf_reserve(out, 64 + h->mid_len + r->len))
			return -ENOMEM;
		TS_BUF_PUTS(out, "{\"time\":");
		ts_buf_put_u64(out, r->time_ns / 1000000000ULL);
		snprintf(frac, sizeof(frac), ".%06llu", (unsigned long long)us);
		ts_buf_put(out, frac, 7);
		ts_buf_put(out, h->mid, h->mid_len);
		ts_buf_put(out, u->b->data + r->off, r->len - 1);
		TS_BUF_PUTS(out, "}\n");
	}
	return 0;
}

const struct ts_http_format_ops ts_http_splunk_hec = {
	.name = "splunk_hec",
	.content_type = "application/json",
	.default_path = "/services/collector/event",
	.token_scheme = "Splunk",
	.keys = TS_HTTP_KEY_SOURCETYPE | TS_HTTP_KEY_INDEX,
	.shapes = TS_HTTP_JSON_SHAPES,	/* the line is the envelope's "event" object */
	.open = hec_open,
	.free = hec_free,
	.build = hec_build,
};
