/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The parts of the HTTP sink, shared by its files: http.c (the ops, the
 * curl handles), conf.c (the option table, and the checks that make a bad
 * config exit 2 before anything is sent), request.c (one POST and what its
 * answer means), and the body formats behind format.h. The unit tests
 * include it to reach the pure parts without a network.
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <curl/curl.h>
#include <libdeflate.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/format.h"
#include "net/secret.h"
#include "net/tls.h"
#include "net/url.h"
#include "sink.h"

enum { TS_HTTP_COMP_NONE = 0, TS_HTTP_COMP_GZIP };
enum { TS_HTTP_ACTION_CREATE = 0, TS_HTTP_ACTION_INDEX };

struct ts_http_conf {
	char *url;
	int format;			/* index into ts_http_formats */
	int compression;
	uint64_t compression_level;
	uint64_t max_events, max_bytes, max_delay_ns;
	uint64_t timeout_ns, connect_timeout_ns;
	struct ts_kv headers;
	char *user, *password, *password_file;
	char *token_file, *token_env;
	struct ts_tls_conf tls;
	char *proxy;
	char *index;
	int action;
	struct ts_kv labels;
	bool pod_namespace_label;	/* loki: a stream per pod namespace too */
	char *tenant;
	char *sourcetype;
	uint64_t in_flight;
};

/* A unit whose answer is read item by item, and what of it is left to
 * deliver: a retry of the same unit sends only the items refused for now. */
struct ts_http_unit {
	const struct ts_batch *b;
	uint32_t from, n;
	uint64_t seq;		/* of its first record: a freed unit's address
				   may come back, its first seq cannot */
	bool partial;		/* some items already answered */
	uint32_t *todo, n_todo, cap;
	struct ts_http_item *items;
};

/* One request in flight: its own curl handle (and connection), buffers,
 * the format's scratch and the unit it is delivering. */
struct ts_http_worker {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	struct ts_buf body, zbody, resp;
	size_t resp_cap;
	struct libdeflate_compressor *gz;	/* with compression: gzip */
	void *scratch;
	struct ts_http_unit unit;
};

#define TS_HTTP_CURL_CODES 128

/* What the exit line counts, and what has been logged once already. */
struct ts_http_stats {
	_Atomic uint64_t requests, retried, body_bytes, sent_bytes;
	_Atomic uint64_t dropped_status, dropped_items, conflicts;
	_Atomic long last_status;
	_Atomic int last_error;
	_Atomic uint64_t failing;	/* failed requests since the last answer */
	_Atomic unsigned char said_status[600], said_item[600];
	_Atomic unsigned char said_curl[TS_HTTP_CURL_CODES];
	_Atomic unsigned char said_garbage, said_nomem, said_partial, said_warning;
};

/* The sink (o->priv). */
struct ts_http {
	const struct ts_http_conf *conf;
	const struct ts_http_format_ops *fmt;
	struct ts_http_fmt_setup fs;
	bool gzip, https;
	char *url;			/* the one requested (a default path added) */
	struct curl_slist *headers;
	char *token, *password;		/* secrets */
	struct ts_secrets secrets;	/* masked in logged excerpts */
	unsigned n_workers;
	struct ts_http_worker *w;
	struct ts_http_worker fmt_w;	/* for the format hook (tests) */
	struct ts_http_stats st;
};

/* conf.c */
extern const struct ts_opt ts_http_opts[];
void ts_http_conf_init(void *conf);
int ts_http_conf_spec(void *conf, const char *spec, char *err, size_t errlen);
int ts_http_check(const void *conf, char *err, size_t errlen);
/* Every check of open, and what they make in p: the URL, the format's
 * state, secrets, headers. 0, or -errno and one line in err. */
int ts_http_setup(struct ts_http *p, const struct ts_run *run, char *err, size_t errlen);
/* http[s]://HOST[:PORT][/PATH][?QUERY] parsed by libcurl (net/url.h), and
 * the HTTP sink's own rules: credentials in the URL are refused (they
 * would show in the sink's name and every message), a #fragment means
 * nothing to a collector, spaces and control bytes must be %-encoded.
 * 0, or -EINVAL and one line in err ("url: ..."). */
int ts_http_parse_url(const char *url, struct ts_url *u, char *err, size_t errlen);
/* An HTTP header: a token for a name, a value without CR, LF or NUL. */
bool ts_http_header_ok(const char *name, const char *value);
/* Does the config's "headers" set this one (any case)? */
bool ts_http_user_header(const struct ts_http_conf *c, const char *name);
/* JSON-escaped copy of s, for what formats put into bodies; NULL: no memory */
char *ts_http_json_str(const char *s);

/* request.c */
/* The body of u into out, by the format (w's scratch). */
int ts_http_build(const struct ts_http *p, struct ts_http_worker *w, const struct ts_http_body *u,
		  struct ts_buf *out);
/* libcurl's write callback: the answer's body, kept up to w->resp_cap */
size_t ts_http_on_body(char *data, size_t size, size_t nmemb, void *w);
/* The write of recs [from, from + n) of b: one request built and sent,
 * and what its answer means for the core (delivered, retried, dropped).
 * Counts and logs. */
enum ts_out_result ts_http_request(struct ts_output *o, struct ts_http_worker *w,
				   const struct ts_batch *b, uint32_t from, uint32_t n);
/* A whole answer: 2xx TS_OUT_OK; 408, 429, 5xx TS_OUT_RETRY; anything else
 * (other 4xx, 3xx, 1xx, 0) TS_OUT_DROP. Transport errors never get here:
 * they are always TS_OUT_RETRY. */
enum ts_out_result ts_http_classify(long status);
/* ... as format f says (its retry_statuses), or as above */
enum ts_out_result ts_http_classify_for(const struct ts_http_format_ops *f, long status);
/* Retry-After as libcurl gives it (CURLINFO_RETRY_AFTER: seconds, negative
 * for a date in the past, 0 for none) made a wait: 0 to
 * TS_HTTP_RETRY_AFTER_MAX_S seconds. */
#define TS_HTTP_RETRY_AFTER_MAX_S 600
uint64_t ts_http_retry_after_clamp(curl_off_t s);
/* in[0..len) as one gzip member (RFC 1952) into out. libdeflate, not
 * zlib: a request body is compressed whole, and libdeflate does that 1.6x
 * as fast at a better ratio (tests/bench/httpbench --gzip-only). */
int ts_http_gzip(struct libdeflate_compressor *c, const void *in, size_t len,
		 struct ts_buf *out);
/* curl's error for the exit line ("connect", "timeout", ...) */
const char *ts_http_curl_name(int e, char buf[16]);
void ts_http_unit_free(struct ts_http_unit *u);

#endif
