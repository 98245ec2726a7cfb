// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syslog: every event as one syslog message.
 *
 *   -o syslog                      the local socket /dev/log (datagram; a
 *                                  stream socket is used if that is what it is)
 *   -o syslog://HOST[:PORT]        UDP, one message per datagram (also
 *                                  syslog+udp://), port 514
 *   -o syslog+tcp://HOST[:PORT]    TCP, RFC 6587 octet counting, port 514
 *   -o syslog+tls://HOST[:PORT]    TLS (RFC 5425), octet counting, port 6514
 *   -o syslog+unix://PATH          another local socket (like /dev/log)
 *
 * IPv6 hosts go in brackets: syslog+tcp://[2001:db8::1]:514. A host name is
 * resolved once, at open; an unresolvable one is a configuration error.
 *
 *   { "type": "syslog", "url": "syslog+tls://logs.example.com",
 *     "format": "rfc5424", "facility": "daemon", "severity": "info",
 *     "app_name": "tcpship", "hostname": "web1", "sd_id": "tcpship@32473",
 *     "max_message": "8KiB", "timeout": "10s",
 *     "tls": { "ca_file": "/etc/ssl/ca.pem", "cert": "...", "key": "...",
 *              "verify": true, "server_name": "logs.example.com" } }
 *
 * Defaults, and why:
 *
 * - facility daemon, severity info. Retransmits, and closes that failed (an
 *   error, or never established), are raised to notice when the configured
 *   severity is less severe than that: they are what an operator filters for.
 * - format rfc5424 everywhere except the local socket: `-o syslog` sends the
 *   BSD form glibc's syslog(3) sends, `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`,
 *   with no HOSTNAME, because journald (which owns /dev/log on systemd hosts)
 *   does not parse RFC 5424 there (systemd issue #19251) and rsyslog's
 *   imuxsock expects that form too (rsyslog issue #437). "format": "rfc5424"
 *   still works there. rfc3164 on any local socket (syslog, syslog+unix://)
 *   means that local form; over the network it carries HOSTNAME.
 * - sd_id "tcpship@32473": 32473 is the example enterprise number of RFC 5612,
 *   reserved for documentation. Users with a Private Enterprise Number of their
 *   own should set "sd_id": "tcpship@THEIRS".
 * - max_message 8 KiB (rsyslog's default maxMessageSize) on tcp, tls and
 *   local sockets; 2048 on UDP (RFC 5426 3.2: receivers should take 2048;
 *   bigger datagrams fragment). At least 480 (RFC 5424 6.1).
 * - timeout 10s for each connect, TLS handshake and for a send that makes no
 *   progress.
 *
 * The message (RFC 5424):
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID pid=.. comm=..
 *   saddr=.. sport=.. daddr=.. dport=..] MSG
 * TIMESTAMP is the event's time, UTC, in microseconds (RFC 5424 allows no
 * more digits); PROCID is tcpship's pid; MSGID the event type. The SD params
 * come from the kernel header of the record, only those that are known. MSG is
 * the event's JSON line as every other sink gets it, without its newline and
 * without a BOM. comm in SD is any bytes from the kernel: control bytes and
 * invalid UTF-8 become U+FFFD there (the JSON keeps the exact bytes, escaped).
 * No message ever holds a raw control byte, so no newline either.
 *
 * A message longer than max_message is cut inside MSG at a UTF-8 boundary
 * and marked: rfc5424 adds truncated="N" (N: MSG's length in bytes before
 * the cut) to the SD element; rfc3164 ends MSG with " [truncated N]". It is
 * counted (truncated=). At open the worst case header (longest addresses,
 * hostile comm) must fit, so no record is ever unsendable.
 *
 * Delivery. The core gives the sink its own queue and thread, and retries
 * what write() classifies as RETRY with capped, jittered backoff; by default
 * a full queue drops (counted) so a dead receiver never stalls tracing. A
 * write keeps its place in the batch: a retry resumes at the first record not
 * yet sent, none sent twice on one connection and none skipped.
 *
 * - UDP: a connected socket. ECONNREFUSED (an ICMP error for an earlier
 *   datagram: that one was lost, counted maybe_lost) and ENOBUFS retry.
 * - TCP/TLS: non-blocking, with poll() and the timeout. Frames are written in
 *   runs of up to 64 KiB. A send that makes no progress for `timeout` (a
 *   receiver that stopped reading) retries later on the same connection, at
 *   the same byte. A broken connection (reset, closed by the peer) is closed;
 *   the next write reconnects. A frame whose write the break cut short is
 *   sent again whole on the new connection (the receiver discards the
 *   incomplete one). Frames written completely before the break may still
 *   have been lost: the kernel's count of bytes not yet acknowledged
 *   (SIOCOUTQ) at the break says which ones, and they are counted as
 *   maybe_lost. That is an estimate: bytes the peer's kernel acknowledged but
 *   its daemon never read are not visible to us (so it can be low), and
 *   with TLS the count is of ciphertext (so it can be a little high). One
 *   line is logged per disconnect.
 *   TCP_USER_TIMEOUT (twice `timeout`, at least 30 s) ends a connection
 *   whose peer vanished without a reset; a peer that only stopped reading
 *   acknowledges window probes and is waited for. Before writing into an
 *   idle connection the sink checks whether the peer closed it meanwhile (a
 *   restarted receiver), so that costs a reconnect and not a lost run. At
 *   exit it waits (the timeout, at most 1 s) for the receiver to acknowledge
 *   what it was sent, and logs what it did not.
 * - TLS: TLS 1.2 at least; the peer is verified by default against tls.ca_file
 *   or the system's CA paths, and its name against the URL's host or
 *   tls.server_name (IP addresses against IP SANs); SNI is sent for names;
 *   a client certificate is optional. At open the first connection is tried
 *   synchronously: a certificate that does not verify, or an unreadable
 *   cert/key/CA file, is fatal; a refused or timed-out connection is only a
 *   warning, and the sink starts and retries.
 * - local sockets: datagram, or newline-terminated messages on a stream
 *   socket. ECONNREFUSED (the daemon went away) closes and reconnects.
 *
 * Counters (exit and --stats lines): sent truncated reconnects maybe_lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shape.h"
#include "sink.h"
#include "syslog/conf.h"
#include "syslog/message.h"

/* ---- the sink ---- */

#define FILL_BYTES (64 * 1024)	/* frames gathered per stream write */
#define RING 4096		/* recently written frame ends, for maybe_lost */

struct frame {
	uint32_t end;		/* offset in out just past it */
	bool truncated;
};

struct priv {
	const struct ts_sl_conf *conf;
	struct ts_sl_url url;
	struct ts_sl_fmt fmt;
	char peer[300];			/* "host:port" or the socket path */
	struct addrinfo *ai;		/* udp/tcp/tls */
	uint64_t timeout_ns;
	bool stream;			/* tcp, tls, or a local stream socket */
	bool octets;			/* octet counting (tcp, tls), else newline */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool tls_failed;		/* no close_notify after a fatal error */
	bool had_conn;			/* a connection worked once: next ones are reconnects */
	bool outage;			/* not connected, and that was said */
	unsigned failed_connects;	/* in this outage */
	char last_failure[512];
	uint64_t refused_logged_ns;	/* udp: when a refusal was last said */
	uint64_t refused;		/* udp: refusals since */

	/* progress in the batch being written */
	const struct ts_batch *b;
	uint64_t b_seq;			/* its first seq: a new batch at the same address is new */
	uint32_t next;			/* first record not yet sent */

	/* stream: frames of recs [out_first, out_first + out_n) */
	struct ts_buf out;
	size_t out_done;		/* bytes of out the connection took */
	uint32_t out_first, out_n, out_complete;
	struct frame *frames;
	uint32_t frames_cap;

	/* this connection: plaintext bytes taken, and recent frame ends */
	uint64_t conn_bytes;
	uint64_t ring[RING];
	unsigned ring_n, ring_head;

	char *msg;			/* one message: max_message + framing */
	size_t msg_cap;

	_Atomic uint64_t sent, truncated, reconnects, maybe_lost;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Wait for events on fd until deadline: >0 ready, 0 timed out, <0 -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		uint64_t now = now_ns();
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

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void conn_reset(struct priv *p)
{
	if (p->ssl) {
		/* a close_notify if the socket takes it now; never wait */
		ERR_clear_error();
		if (!p->tls_failed)
			SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	p->tls_failed = false;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->conn_bytes = 0;
	p->ring_n = p->ring_head = 0;
	/* a frame cut short goes again whole on the next connection */
	p->out.len = 0;
	p->out_done = 0;
	p->out_n = p->out_complete = 0;
}

/* The OpenSSL reason for a failed handshake or write, for one line. */
static void tls_reason(SSL *ssl, int ret, int saved_errno, char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (ssl && vr != X509_V_OK)
		snprintf(buf, len, "%s (%s)", reason ? reason : "certificate verify failed",
			 X509_verify_cert_error_string(vr));
	else if (reason)
		snprintf(buf, len, "%s", reason);
	else if (ssl && SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && saved_errno)
		snprintf(buf, len, "%s", strerror(saved_errno));
	else
		snprintf(buf, len, "the peer closed the connection");
}

enum conn_result {
	CONN_OK,
	CONN_RETRY,		/* refused, timed out, reset: try again later */
	CONN_VERIFY,		/* the peer's certificate did not verify */
	CONN_TLS,		/* another TLS protocol failure */
};

static enum conn_result tls_handshake(struct priv *p, uint64_t deadline, char *why, size_t len)
{
	const struct ts_sl_conf *c = p->conf;
	const char *name = c->tls.server_name ? c->tls.server_name : p->url.host;

	p->ssl = SSL_new(p->ctx);
	if (!p->ssl || !SSL_set_fd(p->ssl, p->fd)) {
		snprintf(why, len, "out of memory");
		return CONN_RETRY;
	}
	/* RFC 6066: no IP literals in SNI */
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(p->ssl, name);
	if (c->tls.verify) {
		int ok = is_ip_literal(name) ?
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), name) :
			SSL_set1_host(p->ssl, name);

		if (!ok) {
			snprintf(why, len, "cannot set the name to verify: %s", name);
			return CONN_TLS;
		}
	}
	for (;;) {
		int r, e, saved;

		ERR_clear_error();
		errno = 0;
		r = SSL_connect(p->ssl);
		saved = errno;
		if (r == 1)
			return CONN_OK;
		e = SSL_get_error(p->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = wait_fd(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);

			if (w == 0) {
				snprintf(why, len, "TLS handshake timed out");
				return CONN_RETRY;
			}
			continue;
		}
		char reason[256];

		p->tls_failed = true;
		tls_reason(p->ssl, r, saved, reason, sizeof(reason));
		snprintf(why, len, "TLS handshake with %.200s failed: %.250s", p->peer, reason);
		if (SSL_get_verify_result(p->ssl) != X509_V_OK)
			return CONN_VERIFY;
		return e == SSL_ERROR_SSL ? CONN_TLS : CONN_RETRY;
	}
}

static void tune_tcp(struct priv *p)
{
	int one = 1;
	uint64_t ut = 2 * p->timeout_ns / 1000000;
	unsigned int ms = ut < 30000 ? 30000 : ut > UINT_MAX ? UINT_MAX : (unsigned int)ut;

	/* frames are already gathered into runs: do not hold a lone event */
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* a peer that vanished without a reset: give up on the connection */
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
	if (wait_fd(fd, POLLOUT, deadline) <= 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
		return -errno;
	return -soerr;
}

static int open_local(struct priv *p, uint64_t deadline)
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
	/* a stream socket there: newline-terminated messages */
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

/* Connect (and handshake) within the timeout. */
static enum conn_result conn_open(struct priv *p, char *why, size_t len)
{
	uint64_t deadline = now_ns() + p->timeout_ns;
	int rc = -EHOSTUNREACH;

	if (p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX) {
		rc = open_local(p, deadline);
		if (rc) {
			snprintf(why, len, "cannot connect to %s: %s", p->peer, strerror(-rc));
			return CONN_RETRY;
		}
		return CONN_OK;
	}
	for (struct addrinfo *a = p->ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);

		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = p->url.transport == TS_SL_UDP ? (connect(fd, a->ai_addr, a->ai_addrlen) ?
						     -errno : 0)
						   : connect_addr(fd, a->ai_addr, a->ai_addrlen,
								  deadline);
		if (!rc) {
			p->fd = fd;
			break;
		}
		close(fd);
	}
	if (p->fd < 0) {
		snprintf(why, len, "cannot connect to %s: %s", p->peer, strerror(-rc));
		return CONN_RETRY;
	}
	if (p->url.transport == TS_SL_UDP)
		return CONN_OK;
	tune_tcp(p);
	if (p->url.transport == TS_SL_TLS) {
		enum conn_result r = tls_handshake(p, deadline, why, len);

		if (r != CONN_OK)
			conn_reset(p);
		return r;
	}
	return CONN_OK;
}

/* (Re)connect from a worker. One line when a disconnect or a failed
 * connect starts an outage; when it ends after failed attempts, one more. */
static bool ensure_conn(struct ts_output *o)
{
	struct priv *p = o->priv;
	char why[512];

	if (p->fd >= 0)
		return true;
	if (conn_open(p, why, sizeof(why)) != CONN_OK) {
		if (!p->outage)
			ts_output_log(o, "%s; will retry", why);
		p->outage = true;
		p->failed_connects++;
		snprintf(p->last_failure, sizeof(p->last_failure), "%s", why);
		return false;
	}
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
 * acknowledged when it broke: the ones whose end lies in the last `unacked`
 * bytes of the stream. */
static uint64_t frames_unacked(const struct priv *p, uint64_t unacked)
{
	uint64_t from, n = 0;

	if (!unacked)
		return 0;
	from = unacked >= p->conn_bytes ? 0 : p->conn_bytes - unacked;
	for (unsigned i = 0; i < p->ring_n; i++) {
		uint64_t end = p->ring[(p->ring_head + RING - 1 - i) % RING];

		if (end <= from)
			return n;
		n++;
	}
	/* older frames than the ring holds: estimate from their mean size */
	if (p->ring_n == RING) {
		uint64_t oldest = p->ring[p->ring_head % RING];
		uint64_t newest = p->ring[(p->ring_head + RING - 1) % RING];
		uint64_t mean = (newest - oldest) / (RING - 1);

		if (mean && oldest > from)
			n += (oldest - from + mean - 1) / mean;
	}
	return n;
}

/* The connection broke: count what may have been lost, say so, close. */
static void conn_broken(struct ts_output *o, const char *why)
{
	struct priv *p = o->priv;
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
	conn_reset(p);
	p->outage = true;	/* said: a failed reconnect need not say more */
}

/* Did the peer close or reset an idle connection? Checked before writing
 * into it, so a restarted receiver costs a reconnect, not a lost run. */
static bool peer_gone(struct priv *p, const char **why)
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

/* Position in (b, from, n): resume, or start over on a new batch. */
static void sync_batch(struct ts_output *o, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	uint64_t seq = b->recs[from].seq;

	if (p->b == b && p->b_seq == seq && p->next >= from && p->next <= from + n)
		return;
	if (p->out_done && p->out_done < p->out.len && p->fd >= 0) {
		/* the core gave up on a batch mid-frame (exit deadline): the
		 * frame can only be finished by ending the connection */
		conn_broken(o, "given up with a message half-sent");
	}
	p->out.len = p->out_done = 0;
	p->out_n = p->out_complete = 0;
	p->b = b;
	p->b_seq = seq;
	p->next = from;
}

/* One record's frame into p->msg: returns its length, or -EMSGSIZE. */
static int frame_of(struct priv *p, const struct ts_batch *b, uint32_t i, bool *truncated)
{
	const struct ts_rec *r = &b->recs[i];
	enum ts_sl_framing fr = p->octets ? TS_SL_OCTETS : p->stream ? TS_SL_NEWLINE : TS_SL_BARE;

	return ts_sl_frame(&p->fmt, fr, r, b->data + r->off, r->len, p->msg, p->msg_cap, truncated);
}

/* Gather frames from p->next into out, up to FILL_BYTES. */
static int fill(struct priv *p, const struct ts_batch *b, uint32_t end)
{
	p->out.len = p->out_done = 0;
	p->out_first = p->next;
	p->out_n = p->out_complete = 0;
	for (uint32_t i = p->next; i < end && p->out.len < FILL_BYTES; i++) {
		bool trunc = false;
		int n = frame_of(p, b, i, &trunc);

		if (p->out_n == p->frames_cap) {
			uint32_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
			struct frame *f = realloc(p->frames, sizeof(*f) * cap);

			if (!f)
				return -ENOMEM;
			p->frames = f;
			p->frames_cap = cap;
		}
		/* open() proved the worst header fits: this cannot fail, and if
		 * it did the record becomes an empty frame, not a stuck batch */
		if (n > 0 && ts_buf_append(&p->out, p->msg, (size_t)n))
			return -ENOMEM;
		p->frames[p->out_n].end = (uint32_t)p->out.len;
		p->frames[p->out_n].truncated = trunc;
		p->out_n++;
	}
	return 0;
}

/* The connection took r more bytes of out. */
static void advance(struct priv *p, size_t r)
{
	p->out_done += r;
	p->conn_bytes += r;
	while (p->out_complete < p->out_n && p->frames[p->out_complete].end <= p->out_done) {
		const struct frame *f = &p->frames[p->out_complete];
		uint32_t start = p->out_complete ? p->frames[p->out_complete - 1].end : 0;

		if (f->end > start) {
			p->ring[p->ring_head] = p->conn_bytes - (p->out_done - f->end);
			p->ring_head = (p->ring_head + 1) % RING;
			if (p->ring_n < RING)
				p->ring_n++;
			atomic_fetch_add(&p->sent, 1);
			if (f->truncated)
				atomic_fetch_add(&p->truncated, 1);
		}
		p->out_complete++;
	}
	p->next = p->out_first + p->out_complete;
}

/* Write the rest of out: 0 when all of it went, -ETIMEDOUT when nothing
 * moved for `timeout`, another -errno when the connection broke (why set). */
static int send_out(struct priv *p, const char **why, char *buf, size_t len)
{
	uint64_t deadline = now_ns() + p->timeout_ns;

	while (p->out_done < p->out.len) {
		size_t left = p->out.len - p->out_done;
		short ev = POLLOUT;

		if (p->ssl) {
			int k, e, saved;

			ERR_clear_error();
			errno = 0;
			k = SSL_write(p->ssl, p->out.p + p->out_done,
				      left > INT_MAX ? INT_MAX : (int)left);
			saved = errno;
			if (k > 0) {
				advance(p, (size_t)k);
				deadline = now_ns() + p->timeout_ns;
				continue;
			}
			e = SSL_get_error(p->ssl, k);
			if (e == SSL_ERROR_WANT_READ) {
				ev = POLLIN;
			} else if (e != SSL_ERROR_WANT_WRITE) {
				p->tls_failed = true;
				tls_reason(p->ssl, k, saved, buf, len);
				*why = buf;
				return -EPIPE;
			}
		} else {
			ssize_t k = send(p->fd, p->out.p + p->out_done, left,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (k > 0) {
				advance(p, (size_t)k);
				deadline = now_ns() + p->timeout_ns;
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno != EAGAIN) {
				*why = strerror(errno);
				return -errno;
			}
		}
		int w = wait_fd(p->fd, ev, deadline);

		if (w == 0)
			return -ETIMEDOUT;
		if (w < 0) {
			*why = strerror(-w);
			return w;
		}
	}
	return 0;
}

static enum ts_out_result write_dgram(struct ts_output *o, const struct ts_batch *b,
				      uint32_t end);

static enum ts_out_result write_stream(struct ts_output *o, const struct ts_batch *b,
				       uint32_t end)
{
	struct priv *p = o->priv;
	char buf[256];

	for (;;) {
		const char *why = NULL;
		int rc;

		if (p->out_done == p->out.len) {
			if (p->next >= end)
				return TS_OUT_OK;
			if (fill(p, b, end))
				return TS_OUT_RETRY;
			if (!p->out.len) {	/* only empty frames */
				advance(p, 0);
				continue;
			}
		}
		/* a receiver that restarted while we were idle */
		if (p->fd >= 0 && !p->out_done && peer_gone(p, &why))
			conn_broken(o, why);	/* out is refilled below */
		if (!ensure_conn(o))
			return TS_OUT_RETRY;
		if (!p->stream) {	/* a local socket that is a datagram one now */
			p->out.len = p->out_done = 0;
			p->out_n = p->out_complete = 0;
			return write_dgram(o, b, end);
		}
		if (!p->out.len && fill(p, b, end))
			return TS_OUT_RETRY;
		rc = send_out(p, &why, buf, sizeof(buf));
		if (rc == -ETIMEDOUT)
			return TS_OUT_RETRY;	/* same connection, same byte, later */
		if (rc) {
			conn_broken(o, why);
			return TS_OUT_RETRY;
		}
		p->out.len = p->out_done = 0;
		p->out_n = p->out_complete = 0;
	}
}

static enum ts_out_result write_dgram(struct ts_output *o, const struct ts_batch *b,
				      uint32_t end)
{
	struct priv *p = o->priv;

	while (p->next < end) {
		bool trunc = false;
		int n;
		ssize_t k;

		if (!ensure_conn(o))
			return TS_OUT_RETRY;
		if (p->stream)	/* the local socket turned out to be a stream one */
			return write_stream(o, b, end);
		n = frame_of(p, b, p->next, &trunc);
		if (n < 0) {	/* cannot happen after open()'s check: skip, not stall */
			p->next++;
			continue;
		}
		k = send(p->fd, p->msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k >= 0) {
			atomic_fetch_add(&p->sent, 1);
			if (trunc)
				atomic_fetch_add(&p->truncated, 1);
			p->next++;
			continue;
		}
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			if (wait_fd(p->fd, POLLOUT, now_ns() + p->timeout_ns) > 0)
				continue;
			return TS_OUT_RETRY;
		case ECONNREFUSED:
			if (p->url.transport == TS_SL_UDP) {
				uint64_t now = now_ns();

				/* the ICMP error of an earlier datagram: that one is gone.
				 * Said at most once a minute: a dead UDP receiver
				 * refuses every other datagram. */
				atomic_fetch_add(&p->maybe_lost, 1);
				p->refused++;
				if (!p->refused_logged_ns ||
				    now - p->refused_logged_ns > 60 * 1000000000ULL) {
					ts_output_log(o, "%s refused %llu message%s (nobody "
						      "listening?); will retry", p->peer,
						      (unsigned long long)p->refused,
						      p->refused == 1 ? "" : "s");
					p->refused_logged_ns = now;
					p->refused = 0;
				}
				return TS_OUT_RETRY;
			}
			/* the daemon's socket went away: connect again later */
			ts_output_log(o, "%s: %s; reconnecting", p->peer, strerror(errno));
			conn_reset(p);
			p->outage = true;
			return TS_OUT_RETRY;
		case ENOBUFS:
		case ENOMEM:
			return TS_OUT_RETRY;
		default:
			ts_output_log(o, "sending to %s failed: %s; reconnecting", p->peer,
				      strerror(errno));
			conn_reset(p);
			p->outage = true;
			return TS_OUT_RETRY;
		}
	}
	return TS_OUT_OK;
}

static enum ts_out_result syslog_write(struct ts_output *o, const struct ts_batch *b,
				       uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	enum ts_out_result r;

	if (!n)
		return TS_OUT_OK;
	sync_batch(o, b, from, n);
	r = p->stream ? write_stream(o, b, from + n) : write_dgram(o, b, from + n);
	if (r == TS_OUT_OK)
		p->b = NULL;
	return r;
}

static int tls_setup(struct priv *p, char *err, size_t errlen)
{
	const struct ts_sl_conf *c = p->conf;
	unsigned long e;

	ERR_clear_error();
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx || !SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "cannot set up TLS: %s",
			 ERR_reason_error_string(ERR_peek_last_error()) ?: "out of memory");
		return -ENOMEM;
	}
	SSL_CTX_set_mode(p->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(p->ctx, c->tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (c->tls.verify) {
		if (c->tls.ca_file ? !SSL_CTX_load_verify_locations(p->ctx, c->tls.ca_file, NULL)
				   : !SSL_CTX_set_default_verify_paths(p->ctx)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.ca_file: cannot load %s: %s",
				 c->tls.ca_file ? c->tls.ca_file : "the system's CA certificates",
				 ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
	}
	if (c->tls.cert) {
		if (!SSL_CTX_use_certificate_chain_file(p->ctx, c->tls.cert)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.cert: cannot load %s: %s", c->tls.cert,
				 ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
		if (!SSL_CTX_use_PrivateKey_file(p->ctx, c->tls.key, SSL_FILETYPE_PEM) ||
		    !SSL_CTX_check_private_key(p->ctx)) {
			e = ERR_peek_last_error();
			snprintf(err, errlen, "tls.key: cannot use %s with %s: %s", c->tls.key,
				 c->tls.cert, ERR_reason_error_string(e) ?: "unknown error");
			return -EINVAL;
		}
	}
	return 0;
}

static void syslog_free(struct priv *p)
{
	if (!p)
		return;
	conn_reset(p);
	SSL_CTX_free(p->ctx);
	if (p->ai)
		freeaddrinfo(p->ai);
	ts_buf_free(&p->out);
	free(p->frames);
	free(p->msg);
	free(p);
}

/* The first connection, at open, on the opening thread: block SIGPIPE
 * around it (the handshake writes, and the main program only ignores
 * SIGPIPE once outputs are open), and drop one that arrived meanwhile. */
static enum conn_result first_connect(struct priv *p, char *why, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	enum conn_result r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = conn_open(p, why, len);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int syslog_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	const struct ts_sl_conf *c = conf;
	const char *url = c->url ? c->url : "syslog";
	struct priv *p = calloc(1, sizeof(*p));
	bool local;
	char why[512];
	int rc;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->conf = c;
	p->fd = -1;
	p->timeout_ns = c->timeout_ns;
	rc = ts_sl_parse_url(url, &p->url, err, errlen);
	if (rc)
		goto fail;
	local = p->url.transport == TS_SL_LOCAL || p->url.transport == TS_SL_UNIX;
	p->stream = p->url.transport == TS_SL_TCP || p->url.transport == TS_SL_TLS;
	p->octets = p->stream;
	snprintf(o->name, sizeof(o->name), "%s", url);

	rc = ts_sl_conf_message(c, &p->url, o->run, &p->fmt, err, errlen);
	if (rc)
		goto fail;
	p->msg_cap = p->fmt.max_message + TS_SL_FRAMING_MAX;
	p->msg = malloc(p->msg_cap);
	if (!p->msg) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}

	/* the transport */
	rc = ts_sl_conf_tls(c, &p->url, err, errlen);
	if (rc)
		goto fail;
	if (local) {
		snprintf(p->peer, sizeof(p->peer), "%s", p->url.path);
	} else {
		struct addrinfo hints = {
			.ai_socktype = p->url.transport == TS_SL_UDP ? SOCK_DGRAM : SOCK_STREAM,
			.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
		};
		char port[8];
		int g;

		snprintf(port, sizeof(port), "%u", p->url.port);
		snprintf(p->peer, sizeof(p->peer), strchr(p->url.host, ':') ? "[%s]:%u" : "%s:%u",
			 p->url.host, p->url.port);
		g = getaddrinfo(p->url.host, port, &hints, &p->ai);
		if (g == EAI_ADDRFAMILY || g == EAI_NONAME) {
			/* AI_ADDRCONFIG hides loopback-only families; try without */
			hints.ai_flags = AI_NUMERICSERV;
			g = getaddrinfo(p->url.host, port, &hints, &p->ai);
		}
		if (g) {
			snprintf(err, errlen, "cannot resolve %s: %s", p->url.host,
				 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
			rc = -EINVAL;
			goto fail;
		}
	}
	if (p->url.transport == TS_SL_TLS) {
		rc = tls_setup(p, err, errlen);
		if (rc)
			goto fail;
	}
	switch (first_connect(p, why, sizeof(why))) {
	case CONN_OK:
		p->had_conn = true;
		break;
	case CONN_VERIFY:
		snprintf(err, errlen, "%s", why);
		rc = -EACCES;
		goto fail;
	case CONN_TLS:
		snprintf(err, errlen, "%s", why);
		rc = -EPROTO;
		goto fail;
	case CONN_RETRY:
		o->priv = p;
		ts_output_log(o, "%s; will retry", why);
		p->outage = true;
		p->failed_connects = 1;
		snprintf(p->last_failure, sizeof(p->last_failure), "%s", why);
		break;
	}
	o->priv = p;
	return 0;
fail:
	syslog_free(p);
	o->priv = NULL;
	return rc;
}

/* At exit: give the receiver a moment (the timeout, at most a second) to
 * acknowledge what it was sent, and say what it did not. */
static void drain_at_close(struct ts_output *o)
{
	struct priv *p = o->priv;
	uint64_t wait = p->timeout_ns < 1000000000ULL ? p->timeout_ns : 1000000000ULL;
	uint64_t deadline = now_ns() + wait, lost;
	int outq = 0;

	if (p->fd < 0 || !p->stream)
		return;
	while (!ioctl(p->fd, SIOCOUTQ, &outq) && outq > 0 && now_ns() < deadline) {
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

static void syslog_close(struct ts_output *o)
{
	if (o->priv)
		drain_at_close(o);
	syslog_free(o->priv);
	o->priv = NULL;
}

static int syslog_format(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			 uint32_t n, struct ts_buf *out)
{
	struct priv *p = o->priv;
	/* datagrams: one message per line here, the '\n' marks where one
	 * datagram ends and is not sent */
	enum ts_sl_framing fr = p->octets ? TS_SL_OCTETS : TS_SL_NEWLINE;
	int rc = 0;

	for (uint32_t i = from; i < from + n && !rc; i++) {
		const struct ts_rec *r = &b->recs[i];
		bool trunc;
		int len;

		rc = ts_buf_reserve(out, p->msg_cap);
		if (rc)
			break;
		len = ts_sl_frame(&p->fmt, fr, r, b->data + r->off, r->len, out->p + out->len,
				  p->msg_cap, &trunc);
		if (len < 0)
			rc = len;
		else
			out->len += (size_t)len;
	}
	return rc;
}

static int syslog_counters(struct ts_output *o, char *buf, size_t len)
{
	struct priv *p = o->priv;

	return snprintf(buf, len, "sent=%llu truncated=%llu reconnects=%llu maybe_lost=%llu",
			(unsigned long long)atomic_load(&p->sent),
			(unsigned long long)atomic_load(&p->truncated),
			(unsigned long long)atomic_load(&p->reconnects),
			(unsigned long long)atomic_load(&p->maybe_lost));
}

const struct ts_output_ops ts_output_syslog = {
	.type = "syslog",
	.match = ts_sl_match,
	.conf_size = sizeof(struct ts_sl_conf),
	.opts = ts_sl_opts,
	.conf_init = ts_sl_conf_init,
	.conf_spec = ts_sl_conf_spec,
	.check = ts_sl_check,
	.open = syslog_open,
	.write = syslog_write,
	.close = syslog_close,
	.format = syslog_format,
	.counters = syslog_counters,
	.default_drop_when_full = true,
};
