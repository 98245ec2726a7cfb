/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared bits of the trigger programs: each does one thing on the network
 * and prints its own ground truth as one JSON line for the test to match. */
#ifndef TRIG_H
#define TRIG_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define die(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(2); } while (0)

static inline int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

/* addr string -> sockaddr; returns its length */
static inline socklen_t make_addr(struct sockaddr_storage *ss, const char *ip, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			die("bad address %s", ip);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
		die("bad address %s", ip);
	return sizeof(*s4);
}

static inline int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static inline size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < cap) {
		unsigned v;

		if (sscanf(hex, "%2x", &v) != 1)
			die("bad hex %s", hex);
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

static inline void write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

/* the kernel's view of a TCP socket (zeroed if it cannot be had) */
static inline struct tcp_info tcp_info_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	return ti;
}

static inline void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* poll TCP_INFO until cond holds (the kernel gives no event for these
 * counters); bounded: -1 after timeout_ms */
static inline int wait_tcp_info(int fd, int (*cond)(const struct tcp_info *), int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		struct tcp_info ti = tcp_info_of(fd);

		if (cond(&ti))
			return 0;
		nap_ms(10);
	}
	return -1;
}

static inline int two_retrans(const struct tcp_info *ti) { return ti->tcpi_total_retrans >= 2; }
static inline int all_acked(const struct tcp_info *ti) { return ti->tcpi_unacked == 0; }

#endif
