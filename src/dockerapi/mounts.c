/*
 * mounts.c — a container's binds, volumes and --mount tmpfs mounts, the way
 * dockerd's registerMountPoints does them: the mount points of the
 * HostConfig.VolumesFrom containers, HostConfig.Binds (-v, which may replace
 * those), HostConfig.Mounts (--mount), then an anonymous volume for every
 * Config.Volumes entry (the request's and the image's VOLUMEs) that nothing
 * else covers; a volume that is new (or still empty) is first filled with
 * what the image has at that path (dockerd's populateVolumes, at create).
 *
 * Two steps around the root filesystem's mount: dockerapi_mounts_plan checks
 * everything without touching anything, so bad input leaves nothing behind;
 * dockerapi_mounts_apply then makes the volumes and bind sources. The mount
 * points end up in the container's metadata ("MountPoints"), which is what
 * inspect and ps show, how volumes.c knows who uses a volume, and which of
 * them were anonymous (those go with rm -v).
 */
#include "internal.h"
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- plan */

static int mount_config_error(wharf_error *err, const char *type, const char *fmt, ...)
    WHARF_PRINTF(3, 4);

/* dockerd's errMountConfig: "invalid mount config for type "T": ..." */
static int mount_config_error(wharf_error *err, const char *type, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return wharf_error_set(err, -EINVAL, "invalid mount config for type \"%s\": %s", type, msg);
}

static int no_plugin(const char *driver, wharf_error *err)
{
    return wharf_error_set(
        err, -ENOENT, "error looking up volume plugin %s: plugin \"%s\" not found", driver, driver);
}

static bool is_local_driver(const char *driver)
{
    return !driver || !*driver || strcmp(driver, VOLUME_DRIVER) == 0;
}

/* A volume name from a request: checked now, so that nothing is made for a
 * name the driver would refuse ("create NAME: ..." as dockerd says it). */
static int check_volume_name(const char *name, wharf_error *err)
{
    int r = volume_check_name(name, err);
    return r < 0 ? wharf_error_prefix(err, "create %s", name) : 0;
}

static json_t *recorded_mounts(json_t *meta);

static const char *str_or_empty(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* A bind or --mount takes its destination: twice is an error, but one a
 * --volumes-from container brought is replaced (its plan entry goes). */
static int take_destination(json_t *taken, json_t *tmpfs, const char *dest, const char *shown,
                            json_t *plan, wharf_error *err)
{
    json_t *was = json_object_get(taken, dest);
    if ((was && !json_is_string(was)) || json_object_get(tmpfs, dest))
        return wharf_error_set(err, -EINVAL, "Duplicate mount point: %s", shown);
    if (was) {
        size_t i;
        json_t *e;
        json_array_foreach(plan, i, e)
        {
            if (json_is_true(json_object_get(e, "from")) &&
                strcmp(json_string_value(json_object_get(e, "destination")), dest) == 0) {
                json_array_remove(plan, i);
                break;
            }
        }
    }
    json_object_set_new(taken, dest, json_true());
    return 0;
}

/* dockerd's ParseVolumesFrom: "container[:ro|rw]", and the mount points of
 * that container (its binds and volumes, no copy-up, read-only when asked)
 * first in the plan. */
static int plan_volumes_from(struct dockerapi *api, json_t *host, json_t *taken, json_t *plan,
                             wharf_error *err)
{
    json_t *from = json_object_get(host, "VolumesFrom");
    if (from && !json_is_null(from) && !json_is_array(from))
        return wharf_error_set(err, -EINVAL, "HostConfig.VolumesFrom: expected an array");
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        const char *spec = json_string_value(v);
        if (!spec || !*spec)
            return wharf_error_set(err, -EINVAL,
                                   "volumes-from specification cannot be an empty string");
        const char *colon = strchr(spec, ':');
        _cleanup_free_ char *ref =
            colon ? xasprintf("%.*s", (int)(colon - spec), spec) : xstrdup(spec);
        const char *mode = colon && colon[1] ? colon + 1 : "rw";
        if (strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0 && strcmp(mode, "z") != 0 &&
            strcmp(mode, "Z") != 0 && strcmp(mode, "ro,z") != 0 && strcmp(mode, "rw,z") != 0 &&
            strcmp(mode, "ro,Z") != 0 && strcmp(mode, "rw,Z") != 0)
            return wharf_error_set(err, -EINVAL, "invalid mode: %s", mode);
        bool ro = strncmp(mode, "ro", 2) == 0;
        char id[65];
        struct cri_container_status st;
        if (!api || !api->cri || dockerapi_resolve(api, ref, id) < 0 ||
            cri_container_status(api->cri, id, &st, err) < 0)
            return wharf_error_set(err, -EINVAL, "No such container: %s", ref);
        _cleanup_json_ json_t *meta = dockerapi_meta(&st);
        cri_container_status_release(&st);
        _cleanup_json_ json_t *points = recorded_mounts(meta);
        size_t k;
        json_t *p;
        json_array_foreach(points, k, p)
        {
            const char *type = json_string_value(json_object_get(p, "Type"));
            const char *dest = json_string_value(json_object_get(p, "Destination"));
            if (!type || !dest || strcmp(type, "tmpfs") == 0)
                continue; /* a tmpfs is the container's own */
            bool rw = json_is_true(json_object_get(p, "RW")) && !ro;
            bool volume = strcmp(type, "volume") == 0;
            json_t *e = json_pack(
                "{s:s, s:s, s:s, s:b, s:s, s:s, s:b, s:b, s:b}", "kind", volume ? "volume" : "bind",
                "source", str_or_empty(json_object_get(p, volume ? "Name" : "Source")),
                "destination", dest, "readonly", !rw, "mode", "", "propagation",
                str_or_empty(json_object_get(p, "Propagation")), "copy", 0, "from", 1, "anonymous",
                json_is_true(json_object_get(p, "Anonymous")));
            /* a later --volumes-from for the same path wins, as in dockerd */
            json_object_del(taken, dest);
            size_t j;
            json_t *old;
            json_array_foreach(plan, j, old)
            {
                if (strcmp(json_string_value(json_object_get(old, "destination")), dest) == 0) {
                    json_array_remove(plan, j);
                    break;
                }
            }
            json_object_set_new(taken, dest, json_string("from"));
            json_array_append_new(plan, e);
        }
    }
    return 0;
}

static int plan_binds(json_t *host, json_t *taken, json_t *tmpfs, const char *vdriver, json_t *plan,
                      wharf_error *err)
{
    json_t *binds = json_object_get(host, "Binds");
    if (binds && !json_is_null(binds) && !json_is_array(binds))
        return wharf_error_set(err, -EINVAL, "HostConfig.Binds: expected an array of strings");
    size_t i;
    json_t *b;
    json_array_foreach(binds, i, b)
    {
        if (!json_is_string(b))
            return wharf_error_set(err, -EINVAL, "HostConfig.Binds[%zu]: expected a string", i);
        struct dockerapi_bind bind;
        int r = dockerapi_parse_bind(json_string_value(b), &bind, err);
        if (r < 0)
            return r;
        if ((r = take_destination(taken, tmpfs, bind.destination, bind.destination, plan, err)) ==
                0 &&
            bind.volume) {
            if (!is_local_driver(vdriver))
                r = no_plugin(vdriver, err);
            else
                r = check_volume_name(bind.source, err);
        }
        if (r == 0 && bind.volume)
            /* dockerd gives local volumes the mode "z" when none is given */
            json_array_append_new(plan, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:b}", "kind",
                                                  "volume", "source", bind.source, "destination",
                                                  bind.destination, "readonly", bind.readonly,
                                                  "mode", *bind.mode ? bind.mode : "z",
                                                  "propagation", "", "copy", !bind.nocopy));
        else if (r == 0)
            json_array_append_new(plan,
                                  json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:b}", "kind", "bind",
                                            "source", bind.source, "destination", bind.destination,
                                            "readonly", bind.readonly, "mode", bind.mode,
                                            "propagation", bind.propagation, "make_source", 1));
        dockerapi_bind_release(&bind);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A member that must be an object when present; *out borrowed or NULL. */
static int optional_object(json_t *m, const char *where, const char *key, json_t **out,
                           wharf_error *err)
{
    json_t *v = json_object_get(m, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return wharf_error_set(err, -EINVAL, "%s.%s: expected an object", where, key);
    *out = v;
    return 0;
}

static int string_map(json_t *obj, const char *where, json_t **out, wharf_error *err)
{
    *out = NULL;
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return wharf_error_set(err, -EINVAL, "%s: expected an object of strings", where);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v))
            return wharf_error_set(err, -EINVAL, "%s.%s: expected a string", where, k);
    }
    *out = obj;
    return 0;
}

static const char *const propagations[] = {"private", "rprivate", "slave", "rslave",
                                           "shared",  "rshared",  NULL};

static int plan_bind_mount(json_t *m, const char *where, const char *source, const char *dest,
                           bool ro, json_t *plan, wharf_error *err)
{
    json_t *bopts, *vopts, *topts;
    int r;
    if ((r = optional_object(m, where, "BindOptions", &bopts, err)) < 0 ||
        (r = optional_object(m, where, "VolumeOptions", &vopts, err)) < 0 ||
        (r = optional_object(m, where, "TmpfsOptions", &topts, err)) < 0)
        return r;
    if (!*source)
        return mount_config_error(err, "bind", "field Source must not be empty");
    const char *prop = json_string_value(json_object_get(bopts, "Propagation"));
    if (prop && *prop) {
        bool known = false;
        for (size_t i = 0; propagations[i] && !known; i++)
            known = strcmp(prop, propagations[i]) == 0;
        if (!known)
            return mount_config_error(err, "bind", "invalid propagation mode: %s", prop);
    }
    if (vopts)
        return mount_config_error(err, "bind", "field VolumeOptions must not be specified");
    if (topts)
        return mount_config_error(err, "bind", "field TmpfsOptions must not be specified");
    if (source[0] != '/')
        return mount_config_error(err, "bind",
                                  "invalid mount path: '%s' mount path must be absolute", source);
    bool create = json_is_true(json_object_get(bopts, "CreateMountpoint"));
    struct stat st;
    if (!create && stat(source, &st) < 0)
        return mount_config_error(err, "bind", "bind source path does not exist: %s", source);
    /* The container layer binds recursively, and makes a read-only bind
     * read-only at its top only: refuse what asks otherwise. */
    if (json_is_true(json_object_get(bopts, "NonRecursive")))
        return mount_config_error(err, "bind", "non-recursive binds are not supported by wharf");
    if (json_is_true(json_object_get(bopts, "ReadOnlyForceRecursive")))
        return mount_config_error(err, "bind",
                                  "recursively read-only binds are not supported by wharf");
    _cleanup_free_ char *clean = dockerapi_clean_path(source);
    json_array_append_new(
        plan, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:b}", "kind", "bind", "source", clean,
                        "destination", dest, "readonly", ro, "mode", "", "propagation",
                        prop && *prop ? prop : "rprivate", "make_source", create));
    return 0;
}

static int plan_volume_mount(json_t *m, const char *where, const char *source, const char *dest,
                             bool ro, const char *vdriver, json_t *plan, wharf_error *err)
{
    json_t *bopts, *vopts, *topts, *driver_cfg = NULL, *labels = NULL, *options = NULL;
    int r;
    if ((r = optional_object(m, where, "BindOptions", &bopts, err)) < 0 ||
        (r = optional_object(m, where, "VolumeOptions", &vopts, err)) < 0 ||
        (r = optional_object(m, where, "TmpfsOptions", &topts, err)) < 0)
        return r;
    if (bopts)
        return mount_config_error(err, "volume", "field BindOptions must not be specified");
    if (topts)
        return mount_config_error(err, "volume", "field TmpfsOptions must not be specified");
    bool anonymous = !*source;
    const char *subpath = json_string_value(json_object_get(vopts, "Subpath"));
    if (subpath && *subpath) {
        if (anonymous)
            return mount_config_error(err, "volume",
                                      "must not set Subpath when using anonymous volumes");
        return mount_config_error(err, "volume", "volume subpaths are not supported by wharf");
    }
    if (ro && anonymous)
        return mount_config_error(err, "volume",
                                  "must not set ReadOnly mode when using anonymous volumes");
    _cleanup_free_ char *w = xasprintf("%s.VolumeOptions", where);
    if ((r = optional_object(vopts, w, "DriverConfig", &driver_cfg, err)) < 0 ||
        (r = string_map(json_object_get(vopts, "Labels"), "VolumeOptions.Labels", &labels, err)) <
            0 ||
        (r = string_map(json_object_get(driver_cfg, "Options"), "DriverConfig.Options", &options,
                        err)) < 0)
        return r;
    const char *driver = json_string_value(json_object_get(driver_cfg, "Name"));
    if (!driver || !*driver)
        driver = vdriver;
    if (!is_local_driver(driver))
        return no_plugin(driver, err);
    if (!anonymous && (r = check_volume_name(source, err)) < 0)
        return r;
    json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:b}", "kind", "volume", "source", source,
                          "destination", dest, "readonly", ro, "mode", "z", "propagation", "",
                          "copy", !json_is_true(json_object_get(vopts, "NoCopy")));
    if (labels)
        json_object_set(e, "labels", labels);
    if (options)
        json_object_set(e, "options", options);
    json_array_append_new(plan, e);
    return 0;
}

/* dockerd's ConvertTmpfsOptions: a size in the largest unit dividing it. */
static int plan_tmpfs_mount(json_t *m, const char *where, const char *source, const char *dest,
                            bool ro, json_t *plan, wharf_error *err)
{
    json_t *bopts, *vopts, *topts;
    int r;
    if ((r = optional_object(m, where, "BindOptions", &bopts, err)) < 0 ||
        (r = optional_object(m, where, "VolumeOptions", &vopts, err)) < 0 ||
        (r = optional_object(m, where, "TmpfsOptions", &topts, err)) < 0)
        return r;
    if (bopts)
        return mount_config_error(err, "tmpfs", "field BindOptions must not be specified");
    if (vopts)
        return mount_config_error(err, "tmpfs", "field VolumeOptions must not be specified");
    if (*source)
        return mount_config_error(err, "tmpfs", "field Source must not be specified");
    json_t *opts = json_array();
    json_t *jmode = json_object_get(topts, "Mode"), *jsize = json_object_get(topts, "SizeBytes");
    if ((jmode && !json_is_integer(jmode)) || (jsize && !json_is_integer(jsize))) {
        json_decref(opts);
        return wharf_error_set(err, -EINVAL, "%s.TmpfsOptions: Mode and SizeBytes are integers",
                               where);
    }
    if (json_integer_value(jmode) != 0)
        json_array_append_new(
            opts, json_sprintf("mode=%llo", (unsigned long long)json_integer_value(jmode)));
    json_int_t size = json_integer_value(jsize);
    if (size < 0) {
        json_decref(opts);
        return mount_config_error(err, "tmpfs", "invalid tmpfs size: %lld", (long long)size);
    }
    if (size != 0) {
        const char *suffix = "";
        static const struct {
            const char *suffix;
            json_int_t div;
        } units[] = {{"g", 1LL << 30}, {"m", 1LL << 20}, {"k", 1LL << 10}};
        for (size_t i = 0; i < 3; i++)
            if (size % units[i].div == 0) {
                size /= units[i].div;
                suffix = units[i].suffix;
                break;
            }
        json_array_append_new(opts, json_sprintf("size=%lld%s", (long long)size, suffix));
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(topts, "Options"), i, o)
    {
        /* flags dockerd takes (API 1.46): exec and noexec */
        const char *flag = json_string_value(json_array_get(o, 0));
        if (!json_is_array(o) || json_array_size(o) != 1 || !flag ||
            (strcmp(flag, "exec") != 0 && strcmp(flag, "noexec") != 0)) {
            _cleanup_free_ char *text = json_dumps(o, JSON_ENCODE_ANY | JSON_COMPACT);
            json_decref(opts);
            return mount_config_error(err, "tmpfs", "invalid tmpfs option %s", text);
        }
        json_array_append_new(opts, json_string(flag));
    }
    json_array_append_new(plan, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "kind", "tmpfs",
                                          "source", "", "destination", dest, "readonly", ro, "mode",
                                          "", "propagation", "", "tmpfs", opts));
    return 0;
}

static int plan_mounts(json_t *host, json_t *taken, json_t *tmpfs, const char *vdriver,
                       json_t *plan, wharf_error *err)
{
    json_t *mounts = json_object_get(host, "Mounts");
    if (mounts && !json_is_null(mounts) && !json_is_array(mounts))
        return wharf_error_set(err, -EINVAL, "HostConfig.Mounts: expected an array");
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        char where[48];
        snprintf(where, sizeof(where), "HostConfig.Mounts[%zu]", i);
        if (!json_is_object(m))
            return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
        const char *type = "", *source = "", *target = "";
        bool ro = false;
        int r;
        if ((r = wjson_string(m, where, "Type", false, &type, err)) < 0 ||
            (r = wjson_string(m, where, "Source", false, &source, err)) < 0 ||
            (r = wjson_string(m, where, "Target", false, &target, err)) < 0 ||
            (r = wjson_bool(m, where, "ReadOnly", &ro, err)) < 0)
            return r;
        if (!*target)
            return mount_config_error(err, type, "field Target must not be empty");
        _cleanup_free_ char *dest = target[0] == '/' ? dockerapi_clean_path(target) : NULL;
        if (dest && strcmp(dest, "/") == 0)
            return mount_config_error(err, type, "invalid specification: destination can't be '/'");
        if (!dest)
            return mount_config_error(
                err, type, "invalid mount path: '%s' mount path must be absolute", target);
        if (strcmp(type, "bind") == 0)
            r = plan_bind_mount(m, where, source, dest, ro, plan, err);
        else if (strcmp(type, "volume") == 0)
            r = plan_volume_mount(m, where, source, dest, ro, vdriver, plan, err);
        else if (strcmp(type, "tmpfs") == 0)
            r = plan_tmpfs_mount(m, where, source, dest, ro, plan, err);
        else
            r = mount_config_error(err, type, "mount type unknown");
        if (r < 0 || (r = take_destination(taken, tmpfs, dest, target, plan, err)) < 0)
            return r;
    }
    return 0;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Config.Volumes: the request's over the image's; an anonymous volume for
 * each path no bind, mount or tmpfs covers. */
static int plan_config_volumes(json_t *body, json_t *image_cfg, json_t *taken, json_t *tmpfs,
                               const char *vdriver, json_t *plan, wharf_error *err)
{
    json_t *merged = json_object();
    json_t *iv = json_object_get(image_cfg, "Volumes"), *rv = json_object_get(body, "Volumes");
    if (rv && !json_is_null(rv) && !json_is_object(rv)) {
        json_decref(merged);
        return wharf_error_set(err, -EINVAL, "Volumes: expected an object");
    }
    if (json_is_object(iv))
        json_object_update(merged, iv);
    if (json_is_object(rv))
        json_object_update(merged, rv);
    size_t n = json_object_size(merged), k = 0;
    const char **paths = xcalloc(n + 1, sizeof(*paths));
    const char *p;
    json_t *v;
    json_object_foreach(merged, p, v) paths[k++] = p;
    qsort(paths, k, sizeof(*paths), by_text);
    int r = 0;
    for (size_t i = 0; i < k && r == 0; i++) {
        if (paths[i][0] != '/') {
            r = mount_config_error(
                err, "volume", "invalid mount path: '%s' mount path must be absolute", paths[i]);
            break;
        }
        _cleanup_free_ char *dest = dockerapi_clean_path(paths[i]);
        if (strcmp(dest, "/") == 0) {
            r = mount_config_error(err, "volume",
                                   "invalid specification: destination can't be '/'");
            break;
        }
        if (json_object_get(taken, dest) || json_object_get(tmpfs, dest))
            continue; /* something else is mounted there: no volume */
        if (!is_local_driver(vdriver)) {
            r = no_plugin(vdriver, err);
            break;
        }
        json_object_set_new(taken, dest, json_true());
        json_array_append_new(plan, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:b, s:b}", "kind",
                                              "volume", "source", "", "destination", dest,
                                              "readonly", 0, "mode", "", "propagation", "", "copy",
                                              1, "config_volume", 1));
    }
    free(paths);
    if (r == 0 && n)
        json_object_set(body, "Volumes", merged);
    json_decref(merged);
    return r;
}

int dockerapi_mounts_plan(struct dockerapi *api, json_t *body, json_t *image_cfg, json_t **plan,
                          wharf_error *err)
{
    *plan = NULL;
    json_t *host = json_object_get(body, "HostConfig");
    if (!json_is_object(host))
        host = NULL;
    const char *vdriver = json_string_value(json_object_get(host, "VolumeDriver"));
    /* --tmpfs destinations: a bind or volume there is a duplicate */
    _cleanup_json_ json_t *tmpfs = json_object();
    const char *dest;
    json_t *v;
    json_object_foreach(json_object_get(host, "Tmpfs"), dest, v)
    {
        if (dest[0] == '/') {
            _cleanup_free_ char *clean = dockerapi_clean_path(dest);
            json_object_set_new(tmpfs, clean, json_true());
        }
    }
    _cleanup_json_ json_t *taken = json_object();
    json_t *out = json_array();
    int r;
    if ((r = plan_volumes_from(api, host, taken, out, err)) < 0 ||
        (r = plan_binds(host, taken, tmpfs, vdriver, out, err)) < 0 ||
        (r = plan_mounts(host, taken, tmpfs, vdriver, out, err)) < 0 ||
        (r = plan_config_volumes(body, image_cfg, taken, tmpfs, vdriver, out, err)) < 0) {
        json_decref(out);
        return r;
    }
    *plan = out;
    return 0;
}

/* ---------------------------------------------------------------- apply */

static size_t depth_of(json_t *mount)
{
    const char *d = json_string_value(json_object_get(mount, "destination"));
    size_t n = 0;
    for (; d && *d; d++)
        n += *d == '/';
    return n;
}

/* dockerd's sortMounts: fewer path components first, so /a is mounted
 * before /a/b (a stable sort keeps the order within a depth). */
static void sort_by_depth(json_t *mounts)
{
    size_t n = json_array_size(mounts);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(mounts, j - 1), *b = json_array_get(mounts, j);
            if (depth_of(a) <= depth_of(b))
                break;
            json_incref(a);
            json_array_set(mounts, j - 1, b);
            json_array_set_new(mounts, j, a);
        }
    }
}

/* Volume copy-up: what the image has at the mount's destination (resolved
 * inside the root filesystem) goes into the volume if it is empty. */
static int copy_up(struct dockerapi *api, int root_fd, const char *rootfs, const char *name,
                   json_t *e, wharf_error *err)
{
    const char *dest = json_string_value(json_object_get(e, "destination"));
    wharf_error oe = {0};
    _cleanup_close_ int fd = wharf_open_in_root(root_fd, dest, O_RDONLY | O_DIRECTORY, 0, &oe);
    if (fd < 0) {
        if (oe.code == -ENOENT)
            return 0; /* nothing there: the runtime makes the directory */
        if (oe.code == -ENOTDIR) {
            if (json_is_true(json_object_get(e, "config_volume")))
                return wharf_error_set(err, -EINVAL,
                                       "cannot mount volume over existing file, file exists %s%s",
                                       rootfs, dest);
            return 0;
        }
        *err = oe;
        return err->code;
    }
    int r = volume_populate(api->volumes, name, fd, err);
    return r < 0 ? r : 0;
}

/* Under the lock: removes the volumes named in names (an array of
 * strings) that no container uses. */
static void remove_unused(struct dockerapi *api, json_t *names)
{
    if (!api->volumes || !json_array_size(names))
        return;
    _cleanup_json_ json_t *users = dockerapi_volume_users(api);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        wharf_error e = {0};
        int r = dockerapi_volume_remove_unused(api, json_string_value(n), users, &e);
        if (r < 0 && r != -ENOENT && r != -EBUSY)
            wlog_warn("volume %s: %s", json_string_value(n), e.msg);
    }
}

/* A create that failed: its reservations end, and the volumes it made go
 * (a fresh one may hold half a copy-up). */
static void undo_create(struct dockerapi *api, const char *id)
{
    dockerapi_volumes_lock();
    _cleanup_json_ json_t *fresh = dockerapi_volume_unreserve(id);
    remove_unused(api, fresh);
    dockerapi_volumes_unlock();
}

static int apply_volume(struct dockerapi *api, const char *id, int root_fd, const char *rootfs,
                        json_t *e, json_t *mounts, json_t *points, wharf_error *err)
{
    const char *source = json_string_value(json_object_get(e, "source"));
    const char *dest = json_string_value(json_object_get(e, "destination"));
    bool ro = json_is_true(json_object_get(e, "readonly"));
    bool from = json_is_true(json_object_get(e, "from"));
    bool anonymous = from ? json_is_true(json_object_get(e, "anonymous")) : !*source;
    json_t *rec = NULL;
    bool created = false;
    dockerapi_volumes_lock();
    int r = 0;
    if (from) /* another container's volume: it must still be there */
        r = (rec = volume_get(api->volumes, source, err)) ? 0 : err->code;
    else
        r = volume_create(api->volumes, source, json_object_get(e, "labels"),
                          json_object_get(e, "options"), &rec, &created, err);
    const char *name = rec ? json_string_value(json_object_get(rec, "name")) : NULL;
    if (r == 0) {
        if (created)
            dockerapi_volume_event(api, name, "create");
        dockerapi_volume_reserve(name, id, created);
        /* recorded now, so that a failure below removes it with the rest */
        json_array_append_new(points,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b}", "Type",
                                        "volume", "Name", name, "Source",
                                        json_string_value(json_object_get(rec, "mountpoint")),
                                        "Destination", dest, "Driver", VOLUME_DRIVER, "Mode",
                                        json_string_value(json_object_get(e, "mode")), "RW", !ro,
                                        "Propagation", "", "Anonymous", anonymous));
        if (json_is_true(json_object_get(e, "copy")))
            r = copy_up(api, root_fd, rootfs, name, e, err);
    }
    dockerapi_volumes_unlock();
    if (r == 0)
        json_array_append_new(mounts,
                              json_pack("{s:s, s:s, s:s, s:b}", "type", "volume", "source",
                                        json_string_value(json_object_get(rec, "mountpoint")),
                                        "destination", dest, "readonly", ro));
    if (rec)
        json_decref(rec);
    return r;
}

static int apply_one(struct dockerapi *api, const char *id, int root_fd, const char *rootfs,
                     json_t *e, json_t *mounts, json_t *points, wharf_error *err)
{
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const char *source = json_string_value(json_object_get(e, "source"));
    const char *dest = json_string_value(json_object_get(e, "destination"));
    const char *mode = json_string_value(json_object_get(e, "mode"));
    const char *prop = json_string_value(json_object_get(e, "propagation"));
    bool ro = json_is_true(json_object_get(e, "readonly"));
    if (strcmp(kind, "volume") == 0) {
        if (!api->volumes)
            return wharf_error_set(err, -ENOTSUP, "volumes are not available on this daemon");
        return apply_volume(api, id, root_fd, rootfs, e, mounts, points, err);
    }
    if (strcmp(kind, "tmpfs") == 0) {
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b, s:O}", "type", "tmpfs",
                                                "destination", dest, "readonly", ro, "options",
                                                json_object_get(e, "tmpfs")));
        json_array_append_new(points, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "tmpfs",
                                                "Source", "", "Destination", dest, "Mode", "", "RW",
                                                !ro, "Propagation", ""));
        return 0;
    }
    /* docker's -v creates a missing host directory (--mount only when asked) */
    struct stat st;
    if (json_is_true(json_object_get(e, "make_source")) && stat(source, &st) < 0 &&
        errno == ENOENT) {
        int r = wharf_mkdir_p(source, 0755, err);
        if (r < 0)
            return wharf_error_prefix(err, "bind source");
    }
    json_array_append_new(mounts,
                          json_pack("{s:s, s:s, s:s, s:b, s:[s]}", "type", "bind", "source", source,
                                    "destination", dest, "readonly", ro, "options", prop));
    json_array_append_new(points, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind",
                                            "Source", source, "Destination", dest, "Mode", mode,
                                            "RW", !ro, "Propagation", prop));
    return 0;
}

int dockerapi_mounts_apply(struct dockerapi *api, const char *id, json_t *plan, const char *rootfs,
                           json_t *cfg, json_t *meta, wharf_error *err)
{
    json_t *mounts = json_object_get(cfg, "mounts");
    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(cfg, "mounts", mounts);
    }
    _cleanup_close_ int root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return wharf_error_errno(err, errno, "open %s", rootfs);
    json_t *points = json_array();
    size_t i;
    json_t *e;
    int r = 0;
    json_array_foreach(plan, i, e)
    {
        if ((r = apply_one(api, id, root_fd, rootfs, e, mounts, points, err)) < 0)
            break;
    }
    if (r < 0) {
        undo_create(api, id);
        json_decref(points);
        return r;
    }
    sort_by_depth(mounts);
    json_object_set_new(meta, "MountPoints", points);
    return 0;
}

void dockerapi_mounts_done(struct dockerapi *api, const char *id, bool created)
{
    if (!created) {
        undo_create(api, id);
        return;
    }
    dockerapi_volumes_lock();
    json_decref(dockerapi_volume_unreserve(id));
    dockerapi_volumes_unlock();
}

void dockerapi_mounts_release(struct dockerapi *api, json_t *meta, bool remove_volumes)
{
    if (!remove_volumes)
        return;
    _cleanup_json_ json_t *names = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(meta, "MountPoints"), i, p)
    {
        json_t *name = json_object_get(p, "Name");
        if (json_is_true(json_object_get(p, "Anonymous")) && json_is_string(name))
            json_array_append(names, name);
    }
    dockerapi_volumes_lock();
    remove_unused(api, names);
    dockerapi_volumes_unlock();
}

/* ---------------------------------------------------------------- view */

/* The mount points recorded at create, or for containers made before they
 * were recorded, their host-path binds: a new array. */
static json_t *recorded_mounts(json_t *meta)
{
    json_t *points = json_object_get(meta, "MountPoints");
    if (json_is_array(points))
        return json_incref(points);
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(meta, "HostConfig"), "Binds"), i, p)
    {
        struct dockerapi_bind bind;
        wharf_error err = {0};
        if (!json_is_string(p) || dockerapi_parse_bind(json_string_value(p), &bind, &err) < 0)
            continue;
        if (!bind.volume)
            json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind",
                                                 "Source", bind.source, "Destination",
                                                 bind.destination, "Mode", bind.mode, "RW",
                                                 !bind.readonly, "Propagation", bind.propagation));
        dockerapi_bind_release(&bind);
    }
    return out;
}

json_t *dockerapi_mount_points(json_t *meta)
{
    json_t *out = json_array();
    _cleanup_json_ json_t *points = recorded_mounts(meta);
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p)
    {
        /* MountPoint's field order; Name and Driver are omitted when empty */
        json_t *o = json_object();
        static const char *const keys[] = {"Type",   "Name", "Source", "Destination",
                                           "Driver", "Mode", "RW",     "Propagation"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *v = json_object_get(p, keys[k]);
            if (!v || ((k == 1 || k == 4) && (!json_is_string(v) || !*json_string_value(v))))
                continue;
            json_object_set(o, keys[k], v);
        }
        json_array_append_new(out, o);
    }
    return out;
}
