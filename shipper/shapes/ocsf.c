// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ocsf: OCSF 1.8.0 events, one JSON object per line.
 *
 *   Network Activity (4001)   connect, accept: 1 Open. close: 2 Close;
 *                             5 Refuse for ECONNREFUSED; 4 Fail for any other
 *                             error (timeouts, resets, unreachable). send,
 *                             recv: 6 Traffic. flow: 6 Traffic, traffic the
 *                             deltas, cumulative_traffic the totals. retransmit: 99 Other,
 *                             activity_name "Retransmit" (no activity of the
 *                             class says it), severity Low.
 *   DNS Activity (4003)       dns: 1 Query, query.hostname / type /
 *                             packet_uid (the DNS id).
 *
 * src_endpoint is the initiator, dst_endpoint the responder;
 * is_src_dst_assignment_known says whether that is known (else src is the
 * local end). traffic.bytes_out is what the source sent, bytes_in what it
 * got back (an accepting server's close: bytes_out is what it received).
 * The process is actor.process (the host profile), the host the device;
 * container facts go in actor.process.container (the container profile).
 * What the class does not define goes in unmapped. Times are epoch
 * milliseconds, as OCSF's timestamp_t.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "ident.h"
#include "util.h"

#define NS_PER_MS 1000000ULL

struct activity {
	unsigned cls, id;
	const char *name;
};

static struct activity activity_of(const struct ts_view *v)
{
	switch (v->h->type) {
	case TS_CONNECT:
	case TS_ACCEPT:
		return (struct activity){ 4001, 1, "Open" };
	case TS_CLOSE:
		if (!v->error)
			return (struct activity){ 4001, 2, "Close" };
		if (v->error == ECONNREFUSED)
			return (struct activity){ 4001, 5, "Refuse" };
		return (struct activity){ 4001, 4, "Fail" };
	case TS_SEND:
	case TS_RECV:
	case TS_FLOW:
		return (struct activity){ 4001, 6, "Traffic" };
	case TS_DNS:
		return v->answer ? (struct activity){ 4003, 2, "Response" }
				 : (struct activity){ 4003, 1, "Query" };
	}
	return (struct activity){ 4001, 99, "Retransmit" };
}

static const char *const severity_names[] = { "Informational", "Low", "Medium" };

static char *put_head(char *p, const struct ts_view *v, uint64_t time_ns)
{
	struct activity a = activity_of(v);
	const char *cname = a.cls == 4001 ? "Network Activity" : "DNS Activity";
	int sev = ts_view_severity(v);

	p = TS_PUT_KU(p, "{\"time\":", time_ns / NS_PER_MS);
	p = TS_PUT_KU(p, ",\"class_uid\":", a.cls);
	p = TS_PUT_KV(p, ",\"class_name\":\"", cname);
	p = TS_PUTS(p, ",\"category_uid\":4,\"category_name\":\"Network Activity\"");
	p = TS_PUT_KU(p, ",\"activity_id\":", a.id);
	p = TS_PUT_KV(p, ",\"activity_name\":\"", a.name);
	p = TS_PUT_KU(p, ",\"type_uid\":", a.cls * 100 + a.id);
	/* type_name is the caption of type_uid: "Other" for 99, whatever the
	 * activity_name says (the OCSF server wants the enum's caption there) */
	p = TS_PUT_KV(p, ",\"type_name\":\"", cname);
	p = ts_put(p - 1, ": ", 2);
	p = a.id == 99 ? TS_PUTS(p, "Other") : ts_put(p, a.name, strlen(a.name));
	*p++ = '"';
	p = TS_PUT_KU(p, ",\"severity_id\":", (unsigned)sev + 1);
	return TS_PUT_KV(p, ",\"severity\":\"", severity_names[sev]);
}

static char *put_status(char *p, const struct ts_view *v)
{
	char ebuf[16];

	if (v->h->type != TS_CLOSE && v->h->type != TS_ACCEPT)
		return p;
	if (!v->error)
		return TS_PUTS(p, ",\"status_id\":1,\"status\":\"Success\"");
	p = TS_PUTS(p, ",\"status_id\":2,\"status\":\"Failure\"");
	return TS_PUT_KV(p, ",\"status_code\":\"", ts_errno_name(v->error, ebuf));
}

static char *put_metadata(char *p, const struct ts_enc *e, uint64_t seq, bool container)
{
	p = TS_PUTS(p, ",\"metadata\":{\"version\":\"" TS_OCSF_VERSION "\",\"product\":"
		    "{\"name\":\"tcpship\",\"vendor_name\":\"tcpship\"");
	p = TS_PUT_KV(p, ",\"version\":\"", e->version);
	*p++ = '}';
	p = TS_PUT_KV(p, ",\"uid\":\"", e->agent_id);
	p = ts_put(p - 1, "-", 1);
	p = ts_put_u64(p, seq);
	*p++ = '"';
	p = TS_PUT_KU(p, ",\"sequence\":", seq);
	p = container ? TS_PUTS(p, ",\"profiles\":[\"host\",\"container\"]")
		      : TS_PUTS(p, ",\"profiles\":[\"host\"]");
	return TS_PUTS(p, ",\"log_name\":\"tcpship\"}");
}

static char *put_endpoint(char *p, const char *lit, size_t len, unsigned family,
			  const uint8_t *a, unsigned port, const char *domain)
{
	p = ts_put(p, lit, len);
	p = TS_PUTS(p, "{\"ip\":\"");
	p = ts_put_addr(p, family, a);
	p = TS_PUT_KU(p, "\",\"port\":", port);
	if (domain) {
		p = TS_PUTS(p, ",\"domain\":");
		p = ts_put_jstr(p, domain, strlen(domain));
	}
	*p++ = '}';
	return p;
}

/* remote_name: --dns-names' name of the remote address, or NULL */
static char *put_endpoints(char *p, const struct ts_view *v, const char *remote_name)
{
	const struct ts_hdr *h = v->h;
	const char *src = ",\"src_endpoint\":", *dst = ",\"dst_endpoint\":";

	if (v->local_known) {
		if (v->src_local)
			p = put_endpoint(p, src, 16, h->family, h->saddr, h->sport, NULL);
		else
			p = put_endpoint(p, dst, 16, h->family, h->saddr, h->sport, NULL);
	}
	return v->src_local ? put_endpoint(p, dst, 16, h->family, h->daddr, h->dport, remote_name)
			    : put_endpoint(p, src, 16, h->family, h->daddr, h->dport, remote_name);
}

static char *put_connection(char *p, const struct ts_enc *e, const struct ts_view *v)
{
	p = v->proto == 6 ? TS_PUTS(p, ",\"connection_info\":{\"protocol_num\":6,"
				    "\"protocol_name\":\"tcp\"")
			  : TS_PUTS(p, ",\"connection_info\":{\"protocol_num\":17,"
				    "\"protocol_name\":\"udp\"");
	p = v->h->family == TS_IPV4 ? TS_PUTS(p, ",\"protocol_ver_id\":4")
				    : TS_PUTS(p, ",\"protocol_ver_id\":6");
	if (v->dir == TS_DIR_IN)
		p = TS_PUTS(p, ",\"direction_id\":1,\"direction\":\"Inbound\"");
	else if (v->dir == TS_DIR_OUT)
		p = TS_PUTS(p, ",\"direction_id\":2,\"direction\":\"Outbound\"");
	else
		p = TS_PUTS(p, ",\"direction_id\":0,\"direction\":\"Unknown\"");
	if (e->id && e->id->community_id[0])
		p = TS_PUT_KV(p, ",\"community_uid\":\"", e->id->community_id);
	*p++ = '}';
	return p;
}

/* OCSF's network_traffic: bytes_out is what the source (src_endpoint, the
 * initiator) sent to the destination, bytes_in what came back. lit names
 * the object (traffic, or cumulative_traffic); out and in are the local
 * end's. */
static char *put_traffic_as(char *p, const char *lit, size_t len, const struct ts_view *v,
			    uint64_t out, uint64_t in)
{
	bool has_src = v->src_local ? v->has_out : v->has_in;
	bool has_dst = v->src_local ? v->has_in : v->has_out;

	if (!v->has_out && !v->has_in)
		return p;
	p = ts_put(p, lit, len);
	p = TS_PUT_KU(p, "{\"bytes\":", out + in);
	if (has_src)
		p = TS_PUT_KU(p, ",\"bytes_out\":", v->src_local ? out : in);
	if (has_dst)
		p = TS_PUT_KU(p, ",\"bytes_in\":", v->src_local ? in : out);
	*p++ = '}';
	return p;
}

/* A flow report's traffic is what moved since the last one, and its
 * cumulative_traffic the totals (as OCSF 1.8 asks of a report that gives
 * both); every other event's traffic is its own. */
static char *put_traffic(char *p, const struct ts_view *v)
{
	static const char traffic[] = ",\"traffic\":", total[] = ",\"cumulative_traffic\":";

	if (!v->flow)
		return put_traffic_as(p, traffic, sizeof(traffic) - 1, v, v->out, v->in);
	p = put_traffic_as(p, traffic, sizeof(traffic) - 1, v, v->flow->bytes_sent_delta,
			   v->flow->bytes_received_delta);
	return put_traffic_as(p, total, sizeof(total) - 1, v, v->out, v->in);
}

/* 8-4-4-4-12 hex: what uuid_t takes (a pod uid from a cgroup path is one) */
static bool is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[36] == 0;
}

static char *put_container(char *p, const struct ts_cginfo *cg)
{
	p = TS_PUT_KV(p, ",\"container\":{\"uid\":\"", cg->container_id);
	p = TS_PUT_OPT(p, ",\"name\":", cg->name);
	p = TS_PUT_OPT(p, ",\"runtime\":", cg->runtime);
	if (cg->pod || cg->pod_uid || cg->pod_namespace)
		p = TS_PUTS(p, ",\"orchestrator\":\"kubernetes\"");
	if (cg->pod_uid && is_uuid(cg->pod_uid))
		p = TS_PUT_KV(p, ",\"pod_uuid\":\"", cg->pod_uid);
	*p++ = '}';
	return p;
}

static char *put_actor(char *p, const struct ts_enc *e, const struct ts_hdr *h,
		       const struct ts_cginfo *cg)
{
	const struct ts_ident *id = e->id;

	p = TS_PUT_KU(p, ",\"actor\":{\"process\":{\"pid\":", h->pid);
	p = TS_PUTS(p, ",\"name\":");
	p = ts_put_jstr(p, h->comm, strnlen(h->comm, TS_COMM_LEN - 1));
	p = TS_PUT_KU(p, ",\"tid\":", h->tid);
	if (id && id->start_wall_ns && id->start_str)
		p = TS_PUT_KU(p, ",\"created_time\":", id->start_wall_ns / NS_PER_MS);
	if (id && id->exe) {
		const char *slash = strrchr(id->exe, '/');
		const char *base = slash ? slash + 1 : id->exe;

		p = TS_PUTS(p, ",\"file\":{\"type_id\":8,\"type\":\"Executable File\"");
		if (*base) {
			p = TS_PUTS(p, ",\"name\":");
			p = ts_put_jstr(p, base, strlen(base));
		}
		p = TS_PUTS(p, ",\"path\":\"");
		p = ts_put(p, id->exe_esc, id->exe_esc_len);
		p = TS_PUTS(p, "\"}");
	}
	p = TS_PUT_KU(p, ",\"parent_process\":{\"pid\":", h->ppid);
	p = TS_PUT_KU(p, "},\"user\":{\"uid\":\"", h->uid);
	*p++ = '"';
	*p++ = '}';
	if (cg)
		p = put_container(p, cg);
	return TS_PUTS(p, "}}");
}

/* OCSF's rcode_id enum is the RCODE itself for 0..10 */
static const char *const rcode_captions[] = { "NoError", "FormError", "ServError", "NXDomain",
	"NotImp", "Refused", "YXDomain", "YXRRSet", "NXRRSet", "NotAuth", "NotZone" };

static char *put_response(char *p, const char *end, const struct ts_view *v)
{
	const struct ts_dns_response *r = v->resp;
	char tbuf[12];

	if (!r)
		return p;
	if (r->has_question) {
		p = TS_PUTS(p, ",\"query\":{\"hostname\":");
		p = ts_put_jstr(p, r->qname, strlen(r->qname));
		p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(r->qtype, tbuf));
		p = TS_PUT_KU(p, ",\"packet_uid\":", r->id);
		*p++ = '}';
	}
	if (r->rcode < sizeof(rcode_captions) / sizeof(rcode_captions[0])) {
		p = TS_PUT_KU(p, ",\"rcode_id\":", r->rcode);
		p = TS_PUT_KV(p, ",\"rcode\":\"", rcode_captions[r->rcode]);
	} else {
		p = TS_PUTS(p, ",\"rcode_id\":99");
		p = TS_PUT_KV(p, ",\"rcode\":\"", ts_dns_rcode_name(r->rcode, tbuf));
	}
	if (!r->n_answers)
		return p;
	p = TS_PUTS(p, ",\"answers\":[");
	for (int i = 0; i < r->n_answers && end - p > TS_ANSWER_ROOM; i++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (i)
			*p++ = ',';
		p = TS_PUTS(p, "{\"rdata\":");
		p = ts_put_answer_data(p, a);
		p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(a->type, tbuf));
		p = TS_PUTS(p, ",\"class\":\"IN\"");
		p = TS_PUT_KU(p, ",\"ttl\":", a->ttl);
		p = TS_PUT_KU(p, ",\"packet_uid\":", r->id);
		*p++ = '}';
	}
	*p++ = ']';
	return p;
}

static char *put_query(char *p, const struct ts_view *v)
{
	char tbuf[12];

	if (!v->has_query)
		return p;
	p = TS_PUTS(p, ",\"query\":{\"hostname\":");
	p = ts_put_jstr(p, v->q.qname, strlen(v->q.qname));
	p = TS_PUT_KV(p, ",\"type\":\"", ts_dns_type_name(v->q.qtype, tbuf));
	p = TS_PUT_KU(p, ",\"packet_uid\":", v->q.id);
	*p++ = '}';
	return p;
}

int ts_encode_ocsf(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap)
{
	struct ts_view v;
	const struct ts_hdr *h = rec;
	const struct ts_cginfo *cg;
	char *p = out;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (ts_view_of(rec, size, &v))
		return -EINVAL;
	cg = e->id && (h->flags & TS_F_TASK) ? e->id->cg : NULL;
	if (cg && !cg->json_len)
		cg = NULL;	/* too long for a line: left out in every shape */
	p = put_head(p, &v, time_ns);
	p = put_status(p, &v);
	if (v.has_duration) {
		uint64_t end_ms = time_ns / NS_PER_MS;
		uint64_t dur_ms = v.duration_ns / NS_PER_MS;

		p = TS_PUT_KU(p, ",\"duration\":", dur_ms);
		p = TS_PUT_KU(p, ",\"start_time\":", end_ms >= dur_ms ? end_ms - dur_ms : 0);
		p = TS_PUT_KU(p, ",\"end_time\":", end_ms);
	}
	p = put_metadata(p, e, seq, cg && cg->container_id);
	p = put_endpoints(p, &v, e->id ? e->id->dest_name : NULL);
	if (h->type != TS_DNS)
		p = v.dir == TS_DIR_UNKNOWN ? TS_PUTS(p, ",\"is_src_dst_assignment_known\":false")
					    : TS_PUTS(p, ",\"is_src_dst_assignment_known\":true");
	p = put_connection(p, e, &v);
	p = put_traffic(p, &v);
	if (h->flags & TS_F_TASK)
		p = put_actor(p, e, h, cg && cg->container_id ? cg : NULL);
	p = TS_PUTS(p, ",\"device\":{\"hostname\":\"");
	p = ts_put(p, e->host, e->host_len);
	p = TS_PUTS(p, "\",\"type_id\":0,\"type\":\"Unknown\"}");
	if (h->type == TS_DNS)
		p = v.answer ? put_response(p, out + TS_LINE_MAX - 512, &v) : put_query(p, &v);
	p = TS_PUTS(p, ",\"unmapped\":{");
	p = ts_put_own(p, e, &v);
	if (cg) {
		p = TS_PUT_OPT(p, ",\"image\":", cg->image);
		p = TS_PUT_OPT(p, ",\"pod\":", cg->pod);
		p = TS_PUT_OPT(p, ",\"pod_namespace\":", cg->pod_namespace);
		if (cg->pod_uid && !is_uuid(cg->pod_uid))
			p = TS_PUT_OPT(p, ",\"pod_uid\":", cg->pod_uid);
		if (!cg->container_id)
			p = TS_PUT_OPT(p, ",\"container_runtime\":", cg->runtime);
	}
	p = TS_PUTS(p, "}}\n");
	return (int)(p - out);
}
