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
 * "uxrpctl check": for every origin, what a worker will face, tried
 * now: the socket exists and is one, who reaches it (the worker inside
 * its chroot, the master outside), whether the worker's user may
 * connect, and a trial connect with the identity check. Each connect
 * is bounded, so the master's loop is held for at most a few seconds.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uxrp.h"
#include "master.h"

#define CHECK_CONNECT_MS	1000

/* A connect bounded in time; 0 or an errno. *fdp keeps the socket. */
static int
check_connect(const struct origin_conf *o, int *fdp)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	struct pollfd		 pfd;
	socklen_t		 sslen, len = sizeof(int);
	size_t			 n;
	int			 fd, error = 0;

	memset(&ss, 0, sizeof(ss));
	switch (o->type) {
	case ORIGIN_UNIX:
		sun->sun_family = AF_UNIX;
		(void)strlcpy(sun->sun_path, o->path, sizeof(sun->sun_path));
		sslen = sizeof(*sun);
		break;
	case ORIGIN_ABSTRACT:
		sun->sun_family = AF_UNIX;
		n = strnlen(o->path, sizeof(sun->sun_path) - 1);
		memcpy(sun->sun_path + 1, o->path, n);
		sslen = offsetof(struct sockaddr_un, sun_path) + 1 + n;
		break;
	default:
		memcpy(&ss, &o->addr, o->addrlen);
		sslen = o->addrlen;
		break;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return (errno);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
		if (errno != EINPROGRESS) {
			error = errno;
			close(fd);
			return (error);
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, CHECK_CONNECT_MS) != 1)
			error = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error,
		    &len) == -1)
			error = errno;
	}
	if (error != 0) {
		close(fd);
		return (error);
	}
	*fdp = fd;
	return (0);
}

/*
 * Whether the worker's user may connect to a socket path: a child
 * takes that user's credentials and tries. 0 or an errno.
 */
static int
check_as_worker(const struct origin_conf *o, uid_t uid, gid_t gid)
{
	pid_t	 pid;
	int	 status, fd = -1, r;

	switch ((pid = fork())) {
	case -1:
		return (errno);
	case 0:
		alarm(3);
		if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(EPERM);
		r = check_connect(o, &fd);
		_exit(r > 255 ? EIO : r);
	default:
		break;
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (errno);
	if (!WIFEXITED(status))
		return (ETIMEDOUT);
	return (WEXITSTATUS(status));
}

static int
check_peer(const struct origin_conf *o, int fd, char *buf, size_t len)
{
	uid_t		 uid;
	gid_t		 gid;
#ifdef SO_PEERCRED
	struct ucred	 cred;
	socklen_t	 clen = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1)
		return (-1);
	uid = cred.uid;
	gid = cred.gid;
#else
	if (getpeereid(fd, &uid, &gid) == -1)
		return (-1);
#endif
	snprintf(buf, len, "listened on by uid %u gid %u", (unsigned)uid,
	    (unsigned)gid);
	if ((o->peer.uid_set && uid != o->peer.uid) ||
	    (o->peer.gid_set && gid != o->peer.gid))
		return (-1);
	return (0);
}

/* One line per origin into out; returns the number that failed. */
int
ctl_check(const struct uxrp_conf *conf, uid_t uid, gid_t gid, char *out,
    size_t outlen)
{
	const struct origin_conf	*o;
	struct stat			 st;
	char				 line[4096], peer[128], how[256];
	size_t				 used = 0;
	int				 failed = 0, bad, fd, error, n;

	out[0] = '\0';
	TAILQ_FOREACH(o, &conf->origins, entry) {
		bad = 0;
		peer[0] = '\0';
		fd = -1;
		if (o->type == ORIGIN_UNIX) {
			snprintf(how, sizeof(how), "unix socket, reached by %s",
			    o->via_master ? "the master" : "the worker");
			if (stat(o->path, &st) == -1) {
				snprintf(line, sizeof(line), "origin %d %s: FAIL: "
				    "%s: %s\n", o->id, o->name, o->path,
				    strerror(errno));
				bad = 1;
				goto done;
			}
			if (!S_ISSOCK(st.st_mode)) {
				snprintf(line, sizeof(line), "origin %d %s: FAIL: "
				    "%s is not a socket\n", o->id, o->name,
				    o->path);
				bad = 1;
				goto done;
			}
			if (!o->via_master && master->privileged &&
			    (error = check_as_worker(o, uid, gid)) != 0) {
				snprintf(line, sizeof(line), "origin %d %s: FAIL: "
				    "%s; the worker's user (uid %u) cannot "
				    "connect: %s\n", o->id, o->name, how,
				    (unsigned)uid, strerror(error));
				bad = 1;
				goto done;
			}
		} else
			snprintf(how, sizeof(how), "%s, reached by the worker",
			    o->type == ORIGIN_ABSTRACT ? "abstract socket" :
			    "tcp");
		if ((error = check_connect(o, &fd)) != 0) {
			snprintf(line, sizeof(line), "origin %d %s: FAIL: %s; "
			    "connect: %s\n", o->id, o->name, how,
			    strerror(error));
			bad = 1;
			goto done;
		}
		if (o->type != ORIGIN_TCP && check_peer(o, fd, peer,
		    sizeof(peer)) == -1) {
			snprintf(line, sizeof(line), "origin %d %s: FAIL: %s; "
			    "%s, not the configured %s\n", o->id, o->name,
			    how, peer[0] != '\0' ? peer : "no credentials",
			    o->peer.uid_set ? "origin_user" : "origin_group");
			bad = 1;
			goto done;
		}
		snprintf(line, sizeof(line), "origin %d %s: ok: %s; connected"
		    "%s%s\n", o->id, o->name, how, peer[0] != '\0' ? ", " : "",
		    peer);
 done:
		if (fd != -1)
			close(fd);
		failed += bad;
		n = snprintf(out + used, outlen - used, "%s", line);
		if (n > 0 && (size_t)n < outlen - used)
			used += n;
	}
	return (failed);
}
