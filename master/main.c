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
 * uxrpd: the master process. It stays root, reads the configuration,
 * binds the listeners, opens the access log and runs the workers; it
 * never parses client traffic. Started with -W, the same binary is a
 * worker (see worker/worker.c).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "uxrp.h"
#include "master.h"
#include "worker.h"

extern char	**environ;

struct master	*master;

static void	 usage(void) __attribute__((__noreturn__));
static void	 master_signal(evutil_socket_t, short, void *);

static void
usage(void)
{
	fprintf(stderr, "usage: uxrpd [-dnv] [-f file]\n");
	exit(1);
}

static const char *
master_self(const char *argv0)
{
	static char	 path[PATH_MAX];
	ssize_t		 n;

	/* The workers are this very binary, whatever PATH says. */
	if ((n = readlink("/proc/self/exe", path, sizeof(path) - 1)) > 0) {
		path[n] = '\0';
		return (path);
	}
	if (realpath(argv0, path) == NULL)
		err(1, "cannot find my own executable %s", argv0);
	return (path);
}

/* -1 with errno set on failure; -1 with errno 0 when there is none. */
int
master_open_access_log(const char *path)
{
	errno = 0;
	if (path[0] == '\0')
		return (-1);
	return (open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
}

/* What depends on how the master runs rather than on the file. */
void
master_conf_fixup(struct uxrp_conf *conf)
{
	/* The default path is root's; a user names one or goes without. */
	if (!master->privileged && !conf->control_set)
		conf->control[0] = '\0';
}

int
master_nworkers(const struct uxrp_conf *conf)
{
	long	 ncpu;

	if (conf->workers > 0)
		return (conf->workers);
	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	if (ncpu > UXRP_WORKERS_MAX)
		ncpu = UXRP_WORKERS_MAX;
	return ((int)ncpu);
}

/*
 * Reads the configuration again and starts a generation of workers
 * with it. -1 when it cannot (the reasons go to diag) and nothing has
 * changed; 0 when the outcome is left to proc.c, which answers ctl_id.
 */
int
master_reload(uint32_t ctl_id, FILE *diag)
{
	struct uxrp_conf	*conf;
	struct passwd		*pw;
	uid_t			 uid = 0;
	gid_t			 gid = 0;
	int			 logfd;

	if (master->shutting_down) {
		fprintf(diag, "shutting down\n");
		return (-1);
	}
	if (proc_reloading()) {
		fprintf(diag, "a reload is in progress already\n");
		return (-1);
	}
	log_info("reload: reading %s", master->conf_file);
	conf = conf_load(master->conf_file, master->privileged ?
	    CONF_PRIVILEGED : 0, diag);
	if (conf == NULL)
		return (-1);
	master_conf_fixup(conf);
	if (strcmp(conf->control, master->conf->control) != 0)
		log_warnx("reload: the control socket stays %s until a "
		    "restart", master->conf->control[0] != '\0' ?
		    master->conf->control : "off");
	if (master->privileged) {
		if ((pw = getpwnam(conf->user)) == NULL) {
			fprintf(diag, "%s: unknown user %s\n", conf->file,
			    conf->user);
			conf_free(conf);
			return (-1);
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if ((logfd = master_open_access_log(conf->access_log)) == -1 &&
	    errno != 0) {
		fprintf(diag, "%s: access log %s: %s\n", conf->file,
		    conf->access_log, strerror(errno));
		conf_free(conf);
		return (-1);
	}
	if (listener_adopt(master->conf, conf, diag) == -1) {
		if (logfd != -1)
			close(logfd);
		conf_free(conf);
		return (-1);
	}
	proc_reload(conf, uid, gid, master_nworkers(conf), logfd, ctl_id);
	return (0);
}

/* SIGHUP: as uxrpctl reload, with the reasons in the log. */
static void
master_sighup(void)
{
	char	*buf = NULL, *line, *p;
	size_t	 len = 0;
	FILE	*diag;

	if ((diag = open_memstream(&buf, &len)) == NULL) {
		log_warn("%s: open_memstream", __func__);
		return;
	}
	if (master_reload(0, diag) == 0) {
		fclose(diag);
		free(buf);
		return;
	}
	fclose(diag);
	for (p = buf; (line = strsep(&p, "\n")) != NULL; )
		if (*line != '\0')
			log_warnx("reload: %s", line);
	log_warnx("reload failed; the running configuration stays");
	free(buf);
}

static void
master_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)events;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (!master->shutting_down)
			log_info("received %s, shutting down",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		proc_shutdown();
		break;
	case SIGCHLD:
		proc_reap();
		break;
	case SIGHUP:
		log_info("received SIGHUP, reloading");
		master_sighup();
		break;
	default:
		break;
	}
}

int
main(int argc, char *argv[])
{
	struct passwd	*pw;
	struct event	*ev_term, *ev_int, *ev_chld, *ev_hup;
	const char	*file = UXRP_CONF_FILE;
	int		 ch, debug = 0, verbose = 0, checkonly = 0;
	int		 worker_id = -1, nworkers, logfd;
	uid_t		 uid = 0;
	gid_t		 gid = 0;
	const char	*errstr, *argv0 = argv[0];

#ifdef __linux__
	setproctitle_init(argc, argv, environ);
#endif

	while ((ch = getopt(argc, argv, "df:nvW:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'W':
			worker_id = strtonum(optarg, 0, UXRP_WORKERS_MAX - 1,
			    &errstr);
			if (errstr != NULL)
				errx(1, "worker id %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		usage();

	if (worker_id != -1)
		worker_main(worker_id, debug, verbose);

	log_init(1, verbose);
	if ((master = calloc(1, sizeof(*master))) == NULL)
		err(1, NULL);
	master->privileged = geteuid() == 0;
	master->debug = debug;
	master->verbose = verbose;
	master->conf_file = file;
	master->started = time(NULL);

	master->conf = conf_load(file, master->privileged ?
	    CONF_PRIVILEGED : 0, stderr);
	if (master->conf == NULL)
		exit(1);
	master_conf_fixup(master->conf);
	if (checkonly) {
		conf_report(master->conf, stderr);
		fprintf(stderr, "%s: configuration OK\n", file);
		exit(0);
	}

	if (master->privileged) {
		if ((pw = getpwnam(master->conf->user)) == NULL)
			errx(1, "unknown user %s", master->conf->user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		log_warnx("not running as root: no chroot and no user "
		    "switch for the workers");
		if (master->conf->control[0] == '\0' &&
		    !master->conf->control_set)
			log_warnx("no \"control\" in %s and not root: no "
			    "control socket", file);
	}

	nworkers = master_nworkers(master->conf);
	master->self = master_self(argv0);

	if (listener_bind_all(master->conf) == -1)
		exit(1);
	if ((logfd = master_open_access_log(master->conf->access_log)) ==
	    -1 && errno != 0)
		err(1, "access log %s", master->conf->access_log);
	if (control_init(master->conf->control) == -1) {
		listener_close_all(master->conf, 1);
		exit(1);
	}

	if (!debug) {
		if (daemon(0, 0) == -1)
			err(1, "daemon");
		log_init(0, verbose);
	}
	log_procname("master");
	setproctitle("master");
	signal(SIGPIPE, SIG_IGN);

	if ((master->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ev_term = evsignal_new(master->base, SIGTERM, master_signal, NULL);
	ev_int = evsignal_new(master->base, SIGINT, master_signal, NULL);
	ev_chld = evsignal_new(master->base, SIGCHLD, master_signal, NULL);
	ev_hup = evsignal_new(master->base, SIGHUP, master_signal, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_chld == NULL ||
	    ev_hup == NULL || evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_chld, NULL) == -1 ||
	    evsignal_add(ev_hup, NULL) == -1)
		fatalx("signal events");
	if (control_listen(master->base) == -1)
		fatalx("control socket event");

	health_init(master->conf);
	tls_init(master->base);
	proc_init(uid, gid, nworkers, logfd);
	proc_start_workers();
	log_info("started %d worker%s, version %s", nworkers,
	    nworkers == 1 ? "" : "s", UXRP_VERSION);

	event_base_dispatch(master->base);

	control_cleanup();
	listener_close_all(master->conf, 1);
	log_info("exiting");
	return (0);
}
