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
 * One exchange: a routed request goes to an origin connection as
 * HTTP/1.1 and its response comes back to the front it came from (an
 * HTTP/1.1 connection or an HTTP/2 stream). Bodies move in both
 * directions only as fast as the other side takes them: a side is read
 * only while the other's buffer is below PROXY_HIGH_WATER.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/evp.h>

#include "uxrp.h"
#include "worker.h"

#define CLIENT_STATUS_GONE	499	/* logged when the client left */
#define PROXY_GRACE_RETRIES	20	/* an origin that keeps closing */

static void	origin_read_cb(struct bufferevent *, void *);
static void	origin_write_cb(struct bufferevent *, void *);
static void	origin_event_cb(struct bufferevent *, short, void *);
static void	exchange_resp_timeout(evutil_socket_t, short, void *);
static void	exchange_end(struct exchange *, enum front_end);
static void	proxy_pump_request(struct exchange *);
static int	proxy_pump_response(struct exchange *, int);
static struct pool *proxy_pick(struct exchange *);
static void	proxy_metrics(struct exchange *);

/*
 * An exchange is some 5 KiB, too large for malloc's fast paths, and
 * one comes and goes with every request: finished ones are kept for the
 * next requests, with their head buffers and response timer (its
 * argument is the exchange's own address, which stays the same). There
 * are never more spares than exchanges were once alive at the same
 * time, and they go once the worker is quiet.
 */
#define EXCHANGE_SPARE_MAX	1024
#define EXCHANGE_SPARE_HEAD	8192	/* a longer head buffer is not kept */

static SLIST_HEAD(, exchange) exchange_spares =
    SLIST_HEAD_INITIALIZER(exchange_spares);
static int	exchange_nspares;

struct exchange *
exchange_new(const struct front_ops *ops, void *front, const char *addr,
    int family, int tls)
{
	struct exchange	*ex;
	struct evbuffer	*reqhead = NULL;
	struct event	*resp_timer = NULL;
	char		*head = NULL;
	size_t		 headcap = 0;

	if ((ex = SLIST_FIRST(&exchange_spares)) != NULL) {
		SLIST_REMOVE_HEAD(&exchange_spares, spare);
		exchange_nspares--;
		reqhead = ex->reqhead;
		resp_timer = ex->resp_timer;
		head = ex->head;
		headcap = ex->headcap;
	} else if ((ex = malloc(sizeof(*ex))) == NULL)
		return (NULL);
	/* All but the request's field array, 4 KiB that nfields guards. */
	memset(ex, 0, offsetof(struct exchange, req) +
	    offsetof(struct http_request, fields));
	ex->reqhead = reqhead;
	ex->resp_timer = resp_timer;
	ex->head = head;
	ex->headcap = headcap;
	ex->ops = ops;
	ex->front = front;
	ex->client_addr = addr;
	ex->client_family = family;
	ex->tls = tls;
	ex->id = ++worker->next_id;
	gettimeofday(&ex->start, NULL);
	return (ex);
}

/* Room for the request head (or its log line) of len bytes. */
char *
exchange_head_buf(struct exchange *ex, size_t len)
{
	char	*p;

	if (len > ex->headcap) {
		if ((p = realloc(ex->head, len)) == NULL)
			return (NULL);
		ex->head = p;
		ex->headcap = len;
	}
	return (ex->head);
}

static void
exchange_destroy(struct exchange *ex)
{
	if (ex->resp_timer != NULL)
		event_free(ex->resp_timer);
	if (ex->reqhead != NULL)
		evbuffer_free(ex->reqhead);
	free(ex->head);
	free(ex);
}

/* Quiet again: the spares go, so that their memory can go back. */
void
exchange_spares_drop(void)
{
	struct exchange	*ex;

	while ((ex = SLIST_FIRST(&exchange_spares)) != NULL) {
		SLIST_REMOVE_HEAD(&exchange_spares, spare);
		exchange_destroy(ex);
	}
	exchange_nspares = 0;
}

/* Exchanges of status mounts, waiting for the master's numbers. */
struct metrics_wait {
	TAILQ_ENTRY(metrics_wait)	 entry;
	struct exchange			*ex;
};
static TAILQ_HEAD(, metrics_wait) metrics_waits =
    TAILQ_HEAD_INITIALIZER(metrics_waits);

static void
metrics_cancel(struct exchange *ex)
{
	struct metrics_wait	*mw, *next;

	TAILQ_FOREACH_SAFE(mw, &metrics_waits, entry, next) {
		if (mw->ex == ex) {
			TAILQ_REMOVE(&metrics_waits, mw, entry);
			free(mw);
		}
	}
}

void
exchange_free(struct exchange *ex)
{
	if (ex->local_body != NULL)
		evbuffer_free(ex->local_body);
	if (exchange_nspares >= EXCHANGE_SPARE_MAX ||
	    ex->headcap > EXCHANGE_SPARE_HEAD) {
		exchange_destroy(ex);
		return;
	}
	if (ex->resp_timer != NULL)
		evtimer_del(ex->resp_timer);
	if (ex->reqhead != NULL)
		evbuffer_drain(ex->reqhead, evbuffer_get_length(ex->reqhead));
	SLIST_INSERT_HEAD(&exchange_spares, ex, spare);
	exchange_nspares++;
}

static void
exchange_log(struct exchange *ex)
{
	struct timeval		 now;
	struct origin_conf	*o = ex->pool != NULL ?
				    pool_origin(ex->pool) : NULL;

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
	accesslog_write(ex->client_addr, &ex->start,
	    ex->reqline_len > 0 ? ex->head : NULL,
	    ex->reqline_len, ex->status, ex->respbody.total, &now,
	    o != NULL ? o->name : NULL, ex->cause);
}

/* Drop the origin side: a connection in mid-exchange is never pooled. */
static void
exchange_drop_origin(struct exchange *ex)
{
	metrics_cancel(ex);
	pool_cancel(ex);
	if (ex->oc != NULL) {
		pool_close(ex->oc);
		ex->oc = NULL;
	}
	if (ex->resp_timer != NULL)
		evtimer_del(ex->resp_timer);
}

/* The end: log, tell the front, free. */
static void
exchange_end(struct exchange *ex, enum front_end how)
{
	if (how == FRONT_ABORT) {
		exchange_drop_origin(ex);
		if (ex->status == 0)
			ex->status = CLIENT_STATUS_GONE;
	}
	exchange_log(ex);
	ex->ops->done(ex->front, how);
	exchange_free(ex);
}

/* The front is gone (connection closed, stream reset). */
void
exchange_client_gone(struct exchange *ex, const char *cause)
{
	exchange_drop_origin(ex);
	if (ex->cause == NULL)
		ex->cause = cause;
	if (ex->status == 0)
		ex->status = CLIENT_STATUS_GONE;
	exchange_log(ex);
	exchange_free(ex);
}

/* Cut short after the response began: the front must not see an end. */
static void
exchange_abort(struct exchange *ex, const char *cause)
{
	if (ex->cause == NULL)
		ex->cause = cause;
	exchange_end(ex, FRONT_ABORT);
}

/* An answer of our own, before any response byte went out. */
void
exchange_fail(struct exchange *ex, int status, const char *cause)
{
	exchange_drop_origin(ex);
	ex->status = status;
	ex->cause = cause;
	ex->close_after = 1;
	ex->ops->local(ex->front, ex, NULL, 0);
	exchange_end(ex, FRONT_CLOSE);
}

static void
exchange_finish(struct exchange *ex)
{
	if (ex->oc != NULL) {
		bufferevent_setcb(ex->oc->bev, NULL, NULL, NULL, NULL);
		if (ex->origin_reusable && ex->req_sent &&
		    pool_origin(ex->pool)->proxy_protocol == 0)
			pool_put(ex->oc);
		else
			pool_close(ex->oc);
		ex->oc = NULL;
	}
	if (ex->has_reqbody && !ex->reqbody.done)
		/* The rest of the body is unread: no next request. */
		ex->close_after = 1;
	exchange_end(ex, FRONT_COMPLETE);
}

static void
proxy_request_head(struct exchange *ex, const char *target, size_t targetlen)
{
	struct http_request	*req = &ex->req;
	struct evbuffer		*h = ex->reqhead;
	const struct http_field	*f;
	const char		*host = req->host;
	const char		*proto = ex->tls ? "https" : "http";
	size_t			 hostlen = req->hostlen;
	struct vhost_name	*vn;
	int			 i;

	head_request_line(h, req->method, req->methodlen, target, targetlen);
	if (host == NULL) {
		/* HTTP/1.0 without Host: the vhost's own name. */
		vn = TAILQ_FIRST(&ex->vhost->names);
		host = vn != NULL && !vn->wildcard ? vn->name : "localhost";
		hostlen = strlen(host);
	}
	head_field(h, "Host", 4, host, hostlen);
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
		head_field(h, f->name, f->namelen, f->value, f->valuelen);
	}
	if (ex->client_family == AF_INET || ex->client_family == AF_INET6)
		head_field_str(h, "X-Forwarded-For", ex->client_addr);
	head_field_str(h, "X-Forwarded-Proto", proto);
	head_field(h, "X-Forwarded-Host", 16, host, hostlen);
	if (ex->client_family == AF_INET) {
		evbuffer_add(h, "Forwarded: for=", 15);
		evbuffer_add(h, ex->client_addr, strlen(ex->client_addr));
	} else if (ex->client_family == AF_INET6) {
		evbuffer_add(h, "Forwarded: for=\"[", 17);
		evbuffer_add(h, ex->client_addr, strlen(ex->client_addr));
		evbuffer_add(h, "]\"", 2);
	} else
		evbuffer_add(h, "Forwarded: for=unknown", 22);
	evbuffer_add(h, ";host=\"", 7);
	evbuffer_add(h, host, hostlen);
	evbuffer_add(h, "\";proto=", 8);
	evbuffer_add(h, proto, strlen(proto));
	evbuffer_add(h, "\r\n", 2);
	if (ex->upgrade != NULL)
		evbuffer_add_printf(h, "Connection: Upgrade\r\n"
		    "Upgrade: %.*s\r\n", (int)ex->upgrade->valuelen,
		    ex->upgrade->value);
	if (ex->ws_key[0] != '\0')
		evbuffer_add_printf(h, "Sec-WebSocket-Key: %s\r\n",
		    ex->ws_key);
	if (req->chunked)
		evbuffer_add_printf(h, "Transfer-Encoding: chunked\r\n");
	else if (req->content_length >= 0)
		head_field_num(h, "Content-Length",
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

static const struct http_field proxy_ws_upgrade = {
	"Upgrade", 7, "websocket", 9
};

/*
 * An HTTP/2 WebSocket has no key; the HTTP/1.1 origin wants one, and
 * its answer to it stays with us (RFC 8441 section 5).
 */
static int
proxy_ws_key(struct exchange *ex)
{
	unsigned char	 raw[16];

	arc4random_buf(raw, sizeof(raw));
	if (EVP_EncodeBlock((unsigned char *)ex->ws_key, raw,
	    sizeof(raw)) != 24)
		return (-1);
	return (0);
}

/* The Upgrade field of a WebSocket handshake (RFC 6455 4.1), or NULL. */
static const struct http_field *
proxy_websocket(const struct http_request *req)
{
	int	 i;

	if (!req->conn_upgrade || req->methodlen != 3 ||
	    memcmp(req->method, "GET", 3) != 0 || req->content_length > 0 ||
	    req->chunked)
		return (NULL);
	for (i = 0; i < req->nfields; i++)
		if (http_field_is(&req->fields[i], "upgrade") &&
		    http_token_in_list(req->fields[i].value,
		    req->fields[i].valuelen, "websocket"))
			return (&req->fields[i]);
	return (NULL);
}

/*
 * One of the mount's origins: of those not tried yet and not known
 * down, the one with the fewest requests outstanding here, or the next
 * in turn. With all down, one still gets the request, and its 503.
 */
static struct pool *
proxy_pick(struct exchange *ex)
{
	/* The turn is this worker's own state, kept in its copy. */
	struct mount_conf	*m = (struct mount_conf *)(uintptr_t)ex->mount;
	struct pool		*p, *best = NULL;
	int			 i, k, n = m->norigin_ids, pick = -1;
	unsigned int		 start;

	/* Ties of the least-outstanding rule go round in turn too. */
	start = m->rr_next++;
	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (ex->tried & (1u << i))
			continue;
		p = pool_for(m->origin_ids[i]);
		if (!pool_usable(p))
			continue;
		if (best == NULL || (m->balance == BALANCE_LEAST &&
		    pool_inflight(p) < pool_inflight(best))) {
			best = p;
			pick = i;
		}
		if (m->balance == BALANCE_ROUND_ROBIN)
			break;
	}
	for (k = 0; best == NULL && k < n; k++) {
		i = (start + k) % n;
		if (!(ex->tried & (1u << i))) {
			best = pool_for(m->origin_ids[i]);
			pick = i;
		}
	}
	if (best == NULL)
		return (NULL);
	ex->tried |= 1u << pick;
	return (best);
}

/* Within its mount's restart_grace, counted from the request's start. */
static int
proxy_in_grace(const struct exchange *ex)
{
	struct timeval	 now, grace, end;

	if (ex->mount == NULL || ex->mount->restart_grace == 0)
		return (0);
	gettimeofday(&now, NULL);
	grace.tv_sec = ex->mount->restart_grace;
	grace.tv_usec = 0;
	timeradd(&ex->start, &grace, &end);
	return (timercmp(&now, &end, <));
}

/* A status mount: the master has the numbers of all workers. */
static void
proxy_metrics(struct exchange *ex)
{
	struct metrics_wait	*mw;

	if ((ex->req.methodlen != 3 || memcmp(ex->req.method, "GET", 3) != 0) &&
	    !ex->req.is_head) {
		exchange_fail(ex, 405, "bad-request");
		return;
	}
	if ((mw = calloc(1, sizeof(*mw))) == NULL ||
	    imsgev_compose(&worker->iev, IMSG_METRICS_REQ, 0, -1, &ex->id,
	    sizeof(ex->id)) == -1) {
		free(mw);
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	mw->ex = ex;
	TAILQ_INSERT_TAIL(&metrics_waits, mw, entry);
}

void
proxy_metrics_ready(uint32_t reqid, const char *text, size_t len)
{
	struct metrics_wait	*mw;
	struct exchange		*ex;

	TAILQ_FOREACH(mw, &metrics_waits, entry)
		if (mw->ex->id == reqid)
			break;
	if (mw == NULL)
		return;		/* its client went away */
	ex = mw->ex;
	TAILQ_REMOVE(&metrics_waits, mw, entry);
	free(mw);
	if ((ex->local_body = evbuffer_new()) == NULL ||
	    evbuffer_add(ex->local_body, text, len) == -1) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	ex->local_type = "text/plain; version=0.0.4; charset=utf-8";
	ex->status = 200;
	ex->ops->local(ex->front, ex, NULL, 0);
	exchange_end(ex, FRONT_COMPLETE);
}

/* ex->req is parsed: route it and find it an origin connection. */
void
exchange_start(struct exchange *ex)
{
	struct http_request	*req = &ex->req;
	const char		*q;
	char			 target[UXRP_URLPATH_MAX * 2 + 8192];
	int			 n, redirect;
	uint64_t		 limit = worker->conf->limits.request_body_bytes;

	if (req->form == TARGET_AUTHORITY) {
		exchange_fail(ex, 501, "bad-request");
		return;
	}
	ex->vhost = route_vhost(worker->conf, req->host, req->hostlen);
	if (req->form == TARGET_ASTERISK) {
		/* OPTIONS * asks about the server, which is this proxy. */
		ex->status = 200;
		ex->ops->local(ex->front, ex, NULL, 0);
		exchange_end(ex, FRONT_COMPLETE);
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
		ex->ops->local(ex->front, ex, req->path, q != NULL ?
		    (size_t)(q - req->path) : req->pathlen);
		exchange_end(ex, FRONT_COMPLETE);
		return;
	}
	if (ex->mount->status) {
		proxy_metrics(ex);
		return;
	}
	if (limit != 0 && req->content_length > 0 &&
	    (uint64_t)req->content_length > limit) {
		exchange_fail(ex, 413, "body-too-large");
		return;
	}
	if (ex->mount->websocket && !ex->req_raw)
		ex->upgrade = proxy_websocket(req);
	else if (ex->h2_websocket) {
		if (!ex->mount->websocket) {
			exchange_fail(ex, 501, "bad-request");
			return;
		}
		if (proxy_ws_key(ex) == -1) {
			exchange_fail(ex, 500, "worker-error");
			return;
		}
		ex->upgrade = &proxy_ws_upgrade;
	}
	n = route_rewrite(ex->mount, req->path, req->pathlen, target,
	    sizeof(target));
	if (n == -1) {
		exchange_fail(ex, 414, "bad-request");
		return;
	}
	if ((ex->pool = proxy_pick(ex)) == NULL) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	if (ex->reqhead == NULL && (ex->reqhead = evbuffer_new()) == NULL) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	if (ex->h2_websocket) {
		/* Its DATA is the tunnel's, once the origin switches. */
	} else if (ex->req_raw) {
		/* HTTP/2: DATA frames until END_STREAM. */
		if (req->content_length > 0) {
			ex->has_reqbody = 1;
			body_init(&ex->reqbody, BIN_LENGTH,
			    req->content_length, 0, limit, 0);
		} else if (req->content_length < 0 &&
		    !ex->ops->req_ended(ex->front)) {
			ex->has_reqbody = 1;
			req->chunked = 1;
			body_init(&ex->reqbody, BIN_CLOSE, 0, 1, limit, 0);
		}
	} else if (req->chunked) {
		ex->has_reqbody = 1;
		body_init(&ex->reqbody, BIN_CHUNKED, 0, 1, limit,
		    worker->conf->limits.header_bytes);
	} else if (req->content_length > 0) {
		ex->has_reqbody = 1;
		body_init(&ex->reqbody, BIN_LENGTH, req->content_length, 0,
		    limit, 0);
	}
	proxy_request_head(ex, target, n);
	pool_count_start(ex->pool);
	ex->counted = 1;
	pool_get(ex->pool, ex, ex->id, 0);
}

void
proxy_origin_ready(struct exchange *ex, struct origin_conn *oc, int error,
    const char *cause)
{
	struct evbuffer	*out;
	struct pool	*next;
	struct timeval	 tv;
	int		 direct;

	if (oc == NULL && error != EPROTO && error != ENOMEM &&
	    !ex->failed_over && ex->mount != NULL &&
	    ex->mount->norigin_ids > 1 && (next = proxy_pick(ex)) != NULL) {
		/* Once, another of the mount's origins. */
		ex->failed_over = 1;
		pool_count_end(ex->pool, 1);
		ex->pool = next;
		pool_count_start(ex->pool);
		pool_get(ex->pool, ex, ex->id, 0);
		return;
	}
	if (oc == NULL) {
		/* A handshake that failed is a broken origin, not a gone one. */
		exchange_fail(ex, error == ETIMEDOUT ? 504 :
		    error == EPROTO ? 502 : 503, cause);
		return;
	}
	ex->oc = oc;
	ex->reused = oc->requests > 0;
	bufferevent_setcb(oc->bev, origin_read_cb, origin_write_cb,
	    origin_event_cb, ex);
	/*
	 * The pump stops reading at resp_high itself; the bound is twice
	 * that, so that a refill to exactly resp_high does not suspend
	 * and resume the read event (two epoll_ctl) on the way.
	 */
	bufferevent_setwatermark(oc->bev, EV_READ, 0, 2 * ex->ops->resp_high);
	bufferevent_setwatermark(oc->bev, EV_WRITE, PROXY_LOW_WATER, 0);
	/* A bodyless request on a plain socket is written at once. */
	direct = oc->plain && !ex->has_reqbody && !ex->h2_websocket;
	if (direct)
		bufferevent_disable(oc->bev, EV_WRITE);
	bufferevent_enable(oc->bev, direct ? EV_READ : EV_READ | EV_WRITE);
	out = bufferevent_get_output(oc->bev);
	/* A PROXY header names this client, so the connection is its own. */
	if (pool_origin(ex->pool)->proxy_protocol != 0 && !ex->reused &&
	    proxyproto_write(out, pool_origin(ex->pool)->proxy_protocol,
	    ex->client_peer, ex->client_local) == -1) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	evbuffer_add(out, evbuffer_pullup(ex->reqhead, -1),
	    evbuffer_get_length(ex->reqhead));
	if (direct)
		bev_flush(oc->bev);
	if (ex->resp_timer == NULL &&
	    (ex->resp_timer = evtimer_new(worker->base,
	    exchange_resp_timeout, ex)) == NULL) {
		exchange_fail(ex, 500, "worker-error");
		return;
	}
	if (!ex->has_reqbody) {
		ex->req_sent = 1;
		tv.tv_sec = worker->conf->timeouts.origin_response;
		tv.tv_usec = 0;
		evtimer_add(ex->resp_timer, &tv);
	} else
		proxy_pump_request(ex);
}

static void
proxy_pump_request(struct exchange *ex)
{
	struct evbuffer	*in = ex->ops->req_body(ex->front);
	struct evbuffer	*out = bufferevent_get_output(ex->oc->bev);
	size_t		 used = evbuffer_get_length(out), before;
	struct timeval	 tv;
	enum pump_result r;

	if (ex->reqbody.done || ex->origin_wfail)
		return;
	if (used >= PROXY_HIGH_WATER) {
		ex->ops->req_consumed(ex->front, 0, 1);
		return;
	}
	before = evbuffer_get_length(in);
	r = body_pump(&ex->reqbody, in, out, PROXY_HIGH_WATER - used);
	if (r == PUMP_MORE && ex->reqbody.in == BIN_CLOSE &&
	    evbuffer_get_length(in) == 0 && ex->ops->req_ended(ex->front))
		r = body_finish_close(&ex->reqbody, out) == 0 ? PUMP_DONE :
		    PUMP_ERROR;
	switch (r) {
	case PUMP_ERROR:
		if (ex->resp_head_done)
			exchange_abort(ex, "bad-request");
		else
			exchange_fail(ex, 400, "bad-request");
		return;
	case PUMP_TOO_LARGE:
		if (ex->resp_head_done)
			exchange_abort(ex, "body-too-large");
		else
			exchange_fail(ex, 413, "body-too-large");
		return;
	case PUMP_DONE:
		ex->req_sent = 1;
		ex->ops->req_consumed(ex->front, before -
		    evbuffer_get_length(in), 0);
		if (ex->tunnel) {
			/* The client's side ended: the origin sees a FIN. */
			ex->shut_pending = 1;
			bufferevent_setwatermark(ex->oc->bev, EV_WRITE, 0, 0);
			if (evbuffer_get_length(out) == 0)
				origin_write_cb(ex->oc->bev, ex);
			return;
		}
		if (!ex->resp_head_done) {
			tv.tv_sec = worker->conf->timeouts.origin_response;
			tv.tv_usec = 0;
			evtimer_add(ex->resp_timer, &tv);
		}
		return;
	case PUMP_MORE:
		ex->ops->req_consumed(ex->front, before -
		    evbuffer_get_length(in),
		    evbuffer_get_length(out) >= PROXY_HIGH_WATER);
		return;
	}
}

/* The front has more request body, or saw its end. */
void
exchange_req_more(struct exchange *ex)
{
	if (ex->has_reqbody && ex->oc != NULL)
		proxy_pump_request(ex);
}

static void
origin_write_cb(struct bufferevent *bev, void *arg)
{
	struct exchange	*ex = arg;

	if (ex->shut_pending &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		ex->shut_pending = 0;
		(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (ex->has_reqbody && !ex->reqbody.done)
		proxy_pump_request(ex);
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

/*
 * One response head is parsed at a time, and used before the next: its
 * 4 KiB field array is not allocated for every response.
 */
static struct http_response	 proxy_resp;

/* Returns 1 when a final response head was taken, 0 to wait, -1 done. */
static int
proxy_read_response_head(struct exchange *ex)
{
	struct evbuffer		*in = bufferevent_get_input(ex->oc->bev);
	struct http_response	*resp;
	unsigned char		*p;
	size_t			 len, n;
	ssize_t			 r;

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
		resp = &proxy_resp;
		if (r == -1 || h1_response_parse((const char *)p, r,
		    resp) == -1 || (resp->status == 101 &&
		    ex->upgrade == NULL)) {
			exchange_fail(ex, 502, "origin-invalid");
			return (-1);
		}
		ex->resp_scan = 0;
		if (resp->status == 101) {
			/* Switched: from now on bytes, both ways, until a close. */
			ex->status = 101;
			ex->tunnel = 1;
			ex->close_after = 1;
			ex->origin_reusable = 0;
			ex->resp_body = BODY_CLOSE;
			body_init(&ex->respbody, BIN_CLOSE, 0, 0, 0, 0);
			ex->has_reqbody = 1;
			body_init(&ex->reqbody, BIN_CLOSE, 0, 0, 0, 0);
			bufferevent_enable(ex->oc->bev, EV_WRITE);
			ex->resp_head_done = 1;
			ex->ops->resp_head(ex->front, ex, resp);
			evbuffer_drain(in, r);
			return (1);
		}
		if (resp->status < 200) {
			/* Interim: the front relays it if it can. */
			ex->ops->resp_head(ex->front, ex, resp);
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
			/* An HTTP/1.0 client learns the end by the close. */
			if (!ex->front_chunked)
				ex->close_after = 1;
			body_init(&ex->respbody, ex->resp_body ==
			    BODY_CHUNKED ? BIN_CHUNKED : BIN_CLOSE, 0,
			    ex->front_chunked, 0, ORIGIN_HEAD_MAX);
			break;
		}
		ex->origin_reusable = resp->minor == 1 && !resp->conn_close &&
		    ex->resp_body != BODY_CLOSE;
		if (ex->has_reqbody && !ex->reqbody.done)
			ex->close_after = 1;
		ex->resp_head_done = 1;
		ex->ops->resp_head(ex->front, ex, resp);
		evbuffer_drain(in, r);
		return (1);
	}
}

/*
 * Whether the origin's socket is worth asking for more: the body is
 * known to go on, or the last read filled libevent's whole step.
 */
static int
proxy_more_coming(struct exchange *ex, struct evbuffer *in, int eager)
{
	size_t	len = evbuffer_get_length(in);

	if (ex->respbody.done)
		return (0);
	if (ex->respbody.in == BIN_LENGTH)
		return (ex->respbody.remaining > len);
	return (eager || len >= 4096);
}

/*
 * Moves the origin's bytes to the front, as far as its buffer takes
 * them. Eager when the front has just drained: the socket is then read
 * at once, and the read event is asked back only if that did not fill
 * the buffer again. Returns 1 when the exchange goes on and wants the
 * read event, 0 when it ended or its buffer is full.
 */
static int
proxy_pump_response(struct exchange *ex, int eager)
{
	struct evbuffer	*out = ex->ops->resp_buf(ex->front);
	struct evbuffer	*in = bufferevent_get_input(ex->oc->bev);
	size_t		 used = evbuffer_get_length(out);
	size_t		 high = ex->ops->resp_high;
	enum pump_result r;

	if (used >= high) {
		bufferevent_disable(ex->oc->bev, EV_READ);
		return (0);
	}
	if (ex->oc->plain && proxy_more_coming(ex, in, eager) &&
	    evbuffer_get_length(in) < high - used)
		bulk_read(ex->oc->bev,
		    high - used - evbuffer_get_length(in));
	r = body_pump(&ex->respbody, in, out, high - used);
	if (evbuffer_get_length(out) != used)
		ex->ops->resp_more(ex->front);
	switch (r) {
	case PUMP_ERROR:
	case PUMP_TOO_LARGE:
		exchange_abort(ex, "origin-invalid");
		return (0);
	case PUMP_DONE:
		exchange_finish(ex);
		return (0);
	case PUMP_MORE:
		break;
	}
	if (ex->origin_eof && evbuffer_get_length(in) == 0) {
		if (ex->respbody.in == BIN_CLOSE) {
			ex->origin_reusable = 0;
			body_finish_close(&ex->respbody, out);
			ex->ops->resp_more(ex->front);
			exchange_finish(ex);
			return (0);
		}
		/* Cut short: the client must not take it for a whole one. */
		exchange_abort(ex, "origin-closed");
		return (0);
	}
	if (evbuffer_get_length(out) >= high) {
		bufferevent_disable(ex->oc->bev, EV_READ);
		return (0);
	}
	return (1);
}

/*
 * The front drained its response buffer: read the origin again. The
 * read event comes back only when the socket had too little, which
 * saves adding and removing it (two epoll_ctl) for each refill.
 */
void
exchange_resp_writable(struct exchange *ex)
{
	if (!ex->resp_head_done || ex->oc == NULL)
		return;
	if (proxy_pump_response(ex, 1))
		bufferevent_enable(ex->oc->bev, EV_READ);
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
		evtimer_del(ex->resp_timer);
		/* A tunnel may be quiet for as long as an idle client. */
		tv.tv_sec = ex->tunnel ? worker->conf->timeouts.idle :
		    worker->conf->timeouts.origin_response;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(ex->oc->bev, &tv, NULL);
	}
	(void)proxy_pump_response(ex, 0);
}

static void
origin_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct exchange	*ex = arg;

	if (events & BEV_EVENT_TIMEOUT) {
		/* Silent in the middle of a body. */
		exchange_abort(ex, "origin-timeout");
		return;
	}
	if (!ex->resp_head_done && (events & BEV_EVENT_WRITING) &&
	    !ex->origin_wfail) {
		/*
		 * It stopped reading the request, perhaps because it has
		 * answered already: read on, and give its answer.
		 */
		ex->origin_wfail = 1;
		ex->origin_reusable = 0;
		/* Body bytes the client still sends would be a request. */
		if (ex->has_reqbody)
			ex->close_after = 1;
		evbuffer_drain(bufferevent_get_output(bev),
		    evbuffer_get_length(bufferevent_get_output(bev)));
		bufferevent_enable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			origin_read_cb(bev, ex);
		return;
	}
	if (!ex->resp_head_done) {
		if (!ex->resp_any && !ex->has_reqbody &&
		    proxy_idempotent(&ex->req) &&
		    ((ex->reused && !ex->retried) ||
		    (ex->retried < PROXY_GRACE_RETRIES && proxy_in_grace(ex)))) {
			/*
			 * The pooled connection was closed under us, or the
			 * origin went down for a restart the mount waits for.
			 */
			ex->retried++;
			ex->origin_wfail = 0;
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
		(void)proxy_pump_response(ex, 0);
		return;
	}
	exchange_abort(ex, "origin-reset");
}
