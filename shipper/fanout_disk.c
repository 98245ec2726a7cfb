// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fan-out's disk-queued sinks: appends on the reader's thread, a worker
 * that reads units back from the queue and commits them once delivered. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout_int.h"
#include "shape.h"
#include "util.h"

/* A name that is one directory: what is not [A-Za-z0-9._-] becomes '_'. */
static void dir_name(const char *name, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = name; *p && n + 1 < len; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';

		if (!ok && n && out[n - 1] == '_')
			continue;
		out[n++] = ok ? c : '_';
	}
	while (n && (out[n - 1] == '_' || out[n - 1] == '.'))
		n--;
	out[n] = 0;
	if (!n || !strcmp(out, "."))
		snprintf(out, len, "output");
}

int ts_fo_open_disk(struct ts_fanout *f, struct sink *s, char *err, size_t errlen)
{
	struct ts_dq_opts o = {
		.max_bytes = s->q.max_size ? s->q.max_size : 256ULL << 20,
		.sync = (enum ts_dq_sync)s->q.sync,
		.sync_interval_ns = s->q.sync_interval_ns,
		.agent_id = f->run.agent_id,
		.name = s->out.name,
	};
	char dir[1200], leaf[64];

	if (s->q.path[0]) {
		snprintf(dir, sizeof(dir), "%s", s->q.path);
	} else {
		dir_name(s->out.name, leaf, sizeof(leaf));
		snprintf(dir, sizeof(dir), "%s/%s", s->q.base_dir ? s->q.base_dir : TS_QUEUE_DIR,
			 leaf);
	}
	o.dir = dir;
	return ts_dq_open(&s->dq, &o, err, errlen);
}

/* Onto the disk queue, on the reader's thread: once write() returned, a
 * crash of tcpship loses none of it (the kernel has it). Full (max_size)
 * or a disk that refuses: the policy decides, drop (counted) or wait for a
 * delivery to free room (the reader stalls; the kernel counts its drops). */
void ts_fo_enqueue_disk(struct sink *s, struct ts_batch *b)
{
	uint32_t from = 0, done;

	for (;;) {
		int rc = ts_dq_append(s->dq, b, from, &done);
		struct timespec ts;

		from += done;
		if (!rc || from >= b->n)
			break;
		if (rc != -EDQUOT) {
			pthread_mutex_lock(&s->mu);
			if (!s->disk_failing) {
				s->disk_failing = true;
				ts_output_log(&s->out, "disk queue cannot write: %s; %s", strerror(-rc),
					      s->drop_when_full ? "dropping events (counted) until it can"
								: "waiting until it can");
			}
			pthread_mutex_unlock(&s->mu);
		}
		if (s->drop_when_full || atomic_load(&s->dead)) {
			atomic_fetch_add(rc == -EDQUOT ? &s->dropped_full : &s->dropped_disk,
					 b->n - from);
			break;
		}
		if (ts_fo_quitting()) {
			/* exiting: the reader must not wait for ever */
			atomic_fetch_add(&s->dropped_exit, b->n - from);
			break;
		}
		/* block: until a delivery frees room (bounded waits: a write
		 * error may pass without one) */
		pthread_mutex_lock(&s->mu);
		if (s->finished || s->closing) {
			pthread_mutex_unlock(&s->mu);
			atomic_fetch_add(rc == -EDQUOT ? &s->dropped_full : &s->dropped_disk,
					 b->n - from);
			break;
		}
		ts_fo_abstime(&ts, ts_now_ns(CLOCK_MONOTONIC) + 200 * 1000000ULL);
		pthread_cond_timedwait(&s->cv_space, &s->mu, &ts);
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&s->mu);
	if (from && s->disk_failing && from == b->n) {
		s->disk_failing = false;
		ts_output_log(&s->out, "disk queue writes again");
	}
	pthread_cond_signal(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
}

/* With mu held: wait on cv_work until t (CLOCK_MONOTONIC ns); true on
 * timeout. */
static bool wait_until(struct sink *s, uint64_t t)
{
	struct timespec ts;

	ts_fo_abstime(&ts, t);
	return pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT;
}

/* The worker of a disk-queued sink. Every unit is read back from the queue
 * (the same bytes whether appended a moment ago or by an earlier run) and
 * committed once delivered or dropped for good; at the exit deadline what
 * is not delivered stays on disk for the next run. */
void *ts_fo_dworker(void *arg)
{
	struct wctx *w = arg;
	struct sink *s = w->s;
	const struct ts_out_batching *bt = &s->out.batching;
	uint32_t max_n = bt->max_events ? bt->max_events : 1024;
	size_t max_bytes = bt->max_events ? bt->max_bytes : 1 << 20;
	uint64_t first_seen = 0;
	bool pending = false;

	ts_fo_worker = w->index;
	free(w);
	for (;;) {
		enum wait_result r;

		pthread_mutex_lock(&s->mu);
		for (;;) {
			uint64_t now = ts_now_ns(CLOCK_MONOTONIC), recs, bytes;

			if (s->abandoned ||
			    (s->closing && s->deadline_ns && now >= s->deadline_ns)) {
				r = W_END;
				break;
			}
			if (s->reopen) {
				r = W_REOPEN;
				break;
			}
			if (ts_dq_readable(s->dq)) {
				r = W_QUEUE;
				if (!bt->max_events || s->closing)
					break;
				/* gather a full unit, or what max_delay allows */
				bytes = ts_dq_backlog(s->dq, &recs);
				if (!first_seen)
					first_seen = now;
				if (recs >= max_n || bytes >= max_bytes ||
				    now >= first_seen + bt->max_delay_ns)
					break;
				wait_until(s, first_seen + bt->max_delay_ns);
				continue;
			}
			first_seen = 0;
			if (s->closing) {
				r = W_END;
				break;
			}
			if (pending) {
				if (wait_until(s, now + s->q.idle_flush_ns) &&
				    !ts_dq_readable(s->dq) && !s->reopen) {
					r = W_IDLE;
					break;
				}
			} else {
				pthread_cond_wait(&s->cv_work, &s->mu);
			}
		}
		if (r == W_REOPEN) {
			ts_fo_reopen(s, &pending);	/* unlocks mu */
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		if (r == W_QUEUE) {
			struct ts_batch *unit = ts_batch_new(max_bytes + TS_LINE_MAX, max_n);
			struct ts_dq_span span;
			uint32_t n;

			first_seen = 0;
			if (!unit || ts_dq_read(s->dq, unit, max_n, max_bytes, &span)) {
				ts_batch_put(unit);
				continue;
			}
			n = unit->n;
			pthread_mutex_lock(&s->mu);
			s->inflight += n;
			pthread_mutex_unlock(&s->mu);
			if (ts_fo_deliver(s, unit)) {
				if (ts_dq_commit(s->dq, &span)) {
					pthread_mutex_lock(&s->mu);
					pthread_cond_broadcast(&s->cv_space);
					pthread_mutex_unlock(&s->mu);
				}
			} else {
				ts_dq_abandon(s->dq, &span);
			}
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


int ts_fanout_chown(struct ts_fanout *f, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	for (int i = 0; i < f->n; i++) {
		struct sink *s = f->sinks[i];
		int rc = s->dq ? ts_dq_chown(s->dq, uid, gid) : 0;

		if (rc)
			return ts_err(err, errlen, rc, "%s: cannot give its disk queue to %u:%u: %s",
				      s->out.name, uid, gid, strerror(-rc));
	}
	return 0;
}
