/*
 * process.c — the last steps before execve, shared by the container init and
 * exec: working directory (checked to be inside the root: CVE-2024-21626),
 * executable lookup, user and groups, capabilities, no_new_privs, seccomp,
 * umask, file descriptors and environment.
 */
#include "internal.h"
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_get(json_t *process, const char *name)
{
    json_t *env = json_object_get(process, "env");
    size_t len = strlen(name), i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strncmp(s, name, len) == 0 && s[len] == '=')
            return s + len + 1;
    }
    return NULL;
}

/* 0, or the errno that keeps path from being executed: ENOENT and the like
 * from stat, EACCES for a directory or a file without execute permission. */
static int executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno;
    if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
        return EACCES;
    return 0;
}

/* strerror in Go's spelling (lower case), which is what runc's messages
 * carry and what Docker clients look for ("no such file or directory"). */
static void go_errno_text(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
}

int process_prepare_exec(const struct process_exec *p, char **resolved_path, wharf_error *err)
{
    const char *cwd = json_string_value(json_object_get(p->process, "cwd"));
    if (!cwd)
        cwd = "/";
    if (chdir(cwd) < 0) {
        if (errno != ENOENT || wharf_mkdir_p(cwd, 0755, NULL) < 0 || chdir(cwd) < 0)
            return wharf_error_errno(err, errno, "process.cwd: chdir to %s", cwd);
    }
    /* A cwd reached through a leaked host fd reads back as "(unreachable)/..." */
    char here[4096];
    if (!getcwd(here, sizeof(here)) || here[0] != '/')
        return wharf_error_set(err, -EPERM, "process.cwd: %s is outside the container's root",
                               cwd);

    const char *arg0 = json_string_value(json_array_get(json_object_get(p->process, "args"), 0));
    if (!arg0 || !*arg0)
        return wharf_error_set(err, -EINVAL, "process.args: must not be empty");
    if (strchr(arg0, '/')) {
        /* runc's words (Go's exec.LookPath), so engines map them to 126/127. */
        int e = executable(arg0);
        char text[128];
        go_errno_text(e, text, sizeof(text));
        if (e == EACCES)
            return wharf_error_set(err, -e, "exec: \"%s\": %s", arg0, text);
        if (e)
            return wharf_error_set(err, -e, "exec: \"%s\": stat %s: %s", arg0, arg0, text);
        *resolved_path = xstrdup(arg0);
        return 0;
    }
    const char *path = env_get(p->process, "PATH");
    _cleanup_free_ char *dirs = xstrdup(path ? path : DEFAULT_PATH);
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *cand = xasprintf("%s/%s", *d ? d : ".", arg0);
        if (executable(cand) == 0) {
            *resolved_path = steal_ptr(cand);
            return 0;
        }
    }
    return wharf_error_set(err, -ENOENT, "exec: \"%s\": executable file not found in $PATH",
                           arg0);
}

/* HOME from the container's /etc/passwd when the config does not set it. */
static char *home_of(uid_t uid)
{
    _cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
    if (!f)
        return NULL;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *fields[7] = {0};
        char *s = line;
        for (int i = 0; i < 7 && s; i++) {
            fields[i] = s;
            s = strchr(s, ':');
            if (s)
                *s++ = '\0';
        }
        if (fields[2] && fields[5] && (uid_t)strtoul(fields[2], NULL, 10) == uid)
            return xstrdup(fields[5]);
    }
    return NULL;
}

static int set_user(json_t *user, wharf_error *err)
{
    uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
    gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
    json_t *extra = json_object_get(user, "additionalGids");
    size_t n = json_array_size(extra);
    gid_t *groups = xcalloc(n + 1, sizeof(gid_t));
    for (size_t i = 0; i < n; i++)
        groups[i] = (gid_t)json_integer_value(json_array_get(extra, i));
    /* In a user namespace whose setgroups is "deny", setgroups fails: only
     * an error when groups were actually asked for. */
    if (setgroups(n, groups) < 0 && (n > 0 || errno != EPERM)) {
        int e = errno;
        free(groups);
        return wharf_error_errno(err, e, "process.user.additionalGids: setgroups");
    }
    free(groups);
    if (setresgid(gid, gid, gid) < 0)
        return wharf_error_errno(err, errno, "process.user.gid: setresgid(%u)", gid);
    if (setresuid(uid, uid, uid) < 0)
        return wharf_error_errno(err, errno, "process.user.uid: setresuid(%u)", uid);
    return 0;
}

int process_exec(const struct process_exec *p, const char *resolved_path, wharf_error *err)
{
    json_t *process = p->process;
    json_t *user = json_object_get(process, "user");
    bool nnp = json_is_true(json_object_get(process, "noNewPrivileges"));
    int r;

    /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while
     * we still have it. With it, load as late as possible. */
    if (p->seccomp && !nnp && (r = security_seccomp_load(p->seccomp, err)) < 0)
        return r;
    if ((r = security_caps_keep_on_setuid(err)) < 0)
        return r;
    if ((r = set_user(user, err)) < 0)
        return r;
    if ((r = security_caps_apply(json_object_get(process, "capabilities"), err)) < 0)
        return r;
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return wharf_error_errno(err, errno, "process.noNewPrivileges");
    if (p->seccomp && nnp && (r = security_seccomp_load(p->seccomp, err)) < 0)
        return r;
    json_t *um = json_object_get(user, "umask");
    umask(json_is_integer(um) ? (mode_t)json_integer_value(um) : 022);

    /* Nothing of ours may reach the container (CVE-2024-21626): every fd past
     * the preserved ones is closed on exec. */
    unsigned first = 3 + p->preserve_fds;
    if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        for (int fd = (int)first; fd < 1024; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (unsigned fd = 3; fd < first; fd++)
        fcntl((int)fd, F_SETFD, 0);

    json_t *env = json_object_get(process, "env");
    size_t n = json_array_size(env);
    const char **envp = xcalloc(n + 2, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        envp[k++] = json_string_value(json_array_get(env, i));
    _cleanup_free_ char *home = NULL;
    if (!env_get(process, "HOME")) {
        _cleanup_free_ char *dir = home_of(getuid());
        home = xasprintf("HOME=%s", dir ? dir : "/");
        envp[k++] = home;
    }
    json_t *args = json_object_get(process, "args");
    size_t na = json_array_size(args);
    const char **argv = xcalloc(na + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        argv[i] = json_string_value(json_array_get(args, i));
    execve(resolved_path, (char *const *)argv, (char *const *)envp);
    int e = errno;
    free(argv);
    free(envp);
    return wharf_error_errno(err, e, "exec %s", resolved_path);
}

int process_apply_limits(json_t *process, pid_t pid, bool rlimits, wharf_error *err)
{
    json_t *oom = json_object_get(process, "oomScoreAdj");
    if (json_is_integer(oom)) {
        char path[64], val[32];
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(oom));
        wharf_error e = {0};
        int r = wharf_write_string(path, val, &e);
        if (r < 0)
            return wharf_error_set(err, r, "process.oomScoreAdj: %s", e.msg);
    }
    return rlimits ? security_rlimits_apply(json_object_get(process, "rlimits"), pid, err) : 0;
}
