/*
 * hostconfig.c — a create request's HostConfig (and the few Config fields
 * that behave like it) turned into the CRI container config, with dockerd's
 * checks and messages: resources (limits.c's), cpusets, ulimits, sysctls,
 * the OOM score, capabilities, security options, /dev/shm and tmpfs mounts,
 * and the syntax of -v specs (HostConfig.Binds: host paths and volume
 * names), whose mounts mounts.c makes. (The restart policy is monitor.c's.)
 *
 * Nothing here touches the container's root filesystem or the host.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- binds */

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static const char *const rw_modes[] = {"rw", "ro", NULL};
static const char *const label_modes[] = {"z", "Z", NULL};
static const char *const propagation_modes[] = {"private", "rprivate", "slave", "rslave",
                                                "shared",  "rshared",  NULL};
static const char *const copy_modes[] = {"nocopy", NULL};
static const char *const consistency_modes[] = {"consistent", "cached", "delegated", NULL};

/* Docker's linuxValidMountMode: known words, at most one of each kind. */
static bool valid_mode(const char *mode)
{
    if (!*mode)
        return true;
    int counts[5] = {0};
    const char *const *kinds[5] = {rw_modes, label_modes, propagation_modes, copy_modes,
                                   consistency_modes};
    _cleanup_free_ char *copy = xstrdup(mode);
    char *save = NULL;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < 5 && !in_list(o, kinds[k]))
            k++;
        if (k == 5 || ++counts[k] > 1)
            return false;
    }
    /* strtok_r skips empty words; docker refuses them ("ro,,z"). */
    return !strstr(mode, ",,") && mode[0] != ',' && mode[strlen(mode) - 1] != ',';
}

static bool mode_has(const char *mode, const char *word)
{
    _cleanup_free_ char *copy = xstrdup(mode);
    char *save = NULL;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
        if (strcmp(o, word) == 0)
            return true;
    return false;
}

static bool mode_names_propagation(const char *mode)
{
    for (size_t i = 0; propagation_modes[i]; i++)
        if (mode_has(mode, propagation_modes[i]))
            return true;
    return false;
}

static const char *mode_propagation(const char *mode)
{
    for (size_t i = 0; propagation_modes[i]; i++)
        if (mode_has(mode, propagation_modes[i]))
            return propagation_modes[i];
    return "rprivate";
}

char *dockerapi_clean_path(const char *p)
{
    /* path.Clean for absolute paths: no "//", "/./", trailing "/" or "..". */
    strbuf out = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(p);
    char *save = NULL;
    size_t *starts = xcalloc(strlen(p) + 1, sizeof(size_t));
    size_t depth = 0;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (depth > 0) {
                out.len = starts[--depth];
                out.buf[out.len] = '\0';
            }
            continue;
        }
        starts[depth++] = out.len;
        strbuf_addf(&out, "/%s", c);
    }
    free(starts);
    if (out.len == 0)
        strbuf_addch(&out, '/');
    return strbuf_detach(&out);
}

int dockerapi_parse_bind(const char *spec, struct dockerapi_bind *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *copy = xstrdup(spec);
    char *parts[4];
    size_t n = 0;
    char *p = copy;
    /* SplitN(spec, ":", 4) */
    while (n < 3) {
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = '\0';
        parts[n++] = p;
        p = colon + 1;
    }
    parts[n++] = p;
    if (!*parts[0] || n == 4 || n == 1)
        goto invalid; /* n == 1 is an anonymous volume, not a bind */
    const char *mode = n == 3 ? parts[2] : "";
    if (n == 2 && valid_mode(parts[1]))
        goto invalid; /* "/dst:ro": a destination and a mode */
    if (!valid_mode(mode))
        return wharf_error_set(err, -EINVAL, "invalid mode: %s", mode);
    /* A source that is not an absolute path names a volume (checked as a
     * name when the volume is made). */
    bool volume = parts[0][0] != '/';
    const char *type = volume ? "volume" : "bind";
    if (!*parts[1])
        goto invalid;
    if (parts[1][0] != '/')
        return wharf_error_set(err, -EINVAL,
                               "invalid volume specification: '%s': invalid mount config for "
                               "type \"%s\": invalid mount path: '%s' mount path must be "
                               "absolute",
                               spec, type, parts[1]);
    if (!volume && mode_has(mode, "nocopy"))
        return wharf_error_set(err, -EINVAL,
                               "invalid volume specification: '%s': invalid mount config for "
                               "type \"bind\": field VolumeOptions must not be specified",
                               spec);
    out->destination = dockerapi_clean_path(parts[1]);
    if (strcmp(out->destination, "/") == 0) {
        dockerapi_bind_release(out);
        return wharf_error_set(err, -EINVAL,
                               "invalid volume specification: '%s': invalid mount config for "
                               "type \"%s\": invalid specification: destination can't be '/'",
                               spec, type);
    }
    if (volume && mode_names_propagation(mode)) {
        dockerapi_bind_release(out);
        return wharf_error_set(err, -EINVAL,
                               "invalid volume specification: '%s': invalid mount config for "
                               "type \"volume\": field BindOptions must not be specified",
                               spec);
    }
    out->source = volume ? xstrdup(parts[0]) : dockerapi_clean_path(parts[0]);
    out->volume = volume;
    out->nocopy = volume && mode_has(mode, "nocopy");
    out->mode = xstrdup(mode);
    out->readonly = mode_has(mode, "ro");
    out->propagation = volume ? "" : mode_propagation(mode);
    return 0;
invalid:
    return wharf_error_set(err, -EINVAL, "invalid volume specification: '%s'", spec);
}

void dockerapi_bind_release(struct dockerapi_bind *b)
{
    free(b->source);
    free(b->destination);
    free(b->mode);
    memset(b, 0, sizeof(*b));
}

/* ---------------------------------------------------------------- tmpfs */

static const char *const tmpfs_flags[] = {
    "ro",         "rw",          "exec",          "noexec",   "suid",       "nosuid",
    "dev",        "nodev",       "sync",          "async",    "dirsync",    "mand",
    "nomand",     "atime",       "noatime",       "diratime", "nodiratime", "relatime",
    "norelatime", "strictatime", "nostrictatime", NULL};
static const char *const tmpfs_data[] = {
    "size=", "mode=", "uid=", "gid=", "nr_inodes=", "nr_blocks=", "mpol=", NULL};

static int tmpfs_options(const char *dest, const char *data, json_t **out, wharf_error *err)
{
    json_t *opts = json_array();
    _cleanup_free_ char *copy = xstrdup(data ? data : "");
    char *save = NULL;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        bool ok = in_list(o, tmpfs_flags);
        for (size_t i = 0; tmpfs_data[i] && !ok; i++)
            ok = strncmp(o, tmpfs_data[i], strlen(tmpfs_data[i])) == 0;
        if (!ok) {
            json_decref(opts);
            return wharf_error_set(err, -EINVAL, "invalid tmpfs option \"%s\" for %s", o, dest);
        }
        json_array_append_new(opts, json_string(o));
    }
    *out = opts;
    return 0;
}

/* ---------------------------------------------------------------- cpusets */

/* "0-2,4" within [0, limit): true when every listed number is. */
static bool cpuset_within(const char *list, const char *available, bool *syntax_ok)
{
    *syntax_ok = false;
    bool have[1024] = {false};
    /* the available set, in the same syntax */
    const char *p = available;
    while (*p && *p != '\n') {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (long i = a; i <= b && i < 1024; i++)
            if (i >= 0)
                have[i] = true;
        p = *end == ',' ? end + 1 : end;
    }
    bool all = true;
    p = list;
    if (!*p)
        return false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (*end == '-') {
            if (!isdigit((unsigned char)end[1]))
                return false;
            b = strtol(end + 1, &end, 10);
        }
        if (b < a || (*end && *end != ','))
            return false;
        for (long i = a; i <= b; i++)
            all &= i < 1024 && have[i];
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && !*p)
            return false;
    }
    *syntax_ok = true;
    return all;
}

static int check_cpuset(const char *value, const char *sysfile, const char *what,
                        const char *invalid_word, wharf_error *err)
{
    _cleanup_free_ char *available = NULL;
    wharf_error e = {0};
    if (wharf_read_file(sysfile, &available, NULL, &e) < 0)
        available = xstrdup("0");
    bool syntax_ok;
    bool ok = cpuset_within(value, available, &syntax_ok);
    if (!syntax_ok)
        return wharf_error_set(err, -EINVAL, "Invalid value %s for %s", value, invalid_word);
    if (!ok) {
        available[strcspn(available, "\n")] = '\0';
        return wharf_error_set(err, -EINVAL,
                               "Requested %s are not available - requested %s, "
                               "available: %s",
                               what, value, available);
    }
    return 0;
}

/* ---------------------------------------------------------------- security */

static int security_options(json_t *opts, json_t *cfg, wharf_error *err)
{
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o)
    {
        const char *opt = json_string_value(o);
        if (!opt)
            return wharf_error_set(err, -EINVAL, "SecurityOpt[%zu]: expected a string", i);
        if (strcmp(opt, "no-new-privileges") == 0) {
            json_object_set_new(cfg, "no_new_privileges", json_true());
            continue;
        }
        /* "key=value", or the legacy "key:value" */
        const char *sep = strchr(opt, '=');
        if (!sep)
            sep = strchr(opt, ':');
        if (!sep)
            return wharf_error_set(err, -EINVAL, "invalid --security-opt 1: \"%s\"", opt);
        _cleanup_free_ char *key = xasprintf("%.*s", (int)(sep - opt), opt);
        const char *value = sep + 1;
        if (strcmp(key, "no-new-privileges") == 0) {
            bool on;
            if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "t") == 0 ||
                strcmp(value, "T") == 0 || strcmp(value, "TRUE") == 0 || strcmp(value, "True") == 0)
                on = true;
            else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                     strcmp(value, "f") == 0 || strcmp(value, "F") == 0 ||
                     strcmp(value, "FALSE") == 0 || strcmp(value, "False") == 0)
                on = false;
            else
                return wharf_error_set(err, -EINVAL, "invalid --security-opt 2: \"%s\"", opt);
            json_object_set_new(cfg, "no_new_privileges", json_boolean(on));
        } else if ((strcmp(key, "seccomp") == 0 && strcmp(value, "unconfined") == 0) ||
                   (strcmp(key, "apparmor") == 0 && strcmp(value, "unconfined") == 0) ||
                   (strcmp(key, "label") == 0 && strcmp(value, "disable") == 0)) {
            /* Asks for no confinement: wharf applies no seccomp profile,
             * AppArmor profile or SELinux label, so there is nothing to undo. */
        } else {
            return wharf_error_set(err, -EINVAL,
                                   "invalid --security-opt 2: \"%s\": wharf supports "
                                   "no-new-privileges, seccomp=unconfined, apparmor=unconfined "
                                   "and label=disable",
                                   opt);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- the lot */

int dockerapi_check_cpuset(const char *value, bool mems, wharf_error *err)
{
    if (mems)
        return check_cpuset(value, "/sys/devices/system/node/online", "memory nodes", "cpuset mems",
                            err);
    return check_cpuset(value, "/sys/devices/system/cpu/online", "CPUs", "cpuset cpus", err);
}

static int add_limits(json_t *host, json_t *cfg, wharf_error *err)
{
    json_t *ulimits = json_object_get(host, "Ulimits");
    if (json_is_array(ulimits) && json_array_size(ulimits)) {
        json_t *out = json_array();
        json_object_set_new(cfg, "ulimits", out);
        size_t i;
        json_t *u;
        json_array_foreach(ulimits, i, u)
        {
            const char *name = json_string_value(json_object_get(u, "Name"));
            json_t *soft = json_object_get(u, "Soft"), *hard = json_object_get(u, "Hard");
            if (!name || !json_is_integer(soft) || !json_is_integer(hard))
                return wharf_error_set(err, -EINVAL,
                                       "HostConfig.Ulimits[%zu]: want {Name, Soft, Hard}", i);
            json_array_append_new(
                out, json_pack("{s:s, s:O, s:O}", "name", name, "soft", soft, "hard", hard));
        }
    }
    json_t *sysctls = json_object_get(host, "Sysctls");
    if (json_is_object(sysctls) && json_object_size(sysctls))
        json_object_set(cfg, "sysctls", sysctls);
    json_t *adj = json_object_get(host, "OomScoreAdj");
    if (json_is_integer(adj) && json_integer_value(adj) != 0) {
        json_int_t v = json_integer_value(adj);
        if (v < -1000 || v > 1000)
            return wharf_error_set(err, -EINVAL,
                                   "Invalid value %lld, range for oom score adj is [-1000, 1000]",
                                   (long long)v);
        json_object_set(cfg, "oom_score_adj", adj);
    }
    return 0;
}

static int add_mounts(json_t *host, json_t *cfg, wharf_error *err)
{
    json_t *mounts = json_array();
    json_object_set_new(cfg, "mounts", mounts);
    int r;
    /* /dev/shm first: a tmpfs or bind the user puts there replaces it. */
    json_t *shm = json_object_get(host, "ShmSize");
    if (json_is_integer(shm) && json_integer_value(shm) != 0) {
        json_int_t size = json_integer_value(shm);
        if (size < 0)
            return wharf_error_set(err, -EINVAL, "SHM size can not be less than 0");
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:[s, o]}", "type", "tmpfs",
                                                "destination", "/dev/shm", "options", "mode=1777",
                                                json_sprintf("size=%lld", (long long)size)));
    }
    json_t *tmpfs = json_object_get(host, "Tmpfs");
    const char *dest;
    json_t *data;
    json_object_foreach(tmpfs, dest, data)
    {
        json_t *opts = NULL;
        if (dest[0] != '/')
            return wharf_error_set(err, -EINVAL,
                                   "invalid mount config for type \"tmpfs\": invalid mount path: "
                                   "'%s' mount path must be absolute",
                                   dest);
        if ((r = tmpfs_options(dest, json_string_value(data), &opts, err)) < 0)
            return r;
        _cleanup_free_ char *clean = dockerapi_clean_path(dest);
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:o}", "type", "tmpfs", "destination",
                                                clean, "options", opts));
    }
    /* binds and volumes are mounts.c's (they need the image and the rootfs) */
    return 0;
}

int dockerapi_apply_host_config(struct dockerapi *api, json_t *host, json_t *cfg, wharf_error *err)
{
    if (!json_is_object(host))
        return 0;
    int r;
    if ((r = dockerapi_create_resources(host, cfg, err)) < 0 ||
        (r = add_limits(host, cfg, err)) < 0 || (r = add_mounts(host, cfg, err)) < 0 ||
        (r = security_options(json_object_get(host, "SecurityOpt"), cfg, err)) < 0)
        return r;
    if (json_is_true(json_object_get(host, "Privileged")))
        json_object_set_new(cfg, "privileged", json_true());
    if (json_is_true(json_object_get(host, "ReadonlyRootfs")))
        json_object_set_new(cfg, "readonly_rootfs", json_true());
    json_t *add = json_object_get(host, "CapAdd"), *drop = json_object_get(host, "CapDrop");
    if (json_is_array(add))
        json_object_set(cfg, "cap_add", add);
    if (json_is_array(drop))
        json_object_set(cfg, "cap_drop", drop);
    if (json_is_true(json_object_get(host, "Init")) && api->init_path)
        json_object_set_new(cfg, "init", json_string(api->init_path));
    return 0;
}
