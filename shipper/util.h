/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small pure helpers: checked number parsing, names for kernel numbers. */
#ifndef TS_UTIL_H
#define TS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

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
/* How a connection ended, from its close record's errno and the state it
 * left for CLOSE: "fin", "reset", "refused", "timeout", "aborted" (a
 * handshake given up without an error) or "error". */
const char *ts_end_reason(int error, unsigned oldstate);

/* The one error formatter: printf into err, return rc (a -errno). Library
 * code does not print; its caller decides where the line goes. */
int ts_err(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* ... for a usage or config mistake: -EINVAL */
#define ts_errf(err, errlen, ...) ts_err(err, errlen, -EINVAL, __VA_ARGS__)

/* Does this name (a query parameter, a header, a key) look like it holds a
 * secret? The one list of such words, for every place that masks. */
bool ts_secret_word(const char *name, size_t n);

/* A URL or output spec fit to print: user:password@ and the values of query
 * parameters that look like secrets (ts_secret_word) become
 * "***". Always NUL-terminates out. */
void ts_redact(const char *spec, char *out, size_t len);

/* time: CLOCK_* readings in ns */
uint64_t ts_now_ns(int clock_id);
/* mkdir -p: 0, or -errno (-ENOTDIR: something else is there) */
int ts_mkdir_p(const char *path, mode_t mode);

#endif
