// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <strings.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int ts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;	/* strtoull would accept " -1" */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* digits[.digits] then a unit from the table; exact integer arithmetic */
static int parse_scaled(const char *s, const char *const *units, const uint64_t *scale,
			size_t n_units, uint64_t bare, uint64_t *out)
{
	uint64_t ip = 0, frac = 0, frac_div = 1, mul = 0;
	unsigned __int128 total;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p++ - '0');

		if (ip > (UINT64_MAX - d) / 10)
			return -ERANGE;
		ip = ip * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		/* digits past nanosecond precision cannot change the result */
		while (isdigit((unsigned char)*p)) {
			if (frac_div < 1000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
			p++;
		}
	}
	if (!*p) {
		mul = bare;
	} else {
		for (size_t i = 0; i < n_units; i++)
			if (!strcmp(p, units[i]))
				mul = scale[i];
		if (!mul)
			return -EINVAL;
	}
	total = (unsigned __int128)ip * mul + (unsigned __int128)frac * mul / frac_div;
	if (total > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)total;
	return 0;
}

int ts_parse_duration_ns(const char *s, uint64_t bare_unit_ns, uint64_t *out)
{
	static const char *const units[] = { "ns", "us", "ms", "s", "m", "h" };
	static const uint64_t scale[] = { 1, 1000, 1000000, 1000000000ULL,
					  60000000000ULL, 3600000000000ULL };

	return parse_scaled(s, units, scale, TS_ARRAY_SIZE(units), bare_unit_ns, out);
}

int ts_parse_size(const char *s, uint64_t *out)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "KB", "MB", "GB", "k", "K", "M", "G" };
	static const uint64_t scale[] = { 1, 1ULL << 10, 1ULL << 20, 1ULL << 30,
					  1000, 1000000, 1000000000,
					  1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 30 };

	return parse_scaled(s, units, scale, TS_ARRAY_SIZE(units), 1, out);
}

const char *ts_errno_name(int err, char buf[16])
{
	/* glibc 2.32; it names 0 "0", which is no errno */
	const char *name = err > 0 ? strerrorname_np(err) : NULL;

	if (name)
		return name;
	snprintf(buf, 16, "E%d", err);
	return buf;
}

const char *ts_tcp_state_name(unsigned state)
{
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV", [4] = "FIN_WAIT1",
		[5] = "FIN_WAIT2", [6] = "TIME_WAIT", [7] = "CLOSE", [8] = "CLOSE_WAIT",
		[9] = "LAST_ACK", [10] = "LISTEN", [11] = "CLOSING", [12] = "NEW_SYN_RECV",
		[13] = "BOUND_INACTIVE",
	};

	return state < TS_ARRAY_SIZE(names) ? names[state] : NULL;
}

const char *ts_end_reason(int error, unsigned oldstate)
{
	switch (error) {
	case 0:
		break;
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case ECONNRESET:
	case EPIPE:	/* an RST in CLOSE_WAIT */
		return "reset";
	default:
		return "error";
	}
	switch (oldstate) {
	case 2:		/* SYN_SENT */
	case 3:		/* SYN_RECV */
		return "aborted";
	case 1:		/* ESTABLISHED, CLOSE_WAIT -> CLOSE: this end sent an RST */
	case 8:
		return "reset";
	default:	/* FIN_WAIT1/2, CLOSING, LAST_ACK: the FINs were exchanged */
		return "fin";
	}
}

int ts_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

bool ts_secret_word(const char *k, size_t n)
{
	static const char *const words[] = { "pass", "token", "secret", "key", "auth", "sig",
					     "cookie", "session" };

	for (size_t w = 0; w < TS_ARRAY_SIZE(words); w++)
		for (size_t i = 0; i + strlen(words[w]) <= n; i++)
			if (!strncasecmp(k + i, words[w], strlen(words[w])))
				return true;
	return false;
}

void ts_redact(const char *spec, char *out, size_t len)
{
	const char *scheme = strstr(spec, "://"), *p = spec, *at, *end;
	size_t o = 0;

#define EMIT(s, n) do { size_t _n = (n); if (o + _n >= len) _n = len - o - 1; \
		memcpy(out + o, (s), _n); o += _n; } while (0)
	if (!len)
		return;
	if (scheme) {
		const char *auth = scheme + 3;

		end = auth + strcspn(auth, "/?#");
		at = memchr(auth, '@', (size_t)(end - auth));
		EMIT(spec, (size_t)(auth - spec));
		if (at) {
			EMIT("***@", 4);
			auth = at + 1;
		}
		p = auth;
	}
	while (*p && o + 1 < len) {
		if (*p == '?' || *p == '&') {
			const char *k = p + 1, *eq = k + strcspn(k, "=&#"), *v_end;

			EMIT(p, (size_t)(k - p));
			if (*eq != '=' || !ts_secret_word(k, (size_t)(eq - k))) {
				p = k;
				continue;
			}
			EMIT(k, (size_t)(eq - k) + 1);
			EMIT("***", 3);
			v_end = eq + 1 + strcspn(eq + 1, "&#");
			p = v_end;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = 0;
#undef EMIT
}

uint64_t ts_now_ns(int clock_id)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int ts_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (!n || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = 0;
			if (mkdir(buf, mode) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	{
		struct stat st;

		if (stat(path, &st))
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}
