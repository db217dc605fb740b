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
 * Unit tests of worker/slab.c: records are zeroed, distinct and apart
 * by their size, packed into few chunks, reused after being put back,
 * and the chunks that empty are given back but one.
 */

#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uxrp.h"
#include "worker.h"

#define NREC	5000
#define RECSZ	150	/* rounded up to 160 */

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t	 x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x < y ? -1 : x > y);
}

static void
t_records(void **state)
{
	struct slab	 sl = { RECSZ, { NULL }, 0 };
	uintptr_t	*r, key;
	size_t		 i;
	unsigned char	*p;

	(void)state;
	r = calloc(NREC, sizeof(*r));
	assert_non_null(r);
	for (i = 0; i < NREC; i++) {
		p = slab_get(&sl);
		assert_non_null(p);
		/* Zeroed, then written over to catch any overlap. */
		assert_int_equal(p[0], 0);
		assert_int_equal(p[RECSZ - 1], 0);
		memset(p, 0xa5, RECSZ);
		r[i] = (uintptr_t)p;
	}
	/* 5000 records of 160 bytes: 13 chunks of 64 KiB. */
	assert_int_equal(sl.nchunks, 13);
	qsort(r, NREC, sizeof(*r), cmp_ptr);
	for (i = 1; i < NREC; i++)
		assert_true(r[i] - r[i - 1] >= 160);
	/* Every other one back: the same places are handed out again. */
	for (i = 0; i < NREC; i += 2)
		slab_put(&sl, (void *)r[i]);
	for (i = 0; i < NREC; i += 2) {
		p = slab_get(&sl);
		assert_non_null(p);
		assert_int_equal(p[0], 0);
		key = (uintptr_t)p;
		assert_non_null(bsearch(&key, r, NREC, sizeof(*r), cmp_ptr));
	}
	assert_int_equal(sl.nchunks, 13);
	/* All back: one chunk stays. */
	for (i = 0; i < NREC; i++)
		slab_put(&sl, (void *)r[i]);
	assert_int_equal(sl.nchunks, 1);
	slab_put(&sl, NULL);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_records),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
