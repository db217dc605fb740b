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
 * Logging for both processes: stderr in the foreground, syslog when
 * daemonized. The process name prefixes every line so a reader knows
 * which process spoke.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "uxrp.h"

static int	 log_to_stderr = 1;
static int	 log_verbose;
static char	 log_name[32] = "uxrpd";

static void	 log_emit(int, int, const char *, va_list)
		    __attribute__((__format__ (printf, 3, 0)));

void
log_init(int debug, int verbose)
{
	log_to_stderr = debug;
	log_verbose = verbose;
	if (!debug)
		openlog("uxrpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procname(const char *name)
{
	strlcpy(log_name, name, sizeof(log_name));
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/* errnum >= 0 appends strerror(errnum), as warn(3) does. */
static void
log_emit(int pri, int errnum, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved_errno = errno;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		strlcpy(msg, "(unformattable log message)", sizeof(msg));
	if (log_to_stderr) {
		if (errnum >= 0)
			fprintf(stderr, "%s: %s: %s\n", log_name, msg,
			    strerror(errnum));
		else
			fprintf(stderr, "%s: %s\n", log_name, msg);
	} else {
		if (errnum >= 0)
			syslog(pri, "%s: %s: %s", log_name, msg,
			    strerror(errnum));
		else
			syslog(pri, "%s: %s", log_name, msg);
	}
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 errnum = errno;

	va_start(ap, fmt);
	log_emit(LOG_ERR, errnum, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, -1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, -1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, -1, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 errnum = errno;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, errnum, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
