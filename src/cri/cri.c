/*
 * cri.c — sandboxes and containers: records on disk, lifecycle through
 * wharf-shim and wharf-runtime, and live restore.
 *
 * There is no in-memory cache: every call reads the records and the shim's
 * files, so a restarted daemon sees exactly what a running one would. A
 * container's status is derived, never stored: "created" until its first
 * start; then exit.json decides "exited"; otherwise the recorded init pid
 * (checked against its start time, so a reused pid does not count) decides
 * "running" (or "paused", which pause/unpause record).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "cri_internal.h"
#include "shim.h"

#define INFRA_SLEEP "2147483647"

/* ---------------------------------------------------------------- helpers */

static bool valid_id(const char *id)
{
    if (!id || !*id || strlen(id) > 128)
        return false;
    for (const char *p = id; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || (p != id && strchr("_.-", *p));
        if (!ok)
            return false;
    }
    return true;
}

static char *cdir(struct cri *cri, const char *id)
{
    return xasprintf("%s/containers/%s", cri->root, id);
}
static char *sdir(struct cri *cri, const char *id)
{
    return xasprintf("%s/sandboxes/%s", cri->root, id);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int save_json(const char *path, json_t *doc, wharf_error *err)
{
    _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return wharf_error_set(err, -ENOMEM, "%s: cannot serialize", path);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

static void json_set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static int64_t json_int(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static pid_t read_pid_file(const char *path)
{
    char *text = NULL;
    wharf_error e = {0};
    pid_t pid = 0;
    if (wharf_read_file(path, &text, NULL, &e) == 0)
        pid = (pid_t)strtol(text, NULL, 10);
    free(text);
    return pid;
}

/* A binary next to our own executable. */
static int locate(const char *given, const char *name, char **out, wharf_error *err)
{
    if (given) {
        *out = xstrdup(given);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            return wharf_error_errno(err, errno, "readlink /proc/self/exe");
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        *slash = '\0';
        *out = xasprintf("%s/%s", self, name);
    }
    if (access(*out, X_OK) < 0)
        return wharf_error_errno(err, errno, "%s %s", name, *out);
    return 0;
}

/* ---------------------------------------------------------------- handle */

int cri_open(const struct cri_options *opts, struct cri **out, wharf_error *err)
{
    if (!opts || !opts->root || opts->root[0] != '/')
        return wharf_error_set(err, -EINVAL, "cri: the data root must be an absolute path");
    struct cri *cri = xcalloc(1, sizeof(*cri));
    int r;
    cri->root = xstrdup(opts->root);
    cri->runtime_root = opts->runtime_root ? xstrdup(opts->runtime_root)
                                           : xasprintf("%s/runtime", opts->root);
    cri->cgroup_parent = xstrdup(opts->cgroup_parent ? opts->cgroup_parent : "/wharf");
    cri->busybox = xstrdup(opts->busybox_path ? opts->busybox_path : "/bin/busybox");
    if ((r = locate(opts->runtime_path, "wharf-runtime", &cri->runtime, err)) < 0 ||
        (r = locate(opts->shim_path, "wharf-shim", &cri->shim, err)) < 0)
        goto fail;
    const char *subdirs[] = {"containers", "sandboxes", "infra"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", cri->root, subdirs[i]);
        if ((r = wharf_mkdir_p(d, 0700, err)) < 0)
            goto fail;
    }
    if ((r = wharf_mkdir_p(cri->runtime_root, 0700, err)) < 0)
        goto fail;
    *out = cri;
    return 0;
fail:
    cri_close(cri);
    return r;
}

void cri_close(struct cri *cri)
{
    if (!cri)
        return;
    free(cri->root);
    free(cri->runtime);
    free(cri->shim);
    free(cri->runtime_root);
    free(cri->cgroup_parent);
    free(cri->busybox);
    free(cri);
}

const char *cri_root(const struct cri *cri) { return cri->root; }
const char *cri_runtime_path(const struct cri *cri) { return cri->runtime; }
const char *cri_runtime_root(const struct cri *cri) { return cri->runtime_root; }

const char *cri_state_name(enum cri_state state)
{
    switch (state) {
    case CRI_STATE_CREATED: return "created";
    case CRI_STATE_RUNNING: return "running";
    case CRI_STATE_PAUSED: return "paused";
    case CRI_STATE_EXITED: return "exited";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- tasks */

/*
 * A task is one runtime container supervised by a shim: a container, or a
 * sandbox's infra. Its record (rec) holds "pid", "pid_start", "shim_pid",
 * "shim_start", "started_at", "start_count", "paused".
 */
struct task_state {
    enum cri_state state;
    pid_t pid;
    bool supervised;
    int exit_code, signal;
    bool oom_killed;
    struct timespec finished_at;
};

static void task_state(json_t *rec, const char *shim_dir, struct task_state *ts)
{
    memset(ts, 0, sizeof(*ts));
    if (json_int(rec, "start_count") == 0) {
        ts->state = CRI_STATE_CREATED;
        return;
    }
    _cleanup_free_ char *exit_path = xasprintf("%s/exit.json", shim_dir);
    wharf_error e = {0};
    _cleanup_json_ json_t *ex = exists(exit_path) ? wjson_load_file(exit_path, &e) : NULL;
    if (ex) {
        ts->state = CRI_STATE_EXITED;
        ts->exit_code = (int)json_int(ex, "exit_code");
        ts->signal = (int)json_int(ex, "signal");
        ts->oom_killed = json_is_true(json_object_get(ex, "oom_killed"));
        cri_json_time(ex, "exited_at", &ts->finished_at);
        return;
    }
    pid_t pid = (pid_t)json_int(rec, "pid");
    bool shim_alive = cri_proc_alive((pid_t)json_int(rec, "shim_pid"),
                                     (uint64_t)json_int(rec, "shim_start"));
    if (cri_proc_alive(pid, (uint64_t)json_int(rec, "pid_start")) || shim_alive) {
        /* With the init gone but the shim alive, the shim is draining output
         * and about to write exit.json: still running for a moment. */
        ts->state = json_is_true(json_object_get(rec, "paused")) ? CRI_STATE_PAUSED
                                                                  : CRI_STATE_RUNNING;
        ts->pid = pid;
        ts->supervised = shim_alive;
        return;
    }
    /* Neither the process nor its shim exists and nothing recorded the exit
     * (the shim was killed): the code is unknown, as Docker reports it. */
    ts->state = CRI_STATE_EXITED;
    ts->exit_code = 255;
}

static bool task_running(const struct task_state *ts)
{
    return ts->state == CRI_STATE_RUNNING || ts->state == CRI_STATE_PAUSED;
}

/* Waits until the task is no longer running, at most timeout_ms (< 0: no
 * limit). Returns true when it exited. */
static bool task_wait_exit(json_t *rec, const char *shim_dir, int timeout_ms)
{
    double deadline = mono_ms() + timeout_ms;
    struct task_state ts;
    while (true) {
        task_state(rec, shim_dir, &ts);
        if (!task_running(&ts))
            return true;
        if (timeout_ms >= 0 && mono_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

/* Launches the shim with --start for a bundle whose config.json is written. */
static int task_launch(struct cri *cri, const char *id, const char *bundle, const char *shim_dir,
                       bool tty, bool open_stdin, json_t *rec, wharf_error *err)
{
    int r;
    /* A previous run: the runtime still holds a stopped container and the
     * shim's files of that run must not describe the new one. */
    _cleanup_free_ char *rt_state = xasprintf("%s/%s", cri->runtime_root, id);
    if (exists(rt_state) &&
        (r = cri_runtime_cmd(cri, err, "delete", "--force", id, NULL)) < 0)
        return wharf_error_prefix(err, "container %s: remove the previous run", id);
    const char *stale[] = {"exit.json", "pid", "shim.pid", "runtime.log"};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", shim_dir, stale[i]);
        unlink(p);
    }
    const char *argv[20];
    size_t n = 0;
    argv[n++] = cri->shim;
    argv[n++] = "--id";
    argv[n++] = id;
    argv[n++] = "--bundle";
    argv[n++] = bundle;
    argv[n++] = "--state-dir";
    argv[n++] = shim_dir;
    argv[n++] = "--runtime";
    argv[n++] = cri->runtime;
    argv[n++] = "--runtime-root";
    argv[n++] = cri->runtime_root;
    if (tty)
        argv[n++] = "--terminal";
    if (open_stdin)
        argv[n++] = "--stdin";
    argv[n++] = "--start";
    argv[n] = NULL;
    _cleanup_strbuf_ strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
    struct cri_run run = {.argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1, .out = &out,
                          .errout = &errout, .timeout_ms = 120000};
    int status = 0;
    if ((r = cri_run(&run, &status, err)) < 0)
        return wharf_error_prefix(err, "container %s: shim", id);
    if (status != 0) {
        while (errout.len && errout.buf[errout.len - 1] == '\n')
            errout.buf[--errout.len] = '\0';
        return wharf_error_set(err, -EIO, "container %s: start: %s", id,
                               errout.len ? errout.buf : "the shim failed without a message");
    }
    pid_t pid = (pid_t)strtol(strbuf_str(&out), NULL, 10);
    if (pid <= 0)
        return wharf_error_set(err, -EIO, "container %s: the shim printed no pid", id);
    _cleanup_free_ char *shim_pid_path = xasprintf("%s/shim.pid", shim_dir);
    pid_t shim_pid = read_pid_file(shim_pid_path);
    _cleanup_free_ char *now = cri_now_rfc3339();
    json_object_set_new(rec, "pid", json_integer(pid));
    json_object_set_new(rec, "pid_start", json_integer((json_int_t)cri_proc_start_time(pid)));
    json_object_set_new(rec, "shim_pid", json_integer(shim_pid));
    json_object_set_new(rec, "shim_start",
                        json_integer((json_int_t)cri_proc_start_time(shim_pid)));
    json_set_str(rec, "started_at", now);
    json_object_set_new(rec, "start_count", json_integer(json_int(rec, "start_count") + 1));
    json_object_set_new(rec, "paused", json_false());
    return 0;
}

/* Signal, wait, SIGKILL, wait. */
static int task_stop(struct cri *cri, const char *id, json_t *rec, const char *shim_dir, int sig,
                     int timeout_s, wharf_error *err)
{
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    if (!task_running(&ts))
        return 0;
    wharf_error ignored = {0};
    if (ts.state == CRI_STATE_PAUSED) {
        /* A frozen process cannot act on a signal. */
        cri_runtime_cmd(cri, &ignored, "resume", id, NULL);
    }
    char signame[16];
    snprintf(signame, sizeof(signame), "%d", sig);
    if (sig != SIGKILL && timeout_s > 0) {
        /* It may have exited since: a failure here is only a race. */
        cri_runtime_cmd(cri, &ignored, "kill", id, signame, NULL);
        if (task_wait_exit(rec, shim_dir, timeout_s * 1000))
            return 0;
    }
    int r = cri_runtime_cmd(cri, err, "kill", "--all", id, "KILL", NULL);
    if (task_wait_exit(rec, shim_dir, 30000))
        return 0;
    if (r < 0)
        return wharf_error_prefix(err, "container %s: stop", id);
    return wharf_error_set(err, -ETIMEDOUT, "container %s: still running 30 s after SIGKILL", id);
}

/* Forgets the runtime's container (and with it the cgroup). */
static int task_delete(struct cri *cri, const char *id, wharf_error *err)
{
    _cleanup_free_ char *rt_state = xasprintf("%s/%s", cri->runtime_root, id);
    if (!exists(rt_state))
        return 0;
    return cri_runtime_cmd(cri, err, "delete", "--force", id, NULL);
}

/* ---------------------------------------------------------------- sandboxes */

static json_t *load_sandbox(struct cri *cri, const char *id, wharf_error *err)
{
    if (!valid_id(id)) {
        wharf_error_set(err, -EINVAL, "sandbox \"%s\": invalid id", id ? id : "");
        return NULL;
    }
    _cleanup_free_ char *path = xasprintf("%s/sandboxes/%s/sandbox.json", cri->root, id);
    if (!exists(path)) {
        wharf_error_set(err, -ENOENT, "sandbox %s: no such sandbox", id);
        return NULL;
    }
    return wjson_load_file(path, err);
}

static int save_sandbox(struct cri *cri, const char *id, json_t *rec, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/sandboxes/%s/sandbox.json", cri->root, id);
    return save_json(path, rec, err);
}

static json_t *load_container(struct cri *cri, const char *id, wharf_error *err)
{
    if (!valid_id(id)) {
        wharf_error_set(err, -EINVAL, "container \"%s\": invalid id", id ? id : "");
        return NULL;
    }
    _cleanup_free_ char *path = xasprintf("%s/containers/%s/container.json", cri->root, id);
    if (!exists(path)) {
        wharf_error_set(err, -ENOENT, "container %s: no such container", id);
        return NULL;
    }
    return wjson_load_file(path, err);
}

static int save_container(struct cri *cri, const char *id, json_t *rec, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/containers/%s/container.json", cri->root, id);
    return save_json(path, rec, err);
}

/* ROOT/infra/rootfs holds only bin/busybox; built once, by rename so a
 * concurrent or interrupted build never leaves a half rootfs in place. */
static int ensure_infra_rootfs(struct cri *cri, wharf_error *err)
{
    _cleanup_free_ char *rootfs = xasprintf("%s/infra/rootfs", cri->root);
    _cleanup_free_ char *marker = xasprintf("%s/bin/busybox", rootfs);
    if (exists(marker))
        return 0;
    _cleanup_free_ char *tmp = xasprintf("%s/infra/rootfs.%d", cri->root, (int)getpid());
    int r;
    wharf_rm_rf(tmp, err);
    const char *dirs[] = {"bin", "proc", "dev", "sys", "tmp"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", tmp, dirs[i]);
        if ((r = wharf_mkdir_p(d, 0755, err)) < 0)
            return r;
    }
    char *data = NULL;
    size_t len = 0;
    if ((r = wharf_read_file(cri->busybox, &data, &len, err)) < 0)
        return wharf_error_prefix(err, "infra rootfs");
    _cleanup_free_ char *bb = xasprintf("%s/bin/busybox", tmp);
    r = wharf_write_file_atomic(bb, data, len, 0755, err);
    free(data);
    if (r < 0)
        return r;
    if (rename(tmp, rootfs) < 0) {
        int e = errno;
        wharf_rm_rf(tmp, err);
        if ((e == ENOTEMPTY || e == EEXIST) && exists(marker))
            return 0; /* someone else won the race */
        return wharf_error_errno(err, e, "infra rootfs %s", rootfs);
    }
    return 0;
}

static const char *ns_mode(json_t *config, const char *key)
{
    json_t *modes = json_object_get(config, "namespaces");
    const char *m = json_string_value(json_object_get(modes, key));
    return m ? m : "private";
}

int cri_sandbox_create(struct cri *cri, const char *id, json_t *config, wharf_error *err)
{
    if (!valid_id(id))
        return wharf_error_set(err, -EINVAL, "sandbox \"%s\": invalid id", id ? id : "");
    if (config && !json_is_object(config))
        return wharf_error_set(err, -EINVAL, "sandbox %s: config: expected an object", id);
    _cleanup_json_ json_t *cfg = config ? json_deep_copy(config) : json_object();
    _cleanup_free_ char *dir = sdir(cri, id);
    _cleanup_free_ char *cont = cdir(cri, id);
    if (exists(dir) || exists(cont))
        return wharf_error_set(err, -EEXIST, "sandbox %s: the id is taken", id);
    bool infra = true;
    const char *hostname = NULL, *name = "";
    int r;
    if ((r = wjson_bool(cfg, "", "infra", &infra, err)) < 0 ||
        (r = wjson_string(cfg, "", "hostname", false, &hostname, err)) < 0 ||
        (r = wjson_string(cfg, "", "name", false, &name, err)) < 0)
        return wharf_error_prefix(err, "sandbox %s", id);
    static const char *const keys[] = {"network", "ipc", "uts"};
    for (size_t i = 0; i < 3; i++) {
        const char *m = ns_mode(cfg, keys[i]);
        if (strcmp(m, "private") != 0 && strcmp(m, "host") != 0 && !(i == 0 && m[0] == '/'))
            return wharf_error_set(err, -EINVAL,
                                   "sandbox %s: namespaces.%s: \"%s\" is not private or host", id,
                                   keys[i], m);
    }
    char short_id[13];
    snprintf(short_id, sizeof(short_id), "%s", id);
    _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:O, s:b, s:i, s:b}", "id", id,
                                           "name", name, "hostname",
                                           hostname ? hostname : short_id, "config", cfg, "infra",
                                           infra, "start_count", 0, "stopped", 0);
    _cleanup_free_ char *now = cri_now_rfc3339();
    json_set_str(rec, "created_at", now);
    _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
    if ((r = wharf_mkdir_p(shim_dir, 0700, err)) < 0)
        return r;
    if (infra) {
        _cleanup_free_ char *rootfs = xasprintf("%s/infra/rootfs", cri->root);
        _cleanup_free_ char *cg = xasprintf("%s/%s", cri->cgroup_parent, id);
        _cleanup_json_ json_t *icfg = json_pack(
            "{s:[s, s, s], s:b, s:[s], s:b, s:{s:s, s:s, s:s}}", "args", "/bin/busybox", "sleep",
            INFRA_SLEEP, "readonly_rootfs", 1, "cap_drop", "ALL", "no_new_privileges", 1,
            "namespaces", "network", ns_mode(cfg, "network"), "ipc", ns_mode(cfg, "ipc"), "uts",
            ns_mode(cfg, "uts"));
        struct cri_spec_context ctx = {
            .id = id, .rootfs = rootfs, .cgroups_path = cg,
            .hostname = strcmp(ns_mode(cfg, "uts"), "host") == 0
                            ? NULL
                            : json_string_value(json_object_get(rec, "hostname"))};
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_free_ char *spec_path = xasprintf("%s/config.json", dir);
        if ((r = ensure_infra_rootfs(cri, err)) < 0)
            goto fail;
        if (!(spec = cri_generate_spec(&ctx, icfg, err))) {
            r = err->code;
            goto fail;
        }
        if ((r = save_json(spec_path, spec, err)) < 0 ||
            (r = task_launch(cri, id, dir, shim_dir, false, false, rec, err)) < 0)
            goto fail;
    }
    if ((r = save_sandbox(cri, id, rec, err)) < 0)
        goto fail;
    return 0;
fail: {
    wharf_error ignored = {0};
    if (infra) {
        task_stop(cri, id, rec, shim_dir, SIGKILL, 0, &ignored);
        task_delete(cri, id, &ignored);
    }
    wharf_rm_rf(dir, &ignored);
    return r;
}
}

/* The namespace holder of a sandbox: the infra, or the owner container. */
static pid_t sandbox_holder(struct cri *cri, json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (json_is_true(json_object_get(rec, "infra"))) {
        _cleanup_free_ char *shim_dir = xasprintf("%s/sandboxes/%s/shim", cri->root, id);
        struct task_state ts;
        task_state(rec, shim_dir, &ts);
        return task_running(&ts) ? ts.pid : 0;
    }
    const char *owner = json_string_value(json_object_get(rec, "owner"));
    if (!owner)
        return 0;
    wharf_error e = {0};
    _cleanup_json_ json_t *crec = load_container(cri, owner, &e);
    if (!crec)
        return 0;
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, owner);
    struct task_state ts;
    task_state(crec, shim_dir, &ts);
    return task_running(&ts) ? ts.pid : 0;
}

static void sandbox_fill(struct cri *cri, json_t *rec, struct cri_sandbox_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = xstrdup(json_string_value(json_object_get(rec, "id")));
    st->name = xstrdup(json_string_value(json_object_get(rec, "name")));
    st->hostname = xstrdup(json_string_value(json_object_get(rec, "hostname")));
    st->infra = json_is_true(json_object_get(rec, "infra"));
    st->pid = sandbox_holder(cri, rec);
    bool stopped = json_is_true(json_object_get(rec, "stopped"));
    st->ready = !stopped && (st->infra ? st->pid > 0 : true);
    if (st->pid > 0)
        st->netns = xasprintf("/proc/%d/ns/net", (int)st->pid);
    cri_json_time(rec, "created_at", &st->created_at);
    st->config = json_incref(json_object_get(rec, "config"));
}

int cri_sandbox_status(struct cri *cri, const char *id, struct cri_sandbox_status *out,
                       wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_sandbox(cri, id, err);
    if (!rec)
        return err->code;
    sandbox_fill(cri, rec, out);
    return 0;
}

void cri_sandbox_status_release(struct cri_sandbox_status *st)
{
    free(st->id);
    free(st->name);
    free(st->hostname);
    free(st->netns);
    json_decref(st->config);
    memset(st, 0, sizeof(*st));
}

void cri_sandbox_status_array_free(struct cri_sandbox_status *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        cri_sandbox_status_release(&a[i]);
    free(a);
}

/* Valid ids among the entries of dir (a malloc'd NULL-terminated vector). */
static char **list_dir(const char *dir, size_t *count)
{
    size_t n = 0, cap = 8;
    char **ids = xcalloc(cap, sizeof(char *));
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !valid_id(de->d_name))
                continue;
            if (n + 2 > cap) {
                cap *= 2;
                ids = xrealloc(ids, cap * sizeof(char *));
            }
            ids[n++] = xstrdup(de->d_name);
        }
        closedir(d);
    }
    ids[n] = NULL;
    *count = n;
    return ids;
}

/* Ids of the records under ROOT/<kind>. */
static char **list_ids(struct cri *cri, const char *kind, size_t *count)
{
    _cleanup_free_ char *dir = xasprintf("%s/%s", cri->root, kind);
    return list_dir(dir, count);
}

static void free_ids(char **ids)
{
    for (size_t i = 0; ids && ids[i]; i++)
        free(ids[i]);
    free(ids);
}

static bool labels_match(json_t *config, json_t *want)
{
    if (!want)
        return true;
    json_t *labels = json_object_get(config, "labels");
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        json_t *have = json_object_get(labels, k);
        if (!have || !json_equal(have, v))
            return false;
    }
    return true;
}

int cri_sandbox_list(struct cri *cri, const struct cri_filter *f, struct cri_sandbox_status **out,
                     size_t *count, wharf_error *err)
{
    size_t n;
    char **ids = list_ids(cri, "sandboxes", &n);
    struct cri_sandbox_status *a = xcalloc(n + 1, sizeof(*a));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (f && f->id_prefix && strncmp(ids[i], f->id_prefix, strlen(f->id_prefix)) != 0)
            continue;
        wharf_error e = {0};
        _cleanup_json_ json_t *rec = load_sandbox(cri, ids[i], &e);
        if (!rec)
            continue; /* being created or removed right now */
        if (f && !labels_match(json_object_get(rec, "config"), f->labels))
            continue;
        sandbox_fill(cri, rec, &a[k]);
        /* For sandboxes "state" filters on readiness: RUNNING = ready. */
        if (f && f->state >= 0 && (f->state == CRI_STATE_RUNNING) != a[k].ready) {
            cri_sandbox_status_release(&a[k]);
            continue;
        }
        k++;
    }
    free_ids(ids);
    *out = a;
    *count = k;
    (void)err;
    return 0;
}

static int sandbox_container_ids(struct cri *cri, const char *sandbox_id, char ***out, size_t *count)
{
    size_t n;
    char **ids = list_ids(cri, "containers", &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        wharf_error e = {0};
        _cleanup_json_ json_t *rec = load_container(cri, ids[i], &e);
        const char *sb = rec ? json_string_value(json_object_get(rec, "sandbox_id")) : NULL;
        if (sb && strcmp(sb, sandbox_id) == 0)
            ids[k++] = ids[i];
        else
            free(ids[i]);
    }
    ids[k] = NULL;
    *out = ids;
    *count = k;
    return 0;
}

int cri_sandbox_stop(struct cri *cri, const char *id, int timeout_s, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_sandbox(cri, id, err);
    if (!rec)
        return err->code;
    char **ids = NULL;
    size_t n = 0;
    sandbox_container_ids(cri, id, &ids, &n);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = cri_container_stop(cri, ids[i], timeout_s, err);
    free_ids(ids);
    if (r < 0)
        return wharf_error_prefix(err, "sandbox %s", id);
    if (json_is_true(json_object_get(rec, "infra"))) {
        _cleanup_free_ char *shim_dir = xasprintf("%s/sandboxes/%s/shim", cri->root, id);
        if ((r = task_stop(cri, id, rec, shim_dir, SIGKILL, 0, err)) < 0)
            return wharf_error_prefix(err, "sandbox %s: infra", id);
    }
    json_object_set_new(rec, "stopped", json_true());
    return save_sandbox(cri, id, rec, err);
}

int cri_sandbox_remove(struct cri *cri, const char *id, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_sandbox(cri, id, err);
    if (!rec)
        return err->code;
    char **ids = NULL;
    size_t n = 0;
    sandbox_container_ids(cri, id, &ids, &n);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = cri_container_remove(cri, ids[i], true, err);
    free_ids(ids);
    if (r < 0)
        return wharf_error_prefix(err, "sandbox %s", id);
    _cleanup_free_ char *dir = sdir(cri, id);
    if (json_is_true(json_object_get(rec, "infra"))) {
        _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
        if ((r = task_stop(cri, id, rec, shim_dir, SIGKILL, 0, err)) < 0 ||
            (r = task_delete(cri, id, err)) < 0)
            return wharf_error_prefix(err, "sandbox %s: infra", id);
    }
    return wharf_rm_rf(dir, err);
}

/* ---------------------------------------------------------------- containers */

int cri_container_create(struct cri *cri, const char *id, const char *sandbox_id,
                         const char *rootfs, json_t *config, wharf_error *err)
{
    if (!valid_id(id))
        return wharf_error_set(err, -EINVAL, "container \"%s\": invalid id", id ? id : "");
    if (!rootfs || rootfs[0] != '/')
        return wharf_error_set(err, -EINVAL, "container %s: rootfs must be an absolute path", id);
    struct stat st;
    if (stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
        return wharf_error_set(err, -ENOENT, "container %s: rootfs %s is not a directory", id,
                               rootfs);
    _cleanup_json_ json_t *sb = load_sandbox(cri, sandbox_id, err);
    if (!sb)
        return wharf_error_prefix(err, "container %s", id);
    if (json_is_true(json_object_get(sb, "stopped")))
        return wharf_error_set(err, -EINVAL, "container %s: sandbox %s is stopped", id,
                               sandbox_id);
    _cleanup_free_ char *dir = cdir(cri, id);
    _cleanup_free_ char *sbdir = sdir(cri, id);
    if (exists(dir) || exists(sbdir))
        return wharf_error_set(err, -EEXIST, "container %s: the id is taken", id);
    /* Check the config now, so errors surface at create (Docker and the CRI
     * both report them there); start regenerates it with the namespaces. */
    struct cri_spec_context ctx = {.id = id, .rootfs = rootfs};
    _cleanup_json_ json_t *spec = cri_generate_spec(&ctx, config, err);
    if (!spec)
        return wharf_error_prefix(err, "container %s", id);
    bool infra = json_is_true(json_object_get(sb, "infra"));
    const char *owner = json_string_value(json_object_get(sb, "owner"));
    bool becomes_owner = !infra && !owner;
    _cleanup_free_ char *now = cri_now_rfc3339();
    _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:O, s:i, s:b, s:b}", "id", id,
                                           "sandbox_id", sandbox_id, "rootfs", rootfs,
                                           "created_at", now, "config", config, "start_count", 0,
                                           "paused", 0, "owner", becomes_owner);
    _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
    _cleanup_free_ char *spec_path = xasprintf("%s/config.json", dir);
    int r;
    if ((r = wharf_mkdir_p(shim_dir, 0700, err)) < 0)
        return r;
    if ((r = save_json(spec_path, spec, err)) < 0 || (r = save_container(cri, id, rec, err)) < 0)
        goto fail;
    if (becomes_owner) {
        json_set_str(sb, "owner", id);
        if ((r = save_sandbox(cri, sandbox_id, sb, err)) < 0)
            goto fail;
    }
    return 0;
fail: {
    wharf_error ignored = {0};
    wharf_rm_rf(dir, &ignored);
    return r;
}
}

/* Namespace paths and hostname for a start: the sandbox's current holder. */
static int start_context(struct cri *cri, const char *id, json_t *rec, json_t *sb,
                         struct cri_spec_context *ctx, char paths[4][64], wharf_error *err)
{
    const char *sandbox_id = json_string_value(json_object_get(sb, "id"));
    const char *hostname = json_string_value(json_object_get(sb, "hostname"));
    if (json_is_true(json_object_get(sb, "stopped")))
        return wharf_error_set(err, -EINVAL, "container %s: sandbox %s is stopped", id,
                               sandbox_id);
    bool owner = json_is_true(json_object_get(rec, "owner"));
    if (owner) {
        json_t *config = json_object_get(rec, "config");
        const char *h = json_string_value(json_object_get(config, "hostname"));
        ctx->hostname = h && *h ? h : hostname;
        return 0; /* new namespaces of its own */
    }
    pid_t holder = sandbox_holder(cri, sb);
    if (holder <= 0)
        return wharf_error_set(err, -EINVAL, "container %s: sandbox %s is not ready", id,
                               sandbox_id);
    static const char *const ns[] = {"net", "ipc", "uts", "pid"};
    for (int i = 0; i < 4; i++)
        snprintf(paths[i], 64, "/proc/%d/ns/%s", (int)holder, ns[i]);
    ctx->netns = paths[0];
    ctx->ipcns = paths[1];
    ctx->utsns = paths[2];
    ctx->pidns = paths[3];
    return 0;
}

int cri_container_start(struct cri *cri, const char *id, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    _cleanup_free_ char *dir = cdir(cri, id);
    _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    if (task_running(&ts))
        return wharf_error_set(err, -EBUSY, "container %s: already running", id);
    const char *sandbox_id = json_string_value(json_object_get(rec, "sandbox_id"));
    _cleanup_json_ json_t *sb = load_sandbox(cri, sandbox_id, err);
    if (!sb)
        return wharf_error_prefix(err, "container %s", id);
    json_t *config = json_object_get(rec, "config");
    _cleanup_free_ char *cg = xasprintf("%s/%s", cri->cgroup_parent, id);
    struct cri_spec_context ctx = {.id = id,
                                   .rootfs = json_string_value(json_object_get(rec, "rootfs")),
                                   .cgroups_path = cg};
    char paths[4][64];
    int r = start_context(cri, id, rec, sb, &ctx, paths, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *spec = cri_generate_spec(&ctx, config, err);
    if (!spec)
        return wharf_error_prefix(err, "container %s", id);
    _cleanup_free_ char *spec_path = xasprintf("%s/config.json", dir);
    if ((r = save_json(spec_path, spec, err)) < 0)
        return r;
    bool tty = json_is_true(json_object_get(config, "tty"));
    bool in = json_is_true(json_object_get(config, "stdin"));
    if ((r = task_launch(cri, id, dir, shim_dir, tty, in, rec, err)) < 0)
        return r;
    return save_container(cri, id, rec, err);
}

static int stop_signal_of(json_t *config)
{
    const char *s = json_string_value(json_object_get(config, "stop_signal"));
    int sig = s ? cri_parse_signal(s) : SIGTERM;
    return sig > 0 ? sig : SIGTERM;
}

int cri_container_stop(struct cri *cri, const char *id, int timeout_s, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    json_t *config = json_object_get(rec, "config");
    if (timeout_s < 0) {
        json_t *t = json_object_get(config, "stop_timeout");
        timeout_s = json_is_integer(t) ? (int)json_integer_value(t) : 10;
    }
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    int r = task_stop(cri, id, rec, shim_dir, stop_signal_of(config), timeout_s, err);
    if (r < 0)
        return r;
    if (json_is_true(json_object_get(rec, "paused"))) {
        json_object_set_new(rec, "paused", json_false());
        return save_container(cri, id, rec, err);
    }
    return 0;
}

static int running_container(struct cri *cri, const char *id, json_t **rec_out,
                             struct task_state *ts, wharf_error *err)
{
    json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    task_state(rec, shim_dir, ts);
    if (!task_running(ts)) {
        json_decref(rec);
        return wharf_error_set(err, -ESRCH, "container %s: not running (%s)", id,
                               cri_state_name(ts->state));
    }
    *rec_out = rec;
    return 0;
}

int cri_container_kill(struct cri *cri, const char *id, int sig, wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    char signame[16];
    snprintf(signame, sizeof(signame), "%d", sig);
    if ((r = cri_runtime_cmd(cri, err, "kill", id, signame, NULL)) < 0)
        return wharf_error_prefix(err, "container %s", id);
    return 0;
}

int cri_container_remove(struct cri *cri, const char *id, bool force, wharf_error *err)
{
    wharf_error ignored = {0};
    if (!err)
        err = &ignored; /* callers removing on a best-effort basis pass NULL */
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    _cleanup_free_ char *dir = cdir(cri, id);
    _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    int r;
    if (task_running(&ts)) {
        if (!force)
            return wharf_error_set(err, -EBUSY, "container %s: is running (stop it or force)",
                                   id);
        if ((r = task_stop(cri, id, rec, shim_dir, SIGKILL, 0, err)) < 0)
            return r;
    }
    if ((r = task_delete(cri, id, err)) < 0)
        return wharf_error_prefix(err, "container %s", id);
    const char *sandbox_id = json_string_value(json_object_get(rec, "sandbox_id"));
    wharf_error e = {0};
    _cleanup_json_ json_t *sb = load_sandbox(cri, sandbox_id, &e);
    const char *owner = sb ? json_string_value(json_object_get(sb, "owner")) : NULL;
    if (owner && strcmp(owner, id) == 0) {
        json_object_del(sb, "owner");
        if ((r = save_sandbox(cri, sandbox_id, sb, err)) < 0)
            return r;
    }
    return wharf_rm_rf(dir, err);
}

static int set_paused(struct cri *cri, const char *id, bool pause, wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    if ((ts.state == CRI_STATE_PAUSED) == pause)
        return wharf_error_set(err, -EINVAL, "container %s: already %s", id,
                               pause ? "paused" : "unpaused");
    if ((r = cri_runtime_cmd(cri, err, pause ? "pause" : "resume", id, NULL)) < 0)
        return wharf_error_prefix(err, "container %s", id);
    json_object_set_new(rec, "paused", json_boolean(pause));
    return save_container(cri, id, rec, err);
}

int cri_container_pause(struct cri *cri, const char *id, wharf_error *err)
{
    return set_paused(cri, id, true, err);
}

int cri_container_unpause(struct cri *cri, const char *id, wharf_error *err)
{
    return set_paused(cri, id, false, err);
}

int cri_container_update(struct cri *cri, const char *id, json_t *resources, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    _cleanup_json_ json_t *oci = cri_generate_resources(resources, err);
    if (!oci)
        return wharf_error_prefix(err, "container %s", id);
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    int r;
    /* A container that does not run only records them: its next start
     * generates its cgroup from the merged resources. */
    if (task_running(&ts)) {
        _cleanup_free_ char *path = xasprintf("%s/containers/%s/update.json", cri->root, id);
        if ((r = save_json(path, oci, err)) < 0)
            return r;
        r = cri_runtime_cmd(cri, err, "update", "--resources", path, id, NULL);
        unlink(path);
        if (r < 0)
            return wharf_error_prefix(err, "container %s", id);
    }
    /* Later starts apply the merged resources. */
    json_t *config = json_object_get(rec, "config");
    json_t *res = json_object_get(config, "resources");
    if (!res) {
        res = json_object();
        json_object_set_new(config, "resources", res);
    }
    json_object_update(res, resources);
    return save_container(cri, id, rec, err);
}

int cri_container_rename(struct cri *cri, const char *id, const char *name, json_t *annotations,
                         wharf_error *err)
{
    if (!name || !*name)
        return wharf_error_set(err, -EINVAL, "container %s: rename: the name is empty", id);
    if (annotations && !json_is_object(annotations))
        return wharf_error_set(err, -EINVAL, "container %s: rename: annotations must be an object",
                               id);
    const char *key;
    json_t *v;
    json_object_foreach(annotations, key, v)
    {
        if (!json_is_string(v))
            return wharf_error_set(err, -EINVAL,
                                   "container %s: rename: annotation %s is not a string", id, key);
    }
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    json_t *config = json_object_get(rec, "config");
    json_object_set_new(config, "name", json_string(name));
    if (annotations && json_object_size(annotations)) {
        json_t *a = json_object_get(config, "annotations");
        if (!json_is_object(a)) {
            a = json_object();
            json_object_set_new(config, "annotations", a);
        }
        json_object_update(a, annotations);
    }
    return save_container(cri, id, rec, err);
}

static void status_fill(struct cri *cri, json_t *rec, struct cri_container_status *st)
{
    memset(st, 0, sizeof(*st));
    const char *id = json_string_value(json_object_get(rec, "id"));
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    json_t *config = json_object_get(rec, "config");
    st->id = xstrdup(id);
    st->sandbox_id = xstrdup(json_string_value(json_object_get(rec, "sandbox_id")));
    const char *name = json_string_value(json_object_get(config, "name"));
    st->name = xstrdup(name ? name : "");
    st->rootfs = xstrdup(json_string_value(json_object_get(rec, "rootfs")));
    st->log_path = xasprintf("%s/container.log", shim_dir);
    st->state = ts.state;
    st->pid = task_running(&ts) ? ts.pid : 0;
    st->exit_code = ts.exit_code;
    st->signal = ts.signal;
    st->oom_killed = ts.oom_killed;
    st->supervised = ts.supervised;
    st->start_count = (unsigned)json_int(rec, "start_count");
    cri_json_time(rec, "created_at", &st->created_at);
    cri_json_time(rec, "started_at", &st->started_at);
    st->finished_at = ts.finished_at;
    st->config = json_incref(config);
}

int cri_container_status(struct cri *cri, const char *id, struct cri_container_status *out,
                         wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    status_fill(cri, rec, out);
    return 0;
}

void cri_container_status_release(struct cri_container_status *st)
{
    free(st->id);
    free(st->sandbox_id);
    free(st->name);
    free(st->rootfs);
    free(st->log_path);
    json_decref(st->config);
    memset(st, 0, sizeof(*st));
}

void cri_container_status_array_free(struct cri_container_status *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        cri_container_status_release(&a[i]);
    free(a);
}

int cri_container_list(struct cri *cri, const struct cri_filter *f,
                       struct cri_container_status **out, size_t *count, wharf_error *err)
{
    size_t n;
    char **ids = list_ids(cri, "containers", &n);
    struct cri_container_status *a = xcalloc(n + 1, sizeof(*a));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (f && f->id_prefix && strncmp(ids[i], f->id_prefix, strlen(f->id_prefix)) != 0)
            continue;
        wharf_error e = {0};
        _cleanup_json_ json_t *rec = load_container(cri, ids[i], &e);
        if (!rec)
            continue;
        const char *sb = json_string_value(json_object_get(rec, "sandbox_id"));
        if (f && f->sandbox_id && (!sb || strcmp(sb, f->sandbox_id) != 0))
            continue;
        if (f && !labels_match(json_object_get(rec, "config"), f->labels))
            continue;
        status_fill(cri, rec, &a[k]);
        if (f && f->state >= 0 && (int)a[k].state != f->state) {
            cri_container_status_release(&a[k]);
            continue;
        }
        k++;
    }
    free_ids(ids);
    *out = a;
    *count = k;
    (void)err;
    return 0;
}

/* ---------------------------------------------------------------- stats, top */

static int open_cgroup(struct cri *cri, const char *id, struct cgroup **cg, wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = xasprintf("%s/%s", cri->cgroup_parent, id);
    if ((r = cgroup_open(path, cg, err)) < 0)
        return wharf_error_prefix(err, "container %s", id);
    return 0;
}

json_t *cri_container_stats(struct cri *cri, const char *id, wharf_error *err)
{
    struct cgroup *cg = NULL;
    if (open_cgroup(cri, id, &cg, err) < 0)
        return NULL;
    json_t *stats = cgroup_stats(cg, err);
    cgroup_free(cg);
    if (!stats)
        wharf_error_prefix(err, "container %s: stats", id);
    return stats;
}

int cri_container_top(struct cri *cri, const char *id, pid_t **pids, size_t *count,
                      wharf_error *err)
{
    struct cgroup *cg = NULL;
    int r = open_cgroup(cri, id, &cg, err);
    if (r < 0)
        return r;
    r = cgroup_pids(cg, pids, count, err);
    cgroup_free(cg);
    return r < 0 ? wharf_error_prefix(err, "container %s: top", id) : 0;
}

/* ---------------------------------------------------------------- attach, logs */

int cri_container_attach(struct cri *cri, const char *id, int in_fd, int out_fd, int err_fd,
                         bool close_stdin, wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    r = shim_attach_client(shim_dir, in_fd, out_fd, err_fd, close_stdin, err);
    return r < 0 ? wharf_error_prefix(err, "container %s: attach", id) : 0;
}

int cri_container_resize(struct cri *cri, const char *id, unsigned rows, unsigned cols,
                         wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    if (!json_is_true(json_object_get(json_object_get(rec, "config"), "tty")))
        return wharf_error_set(err, -ENOTTY, "container %s: resize: it has no terminal", id);
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", cri->root, id);
    char cmd[64], reply[256];
    snprintf(cmd, sizeof(cmd), "resize %u %u", rows, cols);
    if ((r = shim_ctl_client(shim_dir, cmd, reply, sizeof(reply), err)) < 0)
        return wharf_error_prefix(err, "container %s: resize", id);
    if (strcmp(reply, "ok") != 0)
        return wharf_error_set(err, -EIO, "container %s: resize: %s", id, reply);
    return 0;
}

struct follow_ctx {
    struct cri *cri;
    const char *id;
    const struct cri_log_opts *user;
    void *userdata;
    cri_log_fn fn;
};

static bool container_follow(void *ud)
{
    struct follow_ctx *fc = ud;
    if (fc->user->keep_following && !fc->user->keep_following(fc->userdata))
        return false;
    wharf_error e = {0};
    _cleanup_json_ json_t *rec = load_container(fc->cri, fc->id, &e);
    if (!rec)
        return false;
    _cleanup_free_ char *shim_dir = xasprintf("%s/containers/%s/shim", fc->cri->root, fc->id);
    struct task_state ts;
    task_state(rec, shim_dir, &ts);
    return ts.state != CRI_STATE_EXITED;
}

static int forward_record(const struct cri_log_record *rec, void *ud)
{
    struct follow_ctx *fc = ud;
    return fc->fn(rec, fc->userdata);
}

int cri_container_logs(struct cri *cri, const char *id, const struct cri_log_opts *opts,
                       cri_log_fn fn, void *userdata, wharf_error *err)
{
    _cleanup_json_ json_t *rec = load_container(cri, id, err);
    if (!rec)
        return err->code;
    struct cri_log_opts dflt = {.tail = -1};
    struct cri_log_opts o = opts ? *opts : dflt;
    struct follow_ctx fc = {cri, id, opts ? opts : &dflt, userdata, fn};
    o.keep_following = container_follow;
    _cleanup_free_ char *path = xasprintf("%s/containers/%s/shim/container.log", cri->root, id);
    return cri_log_read(path, &o, forward_record, &fc, err);
}

/* ---------------------------------------------------------------- exec */

static int exec_counter;

/* The exec process: the container's own process (env, user, capabilities)
 * with the caller's args, env additions, cwd, user and terminal. */
static json_t *exec_process(struct cri *cri, const char *id, const struct cri_exec_opts *o,
                            wharf_error *err)
{
    _cleanup_free_ char *spec_path = xasprintf("%s/containers/%s/config.json", cri->root, id);
    _cleanup_json_ json_t *spec = wjson_load_file(spec_path, err);
    if (!spec)
        return NULL;
    json_t *process = json_deep_copy(json_object_get(spec, "process"));
    if (!process) {
        wharf_error_set(err, -EINVAL, "container %s: its config.json has no process", id);
        return NULL;
    }
    json_t *args = json_array();
    for (size_t i = 0; o->argv[i]; i++)
        json_array_append_new(args, json_string(o->argv[i]));
    json_object_set_new(process, "args", args);
    json_object_set_new(process, "terminal", json_boolean(o->tty));
    json_object_del(process, "consoleSize");
    if (o->tty && o->rows && o->cols)
        json_object_set_new(process, "consoleSize",
                            json_pack("{s:i, s:i}", "height", (int)o->rows, "width", (int)o->cols));
    json_t *env = json_object_get(process, "env");
    for (size_t i = 0; o->env && o->env[i]; i++)
        json_array_append_new(env, json_string(o->env[i]));
    if (o->cwd)
        json_object_set_new(process, "cwd", json_string(o->cwd));
    if (o->user) {
        char *colon = strchr(o->user, ':');
        json_t *u = json_pack("{s:I, s:I}", "uid", (json_int_t)strtoll(o->user, NULL, 10), "gid",
                              (json_int_t)(colon ? strtoll(colon + 1, NULL, 10) : 0));
        json_object_set_new(process, "user", u);
    }
    /* The init-only settings do not apply to an exec. */
    json_object_del(process, "oomScoreAdj");
    return process;
}

/* Receives the PTY master the runtime sends to the console socket. */
static int recv_master(int listen_fd, pid_t child, wharf_error *err)
{
    while (true) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        int n = poll(&p, 1, 100);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return wharf_error_errno(err, errno, "poll console socket");
        if (waitpid(child, NULL, WNOHANG) == child)
            return wharf_error_set(err, -EIO, "the runtime exited before sending a terminal");
    }
    _cleanup_close_ int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return wharf_error_errno(err, errno, "accept console socket");
    char data[256];
    char ctrl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {data, sizeof(data)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
                         .msg_controllen = sizeof(ctrl)};
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "receive the terminal");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return wharf_error_set(err, -EIO, "the console socket sent no terminal");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    return fd;
}

/* Copies in_fd → master and master → out_fd until the process closes the
 * terminal (read gives EIO once the last slave fd is closed). */
static void relay_pty(int master, int in_fd, int out_fd)
{
    struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = in_fd, .events = POLLIN}};
    char buf[8192];
    while (true) {
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[0].revents) {
            ssize_t got = read(master, buf, sizeof(buf));
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    continue;
                return;
            }
            if (out_fd >= 0)
                wharf_write_all(out_fd, buf, (size_t)got);
        }
        if (p[1].fd >= 0 && p[1].revents) {
            ssize_t got = read(in_fd, buf, sizeof(buf));
            if (got <= 0) {
                p[1].fd = -1; /* stop reading; the terminal stays until the process ends */
                continue;
            }
            wharf_write_all(master, buf, (size_t)got);
        }
    }
}

static int do_exec(struct cri *cri, const char *id, const struct cri_exec_opts *o, int timeout_ms,
                   strbuf *out, strbuf *errout, int *exit_code, wharf_error *err)
{
    _cleanup_json_ json_t *rec = NULL;
    struct task_state ts;
    int r = running_container(cri, id, &rec, &ts, err);
    if (r < 0)
        return r;
    if (!o->argv || !o->argv[0])
        return wharf_error_set(err, -EINVAL, "container %s: exec: no command", id);
    _cleanup_json_ json_t *process = exec_process(cri, id, o, err);
    if (!process)
        return wharf_error_prefix(err, "container %s: exec", id);
    int n = __atomic_add_fetch(&exec_counter, 1, __ATOMIC_SEQ_CST);
    _cleanup_free_ char *base = xasprintf("%s/containers/%s/exec-%d-%d", cri->root, id,
                                          (int)getpid(), n);
    _cleanup_free_ char *proc_path = xasprintf("%s.json", base);
    _cleanup_free_ char *log_path = xasprintf("%s.log", base);
    _cleanup_free_ char *pid_path = xasprintf("%s.pid", base);
    /* Unix socket paths are limited to 108 bytes; the state dir is too deep. */
    _cleanup_free_ char *sock_path = xasprintf("/tmp/wharf-exec-%d-%d.sock", (int)getpid(), n);
    _cleanup_close_ int listen_fd = -1;
    _cleanup_close_ int master = -1;
    if ((r = save_json(proc_path, process, err)) < 0)
        return r;
    const char *argv[20];
    size_t k = 0;
    argv[k++] = cri->runtime;
    argv[k++] = "--root";
    argv[k++] = cri->runtime_root;
    argv[k++] = "--log";
    argv[k++] = log_path;
    argv[k++] = "--log-format";
    argv[k++] = "json";
    argv[k++] = "exec";
    argv[k++] = "--process";
    argv[k++] = proc_path;
    argv[k++] = "--pid-file";
    argv[k++] = pid_path;
    if (o->tty) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(sock_path) >= sizeof(addr.sun_path)) {
            r = wharf_error_set(err, -ENAMETOOLONG, "console socket %s: path too long", sock_path);
            goto out;
        }
        strcpy(addr.sun_path, sock_path);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 1) < 0) {
            r = wharf_error_errno(err, errno, "console socket %s", sock_path);
            goto out;
        }
        argv[k++] = "--console-socket";
        argv[k++] = sock_path;
    }
    argv[k++] = id;
    argv[k] = NULL;
    int status = 0;
    if (o->tty) {
        pid_t child = cri_spawn(argv, -1, -1, -1, err);
        if (child < 0) {
            r = child;
            goto out;
        }
        master = recv_master(listen_fd, child, err);
        if (master < 0) {
            r = master;
            kill(child, SIGKILL);
            cri_wait(child);
            goto out;
        }
        if (o->on_terminal)
            o->on_terminal(master, o->userdata);
        relay_pty(master, o->in_fd, o->out_fd);
        status = cri_wait(child);
        if (o->on_terminal)
            o->on_terminal(-1, o->userdata);
    } else {
        struct cri_run run = {.argv = argv,
                              .in_fd = o->in_fd,
                              .out_fd = o->out_fd,
                              .err_fd = o->err_fd,
                              .out = out,
                              .errout = errout,
                              .timeout_ms = timeout_ms > 0 ? timeout_ms : 0,
                              .pid_file = pid_path};
        if ((r = cri_run(&run, &status, err)) < 0) {
            wharf_error_prefix(err, "container %s: exec", id);
            goto out;
        }
    }
    /* A nonzero status is the process's own unless the runtime logged an
     * error (then the process never ran). */
    if (status != 0) {
        char *text = NULL;
        wharf_error e = {0};
        char msg[512];
        if (wharf_read_file(log_path, &text, NULL, &e) == 0 &&
            shim_runtime_log_error(text, msg, sizeof(msg)) >= 0) {
            free(text);
            r = wharf_error_set(err, -EIO, "container %s: exec: %s", id, msg);
            goto out;
        }
        free(text);
    }
    *exit_code = status;
out:
    unlink(proc_path);
    unlink(log_path);
    unlink(pid_path);
    unlink(sock_path);
    return r;
}

int cri_container_exec(struct cri *cri, const char *id, const struct cri_exec_opts *opts,
                       int *exit_code, wharf_error *err)
{
    return do_exec(cri, id, opts, 0, NULL, NULL, exit_code, err);
}

int cri_container_exec_sync(struct cri *cri, const char *id, const char *const *argv,
                            int timeout_s, strbuf *out, strbuf *errout, int *exit_code,
                            wharf_error *err)
{
    return cri_container_exec_sync_ms(cri, id, argv, timeout_s > 0 ? timeout_s * 1000 : 0, out,
                                      errout, exit_code, err);
}

int cri_container_exec_sync_ms(struct cri *cri, const char *id, const char *const *argv,
                               int timeout_ms, strbuf *out, strbuf *errout, int *exit_code,
                               wharf_error *err)
{
    strbuf discard_out = STRBUF_INIT, discard_err = STRBUF_INIT;
    struct cri_exec_opts o = {.argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    int r = do_exec(cri, id, &o, timeout_ms, out ? out : &discard_out,
                    errout ? errout : &discard_err, exit_code, err);
    strbuf_release(&discard_out);
    strbuf_release(&discard_err);
    return r;
}

/* ---------------------------------------------------------------- reconcile */

int cri_reconcile(struct cri *cri, struct cri_reconcile_report *report, wharf_error *err)
{
    struct cri_reconcile_report rep = {0};
    size_t n;
    char **ids = list_ids(cri, "containers", &n);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *dir = cdir(cri, ids[i]);
        _cleanup_free_ char *recpath = xasprintf("%s/container.json", dir);
        if (!exists(recpath)) {
            /* create died between mkdir and writing the record */
            wharf_error e = {0};
            task_delete(cri, ids[i], &e);
            if (wharf_rm_rf(dir, &e) == 0)
                rep.removed++;
            continue;
        }
        wharf_error e = {0};
        _cleanup_json_ json_t *rec = load_container(cri, ids[i], &e);
        if (!rec)
            continue;
        _cleanup_free_ char *shim_dir = xasprintf("%s/shim", dir);
        struct task_state ts;
        task_state(rec, shim_dir, &ts);
        if (task_running(&ts) && ts.supervised) {
            rep.running++;
        } else if (task_running(&ts)) {
            /* Its shim is gone: no log, no stdin, no exit code would ever be
             * recorded. Kill it and record the kill, as the shim would. */
            wharf_error ke = {0};
            cri_runtime_cmd(cri, &ke, "kill", "--all", ids[i], "KILL", NULL);
            pid_t pid = ts.pid;
            for (int t = 0; t < 250 && cri_proc_alive(pid, (uint64_t)json_int(rec, "pid_start")); t++)
                sleep_ms(20);
            struct shim_exit ex = {.exit_code = 128 + SIGKILL, .signal = SIGKILL};
            clock_gettime(CLOCK_REALTIME, &ex.exited_at);
            _cleanup_free_ char *exit_path = xasprintf("%s/exit.json", shim_dir);
            if ((r = shim_exit_write(exit_path, ids[i], &ex, err)) < 0)
                goto out;
            rep.orphaned++;
        } else if (ts.state == CRI_STATE_EXITED) {
            rep.exited++;
        }
    }
    free_ids(ids);
    ids = list_ids(cri, "sandboxes", &n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *dir = sdir(cri, ids[i]);
        _cleanup_free_ char *recpath = xasprintf("%s/sandbox.json", dir);
        if (!exists(recpath)) {
            wharf_error e = {0};
            task_delete(cri, ids[i], &e);
            if (wharf_rm_rf(dir, &e) == 0)
                rep.removed++;
        }
    }
    free_ids(ids);
    /* Runtime containers no record owns (a start interrupted after the
     * runtime created it but before the record was written is still owned). */
    ids = list_dir(cri->runtime_root, &n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *c = cdir(cri, ids[i]);
        _cleanup_free_ char *s = sdir(cri, ids[i]);
        if (exists(c) || exists(s))
            continue;
        wharf_error e = {0};
        if (cri_runtime_cmd(cri, &e, "delete", "--force", ids[i], NULL) == 0)
            rep.removed++;
    }
out:
    free_ids(ids);
    if (report)
        *report = rep;
    return r;
}
