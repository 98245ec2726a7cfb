// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The checker every encoder test relies on must be able to say no: a good
 * line passes, and each kind of damage is caught (syntax, bytes, UTF-8,
 * schema keys, order, types, ranges, patterns).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "line_check.h"
#include "test.h"

#define GOOD_HEAD								\
	"{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"connect\",\"host\":\"h1\","	\
	"\"seq\":1,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\""
#define GOOD_TAIL								\
	",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\",\"sport\":51234,"		\
	"\"daddr\":\"93.184.216.34\",\"dport\":443,\"probe\":\"kprobe\"}\n"
#define GOOD_TASK ",\"pid\":4242,\"tid\":4243,\"uid\":1000,\"comm\":\"curl\",\"ppid\":1"

static bool ok(const char *s, unsigned flags, char *why, size_t cap)
{
	return line_ok(s, strlen(s), flags, NULL, why, cap);
}

TEST(line_check_accepts_good)
{
	static const char *const good[] = {
		GOOD_HEAD GOOD_TASK GOOD_TAIL,
		"{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"close\",\"host\":\"h1\","
		"\"seq\":9,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\",\"family\":\"ipv6\","
		"\"saddr\":\"::1\",\"sport\":1,\"daddr\":\"::1\",\"dport\":2,\"probe\":\"tracepoint\","
		"\"established\":false,\"error\":\"E4095\",\"end_reason\":\"error\","
		"\"bytes_sent\":18446744073709551615,"
		"\"bytes_received\":0,\"retransmits\":0}\n",
		"{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"dns\",\"host\":\"h1\","
		"\"seq\":9,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\"" GOOD_TASK
		",\"family\":\"ipv4\",\"daddr\":\"1.1.1.1\",\"dport\":53,\"probe\":\"kprobe\","
		"\"direction\":\"query\",\"id\":0,\"qname\":\".\",\"qtype\":\"TYPE99\",\"bytes\":17}\n",
	};
	char why[600];

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		CHECKF(ok(good[i], 0, why, sizeof(why)), "good line %zu refused: %s", i, why);
}

TEST(line_check_rejects_bad)
{
	static const struct {
		const char *what, *line;
	} bad[] = {
		{ "no newline", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"}" },
		{ "two lines", GOOD_HEAD GOOD_TASK GOOD_TAIL "{}\n" },
		{ "raw tab", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1,\"comm\":\"a\tb\"" ",\"ppid\":1" GOOD_TAIL },
		{ "raw DEL", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1,\"comm\":\"a\x7f\"" ",\"ppid\":1" GOOD_TAIL },
		{ "invalid UTF-8", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1,\"comm\":\"\xff\"" ",\"ppid\":1" GOOD_TAIL },
		{ "surrogate", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1,\"comm\":\"\xed\xa0\x80\"" ",\"ppid\":1"
		  GOOD_TAIL },
		{ "trailing junk", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"} x\n" },
		{ "trailing comma", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\",}\n" },
		{ "not an object", "[1,2]\n" },
		{ "key order", GOOD_HEAD ",\"tid\":4243,\"pid\":4242,\"uid\":1000,\"comm\":\"curl\",\"ppid\":1"
		  GOOD_TAIL },
		{ "unknown key", GOOD_HEAD GOOD_TASK ",\"extra\":1" GOOD_TAIL },
		{ "missing key", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1}\n" },
		{ "port range", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":65536,\"probe\":\"kprobe\"}\n" },
		{ "negative", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":-1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"}\n" },
		{ "string port", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":\"1\",\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"}\n" },
		{ "ipv4 pattern", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.256\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"}\n" },
		{ "v6 address in v4", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"::1\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"kprobe\"}\n" },
		{ "time pattern", "{\"time\":\"2026-11-26 09:42:09.123456789Z\",\"type\":\"connect\","
		  "\"host\":\"h1\",\"seq\":1,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\""
		  GOOD_TASK GOOD_TAIL },
		{ "seq 0", "{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"connect\","
		  "\"host\":\"h1\",\"seq\":0,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\""
		  GOOD_TASK GOOD_TAIL },
		{ "unknown type", "{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"bogus\","
		  "\"host\":\"h1\",\"seq\":1,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\""
		  GOOD_TASK GOOD_TAIL },
		{ "comm too long", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1,"
		  "\"comm\":\"abcdefghijklmnop\"" ",\"ppid\":1" GOOD_TAIL },
		{ "pid without comm", GOOD_HEAD ",\"pid\":1,\"tid\":1,\"uid\":1" GOOD_TAIL },
		{ "probe unknown", GOOD_HEAD GOOD_TASK ",\"family\":\"ipv4\",\"saddr\":\"10.0.0.2\","
		  "\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":1,\"probe\":\"unknown\"}\n" },
		{ "close boolean", "{\"time\":\"2026-11-26T09:42:09.123456789Z\",\"type\":\"close\","
		  "\"host\":\"h1\",\"seq\":9,\"agent_id\":\"0f8e2a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f\","
		  "\"family\":\"ipv6\",\"saddr\":\"::1\",\"sport\":1,\"daddr\":\"::1\",\"dport\":2,"
		  "\"probe\":\"kprobe\",\"established\":\"yes\",\"bytes_sent\":1,"
		  "\"bytes_received\":0,\"retransmits\":0}\n" },
	};
	char why[600];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECKF(!ok(bad[i].line, 0, why, sizeof(why)), "\"%s\" accepted", bad[i].what);
	/* without the schema only syntax and bytes count */
	CHECK(ok(GOOD_HEAD GOOD_TASK ",\"extra\":1" GOOD_TAIL, LC_NO_SCHEMA, why, sizeof(why)));
	CHECK(!ok(GOOD_HEAD GOOD_TASK ",\"extra\":\"\x01\"" GOOD_TAIL, LC_NO_SCHEMA, why,
		  sizeof(why)));
}

TEST(line_check_utf8_validator)
{
	static const struct {
		const char *s;
		size_t n;
		bool valid;
	} cases[] = {
#define C(s, v) { s, sizeof(s) - 1, v }
		C("", true), C("plain", true), C("\xc2\x80", true), C("\xf4\x8f\xbf\xbf", true),
		C("\xed\x9f\xbf", true), C("\xee\x80\x80", true),
		C("\xc0\x80", false), C("\xe0\x9f\xbf", false), C("\xf0\x8f\xbf\xbf", false),
		C("\xed\xa0\x80", false), C("\xf4\x90\x80\x80", false), C("\x80", false),
		C("\xe2\x82", false), C("\xf8\x88\x80\x80\x80", false), C("\xff", false),
#undef C
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char q[64];

		ts_test_quote(q, sizeof(q), cases[i].s, cases[i].n);
		CHECKF(utf8_valid(cases[i].s, cases[i].n) == cases[i].valid,
		       "utf8_valid(\"%s\") is %d", q, !cases[i].valid);
	}
	CHECK_U64(utf8_count("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
}
