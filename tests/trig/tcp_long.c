// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One long-lived TCP connection on loopback between two processes (client
 * "ts-long-c", server "ts-long-s"), moving bytes when told on stdin, one
 * command a line, each answered "ok" once both ends have the bytes:
 *
 *   c N    the client sends N bytes, the server reads them
 *   s N    the server sends N bytes, the client reads them
 *   q      both close (also at EOF); prints {"closed":true}
 *
 *   tcp_long [-6]
 *
 * First prints its ground truth (pids, ports) as one JSON line.
 */
#include <signal.h>
#include <sys/wait.h>

#include "trig.h"

static char buf[65536];

static void move(int to, long n)
{
	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		size_t k = n < (long)sizeof(buf) ? (size_t)n : sizeof(buf);

		write_all(to, buf, k);
		n -= (long)k;
	}
}

static void take(int fd, long n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf));

		if (r <= 0)
			die("read: %s", r ? strerror(errno) : "EOF");
		n -= r;
	}
}

/* the server: commands from the client's pipe, "k" back when done */
static void serve(int afd, FILE *ctl, int done)
{
	char line[64], cmd;
	long n;

	while (fgets(line, sizeof(line), ctl)) {
		if (sscanf(line, "%c %ld", &cmd, &n) < 1 || cmd == 'q')
			break;
		if (cmd == 'c')
			take(afd, n);
		else if (cmd == 's')
			move(afd, n);
		write_all(done, "k", 1);
	}
	close(afd);
	exit(0);
}

int main(int argc, char **argv)
{
	int v6 = argc > 1 && !strcmp(argv[1], "-6");
	int lfd, cfd, afd, ctl[2], done[2], status;
	struct sockaddr_storage ss;
	socklen_t len;
	char line[64], k, cmd;
	FILE *to_server;
	pid_t server;
	long n;

	lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	len = make_addr(&ss, v6 ? "::1" : "127.0.0.1", 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1))
		die("listen: %s", strerror(errno));
	len = make_addr(&ss, v6 ? "::1" : "127.0.0.1", local_port(lfd));
	if (pipe(ctl) || pipe(done))
		die("pipe");
	signal(SIGPIPE, SIG_IGN);
	server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		/* the server accepts: the accepted flow is its own */
		prctl(PR_SET_NAME, "ts-long-s");
		close(ctl[1]);
		close(done[0]);
		afd = accept(lfd, NULL, NULL);
		if (afd < 0)
			die("accept: %s", strerror(errno));
		close(lfd);
		serve(afd, fdopen(ctl[0], "r"), done[1]);
	}
	prctl(PR_SET_NAME, "ts-long-c");
	cfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&ss, len))
		die("connect: %s", strerror(errno));
	close(lfd);
	close(ctl[0]);
	close(done[1]);
	to_server = fdopen(ctl[1], "w");
	printf("{\"client_pid\":%d,\"server_pid\":%d,\"client_port\":%d,\"server_port\":%d,"
	       "\"family\":\"%s\"}\n", getpid(), server, local_port(cfd), ntohs(
	       ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	       ((struct sockaddr_in *)&ss)->sin_port), v6 ? "ipv6" : "ipv4");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%c %ld", &cmd, &n) < 1 || cmd == 'q')
			break;
		if (cmd != 'c' && cmd != 's')
			die("unknown command %s", line);
		if (cmd == 'c')
			move(cfd, n);
		fprintf(to_server, "%c %ld\n", cmd, n);
		fflush(to_server);
		if (cmd == 's')
			take(cfd, n);
		if (read(done[0], &k, 1) != 1)
			die("the server is gone");
		printf("ok\n");
		fflush(stdout);
	}
	fputs("q\n", to_server);
	fclose(to_server);
	waitpid(server, &status, 0);
	close(cfd);
	printf("{\"closed\":true}\n");
	return 0;
}
