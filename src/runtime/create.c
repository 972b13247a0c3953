/*
 * create.c — the parent side of create, start and run: validates the
 * bundle, makes the state directory, exec.fifo and cgroup, forks stage 1,
 * answers the stages (uid/gid maps, oom_score_adj and rlimits, prestart and
 * createRuntime hooks), then records the state. Any failure undoes all of it:
 * no state directory, cgroup or process is left behind.
 */
#include "internal.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

/* Devices every container may use, whatever its device rules say (as runc). */
static const char *default_device_rules[] = {
    "c 1 3 rwm",   /* null */
    "c 1 5 rwm",   /* zero */
    "c 1 7 rwm",   /* full */
    "c 1 8 rwm",   /* random */
    "c 1 9 rwm",   /* urandom */
    "c 5 0 rwm",   /* tty */
    "c 5 1 rwm",   /* console */
    "c 5 2 rwm",   /* ptmx */
    "c 136 -1 rwm", /* pts/N */
    "c 10 200 rwm", /* net/tun */
};

static json_t *device_rule(bool allow, const char *type, int64_t major, int64_t minor,
                           const char *access)
{
    json_t *r = json_pack("{s:b, s:s, s:s}", "allow", allow, "type", type, "access", access);
    if (major >= 0)
        json_object_set_new(r, "major", json_integer(major));
    if (minor >= 0)
        json_object_set_new(r, "minor", json_integer(minor));
    return r;
}

/* linux.resources plus allow rules for the default devices and for every
 * device in linux.devices; new reference. */
static json_t *effective_resources(json_t *spec)
{
    json_t *linux_obj = json_object_get(spec, "linux");
    json_t *res = json_object_get(linux_obj, "resources");
    json_t *out = json_is_object(res) ? json_deep_copy(res) : json_object();
    json_t *devices = json_object_get(out, "devices");
    if (!json_is_array(devices)) {
        devices = json_array();
        json_object_set_new(out, "devices", devices);
        /* No rules at all means "deny everything else", as runc does. */
        json_array_insert_new(devices, 0, device_rule(false, "a", -1, -1, "rwm"));
    }
    for (size_t i = 0; i < sizeof(default_device_rules) / sizeof(default_device_rules[0]); i++) {
        char type[2];
        long major, minor;
        char access[4];
        sscanf(default_device_rules[i], "%1s %ld %ld %3s", type, &major, &minor, access);
        json_array_append_new(devices, device_rule(true, type, major, minor, access));
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(linux_obj, "devices"), i, d)
    {
        const char *type = json_string_value(json_object_get(d, "type"));
        if (!type || strcmp(type, "p") == 0)
            continue;
        json_array_append_new(
            devices, device_rule(true, strcmp(type, "u") == 0 ? "c" : type,
                                 json_integer_value(json_object_get(d, "major")),
                                 json_integer_value(json_object_get(d, "minor")), "rwm"));
    }
    return out;
}

static int write_id_map(pid_t pid, json_t *spec, const char *key, const char *file,
                        wharf_error *err)
{
    json_t *maps = json_object_get(json_object_get(spec, "linux"), key);
    strbuf sb = STRBUF_INIT;
    size_t i;
    json_t *m;
    json_array_foreach(maps, i, m)
    {
        strbuf_addf(&sb, "%lld %lld %lld\n",
                    (long long)json_integer_value(json_object_get(m, "containerID")),
                    (long long)json_integer_value(json_object_get(m, "hostID")),
                    (long long)json_integer_value(json_object_get(m, "size")));
    }
    if (sb.len == 0) {
        strbuf_release(&sb);
        return wharf_error_set(err, -EINVAL, "linux.%s: a user namespace needs mappings", key);
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    wharf_error e = {0};
    int r = wharf_write_string(path, strbuf_str(&sb), &e);
    strbuf_release(&sb);
    if (r < 0)
        return wharf_error_set(err, r, "linux.%s: %s", key, e.msg);
    return 0;
}

static json_t *hook_state(struct create_state *cs, const char *status, pid_t pid)
{
    json_t *st = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", WHARF_OCI_VERSION, "id",
                           cs->id, "status", status, "pid", (int)pid, "bundle", cs->bundle);
    json_t *ann = json_object_get(cs->spec, "annotations");
    if (json_is_object(ann))
        json_object_set(st, "annotations", ann);
    return st;
}

static char *now_rfc3339(void)
{
    char buf[48];
    return xstrdup(wharf_time_rfc3339(buf, sizeof(buf)));
}

static int prepare(struct create_state *cs, bool allow_relay, wharf_error *err)
{
    const struct runtime_create_opts *opts = cs->opts;
    if (!container_id_valid(opts->id))
        return wharf_error_set(err, -EINVAL, "invalid container id '%s'", opts->id ? opts->id : "");
    cs->id = opts->id;
    char *abs = realpath(opts->bundle ? opts->bundle : ".", NULL);
    if (!abs)
        return wharf_error_errno(err, errno, "bundle %s", opts->bundle ? opts->bundle : ".");
    cs->bundle = abs;
    if (!(cs->spec = spec_load(cs->bundle, err)))
        return err->code;
    const char *root = json_string_value(json_object_get(json_object_get(cs->spec, "root"), "path"));
    cs->rootfs = root[0] == '/' ? xstrdup(root) : xasprintf("%s/%s", cs->bundle, root);
    int r = spec_namespaces(cs->spec, cs->ns, &cs->nns, err);
    if (r < 0)
        return r;
    bool mount_ns = false;
    for (size_t i = 0; i < cs->nns; i++) {
        if (cs->ns[i].path)
            continue;
        if (cs->ns[i].flag == CLONE_NEWCGROUP)
            cs->new_cgroupns = true;
        else
            cs->unshare_flags |= cs->ns[i].flag;
        if (cs->ns[i].flag == CLONE_NEWUSER)
            cs->new_userns = true;
        if (cs->ns[i].flag == CLONE_NEWNS)
            mount_ns = true;
    }
    if (!mount_ns)
        return wharf_error_set(err, -EINVAL, "linux.namespaces: a new mount namespace is required");
    json_t *process = json_object_get(cs->spec, "process");
    if (json_is_true(json_object_get(process, "terminal")) && !opts->console_socket &&
        !allow_relay)
        return wharf_error_set(err, -EINVAL,
                               "process.terminal: a terminal needs --console-socket");
    if (!json_is_true(json_object_get(process, "terminal")) && opts->console_socket)
        return wharf_error_set(err, -EINVAL,
                               "--console-socket: only valid when process.terminal is true");
    return 0;
}

/* Everything until the init reports ready; on success *pid_out is its pid.
 * With relay_out (foreground `run`), a terminal without --console-socket gets
 * a socketpair instead, whose other end comes back in *relay_out. */
static int create_container(const struct runtime_ctx *ctx, const struct runtime_create_opts *opts,
                            pid_t *pid_out, int *relay_out, wharf_error *err)
{
    struct create_state cs = {.ctx = ctx, .opts = opts, .sync_fd = -1, .fifo_fd = -1,
                              .console_fd = -1, .relay_fd = -1, .lock_fd = -1};
    struct cgroup *cg = NULL;
    int sv[2] = {-1, -1};
    pid_t stage1 = -1, init_pid = -1;
    int cgroup_fd = -1;
    char *fifo = NULL;
    bool made_dir = false;
    int lock_fd = -1;
    double t0 = wharf_now_ms();
    wlog_debug("create %s: begins at %.2f", opts->id, t0);
    int r = prepare(&cs, relay_out != NULL, err);
    if (r < 0)
        goto out;

    if ((r = wharf_mkdir_p(ctx->root, 0711, err)) < 0)
        goto out;
    cs.dir = container_dir(ctx, cs.id);
    if (mkdir(cs.dir, 0711) < 0) {
        r = errno == EEXIST ? wharf_error_set(err, -EEXIST, "container %s already exists", cs.id)
                            : wharf_error_errno(err, errno, "create %s", cs.dir);
        goto out;
    }
    made_dir = true;
    if ((lock_fd = container_lock(cs.dir, err)) < 0) {
        r = lock_fd;
        goto out;
    }
    cs.lock_fd = lock_fd;
    fifo = xasprintf("%s/exec.fifo", cs.dir);
    /* 0622 whatever the umask: an init in a user namespace opens it as "other". */
    if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0) {
        r = wharf_error_errno(err, errno, "create %s", fifo);
        goto out;
    }
    if ((cs.fifo_fd = open(fifo, O_PATH | O_CLOEXEC)) < 0) {
        r = wharf_error_errno(err, errno, "open %s", fifo);
        goto out;
    }
    if (opts->console_socket && (cs.console_fd = console_connect(opts->console_socket, err)) < 0) {
        r = cs.console_fd;
        goto out;
    }
    if (!opts->console_socket && relay_out &&
        json_is_true(json_object_get(json_object_get(cs.spec, "process"), "terminal"))) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
            r = wharf_error_errno(err, errno, "socketpair");
            goto out;
        }
        cs.relay_fd = pair[0];
        cs.console_fd = pair[1];
    }

    json_t *linux_obj = json_object_get(cs.spec, "linux");
    const char *cgpath = json_string_value(json_object_get(linux_obj, "cgroupsPath"));
    if ((r = cgroup_create(cgpath ? cgpath : "", cs.id, ctx->systemd_cgroup, &cg, err)) < 0)
        goto out;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = wharf_error_errno(err, errno, "socketpair");
        goto out;
    }
    cs.sync_fd = sv[1];
    cs.cg = cg;
    /* The cgroup first, so nothing the container runs is ever outside it:
     * stage 1 is born in the v2 directory and joins the v1 ones itself. */
    if ((r = cgroup_clone_fd(cg, &cgroup_fd, err)) < 0)
        goto out;
    wlog_debug("create %s: config checked, cgroup ready at %.2f ms", opts->id, wharf_now_ms() - t0);
    stage1 = fork_into_cgroup(cgroup_fd);
    if (stage1 < 0) {
        r = wharf_error_errno(err, errno, "fork");
        goto out;
    }
    if (stage1 == 0) {
        close(sv[0]);
        init_stage1(&cs);
    }
    close(sv[1]);
    sv[1] = -1;

    sync_send(sv[0], SYNC_GO, 0, NULL);
    /* Limits are written while stage 1 builds the namespaces: nothing of the
     * user's runs before the init is released, long after this. */
    json_t *res = effective_resources(cs.spec);
    r = cgroup_apply_resources(cg, res, err);
    json_decref(res);
    if (r < 0)
        goto out;
    struct sync_msg m;
    for (;;) {
        if ((r = sync_recv(sv[0], &m, err)) < 0)
            goto out;
        if (m.type == SYNC_USERMAP) {
            if ((r = write_id_map(stage1, cs.spec, "uidMappings", "uid_map", err)) < 0 ||
                (r = write_id_map(stage1, cs.spec, "gidMappings", "gid_map", err)) < 0)
                goto out;
            sync_send(sv[0], SYNC_USERMAP_DONE, 0, NULL);
        } else if (m.type == SYNC_PID) {
            init_pid = m.value;
            break;
        }
    }
    wait_child_status(stage1);
    stage1 = -1;
    wlog_debug("create %s: namespaces ready, init is pid %d at %.2f ms", opts->id, (int)init_pid,
               wharf_now_ms() - t0);

    if ((r = process_apply_limits(json_object_get(cs.spec, "process"), init_pid, false, err)) < 0)
        goto out;
    sync_send(sv[0], SYNC_GO, init_pid, NULL);

    for (;;) {
        if ((r = sync_recv(sv[0], &m, err)) < 0)
            goto out;
        if (m.type == SYNC_HOOKS) {
            wlog_debug("create %s: mounts done at %.2f ms", opts->id, wharf_now_ms() - t0);
            json_t *st = hook_state(&cs, "creating", init_pid);
            r = hooks_run(cs.spec, "prestart", st, err);
            if (r == 0)
                r = hooks_run(cs.spec, "createRuntime", st, err);
            json_decref(st);
            if (r < 0) {
                sync_send(sv[0], SYNC_ERROR, r, err->msg);
                goto out;
            }
            sync_send(sv[0], SYNC_HOOKS_DONE, 0, NULL);
        } else if (m.type == SYNC_READY) {
            wlog_debug("create %s: init ready at %.2f ms", opts->id, wharf_now_ms() - t0);
            r = process_apply_limits(json_object_get(cs.spec, "process"), init_pid, true, err);
            if (r < 0)
                goto out;
            break;
        }
    }

    struct container c = {
        .id = (char *)cs.id,
        .dir = cs.dir,
        .bundle = cs.bundle,
        .rootfs = cs.rootfs,
        .cgroup = (char *)cgroup_path(cg),
        .created = now_rfc3339(),
        .pid = init_pid,
        .start_time = proc_start_time(init_pid),
        .no_pivot = opts->no_pivot,
        .systemd_cgroup = ctx->systemd_cgroup,
        .config = cs.spec,
    };
    r = container_save(&c, err);
    free(c.created);
    if (r < 0)
        goto out;
    if (opts->pid_file) {
        char val[32];
        int n = snprintf(val, sizeof(val), "%d", (int)init_pid);
        if ((r = wharf_write_file_atomic(opts->pid_file, val, (size_t)n, 0644, err)) < 0)
            goto out;
    }
    *pid_out = init_pid;
    if (relay_out)
        *relay_out = steal_fd(cs.relay_fd);
    r = 0;
out:
    if (r < 0) {
        if (stage1 > 0) {
            kill(stage1, SIGKILL);
            wait_child_status(stage1);
        }
        if (init_pid > 0) {
            kill(init_pid, SIGKILL);
            waitpid(init_pid, NULL, 0);
        }
        if (cg) {
            wharf_error e = {0};
            cgroup_kill_all(cg, SIGKILL, &e);
            cgroup_destroy(cg, &e);
        }
        if (made_dir)
            wharf_rm_rf(cs.dir, NULL);
    }
    if (cg)
        cgroup_free(cg);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (cs.fifo_fd >= 0)
        close(cs.fifo_fd);
    if (cgroup_fd >= 0)
        close(cgroup_fd);
    if (cs.console_fd >= 0)
        close(cs.console_fd);
    if (cs.relay_fd >= 0)
        close(cs.relay_fd);
    if (lock_fd >= 0)
        close(lock_fd);
    if (cs.spec)
        json_decref(cs.spec);
    free(fifo);
    free(cs.bundle);
    free(cs.rootfs);
    free(cs.dir);
    return r;
}

int runtime_create(const struct runtime_ctx *ctx, const struct runtime_create_opts *opts,
                   wharf_error *err)
{
    pid_t pid;
    return create_container(ctx, opts, &pid, NULL, err);
}

/* The init's executable as /proc shows it, for noticing its execve. */
static void exe_of(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* After the fifo byte the init still runs startContainer hooks before its
 * execve; poststart hooks must come after that, so wait until /proc shows a
 * different executable (or the init is gone). */
static void wait_for_execve(struct container *c, const char *before)
{
    long delay_us = 50;
    for (double waited = 0; waited < 60e6; waited += (double)delay_us) {
        char now[4096];
        exe_of(c->pid, now, sizeof(now));
        if (strcmp(now, before) != 0 || proc_start_time(c->pid) != c->start_time)
            return;
        struct timespec ts = {0, delay_us * 1000};
        nanosleep(&ts, NULL);
        if (delay_us < 5000)
            delay_us *= 2;
    }
}

/* Opens exec.fifo without blocking and waits for the init's byte, giving up
 * if the init dies first (a blocking open would hang forever). */
static int release_init(struct container *c, wharf_error *err)
{
    char exe_before[4096];
    exe_of(c->pid, exe_before, sizeof(exe_before));
    _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", c->dir);
    _cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "container %s: open %s", c->id, fifo);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, 100);
        if (n > 0 && (p.revents & POLLIN)) {
            char b;
            if (read(fd, &b, 1) == 1)
                break;
        }
        if (n < 0 && errno != EINTR)
            return wharf_error_errno(err, errno, "container %s: wait for the init", c->id);
        if (proc_start_time(c->pid) != c->start_time)
            return wharf_error_set(err, -ESRCH, "container %s: the init process died", c->id);
    }
    unlink(fifo);
    wait_for_execve(c, exe_before);
    return 0;
}

static int start_loaded(struct container *c, wharf_error *err)
{
    enum container_status st = container_status(c);
    if (st != STATUS_CREATED)
        return wharf_error_set(err, -EINVAL, "cannot start container %s: it is %s", c->id,
                               container_status_name(st));
    int r = release_init(c, err);
    if (r < 0)
        return r;
    json_t *state = container_state_json(c, STATUS_RUNNING);
    hooks_run_warn(c->config, "poststart", state, c->id);
    json_decref(state);
    return 0;
}

int runtime_start(const struct runtime_ctx *ctx, const char *id, wharf_error *err)
{
    struct container *c = NULL;
    int r = container_load(ctx, id, &c, err);
    if (r < 0)
        return r;
    _cleanup_close_ int lock = container_lock(c->dir, err);
    if (lock < 0) {
        container_free(c);
        return lock;
    }
    r = start_loaded(c, err);
    container_free(c);
    return r;
}

static volatile sig_atomic_t forward_pid;

static void forward_signal(int sig)
{
    if (forward_pid > 0)
        kill(forward_pid, sig);
}

int runtime_run(const struct runtime_ctx *ctx, const struct runtime_create_opts *opts,
                int *status, wharf_error *err)
{
    pid_t pid;
    int relay = -1, master = -1;
    *status = 0;
    int r = create_container(ctx, opts, &pid, opts->detach ? NULL : &relay, err);
    if (r < 0)
        return r;
    if (relay >= 0) {
        master = console_recv_master(relay, err);
        close(relay);
        if (master < 0) {
            wharf_error e = {0};
            runtime_delete(ctx, opts->id, true, &e);
            return master;
        }
    }
    struct container *c = NULL;
    if ((r = container_load(ctx, opts->id, &c, err)) < 0)
        return r;
    if (!opts->detach) {
        forward_pid = pid;
        struct sigaction sa = {.sa_handler = forward_signal};
        int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &sa, NULL);
    }
    r = start_loaded(c, err);
    container_free(c);
    wlog_debug("run %s: started at %.2f", opts->id, wharf_now_ms());
    if (r < 0) {
        wharf_error e = {0};
        runtime_delete(ctx, opts->id, true, &e);
        if (master >= 0)
            close(master);
        return r;
    }
    if (opts->detach)
        return 0;
    double t0 = wharf_now_ms();
    if (master >= 0) {
        *status = console_relay(master, pid);
        close(master);
    } else {
        *status = wait_child_status(pid);
    }
    wlog_debug("run %s: exited after %.2f ms", opts->id, wharf_now_ms() - t0);
    t0 = wharf_now_ms();
    if (!opts->keep) {
        wharf_error e = {0};
        if (runtime_delete(ctx, opts->id, true, &e) < 0)
            wlog_warn("%s", e.msg);
        wlog_debug("run %s: deleted in %.2f ms", opts->id, wharf_now_ms() - t0);
    }
    return 0;
}
