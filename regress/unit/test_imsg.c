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
 * The framing layer of common/imsg.c over a socketpair: messages and
 * descriptors go through whole and in order, bounds hold, and a peer
 * that breaks framing is an error.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/uxrp.h"

struct pair {
	int		 sv[2];
	struct imsgbuf	 tx;	/* writes to sv[0] */
	struct imsgbuf	 rx;	/* reads from sv[1] */
};

static int
pair_setup(void **state)
{
	struct pair	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv) == -1) {
		free(p);
		return (-1);
	}
	imsg_init(&p->tx, p->sv[0]);
	imsg_init(&p->rx, p->sv[1]);
	*state = p;
	return (0);
}

static int
pair_teardown(void **state)
{
	struct pair	*p = *state;

	imsg_clear(&p->tx);
	imsg_clear(&p->rx);
	if (p->sv[0] != -1)
		close(p->sv[0]);
	close(p->sv[1]);
	free(p);
	return (0);
}

/* Reads until one whole message is there; fails the test otherwise. */
static void
get_one(struct imsgbuf *ibuf, struct imsg *imsg)
{
	int	 r, reads = 0;

	while ((r = imsg_get(ibuf, imsg)) == 0) {
		assert_true(imsg_read(ibuf) > 0);
		assert_true(++reads < 1000);
	}
	assert_int_equal(r, 1);
}

/* Writes a bare header, as a peer that does its own framing would. */
static void
write_hdr(int fd, uint32_t type, uint32_t len, uint32_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.pid = 1;
	hdr.flags = flags;
	assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

static void
test_roundtrip(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	const char	*words[] = { "listener", "origin", "mount" };
	size_t		 i;

	for (i = 0; i < 3; i++)
		assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_ORIGIN + i,
		    100 + i, -1, words[i], strlen(words[i]) + 1), 0);
	assert_true(imsg_pending(&p->tx));
	assert_int_equal(imsg_flush(&p->tx), 0);
	assert_false(imsg_pending(&p->tx));

	for (i = 0; i < 3; i++) {
		get_one(&p->rx, &imsg);
		assert_int_equal(imsg.hdr.type, IMSG_CONF_ORIGIN + i);
		assert_int_equal(imsg.hdr.peerid, 100 + i);
		assert_int_equal(imsg.hdr.pid, getpid());
		assert_int_equal(imsg.hdr.len, strlen(words[i]) + 1);
		assert_int_equal(imsg.fd, -1);
		assert_non_null(imsg.data);
		assert_string_equal(imsg.data, words[i]);
		imsg_free(&imsg);
		assert_null(imsg.data);
	}
	assert_int_equal(imsg_get(&p->rx, &imsg), 0);
}

static void
test_payload_bounds(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	*big;
	size_t		 i;

	assert_non_null(big = malloc(IMSG_MAX_PAYLOAD));
	for (i = 0; i < IMSG_MAX_PAYLOAD; i++)
		big[i] = (unsigned char)(i * 7 + 3);

	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_END, 0, -1,
	    NULL, 0), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_GLOBAL, 0, -1,
	    big, IMSG_MAX_PAYLOAD), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_WORKER_READY, 0, -1,
	    NULL, 0), 0);
	assert_int_equal(imsg_flush(&p->tx), 0);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.type, IMSG_CONF_END);
	assert_int_equal(imsg.hdr.len, 0);
	assert_null(imsg.data);
	imsg_free(&imsg);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.type, IMSG_CONF_GLOBAL);
	assert_int_equal(imsg.hdr.len, IMSG_MAX_PAYLOAD);
	assert_memory_equal(imsg.data, big, IMSG_MAX_PAYLOAD);
	imsg_free(&imsg);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.type, IMSG_WORKER_READY);
	assert_int_equal(imsg.hdr.len, 0);
	imsg_free(&imsg);
	free(big);
}

static void
test_oversize_compose(void **state)
{
	struct pair	*p = *state;
	unsigned char	*big;
	int		 pfd[2];

	assert_non_null(big = calloc(1, IMSG_MAX_PAYLOAD + 1));
	errno = 0;
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_GLOBAL, 0, -1,
	    big, IMSG_MAX_PAYLOAD + 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_false(imsg_pending(&p->tx));

	/* The descriptor was given away: a refused message closes it. */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_LISTENER, 0, pfd[0],
	    big, IMSG_MAX_PAYLOAD + 1), -1);
	assert_false(fd_is_open(pfd[0]));
	assert_false(imsg_pending(&p->tx));
	close(pfd[1]);
	free(big);
}

static void
test_fd_passing(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	int		 pfd[2];
	char		 buf[16];
	int		 id = 42;

	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_ACCESS_LOG, 0,
	    pfd[0], &id, sizeof(id)), 0);
	assert_int_equal(imsg_flush(&p->tx), 0);
	/* Sent: the sender's copy is closed. */
	assert_false(fd_is_open(pfd[0]));

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.type, IMSG_CONF_ACCESS_LOG);
	assert_int_equal(imsg.hdr.flags & IMSG_FLAG_FD, IMSG_FLAG_FD);
	assert_int_not_equal(imsg.fd, -1);
	assert_memory_equal(imsg.data, &id, sizeof(id));

	assert_int_equal(write(pfd[1], "through", 7), 7);
	assert_int_equal(read(imsg.fd, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "through", 7);
	close(imsg.fd);
	imsg_free(&imsg);
	close(pfd[1]);
}

/* Descriptors stay with their own messages, others in between. */
static void
test_fd_order(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	int		 pa[2], pb[2];
	char		 c;

	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_LISTENER, 1, pa[0],
	    NULL, 0), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_MOUNT, 2, -1,
	    "m", 1), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_LISTENER, 3, pb[0],
	    NULL, 0), 0);
	assert_int_equal(imsg_flush(&p->tx), 0);
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.peerid, 1);
	assert_int_equal(read(imsg.fd, &c, 1), 1);
	assert_int_equal(c, 'a');
	close(imsg.fd);
	imsg_free(&imsg);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.peerid, 2);
	assert_int_equal(imsg.fd, -1);
	imsg_free(&imsg);

	get_one(&p->rx, &imsg);
	assert_int_equal(imsg.hdr.peerid, 3);
	assert_int_equal(read(imsg.fd, &c, 1), 1);
	assert_int_equal(c, 'b');
	close(imsg.fd);
	imsg_free(&imsg);

	close(pa[1]);
	close(pb[1]);
}

static void
test_many_in_one_read(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	uint32_t	 i, v;
	ssize_t		 n;

	for (i = 0; i < 200; i++)
		assert_int_equal(imsg_compose(&p->tx, IMSG_ORIGIN_HEALTH, i,
		    -1, &i, sizeof(i)), 0);
	assert_int_equal(imsg_flush(&p->tx), 0);

	n = imsg_read(&p->rx);
	assert_int_equal(n, 200 * (IMSG_HEADER_SIZE + sizeof(i)));
	for (i = 0; i < 200; i++) {
		assert_int_equal(imsg_get(&p->rx, &imsg), 1);
		assert_int_equal(imsg.hdr.peerid, i);
		memcpy(&v, imsg.data, sizeof(v));
		assert_int_equal(v, i);
		imsg_free(&imsg);
	}
	assert_int_equal(imsg_get(&p->rx, &imsg), 0);
}

/* A peer that writes one byte at a time: nothing shows before the end. */
static void
test_partial_reads(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	 msg[IMSG_HEADER_SIZE + 5];
	size_t		 i;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = IMSG_SHUTDOWN;
	hdr.len = 5;
	hdr.peerid = 9;
	hdr.pid = 1;
	memcpy(msg, &hdr, sizeof(hdr));
	memcpy(msg + IMSG_HEADER_SIZE, "drain", 5);

	for (i = 0; i < sizeof(msg); i++) {
		assert_int_equal(imsg_get(&p->rx, &imsg), 0);
		assert_int_equal(write(p->sv[0], msg + i, 1), 1);
		assert_int_equal(imsg_read(&p->rx), 1);
	}
	assert_int_equal(imsg_get(&p->rx, &imsg), 1);
	assert_int_equal(imsg.hdr.type, IMSG_SHUTDOWN);
	assert_int_equal(imsg.hdr.peerid, 9);
	assert_memory_equal(imsg.data, "drain", 5);
	imsg_free(&imsg);
	assert_int_equal(imsg_get(&p->rx, &imsg), 0);
}

static void
test_oversized_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p->sv[0], IMSG_CONF_GLOBAL, IMSG_MAX_PAYLOAD + 1, 0);
	assert_true(imsg_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &imsg), -1);
	assert_int_equal(imsg.fd, -1);
	assert_null(imsg.data);
}

static void
test_huge_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p->sv[0], IMSG_CONF_GLOBAL, UINT32_MAX, 0);
	assert_true(imsg_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &imsg), -1);
}

static void
test_unknown_flags(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p->sv[0], IMSG_CONF_END, 0, 0x80);
	assert_true(imsg_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &imsg), -1);
}

/* A header that promises a descriptor the peer never sent. */
static void
test_missing_fd(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p->sv[0], IMSG_CONF_LISTENER, 0, IMSG_FLAG_FD);
	assert_true(imsg_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &imsg), -1);
}

/* A header cut short by the peer's close never becomes a message. */
static void
test_truncated_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = IMSG_CONF_END;
	assert_int_equal(write(p->sv[0], &hdr, sizeof(hdr) - 3),
	    sizeof(hdr) - 3);
	close(p->sv[0]);
	p->sv[0] = -1;
	assert_int_equal(imsg_read(&p->rx), sizeof(hdr) - 3);
	assert_int_equal(imsg_get(&p->rx, &imsg), 0);
	assert_int_equal(imsg_read(&p->rx), 0);
	assert_int_equal(imsg_get(&p->rx, &imsg), 0);
}

/* A full socket: flush asks to be called again and loses nothing. */
static void
test_flush_backpressure(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	*big;
	int		 i, r, got = 0;
	const int	 count = 64;

	assert_int_equal(fd_nonblock(p->sv[0]), 0);
	assert_non_null(big = malloc(IMSG_MAX_PAYLOAD));
	for (i = 0; i < count; i++) {
		memset(big, i, IMSG_MAX_PAYLOAD);
		assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_MOUNT, i, -1,
		    big, IMSG_MAX_PAYLOAD), 0);
	}
	assert_int_equal(imsg_flush(&p->tx), 1);
	assert_true(imsg_pending(&p->tx));

	/*
	 * After each flush the socket holds bytes not read yet, so the
	 * blocking read below always has something to take.
	 */
	while (got < count) {
		r = imsg_flush(&p->tx);
		assert_int_not_equal(r, -1);
		assert_true(imsg_read(&p->rx) > 0);
		while ((r = imsg_get(&p->rx, &imsg)) == 1) {
			assert_int_equal(imsg.hdr.peerid, got);
			assert_int_equal(imsg.hdr.len, IMSG_MAX_PAYLOAD);
			memset(big, got, IMSG_MAX_PAYLOAD);
			assert_memory_equal(imsg.data, big,
			    IMSG_MAX_PAYLOAD);
			imsg_free(&imsg);
			got++;
		}
		assert_int_equal(r, 0);
	}
	assert_false(imsg_pending(&p->tx));
	free(big);
}

static void
test_eof(void **state)
{
	struct pair	*p = *state;

	close(p->sv[0]);
	p->sv[0] = -1;
	assert_int_equal(imsg_read(&p->rx), 0);
}

/* Clearing a buffer closes the descriptors still queued in it. */
static void
test_clear_closes(void **state)
{
	struct pair	*p = *state;
	int		 pfd[2];

	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_CONF_LISTENER, 0, pfd[0],
	    NULL, 0), 0);
	assert_true(fd_is_open(pfd[0]));
	imsg_clear(&p->tx);
	assert_false(fd_is_open(pfd[0]));
	assert_false(imsg_pending(&p->tx));
	close(pfd[1]);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_payload_bounds),
		T(test_oversize_compose),
		T(test_fd_passing),
		T(test_fd_order),
		T(test_many_in_one_read),
		T(test_partial_reads),
		T(test_oversized_header),
		T(test_huge_header),
		T(test_unknown_flags),
		T(test_missing_fd),
		T(test_truncated_header),
		T(test_flush_backpressure),
		T(test_eof),
		T(test_clear_closes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
