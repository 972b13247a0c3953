/*
 * console.c — terminals for containers, the runc way: the pty is created
 * inside the container's own devpts, and its master is sent with SCM_RIGHTS
 * over the --console-socket connection to whoever holds the terminal.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <termios.h>

int console_connect(const char *path, wharf_error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    _cleanup_close_ int dir_fd = -1;
    if (strlen(path) < sizeof(addr.sun_path)) {
        strcpy(addr.sun_path, path);
    } else {
        /* Longer than sun_path (a shim's state directory under a deep data
         * root): connect through the directory's fd instead. */
        const char *slash = strrchr(path, '/');
        int dir_len = !slash ? 0 : slash == path ? 1 : (int)(slash - path);
        _cleanup_free_ char *dir = slash ? xasprintf("%.*s", dir_len, path) : xstrdup(".");
        dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
            return wharf_error_errno(err, errno, "console socket %s", path);
        int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dir_fd,
                         slash ? slash + 1 : path);
        if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
            return wharf_error_set(err, -ENAMETOOLONG, "console socket %s: name too long", path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wharf_error_errno(err, errno, "console socket %s", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        return wharf_error_errno(err, e, "connect to console socket %s", path);
    }
    return fd;
}

static int send_fd(int sock, int fd, const char *name)
{
    char data[256];
    snprintf(data, sizeof(data), "%s", name);
    struct iovec iov = {.iov_base = data, .iov_len = strlen(data) + 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int console_setup(int console_sock, json_t *process, char **slave_path, wharf_error *err)
{
    _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return wharf_error_errno(err, errno, "console: open /dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return wharf_error_errno(err, errno, "console: unlock pty");
    char name[128];
    if (ptsname_r(master, name, sizeof(name)) != 0)
        return wharf_error_errno(err, errno, "console: ptsname");
    _cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return wharf_error_errno(err, errno, "console: open %s", name);
    json_t *size = json_object_get(process, "consoleSize");
    if (json_is_object(size)) {
        struct winsize ws = {
            .ws_row = (unsigned short)json_integer_value(json_object_get(size, "height")),
            .ws_col = (unsigned short)json_integer_value(json_object_get(size, "width")),
        };
        ioctl(master, TIOCSWINSZ, &ws);
    }
    int r = send_fd(console_sock, master, name);
    if (r < 0)
        return wharf_error_errno(err, -r, "console: send the pty master");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return wharf_error_errno(err, errno, "console: make %s the controlling terminal", name);
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            return wharf_error_errno(err, errno, "console: dup2");
    if (slave_path)
        *slave_path = xstrdup(name);
    return 0;
}

int console_recv_master(int sock, wharf_error *err)
{
    char data[256];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wharf_error_errno(err, errno, "console: receive the pty master");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return wharf_error_set(err, -EPROTO, "console: no pty master received");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

static volatile sig_atomic_t winch_pending;

static void on_winch(int sig)
{
    (void)sig;
    winch_pending = 1;
}

static void copy_winsize(int master)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}

int console_relay(int master, pid_t pid)
{
    struct termios saved;
    bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        t.c_oflag |= OPOST; /* keep \n -> \r\n for our own messages */
        tcsetattr(0, TCSANOW, &t);
        copy_winsize(master);
        struct sigaction sa = {.sa_handler = on_winch};
        sigaction(SIGWINCH, &sa, NULL);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool in_open = true;
    char buf[8192];
    for (;;) {
        if (winch_pending) {
            winch_pending = 0;
            copy_winsize(master);
        }
        struct pollfd p[3] = {
            {in_open ? 0 : -1, POLLIN, 0}, {master, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int n = poll(p, 3, pidfd >= 0 ? -1 : 100);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (p[0].revents & (POLLIN | POLLHUP)) {
            ssize_t got = read(0, buf, sizeof(buf));
            if (got <= 0)
                in_open = false; /* stdin closed: keep relaying output */
            else
                wharf_write_all(master, buf, (size_t)got);
        }
        if (p[1].revents & POLLIN) {
            ssize_t got = read(master, buf, sizeof(buf));
            if (got > 0)
                wharf_write_all(1, buf, (size_t)got);
        }
        if ((p[1].revents & (POLLHUP | POLLERR)) || (p[2].revents & POLLIN))
            break;
    }
    /* Output still buffered in the pty after the process ended. */
    fcntl(master, F_SETFL, O_NONBLOCK);
    ssize_t got;
    while ((got = read(master, buf, sizeof(buf))) > 0)
        wharf_write_all(1, buf, (size_t)got);
    if (raw)
        tcsetattr(0, TCSANOW, &saved);
    if (pidfd >= 0)
        close(pidfd);
    return wait_child_status(pid);
}
