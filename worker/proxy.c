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
 * HTTP/1.1 proxying: a client connection reads one request head at a
 * time, routes it, and runs one exchange with an origin connection.
 * Bodies move in both directions only as fast as the other side takes
 * them: a side is read only while the other's output is below
 * PROXY_HIGH_WATER.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
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

#define CLIENT_STATUS_GONE	499	/* logged when the client left */

enum client_state {
	CS_HEAD,	/* waiting for or reading a request head */
	CS_BUSY,	/* an exchange runs */
	CS_LINGER	/* answered; draining input before close */
};

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct bufferevent	*bev;
	int			 family;
	char			 addr[INET6_ADDRSTRLEN + 8];
	enum client_state	 state;
	size_t			 scan_off;
	int			 head_started;
	int			 close_after;
	struct exchange		*ex;
	struct event		*timer;
};

struct exchange {
	struct client		*c;
	uint32_t		 id;
	struct timeval		 start;
	char			*head;		/* the request head, copied */
	size_t			 reqline_len;
	struct http_request	 req;
	const struct vhost_conf	*vhost;
	const struct mount_conf	*mount;
	struct pool		*pool;
	struct origin_conn	*oc;
	int			 reused;	/* oc came from the pool */
	int			 retried;
	struct evbuffer		*reqhead;	/* what the origin gets */
	int			 has_reqbody;
	struct body_pump	 reqbody;
	int			 req_sent;
	size_t			 resp_scan;
	int			 resp_any;	/* origin sent a byte */
	int			 resp_head_done;
	int			 resp_body;	/* enum http_body */
	struct body_pump	 respbody;
	int			 resp_started;	/* bytes went to client */
	int			 origin_reusable;
	int			 origin_eof;
	int			 counted;	/* in its pool's in-flight count */
	int			 status;
	const char		*cause;
	struct event		*resp_timer;
};

static void	client_read_cb(struct bufferevent *, void *);
static void	client_write_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);
static void	client_timer_cb(evutil_socket_t, short, void *);
static void	client_free(struct client *);
static void	client_read_head(struct client *);
static void	client_next(struct client *);
static void	client_close_when_flushed(struct client *);
static void	origin_read_cb(struct bufferevent *, void *);
static void	origin_write_cb(struct bufferevent *, void *);
static void	origin_event_cb(struct bufferevent *, short, void *);
static void	exchange_resp_timeout(evutil_socket_t, short, void *);
static void	exchange_finish(struct exchange *);
static void	exchange_fail(struct exchange *, int, const char *);
static void	exchange_abort(struct exchange *, const char *);
static void	proxy_pump_request(struct exchange *);
static void	proxy_pump_response(struct exchange *);
static void	proxy_drain_timeout(evutil_socket_t, short, void *);

static void
client_timer_set(struct client *c, int secs)
{
	struct timeval	 tv = { secs, 0 };

	evtimer_add(c->timer, &tv);
}

void
proxy_accept(int fd, struct sockaddr *sa, socklen_t salen,
    struct wlistener *wl)
{
	struct client	*c;
	const void	*ip;

	(void)wl;
	if (worker->shutting_down || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->family = sa->sa_family;
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
	(void)salen;
	if (ip == NULL || inet_ntop(sa->sa_family, ip, c->addr,
	    sizeof(c->addr)) == NULL)
		strlcpy(c->addr, "unix", sizeof(c->addr));
	c->bev = bufferevent_socket_new(worker->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(worker->base, client_timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    worker->conf->limits.header_bytes + PROXY_HIGH_WATER);
	bufferevent_setwatermark(c->bev, EV_WRITE, PROXY_LOW_WATER, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&worker->clients, c, entry);
	worker->nclients++;
	c->state = CS_HEAD;
	client_timer_set(c, worker->conf->timeouts.request_header);
}

static void
client_free(struct client *c)
{
	if (c->ex != NULL)
		exchange_abort(c->ex, "client-closed");
	bufferevent_free(c->bev);
	event_free(c->timer);
	TAILQ_REMOVE(&worker->clients, c, entry);
	worker->nclients--;
	free(c);
	if (worker->shutting_down && worker->nclients == 0) {
		log_debug("drained, exiting");
		exit(0);
	}
}

static void
exchange_free(struct exchange *ex)
{
	if (ex->resp_timer != NULL)
		event_free(ex->resp_timer);
	if (ex->reqhead != NULL)
		evbuffer_free(ex->reqhead);
	free(ex->head);
	if (ex->c != NULL)
		ex->c->ex = NULL;
	free(ex);
}

static void
exchange_log(struct exchange *ex)
{
	struct timeval		 now;
	struct origin_conf	*o = ex->pool != NULL ?
				    pool_origin(ex->pool) : NULL;
	uint64_t		 bytes = ex->respbody.total;

	worker->requests++;
	if (ex->status >= 500 || ex->status == CLIENT_STATUS_GONE)
		worker->errors++;
	if (ex->counted) {
		ex->counted = 0;
		pool_count_end(ex->pool, ex->cause != NULL &&
		    (strncmp(ex->cause, "origin-", 7) == 0 ||
		    strcmp(ex->cause, "connect-timeout") == 0));
	}
	gettimeofday(&now, NULL);
	accesslog_write(ex->c->addr, &ex->start,
	    ex->head != NULL ? ex->head : NULL, ex->reqline_len, ex->status,
	    bytes, &now, o != NULL ? o->name : NULL, ex->cause);
}

/* Drop the origin side: a connection in mid-exchange is never pooled. */
static void
exchange_drop_origin(struct exchange *ex)
{
	pool_cancel(ex);
	if (ex->oc != NULL) {
		pool_close(ex->oc);
		ex->oc = NULL;
	}
	if (ex->resp_timer != NULL)
		evtimer_del(ex->resp_timer);
}

/* The client is gone, or the exchange cannot go on. */
static void
exchange_abort(struct exchange *ex, const char *cause)
{
	struct client	*c = ex->c;

	exchange_drop_origin(ex);
	if (ex->cause == NULL)
		ex->cause = cause;
	if (ex->status == 0)
		ex->status = CLIENT_STATUS_GONE;
	exchange_log(ex);
	c->ex = NULL;
	ex->c = NULL;
	exchange_free(ex);
}

/* An answer of our own, before any response byte went out. */
static void
exchange_fail(struct exchange *ex, int status, const char *cause)
{
	struct client	*c = ex->c;
	const char	*css = ex->vhost != NULL ? ex->vhost->error_css : NULL;

	exchange_drop_origin(ex);
	ex->status = status;
	ex->cause = cause;
	response_error(bufferevent_get_output(c->bev), status, css,
	    ex->req.is_head, 0);
	exchange_log(ex);
	exchange_free(ex);
	c->close_after = 1;
	client_close_when_flushed(c);
}

/* A request that failed before it became an exchange. */
static void
client_fail(struct client *c, int status, const char *cause)
{
	struct exchange	*ex;
	struct timeval	 now;

	if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		client_free(c);
		return;
	}
	gettimeofday(&now, NULL);
	ex->start = now;
	ex->c = c;
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
static void
client_close_when_flushed(struct client *c)
{
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
	switch (c->state) {
	case CS_HEAD:
		if (c->head_started) {
			client_fail(c, 408, "request-timeout");
			return;
		}
		client_free(c);
		return;
	case CS_LINGER:
	case CS_BUSY:
	default:
		client_free(c);
		return;
	}
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
		if (c->ex != NULL && c->ex->has_reqbody && c->ex->oc != NULL)
			proxy_pump_request(c->ex);
		break;
	case CS_LINGER:
		client_linger_read(c);
		break;
	}
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	int		 fd;

	switch (c->state) {
	case CS_BUSY:
		if (c->ex != NULL && c->ex->resp_head_done &&
		    c->ex->oc != NULL) {
			bufferevent_enable(c->ex->oc->bev, EV_READ);
			proxy_pump_response(c->ex);
		}
		break;
	case CS_LINGER:
		if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
			break;
		fd = bufferevent_getfd(bev);
		if (shutdown(fd, SHUT_WR) == -1) {
			client_free(c);
			return;
		}
		client_timer_set(c, LINGER_SECS);
		break;
	case CS_HEAD:
		break;
	}
}

static void
client_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct client	*c = arg;
	struct exchange	*ex = c->ex;

	(void)bev;
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
client_head_too_large(struct client *c, const char *p, size_t len)
{
	const char	*nl;

	nl = memchr(p, '\n', len);
	if (nl == NULL || (size_t)(nl - p) > worker->conf->limits.uri_bytes +
	    32)
		return (414);
	(void)c;
	return (431);
}

static int
client_keepalive(const struct http_request *req)
{
	return (req->minor == 1 && !req->conn_close);
}

static void
proxy_request_head(struct exchange *ex, const char *target, size_t targetlen)
{
	struct http_request	*req = &ex->req;
	struct client		*c = ex->c;
	struct evbuffer		*h = ex->reqhead;
	const struct http_field	*f;
	const char		*host = req->host;
	size_t			 hostlen = req->hostlen;
	struct vhost_name	*vn;
	int			 i;

	evbuffer_add_printf(h, "%.*s %.*s HTTP/1.1\r\n", (int)req->methodlen,
	    req->method, (int)targetlen, target);
	if (host == NULL) {
		/* HTTP/1.0 without Host: the vhost's own name. */
		vn = TAILQ_FIRST(&ex->vhost->names);
		host = vn != NULL && !vn->wildcard ? vn->name : "localhost";
		hostlen = strlen(host);
	}
	evbuffer_add_printf(h, "Host: %.*s\r\n", (int)hostlen, host);
	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		if (http_field_is(f, "host") ||
		    http_field_is(f, "content-length") ||
		    http_field_is(f, "x-forwarded-for") ||
		    http_field_is(f, "x-forwarded-proto") ||
		    http_field_is(f, "x-forwarded-host") ||
		    http_field_is(f, "forwarded") ||
		    http_hop_by_hop(f, req->fields, req->nfields))
			continue;
		evbuffer_add_printf(h, "%.*s: %.*s\r\n", (int)f->namelen,
		    f->name, (int)f->valuelen, f->value);
	}
	if (c->family == AF_INET || c->family == AF_INET6)
		evbuffer_add_printf(h, "X-Forwarded-For: %s\r\n", c->addr);
	evbuffer_add_printf(h, "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: %.*s\r\n", (int)hostlen, host);
	if (c->family == AF_INET)
		evbuffer_add_printf(h, "Forwarded: for=%s", c->addr);
	else if (c->family == AF_INET6)
		evbuffer_add_printf(h, "Forwarded: for=\"[%s]\"", c->addr);
	else
		evbuffer_add_printf(h, "Forwarded: for=unknown");
	evbuffer_add_printf(h, ";host=\"%.*s\";proto=http\r\n", (int)hostlen,
	    host);
	if (req->chunked)
		evbuffer_add_printf(h, "Transfer-Encoding: chunked\r\n");
	else if (req->content_length >= 0)
		evbuffer_add_printf(h, "Content-Length: %lld\r\n",
		    (long long)req->content_length);
	evbuffer_add(h, "\r\n", 2);
}

static int
proxy_idempotent(const struct http_request *req)
{
	static const char	*methods[] = { "GET", "HEAD", "OPTIONS",
				    "PUT", "DELETE", "TRACE" };
	size_t			 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (req->methodlen == strlen(methods[i]) &&
		    memcmp(req->method, methods[i], req->methodlen) == 0)
			return (1);
	return (0);
}

static void
proxy_request(struct exchange *ex)
{
	struct client		*c = ex->c;
	struct http_request	*req = &ex->req;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const char		*q;
	char			 target[UXRP_URLPATH_MAX * 2 + 8192];
	int			 n, redirect;
	uint64_t		 limit = worker->conf->limits.request_body_bytes;

	c->close_after = !client_keepalive(req);
	if (req->form == TARGET_AUTHORITY) {
		exchange_fail(ex, 501, "bad-request");
		return;
	}
	ex->vhost = route_vhost(worker->conf, req->host, req->hostlen);
	if (req->form == TARGET_ASTERISK) {
		/* OPTIONS * asks about the server, which is this proxy. */
		ex->status = 200;
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 0\r\n%s\r\n",
		    c->close_after ? "Connection: close\r\n" : "");
		exchange_finish(ex);
		return;
	}
	if (http_path_check(req->path, req->pathlen) == -1) {
		exchange_fail(ex, 400, "bad-path");
		return;
	}
	ex->mount = route_mount(ex->vhost, req->path, req->pathlen,
	    &redirect);
	if (ex->mount == NULL) {
		exchange_fail(ex, 404, "no-mount");
		return;
	}
	if (redirect) {
		q = memchr(req->path, '?', req->pathlen);
		ex->status = 301;
		response_redirect(out, req->path, q != NULL ?
		    (size_t)(q - req->path) : req->pathlen, q != NULL ? q : "",
		    q != NULL ? req->pathlen - (q - req->path) : 0,
		    !c->close_after);
		exchange_finish(ex);
		return;
	}
	if (limit != 0 && req->content_length > 0 &&
	    (uint64_t)req->content_length > limit) {
		exchange_fail(ex, 413, "body-too-large");
		return;
	}
	n = route_rewrite(ex->mount, req->path, req->pathlen, target,
	    sizeof(target));
	if (n == -1) {
		exchange_fail(ex, 414, "bad-request");
		return;
	}
	ex->pool = pool_for(ex->mount->origin_id);
	if ((ex->reqhead = evbuffer_new()) == NULL) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	proxy_request_head(ex, target, n);
	pool_count_start(ex->pool);
	ex->counted = 1;
	if (req->chunked) {
		ex->has_reqbody = 1;
		body_init(&ex->reqbody, BIN_CHUNKED, 0, 1, limit,
		    worker->conf->limits.header_bytes);
	} else if (req->content_length > 0) {
		ex->has_reqbody = 1;
		body_init(&ex->reqbody, BIN_LENGTH, req->content_length, 0,
		    limit, 0);
	}
	pool_get(ex->pool, ex, ex->id, 0);
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
			client_fail(c, client_head_too_large(c,
			    (const char *)p, n), "bad-request");
		return;
	}
	if ((ex = calloc(1, sizeof(*ex))) == NULL ||
	    (ex->head = malloc(r)) == NULL) {
		free(ex);
		client_free(c);
		return;
	}
	gettimeofday(&ex->start, NULL);
	memcpy(ex->head, p, r);
	evbuffer_drain(in, r);
	ex->c = c;
	ex->id = ++worker->next_id;
	c->ex = ex;
	c->state = CS_BUSY;
	c->scan_off = 0;
	c->head_started = 0;
	evtimer_del(c->timer);
	p = memchr(ex->head, '\r', r);
	ex->reqline_len = p != NULL ? (size_t)(p - (unsigned char *)ex->head) :
	    0;
	if (h1_request_parse(ex->head, r, worker->conf->limits.uri_bytes,
	    &ex->req, &status) == -1) {
		exchange_fail(ex, status, "bad-request");
		return;
	}
	proxy_request(ex);
}

/* Back to reading the next request, or closing. */
static void
client_next(struct client *c)
{
	if (c->close_after || worker->shutting_down) {
		client_close_when_flushed(c);
		return;
	}
	c->state = CS_HEAD;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
	client_timer_set(c, worker->conf->timeouts.idle);
	/* Pipelined requests: later, not from deep inside this one. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
}

static void
exchange_finish(struct exchange *ex)
{
	struct client	*c = ex->c;

	if (ex->oc != NULL) {
		bufferevent_setcb(ex->oc->bev, NULL, NULL, NULL, NULL);
		if (ex->origin_reusable && ex->req_sent)
			pool_put(ex->oc);
		else
			pool_close(ex->oc);
		ex->oc = NULL;
	}
	if (ex->has_reqbody && !ex->reqbody.done)
		/* The rest of the body is unread: no next request. */
		c->close_after = 1;
	exchange_log(ex);
	exchange_free(ex);
	client_next(c);
}

void
proxy_origin_ready(struct exchange *ex, struct origin_conn *oc, int error,
    const char *cause)
{
	struct evbuffer	*out;
	struct timeval	 tv;

	if (oc == NULL) {
		exchange_fail(ex, error == ETIMEDOUT ? 504 : 503, cause);
		return;
	}
	ex->oc = oc;
	ex->reused = oc->requests > 0;
	bufferevent_setcb(oc->bev, origin_read_cb, origin_write_cb,
	    origin_event_cb, ex);
	bufferevent_setwatermark(oc->bev, EV_READ, 0, PROXY_HIGH_WATER);
	bufferevent_setwatermark(oc->bev, EV_WRITE, PROXY_LOW_WATER, 0);
	bufferevent_enable(oc->bev, EV_READ | EV_WRITE);
	out = bufferevent_get_output(oc->bev);
	evbuffer_add(out, evbuffer_pullup(ex->reqhead, -1),
	    evbuffer_get_length(ex->reqhead));
	if (ex->resp_timer == NULL &&
	    (ex->resp_timer = evtimer_new(worker->base,
	    exchange_resp_timeout, ex)) == NULL) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	tv.tv_sec = worker->conf->timeouts.origin_response;
	tv.tv_usec = 0;
	if (!ex->has_reqbody) {
		ex->req_sent = 1;
		evtimer_add(ex->resp_timer, &tv);
	} else {
		/* An upload is timed by its own progress. */
		tv.tv_sec = worker->conf->timeouts.request_header;
		bufferevent_set_timeouts(ex->c->bev, &tv, NULL);
		proxy_pump_request(ex);
	}
}

static void
proxy_pump_request(struct exchange *ex)
{
	struct client	*c = ex->c;
	struct evbuffer	*out = bufferevent_get_output(ex->oc->bev);
	size_t		 used = evbuffer_get_length(out), budget;
	struct timeval	 tv;

	if (ex->reqbody.done)
		return;
	if (used >= PROXY_HIGH_WATER) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	budget = PROXY_HIGH_WATER - used;
	switch (body_pump(&ex->reqbody, bufferevent_get_input(c->bev), out,
	    budget)) {
	case PUMP_ERROR:
		if (ex->resp_started) {
			exchange_abort(ex, "bad-request");
			client_free(c);
		} else
			exchange_fail(ex, 400, "bad-request");
		return;
	case PUMP_TOO_LARGE:
		if (ex->resp_started) {
			exchange_abort(ex, "body-too-large");
			client_free(c);
		} else
			exchange_fail(ex, 413, "body-too-large");
		return;
	case PUMP_DONE:
		ex->req_sent = 1;
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		if (!ex->resp_head_done) {
			tv.tv_sec = worker->conf->timeouts.origin_response;
			tv.tv_usec = 0;
			evtimer_add(ex->resp_timer, &tv);
		}
		return;
	case PUMP_MORE:
		if (evbuffer_get_length(out) >= PROXY_HIGH_WATER)
			bufferevent_disable(c->bev, EV_READ);
		else
			bufferevent_enable(c->bev, EV_READ);
		return;
	}
}

static void
origin_write_cb(struct bufferevent *bev, void *arg)
{
	struct exchange	*ex = arg;

	(void)bev;
	if (ex->has_reqbody && !ex->reqbody.done) {
		bufferevent_enable(ex->c->bev, EV_READ);
		proxy_pump_request(ex);
	}
}

static void
exchange_resp_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct exchange	*ex = arg;

	(void)fd;
	(void)events;
	if (!ex->resp_head_done)
		exchange_fail(ex, 504, "origin-timeout");
}

/* The status line and the end-to-end fields, framed for this client. */
static void
proxy_response_head(struct exchange *ex, const struct http_response *resp)
{
	struct evbuffer		*out = bufferevent_get_output(ex->c->bev);
	const struct http_field	*f;
	int			 i;

	if (resp->reasonlen > 0)
		evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n", resp->status,
		    (int)resp->reasonlen, resp->reason);
	else
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", resp->status,
		    http_status_reason(resp->status));
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if (http_field_is(f, "content-length") ||
		    http_hop_by_hop(f, resp->fields, resp->nfields))
			continue;
		evbuffer_add_printf(out, "%.*s: %.*s\r\n", (int)f->namelen,
		    f->name, (int)f->valuelen, f->value);
	}
	if (resp->status < 200)
		goto end;
	switch (ex->resp_body) {
	case BODY_NONE:
		/* HEAD and 304 keep the length the origin announced. */
		if (resp->content_length >= 0 && !resp->chunked &&
		    !resp->te_other)
			evbuffer_add_printf(out, "Content-Length: %lld\r\n",
			    (long long)resp->content_length);
		break;
	case BODY_LENGTH:
		evbuffer_add_printf(out, "Content-Length: %lld\r\n",
		    (long long)resp->content_length);
		break;
	default:
		if (ex->respbody.out_chunked)
			evbuffer_add_printf(out,
			    "Transfer-Encoding: chunked\r\n");
		break;
	}
	if (ex->c->close_after)
		evbuffer_add_printf(out, "Connection: close\r\n");
 end:
	evbuffer_add(out, "\r\n", 2);
}

/* Returns 1 when a final response head was taken, 0 to wait, -1 done. */
static int
proxy_read_response_head(struct exchange *ex)
{
	struct evbuffer		*in = bufferevent_get_input(ex->oc->bev);
	struct http_response	*resp;
	unsigned char		*p;
	size_t			 len, n;
	ssize_t			 r;
	int			 client11 = ex->req.minor == 1;

	for (;;) {
		if ((len = evbuffer_get_length(in)) == 0)
			return (0);
		ex->resp_any = 1;
		n = len < ORIGIN_HEAD_MAX ? len : ORIGIN_HEAD_MAX;
		if ((p = evbuffer_pullup(in, n)) == NULL) {
			exchange_fail(ex, 500, "worker-error");
			return (-1);
		}
		r = h1_head_end((const char *)p, n, &ex->resp_scan);
		if (r == 0 && len >= ORIGIN_HEAD_MAX)
			r = -1;
		if (r == 0)
			return (0);
		if ((resp = calloc(1, sizeof(*resp))) == NULL) {
			exchange_fail(ex, 500, "worker-error");
			return (-1);
		}
		if (r == -1 || h1_response_parse((const char *)p, r,
		    resp) == -1 || resp->status == 101) {
			free(resp);
			pool_mark(ex->pool, ORIGIN_STATE_UP, NULL);
			exchange_fail(ex, 502, "origin-invalid");
			return (-1);
		}
		ex->resp_scan = 0;
		if (resp->status < 200) {
			/* Interim: relayed to HTTP/1.1 clients only. */
			if (client11)
				proxy_response_head(ex, resp);
			free(resp);
			evbuffer_drain(in, r);
			continue;
		}
		ex->status = resp->status;
		ex->resp_body = h1_response_body(resp, ex->req.is_head, 0);
		switch (ex->resp_body) {
		case BODY_NONE:
			body_init(&ex->respbody, BIN_LENGTH, 0, 0, 0, 0);
			break;
		case BODY_LENGTH:
			body_init(&ex->respbody, BIN_LENGTH,
			    resp->content_length, 0, 0, 0);
			break;
		case BODY_CHUNKED:
		case BODY_CLOSE:
			if (!client11)
				ex->c->close_after = 1;
			body_init(&ex->respbody, ex->resp_body ==
			    BODY_CHUNKED ? BIN_CHUNKED : BIN_CLOSE, 0,
			    client11, 0, ORIGIN_HEAD_MAX);
			break;
		}
		ex->origin_reusable = resp->minor == 1 && !resp->conn_close &&
		    ex->resp_body != BODY_CLOSE;
		if (ex->has_reqbody && !ex->reqbody.done)
			ex->c->close_after = 1;
		proxy_response_head(ex, resp);
		free(resp);
		evbuffer_drain(in, r);
		return (1);
	}
}

static void
proxy_pump_response(struct exchange *ex)
{
	struct client	*c = ex->c;
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer	*in = bufferevent_get_input(ex->oc->bev);
	size_t		 used = evbuffer_get_length(out);

	if (used >= PROXY_HIGH_WATER) {
		bufferevent_disable(ex->oc->bev, EV_READ);
		return;
	}
	switch (body_pump(&ex->respbody, in, out, PROXY_HIGH_WATER - used)) {
	case PUMP_ERROR:
	case PUMP_TOO_LARGE:
		exchange_abort(ex, "origin-invalid");
		client_free(c);
		return;
	case PUMP_DONE:
		exchange_finish(ex);
		return;
	case PUMP_MORE:
		break;
	}
	if (ex->origin_eof && evbuffer_get_length(in) == 0) {
		if (ex->respbody.in == BIN_CLOSE) {
			ex->origin_reusable = 0;
			body_finish_close(&ex->respbody, out);
			exchange_finish(ex);
			return;
		}
		/* Cut short: the client must not take it for a whole one. */
		exchange_abort(ex, "origin-closed");
		client_free(c);
		return;
	}
	if (evbuffer_get_length(out) >= PROXY_HIGH_WATER)
		bufferevent_disable(ex->oc->bev, EV_READ);
}

static void
origin_read_cb(struct bufferevent *bev, void *arg)
{
	struct exchange	*ex = arg;
	struct timeval	 tv;

	(void)bev;
	if (!ex->resp_head_done) {
		if (proxy_read_response_head(ex) != 1)
			return;
		ex->resp_head_done = 1;
		ex->resp_started = 1;
		evtimer_del(ex->resp_timer);
		tv.tv_sec = worker->conf->timeouts.origin_response;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(ex->oc->bev, &tv, NULL);
		tv.tv_sec = worker->conf->timeouts.idle;
		bufferevent_set_timeouts(ex->c->bev, NULL, &tv);
	}
	proxy_pump_response(ex);
}

static void
origin_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct exchange	*ex = arg;
	struct client	*c = ex->c;

	(void)bev;
	if (events & BEV_EVENT_TIMEOUT) {
		/* Silent in the middle of a body. */
		exchange_abort(ex, "origin-timeout");
		client_free(c);
		return;
	}
	if (!ex->resp_head_done) {
		if (!ex->resp_any && ex->reused && !ex->retried &&
		    !ex->has_reqbody && proxy_idempotent(&ex->req)) {
			/* The pooled connection was closed under us. */
			ex->retried = 1;
			bufferevent_setcb(ex->oc->bev, NULL, NULL, NULL, NULL);
			pool_close(ex->oc);
			ex->oc = NULL;
			pool_get(ex->pool, ex, ex->id, 1);
			return;
		}
		exchange_fail(ex, 502, ex->resp_any ? "origin-invalid" :
		    "origin-closed");
		return;
	}
	if (events & BEV_EVENT_EOF) {
		/* What was read before the close may still be on its way. */
		ex->origin_eof = 1;
		ex->origin_reusable = 0;
		proxy_pump_response(ex);
		return;
	}
	exchange_abort(ex, "origin-reset");
	client_free(c);
}

void
proxy_shutdown(void)
{
	struct client	*c, *next;
	struct timeval	 tv;

	if (worker->shutting_down)
		return;
	worker->shutting_down = 1;
	worker_stop_accepting();
	pool_close_idle();
	TAILQ_FOREACH_SAFE(c, &worker->clients, entry, next) {
		if (c->state == CS_HEAD && !c->head_started)
			client_free(c);
		else
			c->close_after = 1;
	}
	if (worker->nclients == 0)
		exit(0);
	tv.tv_sec = worker->conf->timeouts.drain;
	tv.tv_usec = 0;
	worker->drain_ev = evtimer_new(worker->base, proxy_drain_timeout,
	    NULL);
	if (worker->drain_ev == NULL)
		exit(0);
	evtimer_add(worker->drain_ev, &tv);
}

static void
proxy_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_warnx("drain timeout: cutting %d connection%s", worker->nclients,
	    worker->nclients == 1 ? "" : "s");
	exit(0);
}
