/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus metrics and a health check over HTTP (libmicrohttpd):
 * GET /metrics (the text exposition format) and GET /healthz. The main loop
 * renders the counters once a second into a snapshot that scrapes read, so
 * a scrape never touches the reader's state; no label comes from an event.
 */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_metrics;
struct ts_reader;
struct ts_probes;
struct ts_fanout;
struct ts_buf;

/* "ADDR:PORT" ("127.0.0.1:9464", "[::1]:9464", ":9464" for every address):
 * 0, or -EINVAL and one line in err. */
int ts_metrics_parse(const char *addr, char *err, size_t errlen);
/* Listen on addr (bound, not served yet); NULL and one line in err (a bad
 * address: -EINVAL in *rc, else the bind's -errno). */
struct ts_metrics *ts_metrics_start(const char *addr, int *rc, char *err, size_t errlen);
/* Serve it from libmicrohttpd's thread: 0, or -errno and one line in err. */
int ts_metrics_serve(struct ts_metrics *m, char *err, size_t errlen);
/* The main loop, about once a second: the counters, and whether the reader
 * and the outputs live (what /healthz says). */
void ts_metrics_update(struct ts_metrics *m, const struct ts_reader *r,
		       const struct ts_probes *p, const struct ts_fanout *fan, bool alive);
void ts_metrics_stop(struct ts_metrics *m);

/* The exposition text of these counters (for update, and the tests). */
int ts_metrics_render(struct ts_buf *out, const struct ts_reader *r, const struct ts_probes *p,
		      const struct ts_fanout *fan);

#endif
