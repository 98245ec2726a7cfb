// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Batches of encoded lines shared by all sinks, and a byte buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

struct ts_batch *ts_batch_new(size_t cap_bytes, uint32_t cap_n)
{
	struct ts_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->data = malloc(cap_bytes);
	b->recs = malloc(sizeof(*b->recs) * cap_n);
	if (!b->data || !b->recs) {
		free(b->data);
		free(b->recs);
		free(b);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	b->cap = cap_bytes;
	b->cap_n = cap_n;
	return b;
}

/* Double the room for lines (up to max_bytes) or records (up to max_n).
 * A batch starts small and grows, so a quiet host's one-event batches do
 * not pin hundreds of KiB each while they sit in a queue. */
int ts_batch_grow(struct ts_batch *b, size_t max_bytes, uint32_t max_n, bool recs)
{
	if (recs) {
		uint32_t n = b->cap_n * 2 > max_n ? max_n : b->cap_n * 2;
		struct ts_rec *r;

		if (n <= b->cap_n || !(r = realloc(b->recs, sizeof(*r) * n)))
			return -ENOSPC;
		b->recs = r;
		b->cap_n = n;
	} else {
		size_t n = b->cap * 2 > max_bytes ? max_bytes : b->cap * 2;
		char *d;

		if (n <= b->cap || !(d = realloc(b->data, n)))
			return -ENOSPC;
		b->data = d;
		b->cap = n;
	}
	return 0;
}

void ts_batch_get(struct ts_batch *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void ts_batch_put(struct ts_batch *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(b->data);
	free(b->recs);
	free(b);
}

int ts_buf_reserve(struct ts_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int ts_buf_append(struct ts_buf *b, const void *s, size_t n)
{
	int err = ts_buf_reserve(b, n);

	if (err)
		return err;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

void ts_buf_free(struct ts_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
