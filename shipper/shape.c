// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The table of shapes, and what every encoder shares. */
#include "shape.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "put.h"
#include "tcpship.h"

static int encode_text(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		       uint64_t time_ns, char *out, size_t cap)
{
	return ts_encode_text(e, rec, size, time_ns, out, cap);
}

/* Adding a shape: one file in shapes/ and one line here. */
const struct ts_shape ts_shapes[TS_SHAPE_MAX] = {
	[TS_SHAPE_NATIVE] = { "native", ts_encode_json, NULL },
	[TS_SHAPE_TEXT] = { "text", encode_text,
			    "TIME         TYPE       PID     UID    COMM             "
			    "CONTAINER                "
			    "SOURCE                                          "
			    "DESTINATION                                     DETAIL\n" },
	[TS_SHAPE_ECS] = { "ecs", ts_encode_ecs, NULL },
	[TS_SHAPE_OCSF] = { "ocsf", ts_encode_ocsf, NULL },
	[TS_SHAPE_CEF] = { "cef", ts_encode_cef, NULL },
};

int ts_shape_by_name(const char *name)
{
	for (int i = 0; i < TS_SHAPE_MAX; i++)
		if (!strcmp(ts_shapes[i].name, name))
			return i;
	return -1;
}

static const char *const type_names[TS_TYPE_MAX] = {
	[TS_CONNECT] = "connect", [TS_ACCEPT] = "accept", [TS_CLOSE] = "close",
	[TS_RETRANSMIT] = "retransmit", [TS_SEND] = "send", [TS_RECV] = "recv",
	[TS_DNS] = "dns", [TS_FLOW] = "flow",
};

const char *ts_type_name(unsigned type)
{
	return type < TS_TYPE_MAX ? type_names[type] : NULL;
}

const char *ts_type_intern(const char *name, size_t len)
{
	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (strlen(type_names[t]) == len && !memcmp(name, type_names[t], len))
			return type_names[t];
	return "unknown";
}

unsigned ts_type_from_name(const char *name)
{
	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (!strcmp(name, type_names[t]))
			return t;
	return 0;
}

void ts_enc_init(struct ts_enc *e, const char *host, const char *agent_id)
{
	size_t n = strnlen(host, 64);

	memset(e, 0, sizeof(*e));
	e->host_len = ts_json_escape(e->host, host, n);
	e->host[e->host_len] = 0;
	snprintf(e->agent_id, sizeof(e->agent_id), "%s", agent_id);
	e->host_cef[ts_cef_escape(e->host_cef, host, n)] = 0;
	e->version = TCPSHIP_VERSION;
	e->tc.sec = -1;
}

static inline char *put_2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

void ts_format_time(struct ts_enc *e, uint64_t time_ns, char out[32])
{
	ts_format_time_in(&e->tc, time_ns, out);
}

void ts_format_time_in(struct ts_tcache *tc, uint64_t time_ns, char out[32])
{
	int64_t sec = (int64_t)(time_ns / 1000000000ULL);
	uint64_t ns = time_ns % 1000000000ULL;
	char *p = out;

	if (sec != tc->sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		char *c = tc->prefix;

		gmtime_r(&t, &tm);
		c = put_2(c, (unsigned)(tm.tm_year + 1900) / 100);
		c = put_2(c, (unsigned)(tm.tm_year + 1900) % 100);
		*c++ = '-';
		c = put_2(c, (unsigned)tm.tm_mon + 1);
		*c++ = '-';
		c = put_2(c, (unsigned)tm.tm_mday);
		*c++ = 'T';
		c = put_2(c, (unsigned)tm.tm_hour);
		*c++ = ':';
		c = put_2(c, (unsigned)tm.tm_min);
		*c++ = ':';
		c = put_2(c, (unsigned)tm.tm_sec);
		tc->sec = sec;
	}
	p = ts_put(p, tc->prefix, 19);
	*p++ = '.';
	for (int i = 8; i >= 0; i--) {
		p[i] = (char)('0' + ns % 10);
		ns /= 10;
	}
	p += 9;
	*p++ = 'Z';
	*p = 0;
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
	case TS_FLOW:
		return sizeof(struct ts_flow);
	}
	return 0;
}

int ts_rec_check(const void *rec, size_t size)
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


const struct ts_dns_response *ts_dns_response_of(const struct ts_dns *d)
{
	/* 36 KB: per thread, not on its stack; the bytes parsed last are
	 * kept, so each shape of one record does not parse it again */
	static __thread struct ts_dns_response r;
	static __thread struct { size_t n; bool ok; uint8_t payload[TS_DNS_MAX]; } last;
	size_t n = d->len < TS_DNS_MAX ? d->len : TS_DNS_MAX;

	if (!n || last.n != n || memcmp(last.payload, d->payload, n)) {
		last.n = n;
		memcpy(last.payload, d->payload, n);
		last.ok = !ts_dns_parse_response(d->payload, n, &r);
	}
	return last.ok ? &r : NULL;
}

int ts_view_of(const void *rec, size_t size, struct ts_view *v)
{
	const struct ts_hdr *h = rec;
	const struct ts_event *ev = rec;

	if (ts_rec_check(rec, size))
		return -EINVAL;
	memset(v, 0, offsetof(struct ts_view, q));
	v->h = h;
	v->local_known = h->flags & TS_F_SADDR;
	v->proto = h->type == TS_DNS ? 17 : 6;
	if ((h->flags & TS_F_HANDSHAKE) && h->type != TS_DNS) {
		v->has_handshake = true;
		v->handshake_ns = ev->close.connect_latency_ns;
	}
	switch (h->type) {
	case TS_CONNECT:
		v->dir = TS_DIR_OUT;
		break;
	case TS_ACCEPT:
		v->dir = TS_DIR_IN;
		break;
	case TS_FLOW:
		/* the totals so far, as a close would say them now (its flags
		 * say START and ESTABLISHED, its error is 0) */
		v->flow = rec;
		__attribute__((fallthrough));
	case TS_CLOSE:
		if (h->flags & TS_F_START) {
			v->dir = (h->flags & TS_F_ACTIVE) ? TS_DIR_OUT : TS_DIR_IN;
			v->has_duration = true;
			v->duration_ns = ev->close.duration_ns;
		}
		v->has_out = v->has_in = true;
		v->out = ev->close.bytes_sent;
		v->in = ev->close.bytes_received;
		v->error = ev->close.error;
		v->established = h->flags & TS_F_ESTABLISHED;
		break;
	case TS_SEND:
		v->has_out = true;
		v->out = ev->io.bytes;
		break;
	case TS_RECV:
		v->has_in = true;
		v->in = ev->io.bytes;
		break;
	case TS_DNS: {
		const struct ts_dns *d = rec;

		v->dir = TS_DIR_OUT;	/* an answer too: this end asked */
		if (h->flags & TS_F_ANSWER) {
			v->answer = true;
			v->has_in = true;
			v->in = d->total;
			v->resp = ts_dns_response_of(d);
			/* the event's duration: its query's way there and back */
			v->has_duration = h->flags & TS_F_LATENCY;
			v->duration_ns = d->latency_ns;
			break;
		}
		v->has_out = true;
		v->out = d->total;
		v->has_query = !ts_dns_parse_query(d->payload, d->len < TS_DNS_MAX ? d->len :
						   TS_DNS_MAX, &v->q);
		break;
	}
	}
	if (h->type != TS_DNS)
		v->ev = ev;
	v->src_local = v->dir != TS_DIR_IN;
	return 0;
}

int ts_view_severity(const struct ts_view *v)
{
	if (v->error)
		return 2;
	return v->h->type == TS_RETRANSMIT ? 1 : 0;
}
