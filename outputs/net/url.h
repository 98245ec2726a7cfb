/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * URLs of the network sinks (http://, https://, syslog+tcp://, ...), parsed
 * by libcurl's URL API (curl_url()), so host names, IPv6 literals in
 * brackets, ports and percent-encoding follow one parser everywhere.
 */
#ifndef TS_NET_URL_H
#define TS_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

struct ts_url {
	char scheme[32];	/* lower case, as curl gives it */
	char host[256];		/* without the brackets of an IPv6 literal */
	unsigned port;		/* 0: none given */
	char path[2048];	/* "/..." as written; "/" when none was */
	bool has_query;
	bool has_user;		/* user[:password]@ was given */
	bool has_fragment;
};

/* 0, or -EINVAL and one line in err ("not a URL: ..."). any_scheme lets
 * schemes libcurl does not speak through (syslog+tcp://). The caller
 * decides what of the result it allows. */
int ts_url_parse(const char *url, bool any_scheme, struct ts_url *u, char *err, size_t errlen);

/* u's host with brackets for an IPv6 literal, and ":port" when given:
 * "[::1]:514", "example.com" */
void ts_url_hostport(const struct ts_url *u, unsigned port, char *out, size_t len);

#endif
