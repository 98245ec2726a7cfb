/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syslog sink's state and its transports: local sockets (datagram or
 * stream), UDP, TCP and TLS. Private to outputs/syslog/: syslog.c opens
 * and closes, transport.c connects, send.c writes, tls.c speaks OpenSSL.
 */
#ifndef TS_SYSLOG_TRANSPORT_H
#define TS_SYSLOG_TRANSPORT_H

#include <netdb.h>
#include <openssl/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sink.h"
#include "syslog/conf.h"
#include "syslog/message.h"

#define TS_SL_RING 4096		/* recently written frame ends, for maybe_lost */

/* a frame gathered into out */
struct ts_sl_framed {
	uint32_t end;		/* offset in out just past it */
	bool truncated;
};

struct ts_sl {
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
	struct ts_sl_framed *frames;
	uint32_t frames_cap;

	/* this connection: plaintext bytes taken, and recent frame ends */
	uint64_t conn_bytes;
	uint64_t ring[TS_SL_RING];
	unsigned ring_n, ring_head;

	char *msg;			/* one frame: max_message + TS_SL_FRAMING_MAX */
	size_t msg_cap;

	_Atomic uint64_t sent, truncated, reconnects, maybe_lost;
};

/* transport.c: connections */

/* Resolve the peer, set up TLS, and try the first connection: 0, or -errno
 * and one line in err (-EINVAL for what the configuration got wrong). */
int ts_sl_transport_open(struct ts_output *o, char *err, size_t errlen);
/* At exit: wait a moment for the receiver's acknowledgements, count and
 * say what it did not acknowledge. */
void ts_sl_transport_drain(struct ts_output *o);
/* Close the connection, free what the transport holds; p stays. */
void ts_sl_transport_free(struct ts_sl *p);

/* Connected, or connected now? An outage is said once, its end too. */
bool ts_sl_connected(struct ts_output *o);
/* The connection broke: count what may have been lost, say so, close. */
void ts_sl_conn_broken(struct ts_output *o, const char *why);
/* Did the peer close or reset the (idle) connection? */
bool ts_sl_peer_gone(struct ts_sl *p, const char **why);
/* Close the connection, keeping nothing of what was gathered for it. */
void ts_sl_disconnect(struct ts_sl *p);
/* events on fd until deadline (CLOCK_MONOTONIC ns): >0 ready, 0 timed out,
 * <0 -errno */
int ts_sl_wait_fd(int fd, short events, uint64_t deadline);

enum ts_sl_conn {
	TS_SL_CONN_OK,
	TS_SL_CONN_RETRY,	/* refused, timed out, reset: try again later */
	TS_SL_CONN_VERIFY,	/* the peer's certificate did not verify */
	TS_SL_CONN_TLS,		/* another TLS protocol failure */
};

/* send.c: the write path */

/* write() of the sink: recs [from, from + n) of b. */
enum ts_out_result ts_sl_send(struct ts_output *o, const struct ts_batch *b, uint32_t from,
			      uint32_t n);
/* Forget the frames gathered in out. */
void ts_sl_out_clear(struct ts_sl *p);

/* tls.c */

/* The SSL_CTX from the tls block: 0, or -errno and one line in err. */
int ts_sl_tls_setup(struct ts_sl *p, char *err, size_t errlen);
/* The handshake on the connected p->fd, within deadline; why says what
 * failed. */
enum ts_sl_conn ts_sl_tls_handshake(struct ts_sl *p, uint64_t deadline, char *why, size_t len);
/* SSL_write: >0 bytes taken; 0 nothing now, wait for *ev on the socket;
 * <0 the connection broke, and why says how. */
int ts_sl_tls_send(struct ts_sl *p, const char *buf, size_t len, short *ev, char *why,
		   size_t whylen);
/* End p->ssl (a close_notify unless it failed), leaving the socket. */
void ts_sl_tls_end(struct ts_sl *p);

#endif
