/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lines to a file descriptor, for the stdout and file sinks. To a pipe or a
 * terminal every batch is written at once (jq sees events as they happen);
 * to a regular file lines are gathered and written in blocks of 256 KiB, or
 * when the queue goes idle. A write cut short by an error (ENOSPC) resumes
 * where it stopped on the retry: no line is written twice or half.
 */
#ifndef TS_FDWRITER_H
#define TS_FDWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output.h"

#define TS_FDW_BLOCK (256 * 1024)

struct ts_fdw {
	int fd;
	bool coalesce;			/* regular file: write in blocks */
	struct ts_buf buf;		/* gathered, not yet written */
	const struct ts_batch *partial;	/* unbuffered: batch being written */
	size_t partial_done;
	uint64_t written;		/* bytes that reached the fd */
};

/* Decide coalescing from what fd is. */
void ts_fdw_init(struct ts_fdw *w, int fd);
enum ts_out_result ts_fdw_write(struct ts_fdw *w, const struct ts_batch *b, uint32_t from,
				uint32_t n);
enum ts_out_result ts_fdw_flush(struct ts_fdw *w);
/* bytes accepted but not yet written */
static inline size_t ts_fdw_pending(const struct ts_fdw *w)
{
	return w->buf.len;
}
void ts_fdw_free(struct ts_fdw *w);
/* The lines of recs [from, from + n): contiguous in the batch. */
static inline const char *ts_batch_lines(const struct ts_batch *b, uint32_t from, uint32_t n,
					 size_t *len)
{
	const struct ts_rec *first = &b->recs[from], *last = &b->recs[from + n - 1];

	*len = last->off + last->len - first->off;
	return b->data + first->off;
}

#endif
