// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "net/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

void ts_secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int ts_secret_from_file(const char *key, const char *path, char **out, char *err,
			size_t errlen)
{
	char buf[4096];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return ts_errf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return ts_errf(err, errlen, "%s: %s is not a regular file", key, path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return ts_errf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0] || (size_t)n == sizeof(buf) - 1) {
		/* a file of just a line end is empty too */
		const char *why = !buf[0] ? "empty" : "too long for a secret";

		explicit_bzero(buf, sizeof(buf));
		return ts_errf(err, errlen, "%s: %s is %s", key, path, why);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : ts_err(err, errlen, -ENOMEM, "out of memory");
}

int ts_secret_from_env(const char *key, const char *var, char **out, char *err,
		       size_t errlen)
{
	const char *v = getenv(var);

	if (!v || !*v)
		return ts_errf(err, errlen, "%s: the environment variable %s is not set or empty",
			       key, var);
	if (strchr(v, '\n') || strchr(v, '\r'))
		return ts_errf(err, errlen, "%s: %s holds a line break", key, var);
	*out = strdup(v);
	return *out ? 0 : ts_err(err, errlen, -ENOMEM, "out of memory");
}

int ts_secrets_add(struct ts_secrets *m, const char *s)
{
	if (!s || strlen(s) < 4 || m->n == TS_SECRETS_MAX)
		return 0;
	m->s[m->n] = strdup(s);
	if (!m->s[m->n])
		return -ENOMEM;
	m->n++;
	return 0;
}

char *ts_printable(char *out, size_t cap, const char *s, size_t n)
{
	size_t k = 0;

	if (!cap)
		return out;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : (c == '\n' || c == '\t') ? ' ' : '?';
	}
	out[k] = 0;
	return out;
}

const char *ts_secrets_excerpt(const struct ts_secrets *m, const char *s, size_t n, char *out,
			       size_t cap)
{
	size_t longest = 0, room;
	char *tmp;

	if (!n)
		return "(empty)";
	for (int i = 0; i < m->n; i++)
		if (strlen(m->s[i]) > longest)
			longest = strlen(m->s[i]);
	room = cap + longest;
	tmp = malloc(room);
	if (!tmp)
		return "(no memory for the excerpt)";
	ts_printable(tmp, room, s, n);
	for (int i = 0; i < m->n; i++) {
		size_t len = strlen(m->s[i]);
		char *at = tmp;

		while ((at = strstr(at, m->s[i]))) {
			memset(at, '*', len);
			at += len;
		}
	}
	snprintf(out, cap, "%s", tmp);
	explicit_bzero(tmp, room);
	free(tmp);
	return out;
}

void ts_secrets_free(struct ts_secrets *m)
{
	for (int i = 0; i < m->n; i++)
		ts_secret_free(m->s[i]);
	m->n = 0;
}
