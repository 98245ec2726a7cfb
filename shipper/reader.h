/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ring-buffer reader: each record is stamped with wall-clock time and a
 * sequence number, encoded once into the current batch, and the batch is
 * handed to every sink at the end of each poll round (or when it is full).
 */
#ifndef TS_READER_H
#define TS_READER_H

#include <stdint.h>

#include "clock.h"
#include "encode.h"
#include "fanout.h"
#include "options.h"
#include "summary.h"

struct ring_buffer;

struct ts_reader {
	struct ring_buffer *rb;
	struct ts_fanout *fan;
	struct ts_batch *cur;
	struct ts_enc enc;
	struct ts_clock clock;
	struct ts_summary *summary;	/* NULL unless --summary */
	enum ts_format format;
	uint64_t seq;
	uint64_t events[TS_TYPE_MAX];	/* records read, by type */
	uint64_t malformed;		/* records that could not be encoded */
	uint64_t nomem;			/* records lost to a failed allocation */
};

int ts_reader_init(struct ts_reader *r, int ringbuf_fd, struct ts_fanout *fan,
		   const char *host, const char *agent_id, enum ts_format format,
		   unsigned summary_n);
/* Wait up to timeout_ms for records, encode them, publish. Returns the
 * number of records or -errno (-EINTR is not an error). */
int ts_reader_poll(struct ts_reader *r, int timeout_ms);
/* Everything left in the ring buffer, now. */
int ts_reader_drain(struct ts_reader *r);
/* Encode one record into the current batch (what the ring-buffer callback
 * does; the bench feeds it directly). */
int ts_reader_handle(struct ts_reader *r, const void *data, size_t size);
void ts_reader_publish(struct ts_reader *r);
void ts_reader_free(struct ts_reader *r);

#endif
