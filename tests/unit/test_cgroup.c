/* Unit tests of the cgroup module: path resolution, creation on every
 * hierarchy, resources read back from the files, limits that really bite
 * (pids, memory/OOM, devices), the freezer, listing/killing members, bad
 * input and removal. Runs as root; everything lives under
 * /wharf-unit-<pid>/ and is removed by the per-test teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* ------------------------------------------------------------ helpers */

static char base[64]; /* "/wharf-unit-PID" */
static pid_t children[16];
static size_t nchildren;

static char *sub(const char *leaf)
{
    return xasprintf("%s/%s", base, leaf);
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, je.text);
    return j;
}

static bool dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *read_str(const char *dir, const char *file)
{
    char *s = NULL;
    wharf_error err = {0};
    if (cgroup_read(dir, file, &s, &err) < 0)
        fail_msg("%s", err.msg);
    return s;
}

static char *v1dir(const char *controller, const char *path)
{
    const struct cgroup_hierarchy *h = cgroup_host_v1_find(controller);
    return h ? cgroup_dir_on(h, path) : NULL;
}

static char *v2dir(const char *path)
{
    const struct cgroup_host *host = cgroup_host_get();
    return host->v2 ? cgroup_dir_on(host->v2, path) : NULL;
}

/* A child that runs commands sent over a pipe and answers with one int:
 *   'n' / 'z': open /dev/null / /dev/zero read-write (0 or errno)
 *   'f': fork 10 sleepers, count the successes, reap them
 *   'm': allocate and touch 512 MiB (expects to be OOM-killed)
 *   'q': exit */
struct child {
    pid_t pid;
    int cmd, reply;
};

static int child_open(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int child_forks(void)
{
    int ok = 0;
    pid_t kids[10];
    int p[2];
    if (pipe(p) < 0)
        return -1;
    for (int i = 0; i < 10; i++) {
        pid_t k = fork();
        if (k == 0) {
            char c;
            close(p[1]);
            (void)!read(p[0], &c, 1);
            _exit(0);
        }
        if (k > 0)
            kids[ok++] = k;
    }
    close(p[1]);
    close(p[0]);
    for (int i = 0; i < ok; i++)
        waitpid(kids[i], NULL, 0);
    return ok;
}

static int child_hog(void)
{
    size_t len = 512UL << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return errno;
    for (size_t i = 0; i < len; i += 4096)
        m[i] = 1;
    return 0; /* not killed: the limit did not bite */
}

static struct child spawn(void)
{
    int to[2], from[2];
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        char c;
        while (read(to[0], &c, 1) == 1) {
            int res = c == 'n'   ? child_open("/dev/null")
                      : c == 'z' ? child_open("/dev/zero")
                      : c == 'f' ? child_forks()
                      : c == 'm' ? child_hog()
                                 : -1;
            if (c == 'q')
                break;
            if (write(from[1], &res, sizeof(res)) != sizeof(res))
                break;
        }
        _exit(0);
    }
    close(to[0]);
    close(from[1]);
    children[nchildren++] = pid;
    return (struct child){pid, to[1], from[0]};
}

/* Sends cmd; returns the answer, or INT32_MIN when the child died. */
static int ask(struct child *c, char cmd)
{
    int res;
    if (write(c->cmd, &cmd, 1) != 1)
        return INT32_MIN;
    if (read(c->reply, &res, sizeof(res)) != sizeof(res))
        return INT32_MIN;
    return res;
}

/* Waits up to timeout_ms for c to exit; returns the wait status or -1. */
static int reap(struct child *c, long timeout_ms)
{
    for (long t = 0; t <= timeout_ms; t += 10) {
        int st;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            for (size_t i = 0; i < nchildren; i++)
                if (children[i] == c->pid)
                    children[i] = 0;
            close(c->cmd);
            close(c->reply);
            return st;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static struct cgroup *make(const char *leaf)
{
    _cleanup_free_ char *p = sub(leaf);
    struct cgroup *cg = NULL;
    wharf_error err = {0};
    if (cgroup_create(p, "unused", false, &cg, &err) < 0)
        fail_msg("cgroup_create: %s", err.msg);
    return cg;
}

static void apply_ok(struct cgroup *cg, const char *resources)
{
    json_t *j = parse(resources);
    wharf_error err = {0};
    int r = cgroup_apply_resources(cg, j, &err);
    json_decref(j);
    if (r < 0)
        fail_msg("apply %s: %s", resources, err.msg);
}

static void enter_ok(struct cgroup *cg, pid_t pid)
{
    wharf_error err = {0};
    if (cgroup_enter(cg, pid, &err) < 0)
        fail_msg("enter: %s", err.msg);
}

/* Kills what a failed test left behind and removes /wharf-unit-PID everywhere. */
static int cleanup(void **state)
{
    (void)state;
    for (size_t i = 0; i < nchildren; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
        }
    }
    nchildren = 0;
    struct cgroup *cg = NULL;
    wharf_error err = {0};
    if (cgroup_open(base, &cg, &err) == 0) {
        cgroup_kill_all(cg, SIGKILL, &err);
        if (cgroup_destroy(cg, &err) < 0)
            fprintf(stderr, "cleanup: %s\n", err.msg);
        cgroup_free(cg);
    }
    return 0;
}

/* ------------------------------------------------------------ tests */

static void test_layout(void **state)
{
    (void)state;
    struct statfs sfs;
    assert_int_equal(statfs("/sys/fs/cgroup", &sfs), 0);
    enum cgroup_layout want = CGROUP_LAYOUT_V1;
    if ((unsigned long)sfs.f_type == CGROUP2_SUPER_MAGIC)
        want = CGROUP_LAYOUT_V2;
    else if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 &&
             (unsigned long)sfs.f_type == CGROUP2_SUPER_MAGIC)
        want = CGROUP_LAYOUT_HYBRID;
    assert_int_equal(cgroup_host_layout(), want);
    assert_string_equal(cgroup_layout_name(CGROUP_LAYOUT_HYBRID), "hybrid");
    const struct cgroup_host *h = cgroup_host_get();
    if (want != CGROUP_LAYOUT_V2)
        assert_true(h->n_v1 > 0);
    if (want != CGROUP_LAYOUT_V1)
        assert_non_null(h->v2);
    /* Co-mounted controllers are one hierarchy, found by either name. */
    for (size_t i = 0; i < h->n_v1; i++)
        for (size_t j = i + 1; j < h->n_v1; j++)
            assert_string_not_equal(h->v1[i].controllers, h->v1[j].controllers);
    if (cgroup_host_v1_find("cpu") && cgroup_hierarchy_has(cgroup_host_v1_find("cpu"), "cpuacct"))
        assert_ptr_equal(cgroup_host_v1_find("cpu"), cgroup_host_v1_find("cpuacct"));
}

static void expect_path(const char *in, const char *id, bool systemd, const char *want)
{
    char *out = NULL;
    wharf_error err = {0};
    if (cgroup_resolve_path(in, id, systemd, &out, &err) < 0)
        fail_msg("resolve '%s': %s", in, err.msg);
    assert_string_equal(out, want);
    free(out);
}

static void expect_bad_path(const char *in, bool systemd)
{
    char *out = NULL;
    wharf_error err = {0};
    assert_int_equal(cgroup_resolve_path(in, "id", systemd, &out, &err), -EINVAL);
    assert_null(out);
    assert_true(strlen(err.msg) > 0);
}

static void test_resolve_paths(void **state)
{
    (void)state;
    expect_path("/wharf/abc", "x", false, "/wharf/abc");
    expect_path("//a/./b//c/", "x", false, "/a/b/c");
    expect_path("", "c1", false, "/wharf/c1");
    expect_path(NULL, "c1", false, "/wharf/c1");
    expect_bad_path("/a/../b", false);
    expect_bad_path("/", false);

    /* Relative: below our own cgroup (the name=systemd or v2 entry). */
    _cleanup_free_ char *self = NULL;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file("/proc/self/cgroup", &self, NULL, &err), 0);
    const char *key = cgroup_host_layout() == CGROUP_LAYOUT_V2 ? "0::" : ":name=systemd:";
    char *line = strstr(self, key);
    if (!line && cgroup_host_layout() != CGROUP_LAYOUT_V2)
        line = strstr(self, "0::"), key = "0::";
    assert_non_null(line);
    char own[1024];
    sscanf(line + strlen(key), "%1023[^\n]", own);
    const char *prefix = strcmp(own, "/") == 0 ? "" : own;
    _cleanup_free_ char *want = xasprintf("%s/rel/x", prefix);
    expect_path("rel/x", "id", false, want);

    /* systemd naming */
    expect_path("system.slice:docker:abc", "id", true, "/system.slice/docker-abc.scope");
    expect_path("a-b-c.slice:pfx:n1", "id", true, "/a.slice/a-b.slice/a-b-c.slice/pfx-n1.scope");
    expect_path("-.slice:p:n", "id", true, "/p-n.scope");
    expect_path(":p:n", "id", true, "/system.slice/p-n.scope");
    expect_path("", "c9", true, "/system.slice/wharf-c9.scope");
    expect_path("user.slice::n", "id", true, "/user.slice/n.scope");
    expect_bad_path("not-a-triple", true);
    expect_bad_path("a:b:c:d", true);
    expect_bad_path("a--b.slice:p:n", true);
    expect_bad_path("-a.slice:p:n", true);
    expect_bad_path("noslice:p:n", true);
    expect_bad_path("x.slice:p:n/../../etc", true);

    char *s = NULL;
    assert_int_equal(cgroup_expand_slice("-.slice", &s, &err), 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_create_resources_stats_kill(void **state)
{
    (void)state;
    struct cgroup *cg = make("c1");
    _cleanup_free_ char *path = sub("c1");
    assert_string_equal(cgroup_path(cg), path);

    const struct cgroup_host *host = cgroup_host_get();
    for (size_t i = 0; i < host->n_v1; i++) {
        _cleanup_free_ char *d = cgroup_dir_on(&host->v1[i], path);
        assert_true(dir_exists(d));
    }
    _cleanup_free_ char *u = v2dir(path);
    if (u)
        assert_true(dir_exists(u));
    _cleanup_free_ char *cs = v1dir("cpuset", path);
    if (cs) {
        _cleanup_free_ char *cpus = read_str(cs, "cpuset.cpus");
        assert_true(strlen(cpus) > 0);
    }
    /* Creating again reuses the directories. */
    struct cgroup *again = make("c1");
    cgroup_free(again);

    struct child c = spawn();
    enter_ok(cg, c.pid);
    _cleanup_free_ char *procfile = xasprintf("/proc/%d/cgroup", (int)c.pid);
    _cleanup_free_ char *pc = NULL;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file(procfile, &pc, NULL, &err), 0);
    _cleanup_free_ char *memline = xasprintf(":memory:%s\n", path);
    _cleanup_free_ char *v2line = xasprintf("0::%s\n", path);
    if (cgroup_host_v1_find("memory"))
        assert_non_null(strstr(pc, memline));
    if (u)
        assert_non_null(strstr(pc, v2line));

    apply_ok(cg, "{\"memory\":{\"limit\":67108864,\"swap\":67108864,\"reservation\":33554432},"
                 "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000},"
                 "\"pids\":{\"limit\":20}}");
    if (cgroup_host_layout() != CGROUP_LAYOUT_V2) {
        _cleanup_free_ char *md = v1dir("memory", path), *cd = v1dir("cpu", path),
                            *pd = v1dir("pids", path);
        _cleanup_free_ char *lim = read_str(md, "memory.limit_in_bytes");
        _cleanup_free_ char *soft = read_str(md, "memory.soft_limit_in_bytes");
        _cleanup_free_ char *quota = read_str(cd, "cpu.cfs_quota_us");
        _cleanup_free_ char *period = read_str(cd, "cpu.cfs_period_us");
        _cleanup_free_ char *shares = read_str(cd, "cpu.shares");
        _cleanup_free_ char *pmax = read_str(pd, "pids.max");
        assert_string_equal(lim, "67108864");
        assert_string_equal(soft, "33554432");
        assert_string_equal(quota, "50000");
        assert_string_equal(period, "100000");
        assert_string_equal(shares, "512");
        assert_string_equal(pmax, "20");

        /* Raising and then lowering memory+swap both work (write order). */
        apply_ok(cg, "{\"memory\":{\"limit\":134217728,\"swap\":268435456}}");
        _cleanup_free_ char *l2 = read_str(md, "memory.limit_in_bytes");
        assert_string_equal(l2, "134217728");
        if (cgroup_file_exists(md, "memory.memsw.limit_in_bytes")) {
            _cleanup_free_ char *s2 = read_str(md, "memory.memsw.limit_in_bytes");
            assert_string_equal(s2, "268435456");
        }
        apply_ok(cg, "{\"memory\":{\"limit\":41943040,\"swap\":41943040}}");
        _cleanup_free_ char *l3 = read_str(md, "memory.limit_in_bytes");
        assert_string_equal(l3, "41943040");
        /* docker's --blkio-weight: the bfq scheduler's file where the legacy one is gone */
        _cleanup_free_ char *bd = v1dir("blkio", path);
        if (bd && (cgroup_file_exists(bd, "blkio.weight") ||
                   cgroup_file_exists(bd, "blkio.bfq.weight"))) {
            apply_ok(cg, "{\"blockIO\":{\"weight\":300}}");
            _cleanup_free_ char *bw = read_str(
                bd, cgroup_file_exists(bd, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight");
            assert_non_null(strstr(bw, "300"));
        }
        apply_ok(cg, "{\"pids\":{\"limit\":-1},\"cpu\":{\"quota\":-1}}");
        _cleanup_free_ char *pmax2 = read_str(pd, "pids.max");
        _cleanup_free_ char *q2 = read_str(cd, "cpu.cfs_quota_us");
        assert_string_equal(pmax2, "max");
        assert_string_equal(q2, "-1");
    } else {
        _cleanup_free_ char *mmax = read_str(u, "memory.max");
        _cleanup_free_ char *cmax = read_str(u, "cpu.max");
        _cleanup_free_ char *weight = read_str(u, "cpu.weight");
        _cleanup_free_ char *pmax = read_str(u, "pids.max");
        assert_string_equal(mmax, "67108864");
        assert_string_equal(cmax, "50000 100000");
        assert_string_equal(weight, "20"); /* 1 + (510 * 9999) / 262142 */
        assert_string_equal(pmax, "20");
    }

    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(cgroup_pids(cg, &pids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], c.pid);
    free(pids);

    json_t *st = cgroup_stats(cg, &err);
    if (!st)
        fail_msg("stats: %s", err.msg);
    assert_true(json_is_integer(
        json_object_get(json_object_get(json_object_get(st, "memory"), "usage"), "usage")));
    assert_true(json_integer_value(json_object_get(json_object_get(st, "pids"), "current")) >= 1);
    assert_non_null(json_object_get(json_object_get(st, "cpu"), "usage"));
    /* block I/O is a list per device (possibly empty: nothing was read) */
    assert_true(
        json_is_array(json_object_get(json_object_get(st, "blkio"), "ioServiceBytesRecursive")));
    json_decref(st);

    assert_int_equal(cgroup_kill_all(cg, SIGKILL, &err), 0);
    int status = reap(&c, 5000);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    assert_int_equal(cgroup_destroy(cg, &err), 0);
    for (size_t i = 0; i < host->n_v1; i++) {
        _cleanup_free_ char *d = cgroup_dir_on(&host->v1[i], path);
        assert_false(dir_exists(d));
    }
    if (u)
        assert_false(dir_exists(u));
    /* Removing a missing cgroup is fine; opening it is not. */
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    struct cgroup *gone = NULL;
    assert_int_equal(cgroup_open(path, &gone, &err), -ENOENT);
    cgroup_free(cg);
}

static void test_pids_limit_bites(void **state)
{
    (void)state;
    struct cgroup *cg = make("pids");
    struct child c = spawn();
    enter_ok(cg, c.pid);
    apply_ok(cg, "{\"pids\":{\"limit\":4}}");
    int forked = ask(&c, 'f');
    /* The child itself counts, so at most 3 of its 10 forks succeed. */
    assert_true(forked >= 0 && forked <= 3);
    apply_ok(cg, "{\"pids\":{\"limit\":0}}");
    assert_int_equal(ask(&c, 'f'), 10);
    ask(&c, 'q');
    assert_true(reap(&c, 5000) != -1);
    wharf_error err = {0};
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

static void test_freeze_thaw(void **state)
{
    (void)state;
    struct cgroup *cg = make("frz");
    struct child c = spawn();
    enter_ok(cg, c.pid);
    wharf_error err = {0};
    assert_int_equal(cgroup_is_frozen(cg, &err), 0);
    if (cgroup_freeze(cg, true, &err) < 0)
        fail_msg("freeze: %s", err.msg);
    assert_int_equal(cgroup_is_frozen(cg, &err), 1);
    _cleanup_free_ char *fd = v1dir("freezer", cgroup_path(cg));
    if (fd) {
        _cleanup_free_ char *s = read_str(fd, "freezer.state");
        assert_string_equal(s, "FROZEN");
    }
    /* A frozen child cannot answer; after the thaw it does. */
    char cmd = 'n';
    assert_int_equal(write(c.cmd, &cmd, 1), 1);
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    int flags = fcntl(c.reply, F_GETFL);
    fcntl(c.reply, F_SETFL, flags | O_NONBLOCK);
    int res;
    assert_int_equal(read(c.reply, &res, sizeof(res)), -1);
    assert_int_equal(errno, EAGAIN);
    fcntl(c.reply, F_SETFL, flags);
    assert_int_equal(cgroup_freeze(cg, false, &err), 0);
    assert_int_equal(cgroup_is_frozen(cg, &err), 0);
    assert_int_equal(read(c.reply, &res, sizeof(res)), (ssize_t)sizeof(res));

    /* SIGKILL reaches a frozen cgroup too. */
    assert_int_equal(cgroup_freeze(cg, true, &err), 0);
    assert_int_equal(cgroup_kill_all(cg, SIGKILL, &err), 0);
    int status = reap(&c, 5000);
    assert_true(status != -1 && WIFSIGNALED(status));
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

static void test_kill_all_other_signal(void **state)
{
    (void)state;
    struct cgroup *cg = make("term");
    struct child c = spawn();
    enter_ok(cg, c.pid);
    wharf_error err = {0};
    assert_int_equal(cgroup_kill_all(cg, SIGTERM, &err), 0);
    int status = reap(&c, 5000);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    /* The freezer used for the snapshot is released again. */
    assert_int_equal(cgroup_is_frozen(cg, &err), 0);
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

static void test_oom_kill_counted(void **state)
{
    (void)state;
    struct cgroup *cg = make("oom");
    apply_ok(cg, "{\"memory\":{\"limit\":33554432,\"swap\":33554432}}");
    struct child c = spawn();
    enter_ok(cg, c.pid);

    char *dir = NULL;
    wharf_error err = {0};
    if (cgroup_memory_dir_of_pid(c.pid, &dir, &err) < 0)
        fail_msg("memory dir: %s", err.msg);
    _cleanup_free_ char *want = cgroup_host_layout() == CGROUP_LAYOUT_V2
                                    ? v2dir(cgroup_path(cg))
                                    : v1dir("memory", cgroup_path(cg));
    assert_string_equal(dir, want);
    uint64_t before = 99;
    assert_int_equal(cgroup_oom_kills_of_pid(c.pid, &before, &err), 0);
    assert_int_equal(before, 0);

    assert_int_equal(ask(&c, 'm'), INT32_MIN); /* died instead of answering */
    int status = reap(&c, 10000);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint64_t kills = 0;
    if (cgroup_oom_kills_in_dir(dir, &kills, &err) < 0)
        fail_msg("oom count: %s", err.msg);
    assert_true(kills >= 1);
    free(dir);

    assert_int_equal(cgroup_oom_kills_in_dir("/nonexistent-wharf", &kills, &err), -ENOENT);
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

/* Number of programs attached directly to a v2 directory. */
static int attached_programs(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint32_t ids[16];
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.query.target_fd = (uint32_t)fd;
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = (uint64_t)(uintptr_t)ids;
    a.query.prog_cnt = 16;
    int r = (int)syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a));
    close(fd);
    assert_int_equal(r, 0);
    return (int)a.query.prog_cnt;
}

static void test_devices(void **state)
{
    (void)state;
    struct cgroup *cg = make("dev");
    struct child c = spawn();
    enter_ok(cg, c.pid);
    assert_int_equal(ask(&c, 'n'), 0);

    const char *deny_null = "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,"
                            "\"access\":\"rwm\"}]}";
    const char *allow_null = "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
                             "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
                             "\"access\":\"rwm\"}]}";
    const char *allow_all_but_null = "{\"devices\":[{\"allow\":true,\"type\":\"a\"},"
                                     "{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":3,"
                                     "\"access\":\"rwm\"}]}";
    apply_ok(cg, deny_null);
    assert_int_equal(ask(&c, 'n'), EPERM);
    assert_int_equal(ask(&c, 'z'), 0);
    apply_ok(cg, allow_null);
    assert_int_equal(ask(&c, 'n'), 0);
    assert_int_equal(ask(&c, 'z'), EPERM);
    apply_ok(cg, allow_all_but_null);
    assert_int_equal(ask(&c, 'n'), EPERM);
    assert_int_equal(ask(&c, 'z'), 0);

    _cleanup_free_ char *u = v2dir(cgroup_path(cg));
    _cleanup_free_ char *dv = v1dir("devices", cgroup_path(cg));
    if (u) {
        /* Updates replace our program instead of stacking another. */
        assert_int_equal(attached_programs(u), 1);
        /* With the v1 list opened up, the eBPF program alone still denies. */
        if (dv && cgroup_host_layout() == CGROUP_LAYOUT_HYBRID) {
            wharf_error err = {0};
            assert_int_equal(cgroup_write(dv, "devices.allow", "a", &err), 0);
            assert_int_equal(ask(&c, 'n'), EPERM);
            assert_int_equal(ask(&c, 'z'), 0);
        }
    }
    if (dv && cgroup_host_layout() != CGROUP_LAYOUT_V2) {
        /* And the v1 list alone denies once the program allows everything. */
        apply_ok(cg, deny_null);
        _cleanup_free_ char *list = read_str(dv, "devices.list");
        assert_string_equal(list, "c 1:5 rwm");
        if (u) {
            struct cgroup_dev_rule all = {true, 'a', -1, -1, 7};
            wharf_error err = {0};
            assert_int_equal(cgroup_devices_bpf_apply(u, &all, 1, &err), 0);
        }
        assert_int_equal(ask(&c, 'n'), EPERM);
        assert_int_equal(ask(&c, 'z'), 0);
    }
    ask(&c, 'q');
    assert_true(reap(&c, 5000) != -1);
    wharf_error err = {0};
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

static void test_device_rule_semantics(void **state)
{
    (void)state;
    json_t *j =
        parse("[{\"allow\":false},"
              "{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rw\"},"
              "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"r\"},"
              "{\"allow\":false,\"type\":\"c\",\"major\":136,\"minor\":7,\"access\":\"w\"}]");
    struct cgroup_dev_rule *rules = NULL;
    size_t n = 0;
    wharf_error err = {0};
    assert_int_equal(cgroup_parse_devices(j, "linux.resources.devices", &rules, &n, &err), 0);
    json_decref(j);
    assert_int_equal(n, 4);
    assert_int_equal(rules[0].type, 'a');
    assert_int_equal(rules[0].access, 7);
    assert_int_equal(rules[1].minor, -1);
    enum { R = CGROUP_DEV_READ, W = CGROUP_DEV_WRITE, M = CGROUP_DEV_MKNOD };
    assert_true(cgroup_dev_rules_allow(rules, n, 'c', 136, 3, R | W));
    assert_false(cgroup_dev_rules_allow(rules, n, 'c', 136, 3, M));
    assert_true(cgroup_dev_rules_allow(rules, n, 'c', 136, 7, R));
    assert_false(cgroup_dev_rules_allow(rules, n, 'c', 136, 7, R | W));
    assert_true(cgroup_dev_rules_allow(rules, n, 'b', 8, 0, R));
    assert_false(cgroup_dev_rules_allow(rules, n, 'b', 8, 0, W));
    assert_false(cgroup_dev_rules_allow(rules, n, 'c', 8, 0, R));
    char buf[64];
    assert_string_equal(cgroup_dev_rule_v1(&rules[1], buf, sizeof(buf)), "c 136:* rw");
    assert_string_equal(cgroup_dev_rule_v1(&rules[0], buf, sizeof(buf)), "a");
    free(rules);
}

static void expect_apply_error(struct cgroup *cg, const char *resources, const char *needle)
{
    json_t *j = parse(resources);
    wharf_error err = {0};
    int r = cgroup_apply_resources(cg, j, &err);
    json_decref(j);
    assert_true(r < 0);
    if (!strstr(err.msg, needle))
        fail_msg("error for %s does not name %s: %s", resources, needle, err.msg);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct cgroup *cg = make("bad");
    expect_apply_error(cg, "{\"memory\":{\"limit\":\"lots\"}}", "linux.resources.memory.limit");
    expect_apply_error(cg, "{\"memory\":{\"limit\":-5}}", "linux.resources.memory.limit");
    expect_apply_error(cg, "{\"memory\":{\"swappiness\":200}}",
                       "linux.resources.memory.swappiness");
    expect_apply_error(cg, "{\"cpu\":{\"shares\":-1}}", "linux.resources.cpu.shares");
    expect_apply_error(cg, "{\"pids\":{}}", "linux.resources.pids.limit");
    expect_apply_error(cg, "{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}",
                       "linux.resources.devices[0].type");
    expect_apply_error(cg, "{\"devices\":[{\"allow\":true},{\"type\":\"c\"}]}",
                       "linux.resources.devices[1].allow");
    expect_apply_error(cg, "{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}",
                       "linux.resources.devices[0].access");
    expect_apply_error(cg, "{\"devices\":{}}", "linux.resources.devices");
    expect_apply_error(cg, "{\"cpu\":{\"cpus\":\"9999\"}}", "linux.resources.cpu.cpus");
    expect_apply_error(cg, "{\"hugepageLimits\":[{\"pageSize\":\"3MB\",\"limit\":1}]}",
                       "linux.resources.hugepageLimits");
    if (cgroup_host_get()->v2) {
        expect_apply_error(cg, "{\"unified\":{\"no.such.file\":\"1\"}}",
                           "linux.resources.unified.no.such.file");
        expect_apply_error(cg, "{\"unified\":{\"../x\":\"1\"}}", "linux.resources.unified.../x");
    }
    if (!cgroup_host_v1_find("net_cls"))
        expect_apply_error(cg, "{\"network\":{\"classID\":1}}", "linux.resources.network");
    wharf_error err = {0};
    assert_int_equal(cgroup_apply_resources(cg, NULL, &err), 0);
    /* The unified map on a hybrid host writes v2 core files. */
    if (cgroup_host_get()->v2) {
        apply_ok(cg, "{\"unified\":{\"cgroup.max.descendants\":\"7\"}}");
        _cleanup_free_ char *u = v2dir(cgroup_path(cg));
        _cleanup_free_ char *v = read_str(u, "cgroup.max.descendants");
        assert_string_equal(v, "7");
    }

    struct cgroup *x = NULL;
    assert_int_equal(cgroup_open("relative", &x, &err), -EINVAL);
    assert_int_equal(cgroup_open("/a/../b", &x, &err), -EINVAL);
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_free(cg);
}

static void test_destroy_nested(void **state)
{
    (void)state;
    struct cgroup *cg = make("nest");
    struct cgroup *inner = make("nest/a/b");
    cgroup_free(inner);
    struct cgroup *opened = NULL;
    wharf_error err = {0};
    _cleanup_free_ char *p = sub("nest");
    assert_int_equal(cgroup_open(p, &opened, &err), 0);
    assert_string_equal(cgroup_path(opened), p);
    assert_int_equal(cgroup_destroy(opened, &err), 0);
    _cleanup_free_ char *md = v1dir("memory", p);
    _cleanup_free_ char *u = v2dir(p);
    if (md)
        assert_false(dir_exists(md));
    if (u)
        assert_false(dir_exists(u));
    /* The shared parent is left alone. */
    _cleanup_free_ char *parent = md ? v1dir("memory", base) : v2dir(base);
    assert_true(dir_exists(parent));
    cgroup_free(opened);
    cgroup_free(cg);
}

/* The v2 writers cannot meet a real v2 memory/cpu controller on a hybrid
 * host, so check their conversions against plain files in a temp dir. */
static char *fake_v2_dir(void)
{
    char tmpl[] = "/tmp/wharf-cg2-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    static const char *const files[] = {"memory.max",  "memory.swap.max", "memory.low",
                                        "cpu.weight",  "cpu.max",         "cpu.max.burst",
                                        "pids.max",    "io.weight",       "io.max",
                                        "cpuset.cpus", "hugetlb.2MB.max"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        _cleanup_free_ char *f = xasprintf("%s/%s", tmpl, files[i]);
        int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    return xstrdup(tmpl);
}

/* The v2 writers take parsed sections; the tests hold whole resources objects. */
static int v2_apply_json(const char *dir, json_t *res, wharf_error *err)
{
    struct cgroup_resources sections;
    int r = cgroup_resources_parse(res, &sections, err);
    return r < 0 ? r : cgroup_v2_apply(dir, &sections, err);
}

static void check_v2(const char *resources, const char *file, const char *want)
{
    char *dir = fake_v2_dir();
    json_t *j = parse(resources);
    wharf_error err = {0};
    int r = v2_apply_json(dir, j, &err);
    json_decref(j);
    char *got = NULL;
    if (r == 0)
        r = cgroup_read(dir, file, &got, &err);
    wharf_rm_rf(dir, NULL);
    free(dir);
    if (r < 0)
        fail_msg("%s: %s", resources, err.msg);
    if (strcmp(got, want) != 0)
        fail_msg("%s: %s is '%s', want '%s'", resources, file, got, want);
    free(got);
}

static void test_v2_conversions(void **state)
{
    (void)state;
    check_v2("{\"memory\":{\"limit\":1048576}}", "memory.max", "1048576");
    check_v2("{\"memory\":{\"limit\":-1}}", "memory.max", "max");
    check_v2("{\"memory\":{\"limit\":-1}}", "memory.swap.max", "max");
    check_v2("{\"memory\":{\"limit\":1000,\"swap\":3000}}", "memory.swap.max", "2000");
    check_v2("{\"memory\":{\"reservation\":512}}", "memory.low", "512");
    check_v2("{\"cpu\":{\"shares\":1024}}", "cpu.weight", "39");
    check_v2("{\"cpu\":{\"shares\":2}}", "cpu.weight", "1");
    check_v2("{\"cpu\":{\"shares\":262144}}", "cpu.weight", "10000");
    check_v2("{\"cpu\":{\"quota\":20000,\"period\":100000}}", "cpu.max", "20000 100000");
    check_v2("{\"cpu\":{\"quota\":-1,\"period\":50000}}", "cpu.max", "max 50000");
    check_v2("{\"cpu\":{\"quota\":30000}}", "cpu.max", "30000");
    check_v2("{\"cpu\":{\"burst\":1000}}", "cpu.max.burst", "1000");
    check_v2("{\"cpu\":{\"cpus\":\"0\"}}", "cpuset.cpus", "0");
    check_v2("{\"pids\":{\"limit\":0}}", "pids.max", "max");
    check_v2("{\"pids\":{\"limit\":-1}}", "pids.max", "max");
    check_v2("{\"pids\":{\"limit\":7}}", "pids.max", "7");
    check_v2("{\"blockIO\":{\"weight\":500}}", "io.weight", "default 4950");
    check_v2("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,"
             "\"rate\":1048576}]}}",
             "io.max", "8:0 rbps=1048576");
    check_v2("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}]}", "hugetlb.2MB.max",
             "4194304");

    char *dir = fake_v2_dir();
    wharf_error err = {0};
    json_t *j = parse("{\"memory\":{\"limit\":4000,\"swap\":1000}}");
    assert_true(v2_apply_json(dir, j, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.memory.swap"));
    json_decref(j);
    j = parse("{\"cpu\":{\"realtimeRuntime\":1000}}");
    assert_true(v2_apply_json(dir, j, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.realtimeRuntime"));
    json_decref(j);
    j = parse("{\"rdma\":{\"mlx\":{\"hcaHandles\":1}}}");
    assert_true(v2_apply_json(dir, j, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.rdma.mlx"));
    json_decref(j);
    wharf_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_cgroup needs root; skipping\n");
        return 77;
    }
    snprintf(base, sizeof(base), "/wharf-unit-%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_resolve_paths),
        cmocka_unit_test(test_device_rule_semantics),
        cmocka_unit_test(test_v2_conversions),
        cmocka_unit_test_teardown(test_create_resources_stats_kill, cleanup),
        cmocka_unit_test_teardown(test_pids_limit_bites, cleanup),
        cmocka_unit_test_teardown(test_freeze_thaw, cleanup),
        cmocka_unit_test_teardown(test_kill_all_other_signal, cleanup),
        cmocka_unit_test_teardown(test_oom_kill_counted, cleanup),
        cmocka_unit_test_teardown(test_devices, cleanup),
        cmocka_unit_test_teardown(test_bad_input, cleanup),
        cmocka_unit_test_teardown(test_destroy_nested, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
