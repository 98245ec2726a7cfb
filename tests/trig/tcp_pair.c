// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One TCP connection on loopback between two processes: the client sends
 * -n bytes (in -k send() calls), the server reads them all, waits -d ms,
 * answers -r bytes and closes; the client reads to EOF and closes.
 *
 *   tcp_pair [-6 | -m] [-n BYTES] [-r BYTES] [-k CHUNKS] [-d MS] [-c COMM_HEX]
 *
 * -6: IPv6 on ::1; -m: an IPv6 client socket to an IPv4 server
 * (::ffff:127.0.0.1, shown by tcpship as IPv4). -c sets the client's task
 * name from hex bytes (hostile names).
 */
#include <getopt.h>
#include <sys/wait.h>
#include <time.h>

#include "trig.h"

static void json_hex(const char *key, const unsigned char *p, size_t n)
{
	printf("\"%s\":\"", key);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\"");
}

int main(int argc, char **argv)
{
	long n_send = 100, n_recv = 200, chunks = 1, delay_ms = 0;
	int v6 = 0, mapped = 0, c, lfd, cfd, sync_pipe[2], port;
	unsigned char comm[16] = "ts-client";
	size_t comm_len = 9;
	struct sockaddr_storage ss;
	socklen_t len;
	pid_t server;
	char buf[65536];
	long got = 0;
	int status;

	while ((c = getopt(argc, argv, "6mn:r:k:d:c:")) != -1) {
		switch (c) {
		case '6': v6 = 1; break;
		case 'm': mapped = 1; break;
		case 'n': n_send = atol(optarg); break;
		case 'r': n_recv = atol(optarg); break;
		case 'k': chunks = atol(optarg); break;
		case 'd': delay_ms = atol(optarg); break;
		case 'c':
			memset(comm, 0, sizeof(comm));
			comm_len = unhex(optarg, comm, 15);
			break;
		default: die("usage: tcp_pair [-6|-m] [-n N] [-r N] [-k K] [-d MS] [-c HEX]");
		}
	}
	if (chunks < 1)
		chunks = 1;

	lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	len = make_addr(&ss, v6 ? "::1" : "127.0.0.1", 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 8))
		die("listen: %s", strerror(errno));
	port = local_port(lfd);
	if (pipe(sync_pipe))
		die("pipe");

	server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		int afd;
		long have = 0;

		prctl(PR_SET_NAME, "ts-server");
		afd = accept(lfd, NULL, NULL);
		if (afd < 0)
			die("accept: %s", strerror(errno));
		while (have < n_send) {
			ssize_t r = read(afd, buf, sizeof(buf));

			if (r <= 0)
				die("server read: %s", r ? strerror(errno) : "EOF");
			have += r;
		}
		if (delay_ms) {
			struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);	/* the latency under test */
		}
		for (long left = n_recv; left > 0;) {
			long k = left < (long)sizeof(buf) ? left : (long)sizeof(buf);

			memset(buf, 'r', (size_t)k);
			write_all(afd, buf, (size_t)k);
			left -= k;
		}
		close(afd);
		_exit(0);
	}
	close(lfd);

	prctl(PR_SET_NAME, (char *)comm);
	cfd = socket((v6 || mapped) ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	len = make_addr(&ss, v6 ? "::1" : mapped ? "::ffff:127.0.0.1" : "127.0.0.1", port);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&ss, len))
		die("connect: %s", strerror(errno));
	for (long i = 0, left = n_send; i < chunks; i++) {
		long k = i == chunks - 1 ? left : n_send / chunks;

		left -= k;
		while (k > 0) {
			long m = k < (long)sizeof(buf) ? k : (long)sizeof(buf);

			memset(buf, 's', (size_t)m);
			if (send(cfd, buf, (size_t)m, 0) != m)
				die("send: %s", strerror(errno));
			k -= m;
		}
	}
	for (;;) {
		ssize_t r = recv(cfd, buf, sizeof(buf), 0);

		if (r < 0)
			die("client recv: %s", strerror(errno));
		if (!r)
			break;
		got += r;
	}
	int cport = local_port(cfd);

	close(cfd);
	if (waitpid(server, &status, 0) != server || !WIFEXITED(status) || WEXITSTATUS(status))
		die("server failed");
	printf("{\"client_pid\":%d,\"client_tid\":%d,\"server_pid\":%d,\"server_port\":%d,"
	       "\"client_port\":%d,\"family\":\"%s\",\"addr\":\"%s\",\"sent\":%ld,"
	       "\"received\":%ld,\"uid\":%u,",
	       getpid(), gettid_(), server, port, cport, v6 ? "ipv6" : "ipv4",
	       v6 ? "::1" : "127.0.0.1", n_send, got, getuid());
	json_hex("client_comm_hex", comm, comm_len);
	printf("}\n");
	return 0;
}
