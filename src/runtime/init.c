/*
 * init.c — the container side of create: stage 1 (namespaces) and stage 2,
 * the container init (rootfs, console, hostname, sysctls, then waiting on
 * exec.fifo for `start`, then the process setup and execve).
 *
 * Errors before "ready" go back to the parent over the sync socket, which
 * prints them; after it, there is nobody left to tell but the container's
 * own stderr.
 */
#include "internal.h"
#include "cgroup.h"
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

__attribute__((noreturn)) static void fail(int sync_fd, wharf_error *err)
{
    sync_send(sync_fd, SYNC_ERROR, err->code, err->msg);
    _exit(1);
}

static int join_namespaces(struct create_state *cs, wharf_error *err)
{
    for (size_t i = 0; i < cs->nns; i++) {
        if (!cs->ns[i].path)
            continue;
        _cleanup_close_ int fd = open(cs->ns[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return wharf_error_errno(err, errno, "linux.namespaces: %s namespace %s",
                                     cs->ns[i].type, cs->ns[i].path);
        if (setns(fd, cs->ns[i].flag) < 0)
            return wharf_error_errno(err, errno, "linux.namespaces: join %s namespace %s",
                                     cs->ns[i].type, cs->ns[i].path);
    }
    return 0;
}

static int set_hostname(json_t *spec, wharf_error *err)
{
    const char *h = json_string_value(json_object_get(spec, "hostname"));
    const char *d = json_string_value(json_object_get(spec, "domainname"));
    if (h && *h && sethostname(h, strlen(h)) < 0)
        return wharf_error_errno(err, errno, "hostname: %s", h);
    if (d && *d && setdomainname(d, strlen(d)) < 0)
        return wharf_error_errno(err, errno, "domainname: %s", d);
    return 0;
}

static int write_sysctls(json_t *spec, wharf_error *err)
{
    json_t *sysctl = json_object_get(json_object_get(spec, "linux"), "sysctl");
    const char *key;
    json_t *v;
    json_object_foreach(sysctl, key, v)
    {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        for (char *p = path + strlen("/proc/sys/"); *p; p++)
            if (*p == '.')
                *p = '/';
        wharf_error e = {0};
        if (wharf_write_string(path, json_string_value(v), &e) < 0)
            return wharf_error_set(err, e.code, "linux.sysctl.%s: %s", key, e.msg);
    }
    return 0;
}

/* linux.timeOffsets, written after unshare(CLONE_NEWTIME) and before the
 * first process enters the namespace (the init, cloned next). */
static int write_time_offsets(json_t *spec, wharf_error *err)
{
    json_t *offsets = json_object_get(json_object_get(spec, "linux"), "timeOffsets");
    const char *clock;
    json_t *o;
    strbuf sb = STRBUF_INIT;
    json_object_foreach(offsets, clock, o)
    {
        strbuf_addf(&sb, "%s %lld %lld\n", clock,
                    (long long)json_integer_value(json_object_get(o, "secs")),
                    (long long)json_integer_value(json_object_get(o, "nanosecs")));
    }
    int r = 0;
    if (sb.len) {
        wharf_error e = {0};
        if ((r = wharf_write_string("/proc/self/timens_offsets", strbuf_str(&sb), &e)) < 0)
            r = wharf_error_set(err, r, "linux.timeOffsets: %s", e.msg);
    }
    strbuf_release(&sb);
    return r;
}

struct hook_data {
    struct create_state *cs;
    pid_t host_pid;
};

/* Called by rootfs_prepare before pivot_root: the parent runs prestart and
 * createRuntime hooks, then we run createContainer in our namespaces. */
static int before_pivot(void *data, wharf_error *err)
{
    struct hook_data *hd = data;
    struct sync_msg m;
    if (sync_send(hd->cs->sync_fd, SYNC_HOOKS, 0, NULL) < 0)
        return wharf_error_errno(err, errno, "container setup: send");
    int r = sync_expect(hd->cs->sync_fd, SYNC_HOOKS_DONE, &m, err);
    if (r < 0)
        return r;
    json_t *state = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", WHARF_OCI_VERSION, "id",
                              hd->cs->id, "status", "creating", "pid", (int)hd->host_pid,
                              "bundle", hd->cs->bundle);
    json_t *ann = json_object_get(hd->cs->spec, "annotations");
    if (json_is_object(ann))
        json_object_set(state, "annotations", ann);
    r = hooks_run(hd->cs->spec, "createContainer", state, err);
    json_decref(state);
    return r;
}

__attribute__((noreturn)) static void init_stage2(struct create_state *cs)
{
    wharf_error err = {0};
    json_t *spec = cs->spec;
    json_t *process = json_object_get(spec, "process");
    struct sync_msg m;

    /* The parent sets oom_score_adj on us, then says go (rlimits come once
     * we are ready, so a low RLIMIT_NOFILE cannot break the setup). */
    if (sync_expect(cs->sync_fd, SYNC_GO, &m, &err) < 0)
        _exit(1);
    pid_t host_pid = m.value;

    if (cs->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
        wharf_error_errno(&err, errno, "linux.namespaces: new cgroup namespace");
        fail(cs->sync_fd, &err);
    }
    setsid();
    if (!cs->opts->no_new_keyring) {
        _cleanup_free_ char *name = xasprintf("_ses.%s", cs->id);
        /* No keyring support (or a restricted user namespace) is not fatal. */
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
    }

    struct hook_data hd = {cs, host_pid};
    struct rootfs_options ro = {
        .spec = spec,
        .bundle = cs->bundle,
        .no_pivot = cs->opts->no_pivot,
        .in_userns = cs->new_userns,
        .cgroupns = cs->new_cgroupns,
        .before_pivot = before_pivot,
        .data = &hd,
    };
    if (rootfs_prepare(&ro, &err) < 0)
        fail(cs->sync_fd, &err);
    if (json_is_true(json_object_get(process, "terminal"))) {
        _cleanup_free_ char *slave = NULL;
        if (console_setup(cs->console_fd, process, &slave, &err) < 0 ||
            rootfs_bind_console(slave, &err) < 0)
            fail(cs->sync_fd, &err);
        close(cs->console_fd);
    }
    if (set_hostname(spec, &err) < 0 || write_sysctls(spec, &err) < 0 ||
        rootfs_finalize(spec, &err) < 0)
        fail(cs->sync_fd, &err);

    struct process_exec pe = {
        .process = process,
        .seccomp = json_object_get(json_object_get(spec, "linux"), "seccomp"),
        .preserve_fds = cs->opts->preserve_fds,
    };
    _cleanup_free_ char *exe = NULL;
    if (process_prepare_exec(&pe, &exe, &err) < 0)
        fail(cs->sync_fd, &err);

    if (sync_send(cs->sync_fd, SYNC_READY, 0, NULL) < 0)
        _exit(1);
    close(cs->sync_fd);

    /* Block until `start` opens the other end. */
    char fifo[32];
    int fd = open(wharf_fd_path(cs->fifo_fd, fifo), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        dprintf(2, "wharf-runtime: open exec fifo: %s\n", strerror(errno));
        _exit(127);
    }
    if (write(fd, "0", 1) != 1)
        _exit(127);
    close(fd);
    close(cs->fifo_fd);

    json_t *state = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", WHARF_OCI_VERSION, "id",
                              cs->id, "status", "created", "pid", (int)host_pid, "bundle",
                              cs->bundle);
    if (hooks_run(spec, "startContainer", state, &err) < 0 || process_exec(&pe, exe, &err) < 0) {
        dprintf(2, "wharf-runtime: %s\n", err.msg);
        _exit(127);
    }
    _exit(127);
}

void init_stage1(struct create_state *cs)
{
    wharf_error err = {0};
    struct sync_msg m;
    /* flock belongs to the open file: a copy kept here would hold the
     * container's lock until the process execs, blocking start and delete. */
    if (cs->lock_fd >= 0)
        close(cs->lock_fd);
    if (cs->relay_fd >= 0)
        close(cs->relay_fd);
    /* While still single-threaded and root on the host (see cgroup.h). */
    if (cgroup_enter_self_v1(cs->cg, &err) < 0)
        fail(cs->sync_fd, &err);
    if (sync_expect(cs->sync_fd, SYNC_GO, &m, &err) < 0)
        _exit(1);
    if (join_namespaces(cs, &err) < 0)
        fail(cs->sync_fd, &err);
    if (cs->unshare_flags && unshare(cs->unshare_flags) < 0) {
        wharf_error_errno(&err, errno, "linux.namespaces: create namespaces");
        fail(cs->sync_fd, &err);
    }
    if ((cs->unshare_flags & CLONE_NEWTIME) && write_time_offsets(cs->spec, &err) < 0)
        fail(cs->sync_fd, &err);
    if (cs->new_userns) {
        if (sync_send(cs->sync_fd, SYNC_USERMAP, 0, NULL) < 0 ||
            sync_expect(cs->sync_fd, SYNC_USERMAP_DONE, &m, &err) < 0)
            _exit(1);
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
            wharf_error_errno(&err, errno,
                              "linux.uidMappings: become root in the user namespace (is 0 mapped?)");
            fail(cs->sync_fd, &err);
        }
    }
    /* CLONE_PARENT: the init becomes our parent's child, so `run` can wait
     * for it and a shim that started `create` becomes its reaper. */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0) {
        wharf_error_errno(&err, errno, "clone the container init");
        fail(cs->sync_fd, &err);
    }
    if (pid == 0)
        init_stage2(cs);
    sync_send(cs->sync_fd, SYNC_PID, pid, NULL);
    _exit(0);
}
