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
 * connections and checks find, the master keeps one state per origin,
 * logs each transition once and tells every worker, so that all of
 * them fail fast on an origin known to be down. Origins are known by
 * their name as written, which outlives a reload; ids do not.
 *
 * It also connects, on a worker's behalf, to origin sockets that lie
 * outside the worker's chroot; the worker names the origin by its
 * index only.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "uxrp.h"
#include "master.h"

struct health {
	TAILQ_ENTRY(health)	 entry;
	char			 name[UXRP_FILE_MAX];
	enum origin_state	 state;
	time_t			 since;		/* of the state, 0: never */
	char			 cause[128];	/* of the last down */
};

static TAILQ_HEAD(, health)	 healths = TAILQ_HEAD_INITIALIZER(healths);

const char *
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

static struct health *
health_find(const char *name)
{
	struct health	*hs;

	TAILQ_FOREACH(hs, &healths, entry)
		if (strcmp(hs->name, name) == 0)
			return (hs);
	return (NULL);
}

static struct health *
health_add(const char *name)
{
	struct health	*hs;

	if ((hs = health_find(name)) != NULL)
		return (hs);
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		fatal("%s", __func__);
	(void)strlcpy(hs->name, name, sizeof(hs->name));
	hs->state = ORIGIN_STATE_UNKNOWN;
	hs->since = time(NULL);
	TAILQ_INSERT_TAIL(&healths, hs, entry);
	return (hs);
}

void
health_init(const struct uxrp_conf *conf)
{
	struct origin_conf	*o;

	TAILQ_FOREACH(o, &conf->origins, entry)
		(void)health_add(o->name);
}

/* After a reload: origins that stay keep their state, the rest go. */
void
health_switch(const struct uxrp_conf *conf)
{
	struct health		*hs, *next;
	struct origin_conf	*o;

	health_init(conf);
	TAILQ_FOREACH_SAFE(hs, &healths, entry, next) {
		TAILQ_FOREACH(o, &conf->origins, entry)
			if (strcmp(o->name, hs->name) == 0)
				break;
		if (o == NULL) {
			TAILQ_REMOVE(&healths, hs, entry);
			free(hs);
		}
	}
}

/* The state of the origin named name; since when, if asked. */
int
health_get(const char *name, struct origin_health *h, time_t *since)
{
	struct health	*hs;

	memset(h, 0, sizeof(*h));
	if ((hs = health_find(name)) == NULL)
		return (-1);
	h->state = hs->state;
	(void)strlcpy(h->cause, hs->cause, sizeof(h->cause));
	if (since != NULL)
		*since = hs->since;
	return (0);
}

void
health_report(const struct uxrp_conf *conf, int worker_id,
    const struct origin_health *h)
{
	struct origin_conf	*o;
	struct origin_health	 bh;
	struct health		*hs;
	char			 cause[sizeof(h->cause)];

	if ((o = conf_origin(conf, h->origin_id)) == NULL ||
	    (h->state != ORIGIN_STATE_UP && h->state != ORIGIN_STATE_DOWN)) {
		log_warnx("worker %d: bad origin health report", worker_id);
		return;
	}
	hs = health_add(o->name);
	if (hs->state == h->state)
		return;
	memcpy(cause, h->cause, sizeof(cause));
	cause[sizeof(cause) - 1] = '\0';
	hs->state = h->state;
	hs->since = time(NULL);
	if (h->state == ORIGIN_STATE_DOWN) {
		(void)strlcpy(hs->cause, cause, sizeof(hs->cause));
		log_warnx("origin %d %s: %s (%s)", o->id, o->name,
		    health_state_name(h->state), cause);
	} else if (cause[0] != '\0')
		log_info("origin %d %s: %s (%s)", o->id, o->name,
		    health_state_name(h->state), cause);
	else
		log_info("origin %d %s: %s", o->id, o->name,
		    health_state_name(h->state));
	memset(&bh, 0, sizeof(bh));
	bh.state = hs->state;
	(void)strlcpy(bh.cause, hs->cause, sizeof(bh.cause));
	proc_broadcast_health(o->name, &bh);
}

void
health_connect_origin(const struct uxrp_conf *conf, struct imsgev *iev,
    const struct imsg *imsg)
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
	o = conf_origin(conf, req.origin_id);
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
