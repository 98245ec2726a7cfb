// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The disk queue on one core: tcpship-sized lines appended in reader-sized
 * batches (256 records), read back in HTTP-sized units (1000 records),
 * committed, segments written, rotated and removed, on the disk the
 * machine has (/var/tmp), once per sync policy. CPU time is the process's
 * (the sync thread included), so events/s is per core of CPU spent.
 *
 *   dqbench [--events N] [--quick]
 *
 * Prints a line per policy, then one JSON line with every figure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dqueue.h"
#include "ident.h"
#include "shape.h"
#include "util.h"

#define AGENT "0b7c2f3e-6a51-4d2e-9f1a-3c5d7e9b1a2c"
#define BATCH 256
#define UNIT 1000

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double wall_s(void)
{
	return (double)ts_now_ns(CLOCK_MONOTONIC) / 1e9;
}

/* a batch of lines as long as a container's connect event */
static struct ts_batch *make_batch(const struct ts_cginfo *cg)
{
	struct ts_batch *b = ts_batch_new(BATCH * 1024, BATCH);

	for (int i = 0; i < BATCH; i++) {
		struct ts_rec *r = &b->recs[b->n++];
		int len = snprintf(
			b->data + b->len, 1024,
			"{\"time\":\"2026-12-07T10:00:00.%09dZ\",\"type\":\"connect\",\"host\":"
			"\"bench-host.example\",\"seq\":%d,\"agent_id\":\"" AGENT "\",\"pid\":4242,"
			"\"tid\":4242,\"uid\":1000,\"comm\":\"curl\",\"family\":\"ipv4\",\"saddr\":"
			"\"10.0.0.1\",\"sport\":%d,\"daddr\":\"10.0.0.2\",\"dport\":443,\"probe\":"
			"\"tracepoint\",\"ppid\":4000,\"process_start\":\"2026-12-07T09:59:59.1Z\","
			"\"exe\":\"/usr/bin/curl\",\"netns\":4026531840,\"cgroup\":\"/kubepods/besteffort/"
			"pod0b7c2f3e-6a51-4d2e-9f1a-3c5d7e9b1a2c/0123456789abcdef0123456789abcdef0123456789"
			"abcdef0123456789abcdef\",\"container_id\":\"0123456789abcdef0123456789abcdef0123"
			"456789abcdef0123456789abcdef\",\"container_runtime\":\"containerd\","
			"\"container_name\":\"web\",\"pod\":\"web-6d5f9c7b8-x2x7k\",\"pod_namespace\":"
			"\"prod\",\"image\":\"registry.example/web:1.2.3\",\"community_id\":"
			"\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\"}\n",
			i, i, 40000 + i);

		memset(r, 0, sizeof(*r));
		r->off = (uint32_t)b->len;
		r->len = (uint32_t)len;
		r->seq = (uint64_t)i;
		r->type = "connect";
		r->family = 2;
		r->cg = cg;
		ts_batch_hold(b, cg);
		b->len += (size_t)len;
	}
	return b;
}

struct result {
	const char *policy;
	uint64_t events, bytes;
	double cpu, wall;
};

static int run(enum ts_dq_sync sync, const char *policy, uint64_t events,
	       const struct ts_batch *b, struct result *res)
{
	char dir[128], err[512], cmd[160];
	struct ts_dq_opts o = { .dir = dir, .max_bytes = 1ULL << 30, .sync = sync,
				.agent_id = AGENT, .name = "dqbench" };
	struct ts_batch *u = ts_batch_new((1 << 20) + TS_LINE_MAX, UNIT);
	uint64_t in = 0, out = 0, line_bytes = 0;
	struct ts_dq *q;
	double c0, w0;

	snprintf(dir, sizeof(dir), "/var/tmp/tcpship-dqbench-%d", getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) || ts_dq_open(&q, &o, err, sizeof(err))) {
		fprintf(stderr, "dqbench: %s\n", err);
		return -1;
	}
	for (uint32_t i = 0; i < b->n; i++)
		line_bytes += b->recs[i].len;
	c0 = cpu_s();
	w0 = wall_s();
	while (out < events) {
		uint64_t recs;

		if (in < events) {
			uint32_t done;

			if (ts_dq_append(q, b, 0, &done) || done != b->n) {
				fprintf(stderr, "dqbench: append failed\n");
				return -1;
			}
			in += done;
		}
		ts_dq_backlog(q, &recs);
		while (recs >= UNIT || (in >= events && ts_dq_readable(q))) {
			struct ts_dq_span sp;

			u->n = 0;
			u->len = 0;
			if (ts_dq_read(q, u, UNIT, 1 << 20, &sp))
				break;
			out += u->n;
			ts_dq_commit(q, &sp);
			/* what the unit held of the cgroup: let it go, as
			 * ts_batch_put would */
			for (uint32_t i = 0; i < u->n_cgs; i++)
				ts_cginfo_put(u->cgs[i]);
			u->n_cgs = 0;
			ts_dq_backlog(q, &recs);
		}
	}
	res->cpu = cpu_s() - c0;
	res->wall = wall_s() - w0;
	res->events = out;
	res->bytes = line_bytes * (out / b->n);
	res->policy = policy;
	ts_dq_close(q);
	ts_batch_put(u);
	if (system(cmd)) {
		/* left behind in /var/tmp */
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t events = 2000000;
	struct ts_cginfo *cg = ts_cginfo_new_keys(
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"web-6d5f9c7b8-x2x7k", "prod");
	struct ts_batch *b = make_batch(cg);
	struct result r[3];
	int c;

	while ((c = getopt_long(argc, argv, "n:q", opts, NULL)) != -1) {
		if (c == 'n')
			events = strtoull(optarg, NULL, 10);
		else if (c == 'q')
			events = 300000;
		else
			return 2;
	}
	if (run(TS_DQ_SYNC_INTERVAL, "interval", events, b, &r[0]) ||
	    run(TS_DQ_SYNC_NONE, "none", events, b, &r[1]) ||
	    run(TS_DQ_SYNC_BATCH, "batch", events / 10, b, &r[2]))
		return 1;
	for (int i = 0; i < 3; i++)
		printf("dqueue sync=%s: %llu events, %.0f events/s per CPU core, %.0f events/s "
		       "wall, %.1f MB/s of lines\n", r[i].policy, (unsigned long long)r[i].events,
		       (double)r[i].events / r[i].cpu, (double)r[i].events / r[i].wall,
		       (double)r[i].bytes / r[i].wall / 1e6);
	printf("{\"line_bytes\":%u,\"dqueue\":{", b->recs[0].len);
	for (int i = 0; i < 3; i++)
		printf("%s\"%s\":{\"events\":%llu,\"cpu_s\":%.4f,\"wall_s\":%.4f,"
		       "\"events_per_cpu_s\":%.0f,\"events_per_s\":%.0f,\"mb_per_s\":%.1f}",
		       i ? "," : "", r[i].policy, (unsigned long long)r[i].events, r[i].cpu,
		       r[i].wall, (double)r[i].events / r[i].cpu, (double)r[i].events / r[i].wall,
		       (double)r[i].bytes / r[i].wall / 1e6);
	printf("}}\n");
	ts_batch_put(b);
	ts_cginfo_put(cg);
	return 0;
}
