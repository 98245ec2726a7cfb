// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* text: --format text, a table for people. A terminal gets no control
 * bytes from a process name. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "ident.h"
#include "shape.h"
#include "tcpship.h"
#include "util.h"

const char *ts_text_header(void)
{
	return ts_shapes[TS_SHAPE_TEXT].header;
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

/* Printable ASCII of s, at most cap - 1 bytes; a cut shows as '+'. */
static void text_safe(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++, n++) {
		unsigned char c = (unsigned char)*s;

		out[n] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (*s && n)
		out[n - 1] = '+';
	out[n] = 0;
}

/* the CONTAINER column: namespace/pod, else the container's short id,
 * else the host service's unit */
static void text_who(char *out, size_t cap, const struct ts_enc *e)
{
	const struct ts_cginfo *cg = e->id ? e->id->cg : NULL;
	char buf[600];

	if (!cg) {
		snprintf(out, cap, "-");
		return;
	}
	if (cg->pod)
		snprintf(buf, sizeof(buf), "%.250s/%.250s", cg->pod_namespace ? cg->pod_namespace : "",
			 cg->pod);
	else if (cg->container_id)
		snprintf(buf, sizeof(buf), "%.12s", cg->container_id);
	else
		snprintf(buf, sizeof(buf), "%.250s", cg->unit ? cg->unit : "-");
	text_safe(out, cap, buf);
}

int ts_encode_text(struct ts_enc *e, const void *rec, size_t size, uint64_t time_ns,
		   char *out, size_t cap)
{
	const struct ts_hdr *h = rec;
	const struct ts_event *ev = rec;
	char tbuf[32], comm[TS_COMM_LEN], src[64], dst[64], pid[12] = "-", uid[12] = "-";
	char detail[1200] = "", who[25] = "-";
	int n;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (ts_rec_check(rec, size))
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
		text_who(who, sizeof(who), e);
	}
	text_endpoint(src, sizeof(src), h->family, h->saddr, h->sport, h->flags & TS_F_SADDR);
	text_endpoint(dst, sizeof(dst), h->family, h->daddr, h->dport, true);

	switch (h->type) {
	case TS_CONNECT:
	case TS_ACCEPT:
		if (h->flags & TS_F_HANDSHAKE)
			snprintf(detail, sizeof(detail), "hs=%.3fms",
				 (double)ev->close.connect_latency_ns / 1e6);
		break;
	case TS_CLOSE: {
		char ebuf[16], dur[64] = "";

		if (h->flags & TS_F_START)
			snprintf(dur, sizeof(dur), "dur=%.3fms ",
				 (double)ev->close.duration_ns / 1e6);
		if (h->flags & TS_F_HANDSHAKE)
			snprintf(dur + strlen(dur), sizeof(dur) - strlen(dur), "hs=%.3fms ",
				 (double)ev->close.connect_latency_ns / 1e6);
		snprintf(detail, sizeof(detail), "%stx=%llu rx=%llu retrans=%u end=%s%s%s%s", dur,
			 (unsigned long long)ev->close.bytes_sent,
			 (unsigned long long)ev->close.bytes_received, ev->close.retransmits,
			 ts_end_reason(ev->close.error, ev->close.oldstate),
			 (h->flags & TS_F_ESTABLISHED) ? "" : " not-established",
			 ev->close.error ? " err=" : "",
			 ev->close.error ? ts_errno_name(ev->close.error, ebuf) : "");
		break;
	}
	case TS_FLOW: {
		const struct ts_flow *f = rec;

		snprintf(detail, sizeof(detail),
			 "dur=%.3fms tx=%llu(+%llu) rx=%llu(+%llu) retrans=%u(+%u) state=%s",
			 (double)ev->close.duration_ns / 1e6,
			 (unsigned long long)ev->close.bytes_sent,
			 (unsigned long long)f->bytes_sent_delta,
			 (unsigned long long)ev->close.bytes_received,
			 (unsigned long long)f->bytes_received_delta, ev->close.retransmits,
			 f->retransmits_delta,
			 ts_tcp_state_name(h->state) ? ts_tcp_state_name(h->state) : "?");
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
		const struct ts_dns_response *r;
		struct ts_dns_query q;
		char qt[12], rc[12];

		if (!(h->flags & TS_F_ANSWER)) {
			if (!ts_dns_parse_query(d->payload, d->len < TS_DNS_MAX ? d->len :
						TS_DNS_MAX, &q))
				snprintf(detail, sizeof(detail), "%s %s",
					 ts_dns_type_name(q.qtype, qt), q.qname);
		} else if ((r = ts_dns_response_of(d))) {
			snprintf(detail, sizeof(detail), "answer %s %s %s, %d record%s",
				 ts_dns_rcode_name(r->rcode, rc), ts_dns_type_name(r->qtype, qt),
				 r->has_question ? r->qname : "?", r->n_answers,
				 r->n_answers == 1 ? "" : "s");
		}
		break;
	}
	}
	n = snprintf(out, cap, "%.12s %-10s %-7s %-6s %-16s %-24s %-47s %-47s %s\n", tbuf + 11,
		     ts_type_name(h->type), pid, uid, comm, who, src, dst, detail);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}
