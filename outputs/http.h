/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pure parts of the HTTP sink (outputs/http.c), apart so the unit tests
 * reach them without a network: URL and option checks, the classification
 * of a response, Retry-After, the Elasticsearch bulk response, gzip, index
 * names. None of them prints; errors come back as one line in err.
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <zlib.h>

#include "sink.h"

enum ts_http_format {
	TS_HTTP_NDJSON = 0,
	TS_HTTP_ES,
	TS_HTTP_LOKI,
	TS_HTTP_HEC,
};

/* http[s]://HOST[:PORT][/PATH][?QUERY], checked enough that a typo is a
 * config error and not a run of failed requests. */
struct ts_url {
	bool https;
	char host[256];		/* without the brackets of an IPv6 literal */
	unsigned port;		/* 0: the scheme's default */
	size_t path_off;	/* where the path starts in the URL ("/..." or end) */
	size_t path_len;	/* without the query */
	bool has_query;
};

/* 0, or -EINVAL and one line in err. Credentials in the URL are refused:
 * they would end up in the sink's name and every message. */
int ts_http_parse_url(const char *url, struct ts_url *u, char *err, size_t errlen);

/* A whole response: 2xx TS_OUT_OK; 408, 429, 5xx TS_OUT_RETRY; anything
 * else (other 4xx, 3xx, 1xx, 0) TS_OUT_DROP. Transport errors never get
 * here: they are always TS_OUT_RETRY. */
enum ts_out_result ts_http_classify(long status);

/* Retry-After: delay-seconds or an HTTP-date (IMF-fixdate, RFC 850,
 * asctime), relative to now. A date in the past is 0. Values are capped at
 * TS_HTTP_RETRY_AFTER_MAX_S. false if the value is neither. */
#define TS_HTTP_RETRY_AFTER_MAX_S 600
bool ts_http_retry_after(const char *value, time_t now, uint64_t *ns);

/* One item of a bulk answer. */
enum ts_http_item {
	TS_ITEM_OK = 0,		/* 2xx */
	TS_ITEM_CONFLICT,	/* 409: the _id is already there: delivered before */
	TS_ITEM_RETRY,		/* 408, 429, 5xx */
	TS_ITEM_DROP,		/* anything else: the document itself is refused */
};
enum ts_http_item ts_http_item_verdict(int status);

/* Parse an Elasticsearch _bulk response for n items sent: status[i] gets
 * each item's HTTP status, in order. reason gets "status type: reason" of
 * the first item that is dropped (else of the first retried one), for the
 * log. 0, or -EINVAL when the body is not a bulk answer for n items. An
 * answer whose top level says "errors":false before its items is taken at
 * its word without reading them (every status[i] is then 200). */
int ts_http_bulk_parse(const char *resp, size_t len, uint32_t n, int *status, char *reason,
		       size_t rlen);

/* gzip (RFC 1952) with zlib; the stream is made once and reset per body. */
struct ts_gz {
	z_stream zs;
	bool ready;
	int level;
};
int ts_http_gzip(struct ts_gz *z, const void *in, size_t len, struct ts_buf *out);
void ts_http_gzip_free(struct ts_gz *z);

/* Elasticsearch index names from a strftime pattern over the event's UTC
 * time ("tcpship-%Y.%m.%d"). The check allows only numeric conversions and
 * the characters Elasticsearch accepts in an index name. */
int ts_http_check_index(const char *pattern, char *err, size_t errlen);
size_t ts_http_index_name(const char *pattern, uint64_t time_ns, char *out, size_t cap);

/* A Loki label name: [a-zA-Z_][a-zA-Z0-9_]* */
bool ts_http_label_name_ok(const char *name);
/* An HTTP header: a token for a name, a value without CR, LF or NUL. */
bool ts_http_header_ok(const char *name, const char *value);

/* The raw (still JSON-escaped) value of the string key `key` of an encoded
 * line, e.g. "host" or "agent_id"; NULL if absent. */
const char *ts_http_line_str(const char *line, size_t len, const char *key, size_t *vlen);

/* s made safe for one log line: printable ASCII kept, the rest '?', cut to
 * at most cap - 1 bytes. Returns out. */
char *ts_printable(char *out, size_t cap, const char *s, size_t n);

#endif
