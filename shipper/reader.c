// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsnames.h"
#include "ident.h"

#define BATCH_BYTES (256 * 1024)
#define BATCH_EVENTS 2048
#define BATCH_START_BYTES (16 * 1024)
#define BATCH_START_EVENTS 32

static void publish(struct ts_reader *r, unsigned shape)
{
	if (!r->cur[shape] || !r->cur[shape]->n)
		return;
	ts_fanout_publish(r->fan, shape, r->cur[shape]);
	r->cur[shape] = NULL;
}

/* The batch of a shape with room for one more line: the current one,
 * grown, or a new one once it cannot grow. */
static struct ts_batch *batch_for(struct ts_reader *r, unsigned shape)
{
	struct ts_batch *b = r->cur[shape];

	if (b && ((b->n == b->cap_n && ts_batch_grow(b, BATCH_BYTES, BATCH_EVENTS, true)) ||
		  (b->cap - b->len < TS_LINE_MAX &&
		   ts_batch_grow(b, BATCH_BYTES, BATCH_EVENTS, false)))) {
		publish(r, shape);
		b = NULL;
	}
	if (!b)
		b = r->cur[shape] = ts_batch_new(BATCH_START_BYTES, BATCH_START_EVENTS);
	return b;
}

/* What a sink may read of the record besides its line. */
void ts_rec_fields(struct ts_rec *rec, const struct ts_hdr *h)
{
	rec->type = ts_type_name(h->type);
	rec->family = h->family == TS_IPV4 ? AF_INET : AF_INET6;
	rec->flags = 0;
	if (h->flags & TS_F_TASK)
		rec->flags |= TS_REC_TASK;
	if (h->flags & TS_F_SADDR)
		rec->flags |= TS_REC_SADDR;
	/* what an operator alerts on: a retransmit, a flow that failed */
	if (h->type == TS_RETRANSMIT ||
	    (h->type == TS_CLOSE && (!(h->flags & TS_F_ESTABLISHED) || (h->flags & TS_F_ERROR))))
		rec->flags |= TS_REC_NOTABLE;
	rec->sport = h->sport;
	rec->dport = h->dport;
	rec->pid = h->pid;
	memcpy(rec->comm, h->comm, sizeof(rec->comm));
	memcpy(rec->saddr, h->saddr, sizeof(rec->saddr));
	memcpy(rec->daddr, h->daddr, sizeof(rec->daddr));
	rec->cg = NULL;
	rec->agent_id = NULL;
}

/* One shape's line of the record into its batch; false if it was not. */
static bool encode_into(struct ts_reader *r, unsigned shape, const void *data, size_t size,
			uint64_t wall)
{
	struct ts_batch *b = batch_for(r, shape);
	struct ts_rec *rec;
	int n;

	if (!b) {
		r->nomem++;
		return false;
	}
	n = ts_shapes[shape].encode(&r->enc, data, size, r->seq + 1, wall, b->data + b->len,
				    b->cap - b->len);
	if (n < 0) {
		r->malformed++;
		return false;
	}
	rec = &b->recs[b->n++];
	rec->off = (uint32_t)b->len;
	rec->len = (uint32_t)n;
	rec->seq = r->seq + 1;
	rec->time_ns = wall;
	ts_rec_fields(rec, data);
	if (r->enc.id && r->enc.id->cg && !ts_batch_hold(b, r->enc.id->cg))
		rec->cg = r->enc.id->cg;
	b->len += (size_t)n;
	return true;
}

/* --dns-names: answers teach, connections ask (in the ring buffer's order,
 * so an answer read before a connect names it) */
static void dns_names(struct ts_reader *r, const struct ts_hdr *h, struct ts_ident *id)
{
	if (h->type == TS_DNS && (h->flags & TS_F_ANSWER))
		ts_dnsnames_learn(r->dnsnames, h->pid,
				  ts_dns_response_of((const struct ts_dns *)h));
	else if ((h->type == TS_CONNECT || h->type == TS_CLOSE || h->type == TS_FLOW) &&
		 (h->flags & TS_F_TASK))
		id->dest_name = ts_dnsnames_lookup(r->dnsnames, h->pid, h->family, h->daddr);
}

int ts_reader_handle(struct ts_reader *r, const void *data, size_t size)
{
	const struct ts_hdr *h = data;
	struct ts_ident id;
	uint64_t wall;
	bool any = false;

	if (size >= sizeof(*h) && h->type == TS_PROC) {
		/* the process cache's feed, not an event */
		if (r->ident)
			ts_ident_proc(r->ident, data, size);
		return 0;
	}
	if (ts_rec_check(data, size)) {	/* too short, unknown type or family */
		r->malformed++;
		return 0;
	}
	wall = ts_clock_wall(&r->clock, h->ts_ns);
	r->enc.id = NULL;
	if (r->ident) {
		ts_ident_lookup(r->ident, h, r->clock.offset_ns, &id);
		r->enc.id = &id;
		if (r->dnsnames)
			dns_names(r, h, &id);
	}
	for (unsigned s = 0; s < TS_SHAPE_MAX; s++)
		if ((r->shapes & (1u << s)) && encode_into(r, s, data, size, wall))
			any = true;
	r->enc.id = NULL;
	if (!any)
		return 0;	/* counted as malformed or nomem */
	r->seq++;
	r->events[h->type]++;
	if (r->summary)
		ts_summary_add(r->summary, h, data);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	return ts_reader_handle(ctx, data, size);
}

void ts_reader_publish(struct ts_reader *r)
{
	for (unsigned s = 0; s < TS_SHAPE_MAX; s++)
		publish(r, s);
}

int ts_reader_init(struct ts_reader *r, int ringbuf_fd, struct ts_fanout *fan,
		   const struct ts_run *run, unsigned summary_n)
{
	memset(r, 0, sizeof(*r));
	r->fan = fan;
	r->shapes = ts_fanout_shapes(fan);
	ts_enc_init(&r->enc, run->host, run->agent_id);
	ts_clock_init(&r->clock, 100 * 1000000ULL);
	if (summary_n && !(r->summary = ts_summary_new()))
		return -ENOMEM;
	if (ringbuf_fd >= 0) {
		r->rb = ring_buffer__new(ringbuf_fd, on_record, r, NULL);
		if (!r->rb)
			return -errno;
	}
	return 0;
}

int ts_reader_poll(struct ts_reader *r, int timeout_ms)
{
	int n;

	ts_clock_maybe_sync(&r->clock);
	if (r->ident)
		ts_ident_tick(r->ident);
	n = ring_buffer__poll(r->rb, timeout_ms);
	/* records submitted without a wake-up are only found by looking */
	if (n == 0)
		n = ring_buffer__consume(r->rb);
	ts_reader_publish(r);
	return n;
}

int ts_reader_walk(struct ts_reader *r, int prog_fd, uint32_t slice)
{
	uint64_t args[2] = { 0, slice };
	int total = 0;

	r->flow_walks++;
	do {
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));
		int n;

		if (bpf_prog_test_run_opts(prog_fd, &run)) {
			r->flow_walk_failed++;
			return -errno;
		}
		n = ring_buffer__consume(r->rb);
		if (n > 0)
			total += n;
		args[0] = run.retval;
	} while (args[0]);
	ts_reader_publish(r);
	return total;
}

int ts_reader_drain(struct ts_reader *r)
{
	int n;

	ts_clock_maybe_sync(&r->clock);
	n = ring_buffer__consume(r->rb);
	ts_reader_publish(r);
	return n;
}

void ts_reader_free(struct ts_reader *r)
{
	ring_buffer__free(r->rb);
	r->rb = NULL;
	for (unsigned s = 0; s < TS_SHAPE_MAX; s++) {
		if (r->cur[s])
			ts_batch_put(r->cur[s]);
		r->cur[s] = NULL;
	}
	ts_summary_free(r->summary);
	r->summary = NULL;
	ts_dnsnames_free(r->dnsnames);
	r->dnsnames = NULL;
}
