/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the shapes' encoders share: unchecked JSON writes at a cursor (the
 * room is checked once per line, against TS_LINE_MAX) and the record seen
 * as a flow (struct ts_view, shape.c): who initiated it, which way bytes
 * went, whether it failed. Each shape says the same facts in its words.
 */
#ifndef TS_SHAPES_COMMON_H
#define TS_SHAPES_COMMON_H

#include <arpa/inet.h>
#include <string.h>

#include "json.h"
#include "put.h"
#include "shape.h"
#include "tcpship.h"

/* "s" JSON-escaped and quoted: at most 6 * n + 2 bytes */
static inline char *ts_put_jstr(char *p, const char *s, size_t n)
{
	*p++ = '"';
	p += ts_json_escape(p, s, n);
	*p++ = '"';
	return p;
}

/* key_lit then v then '"', for a v that needs no escaping */
static inline char *ts_put_kv(char *p, const char *key_lit, size_t key_len, const char *v)
{
	p = ts_put(p, key_lit, key_len);
	p = ts_put(p, v, strlen(v));
	*p++ = '"';
	return p;
}

#define TS_PUT_KV(p, lit, v) ts_put_kv(p, lit, sizeof(lit) - 1, v)

/* key_lit then the number */
#define TS_PUT_KU(p, lit, v) ts_put_u64(TS_PUTS(p, lit), v)

/* key_lit then s escaped and quoted, if s is set */
static inline char *ts_put_opt(char *p, const char *key_lit, size_t key_len, const char *s)
{
	if (!s)
		return p;
	p = ts_put(p, key_lit, key_len);
	return ts_put_jstr(p, s, strlen(s));
}

#define TS_PUT_OPT(p, lit, s) ts_put_opt(p, lit, sizeof(lit) - 1, s)

/* An address in presentation form (no quotes): at most 45 bytes. */
static inline char *ts_put_addr(char *p, unsigned family, const uint8_t *a)
{
	if (family == TS_IPV4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = ts_put_u64(p, a[i]);
		}
		return p;
	}
	/* inet_ntop writes its NUL inside the line's room; the next put covers it */
	inet_ntop(AF_INET6, a, p, INET6_ADDRSTRLEN);
	return p + strlen(p);
}

/* The JSON shapes' keys for what their schema has no field for (ECS's
 * tcpship.*, OCSF's unmapped): "probe":..,"netns":.. without braces. */
/* The most a DNS answer takes in a JSON line: two names of TS_QNAME_MAX,
 * each byte at worst 2 in JSON (presentation form is printable ASCII),
 * and the rest. The shapes stop listing answers when less is left. */
#define TS_ANSWER_ROOM (4 * TS_QNAME_MAX + 128)

/* A DNS answer's data as a JSON string: the address, or the CNAME's target. */
char *ts_put_answer_data(char *p, const struct ts_dns_answer *a);
char *ts_put_own(char *p, const struct ts_enc *e, const struct ts_view *v);

#endif
