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
 * Header lines written without printf: every proxied message has a
 * dozen of them, and formatting each through vfprintf cost more than
 * all the rest of composing the head.
 */

#include <sys/types.h>

#include <string.h>

#include <event2/buffer.h>

#include "uxrp.h"
#include "worker.h"

#define HEAD_LINE_BUF	512	/* a line up to this goes out in one add */

/* The pieces (pointer, length), n of them, one after the other. */
static void
head_pieces(struct evbuffer *b, const char *const *p, const size_t *len,
    int n)
{
	char	 buf[HEAD_LINE_BUF];
	size_t	 total = 0;
	int	 i;

	for (i = 0; i < n; i++)
		total += len[i];
	if (total > sizeof(buf)) {
		for (i = 0; i < n; i++)
			evbuffer_add(b, p[i], len[i]);
		return;
	}
	total = 0;
	for (i = 0; i < n; i++) {
		memcpy(buf + total, p[i], len[i]);
		total += len[i];
	}
	evbuffer_add(b, buf, total);
}

/* x, sep, y, end: the shape of every line written here */
static void
head_line(struct evbuffer *b, const char *x, size_t xlen, const char *sep,
    const char *y, size_t ylen, const char *end)
{
	const char	*p[4] = { x, sep, y, end };
	size_t		 len[4] = { xlen, strlen(sep), ylen, strlen(end) };

	head_pieces(b, p, len, 4);
}

/* "name: value" CRLF */
void
head_field(struct evbuffer *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	head_line(b, name, namelen, ": ", value, valuelen, "\r\n");
}

/* "name: value" CRLF for a NUL-terminated name and value. */
void
head_field_str(struct evbuffer *b, const char *name, const char *value)
{
	head_field(b, name, strlen(name), value, strlen(value));
}

/* "name: N" CRLF, N not negative. */
void
head_field_num(struct evbuffer *b, const char *name, long long v)
{
	char	 digits[24], *d = digits + sizeof(digits);

	do {
		*--d = '0' + (char)(v % 10);
		v /= 10;
	} while (v > 0 && d > digits);
	head_field(b, name, strlen(name), d,
	    (size_t)(digits + sizeof(digits) - d));
}

/* "HTTP/1.1 NNN reason" CRLF */
void
head_status(struct evbuffer *b, int status, const char *reason,
    size_t reasonlen)
{
	char	 line[13] = "HTTP/1.1 ";

	if (status < 100 || status > 999)
		status = 500;
	line[9] = '0' + status / 100;
	line[10] = '0' + status / 10 % 10;
	line[11] = '0' + status % 10;
	head_line(b, line, 12, " ", reason, reasonlen, "\r\n");
}

/* "METHOD target HTTP/1.1" CRLF */
void
head_request_line(struct evbuffer *b, const char *method, size_t methodlen,
    const char *target, size_t targetlen)
{
	head_line(b, method, methodlen, " ", target, targetlen,
	    " HTTP/1.1\r\n");
}
