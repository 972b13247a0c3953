/*
 * kvstore — the storage layer of the cluster control plane: a revisioned
 * key-value store with etcd v3's semantics, on an embedded SQLite database
 * or on an etcd cluster.
 *
 * Owns: one store handle per endpoint ("sqlite:///path/to/db" or
 * "http://HOST:PORT[,http://HOST2:PORT2...]" for etcd), the global revision
 * counter, reads of the current state or of a past revision, create-if-absent,
 * compare-and-swap update and delete on an object's mod revision, watches of a
 * key prefix from a revision, and compaction of history. With SQLite it also
 * owns the database file and its write-ahead log (kept bounded by checkpoints);
 * with etcd, the HTTP connections to the members (JSON gateway, failover to
 * the next endpoint when one cannot be reached).
 *
 * Must not: interpret keys or values. Keys are laid out as Kubernetes lays
 * them out in etcd (/registry/<resource>/<namespace>/<name>) by the caller;
 * values are opaque bytes (JSON objects, possibly encrypted). No HTTP routes,
 * no Kubernetes types, no defaulting: the API server owns all of that.
 *
 * Semantics (as etcd's): every successful mutation gets the next revision of
 * the whole store; an object carries the revision that created it and the one
 * that last changed it (mod_revision, the Kubernetes resourceVersion). Prefixes
 * are byte prefixes: pass "/registry/pods/" (with the slash) so that the
 * sibling "/registry/podsx/..." does not match.
 *
 * Errors (negative errno, err filled with a message naming the key):
 *   -ENOENT      the key does not exist
 *   -EEXIST      create of a key that exists
 *   -ECANCELED   compare-and-swap lost: the object changed (current returned)
 *   -ERANGE      the revision has been compacted (the API's 410 Gone)
 *   -EOVERFLOW   the revision is newer than the store's current revision
 *   -ENOBUFS     a watcher fell too far behind and was closed
 *   -EINVAL      a bad endpoint, key or argument
 *   -EBUSY       the SQLite database is held by another process
 *   -EHOSTUNREACH no etcd endpoint answered; -EIO any other storage failure
 *
 * Threads: every call is thread-safe on one handle; API server threads share
 * it. Writers never wait for watchers: each watcher has a bounded queue
 * filled after commit, and a watcher that lets it overflow is closed with
 * -ENOBUFS (the client re-lists and watches again, as with kube-apiserver).
 * A watcher is consumed by one thread at a time (kvstore_watch_next).
 */
#ifndef WHARF_KVSTORE_H
#define WHARF_KVSTORE_H

#include "base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvstore;
struct kvstore_watch;

struct kvstore_options {
    /* Events a watcher may have queued before it is closed with -ENOBUFS
     * (0: KVSTORE_DEFAULT_WATCH_QUEUE). */
    size_t watch_queue_events;
    /* SQLite: WAL pages (4 KiB) after which a checkpoint runs (0: default). */
    unsigned wal_checkpoint_pages;
    /* etcd: seconds one request may take on one member (0: default). */
    unsigned request_timeout_s;
};
#define KVSTORE_DEFAULT_WATCH_QUEUE 1000
#define KVSTORE_DEFAULT_WAL_CHECKPOINT_PAGES 1000
#define KVSTORE_DEFAULT_REQUEST_TIMEOUT_S 10

/* One object. Strings and bytes are owned by the struct. */
struct kvstore_kv {
    char *key;
    uint8_t *value; /* NUL-terminated for convenience (not counted in value_len) */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
};
void kvstore_kv_release(struct kvstore_kv *kv);

/* ---------------------------------------------------------------- handle */

/* endpoint: "sqlite:///abs/path/db" (created with its directory when absent)
 * or "http://h:p[,http://h2:p2...]" (etcd v3.4+ JSON gateway). options may
 * be NULL. Returns a new handle (kvstore_close) or NULL with *err set. */
struct kvstore *kvstore_open(const char *endpoint, const struct kvstore_options *options,
                             wharf_error *err);
/* Closes the handle; watchers still open get -ESHUTDOWN from their next
 * kvstore_watch_next and must still be closed by their owners. NULL is fine. */
void kvstore_close(struct kvstore *s);
/* "sqlite" or "etcd". */
const char *kvstore_backend(const struct kvstore *s);

/* ---------------------------------------------------------------- reads */

/* The current object at key into *out (released by the caller); -ENOENT. */
int kvstore_get(struct kvstore *s, const char *key, struct kvstore_kv *out, wharf_error *err);

struct kvstore_list {
    struct kvstore_kv *items; /* sorted by key */
    size_t count;
    int64_t revision; /* the revision this read saw: pass it back for the next page */
    bool more;        /* more keys follow the last item */
};
void kvstore_list_release(struct kvstore_list *l);

/*
 * Objects whose key starts with prefix, as they were at revision (0: the
 * current revision; the one read is returned in out->revision), at most
 * limit of them (0: all), with keys after continue_after (NULL: from the
 * start; pass the last key of the previous page). -ERANGE when revision was
 * compacted, -EOVERFLOW when it is in the future.
 */
int kvstore_list(struct kvstore *s, const char *prefix, int64_t revision, size_t limit,
                 const char *continue_after, struct kvstore_list *out, wharf_error *err);

/* The store's current revision (of its last mutation; 0 for a new store). */
int kvstore_current_revision(struct kvstore *s, int64_t *revision, wharf_error *err);

/* ---------------------------------------------------------------- writes */

/* Creates key only if absent; *revision (may be NULL) gets the object's
 * create (= mod) revision. -EEXIST when the key exists. */
int kvstore_create(struct kvstore *s, const char *key, const void *value, size_t len,
                   int64_t *revision, wharf_error *err);

/*
 * Replaces key's value if its mod revision is still expected_mod_revision
 * (0: whatever it is, as long as the key exists). *revision (may be NULL)
 * gets the new mod revision. -ENOENT when the key does not exist;
 * -ECANCELED when it changed, with the current object in *current (when
 * not NULL; released by the caller).
 */
int kvstore_update(struct kvstore *s, const char *key, const void *value, size_t len,
                   int64_t expected_mod_revision, int64_t *revision, struct kvstore_kv *current,
                   wharf_error *err);

/*
 * Deletes key if its mod revision is still expected_mod_revision (0: any).
 * *revision (may be NULL) gets the revision of the deletion; *prev (may be
 * NULL) the deleted object, or on -ECANCELED the current one. -ENOENT when
 * the key does not exist.
 */
int kvstore_delete(struct kvstore *s, const char *key, int64_t expected_mod_revision,
                   int64_t *revision, struct kvstore_kv *prev, wharf_error *err);

/*
 * Forgets history before revision: afterwards every key's latest version
 * at or before it is kept, older versions and deletions are gone, and reads
 * or watches from an older revision fail with -ERANGE. With SQLite the work
 * is done in small transactions, so writers go on meanwhile. -ERANGE when
 * already compacted past revision, -EOVERFLOW when it is in the future.
 */
int kvstore_compact(struct kvstore *s, int64_t revision, wharf_error *err);

/* ---------------------------------------------------------------- watch */

enum kvstore_event_type { KVSTORE_EVENT_PUT, KVSTORE_EVENT_DELETE };

/* A change, shared between watchers: read-only, released with
 * kvstore_event_unref. */
struct kvstore_event {
    enum kvstore_event_type type;
    int64_t revision;     /* the revision of the change */
    struct kvstore_kv kv; /* PUT: the new object; DELETE: the key, no value,
                             mod_revision = revision */
    bool has_prev;        /* prev holds the object before the change (absent on
                             a creation, or when history was compacted) */
    struct kvstore_kv prev;
};
void kvstore_event_unref(const struct kvstore_event *ev);

/*
 * Watches keys starting with prefix for changes at or after from_revision
 * (0: changes after now). Events come in revision order, older ones first
 * from history. -ERANGE when from_revision was compacted. Returns 0 and a new
 * watcher in *out (kvstore_watch_close).
 */
int kvstore_watch(struct kvstore *s, const char *prefix, int64_t from_revision,
                  struct kvstore_watch **out, wharf_error *err);
/*
 * Waits up to timeout_ms (-1: forever) for the next event. Returns 1 with a
 * new reference in *ev, 0 on timeout, or a negative errno after which the
 * watcher is finished (events it had not delivered yet are dropped: the
 * consumer re-lists): -ERANGE (it had to resume from a compacted revision),
 * -ENOBUFS (fell too far behind), -ESHUTDOWN (store closed), -EHOSTUNREACH or
 * -EIO (etcd unreachable), -ECANCELED (kvstore_watch_cancel).
 */
int kvstore_watch_next(struct kvstore_watch *w, int timeout_ms, const struct kvstore_event **ev,
                       wharf_error *err);
/* Wakes a kvstore_watch_next blocked on another thread (it returns -ECANCELED). */
void kvstore_watch_cancel(struct kvstore_watch *w);
void kvstore_watch_close(struct kvstore_watch *w);

#endif
