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
#include "yamlconf.h"

const char *ts_json_type_word(struct json_object *v)
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
int ts_json_u64(struct json_object *v, uint64_t *out)
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

int ts_json_count(struct json_object *v, const char *path, uint64_t *out, char *err,
		  size_t errlen)
{
	int rc = ts_json_u64(v, out);

	if (rc == -ERANGE)
		return ts_errf(err, errlen, "%s: must not be negative or that large", path);
	if (rc)
		return ts_errf(err, errlen, "%s: must be a whole number, not %s", path,
			       ts_json_type_word(v));
	return 0;
}

static int range(const struct ts_opt *t, uint64_t v, const char *path, char *err, size_t errlen)
{
	if (v < t->min || (t->max && v > t->max)) {
		if (t->max)
			return ts_errf(err, errlen, "%s: %llu is out of range (%llu..%llu)", path,
				   (unsigned long long)v, (unsigned long long)t->min,
				   (unsigned long long)t->max);
		return ts_errf(err, errlen, "%s: %llu is below the minimum %llu", path,
			   (unsigned long long)v, (unsigned long long)t->min);
	}
	return 0;
}

static int set_enum(const struct ts_opt *t, int *field, struct json_object *v, const char *path,
		    char *err, size_t errlen)
{
	enum json_type jt = json_object_get_type(v);
	char choices[256] = "";
	size_t n = 0;

	if (jt == json_type_string)
		for (int i = 0; t->choices[i]; i++)
			if (!strcmp(json_object_get_string(v), t->choices[i])) {
				*field = i;
				return 0;
			}
	for (int i = 0; t->choices[i] && n < sizeof(choices); i++)
		n += (size_t)snprintf(choices + n, sizeof(choices) - n, "%s%s", i ? ", " : "",
				      t->choices[i]);
	if (jt == json_type_string)
		return ts_errf(err, errlen, "%s: '%s' is not one of %s", path, json_object_get_string(v),
			   choices);
	return ts_errf(err, errlen, "%s: must be one of %s, not %s", path, choices,
		       ts_json_type_word(v));
}

static int set_map(struct ts_kv *kv, struct json_object *v, const char *path, char *err,
		   size_t errlen)
{
	if (json_object_get_type(v) != json_type_object)
		return ts_errf(err, errlen, "%s: must be an object of strings, not %s", path,
			   ts_json_type_word(v));
	json_object_object_foreach(v, key, val) {
		if (json_object_get_type(val) != json_type_string)
			return ts_errf(err, errlen, "%s.%s: must be a string, not %s", path, key,
				   ts_json_type_word(val));
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
			return ts_errf(err, errlen, "%s: must be a string, not %s", path,
				       ts_json_type_word(v));
		if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
			return ts_errf(err, errlen, "%s: must not contain NUL bytes", path);
		free(*dst);
		*dst = strdup(json_object_get_string(v));
		return *dst ? 0 : -ENOMEM;
	}
	case TS_OPT_UINT:
		if ((rc = ts_json_count(v, path, &u, err, errlen)))
			return rc;
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_SIZE:
		if (jt == json_type_string) {
			if (ts_parse_size(json_object_get_string(v), &u))
				return ts_errf(err, errlen,
					   "%s: '%s' is not a size (like 4096, 64KiB, 100MiB)", path,
					   json_object_get_string(v));
		} else if (ts_json_u64(v, &u)) {
			return ts_errf(err, errlen, "%s: must be a size (4096 or \"64KiB\"), not %s",
				   path, ts_json_type_word(v));
		}
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_DURATION:
		if (jt == json_type_string) {
			if (ts_parse_duration_ns(json_object_get_string(v), 1000000000ULL, &u))
				return ts_errf(err, errlen,
					   "%s: '%s' is not a duration (like 500ms, 2s, 1m)", path,
					   json_object_get_string(v));
		} else if (jt == json_type_int || jt == json_type_double) {
			double d = json_object_get_double(v);

			if (d < 0 || d > 1e9)
				return ts_errf(err, errlen, "%s: %g is not a duration", path, d);
			u = (uint64_t)(d * 1e9);
		} else {
			return ts_errf(err, errlen, "%s: must be a duration (\"500ms\" or seconds), not %s",
				   path, ts_json_type_word(v));
		}
		if ((rc = range(t, u, path, err, errlen)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case TS_OPT_BOOL:
		if (jt != json_type_boolean)
			return ts_errf(err, errlen, "%s: must be true or false, not %s", path,
				   ts_json_type_word(v));
		*(bool *)field = json_object_get_boolean(v);
		return 0;
	case TS_OPT_ENUM:
		return set_enum(t, (int *)field, v, path, err, errlen);
	case TS_OPT_OBJECT:
		if (jt != json_type_object)
			return ts_errf(err, errlen, "%s: must be an object, not %s", path, ts_json_type_word(v));
		return ts_conf_apply(t->sub, field, v, path, err, errlen);
	case TS_OPT_MAP:
		return set_map((struct ts_kv *)field, v, path, err, errlen);
	}
	return ts_errf(err, errlen, "%s: unsupported option type", path);
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
			return ts_errf(err, errlen, "%s: unknown key (known here: %s)", sub, keys);
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

/* "queue": { "type": "memory" | "disk", "max_events": N (memory),
 * "path": DIR, "max_size": SIZE, "sync": ..., "sync_interval": DUR (disk),
 * "when_full": "block" | "drop" } of an output */
struct queue_conf {
	int type;
	uint64_t max_events;
	int when_full;		/* -1: not given */
	char *path;
	uint64_t max_size;
	int sync;
	uint64_t sync_interval_ns;
};

static const char *const queue_type_names[] = { "memory", "disk", NULL };
static const char *const when_full_names[] = { "block", "drop", NULL };
static const char *const sync_names[] = { "interval", "batch", "none", NULL };

static const struct ts_opt queue_keys[] = {
	{ .name = "type", .type = TS_OPT_ENUM, .off = offsetof(struct queue_conf, type),
	  .choices = queue_type_names },
	{ .name = "max_events", .type = TS_OPT_UINT, .off = offsetof(struct queue_conf, max_events),
	  .min = 1, .max = 100000000 },
	{ .name = "when_full", .type = TS_OPT_ENUM, .off = offsetof(struct queue_conf, when_full),
	  .choices = when_full_names },
	{ .name = "path", .type = TS_OPT_STRING, .off = offsetof(struct queue_conf, path) },
	{ .name = "max_size", .type = TS_OPT_SIZE, .off = offsetof(struct queue_conf, max_size),
	  .min = 256 * 1024, .max = 1ULL << 50 },
	{ .name = "sync", .type = TS_OPT_ENUM, .off = offsetof(struct queue_conf, sync),
	  .choices = sync_names },
	{ .name = "sync_interval", .type = TS_OPT_DURATION,
	  .off = offsetof(struct queue_conf, sync_interval_ns), .min = 1000000,
	  .max = 3600ULL * 1000000000ULL },
	{ .name = NULL },
};

static const struct ts_opt queue_opt = { .name = "queue", .type = TS_OPT_OBJECT, .sub = queue_keys };

/* "queue" of one output entry into q */
static int set_queue(struct json_object *v, const char *path, struct ts_queue_opts *q,
		     char *err, size_t errlen)
{
	struct queue_conf qc = { .max_events = q->max_events, .when_full = -1 };
	bool disk_keys;
	int rc = set_one(&queue_opt, &qc, v, path, err, errlen);

	disk_keys = qc.path || qc.max_size || qc.sync || qc.sync_interval_ns;
	if (!rc && qc.type == TS_QUEUE_MEMORY && disk_keys)
		rc = ts_errf(err, errlen, "%s: path, max_size, sync and sync_interval are for "
			 "\"type\": \"disk\" queues", path);
	if (!rc && qc.path && (!qc.path[0] || strlen(qc.path) >= sizeof(q->path)))
		rc = ts_errf(err, errlen, "%s.path: must be a directory's path of at most %zu "
			 "bytes", path, sizeof(q->path) - 1);
	if (!rc) {
		q->type = (enum ts_queue_type)qc.type;
		q->max_events = qc.max_events;
		if (qc.when_full >= 0)
			q->when_full = qc.when_full ? TS_FULL_DROP : TS_FULL_BLOCK;
		if (qc.path)
			snprintf(q->path, sizeof(q->path), "%s", qc.path);
		q->max_size = qc.max_size;
		q->sync = qc.sync;
		q->sync_interval_ns = qc.sync_interval_ns;
	}
	ts_conf_free(queue_keys, &qc);
	return rc;
}

/* "name": the output's, in messages, counters and its queue's folder */
static int set_name(struct json_object *v, const char *path, struct ts_queue_opts *q,
		    char *err, size_t errlen)
{
	const char *n = json_object_get_string(v);
	size_t len;

	if (json_object_get_type(v) != json_type_string)
		return ts_errf(err, errlen, "%s: must be a string, not %s", path,
			   ts_json_type_word(v));
	len = strlen(n);
	if (!len || len >= sizeof(q->name) || !strcmp(n, ".") || !strcmp(n, ".."))
		return ts_errf(err, errlen, "%s: must be 1 to %zu characters", path,
			   sizeof(q->name) - 1);
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			return ts_errf(err, errlen, "%s: '%s': only letters, digits, '.', '-' and "
				   "'_' (it names a folder)", path, n);
	snprintf(q->name, sizeof(q->name), "%s", n);
	return 0;
}

/* "schema": the shape of this output's lines */
static int set_schema(struct json_object *v, const char *path, struct ts_queue_opts *q,
		      char *err, size_t errlen)
{
	const char *n = json_object_get_string(v);

	if (json_object_get_type(v) == json_type_string)
		for (int i = 0; ts_schema_names[i]; i++)
			if (!strcmp(n, ts_schema_names[i])) {
				q->schema = (unsigned)ts_shape_by_name(n) + 1;
				return 0;
			}
	return ts_errf(err, errlen, "%s: must be \"native\", \"ecs\", \"ocsf\" or \"cef\"", path);
}

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
			return ts_errf(err, errlen, "%s: unknown output (known: stdout, file:PATH, "
				   "syslog, syslog://HOST:PORT, syslog+tcp://, syslog+tls://, "
				   "syslog+unix://PATH, http://, https://, kafka://BROKERS/TOPIC)", req->where);
	} else {
		if (!json_object_object_get_ex(req->obj, "type", &type) ||
		    json_object_get_type(type) != json_type_string)
			return ts_errf(err, errlen, "%s.type: missing (stdout, file, syslog, ...)",
				   req->where);
		ops = ts_output_by_type(json_object_get_string(type));
		if (!ops)
			return ts_errf(err, errlen, "%s.type: unknown output type '%s'", req->where,
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
				rc = set_queue(v, path, q, err, errlen);
				if (rc)
					break;
				continue;
			}
			if (!strcmp(key, "name")) {
				rc = set_name(v, path, q, err, errlen);
				if (rc)
					break;
				continue;
			}
			if (!strcmp(key, "schema")) {
				rc = set_schema(v, path, q, err, errlen);
				if (rc)
					break;
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
				rc = ts_errf(err, errlen, "%s: unknown key (known for %s outputs: "
					 "type, name, queue, schema%s%s)", path, ops->type, *keys ? ", " : "", keys);
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

static int set_outputs(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	size_t n;

	if (json_object_get_type(v) != json_type_array)
		return ts_errf(err, errlen, "%s: must be an array of outputs, not %s", path,
			   ts_json_type_word(v));
	n = json_object_array_length(v);
	if (n > TS_MAX_OUTPUTS)
		return ts_errf(err, errlen, "%s: at most %d outputs", path, TS_MAX_OUTPUTS);
	o->n_outputs = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct ts_output_req *r = &o->outputs[o->n_outputs];

		snprintf(r->where, sizeof(r->where), "%s[%zu]", path, i);
		if (json_object_get_type(e) != json_type_object)
			return ts_errf(err, errlen, "%s: must be an object with a \"type\", not %s",
				   r->where, ts_json_type_word(e));
		r->spec = NULL;
		r->obj = e;
		o->n_outputs++;
	}
	return 0;
}

/* Every key of the file through the option table (options.c), sections
 * ("filters": {...}) one level deep. */
static int apply_root(struct ts_options *o, struct json_object *root, char *err, size_t errlen)
{
	json_object_object_foreach(root, key, v) {
		int rc = ts_options_set_conf(o, NULL, key, v, err, errlen);

		if (rc == 1)
			rc = set_outputs(o, v, key, err, errlen);
		else if (rc == 2) {
			char section[64];

			snprintf(section, sizeof(section), "%s.", key);
			rc = 0;
			json_object_object_foreach(v, sub, sv) {
				rc = ts_options_set_conf(o, section, sub, sv, err, errlen);
				if (rc)
					break;
			}
		}
		if (rc)
			return rc < 0 ? rc : -EINVAL;
	}
	return 0;
}

static struct json_object *loaded;	/* the parsed file; o points into it */

/* the whole file, NUL-terminated, at most 16 MiB */
static int read_text(const char *file, char **textp, size_t *lenp, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return ts_errf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
	for (;;) {
		if (len + 4096 > cap) {
			char *p;

			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) || !(p = realloc(text, cap))) {
				fclose(f);
				free(text);
				return ts_errf(err, errlen, "%s: too large for a config file", file);
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
		return ts_errf(err, errlen, "%s: cannot read: %s", file, strerror(errno));
	}
	fclose(f);
	text[len] = 0;
	*textp = text;
	*lenp = len;
	return 0;
}

static struct json_object *parse_json(const char *file, const char *text, size_t len, char *err,
				      size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root;
	enum json_tokener_error jerr;

	if (!tok) {
		ts_errf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
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
		ts_errf(err, errlen, "%s: line %zu, column %zu: invalid JSON: %s", file, line, col,
			json_tokener_error_desc(jerr));
		json_object_put(root);
		root = NULL;
	} else if (json_object_get_type(root) != json_type_object) {
		ts_errf(err, errlen, "%s: the top level must be an object, not %s", file,
			ts_json_type_word(root));
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

/* By the name's ending; else JSON if it starts (after blanks) with '{'. */
static bool is_yaml(const char *file, const char *text)
{
	size_t n = strlen(file);

	if ((n >= 5 && !strcmp(file + n - 5, ".yaml")) || (n >= 4 && !strcmp(file + n - 4, ".yml")))
		return true;
	if (n >= 5 && !strcmp(file + n - 5, ".json"))
		return false;
	return text[strspn(text, " \t\r\n")] != '{';
}

int ts_config_load(const char *file, struct ts_options *o, char *err, size_t errlen)
{
	struct json_object *root;
	char *text = NULL, msg[512];
	size_t len = 0;
	int rc = read_text(file, &text, &len, err, errlen);

	if (rc)
		return rc;
	if (is_yaml(file, text)) {
		root = ts_yaml_parse(text, len, msg, sizeof(msg));
		if (!root)
			rc = ts_errf(err, errlen, "%s: %s", file, msg);
	} else {
		root = parse_json(file, text, len, err, errlen);
		rc = root ? 0 : -EINVAL;
	}
	free(text);
	if (rc)
		return rc;
	rc = apply_root(o, root, msg, sizeof(msg));
	if (rc) {
		/* a YAML tree knows its lines; a JSON one says none */
		int line = ts_yaml_msg_line(root, msg);

		if (line)
			snprintf(err, errlen, "%s: line %d: %s", file, line, msg);
		else
			snprintf(err, errlen, "%s: %s", file, msg);
		json_object_put(root);
		return rc;
	}
	loaded = root;
	return 0;
}

int ts_config_line(const char *msg)
{
	return ts_yaml_msg_line(loaded, msg);
}

void ts_config_release(struct ts_options *o)
{
	for (int i = 0; i < o->n_outputs; i++)
		o->outputs[i].obj = NULL;
	json_object_put(loaded);
	loaded = NULL;
}
