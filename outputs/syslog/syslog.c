// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syslog: every event as one syslog message, to the local socket or to a
 * receiver over UDP, TCP or TLS (README, "syslog"). This file is the sink's
 * ops table; conf.c reads the configuration, message.c builds messages,
 * transport.c, send.c and tls.c move them.
 *
 * The core gives the sink its own queue and thread; by default a full
 * queue drops (counted), so a dead receiver never stalls tracing.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "syslog/conf.h"
#include "syslog/message.h"
#include "syslog/transport.h"
#include "util.h"

static void syslog_free(struct ts_sl *p)
{
	if (!p)
		return;
	ts_sl_transport_free(p);
	ts_buf_free(&p->out);
	free(p->frames);
	free(p->msg);
	free(p);
}

static int syslog_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	const struct ts_sl_conf *c = conf;
	const char *url = c->url ? c->url : "syslog";
	struct ts_sl *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	p->conf = c;
	p->fd = -1;
	p->timeout_ns = c->timeout_ns;
	rc = ts_sl_parse_url(url, &p->url, err, errlen);
	rc = rc ?: ts_sl_conf_message(c, &p->url, o->run, &p->fmt, err, errlen);
	rc = rc ?: ts_sl_conf_tls(c, &p->url, err, errlen);
	if (rc)
		goto fail;
	p->stream = p->url.transport == TS_SL_TCP || p->url.transport == TS_SL_TLS;
	p->octets = p->stream;
	p->msg_cap = p->fmt.max_message + TS_SL_FRAMING_MAX;
	p->msg = malloc(p->msg_cap);
	if (!p->msg) {
		rc = ts_err(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(o->name, sizeof(o->name), "%s", url);
	o->priv = p;
	rc = ts_sl_transport_open(o, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	syslog_free(p);
	o->priv = NULL;
	return rc;
}

static void syslog_close(struct ts_output *o)
{
	if (o->priv)
		ts_sl_transport_drain(o);
	syslog_free(o->priv);
	o->priv = NULL;
}

/* The frames write() sends. Datagrams come one message per line, the '\n'
 * marks where one ends and is not sent. */
static int syslog_format(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			 uint32_t n, struct ts_buf *out)
{
	struct ts_sl *p = o->priv;
	enum ts_sl_framing fr = p->octets ? TS_SL_OCTETS : TS_SL_NEWLINE;

	for (uint32_t i = from; i < from + n; i++) {
		const struct ts_rec *r = &b->recs[i];
		bool trunc;
		int len;

		if (ts_buf_reserve(out, p->msg_cap))
			return -ENOMEM;
		len = ts_sl_frame(&p->fmt, fr, r, b->data + r->off, r->len, out->p + out->len,
				  p->msg_cap, &trunc);
		if (len < 0)
			return len;
		out->len += (size_t)len;
	}
	return 0;
}

static int syslog_counters(struct ts_output *o, char *buf, size_t len)
{
	struct ts_sl *p = o->priv;

	return snprintf(buf, len, "sent=%llu truncated=%llu reconnects=%llu maybe_lost=%llu",
			(unsigned long long)atomic_load(&p->sent),
			(unsigned long long)atomic_load(&p->truncated),
			(unsigned long long)atomic_load(&p->reconnects),
			(unsigned long long)atomic_load(&p->maybe_lost));
}

const struct ts_output_ops ts_output_syslog = {
	.type = "syslog",
	.match = ts_sl_match,
	.conf_size = sizeof(struct ts_sl_conf),
	.opts = ts_sl_opts,
	.conf_init = ts_sl_conf_init,
	.conf_spec = ts_sl_conf_spec,
	.check = ts_sl_check,
	.open = syslog_open,
	.write = ts_sl_send,
	.close = syslog_close,
	.format = syslog_format,
	.counters = syslog_counters,
	.default_drop_when_full = true,
};
