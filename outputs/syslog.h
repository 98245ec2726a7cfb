/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pure half of the syslog sink (outputs/syslog.c): URLs, names and one
 * record -> one syslog message. No I/O and no global state, so the unit
 * tests call it directly with hand-built records.
 */
#ifndef TS_SYSLOG_H
#define TS_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

enum ts_sl_transport {
	TS_SL_LOCAL,		/* "syslog": /dev/log */
	TS_SL_UDP,		/* syslog://, syslog+udp:// */
	TS_SL_TCP,		/* syslog+tcp:// (RFC 6587 octet counting) */
	TS_SL_TLS,		/* syslog+tls:// (RFC 5425) */
	TS_SL_UNIX,		/* syslog+unix://PATH */
};

enum ts_sl_format {
	TS_SL_RFC5424,
	TS_SL_RFC3164,		/* <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG */
	TS_SL_RFC3164_LOCAL,	/* the same without HOSTNAME, as syslog(3) sends it */
};

#define TS_SL_HOST_MAX 255	/* RFC 5424 HOSTNAME */
#define TS_SL_APP_MAX 48	/* RFC 5424 APP-NAME */
#define TS_SL_TAG_MAX 32	/* RFC 3164 TAG */
#define TS_SL_SDID_MAX 32	/* RFC 5424 SD-NAME */
#define TS_SL_PATH_MAX 107	/* sun_path less its NUL */
#define TS_SL_MIN_MESSAGE 480	/* RFC 5424 6.1: every receiver takes 480 octets */
#define TS_SL_DEFAULT_SD_ID "tcpship@32473"

struct ts_sl_url {
	enum ts_sl_transport transport;
	char host[256];		/* udp/tcp/tls, without IPv6 brackets */
	uint16_t port;
	char path[TS_SL_PATH_MAX + 1];	/* local/unix */
};

/* -o SPEC (or the config's "url") -> u. -EINVAL and one line in err. */
int ts_sl_parse_url(const char *spec, struct ts_sl_url *u, char *err, size_t errlen);

/* Everything a message needs besides the record; fixed at open. */
struct ts_sl_fmt {
	enum ts_sl_format format;
	unsigned facility;		/* code, 0..23 */
	unsigned severity;		/* code, 0..7 */
	char hostname[TS_SL_HOST_MAX + 1];	/* valid (see ts_sl_sanitize_hostname) */
	char app_name[TS_SL_APP_MAX + 1];
	char sd_id[TS_SL_SDID_MAX + 1];
	unsigned pid;			/* PROCID: tcpship's own */
	size_t max_message;		/* whole message, without any framing */
};

/* The severity of this record: the configured one, raised to notice for
 * retransmits and for closes that failed (an error, or never established). */
unsigned ts_sl_severity(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line,
			size_t len);

/*
 * One record as one message, without framing: out gets at most
 * f->max_message bytes (cap must be at least that). line/len is the
 * record's line with its final newline. Returns the message length, or
 * -EMSGSIZE if not even the header fits in max_message. *truncated says
 * whether MSG was cut (and marked).
 */
int ts_sl_format(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line, size_t len,
		 char *out, size_t cap, bool *truncated);

/* An SD-PARAM value: '"', '\' and ']' escaped, control bytes and invalid
 * UTF-8 as U+FFFD. out must have room for 3 * n bytes. */
size_t ts_sl_sd_escape(char *out, const char *s, size_t n);

/* HOSTNAME from anything: bytes outside 33..126 become '_', at most 255
 * bytes, "-" if empty. out has room for TS_SL_HOST_MAX + 1. */
void ts_sl_sanitize_hostname(const char *in, char *out);

/* Config checks: 0, or -EINVAL and one line in err. */
int ts_sl_check_sd_id(const char *id, char *err, size_t errlen);
int ts_sl_check_app_name(const char *name, enum ts_sl_format f, char *err, size_t errlen);
int ts_sl_check_hostname(const char *name, char *err, size_t errlen);

/* RFC 6587 octet counting: "MSG-LEN SP" for a message of len bytes.
 * Returns its length (at most 11). */
size_t ts_sl_octet_prefix(char out[12], size_t len);

#endif
