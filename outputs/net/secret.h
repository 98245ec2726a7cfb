/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Secrets of the network sinks (passwords, tokens): read once at open from
 * a file or the environment, never printed, masked in anything logged, and
 * wiped from memory when freed. Which names hold secrets is the core's one
 * list (ts_secret_word in shipper/util.h).
 */
#ifndef TS_NET_SECRET_H
#define TS_NET_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* The first line of a regular file, without its line end, into a new
 * string. key names the option in messages. 0, or -EINVAL/-ENOMEM and one
 * line in err. */
int ts_secret_from_file(const char *key, const char *path, char **out, char *err,
			size_t errlen);
/* The value of an environment variable (non-empty, one line). */
int ts_secret_from_env(const char *key, const char *var, char **out, char *err,
		       size_t errlen);
/* Wipe and free; NULL is fine. */
void ts_secret_free(char *s);

/* Secrets to mask in text that is logged (a collector's answer may echo
 * the request): each found is overwritten with '*'. */
#define TS_SECRETS_MAX 8
struct ts_secrets {
	char *s[TS_SECRETS_MAX];
	int n;
};
/* Add a copy of s (NULL or shorter than 4 bytes: nothing to mask). */
int ts_secrets_add(struct ts_secrets *m, const char *s);
/* s[0..n) made printable (ts_printable) and masked, cut to cap - 1 bytes.
 * Masked before it is cut, so no secret shows in part at the end. */
const char *ts_secrets_excerpt(const struct ts_secrets *m, const char *s, size_t n, char *out,
			       size_t cap);
void ts_secrets_free(struct ts_secrets *m);

/* s made safe for one log line: printable ASCII kept, tabs and newlines as
 * spaces, the rest '?', cut to at most cap - 1 bytes. Returns out. */
char *ts_printable(char *out, size_t cap, const char *s, size_t n);

#endif
