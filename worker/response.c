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
 * Responses the proxy makes itself: error pages and redirects. The
 * pages are small, link the vhost's stylesheet, and say nothing about
 * paths, sockets or errno.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "uxrp.h"
#include "worker.h"


static const char *
response_text(int status)
{
	switch (status) {
	case 400:
		return ("The request could not be understood.");
	case 404:
		return ("Nothing is served at this address.");
	case 408:
		return ("The request took too long to arrive.");
	case 413:
		return ("The request body is larger than allowed.");
	case 414:
		return ("The request target is longer than allowed.");
	case 417:
		return ("The expectation given in the request cannot be met.");
	case 431:
		return ("The request header fields are larger than allowed.");
	case 501:
		return ("The request asks for something not implemented here.");
	case 502:
		return ("The service behind this address answered with "
		    "something that is not a valid response.");
	case 503:
		return ("The service behind this address is not reachable "
		    "right now. Please try again in a moment.");
	case 504:
		return ("The service behind this address did not answer in "
		    "time.");
	case 505:
		return ("This HTTP version is not supported.");
	default:
		return ("The request could not be served.");
	}
}

static void
response_date(char *buf, size_t len)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	if (strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		buf[0] = '\0';
}

/* The page of an error: its length, or -1. */
int
response_page(char *body, size_t len, int status, const char *css)
{
	const char	*reason = http_status_reason(status);
	int		 n;

	if (css == NULL || css[0] == '\0')
		css = "/error.css";
	n = snprintf(body, len,
	    "<!DOCTYPE html>\n"
	    "<html><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title>\n"
	    "<link rel=\"stylesheet\" href=\"%s\"></head>\n"
	    "<body><main><h1>%d %s</h1>\n<p>%s</p></main></body></html>\n",
	    status, reason, css, status, reason, response_text(status));
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (n);
}

/*
 * A complete error response. css: the vhost's error_css, or NULL for
 * the default. head: the request was HEAD, so no body.
 */
int
response_error(struct evbuffer *out, int status, const char *css, int head,
    int keepalive)
{
	char		 body[1024], date[64];
	const char	*reason = http_status_reason(status);
	int		 n;

	if ((n = response_page(body, sizeof(body), status, css)) == -1)
		return (-1);
	response_date(date, sizeof(date));
	if (evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "Connection: %s\r\n\r\n",
	    status, reason, date, n,
	    status == 503 ? "Retry-After: " RETRY_AFTER "\r\n" : "",
	    keepalive ? "keep-alive" : "close") == -1)
		return (-1);
	if (!head && evbuffer_add(out, body, n) == -1)
		return (-1);
	return (0);
}

/* 301 to the mountpoint with its slash, the query kept. */
int
response_redirect(struct evbuffer *out, const char *path, size_t pathlen,
    const char *query, size_t querylen, int keepalive)
{
	char	 date[64];

	response_date(date, sizeof(date));
	if (evbuffer_add_printf(out,
	    "HTTP/1.1 301 Moved Permanently\r\n"
	    "Date: %s\r\n"
	    "Location: %.*s/%.*s\r\n"
	    "Content-Length: 0\r\n"
	    "Connection: %s\r\n\r\n",
	    date, (int)pathlen, path, (int)querylen, query,
	    keepalive ? "keep-alive" : "close") == -1)
		return (-1);
	return (0);
}
