/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tiny unit test harness, in the spirit of sds' testhelp.h and the
 * kernel's kselftest_harness.h: TEST(name) defines a test and registers it
 * from a constructor, so a new test is one function and nothing else.
 *
 * main.c runs every test in a forked child (a crash or a hang fails that
 * test, not the run) and prints exactly one line per test on stdout:
 *
 *	PASS unit/<name>
 *	FAIL unit/<name>: <file>:<line>: <detail>
 *	SKIP unit/<name>: <reason>
 *
 * The CHECK macros return from the test on the first failure; only the
 * first failure of a test is reported. Helpers that check things return
 * bool and report through ts_test_fail(), which returns false, so that
 * `if (!x) return FAIL(...)` works in them too.
 */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ts_test {
	const char *name;
	void (*fn)(void);
	struct ts_test *next;
};

void ts_test_register(struct ts_test *t);

/* Record the first failure of the running test; always returns false. */
bool ts_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ts_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool ts_test_failed(void);

/* s[0..n) made printable (C escapes) and cut to fit in buf: for details. */
const char *ts_test_quote(char *buf, size_t cap, const void *s, size_t n);

bool ts_check_u64(const char *file, int line, const char *expr, uint64_t got, uint64_t want);
bool ts_check_i64(const char *file, int line, const char *expr, int64_t got, int64_t want);
/* Byte for byte; a mismatch reports the first differing offset and both
 * sides around it. NULL strings compare equal only to NULL. */
bool ts_check_mem(const char *file, int line, const char *expr, const void *got, size_t glen,
		  const void *want, size_t wlen);
bool ts_check_str(const char *file, int line, const char *expr, const char *got,
		  const char *want);

#define TEST(tname)								\
	static void test_##tname(void);						\
	static struct ts_test ts_test_##tname = { #tname, test_##tname, NULL };	\
	__attribute__((constructor)) static void ts_register_##tname(void)	\
	{									\
		ts_test_register(&ts_test_##tname);				\
	}									\
	static void test_##tname(void)

#define FAIL(...) ts_test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			FAIL("%s", #cond);					\
			return;							\
		}								\
	} while (0)

/* CHECK with a message of its own */
#define CHECKF(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			FAIL(__VA_ARGS__);					\
			return;							\
		}								\
	} while (0)

#define CHECK_U64(got, want)							\
	do {									\
		if (!ts_check_u64(__FILE__, __LINE__, #got, (got), (want)))	\
			return;							\
	} while (0)

#define CHECK_INT(got, want)							\
	do {									\
		if (!ts_check_i64(__FILE__, __LINE__, #got, (got), (want)))	\
			return;							\
	} while (0)

#define CHECK_STR(got, want)							\
	do {									\
		if (!ts_check_str(__FILE__, __LINE__, #got, (got), (want)))	\
			return;							\
	} while (0)

#define CHECK_MEM(got, glen, want, wlen)					\
	do {									\
		if (!ts_check_mem(__FILE__, __LINE__, #got, (got), (glen),	\
				  (want), (wlen)))				\
			return;							\
	} while (0)

#define SKIP(...)								\
	do {									\
		ts_test_skip(__VA_ARGS__);					\
		return;								\
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
