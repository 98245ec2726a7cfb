// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fan-out core with a scripted sink: gathering into units by count,
 * bytes and delay, retries, drops reported by the sink, the queue's full
 * policies, several workers, and the exit deadline. Every event must end in
 * exactly one counter.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout.h"
#include "shape.h"
#include "sink_open.h"
#include "test.h"
#include "util.h"

#define MAXSEEN 4096

/* what the scripted sink does and saw; one per test (tests run forked) */
static struct script {
	struct ts_out_batching batching;
	unsigned workers;
	int fail_first;			/* RETRY this many writes, then OK */
	uint32_t drop_per_write;	/* report this many as dropped for good */
	enum ts_out_result result;	/* after the failures */
	int block;			/* writes wait while set (under mu) */
	unsigned slow_us;		/* each write takes this long */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* broadcast on every change below */
	uint64_t seen[MAXSEEN];		/* seqs delivered, in order of arrival */
	int n_seen;
	uint32_t units[256];		/* size of each write that returned */
	int n_units;
	int writes;			/* write calls begun (under mu) */
	_Atomic int workers_seen;	/* bitmask of ts_out_worker() values */
} sc;

__attribute__((constructor)) static void script_init(void)
{
	pthread_condattr_t a;

	pthread_mutex_init(&sc.mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&sc.cv, &a);
	pthread_condattr_destroy(&a);
}

/* a stuck receiver: writes wait until the test lets them go */
static void set_block(int on)
{
	pthread_mutex_lock(&sc.mu);
	sc.block = on;
	pthread_cond_broadcast(&sc.cv);
	pthread_mutex_unlock(&sc.mu);
}

static int fake_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	o->batching = sc.batching;
	o->workers = sc.workers ? sc.workers : 1;
	o->priv = &sc;
	return 0;
}

static enum ts_out_result fake_write(struct ts_output *o, const struct ts_batch *b,
				     uint32_t from, uint32_t n)
{
	int w;

	pthread_mutex_lock(&sc.mu);
	w = sc.writes++;
	pthread_cond_broadcast(&sc.cv);
	while (sc.block)
		pthread_cond_wait(&sc.cv, &sc.mu);
	pthread_mutex_unlock(&sc.mu);
	if (sc.slow_us)
		usleep(sc.slow_us);	/* a request taking its time */
	atomic_fetch_or(&sc.workers_seen, 1 << ts_out_worker());
	if (w < sc.fail_first)
		return TS_OUT_RETRY;
	if (sc.drop_per_write)
		ts_out_dropped(sc.drop_per_write);
	if (sc.result != TS_OUT_OK)
		return sc.result;
	pthread_mutex_lock(&sc.mu);
	for (uint32_t i = from; i < from + n && sc.n_seen < MAXSEEN; i++) {
		/* the line must be where the record says */
		char want[32];

		snprintf(want, sizeof(want), "{\"seq\":%llu}\n", (unsigned long long)b->recs[i].seq);
		if (b->recs[i].len != strlen(want) || memcmp(b->data + b->recs[i].off, want, strlen(want)))
			sc.seen[sc.n_seen++] = 0;	/* a mangled line */
		else
			sc.seen[sc.n_seen++] = b->recs[i].seq;
	}
	if (sc.n_units < 256)
		sc.units[sc.n_units++] = n;
	pthread_cond_broadcast(&sc.cv);
	pthread_mutex_unlock(&sc.mu);
	return TS_OUT_OK;
}

static void fake_close(struct ts_output *o)
{
}

static const struct ts_output_ops fake_ops = {
	.type = "fake",
	.open = fake_open,
	.write = fake_write,
	.close = fake_close,
};

static uint64_t next_seq;

/* a reader batch of n records {"seq":N} */
static struct ts_batch *batch_of(uint32_t n)
{
	struct ts_batch *b = ts_batch_new(64 * n + 64, n);

	for (uint32_t i = 0; i < n; i++) {
		struct ts_rec *r = &b->recs[b->n++];
		int len = snprintf(b->data + b->len, 64, "{\"seq\":%llu}\n",
				   (unsigned long long)++next_seq);

		memset(r, 0, sizeof(*r));
		r->off = (uint32_t)b->len;
		r->len = (uint32_t)len;
		r->seq = next_seq;
		b->len += (size_t)len;
	}
	return b;
}

static struct ts_fanout *start(const struct ts_queue_opts *q)
{
	struct ts_fanout *f = ts_fanout_new(test_run());
	char err[128];

	if (ts_fanout_add(f, &fake_ops, calloc(1, 1), q, err, sizeof(err)) || ts_fanout_start(f, err, sizeof(err))) {
		FAIL("cannot start the fan-out: %s", err);
		return NULL;
	}
	return f;
}

static struct ts_sink_stats stop(struct ts_fanout *f, uint64_t deadline_ms)
{
	struct ts_sink_stats st;

	ts_fanout_stop(f, ts_now_ns(CLOCK_MONOTONIC) + deadline_ms * 1000000ULL);
	ts_fanout_stats(f, 0, &st);
	ts_fanout_free(f);
	return st;
}

static int seen_count(void)
{
	int n;

	pthread_mutex_lock(&sc.mu);
	n = sc.n_seen;
	pthread_mutex_unlock(&sc.mu);
	return n;
}

/* bounded wait until *counter (under mu) reaches n: delivered events or
 * write calls begun */
static bool wait_count(const int *counter, int n, int timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sc.mu);
	while (*counter < n && pthread_cond_timedwait(&sc.cv, &sc.mu, &until) == 0)
		;
	ok = *counter >= n;
	pthread_mutex_unlock(&sc.mu);
	return ok;
}

static bool wait_seen(int n, int timeout_ms)
{
	return wait_count(&sc.n_seen, n, timeout_ms);
}

static bool all_once_in_order(uint64_t first, uint64_t last, bool ordered)
{
	static uint8_t hit[MAXSEEN + 1];

	if (sc.n_seen != (int)(last - first + 1))
		return FAIL("delivered %d events, want %llu", sc.n_seen,
			    (unsigned long long)(last - first + 1));
	memset(hit, 0, sizeof(hit));
	for (int i = 0; i < sc.n_seen; i++) {
		uint64_t s = sc.seen[i];

		if (s < first || s > last || hit[s - first])
			return FAIL("seq %llu delivered twice, mangled or unknown", (unsigned long long)s);
		hit[s - first] = 1;
		if (ordered && i && s < sc.seen[i - 1])
			return FAIL("seq %llu after %llu", (unsigned long long)s,
				    (unsigned long long)sc.seen[i - 1]);
	}
	return true;
}

TEST(fanout_batches_pass_through)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f = start(&q);

	CHECK(f);
	for (int i = 0; i < 3; i++)
		ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(7));
	CHECK(wait_seen(21, 5000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK(all_once_in_order(1, 21, true));
	CHECK_U64(sc.n_units, 3);
	CHECK_U64(st.events_out, 21);
	CHECK_U64(st.dropped_full + st.dropped_error + st.dropped_exit + st.retries, 0);
}

TEST(fanout_units_by_count)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	sc.batching = (struct ts_out_batching){ 5, 1 << 20, 60ULL * 1000000000ULL };
	f = start(&q);
	CHECK(f);
	for (int i = 0; i < 4; i++)
		ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(3));	/* 12 events: 5 + 5 + 2 */
	CHECK(wait_seen(10, 5000));
	CHECK_U64(seen_count(), 10);	/* the last 2 wait for their delay */
	struct ts_sink_stats st = stop(f, 2000);	/* ... or the close */

	CHECK(all_once_in_order(1, 12, true));
	CHECK_U64(sc.n_units, 3);
	CHECK_U64(sc.units[0], 5);
	CHECK_U64(sc.units[1], 5);
	CHECK_U64(sc.units[2], 2);
	CHECK_U64(st.events_out, 12);
}

TEST(fanout_units_by_bytes)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	/* lines are 10 bytes ({"seq":N} and a newline, one-digit N) */
	sc.batching = (struct ts_out_batching){ 1000, 30, 60ULL * 1000000000ULL };
	f = start(&q);
	CHECK(f);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(9));
	CHECK(wait_seen(9, 5000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK(all_once_in_order(1, 9, true));
	CHECK_U64(sc.n_units, 3);
	for (int i = 0; i < 3; i++)
		CHECK_U64(sc.units[i], 3);
	CHECK_U64(st.events_out, 9);
}

TEST(fanout_units_by_delay)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;
	uint64_t t0;

	sc.batching = (struct ts_out_batching){ 1000, 1 << 20, 150 * 1000000ULL };
	f = start(&q);
	CHECK(f);
	t0 = ts_now_ns(CLOCK_MONOTONIC);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(2));
	CHECK(wait_seen(2, 5000));
	uint64_t took = ts_now_ns(CLOCK_MONOTONIC) - t0;

	CHECKF(took >= 140 * 1000000ULL, "sent after %llu ms, before max_delay",
	       (unsigned long long)(took / 1000000));
	CHECKF(took < 2000 * 1000000ULL, "sent after %llu ms", (unsigned long long)(took / 1000000));
	stop(f, 2000);
	CHECK_U64(sc.n_units, 1);
}

TEST(fanout_retry_then_ok)
{
	struct ts_queue_opts q = { .retry_base_ns = 1000000, .retry_max_ns = 5000000 };
	struct ts_fanout *f;

	sc.fail_first = 3;
	f = start(&q);
	CHECK(f);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(4));
	CHECK(wait_seen(4, 5000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK(all_once_in_order(1, 4, true));
	CHECK_U64(st.retries, 3);
	CHECK_U64(st.events_out, 4);
}

TEST(fanout_sink_reported_drops)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	sc.drop_per_write = 2;	/* e.g. two bulk items rejected with 400 */
	f = start(&q);
	CHECK(f);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(5));
	CHECK(wait_seen(5, 5000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK_U64(st.events_out, 3);
	CHECK_U64(st.dropped_error, 2);
}

TEST(fanout_drop_result)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	sc.result = TS_OUT_DROP;
	f = start(&q);
	CHECK(f);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(6));
	CHECK(wait_count(&sc.writes, 1, 5000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK_U64(st.events_out, 0);
	CHECK_U64(st.dropped_error, 6);
	CHECK_U64(st.retries, 0);
}

/* a stuck sink with the drop policy: the publisher never waits, and every
 * event is delivered, dropped at the full queue, or dropped at exit */
TEST(fanout_full_queue_drop_policy)
{
	struct ts_queue_opts q = { .max_events = 10, .when_full = TS_FULL_DROP };
	struct ts_fanout *f;

	set_block(1);
	f = start(&q);
	CHECK(f);
	for (int i = 0; i < 20; i++)
		ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(5));	/* 100 events, returns at once */
	set_block(0);
	CHECK(wait_seen(1, 5000));
	struct ts_sink_stats st = stop(f, 5000);

	CHECKF(st.dropped_full >= 80, "dropped_full %llu", (unsigned long long)st.dropped_full);
	CHECK_U64(st.events_out + st.dropped_full + st.dropped_exit + st.dropped_error, 100);
	CHECK_U64(st.events_out, (uint64_t)sc.n_seen);
}

/* the block policy makes the publisher wait instead: nothing dropped */
TEST(fanout_full_queue_block_policy)
{
	struct ts_queue_opts q = { .max_events = 10, .when_full = TS_FULL_BLOCK };
	struct ts_fanout *f = start(&q);

	CHECK(f);
	for (int i = 0; i < 60; i++)
		ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(5));
	CHECK(wait_seen(300, 10000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK(all_once_in_order(1, 300, true));
	CHECK_U64(st.dropped_full, 0);
}

TEST(fanout_several_workers)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	sc.workers = 4;
	sc.slow_us = 2000;	/* while one waits on its receiver, others send */
	sc.batching = (struct ts_out_batching){ 3, 1 << 20, 1000000 };
	f = start(&q);
	CHECK(f);
	for (int i = 0; i < 100; i++)
		ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(10));
	CHECK(wait_seen(1000, 10000));
	struct ts_sink_stats st = stop(f, 2000);

	CHECK(all_once_in_order(1, 1000, false));	/* in flight at once: order may vary */
	CHECK_U64(st.events_out, 1000);
	CHECKF(atomic_load(&sc.workers_seen) != 1, "only worker 0 wrote");
}

/* a write stuck past the exit deadline: what it holds and what is queued
 * are counted as dropped at exit */
TEST(fanout_exit_deadline_counts_the_rest)
{
	struct ts_queue_opts q = { 0 };
	struct ts_fanout *f;

	set_block(1);
	f = start(&q);
	CHECK(f);
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(4));
	ts_fanout_publish(f, TS_SHAPE_NATIVE, batch_of(6));
	CHECK(wait_count(&sc.writes, 1, 5000));
	struct ts_sink_stats st;

	ts_fanout_stop(f, ts_now_ns(CLOCK_MONOTONIC) + 100 * 1000000ULL);
	ts_fanout_stats(f, 0, &st);
	CHECK_U64(st.dropped_exit, 10);
	CHECK_U64(st.events_out, 0);
	/* the stuck worker is left behind; the process exits anyway */
}
