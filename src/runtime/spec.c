/*
 * spec.c — loading config.json and checking it before anything is created,
 * so that bad input fails with one line naming the field and leaves no state,
 * cgroup or mount behind. Sections owned by other files are checked there
 * (rootfs_validate, security_*_validate); resources are checked when the
 * cgroup module applies them.
 */
#include "internal.h"
#include "rootfs.h"
#include "security.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

static const struct {
    const char *type;
    int flag;
} namespace_types[] = {
    /* The order is the order of joining: user first, so the others are
     * joined with the capabilities of the container's user namespace; mount
     * last, since joining it changes what paths mean. */
    {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"network", CLONE_NEWNET},   {"pid", CLONE_NEWPID},
    {"time", CLONE_NEWTIME}, {"mount", CLONE_NEWNS},
};

int spec_namespace_flag(const char *type)
{
    for (size_t i = 0; i < sizeof(namespace_types) / sizeof(namespace_types[0]); i++)
        if (strcmp(namespace_types[i].type, type) == 0)
            return namespace_types[i].flag;
    return 0;
}

int spec_namespaces(json_t *spec, struct spec_namespace *out, size_t *count, wharf_error *err)
{
    json_t *linux_obj = NULL, *arr = NULL;
    int r = wjson_object(spec, "", "linux", false, &linux_obj, err);
    if (r < 0)
        return r;
    if (linux_obj && (r = wjson_array(linux_obj, "linux", "namespaces", false, &arr, err)) < 0)
        return r;
    struct spec_namespace found[SPEC_MAX_NAMESPACES];
    size_t n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char where[64];
        snprintf(where, sizeof(where), "linux.namespaces[%zu]", i);
        if (!json_is_object(e))
            return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
        const char *type = NULL, *path = NULL;
        if ((r = wjson_string(e, where, "type", true, &type, err)) < 0 ||
            (r = wjson_string(e, where, "path", false, &path, err)) < 0)
            return r;
        int flag = spec_namespace_flag(type);
        if (!flag)
            return wharf_error_set(err, -EINVAL, "%s.type: unknown namespace type '%s'", where,
                                   type);
        for (size_t k = 0; k < n; k++)
            if (found[k].flag == flag)
                return wharf_error_set(err, -EINVAL, "%s.type: namespace '%s' listed twice", where,
                                       type);
        if (path && *path && path[0] != '/')
            return wharf_error_set(err, -EINVAL, "%s.path: must be an absolute path", where);
        if (path && *path && access(path, F_OK) < 0)
            return wharf_error_errno(err, errno, "%s.path: %s", where, path);
        found[n++] = (struct spec_namespace){flag, type, path && *path ? path : NULL};
    }
    /* Emit in joining order. */
    size_t m = 0;
    for (size_t t = 0; t < sizeof(namespace_types) / sizeof(namespace_types[0]); t++)
        for (size_t k = 0; k < n; k++)
            if (found[k].flag == namespace_types[t].flag)
                out[m++] = found[k];
    *count = m;
    return 0;
}

static int validate_user(json_t *process, const char *where, wharf_error *err)
{
    json_t *user = NULL;
    char w[128];
    snprintf(w, sizeof(w), "%s.user", where);
    int r = wjson_object(process, where, "user", false, &user, err);
    if (r < 0 || !user)
        return r;
    uint64_t v;
    bool have;
    if ((r = wjson_uint64(user, w, "uid", &v, &have, err)) < 0 ||
        (r = wjson_uint64(user, w, "gid", &v, &have, err)) < 0 ||
        (r = wjson_uint64(user, w, "umask", &v, &have, err)) < 0)
        return r;
    json_t *gids = NULL;
    if ((r = wjson_array(user, w, "additionalGids", false, &gids, err)) < 0)
        return r;
    size_t i;
    json_t *g;
    json_array_foreach(gids, i, g)
    {
        if (!json_is_integer(g) || json_integer_value(g) < 0)
            return wharf_error_set(err, -EINVAL, "%s.additionalGids[%zu]: expected a gid", w, i);
    }
    return 0;
}

int spec_validate_process(json_t *process, const char *where, wharf_error *err)
{
    const char **args = NULL;
    size_t nargs = 0;
    int r = wjson_string_array(process, where, "args", true, &args, &nargs, err);
    free(args);
    if (r < 0)
        return r;
    if (nargs == 0)
        return wharf_error_set(err, -EINVAL, "%s.args: must not be empty", where);
    const char **env = NULL;
    if ((r = wjson_string_array(process, where, "env", false, &env, NULL, err)) < 0)
        return r;
    free(env);
    const char *cwd = NULL;
    if ((r = wjson_string(process, where, "cwd", true, &cwd, err)) < 0)
        return r;
    if (cwd[0] != '/')
        return wharf_error_set(err, -EINVAL, "%s.cwd: must be an absolute path", where);
    bool b;
    int64_t i64;
    bool have;
    if ((r = wjson_bool(process, where, "terminal", &b, err)) < 0 ||
        (r = wjson_bool(process, where, "noNewPrivileges", &b, err)) < 0 ||
        (r = wjson_int64(process, where, "oomScoreAdj", &i64, &have, err)) < 0)
        return r;
    if (have && (i64 < -1000 || i64 > 1000))
        return wharf_error_set(err, -EINVAL, "%s.oomScoreAdj: must be between -1000 and 1000",
                               where);
    if ((r = validate_user(process, where, err)) < 0)
        return r;
    json_t *caps = NULL, *rlimits = NULL;
    if ((r = wjson_object(process, where, "capabilities", false, &caps, err)) < 0 ||
        (r = security_caps_validate(caps, err)) < 0 ||
        (r = wjson_array(process, where, "rlimits", false, &rlimits, err)) < 0 ||
        (r = security_rlimits_validate(rlimits, err)) < 0)
        return r;
    return 0;
}

static int validate_mappings(json_t *linux_obj, const char *key, wharf_error *err)
{
    json_t *arr = NULL;
    int r = wjson_array(linux_obj, "linux", key, false, &arr, err);
    if (r < 0 || !arr)
        return r;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        char w[64];
        snprintf(w, sizeof(w), "linux.%s[%zu]", key, i);
        uint64_t v;
        bool have;
        const char *fields[] = {"containerID", "hostID", "size"};
        for (size_t f = 0; f < 3; f++) {
            if ((r = wjson_uint64(m, w, fields[f], &v, &have, err)) < 0)
                return r;
            if (!have)
                return wharf_error_set(err, -EINVAL, "%s.%s: required field is missing", w,
                                       fields[f]);
        }
    }
    return 0;
}

static int validate_hooks(json_t *spec, wharf_error *err)
{
    static const char *kinds[] = {"prestart",       "createRuntime", "createContainer",
                                  "startContainer", "poststart",     "poststop"};
    json_t *hooks = NULL;
    int r = wjson_object(spec, "", "hooks", false, &hooks, err);
    if (r < 0 || !hooks)
        return r;
    const char *key;
    json_t *v;
    json_object_foreach(hooks, key, v)
    {
        bool known = false;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            known |= strcmp(kinds[k], key) == 0;
        if (!known)
            return wharf_error_set(err, -EINVAL, "hooks.%s: unknown hook kind", key);
        json_t *arr;
        if ((r = wjson_array(hooks, "hooks", key, false, &arr, err)) < 0)
            return r;
        size_t i;
        json_t *h;
        json_array_foreach(arr, i, h)
        {
            char w[64];
            snprintf(w, sizeof(w), "hooks.%s[%zu]", key, i);
            const char *path = NULL;
            const char **sv = NULL;
            int64_t timeout = 0;
            bool have = false;
            if ((r = wjson_string(h, w, "path", true, &path, err)) < 0)
                return r;
            if (path[0] != '/')
                return wharf_error_set(err, -EINVAL, "%s.path: must be an absolute path", w);
            if ((r = wjson_string_array(h, w, "args", false, &sv, NULL, err)) < 0)
                return r;
            free(sv);
            sv = NULL;
            if ((r = wjson_string_array(h, w, "env", false, &sv, NULL, err)) < 0)
                return r;
            free(sv);
            if ((r = wjson_int64(h, w, "timeout", &timeout, &have, err)) < 0)
                return r;
            if (have && timeout <= 0)
                return wharf_error_set(err, -EINVAL, "%s.timeout: must be greater than zero", w);
        }
    }
    return 0;
}

int spec_validate(json_t *spec, const char *bundle, wharf_error *err)
{
    if (!json_is_object(spec))
        return wharf_error_set(err, -EINVAL, "config.json: expected a JSON object");
    const char *version = NULL;
    int r = wjson_string(spec, "", "ociVersion", true, &version, err);
    if (r < 0)
        return r;
    if (strncmp(version, "1.", 2) != 0)
        return wharf_error_set(err, -EINVAL, "ociVersion: unsupported version '%s'", version);
    json_t *process = NULL, *linux_obj = NULL;
    if ((r = wjson_object(spec, "", "process", true, &process, err)) < 0 ||
        (r = spec_validate_process(process, "process", err)) < 0)
        return r;
    if ((r = wjson_object(spec, "", "linux", false, &linux_obj, err)) < 0)
        return r;
    struct spec_namespace ns[SPEC_MAX_NAMESPACES];
    size_t nns = 0;
    if ((r = spec_namespaces(spec, ns, &nns, err)) < 0)
        return r;
    bool new_uts = false, userns = false;
    for (size_t i = 0; i < nns; i++) {
        if (ns[i].flag == CLONE_NEWUTS && !ns[i].path)
            new_uts = true;
        if (ns[i].flag == CLONE_NEWUSER)
            userns = true;
    }
    const char *hostname = NULL, *domainname = NULL;
    if ((r = wjson_string(spec, "", "hostname", false, &hostname, err)) < 0 ||
        (r = wjson_string(spec, "", "domainname", false, &domainname, err)) < 0)
        return r;
    if (((hostname && *hostname) || (domainname && *domainname)) && !new_uts)
        return wharf_error_set(err, -EINVAL, "%s: setting it requires a new uts namespace",
                               hostname && *hostname ? "hostname" : "domainname");
    if (linux_obj) {
        if ((r = validate_mappings(linux_obj, "uidMappings", err)) < 0 ||
            (r = validate_mappings(linux_obj, "gidMappings", err)) < 0)
            return r;
        if (!userns && (json_array_size(json_object_get(linux_obj, "uidMappings")) ||
                        json_array_size(json_object_get(linux_obj, "gidMappings"))))
            return wharf_error_set(err, -EINVAL,
                                   "linux.uidMappings: mappings require a user namespace");
        json_t *sysctl = NULL, *seccomp = NULL, *resources = NULL;
        if ((r = wjson_object(linux_obj, "linux", "sysctl", false, &sysctl, err)) < 0)
            return r;
        const char *key;
        json_t *v;
        json_object_foreach(sysctl, key, v)
        {
            if (!json_is_string(v))
                return wharf_error_set(err, -EINVAL, "linux.sysctl.%s: expected a string", key);
            if (strstr(key, "..") || strchr(key, '/') || !*key)
                return wharf_error_set(err, -EINVAL, "linux.sysctl.%s: invalid name", key);
        }
        if ((r = wjson_object(linux_obj, "linux", "seccomp", false, &seccomp, err)) < 0 ||
            (r = security_seccomp_validate(seccomp, err)) < 0 ||
            (r = wjson_object(linux_obj, "linux", "resources", false, &resources, err)) < 0)
            return r;
        json_t *offsets = NULL;
        if ((r = wjson_object(linux_obj, "linux", "timeOffsets", false, &offsets, err)) < 0)
            return r;
        const char *clock;
        json_t *o;
        json_object_foreach(offsets, clock, o)
        {
            if (strcmp(clock, "monotonic") != 0 && strcmp(clock, "boottime") != 0)
                return wharf_error_set(err, -EINVAL,
                                       "linux.timeOffsets.%s: only monotonic and boottime", clock);
            char w[64];
            snprintf(w, sizeof(w), "linux.timeOffsets.%s", clock);
            int64_t v;
            bool have;
            if (!json_is_object(o))
                return wharf_error_set(err, -EINVAL, "%s: expected an object", w);
            if ((r = wjson_int64(o, w, "secs", &v, &have, err)) < 0 ||
                (r = wjson_int64(o, w, "nanosecs", &v, &have, err)) < 0)
                return r;
        }
        bool new_time = false;
        for (size_t i = 0; i < nns; i++)
            if (ns[i].flag == CLONE_NEWTIME && !ns[i].path)
                new_time = true;
        if (json_object_size(offsets) > 0 && !new_time)
            return wharf_error_set(err, -EINVAL,
                                   "linux.timeOffsets: offsets require a new time namespace");
        const char *cgpath = NULL;
        if ((r = wjson_string(linux_obj, "linux", "cgroupsPath", false, &cgpath, err)) < 0)
            return r;
    }
    if ((r = validate_hooks(spec, err)) < 0)
        return r;
    return rootfs_validate(spec, bundle, err);
}

json_t *spec_load(const char *bundle, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
    json_t *spec = wjson_load_file(path, err);
    if (!spec)
        return NULL;
    if (spec_validate(spec, bundle, err) < 0) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}
