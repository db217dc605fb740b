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
 * A worker: one event loop that accepts clients, parses their requests,
 * routes them and proxies them to origins. It owns its connections and
 * nothing else; it learns its configuration from the master.
 */

#ifndef WORKER_H
#define WORKER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "uxrp.h"
#include "http.h"

#define ORIGIN_HEAD_MAX		(64 * 1024)	/* origin response head */
#define PROXY_HIGH_WATER	(256 * 1024)	/* per direction */
#define PROXY_LOW_WATER		(64 * 1024)
#define H2_STREAM_HIGH_WATER	(64 * 1024)	/* streams share a socket */
#define LINGER_SECS		2
#define PARK_AFTER_MS		1000	/* idle keep-alive: see park.c */

struct bufferevent;
struct evbuffer;
struct evconnlistener;
struct event;

struct pool;
struct origin_conn;
struct exchange;
struct h2_session;

enum client_state {
	CS_HEAD,	/* waiting for or reading a request head */
	CS_BUSY,	/* an exchange runs */
	CS_LINGER	/* answered; draining input before close */
};

/* A client connection; c->h2 is set once it speaks HTTP/2. */
struct client {
	TAILQ_ENTRY(client)	 entry;
	struct bufferevent	*bev;
	int			 family;
	char			 addr[64];	/* IP address or "unix" */
	struct sockaddr_storage	 peer;		/* the client, maybe by PROXY */
	struct sockaddr_storage	 local;		/* the address it reached */
	int			 tls;
	enum client_state	 state;
	size_t			 scan_off;
	int			 head_started;
	int			 close_after;
	int			 nrequests;
	int			 out_paused;	/* pipelined answers unread */
	int			 parking;	/* the timer is park.c's */
	int			 parked;	/* socket and TLS live on in park.c */
	struct exchange		*ex;
	struct event		*timer;
	struct h2_session	*h2;
};

struct wlistener {
	TAILQ_ENTRY(wlistener)	 entry;
	struct listener_conf	*conf;
	struct evconnlistener	*evl;
};

struct worker {
	int			 id;
	struct event_base	*base;
	struct imsgev		 iev;
	struct worker_priv	 priv;
	struct uxrp_conf	*conf;
	int			 access_log_fd;
	int			 configured;
	int			 shutting_down;
	TAILQ_HEAD(, wlistener)	 listeners;
	TAILQ_HEAD(, client)	 clients;
	int			 nclients;
	struct pool		*pools;		/* one per origin */
	uint32_t		 next_id;
	uint64_t		 requests;
	uint64_t		 errors;
	struct event		*stats_ev;
	struct event		*accept_ev;	/* resumes accepting */
	struct event		*drain_ev;
};

extern struct worker	*worker;

/* A body on its way through, in either direction. */
enum body_in {
	BIN_LENGTH,
	BIN_CHUNKED,
	BIN_CLOSE
};

struct body_pump {
	enum body_in		 in;
	uint64_t		 remaining;	/* BIN_LENGTH */
	struct h1_chunk		 chunk;		/* BIN_CHUNKED */
	int			 out_chunked;	/* re-frame as chunked */
	uint64_t		 total;		/* payload bytes moved */
	uint64_t		 limit;		/* 0: none */
	int			 done;
};

enum pump_result {
	PUMP_MORE,
	PUMP_DONE,
	PUMP_ERROR,
	PUMP_TOO_LARGE
};

/* worker.c */
__attribute__((__noreturn__))
void	 worker_main(int, int, int);
void	 worker_stop_accepting(void);
void	 worker_send_health(int, enum origin_state, const char *);
int	 worker_connect_via_master(uint32_t, int);

/* pool.c: connections to origins */

struct origin_conn {
	TAILQ_ENTRY(origin_conn) entry;		/* idle list */
	struct pool		*pool;
	struct bufferevent	*bev;		/* NULL while resting */
	struct exchange		*ex;		/* NULL when idle */
	int			 requests;	/* served so far */
	int			 idle;		/* on its pool's idle list */
	int			 plain;		/* no TLS: bulk_read() */
	int			 resting;	/* idle long: see pool_rest() */
	struct event		*rest;		/* resting: its close, its end */
	struct timeval		 idle_at;	/* put back idle */
};

void	 pool_init(void);
int	 pool_get(struct pool *, struct exchange *, uint32_t, int);
void	 pool_cancel(struct exchange *);
void	 pool_put(struct origin_conn *);
void	 pool_close(struct origin_conn *);
void	 pool_close_idle(void);
void	 pool_purge(void);
int	 pool_shed_idle(int);
struct pool *pool_for(int);
struct origin_conf *pool_origin(struct pool *);
void	 pool_connected_via_master(const struct origin_connect_res *, int);
void	 pool_mark(struct pool *, enum origin_state, const char *);
void	 pool_count_start(struct pool *);
int	 pool_usable(struct pool *);
int	 pool_inflight(struct pool *);
void	 pool_count_end(struct pool *, int);
void	 pool_send_stats(void);
void	 pool_set_state(struct pool *, enum origin_state);
socklen_t pool_sockaddr(const struct origin_conf *, struct sockaddr_storage *);

/* check.c: active health checks of origins */
#define CHECK_REQID		0x80000000U	/* connects made for a check */
void	 check_init(void);
void	 check_connected(const struct origin_connect_res *, int);

/* route.c */
struct vhost_conf *route_vhost(const struct uxrp_conf *, const char *, size_t);
const struct mount_conf *route_mount(const struct vhost_conf *, const char *,
	    size_t, int *);
int	 route_rewrite(const struct mount_conf *, const char *, size_t, char *,
	    size_t);

/*
 * The client side of an exchange: an HTTP/1.1 connection or an HTTP/2
 * stream. The exchange calls these; none of them frees the exchange.
 */
enum front_end {
	FRONT_COMPLETE,		/* response whole; the front may go on */
	FRONT_CLOSE,		/* our own answer; close after it (h1) */
	FRONT_ABORT		/* cut short: reset the stream or connection */
};

struct front_ops {
	struct evbuffer	*(*req_body)(void *);
	int		 (*req_ended)(void *);	/* no more body will come */
	void		 (*req_consumed)(void *, size_t, int);
	struct evbuffer	*(*resp_buf)(void *);
	void		 (*resp_head)(void *, struct exchange *,
			    const struct http_response *);
	void		 (*resp_more)(void *);
	void		 (*local)(void *, struct exchange *, const char *,
			    size_t);
	void		 (*done)(void *, enum front_end);
	size_t		 resp_high;	/* response bytes buffered, at most */
};

struct exchange {
	const struct front_ops	*ops;
	void			*front;
	const char		*client_addr;	/* the front's, outlives us */
	const struct sockaddr_storage *client_peer;	/* the same */
	const struct sockaddr_storage *client_local;
	int			 client_family;
	int			 tls;
	int			 front_chunked;	/* h1.1 client: may re-frame */
	int			 req_raw;	/* body is raw until req_ended */
	uint32_t		 id;
	struct timeval		 start;
	char			*head;		/* request head, owned */
	size_t			 headcap;	/* bytes allocated at head */
	SLIST_ENTRY(exchange)	 spare;		/* kept for the next request */
	size_t			 reqline_len;
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
	enum http_body		 resp_body;
	struct body_pump	 respbody;
	int			 origin_reusable;
	int			 origin_eof;
	int			 origin_wfail;	/* it stopped taking the request */
	const struct http_field	*upgrade;	/* a WebSocket upgrade asked */
	int			 h2_websocket;	/* extended CONNECT (RFC 8441) */
	char			 ws_key[32];	/* made for the h1 handshake */
	int			 shut_pending;	/* tunnel: FIN once flushed */
	unsigned int		 tried;		/* mount origins tried, bits */
	struct evbuffer		*local_body;	/* a page of our own */
	const char		*local_type;
	int			 failed_over;
	int			 tunnel;	/* after 101: bytes both ways */
	int			 counted;	/* in its pool's in-flight count */
	int			 close_after;	/* h1: the client must close */
	int			 status;
	const char		*cause;
	struct event		*resp_timer;
	struct http_request	 req;		/* last: see exchange_new() */
};

/* proxy.c: one request's way to the origin and back */
struct exchange *exchange_new(const struct front_ops *, void *, const char *,
	    int, int);
char	*exchange_head_buf(struct exchange *, size_t);
void	 exchange_free(struct exchange *);
void	 exchange_spares_drop(void);
void	 exchange_start(struct exchange *);
void	 exchange_fail(struct exchange *, int, const char *);
void	 exchange_req_more(struct exchange *);
void	 exchange_resp_writable(struct exchange *);
void	 exchange_client_gone(struct exchange *, const char *);
void	 proxy_origin_ready(struct exchange *, struct origin_conn *, int,
	    const char *);
void	 proxy_metrics_ready(uint32_t, const char *, size_t);

/* h1.c: HTTP/1.1 clients and what all client connections share */
void	 h1_accept(int, struct sockaddr *, socklen_t, struct wlistener *);
void	 h1_accept_ready(int, struct sockaddr *, struct wlistener *);
void	 h1_shutdown(void);
struct client *client_new(struct bufferevent *, struct sockaddr *, int);
void	 client_start_h1(struct client *);
void	 client_free(struct client *);
void	 client_linger(struct client *);
void	 client_timer_set(struct client *, int);

/* tls.c: TLS for clients */
void	 tls_conf_material(const struct imsg *);
void	 tls_set_tickets(const struct imsg *);
void	 tls_accept(int, struct sockaddr *, struct wlistener *);
struct ssl_st;
struct ssl_st *tls_origin_new(const struct origin_conf *);
void	 tls_bev_free(struct bufferevent *, int);
struct ssl_st *tls_bev_idle(struct bufferevent *);
struct bufferevent *tls_bev_resume(int, struct ssl_st *);
void	 tls_close(int, struct ssl_st *);
void	 tls_send_now(struct ssl_st *, const void *, size_t);

/* proxyproto.c: the PROXY protocol on listeners */
ssize_t	 proxyproto_parse(const unsigned char *, size_t,
	    struct sockaddr_storage *);
void	 proxyproto_accept(int, struct sockaddr *, socklen_t,
	    struct wlistener *);
int	 proxyproto_write(struct evbuffer *, int,
	    const struct sockaddr_storage *, const struct sockaddr_storage *);

/* h2.c: HTTP/2 clients */
void	 h2_start(struct client *);
void	 h2_spares_drop(void);
void	 h2_free(struct client *);
void	 h2_timeout(struct client *);
void	 h2_goaway(struct client *);

/* body.c */
void	 body_init(struct body_pump *, enum body_in, uint64_t, int, uint64_t,
	    size_t);
enum pump_result body_pump(struct body_pump *, struct evbuffer *,
	    struct evbuffer *, size_t);
int	 body_finish_close(struct body_pump *, struct evbuffer *);

/* headwrite.c: header lines without printf */
void	 head_field(struct evbuffer *, const char *, size_t, const char *,
	    size_t);
void	 head_field_str(struct evbuffer *, const char *, const char *);
void	 head_field_num(struct evbuffer *, const char *, long long);
void	 head_status(struct evbuffer *, int, const char *, size_t);
void	 head_request_line(struct evbuffer *, const char *, size_t,
	    const char *, size_t);

/* sandbox.c: what the worker may still do once it serves */
void	 sandbox_init(void);

/* fdslots.c: libevent's per-descriptor records, made in blocks */
void	 fd_slots_make(int);
void	 fd_slots_init(void);

/* slab.c: small records of one size, packed together */
struct slab_chunk;
struct slab {
	size_t			 size;
	LIST_HEAD(, slab_chunk)	 room;		/* chunks not full */
	int			 nchunks;
};
void	*slab_get(struct slab *);
void	 slab_put(struct slab *, void *);

/* h2park.c: parking HTTP/2 connections */
struct h2_nap;
struct h2_nap *h2_nap_take(struct client *);
void	 h2_nap_free(struct h2_nap *);
long	 h2_idle_left_ms(struct client *);
int	 h2_wake(struct client *, const struct h2_nap *);
void	 h2_nap_goaway(int, struct ssl_st *, const struct h2_nap *);

/* park.c: idle keep-alive connections held small */
extern int worker_nparked;
extern int worker_nasleep;		/* TLS HTTP/2, session freed */
int	 client_park(struct client *);
void	 park_close_all(void);
void	 park_trim(int);
void	 park_released(void);

/* sockio.c: reads and writes in fewer steps than libevent's */
void	 bulk_read(struct bufferevent *, size_t);
void	 bev_flush(struct bufferevent *);
void	 bev_written(struct bufferevent *);

/* response.c: answers made by the proxy itself */
#define RETRY_AFTER	"5"	/* seconds, with a 503 */
int	 response_page(char *, size_t, int, const char *);
int	 response_error(struct evbuffer *, int, const char *, int, int);
int	 response_redirect(struct evbuffer *, const char *, size_t,
	    const char *, size_t, int);

/* accesslog.c */
void	 accesslog_write(const char *, const struct timeval *, const char *,
	    size_t, int, uint64_t, const struct timeval *, const char *,
	    const char *);

#endif /* WORKER_H */
