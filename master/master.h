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

/* The master process: configuration, listeners and its workers. */

#ifndef MASTER_H
#define MASTER_H

#include "uxrp.h"

struct master {
	struct uxrp_conf	*conf;
	struct event_base	*base;
	const char		*self;		/* executable, for re-exec */
	int			 debug;
	int			 verbose;
	int			 privileged;
	uid_t			 uid;
	gid_t			 gid;
	int			 nworkers;
	int			 access_log_fd;	/* -1 when none */
	int			 shutting_down;
	enum origin_state	*origin_state;	/* one per origin */
};

extern struct master	*master;

/* listener.c */
int	 listener_bind_all(struct uxrp_conf *);
void	 listener_close_all(struct uxrp_conf *, int);

/* proc.c */
void	 proc_init(void);
void	 proc_start_workers(void);
void	 proc_shutdown(void);
void	 proc_reap(void);

/* health.c */
void	 health_init(void);
void	 health_report(int, const struct origin_health *);
void	 health_connect_origin(struct imsgev *, const struct imsg *);

#endif /* MASTER_H */
