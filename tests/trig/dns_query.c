// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A DNS query to a UDP port-53 listener of our own (run it in a network
 * namespace of the test's). The query goes out the way a resolver would
 * send it:
 *
 *   dns_query MODE SERVER QNAME [QTYPE] [RAW-LABEL-HEX]
 *
 * MODE: sendto (unconnected, musl-like), connect (connect + send),
 * sendmsg, sendmmsg (A and AAAA in one call, like glibc); MODE+answer
 * (sendto+answer, connect+answer): the listener answers each query with
 * one A record, 192.0.2.7, which the client reads (recvfrom, or recv when
 * connected). QNAME is dotted;
 * RAW-LABEL-HEX appends one label of arbitrary bytes. Prints the wire name
 * in hex so the test derives the presentation form on its own.
 */
#include <time.h>

#include "trig.h"

static size_t build(unsigned char *q, unsigned id, const char *qname, const unsigned char *raw,
		    size_t raw_len, unsigned qtype)
{
	size_t n = 12;
	char name[256];

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01;		/* RD */
	q[5] = 1;		/* QDCOUNT */
	snprintf(name, sizeof(name), "%s", qname);
	for (char *save = NULL, *l = strtok_r(name, ".", &save); l; l = strtok_r(NULL, ".", &save)) {
		q[n++] = (unsigned char)strlen(l);
		memcpy(q + n, l, strlen(l));
		n += strlen(l);
	}
	if (raw_len) {
		q[n++] = (unsigned char)raw_len;
		memcpy(q + n, raw, raw_len);
		n += raw_len;
	}
	q[n++] = 0;
	q[n++] = qtype >> 8;
	q[n++] = qtype & 0xff;
	q[n++] = 0;
	q[n++] = 1;		/* IN */
	return n;
}

/* The query q (n bytes) as a response with one A record, 192.0.2.7 */
static size_t answer_of(unsigned char *r, const unsigned char *q, size_t n)
{
	static const unsigned char rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
					    192, 0, 2, 7 };

	memcpy(r, q, n);
	r[2] |= 0x80;		/* QR */
	r[3] = 0x80;		/* RA, NOERROR */
	r[7] = 1;		/* ANCOUNT */
	memcpy(r + n, rr, sizeof(rr));
	return n + sizeof(rr);
}

int main(int argc, char **argv)
{
	unsigned char q1[512], q2[512], raw[64], got[512], resp[600];
	struct sockaddr_storage ss, from;
	size_t n1, n2, raw_len = 0, qn_end;
	unsigned qtype = 1;
	const char *mode, *server;
	char modebuf[32];
	socklen_t len;
	int lfd, fd, family, received = 0, answered = 0, answer = 0;

	if (argc < 4)
		die("usage: dns_query MODE SERVER QNAME [QTYPE] [RAW-LABEL-HEX]");
	snprintf(modebuf, sizeof(modebuf), "%s", argv[1]);
	if (strstr(modebuf, "+answer")) {
		*strstr(modebuf, "+answer") = 0;
		answer = 1;
	}
	mode = modebuf;
	server = argv[2];
	if (argc > 4)
		qtype = (unsigned)atoi(argv[4]);
	if (argc > 5)
		raw_len = unhex(argv[5], raw, 63);
	family = strchr(server, ':') ? AF_INET6 : AF_INET;

	lfd = socket(family, SOCK_DGRAM, 0);
	len = make_addr(&ss, server, 53);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len))
		die("bind %s:53: %s", server, strerror(errno));
	struct timeval tv = { 5, 0 };

	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	n1 = build(q1, 0x1234, argv[3], raw, raw_len, qtype);
	n2 = build(q2, 0x1235, argv[3], raw, raw_len, 28);
	fd = socket(family, SOCK_DGRAM, 0);
	if (!strcmp(mode, "sendto")) {
		if (sendto(fd, q1, n1, 0, (struct sockaddr *)&ss, len) != (ssize_t)n1)
			die("sendto: %s", strerror(errno));
	} else if (!strcmp(mode, "connect")) {
		if (connect(fd, (struct sockaddr *)&ss, len) || send(fd, q1, n1, 0) != (ssize_t)n1)
			die("connect/send: %s", strerror(errno));
	} else if (!strcmp(mode, "sendmsg")) {
		/* one buffer: tcpship reads the query from the first iovec */
		struct iovec iov[1] = { { q1, n1 } };
		struct msghdr m = { .msg_name = &ss, .msg_namelen = len, .msg_iov = iov,
				    .msg_iovlen = 1 };

		if (sendmsg(fd, &m, 0) != (ssize_t)n1)
			die("sendmsg: %s", strerror(errno));
	} else if (!strcmp(mode, "sendmmsg")) {
		struct iovec iov[2] = { { q1, n1 }, { q2, n2 } };
		struct mmsghdr mm[2] = {
			{ .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
			{ .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } },
		};

		if (connect(fd, (struct sockaddr *)&ss, len) || sendmmsg(fd, mm, 2, 0) != 2)
			die("sendmmsg: %s", strerror(errno));
	} else {
		die("unknown mode %s", mode);
	}
	for (int i = 0; i < (!strcmp(mode, "sendmmsg") ? 2 : 1); i++) {
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(lfd, got, sizeof(got), 0, (struct sockaddr *)&from, &fl);

		if (r <= 0)
			continue;
		received++;
		if (answer) {
			size_t rn = answer_of(resp, got, (size_t)r);

			if (sendto(lfd, resp, rn, 0, (struct sockaddr *)&from, fl) != (ssize_t)rn)
				die("answer: %s", strerror(errno));
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			/* as resolvers read: the sender's address asked for
			 * on an unconnected socket, to check who answered */
			fl = sizeof(from);
			if (!strcmp(mode, "connect") ? recv(fd, got, sizeof(got), 0) > 0 :
			    recvfrom(fd, got, sizeof(got), 0, (struct sockaddr *)&from, &fl) > 0)
				answered++;
		}
	}
	qn_end = 12;
	while (q1[qn_end])
		qn_end += q1[qn_end] + 1;
	printf("{\"pid\":%d,\"tid\":%d,\"mode\":\"%s\",\"server\":\"%s\",\"sport\":%d,"
	       "\"received\":%d,\"answered\":%d,\"bytes\":%zu,\"qtype\":%u,"
	       "\"qname_wire_hex\":\"",
	       getpid(), gettid_(), mode, server, local_port(fd), received, answered, n1, qtype);
	for (size_t i = 12; i <= qn_end; i++)
		printf("%02x", q1[i]);
	printf("\"}\n");
	return 0;
}
