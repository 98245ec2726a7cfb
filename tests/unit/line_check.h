/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every line the encoder produces in these tests goes through line_check():
 * the promises of encode.h (one JSON object, one '\n' at the very end, no
 * raw control byte, valid UTF-8) and of schemas/event.schema.json (keys,
 * their order, their types and patterns), checked by code that shares
 * nothing with the encoder.
 */
#ifndef TS_LINE_CHECK_H
#define TS_LINE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

enum {
	LC_NO_SCHEMA = 1 << 0,	/* syntax only: for lines the schema may refuse */
};

/* The parsed line (json_object_put() it), or NULL after ts_test_fail(). */
struct json_object *line_check(const char *file, int line, const char *buf, size_t len,
			       unsigned flags);

/* The same without failing the test: false and the reason in why. */
bool line_ok(const char *buf, size_t len, unsigned flags, struct json_object **out, char *why,
	     size_t cap);

/* RFC 3629 UTF-8, written independently of the encoder's own checker. */
bool utf8_valid(const void *s, size_t n);
/* code points in valid UTF-8 */
size_t utf8_count(const void *s, size_t n);

/* the string member `key` of obj, its length in *len; NULL if absent */
const char *lc_get_string(struct json_object *obj, const char *key, size_t *len);

#endif
