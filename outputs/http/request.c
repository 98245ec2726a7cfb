// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One request and what its answer means. The sink classifies, the core
 * retries (fluent-bit's split): 2xx delivered; 408, 429, 5xx (or the
 * statuses a format names: OTLP's 429, 502, 503, 504) and transport
 * errors retried with the core's backoff, stretched to what Retry-After
 * asks (up to a cap: one answer must not park the sink for a day); any
 * other status dropped and counted. A format that reads its answer item
 * by item (the Elasticsearch bulk answer) gets a retry of only the items
 * refused for now; an item refused for good is dropped alone. A format
 * whose 2xx may refuse a number of records for good (OTLP's partial
 * success) gets those counted as dropped, the rest delivered.
 *
 * Failures are logged once per status (or curl error) until the collector
 * answers again, so an outage is a few lines and not one per retry; an
 * answer is quoted with every secret masked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define RESP_EXCERPT 160

enum ts_out_result ts_http_classify(long status)
{
	return ts_http_classify_for(NULL, status);
}

enum ts_out_result ts_http_classify_for(const struct ts_http_format_ops *f, long status)
{
	if (status >= 200 && status < 300)
		return TS_OUT_OK;
	if (f && f->retry_statuses) {
		for (const short *s = f->retry_statuses; *s; s++)
			if (status == *s)
				return TS_OUT_RETRY;
		return TS_OUT_DROP;
	}
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return TS_OUT_RETRY;
	return TS_OUT_DROP;
}

uint64_t ts_http_retry_after_clamp(curl_off_t s)
{
	/* a date in the past comes as a negative delay */
	if (s < 0)
		return 0;
	return s > TS_HTTP_RETRY_AFTER_MAX_S ? TS_HTTP_RETRY_AFTER_MAX_S : (uint64_t)s;
}

int ts_http_gzip(struct libdeflate_compressor *c, const void *in, size_t len,
		 struct ts_buf *out)
{
	size_t bound = libdeflate_gzip_compress_bound(c, len);

	out->len = 0;
	if (ts_buf_reserve(out, bound))
		return -ENOMEM;
	out->len = libdeflate_gzip_compress(c, in, len, out->p, bound);
	return out->len ? 0 : -EIO;
}

const char *ts_http_curl_name(int e, char buf[16])
{
	switch (e) {
	case 0: return "none";
	case CURLE_COULDNT_RESOLVE_HOST: return "resolve";
	case CURLE_COULDNT_CONNECT: return "connect";
	case CURLE_OPERATION_TIMEDOUT: return "timeout";
	case CURLE_PEER_FAILED_VERIFICATION: return "tls_verify";
	case CURLE_SSL_CONNECT_ERROR: return "tls_handshake";
	case CURLE_SSL_CACERT_BADFILE: return "tls_ca_file";
	case CURLE_SSL_CERTPROBLEM: return "tls_cert";
	case CURLE_GOT_NOTHING: return "empty_reply";
	case CURLE_SEND_ERROR: return "send";
	case CURLE_RECV_ERROR: return "recv";
	case CURLE_UNSUPPORTED_PROTOCOL:	/* curl's word for an HTTP/0.9 answer */
	case CURLE_WEIRD_SERVER_REPLY: return "bad_reply";
	}
	snprintf(buf, 16, "curl_%d", e);
	return buf;
}

size_t ts_http_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ts_http_worker *w = arg;
	size_t n = size * nmemb, keep = n;

	/* read all of it (the connection stays usable), keep what is useful */
	if (w->resp.len + keep > w->resp_cap)
		keep = w->resp.len < w->resp_cap ? w->resp_cap - w->resp.len : 0;
	if (keep && !ts_buf_reserve(&w->resp, keep + 1)) {
		memcpy(w->resp.p + w->resp.len, data, keep);
		w->resp.len += keep;
		w->resp.p[w->resp.len] = 0;
	}
	return n;
}

/* ------------------------------------------------------------ logging */

static bool once(_Atomic unsigned char *flag)
{
	return !atomic_exchange(flag, 1);
}

static const char *excerpt(const struct ts_http *p, const struct ts_http_worker *w, char *out,
			   size_t cap)
{
	return ts_secrets_excerpt(&p->secrets, w->resp.p, w->resp.len, out, cap);
}

/* An answer came: say so once if requests had been failing, and let the
 * next outage be said again. */
static void answered(struct ts_output *o)
{
	struct ts_http *p = o->priv;
	uint64_t n = atomic_exchange(&p->st.failing, 0);

	if (!n)
		return;
	for (int i = 0; i < TS_HTTP_CURL_CODES; i++)
		atomic_store(&p->st.said_curl[i], 0);
	for (int s = 0; s < 600; s++)
		if (ts_http_classify_for(p->fmt, s) == TS_OUT_RETRY)
			atomic_store(&p->st.said_status[s], 0);
	ts_output_log(o, "the collector answers again (after %llu failed request%s)",
		      (unsigned long long)n, n == 1 ? "" : "s");
}

/* ------------------------------------------------------------ one POST */

static enum ts_out_result transport_failed(struct ts_output *o, struct ts_http_worker *w,
					   CURLcode e)
{
	struct ts_http *p = o->priv;
	char buf[16];

	atomic_store(&p->st.last_error, (int)e);
	atomic_fetch_add(&p->st.failing, 1);
	if (once(&p->st.said_curl[(unsigned)e % TS_HTTP_CURL_CODES]))
		ts_output_log(o, "request failed (%s): %s; retrying with backoff",
			      ts_http_curl_name(e, buf), w->errbuf[0] ? w->errbuf : curl_easy_strerror(e));
	return TS_OUT_RETRY;
}

static enum ts_out_result status_retry(struct ts_output *o, struct ts_http_worker *w,
				       long status)
{
	struct ts_http *p = o->priv;
	char ra[40] = "", ex[RESP_EXCERPT];
	curl_off_t asked = 0;
	uint64_t s;

	/* libcurl reads both forms (seconds, HTTP-date) and says 0 for none */
	curl_easy_getinfo(w->curl, CURLINFO_RETRY_AFTER, &asked);
	s = ts_http_retry_after_clamp(asked);
	if (s) {
		ts_out_retry_after(s * 1000000000ULL);
		snprintf(ra, sizeof(ra), ", Retry-After %llu", (unsigned long long)s);
	}
	atomic_fetch_add(&p->st.failing, 1);
	if (once(&p->st.said_status[status % 600]))
		ts_output_log(o, "HTTP %ld%s; retrying with backoff: %s", status, ra,
			      excerpt(p, w, ex, sizeof(ex)));
	return TS_OUT_RETRY;
}

/* Send w->body; OK (2xx), RETRY or DROP. */
static enum ts_out_result post(struct ts_output *o, struct ts_http_worker *w, uint32_t cnt)
{
	struct ts_http *p = o->priv;
	const char *data = w->body.p;
	size_t len = w->body.len;
	enum ts_out_result r;
	char ex[200];
	long status = 0;
	CURLcode e;

	if (p->gzip) {
		if (ts_http_gzip(w->gz, w->body.p, w->body.len, &w->zbody)) {
			if (once(&p->st.said_nomem))
				ts_output_log(o, "cannot compress a request: out of memory; retrying");
			return TS_OUT_RETRY;
		}
		data = w->zbody.p;
		len = w->zbody.len;
	}
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, data);
	w->resp.len = 0;
	w->errbuf[0] = 0;
	e = curl_easy_perform(w->curl);
	atomic_fetch_add(&p->st.requests, 1);
	atomic_fetch_add(&p->st.body_bytes, w->body.len);
	atomic_fetch_add(&p->st.sent_bytes, len);
	if (e != CURLE_OK)
		return transport_failed(o, w, e);
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	atomic_store(&p->st.last_status, status);
	r = ts_http_classify_for(p->fmt, status);
	if (r == TS_OUT_RETRY)
		return status_retry(o, w, status);
	answered(o);
	if (r == TS_OUT_DROP && once(&p->st.said_status[(unsigned long)status % 600]))
		ts_output_log(o, "HTTP %ld: %u event%s dropped, not retried (further %ld answers "
			      "are counted, not logged): %s", status, cnt, cnt == 1 ? "" : "s",
			      status, excerpt(p, w, ex, sizeof(ex)));
	return r;
}

/* ------------------------------------------------------------ item by item */

static int unit_take(struct ts_http_unit *u, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	/* the same unit again (a retry): keep what is left of it */
	if (u->b == b && u->from == from && u->n == n && u->seq == b->recs[from].seq)
		return 0;
	if (n > u->cap) {
		uint32_t *t = realloc(u->todo, sizeof(*t) * n);
		struct ts_http_item *it = t ? realloc(u->items, sizeof(*it) * n) : NULL;

		if (t)
			u->todo = t;
		if (!it)
			return -ENOMEM;
		u->items = it;
		u->cap = n;
	}
	for (uint32_t i = 0; i < n; i++)
		u->todo[i] = from + i;
	u->n_todo = n;
	u->b = b;
	u->from = from;
	u->n = n;
	u->seq = b->recs[from].seq;
	u->partial = false;
	return 0;
}

static void unit_end(struct ts_http_unit *u)
{
	u->b = NULL;
	u->n_todo = 0;
}

void ts_http_unit_free(struct ts_http_unit *u)
{
	free(u->todo);
	free(u->items);
	memset(u, 0, sizeof(*u));
}

/* The unit's items after the answer; RETRY keeps those refused for now. */
static enum ts_out_result sort_items(struct ts_output *o, struct ts_http_unit *u,
				     const char *reason)
{
	struct ts_http *p = o->priv;
	uint32_t cnt = u->n_todo, keep = 0, dropped = 0, conflicts = 0, retry_status = 0;
	char ex[200];

	for (uint32_t i = 0; i < cnt; i++) {
		int st = u->items[i].status;

		switch (u->items[i].verdict) {
		case TS_ITEM_OK:
			break;
		case TS_ITEM_CONFLICT:
			conflicts++;
			break;
		case TS_ITEM_RETRY:
			u->todo[keep++] = u->todo[i];
			if (!retry_status)
				retry_status = (uint32_t)st;
			break;
		case TS_ITEM_DROP:
			dropped++;
			if (once(&p->st.said_item[(unsigned)st % 600]))
				ts_output_log(o, "bulk item refused, dropped (further %d items are "
					      "counted, not logged): %s", st,
					      ts_printable(ex, sizeof(ex), reason, strlen(reason)));
			break;
		}
	}
	atomic_fetch_add(&p->st.conflicts, conflicts);
	atomic_fetch_add(&p->st.dropped_items, dropped);
	if (dropped)
		ts_out_dropped(dropped);
	if (!keep) {
		unit_end(u);
		return TS_OUT_OK;
	}
	if (once(&p->st.said_item[retry_status % 600]))
		ts_output_log(o, "%u of %u bulk items answered %u; sending those again", keep, cnt,
			      retry_status);
	u->n_todo = keep;
	u->partial = true;
	return TS_OUT_RETRY;
}

/* What the answer to a request read item by item means for its items. */
static enum ts_out_result items_result(struct ts_output *o, struct ts_http_worker *w,
				       enum ts_out_result r)
{
	struct ts_http *p = o->priv;
	struct ts_http_unit *u = &w->unit;
	char reason[300], ex[RESP_EXCERPT];

	if (r == TS_OUT_RETRY)
		return r;
	if (r == TS_OUT_DROP) {
		atomic_fetch_add(&p->st.dropped_status, u->n_todo);
		if (u->partial) {
			/* some of the unit went through earlier: only the rest is
			 * dropped, and the core must count the rest as delivered */
			ts_out_dropped(u->n_todo);
			r = TS_OUT_OK;
		}
		unit_end(u);
		return r;
	}
	if (p->fmt->answer(w->resp.p, w->resp.len, u->n_todo, u->items, reason, sizeof(reason))) {
		atomic_fetch_add(&p->st.failing, 1);
		if (once(&p->st.said_garbage))
			ts_output_log(o, "the answer is not a bulk response for %u items; sending "
				      "again: %s", u->n_todo, excerpt(p, w, ex, sizeof(ex)));
		return TS_OUT_RETRY;
	}
	return sort_items(o, u, reason);
}

/* ------------------------------------------------------------ partly taken */

/* A 2xx answer that may refuse some records for good without saying which
 * (OTLP's partialSuccess): that many are dropped and counted, the rest
 * delivered; the collector's words are logged once. */
static enum ts_out_result partial_result(struct ts_output *o, struct ts_http_worker *w,
					 uint32_t n)
{
	struct ts_http *p = o->priv;
	char reason[300], ex[RESP_EXCERPT];
	uint32_t rejected = 0;

	if (p->fmt->partial(w->resp.p, w->resp.len, n, &rejected, reason, sizeof(reason))) {
		atomic_fetch_add(&p->st.failing, 1);
		if (once(&p->st.said_garbage))
			ts_output_log(o, "the answer is no %s response for %u events; sending "
				      "again: %s", p->fmt->name, n, excerpt(p, w, ex, sizeof(ex)));
		return TS_OUT_RETRY;
	}
	if (rejected) {
		atomic_fetch_add(&p->st.dropped_items, rejected);
		ts_out_dropped(rejected);
		if (once(&p->st.said_partial))
			ts_output_log(o, "%u of %u events refused for good (partial success), "
				      "dropped (further refusals are counted, not logged): %s",
				      rejected, n, ts_secrets_excerpt(&p->secrets, reason,
								      strlen(reason), ex, sizeof(ex)));
	} else if (reason[0] && once(&p->st.said_warning)) {
		ts_output_log(o, "all %u events taken, with a warning (further warnings are not "
			      "logged): %s", n, ts_secrets_excerpt(&p->secrets, reason,
								   strlen(reason), ex, sizeof(ex)));
	}
	return TS_OUT_OK;
}

/* ------------------------------------------------------------ the write */

int ts_http_build(const struct ts_http *p, struct ts_http_worker *w, const struct ts_http_body *u,
		  struct ts_buf *out)
{
	out->len = 0;
	if (!u->n)
		return ts_buf_reserve(out, 1);
	return p->fmt->build(p->fs.state, &w->scratch, u, out);
}

enum ts_out_result ts_http_request(struct ts_output *o, struct ts_http_worker *w,
				   const struct ts_batch *b, uint32_t from, uint32_t n)
{
	struct ts_http *p = o->priv;
	struct ts_http_body u = { .b = b, .from = from, .n = n };
	enum ts_out_result r;

	if (!n)
		return TS_OUT_OK;
	if (p->fmt->answer) {
		if (unit_take(&w->unit, b, from, n))
			goto nomem;
		u.idx = w->unit.todo;
		u.n = w->unit.n_todo;
	}
	if (ts_http_build(p, w, &u, &w->body))
		goto nomem;
	r = post(o, w, u.n);
	if (p->fmt->answer)
		r = items_result(o, w, r);
	else if (r == TS_OUT_DROP)
		atomic_fetch_add(&p->st.dropped_status, u.n);
	else if (r == TS_OUT_OK && p->fmt->partial)
		r = partial_result(o, w, u.n);
	if (r == TS_OUT_RETRY)
		atomic_fetch_add(&p->st.retried, 1);
	return r;
nomem:
	if (once(&p->st.said_nomem))
		ts_output_log(o, "cannot build a request: out of memory; retrying");
	atomic_fetch_add(&p->st.retried, 1);
	return TS_OUT_RETRY;
}
