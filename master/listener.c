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
 * Listening sockets, bound by the master as root and handed to every
 * worker. A Unix socket file left behind by a dead daemon is replaced,
 * one that something still listens on is not.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uxrp.h"
#include "master.h"


/*
 * A socket file left by a dead daemon goes; one that something still
 * listens on stays, and so does anything that is not a socket.
 */
int
unix_socket_stale(const char *path, const char *what)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, r;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s %s: exists and is not a socket", what, path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		log_warnx("%s %s: another process listens on it", what, path);
		return (-1);
	}
	if (errno != ECONNREFUSED) {
		log_warn("%s %s", what, path);
		return (-1);
	}
	if (unlink(path) == -1) {
		log_warn("%s %s: unlink stale socket", what, path);
		return (-1);
	}
	log_info("%s %s: replaced a stale socket", what, path);
	return (0);
}

static int
listener_bind_unix(struct listener_conf *l)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	if (unix_socket_stale(l->path, "listener") == -1)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("listener %s: socket", l->name);
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, l->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("listener %s: path too long", l->name);
		close(fd);
		return (-1);
	}
	/* Nobody may connect before the mode is right. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("listener %s: bind", l->name);
		close(fd);
		return (-1);
	}
	umask(old);
	if (chmod(l->path, l->mode) == -1 ||
	    listen(fd, l->backlog) == -1) {
		log_warn("listener %s", l->name);
		unlink(l->path);
		close(fd);
		return (-1);
	}
	l->fd = fd;
	return (0);
}

static int
listener_bind_tcp(struct listener_conf *l)
{
	int	 fd, on = 1;

	if ((fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("listener %s: socket", l->name);
		return (-1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (l->addr.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		log_warn("listener %s: setsockopt", l->name);
		close(fd);
		return (-1);
	}
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) == -1) {
		log_warn("listener %s: bind", l->name);
		close(fd);
		return (-1);
	}
	if (listen(fd, l->backlog) == -1) {
		log_warn("listener %s: listen", l->name);
		close(fd);
		return (-1);
	}
	l->fd = fd;
	return (0);
}

int
listener_bind_all(struct uxrp_conf *conf)
{
	struct listener_conf	*l;
	int			 r;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->type == LISTENER_UNIX)
			r = listener_bind_unix(l);
		else
			r = listener_bind_tcp(l);
		if (r == -1) {
			listener_close_all(conf, 1);
			return (-1);
		}
		log_debug("listening on %s", l->name);
	}
	return (0);
}

/* unlink: also remove the socket files, at exit. */
void
listener_close_all(struct uxrp_conf *conf, int unlink_files)
{
	struct listener_conf	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->fd == -1)
			continue;
		close(l->fd);
		l->fd = -1;
		if (unlink_files && l->type == LISTENER_UNIX &&
		    unlink(l->path) == -1 && errno != ENOENT)
			log_warn("unlink %s", l->path);
	}
}

static int
listener_same(const struct listener_conf *a, const struct listener_conf *b)
{
	if (a->type != b->type)
		return (0);
	if (a->type == LISTENER_UNIX)
		return (strcmp(a->path, b->path) == 0);
	return (a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0);
}

static struct listener_conf *
listener_find(const struct uxrp_conf *conf, const struct listener_conf *l)
{
	struct listener_conf	*ol;

	TAILQ_FOREACH(ol, &conf->listeners, entry)
		if (ol->fd != -1 && listener_same(ol, l))
			return (ol);
	return (NULL);
}

/*
 * Reload: the listeners of conf that cur has already are shared, never
 * closed and bound again, so no connection is refused meanwhile; the
 * others are bound now. On failure nothing of conf stays bound.
 */
int
listener_adopt(struct uxrp_conf *cur, struct uxrp_conf *conf, FILE *diag)
{
	struct listener_conf	*l, *ol;
	int			 r;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if ((ol = listener_find(cur, l)) != NULL) {
			if ((l->fd = fcntl(ol->fd, F_DUPFD_CLOEXEC, 0)) ==
			    -1) {
				fprintf(diag, "listener %s: dup: %s\n",
				    l->name, strerror(errno));
				goto fail;
			}
			if (l->type == LISTENER_UNIX && l->mode != ol->mode &&
			    chmod(l->path, l->mode) == -1)
				log_warn("listener %s: chmod", l->name);
			/* listen(2) again sets the queue of a bound socket. */
			if (l->backlog != ol->backlog &&
			    listen(l->fd, l->backlog) == -1)
				log_warn("listener %s: listen", l->name);
			continue;
		}
		if (l->type == LISTENER_UNIX)
			r = listener_bind_unix(l);
		else
			r = listener_bind_tcp(l);
		if (r == -1) {
			fprintf(diag, "%s: listener %s: cannot bind: %s\n",
			    conf->file, l->name, strerror(errno));
			goto fail;
		}
		log_info("listening on %s", l->name);
	}
	return (0);
 fail:
	listener_retire(conf, cur);
	return (-1);
}

/*
 * The descriptors of gone are closed; a socket file goes too unless
 * keep still listens on it.
 */
void
listener_retire(struct uxrp_conf *gone, const struct uxrp_conf *keep)
{
	struct listener_conf	*l;
	int			 shared;

	TAILQ_FOREACH(l, &gone->listeners, entry) {
		if (l->fd == -1)
			continue;
		shared = listener_find(keep, l) != NULL;
		close(l->fd);
		l->fd = -1;
		if (shared)
			continue;
		log_info("listener %s closed", l->name);
		if (l->type == LISTENER_UNIX && unlink(l->path) == -1 &&
		    errno != ENOENT)
			log_warn("unlink %s", l->path);
	}
}
