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

struct worker_proc {
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

static struct worker_proc	*workers;
static struct event		*kill_ev;
static int			 all_ready_logged;

static void	proc_spawn(struct worker_proc *);
static void	proc_schedule(struct worker_proc *);
static void	proc_dispatch_worker(struct imsgev *, struct imsg *);
static void	proc_worker_closed(struct imsgev *);
static void	proc_respawn_cb(evutil_socket_t, short, void *);
static void	proc_kill_cb(evutil_socket_t, short, void *);

void
proc_init(void)
{
	int	 i;

	if ((workers = calloc(master->nworkers, sizeof(*workers))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < master->nworkers; i++) {
		workers[i].id = i;
		workers[i].backoff_ms = PROC_BACKOFF_MIN_MS;
		workers[i].respawn_ev = evtimer_new(master->base,
		    proc_respawn_cb, &workers[i]);
		workers[i].ostats = calloc(master->conf->norigins + 1,
		    sizeof(*workers[i].ostats));
		if (workers[i].respawn_ev == NULL || workers[i].ostats == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
}

void
proc_start_workers(void)
{
	int	 i;

	for (i = 0; i < master->nworkers; i++)
		proc_spawn(&workers[i]);
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

/* The structs go as they are; the worker rebuilds the list links. */
static int
proc_send_config(struct worker_proc *w)
{
	struct uxrp_conf	*conf = master->conf;
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
	priv.uid = master->uid;
	priv.gid = master->gid;
	priv.debug = master->debug;
	priv.verbose = master->verbose;

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
	if (master->access_log_fd != -1) {
		if ((fd = dup(master->access_log_fd)) == -1) {
			log_warn("%s: dup", __func__);
			return (-1);
		}
		r |= proc_send(w, IMSG_CONF_ACCESS_LOG, fd, NULL, 0);
	}
	r |= proc_send(w, IMSG_CONF_END, -1, NULL, 0);
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
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("%s: socketpair", __func__);
		goto retry;
	}
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
	if (imsgev_init(&w->iev, master->base, sp[0], proc_dispatch_worker,
	    proc_worker_closed, w) == -1)
		fatal("%s: imsgev_init", __func__);
	w->iev.ibuf.pid = getpid();
	w->running = 1;
	if (proc_send_config(w) == -1) {
		log_warnx("worker %d: cannot send the configuration", w->id);
		kill(pid, SIGKILL);
	}
	log_debug("worker %d started, pid %ld", w->id, (long)pid);
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
	if (!master->shutting_down && w->pid == 0)
		proc_spawn(w);
}

static struct worker_proc *
proc_find(pid_t pid)
{
	int	 i;

	for (i = 0; i < master->nworkers; i++)
		if (workers[i].pid == pid)
			return (&workers[i]);
	return (NULL);
}

static int
proc_alive(void)
{
	int	 i, n = 0;

	for (i = 0; i < master->nworkers; i++)
		if (workers[i].pid != 0)
			n++;
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

void
proc_reap(void)
{
	struct worker_proc	*w;
	pid_t			 pid;
	int			 status;
	time_t			 lived;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = proc_find(pid)) == NULL)
			continue;
		proc_stop(w);
		w->pid = 0;
		w->ready = 0;
		if (master->shutting_down) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_debug("worker %d (pid %ld) exited",
				    w->id, (long)pid);
			else
				log_warnx("worker %d (pid %ld) terminated "
				    "during shutdown", w->id, (long)pid);
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

void
proc_shutdown(void)
{
	struct timeval	 tv;
	int		 i;

	if (master->shutting_down)
		return;
	master->shutting_down = 1;
	for (i = 0; i < master->nworkers; i++) {
		evtimer_del(workers[i].respawn_ev);
		if (workers[i].running) {
			imsgev_compose(&workers[i].iev, IMSG_SHUTDOWN, 0, -1,
			    NULL, 0);
		}
	}
	if (proc_alive() == 0) {
		event_base_loopbreak(master->base);
		return;
	}
	timerclear(&tv);
	tv.tv_sec = master->conf->timeouts.drain + PROC_KILL_GRACE;
	if ((kill_ev = evtimer_new(master->base, proc_kill_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(kill_ev, &tv);
}

static void
proc_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	int	 i;

	(void)fd;
	(void)events;
	(void)arg;
	for (i = 0; i < master->nworkers; i++) {
		if (workers[i].pid == 0)
			continue;
		log_warnx("worker %d (pid %ld) did not drain in time, killing",
		    i, (long)workers[i].pid);
		kill(workers[i].pid, SIGKILL);
	}
}

static void
proc_worker_closed(struct imsgev *iev)
{
	struct worker_proc	*w = iev->arg;

	/* Its exit is handled when it is reaped. */
	log_debug("worker %d: channel closed", w->id);
	proc_stop(w);
}

static void
proc_dispatch_worker(struct imsgev *iev, struct imsg *imsg)
{
	struct worker_proc	*w = iev->arg;
	struct origin_health	 h;
	struct origin_stats	 os;
	int			 i, ready = 0;

	if (imsg->hdr.pid != (uint32_t)w->pid) {
		log_warnx("worker %d: message from pid %u", w->id,
		    imsg->hdr.pid);
		goto bad;
	}
	switch (imsg->hdr.type) {
	case IMSG_WORKER_READY:
		if (imsg->hdr.len != 0)
			goto bad;
		w->ready = 1;
		for (i = 0; i < master->nworkers; i++)
			ready += workers[i].ready;
		if (ready == master->nworkers) {
			if (!all_ready_logged)
				log_info("ready: %d worker%s accepting",
				    ready, ready == 1 ? "" : "s");
			else
				log_info("ready: worker %d replaced", w->id);
			all_ready_logged = 1;
		}
		break;
	case IMSG_ORIGIN_HEALTH:
		if (imsg->hdr.len != sizeof(h))
			goto bad;
		memcpy(&h, imsg->data, sizeof(h));
		health_report(w->id, &h);
		break;
	case IMSG_ORIGIN_CONNECT:
		health_connect_origin(iev, imsg);
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
		if (os.origin_id < 0 || os.origin_id >= master->conf->norigins)
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
