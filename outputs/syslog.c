// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syslog: every event as one syslog message.
 *
 *   -o syslog                      the local socket /dev/log (datagram; a
 *                                  stream socket is used if that is what it is)
 *   -o syslog://HOST[:PORT]        UDP, one message per datagram (also
 *                                  syslog+udp://), port 514
 *   -o syslog+tcp://HOST[:PORT]    TCP, RFC 6587 octet counting, port 514
 *   -o syslog+tls://HOST[:PORT]    TLS (RFC 5425), octet counting, port 6514
 *   -o syslog+unix://PATH          another local socket (like /dev/log)
 *
 * IPv6 hosts go in brackets: syslog+tcp://[2001:db8::1]:514. A host name is
 * resolved once, at open; an unresolvable one is a configuration error.
 *
 *   { "type": "syslog", "url": "syslog+tls://logs.example.com",
 *     "format": "rfc5424", "facility": "daemon", "severity": "info",
 *     "app_name": "tcpship", "hostname": "web1", "sd_id": "tcpship@32473",
 *     "max_message": "8KiB", "timeout": "10s",
 *     "tls": { "ca_file": "/etc/ssl/ca.pem", "cert": "...", "key": "...",
 *              "verify": true, "server_name": "logs.example.com" } }
 *
 * Defaults, and why:
 *
 * - facility daemon, severity info. Retransmits, and closes that failed (an
 *   error, or never established), are raised to notice when the configured
 *   severity is less severe than that: they are what an operator filters for.
 * - format rfc5424 everywhere except the local socket: `-o syslog` sends the
 *   BSD form glibc's syslog(3) sends, `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`,
 *   with no HOSTNAME, because journald (which owns /dev/log on systemd hosts)
 *   does not parse RFC 5424 there (systemd issue #19251) and rsyslog's
 *   imuxsock expects that form too (rsyslog issue #437). "format": "rfc5424"
 *   still works there. rfc3164 on any local socket (syslog, syslog+unix://)
 *   means that local form; over the network it carries HOSTNAME.
 * - sd_id "tcpship@32473": 32473 is the example enterprise number of RFC 5612,
 *   reserved for documentation. Users with a Private Enterprise Number of their
 *   own should set "sd_id": "tcpship@THEIRS".
 * - max_message 8 KiB (rsyslog's default maxMessageSize) on tcp, tls and
 *   local sockets; 2048 on UDP (RFC 5426 3.2: receivers should take 2048;
 *   bigger datagrams fragment). At least 480 (RFC 5424 6.1).
 * - timeout 10s for each connect, TLS handshake and for a send that makes no
 *   progress.
 *
 * The message (RFC 5424):
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID pid=.. comm=..
 *   saddr=.. sport=.. daddr=.. dport=..] MSG
 * TIMESTAMP is the event's time, UTC, in microseconds (RFC 5424 allows no
 * more digits); PROCID is tcpship's pid; MSGID the event type. The SD params
 * come from the kernel header of the record, only those that are known. MSG is
 * the event's JSON line as every other sink gets it, without its newline and
 * without a BOM. comm in SD is any bytes from the kernel: control bytes and
 * invalid UTF-8 become U+FFFD there (the JSON keeps the exact bytes, escaped).
 * No message ever holds a raw control byte, so no newline either.
 *
 * A message longer than max_message is cut inside MSG at a UTF-8 boundary
 * and marked: rfc5424 adds truncated="N" (N: MSG's length in bytes before
 * the cut) to the SD element; rfc3164 ends MSG with " [truncated N]". It is
 * counted (truncated=). At open the worst case header (longest addresses,
 * hostile comm) must fit, so no record is ever unsendable.
 *
 * Delivery. The core gives the sink its own queue and thread, and retries
 * what write() classifies as RETRY with capped, jittered backoff; by default
 * a full queue drops (counted) so a dead receiver never stalls tracing. A
 * write keeps its place in the batch: a retry resumes at the first record not
 * yet sent, none sent twice on one connection and none skipped.
 *
 * - UDP: a connected socket. ECONNREFUSED (an ICMP error for an earlier
 *   datagram: that one was lost, counted maybe_lost) and ENOBUFS retry.
 * - TCP/TLS: non-blocking, with poll() and the timeout. Frames are written in
 *   runs of up to 64 KiB. A send that makes no progress for `timeout` (a
 *   receiver that stopped reading) retries later on the same connection, at
 *   the same byte. A broken connection (reset, closed by the peer) is closed;
 *   the next write reconnects. A frame whose write the break cut short is
 *   sent again whole on the new connection (the receiver discards the
 *   incomplete one). Frames written completely before the break may still
 *   have been lost: the kernel's count of bytes not yet acknowledged
 *   (SIOCOUTQ) at the break says which ones, and they are counted as
 *   maybe_lost. That is an estimate: bytes the peer's kernel acknowledged but
 *   its daemon never read are not visible to us (so it can be low), and
 *   with TLS the count is of ciphertext (so it can be a little high). One
 *   line is logged per disconnect.
 *   TCP_USER_TIMEOUT (twice `timeout`, at least 30 s) ends a connection
 *   whose peer vanished without a reset; a peer that only stopped reading
 *   acknowledges window probes and is waited for. Before writing into an
 *   idle connection the sink checks whether the peer closed it meanwhile (a
 *   restarted receiver), so that costs a reconnect and not a lost run. At
 *   exit it waits (the timeout, at most 1 s) for the receiver to acknowledge
 *   what it was sent, and logs what it did not.
 * - TLS: TLS 1.2 at least; the peer is verified by default against tls.ca_file
 *   or the system's CA paths, and its name against the URL's host or
 *   tls.server_name (IP addresses against IP SANs); SNI is sent for names;
 *   a client certificate is optional. At open the first connection is tried
 *   synchronously: a certificate that does not verify, or an unreadable
 *   cert/key/CA file, is fatal; a refused or timed-out connection is only a
 *   warning, and the sink starts and retries.
 * - local sockets: datagram, or newline-terminated messages on a stream
 *   socket. ECONNREFUSED (the daemon went away) closes and reconnects.
 *
 * Counters (exit and --stats lines): sent truncated reconnects maybe_lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shape.h"
#include "sink.h"
#include "syslog.h"

/* ---- the pure part: names, URLs, messages ---- */

#define SEV_NOTICE 5

unsigned ts_sl_severity(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line,
			size_t len)
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

		if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			i++;
		} else if (c < 0x80) {
			if (c == '"' || c == '\\' || c == ']')
				*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if ((k = ts_utf8_seq(s + i, n - i))) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
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

int ts_sl_check_hostname(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (!n || n > TS_SL_HOST_MAX) {
		snprintf(err, errlen, "hostname: must be 1 to %d characters", TS_SL_HOST_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 33 || (unsigned char)name[i] > 126) {
			snprintf(err, errlen, "hostname: only printable ASCII without spaces "
				 "(byte %zu is 0x%02x)", i, (unsigned char)name[i]);
			return -EINVAL;
		}
	return 0;
}

int ts_sl_check_sd_id(const char *id, char *err, size_t errlen)
{
	size_t n = strlen(id);
	const char *at = strchr(id, '@');

	if (!n || n > TS_SL_SDID_MAX) {
		snprintf(err, errlen, "sd_id: '%.40s' must be 1 to %d characters", id,
			 TS_SL_SDID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c < 33 || c > 126 || c == '=' || c == ']' || c == '"') {
			snprintf(err, errlen, "sd_id: '%s' may not contain '=', ']', '\"', spaces "
				 "or non-ASCII bytes (RFC 5424 SD-NAME)", id);
			return -EINVAL;
		}
	}
	/* names without '@' are reserved for IANA's registered SD-IDs */
	if (!at || at == id || strchr(at + 1, '@') || !at[1] || at[1] == '0' ||
	    strspn(at + 1, "0123456789") != strlen(at + 1)) {
		snprintf(err, errlen, "sd_id: '%s' must be NAME@PEN, with PEN your IANA "
			 "Private Enterprise Number (like tcpship@32473)", id);
		return -EINVAL;
	}
	return 0;
}

int ts_sl_check_app_name(const char *name, enum ts_sl_format f, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (f == TS_SL_RFC5424) {
		if (!n || n > TS_SL_APP_MAX) {
			snprintf(err, errlen, "app_name: must be 1 to %d characters", TS_SL_APP_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)name[i] < 33 || (unsigned char)name[i] > 126) {
				snprintf(err, errlen, "app_name: only printable ASCII without "
					 "spaces");
				return -EINVAL;
			}
		return 0;
	}
	if (!n || n > TS_SL_TAG_MAX) {
		snprintf(err, errlen, "app_name: must be 1 to %d characters for rfc3164",
			 TS_SL_TAG_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9'))) {
			snprintf(err, errlen, "app_name: only letters and digits for rfc3164 "
				 "(the TAG)");
			return -EINVAL;
		}
	return 0;
}

size_t ts_sl_octet_prefix(char out[12], size_t len)
{
	int n = snprintf(out, 12, "%zu ", len);

	return n > 0 && n < 12 ? (size_t)n : 0;
}

static int bad_url(char *err, size_t errlen, const char *spec, const char *why)
{
	snprintf(err, errlen, "%.200s: %s", spec, why);
	return -EINVAL;
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
	const char *rest = NULL, *host, *hend, *port = NULL;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (!strcmp(spec, "syslog")) {
		u->transport = TS_SL_LOCAL;
		strcpy(u->path, "/dev/log");
		return 0;
	}
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(spec, schemes[i].scheme, strlen(schemes[i].scheme))) {
			rest = spec + strlen(schemes[i].scheme);
			u->transport = schemes[i].t;
			u->port = schemes[i].port;
			break;
		}
	if (!rest)
		return bad_url(err, errlen, spec, "unknown syslog URL (syslog, syslog://HOST:PORT, "
			       "syslog+udp://, syslog+tcp://, syslog+tls://, syslog+unix://PATH)");
	if (u->transport == TS_SL_UNIX) {
		if (!*rest)
			return bad_url(err, errlen, spec, "the socket path is missing");
		if (strlen(rest) > TS_SL_PATH_MAX)
			return bad_url(err, errlen, spec, "the socket path is too long");
		strcpy(u->path, rest);
		return 0;
	}
	if (*rest == '[') {
		host = rest + 1;
		hend = strchr(host, ']');
		if (!hend)
			return bad_url(err, errlen, spec, "'[' without ']' around the IPv6 address");
		if (hend[1] && hend[1] != ':')
			return bad_url(err, errlen, spec, "only ':PORT' may follow ']'");
		port = hend[1] == ':' ? hend + 2 : NULL;
		hlen = (size_t)(hend - host);
		struct in6_addr a6;
		char tmp[64];

		if (hlen >= sizeof(tmp))
			return bad_url(err, errlen, spec, "not an IPv6 address in the brackets");
		memcpy(tmp, host, hlen);
		tmp[hlen] = 0;
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return bad_url(err, errlen, spec, "not an IPv6 address in the brackets");
	} else {
		host = rest;
		hend = strchr(host, ':');
		if (hend && strchr(hend + 1, ':'))
			return bad_url(err, errlen, spec, "an IPv6 address must be in brackets: "
				       "[2001:db8::1]:514");
		port = hend ? hend + 1 : NULL;
		if (!hend)
			hend = host + strlen(host);
		hlen = (size_t)(hend - host);
		for (const char *c = host; c < hend; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
				return bad_url(err, errlen, spec, *c == '/' ?
					       "no path after the host (syslog+tcp://HOST:PORT)" :
					       "the host name has a character no host name has");
	}
	if (!hlen)
		return bad_url(err, errlen, spec, "the host is missing");
	if (hlen >= sizeof(u->host))
		return bad_url(err, errlen, spec, "the host name is too long");
	memcpy(u->host, host, hlen);
	u->host[hlen] = 0;
	if (port) {
		unsigned long v;
		char *end;

		if (!*port || strspn(port, "0123456789") != strlen(port))
			return bad_url(err, errlen, spec, "the port must be a number from 1 to 65535");
		errno = 0;
		v = strtoul(port, &end, 10);
		if (errno || *end || v < 1 || v > 65535)
			return bad_url(err, errlen, spec, "the port must be a number from 1 to 65535");
		u->port = (uint16_t)v;
	}
	return 0;
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

/* The SD element without its closing ']' */
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

int ts_sl_format(const struct ts_sl_fmt *f, const struct ts_rec *r, const char *line, size_t len,
		 char *out, size_t cap, bool *truncated)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const char *type = r->type ?: "-";
	size_t max = f->max_message < cap ? f->max_message : cap;
	char head[1024], marker[40];
	struct sw w = { head, head + sizeof(head), false };
	unsigned pri = f->facility * 8 + ts_sl_severity(f, r, line, len);
	time_t sec = (time_t)(r->time_ns / 1000000000ULL);
	size_t mlen = len, hlen, mk, cut;
	struct tm tm;

	*truncated = false;
	if (mlen && line[mlen - 1] == '\n')
		mlen--;
	if (f->format == TS_SL_RFC5424) {
		gmtime_r(&sec, &tm);
		sw_fmt(&w, "<%u>1 %04d-%02d-%02dT%02d:%02d:%02d.%06uZ %s %s %u %s ", pri,
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		       tm.tm_sec, (unsigned)(r->time_ns % 1000000000ULL / 1000), f->hostname,
		       f->app_name, f->pid, type);
		put_sd(&w, f, r);
		if (w.over)
			return -EMSGSIZE;
		hlen = (size_t)(w.p - head);
		if (hlen + 1 + (mlen ? 1 + mlen : 0) <= max) {
			memcpy(out, head, hlen);
			out[hlen++] = ']';
			if (mlen) {
				out[hlen++] = ' ';
				memcpy(out + hlen, line, mlen);
			}
			return (int)(hlen + mlen);
		}
		mk = (size_t)snprintf(marker, sizeof(marker), " truncated=\"%zu\"", mlen);
		if (hlen + mk + 2 > max)
			return -EMSGSIZE;
		cut = utf8_floor(line, mlen, max - hlen - mk - 2);
		memcpy(out, head, hlen);
		memcpy(out + hlen, marker, mk);
		memcpy(out + hlen + mk, "] ", 2);
		memcpy(out + hlen + mk + 2, line, cut);
		*truncated = true;
		return (int)(hlen + mk + 2 + cut);
	}
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
		memcpy(out + hlen, line, mlen);
		return (int)(hlen + mlen);
	}
	mk = (size_t)snprintf(marker, sizeof(marker), " [truncated %zu]", mlen);
	if (hlen + mk > max)
		return -EMSGSIZE;
	cut = utf8_floor(line, mlen, max - hlen - mk);
	memcpy(out, head, hlen);
	memcpy(out + hlen, line, cut);
	memcpy(out + hlen + cut, marker, mk);
	*truncated = true;
	return (int)(hlen + cut + mk);
}

/* ---- configuration ---- */

struct syslog_conf {
	char *url;
	int format;		/* index in format_names; -1: by transport */
	int facility;		/* index in facility_names */
	int severity;		/* index in severity_names = the code */
	char *app_name, *hostname, *sd_id;
	uint64_t max_message;	/* 0: by transport */
	uint64_t timeout_ns;
	char *tls_ca_file, *tls_cert, *tls_key, *tls_server_name;
	bool tls_verify;
};

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

static const struct ts_opt tls_opts[] = {
	{ .name = "ca_file", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, tls_ca_file) },
	{ .name = "cert", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, tls_cert) },
	{ .name = "key", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, tls_key) },
	{ .name = "verify", .type = TS_OPT_BOOL, .off = offsetof(struct syslog_conf, tls_verify) },
	{ .name = "server_name", .type = TS_OPT_STRING,
	  .off = offsetof(struct syslog_conf, tls_server_name) },
	{ .name = NULL },
};

static const struct ts_opt syslog_opts[] = {
	{ .name = "url", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, url) },
	{ .name = "format", .type = TS_OPT_ENUM, .off = offsetof(struct syslog_conf, format),
	  .choices = format_names },
	{ .name = "facility", .type = TS_OPT_ENUM, .off = offsetof(struct syslog_conf, facility),
	  .choices = facility_names },
	{ .name = "severity", .type = TS_OPT_ENUM, .off = offsetof(struct syslog_conf, severity),
	  .choices = severity_names },
	{ .name = "app_name", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, app_name) },
	{ .name = "hostname", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, hostname) },
	{ .name = "sd_id", .type = TS_OPT_STRING, .off = offsetof(struct syslog_conf, sd_id) },
	{ .name = "max_message", .type = TS_OPT_SIZE,
	  .off = offsetof(struct syslog_conf, max_message), .min = TS_SL_MIN_MESSAGE,
	  .max = 65536 },
	{ .name = "timeout", .type = TS_OPT_DURATION, .off = offsetof(struct syslog_conf, timeout_ns),
	  .min = 10 * 1000000ULL, .max = 3600 * 1000000000ULL },
	{ .name = "tls", .type = TS_OPT_OBJECT, .sub = tls_opts },
	{ .name = NULL },
};

static bool syslog_match(const char *spec)
{
	return !strcmp(spec, "syslog") || !strncmp(spec, "syslog://", 9) ||
	       !strncmp(spec, "syslog+", 7);
}

static void syslog_conf_init(void *c)
{
	struct syslog_conf *sc = c;

	sc->format = -1;
	sc->facility = 3;	/* daemon */
	sc->severity = 6;	/* info */
	sc->timeout_ns = 10 * 1000000000ULL;
	sc->tls_verify = true;
}

static int syslog_conf_spec(void *c, const char *spec, char *err, size_t errlen)
{
	struct syslog_conf *sc = c;

	sc->url = strdup(spec);
	return sc->url ? 0 : -ENOMEM;
}

/* ---- the sink ---- */

#define FILL_BYTES (64 * 1024)	/* frames gathered per stream write */
#define RING 4096		/* recently written frame ends, for maybe_lost */

struct frame {
	uint32_t end;		/* offset in out just past it */
	bool truncated;
};

struct priv {
	const struct syslog_conf *conf;
	struct ts_sl_url url;
	struct ts_sl_fmt fmt;
	char peer[300];			/* "host:port" or the socket path */
	struct addrinfo *ai;		/* udp/tcp/tls */
	uint64_t timeout_ns;
	bool stream;			/* tcp, tls, or a local stream socket */
	bool octets;			/* octet counting (tcp, tls), else newline */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool tls_failed;		/* no close_notify after a fatal error */
	bool had_conn;			/* a connection worked once: next ones are reconnects */
	bool outage;			/* not connected, and that was said */
	unsigned failed_connects;	/* in this outage */
	char last_failure[512];
	uint64_t refused_logged_ns;	/* udp: when a refusal was last said */
	uint64_t refused;		/* udp: refusals since */

	/* progress in the batch being written */
	const struct ts_batch *b;
	uint64_t b_seq;			/* its first seq: a new batch at the same address is new */
	uint32_t next;			/* first record not yet sent */

	/* stream: frames of recs [out_first, out_first + out_n) */
	struct ts_buf out;
	size_t out_done;		/* bytes of out the connection took */
	uint32_t out_first, out_n, out_complete;
	struct frame *frames;
	uint32_t frames_cap;

	/* this connection: plaintext bytes taken, and recent frame ends */
	uint64_t conn_bytes;
	uint64_t ring[RING];
	unsigned ring_n, ring_head;

	char *msg;			/* one message: max_message + framing */
	size_t msg_cap;

	_Atomic uint64_t sent, truncated, reconnects, maybe_lost;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Wait for events on fd until deadline: >0 ready, 0 timed out, <0 -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		uint64_t now = now_ns();
		int ms, r;

		if (now >= deadline)
			return 0;
		ms = (int)((deadline - now + 999999) / 1000000);
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 1;
	}
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void conn_reset(struct priv *p)
{
	if (p->ssl) {
		/* a close_notify if the socket takes it now; never wait */
		ERR_clear_error();
		if (!p->tls_failed)
			SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	p->tls_failed = false;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->conn_bytes = 0;
	p->ring_n = p->ring_head = 0;
	/* a frame cut short goes again whole on the next connection */
	p->out.len = 0;
	p->out_done = 0;
	p->out_n = p->out_complete = 0;
}

/* The OpenSSL reason for a failed handshake or write, for one line. */
static void tls_reason(SSL *ssl, int ret, int saved_errno, char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (ssl && vr != X509_V_OK)
		snprintf(buf, len, "%s (%s)", reason ? reason : "certificate verify failed",
			 X509_verify_cert_error_string(vr));
	else if (reason)
		snprintf(buf, len, "%s", reason);
	else if (ssl && SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && saved_errno)
		snprintf(buf, len, "%s", strerror(saved_errno));
	else
		snprintf(buf, len, "the peer closed the connection");
}

enum conn_result {
	CONN_OK,
	CONN_RETRY,		/* refused, timed out, reset: try again later */
	CONN_VERIFY,		/* the peer's certificate did not verify */
	CONN_TLS,		/* another TLS protocol failure */
};

static enum conn_result tls_handshake(struct priv *p, uint64_t deadline, char *why, size_t len)
{
	const struct syslog_conf *c = p->conf;
	const char *name = c->tls_server_name ? c->tls_server_name : p->url.host;

	p->ssl = SSL_new(p->ctx);
	if (!p->ssl || !SSL_set_fd(p->ssl, p->fd)) {
		snprintf(why, len, "out of memory");
		return CONN_RETRY;
	}
	/* RFC 6066: no IP literals in SNI */
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(p->ssl, name);
	if (c->tls_verify) {
		int ok = is_ip_literal(name) ?
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), name) :
			SSL_set1_host(p->ssl, name);

		if (!ok) {
			snprintf(why, len, "cannot set the name to verify: %s", name);
			return CONN_TLS;
		}
	}
	for (;;) {
		int r, e, saved;

		ERR_clear_error();
		errno = 0;
		r = SSL_connect(p->ssl);
		saved = errno;
		if (r == 1)
			return CONN_OK;
		e = SSL_get_error(p->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = wait_fd(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);

			if (w == 0) {
				snprintf(why, len, "TLS handshake timed out");
				return CONN_RETRY;
			}
			continue;
		}
		char reason[256];

		p->tls_failed = true;
		tls_reason(p->ssl, r, saved, reason, sizeof(reason));
		snprintf(why, len, "TLS handshake with %.200s failed: %.250s", p->peer, reason);
		if (SSL_get_verify_result(p->ssl) != X509_V_OK)
			return CONN_VERIFY;
		return e == SSL_ERROR_SSL ? CONN_TLS : CONN_RETRY;
	}
}

static void tune_tcp(struct priv *p)
{
	int one = 1;
	uint64_t ut = 2 * p->timeout_ns / 1000000;
	unsigned int ms = ut < 30000 ? 30000 : ut > UINT_MAX ? UINT_MAX : (unsigned int)ut;

	/* frames are already gathered into runs: do not hold a lone event */
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* a peer that vanished without a reset: give up on the connection */
	setsockopt(p->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/* A non-blocking connect to one address within the deadline: 0 or -errno. */
static int connect_addr(int fd, const struct sockaddr *sa, socklen_t salen, uint64_t deadline)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (!connect(fd, sa, salen))
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	if (wait_fd(fd, POLLOUT, deadline) <= 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
		return -errno;
	return -soerr;
}

static int open_local(struct priv *p, uint64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	strcpy(sa.sun_path, p->url.path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		p->fd = fd;
		p->stream = false;
		return 0;
	}
	rc = -errno;
	close(fd);
	if (rc != -EPROTOTYPE)
		return rc;
	/* a stream socket there: newline-terminated messages */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect_addr(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
	if (rc) {
		close(fd);
		return rc;
	}
	p->fd = fd;
	p->stream = true;
	return 0;
}

/* Connect (and handshake) within the timeout. */
static enum conn_result conn_open(struct priv *p, char *why, size_t len)
{
	uint64_t deadline = now_ns() + p->timeout_ns;
	int rc = -EHOSTUNREACH;

	if (p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX) {
		rc = open_local(p, deadline);
		if (rc) {
			snprintf(why, len, "cannot connect to %s: %s", p->peer, strerror(-rc));
			return CONN_RETRY;
		}
		return CONN_OK;
	}
	for (struct addrinfo *a = p->ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);

		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = p->url.transport == TS_SL_UDP ? (connect(fd, a->ai_addr, a->ai_addrlen) ?
						     -errno : 0)
						   : connect_addr(fd, a->ai_addr, a->ai_addrlen,
								  deadline);
		if (!rc) {
			p->fd = fd;
			break;
		}
		close(fd);
	}
	if (p->fd < 0) {
		snprintf(why, len, "cannot connect to %s: %s", p->peer, strerror(-rc));
		return CONN_RETRY;
	}
	if (p->url.transport == TS_SL_UDP)
		return CONN_OK;
	tune_tcp(p);
	if (p->url.transport == TS_SL_TLS) {
		enum conn_result r = tls_handshake(p, deadline, why, len);

		if (r != CONN_OK)
			conn_reset(p);
		return r;
	}
	return CONN_OK;
}

/* (Re)connect from a worker. One line when a disconnect or a failed
 * connect starts an outage; when it ends after failed attempts, one more. */
static bool ensure_conn(struct ts_output *o)
{
	struct priv *p = o->priv;
	char why[512];

	if (p->fd >= 0)
		return true;
	if (conn_open(p, why, sizeof(why)) != CONN_OK) {
		if (!p->outage)
			ts_output_log(o, "%s; will retry", why);
		p->outage = true;
		p->failed_connects++;
		snprintf(p->last_failure, sizeof(p->last_failure), "%s", why);
		return false;
	}
	if (p->failed_connects)
		ts_output_log(o, "%sconnected to %s after %u failed attempt%s (the last: %s)",
			      p->had_conn ? "re" : "", p->peer, p->failed_connects,
			      p->failed_connects == 1 ? "" : "s", p->last_failure);
	p->outage = false;
	p->failed_connects = 0;
	if (p->had_conn)
		atomic_fetch_add(&p->reconnects, 1);
	p->had_conn = true;
	return true;
}

/* Frames fully written on this connection that the peer had not yet
 * acknowledged when it broke: the ones whose end lies in the last `unacked`
 * bytes of the stream. */
static uint64_t frames_unacked(const struct priv *p, uint64_t unacked)
{
	uint64_t from, n = 0;

	if (!unacked)
		return 0;
	from = unacked >= p->conn_bytes ? 0 : p->conn_bytes - unacked;
	for (unsigned i = 0; i < p->ring_n; i++) {
		uint64_t end = p->ring[(p->ring_head + RING - 1 - i) % RING];

		if (end <= from)
			return n;
		n++;
	}
	/* older frames than the ring holds: estimate from their mean size */
	if (p->ring_n == RING) {
		uint64_t oldest = p->ring[p->ring_head % RING];
		uint64_t newest = p->ring[(p->ring_head + RING - 1) % RING];
		uint64_t mean = (newest - oldest) / (RING - 1);

		if (mean && oldest > from)
			n += (oldest - from + mean - 1) / mean;
	}
	return n;
}

/* The connection broke: count what may have been lost, say so, close. */
static void conn_broken(struct ts_output *o, const char *why)
{
	struct priv *p = o->priv;
	int outq = 0;
	uint64_t lost = 0;

	if (p->fd >= 0 && !ioctl(p->fd, SIOCOUTQ, &outq) && outq > 0)
		lost = frames_unacked(p, (uint64_t)outq);
	atomic_fetch_add(&p->maybe_lost, lost);
	if (lost)
		ts_output_log(o, "connection to %s lost (%s); %llu sent message%s may be lost "
			      "(%d bytes unacknowledged); reconnecting", p->peer, why,
			      (unsigned long long)lost, lost == 1 ? "" : "s", outq);
	else
		ts_output_log(o, "connection to %s lost (%s); reconnecting", p->peer, why);
	p->tls_failed = true;	/* no close_notify into a broken connection */
	conn_reset(p);
	p->outage = true;	/* said: a failed reconnect need not say more */
}

/* Did the peer close or reset an idle connection? Checked before writing
 * into it, so a restarted receiver costs a reconnect, not a lost run. */
static bool peer_gone(struct priv *p, const char **why)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLRDHUP };

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLERR | POLLHUP)) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		*why = soerr ? strerror(soerr) : "the peer closed the connection";
		return true;
	}
	if (pfd.revents & POLLRDHUP) {
		*why = "the peer closed the connection";
		return true;
	}
	return false;
}

/* Position in (b, from, n): resume, or start over on a new batch. */
static void sync_batch(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	uint64_t seq = b->recs[from].seq;

	if (p->b == b && p->b_seq == seq && p->next >= from && p->next <= from + n)
		return;
	if (p->out_done && p->out_done < p->out.len && p->fd >= 0) {
		/* the core gave up on a batch mid-frame (exit deadline): the
		 * frame can only be finished by ending the connection */
		conn_broken(o, "given up with a message half-sent");
	}
	p->out.len = p->out_done = 0;
	p->out_n = p->out_complete = 0;
	p->b = b;
	p->b_seq = seq;
	p->next = from;
}

/* One record's frame into p->msg: returns its length, or -EMSGSIZE. */
static int frame_of(struct priv *p, const struct ts_batch *b, uint32_t i, bool *truncated)
{
	const struct ts_rec *r = &b->recs[i];
	char prefix[12];
	size_t pl = 0;
	int n;

	if (p->octets)
		pl = 11;	/* room; moved down below */
	n = ts_sl_format(&p->fmt, r, b->data + r->off, r->len, p->msg + pl, p->msg_cap - pl - 1,
			 truncated);
	if (n < 0)
		return n;
	if (p->octets) {
		size_t k = ts_sl_octet_prefix(prefix, (size_t)n);

		memmove(p->msg + k, p->msg + pl, (size_t)n);
		memcpy(p->msg, prefix, k);
		return n + (int)k;
	}
	if (p->stream)
		p->msg[n++] = '\n';
	return n;
}

/* Gather frames from p->next into out, up to FILL_BYTES. */
static int fill(struct priv *p, const struct ts_batch *b, uint32_t end)
{
	p->out.len = p->out_done = 0;
	p->out_first = p->next;
	p->out_n = p->out_complete = 0;
	for (uint32_t i = p->next; i < end && p->out.len < FILL_BYTES; i++) {
		bool trunc = false;
		int n = frame_of(p, b, i, &trunc);

		if (p->out_n == p->frames_cap) {
			uint32_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
			struct frame *f = realloc(p->frames, sizeof(*f) * cap);

			if (!f)
				return -ENOMEM;
			p->frames = f;
			p->frames_cap = cap;
		}
		/* open() proved the worst header fits: this cannot fail, and if
		 * it did the record becomes an empty frame, not a stuck batch */
		if (n > 0 && ts_buf_append(&p->out, p->msg, (size_t)n))
			return -ENOMEM;
		p->frames[p->out_n].end = (uint32_t)p->out.len;
		p->frames[p->out_n].truncated = trunc;
		p->out_n++;
	}
	return 0;
}

/* The connection took r more bytes of out. */
static void advance(struct priv *p, size_t r)
{
	p->out_done += r;
	p->conn_bytes += r;
	while (p->out_complete < p->out_n && p->frames[p->out_complete].end <= p->out_done) {
		const struct frame *f = &p->frames[p->out_complete];
		uint32_t start = p->out_complete ? p->frames[p->out_complete - 1].end : 0;

		if (f->end > start) {
			p->ring[p->ring_head] = p->conn_bytes - (p->out_done - f->end);
			p->ring_head = (p->ring_head + 1) % RING;
			if (p->ring_n < RING)
				p->ring_n++;
			atomic_fetch_add(&p->sent, 1);
			if (f->truncated)
				atomic_fetch_add(&p->truncated, 1);
		}
		p->out_complete++;
	}
	p->next = p->out_first + p->out_complete;
}

/* Write the rest of out: 0 when all of it went, -ETIMEDOUT when nothing
 * moved for `timeout`, another -errno when the connection broke (why set). */
static int send_out(struct priv *p, const char **why, char *buf, size_t len)
{
	uint64_t deadline = now_ns() + p->timeout_ns;

	while (p->out_done < p->out.len) {
		size_t left = p->out.len - p->out_done;
		short ev = POLLOUT;

		if (p->ssl) {
			int k, e, saved;

			ERR_clear_error();
			errno = 0;
			k = SSL_write(p->ssl, p->out.p + p->out_done,
				      left > INT_MAX ? INT_MAX : (int)left);
			saved = errno;
			if (k > 0) {
				advance(p, (size_t)k);
				deadline = now_ns() + p->timeout_ns;
				continue;
			}
			e = SSL_get_error(p->ssl, k);
			if (e == SSL_ERROR_WANT_READ) {
				ev = POLLIN;
			} else if (e != SSL_ERROR_WANT_WRITE) {
				p->tls_failed = true;
				tls_reason(p->ssl, k, saved, buf, len);
				*why = buf;
				return -EPIPE;
			}
		} else {
			ssize_t k = send(p->fd, p->out.p + p->out_done, left,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (k > 0) {
				advance(p, (size_t)k);
				deadline = now_ns() + p->timeout_ns;
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno != EAGAIN) {
				*why = strerror(errno);
				return -errno;
			}
		}
		int w = wait_fd(p->fd, ev, deadline);

		if (w == 0)
			return -ETIMEDOUT;
		if (w < 0) {
			*why = strerror(-w);
			return w;
		}
	}
	return 0;
}

static enum ts_out_result write_dgram(struct ts_output *o, const struct ts_batch *b,
				      uint32_t end);

static enum ts_out_result write_stream(struct ts_output *o, const struct ts_batch *b,
				       uint32_t end)
{
	struct priv *p = o->priv;
	char buf[256];

	for (;;) {
		const char *why = NULL;
		int rc;

		if (p->out_done == p->out.len) {
			if (p->next >= end)
				return TS_OUT_OK;
			if (fill(p, b, end))
				return TS_OUT_RETRY;
			if (!p->out.len) {	/* only empty frames */
				advance(p, 0);
				continue;
			}
		}
		/* a receiver that restarted while we were idle */
		if (p->fd >= 0 && !p->out_done && peer_gone(p, &why))
			conn_broken(o, why);	/* out is refilled below */
		if (!ensure_conn(o))
			return TS_OUT_RETRY;
		if (!p->stream) {	/* a local socket that is a datagram one now */
			p->out.len = p->out_done = 0;
			p->out_n = p->out_complete = 0;
			return write_dgram(o, b, end);
		}
		if (!p->out.len && fill(p, b, end))
			return TS_OUT_RETRY;
		rc = send_out(p, &why, buf, sizeof(buf));
		if (rc == -ETIMEDOUT)
			return TS_OUT_RETRY;	/* same connection, same byte, later */
		if (rc) {
			conn_broken(o, why);
			return TS_OUT_RETRY;
		}
		p->out.len = p->out_done = 0;
		p->out_n = p->out_complete = 0;
	}
}

static enum ts_out_result write_dgram(struct ts_output *o, const struct ts_batch *b,
				      uint32_t end)
{
	struct priv *p = o->priv;

	while (p->next < end) {
		bool trunc = false;
		int n;
		ssize_t k;

		if (!ensure_conn(o))
			return TS_OUT_RETRY;
		if (p->stream)	/* the local socket turned out to be a stream one */
			return write_stream(o, b, end);
		n = frame_of(p, b, p->next, &trunc);
		if (n < 0) {	/* cannot happen after open()'s check: skip, not stall */
			p->next++;
			continue;
		}
		k = send(p->fd, p->msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k >= 0) {
			atomic_fetch_add(&p->sent, 1);
			if (trunc)
				atomic_fetch_add(&p->truncated, 1);
			p->next++;
			continue;
		}
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			if (wait_fd(p->fd, POLLOUT, now_ns() + p->timeout_ns) > 0)
				continue;
			return TS_OUT_RETRY;
		case ECONNREFUSED:
			if (p->url.transport == TS_SL_UDP) {
				uint64_t now = now_ns();

				/* the ICMP error of an earlier datagram: that one is gone.
				 * Said at most once a minute: a dead UDP receiver
				 * refuses every other datagram. */
				atomic_fetch_add(&p->maybe_lost, 1);
				p->refused++;
				if (!p->refused_logged_ns ||
				    now - p->refused_logged_ns > 60 * 1000000000ULL) {
					ts_output_log(o, "%s refused %llu message%s (nobody "
						      "listening?); will retry", p->peer,
						      (unsigned long long)p->refused,
						      p->refused == 1 ? "" : "s");
					p->refused_logged_ns = now;
					p->refused = 0;
				}
				return TS_OUT_RETRY;
			}
			/* the daemon's socket went away: connect again later */
			ts_output_log(o, "%s: %s; reconnecting", p->peer, strerror(errno));
			conn_reset(p);
			p->outage = true;
			return TS_OUT_RETRY;
		case ENOBUFS:
		case ENOMEM:
			return TS_OUT_RETRY;
		default:
			ts_output_log(o, "sending to %s failed: %s; reconnecting", p->peer,
				      strerror(errno));
			conn_reset(p);
			p->outage = true;
			return TS_OUT_RETRY;
		}
	}
	return TS_OUT_OK;
}

static enum ts_out_result syslog_write(struct ts_output *o, const struct ts_batch *b,
				       uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	enum ts_out_result r;

	if (!n)
		return TS_OUT_OK;
	sync_batch(o, b, from, n);
	r = p->stream ? write_stream(o, b, from + n) : write_dgram(o, b, from + n);
	if (r == TS_OUT_OK)
		p->b = NULL;
	return r;
}

static int readable(const char *key, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "tls.%s: cannot read %s: %s", key, path, strerror(errno));
		return -EINVAL;
	}
	close(fd);
	return 0;
}

static int tls_setup(struct priv *p, char *err, size_t errlen)
{
	const struct syslog_conf *c = p->conf;
	unsigned long e;
	int rc = 0;

	if ((c->tls_cert && !c->tls_key) || (!c->tls_cert && c->tls_key)) {
		snprintf(err, errlen, "tls: a client certificate needs both cert and key");
		return -EINVAL;
	}
	rc = rc ?: (c->tls_ca_file ? readable("ca_file", c->tls_ca_file, err, errlen) : 0);
	rc = rc ?: (c->tls_cert ? readable("cert", c->tls_cert, err, errlen) : 0);
	rc = rc ?: (c->tls_key ? readable("key", c->tls_key, err, errlen) : 0);
	if (rc)
		return rc;
	ERR_clear_error();
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx || !SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "cannot set up TLS: %s",
			 ERR_reason_error_string(ERR_peek_last_error()) ?: "out of memory");
		return -ENOMEM;
	}
	SSL_CTX_set_mode(p->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(p->ctx, c->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (c->tls_verify) {
		if (c->tls_ca_file ? !SSL_CTX_load_verify_locations(p->ctx, c->tls_ca_file, NULL)
				   : !SSL_CTX_set_default_verify_paths(p->ctx)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.ca_file: cannot load %s: %s",
				 c->tls_ca_file ? c->tls_ca_file : "the system's CA certificates",
				 ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
	}
	if (c->tls_cert) {
		if (!SSL_CTX_use_certificate_chain_file(p->ctx, c->tls_cert)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.cert: cannot load %s: %s", c->tls_cert,
				 ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
		if (!SSL_CTX_use_PrivateKey_file(p->ctx, c->tls_key, SSL_FILETYPE_PEM) ||
		    !SSL_CTX_check_private_key(p->ctx)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.key: cannot use %s with %s: %s", c->tls_key,
				 c->tls_cert, ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
	}
	return 0;
}

/* The worst record (hostile comm, longest addresses and type name, task
 * and source known) with the longest line must fit in max_message. */
static int check_fits(struct priv *p, char *err, size_t errlen)
{
	struct ts_rec r = { .time_ns = 1795686129123456789ULL };
	struct ts_sl_fmt wide = p->fmt;
	char line[4096], head[2048];
	bool trunc;
	int n;

	r.type = "retransmit";
	r.family = AF_INET6;
	r.flags = TS_REC_TASK | TS_REC_SADDR | TS_REC_NOTABLE;
	r.pid = UINT32_MAX;
	r.sport = r.dport = 65535;
	memset(r.comm, 0xff, TS_REC_COMM_LEN - 1);
	memset(r.saddr, 0xff, sizeof(r.saddr));
	memset(r.daddr, 0xff, sizeof(r.daddr));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	if (ts_sl_format(&p->fmt, &r, line, sizeof(line), p->msg, p->msg_cap, &trunc) >= 0)
		return 0;
	/* the same header with an empty MSG, plus the longest marker */
	wide.max_message = sizeof(head);
	n = ts_sl_format(&wide, &r, "\n", 1, head, sizeof(head), &trunc);
	snprintf(err, errlen, "max_message: %zu is too small here: with this hostname, app_name "
		 "and sd_id a header can take %d bytes, so at least %d", p->fmt.max_message, n,
		 n + (int)strlen(" truncated=\"4095\"") + 1);
	return -EINVAL;
}

static void syslog_free(struct priv *p)
{
	if (!p)
		return;
	conn_reset(p);
	SSL_CTX_free(p->ctx);
	if (p->ai)
		freeaddrinfo(p->ai);
	ts_buf_free(&p->out);
	free(p->frames);
	free(p->msg);
	free(p);
}

/* The first connection, at open, on the opening thread: block SIGPIPE
 * around it (the handshake writes, and the main program only ignores
 * SIGPIPE once outputs are open), and drop one that arrived meanwhile. */
static enum conn_result first_connect(struct priv *p, char *why, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	enum conn_result r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = conn_open(p, why, len);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int syslog_check(const void *conf, char *err, size_t errlen)
{
	const struct syslog_conf *c = conf;
	struct ts_sl_url u;

	return ts_sl_parse_url(c->url ? c->url : "syslog", &u, err, errlen) ? -EINVAL : 0;
}

static int syslog_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	const struct syslog_conf *c = conf;
	const char *url = c->url ? c->url : "syslog";
	struct priv *p = calloc(1, sizeof(*p));
	bool local;
	char why[512];
	int rc;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->conf = c;
	p->fd = -1;
	p->timeout_ns = c->timeout_ns;
	rc = ts_sl_parse_url(url, &p->url, err, errlen);
	if (rc)
		goto fail;
	local = p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX;
	p->stream = p->url.transport == TS_SL_TCP || p->url.transport == TS_SL_TLS;
	p->octets = p->stream;
	snprintf(o->name, sizeof(o->name), "%s", url);

	/* the message */
	if (c->format < 0)
		p->fmt.format = p->url.transport == TS_SL_LOCAL ? TS_SL_RFC3164_LOCAL : TS_SL_RFC5424;
	else if (c->format == 1)
		p->fmt.format = local ? TS_SL_RFC3164_LOCAL : TS_SL_RFC3164;
	else
		p->fmt.format = TS_SL_RFC5424;
	p->fmt.facility = facility_codes[c->facility];
	p->fmt.severity = (unsigned)c->severity;
	p->fmt.pid = o->run->pid;
	p->fmt.max_message = c->max_message ? c->max_message :
			     p->url.transport == TS_SL_UDP ? 2048 : 8192;
	if (p->url.transport == TS_SL_UDP && p->fmt.max_message > 65507) {
		snprintf(err, errlen, "max_message: %zu is more than a UDP datagram takes (65507)",
			 p->fmt.max_message);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(p->fmt.app_name, sizeof(p->fmt.app_name), "%s", "tcpship");
	if (c->app_name) {
		rc = ts_sl_check_app_name(c->app_name, p->fmt.format, err, errlen);
		if (rc)
			goto fail;
		snprintf(p->fmt.app_name, sizeof(p->fmt.app_name), "%s", c->app_name);
	}
	if (c->hostname) {
		rc = ts_sl_check_hostname(c->hostname, err, errlen);
		if (rc)
			goto fail;
		snprintf(p->fmt.hostname, sizeof(p->fmt.hostname), "%s", c->hostname);
	} else {
		ts_sl_sanitize_hostname(o->run->host, p->fmt.hostname);
	}
	snprintf(p->fmt.sd_id, sizeof(p->fmt.sd_id), "%s", TS_SL_DEFAULT_SD_ID);
	if (c->sd_id) {
		rc = ts_sl_check_sd_id(c->sd_id, err, errlen);
		if (rc)
			goto fail;
		snprintf(p->fmt.sd_id, sizeof(p->fmt.sd_id), "%s", c->sd_id);
	}
	p->msg_cap = p->fmt.max_message + 16;	/* + the octet count or newline */
	p->msg = malloc(p->msg_cap);
	if (!p->msg) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = check_fits(p, err, errlen);
	if (rc)
		goto fail;

	/* the transport */
	if (p->url.transport != TS_SL_TLS &&
	    (c->tls_ca_file || c->tls_cert || c->tls_key || c->tls_server_name || !c->tls_verify)) {
		snprintf(err, errlen, "tls: only for syslog+tls:// URLs");
		rc = -EINVAL;
		goto fail;
	}
	if (local) {
		snprintf(p->peer, sizeof(p->peer), "%s", p->url.path);
	} else {
		struct addrinfo hints = {
			.ai_socktype = p->url.transport == TS_SL_UDP ? SOCK_DGRAM : SOCK_STREAM,
			.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
		};
		char port[8];
		int g;

		snprintf(port, sizeof(port), "%u", p->url.port);
		snprintf(p->peer, sizeof(p->peer), strchr(p->url.host, ':') ? "[%s]:%u" : "%s:%u",
			 p->url.host, p->url.port);
		g = getaddrinfo(p->url.host, port, &hints, &p->ai);
		if (g == EAI_ADDRFAMILY || g == EAI_NONAME) {
			/* AI_ADDRCONFIG hides loopback-only families; try without */
			hints.ai_flags = AI_NUMERICSERV;
			g = getaddrinfo(p->url.host, port, &hints, &p->ai);
		}
		if (g) {
			snprintf(err, errlen, "cannot resolve %s: %s", p->url.host,
				 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
			rc = -EINVAL;
			goto fail;
		}
	}
	if (p->url.transport == TS_SL_TLS) {
		rc = tls_setup(p, err, errlen);
		if (rc)
			goto fail;
	}
	switch (first_connect(p, why, sizeof(why))) {
	case CONN_OK:
		p->had_conn = true;
		break;
	case CONN_VERIFY:
		snprintf(err, errlen, "%s", why);
		rc = -EACCES;
		goto fail;
	case CONN_TLS:
		snprintf(err, errlen, "%s", why);
		rc = -EPROTO;
		goto fail;
	case CONN_RETRY:
		o->priv = p;
		ts_output_log(o, "%s; will retry", why);
		p->outage = true;
		p->failed_connects = 1;
		snprintf(p->last_failure, sizeof(p->last_failure), "%s", why);
		break;
	}
	o->priv = p;
	return 0;
fail:
	syslog_free(p);
	o->priv = NULL;
	return rc;
}

/* At exit: give the receiver a moment (the timeout, at most a second) to
 * acknowledge what it was sent, and say what it did not. */
static void drain_at_close(struct ts_output *o)
{
	struct priv *p = o->priv;
	uint64_t wait = p->timeout_ns < 1000000000ULL ? p->timeout_ns : 1000000000ULL;
	uint64_t deadline = now_ns() + wait, lost;
	int outq = 0;

	if (p->fd < 0 || !p->stream)
		return;
	while (!ioctl(p->fd, SIOCOUTQ, &outq) && outq > 0 && now_ns() < deadline) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);	/* acknowledgements wake nothing we could poll */
	}
	if (outq <= 0 || !(lost = frames_unacked(p, (uint64_t)outq)))
		return;
	atomic_fetch_add(&p->maybe_lost, lost);
	ts_output_log(o, "closing with %llu sent message%s not acknowledged by %s (%d bytes); "
		      "they may be lost", (unsigned long long)lost, lost == 1 ? "" : "s", p->peer,
		      outq);
}

static void syslog_close(struct ts_output *o)
{
	if (o->priv)
		drain_at_close(o);
	syslog_free(o->priv);
	o->priv = NULL;
}

static int syslog_format(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			 uint32_t n, struct ts_buf *out)
{
	struct priv *p = o->priv;
	size_t cap = p->fmt.max_message + 16;
	char *m = malloc(cap);
	int rc = 0;

	if (!m)
		return -ENOMEM;
	for (uint32_t i = from; i < from + n && !rc; i++) {
		const struct ts_rec *r = &b->recs[i];
		char prefix[12];
		bool trunc;
		int len = ts_sl_format(&p->fmt, r, b->data + r->off, r->len, m, cap, &trunc);

		if (len < 0) {
			rc = len;
			break;
		}
		/* datagrams: one message per line here, the '\n' marks where
		 * one datagram ends and is not sent */
		if (p->octets)
			rc = ts_buf_append(out, prefix, ts_sl_octet_prefix(prefix, (size_t)len));
		rc = rc ?: ts_buf_append(out, m, (size_t)len);
		rc = rc ?: (p->octets ? 0 : ts_buf_append(out, "\n", 1));
	}
	free(m);
	return rc;
}

static int syslog_counters(struct ts_output *o, char *buf, size_t len)
{
	struct priv *p = o->priv;

	return snprintf(buf, len, "sent=%llu truncated=%llu reconnects=%llu maybe_lost=%llu",
			(unsigned long long)atomic_load(&p->sent),
			(unsigned long long)atomic_load(&p->truncated),
			(unsigned long long)atomic_load(&p->reconnects),
			(unsigned long long)atomic_load(&p->maybe_lost));
}

const struct ts_output_ops ts_output_syslog = {
	.type = "syslog",
	.match = syslog_match,
	.conf_size = sizeof(struct syslog_conf),
	.opts = syslog_opts,
	.conf_init = syslog_conf_init,
	.conf_spec = syslog_conf_spec,
	.check = syslog_check,
	.open = syslog_open,
	.write = syslog_write,
	.close = syslog_close,
	.format = syslog_format,
	.counters = syslog_counters,
	.default_drop_when_full = true,
};
