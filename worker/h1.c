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
 * HTTP/1.1 clients: a connection reads one request head at a time,
 * hands it to an exchange, writes the response framed for this client,
 * and goes on with the next request or closes. A cleartext connection
 * that opens with the HTTP/2 preface is handed to h2.c.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "uxrp.h"
#include "worker.h"

#define H2_PREFACE	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	(sizeof(H2_PREFACE) - 1)

static void	client_read_cb(struct bufferevent *, void *);
static void	client_write_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);
static void	client_timer_cb(evutil_socket_t, short, void *);
static void	client_read_head(struct client *);

static struct evbuffer	*h1_req_body(void *);
static int		 h1_req_ended(void *);
static void		 h1_req_consumed(void *, size_t, int);
static struct evbuffer	*h1_resp_buf(void *);
static void		 h1_resp_head(void *, struct exchange *,
			    const struct http_response *);
static void		 h1_resp_more(void *);
static void		 h1_local(void *, struct exchange *, const char *,
			    size_t);
static void		 h1_done(void *, enum front_end);

static const struct front_ops h1_ops = {
	h1_req_body,
	h1_req_ended,
	h1_req_consumed,
	h1_resp_buf,
	h1_resp_head,
	h1_resp_more,
	h1_local,
	h1_done,
	PROXY_HIGH_WATER
};

void
client_timer_set(struct client *c, int secs)
{
	struct timeval	 tv = { secs, 0 };

	c->parking = 0;
	evtimer_add(c->timer, &tv);
}

/* A new connection, cleartext or after its TLS handshake. */
struct client *
client_new(struct bufferevent *bev, struct sockaddr *sa, int tls)
{
	struct client	*c;
	const void	*ip;

	socklen_t	 len = sizeof(c->local);

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->family = sa->sa_family;
	c->tls = tls;
	memcpy(&c->peer, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(sa->sa_family));
	len = sizeof(c->local);
	if (getsockname(bufferevent_getfd(bev), (struct sockaddr *)&c->local,
	    &len) == -1)
		c->local.ss_family = AF_UNSPEC;
	switch (sa->sa_family) {
	case AF_INET:
		ip = &((struct sockaddr_in *)sa)->sin_addr;
		break;
	case AF_INET6:
		ip = &((struct sockaddr_in6 *)sa)->sin6_addr;
		break;
	default:
		ip = NULL;
		break;
	}
	if (ip == NULL || inet_ntop(sa->sa_family, ip, c->addr,
	    sizeof(c->addr)) == NULL)
		strlcpy(c->addr, "unix", sizeof(c->addr));
	if ((c->timer = evtimer_new(worker->base, client_timer_cb,
	    c)) == NULL) {
		free(c);
		return (NULL);
	}
	c->bev = bev;
	/*
	 * A new bufferevent starts enabled for writing, which would send
	 * a plain socket's first answer through the write event (two
	 * epoll_ctl) instead of at once: see client_flush().
	 */
	if (!tls)
		bufferevent_disable(bev, EV_WRITE);
	/* libevent writes 16 KiB per writable event unless told more. */
	bufferevent_set_max_single_write(bev, PROXY_HIGH_WATER);
	bufferevent_set_max_single_read(bev, PROXY_HIGH_WATER);
	TAILQ_INSERT_TAIL(&worker->clients, c, entry);
	worker->nclients++;
	return (c);
}

void
client_start_h1(struct client *c)
{
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    worker->conf->limits.header_bytes + PROXY_HIGH_WATER);
	bufferevent_setwatermark(c->bev, EV_WRITE, PROXY_LOW_WATER, 0);
	/* A plain socket is written at once: see client_flush(). */
	bufferevent_enable(c->bev, c->tls ? EV_READ | EV_WRITE : EV_READ);
	c->state = CS_HEAD;
	client_timer_set(c, worker->conf->timeouts.request_header);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		client_read_head(c);
}

void
h1_accept(int fd, struct sockaddr *sa, socklen_t salen,
    struct wlistener *wl)
{
	int	 one = 1;

	if (worker->shutting_down) {
		close(fd);
		return;
	}
	/* Responses go out as they come, not held for the next ACK. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (wl->conf->proxy_protocol) {
		proxyproto_accept(fd, sa, salen, wl);
		return;
	}
	h1_accept_ready(fd, sa, wl);
}

/* sa: the client, as the socket or a PROXY header says. */
void
h1_accept_ready(int fd, struct sockaddr *sa, struct wlistener *wl)
{
	struct bufferevent	*bev;
	struct client		*c;

	if (wl->conf->tls.enabled) {
		tls_accept(fd, sa, wl);
		return;
	}
	if ((bev = bufferevent_socket_new(worker->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return;
	}
	if ((c = client_new(bev, sa, 0)) == NULL) {
		bufferevent_free(bev);
		return;
	}
	client_start_h1(c);
}

void
client_free(struct client *c)
{
	struct exchange	*ex = c->ex;

	c->ex = NULL;
	if (ex != NULL)
		exchange_client_gone(ex, "client-closed");
	if (c->h2 != NULL)
		h2_free(c);
	if (c->tls)
		tls_bev_free(c->bev, c->parked);
	else
		bufferevent_free(c->bev);
	event_free(c->timer);
	TAILQ_REMOVE(&worker->clients, c, entry);
	worker->nclients--;
	free(c);
	park_released();
	if (worker->shutting_down && worker->nclients == 0) {
		log_debug("drained, exiting");
		exit(0);
	}
}

/*
 * A response cut short: a reset, not a FIN, so that no client takes
 * what it got for the whole, even one that reads until the close.
 */
static void
client_reset(struct client *c)
{
	struct linger	 l = { 1, 0 };

	setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &l,
	    sizeof(l));
	client_free(c);
}

/* A request that failed before it became an exchange. */
static void
client_fail(struct client *c, int status, const char *cause)
{
	struct exchange	*ex;

	if ((ex = exchange_new(&h1_ops, c, c->addr, c->family,
	    c->tls)) == NULL) {
		client_free(c);
		return;
	}
	ex->client_peer = &c->peer;
	ex->client_local = &c->local;
	c->ex = ex;
	c->state = CS_BUSY;
	exchange_fail(ex, status, cause);
}

static void
client_linger_read(struct client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

/*
 * Close politely: after the answer is written, shut down our side and
 * drain what the client still sends for a moment, so that its unread
 * bytes do not turn our answer into a reset.
 */
void
client_linger(struct client *c)
{
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	c->state = CS_LINGER;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	client_linger_read(c);
	bufferevent_enable(c->bev, EV_READ);
	client_timer_set(c, LINGER_SECS + worker->conf->timeouts.idle);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_write_cb(c->bev, c);
}

static void
client_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	(void)events;
	if (c->h2 != NULL) {
		h2_timeout(c);
		return;
	}
	if (c->state == CS_HEAD && c->head_started) {
		client_fail(c, 408, "request-timeout");
		return;
	}
	if (c->parking) {
		/* Idle a moment: held small from now on, if it can be. */
		if (c->state == CS_HEAD && client_park(c) == 0)
			return;
		client_timer_set(c, worker->conf->timeouts.idle);
		return;
	}
	client_free(c);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	(void)bev;
	switch (c->state) {
	case CS_HEAD:
		client_read_head(c);
		break;
	case CS_BUSY:
		if (c->ex != NULL)
			exchange_req_more(c->ex);
		break;
	case CS_LINGER:
		client_linger_read(c);
		break;
	}
}

/* What the exchange put in the output goes out now, if it can. */
static void
client_flush(struct client *c)
{
	if (!c->tls)
		bev_flush(c->bev);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	int		 fd;

	if (!c->tls)
		bev_written(bev);
	switch (c->state) {
	case CS_BUSY:
		if (c->ex != NULL)
			exchange_resp_writable(c->ex);
		break;
	case CS_LINGER:
		if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
			break;
		if (c->tls) {
			/* The close_notify is our shutdown. */
			client_free(c);
			return;
		}
		fd = bufferevent_getfd(bev);
		if (shutdown(fd, SHUT_WR) == -1) {
			client_free(c);
			return;
		}
		client_timer_set(c, LINGER_SECS);
		break;
	case CS_HEAD:
		if (c->out_paused) {
			c->out_paused = 0;
			bufferevent_enable(c->bev, EV_READ);
			bufferevent_trigger(c->bev, EV_READ,
			    BEV_OPT_DEFER_CALLBACKS);
		}
		break;
	}
}

static void
client_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct client	*c = arg;
	struct exchange	*ex = c->ex;

	(void)bev;
	if ((events & BEV_EVENT_TIMEOUT) && ex != NULL) {
		/* A body that stopped coming. */
		if (!ex->resp_head_done) {
			exchange_fail(ex, 408, "client-timeout");
			return;
		}
		c->ex = NULL;
		exchange_client_gone(ex, "client-timeout");
		client_free(c);
		return;
	}
	/* A client that only half-closed still gets its answer. */
	if (c->state == CS_BUSY && ex != NULL && (events & BEV_EVENT_EOF) &&
	    (events & BEV_EVENT_READING) &&
	    (!ex->has_reqbody || ex->reqbody.done)) {
		c->close_after = 1;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	/* A body cut short is aborted: the origin never sees its end. */
	client_free(c);
}

/*
 * 414 when the request line alone is too long, 431 when the header
 * block is.
 */
static int
client_head_too_large(const char *p, size_t len)
{
	const char	*nl;

	nl = memchr(p, '\n', len);
	if (nl == NULL || (size_t)(nl - p) > worker->conf->limits.uri_bytes +
	    32)
		return (414);
	return (431);
}

/* 1: the HTTP/2 preface, 0: not it, -1: too early to say. */
static int
client_is_h2_preface(struct evbuffer *in)
{
	size_t		 len = evbuffer_get_length(in);
	unsigned char	*p;

	if (len > H2_PREFACE_LEN)
		len = H2_PREFACE_LEN;
	if ((p = evbuffer_pullup(in, len)) == NULL)
		return (0);
	if (memcmp(p, H2_PREFACE, len) != 0)
		return (0);
	return (len == H2_PREFACE_LEN ? 1 : -1);
}

static void
client_read_head(struct client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct exchange	*ex;
	size_t		 len, n, max = worker->conf->limits.header_bytes;
	unsigned char	*p;
	ssize_t		 r;
	int		 status;

	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    PROXY_HIGH_WATER) {
		/* Answers pile up unread: no new request until they go. */
		bufferevent_disable(c->bev, EV_READ);
		c->out_paused = 1;
		return;
	}
	if (c->nrequests == 0 && !c->tls) {
		switch (client_is_h2_preface(in)) {
		case 1:
			evtimer_del(c->timer);
			h2_start(c);
			return;
		case -1:
			return;
		default:
			break;
		}
	}
	if (!c->head_started) {
		c->head_started = 1;
		client_timer_set(c, worker->conf->timeouts.request_header);
	}
	n = len < max ? len : max;
	if ((p = evbuffer_pullup(in, n)) == NULL) {
		client_free(c);
		return;
	}
	r = h1_head_end((const char *)p, n, &c->scan_off);
	if (r == -1) {
		client_fail(c, 400, "bad-request");
		return;
	}
	if (r == 0) {
		if (len >= max)
			client_fail(c, client_head_too_large((const char *)p,
			    n), "bad-request");
		return;
	}
	if ((ex = exchange_new(&h1_ops, c, c->addr, c->family,
	    c->tls)) == NULL || exchange_head_buf(ex, r) == NULL) {
		if (ex != NULL)
			exchange_free(ex);
		client_free(c);
		return;
	}
	memcpy(ex->head, p, r);
	evbuffer_drain(in, r);
	ex->client_peer = &c->peer;
	ex->client_local = &c->local;
	c->ex = ex;
	c->state = CS_BUSY;
	c->scan_off = 0;
	c->head_started = 0;
	c->nrequests++;
	evtimer_del(c->timer);
	p = memchr(ex->head, '\r', r);
	ex->reqline_len = p != NULL ? (size_t)(p - (unsigned char *)ex->head) :
	    0;
	if (h1_request_parse(ex->head, r, worker->conf->limits.uri_bytes,
	    &ex->req, &status) == -1) {
		exchange_fail(ex, status, "bad-request");
		return;
	}
	ex->front_chunked = ex->req.minor == 1;
	ex->close_after = ex->req.minor != 1 || ex->req.conn_close;
	exchange_start(ex);
}

/* Back to reading the next request, or closing. */
static void
client_next(struct client *c)
{
	struct timeval	 tv;

	if (c->close_after || worker->shutting_down) {
		client_linger(c);
		return;
	}
	c->state = CS_HEAD;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
	if (worker->conf->timeouts.idle * 1000L > PARK_AFTER_MS) {
		tv.tv_sec = PARK_AFTER_MS / 1000;
		tv.tv_usec = (PARK_AFTER_MS % 1000) * 1000;
		evtimer_add(c->timer, &tv);
		c->parking = 1;
	} else
		client_timer_set(c, worker->conf->timeouts.idle);
	/* Pipelined requests: later, not from deep inside this one. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
}

static struct evbuffer *
h1_req_body(void *arg)
{
	struct client	*c = arg;

	return (bufferevent_get_input(c->bev));
}

static int
h1_req_ended(void *arg)
{
	(void)arg;
	return (0);
}

static void
h1_req_consumed(void *arg, size_t n, int full)
{
	struct client	*c = arg;
	struct timeval	 tv;

	(void)n;
	if (full) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	/* An upload is timed by its own progress, a tunnel by idleness. */
	tv.tv_sec = c->ex != NULL && c->ex->tunnel ?
	    worker->conf->timeouts.idle :
	    worker->conf->timeouts.request_header;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, c->ex != NULL &&
	    !c->ex->reqbody.done ? &tv : NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

static struct evbuffer *
h1_resp_buf(void *arg)
{
	struct client	*c = arg;

	return (bufferevent_get_output(c->bev));
}

static void
h1_resp_more(void *arg)
{
	client_flush(arg);
}

/* The status line and the end-to-end fields, framed for this client. */
static void
h1_resp_head(void *arg, struct exchange *ex, const struct http_response *resp)
{
	struct client		*c = arg;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const struct http_field	*f;
	const char		*reason;
	struct timeval		 tv;
	int			 i;

	/* Interim responses mean nothing to an HTTP/1.0 client. */
	if (resp->status < 200 && ex->req.minor != 1)
		return;
	if (resp->reasonlen > 0)
		head_status(out, resp->status, resp->reason, resp->reasonlen);
	else {
		reason = http_status_reason(resp->status);
		head_status(out, resp->status, reason, strlen(reason));
	}
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if (http_field_is(f, "content-length") ||
		    http_hop_by_hop(f, resp->fields, resp->nfields))
			continue;
		head_field(out, f->name, f->namelen, f->value, f->valuelen);
	}
	if (resp->status == 101 && ex->tunnel) {
		for (i = 0; i < resp->nfields; i++)
			if (http_field_is(&resp->fields[i], "upgrade"))
				evbuffer_add_printf(out, "Connection: Upgrade\r\n"
				    "Upgrade: %.*s\r\n",
				    (int)resp->fields[i].valuelen,
				    resp->fields[i].value);
		tv.tv_sec = worker->conf->timeouts.idle;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
		/* What the client sent after its handshake goes on now. */
		bufferevent_enable(c->bev, EV_READ);
		bufferevent_trigger(c->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
		goto interim;
	}
	if (resp->status < 200)
		goto interim;
	switch (ex->resp_body) {
	case BODY_NONE:
		/* HEAD and 304 keep the length the origin announced. */
		if (resp->content_length >= 0 && !resp->chunked &&
		    !resp->te_other)
			head_field_num(out, "Content-Length",
			    (long long)resp->content_length);
		break;
	case BODY_LENGTH:
		head_field_num(out, "Content-Length",
		    (long long)resp->content_length);
		break;
	default:
		if (ex->respbody.out_chunked)
			evbuffer_add(out, "Transfer-Encoding: chunked\r\n",
			    28);
		break;
	}
	if (ex->close_after || c->close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	/* A client that stops reading is not waited for forever. */
	tv.tv_sec = worker->conf->timeouts.idle;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	/* The body follows, and both go out together. */
	evbuffer_add(out, "\r\n", 2);
	return;
 interim:
	evbuffer_add(out, "\r\n", 2);
	client_flush(c);
}

/* Our own answers: error pages, redirects, OPTIONS *. */
static void
h1_local(void *arg, struct exchange *ex, const char *loc, size_t loclen)
{
	struct client	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const char	*css = ex->vhost != NULL ? ex->vhost->error_css : NULL;
	const char	*q;
	int		 keep = !ex->close_after && !c->close_after;

	switch (ex->status) {
	case 200:
		if (ex->local_body != NULL) {
			evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
			    "Content-Type: %s\r\nContent-Length: %zu\r\n"
			    "Cache-Control: no-store\r\n%s\r\n",
			    ex->local_type, evbuffer_get_length(ex->local_body),
			    keep ? "" : "Connection: close\r\n");
			if (!ex->req.is_head)
				evbuffer_add_buffer(out, ex->local_body);
			break;
		}
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 0\r\n%s\r\n",
		    keep ? "" : "Connection: close\r\n");
		break;
	case 301:
		q = loc + loclen;
		response_redirect(out, loc, loclen, q,
		    ex->req.pathlen - (q - ex->req.path), keep);
		break;
	default:
		response_error(out, ex->status, css, ex->req.is_head, 0);
		break;
	}
	client_flush(c);
}

static void
h1_done(void *arg, enum front_end how)
{
	struct client	*c = arg;
	int		 close_after = c->ex != NULL && c->ex->close_after;

	c->ex = NULL;
	client_flush(c);
	switch (how) {
	case FRONT_ABORT:
		client_reset(c);
		return;
	case FRONT_CLOSE:
		c->close_after = 1;
		break;
	case FRONT_COMPLETE:
		if (close_after)
			c->close_after = 1;
		break;
	}
	client_next(c);
}

static void
h1_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_warnx("drain timeout: cutting %d connection%s", worker->nclients,
	    worker->nclients == 1 ? "" : "s");
	exit(0);
}

void
h1_shutdown(void)
{
	struct client	*c, *next;
	struct timeval	 tv;

	if (worker->shutting_down)
		return;
	worker->shutting_down = 1;
	worker_stop_accepting();
	pool_close_idle();
	park_close_all();
	TAILQ_FOREACH_SAFE(c, &worker->clients, entry, next) {
		if (c->h2 != NULL)
			h2_goaway(c);
		else if (c->state == CS_HEAD && !c->head_started)
			client_free(c);
		else
			c->close_after = 1;
	}
	if (worker->nclients == 0)
		exit(0);
	tv.tv_sec = worker->conf->timeouts.drain;
	tv.tv_usec = 0;
	worker->drain_ev = evtimer_new(worker->base, h1_drain_timeout, NULL);
	if (worker->drain_ev == NULL)
		exit(0);
	evtimer_add(worker->drain_ev, &tv);
}
