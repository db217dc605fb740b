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
 * Private to the configuration loader: conf.c checks the schema,
 * conf_json.c knows where each value sits in the text and collects the
 * diagnostics that name it. The rest of the master uses uxrp.h only.
 */

#ifndef CONF_H
#define CONF_H

#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>

#include <jansson.h>

/*
 * JSON paths as diagnostics print them: "workers", "listen[1].port",
 * "vhosts[0].mounts[1].origin"; "" is the root, printed "(top)".
 */
#define CONF_PATH_MAX		512
#define CONF_MAXERRORS		20	/* printed; the rest are counted */

#if JSON_INTEGER_IS_LONG_LONG
#define CONF_JSON_INT_MAX	LLONG_MAX
#else
#define CONF_JSON_INT_MAX	LONG_MAX
#endif

struct conf_diag;
struct uxrp_conf;

/* What the checks of one load share. */
struct conf_ctx {
	struct conf_diag	*diag;
	struct uxrp_conf	*conf;
	int			 flags;
};

/* conf_tls.c */
int			 tls_check_files(const struct tls_files *, char *,
			    size_t);
int			 tls_check_ca(const char *, char *, size_t);

/* conf_json.c */
struct conf_diag	*conf_diag_new(const char *, const char *, size_t);
void			 conf_diag_free(struct conf_diag *);
int			 conf_diag_scan(struct conf_diag *);
void			 conf_diag_syntax(struct conf_diag *,
			    const json_error_t *);
void			 conf_diag_vmsg(struct conf_diag *, int, const char *,
			    const char *, const char *, va_list)
			    __attribute__((__format__ (printf, 5, 0)));
int			 conf_diag_errors(const struct conf_diag *);
void			 conf_diag_flush(struct conf_diag *, FILE *);
size_t			 conf_vis(char *, size_t, const char *, size_t);

/* conf_json.c: diagnostics, paths and typed values for conf.c */
void			 conf_msg(struct conf_ctx *, int, const char *,
			    const char *, const char *, ...)
			    __attribute__((__format__ (printf, 5, 6)));
void			 conf_err(struct conf_ctx *, const char *,
			    const char *, ...)
			    __attribute__((__format__ (printf, 3, 4)));
void			 conf_warn(struct conf_ctx *, const char *,
			    const char *, ...)
			    __attribute__((__format__ (printf, 3, 4)));
void			 conf_missing(struct conf_ctx *, const char *,
			    const char *);
void			 conf_path(char *, const char *, const char *);
void			 conf_pathidx(char *, const char *, size_t);
void			 conf_keys(struct conf_ctx *, json_t *, const char *,
			    const char *const *);
int			 conf_int(struct conf_ctx *, json_t *, const char *,
			    const char *, json_int_t, json_int_t,
			    json_int_t *);
json_t			*conf_array(struct conf_ctx *, json_t *, const char *,
			    const char *, int);
int			 conf_abspath(struct conf_ctx *, const char *,
			    const char *, char *, size_t);
int			 conf_dotsegment(const char *, size_t);
int			 conf_controls(const char *, size_t);

#endif /* CONF_H */
