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
 * The access log: one line per request, written through the descriptor
 * the master opened, so the worker needs no path to it.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uxrp.h"
#include "worker.h"

static int	 accesslog_failing;

/* Request lines are already validated; this only guards the log. */
static void
accesslog_clean(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len && n + 4 < dstlen; i++) {
		unsigned char c = src[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			n += snprintf(dst + n, dstlen - n, "\\x%02x", c);
			continue;
		}
		dst[n++] = c;
	}
	dst[n] = '\0';
}

void
accesslog_write(const char *client, const struct timeval *start,
    const char *reqline, size_t reqlen, int status, uint64_t bytes,
    const struct timeval *end, const char *origin, const char *cause)
{
	char		 line[4096], req[2048], when[64];
	struct tm	 tm;
	time_t		 t;
	double		 secs;
	int		 n;

	if (worker->access_log_fd == -1)
		return;
	t = start->tv_sec;
	gmtime_r(&t, &tm);
	if (strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm) == 0)
		when[0] = '\0';
	if (reqline != NULL)
		accesslog_clean(req, sizeof(req), reqline, reqlen);
	else
		strlcpy(req, "-", sizeof(req));
	secs = (end->tv_sec - start->tv_sec) +
	    (end->tv_usec - start->tv_usec) / 1e6;
	n = snprintf(line, sizeof(line), "%s [%s] \"%s\" %d %llu %.3f %s %s\n",
	    client, when, req, status, (unsigned long long)bytes, secs,
	    origin != NULL ? origin : "-", cause != NULL ? cause : "-");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(worker->access_log_fd, line, n) != n) {
		if (!accesslog_failing)
			log_warn("access log write");
		accesslog_failing = 1;
	} else if (accesslog_failing) {
		log_info("access log writable again");
		accesslog_failing = 0;
	}
}
