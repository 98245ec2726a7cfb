// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fanout_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conf.h"
#include "dqueue.h"
#include "shape.h"
#include "util.h"

/* The core's side of the sink interface, per worker thread: which worker
 * this is, what the sink dropped for good during a write, and how long the
 * receiver asked us to wait (HTTP Retry-After). */
__thread int ts_fo_worker;
static __thread uint32_t tl_dropped, tl_delivered;
static __thread uint64_t tl_retry_after_ns;
static __thread struct sink *tl_sink;

/* lock-free, so a signal handler may set it */
static _Atomic uint64_t quit_ns;

void ts_fanout_quit(uint64_t deadline_ns)
{
	atomic_store(&quit_ns, deadline_ns);
}

bool ts_fo_quitting(void)
{
	uint64_t q = atomic_load(&quit_ns);

	return q && ts_now_ns(CLOCK_MONOTONIC) >= q;
}

int ts_out_worker(void)
{
	return ts_fo_worker;
}

void ts_out_dropped(uint32_t n)
{
	tl_dropped += n;
}

void ts_out_delivered(uint32_t n)
{
	tl_delivered += n;
}

void ts_out_retry_after(uint64_t ns)
{
	if (ns > tl_retry_after_ns)
		tl_retry_after_ns = ns;
}

struct ts_fanout *ts_fanout_new(const struct ts_run *run)
{
	struct ts_fanout *f = calloc(1, sizeof(struct ts_fanout));

	if (f)
		f->run = *run;
	return f;
}

int ts_fanout_add(struct ts_fanout *f, const struct ts_output_ops *ops, void *conf,
		  const struct ts_queue_opts *q, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct sink *s;
	int rc;

	if (f->n == MAX_SINKS) {
		snprintf(err, errlen, "too many outputs (at most %d)", MAX_SINKS);
		rc = -E2BIG;
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	s->out.ops = ops;
	s->out.run = &f->run;
	s->conf = conf;
	snprintf(s->out.name, sizeof(s->out.name), "%s", ops->type);
	s->q = *q;
	if (!s->q.max_events)
		s->q.max_events = 65536;
	if (!s->q.idle_flush_ns)
		s->q.idle_flush_ns = 200 * 1000000ULL;
	if (!s->q.retry_base_ns)
		s->q.retry_base_ns = 100 * 1000000ULL;
	if (!s->q.retry_max_ns)
		s->q.retry_max_ns = 30 * 1000000000ULL;
	s->drop_when_full = q->when_full == TS_FULL_DEFAULT ? ops->default_drop_when_full
							     : q->when_full == TS_FULL_DROP;
	s->out.workers = 1;
	s->out.durable = q->type == TS_QUEUE_DISK;
	rc = ops->open(&s->out, conf, err, errlen);
	if (rc) {
		free(s);
		goto fail;
	}
	if (q->name[0])
		snprintf(s->out.name, sizeof(s->out.name), "%s", q->name);
	if (q->type == TS_QUEUE_DISK) {
		rc = ts_fo_open_disk(f, s, err, errlen);
		if (rc) {
			if (ops->close)
				ops->close(&s->out);
			free(s);
			goto fail;
		}
	}
	s->n_workers = s->out.workers < 1 ? 1 : s->out.workers > MAX_WORKERS ? MAX_WORKERS
										: s->out.workers;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv_work, &ca);
	pthread_cond_init(&s->cv_space, &ca);
	pthread_condattr_destroy(&ca);
	f->sinks[f->n++] = s;
	return 0;
fail:
	ts_conf_free(ops->opts, conf);
	free(conf);
	return rc;
}

void ts_fo_abstime(struct timespec *ts, uint64_t mono_ns)
{
	ts->tv_sec = (time_t)(mono_ns / 1000000000ULL);
	ts->tv_nsec = (long)(mono_ns % 1000000000ULL);
}

/* Full-jitter backoff: uniform in [0, min(max, base << attempt)). */
static uint64_t backoff_ns(const struct sink *s, unsigned attempt)
{
	uint64_t cap = s->q.retry_base_ns;
	uint64_t r;

	for (unsigned i = 0; i < attempt && cap < s->q.retry_max_ns; i++)
		cap *= 2;
	if (cap > s->q.retry_max_ns)
		cap = s->q.retry_max_ns;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)rand();
	return r % (cap ? cap : 1);
}

/* Sleep until t or until stop is asked, whichever is first. Returns true if
 * the exit deadline has passed. */
static bool wait_retry(struct sink *s, uint64_t t)
{
	struct timespec ts;
	bool late;

	pthread_mutex_lock(&s->mu);
	if (s->closing && s->deadline_ns && t > s->deadline_ns)
		t = s->deadline_ns;
	ts_fo_abstime(&ts, t);
	while (ts_now_ns(CLOCK_MONOTONIC) < t)
		if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT)
			break;
	late = s->closing && s->deadline_ns && ts_now_ns(CLOCK_MONOTONIC) >= s->deadline_ns;
	pthread_mutex_unlock(&s->mu);
	return late;
}

void ts_fo_sink_dead(struct sink *s)
{
	atomic_store(&s->dead, true);
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->cv_space);
	pthread_mutex_unlock(&s->mu);
}

/* Count n events of a unit in counter c, unless stop already counted the
 * whole unit as dropped at exit. */
static void account(struct sink *s, _Atomic uint64_t *c, uint64_t n)
{
	bool abandoned;

	pthread_mutex_lock(&s->mu);
	abandoned = s->abandoned;
	pthread_mutex_unlock(&s->mu);
	if (!abandoned && n)
		atomic_fetch_add(c, n);
}

static bool past_deadline(struct sink *s)
{
	bool late;

	pthread_mutex_lock(&s->mu);
	late = s->closing && s->deadline_ns && ts_now_ns(CLOCK_MONOTONIC) >= s->deadline_ns;
	pthread_mutex_unlock(&s->mu);
	return late;
}

const uint64_t ts_write_bucket_ns[TS_WRITE_BUCKETS] = {
	1000000ULL, 5000000ULL, 10000000ULL, 25000000ULL, 50000000ULL, 100000000ULL,
	250000000ULL, 500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL,
};

static void count_write(struct sink *s, uint64_t ns)
{
	for (int i = 0; i < TS_WRITE_BUCKETS; i++)
		if (ns <= ts_write_bucket_ns[i])
			atomic_fetch_add(&s->write_le[i], 1);
	atomic_fetch_add(&s->writes, 1);
	atomic_fetch_add(&s->write_ns, ns);
}

bool ts_out_past_deadline(void)
{
	return tl_sink && past_deadline(tl_sink);
}

/* Hand b to the sink until it is delivered, dropped, or the exit deadline
 * passes; every event ends in exactly one counter. A sink may say, during a
 * write, that some events went for good (ts_out_delivered: part of a bulk
 * request accepted) or were rejected for good (ts_out_dropped); whatever
 * result follows applies to the rest. */
bool ts_fo_deliver(struct sink *s, struct ts_batch *b)
{
	uint32_t dropped = 0, delivered = 0, rest;
	unsigned attempt = 0;

	tl_sink = s;
	if (atomic_load(&s->dead)) {
		account(s, &s->dropped_error, b->n);
		return true;
	}
	for (;;) {
		enum ts_out_result r;
		uint64_t wait;

		if (past_deadline(s)) {
			/* never write after the deadline: stop is counting on it.
			 * A disk queue keeps the rest for the next run (the part
			 * delivered goes again: at least once). */
			account(s, &s->events_out, delivered);
			if (s->dq)
				return false;
			account(s, &s->dropped_exit, b->n - dropped - delivered);
			return true;
		}
		tl_dropped = tl_delivered = 0;
		tl_retry_after_ns = 0;
		uint64_t t0 = ts_now_ns(CLOCK_MONOTONIC);

		r = s->out.ops->write(&s->out, b, 0, b->n);
		count_write(s, ts_now_ns(CLOCK_MONOTONIC) - t0);
		rest = b->n - dropped - delivered;
		if (tl_dropped > rest)
			tl_dropped = rest;
		dropped += tl_dropped;
		account(s, &s->dropped_error, tl_dropped);
		rest -= tl_dropped;
		delivered += tl_delivered < rest ? tl_delivered : rest;
		rest = b->n - dropped - delivered;
		switch (r) {
		case TS_OUT_OK:
			account(s, &s->events_out, delivered + rest);
			return true;
		case TS_OUT_DROP:
		case TS_OUT_FATAL:
			account(s, &s->events_out, delivered);
			account(s, &s->dropped_error, rest);
			if (r == TS_OUT_FATAL)
				ts_fo_sink_dead(s);
			return true;
		case TS_OUT_RETRY:
			atomic_fetch_add(&s->retries, 1);
			wait = backoff_ns(s, attempt++);
			if (tl_retry_after_ns > wait)
				wait = tl_retry_after_ns;
			wait_retry(s, ts_now_ns(CLOCK_MONOTONIC) + wait);
			break;	/* the deadline is checked before the next write */
		}
	}
}

/* Move records from the head of the queue into unit (called with mu held),
 * within the sink's batching limits. Returns true when the unit is full. */
static bool take(struct sink *s, struct ts_batch *unit)
{
	const struct ts_out_batching *bt = &s->out.batching;
	struct node *nd = s->head;
	struct ts_batch *b = nd->b;
	uint32_t first = nd->used, k = first;
	size_t bytes = 0;

	while (k < b->n && unit->n + (k - first) < bt->max_events &&
	       (unit->n + (k - first) == 0 || unit->len + bytes + b->recs[k].len <= bt->max_bytes))
		bytes += b->recs[k++].len;
	if (k > first) {
		size_t off = b->recs[first].off;

		memcpy(unit->data + unit->len, b->data + off, bytes);
		for (uint32_t i = first; i < k; i++) {
			struct ts_rec *r = &unit->recs[unit->n++];

			*r = b->recs[i];
			r->off = (uint32_t)(unit->len + (b->recs[i].off - off));
			/* the unit outlives b: it holds what its records point at */
			if (r->cg && ts_batch_hold(unit, r->cg))
				r->cg = NULL;
		}
		unit->len += bytes;
		nd->used = k;
		s->queued -= k - first;
		s->inflight += k - first;
	}
	/* stopped inside the batch: the next record does not fit */
	bool split = k < b->n;

	if (!split) {
		s->head = nd->next;
		if (!s->head)
			s->tail = NULL;
		ts_batch_put(b);
		free(nd);
	}
	pthread_cond_signal(&s->cv_space);
	return split || unit->n >= bt->max_events || unit->len >= bt->max_bytes;
}

/* With mu held: wait for a batch, a reopen, the idle-flush time (when
 * something is pending) or `until` (a unit being filled), or the close. */
static enum wait_result wait_work(struct sink *s, bool pending, uint64_t until)
{
	struct timespec ts;

	for (;;) {
		if (s->abandoned)
			return W_END;	/* what is queued was counted at the deadline */
		if (s->closing && s->deadline_ns && s->head &&
		    ts_now_ns(CLOCK_MONOTONIC) >= s->deadline_ns) {
			/* too late to send: count the rest, here, once */
			while (s->head) {
				struct node *nd = s->head;

				s->head = nd->next;
				atomic_fetch_add(&s->dropped_exit, nd->b->n - nd->used);
				s->queued -= nd->b->n - nd->used;
				ts_batch_put(nd->b);
				free(nd);
			}
			s->tail = NULL;
			pthread_cond_broadcast(&s->cv_space);
			return W_END;
		}
		if (s->reopen)
			return W_REOPEN;
		if (s->head)
			return W_QUEUE;
		if (s->closing)
			return W_END;
		if (until || pending) {
			uint64_t t = until ? until : ts_now_ns(CLOCK_MONOTONIC) + s->q.idle_flush_ns;

			ts_fo_abstime(&ts, t);
			if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT &&
			    !s->head && !s->reopen)
				return until ? W_TIMEOUT : W_IDLE;
		} else {
			pthread_cond_wait(&s->cv_work, &s->mu);
		}
	}
}

static void *worker(void *arg)
{
	struct wctx *w = arg;
	struct sink *s = w->s;
	bool batching = s->out.batching.max_events > 0, pending = false;

	ts_fo_worker = w->index;
	free(w);
	for (;;) {
		struct ts_batch *unit = NULL;
		uint64_t until = 0;
		enum wait_result r;

		pthread_mutex_lock(&s->mu);
		for (;;) {
			r = wait_work(s, pending && !unit, until);
			if (r == W_REOPEN && unit)
				break;	/* send what was gathered for the old target */
			if (r != W_QUEUE)
				break;
			if (!batching) {
				struct node *nd = s->head;

				s->head = nd->next;
				if (!s->head)
					s->tail = NULL;
				s->queued -= nd->b->n;
				s->inflight += nd->b->n;
				pthread_cond_signal(&s->cv_space);
				unit = nd->b;
				free(nd);
				break;
			}
			if (!unit) {
				unit = ts_batch_new(s->out.batching.max_bytes + TS_LINE_MAX,
						    s->out.batching.max_events);
				if (!unit)
					break;
				until = ts_now_ns(CLOCK_MONOTONIC) + s->out.batching.max_delay_ns;
			}
			/* closing: fill the unit from what is left, then send */
			if (take(s, unit) || (s->closing && !s->head))
				break;
		}
		if (r == W_REOPEN && !unit) {
			ts_fo_reopen(s, &pending);	/* unlocks mu */
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		if (unit) {
			uint32_t n = unit->n;

			ts_fo_deliver(s, unit);
			ts_batch_put(unit);
			pending = true;
			pthread_mutex_lock(&s->mu);
			if (!s->abandoned)
				s->inflight -= n;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		if (r == W_IDLE || r == W_END)
			ts_fo_flush(s, pending);
		pending = false;
		if (r == W_END)
			break;
	}
	ts_fo_worker_exit(s);
	return NULL;
}

/* SIGHUP on the worker: flush what is pending to the old target, reopen.
 * Called with mu held; returns with it released. */
void ts_fo_reopen(struct sink *s, bool *pending)
{
	s->reopen = false;
	pthread_mutex_unlock(&s->mu);
	if (*pending && s->out.ops->flush)
		s->out.ops->flush(&s->out);
	*pending = false;
	if (s->out.ops->reopen)
		s->out.ops->reopen(&s->out);
}

/* The queue went idle (or is closing): push out what the sink buffers. */
void ts_fo_flush(struct sink *s, bool pending)
{
	if (pending && s->out.ops->flush && !atomic_load(&s->dead) &&
	    s->out.ops->flush(&s->out) == TS_OUT_FATAL)
		ts_fo_sink_dead(s);
}

/* The last worker out closes the sink. */
void ts_fo_worker_exit(struct sink *s)
{
	bool last;

	pthread_mutex_lock(&s->mu);
	last = --s->running == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	if (s->out.ops->counters)
		s->out.ops->counters(&s->out, s->extra_final, sizeof(s->extra_final));
	pthread_mutex_lock(&s->mu);
	s->sink_closed = true;	/* stats use extra_final from now on */
	pthread_mutex_unlock(&s->mu);
	if (s->out.ops->close)
		s->out.ops->close(&s->out);
	pthread_mutex_lock(&s->mu);
	s->finished = true;
	pthread_cond_broadcast(&s->cv_space);
	pthread_mutex_unlock(&s->mu);
}

int ts_fanout_start(struct ts_fanout *f, char *err, size_t errlen)
{
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];
		char why[400] = "";
		int rc = s->out.ops->start ? s->out.ops->start(&s->out, why, sizeof(why)) : 0;

		if (!rc && s->dq)
			rc = ts_dq_start(s->dq, why, sizeof(why));
		if (rc)
			return ts_err(err, errlen, rc, "%s: %s", s->out.name, why);
		s->running = s->n_workers;
		for (unsigned k = 0; k < s->n_workers; k++) {
			struct wctx *w = malloc(sizeof(*w));

			if (!w)
				return ts_err(err, errlen, -ENOMEM, "out of memory");
			w->s = s;
			w->index = (int)k;
			rc = pthread_create(&s->threads[k], NULL, s->dq ? ts_fo_dworker : worker, w);
			if (rc) {
				free(w);
				return ts_err(err, errlen, -rc, "%s: cannot start a thread: %s",
					      s->out.name, strerror(rc));
			}
		}
		s->started = true;
	}
	return 0;
}

static void enqueue(struct sink *s, struct ts_batch *b)
{
	struct node *nd;

	if (atomic_load(&s->dead)) {
		atomic_fetch_add(&s->dropped_error, b->n);
		return;
	}
	if (s->dq) {
		ts_fo_enqueue_disk(s, b);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->queued + b->n > s->q.max_events && s->queued) {
		if (s->drop_when_full) {
			pthread_mutex_unlock(&s->mu);
			atomic_fetch_add(&s->dropped_full, b->n);
			return;
		}
		while (s->queued + b->n > s->q.max_events && s->queued &&
		       !atomic_load(&s->dead) && !s->finished) {
			struct timespec ts;

			if (ts_fo_quitting()) {
				/* exiting: the reader must not wait for ever */
				pthread_mutex_unlock(&s->mu);
				atomic_fetch_add(&s->dropped_exit, b->n);
				return;
			}
			ts_fo_abstime(&ts, ts_now_ns(CLOCK_MONOTONIC) + 200 * 1000000ULL);
			pthread_cond_timedwait(&s->cv_space, &s->mu, &ts);
		}
	}
	nd = malloc(sizeof(*nd));
	if (!nd || atomic_load(&s->dead) || s->finished) {
		pthread_mutex_unlock(&s->mu);
		free(nd);
		atomic_fetch_add(&s->dropped_error, b->n);
		return;
	}
	ts_batch_get(b);
	nd->b = b;
	nd->used = 0;
	nd->next = NULL;
	if (s->tail)
		s->tail->next = nd;
	else
		s->head = nd;
	s->tail = nd;
	s->queued += b->n;
	pthread_cond_signal(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
}

uint32_t ts_fanout_shapes(const struct ts_fanout *f)
{
	uint32_t m = 0;

	for (int i = 0; i < f->n; i++)
		m |= 1u << f->sinks[i]->q.shape;
	return m;
}

void ts_fanout_publish(struct ts_fanout *f, unsigned shape, struct ts_batch *b)
{
	/* disk queues first: an event any output has seen is on disk, so a
	 * crash after it cannot lose it for the disk-queued ones */
	for (int pass = 0; pass < 2 && b->n; pass++)
		for (int i = 0; i < f->n; i++)
			if (f->sinks[i]->q.shape == shape && (f->sinks[i]->dq == NULL) == pass)
				enqueue(f->sinks[i], b);
	ts_batch_put(b);
}

bool ts_fanout_alive(const struct ts_fanout *f)
{
	for (int i = 0; i < f->n; i++)
		if (!atomic_load(&f->sinks[i]->dead))
			return true;
	return false;
}

void ts_fanout_reopen(struct ts_fanout *f)
{
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];

		pthread_mutex_lock(&s->mu);
		s->reopen = true;
		pthread_cond_signal(&s->cv_work);
		pthread_mutex_unlock(&s->mu);
	}
}

void ts_fanout_stop(struct ts_fanout *f, uint64_t deadline_ns)
{
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];

		pthread_mutex_lock(&s->mu);
		s->closing = true;
		s->deadline_ns = deadline_ns;
		pthread_cond_broadcast(&s->cv_work);
		pthread_mutex_unlock(&s->mu);
	}
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];
		struct timespec ts;

		if (!s->started)
			continue;
		/* workers count what they hold once the deadline passes; give
		 * them a moment to, before taking it as stuck in a write */
		ts_fo_abstime(&ts, deadline_ns + 500 * 1000000ULL);
		pthread_mutex_lock(&s->mu);
		while (!s->finished)
			if (pthread_cond_timedwait(&s->cv_space, &s->mu, &ts) == ETIMEDOUT)
				break;
		if (s->finished) {
			pthread_mutex_unlock(&s->mu);
			for (unsigned k = 0; k < s->n_workers; k++)
				pthread_join(s->threads[k], NULL);
			s->started = false;
			continue;
		}
		/* A sink stuck in a write past the deadline: what it still
		 * holds is lost, and said so. The threads are left behind. */
		if (!s->dq)	/* a disk queue still has them, for the next run */
			atomic_fetch_add(&s->dropped_exit, s->queued + s->inflight);
		s->queued = s->inflight = 0;
		s->abandoned = true;
		pthread_mutex_unlock(&s->mu);
	}
}

int ts_fanout_count(const struct ts_fanout *f)
{
	return f->n;
}

void ts_fanout_stats(const struct ts_fanout *f, int i, struct ts_sink_stats *st)
{
	struct sink *s = f->sinks[i];

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", s->out.name);
	pthread_mutex_lock(&s->mu);
	st->queued = s->queued;
	/* under the lock: the last worker cannot close the sink meanwhile */
	if (s->sink_closed)
		snprintf(st->extra, sizeof(st->extra), "%s", s->extra_final);
	else if (s->out.ops->counters && s->out.priv)
		s->out.ops->counters(&s->out, st->extra, sizeof(st->extra));
	pthread_mutex_unlock(&s->mu);
	st->events_out = atomic_load(&s->events_out);
	st->dropped_full = atomic_load(&s->dropped_full);
	st->dropped_error = atomic_load(&s->dropped_error);
	st->dropped_exit = atomic_load(&s->dropped_exit);
	st->retries = atomic_load(&s->retries);
	st->dead = atomic_load(&s->dead);
	st->dropped_disk = atomic_load(&s->dropped_disk);
	for (int k = 0; k < TS_WRITE_BUCKETS; k++)
		st->write_le[k] = atomic_load(&s->write_le[k]);
	st->writes = atomic_load(&s->writes);
	st->write_ns = atomic_load(&s->write_ns);
	if (s->dq) {
		st->disk = true;
		ts_dq_stats(s->dq, &st->dq);
		st->queued = st->dq.records;
	}
}

void ts_fanout_free(struct ts_fanout *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];

		if (s->started)	/* stuck past the deadline: leave it be */
			continue;
		if (!s->finished && s->out.ops->close)	/* opened, never run */
			s->out.ops->close(&s->out);
		ts_dq_close(s->dq);
		ts_conf_free(s->out.ops->opts, s->conf);
		free(s->conf);
		while (s->head) {
			struct node *nd = s->head;

			s->head = nd->next;
			ts_batch_put(nd->b);
			free(nd);
		}
		free(s);
	}
	free(f);
}
