/*
 * common.c — what several route files need about a Docker container: its
 * metadata annotation, resolving a reference, removal with its sandbox,
 * root filesystem and events, Docker's state names and times, streamed
 * producers.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

http_response *dockerapi_no_such_container(const char *id)
{
    return http_response_error(404, "No such container: %s", id);
}


/* The Docker metadata stored with a container (new reference or NULL). */
json_t *dockerapi_meta(const struct cri_container_status *st)
{
    const char *text = json_string_value(
        json_object_get(json_object_get(st->config, "annotations"), DOCKERAPI_ANNOTATION));
    json_error_t je;
    return text ? json_loads(text, 0, &je) : NULL;
}


/* Resolves a full id, a unique id prefix or a name (with or without '/'). */
int dockerapi_resolve(struct dockerapi *api, const char *ref, char id[65])
{
    /* A full id (what the CLI sends after create) needs no listing. */
    if (strlen(ref) == 64 && strspn(ref, "0123456789abcdef") == 64) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/containers/%s", cri_root(api->cri), ref);
        if (access(dir, F_OK) == 0) {
            snprintf(id, 65, "%s", ref);
            return 0;
        }
    }
    struct cri_container_status *all = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (cri_container_list(api->cri, NULL, &all, &n, &err) < 0)
        return -EIO;
    const char *name = ref[0] == '/' ? ref + 1 : ref;
    int found = -ENOENT;
    size_t matches = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].id, ref) == 0 || (all[i].name && strcmp(all[i].name, name) == 0)) {
            snprintf(id, 65, "%s", all[i].id);
            found = 0;
            matches = 1;
            break;
        }
        if (strlen(ref) >= 3 && strncmp(all[i].id, ref, strlen(ref)) == 0) {
            snprintf(id, 65, "%s", all[i].id);
            matches++;
            found = 0;
        }
    }
    cri_container_status_array_free(all, n);
    return matches > 1 ? -EEXIST : found;
}


/* The detached threads routes leave running, counted so that the daemon
 * can wait for them before it frees what they use (one daemon per process). */
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_done = PTHREAD_COND_INITIALIZER;
static unsigned threads_running;

struct counted_thread {
    void *(*fn)(void *);
    void *arg;
};

static void *run_counted(void *p)
{
    struct counted_thread c = *(struct counted_thread *)p;
    free(p);
    c.fn(c.arg);
    pthread_mutex_lock(&threads_lock);
    threads_running--;
    pthread_cond_broadcast(&threads_done);
    pthread_mutex_unlock(&threads_lock);
    return NULL;
}

int dockerapi_start_thread(void *(*fn)(void *), void *arg)
{
    struct counted_thread *c = xmalloc(sizeof(*c));
    *c = (struct counted_thread){fn, arg};
    pthread_mutex_lock(&threads_lock);
    threads_running++;
    pthread_mutex_unlock(&threads_lock);
    pthread_t t;
    int r = pthread_create(&t, NULL, run_counted, c);
    if (r != 0) {
        free(c);
        pthread_mutex_lock(&threads_lock);
        threads_running--;
        pthread_mutex_unlock(&threads_lock);
        return -r;
    }
    pthread_detach(t);
    return 0;
}

bool dockerapi_wait_threads(int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&threads_lock);
    while (threads_running > 0 &&
           pthread_cond_timedwait(&threads_done, &threads_lock, &deadline) == 0)
        ;
    bool idle = threads_running == 0;
    pthread_mutex_unlock(&threads_lock);
    return idle;
}

/* Runs fn(job) on a detached thread that feeds stream and frees job; if no
 * thread can be had, the stream ends at once (an empty body). */
bool dockerapi_start_producer(void *(*fn)(void *), void *job, http_stream *stream)
{
    if (dockerapi_start_thread(fn, job) < 0) {
        http_stream_close(stream);
        free(job);
        return false;
    }
    return true;
}


void dockerapi_unmount_rootfs(struct dockerapi *api, const char *id)
{
    _cleanup_free_ char *dir = xasprintf("%s/rootfs/%s", api->root, id);
    _cleanup_free_ char *merged = xasprintf("%s/merged", dir);
    image_store_unmount_rootfs(merged, NULL);
    wharf_rm_rf(dir, NULL);
}

/* The container, its sandbox of one, its root filesystem (and with
 * remove_volumes its anonymous volumes), with dockerd's events: kill and die
 * first for a running one, then destroy. */
int dockerapi_remove(struct dockerapi *api, const char *id, bool force, wharf_error *err)
{
    return dockerapi_remove_container(api, id, force, false, err);
}

int dockerapi_remove_container(struct dockerapi *api, const char *id, bool force,
                               bool remove_volumes, wharf_error *err)
{
    struct cri_container_status st;
    int r = cri_container_status(api->cri, id, &st, err);
    if (r < 0)
        return r;
    struct dockerapi_run_state rs;
    dockerapi_run_state(api, &st, &rs);
    bool busy = dockerapi_is_up(&st) || rs.restarting;
    cri_container_status_release(&st);
    if (busy && !force)
        return wharf_error_set(err, -EBUSY, "container is %s",
                               rs.restarting ? "restarting" : "running");
    /* No restart from here on; one in progress has finished. */
    if (!dockerapi_monitor_forget(api, id))
        return wharf_error_set(err, -EALREADY, "removal of container %s is already in progress",
                               id);
    if ((r = cri_container_status(api->cri, id, &st, err)) < 0) {
        dockerapi_monitor_removed(api, id, false);
        return r;
    }
    if (dockerapi_is_up(&st)) {
        dockerapi_container_event(api, id, &st, "kill", json_pack("{s:s}", "signal", "9"));
        if ((r = cri_container_stop(api->cri, id, 0, err)) < 0) {
            cri_container_status_release(&st);
            dockerapi_monitor_removed(api, id, false);
            return r;
        }
    }
    dockerapi_monitor_settle(api, id);
    if ((r = cri_container_remove(api->cri, id, force, err)) < 0) {
        cri_container_status_release(&st);
        dockerapi_monitor_removed(api, id, false);
        return r;
    }
    _cleanup_free_ char *sandbox_id = xasprintf("sandbox-%s", id);
    cri_sandbox_remove(api->cri, sandbox_id, NULL);
    dockerapi_network_detach(api, id);
    dockerapi_unmount_rootfs(api, id);
    dockerapi_monitor_removed(api, id, true);
    /* dockerd removes the volumes before it reports the destroy */
    _cleanup_json_ json_t *meta = dockerapi_meta(&st);
    dockerapi_mounts_release(api, meta, remove_volumes);
    dockerapi_container_event(api, id, &st, "destroy", NULL);
    cri_container_status_release(&st);
    return 0;
}


const char *dockerapi_state_name(enum cri_state s)
{
    switch (s) {
    case CRI_STATE_CREATED: return "created";
    case CRI_STATE_RUNNING: return "running";
    case CRI_STATE_PAUSED: return "paused";
    default: return "exited";
    }
}


char *dockerapi_time_text(struct timespec t)
{
    if (t.tv_sec == 0)
        return xstrdup("0001-01-01T00:00:00Z");
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", t.tv_nsec);
    return xstrdup(buf);
}

