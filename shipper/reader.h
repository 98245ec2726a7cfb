/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ring-buffer reader: each record is stamped with wall-clock time and a
 * sequence number, encoded once per shape some output takes into that
 * shape's current batch, and the batches are handed to the sinks at the end
 * of each poll round (or when one is full).
 */
#ifndef TS_READER_H
#define TS_READER_H

#include <stdint.h>

#include "clock.h"
#include "fanout.h"
#include "shape.h"
#include "summary.h"

struct ring_buffer;
struct ts_ident_ctx;

struct ts_dnsnames;

struct ts_reader {
	struct ring_buffer *rb;
	struct ts_fanout *fan;
	uint32_t shapes;		/* bit i: ts_shapes[i] is in use */
	struct ts_batch *cur[TS_SHAPE_MAX];
	struct ts_enc enc;
	struct ts_clock clock;
	struct ts_summary *summary;	/* NULL unless --summary */
	struct ts_ident_ctx *ident;	/* NULL: no identity keys (set after init) */
	struct ts_dnsnames *dnsnames;	/* --dns-names, or NULL (set after init) */
	uint64_t seq;
	uint64_t events[TS_TYPE_MAX];	/* records read, by type */
	uint64_t malformed;		/* records that could not be encoded */
	uint64_t nomem;			/* records lost to a failed allocation */
	uint64_t flow_walks;		/* --flow-interval: walks of the flow table */
	uint64_t flow_walk_failed;	/* walks that could not run to the end */
};

/* The sinks of fan are added already: the reader encodes the shapes they
 * take. ringbuf_fd < 0: no ring buffer (records come by ts_reader_handle). */
int ts_reader_init(struct ts_reader *r, int ringbuf_fd, struct ts_fanout *fan,
		   const struct ts_run *run, unsigned summary_n);
/* Wait up to timeout_ms for records, encode them, publish. Returns the
 * number of records or -errno (-EINTR is not an error). */
int ts_reader_poll(struct ts_reader *r, int timeout_ms);
/* Everything left in the ring buffer, now. */
int ts_reader_drain(struct ts_reader *r);
/* Walk the flow table once (prog_fd: ts_probes_flow_walk_fd), slice by
 * slice of `slice` entries, draining the ring buffer after each: its flow
 * records are encoded and published like every other. The number of
 * records read, or -errno (counted in flow_walk_failed). */
int ts_reader_walk(struct ts_reader *r, int prog_fd, uint32_t slice);
/* Encode one record into the current batches (what the ring-buffer
 * callback does; the bench feeds it directly). */
int ts_reader_handle(struct ts_reader *r, const void *data, size_t size);
void ts_reader_publish(struct ts_reader *r);
/* The fields of a ts_rec a sink reads, from a kernel record's header
 * (off, len, seq and time_ns are the caller's). */
void ts_rec_fields(struct ts_rec *rec, const struct ts_hdr *h);
void ts_reader_free(struct ts_reader *r);

#endif
