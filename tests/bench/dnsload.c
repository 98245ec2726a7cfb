// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The bench's DNS workload: W client threads each send an A query to
 * 127.0.0.1:53 with sendto(2) from an unbound UDP socket and wait for its
 * answer with recvfrom(2), the way a stub resolver does, as fast as they
 * can; W server threads of another process (as a resolver's server is),
 * on one socket bound to 127.0.0.1:53, answer each with one A record. The answer must carry the query's id, or it counts as
 * an error. Prints its ground truth as one JSON line, in loadgen's keys
 * (a round trip is a "message").
 *
 *   dnsload [--workers N] [--duration S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QNAME "\x05" "bench" "\x07" "example" "\x00"

static int srv_fd;
static double duration_s = 8;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* header (id, RD), the question bench.example A IN */
static size_t query(unsigned char *q, uint16_t id)
{
	static const unsigned char tail[] = QNAME "\x00\x01\x00\x01";
	unsigned char h[12] = { (unsigned char)(id >> 8), (unsigned char)id, 0x01, 0, 0, 1 };

	memcpy(q, h, sizeof(h));
	memcpy(q + 12, tail, sizeof(tail) - 1);
	return 12 + sizeof(tail) - 1;
}

static void *server(void *arg)
{
	/* an answer: the name by a pointer to the question, A IN, TTL 60, 192.0.2.1 */
	static const unsigned char rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
					    192, 0, 2, 1 };
	unsigned char buf[512];

	(void)arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(srv_fd, buf, sizeof(buf) - sizeof(rr), 0,
				     (struct sockaddr *)&from, &len);

		if (n < 12)
			continue;
		buf[2] |= 0x80;		/* QR */
		buf[3] = 0x80;		/* RA, NOERROR */
		buf[7] = 1;		/* ANCOUNT */
		memcpy(buf + n, rr, sizeof(rr));
		sendto(srv_fd, buf, (size_t)n + sizeof(rr), 0, (struct sockaddr *)&from, len);
	}
	return NULL;
}

struct client {
	pthread_t tid;
	uint64_t sent, received, errors;
};

static void *client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(53),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 1 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned char q[64], a[512];
	uint64_t end = now_ns() + (uint64_t)(duration_s * 1e9);
	uint16_t id = (uint16_t)(uintptr_t)c;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (now_ns() < end) {
		size_t n = query(q, ++id);
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t r;

		if (sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n) {
			c->errors++;
			continue;
		}
		c->sent++;
		r = recvfrom(fd, a, sizeof(a), 0, (struct sockaddr *)&from, &len);
		if (r >= 12 && a[0] == (unsigned char)(id >> 8) && a[1] == (unsigned char)id)
			c->received++;
		else
			c->errors++;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },	/* bench.py passes it: dns */
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned workers = 2;
	uint64_t sent = 0, received = 0, errors = 0, t0, t1;
	struct client *cl;
	int c, quit[2];
	pid_t srv;

	while ((c = getopt_long(argc, argv, "w:d:m:", lo, NULL)) != -1) {
		if (c == 'w')
			workers = (unsigned)atoi(optarg);
		else if (c == 'd')
			duration_s = atof(optarg);
		else if (c != 'm') {
			fprintf(stderr, "usage: dnsload [--workers N] [--duration S]\n");
			return 2;
		}
	}
	if (!workers || workers > 64 || duration_s <= 0) {
		fprintf(stderr, "dnsload: --workers 1..64, --duration > 0\n");
		return 2;
	}
	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "dnsload: cannot bind 127.0.0.1:53: %s\n", strerror(errno));
		return 1;
	}
	/* the server: its threads answer until the clients' process closes
	 * the pipe (or dies) */
	if (pipe(quit) || (srv = fork()) < 0)
		return 1;
	if (srv == 0) {
		char x;

		close(quit[1]);
		for (unsigned i = 0; i < workers; i++) {
			pthread_t t;

			if (pthread_create(&t, NULL, server, NULL))
				_exit(1);
		}
		while (read(quit[0], &x, 1) > 0)
			;
		_exit(0);
	}
	close(quit[0]);
	close(srv_fd);
	cl = calloc(workers, sizeof(*cl));
	if (!cl)
		return 1;
	t0 = now_ns();
	for (unsigned i = 0; i < workers; i++)
		if (pthread_create(&cl[i].tid, NULL, client, &cl[i]))
			return 1;
	for (unsigned i = 0; i < workers; i++) {
		pthread_join(cl[i].tid, NULL);
		sent += cl[i].sent;
		received += cl[i].received;
		errors += cl[i].errors;
	}
	t1 = now_ns();
	close(quit[1]);
	waitpid(srv, NULL, 0);
	printf("{\"pid\":%d,\"mode\":\"dns\",\"workers\":%u,\"port\":53,\"duration_s\":%.3f,"
	       "\"connections\":0,\"failed_connects\":0,\"messages_sent\":%llu,"
	       "\"messages_received\":%llu,\"io_errors\":%llu,\"conn_per_s\":0,"
	       "\"msg_per_s\":%.1f}\n", getpid(), workers, (double)(t1 - t0) / 1e9,
	       (unsigned long long)sent, (unsigned long long)received,
	       (unsigned long long)errors, (double)received * 1e9 / (double)(t1 - t0));
	return 0;
}
