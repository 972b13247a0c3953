/*
 * containers_list.c — GET /containers/json: Docker's container summaries,
 * newest first, with dockerd's filters (id, name, label, status, exited,
 * ancestor, before, since, health, is-task, isolation, volume, network,
 * expose, publish), `all`, `limit` and `size` (the writable layer's usage,
 * read from the overlay's upper directory).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------- sizes */

/* Bytes of everything under dirfd that is not a directory, each inode once
 * (go's directory.Size, which dockerd uses for SizeRw). Takes dirfd. */
static int64_t tree_usage(int dirfd, json_t *seen, int depth)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return 0;
    }
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth >= 256)
                continue;
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                total += tree_usage(sub, seen, depth + 1);
            continue;
        }
        if (st.st_nlink > 1) {
            char key[64];
            snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
            if (json_object_get(seen, key))
                continue;
            json_object_set_new(seen, key, json_true());
        }
        total += st.st_size;
    }
    closedir(d);
    return total;
}

int64_t dockerapi_rw_size(struct dockerapi *api, const char *id)
{
    _cleanup_free_ char *upper = xasprintf("%s/rootfs/%s/upper", api->root, id);
    int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    json_t *seen = json_object();
    int64_t n = tree_usage(fd, seen, 0);
    json_decref(seen);
    return n;
}

/* ---------------------------------------------------------------- summary */

/* Docker's State.String(): "Up 3 seconds", "Exited (0) 2 minutes ago",
 * "Restarting (1) 1 second ago". */
static char *human_status(const struct cri_container_status *st,
                          const struct dockerapi_run_state *rs)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec since = st->state == CRI_STATE_EXITED ? st->finished_at : st->started_at;
    int64_t secs = (int64_t)(now.tv_sec - since.tv_sec) - (now.tv_nsec < since.tv_nsec ? 1 : 0);
    strbuf span = STRBUF_INIT;
    wharf_human_duration(secs, &span);
    char *s;
    if (rs->restarting) {
        s = xasprintf("Restarting (%d) %s ago", st->exit_code, strbuf_str(&span));
        strbuf_release(&span);
        return s;
    }
    switch (st->state) {
    case CRI_STATE_CREATED:
        s = xstrdup("Created");
        break;
    case CRI_STATE_RUNNING:
        s = xasprintf("Up %s", strbuf_str(&span));
        break;
    case CRI_STATE_PAUSED:
        s = xasprintf("Up %s (Paused)", strbuf_str(&span));
        break;
    default:
        s = st->started_at.tv_sec == 0
                ? xstrdup("Created")
                : xasprintf("Exited (%d) %s ago", st->exit_code, strbuf_str(&span));
    }
    strbuf_release(&span);
    return s;
}

/* dockerd's Command: the path, then the arguments, those with a space quoted. */
static char *command_text(json_t *args)
{
    strbuf cmd = STRBUF_INIT;
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
    {
        const char *s = json_string_value(a);
        if (!s)
            continue;
        if (i)
            strbuf_addch(&cmd, ' ');
        if (i && strchr(s, ' '))
            strbuf_addf(&cmd, "'%s'", s);
        else
            strbuf_addstr(&cmd, s);
    }
    strbuf_addstr(&cmd, "");
    return strbuf_detach(&cmd);
}

/* The network of a container without a network sandbox (no network
 * manager, or created before networks existed): a namespace of its own with
 * only loopback, which Docker calls "none". Others get theirs from
 * dockerapi_network_describe. */
static json_t *networks(void)
{
    json_t *ep = json_pack("{s:n, s:n, s:n, s:s, s:n, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, "
                           "s:i, s:n}",
                           "IPAMConfig", "Links", "Aliases", "MacAddress", "", "DriverOpts",
                           "GwPriority", 0, "NetworkID", "", "EndpointID", "", "Gateway", "",
                           "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "",
                           "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "DNSNames");
    return json_pack("{s:o}", "none", ep);
}

json_t *dockerapi_container_summary(struct dockerapi *api, const struct cri_container_status *st)
{
    struct dockerapi_run_state rs;
    dockerapi_run_state(api, st, &rs);
    _cleanup_json_ json_t *meta = dockerapi_meta(st);
    _cleanup_free_ char *cmd = command_text(json_object_get(st->config, "args"));
    _cleanup_free_ char *status = human_status(st, &rs);
    _cleanup_free_ char *name = xasprintf("/%s", st->name ? st->name : "");
    json_t *labels = json_object_get(st->config, "labels");
    const char *image = json_string_value(json_object_get(meta, "Image"));
    const char *image_id = json_string_value(json_object_get(meta, "ImageID"));
    json_t *s = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:[], s:o, s:s, s:s, s:{s:s}, "
                          "s:{s:o}, s:o}",
                          "Id", st->id, "Names", name, "Image", image ? image : "", "ImageID",
                          image_id ? image_id : "", "Command", cmd, "Created",
                          (json_int_t)st->created_at.tv_sec, "Ports", "Labels",
                          json_is_object(labels) ? json_incref(labels) : json_object(), "State",
                          rs.restarting ? "restarting" : dockerapi_state_name(st->state), "Status",
                          status, "HostConfig", "NetworkMode", "none", "NetworkSettings",
                          "Networks", networks(), "Mounts", dockerapi_mount_points(meta));
    dockerapi_network_describe(api, st->id, s, true);
    /* dockerd's State.String(): the health of a running container */
    const char *health = dockerapi_health_status(api, st);
    if (health && st->state == CRI_STATE_RUNNING && !rs.restarting)
        json_object_set_new(s, "Status",
                            json_sprintf("%s (%s%s)", status,
                                         strcmp(health, "starting") == 0 ? "health: " : "",
                                         health));
    return s;
}

void dockerapi_summary_add_size(struct dockerapi *api, json_t *summary, json_t *image_sizes)
{
    const char *id = json_string_value(json_object_get(summary, "Id"));
    const char *image_id = json_string_value(json_object_get(summary, "ImageID"));
    int64_t rw = dockerapi_rw_size(api, id);
    json_int_t image_size = 0;
    json_t *cached = image_id ? json_object_get(image_sizes, image_id) : NULL;
    if (cached) {
        image_size = json_integer_value(cached);
    } else if (image_id && *image_id) {
        wharf_error err = {0};
        json_t *img = image_store_inspect(api->images, image_id, &err);
        image_size = json_integer_value(json_object_get(img, "Size"));
        if (img)
            json_decref(img);
        if (image_sizes)
            json_object_set_new(image_sizes, image_id, json_integer(image_size));
    }
    json_object_set_new(summary, "SizeRw", json_integer(rw));
    json_object_set_new(summary, "SizeRootFs", json_integer(rw + image_size));
}

/* ---------------------------------------------------------------- filters */

static const char *const accepted[] = {
    "ancestor", "before", "expose",  "exited",  "health", "id",     "isolation", "is-task",
    "label",    "name",   "network", "publish", "since",  "status", "volume",    NULL};

static const char *const states[] = {"created", "restarting", "running", "removing",
                                     "paused",  "exited",     "dead",    NULL};

/* "80", "80/udp", "8000-8010/tcp" into keys "80/tcp" ... of set. */
static int port_filter(const char *key, json_t *values, json_t *set, wharf_error *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *s = json_string_value(v);
        if (strchr(s, ':'))
            return wharf_error_set(err, -EINVAL, "filter for '%s' should not contain ':': %s", key,
                                   s);
        const char *slash = strchr(s, '/');
        _cleanup_free_ char *port = slash ? xasprintf("%.*s", (int)(slash - s), s) : xstrdup(s);
        const char *proto = slash ? slash + 1 : "tcp";
        char *end;
        long a = strtol(port, &end, 10), b = a;
        if (end != port && *end == '-')
            b = strtol(end + 1, &end, 10);
        if (!*port || *end || a < 0 || b < a || b > 65535)
            return wharf_error_set(err, -EINVAL, "error while looking up for %s %s: invalid port",
                                   key, s);
        for (long p = a; p <= b; p++) {
            char k[64];
            snprintf(k, sizeof(k), "%ld/%s", p, proto);
            json_object_set_new(set, k, json_true());
        }
    }
    return 0;
}

struct list_query {
    struct dockerapi *api;
    json_t *filters;
    bool all;
    int64_t limit;
    json_t *ancestors; /* image ids the ancestor filter allows (NULL: no filter) */
    json_t *exited;    /* allowed exit codes */
    json_t *expose, *publish;
    const char *before_id; /* exclude until this one has been passed */
    const char *since_id;  /* stop at this one */
    bool is_task_filter, is_task;
    char before[65], since[65];
};

/* Image IDs named by the ancestor filter (names that resolve to nothing
 * allow nothing, as in dockerd). */
static json_t *ancestor_ids(struct dockerapi *api, json_t *values)
{
    json_t *ids = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        char id[72];
        wharf_error err = {0};
        if (image_store_resolve(api->images, json_string_value(v), id, &err) == 0)
            json_object_set_new(ids, id, json_true());
    }
    return ids;
}

static int resolve_bound(struct dockerapi *api, json_t *filters, const char *key, char out[65],
                         const char **id, wharf_error *err)
{
    json_t *values = dockerapi_filters_values(filters, key);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        /* the last one wins, as in dockerd */
        const char *ref = json_string_value(v);
        int r = dockerapi_resolve(api, ref, out);
        if (r == -EEXIST)
            return wharf_error_set(err, -EINVAL, "multiple containers match %s", ref);
        if (r < 0)
            return wharf_error_set(err, -ENOENT, "No such container: %s", ref);
        *id = out;
    }
    return 0;
}

static int build_query(struct dockerapi *api, http_request *req, struct list_query *q,
                       wharf_error *err)
{
    q->api = api;
    int r = dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &q->filters, err);
    if (r < 0)
        return r;
    q->all = http_request_query_bool(req, "all", false);
    q->limit = -1;
    if ((r = http_request_query_int(req, "limit", &q->limit, err)) < 0)
        return r;
    json_t *f = q->filters;
    size_t i;
    json_t *v;
    json_array_foreach(dockerapi_filters_values(f, "status"), i, v)
    {
        bool ok = false;
        for (size_t k = 0; states[k] && !ok; k++)
            ok = strcmp(states[k], json_string_value(v)) == 0;
        if (!ok)
            return wharf_error_set(err, -EINVAL, "invalid filter 'status=%s'",
                                   json_string_value(v));
        q->all = true; /* a status filter looks at every container */
    }
    q->exited = json_array();
    json_array_foreach(dockerapi_filters_values(f, "exited"), i, v)
    {
        char *end;
        const char *s = json_string_value(v);
        long code = strtol(s, &end, 10);
        if (!*s || *end)
            return wharf_error_set(err, -EINVAL, "invalid filter 'exited=%s'", s);
        json_array_append_new(q->exited, json_integer(code));
    }
    json_array_foreach(dockerapi_filters_values(f, "health"), i, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(s, "starting") && strcmp(s, "healthy") && strcmp(s, "unhealthy") &&
            strcmp(s, "none"))
            return wharf_error_set(err, -EINVAL, "invalid filter 'health=%s'", s);
    }
    json_array_foreach(dockerapi_filters_values(f, "isolation"), i, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(s, "default") && strcmp(s, "process") && strcmp(s, "hyperv"))
            return wharf_error_set(err, -EINVAL, "invalid filter 'isolation=%s'", s);
    }
    q->is_task_filter = dockerapi_filters_has(f, "is-task");
    if ((r = dockerapi_filters_bool(f, "is-task", false, &q->is_task, err)) < 0)
        return r;
    if (dockerapi_filters_has(f, "ancestor"))
        q->ancestors = ancestor_ids(api, dockerapi_filters_values(f, "ancestor"));
    q->expose = json_object();
    q->publish = json_object();
    if ((r = port_filter("expose", dockerapi_filters_values(f, "expose"), q->expose, err)) < 0 ||
        (r = port_filter("publish", dockerapi_filters_values(f, "publish"), q->publish, err)) < 0)
        return r;
    if ((r = resolve_bound(api, f, "before", q->before, &q->before_id, err)) < 0 ||
        (r = resolve_bound(api, f, "since", q->since, &q->since_id, err)) < 0)
        return r;
    return 0;
}

static void query_release(struct list_query *q)
{
    json_decref(q->filters);
    json_decref(q->ancestors);
    json_decref(q->exited);
    json_decref(q->expose);
    json_decref(q->publish);
}

static bool any_key(json_t *set, json_t *values, bool by_prefix_of_id)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *s = json_string_value(v);
        if (json_object_get(set, s))
            return true;
        if (by_prefix_of_id) {
            const char *k;
            json_t *ep;
            json_object_foreach(set, k, ep)
            {
                const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
                if (nid && strncmp(nid, s, strlen(s)) == 0)
                    return true;
            }
        }
    }
    return false;
}

/* The filters after before/since and all: dockerd's includeContainerInList. */
static bool matches(const struct list_query *q, const struct cri_container_status *st, bool up,
                    json_t *s)
{
    json_t *f = q->filters;
    const char *name = json_string_value(json_array_get(json_object_get(s, "Names"), 0));
    if (!dockerapi_filters_match(f, "name", name) && !dockerapi_filters_match(f, "name", name + 1))
        return false;
    if (!dockerapi_filters_match(f, "id", st->id))
        return false;
    if (q->is_task_filter && q->is_task)
        return false; /* no swarm: no container is a task */
    if (!dockerapi_filters_match_labels(f, "label", json_object_get(s, "Labels")))
        return false;
    if (!dockerapi_filters_match(f, "isolation", "default"))
        return false;
    if (json_array_size(q->exited)) {
        bool ok = false;
        size_t i;
        json_t *c;
        json_array_foreach(q->exited, i, c) ok |=
            json_integer_value(c) == st->exit_code && !up && st->started_at.tv_sec != 0;
        if (!ok)
            return false;
    }
    if (!dockerapi_filters_match(f, "status", json_string_value(json_object_get(s, "State"))))
        return false;
    const char *health = dockerapi_health_status(q->api, st);
    if (!dockerapi_filters_exact(f, "health", health ? health : "none"))
        return false;
    if (dockerapi_filters_has(f, "volume")) {
        json_t *by = json_object();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(s, "Mounts"), i, m)
        {
            const char *n = json_string_value(json_object_get(m, "Name"));
            json_object_set_new(by, n && *n ? n : json_string_value(json_object_get(m, "Source")),
                                json_true());
            json_object_set_new(by, json_string_value(json_object_get(m, "Destination")),
                                json_true());
        }
        bool ok = any_key(by, dockerapi_filters_values(f, "volume"), false);
        json_decref(by);
        if (!ok)
            return false;
    }
    if (q->ancestors) {
        const char *image_id = json_string_value(json_object_get(s, "ImageID"));
        if (!image_id || !json_object_get(q->ancestors, image_id))
            return false;
    }
    if (dockerapi_filters_has(f, "network") &&
        !any_key(json_object_get(json_object_get(s, "NetworkSettings"), "Networks"),
                 dockerapi_filters_values(f, "network"), true))
        return false;
    if (json_object_size(q->expose) || json_object_size(q->publish)) {
        bool ok = false;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(s, "Ports"), i, p)
        {
            const char *type = json_string_value(json_object_get(p, "Type"));
            char pub[64], priv[64];
            snprintf(pub, sizeof(pub), "%lld/%s",
                     (long long)json_integer_value(json_object_get(p, "PublicPort")),
                     type ? type : "tcp");
            snprintf(priv, sizeof(priv), "%lld/%s",
                     (long long)json_integer_value(json_object_get(p, "PrivatePort")),
                     type ? type : "tcp");
            ok |= json_object_get(q->publish, pub) || json_object_get(q->expose, priv);
        }
        if (!ok)
            return false;
    }
    return true;
}

static int newest_first(const void *a, const void *b)
{
    const struct cri_container_status *x = a, *y = b;
    if (x->created_at.tv_sec != y->created_at.tv_sec)
        return x->created_at.tv_sec < y->created_at.tv_sec ? 1 : -1;
    if (x->created_at.tv_nsec != y->created_at.tv_nsec)
        return x->created_at.tv_nsec < y->created_at.tv_nsec ? 1 : -1;
    return strcmp(x->id, y->id);
}

int dockerapi_list_containers(struct dockerapi *api, struct cri_container_status **out,
                              size_t *count, wharf_error *err)
{
    int r = cri_container_list(api->cri, NULL, out, count, err);
    if (r == 0 && *count > 1)
        qsort(*out, *count, sizeof(**out), newest_first);
    return r;
}

static http_response *list(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    struct list_query q = {0};
    wharf_error err = {0};
    if (build_query(api, req, &q, &err) < 0) {
        query_release(&q);
        return http_response_from_error(&err);
    }
    bool size = http_request_query_bool(req, "size", false);
    struct cri_container_status *sts = NULL;
    size_t n = 0;
    if (dockerapi_list_containers(api, &sts, &n, &err) < 0) {
        query_release(&q);
        return http_response_from_error(&err);
    }
    json_t *arr = json_array();
    json_t *image_sizes = json_object();
    const char *before = q.before_id;
    for (size_t i = 0; i < n; i++) {
        const struct cri_container_status *st = &sts[i];
        if (before) {
            if (strcmp(st->id, before) == 0)
                before = NULL; /* older ones follow */
            continue;
        }
        if (q.since_id && strcmp(st->id, q.since_id) == 0)
            break;
        struct dockerapi_run_state rs;
        dockerapi_run_state(api, st, &rs);
        /* restarting counts as running for dockerd */
        bool up = dockerapi_is_up(st) || rs.restarting;
        if (!up && !q.all && q.limit <= 0)
            continue;
        if (q.limit > 0 && (int64_t)json_array_size(arr) >= q.limit)
            break;
        json_t *s = dockerapi_container_summary(api, st);
        if (!matches(&q, st, up, s)) {
            json_decref(s);
            continue;
        }
        if (size)
            dockerapi_summary_add_size(api, s, image_sizes);
        json_array_append_new(arr, s);
    }
    json_decref(image_sizes);
    cri_container_status_array_free(sts, n);
    query_release(&q);
    return http_response_json(200, arr);
}

int dockerapi_register_container_list(struct dockerapi *api, http_router *r, wharf_error *err)
{
    return http_router_add(r, "GET", "/containers/json", list, api, err);
}
