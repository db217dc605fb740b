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
 * The control socket (master process): uxrpctl talks to the master
 * here, in the same framing as the socketpairs. Root, the user the
 * master runs as and the users named in "control_users" may use it;
 * the credentials of every peer are checked as it connects.
 * Answers are JSON documents sent in parts, or a reason for failure;
 * IMSG_CTL_END closes each answer.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <jansson.h>

#include "uxrp.h"
#include "master.h"

#define CONTROL_BACKLOG		16
#define CONTROL_MAX_CONNS	32

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;
	uid_t			 uid;
	struct imsgev		 iev;
};

static TAILQ_HEAD(, ctl_conn)	 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static int			 control_fd = -1;
static char			 control_path[UXRP_SUN_PATH_MAX];
static struct event		*control_ev;
static uint32_t			 control_next_id;
static int			 control_nconns;

static void	control_accept(evutil_socket_t, short, void *);
static void	control_dispatch_client(struct imsgev *, struct imsg *);
static void	control_closed(struct imsgev *);

/* Before the workers start and before daemonizing; "" for none. */
int
control_init(const char *path)
{
	struct sockaddr_un	 sun;
	mode_t			 old, mode;
	int			 fd;

	if (path[0] == '\0')
		return (0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("control socket %s: path too long", path);
		return (-1);
	}
	if (unix_socket_stale(path, "control socket") == -1)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("control socket: socket");
		return (-1);
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("control socket %s: bind", path);
		close(fd);
		return (-1);
	}
	umask(old);
	/*
	 * Others may connect when control_users names them; who gets an
	 * answer is decided by the credentials, peer by peer.
	 */
	mode = master->conf->ncontrol_users > 0 ? 0666 : 0600;
	if (chmod(path, mode) == -1 ||
	    (master->privileged && chown(path, 0, 0) == -1) ||
	    listen(fd, CONTROL_BACKLOG) == -1) {
		log_warn("control socket %s", path);
		unlink(path);
		close(fd);
		return (-1);
	}
	(void)strlcpy(control_path, path, sizeof(control_path));
	control_fd = fd;
	return (0);
}

int
control_listen(struct event_base *base)
{
	if (control_fd == -1)
		return (0);
	control_ev = event_new(base, control_fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	if (control_ev == NULL || event_add(control_ev, NULL) == -1)
		return (-1);
	log_debug("control socket %s", control_path);
	return (0);
}

void
control_cleanup(void)
{
	struct ctl_conn	*c;

	while ((c = TAILQ_FIRST(&ctl_conns)) != NULL) {
		TAILQ_REMOVE(&ctl_conns, c, entry);
		imsgev_close(&c->iev);
		free(c);
	}
	if (control_fd == -1)
		return;
	if (control_ev != NULL)
		event_free(control_ev);
	close(control_fd);
	control_fd = -1;
	if (unlink(control_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", control_path);
}

static int
control_peer_uid(int fd, uid_t *uid)
{
#if defined(SO_PEERCRED) && defined(__linux__)
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (-1);
	*uid = cred.uid;
	return (0);
#else
	gid_t		 gid;

	return (getpeereid(fd, uid, &gid));
#endif
}

static int
control_allowed(uid_t uid)
{
	const struct uxrp_conf	*conf = master->conf;
	int			 i;

	if (uid == 0 || uid == geteuid())
		return (1);
	for (i = 0; i < conf->ncontrol_users; i++)
		if (conf->control_uids[i] == uid)
			return (1);
	return (0);
}

/* A short answer on a socket that is closed right after. */
static void
control_refuse(int fd, const char *why)
{
	struct imsgbuf	 ibuf;

	imsg_init(&ibuf, fd);
	if (imsg_compose(&ibuf, IMSG_CTL_FAIL, 0, -1, why, strlen(why)) ==
	    0 && imsg_compose(&ibuf, IMSG_CTL_END, 0, -1, NULL, 0) == 0)
		(void)imsg_flush(&ibuf);
	imsg_clear(&ibuf);
	close(fd);
}

static void
control_accept(evutil_socket_t lfd, short events, void *arg)
{
	struct ctl_conn	*c;
	uid_t		 uid;
	int		 fd;

	(void)events;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if (control_peer_uid(fd, &uid) == -1) {
		log_warn("control: peer credentials");
		close(fd);
		return;
	}
	if (!control_allowed(uid)) {
		log_warnx("control: refused a client with uid %lu",
		    (unsigned long)uid);
		control_refuse(fd, "permission denied: uid not allowed to "
		    "control uxrpd");
		return;
	}
	if (control_nconns >= CONTROL_MAX_CONNS) {
		control_refuse(fd, "too many control clients");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control: %s", __func__);
		close(fd);
		return;
	}
	c->uid = uid;
	if (++control_next_id == 0)
		control_next_id = 1;
	c->id = control_next_id;
	if (imsgev_init(&c->iev, master->base, fd, control_dispatch_client,
	    control_closed, c) == -1) {
		log_warn("control: imsgev_init");
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	control_nconns++;
}

static void
control_free(struct ctl_conn *c)
{
	TAILQ_REMOVE(&ctl_conns, c, entry);
	control_nconns--;
	imsgev_close(&c->iev);
	free(c);
}

static void
control_closed(struct imsgev *iev)
{
	control_free(iev->arg);
}

/* Text in parts that fit one message each. */
static void
control_send_text(struct ctl_conn *c, enum imsg_type type, const char *s,
    size_t len)
{
	size_t	 n;

	while (len > 0) {
		n = len < IMSG_MAX_PAYLOAD ? len : IMSG_MAX_PAYLOAD;
		imsgev_compose(&c->iev, type, 0, -1, s, n);
		s += n;
		len -= n;
	}
}

static void
control_answer(struct ctl_conn *c, int ok, const char *text)
{
	size_t	 len = text != NULL ? strlen(text) : 0;

	if (ok)
		imsgev_compose(&c->iev, IMSG_CTL_OK, 0, -1, text, len);
	else
		control_send_text(c, IMSG_CTL_FAIL, text != NULL ? text :
		    "failed", text != NULL ? len : 6);
	imsgev_compose(&c->iev, IMSG_CTL_END, 0, -1, NULL, 0);
}

/* The outcome of a reload, which comes later than its request. */
void
control_reply(uint32_t id, int ok, const char *text)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &ctl_conns, entry)
		if (c->id == id)
			break;
	if (c != NULL)
		control_answer(c, ok, text);
}

static void
control_check(struct ctl_conn *c)
{
	char	*report;
	uid_t	 uid;
	gid_t	 gid;
	int	 failed;

	if ((report = malloc(IMSG_MAX_PAYLOAD / 2)) == NULL) {
		control_answer(c, 0, "out of memory");
		return;
	}
	proc_worker_ids(&uid, &gid);
	failed = ctl_check(master->conf, uid, gid, report,
	    IMSG_MAX_PAYLOAD / 2);
	control_answer(c, failed == 0, report);
	free(report);
}

static void
control_origin_address(const struct origin_conf *o, char *buf, size_t len)
{
	switch (o->type) {
	case ORIGIN_UNIX:
		(void)snprintf(buf, len, "unix:%s", o->path);
		break;
	case ORIGIN_ABSTRACT:
		(void)snprintf(buf, len, "@%s", o->path);
		break;
	default:
		if (sockaddr_fmt((const struct sockaddr *)&o->addr,
		    o->addrlen, buf, len) == -1)
			(void)strlcpy(buf, "?", len);
		break;
	}
}

static json_t *
control_show_origins(void)
{
	struct origin_conf	*o;
	struct origin_health	 h;
	struct origin_stats	 st;
	char			 addr[UXRP_FILE_MAX];
	time_t			 since;
	json_t			*a, *j;

	if ((a = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		if (health_get(o->name, &h, &since) == -1) {
			h.state = ORIGIN_STATE_UNKNOWN;
			h.cause[0] = '\0';
			since = master->started;
		}
		(void)proc_origin_stats(o->id, &st);
		control_origin_address(o, addr, sizeof(addr));
		j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:i, "
		    "s:i}", "id", o->id, "name", o->name, "address", addr,
		    "state", health_state_name(h.state),
		    "since", (json_int_t)since, "cause", h.cause,
		    "requests", (json_int_t)st.requests,
		    "failures", (json_int_t)st.failures,
		    "inflight", st.inflight, "idle", st.idle);
		if (j == NULL)
			goto fail;
		if (o->check_interval > 0 && json_object_set_new(j, "check",
		    json_pack("{s:s, s:i, s:i}", "path", o->check_path,
		    "interval", o->check_interval, "timeout",
		    o->check_timeout)) == -1) {
			json_decref(j);
			goto fail;
		}
		if (json_array_append_new(a, j) == -1)
			goto fail;
	}
	return (a);
 fail:
	json_decref(a);
	return (NULL);
}

static json_t *
control_show_listeners(void)
{
	struct listener_conf	*l;
	json_t			*a, *j;
	char			 mode[8];

	if ((a = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(l, &master->conf->listeners, entry) {
		if (l->type == LISTENER_UNIX) {
			(void)snprintf(mode, sizeof(mode), "%04o",
			    (unsigned int)l->mode);
			j = json_pack("{s:i, s:s, s:s, s:s}", "id", l->id,
			    "name", l->name, "type", "unix", "mode", mode);
		} else
			j = json_pack("{s:i, s:s, s:s}", "id", l->id,
			    "name", l->name, "type", "tcp");
		if (j == NULL || json_array_append_new(a, j) == -1) {
			json_decref(a);
			return (NULL);
		}
	}
	return (a);
}

static json_t *
control_show_summary(void)
{
	struct worker_stats	 sum;
	struct origin_conf	*o;
	struct origin_health	 h;
	int			 running, draining, up = 0, down = 0, unknown = 0;
	time_t			 now = time(NULL);

	proc_stats(&sum, &running, &draining);
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		if (health_get(o->name, &h, NULL) == -1)
			h.state = ORIGIN_STATE_UNKNOWN;
		if (h.state == ORIGIN_STATE_UP)
			up++;
		else if (h.state == ORIGIN_STATE_DOWN)
			down++;
		else
			unknown++;
	}
	return (json_pack("{s:s, s:I, s:s, s:I, s:I, s:i, s:i, s:i, s:i, "
	    "s:i, s:I, s:I, s:i, s:i, s:i, s:i, s:s}",
	    "version", UXRP_VERSION, "pid", (json_int_t)getpid(),
	    "config", master->conf->file,
	    "started", (json_int_t)master->started,
	    "uptime", (json_int_t)(now - master->started),
	    "generation", proc_generation(), "reloads", master->reloads,
	    "workers", running, "draining", draining,
	    "connections", sum.connections,
	    "requests", (json_int_t)sum.requests,
	    "errors", (json_int_t)sum.errors,
	    "origins_up", up, "origins_down", down,
	    "origins_unknown", unknown, "verbose", log_getverbose(),
	    "log", log_getverbose() > 0 ? "verbose" : "brief"));
}

static void
control_show(struct ctl_conn *c, int what)
{
	json_t	*j, *doc;
	char	*s;

	switch (what) {
	case CTL_SHOW_SUMMARY:
		j = control_show_summary();
		break;
	case CTL_SHOW_ORIGINS:
		j = control_show_origins();
		break;
	case CTL_SHOW_WORKERS:
		j = proc_show_workers();
		break;
	case CTL_SHOW_LISTENERS:
		j = control_show_listeners();
		break;
	default:
		control_answer(c, 0, "unknown show request");
		return;
	}
	/* Arrays go inside an object, so every answer is one object. */
	if (j != NULL && json_is_array(j)) {
		doc = json_object();
		if (doc == NULL || json_object_set_new(doc, what ==
		    CTL_SHOW_ORIGINS ? "origins" : what == CTL_SHOW_WORKERS ?
		    "workers" : "listeners", j) == -1) {
			json_decref(doc);
			j = NULL;
		} else
			j = doc;
	}
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		control_answer(c, 0, "out of memory");
		return;
	}
	json_decref(j);
	control_send_text(c, IMSG_CTL_DATA, s, strlen(s));
	free(s);
	control_answer(c, 1, NULL);
}

static void
control_reload(struct ctl_conn *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*diag;

	if ((diag = open_memstream(&buf, &len)) == NULL) {
		control_answer(c, 0, "out of memory");
		return;
	}
	log_info("reload requested by uid %lu", (unsigned long)c->uid);
	if (master_reload(c->id, diag) == 0) {
		/* proc.c answers once the new generation is ready. */
		fclose(diag);
		free(buf);
		return;
	}
	fprintf(diag, "reload failed; the running configuration stays\n");
	fclose(diag);
	log_warnx("reload failed; the running configuration stays");
	control_answer(c, 0, buf);
	free(buf);
}

static void
control_log_reopen(struct ctl_conn *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*diag;
	int	 r;

	if ((diag = open_memstream(&buf, &len)) == NULL) {
		control_answer(c, 0, "out of memory");
		return;
	}
	r = proc_reopen_logs(diag);
	fclose(diag);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	control_answer(c, r == 0, r == 0 ? "access log reopened" : buf);
	free(buf);
}

static void
control_dispatch_client(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->arg;
	int		 v;

	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_RELOAD:
		if (imsg->hdr.len != 0)
			goto bad;
		control_reload(c);
		break;
	case IMSG_CTL_SHOW:
		if (imsg->hdr.len != sizeof(v))
			goto bad;
		memcpy(&v, imsg->data, sizeof(v));
		control_show(c, v);
		break;
	case IMSG_CTL_LOG_VERBOSE:
		if (imsg->hdr.len != sizeof(v))
			goto bad;
		memcpy(&v, imsg->data, sizeof(v));
		if (v < 0 || v > 4)
			goto bad;
		master->verbose = v;
		log_setverbose(v);
		proc_broadcast(IMSG_LOG_VERBOSE, &v, sizeof(v));
		log_info("logging %s", v > 0 ? "verbose" : "brief");
		control_answer(c, 1, v > 0 ? "logging verbose" :
		    "logging brief");
		break;
	case IMSG_CTL_LOG_REOPEN:
		if (imsg->hdr.len != 0)
			goto bad;
		control_log_reopen(c);
		break;
	case IMSG_CTL_CHECK:
		if (imsg->hdr.len != 0)
			goto bad;
		control_check(c);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	log_warnx("control: bad request type %u length %u", imsg->hdr.type,
	    imsg->hdr.len);
	control_answer(c, 0, "bad request");
}
