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
 * HTTP/2 clients (nghttp2), over TLS by ALPN or cleartext with prior
 * knowledge. Each stream is the front of one exchange: its request is
 * translated to HTTP/1.1 for the origin, its response comes back as
 * HEADERS and DATA. Request DATA is acknowledged only as the origin
 * takes it, and the origin is read only as the stream's window and the
 * socket let the response out, so a stalled stream costs a bounded
 * amount of memory and never holds up the others.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <nghttp2/nghttp2.h>

#include "uxrp.h"
#include "worker.h"
#include "h2.h"

static void	h2_read_cb(struct bufferevent *, void *);
static void	h2_write_cb(struct bufferevent *, void *);
static void	h2_event_cb(struct bufferevent *, short, void *);
static void	h2_close_later(struct h2_session *);
static void	h2_kick(struct h2_session *);

static struct evbuffer	*h2_req_body(void *);
static int		 h2_req_ended(void *);
static void		 h2_req_consumed(void *, size_t, int);
static struct evbuffer	*h2_resp_buf(void *);
static void		 h2_resp_head(void *, struct exchange *,
			    const struct http_response *);
static void		 h2_resp_more(void *);
static void		 h2_local(void *, struct exchange *, const char *,
			    size_t);
static void		 h2_done(void *, enum front_end);

static const struct front_ops h2_ops = {
	h2_req_body,
	h2_req_ended,
	h2_req_consumed,
	h2_resp_buf,
	h2_resp_head,
	h2_resp_more,
	h2_local,
	h2_done,
	H2_STREAM_HIGH_WATER
};

static struct h2_stream *
h2_stream_get(struct h2_session *s, int32_t id)
{
	return (nghttp2_session_get_stream_user_data(s->ng, id));
}

/*
 * Streams, like exchanges, are too large for malloc's fast paths: the
 * finished ones are kept for the next, with their buffers, until the
 * worker is quiet.
 */
#define H2_STREAM_SPARE_MAX	1024
#define H2_STREAM_SPARE_HBUF	16384	/* a larger header buffer is not kept */

static TAILQ_HEAD(, h2_stream) h2_spares = TAILQ_HEAD_INITIALIZER(h2_spares);
static int	h2_nspares;

static void
h2_stream_destroy(struct h2_stream *st)
{
	if (st->req_in != NULL)
		evbuffer_free(st->req_in);
	if (st->resp != NULL)
		evbuffer_free(st->resp);
	free(st->hbuf);
	free(st);
}

void
h2_spares_drop(void)
{
	struct h2_stream	*st;

	while ((st = TAILQ_FIRST(&h2_spares)) != NULL) {
		TAILQ_REMOVE(&h2_spares, st, entry);
		h2_stream_destroy(st);
	}
	h2_nspares = 0;
}

static struct h2_stream *
h2_stream_new(void)
{
	struct h2_stream	*st;
	struct evbuffer		*req_in = NULL, *resp = NULL;
	char			*hbuf = NULL;
	size_t			 hcap = 0;

	if ((st = TAILQ_FIRST(&h2_spares)) != NULL) {
		TAILQ_REMOVE(&h2_spares, st, entry);
		h2_nspares--;
		req_in = st->req_in;
		resp = st->resp;
		hbuf = st->hbuf;
		hcap = st->hcap;
	} else if ((st = malloc(sizeof(*st))) == NULL)
		return (NULL);
	/* The header index array is last, and only nhdrs are read. */
	memset(st, 0, offsetof(struct h2_stream, hdrs));
	st->hbuf = hbuf;
	st->hcap = hcap;
	if ((st->req_in = req_in) == NULL)
		st->req_in = evbuffer_new();
	if ((st->resp = resp) == NULL)
		st->resp = evbuffer_new();
	if (st->req_in == NULL || st->resp == NULL) {
		h2_stream_destroy(st);
		return (NULL);
	}
	return (st);
}

static void
h2_stream_free(struct h2_stream *st)
{
	struct h2_session	*s = st->s;
	struct exchange		*ex = st->ex;

	st->ex = NULL;
	if (ex != NULL)
		exchange_client_gone(ex, "client-reset");
	TAILQ_REMOVE(&s->streams, st, entry);
	s->nstreams--;
	free(st->cookie);
	if (h2_nspares >= H2_STREAM_SPARE_MAX ||
	    st->hcap > H2_STREAM_SPARE_HBUF) {
		h2_stream_destroy(st);
		return;
	}
	evbuffer_drain(st->req_in, evbuffer_get_length(st->req_in));
	evbuffer_drain(st->resp, evbuffer_get_length(st->resp));
	TAILQ_INSERT_HEAD(&h2_spares, st, entry);
	h2_nspares++;
}

/* A stream whose DATA waited (no bytes, or no window) is tried again. */
static void
h2_stream_resume(struct h2_stream *st)
{
	if (!st->deferred)
		return;
	st->deferred = 0;
	nghttp2_session_resume_data(st->s->ng, st->id);
}

/* Counts an event of a kind a peer could flood; 1 when over bound. */
static int
h2_rate(struct h2_session *s, int *counter, int max)
{
	time_t	 now = time(NULL);

	if (now != s->rate_sec) {
		s->rate_sec = now;
		s->resets = 0;
		s->floods = 0;
	}
	return (++*counter > max);
}

static void
h2_calm_down(struct h2_session *s, const char *what)
{
	if (s->goaway)
		return;
	log_warnx("client %s: %s, closing the connection", s->c->addr, what);
	nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
	s->goaway = 1;
}

/*
 * A header block may not grow without end through CONTINUATION frames,
 * whatever HPACK makes of them: its encoded size is bounded too.
 */
static int
h2_on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd,
    void *arg)
{
	struct h2_session	*s = arg;
	size_t			 max = 2 * worker->conf->limits.header_bytes +
				    16384;

	(void)ng;
	if (hd->type == NGHTTP2_HEADERS && hd->stream_id > s->max_stream)
		s->max_stream = hd->stream_id;
	if (hd->type == NGHTTP2_HEADERS)
		s->hblock = hd->length;
	else if (hd->type == NGHTTP2_CONTINUATION)
		s->hblock += hd->length;
	else
		return (0);
	if (s->hblock > max) {
		log_warnx("client %s: header block over %zu bytes, closing "
		    "the connection", s->c->addr, max);
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	}
	return (0);
}

static int
h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	/* A replayed stream only moves nghttp2's stream ids along. */
	if (s->goaway || worker->shutting_down || s->waking)
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	if ((st = h2_stream_new()) == NULL)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	st->s = s;
	st->id = frame->hd.stream_id;
	TAILQ_INSERT_TAIL(&s->streams, st, entry);
	s->nstreams++;
	nghttp2_session_set_stream_user_data(ng, st->id, st);
	evtimer_del(s->c->timer);
	s->c->parking = 0;
	s->park_wanted = 0;
	if (h2_table_back(s) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	return (0);
}

static int
h2_hbuf_add(struct h2_stream *st, const uint8_t *p, size_t len, size_t *off)
{
	size_t	 need = st->hlen + len + 1, ncap;
	char	*n;

	if (need > st->hcap) {
		ncap = st->hcap == 0 ? 1024 : st->hcap;
		while (ncap < need)
			ncap *= 2;
		if ((n = realloc(st->hbuf, ncap)) == NULL)
			return (-1);
		st->hbuf = n;
		st->hcap = ncap;
	}
	memcpy(st->hbuf + st->hlen, p, len);
	*off = st->hlen;
	st->hlen += len;
	st->hbuf[st->hlen++] = '\0';
	return (0);
}

static int
h2_value_ok(const uint8_t *v, size_t len)
{
	size_t	 i;

	/* HTAB is the only control a value may hold. */
	for (i = 0; i < len; i++)
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return (0);
	return (1);
}

static int
h2_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st;
	size_t			 noff, voff, clen;
	char			*joined;

	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	if ((st = h2_stream_get(s, frame->hd.stream_id)) == NULL)
		return (0);
	st->hlist += namelen + valuelen + H2_HDR_OVERHEAD;
	if (st->hlist > worker->conf->limits.header_bytes) {
		st->too_large = 1;
		return (0);
	}
	if (!h2_value_ok(value, valuelen)) {
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_PROTOCOL_ERROR);
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	}
	if (namelen == 6 && memcmp(name, "cookie", 6) == 0) {
		/* RFC 9113 8.2.3: crumbs go back together with "; ". */
		clen = st->cookie != NULL ? strlen(st->cookie) : 0;
		if ((joined = realloc(st->cookie, clen + valuelen + 3)) ==
		    NULL)
			return (NGHTTP2_ERR_CALLBACK_FAILURE);
		if (clen > 0) {
			memcpy(joined + clen, "; ", 2);
			clen += 2;
		}
		memcpy(joined + clen, value, valuelen);
		joined[clen + valuelen] = '\0';
		st->cookie = joined;
		return (0);
	}
	if (st->nhdrs >= (int)(sizeof(st->hdrs) / sizeof(st->hdrs[0]))) {
		st->too_large = 1;
		return (0);
	}
	if (h2_hbuf_add(st, name, namelen, &noff) == -1 ||
	    h2_hbuf_add(st, value, valuelen, &voff) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	st->hdrs[st->nhdrs].noff = noff;
	st->hdrs[st->nhdrs].nlen = namelen;
	st->hdrs[st->nhdrs].voff = voff;
	st->hdrs[st->nhdrs].vlen = valuelen;
	st->nhdrs++;
	return (0);
}

static int
h2_token(const char *p, size_t len)
{
	size_t	 i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)p[i]) &&
		    strchr("!#$%&'*+-.^_`|~", p[i]) == NULL)
			return (0);
	return (1);
}

static int
h2_path_ok(const char *p, size_t len)
{
	size_t	 i;

	/* It becomes part of an HTTP/1.1 request line. */
	for (i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '#')
			return (0);
	return (len > 0);
}

/*
 * The request as the HTTP/1.1 side knows it: the pseudo-header fields
 * become the request line and Host, the rest stay fields.
 */
static int
h2_build_request(struct h2_stream *st, struct exchange *ex)
{
	struct http_request	*req = &ex->req;
	const char		*name, *value, *method = NULL, *path = NULL;
	const char		*authority = NULL, *host = NULL, *errstr;
	const char		*protocol = NULL;
	size_t			 nlen, vlen, mlen = 0, plen = 0, alen = 0;
	size_t			 protolen = 0;
	size_t			 hlen = 0;
	int			 i, n = 0;
	char			 clbuf[32];

	req->content_length = -1;
	req->minor = 1;
	for (i = 0; i < st->nhdrs; i++) {
		name = st->hbuf + st->hdrs[i].noff;
		nlen = st->hdrs[i].nlen;
		value = st->hbuf + st->hdrs[i].voff;
		vlen = st->hdrs[i].vlen;
		if (name[0] == ':') {
			if (strcmp(name, ":method") == 0) {
				method = value;
				mlen = vlen;
			} else if (strcmp(name, ":path") == 0) {
				path = value;
				plen = vlen;
			} else if (strcmp(name, ":authority") == 0) {
				authority = value;
				alen = vlen;
			} else if (strcmp(name, ":protocol") == 0) {
				protocol = value;
				protolen = vlen;
			}
			continue;
		}
		if (strcmp(name, "host") == 0) {
			host = value;
			hlen = vlen;
		}
		if (strcmp(name, "content-length") == 0) {
			if (vlen == 0 || vlen >= sizeof(clbuf))
				return (400);
			memcpy(clbuf, value, vlen);
			clbuf[vlen] = '\0';
			req->content_length = strtonum(clbuf, 0, INT64_MAX,
			    &errstr);
			if (errstr != NULL)
				return (400);
		}
		if (n >= HTTP_MAX_FIELDS)
			return (431);
		req->fields[n].name = name;
		req->fields[n].namelen = nlen;
		req->fields[n].value = value;
		req->fields[n].valuelen = vlen;
		n++;
	}
	if (st->cookie != NULL) {
		if (n >= HTTP_MAX_FIELDS)
			return (431);
		req->fields[n].name = "cookie";
		req->fields[n].namelen = 6;
		req->fields[n].value = st->cookie;
		req->fields[n].valuelen = strlen(st->cookie);
		n++;
	}
	req->nfields = n;
	if (method == NULL || !h2_token(method, mlen))
		return (400);
	req->method = method;
	req->methodlen = mlen;
	req->is_head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
	if (mlen == 7 && memcmp(method, "CONNECT", 7) == 0) {
		if (protocol == NULL) {
			req->form = TARGET_AUTHORITY;
			return (0);
		}
		/* Extended CONNECT: a WebSocket, a GET with Upgrade to h1. */
		if (protolen != 9 || strncasecmp(protocol, "websocket", 9) != 0)
			return (501);
		ex->h2_websocket = 1;
		req->method = "GET";
		req->methodlen = 3;
	}
	if (path == NULL || !h2_path_ok(path, plen))
		return (400);
	if (plen == 1 && path[0] == '*')
		req->form = TARGET_ASTERISK;
	else if (path[0] == '/')
		req->form = TARGET_ORIGIN;
	else
		return (400);
	req->target = req->path = path;
	req->targetlen = req->pathlen = plen;
	if (authority != NULL) {
		/* A Host beside :authority must name the same. */
		if (host != NULL && (hlen != alen ||
		    strncasecmp(host, authority, alen) != 0))
			return (400);
		host = authority;
		hlen = alen;
	}
	if (host != NULL && !http_host_valid(host, hlen))
		return (400);
	req->host = host;
	req->hostlen = hlen;
	return (0);
}

static void
h2_start_exchange(struct h2_session *s, struct h2_stream *st)
{
	struct exchange	*ex;
	char		*line;
	size_t		 mlen, plen;
	int		 status;

	if ((ex = exchange_new(&h2_ops, st, s->c->addr, s->c->family,
	    s->c->tls)) == NULL) {
		nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
		return;
	}
	st->ex = ex;
	ex->client_peer = &s->c->peer;
	ex->client_local = &s->c->local;
	ex->req_raw = 1;
	s->c->nrequests++;
	status = st->too_large ? 431 : h2_build_request(st, ex);
	/* The log shows the request as an HTTP/1.1 line would. */
	mlen = ex->req.method != NULL ? ex->req.methodlen : 1;
	plen = ex->req.path != NULL ? ex->req.pathlen : 1;
	if ((line = exchange_head_buf(ex, mlen + plen + 11)) != NULL) {
		memcpy(line, ex->req.method != NULL ? ex->req.method : "-",
		    mlen);
		line[mlen] = ' ';
		memcpy(line + mlen + 1, ex->req.path != NULL ? ex->req.path :
		    "-", plen);
		memcpy(line + mlen + 1 + plen, " HTTP/2.0", 9);
		ex->reqline_len = mlen + plen + 10;
	}
	if (status != 0) {
		exchange_fail(ex, status, "bad-request");
		return;
	}
	exchange_start(ex);
}

static int
h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st;
	size_t			 i;

	(void)ng;
	switch (frame->hd.type) {
	case NGHTTP2_RST_STREAM:
		if (h2_rate(s, &s->resets, H2_RESETS_PER_SEC))
			h2_calm_down(s, "too many stream resets");
		return (0);
	case NGHTTP2_WINDOW_UPDATE:
		if (frame->hd.stream_id == 0 && s->debt_held) {
			/* The window owed to a parked past may be open now. */
			s->debt_held = 0;
			TAILQ_FOREACH(st, &s->streams, entry)
				h2_stream_resume(st);
		}
		return (0);
	case NGHTTP2_SETTINGS:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
			if (s->settings_unacked > 0)
				s->settings_unacked--;
		} else {
			s->got_settings = 1;
			for (i = 0; i < frame->settings.niv; i++)
				if (frame->settings.iv[i].settings_id ==
				    NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES)
					s->no_prio =
					    frame->settings.iv[i].value;
		}
		/* FALLTHROUGH */
	case NGHTTP2_PING:
		if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
		    h2_rate(s, &s->floods, H2_FLOOD_PER_SEC))
			h2_calm_down(s, "SETTINGS or PING flood");
		return (0);
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		break;
	default:
		return (0);
	}
	if ((st = h2_stream_get(s, frame->hd.stream_id)) == NULL)
		return (0);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		st->req_ended = 1;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		h2_start_exchange(s, st);
		return (0);
	}
	if (st->ex != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		exchange_req_more(st->ex);
	return (0);
}

static int
h2_on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st;

	(void)flags;
	if ((st = h2_stream_get(s, id)) == NULL || st->ex == NULL) {
		/* Nobody takes it: let the window open again. */
		nghttp2_session_consume(ng, id, len);
		return (0);
	}
	if (evbuffer_add(st->req_in, data, len) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	exchange_req_more(st->ex);
	return (0);
}

static int
h2_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error,
    void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st;

	(void)error;
	if ((st = h2_stream_get(s, id)) == NULL)
		return (0);
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	h2_stream_free(st);
	if (s->nstreams == 0 && !s->goaway)
		h2_idle(s);
	return (0);
}

static ssize_t
h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *source, void *arg)
{
	struct h2_stream	*st = source->ptr;
	struct h2_session	*s = arg;
	size_t			 avail, n;
	int32_t			 win;

	(void)id;
	(void)buf;
	/* The bytes move in h2_send_data(), without a copy. */
	avail = evbuffer_get_length(st->resp);
	if (s->send_debt > 0 && avail > 0) {
		/* Woken from parking: the client's window is the smaller. */
		win = nghttp2_session_get_remote_window_size(ng) -
		    s->send_debt;
		if (win <= 0) {
			st->deferred = 1;
			s->debt_held = 1;
			return (NGHTTP2_ERR_DEFERRED);
		}
		if ((size_t)win < length)
			length = win;
	}
	n = avail < length ? avail : length;
	if (n == avail) {
		if (st->resp_eof)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		else if (n == 0) {
			st->deferred = 1;
			return (NGHTTP2_ERR_DEFERRED);
		}
	}
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (st->ex != NULL && avail - n < H2_STREAM_HIGH_WATER / 4)
		st->want_writable = 1;
	return ((ssize_t)n);
}

/*
 * A DATA frame of a response: its header, then the stream's bytes moved
 * chain by chain into the connection's output. Called from inside
 * nghttp2_session_mem_send(), right after h2_data_read() for the same
 * frame.
 */
static int
h2_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
    size_t length, nghttp2_data_source *source, void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st = source->ptr;
	struct evbuffer		*out = bufferevent_get_output(s->c->bev);
	struct evbuffer_iovec	 vec[H2_PEEK_VECS];
	unsigned char		*p;
	size_t			 left, len;
	int			 i, n;

	(void)ng;
	/* No padding callback is set: nghttp2 never pads. */
	if (frame->data.padlen > 0 || evbuffer_add(out, framehd, 9) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	if (length == 0)
		/* The end of the stream, found after its last bytes went. */
		return (0);
	if (s->c->tls || length < H2_COPY_BELOW) {
		/*
		 * Copied behind what is already there: TLS writes a record,
		 * and a syscall, per chain, and frames moved chain by chain
		 * went out as a 9-byte record and records cut short. Small
		 * payloads are copied in cleartext too, for fewer chains.
		 */
		n = evbuffer_peek(st->resp, length, NULL, vec, H2_PEEK_VECS);
		if (n > H2_PEEK_VECS) {
			if ((p = evbuffer_pullup(st->resp, length)) == NULL)
				return (NGHTTP2_ERR_CALLBACK_FAILURE);
			vec[0].iov_base = p;
			vec[0].iov_len = length;
			n = 1;
		}
		for (i = 0, left = length; i < n && left > 0; i++) {
			len = vec[i].iov_len < left ? vec[i].iov_len : left;
			if (evbuffer_add(out, vec[i].iov_base, len) == -1)
				return (NGHTTP2_ERR_CALLBACK_FAILURE);
			left -= len;
		}
		evbuffer_drain(st->resp, length);
		return (0);
	}
	if (evbuffer_remove_buffer(st->resp, out, length) != (int)length)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	return (0);
}

static void
h2_wake_cb(evutil_socket_t fd, short events, void *arg)
{
	struct h2_session	*s = arg;
	struct h2_stream	*st, *next;

	(void)fd;
	(void)events;
	TAILQ_FOREACH_SAFE(st, &s->streams, entry, next) {
		if (st->want_req && st->ex != NULL) {
			st->want_req = 0;
			exchange_req_more(st->ex);
		}
		if (!st->want_writable || st->ex == NULL)
			continue;
		st->want_writable = 0;
		exchange_resp_writable(st->ex);
	}
	h2_flush(s);
}

/*
 * Sending may close streams, and closing a stream ends its exchange:
 * the front operations, which an exchange calls, only ask for a flush
 * from the loop.
 */
static void
h2_kick(struct h2_session *s)
{
	event_active(s->wake_ev, EV_TIMEOUT, 0);
}

/*
 * The session is over. Its exchanges may be up the stack right now, so
 * the connection is freed from the timer, not here.
 */
static void
h2_close_later(struct h2_session *s)
{
	s->dead = 1;
	client_timer_set(s->c, 0);
}

/* Writes what nghttp2 has to send, as far as the socket takes it. */
void
h2_flush(struct h2_session *s)
{
	struct evbuffer		*out = bufferevent_get_output(s->c->bev);
	struct h2_stream	*st;
	const uint8_t		*data;
	ssize_t			 n = 0;

	if (s->busy || s->dead || s->ng == NULL)
		return;
	s->busy = 1;
	for (;;) {
		while (evbuffer_get_length(out) < PROXY_HIGH_WATER &&
		    (n = nghttp2_session_mem_send(s->ng, &data)) > 0) {
			if (evbuffer_add(out, data, n) == -1)
				break;
		}
		if (s->c->tls)
			break;
		/* Written at once; more only if the socket took it all. */
		bev_flush(s->c->bev);
		if (n <= 0 || evbuffer_get_length(out) > 0)
			break;
	}
	s->busy = 0;
	if (n < 0) {
		h2_close_later(s);
		return;
	}
	/*
	 * Streams whose buffers emptied read their origins again, from the
	 * loop: an exchange may be the caller of this very flush.
	 */
	TAILQ_FOREACH(st, &s->streams, entry) {
		if (st->want_writable && st->ex != NULL) {
			h2_kick(s);
			break;
		}
	}
	if (!nghttp2_session_want_read(s->ng) &&
	    !nghttp2_session_want_write(s->ng) &&
	    evbuffer_get_length(out) == 0)
		h2_close_later(s);
}

static int
h2_websocket_mounts(void)
{
	struct vhost_conf	*v;
	struct mount_conf	*m;

	TAILQ_FOREACH(v, &worker->conf->vhosts, entry)
		TAILQ_FOREACH(m, &v->mounts, entry)
			if (m->websocket)
				return (1);
	return (0);
}

/*
 * A session for c, its settings submitted. A connection woken from
 * parking has sent its preface long ago. Returns -1 on failure, c to
 * be freed.
 */
int
h2_session_open(struct client *c, int woken)
{
	struct h2_session		*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (-1);
	s->c = c;
	s->no_prio = -1;
	TAILQ_INIT(&s->streams);
	c->h2 = s;
	if ((s->wake_ev = event_new(worker->base, -1, 0, h2_wake_cb,
	    s)) == NULL)
		return (-1);
	return (h2_ng_new(s, woken));
}

/* The nghttp2 half of a session, new or woken from its sleep. */
int
h2_ng_new(struct h2_session *s, int woken)
{
	nghttp2_session_callbacks	*cbs;
	nghttp2_option			*opt;
	nghttp2_settings_entry		 iv[4];
	size_t				 niv = 3;
	int				 r;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return (-1);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return (-1);
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
	    h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_begin_frame_callback(cbs,
	    h2_on_begin_frame);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    h2_on_data_chunk);
	nghttp2_session_callbacks_set_send_data_callback(cbs, h2_send_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    h2_on_stream_close);
	/* Windows open only as the origins take the bytes. */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	if (woken)
		nghttp2_option_set_no_recv_client_magic(opt, 1);
	else
		s->skip = H2_PREFACE_LEN;
	r = nghttp2_session_server_new2(&s->ng, cbs, s, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (r != 0) {
		s->ng = NULL;
		return (-1);
	}
	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = H2_MAX_STREAMS;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = H2_WINDOW;
	iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[2].value = worker->conf->limits.header_bytes;
	if (h2_websocket_mounts()) {
		/* RFC 8441, only where a mount takes WebSockets. */
		iv[3].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
		iv[3].value = 1;
		niv = 4;
	}
	if (h2_submit_settings(s, iv, niv) != 0 ||
	    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
	    H2_CONN_WINDOW) != 0)
		return (-1);
	return (0);
}

int
h2_submit_settings(struct h2_session *s, nghttp2_settings_entry *iv,
    size_t niv)
{
	if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, niv) != 0)
		return (-1);
	s->settings_unacked++;
	return (0);
}

/* From now on the socket feeds the session. */
void
h2_session_run(struct client *c)
{
	bufferevent_setcb(c->bev, h2_read_cb, h2_write_cb, h2_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_setwatermark(c->bev, EV_WRITE, PROXY_LOW_WATER, 0);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, c->tls ? EV_READ | EV_WRITE : EV_READ);
	if (c->h2->idle_end == 0)
		h2_idle(c->h2);
	else
		/* Woken: the idle time it had left goes on. */
		h2_idle_timer(c->h2);
	h2_read_cb(c->bev, c);
}

void
h2_start(struct client *c)
{
	if (h2_session_open(c, 0) == -1) {
		client_free(c);
		return;
	}
	h2_session_run(c);
}

static void
h2_read_cb(struct bufferevent *bev, void *arg)
{
	struct client		*c = arg;
	struct h2_session	*s = c->h2;
	struct evbuffer		*in = bufferevent_get_input(bev);
	unsigned char		*p;
	size_t			 len;
	ssize_t			 n;

	if (s->ng == NULL && evbuffer_get_length(in) > 0 &&
	    h2_awake(s) == -1) {
		client_free(c);
		return;
	}
	while ((len = evbuffer_get_length(in)) > 0) {
		if (len > 16384)
			len = 16384;
		if ((p = evbuffer_pullup(in, len)) == NULL) {
			client_free(c);
			return;
		}
		s->busy = 1;
		n = nghttp2_session_mem_recv(s->ng, p, len);
		s->busy = 0;
		if (n < 0) {
			log_debug("client %s: http2: %s", c->addr,
			    nghttp2_strerror((int)n));
			client_free(c);
			return;
		}
		h2_track(s, p, n);
		evbuffer_drain(in, n);
	}
	h2_flush(s);
	if (s->park_wanted)
		h2_park_maybe(c);
}

static void
h2_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	/* A plain socket is written at once: see h2_flush(). */
	if (!c->tls)
		bev_written(bev);
	h2_flush(c->h2);
}

static void
h2_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct client	*c = arg;

	(void)bev;
	(void)events;
	client_free(c);
}

void
h2_free(struct client *c)
{
	struct h2_session	*s = c->h2;
	struct h2_stream	*st;

	c->h2 = NULL;
	if (s == NULL)
		return;
	while ((st = TAILQ_FIRST(&s->streams)) != NULL)
		h2_stream_free(st);
	if (s->wake_ev != NULL)
		event_free(s->wake_ev);
	if (s->ng != NULL)
		nghttp2_session_del(s->ng);
	if (s->nap != NULL) {
		h2_nap_free(s->nap);
		worker_nasleep--;
	}
	free(s);
}

/* The connection's timer: idle, or closing. */
void
h2_timeout(struct client *c)
{
	struct h2_session	*s = c->h2;

	if (s->dead) {
		/* Let the GOAWAY arrive before the close, not a reset. */
		h2_free(c);
		client_linger(c);
		return;
	}
	if (c->parking) {
		h2_park_timer(c);
		return;
	}
	if (s->nstreams > 0)
		return;
	h2_goaway(c);
	if (!s->dead)
		/* A peer that never reads its GOAWAY is not waited for. */
		client_timer_set(c, LINGER_SECS);
}

/* Graceful: finish what runs, take nothing new. */
void
h2_goaway(struct client *c)
{
	struct h2_session	*s = c->h2;

	if (s->goaway)
		return;
	if (h2_awake(s) == -1) {
		h2_close_later(s);
		return;
	}
	s->goaway = 1;
	nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(s->ng),
	    NGHTTP2_NO_ERROR, NULL, 0);
	h2_flush(s);
}

static struct evbuffer *
h2_req_body(void *arg)
{
	struct h2_stream	*st = arg;

	return (st->req_in);
}

static int
h2_req_ended(void *arg)
{
	struct h2_stream	*st = arg;

	return (st->req_ended);
}

static void
h2_req_consumed(void *arg, size_t n, int full)
{
	struct h2_stream	*st = arg;

	(void)full;
	if (n > 0) {
		nghttp2_session_consume(st->s->ng, st->id, n);
		h2_kick(st->s);
	}
}

static struct evbuffer *
h2_resp_buf(void *arg)
{
	struct h2_stream	*st = arg;

	return (st->resp);
}

static void
h2_resp_more(void *arg)
{
	struct h2_stream	*st = arg;

	h2_stream_resume(st);
	h2_kick(st->s);
}

static void
h2_nv(nghttp2_nv *nv, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	nv->name = (uint8_t *)(uintptr_t)name;
	nv->namelen = namelen;
	nv->value = (uint8_t *)(uintptr_t)value;
	nv->valuelen = valuelen;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

static void
h2_submit(struct h2_stream *st, nghttp2_nv *nva, size_t n, int body,
    int interim)
{
	nghttp2_data_provider	 dp;
	int			 r;

	if (interim)
		r = nghttp2_submit_headers(st->s->ng, NGHTTP2_FLAG_NONE,
		    st->id, NULL, nva, n, NULL);
	else if (body) {
		dp.source.ptr = st;
		dp.read_callback = h2_data_read;
		r = nghttp2_submit_response(st->s->ng, st->id, nva, n, &dp);
	} else
		r = nghttp2_submit_response(st->s->ng, st->id, nva, n, NULL);
	if (r != 0)
		log_warnx("%s: %s", __func__, nghttp2_strerror(r));
	h2_kick(st->s);
}

/*
 * v in decimal, ending at buf + size: where it starts. Of every
 * response, without printf's cost.
 */
static char *
h2_decimal(char *buf, size_t size, unsigned long long v)
{
	char	*p = buf + size;

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v > 0 && p > buf);
	return (p);
}

/* Status and end-to-end fields, names in lower case, hop-by-hop gone. */
static void
h2_resp_head(void *arg, struct exchange *ex, const struct http_response *resp)
{
	/* Names of a head fit in the head; nghttp2 copies them. */
	static char		 lowered[ORIGIN_HEAD_MAX];
	struct h2_stream	*st = arg;
	nghttp2_nv		 nva[HTTP_MAX_FIELDS + 2];
	char			 status[3];
	char			 clen[24];
	const struct http_field	*f;
	char			*lower, *p;
	size_t			 n = 0, j, used = 0;
	int			 i, interim = resp->status < 200;

	if (ex->tunnel) {
		/* RFC 8441: the 101 of HTTP/1.1 is a 200 on the stream. */
		interim = 0;
		h2_decimal(status, 3, 200);
		st->want_req = 1;
		h2_kick(st->s);
	} else
		/* Three digits: the parser took no other. */
		h2_decimal(status, 3, resp->status);
	h2_nv(&nva[n++], ":status", 7, status, 3);
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if (http_field_is(f, "content-length") ||
		    http_hop_by_hop(f, resp->fields, resp->nfields) ||
		    (ex->tunnel && http_field_is(f, "sec-websocket-accept")))
			continue;
		if (f->namelen > sizeof(lowered) - used)
			break;		/* not in a head of ORIGIN_HEAD_MAX */
		lower = lowered + used;
		used += f->namelen;
		for (j = 0; j < f->namelen; j++)
			lower[j] = tolower((unsigned char)f->name[j]);
		h2_nv(&nva[n++], lower, f->namelen, f->value, f->valuelen);
	}
	if (!interim && resp->content_length >= 0 && !resp->chunked &&
	    !resp->te_other) {
		p = h2_decimal(clen, sizeof(clen), resp->content_length);
		h2_nv(&nva[n++], "content-length", 14, p,
		    clen + sizeof(clen) - p);
	}
	h2_submit(st, nva, n, ex->tunnel || (!interim &&
	    ex->resp_body != BODY_NONE), interim);
}

/* Our own answers: error pages, redirects, OPTIONS *. */
static void
h2_local(void *arg, struct exchange *ex, const char *loc, size_t loclen)
{
	struct h2_stream	*st = arg;
	nghttp2_nv		 nva[6];
	char			 status[4], clen[32], page[1024];
	char			 location[UXRP_URLPATH_MAX * 2 + 8192];
	const char		*css = ex->vhost != NULL ?
				    ex->vhost->error_css : NULL;
	const char		*q;
	size_t			 n = 0;
	int			 len = 0;

	snprintf(status, sizeof(status), "%03d", ex->status);
	h2_nv(&nva[n++], ":status", 7, status, 3);
	if (ex->status == 301) {
		q = loc + loclen;
		snprintf(location, sizeof(location), "%.*s/%.*s",
		    (int)loclen, loc,
		    (int)(ex->req.pathlen - (q - ex->req.path)), q);
		h2_nv(&nva[n++], "location", 8, location, strlen(location));
	} else if (ex->status == 200 && ex->local_body != NULL) {
		h2_nv(&nva[n++], "content-type", 12, ex->local_type,
		    strlen(ex->local_type));
		h2_nv(&nva[n++], "cache-control", 13, "no-store", 8);
		snprintf(clen, sizeof(clen), "%zu",
		    evbuffer_get_length(ex->local_body));
		h2_nv(&nva[n++], "content-length", 14, clen, strlen(clen));
		if (!ex->req.is_head) {
			evbuffer_add_buffer(st->resp, ex->local_body);
			st->resp_eof = 1;
			h2_submit(st, nva, n, 1, 0);
		} else
			h2_submit(st, nva, n, 0, 0);
		return;
	} else if (ex->status >= 400) {
		len = response_page(page, sizeof(page), ex->status, css);
		if (len < 0)
			len = 0;
		h2_nv(&nva[n++], "content-type", 12,
		    "text/html; charset=utf-8", 24);
		h2_nv(&nva[n++], "cache-control", 13, "no-store", 8);
		if (ex->status == 503)
			h2_nv(&nva[n++], "retry-after", 11, RETRY_AFTER,
			    strlen(RETRY_AFTER));
	}
	snprintf(clen, sizeof(clen), "%d", len);
	h2_nv(&nva[n++], "content-length", 14, clen, strlen(clen));
	if (len > 0 && !ex->req.is_head) {
		evbuffer_add(st->resp, page, len);
		st->resp_eof = 1;
		h2_submit(st, nva, n, 1, 0);
	} else
		h2_submit(st, nva, n, 0, 0);
}

static void
h2_done(void *arg, enum front_end how)
{
	struct h2_stream	*st = arg;

	st->ex = NULL;
	if (how == FRONT_ABORT) {
		nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
	} else {
		st->resp_eof = 1;
		h2_stream_resume(st);
	}
	h2_kick(st->s);
}
