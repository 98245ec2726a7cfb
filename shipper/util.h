/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small pure helpers: checked number parsing, names for kernel numbers. */
#ifndef TS_UTIL_H
#define TS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* All return 0 or -EINVAL/-ERANGE; *out is untouched on error. */
int ts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "250ms", "2s", "1m", "1.5s", "100us", "10ns"; a bare number is `bare_unit_ns` units */
int ts_parse_duration_ns(const char *s, uint64_t bare_unit_ns, uint64_t *out);
/* "64KiB", "100MiB", "1GiB", "4096" (bytes), also KB/MB/GB as powers of 1000 */
int ts_parse_size(const char *s, uint64_t *out);

/* "ECONNREFUSED"; an errno without a name gives "E" and the number. */
const char *ts_errno_name(int err, char buf[16]);
/* "ESTABLISHED", "SYN_SENT", ...; NULL if unknown */
const char *ts_tcp_state_name(unsigned state);

/* printf into err; returns -EINVAL (a usage or config mistake). */
int ts_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A URL or output spec fit to print: user:password@ and the values of query
 * parameters that look like secrets (pass, token, secret, key, auth) become
 * "***". Always NUL-terminates out. */
void ts_redact(const char *spec, char *out, size_t len);

/* time: CLOCK_* readings in ns */
uint64_t ts_now_ns(int clock_id);

#endif
