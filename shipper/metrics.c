// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /metrics and /healthz, served by libmicrohttpd's own thread from a
 * snapshot the main loop renders about once a second (metrics.h). Label
 * values are output names and event type names, never event contents; an
 * output name (a URL, a config's "name") is escaped as the exposition
 * format says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout.h"
#include "metrics.h"
#include "probes.h"
#include "reader.h"
#include "shape.h"
#include "sink.h"
#include "tcpship.h"
#include "util.h"

/* a snapshot older than this means the main loop is stuck: unhealthy */
#define STALE_NS (10 * 1000000000ULL)

struct ts_metrics {
	struct MHD_Daemon *d;
	int fd;				/* listening, until the daemon has it */
	bool v6;
	pthread_mutex_t mu;
	struct ts_buf text;		/* the last rendering */
	_Atomic uint64_t updated_ns;	/* CLOCK_MONOTONIC of it */
	_Atomic bool alive;
};

static int parse(const char *addr, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	char host[64];
	uint64_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || ts_parse_u64(colon + 1, 1, 65535, &port))
		return ts_errf(err, errlen, "metrics address '%s': not ADDR:PORT (127.0.0.1:9464, "
			       "[::1]:9464, :9464)", addr ? addr : "");
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (hl - 2 >= sizeof(host))
			goto bad;
		memcpy(host, addr + 1, hl - 2);
		host[hl - 2] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (!hl)
		return 0;	/* every address */
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1)
		return 0;
bad:
	return ts_errf(err, errlen, "metrics address '%s': the address is not an IPv4 or "
		       "[IPv6] address", addr);
}

int ts_metrics_parse(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;

	return parse(addr, &ss, err, errlen);
}

static enum MHD_Result answer(struct ts_metrics *m, struct MHD_Connection *c, unsigned status,
			      const char *ctype, const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", ctype);
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct ts_metrics *m = cls;
	enum MHD_Result r;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return answer(m, c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (!strcmp(url, "/healthz")) {
		uint64_t at = atomic_load(&m->updated_ns);
		bool ok = atomic_load(&m->alive) && at &&
			  ts_now_ns(CLOCK_MONOTONIC) - at < STALE_NS;

		return ok ? answer(m, c, MHD_HTTP_OK, "text/plain", "ok\n", 3) :
			    answer(m, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				   "unhealthy\n", 10);
	}
	if (strcmp(url, "/metrics"))
		return answer(m, c, MHD_HTTP_NOT_FOUND, "text/plain", "/metrics or /healthz\n", 21);
	pthread_mutex_lock(&m->mu);
	r = answer(m, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		   m->text.p ? m->text.p : "", m->text.len);
	pthread_mutex_unlock(&m->mu);
	return r;
}

struct ts_metrics *ts_metrics_start(const char *addr, int *rc, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct ts_metrics *m;
	int one = 1, fd;

	*rc = parse(addr, &ss, err, errlen);
	if (*rc)
		return NULL;
	/* bound now, with the privileges of start (a port below 1024); served
	 * by a thread only once they are gone (ts_metrics_serve) */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET6 ?
		 sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) || listen(fd, 32)) {
		*rc = ts_err(err, errlen, -errno, "metrics: cannot listen on %s: %s", addr,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		*rc = ts_err(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->fd = fd;
	m->v6 = ss.ss_family == AF_INET6;
	return m;
}

int ts_metrics_serve(struct ts_metrics *m, char *err, size_t errlen)
{
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | (m->v6 ? MHD_USE_IPv6 : 0),
				0, NULL, NULL, handle, m,
				MHD_OPTION_LISTEN_SOCKET, m->fd,
				MHD_OPTION_CONNECTION_LIMIT, 32u,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				MHD_OPTION_END);
	if (!m->d)
		return ts_errf(err, errlen, "metrics: libmicrohttpd cannot serve the socket");
	m->fd = -1;	/* the daemon's now: it closes it */
	return 0;
}

void ts_metrics_stop(struct ts_metrics *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	else
		close(m->fd);
	ts_buf_free(&m->text);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static int put(struct ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct ts_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || ts_buf_reserve(b, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* A label value: \\, \" and \n escaped; other bytes as they are. */
static void label(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = 0;
}

static const char *set_name(const struct ts_probes *p)
{
	bool kp = false, tp = false;

	for (int g = 0; g < TS_G_MAX; g++) {
		kp |= p->chosen[g] == TS_SET_KPROBE;
		tp |= p->chosen[g] == TS_SET_TP;
	}
	return kp && tp ? "mixed" : kp ? "kprobe" : tp ? "tracepoint" : "none";
}

#define HELP(b, name, type, help) \
	put(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

static void render_outputs(struct ts_buf *b, const struct ts_fanout *fan)
{
	int n = ts_fanout_count(fan);
	struct ts_sink_stats *st = calloc((size_t)(n ? n : 1), sizeof(*st));
	char name[200];

	if (!st)
		return;
	for (int i = 0; i < n; i++)
		ts_fanout_stats(fan, i, &st[i]);
	HELP(b, "tcpship_output_events_total", "counter",
	     "Events per output by what became of them.");
	for (int i = 0; i < n; i++) {
		label(name, sizeof(name), st[i].name);
		put(b, "tcpship_output_events_total{output=\"%s\",result=\"delivered\"} %llu\n"
		       "tcpship_output_events_total{output=\"%s\",result=\"dropped_full\"} %llu\n"
		       "tcpship_output_events_total{output=\"%s\",result=\"dropped_error\"} %llu\n"
		       "tcpship_output_events_total{output=\"%s\",result=\"dropped_exit\"} %llu\n",
		    name, (unsigned long long)st[i].events_out, name,
		    (unsigned long long)st[i].dropped_full, name,
		    (unsigned long long)st[i].dropped_error, name,
		    (unsigned long long)st[i].dropped_exit);
		if (st[i].disk)
			put(b, "tcpship_output_events_total{output=\"%s\",result=\"dropped_disk\"} "
			       "%llu\n", name, (unsigned long long)st[i].dropped_disk);
	}
	HELP(b, "tcpship_output_queue_events", "gauge", "Events waiting in the output's queue.");
	for (int i = 0; i < n; i++) {
		label(name, sizeof(name), st[i].name);
		put(b, "tcpship_output_queue_events{output=\"%s\"} %llu\n", name,
		    (unsigned long long)st[i].queued);
	}
	HELP(b, "tcpship_output_retries_total", "counter", "Writes that were retried.");
	for (int i = 0; i < n; i++) {
		label(name, sizeof(name), st[i].name);
		put(b, "tcpship_output_retries_total{output=\"%s\"} %llu\n", name,
		    (unsigned long long)st[i].retries);
	}
	HELP(b, "tcpship_output_write_duration_seconds", "histogram",
	     "Time of each write: one HTTP request, one Kafka unit until acked, one file write.");
	for (int i = 0; i < n; i++) {
		label(name, sizeof(name), st[i].name);
		for (int k = 0; k < TS_WRITE_BUCKETS; k++)
			put(b, "tcpship_output_write_duration_seconds_bucket{output=\"%s\",le=\"%g\"} "
			       "%llu\n", name, (double)ts_write_bucket_ns[k] / 1e9,
			    (unsigned long long)st[i].write_le[k]);
		put(b, "tcpship_output_write_duration_seconds_bucket{output=\"%s\",le=\"+Inf\"} %llu\n"
		       "tcpship_output_write_duration_seconds_sum{output=\"%s\"} %.9f\n"
		       "tcpship_output_write_duration_seconds_count{output=\"%s\"} %llu\n",
		    name, (unsigned long long)st[i].writes, name, (double)st[i].write_ns / 1e9, name,
		    (unsigned long long)st[i].writes);
	}
	free(st);
}

int ts_metrics_render(struct ts_buf *b, const struct ts_reader *r, const struct ts_probes *p,
		      const struct ts_fanout *fan)
{
	uint64_t cnt[TS_CNT_MAX] = {}, lost = 0;

	b->len = 0;
	ts_probes_counters(p, cnt);
	HELP(b, "tcpship_build_info", "gauge", "The build, and the hook set in use.");
	put(b, "tcpship_build_info{version=\"%s\",probes=\"%s\"} 1\n", TCPSHIP_VERSION,
	    set_name(p));
	HELP(b, "tcpship_events_total", "counter", "Events read from the kernel, by type.");
	for (unsigned t = 1; t < TS_TYPE_MAX; t++) {
		put(b, "tcpship_events_total{type=\"%s\"} %llu\n", ts_type_name(t),
		    (unsigned long long)r->events[t]);
		lost += cnt[TS_CNT_DROP_BASE + t];
	}
	HELP(b, "tcpship_lost_events_total", "counter",
	     "Events lost before any output saw them, by reason.");
	put(b, "tcpship_lost_events_total{reason=\"lost_kernel\"} %llu\n"
	       "tcpship_lost_events_total{reason=\"missed_runs\"} %llu\n"
	       "tcpship_lost_events_total{reason=\"malformed\"} %llu\n"
	       "tcpship_lost_events_total{reason=\"nomem\"} %llu\n"
	       "tcpship_lost_events_total{reason=\"flow_table_full\"} %llu\n"
	       "tcpship_lost_events_total{reason=\"close_unseen\"} %llu\n",
	    (unsigned long long)lost, (unsigned long long)ts_probes_missed(p),
	    (unsigned long long)r->malformed, (unsigned long long)r->nomem,
	    (unsigned long long)cnt[TS_CNT_FLOW_FULL], (unsigned long long)cnt[TS_CNT_CLOSE_UNSEEN]);
	HELP(b, "tcpship_flow_walks_total", "counter",
	     "Walks of the flow table for flow reports (--flow-interval), by result.");
	put(b, "tcpship_flow_walks_total{result=\"done\"} %llu\n"
	       "tcpship_flow_walks_total{result=\"failed\"} %llu\n",
	    (unsigned long long)(r->flow_walks - r->flow_walk_failed),
	    (unsigned long long)r->flow_walk_failed);
	render_outputs(b, fan);
	return b->p ? 0 : -ENOMEM;
}

void ts_metrics_update(struct ts_metrics *m, const struct ts_reader *r,
		       const struct ts_probes *p, const struct ts_fanout *fan, bool alive)
{
	struct ts_buf fresh = { 0 };

	if (!m)
		return;
	if (!ts_metrics_render(&fresh, r, p, fan)) {
		pthread_mutex_lock(&m->mu);
		ts_buf_free(&m->text);
		m->text = fresh;
		pthread_mutex_unlock(&m->mu);
	} else {
		ts_buf_free(&fresh);
	}
	atomic_store(&m->alive, alive);
	atomic_store(&m->updated_ns, ts_now_ns(CLOCK_MONOTONIC));
}
