/*
 * Copyright (c) 2026 The uxrp authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * TLS files named by the configuration, checked when it is loaded:
 * what does not load here is an error at its place in the file.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <jansson.h>

#include "uxrp.h"
#include "conf.h"

/* A certificate chain and its key that load and belong together. */
int
tls_check_files(const struct tls_files *f, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	int		 ok = 0;
	unsigned long	 e;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, f->certificate) != 1)
		snprintf(err, errlen, "certificate %s does not load",
		    f->certificate);
	else if (SSL_CTX_use_PrivateKey_file(ctx, f->key,
	    SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "key %s does not match "
			    "certificate %s", f->key, f->certificate);
		} else
			snprintf(err, errlen, "key %s does not load", f->key);
	} else if (SSL_CTX_check_private_key(ctx) != 1)
		snprintf(err, errlen, "key %s does not match certificate %s",
		    f->key, f->certificate);
	else
		ok = 1;
	if (!ok && (e = ERR_peek_last_error()) != 0) {
		size_t	 n = strlen(err);

		snprintf(err + n, errlen - n, " (%s)",
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "unknown error");
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return (ok ? 0 : -1);
}

/* A CA bundle for verifying an origin: it loads and holds a cert. */
int
tls_check_ca(const char *path, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	int	 ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	ok = SSL_CTX_load_verify_file(ctx, path) == 1;
	if (!ok)
		snprintf(err, errlen, "CA file %s does not load", path);
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return (ok ? 0 : -1);
}
