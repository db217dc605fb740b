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
 * Connections to origins: connecting (directly, or through the master
 * for a socket outside the chroot), retrying a full Unix socket backlog
 * within the connect timeout, and keeping idle connections per origin
 * for the next request. A request waiting for its connect takes the
 * first connection that goes idle instead, if that comes sooner; its
 * connect goes on without it and ends in the idle list.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "uxrp.h"
#include "worker.h"

#define POOL_IDLE_MAX		16384	/* idle connections per origin */
#define POOL_PURGE_SECS		5	/* unused this long: half of them go */
#define POOL_RETRY_MIN_MS	5
#define POOL_RETRY_MAX_MS	200
#define POOL_HOLD_MS		2000	/* fail fast this long, then probe */

struct pool {
	struct origin_conf		*origin;
	TAILQ_HEAD(pool_idle_list, origin_conn) idle;
	int				 nidle;
	int				 idle_low;	/* least nidle since purge */
	int				 rest_low;	/* least nidle, last second */
	TAILQ_HEAD(, pool_connect)	 waiting;	/* would take an idle one */
	struct event			*handover;
	enum origin_state		 state;
	int				 fail_fast;	/* known down */
	struct timeval			 probe_at;	/* next request tries */
	int				 inflight;
	uint64_t			 requests;
	uint64_t			 failures;
};

struct pool_connect {
	TAILQ_ENTRY(pool_connect)	 entry;
	TAILQ_ENTRY(pool_connect)	 wentry;	/* in pool->waiting */
	TAILQ_ENTRY(pool_connect)	 mentry;	/* in pool_master_waits */
	struct pool			*pool;
	struct exchange			*ex;		/* NULL: for the pool */
	uint32_t			 reqid;
	int				 fd;
	int				 delay_ms;
	int				 waiting_master;
	int				 waiter;	/* in pool->waiting */
	int				 grace;	/* missing/refused: wait */
	struct timeval			 deadline;
	struct event			*ev;
};

static TAILQ_HEAD(, pool_connect) pool_connects =
    TAILQ_HEAD_INITIALIZER(pool_connects);
/* In the order asked: the master answers in that order. */
static TAILQ_HEAD(, pool_connect) pool_master_waits =
    TAILQ_HEAD_INITIALIZER(pool_master_waits);

static void	pool_tls_event(struct bufferevent *, short, void *);
static void	pool_try(struct pool_connect *);
static void	pool_ev_cb(evutil_socket_t, short, void *);
static void	pool_handover_cb(evutil_socket_t, short, void *);
static void	pool_idle_add(struct origin_conn *);
static void	pool_connect_free(struct pool_connect *);
static int	pool_idle_take(struct origin_conn *, struct exchange *);
static struct bufferevent *pool_bev_new(int);
static struct bufferevent *pool_bev_sized(struct bufferevent *);

/* Apart from malloc's heap: see slab.c. */
static struct slab	pool_oc_slab = { sizeof(struct origin_conn), { NULL }, 0 };
static struct slab	pool_rest_slab = { sizeof(struct event), { NULL }, 0 };

void
pool_init(void)
{
	struct origin_conf	*o;
	struct pool		*p;

	worker->pools = calloc(worker->conf->norigins > 0 ?
	    worker->conf->norigins : 1, sizeof(*worker->pools));
	if (worker->pools == NULL)
		fatal("%s", __func__);
	TAILQ_FOREACH(o, &worker->conf->origins, entry) {
		p = &worker->pools[o->id];
		p->origin = o;
		TAILQ_INIT(&p->idle);
		TAILQ_INIT(&p->waiting);
		p->handover = event_new(worker->base, -1, 0, pool_handover_cb,
		    p);
		if (p->handover == NULL)
			fatal("%s", __func__);
	}
}

struct pool *
pool_for(int origin_id)
{
	if (origin_id < 0 || origin_id >= worker->conf->norigins)
		return (NULL);
	return (&worker->pools[origin_id]);
}

struct origin_conf *
pool_origin(struct pool *p)
{
	return (p->origin);
}

static void
pool_hold(struct pool *p)
{
	struct timeval	 now, hold = { POOL_HOLD_MS / 1000,
			    (POOL_HOLD_MS % 1000) * 1000 };

	event_base_gettimeofday_cached(worker->base, &now);
	timeradd(&now, &hold, &p->probe_at);
}

void
pool_mark(struct pool *p, enum origin_state state, const char *cause)
{
	if (state == ORIGIN_STATE_DOWN) {
		p->fail_fast = 1;
		pool_hold(p);
	} else
		p->fail_fast = 0;
	if (p->state == state)
		return;
	p->state = state;
	worker_send_health(p->origin->id, state, cause);
}

/*
 * What the master says, from the reports of all workers: this one
 * takes it as its own, so that its next finding is news only when it
 * differs.
 */
void
pool_set_state(struct pool *p, enum origin_state state)
{
	if (state == ORIGIN_STATE_DOWN && !p->fail_fast) {
		p->fail_fast = 1;
		pool_hold(p);
	} else if (state != ORIGIN_STATE_DOWN)
		p->fail_fast = 0;
	p->state = state;
}

/*
 * An origin known down is answered at once, but once per hold-down a
 * request goes through: its connect is the probe that finds it up.
 */
/* Worth a try now: not known down, or due for its probe. */
int
pool_usable(struct pool *p)
{
	struct timeval	 now;

	if (!p->fail_fast)
		return (1);
	event_base_gettimeofday_cached(worker->base, &now);
	return (!timercmp(&now, &p->probe_at, <));
}

static int
pool_fail_fast(struct pool *p)
{
	if (!pool_usable(p))
		return (1);
	/* The probe goes now; the next waits for another hold-down. */
	if (p->fail_fast)
		pool_hold(p);
	return (0);
}

int
pool_inflight(struct pool *p)
{
	return (p->inflight);
}

static const char *
pool_cause(int error)
{
	switch (error) {
	case ENOENT:
	case ENOTDIR:
		return ("origin-missing");
	case ECONNREFUSED:
		return ("origin-refused");
	case EACCES:
	case EPERM:
		return ("origin-denied");
	case EAGAIN:
		return ("origin-busy");
	case ETIMEDOUT:
		return ("connect-timeout");
	case EMFILE:
	case ENFILE:
		return ("worker-descriptors");
	default:
		return ("origin-unreachable");
	}
}

/* pc's request goes on without it: what it connects is for the pool. */
static void
pool_connect_detach(struct pool_connect *pc)
{
	if (pc->waiter) {
		TAILQ_REMOVE(&pc->pool->waiting, pc, wentry);
		pc->waiter = 0;
	}
	pc->ex = NULL;
}

static void
pool_connect_release(struct pool_connect *pc)
{
	if (pc->fd == -1 && !pc->waiting_master)
		/* Not started, or between tries: nothing to finish. */
		pool_connect_free(pc);
	else
		pool_connect_detach(pc);
}

static void
pool_connect_free(struct pool_connect *pc)
{
	pool_connect_detach(pc);
	if (pc->waiting_master)
		TAILQ_REMOVE(&pool_master_waits, pc, mentry);
	TAILQ_REMOVE(&pool_connects, pc, entry);
	if (pc->ev != NULL)
		event_free(pc->ev);
	if (pc->fd != -1)
		close(pc->fd);
	free(pc);
}

static void
pool_fail(struct pool_connect *pc, int error)
{
	struct exchange	*ex = pc->ex;
	struct pool	*p = pc->pool;
	char		 cause[128];
	const char	*word = pool_cause(error);

	snprintf(cause, sizeof(cause), "connect: %s", strerror(error));
	pool_connect_free(pc);
	if (!fd_shortage(error))
		pool_mark(p, ORIGIN_STATE_DOWN, cause);
	if (ex != NULL)
		proxy_origin_ready(ex, NULL, error, word);
}

static struct origin_conn *
pool_conn_new(struct pool *p, int fd)
{
	struct origin_conn	*oc;

	SSL			*ssl;

	fd_slots_make(fd);
	if ((oc = slab_get(&pool_oc_slab)) == NULL)
		return (NULL);
	oc->pool = p;
	if (p->origin->tls.enabled) {
		if ((ssl = tls_origin_new(p->origin)) == NULL) {
			slab_put(&pool_oc_slab, oc);
			return (NULL);
		}
		oc->bev = pool_bev_sized(bufferevent_openssl_socket_new(
		    worker->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE));
		if (oc->bev == NULL)
			SSL_free(ssl);
	} else {
		oc->bev = pool_bev_new(fd);
		oc->plain = 1;
	}
	if (oc->bev == NULL) {
		slab_put(&pool_oc_slab, oc);
		return (NULL);
	}
	return (oc);
}

static struct bufferevent *
pool_bev_new(int fd)
{
	return (pool_bev_sized(bufferevent_socket_new(worker->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)));
}

/* Bodies move in large steps: libevent's default is 16 kB a call. */
static struct bufferevent *
pool_bev_sized(struct bufferevent *bev)
{
	if (bev != NULL) {
		bufferevent_set_max_single_write(bev, PROXY_HIGH_WATER);
		bufferevent_set_max_single_read(bev, PROXY_HIGH_WATER);
	}
	return (bev);
}

/*
 * Whoever listens on the socket must be who the configuration says:
 * a path taken over by another local user does not get the request.
 */
static int
pool_peer_check(struct pool *p, int fd)
{
	const struct origin_peer	*want = &p->origin->peer;
	uid_t				 uid;
	gid_t				 gid;
	char				 expect[64];
#ifdef SO_PEERCRED
	struct ucred			 cred;
	socklen_t			 len = sizeof(cred);
#endif

	if (!want->uid_set && !want->gid_set)
		return (0);
#ifdef SO_PEERCRED
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("origin %d %s: peer credentials", p->origin->id,
		    p->origin->name);
		return (-1);
	}
	uid = cred.uid;
	gid = cred.gid;
#else
	if (getpeereid(fd, &uid, &gid) == -1) {
		log_warn("origin %d %s: peer credentials", p->origin->id,
		    p->origin->name);
		return (-1);
	}
#endif
	if ((want->uid_set && uid != want->uid) ||
	    (want->gid_set && gid != want->gid)) {
		if (want->uid_set && want->gid_set)
			snprintf(expect, sizeof(expect), "uid %u gid %u",
			    (unsigned)want->uid, (unsigned)want->gid);
		else if (want->uid_set)
			snprintf(expect, sizeof(expect), "uid %u",
			    (unsigned)want->uid);
		else
			snprintf(expect, sizeof(expect), "gid %u",
			    (unsigned)want->gid);
		log_warnx("origin %d %s: listened on by uid %u gid %u, not "
		    "%s", p->origin->id, p->origin->name, (unsigned)uid,
		    (unsigned)gid, expect);
		return (-1);
	}
	return (0);
}

static void
pool_done(struct pool_connect *pc)
{
	struct exchange		*ex = pc->ex;
	struct pool		*p = pc->pool;
	struct origin_conn	*oc;
	struct timeval		 tv;
	int			 fd = pc->fd;

	pc->fd = -1;
	pool_connect_free(pc);
	if (pool_peer_check(p, fd) == -1) {
		close(fd);
		if (ex != NULL)
			proxy_origin_ready(ex, NULL, EPROTO,
			    "origin-identity");
		return;
	}
	if ((oc = pool_conn_new(p, fd)) == NULL) {
		close(fd);
		if (ex != NULL)
			proxy_origin_ready(ex, NULL, ENOMEM, "worker-error");
		return;
	}
	pool_mark(p, ORIGIN_STATE_UP, NULL);
	if (ex == NULL) {
		/* Its request took another: this one waits for the next. */
		if (p->origin->tls.enabled || worker->shutting_down ||
		    p->nidle >= POOL_IDLE_MAX)
			pool_close(oc);
		else
			pool_idle_add(oc);
		return;
	}
	oc->ex = ex;
	if (p->origin->tls.enabled) {
		/* Ready once the handshake is; ex->oc lets an abort free it. */
		tv.tv_sec = worker->conf->timeouts.connect;
		tv.tv_usec = 0;
		ex->oc = oc;
		bufferevent_setcb(oc->bev, NULL, NULL, pool_tls_event, oc);
		bufferevent_set_timeouts(oc->bev, &tv, &tv);
		bufferevent_enable(oc->bev, EV_READ | EV_WRITE);
		return;
	}
	proxy_origin_ready(ex, oc, 0, NULL);
}

static void
pool_tls_event(struct bufferevent *bev, short events, void *arg)
{
	struct origin_conn	*oc = arg;
	struct exchange		*ex = oc->ex;
	unsigned long		 e;

	ex->oc = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	if (events & BEV_EVENT_CONNECTED) {
		proxy_origin_ready(ex, oc, 0, NULL);
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	log_warnx("origin %d %s: TLS handshake failed: %s", oc->pool->origin->id,
	    oc->pool->origin->name, (events & BEV_EVENT_TIMEOUT) ? "timeout" :
	    e != 0 && ERR_reason_error_string(e) != NULL ?
	    ERR_reason_error_string(e) : "connection closed");
	pool_close(oc);
	proxy_origin_ready(ex, NULL, EPROTO, "origin-tls");
}

static int
pool_remaining_ms(struct pool_connect *pc)
{
	struct timeval	 now, left;

	event_base_gettimeofday_cached(worker->base, &now);
	if (timercmp(&now, &pc->deadline, >=))
		return (0);
	timersub(&pc->deadline, &now, &left);
	return (left.tv_sec * 1000 + left.tv_usec / 1000);
}

/* A full backlog: try again shortly, while the connect timeout allows. */
static void
pool_retry(struct pool_connect *pc, int error)
{
	struct timeval	 tv;
	int		 left = pool_remaining_ms(pc);

	if (pc->ex == NULL) {
		/* Nobody waits for it, and the origin is busy. */
		pool_connect_free(pc);
		return;
	}
	if (left <= 0) {
		pool_fail(pc, error);
		return;
	}
	if (pc->delay_ms > left)
		pc->delay_ms = left;
	tv.tv_sec = pc->delay_ms / 1000;
	tv.tv_usec = (pc->delay_ms % 1000) * 1000;
	pc->delay_ms *= 2;
	if (pc->delay_ms > POOL_RETRY_MAX_MS)
		pc->delay_ms = POOL_RETRY_MAX_MS;
	if (pc->ev != NULL)
		event_free(pc->ev);
	pc->ev = evtimer_new(worker->base, pool_ev_cb, pc);
	if (pc->ev == NULL || evtimer_add(pc->ev, &tv) == -1)
		pool_fail(pc, ENOMEM);
}

socklen_t
pool_sockaddr(const struct origin_conf *o, struct sockaddr_storage *ss)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;
	size_t			 len;

	memset(ss, 0, sizeof(*ss));
	switch (o->type) {
	case ORIGIN_UNIX:
		sun->sun_family = AF_UNIX;
		strlcpy(sun->sun_path, o->worker_path, sizeof(sun->sun_path));
		return (sizeof(*sun));
	case ORIGIN_ABSTRACT:
		sun->sun_family = AF_UNIX;
		len = strnlen(o->path, sizeof(sun->sun_path) - 1);
		memcpy(sun->sun_path + 1, o->path, len);
		return (offsetof(struct sockaddr_un, sun_path) + 1 + len);
	case ORIGIN_TCP:
	default:
		memcpy(ss, &o->addr, o->addrlen);
		return (o->addrlen);
	}
}

/*
 * A socket that is missing or refusing while its application restarts:
 * with the mount's restart_grace, the request waits for it, polling
 * (at most every POOL_RETRY_MAX_MS), instead of failing at once.
 */
static int
pool_restarting(struct pool_connect *pc, int error)
{
	return (pc->grace && (error == ENOENT || error == ECONNREFUSED));
}

static void
pool_try(struct pool_connect *pc)
{
	struct origin_conf	*o = pc->pool->origin;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	socklen_t		 sslen;
	int			 left, one = 1, error;

	if (o->type == ORIGIN_UNIX && o->via_master) {
		pc->waiting_master = 1;
		TAILQ_INSERT_TAIL(&pool_master_waits, pc, mentry);
		if (worker_connect_via_master(pc->reqid, o->id) == -1)
			pool_fail(pc, EIO);
		return;
	}
	sslen = pool_sockaddr(o, &ss);
	pc->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (pc->fd == -1) {
		if (fd_shortage(errno)) {
			error = errno;
			(void)pool_shed_idle(1);
			pool_retry(pc, error);
		} else
			pool_fail(pc, errno);
		return;
	}
	if (o->type == ORIGIN_TCP)
		(void)setsockopt(pc->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (connect(pc->fd, (struct sockaddr *)&ss, sslen) == 0) {
		pool_done(pc);
		return;
	}
	switch (errno) {
	case EINPROGRESS:
		left = pool_remaining_ms(pc);
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		if (pc->ev != NULL)
			event_free(pc->ev);
		fd_slots_make(pc->fd);
		pc->ev = event_new(worker->base, pc->fd, EV_WRITE, pool_ev_cb,
		    pc);
		if (pc->ev == NULL || event_add(pc->ev, &tv) == -1)
			pool_fail(pc, ENOMEM);
		return;
	case EAGAIN:
		close(pc->fd);
		pc->fd = -1;
		pool_retry(pc, EAGAIN);
		return;
	default:
		error = errno;
		close(pc->fd);
		pc->fd = -1;
		if (pool_restarting(pc, error))
			pool_retry(pc, error);
		else
			pool_fail(pc, error);
		return;
	}
}

static void
pool_ev_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pool_connect	*pc = arg;
	socklen_t		 len = sizeof(int);
	int			 error = 0;

	(void)fd;
	if (pc->fd == -1) {
		/* The retry timer. */
		pool_try(pc);
		return;
	}
	if (events & EV_TIMEOUT) {
		pool_fail(pc, ETIMEDOUT);
		return;
	}
	if (getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0)
		pool_fail(pc, error);
	else
		pool_done(pc);
}

void
pool_connected_via_master(const struct origin_connect_res *res, int fd)
{
	struct pool_connect	*pc;

	/* Answers come in order: the first is nearly always the one. */
	TAILQ_FOREACH(pc, &pool_master_waits, mentry)
		if (pc->reqid == res->reqid)
			break;
	if (pc == NULL) {
		/* Its request went away meanwhile. */
		if (fd != -1)
			close(fd);
		return;
	}
	TAILQ_REMOVE(&pool_master_waits, pc, mentry);
	pc->waiting_master = 0;
	if (fd_shortage(res->error))
		(void)pool_shed_idle(1);
	if (res->error == EAGAIN || fd_shortage(res->error) ||
	    pool_restarting(pc, res->error)) {
		pool_retry(pc, res->error);
		return;
	}
	if (res->error != 0) {
		pool_fail(pc, res->error);
		return;
	}
	pc->fd = fd;
	pool_done(pc);
}

static void
pool_idle_event(struct bufferevent *bev, short events, void *arg)
{
	struct origin_conn	*oc = arg;

	(void)bev;
	(void)events;
	/* Closed, timed out or chatty while idle: it is done. */
	pool_close(oc);
}

static void
pool_idle_read(struct bufferevent *bev, void *arg)
{
	pool_idle_event(bev, 0, arg);
}

static void
pool_idle_remove(struct origin_conn *oc)
{
	struct pool	*p = oc->pool;

	TAILQ_REMOVE(&p->idle, oc, entry);
	oc->idle = 0;
	if (--p->nidle < p->idle_low)
		p->idle_low = p->nidle;
	if (p->nidle < p->rest_low)
		p->rest_low = p->nidle;
}

/*
 * An idle connection for ex. A resting one gets a bufferevent again;
 * -1 if it cannot, and the connection is closed.
 */
static int
pool_idle_take(struct origin_conn *oc, struct exchange *ex)
{
	pool_idle_remove(oc);
	if (oc->resting) {
		oc->bev = pool_bev_new(event_get_fd(oc->rest));
		if (oc->bev == NULL) {
			pool_close(oc);
			return (-1);
		}
		event_del(oc->rest);
		slab_put(&pool_rest_slab, oc->rest);
		oc->rest = NULL;
		oc->resting = 0;
	} else {
		bufferevent_setcb(oc->bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(oc->bev, NULL, NULL);
	}
	oc->ex = ex;
	return (0);
}

/*
 * A connection for ex: an idle one unless fresh is set, else a new
 * connect. The answer comes through proxy_origin_ready(), perhaps
 * before this returns; the caller must not touch ex after calling.
 */
int
pool_get(struct pool *p, struct exchange *ex, uint32_t reqid, int fresh)
{
	struct origin_conn	*oc;
	struct pool_connect	*pc;
	struct timeval		 now, tmo;
	int			 grace;

	grace = ex->mount != NULL ? ex->mount->restart_grace : 0;
	if (grace == 0 && pool_fail_fast(p)) {
		proxy_origin_ready(ex, NULL, ECONNREFUSED, "origin-down");
		return (0);
	}
	while (!fresh && (oc = TAILQ_FIRST(&p->idle)) != NULL)
		if (pool_idle_take(oc, ex) == 0) {
			proxy_origin_ready(ex, oc, 0, NULL);
			return (0);
		}
	if ((pc = calloc(1, sizeof(*pc))) == NULL) {
		proxy_origin_ready(ex, NULL, ENOMEM, "worker-error");
		return (-1);
	}
	pc->pool = p;
	pc->ex = ex;
	pc->reqid = reqid;
	pc->fd = -1;
	pc->delay_ms = POOL_RETRY_MIN_MS;
	event_base_gettimeofday_cached(worker->base, &now);
	tmo.tv_sec = worker->conf->timeouts.connect;
	if (grace > tmo.tv_sec)
		tmo.tv_sec = grace;
	tmo.tv_usec = 0;
	timeradd(&now, &tmo, &pc->deadline);
	pc->grace = grace > 0;
	TAILQ_INSERT_TAIL(&pool_connects, pc, entry);
	if (!fresh && !p->origin->tls.enabled &&
	    p->origin->proxy_protocol == 0) {
		TAILQ_INSERT_TAIL(&p->waiting, pc, wentry);
		pc->waiter = 1;
	}
	pool_try(pc);
	return (0);
}

/* ex is going away while its connection is still being made. */
void
pool_cancel(struct exchange *ex)
{
	struct pool_connect	*pc, *next;

	TAILQ_FOREACH_SAFE(pc, &pool_connects, entry, next)
		if (pc->ex == ex)
			pool_connect_release(pc);
}

/*
 * Idle connections to requests still waiting for their connects, from
 * the loop rather than from pool_put(): the request that put it back
 * is still ending.
 */
static void
pool_handover_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pool		*p = arg;
	struct pool_connect	*pc;
	struct origin_conn	*oc;
	struct exchange		*ex;

	(void)fd;
	(void)events;
	while ((pc = TAILQ_FIRST(&p->waiting)) != NULL &&
	    (oc = TAILQ_FIRST(&p->idle)) != NULL) {
		ex = pc->ex;
		if (pool_idle_take(oc, ex) == -1)
			continue;
		pool_connect_release(pc);
		proxy_origin_ready(ex, oc, 0, NULL);
	}
}

static void
pool_idle_add(struct origin_conn *oc)
{
	struct pool	*p = oc->pool;
	struct timeval	 tv;

	tv.tv_sec = worker->conf->timeouts.idle;
	tv.tv_usec = 0;
	bufferevent_setcb(oc->bev, pool_idle_read, NULL, pool_idle_event, oc);
	bufferevent_set_timeouts(oc->bev, &tv, NULL);
	bufferevent_enable(oc->bev, EV_READ);
	event_base_gettimeofday_cached(worker->base, &oc->idle_at);
	TAILQ_INSERT_HEAD(&p->idle, oc, entry);
	oc->idle = 1;
	p->nidle++;
	if (!TAILQ_EMPTY(&p->waiting))
		event_active(p->handover, 0, 0);
}

void
pool_put(struct origin_conn *oc)
{
	struct pool	*p = oc->pool;

	oc->ex = NULL;
	oc->requests++;
	if (worker->shutting_down || p->nidle >= POOL_IDLE_MAX ||
	    evbuffer_get_length(bufferevent_get_input(oc->bev)) != 0) {
		pool_close(oc);
		return;
	}
	pool_idle_add(oc);
}

void
pool_close(struct origin_conn *oc)
{
	if (oc->idle)
		pool_idle_remove(oc);
	if (oc->resting) {
		event_del(oc->rest);
		close(event_get_fd(oc->rest));
		slab_put(&pool_rest_slab, oc->rest);
	} else
		bufferevent_free(oc->bev);
	slab_put(&pool_oc_slab, oc);
}

static void
pool_rest_event(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	/* Closed, timed out or chatty while idle: it is done. */
	pool_close(arg);
}

/*
 * An idle connection unused for a second rests: its bufferevent and
 * buffers go, and an event in a record of its own waits for its close
 * or the end of timeouts.idle. The event is added before the
 * bufferevent's goes, which leaves the epoll set as it is.
 */
static void
pool_rest(struct origin_conn *oc)
{
	struct timeval	 now, end, tv;
	int		 fd = bufferevent_getfd(oc->bev);

	if ((oc->rest = slab_get(&pool_rest_slab)) == NULL)
		return;
	event_base_gettimeofday_cached(worker->base, &now);
	end = oc->idle_at;
	end.tv_sec += worker->conf->timeouts.idle;
	if (timercmp(&end, &now, <))
		timerclear(&tv);
	else
		timersub(&end, &now, &tv);
	event_assign(oc->rest, worker->base, fd, EV_READ | EV_PERSIST,
	    pool_rest_event, oc);
	if (event_add(oc->rest, &tv) == -1 ||
	    bufferevent_setfd(oc->bev, -1) == -1) {
		event_del(oc->rest);
		slab_put(&pool_rest_slab, oc->rest);
		oc->rest = NULL;
		return;
	}
	bufferevent_free(oc->bev);
	oc->bev = NULL;
	oc->resting = 1;
}

void
pool_close_idle(void)
{
	struct origin_conn	*oc;
	int			 i;

	for (i = 0; i < worker->conf->norigins; i++)
		while ((oc = TAILQ_FIRST(&worker->pools[i].idle)) != NULL)
			pool_close(oc);
}

/*
 * Called every second. The idle list is used from its head: the
 * idle_low connections at its tail were not used since the last purge.
 * Half of them are closed, so that a burst's connections go within
 * seconds of it while a steady load keeps what it uses; a last one
 * waits for timeouts.idle.
 */
void
pool_purge(void)
{
	static int	 ticks;
	struct pool		*p;
	struct origin_conn	*oc;
	int			 i, n;

	/* The rest_low connections at the tail were idle all along. */
	for (i = 0; i < worker->conf->norigins; i++) {
		p = &worker->pools[i];
		oc = TAILQ_LAST(&p->idle, pool_idle_list);
		for (n = p->rest_low; n > 0 && oc != NULL; n--) {
			if (!oc->resting && oc->plain)
				pool_rest(oc);
			oc = TAILQ_PREV(oc, pool_idle_list, entry);
		}
		p->rest_low = p->nidle;
	}
	if (++ticks < POOL_PURGE_SECS)
		return;
	ticks = 0;
	for (i = 0; i < worker->conf->norigins; i++) {
		p = &worker->pools[i];
		for (n = p->idle_low / 2; n > 0 &&
		    (oc = TAILQ_LAST(&p->idle, pool_idle_list)) != NULL; n--)
			pool_close(oc);
		p->idle_low = p->nidle;
	}
}

/*
 * Out of descriptors: up to n idle connections go, the least recently
 * used of each origin first. Returns how many were closed.
 */
int
pool_shed_idle(int n)
{
	struct origin_conn	*oc;
	int			 i, closed = 0, more = 1;

	while (closed < n && more) {
		more = 0;
		for (i = 0; i < worker->conf->norigins && closed < n; i++) {
			oc = TAILQ_LAST(&worker->pools[i].idle, pool_idle_list);
			if (oc == NULL)
				continue;
			pool_close(oc);
			closed++;
			more = 1;
		}
	}
	return (closed);
}

void
pool_count_start(struct pool *p)
{
	p->inflight++;
}

void
pool_count_end(struct pool *p, int failed)
{
	p->inflight--;
	p->requests++;
	if (failed)
		p->failures++;
}

void
pool_send_stats(void)
{
	struct origin_stats	 st;
	int			 i;

	for (i = 0; i < worker->conf->norigins; i++) {
		memset(&st, 0, sizeof(st));
		st.origin_id = i;
		st.inflight = worker->pools[i].inflight;
		st.idle = worker->pools[i].nidle;
		st.requests = worker->pools[i].requests;
		st.failures = worker->pools[i].failures;
		imsgev_compose(&worker->iev, IMSG_ORIGIN_STATS, 0, -1, &st,
		    sizeof(st));
	}
}
