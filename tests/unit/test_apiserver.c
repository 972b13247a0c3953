/*
 * Unit tests for src/apiserver's pure parts: label and field selectors,
 * the three patch formats (strategic merge with kubectl apply's
 * directives), name and label validation, per-type defaulting and
 * validation, schema checks, Table ages, and protobuf request bodies.
 * The server as a whole is tested with kubectl (tests/integration/
 * apiserver.bats).
 */
#include "internal.h"
#include "registry_hooks.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, e.text);
    return j;
}

/* Compares got with the JSON text want (consumes got). */
static void expect_json(json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *x = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("JSON differs:\n got  %s\n want %s", g, x);
    }
    json_decref(w);
    json_decref(got);
}

/* ---------------------------------------------------------------- label selectors */

static bool sel_matches(const char *sel, const char *labels)
{
    struct label_selector ls;
    wharf_error err = {0};
    if (label_selector_parse(sel, &ls, &err) < 0)
        fail_msg("selector %s: %s", sel, err.msg);
    json_t *l = J(labels);
    bool m = label_selector_matches(&ls, l);
    json_decref(l);
    label_selector_release(&ls);
    return m;
}

static void test_label_selector_operators(void **state)
{
    assert_true(sel_matches("", "{}"));
    assert_true(sel_matches("a=b", "{\"a\":\"b\"}"));
    assert_false(sel_matches("a=b", "{\"a\":\"c\"}"));
    assert_false(sel_matches("a=b", "{}"));
    assert_true(sel_matches("a==b", "{\"a\":\"b\"}"));
    /* != and notin also match objects without the label */
    assert_true(sel_matches("a!=b", "{}"));
    assert_true(sel_matches("a!=b", "{\"a\":\"c\"}"));
    assert_false(sel_matches("a!=b", "{\"a\":\"b\"}"));
    assert_true(sel_matches("a in (b, c)", "{\"a\":\"c\"}"));
    assert_false(sel_matches("a in (b,c)", "{\"a\":\"d\"}"));
    assert_false(sel_matches("a in (b,c)", "{}"));
    assert_true(sel_matches("a notin (b,c)", "{\"a\":\"d\"}"));
    assert_true(sel_matches("a notin (b,c)", "{}"));
    assert_false(sel_matches("a notin (b,c)", "{\"a\":\"b\"}"));
    assert_true(sel_matches("a", "{\"a\":\"\"}"));
    assert_false(sel_matches("a", "{}"));
    assert_true(sel_matches("!a", "{}"));
    assert_false(sel_matches("!a", "{\"a\":\"x\"}"));
    assert_true(sel_matches("n>3", "{\"n\":\"4\"}"));
    assert_false(sel_matches("n>3", "{\"n\":\"3\"}"));
    assert_true(sel_matches("n<3", "{\"n\":\"2\"}"));
    assert_false(sel_matches("n<3", "{\"n\":\"x\"}"));
    /* a comma is AND */
    assert_true(sel_matches("app=web,tier!=db,!old", "{\"app\":\"web\",\"tier\":\"fe\"}"));
    assert_false(sel_matches("app=web,tier!=db,!old", "{\"app\":\"web\",\"old\":\"1\"}"));
    /* qualified keys, empty values */
    assert_true(sel_matches("example.com/role=", "{\"example.com/role\":\"\"}"));
    assert_true(sel_matches("a in (,x)", "{\"a\":\"\"}"));
}

static void test_label_selector_errors(void **state)
{
    static const char *const bad[] = {"a=b=c", "a in b", "a in (b", "Bad Key=x", "=x",
                                      "a=b,",  "a>x",    "a!",      "a=ba d",    "_a=b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct label_selector ls;
        wharf_error err = {0};
        if (label_selector_parse(bad[i], &ls, &err) == 0)
            fail_msg("selector '%s' was accepted", bad[i]);
        assert_int_equal(err.code, -EINVAL);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_label_selector_json(void **state)
{
    json_t *sel = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                    "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]},"
                    "{\"key\":\"old\",\"operator\":\"DoesNotExist\"}]}");
    char *s = label_selector_string(sel);
    assert_string_equal(s, "!old,app=web,tier in (a,b)");
    free(s);
    struct label_selector ls;
    wharf_error err = {0};
    assert_int_equal(label_selector_from_json(sel, &ls, &err), 0);
    json_t *l = J("{\"app\":\"web\",\"tier\":\"a\"}");
    assert_true(label_selector_matches(&ls, l));
    json_object_set_new(l, "old", json_string("1"));
    assert_false(label_selector_matches(&ls, l));
    json_decref(l);
    label_selector_release(&ls);
    json_decref(sel);
    /* a null selector matches nothing */
    assert_int_equal(label_selector_from_json(NULL, &ls, &err), 0);
    l = J("{}");
    assert_false(label_selector_matches(&ls, l));
    json_decref(l);
    label_selector_release(&ls);
}

/* ---------------------------------------------------------------- field selectors */

static void test_field_selector(void **state)
{
    const struct api_resource *pods = registry_find("", "v1", "pods");
    const struct api_resource *cms = registry_find("", "v1", "configmaps");
    struct field_selector fs;
    wharf_error err = {0};
    json_t *pod =
        J("{\"metadata\":{\"name\":\"a,b\",\"namespace\":\"ns\"},\"spec\":"
          "{\"nodeName\":\"n1\",\"hostNetwork\":true},\"status\":{\"phase\":\"Running\"}}");
    assert_int_equal(field_selector_parse("metadata.name=a\\,b,spec.nodeName!=n2", pods, &fs, &err),
                     0);
    assert_int_equal(fs.n, 2);
    assert_true(field_selector_matches(&fs, pod));
    field_selector_release(&fs);
    assert_int_equal(field_selector_parse("status.phase==Pending", pods, &fs, &err), 0);
    assert_false(field_selector_matches(&fs, pod));
    field_selector_release(&fs);
    assert_int_equal(field_selector_parse("spec.hostNetwork=true", pods, &fs, &err), 0);
    assert_true(field_selector_matches(&fs, pod));
    field_selector_release(&fs);
    /* fields a resource does not index are refused, as kube refuses them */
    assert_int_equal(field_selector_parse("spec.nodeName=x", cms, &fs, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "field label not supported: spec.nodeName"));
    assert_int_equal(field_selector_parse("nonsense", pods, &fs, &err), -EINVAL);
    json_decref(pod);
}

/* ---------------------------------------------------------------- patches */

static void test_merge_patch(void **state)
{
    json_t *doc = J("{\"a\":\"b\",\"c\":{\"d\":\"e\",\"f\":\"g\"},\"l\":[1,2]}");
    json_t *patch = J("{\"a\":\"z\",\"c\":{\"f\":null},\"l\":[3],\"n\":{\"x\":null,\"y\":1}}");
    expect_json(patch_merge(doc, patch), "{\"a\":\"z\",\"c\":{\"d\":\"e\"},\"l\":[3],"
                                         "\"n\":{\"y\":1}}");
    /* the input is left alone */
    expect_json(json_incref(doc), "{\"a\":\"b\",\"c\":{\"d\":\"e\",\"f\":\"g\"},\"l\":[1,2]}");
    json_decref(doc);
    json_decref(patch);
}

static void test_json_patch(void **state)
{
    json_t *doc = J("{\"a\":{\"b\":[1,2,3]},\"x/y\":1,\"t\":\"v\"}");
    json_t *ops = J("[{\"op\":\"add\",\"path\":\"/a/b/1\",\"value\":9},"
                    "{\"op\":\"add\",\"path\":\"/a/b/-\",\"value\":4},"
                    "{\"op\":\"remove\",\"path\":\"/a/b/0\"},"
                    "{\"op\":\"replace\",\"path\":\"/x~1y\",\"value\":2},"
                    "{\"op\":\"copy\",\"from\":\"/t\",\"path\":\"/u\"},"
                    "{\"op\":\"move\",\"from\":\"/t\",\"path\":\"/w\"},"
                    "{\"op\":\"test\",\"path\":\"/w\",\"value\":\"v\"}]");
    json_t *out = NULL;
    wharf_error err = {0};
    assert_int_equal(patch_json(doc, ops, &out, &err), 0);
    expect_json(out, "{\"a\":{\"b\":[9,2,3,4]},\"x/y\":2,\"u\":\"v\",\"w\":\"v\"}");
    json_decref(ops);
    static const char *const bad[] = {
        "[{\"op\":\"remove\",\"path\":\"/nope\"}]",
        "[{\"op\":\"replace\",\"path\":\"/nope\",\"value\":1}]",
        "[{\"op\":\"test\",\"path\":\"/t\",\"value\":\"other\"}]",
        "[{\"op\":\"add\",\"path\":\"/a/b/9\",\"value\":1}]",
        "[{\"op\":\"frobnicate\",\"path\":\"/t\"}]",
        "[{\"path\":\"/t\"}]",
        "{\"op\":\"add\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = J(bad[i]);
        out = NULL;
        if (patch_json(doc, o, &out, &err) == 0)
            fail_msg("JSON patch %s applied", bad[i]);
        assert_null(out);
        json_decref(o);
    }
    json_decref(doc);
}

static json_t *smp(const char *type, const char *doc, const char *patch)
{
    json_t *d = J(doc), *p = J(patch), *out = NULL;
    wharf_error err = {0};
    if (patch_strategic(d, p, schema_lookup(type), &out, &err) < 0)
        fail_msg("strategic merge patch failed: %s", err.msg);
    json_decref(d);
    json_decref(p);
    return out;
}

static void test_strategic_merge_lists(void **state)
{
    const char *dep =
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"x\",\"y\"],"
        "\"env\":[{\"name\":\"E1\",\"value\":\"1\"},{\"name\":\"E2\",\"value\":\"2\"}],"
        "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},"
        "{\"name\":\"b\",\"image\":\"b:1\"}],"
        "\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}}";
    /* merge by name: one container changed, the other kept; env merged by
     * name; ports by containerPort; args (no merge key) replaced */
    expect_json(smp("Deployment", dep,
                    "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
                    "\"image\":\"a:2\",\"args\":[\"z\"],\"env\":[{\"name\":\"E2\",\"value\":"
                    "\"two\"},{\"name\":\"E3\",\"value\":\"3\"}],\"ports\":[{\"containerPort\":80,"
                    "\"protocol\":\"TCP\"},{\"containerPort\":443}]}]}}}}"),
                "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
                "{\"name\":\"a\",\"image\":\"a:2\",\"args\":[\"z\"],"
                "\"env\":[{\"name\":\"E1\",\"value\":\"1\"},{\"name\":\"E2\",\"value\":\"two\"},"
                "{\"name\":\"E3\",\"value\":\"3\"}],"
                "\"ports\":[{\"containerPort\":80,\"name\":\"http\",\"protocol\":\"TCP\"},"
                "{\"containerPort\":443}]},"
                "{\"name\":\"b\",\"image\":\"b:1\"}],"
                "\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}}");
    /* $patch: delete removes an element; a new element is appended */
    expect_json(smp("Deployment", dep,
                    "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\","
                    "\"$patch\":\"delete\"},{\"name\":\"c\",\"image\":\"c:1\"}]}}}}"),
                "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
                "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"x\",\"y\"],"
                "\"env\":[{\"name\":\"E1\",\"value\":\"1\"},{\"name\":\"E2\",\"value\":\"2\"}],"
                "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},"
                "{\"name\":\"c\",\"image\":\"c:1\"}],"
                "\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}}");
    /* {"$patch": "replace"} in a list replaces it whole */
    expect_json(smp("Deployment", dep,
                    "{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{\"$patch\":\"replace\"},"
                    "{\"name\":\"v2\",\"secret\":{\"secretName\":\"s\"}}]}}}}"),
                "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
                "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"x\",\"y\"],"
                "\"env\":[{\"name\":\"E1\",\"value\":\"1\"},{\"name\":\"E2\",\"value\":\"2\"}],"
                "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},"
                "{\"name\":\"b\",\"image\":\"b:1\"}],"
                "\"volumes\":[{\"name\":\"v2\",\"secret\":{\"secretName\":\"s\"}}]}}}}");
}

static void test_strategic_merge_directives(void **state)
{
    /* what kubectl apply sends: $setElementOrder puts the elements in the
     * order of the configuration */
    expect_json(smp("Pod",
                    "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"a\"},"
                    "{\"name\":\"b\",\"image\":\"b\"}]}}",
                    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},"
                    "{\"name\":\"a\"}],\"containers\":[{\"name\":\"a\",\"image\":\"a2\"}]}}"),
                "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"b\"},"
                "{\"name\":\"a\",\"image\":\"a2\"}]}}");
    /* finalizers merge as a set; $deleteFromPrimitiveList removes */
    expect_json(smp("ConfigMap", "{\"metadata\":{\"finalizers\":[\"x/a\",\"x/b\"]}}",
                    "{\"metadata\":{\"finalizers\":[\"x/c\",\"x/a\"],"
                    "\"$deleteFromPrimitiveList/finalizers\":[\"x/b\"]}}"),
                "{\"metadata\":{\"finalizers\":[\"x/a\",\"x/c\"]}}");
    /* null deletes; $patch: replace on a map replaces it */
    expect_json(smp("ConfigMap",
                    "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"data\":{\"k\":\"v\"}}",
                    "{\"metadata\":{\"labels\":{\"a\":null,\"c\":\"3\"}},"
                    "\"data\":{\"$patch\":\"replace\",\"n\":\"w\"}}"),
                "{\"metadata\":{\"labels\":{\"b\":\"2\",\"c\":\"3\"}},\"data\":{\"n\":\"w\"}}");
    /* $retainKeys clears what the list does not name (a strategy's type change) */
    expect_json(smp("Deployment",
                    "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
                    "{\"maxSurge\":1}}}}",
                    "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}"),
                "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
    /* Service ports merge by port */
    expect_json(smp("Service",
                    "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"a\"},{\"port\":81,\"name\":"
                    "\"b\"}]}}",
                    "{\"spec\":{\"ports\":[{\"port\":81,\"targetPort\":8081}]}}"),
                "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"a\"},{\"port\":81,\"name\":\"b\","
                "\"targetPort\":8081}]}}");
    /* a merge-keyed element without its key is an error */
    json_t *d = J("{\"spec\":{\"containers\":[]}}");
    json_t *p = J("{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}");
    json_t *out = NULL;
    wharf_error err = {0};
    assert_int_equal(patch_strategic(d, p, schema_lookup("Pod"), &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "does not contain declared merge key: name"));
    json_decref(d);
    json_decref(p);
}

/* ---------------------------------------------------------------- validation */

static void test_names(void **state)
{
    assert_null(validate_dns1123_subdomain("a.b-c.d"));
    assert_non_null(validate_dns1123_subdomain("A"));
    assert_non_null(validate_dns1123_subdomain("a..b"));
    assert_non_null(validate_dns1123_subdomain("-a"));
    char longname[300];
    memset(longname, 'a', 254);
    longname[254] = '\0';
    assert_string_equal(validate_dns1123_subdomain(longname),
                        "must be no more than 253 characters");
    assert_null(validate_dns1123_label("my-name1"));
    assert_non_null(validate_dns1123_label("a.b"));
    assert_null(validate_dns1035_label("abc-1"));
    assert_non_null(validate_dns1035_label("1abc"));
    assert_null(validate_path_segment_name("system:basic-user"));
    assert_non_null(validate_path_segment_name("a/b"));
    assert_non_null(validate_path_segment_name(".."));
    assert_null(validate_qualified_name("app.kubernetes.io/name"));
    assert_null(validate_qualified_name("My_Key.1"));
    assert_non_null(validate_qualified_name("a/b/c"));
    assert_non_null(validate_qualified_name("Bad.Prefix/x"));
    assert_non_null(validate_qualified_name("-x"));
    assert_null(validate_label_value(""));
    assert_null(validate_label_value("v1.2_3-x"));
    assert_non_null(validate_label_value("has space"));
}

static void test_object_meta_causes(void **state)
{
    const struct api_resource *cms = registry_find("", "v1", "configmaps");
    json_t *meta = J("{\"name\":\"Bad_Name\",\"labels\":{\"ok\":\"v\",\"bad key\":\"v\","
                     "\"k\":\"bad value\"},\"finalizers\":[\"unqualified\"]}");
    struct field_errors fe = {0};
    validate_object_meta(cms, meta, &fe);
    assert_int_equal(fe_count(&fe), 4);
    json_t *c0 = json_array_get(fe.causes, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "reason")), "FieldValueInvalid");
    assert_string_equal(json_string_value(json_object_get(c0, "field")), "metadata.name");
    const char *msg = json_string_value(json_object_get(c0, "message"));
    static const char want[] = "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain";
    if (strncmp(msg, want, sizeof(want) - 1) != 0)
        fail_msg("message: %s", msg);
    char *sum = fe_summary(&fe);
    assert_true(sum[0] == '[' && sum[strlen(sum) - 1] == ']');
    free(sum);
    fe_release(&fe);
    json_decref(meta);
    /* no name and no generateName */
    meta = J("{}");
    validate_object_meta(cms, meta, &fe);
    assert_int_equal(fe_count(&fe), 1);
    sum = fe_summary(&fe);
    assert_string_equal(sum, "metadata.name: Required value: name or generateName is required");
    free(sum);
    fe_release(&fe);
    json_decref(meta);
}

static void test_pod_defaults_and_validation(void **state)
{
    json_t *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
                    "{\"name\":\"a\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}]},"
                    "{\"name\":\"b\",\"image\":\"reg:5000/x/busybox:1.36\"}]}}");
    defaults_pod(NULL, pod, NULL);
    assert_string_equal(object_str(pod, "spec.restartPolicy"), "Always");
    assert_string_equal(object_str(pod, "spec.dnsPolicy"), "ClusterFirst");
    assert_string_equal(object_str(pod, "status.phase"), "Pending");
    assert_string_equal(object_str(pod, "status.qosClass"), "BestEffort");
    json_t *c = object_get(pod, "spec.containers");
    assert_string_equal(object_str(json_array_get(c, 0), "imagePullPolicy"), "Always");
    assert_string_equal(object_str(json_array_get(c, 1), "imagePullPolicy"), "IfNotPresent");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(c, 0), "ports"), 0), "protocol")),
        "TCP");
    struct field_errors fe = {0};
    validate_pod(NULL, pod, NULL, &fe);
    assert_int_equal(fe_count(&fe), 0);
    /* an update may change images, not the rest of the spec */
    json_t *next = json_deep_copy(pod);
    json_object_set_new(json_array_get(object_get(next, "spec.containers"), 0), "image",
                        json_string("nginx:2"));
    validate_pod(NULL, next, pod, &fe);
    assert_int_equal(fe_count(&fe), 0);
    object_set(next, "spec.restartPolicy", json_string("Never"));
    validate_pod(NULL, next, pod, &fe);
    assert_int_equal(fe_count(&fe), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fe.causes, 0), "field")),
                        "spec");
    fe_release(&fe);
    json_decref(next);
    json_decref(pod);
}

static void test_deployment_validation(void **state)
{
    json_t *d = J("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":-1,\"selector\":"
                  "{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":{\"labels\":"
                  "{\"app\":\"y\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":"
                  "[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    struct field_errors fe = {0};
    validate_deployment(NULL, d, NULL, &fe);
    char *sum = fe_summary(&fe);
    assert_non_null(strstr(sum, "spec.replicas: Invalid value: -1: must be greater than or equal "
                                "to 0"));
    assert_non_null(strstr(sum, "spec.template.metadata.labels: Invalid value: "
                                "{\"app\":\"y\"}: `selector` does not match template `labels`"));
    assert_non_null(strstr(sum, "spec.template.spec.restartPolicy: Unsupported value: \"Never\": "
                                "supported values: \"Always\""));
    free(sum);
    fe_release(&fe);
    /* the selector is immutable */
    json_t *old = json_deep_copy(d);
    object_set(d, "spec.selector", J("{\"matchLabels\":{\"app\":\"z\"}}"));
    validate_deployment(NULL, d, old, &fe);
    sum = fe_summary(&fe);
    assert_non_null(strstr(sum, "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"z\"}}: "
                                "field is immutable"));
    free(sum);
    fe_release(&fe);
    json_decref(old);
    json_decref(d);
}

static void test_service_and_secret(void **state)
{
    json_t *svc = J("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"Weird\",\"ports\":"
                    "[{\"port\":80},{\"port\":0,\"name\":\"b\",\"protocol\":\"ICMP\"}]}}");
    struct field_errors fe = {0};
    validate_service(NULL, svc, NULL, &fe);
    char *sum = fe_summary(&fe);
    assert_non_null(strstr(sum, "spec.type: Unsupported value: \"Weird\""));
    assert_non_null(strstr(sum, "spec.ports[0].name: Required value"));
    assert_non_null(strstr(sum, "spec.ports[1].port: Invalid value: 0"));
    assert_non_null(strstr(sum, "spec.ports[1].protocol: Unsupported value: \"ICMP\""));
    free(sum);
    fe_release(&fe);
    json_decref(svc);
    svc = J("{\"spec\":{\"ports\":[{\"port\":80}]}}");
    defaults_service(NULL, svc, NULL);
    expect_json(json_incref(object_get(svc, "spec.ports")),
                "[{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}]");
    assert_string_equal(object_str(svc, "spec.type"), "ClusterIP");
    json_decref(svc);

    /* stringData becomes base64 data; bad base64 is refused */
    json_t *sec = J("{\"metadata\":{\"name\":\"x\"},\"stringData\":{\"pw\":\"hunter2\"},"
                    "\"data\":{\"a\":\"YQ==\"}}");
    defaults_secret(NULL, sec, NULL);
    expect_json(json_incref(sec), "{\"metadata\":{\"name\":\"x\"},\"type\":\"Opaque\","
                                  "\"data\":{\"a\":\"YQ==\",\"pw\":\"aHVudGVyMg==\"}}");
    object_set(sec, "data.b", json_string("not base64!"));
    validate_secret(NULL, sec, NULL, &fe);
    sum = fe_summary(&fe);
    assert_string_equal(sum, "data[b]: Invalid value: illegal base64 data");
    free(sum);
    fe_release(&fe);
    json_decref(sec);
}

static void test_cron_schedules(void **state)
{
    static const char *const good[] = {"*/5 * * * *", "0 0 1 1 *", "@hourly", "1-5,7 * * * mon",
                                       "0 12 * * 0-6"};
    static const char *const bad[] = {"* * * *", "61 * * * *", "@sometimes", "TZ=UTC * * * * *"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *cj = json_pack("{s:{s:s, s:{s:{s:{s:{s:s, s:[{s:s, s:s}]}}}}}}", "spec", "schedule",
                               good[i], "jobTemplate", "spec", "template", "spec", "restartPolicy",
                               "Never", "containers", "name", "c", "image", "i");
        struct field_errors fe = {0};
        validate_cronjob(NULL, cj, NULL, &fe);
        if (fe_count(&fe)) {
            char *s = fe_summary(&fe);
            fail_msg("schedule %s refused: %s", good[i], s);
        }
        json_decref(cj);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *cj = json_pack("{s:{s:s}}", "spec", "schedule", bad[i]);
        struct field_errors fe = {0};
        validate_cronjob(NULL, cj, NULL, &fe);
        char *s = fe_summary(&fe);
        if (!strstr(s, "spec.schedule"))
            fail_msg("schedule %s accepted: %s", bad[i], s);
        free(s);
        fe_release(&fe);
        json_decref(cj);
    }
}

/* ---------------------------------------------------------------- schemas */

static void test_schema_check(void **state)
{
    const struct schema_type *pod = schema_lookup("Pod");
    assert_non_null(pod);
    json_t *obj = J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
                    "\"bogus\":1},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\","
                    "\"imagee\":\"typo\",\"resources\":{\"limits\":{\"cpu\":1}}}],"
                    "\"volumes\":[{\"name\":\"v\",\"anything\":{\"goes\":1}}]},"
                    "\"status\":{\"custom\":true}}");
    json_t *unknown = NULL;
    wharf_error err = {0};
    assert_int_equal(schema_check(pod, obj, true, &unknown, &err), 0);
    expect_json(unknown, "[\"metadata.bogus\",\"spec.containers[0].imagee\"]");
    /* pruned */
    assert_null(object_get(obj, "metadata.bogus"));
    assert_non_null(object_get(obj, "status.custom"));
    json_decref(obj);
    obj =
        J("{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":\"80\"}]}]}}");
    assert_int_equal(schema_check(pod, obj, false, NULL, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "spec.containers[0].ports[0].containerPort: expected an integer, got "
                        "string");
    json_decref(obj);
    /* every built-in kind has a schema */
    for (size_t i = 0; i < registry_count(); i++)
        assert_non_null(schema_lookup(registry_at(i)->kind));
}

/* ---------------------------------------------------------------- tables */

static void test_table_age(void **state)
{
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {59, "59s"},
        {119, "119s"},
        {120, "2m"},
        {182, "3m2s"},
        {600, "10m"},
        {179 * 60, "179m"},
        {3 * 3600, "3h"},
        {3 * 3600 + 300, "3h5m"},
        {9 * 3600, "9h"},
        {50 * 3600, "2d2h"},
        {9 * 86400, "9d"},
        {800 * 86400L, "2y70d"},
        {3000 * 86400L, "8y"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        table_age(buf, sizeof(buf), cases[i].s);
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("age %lld: got %s, want %s", (long long)cases[i].s, buf, cases[i].want);
    }
}

static void test_table_rows(void **state)
{
    const struct api_resource *svc = registry_find("", "v1", "services");
    json_t *obj =
        J("{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2020-01-01T00:00:00Z\"},"
          "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.43.0.9\",\"ports\":["
          "{\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},{\"port\":53,"
          "\"protocol\":\"UDP\"}],\"selector\":{\"b\":\"2\",\"a\":\"1\"}}}");
    json_t *row = table_row(svc, obj, "None");
    json_t *cells = json_object_get(row, "cells");
    assert_int_equal(json_array_size(cells), 7);
    assert_string_equal(json_string_value(json_array_get(cells, 1)), "NodePort");
    assert_string_equal(json_string_value(json_array_get(cells, 3)), "<none>");
    assert_string_equal(json_string_value(json_array_get(cells, 4)), "80:30080/TCP,53/UDP");
    assert_string_equal(json_string_value(json_array_get(cells, 6)), "a=1,b=2");
    assert_null(json_object_get(row, "object"));
    json_decref(row);
    json_decref(obj);
    /* every column list matches its row function */
    for (size_t i = 0; i < registry_count(); i++) {
        const struct api_resource *r = registry_at(i);
        json_t *cols = table_columns(r, true);
        json_t *o = J("{\"metadata\":{\"name\":\"x\"}}");
        json_t *rw = table_row(r, o, "Metadata");
        if (json_array_size(cols) != json_array_size(json_object_get(rw, "cells")))
            fail_msg("%s: %zu columns, %zu cells", r->plural, json_array_size(cols),
                     json_array_size(json_object_get(rw, "cells")));
        json_decref(cols);
        json_decref(rw);
        json_decref(o);
    }
}

/* ---------------------------------------------------------------- protobuf */

static void put_varint(strbuf *sb, uint64_t v)
{
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        strbuf_addch(sb, (char)(b | (v ? 0x80 : 0)));
    } while (v);
}

static void put_bytes(strbuf *sb, unsigned num, const void *data, size_t len)
{
    put_varint(sb, (uint64_t)num << 3 | 2);
    put_varint(sb, len);
    strbuf_add(sb, data, len);
}

static void put_str(strbuf *sb, unsigned num, const char *s)
{
    put_bytes(sb, num, s, strlen(s));
}

static void put_int(strbuf *sb, unsigned num, uint64_t v)
{
    put_varint(sb, (uint64_t)num << 3);
    put_varint(sb, v);
}

static void put_msg(strbuf *sb, unsigned num, strbuf *m)
{
    put_bytes(sb, num, m->buf ? m->buf : "", m->len);
    strbuf_release(m);
}

static json_t *envelope(const char *api_version, const char *kind, strbuf *raw)
{
    strbuf tm = STRBUF_INIT, env = STRBUF_INIT;
    put_str(&tm, 1, api_version);
    put_str(&tm, 2, kind);
    strbuf_add(&env, "k8s\0", 4);
    put_msg(&env, 1, &tm);
    put_msg(&env, 2, raw);
    put_str(&env, 3, "");
    put_str(&env, 4, "");
    wharf_error err = {0};
    json_t *obj = proto_decode(env.buf, env.len, &err);
    if (!obj)
        fail_msg("proto_decode: %s", err.msg);
    strbuf_release(&env);
    return obj;
}

static void test_proto_decode(void **state)
{
    /* a Secret as kubectl create secret sends it: zero scalars present on
     * the wire, bytes in a map, an empty creationTimestamp */
    strbuf meta = STRBUF_INIT, entry = STRBUF_INIT, ts = STRBUF_INIT, raw = STRBUF_INIT;
    put_str(&meta, 1, "s1");
    put_str(&meta, 2, "");
    put_str(&meta, 3, "demo");
    put_int(&meta, 7, 0);
    put_msg(&meta, 8, &ts);
    put_str(&entry, 1, "pw");
    put_bytes(&entry, 2, "\x00\xff", 2);
    put_msg(&raw, 1, &meta);
    put_msg(&raw, 2, &entry);
    put_str(&raw, 3, "Opaque");
    expect_json(envelope("v1", "Secret", &raw),
                "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\","
                "\"namespace\":\"demo\"},\"data\":{\"pw\":\"AP8=\"},\"type\":\"Opaque\"}");

    /* a Deployment: replicas 0 is a pointer and stays; IntOrString; a
     * container list; a label map */
    strbuf spec = STRBUF_INIT, sel = STRBUF_INIT, lab = STRBUF_INIT, tmpl = STRBUF_INIT,
           tmeta = STRBUF_INIT, pspec = STRBUF_INIT, ctr = STRBUF_INIT, strat = STRBUF_INIT,
           ru = STRBUF_INIT, is = STRBUF_INIT;
    put_str(&lab, 1, "app");
    put_str(&lab, 2, "web");
    put_msg(&sel, 1, &lab);
    put_str(&ctr, 1, "c");
    put_str(&ctr, 2, "nginx");
    put_msg(&pspec, 2, &ctr);
    put_str(&tmeta, 1, "");
    put_msg(&tmpl, 1, &tmeta);
    put_msg(&tmpl, 2, &pspec);
    put_int(&is, 1, 1);
    put_str(&is, 3, "25%");
    put_msg(&ru, 1, &is);
    put_str(&strat, 1, "RollingUpdate");
    put_msg(&strat, 2, &ru);
    put_int(&spec, 1, 0);
    put_msg(&spec, 2, &sel);
    put_msg(&spec, 3, &tmpl);
    put_msg(&spec, 4, &strat);
    put_str(&meta, 1, "d");
    put_msg(&raw, 1, &meta);
    put_msg(&raw, 2, &spec);
    expect_json(envelope("apps/v1", "Deployment", &raw),
                "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                "\"d\"},\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
                "\"template\":{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"c\","
                "\"image\":\"nginx\"}]}},\"strategy\":{\"type\":\"RollingUpdate\","
                "\"rollingUpdate\":{\"maxUnavailable\":\"25%\"}}}}");

    /* kinds this server does not serve, and garbage, are refused */
    wharf_error err = {0};
    strbuf empty = STRBUF_INIT, tm = STRBUF_INIT, env = STRBUF_INIT;
    put_str(&tm, 1, "storage.k8s.io/v1");
    put_str(&tm, 2, "StorageClass");
    strbuf_add(&env, "k8s\0", 4);
    put_msg(&env, 1, &tm);
    put_msg(&env, 2, &empty);
    assert_null(proto_decode(env.buf, env.len, &err));
    assert_non_null(strstr(err.msg, "StorageClass"));
    strbuf_release(&env);
    assert_null(proto_decode("k8s\0\x0a\xff\xff", 7, &err));
    assert_null(proto_decode("{}", 2, &err));
}

/* ---------------------------------------------------------------- YAML */

static void test_yaml_bodies(void **state)
{
    const char *doc = "apiVersion: v1\n"
                      "kind: ConfigMap\n"
                      "metadata:\n"
                      "  name: y\n"
                      "  labels: &l {app: web, 'n': \"1\"}\n"
                      "data:\n"
                      "  plain: hello world\n"
                      "  quoted: \"true\"\n"
                      "list: [1, -2, 2.5, true, no, ~, null, '', 0x1f]\n"
                      "copy: *l\n"
                      "block: |\n"
                      "  line1\n"
                      "  line2\n";
    wharf_error err = {0};
    json_t *j = yaml_to_json(doc, strlen(doc), &err);
    if (!j)
        fail_msg("yaml: %s", err.msg);
    expect_json(j, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"y\","
                   "\"labels\":{\"app\":\"web\",\"n\":\"1\"}},\"data\":{\"plain\":\"hello world\","
                   "\"quoted\":\"true\"},\"list\":[1,-2,2.5,true,false,null,null,\"\",31],"
                   "\"copy\":{\"app\":\"web\",\"n\":\"1\"},\"block\":\"line1\\nline2\\n\"}");
    static const char *const bad[] = {"a: [1, 2\n", "a: b\n c: d\n  e", "a: *nope\n",
                                      "a: 1\n---\nb: 2\n", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wharf_error e = {0};
        json_t *x = yaml_to_json(bad[i], strlen(bad[i]), &e);
        if (x)
            fail_msg("YAML %s parsed", bad[i]);
        assert_int_equal(e.code, -EINVAL);
        assert_true(strncmp(e.msg, "yaml: ", 6) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_selector_operators),
        cmocka_unit_test(test_label_selector_errors),
        cmocka_unit_test(test_label_selector_json),
        cmocka_unit_test(test_field_selector),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_json_patch),
        cmocka_unit_test(test_strategic_merge_lists),
        cmocka_unit_test(test_strategic_merge_directives),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_object_meta_causes),
        cmocka_unit_test(test_pod_defaults_and_validation),
        cmocka_unit_test(test_deployment_validation),
        cmocka_unit_test(test_service_and_secret),
        cmocka_unit_test(test_cron_schedules),
        cmocka_unit_test(test_schema_check),
        cmocka_unit_test(test_table_age),
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_proto_decode),
        cmocka_unit_test(test_yaml_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
