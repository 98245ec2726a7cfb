/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unchecked writes at a cursor, for writers that check the room once up
 * front (the shapes' encoders, the HTTP body formats). Each returns the
 * cursor past what it wrote.
 */
#ifndef TS_PUT_H
#define TS_PUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline char *ts_put(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define TS_PUTS(p, lit) ts_put(p, lit, sizeof(lit) - 1)

/* at most 20 bytes */
static inline char *ts_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int i = 20;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return ts_put(p, tmp + i, (size_t)(20 - i));
}

#endif
