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

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "uxrp.h"

struct master {
	struct uxrp_conf	*conf;		/* of the serving generation */
	struct event_base	*base;
	const char		*self;		/* executable, for re-exec */
	const char		*conf_file;
	int			 debug;
	int			 verbose;
	int			 privileged;
	int			 shutting_down;
	time_t			 started;
	int			 reloads;	/* that took */
	uint64_t		 retired_requests;	/* of workers gone */
	uint64_t		 retired_errors;
};

extern struct master	*master;

/* main.c */
int	 master_reload(uint32_t, FILE *);
int	 master_open_access_log(const char *);
int	 master_nworkers(const struct uxrp_conf *);
void	 master_conf_fixup(struct uxrp_conf *);

/* listener.c */
int	 unix_socket_stale(const char *, const char *);
int	 listener_bind_all(struct uxrp_conf *);
void	 listener_close_all(struct uxrp_conf *, int);
int	 listener_adopt(struct uxrp_conf *, struct uxrp_conf *, FILE *);
void	 listener_retire(struct uxrp_conf *, const struct uxrp_conf *);

/* proc.c */
void	 proc_init(uid_t, gid_t, int, int);
void	 proc_start_workers(void);
void	 proc_shutdown(void);
void	 proc_reap(void);
int	 proc_reloading(void);
void	 proc_reload(struct uxrp_conf *, uid_t, gid_t, int, int, uint32_t);
void	 proc_broadcast(enum imsg_type, const void *, size_t);
void	 proc_broadcast_health(const char *, const struct origin_health *);
int	 proc_reopen_logs(FILE *);
int	 proc_generation(void);
void	 proc_worker_ids(uid_t *, gid_t *);
void	 proc_stats(struct worker_stats *, int *, int *);
int	 proc_origin_stats(int, struct origin_stats *);
json_t	*proc_show_workers(void);

/* health.c */
const char *health_state_name(enum origin_state);
void	 health_init(const struct uxrp_conf *);
void	 health_switch(const struct uxrp_conf *);
void	 health_report(const struct uxrp_conf *, int,
	    const struct origin_health *);
int	 health_get(const char *, struct origin_health *, time_t *);
void	 health_connect_origin(const struct uxrp_conf *, struct imsgev *,
	    const struct imsg *);

/* tls.c */
int	 tls_send_config(struct imsgbuf *, const struct uxrp_conf *);
void	 tls_init(struct event_base *);

/* metrics.c */
size_t	 metrics_build(char *, size_t);

/* ctl_check.c */
int	 ctl_check(const struct uxrp_conf *, uid_t, gid_t, char *, size_t);

/* control.c */
int	 control_init(const char *);
int	 control_listen(struct event_base *);
void	 control_cleanup(void);
void	 control_reply(uint32_t, int, const char *);

#endif /* MASTER_H */
