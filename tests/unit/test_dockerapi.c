/*
 * Unit tests for src/dockerapi without a daemon: the event bus (what
 * GET /events streams: the JSON shape, since/until replay, live events,
 * dockerd's filters, a bounded ring) and the restart policy checks.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
