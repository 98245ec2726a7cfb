// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loopback TCP load generator for the benchmark. Client and server threads
 * live in this one process, so every event the workload causes carries this
 * pid, and the JSON line printed at the end is the ground truth the
 * benchmark checks tcpship's output against.
 *
 *   loadgen [--mode conn|rr|pingpong] [--workers N] [--servers N]
 *           [--duration SEC] [--count N] [--msg-size BYTES] [-6]
 *           [--graceful] [--wait-close]
 *
 * conn:     connect, close; as fast as it goes
 * rr:       connect, one request, one response, close
 * pingpong: one persistent connection per worker, request/response rounds
 *
 * Port exhaustion: at ~70k conn/s a client that closes first leaves a
 * TIME_WAIT socket per connection for 60 s, and 28k ephemeral ports last
 * well under a second. Clients therefore close with SO_LINGER {1, 0}: close()
 * sends RST and frees the port at once, with no TIME_WAIT on either side.
 * Several client addresses (127.0.0.x) would only multiply the port space by
 * the number of addresses, not remove the limit. --graceful closes with FIN
 * instead, for comparison at low rates.
 *
 * An RST close still moves both sockets to CLOSE, so each connection still
 * gives connect, accept and two close events. The one race that matters is
 * an RST that reaches the server before accept(): the server socket then
 * closes before any task owns it. --wait-close makes the client wait for the
 * server's FIN (it closes right after accept) before it resets, which rules
 * that out at the cost of one more wake-up per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	256
#define MAX_MSG		65536
#define DRAIN_NS	(5 * 1000000000ULL)	/* accept what is queued at the end */
#define JOIN_S		5			/* then give threads this long */

enum mode {
	MODE_CONN,
	MODE_RR,
	MODE_PINGPONG,
};

static const char *const mode_names[] = {
	[MODE_CONN] = "conn",
	[MODE_RR] = "rr",
	[MODE_PINGPONG] = "pingpong",
};

struct config {
	enum mode mode;
	unsigned workers;
	unsigned servers;
	double duration_s;
	uint64_t count;		/* 0: no limit; else total ops over all workers */
	size_t msg_size;
	bool ipv6;
	bool graceful;
	bool wait_close;
};

/* Per-thread counters, each on its own cache line so the hot loops never
 * share one. */
struct counters {
	uint64_t connects;
	uint64_t failed;
	uint64_t accepts;
	uint64_t sent;
	uint64_t received;
	uint64_t errors;	/* I/O errors after a connection was made */
	int first_errno;
} __attribute__((aligned(64)));

struct thread {
	pthread_t tid;
	struct counters c;
	bool started;
};

static struct config cfg = {
	.mode = MODE_CONN,
	.workers = 2,
	.duration_s = 8.0,
	.msg_size = 64,
};
static struct sockaddr_storage srv_addr;
static socklen_t srv_len;
static int listen_fd = -1;
static pthread_barrier_t start_barrier;
static uint64_t deadline_ns;
static atomic_uint_fast64_t tickets;	/* ops handed out when --count is set */
static atomic_bool servers_stop;
static volatile sig_atomic_t stop_signal;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* May this worker start one more operation? */
static bool go_on(void)
{
	if (stop_signal || now_ns() >= deadline_ns)
		return false;
	if (cfg.count && atomic_fetch_add(&tickets, 1) >= cfg.count)
		return false;
	return true;
}

static void note_error(struct counters *c, int err)
{
	c->errors++;
	if (!c->first_errno)
		c->first_errno = err;
}

/* 0, or the errno; a peer that closed early is EPIPE-like: ECONNRESET */
static int write_full(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, ECONNRESET for an early EOF, or the errno */
static int read_full(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (!r)
			return ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* request/response of small messages: never wait for Nagle */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A connected client socket, or -1 with the failure counted. */
static int client_connect(struct counters *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	fd = socket(srv_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->failed++;
		if (!c->first_errno)
			c->first_errno = errno;
		return -1;
	}
	/* RST on close: no TIME_WAIT, so the ephemeral ports never run out */
	if (!cfg.graceful && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
		note_error(c, errno);
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&srv_addr, srv_len)) {
		c->failed++;
		if (!c->first_errno)
			c->first_errno = errno;
		close(fd);
		return -1;
	}
	c->connects++;
	return fd;
}

static void client_short(struct counters *c, char *buf)
{
	while (go_on()) {
		int fd = client_connect(c), err = 0;

		if (fd < 0)
			continue;
		if (cfg.mode == MODE_RR) {
			set_nodelay(fd);
			err = write_full(fd, buf, cfg.msg_size);
			if (!err)
				c->sent++;
			if (!err)
				err = read_full(fd, buf, cfg.msg_size);
			if (!err)
				c->received++;
		}
		if (!err && cfg.wait_close) {
			/* the server closes right after accept: its FIN proves the
			 * accept happened before our RST */
			ssize_t r;

			while ((r = recv(fd, buf, cfg.msg_size, 0)) > 0 ||
			       (r < 0 && errno == EINTR))
				;
			if (r < 0)
				err = errno;
		}
		if (err)
			note_error(c, err);
		close(fd);
	}
}

static void client_pingpong(struct counters *c, char *buf)
{
	int fd;

	/* keep trying to connect until the run ends: one failure is not fatal */
	do {
		if (stop_signal || now_ns() >= deadline_ns)
			return;
		fd = client_connect(c);
	} while (fd < 0);
	set_nodelay(fd);
	while (go_on()) {
		int err = write_full(fd, buf, cfg.msg_size);

		if (err) {
			note_error(c, err);
			break;
		}
		c->sent++;
		err = read_full(fd, buf, cfg.msg_size);
		if (err) {
			note_error(c, err);
			break;
		}
		c->received++;
	}
	close(fd);
}

static void *client_main(void *arg)
{
	struct thread *t = arg;
	char *buf = calloc(1, cfg.msg_size);

	pthread_barrier_wait(&start_barrier);
	if (!buf) {
		note_error(&t->c, ENOMEM);
		return NULL;
	}
	memset(buf, 'x', cfg.msg_size);
	if (cfg.mode == MODE_PINGPONG)
		client_pingpong(&t->c, buf);
	else
		client_short(&t->c, buf);
	free(buf);
	return NULL;
}

/* Serve one accepted connection according to the mode. */
static void serve(struct counters *c, int fd, char *buf)
{
	int err = 0;

	switch (cfg.mode) {
	case MODE_CONN:
		break;
	case MODE_RR:
		set_nodelay(fd);
		err = read_full(fd, buf, cfg.msg_size);
		if (!err)
			c->received++;
		if (!err)
			err = write_full(fd, buf, cfg.msg_size);
		if (!err)
			c->sent++;
		break;
	case MODE_PINGPONG:
		set_nodelay(fd);
		for (;;) {
			err = read_full(fd, buf, cfg.msg_size);
			if (err)
				break;
			c->received++;
			err = write_full(fd, buf, cfg.msg_size);
			if (err)
				break;
			c->sent++;
		}
		/* the client ends the conversation: EOF or its RST */
		if (err == ECONNRESET)
			err = 0;
		break;
	}
	if (err)
		note_error(c, err);
	close(fd);
}

static void *server_main(void *arg)
{
	struct thread *t = arg;
	char *buf = calloc(1, cfg.msg_size);

	pthread_barrier_wait(&start_barrier);
	if (!buf) {
		note_error(&t->c, ENOMEM);
		return NULL;
	}
	while (!atomic_load(&servers_stop)) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EINVAL after shutdown() of the listener: the end */
			if (!atomic_load(&servers_stop))
				note_error(&t->c, errno);
			break;
		}
		/* the one writer; main reads it while draining the backlog */
		__atomic_store_n(&t->c.accepts, t->c.accepts + 1, __ATOMIC_RELAXED);
		serve(&t->c, fd, buf);
	}
	free(buf);
	return NULL;
}

static int setup_listener(void)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&srv_addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&srv_addr;
	int one = 1, fd;

	memset(&srv_addr, 0, sizeof(srv_addr));
	if (cfg.ipv6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		srv_len = sizeof(*a6);
	} else {
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		srv_len = sizeof(*a4);
	}
	fd = socket(srv_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a listener of an earlier run may still have sockets around */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&srv_addr, srv_len) ||
	    listen(fd, SOMAXCONN) ||
	    getsockname(fd, (struct sockaddr *)&srv_addr, &srv_len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	listen_fd = fd;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen [OPTIONS]\n"
		"Loopback TCP load; prints one JSON line of ground truth at the end.\n\n"
		"  -m, --mode MODE      conn (default), rr or pingpong\n"
		"  -w, --workers N      client threads (default 2)\n"
		"  -s, --servers N      server threads (default: as many as workers)\n"
		"  -d, --duration SEC   run this long (default 8, fractions allowed)\n"
		"  -n, --count N        stop after N connections (pingpong: round trips) in all\n"
		"  -b, --msg-size N     request/response size in bytes (default 64)\n"
		"  -6, --ipv6           use ::1 instead of 127.0.0.1\n"
		"      --graceful       close with FIN (TIME_WAIT) instead of RST\n"
		"      --wait-close     conn: wait for the server's FIN before closing\n"
		"  -h, --help           this help\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "workers", required_argument, NULL, 'w' },
		{ "servers", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "msg-size", required_argument, NULL, 'b' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "graceful", no_argument, NULL, 'G' },
		{ "wait-close", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "m:w:s:d:n:b:6h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "conn"))
				cfg.mode = MODE_CONN;
			else if (!strcmp(optarg, "rr"))
				cfg.mode = MODE_RR;
			else if (!strcmp(optarg, "pingpong"))
				cfg.mode = MODE_PINGPONG;
			else {
				fprintf(stderr, "loadgen: --mode: unknown mode '%s'\n", optarg);
				return -1;
			}
			break;
		case 'w':
		case 's':
			if (parse_u64(optarg, 1, MAX_THREADS / 2, &v)) {
				fprintf(stderr, "loadgen: --%s: want 1..%d, got '%s'\n",
					c == 'w' ? "workers" : "servers", MAX_THREADS / 2, optarg);
				return -1;
			}
			if (c == 'w')
				cfg.workers = (unsigned)v;
			else
				cfg.servers = (unsigned)v;
			break;
		case 'd':
			errno = 0;
			cfg.duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(cfg.duration_s > 0) ||
			    cfg.duration_s > 86400) {
				fprintf(stderr, "loadgen: --duration: want seconds in (0, 86400], got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &cfg.count)) {
				fprintf(stderr, "loadgen: --count: want a positive number, got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'b':
			if (parse_u64(optarg, 1, MAX_MSG, &v)) {
				fprintf(stderr, "loadgen: --msg-size: want 1..%d, got '%s'\n", MAX_MSG,
					optarg);
				return -1;
			}
			cfg.msg_size = (size_t)v;
			break;
		case '6':
			cfg.ipv6 = true;
			break;
		case 'G':
			cfg.graceful = true;
			break;
		case 'W':
			cfg.wait_close = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!cfg.servers)
		cfg.servers = cfg.workers;
	/* each pingpong connection holds a server thread for its whole life */
	if (cfg.mode == MODE_PINGPONG && cfg.servers < cfg.workers) {
		fprintf(stderr, "loadgen: pingpong needs --servers >= --workers\n");
		return -1;
	}
	return 0;
}

static void sum(const struct thread *t, unsigned n, struct counters *out)
{
	for (unsigned i = 0; i < n; i++) {
		out->connects += t[i].c.connects;
		out->failed += t[i].c.failed;
		out->accepts += t[i].c.accepts;
		out->sent += t[i].c.sent;
		out->received += t[i].c.received;
		out->errors += t[i].c.errors;
		if (!out->first_errno)
			out->first_errno = t[i].c.first_errno;
	}
}

static uint64_t accepted_now(const struct thread *srv, unsigned n)
{
	uint64_t a = 0;

	/* a stale value only makes the drain loop go round once more */
	for (unsigned i = 0; i < n; i++)
		a += __atomic_load_n(&srv[i].c.accepts, __ATOMIC_RELAXED);
	return a;
}

/* Join with a bound (CLOCK_REALTIME, as pthread_timedjoin_np wants it): a
 * thread stuck in a syscall must not hang the benchmark. */
static bool join_bounded(struct thread *t, const struct timespec *until)
{
	if (!t->started)
		return true;
	if (pthread_timedjoin_np(t->tid, NULL, until))
		return false;
	t->started = false;
	return true;
}

int main(int argc, char **argv)
{
	static struct thread clients[MAX_THREADS / 2], servers[MAX_THREADS / 2];
	struct counters cl = {}, sv = {};
	struct sigaction sa = {};
	struct timespec until;
	uint64_t t0, t1, drain_end, conns;
	bool stuck = false;
	double secs;
	int err;

	if (parse_args(argc, argv))
		return 2;
	err = setup_listener();
	if (err) {
		fprintf(stderr, "loadgen: cannot listen on loopback: %s\n", strerror(-err));
		return 1;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* every thread and main start together, so t0 is when the load starts */
	pthread_barrier_init(&start_barrier, NULL, cfg.workers + cfg.servers + 1);
	for (unsigned i = 0; i < cfg.servers; i++) {
		err = pthread_create(&servers[i].tid, NULL, server_main, &servers[i]);
		if (err) {
			fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(err));
			return 1;
		}
		servers[i].started = true;
	}
	for (unsigned i = 0; i < cfg.workers; i++) {
		err = pthread_create(&clients[i].tid, NULL, client_main, &clients[i]);
		if (err) {
			fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(err));
			return 1;
		}
		clients[i].started = true;
	}
	/* set before the barrier, which orders it before every thread's read;
	 * every thread is already waiting there, so t0 is as good as now */
	deadline_ns = now_ns() + (uint64_t)(cfg.duration_s * 1e9);
	pthread_barrier_wait(&start_barrier);
	t0 = now_ns();

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)cfg.duration_s + 1 + JOIN_S;
	for (unsigned i = 0; i < cfg.workers; i++)
		stuck |= !join_bounded(&clients[i], &until);
	t1 = now_ns();
	sum(clients, cfg.workers, &cl);

	/* connections made but not yet accepted are still in the backlog:
	 * let the servers take them before stopping them */
	drain_end = now_ns() + DRAIN_NS;
	while (accepted_now(servers, cfg.servers) < cl.connects && now_ns() < drain_end) {
		struct timespec ts = { .tv_nsec = 1000000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&servers_stop, true);
	/* wakes every thread blocked in accept() with EINVAL */
	shutdown(listen_fd, SHUT_RDWR);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += JOIN_S;
	for (unsigned i = 0; i < cfg.servers; i++)
		stuck |= !join_bounded(&servers[i], &until);
	sum(servers, cfg.servers, &sv);
	close(listen_fd);

	conns = cl.connects < sv.accepts ? cl.connects : sv.accepts;
	secs = (double)(t1 - t0) / 1e9;
	printf("{\"pid\":%d,\"mode\":\"%s\",\"workers\":%u,\"servers\":%u,\"family\":\"%s\","
	       "\"port\":%u,\"close\":\"%s\",\"msg_size\":%zu,\"duration_s\":%.3f,"
	       "\"connections\":%llu,\"client_connects\":%llu,\"server_accepts\":%llu,"
	       "\"failed_connects\":%llu,\"messages_sent\":%llu,\"messages_received\":%llu,"
	       "\"server_messages_sent\":%llu,\"server_messages_received\":%llu,"
	       "\"io_errors\":%llu,\"first_error\":\"%s\",\"conn_per_s\":%.1f,"
	       "\"msg_per_s\":%.1f%s}\n",
	       getpid(), mode_names[cfg.mode], cfg.workers, cfg.servers,
	       cfg.ipv6 ? "ipv6" : "ipv4",
	       ntohs(cfg.ipv6 ? ((struct sockaddr_in6 *)&srv_addr)->sin6_port
			      : ((struct sockaddr_in *)&srv_addr)->sin_port),
	       cfg.graceful ? "fin" : cfg.wait_close ? "rst-after-fin" : "rst", cfg.msg_size,
	       secs, (unsigned long long)conns, (unsigned long long)cl.connects,
	       (unsigned long long)sv.accepts, (unsigned long long)cl.failed,
	       (unsigned long long)cl.sent, (unsigned long long)cl.received,
	       (unsigned long long)sv.sent, (unsigned long long)sv.received,
	       (unsigned long long)(cl.errors + sv.errors),
	       cl.first_errno ? strerror(cl.first_errno) :
	       sv.first_errno ? strerror(sv.first_errno) : "",
	       secs > 0 ? (double)conns / secs : 0.0,
	       secs > 0 ? (double)cl.received / secs : 0.0,
	       stuck ? ",\"stuck_threads\":true" : "");
	fflush(stdout);
	return stuck ? 1 : 0;
}
