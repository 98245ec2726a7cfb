// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "encode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "tcpship.h"
#include "util.h"

static const char *const type_names[TS_TYPE_MAX] = {
	[TS_CONNECT] = "connect", [TS_ACCEPT] = "accept", [TS_CLOSE] = "close",
	[TS_RETRANSMIT] = "retransmit", [TS_SEND] = "send", [TS_RECV] = "recv",
	[TS_DNS] = "dns",
};

const char *ts_type_name(unsigned type)
{
	return type < TS_TYPE_MAX ? type_names[type] : NULL;
}

unsigned ts_type_from_name(const char *name)
{
	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (!strcmp(name, type_names[t]))
			return t;
	return 0;
}

size_t ts_json_escape(char *out, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char *o = out;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
			i++;
		} else {
			size_t len = ts_utf8_seq(s + i, n - i);

			if (len) {
				memcpy(o, s + i, len);
				o += len;
				i += len;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
				o += 3;
				i++;
			}
		}
	}
	return (size_t)(o - out);
}

void ts_enc_init(struct ts_enc *e, const char *host, const char *agent_id)
{
	size_t n = strnlen(host, 64);

	memset(e, 0, sizeof(*e));
	e->host_len = ts_json_escape(e->host, host, n);
	e->host[e->host_len] = 0;
	snprintf(e->agent_id, sizeof(e->agent_id), "%s", agent_id);
	e->cached_sec = -1;
}

/* ---- a writer with the room checked once, up front ---- */

struct w {
	char *p;
};

static inline void put(struct w *w, const char *s, size_t n)
{
	memcpy(w->p, s, n);
	w->p += n;
}

#define PUTS(w, lit) put(w, lit, sizeof(lit) - 1)

static inline void put_u64(struct w *w, uint64_t v)
{
	char tmp[20];
	int i = 20;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, tmp + i, 20 - i);
}

static inline void put_str(struct w *w, const char *s, size_t n)
{
	*w->p++ = '"';
	w->p += ts_json_escape(w->p, s, n);
	*w->p++ = '"';
}

static void put_addr(struct w *w, unsigned family, const uint8_t *a)
{
	if (family == TS_IPV4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*w->p++ = '.';
			put_u64(w, a[i]);
		}
	} else {
		char buf[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, a, buf, sizeof(buf));
		put(w, buf, strlen(buf));
	}
}

static inline void put_2(struct w *w, unsigned v)
{
	w->p[0] = (char)('0' + v / 10);
	w->p[1] = (char)('0' + v % 10);
	w->p += 2;
}

void ts_format_time(struct ts_enc *e, uint64_t time_ns, char out[32])
{
	int64_t sec = (int64_t)(time_ns / 1000000000ULL);
	uint64_t ns = time_ns % 1000000000ULL;
	struct w w = { out };

	if (sec != e->cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		struct w c = { e->cached_prefix };

		gmtime_r(&t, &tm);
		put_2(&c, (unsigned)(tm.tm_year + 1900) / 100);
		put_2(&c, (unsigned)(tm.tm_year + 1900) % 100);
		*c.p++ = '-';
		put_2(&c, (unsigned)tm.tm_mon + 1);
		*c.p++ = '-';
		put_2(&c, (unsigned)tm.tm_mday);
		*c.p++ = 'T';
		put_2(&c, (unsigned)tm.tm_hour);
		*c.p++ = ':';
		put_2(&c, (unsigned)tm.tm_min);
		*c.p++ = ':';
		put_2(&c, (unsigned)tm.tm_sec);
		e->cached_sec = sec;
	}
	put(&w, e->cached_prefix, 19);
	*w.p++ = '.';
	for (int i = 8; i >= 0; i--) {
		w.p[i] = (char)('0' + ns % 10);
		ns /= 10;
	}
	w.p += 9;
	*w.p++ = 'Z';
	*w.p = 0;
}

static size_t type_min_size(unsigned type)
{
	switch (type) {
	case TS_CONNECT:
	case TS_ACCEPT:
	case TS_CLOSE:
	case TS_RETRANSMIT:
	case TS_SEND:
	case TS_RECV:
		return sizeof(struct ts_event);
	case TS_DNS:
		return sizeof(struct ts_dns);
	}
	return 0;
}

static int check_rec(const void *rec, size_t size)
{
	const struct ts_hdr *h = rec;
	size_t need;

	if (size < sizeof(*h))
		return -EINVAL;
	need = type_min_size(h->type);
	if (!need || size < need || (h->family != TS_IPV4 && h->family != TS_IPV6) ||
	    (h->probe != TS_KPROBE && h->probe != TS_TRACEPOINT))
		return -EINVAL;
	return 0;
}

static const char *probe_name(unsigned probe)
{
	return probe == TS_KPROBE ? "kprobe" : "tracepoint";	/* check_rec() allows no other */
}

static void put_dns(struct w *w, const struct ts_dns *d)
{
	struct ts_dns_query q;
	char tbuf[12];
	size_t n = d->len < TS_DNS_MAX ? d->len : TS_DNS_MAX;

	if (!ts_dns_parse_query(d->payload, n, &q)) {
		const char *t = ts_dns_type_name(q.qtype, tbuf);

		PUTS(w, ",\"qname\":");
		put_str(w, q.qname, strlen(q.qname));
		PUTS(w, ",\"qtype\":\"");
		put(w, t, strlen(t));
		*w->p++ = '"';
	}
	PUTS(w, ",\"bytes\":");
	put_u64(w, d->total);
}

int ts_encode_json(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap)
{
	const struct ts_hdr *h = rec;
	const struct ts_event *ev = rec;
	struct w w = { out };
	const char *name;
	char tbuf[32];

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (check_rec(rec, size))
		return -EINVAL;
	name = type_names[h->type];

	ts_format_time(e, time_ns, tbuf);
	PUTS(&w, "{\"time\":\"");
	put(&w, tbuf, 30);
	PUTS(&w, "\",\"type\":\"");
	put(&w, name, strlen(name));
	PUTS(&w, "\",\"host\":\"");
	put(&w, e->host, e->host_len);
	PUTS(&w, "\",\"seq\":");
	put_u64(&w, seq);
	PUTS(&w, ",\"agent_id\":\"");
	put(&w, e->agent_id, strlen(e->agent_id));
	*w.p++ = '"';
	if (h->flags & TS_F_TASK) {
		PUTS(&w, ",\"pid\":");
		put_u64(&w, h->pid);
		PUTS(&w, ",\"tid\":");
		put_u64(&w, h->tid);
		PUTS(&w, ",\"uid\":");
		put_u64(&w, h->uid);
		PUTS(&w, ",\"comm\":");
		/* TASK_COMM_LEN is 16 with the NUL: never read the 16th byte */
		put_str(&w, h->comm, strnlen(h->comm, TS_COMM_LEN - 1));
	}
	if (h->family == TS_IPV4)
		PUTS(&w, ",\"family\":\"ipv4\"");
	else
		PUTS(&w, ",\"family\":\"ipv6\"");
	if (h->flags & TS_F_SADDR) {
		PUTS(&w, ",\"saddr\":\"");
		put_addr(&w, h->family, h->saddr);
		PUTS(&w, "\",\"sport\":");
		put_u64(&w, h->sport);
	}
	PUTS(&w, ",\"daddr\":\"");
	put_addr(&w, h->family, h->daddr);
	PUTS(&w, "\",\"dport\":");
	put_u64(&w, h->dport);
	PUTS(&w, ",\"probe\":\"");
	name = probe_name(h->probe);
	put(&w, name, strlen(name));
	*w.p++ = '"';

	switch (h->type) {
	case TS_CLOSE:
		if ((h->flags & TS_F_START) && (h->flags & TS_F_ACTIVE))
			PUTS(&w, ",\"direction\":\"outbound\"");
		else if (h->flags & TS_F_START)
			PUTS(&w, ",\"direction\":\"inbound\"");
		if (h->flags & TS_F_ESTABLISHED)
			PUTS(&w, ",\"established\":true");
		else
			PUTS(&w, ",\"established\":false");
		if (ev->close.error) {
			char ebuf[16];
			const char *en = ts_errno_name(ev->close.error, ebuf);

			PUTS(&w, ",\"error\":\"");
			put(&w, en, strlen(en));
			*w.p++ = '"';
		}
		if (h->flags & TS_F_START) {
			PUTS(&w, ",\"duration_ns\":");
			put_u64(&w, ev->close.duration_ns);
		}
		PUTS(&w, ",\"bytes_sent\":");
		put_u64(&w, ev->close.bytes_sent);
		PUTS(&w, ",\"bytes_received\":");
		put_u64(&w, ev->close.bytes_received);
		PUTS(&w, ",\"retransmits\":");
		put_u64(&w, ev->close.retransmits);
		break;
	case TS_RETRANSMIT:
		name = ts_tcp_state_name(h->state);
		if (name) {
			PUTS(&w, ",\"state\":\"");
			put(&w, name, strlen(name));
			*w.p++ = '"';
		}
		break;
	case TS_SEND:
	case TS_RECV:
		PUTS(&w, ",\"bytes\":");
		put_u64(&w, ev->io.bytes);
		if (h->flags & TS_F_LATENCY) {
			PUTS(&w, ",\"latency_ns\":");
			put_u64(&w, ev->io.latency_ns);
		}
		break;
	case TS_DNS:
		put_dns(&w, rec);
		break;
	}
	PUTS(&w, "}\n");
	return (int)(w.p - out);
}

/* ---- --format text ---- */

const char *ts_text_header(void)
{
	return "TIME         TYPE       PID     UID    COMM             "
	       "SOURCE                                          DESTINATION                                     DETAIL\n";
}

static void text_endpoint(char *buf, size_t n, unsigned family, const uint8_t *a, unsigned port,
			  bool known)
{
	char ip[INET6_ADDRSTRLEN];

	if (!known) {
		snprintf(buf, n, "-");
		return;
	}
	inet_ntop(family == TS_IPV4 ? AF_INET : AF_INET6, a, ip, sizeof(ip));
	snprintf(buf, n, family == TS_IPV4 ? "%s:%u" : "[%s]:%u", ip, port);
}

int ts_encode_text(struct ts_enc *e, const void *rec, size_t size, uint64_t time_ns,
		   char *out, size_t cap)
{
	const struct ts_hdr *h = rec;
	const struct ts_event *ev = rec;
	char tbuf[32], comm[TS_COMM_LEN], src[64], dst[64], pid[12] = "-", uid[12] = "-";
	char detail[1200] = "";
	int n;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (check_rec(rec, size))
		return -EINVAL;
	ts_format_time(e, time_ns, tbuf);
	/* a terminal gets no control bytes from a process name */
	snprintf(comm, sizeof(comm), "%s", (h->flags & TS_F_TASK) ? "" : "-");
	if (h->flags & TS_F_TASK) {
		size_t len = strnlen(h->comm, TS_COMM_LEN - 1);

		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)h->comm[i];

			comm[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
		}
		comm[len] = 0;
		snprintf(pid, sizeof(pid), "%u", h->pid);
		snprintf(uid, sizeof(uid), "%u", h->uid);
	}
	text_endpoint(src, sizeof(src), h->family, h->saddr, h->sport, h->flags & TS_F_SADDR);
	text_endpoint(dst, sizeof(dst), h->family, h->daddr, h->dport, true);

	switch (h->type) {
	case TS_CLOSE: {
		char ebuf[16], dur[32] = "";

		if (h->flags & TS_F_START)
			snprintf(dur, sizeof(dur), "dur=%.3fms ",
				 (double)ev->close.duration_ns / 1e6);
		snprintf(detail, sizeof(detail), "%stx=%llu rx=%llu retrans=%u%s%s%s", dur,
			 (unsigned long long)ev->close.bytes_sent,
			 (unsigned long long)ev->close.bytes_received, ev->close.retransmits,
			 (h->flags & TS_F_ESTABLISHED) ? "" : " not-established",
			 ev->close.error ? " err=" : "",
			 ev->close.error ? ts_errno_name(ev->close.error, ebuf) : "");
		break;
	}
	case TS_RETRANSMIT:
		snprintf(detail, sizeof(detail), "state=%s",
			 ts_tcp_state_name(h->state) ? ts_tcp_state_name(h->state) : "?");
		break;
	case TS_SEND:
	case TS_RECV:
		if (h->flags & TS_F_LATENCY)
			snprintf(detail, sizeof(detail), "bytes=%llu lat=%.3fms",
				 (unsigned long long)ev->io.bytes, (double)ev->io.latency_ns / 1e6);
		else
			snprintf(detail, sizeof(detail), "bytes=%llu",
				 (unsigned long long)ev->io.bytes);
		break;
	case TS_DNS: {
		const struct ts_dns *d = rec;
		struct ts_dns_query q;
		char qt[12];

		if (!ts_dns_parse_query(d->payload, d->len < TS_DNS_MAX ? d->len : TS_DNS_MAX, &q))
			snprintf(detail, sizeof(detail), "%s %s", ts_dns_type_name(q.qtype, qt),
				 q.qname);
		break;
	}
	}
	n = snprintf(out, cap, "%.12s %-10s %-7s %-6s %-16s %-47s %-47s %s\n", tbuf + 11,
		     type_names[h->type], pid, uid, comm, src, dst, detail);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}
