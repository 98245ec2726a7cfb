// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syslog+tls:// (RFC 5425) with OpenSSL: TLS 1.2 at least. The peer is
 * verified by default, against tls.ca_file or the system's CA paths, and
 * its name against tls.server_name or the URL's host (an IP address against
 * the certificate's IP SANs). SNI is sent for names. A client certificate
 * is optional.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "syslog/transport.h"
#include "util.h"

/* The last OpenSSL error's reason, for one line. */
static const char *ssl_reason(void)
{
	return ERR_reason_error_string(ERR_peek_last_error()) ?: "unknown error";
}

/* What the block names: the CAs to verify against, a client certificate. */
static int load_files(SSL_CTX *ctx, const struct ts_tls_conf *t, char *err, size_t errlen)
{
	if (t->verify && (t->ca_file ? !SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL)
				     : !SSL_CTX_set_default_verify_paths(ctx)))
		return ts_errf(err, errlen, "tls.ca_file: cannot load %s: %s",
			       t->ca_file ? t->ca_file : "the system's CA certificates",
			       ssl_reason());
	if (!t->cert)
		return 0;
	if (!SSL_CTX_use_certificate_chain_file(ctx, t->cert))
		return ts_errf(err, errlen, "tls.cert: cannot load %s: %s", t->cert, ssl_reason());
	if (!SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx))
		return ts_errf(err, errlen, "tls.key: cannot use %s with %s: %s", t->key, t->cert,
			       ssl_reason());
	return 0;
}

int ts_sl_tls_setup(struct ts_sl *p, char *err, size_t errlen)
{
	const struct ts_tls_conf *t = &p->conf->tls;

	ERR_clear_error();
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx || !SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION))
		return ts_err(err, errlen, -ENOMEM, "cannot set up TLS: %s",
			      ERR_reason_error_string(ERR_peek_last_error()) ?: "out of memory");
	/* a frame cut short is sent on from the next byte, from a buffer that
	 * may have moved (the run is refilled on a retry) */
	SSL_CTX_set_mode(p->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(p->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return load_files(p->ctx, t, err, errlen);
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

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The name to send and to verify. */
static enum ts_sl_conn set_name(struct ts_sl *p, char *why, size_t len)
{
	const struct ts_tls_conf *t = &p->conf->tls;
	const char *name = t->server_name ? t->server_name : p->url.host;
	bool ip = is_ip_literal(name);

	/* RFC 6066: no IP literals in SNI */
	if (!ip)
		SSL_set_tlsext_host_name(p->ssl, name);
	if (t->verify && !(ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), name)
			      : SSL_set1_host(p->ssl, name))) {
		snprintf(why, len, "cannot set the name to verify: %s", name);
		return TS_SL_CONN_TLS;
	}
	return TS_SL_CONN_OK;
}

enum ts_sl_conn ts_sl_tls_handshake(struct ts_sl *p, uint64_t deadline, char *why, size_t len)
{
	char reason[256];
	int r, e, saved;

	p->ssl = SSL_new(p->ctx);
	if (!p->ssl || !SSL_set_fd(p->ssl, p->fd)) {
		snprintf(why, len, "out of memory");
		return TS_SL_CONN_RETRY;
	}
	if (set_name(p, why, len) != TS_SL_CONN_OK)
		return TS_SL_CONN_TLS;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(p->ssl);
		saved = errno;
		if (r == 1)
			return TS_SL_CONN_OK;
		e = SSL_get_error(p->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		if (!ts_sl_wait_fd(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
			snprintf(why, len, "TLS handshake timed out");
			return TS_SL_CONN_RETRY;
		}
	}
	p->tls_failed = true;
	tls_reason(p->ssl, r, saved, reason, sizeof(reason));
	snprintf(why, len, "TLS handshake with %.200s failed: %.250s", p->peer, reason);
	if (SSL_get_verify_result(p->ssl) != X509_V_OK)
		return TS_SL_CONN_VERIFY;
	return e == SSL_ERROR_SSL ? TS_SL_CONN_TLS : TS_SL_CONN_RETRY;
}

int ts_sl_tls_send(struct ts_sl *p, const char *buf, size_t len, short *ev, char *why,
		   size_t whylen)
{
	int k, e, saved;

	ERR_clear_error();
	errno = 0;
	k = SSL_write(p->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	saved = errno;
	if (k > 0)
		return k;
	e = SSL_get_error(p->ssl, k);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	p->tls_failed = true;
	tls_reason(p->ssl, k, saved, why, whylen);
	return -EPIPE;
}

void ts_sl_tls_end(struct ts_sl *p)
{
	if (!p->ssl)
		return;
	/* a close_notify if the socket takes it now; never wait */
	ERR_clear_error();
	if (!p->tls_failed)
		SSL_shutdown(p->ssl);
	SSL_free(p->ssl);
	p->ssl = NULL;
}
