// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * stdout: to a pipe or terminal every batch is written at once (jq sees
 * events as they happen); to a regular file lines are gathered into large
 * blocks and written when 256 KiB are pending or the queue goes idle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"

#define BLOCK (256 * 1024)

struct priv {
	int fd;
	bool coalesce;
	struct ts_buf buf;
	/* a write cut short by an error resumes here on the retry */
	const struct ts_batch *partial;
	size_t partial_done;
};

static bool stdout_match(const char *spec)
{
	return !strcmp(spec, "stdout") || !strcmp(spec, "-");
}

static int stdout_open(struct ts_output *o, const char *spec, char *err, size_t errlen)
{
	struct priv *p = calloc(1, sizeof(*p));
	struct stat st;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->fd = STDOUT_FILENO;
	p->coalesce = !fstat(p->fd, &st) && S_ISREG(st.st_mode);
	o->priv = p;
	snprintf(o->name, sizeof(o->name), "stdout");
	return 0;
}

/* 0, or the result the core should act on; *done counts what went out. */
static enum ts_out_result write_all(int fd, const char *s, size_t n, size_t *done)
{
	while (*done < n) {
		ssize_t w = write(fd, s + *done, n - *done);

		if (w > 0) {
			*done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == EBADF))
			return TS_OUT_FATAL;	/* the reader is gone */
		return TS_OUT_RETRY;		/* ENOSPC, EIO, EAGAIN: try again later */
	}
	return TS_OUT_OK;
}

static enum ts_out_result flush_buf(struct priv *p)
{
	size_t done = 0;
	enum ts_out_result r = write_all(p->fd, p->buf.p, p->buf.len, &done);

	/* keep what did not go out for the next attempt */
	memmove(p->buf.p, p->buf.p + done, p->buf.len - done);
	p->buf.len -= done;
	return r;
}

static enum ts_out_result stdout_write(struct ts_output *o, const struct ts_batch *b,
				       uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	const struct ts_rec *first = &b->recs[from], *last = &b->recs[from + n - 1];
	const char *s = b->data + first->off;
	size_t len = last->off + last->len - first->off;
	enum ts_out_result r;

	if (!n)
		return TS_OUT_OK;
	if (p->coalesce) {
		if (p->buf.len >= BLOCK && (r = flush_buf(p)) != TS_OUT_OK)
			return r;	/* nothing of this batch taken yet */
		if (ts_buf_append(&p->buf, s, len))
			return TS_OUT_RETRY;
		if (p->buf.len >= BLOCK)
			flush_buf(p);	/* the batch is taken; errors show on flush */
		return TS_OUT_OK;
	}
	if (p->partial != b) {
		p->partial = b;
		p->partial_done = 0;
	}
	r = write_all(p->fd, s, len, &p->partial_done);
	if (r == TS_OUT_OK)
		p->partial = NULL;
	return r;
}

static enum ts_out_result stdout_flush(struct ts_output *o)
{
	struct priv *p = o->priv;

	return p->buf.len ? flush_buf(p) : TS_OUT_OK;
}

static void stdout_close(struct ts_output *o)
{
	struct priv *p = o->priv;

	ts_buf_free(&p->buf);
	free(p);
	o->priv = NULL;
}

static int stdout_format(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			 uint32_t n, struct ts_buf *out)
{
	for (uint32_t i = from; i < from + n; i++)
		if (ts_buf_append(out, b->data + b->recs[i].off, b->recs[i].len))
			return -ENOMEM;
	return 0;
}

const struct ts_output_ops ts_output_stdout = {
	.type = "stdout",
	.match = stdout_match,
	.open = stdout_open,
	.write = stdout_write,
	.flush = stdout_flush,
	.close = stdout_close,
	.format = stdout_format,
	.default_drop_when_full = false,
};
