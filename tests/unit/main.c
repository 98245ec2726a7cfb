// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The unit test runner: .output/unit-tests [SUBSTRING]
 *
 * stdout carries exactly one line per test (PASS/FAIL/SKIP unit/<name>),
 * which tests/run.py parses; anything else anybody prints to stdout is sent
 * to stderr instead, so a stray printf cannot corrupt the report. Each test
 * runs in a forked child so that a crash, an abort or a hang is one FAIL
 * line instead of the end of the run. TS_TEST_NOFORK=1 runs them in this
 * process (for a debugger). Exit status: 1 if any test failed, else 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define DETAIL_MAX 1536
#define TEST_TIMEOUT_S 30

static struct ts_test *head, **tail = &head;

/* state of the running test */
static enum { ST_PASS, ST_FAIL, ST_SKIP } status;
static char detail[DETAIL_MAX];

void ts_test_register(struct ts_test *t)
{
	/* constructors run in definition order: keep it, it groups by file */
	*tail = t;
	tail = &t->next;
}

bool ts_test_fail(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;
	int n;

	if (status == ST_FAIL)
		return false;	/* the first failure is the one that explains */
	status = ST_FAIL;
	n = snprintf(detail, sizeof(detail), "%s:%d: ", base ? base + 1 : file, line);
	if (n < 0 || (size_t)n >= sizeof(detail))
		return false;
	va_start(ap, fmt);
	vsnprintf(detail + n, sizeof(detail) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

void ts_test_skip(const char *fmt, ...)
{
	va_list ap;

	if (status == ST_FAIL)
		return;
	status = ST_SKIP;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

bool ts_test_failed(void)
{
	return status == ST_FAIL;
}

const char *ts_test_quote(char *buf, size_t cap, const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t o = 0;

	if (!cap)
		return buf;
	for (size_t i = 0; i < n; i++) {
		char tmp[8];
		size_t k;

		switch (p[i]) {
		case '\n': k = (size_t)snprintf(tmp, sizeof(tmp), "\\n"); break;
		case '\t': k = (size_t)snprintf(tmp, sizeof(tmp), "\\t"); break;
		case '\\': k = (size_t)snprintf(tmp, sizeof(tmp), "\\\\"); break;
		case '"': k = (size_t)snprintf(tmp, sizeof(tmp), "\\\""); break;
		default:
			if (p[i] < 0x20 || p[i] >= 0x7f)
				k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			else
				k = (size_t)snprintf(tmp, sizeof(tmp), "%c", p[i]);
		}
		if (o + k + 4 >= cap) {
			/* show that it was cut, not that the data ended */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, k);
		o += k;
	}
	buf[o] = 0;
	return buf;
}

bool ts_check_u64(const char *file, int line, const char *expr, uint64_t got, uint64_t want)
{
	if (got == want)
		return true;
	return ts_test_fail(file, line, "%s is %" PRIu64 ", want %" PRIu64, expr, got, want);
}

bool ts_check_i64(const char *file, int line, const char *expr, int64_t got, int64_t want)
{
	if (got == want)
		return true;
	return ts_test_fail(file, line, "%s is %" PRId64 ", want %" PRId64, expr, got, want);
}

bool ts_check_mem(const char *file, int line, const char *expr, const void *got, size_t glen,
		  const void *want, size_t wlen)
{
	const unsigned char *g = got, *w = want;
	char qg[400], qw[400];
	size_t i, from;

	if (!got || !want) {
		if (got == want)
			return true;
		return ts_test_fail(file, line, "%s is %s, want %s", expr, got ? "non-NULL" : "NULL",
				    want ? "non-NULL" : "NULL");
	}
	for (i = 0; i < glen && i < wlen && g[i] == w[i]; i++)
		;
	if (i == glen && i == wlen)
		return true;
	/* a little context before the difference, more after it */
	from = i > 24 ? i - 24 : 0;
	ts_test_quote(qg, sizeof(qg), g + from, (glen - from) < 96 ? glen - from : 96);
	ts_test_quote(qw, sizeof(qw), w + from, (wlen - from) < 96 ? wlen - from : 96);
	return ts_test_fail(file, line,
			    "%s differs at byte %zu (got %zu bytes, want %zu); from byte %zu: got \"%s\" want \"%s\"",
			    expr, i, glen, wlen, from, qg, qw);
}

bool ts_check_str(const char *file, int line, const char *expr, const char *got,
		  const char *want)
{
	return ts_check_mem(file, line, expr, got, got ? strlen(got) : 0, want,
			    want ? strlen(want) : 0);
}

static void run_inline(struct ts_test *t)
{
	status = ST_PASS;
	detail[0] = 0;
	t->fn();
}

/* The child sends one status byte and the detail through the pipe. */
static void run_forked(struct ts_test *t)
{
	char buf[DETAIL_MAX + 1];
	size_t got = 0;
	int fds[2], ws;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds) || (pid = fork()) < 0) {
		status = ST_FAIL;
		snprintf(detail, sizeof(detail), "harness: pipe/fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		close(fds[0]);
		alarm(TEST_TIMEOUT_S);
		run_inline(t);
		buf[0] = status == ST_PASS ? 'P' : status == ST_SKIP ? 'S' : 'F';
		memcpy(buf + 1, detail, strlen(detail));
		if (write(fds[1], buf, 1 + strlen(detail)) < 0)
			_exit(3);
		fflush(NULL);
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	close(fds[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	buf[got] = 0;
	if (WIFSIGNALED(ws)) {
		status = ST_FAIL;
		if (WTERMSIG(ws) == SIGALRM)
			snprintf(detail, sizeof(detail), "timed out after %ds", TEST_TIMEOUT_S);
		else if (snprintf(detail, sizeof(detail), "killed by signal %d (%s)%s%s",
				  WTERMSIG(ws), strsignal(WTERMSIG(ws)),
				  got > 1 && buf[0] == 'F' ? " after: " : "",
				  got > 1 && buf[0] == 'F' ? buf + 1 : "") >= (int)sizeof(detail))
			detail[sizeof(detail) - 1] = 0;	/* cut, still terminated */
		return;
	}
	if (!got || WEXITSTATUS(ws)) {
		status = ST_FAIL;
		snprintf(detail, sizeof(detail), "test exited with status %d without reporting",
			 WEXITSTATUS(ws));
		return;
	}
	status = buf[0] == 'P' ? ST_PASS : buf[0] == 'S' ? ST_SKIP : ST_FAIL;
	got = strnlen(buf + 1, sizeof(detail) - 1);
	memcpy(detail, buf + 1, got);
	detail[got] = 0;
}

/* The report is line-oriented: a detail never spans lines. Details are
 * already quoted where they show data; only stray bytes are escaped here. */
static void one_line(char *buf, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = 0;
}

static void print_result(FILE *out, const char *name)
{
	char clean[DETAIL_MAX * 4];

	one_line(clean, sizeof(clean), detail);
	switch (status) {
	case ST_PASS:
		fprintf(out, "PASS unit/%s\n", name);
		break;
	case ST_SKIP:
		fprintf(out, "SKIP unit/%s: %s\n", name, clean[0] ? clean : "skipped");
		break;
	case ST_FAIL:
		fprintf(out, "FAIL unit/%s: %s\n", name, clean[0] ? clean : "failed");
		break;
	}
	fflush(out);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	bool nofork = getenv("TS_TEST_NOFORK") && *getenv("TS_TEST_NOFORK") == '1';
	int failed = 0, ran = 0, fd;
	FILE *out;

	/* keep the real stdout for the report, send everything else to stderr */
	fflush(stdout);
	fd = dup(STDOUT_FILENO);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		perror("unit-tests: dup stdout");
		return 1;
	}
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		perror("unit-tests: dup2");
		return 1;
	}
	for (struct ts_test *t = head; t; t = t->next) {
		char full[256];

		snprintf(full, sizeof(full), "unit/%s", t->name);
		if (filter && !strstr(full, filter))
			continue;
		if (nofork)
			run_inline(t);
		else
			run_forked(t);
		print_result(out, t->name);
		failed += status == ST_FAIL;
		ran++;
	}
	if (!ran)
		fprintf(stderr, "unit-tests: no test matches '%s'\n", filter ? filter : "");
	fclose(out);
	return failed ? 1 : 0;
}
