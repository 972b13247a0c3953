/*
 * proc.c — running wharf-runtime and wharf-shim as child programs.
 *
 * The layer lives inside a long-running, possibly multi-threaded daemon, so
 * children are prepared completely before fork (argv, fds) and the child
 * only calls async-signal-safe functions before execv. Every fd but the
 * three stdio ones is closed in the child: a shim must not inherit the
 * daemon's sockets, or a client connection would outlive the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "cri_internal.h"

pid_t cri_spawn(const char *const *argv, int in_fd, int out_fd, int err_fd, wharf_error *err)
{
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        return wharf_error_errno(err, errno, "open /dev/null");
    int fds[3] = {in_fd >= 0 ? in_fd : null, out_fd >= 0 ? out_fd : null,
                  err_fd >= 0 ? err_fd : null};
    pid_t pid = fork();
    if (pid < 0)
        return wharf_error_errno(err, errno, "fork %s", argv[0]);
    if (pid == 0) {
        /* Move the sources above 2 first so dup2 cannot clobber one. */
        int tmp[3];
        for (int i = 0; i < 3; i++) {
            tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (tmp[i] < 0)
                _exit(127);
        }
        for (int i = 0; i < 3; i++)
            if (dup2(tmp[i], i) < 0)
                _exit(127);
        close_range(3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int cri_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return 255;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void kill_pid_file(const char *path)
{
    char *text = NULL;
    wharf_error e = {0};
    if (path && wharf_read_file(path, &text, NULL, &e) == 0) {
        long p = strtol(text, NULL, 10);
        if (p > 1)
            kill((pid_t)p, SIGKILL);
    }
    free(text);
}

int cri_run(const struct cri_run *run, int *status, wharf_error *err)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int r = 0;
    pid_t pid = -1;
    if (run->out && pipe2(out_pipe, O_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "pipe");
    if (run->errout && pipe2(err_pipe, O_CLOEXEC) < 0) {
        r = wharf_error_errno(err, errno, "pipe");
        goto out;
    }
    pid = cri_spawn(run->argv, run->in_fd, run->out ? out_pipe[1] : run->out_fd,
                    run->errout ? err_pipe[1] : run->err_fd, err);
    if (pid < 0) {
        r = pid;
        pid = -1;
        goto out;
    }
    if (out_pipe[1] >= 0)
        close(out_pipe[1]);
    if (err_pipe[1] >= 0)
        close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;

    double deadline = run->timeout_ms > 0 ? now_ms() + run->timeout_ms : 0;
    struct pollfd p[2] = {{.fd = out_pipe[0], .events = POLLIN},
                          {.fd = err_pipe[0], .events = POLLIN}};
    strbuf *bufs[2] = {run->out, run->errout};
    /* A child that daemonizes (the shim) keeps no copy of the pipes, so EOF on
     * both means the direct child is done with them. */
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        int wait = -1;
        if (deadline) {
            double left = deadline - now_ms();
            if (left <= 0) {
                kill(pid, SIGKILL);
                kill_pid_file(run->pid_file);
                cri_wait(pid);
                pid = -1;
                r = wharf_error_set(err, -ETIMEDOUT, "%s: timed out after %d ms", run->argv[0],
                                    run->timeout_ms);
                goto out;
            }
            wait = (int)left + 1;
        }
        int n = poll(p, 2, wait);
        if (n < 0 && errno != EINTR) {
            r = wharf_error_errno(err, errno, "poll");
            goto out;
        }
        for (int i = 0; i < 2 && n > 0; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[8192];
            ssize_t got = read(p[i].fd, buf, sizeof(buf));
            if (got > 0) {
                strbuf_add(bufs[i], buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(p[i].fd);
                p[i].fd = -1;
                if (i == 0)
                    out_pipe[0] = -1;
                else
                    err_pipe[0] = -1;
            }
        }
    }
    if (deadline) {
        /* Output is closed but the child may still run: wait with the limit. */
        while (true) {
            int st;
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) {
                *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                pid = -1;
                break;
            }
            if (now_ms() > deadline) {
                kill(pid, SIGKILL);
                kill_pid_file(run->pid_file);
                cri_wait(pid);
                pid = -1;
                r = wharf_error_set(err, -ETIMEDOUT, "%s: timed out after %d ms", run->argv[0],
                                    run->timeout_ms);
                goto out;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } else {
        *status = cri_wait(pid);
        pid = -1;
    }
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        cri_wait(pid);
    }
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    return r;
}

static void trim(strbuf *sb)
{
    while (sb->len && (sb->buf[sb->len - 1] == '\n' || sb->buf[sb->len - 1] == ' '))
        sb->buf[--sb->len] = '\0';
}

int cri_runtime_cmd(struct cri *cri, wharf_error *err, ...)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = cri->runtime;
    argv[n++] = "--root";
    argv[n++] = cri->runtime_root;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n + 1 < sizeof(argv) / sizeof(argv[0]))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    _cleanup_strbuf_ strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
    struct cri_run run = {.argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1, .out = &out,
                          .errout = &errout, .timeout_ms = 60000};
    int status = 0;
    int r = cri_run(&run, &status, err);
    if (r < 0)
        return wharf_error_prefix(err, "runtime %s", argv[3]);
    if (status != 0) {
        trim(&errout);
        return wharf_error_set(err, -EIO, "runtime %s: %s", argv[3],
                               errout.len ? errout.buf : "failed without a message");
    }
    return 0;
}

uint64_t cri_proc_start_time(pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *text = NULL;
    wharf_error e = {0};
    if (wharf_read_file(path, &text, NULL, &e) < 0)
        return 0;
    /* comm may hold spaces and parentheses: fields count from the last ')'. */
    char *p = strrchr(text, ')');
    uint64_t start = 0;
    if (p) {
        int field = 2;
        for (char *s = p + 1; *s && field < 22; s++) {
            if (*s == ' ') {
                field++;
                if (field == 22)
                    start = strtoull(s + 1, NULL, 10);
            }
        }
        /* A zombie has exited: it holds no namespaces and runs nothing. */
        if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
            start = 0;
    }
    free(text);
    return start;
}

bool cri_proc_alive(pid_t pid, uint64_t start_time)
{
    return pid > 0 && start_time && cri_proc_start_time(pid) == start_time;
}

char *cri_now_rfc3339(void)
{
    char buf[48];
    return xstrdup(wharf_time_rfc3339(buf, sizeof(buf)));
}

void cri_json_time(json_t *obj, const char *key, struct timespec *out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    out->tv_sec = 0;
    out->tv_nsec = 0;
    if (s && cri_parse_time(s, strlen(s), out) < 0) {
        out->tv_sec = 0;
        out->tv_nsec = 0;
    }
}
