/*
 * init.c — a minimal pid 1. All signals are blocked and taken synchronously
 * with sigtimedwait, so there is no handler racing with waitpid: SIGCHLD
 * means "reap everything that has exited", any other signal is passed on to
 * the child. The child gets the original signal mask and dispositions back
 * before it execs, in a process group of its own, and the terminal's
 * foreground when there is one (so ^C reaches it, as with tini).
 */
#include "init.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

static pid_t spawn(char **argv, const sigset_t *orig_mask)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* A process group of our own, in the terminal's foreground if any. */
    setpgid(0, 0);
    if (isatty(STDIN_FILENO)) {
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(STDIN_FILENO, getpgrp());
        signal(SIGTTOU, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, orig_mask, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "wharf-init: exec %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

int init_run(const struct init_options *opts)
{
    if (!opts->argv || !opts->argv[0]) {
        fprintf(stderr, "wharf-init: no command given\n");
        return 127;
    }
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t all, orig;
    sigfillset(&all);
    /* Faults must stay deliverable to ourselves. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigprocmask(SIG_BLOCK, &all, &orig);

    pid_t child = spawn(opts->argv, &orig);
    if (child < 0) {
        fprintf(stderr, "wharf-init: fork: %s\n", strerror(errno));
        return 127;
    }
    int exit_status = -1;
    for (;;) {
        struct timespec tick = {1, 0};
        siginfo_t info;
        int sig = sigtimedwait(&all, &info, &tick);
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return 255;
        if (sig > 0 && sig != SIGCHLD) {
            /* SIGTTIN/SIGTTOU/SIGTSTP stop a pid 1 nowhere: pass them on too. */
            kill(opts->process_group ? -child : child, sig);
            continue;
        }
        /* SIGCHLD, or the periodic tick in case one was coalesced. */
        for (;;) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p <= 0)
                break;
            if (p == child)
                exit_status = status_of(st);
        }
        if (exit_status >= 0)
            return exit_status;
    }
}
