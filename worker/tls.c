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
 * TLS for clients (OpenSSL): one context per listener for its default
 * certificate and one per vhost that has its own, chosen by SNI; TLS
 * 1.2 and 1.3 only; ALPN picks h2 or http/1.1. The key material comes
 * from the master, which read it as root; session tickets are sealed
 * with keys the master made for every worker alike.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "uxrp.h"
#include "worker.h"

struct tls_ctx {
	TAILQ_ENTRY(tls_ctx)	 entry;
	enum tls_owner		 owner;
	int			 id;
	SSL_CTX			*ctx;
};

static TAILQ_HEAD(, tls_ctx)	 tls_ctxs = TAILQ_HEAD_INITIALIZER(tls_ctxs);

static void	tls_conf_origin(const struct tls_material *, const char *);
static struct tls_tickets	 tls_keys;
static int			 tls_have_keys;

static const unsigned char	 tls_alpn_h2[] = "h2";
static const unsigned char	 tls_alpn_h1[] = "http/1.1";

static SSL_CTX *
tls_find(enum tls_owner owner, int id)
{
	struct tls_ctx	*t;

	TAILQ_FOREACH(t, &tls_ctxs, entry)
		if (t->owner == owner && t->id == id)
			return (t->ctx);
	return (NULL);
}

static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int	 i;
	int		 h1 = 0;

	(void)ssl;
	(void)arg;
	/* Ours is the order that counts: h2 first. */
	for (i = 0; i < inlen; i += in[i] + 1) {
		if (i + 1 + in[i] > inlen)
			return (SSL_TLSEXT_ERR_ALERT_FATAL);
		if (in[i] == 2 && memcmp(in + i + 1, tls_alpn_h2, 2) == 0) {
			*out = in + i + 1;
			*outlen = 2;
			return (SSL_TLSEXT_ERR_OK);
		}
		if (in[i] == 8 && memcmp(in + i + 1, tls_alpn_h1, 8) == 0)
			h1 = i + 1;
	}
	if (h1) {
		*out = in + h1;
		*outlen = 8;
		return (SSL_TLSEXT_ERR_OK);
	}
	return (SSL_TLSEXT_ERR_NOACK);
}

static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char		*name;
	struct vhost_conf	*v;
	SSL_CTX			*ctx;

	(void)alert;
	(void)arg;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return (SSL_TLSEXT_ERR_OK);
	v = route_vhost(worker->conf, name, strlen(name));
	if (v != NULL && v->tls.enabled &&
	    (ctx = tls_find(TLS_VHOST, v->id)) != NULL)
		SSL_set_SSL_CTX(ssl, ctx);
	return (SSL_TLSEXT_ERR_OK);
}

static int
tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ticket_key	*k = NULL;
	OSSL_PARAM		 params[3];
	int			 i, r = 1;

	(void)ssl;
	if (!tls_have_keys)
		return (0);
	if (enc) {
		k = &tls_keys.keys[0];
		memcpy(name, k->name, TLS_TICKET_NAME);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return (-1);
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return (-1);
	} else {
		for (i = 0; i < 2; i++)
			if (memcmp(name, tls_keys.keys[i].name,
			    TLS_TICKET_NAME) == 0)
				k = &tls_keys.keys[i];
		if (k == NULL)
			return (0);
		/* Sealed with the previous key: issue a fresh ticket. */
		r = k == &tls_keys.keys[0] ? 1 : 2;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return (-1);
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac, TLS_TICKET_KEY);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)"sha256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return (-1);
	return (r);
}

static int
tls_load(SSL_CTX *ctx, const char *cert, size_t certlen, const char *key,
    size_t keylen)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pkey;
	int		 ok = 0;

	if ((bio = BIO_new_mem_buf(cert, certlen)) == NULL)
		return (-1);
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1)
		goto done;
	X509_free(x);
	/* The rest of the file is the chain. */
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			goto done;
		}
	ERR_clear_error();
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(key, keylen)) == NULL)
		return (-1);
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		goto done;
	ok = SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(pkey);
 done:
	BIO_free(bio);
	return (ok ? 0 : -1);
}

/* A client context for an origin: TLS 1.2 or 1.3, its CA bundle. */
static void
tls_conf_origin(const struct tls_material *m, const char *ca)
{
	struct tls_ctx	*t;
	SSL_CTX		*ctx;
	X509_STORE	*store;
	X509		*x;
	BIO		*bio;
	int		 n = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		fatalx("%s: out of memory", __func__);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Output buffers may move between a short write and its retry. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (m->certlen > 0) {
		store = SSL_CTX_get_cert_store(ctx);
		if ((bio = BIO_new_mem_buf(ca, m->certlen)) == NULL)
			fatalx("%s: out of memory", __func__);
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (X509_STORE_add_cert(store, x) == 1)
				n++;
			X509_free(x);
		}
		ERR_clear_error();
		BIO_free(bio);
		if (n == 0)
			fatalx("origin %d: no certificate in its CA file", m->id);
	}
	t->owner = TLS_ORIGIN;
	t->id = m->id;
	t->ctx = ctx;
	TAILQ_INSERT_TAIL(&tls_ctxs, t, entry);
}

/* A TLS session toward an origin, set to verify as configured. */
SSL *
tls_origin_new(const struct origin_conf *o)
{
	SSL_CTX	*ctx;
	SSL	*ssl;
	char	 sni[UXRP_NAME_MAX];

	if ((ctx = tls_find(TLS_ORIGIN, o->id)) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL)
		return (NULL);
	/* A copy: the macro casts the const name to void *. */
	strlcpy(sni, o->tls.server_name, sizeof(sni));
	if (sni[0] != '\0' && SSL_set_tlsext_host_name(ssl, sni) != 1)
		goto fail;
	if (o->tls.verify) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		/* The name is checked as a host name or an address. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    o->tls.server_name) != 1 &&
		    SSL_set1_host(ssl, o->tls.server_name) != 1)
			goto fail;
	} else
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	return (ssl);
 fail:
	SSL_free(ssl);
	return (NULL);
}

/* IMSG_CONF_TLS: a context for a listener or a vhost. */
void
tls_conf_material(const struct imsg *imsg)
{
	struct tls_material	 m;
	struct tls_ctx		*t;
	const char		*p = imsg->data;
	SSL_CTX			*ctx;

	if (imsg->hdr.len < sizeof(m))
		fatalx("bad TLS message");
	memcpy(&m, p, sizeof(m));
	if (m.certlen > imsg->hdr.len || m.keylen > imsg->hdr.len ||
	    sizeof(m) + m.certlen + m.keylen != imsg->hdr.len ||
	    (m.owner != TLS_LISTENER && m.owner != TLS_VHOST &&
	    m.owner != TLS_ORIGIN))
		fatalx("bad TLS message");
	if (m.owner == TLS_ORIGIN) {
		tls_conf_origin(&m, p + sizeof(m));
		return;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		fatalx("%s: out of memory", __func__);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Output buffers may move between a short write and its retry. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	if (tls_load(ctx, p + sizeof(m), m.certlen, p + sizeof(m) +
	    m.certlen, m.keylen) == -1)
		fatalx("TLS %s %d: the certificate or key does not load",
		    m.owner == TLS_LISTENER ? "listener" : "vhost", m.id);
	/* The key now lives in the context only. */
	explicit_bzero(imsg->data, imsg->hdr.len);
	t->owner = m.owner;
	t->id = m.id;
	t->ctx = ctx;
	TAILQ_INSERT_TAIL(&tls_ctxs, t, entry);
}

void
tls_set_tickets(const struct imsg *imsg)
{
	if (imsg->hdr.len != sizeof(tls_keys))
		fatalx("bad TLS tickets message");
	memcpy(&tls_keys, imsg->data, sizeof(tls_keys));
	explicit_bzero(imsg->data, imsg->hdr.len);
	tls_have_keys = 1;
}

static void
tls_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct client		*c = arg;
	SSL			*ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char	*proto = NULL;
	unsigned int		 plen = 0;

	if (!(events & BEV_EVENT_CONNECTED)) {
		log_debug("client %s: TLS handshake failed", c->addr);
		client_free(c);
		return;
	}
	evtimer_del(c->timer);
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	if (plen == 2 && memcmp(proto, "h2", 2) == 0)
		h2_start(c);
	else
		client_start_h1(c);
}

void
tls_accept(int fd, struct sockaddr *sa, struct wlistener *wl)
{
	struct bufferevent	*bev;
	struct client		*c;
	SSL_CTX			*ctx;
	SSL			*ssl;

	if ((ctx = tls_find(TLS_LISTENER, wl->conf->id)) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL) {
		close(fd);
		return;
	}
	/* Not BEV_OPT_CLOSE_ON_FREE: see tls_bev_free(). */
	bev = bufferevent_openssl_socket_new(worker->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, 0);
	if (bev == NULL) {
		tls_close(fd, ssl);
		return;
	}
	/* A client that leaves without close_notify is not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if ((c = client_new(bev, sa, 1)) == NULL) {
		tls_bev_free(bev, 0);
		return;
	}
	bufferevent_setcb(bev, NULL, NULL, tls_event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	client_timer_set(c, worker->conf->timeouts.request_header);
}

void
tls_close(int fd, SSL *ssl)
{
	SSL_free(ssl);
	close(fd);
}

/*
 * A client's TLS bufferevent leaves its socket and SSL alone when freed,
 * so that a parked connection keeps them (keep); else they go too.
 */
void
tls_bev_free(struct bufferevent *bev, int keep)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);
	int	 fd = bufferevent_getfd(bev);

	bufferevent_free(bev);
	if (!keep && ssl != NULL)
		SSL_free(ssl);
	if (!keep && fd != -1)
		close(fd);
}

/*
 * The SSL of a client with nothing of a record left unread in OpenSSL,
 * which can be parked: its next byte will show on the socket. NULL when
 * OpenSSL holds what the socket will not show again.
 */
SSL *
tls_bev_idle(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || SSL_in_init(ssl) || SSL_has_pending(ssl) ||
	    SSL_get_shutdown(ssl) != 0)
		return (NULL);
	return (ssl);
}

/* A parked TLS connection's next byte: a client bufferevent again. */
struct bufferevent *
tls_bev_resume(int fd, SSL *ssl)
{
	struct bufferevent	*bev;

	bev = bufferevent_openssl_socket_new(worker->base, fd, ssl,
	    BUFFEREVENT_SSL_OPEN, 0);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

/* As much as the socket takes at once, for a connection about to close. */
void
tls_send_now(SSL *ssl, const void *buf, size_t len)
{
	(void)SSL_write(ssl, buf, (int)len);
	ERR_clear_error();
}
