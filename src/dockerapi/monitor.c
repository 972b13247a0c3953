/*
 * monitor.c — container exits and Docker's restart policies.
 *
 * One thread notices every exit of a Docker container, including a process
 * that ends on its own while nobody waits: it holds a pidfd on each running
 * container's init and sleeps in poll(2), so an idle daemon only wakes for
 * a rescan every RESCAN_MS (which catches what a pidfd cannot: a container
 * started behind our back, a pid reused before we opened it). When an init
 * dies, the shim still drains its output before writing the exit record;
 * the monitor re-reads the status until it says "exited", then emits "die"
 * (after "oom" when the memory cgroup OOM-killed something)
 * and applies HostConfig.RestartPolicy the way dockerd's restart manager
 * does: a back-off of 100 ms doubling per restart up to a minute, reset by a
 * run of 10 s or more; on-failure only after a non-zero exit and while
 * RestartCount < MaximumRetryCount (0: no limit); nothing after the user
 * stopped or killed the container, until the user starts it again. A
 * container with HostConfig.AutoRemove (run --rm) is removed once it has
 * exited, unless a wait?condition=removed request (the attached docker run)
 * is there to remove it after reading its exit code; either waits for the
 * attach and logs requests still reading its log, which goes with it.
 *
 * The user's start, stop and kill go through here (dockerapi_start_container
 * and friends), so a stop can never race a restart: it marks the container
 * before signalling it, and waits out a restart in progress.
 *
 * What must survive a daemon restart lives in ROOT/monitor/ID.json:
 * RestartCount, ManuallyStopped and HandledRun (the last run, by the
 * container's start count, whose exit was reported), so every exit gets one
 * "die" — those that happened while the daemon was down at its next start.
 * At that start, containers with "always" (and "unless-stopped" or
 * "on-failure" ones the user did not stop) that are not running are started
 * again, as dockerd does.
 *
 * Locking: one mutex over the watch list. The monitor thread alone opens and
 * closes pidfds and frees watches; other threads mark them.
 */
#include "internal.h"
#include "network.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#define RESCAN_MS 10000.0
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 60000
#define BACKOFF_RESET_S 10

struct watch {
    char id[65];
    /* persisted in ROOT/monitor/ID.json */
    unsigned restart_count;
    bool manual;      /* stopped or killed by the user since its last start */
    unsigned handled; /* the last run whose exit was reported */
    char *start_error; /* why the last start failed (NULL: it did not) */
    int start_exit;    /* dockerd's ExitCode for that failure */
    /* in memory */
    int pidfd; /* on the init of run `run`; -1 when none */
    unsigned run;
    bool exiting; /* the init died: waiting for the exit record */
    double exiting_since, check_at;
    int backoff_ms;
    double restart_at;        /* monotonic ms of a pending restart; 0: none */
    bool busy;                /* the monitor is starting it right now */
    bool removing;            /* being removed: never restart */
    bool gone;                /* removed: free it */
    bool auto_remove;         /* exited with HostConfig.AutoRemove: remove it */
    unsigned removal_waiters; /* wait?condition=removed requests: they remove it */
    unsigned log_readers;     /* attach and logs requests reading its log */
    bool seen;                /* listed by the last rescan */
    struct watch *next;
};

struct dockerapi_monitor {
    struct dockerapi *api;
    char *dir; /* ROOT/monitor */
    pthread_mutex_t lock;
    pthread_cond_t idle; /* some watch stopped being busy */
    int wake_fd;         /* eventfd: rescan now */
    bool stop, running;
    pthread_t thread;
    struct watch *watches;
};

/* ---------------------------------------------------------------- restart policy */

int dockerapi_restart_policy(json_t *host_config, struct dockerapi_restart_policy *out,
                             wharf_error *err)
{
    *out = (struct dockerapi_restart_policy){DOCKERAPI_RESTART_NO, 0};
    json_t *rp = json_object_get(host_config, "RestartPolicy");
    if (!rp || json_is_null(rp))
        return 0;
    if (!json_is_object(rp))
        return wharf_error_set(err, -EINVAL, "HostConfig.RestartPolicy: expected an object");
    json_t *jname = json_object_get(rp, "Name");
    json_t *jcount = json_object_get(rp, "MaximumRetryCount");
    if ((jname && !json_is_string(jname) && !json_is_null(jname)) ||
        (jcount && !json_is_integer(jcount) && !json_is_null(jcount)))
        return wharf_error_set(err, -EINVAL,
                               "HostConfig.RestartPolicy: Name must be a string "
                               "and MaximumRetryCount an integer");
    const char *name = json_string_value(jname);
    json_int_t count = json_integer_value(jcount);
    /* Clients before Docker 25 send "" for "no", with any count. */
    if (!name || !*name)
        return 0;
    if (strcmp(name, "no") == 0 || strcmp(name, "always") == 0 ||
        strcmp(name, "unless-stopped") == 0) {
        if (count != 0)
            return wharf_error_set(err, -EINVAL,
                                   "invalid restart policy: maximum retry count can only be used "
                                   "with 'on-failure'%s",
                                   count < 0 ? " and cannot be negative" : "");
        out->name = name[0] == 'n'   ? DOCKERAPI_RESTART_NO
                    : name[0] == 'a' ? DOCKERAPI_RESTART_ALWAYS
                                     : DOCKERAPI_RESTART_UNLESS_STOPPED;
    } else if (strcmp(name, "on-failure") == 0) {
        if (count < 0)
            return wharf_error_set(err, -EINVAL,
                                   "invalid restart policy: maximum retry count "
                                   "cannot be negative");
        out->name = DOCKERAPI_RESTART_ON_FAILURE;
        out->max_retries = count;
    } else {
        return wharf_error_set(err, -EINVAL,
                               "invalid restart policy: unknown policy '%s'; use one of 'no', "
                               "'always', 'on-failure', or 'unless-stopped'",
                               name);
    }
    if (out->name != DOCKERAPI_RESTART_NO &&
        json_is_true(json_object_get(host_config, "AutoRemove")))
        return wharf_error_set(err, -EINVAL,
                               "can't create 'AutoRemove' container with restart policy");
    return 0;
}

static void policy_of(const struct cri_container_status *st, struct dockerapi_restart_policy *p)
{
    json_t *meta = dockerapi_meta(st);
    wharf_error err = {0};
    if (dockerapi_restart_policy(json_object_get(meta, "HostConfig"), p, &err) < 0)
        p->name = DOCKERAPI_RESTART_NO; /* checked at create; not ours to judge now */
    if (meta)
        json_decref(meta);
}

static bool is_docker(const struct cri_container_status *st)
{
    return json_object_get(json_object_get(st->config, "annotations"), DOCKERAPI_ANNOTATION);
}

static bool auto_removed(const struct cri_container_status *st)
{
    json_t *meta = dockerapi_meta(st);
    bool on = json_is_true(json_object_get(json_object_get(meta, "HostConfig"), "AutoRemove"));
    if (meta)
        json_decref(meta);
    return on;
}

/* ---------------------------------------------------------------- watches */

static char *state_path(struct dockerapi_monitor *m, const char *id)
{
    return xasprintf("%s/%s.json", m->dir, id);
}

static void save_locked(struct dockerapi_monitor *m, struct watch *w)
{
    _cleanup_free_ char *path = state_path(m, w->id);
    json_t *j = json_pack("{s:i, s:b, s:i}", "RestartCount", (int)w->restart_count,
                          "ManuallyStopped", w->manual, "HandledRun", (int)w->handled);
    if (w->start_error) {
        json_object_set_new(j, "StartError", json_string(w->start_error));
        json_object_set_new(j, "StartExitCode", json_integer(w->start_exit));
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    wharf_error err = {0};
    if (wharf_write_file_atomic(path, text, strlen(text), 0600, &err) < 0)
        wlog_warn("container %s: %s", w->id, err.msg);
    free(text);
}

static struct watch *find_locked(struct dockerapi_monitor *m, const char *id)
{
    for (struct watch *w = m->watches; w; w = w->next)
        if (!w->gone && strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

/* The watch of id, made (with what was saved) when there is none. */
static struct watch *get_locked(struct dockerapi_monitor *m, const char *id)
{
    struct watch *w = find_locked(m, id);
    if (w)
        return w;
    w = xcalloc(1, sizeof(*w));
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->pidfd = -1;
    w->seen = true;
    _cleanup_free_ char *path = state_path(m, id);
    if (access(path, F_OK) == 0) {
        wharf_error err = {0};
        _cleanup_json_ json_t *j = wjson_load_file(path, &err);
        w->restart_count = (unsigned)json_integer_value(json_object_get(j, "RestartCount"));
        w->manual = json_is_true(json_object_get(j, "ManuallyStopped"));
        w->handled = (unsigned)json_integer_value(json_object_get(j, "HandledRun"));
        const char *e = json_string_value(json_object_get(j, "StartError"));
        if (e) {
            w->start_error = xstrdup(e);
            w->start_exit = (int)json_integer_value(json_object_get(j, "StartExitCode"));
        }
    }
    w->next = m->watches;
    m->watches = w;
    return w;
}

/* get_locked, once no restart of it is in progress. */
static struct watch *claim_locked(struct dockerapi_monitor *m, const char *id)
{
    struct watch *w;
    while ((w = get_locked(m, id))->busy)
        pthread_cond_wait(&m->idle, &m->lock);
    return w;
}

void dockerapi_monitor_wake(struct dockerapi *api)
{
    struct dockerapi_monitor *m = api->monitor;
    uint64_t one = 1;
    if (m && write(m->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is full: a wake-up is pending anyway */
    }
}

/* Monitor thread only: a pidfd on the init of the container's current run. */
static void follow_locked(struct watch *w, const struct cri_container_status *st)
{
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->run = st->start_count;
    w->pidfd = st->pid > 0 ? (int)syscall(SYS_pidfd_open, st->pid, 0) : -1;
    if (w->pidfd < 0) {
        /* Gone already (or no pidfd support): check the status until it says. */
        w->exiting = true;
        w->exiting_since = w->check_at = wharf_now_ms();
    }
}

/* ---------------------------------------------------------------- exits */

/* dockerd's ShouldRestart for an exit the container made by itself. */
static void schedule_locked(struct dockerapi_monitor *m, struct watch *w,
                            const struct cri_container_status *st)
{
    struct dockerapi_restart_policy p;
    policy_of(st, &p);
    if (p.name == DOCKERAPI_RESTART_NO)
        return;
    if (st->finished_at.tv_sec - st->started_at.tv_sec >= BACKOFF_RESET_S)
        w->backoff_ms = 0;
    w->backoff_ms = w->backoff_ms == 0                   ? BACKOFF_FIRST_MS
                    : w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                         : w->backoff_ms * 2;
    bool restart = !w->manual;
    if (p.name == DOCKERAPI_RESTART_ON_FAILURE)
        restart = restart && st->exit_code != 0 &&
                  (p.max_retries == 0 || w->restart_count < p.max_retries);
    if (!restart)
        return;
    w->restart_count++;
    w->restart_at = wharf_now_ms() + w->backoff_ms;
    dockerapi_monitor_wake(m->api);
}

/* Reports the exit of the container's last run once ("die") and, unless at
 * the daemon's start or during removal, schedules a restart. */
static void handle_exit_locked(struct dockerapi_monitor *m, struct watch *w,
                               const struct cri_container_status *st, bool at_boot)
{
    w->exiting = false;
    if (st->start_count <= w->handled)
        return;
    w->handled = st->start_count;
    if (m->api->net) /* its published ports go, as dockerd's do */
        network_sandbox_unpublish(m->api->net, st->id);
    long long ran = (long long)(st->finished_at.tv_sec - st->started_at.tv_sec);
    char code[16], duration[24];
    snprintf(code, sizeof(code), "%d", st->exit_code);
    snprintf(duration, sizeof(duration), "%lld", ran > 0 ? ran : 0);
    /* dockerd reports the memory cgroup's OOM kill first, then the exit */
    if (st->oom_killed)
        dockerapi_container_event(m->api, st->id, st, "oom", NULL);
    dockerapi_container_event(m->api, st->id, st, "die",
                              json_pack("{s:s, s:s}", "exitCode", code, "execDuration", duration));
    if (!at_boot && !w->removing)
        schedule_locked(m, w, st);
    save_locked(m, w);
    if (!w->removing && auto_removed(st)) {
        w->auto_remove = true;
        dockerapi_monitor_wake(m->api);
    }
}

/* At the daemon's start: what dockerd's restore starts again. */
static void boot_restart_locked(struct dockerapi_monitor *m, struct watch *w,
                                const struct cri_container_status *st)
{
    struct dockerapi_restart_policy p;
    policy_of(st, &p);
    bool go = p.name == DOCKERAPI_RESTART_ALWAYS ||
              (p.name == DOCKERAPI_RESTART_UNLESS_STOPPED && !w->manual) ||
              (p.name == DOCKERAPI_RESTART_ON_FAILURE && !w->manual && st->exit_code != 0 &&
               (p.max_retries == 0 || w->restart_count < p.max_retries));
    if (!go || st->start_count == 0)
        return;
    /* Like a start by the user: the count and the stop mark start over. */
    w->restart_count = 0;
    w->manual = false;
    w->backoff_ms = 0;
    w->restart_at = wharf_now_ms();
    save_locked(m, w);
}

void dockerapi_monitor_settle(struct dockerapi *api, const char *id)
{
    struct dockerapi_monitor *m = api->monitor;
    struct cri_container_status st;
    wharf_error err = {0};
    if (!m || cri_container_status(api->cri, id, &st, &err) < 0)
        return;
    if (st.state == CRI_STATE_EXITED && is_docker(&st)) {
        pthread_mutex_lock(&m->lock);
        handle_exit_locked(m, get_locked(m, id), &st, false);
        pthread_mutex_unlock(&m->lock);
    }
    cri_container_status_release(&st);
}

/* ---------------------------------------------------------------- the thread */

static void free_watch(struct watch *w)
{
    if (w->pidfd >= 0)
        close(w->pidfd);
    free(w->start_error);
    free(w);
}

static void prune_locked(struct dockerapi_monitor *m, bool after_scan)
{
    for (struct watch **pw = &m->watches; *pw;) {
        struct watch *w = *pw;
        if ((w->gone || (after_scan && !w->seen)) && !w->busy && !w->removing &&
            w->log_readers == 0) {
            *pw = w->next;
            free_watch(w);
        } else {
            pw = &w->next;
        }
    }
}

static void rescan(struct dockerapi_monitor *m, bool boot)
{
    struct cri_container_status *all = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (cri_container_list(m->api->cri, NULL, &all, &n, &err) < 0) {
        wlog_warn("monitor: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&m->lock);
    for (struct watch *w = m->watches; w; w = w->next)
        w->seen = false;
    for (size_t i = 0; i < n; i++) {
        const struct cri_container_status *st = &all[i];
        if (!is_docker(st))
            continue;
        struct watch *w = get_locked(m, st->id);
        w->seen = true;
        if (w->busy)
            continue;
        if (dockerapi_is_up(st)) {
            if (!w->exiting && (w->pidfd < 0 || w->run != st->start_count))
                follow_locked(w, st);
        } else if (st->state == CRI_STATE_EXITED) {
            handle_exit_locked(m, w, st, boot);
            if (boot)
                boot_restart_locked(m, w, st);
            /* e.g. exited while the daemon was down, or its waiter left */
            if (!w->removing && auto_removed(st))
                w->auto_remove = true;
        }
    }
    prune_locked(m, true);
    pthread_mutex_unlock(&m->lock);
    cri_container_status_array_free(all, n);
}

/* Containers whose init died: has the exit record come? */
static void check_exiting(struct dockerapi_monitor *m)
{
    double now = wharf_now_ms();
    char(*ids)[65] = NULL;
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (struct watch *w = m->watches; w; w = w->next) {
        if (w->exiting && !w->gone && w->check_at <= now) {
            ids = xrealloc(ids, (n + 1) * sizeof(*ids));
            memcpy(ids[n++], w->id, 65);
        }
    }
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        struct cri_container_status st;
        wharf_error err = {0};
        int r = cri_container_status(m->api->cri, ids[i], &st, &err);
        pthread_mutex_lock(&m->lock);
        struct watch *w = find_locked(m, ids[i]);
        if (w && r < 0) {
            w->exiting = false;
            w->gone = !w->removing;
        } else if (w && st.state == CRI_STATE_EXITED) {
            handle_exit_locked(m, w, &st, false);
        } else if (w && dockerapi_is_up(&st) && st.start_count != w->run) {
            w->exiting = false;
            follow_locked(w, &st);
        } else if (w) {
            /* The shim is still draining output: soon, unless it hangs. */
            w->check_at = now + (now - w->exiting_since < 2000 ? 20 : 1000);
        }
        pthread_mutex_unlock(&m->lock);
        if (r == 0)
            cri_container_status_release(&st);
    }
    free(ids);
}

/* Starts the containers whose back-off is over. */
static void run_restarts(struct dockerapi_monitor *m)
{
    while (true) {
        double now = wharf_now_ms();
        char id[65];
        pthread_mutex_lock(&m->lock);
        struct watch *w = m->stop ? NULL : m->watches;
        while (w &&
               !(w->restart_at > 0 && w->restart_at <= now && !w->busy && !w->removing && !w->gone))
            w = w->next;
        if (w) {
            w->busy = true;
            w->restart_at = 0;
            memcpy(id, w->id, sizeof(id));
        }
        pthread_mutex_unlock(&m->lock);
        if (!w)
            return;
        struct cri_container_status st;
        wharf_error err = {0};
        int r = cri_container_status(m->api->cri, id, &st, &err);
        bool exited = r == 0 && st.state == CRI_STATE_EXITED;
        if (r == 0)
            cri_container_status_release(&st);
        if (exited && m->api->net)
            r = network_sandbox_publish(m->api->net, id, &err);
        if (exited && r == 0 && (r = cri_container_start(m->api->cri, id, &err)) == 0)
            r = cri_container_status(m->api->cri, id, &st, &err);
        else if (exited && m->api->net)
            network_sandbox_unpublish(m->api->net, id);
        pthread_mutex_lock(&m->lock);
        w->busy = false;
        pthread_cond_broadcast(&m->idle);
        if (exited && r == 0) {
            dockerapi_container_event(m->api, id, &st, "start", NULL);
            follow_locked(w, &st);
        } else if (exited) {
            wlog_warn("restart policy: %s", err.msg);
        }
        pthread_mutex_unlock(&m->lock);
        if (exited && r == 0)
            cri_container_status_release(&st);
    }
}

/* Removes the exited AutoRemove containers nobody else will. */
static void run_removals(struct dockerapi_monitor *m)
{
    while (true) {
        char id[65];
        pthread_mutex_lock(&m->lock);
        struct watch *w = m->stop ? NULL : m->watches;
        while (w && !(w->auto_remove && w->removal_waiters == 0 && w->log_readers == 0 &&
                      !w->busy && !w->removing && !w->gone))
            w = w->next;
        if (w) {
            w->auto_remove = false;
            memcpy(id, w->id, sizeof(id));
        }
        pthread_mutex_unlock(&m->lock);
        if (!w)
            return;
        wharf_error err = {0};
        /* dockerd's auto-removal takes the anonymous volumes too */
        if (dockerapi_remove_container(m->api, id, false, true, &err) < 0 && err.code != -ENOENT &&
            err.code != -EALREADY)
            wlog_warn("auto-remove: %s", err.msg);
    }
}

static void *monitor_thread(void *p)
{
    struct dockerapi_monitor *m = p;
    rescan(m, true);
    double next_scan = wharf_now_ms() + RESCAN_MS;
    struct pollfd *fds = NULL;
    struct watch **owners = NULL;
    size_t cap = 0;
    while (true) {
        pthread_mutex_lock(&m->lock);
        if (m->stop) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        size_t count = 1;
        for (struct watch *w = m->watches; w; w = w->next)
            count++;
        if (count > cap) {
            cap = count * 2;
            fds = xrealloc(fds, cap * sizeof(*fds));
            owners = xrealloc(owners, cap * sizeof(*owners));
        }
        double wake_at = next_scan;
        size_t n = 0;
        fds[n] = (struct pollfd){.fd = m->wake_fd, .events = POLLIN};
        owners[n++] = NULL;
        for (struct watch *w = m->watches; w; w = w->next) {
            if (w->pidfd >= 0) {
                fds[n] = (struct pollfd){.fd = w->pidfd, .events = POLLIN};
                owners[n++] = w;
            }
            if (w->exiting && w->check_at < wake_at)
                wake_at = w->check_at;
            if (w->restart_at > 0 && !w->busy && w->restart_at < wake_at)
                wake_at = w->restart_at;
        }
        pthread_mutex_unlock(&m->lock);
        double now = wharf_now_ms();
        int timeout = wake_at <= now ? 0 : (int)(wake_at - now) + 1;
        bool scan = false;
        if (poll(fds, n, timeout) > 0) {
            if (fds[0].revents) {
                uint64_t v;
                if (read(m->wake_fd, &v, sizeof(v)) < 0) {
                    /* EAGAIN: another reader cannot exist; nothing to do */
                }
                scan = true;
            }
            now = wharf_now_ms();
            pthread_mutex_lock(&m->lock);
            for (size_t i = 1; i < n; i++) {
                struct watch *w = owners[i];
                if (fds[i].revents && w->pidfd == fds[i].fd) {
                    close(w->pidfd);
                    w->pidfd = -1;
                    w->exiting = true;
                    w->exiting_since = w->check_at = now;
                }
            }
            pthread_mutex_unlock(&m->lock);
        }
        if (scan || wharf_now_ms() >= next_scan) {
            rescan(m, false);
            next_scan = wharf_now_ms() + RESCAN_MS;
        }
        check_exiting(m);
        run_restarts(m);
        run_removals(m);
        pthread_mutex_lock(&m->lock);
        prune_locked(m, false);
        pthread_mutex_unlock(&m->lock);
    }
    free(fds);
    free(owners);
    return NULL;
}

int dockerapi_monitor_init(struct dockerapi *api, wharf_error *err)
{
    if (api->monitor)
        return 0;
    _cleanup_free_ char *dir = xasprintf("%s/monitor", api->root);
    int r = wharf_mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return wharf_error_errno(err, errno, "eventfd");
    struct dockerapi_monitor *m = xcalloc(1, sizeof(*m));
    m->api = api;
    m->dir = steal_ptr(dir);
    m->wake_fd = fd;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->idle, NULL);
    api->monitor = m;
    return 0;
}

int dockerapi_start_monitor(struct dockerapi *api, wharf_error *err)
{
    int r;
    if (!api->cri)
        return 0;
    if ((r = dockerapi_monitor_init(api, err)) < 0)
        return r;
    struct dockerapi_monitor *m = api->monitor;
    if (m->running)
        return 0;
    if ((r = pthread_create(&m->thread, NULL, monitor_thread, m)) != 0)
        return wharf_error_errno(err, r, "start the container monitor");
    m->running = true;
    return dockerapi_health_start(api, err);
}

void dockerapi_close(struct dockerapi *api)
{
    /* The server has ended their streams: producers and detached execs stop
     * soon, and may still report events or remove a container meanwhile. */
    if (!dockerapi_wait_threads(10000))
        wlog_warn("dockerapi: threads still running at shutdown");
    dockerapi_health_close(api);
    struct dockerapi_monitor *m = api->monitor;
    if (m) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_mutex_unlock(&m->lock);
        dockerapi_monitor_wake(api);
        if (m->running)
            pthread_join(m->thread, NULL);
        api->monitor = NULL;
        while (m->watches) {
            struct watch *w = m->watches;
            m->watches = w->next;
            free_watch(w);
        }
        close(m->wake_fd);
        pthread_cond_destroy(&m->idle);
        pthread_mutex_destroy(&m->lock);
        free(m->dir);
        free(m);
    }
    dockerapi_events_close(api);
}

/* ---------------------------------------------------------------- the user's actions */

void dockerapi_run_state(struct dockerapi *api, const struct cri_container_status *st,
                         struct dockerapi_run_state *out)
{
    struct dockerapi_monitor *m = api->monitor;
    *out = (struct dockerapi_run_state){0};
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct watch *w = get_locked(m, st->id);
    out->restart_count = w->restart_count;
    out->restarting = !dockerapi_is_up(st) && (w->restart_at > 0 || w->busy);
    if (w->start_error) {
        snprintf(out->error, sizeof(out->error), "%s", w->start_error);
        out->error_exit = w->start_exit;
    }
    pthread_mutex_unlock(&m->lock);
}

/* Marks a stop or kill by the user (no restart until the next start) and
 * cancels a pending restart; true when one was pending. */
static bool user_stops(struct dockerapi_monitor *m, const char *id)
{
    if (!m)
        return false;
    pthread_mutex_lock(&m->lock);
    struct watch *w = claim_locked(m, id);
    bool pending = w->restart_at > 0;
    w->restart_at = 0;
    if (!w->manual) {
        w->manual = true;
        save_locked(m, w);
    }
    pthread_mutex_unlock(&m->lock);
    return pending;
}

static int stop_signal(const struct cri_container_status *st)
{
    const char *s = json_string_value(json_object_get(st->config, "stop_signal"));
    int sig = s ? cri_parse_signal(s) : SIGTERM;
    return sig > 0 ? sig : SIGTERM;
}

static json_t *signal_attr(int sig)
{
    char text[16];
    snprintf(text, sizeof(text), "%d", sig);
    return json_pack("{s:s}", "signal", text);
}

int dockerapi_start_container(struct dockerapi *api, const char *id, wharf_error *err)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return wharf_error_set(err, -ESHUTDOWN, "the daemon is shutting down");
    /* An exit not reported yet comes before this start. */
    dockerapi_monitor_settle(api, id);
    pthread_mutex_lock(&m->lock);
    struct watch *w = claim_locked(m, id);
    struct cri_container_status st;
    int r = cri_container_status(api->cri, id, &st, err);
    if (r < 0) {
        pthread_mutex_unlock(&m->lock);
        return r;
    }
    /* Restarting counts as running for dockerd: not modified. */
    bool up = dockerapi_is_up(&st) || w->restart_at > 0;
    const char *arg0 = json_string_value(json_array_get(json_object_get(st.config, "args"), 0));
    _cleanup_free_ char *cmd = arg0 ? xstrdup(arg0) : NULL;
    cri_container_status_release(&st);
    if (!up) {
        w->manual = false;
        w->restart_count = 0;
        w->backoff_ms = 0;
        free(w->start_error);
        w->start_error = NULL;
        save_locked(m, w);
    }
    pthread_mutex_unlock(&m->lock);
    if (up)
        return 1;
    if ((api->net && (r = network_sandbox_publish(api->net, id, err)) < 0) ||
        (r = cri_container_start(api->cri, id, err)) < 0) {
        if (api->net)
            network_sandbox_unpublish(api->net, id);
        /* inspect shows the failure, as dockerd's State.Error and ExitCode */
        pthread_mutex_lock(&m->lock);
        if ((w = find_locked(m, id))) {
            free(w->start_error);
            w->start_error = xstrdup(err->msg);
            w->start_exit = dockerapi_start_error_exit(err->msg, cmd);
            save_locked(m, w);
        }
        pthread_mutex_unlock(&m->lock);
        return r;
    }
    /* "start" also wakes the monitor, which takes the new run from here. */
    dockerapi_container_event(api, id, NULL, "start", NULL);
    return 0;
}

/* Polls until the container has exited, at most timeout_ms. */
static bool wait_exit(struct dockerapi *api, const char *id, int timeout_ms)
{
    for (double end = wharf_now_ms() + timeout_ms;;) {
        struct cri_container_status st;
        wharf_error e = {0};
        if (cri_container_status(api->cri, id, &st, &e) < 0)
            return true;
        bool exited = st.state == CRI_STATE_EXITED;
        cri_container_status_release(&st);
        if (exited || wharf_now_ms() >= end)
            return exited;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

int dockerapi_stop_container(struct dockerapi *api, const char *id, int sig, int timeout_s,
                             wharf_error *err)
{
    bool was_restarting = user_stops(api->monitor, id);
    struct cri_container_status st;
    int r = cri_container_status(api->cri, id, &st, err);
    if (r < 0)
        return r;
    bool up = dockerapi_is_up(&st);
    int configured = stop_signal(&st);
    if (timeout_s < 0) {
        json_t *t = json_object_get(st.config, "stop_timeout");
        timeout_s = json_is_integer(t) ? (int)json_integer_value(t) : 10;
    }
    if (sig <= 0)
        sig = configured;
    if (up)
        dockerapi_container_event(api, id, &st, "kill", signal_attr(sig));
    cri_container_status_release(&st);
    if (!up)
        return was_restarting ? 0 : 1;
    if (sig != configured && sig != SIGKILL && timeout_s > 0) {
        /* Another signal than the one cri's stop sends: send it and give it
         * the timeout before the SIGKILL. */
        r = cri_container_kill(api->cri, id, sig, err);
        if (r < 0 && r != -ESRCH)
            return r;
        if (r == 0)
            wait_exit(api, id, timeout_s * 1000);
        wharf_error_clear(err);
        timeout_s = 0;
    }
    if ((r = cri_container_stop(api->cri, id, sig == SIGKILL ? 0 : timeout_s, err)) < 0)
        return r;
    dockerapi_monitor_settle(api, id);
    dockerapi_container_event(api, id, NULL, "stop", NULL);
    return 0;
}

int dockerapi_kill_container(struct dockerapi *api, const char *id, int sig, wharf_error *err)
{
    bool was_restarting = user_stops(api->monitor, id);
    struct cri_container_status st;
    int r = cri_container_status(api->cri, id, &st, err);
    if (r < 0)
        return r;
    bool up = dockerapi_is_up(&st);
    if (up)
        dockerapi_container_event(api, id, &st, "kill", signal_attr(sig));
    cri_container_status_release(&st);
    if (!up)
        return was_restarting ? 0 : wharf_error_set(err, -ESRCH, "Container %s is not running", id);
    if ((r = cri_container_kill(api->cri, id, sig, err)) < 0)
        return r;
    if (sig != SIGKILL)
        return 0;
    /* SIGKILL cannot be caught: wait for the exit, so "die" comes now. */
    if (wait_exit(api, id, 3000))
        dockerapi_monitor_settle(api, id);
    return 0;
}

bool dockerapi_monitor_forget(struct dockerapi *api, const char *id)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return true;
    pthread_mutex_lock(&m->lock);
    struct watch *w = claim_locked(m, id);
    bool first = !w->removing;
    if (first) {
        w->restart_at = 0;
        w->auto_remove = false;
        w->removing = true;
    }
    pthread_mutex_unlock(&m->lock);
    return first;
}

void dockerapi_monitor_log_reader(struct dockerapi *api, const char *id, bool reading)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct watch *w = reading ? get_locked(m, id) : find_locked(m, id);
    if (reading)
        w->log_readers++;
    else if (w && w->log_readers > 0)
        w->log_readers--;
    bool last = !reading && w && w->log_readers == 0;
    pthread_mutex_unlock(&m->lock);
    /* A removal may have been waiting for this reader. */
    if (last)
        dockerapi_monitor_wake(api);
}

unsigned dockerapi_monitor_log_readers(struct dockerapi *api, const char *id)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    struct watch *w = find_locked(m, id);
    unsigned n = w ? w->log_readers : 0;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void dockerapi_monitor_wait_removal(struct dockerapi *api, const char *id, bool waiting)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct watch *w = get_locked(m, id);
    if (waiting)
        w->removal_waiters++;
    else if (w->removal_waiters > 0)
        w->removal_waiters--;
    pthread_mutex_unlock(&m->lock);
    /* A waiter that left without removing it leaves that to the monitor. */
    if (!waiting)
        dockerapi_monitor_wake(api);
}

void dockerapi_monitor_removed(struct dockerapi *api, const char *id, bool removed)
{
    struct dockerapi_monitor *m = api->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct watch *w = find_locked(m, id);
    if (w) {
        w->removing = false;
        w->gone = removed;
    }
    if (removed) {
        _cleanup_free_ char *path = state_path(m, id);
        unlink(path);
    }
    pthread_mutex_unlock(&m->lock);
    dockerapi_monitor_wake(api);
}
