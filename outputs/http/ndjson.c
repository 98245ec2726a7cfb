// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ndjson: the lines as they are, one event per line. What Vector's
 * http_server, Fluent Bit's and Logstash's http inputs and ClickHouse's
 * JSONEachRow take, and the default.
 */
#include <errno.h>

#include "http/format.h"

static int build(const void *state, void **scratch, const struct ts_http_body *u,
		 struct ts_buf *out)
{
	if (!u->idx) {
		/* the lines of a range are contiguous */
		const struct ts_rec *first = ts_http_rec(u, 0), *last = ts_http_rec(u, u->n - 1);

		return ts_buf_append(out, u->b->data + first->off,
				     last->off + last->len - first->off);
	}
	for (uint32_t i = 0; i < u->n; i++) {
		const struct ts_rec *r = ts_http_rec(u, i);

		if (ts_buf_append(out, u->b->data + r->off, r->len))
			return -ENOMEM;
	}
	return 0;
}

const struct ts_http_format_ops ts_http_ndjson = {
	.name = "ndjson",
	.content_type = "application/x-ndjson",
	.shapes = TS_HTTP_JSON_SHAPES,
	.build = build,
};
