/* Unit tests of the rootfs module: rootfs_validate's error messages, and
 * rootfs_prepare/rootfs_finalize run for real on a busybox rootfs inside a
 * private mount + pid namespace (a forked child), checked from inside the
 * new root and, afterwards, from the host that nothing leaked out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

/* ------------------------------------------------------------ fixture */

struct fixture {
    char *dir;    /* private temp dir, removed in teardown */
    char *bundle; /* dir/bundle */
    char *rootfs; /* dir/bundle/rootfs */
    int pid;
};

static struct fixture fx;

static void write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(wharf_write_all(fd, content, strlen(content)), 0);
    close(fd);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    wharf_error err = {0};
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    assert_int_equal(wharf_read_file(from, &data, &len, &err), 0);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(wharf_write_all(fd, data, len), 0);
    close(fd);
}

static void fmkdir(const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", fx.dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void fwrite_rel(const char *rel, const char *content)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", fx.dir, rel);
    write_file(p, content);
}

static void fsymlink(const char *target, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", fx.dir, rel);
    assert_int_equal(symlink(target, p), 0);
}

/* A busybox rootfs plus the files the checks look at. */
static int setup(void **state)
{
    (void)state;
    fx.pid = (int)getpid();
    _cleanup_free_ char *tmpl = xasprintf("/tmp/wharf-rootfs-%d-XXXXXX", fx.pid);
    assert_non_null(mkdtemp(tmpl));
    fx.dir = xstrdup(tmpl);
    fx.bundle = xasprintf("%s/bundle", fx.dir);
    fx.rootfs = xasprintf("%s/bundle/rootfs", fx.dir);
    fmkdir("bundle");
    fmkdir("bundle/rootfs");
    static const char *const dirs[] = {"bin", "etc", "proc", "sys", "tmp", "secretdir", "mnt"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        _cleanup_free_ char *d = xasprintf("bundle/rootfs/%s", dirs[i]);
        fmkdir(d);
    }
    _cleanup_free_ char *bb = xasprintf("%s/bin/busybox", fx.rootfs);
    copy_file("/bin/busybox", bb, 0755);
    static const char *const applets[] = {"sh", "cat", "ls", "test", "echo"};
    for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
        _cleanup_free_ char *l = xasprintf("bundle/rootfs/bin/%s", applets[i]);
        fsymlink("busybox", l);
    }
    fwrite_rel("bundle/rootfs/rootfs-marker", "inside\n");
    fwrite_rel("bundle/rootfs/secret.txt", "topsecret\n");
    fwrite_rel("bundle/rootfs/secretdir/inner.txt", "hidden\n");
    /* Symlinks that would leave the rootfs if followed on the host. */
    fsymlink("/etc", "bundle/rootfs/evil");
    fsymlink("../../../../../../../../../etc", "bundle/rootfs/up");
    fwrite_rel("bundle/data.txt", "hello from bundle\n");
    fmkdir("bundle/shared");
    fmkdir("bundle/shared/rodir");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(fx.dir, &err), 0);
    free(fx.dir);
    free(fx.bundle);
    free(fx.rootfs);
    fx = (struct fixture){0};
    return 0;
}

static json_t *load_spec(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON at line %d: %s", je.line, je.text);
    return j;
}

/* Nothing of the test directory may be mounted in the host's namespace. */
static void assert_no_host_mounts(void)
{
    wharf_error err = {0};
    _cleanup_free_ char *mi = NULL;
    assert_int_equal(wharf_read_file("/proc/self/mountinfo", &mi, NULL, &err), 0);
    assert_null(strstr(mi, fx.dir));
}

/* ------------------------------------------------------------ isolation */

/*
 * Runs body in a grandchild: the child unshares a mount and a pid namespace
 * (proc can only be mounted for a pid namespace one is in, hence the second
 * fork), the grandchild is its pid 1. Returns body's exit status; the
 * namespaces, and every mount in them, die with the processes.
 */
static int run_isolated(int (*body)(void *), void *arg)
{
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0) {
            perror("unshare");
            _exit(250);
        }
        pid_t gc = fork();
        if (gc < 0)
            _exit(251);
        if (gc == 0)
            _exit(body(arg));
        int st;
        if (waitpid(gc, &st, 0) < 0)
            _exit(252);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 253);
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* Inside the grandchild cmocka's asserts cannot be used (they longjmp into
 * the parent's runner state): checks report the line and exit non-zero. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (errno: %s)\n", __FILE__, __LINE__, #cond,    \
                    strerror(errno));                                                              \
            return 1 + __LINE__ % 200;                                                             \
        }                                                                                          \
    } while (0)

/* The mountinfo line whose mount point is mp (the last, topmost one), or NULL. */
static char *mountinfo_line(const char *mp)
{
    wharf_error err = {0};
    char *mi = NULL;
    if (wharf_read_file("/proc/self/mountinfo", &mi, NULL, &err) < 0)
        return NULL;
    char *found = NULL;
    char *save = NULL;
    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", line);
        char *f = copy;
        for (int i = 0; i < 4 && f; i++) {
            f = strchr(f, ' ');
            if (f)
                f++;
        }
        if (!f)
            continue;
        size_t n = strlen(mp);
        if (strncmp(f, mp, n) == 0 && f[n] == ' ') {
            free(found);
            found = xstrdup(line);
        }
    }
    free(mi);
    return found;
}

static bool mounted_with(const char *mp, const char *needle)
{
    char *line = mountinfo_line(mp);
    bool ok = line && (!needle || strstr(line, needle));
    if (!ok)
        fprintf(stderr, "mountinfo of %s: %s (wanted %s)\n", mp, line ? line : "(none)",
                needle ? needle : "a mount");
    free(line);
    return ok;
}

static bool is_chr(const char *path, unsigned maj, unsigned min, mode_t mode)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return false;
    return S_ISCHR(st.st_mode) && major(st.st_rdev) == maj && minor(st.st_rdev) == min &&
           (mode == 0 || (st.st_mode & 07777) == mode);
}

static bool link_is(const char *path, const char *target)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, target) == 0;
}

/* Creating a file at path fails with exactly errno e (0: succeeds). */
static int create_errno(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* ------------------------------------------------------------ validate */

static const char *valid_spec_fmt = "{\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
                                    " \"mounts\": [%s],"
                                    " \"linux\": {%s}}";

static int validate_text(const char *mounts, const char *linux_body, wharf_error *err)
{
    _cleanup_free_ char *text = xasprintf(valid_spec_fmt, mounts, linux_body);
    _cleanup_json_ json_t *spec = load_spec(text);
    return rootfs_validate(spec, fx.bundle, err);
}

static void expect_invalid(const char *mounts, const char *linux_body, const char *msg_part)
{
    wharf_error err = {0};
    int r = validate_text(mounts, linux_body, &err);
    if (r >= 0)
        fail_msg("accepted: mounts [%s] linux {%s}", mounts, linux_body);
    if (!strstr(err.msg, msg_part))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, msg_part);
}

static void test_validate_accepts_good_spec(void **state)
{
    (void)state;
    wharf_error err = {0};
    int r = validate_text(
        "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"data.txt\","
        "  \"options\": [\"rbind\", \"ro\", \"rprivate\"]},"
        "{\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"options\": [\"mode=755\"]}",
        "\"devices\": [{\"type\": \"c\", \"path\": \"/dev/fuse\", \"major\": 10, \"minor\": 229},"
        "              {\"type\": \"p\", \"path\": \"/dev/fifo\"}],"
        "\"rootfsPropagation\": \"slave\","
        "\"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\"]",
        &err);
    if (r < 0)
        fail_msg("rejected: %s", err.msg);
}

static void test_validate_errors(void **state)
{
    (void)state;
    wharf_error err = {0};
    /* root */
    {
        _cleanup_json_ json_t *spec = load_spec("{\"mounts\": []}");
        assert_true(rootfs_validate(spec, fx.bundle, &err) < 0);
        assert_string_equal(err.msg, "root: required field is missing");
    }
    {
        _cleanup_json_ json_t *spec = load_spec("{\"root\": {\"path\": \"nope\"}}");
        assert_int_equal(rootfs_validate(spec, fx.bundle, &err), -ENOENT);
        _cleanup_free_ char *want = xasprintf("root.path: %s/nope: no such directory", fx.bundle);
        assert_string_equal(err.msg, want);
    }
    {
        _cleanup_json_ json_t *spec = load_spec("{\"root\": {\"path\": \"data.txt\"}}");
        assert_int_equal(rootfs_validate(spec, fx.bundle, &err), -ENOTDIR);
        assert_non_null(strstr(err.msg, "not a directory"));
    }
    {
        _cleanup_json_ json_t *spec = load_spec("{\"root\": {\"path\": 3}}");
        assert_true(rootfs_validate(spec, fx.bundle, &err) < 0);
        assert_string_equal(err.msg, "root.path: expected a string, got an integer");
    }
    /* An absolute root.path ignores the bundle. */
    {
        _cleanup_free_ char *text = xasprintf("{\"root\": {\"path\": \"%s\"}}", fx.rootfs);
        _cleanup_json_ json_t *spec = load_spec(text);
        assert_int_equal(rootfs_validate(spec, "/nonexistent-bundle", &err), 0);
    }
    expect_invalid("{\"destination\": \"/a\", \"type\": \"tmpfs\"},"
                   "{\"destination\": \"/b\", \"type\": \"tmpfs\"},"
                   "{\"destination\": \"c\", \"type\": \"tmpfs\"}",
                   "", "mounts[2].destination: must be an absolute path");
    expect_invalid("{\"type\": \"tmpfs\"}", "", "mounts[0].destination: required field is missing");
    expect_invalid("\"/x\"", "", "mounts[0]: expected an object");
    expect_invalid("{\"destination\": \"/a\", \"type\": 7}", "",
                   "mounts[0].type: expected a string, got an integer");
    expect_invalid("{\"destination\": \"/a\", \"options\": [\"ro\", 1]}", "",
                   "mounts[0].options[1]: expected a string, got an integer");
    expect_invalid("{\"destination\": \"/a\", \"options\": \"ro\"}", "",
                   "mounts[0].options: expected an array, got a string");
    expect_invalid("{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"missing\","
                   " \"options\": [\"rbind\"]}",
                   "", "mounts[0].source: ");
    expect_invalid("{\"destination\": \"/a\", \"options\": [\"bind\"]}", "",
                   "mounts[0].source: required for a bind mount");
    expect_invalid("{\"destination\": \"/a\", \"type\": \"tmpfs\", \"options\":"
                   " [\"private\", \"shared\"]}",
                   "", "mounts[0].options: more than one propagation option");
    expect_invalid("", "\"devices\": [{\"type\": \"x\", \"path\": \"/dev/a\"}]",
                   "linux.devices[0].type: \"x\" is not one of c, b, u, p");
    expect_invalid("",
                   "\"devices\": [{\"type\": \"c\", \"path\": \"dev/a\", \"major\": 1,"
                   " \"minor\": 1}]",
                   "linux.devices[0].path: must be an absolute path");
    expect_invalid("", "\"devices\": [{\"type\": \"b\", \"path\": \"/dev/a\", \"major\": 1}]",
                   "linux.devices[0]: major and minor are required for type b");
    expect_invalid("", "\"devices\": [{\"type\": \"c\", \"major\": 1, \"minor\": 1}]",
                   "linux.devices[0].path: required field is missing");
    expect_invalid("", "\"rootfsPropagation\": \"sideways\"",
                   "linux.rootfsPropagation: unknown value \"sideways\"");
    expect_invalid("", "\"maskedPaths\": [\"/ok\", \"relative\"]",
                   "linux.maskedPaths[1]: must be an absolute path");
    expect_invalid("", "\"readonlyPaths\": [3]",
                   "linux.readonlyPaths[0]: expected a string, got an integer");
}

/* ------------------------------------------------------------ full run */

struct full_run {
    json_t *spec;
    struct rootfs_options opts;
    char *marker;                   /* host path of the rootfs marker, for the hook */
    bool hook_called;               /* set in the grandchild by the hook */
    char cgroups[32][NAME_MAX + 1]; /* the host's /sys/fs/cgroup entries */
    bool cgroup_is_link[32];
    size_t n_cgroups;
    char esc1[64], esc2[64];
};

static int hook_before_pivot(void *data, wharf_error *err)
{
    struct full_run *fr = data;
    /* Still the host's view: the rootfs is reachable by its host path. */
    if (access(fr->marker, F_OK) < 0)
        return wharf_error_errno(err, errno, "hook: %s", fr->marker);
    fr->hook_called = true;
    return 0;
}

static int run_busybox(const char *script, char *out, size_t len)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t k = fork();
    if (k < 0)
        return -1;
    if (k == 0) {
        dup2(p[1], 1);
        char *const env[] = {"PATH=/bin", NULL};
        execle("/bin/busybox", "busybox", "sh", "-c", script, (char *)NULL, env);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = wharf_read_all(p[0], out, len - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    int st;
    if (waitpid(k, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int full_body(void *arg)
{
    struct full_run *fr = arg;
    wharf_error err = {0};
    if (rootfs_prepare(&fr->opts, &err) < 0) {
        fprintf(stderr, "rootfs_prepare: %s\n", err.msg);
        return 201;
    }
    /* The console step the init runs between the phases: a pty of the
     * container's own devpts instance bound onto /dev/console. */
    int ptm = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    char pts[64];
    CHECK(ptm >= 0 && unlockpt(ptm) == 0 && ptsname_r(ptm, pts, sizeof(pts)) == 0);
    if (rootfs_bind_console(pts, &err) < 0) {
        fprintf(stderr, "rootfs_bind_console: %s\n", err.msg);
        return 204;
    }
    struct stat console_st, pts_st;
    CHECK(stat("/dev/console", &console_st) == 0 && stat(pts, &pts_st) == 0);
    CHECK(S_ISCHR(console_st.st_mode) && console_st.st_rdev == pts_st.st_rdev);
    close(ptm);

    if (rootfs_finalize(fr->spec, &err) < 0) {
        fprintf(stderr, "rootfs_finalize: %s\n", err.msg);
        return 202;
    }
    char cwd[PATH_MAX];
    CHECK(fr->hook_called);
    CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
    CHECK(access("/rootfs-marker", F_OK) == 0);

    /* tmpfs with data options and flags */
    struct stat st;
    struct statvfs sv;
    CHECK(mounted_with("/scratch", " - tmpfs "));
    CHECK(mounted_with("/scratch", "size=1024k"));
    CHECK(stat("/scratch", &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(statvfs("/scratch", &sv) == 0 && (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV));
    CHECK(create_errno("/scratch/x") == 0);
    CHECK(mounted_with("/proc", " - proc "));
    CHECK(mounted_with("/dev", " - tmpfs "));
    CHECK(mounted_with("/dev/pts", " - devpts "));
    CHECK(mounted_with("/dev/shm", " - tmpfs "));
    CHECK(mounted_with("/sys", " - sysfs "));
    CHECK(access("/dev/pts/ptmx", F_OK) == 0);

    /* devices */
    CHECK(is_chr("/dev/null", 1, 3, 0666));
    CHECK(is_chr("/dev/zero", 1, 5, 0666));
    CHECK(is_chr("/dev/full", 1, 7, 0666));
    CHECK(is_chr("/dev/random", 1, 8, 0666));
    CHECK(is_chr("/dev/urandom", 1, 9, 0666));
    CHECK(is_chr("/dev/tty", 5, 0, 0666));
    CHECK(is_chr("/dev/wharf-full", 1, 7, 0600));
    CHECK(lstat("/dev/wharf-full", &st) == 0 && st.st_uid == 1000 && st.st_gid == 1001);
    CHECK(lstat("/dev/wharf-fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    char zero = 1;
    CHECK(fd >= 0 && read(fd, &zero, 1) == 1 && zero == 0);
    close(fd);

    /* /dev symlinks */
    CHECK(link_is("/dev/fd", "/proc/self/fd"));
    CHECK(link_is("/dev/stdin", "/proc/self/fd/0"));
    CHECK(link_is("/dev/stdout", "/proc/self/fd/1"));
    CHECK(link_is("/dev/stderr", "/proc/self/fd/2"));
    CHECK(link_is("/dev/ptmx", "pts/ptmx"));
    if (access("/proc/kcore", F_OK) == 0)
        CHECK(link_is("/dev/core", "/proc/kcore"));
    else
        CHECK(lstat("/dev/core", &st) < 0 && errno == ENOENT);

    /* bind of a bundle file, read-only */
    char buf[256] = {0};
    fd = open("/data/file.txt", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && wharf_read_all(fd, buf, sizeof(buf) - 1) == 18);
    close(fd);
    CHECK(strcmp(buf, "hello from bundle\n") == 0);
    CHECK(open("/data/file.txt", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);

    /* rw bind of a bundle directory, with a propagation option */
    CHECK(create_errno("/mnt/shared/from-container.txt") == 0);
    CHECK(mounted_with("/mnt/shared", " shared:"));

    /* maskedPaths: a file reads empty, a directory is an empty read-only tmpfs */
    fd = open("/secret.txt", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 0);
    close(fd);
    CHECK(access("/secretdir/inner.txt", F_OK) < 0 && errno == ENOENT);
    CHECK(create_errno("/secretdir/x") == EROFS);

    /* readonlyPaths: read-only, nosuid, nodev, noexec, while its parent stays writable */
    CHECK(create_errno("/mnt/shared/rodir/x") == EROFS);
    CHECK(statvfs("/mnt/shared/rodir", &sv) == 0 && (sv.f_flag & ST_RDONLY) &&
          (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV) && (sv.f_flag & ST_NOEXEC));

    /* root.readonly */
    CHECK(create_errno("/newfile") == EROFS);

    /* rootfsPropagation "private" on the new / */
    char *root_line = mountinfo_line("/");
    CHECK(root_line && !strstr(root_line, "shared:") && !strstr(root_line, "master:"));
    free(root_line);

    /* cgroup v1/hybrid emulation: one entry per host hierarchy, read-only */
    CHECK(mounted_with("/sys/fs/cgroup", " - tmpfs "));
    for (size_t i = 0; i < fr->n_cgroups; i++) {
        _cleanup_free_ char *p = xasprintf("/sys/fs/cgroup/%s", fr->cgroups[i]);
        if (fr->cgroup_is_link[i]) {
            CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
        } else {
            _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", p);
            CHECK(access(procs, F_OK) == 0);
            CHECK(statvfs(p, &sv) == 0 && (sv.f_flag & ST_RDONLY));
        }
    }
    CHECK(mkdir("/sys/fs/cgroup/wharf-new", 0755) < 0 && errno == EROFS);

    /* symlinks in the image pointing at the host's /etc stayed inside */
    _cleanup_free_ char *e1 = xasprintf("/etc/%s", fr->esc1);
    _cleanup_free_ char *e2 = xasprintf("/etc/%s", fr->esc2);
    CHECK(mounted_with(e1, " - tmpfs "));
    CHECK(mounted_with(e2, " - tmpfs "));

    /* the root is usable: busybox runs and sees the same view */
    char out[256];
    CHECK(run_busybox("test -c /dev/null && cat /data/file.txt", out, sizeof(out)) == 0);
    CHECK(strcmp(out, "hello from bundle\n") == 0);
    return 0;
}

static void test_prepare_finalize_full(void **state)
{
    (void)state;
    struct full_run fr = {0};
    snprintf(fr.esc1, sizeof(fr.esc1), "wharf-esc-%d", fx.pid);
    snprintf(fr.esc2, sizeof(fr.esc2), "wharf-esc2-%d", fx.pid);
    _cleanup_free_ char *text = xasprintf(
        "{\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        " \"mounts\": ["
        "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
        "   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
        "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
        "   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
        "                 \"mode=0620\"]},"
        "  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
        "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
        "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
        "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
        "  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
        "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]},"
        "  {\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
        "   \"options\": [\"nosuid\", \"nodev\", \"mode=700\", \"size=1m\", \"tmpcopyup\"]},"
        "  {\"destination\": \"/data/file.txt\", \"type\": \"bind\", \"source\": \"data.txt\","
        "   \"options\": [\"rbind\", \"ro\"]},"
        "  {\"destination\": \"/mnt/shared\", \"source\": \"%s/shared\","
        "   \"options\": [\"rbind\", \"rw\", \"rshared\"]},"
        "  {\"destination\": \"/evil/%s\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
        "  {\"destination\": \"/up/%s\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}"
        " ],"
        " \"linux\": {"
        "  \"devices\": [{\"type\": \"c\", \"path\": \"/dev/wharf-full\", \"major\": 1,"
        "                 \"minor\": 7, \"fileMode\": 384, \"uid\": 1000, \"gid\": 1001},"
        "               {\"type\": \"p\", \"path\": \"/dev/wharf-fifo\"}],"
        "  \"maskedPaths\": [\"/secret.txt\", \"/secretdir\", \"/does/not/exist\"],"
        "  \"readonlyPaths\": [\"/mnt/shared/rodir\", \"/missing-ro\"],"
        "  \"rootfsPropagation\": \"private\""
        " }}",
        fx.bundle, fr.esc1, fr.esc2);
    fr.spec = load_spec(text);
    fr.marker = xasprintf("%s/rootfs-marker", fx.rootfs);
    fr.opts = (struct rootfs_options){
        .spec = fr.spec, .bundle = fx.bundle, .before_pivot = hook_before_pivot, .data = &fr};
    wharf_error err = {0};
    if (rootfs_validate(fr.spec, fx.bundle, &err) < 0)
        fail_msg("validate: %s", err.msg);

    /* What the cgroup emulation should show: the host's hierarchies. */
    DIR *d = opendir("/sys/fs/cgroup");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) && fr.n_cgroups < 32) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(fr.cgroups[fr.n_cgroups], sizeof(fr.cgroups[0]), "%s", de->d_name);
        fr.cgroup_is_link[fr.n_cgroups] = de->d_type == DT_LNK;
        fr.n_cgroups++;
    }
    closedir(d);

    int status = run_isolated(full_body, &fr);
    json_decref(fr.spec);
    free(fr.marker);
    assert_int_equal(status, 0);

    /* From the host: the escapes landed inside the rootfs, not in /etc. */
    _cleanup_free_ char *host1 = xasprintf("/etc/%s", fr.esc1);
    _cleanup_free_ char *host2 = xasprintf("/etc/%s", fr.esc2);
    _cleanup_free_ char *in1 = xasprintf("%s/etc/%s", fx.rootfs, fr.esc1);
    _cleanup_free_ char *in2 = xasprintf("%s/etc/%s", fx.rootfs, fr.esc2);
    struct stat st;
    assert_int_equal(lstat(host1, &st), -1);
    assert_int_equal(lstat(host2, &st), -1);
    assert_int_equal(lstat(in1, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(lstat(in2, &st), 0);
    /* The rw bind wrote through to the bundle. */
    _cleanup_free_ char *written = xasprintf("%s/shared/from-container.txt", fx.bundle);
    assert_int_equal(access(written, F_OK), 0);
    assert_no_host_mounts();
}

/* ------------------------------------------------------------ variants */

struct simple_run {
    struct rootfs_options opts;
    const char *expect_error; /* non-NULL: prepare must fail with this message */
    int (*check)(void);
};

static int simple_body(void *arg)
{
    struct simple_run *sr = arg;
    wharf_error err = {0};
    int r = rootfs_prepare(&sr->opts, &err);
    if (sr->expect_error) {
        CHECK(r < 0);
        if (strcmp(err.msg, sr->expect_error) != 0) {
            fprintf(stderr, "error \"%s\", wanted \"%s\"\n", err.msg, sr->expect_error);
            return 203;
        }
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "rootfs_prepare: %s\n", err.msg);
        return 201;
    }
    if (rootfs_finalize(sr->opts.spec, &err) < 0) {
        fprintf(stderr, "rootfs_finalize: %s\n", err.msg);
        return 202;
    }
    return sr->check ? sr->check() : 0;
}

static int check_no_pivot(void)
{
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
    CHECK(access("/rootfs-marker", F_OK) == 0);
    CHECK(access("/bin/busybox", X_OK) == 0);
    CHECK(mounted_with("/proc", " - proc "));
    CHECK(is_chr("/dev/null", 1, 3, 0666));
    CHECK(link_is("/dev/fd", "/proc/self/fd"));
    /* A read-only /dev still gets its nodes, then turns read-only. */
    CHECK(create_errno("/dev/x") == EROFS);
    /* Mounts made before the move are still there, now under /. */
    CHECK(mounted_with("/scratch", " - tmpfs "));
    return 0;
}

static void test_no_pivot(void **state)
{
    (void)state;
    _cleanup_json_ json_t *spec =
        load_spec("{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
                  " {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
                  " {\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
                  " {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                  "  \"options\": [\"ro\", \"nosuid\"]}]}");
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle, .no_pivot = true},
        .check = check_no_pivot,
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);
    assert_no_host_mounts();
}

static int check_userns_devices(void)
{
    /* The nodes are the host's, seen through bind mounts on empty files. */
    CHECK(is_chr("/dev/null", 1, 3, 0));
    CHECK(mounted_with("/dev/null", NULL));
    CHECK(mounted_with("/dev/urandom", NULL));
    CHECK(link_is("/dev/ptmx", "pts/ptmx"));
    return 0;
}

static void test_userns_device_binds(void **state)
{
    (void)state;
    _cleanup_json_ json_t *spec =
        load_spec("{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
                  " {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
                  " {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
                  " {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
                  "  \"options\": [\"ro\", \"nosuid\"]}]}");
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle, .in_userns = true},
        .check = check_userns_devices,
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);
    assert_no_host_mounts();
}

static int check_cgroupns(void)
{
    /* With a cgroup namespace each hierarchy is a real cgroupfs mount. */
    DIR *d = opendir("/sys/fs/cgroup");
    CHECK(d != NULL);
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_type != DT_DIR)
            continue;
        char mp[PATH_MAX];
        snprintf(mp, sizeof(mp), "/sys/fs/cgroup/%s", de->d_name);
        bool ok =
            mounted_with(mp, strcmp(de->d_name, "unified") == 0 ? " - cgroup2 " : " - cgroup ");
        if (!ok) {
            closedir(d);
            CHECK(ok);
        }
        seen++;
    }
    closedir(d);
    CHECK(seen > 0);
    /* not read-only: the spec asked for rw */
    CHECK(mkdir("/sys/fs/cgroup/wharf-new", 0755) == 0);
    return 0;
}

static void test_cgroupns_mounts_cgroupfs(void **state)
{
    (void)state;
    struct statfs sfs;
    assert_int_equal(statfs("/sys/fs/cgroup", &sfs), 0);
    if (sfs.f_type == 0x63677270)
        skip(); /* a cgroup v2 host: covered by the plain cgroup2 mount path */
    _cleanup_json_ json_t *spec = load_spec(
        "{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
        " {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        " {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\"},"
        " {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
        "  \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"rw\"]}]}");
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle, .cgroupns = true},
        .check = check_cgroupns,
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);
    assert_no_host_mounts();
}

static int check_dev_bind(void)
{
    CHECK(is_chr("/dev/null", 1, 3, 0));
    return 0;
}

/* With the host's /dev bound in, nothing may be created in it. */
static void test_dev_bind_creates_nothing(void **state)
{
    (void)state;
    _cleanup_free_ char *text =
        xasprintf("{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
                  " {\"destination\": \"/dev/\", \"type\": \"bind\", \"source\": \"/dev\","
                  "  \"options\": [\"rbind\"]}],"
                  " \"linux\": {\"devices\": [{\"type\": \"c\", \"path\": \"/dev/wharf-nodev-%d\","
                  "  \"major\": 1, \"minor\": 3}]}}",
                  fx.pid);
    _cleanup_json_ json_t *spec = load_spec(text);
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle},
        .check = check_dev_bind,
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);
    _cleanup_free_ char *host_dev = xasprintf("/dev/wharf-nodev-%d", fx.pid);
    assert_int_equal(access(host_dev, F_OK), -1);
    assert_no_host_mounts();
}

static void test_mount_error_names_the_entry(void **state)
{
    (void)state;
    _cleanup_json_ json_t *spec = load_spec(
        "{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
        " {\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
        " {\"destination\": \"/bogus\", \"type\": \"wharfnosuchfs\", \"source\": \"x\"}]}");
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle},
        .expect_error = "mount wharfnosuchfs on /bogus (mounts[1]): No such device",
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);

    _cleanup_json_ json_t *spec2 =
        load_spec("{\"root\": {\"path\": \"rootfs\"}, \"mounts\": ["
                  " {\"destination\": \"/tmp/tmp/x\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                  "  \"options\": [\"size=notanumber\"]}]}");
    sr.opts.spec = spec2;
    sr.expect_error = "mount tmpfs on /tmp/tmp/x (mounts[0]): Invalid argument";
    assert_int_equal(run_isolated(simple_body, &sr), 0);
    assert_no_host_mounts();
}

static int failing_hook(void *data, wharf_error *err)
{
    (void)data;
    return wharf_error_set(err, -EPERM, "createContainer hook failed");
}

static void test_before_pivot_error_stops(void **state)
{
    (void)state;
    _cleanup_json_ json_t *spec = load_spec("{\"root\": {\"path\": \"rootfs\"}}");
    struct simple_run sr = {
        .opts = {.spec = spec, .bundle = fx.bundle, .before_pivot = failing_hook},
        .expect_error = "createContainer hook failed",
    };
    assert_int_equal(run_isolated(simple_body, &sr), 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_rootfs needs root (mount namespaces); skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_validate_accepts_good_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_finalize_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_pivot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_userns_device_binds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroupns_mounts_cgroupfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_bind_creates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_error_names_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_pivot_error_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
