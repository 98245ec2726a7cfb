/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Record -> one line. Pure: no I/O, no allocation, no global state; the
 * caller owns every buffer. The JSON writer places its own commas, escapes
 * every control byte as \u00XX and replaces invalid UTF-8 with U+FFFD, so a
 * line is one valid JSON object whatever bytes the kernel handed over.
 */
#ifndef TS_ENCODE_H
#define TS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* No line is longer than this (the worst case is ~2.5 KiB: a 253-byte
 * qname of unprintable bytes and a hostile 15-byte comm). */
#define TS_LINE_MAX 4096

struct ts_enc {
	char host[64 * 6 + 1];	/* already JSON-escaped */
	size_t host_len;
	char agent_id[40];
	/* the "YYYY-MM-DDTHH:MM:SS" of the last second seen */
	int64_t cached_sec;
	char cached_prefix[24];
};

void ts_enc_init(struct ts_enc *e, const char *host, const char *agent_id);

/* One record as a JSON line ending in '\n'. Returns its length, -ENOSPC if
 * cap < TS_LINE_MAX, -EINVAL if the record is malformed (unknown type, size
 * smaller than its type needs). time_ns is wall-clock (CLOCK_REALTIME). */
int ts_encode_json(struct ts_enc *e, const void *rec, size_t size, uint64_t seq,
		   uint64_t time_ns, char *out, size_t cap);

/* The same record as one row of the human table (--format text). */
int ts_encode_text(struct ts_enc *e, const void *rec, size_t size, uint64_t time_ns,
		   char *out, size_t cap);
const char *ts_text_header(void);

/* Append s[0..n) as the inside of a JSON string (no quotes) to out, which
 * must have room for 6 * n bytes. Returns the bytes written. */
size_t ts_json_escape(char *out, const char *s, size_t n);

/* RFC 3339 UTC with nanoseconds: 30 bytes + NUL */
void ts_format_time(struct ts_enc *e, uint64_t time_ns, char out[32]);

const char *ts_type_name(unsigned type);
/* "connect" -> TS_CONNECT, 0 if unknown */
unsigned ts_type_from_name(const char *name);

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
