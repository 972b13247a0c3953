/* sync.c — the fixed-size messages parent and container stages exchange over
 * their SOCK_SEQPACKET socketpair. */
#include "internal.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

int sync_send(int fd, int type, int value, const char *msg)
{
    struct sync_msg m = {.type = type, .value = value};
    if (msg)
        snprintf(m.msg, sizeof(m.msg), "%s", msg);
    ssize_t n;
    do
        n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(m) ? 0 : -(errno ? errno : EPIPE);
}

int sync_recv(int fd, struct sync_msg *m, wharf_error *err)
{
    ssize_t n;
    do
        n = recv(fd, m, sizeof(*m), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wharf_error_errno(err, errno, "container setup: receive");
    if (n != (ssize_t)sizeof(*m))
        return wharf_error_set(err, -EPIPE, "container setup: the container process died");
    m->msg[sizeof(m->msg) - 1] = '\0';
    if (m->type == SYNC_ERROR)
        return wharf_error_set(err, m->value ? -abs(m->value) : -EIO, "%s", m->msg);
    return 0;
}

int sync_expect(int fd, int type, struct sync_msg *m, wharf_error *err)
{
    int r = sync_recv(fd, m, err);
    if (r < 0)
        return r;
    if (m->type != type)
        return wharf_error_set(err, -EPROTO, "container setup: unexpected message %d (wanted %d)",
                               m->type, type);
    return 0;
}

int wait_child_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return 255;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

pid_t fork_into_cgroup(int cgroup_fd)
{
    if (cgroup_fd < 0)
        return fork();
    struct clone_args args = {
        .flags = CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}
