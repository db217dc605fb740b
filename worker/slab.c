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
 * Small records of one size, packed into 64 KiB chunks of their own.
 * A parked connection's record is made when the connection's buffers
 * and session go back to malloc: from malloc, it would land among them
 * and keep their pages from going back to the system, one page per
 * record. Here thousands share a few chunks, and a chunk that empties
 * is unmapped (one is kept).
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uxrp.h"
#include "worker.h"

#define SLAB_CHUNK	(64 * 1024)
#define SLAB_ALIGN	16

struct slab_chunk {
	LIST_ENTRY(slab_chunk)	 entry;
	void			*free;		/* freed records, linked */
	int			 used;
	int			 fresh;		/* never handed out, from here */
	int			 listed;	/* on the slab's room list */
};

#define SLAB_FIRST	((sizeof(struct slab_chunk) + SLAB_ALIGN - 1) & \
			    ~(size_t)(SLAB_ALIGN - 1))

static size_t
slab_size(const struct slab *sl)
{
	return ((sl->size + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1));
}

static int
slab_per_chunk(const struct slab *sl)
{
	return ((SLAB_CHUNK - SLAB_FIRST) / slab_size(sl));
}

/* A chunk aligned to its size, so that a record finds its chunk. */
static struct slab_chunk *
slab_chunk_new(struct slab *sl)
{
	struct slab_chunk	*ch;
	uint8_t			*p, *q;
	size_t			 head;

	p = mmap(NULL, 2 * SLAB_CHUNK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	q = (uint8_t *)(((uintptr_t)p + SLAB_CHUNK - 1) &
	    ~(uintptr_t)(SLAB_CHUNK - 1));
	head = q - p;
	if (head > 0)
		(void)munmap(p, head);
	(void)munmap(q + SLAB_CHUNK, SLAB_CHUNK - head);
	ch = (struct slab_chunk *)q;
	ch->free = NULL;
	ch->used = 0;
	ch->fresh = 0;
	ch->listed = 1;
	LIST_INSERT_HEAD(&sl->room, ch, entry);
	sl->nchunks++;
	return (ch);
}

/* One record, zeroed; NULL when out of memory. */
void *
slab_get(struct slab *sl)
{
	struct slab_chunk	*ch;
	void			*r;

	if ((ch = LIST_FIRST(&sl->room)) == NULL &&
	    (ch = slab_chunk_new(sl)) == NULL)
		return (NULL);
	if (ch->free != NULL) {
		r = ch->free;
		memcpy(&ch->free, r, sizeof(ch->free));
	} else
		r = (uint8_t *)ch + SLAB_FIRST + ch->fresh++ * slab_size(sl);
	if (++ch->used == slab_per_chunk(sl)) {
		LIST_REMOVE(ch, entry);
		ch->listed = 0;
	}
	memset(r, 0, sl->size);
	return (r);
}

void
slab_put(struct slab *sl, void *r)
{
	struct slab_chunk	*ch;

	if (r == NULL)
		return;
	ch = (struct slab_chunk *)((uintptr_t)r &
	    ~(uintptr_t)(SLAB_CHUNK - 1));
	memcpy(r, &ch->free, sizeof(ch->free));
	ch->free = r;
	ch->used--;
	if (!ch->listed) {
		LIST_INSERT_HEAD(&sl->room, ch, entry);
		ch->listed = 1;
	}
	if (ch->used == 0 && sl->nchunks > 1) {
		LIST_REMOVE(ch, entry);
		sl->nchunks--;
		(void)munmap(ch, SLAB_CHUNK);
	}
}
