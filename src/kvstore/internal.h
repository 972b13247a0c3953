/*
 * Shared between the kvstore front (kvstore.c: argument checks, events,
 * watcher queues) and its two backends (sqlite.c, etcd.c). Not for other
 * modules.
 */
#ifndef WHARF_KVSTORE_INTERNAL_H
#define WHARF_KVSTORE_INTERNAL_H

#include "kvstore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct kvstore_ops {
    const char *name;
    /* Frees the backend. Every watcher still registered has been failed with
     * -ESHUTDOWN and detached by the time it returns. */
    void (*close)(struct kvstore *s);
    int (*get)(struct kvstore *s, const char *key, struct kvstore_kv *out, wharf_error *err);
    int (*list)(struct kvstore *s, const char *prefix, const char *end, int64_t revision,
                size_t limit, const char *continue_after, struct kvstore_list *out,
                wharf_error *err);
    int (*current_revision)(struct kvstore *s, int64_t *revision, wharf_error *err);
    int (*create)(struct kvstore *s, const char *key, const void *value, size_t len,
                  int64_t *revision, wharf_error *err);
    int (*update)(struct kvstore *s, const char *key, const void *value, size_t len,
                  int64_t expected, int64_t *revision, struct kvstore_kv *current,
                  wharf_error *err);
    int (*del)(struct kvstore *s, const char *key, int64_t expected, int64_t *revision,
               struct kvstore_kv *prev, wharf_error *err);
    int (*compact)(struct kvstore *s, int64_t revision, wharf_error *err);
    /* Registers w (prefix, end, from set) so that it receives changes. */
    int (*watch_start)(struct kvstore *s, struct kvstore_watch *w, wharf_error *err);
    /* Called by the consumer when w->catchup_next <= w->catchup_to: moves a
     * batch of past events into w->backlog and advances catchup_next. */
    int (*watch_catch_up)(struct kvstore *s, struct kvstore_watch *w, wharf_error *err);
    /* Unregisters w; no push reaches it afterwards. */
    void (*watch_stop)(struct kvstore *s, struct kvstore_watch *w);
};

struct kvstore {
    const struct kvstore_ops *ops;
    struct kvstore_options opt;
    /* Held shared around every use of the backend by a watcher (start,
     * catch-up, stop) and exclusively by kvstore_close. */
    pthread_rwlock_t life;
    bool closed;
    atomic_int refs; /* the handle + one per open watcher */
    void *backend;
};

/* A refcounted, immutable event. */
struct kvstore_event_ref {
    struct kvstore_event ev;
    atomic_int refs;
    size_t bytes; /* for queue accounting */
};

struct kvstore_watch {
    struct kvstore *store;
    char *prefix;
    char *end; /* exclusive range end, NULL: to the end of the key space */
    int64_t from;

    pthread_mutex_t mu; /* everything below up to the backlog */
    pthread_cond_t cond;
    struct kvstore_event_ref **ring; /* grows on demand up to limit */
    size_t cap, head, count, limit;
    int error; /* negative errno once finished */
    wharf_error failure;
    bool cancelled;
    int64_t next_revision; /* pushes below this are duplicates and dropped */

    /* Consumer-only: history not yet delivered (SQLite catch-up). */
    int64_t catchup_next, catchup_to;
    struct kvstore_event_ref **backlog;
    size_t backlog_count, backlog_pos;

    int64_t live_from;               /* SQLite: first revision pushed live */
    void *backend;                   /* per-backend state */
    struct kvstore_watch *next_link; /* backend's list */
    struct kvstore_watch *prev_link;
};

/* ------------------------------------------------------------- helpers */

/* Byte-wise order of keys (memcmp on the bytes, shorter first on a tie). */
static inline int kv_key_cmp(const char *a, const char *b)
{
    return strcmp(a, b); /* strcmp compares as unsigned char */
}
/* The first key after every key that starts with prefix: prefix with its
 * last byte below 0xff incremented and the rest cut. NULL when there is
 * none ("" or all 0xff): the range runs to the end. */
char *kv_prefix_end(const char *prefix);
/* prefix <= key < end */
bool kv_key_in_range(const char *key, const char *prefix, const char *end);

void kv_set(struct kvstore_kv *kv, const char *key, size_t key_len, const void *value,
            size_t value_len, int64_t create_revision, int64_t mod_revision);

/* A new event with one reference; kv and prev are moved in (left zeroed). */
struct kvstore_event_ref *kv_event_new(enum kvstore_event_type type, int64_t revision,
                                       struct kvstore_kv *kv, struct kvstore_kv *prev);
void kv_event_unref(struct kvstore_event_ref *e);

/* Queues e (taking a new reference) unless the watcher has finished, the
 * event is older than what it has seen, or its queue is full (then it is
 * finished with -ENOBUFS). Returns false when the watcher is finished. */
bool kv_watch_push(struct kvstore_watch *w, struct kvstore_event_ref *e);
/* Finishes the watcher with an error (the first one wins); events still
 * queued are dropped, the consumer gets the error next. */
void kv_watch_fail(struct kvstore_watch *w, int code, const char *fmt, ...) WHARF_PRINTF(3, 4);
bool kv_watch_finished(struct kvstore_watch *w);

/* Backends. */
extern const struct kvstore_ops kv_sqlite_ops;
extern const struct kvstore_ops kv_etcd_ops;
int kv_sqlite_open(struct kvstore *s, const char *path, wharf_error *err);
int kv_etcd_open(struct kvstore *s, const char *endpoints, wharf_error *err);

#endif
