/* Unit tests for the compose module: YAML, interpolation, .env files, the
 * schema and its error paths, merging files, dependency order and cycles,
 * profiles, the configuration hash, plans and Engine API bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "compose.h"

static struct compose_project *load1(const char *text, wharf_error *err)
{
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {text};
    struct compose_options o = {.project_name = "demo"};
    return compose_load_texts(names, texts, 1, "/srv/demo", &o, err);
}

static struct compose_project *load_env(const char *text, char **env, wharf_error *err)
{
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {text};
    struct compose_options o = {.project_name = "demo", .environ = env};
    return compose_load_texts(names, texts, 1, "/srv/demo", &o, err);
}

static json_t *svc_cfg(struct compose_project *p, const char *name)
{
    struct compose_service *s = compose_service(p, name);
    assert_non_null(s);
    return s->config;
}

static void assert_json(json_t *v, const char *expected)
{
    json_error_t je;
    json_t *e = json_loads(expected, JSON_DECODE_ANY, &je);
    assert_non_null(e);
    if (!json_equal(v, e)) {
        char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("got %s, want %s", got, expected);
    }
    json_decref(e);
}

static void assert_load_error(const char *text, const char *expected)
{
    wharf_error err = {0};
    struct compose_project *p = load1(text, &err);
    if (p)
        fail_msg("loaded, want error \"%s\"", expected);
    if (!strstr(err.msg, expected))
        fail_msg("error \"%s\" does not say \"%s\"", err.msg, expected);
}

/* ---------------------------------------------------------------- YAML */

static void test_yaml_core_schema(void **state)
{
    (void)state;
    const char *text = "a: no\nb: yes\nc: true\nd: 0x1f\ne: 0o17\nf: 1.5\ng: ~\nh:\n"
                       "i: '8080'\nj: \"true\"\nk: 1e3\nl: !!str 42\nm: -7\nn: .inf\no: on\n";
    wharf_error err = {0};
    json_t *v = compose_yaml_parse("t.yaml", text, strlen(text), &err);
    assert_non_null(v);
    assert_json(v, "{\"a\":\"no\",\"b\":\"yes\",\"c\":true,\"d\":31,\"e\":15,\"f\":1.5,"
                   "\"g\":null,\"h\":null,\"i\":\"8080\",\"j\":\"true\",\"k\":1000.0,"
                   "\"l\":\"42\",\"m\":-7,\"o\":\"on\",\"n\":\".inf\"}");
    json_decref(v);
}

static void test_yaml_anchors_and_merge_keys(void **state)
{
    (void)state;
    const char *text = "x-base: &base\n  image: busybox\n  environment: &env\n    A: \"1\"\n"
                       "services:\n"
                       "  web:\n    <<: *base\n    command: echo web\n"
                       "  db:\n    <<: *base\n    image: other\n    environment: *env\n";
    wharf_error err = {0};
    struct compose_project *p = load1(text, &err);
    assert_non_null(p);
    assert_json(svc_cfg(p, "web"), "{\"image\":\"busybox\",\"environment\":{\"A\":\"1\"},"
                                   "\"command\":[\"echo\",\"web\"],"
                                   "\"networks\":{\"default\":null}}");
    assert_string_equal(json_string_value(json_object_get(svc_cfg(p, "db"), "image")), "other");
    compose_project_free(p);
}

static void test_yaml_syntax_error_names_the_line(void **state)
{
    (void)state;
    wharf_error err = {0};
    const char *text = "services:\n  web:\n    ports: [80\n";
    json_t *v = compose_yaml_parse("compose.yaml", text, strlen(text), &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "compose.yaml:"));
    const char *dup = "a: 1\na: 2\n";
    v = compose_yaml_parse("compose.yaml", dup, strlen(dup), &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "compose.yaml:2:1: duplicate key"));
}

static void test_yaml_emit_reads_back(void **state)
{
    (void)state;
    const char *text =
        "services:\n  web:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo 'a: b' #x\"]\n"
        "    environment:\n      EMPTY: \"\"\n      NUM: \"0123\"\n      YES: \"yes\"\n"
        "      NUL: \"null\"\n      MULTI: \"a\\nb\"\n    ports: [\"127.0.0.1:8080:80\"]\n"
        "    cpus: 0.5\n    init: true\n";
    wharf_error err = {0};
    struct compose_project *p = load1(text, &err);
    assert_non_null(p);
    strbuf out = STRBUF_INIT;
    compose_yaml_emit(p->model, &out);
    json_t *back = compose_yaml_parse("out", out.buf, out.len, &err);
    if (!back)
        fail_msg("%s\n%s", err.msg, out.buf);
    if (!json_equal(back, p->model))
        fail_msg("did not read back:\n%s", out.buf);
    assert_non_null(strstr(out.buf, "name: demo\nservices:\n  web:\n"));
    json_decref(back);
    strbuf_release(&out);
    compose_project_free(p);
}

/* ---------------------------------------------------------------- interpolation */

static const char *lookup(void *data, const char *name)
{
    (void)data;
    if (!strcmp(name, "TAG"))
        return "1.2";
    if (!strcmp(name, "EMPTY"))
        return "";
    if (!strcmp(name, "PORT"))
        return "8080";
    return NULL;
}

static char *interp(const char *s, wharf_error *err, strbuf *unset)
{
    return compose_interpolate(s, "services.web.image", lookup, NULL, unset, err);
}

static void test_interpolation(void **state)
{
    (void)state;
    wharf_error err = {0};
    strbuf unset = STRBUF_INIT;
    struct {
        const char *in, *out;
    } cases[] = {
        {"app:${TAG}", "app:1.2"},
        {"app:$TAG", "app:1.2"},
        {"$$TAG costs $$5", "$TAG costs $5"},
        {"${MISSING:-dflt}", "dflt"},
        {"${EMPTY:-dflt}", "dflt"},
        {"${EMPTY-dflt}", ""},
        {"${MISSING-dflt}", "dflt"},
        {"${TAG:-dflt}", "1.2"},
        {"${TAG:+alt}", "alt"},
        {"${EMPTY:+alt}", ""},
        {"${EMPTY+alt}", "alt"},
        {"${MISSING+alt}", ""},
        {"${MISSING:-${TAG}-x}", "1.2-x"},
        {"${MISSING:-${ALSO:-deep}}", "deep"},
        {"${EMPTY?unused}", ""},
        {"p${PORT}:80", "p8080:80"},
        {"${NOPE}x", "x"},
        {"no dollars", "no dollars"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = interp(cases[i].in, &err, &unset);
        if (!got)
            fail_msg("%s: %s", cases[i].in, err.msg);
        if (strcmp(got, cases[i].out))
            fail_msg("%s gave \"%s\", want \"%s\"", cases[i].in, got, cases[i].out);
        free(got);
    }
    assert_string_equal(unset.buf, "NOPE\n");
    strbuf_release(&unset);
}

static void test_interpolation_errors(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_null(interp("${MISSING?set MISSING to the tag}", &err, NULL));
    assert_string_equal(err.msg, "services.web.image: required variable MISSING is missing a "
                                 "value: set MISSING to the tag");
    assert_null(interp("${EMPTY:?must not be empty}", &err, NULL));
    assert_string_equal(err.msg, "services.web.image: required variable EMPTY is missing a "
                                 "value: must not be empty");
    assert_null(interp("${MISSING:?}", &err, NULL));
    assert_string_equal(err.msg,
                        "services.web.image: required variable MISSING is missing a value");
    static const char *const bad[] = {"${", "${}", "${1A}", "price $5", "${A:x}", "${A", "$"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *got = interp(bad[i], &err, NULL);
        if (got)
            fail_msg("%s was accepted: %s", bad[i], got);
        assert_non_null(strstr(err.msg, "invalid interpolation format for services.web.image"));
    }
}

static void test_interpolation_in_files(void **state)
{
    (void)state;
    char *env[] = {"TAG=3.1", "HOST_PORT=9090", NULL};
    wharf_error err = {0};
    struct compose_project *p =
        load_env("services:\n  web:\n    image: \"app:${TAG}\"\n    ports: [\"${HOST_PORT}:80\"]\n"
                 "    command: echo $$HOME ${UNSET_ONE}\n",
                 env, &err);
    assert_non_null(p);
    json_t *web = svc_cfg(p, "web");
    assert_string_equal(json_string_value(json_object_get(web, "image")), "app:3.1");
    assert_json(
        json_object_get(web, "ports"),
        "[{\"mode\":\"ingress\",\"target\":80,\"published\":\"9090\",\"protocol\":\"tcp\"}]");
    assert_json(json_object_get(web, "command"), "[\"echo\",\"$HOME\"]");
    assert_int_equal(p->n_warnings, 1);
    assert_non_null(strstr(p->warnings[0], "\"UNSET_ONE\" variable is not set"));
    compose_project_free(p);
    p = load_env("services:\n  web:\n    image: \"app:${REQUIRED_TAG:?pick a tag}\"\n", env, &err);
    assert_null(p);
    assert_string_equal(err.msg, "compose.yaml: services.web.image: required variable "
                                 "REQUIRED_TAG is missing a value: pick a tag");
}

static void test_dotenv(void **state)
{
    (void)state;
    const char *text = "# comment\n\nA=1\nexport B = two words  # comment\nC='lit $A'\n"
                       "D=\"x\\ny ${A}\"\nE=${A}-${B}\nF=\"multi\nline\"\nG=#not a comment\n"
                       "H=\nI=a#b\nJ= #only a comment\n";
    json_t *out = json_object();
    wharf_error err = {0};
    assert_int_equal(compose_parse_env(".env", text, NULL, NULL, out, &err), 0);
    assert_json(out, "{\"A\":\"1\",\"B\":\"two words\",\"C\":\"lit $A\",\"D\":\"x\\ny 1\","
                     "\"E\":\"1-two words\",\"F\":\"multi\\nline\",\"G\":\"#not a comment\","
                     "\"H\":\"\",\"I\":\"a#b\",\"J\":\"\"}");
    json_decref(out);
    out = json_object();
    assert_true(compose_parse_env(".env", "A=1\nB C=2\n", NULL, NULL, out, &err) < 0);
    assert_string_equal(err.msg, ".env:2: invalid variable name \"B C\"");
    assert_true(compose_parse_env(".env", "A='open\n", NULL, NULL, out, &err) < 0);
    assert_string_equal(err.msg, ".env:1: unterminated single quote");
    json_decref(out);
}

static void test_environment_wins_over_dotenv(void **state)
{
    (void)state;
    char dir[] = "/tmp/wharf-compose-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/.env", dir);
    FILE *f = fopen(path, "w");
    fputs("TAG=from-dotenv\nOTHER=dotenv-only\nCOMPOSE_PROJECT_NAME=fromdotenv\n", f);
    fclose(f);
    char *env[] = {"TAG=from-env", NULL};
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {
        "services:\n  web:\n    image: \"a:${TAG}\"\n    labels: [\"o=${OTHER}\"]\n"};
    struct compose_options o = {.environ = env};
    wharf_error err = {0};
    struct compose_project *p = compose_load_texts(names, texts, 1, dir, &o, &err);
    assert_non_null(p);
    assert_string_equal(p->name, "fromdotenv");
    json_t *web = svc_cfg(p, "web");
    assert_string_equal(json_string_value(json_object_get(web, "image")), "a:from-env");
    assert_json(json_object_get(web, "labels"), "{\"o\":\"dotenv-only\"}");
    compose_project_free(p);
    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------- the schema */

static void test_canonical_forms(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct compose_project *p =
        load1("version: \"3.8\"\n"
              "services:\n"
              "  web:\n"
              "    image: busybox\n"
              "    command: sh -c 'echo \"a b\"; sleep 1'\n"
              "    environment: [\"A=1\", \"B=x=y\", \"FROM_ENV\"]\n"
              "    labels: [\"tier=front\", \"flag\"]\n"
              "    ports: [\"80\", \"8080:80\", \"127.0.0.1:9000-9001:90-91/udp\", 443,\n"
              "            {target: 53, published: 5353, protocol: udp}, \"[::1]:81:81\"]\n"
              "    expose: [3000, \"4000/udp\"]\n"
              "    volumes: [\"data:/data:ro\", \"./site:/site\", \"/cache\",\n"
              "              {type: tmpfs, target: /tmp/t, tmpfs: {size: 1m}}]\n"
              "    depends_on: [db]\n"
              "    mem_limit: 64m\n"
              "    cpus: \"0.5\"\n"
              "    restart: on-failure:3\n"
              "    healthcheck: {test: \"true\", interval: 2s}\n"
              "  db:\n"
              "    image: busybox\n"
              "    networks: {back: {aliases: [database]}}\n"
              "    depends_on: {cache: {condition: service_healthy}}\n"
              "  cache: {image: busybox, networks: [back]}\n"
              "volumes:\n  data:\n"
              "networks:\n  back:\n",
              &err);
    if (!p)
        fail_msg("%s", err.msg);
    assert_int_equal(p->n_warnings, 1);
    assert_non_null(strstr(p->warnings[0], "the attribute `version` is obsolete"));
    json_t *web = svc_cfg(p, "web");
    assert_json(json_object_get(web, "command"), "[\"sh\",\"-c\",\"echo \\\"a b\\\"; sleep 1\"]");
    assert_json(json_object_get(web, "environment"), "{\"A\":\"1\",\"B\":\"x=y\"}");
    assert_json(json_object_get(web, "labels"), "{\"tier\":\"front\",\"flag\":\"\"}");
    assert_json(json_object_get(web, "ports"),
                "[{\"mode\":\"ingress\",\"target\":80,\"protocol\":\"tcp\"},"
                "{\"mode\":\"ingress\",\"target\":80,\"published\":\"8080\",\"protocol\":\"tcp\"},"
                "{\"mode\":\"ingress\",\"target\":90,\"published\":\"9000\",\"protocol\":\"udp\","
                "\"host_ip\":\"127.0.0.1\"},"
                "{\"mode\":\"ingress\",\"target\":91,\"published\":\"9001\",\"protocol\":\"udp\","
                "\"host_ip\":\"127.0.0.1\"},"
                "{\"mode\":\"ingress\",\"target\":443,\"protocol\":\"tcp\"},"
                "{\"mode\":\"ingress\",\"target\":53,\"published\":\"5353\",\"protocol\":\"udp\"},"
                "{\"mode\":\"ingress\",\"target\":81,\"published\":\"81\",\"protocol\":\"tcp\","
                "\"host_ip\":\"::1\"}]");
    assert_json(json_object_get(web, "expose"), "[\"3000\",\"4000/udp\"]");
    assert_json(
        json_object_get(web, "volumes"),
        "[{\"type\":\"volume\",\"source\":\"data\",\"target\":\"/data\",\"read_only\":true},"
        "{\"type\":\"bind\",\"source\":\"/srv/demo/site\",\"target\":\"/site\","
        "\"bind\":{\"create_host_path\":true}},"
        "{\"type\":\"volume\",\"target\":\"/cache\"},"
        "{\"type\":\"tmpfs\",\"target\":\"/tmp/t\",\"tmpfs\":{\"size\":1048576}}]");
    assert_json(json_object_get(web, "depends_on"),
                "{\"db\":{\"condition\":\"service_started\",\"required\":true,\"restart\":false}}");
    assert_json(json_object_get(web, "mem_limit"), "67108864");
    assert_json(json_object_get(web, "cpus"), "0.5");
    assert_json(json_object_get(web, "healthcheck"),
                "{\"test\":[\"CMD-SHELL\",\"true\"],\"interval\":\"2s\"}");
    assert_json(json_object_get(svc_cfg(p, "db"), "networks"),
                "{\"back\":{\"aliases\":[\"database\"]}}");
    assert_json(json_object_get(svc_cfg(p, "cache"), "networks"), "{\"back\":null}");
    assert_json(json_object_get(p->model, "volumes"), "{\"data\":{}}");
    /* default network: only because web uses it */
    assert_non_null(compose_network(p, "default"));
    assert_string_equal(compose_network(p, "default")->name, "demo_default");
    assert_string_equal(compose_network(p, "back")->name, "demo_back");
    assert_string_equal(compose_volume(p, "data")->name, "demo_data");
    compose_project_free(p);
}

static void test_schema_errors_name_the_path(void **state)
{
    (void)state;
    assert_load_error("services:\n  web:\n    image: busybox\n    portz: [80]\n",
                      "compose.yaml: services.web.portz: unknown key");
    assert_load_error("services:\n  web:\n    image: [busybox]\n",
                      "compose.yaml: services.web.image: expected a string, got a list");
    assert_load_error("services:\n  web:\n    image: busybox\n    ports: \"80\"\n",
                      "services.web.ports: expected a list, got a string");
    assert_load_error("services:\n  web:\n    image: busybox\n    ports: [\"80\", \"x:80\"]\n",
                      "services.web.ports[1]: invalid port \"x:80\"");
    assert_load_error("services:\n  web:\n    image: busybox\n    ports: [{published: 80}]\n",
                      "services.web.ports[0]: target is required");
    assert_load_error("services:\n  web:\n    image: busybox\n    environment: 3\n",
                      "services.web.environment: expected a mapping or a list, got a number");
    assert_load_error("services:\n  web:\n    image: busybox\n    healthcheck: {intervall: 1s}\n",
                      "services.web.healthcheck.intervall: unknown key");
    assert_load_error("services:\n  web:\n    image: busybox\n    healthcheck: {interval: 5x}\n",
                      "services.web.healthcheck.interval: invalid duration \"5x\"");
    assert_load_error("services:\n  web:\n    image: busybox\n    restart: sometimes\n",
                      "services.web.restart: invalid restart policy \"sometimes\"");
    assert_load_error("services:\n  web:\n    image: busybox\n    init: maybe\n",
                      "services.web.init: expected a boolean, got a string");
    assert_load_error("services:\n  web:\n    image: busybox\n    volumes: [\"data\"]\n",
                      "services.web.volumes[0]: invalid volume \"data\": the mount point data is "
                      "not an absolute path");
    assert_load_error("services:\n  web:\n    image: busybox\n    secrets: [s]\n",
                      "services.web.secrets: not supported by wharf compose");
    assert_load_error("servics:\n  web:\n    image: busybox\n",
                      "compose.yaml: servics: unknown key");
    assert_load_error("services:\n  web:\n    image: busybox\n    depends_on: {db: {condition: "
                      "service_ready}}\n  db: {image: busybox}\n",
                      "services.web.depends_on.db.condition: invalid condition \"service_ready\"");
    assert_load_error("services:\n  web:\n    image: busybox\n    mem_limit: lots\n",
                      "services.web.mem_limit: invalid size \"lots\"");
    assert_load_error("- a\n- b\n", "the top level must be a mapping");
    assert_load_error("", "compose.yaml: empty compose file");
    /* x- extensions are fine anywhere they are allowed */
    wharf_error err = {0};
    struct compose_project *p =
        load1("x-common: {a: 1}\nservices:\n  web:\n    image: busybox\n    x-note: hi\n", &err);
    assert_non_null(p);
    compose_project_free(p);
}

static void test_project_errors(void **state)
{
    (void)state;
    assert_load_error("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: "
                      "[c]}\n  c: {image: x, depends_on: [a]}\n",
                      "dependency cycle detected: a -> b -> c -> a");
    assert_load_error("services:\n  a: {image: x, depends_on: [a]}\n",
                      "dependency cycle detected: a -> a");
    assert_load_error("services:\n  web: {image: x, depends_on: [db]}\n",
                      "service \"web\" depends on undefined service \"db\"");
    assert_load_error("services:\n  web: {image: x, networks: [front]}\n",
                      "service \"web\" refers to undefined network front");
    assert_load_error("services:\n  web: {image: x, volumes: [\"data:/data\"]}\n",
                      "service \"web\" refers to undefined volume data");
    assert_load_error("services:\n  web: {command: echo}\n",
                      "service \"web\" has neither an image nor a build context specified");
    assert_load_error("services:\n  web: {image: x, scale: 2, deploy: {replicas: 3}}\n",
                      "services.web: can't set distinct values on 'scale' and 'deploy.replicas'");
    assert_load_error("services:\n  web: {image: x, container_name: fixed, scale: 2}\n",
                      "a fixed container_name cannot have 2 replicas");
    wharf_error err = {0};
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {"services:\n  web: {image: x}\n"};
    struct compose_options o = {.project_name = "Bad Name"};
    assert_null(compose_load_texts(names, texts, 1, "/srv/x", &o, &err));
    assert_non_null(strstr(err.msg, "invalid project name \"Bad Name\""));
}

static void test_project_name(void **state)
{
    (void)state;
    char *n = compose_normalize_project_name("_My.Project-1_");
    assert_string_equal(n, "myproject-1_");
    free(n);
    wharf_error err = {0};
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {"services:\n  web: {image: x}\n"};
    struct compose_options none = {0};
    struct compose_project *p = compose_load_texts(names, texts, 1, "/srv/My App", &none, &err);
    assert_non_null(p);
    assert_string_equal(p->name, "myapp");
    compose_project_free(p);
    const char *named[] = {"name: fromfile\nservices:\n  web: {image: x}\n"};
    p = compose_load_texts(names, named, 1, "/srv/My App", &none, &err);
    assert_string_equal(p->name, "fromfile");
    assert_string_equal(compose_network(p, "default")->name, "fromfile_default");
    compose_project_free(p);
    char *env[] = {"COMPOSE_PROJECT_NAME=fromenv", NULL};
    struct compose_options withenv = {.environ = env};
    p = compose_load_texts(names, named, 1, "/srv/x", &withenv, &err);
    assert_string_equal(p->name, "fromenv");
    compose_project_free(p);
}

/* ---------------------------------------------------------------- merging */

static void test_merge_files_in_order(void **state)
{
    (void)state;
    const char *names[] = {"compose.yaml", "override.yaml", "third.yaml"};
    const char *texts[] = {
        "services:\n"
        "  web:\n"
        "    image: app:1\n"
        "    command: [serve, --port, \"80\"]\n"
        "    environment: {A: \"1\", B: \"1\"}\n"
        "    ports: [\"8080:80\"]\n"
        "    volumes: [\"./a:/data\", \"./logs:/logs\"]\n"
        "    labels: [x=1]\n"
        "  db: {image: db:1}\n",
        "services:\n"
        "  web:\n"
        "    image: app:2\n"
        "    command: serve --debug\n"
        "    environment: [\"B=2\", \"C=2\"]\n"
        "    ports: [\"8080:80\", \"9090:90\"]\n"
        "    volumes: [\"./b:/data\"]\n"
        "    depends_on: [db]\n",
        "services:\n"
        "  web:\n"
        "    labels: {y: \"3\"}\n"
        "  cache: {image: cache:1}\n",
    };
    struct compose_options o = {.project_name = "m"};
    wharf_error err = {0};
    struct compose_project *p = compose_load_texts(names, texts, 3, "/p", &o, &err);
    if (!p)
        fail_msg("%s", err.msg);
    json_t *web = svc_cfg(p, "web");
    assert_string_equal(json_string_value(json_object_get(web, "image")), "app:2");
    assert_json(json_object_get(web, "command"), "[\"serve\",\"--debug\"]");
    assert_json(json_object_get(web, "environment"), "{\"A\":\"1\",\"B\":\"2\",\"C\":\"2\"}");
    assert_json(
        json_object_get(web, "ports"),
        "[{\"mode\":\"ingress\",\"target\":80,\"published\":\"8080\",\"protocol\":\"tcp\"},"
        "{\"mode\":\"ingress\",\"target\":90,\"published\":\"9090\",\"protocol\":\"tcp\"}]");
    assert_json(json_object_get(web, "volumes"),
                "[{\"type\":\"bind\",\"source\":\"/p/b\",\"target\":\"/data\","
                "\"bind\":{\"create_host_path\":true}},"
                "{\"type\":\"bind\",\"source\":\"/p/logs\",\"target\":\"/logs\","
                "\"bind\":{\"create_host_path\":true}}]");
    assert_json(json_object_get(web, "labels"), "{\"x\":\"1\",\"y\":\"3\"}");
    assert_non_null(compose_service(p, "cache"));
    assert_int_equal(p->n_config_files, 3);
    compose_project_free(p);
    /* an error in the second file names it */
    const char *bad[] = {"services:\n  web: {image: x}\n", "services:\n  web: {imagee: y}\n"};
    assert_null(compose_load_texts(names, bad, 2, "/p", &o, &err));
    assert_string_equal(err.msg, "override.yaml: services.web.imagee: unknown key");
}

/* ---------------------------------------------------------------- order, profiles */

static void test_dependency_order(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct compose_project *p =
        load1("services:\n"
              "  web: {image: x, depends_on: [api, cache]}\n"
              "  api: {image: x, depends_on: {db: {condition: service_healthy}, "
              "migrate: {condition: service_completed_successfully}}}\n"
              "  migrate: {image: x, depends_on: [db]}\n"
              "  db: {image: x}\n"
              "  cache: {image: x}\n"
              "  alone: {image: x}\n",
              &err);
    assert_non_null(p);
    const char *want[] = {"alone", "cache", "db", "migrate", "api", "web"};
    assert_int_equal(p->n_services, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(p->services[i].name, want[i]);
    struct compose_service *api = compose_service(p, "api");
    assert_int_equal(api->n_depends_on, 2);
    assert_string_equal(api->depends_on[0].service, "db");
    assert_int_equal(api->depends_on[0].condition, COMPOSE_SERVICE_HEALTHY);
    assert_int_equal(api->depends_on[1].condition, COMPOSE_SERVICE_COMPLETED_SUCCESSFULLY);
    /* selecting web brings its dependencies, in order */
    const char *names[] = {"web"};
    size_t n;
    struct compose_service **sel = compose_select(p, names, 1, true, &n, &err);
    assert_non_null(sel);
    assert_int_equal(n, 5);
    assert_string_equal(sel[0]->name, "cache");
    assert_string_equal(sel[4]->name, "web");
    free(sel);
    sel = compose_select(p, names, 1, false, &n, &err);
    assert_int_equal(n, 1);
    free(sel);
    const char *unknown[] = {"nope"};
    assert_null(compose_select(p, unknown, 1, true, &n, &err));
    assert_string_equal(err.msg, "no such service: nope");
    compose_project_free(p);
}

static void test_profiles(void **state)
{
    (void)state;
    const char *names[] = {"compose.yaml"};
    const char *texts[] = {"services:\n"
                           "  web: {image: x}\n"
                           "  debug: {image: x, profiles: [dev]}\n"
                           "  tool: {image: x, profiles: [ops], depends_on: [debug]}\n"};
    struct compose_options o = {.project_name = "p"};
    wharf_error err = {0};
    struct compose_project *p = compose_load_texts(names, texts, 1, "/p", &o, &err);
    size_t n;
    struct compose_service **sel = compose_select(p, NULL, 0, true, &n, &err);
    assert_int_equal(n, 1);
    assert_string_equal(sel[0]->name, "web");
    free(sel);
    const char *tool[] = {"tool"};
    assert_null(compose_select(p, tool, 1, true, &n, &err));
    assert_non_null(strstr(err.msg, "service \"debug\" was pulled in as a dependency of service "
                                    "\"tool\" but is not enabled by the active profiles"));
    compose_project_free(p);
    const char *profiles[] = {"dev"};
    o.profiles = profiles;
    o.n_profiles = 1;
    p = compose_load_texts(names, texts, 1, "/p", &o, &err);
    sel = compose_select(p, NULL, 0, true, &n, &err);
    assert_int_equal(n, 2);
    free(sel);
    sel = compose_select(p, tool, 1, true, &n, &err);
    assert_non_null(sel);
    assert_int_equal(n, 2);
    free(sel);
    compose_project_free(p);
}

/* ---------------------------------------------------------------- hash, plans */

static void test_config_hash(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct compose_project *a =
        load1("services:\n  web:\n    image: x\n    environment: [A=1, B=2]\n    ports: [8080:80]\n"
              "    command: echo hi\n",
              &err);
    struct compose_project *b =
        load1("services:\n  web:\n    environment: {B: \"2\", A: 1}\n    image: x\n    command: "
              "[echo, hi]\n"
              "    ports: [{target: 80, published: \"8080\"}]\n    scale: 3\n    depends_on: [db]\n"
              "  db: {image: y}\n",
              &err);
    struct compose_project *c =
        load1("services:\n  web:\n    image: x\n    environment: [A=1, B=3]\n    ports: [8080:80]\n"
              "    command: echo hi\n",
              &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    const char *ha = compose_service(a, "web")->hash;
    assert_int_equal(strlen(ha), 64);
    assert_string_equal(ha, compose_service(b, "web")->hash);
    assert_string_not_equal(ha, compose_service(c, "web")->hash);
    /* the same on every load */
    struct compose_project *a2 =
        load1("services:\n  web:\n    image: x\n    environment: [A=1, B=2]\n    ports: [8080:80]\n"
              "    command: echo hi\n",
              &err);
    assert_string_equal(ha, compose_service(a2, "web")->hash);
    assert_int_equal(compose_service(b, "web")->scale, 3);
    assert_int_equal(compose_set_scale(b, "web=5", &err), 0);
    assert_int_equal(compose_service(b, "web")->scale, 5);
    assert_true(compose_set_scale(b, "web", &err) < 0);
    assert_true(compose_set_scale(b, "nope=1", &err) < 0);
    assert_string_equal(err.msg, "no such service: nope");
    compose_project_free(a);
    compose_project_free(a2);
    compose_project_free(b);
    compose_project_free(c);
}

static void test_plan(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct compose_project *p = load1("services:\n  web: {image: x, scale: 3}\n", &err);
    struct compose_service *web = compose_service(p, "web");
    struct compose_existing ex[] = {
        {"id4", "demo-web-4", 4, web->hash, "img", true},
        {"id1", "demo-web-1", 1, web->hash, "img", true},
        {"id2", "demo-web-2", 2, "oldhash", "img", true},
        {"id5", "demo-web-5", 5, web->hash, "img", false},
    };
    struct compose_plan_options o = {.image_id = "img"};
    struct compose_step *steps;
    size_t n;
    assert_int_equal(compose_plan_service(web, ex, 4, &o, &steps, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(steps[0].action, COMPOSE_KEEP);
    assert_int_equal(steps[0].number, 1);
    assert_int_equal(steps[1].action, COMPOSE_RECREATE);
    assert_int_equal(steps[1].number, 2);
    assert_int_equal(steps[2].action, COMPOSE_KEEP);
    assert_int_equal(steps[2].number, 4);
    assert_int_equal(steps[3].action, COMPOSE_REMOVE);
    assert_int_equal(steps[3].number, 5);
    free(steps);
    /* scale up from nothing: 1..3; a changed image recreates; no-recreate keeps */
    assert_int_equal(compose_plan_service(web, NULL, 0, &o, &steps, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(steps[i].action, COMPOSE_CREATE);
        assert_int_equal(steps[i].number, (int)i + 1);
    }
    free(steps);
    web->scale = 1;
    o.image_id = "newimg";
    assert_int_equal(compose_plan_service(web, ex, 2, &o, &steps, &n), 0);
    assert_int_equal(steps[0].action, COMPOSE_RECREATE);
    assert_int_equal(steps[0].number, 1);
    assert_int_equal(steps[1].action, COMPOSE_REMOVE);
    assert_int_equal(steps[1].number, 4);
    free(steps);
    o.no_recreate = true;
    assert_int_equal(compose_plan_service(web, &ex[3], 1, &o, &steps, &n), 0);
    assert_int_equal(steps[0].action, COMPOSE_START);
    free(steps);
    o = (struct compose_plan_options){.force_recreate = true};
    assert_int_equal(compose_plan_service(web, &ex[1], 1, &o, &steps, &n), 0);
    assert_int_equal(steps[0].action, COMPOSE_RECREATE);
    free(steps);
    compose_project_free(p);
}

/* ---------------------------------------------------------------- Engine API bodies */

static void test_container_body(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct compose_project *p =
        load1("services:\n"
              "  web:\n"
              "    image: busybox\n"
              "    command: [httpd, -f]\n"
              "    environment: {B: \"2\", A: \"1\"}\n"
              "    labels: {team: web}\n"
              "    ports: [\"127.0.0.1:8080:80\"]\n"
              "    volumes: [\"data:/data:ro\", \"/srv:/srv\", \"/anon\"]\n"
              "    networks: {default: {aliases: [www]}, back: {}}\n"
              "    restart: unless-stopped\n"
              "    init: true\n"
              "    mem_limit: 1g\n"
              "    cpus: 1.5\n"
              "    stop_grace_period: 1m30s\n"
              "    healthcheck: {test: [CMD, \"true\"], interval: 500ms, retries: 3}\n"
              "    depends_on: {db: {condition: service_healthy}}\n"
              "  db: {image: busybox}\n"
              "volumes: {data: {}}\n"
              "networks: {back: {name: shared-back}}\n",
              &err);
    if (!p)
        fail_msg("%s", err.msg);
    struct compose_service *web = compose_service(p, "web");
    char *name = compose_container_name(p, web, 2);
    assert_string_equal(name, "demo-web-2");
    free(name);
    const char *keep[] = {"0123abcd:/anon"};
    struct compose_create_options o = {
        .number = 2, .image_id = "sha256:abc", .keep_volumes = keep, .n_keep_volumes = 1};
    json_t *b = compose_container_body(p, web, &o);
    assert_json(json_object_get(b, "Cmd"), "[\"httpd\",\"-f\"]");
    assert_json(json_object_get(b, "Env"), "[\"A=1\",\"B=2\"]");
    json_t *l = json_object_get(b, "Labels");
    assert_string_equal(json_string_value(json_object_get(l, "team")), "web");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_PROJECT)), "demo");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_SERVICE)), "web");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_NUMBER)), "2");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_ONEOFF)), "False");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_HASH)), web->hash);
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_WORKDIR)), "/srv/demo");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_FILES)), "compose.yaml");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_IMAGE)), "sha256:abc");
    assert_string_equal(json_string_value(json_object_get(l, COMPOSE_LABEL_DEPENDS)),
                        "db:service_healthy:false");
    assert_json(json_object_get(b, "ExposedPorts"), "{\"80/tcp\":{}}");
    assert_json(json_object_get(b, "StopTimeout"), "90");
    assert_json(json_object_get(b, "Healthcheck"),
                "{\"Test\":[\"CMD\",\"true\"],\"Interval\":500000000,\"Retries\":3}");
    json_t *h = json_object_get(b, "HostConfig");
    assert_json(json_object_get(h, "PortBindings"),
                "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}");
    assert_json(json_object_get(h, "Binds"),
                "[\"demo_data:/data:ro\",\"/srv:/srv\",\"0123abcd:/anon\"]");
    assert_null(json_object_get(b, "Volumes"));
    assert_json(json_object_get(h, "RestartPolicy"),
                "{\"Name\":\"unless-stopped\",\"MaximumRetryCount\":0}");
    assert_json(json_object_get(h, "Init"), "true");
    assert_json(json_object_get(h, "Memory"), "1073741824");
    assert_json(json_object_get(h, "NanoCpus"), "1500000000");
    /* the first network by priority, then by key ("back" < "default") */
    assert_string_equal(json_string_value(json_object_get(h, "NetworkMode")), "shared-back");
    assert_json(json_object_get(json_object_get(b, "NetworkingConfig"), "EndpointsConfig"),
                "{\"demo_default\":{\"Aliases\":[\"web\",\"www\"]},"
                "\"shared-back\":{\"Aliases\":[\"web\"]}}");
    json_decref(b);
    /* a one-off: no aliases, no published ports, the label says so */
    json_t *cmd = json_pack("[s, s]", "echo", "hi");
    struct compose_create_options run = {.oneoff = true, .command = cmd, .no_ports = true};
    b = compose_container_body(p, web, &run);
    assert_json(json_object_get(b, "Cmd"), "[\"echo\",\"hi\"]");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "Labels"), COMPOSE_LABEL_ONEOFF)),
        "True");
    assert_null(json_object_get(json_object_get(b, "HostConfig"), "PortBindings"));
    assert_json(json_object_get(b, "Volumes"), "{\"/anon\":{}}");
    assert_json(json_object_get(json_object_get(b, "NetworkingConfig"), "EndpointsConfig"),
                "{\"demo_default\":{},\"shared-back\":{}}");
    json_decref(b);
    json_decref(cmd);
    json_t *nb = compose_network_body(p, compose_network(p, "default"));
    assert_json(nb, "{\"Name\":\"demo_default\",\"Driver\":\"bridge\",\"CheckDuplicate\":true,"
                    "\"Labels\":{\"com.docker.compose.network\":\"default\","
                    "\"com.docker.compose.project\":\"demo\"}}");
    json_decref(nb);
    json_t *vb = compose_volume_body(p, compose_volume(p, "data"));
    assert_json(vb, "{\"Name\":\"demo_data\",\"Driver\":\"local\","
                    "\"Labels\":{\"com.docker.compose.volume\":\"data\","
                    "\"com.docker.compose.project\":\"demo\"}}");
    json_decref(vb);
    size_t n;
    const char **nets = compose_service_networks(p, web, &n);
    assert_int_equal(n, 2);
    assert_string_equal(nets[0], "shared-back");
    assert_string_equal(nets[1], "demo_default");
    free(nets);
    const char **vols = compose_service_volumes(p, web, &n);
    assert_int_equal(n, 1);
    assert_string_equal(vols[0], "data");
    free(vols);
    compose_project_free(p);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t ns;
    assert_int_equal(compose_parse_duration("1m30s", &ns), 0);
    assert_int_equal(ns, 90000000000LL);
    assert_int_equal(compose_parse_duration("1.5h", &ns), 0);
    assert_int_equal(ns, 5400000000000LL);
    assert_int_equal(compose_parse_duration("300ms", &ns), 0);
    assert_int_equal(ns, 300000000);
    assert_int_equal(compose_parse_duration("0", &ns), 0);
    assert_int_equal(ns, 0);
    assert_true(compose_parse_duration("10", &ns) < 0);
    assert_true(compose_parse_duration("5x", &ns) < 0);
    assert_true(compose_parse_duration("", &ns) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_core_schema),
        cmocka_unit_test(test_yaml_anchors_and_merge_keys),
        cmocka_unit_test(test_yaml_syntax_error_names_the_line),
        cmocka_unit_test(test_yaml_emit_reads_back),
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_interpolation_errors),
        cmocka_unit_test(test_interpolation_in_files),
        cmocka_unit_test(test_dotenv),
        cmocka_unit_test(test_environment_wins_over_dotenv),
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_schema_errors_name_the_path),
        cmocka_unit_test(test_project_errors),
        cmocka_unit_test(test_project_name),
        cmocka_unit_test(test_merge_files_in_order),
        cmocka_unit_test(test_dependency_order),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_config_hash),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_container_body),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
