// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hostile bytes: ts_json_escape() on every single byte and on the UTF-8
 * edge cases, then comm values a process can set with prctl(PR_SET_NAME)
 * encoded in a full line: exact escaped output, then the line parsed back
 * (json-c strict) and the comm decoded to the expected UTF-8.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "shape.h"
#include "line_check.h"
#include "tcpship.h"
#include "test.h"

#define FFFD "\xef\xbf\xbd"

/* Parse "{"s":"<escaped>"}\n" strictly and return the decoded s. */
static bool decode_escaped(const char *file, int line, const char *esc, size_t n, char *out,
			   size_t cap, size_t *out_len)
{
	char buf[512];
	struct json_object *obj;
	const char *s;
	char why[600];
	int k;

	k = snprintf(buf, sizeof(buf), "{\"s\":\"%.*s\"}\n", (int)n, esc);
	if (k < 0 || (size_t)k >= sizeof(buf))
		return ts_test_fail(file, line, "escaped text too long");
	if (!line_ok(buf, (size_t)k, LC_NO_SCHEMA, &obj, why, sizeof(why)))
		return ts_test_fail(file, line, "escaped output does not parse back: %s", why);
	s = lc_get_string(obj, "s", out_len);
	if (!s || *out_len > cap) {
		json_object_put(obj);
		return ts_test_fail(file, line, "no string member after parsing");
	}
	memcpy(out, s, *out_len);
	json_object_put(obj);
	return true;
}

/*
 * All 256 single bytes, against the rules spelled out independently here:
 * printable ASCII as is but '"' and '\', control bytes and DEL as \u00xx
 * (lower-case hex), every byte >= 0x80 alone is invalid UTF-8: U+FFFD.
 */
TEST(escape_all_single_bytes)
{
	for (unsigned b = 0; b < 256; b++) {
		char in = (char)b, out[16], want[8], dec[8];
		size_t n, wn, dn;

		memset(out, 0x5a, sizeof(out));
		if (b < 0x20 || b == 0x7f)
			wn = (size_t)snprintf(want, sizeof(want), "\\u%04x", b);
		else if (b == '"' || b == '\\')
			wn = (size_t)snprintf(want, sizeof(want), "\\%c", (char)b);
		else if (b < 0x80)
			wn = (size_t)snprintf(want, sizeof(want), "%c", (char)b);
		else
			wn = (size_t)snprintf(want, sizeof(want), FFFD);
		n = ts_json_escape(out, &in, 1);
		CHECKF(n <= 6, "byte 0x%02x: %zu bytes written for 1 (at most 6)", b, n);
		CHECKF((unsigned char)out[6] == 0x5a, "byte 0x%02x: wrote past 6 bytes", b);
		if (!ts_check_mem(__FILE__, __LINE__, "escape", out, n, want, wn)) {
			FAIL("... for byte 0x%02x", b);
			return;
		}
		/* and it means what it should */
		if (!decode_escaped(__FILE__, __LINE__, out, n, dec, sizeof(dec), &dn))
			return;
		if (b < 0x80)
			CHECKF(dn == 1 && (unsigned char)dec[0] == b, "byte 0x%02x decodes wrong", b);
		else
			CHECKF(dn == 3 && !memcmp(dec, FFFD, 3), "byte 0x%02x: not U+FFFD", b);
	}
}

/*
 * Sequences at the UTF-8 boundaries (RFC 3629 table 3-7): valid ones are
 * copied, every byte of an invalid one becomes one U+FFFD (the encoder
 * replaces byte by byte; "\xe2\x82" is two replacements, not one).
 */
TEST(escape_utf8_sequences)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
#define C(in, want) { in, sizeof(in) - 1, want }
		C("\xc2\x80", "\xc2\x80"),			/* U+0080 */
		C("\xdf\xbf", "\xdf\xbf"),			/* U+07FF */
		C("\xe0\xa0\x80", "\xe0\xa0\x80"),		/* U+0800 */
		C("\xed\x9f\xbf", "\xed\x9f\xbf"),		/* U+D7FF */
		C("\xee\x80\x80", "\xee\x80\x80"),		/* U+E000 */
		C("\xef\xbf\xbf", "\xef\xbf\xbf"),		/* U+FFFF */
		C("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"),	/* U+10000 */
		C("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),	/* U+10FFFF */
		C("\xe2\x82\xac", "\xe2\x82\xac"),		/* the euro sign */
		C("\xc0\xaf", FFFD FFFD),			/* overlong '/' */
		C("\xc1\xbf", FFFD FFFD),
		C("\xe0\x80\xaf", FFFD FFFD FFFD),		/* overlong, 3 bytes */
		C("\xe0\x9f\xbf", FFFD FFFD FFFD),
		C("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD),	/* overlong, 4 bytes */
		C("\xed\xa0\x80", FFFD FFFD FFFD),		/* U+D800 */
		C("\xed\xbf\xbf", FFFD FFFD FFFD),		/* U+DFFF */
		C("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD),	/* above U+10FFFF */
		C("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD),
		C("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD),
		C("\x80", FFFD),				/* lone continuation */
		C("\xbf\xbf", FFFD FFFD),
		C("\xc2", FFFD),				/* cut at the end */
		C("\xe2\x82", FFFD FFFD),
		C("\xf0\x9f\x98", FFFD FFFD FFFD),
		C("\xc2" "A", FFFD "A"),			/* cut by ASCII */
		C("\xe2\x82" "A", FFFD FFFD "A"),
		C("\xe2" "\"", FFFD "\\\""),
		C("a\0b", "a\\u0000b"),				/* NUL is data here */
		C("\xff\xfe", FFFD FFFD),
#undef C
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char out[64], q[64], dec[64];
		size_t n, dn;

		memset(out, 0x5a, sizeof(out));
		n = ts_json_escape(out, cases[i].in, cases[i].n);
		ts_test_quote(q, sizeof(q), cases[i].in, cases[i].n);
		CHECKF(n <= 6 * cases[i].n, "\"%s\": %zu bytes, more than 6 per input byte", q, n);
		CHECKF((unsigned char)out[6 * cases[i].n] == 0x5a, "\"%s\": wrote past 6n", q);
		if (!ts_check_mem(__FILE__, __LINE__, "escape", out, n, cases[i].want,
				  strlen(cases[i].want))) {
			FAIL("... for input \"%s\"", q);
			return;
		}
		CHECKF(utf8_valid(out, n), "\"%s\": output is not UTF-8", q);
		if (!decode_escaped(__FILE__, __LINE__, out, n, dec, sizeof(dec), &dn))
			return;
	}
}

/* ---- comm in a whole line ---- */

#define AGENT "0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f"

/*
 * A connect line whose comm holds raw[0..n) and NULs after it. saddr, the
 * field after comm in struct ts_hdr, is 90.90.90.90 ("ZZZZ"): a reader
 * running past the 16 bytes of comm would show Z's.
 */
static bool comm_case(const char *file, int line, const void *raw, size_t n,
		      const char *want_json, const void *want_utf8, size_t want_len,
		      const uint8_t saddr0, unsigned flags)
{
	static const uint8_t dst[4] = { 93, 184, 216, 34 };
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX], want[TS_LINE_MAX], sa[16];
	struct json_object *obj;
	const char *comm;
	size_t clen;
	int len, wl;
	bool ok;

	ts_enc_init(&e, "h1", AGENT);
	memset(&ev, 0, sizeof(ev));
	ev.h.size = sizeof(ev);
	ev.h.type = TS_CONNECT;
	ev.h.probe = TS_KPROBE;
	ev.h.family = TS_IPV4;
	ev.h.flags = TS_F_TASK | TS_F_SADDR;
	ev.h.pid = 1;
	ev.h.tid = 1;
	memcpy(ev.h.comm, raw, n);
	memset(ev.h.saddr, 'Z', 4);
	ev.h.saddr[0] = saddr0;
	memcpy(ev.h.daddr, dst, 4);
	ev.h.sport = 1;
	ev.h.dport = 2;
	snprintf(sa, sizeof(sa), "%u.90.90.90", saddr0);
	wl = snprintf(want, sizeof(want),
		      "{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"connect\",\"host\":\"h1\","
		      "\"seq\":1,\"agent_id\":\"" AGENT "\",\"pid\":1,\"tid\":1,\"uid\":0,"
		      "\"comm\":\"%s\",\"ppid\":0,\"family\":\"ipv4\",\"saddr\":\"%s\",\"sport\":1,"
		      "\"daddr\":\"93.184.216.34\",\"dport\":2,\"probe\":\"kprobe\"}\n",
		      want_json, sa);
	len = ts_encode_json(&e, &ev, sizeof(ev), 1, 1795686129123456789ULL, out, sizeof(out));
	if (len < 0)
		return ts_test_fail(file, line, "ts_encode_json returned %d", len);
	if (!ts_check_mem(file, line, "line", out, (size_t)len, want, (size_t)wl))
		return false;
	obj = line_check(file, line, out, (size_t)len, flags);
	if (!obj)
		return false;
	comm = lc_get_string(obj, "comm", &clen);
	ok = ts_check_mem(file, line, "decoded comm", comm, comm ? clen : 0, want_utf8, want_len);
	json_object_put(obj);
	return ok;
}

#define COMM(raw, want_json, want_utf8)						\
	do {									\
		if (!comm_case(__FILE__, __LINE__, raw, sizeof(raw) - 1, want_json,	\
			       want_utf8, sizeof(want_utf8) - 1, 90, 0))		\
			return;							\
	} while (0)

TEST(comm_quote_backslash)
{
	COMM("a\"b\\c", "a\\\"b\\\\c", "a\"b\\c");
	COMM("\"\"\\\\", "\\\"\\\"\\\\\\\\", "\"\"\\\\");
}

TEST(comm_newline)
{
	COMM("x\ny\r\t", "x\\u000ay\\u000d\\u0009", "x\ny\r\t");
	COMM("\n", "\\u000a", "\n");
}

TEST(comm_control_bytes)
{
	COMM("\x01\x1b[0m\x7f", "\\u0001\\u001b[0m\\u007f", "\x01\x1b[0m\x7f");
	COMM("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x1e\x1f",
	     "\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\u000b\\u000c\\u000e"
	     "\\u000f\\u0010\\u001e\\u001f",
	     "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x1e\x1f");
}

TEST(comm_lone_ff)
{
	COMM("\xff", FFFD, FFFD);
	COMM("a\xff" "b", "a" FFFD "b", "a" FFFD "b");
}

TEST(comm_truncated_multibyte)
{
	/* at the end of comm, and followed by ASCII */
	COMM("ab\xe2\x82", "ab" FFFD FFFD, "ab" FFFD FFFD);
	COMM("\xe2\x82" "z", FFFD FFFD "z", FFFD FFFD "z");
}

TEST(comm_overlong)
{
	COMM("\xc0\xaf", FFFD FFFD, FFFD FFFD);
	COMM("\xe0\x80\xaf", FFFD FFFD FFFD, FFFD FFFD FFFD);
}

TEST(comm_surrogate)
{
	COMM("\xed\xa0\x80", FFFD FFFD FFFD, FFFD FFFD FFFD);
	COMM("\xed\xb0\x80" "x", FFFD FFFD FFFD "x", FFFD FFFD FFFD "x");
}

TEST(comm_valid_utf8)
{
	COMM("caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80",
	     "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80");
	COMM("", "", "");
}

TEST(comm_15_bytes)
{
	COMM("abcdefghijklmno", "abcdefghijklmno", "abcdefghijklmno");
}

/*
 * The kernel's comm is 16 bytes with the NUL; the encoder must not trust
 * the NUL to be there: 16 bytes without one give the first 15, never the
 * 16th nor the Z's of saddr.
 */
TEST(comm_16_bytes_no_nul)
{
	if (!comm_case(__FILE__, __LINE__, "abcdefghijklmnop", 16, "abcdefghijklmno",
		       "abcdefghijklmno", 15, 90, 0))
		return;
}

/* a lead byte in the 16th position is not part of the name */
TEST(comm_utf8_cut_at_16)
{
	if (!comm_case(__FILE__, __LINE__, "aaaaaaaaaaaaaaa\xc3", 16, "aaaaaaaaaaaaaaa",
		       "aaaaaaaaaaaaaaa", 15, 0xa9, 0))
		return;
}

/* the longest escape for every byte of a 15-byte comm */
TEST(comm_all_escaped)
{
	char raw[16], json[128], *p = json;

	memset(raw, 0x01, 15);
	raw[15] = 0;
	for (int i = 0; i < 15; i++)
		p += snprintf(p, sizeof(json) - (size_t)(p - json), "\\u0001");
	if (!comm_case(__FILE__, __LINE__, raw, 15, json, raw, 15, 90, 0))
		return;
}
