// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fanout.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conf.h"
#include "util.h"

#define MAX_SINKS 32

struct node {
	struct node *next;
	struct ts_batch *b;
};

struct sink {
	struct ts_output out;
	void *conf;			/* the sink's parsed options, freed last */
	char extra_final[160];		/* its own counters, taken before close */
	struct ts_queue_opts q;
	bool drop_when_full;

	pthread_mutex_t mu;
	pthread_cond_t cv_work;		/* a batch arrived, or closing */
	pthread_cond_t cv_space;	/* room freed, or the sink died */
	struct node *head, *tail;
	uint64_t queued;
	bool closing, started, finished;
	bool reopen;
	pthread_t thread;
	uint64_t deadline_ns;

	_Atomic bool dead;
	_Atomic uint64_t events_out, dropped_full, dropped_error, dropped_exit, retries;
};

struct ts_fanout {
	struct sink *sinks[MAX_SINKS];
	int n;
};

struct ts_fanout *ts_fanout_new(void)
{
	return calloc(1, sizeof(struct ts_fanout));
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
	rc = ops->open(&s->out, conf, err, errlen);
	if (rc) {
		free(s);
		goto fail;
	}
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

static void abstime(struct timespec *ts, uint64_t mono_ns)
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
	abstime(&ts, t);
	while (ts_now_ns(CLOCK_MONOTONIC) < t)
		if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT)
			break;
	late = s->closing && s->deadline_ns && ts_now_ns(CLOCK_MONOTONIC) >= s->deadline_ns;
	pthread_mutex_unlock(&s->mu);
	return late;
}

static void deliver(struct sink *s, struct ts_batch *b)
{
	unsigned attempt = 0;

	if (atomic_load(&s->dead)) {
		atomic_fetch_add(&s->dropped_error, b->n);
		return;
	}
	for (;;) {
		enum ts_out_result r = s->out.ops->write(&s->out, b, 0, b->n);

		switch (r) {
		case TS_OUT_OK:
			atomic_fetch_add(&s->events_out, b->n);
			return;
		case TS_OUT_DROP:
			atomic_fetch_add(&s->dropped_error, b->n);
			return;
		case TS_OUT_FATAL:
			atomic_fetch_add(&s->dropped_error, b->n);
			atomic_store(&s->dead, true);
			pthread_mutex_lock(&s->mu);
			pthread_cond_broadcast(&s->cv_space);
			pthread_mutex_unlock(&s->mu);
			return;
		case TS_OUT_RETRY:
			atomic_fetch_add(&s->retries, 1);
			if (wait_retry(s, ts_now_ns(CLOCK_MONOTONIC) + backoff_ns(s, attempt++))) {
				atomic_fetch_add(&s->dropped_exit, b->n);
				return;
			}
			break;
		}
	}
}

static void *worker(void *arg)
{
	struct sink *s = arg;
	bool pending = false;

	for (;;) {
		struct node *nd;

		pthread_mutex_lock(&s->mu);
		while (!s->head && !s->closing && !s->reopen) {
			if (pending) {
				struct timespec ts;

				abstime(&ts, ts_now_ns(CLOCK_MONOTONIC) + s->q.idle_flush_ns);
				if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT &&
				    !s->head)
					break;
			} else {
				pthread_cond_wait(&s->cv_work, &s->mu);
			}
		}
		if (s->reopen) {
			s->reopen = false;
			pthread_mutex_unlock(&s->mu);
			/* what was written before the reopen goes to the old file */
			if (pending && s->out.ops->flush)
				s->out.ops->flush(&s->out);
			pending = false;
			if (s->out.ops->reopen)
				s->out.ops->reopen(&s->out);
			continue;
		}
		nd = s->head;
		if (!nd) {
			bool closing = s->closing;

			pthread_mutex_unlock(&s->mu);
			if (pending && s->out.ops->flush && !atomic_load(&s->dead) &&
			    s->out.ops->flush(&s->out) == TS_OUT_FATAL)
				atomic_store(&s->dead, true);
			pending = false;
			if (closing)
				break;
			continue;
		}
		s->head = nd->next;
		if (!s->head)
			s->tail = NULL;
		s->queued -= nd->b->n;
		pthread_cond_signal(&s->cv_space);
		pthread_mutex_unlock(&s->mu);

		deliver(s, nd->b);
		pending = true;
		ts_batch_put(nd->b);
		free(nd);
	}
	if (s->out.ops->counters)
		s->out.ops->counters(&s->out, s->extra_final, sizeof(s->extra_final));
	if (s->out.ops->close)
		s->out.ops->close(&s->out);
	pthread_mutex_lock(&s->mu);
	s->finished = true;
	pthread_cond_broadcast(&s->cv_space);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int ts_fanout_start(struct ts_fanout *f)
{
	for (int i = 0; i < f->n; i++) {
		int err = pthread_create(&f->sinks[i]->thread, NULL, worker, f->sinks[i]);

		if (err)
			return -err;
		f->sinks[i]->started = true;
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
	pthread_mutex_lock(&s->mu);
	if (s->queued + b->n > s->q.max_events && s->queued) {
		if (s->drop_when_full) {
			pthread_mutex_unlock(&s->mu);
			atomic_fetch_add(&s->dropped_full, b->n);
			return;
		}
		while (s->queued + b->n > s->q.max_events && s->queued &&
		       !atomic_load(&s->dead) && !s->finished)
			pthread_cond_wait(&s->cv_space, &s->mu);
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

void ts_fanout_publish(struct ts_fanout *f, struct ts_batch *b)
{
	if (b->n)
		for (int i = 0; i < f->n; i++)
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
		abstime(&ts, deadline_ns);
		pthread_mutex_lock(&s->mu);
		while (!s->finished)
			if (pthread_cond_timedwait(&s->cv_space, &s->mu, &ts) == ETIMEDOUT)
				break;
		if (s->finished) {
			pthread_mutex_unlock(&s->mu);
			pthread_join(s->thread, NULL);
			s->started = false;
			continue;
		}
		/* A sink stuck in a write past the deadline: what it still
		 * holds is lost, and said so. The thread is left behind. */
		atomic_fetch_add(&s->dropped_exit, s->queued);
		s->queued = 0;
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
	bool finished;

	pthread_mutex_lock(&s->mu);
	st->queued = s->queued;
	finished = s->finished;
	pthread_mutex_unlock(&s->mu);
	st->events_out = atomic_load(&s->events_out);
	st->dropped_full = atomic_load(&s->dropped_full);
	st->dropped_error = atomic_load(&s->dropped_error);
	st->dropped_exit = atomic_load(&s->dropped_exit);
	st->retries = atomic_load(&s->retries);
	st->dead = atomic_load(&s->dead);
	if (finished)
		snprintf(st->extra, sizeof(st->extra), "%s", s->extra_final);
	else if (s->out.ops->counters && s->out.priv)
		s->out.ops->counters(&s->out, st->extra, sizeof(st->extra));
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
