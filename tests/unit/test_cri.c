/*
 * test_cri.c — unit tests of the cri module without running containers:
 * OCI config generation (capabilities add/drop, privileged, mounts,
 * resources, user, env, namespaces, init), the persistence of sandbox and
 * container records across a close/reopen (also of a rename), and the CRI log reader (tail,
 * since, streams, partial lines, malformed lines, follow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "cri.h"

/* ---------------------------------------------------------------- helpers */

static json_t *cfg(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

static json_t *gen(const char *config_text, const struct cri_spec_context *ctx_in)
{
    struct cri_spec_context dflt = {.id = "c1", .rootfs = "/tmp/rootfs",
                                    .cgroups_path = "/wharf/c1", .hostname = "c1host"};
    const struct cri_spec_context *ctx = ctx_in ? ctx_in : &dflt;
    json_t *c = cfg(config_text);
    wharf_error err = {0};
    json_t *spec = cri_generate_spec(ctx, c, &err);
    json_decref(c);
    if (!spec)
        fail_msg("generate: %s", err.msg);
    return spec;
}

/* Expects generation to fail with a message containing want. */
static void gen_fails(const char *config_text, const char *want)
{
    struct cri_spec_context ctx = {.id = "c1", .rootfs = "/tmp/rootfs"};
    json_t *c = cfg(config_text);
    wharf_error err = {0};
    json_t *spec = cri_generate_spec(&ctx, c, &err);
    json_decref(c);
    assert_null(spec);
    assert_int_equal(err.code, -EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
}

static bool has_string(json_t *array, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static json_t *path(json_t *root, const char *p)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", p);
    json_t *cur = root;
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, t);
    return cur;
}

static json_t *find_mount(json_t *spec, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0)
            return m;
    }
    return NULL;
}

static size_t count_mounts(json_t *spec, const char *dest)
{
    size_t i, n = 0;
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
        n += strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0;
    return n;
}

static json_t *find_ns(json_t *spec, const char *type)
{
    size_t i;
    json_t *n;
    json_array_foreach(path(spec, "linux.namespaces"), i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0)
            return n;
    }
    return NULL;
}

/* ---------------------------------------------------------------- spec */

static void test_spec_defaults(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"sh\", \"-c\", \"true\"]}", NULL);
    json_t *bounding = path(spec, "process.capabilities.bounding");
    assert_int_equal(json_array_size(bounding), 14);
    assert_true(has_string(bounding, "CAP_CHOWN"));
    assert_true(has_string(bounding, "CAP_NET_BIND_SERVICE"));
    assert_false(has_string(bounding, "CAP_SYS_ADMIN"));
    assert_false(has_string(bounding, "CAP_NET_ADMIN"));
    assert_true(json_equal(bounding, path(spec, "process.capabilities.effective")));
    assert_string_equal(json_string_value(path(spec, "process.cwd")), "/");
    assert_string_equal(json_string_value(path(spec, "root.path")), "/tmp/rootfs");
    assert_false(json_is_true(path(spec, "root.readonly")));
    assert_string_equal(json_string_value(path(spec, "linux.cgroupsPath")), "/wharf/c1");
    assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "c1host");
    assert_true(has_string(path(spec, "linux.maskedPaths"), "/proc/kcore"));
    assert_true(has_string(path(spec, "linux.readonlyPaths"), "/proc/sys"));
    /* default devices: deny all first, then the standard ones */
    json_t *dev0 = json_array_get(path(spec, "linux.resources.devices"), 0);
    assert_false(json_is_true(json_object_get(dev0, "allow")));
    assert_non_null(find_mount(spec, "/proc"));
    assert_non_null(find_mount(spec, "/dev/shm"));
    assert_true(has_string(json_object_get(find_mount(spec, "/sys"), "options"), "ro"));
    /* fresh namespaces without sandbox paths; the host pid namespace is not used */
    assert_non_null(find_ns(spec, "network"));
    assert_null(json_object_get(find_ns(spec, "network"), "path"));
    assert_non_null(find_ns(spec, "pid"));
    assert_non_null(find_ns(spec, "mount"));
    json_decref(spec);
}

static void test_spec_caps(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"x\"], \"cap_add\": [\"net_admin\", \"CAP_SYS_TIME\"],"
                       " \"cap_drop\": [\"CHOWN\", \"cap_kill\"]}",
                       NULL);
    json_t *b = path(spec, "process.capabilities.bounding");
    assert_true(has_string(b, "CAP_NET_ADMIN"));
    assert_true(has_string(b, "CAP_SYS_TIME"));
    assert_false(has_string(b, "CAP_CHOWN"));
    assert_false(has_string(b, "CAP_KILL"));
    assert_int_equal(json_array_size(b), 14);
    json_decref(spec);

    spec = gen("{\"args\": [\"x\"], \"cap_drop\": [\"ALL\"], \"cap_add\": [\"KILL\"]}", NULL);
    b = path(spec, "process.capabilities.bounding");
    assert_int_equal(json_array_size(b), 1);
    assert_true(has_string(b, "CAP_KILL"));
    json_decref(spec);

    spec = gen("{\"args\": [\"x\"], \"cap_add\": [\"ALL\"], \"cap_drop\": [\"SYS_ADMIN\"]}", NULL);
    b = path(spec, "process.capabilities.bounding");
    assert_true(has_string(b, "CAP_SYS_PTRACE"));
    assert_false(has_string(b, "CAP_SYS_ADMIN"));
    json_decref(spec);

    gen_fails("{\"args\": [\"x\"], \"cap_add\": [\"NOT_A_CAP\"]}", "cap_add");
    gen_fails("{\"args\": [\"x\"], \"cap_drop\": [\"FLY\"]}", "cap_drop");
}

static void test_spec_privileged(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"x\"], \"privileged\": true, \"cap_drop\": [\"ALL\"]}", NULL);
    char *text = NULL;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, &err), 0);
    size_t expect = (size_t)strtol(text, NULL, 10) + 1;
    free(text);
    if (expect > 41)
        expect = 41;
    assert_int_equal(json_array_size(path(spec, "process.capabilities.bounding")), expect);
    assert_null(path(spec, "linux.maskedPaths"));
    assert_null(path(spec, "linux.readonlyPaths"));
    json_t *devices = path(spec, "linux.resources.devices");
    assert_int_equal(json_array_size(devices), 1);
    assert_true(json_is_true(json_object_get(json_array_get(devices, 0), "allow")));
    assert_true(json_is_array(path(spec, "linux.devices")));
    assert_true(has_string(json_object_get(find_mount(spec, "/sys"), "options"), "rw"));
    json_decref(spec);
}

static void test_spec_mounts(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"x\"], \"readonly_rootfs\": true, \"mounts\": ["
                       "{\"type\": \"bind\", \"source\": \"/srv/data\", \"destination\": \"/data\","
                       " \"readonly\": true},"
                       "{\"type\": \"volume\", \"source\": \"/var/lib/v1\", \"destination\": \"/v\"},"
                       "{\"type\": \"tmpfs\", \"destination\": \"/run\", \"options\": [\"size=1m\"]},"
                       "{\"type\": \"tmpfs\", \"destination\": \"/dev/shm\"}]}",
                       NULL);
    assert_true(json_is_true(path(spec, "root.readonly")));
    json_t *m = find_mount(spec, "/data");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
    assert_string_equal(json_string_value(json_object_get(m, "source")), "/srv/data");
    assert_true(has_string(json_object_get(m, "options"), "rbind"));
    assert_true(has_string(json_object_get(m, "options"), "ro"));
    m = find_mount(spec, "/v");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
    assert_true(has_string(json_object_get(m, "options"), "rw"));
    m = find_mount(spec, "/run");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "tmpfs");
    assert_true(has_string(json_object_get(m, "options"), "size=1m"));
    assert_true(has_string(json_object_get(m, "options"), "nosuid"));
    /* the user's /dev/shm replaced the default one */
    assert_int_equal(count_mounts(spec, "/dev/shm"), 1);
    assert_string_equal(json_string_value(json_object_get(find_mount(spec, "/dev/shm"), "source")),
                        "tmpfs");
    json_decref(spec);

    gen_fails("{\"args\": [\"x\"], \"mounts\": [{\"type\": \"bind\", \"source\": \"/a\","
              " \"destination\": \"rel\"}]}",
              "mounts[0].destination");
    gen_fails("{\"args\": [\"x\"], \"mounts\": [{\"type\": \"bind\", \"source\": \"a\","
              " \"destination\": \"/a\"}]}",
              "mounts[0].source");
    gen_fails("{\"args\": [\"x\"], \"mounts\": [{\"type\": \"nfs\", \"destination\": \"/a\"}]}",
              "mounts[0].type");
}

static void test_spec_resources(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"x\"], \"resources\": {\"memory\": 67108864,"
                       " \"memory_reservation\": 33554432, \"memory_swap\": -1,"
                       " \"cpu_shares\": 512, \"cpu_quota\": 50000, \"cpu_period\": 100000,"
                       " \"cpuset_cpus\": \"0\", \"pids_limit\": 64, \"blkio_weight\": 300},"
                       " \"ulimits\": [{\"name\": \"nofile\", \"soft\": 100, \"hard\": 200}],"
                       " \"oom_score_adj\": 500, \"sysctls\": {\"net.ipv4.ip_forward\": \"1\"}}",
                       NULL);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.memory.limit")), 67108864);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.memory.reservation")),
                     33554432);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.memory.swap")), -1);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.cpu.shares")), 512);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.cpu.quota")), 50000);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.cpu.period")), 100000);
    assert_string_equal(json_string_value(path(spec, "linux.resources.cpu.cpus")), "0");
    assert_int_equal(json_integer_value(path(spec, "linux.resources.pids.limit")), 64);
    assert_int_equal(json_integer_value(path(spec, "linux.resources.blockIO.weight")), 300);
    json_t *rl = json_array_get(path(spec, "process.rlimits"), 0);
    assert_string_equal(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE");
    assert_int_equal(json_integer_value(json_object_get(rl, "soft")), 100);
    assert_int_equal(json_integer_value(json_object_get(rl, "hard")), 200);
    assert_int_equal(json_integer_value(path(spec, "process.oomScoreAdj")), 500);
    assert_string_equal(json_string_value(json_object_get(path(spec, "linux.sysctl"),
                                                          "net.ipv4.ip_forward")),
                        "1");
    json_decref(spec);

    gen_fails("{\"args\": [\"x\"], \"resources\": {\"memory\": -5}}", "resources.memory");
    gen_fails("{\"args\": [\"x\"], \"resources\": {\"blkio_weight\": -1}}",
              "resources.blkio_weight");
    gen_fails("{\"args\": [\"x\"], \"resources\": {\"cpu_shares\": \"lots\"}}",
              "resources.cpu_shares");
    gen_fails("{\"args\": [\"x\"], \"ulimits\": [{\"name\": \"bogus\", \"soft\": 1}]}",
              "ulimits[0].name");
    gen_fails("{\"args\": [\"x\"], \"oom_score_adj\": 5000}", "oom_score_adj");

    /* update: the same schema without devices */
    json_t *res = cfg("{\"memory\": 1048576, \"pids_limit\": 10}");
    wharf_error err = {0};
    json_t *oci = cri_generate_resources(res, &err);
    assert_non_null(oci);
    assert_int_equal(json_integer_value(path(oci, "memory.limit")), 1048576);
    assert_int_equal(json_integer_value(path(oci, "pids.limit")), 10);
    assert_null(json_object_get(oci, "devices"));
    json_decref(oci);
    json_decref(res);
}

static void test_spec_user_env_args(void **state)
{
    (void)state;
    json_t *spec = gen("{\"args\": [\"/app\", \"--flag\"], \"env\": [\"A=1\", \"B=x=y\"],"
                       " \"working_dir\": \"/work\", \"tty\": true, \"no_new_privileges\": true,"
                       " \"user\": {\"uid\": 1000, \"gid\": 100, \"additional_gids\": [5, 6]},"
                       " \"init\": \"/usr/libexec/tini\"}",
                       NULL);
    json_t *args = path(spec, "process.args");
    assert_int_equal(json_array_size(args), 4);
    assert_string_equal(json_string_value(json_array_get(args, 0)), "/dev/init");
    assert_string_equal(json_string_value(json_array_get(args, 1)), "--");
    assert_string_equal(json_string_value(json_array_get(args, 2)), "/app");
    json_t *init = find_mount(spec, "/dev/init");
    assert_non_null(init);
    assert_string_equal(json_string_value(json_object_get(init, "source")), "/usr/libexec/tini");
    assert_true(has_string(json_object_get(init, "options"), "ro"));
    json_t *env = path(spec, "process.env");
    assert_true(has_string(env, "A=1"));
    assert_true(has_string(env, "B=x=y"));
    assert_true(has_string(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    assert_true(has_string(env, "HOSTNAME=c1host"));
    assert_true(has_string(env, "TERM=xterm"));
    assert_string_equal(json_string_value(path(spec, "process.cwd")), "/work");
    assert_true(json_is_true(path(spec, "process.terminal")));
    assert_true(json_is_true(path(spec, "process.noNewPrivileges")));
    assert_int_equal(json_integer_value(path(spec, "process.user.uid")), 1000);
    assert_int_equal(json_integer_value(path(spec, "process.user.gid")), 100);
    assert_int_equal(json_array_size(path(spec, "process.user.additionalGids")), 2);
    json_decref(spec);

    /* an explicit PATH is kept and not duplicated */
    spec = gen("{\"args\": [\"x\"], \"env\": [\"PATH=/only\"]}", NULL);
    env = path(spec, "process.env");
    size_t i, paths = 0;
    json_t *v;
    json_array_foreach(env, i, v) paths += strncmp(json_string_value(v), "PATH=", 5) == 0;
    assert_int_equal(paths, 1);
    assert_true(has_string(env, "PATH=/only"));
    json_decref(spec);

    gen_fails("{}", "args");
    gen_fails("{\"args\": []}", "args");
    gen_fails("{\"args\": [\"x\"], \"env\": [\"NOEQUALS\"]}", "env[0]");
    gen_fails("{\"args\": [\"x\"], \"working_dir\": \"rel\"}", "working_dir");
    gen_fails("{\"args\": [\"x\"], \"user\": {\"uid\": \"root\"}}", "user.uid");
    gen_fails("{\"args\": [\"x\"], \"stop_signal\": \"SIGNOPE\"}", "stop_signal");

    /* The terminal's first size (docker's HostConfig.ConsoleSize). */
    spec = gen("{\"args\": [\"sh\"], \"tty\": true,"
               " \"console_size\": {\"height\": 40, \"width\": 100}}",
               NULL);
    assert_int_equal(json_integer_value(path(spec, "process.consoleSize.height")), 40);
    assert_int_equal(json_integer_value(path(spec, "process.consoleSize.width")), 100);
    json_decref(spec);
    spec = gen("{\"args\": [\"sh\"], \"console_size\": {\"height\": 40, \"width\": 100}}", NULL);
    assert_null(json_object_get(json_object_get(spec, "process"), "consoleSize"));
    json_decref(spec);
    gen_fails("{\"args\": [\"x\"], \"tty\": true, \"console_size\": {\"height\": 70000,"
              " \"width\": 1}}",
              "console_size");
    gen_fails("{\"args\": [\"x\"], \"tty\": true, \"console_size\": {\"height\": \"a\"}}",
              "console_size.height");
}

static void test_spec_namespaces(void **state)
{
    (void)state;
    struct cri_spec_context ctx = {.id = "c2", .rootfs = "/r", .hostname = NULL,
                                   .netns = "/proc/42/ns/net", .ipcns = "/proc/42/ns/ipc",
                                   .utsns = "/proc/42/ns/uts", .pidns = "/proc/42/ns/pid"};
    json_t *spec = gen("{\"args\": [\"x\"], \"domainname\": \"own.example\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(spec, "domainname")), "own.example");
    json_decref(spec);
    spec = gen("{\"args\": [\"x\"], \"hostname\": \"ignored\", \"domainname\": \"x.y\"}", &ctx);
    assert_string_equal(json_string_value(json_object_get(find_ns(spec, "network"), "path")),
                        "/proc/42/ns/net");
    assert_string_equal(json_string_value(json_object_get(find_ns(spec, "uts"), "path")),
                        "/proc/42/ns/uts");
    /* pid stays private unless asked; no hostname when the UTS ns is joined */
    assert_null(json_object_get(find_ns(spec, "pid"), "path"));
    assert_null(json_object_get(spec, "hostname"));
    assert_null(json_object_get(spec, "domainname"));
    json_decref(spec);

    spec = gen("{\"args\": [\"x\"], \"namespaces\": {\"pid\": \"sandbox\", \"network\": \"host\"}}",
               &ctx);
    assert_string_equal(json_string_value(json_object_get(find_ns(spec, "pid"), "path")),
                        "/proc/42/ns/pid");
    assert_null(find_ns(spec, "network"));
    json_decref(spec);
    gen_fails("{\"args\": [\"x\"], \"namespaces\": {\"ipc\": \"shareable\"}}", "namespaces.ipc");

    /* A network namespace prepared by the caller is joined by its path, over
     * the sandbox's; other namespaces take no path. */
    spec = gen("{\"args\": [\"x\"], \"namespaces\": {\"network\": \"/run/wharf/netns/c2\"}}",
               &ctx);
    assert_string_equal(json_string_value(json_object_get(find_ns(spec, "network"), "path")),
                        "/run/wharf/netns/c2");
    json_decref(spec);
    spec = gen("{\"args\": [\"x\"], \"namespaces\": {\"network\": \"/var/lib/n/c3\"}}", NULL);
    assert_string_equal(json_string_value(json_object_get(find_ns(spec, "network"), "path")),
                        "/var/lib/n/c3");
    json_decref(spec);
    gen_fails("{\"args\": [\"x\"], \"namespaces\": {\"ipc\": \"/run/ipc\"}}", "namespaces.ipc");
    gen_fails("{\"args\": [\"x\"], \"namespaces\": {\"network\": \"rel/path\"}}",
              "namespaces.network");
}

static void test_parse_signal(void **state)
{
    (void)state;
    assert_int_equal(cri_parse_signal("SIGTERM"), SIGTERM);
    assert_int_equal(cri_parse_signal("term"), SIGTERM);
    assert_int_equal(cri_parse_signal("KILL"), SIGKILL);
    assert_int_equal(cri_parse_signal("10"), 10);
    assert_int_equal(cri_parse_signal("SIGUSR1"), SIGUSR1);
    assert_true(cri_parse_signal("0") < 0);
    assert_true(cri_parse_signal("SIGBOGUS") < 0);
    assert_true(cri_parse_signal("") < 0);
    assert_true(cri_parse_signal("9x") < 0);
}

/* ---------------------------------------------------------------- state */

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_cri.%d.XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(f->dir, &err), 0);
    free(f);
    return 0;
}

static struct cri *open_layer(const char *dir)
{
    char root[128];
    snprintf(root, sizeof(root), "%s/data", dir);
    /* No container runs in these tests: any executable stands in. */
    struct cri_options o = {.root = root, .runtime_path = "/bin/true", .shim_path = "/bin/true"};
    struct cri *cri = NULL;
    wharf_error err = {0};
    if (cri_open(&o, &cri, &err) < 0)
        fail_msg("cri_open: %s", err.msg);
    return cri;
}

static void test_state_round_trip(void **state)
{
    struct fixture *f = *state;
    wharf_error err = {0};
    struct cri *cri = open_layer(f->dir);
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", f->dir);
    assert_int_equal(wharf_mkdir_p(rootfs, 0755, &err), 0);

    json_t *sbcfg = cfg("{\"name\": \"web\", \"infra\": false, \"labels\": {\"app\": \"web\"}}");
    assert_int_equal(cri_sandbox_create(cri, "sb1", sbcfg, &err), 0);
    json_decref(sbcfg);
    assert_int_equal(cri_sandbox_create(cri, "sb1", NULL, &err), -EEXIST);
    assert_int_equal(cri_sandbox_create(cri, "../evil", NULL, &err), -EINVAL);

    const char *text = "{\"name\": \"one\", \"args\": [\"sleep\", \"1\"], \"labels\":"
                       " {\"tier\": \"front\", \"x\": \"1\"}, \"stop_signal\": \"SIGINT\"}";
    json_t *c1 = cfg(text);
    assert_int_equal(cri_container_create(cri, "c1", "sb1", rootfs, c1, &err), 0);
    json_t *c2 = cfg("{\"name\": \"two\", \"args\": [\"true\"], \"labels\": {\"tier\": \"back\"}}");
    assert_int_equal(cri_container_create(cri, "c2", "sb1", rootfs, c2, &err), 0);
    json_decref(c2);
    /* errors name the object */
    json_t *bad = cfg("{\"args\": [\"x\"], \"cap_add\": [\"NOPE\"]}");
    assert_int_equal(cri_container_create(cri, "c3", "sb1", rootfs, bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "container c3"));
    assert_int_equal(cri_container_create(cri, "c3", "nosuch", rootfs, bad, &err), -ENOENT);
    assert_int_equal(cri_container_create(cri, "c1", "sb1", rootfs, bad, &err), -EEXIST);
    assert_int_equal(cri_container_create(cri, "c3", "sb1", "relative", bad, &err), -EINVAL);
    json_decref(bad);
    /* the OCI bundle was written next to the record */
    _cleanup_free_ char *bundle = xasprintf("%s/data/containers/c1/config.json", f->dir);
    assert_int_equal(access(bundle, R_OK), 0);
    cri_close(cri);

    /* A new handle (a restarted daemon) reads the same state. */
    cri = open_layer(f->dir);
    struct cri_container_status st;
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), 0);
    assert_string_equal(st.id, "c1");
    assert_string_equal(st.sandbox_id, "sb1");
    assert_string_equal(st.name, "one");
    assert_string_equal(st.rootfs, rootfs);
    assert_int_equal(st.state, CRI_STATE_CREATED);
    assert_int_equal(st.pid, 0);
    assert_int_equal(st.start_count, 0);
    assert_true(st.created_at.tv_sec > 0);
    assert_true(json_equal(st.config, c1));
    cri_container_status_release(&st);
    json_decref(c1);

    struct cri_sandbox_status sb;
    assert_int_equal(cri_sandbox_status(cri, "sb1", &sb, &err), 0);
    assert_string_equal(sb.name, "web");
    assert_string_equal(sb.hostname, "sb1");
    assert_false(sb.infra);
    assert_true(sb.ready);
    assert_int_equal(sb.pid, 0); /* its owner c1 is not running */
    assert_null(sb.netns);
    cri_sandbox_status_release(&sb);

    /* list with filters */
    struct cri_container_status *list;
    size_t n;
    json_t *want = cfg("{\"tier\": \"front\"}");
    struct cri_filter flt = {.state = -1, .labels = want};
    assert_int_equal(cri_container_list(cri, &flt, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "c1");
    cri_container_status_array_free(list, n);
    json_decref(want);
    struct cri_filter all = {.state = -1, .sandbox_id = "sb1"};
    assert_int_equal(cri_container_list(cri, &all, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    cri_container_status_array_free(list, n);
    struct cri_filter running = {.state = CRI_STATE_RUNNING};
    assert_int_equal(cri_container_list(cri, &running, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    cri_container_status_array_free(list, n);
    struct cri_sandbox_status *sbs;
    assert_int_equal(cri_sandbox_list(cri, NULL, &sbs, &n, &err), 0);
    assert_int_equal(n, 1);
    cri_sandbox_status_array_free(sbs, n);

    /* update of a container that does not run records the resources for
     * its next start (merged: what was not given stays) */
    json_t *res = cfg("{\"memory\": 33554432, \"pids_limit\": 20}");
    assert_int_equal(cri_container_update(cri, "c1", res, &err), 0);
    json_decref(res);
    res = cfg("{\"blkio_weight\": 500, \"pids_limit\": 30}");
    assert_int_equal(cri_container_update(cri, "c1", res, &err), 0);
    json_decref(res);
    res = cfg("{\"memory\": -2}");
    assert_int_equal(cri_container_update(cri, "c1", res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "resources.memory"));
    json_decref(res);
    assert_int_equal(cri_container_update(cri, "nosuch", NULL, &err), -ENOENT);
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), 0);
    json_t *rec_res = json_object_get(st.config, "resources");
    assert_int_equal(json_integer_value(json_object_get(rec_res, "memory")), 33554432);
    assert_int_equal(json_integer_value(json_object_get(rec_res, "pids_limit")), 30);
    assert_int_equal(json_integer_value(json_object_get(rec_res, "blkio_weight")), 500);
    cri_container_status_release(&st);

    /* operations that need a running container say so */
    assert_int_equal(cri_container_kill(cri, "c1", SIGTERM, &err), -ESRCH);
    assert_non_null(strstr(err.msg, "not running"));
    assert_int_equal(cri_container_stop(cri, "c1", 1, &err), 0); /* not running: success */

    /* a half-created record is cleaned up by reconcile */
    _cleanup_free_ char *half = xasprintf("%s/data/containers/half", f->dir);
    assert_int_equal(wharf_mkdir_p(half, 0700, &err), 0);
    struct cri_reconcile_report rep;
    assert_int_equal(cri_reconcile(cri, &rep, &err), 0);
    assert_int_equal(rep.removed, 1);
    assert_int_equal(rep.running, 0);
    assert_int_equal(access(half, F_OK), -1);

    assert_int_equal(cri_container_remove(cri, "c2", false, &err), 0);
    assert_int_equal(cri_container_status(cri, "c2", &st, &err), -ENOENT);
    assert_int_equal(cri_sandbox_remove(cri, "sb1", &err), 0);
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), -ENOENT);
    assert_int_equal(cri_sandbox_status(cri, "sb1", &sb, &err), -ENOENT);
    cri_close(cri);
}

static void test_rename(void **state)
{
    struct fixture *f = *state;
    wharf_error err = {0};
    struct cri *cri = open_layer(f->dir);
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", f->dir);
    assert_int_equal(wharf_mkdir_p(rootfs, 0755, &err), 0);
    json_t *sbcfg = cfg("{\"infra\": false}");
    assert_int_equal(cri_sandbox_create(cri, "sb1", sbcfg, &err), 0);
    json_decref(sbcfg);
    json_t *c1 = cfg("{\"name\": \"old\", \"args\": [\"true\"],"
                     " \"annotations\": {\"keep\": \"1\", \"meta\": \"a\"}}");
    assert_int_equal(cri_container_create(cri, "c1", "sb1", rootfs, c1, &err), 0);
    json_decref(c1);

    json_t *ann = cfg("{\"meta\": \"b\", \"new\": \"2\"}");
    assert_int_equal(cri_container_rename(cri, "c1", "fresh", ann, &err), 0);
    json_decref(ann);
    cri_close(cri);

    /* what a restarted daemon reads back */
    cri = open_layer(f->dir);
    struct cri_container_status st;
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), 0);
    assert_string_equal(st.name, "fresh");
    json_t *a = json_object_get(st.config, "annotations");
    assert_string_equal(json_string_value(json_object_get(a, "keep")), "1");
    assert_string_equal(json_string_value(json_object_get(a, "meta")), "b");
    assert_string_equal(json_string_value(json_object_get(a, "new")), "2");
    cri_container_status_release(&st);

    /* without annotations only the name changes */
    assert_int_equal(cri_container_rename(cri, "c1", "again", NULL, &err), 0);
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), 0);
    assert_string_equal(st.name, "again");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st.config, "annotations"), "meta")), "b");
    cri_container_status_release(&st);

    /* bad input changes nothing and names what is wrong */
    assert_int_equal(cri_container_rename(cri, "c1", "", NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "container c1"));
    json_t *bad = cfg("{\"n\": 1}");
    assert_int_equal(cri_container_rename(cri, "c1", "x", bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "annotation n"));
    json_decref(bad);
    assert_int_equal(cri_container_rename(cri, "nosuch", "x", NULL, &err), -ENOENT);
    assert_int_equal(cri_container_status(cri, "c1", &st, &err), 0);
    assert_string_equal(st.name, "again");
    cri_container_status_release(&st);

    assert_int_equal(cri_sandbox_remove(cri, "sb1", &err), 0);
    cri_close(cri);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct cri *cri = NULL;
    wharf_error err = {0};
    struct cri_options rel = {.root = "relative"};
    assert_int_equal(cri_open(&rel, &cri, &err), -EINVAL);
    struct cri_options missing = {.root = "/tmp", .runtime_path = "/nonexistent/wharf-runtime"};
    assert_int_equal(cri_open(&missing, &cri, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/wharf-runtime"));
}

/* ---------------------------------------------------------------- logs */

struct collected {
    char lines[32][64];
    enum cri_stream streams[32];
    bool partial[32];
    size_t n;
    /* follow: what keep_following does */
    const char *path;
    int rounds;
};

static int collect(const struct cri_log_record *rec, void *ud)
{
    struct collected *c = ud;
    if (c->n >= 32)
        return 7;
    snprintf(c->lines[c->n], sizeof(c->lines[0]), "%.*s", (int)rec->len, rec->content);
    c->streams[c->n] = rec->stream;
    c->partial[c->n] = rec->partial;
    c->n++;
    return 0;
}

static const char log_text[] =
    "2026-01-01T00:00:01.000000000Z stdout F one\n"
    "2026-01-01T00:00:02.000000000Z stderr F two\n"
    "garbage line\n"
    "2026-01-01T00:00:03.5Z stdout P thr\n"
    "2026-01-01T00:00:03.600000000Z stdout F ee\n"
    "2026-01-01T00:00:04.000000000+01:00 stdout F early\n"
    "2026-01-01T00:00:05.000000000Z stdout F \n"
    "2026-01-01T00:00:06.000000000Z stdout F unterminated";

static char *write_log(const char *dir)
{
    char *p = xasprintf("%s/container.log", dir);
    wharf_error err = {0};
    assert_int_equal(wharf_write_file_atomic(p, log_text, strlen(log_text), 0600, &err), 0);
    return p;
}

static void test_logs_read(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *p = write_log(f->dir);
    wharf_error err = {0};
    struct collected c = {0};
    assert_int_equal(cri_log_read(p, NULL, collect, &c, &err), 0);
    /* garbage skipped; the unterminated last line is not a record yet */
    assert_int_equal(c.n, 6);
    assert_string_equal(c.lines[0], "one");
    assert_int_equal(c.streams[1], CRI_STREAM_STDERR);
    assert_string_equal(c.lines[2], "thr");
    assert_true(c.partial[2]);
    assert_false(c.partial[3]);
    assert_string_equal(c.lines[4], "early");
    assert_string_equal(c.lines[5], "");

    /* tail */
    struct cri_log_opts o = {.tail = 2};
    memset(&c, 0, sizeof(c));
    assert_int_equal(cri_log_read(p, &o, collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.lines[0], "early");
    o.tail = 0;
    memset(&c, 0, sizeof(c));
    assert_int_equal(cri_log_read(p, &o, collect, &c, &err), 0);
    assert_int_equal(c.n, 0);

    /* since: 00:00:04+01:00 is 23:00:04 the day before, so it drops out */
    struct cri_log_opts s = {.tail = -1};
    assert_int_equal(cri_parse_time("2026-01-01T00:00:02Z", 20, &s.since), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cri_log_read(p, &s, collect, &c, &err), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.lines[0], "two");
    assert_string_equal(c.lines[3], "");

    /* until + one stream */
    struct cri_log_opts u = {.tail = -1, .streams = 1u << CRI_STREAM_STDOUT};
    assert_int_equal(cri_parse_time("2026-01-01T00:00:03.5Z", 22, &u.until), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cri_log_read(p, &u, collect, &c, &err), 0);
    assert_int_equal(c.n, 3); /* one, thr, early (23:00:04 the day before) */
    assert_string_equal(c.lines[1], "thr");

    /* a callback's nonzero value stops reading and is returned */
    struct collected full = {.n = 32};
    assert_int_equal(cri_log_read(p, NULL, collect, &full, &err), 7);

    /* a missing file is empty */
    memset(&c, 0, sizeof(c));
    assert_int_equal(cri_log_read("/nonexistent/log", NULL, collect, &c, &err), 0);
    assert_int_equal(c.n, 0);
}

/* Appends on the first check, stops on the third. */
static bool append_then_stop(void *ud)
{
    struct collected *c = ud;
    c->rounds++;
    if (c->rounds == 1) {
        FILE *fp = fopen(c->path, "a");
        assert_non_null(fp);
        fputs("\n2026-01-01T00:00:07Z stderr F appended\n", fp);
        fclose(fp);
    }
    if (c->rounds == 2) {
        FILE *fp = fopen(c->path, "a");
        fputs("2026-01-01T00:00:08Z stdout F last\n", fp);
        fclose(fp);
        return false; /* written before the end: still read */
    }
    return true;
}

static void test_logs_follow(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *p = write_log(f->dir);
    wharf_error err = {0};
    struct collected c = {.path = p};
    struct cri_log_opts o = {.tail = 1, .follow = true, .keep_following = append_then_stop,
                             .poll_ms = 5};
    assert_int_equal(cri_log_read(p, &o, collect, &c, &err), 0);
    assert_int_equal(c.rounds, 2);
    /* tail 1 of what existed, then the completed line and the appended ones */
    assert_int_equal(c.n, 4);
    assert_string_equal(c.lines[0], "");
    assert_string_equal(c.lines[1], "unterminated");
    assert_string_equal(c.lines[2], "appended");
    assert_int_equal(c.streams[2], CRI_STREAM_STDERR);
    assert_string_equal(c.lines[3], "last");
}

static void test_parse_time(void **state)
{
    (void)state;
    struct timespec ts;
    assert_int_equal(cri_parse_time("1970-01-01T00:00:10.5Z", 22, &ts), 0);
    assert_int_equal(ts.tv_sec, 10);
    assert_int_equal(ts.tv_nsec, 500000000);
    assert_int_equal(cri_parse_time("1970-01-01T01:00:00+01:00", 25, &ts), 0);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(cri_parse_time("1970-01-01T00:00:00", 19, &ts), -EINVAL);
    assert_int_equal(cri_parse_time("1970-13-01T00:00:00Z", 20, &ts), -EINVAL);
    assert_int_equal(cri_parse_time("1970-01-01T00:00:00.Z", 21, &ts), -EINVAL);
    assert_int_equal(cri_parse_time("1970-01-01T00:00:00Zjunk", 24, &ts), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_caps),
        cmocka_unit_test(test_spec_privileged),
        cmocka_unit_test(test_spec_mounts),
        cmocka_unit_test(test_spec_resources),
        cmocka_unit_test(test_spec_user_env_args),
        cmocka_unit_test(test_spec_namespaces),
        cmocka_unit_test(test_parse_signal),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_follow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
