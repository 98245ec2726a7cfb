// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Throughput of the HTTP output, no kernel involved: synthetic records go
 * through the real reader path (ts_reader_handle: stamp, encode, publish
 * 256 per batch, as a busy poll round does) into a fanout with one http
 * sink, which POSTs them to a discard server on loopback.
 *
 * The discard server is a forked child (its CPU is not ours): HTTP/1.1
 * keep-alive, one thread per connection, reads each request, counts the
 * events in it (inflating gzip bodies) and answers 200. At the end the
 * count must equal what was fed, so every figure is for events that
 * arrived.
 *
 * The queue blocks when full, so the feed runs at the sink's pace and
 * events/s is what the sink sustains. CPU is this process (reader + sink
 * threads) over the same wall time; "sink" is all but the feeding thread.
 *
 * First, a micro-benchmark of gzip alone on one core: the same request
 * bodies (1 MiB of tcpship's lines each, the default batch.max_bytes)
 * compressed by zlib (deflateInit2 with 16 + MAX_WBITS, reset per body, as
 * the sink did) and by libdeflate, both at level 1, each checked to inflate
 * back to its input with zlib. It decides which library the sink uses: the
 * faster one for the same ratio.
 *
 * With --kafka MOCK (tests/lib/kafkamock), the Kafka output too: the same
 * feed into librdkafka's mock cluster (3 brokers on loopback, in its own
 * process like the discard server), a topic of 6 partitions per run, and
 * the topic's message count must equal what was fed.
 *
 *   httpbench [--events N] [--quick] [--max-events N] [--in-flight N] [--gzip-only]
 *             [--kafka MOCK]
 *
 * Prints "name value unit" lines, then one JSON line with every figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

#include "conf.h"
#include "shape.h"
#include "fanout.h"
#include "reader.h"
#include "tcpship.h"
#include "util.h"

#define HOST	"bench-host.example"
#define AGENT	"0b7c2f3e-6a51-4d2e-9f1a-3c5d7e9b1a2c"

static uint64_t n_events = 2000000;
static unsigned max_events = 1000, in_flight = 1;
static double gzip_time_s = 1.0;
static bool gzip_only;
static const char *kafka_mock;

/* ---- librdkafka's mock cluster (child), for the kafka runs ---- */

static FILE *mock_in, *mock_out;
static pid_t mock_pid;
static char mock_boot[512];

/* One command, one answer line into ans. */
static int mock_cmd(char *ans, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int mock_cmd(char *ans, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(mock_in, fmt, ap);
	va_end(ap);
	fputc('\n', mock_in);
	fflush(mock_in);
	if (!fgets(ans, (int)cap, mock_out))
		return -EPIPE;
	ans[strcspn(ans, "\n")] = 0;
	return strncmp(ans, "error", 5) ? 0 : -EIO;
}

static int mock_start(void)
{
	int in[2], out[2];

	if (pipe(in) || pipe(out))
		return -errno;
	mock_pid = fork();
	if (mock_pid < 0)
		return -errno;
	if (!mock_pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(kafka_mock, kafka_mock, "3", "bench", "6", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	mock_in = fdopen(in[1], "w");
	mock_out = fdopen(out[0], "r");
	if (!mock_in || !mock_out || !fgets(mock_boot, sizeof(mock_boot), mock_out) ||
	    strncmp(mock_boot, "bootstrap ", 10))
		return -EIO;
	mock_boot[strcspn(mock_boot, "\n")] = 0;
	memmove(mock_boot, mock_boot + 10, strlen(mock_boot + 10) + 1);
	return 0;
}

static uint64_t mock_count(const char *topic)
{
	char ans[128];
	unsigned long long n = 0;
	int unknown = 1;

	/* a partition whose watermarks did not come is asked again */
	for (int k = 0; k < 5 && unknown; k++)
		if (mock_cmd(ans, sizeof(ans), "count %s", topic) ||
		    sscanf(ans, "count %llu unknown %d", &n, &unknown) != 2)
			return 0;
	return unknown ? 0 : n;
}

/* ---- the discard server (child) ---- */

struct shared {
	_Atomic uint64_t events, requests, bytes;
	_Atomic uint64_t bad;
};

static struct shared *sh;

static bool read_full(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t c = 0;
	const char *e = p + n;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		c++;
		p++;
	}
	return c;
}

/* The whole body inflated into *out (grown as needed); its length, or 0. */
static size_t gunzip(z_stream *zs, const char *in, size_t n, char **out, size_t *cap)
{
	int rc;

	inflateReset(zs);
	zs->next_in = (Bytef *)in;
	zs->avail_in = (uInt)n;
	zs->next_out = (Bytef *)*out;
	zs->avail_out = (uInt)*cap;
	while ((rc = inflate(zs, Z_NO_FLUSH)) == Z_OK || rc == Z_BUF_ERROR) {
		size_t done = zs->total_out;

		if (rc == Z_BUF_ERROR && zs->avail_out)
			break;		/* truncated input */
		if (!zs->avail_out) {
			char *p = realloc(*out, *cap * 2);

			if (!p)
				break;
			*out = p;
			*cap *= 2;
			zs->next_out = (Bytef *)*out + done;
			zs->avail_out = (uInt)(*cap - done);
		}
	}
	if (rc != Z_STREAM_END) {
		atomic_fetch_add(&sh->bad, 1);
		return 0;
	}
	return zs->total_out;
}

/* loki: one value per event, and each ends in the event's '}' */
static uint64_t count_values(const char *p, size_t n)
{
	uint64_t c = 0;

	for (const char *e = p + n; (p = memmem(p, (size_t)(e - p), "}\"]", 3)); p += 3)
		c++;
	return c;
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t cap = 64 << 20, have = 0, zcap = 1 << 20, pcap = 8 << 20;
	char *buf = malloc(cap), *zout = malloc(zcap), *plain = malloc(pcap);
	z_stream zs = { 0 };
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	inflateInit2(&zs, 16 + MAX_WBITS);
	for (;;) {
		char *end;
		size_t hlen, clen = 0, blen;
		uint64_t lines;
		bool gz = false, es, loki;
		const char *body;
		ssize_t r;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			r = read(fd, buf + have, cap - have);
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		hlen = (size_t)(end - buf) + 4;
		es = memmem(buf, (size_t)(strchr(buf, '\n') - buf), "/_bulk", 6) != NULL;
		loki = memmem(buf, (size_t)(strchr(buf, '\n') - buf), "/loki/", 6) != NULL;
		for (char *l = buf; l < end; l = strstr(l, "\r\n") + 2) {
			if (!strncasecmp(l, "Content-Length:", 15))
				clen = strtoull(l + 15, NULL, 10);
			else if (!strncasecmp(l, "Content-Encoding: gzip", 22))
				gz = true;
		}
		if (hlen + clen > cap)
			goto out;
		if (have < hlen + clen && !read_full(fd, buf + have, hlen + clen - have))
			goto out;
		if (have < hlen + clen)
			have = hlen + clen;
		body = buf + hlen;
		blen = clen;
		if (gz) {
			blen = gunzip(&zs, body, clen, &plain, &pcap);
			body = plain;
		}
		if (loki)
			lines = count_values(body, blen);
		else if (es)
			lines = count_lines(body, blen) / 2;	/* an action line per event */
		else
			lines = count_lines(body, blen);
		atomic_fetch_add(&sh->requests, 1);
		atomic_fetch_add(&sh->bytes, clen);
		if (es) {
			/* what Elasticsearch answers when every item went in */
			static const char item[] = "{\"create\":{\"_index\":\"tcpship-2026.11.26\","
						   "\"_id\":\"x\",\"_version\":1,\"result\":"
						   "\"created\",\"status\":201}}";
			size_t hl;
			char head[128];

			blen = 0;
			blen += (size_t)snprintf(zout, zcap, "{\"took\":3,\"errors\":false,\"items\":[");
			for (uint64_t i = 0; i < lines && blen + sizeof(item) + 4 < zcap; i++)
				blen += (size_t)snprintf(zout + blen, zcap - blen, "%s%s", i ? "," : "",
							 item);
			blen += (size_t)snprintf(zout + blen, zcap - blen, "]}");
			hl = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
					      "application/json\r\nContent-Length: %zu\r\n\r\n", blen);
			if (write(fd, head, hl) != (ssize_t)hl ||
			    write(fd, zout, blen) != (ssize_t)blen)
				goto out;
		} else if (write(fd, ok, sizeof(ok) - 1) != sizeof(ok) - 1) {
			goto out;
		}
		atomic_fetch_add(&sh->events, lines);
		memmove(buf, buf + hlen + clen, have - hlen - clen);
		have -= hlen + clen;
	}
out:
	inflateEnd(&zs);
	free(buf);
	free(zout);
	free(plain);
	close(fd);
	return NULL;
}

static void serve(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}

/* ---- the feed (parent) ---- */

/* the mix of a connection-heavy host: a connect, an accept, two closes */
static const unsigned mix[4] = { TS_CONNECT, TS_ACCEPT, TS_CLOSE, TS_CLOSE };

static void fill(struct ts_event *ev, unsigned type, unsigned i)
{
	static const uint8_t s4[4] = { 10, 0, 3, 17 }, d4[4] = { 93, 184, 216, 34 };

	memset(ev, 0, sizeof(*ev));
	ev->h.size = sizeof(*ev);
	ev->h.type = (__u8)type;
	ev->h.probe = TS_TRACEPOINT;
	ev->h.family = TS_IPV4;
	ev->h.flags = TS_F_TASK | TS_F_SADDR;
	ev->h.pid = 4000 + i % 300;
	ev->h.tid = ev->h.pid + i % 7;
	ev->h.uid = 1000;
	memcpy(ev->h.comm, "loadgen", 8);
	ev->h.sport = (__u16)(32768 + i % 28000);
	ev->h.dport = 8080;
	memcpy(ev->h.saddr, s4, 4);
	memcpy(ev->h.daddr, d4, 4);
	if (type == TS_CLOSE) {
		ev->h.state = 7;
		ev->h.flags |= TS_F_ESTABLISHED | TS_F_START | TS_F_ACTIVE;
		ev->close.duration_ns = 1843211 + i;
		ev->close.bytes_sent = 517 + i % 1000;
		ev->close.bytes_received = 15324;
	}
}

static double now_s(void)
{
	return (double)ts_now_ns(CLOCK_MONOTONIC) / 1e9;
}

static double cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_thread_s(void)
{
	return (double)ts_now_ns(CLOCK_THREAD_CPUTIME_ID) / 1e9;
}

/* ---- gzip alone: zlib against libdeflate on the same bodies, one core ---- */

#define GZ_BODIES 4
#define GZ_BODY_MAX (1u << 20)	/* batch.max_bytes' default */
#define GZ_ROUNDS 3

struct gz_bodies {
	char *p[GZ_BODIES];
	size_t len[GZ_BODIES], total;
};

struct gz_result {
	double mb_per_s, ratio;
};

/* Consecutive events of the mix, encoded as tcpship encodes them, cut into
 * bodies of whole lines up to 1 MiB. */
static int gz_bodies_make(struct gz_bodies *bd)
{
	uint64_t seq = 1, t = 1795686129123456789ULL;
	struct ts_event ev;
	struct ts_enc e;
	char line[TS_LINE_MAX];

	ts_enc_init(&e, HOST, AGENT);
	for (int k = 0; k < GZ_BODIES; k++) {
		bd->p[k] = malloc(GZ_BODY_MAX);
		if (!bd->p[k])
			return -ENOMEM;
		for (;;) {
			int n;

			fill(&ev, mix[seq % 4], (unsigned)seq);
			n = ts_encode_json(&e, &ev, sizeof(ev), seq, t, line, sizeof(line));
			if (n < 0)
				return n;
			if (bd->len[k] + (size_t)n > GZ_BODY_MAX)
				break;
			memcpy(bd->p[k] + bd->len[k], line, (size_t)n);
			bd->len[k] += (size_t)n;
			bd->total += (size_t)n;
			seq++;
			t += 1000 + seq % 997;
		}
	}
	return 0;
}

typedef size_t (*gz_fn)(void *ctx, const char *in, size_t n, char *out, size_t cap);

static size_t gz_zlib(void *ctx, const char *in, size_t n, char *out, size_t cap)
{
	z_stream *zs = ctx;

	if (deflateReset(zs) != Z_OK)
		return 0;
	zs->next_in = (Bytef *)(uintptr_t)in;
	zs->avail_in = (uInt)n;
	zs->next_out = (Bytef *)out;
	zs->avail_out = (uInt)cap;
	return deflate(zs, Z_FINISH) == Z_STREAM_END ? zs->total_out : 0;
}

static size_t gz_libdeflate(void *ctx, const char *in, size_t n, char *out, size_t cap)
{
	return libdeflate_gzip_compress(ctx, in, n, out, cap);
}

/* zlib's inflate reads it back to in: a whole gzip member of these bytes */
static bool gz_inflates_to(const char *z, size_t zn, const char *in, size_t n, char *back)
{
	z_stream zs = { 0 };
	bool ok;

	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return false;
	zs.next_in = (Bytef *)(uintptr_t)z;
	zs.avail_in = (uInt)zn;
	zs.next_out = (Bytef *)back;
	zs.avail_out = GZ_BODY_MAX;
	ok = inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == n && !zs.avail_in &&
	     !memcmp(back, in, n);
	inflateEnd(&zs);
	return ok;
}

/* One round: every body once for the ratio and the check, then again and
 * again for gzip_time_s of this thread's CPU. */
static int gz_round(gz_fn fn, void *ctx, const struct gz_bodies *bd, char *out, size_t cap,
		    char *back, struct gz_result *r)
{
	uint64_t in = 0, zbytes = 0;
	double t0, t;

	for (int k = 0; k < GZ_BODIES; k++) {
		size_t n = fn(ctx, bd->p[k], bd->len[k], out, cap);

		if (!n || !gz_inflates_to(out, n, bd->p[k], bd->len[k], back))
			return -EIO;
		zbytes += n;
	}
	r->ratio = (double)bd->total / (double)zbytes;
	t0 = cpu_thread_s();
	do {
		for (int k = 0; k < GZ_BODIES; k++) {
			if (!fn(ctx, bd->p[k], bd->len[k], out, cap))
				return -EIO;
			in += bd->len[k];
		}
		t = cpu_thread_s() - t0;
	} while (t < gzip_time_s);
	r->mb_per_s = (double)in / t / 1e6;
	return 0;
}

static int by_speed(const void *a, const void *b)
{
	double x = ((const struct gz_result *)a)->mb_per_s, y = ((const struct gz_result *)b)->mb_per_s;

	return (x > y) - (x < y);
}

/* GZ_ROUNDS rounds of each, interleaved so that drift of a shared machine
 * hits both alike; the median round of each. */
static int gz_bench(struct gz_bodies *bd, struct gz_result *zl, struct gz_result *ld)
{
	struct gz_result rz[GZ_ROUNDS], rd[GZ_ROUNDS];
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
	size_t cap = GZ_BODY_MAX + GZ_BODY_MAX / 8 + 4096;
	char *out = malloc(cap), *back = malloc(GZ_BODY_MAX);
	z_stream zs = { 0 };
	int rc = -ENOMEM;

	if (!c || !out || !back || deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
						  Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	rc = gz_bodies_make(bd);
	for (int i = 0; !rc && i < GZ_ROUNDS; i++) {
		rc = gz_round(gz_zlib, &zs, bd, out, cap, back, &rz[i]);
		rc = rc ?: gz_round(gz_libdeflate, c, bd, out, cap, back, &rd[i]);
	}
	if (!rc) {
		qsort(rz, GZ_ROUNDS, sizeof(*rz), by_speed);
		qsort(rd, GZ_ROUNDS, sizeof(*rd), by_speed);
		*zl = rz[GZ_ROUNDS / 2];
		*ld = rd[GZ_ROUNDS / 2];
	}
	deflateEnd(&zs);
out:
	libdeflate_free_compressor(c);
	free(out);
	free(back);
	return rc;
}

static void gz_json(const struct gz_bodies *bd, const struct gz_result *zl,
		    const struct gz_result *ld)
{
	printf("\"gzip\":{\"bodies\":%d,\"body_bytes\":%zu,\"level\":1,"
	       "\"zlib\":{\"mb_per_s\":%.1f,\"ratio\":%.3f},"
	       "\"libdeflate\":{\"mb_per_s\":%.1f,\"ratio\":%.3f}}", GZ_BODIES,
	       bd->total / GZ_BODIES, zl->mb_per_s, zl->ratio, ld->mb_per_s, ld->ratio);
}

struct result {
	const char *name;
	double events_per_s, wall_s, cpu_cores, sink_cpu_ns_per_event, feed_cpu_ns_per_event;
	double ratio;
	uint64_t delivered, requests, body_bytes, sent_bytes;
	int ok;
};

static uint64_t counter(const char *extra, const char *key)
{
	const char *p = strstr(extra, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static int run(const char *name, int port, const char *format, const char *compression,
	       int level, struct result *res)
{
	char json[1024], err[512];
	struct ts_output_req req = { 0 };
	struct ts_queue_opts q = { 0 };
	const struct ts_output_ops *ops;
	struct ts_sink_stats st;
	struct ts_reader r;
	struct ts_run run;
	struct ts_fanout *fan;
	struct ts_event ev[3];
	double t0, c0, m0, wall;
	uint64_t base;
	void *conf;
	int rc;

	memset(res, 0, sizeof(*res));
	res->name = name;
	char lvl[40] = "";

	if (level)
		snprintf(lvl, sizeof(lvl), "\"compression_level\":%d,", level);
	bool kafka = !strcmp(format, "kafka");
	char topic[64] = "";

	if (kafka) {
		char ans[128];

		snprintf(topic, sizeof(topic), "bench-%s", compression);
		if (mock_cmd(ans, sizeof(ans), "topic %s 6", topic)) {
			fprintf(stderr, "httpbench: kafkamock: %s\n", ans);
			return -EIO;
		}
		snprintf(json, sizeof(json),
			 "{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"%s\","
			 "\"compression\":\"%s\",\"batch\":{\"max_delay\":\"200ms\"},"
			 "\"queue\":{\"max_events\":65536,\"when_full\":\"block\"}}",
			 mock_boot, topic, compression);
	} else {
		snprintf(json, sizeof(json),
			 "{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/\",\"format\":\"%s\","
			 "\"compression\":\"%s\","
			 "%s\"in_flight\":%u,\"batch\":{\"max_events\":%u,\"max_bytes\":\"4MiB\","
			 "\"max_delay\":\"200ms\"},\"queue\":{\"max_events\":16384,"
			 "\"when_full\":\"block\"}}",
			 port, format, compression, lvl, in_flight, max_events);
	}
	req.obj = json_tokener_parse(json);
	snprintf(req.where, sizeof(req.where), "bench");
	atomic_store(&sh->events, 0);
	atomic_store(&sh->requests, 0);
	ts_run_init(&run, HOST, AGENT, (unsigned)getpid());
	fan = ts_fanout_new(&run);
	rc = fan ? ts_output_conf(&req, &ops, &conf, &q, err, sizeof(err)) : -ENOMEM;
	json_object_put(req.obj);
	if (!rc)
		rc = ts_fanout_add(fan, ops, conf, &q, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "httpbench: %s: %s\n", name, err);
		ts_fanout_free(fan);
		return rc;
	}
	rc = ts_reader_init(&r, -1, fan, &run, 0);
	rc = rc ?: ts_fanout_start(fan, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "httpbench: cannot start: %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	base = ts_now_ns(CLOCK_BOOTTIME);
	t0 = now_s();
	c0 = cpu_self_s();
	m0 = cpu_thread_s();
	for (uint64_t i = 0; i < n_events; i++) {
		struct ts_event *e = &ev[i % 3];

		fill(e, mix[i % 4], (unsigned)i);
		e->h.ts_ns = base + i * 1000;	/* 1M events/s of kernel time */
		ts_reader_handle(&r, e, sizeof(*e));
		if ((i + 1) % 256 == 0)
			ts_reader_publish(&r);
	}
	ts_reader_publish(&r);
	m0 = cpu_thread_s() - m0;
	ts_fanout_stop(fan, ts_now_ns(CLOCK_MONOTONIC) + 120 * 1000000000ULL);
	wall = now_s() - t0;
	ts_fanout_stats(fan, 0, &st);
	if (getenv("HTTPBENCH_DEBUG"))
		fprintf(stderr, "%s: retries=%llu %s\n", name, (unsigned long long)st.retries, st.extra);
	res->wall_s = wall;
	res->events_per_s = (double)n_events / wall;
	res->cpu_cores = (cpu_self_s() - c0) / wall;
	res->feed_cpu_ns_per_event = m0 * 1e9 / (double)n_events;
	res->sink_cpu_ns_per_event = (cpu_self_s() - c0 - m0) * 1e9 / (double)n_events;
	res->requests = counter(st.extra, "requests=");
	res->body_bytes = counter(st.extra, "body_bytes=");
	res->sent_bytes = counter(st.extra, "sent_bytes=");
	res->ratio = res->sent_bytes ? (double)res->body_bytes / (double)res->sent_bytes : 0;
	/* the server counts as the answers go out: give it a moment */
	for (int k = 0; !kafka && k < 200 && atomic_load(&sh->events) < st.events_out; k++)
		usleep(10000);
	/* what Kafka holds: its partitions' high watermarks */
	res->delivered = kafka ? mock_count(topic) : atomic_load(&sh->events);
	res->ok = st.events_out == n_events && res->delivered == n_events &&
		  (kafka || !atomic_load(&sh->bad));
	if (!res->ok)
		fprintf(stderr, "httpbench: %s: %llu fed, %llu out, %llu arrived, %llu bad; %s\n",
			name, (unsigned long long)n_events, (unsigned long long)st.events_out,
			(unsigned long long)res->delivered,
			(unsigned long long)atomic_load(&sh->bad), st.extra);
out:
	ts_reader_free(&r);
	ts_fanout_free(fan);
	return rc;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "max-events", required_argument, NULL, 'b' },
		{ "in-flight", required_argument, NULL, 'f' },
		{ "quick", no_argument, NULL, 'q' },
		{ "gzip-only", no_argument, NULL, 'g' },
		{ "kafka", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:b:f:qgk:h", opts, NULL)) != -1) {
		uint64_t v;

		switch (c) {
		case 'n':
			if (ts_parse_u64(optarg, 1000, 1ULL << 34, &v))
				goto usage;
			n_events = v;
			break;
		case 'b':
			if (ts_parse_u64(optarg, 1, 1000000, &v))
				goto usage;
			max_events = (unsigned)v;
			break;
		case 'f':
			if (ts_parse_u64(optarg, 1, 16, &v))
				goto usage;
			in_flight = (unsigned)v;
			break;
		case 'q':
			n_events = 300000;
			gzip_time_s = 0.3;
			break;
		case 'g':
			gzip_only = true;
			break;
		case 'k':
			kafka_mock = optarg;
			break;
		default:
			goto usage;
		}
	}
	return;
usage:
	fprintf(stderr, "usage: httpbench [--events N] [--max-events N] [--in-flight N] "
			"[--quick] [--gzip-only] [--kafka MOCK]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *format, *comp;
		int level;
	} cfgs[] = {
		{ "ndjson", "ndjson", "none", 0 },
		{ "ndjson+gzip", "ndjson", "gzip", 0 },	/* the default level (1) */
		{ "ndjson+gzip6", "ndjson", "gzip", 6 },
		{ "es+gzip", "elasticsearch", "gzip", 0 },
		{ "loki+gzip", "loki", "gzip", 0 },
		{ "kafka", "kafka", "none", 0 },
		{ "kafka+lz4", "kafka", "lz4", 0 },
		{ "kafka+zstd", "kafka", "zstd", 0 },
	};
	struct result res[8];
	size_t n_cfgs = sizeof(cfgs) / sizeof(cfgs[0]);
	struct gz_bodies bd = { 0 };
	struct gz_result zl, ld;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd, failed = 0;
	pid_t child;

	parse_args(argc, argv);
	if (gz_bench(&bd, &zl, &ld)) {
		fprintf(stderr, "httpbench: gzip: a body did not compress or inflate back\n");
		return 1;
	}
	for (int k = 0; k < GZ_BODIES; k++)
		free(bd.p[k]);
	printf("gzip zlib       level 1 %8.1f MB/s  ratio %5.2f  (%d bodies of %zu bytes, one core)\n",
	       zl.mb_per_s, zl.ratio, GZ_BODIES, bd.total / GZ_BODIES);
	printf("gzip libdeflate level 1 %8.1f MB/s  ratio %5.2f\n", ld.mb_per_s, ld.ratio);
	fflush(stdout);
	if (gzip_only) {
		printf("{");
		gz_json(&bd, &zl, &ld);
		printf("}\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sh == MAP_FAILED || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 64) || getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("httpbench: discard server");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("httpbench: fork");
		return 1;
	}
	if (child == 0) {
		serve(lfd);
		_exit(0);
	}
	close(lfd);
	if (!kafka_mock)
		n_cfgs -= 3;
	else if (mock_start()) {
		fprintf(stderr, "httpbench: cannot start %s\n", kafka_mock);
		kill(child, SIGKILL);
		return 1;
	}
	for (size_t i = 0; i < n_cfgs; i++) {
		if (run(cfgs[i].name, ntohs(a.sin_port), cfgs[i].format, cfgs[i].comp, cfgs[i].level,
			&res[i])) {
			failed = 1;
			break;
		}
		failed |= !res[i].ok;
		printf("%-13s %12.0f events/s  %5.2f cores  sink %6.0f ns/event  feed %5.0f ns/event  "
		       "ratio %5.2f  %llu requests  %s\n", res[i].name, res[i].events_per_s,
		       res[i].cpu_cores, res[i].sink_cpu_ns_per_event, res[i].feed_cpu_ns_per_event,
		       res[i].ratio, (unsigned long long)res[i].requests,
		       res[i].ok ? "all arrived" : "LOST");
		fflush(stdout);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (mock_pid > 0) {
		kill(mock_pid, SIGKILL);
		waitpid(mock_pid, NULL, 0);
	}
	if (failed)
		return 1;
	printf("{\"events\":%llu,\"max_events\":%u,\"in_flight\":%u,",
	       (unsigned long long)n_events, max_events, in_flight);
	gz_json(&bd, &zl, &ld);
	printf(",\"runs\":{");
	for (size_t i = 0; i < n_cfgs; i++)
		printf("%s\"%s\":{\"events_per_s\":%.0f,\"cpu_cores\":%.3f,"
		       "\"sink_cpu_ns_per_event\":%.1f,\"feed_cpu_ns_per_event\":%.1f,"
		       "\"compression_ratio\":%.3f,\"requests\":%llu,\"body_bytes\":%llu,"
		       "\"sent_bytes\":%llu,\"delivered\":%llu}", i ? "," : "", res[i].name,
		       res[i].events_per_s, res[i].cpu_cores, res[i].sink_cpu_ns_per_event,
		       res[i].feed_cpu_ns_per_event, res[i].ratio,
		       (unsigned long long)res[i].requests, (unsigned long long)res[i].body_bytes,
		       (unsigned long long)res[i].sent_bytes, (unsigned long long)res[i].delivered);
	printf("}}\n");
	return 0;
}
