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
 * The configuration loader: values and defaults of valid files, how
 * origins are reached, and for each class of mistake the exact line
 * "name:line:col: path: message" that uxrpd -n prints.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uxrp.h"

/* The smallest valid pieces, to build a file around one mistake. */
#define LISTEN	"\"listen\": [{\"address\": \"127.0.0.1\", \"port\": 8080}]"
#define VHOSTS	"\"vhosts\": [{\"mounts\": [{\"mountpoint\": \"/\", " \
		"\"origin\": \"127.0.0.1:9000\"}]}]"

static char	*diag;
static size_t	 diaglen;
static char	 tmpdir[64];	/* short: paths built on it must fit */

static void	 fmt(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/* snprintf that must not truncate. */
static void
fmt(char *buf, size_t len, const char *f, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static struct uxrp_conf *
load(const char *text, int flags)
{
	struct uxrp_conf	*conf;
	FILE			*fp;

	free(diag);
	diag = NULL;
	fp = open_memstream(&diag, &diaglen);
	assert_non_null(fp);
	conf = conf_load_buf("t.conf", text, strlen(text), flags, fp);
	assert_int_equal(fclose(fp), 0);
	return (conf);
}

/* The file must be refused with exactly these diagnostics. */
static void
refused(const char *text, const char *want)
{
	struct uxrp_conf	*conf;

	conf = load(text, CONF_NORESOLVE);
	if (conf != NULL)
		fail_msg("accepted: %s", text);
	assert_string_equal(diag, want);
}

static void
accepted(const char *text, const char *want)
{
	struct uxrp_conf	*conf;

	conf = load(text, CONF_NORESOLVE);
	if (conf == NULL)
		fail_msg("refused: %s", diag);
	assert_string_equal(diag, want);
	conf_free(conf);
}

static char *
report(const struct uxrp_conf *conf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	conf_report(conf, fp);
	assert_int_equal(fclose(fp), 0);
	return (buf);
}

static void
make_socket(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) <
	    sizeof(sun.sun_path));
	assert_int_not_equal(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

static int
setup_tmp(void **state)
{
	char	 path[PATH_MAX];

	(void)state;
	(void)strlcpy(tmpdir, "/tmp/test_conf.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return (-1);
	fmt(path, sizeof(path), "%s/run", tmpdir);
	if (mkdir(path, 0755) == -1)
		return (-1);
	return (0);
}

static int
teardown_tmp(void **state)
{
	char	 cmd[PATH_MAX + 16];

	(void)state;
	fmt(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return (system(cmd) == 0 ? 0 : -1);
}

static int
teardown_diag(void **state)
{
	(void)state;
	free(diag);
	diag = NULL;
	return (0);
}

/*
 * Valid files.
 */

static void
t_full(void **state)
{
	static const char	 text[] =
	    "{\n"
	    "  \"user\": \"nobody\",\n"
	    "  \"chroot\": \"/var/empty/\",\n"
	    "  \"workers\": 4,\n"
	    "  \"access_log\": \"/var/log/uxrp.log\",\n"
	    "  \"listen\": [\n"
	    "    { \"address\": \"127.0.0.1\", \"port\": 8080 },\n"
	    "    { \"address\": \"::1\", \"port\": 8443 },\n"
	    "    { \"path\": \"/tmp/front.sock\", \"mode\": \"0660\" }\n"
	    "  ],\n"
	    "  \"timeouts\": { \"connect\": 1, \"request_header\": 2,\n"
	    "    \"origin_response\": 3, \"idle\": 4, \"drain\": 5 },\n"
	    "  \"limits\": { \"header_bytes\": 4096, \"uri_bytes\": 1000,\n"
	    "    \"request_body_bytes\": 1048576 },\n"
	    "  \"vhosts\": [\n"
	    "    { \"names\": [\"Example.ORG\", \"*.example.org\"],\n"
	    "      \"error_css\": \"/css/down.css\",\n"
	    "      \"mounts\": [\n"
	    "        { \"mountpoint\": \"/\", \"origin\": "
	    "\"127.0.0.1:9000\" },\n"
	    "        { \"mountpoint\": \"/app/\","
	    " \"origin\": \"+/nonexistent/app.sock:/inner/\" },\n"
	    "        { \"mountpoint\": \"/api/v2/\","
	    " \"origin\": \"unix:/nonexistent/app.sock\",\n"
	    "          \"origin_path\": \"/v2/\" },\n"
	    "        { \"mountpoint\": \"/abc/\", \"origin\": "
	    "\"127.0.0.1:9000\" }\n"
	    "      ] },\n"
	    "    { \"mounts\": [\n"
	    "        { \"mountpoint\": \"/\", \"origin\": \"[::1]:9001\" "
	    "} ] }\n"
	    "  ]\n"
	    "}\n";
	struct uxrp_conf	*conf;
	struct listener_conf	*l;
	struct vhost_conf	*vh;
	struct vhost_name	*vn;
	struct mount_conf	*m;
	struct origin_conf	*o;
	struct sockaddr_in	*sin;

	(void)state;
	conf = load(text, CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(diag,
	    "t.conf:20:44: vhosts[0].mounts[1].origin: warning: "
	    "socket does not exist yet\n");
	assert_string_equal(conf->file, "t.conf");
	assert_string_equal(conf->user, "nobody");
	assert_string_equal(conf->chroot, "/var/empty/");
	assert_int_equal(conf->workers, 4);
	assert_string_equal(conf->access_log, "/var/log/uxrp.log");
	assert_int_equal(conf->timeouts.connect, 1);
	assert_int_equal(conf->timeouts.request_header, 2);
	assert_int_equal(conf->timeouts.origin_response, 3);
	assert_int_equal(conf->timeouts.idle, 4);
	assert_int_equal(conf->timeouts.drain, 5);
	assert_int_equal(conf->limits.header_bytes, 4096);
	assert_int_equal(conf->limits.uri_bytes, 1000);
	assert_int_equal(conf->limits.request_body_bytes, 1048576);

	assert_int_equal(conf->nlisteners, 3);
	l = TAILQ_FIRST(&conf->listeners);
	assert_int_equal(l->id, 0);
	assert_int_equal(l->type, LISTENER_TCP);
	assert_string_equal(l->name, "127.0.0.1:8080");
	assert_int_equal(l->fd, -1);
	sin = (struct sockaddr_in *)&l->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 8080);
	assert_int_equal(l->addrlen, sizeof(struct sockaddr_in));
	l = TAILQ_NEXT(l, entry);
	assert_int_equal(l->id, 1);
	assert_string_equal(l->name, "[::1]:8443");
	assert_int_equal(l->addr.ss_family, AF_INET6);
	l = TAILQ_NEXT(l, entry);
	assert_int_equal(l->id, 2);
	assert_int_equal(l->type, LISTENER_UNIX);
	assert_string_equal(l->path, "/tmp/front.sock");
	assert_string_equal(l->name, "/tmp/front.sock");
	assert_int_equal(l->mode, 0660);
	assert_int_equal(l->fd, -1);

	assert_int_equal(conf->nvhosts, 2);
	vh = TAILQ_FIRST(&conf->vhosts);
	assert_int_equal(vh->id, 0);
	assert_string_equal(vh->error_css, "/css/down.css");
	vn = TAILQ_FIRST(&vh->names);
	assert_string_equal(vn->name, "example.org");
	assert_int_equal(vn->wildcard, 0);
	assert_int_equal(vn->vhost_id, 0);
	vn = TAILQ_NEXT(vn, entry);
	assert_string_equal(vn->name, "*.example.org");
	assert_int_equal(vn->wildcard, 1);
	assert_null(TAILQ_NEXT(vn, entry));

	/* Longest first; "/app/" before "/abc/" as written. */
	m = TAILQ_FIRST(&vh->mounts);
	assert_string_equal(m->mountpoint, "/api/v2/");
	assert_int_equal(m->mountpoint_len, 8);
	assert_string_equal(m->origin_path, "/v2/");
	assert_int_equal(m->origin_path_len, 4);
	assert_int_equal(m->origin_id, 1);
	assert_int_equal(m->vhost_id, 0);
	m = TAILQ_NEXT(m, entry);
	assert_string_equal(m->mountpoint, "/app/");
	assert_string_equal(m->origin_path, "/inner/");
	assert_int_equal(m->origin_path_len, 7);
	assert_int_equal(m->origin_id, 1);
	m = TAILQ_NEXT(m, entry);
	assert_string_equal(m->mountpoint, "/abc/");
	assert_string_equal(m->origin_path, "/");
	assert_int_equal(m->origin_path_len, 1);
	assert_int_equal(m->origin_id, 0);
	m = TAILQ_NEXT(m, entry);
	assert_string_equal(m->mountpoint, "/");
	assert_int_equal(m->mountpoint_len, 1);
	assert_int_equal(m->origin_id, 0);
	assert_null(TAILQ_NEXT(m, entry));

	vh = TAILQ_NEXT(vh, entry);
	assert_int_equal(vh->id, 1);
	assert_true(TAILQ_EMPTY(&vh->names));
	assert_string_equal(vh->error_css, "/error.css");
	m = TAILQ_FIRST(&vh->mounts);
	assert_int_equal(m->vhost_id, 1);
	assert_int_equal(m->origin_id, 2);

	/* One origin per socket, in order of first appearance. */
	assert_int_equal(conf->norigins, 3);
	o = conf_origin(conf, 0);
	assert_int_equal(o->type, ORIGIN_TCP);
	assert_string_equal(o->name, "127.0.0.1:9000");
	assert_int_equal(o->addr.ss_family, AF_INET);
	assert_int_equal(o->via_master, 0);
	o = conf_origin(conf, 1);
	assert_int_equal(o->type, ORIGIN_UNIX);
	assert_string_equal(o->name, "+/nonexistent/app.sock:/inner/");
	assert_string_equal(o->path, "/nonexistent/app.sock");
	assert_string_equal(o->worker_path, "/nonexistent/app.sock");
	assert_int_equal(o->via_master, 0);
	o = conf_origin(conf, 2);
	assert_int_equal(o->type, ORIGIN_TCP);
	assert_int_equal(o->addr.ss_family, AF_INET6);
	assert_null(conf_origin(conf, 3));
	assert_null(conf_origin(conf, -1));
	conf_free(conf);
}

static void
t_defaults(void **state)
{
	struct uxrp_conf	*conf;
	struct listener_conf	*l;
	struct vhost_conf	*vh;

	(void)state;
	conf = load("{ \"listen\": [{\"path\": \"/tmp/x.sock\"}], " VHOSTS
	    " }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(diag, "");
	assert_string_equal(conf->user, UXRP_USER);
	assert_string_equal(conf->chroot, UXRP_CHROOT);
	assert_int_equal(conf->workers, 0);
	assert_string_equal(conf->access_log, "");
	assert_int_equal(conf->timeouts.connect, UXRP_TMO_CONNECT);
	assert_int_equal(conf->timeouts.request_header, UXRP_TMO_REQHEADER);
	assert_int_equal(conf->timeouts.origin_response,
	    UXRP_TMO_ORIGINRESP);
	assert_int_equal(conf->timeouts.idle, UXRP_TMO_IDLE);
	assert_int_equal(conf->timeouts.drain, UXRP_TMO_DRAIN);
	assert_int_equal(conf->limits.header_bytes, UXRP_LIM_HEADER);
	assert_int_equal(conf->limits.uri_bytes, UXRP_LIM_URI);
	assert_int_equal(conf->limits.request_body_bytes, 0);
	l = TAILQ_FIRST(&conf->listeners);
	assert_int_equal(l->mode, 0666);
	vh = TAILQ_FIRST(&conf->vhosts);
	assert_string_equal(vh->error_css, "/error.css");
	assert_string_equal(TAILQ_FIRST(&vh->mounts)->origin_path, "/");
	conf_free(conf);
}

static void
t_conf_new(void **state)
{
	struct uxrp_conf	*conf;

	(void)state;
	conf_free(NULL);
	assert_non_null(conf = conf_new());
	assert_true(TAILQ_EMPTY(&conf->listeners));
	assert_true(TAILQ_EMPTY(&conf->vhosts));
	assert_true(TAILQ_EMPTY(&conf->origins));
	assert_string_equal(conf->user, "_uxrp");
	assert_string_equal(conf->chroot, "/var/uxrp");
	assert_int_equal(conf->timeouts.idle, 75);
	assert_int_equal(conf->limits.header_bytes, 16384);
	assert_int_equal(conf->limits.uri_bytes, 8192);
	assert_null(conf_origin(conf, 0));
	conf_free(conf);
}

static void
t_null_chroot_log(void **state)
{
	struct uxrp_conf	*conf;

	(void)state;
	conf = load("{ \"chroot\": null, \"access_log\": null, " LISTEN ", "
	    VHOSTS " }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(conf->chroot, "");
	assert_string_equal(conf->access_log, "");
	conf_free(conf);
}

/* uri_bytes defaults to 8192, but never more than header_bytes. */
static void
t_uri_default(void **state)
{
	struct uxrp_conf	*conf;

	(void)state;
	conf = load("{ \"limits\": {\"header_bytes\": 2048}, " LISTEN ", "
	    VHOSTS " }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_int_equal(conf->limits.header_bytes, 2048);
	assert_int_equal(conf->limits.uri_bytes, 2048);
	conf_free(conf);
	conf = load("{ \"limits\": {\"header_bytes\": 65536}, " LISTEN ", "
	    VHOSTS " }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_int_equal(conf->limits.uri_bytes, 8192);
	conf_free(conf);
}

/* The same socket in every form is one origin, named as first written. */
static void
t_origin_dedup(void **state)
{
	struct uxrp_conf	*conf;
	struct vhost_conf	*vh;
	struct mount_conf	*m;
	char			 text[2048], sock[PATH_MAX];
	int			 ids[5], i;

	(void)state;
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": [\n"
	    "{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"unix:%s/run/a.sock\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"+%s/run/a.sock:/x/\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"+%s/run/a.sock\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": "
	    "\"[::ffff:127.0.0.1]:80\"},\n"
	    "{\"mountpoint\": \"/e/\", \"origin\": \"127.0.0.1:80\"}]},\n"
	    "{\"mounts\": [\n"
	    "{\"mountpoint\": \"/\", \"origin\": \"+%s/run/a.sock:/y/\"}]}\n"
	    "] }", tmpdir, tmpdir, tmpdir, tmpdir);
	fmt(sock, sizeof(sock), "%s/run/a.sock", tmpdir);
	make_socket(sock);
	conf = load(text, CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(diag, "");
	assert_int_equal(conf->norigins, 3);
	vh = TAILQ_FIRST(&conf->vhosts);
	i = 0;
	TAILQ_FOREACH(m, &vh->mounts, entry)
		ids[i++] = m->origin_id;
	assert_int_equal(i, 5);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 0);
	assert_int_equal(ids[2], 0);
	assert_int_equal(ids[3], 1);	/* a v4-mapped v6 address is v6 */
	assert_int_equal(ids[4], 2);
	m = TAILQ_FIRST(&TAILQ_NEXT(vh, entry)->mounts);
	assert_int_equal(m->origin_id, 0);
	assert_string_equal(m->origin_path, "/y/");
	assert_memory_equal(conf_origin(conf, 0)->name, "unix:/", 6);
	conf_free(conf);
}

static void
t_origin_dedup_tcp(void **state)
{
	struct uxrp_conf	*conf;

	(void)state;
	conf = load("{ " LISTEN ", \"vhosts\": [{\"mounts\": ["
	    "{\"mountpoint\": \"/a/\", \"origin\": \"127.0.0.1:80\"},"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"127.000.0.1:80\"},"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"127.0.0.1:81\"},"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"[::1]:80\"},"
	    "{\"mountpoint\": \"/e/\", \"origin\": \"[0::1]:80\"}]}] }",
	    0);
	assert_non_null(conf);
	assert_int_equal(conf->norigins, 3);
	assert_string_equal(conf_origin(conf, 0)->name, "127.0.0.1:80");
	assert_string_equal(conf_origin(conf, 1)->name, "127.0.0.1:81");
	assert_string_equal(conf_origin(conf, 2)->name, "[::1]:80");
	conf_free(conf);
}

/* Inside the chroot the worker connects; outside, the master. */
static void
t_privileged(void **state)
{
	struct uxrp_conf	*conf;
	struct origin_conf	*o;
	char			 text[2048], want[2048], sock[PATH_MAX];
	char			*out;

	(void)state;
	fmt(sock, sizeof(sock), "%s/run/b.sock", tmpdir);
	(void)unlink(sock);
	make_socket(sock);
	fmt(text, sizeof(text), "{ \"user\": \"root\", "
	    "\"chroot\": \"%s/\", " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": "
	    "\"+/nonexistent/a.sock:/\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"unix:%s/run/b.sock\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"unix:%s.x/c.sock\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"@name\", \"origin_user\": 0},\n"
	    "{\"mountpoint\": \"/e/\", \"origin\": \"127.0.0.1:9000\"}]}] }",
	    tmpdir, tmpdir, tmpdir);

	conf = load(text, CONF_PRIVILEGED | CONF_NORESOLVE);
	if (conf == NULL)
		fail_msg("%s", diag);
	o = conf_origin(conf, 0);
	assert_int_equal(o->via_master, 1);
	o = conf_origin(conf, 1);
	assert_int_equal(o->via_master, 0);
	assert_string_equal(o->worker_path, "/run/b.sock");
	o = conf_origin(conf, 2);
	assert_int_equal(o->via_master, 1);	/* "/tmp/x.x" is not inside */
	o = conf_origin(conf, 3);
	assert_int_equal(o->type, ORIGIN_ABSTRACT);
	assert_string_equal(o->path, "name");
	assert_int_equal(o->via_master, 0);
	assert_int_equal(conf_origin(conf, 4)->via_master, 0);

	out = report(conf);
	fmt(want, sizeof(want),
	    "listen 0 127.0.0.1:8080: tcp, bound by the master\n"
	    "origin 0 +/nonexistent/a.sock:/: unix socket /nonexistent/a.sock,"
	    " connected by the master (outside chroot %s/)\n"
	    "origin 1 unix:%s/run/b.sock: unix socket %s/run/b.sock,"
	    " connected by the worker as /run/b.sock\n"
	    "origin 2 unix:%s.x/c.sock: unix socket %s.x/c.sock,"
	    " connected by the master (outside chroot %s/)\n"
	    "origin 3 @name: abstract socket @name, connected by the worker\n"
	    "origin 3 @name: its listener must be uid 0\n"
	    "origin 4 127.0.0.1:9000: tcp 127.0.0.1:9000,"
	    " connected by the worker\n"
	    "vhost 0 (no names, default): /a/ -> origin 0 /,"
	    " /b/ -> origin 1 /, /c/ -> origin 2 /, /d/ -> origin 3 /,"
	    " /e/ -> origin 4 /\n",
	    tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
	assert_string_equal(out, want);
	free(out);
	conf_free(conf);

	/* Unprivileged, nothing is chrooted. */
	conf = load(text, CONF_NORESOLVE);
	assert_non_null(conf);
	o = conf_origin(conf, 0);
	assert_int_equal(o->via_master, 0);
	assert_string_equal(o->worker_path, "/nonexistent/a.sock");
	o = conf_origin(conf, 1);
	assert_int_equal(o->via_master, 0);
	assert_string_equal(o->worker_path, sock);
	conf_free(conf);
}

static void
t_privileged_nochroot(void **state)
{
	struct uxrp_conf	*conf;
	struct origin_conf	*o;

	(void)state;
	conf = load("{ \"user\": \"root\", \"chroot\": null, " LISTEN ", "
	    "\"vhosts\": [{\"mounts\": [{\"mountpoint\": \"/\", "
	    "\"origin\": \"unix:/nonexistent/a.sock\"}]}] }",
	    CONF_PRIVILEGED);
	assert_non_null(conf);
	o = conf_origin(conf, 0);
	assert_int_equal(o->via_master, 0);
	assert_string_equal(o->worker_path, "/nonexistent/a.sock");
	conf_free(conf);
}

static void
t_privileged_errors(void **state)
{
	struct uxrp_conf	*conf;
	char			 text[1024], want[1024], path[PATH_MAX];

	(void)state;
	fmt(text, sizeof(text), "{\"user\": \"no-such-user-x\", "
	    "\"chroot\": \"%s/none\", " LISTEN ", " VHOSTS "}", tmpdir);
	conf = load(text, CONF_PRIVILEGED);
	assert_null(conf);
	fmt(want, sizeof(want),
	    "t.conf:1:10: user: no such user \"no-such-user-x\"\n"
	    "t.conf:1:38: chroot: %s/none: No such file or directory\n",
	    tmpdir);
	assert_string_equal(diag, want);

	/* The default user and chroot are checked as well. */
	fmt(text, sizeof(text), "{\"user\": \"root\", "
	    "\"chroot\": \"%s/run/f\", " LISTEN ", " VHOSTS "}", tmpdir);
	fmt(path, sizeof(path), "%s/run/f", tmpdir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	conf = load(text, CONF_PRIVILEGED);
	assert_null(conf);
	fmt(want, sizeof(want),
	    "t.conf:1:28: chroot: %s/run/f: not a directory\n", tmpdir);
	assert_string_equal(diag, want);
}

static void
t_report(void **state)
{
	struct uxrp_conf	*conf;
	char			*out;

	(void)state;
	conf = load("{ \"listen\": [{\"address\": \"::\", \"port\": 443},"
	    "{\"path\": \"/tmp/f.sock\", \"mode\": \"600\"}], \"vhosts\": ["
	    "{\"names\": [\"a.org\"], \"mounts\": [{\"mountpoint\": \"/\", "
	    "\"origin\": \"unix:/nonexistent/x.sock\"}]},"
	    "{\"names\": [\"b.org\", \"*.b.org\"], \"mounts\": ["
	    "{\"mountpoint\": \"/x\", \"origin\": \"unix:/nonexistent/x.sock\","
	    " \"origin_path\": \"/y\"}, {\"mountpoint\": \"/xyz/\","
	    " \"origin\": \"[::1]:80\"}]},"
	    "{\"mounts\": [{\"mountpoint\": \"/\", \"origin\": "
	    "\"127.0.0.1:1\"}]}"
	    "] }", CONF_NORESOLVE);
	assert_non_null(conf);
	out = report(conf);
	assert_string_equal(out,
	    "listen 0 [::]:443: tcp, bound by the master\n"
	    "listen 1 /tmp/f.sock: unix socket, mode 0600, bound by the "
	    "master\n"
	    "origin 0 unix:/nonexistent/x.sock: unix socket "
	    "/nonexistent/x.sock, connected by the worker\n"
	    "origin 1 [::1]:80: tcp [::1]:80, connected by the worker\n"
	    "origin 2 127.0.0.1:1: tcp 127.0.0.1:1, connected by the worker\n"
	    "vhost 0 a.org (default): / -> origin 0 /\n"
	    "vhost 1 b.org *.b.org: /xyz/ -> origin 1 /, /x -> origin 0 /y\n"
	    "vhost 2 (no names): / -> origin 2 /\n");
	free(out);
	conf_free(conf);
}

static void
t_warnings(void **state)
{
	char	 text[1024], want[1024], path[PATH_MAX];

	(void)state;
	fmt(path, sizeof(path), "%s/run/plain", tmpdir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	fmt(text, sizeof(text), "{ " LISTEN ",\n"
	    "\"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"unix:/nonexistent/a\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"unix:%s\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"unix:%s/x\"}]}] }",
	    path, path);
	fmt(want, sizeof(want),
	    "t.conf:3:33: vhosts[0].mounts[0].origin: warning: "
	    "socket does not exist yet\n"
	    "t.conf:4:33: vhosts[0].mounts[1].origin: warning: "
	    "not a socket\n"
	    "t.conf:5:33: vhosts[0].mounts[2].origin: warning: "
	    "socket cannot be checked: Not a directory\n");
	accepted(text, want);
}

static void
t_load_file(void **state)
{
	struct uxrp_conf	*conf;
	char			 path[PATH_MAX];
	FILE			*fp;

	(void)state;
	fmt(path, sizeof(path), "%s/t.conf", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "{ " LISTEN ", " VHOSTS ", \"workers\": 2 }\n");
	fclose(fp);
	free(diag);
	diag = NULL;
	assert_non_null(fp = open_memstream(&diag, &diaglen));
	conf = conf_load(path, 0, fp);
	fclose(fp);
	assert_non_null(conf);
	assert_string_equal(conf->file, path);
	assert_int_equal(conf->workers, 2);
	conf_free(conf);
	assert_string_equal(diag, "");
}

static void
t_load_missing(void **state)
{
	FILE	*fp;

	(void)state;
	free(diag);
	diag = NULL;
	assert_non_null(fp = open_memstream(&diag, &diaglen));
	assert_null(conf_load("/nonexistent/uxrpd.conf", 0, fp));
	assert_null(conf_load("/", 0, fp));
	fclose(fp);
	assert_string_equal(diag,
	    "/nonexistent/uxrpd.conf: No such file or directory\n"
	    "/: Is a directory\n");
}

/* The sample configuration shipped in etc/, when run from the top. */
static void
t_sample(void **state)
{
	struct uxrp_conf	*conf;
	FILE			*fp;

	(void)state;
	if (access("etc/uxrpd.conf", R_OK) == -1)
		skip();
	free(diag);
	diag = NULL;
	assert_non_null(fp = open_memstream(&diag, &diaglen));
	conf = conf_load("etc/uxrpd.conf", CONF_NORESOLVE, fp);
	fclose(fp);
	if (conf == NULL)
		fail_msg("%s", diag);
	assert_int_equal(conf->nlisteners, 3);
	assert_int_equal(conf->nvhosts, 2);
	assert_int_equal(conf->norigins, 3);
	conf_free(conf);
}

/* Columns count bytes, lines count '\n'; keys may be escaped. */
static void
t_positions(void **state)
{
	(void)state;
	refused("{\"user\": \"\u00e9t\u00e9\", \"workers\": 0,\n"
	    "\t\"w\\u00e9\": 1, \"listen\": [],\r\n"
	    "  \"a\\nb\": 2, " VHOSTS "}",
	    "t.conf:1:30: workers: out of range (1..256)\n"
	    "t.conf:2:13: w\u00e9: unknown key\n"
	    "t.conf:2:26: listen: must not be empty\n"
	    "t.conf:3:11: a\\x0ab: unknown key\n");
}

/*
 * Errors, one class each.
 */

static void
t_syntax(void **state)
{
	(void)state;
	refused("{\n  \"workers\": 2,\n  \"listen\": [ { \"port\": 80, } ]\n}",
	    "t.conf:3:29: listen[0]: syntax error: string or '}' expected "
	    "near '}'\n");
	refused("{ \"workers\": tru }",
	    "t.conf:1:14: workers: syntax error: invalid token near 'tru'\n");
	refused("{ \"vhosts\": [ {\"mounts\": [1, 2",
	    "t.conf:1:31: vhosts[0].mounts: syntax error: ']' expected near "
	    "end of file\n");
	refused("", "t.conf:1:1: (top): syntax error: unexpected token near "
	    "end of file\n");
	refused("{} x", "t.conf:1:4: (top): syntax error: end of file "
	    "expected near 'x'\n");
	refused("{\"a\": \"\xff\"}",
	    "t.conf:1:7: a: syntax error: unable to decode byte 0xff near "
	    "'\"'\n");
}

static void
t_duplicate_key(void **state)
{
	(void)state;
	refused("{ " LISTEN ",\n  \"workers\": 1,\n  \"workers\": 2 }",
	    "t.conf:3:3: workers: duplicate key\n");
	refused("{ \"listen\": [{\"port\": 1, \"port\": 2}] }",
	    "t.conf:1:26: listen[0].port: duplicate key\n");
}

static void
t_nul(void **state)
{
	(void)state;
	refused("{ \"user\": \"a\\u0000b\" }",
	    "t.conf:1:11: user: NUL (\\u0000) not allowed in a string\n");
}

static void
t_not_object(void **state)
{
	(void)state;
	refused("[1, 2]", "t.conf:1:1: (top): expected an object\n");
	refused("  \"x\"", "t.conf:1:3: (top): expected an object\n");
}

/* "control", "control_users" and the "check" of a mount. */
static void
t_control_check(void **state)
{
	struct uxrp_conf	*conf;
	struct origin_conf	*o;

	(void)state;
	conf = load("{ " LISTEN ", " VHOSTS " }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(conf->control, UXRP_CONTROL_SOCKET);
	assert_int_equal(conf->control_set, 0);
	assert_int_equal(conf->ncontrol_users, 0);
	assert_int_equal(conf_origin(conf, 0)->check_interval, 0);
	conf_free(conf);

	conf = load("{ \"control\": null, \"control_users\": [\"root\"], "
	    LISTEN ", \"vhosts\": [{\"mounts\": [{\"mountpoint\": \"/\", "
	    "\"origin\": \"127.0.0.1:1\", \"check\": {\"path\": \"/hz\"}}, "
	    "{\"mountpoint\": \"/b/\", \"origin\": \"127.0.0.1:1\", "
	    "\"check\": {\"path\": \"/hz\", \"interval\": 5, "
	    "\"timeout\": 2}}]}] }", CONF_NORESOLVE);
	assert_non_null(conf);
	assert_string_equal(conf->control, "");
	assert_int_equal(conf->control_set, 1);
	assert_int_equal(conf->ncontrol_users, 1);
	assert_int_equal(conf->control_uids[0], 0);
	o = conf_origin(conf, 0);
	assert_string_equal(o->check_path, "/hz");
	assert_int_equal(o->check_interval, 5);
	assert_int_equal(o->check_timeout, 2);
	conf_free(conf);

	refused("{ \"control\": \"x.sock\", " LISTEN ", " VHOSTS " }",
	    "t.conf:1:14: control: must be an absolute path\n");
	refused("{ \"control_users\": [1], " LISTEN ", " VHOSTS " }",
	    "t.conf:1:21: control_users[0]: expected a string\n");
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [{\"mountpoint\": "
	    "\"/\", \"origin\": \"127.0.0.1:1\", \"check\": {\"interval\": "
	    "2, \"timeout\": 3}}]}] }",
	    "t.conf:1:132: vhosts[0].mounts[0].check.path: required key "
	    "missing\n");
}

static void
t_unknown_keys(void **state)
{
	(void)state;
	refused("{ \"controls\": \"/x\", " LISTEN ", " VHOSTS " }",
	    "t.conf:1:15: controls: unknown key\n");
	refused("{ \"listen\": [{\"adress\": \"127.0.0.1\", \"port\": 80,"
	    " \"path\": \"/x\"}], " VHOSTS " }",
	    "t.conf:1:25: listen[0].adress: unknown key\n"
	    "t.conf:1:46: listen[0].port: only for an address listener\n");
	refused("{ " LISTEN ", \"timeouts\": {\"read\": 3}, " VHOSTS " }",
	    "t.conf:1:76: timeouts.read: unknown key\n");
	refused("{ " LISTEN ", \"limits\": {\"body\": 3}, " VHOSTS " }",
	    "t.conf:1:74: limits.body: unknown key\n");
	refused("{ " LISTEN ", \"vhosts\": [{\"tlz\": {}, \"mounts\": [{"
	    "\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:1\", "
	    "\"checks\": {\"path\": \"/\"}}]}] }",
	    "t.conf:1:74: vhosts[0].tlz: unknown key\n"
	    "t.conf:1:144: vhosts[0].mounts[0].checks: unknown key\n");
}

static void
t_wrong_types(void **state)
{
	(void)state;
	refused("{ \"user\": 1, \"chroot\": 2, \"workers\": \"2\",\n"
	    "\"access_log\": true, \"listen\": {}, \"timeouts\": [],\n"
	    "\"limits\": 3, \"vhosts\": \"x\" }",
	    "t.conf:1:11: user: expected a string\n"
	    "t.conf:1:24: chroot: expected a string or null\n"
	    "t.conf:1:38: workers: expected an integer\n"
	    "t.conf:2:15: access_log: expected a string or null\n"
	    "t.conf:2:31: listen: expected an array\n"
	    "t.conf:2:47: timeouts: expected an object\n"
	    "t.conf:3:11: limits: expected an object\n"
	    "t.conf:3:24: vhosts: expected an array\n");
	refused("{ \"listen\": [1, {\"address\": 1, \"port\": \"80\"},"
	    " {\"path\": null}], " VHOSTS " }",
	    "t.conf:1:14: listen[0]: expected an object\n"
	    "t.conf:1:29: listen[1].address: expected a string\n"
	    "t.conf:1:40: listen[1].port: expected an integer\n"
	    "t.conf:1:56: listen[2].path: expected a string\n");
	refused("{ " LISTEN ", \"timeouts\": {\"idle\": 1.5},"
	    " \"vhosts\": [{\"names\": \"a\", \"error_css\": 1, "
	    "\"mounts\": {}},"
	    " {\"names\": [1], \"mounts\": [[], {\"mountpoint\": 1,"
	    " \"origin\": 2, \"origin_path\": 3}]}] }",
	    "t.conf:1:76: timeouts.idle: expected an integer\n"
	    "t.conf:1:103: vhosts[0].names: expected an array\n"
	    "t.conf:1:121: vhosts[0].error_css: expected a string\n"
	    "t.conf:1:134: vhosts[0].mounts: expected an array\n"
	    "t.conf:1:150: vhosts[1].names[0]: expected a string\n"
	    "t.conf:1:165: vhosts[1].mounts[0]: expected an object\n"
	    "t.conf:1:184: vhosts[1].mounts[1].mountpoint: expected a string\n"
	    "t.conf:1:197: vhosts[1].mounts[1].origin: expected a string\n"
	    "t.conf:1:215: vhosts[1].mounts[1].origin_path: expected a "
	    "string\n");
}

static void
t_ranges(void **state)
{
	(void)state;
	refused("{ \"workers\": 0, " LISTEN ", " VHOSTS " }",
	    "t.conf:1:14: workers: out of range (1..256)\n");
	refused("{ \"workers\": 257, " LISTEN ", " VHOSTS " }",
	    "t.conf:1:14: workers: out of range (1..256)\n");
	refused("{ " LISTEN ", \"timeouts\": {\"connect\": 0, "
	    "\"request_header\": 86401, \"origin_response\": -1,"
	    " \"idle\": 86400, \"drain\": 99999999999999}, " VHOSTS " }",
	    "t.conf:1:79: timeouts.connect: out of range (1..86400)\n"
	    "t.conf:1:100: timeouts.request_header: out of range (1..86400)\n"
	    "t.conf:1:126: timeouts.origin_response: out of range "
	    "(1..86400)\n"
	    "t.conf:1:154: timeouts.drain: out of range (1..86400)\n");
	refused("{ \"listen\": [{\"address\": \"127.0.0.1\", \"port\": 0},"
	    " {\"address\": \"127.0.0.1\", \"port\": 65536}], " VHOSTS " }",
	    "t.conf:1:47: listen[0].port: out of range (1..65535)\n"
	    "t.conf:1:84: listen[1].port: out of range (1..65535)\n");
}

static void
t_limits(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"limits\": {\"header_bytes\": 1023}, " VHOSTS
	    " }", "t.conf:1:82: limits.header_bytes: out of range "
	    "(1024..1048576)\n");
	refused("{ " LISTEN ", \"limits\": {\"header_bytes\": 1048577}, "
	    VHOSTS " }", "t.conf:1:82: limits.header_bytes: out of range "
	    "(1024..1048576)\n");
	refused("{ " LISTEN ", \"limits\": {\"header_bytes\": 2048,"
	    " \"uri_bytes\": 4096}, " VHOSTS " }",
	    "t.conf:1:101: limits.uri_bytes: out of range (64..2048)\n");
	refused("{ " LISTEN ", \"limits\": {\"uri_bytes\": 63,"
	    " \"request_body_bytes\": -1}, " VHOSTS " }",
	    "t.conf:1:79: limits.uri_bytes: out of range (64..16384)\n"
	    "t.conf:1:105: limits.request_body_bytes: out of range "
	    "(0 or more)\n");
}

static void
t_missing(void **state)
{
	(void)state;
	refused("{ }",
	    "t.conf:1:1: listen: required key missing\n"
	    "t.conf:1:1: vhosts: required key missing\n");
	refused("{ " LISTEN ",\n  \"vhosts\": [\n    { \"names\": [] } ] }",
	    "t.conf:3:5: vhosts[0].mounts: required key missing\n");
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "  {\"mountpoint\": \"/\"},\n  {\"origin\": \"127.0.0.1:1\"}]}] }",
	    "t.conf:2:3: vhosts[0].mounts[0].origin: required key missing\n"
	    "t.conf:3:3: vhosts[0].mounts[1].mountpoint: required key "
	    "missing\n");
	refused("{ \"listen\": [{\"address\": \"::1\"}, {\"mode\": \"0600\"}], "
	    VHOSTS " }",
	    "t.conf:1:14: listen[0].port: required key missing\n"
	    "t.conf:1:34: listen[1]: address or path required\n");
}

static void
t_empty_arrays(void **state)
{
	(void)state;
	refused("{ \"listen\": [], \"vhosts\": [] }",
	    "t.conf:1:13: listen: must not be empty\n"
	    "t.conf:1:27: vhosts: must not be empty\n");
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": []}] }",
	    "t.conf:1:77: vhosts[0].mounts: must not be empty\n");
}

static void
t_dup_listeners(void **state)
{
	(void)state;
	refused("{ \"listen\": [\n"
	    "  {\"address\": \"127.0.0.1\", \"port\": 80},\n"
	    "  {\"address\": \"::1\", \"port\": 80},\n"
	    "  {\"address\": \"127.0.0.1\", \"port\": 80},\n"
	    "  {\"address\": \"0:0::1\", \"port\": 80}\n"
	    "], " VHOSTS " }",
	    "t.conf:4:3: listen[2]: duplicate listener 127.0.0.1:80 "
	    "(listen[0])\n"
	    "t.conf:5:3: listen[3]: duplicate listener [::1]:80 "
	    "(listen[1])\n");
	refused("{ \"listen\": [{\"path\": \"/tmp/a.sock\"}, "
	    "{\"path\": \"/tmp/a.sock\", \"mode\": \"0600\"}], " VHOSTS " }",
	    "t.conf:1:39: listen[1]: duplicate listener /tmp/a.sock "
	    "(listen[0])\n");
}

static void
t_listener_forms(void **state)
{
	(void)state;
	refused("{ \"listen\": [{\"address\": \"127.0.0.1\", \"port\": 80, "
	    "\"path\": \"/tmp/a.sock\"}], " VHOSTS " }",
	    "t.conf:1:14: listen[0]: both address and path given\n");
	refused("{ \"listen\": [{\"address\": \"localhost\", \"port\": 80},"
	    " {\"address\": \"1.2.3\", \"port\": 80},"
	    " {\"address\": \"\", \"port\": 80}], " VHOSTS " }",
	    "t.conf:1:26: listen[0].address: not a numeric IPv4 or IPv6 "
	    "address\n"
	    "t.conf:1:64: listen[1].address: not a numeric IPv4 or IPv6 "
	    "address\n"
	    "t.conf:1:98: listen[2].address: not a numeric IPv4 or IPv6 "
	    "address\n");
	refused("{ \"listen\": [{\"path\": \"tmp/a.sock\"},"
	    " {\"path\": \"/tmp/a.sock\", \"port\": 80},"
	    " {\"address\": \"::\", \"port\": 80, \"mode\": \"0600\"}], "
	    VHOSTS " }",
	    "t.conf:1:23: listen[0].path: must be an absolute path\n"
	    "t.conf:1:70: listen[1].port: only for an address listener\n"
	    "t.conf:1:113: listen[2].mode: only for a path listener\n");
}

static void
t_listener_path_long(void **state)
{
	char	 text[1024], want[256], path[200];

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[UXRP_SUN_PATH_MAX] = '\0';	/* one too long */
	fmt(text, sizeof(text), "{ \"listen\": [{\"path\": \"%s\"}], "
	    VHOSTS " }", path);
	fmt(want, sizeof(want), "t.conf:1:23: listen[0].path: "
	    "socket path too long (max %zu bytes)\n", UXRP_SUN_PATH_MAX - 1);
	refused(text, want);
	path[UXRP_SUN_PATH_MAX - 1] = '\0';	/* fits with its NUL */
	fmt(text, sizeof(text), "{ \"listen\": [{\"path\": \"%s\"}], "
	    VHOSTS " }", path);
	accepted(text, "");
}

static void
t_modes(void **state)
{
	(void)state;
	accepted("{ \"listen\": [{\"path\": \"/tmp/a\", \"mode\": \"660\"},"
	    " {\"path\": \"/tmp/b\", \"mode\": \"0777\"}], " VHOSTS " }", "");
	refused("{ \"listen\": [\n"
	    "{\"path\": \"/tmp/a\", \"mode\": 660},\n"
	    "{\"path\": \"/tmp/b\", \"mode\": \"0888\"},\n"
	    "{\"path\": \"/tmp/c\", \"mode\": \"1777\"},\n"
	    "{\"path\": \"/tmp/d\", \"mode\": \"66\"},\n"
	    "{\"path\": \"/tmp/e\", \"mode\": \"00660\"},\n"
	    "{\"path\": \"/tmp/f\", \"mode\": \"rw-\"},\n"
	    "{\"path\": \"/tmp/g\", \"mode\": \"+660\"}], " VHOSTS " }",
	    "t.conf:2:28: listen[0].mode: expected a string, like \"0660\"\n"
	    "t.conf:3:28: listen[1].mode: expected 3 or 4 octal digits, like "
	    "\"0660\"\n"
	    "t.conf:4:28: listen[2].mode: out of range (max 0777)\n"
	    "t.conf:5:28: listen[3].mode: expected 3 or 4 octal digits, like "
	    "\"0660\"\n"
	    "t.conf:6:28: listen[4].mode: expected 3 or 4 octal digits, like "
	    "\"0660\"\n"
	    "t.conf:7:28: listen[5].mode: expected 3 or 4 octal digits, like "
	    "\"0660\"\n"
	    "t.conf:8:28: listen[6].mode: expected 3 or 4 octal digits, like "
	    "\"0660\"\n");
}

static void
t_paths(void **state)
{
	(void)state;
	refused("{ \"chroot\": \"var/uxrp\", \"access_log\": \"log\", " LISTEN
	    ", " VHOSTS " }",
	    "t.conf:1:13: chroot: must be an absolute path\n"
	    "t.conf:1:39: access_log: must be an absolute path\n");
	refused("{ \"chroot\": \"/var/../uxrp\", \"user\": \"a:b\", " LISTEN
	    ", " VHOSTS " }",
	    "t.conf:1:13: chroot: must not contain a . or .. segment\n"
	    "t.conf:1:37: user: not a valid user name\n");
}

static void
t_mountpoint_slash(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [{\"mountpoint\": "
	    "\"app/\", \"origin\": \"127.0.0.1:1\"}, {\"mountpoint\": \"\", "
	    "\"origin\": \"127.0.0.1:1\"}]}] }",
	    "t.conf:1:93: vhosts[0].mounts[0].mountpoint: must start with "
	    "'/'\n"
	    "t.conf:1:142: vhosts[0].mounts[1].mountpoint: must start with "
	    "'/'\n");
}

static void
t_mountpoint_chars(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a b/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/a?b/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/a%41/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/a#/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/\u00e9/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/a\\\\b/\", \"origin\": \"127.0.0.1:1\"}]}] }",
	    "t.conf:2:16: vhosts[0].mounts[0].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n"
	    "t.conf:3:16: vhosts[0].mounts[1].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n"
	    "t.conf:4:16: vhosts[0].mounts[2].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n"
	    "t.conf:5:16: vhosts[0].mounts[3].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n"
	    "t.conf:6:16: vhosts[0].mounts[4].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n"
	    "t.conf:7:16: vhosts[0].mounts[5].mountpoint: must be printable "
	    "ASCII without space, '?', '#', '%' or '\\'\n");
}

static void
t_dot_segments(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/../b/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/.\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/a/./\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/..\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/.a/..b/...\", \"origin\": "
	    "\"127.0.0.1:1\"}]}] }",
	    "t.conf:2:16: vhosts[0].mounts[0].mountpoint: must not contain a "
	    ". or .. segment\n"
	    "t.conf:3:16: vhosts[0].mounts[1].mountpoint: must not contain a "
	    ". or .. segment\n"
	    "t.conf:4:16: vhosts[0].mounts[2].mountpoint: must not contain a "
	    ". or .. segment\n"
	    "t.conf:5:16: vhosts[0].mounts[3].mountpoint: must not contain a "
	    ". or .. segment\n");
}

static void
t_dup_mountpoint(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/app/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:1\"},\n"
	    "{\"mountpoint\": \"/app\", \"origin\": \"127.0.0.1:2\"},\n"
	    "{\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:2\"}]},\n"
	    "{\"mounts\": [{\"mountpoint\": \"/app\", \"origin\": "
	    "\"127.0.0.1:1\"}]}] }",
	    "t.conf:4:16: vhosts[0].mounts[2].mountpoint: duplicate "
	    "mountpoint (mounts[0])\n"
	    "t.conf:5:16: vhosts[0].mounts[3].mountpoint: duplicate "
	    "mountpoint (mounts[1])\n");
}

static void
t_origin_lws(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"+\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"+run/a.sock:/\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"+/run/a.sock:x/\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"+/run/a.sock:\"},\n"
	    "{\"mountpoint\": \"/e/\", \"origin\": \"+:/x\"},\n"
	    "{\"mountpoint\": \"/f/\", \"origin\": \"+/run/a.sock:/x/../\"},\n"
	    "{\"mountpoint\": \"/g/\", \"origin\": \"+/run/../a.sock:/\"}]}] }",
	    "t.conf:2:33: vhosts[0].mounts[0].origin: socket path must be "
	    "absolute\n"
	    "t.conf:3:33: vhosts[0].mounts[1].origin: socket path must be "
	    "absolute\n"
	    "t.conf:4:33: vhosts[0].mounts[2].origin: origin path must start "
	    "with '/'\n"
	    "t.conf:5:33: vhosts[0].mounts[3].origin: origin path must start "
	    "with '/'\n"
	    "t.conf:6:33: vhosts[0].mounts[4].origin: socket path must be "
	    "absolute\n"
	    "t.conf:7:33: vhosts[0].mounts[5].origin: origin path must not "
	    "contain a . or .. segment\n"
	    "t.conf:8:33: vhosts[0].mounts[6].origin: socket path must not "
	    "contain a . or .. segment\n");
}

static void
t_origin_unix(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"unix:\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"unix:run/a.sock\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"/run/a.sock\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"unix:/run/a\\tb\"}]}] }",
	    "t.conf:2:33: vhosts[0].mounts[0].origin: socket path must be "
	    "absolute\n"
	    "t.conf:3:33: vhosts[0].mounts[1].origin: socket path must be "
	    "absolute\n"
	    "t.conf:4:33: vhosts[0].mounts[2].origin: a socket path needs "
	    "the \"unix:\" or \"+\" prefix\n"
	    "t.conf:5:33: vhosts[0].mounts[3].origin: socket path must not "
	    "contain control characters\n");
}

static void
t_origin_abstract(void **state)
{
	char	 text[1024], name[200];

	(void)state;
#ifndef __linux__
	skip();
#endif
	memset(name, 'n', sizeof(name));
	name[107] = '\0';
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": "
	    "[{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"@\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"@%s\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"@a b\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"@%s\", \"origin_user\": 0}]}] }", name,
	    name + 1);
	refused(text,
	    "t.conf:2:33: vhosts[0].mounts[0].origin: abstract socket name "
	    "missing\n"
	    "t.conf:3:33: vhosts[0].mounts[1].origin: abstract socket name "
	    "too long (max 106 bytes)\n"
	    "t.conf:4:33: vhosts[0].mounts[2].origin: abstract socket name "
	    "must be printable ASCII without space\n");
}

static void
t_origin_tcp(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"app\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"host:\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \":80\"},\n"
	    "{\"mountpoint\": \"/d/\", \"origin\": \"127.0.0.1:0\"},\n"
	    "{\"mountpoint\": \"/e/\", \"origin\": \"127.0.0.1:65536\"},\n"
	    "{\"mountpoint\": \"/f/\", \"origin\": \"127.0.0.1:http\"},\n"
	    "{\"mountpoint\": \"/g/\", \"origin\": \"::1:80\"},\n"
	    "{\"mountpoint\": \"/h/\", \"origin\": \"[::1]\"},\n"
	    "{\"mountpoint\": \"/i/\", \"origin\": \"[::1\"},\n"
	    "{\"mountpoint\": \"/j/\", \"origin\": \"[1.2.3.4]:80\"},\n"
	    "{\"mountpoint\": \"/k/\", \"origin\": \"http://a:80\"},\n"
	    "{\"mountpoint\": \"/l/\", \"origin\": \"example.org:80\"}]}] }",
	    "t.conf:2:33: vhosts[0].mounts[0].origin: expected "
	    "\"+/socket:/path\", \"unix:/path\", \"@name\" or \"host:port\"\n"
	    "t.conf:3:33: vhosts[0].mounts[1].origin: port missing\n"
	    "t.conf:4:33: vhosts[0].mounts[2].origin: host missing\n"
	    "t.conf:5:33: vhosts[0].mounts[3].origin: port out of range "
	    "(1..65535)\n"
	    "t.conf:6:33: vhosts[0].mounts[4].origin: port out of range "
	    "(1..65535)\n"
	    "t.conf:7:33: vhosts[0].mounts[5].origin: port out of range "
	    "(1..65535)\n"
	    "t.conf:8:33: vhosts[0].mounts[6].origin: an IPv6 address needs "
	    "brackets, like [::1]:8080\n"
	    "t.conf:9:33: vhosts[0].mounts[7].origin: port missing\n"
	    "t.conf:10:33: vhosts[0].mounts[8].origin: expected "
	    "\"+/socket:/path\", \"unix:/path\", \"@name\" or \"host:port\"\n"
	    "t.conf:11:33: vhosts[0].mounts[9].origin: not a numeric IPv6 "
	    "address\n"
	    "t.conf:12:33: vhosts[0].mounts[10].origin: a URL is not an "
	    "origin; write host:port\n"
	    "t.conf:13:33: vhosts[0].mounts[11].origin: host example.org is "
	    "not a numeric address\n");
}

/* Without CONF_NORESOLVE names are resolved: "localhost" is known. */
static void
t_origin_resolve(void **state)
{
	struct uxrp_conf	*conf;

	(void)state;
	conf = load("{ " LISTEN ", \"vhosts\": [{\"mounts\": [{\"mountpoint\":"
	    " \"/\", \"origin\": \"localhost:9000\"}]}] }", 0);
	if (conf == NULL)
		fail_msg("%s", diag);
	assert_int_equal(conf_origin(conf, 0)->type, ORIGIN_TCP);
	assert_string_equal(conf_origin(conf, 0)->name, "localhost:9000");
	conf_free(conf);
	conf = load("{ " LISTEN ", \"vhosts\": [{\"mounts\": [{\"mountpoint\":"
	    " \"/\", \"origin\": \"no-such-host.invalid:9000\"}]}] }", 0);
	assert_null(conf);
	assert_memory_equal(diag, "t.conf:1:108: vhosts[0].mounts[0].origin: "
	    "cannot resolve no-such-host.invalid: ", 77);
}

static void
t_socket_too_long(void **state)
{
	char	 text[2048], want[1024], path[300];
	size_t	 max = UXRP_SUN_PATH_MAX - 1;

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[max + 1] = '\0';
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": "
	    "[{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"+%s:/\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"unix:%s\"}]}] }", path,
	    path);
	fmt(want, sizeof(want),
	    "t.conf:2:33: vhosts[0].mounts[0].origin: socket path too long "
	    "(max %zu bytes)\n"
	    "t.conf:3:33: vhosts[0].mounts[1].origin: socket path too long "
	    "(max %zu bytes)\n", max, max);
	refused(text, want);

	/* max bytes fit */
	path[max] = '\0';
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": "
	    "[{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"+%s:/\"}]}] }", path);
	fmt(want, sizeof(want), "t.conf:2:33: "
	    "vhosts[0].mounts[0].origin: warning: socket does not exist yet\n");
	accepted(text, want);
}

static void
t_origin_path(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [{\"mounts\": [\n"
	    "{\"mountpoint\": \"/a/\", \"origin\": \"+/run/a.sock:/x/\", "
	    "\"origin_path\": \"/y/\"},\n"
	    "{\"mountpoint\": \"/b/\", \"origin\": \"+/run/a.sock\", "
	    "\"origin_path\": \"/y/\"},\n"
	    "{\"mountpoint\": \"/c/\", \"origin\": \"127.0.0.1:1\", "
	    "\"origin_path\": \"y/\"}]}] }",
	    "t.conf:2:33: vhosts[0].mounts[0].origin: warning: socket does "
	    "not exist yet\n"
	    "t.conf:2:68: vhosts[0].mounts[0].origin_path: not allowed with "
	    "a \"+\" origin, which carries its own path\n"
	    "t.conf:3:64: vhosts[0].mounts[1].origin_path: not allowed with "
	    "a \"+\" origin, which carries its own path\n"
	    "t.conf:4:63: vhosts[0].mounts[2].origin_path: must start with "
	    "'/'\n");
}

static void
t_names(void **state)
{
	char	 text[2048], label[80], longname[300];
	int	 i;

	(void)state;
	memset(label, 'a', sizeof(label));
	label[64] = '\0';
	memset(longname, 'a', sizeof(longname));
	for (i = 50; i < 260; i += 51)
		longname[i] = '.';
	longname[254] = '\0';
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": "
	    "[{\"names\": [\n"
	    "\"exa mple.org\",\n"
	    "\"a..b\",\n"
	    "\"*.\",\n"
	    "\"*\",\n"
	    "\"a.*.org\",\n"
	    "\"foo_bar.org\",\n"
	    "\"%s.org\",\n"
	    "\"%s\",\n"
	    "\"example.org.\",\n"
	    "\"*.*.org\",\n"
	    "\"x.org:80\"],\n"
	    "\"mounts\": [{\"mountpoint\": \"/\", \"origin\": "
	    "\"127.0.0.1:1\"}]}] }", label, longname);
	refused(text,
	    "t.conf:2:1: vhosts[0].names[0]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:3:1: vhosts[0].names[1]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:4:1: vhosts[0].names[2]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:5:1: vhosts[0].names[3]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:6:1: vhosts[0].names[4]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:7:1: vhosts[0].names[5]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:8:1: vhosts[0].names[6]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:9:1: vhosts[0].names[7]: too long (max 253 bytes)\n"
	    "t.conf:10:1: vhosts[0].names[8]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:11:1: vhosts[0].names[9]: not a valid host name or \"*.\" "
	    "wildcard\n"
	    "t.conf:12:1: vhosts[0].names[10]: not a valid host name or "
	    "\"*.\" wildcard\n");
	longname[253] = '\0';
	label[63] = '\0';
	fmt(text, sizeof(text), "{ " LISTEN ", \"vhosts\": "
	    "[{\"names\": [\"%s\", \"%s.org\", \"1.2.3.4\", \"-x-.org\"], "
	    "\"mounts\": [{\"mountpoint\": \"/\", \"origin\": "
	    "\"127.0.0.1:1\"}]}] }", longname, label);
	accepted(text, "");
}

static void
t_dup_names(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [\n"
	    "{\"names\": [\"example.org\", \"*.example.org\"], \"mounts\": "
	    "[{\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"names\": [\"www.example.org\", \"EXAMPLE.org\"], \"mounts\": "
	    "[{\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"names\": [\"*.Example.org\", \"a.org\", \"a.org\"], "
	    "\"mounts\": "
	    "[{\"mountpoint\": \"/\", \"origin\": \"127.0.0.1:1\"}]}] }",
	    "t.conf:3:31: vhosts[1].names[1]: name example.org already used "
	    "by vhosts[0]\n"
	    "t.conf:4:12: vhosts[2].names[0]: name *.example.org already used "
	    "by vhosts[0]\n"
	    "t.conf:4:38: vhosts[2].names[2]: name a.org already used by "
	    "vhosts[2]\n");
}

static void
t_error_css(void **state)
{
	(void)state;
	refused("{ " LISTEN ", \"vhosts\": [\n"
	    "{\"error_css\": \"error.css\", \"mounts\": [{\"mountpoint\": "
	    "\"/\","
	    " \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"error_css\": \"/a\\\"b.css\", \"mounts\": [{\"mountpoint\": "
	    "\"/\", \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"error_css\": \"/a<b>.css\", \"mounts\": [{\"mountpoint\": "
	    "\"/\", \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"error_css\": \"/a b.css\", \"mounts\": [{\"mountpoint\": "
	    "\"/\", \"origin\": \"127.0.0.1:1\"}]},\n"
	    "{\"error_css\": \"/a\\nb.css\", \"mounts\": [{\"mountpoint\": "
	    "\"/\", \"origin\": \"127.0.0.1:1\"}]}] }",
	    "t.conf:2:15: vhosts[0].error_css: must start with '/'\n"
	    "t.conf:3:15: vhosts[1].error_css: must not contain spaces, "
	    "quotes, '<', '>' or control characters\n"
	    "t.conf:4:15: vhosts[2].error_css: must not contain spaces, "
	    "quotes, '<', '>' or control characters\n"
	    "t.conf:5:15: vhosts[3].error_css: must not contain spaces, "
	    "quotes, '<', '>' or control characters\n"
	    "t.conf:6:15: vhosts[4].error_css: must not contain spaces, "
	    "quotes, '<', '>' or control characters\n");
}

/* Every error of a file is reported, in file order, not only the first. */
static void
t_multiple(void **state)
{
	(void)state;
	refused("{\n"
	    "  \"vhosts\": [ { \"mounts\": [ { \"mountpoint\": \"x\",\n"
	    "                             \"origin\": \"@\" } ] } ],\n"
	    "  \"workers\": -1,\n"
	    "  \"listen\": [ { \"address\": \"1.2.3.4\", \"port\": 99999 } ],\n"
	    "  \"timeouts\": { \"idle\": 0 },\n"
	    "  \"bogus\": null\n"
	    "}\n",
	    "t.conf:2:45: vhosts[0].mounts[0].mountpoint: must start with "
	    "'/'\n"
	    "t.conf:3:40: vhosts[0].mounts[0].origin: abstract socket name "
	    "missing\n"
	    "t.conf:4:14: workers: out of range (1..256)\n"
	    "t.conf:5:47: listen[0].port: out of range (1..65535)\n"
	    "t.conf:6:25: timeouts.idle: out of range (1..86400)\n"
	    "t.conf:7:12: bogus: unknown key\n");
}

/* At most 20 errors are printed, then a count. */
static void
t_too_many(void **state)
{
	char	 text[4096], want[4096];
	size_t	 off, woff;
	int	 i;

	(void)state;
	off = strlcpy(text, "{ " VHOSTS ", \"listen\": [", sizeof(text));
	woff = 0;
	for (i = 0; i < 25; i++) {
		fmt(text + off, sizeof(text) - off, "%s\n{\"port\": 0}",
		    i > 0 ? "," : "");
		off += strlen(text + off);
		if (i < 20) {
			fmt(want + woff, sizeof(want) - woff, "t.conf:%d:1: "
			    "listen[%d]: address or path required\n", i + 2, i);
			woff += strlen(want + woff);
		}
	}
	(void)strlcpy(text + off, "] }", sizeof(text) - off);
	(void)strlcpy(want + woff, "t.conf: too many errors (25)\n",
	    sizeof(want) - woff);
	refused(text, want);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(t_full),
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_conf_new),
		cmocka_unit_test(t_null_chroot_log),
		cmocka_unit_test(t_uri_default),
		cmocka_unit_test(t_origin_dedup),
		cmocka_unit_test(t_origin_dedup_tcp),
		cmocka_unit_test(t_privileged),
		cmocka_unit_test(t_privileged_nochroot),
		cmocka_unit_test(t_privileged_errors),
		cmocka_unit_test(t_report),
		cmocka_unit_test(t_warnings),
		cmocka_unit_test(t_load_file),
		cmocka_unit_test(t_load_missing),
		cmocka_unit_test(t_sample),
		cmocka_unit_test(t_positions),
		cmocka_unit_test(t_syntax),
		cmocka_unit_test(t_duplicate_key),
		cmocka_unit_test(t_nul),
		cmocka_unit_test(t_not_object),
		cmocka_unit_test(t_unknown_keys),
		cmocka_unit_test(t_control_check),
		cmocka_unit_test(t_wrong_types),
		cmocka_unit_test(t_ranges),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_missing),
		cmocka_unit_test(t_empty_arrays),
		cmocka_unit_test(t_dup_listeners),
		cmocka_unit_test(t_listener_forms),
		cmocka_unit_test(t_listener_path_long),
		cmocka_unit_test(t_modes),
		cmocka_unit_test(t_paths),
		cmocka_unit_test(t_mountpoint_slash),
		cmocka_unit_test(t_mountpoint_chars),
		cmocka_unit_test(t_dot_segments),
		cmocka_unit_test(t_dup_mountpoint),
		cmocka_unit_test(t_origin_lws),
		cmocka_unit_test(t_origin_unix),
		cmocka_unit_test(t_origin_abstract),
		cmocka_unit_test(t_origin_tcp),
		cmocka_unit_test(t_origin_resolve),
		cmocka_unit_test(t_socket_too_long),
		cmocka_unit_test(t_origin_path),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_dup_names),
		cmocka_unit_test(t_error_css),
		cmocka_unit_test(t_multiple),
		cmocka_unit_test(t_too_many),
	};

	int	 rc;

	rc = cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
	(void)teardown_diag(NULL);
	return (rc);
}
