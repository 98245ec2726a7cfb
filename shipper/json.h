/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * JSON string escaping, shared by the shapes and the sinks that build JSON
 * bodies: every control byte as \u00XX, invalid UTF-8 as U+FFFD, so a line
 * stays one valid JSON object whatever bytes the kernel handed over.
 */
#ifndef TS_JSON_H
#define TS_JSON_H

#include <stddef.h>

/* Append s[0..n) as the inside of a JSON string (no quotes) to out, which
 * must have room for 6 * n bytes. Returns the bytes written. */
size_t ts_json_escape(char *out, const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not one. The JSON
 * writer and the syslog sink both replace what is not one with U+FFFD. */
static inline size_t ts_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

#endif
