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
 * The worker's last step before serving: from here on it may only move
 * bytes between the sockets it has or is handed, open Unix and TCP
 * sockets to reach origins, and manage its memory. A worker taken over
 * through a parser bug can then neither open a file, run a program,
 * bind, listen, nor change anything of its process. A system call
 * outside the list kills the process (SIGSYS), which the master logs
 * and restarts; opening a file fails instead, since libc may try it
 * (time zone data) and copes.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <seccomp.h>
#endif

#include "uxrp.h"
#include "worker.h"

#ifdef __linux__
static const int sandbox_allowed[] = {
	/* the sockets it has */
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(shutdown), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	/* the event loop */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	/* memory */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(mprotect),
	/* libc and OpenSSL themselves */
	SCMP_SYS(getpid), SCMP_SYS(getppid), SCMP_SYS(gettid),
	SCMP_SYS(getrandom), SCMP_SYS(futex), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

static const int sandbox_families[] = { AF_UNIX, AF_INET, AF_INET6 };

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Built with -DUXRP_SANDBOX_DISCOVER, a call outside the list is only
 * logged by the kernel (dmesg: audit type=1326, syscall=N): how to find
 * what a change needs before it kills a worker.
 */
#ifdef UXRP_SANDBOX_DISCOVER
#define SANDBOX_DEFAULT	SCMP_ACT_LOG
#else
#define SANDBOX_DEFAULT	SCMP_ACT_KILL_PROCESS
#endif

/* Argument arg equal to v; whole, where SCMP_A0() leaves fields out. */
static struct scmp_arg_cmp
sandbox_eq(unsigned int arg, scmp_datum_t v)
{
	struct scmp_arg_cmp	 cmp;

	memset(&cmp, 0, sizeof(cmp));
	cmp.arg = arg;
	cmp.op = SCMP_CMP_EQ;
	cmp.datum_a = v;
	return (cmp);
}

static int
sandbox_rules(scmp_filter_ctx ctx)
{
	size_t	 i;
	int	 r = 0;

	for (i = 0; i < NELEM(sandbox_allowed) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_allowed[i],
		    0);
	/*
	 * libevent asks how much a socket holds before every read; nothing
	 * else. The kernel skips the filter for a call always allowed, not
	 * for one allowed by its arguments: this one is checked first.
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    sandbox_eq(1, FIONREAD));
	if (r == 0)
		r = seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255);
	/* Origins and syslog: no other kind of socket. */
	for (i = 0; i < NELEM(sandbox_families) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    sandbox_eq(0, sandbox_families[i]));
	/* abort(3) signals its own process, and no other. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		    sandbox_eq(0, getpid()));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(openat), 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(open), 0);
	return (r);
}

void
sandbox_init(void)
{
	scmp_filter_ctx	 ctx;
	int		 r;

	if ((ctx = seccomp_init(SANDBOX_DEFAULT)) == NULL)
		fatalx("seccomp_init");
	if ((r = sandbox_rules(ctx)) != 0)
		fatalx("seccomp_rule_add: %s", strerror(-r));
	if ((r = seccomp_load(ctx)) != 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
}
#elif defined(__OpenBSD__)
void
sandbox_init(void)
{
	if (pledge("stdio inet unix recvfd", NULL) == -1)
		fatal("pledge");
}
#else
void
sandbox_init(void)
{
}
#endif
