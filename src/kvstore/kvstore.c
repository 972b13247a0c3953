/*
 * kvstore.c — the backend-independent half: endpoint parsing, argument
 * checks, refcounted events and the watchers' bounded queues.
 *
 * A watcher's queue is filled by whoever produced the change (the SQLite
 * writer right after its commit, or the etcd watch thread) and drained by
 * the watcher's consumer. Producers only ever take the watcher's own mutex
 * for a push, never wait for room: a full queue finishes the watcher with
 * -ENOBUFS and frees what it held, so a stuck consumer costs at most
 * watch_queue_events events of memory and nothing of anyone's time.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

char *kv_prefix_end(const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
        n--;
    if (n == 0)
        return NULL;
    char *end = xmalloc(n + 1);
    memcpy(end, prefix, n);
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    end[n] = '\0';
    return end;
}

bool kv_key_in_range(const char *key, const char *prefix, const char *end)
{
    return kv_key_cmp(key, prefix) >= 0 && (!end || kv_key_cmp(key, end) < 0);
}

void kv_set(struct kvstore_kv *kv, const char *key, size_t key_len, const void *value,
            size_t value_len, int64_t create_revision, int64_t mod_revision)
{
    kv->key = xmalloc(key_len + 1);
    memcpy(kv->key, key, key_len);
    kv->key[key_len] = '\0';
    kv->value = xmalloc(value_len + 1);
    if (value_len)
        memcpy(kv->value, value, value_len);
    kv->value[value_len] = '\0';
    kv->value_len = value_len;
    kv->create_revision = create_revision;
    kv->mod_revision = mod_revision;
}

void kvstore_kv_release(struct kvstore_kv *kv)
{
    if (!kv)
        return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

void kvstore_list_release(struct kvstore_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        kvstore_kv_release(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------- events */

struct kvstore_event_ref *kv_event_new(enum kvstore_event_type type, int64_t revision,
                                       struct kvstore_kv *kv, struct kvstore_kv *prev)
{
    struct kvstore_event_ref *e = xcalloc(1, sizeof(*e));
    e->ev.type = type;
    e->ev.revision = revision;
    e->ev.kv = *kv;
    memset(kv, 0, sizeof(*kv));
    if (prev && prev->key) {
        e->ev.has_prev = true;
        e->ev.prev = *prev;
        memset(prev, 0, sizeof(*prev));
    }
    atomic_init(&e->refs, 1);
    e->bytes = sizeof(*e) + e->ev.kv.value_len + e->ev.prev.value_len;
    return e;
}

void kv_event_unref(struct kvstore_event_ref *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    kvstore_kv_release(&e->ev.kv);
    kvstore_kv_release(&e->ev.prev);
    free(e);
}

void kvstore_event_unref(const struct kvstore_event *ev)
{
    /* ev is the first member of its kvstore_event_ref */
    kv_event_unref((struct kvstore_event_ref *)ev);
}

/* ---------------------------------------------------------------- handle */

struct kvstore *kvstore_open(const char *endpoint, const struct kvstore_options *options,
                             wharf_error *err)
{
    if (!endpoint || !*endpoint) {
        wharf_error_set(err, -EINVAL, "datastore endpoint: empty");
        return NULL;
    }
    struct kvstore *s = xcalloc(1, sizeof(*s));
    if (options)
        s->opt = *options;
    if (!s->opt.watch_queue_events)
        s->opt.watch_queue_events = KVSTORE_DEFAULT_WATCH_QUEUE;
    if (!s->opt.wal_checkpoint_pages)
        s->opt.wal_checkpoint_pages = KVSTORE_DEFAULT_WAL_CHECKPOINT_PAGES;
    if (!s->opt.request_timeout_s)
        s->opt.request_timeout_s = KVSTORE_DEFAULT_REQUEST_TIMEOUT_S;
    pthread_rwlock_init(&s->life, NULL);
    atomic_init(&s->refs, 1);
    int r;
    if (strncmp(endpoint, "sqlite://", 9) == 0) {
        s->ops = &kv_sqlite_ops;
        r = kv_sqlite_open(s, endpoint + 9, err);
    } else if (strncmp(endpoint, "http://", 7) == 0) {
        s->ops = &kv_etcd_ops;
        r = kv_etcd_open(s, endpoint, err);
    } else {
        r = wharf_error_set(err, -EINVAL,
                            "datastore endpoint %s: want sqlite:///PATH or "
                            "http://HOST:PORT[,http://HOST:PORT...] (etcd)",
                            endpoint);
    }
    if (r < 0) {
        pthread_rwlock_destroy(&s->life);
        free(s);
        return NULL;
    }
    return s;
}

static void store_unref(struct kvstore *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_rwlock_destroy(&s->life);
    free(s);
}

void kvstore_close(struct kvstore *s)
{
    if (!s)
        return;
    /* The exclusive lock waits out a watcher's start, catch-up or stop in
     * progress; they hold it shared around their use of the backend. */
    pthread_rwlock_wrlock(&s->life);
    s->closed = true;
    s->ops->close(s);
    s->backend = NULL;
    pthread_rwlock_unlock(&s->life);
    store_unref(s);
}

const char *kvstore_backend(const struct kvstore *s)
{
    return s->ops->name;
}

/* ---------------------------------------------------------------- checks */

static int check_key(const char *key, wharf_error *err)
{
    if (!key || !*key)
        return wharf_error_set(err, -EINVAL, "key: empty");
    return 0;
}

int kvstore_get(struct kvstore *s, const char *key, struct kvstore_kv *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = check_key(key, err);
    return r < 0 ? r : s->ops->get(s, key, out, err);
}

int kvstore_list(struct kvstore *s, const char *prefix, int64_t revision, size_t limit,
                 const char *continue_after, struct kvstore_list *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!prefix)
        prefix = "";
    if (revision < 0)
        return wharf_error_set(err, -EINVAL, "list %s: negative revision %lld", prefix,
                               (long long)revision);
    if (continue_after && !*continue_after)
        continue_after = NULL;
    _cleanup_free_ char *end = kv_prefix_end(prefix);
    return s->ops->list(s, prefix, end, revision, limit, continue_after, out, err);
}

int kvstore_current_revision(struct kvstore *s, int64_t *revision, wharf_error *err)
{
    return s->ops->current_revision(s, revision, err);
}

int kvstore_create(struct kvstore *s, const char *key, const void *value, size_t len,
                   int64_t *revision, wharf_error *err)
{
    int r = check_key(key, err);
    if (r < 0)
        return r;
    int64_t rev = 0;
    r = s->ops->create(s, key, value ? value : "", value ? len : 0, &rev, err);
    if (r == 0 && revision)
        *revision = rev;
    return r;
}

int kvstore_update(struct kvstore *s, const char *key, const void *value, size_t len,
                   int64_t expected_mod_revision, int64_t *revision, struct kvstore_kv *current,
                   wharf_error *err)
{
    if (current)
        memset(current, 0, sizeof(*current));
    int r = check_key(key, err);
    if (r < 0)
        return r;
    if (expected_mod_revision < 0)
        return wharf_error_set(err, -EINVAL, "update %s: negative revision", key);
    int64_t rev = 0;
    r = s->ops->update(s, key, value ? value : "", value ? len : 0, expected_mod_revision, &rev,
                       current, err);
    if (r == 0 && revision)
        *revision = rev;
    return r;
}

int kvstore_delete(struct kvstore *s, const char *key, int64_t expected_mod_revision,
                   int64_t *revision, struct kvstore_kv *prev, wharf_error *err)
{
    if (prev)
        memset(prev, 0, sizeof(*prev));
    int r = check_key(key, err);
    if (r < 0)
        return r;
    if (expected_mod_revision < 0)
        return wharf_error_set(err, -EINVAL, "delete %s: negative revision", key);
    int64_t rev = 0;
    r = s->ops->del(s, key, expected_mod_revision, &rev, prev, err);
    if (r == 0 && revision)
        *revision = rev;
    return r;
}

int kvstore_compact(struct kvstore *s, int64_t revision, wharf_error *err)
{
    if (revision <= 0)
        return wharf_error_set(err, -EINVAL, "compact: revision %lld is not positive",
                               (long long)revision);
    return s->ops->compact(s, revision, err);
}

/* ---------------------------------------------------------------- watch */

static void queue_drop_all(struct kvstore_watch *w)
{
    while (w->count) {
        kv_event_unref(w->ring[w->head]);
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
}

bool kv_watch_push(struct kvstore_watch *w, struct kvstore_event_ref *e)
{
    pthread_mutex_lock(&w->mu);
    bool ok = w->error == 0;
    if (ok && w->count == w->limit) {
        queue_drop_all(w);
        w->error = wharf_error_set(&w->failure, -ENOBUFS,
                                   "watch of %s: the consumer fell %zu events behind; closed",
                                   w->prefix, w->limit);
        ok = false;
        pthread_cond_signal(&w->cond);
    } else if (ok) {
        if (w->count == w->cap) {
            size_t cap = w->cap * 2 < w->limit ? w->cap * 2 : w->limit;
            struct kvstore_event_ref **ring = xcalloc(cap, sizeof(*ring));
            for (size_t i = 0; i < w->count; i++)
                ring[i] = w->ring[(w->head + i) % w->cap];
            free(w->ring);
            w->ring = ring;
            w->cap = cap;
            w->head = 0;
        }
        atomic_fetch_add(&e->refs, 1);
        w->ring[(w->head + w->count) % w->cap] = e;
        /* The consumer only waits on an empty queue: one wake-up per batch. */
        if (++w->count == 1)
            pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void kv_watch_fail(struct kvstore_watch *w, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&w->mu);
    if (w->error == 0) {
        va_list ap;
        va_start(ap, fmt);
        char msg[sizeof(w->failure.msg)];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        w->error = wharf_error_set(&w->failure, code, "%s", msg);
        /* Events queued after a gap (history that could not be read) must
         * not be delivered; the consumer re-lists anyway. */
        queue_drop_all(w);
    }
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

bool kv_watch_finished(struct kvstore_watch *w)
{
    pthread_mutex_lock(&w->mu);
    bool done = w->error != 0 || w->cancelled;
    pthread_mutex_unlock(&w->mu);
    return done;
}

static void watch_free(struct kvstore_watch *w)
{
    queue_drop_all(w);
    for (size_t i = w->backlog_pos; i < w->backlog_count; i++)
        kv_event_unref(w->backlog[i]);
    free(w->backlog);
    free(w->ring);
    free(w->prefix);
    free(w->end);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int kvstore_watch(struct kvstore *s, const char *prefix, int64_t from_revision,
                  struct kvstore_watch **out, wharf_error *err)
{
    *out = NULL;
    if (!prefix)
        prefix = "";
    if (from_revision < 0)
        return wharf_error_set(err, -EINVAL, "watch %s: negative revision", prefix);
    struct kvstore_watch *w = xcalloc(1, sizeof(*w));
    w->prefix = xstrdup(prefix);
    w->end = kv_prefix_end(prefix);
    w->from = from_revision;
    w->limit = s->opt.watch_queue_events;
    w->cap = w->limit < 64 ? w->limit : 64;
    w->ring = xcalloc(w->cap, sizeof(*w->ring));
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->catchup_next = 1;
    w->catchup_to = 0;
    w->store = s;

    pthread_rwlock_rdlock(&s->life);
    int r = s->closed ? wharf_error_set(err, -ESHUTDOWN, "watch %s: store closed", prefix)
                      : s->ops->watch_start(s, w, err);
    if (r == 0)
        atomic_fetch_add(&s->refs, 1);
    pthread_rwlock_unlock(&s->life);
    if (r < 0) {
        watch_free(w);
        return r;
    }
    *out = w;
    return 0;
}

static int take_backlog(struct kvstore_watch *w, const struct kvstore_event **ev)
{
    *ev = &w->backlog[w->backlog_pos]->ev;
    w->backlog[w->backlog_pos++] = NULL;
    if (w->backlog_pos == w->backlog_count)
        w->backlog_pos = w->backlog_count = 0;
    return 1;
}

int kvstore_watch_next(struct kvstore_watch *w, int timeout_ms, const struct kvstore_event **ev,
                       wharf_error *err)
{
    *ev = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->cancelled) {
            pthread_mutex_unlock(&w->mu);
            return wharf_error_set(err, -ECANCELED, "watch of %s: cancelled", w->prefix);
        }
        if (w->error) {
            int r = w->error;
            if (err)
                *err = w->failure;
            pthread_mutex_unlock(&w->mu);
            return r;
        }
        if (w->backlog_pos < w->backlog_count) {
            pthread_mutex_unlock(&w->mu);
            return take_backlog(w, ev);
        }
        if (w->catchup_next <= w->catchup_to) {
            /* History first; live events wait in the queue meanwhile. */
            pthread_mutex_unlock(&w->mu);
            wharf_error e = {0};
            struct kvstore *s = w->store;
            pthread_rwlock_rdlock(&s->life);
            int r = s->closed ? -ESHUTDOWN : s->ops->watch_catch_up(s, w, &e);
            pthread_rwlock_unlock(&s->life);
            if (r < 0)
                kv_watch_fail(w, r, "%s", r == -ESHUTDOWN ? "store closed" : e.msg);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->count) {
            struct kvstore_event_ref *e = w->ring[w->head];
            w->head = (w->head + 1) % w->cap;
            w->count--;
            pthread_mutex_unlock(&w->mu);
            *ev = &e->ev;
            return 1;
        }
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0) {
            pthread_cond_wait(&w->cond, &w->mu);
        } else if (pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == ETIMEDOUT) {
            /* one last look before reporting the timeout */
            if (w->count || w->error || w->cancelled)
                continue;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void kvstore_watch_cancel(struct kvstore_watch *w)
{
    pthread_mutex_lock(&w->mu);
    w->cancelled = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void kvstore_watch_close(struct kvstore_watch *w)
{
    if (!w)
        return;
    struct kvstore *s = w->store;
    pthread_rwlock_rdlock(&s->life);
    if (!s->closed)
        s->ops->watch_stop(s, w);
    pthread_rwlock_unlock(&s->life);
    watch_free(w);
    store_unref(s);
}
