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
 * Framing of the messages between the master, its workers and the
 * control clients: a fixed header, a bounded payload, and at most one
 * descriptor per message carried as SCM_RIGHTS. A descriptor given to
 * imsg_compose belongs to the queue from then on and is closed once
 * sent; a received one belongs to whoever takes the message.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "uxrp.h"

#define IMSG_FDS_PER_READ	16
#define IMSG_READS_PER_EVENT	1024	/* then other events get a turn */

static void	imsgev_read_cb(evutil_socket_t, short, void *);
static void	imsgev_write_cb(evutil_socket_t, short, void *);

void
imsg_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	TAILQ_INIT(&ibuf->wq);
}

/* Returns bytes read, 0 at end of file, -1 on error (errno set). */
ssize_t
imsg_read(struct imsgbuf *ibuf)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    IMSG_FDS_PER_READ)];
	}		 cmsgbuf;
	ssize_t		 n;
	size_t		 i, nfds;
	int		*fdp, overflow = 0;
	int		 flags = 0;

	if (ibuf->rlen >= sizeof(ibuf->rbuf)) {
		errno = ENOBUFS;
		return (-1);
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = sizeof(ibuf->rbuf) - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
#ifdef MSG_CMSG_CLOEXEC
	flags |= MSG_CMSG_CLOEXEC;
#endif
	do {
		n = recvmsg(ibuf->fd, &msg, flags);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fdp = (int *)CMSG_DATA(cmsg);
		for (i = 0; i < nfds; i++) {
			int	 fd;

			memcpy(&fd, fdp + i, sizeof(fd));
			if (ibuf->nfds >= IMSG_MAX_FDS_QUEUED) {
				close(fd);
				overflow = 1;
				continue;
			}
			ibuf->fds[ibuf->nfds++] = fd;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/*
		 * A descriptor the kernel could not install (this process
		 * is at its limit) was closed on the way; a peer sends one
		 * per message, and its message gets -1 in its place.
		 */
		if (ibuf->nfds >= IMSG_MAX_FDS_QUEUED)
			overflow = 1;
		else
			ibuf->fds[ibuf->nfds++] = -1;
	}
	if (overflow) {
		errno = EMFILE;
		return (-1);
	}
	ibuf->rlen += n;
	return (n);
}

/*
 * Takes the next whole message out of the read buffer: 1 when one was
 * taken, 0 when more bytes are needed, -1 when the peer broke framing.
 */
int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 total;

	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	if (ibuf->rlen < IMSG_HEADER_SIZE)
		return (0);
	memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
	if (hdr.len > IMSG_MAX_PAYLOAD || (hdr.flags & ~IMSG_FLAG_FD) != 0) {
		errno = EBADMSG;
		return (-1);
	}
	total = IMSG_HEADER_SIZE + hdr.len;
	if (ibuf->rlen < total)
		return (0);
	if (hdr.flags & IMSG_FLAG_FD) {
		if (ibuf->nfds == 0) {
			errno = EBADMSG;
			return (-1);
		}
		imsg->fd = ibuf->fds[0];
		ibuf->nfds--;
		memmove(ibuf->fds, ibuf->fds + 1,
		    ibuf->nfds * sizeof(ibuf->fds[0]));
	}
	if (hdr.len > 0) {
		if ((imsg->data = malloc(hdr.len)) == NULL) {
			if (imsg->fd != -1)
				close(imsg->fd);
			imsg->fd = -1;
			return (-1);
		}
		memcpy(imsg->data, ibuf->rbuf + IMSG_HEADER_SIZE, hdr.len);
	}
	imsg->hdr = hdr;
	ibuf->rlen -= total;
	memmove(ibuf->rbuf, ibuf->rbuf + total, ibuf->rlen);
	return (1);
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct imsg_out	*out;
	struct imsg_hdr	 hdr;

	if (len > IMSG_MAX_PAYLOAD || (len > 0 && data == NULL)) {
		errno = ERANGE;
		goto fail;
	}
	if ((out = calloc(1, sizeof(*out))) == NULL)
		goto fail;
	if ((out->buf = malloc(IMSG_HEADER_SIZE + len)) == NULL) {
		free(out);
		goto fail;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = ibuf->pid;
	hdr.flags = fd == -1 ? 0 : IMSG_FLAG_FD;
	memcpy(out->buf, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(out->buf + IMSG_HEADER_SIZE, data, len);
	out->len = IMSG_HEADER_SIZE + len;
	out->fd = fd;
	TAILQ_INSERT_TAIL(&ibuf->wq, out, entry);
	ibuf->wqlen++;
	return (0);
 fail:
	if (fd != -1)
		close(fd);
	return (-1);
}

static void
imsg_out_free(struct imsgbuf *ibuf, struct imsg_out *out)
{
	TAILQ_REMOVE(&ibuf->wq, out, entry);
	ibuf->wqlen--;
	if (out->fd != -1)
		close(out->fd);
	free(out->buf);
	free(out);
}

/* 0: all written; 1: the socket is full, call again; -1: error. */
int
imsg_flush(struct imsgbuf *ibuf)
{
	struct imsg_out	*out;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	ssize_t		 n;

	while ((out = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = out->buf + out->off;
		iov.iov_len = out->len - out->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (out->fd != -1 && out->off == 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &out->fd, sizeof(int));
		}
		do {
			n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
		} while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return (1);
			return (-1);
		}
		if (out->fd != -1 && out->off == 0) {
			/* The peer holds it now. */
			close(out->fd);
			out->fd = -1;
		}
		out->off += n;
		if (out->off == out->len)
			imsg_out_free(ibuf, out);
	}
	return (0);
}

int
imsg_pending(const struct imsgbuf *ibuf)
{
	return (!TAILQ_EMPTY(&ibuf->wq));
}

void
imsg_clear(struct imsgbuf *ibuf)
{
	struct imsg_out	*out;

	while ((out = TAILQ_FIRST(&ibuf->wq)) != NULL)
		imsg_out_free(ibuf, out);
	while (ibuf->nfds > 0)
		close(ibuf->fds[--ibuf->nfds]);
	ibuf->rlen = 0;
}

int
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    void (*handler)(struct imsgev *, struct imsg *),
    void (*closed)(struct imsgev *), void *arg)
{
	memset(iev, 0, sizeof(*iev));
	if (fd_nonblock(fd) == -1)
		return (-1);
	imsg_init(&iev->ibuf, fd);
	iev->handler = handler;
	iev->closed = closed;
	iev->arg = arg;
	iev->rev = event_new(base, fd, EV_READ | EV_PERSIST,
	    imsgev_read_cb, iev);
	iev->wev = event_new(base, fd, EV_WRITE, imsgev_write_cb, iev);
	if (iev->rev == NULL || iev->wev == NULL)
		return (-1);
	return (event_add(iev->rev, NULL));
}

static void
imsgev_dead(struct imsgev *iev)
{
	event_del(iev->rev);
	event_del(iev->wev);
	if (iev->closed != NULL)
		iev->closed(iev);
}

static void
imsgev_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r, reads;

	(void)fd;
	(void)events;
	/*
	 * A message that carries a descriptor is read alone: one read per
	 * event would pass a busy worker one connection per loop.
	 */
	for (reads = 0; reads < IMSG_READS_PER_EVENT; reads++) {
		n = imsg_read(&iev->ibuf);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == -1)
				log_warn("%s: read", __func__);
			imsgev_dead(iev);
			return;
		}
		while ((r = imsg_get(&iev->ibuf, &imsg)) == 1) {
			iev->handler(iev, &imsg);
			imsg_free(&imsg);
			/* The handler may have closed this channel. */
			if (iev->ibuf.fd == -1)
				return;
		}
		if (r == -1) {
			log_warn("%s: bad message", __func__);
			imsgev_dead(iev);
			return;
		}
	}
}

static void
imsgev_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct imsgev	*iev = arg;
	int		 r;

	(void)fd;
	(void)events;
	if ((r = imsg_flush(&iev->ibuf)) == 1)
		event_add(iev->wev, NULL);
	else if (r == -1) {
		log_warn("%s: write", __func__);
		imsgev_dead(iev);
	}
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (iev->ibuf.fd == -1) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (imsg_compose(&iev->ibuf, type, peerid, fd, data, len) == -1)
		return (-1);
	return (event_add(iev->wev, NULL));
}

/* Used before exit, when nothing else is left to run the loop. */
int
imsgev_flush_blocking(struct imsgev *iev)
{
	struct pollfd	 pfd;
	int		 r, tries = 0;

	while ((r = imsg_flush(&iev->ibuf)) == 1) {
		pfd.fd = iev->ibuf.fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			return (-1);
		if (++tries > 10)
			return (-1);
	}
	return (r);
}

void
imsgev_close(struct imsgev *iev)
{
	if (iev->rev != NULL) {
		event_free(iev->rev);
		iev->rev = NULL;
	}
	if (iev->wev != NULL) {
		event_free(iev->wev);
		iev->wev = NULL;
	}
	imsg_clear(&iev->ibuf);
	if (iev->ibuf.fd != -1)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}
