// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * elasticsearch: the _bulk API (OpenSearch's too). Each event is an action
 * line and the event's line; the index is named from the event's own UTC
 * time, so a unit that spans midnight lands in both days' indexes; the _id
 * is agent_id-seq, the same in every retry, so a document sent twice is
 * refused as a conflict (409) instead of stored twice: with "create"
 * (data streams) a 409 means delivered.
 *
 * A 200 answer is only the envelope: each item has its own status. Items
 * that failed with 429/5xx are sent again alone; any other item error is
 * the document itself being refused, dropped and counted.
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "util.h"

#define DEFAULT_INDEX "tcpship-%Y.%m.%d"

struct es {
	const char *pattern;
	bool create;
	const char *agent_id;	/* the run's: outlives the sink */
	size_t agent_len;
};

/* per worker: the index name of the last second seen */
struct es_cache {
	bool valid;
	int64_t sec;
	size_t len;
	char name[300];
};

int ts_http_check_index(const char *pattern, char *err, size_t errlen)
{
	char sample[512];

	if (!*pattern)
		return ts_errf(err, errlen, "index: empty");
	if (strchr("-_+", pattern[0]))
		return ts_errf(err, errlen, "index: must not start with '%c'", pattern[0]);
	if (!strcmp(pattern, ".") || !strcmp(pattern, ".."))
		return ts_errf(err, errlen, "index: '%s' is not an index name", pattern);
	for (const char *p = pattern; *p; p++) {
		if (*p == '%') {
			p++;
			if (!*p || !strchr("YymdHMSjGgVuw%", *p))
				return ts_errf(err, errlen, "index: '%%%s' is not allowed (numeric "
					       "date fields only: %%Y %%m %%d %%H %%j %%V %%G ...)",
					       *p ? (char[]){ *p, 0 } : "");
			continue;
		}
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("-_.+", *p))
			return ts_errf(err, errlen, "index: '%c' is not allowed in an Elasticsearch "
				       "index name (lower case letters, digits, - _ . +)", *p);
	}
	/* the longest expansion of these fields is in year 9999 */
	if (ts_http_index_name(pattern, 253402300799ULL * 1000000000ULL, sample,
			       sizeof(sample)) > 255 || !sample[0])
		return ts_errf(err, errlen, "index: the name would be longer than 255 bytes");
	return 0;
}

size_t ts_http_index_name(const char *pattern, uint64_t time_ns, char *out, size_t cap)
{
	time_t t = (time_t)(time_ns / 1000000000ULL);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	/* the pattern is the user's, checked by ts_http_check_index() */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, cap, pattern, &tm);
#pragma GCC diagnostic pop
	if (!n && cap)
		out[0] = 0;
	return n ? n : cap;	/* did not fit: say so by the length */
}

static int es_open(const struct ts_http_conf *c, const struct ts_run *run,
		   struct ts_http_fmt_setup *s, char *err, size_t errlen)
{
	struct es *es;
	const char *pattern = c->index ? c->index : DEFAULT_INDEX;
	int rc = ts_http_check_index(pattern, err, errlen);

	if (rc)
		return rc;
	es = calloc(1, sizeof(*es));
	if (!es)
		return -ENOMEM;
	es->pattern = pattern;
	es->create = c->action == TS_HTTP_ACTION_CREATE;
	es->agent_id = run->agent_id;
	es->agent_len = strlen(run->agent_id);
	s->state = es;
	return 0;
}

static int es_build(const void *state, void **scratch, const struct ts_http_body *u,
		    struct ts_buf *out)
{
	const struct es *es = state;
	struct es_cache *ix = ts_http_scratch(scratch, 1, sizeof(*ix));

	if (!ix)
		return -ENOMEM;
	for (uint32_t i = 0; i < u->n; i++) {
		const struct ts_rec *r = ts_http_rec(u, i);
		int64_t sec = (int64_t)(r->time_ns / 1000000000ULL);

		if (!ix->valid || sec != ix->sec) {
			ix->len = ts_http_index_name(es->pattern, r->time_ns, ix->name,
						     sizeof(ix->name));
			if (ix->len >= sizeof(ix->name))
				return -ENAMETOOLONG;
			ix->sec = sec;
			ix->valid = true;
		}
		/* a replayed record keeps the id its own run gave it */
		const char *agent = r->agent_id ? r->agent_id : es->agent_id;
		size_t agent_len = r->agent_id ? strlen(r->agent_id) : es->agent_len;

		if (ts_buf_reserve(out, 64 + ix->len + agent_len + 20 + r->len))
			return -ENOMEM;
		if (es->create)
			TS_BUF_PUTS(out, "{\"create\":{\"_index\":\"");
		else
			TS_BUF_PUTS(out, "{\"index\":{\"_index\":\"");
		ts_buf_put(out, ix->name, ix->len);
		TS_BUF_PUTS(out, "\",\"_id\":\"");
		ts_buf_put(out, agent, agent_len);
		out->p[out->len++] = '-';
		ts_buf_put_u64(out, r->seq);
		TS_BUF_PUTS(out, "\"}}\n");
		ts_buf_put(out, u->b->data + r->off, r->len);
	}
	return 0;
}

static enum ts_http_verdict verdict(int status)
{
	if (status >= 200 && status < 300)
		return TS_ITEM_OK;
	if (status == 409)
		return TS_ITEM_CONFLICT;
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return TS_ITEM_RETRY;
	return TS_ITEM_DROP;
}

static void item_reason(struct json_object *item, int status, char *reason, size_t rlen)
{
	struct json_object *e, *type, *why;
	const char *t = "", *r = "";

	if (json_object_object_get_ex(item, "error", &e)) {
		if (json_object_get_type(e) == json_type_object) {
			if (json_object_object_get_ex(e, "type", &type))
				t = json_object_get_string(type);
			if (json_object_object_get_ex(e, "reason", &why))
				r = json_object_get_string(why);
		} else {
			r = json_object_get_string(e);
		}
	}
	snprintf(reason, rlen, "%d %s%s%s", status, t ? t : "", *r ? ": " : "", r ? r : "");
}

/* A bulk answer says "errors":false before its items when every item went
 * in (Elasticsearch 7 and 8, OpenSearch: {"took":N,"errors":false,"items":
 * or {"errors":false,"took":N,...). Then there is nothing to read item by
 * item, and a thousand-item answer is not worth a parse: look at the top
 * level keys before "items" only. */
static bool bulk_all_ok(const char *resp, size_t len)
{
	static const char key[] = "\"errors\":false";
	size_t i = 0, lim = len < 256 ? len : 256;

	while (i < lim && isspace((unsigned char)resp[i]))
		i++;
	if (i == lim || resp[i++] != '{')
		return false;
	for (; i + sizeof(key) - 1 <= lim; i++) {
		char c = resp[i];

		if (c == '{' || c == '[' || !strncmp(resp + i, "\"items\"", 7))
			return false;	/* nested, or past the top-level scalars */
		if (!strncmp(resp + i, key, sizeof(key) - 1))
			return true;
	}
	return false;
}

/* One item: {"<action>":{"status":N,...}}; its status, or 0 if it is not one. */
static int item_status(struct json_object *it, struct json_object **res)
{
	struct json_object *st;
	int cnt = 0, status;

	if (json_object_get_type(it) != json_type_object)
		return 0;
	json_object_object_foreach(it, action, v) {
		(void)action;
		*res = v;
		cnt++;
	}
	if (cnt != 1 || json_object_get_type(*res) != json_type_object ||
	    !json_object_object_get_ex(*res, "status", &st) ||
	    json_object_get_type(st) != json_type_int)
		return 0;
	status = json_object_get_int(st);
	return status >= 100 && status <= 599 ? status : 0;
}

/* The items array of a whole bulk answer for n items, or NULL. */
static struct json_object *bulk_items(struct json_tokener *tok, const char *resp, size_t len,
				      uint32_t n, struct json_object **root)
{
	struct json_object *items;

	*root = json_tokener_parse_ex(tok, resp, (int)len);
	if (!*root || json_tokener_get_error(tok) != json_tokener_success)
		return NULL;
	/* nothing but white space after the object */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!isspace((unsigned char)resp[i]))
			return NULL;
	if (json_object_get_type(*root) != json_type_object ||
	    !json_object_object_get_ex(*root, "items", &items) ||
	    json_object_get_type(items) != json_type_array ||
	    json_object_array_length(items) != n)
		return NULL;
	return items;
}

static int es_answer(const char *resp, size_t len, uint32_t n, struct ts_http_item *items,
		     char *reason, size_t rlen)
{
	struct json_object *root = NULL, *arr, *res = NULL;
	struct json_tokener *tok;
	bool have_drop = false, have_retry = false;
	int rc = -EINVAL;

	if (rlen)
		reason[0] = 0;
	if (!resp || !len || len > INT32_MAX)
		return -EINVAL;
	if (bulk_all_ok(resp, len)) {
		for (uint32_t i = 0; i < n; i++)
			items[i] = (struct ts_http_item){ .status = 200, .verdict = TS_ITEM_OK };
		return 0;
	}
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	arr = bulk_items(tok, resp, len, n, &root);
	for (uint32_t i = 0; arr && i < n; i++) {
		int st = item_status(json_object_array_get_idx(arr, i), &res);

		if (!st)
			goto out;
		items[i] = (struct ts_http_item){ .status = st, .verdict = verdict(st) };
		/* the reason of the first dropped item, else of the first retried */
		if (items[i].verdict == TS_ITEM_DROP && !have_drop && rlen)
			item_reason(res, st, reason, rlen);
		else if (items[i].verdict == TS_ITEM_RETRY && !have_drop && !have_retry && rlen)
			item_reason(res, st, reason, rlen);
		have_drop |= items[i].verdict == TS_ITEM_DROP;
		have_retry |= items[i].verdict == TS_ITEM_RETRY;
	}
	rc = arr ? 0 : -EINVAL;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

const struct ts_http_format_ops ts_http_elasticsearch = {
	.name = "elasticsearch",
	.content_type = "application/x-ndjson",
	.default_path = "/_bulk",
	.keys = TS_HTTP_KEY_ACTION | TS_HTTP_KEY_INDEX,
	/* @timestamp, which data streams need, and ECS's mappings */
	.default_shape = TS_SHAPE_ECS,
	.shapes = TS_HTTP_JSON_SHAPES,
	.open = es_open,
	.free = free,
	.build = es_build,
	.answer = es_answer,
};
