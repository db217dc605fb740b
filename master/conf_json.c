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
 * Where each value of the configuration sits, and the diagnostics that
 * say so (master process, while loading).
 *
 * jansson builds the tree but forgets positions once it succeeds, so a
 * scanner of our own walks the same text and records, for every value,
 * a hash of its JSON path and the line and byte column of its first
 * byte. The checks in conf.c then name a path and get its position.
 * On a syntax error the same scanner, told to stop at the token jansson
 * failed on, tells the path and the start of that token.
 *
 * Diagnostics are collected, sorted by position and printed at the end,
 * so that they read in file order whatever order the checks ran in.
 * The helpers at the end (paths, unknown keys, typed values) are what
 * the schema checks of conf.c are written with.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "uxrp.h"
#include "conf.h"

#define CONF_SCAN_DEPTH		4096	/* jansson stops at 2048 */
#define CONF_MAXMSGS		256	/* kept for sorting; more are counted */
#define CONF_MSG_MAX		512

#define FNV_BASIS		0xcbf29ce484222325ULL
#define FNV_PRIME		0x100000001b3ULL

enum conf_tok {
	TOK_EOF,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COLON,
	TOK_COMMA,
	TOK_STRING,
	TOK_LITERAL	/* number, true, false, null, or anything else */
};

struct conf_pos {
	uint64_t	 hash;		/* of the value's JSON path */
	size_t		 off;
	size_t		 line;
	size_t		 col;
};

struct conf_scan {
	const char	*buf;
	size_t		 len;
	size_t		 off;
	size_t		 limit;		/* stop at the token ending past it */
	size_t		 line;
	size_t		 linestart;
	int		 depth;
	int		 stopped;

	/* the token just read */
	enum conf_tok	 tok;
	size_t		 tokoff;
	size_t		 tokend;
	size_t		 tokline;
	size_t		 tokcol;
	int		 tokclosed;	/* TOK_STRING has its closing quote */

	/* the path of the value being read */
	char		*path;
	size_t		 pathlen;
	size_t		 pathcap;
	int		 nomem;

	struct conf_pos	*pos;
	size_t		 npos;
	size_t		 poscap;
};

struct conf_msg {
	size_t		 line;
	size_t		 col;
	size_t		 seq;
	int		 warn;
	char		*path;		/* as printed */
	char		*text;
};

struct conf_diag {
	const char	*name;
	const char	*buf;
	size_t		 len;
	struct conf_pos	*pos;		/* sorted by hash, then offset */
	size_t		 npos;
	struct conf_msg	*msgs;
	size_t		 nmsgs;
	size_t		 msgcap;
	int		 nerrors;
	int		 nomem;
};

static uint64_t	 conf_hash(uint64_t, const char *, size_t);
static void	 conf_scan_init(struct conf_scan *, const char *, size_t,
		    size_t);
static void	 conf_scan_free(struct conf_scan *);
static void	 conf_scan_next(struct conf_scan *);
static int	 conf_scan_push(struct conf_scan *, const char *, size_t,
		    uint64_t, uint64_t *);
static void	 conf_scan_pop(struct conf_scan *, size_t);
static int	 conf_scan_key(struct conf_scan *, uint64_t, uint64_t *);
static int	 conf_scan_record(struct conf_scan *, uint64_t);
static int	 conf_scan_value(struct conf_scan *, uint64_t);
static int	 conf_scan_object(struct conf_scan *, uint64_t);
static int	 conf_scan_array(struct conf_scan *, uint64_t);
static int	 conf_scan_text(struct conf_scan *);
static int	 conf_pos_cmp(const void *, const void *);
static int	 conf_pos_find(const struct conf_diag *, const char *,
		    size_t *, size_t *);
static void	 conf_diag_add(struct conf_diag *, int, size_t, size_t,
		    const char *, const char *);
static int	 conf_msg_cmp(const void *, const void *);
static size_t	 conf_vis_bytes(char *, size_t, const char *, size_t, int);

/* FNV-1a, continued from h over n more bytes of the path. */
static uint64_t
conf_hash(uint64_t h, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return (h);
}

static void
conf_scan_init(struct conf_scan *sc, const char *buf, size_t len,
    size_t limit)
{
	memset(sc, 0, sizeof(*sc));
	sc->buf = buf;
	sc->len = len;
	sc->limit = limit;
	sc->line = 1;
}

static void
conf_scan_free(struct conf_scan *sc)
{
	free(sc->path);
	free(sc->pos);
	sc->path = NULL;
	sc->pos = NULL;
}

/*
 * Reads the next token. The scanner is lenient: it needs to agree with
 * jansson only on where tokens start and end, jansson having judged
 * the text already. It stops (sc->stopped) at the end of the text and
 * at the first token that ends past sc->limit.
 */
static void
conf_scan_next(struct conf_scan *sc)
{
	const char	*b = sc->buf;
	unsigned char	 c;

	while (sc->off < sc->len) {
		c = b[sc->off];
		if (c == '\n') {
			sc->line++;
			sc->linestart = sc->off + 1;
		} else if (c != ' ' && c != '\t' && c != '\r')
			break;
		sc->off++;
	}
	sc->tokoff = sc->off;
	sc->tokline = sc->line;
	sc->tokcol = sc->off - sc->linestart + 1;
	sc->tokclosed = 0;
	if (sc->off >= sc->len) {
		sc->tok = TOK_EOF;
		sc->tokend = sc->off;
		sc->stopped = 1;
		return;
	}

	c = b[sc->off++];
	switch (c) {
	case '{':
		sc->tok = TOK_LBRACE;
		break;
	case '}':
		sc->tok = TOK_RBRACE;
		break;
	case '[':
		sc->tok = TOK_LBRACKET;
		break;
	case ']':
		sc->tok = TOK_RBRACKET;
		break;
	case ':':
		sc->tok = TOK_COLON;
		break;
	case ',':
		sc->tok = TOK_COMMA;
		break;
	case '"':
		sc->tok = TOK_STRING;
		/* A control byte cannot be in a string: it ends the token. */
		while (sc->off < sc->len) {
			c = b[sc->off];
			if (c < 0x20)
				break;
			sc->off++;
			if (c == '"') {
				sc->tokclosed = 1;
				break;
			}
			if (c == '\\' && sc->off < sc->len &&
			    (unsigned char)b[sc->off] >= 0x20)
				sc->off++;
		}
		break;
	default:
		sc->tok = TOK_LITERAL;
		while (sc->off < sc->len) {
			c = b[sc->off];
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
			    c == '{' || c == '}' || c == '[' || c == ']' ||
			    c == ':' || c == ',' || c == '"')
				break;
			sc->off++;
		}
		break;
	}
	sc->tokend = sc->off;
	if (sc->tokend > sc->limit)
		sc->stopped = 1;
}

/* Appends n bytes to the path; *hp becomes the hash of the new path. */
static int
conf_scan_push(struct conf_scan *sc, const char *s, size_t n, uint64_t h,
    uint64_t *hp)
{
	char	*p;
	size_t	 cap;

	if (sc->pathlen + n + 1 > sc->pathcap) {
		cap = sc->pathcap == 0 ? 128 : sc->pathcap;
		while (cap < sc->pathlen + n + 1)
			cap *= 2;
		if ((p = realloc(sc->path, cap)) == NULL) {
			sc->nomem = 1;
			return (-1);
		}
		sc->path = p;
		sc->pathcap = cap;
	}
	memcpy(sc->path + sc->pathlen, s, n);
	sc->pathlen += n;
	sc->path[sc->pathlen] = '\0';
	*hp = conf_hash(h, s, n);
	return (0);
}

static void
conf_scan_pop(struct conf_scan *sc, size_t len)
{
	sc->pathlen = len;
	if (sc->path != NULL)
		sc->path[len] = '\0';
}

/*
 * Adds the key of the string token to the path. A key with escapes is
 * decoded by jansson, so that the path holds what conf.c will see.
 */
static int
conf_scan_key(struct conf_scan *sc, uint64_t h, uint64_t *hp)
{
	const char	*key;
	size_t		 keylen;
	json_t		*js = NULL;
	int		 rc;

	key = sc->buf + sc->tokoff + 1;
	keylen = sc->tokend - sc->tokoff - 1;
	if (sc->tokclosed)
		keylen--;
	if (memchr(key, '\\', keylen) != NULL && sc->tokclosed) {
		js = json_loadb(sc->buf + sc->tokoff, sc->tokend - sc->tokoff,
		    JSON_DECODE_ANY, NULL);
		if (js != NULL && json_is_string(js)) {
			key = json_string_value(js);
			keylen = json_string_length(js);
		}
	}
	if (sc->pathlen > 0 && conf_scan_push(sc, ".", 1, h, &h) == -1)
		rc = -1;
	else
		rc = conf_scan_push(sc, key, keylen, h, hp);
	json_decref(js);
	return (rc);
}

static int
conf_scan_record(struct conf_scan *sc, uint64_t h)
{
	struct conf_pos	*p;
	size_t		 cap;

	if (sc->npos == sc->poscap) {
		cap = sc->poscap == 0 ? 64 : sc->poscap * 2;
		if ((p = reallocarray(sc->pos, cap, sizeof(*p))) == NULL) {
			sc->nomem = 1;
			return (-1);
		}
		sc->pos = p;
		sc->poscap = cap;
	}
	p = &sc->pos[sc->npos++];
	p->hash = h;
	p->off = sc->tokoff;
	p->line = sc->tokline;
	p->col = sc->tokcol;
	return (0);
}

/* The value whose first token was just read. */
static int
conf_scan_value(struct conf_scan *sc, uint64_t h)
{
	if (conf_scan_record(sc, h) == -1)
		return (-1);
	switch (sc->tok) {
	case TOK_LBRACE:
		return (conf_scan_object(sc, h));
	case TOK_LBRACKET:
		return (conf_scan_array(sc, h));
	case TOK_STRING:
	case TOK_LITERAL:
		return (0);
	default:
		return (-1);
	}
}

static int
conf_scan_object(struct conf_scan *sc, uint64_t h)
{
	size_t		 keep = sc->pathlen;
	uint64_t	 kh;

	if (++sc->depth > CONF_SCAN_DEPTH)
		return (-1);
	conf_scan_next(sc);
	if (sc->tok == TOK_RBRACE && !sc->stopped) {
		sc->depth--;
		return (0);
	}
	for (;;) {
		/* The key goes on the path even when the scan stops on it. */
		if (sc->tok != TOK_STRING)
			return (-1);
		if (conf_scan_key(sc, h, &kh) == -1 || sc->stopped)
			return (-1);
		conf_scan_next(sc);
		if (sc->stopped || sc->tok != TOK_COLON)
			return (-1);
		conf_scan_next(sc);
		if (sc->stopped || conf_scan_value(sc, kh) == -1)
			return (-1);
		conf_scan_pop(sc, keep);
		conf_scan_next(sc);
		if (sc->stopped)
			return (-1);
		if (sc->tok == TOK_RBRACE)
			break;
		if (sc->tok != TOK_COMMA)
			return (-1);
		conf_scan_next(sc);
	}
	sc->depth--;
	return (0);
}

static int
conf_scan_array(struct conf_scan *sc, uint64_t h)
{
	char		 idx[32];
	size_t		 keep = sc->pathlen, i;
	uint64_t	 ih;
	int		 n;

	if (++sc->depth > CONF_SCAN_DEPTH)
		return (-1);
	conf_scan_next(sc);
	if (sc->tok == TOK_RBRACKET && !sc->stopped) {
		sc->depth--;
		return (0);
	}
	for (i = 0;; i++) {
		ih = h;
		if (sc->tok == TOK_LBRACE || sc->tok == TOK_LBRACKET ||
		    sc->tok == TOK_STRING || sc->tok == TOK_LITERAL) {
			n = snprintf(idx, sizeof(idx), "[%zu]", i);
			if (n < 0 || (size_t)n >= sizeof(idx) ||
			    conf_scan_push(sc, idx, n, h, &ih) == -1)
				return (-1);
		}
		if (sc->stopped || conf_scan_value(sc, ih) == -1)
			return (-1);
		conf_scan_pop(sc, keep);
		conf_scan_next(sc);
		if (sc->stopped)
			return (-1);
		if (sc->tok == TOK_RBRACKET)
			break;
		if (sc->tok != TOK_COMMA)
			return (-1);
		conf_scan_next(sc);
	}
	sc->depth--;
	return (0);
}

/* The whole text: one value, then nothing. */
static int
conf_scan_text(struct conf_scan *sc)
{
	uint64_t	 h = FNV_BASIS;

	if (conf_scan_push(sc, "", 0, h, &h) == -1)
		return (-1);
	conf_scan_next(sc);
	if (sc->stopped || conf_scan_value(sc, h) == -1)
		return (-1);
	conf_scan_next(sc);
	if (sc->tok != TOK_EOF)
		return (-1);
	return (0);
}

static int
conf_pos_cmp(const void *a, const void *b)
{
	const struct conf_pos	*pa = a, *pb = b;

	if (pa->hash != pb->hash)
		return (pa->hash < pb->hash ? -1 : 1);
	if (pa->off != pb->off)
		return (pa->off < pb->off ? -1 : 1);
	return (0);
}

/*
 * The position of the value at path. A path not found (too long to be
 * built, or odd keys) falls back to its parent, and at last the root.
 */
static int
conf_pos_find(const struct conf_diag *d, const char *path, size_t *line,
    size_t *col)
{
	size_t	 len = strlen(path), lo, hi, mid;
	uint64_t h;

	for (;;) {
		h = conf_hash(FNV_BASIS, path, len);
		lo = 0;
		hi = d->npos;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (d->pos[mid].hash < h)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < d->npos && d->pos[lo].hash == h) {
			*line = d->pos[lo].line;
			*col = d->pos[lo].col;
			return (0);
		}
		if (len == 0)
			break;
		while (len > 0 && path[len - 1] != '.' && path[len - 1] != '[')
			len--;
		if (len > 0)
			len--;
	}
	*line = 1;
	*col = 1;
	return (-1);
}

struct conf_diag *
conf_diag_new(const char *name, const char *buf, size_t len)
{
	struct conf_diag	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->name = name;
	d->buf = buf;
	d->len = len;
	return (d);
}

void
conf_diag_free(struct conf_diag *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nmsgs; i++) {
		free(d->msgs[i].path);
		free(d->msgs[i].text);
	}
	free(d->msgs);
	free(d->pos);
	free(d);
}

/* Records the position of every value of a text jansson accepted. */
int
conf_diag_scan(struct conf_diag *d)
{
	struct conf_scan	 sc;
	int			 rc;

	conf_scan_init(&sc, d->buf, d->len, d->len);
	rc = conf_scan_text(&sc);
	free(d->pos);
	d->pos = sc.pos;
	d->npos = sc.npos;
	sc.pos = NULL;
	conf_scan_free(&sc);
	if (d->npos > 0)
		qsort(d->pos, d->npos, sizeof(*d->pos), conf_pos_cmp);
	return (rc);
}

/*
 * A syntax error. jansson's position is the byte after the token it
 * failed on, the offending byte itself for bad UTF-8, and the end for
 * a premature end; the scanner stops on that token and gives its start
 * and path.
 */
void
conf_diag_syntax(struct conf_diag *d, const json_error_t *jerr)
{
	struct conf_scan	 sc;
	char			 msg[CONF_MSG_MAX], text[CONF_MSG_MAX];
	size_t			 limit, jpos;
	int			 n;

	jpos = jerr->position > 0 ? (size_t)jerr->position : 0;
	if (jpos > d->len)
		jpos = d->len;
	switch (json_error_code(jerr)) {
	case json_error_premature_end_of_input:
		limit = d->len;
		break;
	case json_error_invalid_utf8:
		limit = jpos;
		break;
	default:
		limit = jpos > 0 ? jpos - 1 : 0;
		break;
	}
	conf_scan_init(&sc, d->buf, d->len, limit);
	(void)conf_scan_text(&sc);
	switch (json_error_code(jerr)) {
	case json_error_duplicate_key:
		(void)strlcpy(text, "duplicate key", sizeof(text));
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		(void)strlcpy(text, "NUL (\\u0000) not allowed in a string",
		    sizeof(text));
		break;
	default:
		n = snprintf(msg, sizeof(msg), "syntax error: %s", jerr->text);
		if (n < 0)
			(void)strlcpy(msg, "syntax error", sizeof(msg));
		conf_vis_bytes(text, sizeof(text), msg, strlen(msg), 1);
		break;
	}
	conf_diag_add(d, 0, sc.tokline, sc.tokcol,
	    sc.path != NULL ? sc.path : "", text);
	conf_scan_free(&sc);
}

/*
 * A diagnostic about the value at path, placed at the value at "at"
 * (the object that lacks a key, for a missing one).
 */
void
conf_diag_vmsg(struct conf_diag *d, int warn, const char *at,
    const char *path, const char *fmt, va_list ap)
{
	char	 msg[CONF_MSG_MAX], text[CONF_MSG_MAX];
	size_t	 line, col;
	int	 n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		(void)strlcpy(msg, "(unprintable message)", sizeof(msg));
	conf_vis(text, sizeof(text), msg, strlen(msg));
	(void)conf_pos_find(d, at, &line, &col);
	conf_diag_add(d, warn, line, col, path, text);
}

static void
conf_diag_add(struct conf_diag *d, int warn, size_t line, size_t col,
    const char *path, const char *text)
{
	struct conf_msg	*m;
	char		 vpath[CONF_PATH_MAX];
	size_t		 cap;

	if (!warn)
		d->nerrors++;
	if (d->nmsgs >= CONF_MAXMSGS)
		return;
	if (d->nmsgs == d->msgcap) {
		cap = d->msgcap == 0 ? 16 : d->msgcap * 2;
		if ((m = reallocarray(d->msgs, cap, sizeof(*m))) == NULL) {
			d->nomem = 1;
			return;
		}
		d->msgs = m;
		d->msgcap = cap;
	}
	if (path[0] == '\0')
		(void)strlcpy(vpath, "(top)", sizeof(vpath));
	else
		conf_vis(vpath, sizeof(vpath), path, strlen(path));
	m = &d->msgs[d->nmsgs];
	m->line = line;
	m->col = col;
	m->seq = d->nmsgs;
	m->warn = warn;
	m->path = strdup(vpath);
	m->text = strdup(text);
	if (m->path == NULL || m->text == NULL) {
		free(m->path);
		free(m->text);
		d->nomem = 1;
		return;
	}
	d->nmsgs++;
}

int
conf_diag_errors(const struct conf_diag *d)
{
	return (d->nerrors);
}

static int
conf_msg_cmp(const void *a, const void *b)
{
	const struct conf_msg	*ma = a, *mb = b;

	if (ma->line != mb->line)
		return (ma->line < mb->line ? -1 : 1);
	if (ma->col != mb->col)
		return (ma->col < mb->col ? -1 : 1);
	if (ma->seq != mb->seq)
		return (ma->seq < mb->seq ? -1 : 1);
	return (0);
}

/* Prints the diagnostics in file order, at most CONF_MAXERRORS errors. */
void
conf_diag_flush(struct conf_diag *d, FILE *fp)
{
	struct conf_msg	*m;
	size_t		 i;
	int		 nerr = 0;

	if (d->nmsgs > 0)
		qsort(d->msgs, d->nmsgs, sizeof(*d->msgs), conf_msg_cmp);
	if (fp == NULL)
		return;
	for (i = 0; i < d->nmsgs; i++) {
		m = &d->msgs[i];
		if (!m->warn && nerr++ == CONF_MAXERRORS)
			break;
		fprintf(fp, "%s:%zu:%zu: %s: %s%s\n", d->name, m->line, m->col,
		    m->path, m->warn ? "warning: " : "", m->text);
	}
	if (nerr > CONF_MAXERRORS || d->nerrors > nerr)
		fprintf(fp, "%s: too many errors (%d)\n", d->name, d->nerrors);
	if (d->nomem)
		fprintf(fp, "%s: %s\n", d->name, strerror(ENOMEM));
	fflush(fp);
}

/*
 * Copies n bytes of src for printing on one line: control bytes and
 * DEL (with highbit, all bytes past ASCII) become \xNN; a copy that
 * does not fit ends in "...". Returns the length written.
 */
static size_t
conf_vis_bytes(char *dst, size_t dstsz, const char *src, size_t n,
    int highbit)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 i, o = 0, need;

	if (dstsz == 0)
		return (0);
	for (i = 0; i < n; i++) {
		c = src[i];
		need = (c < 0x20 || c == 0x7f || (highbit && c >= 0x80)) ?
		    4 : 1;
		if (o + need + 1 > dstsz) {
			if (dstsz >= 4) {
				o = o + 4 > dstsz ? dstsz - 4 : o;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else
			dst[o++] = c;
	}
	dst[o] = '\0';
	return (o);
}

size_t
conf_vis(char *dst, size_t dstsz, const char *src, size_t n)
{
	return (conf_vis_bytes(dst, dstsz, src, n, 0));
}

void
conf_msg(struct conf_ctx *ctx, int warn, const char *at, const char *path,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_diag_vmsg(ctx->diag, warn, at, path, fmt, ap);
	va_end(ap);
}

void
conf_err(struct conf_ctx *ctx, const char *path, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_diag_vmsg(ctx->diag, 0, path, path, fmt, ap);
	va_end(ap);
}

void
conf_warn(struct conf_ctx *ctx, const char *path, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_diag_vmsg(ctx->diag, 1, path, path, fmt, ap);
	va_end(ap);
}

/* Reported where the object that lacks the key starts. */
void
conf_missing(struct conf_ctx *ctx, const char *objpath, const char *key)
{
	char	 path[CONF_PATH_MAX];

	conf_path(path, objpath, key);
	conf_msg(ctx, 0, objpath, path, "required key missing");
}

/*
 * Child paths. Schema paths are short; one that does not fit (a long
 * unknown key) is cut with "...", and its position falls back to the
 * parent's.
 */
void
conf_path(char *dst, const char *parent, const char *key)
{
	int	 n;

	if (parent[0] == '\0')
		n = snprintf(dst, CONF_PATH_MAX, "%s", key);
	else
		n = snprintf(dst, CONF_PATH_MAX, "%s.%s", parent, key);
	if (n < 0)
		(void)strlcpy(dst, parent, CONF_PATH_MAX);
	else if (n >= CONF_PATH_MAX)
		memcpy(dst + CONF_PATH_MAX - 4, "...", 4);
}

void
conf_pathidx(char *dst, const char *parent, size_t idx)
{
	int	 n;

	n = snprintf(dst, CONF_PATH_MAX, "%s[%zu]", parent, idx);
	if (n < 0)
		(void)strlcpy(dst, parent, CONF_PATH_MAX);
	else if (n >= CONF_PATH_MAX)
		memcpy(dst + CONF_PATH_MAX - 4, "...", 4);
}

void
conf_keys(struct conf_ctx *ctx, json_t *obj, const char *path,
    const char *const *keys)
{
	const char		*key;
	const char *const	*k;
	char			 kpath[CONF_PATH_MAX];
	void			*it;

	for (it = json_object_iter(obj); it != NULL;
	    it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		for (k = keys; *k != NULL; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (*k != NULL)
			continue;
		conf_path(kpath, path, key);
		conf_err(ctx, kpath, "unknown key");
	}
}

/* An optional integer: 1 when *res is set, 0 when absent, -1 on error. */
int
conf_int(struct conf_ctx *ctx, json_t *obj, const char *parent,
    const char *key, json_int_t min, json_int_t max, json_int_t *res)
{
	char		 path[CONF_PATH_MAX];
	json_t		*v;
	json_int_t	 n;

	if ((v = json_object_get(obj, key)) == NULL)
		return (0);
	conf_path(path, parent, key);
	if (!json_is_integer(v)) {
		conf_err(ctx, path, "expected an integer");
		return (-1);
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		if (max == CONF_JSON_INT_MAX)
			conf_err(ctx, path, "out of range (%lld or more)",
			    (long long)min);
		else
			conf_err(ctx, path, "out of range (%lld..%lld)",
			    (long long)min, (long long)max);
		return (-1);
	}
	*res = n;
	return (1);
}

/*
 * The array at parent.key, or NULL when absent or after an error. A
 * required one must be there and must not be empty.
 */
json_t *
conf_array(struct conf_ctx *ctx, json_t *obj, const char *parent,
    const char *key, int required)
{
	char	 path[CONF_PATH_MAX];
	json_t	*a;

	conf_path(path, parent, key);
	if ((a = json_object_get(obj, key)) == NULL) {
		if (required)
			conf_missing(ctx, parent, key);
		return (NULL);
	}
	if (!json_is_array(a)) {
		conf_err(ctx, path, "expected an array");
		return (NULL);
	}
	if (required && json_array_size(a) == 0) {
		conf_err(ctx, path, "must not be empty");
		return (NULL);
	}
	return (a);
}

int
conf_abspath(struct conf_ctx *ctx, const char *path, const char *s,
    char *dst, size_t dstsz)
{
	if (s[0] != '/') {
		conf_err(ctx, path, "must be an absolute path");
		return (-1);
	}
	if (strlcpy(dst, s, dstsz) >= dstsz) {
		conf_err(ctx, path, "too long (max %zu bytes)", dstsz - 1);
		return (-1);
	}
	return (0);
}

/* Whether the n bytes of s hold a "." or ".." segment. */
int
conf_dotsegment(const char *s, size_t n)
{
	size_t	 i = 0, start;

	while (i < n) {
		while (i < n && s[i] == '/')
			i++;
		start = i;
		while (i < n && s[i] != '/')
			i++;
		if (i - start == 1 && s[start] == '.')
			return (1);
		if (i - start == 2 && s[start] == '.' && s[start + 1] == '.')
			return (1);
	}
	return (0);
}

int
conf_controls(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (1);
	return (0);
}
