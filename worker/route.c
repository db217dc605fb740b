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
 * Routing: Host to virtual host, path to mount, and the target the
 * origin gets. The path is compared and forwarded byte for byte; it has
 * been checked for dot segments before it gets here.
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>

#include "uxrp.h"
#include "worker.h"

/* The host part of a Host value, without port or trailing dot. */
static size_t
route_hostname(const char *host, size_t len, char *buf, size_t bufsize)
{
	size_t	 i, n = 0;

	if (len > 0 && host[0] == '[') {
		for (i = 0; i < len && host[i] != ']'; i++)
			;
		n = i < len ? i + 1 : len;
	} else {
		for (i = 0; i < len && host[i] != ':'; i++)
			;
		n = i;
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n >= bufsize)
		return (0);
	for (i = 0; i < n; i++)
		buf[i] = tolower((unsigned char)host[i]);
	buf[n] = '\0';
	return (n);
}

/* Exact name first, then the longest wildcard, then the first vhost. */
struct vhost_conf *
route_vhost(const struct uxrp_conf *conf, const char *host, size_t hostlen)
{
	struct vhost_conf	*v, *wild = NULL;
	struct vhost_name	*vn;
	char			 name[UXRP_NAME_MAX];
	size_t			 n, suffix, wildlen = 0;

	if (host == NULL || (n = route_hostname(host, hostlen, name,
	    sizeof(name))) == 0)
		return (TAILQ_FIRST(&conf->vhosts));
	TAILQ_FOREACH(v, &conf->vhosts, entry) {
		TAILQ_FOREACH(vn, &v->names, entry) {
			if (!vn->wildcard) {
				if (strcmp(vn->name, name) == 0)
					return (v);
				continue;
			}
			/* "*.example.org": compare ".example.org". */
			suffix = strlen(vn->name) - 1;
			if (n > suffix && suffix > wildlen &&
			    memcmp(name + n - suffix, vn->name + 1,
			    suffix) == 0) {
				wild = v;
				wildlen = suffix;
			}
		}
	}
	return (wild != NULL ? wild : TAILQ_FIRST(&conf->vhosts));
}

/*
 * The longest mountpoint that is a prefix of path on a segment
 * boundary. *redirect is set when path is a slashed mountpoint without
 * its slash ("/app" for "/app/"): the caller answers 301.
 */
const struct mount_conf *
route_mount(const struct vhost_conf *v, const char *path, size_t len,
    int *redirect)
{
	const struct mount_conf	*m;
	size_t			 plen, mlen;
	char			 next;

	*redirect = 0;
	plen = len;
	if (memchr(path, '?', len) != NULL)
		plen = (const char *)memchr(path, '?', len) - path;
	TAILQ_FOREACH(m, &v->mounts, entry) {
		mlen = m->mountpoint_len;
		if (m->mountpoint[mlen - 1] == '/') {
			if (plen >= mlen &&
			    memcmp(path, m->mountpoint, mlen) == 0)
				return (m);
			if (mlen > 1 && plen == mlen - 1 &&
			    memcmp(path, m->mountpoint, mlen - 1) == 0) {
				*redirect = 1;
				return (m);
			}
			continue;
		}
		if (plen < mlen || memcmp(path, m->mountpoint, mlen) != 0)
			continue;
		next = plen == mlen ? '\0' : path[mlen];
		if (next == '\0' || next == '/')
			return (m);
	}
	return (NULL);
}

/*
 * The origin's target: the mountpoint replaced by the origin path, the
 * rest as sent. A slashed mountpoint's own slash stands for the origin
 * path's; every byte after it goes on unchanged, "//" included.
 * Returns the target's length, or -1 if it does not fit.
 */
int
route_rewrite(const struct mount_conf *m, const char *path, size_t len,
    char *buf, size_t bufsize)
{
	const char	*rest = path + m->mountpoint_len;
	size_t		 restlen = len - m->mountpoint_len;
	size_t		 oplen = m->origin_path_len, n = 0;
	int		 op_slash, mp_slash, sep = 0;

	op_slash = oplen > 0 && m->origin_path[oplen - 1] == '/';
	mp_slash = m->mountpoint[m->mountpoint_len - 1] == '/';
	if (mp_slash) {
		/* "/app/" + "x" onto "/v2": "/v2/x". */
		sep = !op_slash && restlen > 0 && rest[0] != '?';
	} else if (restlen > 0 && rest[0] == '/' && op_slash) {
		/* "/app" + "/x" onto "/v2/": the boundary slash is one. */
		oplen--;
	}
	if (oplen + sep + restlen >= bufsize)
		return (-1);
	memcpy(buf, m->origin_path, oplen);
	n = oplen;
	if (sep)
		buf[n++] = '/';
	memcpy(buf + n, rest, restlen);
	n += restlen;
	buf[n] = '\0';
	return ((int)n);
}
