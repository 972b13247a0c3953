/*
 * events.c — the daemon's event bus and GET /events.
 *
 * Routes and the monitor report what happened with dockerapi_event(); each
 * event is formatted once, as the JSON line dockerd sends, and kept in a ring
 * of the last EVENTS_KEPT events (what `since` and `until` replay; as many
 * as dockerd keeps). A subscriber is a cursor into that ring — a sequence
 * number — and all of them wait on one condition variable, so an idle
 * stream costs a sleeping thread and nothing grows with time: a subscriber
 * that falls a whole ring behind skips what was overwritten, as a slow
 * dockerd client loses events.
 *
 * Filters follow dockerd's events filter (daemon/events/filter.go in moby):
 * keys AND, values of one key OR; "container" (and the other object types)
 * match an id or name prefix, "image" the image id or name with or without
 * its tag, "label" the actor's attributes, "event" the action.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define EVENTS_KEPT 256

struct event {
    uint64_t seq;
    int64_t time_ns;
    char *type, *action, *id;
    json_t *attributes; /* object of strings */
    char *line;         /* the JSON text and its newline */
};

struct dockerapi_events {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a new event, closing, or a subscriber left */
    struct event ring[EVENTS_KEPT];
    uint64_t next; /* sequence number of the next event */
    unsigned subscribers;
    bool closing;
};

struct dockerapi_event_sub {
    struct dockerapi_events *bus;
    json_t *filters;            /* key -> [values] */
    int64_t since_ns, until_ns; /* 0: unbounded */
    bool past_only;             /* until had passed: replay, then end */
    uint64_t seq;               /* the next event to look at */
    uint64_t live;              /* the first event published after subscribing */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void event_release(struct event *ev)
{
    free(ev->type);
    free(ev->action);
    free(ev->id);
    free(ev->line);
    if (ev->attributes)
        json_decref(ev->attributes);
    memset(ev, 0, sizeof(*ev));
}

static struct dockerapi_events *bus_new(void)
{
    struct dockerapi_events *bus = xcalloc(1, sizeof(*bus));
    pthread_mutex_init(&bus->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bus->changed, &ca);
    pthread_condattr_destroy(&ca);
    return bus;
}

void dockerapi_events_close(struct dockerapi *api)
{
    struct dockerapi_events *bus = api->events;
    if (!bus)
        return;
    pthread_mutex_lock(&bus->lock);
    bus->closing = true;
    pthread_cond_broadcast(&bus->changed);
    /* Subscribers notice within their wait; one stuck in a write to a client
     * keeps the bus alive (leaked) rather than freed under its feet. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 5;
    while (bus->subscribers > 0 &&
           pthread_cond_timedwait(&bus->changed, &bus->lock, &deadline) != ETIMEDOUT)
        ;
    bool idle = bus->subscribers == 0;
    pthread_mutex_unlock(&bus->lock);
    api->events = NULL;
    if (!idle)
        return;
    for (size_t i = 0; i < EVENTS_KEPT; i++)
        event_release(&bus->ring[i]);
    pthread_cond_destroy(&bus->changed);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

/* ---------------------------------------------------------------- publishing */

void dockerapi_event(struct dockerapi *api, const char *type, const char *action, const char *id,
                     json_t *attributes)
{
    struct dockerapi_events *bus = api->events;
    json_t *attrs = attributes ? attributes : json_object();
    if (!bus) {
        json_decref(attrs);
        return;
    }
    bool container = strcmp(type, "container") == 0;
    pthread_mutex_lock(&bus->lock);
    /* Taken under the lock, so times never go back along the ring. */
    int64_t t = now_ns();
    json_t *j = json_object();
    /* The fields dockerd still fills for containers and images (API < 1.52). */
    if (container || strcmp(type, "image") == 0) {
        json_object_set_new(j, "status", json_string(action));
        json_object_set_new(j, "id", json_string(id));
        const char *from = json_string_value(json_object_get(attrs, "image"));
        if (container && from)
            json_object_set_new(j, "from", json_string(from));
    }
    json_object_set_new(j, "Type", json_string(type));
    json_object_set_new(j, "Action", json_string(action));
    json_object_set_new(j, "Actor", json_pack("{s:s, s:O}", "ID", id, "Attributes", attrs));
    json_object_set_new(j, "scope", json_string("local"));
    json_object_set_new(j, "time", json_integer(t / 1000000000));
    json_object_set_new(j, "timeNano", json_integer(t));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct event *ev = &bus->ring[bus->next % EVENTS_KEPT];
    event_release(ev);
    *ev = (struct event){.seq = bus->next,
                         .time_ns = t,
                         .type = xstrdup(type),
                         .action = xstrdup(action),
                         .id = xstrdup(id),
                         .attributes = attrs,
                         .line = xasprintf("%s\n", text ? text : "{}")};
    free(text);
    bus->next++;
    pthread_cond_broadcast(&bus->changed);
    pthread_mutex_unlock(&bus->lock);
    /* A container began a run: the monitor watches for its exit. */
    if (container && strcmp(action, "start") == 0)
        dockerapi_monitor_wake(api);
    /* Health checks follow starts, exits, pauses and removals. */
    if (container)
        dockerapi_health_notify(api, id, action);
}

/* Labels, image and name, as dockerd puts them on every container event. */
static json_t *container_attributes(const struct cri_container_status *st)
{
    json_t *attrs = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(st->config, "labels"), key, v)
    {
        if (json_is_string(v))
            json_object_set(attrs, key, v);
    }
    json_t *meta = dockerapi_meta(st);
    const char *image = json_string_value(json_object_get(meta, "Image"));
    if (image)
        json_object_set_new(attrs, "image", json_string(image));
    json_object_set_new(attrs, "name", json_string(st->name ? st->name : ""));
    if (meta)
        json_decref(meta);
    return attrs;
}

void dockerapi_container_event(struct dockerapi *api, const char *id,
                               const struct cri_container_status *st, const char *action,
                               json_t *extra)
{
    struct cri_container_status loaded;
    wharf_error err = {0};
    bool have = st != NULL;
    if (!st && api->cri && cri_container_status(api->cri, id, &loaded, &err) == 0) {
        st = &loaded;
        have = true;
    }
    json_t *attrs = have ? container_attributes(st) : json_object();
    if (extra) {
        json_object_update(attrs, extra);
        json_decref(extra);
    }
    dockerapi_event(api, "container", action, id, attrs);
    if (have && st == &loaded)
        cri_container_status_release(&loaded);
}

void dockerapi_image_event(struct dockerapi *api, const char *image_id, const char *name,
                           const char *action)
{
    json_t *attrs = json_object();
    wharf_error err = {0};
    json_t *config = api->images ? image_store_config(api->images, image_id, &err) : NULL;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(config, "config"), "Labels"), key, v)
    {
        if (json_is_string(v))
            json_object_set(attrs, key, v);
    }
    if (config)
        json_decref(config);
    if (name && *name)
        json_object_set_new(attrs, "name", json_string(name));
    dockerapi_event(api, "image", action, image_id, attrs);
}

/* ---------------------------------------------------------------- filters */

static const char *const filter_keys[] = {"config", "container", "daemon", "event",  "image",
                                          "label",  "network",   "node",   "plugin", "scope",
                                          "secret", "service",   "type",   "volume", NULL};
/* The keys that name an object type: they match an actor's id or name. */
static const char *const object_keys[] = {"config", "container", "daemon",  "network", "node",
                                          "plugin", "secret",    "service", "volume",  NULL};

/* {"key": ["v", ...]} or dockerd's older {"key": {"v": true}} into the
 * first form; unknown keys are dockerd's "invalid filter". */
static int parse_filters(const char *text, json_t **out, wharf_error *err)
{
    *out = json_object();
    if (!text || !*text)
        return 0;
    json_error_t je;
    _cleanup_json_ json_t *j = json_loads(text, 0, &je);
    if (!json_is_object(j))
        return wharf_error_set(err, -EINVAL, "invalid filters: %s",
                               j ? "expected a JSON object" : je.text);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        bool known = false;
        for (size_t i = 0; filter_keys[i]; i++)
            known = known || strcmp(key, filter_keys[i]) == 0;
        if (!known)
            return wharf_error_set(err, -EINVAL, "invalid filter '%s'", key);
        json_t *values = json_array();
        json_object_set_new(*out, key, values);
        if (json_is_array(v)) {
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s)
            {
                if (!json_is_string(s))
                    return wharf_error_set(err, -EINVAL, "invalid filter '%s': expected strings",
                                           key);
                json_array_append(values, s);
            }
        } else if (json_is_object(v)) {
            const char *value;
            json_t *on;
            json_object_foreach(v, value, on)
            {
                if (json_is_true(on))
                    json_array_append_new(values, json_string(value));
            }
        } else {
            return wharf_error_set(err, -EINVAL, "invalid filter '%s': expected a list", key);
        }
    }
    return 0;
}

/* Docker's ExactMatch: no values given, or one equal to source. */
static bool exact(json_t *filters, const char *key, const char *source)
{
    json_t *values = json_object_get(filters, key);
    if (json_array_size(values) == 0)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (source && strcmp(json_string_value(v), source) == 0)
            return true;
    }
    return false;
}

/* Docker's FuzzyMatch: ExactMatch, or a value that is a prefix of source. */
static bool fuzzy(json_t *filters, const char *key, const char *source)
{
    if (exact(filters, key, source))
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(filters, key), i, v)
    {
        const char *prefix = json_string_value(v);
        if (source && strncmp(source, prefix, strlen(prefix)) == 0)
            return true;
    }
    return false;
}

static bool filtered_on(json_t *filters, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(filters, key), i, v)
    {
        if (strcmp(json_string_value(v), value) == 0)
            return true;
    }
    return false;
}

/* An image reference without its tag or digest, as Docker's familiar name. */
static char *strip_tag(const char *ref)
{
    image_ref r;
    wharf_error err = {0};
    if (!ref || image_ref_parse(ref, &r, &err) < 0)
        return ref ? xstrdup(ref) : NULL;
    free(r.tag);
    free(r.digest);
    r.tag = r.digest = NULL;
    char *s = image_ref_familiar(&r);
    image_ref_free(&r);
    return s;
}

static bool match_image(json_t *filters, const struct event *ev)
{
    if (json_array_size(json_object_get(filters, "image")) == 0)
        return true;
    const char *name = json_string_value(
        json_object_get(ev->attributes, strcmp(ev->type, "image") == 0 ? "name" : "image"));
    _cleanup_free_ char *bare_id = strip_tag(ev->id);
    _cleanup_free_ char *bare_name = strip_tag(name);
    return exact(filters, "image", ev->id) || (name && exact(filters, "image", name)) ||
           exact(filters, "image", bare_id) || (bare_name && exact(filters, "image", bare_name));
}

/* Docker's MatchKVList: every "k" or "k=v" holds in the attributes. */
static bool match_labels(json_t *filters, json_t *attributes)
{
    json_t *values = json_object_get(filters, "label");
    if (json_array_size(values) == 0)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *want = json_string_value(v);
        const char *eq = strchr(want, '=');
        _cleanup_free_ char *key = eq ? strndup(want, (size_t)(eq - want)) : xstrdup(want);
        const char *have = json_string_value(json_object_get(attributes, key));
        if (!have || (eq && strcmp(have, eq + 1) != 0))
            return false;
    }
    return true;
}

static bool event_matches(json_t *filters, const struct event *ev)
{
    /* exec_create/exec_start/health_status carry the command after a colon. */
    bool prefix_actions = filtered_on(filters, "event", "exec_create") ||
                          filtered_on(filters, "event", "exec_start") ||
                          filtered_on(filters, "event", "health_status");
    if (!(prefix_actions ? fuzzy(filters, "event", ev->action)
                         : exact(filters, "event", ev->action)))
        return false;
    if (!exact(filters, "type", ev->type) || !exact(filters, "scope", "local"))
        return false;
    const char *name = json_string_value(json_object_get(ev->attributes, "name"));
    for (size_t i = 0; object_keys[i]; i++) {
        if (!fuzzy(filters, object_keys[i], ev->id) &&
            !(name && fuzzy(filters, object_keys[i], name)))
            return false;
    }
    return match_image(filters, ev) && match_labels(filters, ev->attributes);
}

/* ---------------------------------------------------------------- subscribing */

/* Docker's since/until: Unix seconds with an optional fraction (what the CLI
 * sends, whatever the user typed), or RFC 3339. */
static int parse_time(const char *key, const char *value, int64_t *out, wharf_error *err)
{
    *out = 0;
    if (!value || !*value)
        return 0;
    struct timespec ts;
    if (cri_parse_time(value, strlen(value), &ts) == 0) {
        *out = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        return 0;
    }
    char *end;
    errno = 0;
    long long sec = strtoll(value, &end, 10);
    long long ns = 0;
    if (end != value && *end == '.') {
        const char *frac = end + 1;
        int digits = 0;
        for (; *frac >= '0' && *frac <= '9'; frac++, digits++)
            if (digits < 9)
                ns = ns * 10 + (*frac - '0');
        for (; digits < 9; digits++)
            ns *= 10;
        end = (char *)frac;
    }
    if (end == value || *end || errno || sec < 0)
        return wharf_error_set(err, -EINVAL, "invalid %s value '%s': want Unix seconds or RFC 3339",
                               key, value);
    *out = sec * 1000000000 + ns;
    return 0;
}

struct dockerapi_event_sub *dockerapi_events_subscribe(struct dockerapi *api, const char *since,
                                                       const char *until, const char *filters,
                                                       wharf_error *err)
{
    struct dockerapi_events *bus = api->events;
    if (!bus) {
        wharf_error_set(err, -ENOTSUP, "events are not served");
        return NULL;
    }
    int64_t since_ns, until_ns;
    json_t *f = NULL;
    if (parse_time("since", since, &since_ns, err) < 0 ||
        parse_time("until", until, &until_ns, err) < 0)
        return NULL;
    if (until_ns && since_ns > until_ns) {
        wharf_error_set(err, -EINVAL, "`since` time (%s) cannot be after `until` time (%s)", since,
                        until);
        return NULL;
    }
    if (parse_filters(filters, &f, err) < 0) {
        json_decref(f);
        return NULL;
    }
    struct dockerapi_event_sub *sub = xcalloc(1, sizeof(*sub));
    sub->bus = bus;
    sub->filters = f;
    sub->since_ns = since_ns;
    sub->until_ns = until_ns;
    sub->past_only = until_ns && until_ns < now_ns();
    pthread_mutex_lock(&bus->lock);
    sub->live = bus->next;
    /* dockerd replays its buffer only when a time bound is given. */
    sub->seq =
        since_ns || until_ns ? (bus->next > EVENTS_KEPT ? bus->next - EVENTS_KEPT : 0) : bus->next;
    bus->subscribers++;
    pthread_mutex_unlock(&bus->lock);
    return sub;
}

void dockerapi_events_unsubscribe(struct dockerapi_event_sub *sub)
{
    if (!sub)
        return;
    struct dockerapi_events *bus = sub->bus;
    pthread_mutex_lock(&bus->lock);
    bus->subscribers--;
    pthread_cond_broadcast(&bus->changed);
    pthread_mutex_unlock(&bus->lock);
    json_decref(sub->filters);
    free(sub);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int dockerapi_events_next(struct dockerapi_event_sub *sub, int timeout_ms, char **line)
{
    struct dockerapi_events *bus = sub->bus;
    int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
    int r;
    pthread_mutex_lock(&bus->lock);
    while (true) {
        if (bus->closing) {
            r = -EPIPE;
            break;
        }
        if (bus->next - sub->seq > EVENTS_KEPT)
            sub->seq = bus->next - EVENTS_KEPT; /* overwritten while we lagged */
        struct event *found = NULL;
        while (!found && sub->seq < bus->next && !(sub->past_only && sub->seq >= sub->live)) {
            struct event *ev = &bus->ring[sub->seq % EVENTS_KEPT];
            sub->seq++;
            /* Replayed events keep to the window; live ones come as they are. */
            if (ev->seq < sub->live && ((sub->since_ns && ev->time_ns < sub->since_ns) ||
                                        (sub->until_ns && ev->time_ns > sub->until_ns)))
                continue;
            if (event_matches(sub->filters, ev))
                found = ev;
        }
        if (found) {
            *line = xstrdup(found->line);
            r = 1;
            break;
        }
        int64_t left = deadline - mono_ns();
        if (sub->past_only || (sub->until_ns && now_ns() >= sub->until_ns)) {
            r = -EPIPE;
            break;
        }
        if (left <= 0) {
            r = 0;
            break;
        }
        if (sub->until_ns && sub->until_ns - now_ns() < left)
            left = sub->until_ns - now_ns() + 1000000;
        int64_t wake = mono_ns() + left;
        struct timespec ts = {wake / 1000000000, wake % 1000000000};
        pthread_cond_timedwait(&bus->changed, &bus->lock, &ts);
    }
    pthread_mutex_unlock(&bus->lock);
    return r;
}

/* ---------------------------------------------------------------- GET /events */

struct events_job {
    struct dockerapi_event_sub *sub;
    http_stream *stream;
};

static void *events_thread(void *p)
{
    struct events_job *job = p;
    while (true) {
        char *line = NULL;
        /* Wakes at least once a second to notice a client that left. */
        int r = dockerapi_events_next(job->sub, 1000, &line);
        if (r < 0)
            break;
        if (r == 0) {
            if (http_stream_closed(job->stream))
                break;
            continue;
        }
        int w = http_stream_write(job->stream, line, strlen(line));
        free(line);
        if (w < 0)
            break;
    }
    dockerapi_events_unsubscribe(job->sub);
    http_stream_close(job->stream);
    free(job);
    return NULL;
}

static http_response *events(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    wharf_error err = {0};
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(
        api, http_request_query(req, "since"), http_request_query(req, "until"),
        http_request_query(req, "filters"), &err);
    if (!sub)
        return http_response_error(err.code == -EINVAL ? 400 : 500, "%s", err.msg);
    struct events_job *job = xcalloc(1, sizeof(*job));
    job->sub = sub;
    http_response *resp = http_response_stream(200, "application/json", &job->stream);
    if (dockerapi_start_thread(events_thread, job) < 0) {
        dockerapi_events_unsubscribe(job->sub);
        http_stream_close(job->stream);
        free(job);
    }
    return resp;
}

int dockerapi_register_events(struct dockerapi *api, http_router *r, wharf_error *err)
{
    if (!api->events)
        api->events = bus_new();
    return http_router_add(r, "GET", "/events", events, api, err);
}
