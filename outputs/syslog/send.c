// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syslog sink's write path. The core retries what write() calls RETRY;
 * a write keeps its place in the batch, so a retry resumes at the first
 * record not yet sent: none sent twice on one connection, none skipped.
 *
 * Streams (TCP, TLS, a local stream socket) get frames gathered into runs
 * of up to 64 KiB. A send that makes no progress for `timeout` (a receiver
 * that stopped reading) retries later on the same connection, at the same
 * byte. A frame whose write a broken connection cut short is sent again
 * whole on the next one. Datagrams go one message each.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "syslog/transport.h"
#include "util.h"

#define FILL_BYTES (64 * 1024)	/* frames gathered per stream write */

void ts_sl_out_clear(struct ts_sl *p)
{
	p->out.len = p->out_done = 0;
	p->out_n = p->out_complete = 0;
}

/* Position in (b, from, n): resume, or start over on a new batch. */
static void sync_batch(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	struct ts_sl *p = o->priv;
	uint64_t seq = b->recs[from].seq;

	if (p->b == b && p->b_seq == seq && p->next >= from && p->next <= from + n)
		return;
	if (p->out_done && p->out_done < p->out.len && p->fd >= 0) {
		/* the core gave up on a batch mid-frame (exit deadline): the
		 * frame can only be finished by ending the connection */
		ts_sl_conn_broken(o, "given up with a message half-sent");
	}
	ts_sl_out_clear(p);
	p->b = b;
	p->b_seq = seq;
	p->next = from;
}

/* One record's frame into p->msg: returns its length, or -EMSGSIZE. */
static int frame_of(struct ts_sl *p, const struct ts_batch *b, uint32_t i, bool *truncated)
{
	const struct ts_rec *r = &b->recs[i];
	enum ts_sl_framing fr = p->octets ? TS_SL_OCTETS : p->stream ? TS_SL_NEWLINE : TS_SL_BARE;

	return ts_sl_frame(&p->fmt, fr, r, b->data + r->off, r->len, p->msg, p->msg_cap, truncated);
}

/* Gather frames from p->next into out, up to FILL_BYTES. */
static int fill(struct ts_sl *p, const struct ts_batch *b, uint32_t end)
{
	ts_sl_out_clear(p);
	p->out_first = p->next;
	for (uint32_t i = p->next; i < end && p->out.len < FILL_BYTES; i++) {
		bool trunc = false;
		int n = frame_of(p, b, i, &trunc);

		if (p->out_n == p->frames_cap) {
			uint32_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
			struct ts_sl_framed *f = realloc(p->frames, sizeof(*f) * cap);

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

/* The connection took r more bytes of out: count the frames it completed,
 * and remember where they end in the stream, for maybe_lost. */
static void advance(struct ts_sl *p, size_t r)
{
	p->out_done += r;
	p->conn_bytes += r;
	while (p->out_complete < p->out_n && p->frames[p->out_complete].end <= p->out_done) {
		const struct ts_sl_framed *f = &p->frames[p->out_complete];
		uint32_t start = p->out_complete ? p->frames[p->out_complete - 1].end : 0;

		if (f->end > start) {
			p->ring[p->ring_head] = p->conn_bytes - (p->out_done - f->end);
			p->ring_head = (p->ring_head + 1) % TS_SL_RING;
			if (p->ring_n < TS_SL_RING)
				p->ring_n++;
			atomic_fetch_add(&p->sent, 1);
			if (f->truncated)
				atomic_fetch_add(&p->truncated, 1);
		}
		p->out_complete++;
	}
	p->next = p->out_first + p->out_complete;
}

/* send() on a plain socket, as ts_sl_tls_send does SSL_write. */
static ssize_t plain_send(struct ts_sl *p, const char *buf, size_t len, char *why, size_t whylen)
{
	for (;;) {
		ssize_t k = send(p->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0)
			return k;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno != EAGAIN) {
			int e = errno;

			snprintf(why, whylen, "%s", strerror(e));
			return -e;
		}
		return 0;
	}
}

/* Write the rest of out: 0 when all of it went, -ETIMEDOUT when nothing
 * moved for `timeout`, another -errno when the connection broke (why set). */
static int send_out(struct ts_sl *p, char *why, size_t whylen)
{
	uint64_t deadline = ts_now_ns(CLOCK_MONOTONIC) + p->timeout_ns;

	while (p->out_done < p->out.len) {
		const char *at = p->out.p + p->out_done;
		size_t left = p->out.len - p->out_done;
		short ev = POLLOUT;
		ssize_t k = p->ssl ? ts_sl_tls_send(p, at, left, &ev, why, whylen)
				   : plain_send(p, at, left, why, whylen);
		int w;

		if (k < 0)
			return (int)k;
		if (k > 0) {
			advance(p, (size_t)k);
			deadline = ts_now_ns(CLOCK_MONOTONIC) + p->timeout_ns;
			continue;
		}
		w = ts_sl_wait_fd(p->fd, ev, deadline);
		if (w == 0)
			return -ETIMEDOUT;
		if (w < 0) {
			snprintf(why, whylen, "%s", strerror(-w));
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
	struct ts_sl *p = o->priv;
	char why[256];

	for (;;) {
		const char *gone;
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
		/* a receiver that restarted while we were idle costs a
		 * reconnect, not a lost run */
		if (p->fd >= 0 && !p->out_done && ts_sl_peer_gone(p, &gone))
			ts_sl_conn_broken(o, gone);	/* out is refilled below */
		if (!ts_sl_connected(o))
			return TS_OUT_RETRY;
		if (!p->stream) {	/* a local socket that is a datagram one now */
			ts_sl_out_clear(p);
			return write_dgram(o, b, end);
		}
		if (!p->out.len && fill(p, b, end))
			return TS_OUT_RETRY;
		rc = send_out(p, why, sizeof(why));
		if (rc == -ETIMEDOUT)
			return TS_OUT_RETRY;	/* same connection, same byte, later */
		if (rc) {
			ts_sl_conn_broken(o, why);
			return TS_OUT_RETRY;
		}
		ts_sl_out_clear(p);
	}
}

/* A datagram send failed with err: what the write does now. */
static enum ts_out_result dgram_failed(struct ts_output *o, int err)
{
	struct ts_sl *p = o->priv;
	uint64_t now = ts_now_ns(CLOCK_MONOTONIC);

	if (err == ENOBUFS || err == ENOMEM)
		return TS_OUT_RETRY;
	if (err == ECONNREFUSED && p->url.transport == TS_SL_UDP) {
		/* the ICMP error of an earlier datagram: that one is gone. Said
		 * at most once a minute: a dead UDP receiver refuses every
		 * other datagram. */
		atomic_fetch_add(&p->maybe_lost, 1);
		p->refused++;
		if (!p->refused_logged_ns || now - p->refused_logged_ns > 60 * 1000000000ULL) {
			ts_output_log(o, "%s refused %llu message%s (nobody listening?); will retry",
				      p->peer, (unsigned long long)p->refused,
				      p->refused == 1 ? "" : "s");
			p->refused_logged_ns = now;
			p->refused = 0;
		}
		return TS_OUT_RETRY;
	}
	if (err == ECONNREFUSED)	/* the daemon's socket went away: connect again later */
		ts_output_log(o, "%s: %s; reconnecting", p->peer, strerror(err));
	else
		ts_output_log(o, "sending to %s failed: %s; reconnecting", p->peer, strerror(err));
	ts_sl_disconnect(p);
	p->outage = true;
	return TS_OUT_RETRY;
}

static enum ts_out_result write_dgram(struct ts_output *o, const struct ts_batch *b,
				      uint32_t end)
{
	struct ts_sl *p = o->priv;

	while (p->next < end) {
		bool trunc = false;
		int n;

		if (!ts_sl_connected(o))
			return TS_OUT_RETRY;
		if (p->stream)	/* the local socket turned out to be a stream one */
			return write_stream(o, b, end);
		n = frame_of(p, b, p->next, &trunc);
		if (n < 0) {	/* cannot happen after open()'s check: skip, not stall */
			p->next++;
			continue;
		}
		if (send(p->fd, p->msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) {
			atomic_fetch_add(&p->sent, 1);
			if (trunc)
				atomic_fetch_add(&p->truncated, 1);
			p->next++;
		} else if (errno == EAGAIN) {
			uint64_t deadline = ts_now_ns(CLOCK_MONOTONIC) + p->timeout_ns;

			if (ts_sl_wait_fd(p->fd, POLLOUT, deadline) <= 0)
				return TS_OUT_RETRY;
		} else if (errno != EINTR) {
			return dgram_failed(o, errno);
		}
	}
	return TS_OUT_OK;
}

enum ts_out_result ts_sl_send(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			      uint32_t n)
{
	struct ts_sl *p = o->priv;
	enum ts_out_result r;

	if (!n)
		return TS_OUT_OK;
	sync_batch(o, b, from, n);
	r = p->stream ? write_stream(o, b, from + n) : write_dgram(o, b, from + n);
	if (r == TS_OUT_OK)
		p->b = NULL;
	return r;
}
