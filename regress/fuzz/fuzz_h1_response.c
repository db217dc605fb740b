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
 * Fuzz target: an origin's response, as the proxy reads it. Input
 * layout: byte 0 bounds the piece size, byte 1 seeds the piece sizes,
 * the rest is a response head followed by a body, which always goes to
 * the chunked decoder (the head need not say chunked). The body is
 * decoded once whole and once in pieces: both must agree.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Decodes body in pieces of 1 to maxpiece bytes (0: in one piece) and
 * appends the payload to out. Returns consumed bytes or -1.
 */
static ssize_t
decode(const char *body, size_t len, size_t maxpiece, unsigned int seed,
    char *out, size_t *outlen, int *done)
{
	struct h1_chunk	 st;
	char		*piece;
	size_t		 pos = 0, plen, poff, off, dlen;
	ssize_t		 n;

	h1_chunk_init(&st, (seed & 1) ? 64 : 0);
	*outlen = 0;
	while (pos < len && !st.done) {
		plen = len - pos;
		if (maxpiece != 0) {
			seed = seed * 1103515245 + 12345;
			if (plen > 1 + (seed >> 16) % maxpiece)
				plen = 1 + (seed >> 16) % maxpiece;
		}
		/* Each piece in its own allocation, to catch over-reads. */
		if ((piece = malloc(plen)) == NULL)
			abort();
		memcpy(piece, body + pos, plen);
		for (poff = 0; poff < plen && !st.done; poff += n) {
			n = h1_chunk_step(&st, piece + poff, plen - poff,
			    &off, &dlen);
			if (n == -1) {
				free(piece);
				return (-1);
			}
			if (n == 0 || (size_t)n > plen - poff ||
			    off + dlen > (size_t)n)
				abort();
			memcpy(out + *outlen, piece + poff + off, dlen);
			*outlen += dlen;
		}
		free(piece);
		pos += poff;
	}
	*done = st.done;
	return (pos);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_response	 resp;
	const char			*in, *body;
	char				*head, *out1, *out2;
	size_t				 len, off = 0, bodylen, l1, l2;
	size_t				 maxpiece;
	ssize_t				 n, r1, r2;
	unsigned int			 seed;
	int				 d1, d2, j;

	if (size < 2)
		return (0);
	maxpiece = data[0] % 32 + 1;
	seed = data[1];
	in = (const char *)data + 2;
	len = size - 2;

	n = h1_head_end(in, len, &off);
	if (n == -1)
		return (0);
	if (n > 0) {
		if ((head = malloc(n)) == NULL)
			return (0);
		memcpy(head, in, n);
		if (h1_response_parse(head, n, &resp) == 0) {
			if (resp.status < 100 || resp.status > 599 ||
			    resp.headlen != (size_t)n ||
			    (resp.chunked && resp.te_other) ||
			    ((resp.chunked || resp.te_other) &&
			    resp.content_length != -1))
				abort();
			for (j = 0; j < resp.nfields; j++)
				(void)http_hop_by_hop(&resp.fields[j],
				    resp.fields, resp.nfields);
			(void)h1_response_body(&resp, seed & 1, seed & 2);
			(void)http_status_reason(resp.status);
		}
		free(head);
		body = in + n;
		bodylen = len - n;
	} else {
		body = in;
		bodylen = len;
	}

	if ((out1 = malloc(bodylen + 1)) == NULL)
		return (0);
	if ((out2 = malloc(bodylen + 1)) == NULL) {
		free(out1);
		return (0);
	}
	r1 = decode(body, bodylen, 0, seed, out1, &l1, &d1);
	r2 = decode(body, bodylen, maxpiece, seed, out2, &l2, &d2);
	if (r1 != r2)
		abort();
	if (r1 != -1 && (d1 != d2 || l1 != l2 || memcmp(out1, out2, l1) != 0))
		abort();
	free(out1);
	free(out2);
	return (0);
}
