/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sink API: what the core (shipper/) offers the outputs (outputs/). A
 * sink receives batches of already-encoded lines and knows nothing about
 * BPF. The core (fanout.c) gives every sink its own bounded queue and worker
 * thread, retries what a sink classifies as retryable, and counts every drop.
 *
 * Adding a sink: one file or folder under outputs/ defining a
 * `const struct ts_output_ops`, and one line in outputs/table.c. The core
 * only declares that table (ts_output_table below).
 */
#ifndef TS_SINK_H
#define TS_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "put.h"

#define TS_REC_COMM_LEN 16

struct ts_cginfo;

/* ts_rec.flags */
enum {
	TS_REC_TASK    = 1 << 0,	/* pid and comm are known */
	TS_REC_SADDR   = 1 << 1,	/* saddr and sport are known */
	TS_REC_NOTABLE = 1 << 2,	/* a failure an operator looks for: a
					   retransmit, a connection that failed */
};

/* One event in a batch: where its line is, plus the fields formatters read
 * without re-parsing the line (syslog structured data, index dates, stream
 * labels, keys). Filled by the core from what the kernel sent. */
struct ts_rec {
	uint32_t off;		/* line in batch->data */
	uint32_t len;		/* including the final '\n' */
	uint64_t seq;
	uint64_t time_ns;	/* wall clock */
	const char *type;	/* "connect", "close", ...: a static string */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t flags;		/* TS_REC_* */
	uint16_t sport, dport;	/* host byte order */
	uint32_t pid;
	char comm[TS_REC_COMM_LEN];	/* any bytes, NUL padded; at most 15 */
	uint8_t saddr[16], daddr[16];	/* network byte order; IPv4 in the first 4 */
	/* the task's cgroup and container (ident.h), or NULL; valid while
	 * the batch is: the batch holds a reference */
	const struct ts_cginfo *cg;
	/* the run that made the line when it was not this one (a record
	 * replayed from a disk queue), else NULL: with seq, the dedup key */
	const char *agent_id;
};

/* Constants of the whole run, the same in every line: a sink gets them at
 * open instead of looking for them in each line. */
struct ts_run {
	char host[256];		/* gethostname(), raw bytes */
	char host_json[256 * 6 + 1];	/* the same, JSON-escaped */
	char agent_id[40];	/* random per run: with seq, a dedup key */
	unsigned pid;		/* tcpship's own */
};

void ts_run_init(struct ts_run *r, const char *host, const char *agent_id, unsigned pid);

/* Immutable once published; shared by all sinks, freed by the last one. */
struct ts_batch {
	atomic_int refs;
	uint32_t n, cap_n;
	size_t len, cap;
	struct ts_rec *recs;
	char *data;
	const struct ts_cginfo **cgs;	/* the references the records' cg need */
	uint32_t n_cgs, cap_cgs;
};

struct ts_batch *ts_batch_new(size_t cap_bytes, uint32_t cap_n);
int ts_batch_grow(struct ts_batch *b, size_t max_bytes, uint32_t max_n, bool recs);
void ts_batch_get(struct ts_batch *b);
void ts_batch_put(struct ts_batch *b);
/* The batch keeps cg alive (one reference per distinct cginfo in a row). */
int ts_batch_hold(struct ts_batch *b, const struct ts_cginfo *cg);

/* What a write did; the core acts on it. 0 is success on purpose. */
enum ts_out_result {
	TS_OUT_OK = 0,
	TS_OUT_RETRY,		/* transient: the core retries with backoff */
	TS_OUT_DROP,		/* permanent for these events: counted, not retried */
	TS_OUT_FATAL,		/* the sink is gone (stdout closed): stop using it */
};

struct ts_output;

/* A growable byte buffer for formatters. The ts_buf_put* helpers write
 * without checking: reserve the room first. */
struct ts_buf {
	char *p;
	size_t len, cap;
};
int ts_buf_reserve(struct ts_buf *b, size_t more);
int ts_buf_append(struct ts_buf *b, const void *s, size_t n);
void ts_buf_free(struct ts_buf *b);

static inline void ts_buf_put(struct ts_buf *b, const void *s, size_t n)
{
	b->len = (size_t)(ts_put(b->p + b->len, s, n) - b->p);
}

static inline void ts_buf_put_u64(struct ts_buf *b, uint64_t v)
{
	b->len = (size_t)(ts_put_u64(b->p + b->len, v) - b->p);
}

#define TS_BUF_PUTS(b, lit) ts_buf_put(b, lit, sizeof(lit) - 1)

/*
 * Declared options: every key a sink's config entry may hold, with its type
 * and bounds. The core parses config entries against the table, so a sink
 * never sees an unknown key, a wrong type or a number out of range, and
 * every such mistake is reported with the key's full path.
 */
enum ts_opt_type {
	TS_OPT_STRING,		/* char *, owned (freed by ts_conf_free) */
	TS_OPT_UINT,		/* uint64_t */
	TS_OPT_SIZE,		/* uint64_t bytes: 4096 or "64KiB" */
	TS_OPT_DURATION,	/* uint64_t ns: 2 (seconds) or "500ms" */
	TS_OPT_BOOL,		/* bool */
	TS_OPT_ENUM,		/* int: index into choices */
	TS_OPT_OBJECT,		/* nested keys (sub), whose offsets count from off */
	TS_OPT_MAP,		/* struct ts_kv: string -> string */
};

struct ts_kv {
	int n;
	char **keys, **vals;
};

struct ts_opt {
	const char *name;
	enum ts_opt_type type;
	size_t off;			/* offsetof() in the sink's conf struct (OBJECT:
					   of the struct its sub-keys are in) */
	uint64_t min, max;		/* UINT/SIZE/DURATION; max 0: no bound */
	const char *const *choices;	/* ENUM, NULL-terminated */
	const struct ts_opt *sub;	/* OBJECT, ended by a NULL name */
};

struct ts_output_ops {
	const char *type;		/* "stdout", "file", ... (the config's "type") */
	/* Does this -o SPEC belong to this sink? */
	bool (*match)(const char *spec);
	size_t conf_size;		/* the sink's conf struct */
	const struct ts_opt *opts;	/* keys besides "type" and "queue" */
	void (*conf_init)(void *conf);	/* defaults; optional */
	/* -o SPEC into conf (after conf_init); -errno and a line in err */
	int (*conf_spec)(void *conf, const char *spec, char *err, size_t errlen);
	/* --check-config: what can be checked without opening anything (the
	 * URL, required keys). Optional; -EINVAL and a line in err. */
	int (*check)(const void *conf, char *err, size_t errlen);
	/* Check conf and open what is needed; o->run holds the run's
	 * constants. conf outlives the sink. On error
	 * return -errno and write one line (no prefix, no newline) into err:
	 * -EINVAL for a configuration mistake (exit 2), else a runtime one. */
	int (*open)(struct ts_output *o, const void *conf, char *err, size_t errlen);
	/* Optional: start what runs threads of its own (a library's), called
	 * once privileges are gone and before the output's thread starts, so
	 * that none of those threads ever holds one. 0, or -errno and a line. */
	int (*start)(struct ts_output *o, char *err, size_t errlen);
	/* Send recs [from, from + n) of b. May keep bytes pending (buffered). */
	enum ts_out_result (*write)(struct ts_output *o, const struct ts_batch *b,
				    uint32_t from, uint32_t n);
	/* Push out whatever is pending; called when the queue goes idle and
	 * before close. Optional. */
	enum ts_out_result (*flush)(struct ts_output *o);
	/* SIGHUP: reopen files (logrotate). Optional. */
	void (*reopen)(struct ts_output *o);
	void (*close)(struct ts_output *o);
	/* The exact bytes write() would send for these records: what tests
	 * compare against a receiver. */
	int (*format)(struct ts_output *o, const struct ts_batch *b, uint32_t from,
		      uint32_t n, struct ts_buf *out);
	/* The shape of the lines it takes (shape.h's TS_SHAPE_*): requested
	 * is what the config asked, -1 for nothing. Returns the shape, or
	 * -EINVAL with one line in err for one it cannot carry. Optional:
	 * without it, what was asked, else native. */
	int (*shape)(const void *conf, int requested, char *err, size_t errlen);
	/* Sink-specific counters for the exit/--stats line ("truncated=3");
	 * optional. Returns the bytes written to buf. */
	int (*counters)(struct ts_output *o, char *buf, size_t len);
	/* The queue policy when the config does not say: network sinks drop
	 * (a dead collector must not stall the host's tracing), files wait. */
	bool default_drop_when_full;
};

/* Sinks that send requests (HTTP) gather events across reader batches: a
 * unit goes to write() once it holds max_events, or max_bytes of lines, or
 * max_delay has passed since its first event. 0 max_events: no gathering,
 * each reader batch goes as it comes. */
struct ts_out_batching {
	uint32_t max_events;
	uint64_t max_bytes;
	uint64_t max_delay_ns;
};

struct ts_output {
	const struct ts_output_ops *ops;
	const struct ts_run *run;	/* set before open(), outlives the sink */
	void *priv;		/* the sink's own state */
	char name[64];		/* for messages and counters */
	/* set before open(): its queue is on disk, so what fails for now is
	 * better kept (TS_OUT_RETRY) than dropped; the next run has it too */
	bool durable;
	/* set by open() if wanted: */
	struct ts_out_batching batching;
	unsigned workers;	/* writes in flight at once (default 1: order kept) */
};

/* For a sink's write(), on the core's worker thread: */
int ts_out_worker(void);		/* 0..workers-1: per-worker state */
void ts_out_dropped(uint32_t n);	/* n events of this write dropped for good */
void ts_out_delivered(uint32_t n);	/* n events of this write delivered for good,
					   whatever the result says of the rest */
void ts_out_retry_after(uint64_t ns);	/* the receiver asked to wait this long */
/* The exit deadline has passed: a write that waits on its receiver (Kafka's
 * delivery reports) gives up, says what went with ts_out_delivered, and
 * returns TS_OUT_RETRY; the core counts the rest as dropped at exit. */
bool ts_out_past_deadline(void);

/* the table: defined in outputs/table.c, the only thing the core knows of
 * outputs/ */
extern const struct ts_output_ops *const ts_output_table[];
/* by -o SPEC, or by a config entry's "type" */
const struct ts_output_ops *ts_output_find(const char *spec);
const struct ts_output_ops *ts_output_by_type(const char *type);

/* Say something about a sink at run time (a lost connection, a reopen):
 * one line on stderr, "tcpship: NAME: ...". */
void ts_output_log(const struct ts_output *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
