// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reader and the shape table: a record is encoded once per shape some
 * output takes, each output gets the lines of its own shape, and a shape
 * nobody takes is not encoded at all. The records come through
 * ts_reader_handle (no ring buffer); the outputs are sinks that keep what
 * they are given.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fanout.h"
#include "reader.h"
#include "shape.h"
#include "sink_open.h"
#include "tcpship.h"
#include "test.h"
#include "util.h"

struct keep {
	pthread_mutex_t mu;
	char lines[4096];
	size_t len;
	uint32_t n;
	struct ts_rec last;
};

static struct keep kept[2];

static int keep_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	o->priv = &kept[*(const int *)conf];
	return 0;
}

static enum ts_out_result keep_write(struct ts_output *o, const struct ts_batch *b,
				     uint32_t from, uint32_t n)
{
	struct keep *k = o->priv;

	pthread_mutex_lock(&k->mu);
	for (uint32_t i = from; i < from + n; i++) {
		const struct ts_rec *r = &b->recs[i];

		if (k->len + r->len < sizeof(k->lines)) {
			memcpy(k->lines + k->len, b->data + r->off, r->len);
			k->len += r->len;
		}
		k->last = *r;
		k->n++;
	}
	pthread_mutex_unlock(&k->mu);
	return TS_OUT_OK;
}

static void keep_close(struct ts_output *o)
{
}

static const struct ts_output_ops keep_ops = {
	.type = "keep", .open = keep_open, .write = keep_write, .close = keep_close,
};

static void connect_record(struct ts_event *ev)
{
	static const uint8_t src[4] = { 127, 0, 0, 1 }, dst[4] = { 127, 0, 0, 2 };

	memset(ev, 0, sizeof(*ev));
	ev->h.size = sizeof(*ev);
	ev->h.type = TS_CONNECT;
	ev->h.probe = TS_TRACEPOINT;
	ev->h.family = TS_IPV4;
	ev->h.flags = TS_F_TASK | TS_F_SADDR;
	ev->h.pid = 77;
	ev->h.sport = 40000;
	ev->h.dport = 80;
	memcpy(ev->h.comm, "curl", 5);
	memcpy(ev->h.saddr, src, 4);
	memcpy(ev->h.daddr, dst, 4);
}

/* Two sinks with the shapes given; one connect record through the reader. */
static bool run_two(const char *file, int line, unsigned shape0, unsigned shape1,
		    struct ts_reader *r)
{
	static const int idx[2] = { 0, 1 };
	struct ts_fanout *f = ts_fanout_new(test_run());
	struct ts_event ev;
	char err[128];

	memset(kept, 0, sizeof(kept));
	for (int i = 0; i < 2; i++) {
		pthread_mutex_init(&kept[i].mu, NULL);
	}
	for (int i = 0; i < 2; i++) {
		struct ts_queue_opts q = { .shape = i ? shape1 : shape0 };
		int *conf = malloc(sizeof(int));

		*conf = idx[i];
		if (ts_fanout_add(f, &keep_ops, conf, &q, err, sizeof(err)))
			return ts_test_fail(file, line, "ts_fanout_add: %s", err);
	}
	if (ts_fanout_start(f, err, sizeof(err)) || ts_reader_init(r, -1, f, test_run(), 0))
		return ts_test_fail(file, line, "cannot start the reader");
	connect_record(&ev);
	ts_reader_handle(r, &ev, sizeof(ev));
	ts_reader_publish(r);
	ts_fanout_stop(f, ts_now_ns(CLOCK_MONOTONIC) + 2000000000ULL);
	ts_reader_free(r);
	ts_fanout_free(f);
	return true;
}

TEST(reader_one_line_per_shape_in_use)
{
	struct ts_reader r;

	if (!run_two(__FILE__, __LINE__, TS_SHAPE_NATIVE, TS_SHAPE_TEXT, &r))
		return;
	CHECK_U64(r.shapes, (1u << TS_SHAPE_NATIVE) | (1u << TS_SHAPE_TEXT));
	CHECK_INT(kept[0].n, 1);
	CHECK_INT(kept[1].n, 1);
	CHECKF(!strncmp(kept[0].lines, "{\"time\":\"", 9), "native got %s", kept[0].lines);
	CHECKF(strstr(kept[1].lines, " connect ") && strstr(kept[1].lines, "127.0.0.2:80"),
	       "text got %s", kept[1].lines);
	/* one record, one seq, whatever the number of shapes */
	CHECK_U64(r.seq, 1);
	CHECK_U64(kept[0].last.seq, 1);
	CHECK_U64(kept[1].last.seq, 1);
	/* the fields a sink reads come with each shape's line */
	CHECK_STR(kept[1].last.type, "connect");
	CHECK_INT(kept[1].last.family, AF_INET);
	CHECK_INT(kept[1].last.dport, 80);
	CHECK_INT(kept[1].last.flags, TS_REC_TASK | TS_REC_SADDR);
}

TEST(reader_shape_nobody_takes_is_not_encoded)
{
	struct ts_reader r;

	if (!run_two(__FILE__, __LINE__, TS_SHAPE_NATIVE, TS_SHAPE_NATIVE, &r))
		return;
	CHECK_U64(r.shapes, 1u << TS_SHAPE_NATIVE);
	CHECK_INT(kept[0].n, 1);
	CHECK_INT(kept[1].n, 1);
	/* the same line for both: encoded once, shared */
	CHECK_INT((int)kept[0].len, (int)kept[1].len);
	CHECK(!memcmp(kept[0].lines, kept[1].lines, kept[0].len));
}

TEST(shape_table_names)
{
	CHECK_INT(ts_shape_by_name("native"), TS_SHAPE_NATIVE);
	CHECK_INT(ts_shape_by_name("text"), TS_SHAPE_TEXT);
	CHECK_INT(ts_shape_by_name("ecs"), TS_SHAPE_ECS);
	CHECK_INT(ts_shape_by_name("ocsf"), TS_SHAPE_OCSF);
	CHECK_INT(ts_shape_by_name("cef"), TS_SHAPE_CEF);
	CHECK_INT(ts_shape_by_name("ECS"), -1);
	for (int i = 0; i < TS_SHAPE_MAX; i++)
		CHECKF(ts_shapes[i].name && ts_shapes[i].encode, "shape %d is incomplete", i);
}
