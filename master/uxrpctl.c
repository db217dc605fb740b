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
 * uxrpctl: the control client of uxrpd. It sends one request over the
 * control socket, waits for the whole answer and prints it: columns
 * for people, the JSON document itself with -j.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "uxrp.h"

#define CTL_TIMEOUT_SECS	60	/* a reload waits for new workers */
#define CTL_ANSWER_MAX		(16 * 1024 * 1024)

struct ctl_cmd {
	const char	*word;
	const char	*arg;
	enum imsg_type	 type;
	int		 value;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "reload",	NULL,		IMSG_CTL_RELOAD,	0 },
	{ "show",	"summary",	IMSG_CTL_SHOW,	CTL_SHOW_SUMMARY },
	{ "show",	"origins",	IMSG_CTL_SHOW,	CTL_SHOW_ORIGINS },
	{ "show",	"workers",	IMSG_CTL_SHOW,	CTL_SHOW_WORKERS },
	{ "show",	"listeners",	IMSG_CTL_SHOW,	CTL_SHOW_LISTENERS },
	{ "log",	"verbose",	IMSG_CTL_LOG_VERBOSE,	1 },
	{ "log",	"brief",	IMSG_CTL_LOG_VERBOSE,	0 },
	{ "log",	"reopen",	IMSG_CTL_LOG_REOPEN,	0 },
	{ "check",	NULL,		IMSG_CTL_CHECK,		0 },
};

struct ctl_answer {
	char		*data;
	size_t		 datalen;
	char		*fail;
	size_t		 faillen;
	char		*note;
	size_t		 notelen;
	int		 ok;
	int		 failed;
};

static void	 usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: uxrpctl [-j] [-s socket] command [argument]\n"
	    "commands: reload, show summary|origins|workers|listeners,\n"
	    "          log verbose|brief|reopen, check\n");
	exit(1);
}

static const struct ctl_cmd *
ctl_parse(int argc, char *argv[])
{
	size_t	 i;

	if (argc < 1 || argc > 2)
		usage();
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(ctl_cmds[i].word, argv[0]) != 0)
			continue;
		if (ctl_cmds[i].arg == NULL && argc == 1)
			return (&ctl_cmds[i]);
		/* "show" alone is "show summary". */
		if (ctl_cmds[i].arg != NULL && argc == 1 &&
		    ctl_cmds[i].type == IMSG_CTL_SHOW)
			return (&ctl_cmds[i]);
		if (ctl_cmds[i].arg != NULL && argc == 2 &&
		    strcmp(ctl_cmds[i].arg, argv[1]) == 0)
			return (&ctl_cmds[i]);
	}
	usage();
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { CTL_TIMEOUT_SECS, 0 };
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "%s: socket path too long", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		switch (errno) {
		case ENOENT:
		case ECONNREFUSED:
			errx(1, "uxrpd is not running (no control socket "
			    "at %s)", path);
		case EACCES:
		case EPERM:
			errx(1, "permission denied: %s", path);
		default:
			err(1, "%s", path);
		}
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		err(1, "setsockopt");
	return (fd);
}

static void
ctl_append(char **buf, size_t *len, const void *data, size_t n)
{
	char	*p;

	if (*len + n > CTL_ANSWER_MAX)
		errx(1, "answer too long");
	if ((p = realloc(*buf, *len + n + 1)) == NULL)
		err(1, NULL);
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*buf = p;
}

static void
ctl_receive(struct imsgbuf *ibuf, struct ctl_answer *ans)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	for (;;) {
		while ((r = imsg_get(ibuf, &imsg)) == 1) {
			if (imsg.fd != -1)
				close(imsg.fd);
			switch (imsg.hdr.type) {
			case IMSG_CTL_DATA:
				ctl_append(&ans->data, &ans->datalen,
				    imsg.data, imsg.hdr.len);
				break;
			case IMSG_CTL_FAIL:
				ans->failed = 1;
				ctl_append(&ans->fail, &ans->faillen,
				    imsg.data, imsg.hdr.len);
				break;
			case IMSG_CTL_OK:
				ans->ok = 1;
				if (imsg.hdr.len > 0)
					ctl_append(&ans->note, &ans->notelen,
					    imsg.data, imsg.hdr.len);
				break;
			case IMSG_CTL_END:
				imsg_free(&imsg);
				return;
			default:
				errx(1, "unexpected answer type %u",
				    imsg.hdr.type);
			}
			imsg_free(&imsg);
		}
		if (r == -1)
			errx(1, "bad answer from uxrpd");
		if ((n = imsg_read(ibuf)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errx(1, "no answer from uxrpd within %ds",
				    CTL_TIMEOUT_SECS);
			err(1, "read");
		}
		if (n == 0)
			errx(1, "connection closed by uxrpd");
	}
}

/* Width of each column, then the rows: a header and left-aligned text. */
static void
ctl_table(json_t *rows, const char *const *keys, const char *const *heads,
    char *(*cell)(json_t *, const char *))
{
	json_t	*row;
	size_t	 i, k, nkeys = 0, w[16];
	char	*s;

	while (keys[nkeys] != NULL && nkeys < 16)
		nkeys++;
	for (k = 0; k < nkeys; k++)
		w[k] = strlen(heads[k]);
	json_array_foreach(rows, i, row) {
		for (k = 0; k < nkeys; k++) {
			s = cell(row, keys[k]);
			if (strlen(s) > w[k])
				w[k] = strlen(s);
			free(s);
		}
	}
	for (k = 0; k < nkeys; k++)
		printf("%-*s%s", k + 1 < nkeys ? (int)w[k] : 0, heads[k],
		    k + 1 < nkeys ? "  " : "\n");
	json_array_foreach(rows, i, row) {
		for (k = 0; k < nkeys; k++) {
			s = cell(row, keys[k]);
			printf("%-*s%s", k + 1 < nkeys ? (int)w[k] : 0, s,
			    k + 1 < nkeys ? "  " : "\n");
			free(s);
		}
	}
}

static char *
ctl_age(json_int_t then)
{
	char		*s;
	json_int_t	 d = (json_int_t)time(NULL) - then;
	int		 r;

	if (then <= 0)
		return (strdup("-"));
	if (d < 0)
		d = 0;
	if (d < 60)
		r = asprintf(&s, "%llds", (long long)d);
	else if (d < 3600)
		r = asprintf(&s, "%lldm%02llds", (long long)(d / 60),
		    (long long)(d % 60));
	else if (d < 86400)
		r = asprintf(&s, "%lldh%02lldm", (long long)(d / 3600),
		    (long long)(d % 3600 / 60));
	else
		r = asprintf(&s, "%lldd%02lldh", (long long)(d / 86400),
		    (long long)(d % 86400 / 3600));
	if (r == -1)
		err(1, NULL);
	return (s);
}

/* A value as text; "since" and "started" as the time since then. */
static char *
ctl_cell(json_t *row, const char *key)
{
	json_t	*v = json_object_get(row, key);
	char	*s;

	if (v == NULL || json_is_null(v))
		s = strdup("-");
	else if ((strcmp(key, "since") == 0 || strcmp(key, "started") == 0) &&
	    json_is_integer(v))
		return (ctl_age(json_integer_value(v)));
	else if (json_is_string(v))
		s = strdup(json_string_value(v)[0] != '\0' ?
		    json_string_value(v) : "-");
	else if (json_is_integer(v)) {
		if (asprintf(&s, "%lld",
		    (long long)json_integer_value(v)) == -1)
			s = NULL;
	} else if (strcmp(key, "check") == 0 && json_is_object(v)) {
		if (asprintf(&s, "%s/%llds", json_string_value(
		    json_object_get(v, "path")), (long long)
		    json_integer_value(json_object_get(v, "interval"))) == -1)
			s = NULL;
	} else
		s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL)
		err(1, NULL);
	return (s);
}

static void
ctl_print_summary(json_t *doc)
{
	static const char *const keys[] = {
		"version", "pid", "config", "uptime", "generation", "reloads",
		"workers", "draining", "connections", "requests", "errors",
		"log", NULL
	};
	const char *const	*k;
	char			*s;
	json_int_t		 up;

	for (k = keys; *k != NULL; k++) {
		if (strcmp(*k, "uptime") == 0) {
			up = json_integer_value(json_object_get(doc,
			    "uptime"));
			s = ctl_age((json_int_t)time(NULL) - up);
		} else
			s = ctl_cell(doc, *k);
		printf("%-12s %s\n", *k, s);
		free(s);
	}
	printf("%-12s %lld up, %lld down, %lld unknown\n", "origins",
	    (long long)json_integer_value(json_object_get(doc, "origins_up")),
	    (long long)json_integer_value(json_object_get(doc,
	    "origins_down")),
	    (long long)json_integer_value(json_object_get(doc,
	    "origins_unknown")));
}

static void
ctl_print(int what, json_t *doc)
{
	static const char *const okeys[] = { "id", "address", "state",
	    "since", "cause", "requests", "failures", "inflight", "idle",
	    "check", NULL };
	static const char *const oheads[] = { "ID", "ADDRESS", "STATE",
	    "SINCE", "CAUSE", "REQUESTS", "FAILURES", "INFLIGHT", "IDLE",
	    "CHECK", NULL };
	static const char *const wkeys[] = { "id", "generation", "pid",
	    "state", "started", "connections", "idle", "requests", "errors",
	    NULL };
	static const char *const wheads[] = { "ID", "GEN", "PID", "STATE",
	    "UP", "CONNECTIONS", "IDLE", "REQUESTS", "ERRORS", NULL };
	static const char *const lkeys[] = { "id", "type", "name", "mode",
	    NULL };
	static const char *const lheads[] = { "ID", "TYPE", "ADDRESS",
	    "MODE", NULL };
	json_t	*rows;

	switch (what) {
	case CTL_SHOW_SUMMARY:
		ctl_print_summary(doc);
		return;
	case CTL_SHOW_ORIGINS:
		if ((rows = json_object_get(doc, "origins")) != NULL)
			ctl_table(rows, okeys, oheads, ctl_cell);
		return;
	case CTL_SHOW_WORKERS:
		if ((rows = json_object_get(doc, "workers")) != NULL)
			ctl_table(rows, wkeys, wheads, ctl_cell);
		return;
	case CTL_SHOW_LISTENERS:
		if ((rows = json_object_get(doc, "listeners")) != NULL)
			ctl_table(rows, lkeys, lheads, ctl_cell);
		return;
	}
}

/* Each line of a failure on stderr; one line gets our name first. */
static void
ctl_fail(const char *text)
{
	const char	*p = text;

	while (*p == '\n')
		p++;
	if (strchr(p, '\n') == NULL)
		fprintf(stderr, "uxrpctl: %s\n", p);
	else
		fprintf(stderr, "%s%s", p, p[strlen(p) - 1] == '\n' ? "" :
		    "\n");
}

int
main(int argc, char *argv[])
{
	const struct ctl_cmd	*cmd;
	const char		*sock = UXRP_CONTROL_SOCKET;
	struct imsgbuf		 ibuf;
	struct ctl_answer	 ans;
	json_t			*doc;
	json_error_t		 jerr;
	int			 ch, jflag = 0, fd;

	while ((ch = getopt(argc, argv, "js:")) != -1) {
		switch (ch) {
		case 'j':
			jflag = 1;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	cmd = ctl_parse(argc, argv);

	fd = ctl_connect(sock);
	imsg_init(&ibuf, fd);
	if (imsg_compose(&ibuf, cmd->type, 0, -1,
	    cmd->type == IMSG_CTL_SHOW || cmd->type == IMSG_CTL_LOG_VERBOSE ?
	    &cmd->value : NULL, cmd->type == IMSG_CTL_SHOW ||
	    cmd->type == IMSG_CTL_LOG_VERBOSE ? sizeof(cmd->value) : 0) == -1)
		err(1, "imsg_compose");
	/* A refused peer may find the socket closed: read why. */
	if (imsg_flush(&ibuf) != 0 && errno != EPIPE && errno != ECONNRESET)
		err(1, "write");
	memset(&ans, 0, sizeof(ans));
	ctl_receive(&ibuf, &ans);
	close(fd);

	if (ans.failed) {
		ctl_fail(ans.fail != NULL ? ans.fail : "failed");
		return (1);
	}
	if (!ans.ok)
		errx(1, "no answer from uxrpd");
	if (cmd->type != IMSG_CTL_SHOW) {
		if (jflag) {
			doc = json_pack("{s:s, s:s}", "result", "ok",
			    "message", ans.note != NULL ? ans.note : "");
			if (doc == NULL || json_dumpf(doc, stdout,
			    JSON_COMPACT) == -1)
				errx(1, "cannot print the answer");
			printf("\n");
			json_decref(doc);
		} else if (ans.note != NULL)
			printf("%s\n", ans.note);
		return (0);
	}
	if (ans.data == NULL)
		errx(1, "empty answer from uxrpd");
	if (jflag) {
		printf("%s\n", ans.data);
		return (0);
	}
	if ((doc = json_loadb(ans.data, ans.datalen, 0, &jerr)) == NULL)
		errx(1, "bad answer from uxrpd: %s", jerr.text);
	ctl_print(cmd->value, doc);
	json_decref(doc);
	return (0);
}
