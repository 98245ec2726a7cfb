// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The disk queue on its own: records in, the same bytes and fields out,
 * commits in order, what a restart finds (replay, the dedup key of the run
 * that wrote a record), and every kind of damage: a torn tail, flipped
 * bytes, a missing or corrupt position, a full quota, a second opener.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dqueue.h"
#include "ident.h"
#include "shape.h"
#include "test.h"

#define AGENT1 "11111111-1111-4111-8111-111111111111"
#define AGENT2 "22222222-2222-4222-8222-222222222222"

static char dir[256];

/* one folder for the whole run (the tests run one after another, each in
 * a child of the harness): at most one is left behind */
static void fresh_dir(void)
{
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/tcpship-dq-%d", getppid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
		/* nothing there */
	}
}

static struct ts_dq *open_q(const char *agent, uint64_t max, char *err)
{
	struct ts_dq_opts o = { .dir = dir, .max_bytes = max, .sync = TS_DQ_SYNC_NONE,
				.agent_id = agent, .name = "test" };
	struct ts_dq *q = NULL;

	err[0] = 0;
	ts_dq_open(&q, &o, err, 256);
	return q;
}

/* n records with seq first.., lines {"seq":N,"pad":"..."} */
static struct ts_batch *recs(uint64_t first, uint32_t n, const struct ts_cginfo *cg)
{
	struct ts_batch *b = ts_batch_new(256 * n + 256, n);

	for (uint32_t i = 0; i < n && b; i++) {
		struct ts_rec *r = &b->recs[b->n++];
		int len = snprintf(b->data + b->len, 256, "{\"seq\":%llu,\"pad\":\"%0*d\"}\n",
				   (unsigned long long)(first + i), (int)(i % 50), 0);

		memset(r, 0, sizeof(*r));
		r->off = (uint32_t)b->len;
		r->len = (uint32_t)len;
		r->seq = first + i;
		r->time_ns = 1700000000000000000ULL + first + i;
		r->type = ts_type_name(1 + i % 3);
		r->family = 2;
		r->sport = (uint16_t)(1000 + i);
		r->dport = 80;
		r->pid = 4242;
		memcpy(r->comm, "cur\x01l", 5);
		r->daddr[0] = 127;
		r->daddr[3] = 1;
		r->cg = cg;
		if (cg)
			ts_batch_hold(b, cg);
		b->len += (size_t)len;
	}
	return b;
}

/* read everything readable; returns the seqs in order in out */
static int drain(struct ts_dq *q, uint64_t *out, int cap, bool commit, const char **agent)
{
	int n = 0;

	while (ts_dq_readable(q)) {
		struct ts_batch *u = ts_batch_new((1 << 20) + TS_LINE_MAX, 1000);
		struct ts_dq_span sp;

		if (ts_dq_read(q, u, 1000, 1 << 20, &sp)) {
			ts_batch_put(u);
			continue;
		}
		for (uint32_t i = 0; i < u->n && n < cap; i++) {
			const struct ts_rec *r = &u->recs[i];

			if (agent)
				*agent = r->agent_id;
			out[n++] = r->seq;
		}
		if (commit)
			ts_dq_commit(q, &sp);
		ts_batch_put(u);
	}
	return n;
}

static char *seg_path(char *buf, size_t len, int which)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char names[8][256];
	int n = 0;

	buf[0] = 0;
	while (d && (e = readdir(d)) && n < 8)
		if (strstr(e->d_name, ".seg"))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	if (d)
		closedir(d);
	/* by name: the first qid in hex, so the order of writing */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char t[256];

				memcpy(t, names[i], sizeof(t));
				memcpy(names[i], names[j], sizeof(t));
				memcpy(names[j], t, sizeof(t));
			}
	if (which < n)
		snprintf(buf, len, "%s/%s", dir, names[which]);
	return buf;
}

TEST(dqueue_round_trip_keeps_bytes_and_fields)
{
	char err[256];
	struct ts_cginfo *cg = ts_cginfo_new_keys("ab12", "web-0", "prod");
	struct ts_dq *q;
	struct ts_batch *b, *u;
	struct ts_dq_span sp;
	uint32_t done;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 10, cg);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	CHECK_U64(done, 10);
	u = ts_batch_new((1 << 20) + TS_LINE_MAX, 1000);
	CHECK_INT(ts_dq_read(q, u, 1000, 1 << 20, &sp), 0);
	CHECK_U64(u->n, 10);
	for (uint32_t i = 0; i < 10; i++) {
		const struct ts_rec *r = &u->recs[i], *w = &b->recs[i];

		CHECK_MEM(u->data + r->off, r->len, b->data + w->off, w->len);
		CHECK_U64(r->seq, w->seq);
		CHECK_U64(r->time_ns, w->time_ns);
		CHECK_STR(r->type, w->type);
		CHECK(r->type == w->type);	/* the static string itself */
		CHECK_U64(r->sport, w->sport);
		CHECK_U64(r->pid, 4242);
		CHECK_MEM(r->comm, 5, "cur\x01l", 5);
		CHECK_MEM(r->daddr, 16, w->daddr, 16);
		CHECK(r->cg);
		CHECK_STR(r->cg->container_id, "ab12");
		CHECK_STR(r->cg->pod, "web-0");
		CHECK_STR(r->cg->pod_namespace, "prod");
		CHECK(!r->agent_id);	/* this run's own */
	}
	CHECK(!ts_dq_readable(q));
	ts_dq_commit(q, &sp);
	struct ts_dq_stats st;

	ts_dq_stats(q, &st);
	CHECK_U64(st.records, 0);
	ts_batch_put(u);
	ts_batch_put(b);
	ts_cginfo_put(cg);
	ts_dq_close(q);
}

TEST(dqueue_restart_replays_what_was_not_committed)
{
	char err[256];
	uint64_t seqs[4096];
	const char *agent = NULL;
	struct ts_dq *q;
	struct ts_dq_stats st;
	uint32_t done;
	struct ts_batch *b;
	int n;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 100, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	/* 100 read, the first read committed: 1000 per read, so all of it */
	n = drain(q, seqs, 4096, true, NULL);
	CHECK_INT(n, 100);
	b = recs(101, 50, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_close(q);	/* 50 not delivered */

	q = open_q(AGENT2, 1 << 24, err);
	CHECKF(q, "reopen: %s", err);
	ts_dq_stats(q, &st);
	CHECK_U64(st.records, 50);
	b = recs(1, 5, NULL);	/* the new run starts its seq again */
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	n = drain(q, seqs, 4096, true, &agent);
	CHECK_INT(n, 55);
	for (int i = 0; i < 50; i++)
		CHECK_U64(seqs[i], 101 + (uint64_t)i);	/* the old ones first, in order */
	for (int i = 0; i < 5; i++)
		CHECK_U64(seqs[50 + i], 1 + (uint64_t)i);
	CHECK(!agent);	/* the last read was of this run */
	ts_dq_stats(q, &st);
	CHECK_U64(st.replayed, 50);
	CHECK_U64(st.corrupt, 0);
	CHECK_U64(st.records, 0);
	ts_dq_close(q);
}

TEST(dqueue_replay_keeps_the_writers_agent_id)
{
	char err[256];
	struct ts_dq *q;
	struct ts_batch *b, *u;
	struct ts_dq_span sp;
	uint32_t done;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(7, 3, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_close(q);
	q = open_q(AGENT2, 1 << 24, err);
	CHECKF(q, "reopen: %s", err);
	u = ts_batch_new((1 << 20) + TS_LINE_MAX, 1000);
	CHECK_INT(ts_dq_read(q, u, 1000, 1 << 20, &sp), 0);
	CHECK_U64(u->n, 3);
	CHECK_STR(u->recs[0].agent_id, AGENT1);
	CHECK_U64(u->recs[0].seq, 7);
	ts_batch_put(u);
	ts_dq_close(q);
}

TEST(dqueue_second_opener_is_refused)
{
	char err[256], err2[256];
	struct ts_dq *q, *q2;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	q2 = open_q(AGENT2, 1 << 24, err2);
	CHECK(!q2);
	CHECKF(strstr(err2, "in use by another tcpship") && strstr(err2, dir), "%s", err2);
	ts_dq_close(q);
}

TEST(dqueue_unusable_directory_is_an_error)
{
	char err[256];
	struct ts_dq *q;
	FILE *f;

	fresh_dir();
	f = fopen(dir, "w");	/* a file where the folder should be */
	CHECK(f);
	fclose(f);
	q = open_q(AGENT1, 1 << 24, err);
	CHECK(!q);
	CHECKF(strstr(err, dir) && strstr(err, "Not a directory"), "%s", err);
	unlink(dir);
}

TEST(dqueue_torn_tail_is_counted_and_the_rest_arrives)
{
	char err[256], seg[512];
	uint64_t seqs[4096];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b;
	struct stat sb;
	uint32_t done;
	int n;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 20, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_close(q);
	seg_path(seg, sizeof(seg), 0);
	CHECK(!stat(seg, &sb));
	CHECK(!truncate(seg, sb.st_size - 10));	/* a crash in the last write */

	q = open_q(AGENT2, 1 << 24, err);
	CHECKF(q, "reopen: %s", err);
	b = recs(1, 3, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	n = drain(q, seqs, 4096, true, NULL);
	CHECK_INT(n, 19 + 3);
	for (int i = 0; i < 19; i++)
		CHECK_U64(seqs[i], 1 + (uint64_t)i);
	ts_dq_stats(q, &st);
	CHECK_U64(st.corrupt, 1);
	CHECK(st.corrupt_bytes > 0);
	ts_dq_close(q);
}

TEST(dqueue_flipped_bytes_skip_that_record_only)
{
	char err[256], seg[512];
	uint64_t seqs[4096];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b;
	struct stat sb;
	uint32_t done;
	int n, fd;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 40, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_close(q);
	seg_path(seg, sizeof(seg), 0);
	CHECK(!stat(seg, &sb));
	fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "\xff\x00\xff", 3, sb.st_size / 2) == 3);
	close(fd);

	q = open_q(AGENT2, 1 << 24, err);
	CHECKF(q, "reopen: %s", err);
	n = drain(q, seqs, 4096, true, NULL);
	ts_dq_stats(q, &st);
	CHECKF(n == 39 || n == 38, "%d records read", n);	/* the 3 bytes may span two */
	CHECK_U64(st.corrupt, 40 - (uint64_t)n);
	CHECK(st.corrupt_bytes > 0);
	for (int i = 1; i < n; i++)
		CHECK(seqs[i] > seqs[i - 1]);
	CHECK_U64(seqs[0], 1);
	CHECK_U64(seqs[n - 1], 40);
	ts_dq_close(q);
}

TEST(dqueue_missing_or_corrupt_position_replays_everything)
{
	char err[256], pos[512];
	uint64_t seqs[4096];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b;
	uint32_t done;
	int n;

	for (int corrupt = 0; corrupt < 2; corrupt++) {
		fresh_dir();
		q = open_q(AGENT1, 1 << 24, err);
		CHECKF(q, "open: %s", err);
		b = recs(1, 30, NULL);
		CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
		ts_batch_put(b);
		n = drain(q, seqs, 4096, true, NULL);	/* all delivered */
		CHECK_INT(n, 30);
		ts_dq_close(q);
		snprintf(pos, sizeof(pos), "%s/position", dir);
		if (corrupt) {
			FILE *f = fopen(pos, "r+");

			CHECK(f);
			fputs("garbage garbage garbage garbage garbage garbage garbage garbage", f);
			fclose(f);
		} else {
			CHECK(!unlink(pos));
		}
		q = open_q(AGENT2, 1 << 24, err);
		CHECKF(q, "reopen: %s", err);
		ts_dq_stats(q, &st);
		CHECK_U64(st.position_lost, 1);
		n = drain(q, seqs, 4096, true, NULL);
		CHECK_INT(n, 30);	/* at least once: sent again */
		ts_dq_close(q);
	}
}

TEST(dqueue_max_size_refuses_and_delivery_frees)
{
	char err[256];
	uint64_t seqs[20000];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b;
	uint32_t done, total = 0;
	int rc = 0, n;

	fresh_dir();
	q = open_q(AGENT1, 256 * 1024, err);
	CHECKF(q, "open: %s", err);
	for (int i = 0; i < 100 && !rc; i++) {
		b = recs(1 + total, 100, NULL);
		rc = ts_dq_append(q, b, 0, &done);
		total += done;
		ts_batch_put(b);
	}
	CHECK_INT(rc, -EDQUOT);
	ts_dq_stats(q, &st);
	CHECKF(st.bytes <= 256 * 1024 && st.bytes > 200 * 1024, "%llu bytes",
	       (unsigned long long)st.bytes);
	CHECK_U64(st.records, total);
	CHECK(!ts_dq_fits(q, 4096));
	n = drain(q, seqs, 20000, true, NULL);
	CHECK_INT(n, (int)total);
	/* delivered segments go: room again */
	b = recs(1 + total, 100, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_stats(q, &st);
	CHECKF(st.bytes < 128 * 1024, "%llu bytes on disk after delivery",
	       (unsigned long long)st.bytes);
	ts_dq_close(q);
}

TEST(dqueue_commits_in_order_of_reads)
{
	char err[256];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b, *u1, *u2;
	struct ts_dq_span s1, s2;
	uint32_t done;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 20, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	u1 = ts_batch_new((1 << 20) + TS_LINE_MAX, 10);
	u2 = ts_batch_new((1 << 20) + TS_LINE_MAX, 10);
	CHECK_INT(ts_dq_read(q, u1, 10, 1 << 20, &s1), 0);
	CHECK_INT(ts_dq_read(q, u2, 10, 1 << 20, &s2), 0);
	ts_dq_commit(q, &s2);	/* the second finished first */
	ts_dq_stats(q, &st);
	CHECK_U64(st.records, 20);	/* the first still holds the position */
	ts_dq_commit(q, &s1);
	ts_dq_stats(q, &st);
	CHECK_U64(st.records, 0);
	ts_batch_put(u1);
	ts_batch_put(u2);
	ts_dq_close(q);
}

TEST(dqueue_empty_segment_of_a_killed_run_takes_nothing)
{
	char err[256], path[512];
	uint64_t seqs[4096];
	struct ts_dq *q;
	struct ts_dq_stats st;
	struct ts_batch *b;
	uint32_t done;
	int n, fd;

	fresh_dir();
	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "open: %s", err);
	b = recs(1, 10, NULL);	/* qids 1..10, delivered */
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	CHECK_INT(drain(q, seqs, 4096, true, NULL), 10);
	ts_dq_close(q);
	/* a run killed before its first append: an empty segment at qid 11,
	 * the first qid the next run would take too */
	snprintf(path, sizeof(path), "%s/000000000000000b-33333333-3333-4333-8333-333333333333.seg",
		 dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);

	q = open_q(AGENT2, 1 << 24, err);
	CHECKF(q, "reopen: %s", err);
	b = recs(100, 5, NULL);
	CHECK_INT(ts_dq_append(q, b, 0, &done), 0);
	ts_batch_put(b);
	ts_dq_close(q);	/* killed again, nothing delivered */

	q = open_q(AGENT1, 1 << 24, err);
	CHECKF(q, "third open: %s", err);
	ts_dq_stats(q, &st);
	CHECK_U64(st.records, 5);
	n = drain(q, seqs, 4096, true, NULL);
	CHECK_INT(n, 5);	/* whatever order the folder lists them in */
	for (int i = 0; i < 5; i++)
		CHECK_U64(seqs[i], 100 + (uint64_t)i);
	ts_dq_stats(q, &st);
	CHECK_U64(st.corrupt, 0);
	ts_dq_close(q);
}
