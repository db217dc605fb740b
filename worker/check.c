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
 * Active health checks (worker process): for an origin whose mount
 * asks for one, one worker of the generation (origin id modulo the
 * number of workers) sends "GET path" over a fresh connection every
 * interval. A 2xx or 3xx status within the timeout is up, anything
 * else down; the finding goes into the origin's pool state, which is
 * what requests see and what the master hears of.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

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

#define CHECK_STATUS_LINE_MAX	1024

struct check {
	TAILQ_ENTRY(check)	 entry;
	struct origin_conf	*origin;
	struct event		*interval_ev;
	struct event		*timeout_ev;
	struct bufferevent	*bev;
	int			 busy;
	int			 waiting_master;
};

static TAILQ_HEAD(, check)	 checks = TAILQ_HEAD_INITIALIZER(checks);

static void	check_run(evutil_socket_t, short, void *);
static void	check_timeout(evutil_socket_t, short, void *);
static void	check_read(struct bufferevent *, void *);
static void	check_event(struct bufferevent *, short, void *);

void
check_init(void)
{
	struct origin_conf	*o;
	struct check		*ck;
	struct timeval		 tv;
	int			 n = worker->priv.nworkers;

	if (n < 1)
		n = 1;
	TAILQ_FOREACH(o, &worker->conf->origins, entry) {
		if (o->check_interval <= 0 || o->id % n != worker->id)
			continue;
		if ((ck = calloc(1, sizeof(*ck))) == NULL)
			fatal("%s", __func__);
		ck->origin = o;
		ck->interval_ev = event_new(worker->base, -1, EV_PERSIST,
		    check_run, ck);
		ck->timeout_ev = evtimer_new(worker->base, check_timeout, ck);
		if (ck->interval_ev == NULL || ck->timeout_ev == NULL)
			fatalx("%s: event_new", __func__);
		tv.tv_sec = o->check_interval;
		tv.tv_usec = 0;
		if (event_add(ck->interval_ev, &tv) == -1)
			fatalx("%s: event_add", __func__);
		TAILQ_INSERT_TAIL(&checks, ck, entry);
		/* The first one now rather than an interval later. */
		event_active(ck->interval_ev, EV_TIMEOUT, 0);
		log_debug("checking origin %d %s with GET %s every %ds",
		    o->id, o->name, o->check_path, o->check_interval);
	}
}

static void
check_done(struct check *ck, enum origin_state state, const char *cause)
{
	struct pool	*p;

	if (ck->bev != NULL) {
		bufferevent_free(ck->bev);
		ck->bev = NULL;
	}
	evtimer_del(ck->timeout_ev);
	ck->busy = 0;
	ck->waiting_master = 0;
	if (worker->shutting_down)
		return;
	/* UNKNOWN: nothing learnt, the origin keeps its state. */
	if (state != ORIGIN_STATE_UNKNOWN &&
	    (p = pool_for(ck->origin->id)) != NULL)
		pool_mark(p, state, cause);
	log_debug("check of origin %d: %s", ck->origin->id,
	    state == ORIGIN_STATE_UP ? "up" : cause);
}

static void
check_fail_errno(struct check *ck, int error)
{
	char	 cause[128];

	(void)snprintf(cause, sizeof(cause), "check: connect: %s",
	    strerror(error));
	/* Out of descriptors is this worker's shortage, not the origin's. */
	check_done(ck, fd_shortage(error) ? ORIGIN_STATE_UNKNOWN :
	    ORIGIN_STATE_DOWN, cause);
}

/* The request goes out as soon as the connection is there. */
static int
check_start(struct check *ck, int fd)
{
	struct origin_conf	*o = ck->origin;
	struct evbuffer		*out;

	ck->bev = bufferevent_socket_new(worker->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (ck->bev == NULL) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	bufferevent_setcb(ck->bev, check_read, NULL, check_event, ck);
	out = bufferevent_get_output(ck->bev);
	if (evbuffer_add_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: uxrpd-check/%s\r\nConnection: close\r\n\r\n",
	    o->check_path, o->type == ORIGIN_TCP ? o->name : "localhost",
	    UXRP_VERSION) == -1)
		return (-1);
	return (bufferevent_enable(ck->bev, EV_READ | EV_WRITE));
}

static void
check_run(evutil_socket_t fd, short events, void *arg)
{
	struct check		*ck = arg;
	struct origin_conf	*o = ck->origin;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	socklen_t		 sslen;

	(void)fd;
	(void)events;
	if (ck->busy || worker->shutting_down)
		return;
	ck->busy = 1;
	tv.tv_sec = o->check_timeout;
	tv.tv_usec = 0;
	evtimer_add(ck->timeout_ev, &tv);
	if (o->type == ORIGIN_UNIX && o->via_master) {
		ck->waiting_master = 1;
		if (worker_connect_via_master(CHECK_REQID | (uint32_t)o->id,
		    o->id) == -1)
			check_fail_errno(ck, EIO);
		return;
	}
	sslen = pool_sockaddr(o, &ss);
	if (check_start(ck, -1) == -1 ||
	    bufferevent_socket_connect(ck->bev, (struct sockaddr *)&ss,
	    sslen) == -1)
		check_fail_errno(ck, errno != 0 ? errno : EIO);
}

void
check_connected(const struct origin_connect_res *res, int fd)
{
	struct check	*ck;

	TAILQ_FOREACH(ck, &checks, entry)
		if (ck->waiting_master && ck->origin->id == res->origin_id &&
		    res->reqid == (CHECK_REQID | (uint32_t)ck->origin->id))
			break;
	if (ck == NULL) {
		/* Timed out meanwhile. */
		if (fd != -1)
			close(fd);
		return;
	}
	ck->waiting_master = 0;
	if (res->error != 0) {
		check_fail_errno(ck, res->error);
		return;
	}
	if (check_start(ck, fd) == -1)
		check_fail_errno(ck, ENOMEM);
}

static void
check_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct check	*ck = arg;

	(void)fd;
	(void)events;
	check_done(ck, ORIGIN_STATE_DOWN, "check: timeout");
}

/* Only the status line matters: "HTTP/1.x NNN ...". */
static void
check_read(struct bufferevent *bev, void *arg)
{
	struct check	*ck = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	char		 line[CHECK_STATUS_LINE_MAX], cause[128];
	size_t		 n;
	int		 status;

	eol = evbuffer_search(in, "\r\n", 2, NULL);
	if (eol.pos == -1) {
		if (evbuffer_get_length(in) >= sizeof(line))
			check_done(ck, ORIGIN_STATE_DOWN,
			    "check: invalid response");
		return;
	}
	n = (size_t)eol.pos < sizeof(line) - 1 ? (size_t)eol.pos :
	    sizeof(line) - 1;
	evbuffer_copyout(in, line, n);
	line[n] = '\0';
	if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' ||
	    line[10] > '9' || line[11] < '0' || line[11] > '9' ||
	    (n > 12 && line[12] != ' ')) {
		check_done(ck, ORIGIN_STATE_DOWN, "check: invalid response");
		return;
	}
	status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (status >= 200 && status < 400) {
		check_done(ck, ORIGIN_STATE_UP, "check");
		return;
	}
	(void)snprintf(cause, sizeof(cause), "check: status %d", status);
	check_done(ck, ORIGIN_STATE_DOWN, cause);
}

static void
check_event(struct bufferevent *bev, short events, void *arg)
{
	struct check	*ck = arg;
	int		 error;

	if (events & BEV_EVENT_CONNECTED)
		return;
	if (events & BEV_EVENT_EOF) {
		/* A status line may have come with the close. */
		check_read(bev, ck);
		if (ck->busy)
			check_done(ck, ORIGIN_STATE_DOWN,
			    "check: connection closed");
		return;
	}
	error = EVUTIL_SOCKET_ERROR();
	check_fail_errno(ck, error != 0 ? error : ECONNRESET);
}
