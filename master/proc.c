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
 * The workers' life cycle: fork and re-execute, hand over the
 * configuration and descriptors, restart one that dies with back-off,
 * and stop them all at shutdown.
 *
 * Workers come in generations, one per configuration. A reload starts
 * a new generation beside the serving one; only once each of its
 * workers is ready does the old generation get told to drain, so that
 * a listener always has a worker accepting on it. A generation that
 * does not get ready in time is killed and the old one goes on.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "uxrp.h"
#include "master.h"

#define PROC_BACKOFF_MIN_MS	500
#define PROC_BACKOFF_MAX_MS	30000
#define PROC_STABLE_SECS	10	/* a worker that lived this long */
#define PROC_KILL_GRACE		5	/* seconds after the drain timeout */
#define PROC_READY_SECS		15	/* for a new generation */
#define PROC_CHANNEL_SNDBUF	(4 * 1024 * 1024)	/* net.core.wmem_max caps it */

enum gen_state {
	GEN_STARTING,
	GEN_ACTIVE,
	GEN_DRAINING,
	GEN_FAILED
};

struct generation;

struct worker_proc {
	struct generation	*gen;
	int			 id;
	pid_t			 pid;		/* 0 when not running */
	int			 ready;
	int			 running;	/* iev is set up */
	struct imsgev		 iev;
	time_t			 started;
	int			 backoff_ms;
	struct event		*respawn_ev;
	struct worker_stats	 stats;		/* latest report */
	struct origin_stats	*ostats;	/* one per origin */
};

struct generation {
	TAILQ_ENTRY(generation)	 entry;
	int			 id;
	enum gen_state		 state;
	struct uxrp_conf	*conf;
	uid_t			 uid;
	gid_t			 gid;
	int			 access_log_fd;	/* -1 when none */
	int			 nworkers;
	struct worker_proc	*workers;
	struct event		*timer_ev;	/* ready bound, kill bound */
	uint32_t		 ctl_id;	/* waits for the reload, or 0 */
	int			 all_ready_logged;
};

static TAILQ_HEAD(, generation)	 generations =
    TAILQ_HEAD_INITIALIZER(generations);
static struct generation	*active;
static int			 next_gen = 1;

static void	proc_spawn(struct worker_proc *);
static void	proc_schedule(struct worker_proc *);
static void	proc_dispatch_worker(struct imsgev *, struct imsg *);
static void	proc_worker_closed(struct imsgev *);
static void	proc_respawn_cb(evutil_socket_t, short, void *);
static void	proc_kill_cb(evutil_socket_t, short, void *);
static void	proc_ready_timeout(evutil_socket_t, short, void *);

static const char *
proc_gen_state(enum gen_state state)
{
	switch (state) {
	case GEN_STARTING:
		return ("starting");
	case GEN_ACTIVE:
		return ("serving");
	case GEN_DRAINING:
		return ("draining");
	default:
		return ("failed");
	}
}

static struct generation *
proc_gen_new(struct uxrp_conf *conf, uid_t uid, gid_t gid, int nworkers,
    int logfd)
{
	struct generation	*g;
	struct worker_proc	*w;
	int			 i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->workers = calloc(nworkers, sizeof(*g->workers))) == NULL)
		fatal("%s", __func__);
	g->id = next_gen++;
	g->conf = conf;
	g->uid = uid;
	g->gid = gid;
	g->nworkers = nworkers;
	g->access_log_fd = logfd;
	if ((g->timer_ev = evtimer_new(master->base, proc_ready_timeout,
	    g)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	for (i = 0; i < nworkers; i++) {
		w = &g->workers[i];
		w->gen = g;
		w->id = i;
		w->backoff_ms = PROC_BACKOFF_MIN_MS;
		w->respawn_ev = evtimer_new(master->base, proc_respawn_cb, w);
		w->ostats = calloc(conf->norigins + 1, sizeof(*w->ostats));
		if (w->respawn_ev == NULL || w->ostats == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	TAILQ_INSERT_TAIL(&generations, g, entry);
	return (g);
}

static void
proc_gen_free(struct generation *g)
{
	int	 i;

	TAILQ_REMOVE(&generations, g, entry);
	for (i = 0; i < g->nworkers; i++) {
		event_free(g->workers[i].respawn_ev);
		free(g->workers[i].ostats);
	}
	event_free(g->timer_ev);
	free(g->workers);
	if (g->access_log_fd != -1)
		close(g->access_log_fd);
	listener_close_all(g->conf, 0);
	conf_free(g->conf);
	log_debug("generation %d gone", g->id);
	free(g);
}

static int
proc_gen_alive(const struct generation *g)
{
	int	 i, n = 0;

	for (i = 0; i < g->nworkers; i++)
		if (g->workers[i].pid != 0)
			n++;
	return (n);
}

void
proc_init(uid_t uid, gid_t gid, int nworkers, int logfd)
{
	active = proc_gen_new(master->conf, uid, gid, nworkers, logfd);
	active->state = GEN_ACTIVE;
}

void
proc_start_workers(void)
{
	int	 i;

	for (i = 0; i < active->nworkers; i++)
		proc_spawn(&active->workers[i]);
}

int
proc_generation(void)
{
	return (active != NULL ? active->id : 0);
}

/* Who the serving generation's workers run as. */
void
proc_worker_ids(uid_t *uid, gid_t *gid)
{
	*uid = active != NULL ? active->uid : 0;
	*gid = active != NULL ? active->gid : 0;
}

static int
proc_send(struct worker_proc *w, enum imsg_type type, int fd,
    const void *data, size_t len)
{
	if (imsg_compose(&w->iev.ibuf, type, 0, fd, data, len) == -1) {
		log_warn("%s: worker %d", __func__, w->id);
		return (-1);
	}
	return (0);
}

/* The master's view of each origin, so a new worker fails fast too. */
static int
proc_send_health(struct worker_proc *w)
{
	struct origin_conf	*o;
	struct origin_health	 h;
	int			 r = 0;

	TAILQ_FOREACH(o, &w->gen->conf->origins, entry) {
		if (health_get(o->name, &h, NULL) == -1 ||
		    h.state == ORIGIN_STATE_UNKNOWN)
			continue;
		h.origin_id = o->id;
		r |= proc_send(w, IMSG_ORIGIN_STATE, -1, &h, sizeof(h));
	}
	return (r);
}

/* The structs go as they are; the worker rebuilds the list links. */
static int
proc_send_config(struct worker_proc *w)
{
	struct generation	*g = w->gen;
	struct uxrp_conf	*conf = g->conf;
	struct worker_priv	 priv;
	struct origin_conf	*o;
	struct vhost_conf	*v;
	struct vhost_name	*vn;
	struct mount_conf	*m;
	struct listener_conf	*l;
	int			 fd, r = 0;

	memset(&priv, 0, sizeof(priv));
	priv.worker_id = w->id;
	priv.chroot = master->privileged && conf->chroot[0] != '\0';
	priv.setuser = master->privileged;
	priv.uid = g->uid;
	priv.gid = g->gid;
	priv.debug = master->debug;
	priv.verbose = master->verbose;
	priv.nworkers = g->nworkers;
	priv.generation = g->id;

	r |= proc_send(w, IMSG_CONF_PRIV, -1, &priv, sizeof(priv));
	r |= proc_send(w, IMSG_CONF_GLOBAL, -1, conf, sizeof(*conf));
	TAILQ_FOREACH(o, &conf->origins, entry)
		r |= proc_send(w, IMSG_CONF_ORIGIN, -1, o, sizeof(*o));
	TAILQ_FOREACH(v, &conf->vhosts, entry) {
		r |= proc_send(w, IMSG_CONF_VHOST, -1, v, sizeof(*v));
		TAILQ_FOREACH(vn, &v->names, entry)
			r |= proc_send(w, IMSG_CONF_VHOST_NAME, -1, vn,
			    sizeof(*vn));
		TAILQ_FOREACH(m, &v->mounts, entry)
			r |= proc_send(w, IMSG_CONF_MOUNT, -1, m, sizeof(*m));
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if ((fd = dup(l->fd)) == -1) {
			log_warn("%s: dup", __func__);
			return (-1);
		}
		r |= proc_send(w, IMSG_CONF_LISTENER, fd, l, sizeof(*l));
	}
	if (g->access_log_fd != -1) {
		if ((fd = dup(g->access_log_fd)) == -1) {
			log_warn("%s: dup", __func__);
			return (-1);
		}
		r |= proc_send(w, IMSG_CONF_ACCESS_LOG, fd, NULL, 0);
	}
	if (tls_send_config(&w->iev.ibuf, conf) == -1) {
		log_warnx("worker %d: cannot send the TLS material", w->id);
		return (-1);
	}
	r |= proc_send(w, IMSG_CONF_END, -1, NULL, 0);
	r |= proc_send_health(w);
	if (r != 0)
		return (-1);
	return (event_add(w->iev.wev, NULL));
}

static void
proc_exec_worker(struct worker_proc *w, int fd)
{
	char	*argv[8];
	char	 idbuf[16], vbuf[8];
	int	 argc = 0, i;

	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(127);
	} else if (fd_cloexec(3, 0) == -1)
		_exit(127);
	snprintf(idbuf, sizeof(idbuf), "%d", w->id);
	argv[argc++] = (char *)(uintptr_t)"uxrpd";
	argv[argc++] = (char *)(uintptr_t)"-W";
	argv[argc++] = idbuf;
	if (master->debug)
		argv[argc++] = (char *)(uintptr_t)"-d";
	if (master->verbose > 0) {
		vbuf[0] = '-';
		for (i = 0; i < master->verbose && i < 4; i++)
			vbuf[i + 1] = 'v';
		vbuf[i + 1] = '\0';
		argv[argc++] = vbuf;
	}
	argv[argc] = NULL;
	execv(master->self, argv);
	log_warn("worker %d: exec %s", w->id, master->self);
	_exit(127);
}

static void
proc_spawn(struct worker_proc *w)
{
	int	 sp[2], sndbuf = PROC_CHANNEL_SNDBUF;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("%s: socketpair", __func__);
		goto retry;
	}
	/*
	 * Each passed descriptor is a message of its own, about 1 KiB of
	 * buffer: the default holds ~200, and a burst of origin connects
	 * (10000 clients at once) would wait for the worker's reads.
	 */
	(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	(void)setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	switch ((pid = fork())) {
	case -1:
		log_warn("%s: fork", __func__);
		close(sp[0]);
		close(sp[1]);
		goto retry;
	case 0:
		close(sp[0]);
		proc_exec_worker(w, sp[1]);
		/* NOTREACHED */
	default:
		break;
	}
	close(sp[1]);
	w->pid = pid;
	w->ready = 0;
	w->started = time(NULL);
	memset(&w->stats, 0, sizeof(w->stats));
	memset(w->ostats, 0, (w->gen->conf->norigins + 1) *
	    sizeof(*w->ostats));
	if (imsgev_init(&w->iev, master->base, sp[0], proc_dispatch_worker,
	    proc_worker_closed, w) == -1)
		fatal("%s: imsgev_init", __func__);
	w->iev.ibuf.pid = getpid();
	w->running = 1;
	if (proc_send_config(w) == -1) {
		log_warnx("worker %d: cannot send the configuration", w->id);
		kill(pid, SIGKILL);
	}
	log_debug("worker %d of generation %d started, pid %ld", w->id,
	    w->gen->id, (long)pid);
	return;
 retry:
	proc_schedule(w);
}

static void
proc_schedule(struct worker_proc *w)
{
	struct timeval	 tv;

	tv.tv_sec = w->backoff_ms / 1000;
	tv.tv_usec = (w->backoff_ms % 1000) * 1000;
	evtimer_add(w->respawn_ev, &tv);
}

static void
proc_respawn_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker_proc	*w = arg;

	(void)fd;
	(void)events;
	if (!master->shutting_down && w->pid == 0 &&
	    w->gen->state == GEN_ACTIVE)
		proc_spawn(w);
}

static struct worker_proc *
proc_find(pid_t pid)
{
	struct generation	*g;
	int			 i;

	TAILQ_FOREACH(g, &generations, entry)
		for (i = 0; i < g->nworkers; i++)
			if (g->workers[i].pid == pid)
				return (&g->workers[i]);
	return (NULL);
}

static int
proc_alive(void)
{
	struct generation	*g;
	int			 n = 0;

	TAILQ_FOREACH(g, &generations, entry)
		n += proc_gen_alive(g);
	return (n);
}

static void
proc_stop(struct worker_proc *w)
{
	if (w->running) {
		imsgev_close(&w->iev);
		w->running = 0;
	}
}

static void
proc_gen_kill(struct generation *g)
{
	int	 i;

	for (i = 0; i < g->nworkers; i++) {
		evtimer_del(g->workers[i].respawn_ev);
		if (g->workers[i].pid != 0)
			kill(g->workers[i].pid, SIGKILL);
	}
}

/*
 * The new generation will not serve: the serving one goes on, and the
 * listeners only the new configuration had are closed again.
 */
static void
proc_reload_failed(struct generation *g, const char *why)
{
	char	 msg[256];

	if (g->state != GEN_STARTING)
		return;
	g->state = GEN_FAILED;
	evtimer_del(g->timer_ev);
	(void)snprintf(msg, sizeof(msg), "reload failed: %s; generation %d "
	    "goes on serving", why, active->id);
	log_warnx("%s", msg);
	proc_gen_kill(g);
	listener_retire(g->conf, master->conf);
	if (g->ctl_id != 0)
		control_reply(g->ctl_id, 0, msg);
	g->ctl_id = 0;
	if (proc_gen_alive(g) == 0)
		proc_gen_free(g);
}

static void
proc_gen_gone(struct worker_proc *w, pid_t pid, int status)
{
	struct generation	*g = w->gen;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("worker %d of generation %d (pid %ld) exited",
		    w->id, g->id, (long)pid);
	else if (g->state == GEN_FAILED)
		log_debug("worker %d of generation %d (pid %ld) killed",
		    w->id, g->id, (long)pid);
	else
		log_warnx("worker %d of generation %d (pid %ld) terminated "
		    "while draining", w->id, g->id, (long)pid);
	if (proc_gen_alive(g) == 0) {
		if (g->state == GEN_DRAINING)
			log_info("generation %d drained", g->id);
		proc_gen_free(g);
	}
}

void
proc_reap(void)
{
	struct worker_proc	*w;
	struct generation	*g;
	pid_t			 pid;
	int			 status;
	time_t			 lived;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = proc_find(pid)) == NULL)
			continue;
		g = w->gen;
		proc_stop(w);
		w->pid = 0;
		w->ready = 0;
		master->retired_requests += w->stats.requests;
		master->retired_errors += w->stats.errors;
		memset(&w->stats, 0, sizeof(w->stats));
		if (master->shutting_down) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_debug("worker %d (pid %ld) exited",
				    w->id, (long)pid);
			else
				log_warnx("worker %d (pid %ld) terminated "
				    "during shutdown", w->id, (long)pid);
			continue;
		}
		if (g->state == GEN_DRAINING || g->state == GEN_FAILED) {
			proc_gen_gone(w, pid, status);
			continue;
		}
		if (g->state == GEN_STARTING) {
			log_warnx("worker %d (pid %ld) of the new generation "
			    "%d died before it was ready", w->id, (long)pid,
			    g->id);
			proc_reload_failed(g, "a new worker died");
			continue;
		}
		lived = time(NULL) - w->started;
		if (lived >= PROC_STABLE_SECS)
			w->backoff_ms = PROC_BACKOFF_MIN_MS;
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %ld) terminated by signal "
			    "%d (%s); restarting in %d.%03ds", w->id,
			    (long)pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)), w->backoff_ms / 1000,
			    w->backoff_ms % 1000);
		else
			log_warnx("worker %d (pid %ld) terminated with exit "
			    "status %d; restarting in %d.%03ds", w->id,
			    (long)pid, WEXITSTATUS(status),
			    w->backoff_ms / 1000, w->backoff_ms % 1000);
		proc_schedule(w);
		if (lived < PROC_STABLE_SECS) {
			w->backoff_ms *= 2;
			if (w->backoff_ms > PROC_BACKOFF_MAX_MS)
				w->backoff_ms = PROC_BACKOFF_MAX_MS;
		}
	}
	if (master->shutting_down && proc_alive() == 0)
		event_base_loopbreak(master->base);
}

static void
proc_gen_shutdown(struct generation *g)
{
	struct timeval	 tv;
	int		 i;

	for (i = 0; i < g->nworkers; i++) {
		evtimer_del(g->workers[i].respawn_ev);
		if (g->workers[i].running)
			imsgev_compose(&g->workers[i].iev, IMSG_SHUTDOWN, 0,
			    -1, NULL, 0);
	}
	/* Bounded: whoever has not drained by then is killed. */
	evtimer_del(g->timer_ev);
	evtimer_assign(g->timer_ev, master->base, proc_kill_cb, g);
	timerclear(&tv);
	tv.tv_sec = g->conf->timeouts.drain + PROC_KILL_GRACE;
	evtimer_add(g->timer_ev, &tv);
}

void
proc_shutdown(void)
{
	struct generation	*g, *next;

	if (master->shutting_down)
		return;
	master->shutting_down = 1;
	TAILQ_FOREACH_SAFE(g, &generations, entry, next) {
		if (g->state == GEN_STARTING)
			proc_reload_failed(g, "shutting down");
		else
			proc_gen_shutdown(g);
	}
	if (proc_alive() == 0)
		event_base_loopbreak(master->base);
}

static void
proc_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	struct generation	*g = arg;
	int			 i;

	(void)fd;
	(void)events;
	for (i = 0; i < g->nworkers; i++) {
		if (g->workers[i].pid == 0)
			continue;
		log_warnx("worker %d (pid %ld) did not drain in time, killing",
		    i, (long)g->workers[i].pid);
		kill(g->workers[i].pid, SIGKILL);
	}
}

int
proc_reloading(void)
{
	struct generation	*g;

	TAILQ_FOREACH(g, &generations, entry)
		if (g->state == GEN_STARTING)
			return (1);
	return (0);
}

/*
 * Starts a generation with conf, which owns its listener descriptors
 * by now; the switch happens once all of its workers are ready.
 */
void
proc_reload(struct uxrp_conf *conf, uid_t uid, gid_t gid, int nworkers,
    int logfd, uint32_t ctl_id)
{
	struct generation	*g;
	struct timeval		 tv;
	int			 i;

	g = proc_gen_new(conf, uid, gid, nworkers, logfd);
	g->state = GEN_STARTING;
	g->ctl_id = ctl_id;
	timerclear(&tv);
	tv.tv_sec = PROC_READY_SECS;
	evtimer_add(g->timer_ev, &tv);
	log_info("reload: starting generation %d with %d worker%s", g->id,
	    nworkers, nworkers == 1 ? "" : "s");
	for (i = 0; i < g->nworkers && g->state == GEN_STARTING; i++)
		proc_spawn(&g->workers[i]);
}

static void
proc_ready_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct generation	*g = arg;
	char			 why[64];

	(void)fd;
	(void)events;
	(void)snprintf(why, sizeof(why), "the new workers were not ready "
	    "within %ds", PROC_READY_SECS);
	proc_reload_failed(g, why);
}

static void
proc_switch(struct generation *g)
{
	struct generation	*old = active;
	char			 msg[128];

	evtimer_del(g->timer_ev);
	g->state = GEN_ACTIVE;
	active = g;
	master->conf = g->conf;
	master->reloads++;
	health_switch(g->conf);
	old->state = GEN_DRAINING;
	/* The listeners that stay live on in the new configuration. */
	listener_retire(old->conf, g->conf);
	proc_gen_shutdown(old);
	(void)snprintf(msg, sizeof(msg), "reload: generation %d serving, "
	    "generation %d draining", g->id, old->id);
	log_info("%s", msg);
	if (g->ctl_id != 0)
		control_reply(g->ctl_id, 1, msg);
	g->ctl_id = 0;
	if (proc_gen_alive(old) == 0)
		proc_gen_free(old);
}

static void
proc_ready(struct worker_proc *w)
{
	struct generation	*g = w->gen;
	int			 i, ready = 0;

	w->ready = 1;
	for (i = 0; i < g->nworkers; i++)
		ready += g->workers[i].ready;
	if (ready != g->nworkers)
		return;
	if (g->state == GEN_STARTING) {
		proc_switch(g);
		return;
	}
	if (g->state != GEN_ACTIVE)
		return;
	if (!g->all_ready_logged)
		log_info("ready: %d worker%s accepting", ready,
		    ready == 1 ? "" : "s");
	else
		log_info("ready: worker %d replaced", w->id);
	g->all_ready_logged = 1;
}

static void
proc_worker_closed(struct imsgev *iev)
{
	struct worker_proc	*w = iev->arg;

	/* Its exit is handled when it is reaped. */
	log_debug("worker %d: channel closed", w->id);
	proc_stop(w);
}

/* A status mount's page, over all workers, for one worker's request. */
static void
proc_send_metrics(struct worker_proc *w, uint32_t reqid)
{
	char	*buf;
	size_t	 n;

	if ((buf = malloc(IMSG_MAX_PAYLOAD)) == NULL)
		return;
	memcpy(buf, &reqid, sizeof(reqid));
	n = metrics_build(buf + sizeof(reqid), IMSG_MAX_PAYLOAD -
	    sizeof(reqid));
	imsgev_compose(&w->iev, IMSG_METRICS_RES, 0, -1, buf,
	    sizeof(reqid) + n);
	free(buf);
}

static void
proc_dispatch_worker(struct imsgev *iev, struct imsg *imsg)
{
	struct worker_proc	*w = iev->arg;
	struct uxrp_conf	*conf = w->gen->conf;
	struct origin_health	 h;
	struct origin_stats	 os;
	uint32_t		 reqid;

	if (imsg->hdr.pid != (uint32_t)w->pid) {
		log_warnx("worker %d: message from pid %u", w->id,
		    imsg->hdr.pid);
		goto bad;
	}
	switch (imsg->hdr.type) {
	case IMSG_WORKER_READY:
		if (imsg->hdr.len != 0)
			goto bad;
		proc_ready(w);
		break;
	case IMSG_ORIGIN_HEALTH:
		if (imsg->hdr.len != sizeof(h))
			goto bad;
		memcpy(&h, imsg->data, sizeof(h));
		/* A draining generation's view may be out of date. */
		if (w->gen->state == GEN_ACTIVE ||
		    w->gen->state == GEN_STARTING)
			health_report(conf, w->id, &h);
		break;
	case IMSG_ORIGIN_CONNECT:
		health_connect_origin(conf, iev, imsg);
		break;
	case IMSG_METRICS_REQ:
		if (imsg->hdr.len != sizeof(reqid))
			goto bad;
		memcpy(&reqid, imsg->data, sizeof(reqid));
		proc_send_metrics(w, reqid);
		break;
	case IMSG_WORKER_STATS:
		if (imsg->hdr.len != sizeof(w->stats))
			goto bad;
		memcpy(&w->stats, imsg->data, sizeof(w->stats));
		break;
	case IMSG_ORIGIN_STATS:
		if (imsg->hdr.len != sizeof(os))
			goto bad;
		memcpy(&os, imsg->data, sizeof(os));
		if (os.origin_id < 0 || os.origin_id >= conf->norigins)
			goto bad;
		w->ostats[os.origin_id] = os;
		break;
	default:
		goto bad;
	}
	if (imsg->fd != -1)
		close(imsg->fd);
	return;
 bad:
	log_warnx("worker %d: unexpected message type %u length %u, "
	    "killing it", w->id, imsg->hdr.type, imsg->hdr.len);
	if (imsg->fd != -1)
		close(imsg->fd);
	kill(w->pid, SIGKILL);
}

/* To every worker that runs, whatever its generation. */
void
proc_broadcast(enum imsg_type type, const void *data, size_t len)
{
	struct generation	*g;
	int			 i;

	TAILQ_FOREACH(g, &generations, entry)
		for (i = 0; i < g->nworkers; i++)
			if (g->workers[i].running)
				imsgev_compose(&g->workers[i].iev, type, 0,
				    -1, data, len);
}

/* Origin ids differ between generations; the name does not. */
void
proc_broadcast_health(const char *name, const struct origin_health *h)
{
	struct generation	*g;
	struct origin_conf	*o;
	struct origin_health	 gh;
	int			 i;

	TAILQ_FOREACH(g, &generations, entry) {
		if (g->state == GEN_FAILED)
			continue;
		TAILQ_FOREACH(o, &g->conf->origins, entry)
			if (strcmp(o->name, name) == 0)
				break;
		if (o == NULL)
			continue;
		gh = *h;
		gh.origin_id = o->id;
		for (i = 0; i < g->nworkers; i++)
			if (g->workers[i].running)
				imsgev_compose(&g->workers[i].iev,
				    IMSG_ORIGIN_STATE, 0, -1, &gh, sizeof(gh));
	}
}

/* After rotation: a new file under the old name for every worker. */
int
proc_reopen_logs(FILE *diag)
{
	struct generation	*g;
	int			 i, fd, nfd, r = 0;

	TAILQ_FOREACH(g, &generations, entry) {
		if (g->state == GEN_FAILED || g->conf->access_log[0] == '\0')
			continue;
		if ((fd = master_open_access_log(g->conf->access_log)) ==
		    -1) {
			fprintf(diag, "access log %s: %s\n",
			    g->conf->access_log, strerror(errno));
			r = -1;
			continue;
		}
		if (g->access_log_fd != -1)
			close(g->access_log_fd);
		g->access_log_fd = fd;
		for (i = 0; i < g->nworkers; i++) {
			if (!g->workers[i].running)
				continue;
			if ((nfd = dup(fd)) == -1) {
				fprintf(diag, "dup: %s\n", strerror(errno));
				r = -1;
				continue;
			}
			imsgev_compose(&g->workers[i].iev, IMSG_LOG_REOPEN, 0,
			    nfd, NULL, 0);
		}
		log_info("access log %s reopened", g->conf->access_log);
	}
	return (r);
}

/* Sums of the serving generation; ready and running workers. */
void
proc_stats(struct worker_stats *sum, int *running, int *draining)
{
	struct generation	*g;
	struct worker_proc	*w;
	int			 i;

	memset(sum, 0, sizeof(*sum));
	*running = *draining = 0;
	sum->requests = master->retired_requests;
	sum->errors = master->retired_errors;
	TAILQ_FOREACH(g, &generations, entry) {
		for (i = 0; i < g->nworkers; i++) {
			w = &g->workers[i];
			if (w->pid == 0)
				continue;
			sum->connections += w->stats.connections;
			sum->requests += w->stats.requests;
			sum->errors += w->stats.errors;
			if (g == active)
				(*running)++;
			else if (g->state == GEN_DRAINING)
				(*draining)++;
		}
	}
}

/* One origin of the serving configuration, over its workers. */
int
proc_origin_stats(int origin_id, struct origin_stats *sum)
{
	struct worker_proc	*w;
	int			 i;

	memset(sum, 0, sizeof(*sum));
	if (active == NULL || origin_id < 0 ||
	    origin_id >= active->conf->norigins)
		return (-1);
	sum->origin_id = origin_id;
	for (i = 0; i < active->nworkers; i++) {
		w = &active->workers[i];
		if (w->pid == 0)
			continue;
		sum->inflight += w->ostats[origin_id].inflight;
		sum->idle += w->ostats[origin_id].idle;
		sum->requests += w->ostats[origin_id].requests;
		sum->failures += w->ostats[origin_id].failures;
	}
	return (0);
}

json_t *
proc_show_workers(void)
{
	struct generation	*g;
	struct worker_proc	*w;
	json_t			*a, *o;
	const char		*state;
	int			 i;

	if ((a = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(g, &generations, entry) {
		for (i = 0; i < g->nworkers; i++) {
			w = &g->workers[i];
			if (w->pid == 0)
				state = "restarting";
			else if (g->state == GEN_ACTIVE)
				state = w->ready ? "ready" : "starting";
			else
				state = proc_gen_state(g->state);
			o = json_pack("{s:i, s:i, s:I, s:s, s:I, s:i, s:i, "
			    "s:I, s:I}", "id", w->id, "generation", g->id,
			    "pid", (json_int_t)w->pid, "state", state,
			    "started", (json_int_t)(w->pid != 0 ?
			    w->started : 0),
			    "connections", w->stats.connections,
			    "idle", w->stats.idle,
			    "requests", (json_int_t)w->stats.requests,
			    "errors", (json_int_t)w->stats.errors);
			if (o == NULL || json_array_append_new(a, o) == -1) {
				json_decref(a);
				return (NULL);
			}
		}
	}
	return (a);
}
