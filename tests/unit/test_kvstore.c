/*
 * The store suite: one table of tests run against every backend (SQLite in
 * a temporary directory, and a private one-member etcd started for the
 * run), then backend-specific tests: SQLite's bounded WAL under churn,
 * writers that never see "database is locked", persistence, the
 * single-process lock; etcd failover in a three-member cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "etcdrun.h"
#include "kvstore.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WAIT_MS 10000

struct backend {
    const char *name;
    bool sqlite;
};
static const struct backend SQLITE = {"sqlite", true};
static const struct backend ETCD = {"etcd", false};

static struct etcdrun etcd1; /* the shared one-member etcd */
static bool etcd_up;

struct fx {
    const struct backend *b;
    char dir[64];
    char endpoint[512];
    struct kvstore *s;
};

static struct kvstore *open_store(struct fx *f, const struct kvstore_options *opt)
{
    wharf_error err = {0};
    struct kvstore *s = kvstore_open(f->endpoint, opt, &err);
    if (!s)
        fail_msg("open %s: %s", f->endpoint, err.msg);
    return s;
}

/* Removes every key, so each test on the shared etcd starts empty. */
static void wipe(struct kvstore *s)
{
    wharf_error err = {0};
    struct kvstore_list l;
    assert_int_equal(kvstore_list(s, "", 0, 0, NULL, &l, &err), 0);
    for (size_t i = 0; i < l.count; i++)
        assert_int_equal(kvstore_delete(s, l.items[i].key, 0, NULL, NULL, &err), 0);
    kvstore_list_release(&l);
}

static int fx_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    f->b = *state;
    if (f->b->sqlite) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/wharf-kv-XXXXXX");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->endpoint, sizeof(f->endpoint), "sqlite://%s/data/state.db", f->dir);
    } else if (etcd_up) {
        snprintf(f->endpoint, sizeof(f->endpoint), "%s", etcd1.endpoints);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    kvstore_close(f->s);
    if (f->dir[0])
        wharf_rm_rf(f->dir, NULL);
    free(f);
    return 0;
}

/* The fixture with an open, empty store; skips when the backend is missing. */
static struct fx *fx(void **state)
{
    struct fx *f = *state;
    if (!f->endpoint[0])
        skip();
    f->s = open_store(f, NULL);
    if (!f->b->sqlite)
        wipe(f->s);
    return f;
}

static int64_t create(struct kvstore *s, const char *key, const char *value)
{
    wharf_error err = {0};
    int64_t rev = 0;
    int r = kvstore_create(s, key, value, strlen(value), &rev, &err);
    if (r < 0)
        fail_msg("create %s: %s", key, err.msg);
    assert_true(rev > 0);
    return rev;
}

static int64_t update(struct kvstore *s, const char *key, const char *value, int64_t expected)
{
    wharf_error err = {0};
    int64_t rev = 0;
    int r = kvstore_update(s, key, value, strlen(value), expected, &rev, NULL, &err);
    if (r < 0)
        fail_msg("update %s: %s", key, err.msg);
    return rev;
}

static int64_t current(struct kvstore *s)
{
    wharf_error err = {0};
    int64_t rev = -1;
    assert_int_equal(kvstore_current_revision(s, &rev, &err), 0);
    return rev;
}

static void assert_value(const struct kvstore_kv *kv, const char *key, const char *value)
{
    assert_string_equal(kv->key, key);
    assert_int_equal(kv->value_len, strlen(value));
    assert_memory_equal(kv->value, value, strlen(value));
}

/* The next event, which must be of this type, key and value (NULL: any). */
static const struct kvstore_event *expect_event(struct kvstore_watch *w,
                                                enum kvstore_event_type type, const char *key,
                                                const char *value)
{
    const struct kvstore_event *ev = NULL;
    wharf_error err = {0};
    int r = kvstore_watch_next(w, WAIT_MS, &ev, &err);
    if (r != 1)
        fail_msg("waiting for %s %s: %d %s", type == KVSTORE_EVENT_PUT ? "PUT" : "DELETE", key, r,
                 err.msg);
    assert_int_equal(ev->type, type);
    assert_string_equal(ev->kv.key, key);
    assert_int_equal(ev->kv.mod_revision, ev->revision);
    if (value)
        assert_value(&ev->kv, key, value);
    return ev;
}

/* ---------------------------------------------------------------- the table */

static void test_create_get(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    int64_t before = current(f->s);
    int64_t rev = create(f->s, "/registry/pods/default/web", "{\"kind\":\"Pod\"}");
    assert_true(rev > before);
    assert_int_equal(current(f->s), rev);

    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, "/registry/pods/default/web", &kv, &err), 0);
    assert_value(&kv, "/registry/pods/default/web", "{\"kind\":\"Pod\"}");
    assert_int_equal(kv.create_revision, rev);
    assert_int_equal(kv.mod_revision, rev);
    kvstore_kv_release(&kv);

    /* create-if-absent: a second create fails and changes nothing */
    assert_int_equal(kvstore_create(f->s, "/registry/pods/default/web", "x", 1, NULL, &err),
                     -EEXIST);
    assert_non_null(strstr(err.msg, "/registry/pods/default/web"));
    assert_int_equal(current(f->s), rev);

    assert_int_equal(kvstore_get(f->s, "/registry/pods/default/nope", &kv, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/registry/pods/default/nope"));
    assert_int_equal(kvstore_get(f->s, "", &kv, &err), -EINVAL);

    /* empty values are values */
    int64_t r2 = 0;
    assert_int_equal(kvstore_create(f->s, "/registry/configmaps/default/empty", "", 0, &r2, &err),
                     0);
    assert_int_equal(kvstore_get(f->s, "/registry/configmaps/default/empty", &kv, &err), 0);
    assert_int_equal(kv.value_len, 0);
    kvstore_kv_release(&kv);
}

static void test_update_conflict(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    const char *key = "/registry/deployments/default/api";
    int64_t r1 = create(f->s, key, "v1");
    int64_t r2 = update(f->s, key, "v2", r1);
    assert_true(r2 > r1);

    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, key, &kv, &err), 0);
    assert_value(&kv, key, "v2");
    assert_int_equal(kv.create_revision, r1);
    assert_int_equal(kv.mod_revision, r2);
    kvstore_kv_release(&kv);

    /* a stale resourceVersion loses, and gets the current object back */
    struct kvstore_kv cur;
    int64_t rev = 0;
    assert_int_equal(kvstore_update(f->s, key, "v3", 2, r1, &rev, &cur, &err), -ECANCELED);
    assert_non_null(strstr(err.msg, key));
    assert_value(&cur, key, "v2");
    assert_int_equal(cur.mod_revision, r2);
    assert_int_equal(cur.create_revision, r1);
    kvstore_kv_release(&cur);
    assert_int_equal(current(f->s), r2);

    /* unconditional update of an existing key */
    int64_t r3 = update(f->s, key, "v3", 0);
    assert_true(r3 > r2);
    /* updates never create */
    assert_int_equal(
        kvstore_update(f->s, "/registry/deployments/default/none", "x", 1, 0, NULL, NULL, &err),
        -ENOENT);
    assert_int_equal(
        kvstore_update(f->s, "/registry/deployments/default/none", "x", 1, r3, NULL, &cur, &err),
        -ENOENT);
    assert_null(cur.key);
}

static void test_delete_conflict(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    const char *key = "/registry/secrets/kube-system/token";
    int64_t r1 = create(f->s, key, "s1");
    int64_t r2 = update(f->s, key, "s2", r1);

    struct kvstore_kv prev;
    int64_t rev = 0;
    assert_int_equal(kvstore_delete(f->s, key, r1, &rev, &prev, &err), -ECANCELED);
    assert_value(&prev, key, "s2");
    assert_int_equal(prev.mod_revision, r2);
    kvstore_kv_release(&prev);

    assert_int_equal(kvstore_delete(f->s, key, r2, &rev, &prev, &err), 0);
    assert_true(rev > r2);
    assert_value(&prev, key, "s2");
    assert_int_equal(prev.create_revision, r1);
    assert_int_equal(prev.mod_revision, r2);
    kvstore_kv_release(&prev);
    assert_int_equal(current(f->s), rev);

    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, key, &kv, &err), -ENOENT);
    assert_int_equal(kvstore_delete(f->s, key, 0, NULL, NULL, &err), -ENOENT);

    /* a re-created key starts a new life */
    int64_t r4 = create(f->s, key, "s3");
    assert_true(r4 > rev);
    assert_int_equal(kvstore_get(f->s, key, &kv, &err), 0);
    assert_int_equal(kv.create_revision, r4);
    kvstore_kv_release(&kv);
    assert_int_equal(kvstore_delete(f->s, key, 0, NULL, NULL, &err), 0);
}

static void assert_list(struct kvstore *s, const char *prefix, int64_t rev, const char *expect)
{
    wharf_error err = {0};
    struct kvstore_list l;
    int r = kvstore_list(s, prefix, rev, 0, NULL, &l, &err);
    if (r < 0)
        fail_msg("list %s at %lld: %s", prefix, (long long)rev, err.msg);
    strbuf got = STRBUF_INIT;
    for (size_t i = 0; i < l.count; i++)
        strbuf_addf(&got, "%s%s=%s", i ? " " : "", l.items[i].key + strlen(prefix),
                    (char *)l.items[i].value);
    assert_string_equal(strbuf_str(&got), expect);
    if (rev)
        assert_int_equal(l.revision, rev);
    strbuf_release(&got);
    kvstore_list_release(&l);
}

static void test_list_at_revisions(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    const char *p = "/registry/services/default/";
    int64_t ra = create(f->s, "/registry/services/default/a", "a1");
    int64_t rb = create(f->s, "/registry/services/default/b", "b1");
    int64_t rc = create(f->s, "/registry/services/default/c", "c1");
    int64_t rb2 = update(f->s, "/registry/services/default/b", "b2", rb);
    int64_t rdel = 0;
    assert_int_equal(kvstore_delete(f->s, "/registry/services/default/a", 0, &rdel, NULL, &err), 0);
    int64_t ra2 = create(f->s, "/registry/services/default/a", "a2");

    assert_list(f->s, p, ra, "a=a1");
    assert_list(f->s, p, rb, "a=a1 b=b1");
    assert_list(f->s, p, rc, "a=a1 b=b1 c=c1");
    assert_list(f->s, p, rb2, "a=a1 b=b2 c=c1");
    assert_list(f->s, p, rdel, "b=b2 c=c1");
    assert_list(f->s, p, ra2, "a=a2 b=b2 c=c1");
    assert_list(f->s, p, 0, "a=a2 b=b2 c=c1");

    struct kvstore_list l;
    assert_int_equal(kvstore_list(f->s, p, 0, 0, NULL, &l, &err), 0);
    assert_int_equal(l.revision, ra2);
    assert_false(l.more);
    assert_int_equal(l.items[0].create_revision, ra2);
    assert_int_equal(l.items[1].create_revision, rb);
    assert_int_equal(l.items[1].mod_revision, rb2);
    kvstore_list_release(&l);

    assert_int_equal(kvstore_list(f->s, p, ra2 + 100, 0, NULL, &l, &err), -EOVERFLOW);
    assert_int_equal(kvstore_list(f->s, p, -1, 0, NULL, &l, &err), -EINVAL);
}

static void test_pagination(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    char key[96], val[16];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "/registry/configmaps/ns/cm-%02d", i);
        snprintf(val, sizeof(val), "%d", i);
        create(f->s, key, val);
    }
    struct kvstore_list page;
    assert_int_equal(kvstore_list(f->s, "/registry/configmaps/ns/", 0, 10, NULL, &page, &err), 0);
    assert_int_equal(page.count, 10);
    assert_true(page.more);
    int64_t rev = page.revision;
    assert_string_equal(page.items[9].key, "/registry/configmaps/ns/cm-09");
    char *last = xstrdup(page.items[9].key);
    kvstore_list_release(&page);

    /* changes after the first page do not show in the next ones */
    wharf_error e2 = {0};
    assert_int_equal(kvstore_delete(f->s, "/registry/configmaps/ns/cm-15", 0, NULL, NULL, &e2), 0);
    create(f->s, "/registry/configmaps/ns/cm-125", "new");

    int seen = 10;
    for (int round = 0; round < 5; round++) {
        assert_int_equal(kvstore_list(f->s, "/registry/configmaps/ns/", rev, 10, last, &page, &err),
                         0);
        assert_int_equal(page.revision, rev);
        for (size_t i = 0; i < page.count; i++) {
            snprintf(key, sizeof(key), "/registry/configmaps/ns/cm-%02d", seen++);
            assert_string_equal(page.items[i].key, key);
        }
        free(last);
        last = page.count ? xstrdup(page.items[page.count - 1].key) : NULL;
        bool more = page.more;
        kvstore_list_release(&page);
        if (!more)
            break;
    }
    assert_int_equal(seen, 25);
    free(last);

    /* the current state has the change */
    assert_int_equal(kvstore_list(f->s, "/registry/configmaps/ns/", 0, 0, NULL, &page, &err), 0);
    assert_int_equal(page.count, 25);
    assert_string_equal(page.items[13].key, "/registry/configmaps/ns/cm-125");
    kvstore_list_release(&page);
    /* an exact page boundary: 25 items, limit 25, nothing more */
    assert_int_equal(kvstore_list(f->s, "/registry/configmaps/ns/", 0, 25, NULL, &page, &err), 0);
    assert_int_equal(page.count, 25);
    assert_false(page.more);
    kvstore_list_release(&page);
}

static void test_prefix_siblings(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    create(f->s, "/registry/pods/a", "1");
    create(f->s, "/registry/pods/ns/b", "2");
    create(f->s, "/registry/podsx/c", "3");
    create(f->s, "/registry/pods0", "4"); /* '0' is '/' + 1 */
    create(f->s, "/registry/pod", "5");
    /* SQL LIKE wildcards must be plain bytes */
    create(f->s, "/registry/a_b/x", "6");
    create(f->s, "/registry/axb/y", "7");
    create(f->s, "/registry/a%b/z", "8");

    assert_list(f->s, "/registry/pods/", 0, "a=1 ns/b=2");
    assert_list(f->s, "/registry/pods/ns/", 0, "b=2");
    assert_list(f->s, "/registry/a_b/", 0, "x=6");
    assert_list(f->s, "/registry/a%b/", 0, "z=8");
    assert_list(f->s, "/registry/nothing/", 0, "");

    struct kvstore_list l;
    assert_int_equal(kvstore_list(f->s, "", 0, 0, NULL, &l, &err), 0);
    assert_int_equal(l.count, 8);
    kvstore_list_release(&l);

    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/pods/", 0, &w, &err), 0);
    create(f->s, "/registry/podsx/d", "9");
    create(f->s, "/registry/pods0x", "10");
    create(f->s, "/registry/pods/e", "11");
    kvstore_event_unref(expect_event(w, KVSTORE_EVENT_PUT, "/registry/pods/e", "11"));
    const struct kvstore_event *ev;
    assert_int_equal(kvstore_watch_next(w, 200, &ev, &err), 0);
    kvstore_watch_close(w);
}

static void test_watch_live(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    const char *key = "/registry/pods/default/live";
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/pods/", 0, &w, &err), 0);
    const struct kvstore_event *ev;
    assert_int_equal(kvstore_watch_next(w, 100, &ev, &err), 0); /* nothing yet */

    int64_t r1 = create(f->s, key, "one");
    int64_t r2 = update(f->s, key, "two", r1);
    int64_t r3 = 0;
    assert_int_equal(kvstore_delete(f->s, key, r2, &r3, NULL, &err), 0);

    ev = expect_event(w, KVSTORE_EVENT_PUT, key, "one");
    assert_int_equal(ev->revision, r1);
    assert_int_equal(ev->kv.create_revision, r1);
    assert_false(ev->has_prev);
    kvstore_event_unref(ev);

    ev = expect_event(w, KVSTORE_EVENT_PUT, key, "two");
    assert_int_equal(ev->revision, r2);
    assert_int_equal(ev->kv.create_revision, r1);
    assert_true(ev->has_prev);
    assert_value(&ev->prev, key, "one");
    assert_int_equal(ev->prev.mod_revision, r1);
    kvstore_event_unref(ev);

    ev = expect_event(w, KVSTORE_EVENT_DELETE, key, NULL);
    assert_int_equal(ev->revision, r3);
    assert_int_equal(ev->kv.value_len, 0);
    assert_true(ev->has_prev);
    assert_value(&ev->prev, key, "two");
    kvstore_event_unref(ev);

    /* a failed write makes no event */
    assert_int_equal(kvstore_update(f->s, key, "x", 1, 0, NULL, NULL, &err), -ENOENT);
    assert_int_equal(kvstore_watch_next(w, 200, &ev, &err), 0);
    kvstore_watch_close(w);
}

static void test_watch_from_past(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    int64_t r1 = create(f->s, "/registry/leases/ns/a", "a1");
    create(f->s, "/registry/other/x", "o");
    int64_t r2 = update(f->s, "/registry/leases/ns/a", "a2", r1);
    int64_t r3 = create(f->s, "/registry/leases/ns/b", "b1");
    assert_int_equal(kvstore_delete(f->s, "/registry/leases/ns/b", 0, NULL, NULL, &err), 0);

    /* from r2: history (r2, r3, the delete), then live changes, in order */
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/leases/", r2, &w, &err), 0);
    int64_t r5 = update(f->s, "/registry/leases/ns/a", "a3", r2);

    const struct kvstore_event *ev =
        expect_event(w, KVSTORE_EVENT_PUT, "/registry/leases/ns/a", "a2");
    assert_int_equal(ev->revision, r2);
    assert_true(ev->has_prev);
    assert_value(&ev->prev, "/registry/leases/ns/a", "a1");
    kvstore_event_unref(ev);
    ev = expect_event(w, KVSTORE_EVENT_PUT, "/registry/leases/ns/b", "b1");
    assert_int_equal(ev->revision, r3);
    assert_false(ev->has_prev);
    kvstore_event_unref(ev);
    ev = expect_event(w, KVSTORE_EVENT_DELETE, "/registry/leases/ns/b", NULL);
    assert_value(&ev->prev, "/registry/leases/ns/b", "b1");
    kvstore_event_unref(ev);
    ev = expect_event(w, KVSTORE_EVENT_PUT, "/registry/leases/ns/a", "a3");
    assert_int_equal(ev->revision, r5);
    kvstore_event_unref(ev);
    kvstore_watch_close(w);

    /* a long history is delivered whole and in order, while writes go on */
    int64_t first = current(f->s) + 1;
    char key[64];
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "/registry/leases/bulk/%03d", i);
        create(f->s, key, "x");
    }
    assert_int_equal(kvstore_watch(f->s, "/registry/leases/bulk/", first, &w, &err), 0);
    for (int i = 600; i < 700; i++) {
        snprintf(key, sizeof(key), "/registry/leases/bulk/%03d", i);
        create(f->s, key, "x");
    }
    int64_t last = 0;
    for (int i = 0; i < 700; i++) {
        snprintf(key, sizeof(key), "/registry/leases/bulk/%03d", i);
        ev = expect_event(w, KVSTORE_EVENT_PUT, key, "x");
        assert_true(ev->revision > last);
        last = ev->revision;
        kvstore_event_unref(ev);
    }
    kvstore_watch_close(w);
}

/* A watch from a compacted revision fails, from kvstore_watch or (etcd may
 * accept first) from the first kvstore_watch_next. */
static int watch_error(struct kvstore *s, const char *prefix, int64_t from, wharf_error *err)
{
    struct kvstore_watch *w = NULL;
    int r = kvstore_watch(s, prefix, from, &w, err);
    if (r < 0)
        return r;
    const struct kvstore_event *ev = NULL;
    r = kvstore_watch_next(w, WAIT_MS, &ev, err);
    if (ev)
        kvstore_event_unref(ev);
    kvstore_watch_close(w);
    return r;
}

static void test_compaction(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    const char *p = "/registry/events/ns/";
    int64_t r1 = create(f->s, "/registry/events/ns/a", "a1");
    int64_t r2 = update(f->s, "/registry/events/ns/a", "a2", r1);
    int64_t r3 = create(f->s, "/registry/events/ns/b", "b1");
    int64_t r4 = 0;
    assert_int_equal(kvstore_delete(f->s, "/registry/events/ns/b", 0, &r4, NULL, &err), 0);
    int64_t r5 = update(f->s, "/registry/events/ns/a", "a3", r2);
    (void)r3;

    assert_int_equal(kvstore_compact(f->s, r4, &err), 0);
    /* what was current at r4 is still readable at r4 and later */
    assert_list(f->s, p, r4, "a=a2");
    assert_list(f->s, p, r5, "a=a3");
    assert_list(f->s, p, 0, "a=a3");
    struct kvstore_list l;
    assert_int_equal(kvstore_list(f->s, p, r2, 0, NULL, &l, &err), -ERANGE);
    assert_int_equal(kvstore_list(f->s, p, r4 - 1, 0, NULL, &l, &err), -ERANGE);

    /* watches from before the compaction: 410 Gone for the API */
    assert_int_equal(watch_error(f->s, p, r2, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "compacted"));
    /* from the compacted revision on, history is whole */
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, p, r4 + 1, &w, &err), 0);
    const struct kvstore_event *ev =
        expect_event(w, KVSTORE_EVENT_PUT, "/registry/events/ns/a", "a3");
    assert_int_equal(ev->revision, r5);
    kvstore_event_unref(ev);
    kvstore_watch_close(w);

    /* compacting again at or below is refused, so is the future */
    assert_int_equal(kvstore_compact(f->s, r4, &err), -ERANGE);
    assert_int_equal(kvstore_compact(f->s, r5 + 1000, &err), -EOVERFLOW);
    assert_int_equal(kvstore_compact(f->s, 0, &err), -EINVAL);

    /* compaction keeps the live objects whatever their age */
    int64_t r6 = create(f->s, "/registry/events/ns/c", "c1");
    assert_int_equal(kvstore_compact(f->s, r6, &err), 0);
    assert_list(f->s, p, 0, "a=a3 c=c1");
    assert_list(f->s, p, r6, "a=a3 c=c1");
    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, "/registry/events/ns/a", &kv, &err), 0);
    assert_int_equal(kv.create_revision, r1);
    assert_int_equal(kv.mod_revision, r5);
    kvstore_kv_release(&kv);
    assert_int_equal(current(f->s), r6);
    /* updates after compaction still compare against the right revision */
    update(f->s, "/registry/events/ns/a", "a4", r5);
}

static void test_large_values(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    size_t len = 1 << 20;
    _cleanup_free_ uint8_t *big = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 11)); /* every byte value, NULs included */
    const char *key = "/registry/configmaps/default/big";
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/configmaps/", 0, &w, &err), 0);
    int64_t rev = 0;
    assert_int_equal(kvstore_create(f->s, key, big, len, &rev, &err), 0);
    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, key, &kv, &err), 0);
    assert_int_equal(kv.value_len, len);
    assert_memory_equal(kv.value, big, len);
    kvstore_kv_release(&kv);

    big[0] ^= 0xff;
    int64_t rev2 = 0;
    assert_int_equal(kvstore_update(f->s, key, big, len, rev, &rev2, NULL, &err), 0);
    struct kvstore_list l;
    assert_int_equal(kvstore_list(f->s, "/registry/configmaps/default/", 0, 0, NULL, &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_memory_equal(l.items[0].value, big, len);
    kvstore_list_release(&l);

    const struct kvstore_event *ev = expect_event(w, KVSTORE_EVENT_PUT, key, NULL);
    assert_int_equal(ev->kv.value_len, len);
    kvstore_event_unref(ev);
    ev = expect_event(w, KVSTORE_EVENT_PUT, key, NULL);
    assert_memory_equal(ev->kv.value, big, len);
    assert_true(ev->has_prev);
    assert_int_equal(ev->prev.value_len, len);
    assert_int_equal(ev->prev.value[0], big[0] ^ 0xff);
    kvstore_event_unref(ev);
    kvstore_watch_close(w);
}

#define WRITERS 4
#define PER_WRITER 50

struct writer_arg {
    struct kvstore *s;
    int id;
    int errors;
    int conflicts;
    char msg[1024];
};

/* Distinct creates, plus increments of one shared counter by
 * read-compare-and-swap, retried on conflict as the API's clients do. */
static void *writer(void *p)
{
    struct writer_arg *a = p;
    wharf_error err = {0};
    char key[64], val[32];
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(key, sizeof(key), "/registry/pods/w%d/p%03d", a->id, i);
        if (kvstore_create(a->s, key, "x", 1, NULL, &err) < 0) {
            a->errors++;
            snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
        }
        for (;;) {
            struct kvstore_kv kv;
            if (kvstore_get(a->s, "/registry/counters/c", &kv, &err) < 0) {
                a->errors++;
                snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
                break;
            }
            snprintf(val, sizeof(val), "%ld", strtol((char *)kv.value, NULL, 10) + 1);
            int r =
                kvstore_update(a->s, kv.key, val, strlen(val), kv.mod_revision, NULL, NULL, &err);
            kvstore_kv_release(&kv);
            if (r == 0)
                break;
            if (r != -ECANCELED) {
                a->errors++;
                snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
                break;
            }
            a->conflicts++;
        }
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    create(f->s, "/registry/counters/c", "0");
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/", 0, &w, &err), 0);
    pthread_t t[WRITERS];
    struct writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct writer_arg){.s = f->s, .id = i};
        pthread_create(&t[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        if (args[i].errors)
            fail_msg("writer %d: %d errors, last: %s", i, args[i].errors, args[i].msg);
    }
    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(f->s, "/registry/counters/c", &kv, &err), 0);
    assert_string_equal((char *)kv.value, "200"); /* WRITERS * PER_WRITER: no lost update */
    kvstore_kv_release(&kv);
    struct kvstore_list l;
    assert_int_equal(kvstore_list(f->s, "/registry/pods/", 0, 0, NULL, &l, &err), 0);
    assert_int_equal(l.count, WRITERS * PER_WRITER);
    kvstore_list_release(&l);

    /* the watcher saw every change once, in strictly increasing order */
    int64_t last = 0;
    int n = 0;
    const struct kvstore_event *ev;
    while (n < 2 * WRITERS * PER_WRITER) {
        int r = kvstore_watch_next(w, WAIT_MS, &ev, &err);
        if (r != 1)
            fail_msg("after %d events: %d %s", n, r, err.msg);
        assert_true(ev->revision > last);
        last = ev->revision;
        kvstore_event_unref(ev);
        n++;
    }
    assert_int_equal(last, current(f->s));
    assert_int_equal(kvstore_watch_next(w, 100, &ev, &err), 0);
    kvstore_watch_close(w);
}

/* A watcher nobody reads: writers are not slowed, it is closed with -ENOBUFS. */
static void test_slow_watcher(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    struct kvstore_options opt = {.watch_queue_events = 16};
    kvstore_close(f->s); /* SQLite: one handle per database */
    struct kvstore *s = f->s = open_store(f, &opt);
    struct kvstore_watch *slow, *fast;
    assert_int_equal(kvstore_watch(s, "/registry/", 0, &slow, &err), 0);
    assert_int_equal(kvstore_watch(s, "/registry/", 0, &fast, &err), 0);
    char key[64];
    const struct kvstore_event *ev;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "/registry/pods/ns/p%03d", i);
        create(s, key, "x");
        kvstore_event_unref(expect_event(fast, KVSTORE_EVENT_PUT, key, "x"));
    }
    /* a slow consumer may still drain what was queued, then gets the error */
    int r, got = 0;
    while ((r = kvstore_watch_next(slow, WAIT_MS, &ev, &err)) == 1) {
        kvstore_event_unref(ev);
        got++;
    }
    assert_int_equal(r, -ENOBUFS);
    assert_true(got <= 16);
    assert_non_null(strstr(err.msg, "behind"));
    /* and stays closed */
    assert_int_equal(kvstore_watch_next(slow, 0, &ev, &err), -ENOBUFS);
    kvstore_watch_close(slow);
    kvstore_watch_close(fast);
}

struct canceller {
    struct kvstore_watch *w;
};

static void *cancel_later(void *p)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    kvstore_watch_cancel(p);
    return NULL;
}

static void test_watch_cancel_and_close(void **state)
{
    struct fx *f = fx(state);
    wharf_error err = {0};
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/", 0, &w, &err), 0);
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, w);
    const struct kvstore_event *ev;
    double start = wharf_now_ms();
    assert_int_equal(kvstore_watch_next(w, 20000, &ev, &err), -ECANCELED);
    assert_true(wharf_now_ms() - start < 5000);
    pthread_join(t, NULL);
    kvstore_watch_close(w);

    assert_int_equal(kvstore_watch(f->s, "/registry/", -1, &w, &err), -EINVAL);
    assert_string_equal(kvstore_backend(f->s), f->b->name);

    /* closing the store ends its watchers; they are still closed by their owners */
    assert_int_equal(kvstore_watch(f->s, "/registry/", 0, &w, &err), 0);
    kvstore_close(f->s);
    f->s = NULL;
    assert_int_equal(kvstore_watch_next(w, 1000, &ev, &err), -ESHUTDOWN);
    kvstore_watch_close(w);
}

/* ---------------------------------------------------------------- endpoints */

static void test_bad_endpoints(void **state)
{
    (void)state;
    wharf_error err = {0};
    const char *bad[] = {"",
                         "ftp://x",
                         "sqlite://relative/db",
                         "http://nohostport",
                         "http://h:1/path",
                         "https://127.0.0.1:2379",
                         "http://127.0.0.1:1,ftp://y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(kvstore_open(bad[i], NULL, &err));
        assert_int_equal(err.code, -EINVAL);
        if (*bad[i] && !strchr(bad[i], ','))
            assert_non_null(strstr(err.msg, bad[i]));
    }
    /* nothing listening: every endpoint tried, each named */
    struct kvstore *s = kvstore_open("http://127.0.0.1:1,http://127.0.0.1:2", NULL, &err);
    assert_non_null(s);
    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(s, "/registry/x", &kv, &err), -EHOSTUNREACH);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    assert_non_null(strstr(err.msg, "127.0.0.1:2"));
    kvstore_close(s);
}

/* ---------------------------------------------------------------- SQLite only */

static struct fx *sqlite_fx(void **state)
{
    struct fx *f = *state;
    if (!f->b->sqlite)
        skip();
    return f;
}

static void test_sqlite_persistence_and_lock(void **state)
{
    struct fx *f = sqlite_fx(state);
    wharf_error err = {0};
    struct kvstore *s = open_store(f, NULL);
    int64_t r1 = create(s, "/registry/namespaces/default", "ns");
    update(s, "/registry/namespaces/default", "ns2", r1);
    int64_t r3 = create(s, "/registry/namespaces/kube-system", "ks");
    assert_int_equal(kvstore_compact(s, r3, &err), 0);

    /* one process owns the database */
    assert_null(kvstore_open(f->endpoint, NULL, &err));
    assert_int_equal(err.code, -EBUSY);
    assert_non_null(strstr(err.msg, "in use"));
    kvstore_close(s);

    s = open_store(f, NULL);
    assert_int_equal(current(s), r3);
    assert_list(s, "/registry/namespaces/", 0, "default=ns2 kube-system=ks");
    struct kvstore_list l;
    assert_int_equal(kvstore_list(s, "/registry/namespaces/", r1, 0, NULL, &l, &err), -ERANGE);
    assert_true(create(s, "/registry/namespaces/x", "x") == r3 + 1);
    kvstore_close(s);
}

/* A watcher still reading history when compaction overtakes it gets 410. */
static void test_sqlite_catch_up_overtaken(void **state)
{
    struct fx *f = sqlite_fx(state);
    wharf_error err = {0};
    f->s = open_store(f, NULL);
    int64_t first = create(f->s, "/registry/pods/ns/a", "1");
    for (int i = 2; i <= 5; i++) {
        char v[8];
        snprintf(v, sizeof(v), "%d", i);
        update(f->s, "/registry/pods/ns/a", v, 0);
    }
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(f->s, "/registry/pods/", first, &w, &err), 0);
    assert_int_equal(kvstore_compact(f->s, current(f->s), &err), 0);
    update(f->s, "/registry/pods/ns/a", "6", 0); /* queued live: must not follow the gap */
    const struct kvstore_event *ev;
    assert_int_equal(kvstore_watch_next(w, 1000, &ev, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "compacted"));
    kvstore_watch_close(w);
}

static int64_t sql_count(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open(db, &h) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* A compaction cut short (the process died between its batches) is
 * finished by the next open. */
static void test_sqlite_compaction_resumes(void **state)
{
    struct fx *f = sqlite_fx(state);
    char db[128];
    snprintf(db, sizeof(db), "%s/data/state.db", f->dir);
    struct kvstore *s = open_store(f, NULL);
    for (int i = 0; i < 1200; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        if (i == 0)
            create(s, "/registry/leases/ns/l", v);
        else
            update(s, "/registry/leases/ns/l", v, 0);
    }
    kvstore_close(s);
    assert_int_equal(sql_count(db, "SELECT count(*) FROM kv"), 1200);
    /* what kvstore_compact records before its first batch */
    assert_int_equal(sql_count(db, "INSERT INTO meta VALUES ('compacted', 1100) RETURNING 0"), 0);
    s = open_store(f, NULL);
    assert_int_equal(sql_count(db, "SELECT count(*) FROM kv"), 101);
    wharf_error err = {0};
    struct kvstore_list l;
    assert_int_equal(kvstore_list(s, "/registry/leases/", 1099, 0, NULL, &l, &err), -ERANGE);
    assert_list(s, "/registry/leases/", 1100, "ns/l=1099");
    kvstore_close(s);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

struct churn {
    struct kvstore *s;
    int id;
    volatile bool *stop;
    int ops, errors;
    char msg[1024];
    const char *wal;
    off_t max_wal;
};

static void churn_error(struct churn *c, const wharf_error *err)
{
    c->errors++;
    snprintf(c->msg, sizeof(c->msg), "%s", err->msg);
}

#define CHURN_KEYS 50
#define CHURN_UPDATES 3000
#define CHURN_VALUE 4096

static void *churn_writer(void *p)
{
    struct churn *c = p;
    wharf_error err = {0};
    char key[64];
    _cleanup_free_ char *val = xmalloc(CHURN_VALUE);
    memset(val, 'a' + c->id, CHURN_VALUE);
    for (int i = 0; i < CHURN_UPDATES; i++) {
        snprintf(key, sizeof(key), "/registry/pods/churn/w%d-%02d", c->id, i % CHURN_KEYS);
        val[i % CHURN_VALUE] ^= 1;
        int r = i < CHURN_KEYS ? kvstore_create(c->s, key, val, CHURN_VALUE, NULL, &err)
                               : kvstore_update(c->s, key, val, CHURN_VALUE, 0, NULL, NULL, &err);
        if (r < 0)
            churn_error(c, &err);
        c->ops++;
    }
    return NULL;
}

/* Lists all the time, so there is nearly always a reader in the log. */
static void *churn_reader(void *p)
{
    struct churn *c = p;
    wharf_error err = {0};
    while (!*c->stop) {
        struct kvstore_list l;
        if (kvstore_list(c->s, "/registry/pods/churn/", 0, 0, NULL, &l, &err) < 0)
            churn_error(c, &err);
        kvstore_list_release(&l);
        struct kvstore_kv kv;
        int r = kvstore_get(c->s, "/registry/pods/churn/w0-00", &kv, &err);
        if (r < 0 && r != -ENOENT)
            churn_error(c, &err);
        kvstore_kv_release(&kv);
        c->ops++;
    }
    return NULL;
}

/* Compacts to 500 revisions behind, as the API server's compactor would. */
static void *churn_compactor(void *p)
{
    struct churn *c = p;
    wharf_error err = {0};
    int64_t done = 0;
    while (!*c->stop) {
        int64_t cur = 0;
        kvstore_current_revision(c->s, &cur, &err);
        if (cur - 500 > done + 200) {
            if (kvstore_compact(c->s, cur - 500, &err) < 0)
                churn_error(c, &err);
            done = cur - 500;
            c->ops++;
        }
        off_t wal = file_size(c->wal);
        if (wal > c->max_wal)
            c->max_wal = wal;
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/*
 * Churn: writers rewriting 4 KiB objects (~50 MB through the log), readers
 * that never stop, and compaction, all at once. No call may fail (no
 * "database is locked"), and the log must stay bounded: without the
 * checkpointing it reaches tens of megabytes.
 */
static void test_sqlite_churn_bounded_wal(void **state)
{
    struct fx *f = sqlite_fx(state);
    struct kvstore_options opt = {.wal_checkpoint_pages = 256};
    struct kvstore *s = open_store(f, &opt);
    char wal[128], db[128];
    snprintf(db, sizeof(db), "%s/data/state.db", f->dir);
    snprintf(wal, sizeof(wal), "%s-wal", db);
    volatile bool stop = false;
    struct churn w[3], r[2], comp = {.s = s, .stop = &stop, .wal = wal};
    pthread_t tw[3], tr[2], tc;
    for (int i = 0; i < 3; i++) {
        w[i] = (struct churn){.s = s, .id = i, .stop = &stop};
        pthread_create(&tw[i], NULL, churn_writer, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        r[i] = (struct churn){.s = s, .id = i, .stop = &stop};
        pthread_create(&tr[i], NULL, churn_reader, &r[i]);
    }
    pthread_create(&tc, NULL, churn_compactor, &comp);
    double start = wharf_now_ms();
    for (int i = 0; i < 3; i++)
        pthread_join(tw[i], NULL);
    double secs = (wharf_now_ms() - start) / 1000;
    stop = true;
    for (int i = 0; i < 2; i++)
        pthread_join(tr[i], NULL);
    pthread_join(tc, NULL);
    struct churn *all[] = {&w[0], &w[1], &w[2], &r[0], &r[1], &comp};
    for (size_t i = 0; i < 6; i++)
        if (all[i]->errors)
            fail_msg("churn thread %zu: %d errors, last: %s", i, all[i]->errors, all[i]->msg);
    print_message("churn: %d updates in %.1f s with %d lists, %d compactions; "
                  "largest WAL %.1f MiB, database %.1f MiB\n",
                  3 * CHURN_UPDATES, secs, r[0].ops + r[1].ops, comp.ops, comp.max_wal / 1048576.0,
                  file_size(db) / 1048576.0);
    assert_true(comp.ops >= 5);
    assert_true(comp.max_wal > 0);
    assert_true(comp.max_wal < 8 << 20);
    /* compaction keeps the database near its live size (150 x 4 KiB objects
     * and 500 revisions of history, plus what compaction lags behind), not
     * the 36 MB written */
    assert_true(file_size(db) < 20 << 20);
    struct kvstore_list l;
    wharf_error err = {0};
    assert_int_equal(kvstore_list(s, "/registry/pods/churn/", 0, 0, NULL, &l, &err), 0);
    assert_int_equal(l.count, 3 * CHURN_KEYS);
    kvstore_list_release(&l);
    kvstore_close(s);
    /* the last close checkpoints and removes the log */
    assert_int_equal(file_size(wal), 0);
}

/* ---------------------------------------------------------------- etcd only */

static void test_etcd_cluster_failover(void **state)
{
    struct fx *f = *state;
    if (f->b->sqlite || !etcd_up)
        skip();
    struct etcdrun c3;
    if (etcdrun_start(&c3, 3, NULL) < 0)
        fail_msg("cannot start a three-member etcd");
    wharf_error err = {0};
    struct kvstore *s = kvstore_open(c3.endpoints, NULL, &err);
    assert_non_null(s);
    int64_t r1 = create(s, "/registry/pods/ha/a", "1");
    struct kvstore_watch *w;
    assert_int_equal(kvstore_watch(s, "/registry/pods/ha/", r1, &w, &err), 0);
    kvstore_event_unref(expect_event(w, KVSTORE_EVENT_PUT, "/registry/pods/ha/a", "1"));

    /* the first endpoint (the one in use) goes away; the store keeps serving */
    etcdrun_stop_member(&c3, 0);
    int64_t r2 = update(s, "/registry/pods/ha/a", "2", r1);
    create(s, "/registry/pods/ha/b", "3");
    assert_list(s, "/registry/pods/ha/", 0, "a=2 b=3");
    struct kvstore_kv kv;
    assert_int_equal(kvstore_get(s, "/registry/pods/ha/a", &kv, &err), 0);
    assert_int_equal(kv.mod_revision, r2);
    kvstore_kv_release(&kv);
    /* the watch reconnected and resumed: nothing lost, nothing twice */
    kvstore_event_unref(expect_event(w, KVSTORE_EVENT_PUT, "/registry/pods/ha/a", "2"));
    kvstore_event_unref(expect_event(w, KVSTORE_EVENT_PUT, "/registry/pods/ha/b", "3"));
    const struct kvstore_event *ev;
    assert_int_equal(kvstore_watch_next(w, 300, &ev, &err), 0);

    /* a new store whose first endpoint is the dead member still works */
    struct kvstore *s2 = kvstore_open(c3.endpoints, NULL, &err);
    assert_non_null(s2);
    assert_list(s2, "/registry/pods/ha/", 0, "a=2 b=3");
    struct kvstore_watch *w2;
    assert_int_equal(kvstore_watch(s2, "/registry/pods/ha/", 0, &w2, &err), 0);
    create(s, "/registry/pods/ha/c", "4");
    kvstore_event_unref(expect_event(w2, KVSTORE_EVENT_PUT, "/registry/pods/ha/c", "4"));
    kvstore_event_unref(expect_event(w, KVSTORE_EVENT_PUT, "/registry/pods/ha/c", "4"));
    kvstore_watch_close(w2);
    kvstore_close(s2);

    /* with a second member gone there is no quorum: errors, not hangs */
    struct kvstore_options opt = {.request_timeout_s = 3};
    struct kvstore *s3 = kvstore_open(c3.endpoints, &opt, &err);
    etcdrun_stop_member(&c3, 1);
    double start = wharf_now_ms();
    assert_true(kvstore_create(s3, "/registry/pods/ha/d", "5", 1, NULL, &err) < 0);
    assert_true(wharf_now_ms() - start < 15000);
    kvstore_close(s3);

    kvstore_watch_close(w);
    kvstore_close(s);
    etcdrun_stop(&c3);
}

/* ---------------------------------------------------------------- main */

struct entry {
    const char *name;
    CMUnitTestFunction fn;
};
#define E(fn)                                                                                      \
    {                                                                                              \
#fn, fn                                                                                    \
    }

static const struct entry per_backend[] = {
    E(test_create_get),
    E(test_update_conflict),
    E(test_delete_conflict),
    E(test_list_at_revisions),
    E(test_pagination),
    E(test_prefix_siblings),
    E(test_watch_live),
    E(test_watch_from_past),
    E(test_compaction),
    E(test_large_values),
    E(test_concurrent_writers),
    E(test_slow_watcher),
    E(test_watch_cancel_and_close),
};

static int group_setup(void **state)
{
    (void)state;
    if (!etcdrun_binary()) {
        print_message("etcd not installed: the etcd backend's tests are skipped\n");
        return 0;
    }
    if (etcdrun_start(&etcd1, 1, NULL) < 0)
        return -1;
    etcd_up = true;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (etcd_up)
        etcdrun_stop(&etcd1);
    return 0;
}

int main(void)
{
    const struct backend *backends[] = {&SQLITE, &ETCD};
    size_t n = sizeof(per_backend) / sizeof(per_backend[0]);
    struct CMUnitTest tests[2 * 16 + 8];
    size_t count = 0;
    for (size_t b = 0; b < 2; b++) {
        for (size_t i = 0; i < n; i++)
            tests[count++] = (struct CMUnitTest){
                .name = xasprintf("%s/%s", backends[b]->name, per_backend[i].name + 5),
                .test_func = per_backend[i].fn,
                .setup_func = fx_setup,
                .teardown_func = fx_teardown,
                .initial_state = (void *)backends[b],
            };
    }
    tests[count++] = (struct CMUnitTest){"bad_endpoints", test_bad_endpoints, NULL, NULL, NULL};
    tests[count++] =
        (struct CMUnitTest){"sqlite/persistence_and_lock", test_sqlite_persistence_and_lock,
                            fx_setup, fx_teardown, (void *)&SQLITE};
    tests[count++] =
        (struct CMUnitTest){"sqlite/catch_up_overtaken", test_sqlite_catch_up_overtaken, fx_setup,
                            fx_teardown, (void *)&SQLITE};
    tests[count++] =
        (struct CMUnitTest){"sqlite/compaction_resumes", test_sqlite_compaction_resumes, fx_setup,
                            fx_teardown, (void *)&SQLITE};
    tests[count++] = (struct CMUnitTest){"sqlite/churn_bounded_wal", test_sqlite_churn_bounded_wal,
                                         fx_setup, fx_teardown, (void *)&SQLITE};
    tests[count++] = (struct CMUnitTest){"etcd/cluster_failover", test_etcd_cluster_failover,
                                         fx_setup, fx_teardown, (void *)&ETCD};
    /* TEST_FILTER=sqlite/churn* runs a subset (cmocka's glob) */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    int r = _cmocka_run_group_tests("kvstore", tests, count, group_setup, group_teardown);
    for (size_t i = 0; i < 2 * n; i++)
        free((char *)tests[i].name);
    return r;
}
