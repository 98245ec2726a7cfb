// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fdwriter.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ts_fdw_init(struct ts_fdw *w, int fd)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->coalesce = !fstat(fd, &st) && S_ISREG(st.st_mode);
}

static enum ts_out_result write_all(struct ts_fdw *w, const char *s, size_t n, size_t *done)
{
	while (*done < n) {
		ssize_t r = write(w->fd, s + *done, n - *done);

		if (r > 0) {
			*done += (size_t)r;
			w->written += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EPIPE || errno == EBADF))
			return TS_OUT_FATAL;	/* the reader is gone */
		return TS_OUT_RETRY;		/* ENOSPC, EIO, EAGAIN: try again later */
	}
	return TS_OUT_OK;
}

enum ts_out_result ts_fdw_flush(struct ts_fdw *w)
{
	size_t done = 0;
	enum ts_out_result r;

	if (!w->buf.len)
		return TS_OUT_OK;
	r = write_all(w, w->buf.p, w->buf.len, &done);
	/* keep what did not go out for the next attempt */
	memmove(w->buf.p, w->buf.p + done, w->buf.len - done);
	w->buf.len -= done;
	return r;
}

enum ts_out_result ts_fdw_write(struct ts_fdw *w, const struct ts_batch *b, uint32_t from,
				uint32_t n)
{
	enum ts_out_result r;
	const char *s;
	size_t len;

	if (!n)
		return TS_OUT_OK;
	s = ts_batch_lines(b, from, n, &len);
	if (w->coalesce) {
		if (w->buf.len >= TS_FDW_BLOCK && (r = ts_fdw_flush(w)) != TS_OUT_OK)
			return r;	/* nothing of this batch taken yet */
		if (ts_buf_append(&w->buf, s, len))
			return TS_OUT_RETRY;
		if (w->buf.len >= TS_FDW_BLOCK)
			ts_fdw_flush(w);	/* the batch is taken; errors show on flush */
		return TS_OUT_OK;
	}
	if (w->partial != b) {
		w->partial = b;
		w->partial_done = 0;
	}
	r = write_all(w, s, len, &w->partial_done);
	if (r == TS_OUT_OK)
		w->partial = NULL;
	return r;
}

void ts_fdw_free(struct ts_fdw *w)
{
	ts_buf_free(&w->buf);
}
