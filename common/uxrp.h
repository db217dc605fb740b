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
 * What the master and the workers share: the configuration as it is
 * held in memory and sent over the socketpair, the message types of
 * that socketpair, the framing layer and logging.
 */

#ifndef UXRP_H
#define UXRP_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define UXRP_VERSION		"0.1"
#define UXRP_CONF_FILE		"/etc/uxrpd.conf"
#define UXRP_USER		"_uxrp"
#define UXRP_CHROOT		"/var/uxrp"

#define UXRP_SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)
#define UXRP_NAME_MAX		256	/* host names, user names */
#define UXRP_URLPATH_MAX	1024	/* mountpoints, origin paths, css */
#define UXRP_FILE_MAX		1024	/* file system paths */
#define UXRP_WORKERS_MAX	256
#define UXRP_CONTROL_SOCKET	"/var/run/uxrpd.sock"
#define UXRP_CONTROL_USERS_MAX	16

/* Defaults of "timeouts" (seconds) and "limits" (bytes). */
#define UXRP_TMO_CONNECT	5
#define UXRP_TMO_REQHEADER	30
#define UXRP_TMO_ORIGINRESP	60
#define UXRP_TMO_IDLE		75
#define UXRP_TMO_DRAIN		30
#define UXRP_LIM_HEADER		16384
#define UXRP_LIM_URI		8192
#define UXRP_LIM_BODY		0	/* 0: unlimited */

/*
 * Configuration. Every struct is sent to the workers as it is, one
 * message per object, so strings are fixed arrays and the list entries
 * are rebuilt by the receiver.
 */
enum origin_type {
	ORIGIN_UNIX,		/* "+/sock:/path", "unix:/path" */
	ORIGIN_ABSTRACT,	/* "@name", Linux abstract namespace */
	ORIGIN_TCP		/* "host:port", "[v6]:port" */
};

/* "origin_protocol": "https" and its "origin_tls". */
struct origin_tls_conf {
	int			 enabled;
	int			 verify;	/* chain and name, default on */
	char			 server_name[UXRP_NAME_MAX]; /* SNI, checked */
	char			 ca[UXRP_FILE_MAX];	/* PEM, read by master */
};

/* "origin_user"/"origin_group": who must be listening on the socket. */
struct origin_peer {
	int			 uid_set;
	int			 gid_set;
	uid_t			 uid;
	gid_t			 gid;
};

struct origin_conf {
	TAILQ_ENTRY(origin_conf) entry;
	int			 id;		/* index, 0 .. norigins - 1 */
	enum origin_type	 type;
	char			 name[UXRP_FILE_MAX]; /* as written, for logs */
	/* ORIGIN_UNIX: host path; ORIGIN_ABSTRACT: name without '@' */
	char			 path[UXRP_SUN_PATH_MAX];
	/* ORIGIN_UNIX reached by the worker: the path inside the chroot */
	char			 worker_path[UXRP_SUN_PATH_MAX];
	int			 via_master;	/* master connects for the worker */
	struct sockaddr_storage	 addr;		/* ORIGIN_TCP, resolved */
	socklen_t		 addrlen;
	/* Active health check, from the first mount that sets one. */
	char			 check_path[UXRP_URLPATH_MAX];
	int			 check_interval;	/* 0: no check */
	int			 check_timeout;
	struct origin_tls_conf	 tls;
	struct origin_peer	 peer;
	int			 proxy_protocol; /* PROXY v1 or v2 sent, 0: no */
	int			 proxy_protocol_set;
};

#define UXRP_MOUNT_ORIGINS	16

enum balance {
	BALANCE_LEAST,		/* fewest requests outstanding */
	BALANCE_ROUND_ROBIN
};

struct mount_conf {
	TAILQ_ENTRY(mount_conf)	 entry;
	char			 mountpoint[UXRP_URLPATH_MAX];
	size_t			 mountpoint_len;
	char			 origin_path[UXRP_URLPATH_MAX]; /* default "/" */
	size_t			 origin_path_len;
	int			 origin_id;
	int			 vhost_id;
	int			 restart_grace;	/* seconds; 0: fail at once */
	int			 websocket;	/* h1 Upgrade: websocket */
	int			 status;	/* serves metrics, no origin */
	int			 origin_ids[UXRP_MOUNT_ORIGINS]; /* "origins" */
	int			 norigin_ids;	/* origin_ids[0] == origin_id */
	enum balance		 balance;
	unsigned int		 rr_next;	/* a worker's own turn */
};

struct vhost_name {
	TAILQ_ENTRY(vhost_name)	 entry;
	char			 name[UXRP_NAME_MAX]; /* lower case */
	int			 wildcard;	/* "*.example.org" */
	int			 vhost_id;
};

/* A certificate chain and its key, read by the master as root. */
struct tls_files {
	int			 enabled;
	char			 certificate[UXRP_FILE_MAX];
	char			 key[UXRP_FILE_MAX];
};

struct vhost_conf {
	TAILQ_ENTRY(vhost_conf)	 entry;
	int			 id;
	char			 error_css[UXRP_URLPATH_MAX]; /* "/error.css" */
	struct tls_files	 tls;		/* chosen by SNI */
	TAILQ_HEAD(, vhost_name) names;
	TAILQ_HEAD(, mount_conf) mounts;	/* longest mountpoint first */
};

enum listener_type {
	LISTENER_TCP,
	LISTENER_UNIX
};

struct listener_conf {
	TAILQ_ENTRY(listener_conf) entry;
	int			 id;
	enum listener_type	 type;
	char			 name[UXRP_FILE_MAX]; /* "127.0.0.1:8080", path */
	struct sockaddr_storage	 addr;		/* LISTENER_TCP */
	socklen_t		 addrlen;
	char			 path[UXRP_SUN_PATH_MAX]; /* LISTENER_UNIX */
	mode_t			 mode;		/* LISTENER_UNIX, default 0666 */
	int			 fd;		/* bound socket, -1 until then */
	struct tls_files	 tls;		/* the default certificate */
	int			 proxy_protocol;	/* PROXY v1/v2 first */
	int			 backlog;	/* listen(2) queue length */
};

struct timeouts_conf {
	int			 connect;
	int			 request_header;
	int			 origin_response;
	int			 idle;
	int			 drain;
};

struct limits_conf {
	size_t			 header_bytes;
	size_t			 uri_bytes;
	uint64_t		 request_body_bytes;	/* 0: unlimited */
};

struct uxrp_conf {
	char			 file[UXRP_FILE_MAX];
	char			 user[UXRP_NAME_MAX];
	char			 chroot[UXRP_FILE_MAX];	/* "" when null */
	int			 workers;		/* 0: online CPUs */
	char			 access_log[UXRP_FILE_MAX];	/* "" when none */
	char			 control[UXRP_FILE_MAX];	/* "" when none */
	int			 control_set;	/* named in the file */
	int			 ncontrol_users;
	uid_t			 control_uids[UXRP_CONTROL_USERS_MAX];
	struct timeouts_conf	 timeouts;
	struct limits_conf	 limits;
	int			 nlisteners;
	int			 nvhosts;
	int			 norigins;
	TAILQ_HEAD(, listener_conf) listeners;
	TAILQ_HEAD(, vhost_conf) vhosts;
	TAILQ_HEAD(, origin_conf) origins;	/* ordered by id */
};

/* conf.c (master only links the loader; workers receive structs) */
#define CONF_PRIVILEGED	0x01	/* root: chroot applies to origin paths */
#define CONF_NORESOLVE	0x02	/* origin hosts numeric only (fuzzing) */
struct uxrp_conf	*conf_load(const char *, int, FILE *);
struct uxrp_conf	*conf_load_buf(const char *, const char *, size_t, int,
			    FILE *);
struct uxrp_conf	*conf_new(void);
void			 conf_free(struct uxrp_conf *);
void			 conf_report(const struct uxrp_conf *, FILE *);
struct origin_conf	*conf_origin(const struct uxrp_conf *, int);

/*
 * Messages between the master and its workers. Each payload is one of
 * the structs above or below; every receiver checks type, length and
 * sender before use.
 */
enum imsg_type {
	IMSG_NONE,
	/* master -> worker: configuration, in this order */
	IMSG_CONF_GLOBAL,	/* struct uxrp_conf, lists unset */
	IMSG_CONF_ORIGIN,	/* struct origin_conf */
	IMSG_CONF_VHOST,	/* struct vhost_conf */
	IMSG_CONF_VHOST_NAME,	/* struct vhost_name */
	IMSG_CONF_MOUNT,	/* struct mount_conf */
	IMSG_CONF_LISTENER,	/* struct listener_conf, fd: the socket */
	IMSG_CONF_ACCESS_LOG,	/* no payload, fd: the access log */
	IMSG_CONF_PRIV,		/* struct worker_priv */
	IMSG_CONF_END,		/* no payload: start serving */
	/* worker -> master */
	IMSG_WORKER_READY,	/* no payload: sandboxed, accepting */
	IMSG_ORIGIN_CONNECT,	/* struct origin_connect_req */
	IMSG_ORIGIN_HEALTH,	/* struct origin_health */
	IMSG_WORKER_STATS,	/* struct worker_stats, every second */
	IMSG_ORIGIN_STATS,	/* struct origin_stats, every second */
	/* master -> worker */
	IMSG_ORIGIN_CONNECTED,	/* struct origin_connect_res, fd if ok */
	IMSG_SHUTDOWN,		/* no payload: stop accepting, drain, exit */
	IMSG_ORIGIN_STATE,	/* struct origin_health: the master's view */
	IMSG_LOG_VERBOSE,	/* int: the new verbosity */
	IMSG_LOG_REOPEN,	/* no payload, fd: the reopened access log */
	/* control client -> master */
	IMSG_CTL_RELOAD,	/* no payload */
	IMSG_CTL_SHOW,		/* enum ctl_show */
	IMSG_CTL_LOG_VERBOSE,	/* int: 0 brief, 1 verbose */
	IMSG_CTL_LOG_REOPEN,	/* no payload */
	IMSG_CTL_CHECK,		/* no payload: try every origin */
	/* worker <-> master: a status mount's page */
	IMSG_METRICS_REQ,	/* uint32_t request id */
	IMSG_METRICS_RES,	/* uint32_t request id, then the text */
	/* master -> control client */
	IMSG_CTL_DATA,		/* part of a JSON document, text */
	IMSG_CTL_OK,		/* no payload or a note: done */
	IMSG_CTL_FAIL,		/* text: why not (may be sent in parts) */
	IMSG_CTL_END,		/* no payload: the answer is whole */
	/* master -> worker: TLS */
	IMSG_CONF_TLS,		/* struct tls_material, then PEM bytes */
	IMSG_TLS_TICKETS,	/* struct tls_tickets, also when rotated */
	IMSG_MAX
};

enum tls_owner {
	TLS_LISTENER,
	TLS_VHOST,
	TLS_ORIGIN		/* certlen: the CA bundle; no key */
};

struct tls_material {
	enum tls_owner		 owner;
	int			 id;		/* listener or vhost id */
	size_t			 certlen;	/* PEM chain, then the key */
	size_t			 keylen;
};

#define TLS_TICKET_NAME		16
#define TLS_TICKET_KEY		32
struct tls_ticket_key {
	unsigned char		 name[TLS_TICKET_NAME];
	unsigned char		 aes[TLS_TICKET_KEY];
	unsigned char		 hmac[TLS_TICKET_KEY];
};

/* Made by the master, the same in every worker, so resumption works
 * whichever worker a client reaches; [0] encrypts, both decrypt. */
struct tls_tickets {
	struct tls_ticket_key	 keys[2];
};

struct worker_priv {
	int			 worker_id;
	int			 chroot;	/* chroot into conf chroot */
	int			 setuser;	/* drop to uid/gid */
	uid_t			 uid;
	gid_t			 gid;
	int			 debug;
	int			 verbose;
	int			 nworkers;	/* of its generation */
	int			 generation;
};

enum ctl_show {
	CTL_SHOW_SUMMARY,
	CTL_SHOW_ORIGINS,
	CTL_SHOW_WORKERS,
	CTL_SHOW_LISTENERS
};

struct origin_connect_req {
	uint32_t		 reqid;
	int			 origin_id;
};

struct origin_connect_res {
	uint32_t		 reqid;
	int			 origin_id;
	int			 error;		/* errno of connect, 0: fd attached */
};

enum origin_state {
	ORIGIN_STATE_UNKNOWN,
	ORIGIN_STATE_UP,
	ORIGIN_STATE_DOWN
};

struct worker_stats {
	int			 worker_id;
	int			 connections;	/* open client connections */
	int			 idle;		/* of which parked idle */
	uint64_t		 requests;	/* answered, all statuses */
	uint64_t		 errors;	/* 5xx and aborted exchanges */
};

struct origin_stats {
	int			 origin_id;
	int			 inflight;	/* exchanges using it now */
	int			 idle;		/* pooled idle connections */
	uint64_t		 requests;
	uint64_t		 failures;	/* connect, invalid, timeout */
};

struct origin_health {
	int			 origin_id;
	enum origin_state	 state;
	char			 cause[128];
};

/*
 * imsg.c: framing. A message is a fixed header and a payload of at
 * most IMSG_MAX_PAYLOAD bytes; one fd may travel with it.
 */
#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_PAYLOAD	(64 * 1024)	/* a certificate chain fits */
#define IMSG_FLAG_FD		0x1

struct imsg_hdr {
	uint32_t		 type;
	uint32_t		 len;	/* payload only */
	uint32_t		 peerid;
	uint32_t		 pid;
	uint32_t		 flags;
};

struct imsg {
	struct imsg_hdr		 hdr;
	int			 fd;	/* -1 when none; owned by the receiver */
	void			*data;	/* hdr.len bytes */
};

struct imsg_out {
	TAILQ_ENTRY(imsg_out)	 entry;
	int			 fd;
	size_t			 len;
	size_t			 off;
	unsigned char		*buf;
};

#define IMSG_RBUF_SIZE		(IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD)
#define IMSG_MAX_FDS_QUEUED	64

struct imsgbuf {
	int			 fd;
	pid_t			 pid;
	unsigned char		 rbuf[2 * IMSG_RBUF_SIZE];
	size_t			 rlen;
	int			 fds[IMSG_MAX_FDS_QUEUED];
	int			 nfds;
	TAILQ_HEAD(, imsg_out)	 wq;
	size_t			 wqlen;
};

void	 imsg_init(struct imsgbuf *, int);
ssize_t	 imsg_read(struct imsgbuf *);
int	 imsg_get(struct imsgbuf *, struct imsg *);
void	 imsg_free(struct imsg *);
int	 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, int,
	    const void *, size_t);
int	 imsg_flush(struct imsgbuf *);
int	 imsg_pending(const struct imsgbuf *);
void	 imsg_clear(struct imsgbuf *);

/*
 * The same buffer driven by a libevent event: reads dispatch through
 * the handler, writes flush when the socket is writable.
 */
struct event_base;
struct imsgev {
	struct imsgbuf		 ibuf;
	struct event		*rev;
	struct event		*wev;
	void			(*handler)(struct imsgev *, struct imsg *);
	void			(*closed)(struct imsgev *);
	void			*arg;
};

int	 imsgev_init(struct imsgev *, struct event_base *, int,
	    void (*)(struct imsgev *, struct imsg *),
	    void (*)(struct imsgev *), void *);
int	 imsgev_compose(struct imsgev *, uint32_t, uint32_t, int,
	    const void *, size_t);
void	 imsgev_close(struct imsgev *);
int	 imsgev_flush_blocking(struct imsgev *);

/* log.c */
void	 log_init(int, int);	/* debug: stderr; verbose level */
void	 log_procname(const char *);
void	 log_setverbose(int);
int	 log_getverbose(void);
void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__))
void	 fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__))
void	 fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

/* util.c */
int	 sockaddr_fmt(const struct sockaddr *, socklen_t, char *, size_t);
int	 fd_nonblock(int);
int	 fd_cloexec(int, int);
int	 fd_shortage(int);

#endif /* UXRP_H */
