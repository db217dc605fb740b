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

/* HTTP/2 sessions: shared by h2.c and h2park.c only. */

#ifndef UXRP_H2_H
#define UXRP_H2_H

#define H2_PREFACE_LEN		24		/* "PRI * HTTP/2.0..." */
#define H2_DEFAULT_WINDOW	65535		/* RFC 9113 6.9.2 */
#define H2_DEFAULT_TABLE	4096		/* RFC 9113 6.5.2 */

#define H2_MAX_STREAMS		100
#define H2_WINDOW		(256 * 1024)	/* per stream */
#define H2_CONN_WINDOW		(4 * 1024 * 1024)
#define H2_RESETS_PER_SEC	200		/* rapid reset bound */
#define H2_FLOOD_PER_SEC	1000		/* SETTINGS, PING */
#define H2_HDR_OVERHEAD		32		/* RFC 9113 6.5.2 */
#define H2_COPY_BELOW		4096		/* DATA copied, not moved */
#define H2_PEEK_VECS		8		/* chains of one copied frame */

struct h2_stream {
	TAILQ_ENTRY(h2_stream)	 entry;
	struct h2_session	*s;
	int32_t			 id;
	struct exchange		*ex;
	char			*hbuf;		/* header names and values */
	size_t			 hlen;
	size_t			 hcap;
	size_t			 hlist;		/* header list size so far */
	int			 too_large;
	int			 bad;
	int			 nhdrs;
	struct evbuffer		*req_in;
	int			 req_ended;
	struct evbuffer		*resp;
	int			 resp_eof;
	int			 deferred;
	int			 want_writable;
	int			 want_req;	/* a tunnel opened: pump DATA */
	char			*cookie;	/* crumbs joined */
	/* Last, and never cleared: only the first nhdrs are valid. */
	struct {
		size_t		 noff, nlen, voff, vlen;
	}			 hdrs[HTTP_MAX_FIELDS + 8];
};

struct h2_session {
	struct client		*c;
	nghttp2_session		*ng;
	TAILQ_HEAD(, h2_stream)	 streams;
	int			 nstreams;
	int			 busy;		/* inside nghttp2: no send */
	int			 goaway;
	int			 dead;		/* to be closed, not from here */
	struct event		*wake_ev;	/* streams that want data */
	time_t			 rate_sec;
	int			 resets;
	int			 floods;
	size_t			 hblock;	/* bytes of this header block */
	/* For parking; see h2park.c. */
	int			 settings_unacked;
	int			 got_settings;	/* the client's first SETTINGS */
	int			 shrunk;	/* told: no dynamic table */
	int			 park_wanted;	/* idle: park when it can */
	int			 waking;	/* replaying its past */
	int32_t			 max_stream;	/* highest stream it opened */
	int32_t			 send_debt;	/* nghttp2's window minus its */
	int			 debt_held;	/* streams wait for the window */
	uint32_t		 skip;		/* preface or frame bytes left */
	uint8_t			 fhdr_have;	/* frame header bytes seen */
	uint8_t			 fhdr[3];	/* its length */
	int			 no_prio;	/* its NO_RFC7540_PRIORITIES */
	int64_t			 idle_end;	/* monotonic ms, or 0 */
	struct h2_nap		*nap;		/* TLS, asleep: no ng */
};

int	 h2_session_open(struct client *, int);
int	 h2_ng_new(struct h2_session *, int);
void	 h2_session_run(struct client *);
int	 h2_submit_settings(struct h2_session *, nghttp2_settings_entry *,
	    size_t);
void	 h2_flush(struct h2_session *);

/* h2park.c */
void	 h2_track(struct h2_session *, const uint8_t *, size_t);
void	 h2_idle(struct h2_session *);
void	 h2_idle_timer(struct h2_session *);
int	 h2_awake(struct h2_session *);
void	 h2_park_timer(struct client *);
void	 h2_park_maybe(struct client *);
int	 h2_table_back(struct h2_session *);

#endif /* UXRP_H2_H */


