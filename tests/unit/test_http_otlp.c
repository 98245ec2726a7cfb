// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The otlp HTTP format without a network: the ExportLogsServiceRequest a
 * batch becomes (through the sink's format hook after a real open), read
 * back with json-c in strict mode with UTF-8 validation; records grouped
 * into resources by container; hostile strings; the partialSuccess answer;
 * OTLP's own retryable statuses.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http.h"
#include "ident.h"
#include "shape.h"
#include "sink.h"
#include "sink_open.h"
#include "tcpship.h"
#include "test.h"

#define AGENT "0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f"
#define T_NS 1795686129123456789ULL
#define CONF "{\"type\":\"http\",\"url\":\"http://127.0.0.1:4318\",\"format\":\"otlp\"}"

struct orec {
	unsigned type;
	uint8_t flags;		/* TS_REC_* */
	bool v6;
	const char *comm;
	const struct ts_cginfo *cg;
	const char *agent_id;	/* a replayed record's */
};

/* A batch of records whose lines are small JSON objects naming their seq */
static struct ts_batch *obatch(const struct orec *o, int n)
{
	struct ts_batch *b = ts_batch_new(65536, 64);

	for (int i = 0; i < n && b; i++) {
		struct ts_rec *r = &b->recs[i];
		int len = snprintf(b->data + b->len, 200, "{\"seq\":%d,\"x\":\"a\\\"b\"}\n", i + 1);

		memset(r, 0, sizeof(*r));
		r->off = (uint32_t)b->len;
		r->len = (uint32_t)len;
		r->seq = (uint64_t)i + 1;
		r->time_ns = T_NS + (uint64_t)i;
		r->type = ts_type_name(o[i].type);
		r->flags = o[i].flags;
		r->family = o[i].v6 ? AF_INET6 : AF_INET;
		r->sport = (uint16_t)(40000 + i);
		r->dport = o[i].type == TS_DNS ? 53 : 443;
		r->pid = 1000 + (uint32_t)i;
		if (o[i].comm)
			memcpy(r->comm, o[i].comm, strnlen(o[i].comm, 15));
		if (o[i].v6) {
			r->saddr[15] = 1;
			memcpy(r->daddr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16);
		} else {
			memcpy(r->saddr, "\x0a\x00\x00\x01", 4);
			memcpy(r->daddr, "\xc0\x00\x02\x07", 4);
		}
		r->cg = o[i].cg;
		r->agent_id = o[i].agent_id;
		b->len += (size_t)len;
		b->n++;
	}
	return b;
}

/* The whole body as JSON, strictly (RFC 8259, valid UTF-8), or NULL */
static struct json_object *strict_parse(const char *body)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)strlen(body));
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != strlen(body)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The request the sink would send for all of b, parsed strictly; NULL and
 * a line in err */
static struct json_object *request_of(const struct ts_run *run, const struct ts_batch *b,
				      char *err, size_t errlen)
{
	struct json_object *root = NULL;
	char *body = test_sink_body(run, CONF, b, err, errlen);

	if (body && (strchr(body, '\n') || strchr(body, '\r')))
		snprintf(err, errlen, "a raw line break: %.300s", body);
	else if (body && !(root = strict_parse(body)))
		snprintf(err, errlen, "not strict JSON of valid UTF-8: %.300s", body);
	free(body);
	return root;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static struct json_object *at(struct json_object *arr, size_t i)
{
	return json_object_get_type(arr) == json_type_array ? json_object_array_get_idx(arr, i)
							     : NULL;
}

/* The value of an attribute by key, as text: a stringValue's string, an
 * intValue's digits (a JSON string, as OTLP JSON has int64), "!" for a
 * value that is neither or a key given twice; NULL if absent. */
static const char *attr(struct json_object *list, const char *key)
{
	const char *found = NULL;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *kv = at(list, i), *v = get(kv, "value"), *s;

		if (strcmp(json_object_get_string(get(kv, "key")), key))
			continue;
		if (found || json_object_object_length(v) != 1)
			return "!";
		if ((s = get(v, "stringValue")) && json_object_get_type(s) == json_type_string)
			found = json_object_get_string(s);
		else if ((s = get(v, "intValue")) && json_object_get_type(s) == json_type_string)
			found = json_object_get_string(s);
		else
			return "!";
	}
	return found;
}

static struct json_object *res_attrs(struct json_object *rl)
{
	return get(get(rl, "resource"), "attributes");
}

static struct json_object *records(struct json_object *rl)
{
	return get(at(get(rl, "scopeLogs"), 0), "logRecords");
}

TEST(http_otlp_request_shape_and_values)
{
	struct ts_cginfo *ctr = ts_cginfo_new_keys("4f1c0a0a8f2b", "web-0", "shop");
	/* a cgroup of the host (a systemd unit): no container, the host's resource */
	struct ts_cginfo *unit = ts_cginfo_new_keys(NULL, NULL, NULL);
	const struct orec o[] = {
		{ TS_CONNECT, TS_REC_TASK | TS_REC_SADDR, false, "curl", ctr, NULL },
		{ TS_CLOSE, TS_REC_NOTABLE, true, NULL, NULL, NULL },
		{ TS_DNS, TS_REC_TASK | TS_REC_SADDR, false, "dig", unit, NULL },
		{ TS_ACCEPT, TS_REC_TASK | TS_REC_SADDR, false, "nginx", ctr, "old-run" },
	};
	struct ts_batch *b;
	struct json_object *root, *rls, *host, *c, *r, *scope;
	char err[400];

	CHECK(ctr && unit);
	ctr->image = strdup("docker.io/library/nginx:1.27");
	ctr->pod_uid = "1b2c3d4e-0000-4000-8000-000000000001";
	b = obatch(o, 4);
	CHECK(b);
	root = request_of(test_run(), b, err, sizeof(err));
	CHECKF(root, "%s", err);
	CHECK_INT(json_object_object_length(root), 1);
	rls = get(root, "resourceLogs");
	/* the container's records first (its first record is), then the host's */
	CHECK_INT(json_object_array_length(rls), 2);
	c = at(rls, 0);
	host = at(rls, 1);
	CHECK_STR(attr(res_attrs(host), "host.name"), test_run()->host);
	CHECK_STR(attr(res_attrs(host), "service.name"), "tcpship");
	CHECK_INT(json_object_array_length(res_attrs(host)), 2);
	CHECK_STR(attr(res_attrs(c), "host.name"), test_run()->host);
	CHECK_STR(attr(res_attrs(c), "container.id"), "4f1c0a0a8f2b");
	CHECK_STR(attr(res_attrs(c), "container.image.name"), "docker.io/library/nginx:1.27");
	CHECK_STR(attr(res_attrs(c), "k8s.pod.name"), "web-0");
	CHECK_STR(attr(res_attrs(c), "k8s.namespace.name"), "shop");
	CHECK_STR(attr(res_attrs(c), "k8s.pod.uid"), "1b2c3d4e-0000-4000-8000-000000000001");
	CHECK(!attr(res_attrs(c), "container.name"));
	scope = get(at(get(c, "scopeLogs"), 0), "scope");
	CHECK_STR(json_object_get_string(get(scope, "name")), "tcpship");
	/* (the library's TCPSHIP_VERSION: the build need not remake this file's) */
	CHECK(json_object_get_type(get(scope, "version")) == json_type_string &&
	      *json_object_get_string(get(scope, "version")));
	/* records keep their order within a resource */
	CHECK_INT(json_object_array_length(records(c)), 2);
	CHECK_INT(json_object_array_length(records(host)), 2);
	CHECK_STR(attr(get(at(records(c), 0), "attributes"), "tcpship.seq"), "1");
	CHECK_STR(attr(get(at(records(c), 1), "attributes"), "tcpship.seq"), "4");
	CHECK_STR(attr(get(at(records(host), 0), "attributes"), "tcpship.seq"), "2");
	CHECK_STR(attr(get(at(records(host), 1), "attributes"), "tcpship.seq"), "3");

	/* a connect: every fact known */
	r = at(records(c), 0);
	CHECK_STR(json_object_get_string(get(r, "timeUnixNano")), "1795686129123456789");
	CHECK(json_object_get_type(get(r, "timeUnixNano")) == json_type_string);
	CHECK_STR(json_object_get_string(get(r, "observedTimeUnixNano")), "1795686129123456789");
	CHECK(json_object_get_type(get(r, "severityNumber")) == json_type_int);
	CHECK_INT(json_object_get_int(get(r, "severityNumber")), 9);
	CHECK_STR(json_object_get_string(get(r, "severityText")), "INFO");
	CHECK_STR(json_object_get_string(get(r, "eventName")), "tcpship.connect");
	CHECK_STR(json_object_get_string(get(get(r, "body"), "stringValue")),
		  "{\"seq\":1,\"x\":\"a\\\"b\"}");
	{
		struct json_object *a = get(r, "attributes");

		CHECK_STR(attr(a, "network.transport"), "tcp");
		CHECK_STR(attr(a, "network.type"), "ipv4");
		CHECK_STR(attr(a, "network.local.address"), "10.0.0.1");
		CHECK_STR(attr(a, "network.local.port"), "40000");
		CHECK_STR(attr(a, "network.peer.address"), "192.0.2.7");
		CHECK_STR(attr(a, "network.peer.port"), "443");
		CHECK_STR(attr(a, "process.pid"), "1000");
		CHECK_STR(attr(a, "thread.name"), "curl");
		CHECK_STR(attr(a, "tcpship.type"), "connect");
		CHECK_STR(attr(a, "tcpship.agent_id"), test_run()->agent_id);
		CHECK_INT(json_object_array_length(a), 11);
	}
	/* a failed close over IPv6: WARN; no task, no local end: not said */
	r = at(records(host), 0);
	CHECK_INT(json_object_get_int(get(r, "severityNumber")), 13);
	CHECK_STR(json_object_get_string(get(r, "severityText")), "WARN");
	CHECK_STR(attr(get(r, "attributes"), "network.type"), "ipv6");
	CHECK_STR(attr(get(r, "attributes"), "network.peer.address"), "2001:db8::7");
	CHECK(!attr(get(r, "attributes"), "network.local.address"));
	CHECK(!attr(get(r, "attributes"), "network.local.port"));
	CHECK(!attr(get(r, "attributes"), "process.pid"));
	CHECK(!attr(get(r, "attributes"), "thread.name"));
	/* dns is UDP */
	r = at(records(host), 1);
	CHECK_STR(attr(get(r, "attributes"), "network.transport"), "udp");
	CHECK_STR(attr(get(r, "attributes"), "network.peer.port"), "53");
	/* a replayed record keeps its own run's agent_id */
	CHECK_STR(attr(get(at(records(c), 1), "attributes"), "tcpship.agent_id"), "old-run");
	json_object_put(root);
	ts_batch_put(b);
	ctr->pod_uid = NULL;
	ts_cginfo_put(ctr);
	ts_cginfo_put(unit);
}

/* Containers interleaved: one resource each, in the order each first
 * shows, records in their order within it. */
TEST(http_otlp_resources_by_container)
{
	struct ts_cginfo *a = ts_cginfo_new_keys("aaaa", NULL, NULL);
	struct ts_cginfo *bb = ts_cginfo_new_keys(NULL, "pod-b", "ns-b");
	const struct orec o[] = {
		{ TS_CONNECT, 0, false, NULL, a, NULL }, { TS_CONNECT, 0, false, NULL, NULL, NULL },
		{ TS_CONNECT, 0, false, NULL, bb, NULL }, { TS_CONNECT, 0, false, NULL, a, NULL },
		{ TS_CONNECT, 0, false, NULL, NULL, NULL }, { TS_CONNECT, 0, false, NULL, bb, NULL },
		{ TS_CONNECT, 0, false, NULL, a, NULL },
	};
	static const char *const want[3][4] = { { "1", "4", "7" }, { "2", "5" }, { "3", "6" } };
	struct ts_batch *b;
	struct json_object *root, *rls;
	char err[400];

	CHECK(a && bb);
	b = obatch(o, 7);
	CHECK(b);
	root = request_of(test_run(), b, err, sizeof(err));
	CHECKF(root, "%s", err);
	rls = get(root, "resourceLogs");
	CHECK_INT(json_object_array_length(rls), 3);
	CHECK_STR(attr(res_attrs(at(rls, 0)), "container.id"), "aaaa");
	CHECK(!attr(res_attrs(at(rls, 1)), "container.id"));
	CHECK(!attr(res_attrs(at(rls, 1)), "k8s.pod.name"));
	CHECK_STR(attr(res_attrs(at(rls, 2)), "k8s.pod.name"), "pod-b");
	CHECK(!attr(res_attrs(at(rls, 2)), "container.id"));
	for (int k = 0; k < 3; k++) {
		struct json_object *recs = records(at(rls, k));
		size_t n = 0;

		while (n < 4 && want[k][n])
			n++;
		CHECK_INT(json_object_array_length(recs), n);
		for (size_t j = 0; j < n; j++)
			CHECK_STR(attr(get(at(recs, j), "attributes"), "tcpship.seq"), want[k][j]);
	}
	json_object_put(root);
	ts_batch_put(b);
	ts_cginfo_put(a);
	ts_cginfo_put(bb);
}

/* Task names, container metadata and host names are anybody's bytes: the
 * body stays strict JSON of valid UTF-8 and each value reads back as the
 * bytes given (invalid UTF-8 as U+FFFD). */
TEST(http_otlp_hostile_strings)
{
	static const char comm[] = "\"}],\n\\\x01\xff\xc3";
	struct ts_cginfo *cg = ts_cginfo_new_keys("c0ffee", "p\"od\n", "n\\s\x7f");
	const struct orec o[] = {
		{ TS_CONNECT, TS_REC_TASK | TS_REC_SADDR, false, comm, cg, "ag\"ent\n" },
	};
	struct ts_run run;
	struct ts_batch *b;
	struct json_object *root, *rl, *a;
	char err[400];

	CHECK(cg);
	cg->name = strdup("name\"}]}\xfe");
	cg->image = strdup("img\r\n\t");
	ts_run_init(&run, "h\"o\\st\n\xff", AGENT, 1);
	b = obatch(o, 1);
	CHECK(b);
	root = request_of(&run, b, err, sizeof(err));
	CHECKF(root, "%s", err);
	rl = at(get(root, "resourceLogs"), 0);
	CHECK_STR(attr(res_attrs(rl), "host.name"), "h\"o\\st\n\xef\xbf\xbd");
	CHECK_STR(attr(res_attrs(rl), "container.name"), "name\"}]}\xef\xbf\xbd");
	CHECK_STR(attr(res_attrs(rl), "container.image.name"), "img\r\n\t");
	CHECK_STR(attr(res_attrs(rl), "k8s.pod.name"), "p\"od\n");
	CHECK_STR(attr(res_attrs(rl), "k8s.namespace.name"), "n\\s\x7f");
	a = get(at(records(rl), 0), "attributes");
	CHECK_STR(attr(a, "thread.name"), "\"}],\n\\\x01\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_STR(attr(a, "tcpship.agent_id"), "ag\"ent\n");
	CHECK_INT(json_object_array_length(res_attrs(rl)), 7);
	json_object_put(root);
	ts_batch_put(b);
	ts_cginfo_put(cg);
}

/* ---- answers ---- */

TEST(http_otlp_partial_success)
{
	static const struct {
		const char *resp;
		int rc;
		uint32_t rejected;
		const char *reason;
	} t[] = {
		{ "", 0, 0, "" },		/* Loki's 204 */
		{ " \r\n", 0, 0, "" },
		{ "{}", 0, 0, "" },
		{ "{\"partialSuccess\":{}}", 0, 0, "" },
		{ "{\"partialSuccess\":null}", 0, 0, "" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"3\",\"errorMessage\":\"too old\"}}",
		  0, 3, "too old" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":2}}\n", 0, 2, "" },
		/* the proto's own names, which JSON parsers take too */
		{ "{\"partial_success\":{\"rejected_log_records\":\"1\",\"error_message\":\"x\"}}",
		  0, 1, "x" },
		/* a warning: all taken */
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"0\",\"errorMessage\":\"slow\"}}",
		  0, 0, "slow" },
		/* more than were sent: all of them */
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"99999999999999\"}}", 0, 10, "" },
		{ "{\"unknownField\":1}", 0, 0, "" },
		/* not an ExportLogsServiceResponse: nothing is known */
		{ "<html>proxy</html>", -EINVAL, 0, "" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"x\"}}", -EINVAL, 0, "" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"-1\"}}", -EINVAL, 0, "" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":1.5}}", -EINVAL, 0, "" },
		{ "{\"partialSuccess\":7}", -EINVAL, 0, "" },
		{ "{} {}", -EINVAL, 0, "" },
		{ "[]", -EINVAL, 0, "" },
		{ "{\"partialSuccess\":{", -EINVAL, 0, "" },
	};

	CHECK(ts_http_otlp.partial && !ts_http_otlp.answer);
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		uint32_t rej = 77;
		char reason[64] = "junk";
		int rc = ts_http_otlp.partial(t[i].resp, strlen(t[i].resp), 10, &rej, reason,
					      sizeof(reason));

		CHECKF(rc == t[i].rc, "%s: rc %d, want %d", t[i].resp, rc, t[i].rc);
		if (rc)
			continue;
		CHECKF(rej == t[i].rejected, "%s: %u rejected, want %u", t[i].resp, rej,
		       t[i].rejected);
		CHECKF(!strcmp(reason, t[i].reason), "%s: reason '%s'", t[i].resp, reason);
	}
}

TEST(http_otlp_retryable_statuses)
{
	static const struct { long status; enum ts_out_result otlp, other; } t[] = {
		{ 200, TS_OUT_OK, TS_OUT_OK }, { 204, TS_OUT_OK, TS_OUT_OK },
		{ 429, TS_OUT_RETRY, TS_OUT_RETRY }, { 502, TS_OUT_RETRY, TS_OUT_RETRY },
		{ 503, TS_OUT_RETRY, TS_OUT_RETRY }, { 504, TS_OUT_RETRY, TS_OUT_RETRY },
		/* OTLP: never taken, whatever is tried again */
		{ 408, TS_OUT_DROP, TS_OUT_RETRY }, { 500, TS_OUT_DROP, TS_OUT_RETRY },
		{ 501, TS_OUT_DROP, TS_OUT_RETRY }, { 505, TS_OUT_DROP, TS_OUT_RETRY },
		{ 400, TS_OUT_DROP, TS_OUT_DROP }, { 401, TS_OUT_DROP, TS_OUT_DROP },
		{ 413, TS_OUT_DROP, TS_OUT_DROP }, { 301, TS_OUT_DROP, TS_OUT_DROP },
		{ 0, TS_OUT_DROP, TS_OUT_DROP },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		CHECKF(ts_http_classify_for(&ts_http_otlp, t[i].status) == t[i].otlp,
		       "otlp %ld: %d", t[i].status, ts_http_classify_for(&ts_http_otlp, t[i].status));
		CHECKF(ts_http_classify_for(&ts_http_loki, t[i].status) == t[i].other,
		       "loki %ld: %d", t[i].status, ts_http_classify_for(&ts_http_loki, t[i].status));
	}
}

TEST(http_otlp_defaults_and_shapes)
{
	struct ts_output o;
	void *conf;
	char err[300];

	CHECK_INT(test_sink_open(NULL, CONF, &o, &conf, err, sizeof(err)), 0);
	CHECK_STR(o.name, "http://127.0.0.1:4318/v1/logs");
	CHECK_STR(ts_http_otlp.content_type, "application/json");
	/* the body is a string: every shape, native by default */
	CHECK_INT(o.ops->shape(conf, -1, err, sizeof(err)), TS_SHAPE_NATIVE);
	CHECK_INT(o.ops->shape(conf, TS_SHAPE_CEF, err, sizeof(err)), TS_SHAPE_CEF);
	CHECK_INT(o.ops->shape(conf, TS_SHAPE_ECS, err, sizeof(err)), TS_SHAPE_ECS);
	test_sink_close(&o, conf);
	/* Loki 3's endpoint, given whole */
	CHECK_INT(test_sink_open(NULL, "{\"type\":\"http\",\"url\":\"http://loki:3100/otlp/v1/logs\","
				 "\"format\":\"otlp\",\"compression\":\"gzip\"}", &o, &conf, err,
				 sizeof(err)), 0);
	CHECK_STR(o.name, "http://loki:3100/otlp/v1/logs");
	test_sink_close(&o, conf);
	/* the other formats' keys are refused */
	CHECK(test_sink_open(NULL, "{\"type\":\"http\",\"url\":\"http://c:4318\",\"format\":"
			     "\"otlp\",\"labels\":{\"a\":\"b\"}}", &o, &conf, err, sizeof(err)));
	CHECKF(strstr(err, "labels: only for format loki, not otlp"), "%s", err);
}
