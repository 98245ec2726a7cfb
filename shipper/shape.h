/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shapes: a kernel record -> one line. Each shape is one encoder file in
 * shipper/shapes/ behind the table ts_shapes; each output takes the lines
 * of one shape, and the reader encodes a record once per shape that some
 * output takes. Encoders are pure: no I/O, no allocation, no global state;
 * the caller owns every buffer.
 */
#ifndef TS_SHAPE_H
#define TS_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "json.h"

/* No line is longer than this. The native worst case is ~7.8 KiB (a
 * 253-byte qname of unprintable bytes, a hostile 15-byte comm, and the
 * identity keys at their caps, ident.c's EXE_JSON_MAX and CG_JSON_MAX);
 * OCSF, which says the exe twice, ~10 KiB; the unit tests check each. */
#define TS_LINE_MAX 16384

/* What an encoder keeps between records: the run's constants and the
 * formatted start of the last second seen. */
struct ts_enc {
	char host[64 * 6 + 1];	/* already JSON-escaped */
	size_t host_len;
	char agent_id[40];
	char host_cef[64 * 3 + 1];	/* the host for CEF's extension */
	const char *version;		/* tcpship's, for the shapes that say it */
	/* the "YYYY-MM-DDTHH:MM:SS" of the last second seen */
	struct ts_tcache { int64_t sec; char prefix[24]; } tc;
	/* the identity of the record being encoded (ident.h), set by the
	 * caller before each record; NULL: no identity keys */
	const struct ts_ident *id;
};

struct ts_ident;

void ts_enc_init(struct ts_enc *e, const char *host, const char *agent_id);

typedef int (*ts_encode_fn)(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
			    uint64_t time_ns, char *out, size_t cap);

struct ts_shape {
	const char *name;	/* "native", ... */
	ts_encode_fn encode;
	const char *header;	/* printed once before the first line, or NULL */
};

enum {
	TS_SHAPE_NATIVE = 0,	/* the JSON of schemas/event.schema.json */
	TS_SHAPE_TEXT,		/* --format text: a table for people */
	TS_SHAPE_ECS,		/* Elastic Common Schema 9.x documents */
	TS_SHAPE_OCSF,		/* OCSF 1.8.0 Network / DNS Activity */
	TS_SHAPE_CEF,		/* ArcSight CEF:0 records */
	TS_SHAPE_MAX,
};

/* The versions the shapes write. */
#define TS_ECS_VERSION "9.4.0"
#define TS_OCSF_VERSION "1.8.0"
#ifndef TCPSHIP_VERSION
#define TCPSHIP_VERSION "0.1.0"
#endif

extern const struct ts_shape ts_shapes[TS_SHAPE_MAX];
/* index by name, -1 if unknown */
int ts_shape_by_name(const char *name);

/* Every encoder: one record as one line ending in '\n'. Returns its length,
 * -ENOSPC if cap < TS_LINE_MAX, -EINVAL if the record is malformed (unknown
 * type, size smaller than its type needs). time_ns is wall-clock
 * (CLOCK_REALTIME). */
int ts_encode_json(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap);
int ts_encode_text(struct ts_enc *e, const void *rec, size_t size, uint64_t time_ns,
		   char *out, size_t cap);
int ts_encode_ecs(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		  uint64_t time_ns, char *out, size_t cap);
int ts_encode_ocsf(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap);
int ts_encode_cef(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		  uint64_t time_ns, char *out, size_t cap);
/* CEF's escaping of an extension value: '\\', '=', CR and LF escaped,
 * other control bytes and invalid UTF-8 as U+FFFD. out needs 3 * n. */
size_t ts_cef_escape(char *out, const char *s, size_t n);
const char *ts_text_header(void);

/* For encoders: -EINVAL unless rec is a whole record of a known type. */
int ts_rec_check(const void *rec, size_t size);

/* A record as a flow, the facts the semantic shapes (ECS, OCSF, CEF) put
 * in their own words. */
enum ts_dir {
	TS_DIR_UNKNOWN = 0,	/* which end initiated is not known */
	TS_DIR_IN,		/* the remote end connected to this host */
	TS_DIR_OUT,		/* this host connected out */
};

struct ts_view {
	const struct ts_hdr *h;
	const struct ts_event *ev;	/* NULL for dns */
	enum ts_dir dir;
	/* the source (initiator) is the local end: outbound, or not known
	 * (then by convention) */
	bool src_local;
	bool local_known;		/* the local address and port are */
	uint8_t proto;			/* IANA protocol number: 6, 17 */
	/* bytes the local end sent / received, where the event says */
	bool has_out, has_in;
	uint64_t out, in;
	bool has_duration;
	uint64_t duration_ns;
	bool has_handshake;		/* connect, accept, close: connect latency */
	uint64_t handshake_ns;
	int error;			/* close: errno, 0 none */
	bool established;		/* close: the flow got there */
	const struct ts_flow *flow;	/* flow: the report (its deltas), else NULL */
	/* dns answer (TS_F_ANSWER): the response as read, or NULL when the
	 * payload is no response at all; valid until the next record */
	bool answer;
	const struct ts_dns_response *resp;
	bool has_query;			/* dns: q was read from the payload */
	/* last: ts_view_of() zeroes what comes before it */
	struct ts_dns_query q;
};

/* A dns answer record's response, parsed once per record and thread (the
 * shapes of one record share it), or NULL when it is no response. Valid
 * until the thread's next call with another record. */
struct ts_dns;
const struct ts_dns_response *ts_dns_response_of(const struct ts_dns *d);

/* -EINVAL unless rec is a whole record of a known type (ts_rec_check). */
int ts_view_of(const void *rec, size_t size, struct ts_view *v);
/* The view's severity, for the shapes' scales: 0 routine, 1 notable (a
 * retransmit), 2 a failure (a connection that ended with an error). */
int ts_view_severity(const struct ts_view *v);

/* RFC 3339 UTC with nanoseconds: 30 bytes + NUL */
void ts_format_time(struct ts_enc *e, uint64_t time_ns, char out[32]);
void ts_format_time_in(struct ts_tcache *tc, uint64_t time_ns, char out[32]);

const char *ts_type_name(unsigned type);
/* the static name of a type given as bytes (a replayed record's); "unknown"
 * for a name this build does not have */
const char *ts_type_intern(const char *name, size_t len);
/* "connect" -> TS_CONNECT, 0 if unknown */
unsigned ts_type_from_name(const char *name);

#endif
