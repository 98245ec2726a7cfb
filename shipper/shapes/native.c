// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * native: tcpship's own JSON, the contract of schemas/event.schema.json.
 * Keys always in the same order; the writer places its own commas and
 * checks the room once, up front (TS_LINE_MAX bounds every line).
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "dns.h"
#include "ident.h"
#include "util.h"

/* ppid, then process_start and exe, and the cgroup's keys (both pre-rendered) */
static char *put_who(char *p, struct ts_enc *e, const struct ts_hdr *h)
{
	const struct ts_ident *id = e->id;

	p = TS_PUTS(p, ",\"ppid\":");
	p = ts_put_u64(p, h->ppid);
	if (!id)
		return p;
	if (id->proc_json)
		p = ts_put(p, id->proc_json, id->proc_json_len);
	if (id->cg)
		p = ts_put(p, id->cg->json, id->cg->json_len);
	return p;
}

/* time, type, host, seq, agent_id, the task, the endpoints, the probe */
static char *put_common(char *p, struct ts_enc *e, const struct ts_hdr *h, uint64_t seq,
			uint64_t time_ns)
{
	char tbuf[32];

	ts_format_time(e, time_ns, tbuf);
	p = TS_PUTS(p, "{\"time\":\"");
	p = ts_put(p, tbuf, 30);
	p = TS_PUT_KV(p, "\",\"type\":\"", ts_type_name(h->type));
	p = TS_PUTS(p, ",\"host\":\"");
	p = ts_put(p, e->host, e->host_len);
	p = TS_PUTS(p, "\",\"seq\":");
	p = ts_put_u64(p, seq);
	p = TS_PUT_KV(p, ",\"agent_id\":\"", e->agent_id);
	if (h->flags & TS_F_TASK) {
		p = TS_PUTS(p, ",\"pid\":");
		p = ts_put_u64(p, h->pid);
		p = TS_PUTS(p, ",\"tid\":");
		p = ts_put_u64(p, h->tid);
		p = TS_PUTS(p, ",\"uid\":");
		p = ts_put_u64(p, h->uid);
		p = TS_PUTS(p, ",\"comm\":");
		/* TASK_COMM_LEN is 16 with the NUL: never read the 16th byte */
		p = ts_put_jstr(p, h->comm, strnlen(h->comm, TS_COMM_LEN - 1));
		p = put_who(p, e, h);
	}
	if (h->flags & TS_F_NETNS) {
		p = TS_PUTS(p, ",\"netns\":");
		p = ts_put_u64(p, h->netns);
	}
	p = h->family == TS_IPV4 ? TS_PUTS(p, ",\"family\":\"ipv4\"")
				 : TS_PUTS(p, ",\"family\":\"ipv6\"");
	if (h->flags & TS_F_SADDR) {
		p = TS_PUTS(p, ",\"saddr\":\"");
		p = ts_put_addr(p, h->family, h->saddr);
		p = TS_PUTS(p, "\",\"sport\":");
		p = ts_put_u64(p, h->sport);
	}
	p = TS_PUTS(p, ",\"daddr\":\"");
	p = ts_put_addr(p, h->family, h->daddr);
	p = TS_PUTS(p, "\",\"dport\":");
	p = ts_put_u64(p, h->dport);
	if (e->id && e->id->dest_name) {
		p = TS_PUTS(p, ",\"dest_name\":");
		p = ts_put_jstr(p, e->id->dest_name, strlen(e->id->dest_name));
	}
	/* a flow's, not a call's: the schema has none on send/recv */
	if (e->id && e->id->community_id[0] && h->type != TS_SEND && h->type != TS_RECV)
		p = TS_PUT_KV(p, ",\"community_id\":\"", e->id->community_id);
	/* ts_rec_check() allows no other probe */
	return TS_PUT_KV(p, ",\"probe\":\"", h->probe == TS_KPROBE ? "kprobe" : "tracepoint");
}

static char *put_close(char *p, const struct ts_event *ev)
{
	const struct ts_hdr *h = &ev->h;

	if (h->flags & TS_F_START)
		p = (h->flags & TS_F_ACTIVE) ? TS_PUTS(p, ",\"direction\":\"outbound\"")
					     : TS_PUTS(p, ",\"direction\":\"inbound\"");
	p = (h->flags & TS_F_ESTABLISHED) ? TS_PUTS(p, ",\"established\":true")
					  : TS_PUTS(p, ",\"established\":false");
	if (ev->close.error) {
		char ebuf[16];

		p = TS_PUT_KV(p, ",\"error\":\"", ts_errno_name(ev->close.error, ebuf));
	}
	p = TS_PUT_KV(p, ",\"end_reason\":\"",
		      ts_end_reason(ev->close.error, ev->close.oldstate));
	if (h->flags & TS_F_START) {
		p = TS_PUTS(p, ",\"duration_ns\":");
		p = ts_put_u64(p, ev->close.duration_ns);
	}
	if (h->flags & TS_F_HANDSHAKE) {
		p = TS_PUTS(p, ",\"connect_latency_ns\":");
		p = ts_put_u64(p, ev->close.connect_latency_ns);
	}
	p = TS_PUTS(p, ",\"bytes_sent\":");
	p = ts_put_u64(p, ev->close.bytes_sent);
	p = TS_PUTS(p, ",\"bytes_received\":");
	p = ts_put_u64(p, ev->close.bytes_received);
	p = TS_PUTS(p, ",\"retransmits\":");
	return ts_put_u64(p, ev->close.retransmits);
}

/* A live flow's report: the totals as its close would give them now, and
 * what moved since its previous report. */
static char *put_flow(char *p, const struct ts_flow *f)
{
	const struct ts_hdr *h = &f->e.h;
	const char *state = ts_tcp_state_name(h->state);

	p = (h->flags & TS_F_ACTIVE) ? TS_PUTS(p, ",\"direction\":\"outbound\"")
				     : TS_PUTS(p, ",\"direction\":\"inbound\"");
	if (state)
		p = TS_PUT_KV(p, ",\"state\":\"", state);
	p = TS_PUT_KU(p, ",\"duration_ns\":", f->e.close.duration_ns);
	if (h->flags & TS_F_HANDSHAKE)
		p = TS_PUT_KU(p, ",\"connect_latency_ns\":", f->e.close.connect_latency_ns);
	p = TS_PUT_KU(p, ",\"bytes_sent\":", f->e.close.bytes_sent);
	p = TS_PUT_KU(p, ",\"bytes_received\":", f->e.close.bytes_received);
	p = TS_PUT_KU(p, ",\"retransmits\":", f->e.close.retransmits);
	p = TS_PUT_KU(p, ",\"bytes_sent_delta\":", f->bytes_sent_delta);
	p = TS_PUT_KU(p, ",\"bytes_received_delta\":", f->bytes_received_delta);
	return TS_PUT_KU(p, ",\"retransmits_delta\":", f->retransmits_delta);
}

static char *put_answers(char *p, const char *end, const struct ts_dns_response *r)
{
	bool cut = r->answers_truncated;
	char tbuf[12];

	p = TS_PUTS(p, ",\"answers\":[");
	for (int i = 0; i < r->n_answers; i++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (end - p < TS_ANSWER_ROOM) {
			cut = true;	/* the line stays whole and bounded */
			break;
		}
		if (i)
			*p++ = ',';
		p = TS_PUTS(p, "{\"name\":");
		p = ts_put_jstr(p, a->owner, strlen(a->owner));
		p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(a->type, tbuf));
		p = TS_PUT_KU(p, ",\"ttl\":", a->ttl);
		p = TS_PUTS(p, ",\"data\":");
		p = ts_put_answer_data(p, a);
		*p++ = '}';
	}
	*p++ = ']';
	if (cut)
		p = TS_PUTS(p, ",\"answers_truncated\":true");
	return p;
}

static char *put_dns(char *p, const char *end, const struct ts_dns *d)
{
	const struct ts_dns_response *r;
	struct ts_dns_query q;
	char tbuf[12];
	size_t n = d->len < TS_DNS_MAX ? d->len : TS_DNS_MAX;

	if (!(d->h.flags & TS_F_ANSWER)) {
		p = TS_PUTS(p, ",\"direction\":\"query\"");
		if (!ts_dns_parse_query(d->payload, n, &q)) {
			p = TS_PUT_KU(p, ",\"id\":", q.id);
			p = TS_PUTS(p, ",\"qname\":");
			p = ts_put_jstr(p, q.qname, strlen(q.qname));
			p = TS_PUT_KV(p, ",\"qtype\":\"", ts_dns_type_name(q.qtype, tbuf));
		}
		p = TS_PUTS(p, ",\"bytes\":");
		return ts_put_u64(p, d->total);
	}
	p = TS_PUTS(p, ",\"direction\":\"answer\"");
	r = ts_dns_response_of(d);
	if (r) {
		p = TS_PUT_KU(p, ",\"id\":", r->id);
		if (r->has_question) {
			p = TS_PUTS(p, ",\"qname\":");
			p = ts_put_jstr(p, r->qname, strlen(r->qname));
			p = TS_PUT_KV(p, ",\"qtype\":\"", ts_dns_type_name(r->qtype, tbuf));
		}
		p = TS_PUT_KV(p, ",\"rcode\":\"", ts_dns_rcode_name(r->rcode, tbuf));
		if (r->tc)
			p = TS_PUTS(p, ",\"tc\":true");
		p = put_answers(p, end, r);
	}
	if (d->h.flags & TS_F_LATENCY)
		p = TS_PUT_KU(p, ",\"latency_ns\":", d->latency_ns);
	p = TS_PUTS(p, ",\"bytes\":");
	return ts_put_u64(p, d->total);
}

int ts_encode_json(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap)
{
	const struct ts_hdr *h = rec;
	const struct ts_event *ev = rec;
	const char *state;
	char *p;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (ts_rec_check(rec, size))
		return -EINVAL;
	p = put_common(out, e, h, seq, time_ns);
	switch (h->type) {
	case TS_CONNECT:
	case TS_ACCEPT:
		if (h->flags & TS_F_HANDSHAKE) {
			p = TS_PUTS(p, ",\"connect_latency_ns\":");
			p = ts_put_u64(p, ev->close.connect_latency_ns);
		}
		break;
	case TS_CLOSE:
		p = put_close(p, ev);
		break;
	case TS_RETRANSMIT:
		state = ts_tcp_state_name(h->state);
		if (state)
			p = TS_PUT_KV(p, ",\"state\":\"", state);
		break;
	case TS_SEND:
	case TS_RECV:
		p = TS_PUTS(p, ",\"bytes\":");
		p = ts_put_u64(p, ev->io.bytes);
		if (h->flags & TS_F_LATENCY) {
			p = TS_PUTS(p, ",\"latency_ns\":");
			p = ts_put_u64(p, ev->io.latency_ns);
		}
		break;
	case TS_DNS:
		p = put_dns(p, out + TS_LINE_MAX - 64, rec);
		break;
	case TS_FLOW:
		p = put_flow(p, rec);
		break;
	}
	p = TS_PUTS(p, "}\n");
	return (int)(p - out);
}
