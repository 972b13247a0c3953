/*
 * spec.c — the OCI config.json of a container from its CRI-style config.
 *
 * Defaults follow Docker's so containers behave the same under either front
 * end: Docker's default capability set, its masked and read-only /proc
 * paths, its default mounts and device allow-list. Privileged drops all of
 * those restrictions. Every config field error names the field.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cri.h"
#include "cri_internal.h"

static const char *const all_caps[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define N_CAPS (sizeof(all_caps) / sizeof(all_caps[0]))

/* Docker's default set (moby oci/caps/defaults.go lists these fourteen). */
static const char *const docker_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",     "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
    "/proc/asound",        "/proc/acpi",        "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",          "/sys/firmware",     "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* The capabilities the running kernel knows (privileged gets exactly these). */
static size_t kernel_cap_count(void)
{
    char *text = NULL;
    wharf_error err = {0};
    size_t n = N_CAPS;
    if (wharf_read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, &err) == 0) {
        long last = strtol(text, NULL, 10);
        if (last >= 0 && (size_t)last + 1 < N_CAPS)
            n = (size_t)last + 1;
    }
    free(text);
    return n;
}

/* "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN. */
static int cap_index(const char *name)
{
    char buf[64];
    size_t off = 0;
    if (strncasecmp(name, "CAP_", 4) != 0)
        off = (size_t)snprintf(buf, sizeof(buf), "CAP_");
    size_t i = 0;
    for (; name[i] && off + 1 < sizeof(buf); i++)
        buf[off++] = (char)toupper((unsigned char)name[i]);
    buf[off] = '\0';
    for (size_t c = 0; c < N_CAPS; c++)
        if (strcmp(buf, all_caps[c]) == 0)
            return (int)c;
    return -1;
}

/* Docker's rule: drop "ALL" empties the set first, add "ALL" fills it; then
 * the named adds and drops apply (a named add wins over drop ALL). */
static int compute_caps(json_t *config, bool privileged, bool set[N_CAPS], wharf_error *err)
{
    size_t kernel = kernel_cap_count();
    memset(set, 0, sizeof(bool) * N_CAPS);
    if (privileged) {
        for (size_t i = 0; i < kernel; i++)
            set[i] = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(docker_caps) / sizeof(docker_caps[0]); i++)
        set[cap_index(docker_caps[i])] = true;
    _cleanup_free_ const char **add = NULL, **drop = NULL;
    size_t nadd = 0, ndrop = 0;
    int r = wjson_string_array(config, "", "cap_add", false, &add, &nadd, err);
    if (r < 0)
        return r;
    r = wjson_string_array(config, "", "cap_drop", false, &drop, &ndrop, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ndrop; i++)
        if (strcasecmp(drop[i], "ALL") == 0)
            memset(set, 0, sizeof(bool) * N_CAPS);
    for (size_t i = 0; i < nadd; i++)
        if (strcasecmp(add[i], "ALL") == 0)
            for (size_t c = 0; c < kernel; c++)
                set[c] = true;
    for (size_t i = 0; i < ndrop; i++) {
        if (strcasecmp(drop[i], "ALL") == 0)
            continue;
        int c = cap_index(drop[i]);
        if (c < 0)
            return wharf_error_set(err, -EINVAL, "cap_drop: unknown capability \"%s\"", drop[i]);
        set[c] = false;
    }
    for (size_t i = 0; i < nadd; i++) {
        if (strcasecmp(add[i], "ALL") == 0)
            continue;
        int c = cap_index(add[i]);
        if (c < 0)
            return wharf_error_set(err, -EINVAL, "cap_add: unknown capability \"%s\"", add[i]);
        set[c] = true;
    }
    return 0;
}

static json_t *cap_array(const bool set[N_CAPS])
{
    json_t *a = json_array();
    for (size_t i = 0; i < N_CAPS; i++)
        if (set[i])
            json_array_append_new(a, json_string(all_caps[i]));
    return a;
}

static json_t *string_array(const char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(s[i]));
    return a;
}

static json_t *mount_obj(const char *dest, const char *type, const char *source, const char *opts)
{
    json_t *o = json_array();
    _cleanup_free_ char *copy = xstrdup(opts);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(o, json_string(t));
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
                     "options", o);
}

int cri_parse_signal(const char *s)
{
    if (!s || !*s)
        return -EINVAL;
    if (isdigit((unsigned char)s[0])) {
        char *end;
        long v = strtol(s, &end, 10);
        return (*end || v <= 0 || v >= NSIG) ? -EINVAL : (int)v;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev && strcasecmp(abbrev, s) == 0)
            return sig;
    }
    return -EINVAL;
}

/* Sets parent[key][sub] = value, creating the middle object. */
static void set_sub(json_t *parent, const char *key, const char *sub, json_t *value)
{
    json_t *o = json_object_get(parent, key);
    if (!o) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    json_object_set_new(o, sub, value);
}

json_t *cri_generate_resources(json_t *res, wharf_error *err)
{
    json_t *out = json_object();
    if (!res)
        return out;
    if (!json_is_object(res)) {
        json_decref(out);
        wharf_error_set(err, -EINVAL, "resources: expected an object");
        return NULL;
    }
    static const struct {
        const char *key, *group, *field;
        bool positive_only;
    } ints[] = {
        {"memory", "memory", "limit", true},
        {"memory_reservation", "memory", "reservation", true},
        {"memory_swap", "memory", "swap", false}, /* -1 = unlimited */
        {"cpu_shares", "cpu", "shares", true},
        {"cpu_quota", "cpu", "quota", false},
        {"cpu_period", "cpu", "period", true},
        {"pids_limit", "pids", "limit", false},
        {"blkio_weight", "blockIO", "weight", true},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int64_t v;
        bool present = false;
        if (wjson_int64(res, "resources", ints[i].key, &v, &present, err) < 0)
            goto fail;
        if (!present || (v == 0 && ints[i].positive_only))
            continue;
        if (v < 0 && ints[i].positive_only) {
            wharf_error_set(err, -EINVAL, "resources.%s: must not be negative", ints[i].key);
            goto fail;
        }
        set_sub(out, ints[i].group, ints[i].field, json_integer(v));
    }
    const char *cpus = NULL, *mems = NULL;
    if (wjson_string(res, "resources", "cpuset_cpus", false, &cpus, err) < 0 ||
        wjson_string(res, "resources", "cpuset_mems", false, &mems, err) < 0)
        goto fail;
    if (cpus && *cpus)
        set_sub(out, "cpu", "cpus", json_string(cpus));
    if (mems && *mems)
        set_sub(out, "cpu", "mems", json_string(mems));
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* Docker's default device allow-list: mknod of anything, and rw of the
 * standard character devices and ptys. */
static json_t *device_rules(bool privileged)
{
    if (privileged)
        return json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm");
    json_t *a = json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm");
    json_array_append_new(a, json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "c", "access", "m"));
    json_array_append_new(a, json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "b", "access", "m"));
    static const int devs[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}};
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
        json_array_append_new(a, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", "c",
                                           "major", (json_int_t)devs[i][0], "minor",
                                           (json_int_t)devs[i][1], "access", "rwm"));
    json_array_append_new(a, json_pack("{s:b, s:s, s:I, s:s}", "allow", 1, "type", "c", "major",
                                       (json_int_t)136, "access", "rwm"));
    return a;
}

/* Privileged containers see the host's devices (the top level of /dev, as
 * Docker does), minus the ones every container gets anyway. */
static json_t *host_devices(void)
{
    json_t *a = json_array();
    DIR *d = opendir("/dev");
    if (!d)
        return a;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        char path[300];
        snprintf(path, sizeof(path), "/dev/%s", de->d_name);
        if (lstat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
            continue;
        static const char *const skip[] = {"null", "zero", "full", "random", "urandom",
                                           "tty",  "console", "ptmx"};
        bool skipped = false;
        for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
            skipped |= strcmp(de->d_name, skip[i]) == 0;
        if (skipped)
            continue;
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", path, "type",
                         S_ISCHR(st.st_mode) ? "c" : "b", "major", (json_int_t)major(st.st_rdev),
                         "minor", (json_int_t)minor(st.st_rdev), "fileMode",
                         (json_int_t)(st.st_mode & 07777), "uid", (json_int_t)st.st_uid, "gid",
                         (json_int_t)st.st_gid));
    }
    closedir(d);
    return a;
}

static int add_user_mounts(json_t *mounts, json_t *config, wharf_error *err)
{
    json_t *list = NULL;
    int r = wjson_array(config, "", "mounts", false, &list, err);
    if (r < 0 || !list)
        return r;
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        char where[32];
        snprintf(where, sizeof(where), "mounts[%zu]", i);
        if (!json_is_object(m))
            return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
        const char *type = "bind", *source = NULL, *dest = NULL;
        bool ro = false;
        _cleanup_free_ const char **opts = NULL;
        size_t nopts = 0;
        if ((r = wjson_string(m, where, "type", false, &type, err)) < 0 ||
            (r = wjson_string(m, where, "source", false, &source, err)) < 0 ||
            (r = wjson_string(m, where, "destination", true, &dest, err)) < 0 ||
            (r = wjson_bool(m, where, "readonly", &ro, err)) < 0 ||
            (r = wjson_string_array(m, where, "options", false, &opts, &nopts, err)) < 0)
            return r;
        if (dest[0] != '/')
            return wharf_error_set(err, -EINVAL, "%s.destination: \"%s\" is not absolute", where,
                                   dest);
        json_t *o = json_array();
        json_t *mount;
        if (strcmp(type, "bind") == 0 || strcmp(type, "volume") == 0) {
            if (!source || source[0] != '/') {
                json_decref(o);
                return wharf_error_set(err, -EINVAL, "%s.source: a %s needs an absolute host path",
                                       where, type);
            }
            json_array_append_new(o, json_string("rbind"));
            json_array_append_new(o, json_string(ro ? "ro" : "rw"));
            bool propagation = false;
            for (size_t k = 0; k < nopts; k++)
                propagation |= strstr(opts[k], "private") || strstr(opts[k], "shared") ||
                               strstr(opts[k], "slave");
            if (!propagation)
                json_array_append_new(o, json_string("rprivate"));
            mount = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", "bind", "source",
                              source);
        } else if (strcmp(type, "tmpfs") == 0) {
            json_array_append_new(o, json_string("nosuid"));
            json_array_append_new(o, json_string("nodev"));
            json_array_append_new(o, json_string("noexec"));
            if (ro)
                json_array_append_new(o, json_string("ro"));
            mount = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", "tmpfs", "source",
                              "tmpfs");
        } else {
            json_decref(o);
            return wharf_error_set(err, -EINVAL,
                                   "%s.type: \"%s\" is not bind, volume or tmpfs", where, type);
        }
        for (size_t k = 0; k < nopts; k++)
            json_array_append_new(o, json_string(opts[k]));
        json_object_set_new(mount, "options", o);
        /* A user mount over a default destination replaces the default. */
        size_t j;
        json_t *old;
        json_array_foreach(mounts, j, old)
        {
            if (strcmp(json_string_value(json_object_get(old, "destination")), dest) == 0) {
                json_array_remove(mounts, j);
                break;
            }
        }
        json_array_append_new(mounts, mount);
    }
    return 0;
}

static const char *const ulimit_names[][2] = {
    {"core", "RLIMIT_CORE"},       {"cpu", "RLIMIT_CPU"},         {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},     {"locks", "RLIMIT_LOCKS"},     {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},     {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},     {"rss", "RLIMIT_RSS"},         {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},   {"sigpending", "RLIMIT_SIGPENDING"}, {"stack", "RLIMIT_STACK"},
    {"as", "RLIMIT_AS"},
};

static int add_rlimits(json_t *process, json_t *config, wharf_error *err)
{
    json_t *list = NULL;
    int r = wjson_array(config, "", "ulimits", false, &list, err);
    if (r < 0 || !list)
        return r;
    json_t *out = json_array();
    json_object_set_new(process, "rlimits", out);
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u)
    {
        char where[32];
        snprintf(where, sizeof(where), "ulimits[%zu]", i);
        const char *name = NULL;
        uint64_t soft = 0, hard = 0;
        bool has_soft = false, has_hard = false;
        if (!json_is_object(u))
            return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
        if ((r = wjson_string(u, where, "name", true, &name, err)) < 0 ||
            (r = wjson_uint64(u, where, "soft", &soft, &has_soft, err)) < 0 ||
            (r = wjson_uint64(u, where, "hard", &hard, &has_hard, err)) < 0)
            return r;
        const char *type = NULL;
        for (size_t k = 0; k < sizeof(ulimit_names) / sizeof(ulimit_names[0]); k++)
            if (strcasecmp(name, ulimit_names[k][0]) == 0 ||
                strcasecmp(name, ulimit_names[k][1]) == 0)
                type = ulimit_names[k][1];
        if (!type)
            return wharf_error_set(err, -EINVAL, "%s.name: unknown ulimit \"%s\"", where, name);
        if (!has_soft && !has_hard)
            return wharf_error_set(err, -EINVAL, "%s: soft or hard is required", where);
        if (!has_soft)
            soft = hard;
        if (!has_hard)
            hard = soft;
        if (soft > hard)
            return wharf_error_set(err, -EINVAL, "%s: soft limit above the hard limit", where);
        json_array_append_new(out, json_pack("{s:s, s:I, s:I}", "type", type, "soft",
                                             (json_int_t)soft, "hard", (json_int_t)hard));
    }
    return 0;
}

/* "sandbox" (the default) joins path; "host" adds nothing; "private" a new
 * one; for the network, an absolute path joins that namespace file (one the
 * caller prepared, e.g. a bind-mounted netns with its interfaces set up). */
static int add_namespace(json_t *list, json_t *modes, const char *type, const char *key,
                         const char *join_path, const char *dflt, wharf_error *err)
{
    const char *mode = dflt;
    if (modes && wjson_string(modes, "namespaces", key, false, &mode, err) < 0)
        return -EINVAL;
    if (strcmp(mode, "host") == 0)
        return 0;
    if (mode[0] == '/' && strcmp(key, "network") == 0) {
        json_array_append_new(list, json_pack("{s:s, s:s}", "type", type, "path", mode));
        return 0;
    }
    if (strcmp(mode, "sandbox") == 0 && join_path) {
        json_array_append_new(list, json_pack("{s:s, s:s}", "type", type, "path", join_path));
        return 0;
    }
    if (strcmp(mode, "sandbox") != 0 && strcmp(mode, "private") != 0)
        return wharf_error_set(err, -EINVAL,
                               "namespaces.%s: \"%s\" is not sandbox, private or host%s", key, mode,
                               strcmp(key, "network") == 0 ? " (or an absolute path)" : "");
    json_array_append_new(list, json_pack("{s:s}", "type", type));
    return 0;
}

bool cri_namespace_is_host(json_t *config, const char *key)
{
    json_t *modes = json_object_get(config, "namespaces");
    const char *mode = json_string_value(json_object_get(modes, key));
    return mode && strcmp(mode, "host") == 0;
}

static int build_process(json_t *spec, json_t *config, const struct cri_spec_context *ctx,
                         bool privileged, wharf_error *err)
{
    json_t *process = json_object();
    json_object_set_new(spec, "process", process);
    _cleanup_free_ const char **args = NULL, **env = NULL;
    size_t nargs = 0, nenv = 0;
    int r = wjson_string_array(config, "", "args", true, &args, &nargs, err);
    if (r < 0)
        return r;
    if (nargs == 0)
        return wharf_error_set(err, -EINVAL, "args: at least one argument is required");
    if ((r = wjson_string_array(config, "", "env", false, &env, &nenv, err)) < 0)
        return r;
    const char *init = NULL, *cwd = "/";
    bool tty = false, nnp = false;
    if ((r = wjson_string(config, "", "init", false, &init, err)) < 0 ||
        (r = wjson_string(config, "", "working_dir", false, &cwd, err)) < 0 ||
        (r = wjson_bool(config, "", "tty", &tty, err)) < 0 ||
        (r = wjson_bool(config, "", "no_new_privileges", &nnp, err)) < 0)
        return r;
    if (!*cwd)
        cwd = "/";
    if (cwd[0] != '/')
        return wharf_error_set(err, -EINVAL, "working_dir: \"%s\" is not absolute", cwd);

    json_t *a = json_array();
    if (init && *init) {
        json_array_append_new(a, json_string("/dev/init"));
        json_array_append_new(a, json_string("--"));
    }
    for (size_t i = 0; i < nargs; i++)
        json_array_append_new(a, json_string(args[i]));
    json_object_set_new(process, "args", a);

    json_t *e = json_array();
    bool has_path = false, has_hostname = false, has_term = false;
    for (size_t i = 0; i < nenv; i++) {
        if (!strchr(env[i], '='))
            return json_decref(e),
                   wharf_error_set(err, -EINVAL, "env[%zu]: \"%s\" is not K=V", i, env[i]);
        has_path |= strncmp(env[i], "PATH=", 5) == 0;
        has_hostname |= strncmp(env[i], "HOSTNAME=", 9) == 0;
        has_term |= strncmp(env[i], "TERM=", 5) == 0;
    }
    if (!has_path)
        json_array_append_new(
            e, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    if (!has_hostname && ctx->hostname)
        json_array_append_new(e, json_sprintf("HOSTNAME=%s", ctx->hostname));
    if (!has_term && tty)
        json_array_append_new(e, json_string("TERM=xterm"));
    for (size_t i = 0; i < nenv; i++)
        json_array_append_new(e, json_string(env[i]));
    json_object_set_new(process, "env", e);
    json_object_set_new(process, "cwd", json_string(cwd));
    json_object_set_new(process, "terminal", json_boolean(tty));
    json_t *size = NULL;
    if ((r = wjson_object(config, "", "console_size", false, &size, err)) < 0)
        return r;
    if (size && tty) {
        uint64_t h = 0, w = 0;
        if ((r = wjson_uint64(size, "console_size", "height", &h, NULL, err)) < 0 ||
            (r = wjson_uint64(size, "console_size", "width", &w, NULL, err)) < 0)
            return r;
        if (h > UINT16_MAX || w > UINT16_MAX)
            return wharf_error_set(err, -EINVAL,
                                   "console_size: %" PRIu64 "x%" PRIu64 " is out of range", h, w);
        if (h && w)
            json_object_set_new(
                process, "consoleSize",
                json_pack("{s:I, s:I}", "height", (json_int_t)h, "width", (json_int_t)w));
    }

    uint64_t uid = 0, gid = 0;
    json_t *user = NULL, *gids = NULL;
    if ((r = wjson_object(config, "", "user", false, &user, err)) < 0)
        return r;
    json_t *u = json_object();
    json_object_set_new(process, "user", u);
    if (user) {
        if ((r = wjson_uint64(user, "user", "uid", &uid, NULL, err)) < 0 ||
            (r = wjson_uint64(user, "user", "gid", &gid, NULL, err)) < 0 ||
            (r = wjson_array(user, "user", "additional_gids", false, &gids, err)) < 0)
            return r;
        if (uid > UINT32_MAX || gid > UINT32_MAX)
            return wharf_error_set(err, -EINVAL, "user: uid or gid out of range");
    }
    json_object_set_new(u, "uid", json_integer((json_int_t)uid));
    json_object_set_new(u, "gid", json_integer((json_int_t)gid));
    if (gids && json_array_size(gids)) {
        size_t i;
        json_t *g;
        json_array_foreach(gids, i, g)
        {
            if (!json_is_integer(g) || json_integer_value(g) < 0)
                return wharf_error_set(err, -EINVAL,
                                       "user.additional_gids[%zu]: expected a gid", i);
        }
        json_object_set(u, "additionalGids", gids);
    }

    bool caps[N_CAPS];
    if ((r = compute_caps(config, privileged, caps, err)) < 0)
        return r;
    json_object_set_new(process, "capabilities",
                        json_pack("{s:o, s:o, s:o}", "bounding", cap_array(caps), "effective",
                                  cap_array(caps), "permitted", cap_array(caps)));
    json_object_set_new(process, "noNewPrivileges", json_boolean(nnp));
    int64_t adj;
    bool has_adj = false;
    if ((r = wjson_int64(config, "", "oom_score_adj", &adj, &has_adj, err)) < 0)
        return r;
    if (has_adj) {
        if (adj < -1000 || adj > 1000)
            return wharf_error_set(err, -EINVAL, "oom_score_adj: %lld is not in -1000..1000",
                                   (long long)adj);
        json_object_set_new(process, "oomScoreAdj", json_integer(adj));
    }
    return add_rlimits(process, config, err);
}

json_t *cri_generate_spec(const struct cri_spec_context *ctx, json_t *config, wharf_error *err)
{
    if (!json_is_object(config)) {
        wharf_error_set(err, -EINVAL, "container config: expected a JSON object");
        return NULL;
    }
    _cleanup_json_ json_t *spec = json_object();
    bool privileged = false, ro_root = false;
    if (wjson_bool(config, "", "privileged", &privileged, err) < 0 ||
        wjson_bool(config, "", "readonly_rootfs", &ro_root, err) < 0)
        return NULL;
    json_object_set_new(spec, "ociVersion", json_string("1.2.0"));
    if (build_process(spec, config, ctx, privileged, err) < 0)
        return NULL;
    json_object_set_new(spec, "root",
                        json_pack("{s:s, s:b}", "path", ctx->rootfs, "readonly", ro_root));
    if (ctx->hostname)
        json_object_set_new(spec, "hostname", json_string(ctx->hostname));
    const char *domainname = NULL;
    if (wjson_string(config, "", "domainname", false, &domainname, err) < 0)
        return NULL;
    if (domainname && *domainname)
        json_object_set_new(spec, "domainname", json_string(domainname));

    json_t *mounts = json_array();
    json_object_set_new(spec, "mounts", mounts);
    json_array_append_new(mounts, mount_obj("/proc", "proc", "proc", "nosuid,noexec,nodev"));
    json_array_append_new(mounts, mount_obj("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
    json_array_append_new(mounts, mount_obj("/dev/pts", "devpts", "devpts",
                                            "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
    json_array_append_new(mounts, mount_obj("/sys", "sysfs", "sysfs",
                                            privileged ? "nosuid,noexec,nodev,rw"
                                                       : "nosuid,noexec,nodev,ro"));
    json_array_append_new(mounts, mount_obj("/sys/fs/cgroup", "cgroup", "cgroup",
                                            privileged ? "nosuid,noexec,nodev,relatime,rw"
                                                       : "nosuid,noexec,nodev,relatime,ro"));
    json_array_append_new(mounts, mount_obj("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
    json_array_append_new(mounts, mount_obj("/dev/shm", "tmpfs", "shm",
                                            "nosuid,noexec,nodev,mode=1777,size=67108864"));
    const char *init = NULL;
    if (wjson_string(config, "", "init", false, &init, err) < 0)
        return NULL;
    if (init && *init) {
        if (init[0] != '/') {
            wharf_error_set(err, -EINVAL, "init: \"%s\" is not an absolute host path", init);
            return NULL;
        }
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination",
                                                "/dev/init", "type", "bind", "source", init,
                                                "options", "bind", "ro", "rprivate"));
    }
    if (add_user_mounts(mounts, config, err) < 0)
        return NULL;

    json_t *annotations = NULL;
    if (wjson_object(config, "", "annotations", false, &annotations, err) < 0)
        return NULL;
    if (annotations)
        json_object_set(spec, "annotations", annotations);

    json_t *linux_obj = json_object();
    json_object_set_new(spec, "linux", linux_obj);
    json_t *ns = json_array();
    json_object_set_new(linux_obj, "namespaces", ns);
    json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
    json_t *modes = NULL;
    if (wjson_object(config, "", "namespaces", false, &modes, err) < 0 ||
        add_namespace(ns, modes, "network", "network", ctx->netns, "sandbox", err) < 0 ||
        add_namespace(ns, modes, "ipc", "ipc", ctx->ipcns, "sandbox", err) < 0 ||
        add_namespace(ns, modes, "uts", "uts", ctx->utsns, "sandbox", err) < 0 ||
        add_namespace(ns, modes, "pid", "pid", ctx->pidns, "private", err) < 0)
        return NULL;
    /* The runtime rejects a hostname or domain name without a UTS namespace
     * of our own. */
    size_t i;
    json_t *n;
    bool own_uts = false;
    json_array_foreach(ns, i, n)
    {
        own_uts |= strcmp(json_string_value(json_object_get(n, "type")), "uts") == 0 &&
                   !json_object_get(n, "path");
    }
    if (!own_uts) {
        json_object_del(spec, "hostname");
        json_object_del(spec, "domainname");
    }

    json_t *res = NULL;
    if (wjson_object(config, "", "resources", false, &res, err) < 0)
        return NULL;
    json_t *resources = cri_generate_resources(res, err);
    if (!resources)
        return NULL;
    json_object_set_new(resources, "devices", device_rules(privileged));
    json_object_set_new(linux_obj, "resources", resources);
    if (ctx->cgroups_path)
        json_object_set_new(linux_obj, "cgroupsPath", json_string(ctx->cgroups_path));
    json_t *sysctls = NULL;
    if (wjson_object(config, "", "sysctls", false, &sysctls, err) < 0)
        return NULL;
    if (sysctls) {
        const char *k;
        json_t *v;
        json_object_foreach(sysctls, k, v)
        {
            if (!json_is_string(v)) {
                wharf_error_set(err, -EINVAL, "sysctls.%s: expected a string", k);
                return NULL;
            }
        }
        json_object_set(linux_obj, "sysctl", sysctls);
    }
    if (privileged) {
        json_object_set_new(linux_obj, "devices", host_devices());
    } else {
        json_object_set_new(linux_obj, "maskedPaths",
                            string_array(masked_paths, sizeof(masked_paths) / sizeof(masked_paths[0])));
        json_object_set_new(linux_obj, "readonlyPaths",
                            string_array(readonly_paths,
                                         sizeof(readonly_paths) / sizeof(readonly_paths[0])));
    }
    json_t *seccomp = NULL;
    if (wjson_object(config, "", "seccomp", false, &seccomp, err) < 0)
        return NULL;
    if (seccomp && !privileged)
        json_object_set(linux_obj, "seccomp", seccomp);
    const char *stop_signal = NULL;
    if (wjson_string(config, "", "stop_signal", false, &stop_signal, err) < 0)
        return NULL;
    if (stop_signal && cri_parse_signal(stop_signal) < 0) {
        wharf_error_set(err, -EINVAL, "stop_signal: unknown signal \"%s\"", stop_signal);
        return NULL;
    }
    return steal_ptr(spec);
}
