/*
 * Watches: GET ...?watch=1 streams {"type": ..., "object": ...} lines —
 * ADDED, MODIFIED, DELETED, BOOKMARK and ERROR — from a store watch on the
 * collection's key prefix, one producer thread per watch.
 *
 * From a resourceVersion N the stream carries the changes after N. Without
 * one (or with "0", or sendInitialEvents=true) it starts with the current
 * objects as ADDED events (and, with sendInitialEvents and bookmarks, a
 * BOOKMARK annotated k8s.io/initial-events-end). Label and field selectors
 * apply to both sides of a change: an object that stops matching is
 * DELETED for this watcher, one that starts matching is ADDED. A version
 * the store compacted away is answered with an ERROR event carrying a 410
 * Expired Status, as kube-apiserver does. timeoutSeconds ends the stream
 * cleanly; without it a watch lasts 30 to 60 minutes. With
 * allowWatchBookmarks a BOOKMARK with the last revision sent goes out after
 * every quiet minute. Table output works here too (kubectl get -w).
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define BOOKMARK_EVERY_S 60
#define WAIT_STEP_MS 1000

struct api_watch_state {
    struct apiserver *as;
    const struct api_resource *res;
    struct kvstore_watch *w;
    http_stream *stream;
    struct label_selector ls;
    struct field_selector fs;
    bool has_ls, has_fs;
    char *name; /* a watch of one object (GET .../NAME?watch=1) */
    bool table;
    bool table_headers_sent;
    char *include_object;
    bool bookmarks;
    bool send_initial;
    bool initial_end_bookmark;
    json_t *initial;
    int64_t initial_rev;
    int64_t last_rev;
    double deadline_ms;
    int expired_code; /* an immediate ERROR to send (-ERANGE) */
    int64_t expired_from;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static bool matches(struct api_watch_state *s, json_t *obj)
{
    if (!obj)
        return false;
    if (s->name && strcmp(object_str(obj, "metadata.name") ?: "", s->name) != 0)
        return false;
    if (s->has_ls && !label_selector_matches(&s->ls, object_get(obj, "metadata.labels")))
        return false;
    if (s->has_fs && !field_selector_matches(&s->fs, obj))
        return false;
    return true;
}

static int send_event(struct api_watch_state *s, const char *type, json_t *obj)
{
    json_t *payload = obj;
    if (s->table && strcmp(type, "ERROR") != 0 && strcmp(type, "BOOKMARK") != 0) {
        json_t *rows = json_array();
        json_array_append_new(rows, table_row(s->res, obj, s->include_object));
        payload = json_pack("{s:s, s:s, s:{s:O*}, s:o, s:o}", "kind", "Table", "apiVersion",
                            "meta.k8s.io/v1", "metadata", "resourceVersion",
                            object_get(obj, "metadata.resourceVersion"), "columnDefinitions",
                            table_columns(s->res, !s->table_headers_sent), "rows", rows);
        s->table_headers_sent = true;
    } else {
        json_incref(payload);
    }
    json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", payload);
    char *txt = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!txt)
        return -ENOMEM;
    size_t len = strlen(txt);
    txt[len] = '\n';
    int rc = http_stream_write(s->stream, txt, len + 1);
    free(txt);
    return rc;
}

static int send_bookmark(struct api_watch_state *s, int64_t rev, bool initial_end)
{
    json_t *obj = json_pack("{s:s, s:s, s:{}}", "kind", s->res->kind, "apiVersion",
                            registry_api_version(s->res), "metadata");
    object_set_rv(obj, rev);
    if (initial_end)
        object_set(obj, "metadata.annotations",
                   json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
    int rc = send_event(s, "BOOKMARK", obj);
    json_decref(obj);
    return rc;
}

static int send_expired(struct api_watch_state *s, int64_t from)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "too old resource version: %" PRId64, from);
    json_t *st = status_object(410, "Expired", msg, NULL);
    int rc = send_event(s, "ERROR", st);
    json_decref(st);
    return rc;
}

/* The object a DELETE event reports: the last state at the deletion's revision. */
static json_t *deleted_object(struct api_watch_state *s, const struct kvstore_event *ev)
{
    wharf_error err = {0};
    json_t *obj = NULL;
    if (ev->has_prev)
        obj = object_decode(s->as, s->res, &ev->prev, &err);
    if (!obj) {
        /* history compacted: name (and namespace) from the key */
        const char *key = ev->kv.key;
        const char *last = strrchr(key, '/');
        obj = json_object();
        object_set_type(s->res, obj);
        json_t *meta = object_meta(obj);
        json_object_set_new(meta, "name", json_string(last ? last + 1 : key));
        if (s->res->namespaced && last) {
            const char *p = last;
            while (p > key && p[-1] != '/')
                p--;
            json_object_set_new(meta, "namespace", json_stringn(p, (size_t)(last - p)));
        }
    }
    object_set_rv(obj, ev->revision);
    return obj;
}

static int deliver(struct api_watch_state *s, const struct kvstore_event *ev)
{
    wharf_error err = {0};
    int rc = 0;
    if (ev->type == KVSTORE_EVENT_DELETE) {
        json_t *obj = deleted_object(s, ev);
        /* without the last state (compacted) selectors cannot be checked:
         * the deletion goes to every watcher of the name */
        bool name_ok = !s->name || strcmp(object_str(obj, "metadata.name") ?: "", s->name) == 0;
        if (ev->has_prev ? matches(s, obj) : name_ok)
            rc = send_event(s, "DELETED", obj);
        json_decref(obj);
        return rc;
    }
    bool created = ev->kv.create_revision == ev->kv.mod_revision;
    if (!s->has_ls && !s->has_fs && !s->table && !s->name && !s->res->from_storage) {
        /* everything matches: the event is written from the stored text */
        _cleanup_strbuf_ strbuf line = STRBUF_INIT;
        strbuf_addf(&line, "{\"type\":\"%s\",\"object\":", created ? "ADDED" : "MODIFIED");
        if (object_text_with_rv(&line, &ev->kv, true)) {
            strbuf_addstr(&line, "}\n");
            return http_stream_write(s->stream, line.buf, line.len);
        }
    }
    json_t *obj = object_decode(s->as, s->res, &ev->kv, &err);
    if (!obj)
        return 0;
    json_t *prev = ev->has_prev ? object_decode(s->as, s->res, &ev->prev, &err) : NULL;
    bool now_in = matches(s, obj);
    bool was_in = prev ? matches(s, prev) : false;
    if (now_in && (created || (prev && !was_in)))
        rc = send_event(s, "ADDED", obj);
    else if (now_in)
        rc = send_event(s, "MODIFIED", obj);
    else if (was_in)
        rc = send_event(s, "DELETED", obj);
    json_decref(obj);
    if (prev)
        json_decref(prev);
    return rc;
}

static void unregister(struct api_watch_state *s)
{
    struct apiserver *as = s->as;
    pthread_mutex_lock(&as->lock);
    for (size_t i = 0; i < as->n_watches; i++) {
        if (as->watches[i] == s) {
            as->watches[i] = as->watches[--as->n_watches];
            break;
        }
    }
    pthread_mutex_unlock(&as->lock);
}

static void state_free(struct api_watch_state *s)
{
    if (s->w)
        kvstore_watch_close(s->w);
    if (s->has_ls)
        label_selector_release(&s->ls);
    if (s->has_fs)
        field_selector_release(&s->fs);
    if (s->initial)
        json_decref(s->initial);
    free(s->include_object);
    free(s->name);
    free(s);
}

static void *producer(void *arg)
{
    struct api_watch_state *s = arg;
    struct apiserver *as = s->as;
    int rc = 0;
    if (s->expired_code) {
        send_expired(s, s->expired_from);
        goto out;
    }
    if (s->send_initial) {
        size_t i;
        json_t *obj;
        json_array_foreach(s->initial, i, obj)
        {
            if (matches(s, obj) && (rc = send_event(s, "ADDED", obj)) < 0)
                goto out;
        }
        if (s->initial_end_bookmark && (rc = send_bookmark(s, s->initial_rev, true)) < 0)
            goto out;
    }
    json_decref(s->initial);
    s->initial = NULL;
    double last_sent = now_ms();
    for (;;) {
        pthread_mutex_lock(&as->lock);
        bool stopping = as->stopping;
        pthread_mutex_unlock(&as->lock);
        if (stopping)
            break;
        double left = s->deadline_ms - now_ms();
        if (left <= 0)
            break;
        int wait = left < WAIT_STEP_MS ? (int)left + 1 : WAIT_STEP_MS;
        const struct kvstore_event *ev = NULL;
        wharf_error err = {0};
        rc = kvstore_watch_next(s->w, wait, &ev, &err);
        if (rc == 0) {
            if (http_stream_closed(s->stream))
                break;
            if (s->bookmarks && now_ms() - last_sent >= BOOKMARK_EVERY_S * 1000.0) {
                if (send_bookmark(s, s->last_rev, false) < 0)
                    break;
                last_sent = now_ms();
            }
            continue;
        }
        if (rc < 0) {
            if (rc == -ERANGE)
                send_expired(s, s->last_rev);
            else if (rc != -ECANCELED && rc != -ESHUTDOWN)
                wlog_debug("apiserver: watch of %s ended: %s", s->res->plural, err.msg);
            break;
        }
        rc = deliver(s, ev);
        s->last_rev = ev->revision;
        kvstore_event_unref(ev);
        if (rc < 0)
            break;
        last_sent = now_ms();
    }
out:
    http_stream_close(s->stream);
    unregister(s);
    state_free(s);
    pthread_mutex_lock(&as->lock);
    as->n_watch_threads--;
    pthread_cond_broadcast(&as->cond);
    pthread_mutex_unlock(&as->lock);
    return NULL;
}

http_response *watch_serve(struct api_req *c, const char *prefix, int64_t from_rev,
                           bool send_initial, json_t *initial_items, int64_t initial_rev)
{
    struct api_watch_state *s = xcalloc(1, sizeof(*s));
    s->as = c->as;
    s->res = c->res;
    s->initial = initial_items;
    s->initial_rev = initial_rev;
    s->send_initial = send_initial;
    if (c->name)
        s->name = xstrdup(c->name);
    s->last_rev = from_rev - 1;
    wharf_error err = {0};
    const char *ls = http_request_query(c->http, "labelSelector");
    if (ls && *ls && label_selector_parse(ls, &s->ls, &err) == 0)
        s->has_ls = true;
    const char *fs = http_request_query(c->http, "fieldSelector");
    if (fs && *fs && field_selector_parse(fs, c->res, &s->fs, &err) == 0)
        s->has_fs = true;
    s->table = accept_has(c->http, "Table", "meta.k8s.io", "v1") ||
               accept_has(c->http, "Table", "meta.k8s.io", "v1beta1");
    const char *inc = http_request_query(c->http, "includeObject");
    s->include_object = xstrdup(inc && *inc ? inc : "Metadata");
    s->bookmarks = http_request_query_bool(c->http, "allowWatchBookmarks", false);
    s->initial_end_bookmark =
        s->bookmarks && http_request_query_bool(c->http, "sendInitialEvents", false);
    int64_t timeout = 0;
    if (http_request_query_int(c->http, "timeoutSeconds", &timeout, &err) < 0) {
        state_free(s);
        return status_bad_request("%s", err.msg);
    }
    if (timeout <= 0) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)rand();
        timeout = 1800 + (int64_t)(r % 1800);
    }
    s->deadline_ms = now_ms() + (double)timeout * 1000.0;

    int rc = kvstore_watch(c->as->store, prefix, from_rev, &s->w, &err);
    if (rc == -ERANGE) {
        s->expired_code = 410;
        s->expired_from = from_rev - 1;
    } else if (rc < 0) {
        state_free(s);
        return status_from_store(c->res, NULL, &err);
    }
    pthread_mutex_lock(&c->as->lock);
    if (c->as->stopping) {
        pthread_mutex_unlock(&c->as->lock);
        state_free(s);
        return status_failure(503, "ServiceUnavailable", NULL, "the server is shutting down");
    }
    if (c->as->n_watches == c->as->alloc_watches) {
        c->as->alloc_watches = c->as->alloc_watches ? c->as->alloc_watches * 2 : 16;
        c->as->watches = xrealloc(c->as->watches, c->as->alloc_watches * sizeof(*c->as->watches));
    }
    c->as->watches[c->as->n_watches++] = s;
    c->as->n_watch_threads++;
    pthread_mutex_unlock(&c->as->lock);

    http_response *resp = http_response_stream(200, "application/json", &s->stream);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    rc = pthread_create(&t, &attr, producer, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        http_response_free(resp);
        http_stream_close(s->stream);
        unregister(s);
        state_free(s);
        pthread_mutex_lock(&c->as->lock);
        c->as->n_watch_threads--;
        pthread_cond_broadcast(&c->as->cond);
        pthread_mutex_unlock(&c->as->lock);
        return status_failure(503, "ServiceUnavailable", NULL, "cannot start the watch: %s",
                              strerror(rc));
    }
    return resp;
}

void watch_stop_all(struct apiserver *as)
{
    pthread_mutex_lock(&as->lock);
    as->stopping = true;
    for (size_t i = 0; i < as->n_watches; i++) {
        if (as->watches[i]->w)
            kvstore_watch_cancel(as->watches[i]->w);
    }
    pthread_mutex_unlock(&as->lock);
}

void watch_wait_all(struct apiserver *as)
{
    pthread_mutex_lock(&as->lock);
    while (as->n_watch_threads > 0)
        pthread_cond_wait(&as->cond, &as->lock);
    pthread_mutex_unlock(&as->lock);
}
