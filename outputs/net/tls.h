/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The "tls" block every network sink takes, with its file checks:
 *   "tls": { "ca_file": PATH, "cert": PATH, "key": PATH, "verify": true,
 *            "server_name": NAME }
 * A sink's option table embeds it with TS_TLS_OPT(offsetof(conf, tls)).
 */
#ifndef TS_NET_TLS_H
#define TS_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"

struct ts_tls_conf {
	char *ca_file;		/* CA certificates (PEM); NULL: the system's */
	char *cert, *key;	/* a client certificate (PEM) and its key */
	char *server_name;	/* the name to verify and send as SNI; NULL: the URL's host */
	bool verify;		/* verify the peer (default true) */
};

extern const struct ts_opt ts_tls_opts[];

#define TS_TLS_OPT(offset) \
	{ .name = "tls", .type = TS_OPT_OBJECT, .off = (offset), .sub = ts_tls_opts }

/* verify on, nothing else */
void ts_tls_conf_init(struct ts_tls_conf *t);
/* Was anything of the block given? (A plain-text URL with a tls block is a
 * mistake to report.) */
bool ts_tls_given(const struct ts_tls_conf *t);
/* cert and key together; ca_file and cert each a readable regular file that
 * holds a PEM certificate, key a readable regular file. 0, or -EINVAL and
 * one line in err naming the key ("tls.ca_file: cannot read ..."). */
int ts_tls_check(const struct ts_tls_conf *t, char *err, size_t errlen);

#endif
