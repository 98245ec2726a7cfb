/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lines to a file descriptor, for the stdout and file sinks. One write per
 * batch: a batch is everything the reader took from the ring buffer in one
 * round (up to 256 KiB), so a busy host gets large blocks and a quiet one
 * sees its events at once (jq on a pipe). A write cut short by an error
 * (ENOSPC) resumes where it stopped on the retry, and on a regular file the
 * half line it left is cut off again: no line is written twice or in part.
 */
#ifndef TS_FDWRITER_H
#define TS_FDWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

struct ts_fdw {
	int fd;
	bool regular;			/* a regular file: half lines can be cut */
	const struct ts_batch *partial;	/* batch whose write was cut short */
	size_t partial_done;		/* bytes of it already written */
	uint64_t written;		/* bytes that reached the fd */
	int last_errno;
};

void ts_fdw_init(struct ts_fdw *w, int fd);
/* Write the lines of recs [from, from + n); *bytes: how many went out now. */
enum ts_out_result ts_fdw_write(struct ts_fdw *w, const struct ts_batch *b, uint32_t from,
				uint32_t n, size_t *bytes);

/* The format hook of line sinks: the lines themselves. */
int ts_fdw_format(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n,
		  struct ts_buf *out);

/* The lines of recs [from, from + n): contiguous in the batch. */
static inline const char *ts_batch_lines(const struct ts_batch *b, uint32_t from, uint32_t n,
					 size_t *len)
{
	const struct ts_rec *first = &b->recs[from], *last = &b->recs[from + n - 1];

	*len = last->off + last->len - first->off;
	return b->data + first->off;
}

#endif
