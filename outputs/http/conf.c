// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP sink's options and the checks of open. Everything that can be
 * wrong in a config entry is found here, before a request is sent, and
 * said in one line naming the key: a typo must exit 2, not turn into a
 * run of refused requests.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "json.h"
#include "util.h"

#define F_OPS(f) &ts_http_##f,
#define F_NAME(f) #f,
const struct ts_http_format_ops *const ts_http_formats[] = { TS_HTTP_FORMATS(F_OPS) NULL };
const char *const ts_http_format_names[] = { TS_HTTP_FORMATS(F_NAME) NULL };

static const char *const compression_names[] = { "none", "gzip", NULL };
static const char *const action_names[] = { "create", "index", NULL };

#define OFF(f) offsetof(struct ts_http_conf, f)
#define SECONDS(n) ((n) * 1000000000ULL)

static const struct ts_opt batch_keys[] = {
	{ .name = "max_events", .type = TS_OPT_UINT, .off = OFF(max_events), .min = 1,
	  .max = 1000000 },
	{ .name = "max_bytes", .type = TS_OPT_SIZE, .off = OFF(max_bytes), .min = 4096,
	  .max = 256ULL << 20 },
	{ .name = "max_delay", .type = TS_OPT_DURATION, .off = OFF(max_delay_ns), .min = 0,
	  .max = SECONDS(3600) },
	{ .name = NULL },
};

static const struct ts_opt auth_keys[] = {
	{ .name = "user", .type = TS_OPT_STRING, .off = OFF(user) },
	{ .name = "password", .type = TS_OPT_STRING, .off = OFF(password) },
	{ .name = "password_file", .type = TS_OPT_STRING, .off = OFF(password_file) },
	{ .name = NULL },
};

const struct ts_opt ts_http_opts[] = {
	{ .name = "url", .type = TS_OPT_STRING, .off = OFF(url) },
	{ .name = "format", .type = TS_OPT_ENUM, .off = OFF(format),
	  .choices = ts_http_format_names },
	{ .name = "compression", .type = TS_OPT_ENUM, .off = OFF(compression),
	  .choices = compression_names },
	{ .name = "compression_level", .type = TS_OPT_UINT, .off = OFF(compression_level),
	  .min = 1, .max = 9 },
	{ .name = "batch", .type = TS_OPT_OBJECT, .sub = batch_keys },
	{ .name = "timeout", .type = TS_OPT_DURATION, .off = OFF(timeout_ns),
	  .min = 1000000ULL, .max = SECONDS(3600) },
	{ .name = "connect_timeout", .type = TS_OPT_DURATION, .off = OFF(connect_timeout_ns),
	  .min = 1000000ULL, .max = SECONDS(3600) },
	{ .name = "headers", .type = TS_OPT_MAP, .off = OFF(headers) },
	{ .name = "auth", .type = TS_OPT_OBJECT, .sub = auth_keys },
	{ .name = "token_file", .type = TS_OPT_STRING, .off = OFF(token_file) },
	{ .name = "token_env", .type = TS_OPT_STRING, .off = OFF(token_env) },
	TS_TLS_OPT(OFF(tls)),
	{ .name = "proxy", .type = TS_OPT_STRING, .off = OFF(proxy) },
	{ .name = "index", .type = TS_OPT_STRING, .off = OFF(index) },
	{ .name = "action", .type = TS_OPT_ENUM, .off = OFF(action), .choices = action_names },
	{ .name = "labels", .type = TS_OPT_MAP, .off = OFF(labels) },
	{ .name = "pod_namespace_label", .type = TS_OPT_BOOL, .off = OFF(pod_namespace_label) },
	{ .name = "tenant", .type = TS_OPT_STRING, .off = OFF(tenant) },
	{ .name = "sourcetype", .type = TS_OPT_STRING, .off = OFF(sourcetype) },
	{ .name = "in_flight", .type = TS_OPT_UINT, .off = OFF(in_flight), .min = 1, .max = 16 },
	{ .name = NULL },
};

void ts_http_conf_init(void *conf)
{
	struct ts_http_conf *c = conf;

	c->format = 0;		/* the first of TS_HTTP_FORMATS: ndjson */
	c->compression = TS_HTTP_COMP_NONE;
	/* ~14x on tcpship's lines; higher levels buy little for much more CPU */
	c->compression_level = 1;
	c->max_events = 1000;
	c->max_bytes = 1ULL << 20;
	c->max_delay_ns = SECONDS(1);
	c->timeout_ns = SECONDS(10);
	c->connect_timeout_ns = SECONDS(5);
	ts_tls_conf_init(&c->tls);
	c->action = TS_HTTP_ACTION_CREATE;
	c->in_flight = 1;
}

int ts_http_conf_spec(void *conf, const char *spec, char *err, size_t errlen)
{
	struct ts_http_conf *c = conf;

	c->url = strdup(spec);
	return c->url ? 0 : -ENOMEM;
}

int ts_http_check(const void *conf, char *err, size_t errlen)
{
	const struct ts_http_conf *c = conf;
	struct ts_url u;

	return ts_http_parse_url(c->url, &u, err, errlen);
}

int ts_http_parse_url(const char *url, struct ts_url *u, char *err, size_t errlen)
{
	size_t skip;
	char why[200];

	if (!url || !*url)
		return ts_errf(err, errlen, "url: missing (http[s]://HOST[:PORT][/PATH])");
	skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
	if (!skip)
		return ts_errf(err, errlen, "url: must start with http:// or https://");
	/* libcurl takes http:///x for the host x; a slash too many is a typo */
	if (url[skip] == '/')
		return ts_errf(err, errlen, "url: no host (http[s]://HOST[:PORT][/PATH])");
	for (const char *c = url; *c; c++) {
		if (*c == '#')
			return ts_errf(err, errlen, "url: a #fragment means nothing to a collector");
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return ts_errf(err, errlen, "url: spaces and control bytes must be %%-encoded "
				       "(%%20)");
	}
	if (ts_url_parse(url, false, u, why, sizeof(why)))
		return ts_errf(err, errlen, "url: %s", why);
	if (u->has_user)
		return ts_errf(err, errlen, "url: user:password@ in the URL is refused (it would "
			       "show in messages): use auth.user and auth.password_file");
	return 0;
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

bool ts_http_user_header(const struct ts_http_conf *c, const char *name)
{
	for (int i = 0; i < c->headers.n; i++)
		if (!strcasecmp(c->headers.keys[i], name))
			return true;
	return false;
}

char *ts_http_json_str(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(6 * n + 1);

	if (o)
		o[ts_json_escape(o, s, n)] = 0;
	return o;
}

/* libcurl's spelling of url with its path set to path */
static char *with_path(const char *url, const char *path)
{
	CURLU *h = curl_url();
	char *out = NULL, *copy = NULL;

	if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_PATH, path, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &out, 0) == CURLUE_OK)
		copy = strdup(out);
	curl_free(out);
	curl_url_cleanup(h);
	return copy;
}

/* The URL requested: the format's usual path for a URL that gives none. */
static int final_url(struct ts_http *p, const struct ts_http_conf *c, char *err, size_t errlen)
{
	const char *add = p->fmt->default_path;
	struct ts_url u;
	int rc = ts_http_parse_url(c->url, &u, err, errlen);

	if (rc)
		return rc;
	if (add && !u.has_query && !strcmp(u.path, "/"))
		p->url = with_path(c->url, add);
	else
		p->url = strdup(c->url);
	if (!p->url)
		return -ENOMEM;
	p->https = !strcmp(u.scheme, "https");
	return 0;
}

/* A format-only key given to a format that does not read it: name the
 * formats that do. */
static int check_format_keys(const struct ts_http_format_ops *f, const struct ts_http_conf *c,
			     char *err, size_t errlen)
{
	static const char *const key_names[] = { "labels", "tenant", "action", "sourcetype",
						  "index", "pod_namespace_label" };
	unsigned given = (c->labels.n ? TS_HTTP_KEY_LABELS : 0) |
			 (c->tenant ? TS_HTTP_KEY_TENANT : 0) |
			 (c->action != TS_HTTP_ACTION_CREATE ? TS_HTTP_KEY_ACTION : 0) |
			 (c->sourcetype ? TS_HTTP_KEY_SOURCETYPE : 0) |
			 (c->index ? TS_HTTP_KEY_INDEX : 0) |
			 (c->pod_namespace_label ? TS_HTTP_KEY_PODNS : 0);
	unsigned extra = given & ~f->keys, key;
	const char *who[8];
	char list[200] = "";
	size_t n = 0, at = 0;

	if (!extra)
		return 0;
	key = (unsigned)__builtin_ctz(extra);
	for (int i = 0; ts_http_formats[i] && n < TS_ARRAY_SIZE(who); i++)
		if (ts_http_formats[i]->keys & (1u << key))
			who[n++] = ts_http_formats[i]->name;
	for (size_t i = 0; i < n && at < sizeof(list); i++)
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s",
				       !i ? "" : i + 1 == n ? " and " : ", ", who[i]);
	return ts_errf(err, errlen, "%s: only for format%s %s, not %s", key_names[key],
		       n > 1 ? "s" : "", list, f->name);
}

static int check_headers(struct ts_http *p, const struct ts_http_conf *c, char *err,
			 size_t errlen)
{
	static const char *const ours[] = { "Content-Length", "Transfer-Encoding",
					    "Content-Encoding", "Host", "Connection", "Expect",
					    NULL };

	for (int i = 0; i < c->headers.n; i++) {
		const char *k = c->headers.keys[i], *v = c->headers.vals[i];

		if (!ts_http_header_ok(k, v))
			return ts_errf(err, errlen, "headers.%s: not a valid header (a token name, "
				       "a value without line breaks)", k);
		for (int j = 0; ours[j]; j++)
			if (!strcasecmp(k, ours[j]))
				return ts_errf(err, errlen, "headers.%s: set by tcpship", k);
		if (ts_secret_word(k, strlen(k)) && ts_secrets_add(&p->secrets, v))
			return -ENOMEM;
	}
	return 0;
}

/* A collector that echoes the request would echo user:password in the
 * form it was sent: base64. Mask that too. */
static int mask_basic(struct ts_http *p, const char *user)
{
	size_t n = strlen(user) + 1 + strlen(p->password);
	char *plain = malloc(n + 1), *b64 = malloc(4 * ((n + 2) / 3) + 1);
	int rc = -ENOMEM;

	if (plain && b64) {
		snprintf(plain, n + 1, "%s:%s", user, p->password);
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, (int)n);
		rc = ts_secrets_add(&p->secrets, b64);
	}
	ts_secret_free(plain);
	ts_secret_free(b64);
	return rc;
}

static int check_user(struct ts_http *p, const struct ts_http_conf *c, char *err, size_t errlen)
{
	if (c->password && c->password_file)
		return ts_errf(err, errlen, "auth: password and password_file: give one");
	if ((c->password || c->password_file) && !c->user)
		return ts_errf(err, errlen, "auth.user: missing (a password needs a user)");
	if (!c->user)
		return 0;
	if (!*c->user || strchr(c->user, ':'))
		return ts_errf(err, errlen, "auth.user: must be non-empty and without ':'");
	if (!c->password && !c->password_file)
		return ts_errf(err, errlen, "auth: a user needs password or password_file");
	if (c->token_file || c->token_env)
		return ts_errf(err, errlen, "auth and token_file/token_env: give one way to "
			       "authenticate");
	if (c->password_file)
		return ts_secret_from_file("auth.password_file", c->password_file, &p->password,
					   err, errlen);
	p->password = strdup(c->password);
	return p->password ? 0 : -ENOMEM;
}

static int check_auth(struct ts_http *p, const struct ts_http_conf *c, char *err, size_t errlen)
{
	int rc = check_user(p, c, err, errlen);

	if (!rc && c->token_file && c->token_env)
		rc = ts_errf(err, errlen, "token_file and token_env: give one");
	if (!rc && c->token_file)
		rc = ts_secret_from_file("token_file", c->token_file, &p->token, err, errlen);
	else if (!rc && c->token_env)
		rc = ts_secret_from_env("token_env", c->token_env, &p->token, err, errlen);
	if (!rc && (p->token || c->user) && ts_http_user_header(c, "Authorization"))
		rc = ts_errf(err, errlen, "headers.Authorization: conflicts with auth/token_file/"
			     "token_env");
	rc = rc ?: ts_secrets_add(&p->secrets, p->token);
	rc = rc ?: ts_secrets_add(&p->secrets, p->password);
	return rc ?: (p->password ? mask_basic(p, c->user) : 0);
}

static int check_tls(const struct ts_http *p, const struct ts_http_conf *c, char *err,
		     size_t errlen)
{
	if (!p->https)
		return ts_tls_given(&c->tls) ? ts_errf(err, errlen, "tls: given, but the url is "
						       "http://, not https://") : 0;
	/* libcurl verifies the URL's host and sends it as SNI; a name of its
	 * own would need CURLOPT_CONNECT_TO games the user would not expect */
	if (c->tls.server_name)
		return ts_errf(err, errlen, "tls.server_name: not supported by the http output "
			       "(the certificate is checked against the url's host)");
	return ts_tls_check(&c->tls, err, errlen);
}

static int add_header(struct ts_http *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_header(struct ts_http *p, const char *fmt, ...)
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
	ts_secret_free(line);	/* curl keeps its own copy */
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

static int build_headers(struct ts_http *p, const struct ts_http_conf *c)
{
	const char *scheme = p->fmt->token_scheme ? p->fmt->token_scheme : "Bearer";
	int rc = 0;

	if (!ts_http_user_header(c, "Content-Type"))
		rc = rc ?: add_header(p, "Content-Type: %s", p->fmt->content_type);
	/* no 100-continue round trip before each body */
	rc = rc ?: add_header(p, "Expect:");
	if (p->gzip)
		rc = rc ?: add_header(p, "Content-Encoding: gzip");
	if (p->fs.header)
		rc = rc ?: add_header(p, "%s", p->fs.header);
	if (p->token)
		rc = rc ?: add_header(p, "Authorization: %s %s", scheme, p->token);
	for (int i = 0; i < c->headers.n; i++)
		rc = rc ?: add_header(p, "%s: %s", c->headers.keys[i], c->headers.vals[i]);
	return rc;
}

int ts_http_setup(struct ts_http *p, const struct ts_run *run, char *err, size_t errlen)
{
	const struct ts_http_conf *c = p->conf;
	int rc = final_url(p, c, err, errlen);

	rc = rc ?: check_format_keys(p->fmt, c, err, errlen);
	if (!rc && p->fmt->open)
		rc = p->fmt->open(c, run, &p->fs, err, errlen);
	rc = rc ?: check_headers(p, c, err, errlen);
	rc = rc ?: check_auth(p, c, err, errlen);
	rc = rc ?: check_tls(p, c, err, errlen);
	if (!rc && c->connect_timeout_ns > c->timeout_ns)
		rc = ts_errf(err, errlen, "connect_timeout: longer than timeout");
	return rc ?: build_headers(p, c);
}
