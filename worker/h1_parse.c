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
 * HTTP/1.1 message heads and chunked bodies (RFC 9112) and the field
 * helpers the proxy needs (RFC 9110). The bytes come from clients and
 * origins: buffers are not NUL-terminated and every read is checked
 * against a length first. Nothing here allocates; parsed values point
 * into the caller's buffer.
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"

/* States of the chunked decoder, kept in struct h1_chunk. */
enum h1_chunk_state {
	CH_SIZE = 0,		/* first HEXDIG of chunk-size */
	CH_SIZE_MORE,		/* further HEXDIGs */
	CH_EXT,			/* after an extension: BWS, ";" or CR */
	CH_EXT_WS,		/* BWS seen: only BWS or ";" may follow */
	CH_EXT_NAME0,		/* after ";": BWS or the name */
	CH_EXT_NAME,		/* in chunk-ext-name */
	CH_EXT_NAME_WS,		/* BWS after the name: "=", ";" or BWS */
	CH_EXT_VAL0,		/* after "=": BWS, token or quoted-string */
	CH_EXT_VAL,		/* in a token value */
	CH_EXT_QS,		/* in a quoted-string value */
	CH_EXT_QP,		/* after a backslash in a quoted-string */
	CH_SIZE_LF,		/* CR ending the chunk line seen */
	CH_DATA,		/* chunk-data */
	CH_DATA_CR,		/* CRLF after chunk-data */
	CH_DATA_LF,
	CH_TRL,			/* a trailer line or the final CRLF */
	CH_TRL_NAME,
	CH_TRL_VAL,
	CH_TRL_LF,
	CH_END_LF,		/* LF of the final CRLF */
	CH_DONE,
	CH_ERROR		/* sticky: the body cannot be resynchronized */
};

static int	h1_is_tchar(unsigned char);
static int	h1_is_hex(unsigned char);
static int	h1_hexval(unsigned char);
static int	h1_is_ows(unsigned char);
static int	h1_is_fvalue(unsigned char);
static int	h1_is_unreserved(unsigned char);
static int	h1_is_subdelim(unsigned char);
static int	h1_ci_eq(const char *, size_t, const char *, size_t);
static int	h1_is_token(const char *, size_t);
static int	h1_line(const char *, size_t, size_t *, size_t *);
static int	h1_field(const char *, size_t, struct http_field *);
static int	h1_list_next(const char *, size_t, size_t *, const char **,
		    size_t *);
static int	h1_token_in(const char *, size_t, const char *, size_t);
static int	h1_number(const char *, size_t, int64_t *);
static int	h1_host_parse(const char *, size_t, size_t *);
static int	h1_target(struct http_request *, const char **, size_t *);
static int	h1_chunk_line(struct h1_chunk *, unsigned char);
static int	h1_chunk_trailer(struct h1_chunk *, unsigned char);

/* tchar of RFC 9110 5.6.2 */
static int
h1_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return (1);
	}
	return (0);
}

static int
h1_is_hex(unsigned char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F'));
}

static int
h1_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (c - 'A' + 10);
}

static int
h1_is_ows(unsigned char c)
{
	return (c == ' ' || c == '\t');
}

/* A byte of a field value: HTAB, SP, VCHAR or obs-text. */
static int
h1_is_fvalue(unsigned char c)
{
	return (c == '\t' || (c >= 0x20 && c != 0x7f));
}

static int
h1_is_unreserved(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

static int
h1_is_subdelim(unsigned char c)
{
	switch (c) {
	case '!': case '$': case '&': case '\'': case '(': case ')':
	case '*': case '+': case ',': case ';': case '=':
		return (1);
	}
	return (0);
}

/* ASCII case-insensitive equality; locale-independent on purpose. */
static int
h1_ci_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		 i;
	unsigned char	 x, y;

	if (alen != blen)
		return (0);
	for (i = 0; i < alen; i++) {
		x = a[i];
		y = b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return (0);
	}
	return (1);
}

static int
h1_is_token(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (!h1_is_tchar(s[i]))
			return (0);
	return (1);
}

/*
 * The line at *pos: its length without the CRLF goes to *linelen and
 * *pos moves past the CRLF. A CR must be followed by LF; a bare LF
 * inside the line is left to the caller's byte checks, all of which
 * refuse control characters.
 */
static int
h1_line(const char *buf, size_t len, size_t *pos, size_t *linelen)
{
	const char	*cr;
	size_t		 start = *pos, end;

	if (start >= len)
		return (-1);
	if ((cr = memchr(buf + start, '\r', len - start)) == NULL)
		return (-1);
	end = cr - buf;
	if (end + 1 >= len || buf[end + 1] != '\n')
		return (-1);
	*linelen = end - start;
	*pos = end + 2;
	return (0);
}

/* field-line = field-name ":" OWS field-value OWS, without obs-fold */
static int
h1_field(const char *line, size_t len, struct http_field *f)
{
	size_t	i, start, end;

	/* A leading SP or HTAB is obs-fold (or garbage): refused. */
	for (i = 0; i < len && h1_is_tchar(line[i]); i++)
		;
	if (i == 0 || i == len || line[i] != ':')
		return (-1);
	f->name = line;
	f->namelen = i;
	for (i++; i < len && h1_is_ows(line[i]); i++)
		;
	start = i;
	for (; i < len; i++)
		if (!h1_is_fvalue(line[i]))
			return (-1);
	for (end = len; end > start && h1_is_ows(line[end - 1]); end--)
		;
	f->value = line + start;
	f->valuelen = end - start;
	return (0);
}

/*
 * Steps through a comma-separated list: each call yields the next
 * element with OWS trimmed (possibly empty). *pos starts at 0; returns
 * 0 when the list is exhausted.
 */
static int
h1_list_next(const char *list, size_t len, size_t *pos, const char **elem,
    size_t *elemlen)
{
	size_t	i, start, end;

	if (*pos > len)
		return (0);
	start = *pos;
	for (i = start; i < len && list[i] != ','; i++)
		;
	*pos = i + 1;
	while (start < i && h1_is_ows(list[start]))
		start++;
	for (end = i; end > start && h1_is_ows(list[end - 1]); end--)
		;
	*elem = list + start;
	*elemlen = end - start;
	return (1);
}

static int
h1_token_in(const char *list, size_t len, const char *tok, size_t toklen)
{
	const char	*e;
	size_t		 pos = 0, elen;

	while (h1_list_next(list, len, &pos, &e, &elen))
		if (h1_ci_eq(e, elen, tok, toklen))
			return (1);
	return (0);
}

/* 1*DIGIT into an int64_t, refusing anything that does not fit. */
static int
h1_number(const char *s, size_t len, int64_t *out)
{
	size_t	i;
	int64_t	v = 0;
	int	d;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return (-1);
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}

/*
 * Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2). *portoff
 * is set to the offset of the ":" before the port, or to len. The port
 * must have 1 to 5 digits: an empty port is refused, as is an empty
 * host.
 */
static int
h1_host_parse(const char *h, size_t len, size_t *portoff)
{
	size_t		 i, j;
	unsigned char	 c;
	int		 colon = 0;

	if (len == 0)
		return (-1);
	if (h[0] == '[') {
		if (len > 1 && (h[1] == 'v' || h[1] == 'V')) {
			/* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved ... ) */
			for (i = 2; i < len && h1_is_hex(h[i]); i++)
				;
			if (i == 2 || i == len || h[i] != '.')
				return (-1);
			for (j = ++i; i < len && h[i] != ']'; i++) {
				c = h[i];
				if (!h1_is_unreserved(c) &&
				    !h1_is_subdelim(c) && c != ':')
					return (-1);
			}
			if (i == j)
				return (-1);
		} else {
			/* IPv6address, checked loosely. */
			for (i = 1; i < len && h[i] != ']'; i++) {
				c = h[i];
				if (c == ':')
					colon = 1;
				else if (!h1_is_hex(c) && c != '.')
					return (-1);
			}
			if (!colon || i < 3)
				return (-1);
		}
		if (i == len)
			return (-1);
		i++;
		if (i < len && h[i] != ':')
			return (-1);
	} else {
		/* reg-name, which includes IPv4address */
		for (i = 0; i < len && h[i] != ':'; i++) {
			c = h[i];
			if (c == '%') {
				if (len - i < 3 || !h1_is_hex(h[i + 1]) ||
				    !h1_is_hex(h[i + 2]))
					return (-1);
				i += 2;
			} else if (!h1_is_unreserved(c) && !h1_is_subdelim(c))
				return (-1);
		}
		if (i == 0)
			return (-1);
	}
	*portoff = i;
	if (i == len)
		return (0);
	if (len - i - 1 < 1 || len - i - 1 > 5)
		return (-1);
	for (j = i + 1; j < len; j++)
		if (h[j] < '0' || h[j] > '9')
			return (-1);
	return (0);
}

/*
 * Classifies the request-target (RFC 9112 3.2) and sets the path. For
 * the absolute-form the authority is returned for the Host check.
 */
static int
h1_target(struct http_request *req, const char **auth, size_t *authlen)
{
	const char	*t = req->target;
	size_t		 n = req->targetlen, i, s, portoff;
	unsigned char	 c;

	*auth = NULL;
	*authlen = 0;
	/* No controls, spaces, DEL, non-ASCII bytes or fragment. */
	for (i = 0; i < n; i++) {
		c = t[i];
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return (-1);
	}
	if (req->methodlen == 7 && memcmp(req->method, "CONNECT", 7) == 0) {
		if (h1_host_parse(t, n, &portoff) == -1 || portoff == n)
			return (-1);
		req->form = TARGET_AUTHORITY;
		req->path = NULL;
		req->pathlen = 0;
		return (0);
	}
	if (t[0] == '/') {
		req->form = TARGET_ORIGIN;
		req->path = t;
		req->pathlen = n;
		return (0);
	}
	if (n == 1 && t[0] == '*') {
		if (req->methodlen != 7 ||
		    memcmp(req->method, "OPTIONS", 7) != 0)
			return (-1);
		req->form = TARGET_ASTERISK;
		req->path = t;
		req->pathlen = 1;
		return (0);
	}
	if (n >= 7 && h1_ci_eq(t, 7, "http://", 7))
		s = 7;
	else if (n >= 8 && h1_ci_eq(t, 8, "https://", 8))
		s = 8;
	else
		return (-1);
	for (i = s; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	/*
	 * "http://host?query" is valid but has no path to point at;
	 * without allocating it cannot become "/?query", so it is refused.
	 */
	if (i < n && t[i] == '?')
		return (-1);
	if (h1_host_parse(t + s, i - s, &portoff) == -1)
		return (-1);
	*auth = t + s;
	*authlen = i - s;
	req->form = TARGET_ABSOLUTE;
	if (i == n) {
		req->path = "/";
		req->pathlen = 1;
	} else {
		req->path = t + i;
		req->pathlen = n - i;
	}
	return (0);
}

/*
 * Finds the end of a message head: returns its length (just past CRLF
 * CRLF), 0 when more bytes are needed, -1 on a bare CR or LF. *off
 * keeps the scan position between calls on the same growing buffer so
 * a head arriving byte by byte is scanned once. An empty line before
 * the start line, which RFC 9112 2.2 lets a server ignore, is refused
 * here: nothing legitimate sends it.
 */
ssize_t
h1_head_end(const char *buf, size_t len, size_t *off)
{
	size_t	i;

	/* A caller whose buffer shrank starts over. */
	if (*off > len)
		*off = 0;
	for (i = *off; i < len; i++) {
		if (buf[i] == '\r') {
			/* Look at the CR again once its successor is here. */
			if (i + 1 == len)
				break;
			if (buf[i + 1] != '\n')
				return (-1);
			continue;
		}
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r' || i == 1)
			return (-1);
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			*off = i + 1;
			return (i + 1);
		}
	}
	*off = i;
	return (0);
}

/*
 * Parses one complete request head. uri_max 0 means no limit on the
 * target. On error *status is the response to send; on success it is 0.
 * For an HTTP/1.0 request in absolute-form without a Host field, host
 * is the target's authority, as RFC 9112 3.2.2 has the server use it.
 */
int
h1_request_parse(const char *buf, size_t len, size_t uri_max,
    struct http_request *req, int *status)
{
	struct http_field	*f;
	const char		*line = buf, *e, *auth;
	size_t			 pos = 0, ll, ls, i, ts, lpos, elen, authlen;
	int			 te = 0, te_other, te_chunked, te_bad = 0;
	int			 expect_other = 0, expect_cont = 0;

	memset(req, 0, offsetof(struct http_request, fields));
	req->content_length = -1;
	*status = 400;

	/* request-line = method SP request-target SP HTTP-version */
	if (h1_line(buf, len, &pos, &ll) == -1)
		return (-1);
	for (i = 0; i < ll && h1_is_tchar(line[i]); i++)
		;
	if (i == 0 || i == ll || line[i] != ' ')
		return (-1);
	req->method = line;
	req->methodlen = i;
	for (ts = ++i; i < ll && line[i] != ' '; i++)
		;
	if (i == ts || i == ll)
		return (-1);
	req->target = line + ts;
	req->targetlen = i - ts;
	i++;
	if (ll - i != 8 || memcmp(line + i, "HTTP/", 5) != 0 ||
	    line[i + 5] < '0' || line[i + 5] > '9' || line[i + 6] != '.' ||
	    line[i + 7] < '0' || line[i + 7] > '9')
		return (-1);
	if (line[i + 5] != '1' || line[i + 7] > '1') {
		*status = 505;
		return (-1);
	}
	req->minor = line[i + 7] - '0';
	if (uri_max != 0 && req->targetlen > uri_max) {
		*status = 414;
		return (-1);
	}
	if (h1_target(req, &auth, &authlen) == -1)
		return (-1);

	for (;;) {
		ls = pos;
		if (h1_line(buf, len, &pos, &ll) == -1)
			return (-1);
		if (ll == 0)
			break;
		if (req->nfields == HTTP_MAX_FIELDS) {
			*status = 431;
			return (-1);
		}
		f = &req->fields[req->nfields];
		if (h1_field(buf + ls, ll, f) == -1)
			return (-1);
		req->nfields++;

		if (http_field_is(f, "host")) {
			if (req->host != NULL ||
			    !http_host_valid(f->value, f->valuelen))
				return (-1);
			req->host = f->value;
			req->hostlen = f->valuelen;
		} else if (http_field_is(f, "content-length")) {
			/* Repeats are refused even when equal. */
			if (req->content_length != -1 ||
			    h1_number(f->value, f->valuelen,
			    &req->content_length) == -1)
				return (-1);
		} else if (http_field_is(f, "transfer-encoding")) {
			if (te)
				return (-1);
			te = 1;
			te_other = te_chunked = 0;
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (elen == 0)
					continue;
				if (!h1_is_token(e, elen))
					return (-1);
				if (h1_ci_eq(e, elen, "chunked", 7))
					te_chunked++;
				else
					te_other = 1;
			}
			if (te_chunked > 1)
				return (-1);
			if (te_other)
				te_bad = 1;
			else if (te_chunked == 0)
				return (-1);
			else
				req->chunked = 1;
		} else if (http_field_is(f, "connection")) {
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (h1_ci_eq(e, elen, "close", 5))
					req->conn_close = 1;
				else if (h1_ci_eq(e, elen, "keep-alive", 10))
					req->conn_keepalive = 1;
				else if (h1_ci_eq(e, elen, "upgrade", 7))
					req->conn_upgrade = 1;
			}
		} else if (http_field_is(f, "expect")) {
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (elen == 0)
					continue;
				if (h1_ci_eq(e, elen, "100-continue", 12))
					expect_cont = 1;
				else
					expect_other = 1;
			}
		}
	}
	req->headlen = pos;

	if (req->minor == 1 && req->host == NULL)
		return (-1);
	if (te && req->content_length != -1)
		return (-1);
	/* HTTP/1.0 has no chunked coding: a TE there smells of smuggling. */
	if (te && req->minor == 0)
		return (-1);
	if (req->form == TARGET_ABSOLUTE) {
		if (req->host == NULL) {
			req->host = auth;
			req->hostlen = authlen;
		} else if (!h1_ci_eq(auth, authlen, req->host, req->hostlen))
			return (-1);
	}
	if (te_bad) {
		*status = 501;
		return (-1);
	}
	if (expect_other) {
		*status = 417;
		return (-1);
	}
	/* RFC 9110 10.1.1: 100-continue in HTTP/1.0 is ignored. */
	if (expect_cont && req->minor == 1)
		req->expect_continue = 1;
	req->is_head = req->methodlen == 4 &&
	    memcmp(req->method, "HEAD", 4) == 0;
	*status = 0;
	return (0);
}

/*
 * Parses one complete response head from an origin. Returns -1 for
 * anything the proxy cannot pass on safely (it answers 502).
 */
int
h1_response_parse(const char *buf, size_t len, struct http_response *resp)
{
	struct http_field	*f;
	const char		*line = buf, *e;
	size_t			 pos = 0, ll, ls, i, lpos, elen;
	int64_t			 v;
	int			 te = 0, te_chunked = 0, te_last_chunked = 0;
	int			 te_elems = 0;

	memset(resp, 0, offsetof(struct http_response, fields));
	resp->content_length = -1;

	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
	if (h1_line(buf, len, &pos, &ll) == -1)
		return (-1);
	if (ll < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ')
		return (-1);
	resp->minor = line[7] - '0';
	for (i = 9; i < 12; i++)
		if (line[i] < '0' || line[i] > '9')
			return (-1);
	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (resp->status < 100 || resp->status > 599)
		return (-1);
	/* Some origins end the line right after the code: tolerated. */
	if (ll > 12) {
		if (line[12] != ' ')
			return (-1);
		for (i = 13; i < ll; i++)
			if (!h1_is_fvalue(line[i]))
				return (-1);
		resp->reason = line + 13;
		resp->reasonlen = ll - 13;
	} else {
		resp->reason = line + 12;
		resp->reasonlen = 0;
	}

	for (;;) {
		ls = pos;
		if (h1_line(buf, len, &pos, &ll) == -1)
			return (-1);
		if (ll == 0)
			break;
		if (resp->nfields == HTTP_MAX_FIELDS)
			return (-1);
		f = &resp->fields[resp->nfields];
		if (h1_field(buf + ls, ll, f) == -1)
			return (-1);
		resp->nfields++;

		if (http_field_is(f, "content-length")) {
			/*
			 * RFC 9110 8.6: a list or repeat of one value is
			 * that value; differing values are an error.
			 */
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (h1_number(e, elen, &v) == -1)
					return (-1);
				if (resp->content_length != -1 &&
				    resp->content_length != v)
					return (-1);
				resp->content_length = v;
			}
		} else if (http_field_is(f, "transfer-encoding")) {
			/* Repeated fields form one list, in order. */
			te = 1;
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (elen == 0)
					continue;
				if (!h1_is_token(e, elen))
					return (-1);
				te_elems++;
				te_last_chunked = h1_ci_eq(e, elen,
				    "chunked", 7);
				te_chunked += te_last_chunked;
			}
		} else if (http_field_is(f, "connection")) {
			lpos = 0;
			while (h1_list_next(f->value, f->valuelen, &lpos, &e,
			    &elen)) {
				if (h1_ci_eq(e, elen, "close", 5))
					resp->conn_close = 1;
				else if (h1_ci_eq(e, elen, "keep-alive", 10))
					resp->conn_keepalive = 1;
			}
		}
	}
	resp->headlen = pos;

	if (te) {
		if (te_elems == 0 || te_chunked > 1)
			return (-1);
		/*
		 * RFC 9112 6.3: Transfer-Encoding overrides Content-Length,
		 * and without a final chunked the body runs to the close.
		 */
		resp->content_length = -1;
		if (te_last_chunked)
			resp->chunked = 1;
		else
			resp->te_other = 1;
	}
	return (0);
}

/* RFC 9112 6.3, for a response to a request of the given kind. */
enum http_body
h1_response_body(const struct http_response *resp, int request_is_head,
    int request_is_connect)
{
	if (request_is_head)
		return (BODY_NONE);
	if ((resp->status >= 100 && resp->status <= 199) ||
	    resp->status == 204 || resp->status == 304)
		return (BODY_NONE);
	if (request_is_connect && resp->status >= 200 && resp->status <= 299)
		return (BODY_NONE);
	if (resp->chunked)
		return (BODY_CHUNKED);
	if (resp->te_other)
		return (BODY_CLOSE);
	if (resp->content_length >= 0)
		return (BODY_LENGTH);
	return (BODY_CLOSE);
}

void
h1_chunk_init(struct h1_chunk *st, size_t trailer_max)
{
	memset(st, 0, sizeof(*st));
	st->state = CH_SIZE;
	st->trailer_max = trailer_max;
}

/*
 * One byte of a chunk line: chunk-size [ chunk-ext ] CRLF with
 * chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / qstring ) ] ).
 */
static int
h1_chunk_line(struct h1_chunk *st, unsigned char c)
{
	if (st->state == CH_SIZE_LF) {
		if (c != '\n')
			return (-1);
		st->linelen = 0;
		st->state = st->remaining == 0 ? CH_TRL : CH_DATA;
		return (0);
	}
	if (c == '\r') {
		switch (st->state) {
		case CH_SIZE_MORE:
		case CH_EXT:
		case CH_EXT_NAME:
		case CH_EXT_VAL:
			st->state = CH_SIZE_LF;
			return (0);
		default:
			return (-1);
		}
	}
	if (++st->linelen > HTTP_CHUNK_LINE_MAX)
		return (-1);

	switch (st->state) {
	case CH_SIZE:
	case CH_SIZE_MORE:
		if (h1_is_hex(c)) {
			/* The size must stay below 2^63. */
			if ((st->remaining >> 59) != 0)
				return (-1);
			st->remaining = st->remaining * 16 + h1_hexval(c);
			st->state = CH_SIZE_MORE;
			return (0);
		}
		if (st->state == CH_SIZE)
			return (-1);
		/* FALLTHROUGH */
	case CH_EXT:
		if (h1_is_ows(c))
			st->state = CH_EXT_WS;
		else if (c == ';')
			st->state = CH_EXT_NAME0;
		else
			return (-1);
		return (0);
	case CH_EXT_WS:
		if (c == ';')
			st->state = CH_EXT_NAME0;
		else if (!h1_is_ows(c))
			return (-1);
		return (0);
	case CH_EXT_NAME0:
		if (h1_is_tchar(c))
			st->state = CH_EXT_NAME;
		else if (!h1_is_ows(c))
			return (-1);
		return (0);
	case CH_EXT_NAME:
		if (h1_is_tchar(c))
			return (0);
		/* FALLTHROUGH */
	case CH_EXT_NAME_WS:
		if (c == '=')
			st->state = CH_EXT_VAL0;
		else if (c == ';')
			st->state = CH_EXT_NAME0;
		else if (h1_is_ows(c))
			st->state = CH_EXT_NAME_WS;
		else
			return (-1);
		return (0);
	case CH_EXT_VAL0:
		if (h1_is_tchar(c))
			st->state = CH_EXT_VAL;
		else if (c == '"')
			st->state = CH_EXT_QS;
		else if (!h1_is_ows(c))
			return (-1);
		return (0);
	case CH_EXT_VAL:
		if (h1_is_tchar(c))
			return (0);
		if (h1_is_ows(c))
			st->state = CH_EXT_WS;
		else if (c == ';')
			st->state = CH_EXT_NAME0;
		else
			return (-1);
		return (0);
	case CH_EXT_QS:
		/* qdtext, quoted-pair or the closing DQUOTE */
		if (c == '"')
			st->state = CH_EXT;
		else if (c == '\\')
			st->state = CH_EXT_QP;
		else if (!h1_is_fvalue(c))
			return (-1);
		return (0);
	case CH_EXT_QP:
		if (!h1_is_fvalue(c))
			return (-1);
		st->state = CH_EXT_QS;
		return (0);
	}
	return (-1);
}

/* One byte of the trailer section, whose fields are discarded. */
static int
h1_chunk_trailer(struct h1_chunk *st, unsigned char c)
{
	if (st->state == CH_TRL && c == '\r') {
		st->state = CH_END_LF;
		return (0);
	}
	if (st->state == CH_END_LF) {
		if (c != '\n')
			return (-1);
		st->state = CH_DONE;
		st->done = 1;
		return (0);
	}
	if (st->trailer_max != 0 && ++st->trailerlen > st->trailer_max)
		return (-1);

	switch (st->state) {
	case CH_TRL:
		/* no obs-fold, no empty name */
		if (!h1_is_tchar(c))
			return (-1);
		st->state = CH_TRL_NAME;
		return (0);
	case CH_TRL_NAME:
		if (c == ':')
			st->state = CH_TRL_VAL;
		else if (!h1_is_tchar(c))
			return (-1);
		return (0);
	case CH_TRL_VAL:
		if (c == '\r')
			st->state = CH_TRL_LF;
		else if (!h1_is_fvalue(c))
			return (-1);
		return (0);
	case CH_TRL_LF:
		if (c != '\n')
			return (-1);
		st->state = CH_TRL;
		return (0);
	}
	return (-1);
}

/*
 * Decodes a chunked body incrementally. Consumes framing bytes and at
 * most one run of chunk data, whose place in buf goes to *dataoff and
 * *datalen. Returns the number of bytes consumed or -1 on a framing
 * error; after the end of the body (st->done) nothing is consumed.
 */
ssize_t
h1_chunk_step(struct h1_chunk *st, const char *buf, size_t len,
    size_t *dataoff, size_t *datalen)
{
	size_t	i, n;
	int	rv;

	*dataoff = 0;
	*datalen = 0;
	for (i = 0; i < len; i++) {
		switch (st->state) {
		case CH_DONE:
			return (i);
		case CH_ERROR:
			return (-1);
		case CH_DATA:
			n = len - i;
			if (n > st->remaining)
				n = st->remaining;
			st->remaining -= n;
			if (st->remaining == 0)
				st->state = CH_DATA_CR;
			*dataoff = i;
			*datalen = n;
			return (i + n);
		case CH_DATA_CR:
			rv = buf[i] == '\r' ? 0 : -1;
			st->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			rv = buf[i] == '\n' ? 0 : -1;
			st->state = CH_SIZE;
			break;
		case CH_TRL:
		case CH_TRL_NAME:
		case CH_TRL_VAL:
		case CH_TRL_LF:
		case CH_END_LF:
			rv = h1_chunk_trailer(st, buf[i]);
			break;
		default:
			rv = h1_chunk_line(st, buf[i]);
			break;
		}
		if (rv == -1) {
			st->state = CH_ERROR;
			return (-1);
		}
		if (st->done)
			return (i + 1);
	}
	if (st->state == CH_ERROR)
		return (-1);
	return (i);
}

int
http_field_is(const struct http_field *f, const char *name)
{
	return (h1_ci_eq(f->name, f->namelen, name, strlen(name)));
}

/*
 * Whether a field stops at this hop (RFC 9110 7.6.1): the fixed set,
 * any Proxy-* field, and any field named by a Connection field.
 */
int
http_hop_by_hop(const struct http_field *f, const struct http_field *fields,
    int nfields)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "te", "trailer",
		"transfer-encoding", "upgrade"
	};
	size_t	i;
	int	j;

	if (f->namelen >= 6 && h1_ci_eq(f->name, 6, "proxy-", 6))
		return (1);
	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (http_field_is(f, hop[i]))
			return (1);
	for (j = 0; j < nfields; j++)
		if (http_field_is(&fields[j], "connection") &&
		    h1_token_in(fields[j].value, fields[j].valuelen, f->name,
		    f->namelen))
			return (1);
	return (0);
}

int
http_token_in_list(const char *list, size_t len, const char *token)
{
	return (h1_token_in(list, len, token, strlen(token)));
}

/*
 * Refuses a path holding a "." or ".." segment, also once %2E, %2F and
 * %5C are decoded, with "\" counted as a separator because some origins
 * treat it as one. Only the part before "?" is looked at. Other escapes
 * stay encoded, as they are forwarded.
 */
int
http_path_check(const char *path, size_t len)
{
	size_t	i, seglen = 0, dots = 0;
	int	c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)path[i];
		if (c == '?')
			break;
		if (c == '%') {
			if (len - i < 3 || !h1_is_hex(path[i + 1]) ||
			    !h1_is_hex(path[i + 2]))
				return (-1);
			c = h1_hexval(path[i + 1]) * 16 +
			    h1_hexval(path[i + 2]);
			if (c == 0)
				return (-1);
			if (c != '.' && c != '/' && c != '\\')
				c = '%';
			i += 2;
		}
		if (c == '/' || c == '\\') {
			if (seglen == dots && (dots == 1 || dots == 2))
				return (-1);
			seglen = dots = 0;
			continue;
		}
		seglen++;
		if (c == '.')
			dots++;
	}
	if (seglen == dots && (dots == 1 || dots == 2))
		return (-1);
	return (0);
}

int
http_host_valid(const char *host, size_t len)
{
	size_t	portoff;

	return (h1_host_parse(host, len, &portoff) == 0);
}

const char *
http_status_reason(int status)
{
	static const struct {
		int		 code;
		const char	*reason;
	} reasons[] = {
		{ 100, "Continue" },
		{ 101, "Switching Protocols" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 203, "Non-Authoritative Information" },
		{ 204, "No Content" },
		{ 205, "Reset Content" },
		{ 206, "Partial Content" },
		{ 300, "Multiple Choices" },
		{ 301, "Moved Permanently" },
		{ 302, "Found" },
		{ 303, "See Other" },
		{ 304, "Not Modified" },
		{ 305, "Use Proxy" },
		{ 306, "Unused" },
		{ 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 402, "Payment Required" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 410, "Gone" },
		{ 411, "Length Required" },
		{ 412, "Precondition Failed" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" },
		{ 421, "Misdirected Request" },
		{ 422, "Unprocessable Content" },
		{ 426, "Upgrade Required" },
		{ 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" }
	};
	size_t	i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return (reasons[i].reason);
	return ("Unknown");
}
