/*
 * health.c — Docker's health checks (HEALTHCHECK, --health-*).
 *
 * The check is the image's Config.Healthcheck under the create request's
 * (merged at create the way dockerd merges them: a field the request leaves
 * zero comes from the image; Test ["NONE"] turns it off). Test ["CMD", ...]
 * runs its arguments, ["CMD-SHELL", "cmd"] runs Config.Shell (default
 * /bin/sh -c) with it, inside the container through the container layer's
 * exec, with the check's timeout.
 *
 * State follows dockerd's rules (daemon/health.go): a start makes it
 * "starting" with no failing streak; an exit 0 makes it "healthy" and clears
 * the streak; any other result adds to the streak — except while it is
 * still "starting" within StartPeriod — and the streak reaching Retries
 * makes it "unhealthy"; the container stopping or pausing makes it
 * "unhealthy" too. Each probe keeps {Start, End, ExitCode, Output} (the
 * first 4096 bytes of its output) among the last five, each change of status
 * is a "health_status: STATUS" event, and every probe an exec_create,
 * exec_start and exec_die, as dockerd reports them. The state is written to
 * ROOT/health/ID.json at every change, so inspect and ps show it after a
 * daemon restart, and probing goes on from it.
 *
 * Scheduling: one thread for every container. It sleeps on a condition
 * variable until the next probe is due (with no checks to run it sleeps
 * until told otherwise: an idle daemon does not wake), and learns of
 * starts, exits, pauses and removals from the event bus
 * (dockerapi_health_notify). Probes run on threads of their own, one at a
 * time per container, so a slow check delays no other container's.
 *
 * Locking: one mutex over the entries; nothing else is called while it is
 * held (events published from here come back through notify).
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_NS 30000000000LL
#define DEFAULT_TIMEOUT_NS 30000000000LL
#define DEFAULT_START_INTERVAL_NS 5000000000LL
#define DEFAULT_RETRIES 3
#define MIN_DURATION_NS 1000000LL /* dockerd's MinimumDuration: 1ms */
#define MAX_LOG_ENTRIES 5
#define MAX_OUTPUT 4096

/* A container's check, as configured. */
struct check {
    json_t *argv; /* the command run in the container; NULL: no check */
    int64_t interval, timeout, start_period, start_interval;
    int retries;
};

struct entry {
    char id[65];
    struct check check;
    bool dirty;     /* look at the container again */
    bool restarted; /* it started since: "starting" again */
    bool destroyed; /* it was removed */
    bool active;    /* probing: the check runs while it does */
    bool probing;   /* a probe thread is out */
    unsigned gen;   /* bumped at each (de)activation: late results are dropped */
    struct timespec started_at;
    double due_ms; /* monotonic time of the next probe */
    json_t *state; /* {"Status", "FailingStreak", "Log"}: NULL until it first ran */
    struct entry *next;
};

struct dockerapi_health {
    struct dockerapi *api;
    char *dir; /* ROOT/health */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread: something changed */
    pthread_cond_t idle; /* close: a probe thread ended */
    pthread_t thread;
    bool running, stop;
    unsigned probes; /* probe threads out */
    struct entry *entries;
};

/* ---------------------------------------------------------------- the check */

static int64_t duration_or(json_t *hc, const char *key, int64_t dflt)
{
    int64_t v = json_integer_value(json_object_get(hc, key));
    return v > 0 ? v : dflt;
}

/* The check of a container from its metadata; check->argv NULL when none. */
static void check_of(json_t *meta, struct check *c)
{
    memset(c, 0, sizeof(*c));
    json_t *config = json_object_get(meta, "Config");
    json_t *hc = json_object_get(config, "Healthcheck");
    json_t *test = json_object_get(hc, "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    if (!kind)
        return;
    json_t *argv = json_array();
    if (strcmp(kind, "CMD") == 0) {
        for (size_t i = 1; i < json_array_size(test); i++)
            json_array_append(argv, json_array_get(test, i));
    } else if (strcmp(kind, "CMD-SHELL") == 0 && json_is_string(json_array_get(test, 1))) {
        json_t *shell = json_object_get(config, "Shell");
        if (json_is_array(shell) && json_array_size(shell)) {
            json_array_extend(argv, shell);
        } else {
            json_array_append_new(argv, json_string("/bin/sh"));
            json_array_append_new(argv, json_string("-c"));
        }
        json_array_append(argv, json_array_get(test, 1));
    }
    /* "NONE", an unknown kind (dockerd logs a broken probe) or nothing to run */
    if (json_array_size(argv) == 0) {
        json_decref(argv);
        return;
    }
    c->argv = argv;
    c->interval = duration_or(hc, "Interval", DEFAULT_INTERVAL_NS);
    c->timeout = duration_or(hc, "Timeout", DEFAULT_TIMEOUT_NS);
    c->start_period = duration_or(hc, "StartPeriod", 0);
    c->start_interval = duration_or(hc, "StartInterval", DEFAULT_START_INTERVAL_NS);
    json_int_t retries = json_integer_value(json_object_get(hc, "Retries"));
    c->retries = retries > 0 ? (int)retries : DEFAULT_RETRIES;
}

static void check_release(struct check *c)
{
    if (c->argv)
        json_decref(c->argv);
    memset(c, 0, sizeof(*c));
}

int dockerapi_health_merge_config(json_t *body, json_t *image_cfg, wharf_error *err)
{
    json_t *hc = json_object_get(body, "Healthcheck");
    if (hc && !json_is_null(hc)) {
        if (!json_is_object(hc))
            return wharf_error_set(err, -EINVAL, "Config.Healthcheck: expected an object");
        json_t *test = json_object_get(hc, "Test");
        if (test && !json_is_null(test) && !json_is_array(test))
            return wharf_error_set(err, -EINVAL, "Config.Healthcheck.Test: expected an array");
        size_t i;
        json_t *v;
        json_array_foreach(test, i, v) if (!json_is_string(v)) return wharf_error_set(
            err, -EINVAL, "Config.Healthcheck.Test[%zu]: expected a string", i);
        static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval",
                                           "Retries"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *f = json_object_get(hc, keys[k]);
            if (f && !json_is_null(f) && !json_is_integer(f))
                return wharf_error_set(err, -EINVAL, "Config.Healthcheck.%s: expected an integer",
                                       keys[k]);
        }
        /* dockerd's checks of the request's own values */
        for (size_t k = 0; k < 4; k++) {
            int64_t d = json_integer_value(json_object_get(hc, keys[k]));
            if (d != 0 && d < MIN_DURATION_NS)
                return wharf_error_set(err, -EINVAL, "%s in Healthcheck cannot be less than 1ms",
                                       keys[k]);
        }
        if (json_integer_value(json_object_get(hc, "Retries")) < 0)
            return wharf_error_set(err, -EINVAL, "Retries in Healthcheck cannot be negative");
    }
    json_t *image_hc = json_object_get(image_cfg, "Healthcheck");
    if (!json_is_object(image_hc))
        return 0;
    if (!hc || json_is_null(hc)) {
        json_object_set_new(body, "Healthcheck", json_deep_copy(image_hc));
        return 0;
    }
    /* dockerd's merge: what the request leaves empty comes from the image */
    if (json_array_size(json_object_get(hc, "Test")) == 0 &&
        json_is_array(json_object_get(image_hc, "Test")))
        json_object_set_new(hc, "Test", json_deep_copy(json_object_get(image_hc, "Test")));
    static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval",
                                       "Retries"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *mine = json_object_get(hc, keys[k]), *theirs = json_object_get(image_hc, keys[k]);
        if (json_integer_value(mine) == 0 && json_is_integer(theirs))
            json_object_set(hc, keys[k], theirs);
    }
    return 0;
}

/* ---------------------------------------------------------------- state */

static double now_ms(void)
{
    return wharf_now_ms();
}

static char *state_path(struct dockerapi_health *h, const char *id)
{
    return xasprintf("%s/%s.json", h->dir, id);
}

static void save_locked(struct dockerapi_health *h, struct entry *e)
{
    if (!e->state)
        return;
    _cleanup_free_ char *path = state_path(h, e->id);
    char *text = json_dumps(e->state, JSON_COMPACT);
    wharf_error err = {0};
    if (!text || wharf_write_file_atomic(path, text, strlen(text), 0600, &err) < 0)
        wlog_warn("health of container %s: %s", e->id, err.msg);
    free(text);
}

static json_t *load_state(struct dockerapi_health *h, const char *id)
{
    _cleanup_free_ char *path = state_path(h, id);
    if (access(path, F_OK) != 0)
        return NULL;
    wharf_error err = {0};
    json_t *j = wjson_load_file(path, &err);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "Status"))) {
        if (j)
            json_decref(j);
        return NULL;
    }
    return j;
}

static const char *status_of(json_t *state)
{
    return json_string_value(json_object_get(state, "Status"));
}

static void set_status(json_t *state, const char *status)
{
    json_object_set_new(state, "Status", json_string(status));
}

static struct entry *find_locked(struct dockerapi_health *h, const char *id)
{
    for (struct entry *e = h->entries; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static struct entry *get_locked(struct dockerapi_health *h, const char *id)
{
    struct entry *e = find_locked(h, id);
    if (e)
        return e;
    e = xcalloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->state = load_state(h, id);
    e->next = h->entries;
    h->entries = e;
    return e;
}

static void free_entry(struct entry *e)
{
    check_release(&e->check);
    if (e->state)
        json_decref(e->state);
    free(e);
}

static void remove_locked(struct dockerapi_health *h, struct entry *gone)
{
    for (struct entry **pe = &h->entries; *pe; pe = &(*pe)->next) {
        if (*pe == gone) {
            *pe = gone->next;
            free_entry(gone);
            return;
        }
    }
}

/* dockerd's getInterval: the start interval while still starting within
 * the start period. */
static int64_t interval_locked(const struct entry *e)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t since = (int64_t)(now.tv_sec - e->started_at.tv_sec) * 1000000000 +
                    (now.tv_nsec - e->started_at.tv_nsec);
    if (since < e->check.start_period && e->state &&
        strcmp(status_of(e->state) ? status_of(e->state) : "", "starting") == 0)
        return e->check.start_interval;
    return e->check.interval;
}

static void schedule_locked(struct entry *e)
{
    e->due_ms = now_ms() + (double)interval_locked(e) / 1e6;
}

/* ---------------------------------------------------------------- probes */

struct probe {
    struct dockerapi_health *h;
    char id[65];
    unsigned gen;
    json_t *argv;
    int64_t timeout;
};

static void exec_event(struct dockerapi *api, const char *id, const char *action,
                       const char *exec_id, json_t *argv, json_t *extra)
{
    /* exec_create and exec_start name the command after a colon */
    strbuf name = STRBUF_INIT;
    strbuf_addstr(&name, action);
    if (argv) {
        strbuf_addch(&name, ':');
        size_t i;
        json_t *a;
        json_array_foreach(argv, i, a) strbuf_addf(&name, " %s", json_string_value(a));
    }
    json_t *attrs = json_pack("{s:s}", "execID", exec_id);
    if (extra) {
        json_object_update(attrs, extra);
        json_decref(extra);
    }
    dockerapi_container_event(api, id, NULL, strbuf_str(&name), attrs);
    strbuf_release(&name);
}

static void random_id(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        memset(b, 0x5a, sizeof(b));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* dockerd's handleProbeResult; returns the new status when it changed. */
static const char *record_locked(struct entry *e, json_t *result, const struct timespec *start)
{
    json_t *state = e->state;
    const char *old = status_of(state);
    _cleanup_free_ char *before = xstrdup(old ? old : "");
    json_t *log = json_object_get(state, "Log");
    if (!json_is_array(log)) {
        log = json_array();
        json_object_set_new(state, "Log", log);
    }
    while (json_array_size(log) >= MAX_LOG_ENTRIES)
        json_array_remove(log, 0);
    json_array_append(log, result);
    json_int_t streak = json_integer_value(json_object_get(state, "FailingStreak"));
    if (json_integer_value(json_object_get(result, "ExitCode")) == 0) {
        streak = 0;
        set_status(state, "healthy");
    } else {
        bool count = true;
        if (strcmp(before, "starting") == 0) {
            int64_t since = (int64_t)(start->tv_sec - e->started_at.tv_sec) * 1000000000 +
                            (start->tv_nsec - e->started_at.tv_nsec);
            count = since >= e->check.start_period;
        }
        if (count && ++streak >= e->check.retries)
            set_status(state, "unhealthy");
    }
    json_object_set_new(state, "FailingStreak", json_integer(streak));
    const char *now = status_of(state);
    return strcmp(before, now) != 0 ? now : NULL;
}

static void *probe_thread(void *p)
{
    struct probe *pr = p;
    struct dockerapi_health *h = pr->h;
    struct dockerapi *api = h->api;
    char exec_id[65];
    random_id(exec_id);
    size_t n = json_array_size(pr->argv);
    const char **argv = xcalloc(n + 1, sizeof(*argv));
    for (size_t i = 0; i < n; i++)
        argv[i] = json_string_value(json_array_get(pr->argv, i));
    exec_event(api, pr->id, "exec_create", exec_id, pr->argv, NULL);
    exec_event(api, pr->id, "exec_start", exec_id, pr->argv, NULL);
    struct timespec start, end;
    clock_gettime(CLOCK_REALTIME, &start);
    strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
    int code = 0;
    wharf_error err = {0};
    int64_t timeout_ms = pr->timeout / 1000000;
    int r = cri_container_exec_sync_ms(api->cri, pr->id, argv, timeout_ms < 1 ? 1 : (int)timeout_ms,
                                       &out, &errout, &code, &err);
    clock_gettime(CLOCK_REALTIME, &end);
    free(argv);
    /* one output, as dockerd gives both streams the same buffer */
    strbuf_add(&out, errout.buf, errout.len);
    strbuf_release(&errout);
    strbuf text = STRBUF_INIT;
    if (r == -ETIMEDOUT) {
        code = -1;
        strbuf_addstr(&text, "Health check exceeded timeout (");
        wharf_format_go_duration(pr->timeout, &text);
        strbuf_addch(&text, ')');
        if (out.len)
            strbuf_addstr(&text, ": ");
    } else if (r < 0) {
        code = -1;
        out.len = 0;
        strbuf_addstr(&text, err.msg);
    }
    strbuf_add(&text, out.buf, out.len > MAX_OUTPUT ? MAX_OUTPUT : out.len);
    strbuf_release(&out);
    _cleanup_free_ char *s = dockerapi_time_text(start), *e_ = dockerapi_time_text(end);
    /* output may be any bytes (or cut inside a character): JSON wants UTF-8 */
    json_t *output = json_stringn(strbuf_str(&text), text.len);
    if (!output) {
        for (size_t i = 0; i < text.len; i++)
            if ((unsigned char)text.buf[i] >= 0x80)
                text.buf[i] = '?';
        output = json_stringn(strbuf_str(&text), text.len);
    }
    strbuf_release(&text);
    json_t *result = json_pack("{s:s, s:s, s:i, s:o}", "Start", s, "End", e_, "ExitCode", code,
                               "Output", output);

    pthread_mutex_lock(&h->lock);
    bool live = !h->stop;
    const char *changed = NULL;
    struct entry *e = live ? find_locked(h, pr->id) : NULL;
    if (e) {
        e->probing = false;
        if (e->gen == pr->gen && e->active && e->state) {
            changed = record_locked(e, result, &start);
            save_locked(h, e);
            schedule_locked(e);
        } else if (e->destroyed) {
            remove_locked(h, e); /* removed while this probe ran */
        }
    }
    _cleanup_free_ char *action = changed ? xasprintf("health_status: %s", changed) : NULL;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    json_decref(result);
    if (live) {
        char c[16];
        snprintf(c, sizeof(c), "%d", code);
        exec_event(api, pr->id, "exec_die", exec_id, NULL, json_pack("{s:s}", "exitCode", c));
        if (action)
            dockerapi_container_event(api, pr->id, NULL, action, NULL);
    }
    json_decref(pr->argv);
    free(pr);
    pthread_mutex_lock(&h->lock);
    h->probes--;
    pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void launch_locked(struct dockerapi_health *h, struct entry *e)
{
    struct probe *pr = xcalloc(1, sizeof(*pr));
    pr->h = h;
    memcpy(pr->id, e->id, sizeof(pr->id));
    pr->gen = e->gen;
    pr->argv = json_incref(e->check.argv);
    pr->timeout = e->check.timeout;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, probe_thread, pr) != 0) {
        json_decref(pr->argv);
        free(pr);
        schedule_locked(e); /* try again next time */
    } else {
        e->probing = true;
        h->probes++;
    }
    pthread_attr_destroy(&attr);
}

/* ---------------------------------------------------------------- the thread */

/* Looks at a container again (outside the lock: it reads its status) and
 * settles what its entry does. */
static void refresh(struct dockerapi_health *h, const char *id)
{
    struct cri_container_status st;
    wharf_error err = {0};
    bool exists = cri_container_status(h->api->cri, id, &st, &err) == 0;
    struct check check = {0};
    if (exists) {
        json_t *meta = dockerapi_meta(&st);
        check_of(meta, &check);
        if (meta)
            json_decref(meta);
    }
    bool up = exists && st.state == CRI_STATE_RUNNING;
    pthread_mutex_lock(&h->lock);
    struct entry *e = find_locked(h, id);
    if (!e || e->destroyed || !exists) {
        if (e && !e->probing)
            remove_locked(h, e);
        else if (e)
            e->active = false; /* its probe thread finds it inactive */
        _cleanup_free_ char *path = state_path(h, id);
        if (!exists || (e && e->destroyed))
            unlink(path);
        pthread_mutex_unlock(&h->lock);
        check_release(&check);
        if (exists)
            cri_container_status_release(&st);
        return;
    }
    check_release(&e->check);
    e->check = check;
    bool restarted = e->restarted;
    e->restarted = false;
    if (!e->check.argv || !up) {
        if (e->active && e->state) {
            /* dockerd: unhealthy once the monitor stops */
            set_status(e->state, "unhealthy");
            save_locked(h, e);
        }
        e->active = false;
        e->gen++;
    } else if (restarted || !e->active || !e->state) {
        if (!e->state)
            e->state =
                json_pack("{s:s, s:i, s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
        if (restarted) {
            set_status(e->state, "starting");
            json_object_set_new(e->state, "FailingStreak", json_integer(0));
        }
        save_locked(h, e);
        e->started_at = st.started_at;
        e->active = true;
        e->gen++;
        schedule_locked(e);
    }
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    cri_container_status_release(&st);
}

static void *health_thread(void *p)
{
    struct dockerapi_health *h = p;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct entry *dirty = NULL;
        for (struct entry *e = h->entries; e && !dirty; e = e->next)
            if (e->dirty)
                dirty = e;
        if (dirty) {
            char id[65];
            memcpy(id, dirty->id, sizeof(id));
            dirty->dirty = false;
            pthread_mutex_unlock(&h->lock);
            refresh(h, id);
            pthread_mutex_lock(&h->lock);
            continue;
        }
        double now = now_ms(), next = 0;
        for (struct entry *e = h->entries; e; e = e->next) {
            if (!e->active || e->probing || !e->check.argv)
                continue;
            if (e->due_ms <= now)
                launch_locked(h, e);
            else if (next == 0 || e->due_ms < next)
                next = e->due_ms;
        }
        if (next == 0) {
            pthread_cond_wait(&h->wake, &h->lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double wait = next - now;
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)((wait - (double)(long)(wait / 1000) * 1000) * 1e6) + 1000000;
            while (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

void dockerapi_health_notify(struct dockerapi *api, const char *id, const char *action)
{
    struct dockerapi_health *h = api->health;
    if (!h)
        return;
    bool start = strcmp(action, "start") == 0, destroy = strcmp(action, "destroy") == 0;
    if (!start && !destroy && strcmp(action, "die") != 0 && strcmp(action, "pause") != 0 &&
        strcmp(action, "unpause") != 0)
        return;
    pthread_mutex_lock(&h->lock);
    struct entry *e = get_locked(h, id);
    e->dirty = true;
    e->restarted |= start;
    e->destroyed |= destroy;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
}

int dockerapi_health_start(struct dockerapi *api, wharf_error *err)
{
    if (api->health || !api->cri)
        return 0;
    _cleanup_free_ char *dir = xasprintf("%s/health", api->root);
    int r = wharf_mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    struct dockerapi_health *h = xcalloc(1, sizeof(*h));
    h->api = api;
    h->dir = steal_ptr(dir);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&h->idle, NULL);
    /* What ran before the daemon's start is looked at once; the state files
     * of containers that are gone are removed. */
    struct cri_container_status *all = NULL;
    size_t n = 0;
    if (cri_container_list(api->cri, NULL, &all, &n, err) < 0) {
        wlog_warn("health checks: %s", err->msg);
        wharf_error_clear(err);
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = get_locked(h, all[i].id);
        e->dirty = true;
    }
    cri_container_status_array_free(all, n);
    DIR *d = opendir(h->dir);
    char **names = NULL;
    size_t count = d ? wharf_dir_names_sorted(d, &names) : 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len == 64 + 5 && strcmp(names[i] + 64, ".json") == 0) {
            char id[65];
            snprintf(id, sizeof(id), "%.64s", names[i]);
            if (!find_locked(h, id)) {
                _cleanup_free_ char *path = state_path(h, id);
                unlink(path);
            }
        }
        free(names[i]);
    }
    free(names);
    if ((r = pthread_create(&h->thread, NULL, health_thread, h)) != 0) {
        while (h->entries) {
            struct entry *e = h->entries;
            h->entries = e->next;
            free_entry(e);
        }
        free(h->dir);
        free(h);
        return wharf_error_errno(err, r, "start the health checks");
    }
    h->running = true;
    api->health = h;
    return 0;
}

void dockerapi_health_close(struct dockerapi *api)
{
    struct dockerapi_health *h = api->health;
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->running)
        pthread_join(h->thread, NULL);
    api->health = NULL;
    /* Probes out now drop their result; one stuck in the container past
     * this keeps the state alive (leaked) rather than freed under it. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&h->lock);
    while (h->probes > 0 && pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == 0)
        ;
    bool idle = h->probes == 0;
    pthread_mutex_unlock(&h->lock);
    if (!idle) {
        wlog_warn("health checks: a probe still runs at shutdown");
        return;
    }
    while (h->entries) {
        struct entry *e = h->entries;
        h->entries = e->next;
        free_entry(e);
    }
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    free(h->dir);
    free(h);
}

/* ---------------------------------------------------------------- what inspect and ps show */

/* The state of a container with a check: a new reference, or NULL. */
static json_t *state_copy(struct dockerapi *api, const struct cri_container_status *st)
{
    struct dockerapi_health *h = api->health;
    if (!h)
        return NULL;
    json_t *meta = dockerapi_meta(st);
    struct check check;
    check_of(meta, &check);
    if (meta)
        json_decref(meta);
    bool configured = check.argv != NULL;
    check_release(&check);
    if (!configured)
        return NULL;
    pthread_mutex_lock(&h->lock);
    struct entry *e = find_locked(h, st->id);
    json_t *copy = e && e->state ? json_deep_copy(e->state) : NULL;
    pthread_mutex_unlock(&h->lock);
    if (!copy)
        copy = load_state(h, st->id);
    /* as dockerd: "starting" from the start on, before the scheduler has
     * taken the container up (a client may look right after its start) */
    if (!copy && dockerapi_is_up(st))
        copy = json_pack("{s:s, s:i, s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
    return copy;
}

void dockerapi_health_describe(struct dockerapi *api, const struct cri_container_status *st,
                               json_t *inspect)
{
    json_t *state = state_copy(api, st);
    json_t *s = json_object_get(inspect, "State");
    if (state && json_is_object(s))
        json_object_set_new(s, "Health", state);
    else if (state)
        json_decref(state);
}

const char *dockerapi_health_status(struct dockerapi *api, const struct cri_container_status *st)
{
    json_t *state = state_copy(api, st);
    const char *s = status_of(state);
    const char *out = !s                            ? NULL
                      : strcmp(s, "healthy") == 0   ? "healthy"
                      : strcmp(s, "unhealthy") == 0 ? "unhealthy"
                      : strcmp(s, "starting") == 0  ? "starting"
                                                    : NULL;
    if (state)
        json_decref(state);
    return out;
}
