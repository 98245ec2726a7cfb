/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fan-out's insides, shared by the memory-queue side (fanout.c) and the
 * disk-queue side (fanout_disk.c). Nothing else includes this.
 */
#ifndef TS_FANOUT_INT_H
#define TS_FANOUT_INT_H

#include <pthread.h>
#include <time.h>

#include "dqueue.h"
#include "fanout.h"

#define MAX_SINKS 32

#define MAX_WORKERS 16

struct node {
	struct node *next;
	struct ts_batch *b;
	uint32_t used;			/* records already taken into a unit */
};

struct sink {
	struct ts_output out;
	void *conf;			/* the sink's parsed options, freed last */
	char extra_final[512];		/* its own counters, taken before close */
	bool sink_closed;		/* close() called: counters() no longer */
	struct ts_queue_opts q;
	bool drop_when_full;

	pthread_mutex_t mu;
	pthread_cond_t cv_work;		/* a batch arrived, or closing */
	pthread_cond_t cv_space;	/* room freed, or the sink died */
	struct node *head, *tail;
	uint64_t queued;		/* events in the queue */
	uint64_t inflight;		/* events taken by workers, not yet accounted */
	bool closing, started, finished;
	bool reopen;
	/* stop gave up on a stuck worker and counted what it held: when that
	 * write returns, it must count nothing more */
	bool abandoned;
	unsigned n_workers, running;
	pthread_t threads[MAX_WORKERS];
	uint64_t deadline_ns;

	_Atomic bool dead;
	_Atomic uint64_t events_out, dropped_full, dropped_error, dropped_exit, retries;

	/* a disk queue: the records live there, not in head..tail */
	struct ts_dq *dq;
	_Atomic uint64_t dropped_disk;
	_Atomic uint64_t write_le[TS_WRITE_BUCKETS], writes, write_ns;
	bool disk_failing;		/* said so once per stretch of failures */
};

struct ts_fanout {
	struct ts_run run;
	struct sink *sinks[MAX_SINKS];
	int n;
};

struct wctx {
	struct sink *s;
	int index;
};

enum wait_result { W_QUEUE, W_REOPEN, W_IDLE, W_TIMEOUT, W_END };

/* the worker thread's index, for ts_out_worker() */
extern __thread int ts_fo_worker;

void ts_fo_abstime(struct timespec *ts, uint64_t mono_ns);
/* ts_fanout_quit's deadline has passed */
bool ts_fo_quitting(void);
void ts_fo_sink_dead(struct sink *s);
/* Hand b to the sink until delivered, dropped, or the exit deadline: true
 * when every event of it ended in a counter (false: a disk queue keeps it). */
bool ts_fo_deliver(struct sink *s, struct ts_batch *b);
void ts_fo_reopen(struct sink *s, bool *pending);
void ts_fo_flush(struct sink *s, bool pending);
/* the last worker out closes the sink */
void ts_fo_worker_exit(struct sink *s);

/* fanout_disk.c */
int ts_fo_open_disk(struct ts_fanout *f, struct sink *s, char *err, size_t errlen);
void ts_fo_enqueue_disk(struct sink *s, struct ts_batch *b);
void *ts_fo_dworker(void *arg);

#endif
