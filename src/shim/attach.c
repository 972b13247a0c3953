/*
 * attach.c — the unix sockets of the state dir, and the `wharf-shim attach`
 * client that speaks the attach protocol (see shim.h) on a terminal or pipe.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int shim_unix_socket(int dir_fd, const char *dir_path, const char *name, int type, bool listen_mode,
                     wharf_error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dir_fd, name);
    if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
        return wharf_error_set(err, -ENAMETOOLONG, "socket %s/%s: name too long", dir_path, name);
    _cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return wharf_error_errno(err, errno, "socket %s/%s", dir_path, name);
    if (listen_mode) {
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
            return wharf_error_errno(err, errno, "remove stale %s/%s", dir_path, name);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
            return wharf_error_errno(err, errno, "bind %s/%s", dir_path, name);
        if (listen(fd, 16) < 0)
            return wharf_error_errno(err, errno, "listen %s/%s", dir_path, name);
    } else {
        /* Connect blocking (a full backlog waits rather than fails). */
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        int r;
        do
            r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return wharf_error_errno(err, errno, "connect %s/%s", dir_path, name);
        fcntl(fd, F_SETFL, fl);
    }
    return steal_fd(fd);
}

int shim_attach_client(const char *state_dir, int in_fd, int out_fd, int err_fd, bool close_stdin,
                       wharf_error *err)
{
    _cleanup_close_ int dir = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return wharf_error_errno(err, errno, "state dir %s", state_dir);
    _cleanup_close_ int sock =
        shim_unix_socket(dir, state_dir, "attach", SOCK_SEQPACKET, false, err);
    if (sock < 0)
        return sock;
    /* Blocking sends: stdin is copied at the pace the shim accepts it. */
    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);

    /* Not static: the engine runs several clients at once on threads. */
    _cleanup_free_ char *buf = xmalloc(SHIM_ATTACH_MAX_MSG + 1);
    bool stdin_open = in_fd >= 0;
    for (;;) {
        struct pollfd p[2] = {{sock, POLLIN, 0}, {stdin_open ? in_fd : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return wharf_error_errno(err, errno, "poll");
        }
        if (p[0].revents) {
            ssize_t n = recv(sock, buf, SHIM_ATTACH_MAX_MSG + 1, 0);
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return wharf_error_errno(err, errno, "receive from %s/attach", state_dir);
            /* The shim never sends an empty message: 0 is the end. */
            if (n == 0)
                return 0;
            int fd = n > 0 && buf[0] == SHIM_STREAM_STDERR ? err_fd : out_fd;
            if (n > 0 && fd >= 0) {
                int r = wharf_write_all(fd, buf + 1, (size_t)n - 1);
                if (r < 0)
                    return wharf_error_errno(err, -r, "write %s",
                                             fd == err_fd ? "stderr" : "stdout");
            }
        }
        if (stdin_open && p[1].revents) {
            ssize_t n = read(in_fd, buf, SHIM_ATTACH_MAX_MSG / 2);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0)
                return wharf_error_errno(err, errno, "read stdin");
            /* Zero bytes: EOF of stdin, which the empty message forwards. */
            if (n == 0 && !close_stdin)
                return 0;
            if (send(sock, buf, (size_t)n, MSG_NOSIGNAL) < 0)
                return wharf_error_errno(err, errno, "send to %s/attach", state_dir);
            if (n == 0)
                stdin_open = false;
        }
    }
}

int shim_ctl_client(const char *state_dir, const char *command, char *reply, size_t len,
                    wharf_error *err)
{
    _cleanup_close_ int dir = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return wharf_error_errno(err, errno, "state dir %s", state_dir);
    _cleanup_close_ int sock = shim_unix_socket(dir, state_dir, "ctl", SOCK_SEQPACKET, false, err);
    if (sock < 0)
        return sock;
    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
    if (send(sock, command, strlen(command), MSG_NOSIGNAL) < 0)
        return wharf_error_errno(err, errno, "send to %s/ctl", state_dir);
    ssize_t n;
    do
        n = recv(sock, reply, len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wharf_error_errno(err, errno, "receive from %s/ctl", state_dir);
    if (n == 0)
        return wharf_error_set(err, -ECONNRESET, "%s/ctl: the shim closed the connection",
                               state_dir);
    reply[n] = '\0';
    return 0;
}
