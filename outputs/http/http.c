// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * http: units of events POSTed to a collector with libcurl, in the body
 * format the config names (format.h). The core gathers events into units
 * (batch.*) and retries; request.c sends one unit and says what the answer
 * means; conf.c checks the config at open.
 *
 * One curl easy handle per request in flight (in_flight), so that each
 * keeps its own connection alive between requests and a slow answer on one
 * never holds up the others' bodies. The environment's proxies are
 * ignored: a daemon's destination is its config, not what its environment
 * inherited.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed (CURLOPT_PROTOCOLS_STR)"
#endif

#define RESP_KEEP_SMALL 4096	/* of an answer that is only logged */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* before any thread: libcurl's global init is not thread-safe everywhere */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool http_match(const char *spec)
{
	return !strncasecmp(spec, "http://", 7) || !strncasecmp(spec, "https://", 8);
}

void *ts_http_scratch(void **scratch, size_t n, size_t size)
{
	size_t *have = *scratch, want = n * size;

	if (!have || have[0] < want) {
		size_t *g = realloc(have, sizeof(size_t) + want);

		if (!g)
			return NULL;
		if (!have)
			memset(g + 1, 0, want);
		g[0] = want;
		*scratch = have = g;
	}
	return have + 1;
}

static int worker_options(const struct ts_http *p, struct ts_http_worker *w)
{
	const struct ts_http_conf *c = p->conf;
	CURLcode e = CURLE_OK;
	CURL *h = w->curl;

#define SET(opt, val)						\
	do {							\
		if (e == CURLE_OK)				\
			e = curl_easy_setopt(h, opt, val);	\
	} while (0)
	SET(CURLOPT_URL, p->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, p->headers);
	SET(CURLOPT_USERAGENT, "tcpship/" TCPSHIP_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout_ns / 1000000ULL));
	SET(CURLOPT_TIMEOUT_MS, (long)(c->timeout_ns / 1000000ULL));
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ERRORBUFFER, w->errbuf);
	SET(CURLOPT_WRITEFUNCTION, ts_http_on_body);
	SET(CURLOPT_WRITEDATA, w);
	/* "": none, not http_proxy and friends */
	SET(CURLOPT_PROXY, c->proxy ? c->proxy : "");
	if (p->https) {
		SET(CURLOPT_SSL_VERIFYPEER, c->tls.verify ? 1L : 0L);
		SET(CURLOPT_SSL_VERIFYHOST, c->tls.verify ? 2L : 0L);
		if (c->tls.ca_file)
			SET(CURLOPT_CAINFO, c->tls.ca_file);
		if (c->tls.cert) {
			SET(CURLOPT_SSLCERT, c->tls.cert);
			SET(CURLOPT_SSLKEY, c->tls.key);
		}
	}
	if (c->user) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, c->user);
		SET(CURLOPT_PASSWORD, p->password);
	}
#undef SET
	return (int)e;
}

static int worker_init(const struct ts_http *p, struct ts_http_worker *w, char *err,
		       size_t errlen)
{
	const struct ts_http_conf *c = p->conf;
	int e;

	/* an answer read item by item (or for a partial success, whose
	 * message may list the refusals) is read whole: ~1 KiB per item,
	 * bounded */
	w->resp_cap = RESP_KEEP_SMALL;
	if (p->fmt->answer || p->fmt->partial)
		w->resp_cap = c->max_events > 255000 ? 256ULL << 20
						     : (1ULL << 20) + c->max_events * 1024;
	if (p->gzip && !(w->gz = libdeflate_alloc_compressor((int)c->compression_level)))
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	w->curl = curl_easy_init();
	if (!w->curl)
		return ts_err(err, errlen, -ENOMEM, "cannot make a libcurl handle");
	e = worker_options(p, w);
	if (e)
		return ts_err(err, errlen, -ENOTSUP, "libcurl: %s",
			      curl_easy_strerror((CURLcode)e));
	return 0;
}

static void worker_free(struct ts_http_worker *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	ts_buf_free(&w->body);
	ts_buf_free(&w->zbody);
	ts_buf_free(&w->resp);
	if (w->gz)
		libdeflate_free_compressor(w->gz);
	free(w->scratch);
	ts_http_unit_free(&w->unit);
	memset(w, 0, sizeof(*w));
}

static void http_free(struct ts_http *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->w && i < p->n_workers; i++)
		worker_free(&p->w[i]);
	worker_free(&p->fmt_w);
	free(p->w);
	for (struct curl_slist *l = p->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(p->headers);
	ts_secret_free(p->token);
	ts_secret_free(p->password);
	ts_secrets_free(&p->secrets);
	if (p->fmt && p->fmt->free)
		p->fmt->free(p->fs.state);
	free(p->fs.header);
	free(p->url);
	free(p);
}

static int http_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	const struct ts_http_conf *c = conf;
	struct ts_http *p;
	int rc;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return ts_err(err, errlen, -ENOTSUP, "cannot initialise libcurl: %s",
			      curl_easy_strerror(curl_init_rc));
	p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	p->conf = c;
	p->fmt = ts_http_formats[c->format];
	p->gzip = c->compression == TS_HTTP_COMP_GZIP;
	p->n_workers = (unsigned)c->in_flight;
	err[0] = 0;
	rc = ts_http_setup(p, o->run, err, errlen);
	if (!rc && !(p->w = calloc(p->n_workers, sizeof(*p->w))))
		rc = -ENOMEM;
	for (unsigned i = 0; !rc && i < p->n_workers; i++)
		rc = worker_init(p, &p->w[i], err, errlen);
	if (rc) {
		if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "out of memory");
		http_free(p);
		return rc;
	}
	o->priv = p;
	/* the name shows in every message and counter line: no query string
	 * (ClickHouse takes ?password= there) */
	snprintf(o->name, sizeof(o->name), "%.*s", (int)strcspn(p->url, "?"), p->url);
	o->batching.max_events = (uint32_t)c->max_events;
	o->batching.max_bytes = c->max_bytes;
	o->batching.max_delay_ns = c->max_delay_ns;
	o->workers = p->n_workers;
	if (p->https && !c->tls.verify)
		ts_output_log(o, "tls.verify is false: the collector's certificate is not checked");
	return 0;
}

static enum ts_out_result http_write(struct ts_output *o, const struct ts_batch *b,
				     uint32_t from, uint32_t n)
{
	struct ts_http *p = o->priv;

	return ts_http_request(o, &p->w[(unsigned)ts_out_worker() % p->n_workers], b, from, n);
}

static void http_close(struct ts_output *o)
{
	http_free(o->priv);
	o->priv = NULL;
}

static int http_format(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n,
		       struct ts_buf *out)
{
	struct ts_http *p = o->priv;
	struct ts_http_body u = { .b = b, .from = from, .n = n };
	struct ts_buf body = { 0 };
	int rc = ts_http_build(p, &p->fmt_w, &u, &body);

	if (!rc)
		rc = ts_buf_append(out, body.p, body.len);
	ts_buf_free(&body);
	return rc;
}

static int http_counters(struct ts_output *o, char *buf, size_t len)
{
	struct ts_http_stats *st = &((struct ts_http *)o->priv)->st;
	char ebuf[16];

	return snprintf(buf, len,
			"requests=%llu retried=%llu body_bytes=%llu sent_bytes=%llu "
			"drop_status=%llu drop_items=%llu conflicts=%llu status=%ld error=%s",
			(unsigned long long)atomic_load(&st->requests),
			(unsigned long long)atomic_load(&st->retried),
			(unsigned long long)atomic_load(&st->body_bytes),
			(unsigned long long)atomic_load(&st->sent_bytes),
			(unsigned long long)atomic_load(&st->dropped_status),
			(unsigned long long)atomic_load(&st->dropped_items),
			(unsigned long long)atomic_load(&st->conflicts), atomic_load(&st->last_status),
			ts_http_curl_name(atomic_load(&st->last_error), ebuf));
}

static int http_shape(const void *conf, int requested, char *err, size_t errlen)
{
	const struct ts_http_conf *c = conf;
	const struct ts_http_format_ops *f = ts_http_formats[c->format];

	if (requested < 0)
		return f->default_shape;
	if (f->shapes && !(f->shapes & (1u << requested)))
		return ts_errf(err, errlen, "schema %s: the %s format takes JSON documents (native, "
			   "ecs or ocsf)", ts_shapes[requested].name, f->name);
	return requested;
}

const struct ts_output_ops ts_output_http = {
	.type = "http",
	.match = http_match,
	.conf_size = sizeof(struct ts_http_conf),
	.opts = ts_http_opts,
	.conf_init = ts_http_conf_init,
	.conf_spec = ts_http_conf_spec,
	.check = ts_http_check,
	.open = http_open,
	.write = http_write,
	.close = http_close,
	.format = http_format,
	.shape = http_shape,
	.counters = http_counters,
	.default_drop_when_full = true,
};
