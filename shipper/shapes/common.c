// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the JSON shapes write alike. */
#include "common.h"

#include "ident.h"
#include "util.h"

char *ts_put_own(char *p, const struct ts_enc *e, const struct ts_view *v)
{
	const struct ts_hdr *h = v->h;
	const struct ts_cginfo *cg = e->id ? e->id->cg : NULL;
	const char *state;

	p = TS_PUT_KV(p, "\"probe\":\"", h->probe == TS_KPROBE ? "kprobe" : "tracepoint");
	if (h->flags & TS_F_NETNS)
		p = TS_PUT_KU(p, ",\"netns\":", h->netns);
	if (cg && cg->json_len) {
		p = TS_PUT_OPT(p, ",\"cgroup\":", cg->path);
		p = TS_PUT_OPT(p, ",\"unit\":", cg->unit);
	}
	if (v->has_handshake)
		p = TS_PUT_KU(p, ",\"connect_latency_ns\":", v->handshake_ns);
	switch (h->type) {
	case TS_CLOSE:
		p = v->established ? TS_PUTS(p, ",\"established\":true")
				   : TS_PUTS(p, ",\"established\":false");
		p = TS_PUT_KV(p, ",\"end_reason\":\"",
			      ts_end_reason(v->ev->close.error, v->ev->close.oldstate));
		p = TS_PUT_KU(p, ",\"retransmits\":", v->ev->close.retransmits);
		break;
	case TS_FLOW:
		/* the totals are the shape's own (bytes, ...); what moved since
		 * the flow's previous report is ours */
		p = TS_PUT_KU(p, ",\"retransmits\":", v->flow->e.close.retransmits);
		p = TS_PUT_KU(p, ",\"bytes_sent_delta\":", v->flow->bytes_sent_delta);
		p = TS_PUT_KU(p, ",\"bytes_received_delta\":", v->flow->bytes_received_delta);
		p = TS_PUT_KU(p, ",\"retransmits_delta\":", v->flow->retransmits_delta);
		__attribute__((fallthrough));	/* and the socket's state now */
	case TS_RETRANSMIT:
		state = ts_tcp_state_name(h->state);
		if (state)
			p = TS_PUT_KV(p, ",\"state\":\"", state);
		break;
	case TS_SEND:
	case TS_RECV:
		if (h->flags & TS_F_LATENCY)
			p = TS_PUT_KU(p, ",\"latency_ns\":", v->ev->io.latency_ns);
		break;
	case TS_DNS:
		if (h->flags & TS_F_TRUNC)
			p = TS_PUTS(p, ",\"dns_truncated\":true");
		break;
	}
	return p;
}


char *ts_put_answer_data(char *p, const struct ts_dns_answer *a)
{
	if (a->type == 5)
		return ts_put_jstr(p, a->name, strlen(a->name));
	*p++ = '"';
	p = ts_put_addr(p, a->type == 1 ? TS_IPV4 : TS_IPV6, a->addr);
	*p++ = '"';
	return p;
}
