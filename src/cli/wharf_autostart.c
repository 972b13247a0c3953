/*
 * wharf_autostart.c — the local daemon for client commands that were given
 * no -H, WHARF_HOST or DOCKER_HOST.
 *
 * The daemon's own configuration says where it listens (daemon.json "hosts",
 * else /run/wharf/wharf.sock; $WHARF_DAEMON_CONFIG names another daemon.json),
 * so the client reads the same configuration (src/engine/config.c) instead
 * of assuming a socket. Only a unix socket is started for; a daemon that
 * only takes systemd's sockets (fd://) is systemd's to start.
 * When nothing answers on that socket, `wharf daemon` is started: in a
 * session of its own and reparented (the grandchild of this process), stdin
 * from /dev/null, output appended to /var/log/wharf.log (or DATA-ROOT/
 * wharf.log when the data root is not the default one, so a private daemon
 * keeps its log with its data). The invocation that started it says so once
 * on stderr; concurrent invocations serialise on a lock of the socket's
 * directory, so only one daemon is started.
 */
#include "wharf_cmds.h"
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 20000

/* True when nothing listens at path: no socket file, or a stale one (a
 * daemon that died). A socket we may not connect to counts as taken. */
static bool nobody_listens(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    return r < 0 && (e == ENOENT || e == ECONNREFUSED);
}

/* The unix socket path in a host ("unix:///p" or "/p"), else NULL. */
static const char *unix_path(const char *host)
{
    if (strncmp(host, "unix://", 7) == 0)
        return host + 7;
    return host[0] == '/' ? host : NULL;
}

/* Forks the daemon as a grandchild with its own session; returns its pid
 * (read back through a pipe) or -errno. */
static pid_t spawn_daemon(const char *log_path, wharf_error *err)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return wharf_error_errno(err, errno, "find the wharf binary (/proc/self/exe)");
    self[n] = '\0';
    int log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0)
        return wharf_error_errno(err, errno, "open the daemon log %s", log_path);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pfd[2];
    if (null_fd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
        int e = errno;
        close(log_fd);
        if (null_fd >= 0)
            close(null_fd);
        return wharf_error_errno(err, e, "start the daemon");
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(log_fd);
        close(null_fd);
        close(pfd[0]);
        close(pfd[1]);
        return wharf_error_errno(err, e, "fork");
    }
    if (child == 0) {
        setsid();
        pid_t daemon_pid = fork();
        if (daemon_pid != 0) {
            /* the middle process: report the pid (or the failure) and go */
            int32_t v = daemon_pid > 0 ? (int32_t)daemon_pid : -1;
            (void)!write(pfd[1], &v, sizeof(v));
            _exit(0);
        }
        signal(SIGPIPE, SIG_DFL);
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0)
            _exit(127);
        char *const argv[] = {"wharf", "daemon", NULL};
        execv(self, argv);
        dprintf(STDERR_FILENO, "wharf: exec %s daemon: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    close(pfd[1]);
    int32_t v = -1;
    ssize_t got;
    do
        got = read(pfd[0], &v, sizeof(v));
    while (got < 0 && errno == EINTR);
    close(pfd[0]);
    waitpid(child, NULL, 0);
    if (got != sizeof(v) || v <= 0)
        return wharf_error_set(err, -ECHILD, "could not start the daemon");
    return (pid_t)v;
}

/* Starts the daemon for socket (unless one answers once the lock is held)
 * and waits until it listens. */
static int start_daemon(const char *socket_path, const char *root, wharf_error *err)
{
    _cleanup_free_ char *dir = xstrdup(socket_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    int r = wharf_mkdir_p(dir, 0755, err);
    if (r < 0)
        return r;
    _cleanup_close_ int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock < 0 || flock(lock, LOCK_EX) < 0)
        return wharf_error_errno(err, errno, "lock %s", dir);
    if (!nobody_listens(socket_path))
        return 0; /* another invocation started it meanwhile */
    _cleanup_free_ char *log_path = NULL;
    if (strcmp(root, ENGINE_DEFAULT_ROOT) == 0) {
        log_path = xstrdup("/var/log/wharf.log");
    } else {
        if ((r = wharf_mkdir_p(root, 0711, err)) < 0)
            return r;
        log_path = xasprintf("%s/wharf.log", root);
    }
    pid_t pid = spawn_daemon(log_path, err);
    if (pid < 0)
        return pid;
    fprintf(stderr,
            "wharf: no daemon was running; started `wharf daemon` (pid %d) on "
            "unix://%s, logging to %s\n",
            (int)pid, socket_path, log_path);
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 50) {
        if (!nobody_listens(socket_path))
            return 0;
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return wharf_error_set(err, -ECHILD, "the daemon exited at start; see %s", log_path);
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    return wharf_error_set(err, -ETIMEDOUT,
                           "the daemon (pid %d) is not listening on %s after "
                           "%d seconds; see %s",
                           (int)pid, socket_path, START_TIMEOUT_MS / 1000, log_path);
}

char *wcmd_local_daemon(void)
{
    struct engine_config cfg = {0};
    json_t *doc = NULL;
    wharf_error err = {0};
    if (engine_config_resolve(&cfg, &doc, &err) < 0) {
        /* A broken daemon.json: the daemon would not start either; say why
         * and let the connection to the default socket tell the rest. */
        fprintf(stderr, "wharf: daemon configuration: %s\n", err.msg);
        if (doc)
            json_decref(doc);
        return xstrdup(CLIENT_DEFAULT_HOST);
    }
    const char *socket_path = NULL;
    for (size_t i = 0; i < cfg.n_hosts && !socket_path; i++)
        socket_path = unix_path(cfg.hosts[i]);
    const char *tcp = NULL;
    for (size_t i = 0; i < cfg.n_hosts && !tcp; i++)
        if (strncmp(cfg.hosts[i], "tcp://", 6) == 0)
            tcp = cfg.hosts[i];
    /* fd:// only (socket activation): systemd's socket unit is the default one */
    char *host = socket_path ? xasprintf("unix://%s", socket_path)
                             : xstrdup(tcp ? tcp : CLIENT_DEFAULT_HOST);
    if (socket_path && nobody_listens(socket_path) && start_daemon(socket_path, cfg.root, &err) < 0)
        fprintf(stderr, "wharf: %s\n", err.msg);
    if (doc)
        json_decref(doc);
    return host;
}
