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
 * The worker process: re-executed by the master with the socketpair on
 * fd 3, it receives its configuration and descriptors, then chroots,
 * drops to its user and only then starts accepting.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/prctl.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "uxrp.h"
#include "worker.h"

#define WORKER_FD		3
#define ACCEPT_PAUSE_MS		100
#define ACCEPT_LOG_SECS		10
#define ACCEPT_SHED		16	/* idle origin connections closed */
#define SHUTDOWN_GRACE_MS	250

struct worker	*worker;

static struct vhost_conf	*conf_cur_vhost;
static const struct timeval	 stats_interval = { 1, 0 };

static void	worker_dispatch_master(struct imsgev *, struct imsg *);
static void	worker_master_gone(struct imsgev *);
static void	worker_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	worker_accept_error(struct evconnlistener *, void *);

static int
worker_str_ok(const char *s, size_t size)
{
	return (memchr(s, '\0', size) != NULL);
}

static void
worker_drop_privileges(void)
{
	struct worker_priv	*p = &worker->priv;
	uid_t			 ruid, euid, suid;
	gid_t			 rgid, egid, sgid;

	if (p->chroot) {
		if (chroot(worker->conf->chroot) == -1)
			fatal("chroot %s", worker->conf->chroot);
		if (chdir("/") == -1)
			fatal("chdir /");
	}
	if (p->setuser) {
		if (setgroups(1, &p->gid) == -1)
			fatal("setgroups");
		if (setresgid(p->gid, p->gid, p->gid) == -1)
			fatal("setresgid");
		if (setresuid(p->uid, p->uid, p->uid) == -1)
			fatal("setresuid");
		/* Verify, rather than trust, that root is gone for good. */
		if (getresuid(&ruid, &euid, &suid) == -1 ||
		    getresgid(&rgid, &egid, &sgid) == -1)
			fatal("getresuid");
		if (ruid != p->uid || euid != p->uid || suid != p->uid ||
		    rgid != p->gid || egid != p->gid || sgid != p->gid)
			fatalx("user switch did not take");
		if (p->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
			fatalx("root could be regained");
	}
#ifdef PR_SET_NO_NEW_PRIVS
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
#endif
#ifdef PR_SET_PDEATHSIG
	/* A change of credentials clears it: set it again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() == 1)
		fatalx("master went away");
#endif
}

static void
worker_stats_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint64_t		 trimmed_at;	/* requests, at the last trim */
	struct worker_stats	 st;
	int			 i, inflight;

	(void)fd;
	(void)events;
	(void)arg;
	memset(&st, 0, sizeof(st));
	st.worker_id = worker->id;
	st.connections = worker->nclients + worker_nparked;
	st.idle = worker_nparked + worker_nasleep;
	st.requests = worker->requests;
	st.errors = worker->errors;
	imsgev_compose(&worker->iev, IMSG_WORKER_STATS, 0, -1, &st,
	    sizeof(st));
	pool_send_stats();
	pool_purge();
	/* Quiet: nothing in flight, after requests since the last look. */
	for (i = 0, inflight = 0; i < worker->conf->norigins; i++)
		inflight += pool_inflight(pool_for(i));
	park_trim(inflight == 0 && worker->requests != trimmed_at);
	if (inflight == 0)
		trimmed_at = worker->requests;
}

static void
worker_start(void)
{
	struct wlistener	*wl;
	struct origin_conf	*o;
	struct vhost_conf	*v;
	int			 n = 0;

	/* The received lists must be whole before anything uses them. */
	TAILQ_FOREACH(o, &worker->conf->origins, entry)
		if (o->id != n++)
			fatalx("origins out of order");
	if (n != worker->conf->norigins || TAILQ_EMPTY(&worker->conf->vhosts))
		fatalx("incomplete configuration");
	TAILQ_FOREACH(v, &worker->conf->vhosts, entry)
		if (TAILQ_EMPTY(&v->mounts))
			fatalx("vhost %d without mounts", v->id);

	worker_drop_privileges();
	pool_init();
	check_init();
	TAILQ_FOREACH(wl, &worker->listeners, entry) {
		/* 0: the master's socket listens already, with its backlog. */
		wl->evl = evconnlistener_new(worker->base, worker_accept_cb,
		    wl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
		    wl->conf->fd);
		if (wl->evl == NULL)
			fatalx("evconnlistener_new %s", wl->conf->name);
		evconnlistener_set_error_cb(wl->evl, worker_accept_error);
	}
	worker->configured = 1;
	imsgev_compose(&worker->iev, IMSG_WORKER_READY, 0, -1, NULL, 0);
	if ((worker->stats_ev = event_new(worker->base, -1, EV_PERSIST,
	    worker_stats_cb, NULL)) == NULL ||
	    event_add(worker->stats_ev, &stats_interval) == -1)
		fatalx("stats timer");
	sandbox_init();
	log_debug("accepting on %d listener%s", worker->conf->nlisteners,
	    worker->conf->nlisteners == 1 ? "" : "s");
}

static void
worker_conf_listener(struct imsg *imsg)
{
	struct listener_conf	*l;
	struct wlistener	*wl;

	if (imsg->fd == -1 || imsg->hdr.len != sizeof(*l))
		fatalx("bad listener message");
	if ((l = malloc(sizeof(*l))) == NULL ||
	    (wl = calloc(1, sizeof(*wl))) == NULL)
		fatal("%s", __func__);
	memcpy(l, imsg->data, sizeof(*l));
	if (!worker_str_ok(l->name, sizeof(l->name)))
		fatalx("bad listener name");
	l->fd = imsg->fd;
	imsg->fd = -1;
	if (fd_nonblock(l->fd) == -1 || fd_cloexec(l->fd, 1) == -1)
		fatal("listener fd");
	TAILQ_INSERT_TAIL(&worker->conf->listeners, l, entry);
	wl->conf = l;
	TAILQ_INSERT_TAIL(&worker->listeners, wl, entry);
}

/* The configuration arrives as one message per object, in order. */
static void
worker_conf(struct imsg *imsg)
{
	struct uxrp_conf	*c = worker->conf;
	struct origin_conf	*o;
	struct vhost_conf	*v;
	struct vhost_name	*vn;
	struct mount_conf	*m;
	size_t			 len = imsg->hdr.len;
	int			 i;

	switch (imsg->hdr.type) {
	case IMSG_CONF_PRIV:
		if (len != sizeof(worker->priv))
			fatalx("bad priv message");
		memcpy(&worker->priv, imsg->data, len);
		break;
	case IMSG_CONF_GLOBAL:
		if (len != sizeof(*c))
			fatalx("bad global message");
		memcpy(c, imsg->data, len);
		if (!worker_str_ok(c->chroot, sizeof(c->chroot)))
			fatalx("bad chroot");
		c->nlisteners = 0;
		TAILQ_INIT(&c->listeners);
		TAILQ_INIT(&c->vhosts);
		TAILQ_INIT(&c->origins);
		break;
	case IMSG_CONF_ORIGIN:
		if (len != sizeof(*o) || (o = malloc(sizeof(*o))) == NULL)
			fatalx("bad origin message");
		memcpy(o, imsg->data, len);
		if (!worker_str_ok(o->name, sizeof(o->name)) ||
		    !worker_str_ok(o->path, sizeof(o->path)) ||
		    !worker_str_ok(o->worker_path, sizeof(o->worker_path)) ||
		    o->addrlen > sizeof(o->addr))
			fatalx("bad origin");
		TAILQ_INSERT_TAIL(&c->origins, o, entry);
		break;
	case IMSG_CONF_VHOST:
		if (len != sizeof(*v) || (v = malloc(sizeof(*v))) == NULL)
			fatalx("bad vhost message");
		memcpy(v, imsg->data, len);
		if (!worker_str_ok(v->error_css, sizeof(v->error_css)))
			fatalx("bad vhost");
		TAILQ_INIT(&v->names);
		TAILQ_INIT(&v->mounts);
		TAILQ_INSERT_TAIL(&c->vhosts, v, entry);
		conf_cur_vhost = v;
		break;
	case IMSG_CONF_VHOST_NAME:
		if (conf_cur_vhost == NULL || len != sizeof(*vn) ||
		    (vn = malloc(sizeof(*vn))) == NULL)
			fatalx("bad vhost name message");
		memcpy(vn, imsg->data, len);
		if (!worker_str_ok(vn->name, sizeof(vn->name)))
			fatalx("bad vhost name");
		TAILQ_INSERT_TAIL(&conf_cur_vhost->names, vn, entry);
		break;
	case IMSG_CONF_MOUNT:
		if (conf_cur_vhost == NULL || len != sizeof(*m) ||
		    (m = malloc(sizeof(*m))) == NULL)
			fatalx("bad mount message");
		memcpy(m, imsg->data, len);
		if (m->mountpoint_len >= sizeof(m->mountpoint) ||
		    m->mountpoint[m->mountpoint_len] != '\0' ||
		    m->origin_path_len >= sizeof(m->origin_path) ||
		    m->origin_path[m->origin_path_len] != '\0' ||
		    (!m->status && (m->origin_id < 0 ||
		    m->origin_id >= c->norigins || m->norigin_ids < 1)) ||
		    m->norigin_ids < 0 || m->norigin_ids > UXRP_MOUNT_ORIGINS)
			fatalx("bad mount");
		for (i = 0; i < m->norigin_ids; i++)
			if (m->origin_ids[i] < 0 ||
			    m->origin_ids[i] >= c->norigins)
				fatalx("bad mount origin");
		m->rr_next = 0;
		TAILQ_INSERT_TAIL(&conf_cur_vhost->mounts, m, entry);
		break;
	case IMSG_CONF_LISTENER:
		worker_conf_listener(imsg);
		c->nlisteners++;
		break;
	case IMSG_CONF_ACCESS_LOG:
		if (imsg->fd == -1 || len != 0)
			fatalx("bad access log message");
		worker->access_log_fd = imsg->fd;
		imsg->fd = -1;
		break;
	case IMSG_CONF_TLS:
		tls_conf_material(imsg);
		break;
	case IMSG_TLS_TICKETS:
		tls_set_tickets(imsg);
		break;
	case IMSG_CONF_END:
		worker_start();
		break;
	default:
		fatalx("unexpected message %u", imsg->hdr.type);
	}
}

static void
worker_shutdown_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	h1_shutdown();
}

/*
 * Stop accepting at once, but let a client that has just connected
 * send its request before the connections without one are closed:
 * during a reload it connected to a listener that is still served.
 */
static void
worker_shutdown(void)
{
	static struct event	*ev;
	struct timeval		 tv = { 0, SHUTDOWN_GRACE_MS * 1000 };

	if (ev != NULL || worker->shutting_down)
		return;
	worker_stop_accepting();
	if ((ev = evtimer_new(worker->base, worker_shutdown_cb, NULL)) ==
	    NULL || evtimer_add(ev, &tv) == -1) {
		h1_shutdown();
		return;
	}
}

/* The master's view of an origin, which every worker shares. */
static void
worker_origin_state(struct imsg *imsg)
{
	struct origin_health	 h;
	struct pool		*p;

	if (imsg->hdr.len != sizeof(h))
		fatalx("bad origin state message");
	memcpy(&h, imsg->data, sizeof(h));
	if ((p = pool_for(h.origin_id)) == NULL ||
	    (h.state != ORIGIN_STATE_UP && h.state != ORIGIN_STATE_DOWN &&
	    h.state != ORIGIN_STATE_UNKNOWN))
		fatalx("bad origin state");
	pool_set_state(p, h.state);
}

static void
worker_dispatch_master(struct imsgev *iev, struct imsg *imsg)
{
	struct origin_connect_res	 res;
	uint32_t			 reqid;
	int				 verbose;

	(void)iev;
	if (imsg->hdr.pid != (uint32_t)getppid())
		fatalx("message from pid %u", imsg->hdr.pid);
	if (!worker->configured) {
		worker_conf(imsg);
		goto done;
	}
	switch (imsg->hdr.type) {
	case IMSG_ORIGIN_CONNECTED:
		if (imsg->hdr.len != sizeof(res))
			fatalx("bad connected message");
		memcpy(&res, imsg->data, sizeof(res));
		if (res.error != 0 && imsg->fd != -1)
			fatalx("failed connect with an fd");
		if (res.error == 0 && imsg->fd == -1)
			/* Lost on the way: this worker is out of them. */
			res.error = EMFILE;
		if (res.reqid & CHECK_REQID)
			check_connected(&res, imsg->fd);
		else
			pool_connected_via_master(&res, imsg->fd);
		imsg->fd = -1;
		break;
	case IMSG_ORIGIN_STATE:
		worker_origin_state(imsg);
		break;
	case IMSG_METRICS_RES:
		if (imsg->hdr.len < sizeof(uint32_t))
			fatalx("bad metrics message");
		memcpy(&reqid, imsg->data, sizeof(reqid));
		proxy_metrics_ready(reqid, (const char *)imsg->data +
		    sizeof(reqid), imsg->hdr.len - sizeof(reqid));
		break;
	case IMSG_TLS_TICKETS:
		tls_set_tickets(imsg);
		break;
	case IMSG_LOG_VERBOSE:
		if (imsg->hdr.len != sizeof(verbose))
			fatalx("bad verbose message");
		memcpy(&verbose, imsg->data, sizeof(verbose));
		log_setverbose(verbose);
		log_debug("logging verbose");
		break;
	case IMSG_LOG_REOPEN:
		if (imsg->hdr.len != 0)
			fatalx("bad log reopen message");
		if (imsg->fd == -1) {
			/* Lost on the way: this worker is out of them. */
			log_warnx("access log reopen: no descriptor left; "
			    "still writing to the old file");
			break;
		}
		/* The old file was rotated away; write to the new one. */
		if (worker->access_log_fd != -1)
			close(worker->access_log_fd);
		worker->access_log_fd = imsg->fd;
		imsg->fd = -1;
		log_debug("access log reopened");
		break;
	case IMSG_SHUTDOWN:
		worker_shutdown();
		break;
	default:
		fatalx("unexpected message %u", imsg->hdr.type);
	}
 done:
	if (imsg->fd != -1)
		close(imsg->fd);
}

static void
worker_master_gone(struct imsgev *iev)
{
	(void)iev;
	/* Without its master a worker has no reason to live. */
	log_warnx("master went away, exiting");
	exit(0);
}

int
worker_connect_via_master(uint32_t reqid, int origin_id)
{
	struct origin_connect_req	 req;

	memset(&req, 0, sizeof(req));
	req.reqid = reqid;
	req.origin_id = origin_id;
	return (imsgev_compose(&worker->iev, IMSG_ORIGIN_CONNECT, 0, -1,
	    &req, sizeof(req)));
}

void
worker_send_health(int origin_id, enum origin_state state, const char *cause)
{
	struct origin_health	 h;

	memset(&h, 0, sizeof(h));
	h.origin_id = origin_id;
	h.state = state;
	strlcpy(h.cause, cause != NULL ? cause : "", sizeof(h.cause));
	imsgev_compose(&worker->iev, IMSG_ORIGIN_HEALTH, 0, -1, &h, sizeof(h));
}

static void
worker_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)evl;
	fd_slots_make(fd);
	h1_accept(fd, sa, salen, arg);
}

static void
worker_accept_resume(evutil_socket_t fd, short events, void *arg)
{
	struct wlistener	*wl;

	(void)fd;
	(void)events;
	(void)arg;
	if (worker->shutting_down)
		return;
	TAILQ_FOREACH(wl, &worker->listeners, entry)
		if (wl->evl != NULL)
			evconnlistener_enable(wl->evl);
}

/* Out of descriptors: pause accepting for a moment rather than spin. */
static void
worker_accept_error(struct evconnlistener *evl, void *arg)
{
	static time_t		 logged_at;
	static unsigned int	 unlogged;
	struct wlistener	*wl;
	struct timeval		 tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	time_t			 now;
	int			 saved_errno = errno;

	(void)evl;
	(void)arg;
	if (saved_errno != EMFILE && saved_errno != ENFILE &&
	    saved_errno != ENOBUFS && saved_errno != ENOMEM) {
		log_warn("accept");
		return;
	}
	if (fd_shortage(saved_errno) && pool_shed_idle(ACCEPT_SHED) > 0)
		/* Idle origin connections gave theirs: accept again now. */
		return;
	/* Once per ACCEPT_LOG_SECS: a shortage may last for minutes. */
	now = time(NULL);
	if (now - logged_at >= ACCEPT_LOG_SECS) {
		log_warnx("accept: %s; pausing %d ms (%u more pauses since "
		    "the last report)", strerror(saved_errno), ACCEPT_PAUSE_MS,
		    unlogged);
		logged_at = now;
		unlogged = 0;
	} else
		unlogged++;
	TAILQ_FOREACH(wl, &worker->listeners, entry)
		if (wl->evl != NULL)
			evconnlistener_disable(wl->evl);
	evtimer_add(worker->accept_ev, &tv);
}

void
worker_stop_accepting(void)
{
	struct wlistener	*wl;

	TAILQ_FOREACH(wl, &worker->listeners, entry) {
		if (wl->evl != NULL) {
			evconnlistener_free(wl->evl);
			wl->evl = NULL;
		}
	}
}

void
worker_main(int id, int debug, int verbose)
{
	struct event_config	*cfg;
	char			 name[32];

	log_init(debug, verbose);
	snprintf(name, sizeof(name), "worker %d", id);
	log_procname(name);
	setproctitle("worker %d", id);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* The master's SIGTERM goes to us too from a terminal; it decides. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
#ifdef PR_SET_PDEATHSIG
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif

#ifdef __GLIBC__
	/*
	 * glibc hands the top of its heap back by itself as soon as 128 KiB
	 * are free there, and bodies moving through buffers of up to 256
	 * KiB grow and shrink it all the time: every growth is fresh pages
	 * to fault in and zero, a sixth of the CPU of a chunked HTTP/2
	 * load. The worker gives memory back itself, when it is quiet or
	 * after many connections went idle (park.c); until then buffers of
	 * up to 1 MiB stay in the heap.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
	if ((worker = calloc(1, sizeof(*worker))) == NULL ||
	    (worker->conf = conf_new()) == NULL)
		fatal("%s", __func__);
	worker->id = id;
	worker->access_log_fd = -1;
	TAILQ_INIT(&worker->listeners);
	TAILQ_INIT(&worker->clients);
	/*
	 * The changelist makes a removal and an addition of the same
	 * socket in one loop turn a single epoll_ctl, as when a connection
	 * parks or wakes. It is wrong only for sockets dup()ed within the
	 * process, which a worker has none of.
	 */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) ==
	    -1 || (worker->base = event_base_new_with_config(cfg)) == NULL)
		fatalx("event_base_new");
	event_config_free(cfg);
	fd_slots_init();
	if ((worker->accept_ev = evtimer_new(worker->base,
	    worker_accept_resume, NULL)) == NULL)
		fatalx("evtimer_new");
	if (fd_cloexec(WORKER_FD, 1) == -1)
		fatal("fd %d", WORKER_FD);
	if (imsgev_init(&worker->iev, worker->base, WORKER_FD,
	    worker_dispatch_master, worker_master_gone, NULL) == -1)
		fatal("imsgev_init");

	event_base_dispatch(worker->base);
	exit(0);
}
