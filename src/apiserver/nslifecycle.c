/*
 * The maintenance thread.
 *
 * The namespace lifecycle: deleting a Namespace marks it Terminating (new
 * content is refused from then on); this thread then deletes everything
 * in it, with the usual delete semantics (objects with finalizers wait for
 * them), and once nothing is left removes the "kubernetes" finalizer and
 * the namespace itself. It is kube-controller-manager's namespace
 * controller, kept in the API server until wharf has a controller manager.
 *
 * Compaction, as kube-apiserver does it: every interval the store's history
 * up to the revision seen at the previous tick is dropped, so watches and
 * lists may resume from anything younger than one interval, and older
 * resourceVersions get 410 Gone.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define IDLE_WAIT_S 10

/* Deletes what is left in ns; returns how many objects remain. */
static size_t empty_namespace(struct apiserver *as, const char *ns)
{
    size_t remaining = 0;
    for (size_t i = 0; i < registry_count(); i++) {
        const struct api_resource *r = registry_at(i);
        if (!r->namespaced || (r->flags & RES_REVIEW))
            continue;
        _cleanup_free_ char *prefix = registry_prefix(r, ns);
        struct kvstore_list l = {0};
        wharf_error err = {0};
        if (kvstore_list(as->store, prefix, 0, 0, NULL, &l, &err) < 0) {
            remaining++;
            continue;
        }
        for (size_t k = 0; k < l.count; k++) {
            const char *name = l.items[k].key + strlen(prefix);
            if (rest_delete_internal(as, r, ns, name, &err) < 0 && err.code != -ENOENT)
                wlog_warn("apiserver: namespace %s: deleting %s %s: %s", ns, r->plural, name,
                          err.msg);
            wharf_error_clear(&err);
        }
        bool had = l.count > 0;
        kvstore_list_release(&l);
        if (!had)
            continue;
        /* what is still there (finalizers, terminating pods) waits */
        struct kvstore_list again = {0};
        if (kvstore_list(as->store, prefix, 0, 0, NULL, &again, &err) < 0)
            remaining++;
        else
            remaining += again.count;
        kvstore_list_release(&again);
    }
    return remaining;
}

static void finalize(struct apiserver *as, const struct api_resource *nsr, struct kvstore_kv *kv)
{
    wharf_error err = {0};
    json_t *ns = object_decode(as, nsr, kv, &err);
    if (!ns)
        return;
    const char *name = object_str(ns, "metadata.name");
    if (!object_get(ns, "metadata.deletionTimestamp") || !name) {
        json_decref(ns);
        return;
    }
    if (empty_namespace(as, name) > 0) {
        json_decref(ns);
        return;
    }
    /* Empty: drop our finalizer, then the namespace if nobody else holds it. */
    json_t *fins = object_get(ns, "spec.finalizers");
    for (size_t i = json_array_size(fins); i-- > 0;) {
        if (strcmp(json_string_value(json_array_get(fins, i)) ?: "", "kubernetes") == 0)
            json_array_remove(fins, i);
    }
    if (json_array_size(object_get(ns, "metadata.finalizers")) == 0 && json_array_size(fins) == 0) {
        if (kvstore_delete(as->store, kv->key, kv->mod_revision, NULL, NULL, &err) < 0 &&
            err.code != -ECANCELED && err.code != -ENOENT)
            wlog_warn("apiserver: namespace %s: %s", name, err.msg);
    } else {
        strbuf value = STRBUF_INIT;
        if (object_encode(as, nsr, kv->key, ns, &value, &err) == 0 &&
            kvstore_update(as->store, kv->key, value.buf, value.len, kv->mod_revision, NULL, NULL,
                           &err) < 0 &&
            err.code != -ECANCELED)
            wlog_warn("apiserver: namespace %s: %s", name, err.msg);
        strbuf_release(&value);
    }
    json_decref(ns);
}

/* One pass; true when some namespace is still terminating. */
static bool pass(struct apiserver *as)
{
    const struct api_resource *nsr = registry_find("", "v1", "namespaces");
    _cleanup_free_ char *prefix = registry_prefix(nsr, NULL);
    struct kvstore_list l = {0};
    wharf_error err = {0};
    if (kvstore_list(as->store, prefix, 0, 0, NULL, &l, &err) < 0)
        return true;
    bool busy = false;
    for (size_t i = 0; i < l.count; i++) {
        if (!strstr((const char *)l.items[i].value, "\"deletionTimestamp\""))
            continue;
        busy = true;
        finalize(as, nsr, &l.items[i]);
    }
    kvstore_list_release(&l);
    return busy;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Compacts to the revision the previous tick saw; records the current one. */
static void compact_tick(struct apiserver *as, int64_t *previous)
{
    int64_t now = 0;
    wharf_error err = {0};
    if (kvstore_current_revision(as->store, &now, &err) < 0)
        return;
    if (*previous > 0 && kvstore_compact(as->store, *previous, &err) < 0 && err.code != -ERANGE)
        wlog_warn("apiserver: compacting to revision %lld: %s", (long long)*previous, err.msg);
    *previous = now;
}

static void *ns_thread(void *arg)
{
    struct apiserver *as = arg;
    bool busy = true;
    int64_t compact_rev = 0;
    double next_compaction = mono_s() + as->compaction_interval_s;
    pthread_mutex_lock(&as->lock);
    while (!as->stopping) {
        if (!as->ns_kick) {
            double wait = busy ? 1 : IDLE_WAIT_S;
            if (as->compaction_interval_s > 0 && next_compaction - mono_s() < wait)
                wait = next_compaction - mono_s();
            if (wait < 0)
                wait = 0;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long long ns = until.tv_nsec + (long long)((wait - (long long)wait) * 1e9);
            until.tv_sec += (time_t)wait + ns / 1000000000LL;
            until.tv_nsec = ns % 1000000000LL;
            pthread_cond_timedwait(&as->cond, &as->lock, &until);
        }
        if (as->stopping)
            break;
        as->ns_kick = false;
        pthread_mutex_unlock(&as->lock);
        busy = pass(as);
        if (as->compaction_interval_s > 0 && mono_s() >= next_compaction) {
            compact_tick(as, &compact_rev);
            next_compaction = mono_s() + as->compaction_interval_s;
        }
        pthread_mutex_lock(&as->lock);
    }
    pthread_mutex_unlock(&as->lock);
    return NULL;
}

int ns_start(struct apiserver *as, wharf_error *err)
{
    int rc = pthread_create(&as->ns_thread, NULL, ns_thread, as);
    if (rc != 0)
        return wharf_error_errno(err, rc, "namespace lifecycle thread");
    as->ns_thread_started = true;
    return 0;
}

void ns_kick(struct apiserver *as)
{
    pthread_mutex_lock(&as->lock);
    as->ns_kick = true;
    pthread_cond_broadcast(&as->cond);
    pthread_mutex_unlock(&as->lock);
}

void ns_stop(struct apiserver *as)
{
    if (!as->ns_thread_started)
        return;
    pthread_mutex_lock(&as->lock);
    as->stopping = true;
    pthread_cond_broadcast(&as->cond);
    pthread_mutex_unlock(&as->lock);
    pthread_join(as->ns_thread, NULL);
    as->ns_thread_started = false;
}
