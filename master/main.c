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

static int
master_open_access_log(const char *path)
{
	int	 fd;

	if (path[0] == '\0')
		return (-1);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		err(1, "access log %s", path);
	return (fd);
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
	default:
		break;
	}
}

int
main(int argc, char *argv[])
{
	struct passwd	*pw;
	struct event	*ev_term, *ev_int, *ev_chld;
	const char	*file = UXRP_CONF_FILE;
	int		 ch, debug = 0, verbose = 0, checkonly = 0;
	int		 worker_id = -1;
	long		 ncpu;
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
	master->access_log_fd = -1;

	master->conf = conf_load(file, master->privileged ?
	    CONF_PRIVILEGED : 0, stderr);
	if (master->conf == NULL)
		exit(1);
	if (checkonly) {
		conf_report(master->conf, stderr);
		fprintf(stderr, "%s: configuration OK\n", file);
		exit(0);
	}

	if (master->privileged) {
		if ((pw = getpwnam(master->conf->user)) == NULL)
			errx(1, "unknown user %s", master->conf->user);
		master->uid = pw->pw_uid;
		master->gid = pw->pw_gid;
	} else
		log_warnx("not running as root: no chroot and no user "
		    "switch for the workers");

	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	if (ncpu > UXRP_WORKERS_MAX)
		ncpu = UXRP_WORKERS_MAX;
	master->nworkers = master->conf->workers > 0 ?
	    master->conf->workers : (int)ncpu;
	master->self = master_self(argv0);

	if (listener_bind_all(master->conf) == -1)
		exit(1);
	master->access_log_fd = master_open_access_log(
	    master->conf->access_log);

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
	if (ev_term == NULL || ev_int == NULL || ev_chld == NULL ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_chld, NULL) == -1)
		fatalx("signal events");

	health_init();
	proc_init();
	proc_start_workers();
	log_info("started %d worker%s, version %s", master->nworkers,
	    master->nworkers == 1 ? "" : "s", UXRP_VERSION);

	event_base_dispatch(master->base);

	listener_close_all(master->conf, 1);
	log_info("exiting");
	return (0);
}
