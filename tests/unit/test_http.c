// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP sink without a network: the exact request bodies of every format
 * (through the sink's format hook, after a real open() from a config entry
 * with the run's constants), gzip round trips, the classification of
 * answers, the Retry-After clamp, the Elasticsearch bulk answer item by
 * item, and the checks that make a bad config exit 2.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "conf.h"
#include "http/http.h"
#include "reader.h"
#include "shape.h"
#include "sink.h"
#include "sink_open.h"
#include "tcpship.h"
#include "ident.h"
#include "test.h"

#define AGENT "0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f"
/* 2026-11-26T09:42:09.123456789Z (see test_encode.c for the arithmetic) */
#define T_NS 1795686129123456789ULL
#define DAY_NS (86400ULL * 1000000000ULL)

/* ---- batches of hand-written lines ---- */

struct hline {
	unsigned type;
	uint64_t seq, time_ns;
	const char *line;	/* with its '\n' */
};

static struct ts_batch *hbatch(const struct hline *h, int n)
{
	struct ts_batch *b = ts_batch_new(65536, 64);

	for (int i = 0; i < n && b; i++) {
		size_t len = strlen(h[i].line);
		struct ts_rec *r = &b->recs[i];

		memset(r, 0, sizeof(*r));
		r->off = (uint32_t)b->len;
		r->len = (uint32_t)len;
		r->seq = h[i].seq;
		r->time_ns = h[i].time_ns;
		r->type = ts_type_name(h[i].type);
		r->family = AF_INET;
		memcpy(b->data + b->len, h[i].line, len);
		b->len += len;
		b->n++;
	}
	return b;
}

#define LINE(type, seq) \
	"{\"time\":\"x\",\"type\":\"" type "\",\"host\":\"h1\",\"seq\":" #seq \
	",\"agent_id\":\"" AGENT "\",\"comm\":\"a\\\"b\\\\c\"}\n"

/* the http sink from a config entry (JSON text) */
#define hopen(json, ...) test_sink_open(NULL, json, __VA_ARGS__)
#define hclose test_sink_close

/* The run the hand-written lines above come from: formats take host and
 * agent_id from the run, not from the lines. */
static const struct ts_run *h1_run(void)
{
	static struct ts_run run;

	if (!run.agent_id[0])
		ts_run_init(&run, "h1", AGENT, 777);
	return &run;
}

/* The body the sink would send for all of b, as a NUL-terminated string. */
#define body_of_run test_sink_body

static char *body_of(const char *json, const struct ts_batch *b, char *err, size_t errlen)
{
	return body_of_run(h1_run(), json, b, err, errlen);
}

/* ---- the formats, byte for byte ---- */

TEST(http_format_table_names)
{
	/* the config's names are the formats' own, in the table's order */
	for (int i = 0; ts_http_formats[i] || ts_http_format_names[i]; i++) {
		CHECK(ts_http_formats[i] && ts_http_format_names[i]);
		CHECK_STR(ts_http_formats[i]->name, ts_http_format_names[i]);
		CHECK(ts_http_formats[i]->build && ts_http_formats[i]->content_type);
	}
	CHECK_STR(ts_http_format_names[0], "ndjson");
}

TEST(http_format_ndjson_is_the_lines)
{
	static const struct hline h[] = {
		{ TS_CONNECT, 1, T_NS, LINE("connect", 1) },
		{ TS_CLOSE, 2, T_NS + 5, LINE("close", 2) },
	};
	struct ts_batch *b = hbatch(h, 2);
	char err[300], *body;

	CHECK(b);
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:1/\"}", b, err, sizeof(err));
	CHECKF(body, "%s", err);
	CHECK_STR(body, LINE("connect", 1) LINE("close", 2));
	free(body);
	ts_batch_put(b);
}

#define ACT(act, idx, seq) "{\"" act "\":{\"_index\":\"" idx "\",\"_id\":\"" AGENT "-" #seq "\"}}\n"

TEST(http_format_elasticsearch_bulk_pairs)
{
	/* the index comes from each event's own UTC time: the third event is
	 * a day later and goes to the next day's index */
	static const struct hline h[] = {
		{ TS_CONNECT, 7, T_NS, LINE("connect", 7) },
		{ TS_ACCEPT, 8, T_NS + 1, LINE("accept", 8) },
		{ TS_CLOSE, 9, T_NS + DAY_NS, LINE("close", 9) },
	};
	struct ts_batch *b = hbatch(h, 3);
	char err[300], *body;

	CHECK(b);
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:9200\","
		       "\"format\":\"elasticsearch\"}", b, err, sizeof(err));
	CHECKF(body, "%s", err);
	CHECK_STR(body, ACT("create", "tcpship-2026.11.26", 7) LINE("connect", 7)
			ACT("create", "tcpship-2026.11.26", 8) LINE("accept", 8)
			ACT("create", "tcpship-2026.11.27", 9) LINE("close", 9));
	free(body);

	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:9200\","
		       "\"format\":\"elasticsearch\",\"action\":\"index\","
		       "\"index\":\"net-%Y.%j-%H\"}", b, err, sizeof(err));
	CHECKF(body, "%s", err);
	CHECK_STR(body, ACT("index", "net-2026.330-09", 7) LINE("connect", 7)
			ACT("index", "net-2026.330-09", 8) LINE("accept", 8)
			ACT("index", "net-2026.331-09", 9) LINE("close", 9));
	/* a bulk body ends in a newline, always */
	CHECK(body[strlen(body) - 1] == '\n');
	free(body);
	ts_batch_put(b);
}

TEST(http_format_loki_streams_sorted_labels)
{
	/* two types interleaved, out of time order within each type */
	static const struct hline h[] = {
		{ TS_CONNECT, 1, T_NS + 300, LINE("connect", 1) },
		{ TS_CLOSE, 2, T_NS + 200, LINE("close", 2) },
		{ TS_CONNECT, 3, T_NS + 100, LINE("connect", 3) },
		{ TS_CLOSE, 4, T_NS + 400, LINE("close", 4) },
		{ TS_CONNECT, 5, T_NS + 100, LINE("connect", 5) },
	};
	struct ts_batch *b = hbatch(h, 5);
	char err[300], *body;
	struct json_object *root, *streams;

	CHECK(b);
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:3100\",\"format\":\"loki\","
		       "\"labels\":{\"job\":\"tcpship\",\"env\":\"q\\\"a\"}}", b, err, sizeof(err));
	CHECKF(body, "%s", err);
#define LV(type, seq) "\"{\\\"time\\\":\\\"x\\\",\\\"type\\\":\\\"" type "\\\",\\\"host\\\":" \
	"\\\"h1\\\",\\\"seq\\\":" #seq ",\\\"agent_id\\\":\\\"" AGENT "\\\",\\\"comm\\\":" \
	"\\\"a\\\\\\\"b\\\\\\\\c\\\"}\""
	CHECK_STR(body,
		  "{\"streams\":["
		  "{\"stream\":{\"host\":\"h1\",\"type\":\"connect\",\"job\":\"tcpship\","
		  "\"env\":\"q\\\"a\"},\"values\":["
		  "[\"1795686129123456889\"," LV("connect", 3) "],"
		  "[\"1795686129123456889\"," LV("connect", 5) "],"
		  "[\"1795686129123457089\"," LV("connect", 1) "]]},"
		  "{\"stream\":{\"host\":\"h1\",\"type\":\"close\",\"job\":\"tcpship\","
		  "\"env\":\"q\\\"a\"},\"values\":["
		  "[\"1795686129123456989\"," LV("close", 2) "],"
		  "[\"1795686129123457189\"," LV("close", 4) "]]}"
		  "]}");
	/* and each value is the line itself once decoded */
	root = json_tokener_parse(body);
	CHECK(root && json_object_object_get_ex(root, "streams", &streams));
	{
		struct json_object *s0 = json_object_array_get_idx(streams, 0), *vals, *v;

		CHECK(json_object_object_get_ex(s0, "values", &vals));
		v = json_object_array_get_idx(json_object_array_get_idx(vals, 2), 1);
		CHECK_STR(json_object_get_string(v), "{\"time\":\"x\",\"type\":\"connect\","
			  "\"host\":\"h1\",\"seq\":1,\"agent_id\":\"" AGENT "\",\"comm\":\"a\\\"b\\\\c\"}");
	}
	json_object_put(root);
	free(body);
	ts_batch_put(b);
}

/* pod_namespace_label: a stream per (type, namespace); a record without a
 * pod has no such label; only Loki takes the key. */
TEST(http_format_loki_pod_namespace_label)
{
	static const struct hline h[] = {
		{ TS_CONNECT, 1, T_NS, LINE("connect", 1) },
		{ TS_CONNECT, 2, T_NS + 1, LINE("connect", 2) },
		{ TS_CONNECT, 3, T_NS + 2, LINE("connect", 3) },
	};
	struct ts_cginfo shop = { 0 }, data = { 0 };
	struct ts_batch *b = hbatch(h, 3);
	char err[300], *body;

	CHECK(b);
	shop.pod_namespace = (char *)"shop";
	data.pod_namespace = (char *)"da\"ta";
	b->recs[0].cg = &shop;
	b->recs[1].cg = &data;
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:3100\",\"format\":\"loki\","
		       "\"pod_namespace_label\":true}", b, err, sizeof(err));
	CHECKF(body, "%s", err);
	CHECK(strstr(body, "{\"stream\":{\"host\":\"h1\",\"type\":\"connect\","
		     "\"pod_namespace\":\"shop\"},\"values\":[[\"1795686129123456789\""));
	CHECK(strstr(body, "\"pod_namespace\":\"da\\\"ta\"},\"values\":[[\"1795686129123456790\""));
	CHECK(strstr(body, "{\"stream\":{\"host\":\"h1\",\"type\":\"connect\"},"
		     "\"values\":[[\"1795686129123456791\""));
	free(body);
	/* not asked: one stream, no such label */
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:3100\",\"format\":\"loki\"}",
		       b, err, sizeof(err));
	CHECKF(body, "%s", err);
	CHECK(!strstr(body, "pod_namespace"));
	free(body);
	/* only for loki */
	body = body_of("{\"type\":\"http\",\"url\":\"http://127.0.0.1:3100\",\"format\":\"ndjson\","
		       "\"pod_namespace_label\":true}", b, err, sizeof(err));
	ts_batch_put(b);
	CHECK(!body);
	CHECKF(strstr(err, "pod_namespace_label: only for format loki"), "%s", err);
}

TEST(http_format_splunk_hec_envelopes)
{
	static const struct hline h[] = {
		{ TS_CONNECT, 1, T_NS, LINE("connect", 1) },
		{ TS_CLOSE, 2, 1795686130000001999ULL, LINE("close", 2) },
	};
	struct ts_batch *b = hbatch(h, 2);
	char err[300], *body;
	char path[] = "/tmp/tcpship-test-token-XXXXXX";
	char json[400];
	int fd = mkstemp(path);

	CHECK(b && fd >= 0);
	CHECK(write(fd, "hec-secret-1\n", 13) == 13);
	close(fd);
	snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"https://127.0.0.1:8088\","
		 "\"format\":\"splunk_hec\",\"token_file\":\"%s\",\"index\":\"net\"}", path);
	body = body_of(json, b, err, sizeof(err));
	unlink(path);
	CHECKF(body, "%s", err);
#define EV(type, seq) "{\"time\":\"x\",\"type\":\"" type "\",\"host\":\"h1\",\"seq\":" #seq \
	",\"agent_id\":\"" AGENT "\",\"comm\":\"a\\\"b\\\\c\"}"
	CHECK_STR(body,
		  "{\"time\":1795686129.123456,\"host\":\"h1\",\"sourcetype\":\"tcpship\","
		  "\"index\":\"net\",\"event\":" EV("connect", 1) "}\n"
		  "{\"time\":1795686130.000001,\"host\":\"h1\",\"sourcetype\":\"tcpship\","
		  "\"index\":\"net\",\"event\":" EV("close", 2) "}\n");
	free(body);
	ts_batch_put(b);
}

/* A real encoded line keeps its shape through every format. */
TEST(http_format_real_lines_parse)
{
	static const char *const fmts[] = { "ndjson", "elasticsearch", "loki" };
	struct ts_batch *b = ts_batch_new(TS_LINE_MAX * 4, 4);
	struct ts_enc e;
	struct ts_event ev;
	struct ts_run run;

	CHECK(b);
	ts_enc_init(&e, "host\"with\\quote", AGENT);
	ts_run_init(&run, "host\"with\\quote", AGENT, 777);
	for (int i = 0; i < 3; i++) {
		int n;

		memset(&ev, 0, sizeof(ev));
		ev.h.size = sizeof(ev);
		ev.h.type = TS_CONNECT;
		ev.h.probe = TS_TRACEPOINT;
		ev.h.family = TS_IPV4;
		ev.h.flags = TS_F_TASK | TS_F_SADDR;
		memcpy(ev.h.comm, "\x01\xff\"", 3);
		n = ts_encode_json(&e, &ev, sizeof(ev), (uint64_t)i + 1, T_NS + (uint64_t)i,
				   b->data + b->len, b->cap - b->len);
		CHECK(n > 0);
		b->recs[i] = (struct ts_rec){ .off = (uint32_t)b->len, .len = (uint32_t)n,
					      .seq = (uint64_t)i + 1, .time_ns = T_NS + (uint64_t)i };
		ts_rec_fields(&b->recs[i], &ev.h);
		b->len += (size_t)n;
		b->n++;
	}
	for (size_t f = 0; f < ARRAY_LEN(fmts); f++) {
		char json[200], err[300], *body, *line, *save = NULL;
		int lines = 0;

		snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"http://127.0.0.1:1\","
			 "\"format\":\"%s\"}", fmts[f]);
		body = body_of_run(&run, json, b, err, sizeof(err));
		CHECKF(body, "%s: %s", fmts[f], err);
		/* every line of the body is one JSON value */
		for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct json_object *o = json_tokener_parse(line);

			CHECKF(o, "%s: line %d is not JSON: %.80s", fmts[f], lines, line);
			if (f == 2) {
				struct json_object *st, *s0, *lab, *host;

				CHECK(json_object_object_get_ex(o, "streams", &st));
				s0 = json_object_array_get_idx(st, 0);
				CHECK(json_object_object_get_ex(s0, "stream", &lab));
				CHECK(json_object_object_get_ex(lab, "host", &host));
				CHECK_STR(json_object_get_string(host), "host\"with\\quote");
			}
			json_object_put(o);
			lines++;
		}
		CHECK_INT(lines, f == 0 ? 3 : f == 1 ? 6 : 1);
		free(body);
	}
	ts_batch_put(b);
}

/* ---- gzip ---- */

static bool gunzip(const struct ts_buf *in, char *out, size_t cap, size_t *len)
{
	z_stream zs = { 0 };
	int rc;

	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return false;
	zs.next_in = (Bytef *)in->p;
	zs.avail_in = (uInt)in->len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	rc = inflate(&zs, Z_FINISH);
	*len = zs.total_out;
	inflateEnd(&zs);
	return rc == Z_STREAM_END && zs.avail_in == 0;
}

/* libdeflate compresses; zlib's inflate reading it back proves the gzip
 * container (RFC 1952: header, CRC-32, length), not just the deflate data */
TEST(http_gzip_round_trip)
{
	struct libdeflate_compressor *z = libdeflate_alloc_compressor(1);
	struct ts_buf out = { 0 };
	static char in[200000], back[200001];
	size_t len;

	CHECK(z);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = "{\"type\":\"connect\",\"seq\":12345}\n"[i % 31];
	for (int round = 0; round < 3; round++) {
		size_t n = round == 1 ? 0 : sizeof(in) - (size_t)round * 1000;

		CHECK_INT(ts_http_gzip(z, in, n, &out), 0);
		/* a gzip member: magic, deflate */
		CHECK(out.len >= 18 && (unsigned char)out.p[0] == 0x1f &&
		      (unsigned char)out.p[1] == 0x8b && out.p[2] == 8);
		CHECK(gunzip(&out, back, sizeof(back), &len));
		CHECK_MEM(back, len, in, n);
		if (n)
			CHECKF(out.len * 20 < n, "ratio %zu/%zu", out.len, n);
	}
	libdeflate_free_compressor(z);
	ts_buf_free(&out);
}

/* ---- answers ---- */

TEST(http_classify_statuses)
{
	static const struct { long status; enum ts_out_result r; } t[] = {
		{ 200, TS_OUT_OK }, { 201, TS_OUT_OK }, { 204, TS_OUT_OK }, { 299, TS_OUT_OK },
		{ 408, TS_OUT_RETRY }, { 429, TS_OUT_RETRY }, { 500, TS_OUT_RETRY },
		{ 502, TS_OUT_RETRY }, { 503, TS_OUT_RETRY }, { 504, TS_OUT_RETRY },
		{ 599, TS_OUT_RETRY },
		{ 400, TS_OUT_DROP }, { 401, TS_OUT_DROP }, { 403, TS_OUT_DROP },
		{ 404, TS_OUT_DROP }, { 409, TS_OUT_DROP }, { 413, TS_OUT_DROP },
		{ 499, TS_OUT_DROP }, { 301, TS_OUT_DROP }, { 100, TS_OUT_DROP },
		{ 0, TS_OUT_DROP }, { 600, TS_OUT_DROP },
	};

	/* and of the items of a bulk answer */
	static const char bulk[] = "{\"items\":[{\"create\":{\"status\":201}},"
		"{\"create\":{\"status\":409}},{\"create\":{\"status\":429}},"
		"{\"create\":{\"status\":503}},{\"create\":{\"status\":400}},"
		"{\"create\":{\"status\":404}}]}";
	static const enum ts_http_verdict want[] = { TS_ITEM_OK, TS_ITEM_CONFLICT, TS_ITEM_RETRY,
						     TS_ITEM_RETRY, TS_ITEM_DROP, TS_ITEM_DROP };
	struct ts_http_item it[6];
	char reason[100];

	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		CHECKF(ts_http_classify(t[i].status) == t[i].r, "status %ld: %d, want %d",
		       t[i].status, ts_http_classify(t[i].status), t[i].r);
	CHECK_INT(ts_http_elasticsearch.answer(bulk, strlen(bulk), 6, it, reason, sizeof(reason)),
		  0);
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		CHECKF(it[i].verdict == want[i], "item %zu (%d): %d, want %d", i, it[i].status,
		       it[i].verdict, want[i]);
}

/* the bulk answer parser, as the sink calls it */
static int bulk_parse(const char *resp, size_t len, uint32_t n, int *status, char *reason,
		      size_t rlen)
{
	struct ts_http_item it[8];
	int rc;

	if (n > ARRAY_LEN(it))
		return -E2BIG;
	rc = ts_http_elasticsearch.answer(resp, len, n, it, reason, rlen);
	for (uint32_t i = 0; !rc && i < n; i++)
		status[i] = it[i].status;
	return rc;
}

/* libcurl reads Retry-After (seconds or an HTTP-date) into seconds from
 * now; what is left to the sink is the clamp. */
TEST(http_retry_after_clamp)
{
	static const struct { curl_off_t in; uint64_t out; } t[] = {
		{ 0, 0 }, { 7, 7 }, { 1, 1 }, { TS_HTTP_RETRY_AFTER_MAX_S, TS_HTTP_RETRY_AFTER_MAX_S },
		{ TS_HTTP_RETRY_AFTER_MAX_S + 1, TS_HTTP_RETRY_AFTER_MAX_S },
		{ 86400, TS_HTTP_RETRY_AFTER_MAX_S }, { INT64_MAX, TS_HTTP_RETRY_AFTER_MAX_S },
		/* a date in the past: at once */
		{ -1, 0 }, { -849874734, 0 }, { INT64_MIN, 0 },
	};

	CHECK_U64(TS_HTTP_RETRY_AFTER_MAX_S, 600);
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		CHECKF(ts_http_retry_after_clamp(t[i].in) == t[i].out, "%lld: %llu, want %llu",
		       (long long)t[i].in, (unsigned long long)ts_http_retry_after_clamp(t[i].in),
		       (unsigned long long)t[i].out);
}

TEST(http_bulk_answer_per_item)
{
	static const char resp[] =
		"{\"took\":3,\"errors\":true,\"items\":["
		"{\"create\":{\"_index\":\"t\",\"_id\":\"a-1\",\"status\":201}},"
		"{\"create\":{\"_index\":\"t\",\"_id\":\"a-2\",\"status\":409,\"error\":{\"type\":"
		"\"version_conflict_engine_exception\",\"reason\":\"exists\"}}},"
		"{\"create\":{\"_index\":\"t\",\"_id\":\"a-3\",\"status\":429,\"error\":{\"type\":"
		"\"es_rejected_execution_exception\",\"reason\":\"queue full\"}}},"
		"{\"create\":{\"_index\":\"t\",\"_id\":\"a-4\",\"status\":400,\"error\":{\"type\":"
		"\"mapper_parsing_exception\",\"reason\":\"failed to parse field [pid]\"}}},"
		"{\"index\":{\"_index\":\"t\",\"_id\":\"a-5\",\"status\":503}},"
		"{\"create\":{\"_index\":\"t\",\"_id\":\"a-6\",\"status\":200}}"
		"]}\n";
	int st[6];
	char reason[200];

	CHECK_INT(bulk_parse(resp, strlen(resp), 6, st, reason, sizeof(reason)), 0);
	CHECK_INT(st[0], 201);
	CHECK_INT(st[1], 409);
	CHECK_INT(st[2], 429);
	CHECK_INT(st[3], 400);
	CHECK_INT(st[4], 503);
	CHECK_INT(st[5], 200);
	/* the reason of the first dropped item, for the log */
	CHECK_STR(reason, "400 mapper_parsing_exception: failed to parse field [pid]");
}

TEST(http_bulk_answer_rejects_garbage)
{
	static const char *const bad_answers[] = {
		"",
		"not json",
		"<html>502 Bad Gateway</html>",
		"{\"errors\":true}",					/* no items */
		"{\"errors\":true,\"items\":[]}",			/* 0 items for 2 */
		"{\"items\":[{\"create\":{\"status\":201}}]}",		/* 1 for 2 */
		"{\"items\":[{\"create\":{\"status\":201}},{\"create\":{}}]}",
		"{\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":\"201\"}}]}",
		"{\"items\":[{\"create\":{\"status\":201}},{\"a\":{\"status\":201},\"b\":{}}]}",
		"{\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":7}}]}",
		"{\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":201}}]} x",
		"{\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":201}}]",
		"[1,2]",
	};
	int st[2];
	char reason[100];

	for (size_t i = 0; i < ARRAY_LEN(bad_answers); i++)
		CHECKF(bulk_parse(bad_answers[i], strlen(bad_answers[i]), 2, st, reason,
					  sizeof(reason)) == -EINVAL, "accepted: %s", bad_answers[i]);
	CHECK_INT(bulk_parse("{\"errors\":false,\"items\":[{\"create\":{\"status\":201}},"
				     "{\"create\":{\"status\":201}}]}  \n", 79, 2, st, reason,
				     sizeof(reason)), 0);
	CHECK_STR(reason, "");
	CHECK(st[0] == 200 || st[0] == 201);
}

/* "errors":false at the top level means every item went in: no need to
 * read a thousand items; anything else is read item by item. */
TEST(http_bulk_answer_all_ok_fast_path)
{
	static const char *const ok[] = {
		"{\"took\":30,\"errors\":false,\"items\":[]}",
		"{\"errors\":false,\"took\":30,\"items\":[]}",
		"  {\"took\":30,\"ingest_took\":2,\"errors\":false,\"items\":[]}",
	};
	/* read item by item: the one item's 400 is found */
	static const char *const not_ok[] = {
		/* an item's key is no top-level key */
		"{\"took\":1,\"items\":[{\"create\":{\"status\":400,\"errors\":false}}],"
		"\"errors\":true}",
		"{\"took\":1,\"x\":{\"errors\":false},\"items\":[{\"index\":{\"status\":400}}]}",
		"{\"took\":1,\"errors\":true,\"items\":[{\"index\":{\"status\":400}}]}",
	};
	int st[3] = { 0, 0, 0 };
	char reason[100];

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		st[2] = 0;
		CHECKF(!bulk_parse(ok[i], strlen(ok[i]), 3, st, reason, sizeof(reason)),
		       "%s", ok[i]);
		CHECK_INT(st[2], 200);
	}
	for (size_t i = 0; i < ARRAY_LEN(not_ok); i++) {
		CHECKF(!bulk_parse(not_ok[i], strlen(not_ok[i]), 1, st, reason,
					   sizeof(reason)), "%s", not_ok[i]);
		CHECKF(st[0] == 400, "%s: %d", not_ok[i], st[0]);
	}
	CHECK_INT(bulk_parse("\"errors\":false", 15, 1, st, reason, sizeof(reason)),
		  -EINVAL);
}

/* ---- small checks ---- */

TEST(http_url_parse)
{
	static const char *const fine[] = {
		"http://es.example", "http://[::1]/x", "http://h_x.y:9200",
		"http://h/p%20q?a=b&c=%41", "https://h/\xc3\xa9",
	};
	struct ts_url u;
	char err[200];
	const char *url;

	url = "http://127.0.0.1:8123/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow";
	CHECK_INT(ts_http_parse_url(url, &u, err, sizeof(err)), 0);
	CHECK(u.port == 8123 && u.has_query);
	CHECK_STR(u.scheme, "http");
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_STR(u.path, "/");
	url = "HTTPS://[::1]:9200/_bulk";
	CHECK_INT(ts_http_parse_url(url, &u, err, sizeof(err)), 0);
	CHECK(u.port == 9200 && !u.has_query);
	CHECK_STR(u.scheme, "https");
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.path, "/_bulk");
	/* no path is "/"; no port is the scheme's */
	CHECK_INT(ts_http_parse_url("http://es.example", &u, err, sizeof(err)), 0);
	CHECK(u.port == 0);
	CHECK_STR(u.path, "/");
	for (size_t i = 0; i < ARRAY_LEN(fine); i++)
		CHECKF(!ts_http_parse_url(fine[i], &u, err, sizeof(err)), "%s: %s", fine[i], err);
}

TEST(http_url_rejects)
{
	static const struct { const char *url, *msg; } t[] = {
		{ "", "missing" },
		{ "127.0.0.1:8123", "must start with http://" },
		{ "ftp://h/", "must start with http://" },
		{ "http://", "no host" },
		{ "http:///x", "no host" },
		{ "http://:80/", "no host" },
		{ "http://u:secret@h/", "refused" },
		{ "http://u@h/", "refused" },
		{ "http://h:0/", "port" },
		{ "http://h:/", "port" },
		{ "http://h:65536/", "port" },
		{ "http://h:8o/", "port" },
		{ "http://h/a b", "%20" },
		{ "http://h/a\nb", "%20" },
		{ "http://h/a\x7f", "%20" },
		{ "http://h/#frag", "fragment" },
		{ "http://h/x?a=1#", "fragment" },
		{ "http://ho!st/", "hostname" },
		{ "http://[::1/", "IPv6" },
		{ "http://[zz::1]/", "IPv6" },
		{ "http://[::1]x/", "port" },
	};
	struct ts_url u;
	char err[200];

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		err[0] = 0;
		CHECKF(ts_http_parse_url(t[i].url, &u, err, sizeof(err)) == -EINVAL,
		       "accepted '%s'", t[i].url);
		/* libcurl's words for what it finds, the sink's for the rest */
		CHECKF(strcasestr(err, t[i].msg) && !strchr(err, '\n') && !strncmp(err, "url: ", 5),
		       "'%s': '%s' lacks '%s'", t[i].url, err, t[i].msg);
	}
	/* the message never repeats what could be a secret */
	ts_http_parse_url("http://u:hunter2@h/", &u, err, sizeof(err));
	CHECK(!strstr(err, "hunter2"));
}

TEST(http_index_patterns)
{
	char err[200], out[300];

	CHECK_INT(ts_http_check_index("tcpship-%Y.%m.%d", err, sizeof(err)), 0);
	CHECK_INT(ts_http_check_index("logs-tcp.events_v2+x", err, sizeof(err)), 0);
	CHECK_INT(ts_http_check_index("Tcpship", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "'T'"));
	CHECK_INT(ts_http_check_index("t-%a", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "%a"));
	CHECK_INT(ts_http_check_index("t-%", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_http_check_index("-t", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_http_check_index("a b", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_http_check_index("a*", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_http_check_index("..", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_http_check_index("", err, sizeof(err)), -EINVAL);
	memset(out, 'x', 260);
	out[260] = 0;
	out[0] = 'a';
	for (int i = 1; i < 260; i++)
		out[i] = 'a';
	CHECK_INT(ts_http_check_index(out, err, sizeof(err)), -EINVAL);
	CHECK_U64(ts_http_index_name("tcpship-%Y.%m.%d", T_NS, out, sizeof(out)), 18);
	CHECK_STR(out, "tcpship-2026.11.26");
}

TEST(http_labels_headers)
{
	CHECK(ts_http_label_name_ok("job"));
	CHECK(ts_http_label_name_ok("_a1"));
	CHECK(!ts_http_label_name_ok("1a"));
	CHECK(!ts_http_label_name_ok("a-b"));
	CHECK(!ts_http_label_name_ok(""));
	CHECK(ts_http_header_ok("X-Api-Key", "v a l"));
	CHECK(!ts_http_header_ok("X Api", "v"));
	CHECK(!ts_http_header_ok("X:Api", "v"));
	CHECK(!ts_http_header_ok("", "v"));
	CHECK(!ts_http_header_ok("X", "a\r\nInjected: 1"));
}

/* ---- options ---- */

TEST(http_defaults_and_names)
{
	struct ts_output o;
	void *conf;
	char err[300];

	CHECK_INT(hopen("{\"type\":\"http\",\"url\":\"http://127.0.0.1:8123/?user=u&password=s3cr3t\"}",
			&o, &conf, err, sizeof(err)), 0);
	/* no query string in the name: ClickHouse takes passwords there */
	CHECK_STR(o.name, "http://127.0.0.1:8123/");
	CHECK_U64(o.batching.max_events, 1000);
	CHECK_U64(o.batching.max_bytes, 1 << 20);
	CHECK_U64(o.batching.max_delay_ns, 1000000000ULL);
	CHECK_INT(o.workers, 1);
	CHECK(o.ops->default_drop_when_full);
	hclose(&o, conf);

	/* the usual paths for a URL without one */
	CHECK_INT(hopen("{\"type\":\"http\",\"url\":\"http://es:9200/\",\"format\":\"elasticsearch\","
			"\"in_flight\":4,\"batch\":{\"max_events\":5000,\"max_bytes\":\"4MiB\","
			"\"max_delay\":\"250ms\"}}", &o, &conf, err, sizeof(err)), 0);
	CHECK_STR(o.name, "http://es:9200/_bulk");
	CHECK_U64(o.batching.max_events, 5000);
	CHECK_U64(o.batching.max_bytes, 4 << 20);
	CHECK_U64(o.batching.max_delay_ns, 250000000ULL);
	CHECK_INT(o.workers, 4);
	hclose(&o, conf);
	CHECK_INT(hopen("{\"type\":\"http\",\"url\":\"http://loki:3100\",\"format\":\"loki\"}", &o,
			&conf, err, sizeof(err)), 0);
	CHECK_STR(o.name, "http://loki:3100/loki/api/v1/push");
	hclose(&o, conf);
	CHECK_INT(hopen("{\"type\":\"http\",\"url\":\"http://es:9200/my/_bulk\",\"format\":"
			"\"elasticsearch\"}", &o, &conf, err, sizeof(err)), 0);
	CHECK_STR(o.name, "http://es:9200/my/_bulk");
	hclose(&o, conf);
	/* -o SPEC */
	CHECK(ts_output_find("http://x:1/") && !strcmp(ts_output_find("https://x/")->type, "http"));
}

static char *write_tmp(const char *content, mode_t mode)
{
	static char paths[8][64];
	static int next;
	char *p = paths[next++ % 8];
	int fd;

	snprintf(p, 64, "/tmp/tcpship-test-http-XXXXXX");
	fd = mkstemp(p);
	if (fd < 0)
		return NULL;
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return NULL;
	}
	fchmod(fd, mode);
	close(fd);
	return p;
}

TEST(http_config_mistakes_are_one_line)
{
	char *tok = write_tmp("tok-s3cr3t-value\n", 0600);
	char *empty = write_tmp("\n", 0600);
	char *notpem = write_tmp("hello\n", 0644);
	char json[600], err[400];
	struct {
		const char *json, *msg;
	} t[] = {
		{ "{\"type\":\"http\"}", "url: missing" },
		{ "{\"type\":\"http\",\"url\":\"htp://x/\"}", "url: must start with http" },
		{ "{\"type\":\"http\",\"url\":\"http:///x\"}", "url: no host" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"gelf\"}",
		  "outputs[0].format: 'gelf' is not one of ndjson, elasticsearch, loki, splunk_hec, otlp" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"compression\":\"zstd\"}",
		  "outputs[0].compression: 'zstd' is not one of none, gzip" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"batch\":{\"max_events\":0}}",
		  "outputs[0].batch.max_events: 0 is out of range" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"batch\":{\"max_bytes\":\"1KiB\"}}",
		  "outputs[0].batch.max_bytes" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"batch\":{\"size\":1}}",
		  "outputs[0].batch.size: unknown key" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"in_flight\":17}",
		  "outputs[0].in_flight: 17 is out of range (1..16)" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"timeout\":\"soon\"}",
		  "outputs[0].timeout" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"timeout\":\"1s\",\"connect_timeout\":\"2s\"}",
		  "connect_timeout: longer than timeout" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"labels\":{\"job\":\"t\"}}",
		  "labels: only for format loki" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"tenant\":\"t\"}",
		  "tenant: only for format loki" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"index\":\"i\"}",
		  "index: only for formats elasticsearch and splunk_hec" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"loki\",\"labels\":{\"a-b\":\"t\"}}",
		  "labels.a-b: not a Loki label name" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"loki\",\"labels\":{\"host\":\"t\"}}",
		  "labels.host: set by tcpship" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"loki\",\"labels\":{\"a\":1}}",
		  "outputs[0].labels.a: must be a string" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"elasticsearch\",\"index\":\"A\"}",
		  "index: 'A' is not allowed" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"headers\":{\"Content-Length\":\"1\"}}",
		  "headers.Content-Length: set by tcpship" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"headers\":{\"X-A\":\"a\\r\\nB: c\"}}",
		  "headers.X-A: not a valid header" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"token_file\":\"/nonexistent/t\"}",
		  "token_file: cannot read /nonexistent/t: No such file or directory" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"token_env\":\"TCPSHIP_NO_SUCH_VAR\"}",
		  "token_env: the environment variable TCPSHIP_NO_SUCH_VAR is not set" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"auth\":{\"user\":\"u\"}}",
		  "auth: a user needs password or password_file" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"auth\":{\"password\":\"p\"}}",
		  "auth.user: missing" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"auth\":{\"user\":\"u\",\"pass\":\"p\"}}",
		  "outputs[0].auth.pass: unknown key" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"splunk_hec\"}",
		  "splunk_hec needs the HEC token" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"tls\":{\"verify\":false}}",
		  "tls: given, but the url is http://" },
		{ "{\"type\":\"http\",\"url\":\"https://x/\",\"tls\":{\"ca_file\":\"/nonexistent/ca.pem\"}}",
		  "tls.ca_file: cannot read /nonexistent/ca.pem" },
		{ "{\"type\":\"http\",\"url\":\"https://x/\",\"tls\":{\"cert\":\"/x\"}}",
		  "tls: a client certificate needs both cert and key" },
		{ "{\"type\":\"http\",\"url\":\"https://x/\",\"tls\":{\"server_name\":\"y\"}}",
		  "tls.server_name: not supported by the http output" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"format\":\"loki\",\"sourcetype\":\"s\"}",
		  "sourcetype: only for format splunk_hec, not loki" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"queue\":{\"path\":\"/q\"}}",
		  "outputs[0].queue: path, max_size, sync and sync_interval are for \"type\": \"disk\"" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"queue\":{\"type\":\"disk\","
		  "\"max_size\":\"4KiB\"}}", "outputs[0].queue.max_size:" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"queue\":{\"type\":\"disk\","
		  "\"sync\":\"always\"}}", "outputs[0].queue.sync:" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"queue\":{\"type\":\"file\"}}",
		  "outputs[0].queue.type:" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"queue\":{\"type\":\"disk\","
		  "\"path\":\"\"}}", "outputs[0].queue.path: must be a directory's path" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"name\":\"../etc\"}",
		  "outputs[0].name: '../etc': only letters, digits" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"name\":7}",
		  "outputs[0].name: must be a string" },
		{ "{\"type\":\"http\",\"url\":\"http://x/\",\"gzip\":true}",
		  "outputs[0].gzip: unknown key (known for http outputs: type, name, queue, schema, url, format" },
	};

	CHECK(tok && empty && notpem);
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct ts_output o;
		void *conf;
		int rc = hopen(t[i].json, &o, &conf, err, sizeof(err));

		if (!rc)
			hclose(&o, conf);
		CHECKF(rc == -EINVAL, "%s: rc %d (%s)", t[i].json, rc, err);
		CHECKF(strstr(err, t[i].msg) && !strchr(err, '\n'), "%s: '%s' lacks '%s'",
		       t[i].json, err, t[i].msg);
	}
	/* files that exist but do not hold what they should */
	{
		struct ts_output o;
		void *conf;

		snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"http://x/\","
			 "\"token_file\":\"%s\"}", empty);
		CHECK_INT(hopen(json, &o, &conf, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "is empty"));
		snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"https://x/\","
			 "\"tls\":{\"ca_file\":\"%s\"}}", notpem);
		CHECK_INT(hopen(json, &o, &conf, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "holds no PEM certificate"));
		/* a token and a password at once */
		snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"http://x/\","
			 "\"token_file\":\"%s\",\"auth\":{\"user\":\"u\",\"password\":\"pw-s3cr3t\"}}",
			 tok);
		CHECK_INT(hopen(json, &o, &conf, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "give one way"));
		CHECK(!strstr(err, "s3cr3t"));
		/* the token is good: open works, and the token is nowhere to see */
		snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"http://x/\","
			 "\"token_file\":\"%s\"}", tok);
		CHECKF(!hopen(json, &o, &conf, err, sizeof(err)), "%s", err);
		CHECK(!strstr(o.name, "s3cr3t"));
		{
			char counters[400];

			o.ops->counters(&o, counters, sizeof(counters));
			CHECK(!strstr(counters, "s3cr3t"));
			CHECKF(strstr(counters, "requests=0 retried=0"), "%s", counters);
		}
		hclose(&o, conf);
		/* a file a reader cannot open */
		if (geteuid() != 0) {
			chmod(tok, 0);
			snprintf(json, sizeof(json), "{\"type\":\"http\",\"url\":\"http://x/\","
				 "\"token_file\":\"%s\"}", tok);
			CHECK_INT(hopen(json, &o, &conf, err, sizeof(err)), -EINVAL);
			CHECK(strstr(err, "Permission denied"));
		}
	}
	unlink(tok);
	unlink(empty);
	unlink(notpem);
}
