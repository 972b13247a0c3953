/*
 * sqlite.c — the embedded backend: an MVCC revision log in one SQLite table.
 *
 *   kv(rev PRIMARY KEY, key, value, create_rev, prev_rev, deleted)
 *
 * Every mutation appends one row whose rev is the store's next revision; a
 * deletion appends a tombstone (deleted = 1, no value). The state at revision
 * R is, per key, its newest row with rev <= R unless that row is a tombstone.
 * prev_rev links a row to the key's previous row: it gives watchers the
 * previous value and compaction what to delete. meta holds the compacted
 * revision and how far compaction's deletions got.
 *
 * Why this shape, against kine's known troubles ("database is locked",
 * unbounded WAL growth):
 *  - One writer connection, used under a mutex, with prepared statements:
 *    writers queue on our mutex, never on SQLite's lock, so they never see
 *    SQLITE_BUSY. A second process is refused (flock on the database file).
 *  - Readers each use their own connection from a pool (WAL mode: readers do
 *    not block the writer nor each other); a list reads its revision and its
 *    rows in one transaction, so a page is a consistent snapshot.
 *  - Compaction deletes in transactions of COMPACT_BATCH revisions and lets
 *    writers in between, so it never holds the writer for long.
 *  - SQLite's automatic checkpoint is off; a maintenance thread with its own
 *    connection runs PASSIVE checkpoints once enough pages were written (they
 *    do not block the writer). If readers kept the log from being reused and
 *    it reached twice that size, a TRUNCATE checkpoint resets it while
 *    holding the writer mutex and, exclusively, a gate that every read
 *    transaction holds shared (so overlapping readers cannot starve it); at
 *    four times that size the writer does so itself. The log is bounded
 *    under any load; journal_size_limit trims the file whenever it restarts.
 *  - The revision counter lives in memory under the writer mutex (the row
 *    with the highest rev is never compacted away, so max(rev) recovers it).
 *
 * Watch: after each commit the change is pushed to every matching watcher's
 * queue, in revision order (a fan-out mutex is taken before the writer mutex
 * is released, so the next write proceeds meanwhile). A watcher
 * starting in the past first reads the log, in batches, up to the revision
 * current when it registered; live pushes begin right after that revision.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#define COMPACT_BATCH 500
#define CATCH_UP_BATCH 256
#define BUSY_TIMEOUT_MS 5000
#define WAL_HARD_FACTOR 4

struct reader {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *get, *maxrev, *compacted, *list, *list_open, *history,
        *history_open, *byrev;
    struct reader *next;
};

struct sq {
    char *path;
    int lock_fd;

    pthread_mutex_t wlock; /* the writer connection, rev */
    sqlite3 *w;
    sqlite3_stmt *latest, *insert, *set_meta, *begin, *commit, *rollback, *compact_prev,
        *compact_tomb;
    int64_t rev;
    _Atomic int64_t current;   /* rev, readable without wlock */
    _Atomic int64_t compacted; /* reads and watches below it fail */
    pthread_mutex_t compact_lock;
    unsigned page_size;

    pthread_mutex_t rlock;
    struct reader *idle;
    /* Held shared by every read transaction, exclusively to reset the log. */
    pthread_rwlock_t gate;

    pthread_mutex_t fanout_lock; /* taken under wlock, held while pushing */
    pthread_mutex_t watch_lock;
    struct kvstore_watch *watchers;

    pthread_t maint;
    bool maint_running;
    pthread_mutex_t maint_lock;
    pthread_cond_t maint_cond;
    bool stop;
    sqlite3 *ck;
    unsigned ckpt_pages;
    atomic_int wal_frames;  /* frames in the log after the last commit */
    atomic_int wal_written; /* frames appended since the last checkpoint */
};

static struct sq *SQ(struct kvstore *s)
{
    return s->backend;
}

static int sql_error(wharf_error *err, sqlite3 *db, const char *what, const char *key)
{
    return wharf_error_set(err, -EIO, "%s %s: sqlite: %s", what, key ? key : "",
                           db ? sqlite3_errmsg(db) : "out of memory");
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, wharf_error *err)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return wharf_error_set(err, -EIO, "sqlite: preparing \"%s\": %s", sql, sqlite3_errmsg(db));
    return 0;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *path, wharf_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int r = wharf_error_set(err, -EIO, "database %s: \"%s\": %s", path, sql,
                                msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

static void bind_key(sqlite3_stmt *st, int i, const char *key)
{
    sqlite3_bind_blob(st, i, key, (int)strlen(key), SQLITE_STATIC);
}

/* Step a statement expected to return no row, then reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : rc;
}

static void column_kv(sqlite3_stmt *st, int key_col, int value_col, int create_col,
                      int64_t mod_revision, struct kvstore_kv *kv)
{
    kv_set(kv, sqlite3_column_blob(st, key_col), (size_t)sqlite3_column_bytes(st, key_col),
           sqlite3_column_blob(st, value_col), (size_t)sqlite3_column_bytes(st, value_col),
           sqlite3_column_int64(st, create_col), mod_revision);
}

static sqlite3 *open_db(const char *path, int flags, wharf_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        wharf_error_set(err, -EIO, "database %s: %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

/* ---------------------------------------------------------------- readers */

static const char SQL_LATEST[] =
    "SELECT rev, create_rev, deleted, value, key FROM kv WHERE key = ?1 ORDER BY rev DESC LIMIT 1";
/* Per key in range, its newest row at or before ?3, unless a tombstone. */
static const char SQL_LIST[] =
    "SELECT a.key, a.value, a.create_rev, a.rev FROM kv AS a"
    " WHERE a.key >= ?1 AND a.key < ?2 AND a.rev <= ?3 AND a.deleted = 0"
    " AND NOT EXISTS (SELECT 1 FROM kv AS b WHERE b.key = a.key AND b.rev > a.rev AND b.rev <= ?3)"
    " ORDER BY a.key LIMIT ?4";
static const char SQL_LIST_OPEN[] =
    "SELECT a.key, a.value, a.create_rev, a.rev FROM kv AS a"
    " WHERE a.key >= ?1 AND a.rev <= ?3 AND a.deleted = 0"
    " AND NOT EXISTS (SELECT 1 FROM kv AS b WHERE b.key = a.key AND b.rev > a.rev AND b.rev <= ?3)"
    " ORDER BY a.key LIMIT ?4";
static const char SQL_HISTORY[] =
    "SELECT rev, key, value, create_rev, prev_rev, deleted FROM kv"
    " WHERE rev >= ?1 AND rev <= ?2 AND key >= ?3 AND key < ?4 ORDER BY rev LIMIT ?5";
static const char SQL_HISTORY_OPEN[] =
    "SELECT rev, key, value, create_rev, prev_rev, deleted FROM kv"
    " WHERE rev >= ?1 AND rev <= ?2 AND key >= ?3 ORDER BY rev LIMIT ?5";

static void reader_free(struct reader *r)
{
    if (!r)
        return;
    sqlite3_stmt *all[] = {r->begin, r->commit,    r->get,     r->maxrev,       r->compacted,
                           r->list,  r->list_open, r->history, r->history_open, r->byrev};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(r->db);
    free(r);
}

/* A reader connection, for one read transaction: holds the gate shared
 * until reader_put. */
static struct reader *reader_get(struct sq *q, wharf_error *err)
{
    pthread_rwlock_rdlock(&q->gate);
    pthread_mutex_lock(&q->rlock);
    struct reader *r = q->idle;
    if (r)
        q->idle = r->next;
    pthread_mutex_unlock(&q->rlock);
    if (r)
        return r;
    r = xcalloc(1, sizeof(*r));
    r->db = open_db(q->path, SQLITE_OPEN_READWRITE, err);
    if (!r->db || exec_sql(r->db, "PRAGMA query_only = 1", q->path, err) < 0 ||
        prepare(r->db, "BEGIN", &r->begin, err) < 0 ||
        prepare(r->db, "COMMIT", &r->commit, err) < 0 ||
        prepare(r->db, SQL_LATEST, &r->get, err) < 0 ||
        prepare(r->db, "SELECT coalesce(max(rev), 0) FROM kv", &r->maxrev, err) < 0 ||
        prepare(r->db, "SELECT value FROM meta WHERE name = 'compacted'", &r->compacted, err) < 0 ||
        prepare(r->db, SQL_LIST, &r->list, err) < 0 ||
        prepare(r->db, SQL_LIST_OPEN, &r->list_open, err) < 0 ||
        prepare(r->db, SQL_HISTORY, &r->history, err) < 0 ||
        prepare(r->db, SQL_HISTORY_OPEN, &r->history_open, err) < 0 ||
        prepare(r->db, "SELECT key, value, create_rev, deleted FROM kv WHERE rev = ?1", &r->byrev,
                err) < 0) {
        reader_free(r);
        pthread_rwlock_unlock(&q->gate);
        return NULL;
    }
    return r;
}

static void reader_put(struct sq *q, struct reader *r)
{
    if (!sqlite3_get_autocommit(r->db))
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&q->rlock);
    r->next = q->idle;
    q->idle = r;
    pthread_mutex_unlock(&q->rlock);
    pthread_rwlock_unlock(&q->gate);
}

static int64_t single_int(sqlite3_stmt *st, int *rc)
{
    int64_t v = 0;
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
        *rc = SQLITE_OK;
    } else if (*rc == SQLITE_DONE) {
        *rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return v;
}

/* Opens a read transaction and reads its revision and the compacted one. */
static int read_begin(struct reader *r, int64_t *current, int64_t *compacted, wharf_error *err)
{
    int rc = step_done(r->begin);
    if (rc == 0)
        *current = single_int(r->maxrev, &rc);
    if (rc == 0)
        *compacted = single_int(r->compacted, &rc);
    if (rc != 0)
        return sql_error(err, r->db, "read", NULL);
    return 0;
}

static int sq_get(struct kvstore *s, const char *key, struct kvstore_kv *out, wharf_error *err)
{
    struct sq *q = SQ(s);
    struct reader *r = reader_get(q, err);
    if (!r)
        return err->code;
    bind_key(r->get, 1, key);
    int rc = sqlite3_step(r->get);
    int ret = 0;
    if (rc == SQLITE_ROW && sqlite3_column_int(r->get, 2) == 0)
        column_kv(r->get, 4, 3, 1, sqlite3_column_int64(r->get, 0), out);
    else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        ret = wharf_error_set(err, -ENOENT, "key %s not found", key);
    else
        ret = sql_error(err, r->db, "get", key);
    sqlite3_reset(r->get);
    sqlite3_clear_bindings(r->get);
    reader_put(q, r);
    return ret;
}

static int sq_list(struct kvstore *s, const char *prefix, const char *end, int64_t revision,
                   size_t limit, const char *after, struct kvstore_list *out, wharf_error *err)
{
    struct sq *q = SQ(s);
    struct reader *r = reader_get(q, err);
    if (!r)
        return err->code;
    int64_t current = 0, compacted = 0;
    int ret = read_begin(r, &current, &compacted, err);
    if (ret < 0)
        goto out;
    if (revision == 0) {
        revision = current;
    } else if (revision > current) {
        ret = wharf_error_set(err, -EOVERFLOW,
                              "list %s: revision %lld is newer than the current revision %lld",
                              prefix, (long long)revision, (long long)current);
        goto out;
    } else if (revision < compacted) {
        ret = wharf_error_set(err, -ERANGE,
                              "list %s: revision %lld has been compacted (oldest available: %lld)",
                              prefix, (long long)revision, (long long)compacted);
        goto out;
    }
    /* Start at the prefix, or just past the continue key: after + "\0" is
     * the smallest key greater than after. */
    sqlite3_stmt *st = end ? r->list : r->list_open;
    if (after && kv_key_cmp(after, prefix) >= 0)
        sqlite3_bind_blob(st, 1, after, (int)strlen(after) + 1, SQLITE_STATIC);
    else
        bind_key(st, 1, prefix);
    if (end)
        bind_key(st, 2, end);
    sqlite3_bind_int64(st, 3, revision);
    sqlite3_bind_int64(st, 4, limit ? (int64_t)limit + 1 : -1);
    size_t alloc = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit && out->count == limit) {
            out->more = true;
            break;
        }
        if (out->count == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            out->items = xrealloc(out->items, alloc * sizeof(*out->items));
        }
        column_kv(st, 0, 1, 2, sqlite3_column_int64(st, 3), &out->items[out->count++]);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = sql_error(err, r->db, "list", prefix);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    out->revision = revision;
out:
    step_done(r->commit);
    reader_put(q, r);
    if (ret < 0)
        kvstore_list_release(out);
    return ret;
}

static int sq_current_revision(struct kvstore *s, int64_t *revision, wharf_error *err)
{
    *revision = atomic_load(&SQ(s)->current);
    return 0;
}

/* ---------------------------------------------------------------- writes */

struct row {
    bool found, deleted;
    int64_t rev, create_rev;
    struct kvstore_kv kv; /* when found and not deleted */
};

/* The key's newest row, read through the writer connection (under wlock). */
static int latest_row(struct sq *q, const char *key, struct row *row, wharf_error *err)
{
    memset(row, 0, sizeof(*row));
    bind_key(q->latest, 1, key);
    int rc = sqlite3_step(q->latest);
    if (rc == SQLITE_ROW) {
        row->found = true;
        row->rev = sqlite3_column_int64(q->latest, 0);
        row->create_rev = sqlite3_column_int64(q->latest, 1);
        row->deleted = sqlite3_column_int(q->latest, 2) != 0;
        if (!row->deleted)
            column_kv(q->latest, 4, 3, 1, row->rev, &row->kv);
    }
    sqlite3_reset(q->latest);
    sqlite3_clear_bindings(q->latest);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_error(err, q->w, "read", key);
    return 0;
}

/* Appends a row at the next revision (under wlock). */
static int append_row(struct sq *q, const char *key, const void *value, size_t len, bool deleted,
                      int64_t create_rev, int64_t prev_rev, int64_t *rev, wharf_error *err)
{
    int64_t next = q->rev + 1;
    sqlite3_bind_int64(q->insert, 1, next);
    bind_key(q->insert, 2, key);
    if (deleted)
        sqlite3_bind_null(q->insert, 3);
    else
        sqlite3_bind_blob64(q->insert, 3, value, len, SQLITE_STATIC);
    sqlite3_bind_int64(q->insert, 4, create_rev ? create_rev : next);
    sqlite3_bind_int64(q->insert, 5, prev_rev);
    sqlite3_bind_int(q->insert, 6, deleted);
    if (step_done(q->insert) != 0)
        return sql_error(err, q->w, "write", key);
    q->rev = next;
    atomic_store(&q->current, next);
    *rev = next;
    return 0;
}

/* Pushes a committed change to the watchers that want it (under fanout_lock,
 * in revision order). prev is moved into the event when there is one. */
static void fan_out(struct sq *q, enum kvstore_event_type type, int64_t rev, const char *key,
                    const void *value, size_t len, int64_t create_rev, struct kvstore_kv *prev)
{
    struct kvstore_event_ref *e = NULL;
    pthread_mutex_lock(&q->watch_lock);
    for (struct kvstore_watch *w = q->watchers; w; w = w->next_link) {
        if (rev < w->live_from || !kv_key_in_range(key, w->prefix, w->end))
            continue;
        if (!e) {
            struct kvstore_kv kv = {0};
            if (type == KVSTORE_EVENT_PUT)
                kv_set(&kv, key, strlen(key), value, len, create_rev, rev);
            else
                kv_set(&kv, key, strlen(key), NULL, 0, 0, rev);
            e = kv_event_new(type, rev, &kv, prev);
        }
        kv_watch_push(w, e);
    }
    pthread_mutex_unlock(&q->watch_lock);
    kv_event_unref(e);
}

/*
 * Called with wlock held after a commit; releases it. The fan-out runs after
 * the writer mutex is released, so the next write's SQLite work overlaps
 * this one's pushes; the fan-out mutex, taken before wlock is let go, keeps
 * the pushes in revision order.
 */
static void publish_and_unlock(struct sq *q, enum kvstore_event_type type, int64_t rev,
                               const char *key, const void *value, size_t len, int64_t create_rev,
                               struct kvstore_kv *prev)
{
    pthread_mutex_lock(&q->fanout_lock);
    pthread_mutex_unlock(&q->wlock);
    fan_out(q, type, rev, key, value, len, create_rev, prev);
    pthread_mutex_unlock(&q->fanout_lock);
}

static void note_write(struct sq *q);

static int sq_create(struct kvstore *s, const char *key, const void *value, size_t len,
                     int64_t *revision, wharf_error *err)
{
    struct sq *q = SQ(s);
    struct row row;
    pthread_mutex_lock(&q->wlock);
    int r = latest_row(q, key, &row, err);
    if (r == 0 && row.found && !row.deleted)
        r = wharf_error_set(err, -EEXIST, "key %s already exists", key);
    if (r == 0)
        r = append_row(q, key, value, len, false, 0, row.found ? row.rev : 0, revision, err);
    if (r == 0)
        publish_and_unlock(q, KVSTORE_EVENT_PUT, *revision, key, value, len, *revision, NULL);
    else
        pthread_mutex_unlock(&q->wlock);
    kvstore_kv_release(&row.kv);
    if (r == 0)
        note_write(q);
    return r;
}

/* The checks update and delete share: the key exists and, when expected is
 * set, still has that mod revision. */
static int check_current(const char *what, const char *key, const struct row *row, int64_t expected,
                         struct kvstore_kv *current, wharf_error *err)
{
    if (!row->found || row->deleted)
        return wharf_error_set(err, -ENOENT, "%s %s: key not found", what, key);
    if (expected && row->rev != expected) {
        if (current)
            kv_set(current, row->kv.key, strlen(row->kv.key), row->kv.value, row->kv.value_len,
                   row->kv.create_revision, row->kv.mod_revision);
        return wharf_error_set(err, -ECANCELED,
                               "%s %s: the object has been modified (revision %lld, expected %lld)",
                               what, key, (long long)row->rev, (long long)expected);
    }
    return 0;
}

static int sq_update(struct kvstore *s, const char *key, const void *value, size_t len,
                     int64_t expected, int64_t *revision, struct kvstore_kv *current,
                     wharf_error *err)
{
    struct sq *q = SQ(s);
    struct row row;
    pthread_mutex_lock(&q->wlock);
    int r = latest_row(q, key, &row, err);
    if (r == 0)
        r = check_current("update", key, &row, expected, current, err);
    if (r == 0)
        r = append_row(q, key, value, len, false, row.create_rev, row.rev, revision, err);
    if (r == 0)
        publish_and_unlock(q, KVSTORE_EVENT_PUT, *revision, key, value, len, row.create_rev,
                           &row.kv);
    else
        pthread_mutex_unlock(&q->wlock);
    kvstore_kv_release(&row.kv);
    if (r == 0)
        note_write(q);
    return r;
}

static int sq_delete(struct kvstore *s, const char *key, int64_t expected, int64_t *revision,
                     struct kvstore_kv *prev, wharf_error *err)
{
    struct sq *q = SQ(s);
    struct row row;
    pthread_mutex_lock(&q->wlock);
    int r = latest_row(q, key, &row, err);
    if (r == 0)
        r = check_current("delete", key, &row, expected, prev, err);
    if (r == 0)
        r = append_row(q, key, NULL, 0, true, row.create_rev, row.rev, revision, err);
    if (r == 0 && prev)
        kv_set(prev, row.kv.key, strlen(row.kv.key), row.kv.value, row.kv.value_len,
               row.kv.create_revision, row.kv.mod_revision);
    if (r == 0)
        publish_and_unlock(q, KVSTORE_EVENT_DELETE, *revision, key, NULL, 0, 0, &row.kv);
    else
        pthread_mutex_unlock(&q->wlock);
    kvstore_kv_release(&row.kv);
    if (r == 0)
        note_write(q);
    return r;
}

/* ---------------------------------------------------------------- compaction */

static int set_meta(struct sq *q, const char *name, int64_t value, wharf_error *err)
{
    sqlite3_bind_text(q->set_meta, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->set_meta, 2, value);
    if (step_done(q->set_meta) != 0)
        return sql_error(err, q->w, "compact: recording", name);
    return 0;
}

/*
 * Deletes what compaction at `target` makes unreachable, for the rows that
 * superseded others with revisions in (lo, hi]: the rows they superseded, and
 * tombstones below target. One short transaction per call.
 */
static int compact_batch(struct sq *q, int64_t lo, int64_t hi, int64_t target, wharf_error *err)
{
    pthread_mutex_lock(&q->wlock);
    int rc = step_done(q->begin);
    if (rc == 0) {
        sqlite3_bind_int64(q->compact_prev, 1, lo);
        sqlite3_bind_int64(q->compact_prev, 2, hi);
        rc = step_done(q->compact_prev);
    }
    if (rc == 0) {
        sqlite3_bind_int64(q->compact_tomb, 1, lo);
        sqlite3_bind_int64(q->compact_tomb, 2, hi);
        sqlite3_bind_int64(q->compact_tomb, 3, target);
        rc = step_done(q->compact_tomb);
    }
    int r = 0;
    if (rc == 0)
        r = set_meta(q, "compact_done", hi, err);
    else
        r = sql_error(err, q->w, "compact", NULL);
    if (r == 0 && step_done(q->commit) != 0)
        r = sql_error(err, q->w, "compact: commit", NULL);
    if (r < 0)
        step_done(q->rollback);
    pthread_mutex_unlock(&q->wlock);
    return r;
}

static int compact_range(struct sq *q, int64_t done, int64_t target, wharf_error *err)
{
    for (int64_t lo = done; lo < target;) {
        int64_t hi = lo + COMPACT_BATCH < target ? lo + COMPACT_BATCH : target;
        int r = compact_batch(q, lo, hi, target, err);
        if (r < 0)
            return r;
        lo = hi;
        note_write(q);
    }
    return 0;
}

static int64_t meta_value(struct sq *q, const char *name)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(q->w, "SELECT value FROM meta WHERE name = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static int sq_compact(struct kvstore *s, int64_t revision, wharf_error *err)
{
    struct sq *q = SQ(s);
    pthread_mutex_lock(&q->compact_lock);
    pthread_mutex_lock(&q->wlock);
    int64_t compacted = atomic_load(&q->compacted);
    int r = 0;
    if (revision > q->rev)
        r = wharf_error_set(err, -EOVERFLOW,
                            "compact: revision %lld is newer than the current revision %lld",
                            (long long)revision, (long long)q->rev);
    else if (revision <= compacted)
        r = wharf_error_set(err, -ERANGE,
                            "compact: revision %lld has been compacted (compacted revision %lld)",
                            (long long)revision, (long long)compacted);
    else
        r = set_meta(q, "compacted", revision, err);
    if (r == 0)
        atomic_store(&q->compacted, revision);
    /* Where the deletions of the previous compaction ended. */
    int64_t done = r == 0 ? meta_value(q, "compact_done") : 0;
    pthread_mutex_unlock(&q->wlock);
    if (r == 0)
        r = compact_range(q, done, revision, err);
    pthread_mutex_unlock(&q->compact_lock);
    return r;
}

/* ---------------------------------------------------------------- checkpoints */

static int on_wal_commit(void *data, sqlite3 *db, const char *name, int frames)
{
    struct sq *q = data;
    int before = atomic_exchange(&q->wal_frames, frames);
    int added = frames >= before ? frames - before : frames;
    atomic_fetch_add(&q->wal_written, added);
    return SQLITE_OK;
}

/*
 * Resets the log to empty: copies what is left into the database and
 * truncates the file. It holds the writer mutex (no frame is added
 * meanwhile) and the reader gate exclusively: in-flight reads finish, new
 * ones wait, so no reader can pin the log and the reset cannot be starved;
 * both wait only for the copy. A PASSIVE checkpoint running at the same
 * time makes it fail at once (SQLite does not call the busy handler for
 * that), so it retries until that one ends. Does nothing when the log has
 * been reset since min_frames was seen.
 */
static void truncate_wal(struct sq *q, int min_frames)
{
    pthread_mutex_lock(&q->wlock);
    if (atomic_load(&q->wal_frames) >= min_frames) {
        pthread_rwlock_wrlock(&q->gate);
        double deadline = wharf_now_ms() + BUSY_TIMEOUT_MS;
        int rc;
        while ((rc = sqlite3_wal_checkpoint_v2(q->w, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                               NULL)) == SQLITE_BUSY &&
               wharf_now_ms() < deadline) {
            struct timespec ts = {0, 500 * 1000L};
            nanosleep(&ts, NULL);
        }
        if (rc == SQLITE_OK)
            atomic_store(&q->wal_frames, 0);
        pthread_rwlock_unlock(&q->gate);
    }
    pthread_mutex_unlock(&q->wlock);
}

/*
 * After a write (outside wlock): enough new pages in the log wake the
 * maintenance thread. A log past WAL_HARD_FACTOR times the checkpoint size
 * means the maintenance thread is not keeping up (starved of CPU): the
 * writer resets it itself, at the price of that write's latency, so the log
 * stays bounded under any load.
 */
static void note_write(struct sq *q)
{
    int hard = (int)q->ckpt_pages * WAL_HARD_FACTOR;
    if (atomic_load(&q->wal_frames) >= hard)
        truncate_wal(q, hard);
    if (atomic_load(&q->wal_written) < (int)q->ckpt_pages)
        return;
    pthread_mutex_lock(&q->maint_lock);
    pthread_cond_signal(&q->maint_cond);
    pthread_mutex_unlock(&q->maint_lock);
}

/*
 * A PASSIVE checkpoint through the maintenance connection copies the log
 * into the database without blocking anyone; SQLite then reuses the log from
 * its start at the next commit if no reader still uses old frames. Readers
 * that always overlap prevent that, so a log grown past twice the
 * checkpoint size is reset.
 */
static void checkpoint(struct sq *q)
{
    atomic_store(&q->wal_written, 0);
    sqlite3_wal_checkpoint_v2(q->ck, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    int soft = (int)q->ckpt_pages * 2;
    if (atomic_load(&q->wal_frames) >= soft)
        truncate_wal(q, soft);
}

static void *maintenance(void *arg)
{
    struct sq *q = arg;
    pthread_mutex_lock(&q->maint_lock);
    while (!q->stop) {
        if (atomic_load(&q->wal_written) < (int)q->ckpt_pages) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&q->maint_cond, &q->maint_lock, &ts);
            if (q->stop)
                break;
            /* Once a second, settle whatever a quiet period left behind. */
            if (atomic_load(&q->wal_written) == 0)
                continue;
        }
        pthread_mutex_unlock(&q->maint_lock);
        checkpoint(q);
        pthread_mutex_lock(&q->maint_lock);
    }
    pthread_mutex_unlock(&q->maint_lock);
    return NULL;
}

/* ---------------------------------------------------------------- watch */

static int sq_watch_start(struct kvstore *s, struct kvstore_watch *w, wharf_error *err)
{
    struct sq *q = SQ(s);
    pthread_mutex_lock(&q->wlock);
    int64_t compacted = atomic_load(&q->compacted);
    if (w->from && w->from < compacted) {
        pthread_mutex_unlock(&q->wlock);
        return wharf_error_set(err, -ERANGE,
                               "watch %s: revision %lld has been compacted (oldest available: "
                               "%lld)",
                               w->prefix, (long long)w->from, (long long)compacted);
    }
    /* Registered under the writer mutex: every commit after q->rev reaches
     * the queue, everything up to it comes from the log. */
    w->live_from = w->from > q->rev ? w->from : q->rev + 1;
    if (w->from && w->from <= q->rev) {
        w->catchup_next = w->from;
        w->catchup_to = q->rev;
        w->backlog = xcalloc(CATCH_UP_BATCH, sizeof(*w->backlog));
    }
    pthread_mutex_lock(&q->watch_lock);
    w->prev_link = NULL;
    w->next_link = q->watchers;
    if (q->watchers)
        q->watchers->prev_link = w;
    q->watchers = w;
    pthread_mutex_unlock(&q->watch_lock);
    pthread_mutex_unlock(&q->wlock);
    return 0;
}

static void sq_watch_stop(struct kvstore *s, struct kvstore_watch *w)
{
    struct sq *q = SQ(s);
    pthread_mutex_lock(&q->watch_lock);
    if (w->prev_link)
        w->prev_link->next_link = w->next_link;
    else if (q->watchers == w)
        q->watchers = w->next_link;
    if (w->next_link)
        w->next_link->prev_link = w->prev_link;
    w->next_link = w->prev_link = NULL;
    pthread_mutex_unlock(&q->watch_lock);
}

static int sq_watch_catch_up(struct kvstore *s, struct kvstore_watch *w, wharf_error *err)
{
    struct sq *q = SQ(s);
    struct reader *r = reader_get(q, err);
    if (!r)
        return err->code;
    int64_t current = 0, compacted = 0;
    int ret = read_begin(r, &current, &compacted, err);
    if (ret < 0)
        goto out;
    if (w->catchup_next < compacted) {
        ret = wharf_error_set(err, -ERANGE,
                              "watch %s: revision %lld has been compacted (oldest available: %lld)",
                              w->prefix, (long long)w->catchup_next, (long long)compacted);
        goto out;
    }
    sqlite3_stmt *st = w->end ? r->history : r->history_open;
    sqlite3_bind_int64(st, 1, w->catchup_next);
    sqlite3_bind_int64(st, 2, w->catchup_to);
    bind_key(st, 3, w->prefix);
    if (w->end)
        bind_key(st, 4, w->end);
    sqlite3_bind_int(st, 5, CATCH_UP_BATCH);
    int rc, n = 0;
    int64_t last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rev = sqlite3_column_int64(st, 0), prev_rev = sqlite3_column_int64(st, 4);
        bool deleted = sqlite3_column_int(st, 5) != 0;
        struct kvstore_kv kv = {0}, prev = {0};
        if (deleted)
            kv_set(&kv, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), NULL, 0, 0,
                   rev);
        else
            column_kv(st, 1, 2, 3, rev, &kv);
        if (prev_rev > 0) {
            sqlite3_bind_int64(r->byrev, 1, prev_rev);
            if (sqlite3_step(r->byrev) == SQLITE_ROW && sqlite3_column_int(r->byrev, 3) == 0)
                column_kv(r->byrev, 0, 1, 2, prev_rev, &prev);
            sqlite3_reset(r->byrev);
        }
        w->backlog[w->backlog_count++] =
            kv_event_new(deleted ? KVSTORE_EVENT_DELETE : KVSTORE_EVENT_PUT, rev, &kv, &prev);
        kvstore_kv_release(&prev);
        last = rev;
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = sql_error(err, r->db, "watch: reading history of", w->prefix);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (ret == 0)
        w->catchup_next = n == CATCH_UP_BATCH ? last + 1 : w->catchup_to + 1;
out:
    step_done(r->commit);
    reader_put(q, r);
    return ret;
}

/* ---------------------------------------------------------------- open/close */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS kv ("
    " rev INTEGER PRIMARY KEY,"
    " key BLOB NOT NULL,"
    " value BLOB,"
    " create_rev INTEGER NOT NULL,"
    " prev_rev INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kv_key_rev ON kv (key, rev);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);";

static void sq_free(struct sq *q)
{
    if (!q)
        return;
    if (q->maint_running) {
        pthread_mutex_lock(&q->maint_lock);
        q->stop = true;
        pthread_cond_signal(&q->maint_cond);
        pthread_mutex_unlock(&q->maint_lock);
        pthread_join(q->maint, NULL);
    }
    while (q->idle) {
        struct reader *r = q->idle;
        q->idle = r->next;
        reader_free(r);
    }
    sqlite3_stmt *all[] = {q->latest, q->insert,   q->set_meta,     q->begin,
                           q->commit, q->rollback, q->compact_prev, q->compact_tomb};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(q->ck);
    /* The last connection to close checkpoints the log and removes it. */
    sqlite3_close(q->w);
    if (q->lock_fd >= 0)
        close(q->lock_fd);
    pthread_mutex_destroy(&q->wlock);
    pthread_mutex_destroy(&q->compact_lock);
    pthread_mutex_destroy(&q->rlock);
    pthread_rwlock_destroy(&q->gate);
    pthread_mutex_destroy(&q->watch_lock);
    pthread_mutex_destroy(&q->fanout_lock);
    pthread_mutex_destroy(&q->maint_lock);
    pthread_cond_destroy(&q->maint_cond);
    free(q->path);
    free(q);
}

static void sq_close(struct kvstore *s)
{
    struct sq *q = SQ(s);
    pthread_mutex_lock(&q->watch_lock);
    for (struct kvstore_watch *w = q->watchers; w;) {
        struct kvstore_watch *next = w->next_link;
        kv_watch_fail(w, -ESHUTDOWN, "watch of %s: store closed", w->prefix);
        w->next_link = w->prev_link = NULL;
        w = next;
    }
    q->watchers = NULL;
    pthread_mutex_unlock(&q->watch_lock);
    sq_free(q);
}

int kv_sqlite_open(struct kvstore *s, const char *path, wharf_error *err)
{
    if (path[0] != '/')
        return wharf_error_set(err, -EINVAL,
                               "datastore endpoint sqlite://%s: the path must be absolute "
                               "(sqlite:///PATH)",
                               path);
    _cleanup_free_ char *limit = NULL;
    struct sq *q = xcalloc(1, sizeof(*q));
    q->path = xstrdup(path);
    q->lock_fd = -1;
    q->ckpt_pages = s->opt.wal_checkpoint_pages;
    pthread_mutex_init(&q->wlock, NULL);
    pthread_mutex_init(&q->compact_lock, NULL);
    pthread_mutex_init(&q->rlock, NULL);
    /* Writer preference: a waiting reset is not starved by a stream of reads. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&q->gate, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&q->watch_lock, NULL);
    pthread_mutex_init(&q->fanout_lock, NULL);
    pthread_mutex_init(&q->maint_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->maint_cond, &ca);
    pthread_condattr_destroy(&ca);
    s->backend = q;

    int r = 0;
    char *slash = strrchr(q->path, '/');
    if (slash != q->path) {
        *slash = '\0';
        r = wharf_mkdir_p(q->path, 0700, err);
        *slash = '/';
        if (r < 0)
            goto fail;
    }
    /* One process owns the database: the revision counter and the watchers'
     * fan-out live in its memory. */
    q->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (q->lock_fd < 0) {
        r = wharf_error_errno(err, errno, "database %s", path);
        goto fail;
    }
    if (flock(q->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK
                ? wharf_error_set(err, -EBUSY, "database %s is in use by another process", path)
                : wharf_error_errno(err, errno, "database %s: flock", path);
        goto fail;
    }
    q->w = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
    if (!q->w) {
        r = err->code;
        goto fail;
    }
    /* synchronous=NORMAL in WAL mode: a commit survives a crash of the
     * process; on power loss the last commits may be lost, never the
     * database's consistency. */
    if ((r = exec_sql(q->w, "PRAGMA journal_mode = WAL", path, err)) < 0 ||
        (r = exec_sql(q->w, "PRAGMA synchronous = NORMAL", path, err)) < 0 ||
        (r = exec_sql(q->w, "PRAGMA wal_autocheckpoint = 0", path, err)) < 0 ||
        (r = exec_sql(q->w, SCHEMA, path, err)) < 0)
        goto fail;
    sqlite3_stmt *ps = NULL;
    if (sqlite3_prepare_v2(q->w, "PRAGMA page_size", -1, &ps, NULL) == SQLITE_OK &&
        sqlite3_step(ps) == SQLITE_ROW)
        q->page_size = (unsigned)sqlite3_column_int(ps, 0);
    sqlite3_finalize(ps);
    if (!q->page_size)
        q->page_size = 4096;
    limit = xasprintf("PRAGMA journal_size_limit = %llu",
                      (unsigned long long)q->ckpt_pages * q->page_size);
    if ((r = exec_sql(q->w, limit, path, err)) < 0)
        goto fail;
    if ((r = prepare(q->w, SQL_LATEST, &q->latest, err)) < 0 ||
        (r = prepare(q->w,
                     "INSERT INTO kv (rev, key, value, create_rev, prev_rev, deleted)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     &q->insert, err)) < 0 ||
        (r = prepare(q->w,
                     "INSERT INTO meta (name, value) VALUES (?1, ?2)"
                     " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     &q->set_meta, err)) < 0 ||
        (r = prepare(q->w, "BEGIN IMMEDIATE", &q->begin, err)) < 0 ||
        (r = prepare(q->w, "COMMIT", &q->commit, err)) < 0 ||
        (r = prepare(q->w, "ROLLBACK", &q->rollback, err)) < 0 ||
        (r = prepare(q->w,
                     "DELETE FROM kv WHERE rev IN"
                     " (SELECT prev_rev FROM kv WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0)",
                     &q->compact_prev, err)) < 0 ||
        (r = prepare(q->w,
                     "DELETE FROM kv WHERE rev >= ?1 AND rev <= ?2 AND rev < ?3 AND deleted = 1",
                     &q->compact_tomb, err)) < 0)
        goto fail;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->w, "SELECT coalesce(max(rev), 0) FROM kv", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        r = sql_error(err, q->w, "database", path);
        goto fail;
    }
    q->rev = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    atomic_store(&q->current, q->rev);
    atomic_store(&q->compacted, meta_value(q, "compacted"));

    q->ck = open_db(path, SQLITE_OPEN_READWRITE, err);
    if (!q->ck) {
        r = err->code;
        goto fail;
    }
    /* A connection learns that the database is in WAL mode when it first
     * reads it; until then a checkpoint through it does nothing. */
    if ((r = exec_sql(q->ck, "SELECT count(*) FROM meta", path, err)) < 0)
        goto fail;
    sqlite3_busy_timeout(q->ck, 0);
    sqlite3_wal_hook(q->w, on_wal_commit, q);
    /* Finish a compaction a previous process was stopped in. */
    int64_t done = meta_value(q, "compact_done"), target = atomic_load(&q->compacted);
    if (done < target && (r = compact_range(q, done, target, err)) < 0)
        goto fail;
    if (pthread_create(&q->maint, NULL, maintenance, q) != 0) {
        r = wharf_error_set(err, -EAGAIN, "database %s: cannot start its maintenance thread", path);
        goto fail;
    }
    q->maint_running = true;
    return 0;
fail:
    sq_free(q);
    s->backend = NULL;
    return r;
}

const struct kvstore_ops kv_sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .get = sq_get,
    .list = sq_list,
    .current_revision = sq_current_revision,
    .create = sq_create,
    .update = sq_update,
    .del = sq_delete,
    .compact = sq_compact,
    .watch_start = sq_watch_start,
    .watch_catch_up = sq_watch_catch_up,
    .watch_stop = sq_watch_stop,
};
