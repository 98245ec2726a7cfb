// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "net/tls.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

const struct ts_opt ts_tls_opts[] = {
	{ .name = "ca_file", .type = TS_OPT_STRING, .off = offsetof(struct ts_tls_conf, ca_file) },
	{ .name = "cert", .type = TS_OPT_STRING, .off = offsetof(struct ts_tls_conf, cert) },
	{ .name = "key", .type = TS_OPT_STRING, .off = offsetof(struct ts_tls_conf, key) },
	{ .name = "verify", .type = TS_OPT_BOOL, .off = offsetof(struct ts_tls_conf, verify) },
	{ .name = "server_name", .type = TS_OPT_STRING,
	  .off = offsetof(struct ts_tls_conf, server_name) },
	{ .name = NULL },
};

void ts_tls_conf_init(struct ts_tls_conf *t)
{
	memset(t, 0, sizeof(*t));
	t->verify = true;
}

bool ts_tls_given(const struct ts_tls_conf *t)
{
	return t->ca_file || t->cert || t->key || t->server_name || !t->verify;
}

/* A readable regular file; with pem, one that holds a PEM certificate. */
static int check_file(const char *key, const char *path, bool pem, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return ts_errf(err, errlen, "tls.%s: cannot read %s: %s", key, path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return ts_errf(err, errlen, "tls.%s: %s is not a regular file", key, path);
	}
	if (!pem) {
		fclose(f);
		return 0;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return ts_errf(err, errlen, "tls.%s: %s holds no PEM certificate", key, path);
	X509_free(x);
	return 0;
}

int ts_tls_check(const struct ts_tls_conf *t, char *err, size_t errlen)
{
	int rc = 0;

	if (!!t->cert != !!t->key)
		return ts_errf(err, errlen, "tls: a client certificate needs both cert and key");
	if (t->server_name && !*t->server_name)
		return ts_errf(err, errlen, "tls.server_name: empty");
	rc = rc ?: (t->ca_file ? check_file("ca_file", t->ca_file, true, err, errlen) : 0);
	rc = rc ?: (t->cert ? check_file("cert", t->cert, true, err, errlen) : 0);
	rc = rc ?: (t->key ? check_file("key", t->key, false, err, errlen) : 0);
	return rc;
}
