/* Unit tests of the runtime's config.json checks, namespace ordering,
 * signal names, container ids, and the features/spec documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

static char *bundle;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/wharf-spec-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    bundle = xstrdup(tmpl);
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", bundle);
    return mkdir(rootfs, 0755);
}

static int teardown(void **state)
{
    (void)state;
    wharf_rm_rf(bundle, NULL);
    free(bundle);
    return 0;
}

/* Validates the default spec after applying a JSON merge of `patch`;
 * returns the error code and leaves the message in *err. */
static int validate_with(const char *patch, wharf_error *err)
{
    json_t *spec = runtime_default_spec(false);
    if (patch) {
        json_error_t je;
        json_t *p = json_loads(patch, 0, &je);
        assert_non_null(p);
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v)
        {
            json_t *old = json_object_get(spec, k);
            if (json_is_object(old) && json_is_object(v))
                json_object_update(old, v);
            else
                json_object_set(spec, k, v);
        }
        json_decref(p);
    }
    wharf_error_clear(err);
    int r = spec_validate(spec, bundle, err);
    json_decref(spec);
    return r;
}

static void test_default_spec_is_valid(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(validate_with(NULL, &err), 0);
    json_t *rootless = runtime_default_spec(true);
    assert_int_equal(spec_validate(rootless, bundle, &err), 0);
    json_decref(rootless);
}

static void expect_error(const char *patch, const char *needle)
{
    wharf_error err = {0};
    int r = validate_with(patch, &err);
    if (r == 0 || !strstr(err.msg, needle))
        fail_msg("patch %s: wanted an error containing '%s', got %d '%s'", patch, needle, r,
                 err.msg);
}

static void test_bad_configs_name_the_field(void **state)
{
    (void)state;
    expect_error("{\"process\": {\"args\": [], \"cwd\": \"/\"}}", "process.args");
    expect_error("{\"process\": {\"args\": null, \"cwd\": \"/\"}}", "process.args");
    expect_error("{\"process\": {\"args\": [\"sh\"], \"cwd\": \"rel\"}}", "process.cwd");
    expect_error("{\"ociVersion\": 1}", "ociVersion");
    expect_error("{\"ociVersion\": \"2.0.0\"}", "ociVersion");
    expect_error("{\"root\": {\"path\": \"nope\"}}", "root.path");
    expect_error("{\"linux\": {\"namespaces\": [{\"type\": \"foo\"}]}}", "linux.namespaces[0].type");
    expect_error("{\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"pid\"}]}}",
                 "linux.namespaces[1].type");
    expect_error("{\"linux\": {\"namespaces\": [{\"type\": \"network\", \"path\": \"rel\"}]}}",
                 "linux.namespaces[0].path");
    expect_error("{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}]}}", "hostname");
    expect_error("{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}], \"uidMappings\": "
                 "[{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}, \"hostname\": \"\"}",
                 "user namespace");
    expect_error("{\"linux\": {\"uidMappings\": [{\"containerID\": 0, \"size\": 1}]}}",
                 "linux.uidMappings[0].hostID");
    expect_error("{\"hooks\": {\"prestart\": [{\"path\": \"relative\"}]}}", "hooks.prestart[0].path");
    expect_error("{\"hooks\": {\"poststart\": [{\"path\": \"/bin/true\", \"timeout\": 0}]}}",
                 "hooks.poststart[0].timeout");
    expect_error("{\"hooks\": {\"later\": []}}", "hooks.later");
    expect_error("{\"linux\": {\"sysctl\": {\"net.ipv4.ip_forward\": 1}}}",
                 "linux.sysctl.net.ipv4.ip_forward");
    expect_error("{\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"oomScoreAdj\": 5000}}",
                 "process.oomScoreAdj");
    expect_error("{\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": -1}}}",
                 "process.user.uid");
    expect_error("{\"linux\": {\"timeOffsets\": {\"boottime\": {\"secs\": 1}}}}",
                 "require a new time namespace");
    expect_error("{\"linux\": {\"timeOffsets\": {\"realtime\": {\"secs\": 1}}}}",
                 "linux.timeOffsets.realtime");
}

static void test_namespace_order(void **state)
{
    (void)state;
    json_error_t je;
    json_t *spec = json_loads("{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": "
                              "\"pid\"}, {\"type\": \"user\"}, {\"type\": \"network\", \"path\": "
                              "\"/proc/self/ns/net\"}]}}",
                              0, &je);
    struct spec_namespace ns[SPEC_MAX_NAMESPACES];
    size_t n = 0;
    wharf_error err = {0};
    assert_int_equal(spec_namespaces(spec, ns, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(ns[0].flag, CLONE_NEWUSER); /* user first */
    assert_int_equal(ns[3].flag, CLONE_NEWNS);   /* mount last */
    assert_string_equal(ns[1].path, "/proc/self/ns/net");
    json_decref(spec);
}

static void test_signals_and_ids(void **state)
{
    (void)state;
    assert_int_equal(runtime_parse_signal("KILL"), SIGKILL);
    assert_int_equal(runtime_parse_signal("SIGTERM"), SIGTERM);
    assert_int_equal(runtime_parse_signal("sigusr1"), SIGUSR1);
    assert_int_equal(runtime_parse_signal("9"), 9);
    assert_int_equal(runtime_parse_signal("RTMIN+1"), SIGRTMIN + 1);
    assert_true(runtime_parse_signal("NOPE") < 0);
    assert_true(runtime_parse_signal("0") < 0);
    assert_true(container_id_valid("abc-1.2_x+y"));
    assert_false(container_id_valid("a/b"));
    assert_false(container_id_valid(".."));
    assert_false(container_id_valid(""));
    assert_false(container_id_valid("a b"));
}

static void test_features_document(void **state)
{
    (void)state;
    json_t *f = runtime_features();
    assert_string_equal(json_string_value(json_object_get(f, "ociVersionMax")), WHARF_OCI_VERSION);
    json_t *linux_obj = json_object_get(f, "linux");
    assert_true(json_array_size(json_object_get(linux_obj, "namespaces")) >= 7);
    assert_true(json_array_size(json_object_get(linux_obj, "capabilities")) >= 38);
    assert_true(json_is_true(json_object_get(json_object_get(linux_obj, "cgroup"), "v1")));
    assert_true(json_is_object(json_object_get(linux_obj, "seccomp")));
    assert_int_equal(json_array_size(json_object_get(f, "hooks")), 6);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_spec_is_valid),
        cmocka_unit_test(test_bad_configs_name_the_field),
        cmocka_unit_test(test_namespace_order),
        cmocka_unit_test(test_signals_and_ids),
        cmocka_unit_test(test_features_document),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
