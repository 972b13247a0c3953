/*
 * hooks.c — running OCI hooks: each hook gets the container state JSON on
 * stdin, its own argv and env, and an optional timeout after which it is
 * killed. Output is collected so a failing hook's message reaches the user.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void trim(strbuf *sb)
{
    while (sb->len > 0 && (sb->buf[sb->len - 1] == '\n' || sb->buf[sb->len - 1] == ' '))
        sb->buf[--sb->len] = '\0';
    for (size_t i = 0; i < sb->len; i++)
        if (sb->buf[i] == '\n')
            sb->buf[i] = ' ';
}

static int run_one(json_t *hook, const char *where, const char *state, wharf_error *err)
{
    const char *path = json_string_value(json_object_get(hook, "path"));
    _cleanup_free_ const char **args = NULL, **env = NULL;
    int64_t timeout = 0;
    bool have_timeout = false;
    wjson_string_array(hook, where, "args", false, &args, NULL, NULL);
    wjson_string_array(hook, where, "env", false, &env, NULL, NULL);
    wjson_int64(hook, where, "timeout", &timeout, &have_timeout, NULL);
    const char *default_argv[] = {path, NULL};
    const char *empty_env[] = {NULL};

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "%s: pipe", where);
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return wharf_error_errno(err, errno, "%s: pipe", where);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return wharf_error_errno(err, e, "%s: fork", where);
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        execve(path, (char *const *)(args && args[0] ? args : default_argv),
               (char *const *)(env ? env : empty_env));
        dprintf(2, "exec %s: %s", path, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* The hook may not read stdin at all: an EPIPE is fine, a SIGPIPE is not.
     * The disposition is restored at once: the container init runs hooks too,
     * and an ignored SIGPIPE would survive its execve into the user process. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    wharf_write_all(in[1], state, strlen(state));
    sigaction(SIGPIPE, &old, NULL);
    close(in[1]);

    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int64_t deadline = have_timeout ? now_ms() + timeout * 1000 : -1;
    strbuf output = STRBUF_INIT;
    bool out_open = true, exited = false, timed_out = false;
    while (!exited) {
        struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int wait_ms = deadline < 0 ? -1 : (int)(deadline - now_ms());
        if (deadline >= 0 && wait_ms <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        if (pidfd < 0 && deadline < 0)
            wait_ms = out_open ? -1 : 50;
        else if (pidfd < 0)
            wait_ms = wait_ms > 50 ? 50 : wait_ms;
        int n = poll(p, 2, wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        if (out_open && (p[0].revents & (POLLIN | POLLHUP))) {
            char buf[4096];
            ssize_t got = read(out[0], buf, sizeof(buf));
            if (got <= 0)
                out_open = false;
            else if (output.len < 8192)
                strbuf_add(&output, buf, (size_t)got);
        }
        if (pidfd >= 0 ? (p[1].revents & POLLIN) != 0 : !out_open) {
            int st;
            if (waitpid(pid, &st, pidfd >= 0 ? 0 : WNOHANG) == pid) {
                exited = true;
                /* Drain what is left without blocking on a grandchild holding the pipe. */
                fcntl(out[0], F_SETFL, O_NONBLOCK);
                char buf[4096];
                ssize_t got;
                while (output.len < 8192 && (got = read(out[0], buf, sizeof(buf))) > 0)
                    strbuf_add(&output, buf, (size_t)got);
                close(out[0]);
                if (pidfd >= 0)
                    close(pidfd);
                trim(&output);
                int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                int r = 0;
                if (status != 0)
                    r = wharf_error_set(err, -ECANCELED, "%s (%s) failed with status %d%s%s",
                                        where, path, status, output.len ? ": " : "",
                                        strbuf_str(&output));
                strbuf_release(&output);
                return r;
            }
        }
    }
    close(out[0]);
    if (pidfd >= 0)
        close(pidfd);
    waitpid(pid, NULL, 0);
    strbuf_release(&output);
    if (timed_out)
        return wharf_error_set(err, -ETIMEDOUT, "%s (%s) timed out after %llds", where, path,
                               (long long)timeout);
    return wharf_error_errno(err, errno, "%s (%s): wait", where, path);
}

static int run_all(json_t *spec, const char *kind, json_t *state, const char *warn_id,
                   wharf_error *err)
{
    json_t *arr = json_object_get(json_object_get(spec, "hooks"), kind);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return 0;
    char *text = json_dumps(state, JSON_COMPACT);
    size_t i;
    json_t *h;
    int r = 0;
    json_array_foreach(arr, i, h)
    {
        char where[64];
        snprintf(where, sizeof(where), "hooks.%s[%zu]", kind, i);
        if ((r = run_one(h, where, text, err)) < 0) {
            if (!warn_id)
                break;
            wlog_warn("container %s: %s", warn_id, err->msg);
            r = 0;
        }
    }
    free(text);
    return r;
}

int hooks_run(json_t *spec, const char *kind, json_t *state, wharf_error *err)
{
    return run_all(spec, kind, state, NULL, err);
}

void hooks_run_warn(json_t *spec, const char *kind, json_t *state, const char *id)
{
    wharf_error err = {0};
    run_all(spec, kind, state, id, &err);
}
