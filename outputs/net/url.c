// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "net/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed (curl_url_strerror, CURLOPT_PROTOCOLS_STR)"
#endif

/* One part into out; false if it is absent or does not fit. */
static bool part(CURLU *h, CURLUPart what, char *out, size_t len)
{
	char *v = NULL;
	bool ok = curl_url_get(h, what, &v, 0) == CURLUE_OK && v && strlen(v) < len;

	if (ok)
		strcpy(out, v);
	curl_free(v);
	return ok;
}

static bool present(CURLU *h, CURLUPart what)
{
	char *v = NULL;
	bool ok = curl_url_get(h, what, &v, 0) == CURLUE_OK;

	curl_free(v);
	return ok;
}

/* curl reads "host:" as no port (RFC 3986 allows an empty one); whoever
 * wrote the colon meant a port and left it out. */
static bool empty_port(const char *url)
{
	const char *a = strstr(url, "://"), *end;

	if (!a)
		return false;
	a += 3;
	end = a + strcspn(a, "/?#");
	return end > a && end[-1] == ':';
}

int ts_url_parse(const char *url, bool any_scheme, struct ts_url *u, char *err, size_t errlen)
{
	unsigned flags = any_scheme ? CURLU_NON_SUPPORT_SCHEME : 0;
	CURLU *h = curl_url();
	char port[8] = "";
	CURLUcode e;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	if (!h)
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	e = curl_url_set(h, CURLUPART_URL, url, flags);
	if (e != CURLUE_OK) {
		/* the two mistakes people make, in the words of the checks below */
		if (e == CURLUE_NO_HOST)
			rc = ts_errf(err, errlen, "no host in the URL");
		else if (e == CURLUE_BAD_PORT_NUMBER)	/* curl's words allow 0, refused below */
			rc = ts_errf(err, errlen, "the port must be a number from 1 to 65535");
		else
			rc = ts_errf(err, errlen, "not a URL: %s", curl_url_strerror(e));
		goto out;
	}
	part(h, CURLUPART_SCHEME, u->scheme, sizeof(u->scheme));
	if (!part(h, CURLUPART_HOST, u->host, sizeof(u->host)) || !u->host[0]) {
		rc = ts_errf(err, errlen, "no host in the URL");
		goto out;
	}
	if (u->host[0] == '[') {	/* curl keeps the brackets of an IPv6 literal */
		size_t n = strlen(u->host);

		memmove(u->host, u->host + 1, n - 2);
		u->host[n - 2] = 0;
	}
	if (part(h, CURLUPART_PORT, port, sizeof(port)))
		u->port = (unsigned)strtoul(port, NULL, 10);
	/* curl takes port 0, which would read as "none given" here */
	if ((port[0] && !u->port) || empty_port(url)) {
		rc = ts_errf(err, errlen, "the port must be a number from 1 to 65535");
		goto out;
	}
	if (!part(h, CURLUPART_PATH, u->path, sizeof(u->path))) {
		rc = ts_errf(err, errlen, "the URL's path is too long");
		goto out;
	}
	u->has_query = present(h, CURLUPART_QUERY);
	u->has_user = present(h, CURLUPART_USER) || present(h, CURLUPART_PASSWORD);
	u->has_fragment = present(h, CURLUPART_FRAGMENT);
out:
	curl_url_cleanup(h);
	return rc;
}

void ts_url_hostport(const struct ts_url *u, unsigned port, char *out, size_t len)
{
	bool v6 = strchr(u->host, ':') != NULL;

	if (port)
		snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", u->host, port);
	else
		snprintf(out, len, v6 ? "[%s]" : "%s", u->host);
}
