/*
 * shim.c — launching a container through the runtime and supervising it:
 * the starter/shim handshake, the runtime invocations, and the single poll
 * loop that relays output to the log and attach clients, feeds stdin,
 * answers control commands, reaps children and records the exit.
 *
 * Why one poll loop and no threads: the shim lives as long as the container
 * and there is one per container, so every byte of resident memory counts;
 * a loop over a handful of fds needs no locking and no thread stacks.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

#include "cgroup.h"

/* How long output may still arrive after init exited (a process outside a
 * PID namespace can hold the pipe open forever). */
#define DRAIN_CAP_MS 2000
/* How long to wait for the runtime's console-socket connection after a
 * successful create (it connected during create, so this is a safety net). */
#define CONSOLE_WAIT_MS 5000
#define IO_CHUNK 16384
/* An unterminated line that saw no more output for this long goes to the log
 * as a "P" record, so readers following the log (attach, logs -f) see
 * prompts and terminal echo without waiting for the newline. */
#define TAIL_FLUSH_MS 10

/* ---------------------------------------------------------------- config */

void shim_config_init(struct shim_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_max_files = 1;
}

void shim_config_release(struct shim_config *cfg)
{
    free(cfg->id);
    free(cfg->bundle);
    free(cfg->state_dir);
    free(cfg->runtime);
    free(cfg->runtime_root);
    free(cfg->log_path);
    memset(cfg, 0, sizeof(*cfg));
}

/* Replaces *path by an absolute path (the shim's cwd is "/"). */
static int make_absolute(char **path, const char *what, wharf_error *err)
{
    if ((*path)[0] == '/')
        return 0;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return wharf_error_errno(err, errno, "%s %s: current directory", what, *path);
    char *abs = xasprintf("%s/%s", cwd, *path);
    free(*path);
    *path = abs;
    return 0;
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static char *search_path(const char *name)
{
    const char *env = getenv("PATH");
    _cleanup_free_ char *dirs = xstrdup(env && *env ? env
                                                    : "/usr/local/sbin:/usr/local/bin:"
                                                      "/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *cand = xasprintf("%s/%s", *d ? d : ".", name);
        if (is_executable_file(cand))
            return cand;
        free(cand);
    }
    return NULL;
}

static int resolve_runtime(struct shim_config *cfg, wharf_error *err)
{
    if (!cfg->runtime) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
            self[n] = '\0';
            char *slash = strrchr(self, '/');
            if (slash) {
                *slash = '\0';
                char *cand = xasprintf("%s/wharf-runtime", self);
                if (is_executable_file(cand)) {
                    cfg->runtime = cand;
                    return 0;
                }
                free(cand);
            }
        }
        cfg->runtime = search_path("wharf-runtime");
        if (!cfg->runtime)
            return wharf_error_set(err, -EINVAL,
                                   "--runtime: wharf-runtime not found next to "
                                   "wharf-shim nor in PATH");
        return 0;
    }
    if (!strchr(cfg->runtime, '/')) {
        char *found = search_path(cfg->runtime);
        if (!found)
            return wharf_error_set(err, -EINVAL, "--runtime %s: not found in PATH", cfg->runtime);
        free(cfg->runtime);
        cfg->runtime = found;
        return 0;
    }
    int r = make_absolute(&cfg->runtime, "--runtime", err);
    if (r < 0)
        return r;
    if (!is_executable_file(cfg->runtime))
        return wharf_error_set(err, -EINVAL, "--runtime %s: not an executable file", cfg->runtime);
    return 0;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 256 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

int shim_config_finalize(struct shim_config *cfg, wharf_error *err)
{
    if (!cfg->id)
        return wharf_error_set(err, -EINVAL, "--id is required");
    if (!valid_id(cfg->id))
        return wharf_error_set(err, -EINVAL, "--id %s: must be 1-256 characters of [A-Za-z0-9_.+-]",
                               cfg->id);
    if (!cfg->bundle)
        return wharf_error_set(err, -EINVAL, "--bundle is required");
    if (!cfg->state_dir)
        return wharf_error_set(err, -EINVAL, "--state-dir is required");
    if (cfg->log_max_files < 1)
        return wharf_error_set(err, -EINVAL, "--log-max-files: must be at least 1");
    int r;
    if ((r = make_absolute(&cfg->bundle, "--bundle", err)) < 0 ||
        (r = make_absolute(&cfg->state_dir, "--state-dir", err)) < 0)
        return r;
    struct stat st;
    if (stat(cfg->bundle, &st) < 0)
        return wharf_error_errno(err, errno, "--bundle %s", cfg->bundle);
    if (!S_ISDIR(st.st_mode))
        return wharf_error_set(err, -EINVAL, "--bundle %s: not a directory", cfg->bundle);
    if (cfg->runtime_root && (r = make_absolute(&cfg->runtime_root, "--runtime-root", err)) < 0)
        return r;
    if (!cfg->log_path)
        cfg->log_path = xasprintf("%s/container.log", cfg->state_dir);
    else if ((r = make_absolute(&cfg->log_path, "--log-path", err)) < 0)
        return r;
    return resolve_runtime(cfg, err);
}

/* ---------------------------------------------------------------- state */

struct shim {
    const struct shim_config *cfg;
    int dir_fd; /* the state dir */
    struct shim_log *log;
    bool log_failed; /* report a failing log once, keep relaying */
    int sig_fd;
    int out_fd, err_fd; /* output sources; with a tty out_fd is the master */
    int in_fd;          /* stdin sink; with a tty the same fd as out_fd */
    bool tty;
    char *pending; /* stdin bytes the container has not taken yet */
    size_t pending_off, pending_len;
    bool close_stdin_when_drained;
    int attach_listen, ctl_listen;
    int *attach;
    size_t n_attach;
    int *ctl;
    size_t n_ctl;
    int64_t tail_flush_at; /* CLOCK_MONOTONIC ms, or -1: no unflushed tail */
    pid_t container_pid;
    bool exited;
    int status;
    struct timespec exited_at;
    char *mem_dir;
    uint64_t oom_before;
};

static char iobuf[IO_CHUNK + 1]; /* [stream id][payload] as sent to clients */

static char *state_path(const struct shim *s, const char *name)
{
    return xasprintf("%s/%s", s->cfg->state_dir, name);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---------------------------------------------------------------- runtime */

/* Runs the runtime with the common global options plus the subcommand args,
 * stdio on fd0/fd1/fd2; returns its pid. */
static pid_t spawn_runtime(const struct shim *s, const char *const *args, int fd0, int fd1, int fd2,
                           wharf_error *err)
{
    const char *argv[32];
    size_t n = 0;
    _cleanup_free_ char *log = state_path(s, "runtime.log");
    argv[n++] = s->cfg->runtime;
    if (s->cfg->runtime_root) {
        argv[n++] = "--root";
        argv[n++] = s->cfg->runtime_root;
    }
    if (s->cfg->systemd_cgroup)
        argv[n++] = "--systemd-cgroup";
    argv[n++] = "--log";
    argv[n++] = log;
    argv[n++] = "--log-format";
    argv[n++] = "json";
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        return wharf_error_errno(err, errno, "fork %s", s->cfg->runtime);
    if (pid == 0) {
        /* The runtime (and through it the container) must not inherit the
         * shim's blocked SIGCHLD or its ignored SIGTERM/SIGINT/SIGHUP/SIGPIPE. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(fd0, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return status;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The starter prints errors as one line. */
static void one_line(char *msg)
{
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* The runtime's own words for a failure: the last error in the part of
 * runtime.log it wrote this time, else what it printed, else its status. */
static int runtime_failure(const struct shim *s, const char *what, int status, off_t log_from,
                           int output_fd, wharf_error *err)
{
    char msg[900];
    _cleanup_free_ char *log_path = state_path(s, "runtime.log");
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (wharf_read_file(log_path, &text, &len, NULL) == 0 && (size_t)log_from <= len &&
        shim_runtime_log_error(text + log_from, msg, sizeof(msg)) > 0) {
        one_line(msg);
        return wharf_error_set(err, -EIO, "runtime %s: %s", what, msg);
    }
    if (output_fd >= 0) {
        ssize_t n = pread(output_fd, msg, sizeof(msg) - 1, 0);
        if (n < 0 && errno == ESPIPE)
            n = read(output_fd, msg, sizeof(msg) - 1);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        if (n > 0) {
            msg[n] = '\0';
            one_line(msg);
            return wharf_error_set(err, -EIO, "runtime %s: %s", what, msg);
        }
    }
    if (status >= 0 && WIFSIGNALED(status))
        return wharf_error_set(err, -EIO, "runtime %s: killed by signal %d", what,
                               WTERMSIG(status));
    return wharf_error_set(err, -EIO, "runtime %s: exited with status %d", what,
                           status >= 0 ? WEXITSTATUS(status) : -1);
}

/* Runs `RUNTIME ... args` with its output in a memfd (it is not the
 * container's stdio) and waits for it. */
static int run_runtime(const struct shim *s, const char *what, const char *const *args,
                       wharf_error *err)
{
    _cleanup_free_ char *log_path = state_path(s, "runtime.log");
    off_t log_from = file_size(log_path);
    _cleanup_close_ int out = memfd_create("runtime-output", MFD_CLOEXEC);
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (out < 0 || null < 0)
        return wharf_error_errno(err, errno, "runtime %s: output file", what);
    pid_t pid = spawn_runtime(s, args, null, out, out, err);
    if (pid < 0)
        return pid;
    int status = wait_child(pid);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return runtime_failure(s, what, status, log_from, out, err);
}

static void delete_container(const struct shim *s)
{
    const char *args[] = {"delete", "--force", s->cfg->id, NULL};
    wharf_error e = {0};
    if (run_runtime(s, "delete", args, &e) < 0)
        wlog_error("cleanup after failed start: %s", e.msg);
}

/* Takes the PTY master the runtime sent over the console socket. */
static int receive_console(int listen_fd, int *master, wharf_error *err)
{
    struct pollfd p = {listen_fd, POLLIN, 0};
    int r = poll(&p, 1, CONSOLE_WAIT_MS);
    if (r <= 0)
        return wharf_error_set(err, r < 0 ? -errno : -ETIMEDOUT,
                               "console socket: the runtime sent no terminal");
    _cleanup_close_ int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return wharf_error_errno(err, errno, "console socket: accept");
    char name[256];
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {name, sizeof(name)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    ssize_t n;
    do
        n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wharf_error_errno(err, errno, "console socket: receive");
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[4];
        if (count > 4)
            count = 4; /* the control buffer cannot have held more */
        memcpy(fds, CMSG_DATA(c), count * sizeof(int));
        for (size_t i = 0; i < count; i++) {
            if (fd < 0)
                fd = fds[i];
            else
                close(fds[i]);
        }
    }
    if (fd < 0)
        return wharf_error_set(err, -EPROTO, "console socket: message carried no file descriptor");
    *master = fd;
    return 0;
}

static int read_pid_file(const struct shim *s, pid_t *pid, wharf_error *err)
{
    _cleanup_free_ char *path = state_path(s, "pid");
    _cleanup_free_ char *text = NULL;
    int r = wharf_read_file(path, &text, NULL, err);
    if (r < 0)
        return r;
    char *end;
    long v = strtol(text, &end, 10);
    if (v <= 0 || v > INT_MAX || (*end && *end != '\n'))
        return wharf_error_set(err, -EINVAL, "%s: not a pid: '%s'", path, text);
    *pid = (pid_t)v;
    return 0;
}

/* ---------------------------------------------------------------- loop */

static int64_t now_ms(void);

static void log_output(struct shim *s, int stream, const char *data, size_t len, bool flush)
{
    wharf_error e = {0};
    int r =
        flush ? shim_log_flush(s->log, stream, &e) : shim_log_write(s->log, stream, data, len, &e);
    if (r < 0 && !s->log_failed) {
        wlog_error("container log: %s", e.msg);
        s->log_failed = true;
    } else if (r == 0) {
        s->log_failed = false;
    }
}

static void drop_client(int *fd)
{
    close_fd(fd);
}

static void broadcast(struct shim *s, size_t len)
{
    for (size_t i = 0; i < s->n_attach; i++) {
        if (s->attach[i] < 0)
            continue;
        if (send(s->attach[i], iobuf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno == EAGAIN)
                wlog_warn("attach client too slow, disconnecting it");
            drop_client(&s->attach[i]);
        }
    }
}

static void close_output(struct shim *s, int *fd, int stream)
{
    close_fd(fd);
    log_output(s, stream, NULL, 0, true);
    if (s->tty) {
        s->in_fd = -1; /* the same fd, already closed */
        s->pending_len = s->pending_off = 0;
    }
}

static void relay_output(struct shim *s, int *fd, int stream)
{
    ssize_t n = read(*fd, iobuf + 1, IO_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        /* EOF of a pipe, or EIO of a PTY master once no slave is open. */
        if (n < 0 && errno != EIO)
            wlog_warn("read container %s: %s", stream == SHIM_STREAM_STDERR ? "stderr" : "stdout",
                      strerror(errno));
        close_output(s, fd, stream);
        return;
    }
    log_output(s, stream, iobuf + 1, (size_t)n, false);
    if (iobuf[n] != '\n' && s->tail_flush_at < 0)
        s->tail_flush_at = now_ms() + TAIL_FLUSH_MS;
    iobuf[0] = (char)stream;
    broadcast(s, (size_t)n + 1);
}

static void close_stdin_now(struct shim *s)
{
    if (!s->tty)
        close_fd(&s->in_fd);
    s->pending_len = s->pending_off = 0;
    s->close_stdin_when_drained = false;
}

/* Returns 0 or an error message for the control socket. */
static const char *request_close_stdin(struct shim *s)
{
    if (s->tty)
        return "the container has a terminal (send its EOF character through attach)";
    if (s->in_fd < 0)
        return NULL; /* already closed, or never open: the container sees EOF */
    if (s->pending_len > s->pending_off)
        s->close_stdin_when_drained = true;
    else
        close_stdin_now(s);
    return NULL;
}

static void write_pending(struct shim *s)
{
    while (s->pending_off < s->pending_len) {
        ssize_t n = write(s->in_fd, s->pending + s->pending_off, s->pending_len - s->pending_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            /* EPIPE: nobody reads the container's stdin any more. */
            if (errno != EPIPE)
                wlog_warn("write container stdin: %s", strerror(errno));
            close_stdin_now(s);
            return;
        }
        s->pending_off += (size_t)n;
    }
    s->pending_off = s->pending_len = 0;
    if (s->close_stdin_when_drained)
        close_stdin_now(s);
}

static void feed_stdin(struct shim *s, const char *data, size_t len)
{
    if (s->in_fd < 0)
        return; /* input with nowhere to go is discarded */
    if (!s->pending)
        s->pending = xmalloc(SHIM_ATTACH_MAX_MSG);
    memcpy(s->pending, data, len);
    s->pending_off = 0;
    s->pending_len = len;
    write_pending(s);
}

static void handle_attach_client(struct shim *s, int *fd, short revents)
{
    static char in[SHIM_ATTACH_MAX_MSG];
    ssize_t n = recv(*fd, in, sizeof(in), MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            drop_client(fd);
        return;
    }
    if (n == 0) {
        /* On SOCK_SEQPACKET a read of 0 is either an empty message (close
         * stdin) or the end of the connection; the hang-up tells which. */
        if (revents & POLLHUP)
            drop_client(fd);
        else
            request_close_stdin(s);
        return;
    }
    feed_stdin(s, in, (size_t)n);
}

static void handle_ctl_client(struct shim *s, int *fd, short revents)
{
    char cmd[256];
    ssize_t n = recv(*fd, cmd, sizeof(cmd) - 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 && (n < 0 || (revents & POLLHUP))) {
        drop_client(fd);
        return;
    }
    cmd[n] = '\0';
    while (n > 0 && (cmd[n - 1] == '\n' || cmd[n - 1] == ' '))
        cmd[--n] = '\0';

    char reply[300];
    unsigned rows, cols;
    char extra;
    const char *problem = NULL;
    if (sscanf(cmd, "resize %u %u %c", &rows, &cols, &extra) == 2) {
        if (!s->tty || s->out_fd < 0) {
            problem = s->tty ? "the terminal is closed" : "the container has no terminal";
        } else if (rows > USHRT_MAX || cols > USHRT_MAX) {
            problem = "size out of range";
        } else {
            struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
            if (ioctl(s->out_fd, TIOCSWINSZ, &ws) < 0)
                problem = strerror(errno);
        }
    } else if (strcmp(cmd, "close-stdin") == 0) {
        problem = request_close_stdin(s);
    } else {
        snprintf(reply, sizeof(reply),
                 "error: unknown command '%.200s' (resize ROWS COLS, "
                 "close-stdin)",
                 cmd);
    }
    if (problem)
        snprintf(reply, sizeof(reply), "error: %s", problem);
    else if (strncmp(cmd, "resize ", 7) == 0 || strcmp(cmd, "close-stdin") == 0)
        snprintf(reply, sizeof(reply), "ok");
    if (send(*fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        drop_client(fd);
}

static void add_client(int **list, size_t *n, int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            wlog_warn("accept: %s", strerror(errno));
        return;
    }
    *list = xrealloc(*list, (*n + 1) * sizeof(int));
    (*list)[(*n)++] = fd;
}

static void compact(int *list, size_t *n)
{
    size_t j = 0;
    for (size_t i = 0; i < *n; i++)
        if (list[i] >= 0)
            list[j++] = list[i];
    *n = j;
}

static void reap(struct shim *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof(si)) > 0) {
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == s->container_pid && !s->exited) {
            s->exited = true;
            s->status = status;
            clock_gettime(CLOCK_REALTIME, &s->exited_at);
        }
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum kind { K_SIG, K_OUT, K_ERR, K_IN, K_ATTACH_LISTEN, K_CTL_LISTEN, K_ATTACH, K_CTL };

static void event_loop(struct shim *s)
{
    struct pollfd *pfd = NULL;
    enum kind *kind = NULL;
    size_t *idx = NULL;
    size_t cap = 0;
    int64_t deadline = -1;
    reap(s); /* init may already be gone (a short-lived --start container) */
    for (;;) {
        if (s->exited) {
            if (deadline < 0)
                deadline = now_ms() + DRAIN_CAP_MS;
            if ((s->out_fd < 0 && s->err_fd < 0) || now_ms() >= deadline)
                break;
        }
        size_t need = 6 + s->n_attach + s->n_ctl;
        if (need > cap) {
            cap = need + 8;
            pfd = xrealloc(pfd, cap * sizeof(*pfd));
            kind = xrealloc(kind, cap * sizeof(*kind));
            idx = xrealloc(idx, cap * sizeof(*idx));
        }
        size_t n = 0;
#define ADD(fd_, ev_, k_, i_)                                                                      \
    do {                                                                                           \
        pfd[n] = (struct pollfd){(fd_), (ev_), 0};                                                 \
        kind[n] = (k_);                                                                            \
        idx[n] = (i_);                                                                             \
        n++;                                                                                       \
    } while (0)
        bool input_busy = s->pending_len > s->pending_off;
        ADD(s->sig_fd, POLLIN, K_SIG, 0);
        if (s->out_fd >= 0)
            ADD(s->out_fd, POLLIN, K_OUT, 0);
        if (s->err_fd >= 0)
            ADD(s->err_fd, POLLIN, K_ERR, 0);
        if (input_busy && s->in_fd >= 0)
            ADD(s->in_fd, POLLOUT, K_IN, 0);
        if (!s->exited) {
            ADD(s->attach_listen, POLLIN, K_ATTACH_LISTEN, 0);
            ADD(s->ctl_listen, POLLIN, K_CTL_LISTEN, 0);
        }
        /* While stdin is backed up, client input waits in the sockets. */
        for (size_t i = 0; i < s->n_attach; i++)
            ADD(s->attach[i], input_busy ? 0 : POLLIN, K_ATTACH, i);
        for (size_t i = 0; i < s->n_ctl; i++)
            ADD(s->ctl[i], POLLIN, K_CTL, i);
#undef ADD
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        if (s->tail_flush_at >= 0) {
            int64_t left = s->tail_flush_at - now_ms();
            int t = left > 0 ? (int)left : 0;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        int r = poll(pfd, n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            wlog_error("poll: %s", strerror(errno));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            short ev = pfd[i].revents;
            if (!ev)
                continue;
            switch (kind[i]) {
            case K_SIG:
                reap(s);
                break;
            case K_OUT:
                if (s->out_fd >= 0)
                    relay_output(s, &s->out_fd, SHIM_STREAM_STDOUT);
                break;
            case K_ERR:
                if (s->err_fd >= 0)
                    relay_output(s, &s->err_fd, SHIM_STREAM_STDERR);
                break;
            case K_IN:
                if (s->in_fd >= 0)
                    write_pending(s);
                break;
            case K_ATTACH_LISTEN:
                add_client(&s->attach, &s->n_attach, s->attach_listen);
                break;
            case K_CTL_LISTEN:
                add_client(&s->ctl, &s->n_ctl, s->ctl_listen);
                break;
            case K_ATTACH:
                if (idx[i] < s->n_attach && s->attach[idx[i]] >= 0) {
                    if (ev & (POLLERR | POLLNVAL))
                        drop_client(&s->attach[idx[i]]);
                    else if (ev & POLLIN)
                        handle_attach_client(s, &s->attach[idx[i]], ev);
                    else if (ev & POLLHUP)
                        drop_client(&s->attach[idx[i]]);
                }
                break;
            case K_CTL:
                if (idx[i] < s->n_ctl && s->ctl[idx[i]] >= 0) {
                    if (ev & POLLIN)
                        handle_ctl_client(s, &s->ctl[idx[i]], ev);
                    else
                        drop_client(&s->ctl[idx[i]]);
                }
                break;
            }
        }
        if (s->tail_flush_at >= 0 && now_ms() >= s->tail_flush_at) {
            log_output(s, SHIM_STREAM_STDOUT, NULL, 0, true);
            log_output(s, SHIM_STREAM_STDERR, NULL, 0, true);
            s->tail_flush_at = -1;
        }
        /* Clients are appended during the pass above, so indices recorded
         * for this poll stay valid until here. */
        compact(s->attach, &s->n_attach);
        compact(s->ctl, &s->n_ctl);
    }
    free(pfd);
    free(kind);
    free(idx);
}

/* ---------------------------------------------------------------- shim */

static void report(int sync_fd, const char *text)
{
    if (sync_fd >= 0)
        (void)!write(sync_fd, text, strlen(text));
}

static void finish(struct shim *s)
{
    if (s->out_fd >= 0)
        close_output(s, &s->out_fd, SHIM_STREAM_STDOUT);
    if (s->err_fd >= 0)
        close_output(s, &s->err_fd, SHIM_STREAM_STDERR);
    shim_log_close(s->log);
    s->log = NULL;

    struct shim_exit ex;
    shim_exit_from_status(&ex, s->status, &s->exited_at);
    if (s->mem_dir) {
        uint64_t after = 0;
        wharf_error e = {0};
        if (cgroup_oom_kills_in_dir(s->mem_dir, &after, &e) == 0)
            ex.oom_killed = after > s->oom_before;
        else
            wlog_warn("OOM counter after exit: %s", e.msg);
    }
    _cleanup_free_ char *path = state_path(s, "exit.json");
    wharf_error e = {0};
    if (shim_exit_write(path, s->cfg->id, &ex, &e) < 0)
        wlog_error("%s", e.msg);

    for (size_t i = 0; i < s->n_attach; i++)
        close_fd(&s->attach[i]);
    for (size_t i = 0; i < s->n_ctl; i++)
        close_fd(&s->ctl[i]);
}

static void release(struct shim *s)
{
    if (s->attach_listen >= 0)
        unlinkat(s->dir_fd, "attach", 0);
    if (s->ctl_listen >= 0)
        unlinkat(s->dir_fd, "ctl", 0);
    close_fd(&s->attach_listen);
    close_fd(&s->ctl_listen);
    close_fd(&s->out_fd);
    if (!s->tty)
        close_fd(&s->in_fd);
    close_fd(&s->err_fd);
    close_fd(&s->sig_fd);
    shim_log_close(s->log);
    free(s->attach);
    free(s->ctl);
    free(s->pending);
    free(s->mem_dir);
    close_fd(&s->dir_fd);
}

/* Everything up to a created (and with --start, started) container. On
 * failure nothing of the container is left and err says why. */
static int start_container(struct shim *s, wharf_error *err)
{
    const struct shim_config *cfg = s->cfg;
    int r;
    _cleanup_free_ char *shim_pid_path = state_path(s, "shim.pid");
    char num[32];
    int len = snprintf(num, sizeof(num), "%d\n", (int)getpid());
    if ((r = wharf_write_file_atomic(shim_pid_path, num, (size_t)len, 0644, err)) < 0)
        return r;
    if ((r = shim_log_open(cfg->log_path, cfg->log_max_size, cfg->log_max_files, cfg->terminal,
                           &s->log, err)) < 0)
        return r;
    s->attach_listen =
        shim_unix_socket(s->dir_fd, cfg->state_dir, "attach", SOCK_SEQPACKET, true, err);
    if (s->attach_listen < 0)
        return s->attach_listen;
    s->ctl_listen = shim_unix_socket(s->dir_fd, cfg->state_dir, "ctl", SOCK_SEQPACKET, true, err);
    if (s->ctl_listen < 0)
        return s->ctl_listen;

    /* The container's stdio, as the runtime's own (runc's pass-through mode),
     * or a console socket for a terminal. */
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    _cleanup_close_ int child_in = -1, child_out = -1, child_err = -1, console = -1;
    if (null < 0)
        return wharf_error_errno(err, errno, "open /dev/null");
    _cleanup_free_ char *console_path = state_path(s, "console.sock");
    if (cfg->terminal) {
        console =
            shim_unix_socket(s->dir_fd, cfg->state_dir, "console.sock", SOCK_STREAM, true, err);
        if (console < 0)
            return console;
        child_out = memfd_create("runtime-output", MFD_CLOEXEC);
        if (child_out < 0)
            return wharf_error_errno(err, errno, "memfd");
        child_err = dup(child_out);
    } else {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return wharf_error_errno(err, errno, "pipe");
        s->out_fd = p[0];
        child_out = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
            return wharf_error_errno(err, errno, "pipe");
        s->err_fd = p[0];
        child_err = p[1];
        if (cfg->open_stdin) {
            if (pipe2(p, O_CLOEXEC) < 0)
                return wharf_error_errno(err, errno, "pipe");
            child_in = p[0];
            s->in_fd = p[1];
        }
    }

    _cleanup_free_ char *log_path = state_path(s, "runtime.log");
    _cleanup_free_ char *pid_path = state_path(s, "pid");
    off_t log_from = file_size(log_path);
    const char *create[10] = {"create", "--bundle", cfg->bundle, "--pid-file", pid_path};
    size_t nargs = 5;
    if (cfg->terminal) {
        create[nargs++] = "--console-socket";
        create[nargs++] = console_path;
    }
    create[nargs++] = cfg->id;
    create[nargs] = NULL;
    pid_t pid =
        spawn_runtime(s, create, child_in >= 0 ? child_in : null, child_out, child_err, err);
    if (pid < 0)
        return pid;
    int status = wait_child(pid);
    /* Our copies of the container's ends would keep EOF from ever coming. */
    close_fd(&child_in);
    close_fd(&child_out);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int out = cfg->terminal ? child_err : s->err_fd;
        if (!cfg->terminal)
            fcntl(out, F_SETFL, O_NONBLOCK);
        if (console >= 0)
            unlinkat(s->dir_fd, "console.sock", 0);
        return runtime_failure(s, "create", status, log_from, out, err);
    }
    close_fd(&child_err);

    r = 0;
    if (cfg->terminal) {
        r = receive_console(console, &s->out_fd, err);
        unlinkat(s->dir_fd, "console.sock", 0);
        if (r == 0) {
            s->tty = true;
            s->in_fd = s->out_fd;
        }
    }
    if (r == 0)
        r = read_pid_file(s, &s->container_pid, err);
    if (r == 0) {
        /* Remember where the OOM counter lives: after init dies, /proc/PID
         * no longer tells. A host without the counter only loses oom_killed. */
        wharf_error e = {0};
        if (cgroup_memory_dir_of_pid(s->container_pid, &s->mem_dir, &e) < 0 ||
            cgroup_oom_kills_in_dir(s->mem_dir, &s->oom_before, &e) < 0) {
            wlog_warn("OOM detection unavailable: %s", e.msg);
            free(s->mem_dir);
            s->mem_dir = NULL;
        }
    }
    if (r == 0 && cfg->start) {
        const char *start[] = {"start", cfg->id, NULL};
        r = run_runtime(s, "start", start, err);
    }
    if (r < 0) {
        delete_container(s);
        return r;
    }
    if (s->out_fd >= 0)
        fcntl(s->out_fd, F_SETFL, fcntl(s->out_fd, F_GETFL) | O_NONBLOCK);
    if (s->err_fd >= 0)
        fcntl(s->err_fd, F_SETFL, fcntl(s->err_fd, F_GETFL) | O_NONBLOCK);
    if (s->in_fd >= 0 && !s->tty)
        fcntl(s->in_fd, F_SETFL, fcntl(s->in_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* The shim process: detach, start the container, tell the starter through
 * sync_fd ("ok PID" or "error MESSAGE"), supervise, record the exit. */
static int supervise(const struct shim_config *cfg, int sync_fd)
{
    /* Declared before any goto: a cleanup variable jumped over is freed uninitialised. */
    _cleanup_free_ char *shim_log = NULL;
    struct shim s = {.cfg = cfg,
                     .dir_fd = -1,
                     .sig_fd = -1,
                     .out_fd = -1,
                     .err_fd = -1,
                     .in_fd = -1,
                     .attach_listen = -1,
                     .ctl_listen = -1,
                     .tail_flush_at = -1};
    wharf_error err = {0};
    int r = 0;

    setsid();
    /* Orphans of the container (its init above all, once the runtime that
     * forked it exits) become our children, so we can reap and wait. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        r = wharf_error_errno(&err, errno, "PR_SET_CHILD_SUBREAPER");
        goto out;
    }
    /* The container is managed through the runtime, not by signalling us. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    s.sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sig_fd < 0) {
        r = wharf_error_errno(&err, errno, "signalfd");
        goto out;
    }
    if (chdir("/") < 0) {
        r = wharf_error_errno(&err, errno, "chdir /");
        goto out;
    }
    s.dir_fd = open(cfg->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s.dir_fd < 0) {
        r = wharf_error_errno(&err, errno, "state dir %s", cfg->state_dir);
        goto out;
    }
    shim_log = state_path(&s, "shim.log");
    if ((r = wharf_log_open(shim_log, WHARF_LOG_TEXT, false, &err)) < 0)
        goto out;

    r = start_container(&s, &err);
    if (r < 0)
        goto out;
    char msg[32];
    snprintf(msg, sizeof(msg), "ok %d", (int)s.container_pid);
    report(sync_fd, msg);
    close_fd(&sync_fd);

    event_loop(&s);
    finish(&s);
out:
    if (r < 0) {
        wlog_error("%s", err.msg);
        char line[sizeof(err.msg) + 8];
        snprintf(line, sizeof(line), "error %s", err.msg);
        report(sync_fd, line);
        _cleanup_free_ char *pidfile = xasprintf("%s/shim.pid", cfg->state_dir);
        unlink(pidfile);
    }
    close_fd(&sync_fd);
    release(&s);
    return r < 0 ? 1 : 0;
}

/* Moves the shim off everything the starter's caller gave it: a terminal, a
 * pipe a test harness waits on, stray descriptors. */
static int detach_stdio(int keep_fd)
{
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        return -errno;
    for (int fd = 0; fd < 3; fd++)
        if (null != fd && dup2(null, fd) < 0)
            return -errno;
    if (null > 2)
        close(null);
    if (keep_fd > 3)
        close_range(3, (unsigned)keep_fd - 1, 0);
    close_range((unsigned)keep_fd + 1, ~0U, 0);
    return 0;
}

int shim_launch(const struct shim_config *cfg, pid_t *container_pid, wharf_error *err)
{
    int r = wharf_mkdir_p(cfg->state_dir, 0700, err);
    if (r < 0)
        return r;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return wharf_error_errno(err, e, "fork the shim");
    }
    if (pid == 0) {
        close(p[0]);
        if (detach_stdio(p[1]) < 0) {
            report(p[1], "error cannot detach the shim's stdio");
            _exit(1);
        }
        _exit(supervise(cfg, p[1]));
    }
    close(p[1]);
    char buf[sizeof(err->msg) + 16];
    ssize_t n = wharf_read_all(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    if (strncmp(buf, "ok ", 3) == 0) {
        *container_pid = (pid_t)strtol(buf + 3, NULL, 10);
        return 0;
    }
    /* The shim gave up and is exiting: reap it so nothing is left behind. */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (strncmp(buf, "error ", 6) == 0)
        return wharf_error_set(err, -EIO, "%s", buf + 6);
    return wharf_error_set(err, -EIO, "the shim exited before the container was created");
}
