/*
 * ops.c — operations on an existing container: kill, delete, pause, resume,
 * update and the pid list. Each takes the container directory's lock.
 */
#include "internal.h"
#include "cgroup.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int runtime_parse_signal(const char *s)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == '\0')
        return (n > 0 && n <= SIGRTMAX) ? (int)n : -EINVAL;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (strcasecmp(signals[i].name, s) == 0)
            return signals[i].sig;
    if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
        long off = s[5] ? strtol(s + 5, &end, 10) : 0;
        if (*end == '\0' || !s[5]) {
            int sig = strncasecmp(s, "RTMIN", 5) == 0 ? SIGRTMIN + (int)off : SIGRTMAX + (int)off;
            if (sig >= SIGRTMIN && sig <= SIGRTMAX)
                return sig;
        }
    }
    return -EINVAL;
}

/* Loads and locks; the lock fd goes to *lock. */
static int load_locked(const struct runtime_ctx *ctx, const char *id, struct container **c,
                       int *lock, wharf_error *err)
{
    int r = container_load(ctx, id, c, err);
    if (r < 0)
        return r;
    *lock = container_lock((*c)->dir, err);
    if (*lock < 0) {
        container_free(*c);
        *c = NULL;
        return *lock;
    }
    return 0;
}

static int open_cgroup(struct container *c, struct cgroup **cg, wharf_error *err)
{
    if (!c->cgroup)
        return wharf_error_set(err, -ENOENT, "container %s has no cgroup", c->id);
    int r = cgroup_open(c->cgroup, cg, err);
    if (r < 0)
        return wharf_error_prefix(err, "container %s", c->id);
    return 0;
}

int runtime_kill(const struct runtime_ctx *ctx, const char *id, int sig, bool all,
                 wharf_error *err)
{
    struct container *c = NULL;
    int lock = -1;
    int r = load_locked(ctx, id, &c, &lock, err);
    if (r < 0)
        return r;
    enum container_status st = container_status(c);
    if (st == STATUS_STOPPED && !all) {
        r = wharf_error_set(err, -ESRCH, "container %s is not running", id);
    } else if (all) {
        struct cgroup *cg = NULL;
        if ((r = open_cgroup(c, &cg, err)) == 0) {
            r = cgroup_kill_all(cg, sig, err);
            cgroup_free(cg);
        }
    } else if (kill(c->pid, sig) < 0) {
        r = wharf_error_errno(err, errno, "container %s: kill pid %d", id, (int)c->pid);
    }
    close(lock);
    container_free(c);
    return r;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until the init is gone (or a zombie: its reaper is someone else). */
static bool wait_gone(struct container *c, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (proc_start_time(c->pid) != c->start_time)
            return true;
        sleep_ms(10);
    }
    return proc_start_time(c->pid) != c->start_time;
}

int runtime_delete(const struct runtime_ctx *ctx, const char *id, bool force, wharf_error *err)
{
    struct container *c = NULL;
    int lock = -1;
    int r = load_locked(ctx, id, &c, &lock, err);
    if (r < 0) {
        /* Not even a state file: a directory left by a crash is still removed with --force. */
        if (r == -ENOENT && force && container_id_valid(id)) {
            _cleanup_free_ char *dir = container_dir(ctx, id);
            if (access(dir, F_OK) == 0) {
                wharf_error_clear(err);
                return wharf_rm_rf(dir, err);
            }
        }
        return r;
    }
    enum container_status st = container_status(c);
    struct cgroup *cg = NULL;
    if (c->cgroup && cgroup_open(c->cgroup, &cg, NULL) < 0)
        cg = NULL;
    if (st == STATUS_RUNNING || st == STATUS_PAUSED) {
        if (!force) {
            r = wharf_error_set(err, -EBUSY, "cannot delete container %s that is not stopped: %s",
                                id, container_status_name(st));
            goto out;
        }
    }
    if (st != STATUS_STOPPED) {
        wharf_error e = {0};
        if (cg)
            cgroup_kill_all(cg, SIGKILL, &e);
        kill(c->pid, SIGKILL);
        if (!wait_gone(c, 10000)) {
            r = wharf_error_set(err, -EBUSY, "container %s: pid %d did not die", id, (int)c->pid);
            goto out;
        }
    } else if (cg) {
        /* Processes the init left behind (it was pid 1 only if there was a pid namespace). */
        wharf_error e = {0};
        cgroup_kill_all(cg, SIGKILL, &e);
    }
    if (cg && (r = cgroup_destroy(cg, err)) < 0)
        goto out;
    json_t *state = container_state_json(c, STATUS_STOPPED);
    hooks_run_warn(c->config, "poststop", state, id);
    json_decref(state);
    r = wharf_rm_rf(c->dir, err);
out:
    if (cg)
        cgroup_free(cg);
    close(lock);
    container_free(c);
    return r;
}

static int set_frozen(const struct runtime_ctx *ctx, const char *id, bool frozen, wharf_error *err)
{
    struct container *c = NULL;
    int lock = -1;
    int r = load_locked(ctx, id, &c, &lock, err);
    if (r < 0)
        return r;
    enum container_status st = container_status(c);
    enum container_status want = frozen ? STATUS_RUNNING : STATUS_PAUSED;
    if (st != want) {
        r = wharf_error_set(err, -EINVAL, "container %s is %s, not %s", id,
                            container_status_name(st), container_status_name(want));
    } else {
        struct cgroup *cg = NULL;
        if ((r = open_cgroup(c, &cg, err)) == 0) {
            r = cgroup_freeze(cg, frozen, err);
            cgroup_free(cg);
        }
    }
    close(lock);
    container_free(c);
    return r;
}

int runtime_pause(const struct runtime_ctx *ctx, const char *id, wharf_error *err)
{
    return set_frozen(ctx, id, true, err);
}

int runtime_resume(const struct runtime_ctx *ctx, const char *id, wharf_error *err)
{
    return set_frozen(ctx, id, false, err);
}

/* Merges update into base, object members recursively. */
static void merge_into(json_t *base, json_t *update)
{
    const char *k;
    json_t *v;
    json_object_foreach(update, k, v)
    {
        json_t *old = json_object_get(base, k);
        if (json_is_object(old) && json_is_object(v))
            merge_into(old, v);
        else
            json_object_set(base, k, v);
    }
}

int runtime_update(const struct runtime_ctx *ctx, const char *id, json_t *resources,
                   wharf_error *err)
{
    struct container *c = NULL;
    int lock = -1;
    int r = load_locked(ctx, id, &c, &lock, err);
    if (r < 0)
        return r;
    enum container_status st = container_status(c);
    struct cgroup *cg = NULL;
    if (st == STATUS_STOPPED) {
        r = wharf_error_set(err, -EINVAL, "container %s is not running", id);
    } else if ((r = open_cgroup(c, &cg, err)) == 0 &&
               (r = cgroup_apply_resources(cg, resources, err)) == 0) {
        json_t *linux_obj = json_object_get(c->config, "linux");
        if (!json_is_object(linux_obj)) {
            linux_obj = json_object();
            json_object_set_new(c->config, "linux", linux_obj);
        }
        json_t *res = json_object_get(linux_obj, "resources");
        if (!json_is_object(res)) {
            res = json_object();
            json_object_set_new(linux_obj, "resources", res);
        }
        merge_into(res, resources);
        r = container_save(c, err);
    }
    if (cg)
        cgroup_free(cg);
    close(lock);
    container_free(c);
    return r;
}

int runtime_pids(const struct runtime_ctx *ctx, const char *id, pid_t **pids, size_t *count,
                 wharf_error *err)
{
    struct container *c = NULL;
    int r = container_load(ctx, id, &c, err);
    if (r < 0)
        return r;
    struct cgroup *cg = NULL;
    if ((r = open_cgroup(c, &cg, err)) == 0) {
        r = cgroup_pids(cg, pids, count, err);
        cgroup_free(cg);
    }
    container_free(c);
    return r;
}

json_t *runtime_stats(const struct runtime_ctx *ctx, const char *id, uint64_t *oom_count,
                      wharf_error *err)
{
    struct container *c = NULL;
    if (container_load(ctx, id, &c, err) < 0)
        return NULL;
    json_t *ev = NULL;
    struct cgroup *cg = NULL;
    if (container_status(c) == STATUS_STOPPED) {
        wharf_error_set(err, -ESRCH, "container %s is not running", id);
    } else if (open_cgroup(c, &cg, err) == 0) {
        json_t *data = cgroup_stats(cg, err);
        if (data)
            ev = json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
        if (ev && oom_count) {
            _cleanup_free_ char *dir = NULL;
            *oom_count = 0;
            if (cgroup_memory_dir_of_pid(c->pid, &dir, NULL) == 0)
                cgroup_oom_kills_in_dir(dir, oom_count, NULL);
        }
        cgroup_free(cg);
    }
    container_free(c);
    return ev;
}
