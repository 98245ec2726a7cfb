// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Micro-benchmarks of the user-space hot path, no kernel involved.
 *
 * (a) encode: ts_encode_json on a synthetic record of each type, against
 *     building the same object with json-c and serialising it with
 *     JSON_C_TO_STRING_PLAIN (what a shipper without its own writer would
 *     do). Both sides format time, addresses and names the same way and
 *     their output is checked to be the same JSON value before timing, so
 *     the difference is the cost of the JSON building alone.
 * (b) reader: records fed straight into ts_reader_handle, published into a
 *     fanout with the stdout sink writing to a regular file in /tmp, as the
 *     ring-buffer callback does. Timed until ts_fanout_stop() has written
 *     everything. Two publish patterns: a busy poll round (many records per
 *     publish) and one record per publish, which is what per-event
 *     wake-ups degrade to.
 *
 *   encbench [--time SEC] [--events N] [--quick]
 *
 * Prints "name value unit" lines, then one JSON line with every figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"
#include "shape.h"
#include "fanout.h"
#include "ident.h"
#include "reader.h"
#include "tcpship.h"
#include "util.h"

#define HOST	"bench-host.example"
#define AGENT	"0b7c2f3e-6a51-4d2e-9f1a-3c5d7e9b1a2c"

struct rec {
	const char *name;
	size_t size;
	union {
		struct ts_event ev;
		struct ts_dns dns;
	};
};

static double min_time_s = 0.5;
static uint64_t reader_events = 1000000;

static double now_s(void)
{
	return (double)ts_now_ns(CLOCK_MONOTONIC) / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void fill_hdr(struct ts_hdr *h, unsigned type, bool v6, uint16_t size)
{
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xad };
	static const uint8_t s4[4] = { 10, 0, 3, 17 };
	static const uint8_t d4[4] = { 93, 184, 216, 34 };

	memset(h, 0, sizeof(*h));
	h->ts_ns = ts_now_ns(CLOCK_BOOTTIME);
	h->size = size;
	h->type = (uint8_t)type;
	h->probe = TS_TRACEPOINT;
	h->family = v6 ? TS_IPV6 : TS_IPV4;
	h->state = 1;	/* ESTABLISHED */
	h->flags = TS_F_TASK | TS_F_SADDR;
	h->flags |= TS_F_NETNS;
	h->netns = 4026532281u;
	h->pid = 48213;
	h->tid = 48215;
	h->uid = 1000;
	h->ppid = 48001;
	h->sport = 51724;
	h->dport = 443;
	memcpy(h->comm, "curl", 4);
	memcpy(h->saddr, v6 ? s6 : s4, v6 ? 16 : 4);
	memcpy(h->daddr, v6 ? d6 : d4, v6 ? 16 : 4);
}

/* What a containerd pod's task carries: the identity keys every encoded
 * line of the bench has (what a Kubernetes node's lines look like). */
#define EXE "/usr/bin/curl"
static struct ts_cginfo bench_cg;
static struct ts_ident bench_id;

static int make_ident(void)
{
	static char proc_json[128];
	struct ts_cginfo *c = &bench_cg;
	struct ts_tcache tc = { -1, "" };
	char tbuf[32];

	c->path = strdup("/kubepods/besteffort/pod0b3f5a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/"
			 "4b825dc642cb6eb9a060e54bf8d69288fbee4904aaaaaaaaaaaaaaaaaaaaaaaa");
	ts_cgpath_parse(c->path, &c->cp);
	c->container_id = c->cp.container_id;
	c->runtime = "containerd";
	c->pod_uid = c->cp.pod_uid;
	c->name = strdup("web");
	c->image = strdup("docker.io/library/nginx:1.25");
	c->pod = strdup("web-7d4b9-x2k");
	c->pod_namespace = strdup("shop");
	if (!c->path || !c->name || !c->image || !c->pod || !c->pod_namespace ||
	    ts_cginfo_render(c))
		return -ENOMEM;
	bench_id.start_wall_ns = 1795686000123456789ULL;
	ts_format_time_in(&tc, bench_id.start_wall_ns, tbuf);
	bench_id.proc_json_len = (size_t)snprintf(proc_json, sizeof(proc_json),
						  ",\"process_start\":\"%s\",\"exe\":\"%s\"", tbuf, EXE);
	bench_id.proc_json = proc_json;
	/* the parts the other shapes use: the start and the exe (no escapes) */
	bench_id.start_str = strstr(proc_json, tbuf);
	bench_id.exe = bench_id.exe_esc = EXE;
	bench_id.exe_len = bench_id.exe_esc_len = strlen(EXE);
	bench_id.cg = c;
	snprintf(bench_id.community_id, sizeof(bench_id.community_id), "%s",
		 "1:wCb3OG7yAFWelaUydu0D+125CLM=");
	return 0;
}

/* One record of each kind the encoder has a branch for. */
static int make_recs(struct rec *r)
{
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0x00, 0x01, 0x00, 0x01,
	};
	int n = 0;

	memset(r, 0, sizeof(*r) * 8);
	r[n].name = "connect";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n++].ev.h, TS_CONNECT, false, sizeof(struct ts_event));

	r[n].name = "accept";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n++].ev.h, TS_ACCEPT, false, sizeof(struct ts_event));

	r[n].name = "close";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n].ev.h, TS_CLOSE, false, sizeof(struct ts_event));
	r[n].ev.h.state = 7;	/* CLOSE */
	r[n].ev.h.flags |= TS_F_ESTABLISHED | TS_F_START | TS_F_ACTIVE;
	r[n].ev.close.duration_ns = 1843211;
	r[n].ev.close.bytes_sent = 517;
	r[n].ev.close.bytes_received = 15324;
	r[n].ev.close.error = ECONNRESET;
	r[n++].ev.close.oldstate = 1;

	r[n].name = "close_v6";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n].ev.h, TS_CLOSE, true, sizeof(struct ts_event));
	r[n].ev.h.state = 7;
	r[n].ev.h.flags |= TS_F_ESTABLISHED | TS_F_START;
	r[n].ev.close.duration_ns = 92211;
	r[n].ev.close.bytes_sent = 64;
	r[n++].ev.close.bytes_received = 64;

	r[n].name = "retransmit";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n++].ev.h, TS_RETRANSMIT, false, sizeof(struct ts_event));

	r[n].name = "send";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n].ev.h, TS_SEND, false, sizeof(struct ts_event));
	r[n].ev.h.flags |= TS_F_LATENCY;
	r[n].ev.io.bytes = 64;
	r[n++].ev.io.latency_ns = 3120;

	r[n].name = "recv";
	r[n].size = sizeof(struct ts_event);
	fill_hdr(&r[n].ev.h, TS_RECV, false, sizeof(struct ts_event));
	r[n].ev.h.flags |= TS_F_LATENCY;
	r[n].ev.io.bytes = 64;
	r[n++].ev.io.latency_ns = 8811;

	r[n].name = "dns";
	r[n].size = sizeof(struct ts_dns);
	fill_hdr(&r[n].dns.h, TS_DNS, false, sizeof(struct ts_dns));
	r[n].dns.h.dport = 53;
	r[n].dns.len = sizeof(query);
	r[n].dns.total = sizeof(query);
	memcpy(r[n++].dns.payload, query, sizeof(query));
	return n;
}

/* ---- the same object, built with json-c ---- */

static void add_str(json_object *o, const char *k, const char *s, size_t n)
{
	json_object_object_add(o, k, json_object_new_string_len(s, (int)n));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_addr(json_object *o, const char *k, unsigned family, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family == TS_IPV4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
	add_str(o, k, buf, strlen(buf));
}

/* Mirrors ts_encode_json key for key; returns the line length or -errno. */
static int jsonc_encode(struct ts_enc *e, const void *data, uint64_t seq, uint64_t time_ns,
			char *out, size_t cap)
{
	const struct ts_hdr *h = data;
	const struct ts_event *ev = data;
	json_object *o = json_object_new_object();
	const char *s, *name;
	char tbuf[32], ebuf[16];
	size_t len;

	if (!o)
		return -ENOMEM;
	ts_format_time(e, time_ns, tbuf);
	add_str(o, "time", tbuf, 30);
	name = ts_type_name(h->type);
	add_str(o, "type", name, strlen(name));
	add_str(o, "host", HOST, strlen(HOST));
	add_u64(o, "seq", seq);
	add_str(o, "agent_id", AGENT, strlen(AGENT));
	if (h->flags & TS_F_TASK) {
		add_u64(o, "pid", h->pid);
		add_u64(o, "tid", h->tid);
		add_u64(o, "uid", h->uid);
		add_str(o, "comm", h->comm, strnlen(h->comm, TS_COMM_LEN));
		add_u64(o, "ppid", h->ppid);
		if (e->id) {
			const struct ts_cginfo *c = e->id->cg;
			struct ts_tcache tc = { -1, "" };

			ts_format_time_in(&tc, e->id->start_wall_ns, tbuf);
			add_str(o, "process_start", tbuf, 30);
			add_str(o, "exe", EXE, strlen(EXE));
			add_str(o, "cgroup", c->path, strlen(c->path));
			add_str(o, "container_id", c->container_id, strlen(c->container_id));
			add_str(o, "container_runtime", c->runtime, strlen(c->runtime));
			add_str(o, "container_name", c->name, strlen(c->name));
			add_str(o, "image", c->image, strlen(c->image));
			add_str(o, "pod", c->pod, strlen(c->pod));
			add_str(o, "pod_namespace", c->pod_namespace, strlen(c->pod_namespace));
			add_str(o, "pod_uid", c->pod_uid, strlen(c->pod_uid));
		}
	}
	if (h->flags & TS_F_NETNS)
		add_u64(o, "netns", h->netns);
	s = h->family == TS_IPV4 ? "ipv4" : "ipv6";
	add_str(o, "family", s, 4);
	if (h->flags & TS_F_SADDR) {
		add_addr(o, "saddr", h->family, h->saddr);
		add_u64(o, "sport", h->sport);
	}
	add_addr(o, "daddr", h->family, h->daddr);
	add_u64(o, "dport", h->dport);
	if (e->id && e->id->community_id[0] && h->type != TS_SEND && h->type != TS_RECV)
		add_str(o, "community_id", e->id->community_id, strlen(e->id->community_id));
	add_str(o, "probe", "tracepoint", 10);
	switch (h->type) {
	case TS_CLOSE:
		if (h->flags & TS_F_START)
			add_str(o, "direction", (h->flags & TS_F_ACTIVE) ? "outbound" : "inbound",
				(h->flags & TS_F_ACTIVE) ? 8 : 7);
		json_object_object_add(o, "established",
				       json_object_new_boolean(h->flags & TS_F_ESTABLISHED));
		if (ev->close.error) {
			s = ts_errno_name(ev->close.error, ebuf);
			add_str(o, "error", s, strlen(s));
		}
		s = ts_end_reason(ev->close.error, ev->close.oldstate);
		add_str(o, "end_reason", s, strlen(s));
		if (h->flags & TS_F_START)
			add_u64(o, "duration_ns", ev->close.duration_ns);
		if (h->flags & TS_F_HANDSHAKE)
			add_u64(o, "connect_latency_ns", ev->close.connect_latency_ns);
		add_u64(o, "bytes_sent", ev->close.bytes_sent);
		add_u64(o, "bytes_received", ev->close.bytes_received);
		add_u64(o, "retransmits", ev->close.retransmits);
		break;
	case TS_RETRANSMIT:
		s = ts_tcp_state_name(h->state);
		if (s)
			add_str(o, "state", s, strlen(s));
		break;
	case TS_SEND:
	case TS_RECV:
		add_u64(o, "bytes", ev->io.bytes);
		if (h->flags & TS_F_LATENCY)
			add_u64(o, "latency_ns", ev->io.latency_ns);
		break;
	case TS_DNS: {
		const struct ts_dns *d = data;
		struct ts_dns_query q;
		char qt[12];

		add_str(o, "direction", "query", 5);	/* the bench's records are queries */
		if (!ts_dns_parse_query(d->payload, d->len, &q)) {
			add_u64(o, "id", q.id);
			add_str(o, "qname", q.qname, strlen(q.qname));
			s = ts_dns_type_name(q.qtype, qt);
			add_str(o, "qtype", s, strlen(s));
		}
		add_u64(o, "bytes", d->total);
		break;
	}
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	if (len + 2 > cap) {
		json_object_put(o);
		return -ENOSPC;
	}
	/* the line lands in the caller's buffer, as the real writer's does */
	memcpy(out, s, len);
	out[len] = '\n';
	json_object_put(o);
	return (int)len + 1;
}

/* Both encoders must give the same JSON value, or the race is unfair. */
static int check_same(struct ts_enc *e, const struct rec *r, uint64_t t)
{
	char a[TS_LINE_MAX], b[TS_LINE_MAX];
	json_object *ja, *jb;
	int na, nb, same;

	na = ts_encode_json(e, &r->ev, r->size, 1, t, a, sizeof(a));
	nb = jsonc_encode(e, &r->ev, 1, t, b, sizeof(b));
	if (na < 0 || nb < 0)
		return -EINVAL;
	a[na - 1] = b[nb - 1] = 0;
	ja = json_tokener_parse(a);
	jb = json_tokener_parse(b);
	same = ja && jb && json_object_equal(ja, jb);
	if (!same)
		fprintf(stderr, "encbench: %s: encoders disagree:\n  ours:  %s\n  json-c: %s\n",
			r->name, a, b);
	json_object_put(ja);
	json_object_put(jb);
	return same ? 0 : -EINVAL;
}

typedef int (*encode_fn)(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
			 uint64_t time_ns, char *out, size_t cap);

static int ours(struct ts_enc *e, const void *rec, size_t size, uint64_t seq, uint64_t time_ns,
		char *out, size_t cap)
{
	return ts_encode_json(e, rec, size, seq, time_ns, out, cap);
}

static int theirs(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		  uint64_t time_ns, char *out, size_t cap)
{
	return jsonc_encode(e, rec, seq, time_ns, out, cap);
}

/* Events per second of one encoder on one record, on this one thread. */
static double rate(encode_fn fn, struct ts_enc *e, const struct rec *r, size_t *line_len)
{
	static char out[TS_LINE_MAX];
	uint64_t seq = 0, t = ts_now_ns(CLOCK_REALTIME);
	double t0 = now_s(), el;
	size_t bytes = 0;

	do {
		/* the clock is read once per 1024 events so it costs nothing */
		for (int i = 0; i < 1024; i++) {
			int n = fn(e, &r->ev, r->size, ++seq, t, out, sizeof(out));

			if (n < 0)
				return -1;
			bytes += (size_t)n;
			t += 997;	/* a new second now and then, as in real traffic */
		}
		el = now_s() - t0;
	} while (el < min_time_s);
	*line_len = bytes / seq;
	return (double)seq / el;
}

/* ---- the reader path ---- */

struct reader_result {
	uint64_t events;
	double events_per_s;
	double mb_per_s;
	double cpu_ns_per_event;
	uint64_t events_out;
	uint64_t lost;
};

static int run_reader(const struct rec *mix, int n_mix, unsigned per_publish,
		      uint64_t events, struct reader_result *res)
{
	char path[] = "/tmp/tcpship-encbench.XXXXXX", err[256];
	struct ts_queue_opts q = {};
	struct ts_reader r;
	struct ts_run run;
	struct ts_fanout *fan;
	struct ts_sink_stats st;
	struct rec recs[8];
	double t0, c0, el;
	int fd, saved, rc;
	off_t size;

	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);	/* gone when we close it, whatever happens */
	/* the stdout sink writes to fd 1 and coalesces when that is a file */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ts_run_init(&run, HOST, AGENT, (unsigned)getpid());
	fan = ts_fanout_new(&run);
	if (!fan) {
		rc = -ENOMEM;
		goto restore;
	}
	{
		struct ts_output_req req = { .spec = "stdout", .where = "stdout" };
		const struct ts_output_ops *ops;
		void *conf;

		rc = ts_output_conf(&req, &ops, &conf, &q, err, sizeof(err));
		if (!rc)
			rc = ts_fanout_add(fan, ops, conf, &q, err, sizeof(err));
	}
	if (rc) {
		fprintf(stderr, "encbench: stdout sink: %s\n", err);
		goto out_fan;
	}
	rc = ts_reader_init(&r, -1, fan, &run, 0);
	if (rc)
		goto out_fan;
	rc = ts_fanout_start(fan, err, sizeof(err));
	if (rc)
		goto out_reader;

	memcpy(recs, mix, sizeof(*mix) * (size_t)n_mix);
	t0 = now_s();
	c0 = cpu_s();
	for (uint64_t i = 0, k = 0; i < events; i++) {
		struct rec *x = &recs[i % (uint64_t)n_mix];

		/* each record a little different, as real ones are */
		x->ev.h.ts_ns += 1000;
		x->ev.h.sport = (uint16_t)(32768 + i % 28000);
		ts_reader_handle(&r, &x->ev, x->size);
		if (++k == per_publish) {
			ts_reader_publish(&r);
			k = 0;
		}
	}
	ts_reader_publish(&r);
	ts_fanout_stop(fan, ts_now_ns(CLOCK_MONOTONIC) + 60 * 1000000000ULL);
	el = now_s() - t0;
	res->cpu_ns_per_event = (cpu_s() - c0) * 1e9 / (double)events;

	ts_fanout_stats(fan, 0, &st);
	size = lseek(fd, 0, SEEK_END);
	res->events = events;
	res->events_per_s = (double)events / el;
	res->mb_per_s = size > 0 ? (double)size / el / 1e6 : 0;
	res->events_out = st.events_out;
	res->lost = st.dropped_full + st.dropped_error + st.dropped_exit + r.malformed + r.nomem;
	if (st.events_out != events || res->lost) {
		fprintf(stderr, "encbench: reader: %llu of %llu events written, %llu lost\n",
			(unsigned long long)st.events_out, (unsigned long long)events,
			(unsigned long long)res->lost);
		rc = -EIO;
	}
out_reader:
	ts_reader_free(&r);
out_fan:
	ts_fanout_free(fan);
restore:
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	return rc;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "time", required_argument, NULL, 't' },
		{ "events", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "t:n:qh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			min_time_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(min_time_s > 0) || min_time_s > 60) {
				fprintf(stderr, "encbench: --time: want seconds in (0, 60], got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (ts_parse_u64(optarg, 1000, 100000000, &v)) {
				fprintf(stderr, "encbench: --events: want 1000..100000000, got '%s'\n",
					optarg);
				return -1;
			}
			reader_events = v;
			break;
		case 'q':
			min_time_s = 0.1;
			reader_events = 200000;
			break;
		case 'h':
			printf("Usage: encbench [--time SEC] [--events N] [--quick]\n"
			       "  --time SEC   run each encode case at least this long (default 0.5)\n"
			       "  --events N   records through the reader path (default 1000000)\n"
			       "  --quick      --time 0.1 --events 200000\n");
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "encbench: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* one record per publish is several times slower: a tenth of the records keeps
	 * the run short */
	static const unsigned publish[] = { 256, 1 }, share[] = { 1, 10 };
	struct rec recs[8], mix[4];
	double r_ours[8], r_jc[8];
	size_t len_ours[8], len_jc[8];
	struct reader_result rr[TS_ARRAY_SIZE(publish)] = {};
	struct ts_enc e;
	int n, rc = 0;

	if (parse_args(argc, argv))
		return 2;
	n = make_recs(recs);
	ts_enc_init(&e, HOST, AGENT);
	if (make_ident())
		return 1;
	e.id = &bench_id;
	for (int i = 0; i < n; i++)
		if (check_same(&e, &recs[i], ts_now_ns(CLOCK_REALTIME)))
			return 1;

	for (int i = 0; i < n; i++) {
		r_ours[i] = rate(ours, &e, &recs[i], &len_ours[i]);
		r_jc[i] = rate(theirs, &e, &recs[i], &len_jc[i]);
		if (r_ours[i] < 0 || r_jc[i] < 0) {
			fprintf(stderr, "encbench: %s: encoding failed\n", recs[i].name);
			return 1;
		}
		printf("encode.ours.%s %.0f events/s\n", recs[i].name, r_ours[i]);
		printf("encode.jsonc.%s %.0f events/s\n", recs[i].name, r_jc[i]);
		printf("encode.speedup.%s %.2f x\n", recs[i].name, r_ours[i] / r_jc[i]);
		printf("encode.line.%s %zu bytes\n", recs[i].name, len_ours[i]);
		/* the faster run reaches longer seq numbers: a byte or two is
		 * that; more would mean other spacing or escapes */
		if (len_jc[i] + 2 < len_ours[i] || len_jc[i] > len_ours[i] + 2)
			printf("encode.line_jsonc.%s %zu bytes\n", recs[i].name, len_jc[i]);
	}

	/* what the `conn` workload produces: connect, accept, two closes */
	mix[0] = recs[0];
	mix[1] = recs[1];
	mix[2] = recs[2];
	mix[3] = recs[3];
	for (size_t i = 0; i < TS_ARRAY_SIZE(publish); i++) {
		int err = run_reader(mix, 4, publish[i], reader_events / share[i], &rr[i]);

		if (err) {
			fprintf(stderr, "encbench: reader path (%u per publish): %s\n", publish[i],
				strerror(-err));
			rc = 1;
			continue;
		}
		printf("reader.publish%u %.0f events/s\n", publish[i], rr[i].events_per_s);
		printf("reader.publish%u.write %.1f MB/s\n", publish[i], rr[i].mb_per_s);
		printf("reader.publish%u.cpu %.0f ns/event\n", publish[i], rr[i].cpu_ns_per_event);
	}

	/* every shape on the same mix: the cost of a line per shape in use */
	double shape_rate[TS_SHAPE_MAX] = {};
	size_t shape_len[TS_SHAPE_MAX] = {};
	for (unsigned sh = 0; sh < TS_SHAPE_MAX; sh++) {
		double inv = 0;
		size_t len = 0, total = 0;

		if (sh == TS_SHAPE_TEXT)
			continue;
		for (int i = 0; i < 4; i++) {
			double r = rate((encode_fn)ts_shapes[sh].encode, &e, &mix[i], &len);

			if (r <= 0) {
				fprintf(stderr, "encbench: shape %s: encoding failed\n",
					ts_shapes[sh].name);
				return 1;
			}
			inv += 1 / r;
			total += len;
		}
		shape_rate[sh] = 4 / inv;
		shape_len[sh] = total / 4;
		printf("shape.%s %.0f events/s, %zu bytes a line\n", ts_shapes[sh].name,
		       shape_rate[sh], shape_len[sh]);
	}

	printf("{\"encode\":{");
	for (int i = 0; i < n; i++)
		printf("%s\"%s\":{\"ours_events_per_s\":%.0f,\"jsonc_events_per_s\":%.0f,"
		       "\"speedup\":%.2f,\"line_bytes\":%zu}",
		       i ? "," : "", recs[i].name, r_ours[i], r_jc[i], r_ours[i] / r_jc[i],
		       len_ours[i]);
	printf("},\"shapes\":{");
	for (unsigned sh = 0, first = 1; sh < TS_SHAPE_MAX; sh++) {
		if (!shape_rate[sh])
			continue;
		printf("%s\"%s\":{\"events_per_s\":%.0f,\"line_bytes\":%zu}", first ? "" : ",",
		       ts_shapes[sh].name, shape_rate[sh], shape_len[sh]);
		first = 0;
	}
	printf("},\"reader\":{");
	for (size_t i = 0; i < TS_ARRAY_SIZE(publish); i++)
		printf("%s\"publish%u\":{\"events\":%llu,\"events_per_s\":%.0f,\"mb_per_s\":%.1f,"
		       "\"cpu_ns_per_event\":%.0f,\"lost\":%llu}",
		       i ? "," : "", publish[i], (unsigned long long)rr[i].events,
		       rr[i].events_per_s, rr[i].mb_per_s, rr[i].cpu_ns_per_event,
		       (unsigned long long)rr[i].lost);
	printf("}}\n");
	return rc;
}
