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
 * HTTP/1.1 message parsing (RFC 9110, RFC 9112), used by the worker on
 * bytes from clients and origins. Nothing here allocates or depends on
 * the event loop, so the parsers can be fuzzed alone.
 */

#ifndef HTTP_H
#define HTTP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_FIELDS		128	/* more is a 431 (request), 502 */
#define HTTP_CHUNK_LINE_MAX	4096	/* chunk-size line with extensions */

struct http_field {
	const char	*name;		/* points into the parsed buffer */
	size_t		 namelen;
	const char	*value;		/* leading and trailing OWS removed */
	size_t		 valuelen;
};

enum http_target_form {
	TARGET_ORIGIN,		/* "/path?query" */
	TARGET_ABSOLUTE,	/* "http://host/path?query" */
	TARGET_AUTHORITY,	/* "host:port", CONNECT only */
	TARGET_ASTERISK		/* "*", OPTIONS only */
};

struct http_request {
	const char		*method;
	size_t			 methodlen;
	const char		*target;	/* as sent */
	size_t			 targetlen;
	enum http_target_form	 form;
	const char		*path;		/* path and query of the target */
	size_t			 pathlen;	/* ("/" for an empty absolute path) */
	int			 minor;		/* HTTP/1.minor, 0 or 1 */
	int			 nfields;
	const char		*host;		/* Host value, NULL when none */
	size_t			 hostlen;
	int64_t			 content_length; /* -1 when none */
	int			 chunked;	/* Transfer-Encoding: chunked */
	int			 conn_close;	/* Connection: close */
	int			 conn_keepalive; /* Connection: keep-alive */
	int			 conn_upgrade;	/* Connection: upgrade */
	int			 expect_continue; /* Expect: 100-continue */
	int			 is_head;	/* method HEAD */
	size_t			 headlen;	/* bytes up to and with CRLFCRLF */
	/* Last, and never cleared: only the first nfields are valid. */
	struct http_field	 fields[HTTP_MAX_FIELDS];
};

struct http_response {
	int			 status;
	int			 minor;
	const char		*reason;
	size_t			 reasonlen;
	int			 nfields;
	int64_t			 content_length; /* -1 when none */
	int			 chunked;	/* final coding is chunked */
	int			 te_other;	/* Transfer-Encoding, not chunked */
	int			 conn_close;
	int			 conn_keepalive;
	size_t			 headlen;
	/* Last, and never cleared: only the first nfields are valid. */
	struct http_field	 fields[HTTP_MAX_FIELDS];
};

/* How the body of a response is delimited (RFC 9112 section 6.3). */
enum http_body {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE
};

struct h1_chunk {
	int			 state;
	uint64_t		 remaining;	/* of the current chunk */
	size_t			 linelen;	/* of the line being read */
	size_t			 trailerlen;	/* bytes of trailer section */
	size_t			 trailer_max;
	int			 done;		/* last chunk and trailers read */
};

/* h1_parse.c */
ssize_t	 h1_head_end(const char *, size_t, size_t *);
int	 h1_request_parse(const char *, size_t, size_t, struct http_request *,
	    int *);
int	 h1_response_parse(const char *, size_t, struct http_response *);
enum http_body h1_response_body(const struct http_response *, int, int);
void	 h1_chunk_init(struct h1_chunk *, size_t);
ssize_t	 h1_chunk_step(struct h1_chunk *, const char *, size_t, size_t *,
	    size_t *);
int	 http_field_is(const struct http_field *, const char *);
int	 http_hop_by_hop(const struct http_field *, const struct http_field *,
	    int);
int	 http_token_in_list(const char *, size_t, const char *);
int	 http_path_check(const char *, size_t);
int	 http_host_valid(const char *, size_t);
const char *http_status_reason(int);

#endif /* HTTP_H */
