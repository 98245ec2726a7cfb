// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syslog sink's configuration: its keys and their defaults, its URLs
 * (HOST[:PORT] by libcurl's parser, IPv6 hosts in brackets:
 * syslog+tcp://[2001:db8::1]:514), and the message settings open() derives
 * from them.
 */
#include "syslog/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "util.h"

#define URL_FORMS "syslog, syslog://HOST:PORT, syslog+udp://, syslog+tcp://, syslog+tls://, " \
		  "syslog+unix://PATH"
/* what host names are made of; IDN names go in their ASCII (punycode) form */
#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"

/* syslog+unix://PATH is a socket path, not a URL: taken as written */
static int unix_path(const char *spec, const char *path, struct ts_sl_url *u, char *err,
		     size_t errlen)
{
	if (!*path)
		return ts_errf(err, errlen, "%.200s: the socket path is missing", spec);
	if (strlen(path) > TS_SL_PATH_MAX)
		return ts_errf(err, errlen, "%.200s: the socket path is too long", spec);
	strcpy(u->path, path);
	return 0;
}

/* HOST[:PORT] after the scheme, by libcurl's parser. What curl would
 * also take but a syslog receiver has no use for (a path, user@) is
 * refused; so is an IPv6 address without brackets, with a hint. The
 * checks on the text come first, so the message says what was meant. */
static int host_port(const char *spec, const char *rest, struct ts_sl_url *u, char *err,
		     size_t errlen)
{
	struct ts_url cu;
	char why[256];

	if (rest[strcspn(rest, "/?#")])
		return ts_errf(err, errlen, "%.200s: no path after the host (syslog+tcp://HOST:PORT)",
			       spec);
	if (strchr(rest, '@'))
		return ts_errf(err, errlen, "%.200s: no user@ in a syslog URL", spec);
	if (*rest != '[' && strchr(rest, ':') != strrchr(rest, ':'))
		return ts_errf(err, errlen, "%.200s: an IPv6 address must be in brackets: "
			       "[2001:db8::1]:514", spec);
	/* curl decodes %XX in names and drops an IPv6 zone (%25eth0) */
	if (strchr(rest, '%'))
		return ts_errf(err, errlen, "%.200s: the host name has a character no host name has",
			       spec);
	if (ts_url_parse(spec, true, &cu, why, sizeof(why)))
		return ts_errf(err, errlen, "%.200s: %s", spec, why);
	if (!strchr(cu.host, ':') && strspn(cu.host, HOST_CHARS) != strlen(cu.host))
		return ts_errf(err, errlen, "%.200s: the host name has a character no host name has",
			       spec);
	snprintf(u->host, sizeof(u->host), "%s", cu.host);
	if (cu.port)
		u->port = (uint16_t)cu.port;
	return 0;
}

int ts_sl_parse_url(const char *spec, struct ts_sl_url *u, char *err, size_t errlen)
{
	static const struct {
		const char *scheme;
		enum ts_sl_transport t;
		uint16_t port;
	} schemes[] = {
		{ "syslog://", TS_SL_UDP, 514 },
		{ "syslog+udp://", TS_SL_UDP, 514 },
		{ "syslog+tcp://", TS_SL_TCP, 514 },
		{ "syslog+tls://", TS_SL_TLS, 6514 },
		{ "syslog+unix://", TS_SL_UNIX, 0 },
	};

	memset(u, 0, sizeof(*u));
	if (!strcmp(spec, "syslog")) {
		u->transport = TS_SL_LOCAL;
		strcpy(u->path, "/dev/log");
		return 0;
	}
	for (size_t i = 0; i < TS_ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i].scheme);

		if (strncmp(spec, schemes[i].scheme, n))
			continue;
		u->transport = schemes[i].t;
		u->port = schemes[i].port;
		if (u->transport == TS_SL_UNIX)
			return unix_path(spec, spec + n, u, err, errlen);
		return host_port(spec, spec + n, u, err, errlen);
	}
	return ts_errf(err, errlen, "%.200s: unknown syslog URL (" URL_FORMS ")", spec);
}

static const char *const format_names[] = { "rfc5424", "rfc3164", NULL };
static const char *const facility_names[] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
	"local7", NULL,
};
static const unsigned facility_codes[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
					   16, 17, 18, 19, 20, 21, 22, 23 };
static const char *const severity_names[] = { "emerg", "alert", "crit", "err", "warning",
					      "notice", "info", "debug", NULL };

const struct ts_opt ts_sl_opts[] = {
	{ .name = "url", .type = TS_OPT_STRING, .off = offsetof(struct ts_sl_conf, url) },
	{ .name = "format", .type = TS_OPT_ENUM, .off = offsetof(struct ts_sl_conf, format),
	  .choices = format_names },
	{ .name = "facility", .type = TS_OPT_ENUM, .off = offsetof(struct ts_sl_conf, facility),
	  .choices = facility_names },
	{ .name = "severity", .type = TS_OPT_ENUM, .off = offsetof(struct ts_sl_conf, severity),
	  .choices = severity_names },
	{ .name = "app_name", .type = TS_OPT_STRING, .off = offsetof(struct ts_sl_conf, app_name) },
	{ .name = "hostname", .type = TS_OPT_STRING, .off = offsetof(struct ts_sl_conf, hostname) },
	{ .name = "sd_id", .type = TS_OPT_STRING, .off = offsetof(struct ts_sl_conf, sd_id) },
	{ .name = "max_message", .type = TS_OPT_SIZE,
	  .off = offsetof(struct ts_sl_conf, max_message), .min = TS_SL_MIN_MESSAGE,
	  .max = 65536 },
	{ .name = "timeout", .type = TS_OPT_DURATION, .off = offsetof(struct ts_sl_conf, timeout_ns),
	  .min = 10 * 1000000ULL, .max = 3600 * 1000000000ULL },
	TS_TLS_OPT(offsetof(struct ts_sl_conf, tls)),
	{ .name = NULL },
};

bool ts_sl_match(const char *spec)
{
	return !strcmp(spec, "syslog") || !strncmp(spec, "syslog://", 9) ||
	       !strncmp(spec, "syslog+", 7);
}

void ts_sl_conf_init(void *c)
{
	struct ts_sl_conf *sc = c;

	sc->format = -1;	/* by transport: see ts_sl_conf_message */
	sc->facility = 3;	/* daemon */
	sc->severity = 6;	/* info; notable records are raised to notice */
	/* for each connect, TLS handshake, and send that makes no progress */
	sc->timeout_ns = 10 * 1000000000ULL;
	ts_tls_conf_init(&sc->tls);
}

int ts_sl_conf_spec(void *c, const char *spec, char *err, size_t errlen)
{
	struct ts_sl_conf *sc = c;

	sc->url = strdup(spec);
	return sc->url ? 0 : -ENOMEM;
}

int ts_sl_check(const void *conf, char *err, size_t errlen)
{
	const struct ts_sl_conf *c = conf;
	struct ts_sl_url u;

	return ts_sl_parse_url(c->url ? c->url : "syslog", &u, err, errlen) ? -EINVAL : 0;
}

int ts_sl_conf_message(const struct ts_sl_conf *c, const struct ts_sl_url *u,
		       const struct ts_run *run, struct ts_sl_fmt *f, char *err, size_t errlen)
{
	bool local = u->transport == TS_SL_LOCAL || u->transport == TS_SL_UNIX;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	/* /dev/log gets the BSD form glibc's syslog(3) sends, without
	 * HOSTNAME: journald, which owns /dev/log on systemd hosts, does not
	 * parse RFC 5424 there (systemd issue #19251), and rsyslog's imuxsock
	 * expects that form too (rsyslog issue #437). Asked for, rfc3164 is
	 * that local form on any local socket; over the network it carries
	 * HOSTNAME. */
	if (c->format < 0)
		f->format = u->transport == TS_SL_LOCAL ? TS_SL_RFC3164_LOCAL : TS_SL_RFC5424;
	else if (c->format == 1)
		f->format = local ? TS_SL_RFC3164_LOCAL : TS_SL_RFC3164;
	else
		f->format = TS_SL_RFC5424;
	f->facility = facility_codes[c->facility];
	f->severity = (unsigned)c->severity;
	f->pid = run->pid;
	/* 8 KiB is rsyslog's default maxMessageSize; on UDP 2048, what RFC
	 * 5426 3.2 says receivers should take (bigger datagrams fragment) */
	f->max_message = c->max_message ? c->max_message : u->transport == TS_SL_UDP ? 2048 : 8192;
	if (u->transport == TS_SL_UDP && f->max_message > 65507)	/* UDP over IPv4 */
		return ts_errf(err, errlen, "max_message: %zu is more than a UDP datagram takes "
			       "(65507)", f->max_message);
	if (c->app_name)
		rc = ts_sl_check_app_name(c->app_name, f->format, err, errlen);
	rc = rc ?: (c->hostname ? ts_sl_check_hostname(c->hostname, err, errlen) : 0);
	rc = rc ?: (c->sd_id ? ts_sl_check_sd_id(c->sd_id, err, errlen) : 0);
	if (rc)
		return rc;
	snprintf(f->app_name, sizeof(f->app_name), "%s", c->app_name ?: "tcpship");
	if (c->hostname)
		snprintf(f->hostname, sizeof(f->hostname), "%s", c->hostname);
	else
		ts_sl_sanitize_hostname(run->host, f->hostname);
	snprintf(f->sd_id, sizeof(f->sd_id), "%s", c->sd_id ?: TS_SL_DEFAULT_SD_ID);
	return ts_sl_check_fits(f, err, errlen);
}

int ts_sl_conf_tls(const struct ts_sl_conf *c, const struct ts_sl_url *u, char *err,
		   size_t errlen)
{
	if (u->transport != TS_SL_TLS)
		return ts_tls_given(&c->tls) ?
		       ts_errf(err, errlen, "tls: only for syslog+tls:// URLs") : 0;
	return ts_tls_check(&c->tls, err, errlen);
}
