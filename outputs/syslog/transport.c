// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syslog sink's connections: the local socket and syslog+unix://
 * (datagram, or newline-terminated messages if it is a stream socket), UDP
 * (a connected socket, one message per datagram), TCP and TLS (RFC 6587
 * octet counting). Sockets are non-blocking, with poll() and the timeout.
 *
 * A connection that broke is closed and the next write connects again.
 * Frames written completely before a break may still be lost: the kernel's
 * count of bytes the peer has not acknowledged (SIOCOUTQ) at the break says
 * which ones, and they are counted as maybe_lost. That is an estimate:
 * bytes the peer's kernel acknowledged but its daemon never read are not
 * visible to us (so it can be low), and with TLS the count is of ciphertext
 * (so it can be a little high).
 *
 * The write path (keeping its place in a batch, gathering frames, sending
 * them) is in send.c.
 */
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "syslog/transport.h"
#include "util.h"

int ts_sl_wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		uint64_t now = ts_now_ns(CLOCK_MONOTONIC);
		int ms, r;

		if (now >= deadline)
			return 0;
		ms = (int)((deadline - now + 999999) / 1000000);
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 1;
	}
}

void ts_sl_disconnect(struct ts_sl *p)
{
	ts_sl_tls_end(p);
	p->tls_failed = false;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->conn_bytes = 0;
	p->ring_n = p->ring_head = 0;
	/* a frame cut short goes again whole on the next connection (the
	 * receiver discards the incomplete one) */
	ts_sl_out_clear(p);
}

static void tune_tcp(struct ts_sl *p)
{
	int one = 1;
	uint64_t ut = 2 * p->timeout_ns / 1000000;
	unsigned int ms = ut < 30000 ? 30000 : ut > UINT_MAX ? UINT_MAX : (unsigned int)ut;

	/* frames are already gathered into runs: do not hold a lone event */
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* a peer that vanished without a reset: give up on the connection
	 * (twice the timeout, at least 30 s). A peer that only stopped
	 * reading acknowledges window probes and is waited for. */
	setsockopt(p->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/* A non-blocking connect to one address within the deadline: 0 or -errno. */
static int connect_addr(int fd, const struct sockaddr *sa, socklen_t salen, uint64_t deadline)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (!connect(fd, sa, salen))
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	if (ts_sl_wait_fd(fd, POLLOUT, deadline) <= 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
		return -errno;
	return -soerr;
}

/* /dev/log is a datagram socket where a syslog daemon or journald owns it;
 * a stream socket there is tried when connect says EPROTOTYPE. */
static int open_local(struct ts_sl *p, uint64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	strcpy(sa.sun_path, p->url.path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		p->fd = fd;
		p->stream = false;
		return 0;
	}
	rc = -errno;
	close(fd);
	if (rc != -EPROTOTYPE)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect_addr(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
	if (rc) {
		close(fd);
		return rc;
	}
	p->fd = fd;
	p->stream = true;
	return 0;
}

/* The first address of p->ai that takes a connection: 0 or -errno. */
static int open_net(struct ts_sl *p, uint64_t deadline)
{
	int rc = -EHOSTUNREACH;

	for (struct addrinfo *a = p->ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);

		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (p->url.transport == TS_SL_UDP)
			rc = connect(fd, a->ai_addr, a->ai_addrlen) ? -errno : 0;
		else
			rc = connect_addr(fd, a->ai_addr, a->ai_addrlen, deadline);
		if (!rc) {
			p->fd = fd;
			return 0;
		}
		close(fd);
	}
	return rc;
}

/* Connect (and handshake) within the timeout. */
static enum ts_sl_conn conn_open(struct ts_sl *p, char *why, size_t len)
{
	uint64_t deadline = ts_now_ns(CLOCK_MONOTONIC) + p->timeout_ns;
	bool local = p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX;
	int rc = local ? open_local(p, deadline) : open_net(p, deadline);
	enum ts_sl_conn r;

	if (rc) {
		snprintf(why, len, "cannot connect to %s: %s", p->peer, strerror(-rc));
		return TS_SL_CONN_RETRY;
	}
	if (local || p->url.transport == TS_SL_UDP)
		return TS_SL_CONN_OK;
	tune_tcp(p);
	if (p->url.transport != TS_SL_TLS)
		return TS_SL_CONN_OK;
	r = ts_sl_tls_handshake(p, deadline, why, len);
	if (r != TS_SL_CONN_OK)
		ts_sl_disconnect(p);
	return r;
}

/* Note a failed connect; the first of an outage is said. */
static void conn_failed(struct ts_output *o, const char *why)
{
	struct ts_sl *p = o->priv;

	if (!p->outage)
		ts_output_log(o, "%s; will retry", why);
	p->outage = true;
	p->failed_connects++;
	snprintf(p->last_failure, sizeof(p->last_failure), "%s", why);
}

bool ts_sl_connected(struct ts_output *o)
{
	struct ts_sl *p = o->priv;
	char why[512];

	if (p->fd >= 0)
		return true;
	if (conn_open(p, why, sizeof(why)) != TS_SL_CONN_OK) {
		conn_failed(o, why);
		return false;
	}
	/* the end of an outage after failed attempts is said too */
	if (p->failed_connects)
		ts_output_log(o, "%sconnected to %s after %u failed attempt%s (the last: %s)",
			      p->had_conn ? "re" : "", p->peer, p->failed_connects,
			      p->failed_connects == 1 ? "" : "s", p->last_failure);
	p->outage = false;
	p->failed_connects = 0;
	if (p->had_conn)
		atomic_fetch_add(&p->reconnects, 1);
	p->had_conn = true;
	return true;
}

/* Frames fully written on this connection that the peer had not yet
 * acknowledged: the ones whose end lies in the last `unacked` bytes of the
 * stream. */
static uint64_t frames_unacked(const struct ts_sl *p, uint64_t unacked)
{
	uint64_t from, n = 0;

	if (!unacked)
		return 0;
	from = unacked >= p->conn_bytes ? 0 : p->conn_bytes - unacked;
	for (unsigned i = 0; i < p->ring_n; i++) {
		uint64_t end = p->ring[(p->ring_head + TS_SL_RING - 1 - i) % TS_SL_RING];

		if (end <= from)
			return n;
		n++;
	}
	/* older frames than the ring holds: estimate from their mean size */
	if (p->ring_n == TS_SL_RING) {
		uint64_t oldest = p->ring[p->ring_head % TS_SL_RING];
		uint64_t newest = p->ring[(p->ring_head + TS_SL_RING - 1) % TS_SL_RING];
		uint64_t mean = (newest - oldest) / (TS_SL_RING - 1);

		if (mean && oldest > from)
			n += (oldest - from + mean - 1) / mean;
	}
	return n;
}

void ts_sl_conn_broken(struct ts_output *o, const char *why)
{
	struct ts_sl *p = o->priv;
	int outq = 0;
	uint64_t lost = 0;

	if (p->fd >= 0 && !ioctl(p->fd, SIOCOUTQ, &outq) && outq > 0)
		lost = frames_unacked(p, (uint64_t)outq);
	atomic_fetch_add(&p->maybe_lost, lost);
	if (lost)
		ts_output_log(o, "connection to %s lost (%s); %llu sent message%s may be lost "
			      "(%d bytes unacknowledged); reconnecting", p->peer, why,
			      (unsigned long long)lost, lost == 1 ? "" : "s", outq);
	else
		ts_output_log(o, "connection to %s lost (%s); reconnecting", p->peer, why);
	p->tls_failed = true;	/* no close_notify into a broken connection */
	ts_sl_disconnect(p);
	p->outage = true;	/* said: a failed reconnect need not say more */
}

bool ts_sl_peer_gone(struct ts_sl *p, const char **why)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLRDHUP };

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLERR | POLLHUP)) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		*why = soerr ? strerror(soerr) : "the peer closed the connection";
		return true;
	}
	if (pfd.revents & POLLRDHUP) {
		*why = "the peer closed the connection";
		return true;
	}
	return false;
}

/* The peer's addresses, once: a name that does not resolve at start is a
 * configuration mistake, not an outage. */
static int resolve(struct ts_sl *p, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_socktype = p->url.transport == TS_SL_UDP ? SOCK_DGRAM : SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	char port[8];
	int g;

	snprintf(port, sizeof(port), "%u", p->url.port);
	g = getaddrinfo(p->url.host, port, &hints, &p->ai);
	if (g == EAI_ADDRFAMILY || g == EAI_NONAME) {
		/* AI_ADDRCONFIG hides loopback-only families; try without */
		hints.ai_flags = AI_NUMERICSERV;
		g = getaddrinfo(p->url.host, port, &hints, &p->ai);
	}
	if (g)
		return ts_errf(err, errlen, "cannot resolve %s: %s", p->url.host,
			       g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
	return 0;
}

/* The first connection, at open, on the opening thread: block SIGPIPE
 * around it (the handshake writes, and the main program only ignores
 * SIGPIPE once outputs are open), and drop one that arrived meanwhile. */
static enum ts_sl_conn first_connect(struct ts_sl *p, char *why, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	enum ts_sl_conn r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = conn_open(p, why, len);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* A certificate that does not verify is fatal at start, while the
 * receiver is still being set up; a refused or timed-out connection is
 * only said, and the sink starts and retries. */
int ts_sl_transport_open(struct ts_output *o, char *err, size_t errlen)
{
	struct ts_sl *p = o->priv;
	char why[512];
	int rc = 0;

	if (p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX) {
		snprintf(p->peer, sizeof(p->peer), "%s", p->url.path);
	} else {
		snprintf(p->peer, sizeof(p->peer), strchr(p->url.host, ':') ? "[%s]:%u" : "%s:%u",
			 p->url.host, p->url.port);
		rc = resolve(p, err, errlen);
	}
	if (!rc && p->url.transport == TS_SL_TLS)
		rc = ts_sl_tls_setup(p, err, errlen);
	if (rc)
		return rc;
	switch (first_connect(p, why, sizeof(why))) {
	case TS_SL_CONN_OK:
		p->had_conn = true;
		return 0;
	case TS_SL_CONN_VERIFY:
		return ts_err(err, errlen, -EACCES, "%s", why);
	case TS_SL_CONN_TLS:
		return ts_err(err, errlen, -EPROTO, "%s", why);
	case TS_SL_CONN_RETRY:
		break;
	}
	conn_failed(o, why);
	return 0;
}

/* At exit: give the receiver a moment (the timeout, at most a second) to
 * acknowledge what it was sent, and say what it did not. */
void ts_sl_transport_drain(struct ts_output *o)
{
	struct ts_sl *p = o->priv;
	uint64_t wait = p->timeout_ns < 1000000000ULL ? p->timeout_ns : 1000000000ULL;
	uint64_t deadline = ts_now_ns(CLOCK_MONOTONIC) + wait, lost;
	int outq = 0;

	if (p->fd < 0 || !p->stream)
		return;
	while (!ioctl(p->fd, SIOCOUTQ, &outq) && outq > 0 &&
	       ts_now_ns(CLOCK_MONOTONIC) < deadline) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);	/* acknowledgements wake nothing we could poll */
	}
	if (outq <= 0 || !(lost = frames_unacked(p, (uint64_t)outq)))
		return;
	atomic_fetch_add(&p->maybe_lost, lost);
	ts_output_log(o, "closing with %llu sent message%s not acknowledged by %s (%d bytes); "
		      "they may be lost", (unsigned long long)lost, lost == 1 ? "" : "s", p->peer,
		      outq);
}

void ts_sl_transport_free(struct ts_sl *p)
{
	ts_sl_disconnect(p);
	SSL_CTX_free(p->ctx);
	p->ctx = NULL;
	if (p->ai)
		freeaddrinfo(p->ai);
	p->ai = NULL;
}
