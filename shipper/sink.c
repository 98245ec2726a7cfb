// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The core's side of the sink API: batches of encoded lines shared by all
 * sinks, a byte buffer, finding a sink in the table, the sinks' log line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#include "ident.h"
#include "json.h"

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
	for (uint32_t i = 0; i < b->n_cgs; i++)
		ts_cginfo_put(b->cgs[i]);
	free(b->cgs);
	free(b->data);
	free(b->recs);
	free(b);
}

int ts_batch_hold(struct ts_batch *b, const struct ts_cginfo *cg)
{
	if (!cg || (b->n_cgs && b->cgs[b->n_cgs - 1] == cg))
		return 0;
	if (b->n_cgs == b->cap_cgs) {
		uint32_t n = b->cap_cgs ? b->cap_cgs * 2 : 8;
		const struct ts_cginfo **p = realloc(b->cgs, sizeof(*p) * n);

		if (!p)
			return -ENOMEM;
		b->cgs = p;
		b->cap_cgs = n;
	}
	ts_cginfo_get(cg);
	b->cgs[b->n_cgs++] = cg;
	return 0;
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

const struct ts_output_ops *ts_output_find(const char *spec)
{
	for (int i = 0; ts_output_table[i]; i++)
		if (ts_output_table[i]->match(spec))
			return ts_output_table[i];
	return NULL;
}

const struct ts_output_ops *ts_output_by_type(const char *type)
{
	for (int i = 0; ts_output_table[i]; i++)
		if (!strcmp(ts_output_table[i]->type, type))
			return ts_output_table[i];
	return NULL;
}

void ts_output_log(const struct ts_output *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write: lines from several sink threads never interleave */
	fprintf(stderr, "tcpship: %s: %s\n", o->name, line);
}

void ts_run_init(struct ts_run *r, const char *host, const char *agent_id, unsigned pid)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->host_json[ts_json_escape(r->host_json, r->host, strlen(r->host))] = 0;
	snprintf(r->agent_id, sizeof(r->agent_id), "%s", agent_id);
	r->pid = pid;
}
