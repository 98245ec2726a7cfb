/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Body formats of the HTTP sink: what a collector wants to be POSTed and,
 * for some, how to read its answer item by item. Each format is one file
 * exporting one struct ts_http_format_ops, and one entry of the list
 * below; the rest of the sink asks the table and never names a format, so
 * a new format touches nothing else.
 *
 * Formats get the run's constants (host, agent_id) at open instead of
 * finding them in each line: they are the same in every line of a run.
 */
#ifndef TS_HTTP_FORMAT_H
#define TS_HTTP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shape.h"
#include "sink.h"

struct ts_http_conf;

#define TS_HTTP_JSON_SHAPES ((1u << TS_SHAPE_NATIVE) | (1u << TS_SHAPE_ECS) | (1u << TS_SHAPE_OCSF))

/* The formats, in the order the config's "format" lists them; the first
 * is the default. Adding one: its file, and its name here. */
#define TS_HTTP_FORMATS(X) X(ndjson) X(elasticsearch) X(loki) X(splunk_hec) X(otlp)

/* The records of one request: a range of a unit, or (a retry of the items
 * a collector refused for now) some of its records by index. */
struct ts_http_body {
	const struct ts_batch *b;
	uint32_t from, n;
	const uint32_t *idx;	/* NULL: recs [from, from + n); else n indexes into b->recs */
};

static inline const struct ts_rec *ts_http_rec(const struct ts_http_body *u, uint32_t i)
{
	return &u->b->recs[u->idx ? u->idx[i] : u->from + i];
}

/* What an answer read item by item says of one item. */
enum ts_http_verdict {
	TS_ITEM_OK = 0,		/* stored */
	TS_ITEM_CONFLICT,	/* stored by an earlier request: delivered */
	TS_ITEM_RETRY,		/* refused for now: sent again alone */
	TS_ITEM_DROP,		/* refused for good: counted */
};

struct ts_http_item {
	int status;
	enum ts_http_verdict verdict;
};

/* The format-only keys of the config, for the check that a key is given
 * only to a format that reads it. */
enum {
	TS_HTTP_KEY_LABELS = 1 << 0,
	TS_HTTP_KEY_TENANT = 1 << 1,
	TS_HTTP_KEY_ACTION = 1 << 2,
	TS_HTTP_KEY_SOURCETYPE = 1 << 3,
	TS_HTTP_KEY_INDEX = 1 << 4,
	TS_HTTP_KEY_PODNS = 1 << 5,
};

/* What a format's open makes; the sink frees both. */
struct ts_http_fmt_setup {
	void *state;		/* for build(); freed with ops->free */
	char *header;		/* one more request header line ("X-Scope-OrgID: a"), or NULL */
};

struct ts_http_format_ops {
	const char *name;		/* the config's "format" */
	const char *content_type;
	const char *default_path;	/* for a URL without a path; NULL: none */
	const char *token_scheme;	/* Authorization: SCHEME TOKEN; NULL: Bearer */
	unsigned keys;			/* TS_HTTP_KEY_* it reads */
	/* The shapes (shape.h) it carries, bit 1 << TS_SHAPE_*; 0: any. A body
	 * of JSON documents takes the JSON shapes only. */
	unsigned shapes;
	int default_shape;		/* when the config names none: TS_SHAPE_* */
	/* Check its keys; make what every body needs. Optional. 0, or -errno
	 * and one line in err. */
	int (*open)(const struct ts_http_conf *c, const struct ts_run *run,
		    struct ts_http_fmt_setup *s, char *err, size_t errlen);
	void (*free)(void *state);
	/* Append the body of u to out. *scratch is this worker's (NULL at
	 * first, freed by the sink with free()). 0 or -errno. */
	int (*build)(const void *state, void **scratch, const struct ts_http_body *u,
		     struct ts_buf *out);
	/* Optional: read a 2xx answer for n items into items[]; reason gets
	 * "status type: reason" of the first dropped item (else of the first
	 * retried one). 0, or -EINVAL if it is no answer for n items: nothing
	 * is known to be stored. Without it a 2xx delivers the whole body. */
	int (*answer)(const char *resp, size_t len, uint32_t n, struct ts_http_item *items,
		      char *reason, size_t rlen);
	/* Optional, for a format without answer(): read a 2xx answer that
	 * may refuse some of the n records for good without saying which
	 * (OTLP's partialSuccess): how many in *rejected (the rest are
	 * delivered), the collector's words, if any, in reason. 0, or -EINVAL
	 * if it is no answer of the format: nothing is known to be stored. */
	int (*partial)(const char *resp, size_t len, uint32_t n, uint32_t *rejected,
		       char *reason, size_t rlen);
	/* The statuses retried, 0-terminated; NULL: 408, 429 and 5xx. Any
	 * other status outside 2xx is dropped. */
	const short *retry_statuses;
};

#define TS_HTTP_FORMAT_DECL(f) extern const struct ts_http_format_ops ts_http_##f;
TS_HTTP_FORMATS(TS_HTTP_FORMAT_DECL)

/* The table (conf.c), NULL-terminated, and its names for the config. */
extern const struct ts_http_format_ops *const ts_http_formats[];
extern const char *const ts_http_format_names[];

/* A scratch array of n elements of size each in *scratch, grown (never
 * shrunk) as needed; NULL when out of memory. For build(). */
void *ts_http_scratch(void **scratch, size_t n, size_t size);

/* For the unit tests: the pure parts of the formats. */
/* Elasticsearch index names from a strftime pattern over the event's UTC
 * time ("tcpship-%Y.%m.%d"). The check allows numeric conversions only and
 * the characters Elasticsearch accepts in an index name. */
int ts_http_check_index(const char *pattern, char *err, size_t errlen);
size_t ts_http_index_name(const char *pattern, uint64_t time_ns, char *out, size_t cap);
/* A Loki label name: [a-zA-Z_][a-zA-Z0-9_]* */
bool ts_http_label_name_ok(const char *name);

#endif
