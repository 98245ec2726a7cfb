// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * otlp: OTLP/HTTP logs in the JSON encoding, one ExportLogsServiceRequest
 * per request,
 *   {"resourceLogs":[{"resource":{"attributes":[host.name, service.name,
 *     container.* / k8s.* when known]},"scopeLogs":[{"scope":{"name":"tcpship",
 *     "version":..},"logRecords":[{..},..]}]},..]}
 * what the OpenTelemetry collector's otlp receiver and Loki 3's /otlp take.
 * The JSON follows the OTLP mapping of the proto: lowerCamelCase keys,
 * 64-bit integers (times, intValue) as decimal strings, enums as numbers.
 *
 * A resource is who emitted the records: the host, or a container or pod
 * on it. The records of one request are grouped by their cgroup's identity
 * (ts_rec.cg, a pointer compare: cheap), keeping their order within a
 * group; a record with no container or pod goes with the host's resource.
 *
 * Each record's body is its line in the output's shape, without the '\n'
 * (any shape: the body is a string), and its attributes say the facts a
 * backend filters on in the semantic conventions' words (network.*,
 * process.pid, thread.name) plus tcpship.type, tcpship.seq and
 * tcpship.agent_id, the dedup key of at-least-once delivery.
 *
 * Answers follow the OTLP/HTTP spec: 429, 502, 503 and 504 are retried
 * (Retry-After honoured by the sink), any other 4xx/5xx is not; a 200 may
 * carry partialSuccess.rejectedLogRecords, which are dropped and counted,
 * the rest delivered (the answer does not say which: the count is what
 * the books need).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http.h"
#include "ident.h"
#include "json.h"
#include "shape.h"
#include "util.h"

/* OTLP's SeverityNumber: what syslog calls info and notice (the level
 * the syslog sink raises notable records to) */
#define SEV_INFO 9
#define SEV_WARN 13

struct otlp {
	char *res_head;		/* {"resource":{"attributes":[host.name, service.name */
	size_t res_head_len;
	char *scope;		/* ]},"scopeLogs":[{"scope":{..},"logRecords":[ */
	size_t scope_len;
	const char *agent;	/* the run's agent_id: outlives the sink */
	size_t agent_len;
};

struct res {
	const struct ts_cginfo *cg;	/* NULL: the host */
	uint32_t count, start;
};

static void otlp_free(void *state)
{
	struct otlp *o = state;

	if (o) {
		free(o->res_head);
		free(o->scope);
		free(o);
	}
}

static int otlp_open(const struct ts_http_conf *c, const struct ts_run *run,
		     struct ts_http_fmt_setup *s, char *err, size_t errlen)
{
	struct otlp *o = calloc(1, sizeof(*o));
	char *ver = ts_http_json_str(TCPSHIP_VERSION);
	int n1, n2;

	if (!o || !ver) {
		free(o);
		free(ver);
		return -ENOMEM;
	}
	s->state = o;
	n1 = asprintf(&o->res_head, "{\"resource\":{\"attributes\":["
		      "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"%s\"}},"
		      "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"tcpship\"}}",
		      run->host_json);
	n2 = asprintf(&o->scope, "]},\"scopeLogs\":[{\"scope\":{\"name\":\"tcpship\","
		      "\"version\":\"%s\"},\"logRecords\":[", ver);
	free(ver);
	o->agent = run->agent_id;
	if (n1 < 0 || n2 < 0) {
		if (n1 < 0)
			o->res_head = NULL;
		if (n2 < 0)
			o->scope = NULL;
		return -ENOMEM;
	}
	o->res_head_len = (size_t)n1;
	o->scope_len = (size_t)n2;
	o->agent_len = strlen(o->agent);
	return 0;
}

/* ------------------------------------------------------------ writers */

/* Unchecked writes at a cursor: the room is reserved once per record or
 * resource. An attribute is {"key":K,"value":{"stringValue":V}} or
 * {"intValue":"N"} (int64 is a string in OTLP JSON). */
#define SKEY(k) ",{\"key\":\"" k "\",\"value\":{\"stringValue\":\""
#define IKEY(k) ",{\"key\":\"" k "\",\"value\":{\"intValue\":\""

static char *put_sattr(char *p, const char *key, size_t klen, const char *s, size_t n)
{
	p = ts_put(p, key, klen);
	p += ts_json_escape(p, s, n);
	return TS_PUTS(p, "\"}}");
}

static char *put_iattr(char *p, const char *key, size_t klen, uint64_t v)
{
	p = ts_put_u64(ts_put(p, key, klen), v);
	return TS_PUTS(p, "\"}}");
}

#define PUT_S(p, k, s, n) put_sattr(p, SKEY(k), sizeof(SKEY(k)) - 1, s, n)
#define PUT_I(p, k, v) put_iattr(p, IKEY(k), sizeof(IKEY(k)) - 1, v)

/* an optional string attribute */
static char *put_opt(char *p, const char *key, size_t klen, const char *s)
{
	return s && *s ? put_sattr(p, key, klen, s, strlen(s)) : p;
}

/* The resource attributes of a container or pod, where known */
#define CG_KEY(k, f) { SKEY(k), sizeof(SKEY(k)) - 1, offsetof(struct ts_cginfo, f) }
static const struct cg_key {
	const char *key;
	size_t klen, off;
} cg_keys[] = {
	CG_KEY("container.id", container_id),
	CG_KEY("container.name", name),
	/* the reference as the runtime has it (name:tag or @digest): what
	 * ECS's container.image.name holds too */
	CG_KEY("container.image.name", image),
	CG_KEY("k8s.pod.name", pod),
	CG_KEY("k8s.namespace.name", pod_namespace),
	CG_KEY("k8s.pod.uid", pod_uid),
};

static const char *cg_str(const struct ts_cginfo *cg, const struct cg_key *k)
{
	return *(const char *const *)((const char *)cg + k->off);
}

/* The identity a resource is made of: a container or a pod. */
static const struct ts_cginfo *rec_cg(const struct ts_rec *r)
{
	const struct ts_cginfo *cg = r->cg;

	return cg && (cg->container_id || cg->pod || cg->pod_uid || cg->pod_namespace) ? cg
											: NULL;
}

static int put_resource(const struct otlp *o, const struct ts_cginfo *cg, struct ts_buf *out)
{
	size_t room = o->res_head_len + o->scope_len;
	char *p;

	for (size_t i = 0; cg && i < TS_ARRAY_SIZE(cg_keys); i++) {
		const char *v = cg_str(cg, &cg_keys[i]);

		room += cg_keys[i].klen + 6 * (v ? strlen(v) : 0) + 4;
	}
	if (ts_buf_reserve(out, room))
		return -ENOMEM;
	ts_buf_put(out, o->res_head, o->res_head_len);
	p = out->p + out->len;
	for (size_t i = 0; cg && i < TS_ARRAY_SIZE(cg_keys); i++)
		p = put_opt(p, cg_keys[i].key, cg_keys[i].klen, cg_str(cg, &cg_keys[i]));
	out->len = (size_t)(p - out->p);
	ts_buf_put(out, o->scope, o->scope_len);
	return 0;
}

static char *put_addr(char *p, const char *key, size_t klen, int family, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];

	p = ts_put(p, key, klen);
	if (family == AF_INET) {
		/* by hand: inet_ntop costs more than the rest of the record's
		 * attributes together */
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = ts_put_u64(p, a[i]);
		}
	} else if (inet_ntop(family, a, s, sizeof(s))) {
		p = ts_put(p, s, strlen(s));
	}
	return TS_PUTS(p, "\"}}");
}

#define PUT_ADDR(p, k, f, a) put_addr(p, SKEY(k), sizeof(SKEY(k)) - 1, f, a)

/* The attributes: only what is known, in the semantic conventions' names
 * where there is one. */
static char *put_attrs(char *p, const struct otlp *o, const struct ts_rec *r)
{
	int fam = r->family == AF_INET6 ? AF_INET6 : AF_INET;
	bool dns = r->type && !strcmp(r->type, "dns");

#define TRANSPORT(t) ",\"attributes\":[{\"key\":\"network.transport\",\"value\":" \
	"{\"stringValue\":\"" t "\"}}"
	p = dns ? TS_PUTS(p, TRANSPORT("udp")) : TS_PUTS(p, TRANSPORT("tcp"));
#undef TRANSPORT
	p = PUT_S(p, "network.type", fam == AF_INET6 ? "ipv6" : "ipv4", 4);
	if (r->flags & TS_REC_SADDR) {
		p = PUT_ADDR(p, "network.local.address", fam, r->saddr);
		p = PUT_I(p, "network.local.port", r->sport);
	}
	p = PUT_ADDR(p, "network.peer.address", fam, r->daddr);
	p = PUT_I(p, "network.peer.port", r->dport);
	if (r->flags & TS_REC_TASK) {
		p = PUT_I(p, "process.pid", r->pid);
		/* comm is the kernel's per-thread name (prctl PR_SET_NAME,
		 * pthread_setname_np), cut to 15 bytes: thread.name, not
		 * process.executable.name (the basename of /proc/PID/exe) nor
		 * process.command (argv[0]), which it need not be */
		p = PUT_S(p, "thread.name", r->comm, strnlen(r->comm, sizeof(r->comm)));
	}
	if (r->type)
		p = PUT_S(p, "tcpship.type", r->type, strlen(r->type));
	p = PUT_I(p, "tcpship.seq", r->seq);
	/* a replayed record keeps the id its own run gave it */
	if (r->agent_id)
		p = PUT_S(p, "tcpship.agent_id", r->agent_id, strlen(r->agent_id));
	else
		p = PUT_S(p, "tcpship.agent_id", o->agent, o->agent_len);
	*p++ = ']';
	return p;
}

static int put_record(const struct otlp *o, const struct ts_http_body *u,
		      const struct ts_rec *r, bool first, struct ts_buf *out)
{
	size_t len = r->len - 1;	/* without the '\n' */
	size_t agent_len = r->agent_id ? strlen(r->agent_id) : o->agent_len;
	bool warn = r->flags & TS_REC_NOTABLE;
	const char *type = r->type ? r->type : "unknown";
	char *p;

	/* the escaped strings at their worst, and ~1.3 KiB of keys and numbers */
	if (ts_buf_reserve(out, 6 * (len + agent_len + sizeof(r->comm)) + 2048))
		return -ENOMEM;
	p = out->p + out->len;
	if (!first)
		*p++ = ',';
	/* tcpship's hook both sees the event happen and stamps it: the time
	 * it was observed is the time it occurred */
	p = TS_PUTS(p, "{\"timeUnixNano\":\"");
	p = ts_put_u64(p, r->time_ns);
	p = TS_PUTS(p, "\",\"observedTimeUnixNano\":\"");
	p = ts_put_u64(p, r->time_ns);
	p = TS_PUTS(p, "\",\"severityNumber\":");
	p = ts_put_u64(p, warn ? SEV_WARN : SEV_INFO);
	p = warn ? TS_PUTS(p, ",\"severityText\":\"WARN\"") : TS_PUTS(p, ",\"severityText\":\"INFO\"");
	/* an event's name says the schema of its body: one per type */
	p = TS_PUTS(p, ",\"eventName\":\"tcpship.");
	p += ts_json_escape(p, type, strlen(type));
	p = TS_PUTS(p, "\",\"body\":{\"stringValue\":\"");
	p += ts_json_escape(p, u->b->data + r->off, len);
	p = TS_PUTS(p, "\"}");
	p = put_attrs(p, o, r);
	*p++ = '}';
	out->len = (size_t)(p - out->p);
	return 0;
}

/* ------------------------------------------------------------ the body */

/* The records of u grouped by resource, in the order each first shows:
 * order[] holds the records' numbers resource after resource. Returns the
 * number of resources. */
static uint32_t group(const struct ts_http_body *u, struct res *res, uint32_t *rid,
		      uint32_t *order)
{
	uint32_t nr = 0, last = 0;

	for (uint32_t i = 0; i < u->n; i++) {
		const struct ts_cginfo *cg = rec_cg(ts_http_rec(u, i));
		uint32_t k = 0;

		/* runs of one container are the usual case: try the last first */
		if (nr && res[last].cg == cg)
			k = last;
		else
			while (k < nr && res[k].cg != cg)
				k++;
		if (k == nr)
			res[nr++] = (struct res){ .cg = cg };
		res[k].count++;
		rid[i] = last = k;
	}
	for (uint32_t k = 0, at = 0; k < nr; k++) {
		res[k].start = at;
		at += res[k].count;
		res[k].count = 0;
	}
	for (uint32_t i = 0; i < u->n; i++)
		order[res[rid[i]].start + res[rid[i]].count++] = i;
	return nr;
}

static int otlp_build(const void *state, void **scratch, const struct ts_http_body *u,
		      struct ts_buf *out)
{
	const struct otlp *o = state;
	const size_t each = sizeof(struct res) + 2 * sizeof(uint32_t);
	struct res *res = ts_http_scratch(scratch, u->n, each);
	uint32_t *rid = (uint32_t *)(res + u->n), *order = rid + u->n, nr;

	if (!res || ts_buf_append(out, "{\"resourceLogs\":[", 17))
		return -ENOMEM;
	nr = group(u, res, rid, order);
	for (uint32_t k = 0; k < nr; k++) {
		if (k && ts_buf_append(out, ",", 1))
			return -ENOMEM;
		if (put_resource(o, res[k].cg, out))
			return -ENOMEM;
		for (uint32_t j = 0; j < res[k].count; j++) {
			uint32_t i = order[res[k].start + j];

			if (put_record(o, u, ts_http_rec(u, i), !j, out))
				return -ENOMEM;
		}
		if (ts_buf_append(out, "]}]}", 4))
			return -ENOMEM;
	}
	return ts_buf_append(out, "]}", 2);
}

/* ------------------------------------------------------------ the answer */

/* An int64 of the JSON mapping: a decimal string or a number. */
static bool get_count(struct json_object *v, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_object_get_type(v) == json_type_int) {
		int64_t n = json_object_get_int64(v);

		*out = n < 0 ? 0 : (uint64_t)n;
		return true;
	}
	if (json_object_get_type(v) != json_type_string)
		return false;
	s = json_object_get_string(v);
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

/* A key by its JSON name or its proto name (parsers take both). */
static struct json_object *get2(struct json_object *o, const char *camel, const char *snake)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, camel, &v))
		json_object_object_get_ex(o, snake, &v);
	return v;
}

/* An ExportLogsServiceResponse: {} or {"partialSuccess":{"rejectedLogRecords":
 * "N","errorMessage":".."}}; an empty body (Loki's 204) is a whole success. */
static int otlp_partial(const char *resp, size_t len, uint32_t n, uint32_t *rejected,
			char *reason, size_t rlen)
{
	struct json_object *root, *ps, *v;
	struct json_tokener *tok;
	uint64_t cnt = 0;
	size_t i = 0, end;
	int rc = -EINVAL;

	*rejected = 0;
	if (rlen)
		reason[0] = 0;
	while (i < len && isspace((unsigned char)resp[i]))
		i++;
	if (i == len)
		return 0;
	if (len > INT32_MAX || !(tok = json_tokener_new()))
		return len > INT32_MAX ? -EINVAL : -ENOMEM;
	root = json_tokener_parse_ex(tok, resp, (int)len);
	end = root && json_tokener_get_error(tok) == json_tokener_success ?
		json_tokener_get_parse_end(tok) : 0;
	while (end && end < len && isspace((unsigned char)resp[end]))
		end++;
	if (!root || end != len || json_object_get_type(root) != json_type_object)
		goto out;
	ps = get2(root, "partialSuccess", "partial_success");
	if (ps && json_object_get_type(ps) != json_type_null) {
		if (json_object_get_type(ps) != json_type_object)
			goto out;
		v = get2(ps, "rejectedLogRecords", "rejected_log_records");
		if (v && !get_count(v, &cnt))
			goto out;
		v = get2(ps, "errorMessage", "error_message");
		if (v && json_object_get_type(v) == json_type_string && rlen)
			snprintf(reason, rlen, "%s", json_object_get_string(v));
	}
	*rejected = cnt > n ? n : (uint32_t)cnt;
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* OTLP/HTTP's retryable statuses ("Failures" in the spec); any other 4xx
 * or 5xx means the data will never be taken. */
static const short otlp_retry[] = { 429, 502, 503, 504, 0 };

const struct ts_http_format_ops ts_http_otlp = {
	.name = "otlp",
	.content_type = "application/json",
	.default_path = "/v1/logs",
	.shapes = 0,	/* the body is a string: any shape */
	.retry_statuses = otlp_retry,
	.open = otlp_open,
	.free = otlp_free,
	.build = otlp_build,
	.partial = otlp_partial,
};
