/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One record -> one syslog message (RFC 5424, or the BSD form of RFC 3164),
 * and the checks of the names that go into one. Pure: no I/O and no global
 * state, so the unit tests call it with hand-built records.
 */
#ifndef TS_SYSLOG_MESSAGE_H
#define TS_SYSLOG_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"

enum ts_sl_format {
	TS_SL_RFC5424,
	TS_SL_RFC3164,		/* <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG */
	TS_SL_RFC3164_LOCAL,	/* the same without HOSTNAME, as syslog(3) sends it */
};

#define TS_SL_HOST_MAX 255	/* RFC 5424 HOSTNAME */
#define TS_SL_APP_MAX 48	/* RFC 5424 APP-NAME */
#define TS_SL_TAG_MAX 32	/* RFC 3164 TAG */
#define TS_SL_SDID_MAX 32	/* RFC 5424 SD-NAME */
#define TS_SL_MIN_MESSAGE 480	/* RFC 5424 6.1: every receiver takes 480 octets */
#define TS_SL_FRAMING_MAX 16	/* what a frame adds to a message: "65536 " or '\n' */
/* 32473 is the example enterprise number of RFC 5612, reserved for
 * documentation: users with a PEN of their own set "sd_id" */
#define TS_SL_DEFAULT_SD_ID "tcpship@32473"

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
 * what the core marked notable (retransmits, closes that failed), which is
 * what an operator filters for. A more severe configured one is kept. */
unsigned ts_sl_severity(const struct ts_sl_fmt *f, const struct ts_rec *r);

/*
 * One record as one message, without framing: out gets at most
 * f->max_message bytes (and at most cap). line/len is the record's line
 * with its final newline. Returns the message length, or -EMSGSIZE if not
 * even the header fits. *truncated says whether MSG was cut (and marked).
 */
int ts_sl_format(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line, size_t len,
		 char *out, size_t cap, bool *truncated);

enum ts_sl_framing {
	TS_SL_BARE,		/* a datagram: the message alone */
	TS_SL_OCTETS,		/* RFC 6587 octet counting: "MSG-LEN SP MSG" */
	TS_SL_NEWLINE,		/* a local stream socket: "MSG\n" */
};

/* ts_sl_format, framed: cap must be at least f->max_message +
 * TS_SL_FRAMING_MAX. Returns the frame's length, or -EMSGSIZE. */
int ts_sl_frame(const struct ts_sl_fmt *f, enum ts_sl_framing framing, const struct ts_rec *r,
		const char *line, size_t len, char *out, size_t cap, bool *truncated);

/* RFC 6587 octet counting: "MSG-LEN SP" for a message of len bytes.
 * Returns its length (at most 11). */
size_t ts_sl_octet_prefix(char out[12], size_t len);

/* An SD-PARAM value: '"', '\' and ']' escaped, control bytes and invalid
 * UTF-8 as U+FFFD. out must have room for 3 * n bytes. */
size_t ts_sl_sd_escape(char *out, const char *s, size_t n);

/* HOSTNAME from anything: bytes outside 33..126 become '_', at most 255
 * bytes, "-" if empty. out has room for TS_SL_HOST_MAX + 1. */
void ts_sl_sanitize_hostname(const char *in, char *out);

/* Config checks: 0, or -EINVAL and one line in err naming the key. */
int ts_sl_check_sd_id(const char *id, char *err, size_t errlen);
int ts_sl_check_app_name(const char *name, enum ts_sl_format f, char *err, size_t errlen);
int ts_sl_check_hostname(const char *name, char *err, size_t errlen);
/* Does the worst record (hostile comm, longest addresses and type, task and
 * source known) fit in f->max_message? Checked at open, so that no record
 * is ever unsendable. 0, -EINVAL with the least max_message that would
 * do, or -ENOMEM. */
int ts_sl_check_fits(const struct ts_sl_fmt *f, char *err, size_t errlen);

#endif
