// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "reader.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#define BATCH_BYTES (256 * 1024)
#define BATCH_EVENTS 2048
#define BATCH_START_BYTES (16 * 1024)
#define BATCH_START_EVENTS 32

static struct ts_batch *batch_for(struct ts_reader *r)
{
	struct ts_batch *b = r->cur;

	if (b && ((b->n == b->cap_n && ts_batch_grow(b, BATCH_BYTES, BATCH_EVENTS, true)) ||
		  (b->cap - b->len < TS_LINE_MAX &&
		   ts_batch_grow(b, BATCH_BYTES, BATCH_EVENTS, false)))) {
		ts_reader_publish(r);
		b = NULL;
	}
	if (!b)
		b = r->cur = ts_batch_new(BATCH_START_BYTES, BATCH_START_EVENTS);
	return b;
}

int ts_reader_handle(struct ts_reader *r, const void *data, size_t size)
{
	const struct ts_hdr *h = data;
	struct ts_batch *b;
	struct ts_rec *rec;
	uint64_t wall;
	int n;

	if (size < sizeof(*h)) {
		r->malformed++;
		return 0;
	}
	b = batch_for(r);
	if (!b) {
		r->nomem++;
		return 0;
	}
	wall = ts_clock_wall(&r->clock, h->ts_ns);
	if (r->format == TS_FMT_TEXT)
		n = ts_encode_text(&r->enc, data, size, wall, b->data + b->len, b->cap - b->len);
	else
		n = ts_encode_json(&r->enc, data, size, r->seq + 1, wall, b->data + b->len,
				   b->cap - b->len);
	if (n < 0) {
		r->malformed++;
		return 0;
	}
	rec = &b->recs[b->n++];
	rec->off = (uint32_t)b->len;
	rec->len = (uint32_t)n;
	rec->seq = ++r->seq;
	rec->time_ns = wall;
	memcpy(&rec->hdr, h, sizeof(*h));
	b->len += (size_t)n;
	if (h->type < TS_TYPE_MAX)
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
	if (!r->cur || !r->cur->n)
		return;
	ts_fanout_publish(r->fan, r->cur);
	r->cur = NULL;
}

int ts_reader_init(struct ts_reader *r, int ringbuf_fd, struct ts_fanout *fan,
		   const char *host, const char *agent_id, enum ts_format format,
		   unsigned summary_n)
{
	memset(r, 0, sizeof(*r));
	r->fan = fan;
	r->format = format;
	ts_enc_init(&r->enc, host, agent_id);
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
	n = ring_buffer__poll(r->rb, timeout_ms);
	/* records submitted without a wake-up are only found by looking */
	if (n == 0)
		n = ring_buffer__consume(r->rb);
	ts_reader_publish(r);
	return n;
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
	if (r->cur) {
		ts_batch_put(r->cur);
		r->cur = NULL;
	}
	ts_summary_free(r->summary);
	r->summary = NULL;
}
