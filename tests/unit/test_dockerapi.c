/*
 * Unit tests for src/dockerapi without a daemon: the event bus (what
 * GET /events streams: the JSON shape, since/until replay, live events,
 * dockerd's filters, a bounded ring) and the restart policy checks; the
 * request parsers (filters, times, binds, HostConfig) and users by name
 * against a temporary root filesystem.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

struct fixture {
    struct dockerapi api;
    http_router *router;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->router = http_router_new();
    wharf_error err = {0};
    if (dockerapi_register_events(&f->api, f->router, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dockerapi_close(&f->api);
    http_router_free(f->router);
    free(f);
    return 0;
}

/* Unix time with nanoseconds, as the docker CLI sends since/until. */
static char *now_text(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return xasprintf("%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
}

static void container_event(struct dockerapi *api, const char *action, const char *id,
                            const char *name, const char *image, const char *label)
{
    json_t *attrs = json_pack("{s:s, s:s}", "name", name, "image", image);
    if (label)
        json_object_set_new(attrs, "com.example.tier", json_string(label));
    dockerapi_event(api, "container", action, id, attrs);
}

/* Every line the subscription gives before it ends or goes quiet. */
static json_t *drain(struct dockerapi_event_sub *sub, int timeout_ms, int *end)
{
    json_t *all = json_array();
    char *line;
    int r;
    while ((r = dockerapi_events_next(sub, timeout_ms, &line)) == 1) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        assert_non_null(j);
        assert_int_equal(line[strlen(line) - 1], '\n');
        json_array_append_new(all, j);
        free(line);
    }
    *end = r;
    return all;
}

static const char *action_at(json_t *events, size_t i)
{
    return json_string_value(json_object_get(json_array_get(events, i), "Action"));
}

static void test_event_shape(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *since = now_text();
    container_event(&f->api, "die", "abc123", "web", "localhost/app:1", NULL);
    dockerapi_image_event(&f->api, "sha256:feed", "localhost/app:1", "tag");
    wharf_error err = {0};
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(&f->api, since, NULL, NULL, &err);
    assert_non_null(sub);
    int end;
    json_t *got = drain(sub, 50, &end);
    assert_int_equal(end, 0); /* no until: the stream stays open */
    assert_int_equal(json_array_size(got), 2);
    json_t *c = json_array_get(got, 0);
    assert_string_equal(json_string_value(json_object_get(c, "Type")), "container");
    assert_string_equal(json_string_value(json_object_get(c, "Action")), "die");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "die");
    assert_string_equal(json_string_value(json_object_get(c, "id")), "abc123");
    assert_string_equal(json_string_value(json_object_get(c, "from")), "localhost/app:1");
    assert_string_equal(json_string_value(json_object_get(c, "scope")), "local");
    json_t *actor = json_object_get(c, "Actor");
    assert_string_equal(json_string_value(json_object_get(actor, "ID")), "abc123");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(actor, "Attributes"), "name")), "web");
    json_int_t t = json_integer_value(json_object_get(c, "time"));
    json_int_t tn = json_integer_value(json_object_get(c, "timeNano"));
    assert_true(t > 1600000000);
    assert_int_equal(tn / 1000000000, t);
    json_t *i = json_array_get(got, 1);
    assert_string_equal(json_string_value(json_object_get(i, "Type")), "image");
    assert_null(json_object_get(i, "from")); /* dockerd sets from for containers only */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(i, "Actor"), "Attributes"), "name")),
                        "localhost/app:1");
    json_decref(got);
    dockerapi_events_unsubscribe(sub);
}

static void test_since_until_window(void **state)
{
    struct fixture *f = *state;
    container_event(&f->api, "create", "c1", "one", "img:1", NULL);
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    _cleanup_free_ char *t1 = now_text();
    container_event(&f->api, "start", "c1", "one", "img:1", NULL);
    container_event(&f->api, "die", "c1", "one", "img:1", NULL);
    nanosleep(&pause, NULL);
    _cleanup_free_ char *t2 = now_text();
    nanosleep(&pause, NULL);
    container_event(&f->api, "destroy", "c1", "one", "img:1", NULL);
    wharf_error err = {0};
    int end;

    /* A past until: the buffered events in the window, then the end. */
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(&f->api, t1, t2, NULL, &err);
    assert_non_null(sub);
    json_t *got = drain(sub, 1000, &end);
    assert_int_equal(end, -EPIPE);
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(action_at(got, 0), "start");
    assert_string_equal(action_at(got, 1), "die");
    json_decref(got);
    dockerapi_events_unsubscribe(sub);

    /* Only until: everything kept up to it. */
    sub = dockerapi_events_subscribe(&f->api, NULL, t1, NULL, &err);
    got = drain(sub, 1000, &end);
    assert_int_equal(end, -EPIPE);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(action_at(got, 0), "create");
    json_decref(got);
    dockerapi_events_unsubscribe(sub);

    /* Neither: only what comes after subscribing. */
    sub = dockerapi_events_subscribe(&f->api, NULL, NULL, NULL, &err);
    got = drain(sub, 20, &end);
    assert_int_equal(end, 0);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);
    container_event(&f->api, "kill", "c2", "two", "img:1", NULL);
    got = drain(sub, 20, &end);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(action_at(got, 0), "kill");
    json_decref(got);
    dockerapi_events_unsubscribe(sub);
}

static void test_until_in_the_future_ends_the_stream(void **state)
{
    struct fixture *f = *state;
    /* 300 ms from now */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec + 300000000;
    _cleanup_free_ char *until = xasprintf("%lld.%09lld", ns / 1000000000, ns % 1000000000);
    wharf_error err = {0};
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(&f->api, NULL, until, NULL, &err);
    assert_non_null(sub);
    container_event(&f->api, "start", "c3", "three", "img:1", NULL);
    int end;
    double t0 = wharf_now_ms();
    json_t *got = drain(sub, 5000, &end);
    double waited = wharf_now_ms() - t0;
    assert_int_equal(end, -EPIPE);
    assert_int_equal(json_array_size(got), 1);
    assert_true(waited >= 200 && waited < 2000);
    json_decref(got);
    dockerapi_events_unsubscribe(sub);
}

/* The actions of the events kept since `since` that pass filters. */
static char *filtered(struct dockerapi *api, const char *since, const char *filters)
{
    wharf_error err = {0};
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(api, since, NULL, filters, &err);
    assert_non_null(sub);
    int end;
    json_t *got = drain(sub, 10, &end);
    strbuf sb = STRBUF_INIT;
    size_t i;
    json_t *ev;
    json_array_foreach(got, i, ev)
    {
        strbuf_addf(&sb, "%s%s", i ? " " : "", json_string_value(json_object_get(ev, "Action")));
    }
    json_decref(got);
    dockerapi_events_unsubscribe(sub);
    return strbuf_detach(&sb);
}

static void test_filters(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *since = now_text();
    container_event(&f->api, "create", "aaa111", "web", "localhost/app:1", "front");
    container_event(&f->api, "die", "bbb222", "db", "busybox", "back");
    dockerapi_event(&f->api, "container", "exec_start: sh -c true", "aaa111",
                    json_pack("{s:s, s:s}", "name", "web", "image", "localhost/app:1"));
    dockerapi_image_event(&f->api, "sha256:cafe", "localhost/app:2", "tag");
    struct {
        const char *filters, *want;
    } cases[] = {
        {NULL, "create die exec_start: sh -c true tag"},
        {"{\"type\":{\"image\":true}}", "tag"},
        {"{\"type\":[\"container\"]}", "create die exec_start: sh -c true"},
        {"{\"event\":{\"die\":true}}", "die"},
        {"{\"event\":[\"die\",\"create\"]}", "create die"},
        /* exec_start is matched as a prefix of the action */
        {"{\"event\":[\"exec_start\"]}", "exec_start: sh -c true"},
        {"{\"container\":[\"aaa\"]}", "create exec_start: sh -c true"},
        {"{\"container\":[\"db\"]}", "die"},
        /* the image with or without its tag, and image events by name */
        {"{\"image\":[\"localhost/app\"]}", "create exec_start: sh -c true tag"},
        {"{\"image\":[\"localhost/app:1\"]}", "create exec_start: sh -c true"},
        {"{\"image\":[\"busybox\"]}", "die"},
        {"{\"label\":[\"com.example.tier\"]}", "create die"},
        {"{\"label\":[\"com.example.tier=back\"]}", "die"},
        {"{\"type\":[\"container\"],\"event\":[\"die\"],\"label\":[\"com.example.tier=front\"]}",
         ""},
        {"{\"scope\":[\"swarm\"]}", ""},
        {"{\"network\":[\"bridge\"]}", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *got = filtered(&f->api, since, cases[i].filters);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("filters %s: got \"%s\", want \"%s\"", cases[i].filters, got, cases[i].want);
    }
}

static void test_bad_parameters(void **state)
{
    struct fixture *f = *state;
    wharf_error err = {0};
    assert_null(dockerapi_events_subscribe(&f->api, NULL, NULL, "{\"colour\":[\"red\"]}", &err));
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, "invalid filter 'colour'");
    wharf_error_clear(&err);
    assert_null(dockerapi_events_subscribe(&f->api, NULL, NULL, "[1]", &err));
    assert_int_equal(err.code, -EINVAL);
    wharf_error_clear(&err);
    assert_null(dockerapi_events_subscribe(&f->api, "yesterday", NULL, NULL, &err));
    assert_int_equal(err.code, -EINVAL);
    assert_non_null(strstr(err.msg, "since"));
    wharf_error_clear(&err);
    assert_null(dockerapi_events_subscribe(&f->api, "2000", "1000", NULL, &err));
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, "`since` time (2000) cannot be after `until` time (1000)");
    /* RFC 3339 is taken too */
    struct dockerapi_event_sub *sub = dockerapi_events_subscribe(
        &f->api, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", NULL, &err);
    assert_non_null(sub);
    int end;
    json_t *got = drain(sub, 100, &end);
    assert_int_equal(end, -EPIPE);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);
    dockerapi_events_unsubscribe(sub);
}

static void test_ring_is_bounded(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *since = now_text();
    wharf_error err = {0};
    /* A subscriber that reads nothing while 3000 events go by. */
    struct dockerapi_event_sub *lagging =
        dockerapi_events_subscribe(&f->api, NULL, NULL, NULL, &err);
    for (int i = 0; i < 3000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        container_event(&f->api, "create", id, id, "img:1", NULL);
    }
    int end;
    json_t *got = drain(lagging, 10, &end);
    /* Only what the ring still holds: the newest ones, in order. */
    assert_true(json_array_size(got) >= 256 && json_array_size(got) < 3000);
    json_t *last = json_array_get(got, json_array_size(got) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "id")), "c2999");
    size_t kept = json_array_size(got);
    json_decref(got);
    dockerapi_events_unsubscribe(lagging);
    struct dockerapi_event_sub *replay =
        dockerapi_events_subscribe(&f->api, since, NULL, NULL, &err);
    got = drain(replay, 10, &end);
    assert_int_equal(json_array_size(got), kept);
    json_decref(got);
    dockerapi_events_unsubscribe(replay);
}

static void test_restart_policy(void **state)
{
    (void)state;
    struct {
        const char *host;
        int code;
        enum dockerapi_restart name;
        int64_t max;
        const char *msg;
    } cases[] = {
        {"{}", 0, DOCKERAPI_RESTART_NO, 0, NULL},
        {"{\"RestartPolicy\":{\"Name\":\"\",\"MaximumRetryCount\":3}}", 0, DOCKERAPI_RESTART_NO, 0,
         NULL},
        {"{\"RestartPolicy\":{\"Name\":\"always\"}}", 0, DOCKERAPI_RESTART_ALWAYS, 0, NULL},
        {"{\"RestartPolicy\":{\"Name\":\"unless-stopped\"}}", 0, DOCKERAPI_RESTART_UNLESS_STOPPED,
         0, NULL},
        {"{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}}", 0,
         DOCKERAPI_RESTART_ON_FAILURE, 2, NULL},
        {"{\"RestartPolicy\":{\"Name\":\"sometimes\"}}", -EINVAL, 0, 0,
         "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
         "'on-failure', or 'unless-stopped'"},
        {"{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":3}}", -EINVAL, 0, 0,
         "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
        {"{\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":-1}}", -EINVAL, 0, 0,
         "invalid restart policy: maximum retry count can only be used with 'on-failure' and "
         "cannot be negative"},
        {"{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":-2}}", -EINVAL, 0, 0,
         "invalid restart policy: maximum retry count cannot be negative"},
        {"{\"AutoRemove\":true,\"RestartPolicy\":{\"Name\":\"always\"}}", -EINVAL, 0, 0,
         "can't create 'AutoRemove' container with restart policy"},
        {"{\"RestartPolicy\":\"always\"}", -EINVAL, 0, 0,
         "HostConfig.RestartPolicy: expected an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t je;
        json_t *host = json_loads(cases[i].host, 0, &je);
        struct dockerapi_restart_policy p;
        wharf_error err = {0};
        int r = dockerapi_restart_policy(host, &p, &err);
        json_decref(host);
        if (r != cases[i].code)
            fail_msg("%s: got %d (%s)", cases[i].host, r, err.msg);
        if (r == 0) {
            assert_int_equal(p.name, cases[i].name);
            assert_int_equal(p.max_retries, cases[i].max);
        } else {
            assert_string_equal(err.msg, cases[i].msg);
        }
    }
}

/* ---------------------------------------------------------------- request parsers */

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

static const char *const keys[] = {"label", "name", "status", "dangling", NULL};

static void test_filter_parameter(void **state)
{
    (void)state;
    wharf_error err = {0};
    json_t *f = NULL;
    /* the docker CLI's form and the documented form */
    assert_int_equal(dockerapi_filters_parse("{\"label\":{\"a=b\":true,\"off\":false},"
                                             "\"name\":[\"web\"]}",
                                             keys, &f, &err),
                     0);
    assert_int_equal(json_array_size(dockerapi_filters_values(f, "label")), 1);
    assert_true(dockerapi_filters_has(f, "name"));
    assert_false(dockerapi_filters_has(f, "status"));
    /* Match: exact or an unanchored regular expression */
    assert_true(dockerapi_filters_match(f, "name", "web"));
    assert_true(dockerapi_filters_match(f, "name", "my-web-1"));
    assert_false(dockerapi_filters_match(f, "name", "db"));
    assert_true(dockerapi_filters_match(f, "status", "anything")); /* no values */
    assert_false(dockerapi_filters_exact(f, "name", "my-web-1"));
    json_t *labels = parse("{\"a\":\"b\",\"c\":\"\"}");
    assert_true(dockerapi_filters_match_labels(f, "label", labels));
    json_decref(labels);
    labels = parse("{\"a\":\"x\"}");
    assert_false(dockerapi_filters_match_labels(f, "label", labels));
    json_decref(labels);
    assert_false(dockerapi_filters_match_labels(f, "label", NULL));
    json_decref(f);

    assert_int_equal(dockerapi_filters_parse(NULL, keys, &f, &err), 0);
    assert_int_equal(json_object_size(f), 0);
    json_decref(f);
    assert_int_equal(dockerapi_filters_parse("{\"nope\":[\"1\"]}", keys, &f, &err), -EINVAL);
    assert_null(f);
    assert_string_equal(err.msg, "invalid filter 'nope'");
    assert_int_equal(dockerapi_filters_parse("{\"label\":", keys, &f, &err), -EINVAL);
    assert_int_equal(dockerapi_filters_parse("{\"label\":[1]}", keys, &f, &err), -EINVAL);
    assert_int_equal(dockerapi_filters_parse("[]", keys, &f, &err), -EINVAL);

    bool b = false;
    assert_int_equal(dockerapi_filters_parse("{\"dangling\":[\"false\"]}", keys, &f, &err), 0);
    assert_int_equal(dockerapi_filters_bool(f, "dangling", true, &b, &err), 0);
    assert_false(b);
    assert_int_equal(dockerapi_filters_bool(f, "status", true, &b, &err), 0);
    assert_true(b);
    json_decref(f);
    assert_int_equal(dockerapi_filters_parse("{\"dangling\":[\"true\",\"0\"]}", keys, &f, &err), 0);
    assert_int_equal(dockerapi_filters_bool(f, "dangling", true, &b, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid filter 'dangling=true,0'");
    json_decref(f);
}

static void test_timestamps(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct timespec t;
    assert_int_equal(dockerapi_parse_timestamp("10m", 100000, &t, &err), 0);
    assert_int_equal(t.tv_sec, 100000 - 600);
    assert_int_equal(dockerapi_parse_timestamp("1h30m", 100000, &t, &err), 0);
    assert_int_equal(t.tv_sec, 100000 - 5400);
    assert_int_equal(dockerapi_parse_timestamp("1700000000.5", 0, &t, &err), 0);
    assert_int_equal(t.tv_sec, 1700000000);
    assert_int_equal(t.tv_nsec, 500000000);
    assert_int_equal(dockerapi_parse_timestamp("2023-11-14T22:13:20Z", 0, &t, &err), 0);
    assert_int_equal(t.tv_sec, 1700000000);
    assert_int_equal(dockerapi_parse_timestamp("2023-11-14", 0, &t, &err), 0);
    assert_int_equal(dockerapi_parse_timestamp("someday", 0, &t, &err), -EINVAL);
    assert_string_equal(err.msg, "failed to parse value as time or duration: \"someday\"");
    assert_int_equal(dockerapi_parse_timestamp("10x", 0, &t, &err), -EINVAL);
    assert_int_equal(dockerapi_parse_timestamp("", 0, &t, &err), -EINVAL);
}

static void expect_bind_error(const char *spec, int code, const char *want)
{
    struct dockerapi_bind b;
    wharf_error err = {0};
    assert_int_equal(dockerapi_parse_bind(spec, &b, &err), code);
    if (!strstr(err.msg, want))
        fail_msg("%s: \"%s\" does not mention \"%s\"", spec, err.msg, want);
}

static void test_binds(void **state)
{
    (void)state;
    struct dockerapi_bind b;
    wharf_error err = {0};
    assert_int_equal(dockerapi_parse_bind("/host//dir/./x/../y:/data/", &b, &err), 0);
    assert_string_equal(b.source, "/host/dir/y");
    assert_string_equal(b.destination, "/data");
    assert_string_equal(b.mode, "");
    assert_false(b.readonly);
    assert_string_equal(b.propagation, "rprivate");
    dockerapi_bind_release(&b);
    assert_int_equal(dockerapi_parse_bind("/h:/c:ro,z,rshared", &b, &err), 0);
    assert_true(b.readonly);
    assert_string_equal(b.propagation, "rshared");
    assert_string_equal(b.mode, "ro,z,rshared");
    dockerapi_bind_release(&b);
    expect_bind_error("/h:/c:bogus", -EINVAL, "invalid mode: bogus");
    expect_bind_error("/h:/c:ro,rw", -EINVAL, "invalid mode: ro,rw");
    expect_bind_error("/h:/c:ro,", -EINVAL, "invalid mode");
    expect_bind_error("/c:ro", -EINVAL, "invalid volume specification: '/c:ro'");
    expect_bind_error("/c", -EINVAL, "invalid volume specification");
    expect_bind_error("/a:/b:ro:x", -EINVAL, "invalid volume specification");
    expect_bind_error(":/b", -EINVAL, "invalid volume specification");
    expect_bind_error("/h:rel", -EINVAL, "mount path must be absolute");
    expect_bind_error("/h:/", -EINVAL, "destination can't be '/'");
    expect_bind_error("/h:/c:nocopy", -EINVAL, "VolumeOptions");
    /* a source that is not a path names a volume */
    assert_int_equal(dockerapi_parse_bind("data:/srv/", &b, &err), 0);
    assert_true(b.volume);
    assert_string_equal(b.source, "data");
    assert_string_equal(b.destination, "/srv");
    assert_string_equal(b.propagation, "");
    assert_false(b.nocopy);
    dockerapi_bind_release(&b);
    assert_int_equal(dockerapi_parse_bind("data:/srv:ro,nocopy", &b, &err), 0);
    assert_true(b.volume && b.readonly && b.nocopy);
    dockerapi_bind_release(&b);
    expect_bind_error("data:/srv:rshared", -EINVAL,
                      "invalid mount config for type \"volume\": field BindOptions must not be "
                      "specified");
    expect_bind_error("data:srv", -EINVAL,
                      "invalid mount config for type \"volume\": invalid mount path: 'srv'");

    /* containers made before mount points were recorded: their binds */
    json_t *host = parse("{\"HostConfig\": {\"Binds\": [\"/a:/b:ro\", \"/c:/d\"]}}");
    json_t *mp = dockerapi_mount_points(host);
    char *text = json_dumps(mp, JSON_COMPACT);
    assert_string_equal(text, "[{\"Type\":\"bind\",\"Source\":\"/a\",\"Destination\":\"/b\","
                              "\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"},"
                              "{\"Type\":\"bind\",\"Source\":\"/c\",\"Destination\":\"/d\","
                              "\"Mode\":\"\",\"RW\":true,\"Propagation\":\"rprivate\"}]");
    free(text);
    json_decref(mp);
    json_decref(host);
    /* recorded ones: Name and Driver only when set; Anonymous is ours */
    host = parse("{\"MountPoints\": [{\"Type\": \"volume\", \"Name\": \"v1\", \"Source\": "
                 "\"/r/volumes/v1/_data\", \"Destination\": \"/data\", \"Driver\": \"local\", "
                 "\"Mode\": \"z\", \"RW\": true, \"Propagation\": \"\", \"Anonymous\": false},"
                 "{\"Type\": \"tmpfs\", \"Source\": \"\", \"Destination\": \"/t\", \"Mode\": "
                 "\"\", \"RW\": false, \"Propagation\": \"\"}]}");
    mp = dockerapi_mount_points(host);
    text = json_dumps(mp, JSON_COMPACT);
    assert_string_equal(text, "[{\"Type\":\"volume\",\"Name\":\"v1\",\"Source\":"
                              "\"/r/volumes/v1/_data\",\"Destination\":\"/data\",\"Driver\":"
                              "\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"},"
                              "{\"Type\":\"tmpfs\",\"Source\":\"\",\"Destination\":\"/t\","
                              "\"Mode\":\"\",\"RW\":false,\"Propagation\":\"\"}]");
    free(text);
    json_decref(mp);
    json_decref(host);
}

/* The mount plan of a create body (Config with HostConfig) and an image
 * config; NULL (and the message in *msg) when refused with code want. */
static json_t *plan_of(const char *body_text, const char *image_text, int want, char **msg)
{
    json_t *body = parse(body_text);
    json_t *image = parse(image_text ? image_text : "{}");
    json_t *plan = NULL;
    wharf_error err = {0};
    struct dockerapi api = {0};
    int r = dockerapi_mounts_plan(&api, body, image, &plan, &err);
    if (r != want)
        fail_msg("%s: got %d (%s), want %d", body_text, r, err.msg, want);
    if (msg)
        *msg = r < 0 ? strdup(err.msg)
                     : json_dumps(json_object_get(body, "Volumes"),
                                  JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(image);
    json_decref(body);
    return plan;
}

static void expect_plan_error(const char *body_text, int code, const char *want)
{
    char *msg = NULL;
    json_t *plan = plan_of(body_text, NULL, code, &msg);
    assert_null(plan);
    if (!strstr(msg, want))
        fail_msg("%s: \"%s\" does not mention \"%s\"", body_text, msg, want);
    free(msg);
}

static void test_mounts_plan(void **state)
{
    (void)state;
    char *volumes = NULL;
    json_t *plan = plan_of(
        "{\"Volumes\": {\"/req\": {}}, \"HostConfig\": {"
        "\"Binds\": [\"/h:/c:ro\", \"data:/data\", \"cache:/cache:nocopy\"],"
        "\"Tmpfs\": {\"/run\": \"\"},"
        "\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/tmp\", \"Target\": \"/mnt/\","
        "  \"BindOptions\": {\"Propagation\": \"rslave\"}},"
        " {\"Type\": \"volume\", \"Source\": \"v2\", \"Target\": \"/v2\", \"ReadOnly\": true,"
        "  \"VolumeOptions\": {\"Labels\": {\"k\": \"v\"}, \"NoCopy\": true}},"
        " {\"Type\": \"volume\", \"Target\": \"/anon\"},"
        " {\"Type\": \"tmpfs\", \"Target\": \"/scratch\", \"TmpfsOptions\": "
        "  {\"SizeBytes\": 2097152, \"Mode\": 448, \"Options\": [[\"exec\"]]}}]}}",
        "{\"Volumes\": {\"/data\": {}, \"/img\": {}, \"/run\": {}}}", 0, &volumes);
    /* the image's volumes under the request's, as inspect shows them */
    assert_string_equal(volumes, "{\"/data\":{},\"/img\":{},\"/req\":{},\"/run\":{}}");
    free(volumes);
    char *text = json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text,
        "[{\"destination\":\"/c\",\"kind\":\"bind\",\"make_source\":true,\"mode\":\"ro\","
        "\"propagation\":\"rprivate\",\"readonly\":true,\"source\":\"/h\"},"
        "{\"copy\":true,\"destination\":\"/data\",\"kind\":\"volume\",\"mode\":\"z\","
        "\"propagation\":\"\",\"readonly\":false,\"source\":\"data\"},"
        "{\"copy\":false,\"destination\":\"/cache\",\"kind\":\"volume\",\"mode\":\"nocopy\","
        "\"propagation\":\"\",\"readonly\":false,\"source\":\"cache\"},"
        "{\"destination\":\"/mnt\",\"kind\":\"bind\",\"make_source\":false,\"mode\":\"\","
        "\"propagation\":\"rslave\",\"readonly\":false,\"source\":\"/tmp\"},"
        "{\"copy\":false,\"destination\":\"/v2\",\"kind\":\"volume\",\"labels\":{\"k\":\"v\"},"
        "\"mode\":\"z\",\"propagation\":\"\",\"readonly\":true,\"source\":\"v2\"},"
        "{\"copy\":true,\"destination\":\"/anon\",\"kind\":\"volume\",\"mode\":\"z\","
        "\"propagation\":\"\",\"readonly\":false,\"source\":\"\"},"
        "{\"destination\":\"/scratch\",\"kind\":\"tmpfs\",\"mode\":\"\",\"propagation\":\"\","
        "\"readonly\":false,\"source\":\"\",\"tmpfs\":[\"mode=700\",\"size=2m\",\"exec\"]},"
        "{\"config_volume\":true,\"copy\":true,\"destination\":\"/img\",\"kind\":\"volume\","
        "\"mode\":\"\",\"propagation\":\"\",\"readonly\":false,\"source\":\"\"},"
        "{\"config_volume\":true,\"copy\":true,\"destination\":\"/req\",\"kind\":\"volume\","
        "\"mode\":\"\",\"propagation\":\"\",\"readonly\":false,\"source\":\"\"}]");
    free(text);
    json_decref(plan);

    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"/a:/d\", \"/b:/d\"]}}", -EINVAL,
                      "Duplicate mount point: /d");
    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"v1:/t\"], \"Tmpfs\": {\"/t\": \"\"}}}",
                      -EINVAL, "Duplicate mount point: /t");
    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"/a:/d\"], \"Mounts\": [{\"Type\": "
                      "\"volume\", \"Target\": \"/d/\"}]}}",
                      -EINVAL, "Duplicate mount point: /d/");
    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"a b:/d\"]}}", -EINVAL,
                      "create a b: \"a b\" includes invalid characters for a local volume name");
    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"x:/d\"]}}", -EINVAL,
                      "create x: volume name is too short");
    expect_plan_error("{\"HostConfig\": {\"Binds\": [\"vol:/d\"], \"VolumeDriver\": \"nfsplug\"}}",
                      -ENOENT,
                      "error looking up volume plugin nfsplug: plugin \"nfsplug\" not found");
    expect_plan_error(
        "{\"HostConfig\": {\"Mounts\": [{\"Type\": \"floppy\", \"Target\": \"/f\"}]}}", -EINVAL,
        "invalid mount config for type \"floppy\": mount type unknown");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"volume\"}]}}", -EINVAL,
                      "invalid mount config for type \"volume\": field Target must not be empty");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"volume\", \"Target\": \"t\"}]}}",
                      -EINVAL, "invalid mount path: 't' mount path must be absolute");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"bind\", \"Target\": \"/\", "
                      "\"Source\": \"/tmp\"}]}}",
                      -EINVAL, "destination can't be '/'");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"bind\", \"Target\": \"/b\", "
                      "\"Source\": \"/nonexistent-wharf-test\"}]}}",
                      -EINVAL,
                      "invalid mount config for type \"bind\": bind source path does not exist: "
                      "/nonexistent-wharf-test");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"bind\", \"Target\": \"/b\"}]}}",
                      -EINVAL, "field Source must not be empty");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"volume\", \"Target\": \"/b\", "
                      "\"BindOptions\": {}}]}}",
                      -EINVAL, "field BindOptions must not be specified");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"volume\", \"Target\": \"/b\", "
                      "\"ReadOnly\": true}]}}",
                      -EINVAL, "must not set ReadOnly mode when using anonymous volumes");
    expect_plan_error("{\"HostConfig\": {\"Mounts\": [{\"Type\": \"tmpfs\", \"Target\": \"/b\", "
                      "\"Source\": \"x\"}]}}",
                      -EINVAL,
                      "invalid mount config for type \"tmpfs\": field Source must not be "
                      "specified");
    expect_plan_error("{\"HostConfig\": {\"VolumesFrom\": [\"nosuch:ro\"]}}", -EINVAL,
                      "No such container: nosuch");
    expect_plan_error("{\"HostConfig\": {\"VolumesFrom\": [\"x:rshared\"]}}", -EINVAL,
                      "invalid mode: rshared");
    expect_plan_error("{\"HostConfig\": {\"VolumesFrom\": [\"\"]}}", -EINVAL,
                      "volumes-from specification cannot be an empty string");
    expect_plan_error("{\"Volumes\": {\"rel\": {}}}", -EINVAL,
                      "invalid mount path: 'rel' mount path must be absolute");
}

static json_t *apply(const char *host_text, int want)
{
    struct dockerapi api = {.init_path = "/usr/bin/wharf-init"};
    json_t *host = parse(host_text);
    json_t *cfg = json_object();
    wharf_error err = {0};
    int r = dockerapi_apply_host_config(&api, host, cfg, &err);
    json_decref(host);
    if (r != want)
        fail_msg("%s: got %d (%s), want %d", host_text, r, err.msg, want);
    if (r < 0) {
        json_decref(cfg);
        return json_string(err.msg);
    }
    return cfg;
}

static void expect_host_error(const char *host_text, const char *want)
{
    json_t *msg = apply(host_text, -EINVAL);
    if (!strstr(json_string_value(msg), want))
        fail_msg("\"%s\" does not mention \"%s\"", json_string_value(msg), want);
    json_decref(msg);
}

static void test_host_config(void **state)
{
    (void)state;
    json_t *cfg = apply("{\"Ulimits\": [{\"Name\": \"nofile\", \"Soft\": 10, \"Hard\": 20}],"
                        "\"Sysctls\": {\"net.ipv4.ip_forward\": \"1\"}, \"OomScoreAdj\": 7,"
                        "\"CpusetCpus\": \"0\", \"ShmSize\": 1048576,"
                        "\"Tmpfs\": {\"/run\": \"size=1m,exec\"},"
                        "\"SecurityOpt\": [\"no-new-privileges:true\", \"seccomp=unconfined\"],"
                        "\"RestartPolicy\": {\"Name\": \"on-failure\", \"MaximumRetryCount\": 2},"
                        "\"Init\": true, \"CapAdd\": [\"NET_ADMIN\"], \"Memory\": 8388608}",
                        0);
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text, "{\"cap_add\":[\"NET_ADMIN\"],\"init\":\"/usr/bin/wharf-init\","
              "\"mounts\":[{\"destination\":\"/dev/shm\",\"options\":[\"mode=1777\","
              "\"size=1048576\"],\"type\":\"tmpfs\"},{\"destination\":\"/run\",\"options\":"
              "[\"size=1m\",\"exec\"],\"type\":\"tmpfs\"}],"
              "\"no_new_privileges\":true,\"oom_score_adj\":7,\"resources\":{\"cpuset_cpus\":"
              "\"0\",\"memory\":8388608,\"memory_swap\":16777216},\"sysctls\":{\"net.ipv4.ip_"
              "forward\":\"1\"},"
              "\"ulimits\":[{\"hard\":20,\"name\":\"nofile\",\"soft\":10}]}");
    free(text);
    json_decref(cfg);
    expect_host_error("{\"OomScoreAdj\": 1001}", "range for oom score adj is [-1000, 1000]");
    expect_host_error("{\"ShmSize\": -1}", "SHM size can not be less than 0");
    expect_host_error("{\"Tmpfs\": {\"/x\": \"bogus\"}}", "invalid tmpfs option \"bogus\"");
    expect_host_error("{\"Tmpfs\": {\"rel\": \"\"}}", "mount path must be absolute");
    expect_host_error("{\"SecurityOpt\": [\"apparmor=strict\"]}", "invalid --security-opt 2");
    expect_host_error("{\"SecurityOpt\": [\"oops\"]}", "invalid --security-opt 1");
    expect_host_error("{\"SecurityOpt\": [\"no-new-privileges=maybe\"]}",
                      "invalid --security-opt 2");
    expect_host_error("{\"CpusetCpus\": \"0-\"}", "Invalid value 0- for cpuset cpus");
    expect_host_error("{\"CpusetCpus\": \"100000\"}", "Requested CPUs are not available");
    expect_host_error("{\"Ulimits\": [{\"Name\": \"nofile\"}]}", "HostConfig.Ulimits[0]");
}

/* Resource limits at create: dockerd's checks and what it fills in. */
static void test_limits(void **state)
{
    (void)state;
    json_t *host = parse("{\"Memory\": 33554432, \"MemoryReservation\": 16777216,"
                         "\"NanoCpus\": 500000000, \"CpuShares\": 512, \"PidsLimit\": 0,"
                         "\"BlkioWeight\": 300}");
    json_t *cfg = json_object();
    wharf_error err = {0};
    assert_int_equal(dockerapi_create_resources(host, cfg, &err), 0);
    char *text = json_dumps(json_object_get(cfg, "resources"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"blkio_weight\":300,\"cpu_period\":100000,\"cpu_quota\":50000,"
                              "\"cpu_shares\":512,\"memory\":33554432,\"memory_reservation\":"
                              "16777216,\"memory_swap\":67108864}");
    free(text);
    /* what inspect shows: swap twice the memory, no pids limit */
    assert_int_equal(json_integer_value(json_object_get(host, "MemorySwap")), 67108864);
    assert_true(json_is_null(json_object_get(host, "PidsLimit")));
    json_decref(cfg);
    json_decref(host);

    host = parse("{\"PidsLimit\": 50, \"MemorySwap\": -1, \"Memory\": 8388608,"
                 "\"CpuPeriod\": 50000, \"CpuQuota\": 25000}");
    cfg = json_object();
    assert_int_equal(dockerapi_create_resources(host, cfg, &err), 0);
    text = json_dumps(json_object_get(cfg, "resources"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"cpu_period\":50000,\"cpu_quota\":25000,\"memory\":8388608,"
                              "\"memory_swap\":-1,\"pids_limit\":50}");
    free(text);
    json_decref(cfg);
    json_decref(host);

    expect_host_error("{\"Memory\": 1048576}", "Minimum memory limit allowed is 6MB");
    expect_host_error("{\"Memory\": 16777216, \"MemorySwap\": 8388608}",
                      "Minimum memoryswap limit should be larger than memory limit");
    expect_host_error("{\"MemorySwap\": 16777216}",
                      "You should always set the Memory limit when using Memoryswap limit");
    expect_host_error("{\"MemoryReservation\": 1000}", "Minimum memory reservation allowed is 6MB");
    expect_host_error("{\"Memory\": 8388608, \"MemoryReservation\": 16777216}",
                      "Minimum memory limit can not be less than memory reservation limit");
    expect_host_error("{\"NanoCpus\": 1000000000, \"CpuPeriod\": 100000}",
                      "Nano CPUs and CPU Period cannot both be set");
    expect_host_error("{\"NanoCpus\": 1000000000, \"CpuQuota\": 100000}",
                      "Nano CPUs and CPU Quota cannot both be set");
    expect_host_error("{\"NanoCpus\": 1000000000000}", "Range of CPUs is from 0.01 to");
    expect_host_error("{\"CpuPeriod\": 500}", "CPU cfs period can not be less than 1ms");
    expect_host_error("{\"CpuQuota\": 999}", "CPU cfs quota can not be less than 1ms");
    expect_host_error("{\"BlkioWeight\": 5}", "Range of blkio weight is from 10 to 1000");
    expect_host_error("{\"BlkioWeight\": 1001}", "Range of blkio weight is from 10 to 1000");
    expect_host_error("{\"Memory\": \"lots\"}", "HostConfig.Memory: expected an integer");
}

/* ---------------------------------------------------------------- users */

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    wharf_error err = {0};
    assert_int_equal(wharf_write_file_atomic(path, text, strlen(text), 0644, &err), 0);
}

static int make_root(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/wharf-test-dockerapi.XXXXXX");
    assert_non_null(mkdtemp(root));
    char etc[300];
    snprintf(etc, sizeof(etc), "%s/etc", root);
    assert_int_equal(mkdir(etc, 0755), 0);
    put("etc/passwd", "# comment\nroot:x:0:0:root:/root:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
                      "  app:x:1000:1000::/home/app:/bin/sh  \nbroken\n");
    put("etc/group", "root:x:0:\nstaff:x:50:app,nobody\nusers:x:100:\napp:x:1000:\n"
                     "nogroup:x:65534:\nwheel:x:10:root\n");
    return 0;
}

static int remove_root(void **state)
{
    (void)state;
    wharf_error err = {0};
    wharf_rm_rf(root, &err);
    return 0;
}

/* "uid gid [gids...]" for spec, or the error message. */
static char *resolve(const char *spec, const char *group_add)
{
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    json_t *ga = group_add ? parse(group_add) : NULL;
    json_t *user = NULL;
    wharf_error err = {0};
    int r = dockerapi_resolve_user(fd, spec, ga, &user, &err);
    close(fd);
    if (ga)
        json_decref(ga);
    if (r < 0) {
        assert_int_equal(r, -EINVAL);
        return xstrdup(err.msg);
    }
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%lld %lld", (long long)json_integer_value(json_object_get(user, "uid")),
                (long long)json_integer_value(json_object_get(user, "gid")));
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(user, "additional_gids"), i, g)
        strbuf_addf(&sb, "%s%lld", i ? "," : " [", (long long)json_integer_value(g));
    strbuf_addch(&sb, ']');
    json_decref(user);
    return strbuf_detach(&sb);
}

static void expect_user(const char *spec, const char *group_add, const char *want)
{
    char *got = resolve(spec, group_add);
    if (strcmp(got, want) != 0)
        fail_msg("user \"%s\": got \"%s\", want \"%s\"", spec ? spec : "(null)", got, want);
    free(got);
}

static void test_users(void **state)
{
    (void)state;
    expect_user(NULL, NULL, "0 0 [0,10]"); /* root, and root's groups */
    expect_user("", NULL, "0 0 [0,10]");
    expect_user("root", NULL, "0 0 [0,10]");
    expect_user("nobody", NULL, "65534 65534 [65534,50]");
    expect_user("nobody:nogroup", NULL, "65534 65534 [65534]");
    expect_user("app", NULL, "1000 1000 [1000,50]");  /* a line with spaces around */
    expect_user("1000", NULL, "1000 1000 [1000,50]"); /* a number in passwd: its entry */
    expect_user("4242", NULL, "4242 0 [0]");          /* a number nobody has */
    expect_user("4242:users", NULL, "4242 100 [100]");
    expect_user("4242:777", NULL, "4242 777 [777]");
    expect_user("nobody", "[\"users\", \"4000\"]", "65534 65534 [65534,50,100,4000]");
    expect_user("nosuch", NULL, "unable to find user nosuch: no matching entries in passwd file");
    expect_user("nobody:nosuch", NULL,
                "unable to find group nosuch: no matching entries in group file");
    expect_user("nobody", "[\"nosuch\"]", "Unable to find group nosuch");
    expect_user("-1", NULL, "uids and gids must be in range 0-2147483647");
    /* the files are looked up inside the root: a link pointing out of it
     * resolves within it */
    char path[512], target[600];
    put("outside", "escapee:x:4242:4242::/:/bin/sh\n"); /* ROOT/outside on the host */
    snprintf(path, sizeof(path), "%s/etc/passwd", root);
    snprintf(target, sizeof(target), "../../../../../../../..%s/outside", root);
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
    expect_user("escapee", NULL, "unable to find user escapee: no matching entries in passwd file");
    /* no passwd file at all: numbers still work, names do not */
    unlink(path);
    expect_user("123", NULL, "123 0 [0]");
    expect_user("root", NULL, "unable to find user root: no matching entries in passwd file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_since_until_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_until_in_the_future_ends_the_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_is_bounded, setup, teardown),
        cmocka_unit_test(test_restart_policy),
        cmocka_unit_test(test_filter_parameter),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_binds),
        cmocka_unit_test(test_mounts_plan),
        cmocka_unit_test(test_host_config),
        cmocka_unit_test(test_limits),
        cmocka_unit_test_setup_teardown(test_users, make_root, remove_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
