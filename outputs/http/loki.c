// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loki: the push API's JSON,
 *   {"streams":[{"stream":{"host":..,"type":..,labels},"values":[["ns","line"],..]},..]}
 * Labels stay low-cardinality: host and type (one stream per type, the
 * host being the run's), plus the config's static labels, and when asked
 * (pod_namespace_label) the pod's namespace; never addresses, ports, pids,
 * pods or container ids, which would make a stream per connection or per
 * pod. Loki wants the
 * values of a stream in time order, and a unit gathered from several
 * reader batches need not be: each stream is sorted (stable by seq).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "ident.h"
#include "json.h"
#include "util.h"

struct loki {
	char *head;		/* {"stream":{"host":"<host>","type":" */
	size_t head_len;
	char *labels;		/* ,"job":"tcpship" ... */
	size_t labels_len;
	bool podns;		/* pod_namespace_label */
};

struct stream {
	const char *type;
	const char *podns;	/* NULL: none (or not asked) */
	uint32_t count, start;
};

static const char *rec_podns(const struct loki *l, const struct ts_rec *r)
{
	return l->podns && r->cg ? r->cg->pod_namespace : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool ts_http_label_name_ok(const char *name)
{
	if (!*name || (!isalpha((unsigned char)*name) && *name != '_'))
		return false;
	for (const char *c = name + 1; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

static void loki_free(void *state)
{
	struct loki *l = state;

	if (l) {
		free(l->head);
		free(l->labels);
		free(l);
	}
}

static int check_labels(const struct ts_http_conf *c, char *err, size_t errlen)
{
	if (c->labels.n > 13)
		return ts_errf(err, errlen, "labels: at most 13 (Loki allows 15 per stream, and "
			       "host and type are two)");
	for (int i = 0; i < c->labels.n; i++) {
		const char *k = c->labels.keys[i];

		if (!ts_http_label_name_ok(k))
			return ts_errf(err, errlen, "labels.%s: not a Loki label name "
				       "([a-zA-Z_][a-zA-Z0-9_]*)", k);
		if (!strcmp(k, "host") || !strcmp(k, "type") ||
		    (c->pod_namespace_label && !strcmp(k, "pod_namespace")))
			return ts_errf(err, errlen, "labels.%s: set by tcpship from each event", k);
		if (!*c->labels.vals[i])
			return ts_errf(err, errlen, "labels.%s: empty value", k);
	}
	if (c->tenant && (!*c->tenant || !ts_http_header_ok("X-Scope-OrgID", c->tenant)))
		return ts_errf(err, errlen, "tenant: must be non-empty, without line breaks");
	if (c->tenant && ts_http_user_header(c, "X-Scope-OrgID"))
		return ts_errf(err, errlen, "headers.X-Scope-OrgID: conflicts with tenant");
	return 0;
}

/* ,"k":"v" for each static label (names are plain: checked) */
static char *label_text(const struct ts_http_conf *c)
{
	struct ts_buf b = { 0 };

	if (ts_buf_append(&b, "", 1))
		return NULL;
	b.len = 0;
	for (int i = 0; i < c->labels.n; i++) {
		const char *k = c->labels.keys[i], *v = c->labels.vals[i];

		if (ts_buf_reserve(&b, strlen(k) + 6 * strlen(v) + 9)) {
			ts_buf_free(&b);
			return NULL;
		}
		TS_BUF_PUTS(&b, ",\"");
		ts_buf_put(&b, k, strlen(k));
		TS_BUF_PUTS(&b, "\":\"");
		b.len += ts_json_escape(b.p + b.len, v, strlen(v));
		TS_BUF_PUTS(&b, "\"");
		b.p[b.len] = 0;
	}
	return b.p;
}

static int loki_open(const struct ts_http_conf *c, const struct ts_run *run,
		     struct ts_http_fmt_setup *s, char *err, size_t errlen)
{
	struct loki *l;
	int rc = check_labels(c, err, errlen);

	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	s->state = l;
	l->labels = label_text(c);
	if (asprintf(&l->head, "{\"stream\":{\"host\":\"%s\",\"type\":\"", run->host_json) < 0)
		l->head = NULL;
	if (c->tenant && asprintf(&s->header, "X-Scope-OrgID: %s", c->tenant) < 0)
		s->header = NULL;
	if (!l->labels || !l->head || (c->tenant && !s->header))
		return -ENOMEM;
	l->head_len = strlen(l->head);
	l->podns = c->pod_namespace_label;
	l->labels_len = strlen(l->labels);
	return 0;
}

static int by_time(const void *x, const void *y, void *arg)
{
	const struct ts_rec *a = ts_http_rec(arg, *(const uint32_t *)x);
	const struct ts_rec *z = ts_http_rec(arg, *(const uint32_t *)y);

	if (a->time_ns != z->time_ns)
		return a->time_ns < z->time_ns ? -1 : 1;
	return a->seq < z->seq ? -1 : a->seq > z->seq;
}

/* The records of u grouped by type, in the order each type first shows:
 * order[] holds the records' numbers stream after stream. Returns the
 * number of streams. */
static uint32_t group(const struct loki *l, const struct ts_http_body *u,
		      struct stream *streams, uint32_t *sid, uint32_t *order)
{
	uint32_t ns = 0;

	for (uint32_t i = 0; i < u->n; i++) {
		const struct ts_rec *r = ts_http_rec(u, i);
		const char *type = r->type, *podns = rec_podns(l, r);
		uint32_t s = 0;

		while (s < ns && (streams[s].type != type || !same_str(streams[s].podns, podns)))
			s++;
		if (s == ns)
			streams[ns++] = (struct stream){ .type = type, .podns = podns };
		streams[s].count++;
		sid[i] = s;
	}
	for (uint32_t s = 0, at = 0; s < ns; s++) {
		streams[s].start = at;
		at += streams[s].count;
		streams[s].count = 0;
	}
	for (uint32_t i = 0; i < u->n; i++)
		order[streams[sid[i]].start + streams[sid[i]].count++] = i;
	return ns;
}

static int put_stream(const struct loki *l, const struct ts_http_body *u,
		      const struct stream *st, uint32_t *o, struct ts_buf *out)
{
	const char *tname = st->type ? st->type : "unknown";
	bool sorted = true;

	for (uint32_t k = 1; k < st->count && sorted; k++)
		sorted = by_time(&o[k - 1], &o[k], (void *)u) <= 0;
	if (!sorted)
		qsort_r(o, st->count, sizeof(*o), by_time, (void *)u);
	if (ts_buf_reserve(out, 64 + l->head_len + strlen(tname) + l->labels_len +
			   (st->podns ? 6 * strlen(st->podns) : 0)))
		return -ENOMEM;
	ts_buf_put(out, l->head, l->head_len);
	ts_buf_put(out, tname, strlen(tname));
	out->p[out->len++] = '"';
	ts_buf_put(out, l->labels, l->labels_len);
	if (st->podns) {
		TS_BUF_PUTS(out, ",\"pod_namespace\":\"");
		out->len += ts_json_escape(out->p + out->len, st->podns, strlen(st->podns));
		out->p[out->len++] = '"';
	}
	TS_BUF_PUTS(out, "},\"values\":[");
	for (uint32_t k = 0; k < st->count; k++) {
		const struct ts_rec *r = ts_http_rec(u, o[k]);
		size_t len = r->len - 1;	/* without the '\n' */

		if (ts_buf_reserve(out, 32 + 6 * len))
			return -ENOMEM;
		if (k)
			out->p[out->len++] = ',';
		TS_BUF_PUTS(out, "[\"");
		ts_buf_put_u64(out, r->time_ns);
		TS_BUF_PUTS(out, "\",\"");
		out->len += ts_json_escape(out->p + out->len, u->b->data + r->off, len);
		TS_BUF_PUTS(out, "\"]");
	}
	TS_BUF_PUTS(out, "]}");
	return 0;
}

static int loki_build(const void *state, void **scratch, const struct ts_http_body *u,
		      struct ts_buf *out)
{
	const size_t each = sizeof(struct stream) + 2 * sizeof(uint32_t);
	struct stream *streams = ts_http_scratch(scratch, u->n, each);
	uint32_t *sid = (uint32_t *)(streams + u->n), *order = sid + u->n, ns;

	if (!streams || ts_buf_reserve(out, 16))
		return -ENOMEM;
	ns = group(state, u, streams, sid, order);
	TS_BUF_PUTS(out, "{\"streams\":[");
	for (uint32_t s = 0; s < ns; s++) {
		if (s && ts_buf_append(out, ",", 1))
			return -ENOMEM;
		if (put_stream(state, u, &streams[s], order + streams[s].start, out))
			return -ENOMEM;
	}
	return ts_buf_append(out, "]}", 2);
}

const struct ts_http_format_ops ts_http_loki = {
	.name = "loki",
	.content_type = "application/json",
	.default_path = "/loki/api/v1/push",
	.keys = TS_HTTP_KEY_LABELS | TS_HTTP_KEY_TENANT | TS_HTTP_KEY_PODNS,
	.open = loki_open,
	.free = loki_free,
	.build = loki_build,
};
