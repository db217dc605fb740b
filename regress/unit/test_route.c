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
 * Unit tests of worker/route.c: Host to virtual host (exact, wildcard,
 * first), path to mount (longest prefix on a segment boundary, the
 * redirect for a slashed mountpoint without its slash) and the target
 * the origin gets.
 */

#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uxrp.h"
#include "worker.h"

static struct uxrp_conf	*conf;

static struct vhost_conf *
add_vhost(int id)
{
	struct vhost_conf	*v;

	v = calloc(1, sizeof(*v));
	assert_non_null(v);
	v->id = id;
	TAILQ_INIT(&v->names);
	TAILQ_INIT(&v->mounts);
	TAILQ_INSERT_TAIL(&conf->vhosts, v, entry);
	return (v);
}

static void
add_name(struct vhost_conf *v, const char *name)
{
	struct vhost_name	*vn;

	vn = calloc(1, sizeof(*vn));
	assert_non_null(vn);
	strlcpy(vn->name, name, sizeof(vn->name));
	vn->wildcard = name[0] == '*';
	TAILQ_INSERT_TAIL(&v->names, vn, entry);
}

/* Mounts go in longest first, as the loader keeps them. */
static void
add_mount(struct vhost_conf *v, const char *mp, const char *op, int origin)
{
	struct mount_conf	*m, *i;

	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	strlcpy(m->mountpoint, mp, sizeof(m->mountpoint));
	m->mountpoint_len = strlen(mp);
	strlcpy(m->origin_path, op, sizeof(m->origin_path));
	m->origin_path_len = strlen(op);
	m->origin_id = origin;
	TAILQ_FOREACH(i, &v->mounts, entry)
		if (i->mountpoint_len < m->mountpoint_len)
			break;
	if (i != NULL)
		TAILQ_INSERT_BEFORE(i, m, entry);
	else
		TAILQ_INSERT_TAIL(&v->mounts, m, entry);
}

static int
setup(void **state)
{
	struct vhost_conf	*v0, *v1, *v2;

	(void)state;
	conf = conf_new();
	assert_non_null(conf);
	v0 = add_vhost(0);
	add_name(v0, "a.test");
	add_mount(v0, "/", "/", 0);
	add_mount(v0, "/app/", "/inner/", 1);
	add_mount(v0, "/api", "/v2", 2);
	add_mount(v0, "/api/admin/", "/", 3);
	add_mount(v0, "/s/", "/slash/", 4);
	add_mount(v0, "/ns/", "/noslash", 5);
	add_mount(v0, "/t", "/t2/", 6);
	v1 = add_vhost(1);
	add_name(v1, "*.example.org");
	add_mount(v1, "/", "/", 7);
	v2 = add_vhost(2);
	add_name(v2, "*.b.example.org");
	add_name(v2, "exact.example.org");
	add_mount(v2, "/", "/", 8);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	conf_free(conf);
	return (0);
}

static int
vhost_id(const char *host)
{
	struct vhost_conf	*v;

	v = route_vhost(conf, host, host != NULL ? strlen(host) : 0);
	assert_non_null(v);
	return (v->id);
}

static void
t_vhost(void **state)
{
	(void)state;
	assert_int_equal(vhost_id("a.test"), 0);
	assert_int_equal(vhost_id("A.TEST"), 0);
	assert_int_equal(vhost_id("a.test:8080"), 0);
	assert_int_equal(vhost_id("a.test."), 0);
	assert_int_equal(vhost_id("x.example.org"), 1);
	assert_int_equal(vhost_id("y.x.example.org:443"), 1);
	/* the longest wildcard wins; an exact name beats them all */
	assert_int_equal(vhost_id("c.b.example.org"), 2);
	assert_int_equal(vhost_id("exact.example.org"), 2);
	/* a wildcard needs a label before its suffix */
	assert_int_equal(vhost_id("example.org"), 0);
	assert_int_equal(vhost_id("other.test"), 0);
	assert_int_equal(vhost_id("[::1]:80"), 0);
	assert_int_equal(vhost_id(NULL), 0);
}

/* The mountpoint chosen for path, "-" for none, "R" for a redirect. */
static const char *
mount_of(const char *path)
{
	const struct mount_conf	*m;
	int			 redirect;

	m = route_mount(TAILQ_FIRST(&conf->vhosts), path, strlen(path),
	    &redirect);
	if (m == NULL)
		return ("-");
	return (redirect ? "R" : m->mountpoint);
}

static void
t_mount(void **state)
{
	(void)state;
	assert_string_equal(mount_of("/app/x"), "/app/");
	assert_string_equal(mount_of("/app/"), "/app/");
	assert_string_equal(mount_of("/app"), "R");
	assert_string_equal(mount_of("/app?x=1"), "R");
	assert_string_equal(mount_of("/apple"), "/");
	assert_string_equal(mount_of("/api"), "/api");
	assert_string_equal(mount_of("/api/x"), "/api");
	assert_string_equal(mount_of("/api?q"), "/api");
	assert_string_equal(mount_of("/apix"), "/");
	assert_string_equal(mount_of("/api/admin/users"), "/api/admin/");
	assert_string_equal(mount_of("/api/admin"), "R");
	assert_string_equal(mount_of("/api/adminx"), "/api");
	assert_string_equal(mount_of("/"), "/");
	assert_string_equal(mount_of("/x/app/"), "/");
}

static const char *
rewrite(const char *path)
{
	static char		 buf[256];
	const struct mount_conf	*m;
	int			 redirect, n;

	m = route_mount(TAILQ_FIRST(&conf->vhosts), path, strlen(path),
	    &redirect);
	assert_non_null(m);
	assert_int_equal(redirect, 0);
	n = route_rewrite(m, path, strlen(path), buf, sizeof(buf));
	assert_true(n >= 0);
	assert_int_equal((size_t)n, strlen(buf));
	return (buf);
}

static void
t_rewrite(void **state)
{
	(void)state;
	assert_string_equal(rewrite("/app/x?q=1"), "/inner/x?q=1");
	assert_string_equal(rewrite("/app/"), "/inner/");
	/* every byte after the mountpoint goes on */
	assert_string_equal(rewrite("/app//double//slash"),
	    "/inner//double//slash");
	assert_string_equal(rewrite("/app/a%20b%2Fc"), "/inner/a%20b%2Fc");
	assert_string_equal(rewrite("/api"), "/v2");
	assert_string_equal(rewrite("/api/x"), "/v2/x");
	assert_string_equal(rewrite("/api?q"), "/v2?q");
	assert_string_equal(rewrite("/api/admin/u"), "/u");
	assert_string_equal(rewrite("/s/x"), "/slash/x");
	assert_string_equal(rewrite("/ns/x"), "/noslash/x");
	assert_string_equal(rewrite("/ns/?q"), "/noslash?q");
	assert_string_equal(rewrite("/t/x"), "/t2/x");
	assert_string_equal(rewrite("/t"), "/t2/");
	assert_string_equal(rewrite("/t?q"), "/t2/?q");
	assert_string_equal(rewrite("/other"), "/other");
}

static void
t_rewrite_too_long(void **state)
{
	const struct mount_conf	*m;
	char			 buf[8];
	int			 redirect;

	(void)state;
	m = route_mount(TAILQ_FIRST(&conf->vhosts), "/app/xyz", 8, &redirect);
	assert_non_null(m);
	assert_int_equal(route_rewrite(m, "/app/xyz", 8, buf, sizeof(buf)),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_vhost),
		cmocka_unit_test(t_mount),
		cmocka_unit_test(t_rewrite),
		cmocka_unit_test(t_rewrite_too_long),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
