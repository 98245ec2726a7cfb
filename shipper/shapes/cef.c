// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cef: ArcSight Common Event Format, one record per line,
 *
 *   CEF:0|tcpship|tcpship|<version>|<signature id>|<name>|<severity>|<extension>
 *
 * Signature ids are tcpship's event types, and "connect-failed" (a connection
 * that never got established: refused, timed out, unreachable) and
 * "close-error" (one that did, then ended in an error). Severity: 3 routine,
 * 5 a retransmit, 7 a failure.
 *
 * src/spt is the initiator, dst/dpt the responder (deviceDirection 0: the
 * remote end connected in, 1: this host connected out); where the direction
 * is not known, src is the local end. The process is on its own end: spid,
 * sproc, suid for a source, dpid, dproc, duid for a destination (an
 * accepting server). in/out follow CEF's reading of the source ->
 * destination relation: in is what the source sent, out what it got back.
 * What CEF has no key for is in labelled custom fields: cs1 containerId, cs2
 * pod, cs3 podNamespace, cs4 communityId, cs5 executable, cs6 containerName,
 * cn1 durationNs, cn2 retransmits, cn3 sequence, cn4 connectLatencyNs,
 * flexString1/2 the DNS question's name and type (flexString1 a close's
 * end reason); a DNS answer's response code is its reason. A flow report
 * ("flow") has its totals in in/out/cn2 and what moved since the previous
 * report in flexNumber1 inDelta, flexNumber2 outDelta, flexString2
 * retransmitsDelta.
 *
 * Escaping: '\' and '=' in values as \\ and \=, CR and LF as \r and \n; any
 * other control byte and invalid UTF-8 as U+FFFD, so a hostile process name
 * never adds a field or a line.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "ident.h"
#include "util.h"

#define NS_PER_MS 1000000ULL

size_t ts_cef_escape(char *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char *p = out;

	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t len;

		if (c == '\\' || c == '=') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c == '\n') {
			p = TS_PUTS(p, "\\n");
		} else if (c == '\r') {
			p = TS_PUTS(p, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			p = TS_PUTS(p, "\xef\xbf\xbd");
		} else if (c < 0x80) {
			*p++ = (char)c;
		} else if ((len = ts_utf8_seq(u + i, n - i))) {
			p = ts_put(p, u + i, len);
			i += len;
			continue;
		} else {
			p = TS_PUTS(p, "\xef\xbf\xbd");
		}
		i++;
	}
	return (size_t)(p - out);
}

/* " key=value" with the value escaped */
static char *put_ext(char *p, const char *key_lit, size_t key_len, const char *s, size_t n)
{
	p = ts_put(p, key_lit, key_len);
	return p + ts_cef_escape(p, s, n);
}

#define PUT_EXTN(p, lit, s, n) put_ext(p, lit, sizeof(lit) - 1, s, n)
#define PUT_EXT(p, lit, s) PUT_EXTN(p, lit, s, strlen(s))

static char *put_ip(char *p, const char *key_lit, size_t key_len, unsigned family,
		    const uint8_t *a)
{
	return ts_put_addr(ts_put(p, key_lit, key_len), family, a);
}

struct cef_sig {
	const char *id, *name;
};

static struct cef_sig sig_of(const struct ts_view *v)
{
	switch (v->h->type) {
	case TS_CONNECT:
		return (struct cef_sig){ "connect", "TCP connect" };
	case TS_ACCEPT:
		return (struct cef_sig){ "accept", "TCP accept" };
	case TS_CLOSE:
		if (!v->error)
			return (struct cef_sig){ "close", "TCP close" };
		if (!v->established)
			return (struct cef_sig){ "connect-failed", "TCP connect failed" };
		return (struct cef_sig){ "close-error", "TCP connection ended in error" };
	case TS_RETRANSMIT:
		return (struct cef_sig){ "retransmit", "TCP retransmit" };
	case TS_SEND:
		return (struct cef_sig){ "send", "TCP send" };
	case TS_RECV:
		return (struct cef_sig){ "recv", "TCP receive" };
	case TS_FLOW:
		return (struct cef_sig){ "flow", "TCP flow report" };
	}
	return (struct cef_sig){ "dns", "DNS query" };
}

/* the process keys of the end it is on: s* for a source, d* for a destination */
static char *put_process(char *p, const struct ts_enc *e, const struct ts_hdr *h, bool src)
{
	const struct ts_ident *id = e->id;

	p = src ? TS_PUT_KU(p, " spid=", h->pid) : TS_PUT_KU(p, " dpid=", h->pid);
	p = src ? TS_PUTS(p, " sproc=") : TS_PUTS(p, " dproc=");
	p += ts_cef_escape(p, h->comm, strnlen(h->comm, TS_COMM_LEN - 1));
	p = src ? TS_PUT_KU(p, " suid=", h->uid) : TS_PUT_KU(p, " duid=", h->uid);
	if (id && id->exe)
		p = PUT_EXTN(p, " cs5Label=executable cs5=", id->exe, id->exe_len);
	return p;
}

static char *put_container(char *p, const struct ts_cginfo *cg)
{
	if (cg->container_id)
		p = PUT_EXT(p, " cs1Label=containerId cs1=", cg->container_id);
	if (cg->pod)
		p = PUT_EXT(p, " cs2Label=pod cs2=", cg->pod);
	if (cg->pod_namespace)
		p = PUT_EXT(p, " cs3Label=podNamespace cs3=", cg->pod_namespace);
	if (cg->name)
		p = PUT_EXT(p, " cs6Label=containerName cs6=", cg->name);
	return p;
}

/* close: retransmits and end reason; flow: the totals' retransmits and
 * what moved since the last report */
static char *put_counts(char *p, const struct ts_view *v)
{
	const struct ts_hdr *h = v->h;

	if (v->flow) {
		/* in/out are the totals so far; what moved since the last
		 * report, in the same source -> destination reading */
		const struct ts_flow *f = v->flow;

		p = TS_PUT_KU(p, " cn2Label=retransmits cn2=", f->e.close.retransmits);
		p = TS_PUT_KU(p, " flexNumber1Label=inDelta flexNumber1=",
			      v->src_local ? f->bytes_sent_delta : f->bytes_received_delta);
		p = TS_PUT_KU(p, " flexNumber2Label=outDelta flexNumber2=",
			      v->src_local ? f->bytes_received_delta : f->bytes_sent_delta);
		p = TS_PUT_KU(p, " flexString2Label=retransmitsDelta flexString2=",
			      f->retransmits_delta);
	}
	if (h->type == TS_CLOSE) {
		p = TS_PUT_KU(p, " cn2Label=retransmits cn2=", v->ev->close.retransmits);
		p = PUT_EXT(p, " flexString1Label=endReason flexString1=",
			    ts_end_reason(v->ev->close.error, v->ev->close.oldstate));
	}
	return p;
}

int ts_encode_cef(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		  uint64_t time_ns, char *out, size_t cap)
{
	struct ts_view v;
	const struct ts_hdr *h = rec;
	const struct ts_cginfo *cg;
	struct cef_sig sig;
	uint64_t rt = time_ns / NS_PER_MS, src_sent, dst_sent;
	bool has_src_sent, has_dst_sent;
	char ebuf[16], tbuf[12];
	char *p = out;

	if (cap < TS_LINE_MAX)
		return -ENOSPC;
	if (ts_view_of(rec, size, &v))
		return -EINVAL;
	cg = e->id && (h->flags & TS_F_TASK) ? e->id->cg : NULL;
	sig = sig_of(&v);
	/* the header: constants and git describe's version, none with '|' or '\' */
	p = TS_PUTS(p, "CEF:0|tcpship|tcpship|");
	p = ts_put(p, e->version, strlen(e->version));
	*p++ = '|';
	p = ts_put(p, sig.id, strlen(sig.id));
	*p++ = '|';
	p = ts_put(p, sig.name, strlen(sig.name));
	*p++ = '|';
	*p++ = (char)('3' + 2 * ts_view_severity(&v));
	p = TS_PUT_KU(p, "|rt=", rt);
	p = TS_PUTS(p, " act=");
	p = ts_put(p, ts_type_name(h->type), strlen(ts_type_name(h->type)));
	if (v.dir != TS_DIR_UNKNOWN)
		p = v.dir == TS_DIR_IN ? TS_PUTS(p, " deviceDirection=0")
				       : TS_PUTS(p, " deviceDirection=1");
	p = v.proto == 6 ? TS_PUTS(p, " proto=TCP") : TS_PUTS(p, " proto=UDP");
	if (v.src_local) {
		if (v.local_known) {
			p = put_ip(p, " src=", 5, h->family, h->saddr);
			p = TS_PUT_KU(p, " spt=", h->sport);
		}
		p = put_ip(p, " dst=", 5, h->family, h->daddr);
		p = TS_PUT_KU(p, " dpt=", h->dport);
		if (e->id && e->id->dest_name)
			p = PUT_EXT(p, " dhost=", e->id->dest_name);
	} else {
		p = put_ip(p, " src=", 5, h->family, h->daddr);
		p = TS_PUT_KU(p, " spt=", h->dport);
		if (e->id && e->id->dest_name)
			p = PUT_EXT(p, " shost=", e->id->dest_name);
		if (v.local_known) {
			p = put_ip(p, " dst=", 5, h->family, h->saddr);
			p = TS_PUT_KU(p, " dpt=", h->sport);
		}
	}
	if (h->flags & TS_F_TASK)
		p = put_process(p, e, h, v.src_local);
	/* in: what the source sent; out: what it got back */
	src_sent = v.src_local ? v.out : v.in;
	dst_sent = v.src_local ? v.in : v.out;
	has_src_sent = v.src_local ? v.has_out : v.has_in;
	has_dst_sent = v.src_local ? v.has_in : v.has_out;
	if (has_src_sent)
		p = TS_PUT_KU(p, " in=", src_sent);
	if (has_dst_sent)
		p = TS_PUT_KU(p, " out=", dst_sent);
	if (h->type == TS_ACCEPT || h->type == TS_CLOSE)
		p = v.error ? TS_PUTS(p, " outcome=failure") : TS_PUTS(p, " outcome=success");
	if (v.error)
		p = PUT_EXT(p, " reason=", ts_errno_name(v.error, ebuf));
	if (v.has_duration) {
		uint64_t dur = v.duration_ns / NS_PER_MS;

		p = TS_PUT_KU(p, " start=", rt >= dur ? rt - dur : 0);
		p = TS_PUT_KU(p, " end=", rt);
		p = TS_PUT_KU(p, " cn1Label=durationNs cn1=", v.duration_ns);
	}
	p = put_counts(p, &v);
	p = TS_PUT_KU(p, " cn3Label=sequence cn3=", seq);
	if (v.has_handshake)
		p = TS_PUT_KU(p, " cn4Label=connectLatencyNs cn4=", v.handshake_ns);
	p = TS_PUTS(p, " dvchost=");
	p = ts_put(p, e->host_cef, strlen(e->host_cef));
	p = TS_PUTS(p, " deviceExternalId=");
	p = ts_put(p, e->agent_id, strlen(e->agent_id));
	if (e->id && e->id->community_id[0])
		p = PUT_EXT(p, " cs4Label=communityId cs4=", e->id->community_id);
	if (cg && cg->json_len)
		p = put_container(p, cg);
	if (h->type == TS_DNS && v.has_query) {
		p = PUT_EXT(p, " flexString1Label=dnsQuestionName flexString1=", v.q.qname);
		p = PUT_EXT(p, " flexString2Label=dnsQuestionType flexString2=",
			    ts_dns_type_name(v.q.qtype, tbuf));
	}
	if (h->type == TS_DNS && v.resp) {
		/* an answer: its question, and its response code as the reason */
		if (v.resp->has_question) {
			p = PUT_EXT(p, " flexString1Label=dnsQuestionName flexString1=",
				    v.resp->qname);
			p = PUT_EXT(p, " flexString2Label=dnsQuestionType flexString2=",
				    ts_dns_type_name(v.resp->qtype, tbuf));
		}
		p = PUT_EXT(p, " reason=", ts_dns_rcode_name(v.resp->rcode, tbuf));
	}
	*p++ = '\n';
	return (int)(p - out);
}
