// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A local HTTP collector for the benchmark's `tcpship http` rows: it
 * accepts POSTs (HTTP/1.1, keep-alive, Content-Length bodies, optional
 * Content-Encoding: gzip), answers 200 at once, and does nothing else while
 * the load runs: bodies are kept as they came (gzip stays compressed), so
 * the collector takes next to no CPU from the 2-core machine the load and
 * the tracer share. On SIGTERM/SIGINT it inflates what it kept, counts the
 * lines (one per event: ndjson) and, with --out, writes them to FILE so the
 * bench checks them against the load generator's ground truth exactly as
 * it checks a file output. Then the bodies are discarded.
 *
 *   collector [--out FILE] [--keep-max BYTES]
 *
 * stderr: "collector: listening on 127.0.0.1:PORT" once it accepts, and at
 * the end "collector: exit: requests=N events=N body_bytes=N
 * inflated_bytes=N bad=N counted_live=N" (counted_live: requests counted
 * and dropped on arrival because more than --keep-max bytes were kept
 * already; their lines are counted but not in FILE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_REQUEST	(64u << 20)

struct body {
	struct body *next;
	size_t len;
	bool gz;
	char data[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct body *kept, **kept_tail = &kept;
static size_t kept_bytes, keep_max = (size_t)2 << 30;
static uint64_t requests, events, body_bytes, inflated_bytes, bad, counted_live;
static FILE *out;

static uint64_t count_lines(const char *p, size_t n)
{
	const char *e = p + n;
	uint64_t c = 0;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		c++;
		p++;
	}
	return c;
}

/* Inflates (gz) or takes as is, counts the lines, writes them to `out`
 * when asked. Called with the lock held. */
static void consume(const char *data, size_t len, bool gz, bool write_out)
{
	static char buf[1 << 20];
	z_stream zs = { 0 };
	int rc;

	if (!gz) {
		events += count_lines(data, len);
		inflated_bytes += len;
		if (write_out && out)
			fwrite(data, 1, len, out);
		return;
	}
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		bad++;
		return;
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = (Bytef *)buf;
		zs.avail_out = sizeof(buf);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END)
			break;
		events += count_lines(buf, sizeof(buf) - zs.avail_out);
		inflated_bytes += sizeof(buf) - zs.avail_out;
		if (write_out && out)
			fwrite(buf, 1, sizeof(buf) - zs.avail_out, out);
	} while (rc != Z_STREAM_END);
	if (rc != Z_STREAM_END)
		bad++;
	inflateEnd(&zs);
}

static void take(const char *data, size_t len, bool gz)
{
	struct body *b = NULL;

	pthread_mutex_lock(&lock);
	requests++;
	body_bytes += len;
	if (kept_bytes + len <= keep_max)
		b = malloc(sizeof(*b) + len);
	if (b) {
		b->next = NULL;
		b->len = len;
		b->gz = gz;
		memcpy(b->data, data, len);
		*kept_tail = b;
		kept_tail = &b->next;
		kept_bytes += len;
	} else {
		consume(data, len, gz, false);
		counted_live++;
	}
	pthread_mutex_unlock(&lock);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void *conn_thread(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	int fd = (int)(intptr_t)arg;
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t hlen, clen = 0;
		bool gz = false, expect = false;
		char *end;
		ssize_t r;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == cap)
				goto out;	/* headers over 1 MiB: not ours */
			r = read(fd, buf + have, cap - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		hlen = (size_t)(end - buf) + 4;
		for (char *l = buf, *nl; l < end; l = nl + 2) {
			nl = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
			if (!strncasecmp(l, "Content-Length:", 15))
				clen = strtoull(l + 15, NULL, 10);
			else if (!strncasecmp(l, "Content-Encoding: gzip", 22))
				gz = true;
			else if (!strncasecmp(l, "Expect: 100-continue", 20))
				expect = true;
		}
		if (hlen + clen > MAX_REQUEST)
			goto out;
		if (hlen + clen > cap) {
			char *p = realloc(buf, hlen + clen);

			if (!p)
				goto out;
			buf = p;
			cap = hlen + clen;
		}
		if (expect && have < hlen + clen && !write_all(fd, cont, sizeof(cont) - 1))
			goto out;
		while (have < hlen + clen) {
			r = read(fd, buf + have, cap - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		take(buf + hlen, clen, gz);
		if (!write_all(fd, ok, sizeof(ok) - 1))
			goto out;
		memmove(buf, buf + hlen + clen, have - hlen - clen);
		have -= hlen + clen;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;	/* shutdown() at the end */
		}
		if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "keep-max", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	const char *out_path = NULL;
	pthread_t acceptor;
	sigset_t sigs;
	int lfd, c, sig;

	while ((c = getopt_long(argc, argv, "o:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'k':
			keep_max = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: collector [--out FILE] [--keep-max BYTES]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	/* every thread inherits the mask: only sigwait() below sees them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("collector: listen");
		return 1;
	}
	if (pthread_create(&acceptor, NULL, accept_thread, (void *)(intptr_t)lfd)) {
		fprintf(stderr, "collector: cannot start\n");
		return 1;
	}
	fprintf(stderr, "collector: listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
	fflush(stderr);

	sigwait(&sigs, &sig);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(acceptor, NULL);

	if (out_path && !(out = fopen(out_path, "w")))
		perror("collector: --out");
	pthread_mutex_lock(&lock);
	for (struct body *b = kept, *next; b; b = next) {
		next = b->next;
		consume(b->data, b->len, b->gz, true);
		free(b);
	}
	kept = NULL;
	fprintf(stderr, "collector: exit: requests=%llu events=%llu body_bytes=%llu "
		"inflated_bytes=%llu bad=%llu counted_live=%llu\n",
		(unsigned long long)requests, (unsigned long long)events,
		(unsigned long long)body_bytes, (unsigned long long)inflated_bytes,
		(unsigned long long)bad, (unsigned long long)counted_live);
	pthread_mutex_unlock(&lock);
	if (out && fclose(out)) {
		perror("collector: --out");
		return 1;
	}
	return 0;
}
