// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fdwriter.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ts_fdw_format(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n,
		  struct ts_buf *out)
{
	size_t len;
	const char *s;

	if (!n)
		return 0;
	s = ts_batch_lines(b, from, n, &len);
	return ts_buf_append(out, s, len);
}

void ts_fdw_init(struct ts_fdw *w, int fd)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
}

/* A short write left a partial line at the end of the file: take it back,
 * so the file only ever holds whole lines and the retry writes it whole. */
static size_t cut_half_line(struct ts_fdw *w, const char *s, size_t done)
{
	size_t keep = done;
	struct stat st;

	while (keep && s[keep - 1] != '\n')
		keep--;
	if (keep == done || fstat(w->fd, &st) ||
	    ftruncate(w->fd, st.st_size - (off_t)(done - keep)))
		return done;
	w->written -= done - keep;
	return keep;
}

enum ts_out_result ts_fdw_write(struct ts_fdw *w, const struct ts_batch *b, uint32_t from,
				uint32_t n, size_t *bytes)
{
	size_t len, *done = &w->partial_done, start;
	const char *s;

	*bytes = 0;
	if (!n)
		return TS_OUT_OK;
	s = ts_batch_lines(b, from, n, &len);
	if (w->partial != b) {
		w->partial = b;
		w->partial_done = 0;
	}
	start = *done;
	while (*done < len) {
		ssize_t r = write(w->fd, s + *done, len - *done);

		if (r > 0) {
			*done += (size_t)r;
			w->written += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		w->last_errno = r < 0 ? errno : EIO;
		if (w->regular)
			*done = cut_half_line(w, s, *done);
		*bytes = *done - start;
		if (r < 0 && (errno == EPIPE || errno == EBADF))
			return TS_OUT_FATAL;	/* the reader is gone */
		return TS_OUT_RETRY;		/* ENOSPC, EIO, EAGAIN: try again later */
	}
	*bytes = *done - start;
	w->partial = NULL;
	return TS_OUT_OK;
}
