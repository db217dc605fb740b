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
 * Unit tests of worker/h1_parse.c: request and response heads, the
 * chunked decoder and the field, path and host helpers.
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

#include "worker/http.h"

static struct http_request	req;
static struct http_response	resp;

/* Parses a request head given as a C string; returns the status. */
static int
preq_n(const char *s, size_t len, size_t uri_max)
{
	int	status = -1, rv;

	rv = h1_request_parse(s, len, uri_max, &req, &status);
	if (rv == 0)
		assert_int_equal(status, 0);
	else
		assert_int_not_equal(status, 0);
	return (rv == 0 ? 0 : status);
}

static int
preq(const char *s)
{
	return (preq_n(s, strlen(s), 8192));
}

static int
presp(const char *s)
{
	return (h1_response_parse(s, strlen(s), &resp));
}

static int
streq(const char *p, size_t len, const char *s)
{
	return (p != NULL && len == strlen(s) && memcmp(p, s, len) == 0);
}

static int
field_index(const char *name)
{
	int	i;

	for (i = 0; i < req.nfields; i++)
		if (http_field_is(&req.fields[i], name))
			return (i);
	return (-1);
}

/*
 * h1_head_end
 */

static void
test_head_end_whole(void **state)
{
	const char	*s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	size_t		 off = 0;

	(void)state;
	assert_int_equal(h1_head_end(s, strlen(s), &off), strlen(s) - 4);
}

static void
test_head_end_bytewise(void **state)
{
	const char	*s = "GET /x HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
	size_t		 off = 0, i, len = strlen(s);
	ssize_t		 n = 0;

	(void)state;
	for (i = 1; i <= len; i++) {
		n = h1_head_end(s, i, &off);
		if (i < len) {
			assert_int_equal(n, 0);
			/* The scan never goes back more than one byte. */
			assert_true(off + 1 >= i);
		}
	}
	assert_int_equal(n, len);
}

static void
test_head_end_bare_lf(void **state)
{
	size_t	off = 0;

	(void)state;
	assert_int_equal(h1_head_end("GET / HTTP/1.1\nHost: a\r\n\r\n", 26,
	    &off), -1);
	off = 0;
	assert_int_equal(h1_head_end("GET / HTTP/1.1\r\n\n", 17, &off), -1);
}

static void
test_head_end_bare_cr(void **state)
{
	const char	*s = "GET / HTTP/1.1\rHost: a\r\n\r\n";
	size_t		 off = 0, i;
	ssize_t		 n = 0;

	(void)state;
	assert_int_equal(h1_head_end(s, strlen(s), &off), -1);
	/* A CR at the end of the buffer waits for the next byte. */
	off = 0;
	for (i = 1; i <= 15 && n == 0; i++)
		n = h1_head_end(s, i, &off);
	assert_int_equal(n, 0);
	assert_int_equal(h1_head_end(s, 16, &off), -1);
}

static void
test_head_end_leading_crlf(void **state)
{
	size_t	off = 0;

	(void)state;
	assert_int_equal(h1_head_end("\r\nGET / HTTP/1.1\r\n\r\n", 20, &off),
	    -1);
	off = 0;
	assert_int_equal(h1_head_end("\r", 1, &off), 0);
	assert_int_equal(h1_head_end("\r\n", 2, &off), -1);
}

/*
 * Requests that parse
 */

static void
test_req_get(void **state)
{
	const char	*s = "GET /a/b?c=d HTTP/1.1\r\nHost: example.org\r\n"
	    "User-Agent:  x y \r\n\r\n";

	(void)state;
	assert_int_equal(preq(s), 0);
	assert_true(streq(req.method, req.methodlen, "GET"));
	assert_true(streq(req.target, req.targetlen, "/a/b?c=d"));
	assert_int_equal(req.form, TARGET_ORIGIN);
	assert_true(streq(req.path, req.pathlen, "/a/b?c=d"));
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nfields, 2);
	assert_true(streq(req.fields[1].name, req.fields[1].namelen,
	    "User-Agent"));
	assert_true(streq(req.fields[1].value, req.fields[1].valuelen,
	    "x y"));
	assert_true(streq(req.host, req.hostlen, "example.org"));
	assert_int_equal(req.content_length, -1);
	assert_int_equal(req.chunked, 0);
	assert_int_equal(req.is_head, 0);
	assert_int_equal(req.expect_continue, 0);
	assert_int_equal(req.headlen, strlen(s));
}

static void
test_req_head(void **state)
{
	(void)state;
	assert_int_equal(preq("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	assert_int_equal(req.is_head, 1);
	/* Methods are case-sensitive. */
	assert_int_equal(preq("head / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	assert_int_equal(req.is_head, 0);
}

static void
test_req_post_cl(void **state)
{
	(void)state;
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 42\r\n\r\n"), 0);
	assert_int_equal(req.content_length, 42);
	assert_int_equal(req.chunked, 0);
}

static void
test_req_post_chunked(void **state)
{
	(void)state;
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: ChUnKeD\r\n\r\n"), 0);
	assert_int_equal(req.chunked, 1);
	assert_int_equal(req.content_length, -1);
}

static void
test_req_te_htab(void **state)
{
	(void)state;
	/* HTAB is OWS after the colon and before the end. */
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding:\tchunked\t\r\n\r\n"), 0);
	assert_int_equal(req.chunked, 1);
	/* A line starting with HTAB is obs-fold. */
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\nX-A: b\r\n"
	    "\tc\r\n\r\n"), 400);
}

static void
test_req_te_empty_elements(void **state)
{
	(void)state;
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: , chunked ,\r\n\r\n"), 0);
	assert_int_equal(req.chunked, 1);
	assert_int_equal(preq("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: ,\r\n\r\n"), 400);
}

static void
test_req_cl_zero(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(req.content_length, 0);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 9223372036854775807\r\n\r\n"), 0);
	assert_true(req.content_length == INT64_MAX);
}

static void
test_req_absolute(void **state)
{
	(void)state;
	assert_int_equal(preq("GET HTTP://Example.org:8080/p?q HTTP/1.1\r\n"
	    "Host: example.ORG:8080\r\n\r\n"), 0);
	assert_int_equal(req.form, TARGET_ABSOLUTE);
	assert_true(streq(req.path, req.pathlen, "/p?q"));
	assert_true(streq(req.host, req.hostlen, "example.ORG:8080"));
}

static void
test_req_absolute_nopath(void **state)
{
	(void)state;
	assert_int_equal(preq("GET https://a.b HTTP/1.1\r\nHost: a.b\r\n\r\n"),
	    0);
	assert_int_equal(req.form, TARGET_ABSOLUTE);
	assert_true(streq(req.path, req.pathlen, "/"));
	/* Query without a path cannot be rewritten in place. */
	assert_int_equal(preq("GET http://a.b?q HTTP/1.1\r\nHost: a.b\r\n\r\n"),
	    400);
}

static void
test_req_absolute_http10(void **state)
{
	(void)state;
	assert_int_equal(preq("GET http://a.b/x HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(req.minor, 0);
	assert_true(streq(req.host, req.hostlen, "a.b"));
}

static void
test_req_options_star(void **state)
{
	(void)state;
	assert_int_equal(preq("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	assert_int_equal(req.form, TARGET_ASTERISK);
	assert_true(streq(req.path, req.pathlen, "*"));
	assert_int_equal(preq("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_connect(void **state)
{
	(void)state;
	assert_int_equal(preq("CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n"
	    "\r\n"), 0);
	assert_int_equal(req.form, TARGET_AUTHORITY);
	assert_null(req.path);
	assert_int_equal(req.pathlen, 0);
	assert_int_equal(preq("CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
	    0);
	/* authority-form needs a port, and only CONNECT may use it */
	assert_int_equal(preq("CONNECT a.b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET a.b:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_http10_nohost(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(req.minor, 0);
	assert_null(req.host);
}

static void
test_req_connection(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Keep-Alive, x\r\nConnection: UPGRADE,close\r\n"
	    "\r\n"), 0);
	assert_int_equal(req.conn_close, 1);
	assert_int_equal(req.conn_keepalive, 1);
	assert_int_equal(req.conn_upgrade, 1);
}

static void
test_req_expect(void **state)
{
	(void)state;
	assert_int_equal(preq("PUT / HTTP/1.1\r\nHost: a\r\n"
	    "Expect: 100-Continue\r\nContent-Length: 5\r\n\r\n"), 0);
	assert_int_equal(req.expect_continue, 1);
	/* ignored in HTTP/1.0 (RFC 9110 10.1.1) */
	assert_int_equal(preq("PUT / HTTP/1.0\r\n"
	    "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"), 0);
	assert_int_equal(req.expect_continue, 0);
}

static void
test_req_obs_text_value(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-Name: caf\xc3\xa9\r\n\r\n"), 0);
	assert_int_equal(req.fields[1].valuelen, 5);
}

static void
test_req_empty_value(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nX-E:   \r\n\r\n"),
	    0);
	assert_int_equal(field_index("x-e"), 1);
	assert_int_equal(req.fields[1].valuelen, 0);
}

static void
test_req_max_fields(void **state)
{
	char	buf[8192];
	size_t	len;
	int	i, n;

	(void)state;
	len = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP_MAX_FIELDS; i++) {
		n = snprintf(buf + len, sizeof(buf) - len, "X-%d: v\r\n", i);
		assert_true(n > 0 && (size_t)n < sizeof(buf) - len);
		len += n;
	}
	memcpy(buf + len, "\r\n", 2);
	assert_int_equal(preq_n(buf, len + 2, 0), 0);
	assert_int_equal(req.nfields, HTTP_MAX_FIELDS);
	n = snprintf(buf + len, sizeof(buf) - len, "X-last: v\r\n\r\n");
	assert_int_equal(preq_n(buf, len + n, 0), 431);
}

static void
test_req_uri_max(void **state)
{
	const char	*s = "GET /0123456789 HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	assert_int_equal(preq_n(s, strlen(s), 11), 0);
	assert_int_equal(preq_n(s, strlen(s), 10), 414);
	/* 0: no limit */
	assert_int_equal(preq_n(s, strlen(s), 0), 0);
}

/*
 * Requests refused
 */

static void
test_req_version(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(preq("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(preq("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(preq("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET /\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_method_token(void **state)
{
	(void)state;
	assert_int_equal(preq("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_spaces(void **state)
{
	(void)state;
	assert_int_equal(preq("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_fragment(void **state)
{
	(void)state;
	assert_int_equal(preq("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_target_ctl(void **state)
{
	(void)state;
	assert_int_equal(preq("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET /a\t HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_req_target_nonascii(void **state)
{
	(void)state;
	assert_int_equal(preq("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
	    400);
}

static void
test_req_target_form(void **state)
{
	(void)state;
	assert_int_equal(preq("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(preq("GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
	    400);
	assert_int_equal(preq("GET http:///b HTTP/1.1\r\nHost: a\r\n\r\n"),
	    400);
	assert_int_equal(preq("GET http://u@a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
	    400);
}

static void
test_req_absolute_mismatch(void **state)
{
	(void)state;
	assert_int_equal(preq("GET http://a.b/ HTTP/1.1\r\nHost: c.d\r\n\r\n"),
	    400);
	assert_int_equal(preq("GET http://a.b:80/ HTTP/1.1\r\nHost: a.b\r\n"
	    "\r\n"), 400);
}

static void
test_req_cl_te(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400);
}

static void
test_req_two_cl(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);
}

static void
test_req_cl_list(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1,1\r\n\r\n"), 400);
}

static void
test_req_cl_syntax(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: +1\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0x10\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length:\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1 2\r\n\r\n"), 400);
}

static void
test_req_cl_overflow(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 9223372036854775808\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999999999999999999999\r\n\r\n"), 400);
}

static void
test_req_te_chunked_twice(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400);
}

static void
test_req_te_repeated(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    400);
}

static void
test_req_te_gzip(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "transfer-encoding: gzip, chunked\r\n\r\n"), 501);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n"), 501);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: identity\r\n\r\n"), 501);
}

static void
test_req_te_not_token(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: \"chunked\"\r\n\r\n"), 400);
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400);
}

static void
test_req_te_http10(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400);
}

static void
test_req_space_before_colon(void **state)
{
	(void)state;
	assert_int_equal(preq("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding : chunked\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400);
}

static void
test_req_obs_fold(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n"
	    " c\r\n\r\n"), 400);
}

static void
test_req_nul_value(void **state)
{
	const char	s[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n";

	(void)state;
	assert_int_equal(preq_n(s, sizeof(s) - 1, 0), 400);
}

static void
test_req_ctl_value(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x1b\r\n"
	    "\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n"
	    "\r\n"), 400);
}

static void
test_req_bare_lf(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
}

static void
test_req_bare_cr(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), 400);
}

static void
test_req_bad_name(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n"),
	    400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
	    400);
}

static void
test_req_no_host(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nX: y\r\n\r\n"), 400);
}

static void
test_req_two_hosts(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
	    400);
}

static void
test_req_host_invalid(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
}

static void
test_req_expect_other(void **state)
{
	(void)state;
	assert_int_equal(preq("PUT / HTTP/1.1\r\nHost: a\r\n"
	    "Expect: 200-ok\r\n\r\n"), 417);
}

static void
test_req_truncated(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n"), 400);
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n\r"), 400);
	assert_int_equal(preq(""), 400);
}

/*
 * Responses
 */

static void
test_resp_ok(void **state)
{
	const char	*s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\n";

	(void)state;
	assert_int_equal(presp(s), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.minor, 1);
	assert_true(streq(resp.reason, resp.reasonlen, "OK"));
	assert_int_equal(resp.nfields, 2);
	assert_int_equal(resp.content_length, 5);
	assert_int_equal(resp.conn_close, 1);
	assert_int_equal(resp.chunked, 0);
	assert_int_equal(resp.headlen, strlen(s));
}

static void
test_resp_no_reason(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.0 204\r\n\r\n"), 0);
	assert_int_equal(resp.status, 204);
	assert_int_equal(resp.minor, 0);
	assert_int_equal(resp.reasonlen, 0);
	assert_int_equal(presp("HTTP/1.1 404 \r\n\r\n"), 0);
	assert_int_equal(resp.reasonlen, 0);
	assert_int_equal(presp("HTTP/1.1 404 Not  Found\r\n\r\n"), 0);
	assert_true(streq(resp.reason, resp.reasonlen, "Not  Found"));
}

static void
test_resp_bad_status_line(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 099 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 600 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 20 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 2000 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/2.0 200 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1  200 X\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 X\x01\r\n\r\n"), -1);
	assert_int_equal(presp("ICY 200 OK\r\n\r\n"), -1);
}

static void
test_resp_chunked(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n"
	    "\r\n"), 0);
	assert_int_equal(resp.chunked, 1);
	assert_int_equal(resp.te_other, 0);
}

static void
test_resp_te_other(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n"), 0);
	assert_int_equal(resp.chunked, 0);
	assert_int_equal(resp.te_other, 1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked, chunked\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: \r\n\r\n"), -1);
}

static void
test_resp_te_cl(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_equal(resp.chunked, 1);
	assert_int_equal(resp.content_length, -1);
}

static void
test_resp_cl_repeat(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
	    "Content-Length: 7\r\n\r\n"), 0);
	assert_int_equal(resp.content_length, 7);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n"
	    "\r\n"), 0);
	assert_int_equal(resp.content_length, 7);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
	    "Content-Length: 8\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: 7,8\r\n"
	    "\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n"
	    "\r\n"), -1);
}

static void
test_resp_fields(void **state)
{
	(void)state;
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nX: y\rz\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nX: y\nz: w\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nX: \x02\r\n\r\n"), -1);
	assert_int_equal(presp("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n"
	    "Set-Cookie: b=2\r\n\r\n"), 0);
	assert_int_equal(resp.nfields, 2);
}

static void
test_resp_max_fields(void **state)
{
	char	buf[8192];
	size_t	len;
	int	i, n;

	(void)state;
	len = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n");
	for (i = 0; i <= HTTP_MAX_FIELDS; i++) {
		n = snprintf(buf + len, sizeof(buf) - len, "X-%d: v\r\n", i);
		assert_true(n > 0 && (size_t)n < sizeof(buf) - len);
		len += n;
	}
	memcpy(buf + len, "\r\n", 2);
	assert_int_equal(h1_response_parse(buf, len + 2, &resp), -1);
}

static void
test_resp_body(void **state)
{
	struct http_response	r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.content_length = 10;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_LENGTH);
	assert_int_equal(h1_response_body(&r, 1, 0), BODY_NONE);
	assert_int_equal(h1_response_body(&r, 0, 1), BODY_NONE);
	r.status = 101;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_NONE);
	r.status = 204;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_NONE);
	r.status = 304;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_NONE);
	r.status = 407;
	assert_int_equal(h1_response_body(&r, 0, 1), BODY_LENGTH);
	r.status = 200;
	r.content_length = -1;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_CLOSE);
	r.chunked = 1;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_CHUNKED);
	r.chunked = 0;
	r.te_other = 1;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_CLOSE);
	r.content_length = 0;
	r.te_other = 0;
	assert_int_equal(h1_response_body(&r, 0, 0), BODY_LENGTH);
}

/*
 * Chunked decoder
 */

/*
 * Decodes s in pieces of at most step bytes (0: all at once) into out.
 * Returns the bytes consumed, or -1 on error.
 */
static ssize_t
dechunk(const char *s, size_t len, size_t step, size_t trailer_max,
    char *out, size_t outsz, size_t *outlen, int *done)
{
	struct h1_chunk	 st;
	size_t		 pos = 0, plen, poff, off, dlen;
	ssize_t		 n;

	h1_chunk_init(&st, trailer_max);
	*outlen = 0;
	while (pos < len && !st.done) {
		plen = len - pos;
		if (step != 0 && plen > step)
			plen = step;
		poff = 0;
		while (poff < plen && !st.done) {
			n = h1_chunk_step(&st, s + pos + poff, plen - poff,
			    &off, &dlen);
			if (n == -1)
				return (-1);
			assert_true(n > 0);
			assert_true(off + dlen <= (size_t)n);
			assert_true(*outlen + dlen <= outsz);
			memcpy(out + *outlen, s + pos + poff + off, dlen);
			*outlen += dlen;
			poff += n;
		}
		pos += poff;
	}
	*done = st.done;
	return (pos);
}

static void
check_dechunk(const char *s, size_t trailer_max, const char *want,
    size_t consumed)
{
	char	out[256];
	size_t	outlen, step;
	int	done;

	for (step = 0; step <= 3; step++) {
		assert_int_equal(dechunk(s, strlen(s), step, trailer_max, out,
		    sizeof(out), &outlen, &done), consumed);
		assert_int_equal(done, 1);
		assert_int_equal(outlen, strlen(want));
		assert_memory_equal(out, want, outlen);
	}
}

static int
dechunk_err(const char *s, size_t trailer_max)
{
	char	out[256];
	size_t	outlen, step;
	int	done, rv = 0;
	ssize_t	n, first = 0;

	/* Whole and bytewise must agree. */
	for (step = 0; step <= 1; step++) {
		n = dechunk(s, strlen(s), step, trailer_max, out, sizeof(out),
		    &outlen, &done);
		if (step == 0)
			first = n;
		else
			assert_int_equal(n, first);
		if (n == -1)
			rv = -1;
	}
	return (rv);
}

static void
test_chunk_simple(void **state)
{
	(void)state;
	check_dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0,
	    "hello world", 26);
}

static void
test_chunk_next_message(void **state)
{
	const char	*s = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";

	(void)state;
	/* Bytes after the body are left for the next message. */
	check_dechunk(s, 0, "abc", 13);
}

static void
test_chunk_hex(void **state)
{
	(void)state;
	check_dechunk("A\r\n0123456789\r\n00000\r\n\r\n", 0, "0123456789",
	    24);
	check_dechunk("0a\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789", 21);
}

static void
test_chunk_ext(void **state)
{
	const char	*s = "2;a=b;c\r\nxy\r\n1 ; d = \"q\\\"; \"\t;e\r\n"
	    "z\r\n0;last\r\n\r\n";

	(void)state;
	check_dechunk(s, 0, "xyz", strlen(s));
}

static void
test_chunk_trailers(void **state)
{
	const char	*s = "1\r\nx\r\n0\r\nX-Sum: abc\r\nX-B:\r\n\r\n";

	(void)state;
	check_dechunk(s, 0, "x", strlen(s));
	/* the limit counts the field lines, not the final CRLF */
	check_dechunk(s, 18, "x", strlen(s));
	assert_int_equal(dechunk_err(s, 17), -1);
}

static void
test_chunk_step_contract(void **state)
{
	struct h1_chunk	 st;
	const char	*s = "4\r\nabcd\r\n0\r\n\r\nNEXT";
	size_t		 off, dlen;

	(void)state;
	h1_chunk_init(&st, 0);
	assert_int_equal(h1_chunk_step(&st, s, 0, &off, &dlen), 0);
	/* framing and the data run, then stop */
	assert_int_equal(h1_chunk_step(&st, s, strlen(s), &off, &dlen), 7);
	assert_int_equal(off, 3);
	assert_int_equal(dlen, 4);
	assert_int_equal(h1_chunk_step(&st, s + 7, strlen(s) - 7, &off, &dlen),
	    7);
	assert_int_equal(dlen, 0);
	assert_int_equal(st.done, 1);
	assert_int_equal(h1_chunk_step(&st, s + 14, 4, &off, &dlen), 0);
}

static void
test_chunk_errors(void **state)
{
	(void)state;
	assert_int_equal(dechunk_err("x\r\n", 0), -1);
	assert_int_equal(dechunk_err("\r\n", 0), -1);
	assert_int_equal(dechunk_err("-1\r\n", 0), -1);
	assert_int_equal(dechunk_err(" 1\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1\rx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1\r\nxy\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1\r\nx\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\n\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\n\r\r", 0), -1);
}

static void
test_chunk_overflow(void **state)
{
	char	out[16];
	size_t	outlen;
	int	done;

	(void)state;
	assert_int_equal(dechunk_err("10000000000000000\r\n", 0), -1);
	assert_int_equal(dechunk_err("8000000000000000\r\n", 0), -1);
	/* 2^63 - 1 is accepted (the body is just not here) */
	assert_int_equal(dechunk("7fffffffffffffff\r\nab", 20, 0, 0, out,
	    sizeof(out), &outlen, &done), 20);
	assert_int_equal(outlen, 2);
	assert_int_equal(done, 0);
}

static void
test_chunk_line_max(void **state)
{
	char	buf[HTTP_CHUNK_LINE_MAX + 32];
	size_t	len;

	(void)state;
	memset(buf, '0', HTTP_CHUNK_LINE_MAX - 1);
	memcpy(buf + HTTP_CHUNK_LINE_MAX - 1, "1\r\nx\r\n0\r\n\r\n", 12);
	len = strlen(buf);
	assert_int_equal(dechunk_err(buf, 0), 0);
	memset(buf, '0', HTTP_CHUNK_LINE_MAX);
	memcpy(buf + HTTP_CHUNK_LINE_MAX, "1\r\nx\r\n0\r\n\r\n", 12);
	assert_int_equal(strlen(buf), len + 1);
	assert_int_equal(dechunk_err(buf, 0), -1);
}

static void
test_chunk_bad_ext(void **state)
{
	(void)state;
	assert_int_equal(dechunk_err("1;\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1;a=\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1 \r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1;a=\"b\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1;a=b c\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1;a@b\r\nx\r\n0\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("1x\r\nx\r\n0\r\n\r\n", 0), -1);
}

static void
test_chunk_bad_trailer(void **state)
{
	(void)state;
	assert_int_equal(dechunk_err("0\r\nX : y\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\n y\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\n:y\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\nX: \x01\r\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\nX: y\n\r\n", 0), -1);
	assert_int_equal(dechunk_err("0\r\nXy\r\n\r\n", 0), -1);
}

static void
test_chunk_sticky_error(void **state)
{
	struct h1_chunk	st;
	size_t		off, dlen;

	(void)state;
	h1_chunk_init(&st, 0);
	assert_int_equal(h1_chunk_step(&st, "z", 1, &off, &dlen), -1);
	assert_int_equal(h1_chunk_step(&st, "1\r\n", 3, &off, &dlen), -1);
}

/*
 * Field helpers
 */

static void
test_field_is(void **state)
{
	struct http_field	f = { "Content-Length", 14, "1", 1 };

	(void)state;
	assert_true(http_field_is(&f, "content-length"));
	assert_true(http_field_is(&f, "CONTENT-LENGTH"));
	assert_false(http_field_is(&f, "content-lengt"));
	assert_false(http_field_is(&f, "content-lengthx"));
}

static void
test_token_in_list(void **state)
{
	const char	*l = "keep-alive ,\tUpgrade,,x-a";

	(void)state;
	assert_true(http_token_in_list(l, strlen(l), "upgrade"));
	assert_true(http_token_in_list(l, strlen(l), "KEEP-ALIVE"));
	assert_true(http_token_in_list(l, strlen(l), "x-a"));
	assert_false(http_token_in_list(l, strlen(l), "x"));
	assert_false(http_token_in_list(l, strlen(l), "close"));
	assert_false(http_token_in_list("", 0, "close"));
}

static void
test_hop_by_hop(void **state)
{
	(void)state;
	assert_int_equal(preq("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: x-private, close\r\nX-Private: 1\r\nX-Public: 2\r\n"
	    "Keep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: b\r\n"
	    "Upgrade: h2c\r\nTrailer: x\r\nAccept: */*\r\n\r\n"), 0);
	assert_false(http_hop_by_hop(&req.fields[0], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[1], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[2], req.fields, req.nfields));
	assert_false(http_hop_by_hop(&req.fields[3], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[4], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[5], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[6], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[7], req.fields, req.nfields));
	assert_true(http_hop_by_hop(&req.fields[8], req.fields, req.nfields));
	assert_false(http_hop_by_hop(&req.fields[9], req.fields, req.nfields));
	/* without the Connection field, X-Private is end-to-end */
	assert_false(http_hop_by_hop(&req.fields[2], NULL, 0));
}

static void
test_hop_by_hop_fixed(void **state)
{
	struct http_field	f[] = {
		{ "Transfer-Encoding", 17, "chunked", 7 },
		{ "Proxy-Connection", 16, "x", 1 },
		{ "proxy-authenticate", 18, "x", 1 },
		{ "Proxy", 5, "x", 1 },
		{ "TEx", 3, "x", 1 },
		{ "Connection", 10, "", 0 }
	};

	(void)state;
	assert_true(http_hop_by_hop(&f[0], f, 6));
	assert_true(http_hop_by_hop(&f[1], f, 6));
	assert_true(http_hop_by_hop(&f[2], f, 6));
	assert_false(http_hop_by_hop(&f[3], f, 6));
	assert_false(http_hop_by_hop(&f[4], f, 6));
	assert_true(http_hop_by_hop(&f[5], f, 6));
}

/*
 * http_path_check
 */

static void
test_path_check(void **state)
{
	static const struct {
		const char	*path;
		int		 want;
	} t[] = {
		{ "/", 0 },
		{ "/a/b/c", 0 },
		{ "/a/.b", 0 },
		{ "/a..b", 0 },
		{ "/a/b.", 0 },
		{ "/.../", 0 },
		{ "/a/b/?x=/../", 0 },
		{ "/a?/..", 0 },
		{ "/%41%20b", 0 },
		{ "/a%2e", 0 },
		{ "/a/%2e%2e%2e", 0 },
		{ "//a//", 0 },
		{ "/..", -1 },
		{ "/.", -1 },
		{ "/./a", -1 },
		{ "/a/../b", -1 },
		{ "/a/..", -1 },
		{ "/a/.?x", -1 },
		{ "/a/%2e%2E/b", -1 },
		{ "/a/%2E/b", -1 },
		{ "/a/.%2e/", -1 },
		{ "/a%2f..%2fb", -1 },
		{ "/a%2F.", -1 },
		{ "/a/..\\", -1 },
		{ "/a\\..\\b", -1 },
		{ "/a%5c..%5cb", -1 },
		{ "/a%5C.", -1 },
		{ "/a%", -1 },
		{ "/a%2", -1 },
		{ "/a%zz", -1 },
		{ "/a%2g", -1 },
		{ "/a%00b", -1 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (http_path_check(t[i].path, strlen(t[i].path)) != t[i].want)
			fail_msg("path \"%s\": want %d", t[i].path, t[i].want);
	}
}

static void
test_path_check_length(void **state)
{
	(void)state;
	/* The length is honoured: "/a/.." cut before the dots is fine. */
	assert_int_equal(http_path_check("/a/..", 3), 0);
	assert_int_equal(http_path_check("/a/%2e", 4), -1);
	assert_int_equal(http_path_check("", 0), 0);
}

/*
 * http_host_valid
 */

static void
test_host_valid(void **state)
{
	static const struct {
		const char	*host;
		int		 want;
	} t[] = {
		{ "example.org", 1 },
		{ "Example.ORG:8080", 1 },
		{ "a", 1 },
		{ "127.0.0.1", 1 },
		{ "127.0.0.1:80", 1 },
		{ "[::1]", 1 },
		{ "[::1]:8443", 1 },
		{ "[2001:db8::1]:0", 1 },
		{ "[::ffff:10.0.0.1]", 1 },
		{ "[v1.fe80::a+b]", 1 },
		{ "xn--caf-dma.example", 1 },
		{ "a_b~c!$&'()*+,;=", 1 },
		{ "%41b", 1 },
		{ "a:65535", 1 },
		{ "", 0 },
		{ ":80", 0 },
		{ "a:", 0 },
		{ "a:123456", 0 },
		{ "a:8x", 0 },
		{ "a:80:80", 0 },
		{ "a b", 0 },
		{ "a/b", 0 },
		{ "u@a", 0 },
		{ "a%4", 0 },
		{ "a%zz", 0 },
		{ "[::1", 0 },
		{ "[]", 0 },
		{ "[:]", 0 },
		{ "[::1]x", 0 },
		{ "[::1]:", 0 },
		{ "[::g]", 0 },
		{ "[v1.]", 0 },
		{ "[v.a]", 0 },
		{ "::1", 0 },
		{ "caf\xc3\xa9", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (http_host_valid(t[i].host, strlen(t[i].host)) != t[i].want)
			fail_msg("host \"%s\": want %d", t[i].host, t[i].want);
	}
}

static void
test_status_reason(void **state)
{
	(void)state;
	assert_string_equal(http_status_reason(200), "OK");
	assert_string_equal(http_status_reason(404), "Not Found");
	assert_string_equal(http_status_reason(413), "Content Too Large");
	assert_string_equal(http_status_reason(431),
	    "Request Header Fields Too Large");
	assert_string_equal(http_status_reason(503), "Service Unavailable");
	assert_string_equal(http_status_reason(505),
	    "HTTP Version Not Supported");
	assert_string_equal(http_status_reason(299), "Unknown");
	assert_string_equal(http_status_reason(-1), "Unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_end_whole),
		cmocka_unit_test(test_head_end_bytewise),
		cmocka_unit_test(test_head_end_bare_lf),
		cmocka_unit_test(test_head_end_bare_cr),
		cmocka_unit_test(test_head_end_leading_crlf),
		cmocka_unit_test(test_req_get),
		cmocka_unit_test(test_req_head),
		cmocka_unit_test(test_req_post_cl),
		cmocka_unit_test(test_req_post_chunked),
		cmocka_unit_test(test_req_te_htab),
		cmocka_unit_test(test_req_te_empty_elements),
		cmocka_unit_test(test_req_cl_zero),
		cmocka_unit_test(test_req_absolute),
		cmocka_unit_test(test_req_absolute_nopath),
		cmocka_unit_test(test_req_absolute_http10),
		cmocka_unit_test(test_req_options_star),
		cmocka_unit_test(test_req_connect),
		cmocka_unit_test(test_req_http10_nohost),
		cmocka_unit_test(test_req_connection),
		cmocka_unit_test(test_req_expect),
		cmocka_unit_test(test_req_obs_text_value),
		cmocka_unit_test(test_req_empty_value),
		cmocka_unit_test(test_req_max_fields),
		cmocka_unit_test(test_req_uri_max),
		cmocka_unit_test(test_req_version),
		cmocka_unit_test(test_req_method_token),
		cmocka_unit_test(test_req_spaces),
		cmocka_unit_test(test_req_fragment),
		cmocka_unit_test(test_req_target_ctl),
		cmocka_unit_test(test_req_target_nonascii),
		cmocka_unit_test(test_req_target_form),
		cmocka_unit_test(test_req_absolute_mismatch),
		cmocka_unit_test(test_req_cl_te),
		cmocka_unit_test(test_req_two_cl),
		cmocka_unit_test(test_req_cl_list),
		cmocka_unit_test(test_req_cl_syntax),
		cmocka_unit_test(test_req_cl_overflow),
		cmocka_unit_test(test_req_te_chunked_twice),
		cmocka_unit_test(test_req_te_repeated),
		cmocka_unit_test(test_req_te_gzip),
		cmocka_unit_test(test_req_te_not_token),
		cmocka_unit_test(test_req_te_http10),
		cmocka_unit_test(test_req_space_before_colon),
		cmocka_unit_test(test_req_obs_fold),
		cmocka_unit_test(test_req_nul_value),
		cmocka_unit_test(test_req_ctl_value),
		cmocka_unit_test(test_req_bare_lf),
		cmocka_unit_test(test_req_bare_cr),
		cmocka_unit_test(test_req_bad_name),
		cmocka_unit_test(test_req_no_host),
		cmocka_unit_test(test_req_two_hosts),
		cmocka_unit_test(test_req_host_invalid),
		cmocka_unit_test(test_req_expect_other),
		cmocka_unit_test(test_req_truncated),
		cmocka_unit_test(test_resp_ok),
		cmocka_unit_test(test_resp_no_reason),
		cmocka_unit_test(test_resp_bad_status_line),
		cmocka_unit_test(test_resp_chunked),
		cmocka_unit_test(test_resp_te_other),
		cmocka_unit_test(test_resp_te_cl),
		cmocka_unit_test(test_resp_cl_repeat),
		cmocka_unit_test(test_resp_fields),
		cmocka_unit_test(test_resp_max_fields),
		cmocka_unit_test(test_resp_body),
		cmocka_unit_test(test_chunk_simple),
		cmocka_unit_test(test_chunk_next_message),
		cmocka_unit_test(test_chunk_hex),
		cmocka_unit_test(test_chunk_ext),
		cmocka_unit_test(test_chunk_trailers),
		cmocka_unit_test(test_chunk_step_contract),
		cmocka_unit_test(test_chunk_errors),
		cmocka_unit_test(test_chunk_overflow),
		cmocka_unit_test(test_chunk_line_max),
		cmocka_unit_test(test_chunk_bad_ext),
		cmocka_unit_test(test_chunk_bad_trailer),
		cmocka_unit_test(test_chunk_sticky_error),
		cmocka_unit_test(test_field_is),
		cmocka_unit_test(test_token_in_list),
		cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_hop_by_hop_fixed),
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_path_check_length),
		cmocka_unit_test(test_host_valid),
		cmocka_unit_test(test_status_reason),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
