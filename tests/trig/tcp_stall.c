// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Retransmissions on loopback with nothing but the socket API: no netfilter,
 * no qdisc, no network namespace (so it runs in a bare VM whose kernel has
 * no modules).
 *
 *   tcp_stall data [ADDR]      an established connection whose receiver
 *                              drops every segment (a classic BPF socket
 *                              filter returning 0 on the accepted socket)
 *                              until the sender has retransmitted twice;
 *                              then the filter goes and the data gets in
 *   tcp_stall synfull [ADDR]   a connect to a listener whose accept queue
 *                              is full (a child process filled it and never
 *                              accepts): the SYN and its retransmission are
 *                              dropped; TCP_SYNCNT 1 makes it ETIMEDOUT ~3 s
 *
 * Prints its ground truth as one JSON line, like the other triggers.
 */
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "trig.h"

#define PAYLOAD 3000

/* a listener's TCP_INFO: tcpi_unacked is its accept queue, tcpi_sacked the
 * backlog; the kernel drops SYNs once the queue holds more than the backlog */
static int queue_full(const struct tcp_info *ti) { return ti->tcpi_unacked > ti->tcpi_sacked; }

static int listener(const char *ip, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, ip, 0);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog))
		die("listen: %s", strerror(errno));
	return fd;
}

static int connect_to(const char *ip, int port, int syncnt, int *err)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, ip, port);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (syncnt && setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt)))
		die("TCP_SYNCNT: %s", strerror(errno));
	*err = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
	return fd;
}

/* ---- data: the receiver drops segments until told otherwise ---- */

static int lfd, afd = -1, ready_pipe[2];
static long server_got;

static void *server(void *arg)
{
	struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop_all };
	char buf[4096];
	ssize_t r;

	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept: %s", strerror(errno));
	if (setsockopt(afd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		die("SO_ATTACH_FILTER: %s", strerror(errno));
	write_all(ready_pipe[1], "x", 1);
	while ((r = read(afd, buf, sizeof(buf))) > 0)
		server_got += r;
	close(afd);
	return NULL;
}

static int data(const char *ip)
{
	char buf[PAYLOAD], c;
	pthread_t t;
	int fd, err, dummy = 0;

	lfd = listener(ip, 4);
	if (pipe(ready_pipe))
		die("pipe");
	pthread_create(&t, NULL, server, NULL);
	fd = connect_to(ip, local_port(lfd), 0, &err);
	if (err)
		die("connect: %s", strerror(err));
	if (read(ready_pipe[0], &c, 1) != 1)
		die("server thread did not get ready");
	memset(buf, 'x', sizeof(buf));
	write_all(fd, buf, sizeof(buf));
	if (wait_tcp_info(fd, two_retrans, 15000))
		die("no retransmission within 15 s");
	if (setsockopt(afd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)))
		die("SO_DETACH_FILTER: %s", strerror(errno));
	if (wait_tcp_info(fd, all_acked, 30000))
		die("data not acknowledged within 30 s");
	struct tcp_info ti = tcp_info_of(fd);
	int sport = local_port(fd);

	close(fd);
	pthread_join(t, NULL);
	printf("{\"mode\":\"data\",\"pid\":%d,\"tid\":%d,\"addr\":\"%s\",\"sport\":%d,"
	       "\"dport\":%d,\"sent\":%d,\"server_got\":%ld,\"total_retrans\":%u}\n",
	       getpid(), gettid_(), ip, sport, local_port(lfd), PAYLOAD, server_got,
	       ti.tcpi_total_retrans);
	return 0;
}

/* ---- synfull: the listener's accept queue is full ---- */

static int synfull(const char *ip)
{
	struct timespec t0, t1;
	int to_parent[2], from_parent[2], port, fd, err, status;
	pid_t child;

	if (pipe(to_parent) || pipe(from_parent))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* the listener and the connections filling its queue live in
		 * here, so the parent's pid owns only the attempt under test */
		int l = listener(ip, 1), n, e;
		struct tcp_info ti;
		char c;

		prctl(PR_SET_NAME, "ts-filler");
		close(to_parent[0]);
		close(from_parent[1]);
		for (n = 0; n < 8; n++) {
			ti = tcp_info_of(l);
			if (queue_full(&ti))
				break;
			connect_to(ip, local_port(l), 0, &e);	/* kept open */
			if (e)
				die("filler connect: %s", strerror(e));
			/* the handshake's last ACK may still be on its way */
			for (int i = 0; i < 100 && tcp_info_of(l).tcpi_unacked < (unsigned)n + 1; i++)
				nap_ms(10);
		}
		ti = tcp_info_of(l);
		if (!queue_full(&ti))
			die("accept queue not full after %d connections", n);
		port = local_port(l);
		write_all(to_parent[1], &port, sizeof(port));
		while (read(from_parent[0], &c, 1) > 0)
			;	/* until the parent is done */
		_exit(0);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	if (read(to_parent[0], &port, sizeof(port)) != sizeof(port))
		die("filler failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = connect_to(ip, port, 1, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int sport = local_port(fd);

	close(fd);
	close(from_parent[1]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		die("filler process failed");
	printf("{\"mode\":\"synfull\",\"pid\":%d,\"tid\":%d,\"daddr\":\"%s\",\"dport\":%d,"
	       "\"sport\":%d,\"errno\":\"%s\",\"elapsed_ms\":%ld}\n",
	       getpid(), gettid_(), ip, port, sport,
	       err == ETIMEDOUT ? "ETIMEDOUT" : err ? strerror(err) : "none",
	       (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}

int main(int argc, char **argv)
{
	const char *ip = argc > 2 ? argv[2] : "127.0.0.1";

	if (argc >= 2 && !strcmp(argv[1], "data"))
		return data(ip);
	if (argc >= 2 && !strcmp(argv[1], "synfull"))
		return synfull(ip);
	die("usage: tcp_stall data|synfull [ADDR]");
}
