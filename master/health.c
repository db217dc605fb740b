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
 * Origin health as the master sees it: the workers report what their
 * connections find, the master logs each transition once. It also
 * connects, on a worker's behalf, to origin sockets that lie outside
 * the worker's chroot; the worker names the origin by its index only.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "uxrp.h"
#include "master.h"

static const char *
health_state_name(enum origin_state state)
{
	switch (state) {
	case ORIGIN_STATE_UP:
		return ("up");
	case ORIGIN_STATE_DOWN:
		return ("down");
	default:
		return ("unknown");
	}
}

void
health_init(void)
{
	int	 n = master->conf->norigins;

	master->origin_state = calloc(n > 0 ? n : 1,
	    sizeof(*master->origin_state));
	if (master->origin_state == NULL)
		fatal("%s", __func__);
}

void
health_report(int worker_id, const struct origin_health *h)
{
	struct origin_conf	*o;
	char			 cause[sizeof(h->cause)];

	if ((o = conf_origin(master->conf, h->origin_id)) == NULL ||
	    (h->state != ORIGIN_STATE_UP && h->state != ORIGIN_STATE_DOWN)) {
		log_warnx("worker %d: bad origin health report", worker_id);
		return;
	}
	if (master->origin_state[o->id] == h->state)
		return;
	master->origin_state[o->id] = h->state;
	memcpy(cause, h->cause, sizeof(cause));
	cause[sizeof(cause) - 1] = '\0';
	if (h->state == ORIGIN_STATE_DOWN)
		log_warnx("origin %d %s: %s (%s)", o->id, o->name,
		    health_state_name(h->state), cause);
	else
		log_info("origin %d %s: %s", o->id, o->name,
		    health_state_name(h->state));
}

void
health_connect_origin(struct imsgev *iev, const struct imsg *imsg)
{
	struct origin_connect_req	 req;
	struct origin_connect_res	 res;
	struct origin_conf		*o;
	struct sockaddr_un		 sun;
	int				 fd = -1;

	if (imsg->hdr.len != sizeof(req)) {
		log_warnx("%s: bad length %u", __func__, imsg->hdr.len);
		return;
	}
	memcpy(&req, imsg->data, sizeof(req));
	memset(&res, 0, sizeof(res));
	res.reqid = req.reqid;
	res.origin_id = req.origin_id;

	/* Only what the configuration names, and only when needed. */
	o = conf_origin(master->conf, req.origin_id);
	if (o == NULL || o->type != ORIGIN_UNIX || !o->via_master) {
		log_warnx("%s: refused origin %d", __func__, req.origin_id);
		res.error = EPERM;
		goto reply;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, o->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		res.error = ENAMETOOLONG;
		goto reply;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		res.error = errno;
		goto reply;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    errno != EINPROGRESS) {
		res.error = errno;
		close(fd);
		fd = -1;
	}
 reply:
	if (imsgev_compose(iev, IMSG_ORIGIN_CONNECTED, 0, fd, &res,
	    sizeof(res)) == -1)
		log_warn("%s: compose", __func__);
}
