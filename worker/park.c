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
 * Keep-alive connections that stay idle give back their buffers: after
 * PARK_AFTER_MS without a byte, an HTTP/1.x connection is held by a
 * small record (one event for both its next byte and its idle timeout,
 * the client's address, and over TLS its SSL) instead of its client,
 * bufferevent and timer; an HTTP/2 one by the same and what h2park.c
 * keeps of its session. Its next byte makes it a client again;
 * its close just ends it. A client sending request after request never
 * parks and pays nothing for this. The wait is a second: with 10000
 * clients each sending a request every few hundred milliseconds, a
 * shorter one parked and woke a connection for nearly every request.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include <openssl/ssl.h>

#include "uxrp.h"
#include "worker.h"

#define PARK_TRIM_AFTER	256	/* parked or closed since the last trim */
#define PARK_SWEEP	256	/* closed per walk at shutdown */
#define PARK_TRIM_GAP_US 100000	/* between two trims, at least */

struct parked {
	struct event		 ev;	/* its next byte, or idle too long */
	struct h2_nap		*nap;	/* HTTP/2: what its session knew */
	SSL			*ssl;	/* TLS: its connection state */
	uint8_t			 family;
	uint8_t			 addr[16];
	uint16_t		 port;	/* network order */
};

struct park_sweep {
	struct parked		*p[PARK_SWEEP];
	int			 n;
};

int		 worker_nparked;
int		 worker_nasleep;
static struct slab park_slab = { sizeof(struct parked), { NULL }, 0 };
static int	 released_since_trim;	/* connections parked or closed */

static void	 park_trim_now(void);

/* The client address back, as client_new() takes it. */
static void
park_peer(const struct parked *p, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = p->family;
	if (p->family == AF_INET) {
		memcpy(&sin->sin_addr, p->addr, sizeof(sin->sin_addr));
		sin->sin_port = p->port;
	} else if (p->family == AF_INET6) {
		memcpy(&sin6->sin6_addr, p->addr, sizeof(sin6->sin6_addr));
		sin6->sin6_port = p->port;
	}
}

/*
 * The parked event stays added (EV_PERSIST) until the bufferevent taking
 * over has added its own for the socket: libevent then changes nothing
 * in the epoll set, where a delete and an add of the same socket in one
 * turn cost an epoll_ctl(MOD). Likewise client_park() adds it first.
 */
static void
park_forget(struct parked *p)
{
	event_del(&p->ev);
	slab_put(&park_slab, p);
}

/* The socket, and its TLS, of a parked connection that will not wake. */
static void
park_close(int fd, SSL *ssl)
{
	if (ssl != NULL)
		tls_close(fd, ssl);
	else
		close(fd);
}

static void
park_wake(evutil_socket_t fd, short events, void *arg)
{
	struct parked		*p = arg;
	struct h2_nap		*nap = p->nap;
	SSL			*ssl = p->ssl;
	struct sockaddr_storage	 ss;
	struct bufferevent	*bev;
	struct client		*c;
	ssize_t			 n;
	int			 r;
	char			 b;

	worker_nparked--;
	park_peer(p, &ss);
	/* Most wake-ups of an idle connection are its close. */
	n = (events & EV_READ) ? recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (nap != NULL && !(events & EV_READ))
		/* Idle too long: HTTP/2 says GOAWAY first, from a session. */
		n = 1;
	bev = NULL;
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		bev = ssl != NULL ? tls_bev_resume(fd, ssl) :
		    bufferevent_socket_new(worker->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		park_forget(p);
		h2_nap_free(nap);
		park_close(fd, ssl);
		return;
	}
	if ((c = client_new(bev, (struct sockaddr *)&ss, ssl != NULL)) ==
	    NULL) {
		park_forget(p);
		h2_nap_free(nap);
		if (ssl != NULL)
			tls_bev_free(bev, 0);
		else
			bufferevent_free(bev);
		return;
	}
	if (nap != NULL) {
		r = h2_wake(c, nap);
		park_forget(p);
		h2_nap_free(nap);
		if (r == -1)
			client_free(c);
		else if (!(events & EV_READ)) {
			c->parking = 0;
			h2_timeout(c);
		}
		return;
	}
	/* It has served a request: what comes is HTTP/1.x. */
	c->nrequests = 1;
	/* What woke it is read from the socket on the next turn. */
	client_start_h1(c);
	park_forget(p);
}

/*
 * Parks c, idle in CS_HEAD with nothing buffered either way; after this
 * c is gone. The connection is closed when it has been idle for
 * timeouts.idle in all. Returns -1, with c untouched, when it cannot be
 * parked.
 */
int
client_park(struct client *c)
{
	struct parked		*p;
	struct h2_nap		*nap = NULL;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct timeval		 tv;
	SSL			*ssl = NULL;
	long			 ms;
	int			 fd;

	if (c->ex != NULL ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
		return (-1);
	if (c->tls && (ssl = tls_bev_idle(c->bev)) == NULL)
		return (-1);
	if (c->h2 != NULL && (nap = h2_nap_take(c)) == NULL)
		return (-1);
	ms = c->h2 != NULL ? h2_idle_left_ms(c) :
	    worker->conf->timeouts.idle * 1000L - PARK_AFTER_MS;
	tv.tv_sec = ms > 0 ? ms / 1000 : 0;
	tv.tv_usec = ms > 0 ? (ms % 1000) * 1000 : 0;
	if ((p = slab_get(&park_slab)) == NULL) {
		h2_nap_free(nap);
		return (-1);
	}
	p->nap = nap;
	p->ssl = ssl;
	p->family = c->peer.ss_family;
	if (p->family == AF_INET) {
		sin = (struct sockaddr_in *)&c->peer;
		memcpy(p->addr, &sin->sin_addr, sizeof(sin->sin_addr));
		p->port = sin->sin_port;
	} else if (p->family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)&c->peer;
		memcpy(p->addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
		p->port = sin6->sin6_port;
	}
	fd = bufferevent_getfd(c->bev);
	event_assign(&p->ev, worker->base, fd, EV_READ | EV_PERSIST,
	    park_wake, p);
	if (event_add(&p->ev, &tv) == -1) {
		h2_nap_free(nap);
		slab_put(&park_slab, p);
		return (-1);
	}
	/* The bufferevent lets go of the socket without closing it. */
	if (c->tls)
		c->parked = 1;
	else if (bufferevent_setfd(c->bev, -1) == -1) {
		park_forget(p);
		h2_nap_free(nap);
		return (-1);
	}
	client_free(c);
	worker_nparked++;
	return (0);
}

/*
 * A connection gave its memory back to malloc (client_free(): parked,
 * or closed). After many, the pages go back to the system too.
 */
void
park_released(void)
{
	if (++released_since_trim >= PARK_TRIM_AFTER)
		park_trim_now();
}

static int
park_collect(const struct event_base *base, const struct event *ev,
    void *arg)
{
	struct park_sweep	*sw = arg;

	(void)base;
	if (event_get_callback(ev) == park_wake && sw->n < PARK_SWEEP)
		sw->p[sw->n++] = event_get_callback_arg(ev);
	return (0);
}

/*
 * Shutting down: parked connections have no request to finish. libevent
 * knows them all, so no list of them is kept; they are found in steps,
 * as events may not be removed while libevent walks them.
 */
void
park_close_all(void)
{
	struct park_sweep	 sw;
	int			 i;

	do {
		sw.n = 0;
		event_base_foreach_event(worker->base, park_collect, &sw);
		for (i = 0; i < sw.n; i++) {
			event_del(&sw.p[i]->ev);
			if (sw.p[i]->nap != NULL) {
				h2_nap_goaway(event_get_fd(&sw.p[i]->ev),
				    sw.p[i]->ssl, sw.p[i]->nap);
				h2_nap_free(sw.p[i]->nap);
			}
			park_close(event_get_fd(&sw.p[i]->ev), sw.p[i]->ssl);
			slab_put(&park_slab, sw.p[i]);
			worker_nparked--;
		}
	} while (sw.n == PARK_SWEEP);
}

/*
 * Called every second. glibc keeps what was freed for later use; after
 * many connections parked or closed, once that has settled (none in the
 * last second), or once the worker is quiet again after serving (quiet), the
 * pages freed go back to the system. Elsewhere, free() gives back large
 * ranges itself.
 */
void
park_trim(int quiet)
{
	static int	 seen;	/* released_since_trim a second ago */
	int		 settled;

	settled = released_since_trim > 0 && released_since_trim == seen;
	seen = released_since_trim;
	if (quiet) {
		exchange_spares_drop();
		h2_spares_drop();
	}
	if (settled || quiet)
		park_trim_now();
}

/* A burst of parking gives back as it goes, ten times a second at most. */
static void
park_trim_now(void)
{
	static struct timeval	 last;
	struct timeval		 now, d;

	event_base_gettimeofday_cached(worker->base, &now);
	timersub(&now, &last, &d);
	if (d.tv_sec == 0 && d.tv_usec < PARK_TRIM_GAP_US)
		return;
	last = now;
	released_since_trim = 0;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}
