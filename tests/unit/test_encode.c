// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Encoder golden tests: records built by hand, the expected line written out
 * here byte for byte, and every produced line put through line_check() (json-c
 * strict, UTF-8, control bytes, schemas/event.schema.json incl. key order).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shape.h"
#include "line_check.h"
#include "tcpship.h"
#include "test.h"

#define AGENT "0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f"

/*
 * 1795686129 s = day 20783 of the epoch + 34929 s. 1970..2025 are 56 years
 * with 14 leap days (1972..2024): 20454 days to 2026-01-01; 20783 - 20454 =
 * 329 = Jan..Oct (304) + 25, so Nov 26. 34929 s = 9 h 42 min 9 s.
 */
#define T_NS 1795686129123456789ULL
#define T_STR "2026-11-26T09:42:09.123456789Z"

/* pieces of the expected lines, in the schema's key order */
#define HEAD(type, seq)							\
	"{\"time\":\"" T_STR "\",\"type\":\"" type "\",\"host\":\"h1\",\"seq\":" seq \
	",\"agent_id\":\"" AGENT "\""
#define TASK ",\"pid\":4242,\"tid\":4243,\"uid\":1000,\"comm\":\"curl\",\"ppid\":4200"
#define FAM4 ",\"family\":\"ipv4\""
#define SRC4 ",\"saddr\":\"10.0.0.2\",\"sport\":51234"
#define DST4 ",\"daddr\":\"93.184.216.34\",\"dport\":443"
#define FAM6 ",\"family\":\"ipv6\""
#define SRC6 ",\"saddr\":\"2001:db8::2\",\"sport\":51234"
#define DST6 ",\"daddr\":\"2606:2800:220:1:248:1893:25c8:1946\",\"dport\":443"
#define KPROBE ",\"probe\":\"kprobe\""
#define TRACEPOINT ",\"probe\":\"tracepoint\""

static const uint8_t v4_src[4] = { 10, 0, 0, 2 };
static const uint8_t v4_dst[4] = { 93, 184, 216, 34 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t v6_dst[16] = { 0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
				    0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46 };

/* www.example.com A, RD set: 12 + 17 + 4 = 33 bytes */
static const uint8_t q_www_a[] = {
	0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
};

/*
 * Every field is filled whatever the flags say: the encoder must print pid,
 * comm, saddr... only when the flag vouches for them, and must take the time
 * from its time_ns argument, never from ts_ns.
 */
static void mk_hdr(struct ts_hdr *h, size_t size, unsigned type, unsigned family,
		   unsigned flags)
{
	h->ts_ns = 42;
	h->size = (__u16)size;
	h->type = (__u8)type;
	h->probe = TS_KPROBE;
	h->family = (__u8)family;
	h->flags = (__u16)flags;
	h->pid = 4242;
	h->tid = 4243;
	h->uid = 1000;
	h->ppid = 4200;
	memcpy(h->comm, "curl", 5);
	h->sport = 51234;
	h->dport = 443;
	if (family == TS_IPV4) {
		memcpy(h->saddr, v4_src, 4);
		memcpy(h->daddr, v4_dst, 4);
	} else {
		memcpy(h->saddr, v6_src, 16);
		memcpy(h->daddr, v6_dst, 16);
	}
}

static void mk_event(struct ts_event *ev, unsigned type, unsigned family, unsigned flags)
{
	memset(ev, 0, sizeof(*ev));
	mk_hdr(&ev->h, sizeof(*ev), type, family, flags);
}

static void mk_dns(struct ts_dns *d, unsigned family, unsigned flags, const void *payload,
		   size_t len, uint32_t total)
{
	memset(d, 0, sizeof(*d));
	mk_hdr(&d->h, sizeof(*d), TS_DNS, family, flags);
	d->h.sport = 40000;
	d->h.dport = 53;
	if (family == TS_IPV4) {
		static const uint8_t dst[4] = { 192, 0, 2, 53 };

		memcpy(d->h.daddr, dst, 4);
	}
	memcpy(d->payload, payload, len);
	d->len = (__u16)len;
	d->total = total;
}

static void enc_fixed(struct ts_enc *e)
{
	ts_enc_init(e, "h1", AGENT);
}

/* A line and room past TS_LINE_MAX for a canary. */
struct line {
	char buf[TS_LINE_MAX + 64];
	int len;
};

/* Encode with cap TS_LINE_MAX; nothing may be written past cap. */
static bool encode_raw(const char *file, int line, struct ts_enc *e, const void *rec,
		       size_t size, uint64_t seq, uint64_t t, struct line *l)
{
	memset(l->buf, 0xa5, sizeof(l->buf));
	l->len = ts_encode_json(e, rec, size, seq, t, l->buf, TS_LINE_MAX);
	if (l->len < 0)
		return ts_test_fail(file, line, "ts_encode_json returned %d", l->len);
	if (l->len >= TS_LINE_MAX)
		return ts_test_fail(file, line, "line of %d bytes, TS_LINE_MAX is %d", l->len,
				    TS_LINE_MAX);
	for (size_t i = TS_LINE_MAX; i < sizeof(l->buf); i++)
		if ((unsigned char)l->buf[i] != 0xa5)
			return ts_test_fail(file, line, "wrote past cap at byte %zu", i);
	return true;
}

/* Encode and put the line through line_check(); the parsed line goes to
 * *obj (to be put) when asked for. */
static bool encode_line(const char *file, int line, struct ts_enc *e, const void *rec,
			size_t size, uint64_t seq, uint64_t t, struct line *l, unsigned flags,
			struct json_object **obj)
{
	struct json_object *o;

	if (!encode_raw(file, line, e, rec, size, seq, t, l))
		return false;
	o = line_check(file, line, l->buf, (size_t)l->len, flags);
	if (!o)
		return false;
	if (obj)
		*obj = o;
	else
		json_object_put(o);
	return true;
}

/* Encode, compare with the expected line, then line_check() it. */
static bool json_eq(const char *file, int line, struct ts_enc *e, const void *rec, size_t size,
		    uint64_t seq, uint64_t t, const char *want)
{
	struct line l;
	struct json_object *obj;

	if (!encode_raw(file, line, e, rec, size, seq, t, &l))
		return false;
	/* the golden comparison first: its message says what is wrong */
	if (!ts_check_mem(file, line, "line", l.buf, (size_t)l.len, want, strlen(want)))
		return false;
	obj = line_check(file, line, l.buf, (size_t)l.len, 0);
	json_object_put(obj);
	return obj != NULL;
}

#define CHECK_JSON(e, rec, seq, t, want)					\
	do {									\
		if (!json_eq(__FILE__, __LINE__, (e), (rec), sizeof(*(rec)), (seq), (t), \
			     (want)))						\
			return;							\
	} while (0)

#define ENCODE(e, rec, seq, t, l, obj)						\
	do {									\
		if (!encode_line(__FILE__, __LINE__, (e), (rec), sizeof(*(rec)), (seq), \
				 (t), (l), 0, (obj)))				\
			return;							\
	} while (0)

/* ---- connect / accept ---- */

TEST(encode_connect_v4_golden)
{
	static const char want[] =
		"{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"connect\",\"host\":\"h1\","
		"\"seq\":1,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\",\"pid\":4242,"
		"\"tid\":4243,\"uid\":1000,\"comm\":\"curl\",\"ppid\":4200,\"family\":\"ipv4\","
		"\"saddr\":\"10.0.0.2\",\"sport\":51234,\"daddr\":\"93.184.216.34\","
		"\"dport\":443,\"probe\":\"kprobe\"}\n";
	struct ts_enc e;
	struct ts_event ev;

	/* the macros the other golden tests use spell this very line */
	CHECK_STR(HEAD("connect", "1") TASK FAM4 SRC4 DST4 KPROBE "}\n", want);
	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	CHECK_JSON(&e, &ev, 1, T_NS, want);
}

TEST(encode_connect_v6_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV6, TS_F_TASK | TS_F_SADDR);
	CHECK_JSON(&e, &ev, 2, T_NS, HEAD("connect", "2") TASK FAM6 SRC6 DST6 KPROBE "}\n");
}

TEST(encode_accept_v4_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_ACCEPT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.h.probe = TS_TRACEPOINT;
	ev.h.sport = 443;	/* the local side is the listener */
	ev.h.dport = 51234;
	CHECK_JSON(&e, &ev, 3, T_NS,
		   HEAD("accept", "3") TASK FAM4
		   ",\"saddr\":\"10.0.0.2\",\"sport\":443,\"daddr\":\"93.184.216.34\",\"dport\":51234"
		   TRACEPOINT "}\n");
}

TEST(encode_accept_v6_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_ACCEPT, TS_IPV6, TS_F_TASK | TS_F_SADDR);
	CHECK_JSON(&e, &ev, 4, T_NS, HEAD("accept", "4") TASK FAM6 SRC6 DST6 KPROBE "}\n");
}

/* ---- close ---- */

TEST(encode_close_v4_outbound_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV4,
		 TS_F_TASK | TS_F_SADDR | TS_F_ESTABLISHED | TS_F_START | TS_F_ACTIVE);
	ev.close.duration_ns = 1500000000;
	ev.close.bytes_sent = 1024;
	ev.close.bytes_received = 4096;
	ev.close.retransmits = 2;
	CHECK_JSON(&e, &ev, 10, T_NS,
		   HEAD("close", "10") TASK FAM4 SRC4 DST4 KPROBE
		   ",\"direction\":\"outbound\",\"established\":true,\"end_reason\":\"fin\",\"duration_ns\":1500000000,"
		   "\"bytes_sent\":1024,\"bytes_received\":4096,\"retransmits\":2}\n");
}

TEST(encode_close_v4_refused_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV4, TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ACTIVE);
	ev.close.duration_ns = 1000123;
	ev.close.error = ECONNREFUSED;
	CHECK_JSON(&e, &ev, 11, T_NS,
		   HEAD("close", "11") TASK FAM4 SRC4 DST4 KPROBE
		   ",\"direction\":\"outbound\",\"established\":false,\"error\":\"ECONNREFUSED\",\"end_reason\":\"refused\","
		   "\"duration_ns\":1000123,\"bytes_sent\":0,\"bytes_received\":0,"
		   "\"retransmits\":0}\n");
}

TEST(encode_close_v6_inbound_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV6, TS_F_TASK | TS_F_SADDR | TS_F_ESTABLISHED | TS_F_START);
	ev.close.duration_ns = 987654321012ULL;
	ev.close.bytes_sent = UINT64_MAX;
	ev.close.bytes_received = 1;
	ev.close.retransmits = UINT32_MAX;
	ev.close.error = ECONNRESET;
	ev.close.oldstate = 1;
	CHECK_JSON(&e, &ev, 12, T_NS,
		   HEAD("close", "12") TASK FAM6 SRC6 DST6 KPROBE
		   ",\"direction\":\"inbound\",\"established\":true,\"error\":\"ECONNRESET\",\"end_reason\":\"reset\","
		   "\"duration_ns\":987654321012,\"bytes_sent\":18446744073709551615,"
		   "\"bytes_received\":1,\"retransmits\":4294967295}\n");
}

/* no START: no direction (even with ACTIVE) and no duration; an errno
 * without a name; no task */
TEST(encode_close_no_start_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV4, TS_F_SADDR | TS_F_ACTIVE);
	ev.h.probe = TS_TRACEPOINT;
	ev.close.duration_ns = 777;
	ev.close.bytes_sent = 5;
	ev.close.bytes_received = 6;
	ev.close.retransmits = 1;
	ev.close.error = 4095;
	CHECK_JSON(&e, &ev, 13, T_NS,
		   HEAD("close", "13") FAM4 SRC4 DST4 TRACEPOINT
		   ",\"established\":false,\"error\":\"E4095\",\"end_reason\":\"error\",\"bytes_sent\":5,"
		   "\"bytes_received\":6,\"retransmits\":1}\n");
}

/* ---- retransmit ---- */

TEST(encode_retransmit_v4_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.h.state = 1;
	CHECK_JSON(&e, &ev, 14, T_NS,
		   HEAD("retransmit", "14") TASK FAM4 SRC4 DST4 KPROBE
		   ",\"state\":\"ESTABLISHED\"}\n");
}

TEST(encode_retransmit_v6_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV6, TS_F_TASK | TS_F_SADDR);
	ev.h.probe = TS_TRACEPOINT;
	ev.h.state = 2;
	CHECK_JSON(&e, &ev, 15, T_NS,
		   HEAD("retransmit", "15") TASK FAM6 SRC6 DST6 TRACEPOINT
		   ",\"state\":\"SYN_SENT\"}\n");
}

/* a state without a name is left out, not invented */
TEST(encode_retransmit_unknown_state)
{
	static const unsigned states[] = { 0, 14, 200, 255 };
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	for (size_t i = 0; i < ARRAY_LEN(states); i++) {
		mk_event(&ev, TS_RETRANSMIT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
		ev.h.state = (__u8)states[i];
		CHECK_JSON(&e, &ev, 16, T_NS,
			   HEAD("retransmit", "16") TASK FAM4 SRC4 DST4 KPROBE "}\n");
	}
}

/* softirq context: no task known */
TEST(encode_no_task_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV4, TS_F_SADDR);
	ev.h.state = 8;
	CHECK_JSON(&e, &ev, 17, T_NS,
		   HEAD("retransmit", "17") FAM4 SRC4 DST4 KPROBE ",\"state\":\"CLOSE_WAIT\"}\n");
}

/* ---- send / recv ---- */

TEST(encode_send_v4_latency_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_SEND, TS_IPV4, TS_F_TASK | TS_F_SADDR | TS_F_LATENCY);
	ev.io.bytes = 1448;
	ev.io.latency_ns = 250000;
	CHECK_JSON(&e, &ev, 18, T_NS,
		   HEAD("send", "18") TASK FAM4 SRC4 DST4 KPROBE
		   ",\"bytes\":1448,\"latency_ns\":250000}\n");
}

TEST(encode_send_v6_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_SEND, TS_IPV6, TS_F_TASK | TS_F_SADDR);
	ev.io.bytes = 65536;
	ev.io.latency_ns = 999;	/* not vouched for by TS_F_LATENCY */
	CHECK_JSON(&e, &ev, 19, T_NS,
		   HEAD("send", "19") TASK FAM6 SRC6 DST6 KPROBE ",\"bytes\":65536}\n");
}

TEST(encode_recv_v4_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_RECV, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	CHECK_JSON(&e, &ev, 20, T_NS,
		   HEAD("recv", "20") TASK FAM4 SRC4 DST4 KPROBE ",\"bytes\":0}\n");
}

TEST(encode_recv_v6_latency_golden)
{
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_RECV, TS_IPV6, TS_F_TASK | TS_F_SADDR | TS_F_LATENCY);
	ev.io.bytes = UINT64_MAX;
	ev.io.latency_ns = 1;
	CHECK_JSON(&e, &ev, 21, T_NS,
		   HEAD("recv", "21") TASK FAM6 SRC6 DST6 KPROBE
		   ",\"bytes\":18446744073709551615,\"latency_ns\":1}\n");
}

/* ---- dns ---- */

#define DNS_SRC4 ",\"saddr\":\"10.0.0.2\",\"sport\":40000"
#define DNS_DST4 ",\"daddr\":\"192.0.2.53\",\"dport\":53"

TEST(encode_dns_v4_golden)
{
	struct ts_enc e;
	struct ts_dns d;

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, q_www_a, sizeof(q_www_a), 33);
	CHECK_JSON(&e, &d, 22, T_NS,
		   HEAD("dns", "22") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE
		   ",\"direction\":\"query\",\"id\":48879,\"qname\":\"www.example.com\",\"qtype\":\"A\",\"bytes\":33}\n");
}

TEST(encode_dns_v6_aaaa_golden)
{
	static const uint8_t google[16] = { 0x20, 0x01, 0x48, 0x60, 0x48, 0x60, [14] = 0x88,
					    [15] = 0x88 };
	uint8_t q[sizeof(q_www_a)];
	struct ts_enc e;
	struct ts_dns d;

	memcpy(q, q_www_a, sizeof(q));
	q[sizeof(q) - 3] = 28;	/* qtype AAAA */
	enc_fixed(&e);
	/* the datagram was longer than what was captured (an EDNS record) */
	mk_dns(&d, TS_IPV6, TS_F_TASK | TS_F_SADDR, q, sizeof(q), 44);
	memcpy(d.h.daddr, google, 16);
	CHECK_JSON(&e, &d, 23, T_NS,
		   HEAD("dns", "23") TASK FAM6 ",\"saddr\":\"2001:db8::2\",\"sport\":40000"
		   ",\"daddr\":\"2001:4860:4860::8888\",\"dport\":53" KPROBE
		   ",\"direction\":\"query\",\"id\":48879,\"qname\":\"www.example.com\",\"qtype\":\"AAAA\",\"bytes\":44}\n");
}

/* not a query we can read: no qname/qtype, the size still counts */
TEST(encode_dns_garbage_golden)
{
	uint8_t junk[40];
	struct ts_enc e;
	struct ts_dns d;
	uint8_t resp[sizeof(q_www_a)];

	memset(junk, 0xff, sizeof(junk));
	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, junk, sizeof(junk), 40);
	CHECK_JSON(&e, &d, 24, T_NS,
		   HEAD("dns", "24") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE ",\"direction\":\"query\",\"bytes\":40}\n");

	/* well formed but a response (QR set) */
	memcpy(resp, q_www_a, sizeof(resp));
	resp[2] |= 0x80;
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, resp, sizeof(resp), 33);
	CHECK_JSON(&e, &d, 24, T_NS,
		   HEAD("dns", "24") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE ",\"direction\":\"query\",\"bytes\":33}\n");

	/* an empty payload */
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, junk, 0, 0);
	CHECK_JSON(&e, &d, 24, T_NS,
		   HEAD("dns", "24") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE ",\"direction\":\"query\",\"bytes\":0}\n");
}

/* an unbound socket: the source is not known yet */
TEST(encode_dns_no_saddr_golden)
{
	struct ts_enc e;
	struct ts_dns d;

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK, q_www_a, sizeof(q_www_a), 33);
	CHECK_JSON(&e, &d, 25, T_NS,
		   HEAD("dns", "25") TASK FAM4 DNS_DST4 KPROBE
		   ",\"direction\":\"query\",\"id\":48879,\"qname\":\"www.example.com\",\"qtype\":\"A\",\"bytes\":33}\n");
}

/* RFC 1035 escapes inside JSON escapes: both layers must survive */
TEST(encode_dns_escaped_qname_golden)
{
	static const uint8_t q[] = {
		0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'a', '.', 'b', 5, 'x', '"', 'y', '\\', 'z', 2, 0x00, 0xff, 0,
		0x00, 0x63, 0x00, 0x01,	/* qtype 99 */
	};
	static const char want[] = "a\\.b.x\\\"y\\\\z.\\000\\255";
	struct ts_enc e;
	struct ts_dns d;
	struct json_object *obj;
	struct line l;
	const char *qname;
	size_t len;
	bool ok;

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, q, sizeof(q), sizeof(q));
	/* presentation a\.b.x\"y\\z.\000\255, then each '\' and '"' JSON-escaped */
	CHECK_JSON(&e, &d, 26, T_NS,
		   HEAD("dns", "26") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE
		   ",\"direction\":\"query\",\"id\":1,\"qname\":\"a\\\\.b.x\\\\\\\"y\\\\\\\\z.\\\\000\\\\255\",\"qtype\":\"TYPE99\","
		   "\"bytes\":30}\n");
	/* and a JSON reader gets the presentation form back */
	ENCODE(&e, &d, 26, T_NS, &l, &obj);
	qname = lc_get_string(obj, "qname", &len);
	ok = ts_check_mem(__FILE__, __LINE__, "decoded qname", qname, qname ? len : 0, want,
			  sizeof(want) - 1);
	json_object_put(obj);
	CHECK(ok);
}

/* len is clamped to the payload; a capture cut short hides the question */
TEST(encode_dns_len_clamped)
{
	struct ts_enc e;
	struct ts_dns d;

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR | TS_F_TRUNC, q_www_a, sizeof(q_www_a), 1500);
	d.len = 0xffff;
	CHECK_JSON(&e, &d, 27, T_NS,
		   HEAD("dns", "27") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE
		   ",\"direction\":\"query\",\"id\":48879,\"qname\":\"www.example.com\",\"qtype\":\"A\",\"bytes\":1500}\n");
	d.len = 20;	/* inside "example" */
	CHECK_JSON(&e, &d, 27, T_NS,
		   HEAD("dns", "27") TASK FAM4 DNS_SRC4 DNS_DST4 KPROBE ",\"direction\":\"query\",\"bytes\":1500}\n");
}

/* ---- numbers and addresses at their limits ---- */

TEST(encode_max_values_golden)
{
	static const uint8_t all[4] = { 255, 255, 255, 255 };
	struct ts_enc e;
	struct ts_event ev;

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.h.pid = ev.h.tid = ev.h.uid = ev.h.ppid = UINT32_MAX;
	memset(ev.h.comm, 0, sizeof(ev.h.comm));
	ev.h.sport = 65535;
	ev.h.dport = 0;
	memcpy(ev.h.saddr, all, 4);
	memset(ev.h.daddr, 0, 4);
	CHECK_JSON(&e, &ev, UINT64_MAX, T_NS,
		   "{\"time\":\"" T_STR "\",\"type\":\"connect\",\"host\":\"h1\","
		   "\"seq\":18446744073709551615,\"agent_id\":\"" AGENT "\","
		   "\"pid\":4294967295,\"tid\":4294967295,\"uid\":4294967295,\"comm\":\"\","
		   "\"ppid\":4294967295,"
		   "\"family\":\"ipv4\",\"saddr\":\"255.255.255.255\",\"sport\":65535,"
		   "\"daddr\":\"0.0.0.0\",\"dport\":0,\"probe\":\"kprobe\"}\n");
}

TEST(encode_ipv6_forms)
{
	static const struct {
		uint8_t a[16];
		const char *text;
	} cases[] = {
		{ { [15] = 1 }, "::1" },
		{ { 0 }, "::" },
		{ { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 }, "::ffff:192.0.2.1" },
		{ { 0xfe, 0x80, [13] = 1, [15] = 2 }, "fe80::1:2" },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff }, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	struct ts_enc e;
	struct ts_event ev;
	char want[512];

	enc_fixed(&e);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		mk_event(&ev, TS_CONNECT, TS_IPV6, TS_F_TASK | TS_F_SADDR);
		memcpy(ev.h.saddr, cases[i].a, 16);
		memcpy(ev.h.daddr, cases[i].a, 16);
		snprintf(want, sizeof(want),
			 HEAD("connect", "28") TASK FAM6
			 ",\"saddr\":\"%s\",\"sport\":51234,\"daddr\":\"%s\",\"dport\":443" KPROBE "}\n",
			 cases[i].text, cases[i].text);
		CHECK_JSON(&e, &ev, 28, T_NS, want);
	}
}

/* the host is escaped once, at init, and cut at 64 bytes */
TEST(encode_host_escaped)
{
	char host[80], want[128];
	struct ts_enc e;
	struct ts_event ev;
	struct line l;
	struct json_object *obj;
	const char *h;
	size_t len;
	bool ok;

	memset(host, 'x', sizeof(host));
	memcpy(host, "a\"b\\c\nd", 7);
	host[70] = 0;
	ts_enc_init(&e, host, AGENT);
	/* the 7 bytes above escaped, then 57 of the x's: 64 bytes in all */
	snprintf(want, sizeof(want), "a\\\"b\\\\c\\u000ad%.57s", host + 7);
	CHECK_STR(e.host, want);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ENCODE(&e, &ev, 1, T_NS, &l, &obj);
	h = lc_get_string(obj, "host", &len);
	ok = ts_check_mem(__FILE__, __LINE__, "decoded host", h, h ? len : 0, host, 64);
	json_object_put(obj);
	CHECK(ok);

	/* cut in the middle of a UTF-8 sequence: U+FFFD, never half a character */
	memset(host, 'h', 63);
	memcpy(host + 63, "\xc3\xa9", 3);
	ts_enc_init(&e, host, AGENT);
	CHECK_U64(e.host_len, 66);
	CHECK_MEM(e.host + 63, 3, "\xef\xbf\xbd", 3);
}

/* ---- time ---- */

/* The time member of an encoded line: the 30 bytes after {"time":" */
static bool time_is(const char *file, int line, struct ts_enc *e, uint64_t t, const char *want)
{
	struct ts_event ev;
	struct line l;
	char tbuf[32];

	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	if (!encode_line(file, line, e, &ev, sizeof(ev), 1, t, &l, 0, NULL))
		return false;
	if (strncmp(l.buf, "{\"time\":\"", 9) || l.buf[39] != '"')
		return ts_test_fail(file, line, "line does not start with a 30-byte time");
	if (!ts_check_mem(file, line, "time", l.buf + 9, 30, want, strlen(want)))
		return false;
	/* ts_format_time itself: the same 30 bytes and a NUL */
	memset(tbuf, 0x5a, sizeof(tbuf));
	ts_format_time(e, t, tbuf);
	if (tbuf[30] != 0 || tbuf[31] != 0x5a)
		return ts_test_fail(file, line, "ts_format_time: no NUL at 30 or wrote past it");
	return ts_check_str(file, line, "ts_format_time", tbuf, want);
}

#define CHECK_TIME(e, t, want)							\
	do {									\
		if (!time_is(__FILE__, __LINE__, (e), (t), (want)))		\
			return;							\
	} while (0)

TEST(encode_time_golden)
{
	struct ts_enc e;

	enc_fixed(&e);
	CHECK_TIME(&e, T_NS, T_STR);
}

/* 1795651200 = 20783 * 86400: midnight of the same day */
TEST(encode_time_first_second_of_day)
{
	struct ts_enc e;

	enc_fixed(&e);
	CHECK_TIME(&e, 1795651200000000007ULL, "2026-11-26T00:00:00.000000007Z");
	CHECK_TIME(&e, 1795651200000000000ULL, "2026-11-26T00:00:00.000000000Z");
	CHECK_TIME(&e, 1795651199999999999ULL, "2026-11-25T23:59:59.999999999Z");
	CHECK_TIME(&e, 1795651200999999999ULL, "2026-11-26T00:00:00.999999999Z");
}

/* The "YYYY-MM-DDTHH:MM:SS" prefix is cached per second: same second,
 * next second, back to the earlier one, far away, and through the text
 * encoder, which shares the cache. */
TEST(encode_time_cached_second)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	CHECK_TIME(&e, 1795686129123456789ULL, "2026-11-26T09:42:09.123456789Z");
	CHECK_TIME(&e, 1795686129000000000ULL, "2026-11-26T09:42:09.000000000Z");
	CHECK_TIME(&e, 1795686129999999999ULL, "2026-11-26T09:42:09.999999999Z");
	CHECK_TIME(&e, 1795686130000000000ULL, "2026-11-26T09:42:10.000000000Z");
	CHECK_TIME(&e, 1795686129500000000ULL, "2026-11-26T09:42:09.500000000Z");
	CHECK_TIME(&e, 1709251199999999999ULL, "2024-02-29T23:59:59.999999999Z");
	CHECK_TIME(&e, 1709251200000000001ULL, "2024-03-01T00:00:00.000000001Z");
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	CHECK(ts_encode_text(&e, &ev, sizeof(ev), 1795686130000000000ULL, out, sizeof(out)) > 0);
	CHECK(!strncmp(out, "09:42:10.000 ", 13));
	CHECK_TIME(&e, 1795686130000000003ULL, "2026-11-26T09:42:10.000000003Z");
	CHECK_TIME(&e, 1709251200000000002ULL, "2024-03-01T00:00:00.000000002Z");
}

TEST(encode_time_edges)
{
	struct ts_enc e;

	enc_fixed(&e);
	CHECK_TIME(&e, 0, "1970-01-01T00:00:00.000000000Z");
	CHECK_TIME(&e, 951782400000000000ULL, "2000-02-29T00:00:00.000000000Z");
	CHECK_TIME(&e, 4107542399999999999ULL, "2100-02-28T23:59:59.999999999Z");
	CHECK_TIME(&e, 4107542400000000000ULL, "2100-03-01T00:00:00.000000000Z");
	CHECK_TIME(&e, UINT64_MAX, "2554-07-21T23:34:33.709551615Z");
}

/* ---- malformed records and small buffers ---- */

TEST(encode_malformed_short)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];
	static const size_t sizes[] = { 0, 1, sizeof(struct ts_hdr) - 1, sizeof(struct ts_hdr),
					sizeof(struct ts_event) - 1 };

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		CHECKF(ts_encode_json(&e, &ev, sizes[i], 1, T_NS, out, sizeof(out)) == -EINVAL,
		       "json: size %zu not refused", sizes[i]);
		CHECKF(ts_encode_text(&e, &ev, sizes[i], T_NS, out, sizeof(out)) == -EINVAL,
		       "text: size %zu not refused", sizes[i]);
	}
	/* exactly the size, and more (a newer kernel side may append) */
	CHECK(ts_encode_json(&e, &ev, sizeof(ev), 1, T_NS, out, sizeof(out)) > 0);
}

TEST(encode_malformed_type)
{
	static const unsigned types[] = { 0, TS_TYPE_MAX, 9, 100, 255 };
	struct ts_enc e;
	struct ts_dns d;	/* the largest record: no type is short of bytes */
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, q_www_a, sizeof(q_www_a), 33);
		d.h.type = (__u8)types[i];
		CHECKF(ts_encode_json(&e, &d, sizeof(d), 1, T_NS, out, sizeof(out)) == -EINVAL,
		       "json: type %u not refused", types[i]);
		CHECKF(ts_encode_text(&e, &d, sizeof(d), T_NS, out, sizeof(out)) == -EINVAL,
		       "text: type %u not refused", types[i]);
	}
}

TEST(encode_malformed_family)
{
	/* 10 is AF_INET6: the ABI has its own numbering */
	static const unsigned fams[] = { 0, 3, 10, 255 };
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	for (size_t i = 0; i < ARRAY_LEN(fams); i++) {
		mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
		ev.h.family = (__u8)fams[i];
		CHECKF(ts_encode_json(&e, &ev, sizeof(ev), 1, T_NS, out, sizeof(out)) == -EINVAL,
		       "json: family %u not refused", fams[i]);
		CHECKF(ts_encode_text(&e, &ev, sizeof(ev), T_NS, out, sizeof(out)) == -EINVAL,
		       "text: family %u not refused", fams[i]);
	}
}

TEST(encode_malformed_dns_short)
{
	struct ts_enc e;
	struct ts_dns d;
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK | TS_F_SADDR, q_www_a, sizeof(q_www_a), 33);
	/* a dns record the size of an event, or one byte short of its own */
	CHECK_INT(ts_encode_json(&e, &d, sizeof(struct ts_event), 1, T_NS, out, sizeof(out)),
		  -EINVAL);
	CHECK_INT(ts_encode_json(&e, &d, sizeof(d) - 1, 1, T_NS, out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_encode_text(&e, &d, sizeof(d) - 1, T_NS, out, sizeof(out)), -EINVAL);
	CHECK(ts_encode_json(&e, &d, sizeof(d), 1, T_NS, out, sizeof(out)) > 0);
}

TEST(encode_nospace)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	memset(out, 0x5a, sizeof(out));
	CHECK_INT(ts_encode_json(&e, &ev, sizeof(ev), 1, T_NS, out, TS_LINE_MAX - 1), -ENOSPC);
	CHECK_INT(ts_encode_json(&e, &ev, sizeof(ev), 1, T_NS, out, 0), -ENOSPC);
	CHECK_INT(ts_encode_text(&e, &ev, sizeof(ev), T_NS, out, TS_LINE_MAX - 1), -ENOSPC);
	/* the room is checked before the record: no partial line is left */
	CHECK_INT(ts_encode_json(&e, &ev, 3, 1, T_NS, out, 100), -ENOSPC);
	for (size_t i = 0; i < sizeof(out); i++)
		CHECKF((unsigned char)out[i] == 0x5a, "byte %zu written on -ENOSPC", i);
	CHECK(ts_encode_json(&e, &ev, sizeof(ev), 1, T_NS, out, TS_LINE_MAX) > 0);
}

/* The longest line the ABI allows (control-byte host, comm and qname,
 * widest numbers and addresses) still fits TS_LINE_MAX. */
TEST(encode_worst_case_fits)
{
	uint8_t q[12 + 255 + 4];
	char host[65];
	size_t off = 12;
	struct ts_enc e;
	struct ts_dns d;
	struct line l;
	static const unsigned labels[] = { 63, 63, 63, 61 };	/* 255 wire bytes */

	memset(host, 0x01, 64);
	host[64] = 0;
	ts_enc_init(&e, host, AGENT);
	memset(q, 0, sizeof(q));
	q[5] = 1;
	for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
		q[off++] = (uint8_t)labels[i];
		off += labels[i];	/* 0x00 bytes: "\000", then "\\000" in JSON */
	}
	q[off++] = 0;
	q[off++] = 0xff;
	q[off++] = 0xff;
	q[off++] = 0;
	q[off++] = 1;
	mk_dns(&d, TS_IPV6, TS_F_TASK | TS_F_SADDR, q, off, UINT32_MAX);
	memset(d.h.comm, 0x01, 15);
	d.h.pid = d.h.tid = d.h.uid = UINT32_MAX;
	memset(d.h.saddr, 0xff, 16);
	memset(d.h.daddr, 0xff, 16);
	d.h.sport = d.h.dport = 65535;
	ENCODE(&e, &d, UINT64_MAX, UINT64_MAX, &l, NULL);
	/* 384 (host) + 90 (comm) + 1268 (qname) + the rest: about 2 KiB */
	CHECKF(l.len > 1900 && l.len < TS_LINE_MAX, "worst-case line is %d bytes", l.len);
	CHECK(memmem(l.buf, (size_t)l.len, "\"qtype\":\"TYPE65535\"", 19));
}

/* ---- --format text ---- */

/* split on runs of spaces; the line's '\n' is removed */
static int split(char *s, char **tok, int max)
{
	int n = 0;
	char *save = NULL;

	s[strcspn(s, "\n")] = 0;
	for (char *t = strtok_r(s, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	return n;
}

static bool text_of(const char *file, int line, struct ts_enc *e, const void *rec, size_t size,
		    char *out)
{
	int n = ts_encode_text(e, rec, size, T_NS, out, TS_LINE_MAX);

	if (n < 0)
		return ts_test_fail(file, line, "ts_encode_text returned %d", n);
	if ((size_t)n != strlen(out) || out[n - 1] != '\n' || memchr(out, '\n', (size_t)n - 1))
		return ts_test_fail(file, line, "not one line of %d bytes ending in \\n", n);
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			return ts_test_fail(file, line, "byte 0x%02x at %d in a text row",
					    (unsigned char)out[i], i);
	return true;
}

#define TEXT_OF(e, rec, out)							\
	do {									\
		if (!text_of(__FILE__, __LINE__, (e), (rec), sizeof(*(rec)), (out)))	\
			return;							\
	} while (0)

TEST(encode_text_connect_v4)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX], *tok[17];

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	TEXT_OF(&e, &ev, out);
	CHECK_INT(split(out, tok, 16), 8);
	CHECK_STR(tok[0], "09:42:09.123");
	CHECK_STR(tok[1], "connect");
	CHECK_STR(tok[2], "4242");
	CHECK_STR(tok[3], "1000");
	CHECK_STR(tok[4], "curl");
	CHECK_STR(tok[5], "-");	/* no identity: no container column */
	CHECK_STR(tok[6], "10.0.0.2:51234");
	CHECK_STR(tok[7], "93.184.216.34:443");
}

TEST(encode_text_close_v6)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX], *tok[17];

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV6, TS_F_SADDR | TS_F_ESTABLISHED | TS_F_START);
	ev.close.duration_ns = 1500000000;
	ev.close.bytes_sent = 1024;
	ev.close.bytes_received = 4096;
	ev.close.retransmits = 2;
	ev.close.error = ECONNRESET;
	TEXT_OF(&e, &ev, out);
	CHECK_INT(split(out, tok, 16), 14);
	CHECK_STR(tok[1], "close");
	CHECK_STR(tok[2], "-");	/* no task: pid, uid, comm unknown */
	CHECK_STR(tok[3], "-");
	CHECK_STR(tok[4], "-");
	CHECK_STR(tok[6], "[2001:db8::2]:51234");
	CHECK_STR(tok[7], "[2606:2800:220:1:248:1893:25c8:1946]:443");
	CHECK_STR(tok[8], "dur=1500.000ms");
	CHECK_STR(tok[9], "tx=1024");
	CHECK_STR(tok[10], "rx=4096");
	CHECK_STR(tok[11], "retrans=2");
	CHECK_STR(tok[12], "end=reset");
	CHECK_STR(tok[13], "err=ECONNRESET");
}

TEST(encode_text_close_refused)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];

	enc_fixed(&e);
	mk_event(&ev, TS_CLOSE, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.close.error = ECONNREFUSED;
	TEXT_OF(&e, &ev, out);
	CHECK(strstr(out, " tx=0 rx=0 retrans=0 end=refused not-established err=ECONNREFUSED\n"));
	CHECK(!strstr(out, "dur="));
}

TEST(encode_text_send_latency)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX], *tok[17];

	enc_fixed(&e);
	mk_event(&ev, TS_SEND, TS_IPV4, TS_F_TASK | TS_F_SADDR | TS_F_LATENCY);
	ev.io.bytes = 1448;
	ev.io.latency_ns = 250000;
	TEXT_OF(&e, &ev, out);
	CHECK_INT(split(out, tok, 16), 10);
	CHECK_STR(tok[1], "send");
	CHECK_STR(tok[8], "bytes=1448");
	CHECK_STR(tok[9], "lat=0.250ms");
}

TEST(encode_text_dns)
{
	struct ts_enc e;
	struct ts_dns d;
	char out[TS_LINE_MAX], *tok[17];

	enc_fixed(&e);
	mk_dns(&d, TS_IPV4, TS_F_TASK, q_www_a, sizeof(q_www_a), 33);
	TEXT_OF(&e, &d, out);
	CHECK_INT(split(out, tok, 16), 10);
	CHECK_STR(tok[1], "dns");
	CHECK_STR(tok[6], "-");	/* source not known */
	CHECK_STR(tok[7], "192.0.2.53:53");
	CHECK_STR(tok[8], "A");
	CHECK_STR(tok[9], "www.example.com");
}

/* a terminal gets no control bytes (nor half characters) from a comm */
TEST(encode_text_hostile_comm)
{
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX], *tok[17];

	enc_fixed(&e);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	memcpy(ev.h.comm, "a\nb\x1b[31m\xc3\xa9\x7f", 12);
	TEXT_OF(&e, &ev, out);
	CHECK_INT(split(out, tok, 16), 8);
	CHECK_STR(tok[4], "a?b?[31m???");
	/* 16 bytes without a NUL: the column holds 15 */
	memcpy(ev.h.comm, "abcdefghijklmnop", 16);
	TEXT_OF(&e, &ev, out);
	CHECK_INT(split(out, tok, 16), 8);
	CHECK_STR(tok[4], "abcdefghijklmno");
}

/*
 * The header names each column where the rows print it. Positions are
 * taken from a row whose fields hold no spaces (a retransmit).
 */
TEST(encode_text_header_aligned)
{
	static const char *const names[] = { "TIME", "TYPE", "PID", "UID", "COMM", "CONTAINER",
					     "SOURCE",
					     "DESTINATION", "DETAIL" };
	const char *hdr = ts_text_header();
	struct ts_enc e;
	struct ts_event ev;
	char out[TS_LINE_MAX];
	size_t col = 0, pos = 0;

	enc_fixed(&e);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.h.state = 1;
	TEXT_OF(&e, &ev, out);
	CHECK(hdr[strlen(hdr) - 1] == '\n');
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *h = strstr(hdr, names[i]);

		CHECKF(h, "header has no %s", names[i]);
		/* the start of the next field of the row */
		while (out[pos] == ' ')
			pos++;
		col = pos;
		while (out[pos] && out[pos] != ' ' && out[pos] != '\n')
			pos++;
		CHECKF((size_t)(h - hdr) == col,
		       "column %s starts at %zu in the header but at %zu in the rows (\"%.*s\")",
		       names[i], (size_t)(h - hdr), col, (int)(pos - col), out + col);
	}
}
