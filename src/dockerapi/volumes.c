/*
 * volumes.c — the /volumes routes over the local volume driver
 * (src/volume): create, list with dockerd's filters, inspect, remove (409
 * while a container uses the volume) and prune (anonymous volumes only
 * unless filters say all=true, API >= 1.42); and what other files need about
 * volumes: which containers use each one, Docker's Volume JSON, and the
 * volumes' part of /system/df.
 *
 * "In use" is read from every container's metadata (the volumes mounts.c
 * recorded at its create) plus the creates in progress, which reserve their
 * volumes here until their container record exists. One lock orders the
 * checks against removals: a volume is never removed between a create
 * choosing it and its container being recorded.
 */
#include "internal.h"
#include "volume.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- usage */

static pthread_mutex_t volumes_lock = PTHREAD_MUTEX_INITIALIZER;

struct reservation {
    char *name;
    char id[65];
    bool fresh; /* this create made the volume */
};
static struct reservation *reservations;
static size_t n_reservations, cap_reservations;

void dockerapi_volumes_lock(void)
{
    pthread_mutex_lock(&volumes_lock);
}

void dockerapi_volumes_unlock(void)
{
    pthread_mutex_unlock(&volumes_lock);
}

void dockerapi_volume_reserve(const char *name, const char *id, bool fresh)
{
    if (n_reservations == cap_reservations) {
        cap_reservations = cap_reservations ? 2 * cap_reservations : 8;
        reservations = xrealloc(reservations, cap_reservations * sizeof(*reservations));
    }
    struct reservation *r = &reservations[n_reservations++];
    r->name = xstrdup(name);
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->fresh = fresh;
}

json_t *dockerapi_volume_unreserve(const char *id)
{
    json_t *fresh = json_array();
    size_t k = 0;
    for (size_t i = 0; i < n_reservations; i++) {
        if (strcmp(reservations[i].id, id) == 0) {
            if (reservations[i].fresh)
                json_array_append_new(fresh, json_string(reservations[i].name));
            free(reservations[i].name);
        } else {
            reservations[k++] = reservations[i];
        }
    }
    n_reservations = k;
    return fresh;
}

static void add_user(json_t *users, const char *name, const char *id)
{
    json_t *ids = json_object_get(users, name);
    if (!ids) {
        ids = json_array();
        json_object_set_new(users, name, ids);
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            return;
    }
    json_array_append_new(ids, json_string(id));
}

json_t *dockerapi_volume_users(struct dockerapi *api)
{
    json_t *users = json_object();
    struct cri_container_status *sts = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (api->cri && cri_container_list(api->cri, NULL, &sts, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            _cleanup_json_ json_t *meta = dockerapi_meta(&sts[i]);
            size_t k;
            json_t *mp;
            json_array_foreach(json_object_get(meta, "MountPoints"), k, mp)
            {
                const char *type = json_string_value(json_object_get(mp, "Type"));
                const char *name = json_string_value(json_object_get(mp, "Name"));
                if (type && strcmp(type, "volume") == 0 && name)
                    add_user(users, name, sts[i].id);
            }
        }
        cri_container_status_array_free(sts, n);
    }
    for (size_t i = 0; i < n_reservations; i++)
        add_user(users, reservations[i].name, reservations[i].id);
    return users;
}

void dockerapi_volume_event(struct dockerapi *api, const char *name, const char *action)
{
    dockerapi_event(api, "volume", action, name, json_pack("{s:s}", "driver", VOLUME_DRIVER));
}

int dockerapi_volume_remove_unused(struct dockerapi *api, const char *name, json_t *users,
                                   wharf_error *err)
{
    json_t *ids = json_object_get(users, name);
    if (json_array_size(ids)) {
        strbuf list = STRBUF_INIT;
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
            strbuf_addf(&list, "%s%s", i ? ", " : "", json_string_value(v));
        int r = wharf_error_set(err, -EBUSY, "remove %s: volume is in use - [%s]", name,
                                strbuf_str(&list));
        strbuf_release(&list);
        return r;
    }
    int r = volume_remove(api->volumes, name, err);
    if (r == 0)
        dockerapi_volume_event(api, name, "destroy");
    return r;
}

/* ---------------------------------------------------------------- JSON */

/* dockerd prints a volume's CreatedAt as RFC 3339 in whole seconds, in the
 * daemon's local time zone. */
static json_t *created_text(const char *stored)
{
    struct timespec t;
    if (!stored || cri_parse_time(stored, strlen(stored), &t) < 0)
        return json_string("");
    struct tm tm;
    localtime_r(&t.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    if (off == 0)
        snprintf(buf + n, sizeof(buf) - n, "Z");
    else
        snprintf(buf + n, sizeof(buf) - n, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) % 3600 / 60);
    return json_string(buf);
}

/* An object's keys in sorted order (Go marshals maps that way). */
static json_t *sorted_or_null(json_t *obj)
{
    if (!json_is_object(obj))
        return json_null();
    size_t n = json_object_size(obj), k = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) keys[k++] = key;
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    json_t *out = json_object();
    for (size_t i = 0; i < k; i++)
        json_object_set(out, keys[i], json_object_get(obj, keys[i]));
    free(keys);
    return out;
}

json_t *dockerapi_volume_json(json_t *rec)
{
    return json_pack("{s:o, s:s, s:o, s:s, s:s, s:o, s:s}", "CreatedAt",
                     created_text(json_string_value(json_object_get(rec, "created"))), "Driver",
                     VOLUME_DRIVER, "Labels", sorted_or_null(json_object_get(rec, "labels")),
                     "Mountpoint", json_string_value(json_object_get(rec, "mountpoint")), "Name",
                     json_string_value(json_object_get(rec, "name")), "Options",
                     sorted_or_null(json_object_get(rec, "options")), "Scope", "local");
}

static http_response *no_volumes(void)
{
    return http_response_error(501, "volumes are not available on this daemon");
}

/* ---------------------------------------------------------------- routes */

static bool dangling_filter(json_t *filters, bool *want_dangling, wharf_error *err)
{
    json_t *values = dockerapi_filters_values(filters, "dangling");
    if (!values)
        return false;
    bool t = false, f = false;
    strbuf all = STRBUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *s = json_string_value(v);
        t |= strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
        f |= strcmp(s, "false") == 0 || strcmp(s, "0") == 0;
        strbuf_addf(&all, "%s%s", i ? " " : "", s);
    }
    if (!t && !f)
        wharf_error_set(err, -EINVAL, "invalid filter 'dangling=[%s]'", strbuf_str(&all));
    strbuf_release(&all);
    *want_dangling = t; /* dockerd: "true" wins when both are given */
    return true;
}

static bool any_exact(json_t *values, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static http_response *list(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (!api->volumes)
        return no_volumes();
    static const char *const accepted[] = {"dangling", "name", "driver", "label", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    bool want_dangling = false;
    bool by_dangling = dangling_filter(filters, &want_dangling, &err);
    if (err.code)
        return http_response_from_error(&err);
    _cleanup_json_ json_t *all = volume_list(api->volumes, &err);
    if (!all)
        return http_response_from_error(&err);
    _cleanup_json_ json_t *users = by_dangling ? dockerapi_volume_users(api) : NULL;
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *name = json_string_value(json_object_get(rec, "name"));
        json_t *drivers = dockerapi_filters_values(filters, "driver");
        if (drivers && !any_exact(drivers, VOLUME_DRIVER))
            continue;
        if (!dockerapi_filters_match(filters, "name", name) ||
            !dockerapi_filters_match_labels(filters, "label", json_object_get(rec, "labels")))
            continue;
        if (by_dangling && (json_object_get(users, name) == NULL) != want_dangling)
            continue;
        json_array_append_new(out, dockerapi_volume_json(rec));
    }
    return http_response_json(200, json_pack("{s:o, s:n}", "Volumes", out, "Warnings"));
}

/* An object of strings, or absent/null: *out borrowed (NULL when absent). */
static int string_map(json_t *body, const char *key, json_t **out, wharf_error *err)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return wharf_error_set(err, -EINVAL, "%s: expected an object of strings", key);
    const char *k;
    json_t *s;
    json_object_foreach(v, k, s)
    {
        if (!json_is_string(s))
            return wharf_error_set(err, -EINVAL, "%s.%s: expected a string", key, k);
    }
    *out = v;
    return 0;
}

static http_response *create(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (!api->volumes)
        return no_volumes();
    wharf_error err = {0};
    size_t len = 0;
    http_request_body(req, &len);
    _cleanup_json_ json_t *body = len ? http_request_body_json(req, &err) : json_object();
    if (!body)
        return http_response_error(400, "%s", err.msg);
    if (!json_is_object(body))
        return http_response_error(400, "the volume config must be a JSON object");
    json_t *jname = json_object_get(body, "Name"), *jdriver = json_object_get(body, "Driver");
    if ((jname && !json_is_string(jname) && !json_is_null(jname)) ||
        (jdriver && !json_is_string(jdriver) && !json_is_null(jdriver)))
        return http_response_error(400, "Name and Driver must be strings");
    const char *name = json_string_value(jname);
    const char *driver = json_string_value(jdriver);
    if (driver && *driver && strcmp(driver, VOLUME_DRIVER) != 0)
        return http_response_error(404,
                                   "error looking up volume plugin %s: plugin \"%s\" not "
                                   "found",
                                   driver, driver);
    json_t *labels, *options;
    if (string_map(body, "Labels", &labels, &err) < 0 ||
        string_map(body, "DriverOpts", &options, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    json_t *rec = NULL;
    bool created = false;
    dockerapi_volumes_lock();
    int r = volume_create(api->volumes, name, labels, options, &rec, &created, &err);
    dockerapi_volumes_unlock();
    if (r < 0)
        return http_response_from_error(&err);
    if (created)
        dockerapi_volume_event(api, json_string_value(json_object_get(rec, "name")), "create");
    json_t *out = dockerapi_volume_json(rec);
    json_decref(rec);
    return http_response_json(201, out);
}

static http_response *inspect(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (!api->volumes)
        return no_volumes();
    wharf_error err = {0};
    json_t *rec = volume_get(api->volumes, http_request_param(req, "name"), &err);
    if (!rec)
        return http_response_from_error(&err);
    json_t *out = dockerapi_volume_json(rec);
    json_decref(rec);
    return http_response_json(200, out);
}

static http_response *remove_volume(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (!api->volumes)
        return no_volumes();
    const char *name = http_request_param(req, "name");
    bool force = http_request_query_bool(req, "force", false);
    wharf_error err = {0};
    dockerapi_volumes_lock();
    _cleanup_json_ json_t *users = dockerapi_volume_users(api);
    int r = dockerapi_volume_remove_unused(api, name, users, &err);
    dockerapi_volumes_unlock();
    /* force: a volume that is not there is not an error (in use still is) */
    if (r == -ENOENT && force)
        return http_response_empty(204);
    if (r < 0)
        return http_response_from_error(&err);
    return http_response_empty(204);
}

/* API versions before 1.42 prune every unused volume, later ones only the
 * anonymous ones unless all=true. */
static bool version_before_1_42(const char *v)
{
    if (!v)
        return false;
    unsigned major = 0, minor = 0;
    if (sscanf(v, "%u.%u", &major, &minor) != 2)
        return false;
    return major < 1 || (major == 1 && minor < 42);
}

static http_response *prune(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (!api->volumes)
        return no_volumes();
    static const char *const accepted[] = {"label", "label!", "all", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    bool all = false;
    if (dockerapi_filters_bool(filters, "all", false, &all, &err) < 0)
        return http_response_from_error(&err);
    if (version_before_1_42(http_request_api_version(req)))
        all = true;
    json_t *deleted = json_array();
    int64_t reclaimed = 0;
    dockerapi_volumes_lock();
    _cleanup_json_ json_t *users = dockerapi_volume_users(api);
    _cleanup_json_ json_t *vols = volume_list(api->volumes, &err);
    size_t i;
    json_t *rec;
    json_array_foreach(vols, i, rec)
    {
        const char *name = json_string_value(json_object_get(rec, "name"));
        json_t *labels = json_object_get(rec, "labels");
        if (json_object_get(users, name))
            continue;
        if (!all && !json_object_get(labels, VOLUME_ANONYMOUS_LABEL))
            continue;
        if (!dockerapi_filters_match_labels(filters, "label", labels) ||
            (dockerapi_filters_has(filters, "label!") &&
             dockerapi_filters_match_labels(filters, "label!", labels)))
            continue;
        int64_t size = volume_size(api->volumes, name);
        wharf_error e = {0};
        if (dockerapi_volume_remove_unused(api, name, users, &e) < 0) {
            wlog_warn("volume prune: %s", e.msg);
            continue;
        }
        if (size > 0)
            reclaimed += size;
        json_array_append_new(deleted, json_string(name));
    }
    dockerapi_volumes_unlock();
    if (!vols) {
        json_decref(deleted);
        return http_response_from_error(&err);
    }
    dockerapi_event(api, "volume", "prune", "",
                    json_pack("{s:o}", "reclaimed", json_sprintf("%lld", (long long)reclaimed)));
    return http_response_json(200, json_pack("{s:o, s:I}", "VolumesDeleted", deleted,
                                             "SpaceReclaimed", (json_int_t)reclaimed));
}

json_t *dockerapi_volumes_usage(struct dockerapi *api, wharf_error *err)
{
    if (!api->volumes)
        return json_array();
    json_t *vols = volume_list(api->volumes, err);
    if (!vols)
        return NULL;
    _cleanup_json_ json_t *users = dockerapi_volume_users(api);
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(vols, i, rec)
    {
        /* dockerd counts local volumes without driver options only */
        if (json_object_size(json_object_get(rec, "options")))
            continue;
        const char *name = json_string_value(json_object_get(rec, "name"));
        json_t *v = dockerapi_volume_json(rec);
        json_object_set_new(v, "UsageData",
                            json_pack("{s:I, s:I}", "RefCount",
                                      (json_int_t)json_array_size(json_object_get(users, name)),
                                      "Size", (json_int_t)volume_size(api->volumes, name)));
        json_array_append_new(out, v);
    }
    json_decref(vols);
    return out;
}

int dockerapi_register_volumes(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = http_router_add(r, "GET", "/volumes", list, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/volumes/create", create, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/volumes/prune", prune, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/volumes/{name}", inspect, api, err)) < 0 ||
        (rc = http_router_add(r, "DELETE", "/volumes/{name}", remove_volume, api, err)) < 0)
        return rc;
    return 0;
}
