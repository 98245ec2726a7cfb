// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Forced retransmissions on an established connection, meant to run in a
 * network namespace of the test's own:
 *
 *   tcp_retrans PORT "BLOCK-CMD" "UNBLOCK-CMD"
 *
 * Connects to a listener of its own on 127.0.0.1:PORT, runs BLOCK-CMD (an
 * nft rule dropping packets to PORT), sends, waits until the kernel counts
 * at least two retransmissions, runs UNBLOCK-CMD, waits until everything is
 * acknowledged, closes, and prints what TCP_INFO says.
 */
#include <netinet/tcp.h>
#include <pthread.h>
#include <time.h>

#include "trig.h"

#define PAYLOAD 3000

static int lfd;
static long server_got;

static void *server(void *arg)
{
	char buf[4096];
	int fd = accept(lfd, NULL, NULL);
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		server_got += r;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char buf[PAYLOAD];
	pthread_t t;
	socklen_t len;
	int fd, port;

	if (argc != 4)
		die("usage: tcp_retrans PORT BLOCK-CMD UNBLOCK-CMD");
	port = atoi(argv[1]);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	len = make_addr(&ss, "127.0.0.1", port);
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 4))
		die("listen: %s", strerror(errno));
	pthread_create(&t, NULL, server, NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect: %s", strerror(errno));
	if (system(argv[2]))
		die("block command failed: %s", argv[2]);
	memset(buf, 'x', sizeof(buf));
	write_all(fd, buf, sizeof(buf));
	if (wait_tcp_info(fd, two_retrans, 15000)) {
		system(argv[3]);
		die("no retransmission within 15 s");
	}
	if (system(argv[3]))
		die("unblock command failed: %s", argv[3]);
	if (wait_tcp_info(fd, all_acked, 30000))
		die("data not acknowledged within 30 s");
	struct tcp_info ti = tcp_info_of(fd);
	int sport = local_port(fd);

	close(fd);
	pthread_join(t, NULL);
	printf("{\"pid\":%d,\"sport\":%d,\"dport\":%d,\"sent\":%d,\"server_got\":%ld,"
	       "\"total_retrans\":%u}\n",
	       getpid(), sport, port, PAYLOAD, server_got, ti.tcpi_total_retrans);
	return 0;
}
