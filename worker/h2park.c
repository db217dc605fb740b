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
 * Idle cleartext HTTP/2 connections are parked as HTTP/1.x ones are
 * (park.c): their nghttp2 session, some 16 kB of frame buffer and HPACK
 * tables, is freed, and the few words its future needs are kept in an
 * h2_nap. A new session takes over at the next byte. nghttp2 cannot be
 * handed a session's state, so the new one is shown the past instead:
 * the client's settings as its first SETTINGS frame, the acknowledgement
 * of ours, the connection window the client opened beyond the first
 * 65535 bytes, and a stream with the highest id the client used (reset
 * at once: frames for old streams stay those of closed streams, not a
 * protocol error). What nghttp2 answers to that past is never sent.
 *
 * Two things cannot be shown. The client's HPACK encoder refers to our
 * decoder's dynamic table: a connection that filled it is told first
 * that the table is gone (SETTINGS_HEADER_TABLE_SIZE 0) and parks once
 * that is acknowledged; waking, it is given the table back. And a
 * connection window below 65535 bytes cannot be replayed: the
 * difference (send_debt) holds DATA back in h2_data_read(). Our own
 * HPACK encoder starts empty: the client's table then holds its new
 * entries first, where ours are, and the old ones after them, which go
 * first when room is short.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <nghttp2/nghttp2.h>

#include "uxrp.h"
#include "worker.h"
#include "h2.h"

#define H2_FRAME_HD	9
#define H2_NAP_NSET	6

/* The client's settings nghttp2 tells, in this order. */
static const int32_t h2_nap_ids[H2_NAP_NSET] = {
	NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,
	NGHTTP2_SETTINGS_ENABLE_PUSH,
	NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
	NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
	NGHTTP2_SETTINGS_MAX_FRAME_SIZE,
	NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE
};

struct h2_nap {
	int64_t		 idle_end;	/* monotonic ms */
	uint32_t	 remote[H2_NAP_NSET];
	int32_t		 window;	/* the client's, for our DATA */
	int32_t		 max_stream;
	int8_t		 no_prio;	/* SETTINGS_NO_RFC7540_PRIORITIES */
	int8_t		 shrunk;	/* its HPACK table taken away */
};

static struct slab h2_nap_slab = { sizeof(struct h2_nap), { NULL }, 0 };

void
h2_nap_free(struct h2_nap *nap)
{
	slab_put(&h2_nap_slab, nap);
}

/*
 * Follows the frames the client sends, by their lengths only: parking
 * waits for the end of one, as nghttp2 keeps a partial frame to itself.
 */
void
h2_track(struct h2_session *s, const uint8_t *p, size_t len)
{
	size_t	 n;

	while (len > 0) {
		if (s->skip > 0) {
			n = len < s->skip ? len : s->skip;
			s->skip -= n;
			p += n;
			len -= n;
			continue;
		}
		if (s->fhdr_have < sizeof(s->fhdr))
			s->fhdr[s->fhdr_have] = *p;
		p++;
		len--;
		if (++s->fhdr_have == H2_FRAME_HD) {
			s->skip = (uint32_t)s->fhdr[0] << 16 |
			    (uint32_t)s->fhdr[1] << 8 | s->fhdr[2];
			s->fhdr_have = 0;
		}
	}
}

static int64_t
h2_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Milliseconds of timeouts.idle left to the connection. */
long
h2_idle_left_ms(struct client *c)
{
	int64_t	 left = c->h2->idle_end - h2_now_ms();

	return (left > 0 ? (long)left : 0);
}

static void
h2_timer_ms(struct client *c, long ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

/*
 * No stream left: timeouts.idle starts. Waking costs a new session, and
 * a client's HPACK table a round trip each way: a connection parks
 * after PARK_AFTER_MS, not between the requests of a busy client.
 */
void
h2_idle(struct h2_session *s)
{
	s->idle_end = h2_now_ms() + worker->conf->timeouts.idle * 1000L;
	h2_idle_timer(s);
}

/* The timer for what comes first: parking, or the end of idle time. */
void
h2_idle_timer(struct h2_session *s)
{
	struct client	*c = s->c;
	long		 left = h2_idle_left_ms(c);

	c->parking = left > PARK_AFTER_MS;
	h2_timer_ms(c, c->parking ? PARK_AFTER_MS : left);
}

/* The connection has been idle PARK_AFTER_MS: park it, now or soon. */
void
h2_park_timer(struct client *c)
{
	struct h2_session	*s = c->h2;
	nghttp2_settings_entry	 iv;

	/* The rest of the idle time, if it cannot park. */
	c->parking = 0;
	h2_timer_ms(c, h2_idle_left_ms(c));
	s->park_wanted = 1;
	if (!s->shrunk &&
	    nghttp2_session_get_hd_inflate_dynamic_table_size(s->ng) > 0) {
		iv.settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
		iv.value = 0;
		if (h2_submit_settings(s, &iv, 1) == 0)
			s->shrunk = 1;
		/* Parks when the client acknowledges: h2_read_cb(). */
		h2_flush(s);
		return;
	}
	h2_park_maybe(c);
}

/*
 * Parks c if it is between frames with nothing to say; c is gone then.
 * A TLS connection that cannot park (OpenSSL holds bytes of a record)
 * stays, and only its nghttp2 session goes until the next byte
 * (h2_awake()).
 */
void
h2_park_maybe(struct client *c)
{
	struct h2_session	*s = c->h2;
	struct h2_nap		*nap;

	if (client_park(c) == 0 || !c->tls)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0 ||
	    (nap = h2_nap_take(c)) == NULL)
		return;
	nghttp2_session_del(s->ng);
	s->ng = NULL;
	s->nap = nap;
	s->park_wanted = 0;
	worker_nasleep++;
	park_released();
}

/* What the parked connection keeps, or NULL when it cannot park yet. */
struct h2_nap *
h2_nap_take(struct client *c)
{
	struct h2_session	*s = c->h2;
	struct h2_nap		*nap;
	int			 i;

	if (s == NULL || s->ng == NULL || s->goaway || s->dead ||
	    s->busy || s->nstreams > 0 || !s->got_settings ||
	    s->settings_unacked > 0 || s->skip > 0 || s->fhdr_have > 0 ||
	    nghttp2_session_want_write(s->ng) ||
	    nghttp2_session_get_hd_inflate_dynamic_table_size(s->ng) > 0)
		return (NULL);
	if ((nap = slab_get(&h2_nap_slab)) == NULL)
		return (NULL);
	for (i = 0; i < H2_NAP_NSET; i++)
		nap->remote[i] = nghttp2_session_get_remote_settings(s->ng,
		    h2_nap_ids[i]);
	nap->window = nghttp2_session_get_remote_window_size(s->ng) -
	    s->send_debt;
	nap->max_stream = s->max_stream;
	nap->idle_end = s->idle_end;
	nap->no_prio = s->no_prio;
	nap->shrunk = s->shrunk;
	return (nap);
}

static uint8_t *
h2_put32(uint8_t *q, uint32_t v)
{
	q[0] = v >> 24;
	q[1] = v >> 16;
	q[2] = v >> 8;
	q[3] = v;
	return (q + 4);
}

static uint8_t *
h2_put_hd(uint8_t *q, uint32_t len, uint8_t type, uint8_t flags,
    int32_t stream)
{
	q[0] = len >> 16;
	q[1] = len >> 8;
	q[2] = len;
	q[3] = type;
	q[4] = flags;
	return (h2_put32(q + 5, (uint32_t)stream));
}

static uint8_t *
h2_put_setting(uint8_t *q, uint16_t id, uint32_t v)
{
	q[0] = id >> 8;
	q[1] = id;
	return (h2_put32(q + 2, v));
}

/* nghttp2's answers to the replayed past: the client has had them. */
static int
h2_discard(struct h2_session *s)
{
	const uint8_t	*data;
	ssize_t		 n;

	while ((n = nghttp2_session_mem_send(s->ng, &data)) > 0)
		;
	return (n < 0 ? -1 : 0);
}

/*
 * Shows a new nghttp2 session of s the past of its connection. nap
 * stays the caller's. Returns -1 on failure, the connection to be
 * closed.
 */
static int
h2_replay(struct h2_session *s, const struct h2_nap *nap)
{
	uint8_t			 past[3 * H2_FRAME_HD +
				    6 * (H2_NAP_NSET + 1) + 4 +
				    H2_FRAME_HD + 3];
	uint8_t			*q = past;
	ssize_t			 n;
	int			 i, nset;

	/* Our SETTINGS and WINDOW_UPDATE: the client has them. */
	if (h2_discard(s) == -1)
		return (-1);
	nset = H2_NAP_NSET + (nap->no_prio >= 0);
	q = h2_put_hd(q, 6 * nset, NGHTTP2_SETTINGS, NGHTTP2_FLAG_NONE, 0);
	for (i = 0; i < H2_NAP_NSET; i++)
		q = h2_put_setting(q, h2_nap_ids[i], nap->remote[i]);
	if (nap->no_prio >= 0)
		q = h2_put_setting(q, NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES,
		    nap->no_prio);
	q = h2_put_hd(q, 0, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0);
	if (nap->window > H2_DEFAULT_WINDOW) {
		q = h2_put_hd(q, 4, NGHTTP2_WINDOW_UPDATE, NGHTTP2_FLAG_NONE, 0);
		q = h2_put32(q, nap->window - H2_DEFAULT_WINDOW);
	}
	if (nap->max_stream > 0) {
		/* GET http / from the static table: HPACK stays empty. */
		q = h2_put_hd(q, 3, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM |
		    NGHTTP2_FLAG_END_HEADERS, nap->max_stream);
		*q++ = 0x82;
		*q++ = 0x86;
		*q++ = 0x84;
	}
	s->waking = 1;
	n = nghttp2_session_mem_recv(s->ng, past, q - past);
	s->waking = 0;
	if (n != q - past || h2_discard(s) == -1 ||
	    !nghttp2_session_want_read(s->ng))
		return (-1);
	s->send_debt = nap->window < H2_DEFAULT_WINDOW ?
	    H2_DEFAULT_WINDOW - nap->window : 0;
	s->idle_end = nap->idle_end;
	s->shrunk = nap->shrunk;
	return (h2_table_back(s));
}

/*
 * A client told its HPACK table was gone is back before its connection
 * parked, or has just woken it: it gets the table again, or every later
 * header block would go uncompressed. Returns -1 on failure.
 */
int
h2_table_back(struct h2_session *s)
{
	nghttp2_settings_entry	 iv;

	if (!s->shrunk)
		return (0);
	iv.settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
	iv.value = H2_DEFAULT_TABLE;
	if (h2_submit_settings(s, &iv, 1) == -1)
		return (-1);
	s->shrunk = 0;
	return (0);
}

/*
 * The parked connection c has something to say: a new session, shown
 * its past, takes over. nap stays the caller's. Returns -1 on failure,
 * the connection to be closed.
 */
int
h2_wake(struct client *c, const struct h2_nap *nap)
{
	if (h2_session_open(c, 1) == -1 || h2_replay(c->h2, nap) == -1)
		return (-1);
	h2_session_run(c);
	return (0);
}

/*
 * A TLS connection whose session was put to sleep has something to say
 * (or is to be told GOAWAY). Returns -1 on failure, the connection to
 * be closed.
 */
int
h2_awake(struct h2_session *s)
{
	struct h2_nap	*nap = s->nap;
	int		 r;

	if (s->ng != NULL)
		return (0);
	s->nap = NULL;
	worker_nasleep--;
	s->settings_unacked = 0;
	s->got_settings = 0;
	s->send_debt = 0;
	s->debt_held = 0;
	r = h2_ng_new(s, 1) == -1 || h2_replay(s, nap) == -1 ? -1 : 0;
	h2_nap_free(nap);
	if (r == 0)
		h2_idle_timer(s);
	return (r);
}

/*
 * Shutting down: a parked connection is told it is over, as one with a
 * session would be, and closed.
 */
void
h2_nap_goaway(int fd, struct ssl_st *ssl, const struct h2_nap *nap)
{
	uint8_t		 frame[H2_FRAME_HD + 8], *q = frame;

	q = h2_put_hd(q, 8, NGHTTP2_GOAWAY, NGHTTP2_FLAG_NONE, 0);
	q = h2_put32(q, (uint32_t)nap->max_stream);
	q = h2_put32(q, NGHTTP2_NO_ERROR);
	if (ssl != NULL)
		tls_send_now(ssl, frame, q - frame);
	else
		(void)send(fd, frame, q - frame, MSG_DONTWAIT | MSG_NOSIGNAL);
}
