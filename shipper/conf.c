// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "conf.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shape.h"
#include "util.h"

#define bad ts_errf

static const char *type_word(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a number";
	case json_type_int: return "a number";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "something else";
}

static void known_keys(const struct ts_opt *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (; t->name && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", t->name);
}

/* a non-negative integer from a JSON number */
static int json_u64(struct json_object *v, uint64_t *out)
{
	if (json_object_get_type(v) == json_type_int) {
		int64_t i;

		errno = 0;
		i = json_object_get_int64(v);
		if (i < 0)
			return -ERANGE;
		/* json-c saturates huge integers at INT64_MAX */
		if (i == INT64_MAX && errno)
			return -ERANGE;
		*out = (uint64_t)i;
		return 0;
	}
	return -EINVAL;
}

static int range(const struct ts_opt *t, uint64_t v, const char *path, char *err, size_t errlen)
{
	if (v < t->min || (t->max && v > t->max)) {
		if (t->max)
			return bad(err, errlen, "%s: %llu is out of range (%llu..%llu)", path,
				   (unsigned long long)v, (unsigned long long)t->min,
				   (unsigned long long)t->max);
		return bad(err, errlen, "%s: %llu is below the minimum %llu", path,
			   (unsigned long long)v, (unsigned long long)t->min);
	}
	return 0;
}

static int set_one(const struct ts_opt *t, void *conf, struct json_object *v, const char *path,
		   char *err, size_t errlen)
{
	char *field = (char *)conf + t->off;
	enum json_type jt = json_object_get_type(v);
	uint64_t u;
	int rc;

	switch (t->type) {
	case TS_OPT_STRING: {
		char **dst = (char **)field;

		if (jt != json_type_string)
			return bad(err, errlen, "%s: must be a string, not %s", path, type_word(v));
		if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
			return bad(err, errlen, "%s: must not contain NUL bytes", path);
		free(*dst);
		*dst = strdup(json_object_get_string(v));
		return *dst ? 0 : -ENOMEM;
	}
	case TS_OPT_UINT:
		rc = json_u64(v, &u);
		if (rc == -ERANGE)
			return bad(err, errlen, "%s: must not be negative or that large", path);
		if (rc)
			return bad(err, errlen, "%s: must be a whole number, not %s", path,
				   type_word(v));
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_SIZE:
		if (jt == json_type_string) {
			if (ts_parse_size(json_object_get_string(v), &u))
				return bad(err, errlen,
					   "%s: '%s' is not a size (like 4096, 64KiB, 100MiB)", path,
					   json_object_get_string(v));
		} else if (json_u64(v, &u)) {
			return bad(err, errlen, "%s: must be a size (4096 or \"64KiB\"), not %s",
				   path, type_word(v));
		}
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_DURATION:
		if (jt == json_type_string) {
			if (ts_parse_duration_ns(json_object_get_string(v), 1000000000ULL, &u))
				return bad(err, errlen,
					   "%s: '%s' is not a duration (like 500ms, 2s, 1m)", path,
					   json_object_get_string(v));
		} else if (jt == json_type_int || jt == json_type_double) {
			double d = json_object_get_double(v);

			if (d < 0 || d > 1e9)
				return bad(err, errlen, "%s: %g is not a duration", path, d);
			u = (uint64_t)(d * 1e9);
		} else {
			return bad(err, errlen, "%s: must be a duration (\"500ms\" or seconds), not %s",
				   path, type_word(v));
		}
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_BOOL:
		if (jt != json_type_boolean)
			return bad(err, errlen, "%s: must be true or false, not %s", path,
				   type_word(v));
		*(bool *)field = json_object_get_boolean(v);
		return 0;
	case TS_OPT_ENUM: {
		char choices[256] = "";
		size_t n = 0;

		if (jt == json_type_string)
			for (int i = 0; t->choices[i]; i++)
				if (!strcmp(json_object_get_string(v), t->choices[i])) {
					*(int *)field = i;
					return 0;
				}
		for (int i = 0; t->choices[i] && n < sizeof(choices); i++)
			n += (size_t)snprintf(choices + n, sizeof(choices) - n, "%s%s",
					      i ? ", " : "", t->choices[i]);
		if (jt == json_type_string)
			return bad(err, errlen, "%s: '%s' is not one of %s", path,
				   json_object_get_string(v), choices);
		return bad(err, errlen, "%s: must be one of %s, not %s", path, choices,
			   type_word(v));
	}
	case TS_OPT_OBJECT:
		if (jt != json_type_object)
			return bad(err, errlen, "%s: must be an object, not %s", path, type_word(v));
		return ts_conf_apply(t->sub, field, v, path, err, errlen);
	case TS_OPT_MAP: {
		struct ts_kv *kv = (struct ts_kv *)field;

		if (jt != json_type_object)
			return bad(err, errlen, "%s: must be an object of strings, not %s", path,
				   type_word(v));
		json_object_object_foreach(v, key, val) {
			if (json_object_get_type(val) != json_type_string)
				return bad(err, errlen, "%s.%s: must be a string, not %s", path, key,
					   type_word(val));
			char **k = realloc(kv->keys, sizeof(char *) * (size_t)(kv->n + 1));
			char **vv = k ? realloc(kv->vals, sizeof(char *) * (size_t)(kv->n + 1)) : NULL;

			if (k)
				kv->keys = k;
			if (!vv)
				return -ENOMEM;
			kv->vals = vv;
			kv->keys[kv->n] = strdup(key);
			kv->vals[kv->n] = strdup(json_object_get_string(val));
			kv->n++;
		}
		return 0;
	}
	}
	return bad(err, errlen, "%s: unsupported option type", path);
}

int ts_conf_apply(const struct ts_opt *t, void *conf, struct json_object *obj, const char *path,
		  char *err, size_t errlen)
{
	json_object_object_foreach(obj, key, v) {
		const struct ts_opt *o;
		char sub[256];
		int rc;

		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
		for (o = t; o->name; o++)
			if (!strcmp(o->name, key))
				break;
		if (!o->name) {
			char keys[512];

			known_keys(t, keys, sizeof(keys));
			return bad(err, errlen, "%s: unknown key (known here: %s)", sub, keys);
		}
		rc = set_one(o, conf, v, sub, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void ts_conf_free(const struct ts_opt *t, void *conf)
{
	for (; t && t->name; t++) {
		char *field = (char *)conf + t->off;

		if (t->type == TS_OPT_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (t->type == TS_OPT_OBJECT) {
			ts_conf_free(t->sub, field);
		} else if (t->type == TS_OPT_MAP) {
			struct ts_kv *kv = (struct ts_kv *)field;

			for (int i = 0; i < kv->n; i++) {
				free(kv->keys[i]);
				free(kv->vals[i]);
			}
			free(kv->keys);
			free(kv->vals);
			memset(kv, 0, sizeof(*kv));
		}
	}
}

/* ---- outputs ---- */

/* "queue": { "max_events": N, "when_full": "block" | "drop" } of an output */
struct queue_conf {
	uint64_t max_events;
	int when_full;		/* -1: not given */
};

static const char *const when_full_names[] = { "block", "drop", NULL };

static const struct ts_opt queue_keys[] = {
	{ .name = "max_events", .type = TS_OPT_UINT, .off = offsetof(struct queue_conf, max_events),
	  .min = 1, .max = 100000000 },
	{ .name = "when_full", .type = TS_OPT_ENUM, .off = offsetof(struct queue_conf, when_full),
	  .choices = when_full_names },
	{ .name = NULL },
};

static const struct ts_opt queue_opt = { .name = "queue", .type = TS_OPT_OBJECT, .sub = queue_keys };

int ts_output_conf(const struct ts_output_req *req, const struct ts_output_ops **opsp,
		   void **confp, struct ts_queue_opts *q, char *err, size_t errlen)
{
	const struct ts_output_ops *ops;
	struct json_object *type;
	void *conf;
	int rc = 0;

	if (req->spec) {
		ops = ts_output_find(req->spec);
		if (!ops)
			return bad(err, errlen, "%s: unknown output (known: stdout, file:PATH, "
				   "syslog, syslog://HOST:PORT, syslog+tcp://, syslog+tls://, "
				   "syslog+unix://PATH, http://, https://)", req->where);
	} else {
		if (!json_object_object_get_ex(req->obj, "type", &type) ||
		    json_object_get_type(type) != json_type_string)
			return bad(err, errlen, "%s.type: missing (stdout, file, syslog, ...)",
				   req->where);
		ops = ts_output_by_type(json_object_get_string(type));
		if (!ops)
			return bad(err, errlen, "%s.type: unknown output type '%s'", req->where,
				   json_object_get_string(type));
	}
	conf = calloc(1, ops->conf_size ? ops->conf_size : 1);
	if (!conf)
		return -ENOMEM;
	if (ops->conf_init)
		ops->conf_init(conf);
	if (req->spec) {
		if (ops->conf_spec)
			rc = ops->conf_spec(conf, req->spec, err, errlen);
	} else {
		json_object_object_foreach(req->obj, key, v) {
			char path[256];

			snprintf(path, sizeof(path), "%s.%s", req->where, key);
			if (!strcmp(key, "type"))
				continue;
			if (!strcmp(key, "queue")) {
				struct queue_conf qc = { q->max_events, -1 };

				rc = set_one(&queue_opt, &qc, v, path, err, errlen);
				if (rc)
					break;
				q->max_events = qc.max_events;
				if (qc.when_full >= 0)
					q->when_full = qc.when_full ? TS_FULL_DROP : TS_FULL_BLOCK;
				continue;
			}
			static const struct ts_opt none[1] = { { .name = NULL } };
			const struct ts_opt *o;

			for (o = ops->opts; o && o->name; o++)
				if (!strcmp(o->name, key))
					break;
			if (!o || !o->name) {
				char keys[512];

				known_keys(ops->opts ? ops->opts : none, keys, sizeof(keys));
				rc = bad(err, errlen, "%s: unknown key (known for %s outputs: "
					 "type, queue%s%s)", path, ops->type, *keys ? ", " : "", keys);
				break;
			}
			rc = set_one(o, conf, v, path, err, errlen);
			if (rc)
				break;
		}
	}
	if (rc) {
		ts_conf_free(ops->opts, conf);
		free(conf);
		return rc;
	}
	*opsp = ops;
	*confp = conf;
	return 0;
}

/* ---- the config file ---- */

struct top {
	const char *name;
	int (*set)(struct ts_options *o, struct json_object *v, const char *path, char *err,
		   size_t errlen);
};

static int want(struct json_object *v, enum json_type t, const char *path, const char *what,
		char *err, size_t errlen)
{
	if (json_object_get_type(v) != t)
		return bad(err, errlen, "%s: must be %s, not %s", path, what, type_word(v));
	return 0;
}

static int set_events(struct ts_options *o, struct json_object *v, const char *path, char *err,
		      size_t errlen)
{
	char list[512] = "";
	size_t n = 0;

	if (json_object_get_type(v) == json_type_string) {
		snprintf(list, sizeof(list), "%s", json_object_get_string(v));
	} else {
		if (want(v, json_type_array, path, "an array of event names", err, errlen))
			return -EINVAL;
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			if (json_object_get_type(e) != json_type_string)
				return bad(err, errlen, "%s[%zu]: must be an event name, not %s",
					   path, i, type_word(e));
			if (strchr(json_object_get_string(e), ','))
				return bad(err, errlen, "%s[%zu]: one event name per entry", path, i);
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "",
					      json_object_get_string(e));
			if (n >= sizeof(list))
				return bad(err, errlen, "%s: too long", path);
		}
	}
	if (ts_parse_events(list, &o->type_mask, err, errlen)) {
		char msg[300];

		/* reword the CLI message for the file */
		snprintf(msg, sizeof(msg), "%s", strchr(err, ':') ? strchr(err, ':') + 2 : err);
		return bad(err, errlen, "%s: %s", path, msg);
	}
	return 0;
}

static int u32_list(struct json_object *v, const char *path, uint64_t min, uint64_t max,
		    uint32_t *out32, uint16_t *out16, uint32_t *n, unsigned cap, char *err,
		    size_t errlen)
{
	size_t len;

	if (json_object_get_type(v) == json_type_int) {
		/* a single value is a list of one */
		struct json_object *arr = json_object_new_array();
		int rc;

		json_object_array_add(arr, json_object_get(v));
		rc = u32_list(arr, path, min, max, out32, out16, n, cap, err, errlen);
		json_object_put(arr);
		return rc;
	}
	if (want(v, json_type_array, path, "an array of numbers", err, errlen))
		return -EINVAL;
	len = json_object_array_length(v);
	if (len > cap)
		return bad(err, errlen, "%s: at most %u values", path, cap);
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		uint64_t u;

		if (json_u64(e, &u) || u < min || u > max)
			return bad(err, errlen, "%s[%zu]: must be a number from %llu to %llu", path,
				   i, (unsigned long long)min, (unsigned long long)max);
		if (out32)
			out32[(*n)++] = (uint32_t)u;
		else
			out16[(*n)++] = (uint16_t)u;
	}
	return 0;
}

static int set_filters(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	if (want(v, json_type_object, path, "an object", err, errlen))
		return -EINVAL;
	json_object_object_foreach(v, key, val) {
		char sub[128];
		int rc = 0;

		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (!strcmp(key, "pid"))
			rc = u32_list(val, sub, 1, 4194304, o->pids, NULL, &o->n_pids, TS_MAX_PIDS,
				      err, errlen);
		else if (!strcmp(key, "uid"))
			rc = u32_list(val, sub, 0, 4294967294ULL, o->uids, NULL, &o->n_uids,
				      TS_MAX_UIDS, err, errlen);
		else if (!strcmp(key, "port"))
			rc = u32_list(val, sub, 1, 65535, NULL, o->ports, &o->n_ports, TS_MAX_PORTS,
				      err, errlen);
		else if (!strcmp(key, "family")) {
			const char *f = json_object_get_string(val);

			if (json_object_get_type(val) != json_type_string ||
			    (strcmp(f, "ipv4") && strcmp(f, "ipv6") && strcmp(f, "any")))
				return bad(err, errlen, "%s: must be \"ipv4\", \"ipv6\" or \"any\"",
					   sub);
			o->family = !strcmp(f, "ipv4") ? TS_IPV4 : !strcmp(f, "ipv6") ? TS_IPV6 : 0;
		} else if (!strcmp(key, "comm")) {
			if (want(val, json_type_string, sub, "a string", err, errlen))
				return -EINVAL;
			if (!json_object_get_string_len(val) ||
			    json_object_get_string_len(val) >= TS_COMM_LEN)
				return bad(err, errlen, "%s: a task name is 1 to 15 bytes", sub);
			strcpy(o->comm, json_object_get_string(val));
			o->has_comm = true;
		} else
			return bad(err, errlen, "%s: unknown key (known here: pid, uid, port, "
				   "family, comm)", sub);
		if (rc)
			return rc;
	}
	return 0;
}

static int dur(struct json_object *v, const char *path, uint64_t *out, char *err, size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_DURATION };

	return set_one(&t, out, v, path, err, errlen);
}

static int set_min_latency(struct ts_options *o, struct json_object *v, const char *path,
			   char *err, size_t errlen)
{
	return dur(v, path, &o->min_latency_ns, err, errlen);
}

static int set_duration(struct ts_options *o, struct json_object *v, const char *path,
			char *err, size_t errlen)
{
	int rc = dur(v, path, &o->duration_ns, err, errlen);

	if (!rc && !o->duration_ns)
		return bad(err, errlen, "%s: must be more than 0", path);
	return rc;
}

static int set_stats(struct ts_options *o, struct json_object *v, const char *path, char *err,
		     size_t errlen)
{
	if (json_object_get_type(v) == json_type_boolean) {
		o->stats_interval_ns = json_object_get_boolean(v) ? 10000000000ULL : 0;
		return 0;
	}
	return dur(v, path, &o->stats_interval_ns, err, errlen);
}

static int set_enum(struct json_object *v, const char *path, const char *const *names,
		    int *out, char *err, size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_ENUM, .choices = names };

	return set_one(&t, out, v, path, err, errlen);
}

static int set_probes(struct ts_options *o, struct json_object *v, const char *path, char *err,
		      size_t errlen)
{
	static const char *const names[] = { "auto", "kprobe", "tracepoint", NULL };
	int i, rc = set_enum(v, path, names, &i, err, errlen);

	if (!rc)
		o->probes = (enum ts_probes_mode)i;
	return rc;
}

static int set_format(struct ts_options *o, struct json_object *v, const char *path, char *err,
		      size_t errlen)
{
	static const char *const names[] = { "json", "text", NULL };
	int i, rc = set_enum(v, path, names, &i, err, errlen);

	if (!rc)
		o->format = (enum ts_format)i;
	return rc;
}

static int size_opt(struct json_object *v, const char *path, uint64_t min, uint64_t max,
		    uint64_t *out, char *err, size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_SIZE, .min = min, .max = max };

	return set_one(&t, out, v, path, err, errlen);
}

static int set_ringbuf(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	uint64_t s;
	int rc = size_opt(v, path, 4096, 1ULL << 30, &s, err, errlen);

	if (rc)
		return rc;
	if (s & (s - 1))
		return bad(err, errlen, "%s: must be a power of two", path);
	o->ringbuf_size = s;
	if (!o->wakeup_set && o->wakeup_bytes > s / 4)
		o->wakeup_bytes = s / 4;
	return 0;
}

static int set_wakeup(struct ts_options *o, struct json_object *v, const char *path,
		      char *err, size_t errlen)
{
	o->wakeup_set = true;
	return size_opt(v, path, 0, 1ULL << 30, &o->wakeup_bytes, err, errlen);
}

static int set_max_flows(struct ts_options *o, struct json_object *v, const char *path,
			 char *err, size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_UINT, .min = 1024, .max = 16777216 };
	uint64_t u;
	int rc = set_one(&t, &u, v, path, err, errlen);

	if (!rc)
		o->max_flows = (uint32_t)u;
	return rc;
}

static int set_summary(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_UINT, .min = 1, .max = 10000 };
	uint64_t u;
	int rc = set_one(&t, &u, v, path, err, errlen);

	if (!rc)
		o->summary_n = (unsigned)u;
	return rc;
}

static int set_btf(struct ts_options *o, struct json_object *v, const char *path, char *err,
		   size_t errlen)
{
	if (want(v, json_type_string, path, "a path", err, errlen))
		return -EINVAL;
	o->btf_path = json_object_get_string(v);	/* the parsed file stays alive */
	return 0;
}

static int set_queue(struct ts_options *o, struct json_object *v, const char *path, char *err,
		     size_t errlen)
{
	struct ts_opt t = { .name = "x", .type = TS_OPT_UINT, .min = 1, .max = 100000000 };

	if (want(v, json_type_object, path, "an object", err, errlen))
		return -EINVAL;
	json_object_object_foreach(v, key, val) {
		char sub[128];

		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (strcmp(key, "max_events"))
			return bad(err, errlen, "%s: unknown key (known here: max_events; "
				   "when_full is set per output)", sub);
		if (set_one(&t, &o->queue_events, val, sub, err, errlen))
			return -EINVAL;
	}
	return 0;
}

static int set_outputs(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	size_t n;

	if (want(v, json_type_array, path, "an array of outputs", err, errlen))
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > TS_MAX_OUTPUTS)
		return bad(err, errlen, "%s: at most %d outputs", path, TS_MAX_OUTPUTS);
	o->n_outputs = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct ts_output_req *r = &o->outputs[o->n_outputs];

		snprintf(r->where, sizeof(r->where), "%s[%zu]", path, i);
		if (json_object_get_type(e) != json_type_object)
			return bad(err, errlen, "%s: must be an object with a \"type\", not %s",
				   r->where, type_word(e));
		r->spec = NULL;
		r->obj = e;
		o->n_outputs++;
	}
	return 0;
}

static const struct top top_keys[] = {
	{ "events", set_events },
	{ "filters", set_filters },
	{ "min_latency", set_min_latency },
	{ "outputs", set_outputs },
	{ "queue", set_queue },
	{ "format", set_format },
	{ "probes", set_probes },
	{ "duration", set_duration },
	{ "summary", set_summary },
	{ "stats", set_stats },
	{ "btf", set_btf },
	{ "ringbuf_size", set_ringbuf },
	{ "wakeup_bytes", set_wakeup },
	{ "max_flows", set_max_flows },
	{ NULL, NULL },
};

static struct json_object *loaded;	/* the parsed file; o points into it */

int ts_config_load(const char *file, struct ts_options *o, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	FILE *f = fopen(file, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (!f)
		return bad(err, errlen, "%s: cannot open: %s", file, strerror(errno));
	for (;;) {
		if (len + 4096 > cap) {
			char *p;

			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) || !(p = realloc(text, cap))) {
				fclose(f);
				free(text);
				return bad(err, errlen, "%s: too large for a config file", file);
			}
			text = p;
		}
		size_t r = fread(text + len, 1, cap - len - 1, f);

		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(text);
		return bad(err, errlen, "%s: cannot read: %s", file, strerror(errno));
	}
	fclose(f);
	text[len] = 0;

	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success || !root) {
		size_t at = json_tokener_get_parse_end(tok), line = 1, col = 1;

		for (size_t i = 0; i < at && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		rc = bad(err, errlen, "%s: line %zu, column %zu: invalid JSON: %s", file, line,
			 col, json_tokener_error_desc(jerr));
		json_object_put(root);
		goto out;
	}
	if (json_object_get_type(root) != json_type_object) {
		rc = bad(err, errlen, "%s: the top level must be an object, not %s", file,
			 type_word(root));
		json_object_put(root);
		goto out;
	}
	json_object_object_foreach(root, key, v) {
		const struct top *t;

		for (t = top_keys; t->name; t++)
			if (!strcmp(t->name, key))
				break;
		if (!t->name) {
			rc = bad(err, errlen, "%s: %s: unknown key (known: events, filters, "
				 "min_latency, outputs, queue, format, probes, duration, summary, "
				 "stats, btf, ringbuf_size, wakeup_bytes, max_flows)", file, key);
			break;
		}
		char msg[512];

		rc = t->set(o, v, key, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "%s: %s", file, msg);
			break;
		}
	}
	if (rc)
		json_object_put(root);
	else
		loaded = root;
out:
	json_tokener_free(tok);
	free(text);
	return rc;
}

void ts_config_release(struct ts_options *o)
{
	for (int i = 0; i < o->n_outputs; i++)
		o->outputs[i].obj = NULL;
	json_object_put(loaded);
	loaded = NULL;
}
