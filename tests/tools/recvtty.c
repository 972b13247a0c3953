/*
 * recvtty — the receiving end of an OCI runtime's --console-socket, for the
 * integration tests.
 *
 *   recvtty [--pid-file F] [--no-stdin] SOCKET
 *
 * Listens on the unix socket path SOCKET, accepts one connection from the
 * runtime, takes the pty master it passes with SCM_RIGHTS, and then relays:
 * pty output to our stdout, our stdin to the pty (unless --no-stdin). It
 * exits 0 once the pty has no more writers (every slave closed: the
 * container's process is gone), non-zero on any error before that.
 *
 * The pid file is written after listen(), so a test that waits for it knows
 * the socket is ready for the runtime to connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: recvtty [--pid-file FILE] [--no-stdin] SOCKET\n");
    exit(2);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void write_pid_file(const char *path)
{
    /* Written to a temporary name and renamed so a waiter never reads half. */
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        die(path);
    }
    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    fprintf(f, "%d", (int)getpid());
    if (fclose(f) != 0)
        die(tmp);
    if (rename(tmp, path) < 0)
        die(path);
}

static int listen_on(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "recvtty: %s: socket path longer than %zu bytes\n", path,
                sizeof(addr.sun_path) - 1);
        exit(1);
    }
    strcpy(addr.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("socket");
    if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        die(path);
    if (listen(s, 1) < 0)
        die("listen");
    return s;
}

/* Receives one message carrying the pty master as SCM_RIGHTS; returns it. */
static int receive_master(int conn)
{
    char data[4096];
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl.buf,
        .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t n;
    do {
        n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        die("recvmsg");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof(fd));
            return fd;
        }
    }
    fprintf(stderr, "recvtty: the runtime's message carried no file descriptor\n");
    exit(1);
}

/*
 * Copies until the pty reports that no slave is open any more (read gives
 * EIO or 0). Our stdin reaching EOF only stops that direction: the
 * container may still be printing.
 */
static void relay(int master, bool use_stdin)
{
    char buf[8192];
    bool stdin_open = use_stdin;
    for (;;) {
        struct pollfd p[2] = {
            {.fd = master, .events = POLLIN},
            {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
        };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(master, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EIO)
                die("read from the pty");
            if (n <= 0)
                return; /* EIO: the last slave closed */
            if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
                die("write to stdout");
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                stdin_open = false;
                continue;
            }
            if (write_all(master, buf, (size_t)n) < 0)
                die("write to the pty");
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pid-file", required_argument, 0, 'p'},
        {"no-stdin", no_argument, 0, 'n'},
        {0, 0, 0, 0},
    };
    const char *pid_file = NULL;
    bool use_stdin = true;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': pid_file = optarg; break;
        case 'n': use_stdin = false; break;
        default: usage();
        }
    }
    if (argc - optind != 1)
        usage();
    const char *path = argv[optind];

    /* A closed stdout (the test stopped reading) must not kill us silently. */
    signal(SIGPIPE, SIG_IGN);

    int s = listen_on(path);
    if (pid_file)
        write_pid_file(pid_file);
    int conn;
    do {
        conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    } while (conn < 0 && errno == EINTR);
    if (conn < 0)
        die("accept");
    close(s);
    /* The path is only a rendezvous; nothing else will connect to it. */
    unlink(path);

    int master = receive_master(conn);
    close(conn);
    relay(master, use_stdin);
    close(master);
    return 0;
}
