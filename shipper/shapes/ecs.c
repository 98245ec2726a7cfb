// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ecs: Elastic Common Schema 9.x documents, nested objects, one per line.
 *
 *   source / destination   the initiator and the responder (ECS's reading):
 *                          inbound flows have the remote end as source; where
 *                          the direction is not known, the local end.
 *   network.direction      the host's point of view: ingress / egress.
 *   event.outcome          accept: success; close: success, or failure with
 *                          error.code the errno's name; absent where the
 *                          event cannot know (a connect is a SYN sent).
 *   tcpship.*              what ECS has no field for (the hook, the netns,
 *                          the cgroup, TCP state, retransmits, ...).
 *
 * A value that is not known is absent, never empty. schemas/ has the index
 * template with ECS's types for every field written here.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "ident.h"
#include "util.h"

static char *put_event(char *p, const struct ts_view *v, uint64_t seq)
{
	const struct ts_hdr *h = v->h;

	p = TS_PUTS(p, ",\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\"type\":");
	switch (h->type) {
	case TS_CONNECT:
	case TS_ACCEPT:
		p = TS_PUTS(p, "[\"connection\",\"start\"]");
		break;
	case TS_CLOSE:
		p = TS_PUTS(p, "[\"connection\",\"end\"]");
		break;
	case TS_DNS:
		p = TS_PUTS(p, "[\"protocol\"]");
		break;
	default:	/* retransmit, send, recv: something of a connection */
		p = TS_PUTS(p, "[\"connection\",\"info\"]");
	}
	p = TS_PUT_KV(p, ",\"action\":\"", ts_type_name(h->type));
	if (h->type == TS_ACCEPT || h->type == TS_CLOSE)
		p = v->error ? TS_PUTS(p, ",\"outcome\":\"failure\"")
			     : TS_PUTS(p, ",\"outcome\":\"success\"");
	p = TS_PUT_KU(p, ",\"sequence\":", seq);
	if (v->has_duration)
		p = TS_PUT_KU(p, ",\"duration\":", v->duration_ns);
	p = TS_PUTS(p, ",\"severity\":");
	*p++ = (char)('1' + ts_view_severity(v));
	return TS_PUTS(p, ",\"module\":\"tcpship\",\"dataset\":\"tcpship.network\"}");
}

/* ,"source":{..} or ,"destination":{..}: one end, with the bytes it sent */
static char *put_end(char *p, const char *name_lit, size_t name_len, unsigned family,
		     const uint8_t *addr, unsigned port, bool has_bytes, uint64_t bytes,
		     const char *domain)
{
	p = ts_put(p, name_lit, name_len);
	p = TS_PUTS(p, "{\"ip\":\"");
	p = ts_put_addr(p, family, addr);
	p = TS_PUT_KU(p, "\",\"port\":", port);
	if (domain) {
		p = TS_PUTS(p, ",\"domain\":");
		p = ts_put_jstr(p, domain, strlen(domain));
	}
	if (has_bytes)
		p = TS_PUT_KU(p, ",\"bytes\":", bytes);
	*p++ = '}';
	return p;
}

/* remote_name: --dns-names' name of the remote address, or NULL */
static char *put_ends(char *p, const struct ts_view *v, const char *remote_name)
{
	const struct ts_hdr *h = v->h;
	/* src_local: the source sent what the local end sent */
	bool local_src = v->src_local;

	if (v->local_known)
		p = local_src ? put_end(p, ",\"source\":", 10, h->family, h->saddr, h->sport,
					v->has_out, v->out, NULL)
			      : put_end(p, ",\"destination\":", 15, h->family, h->saddr,
					h->sport, v->has_out, v->out, NULL);
	p = local_src ? put_end(p, ",\"destination\":", 15, h->family, h->daddr, h->dport,
				v->has_in, v->in, remote_name)
		      : put_end(p, ",\"source\":", 10, h->family, h->daddr, h->dport, v->has_in,
				v->in, remote_name);
	return p;
}

static char *put_network(char *p, const struct ts_enc *e, const struct ts_view *v)
{
	const struct ts_hdr *h = v->h;

	p = v->proto == 6 ? TS_PUTS(p, ",\"network\":{\"transport\":\"tcp\",\"iana_number\":\"6\"")
			  : TS_PUTS(p, ",\"network\":{\"transport\":\"udp\",\"iana_number\":\"17\"");
	p = h->family == TS_IPV4 ? TS_PUTS(p, ",\"type\":\"ipv4\"") : TS_PUTS(p, ",\"type\":\"ipv6\"");
	if (v->dir == TS_DIR_IN)
		p = TS_PUTS(p, ",\"direction\":\"ingress\"");
	else if (v->dir == TS_DIR_OUT)
		p = TS_PUTS(p, ",\"direction\":\"egress\"");
	if (h->type == TS_DNS)
		p = TS_PUTS(p, ",\"protocol\":\"dns\"");
	if (e->id && e->id->community_id[0])
		p = TS_PUT_KV(p, ",\"community_id\":\"", e->id->community_id);
	if (v->has_out || v->has_in)
		p = TS_PUT_KU(p, ",\"bytes\":", v->out + v->in);
	*p++ = '}';
	return p;
}

static char *put_process(char *p, const struct ts_enc *e, const struct ts_hdr *h)
{
	const struct ts_ident *id = e->id;

	p = TS_PUT_KU(p, ",\"process\":{\"pid\":", h->pid);
	p = TS_PUTS(p, ",\"name\":");
	/* TASK_COMM_LEN is 16 with the NUL: never read the 16th byte */
	p = ts_put_jstr(p, h->comm, strnlen(h->comm, TS_COMM_LEN - 1));
	p = TS_PUT_KU(p, ",\"thread\":{\"id\":", h->tid);
	p = TS_PUT_KU(p, "},\"parent\":{\"pid\":", h->ppid);
	*p++ = '}';
	if (id && id->exe) {
		p = TS_PUTS(p, ",\"executable\":\"");
		p = ts_put(p, id->exe_esc, id->exe_esc_len);
		*p++ = '"';
	}
	if (id && id->start_str) {
		p = TS_PUTS(p, ",\"start\":\"");
		p = ts_put(p, id->start_str, 30);
		*p++ = '"';
	}
	p = TS_PUT_KU(p, "},\"user\":{\"id\":\"", h->uid);
	return TS_PUTS(p, "\"}");
}

static char *put_container(char *p, const struct ts_cginfo *cg)
{
	if (cg->container_id) {
		p = TS_PUT_KV(p, ",\"container\":{\"id\":\"", cg->container_id);
		p = TS_PUT_OPT(p, ",\"runtime\":", cg->runtime);
		p = TS_PUT_OPT(p, ",\"name\":", cg->name);
		if (cg->image) {
			p = TS_PUTS(p, ",\"image\":{\"name\":");
			p = ts_put_jstr(p, cg->image, strlen(cg->image));
			*p++ = '}';
		}
		*p++ = '}';
	}
	if (cg->pod || cg->pod_uid || cg->pod_namespace) {
		p = TS_PUTS(p, ",\"orchestrator\":{\"type\":\"kubernetes\"");
		p = TS_PUT_OPT(p, ",\"namespace\":", cg->pod_namespace);
		p = TS_PUTS(p, ",\"resource\":{\"type\":\"pod\"");
		p = TS_PUT_OPT(p, ",\"name\":", cg->pod);
		p = TS_PUT_OPT(p, ",\"id\":", cg->pod_uid);
		p = TS_PUTS(p, "}}");
	}
	return p;
}

/* dns.answers and dns.resolved_ip of a response, bounded like the native
 * line's (shapes/native.c) */
static char *put_ecs_answers(char *p, const char *end, const struct ts_dns_response *r)
{
	char tbuf[12];
	int n = 0, ips = 0;

	if (!r->n_answers)
		return p;	/* ECS has no empty list */
	p = TS_PUTS(p, ",\"answers\":[");
	for (int i = 0; i < r->n_answers && end - p > TS_ANSWER_ROOM; i++, n++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (i)
			*p++ = ',';
		p = TS_PUTS(p, "{\"name\":");
		p = ts_put_jstr(p, a->owner, strlen(a->owner));
		p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(a->type, tbuf));
		p = TS_PUTS(p, ",\"class\":\"IN\"");
		p = TS_PUT_KU(p, ",\"ttl\":", a->ttl);
		p = TS_PUTS(p, ",\"data\":");
		p = ts_put_answer_data(p, a);
		*p++ = '}';
	}
	*p++ = ']';
	for (int i = 0; i < n; i++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (a->type == 5)
			continue;
		if (ips++)
			p = TS_PUTS(p, ",\"");
		else
			p = TS_PUTS(p, ",\"resolved_ip\":[\"");
		p = ts_put_addr(p, a->type == 1 ? TS_IPV4 : TS_IPV6, a->addr);
		*p++ = '"';
	}
	if (ips)
		*p++ = ']';
	return p;
}

static char *put_dns_answer(char *p, const char *end, const struct ts_view *v)
{
	const struct ts_dns_response *r = v->resp;
	char tbuf[12], idbuf[8];

	if (!r)
		return p;
	p = TS_PUTS(p, ",\"dns\":{\"type\":\"answer\",\"id\":\"");
	p = ts_put(p, idbuf, (size_t)(ts_put_u64(idbuf, r->id) - idbuf));
	p = TS_PUT_KV(p, "\",\"response_code\":\"", ts_dns_rcode_name(r->rcode, tbuf));
	if (r->aa || r->tc || r->ra) {
		const char *flags[3] = { r->aa ? "AA" : NULL, r->tc ? "TC" : NULL,
					 r->ra ? "RA" : NULL };
		bool first = true;

		p = TS_PUTS(p, ",\"header_flags\":[");
		for (int i = 0; i < 3; i++) {
			if (!flags[i])
				continue;
			if (!first)
				*p++ = ',';
			p = TS_PUT_KV(p, "\"", flags[i]);
			first = false;
		}
		*p++ = ']';
	}
	if (r->has_question) {
		p = TS_PUTS(p, ",\"question\":{\"name\":");
		p = ts_put_jstr(p, r->qname, strlen(r->qname));
		p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(r->qtype, tbuf));
		*p++ = '}';
	}
	p = put_ecs_answers(p, end, r);
	return TS_PUTS(p, "}");
}

static char *put_dns(char *p, const struct ts_view *v)
{
	char tbuf[12], idbuf[8];

	if (!v->has_query)
		return p;
	p = TS_PUTS(p, ",\"dns\":{\"type\":\"query\",\"id\":\"");
	p = ts_put(p, idbuf, (size_t)(ts_put_u64(idbuf, v->q.id) - idbuf));
	p = TS_PUTS(p, "\",\"question\":{\"name\":");
	p = ts_put_jstr(p, v->q.qname, strlen(v->q.qname));
	p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(v->q.qtype, tbuf));
	return TS_PUTS(p, "}}");
}

int ts_encode_ecs(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		  uint64_t time_ns, char *out, size_t cap)
{
	struct ts_view v;
	const struct ts_hdr *h = rec;
	const struct ts_cginfo *cg;
	char tbuf[32], ebuf[16];
	char *p = out;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (ts_view_of(rec, size, &v))
		return -EINVAL;
	cg = e->id ? e->id->cg : NULL;
	ts_format_time(e, time_ns, tbuf);
	p = TS_PUTS(p, "{\"@timestamp\":\"");
	p = ts_put(p, tbuf, 30);
	p = TS_PUTS(p, "\",\"ecs\":{\"version\":\"" TS_ECS_VERSION "\"}");
	p = put_event(p, &v, seq);
	if (v.error) {
		p = TS_PUT_KV(p, ",\"error\":{\"code\":\"", ts_errno_name(v.error, ebuf));
		*p++ = '}';
	}
	p = TS_PUT_KV(p, ",\"agent\":{\"type\":\"tcpship\",\"version\":\"", e->version);
	p = TS_PUT_KV(p, ",\"ephemeral_id\":\"", e->agent_id);
	p = TS_PUTS(p, "},\"host\":{\"name\":\"");
	p = ts_put(p, e->host, e->host_len);
	p = TS_PUTS(p, "\",\"hostname\":\"");
	p = ts_put(p, e->host, e->host_len);
	p = TS_PUTS(p, "\"}");
	p = put_ends(p, &v, e->id ? e->id->dest_name : NULL);
	p = put_network(p, e, &v);
	if (h->flags & TS_F_TASK)
		p = put_process(p, e, h);
	if (cg && cg->json_len)
		p = put_container(p, cg);
	if (h->type == TS_DNS)
		p = v.answer ? put_dns_answer(p, out + TS_LINE_MAX - 512, &v) : put_dns(p, &v);
	p = TS_PUTS(p, ",\"tcpship\":{");
	p = ts_put_own(p, e, &v);
	p = TS_PUTS(p, "}}\n");
	return (int)(p - out);
}
