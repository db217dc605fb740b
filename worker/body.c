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
 * Moving a message body from one buffer to another: by length, by
 * chunks, or until the peer closes, re-framed as chunks when asked.
 * The caller gives a budget so that nothing is moved that the other
 * side cannot take yet.
 */

#include <sys/types.h>

#include <string.h>

#include <event2/buffer.h>

#include "uxrp.h"
#include "worker.h"

#define BODY_WINDOW	(16 * 1024)	/* bytes looked at per chunk step */

void
body_init(struct body_pump *bp, enum body_in in, uint64_t length,
    int out_chunked, uint64_t limit, size_t trailer_max)
{
	memset(bp, 0, sizeof(*bp));
	bp->in = in;
	bp->remaining = length;
	bp->out_chunked = out_chunked;
	bp->limit = limit;
	h1_chunk_init(&bp->chunk, trailer_max);
}

static int
body_emit(struct body_pump *bp, struct evbuffer *out, struct evbuffer *in,
    const char *data, size_t len)
{
	if (len == 0)
		return (0);
	if (bp->out_chunked &&
	    evbuffer_add_printf(out, "%zx\r\n", len) == -1)
		return (-1);
	if (in != NULL) {
		if (evbuffer_remove_buffer(in, out, len) != (int)len)
			return (-1);
	} else if (evbuffer_add(out, data, len) == -1)
		return (-1);
	if (bp->out_chunked && evbuffer_add(out, "\r\n", 2) == -1)
		return (-1);
	bp->total += len;
	return (0);
}

static enum pump_result
body_done(struct body_pump *bp, struct evbuffer *out)
{
	bp->done = 1;
	if (bp->out_chunked && evbuffer_add(out, "0\r\n\r\n", 5) == -1)
		return (PUMP_ERROR);
	return (PUMP_DONE);
}

enum pump_result
body_pump(struct body_pump *bp, struct evbuffer *in, struct evbuffer *out,
    size_t budget)
{
	unsigned char	*p;
	size_t		 avail, n, dataoff, datalen;
	ssize_t		 used;

	if (bp->done)
		return (PUMP_DONE);
	if (bp->in == BIN_LENGTH && bp->remaining == 0)
		return (body_done(bp, out));
	while (budget > 0 && (avail = evbuffer_get_length(in)) > 0) {
		switch (bp->in) {
		case BIN_LENGTH:
		case BIN_CLOSE:
			n = avail < budget ? avail : budget;
			if (bp->in == BIN_LENGTH && n > bp->remaining)
				n = bp->remaining;
			if (bp->limit != 0 && bp->total + n > bp->limit)
				return (PUMP_TOO_LARGE);
			if (body_emit(bp, out, in, NULL, n) == -1)
				return (PUMP_ERROR);
			budget -= n;
			if (bp->in == BIN_LENGTH) {
				bp->remaining -= n;
				if (bp->remaining == 0)
					return (body_done(bp, out));
			}
			break;
		case BIN_CHUNKED:
			n = avail < BODY_WINDOW ? avail : BODY_WINDOW;
			if (n > budget && budget >= 64)
				n = budget;
			if ((p = evbuffer_pullup(in, n)) == NULL)
				return (PUMP_ERROR);
			used = h1_chunk_step(&bp->chunk, (const char *)p, n,
			    &dataoff, &datalen);
			if (used < 0)
				return (PUMP_ERROR);
			if (bp->limit != 0 && bp->total + datalen > bp->limit)
				return (PUMP_TOO_LARGE);
			if (body_emit(bp, out, NULL, (const char *)p + dataoff,
			    datalen) == -1)
				return (PUMP_ERROR);
			evbuffer_drain(in, used);
			budget -= (size_t)used < budget ? (size_t)used : budget;
			if (bp->chunk.done)
				return (body_done(bp, out));
			if (used == 0)
				return (PUMP_MORE);
			break;
		}
	}
	return (PUMP_MORE);
}

/* The origin closed: the end of a close-delimited body only. */
int
body_finish_close(struct body_pump *bp, struct evbuffer *out)
{
	if (bp->done)
		return (0);
	if (bp->in != BIN_CLOSE)
		return (-1);
	return (body_done(bp, out) == PUMP_DONE ? 0 : -1);
}
