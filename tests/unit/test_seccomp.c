/*
 * Unit tests of the security module: seccomp filters, capabilities and
 * rlimits. Whatever changes process state runs in a forked child that
 * reports through its exit status (0 = every check passed, otherwise the
 * line of the failed check, also printed on stderr), so the test runner
 * itself keeps its filters, capabilities and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------- helpers */

/* In a child: report the failing line through the exit status. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child check failed at line %d: %s (errno %d)\n", __LINE__, #cond,     \
                    errno);                                                                        \
            return __LINE__ % 250 + 1;                                                             \
        }                                                                                          \
    } while (0)

typedef int (*child_fn)(void *arg);

/* Runs fn in a forked child; returns the raw wait status. */
static int run_child(child_fn fn, void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A child killed by SIGSYS must not leave a core file behind. */
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        /* cmocka catches SIGSYS in the runner; a trapped call must kill. */
        signal(SIGSYS, SIG_DFL);
        /* exit(), not _exit(): under ASan the leak check then also covers
         * what the child applied. */
        exit(fn(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_child_ok(child_fn fn, void *arg)
{
    int status = run_child(fn, arg);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    return j;
}

static char *make_tmpdir(void)
{
    char *tmpl = xasprintf("/tmp/wharf-sec-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

/* A hex field of /proc/self/status ("CapEff"), or ~0 when missing. */
static uint64_t status_hex(const char *status, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, klen) == 0 && p[klen] == ':')
            return strtoull(p + klen + 1, NULL, 16);
    return ~UINT64_C(0);
}

static uint64_t self_status_hex(const char *key)
{
    _cleanup_free_ char *text = NULL;
    wharf_error err = {0};
    if (wharf_read_file("/proc/self/status", &text, NULL, &err) < 0)
        return ~UINT64_C(0);
    return status_hex(text, key);
}

static int last_cap(void)
{
    _cleanup_free_ char *text = NULL;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, &err), 0);
    return atoi(text);
}

static uint64_t all_caps_mask(void)
{
    int last = last_cap();
    return last >= 63 ? ~UINT64_C(0) : (UINT64_C(1) << (last + 1)) - 1;
}

/* ---------------------------------------------------------------- seccomp */

struct seccomp_child {
    const char *profile;
    const char *dir;
};

static int child_mkdir_denied(void *arg)
{
    const struct seccomp_child *c = arg;
    _cleanup_json_ json_t *profile = parse(c->profile);
    wharf_error err = {0};
    _cleanup_free_ char *path = xasprintf("%s/denied", c->dir);
    _cleanup_free_ char *file = xasprintf("%s/allowed-file", c->dir);
    CHECK(security_seccomp_load(profile, &err) == 0);
    errno = 0;
    CHECK(mkdir(path, 0755) < 0 && errno == EPERM);
    CHECK(syscall(SYS_mkdir, path, 0755) < 0 && errno == EPERM);
    CHECK(syscall(SYS_mkdirat, AT_FDCWD, path, 0755) < 0 && errno == EPERM);
    /* Everything else still works. */
    CHECK(getpid() > 0);
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "x", 1) == 1);
    close(fd);
    return 0;
}

static void test_seccomp_errno_rule(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    /* The unknown name is skipped, as runc does, rather than failing. */
    struct seccomp_child c = {
        .profile = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                   "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],"
                   "\"syscalls\": [{\"names\": [\"mkdir\", \"wharf_no_such_syscall\", "
                   "\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}",
        .dir = dir,
    };
    _cleanup_json_ json_t *profile = parse(c.profile);
    wharf_error err = {0};
    assert_int_equal(security_seccomp_validate(profile, &err), 0);
    assert_child_ok(child_mkdir_denied, &c);
    _cleanup_free_ char *denied = xasprintf("%s/denied", dir);
    _cleanup_free_ char *file = xasprintf("%s/allowed-file", dir);
    assert_int_equal(access(denied, F_OK), -1);
    assert_int_equal(access(file, F_OK), 0);
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
}

static int child_arg_filters(void *arg)
{
    const struct seccomp_child *c = arg;
    _cleanup_json_ json_t *profile = parse(c->profile);
    wharf_error err = {0};
    CHECK(security_seccomp_load(profile, &err) == 0);
    /* Single comparison: only the listed value is refused. */
    CHECK(syscall(SYS_personality, 0xffffffffUL) >= 0);
    CHECK(syscall(SYS_personality, 0xdeadUL) < 0 && errno == EPERM);
    /* Two arguments in one rule: both must match (AND). */
    CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) >= 0);
    CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 424242) < 0 && errno == ENOTSUP);
    errno = 0;
    CHECK(syscall(SYS_getpriority, PRIO_PGRP, 424242) < 0 && errno == ESRCH);
    /* One argument compared twice: one rule per comparison (OR). */
    CHECK(syscall(SYS_umask, 0777) < 0 && errno == EDOM);
    CHECK(syscall(SYS_umask, 0770) < 0 && errno == EDOM);
    CHECK(syscall(SYS_umask, 022) >= 0);
    /* MASKED_EQ: value is the mask, valueTwo the expected result. */
    CHECK(syscall(SYS_getpgid, 0x7f000001) < 0 && errno == EXDEV);
    errno = 0;
    CHECK(syscall(SYS_getpgid, 0) >= 0);
    /* GT and LE. */
    CHECK(syscall(SYS_getsid, 0x70000001) < 0 && errno == ENXIO);
    CHECK(syscall(SYS_getsid, 0) >= 0);
    return 0;
}

static void test_seccomp_arg_filters(void **state)
{
    (void)state;
    struct seccomp_child c = {
        .profile =
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
            " {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\","
            "  \"args\": [{\"index\": 0, \"value\": 57005, \"op\": \"SCMP_CMP_EQ\"}]},"
            " {\"names\": [\"getpriority\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 95,"
            "  \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"},"
            "             {\"index\": 1, \"value\": 424242, \"op\": \"SCMP_CMP_EQ\"}]},"
            " {\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33,"
            "  \"args\": [{\"index\": 0, \"value\": 511, \"op\": \"SCMP_CMP_EQ\"},"
            "             {\"index\": 0, \"value\": 504, \"op\": \"SCMP_CMP_EQ\"}]},"
            " {\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 18,"
            "  \"args\": [{\"index\": 0, \"value\": 4278190080, \"valueTwo\": 2130706432,"
            "              \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
            " {\"names\": [\"getsid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 6,"
            "  \"args\": [{\"index\": 0, \"value\": 1879048192, \"op\": \"SCMP_CMP_GT\"}]}"
            "]}",
    };
    assert_child_ok(child_arg_filters, &c);
}

static int child_call_getppid(void *arg)
{
    const struct seccomp_child *c = arg;
    _cleanup_json_ json_t *profile = parse(c->profile);
    wharf_error err = {0};
    CHECK(security_seccomp_load(profile, &err) == 0);
    errno = 0;
    long r = syscall(SYS_getppid);
    /* Only reached when the action lets the process live (TRACE). _exit:
     * LeakSanitizer polls getppid() and would spin on the ENOSYS. */
    _exit(r < 0 && errno == ENOSYS ? 100 : r < 0 ? 101 : 102);
}

static char *getppid_profile(const char *action)
{
    return xasprintf("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                     "[\"getppid\"], \"action\": \"%s\"}]}",
                     action);
}

static void test_seccomp_fatal_actions(void **state)
{
    (void)state;
    static const char *fatal[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                  "SCMP_ACT_TRAP"};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        _cleanup_free_ char *profile = getppid_profile(fatal[i]);
        struct seccomp_child c = {.profile = profile};
        int status = run_child(child_call_getppid, &c);
        if (!WIFSIGNALED(status))
            fail_msg("%s: child was not killed (status 0x%x)", fatal[i], status);
        assert_int_equal(WTERMSIG(status), SIGSYS);
    }
    /* TRACE without a tracer: the kernel fails the call with ENOSYS. */
    _cleanup_free_ char *profile = getppid_profile("SCMP_ACT_TRACE");
    struct seccomp_child c = {.profile = profile};
    int status = run_child(child_call_getppid, &c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 100);
}

static int child_load_ok(void *arg)
{
    const struct seccomp_child *c = arg;
    _cleanup_json_ json_t *profile = parse(c->profile);
    wharf_error err = {0};
    if (security_seccomp_load(profile, &err) < 0) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    CHECK(getppid() > 0);
    return 0;
}

static void test_seccomp_skips_and_flags(void **state)
{
    (void)state;
    /* A rule repeating the default action is skipped (libseccomp would
     * refuse it); flags the kernel supports are accepted. */
    struct seccomp_child c = {
        .profile = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                   "[\"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_TSYNC\"],"
                   "\"syscalls\": [{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"},"
                   "{\"names\": [\"wharf_no_such_syscall\"], \"action\": \"SCMP_ACT_KILL\"},"
                   "{\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_LOG\"}]}",
    };
    _cleanup_json_ json_t *profile = parse(c.profile);
    wharf_error err = {0};
    assert_int_equal(security_seccomp_validate(profile, &err), 0);
    assert_child_ok(child_load_ok, &c);
    /* No seccomp section: nothing to build or load. */
    assert_int_equal(security_seccomp_validate(NULL, &err), 0);
    assert_int_equal(security_seccomp_load(NULL, &err), 0);
}

static void expect_seccomp_error(const char *text, const char *message)
{
    _cleanup_json_ json_t *profile = parse(text);
    wharf_error err = {0};
    int r = security_seccomp_validate(profile, &err);
    if (r >= 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, r);
    if (!strstr(err.msg, message))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, message);
}

static void test_seccomp_validation_errors(void **state)
{
    (void)state;
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_NOPE\"}",
                         "linux.seccomp.defaultAction: unknown action SCMP_ACT_NOPE");
    expect_seccomp_error("{}", "linux.seccomp.defaultAction: required field is missing");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                         "{\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                         "{\"names\": [\"open\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                         "{\"names\": [\"close\"], \"action\": \"SCMP_ACT_FOO\"}]}",
                         "linux.seccomp.syscalls[3].action: unknown action SCMP_ACT_FOO");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
                         "{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},"
                         "{\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_FOO\"}]}]}",
                         "linux.seccomp.syscalls[0].args[1].op: unknown operator SCMP_CMP_FOO");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
                         "{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                         "linux.seccomp.syscalls[0].args[0].index: 6 is out of range");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
                         "{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                         "linux.seccomp.syscalls[0].args[0].value: required field is missing");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                         "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_FOO\"]}",
                         "linux.seccomp.architectures[1]: unknown architecture SCMP_ARCH_FOO");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                         "[\"SCMP_ARCH_x86_64\"]}",
                         "linux.seccomp.architectures[0]: unknown architecture SCMP_ARCH_x86_64");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"x86_64\"]}",
                         "linux.seccomp.architectures[0]: unknown architecture x86_64");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                         "[\"SECCOMP_FILTER_FLAG_FOO\"]}",
                         "linux.seccomp.flags[0]: unknown flag SECCOMP_FILTER_FLAG_FOO");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": "
                         "\"/run/agent.sock\"}",
                         "linux.seccomp.listenerPath: seccomp notify listeners are not supported");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
                         "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}",
                         "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}",
                         "linux.seccomp.defaultErrnoRet: 70000 is out of range");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"action\": \"SCMP_ACT_ERRNO\"}]}",
                         "linux.seccomp.syscalls[0].names: required field is missing");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"read\", 3], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                         "linux.seccomp.syscalls[0].names[1]: expected a string");
    expect_seccomp_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [7]}",
                         "linux.seccomp.syscalls[0]: expected an object");
}

static bool array_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void test_seccomp_features(void **state)
{
    (void)state;
    _cleanup_json_ json_t *f = security_seccomp_features();
    assert_non_null(f);
    assert_true(json_is_true(json_object_get(f, "enabled")));
    json_t *actions = json_object_get(f, "actions");
    assert_true(array_has(actions, "SCMP_ACT_ALLOW"));
    assert_true(array_has(actions, "SCMP_ACT_ERRNO"));
    assert_true(array_has(actions, "SCMP_ACT_KILL_PROCESS"));
    assert_false(array_has(actions, "SCMP_ACT_NOTIFY"));
    json_t *ops = json_object_get(f, "operators");
    assert_int_equal(json_array_size(ops), 7);
    assert_true(array_has(ops, "SCMP_CMP_MASKED_EQ"));
    json_t *archs = json_object_get(f, "archs");
    assert_true(array_has(archs, "SCMP_ARCH_X86_64"));
    assert_true(array_has(archs, "SCMP_ARCH_AARCH64"));
    assert_true(array_has(archs, "SCMP_ARCH_S390X"));
    assert_true(array_has(archs, "SCMP_ARCH_MIPSEL64N32"));
    /* Every reported architecture is one the filter builder accepts. */
    size_t i;
    json_t *v;
    json_array_foreach(archs, i, v)
    {
        _cleanup_free_ char *text =
            xasprintf("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"%s\"]}",
                      json_string_value(v));
        _cleanup_json_ json_t *profile = parse(text);
        wharf_error err = {0};
        /* libseccomp cannot mix byte orders in one filter. */
        if (security_seccomp_validate(profile, &err) < 0 && !strstr(err.msg, "byte order"))
            fail_msg("%s", err.msg);
    }
    json_t *known = json_object_get(f, "knownFlags");
    assert_int_equal(json_array_size(known), 3);
    assert_true(array_has(known, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
    /* Kernel 4.14+ and libseccomp 2.5 both know the LOG flag. */
    assert_true(array_has(json_object_get(f, "supportedFlags"), "SECCOMP_FILTER_FLAG_LOG"));
}

/* ---------------------------------------------------------------- capabilities */

static void expect_caps_error(const char *text, const char *message)
{
    _cleanup_json_ json_t *caps = parse(text);
    wharf_error err = {0};
    int r = security_caps_validate(caps, &err);
    if (r >= 0)
        fail_msg("accepted: %s", text);
    if (!strstr(err.msg, message))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, message);
}

static void test_caps_validate(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(security_caps_validate(NULL, &err), 0);
    _cleanup_json_ json_t *ok =
        parse("{\"bounding\": [\"CAP_CHOWN\", \"CAP_NET_RAW\", \"CAP_CHECKPOINT_RESTORE\"],"
              " \"effective\": [], \"ambient\": [\"CAP_NET_RAW\"]}");
    assert_int_equal(security_caps_validate(ok, &err), 0);
    expect_caps_error("{\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\", \"CAP_FOO\"]}",
                      "process.capabilities.bounding[2]: unknown capability CAP_FOO");
    /* Only the exact kernel spelling: libcap alone would take these. */
    expect_caps_error("{\"permitted\": [\"cap_chown\"]}",
                      "process.capabilities.permitted[0]: unknown capability cap_chown");
    expect_caps_error("{\"effective\": [\"CAP_CHOWN2\"]}",
                      "process.capabilities.effective[0]: unknown capability CAP_CHOWN2");
    expect_caps_error("{\"inheritable\": [\"0\"]}",
                      "process.capabilities.inheritable[0]: unknown capability 0");
    expect_caps_error("{\"ambient\": [\"CHOWN\"]}",
                      "process.capabilities.ambient[0]: unknown capability CHOWN");
    expect_caps_error("{\"ambient\": \"CAP_CHOWN\"}",
                      "process.capabilities.ambient: expected an array");
    expect_caps_error("{\"bounding\": [1]}", "process.capabilities.bounding[0]: expected a string");
}

static void test_caps_known(void **state)
{
    (void)state;
    _cleanup_json_ json_t *known = security_caps_known();
    assert_true(json_is_array(known));
    assert_true(array_has(known, "CAP_CHOWN"));
    assert_true(array_has(known, "CAP_SYS_ADMIN"));
    assert_true(array_has(known, "CAP_NET_RAW"));
    /* libcap 2.66 names everything up to CAP_CHECKPOINT_RESTORE (40). */
    int last = last_cap();
    assert_int_equal(json_array_size(known), (size_t)(last < 40 ? last : 40) + 1);
    /* Every listed name is accepted back. */
    _cleanup_json_ json_t *caps = json_pack("{s:O}", "bounding", known);
    wharf_error err = {0};
    assert_int_equal(security_caps_validate(caps, &err), 0);
}

struct caps_child {
    json_t *caps;
    const char *file;
    uint64_t expect_bnd, expect_eff, expect_prm, expect_inh;
};

static int child_caps_root(void *arg)
{
    const struct caps_child *c = arg;
    wharf_error err = {0};
    CHECK(security_caps_keep_on_setuid(&err) == 0);
    CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
    CHECK(setresgid(0, 0, 0) == 0);
    CHECK(setresuid(0, 0, 0) == 0);
    if (security_caps_apply(c->caps, &err) < 0) {
        fprintf(stderr, "apply: %s\n", err.msg);
        return 1;
    }
    CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
    CHECK(self_status_hex("CapBnd") == c->expect_bnd);
    CHECK(self_status_hex("CapEff") == c->expect_eff);
    CHECK(self_status_hex("CapPrm") == c->expect_prm);
    CHECK(self_status_hex("CapInh") == c->expect_inh);
    CHECK(self_status_hex("CapAmb") == 0);
    if (c->file) {
        errno = 0;
        CHECK(chown(c->file, 4242, 4242) < 0 && errno == EPERM);
    }
    return 0;
}

static void test_caps_drop_chown_as_root(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *file = xasprintf("%s/owned", dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);

    /* Only what this process holds: the test may run in a container that
     * already lacks some capabilities. Names come in number order. */
    uint64_t held = self_status_hex("CapPrm") & self_status_hex("CapBnd");
    _cleanup_json_ json_t *known = security_caps_known();
    _cleanup_json_ json_t *without_chown = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(known, i, v)
    {
        if (i != 0 && (held & (UINT64_C(1) << i)))
            json_array_append(without_chown, v);
    }
    assert_string_equal(json_string_value(json_array_get(known, 0)), "CAP_CHOWN");
    _cleanup_json_ json_t *caps =
        json_pack("{s:O, s:O, s:O, s:[s]}", "bounding", without_chown, "effective", without_chown,
                  "permitted", without_chown, "inheritable", "CAP_KILL");
    uint64_t mask = held & all_caps_mask() & ~(UINT64_C(1) << 0); /* CAP_CHOWN is 0 */
    struct caps_child c = {.caps = caps,
                           .file = file,
                           .expect_bnd = mask,
                           .expect_eff = mask,
                           .expect_prm = mask,
                           .expect_inh = UINT64_C(1) << 5}; /* CAP_KILL */
    assert_child_ok(child_caps_root, &c);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_uid, 0);
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
}

static void test_caps_null_drops_everything(void **state)
{
    (void)state;
    struct caps_child c = {.caps = NULL};
    assert_child_ok(child_caps_root, &c);
}

static int child_caps_bad_effective(void *arg)
{
    (void)arg;
    _cleanup_json_ json_t *caps =
        parse("{\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\"], \"effective\": [\"CAP_CHOWN\"],"
              " \"permitted\": [\"CAP_KILL\"]}");
    wharf_error err = {0};
    CHECK(security_caps_apply(caps, &err) == -EPERM);
    CHECK(strstr(err.msg, "effective is not a subset of permitted") != NULL);
    return 0;
}

static void test_caps_effective_outside_permitted(void **state)
{
    (void)state;
    assert_child_ok(child_caps_bad_effective, NULL);
}

struct ambient_child {
    json_t *caps;
    int out_fd;
};

static int child_ambient_exec(void *arg)
{
    const struct ambient_child *c = arg;
    wharf_error err = {0};
    CHECK(setgroups(0, NULL) == 0);
    CHECK(security_caps_keep_on_setuid(&err) == 0);
    CHECK(setresgid(4243, 4243, 4243) == 0);
    CHECK(setresuid(4243, 4243, 4243) == 0);
    if (security_caps_apply(c->caps, &err) < 0) {
        fprintf(stderr, "apply: %s\n", err.msg);
        return 1;
    }
    CHECK(dup2(c->out_fd, STDOUT_FILENO) == STDOUT_FILENO);
    char *argv[] = {"busybox", "cat", "/proc/self/status", NULL};
    char *envp[] = {NULL};
    execve("/bin/busybox", argv, envp);
    fprintf(stderr, "execve /bin/busybox: %s\n", strerror(errno));
    return 2;
}

static void test_caps_ambient_survive_exec(void **state)
{
    (void)state;
    if (access("/bin/busybox", X_OK) < 0)
        skip();
    /* CAP_SYS_TIME is ambient but not inheritable: the kernel refuses it and,
     * as with runc, that is a warning rather than a failure. */
    _cleanup_json_ json_t *caps =
        parse("{\"bounding\": [\"CAP_NET_RAW\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_TIME\"],"
              " \"effective\": [\"CAP_NET_RAW\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_TIME\"],"
              " \"permitted\": [\"CAP_NET_RAW\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_TIME\"],"
              " \"inheritable\": [\"CAP_NET_RAW\", \"CAP_NET_BIND_SERVICE\"],"
              " \"ambient\": [\"CAP_NET_RAW\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_TIME\"]}");
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    struct ambient_child c = {.caps = caps, .out_fd = pipefd[1]};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        _exit(child_ambient_exec(&c));
    }
    close(pipefd[1]);
    char buf[8192];
    ssize_t n = wharf_read_all(pipefd[0], buf, sizeof(buf) - 1);
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(n > 0);
    buf[n] = '\0';
    /* CAP_NET_BIND_SERVICE is 10, CAP_NET_RAW 13. */
    uint64_t expect = (UINT64_C(1) << 10) | (UINT64_C(1) << 13);
    assert_int_equal(status_hex(buf, "CapAmb"), expect);
    /* A non-root exec keeps exactly the ambient set. */
    assert_int_equal(status_hex(buf, "CapEff"), expect);
    assert_int_equal(status_hex(buf, "CapPrm"), expect);
    assert_int_equal(status_hex(buf, "CapBnd"), expect | (UINT64_C(1) << 25));
    assert_non_null(strstr(buf, "\nUid:\t4243\t4243\t4243\t4243"));
}

/* ---------------------------------------------------------------- rlimits */

static int child_rlimits_self(void *arg)
{
    (void)arg;
    _cleanup_json_ json_t *rl =
        parse("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 100, \"hard\": 200},"
              " {\"type\": \"RLIMIT_CORE\", \"soft\": 0, \"hard\": 0}]");
    wharf_error err = {0};
    CHECK(security_rlimits_apply(rl, 0, &err) == 0);
    struct rlimit lim;
    CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0);
    CHECK(lim.rlim_cur == 100 && lim.rlim_max == 200);
    CHECK(getrlimit(RLIMIT_CORE, &lim) == 0);
    CHECK(lim.rlim_cur == 0 && lim.rlim_max == 0);
    /* Raising the hard limit back needs CAP_SYS_RESOURCE: without any
     * capability the failure names the entry. */
    CHECK(security_caps_apply(NULL, &err) == 0);
    _cleanup_json_ json_t *up =
        parse("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 100, \"hard\": 300}]");
    CHECK(security_rlimits_apply(up, 0, &err) == -EPERM);
    CHECK(strstr(err.msg, "process.rlimits[0]: setting RLIMIT_NOFILE") != NULL);
    return 0;
}

static void test_rlimits_apply_self(void **state)
{
    (void)state;
    assert_child_ok(child_rlimits_self, NULL);
}

static void test_rlimits_apply_other_pid(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[1]);
        char c;
        /* Wait until the parent has applied the limits. */
        if (read(pipefd[0], &c, 1) != 1)
            _exit(3);
        struct rlimit lim;
        if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur != 64 || lim.rlim_max != 128)
            _exit(4);
        if (getrlimit(RLIMIT_NPROC, &lim) < 0 || lim.rlim_cur != 1000 || lim.rlim_max != 2000)
            _exit(5);
        _exit(0);
    }
    close(pipefd[0]);
    _cleanup_json_ json_t *rl =
        parse("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 64, \"hard\": 128},"
              " {\"type\": \"RLIMIT_NPROC\", \"soft\": 1000, \"hard\": 2000}]");
    wharf_error err = {0};
    int r = security_rlimits_apply(rl, pid, &err);
    struct rlimit lim = {0, 0};
    int pr = prlimit(pid, RLIMIT_NOFILE, NULL, &lim);
    assert_int_equal(write(pipefd[1], "x", 1), 1);
    close(pipefd[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(r, 0);
    assert_int_equal(pr, 0);
    assert_int_equal(lim.rlim_cur, 64);
    assert_int_equal(lim.rlim_max, 128);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Our own limits are untouched. */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
    assert_true(lim.rlim_max != 128 || lim.rlim_cur != 64);
}

static void expect_rlimits_error(const char *text, const char *message)
{
    _cleanup_json_ json_t *rl = parse(text);
    wharf_error err = {0};
    int r = security_rlimits_validate(rl, &err);
    if (r >= 0)
        fail_msg("accepted: %s", text);
    if (!strstr(err.msg, message))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, message);
    /* apply checks the same way before touching anything. */
    wharf_error err2 = {0};
    assert_int_equal(security_rlimits_apply(rl, 0, &err2), r);
    assert_string_equal(err2.msg, err.msg);
}

static void test_rlimits_validation(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(security_rlimits_validate(NULL, &err), 0);
    assert_int_equal(security_rlimits_apply(NULL, 0, &err), 0);
    static const char *names[] = {"AS",      "CORE",     "CPU",        "DATA",   "FSIZE", "LOCKS",
                                  "MEMLOCK", "MSGQUEUE", "NICE",       "NOFILE", "NPROC", "RSS",
                                  "RTPRIO",  "RTTIME",   "SIGPENDING", "STACK"};
    _cleanup_json_ json_t *all = json_array();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        _cleanup_free_ char *type = xasprintf("RLIMIT_%s", names[i]);
        json_array_append_new(all,
                              json_pack("{s:s, s:i, s:i}", "type", type, "soft", 1, "hard", 2));
    }
    assert_int_equal(security_rlimits_validate(all, &err), 0);

    expect_rlimits_error("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 2},"
                         " {\"type\": \"RLIMIT_FOO\", \"soft\": 1, \"hard\": 2}]",
                         "process.rlimits[1].type: unknown rlimit RLIMIT_FOO");
    expect_rlimits_error("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 3, \"hard\": 2}]",
                         "process.rlimits[0]: soft limit 3 is above hard limit 2");
    expect_rlimits_error("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 2},"
                         " {\"type\": \"RLIMIT_CPU\", \"soft\": 1, \"hard\": 2},"
                         " {\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 2}]",
                         "process.rlimits[2].type: duplicate rlimit RLIMIT_NOFILE");
    expect_rlimits_error("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1}]",
                         "process.rlimits[0].hard: required field is missing");
    expect_rlimits_error("[{\"soft\": 1, \"hard\": 1}]",
                         "process.rlimits[0].type: required field is missing");
    expect_rlimits_error("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": -1, \"hard\": 2}]",
                         "process.rlimits[0].soft: must not be negative");
    expect_rlimits_error("[\"RLIMIT_NOFILE\"]", "process.rlimits[0]: expected an object");
    expect_rlimits_error("{}", "process.rlimits: expected an array");
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_seccomp needs root\n");
        return 77; /* meson: skipped */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seccomp_errno_rule),
        cmocka_unit_test(test_seccomp_arg_filters),
        cmocka_unit_test(test_seccomp_fatal_actions),
        cmocka_unit_test(test_seccomp_skips_and_flags),
        cmocka_unit_test(test_seccomp_validation_errors),
        cmocka_unit_test(test_seccomp_features),
        cmocka_unit_test(test_caps_validate),
        cmocka_unit_test(test_caps_known),
        cmocka_unit_test(test_caps_drop_chown_as_root),
        cmocka_unit_test(test_caps_null_drops_everything),
        cmocka_unit_test(test_caps_effective_outside_permitted),
        cmocka_unit_test(test_caps_ambient_survive_exec),
        cmocka_unit_test(test_rlimits_apply_self),
        cmocka_unit_test(test_rlimits_apply_other_pid),
        cmocka_unit_test(test_rlimits_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
