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
 * Socket reads and writes in fewer steps than libevent's bufferevents
 * take on their own.
 *
 * libevent 2.1 reads a socket at most 4 KiB per readable event. A body
 * moved in such steps costs an event, a FIONREAD and a readv per 4 KiB;
 * the read callback of a plain socket tops its input up itself instead,
 * with what the socket holds, up to the budget the other side can take.
 * The end of the stream is left to the bufferevent, which sees it on
 * its next read (the socket stays readable). The bufferevent keeps the
 * end of its input frozen between its own reads; it is thawed here the
 * same way for the one read.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <errno.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "uxrp.h"
#include "worker.h"

#define BULK_STEP_MAX	(256 * 1024)

void
bulk_read(struct bufferevent *bev, size_t budget)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 vec[2];
	struct iovec		 iov[2];
	size_t			 want, left;
	ssize_t			 got;
	int			 fd, nvec, i, ready;

	if (budget < 4096 || (fd = bufferevent_getfd(bev)) == -1)
		return;
	if (ioctl(fd, FIONREAD, &ready) == -1 || ready <= 0)
		return;
	want = (size_t)ready;
	if (want > budget)
		want = budget;
	if (want > BULK_STEP_MAX)
		want = BULK_STEP_MAX;
	evbuffer_unfreeze(in, 0);
	if ((nvec = evbuffer_reserve_space(in, (ev_ssize_t)want, vec, 2)) <= 0) {
		evbuffer_freeze(in, 0);
		return;
	}
	left = want;
	for (i = 0; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len < left ? vec[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	do
		got = readv(fd, iov, nvec);
	while (got == -1 && errno == EINTR);
	if (got <= 0) {
		evbuffer_commit_space(in, vec, 0);
		evbuffer_freeze(in, 0);
		return;
	}
	left = (size_t)got;
	for (i = 0; i < nvec && left > 0; i++) {
		vec[i].iov_len = iov[i].iov_len < left ? iov[i].iov_len : left;
		left -= vec[i].iov_len;
	}
	evbuffer_commit_space(in, vec, i);
	evbuffer_freeze(in, 0);
}

/*
 * A bufferevent writes only once the loop reports its socket writable,
 * at the price of adding and removing the write event (two epoll_ctl)
 * for every answer. When no write is pending, the output goes out at
 * once; what the socket does not take is left to the write event, which
 * also reports any error. Only for plain sockets whose owner keeps
 * EV_WRITE disabled while the output is empty.
 */
void
bev_flush(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	int		 fd;

	if (evbuffer_get_length(out) == 0)
		return;
	if ((bufferevent_get_enabled(bev) & EV_WRITE) == 0 &&
	    (fd = bufferevent_getfd(bev)) != -1) {
		evbuffer_unfreeze(out, 1);
		(void)evbuffer_write(out, fd);
		evbuffer_freeze(out, 1);
	}
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(bev, EV_WRITE);
}

/*
 * For the owner's write callback: once the output is empty, the write
 * event goes, and the next bev_flush() writes at once again.
 */
void
bev_written(struct bufferevent *bev)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
}
