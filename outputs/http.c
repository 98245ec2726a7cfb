// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * http: batches of events POSTed to a collector with libcurl.
 *
 *   -o http://127.0.0.1:8123/?query=INSERT%20INTO%20tcp_events%20FORMAT%20JSONEachRow
 *   { "type": "http", "url": "https://es:9200", "format": "elasticsearch",
 *     "compression": "gzip", "batch": { "max_events": 5000, "max_delay": "500ms" },
 *     "auth": { "user": "tcpship", "password_file": "/etc/tcpship/es.pw" },
 *     "tls": { "ca_file": "/etc/tcpship/ca.pem" } }
 *
 * The core gathers events into units (batch.*) and retries; this file turns
 * a unit into one request body (format), sends it (one curl easy handle per
 * request in flight, kept alive between requests, Content-Length always
 * set) and says what the answer means: 2xx delivered; 408, 429, 5xx and
 * transport errors retried (Retry-After passed on); any other status
 * dropped, counted, and the first bytes of the answer logged once per
 * status. An Elasticsearch bulk answer is read item by item: a retry of the
 * same unit sends only the items that failed with 429/5xx, 409 counts as
 * delivered (the _id is deterministic, so the document is already there),
 * any other item error is dropped and counted.
 *
 * Secrets (passwords, tokens, Authorization headers) are read once at open,
 * never printed, masked in any answer excerpt that is logged, and wiped
 * from memory at close.
 *
 * Keys of a config entry (all but url optional):
 *   url                http[s]://HOST[:PORT][/PATH][?QUERY]; a URL without a path
 *                      gets the format's usual one (/_bulk, /loki/api/v1/push,
 *                      /services/collector/event)
 *   format             ndjson (default), elasticsearch, loki, splunk_hec
 *   compression        none (default), gzip; compression_level 1..9 (default 1:
 *                      ~14x on tcpship's lines at a third of level 6's CPU)
 *   batch.max_events   1000; batch.max_bytes 1MiB (of lines, before
 *                      compression); batch.max_delay 1s since a unit's first event
 *   timeout            10s per request; connect_timeout 5s
 *   in_flight          requests at once, 1..16 (default 1: order kept)
 *   headers            { "Name": "value" } added to every request
 *   auth               { user, password | password_file }: basic auth
 *   token_file, token_env   a bearer token (splunk_hec: the HEC token)
 *   tls                { ca_file, cert, key, verify (true) }: https only
 *   proxy              an HTTP proxy URL; the environment's are ignored
 *   index              elasticsearch: strftime pattern over the event's UTC
 *                      time (tcpship-%Y.%m.%d); splunk_hec: the index name
 *   action             elasticsearch: create (default, data streams) or index
 *   labels, tenant     loki: static labels (besides host and type) and the
 *                      X-Scope-OrgID header
 *   sourcetype         splunk_hec (default tcpship)
 *   queue              the core's: { max_events, when_full } (default: drop)
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shape.h"
#include "http.h"
#include "sink.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed (CURLOPT_PROTOCOLS_STR)"
#endif

/* ------------------------------------------------------------ options */

enum { COMP_NONE = 0, COMP_GZIP };
enum { ACTION_CREATE = 0, ACTION_INDEX };

struct http_conf {
	char *url;
	int format;			/* enum ts_http_format */
	int compression;
	uint64_t compression_level;
	uint64_t max_events, max_bytes, max_delay_ns;
	uint64_t timeout_ns, connect_timeout_ns;
	struct ts_kv headers;
	char *user, *password, *password_file;
	char *token_file, *token_env;
	char *ca_file, *cert, *key;
	bool verify;
	char *proxy;
	char *index;
	int action;
	struct ts_kv labels;
	char *tenant;
	char *sourcetype;
	uint64_t in_flight;
};

static const char *const format_names[] = { "ndjson", "elasticsearch", "loki", "splunk_hec",
					    NULL };
static const char *const compression_names[] = { "none", "gzip", NULL };
static const char *const action_names[] = { "create", "index", NULL };

#define OFF(f) offsetof(struct http_conf, f)

static const struct ts_opt batch_keys[] = {
	{ .name = "max_events", .type = TS_OPT_UINT, .off = OFF(max_events), .min = 1,
	  .max = 1000000 },
	{ .name = "max_bytes", .type = TS_OPT_SIZE, .off = OFF(max_bytes), .min = 4096,
	  .max = 256ULL << 20 },
	{ .name = "max_delay", .type = TS_OPT_DURATION, .off = OFF(max_delay_ns), .min = 0,
	  .max = 3600ULL * 1000000000ULL },
	{ .name = NULL },
};

static const struct ts_opt auth_keys[] = {
	{ .name = "user", .type = TS_OPT_STRING, .off = OFF(user) },
	{ .name = "password", .type = TS_OPT_STRING, .off = OFF(password) },
	{ .name = "password_file", .type = TS_OPT_STRING, .off = OFF(password_file) },
	{ .name = NULL },
};

static const struct ts_opt tls_keys[] = {
	{ .name = "ca_file", .type = TS_OPT_STRING, .off = OFF(ca_file) },
	{ .name = "cert", .type = TS_OPT_STRING, .off = OFF(cert) },
	{ .name = "key", .type = TS_OPT_STRING, .off = OFF(key) },
	{ .name = "verify", .type = TS_OPT_BOOL, .off = OFF(verify) },
	{ .name = NULL },
};

static const struct ts_opt http_opts[] = {
	{ .name = "url", .type = TS_OPT_STRING, .off = OFF(url) },
	{ .name = "format", .type = TS_OPT_ENUM, .off = OFF(format), .choices = format_names },
	{ .name = "compression", .type = TS_OPT_ENUM, .off = OFF(compression),
	  .choices = compression_names },
	{ .name = "compression_level", .type = TS_OPT_UINT, .off = OFF(compression_level),
	  .min = 1, .max = 9 },
	{ .name = "batch", .type = TS_OPT_OBJECT, .sub = batch_keys },
	{ .name = "timeout", .type = TS_OPT_DURATION, .off = OFF(timeout_ns),
	  .min = 1000000ULL, .max = 3600ULL * 1000000000ULL },
	{ .name = "connect_timeout", .type = TS_OPT_DURATION, .off = OFF(connect_timeout_ns),
	  .min = 1000000ULL, .max = 3600ULL * 1000000000ULL },
	{ .name = "headers", .type = TS_OPT_MAP, .off = OFF(headers) },
	{ .name = "auth", .type = TS_OPT_OBJECT, .sub = auth_keys },
	{ .name = "token_file", .type = TS_OPT_STRING, .off = OFF(token_file) },
	{ .name = "token_env", .type = TS_OPT_STRING, .off = OFF(token_env) },
	{ .name = "tls", .type = TS_OPT_OBJECT, .sub = tls_keys },
	{ .name = "proxy", .type = TS_OPT_STRING, .off = OFF(proxy) },
	{ .name = "index", .type = TS_OPT_STRING, .off = OFF(index) },
	{ .name = "action", .type = TS_OPT_ENUM, .off = OFF(action), .choices = action_names },
	{ .name = "labels", .type = TS_OPT_MAP, .off = OFF(labels) },
	{ .name = "tenant", .type = TS_OPT_STRING, .off = OFF(tenant) },
	{ .name = "sourcetype", .type = TS_OPT_STRING, .off = OFF(sourcetype) },
	{ .name = "in_flight", .type = TS_OPT_UINT, .off = OFF(in_flight), .min = 1, .max = 16 },
	{ .name = NULL },
};

#define DEFAULT_INDEX "tcpship-%Y.%m.%d"

/* ------------------------------------------------------------ pure parts */

__attribute__((format(printf, 3, 4)))
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int ts_http_parse_url(const char *url, struct ts_url *u, char *err, size_t errlen)
{
	const char *auth, *end, *host_end, *port = NULL, *rest;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (!url || !*url)
		return bad(err, errlen, "url: missing (http://HOST:PORT/PATH)");
	if (!strncasecmp(url, "http://", 7)) {
		auth = url + 7;
	} else if (!strncasecmp(url, "https://", 8)) {
		auth = url + 8;
		u->https = true;
	} else {
		return bad(err, errlen, "url: must start with http:// or https://");
	}
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)))
		return bad(err, errlen, "url: user:password@ in the URL is refused (it would show "
			   "in messages): use auth.user and auth.password_file");
	if (end == auth)
		return bad(err, errlen, "url: no host (http://HOST:PORT/PATH)");
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(end - auth));
		if (!host_end || host_end == auth + 1)
			return bad(err, errlen, "url: unterminated IPv6 address (http://[::1]:PORT/)");
		for (const char *c = auth + 1; c < host_end; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return bad(err, errlen, "url: bad IPv6 address");
		if (host_end + 1 < end) {
			if (host_end[1] != ':')
				return bad(err, errlen, "url: junk after the IPv6 address");
			port = host_end + 2;
		}
		auth++;
	} else {
		host_end = memchr(auth, ':', (size_t)(end - auth));
		if (host_end)
			port = host_end + 1;
		else
			host_end = end;
		for (const char *c = auth; c < host_end; c++)
			if (!host_char(*c))
				return bad(err, errlen, "url: '%c' is not allowed in a host name", *c);
	}
	hlen = (size_t)(host_end - auth);
	if (!hlen)
		return bad(err, errlen, "url: no host (http://HOST:PORT/PATH)");
	if (hlen >= sizeof(u->host))
		return bad(err, errlen, "url: host name too long");
	memcpy(u->host, auth, hlen);
	u->host[hlen] = 0;
	if (port) {
		unsigned long v = 0;

		if (port == end)
			return bad(err, errlen, "url: empty port");
		for (const char *c = port; c < end; c++) {
			if (!isdigit((unsigned char)*c) || (v = v * 10 + (unsigned)(*c - '0')) > 65535)
				return bad(err, errlen, "url: the port must be a number from 1 to 65535");
		}
		if (!v)
			return bad(err, errlen, "url: the port must be a number from 1 to 65535");
		u->port = (unsigned)v;
	}
	rest = end;
	for (const char *c = rest; *c; c++) {
		if (*c == '#')
			return bad(err, errlen, "url: a #fragment means nothing to a collector");
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return bad(err, errlen, "url: spaces and control bytes must be %%-encoded "
				   "(%%20)");
	}
	u->path_off = (size_t)(rest - url);
	u->path_len = strcspn(rest, "?");
	u->has_query = rest[u->path_len] == '?';
	return 0;
}

enum ts_out_result ts_http_classify(long status)
{
	if (status >= 200 && status < 300)
		return TS_OUT_OK;
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return TS_OUT_RETRY;
	return TS_OUT_DROP;
}

bool ts_http_retry_after(const char *value, time_t now, uint64_t *ns)
{
	static const char *const dates[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate (RFC 9110) */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* obsolete RFC 850 */
		"%a %b %e %H:%M:%S %Y",		/* asctime() */
	};
	char buf[64];
	size_t n;
	uint64_t s;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
		     value[n - 1] == '\n'))
		n--;
	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, value, n);
	buf[n] = 0;
	if (strspn(buf, "0123456789") == n) {
		/* more digits than a year of seconds needs is still "a long time" */
		s = n > 9 ? TS_HTTP_RETRY_AFTER_MAX_S : strtoull(buf, NULL, 10);
	} else {
		bool ok = false;

		for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]) && !ok; i++) {
			struct tm tm;
			const char *e;

			memset(&tm, 0, sizeof(tm));
			e = strptime(buf, dates[i], &tm);
			if (e && !*e) {
				time_t t = timegm(&tm);

				if (t == (time_t)-1)
					return false;
				s = t > now ? (uint64_t)(t - now) : 0;
				ok = true;
			}
		}
		if (!ok)
			return false;
	}
	if (s > TS_HTTP_RETRY_AFTER_MAX_S)
		s = TS_HTTP_RETRY_AFTER_MAX_S;
	*ns = s * 1000000000ULL;
	return true;
}

enum ts_http_item ts_http_item_verdict(int status)
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

int ts_http_bulk_parse(const char *resp, size_t len, uint32_t n, int *status, char *reason,
		       size_t rlen)
{
	struct json_tokener *tok;
	struct json_object *root, *items;
	bool have_drop = false, have_retry = false;
	int rc = -EINVAL;

	if (rlen)
		reason[0] = 0;
	if (!resp || !len || len > INT32_MAX)
		return -EINVAL;
	if (bulk_all_ok(resp, len)) {
		for (uint32_t i = 0; i < n; i++)
			status[i] = 200;
		return 0;
	}
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, resp, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* nothing but white space after the object */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!isspace((unsigned char)resp[i]))
			goto out;
	if (json_object_get_type(root) != json_type_object ||
	    !json_object_object_get_ex(root, "items", &items) ||
	    json_object_get_type(items) != json_type_array ||
	    json_object_array_length(items) != n)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i), *res = NULL, *st;
		int cnt = 0;

		if (json_object_get_type(it) != json_type_object)
			goto out;
		/* one key: the action ("create", "index", ...) */
		json_object_object_foreach(it, action, v) {
			(void)action;
			res = v;
			cnt++;
		}
		if (cnt != 1 || json_object_get_type(res) != json_type_object ||
		    !json_object_object_get_ex(res, "status", &st) ||
		    json_object_get_type(st) != json_type_int)
			goto out;
		status[i] = json_object_get_int(st);
		if (status[i] < 100 || status[i] > 599)
			goto out;
		switch (ts_http_item_verdict(status[i])) {
		case TS_ITEM_DROP:
			if (!have_drop && rlen)
				item_reason(res, status[i], reason, rlen);
			have_drop = true;
			break;
		case TS_ITEM_RETRY:
			if (!have_drop && !have_retry && rlen)
				item_reason(res, status[i], reason, rlen);
			have_retry = true;
			break;
		default:
			break;
		}
	}
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

int ts_http_gzip(struct ts_gz *z, const void *in, size_t len, struct ts_buf *out)
{
	uLong bound;
	int rc;

	if (len > 0xffffffffUL)
		return -E2BIG;
	if (!z->ready) {
		memset(&z->zs, 0, sizeof(z->zs));
		/* 16 + window bits: a gzip wrapper, not zlib's */
		if (deflateInit2(&z->zs, z->level ? z->level : Z_DEFAULT_COMPRESSION, Z_DEFLATED,
				 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		z->ready = true;
	} else if (deflateReset(&z->zs) != Z_OK) {
		return -EIO;
	}
	bound = deflateBound(&z->zs, (uLong)len);
	out->len = 0;
	if (ts_buf_reserve(out, bound))
		return -ENOMEM;
	z->zs.next_in = (Bytef *)(uintptr_t)in;
	z->zs.avail_in = (uInt)len;
	z->zs.next_out = (Bytef *)out->p;
	z->zs.avail_out = (uInt)bound;
	rc = deflate(&z->zs, Z_FINISH);
	if (rc != Z_STREAM_END)
		return -EIO;
	out->len = z->zs.total_out;
	return 0;
}

void ts_http_gzip_free(struct ts_gz *z)
{
	if (z->ready)
		deflateEnd(&z->zs);
	z->ready = false;
}

int ts_http_check_index(const char *pattern, char *err, size_t errlen)
{
	char sample[512];

	if (!*pattern)
		return bad(err, errlen, "index: empty");
	if (strchr("-_+", pattern[0]))
		return bad(err, errlen, "index: must not start with '%c'", pattern[0]);
	if (!strcmp(pattern, ".") || !strcmp(pattern, ".."))
		return bad(err, errlen, "index: '%s' is not an index name", pattern);
	for (const char *p = pattern; *p; p++) {
		if (*p == '%') {
			p++;
			if (!*p || !strchr("YymdHMSjGgVuw%", *p))
				return bad(err, errlen, "index: '%%%s' is not allowed (numeric date "
					   "fields only: %%Y %%m %%d %%H %%j %%V %%G ...)",
					   *p ? (char[]){ *p, 0 } : "");
			continue;
		}
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("-_.+", *p))
			return bad(err, errlen, "index: '%c' is not allowed in an Elasticsearch index "
				   "name (lower case letters, digits, - _ . +)", *p);
	}
	/* the longest expansion of these fields is in year 9999 */
	if (ts_http_index_name(pattern, 253402300799ULL * 1000000000ULL, sample,
			       sizeof(sample)) > 255 || !sample[0])
		return bad(err, errlen, "index: the name would be longer than 255 bytes");
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

bool ts_http_label_name_ok(const char *name)
{
	if (!*name || (!isalpha((unsigned char)*name) && *name != '_'))
		return false;
	for (const char *c = name + 1; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

bool ts_http_header_ok(const char *name, const char *value)
{
	if (!*name)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
			return false;
	for (const char *c = value; *c; c++)
		if (*c == '\r' || *c == '\n')
			return false;
	return true;
}

const char *ts_http_line_str(const char *line, size_t len, const char *key, size_t *vlen)
{
	char needle[40];
	int nl = snprintf(needle, sizeof(needle), "\"%s\":\"", key);
	const char *v, *end = line + len;

	if (nl < 0 || (size_t)nl >= sizeof(needle))
		return NULL;
	/* inside a JSON string every '"' is escaped, so the needle only
	 * matches a real key */
	v = memmem(line, len, needle, (size_t)nl);
	if (!v)
		return NULL;
	v += nl;
	for (const char *c = v; c < end; c++) {
		if (*c == '\\') {
			c++;
		} else if (*c == '"') {
			*vlen = (size_t)(c - v);
			return v;
		}
	}
	return NULL;
}

char *ts_printable(char *out, size_t cap, const char *s, size_t n)
{
	size_t k = 0;

	if (!cap)
		return out;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : (c == '\n' || c == '\t') ? ' ' : '?';
	}
	out[k] = 0;
	return out;
}

/* ------------------------------------------------------------ the sink */

#define N_CURL_CODES 128
#define RESP_KEEP_SMALL 4096	/* of an answer we only log */
#define MAX_SECRETS 8

struct stream {
	const char *host;	/* raw JSON-escaped bytes in the line */
	size_t host_len;
	const char *type;
	uint32_t count, start;
};

/* One request in flight: its own curl handle (and connection), buffers, and
 * the state of the unit it is delivering. */
struct worker {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	struct ts_buf body, zbody, resp;
	size_t resp_cap;
	char retry_after[64];
	struct ts_gz gz;

	/* elasticsearch: the unit being delivered and what of it is left */
	const struct ts_batch *unit;
	uint32_t unit_from, unit_n;
	uint64_t unit_seq;
	bool unit_partial;		/* some items already answered */
	uint32_t *todo, n_todo, cap_todo;
	int *item_status;

	/* index name of the last second seen */
	int64_t idx_sec;
	char idx_name[300];
	size_t idx_len;

	/* loki scratch */
	uint32_t *sid, *order, cap_scratch;
	struct stream *streams;
};

struct priv {
	const struct http_conf *conf;
	enum ts_http_format fmt;
	bool gzip;
	char *url;			/* the one requested (a default path added) */
	struct ts_url u;
	const char *index;		/* elasticsearch: pattern; splunk: name or NULL */
	char *hec_mid;			/* ,"sourcetype":"..","index":"..","event": */
	char *loki_labels;		/* ,"job":"tcpship" */
	struct curl_slist *headers;
	char *token;			/* secret */
	char *password;			/* secret */
	char *secrets[MAX_SECRETS];	/* masked in logged excerpts */
	int n_secrets;
	unsigned n_workers;
	struct worker *w;
	struct worker fmt_w;		/* for the format hook (tests) */

	_Atomic uint64_t requests, retried, body_bytes, sent_bytes;
	_Atomic uint64_t dropped_status, dropped_items, conflicts;
	_Atomic long last_status;
	_Atomic int last_error;
	_Atomic uint64_t failing;	/* failed requests since the last answer */
	_Atomic unsigned char said_status[600];
	_Atomic unsigned char said_item[600];
	_Atomic unsigned char said_curl[N_CURL_CODES];
	_Atomic unsigned char said_garbage, said_nomem;
};

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

static void http_conf_init(void *c)
{
	struct http_conf *hc = c;

	hc->format = TS_HTTP_NDJSON;
	hc->compression = COMP_NONE;
	hc->compression_level = 1;
	hc->max_events = 1000;
	hc->max_bytes = 1ULL << 20;
	hc->max_delay_ns = 1000000000ULL;
	hc->timeout_ns = 10 * 1000000000ULL;
	hc->connect_timeout_ns = 5 * 1000000000ULL;
	hc->verify = true;
	hc->action = ACTION_CREATE;
	hc->in_flight = 1;
}

static int http_conf_spec(void *c, const char *spec, char *err, size_t errlen)
{
	struct http_conf *hc = c;

	hc->url = strdup(spec);
	return hc->url ? 0 : -ENOMEM;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A secret from a file: the first line, without its line end. */
static int read_secret_file(const char *key, const char *path, char **out, char *err,
			    size_t errlen)
{
	char buf[4096];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return bad(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return bad(err, errlen, "%s: %s is not a regular file", key, path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return bad(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0]) {
		explicit_bzero(buf, sizeof(buf));
		return bad(err, errlen, "%s: %s is empty", key, path);
	}
	if ((size_t)n == sizeof(buf) - 1) {
		explicit_bzero(buf, sizeof(buf));
		return bad(err, errlen, "%s: %s is too long for a secret", key, path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}

/* A certificate file must hold at least one PEM certificate. */
static int check_pem(const char *key, const char *path, bool cert, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return bad(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return bad(err, errlen, "%s: %s is not a regular file", key, path);
	}
	if (!cert) {
		fclose(f);
		return 0;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return bad(err, errlen, "%s: %s holds no PEM certificate", key, path);
	X509_free(x);
	return 0;
}

static int add_secret(struct priv *p, const char *s)
{
	if (!s || strlen(s) < 4 || p->n_secrets == MAX_SECRETS)
		return 0;
	p->secrets[p->n_secrets] = strdup(s);
	if (!p->secrets[p->n_secrets])
		return -ENOMEM;
	p->n_secrets++;
	return 0;
}

static bool sensitive_header(const char *name)
{
	static const char *const words[] = { "auth", "key", "token", "secret", "cookie",
					     "password", "session", NULL };

	for (int i = 0; words[i]; i++)
		if (strcasestr(name, words[i]))
			return true;
	return false;
}

static int add_header(struct priv *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_header(struct priv *p, const char *fmt, ...)
{
	struct curl_slist *l;
	char *line;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	l = curl_slist_append(p->headers, line);
	wipe_free(line);	/* curl keeps its own copy */
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

static bool user_header(const struct http_conf *hc, const char *name)
{
	for (int i = 0; i < hc->headers.n; i++)
		if (!strcasecmp(hc->headers.keys[i], name))
			return true;
	return false;
}

/* JSON-escaped copy of s (for label values and names that go into bodies) */
static char *json_str(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(6 * n + 1);

	if (o)
		o[ts_json_escape(o, s, n)] = 0;
	return o;
}

static int check_auth(struct priv *p, const struct http_conf *hc, char *err, size_t errlen)
{
	int rc;

	if (hc->password && hc->password_file)
		return bad(err, errlen, "auth: password and password_file: give one");
	if ((hc->password || hc->password_file) && !hc->user)
		return bad(err, errlen, "auth.user: missing (a password needs a user)");
	if (hc->user) {
		if (!*hc->user || strchr(hc->user, ':'))
			return bad(err, errlen, "auth.user: must be non-empty and without ':'");
		if (!hc->password && !hc->password_file)
			return bad(err, errlen, "auth: a user needs password or password_file");
		if (hc->token_file || hc->token_env)
			return bad(err, errlen, "auth and token_file/token_env: give one way to "
				   "authenticate");
		if (hc->password_file) {
			rc = read_secret_file("auth.password_file", hc->password_file, &p->password,
					      err, errlen);
			if (rc)
				return rc;
		} else {
			p->password = strdup(hc->password);
			if (!p->password)
				return -ENOMEM;
		}
	}
	if (hc->token_file && hc->token_env)
		return bad(err, errlen, "token_file and token_env: give one");
	if (hc->token_file) {
		rc = read_secret_file("token_file", hc->token_file, &p->token, err, errlen);
		if (rc)
			return rc;
	} else if (hc->token_env) {
		const char *v = getenv(hc->token_env);

		if (!v || !*v)
			return bad(err, errlen, "token_env: the environment variable %s is not set "
				   "or empty", hc->token_env);
		if (strchr(v, '\n') || strchr(v, '\r'))
			return bad(err, errlen, "token_env: %s holds a line break", hc->token_env);
		p->token = strdup(v);
		if (!p->token)
			return -ENOMEM;
	}
	if (p->fmt == TS_HTTP_HEC && !p->token && !user_header(hc, "Authorization"))
		return bad(err, errlen, "splunk_hec needs the HEC token: token_file or token_env");
	if ((p->token || hc->user) && user_header(hc, "Authorization"))
		return bad(err, errlen, "headers.Authorization: conflicts with auth/token_file/"
			   "token_env");
	if (add_secret(p, p->token) || add_secret(p, p->password))
		return -ENOMEM;
	if (hc->user && p->password) {
		/* a collector that echoes the request would echo this form */
		size_t n = strlen(hc->user) + 1 + strlen(p->password);
		char *plain = malloc(n + 1), *b64 = malloc(4 * ((n + 2) / 3) + 1);

		if (!plain || !b64) {
			free(plain);
			free(b64);
			return -ENOMEM;
		}
		snprintf(plain, n + 1, "%s:%s", hc->user, p->password);
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, (int)n);
		wipe_free(plain);
		rc = add_secret(p, b64);
		wipe_free(b64);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_tls(const struct priv *p, const struct http_conf *hc, char *err, size_t errlen)
{
	int rc;

	if (!p->u.https) {
		if (hc->ca_file || hc->cert || hc->key || !hc->verify)
			return bad(err, errlen, "tls: given, but the url is http://, not https://");
		return 0;
	}
	if (hc->ca_file && (rc = check_pem("tls.ca_file", hc->ca_file, true, err, errlen)))
		return rc;
	if (!!hc->cert != !!hc->key)
		return bad(err, errlen, "tls: a client certificate needs both cert and key");
	if (hc->cert && (rc = check_pem("tls.cert", hc->cert, true, err, errlen)))
		return rc;
	if (hc->key && (rc = check_pem("tls.key", hc->key, false, err, errlen)))
		return rc;
	return 0;
}

static int check_format_keys(struct priv *p, const struct http_conf *hc, char *err,
			     size_t errlen)
{
	const char *f = format_names[hc->format];
	int rc;

	if (hc->labels.n && p->fmt != TS_HTTP_LOKI)
		return bad(err, errlen, "labels: only for format loki, not %s", f);
	if (hc->tenant && p->fmt != TS_HTTP_LOKI)
		return bad(err, errlen, "tenant: only for format loki, not %s", f);
	if (hc->action != ACTION_CREATE && p->fmt != TS_HTTP_ES)
		return bad(err, errlen, "action: only for format elasticsearch, not %s", f);
	if (hc->sourcetype && p->fmt != TS_HTTP_HEC)
		return bad(err, errlen, "sourcetype: only for format splunk_hec, not %s", f);
	if (hc->index && p->fmt != TS_HTTP_ES && p->fmt != TS_HTTP_HEC)
		return bad(err, errlen, "index: only for formats elasticsearch and splunk_hec, "
			   "not %s", f);
	switch (p->fmt) {
	case TS_HTTP_ES:
		p->index = hc->index ? hc->index : DEFAULT_INDEX;
		if ((rc = ts_http_check_index(p->index, err, errlen)))
			return rc;
		break;
	case TS_HTTP_LOKI: {
		size_t len = 1;

		if (hc->labels.n > 13)
			return bad(err, errlen, "labels: at most 13 (Loki allows 15 per stream, and "
				   "host and type are two)");
		for (int i = 0; i < hc->labels.n; i++) {
			const char *k = hc->labels.keys[i], *v = hc->labels.vals[i];

			if (!ts_http_label_name_ok(k))
				return bad(err, errlen, "labels.%s: not a Loki label name "
					   "([a-zA-Z_][a-zA-Z0-9_]*)", k);
			if (!strcmp(k, "host") || !strcmp(k, "type"))
				return bad(err, errlen, "labels.%s: set by tcpship from each event", k);
			if (!*v)
				return bad(err, errlen, "labels.%s: empty value", k);
			len += strlen(k) + 6 * strlen(v) + 8;
		}
		p->loki_labels = calloc(1, len);
		if (!p->loki_labels)
			return -ENOMEM;
		for (int i = 0; i < hc->labels.n; i++) {
			char *v = json_str(hc->labels.vals[i]);

			if (!v)
				return -ENOMEM;
			strcat(p->loki_labels, ",\"");
			strcat(p->loki_labels, hc->labels.keys[i]);
			strcat(p->loki_labels, "\":\"");
			strcat(p->loki_labels, v);
			strcat(p->loki_labels, "\"");
			free(v);
		}
		if (hc->tenant && (!*hc->tenant || !ts_http_header_ok("X-Scope-OrgID", hc->tenant)))
			return bad(err, errlen, "tenant: must be non-empty, without line breaks");
		if (hc->tenant && user_header(hc, "X-Scope-OrgID"))
			return bad(err, errlen, "headers.X-Scope-OrgID: conflicts with tenant");
		break;
	}
	case TS_HTTP_HEC: {
		char *st = json_str(hc->sourcetype ? hc->sourcetype : "tcpship");
		char *ix = hc->index ? json_str(hc->index) : NULL;
		int n;

		if (!st || (hc->index && !ix)) {
			free(st);
			free(ix);
			return -ENOMEM;
		}
		p->index = hc->index;
		n = asprintf(&p->hec_mid, ",\"sourcetype\":\"%s\"%s%s%s,\"event\":", st,
			     ix ? ",\"index\":\"" : "", ix ? ix : "", ix ? "\"" : "");
		free(st);
		free(ix);
		if (n < 0) {
			p->hec_mid = NULL;
			return -ENOMEM;
		}
		break;
	}
	case TS_HTTP_NDJSON:
		break;
	}
	return 0;
}

/* The path a format is usually served on, for a URL that gives none. */
static int final_url(struct priv *p, const struct http_conf *hc, char *err, size_t errlen)
{
	static const char *const paths[] = {
		[TS_HTTP_NDJSON] = NULL,
		[TS_HTTP_ES] = "/_bulk",
		[TS_HTTP_LOKI] = "/loki/api/v1/push",
		[TS_HTTP_HEC] = "/services/collector/event",
	};
	const char *add = paths[p->fmt];
	struct ts_url u;
	int rc = ts_http_parse_url(hc->url, &u, err, errlen);

	if (rc)
		return rc;
	if (add && !u.has_query && (u.path_len == 0 || (u.path_len == 1 && hc->url[u.path_off] == '/'))) {
		if (asprintf(&p->url, "%.*s%s", (int)u.path_off, hc->url, add) < 0) {
			p->url = NULL;
			return -ENOMEM;
		}
	} else {
		p->url = strdup(hc->url);
		if (!p->url)
			return -ENOMEM;
	}
	return ts_http_parse_url(p->url, &p->u, err, errlen);
}

static int check_headers(struct priv *p, const struct http_conf *hc, char *err, size_t errlen)
{
	static const char *const ours[] = { "Content-Length", "Transfer-Encoding",
					    "Content-Encoding", "Host", "Connection", "Expect",
					    NULL };

	for (int i = 0; i < hc->headers.n; i++) {
		const char *k = hc->headers.keys[i], *v = hc->headers.vals[i];

		if (!ts_http_header_ok(k, v))
			return bad(err, errlen, "headers.%s: not a valid header (a token name, a "
				   "value without line breaks)", k);
		for (int j = 0; ours[j]; j++)
			if (!strcasecmp(k, ours[j]))
				return bad(err, errlen, "headers.%s: set by tcpship", k);
		if (sensitive_header(k) && add_secret(p, v))
			return -ENOMEM;
	}
	return 0;
}

static int build_headers(struct priv *p, const struct http_conf *hc)
{
	const char *ctype = p->fmt == TS_HTTP_LOKI || p->fmt == TS_HTTP_HEC
				    ? "application/json" : "application/x-ndjson";
	int rc = 0;

	if (!user_header(hc, "Content-Type"))
		rc = rc ?: add_header(p, "Content-Type: %s", ctype);
	/* no 100-continue round trip before each body */
	rc = rc ?: add_header(p, "Expect:");
	if (p->gzip)
		rc = rc ?: add_header(p, "Content-Encoding: gzip");
	if (hc->tenant)
		rc = rc ?: add_header(p, "X-Scope-OrgID: %s", hc->tenant);
	if (p->token)
		rc = rc ?: add_header(p, "Authorization: %s %s",
				      p->fmt == TS_HTTP_HEC ? "Splunk" : "Bearer", p->token);
	for (int i = 0; i < hc->headers.n; i++)
		rc = rc ?: add_header(p, "%s: %s", hc->headers.keys[i], hc->headers.vals[i]);
	return rc;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct worker *w = arg;
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

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct worker *w = arg;
	size_t n = size * nmemb;

	if (n > 12 && !strncasecmp(data, "Retry-After:", 12)) {
		const char *v = data + 12, *end = data + n;
		size_t len;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
				   end[-1] == '\t'))
			end--;
		len = (size_t)(end - v);
		if (len >= sizeof(w->retry_after))
			len = sizeof(w->retry_after) - 1;
		memcpy(w->retry_after, v, len);
		w->retry_after[len] = 0;
	}
	return n;
}

static int worker_init(struct priv *p, struct worker *w, char *err, size_t errlen)
{
	const struct http_conf *hc = p->conf;
	CURLcode e = CURLE_OK;
	CURL *c;

	w->gz.level = (int)hc->compression_level;
	w->idx_sec = -1;
	/* a bulk answer is read whole: room for ~1 KiB per item, bounded */
	w->resp_cap = RESP_KEEP_SMALL;
	if (p->fmt == TS_HTTP_ES)
		w->resp_cap = hc->max_events > 255000 ? 256ULL << 20 : (1ULL << 20) + hc->max_events * 1024;
	c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot make a libcurl handle");
		return -ENOMEM;
	}
	w->curl = c;
#define SET(opt, val)						\
	do {							\
		if (e == CURLE_OK)				\
			e = curl_easy_setopt(c, opt, val);	\
	} while (0)
	SET(CURLOPT_URL, p->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, p->headers);
	SET(CURLOPT_USERAGENT, "tcpship/" TCPSHIP_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(hc->connect_timeout_ns / 1000000ULL));
	SET(CURLOPT_TIMEOUT_MS, (long)(hc->timeout_ns / 1000000ULL));
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ERRORBUFFER, w->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, w);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, w);
	/* "" turns off http_proxy and friends from the environment: a daemon's
	 * destination is its config, not whatever its environment inherited */
	SET(CURLOPT_PROXY, hc->proxy ? hc->proxy : "");
	if (p->u.https) {
		SET(CURLOPT_SSL_VERIFYPEER, hc->verify ? 1L : 0L);
		SET(CURLOPT_SSL_VERIFYHOST, hc->verify ? 2L : 0L);
		if (hc->ca_file)
			SET(CURLOPT_CAINFO, hc->ca_file);
		if (hc->cert) {
			SET(CURLOPT_SSLCERT, hc->cert);
			SET(CURLOPT_SSLKEY, hc->key);
		}
	}
	if (hc->user) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, hc->user);
		SET(CURLOPT_PASSWORD, p->password);
	}
#undef SET
	if (e != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(e));
		return -ENOTSUP;
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	ts_buf_free(&w->body);
	ts_buf_free(&w->zbody);
	ts_buf_free(&w->resp);
	ts_http_gzip_free(&w->gz);
	free(w->todo);
	free(w->item_status);
	free(w->sid);
	free(w->order);
	free(w->streams);
	memset(w, 0, sizeof(*w));
}

static void priv_free(struct priv *p)
{
	struct curl_slist *l;

	if (!p)
		return;
	for (unsigned i = 0; p->w && i < p->n_workers; i++)
		worker_free(&p->w[i]);
	worker_free(&p->fmt_w);
	free(p->w);
	for (l = p->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(p->headers);
	wipe_free(p->token);
	wipe_free(p->password);
	for (int i = 0; i < p->n_secrets; i++)
		wipe_free(p->secrets[i]);
	free(p->url);
	free(p->hec_mid);
	free(p->loki_labels);
	free(p);
}

static int http_check(const void *c, char *err, size_t errlen)
{
	const struct http_conf *hc = c;
	struct ts_url u;

	if (!hc->url || !*hc->url) {
		snprintf(err, errlen, "url: missing (http[s]://HOST[:PORT][/PATH])");
		return -EINVAL;
	}
	return ts_http_parse_url(hc->url, &u, err, errlen) ? -EINVAL : 0;
}

static int http_open(struct ts_output *o, const void *c, char *err, size_t errlen)
{
	const struct http_conf *hc = c;
	struct priv *p;
	int rc;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl: %s",
			 curl_easy_strerror(curl_init_rc));
		return -ENOTSUP;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->conf = hc;
	p->fmt = (enum ts_http_format)hc->format;
	p->gzip = hc->compression == COMP_GZIP;
	p->n_workers = (unsigned)hc->in_flight;
	err[0] = 0;
	rc = final_url(p, hc, err, errlen);
	rc = rc ?: check_format_keys(p, hc, err, errlen);
	rc = rc ?: check_headers(p, hc, err, errlen);
	rc = rc ?: check_auth(p, hc, err, errlen);
	rc = rc ?: check_tls(p, hc, err, errlen);
	if (!rc && hc->connect_timeout_ns > hc->timeout_ns)
		rc = bad(err, errlen, "connect_timeout: longer than timeout");
	rc = rc ?: build_headers(p, hc);
	if (!rc) {
		p->w = calloc(p->n_workers, sizeof(*p->w));
		if (!p->w)
			rc = -ENOMEM;
		for (unsigned i = 0; !rc && i < p->n_workers; i++)
			rc = worker_init(p, &p->w[i], err, errlen);
	}
	if (rc) {
		if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "out of memory");
		priv_free(p);
		return rc;
	}
	p->fmt_w.idx_sec = -1;
	o->priv = p;
	/* the name shows in every message and counter line: no query string
	 * (ClickHouse takes ?password= there) */
	snprintf(o->name, sizeof(o->name), "%.*s", (int)(p->u.path_off + p->u.path_len), p->url);
	o->batching.max_events = (uint32_t)hc->max_events;
	o->batching.max_bytes = hc->max_bytes;
	o->batching.max_delay_ns = hc->max_delay_ns;
	o->workers = p->n_workers;
	if (p->u.https && !hc->verify)
		ts_output_log(o, "tls.verify is false: the collector's certificate is not checked");
	return 0;
}

/* ------------------------------------------------------------ bodies */

#define REC(i) (&b->recs[idx ? idx[i] : from + (i)])

static inline void put(struct ts_buf *o, const void *s, size_t n)
{
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

#define PUTS(o, lit) put(o, lit, sizeof(lit) - 1)

static inline void put_u64(struct ts_buf *o, uint64_t v)
{
	char tmp[20];
	int i = 20;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, (size_t)(20 - i));
}

static int fmt_ndjson(const struct ts_batch *b, uint32_t from, const uint32_t *idx,
		      uint32_t cnt, struct ts_buf *out)
{
	if (!idx) {
		/* the lines of a range are contiguous */
		const struct ts_rec *first = &b->recs[from], *last = &b->recs[from + cnt - 1];

		return ts_buf_append(out, b->data + first->off, last->off + last->len - first->off);
	}
	for (uint32_t i = 0; i < cnt; i++) {
		const struct ts_rec *r = REC(i);

		if (ts_buf_append(out, b->data + r->off, r->len))
			return -ENOMEM;
	}
	return 0;
}

static const char *line_host(const struct ts_batch *b, const struct ts_rec *r, size_t *len)
{
	const char *h = ts_http_line_str(b->data + r->off, r->len, "host", len);

	if (!h) {
		*len = 1;
		return "-";
	}
	return h;
}

static int fmt_es(struct priv *p, struct worker *w, const struct ts_batch *b, uint32_t from,
		  const uint32_t *idx, uint32_t cnt, struct ts_buf *out)
{
	bool create = p->conf->action == ACTION_CREATE;

	for (uint32_t i = 0; i < cnt; i++) {
		const struct ts_rec *r = REC(i);
		const char *line = b->data + r->off, *agent;
		int64_t sec = (int64_t)(r->time_ns / 1000000000ULL);
		size_t alen;

		agent = ts_http_line_str(line, r->len, "agent_id", &alen);
		if (!agent) {
			agent = "-";
			alen = 1;
		}
		if (sec != w->idx_sec) {
			w->idx_len = ts_http_index_name(p->index, r->time_ns, w->idx_name,
							sizeof(w->idx_name));
			if (w->idx_len >= sizeof(w->idx_name))
				return -ENAMETOOLONG;
			w->idx_sec = sec;
		}
		if (ts_buf_reserve(out, 64 + w->idx_len + alen + 20 + r->len))
			return -ENOMEM;
		if (create)
			PUTS(out, "{\"create\":{\"_index\":\"");
		else
			PUTS(out, "{\"index\":{\"_index\":\"");
		put(out, w->idx_name, w->idx_len);
		PUTS(out, "\",\"_id\":\"");
		put(out, agent, alen);
		out->p[out->len++] = '-';
		put_u64(out, r->seq);
		PUTS(out, "\"}}\n");
		put(out, line, r->len);
	}
	return 0;
}

struct sort_ctx {
	const struct ts_batch *b;
	uint32_t from;
	const uint32_t *idx;
};

static int by_time(const void *x, const void *y, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct ts_batch *b = c->b;
	const uint32_t *idx = c->idx, from = c->from;
	const struct ts_rec *a = REC(*(const uint32_t *)x), *z = REC(*(const uint32_t *)y);

	if (a->time_ns != z->time_ns)
		return a->time_ns < z->time_ns ? -1 : 1;
	return a->seq < z->seq ? -1 : a->seq > z->seq;
}

static int scratch(struct worker *w, uint32_t cnt)
{
	if (cnt <= w->cap_scratch)
		return 0;
	free(w->sid);
	free(w->order);
	free(w->streams);
	w->sid = malloc(sizeof(*w->sid) * cnt);
	w->order = malloc(sizeof(*w->order) * cnt);
	w->streams = malloc(sizeof(*w->streams) * cnt);
	if (!w->sid || !w->order || !w->streams) {
		w->cap_scratch = 0;
		return -ENOMEM;
	}
	w->cap_scratch = cnt;
	return 0;
}

/* {"streams":[{"stream":{"host":..,"type":..,labels},"values":[["ns","line"],..]},..]}
 * One stream per (host, type), values in time order within each. */
static int fmt_loki(struct priv *p, struct worker *w, const struct ts_batch *b, uint32_t from,
		    const uint32_t *idx, uint32_t cnt, struct ts_buf *out)
{
	struct sort_ctx ctx = { b, from, idx };
	size_t labels_len = p->loki_labels ? strlen(p->loki_labels) : 0;
	uint32_t ns = 0;

	if (scratch(w, cnt))
		return -ENOMEM;
	for (uint32_t i = 0; i < cnt; i++) {
		const struct ts_rec *r = REC(i);
		size_t hlen;
		const char *h = line_host(b, r, &hlen);
		uint32_t s;

		for (s = 0; s < ns; s++)
			if (w->streams[s].type == r->type && w->streams[s].host_len == hlen &&
			    !memcmp(w->streams[s].host, h, hlen))
				break;
		if (s == ns) {
			w->streams[ns++] = (struct stream){ .host = h, .host_len = hlen,
							    .type = r->type };
		}
		w->streams[s].count++;
		w->sid[i] = s;
	}
	for (uint32_t s = 0, at = 0; s < ns; s++) {
		w->streams[s].start = at;
		at += w->streams[s].count;
		w->streams[s].count = 0;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		struct stream *s = &w->streams[w->sid[i]];

		w->order[s->start + s->count++] = i;
	}
	if (ts_buf_reserve(out, 16))
		return -ENOMEM;
	PUTS(out, "{\"streams\":[");
	for (uint32_t s = 0; s < ns; s++) {
		struct stream *st = &w->streams[s];
		uint32_t *o = w->order + st->start;
		const char *tname = st->type;
		bool sorted = true;

		for (uint32_t k = 1; k < st->count && sorted; k++)
			sorted = by_time(&o[k - 1], &o[k], &ctx) <= 0;
		if (!sorted)
			qsort_r(o, st->count, sizeof(*o), by_time, &ctx);
		if (!tname)
			tname = "unknown";
		if (ts_buf_reserve(out, 64 + st->host_len + strlen(tname) + labels_len))
			return -ENOMEM;
		if (s)
			out->p[out->len++] = ',';
		PUTS(out, "{\"stream\":{\"host\":\"");
		put(out, st->host, st->host_len);
		PUTS(out, "\",\"type\":\"");
		put(out, tname, strlen(tname));
		out->p[out->len++] = '"';
		if (labels_len)
			put(out, p->loki_labels, labels_len);
		PUTS(out, "},\"values\":[");
		for (uint32_t k = 0; k < st->count; k++) {
			const struct ts_rec *r = REC(o[k]);
			size_t len = r->len - 1;	/* without the '\n' */

			if (ts_buf_reserve(out, 32 + 6 * len))
				return -ENOMEM;
			if (k)
				out->p[out->len++] = ',';
			PUTS(out, "[\"");
			put_u64(out, r->time_ns);
			PUTS(out, "\",\"");
			out->len += ts_json_escape(out->p + out->len, b->data + r->off, len);
			PUTS(out, "\"]");
		}
		PUTS(out, "]}");
	}
	if (ts_buf_reserve(out, 2))
		return -ENOMEM;
	PUTS(out, "]}");
	return 0;
}

/* {"time":<s>.<us>,"host":"..","sourcetype":"..",["index":"..",]"event":{..}}\n
 * per event. The event keeps its own nanosecond "time"; the envelope's is
 * what Splunk indexes by, and Splunk reads it as a double. */
static int fmt_hec(struct priv *p, const struct ts_batch *b, uint32_t from, const uint32_t *idx,
		   uint32_t cnt, struct ts_buf *out)
{
	size_t mid = strlen(p->hec_mid);

	for (uint32_t i = 0; i < cnt; i++) {
		const struct ts_rec *r = REC(i);
		uint64_t us = (r->time_ns / 1000ULL) % 1000000ULL;
		char frac[8];
		size_t hlen;
		const char *h = line_host(b, r, &hlen);

		if (ts_buf_reserve(out, 64 + hlen + mid + r->len))
			return -ENOMEM;
		PUTS(out, "{\"time\":");
		put_u64(out, r->time_ns / 1000000000ULL);
		snprintf(frac, sizeof(frac), ".%06llu", (unsigned long long)us);
		put(out, frac, 7);
		PUTS(out, ",\"host\":\"");
		put(out, h, hlen);
		out->p[out->len++] = '"';
		put(out, p->hec_mid, mid);
		put(out, b->data + r->off, r->len - 1);
		PUTS(out, "}\n");
	}
	return 0;
}

static int build(struct priv *p, struct worker *w, const struct ts_batch *b, uint32_t from,
		 const uint32_t *idx, uint32_t cnt, struct ts_buf *out)
{
	out->len = 0;
	if (!cnt)
		return ts_buf_reserve(out, 1);
	switch (p->fmt) {
	case TS_HTTP_NDJSON:
		return fmt_ndjson(b, from, idx, cnt, out);
	case TS_HTTP_ES:
		return fmt_es(p, w, b, from, idx, cnt, out);
	case TS_HTTP_LOKI:
		return fmt_loki(p, w, b, from, idx, cnt, out);
	case TS_HTTP_HEC:
		return fmt_hec(p, b, from, idx, cnt, out);
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ requests */

static const char *curl_name(int e, char buf[16])
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

/* An excerpt of an answer for the log: printable, secrets masked. Masked
 * before it is cut, so no secret shows in part at the end. */
static const char *excerpt(const struct priv *p, const struct ts_buf *resp, char *out, size_t cap)
{
	size_t longest = 0, room;
	char *tmp;

	if (!resp->len)
		return "(empty)";
	for (int i = 0; i < p->n_secrets; i++)
		if (strlen(p->secrets[i]) > longest)
			longest = strlen(p->secrets[i]);
	room = cap + longest;
	tmp = malloc(room);
	if (!tmp)
		return "(no memory for the excerpt)";
	ts_printable(tmp, room, resp->p, resp->len);
	for (int i = 0; i < p->n_secrets; i++) {
		size_t n = strlen(p->secrets[i]);
		char *s = tmp;

		while ((s = strstr(s, p->secrets[i]))) {
			memset(s, '*', n);
			s += n;
		}
	}
	snprintf(out, cap, "%s", tmp);
	explicit_bzero(tmp, room);
	free(tmp);
	return out;
}

static bool once(_Atomic unsigned char *flag)
{
	return !atomic_exchange(flag, 1);
}

static void failed(struct priv *p)
{
	atomic_fetch_add(&p->failing, 1);
}

/* An answer came: say so once if requests had been failing, and let the
 * next outage be said again. */
static void answered(struct ts_output *o)
{
	struct priv *p = o->priv;
	uint64_t n = atomic_exchange(&p->failing, 0);

	if (!n)
		return;
	for (int i = 0; i < N_CURL_CODES; i++)
		atomic_store(&p->said_curl[i], 0);
	for (int s = 0; s < 600; s++)
		if (ts_http_classify(s) == TS_OUT_RETRY)
			atomic_store(&p->said_status[s], 0);
	ts_output_log(o, "the collector answers again (after %llu failed request%s)",
		      (unsigned long long)n, n == 1 ? "" : "s");
}

/* Send w->body; OK (2xx), RETRY or DROP, with *status the HTTP status. */
static enum ts_out_result post(struct ts_output *o, struct worker *w, uint32_t cnt, long *status)
{
	struct priv *p = o->priv;
	const char *data = w->body.p;
	size_t len = w->body.len;
	enum ts_out_result r;
	char buf[16], rav[64], ex[240];
	uint64_t ns;
	CURLcode e;

	*status = 0;
	if (p->gzip) {
		if (ts_http_gzip(&w->gz, w->body.p, w->body.len, &w->zbody)) {
			if (once(&p->said_nomem))
				ts_output_log(o, "cannot compress a request: out of memory; retrying");
			return TS_OUT_RETRY;
		}
		data = w->zbody.p;
		len = w->zbody.len;
	}
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, data);
	w->resp.len = 0;
	w->retry_after[0] = 0;
	w->errbuf[0] = 0;
	e = curl_easy_perform(w->curl);
	atomic_fetch_add(&p->requests, 1);
	atomic_fetch_add(&p->body_bytes, w->body.len);
	atomic_fetch_add(&p->sent_bytes, len);
	if (e != CURLE_OK) {
		atomic_store(&p->last_error, (int)e);
		failed(p);
		if (once(&p->said_curl[(unsigned)e % N_CURL_CODES]))
			ts_output_log(o, "request failed (%s): %s; retrying with backoff",
				      curl_name(e, buf), w->errbuf[0] ? w->errbuf : curl_easy_strerror(e));
		return TS_OUT_RETRY;
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
	atomic_store(&p->last_status, *status);
	r = ts_http_classify(*status);
	if (r == TS_OUT_RETRY) {
		bool ra = w->retry_after[0] && ts_http_retry_after(w->retry_after, time(NULL), &ns);

		if (ra)
			ts_out_retry_after(ns);
		failed(p);
		if (once(&p->said_status[*status % 600]))
			ts_output_log(o, "HTTP %ld%s%s; retrying with backoff: %s", *status,
				      ra ? ", Retry-After " : "",
				      ra ? ts_printable(rav, sizeof(rav), w->retry_after,
							     strlen(w->retry_after)) : "",
				      excerpt(p, &w->resp, ex, 160));
		return r;
	}
	answered(o);
	if (r == TS_OUT_DROP && once(&p->said_status[(unsigned long)*status % 600]))
		ts_output_log(o, "HTTP %ld: %u event%s dropped, not retried (further %ld answers "
			      "are counted, not logged): %s", *status, cnt, cnt == 1 ? "" : "s",
			      *status, excerpt(p, &w->resp, ex, 200));
	return r;
}

static bool unit_is(const struct worker *w, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	/* a pointer alone could be a new unit at a freed one's address; the
	 * first seq could not */
	return w->unit == b && w->unit_from == from && w->unit_n == n &&
	       w->unit_seq == b->recs[from].seq;
}

static int unit_start(struct worker *w, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	if (n > w->cap_todo) {
		uint32_t *t = realloc(w->todo, sizeof(*t) * n);
		int *s = t ? realloc(w->item_status, sizeof(*s) * n) : NULL;

		if (t)
			w->todo = t;
		if (!s)
			return -ENOMEM;
		w->item_status = s;
		w->cap_todo = n;
	}
	for (uint32_t i = 0; i < n; i++)
		w->todo[i] = from + i;
	w->n_todo = n;
	w->unit = b;
	w->unit_from = from;
	w->unit_n = n;
	w->unit_seq = b->recs[from].seq;
	w->unit_partial = false;
	return 0;
}

static void unit_end(struct worker *w)
{
	w->unit = NULL;
	w->n_todo = 0;
}

/* What the answer to a bulk request means for its items. */
static enum ts_out_result es_result(struct ts_output *o, struct worker *w, enum ts_out_result r)
{
	struct priv *p = o->priv;
	uint32_t cnt = w->n_todo, keep = 0, dropped = 0, conflicts = 0, retry_status = 0;
	char reason[300], ex[200];

	if (r == TS_OUT_RETRY)
		return r;
	if (r == TS_OUT_DROP) {
		atomic_fetch_add(&p->dropped_status, cnt);
		if (w->unit_partial) {
			/* some of the unit went through earlier: only the rest is
			 * dropped, and the core must count the rest as delivered */
			ts_out_dropped(cnt);
			r = TS_OUT_OK;
		}
		unit_end(w);
		return r;
	}
	if (ts_http_bulk_parse(w->resp.p, w->resp.len, cnt, w->item_status, reason,
			       sizeof(reason))) {
		failed(p);
		if (once(&p->said_garbage))
			ts_output_log(o, "the answer is not a bulk response for %u items; sending "
				      "again: %s", cnt, excerpt(p, &w->resp, ex, 160));
		return TS_OUT_RETRY;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		int st = w->item_status[i];

		switch (ts_http_item_verdict(st)) {
		case TS_ITEM_OK:
			break;
		case TS_ITEM_CONFLICT:
			conflicts++;
			break;
		case TS_ITEM_RETRY:
			w->todo[keep++] = w->todo[i];
			if (!retry_status)
				retry_status = (uint32_t)st;
			break;
		case TS_ITEM_DROP:
			dropped++;
			if (once(&p->said_item[st % 600]))
				ts_output_log(o, "bulk item refused, dropped (further %d items are "
					      "counted, not logged): %s", st,
					      ts_printable(ex, sizeof(ex), reason, strlen(reason)));
			break;
		}
	}
	if (conflicts)
		atomic_fetch_add(&p->conflicts, conflicts);
	if (dropped) {
		atomic_fetch_add(&p->dropped_items, dropped);
		ts_out_dropped(dropped);
	}
	if (!keep) {
		unit_end(w);
		return TS_OUT_OK;
	}
	if (once(&p->said_item[retry_status % 600]))
		ts_output_log(o, "%u of %u bulk items answered %u; sending those again", keep, cnt,
			      retry_status);
	w->n_todo = keep;
	w->unit_partial = true;
	return TS_OUT_RETRY;
}

static enum ts_out_result http_write(struct ts_output *o, const struct ts_batch *b,
				     uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	struct worker *w = &p->w[(unsigned)ts_out_worker() % p->n_workers];
	const uint32_t *idx = NULL;
	uint32_t cnt = n;
	enum ts_out_result r;
	long status;

	if (!n)
		return TS_OUT_OK;
	if (p->fmt == TS_HTTP_ES) {
		if (!unit_is(w, b, from, n) && unit_start(w, b, from, n))
			goto nomem;
		idx = w->todo;
		cnt = w->n_todo;
	}
	if (build(p, w, b, from, idx, cnt, &w->body))
		goto nomem;
	r = post(o, w, cnt, &status);
	if (p->fmt == TS_HTTP_ES)
		r = es_result(o, w, r);
	else if (r == TS_OUT_DROP)
		atomic_fetch_add(&p->dropped_status, cnt);
	if (r == TS_OUT_RETRY)
		atomic_fetch_add(&p->retried, 1);
	return r;
nomem:
	if (once(&p->said_nomem))
		ts_output_log(o, "cannot build a request: out of memory; retrying");
	atomic_fetch_add(&p->retried, 1);
	return TS_OUT_RETRY;
}

static void http_close(struct ts_output *o)
{
	priv_free(o->priv);
	o->priv = NULL;
}

static int http_format(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n,
		       struct ts_buf *out)
{
	struct priv *p = o->priv;
	struct ts_buf body = { 0 };
	int rc = build(p, &p->fmt_w, b, from, NULL, n, &body);

	if (!rc)
		rc = ts_buf_append(out, body.p, body.len);
	ts_buf_free(&body);
	return rc;
}

static int http_counters(struct ts_output *o, char *buf, size_t len)
{
	struct priv *p = o->priv;
	char ebuf[16];

	return snprintf(buf, len,
			"requests=%llu retried=%llu body_bytes=%llu sent_bytes=%llu "
			"drop_status=%llu drop_items=%llu conflicts=%llu status=%ld error=%s",
			(unsigned long long)atomic_load(&p->requests),
			(unsigned long long)atomic_load(&p->retried),
			(unsigned long long)atomic_load(&p->body_bytes),
			(unsigned long long)atomic_load(&p->sent_bytes),
			(unsigned long long)atomic_load(&p->dropped_status),
			(unsigned long long)atomic_load(&p->dropped_items),
			(unsigned long long)atomic_load(&p->conflicts), atomic_load(&p->last_status),
			curl_name(atomic_load(&p->last_error), ebuf));
}

const struct ts_output_ops ts_output_http = {
	.type = "http",
	.match = http_match,
	.conf_size = sizeof(struct http_conf),
	.opts = http_opts,
	.conf_init = http_conf_init,
	.conf_spec = http_conf_spec,
	.check = http_check,
	.open = http_open,
	.write = http_write,
	.close = http_close,
	.format = http_format,
	.counters = http_counters,
	.default_drop_when_full = true,
};
