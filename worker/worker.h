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
#include <sys/time.h>

#include "uxrp.h"
#include "http.h"

#define ORIGIN_HEAD_MAX		(64 * 1024)	/* origin response head */
#define PROXY_HIGH_WATER	(256 * 1024)	/* per direction */
#define PROXY_LOW_WATER		(64 * 1024)
#define LINGER_SECS		2

struct bufferevent;
struct evbuffer;
struct evconnlistener;
struct event;

struct pool;
struct origin_conn;
struct exchange;
struct client;

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
	struct bufferevent	*bev;
	struct exchange		*ex;		/* NULL when idle */
	int			 requests;	/* served so far */
	int			 idle;		/* on its pool's idle list */
};

void	 pool_init(void);
int	 pool_get(struct pool *, struct exchange *, uint32_t, int);
void	 pool_cancel(struct exchange *);
void	 pool_put(struct origin_conn *);
void	 pool_close(struct origin_conn *);
void	 pool_close_idle(void);
struct pool *pool_for(int);
struct origin_conf *pool_origin(struct pool *);
void	 pool_connected_via_master(const struct origin_connect_res *, int);
void	 pool_mark(struct pool *, enum origin_state, const char *);
void	 pool_count_start(struct pool *);
void	 pool_count_end(struct pool *, int);
void	 pool_send_stats(void);

/* route.c */
struct vhost_conf *route_vhost(const struct uxrp_conf *, const char *, size_t);
const struct mount_conf *route_mount(const struct vhost_conf *, const char *,
	    size_t, int *);
int	 route_rewrite(const struct mount_conf *, const char *, size_t, char *,
	    size_t);

/* proxy.c */
void	 proxy_accept(int, struct sockaddr *, socklen_t, struct wlistener *);
void	 proxy_origin_ready(struct exchange *, struct origin_conn *, int,
	    const char *);
void	 proxy_shutdown(void);

/* body.c */
void	 body_init(struct body_pump *, enum body_in, uint64_t, int, uint64_t,
	    size_t);
enum pump_result body_pump(struct body_pump *, struct evbuffer *,
	    struct evbuffer *, size_t);
int	 body_finish_close(struct body_pump *, struct evbuffer *);

/* response.c: answers made by the proxy itself */
int	 response_error(struct evbuffer *, int, const char *, int, int);
int	 response_redirect(struct evbuffer *, const char *, size_t,
	    const char *, size_t, int);

/* accesslog.c */
void	 accesslog_write(const char *, const struct timeval *, const char *,
	    size_t, int, uint64_t, const struct timeval *, const char *,
	    const char *);

#endif /* WORKER_H */
