// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Syslog messages, built in the caller's buffer:
 *
 *   RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID pid=..
 *             comm=.. saddr=.. sport=.. daddr=.. dport=..] MSG
 *   RFC 3164: <PRI>Mmm dd hh:mm:ss [HOSTNAME ]TAG[PID]: MSG
 *
 * MSG is the event's line as every other sink gets it, without its newline
 * and without a BOM. The SD params come from the record's fields, only those
 * that are known. No message ever holds a raw control byte, so no newline
 * either: comm is any bytes from the kernel and goes through ts_sl_sd_escape,
 * and the line is JSON, escaped already.
 */
#include "syslog/message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ident.h"
#include "json.h"
#include "util.h"

#define SEV_NOTICE 5
#define U_FFFD "\xef\xbf\xbd"

unsigned ts_sl_severity(const struct ts_sl_fmt *f, const struct ts_rec *r)
{
	bool raise = r->flags & TS_REC_NOTABLE;

	return raise && f->severity > SEV_NOTICE ? SEV_NOTICE : f->severity;
}

size_t ts_sl_sd_escape(char *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	char *o = out;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\' || c == ']')
				*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (c >= 0x80 && (k = ts_utf8_seq(s + i, n - i))) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {	/* a control byte, DEL, or a byte of invalid UTF-8 */
			memcpy(o, U_FFFD, 3);
			o += 3;
			i++;
		}
	}
	return (size_t)(o - out);
}

void ts_sl_sanitize_hostname(const char *in, char *out)
{
	size_t n = 0;

	for (; in[n] && n < TS_SL_HOST_MAX; n++) {
		unsigned char c = (unsigned char)in[n];

		out[n] = c >= 33 && c <= 126 ? (char)c : '_';
	}
	if (!n)
		out[n++] = '-';
	out[n] = 0;
}

/* The first byte of s outside printable ASCII (33..126), or -1. */
static long first_unprintable(const char *s)
{
	for (size_t i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return (long)i;
	return -1;
}

int ts_sl_check_hostname(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	long bad;

	if (!n || n > TS_SL_HOST_MAX)
		return ts_errf(err, errlen, "hostname: must be 1 to %d characters", TS_SL_HOST_MAX);
	if ((bad = first_unprintable(name)) >= 0)
		return ts_errf(err, errlen, "hostname: only printable ASCII without spaces "
			       "(byte %ld is 0x%02x)", bad, (unsigned char)name[bad]);
	return 0;
}

int ts_sl_check_sd_id(const char *id, char *err, size_t errlen)
{
	size_t n = strlen(id);
	const char *at = strchr(id, '@');

	if (!n || n > TS_SL_SDID_MAX)
		return ts_errf(err, errlen, "sd_id: '%.40s' must be 1 to %d characters", id,
			       TS_SL_SDID_MAX);
	if (first_unprintable(id) >= 0 || strpbrk(id, "=]\""))
		return ts_errf(err, errlen, "sd_id: '%s' may not contain '=', ']', '\"', spaces "
			       "or non-ASCII bytes (RFC 5424 SD-NAME)", id);
	/* names without '@' are reserved for IANA's registered SD-IDs */
	if (!at || at == id || strchr(at + 1, '@') || !at[1] || at[1] == '0' ||
	    strspn(at + 1, "0123456789") != strlen(at + 1))
		return ts_errf(err, errlen, "sd_id: '%s' must be NAME@PEN, with PEN your IANA "
			       "Private Enterprise Number (like tcpship@32473)", id);
	return 0;
}

int ts_sl_check_app_name(const char *name, enum ts_sl_format f, char *err, size_t errlen)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(name);

	if (f == TS_SL_RFC5424) {
		if (!n || n > TS_SL_APP_MAX)
			return ts_errf(err, errlen, "app_name: must be 1 to %d characters",
				       TS_SL_APP_MAX);
		if (first_unprintable(name) >= 0)
			return ts_errf(err, errlen, "app_name: only printable ASCII without spaces");
		return 0;
	}
	if (!n || n > TS_SL_TAG_MAX)
		return ts_errf(err, errlen, "app_name: must be 1 to %d characters for rfc3164",
			       TS_SL_TAG_MAX);
	if (strspn(name, alnum) != n)
		return ts_errf(err, errlen, "app_name: only letters and digits for rfc3164 (the TAG)");
	return 0;
}

size_t ts_sl_octet_prefix(char out[12], size_t len)
{
	int n = snprintf(out, 12, "%zu ", len);

	return n > 0 && n < 12 ? (size_t)n : 0;
}

/* A bounded writer: what does not fit sets `over` instead of overflowing. */
struct sw {
	char *p, *end;
	bool over;
};

static void sw_put(struct sw *w, const void *s, size_t n)
{
	if ((size_t)(w->end - w->p) < n) {
		w->over = true;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

static void sw_str(struct sw *w, const char *s)
{
	sw_put(w, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void sw_fmt(struct sw *w, const char *fmt, ...)
{
	size_t room = (size_t)(w->end - w->p);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		w->over = true;
		return;
	}
	w->p += n;
}

static void sw_addr(struct sw *w, unsigned family, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop((int)family, a, buf, sizeof(buf)))
		strcpy(buf, "?");
	sw_str(w, buf);
}

/* name="value" with the value escaped (RFC 5424 6.3.3), if there is one;
 * a value longer than 253 bytes (no pod or namespace name is) is left out */
static void sd_param(struct sw *w, const char *name, const char *v)
{
	char esc[253 * 3];
	size_t n;

	if (!v || strlen(v) > 253)
		return;
	n = ts_sl_sd_escape(esc, v, strlen(v));
	sw_fmt(w, " %s=\"", name);
	sw_put(w, esc, n);
	sw_put(w, "\"", 1);
}

/* The SD element without its closing ']', where truncated="N" may go. */
static void put_sd(struct sw *w, const struct ts_sl_fmt *f, const struct ts_rec *h)
{
	char comm[TS_REC_COMM_LEN * 3];

	sw_fmt(w, "[%s", f->sd_id);
	if (h->flags & TS_REC_TASK) {
		/* TASK_COMM_LEN is 16 with the NUL: never read the 16th byte */
		size_t n = ts_sl_sd_escape(comm, h->comm, strnlen(h->comm, TS_REC_COMM_LEN - 1));

		sw_fmt(w, " pid=\"%u\" comm=\"", h->pid);
		sw_put(w, comm, n);
		sw_put(w, "\"", 1);
	}
	if (h->flags & TS_REC_SADDR) {
		sw_str(w, " saddr=\"");
		sw_addr(w, h->family, h->saddr);
		sw_fmt(w, "\" sport=\"%u\"", h->sport);
	}
	sw_str(w, " daddr=\"");
	sw_addr(w, h->family, h->daddr);
	sw_fmt(w, "\" dport=\"%u\"", h->dport);
}

/* Who, in the SD element: only when it leaves room for the truncation
 * marker within max (else the line, which has these keys too, goes
 * without them: the header check at open stays the one above). */
static void put_sd_who(struct sw *w, const struct ts_rec *h, const char *head, size_t max)
{
	char *base = w->p;

	if (!h->cg)
		return;
	sd_param(w, "container_id", h->cg->container_id);
	sd_param(w, "pod", h->cg->pod);
	sd_param(w, "pod_namespace", h->cg->pod_namespace);
	if (w->over || (size_t)(w->p - head) + 40 > max) {
		w->p = base;
		w->over = false;
	}
}

/* The longest start of s[0..n) that is at most max bytes and does not end
 * inside a UTF-8 sequence. */
static size_t utf8_floor(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* A message whose MSG does not fit is cut at a UTF-8 boundary and marked,
 * so that a receiver sees it was cut and by how much: truncated="N" in the
 * SD element (N: MSG's length before the cut). */
static int format_5424(const struct ts_sl_fmt *f, const struct ts_rec *r, unsigned pri,
		       const char *msg, size_t mlen, char *out, size_t max, bool *truncated)
{
	time_t sec = (time_t)(r->time_ns / 1000000000ULL);
	char head[2048], marker[40];
	struct sw w = { head, head + sizeof(head), false };
	size_t hlen, mk, cut;
	struct tm tm;

	gmtime_r(&sec, &tm);
	/* microseconds, cut and not rounded: RFC 5424 allows no more digits */
	sw_fmt(&w, "<%u>1 %04d-%02d-%02dT%02d:%02d:%02d.%06uZ %s %s %u %s ", pri,
	       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	       (unsigned)(r->time_ns % 1000000000ULL / 1000), f->hostname, f->app_name, f->pid,
	       r->type ?: "-");
	put_sd(&w, f, r);
	if (w.over)
		return -EMSGSIZE;
	put_sd_who(&w, r, head, max);
	hlen = (size_t)(w.p - head);
	if (hlen + 1 + (mlen ? 1 + mlen : 0) <= max) {
		memcpy(out, head, hlen);
		out[hlen++] = ']';
		if (mlen) {
			out[hlen++] = ' ';
			memcpy(out + hlen, msg, mlen);
		}
		return (int)(hlen + mlen);
	}
	mk = (size_t)snprintf(marker, sizeof(marker), " truncated=\"%zu\"", mlen);
	if (hlen + mk + 2 > max)
		return -EMSGSIZE;
	cut = utf8_floor(msg, mlen, max - hlen - mk - 2);
	memcpy(out, head, hlen);
	memcpy(out + hlen, marker, mk);
	memcpy(out + hlen + mk, "] ", 2);
	memcpy(out + hlen + mk + 2, msg, cut);
	*truncated = true;
	return (int)(hlen + mk + 2 + cut);
}

/* RFC 3164 has no structured data: the marker " [truncated N]" ends MSG. */
static int format_3164(const struct ts_sl_fmt *f, const struct ts_rec *r, unsigned pri,
		       const char *msg, size_t mlen, char *out, size_t max, bool *truncated)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t sec = (time_t)(r->time_ns / 1000000000ULL);
	char head[1024], marker[40];
	struct sw w = { head, head + sizeof(head), false };
	size_t hlen, mk, cut;
	struct tm tm;

	/* local time, the day padded with a space: what syslog(3) sends */
	localtime_r(&sec, &tm);
	sw_fmt(&w, "<%u>%s %2d %02d:%02d:%02d ", pri, months[tm.tm_mon % 12], tm.tm_mday,
	       tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (f->format == TS_SL_RFC3164)
		sw_fmt(&w, "%s ", f->hostname);
	sw_fmt(&w, "%s[%u]: ", f->app_name, f->pid);
	if (w.over)
		return -EMSGSIZE;
	hlen = (size_t)(w.p - head);
	if (hlen + mlen <= max) {
		memcpy(out, head, hlen);
		memcpy(out + hlen, msg, mlen);
		return (int)(hlen + mlen);
	}
	mk = (size_t)snprintf(marker, sizeof(marker), " [truncated %zu]", mlen);
	if (hlen + mk > max)
		return -EMSGSIZE;
	cut = utf8_floor(msg, mlen, max - hlen - mk);
	memcpy(out, head, hlen);
	memcpy(out + hlen, msg, cut);
	memcpy(out + hlen + cut, marker, mk);
	*truncated = true;
	return (int)(hlen + cut + mk);
}

int ts_sl_format(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line, size_t len,
		 char *out, size_t cap, bool *truncated)
{
	size_t max = f->max_message < cap ? f->max_message : cap;
	unsigned pri = f->facility * 8 + ts_sl_severity(f, r);

	*truncated = false;
	if (len && line[len - 1] == '\n')
		len--;
	if (f->format == TS_SL_RFC5424)
		return format_5424(f, r, pri, line, len, out, max, truncated);
	return format_3164(f, r, pri, line, len, out, max, truncated);
}

int ts_sl_frame(const struct ts_sl_fmt *f, enum ts_sl_framing framing, const struct ts_rec *r,
		const char *line, size_t len, char *out, size_t cap, bool *truncated)
{
	/* the prefix's room: the message goes after it, then moves down */
	size_t pl = framing == TS_SL_OCTETS ? 11 : 0;
	char prefix[12];
	size_t k;
	int n = ts_sl_format(f, r, line, len, out + pl, cap - pl - 1, truncated);

	if (n < 0)
		return n;
	if (framing == TS_SL_NEWLINE)
		out[n++] = '\n';
	if (framing != TS_SL_OCTETS)
		return n;
	k = ts_sl_octet_prefix(prefix, (size_t)n);
	memmove(out + k, out + pl, (size_t)n);
	memcpy(out, prefix, k);
	return n + (int)k;
}

int ts_sl_check_fits(const struct ts_sl_fmt *f, char *err, size_t errlen)
{
	struct ts_rec r = {
		.time_ns = 1795686129123456789ULL, .type = "retransmit", .family = AF_INET6,
		.flags = TS_REC_TASK | TS_REC_SADDR | TS_REC_NOTABLE, .pid = UINT32_MAX,
		.sport = 65535, .dport = 65535,
	};
	struct ts_sl_fmt wide = *f;
	char line[4096], head[2048];
	char *msg = malloc(f->max_message);
	bool trunc;
	int n;

	if (!msg)
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	memset(r.comm, 0xff, TS_REC_COMM_LEN - 1);
	memset(r.saddr, 0xff, sizeof(r.saddr));
	memset(r.daddr, 0xff, sizeof(r.daddr));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	n = ts_sl_format(f, &r, line, sizeof(line), msg, f->max_message, &trunc);
	free(msg);
	if (n >= 0)
		return 0;
	/* the same header with an empty MSG, plus the longest marker */
	wide.max_message = sizeof(head);
	n = ts_sl_format(&wide, &r, "\n", 1, head, sizeof(head), &trunc);
	return ts_errf(err, errlen, "max_message: %zu is too small here: with this hostname, "
		       "app_name and sd_id a header can take %d bytes, so at least %d",
		       f->max_message, n, n + (int)strlen(" truncated=\"4095\"") + 1);
}
