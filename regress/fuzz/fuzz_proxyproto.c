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

/* Fuzz target: the PROXY protocol header parser, v1 and v2. */

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 src;
	unsigned char		*copy;
	ssize_t			 n;
	size_t			 i;

	/* An exact-size copy, so that any read past the end is seen. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return (0);
	memcpy(copy, data, size);
	n = proxyproto_parse(copy, size, &src);
	if (n > (ssize_t)size)
		abort();
	/* A header found whole is found the same in any longer buffer,
	 * and never in a prefix that cuts it. */
	if (n > 0)
		for (i = 0; i < (size_t)n; i++)
			if (proxyproto_parse(copy, i, &src) > 0)
				abort();
	free(copy);
	return (0);
}
