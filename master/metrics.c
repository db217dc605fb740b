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
 * Metrics in the Prometheus text format, for a mount of type status:
 * the same numbers as "uxrpctl show summary" and "show origins", over
 * all workers, built by the master when a worker asks for them.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "uxrp.h"
#include "master.h"

struct metrics_buf {
	char	*p;
	size_t	 len;
	size_t	 used;
};

static void
metrics_add(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
metrics_add(struct metrics_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (b->used >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used += (size_t)n < b->len - b->used ? (size_t)n :
		    b->len - b->used - 1;
}

/* A label value: backslash, quote and newline escaped. */
static void
metrics_label(char *dst, size_t len, const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			dst[n++] = '\\';
			dst[n++] = *s;
		} else if (*s == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else
			dst[n++] = *s;
	}
	dst[n] = '\0';
}

static void
metrics_head(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_add(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The whole page into buf; its length. */
size_t
metrics_build(char *buf, size_t len)
{
	struct metrics_buf	 b = { buf, len, 0 };
	struct worker_stats	 sum;
	struct origin_conf	*o;
	struct origin_health	 h;
	struct origin_stats	 st;
	char			 name[2 * UXRP_FILE_MAX];
	int			 running, draining;

	buf[0] = '\0';
	proc_stats(&sum, &running, &draining);
	metrics_head(&b, "uxrp_requests_total", "counter",
	    "Requests answered, whatever their status.");
	metrics_add(&b, "uxrp_requests_total %llu\n",
	    (unsigned long long)sum.requests);
	metrics_head(&b, "uxrp_errors_total", "counter",
	    "Requests answered 5xx or cut short.");
	metrics_add(&b, "uxrp_errors_total %llu\n",
	    (unsigned long long)sum.errors);
	metrics_head(&b, "uxrp_connections", "gauge",
	    "Client connections open now.");
	metrics_add(&b, "uxrp_connections %d\n", sum.connections);
	metrics_head(&b, "uxrp_workers", "gauge",
	    "Workers serving, and those draining after a reload.");
	metrics_add(&b, "uxrp_workers{state=\"serving\"} %d\n"
	    "uxrp_workers{state=\"draining\"} %d\n", running, draining);
	metrics_head(&b, "uxrp_uptime_seconds", "gauge",
	    "Seconds since the master started.");
	metrics_add(&b, "uxrp_uptime_seconds %lld\n",
	    (long long)(time(NULL) - master->started));
	metrics_head(&b, "uxrp_origin_up", "gauge",
	    "1 up, 0 down, -1 not known yet.");
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		metrics_label(name, sizeof(name), o->name);
		if (health_get(o->name, &h, NULL) == -1)
			h.state = ORIGIN_STATE_UNKNOWN;
		metrics_add(&b, "uxrp_origin_up{origin=\"%s\"} %d\n", name,
		    h.state == ORIGIN_STATE_UP ? 1 :
		    h.state == ORIGIN_STATE_DOWN ? 0 : -1);
	}
	metrics_head(&b, "uxrp_origin_requests_total", "counter",
	    "Requests sent to each origin.");
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		metrics_label(name, sizeof(name), o->name);
		(void)proc_origin_stats(o->id, &st);
		metrics_add(&b, "uxrp_origin_requests_total{origin=\"%s\"} "
		    "%llu\n", name, (unsigned long long)st.requests);
	}
	metrics_head(&b, "uxrp_origin_failures_total", "counter",
	    "Requests an origin failed: connect, invalid, timeout.");
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		metrics_label(name, sizeof(name), o->name);
		(void)proc_origin_stats(o->id, &st);
		metrics_add(&b, "uxrp_origin_failures_total{origin=\"%s\"} "
		    "%llu\n", name, (unsigned long long)st.failures);
	}
	metrics_head(&b, "uxrp_origin_inflight", "gauge",
	    "Requests at each origin now.");
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		metrics_label(name, sizeof(name), o->name);
		(void)proc_origin_stats(o->id, &st);
		metrics_add(&b, "uxrp_origin_inflight{origin=\"%s\"} %d\n",
		    name, st.inflight);
	}
	metrics_head(&b, "uxrp_origin_idle_connections", "gauge",
	    "Pooled idle connections to each origin.");
	TAILQ_FOREACH(o, &master->conf->origins, entry) {
		metrics_label(name, sizeof(name), o->name);
		(void)proc_origin_stats(o->id, &st);
		metrics_add(&b, "uxrp_origin_idle_connections{origin=\"%s\"} "
		    "%d\n", name, st.idle);
	}
	return (b.used);
}
