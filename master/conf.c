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
 * The configuration loader (master process, as root before anything is
 * bound): reads uxrpd.conf, checks every key against the schema of
 * uxrpd.conf(5) and builds the struct uxrp_conf that the master keeps
 * and sends to its workers. Every problem is reported, not only the
 * first; a configuration with any error is not returned at all.
 * conf_new() and conf_free() are also what a worker uses to rebuild
 * the configuration it receives.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "uxrp.h"
#include "conf.h"

#define CONF_FILE_MAXSIZE	(16 * 1024 * 1024)
#define CONF_TIMEOUT_MAX	86400
#define CONF_HEADER_MIN		1024
#define CONF_HEADER_MAX		(1024 * 1024)
#define CONF_URI_MIN		64
#define CONF_BACKLOG_DEFAULT	511
#define CONF_BACKLOG_MAX	65535
#define CONF_HOSTNAME_MAX	253
#define CONF_LABEL_MAX		63
#define CONF_ABSTRACT_MAX	(UXRP_SUN_PATH_MAX - 2)

#define CONF_ORIGIN_FORMS \
	"expected \"+/socket:/path\", \"unix:/path\", \"@name\" or " \
	"\"host:port\""

static const char *const conf_keys_top[] = {
	"user", "chroot", "workers", "access_log", "listen", "timeouts",
	"limits", "vhosts", "control", "control_users", NULL
};
static const char *const conf_keys_listen[] = {
	"address", "port", "path", "mode", "tls", "proxy_protocol",
	"backlog", NULL
};
static const char *const conf_keys_timeouts[] = {
	"connect", "request_header", "origin_response", "idle", "drain", NULL
};
static const char *const conf_keys_limits[] = {
	"header_bytes", "uri_bytes", "request_body_bytes", NULL
};
static const char *const conf_keys_vhost[] = {
	"names", "error_css", "mounts", "tls", NULL
};
static const char *const conf_keys_mount[] = {
	"mountpoint", "origin", "origin_path", "check", "origin_protocol",
	"origin_tls", "origin_user", "origin_group", "restart_grace",
	"websocket", "origins", "balance", "status", "origin_proxy_protocol",
	NULL
};
static const char *const conf_keys_origin_tls[] = {
	"ca", "server_name", "verify", NULL
};
static const char *const conf_keys_tls[] = {
	"certificate", "key", NULL
};
static const char *const conf_keys_check[] = {
	"path", "interval", "timeout", NULL
};

static int	 conf_urlpath(struct conf_ctx *, const char *, const char *,
		    const char *, char *, size_t *);
static int	 conf_hostname_ok(const char *);
static void	 conf_parse_top(struct conf_ctx *, json_t *);
static void	 conf_parse_user(struct conf_ctx *, json_t *);
static void	 conf_parse_chroot(struct conf_ctx *, json_t *);
static void	 conf_parse_access_log(struct conf_ctx *, json_t *);
static void	 conf_parse_listener(struct conf_ctx *, json_t *, size_t);
static int	 conf_listen_tcp(struct conf_ctx *, json_t *, const char *,
		    struct listener_conf *);
static int	 conf_listen_unix(struct conf_ctx *, json_t *, const char *,
		    struct listener_conf *);
static int	 conf_mode(struct conf_ctx *, json_t *, const char *,
		    mode_t *);
static void	 conf_parse_timeouts(struct conf_ctx *, json_t *);
static void	 conf_parse_limits(struct conf_ctx *, json_t *);
static void	 conf_parse_vhost(struct conf_ctx *, json_t *, size_t);
static void	 conf_parse_name(struct conf_ctx *, struct vhost_conf *,
		    json_t *, const char *);
static void	 conf_parse_mount(struct conf_ctx *, struct vhost_conf *,
		    json_t *, json_t *, const char *, size_t);
static int	 conf_mountpoint_dup(json_t *, size_t, const char *);
static int	 conf_parse_origin_tls(struct conf_ctx *, json_t *,
		    const char *, struct origin_tls_conf *);
static void	 conf_report_origin(const struct origin_conf *, FILE *);
static int	 conf_parse_origin(struct conf_ctx *, const char *,
		    const char *, struct mount_conf *, int *,
		    const struct origin_tls_conf *, const struct origin_peer *);
static int	 conf_parse_origin_peer(struct conf_ctx *, json_t *,
		    const char *, struct origin_peer *);
static int	 conf_parse_origins(struct conf_ctx *, json_t *,
		    const char *, struct mount_conf *,
		    struct origin_tls_conf *, struct origin_peer *);
static int	 conf_origin_unix(struct conf_ctx *, const char *,
		    const char *, size_t, struct origin_conf *);
static int	 conf_origin_abstract(struct conf_ctx *, const char *,
		    const char *, struct origin_conf *);
static int	 conf_origin_tcp(struct conf_ctx *, const char *,
		    const char *, struct origin_conf *);
static int	 conf_origin_same(const struct origin_conf *,
		    const struct origin_conf *);
static int	 conf_origin_add(struct conf_ctx *, const char *,
		    struct origin_conf *);
static void	 conf_origin_where(struct conf_ctx *, struct origin_conf *);
static void	 conf_mount_insert(struct vhost_conf *, struct mount_conf *);
static void	 conf_parse_control(struct conf_ctx *, json_t *);
static void	 conf_parse_tls(struct conf_ctx *, json_t *, const char *,
		    struct tls_files *);
static int	 conf_parse_check(struct conf_ctx *, json_t *, const char *,
		    int);

struct uxrp_conf *
conf_new(void)
{
	struct uxrp_conf	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return (NULL);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->vhosts);
	TAILQ_INIT(&conf->origins);
	(void)strlcpy(conf->user, UXRP_USER, sizeof(conf->user));
	(void)strlcpy(conf->chroot, UXRP_CHROOT, sizeof(conf->chroot));
	(void)strlcpy(conf->control, UXRP_CONTROL_SOCKET,
	    sizeof(conf->control));
	conf->timeouts.connect = UXRP_TMO_CONNECT;
	conf->timeouts.request_header = UXRP_TMO_REQHEADER;
	conf->timeouts.origin_response = UXRP_TMO_ORIGINRESP;
	conf->timeouts.idle = UXRP_TMO_IDLE;
	conf->timeouts.drain = UXRP_TMO_DRAIN;
	conf->limits.header_bytes = UXRP_LIM_HEADER;
	conf->limits.uri_bytes = UXRP_LIM_URI;
	conf->limits.request_body_bytes = UXRP_LIM_BODY;
	return (conf);
}

void
conf_free(struct uxrp_conf *conf)
{
	struct listener_conf	*l;
	struct vhost_conf	*vh;
	struct vhost_name	*vn;
	struct mount_conf	*m;
	struct origin_conf	*o;

	if (conf == NULL)
		return;
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((vh = TAILQ_FIRST(&conf->vhosts)) != NULL) {
		TAILQ_REMOVE(&conf->vhosts, vh, entry);
		while ((vn = TAILQ_FIRST(&vh->names)) != NULL) {
			TAILQ_REMOVE(&vh->names, vn, entry);
			free(vn);
		}
		while ((m = TAILQ_FIRST(&vh->mounts)) != NULL) {
			TAILQ_REMOVE(&vh->mounts, m, entry);
			free(m);
		}
		free(vh);
	}
	while ((o = TAILQ_FIRST(&conf->origins)) != NULL) {
		TAILQ_REMOVE(&conf->origins, o, entry);
		free(o);
	}
	free(conf);
}

struct origin_conf *
conf_origin(const struct uxrp_conf *conf, int id)
{
	struct origin_conf	*o;

	TAILQ_FOREACH(o, &conf->origins, entry)
		if (o->id == id)
			return (o);
	return (NULL);
}

struct uxrp_conf *
conf_load(const char *path, int flags, FILE *diag)
{
	struct uxrp_conf	*conf;
	char			*buf = NULL, *p;
	size_t			 len = 0, cap = 0;
	ssize_t			 n;
	int			 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	for (;;) {
		if (len == cap) {
			if (cap >= CONF_FILE_MAXSIZE) {
				close(fd);
				free(buf);
				if (diag != NULL)
					fprintf(diag, "%s: larger than %d "
					    "bytes\n", path, CONF_FILE_MAXSIZE);
				return (NULL);
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL) {
				saved = errno;
				close(fd);
				errno = saved;
				goto fail;
			}
			buf = p;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	conf = conf_load_buf(path, buf != NULL ? buf : "", len, flags, diag);
	free(buf);
	return (conf);

 fail:
	saved = errno;
	free(buf);
	if (diag != NULL)
		fprintf(diag, "%s: %s\n", path, strerror(saved));
	return (NULL);
}

struct uxrp_conf *
conf_load_buf(const char *name, const char *buf, size_t len, int flags,
    FILE *diag)
{
	struct conf_ctx	 ctx;
	json_t		*root;
	json_error_t	 jerr;
	int		 nerrors;

	memset(&ctx, 0, sizeof(ctx));
	ctx.flags = flags;
	if ((ctx.conf = conf_new()) == NULL ||
	    (ctx.diag = conf_diag_new(name, buf, len)) == NULL) {
		conf_free(ctx.conf);
		if (diag != NULL)
			fprintf(diag, "%s: %s\n", name, strerror(ENOMEM));
		return (NULL);
	}
	if (strlcpy(ctx.conf->file, name, sizeof(ctx.conf->file)) >=
	    sizeof(ctx.conf->file)) {
		if (diag != NULL)
			fprintf(diag, "%s: file name too long\n", name);
		conf_diag_free(ctx.diag);
		conf_free(ctx.conf);
		return (NULL);
	}

	/* NUL in strings stays rejected: every string is a C string. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (root == NULL) {
		conf_diag_syntax(ctx.diag, &jerr);
	} else {
		(void)conf_diag_scan(ctx.diag);
		conf_parse_top(&ctx, root);
		json_decref(root);
	}

	conf_diag_flush(ctx.diag, diag);
	nerrors = conf_diag_errors(ctx.diag);
	conf_diag_free(ctx.diag);
	if (nerrors > 0) {
		conf_free(ctx.conf);
		return (NULL);
	}
	return (ctx.conf);
}

/*
 * A path of the URL space: a mountpoint or an origin path. Workers
 * compare mountpoints byte for byte with the raw request target, so
 * what could be written two ways ('%', '\') or ends a path ('?', '#')
 * is refused, and so are dot segments, which no request may hold.
 */
static int
conf_urlpath(struct conf_ctx *ctx, const char *path, const char *what,
    const char *s, char *dst, size_t *lenp)
{
	const char	*p;
	unsigned char	 c;
	size_t		 n;

	if (s[0] != '/') {
		conf_err(ctx, path, "%smust start with '/'", what);
		return (-1);
	}
	for (p = s; *p != '\0'; p++) {
		c = *p;
		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' ||
		    c == '%' || c == '\\') {
			conf_err(ctx, path, "%smust be printable ASCII without "
			    "space, '?', '#', '%%' or '\\'", what);
			return (-1);
		}
	}
	n = p - s;
	if (conf_dotsegment(s, n)) {
		conf_err(ctx, path, "%smust not contain a . or .. segment",
		    what);
		return (-1);
	}
	if (n >= UXRP_URLPATH_MAX) {
		conf_err(ctx, path, "%stoo long (max %d bytes)", what,
		    UXRP_URLPATH_MAX - 1);
		return (-1);
	}
	memcpy(dst, s, n + 1);
	*lenp = n;
	return (0);
}

/* Labels of 1 to 63 letters, digits and '-'; s is in lower case. */
static int
conf_hostname_ok(const char *s)
{
	size_t	 label = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return (0);
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-'))
			return (0);
		if (++label > CONF_LABEL_MAX)
			return (0);
	}
	return (label > 0);
}

static void
conf_parse_top(struct conf_ctx *ctx, json_t *root)
{
	json_t		*a, *v;
	json_int_t	 n;
	size_t		 i;

	if (!json_is_object(root)) {
		conf_err(ctx, "", "expected an object");
		return;
	}
	conf_keys(ctx, root, "", conf_keys_top);

	/* The chroot first: origins are placed relative to it. */
	conf_parse_user(ctx, root);
	conf_parse_chroot(ctx, root);
	if (conf_int(ctx, root, "", "workers", 1, UXRP_WORKERS_MAX, &n) == 1)
		ctx->conf->workers = n;
	conf_parse_access_log(ctx, root);
	if ((a = conf_array(ctx, root, "", "listen", 1)) != NULL)
		json_array_foreach(a, i, v)
			conf_parse_listener(ctx, v, i);
	conf_parse_timeouts(ctx, root);
	conf_parse_limits(ctx, root);
	conf_parse_control(ctx, root);
	if ((a = conf_array(ctx, root, "", "vhosts", 1)) != NULL)
		json_array_foreach(a, i, v)
			conf_parse_vhost(ctx, v, i);
}

static void
conf_parse_user(struct conf_ctx *ctx, json_t *root)
{
	struct uxrp_conf	*conf = ctx->conf;
	json_t			*v;
	const char		*s;
	int			 ok = 1;

	if ((v = json_object_get(root, "user")) != NULL) {
		ok = 0;
		if (!json_is_string(v))
			conf_err(ctx, "user", "expected a string");
		else if (*(s = json_string_value(v)) == '\0')
			conf_err(ctx, "user", "must not be empty");
		else if (strlcpy(conf->user, s, sizeof(conf->user)) >=
		    sizeof(conf->user))
			conf_err(ctx, "user", "too long (max %zu bytes)",
			    sizeof(conf->user) - 1);
		else if (strpbrk(s, ":/ ") != NULL ||
		    conf_controls(s, strlen(s)))
			conf_err(ctx, "user", "not a valid user name");
		else
			ok = 1;
	}
	if (ok && (ctx->flags & CONF_PRIVILEGED) &&
	    getpwnam(conf->user) == NULL)
		conf_err(ctx, "user", "no such user \"%s\"", conf->user);
}

static void
conf_parse_chroot(struct conf_ctx *ctx, json_t *root)
{
	struct uxrp_conf	*conf = ctx->conf;
	struct stat		 st;
	json_t			*v;
	const char		*s;

	if ((v = json_object_get(root, "chroot")) != NULL) {
		if (json_is_null(v)) {
			conf->chroot[0] = '\0';
			return;
		}
		if (!json_is_string(v)) {
			conf_err(ctx, "chroot", "expected a string or null");
			return;
		}
		s = json_string_value(v);
		if (conf_abspath(ctx, "chroot", s, conf->chroot,
		    sizeof(conf->chroot)) == -1)
			return;
		if (conf_dotsegment(s, strlen(s))) {
			conf_err(ctx, "chroot",
			    "must not contain a . or .. segment");
			return;
		}
	}
	if ((ctx->flags & CONF_PRIVILEGED) == 0)
		return;
	if (stat(conf->chroot, &st) == -1)
		conf_err(ctx, "chroot", "%s: %s", conf->chroot,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		conf_err(ctx, "chroot", "%s: not a directory", conf->chroot);
}

static void
conf_parse_access_log(struct conf_ctx *ctx, json_t *root)
{
	struct uxrp_conf	*conf = ctx->conf;
	json_t			*v;

	if ((v = json_object_get(root, "access_log")) == NULL ||
	    json_is_null(v))
		return;
	if (!json_is_string(v)) {
		conf_err(ctx, "access_log", "expected a string or null");
		return;
	}
	(void)conf_abspath(ctx, "access_log", json_string_value(v),
	    conf->access_log, sizeof(conf->access_log));
}

static void
conf_parse_listener(struct conf_ctx *ctx, json_t *o, size_t idx)
{
	struct uxrp_conf	*conf = ctx->conf;
	struct listener_conf	*l, *ol;
	char			 path[CONF_PATH_MAX], kpath[CONF_PATH_MAX];
	json_t			*v;
	json_int_t		 n;
	int			 rc, tcp, unix;

	conf_pathidx(path, "listen", idx);
	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return;
	}
	conf_keys(ctx, o, path, conf_keys_listen);
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		conf_err(ctx, path, "%s", strerror(errno));
		return;
	}
	l->id = (int)idx;
	l->fd = -1;
	l->mode = 0666;
	l->backlog = CONF_BACKLOG_DEFAULT;

	tcp = json_object_get(o, "address") != NULL;
	unix = json_object_get(o, "path") != NULL;
	if (tcp && unix) {
		conf_err(ctx, path, "both address and path given");
		rc = -1;
	} else if (tcp)
		rc = conf_listen_tcp(ctx, o, path, l);
	else if (unix)
		rc = conf_listen_unix(ctx, o, path, l);
	else {
		conf_err(ctx, path, "address or path required");
		rc = -1;
	}
	conf_parse_tls(ctx, o, path, &l->tls);
	if ((v = json_object_get(o, "proxy_protocol")) != NULL) {
		conf_path(kpath, path, "proxy_protocol");
		if (!json_is_boolean(v))
			conf_err(ctx, kpath, "expected true or false");
		else
			l->proxy_protocol = json_is_true(v);
	}
	if (conf_int(ctx, o, path, "backlog", 1, CONF_BACKLOG_MAX, &n) == 1)
		l->backlog = (int)n;
	if (rc == 0) {
		TAILQ_FOREACH(ol, &conf->listeners, entry) {
			if (ol->type == l->type &&
			    strcmp(ol->name, l->name) == 0) {
				conf_err(ctx, path, "duplicate listener %s "
				    "(listen[%d])", l->name, ol->id);
				rc = -1;
				break;
			}
		}
	}
	if (rc == -1) {
		free(l);
		return;
	}
	TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	conf->nlisteners++;
}

static int
conf_listen_tcp(struct conf_ctx *ctx, json_t *o, const char *path,
    struct listener_conf *l)
{
	struct addrinfo	 hints, *res;
	char		 apath[CONF_PATH_MAX], kpath[CONF_PATH_MAX];
	char		 port[16];
	unsigned char	 abuf[sizeof(struct in6_addr)];
	json_t		*v;
	const char	*s;
	json_int_t	 n = 0;
	int		 rc = 0, prc;

	l->type = LISTENER_TCP;
	if ((prc = conf_int(ctx, o, path, "port", 1, 65535, &n)) == 0)
		conf_missing(ctx, path, "port");
	if (prc != 1)
		rc = -1;
	if (json_object_get(o, "mode") != NULL) {
		conf_path(kpath, path, "mode");
		conf_err(ctx, kpath, "only for a path listener");
		rc = -1;
	}

	conf_path(apath, path, "address");
	v = json_object_get(o, "address");
	if (!json_is_string(v)) {
		conf_err(ctx, apath, "expected a string");
		return (-1);
	}
	/*
	 * getaddrinfo also takes "1.2.3" and octal parts: only the usual
	 * forms go on, and a scoped IPv6 one, left to getaddrinfo to judge.
	 */
	s = json_string_value(v);
	if (inet_pton(AF_INET, s, abuf) != 1 &&
	    inet_pton(AF_INET6, s, abuf) != 1 && strchr(s, '%') == NULL) {
		conf_err(ctx, apath, "not a numeric IPv4 or IPv6 address");
		return (-1);
	}
	prc = snprintf(port, sizeof(port), "%lld", (long long)n);
	if (prc < 0 || (size_t)prc >= sizeof(port))
		return (-1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(s, port, &hints, &res) != 0) {
		conf_err(ctx, apath, "not a numeric IPv4 or IPv6 address");
		return (-1);
	}
	if (res->ai_addrlen > sizeof(l->addr)) {
		freeaddrinfo(res);
		conf_err(ctx, apath, "address too long");
		return (-1);
	}
	memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
	l->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (rc == -1)
		return (-1);
	if (sockaddr_fmt((struct sockaddr *)&l->addr, l->addrlen, l->name,
	    sizeof(l->name)) == -1) {
		conf_err(ctx, apath, "address cannot be printed");
		return (-1);
	}
	return (0);
}

static int
conf_listen_unix(struct conf_ctx *ctx, json_t *o, const char *path,
    struct listener_conf *l)
{
	char		 ppath[CONF_PATH_MAX], kpath[CONF_PATH_MAX];
	json_t		*v;
	const char	*s;
	int		 rc = 0;

	l->type = LISTENER_UNIX;
	if (json_object_get(o, "port") != NULL) {
		conf_path(kpath, path, "port");
		conf_err(ctx, kpath, "only for an address listener");
		rc = -1;
	}
	if (conf_mode(ctx, o, path, &l->mode) == -1)
		rc = -1;

	conf_path(ppath, path, "path");
	v = json_object_get(o, "path");
	if (!json_is_string(v)) {
		conf_err(ctx, ppath, "expected a string");
		return (-1);
	}
	s = json_string_value(v);
	if (s[0] != '/') {
		conf_err(ctx, ppath, "must be an absolute path");
		return (-1);
	}
	if (strlen(s) >= sizeof(l->path)) {
		conf_err(ctx, ppath, "socket path too long (max %zu bytes)",
		    sizeof(l->path) - 1);
		return (-1);
	}
	if (conf_controls(s, strlen(s))) {
		conf_err(ctx, ppath, "must not contain control characters");
		return (-1);
	}
	/* Both fit: path is the shorter array. */
	(void)strlcpy(l->path, s, sizeof(l->path));
	(void)strlcpy(l->name, s, sizeof(l->name));
	return (rc);
}

/* "mode": 3 or 4 octal digits in a string, as chmod(1) takes them. */
static int
conf_mode(struct conf_ctx *ctx, json_t *o, const char *parent,
    mode_t *mode)
{
	char		 path[CONF_PATH_MAX];
	json_t		*v;
	const char	*s;
	size_t		 i, n;
	mode_t		 m = 0;

	if ((v = json_object_get(o, "mode")) == NULL)
		return (0);
	conf_path(path, parent, "mode");
	if (!json_is_string(v)) {
		conf_err(ctx, path, "expected a string, like \"0660\"");
		return (-1);
	}
	s = json_string_value(v);
	n = strlen(s);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			break;
		m = m * 8 + (s[i] - '0');
	}
	if (n < 3 || n > 4 || i != n) {
		conf_err(ctx, path, "expected 3 or 4 octal digits, like "
		    "\"0660\"");
		return (-1);
	}
	if (m > 0777) {
		conf_err(ctx, path, "out of range (max 0777)");
		return (-1);
	}
	*mode = m;
	return (0);
}

static void
conf_parse_timeouts(struct conf_ctx *ctx, json_t *root)
{
	struct timeouts_conf	*t = &ctx->conf->timeouts;
	const struct {
		const char	*key;
		int		*val;
	} keys[] = {
		{ "connect",		&t->connect },
		{ "request_header",	&t->request_header },
		{ "origin_response",	&t->origin_response },
		{ "idle",		&t->idle },
		{ "drain",		&t->drain }
	};
	json_t			*o;
	json_int_t		 n;
	size_t			 i;

	if ((o = json_object_get(root, "timeouts")) == NULL)
		return;
	if (!json_is_object(o)) {
		conf_err(ctx, "timeouts", "expected an object");
		return;
	}
	conf_keys(ctx, o, "timeouts", conf_keys_timeouts);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (conf_int(ctx, o, "timeouts", keys[i].key, 1,
		    CONF_TIMEOUT_MAX, &n) == 1)
			*keys[i].val = n;
}

static void
conf_parse_limits(struct conf_ctx *ctx, json_t *root)
{
	struct limits_conf	*lim = &ctx->conf->limits;
	json_t			*o;
	json_int_t		 n;

	if ((o = json_object_get(root, "limits")) == NULL)
		return;
	if (!json_is_object(o)) {
		conf_err(ctx, "limits", "expected an object");
		return;
	}
	conf_keys(ctx, o, "limits", conf_keys_limits);
	if (conf_int(ctx, o, "limits", "header_bytes", CONF_HEADER_MIN,
	    CONF_HEADER_MAX, &n) == 1)
		lim->header_bytes = n;
	/* The request line is part of the head. */
	if (lim->uri_bytes > lim->header_bytes)
		lim->uri_bytes = lim->header_bytes;
	if (conf_int(ctx, o, "limits", "uri_bytes", CONF_URI_MIN,
	    lim->header_bytes, &n) == 1)
		lim->uri_bytes = n;
	if (conf_int(ctx, o, "limits", "request_body_bytes", 0,
	    CONF_JSON_INT_MAX, &n) == 1)
		lim->request_body_bytes = n;
}

static void
conf_parse_vhost(struct conf_ctx *ctx, json_t *o, size_t idx)
{
	struct vhost_conf	*vh;
	char			 path[CONF_PATH_MAX], apath[CONF_PATH_MAX];
	char			 kpath[CONF_PATH_MAX];
	json_t			*a, *v;
	const char		*s, *p;
	size_t			 i;

	conf_pathidx(path, "vhosts", idx);
	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return;
	}
	conf_keys(ctx, o, path, conf_keys_vhost);
	if ((vh = calloc(1, sizeof(*vh))) == NULL) {
		conf_err(ctx, path, "%s", strerror(errno));
		return;
	}
	vh->id = (int)idx;
	TAILQ_INIT(&vh->names);
	TAILQ_INIT(&vh->mounts);
	(void)strlcpy(vh->error_css, "/error.css", sizeof(vh->error_css));
	TAILQ_INSERT_TAIL(&ctx->conf->vhosts, vh, entry);
	ctx->conf->nvhosts++;

	conf_path(apath, path, "names");
	if ((a = conf_array(ctx, o, path, "names", 0)) != NULL) {
		json_array_foreach(a, i, v) {
			conf_pathidx(kpath, apath, i);
			conf_parse_name(ctx, vh, v, kpath);
		}
	}

	/* error_css goes into an HTML attribute of the 503 page. */
	conf_path(kpath, path, "error_css");
	if ((v = json_object_get(o, "error_css")) == NULL)
		;
	else if (!json_is_string(v))
		conf_err(ctx, kpath, "expected a string");
	else if ((s = json_string_value(v))[0] != '/')
		conf_err(ctx, kpath, "must start with '/'");
	else if ((p = strpbrk(s, " \"'<>")) != NULL ||
	    conf_controls(s, strlen(s)))
		conf_err(ctx, kpath, "must not contain spaces, quotes, '<', "
		    "'>' or control characters");
	else if (strlcpy(vh->error_css, s, sizeof(vh->error_css)) >=
	    sizeof(vh->error_css))
		conf_err(ctx, kpath, "too long (max %zu bytes)",
		    sizeof(vh->error_css) - 1);

	conf_parse_tls(ctx, o, path, &vh->tls);

	conf_path(apath, path, "mounts");
	if ((a = conf_array(ctx, o, path, "mounts", 1)) != NULL) {
		json_array_foreach(a, i, v) {
			conf_pathidx(kpath, apath, i);
			conf_parse_mount(ctx, vh, a, v, kpath, i);
		}
	}
}

/* Stored in lower case; "*.example.org" is a wildcard. */
static void
conf_parse_name(struct conf_ctx *ctx, struct vhost_conf *vh, json_t *v,
    const char *path)
{
	struct vhost_conf	*ovh;
	struct vhost_name	*vn;
	char			 name[UXRP_NAME_MAX];
	const char		*s;
	size_t			 i, n;
	int			 wildcard;

	if (!json_is_string(v)) {
		conf_err(ctx, path, "expected a string");
		return;
	}
	s = json_string_value(v);
	if ((n = strlen(s)) > CONF_HOSTNAME_MAX) {
		conf_err(ctx, path, "too long (max %d bytes)",
		    CONF_HOSTNAME_MAX);
		return;
	}
	for (i = 0; i <= n; i++)
		name[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' :
		    s[i];
	wildcard = strncmp(name, "*.", 2) == 0;
	if (!conf_hostname_ok(wildcard ? name + 2 : name)) {
		conf_err(ctx, path, "not a valid host name or \"*.\" "
		    "wildcard");
		return;
	}
	TAILQ_FOREACH(ovh, &ctx->conf->vhosts, entry) {
		TAILQ_FOREACH(vn, &ovh->names, entry) {
			if (strcmp(vn->name, name) == 0) {
				conf_err(ctx, path, "name %s already used by "
				    "vhosts[%d]", name, ovh->id);
				return;
			}
		}
	}
	if ((vn = calloc(1, sizeof(*vn))) == NULL) {
		conf_err(ctx, path, "%s", strerror(errno));
		return;
	}
	memcpy(vn->name, name, n + 1);
	vn->wildcard = wildcard;
	vn->vhost_id = vh->id;
	TAILQ_INSERT_TAIL(&vh->names, vn, entry);
}

static void
conf_parse_mount(struct conf_ctx *ctx, struct vhost_conf *vh,
    json_t *mounts, json_t *o, const char *path, size_t idx)
{
	struct mount_conf	*m;
	struct origin_tls_conf	 otls;
	struct origin_peer	 opeer;
	struct origin_conf	*oc;
	char			 kpath[CONF_PATH_MAX];
	int			 i;
	json_t			*v;
	int			 lws = 0, ok = 1, dup;

	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return;
	}
	conf_keys(ctx, o, path, conf_keys_mount);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conf_err(ctx, path, "%s", strerror(errno));
		return;
	}
	m->vhost_id = vh->id;
	m->origin_id = -1;
	(void)strlcpy(m->origin_path, "/", sizeof(m->origin_path));
	m->origin_path_len = 1;

	conf_path(kpath, path, "mountpoint");
	if ((v = json_object_get(o, "mountpoint")) == NULL) {
		conf_missing(ctx, path, "mountpoint");
		ok = 0;
	} else if (!json_is_string(v)) {
		conf_err(ctx, kpath, "expected a string");
		ok = 0;
	} else if (conf_urlpath(ctx, kpath, "", json_string_value(v),
	    m->mountpoint, &m->mountpoint_len) == -1)
		ok = 0;
	else if ((dup = conf_mountpoint_dup(mounts, idx,
	    m->mountpoint)) != -1) {
		conf_err(ctx, kpath, "duplicate mountpoint (mounts[%d])", dup);
		ok = 0;
	}

	conf_path(kpath, path, "origin");
	if ((v = json_object_get(o, "status")) != NULL) {
		/* Served by uxrpd itself: no origin. */
		conf_path(kpath, path, "status");
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), "prometheus") != 0) {
			conf_err(ctx, kpath, "must be \"prometheus\"");
			ok = 0;
		} else if (json_object_get(o, "origin") != NULL ||
		    json_object_get(o, "origins") != NULL) {
			conf_err(ctx, kpath, "a status mount has no origin");
			ok = 0;
		} else
			m->status = 1;
	} else if ((v = json_object_get(o, "origin")) == NULL &&
	    json_object_get(o, "origins") != NULL) {
		if (conf_parse_origins(ctx, o, path, m, &otls, &opeer) == -1)
			ok = 0;
	} else if (v != NULL && json_object_get(o, "origins") != NULL) {
		conf_err(ctx, kpath, "give \"origin\" or \"origins\", not "
		    "both");
		ok = 0;
	} else if (v == NULL) {
		conf_missing(ctx, path, "origin");
		ok = 0;
	} else if (!json_is_string(v)) {
		conf_err(ctx, kpath, "expected a string");
		ok = 0;
	} else if (conf_parse_origin_tls(ctx, o, path, &otls) == -1 ||
	    conf_parse_origin_peer(ctx, o, path, &opeer) == -1)
		ok = 0;
	else if ((m->origin_id = conf_parse_origin(ctx, kpath,
	    json_string_value(v), m, &lws, &otls, &opeer)) == -1)
		ok = 0;
	else {
		m->origin_ids[0] = m->origin_id;
		m->norigin_ids = 1;
	}
	if ((v = json_object_get(o, "balance")) != NULL) {
		conf_path(kpath, path, "balance");
		if (!json_is_string(v) ||
		    (strcmp(json_string_value(v), "least") != 0 &&
		    strcmp(json_string_value(v), "round-robin") != 0)) {
			conf_err(ctx, kpath, "must be \"least\" or "
			    "\"round-robin\"");
			ok = 0;
		} else if (strcmp(json_string_value(v), "round-robin") == 0)
			m->balance = BALANCE_ROUND_ROBIN;
	}

	if ((v = json_object_get(o, "origin_path")) != NULL) {
		conf_path(kpath, path, "origin_path");
		if (lws) {
			conf_err(ctx, kpath, "not allowed with a \"+\" origin, "
			    "which carries its own path");
			ok = 0;
		} else if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			ok = 0;
		} else if (conf_urlpath(ctx, kpath, "", json_string_value(v),
		    m->origin_path, &m->origin_path_len) == -1)
			ok = 0;
	}

	if ((v = json_object_get(o, "origin_proxy_protocol")) != NULL && ok) {
		conf_path(kpath, path, "origin_proxy_protocol");
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 2) {
			conf_err(ctx, kpath, "expected 1 or 2");
			ok = 0;
		} else if (m->status) {
			conf_err(ctx, kpath, "a status mount has no origin");
			ok = 0;
		}
		for (i = 0; ok && i < m->norigin_ids; i++) {
			oc = conf_origin(ctx->conf, m->origin_ids[i]);
			if (oc->proxy_protocol_set && oc->proxy_protocol !=
			    (int)json_integer_value(v)) {
				conf_err(ctx, kpath, "mounts that share an "
				    "origin must agree on it");
				ok = 0;
				break;
			}
			oc->proxy_protocol = (int)json_integer_value(v);
			oc->proxy_protocol_set = 1;
		}
	}

	if ((v = json_object_get(o, "websocket")) != NULL) {
		conf_path(kpath, path, "websocket");
		if (!json_is_boolean(v)) {
			conf_err(ctx, kpath, "expected true or false");
			ok = 0;
		} else
			m->websocket = json_is_true(v);
	}

	if ((v = json_object_get(o, "restart_grace")) != NULL) {
		conf_path(kpath, path, "restart_grace");
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 3600) {
			conf_err(ctx, kpath, "expected an integer, 0 to 3600");
			ok = 0;
		} else
			m->restart_grace = (int)json_integer_value(v);
	}

	if ((v = json_object_get(o, "check")) != NULL && ok) {
		conf_path(kpath, path, "check");
		for (i = 0; i < m->norigin_ids; i++)
			if (conf_parse_check(ctx, v, kpath,
			    m->origin_ids[i]) == -1) {
				ok = 0;
				break;
			}
	}

	if (!ok) {
		free(m);
		return;
	}
	conf_mount_insert(vh, m);
}

/*
 * The index of an earlier mount of the vhost with the same mountpoint,
 * or -1. "/app" and "/app/" are the same: the first gets redirected to
 * the second.
 */
static int
conf_mountpoint_dup(json_t *mounts, size_t idx, const char *mp)
{
	json_t		*v;
	const char	*s;
	size_t		 i, n, on;

	n = strlen(mp);
	if (n > 1 && mp[n - 1] == '/')
		n--;
	for (i = 0; i < idx; i++) {
		v = json_object_get(json_array_get(mounts, i), "mountpoint");
		if (v == NULL || !json_is_string(v))
			continue;
		s = json_string_value(v);
		on = strlen(s);
		if (on > 1 && s[on - 1] == '/')
			on--;
		if (on == n && memcmp(s, mp, n) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Longest mountpoint first; equal lengths keep their order. */
static void
conf_mount_insert(struct vhost_conf *vh, struct mount_conf *m)
{
	struct mount_conf	*om;

	TAILQ_FOREACH(om, &vh->mounts, entry) {
		if (om->mountpoint_len < m->mountpoint_len) {
			TAILQ_INSERT_BEFORE(om, m, entry);
			return;
		}
	}
	TAILQ_INSERT_TAIL(&vh->mounts, m, entry);
}

/*
 * The origin of a mount: "+/sock:/path" (its own origin path),
 * "unix:/sock", "@name" or "host:port". Returns the id of the origin,
 * shared with the mounts that name the same socket, or -1.
 */
static int
conf_parse_origin(struct conf_ctx *ctx, const char *path, const char *s,
    struct mount_conf *m, int *lws, const struct origin_tls_conf *otls,
    const struct origin_peer *opeer)
{
	struct origin_conf	 oc;
	const char		*colon;
	size_t			 n;
	int			 rc = 0;

	memset(&oc, 0, sizeof(oc));
	oc.tls = *otls;
	oc.peer = *opeer;
	if (s[0] == '+') {
		*lws = 1;
		if ((colon = strchr(s + 1, ':')) != NULL) {
			n = colon - (s + 1);
			if (conf_urlpath(ctx, path, "origin path ", colon + 1,
			    m->origin_path, &m->origin_path_len) == -1)
				rc = -1;
		} else
			n = strlen(s + 1);
		if (conf_origin_unix(ctx, path, s + 1, n, &oc) == -1)
			rc = -1;
	} else if (strncmp(s, "unix:", 5) == 0)
		rc = conf_origin_unix(ctx, path, s + 5, strlen(s + 5), &oc);
	else if (s[0] == '@')
		rc = conf_origin_abstract(ctx, path, s + 1, &oc);
	else if (s[0] == '/') {
		conf_err(ctx, path, "a socket path needs the \"unix:\" or "
		    "\"+\" prefix");
		rc = -1;
	} else
		rc = conf_origin_tcp(ctx, path, s, &oc);
	if (rc == -1)
		return (-1);
	if (oc.type == ORIGIN_ABSTRACT && !oc.peer.uid_set &&
	    !oc.peer.gid_set) {
		conf_err(ctx, path, "an abstract socket has no permissions: "
		    "origin_user or origin_group is required");
		return (-1);
	}
	if (strlcpy(oc.name, s, sizeof(oc.name)) >= sizeof(oc.name)) {
		conf_err(ctx, path, "too long (max %zu bytes)",
		    sizeof(oc.name) - 1);
		return (-1);
	}
	if (oc.tls.enabled && oc.tls.verify && oc.tls.server_name[0] == '\0') {
		if (oc.type != ORIGIN_TCP) {
			conf_err(ctx, path, "origin_tls.server_name is needed "
			    "to verify an origin on a socket");
			return (-1);
		}
		/* The host as written: "name:port" or "[v6]:port". */
		n = strcspn(s[0] == '[' ? s + 1 : s, s[0] == '[' ? "]" : ":");
		if (n >= sizeof(oc.tls.server_name))
			n = sizeof(oc.tls.server_name) - 1;
		memcpy(oc.tls.server_name, s[0] == '[' ? s + 1 : s, n);
		oc.tls.server_name[n] = '\0';
	}
	return (conf_origin_add(ctx, path, &oc));
}

static int
conf_origin_unix(struct conf_ctx *ctx, const char *path, const char *p,
    size_t n, struct origin_conf *oc)
{
	oc->type = ORIGIN_UNIX;
	if (n == 0 || p[0] != '/') {
		conf_err(ctx, path, "socket path must be absolute");
		return (-1);
	}
	if (n >= sizeof(oc->path)) {
		conf_err(ctx, path, "socket path too long (max %zu bytes)",
		    sizeof(oc->path) - 1);
		return (-1);
	}
	if (conf_controls(p, n)) {
		conf_err(ctx, path, "socket path must not contain control "
		    "characters");
		return (-1);
	}
	/* Inside the chroot it would not name the same file. */
	if (conf_dotsegment(p, n)) {
		conf_err(ctx, path, "socket path must not contain a . or .. "
		    "segment");
		return (-1);
	}
	memcpy(oc->path, p, n);
	oc->path[n] = '\0';
	return (0);
}

static int
conf_origin_abstract(struct conf_ctx *ctx, const char *path,
    const char *name, struct origin_conf *oc)
{
#ifdef __linux__
	const char	*p;
	size_t		 n;

	oc->type = ORIGIN_ABSTRACT;
	if ((n = strlen(name)) == 0) {
		conf_err(ctx, path, "abstract socket name missing");
		return (-1);
	}
	/* sun_path holds a NUL, the name and, for logs, a NUL again. */
	if (n > CONF_ABSTRACT_MAX) {
		conf_err(ctx, path, "abstract socket name too long (max %zu "
		    "bytes)", CONF_ABSTRACT_MAX);
		return (-1);
	}
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			conf_err(ctx, path, "abstract socket name must be "
			    "printable ASCII without space");
			return (-1);
		}
	}
	memcpy(oc->path, name, n + 1);
	return (0);
#else
	(void)name;
	(void)oc;
	conf_err(ctx, path, "abstract sockets exist on Linux only");
	return (-1);
#endif
}

static int
conf_origin_tcp(struct conf_ctx *ctx, const char *path, const char *s,
    struct origin_conf *oc)
{
	struct addrinfo	 hints, *res;
	char		 host[UXRP_NAME_MAX];
	const char	*h, *e, *port, *errstr;
	size_t		 hlen;
	int		 error, bracket = 0;

	oc->type = ORIGIN_TCP;
	if (strstr(s, "://") != NULL) {
		conf_err(ctx, path, "a URL is not an origin; write host:port");
		return (-1);
	}
	if (s[0] == '[') {
		bracket = 1;
		h = s + 1;
		if ((e = strchr(h, ']')) == NULL || (e[1] != ':' &&
		    e[1] != '\0')) {
			conf_err(ctx, path, CONF_ORIGIN_FORMS);
			return (-1);
		}
		hlen = e - h;
		port = e[1] == ':' ? e + 2 : e + 1;
	} else {
		h = s;
		if ((e = strrchr(s, ':')) == NULL) {
			conf_err(ctx, path, CONF_ORIGIN_FORMS);
			return (-1);
		}
		if (strchr(s, ':') != e) {
			conf_err(ctx, path, "an IPv6 address needs brackets, "
			    "like [::1]:8080");
			return (-1);
		}
		hlen = e - h;
		port = e + 1;
	}
	if (hlen == 0) {
		conf_err(ctx, path, "host missing");
		return (-1);
	}
	if (*port == '\0') {
		conf_err(ctx, path, "port missing");
		return (-1);
	}
	if (strspn(port, "0123456789") != strlen(port) ||
	    strtonum(port, 1, 65535, &errstr) == 0 || errstr != NULL) {
		conf_err(ctx, path, "port out of range (1..65535)");
		return (-1);
	}
	if (hlen >= sizeof(host)) {
		conf_err(ctx, path, "host name too long (max %zu bytes)",
		    sizeof(host) - 1);
		return (-1);
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = bracket ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (bracket || (ctx->flags & CONF_NORESOLVE))
		hints.ai_flags |= AI_NUMERICHOST;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		if (bracket)
			conf_err(ctx, path, "not a numeric IPv6 address");
		else if (ctx->flags & CONF_NORESOLVE)
			conf_err(ctx, path, "host %s is not a numeric address",
			    host);
		else
			conf_err(ctx, path, "cannot resolve %s: %s", host,
			    gai_strerror(error));
		return (-1);
	}
	if (res->ai_addrlen > sizeof(oc->addr)) {
		freeaddrinfo(res);
		conf_err(ctx, path, "address too long");
		return (-1);
	}
	memcpy(&oc->addr, res->ai_addr, res->ai_addrlen);
	oc->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

static int
conf_origin_same(const struct origin_conf *a, const struct origin_conf *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->type != b->type ||
	    memcmp(&a->tls, &b->tls, sizeof(a->tls)) != 0 ||
	    memcmp(&a->peer, &b->peer, sizeof(a->peer)) != 0)
		return (0);
	if (a->type != ORIGIN_TCP)
		return (strcmp(a->path, b->path) == 0);
	if (a->addr.ss_family != b->addr.ss_family)
		return (0);
	switch (a->addr.ss_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)&a->addr;
		b4 = (const struct sockaddr_in *)&b->addr;
		return (a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr);
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)&a->addr;
		b6 = (const struct sockaddr_in6 *)&b->addr;
		return (a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0);
	default:
		return (a->addrlen == b->addrlen &&
		    memcmp(&a->addr, &b->addr, a->addrlen) == 0);
	}
}

/* The id of an equal origin, else of the new one; oc as first written. */
static int
conf_origin_add(struct conf_ctx *ctx, const char *path,
    struct origin_conf *oc)
{
	struct uxrp_conf	*conf = ctx->conf;
	struct origin_conf	*o;
	struct stat		 st;

	TAILQ_FOREACH(o, &conf->origins, entry)
		if (conf_origin_same(o, oc))
			return (o->id);
	if ((o = malloc(sizeof(*o))) == NULL) {
		conf_err(ctx, path, "%s", strerror(errno));
		return (-1);
	}
	*o = *oc;
	o->id = conf->norigins++;
	conf_origin_where(ctx, o);
	TAILQ_INSERT_TAIL(&conf->origins, o, entry);

	/* A socket that comes up later is fine; say so all the same. */
	if (o->type == ORIGIN_UNIX) {
		if (stat(o->path, &st) == -1) {
			if (errno == ENOENT)
				conf_warn(ctx, path,
				    "socket does not exist yet");
			else
				conf_warn(ctx, path, "socket cannot be "
				    "checked: %s", strerror(errno));
		} else if (!S_ISSOCK(st.st_mode))
			conf_warn(ctx, path, "not a socket");
	}
	return (o->id);
}

/*
 * How a Unix origin is reached. A chrooted worker connects by itself
 * only to a socket inside its chroot, by its path there; the master
 * connects to any other on the worker's behalf. Unprivileged, nothing
 * is chrooted and the worker connects to every socket itself.
 */
static void
conf_origin_where(struct conf_ctx *ctx, struct origin_conf *o)
{
	const char	*root = ctx->conf->chroot;
	size_t		 n;

	o->via_master = 0;
	o->worker_path[0] = '\0';
	if (o->type != ORIGIN_UNIX)
		return;
	/* Both copies fit: worker_path is as large as path. */
	if ((ctx->flags & CONF_PRIVILEGED) == 0 || root[0] == '\0') {
		(void)strlcpy(o->worker_path, o->path, sizeof(o->worker_path));
		return;
	}
	n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	if (strncmp(o->path, root, n) == 0 && o->path[n] == '/')
		(void)strlcpy(o->worker_path, o->path + n,
		    sizeof(o->worker_path));
	else
		o->via_master = 1;
}

/*
 * "control": the path of the control socket, null for none;
 * "control_users": who besides root may use it, resolved now so that
 * the check of a peer is a comparison of uids.
 */
static void
conf_parse_control(struct conf_ctx *ctx, json_t *root)
{
	struct uxrp_conf	*conf = ctx->conf;
	struct passwd		*pw;
	char			 kpath[CONF_PATH_MAX];
	json_t			*a, *v;
	const char		*s;
	size_t			 i;

	if ((v = json_object_get(root, "control")) != NULL) {
		conf->control_set = 1;
		if (json_is_null(v))
			conf->control[0] = '\0';
		else if (!json_is_string(v))
			conf_err(ctx, "control", "expected a string or null");
		else if (conf_abspath(ctx, "control", json_string_value(v),
		    conf->control, UXRP_SUN_PATH_MAX) == -1)
			conf->control[0] = '\0';
	}
	if ((a = conf_array(ctx, root, "", "control_users", 0)) == NULL)
		return;
	json_array_foreach(a, i, v) {
		conf_pathidx(kpath, "control_users", i);
		if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			continue;
		}
		if (i >= UXRP_CONTROL_USERS_MAX) {
			conf_err(ctx, kpath, "too many users (max %d)",
			    UXRP_CONTROL_USERS_MAX);
			return;
		}
		s = json_string_value(v);
		if ((pw = getpwnam(s)) == NULL) {
			conf_err(ctx, kpath, "no such user \"%s\"", s);
			continue;
		}
		conf->control_uids[conf->ncontrol_users++] = pw->pw_uid;
	}
}

/*
 * "check" of a mount: an active health check of its origin. Mounts
 * share an origin, so two of them may not ask for different checks.
 */
static int
conf_parse_check(struct conf_ctx *ctx, json_t *o, const char *path,
    int origin_id)
{
	struct origin_conf	*oc;
	char			 kpath[CONF_PATH_MAX];
	char			 cpath[UXRP_URLPATH_MAX];
	size_t			 cpathlen;
	json_int_t		 n;
	json_t			*v;
	int			 interval = 5, timeout = 2, ok = 1;

	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return (-1);
	}
	conf_keys(ctx, o, path, conf_keys_check);
	conf_path(kpath, path, "path");
	if ((v = json_object_get(o, "path")) == NULL) {
		conf_missing(ctx, path, "path");
		ok = 0;
	} else if (!json_is_string(v)) {
		conf_err(ctx, kpath, "expected a string");
		ok = 0;
	} else if (conf_urlpath(ctx, kpath, "", json_string_value(v), cpath,
	    &cpathlen) == -1)
		ok = 0;
	switch (conf_int(ctx, o, path, "interval", 1, CONF_TIMEOUT_MAX, &n)) {
	case 1:
		interval = n;
		break;
	case -1:
		ok = 0;
		break;
	}
	switch (conf_int(ctx, o, path, "timeout", 1, CONF_TIMEOUT_MAX, &n)) {
	case 1:
		timeout = n;
		break;
	case -1:
		ok = 0;
		break;
	}
	if (ok && timeout > interval) {
		conf_path(kpath, path, "timeout");
		conf_err(ctx, kpath, "must not be longer than the interval");
		ok = 0;
	}
	if (!ok || (oc = conf_origin(ctx->conf, origin_id)) == NULL)
		return (-1);
	if (oc->check_interval != 0) {
		if (strcmp(oc->check_path, cpath) != 0 ||
		    oc->check_interval != interval ||
		    oc->check_timeout != timeout) {
			conf_err(ctx, path, "origin %s already has a "
			    "different check", oc->name);
			return (-1);
		}
		return (0);
	}
	memcpy(oc->check_path, cpath, cpathlen + 1);
	oc->check_interval = interval;
	oc->check_timeout = timeout;
	return (0);
}

/* For uxrpd -n: who must listen on an origin, and its TLS. */
static void
conf_report_origin(const struct origin_conf *o, FILE *fp)
{
	if (o->peer.uid_set || o->peer.gid_set) {
		fprintf(fp, "origin %d %s: its listener must be", o->id,
		    o->name);
		if (o->peer.uid_set)
			fprintf(fp, " uid %lu", (unsigned long)o->peer.uid);
		if (o->peer.gid_set)
			fprintf(fp, "%s gid %lu", o->peer.uid_set ? "," : "",
			    (unsigned long)o->peer.gid);
		fprintf(fp, "\n");
	}
	if (!o->tls.enabled)
		return;
	fprintf(fp, "origin %d %s: https", o->id, o->name);
	if (!o->tls.verify)
		fprintf(fp, ", certificate not verified\n");
	else
		fprintf(fp, ", certificate verified for %s against %s\n",
		    o->tls.server_name, o->tls.ca[0] != '\0' ? o->tls.ca :
		    "the system's CAs");
}

/* For uxrpd -n: how each listener and origin is reached, each vhost. */
void
conf_report(const struct uxrp_conf *conf, FILE *fp)
{
	const struct listener_conf	*l;
	const struct origin_conf	*o;
	const struct vhost_conf		*vh;
	const struct vhost_name		*vn;
	const struct mount_conf		*m;
	char				 addr[UXRP_FILE_MAX];
	const char			*sep;
	int				 first, i;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->type == LISTENER_TCP)
			fprintf(fp, "listen %d %s: tcp, bound by the master",
			    l->id, l->name);
		else
			fprintf(fp, "listen %d %s: unix socket, mode %04o, "
			    "bound by the master", l->id, l->name,
			    (unsigned int)l->mode);
		if (l->proxy_protocol)
			fprintf(fp, ", PROXY protocol header first");
		if (l->tls.enabled)
			fprintf(fp, ", TLS with %s", l->tls.certificate);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(o, &conf->origins, entry) {
		fprintf(fp, "origin %d %s: ", o->id, o->name);
		switch (o->type) {
		case ORIGIN_UNIX:
			if (o->via_master)
				fprintf(fp, "unix socket %s, connected by the "
				    "master (outside chroot %s)\n", o->path,
				    conf->chroot);
			else if (strcmp(o->worker_path, o->path) != 0)
				fprintf(fp, "unix socket %s, connected by the "
				    "worker as %s\n", o->path, o->worker_path);
			else
				fprintf(fp, "unix socket %s, connected by the "
				    "worker\n", o->path);
			break;
		case ORIGIN_ABSTRACT:
			fprintf(fp, "abstract socket @%s, connected by the "
			    "worker\n", o->path);
			break;
		case ORIGIN_TCP:
			if (sockaddr_fmt((const struct sockaddr *)&o->addr,
			    o->addrlen, addr, sizeof(addr)) == -1)
				(void)strlcpy(addr, "?", sizeof(addr));
			fprintf(fp, "tcp %s, connected by the worker\n", addr);
			break;
		}
		conf_report_origin(o, fp);
		if (o->check_interval > 0)
			fprintf(fp, "origin %d %s: checked with GET %s every "
			    "%ds, timeout %ds\n", o->id, o->name, o->check_path,
			    o->check_interval, o->check_timeout);
	}

	TAILQ_FOREACH(vh, &conf->vhosts, entry) {
		fprintf(fp, "vhost %d", vh->id);
		TAILQ_FOREACH(vn, &vh->names, entry)
			fprintf(fp, " %s", vn->name);
		first = vh == TAILQ_FIRST(&conf->vhosts);
		if (TAILQ_EMPTY(&vh->names))
			fprintf(fp, " (no names%s)", first ? ", default" : "");
		else if (first)
			fprintf(fp, " (default)");
		sep = ": ";
		TAILQ_FOREACH(m, &vh->mounts, entry) {
			if (m->status) {
				fprintf(fp, "%s%s -> status (prometheus)", sep,
				    m->mountpoint);
				sep = ", ";
				continue;
			}
			fprintf(fp, "%s%s -> origin %d", sep, m->mountpoint,
			    m->origin_id);
			for (i = 1; i < m->norigin_ids; i++)
				fprintf(fp, "+%d", m->origin_ids[i]);
			if (m->norigin_ids > 1)
				fprintf(fp, " (%s)", m->balance ==
				    BALANCE_ROUND_ROBIN ? "round-robin" :
				    "least");
			fprintf(fp, " %s", m->origin_path);
			sep = ", ";
		}
		fprintf(fp, "\n");
		if (vh->tls.enabled)
			fprintf(fp, "vhost %d: TLS with %s for its names\n",
			    vh->id, vh->tls.certificate);
	}
}

/*
 * "tls": { "certificate": "/path/chain.pem", "key": "/path/key.pem" }
 * under a listener (its default certificate) or a vhost (chosen by
 * SNI). Both files must load and belong together.
 */
static void
conf_parse_tls(struct conf_ctx *ctx, json_t *parent, const char *ppath,
    struct tls_files *f)
{
	json_t		*o, *v;
	char		 path[CONF_PATH_MAX], kpath[CONF_PATH_MAX];
	char		 err[512];
	const char	*key;
	int		 bad = 0, i;
	static const char *const keys[] = { "certificate", "key" };

	if ((o = json_object_get(parent, "tls")) == NULL)
		return;
	conf_path(path, ppath, "tls");
	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return;
	}
	conf_keys(ctx, o, path, conf_keys_tls);
	for (i = 0; i < 2; i++) {
		key = keys[i];
		conf_path(kpath, path, key);
		if ((v = json_object_get(o, key)) == NULL) {
			conf_missing(ctx, path, key);
			bad = 1;
		} else if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			bad = 1;
		} else if (conf_abspath(ctx, kpath, json_string_value(v),
		    i == 0 ? f->certificate : f->key, sizeof(f->key)) == -1)
			bad = 1;
	}
	if (bad)
		return;
	if (tls_check_files(f, err, sizeof(err)) == -1) {
		conf_err(ctx, path, "%s", err);
		return;
	}
	f->enabled = 1;
}

/*
 * "origin_protocol": "https" with "origin_tls": { "ca": "/path.pem",
 * "server_name": "api.internal", "verify": true }. Verification of
 * the chain and the name is on unless "verify" is false.
 */
static int
conf_parse_origin_tls(struct conf_ctx *ctx, json_t *mount, const char *mpath,
    struct origin_tls_conf *t)
{
	json_t		*v, *o;
	char		 path[CONF_PATH_MAX], kpath[CONF_PATH_MAX], err[512];
	const char	*s;

	memset(t, 0, sizeof(*t));
	t->verify = 1;
	conf_path(kpath, mpath, "origin_protocol");
	if ((v = json_object_get(mount, "origin_protocol")) != NULL) {
		if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			return (-1);
		}
		s = json_string_value(v);
		if (strcmp(s, "https") == 0)
			t->enabled = 1;
		else if (strcmp(s, "http") != 0) {
			conf_err(ctx, kpath, "must be \"http\" or \"https\"");
			return (-1);
		}
	}
	conf_path(path, mpath, "origin_tls");
	if ((o = json_object_get(mount, "origin_tls")) == NULL) {
		if (t->enabled) {
			conf_err(ctx, kpath, "https needs origin_tls with a "
			    "\"ca\" (or \"verify\": false)");
			return (-1);
		}
		return (0);
	}
	if (!t->enabled) {
		conf_err(ctx, path, "only with \"origin_protocol\": "
		    "\"https\"");
		return (-1);
	}
	if (!json_is_object(o)) {
		conf_err(ctx, path, "expected an object");
		return (-1);
	}
	conf_keys(ctx, o, path, conf_keys_origin_tls);
	conf_path(kpath, path, "verify");
	if ((v = json_object_get(o, "verify")) != NULL) {
		if (!json_is_boolean(v)) {
			conf_err(ctx, kpath, "expected true or false");
			return (-1);
		}
		t->verify = json_is_true(v);
	}
	conf_path(kpath, path, "server_name");
	if ((v = json_object_get(o, "server_name")) != NULL) {
		if (!json_is_string(v) ||
		    !conf_hostname_ok(json_string_value(v))) {
			conf_err(ctx, kpath, "expected a host name");
			return (-1);
		}
		(void)strlcpy(t->server_name, json_string_value(v),
		    sizeof(t->server_name));
	}
	conf_path(kpath, path, "ca");
	if ((v = json_object_get(o, "ca")) != NULL) {
		if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			return (-1);
		}
		if (conf_abspath(ctx, kpath, json_string_value(v), t->ca,
		    sizeof(t->ca)) == -1)
			return (-1);
		if (tls_check_ca(t->ca, err, sizeof(err)) == -1) {
			conf_err(ctx, kpath, "%s", err);
			return (-1);
		}
	} else if (t->verify) {
		conf_err(ctx, path, "\"ca\" is needed to verify the origin "
		    "(or \"verify\": false)");
		return (-1);
	}
	return (0);
}

/*
 * "origin_user" and "origin_group", a name or a number each: the
 * credentials the process listening on a Unix origin must have. An
 * abstract socket has no file permissions, so one of them is required.
 */
static int
conf_parse_origin_peer(struct conf_ctx *ctx, json_t *mount, const char *mpath,
    struct origin_peer *p)
{
	json_t		*v, *origin;
	struct passwd	*pw;
	struct group	*gr;
	char		 kpath[CONF_PATH_MAX];
	const char	*s;
	json_int_t	 n;

	memset(p, 0, sizeof(*p));
	conf_path(kpath, mpath, "origin_user");
	if ((v = json_object_get(mount, "origin_user")) != NULL) {
		if (json_is_integer(v) && (n = json_integer_value(v)) >= 0 &&
		    n < (json_int_t)UINT32_MAX)
			p->uid = (uid_t)n;
		else if (json_is_string(v)) {
			s = json_string_value(v);
			if ((pw = getpwnam(s)) == NULL) {
				conf_err(ctx, kpath, "unknown user %s", s);
				return (-1);
			}
			p->uid = pw->pw_uid;
		} else {
			conf_err(ctx, kpath, "expected a user name or id");
			return (-1);
		}
		p->uid_set = 1;
	}
	conf_path(kpath, mpath, "origin_group");
	if ((v = json_object_get(mount, "origin_group")) != NULL) {
		if (json_is_integer(v) && (n = json_integer_value(v)) >= 0 &&
		    n < (json_int_t)UINT32_MAX)
			p->gid = (gid_t)n;
		else if (json_is_string(v)) {
			s = json_string_value(v);
			if ((gr = getgrnam(s)) == NULL) {
				conf_err(ctx, kpath, "unknown group %s", s);
				return (-1);
			}
			p->gid = gr->gr_gid;
		} else {
			conf_err(ctx, kpath, "expected a group name or id");
			return (-1);
		}
		p->gid_set = 1;
	}
	origin = json_object_get(mount, "origin");
	s = json_is_string(origin) ? json_string_value(origin) : "";
	if ((p->uid_set || p->gid_set) && s[0] != '+' && s[0] != '@' &&
	    strncmp(s, "unix:", 5) != 0) {
		conf_path(kpath, mpath, p->uid_set ? "origin_user" :
		    "origin_group");
		conf_err(ctx, kpath, "only for an origin on a socket");
		return (-1);
	}
	return (0);
}

/*
 * "origins": several origins for one mount, balanced by the worker.
 * They share the mount's origin_path, TLS and identity settings, so
 * the "+" form, which carries a path of its own, is not taken here.
 */
static int
conf_parse_origins(struct conf_ctx *ctx, json_t *o, const char *path,
    struct mount_conf *m, struct origin_tls_conf *otls,
    struct origin_peer *opeer)
{
	json_t		*a, *v;
	char		 apath[CONF_PATH_MAX], kpath[CONF_PATH_MAX];
	size_t		 i;
	int		 id, lws = 0, j, rc = 0;

	conf_path(apath, path, "origins");
	a = json_object_get(o, "origins");
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > UXRP_MOUNT_ORIGINS) {
		conf_err(ctx, apath, "expected an array of 1 to %d origins",
		    UXRP_MOUNT_ORIGINS);
		return (-1);
	}
	if (conf_parse_origin_tls(ctx, o, path, otls) == -1 ||
	    conf_parse_origin_peer(ctx, o, path, opeer) == -1)
		return (-1);
	json_array_foreach(a, i, v) {
		conf_pathidx(kpath, apath, i);
		if (!json_is_string(v)) {
			conf_err(ctx, kpath, "expected a string");
			rc = -1;
			continue;
		}
		if (json_string_value(v)[0] == '+') {
			conf_err(ctx, kpath, "the \"+\" form carries its own "
			    "path: use \"unix:\" and origin_path");
			rc = -1;
			continue;
		}
		if ((id = conf_parse_origin(ctx, kpath, json_string_value(v),
		    m, &lws, otls, opeer)) == -1) {
			rc = -1;
			continue;
		}
		for (j = 0; j < m->norigin_ids; j++)
			if (m->origin_ids[j] == id)
				break;
		if (j < m->norigin_ids) {
			conf_err(ctx, kpath, "the same origin twice");
			rc = -1;
			continue;
		}
		m->origin_ids[m->norigin_ids++] = id;
	}
	if (rc == 0)
		m->origin_id = m->origin_ids[0];
	return (rc);
}
