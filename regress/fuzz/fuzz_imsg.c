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
 * The receiving side of the framing layer against arbitrary bytes from
 * its peer. The first input byte picks the size of the chunks the peer
 * writes; the rest goes through a socketpair, and every message that
 * comes out is taken and freed until the bytes run out or framing
 * breaks.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/uxrp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Takes every whole message; -1 once the stream is broken. */
static int
fuzz_drain(struct imsgbuf *ibuf)
{
	struct imsg	 imsg;
	int		 r;

	while ((r = imsg_get(ibuf, &imsg)) == 1) {
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
	return (r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ibuf;
	size_t		 chunk, off = 0, got = 0, n;
	ssize_t		 r;
	int		 sv[2];

	if (size < 1)
		return (0);
	chunk = 1 + data[0] * 67;	/* 1 .. 17086 bytes */
	data++;
	size--;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return (0);
	imsg_init(&ibuf, sv[1]);

	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		if ((r = write(sv[0], data + off, n)) <= 0)
			break;
		off += r;
		/* Take all that was written before writing more. */
		while (got < off) {
			if ((r = imsg_read(&ibuf)) <= 0)
				goto done;
			got += r;
			if (fuzz_drain(&ibuf) == -1)
				goto done;
		}
	}
	/* The peer is gone: whatever is left is an unfinished message. */
	close(sv[0]);
	sv[0] = -1;
	if (imsg_read(&ibuf) == 0)
		(void)fuzz_drain(&ibuf);
 done:
	imsg_clear(&ibuf);
	if (sv[0] != -1)
		close(sv[0]);
	close(sv[1]);
	return (0);
}
