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
 * The PROXY protocol (versions 1 and 2) on listeners that ask for it:
 * an L4 balancer in front says who the client is before the client's
 * own bytes. The header is read with MSG_PEEK and then consumed by its
 * exact length, so that TLS or HTTP starts on the very next byte.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>

#include "uxrp.h"
#include "worker.h"

#define PP_V1_MAX	107	/* the whole line, CRLF included */
#define PP_V2_HDR	16
#define PP_MAX		(PP_V2_HDR + 65535)
#define PP_PEEK		536	/* v1 and the usual v2 */

static int	pp_write(struct evbuffer *, int, const struct sockaddr_storage *,
		    const struct sockaddr_storage *);

static const unsigned char pp_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

struct pp_pending {
	int			 fd;
	struct sockaddr_storage	 peer;
	struct wlistener	*wl;
	struct event		*ev;
	struct timeval		 deadline;
};

/* One decimal port, 0 to 65535, without a leading zero. */
static int
pp_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	if (v > 65535)
		return (-1);
	*port = v;
	return (0);
}

static ssize_t
pp_v1(const unsigned char *buf, size_t len, struct sockaddr_storage *src)
{
	const char		*line = (const char *)buf;
	const char		*f[5];
	size_t			 flen[5], i, end, n = 0, start;
	char			 addr[INET6_ADDRSTRLEN];
	struct sockaddr_in	*sin = (struct sockaddr_in *)src;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)src;
	uint16_t		 sport, dport;
	int			 family;

	for (end = 0; end < len && end < PP_V1_MAX; end++)
		if (buf[end] == '\n')
			break;
	if (end == len)
		return (len >= PP_V1_MAX ? -1 : 0);
	if (end >= PP_V1_MAX || end < 7 || buf[end - 1] != '\r')
		return (-1);
	/* "PROXY" SP proto SP src SP dst SP sport SP dport CRLF */
	for (i = 6, start = 6; i <= end - 1; i++) {
		if (i < end - 1 && buf[i] != ' ')
			continue;
		if (n == 5 || i == start)
			return (-1);
		f[n] = line + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	memset(src, 0, sizeof(*src));
	if (n >= 1 && flen[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
		/* The balancer does not know: keep the connection's. */
		src->ss_family = AF_UNSPEC;
		return (end + 1);
	}
	if (n != 5)
		return (-1);
	if (flen[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (flen[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return (-1);
	/* The destination must be valid too; only the source is kept. */
	for (i = 2; i >= 1; i--) {
		if (flen[i] >= sizeof(addr))
			return (-1);
		memcpy(addr, f[i], flen[i]);
		addr[flen[i]] = '\0';
		if (inet_pton(family, addr, family == AF_INET ?
		    (void *)&sin->sin_addr : (void *)&sin6->sin6_addr) != 1)
			return (-1);
	}
	if (pp_port(f[3], flen[3], &sport) == -1 ||
	    pp_port(f[4], flen[4], &dport) == -1)
		return (-1);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(sport);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(sport);
	}
	return (end + 1);
}

static ssize_t
pp_v2(const unsigned char *buf, size_t len, struct sockaddr_storage *src)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)src;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)src;
	size_t			 total, alen;
	unsigned char		 ver_cmd, fam;

	if (len < PP_V2_HDR)
		return (0);
	ver_cmd = buf[12];
	fam = buf[13];
	alen = (buf[14] << 8) | buf[15];
	total = PP_V2_HDR + alen;
	if ((ver_cmd & 0xf0) != 0x20 || (ver_cmd & 0x0f) > 1)
		return (-1);
	if (len < total)
		return (0);
	memset(src, 0, sizeof(*src));
	if ((ver_cmd & 0x0f) == 0) {
		/* LOCAL: the balancer's own connection, a health check. */
		src->ss_family = AF_UNSPEC;
		return (total);
	}
	switch (fam) {
	case 0x11:	/* TCP over IPv4 */
	case 0x12:	/* UDP over IPv4 */
		if (alen < 12)
			return (-1);
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, buf + PP_V2_HDR, 4);
		memcpy(&sin->sin_port, buf + PP_V2_HDR + 8, 2);
		break;
	case 0x21:	/* TCP over IPv6 */
	case 0x22:
		if (alen < 36)
			return (-1);
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, buf + PP_V2_HDR, 16);
		memcpy(&sin6->sin6_port, buf + PP_V2_HDR + 32, 2);
		break;
	case 0x00:	/* unspecified */
	case 0x31:	/* Unix stream */
	case 0x32:
		src->ss_family = AF_UNSPEC;
		break;
	default:
		return (-1);
	}
	return (total);
}

/*
 * The header at the start of buf: its length, 0 if more bytes are
 * needed, -1 if it is not a valid PROXY header. *src is the client's
 * address, or AF_UNSPEC when the header does not name one.
 */
ssize_t
proxyproto_parse(const unsigned char *buf, size_t len,
    struct sockaddr_storage *src)
{
	size_t	 n;

	n = len < sizeof(pp_v2_sig) ? len : sizeof(pp_v2_sig);
	if (memcmp(buf, pp_v2_sig, n) == 0)
		return (n < sizeof(pp_v2_sig) ? 0 : pp_v2(buf, len, src));
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0)
		return (n < 6 ? 0 : pp_v1(buf, len, src));
	return (-1);
}

static void
pp_free(struct pp_pending *pp, int close_fd)
{
	if (close_fd)
		close(pp->fd);
	event_free(pp->ev);
	free(pp);
}

static void
pp_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pp_pending	*pp = arg;
	struct sockaddr_storage	 src;
	unsigned char		 buf[PP_PEEK], *big = NULL;
	struct timeval		 now, left;
	ssize_t			 n, used;
	char			 who[64];

	if (events & EV_TIMEOUT) {
		log_debug("PROXY header: timeout");
		pp_free(pp, 1);
		return;
	}
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			goto again;
		pp_free(pp, 1);
		return;
	}
	used = proxyproto_parse(buf, n, &src);
	if (used == 0 && (size_t)n == sizeof(buf)) {
		/* A v2 header with long TLVs: peek at all of it. */
		if ((big = malloc(PP_MAX)) == NULL ||
		    (n = recv(fd, big, PP_MAX, MSG_PEEK)) <= 0) {
			free(big);
			pp_free(pp, 1);
			return;
		}
		used = proxyproto_parse(big, n, &src);
		free(big);
	}
	if (used == -1) {
		if (sockaddr_fmt((struct sockaddr *)&pp->peer,
		    sizeof(pp->peer), who, sizeof(who)) == -1)
			strlcpy(who, "?", sizeof(who));
		log_warnx("listener %s: invalid PROXY header from %s, closed",
		    pp->wl->conf->name, who);
		pp_free(pp, 1);
		return;
	}
	if (used == 0)
		goto again;
	/* Take exactly the header; the client's bytes stay queued. */
	while (used > 0) {
		n = recv(fd, buf, (size_t)used < sizeof(buf) ? (size_t)used :
		    sizeof(buf), 0);
		if (n <= 0) {
			pp_free(pp, 1);
			return;
		}
		used -= n;
	}
	if (src.ss_family == AF_UNSPEC)
		memcpy(&src, &pp->peer, sizeof(src));
	h1_accept_ready(pp->fd, (struct sockaddr *)&src, pp->wl);
	pp_free(pp, 0);
	return;
 again:
	event_base_gettimeofday_cached(worker->base, &now);
	if (timercmp(&now, &pp->deadline, >=)) {
		pp_free(pp, 1);
		return;
	}
	timersub(&pp->deadline, &now, &left);
	event_add(pp->ev, &left);
}

/* A connection on a PROXY listener: its header first, then the rest. */
void
proxyproto_accept(int fd, struct sockaddr *sa, socklen_t salen,
    struct wlistener *wl)
{
	struct pp_pending	*pp;
	struct timeval		 tv, now;

	if ((pp = calloc(1, sizeof(*pp))) == NULL) {
		close(fd);
		return;
	}
	pp->fd = fd;
	pp->wl = wl;
	if (salen > sizeof(pp->peer))
		salen = sizeof(pp->peer);
	memcpy(&pp->peer, sa, salen);
	tv.tv_sec = worker->conf->timeouts.request_header;
	tv.tv_usec = 0;
	event_base_gettimeofday_cached(worker->base, &now);
	timeradd(&now, &tv, &pp->deadline);
	if ((pp->ev = event_new(worker->base, fd, EV_READ, pp_read_cb,
	    pp)) == NULL || event_add(pp->ev, &tv) == -1) {
		if (pp->ev != NULL)
			event_free(pp->ev);
		close(fd);
		free(pp);
	}
}

/*
 * The header an origin gets first on a new connection, naming the
 * client: version 1 text or version 2 binary. A client on a Unix
 * socket is named UNKNOWN (v1) or unspecified (v2).
 */
/* An IPv4 address as IPv4-mapped IPv6, so both ends share a family. */
static void
pp_map6(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)in;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin->sin_port;
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
}

int
proxyproto_write(struct evbuffer *out, int version,
    const struct sockaddr_storage *src0, const struct sockaddr_storage *dst0)
{
	struct sockaddr_storage		 m1, m2;
	const struct sockaddr_storage	*src = src0, *dst = dst0;

	if (src->ss_family == AF_INET6 && dst->ss_family == AF_INET) {
		pp_map6(dst, &m2);
		dst = &m2;
	} else if (src->ss_family == AF_INET && dst->ss_family == AF_INET6) {
		pp_map6(src, &m1);
		src = &m1;
	}
	return (pp_write(out, version, src, dst));
}

static int
pp_write(struct evbuffer *out, int version, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)src;
	const struct sockaddr_in	*d4 = (const struct sockaddr_in *)dst;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)src;
	const struct sockaddr_in6	*d6 = (const struct sockaddr_in6 *)dst;
	char				 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	unsigned char			 hdr[PP_V2_HDR + 36];
	int				 inet = src->ss_family == dst->ss_family &&
					    (src->ss_family == AF_INET ||
					    src->ss_family == AF_INET6);
	size_t				 alen = 0;

	if (version == 1) {
		if (!inet)
			return (evbuffer_add_printf(out, "PROXY UNKNOWN\r\n"));
		if (inet_ntop(src->ss_family, src->ss_family == AF_INET ?
		    (const void *)&s4->sin_addr : (const void *)&s6->sin6_addr,
		    sa, sizeof(sa)) == NULL ||
		    inet_ntop(dst->ss_family, dst->ss_family == AF_INET ?
		    (const void *)&d4->sin_addr : (const void *)&d6->sin6_addr,
		    da, sizeof(da)) == NULL)
			return (-1);
		return (evbuffer_add_printf(out, "PROXY %s %s %s %u %u\r\n",
		    src->ss_family == AF_INET ? "TCP4" : "TCP6", sa, da,
		    ntohs(src->ss_family == AF_INET ? s4->sin_port :
		    s6->sin6_port), ntohs(dst->ss_family == AF_INET ?
		    d4->sin_port : d6->sin6_port)));
	}
	memcpy(hdr, pp_v2_sig, sizeof(pp_v2_sig));
	hdr[12] = 0x21;		/* version 2, PROXY */
	if (inet && src->ss_family == AF_INET) {
		hdr[13] = 0x11;
		memcpy(hdr + PP_V2_HDR, &s4->sin_addr, 4);
		memcpy(hdr + PP_V2_HDR + 4, &d4->sin_addr, 4);
		memcpy(hdr + PP_V2_HDR + 8, &s4->sin_port, 2);
		memcpy(hdr + PP_V2_HDR + 10, &d4->sin_port, 2);
		alen = 12;
	} else if (inet) {
		hdr[13] = 0x21;
		memcpy(hdr + PP_V2_HDR, &s6->sin6_addr, 16);
		memcpy(hdr + PP_V2_HDR + 16, &d6->sin6_addr, 16);
		memcpy(hdr + PP_V2_HDR + 32, &s6->sin6_port, 2);
		memcpy(hdr + PP_V2_HDR + 34, &d6->sin6_port, 2);
		alen = 36;
	} else
		hdr[13] = 0x00;
	hdr[14] = alen >> 8;
	hdr[15] = alen & 0xff;
	return (evbuffer_add(out, hdr, PP_V2_HDR + alen));
}
