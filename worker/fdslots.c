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
 * libevent keeps a small record per descriptor number, made by malloc
 * at the number's first event and kept for the life of the loop. Made
 * one by one as connections arrive, each lands among the memory of its
 * connection and keeps that page from going back to the system when
 * the connection parks or closes: thousands of idle connections held
 * as many pages. Made here ahead of use, they share pages: when the
 * worker starts, for the descriptors it may open (up to
 * FD_SLOTS_AT_START), while malloc takes them from fresh memory (made
 * later, they would fill the holes connections left, one to a page);
 * past that, in blocks. An event added and deleted in one turn of the
 * loop costs no system call (the epoll change list cancels out).
 */

#include <sys/types.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "uxrp.h"
#include "worker.h"

#define FD_SLOTS_BLOCK	1024
#define FD_SLOTS_AT_START 32768	/* 32 bytes each */

static int	 fd_slots_made;		/* numbers below this have one */

static void
fd_slots_nothing(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

/* Makes libevent's records for descriptor numbers up to fd's block. */
void
fd_slots_make(int fd)
{
	struct event	 ev;
	int		 n, end;

	if (fd < fd_slots_made)
		return;
	end = (fd / FD_SLOTS_BLOCK + 1) * FD_SLOTS_BLOCK;
	for (n = fd_slots_made; n < end; n++) {
		if (event_assign(&ev, worker->base, n, EV_READ,
		    fd_slots_nothing, NULL) == -1 || event_add(&ev, NULL) == -1)
			return;
		event_del(&ev);
	}
	fd_slots_made = end;
}

/* At the start: records for every descriptor the limit allows, or many. */
void
fd_slots_init(void)
{
	struct rlimit	 rl;
	rlim_t		 n = FD_SLOTS_AT_START;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = rl.rlim_cur;
	if (n > 0)
		fd_slots_make((int)n - 1);
}
