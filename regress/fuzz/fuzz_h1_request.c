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
 * Fuzz target: a client's request head through h1_head_end, then
 * h1_request_parse and the checks the proxy runs on its result. Besides
 * memory safety it checks that a head fed byte by byte is found at the
 * same place and that every parsed pointer stays inside the head.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(const char *head, size_t headlen, const char *p, size_t len)
{
	if (p == NULL) {
		if (len != 0)
			abort();
		return;
	}
	if (p < head || p > head + headlen || len > headlen ||
	    (size_t)(p - head) + len > headlen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request	 req;
	const char			*in = (const char *)data;
	char				*head;
	size_t				 off = 0, off2 = 0, i;
	ssize_t				 n, m = 0;
	int				 status, rv, j;

	n = h1_head_end(in, size, &off);
	for (i = 1; i <= size; i++) {
		m = h1_head_end(in, i, &off2);
		if (m != 0)
			break;
	}
	if (m != n)
		abort();
	if (n <= 0)
		return (0);

	/* An exact copy, so a read past the head is caught. */
	if ((head = malloc(n)) == NULL)
		return (0);
	memcpy(head, data, n);
	rv = h1_request_parse(head, n, 8192, &req, &status);
	if (rv == -1) {
		if (status != 400 && status != 414 && status != 431 &&
		    status != 417 && status != 501 && status != 505)
			abort();
		free(head);
		return (0);
	}
	if (status != 0 || req.headlen != (size_t)n)
		abort();
	if (req.minor != 0 && req.minor != 1)
		abort();
	if (req.nfields < 0 || req.nfields > HTTP_MAX_FIELDS)
		abort();
	if (req.chunked && req.content_length != -1)
		abort();
	if (req.minor == 1 && req.host == NULL)
		abort();
	inside(head, n, req.method, req.methodlen);
	inside(head, n, req.target, req.targetlen);
	if (req.form != TARGET_ABSOLUTE || req.pathlen != 1)
		inside(head, n, req.path, req.pathlen);
	inside(head, n, req.host, req.hostlen);
	if (req.host != NULL && !http_host_valid(req.host, req.hostlen))
		abort();
	if (req.form == TARGET_ORIGIN || req.form == TARGET_ABSOLUTE)
		(void)http_path_check(req.path, req.pathlen);
	for (j = 0; j < req.nfields; j++) {
		inside(head, n, req.fields[j].name, req.fields[j].namelen);
		inside(head, n, req.fields[j].value, req.fields[j].valuelen);
		(void)http_hop_by_hop(&req.fields[j], req.fields, req.nfields);
		(void)http_token_in_list(req.fields[j].value,
		    req.fields[j].valuelen, "close");
	}
	free(head);
	return (0);
}
