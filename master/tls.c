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
 * TLS material in the master: certificates and keys are read here, as
 * root, checked when the configuration is, and handed to each worker
 * over its socketpair; the key files need not be readable by the
 * worker's user. Session ticket keys are made here and rotated, so
 * that every worker can resume every session.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/event.h>

#include "uxrp.h"
#include "master.h"

#define TLS_ROTATE_SECS		(12 * 3600)
#define TLS_FILE_MAX		(IMSG_MAX_PAYLOAD / 2 - 64)

static struct tls_tickets	 tls_keys;
static struct event		*tls_rotate_ev;

static char *
tls_read_file(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return (NULL);
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > TLS_FILE_MAX) {
		log_warnx("%s: empty, unreadable or larger than %d bytes",
		    path, TLS_FILE_MAX);
		close(fd);
		return (NULL);
	}
	if ((buf = malloc(st.st_size)) == NULL) {
		close(fd);
		return (NULL);
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		log_warnx("%s: short read", path);
		freezero(buf, st.st_size);
		return (NULL);
	}
	*len = n;
	return (buf);
}

static int
tls_send_files(struct imsgbuf *ibuf, enum tls_owner owner, int id,
    const struct tls_files *f)
{
	struct tls_material	 m;
	char			*cert, *key, *msg;
	size_t			 certlen, keylen, len;
	int			 r;

	if (f == NULL) {
		/* An origin verified by nothing: no material, a context. */
		cert = key = NULL;
		certlen = keylen = 0;
	} else if ((cert = tls_read_file(f->certificate, &certlen)) == NULL)
		return (-1);
	else if (f->key[0] == '\0') {
		/* An origin's CA bundle: no key goes with it. */
		key = NULL;
		keylen = 0;
	} else if ((key = tls_read_file(f->key, &keylen)) == NULL) {
		free(cert);
		return (-1);
	}
	memset(&m, 0, sizeof(m));
	m.owner = owner;
	m.id = id;
	m.certlen = certlen;
	m.keylen = keylen;
	len = sizeof(m) + certlen + keylen;
	if ((msg = malloc(len)) == NULL) {
		free(cert);
		freezero(key, keylen);
		return (-1);
	}
	memcpy(msg, &m, sizeof(m));
	if (certlen > 0)
		memcpy(msg + sizeof(m), cert, certlen);
	if (keylen > 0)
		memcpy(msg + sizeof(m) + certlen, key, keylen);
	r = imsg_compose(ibuf, IMSG_CONF_TLS, 0, -1, msg, len);
	free(cert);
	freezero(key, keylen);
	freezero(msg, len);
	return (r);
}

/* Every context a worker of this configuration needs, and the keys. */
int
tls_send_config(struct imsgbuf *ibuf, const struct uxrp_conf *conf)
{
	struct listener_conf	*l;
	struct vhost_conf	*v;
	struct origin_conf	*o;
	struct tls_files	 ca;
	int			 r = 0;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->tls.enabled)
			r |= tls_send_files(ibuf, TLS_LISTENER, l->id, &l->tls);
	TAILQ_FOREACH(v, &conf->vhosts, entry)
		if (v->tls.enabled)
			r |= tls_send_files(ibuf, TLS_VHOST, v->id, &v->tls);
	TAILQ_FOREACH(o, &conf->origins, entry) {
		if (!o->tls.enabled)
			continue;
		memset(&ca, 0, sizeof(ca));
		(void)strlcpy(ca.certificate, o->tls.ca,
		    sizeof(ca.certificate));
		r |= tls_send_files(ibuf, TLS_ORIGIN, o->id,
		    o->tls.ca[0] != '\0' ? &ca : NULL);
	}
	r |= imsg_compose(ibuf, IMSG_TLS_TICKETS, 0, -1, &tls_keys,
	    sizeof(tls_keys));
	return (r);
}

static void
tls_new_key(struct tls_ticket_key *k)
{
	if (RAND_bytes((unsigned char *)k, sizeof(*k)) != 1)
		fatalx("%s: RAND_bytes", __func__);
}

/* The newest key seals; the one before still opens for a while. */
static void
tls_rotate_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	 tv = { TLS_ROTATE_SECS, 0 };

	(void)fd;
	(void)events;
	(void)arg;
	tls_keys.keys[1] = tls_keys.keys[0];
	tls_new_key(&tls_keys.keys[0]);
	proc_broadcast(IMSG_TLS_TICKETS, &tls_keys, sizeof(tls_keys));
	log_debug("session ticket keys rotated");
	evtimer_add(tls_rotate_ev, &tv);
}

void
tls_init(struct event_base *base)
{
	struct timeval	 tv = { TLS_ROTATE_SECS, 0 };

	tls_new_key(&tls_keys.keys[0]);
	tls_new_key(&tls_keys.keys[1]);
	if ((tls_rotate_ev = evtimer_new(base, tls_rotate_cb, NULL)) == NULL ||
	    evtimer_add(tls_rotate_ev, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}
