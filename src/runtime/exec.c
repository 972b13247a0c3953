/*
 * exec.c — running another process in an existing container: it joins
 * every namespace of the container's init (user first, mount last), its
 * root directory and its cgroup, then goes through the same process setup as
 * the init (process.c). Two stages as in create, so that a new pid namespace
 * applies; the exec'd process is a child of the caller (CLONE_PARENT), which
 * waits for it unless --detach.
 */
#include "internal.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const struct {
    const char *name;
    int flag;
} join_order[] = {
    {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
    {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};
#define NJOIN (sizeof(join_order) / sizeof(join_order[0]))

json_t *runtime_exec_default_process(const struct runtime_ctx *ctx, const char *id,
                                     wharf_error *err)
{
    struct container *c = NULL;
    if (container_load(ctx, id, &c, err) < 0)
        return NULL;
    json_t *p = json_deep_copy(json_object_get(c->config, "process"));
    container_free(c);
    if (!p)
        p = json_object();
    json_object_set_new(p, "terminal", json_false());
    json_object_del(p, "consoleSize");
    return p;
}

struct exec_state {
    int ns_fd[NJOIN]; /* -1 where the container shares our namespace */
    int root_fd;
    int sync_fd;
    int console_fd;
    const struct runtime_exec_opts *opts;
    json_t *seccomp;
    struct cgroup *cg;
};

__attribute__((noreturn)) static void exec_fail(int fd, wharf_error *err)
{
    sync_send(fd, SYNC_ERROR, err->code, err->msg);
    _exit(255);
}

__attribute__((noreturn)) static void exec_stage2(struct exec_state *es)
{
    wharf_error err = {0};
    struct sync_msg m;
    if (sync_expect(es->sync_fd, SYNC_GO, &m, &err) < 0)
        _exit(255);
    json_t *process = es->opts->process;
    if (json_is_true(json_object_get(process, "terminal"))) {
        setsid();
        if (console_setup(es->console_fd, process, NULL, &err) < 0)
            exec_fail(es->sync_fd, &err);
        close(es->console_fd);
    }
    struct process_exec pe = {
        .process = process, .seccomp = es->seccomp, .preserve_fds = es->opts->preserve_fds};
    _cleanup_free_ char *exe = NULL;
    if (process_prepare_exec(&pe, &exe, &err) < 0)
        exec_fail(es->sync_fd, &err);
    process_exec(&pe, exe, &err);
    exec_fail(es->sync_fd, &err);
}

__attribute__((noreturn)) static void exec_stage1(struct exec_state *es)
{
    wharf_error err = {0};
    struct sync_msg m;
    if (sync_expect(es->sync_fd, SYNC_GO, &m, &err) < 0)
        _exit(255);
    if (es->cg && cgroup_enter_self_v1(es->cg, &err) < 0)
        exec_fail(es->sync_fd, &err);
    for (size_t i = 0; i < NJOIN; i++) {
        if (es->ns_fd[i] < 0)
            continue;
        if (setns(es->ns_fd[i], join_order[i].flag) < 0) {
            wharf_error_errno(&err, errno, "join the container's %s namespace",
                              join_order[i].name);
            exec_fail(es->sync_fd, &err);
        }
        close(es->ns_fd[i]);
    }
    /* The init's root, not the mount namespace's: right with --no-pivot too. */
    if (fchdir(es->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        wharf_error_errno(&err, errno, "enter the container's root");
        exec_fail(es->sync_fd, &err);
    }
    close(es->root_fd);
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0) {
        wharf_error_errno(&err, errno, "clone");
        exec_fail(es->sync_fd, &err);
    }
    if (pid == 0)
        exec_stage2(es);
    sync_send(es->sync_fd, SYNC_PID, pid, NULL);
    _exit(0);
}

static volatile sig_atomic_t exec_forward_pid;

static void exec_forward(int sig)
{
    if (exec_forward_pid > 0)
        kill(exec_forward_pid, sig);
}

static int open_namespaces(pid_t pid, struct exec_state *es, wharf_error *err)
{
    for (size_t i = 0; i < NJOIN; i++) {
        char theirs[64], ours[64];
        snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, join_order[i].name);
        snprintf(ours, sizeof(ours), "/proc/self/ns/%s", join_order[i].name);
        struct stat a, b;
        if (stat(theirs, &a) < 0) {
            if (errno == ENOENT)
                continue; /* a namespace type this kernel lacks */
            return wharf_error_errno(err, errno, "%s", theirs);
        }
        if (stat(ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;
        es->ns_fd[i] = open(theirs, O_RDONLY | O_CLOEXEC);
        if (es->ns_fd[i] < 0)
            return wharf_error_errno(err, errno, "open %s", theirs);
    }
    char root[64];
    snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
    es->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (es->root_fd < 0)
        return wharf_error_errno(err, errno, "open %s", root);
    return 0;
}

int runtime_exec(const struct runtime_ctx *ctx, const struct runtime_exec_opts *opts, int *status,
                 wharf_error *err)
{
    struct exec_state es = {.root_fd = -1, .sync_fd = -1, .console_fd = -1, .opts = opts};
    for (size_t i = 0; i < NJOIN; i++)
        es.ns_fd[i] = -1;
    struct container *c = NULL;
    struct cgroup *cg = NULL;
    int sv[2] = {-1, -1};
    pid_t stage1 = -1, pid = -1;
    int relay = -1, cgroup_fd = -1;
    *status = 255;
    int r = container_load(ctx, opts->id, &c, err);
    if (r < 0)
        return r;
    enum container_status st = container_status(c);
    if (st != STATUS_RUNNING && st != STATUS_CREATED) {
        r = wharf_error_set(err, -EINVAL, "cannot exec in container %s: it is %s", c->id,
                            container_status_name(st));
        goto out;
    }
    if ((r = spec_validate_process(opts->process, "process", err)) < 0)
        goto out;
    bool tty = json_is_true(json_object_get(opts->process, "terminal"));
    if (tty && !opts->console_socket && opts->detach) {
        r = wharf_error_set(err, -EINVAL, "process.terminal: a terminal needs --console-socket");
        goto out;
    }
    es.seccomp = json_object_get(json_object_get(c->config, "linux"), "seccomp");
    if ((r = open_namespaces(c->pid, &es, err)) < 0)
        goto out;
    if (c->cgroup && (r = cgroup_open(c->cgroup, &cg, err)) < 0)
        goto out;
    if (tty && opts->console_socket &&
        (es.console_fd = console_connect(opts->console_socket, err)) < 0) {
        r = es.console_fd;
        goto out;
    }
    if (tty && !opts->console_socket) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
            r = wharf_error_errno(err, errno, "socketpair");
            goto out;
        }
        relay = pair[0];
        es.console_fd = pair[1];
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = wharf_error_errno(err, errno, "socketpair");
        goto out;
    }
    es.sync_fd = sv[1];
    es.cg = cg;
    if (cg && (r = cgroup_clone_fd(cg, &cgroup_fd, err)) < 0)
        goto out;
    stage1 = fork_into_cgroup(cgroup_fd);
    if (stage1 < 0) {
        r = wharf_error_errno(err, errno, "fork");
        goto out;
    }
    if (stage1 == 0) {
        close(sv[0]);
        exec_stage1(&es);
    }
    close(sv[1]);
    sv[1] = -1;
    sync_send(sv[0], SYNC_GO, 0, NULL);
    struct sync_msg m;
    if ((r = sync_expect(sv[0], SYNC_PID, &m, err)) < 0)
        goto out;
    pid = m.value;
    wait_child_status(stage1);
    stage1 = -1;
    if ((r = process_apply_limits(opts->process, pid, true, err)) < 0)
        goto out;
    if (!opts->detach) {
        exec_forward_pid = pid;
        struct sigaction sa = {.sa_handler = exec_forward};
        int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &sa, NULL);
    }
    sync_send(sv[0], SYNC_GO, 0, NULL);
    /* Success is the socket closing on execve (close-on-exec); failure is a message. */
    r = sync_recv(sv[0], &m, err);
    if (r == -EPIPE) {
        wharf_error_clear(err);
        r = 0;
    } else if (r == 0) {
        r = wharf_error_set(err, -EPROTO, "exec: unexpected message %d", m.type);
    }
    if (r < 0)
        goto out;
    if (opts->pid_file) {
        char val[32];
        int n = snprintf(val, sizeof(val), "%d", (int)pid);
        if ((r = wharf_write_file_atomic(opts->pid_file, val, (size_t)n, 0644, err)) < 0)
            goto out;
    }
    if (relay >= 0) {
        int master = console_recv_master(relay, err);
        if (master < 0) {
            r = master;
            goto out;
        }
        *status = console_relay(master, pid);
        close(master);
        pid = -1;
    } else if (!opts->detach) {
        *status = wait_child_status(pid);
        pid = -1;
    } else {
        *status = 0;
        pid = -1;
    }
out:
    if (stage1 > 0) {
        kill(stage1, SIGKILL);
        wait_child_status(stage1);
    }
    if (r < 0 && pid > 0) {
        kill(pid, SIGKILL);
        wait_child_status(pid);
    }
    for (size_t i = 0; i < NJOIN; i++)
        if (es.ns_fd[i] >= 0)
            close(es.ns_fd[i]);
    if (es.root_fd >= 0)
        close(es.root_fd);
    if (cgroup_fd >= 0)
        close(cgroup_fd);
    if (es.console_fd >= 0)
        close(es.console_fd);
    if (relay >= 0)
        close(relay);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (cg)
        cgroup_free(cg);
    container_free(c);
    return r;
}
