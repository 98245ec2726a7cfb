// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A connection attempt that fails, and why.
 *
 *   connect_fail refused [-6]          to a bound, non-listening loopback port
 *   connect_fail timeout ADDR PORT     SYNs unanswered (the test drops them);
 *                                      TCP_SYNCNT 1 makes it give up in ~3 s
 */
#include <netinet/tcp.h>
#include <time.h>

#include "trig.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct timespec t0, t1;
	const char *ip;
	socklen_t len;
	int port, fd, err;

	if (argc >= 2 && !strcmp(argv[1], "refused")) {
		int v6 = argc > 2 && !strcmp(argv[2], "-6");
		int hold = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

		/* a bound socket that never listens: the kernel answers RST and
		 * nobody else can take the port meanwhile */
		ip = v6 ? "::1" : "127.0.0.1";
		len = make_addr(&ss, ip, 0);
		if (hold < 0 || bind(hold, (struct sockaddr *)&ss, len))
			die("bind: %s", strerror(errno));
		port = local_port(hold);
	} else if (argc == 4 && !strcmp(argv[1], "timeout")) {
		ip = argv[2];
		port = atoi(argv[3]);
	} else {
		die("usage: connect_fail refused [-6] | timeout ADDR PORT");
	}
	fd = socket(strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	int syncnt = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt));
	len = make_addr(&ss, ip, port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"pid\":%d,\"tid\":%d,\"daddr\":\"%s\",\"dport\":%d,\"errno\":\"%s\","
	       "\"elapsed_ms\":%ld}\n",
	       getpid(), gettid_(), ip, port,
	       err == ECONNREFUSED ? "ECONNREFUSED" : err == ETIMEDOUT ? "ETIMEDOUT" :
	       err ? strerror(err) : "none",
	       (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	close(fd);
	return 0;
}
