/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syslog sink's configuration: its keys and their defaults, the
 * URLs (-o SPEC or "url"), and the checks made at open. No I/O beyond
 * reading the TLS files it names.
 */
#ifndef TS_SYSLOG_CONF_H
#define TS_SYSLOG_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/tls.h"
#include "sink.h"
#include "syslog/message.h"

enum ts_sl_transport {
	TS_SL_LOCAL,		/* "syslog": /dev/log */
	TS_SL_UDP,		/* syslog://, syslog+udp:// */
	TS_SL_TCP,		/* syslog+tcp:// (RFC 6587 octet counting) */
	TS_SL_TLS,		/* syslog+tls:// (RFC 5425) */
	TS_SL_UNIX,		/* syslog+unix://PATH */
};

#define TS_SL_PATH_MAX 107	/* sun_path less its NUL */

struct ts_sl_url {
	enum ts_sl_transport transport;
	char host[256];		/* udp/tcp/tls, without IPv6 brackets */
	uint16_t port;
	char path[TS_SL_PATH_MAX + 1];	/* local/unix */
};

/* -o SPEC (or the config's "url") -> u. -EINVAL and one line in err that
 * names the URL. */
int ts_sl_parse_url(const char *spec, struct ts_sl_url *u, char *err, size_t errlen);

struct ts_sl_conf {
	char *url;		/* NULL: "syslog" */
	int format;		/* index in the format names; -1: by transport */
	int facility;		/* index in the facility names */
	int severity;		/* index in the severity names = the code */
	char *app_name, *hostname, *sd_id;
	uint64_t max_message;	/* 0: by transport */
	uint64_t timeout_ns;
	struct ts_tls_conf tls;
};

/* for the ops table */
extern const struct ts_opt ts_sl_opts[];
bool ts_sl_match(const char *spec);
void ts_sl_conf_init(void *conf);
int ts_sl_conf_spec(void *conf, const char *spec, char *err, size_t errlen);
int ts_sl_check(const void *conf, char *err, size_t errlen);

/* The message settings of c for a sink sending to u, checked: the format
 * the transport calls for, names, max_message and that the worst record
 * fits in it. run gives the host name and PROCID. */
int ts_sl_conf_message(const struct ts_sl_conf *c, const struct ts_sl_url *u,
		       const struct ts_run *run, struct ts_sl_fmt *f, char *err, size_t errlen);
/* The tls block: only for syslog+tls://, and its files readable. */
int ts_sl_conf_tls(const struct ts_sl_conf *c, const struct ts_sl_url *u, char *err,
		   size_t errlen);

#endif
