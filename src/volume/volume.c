/*
 * volume.c — the store: names, records, create, get, list, remove, sizes.
 * See volume.h for the layout and why a volume is renamed into and out of
 * place.
 */
#include "volume.h"
#include "volume_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

struct volume_store {
    char *dir;
};

#define RECORD "volume.json"
#define NEW_PREFIX ".new-"
#define OLD_PREFIX ".old-"

static void random_hex(char *out, size_t bytes)
{
    unsigned char b[64];
    if (bytes > sizeof(b))
        bytes = sizeof(b);
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = getrandom(b + got, bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* no randomness: names could collide */
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---------------------------------------------------------------- names */

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i], i == 0))
            return false;
    return true;
}

int volume_check_name(const char *name, wharf_error *err)
{
    if (strlen(name) == 1)
        return wharf_error_set(err, -EINVAL,
                               "volume name is too short, names should be at least "
                               "two alphanumeric characters");
    if (valid_name(name))
        return 0;
    /* Go's %q: the name as a quoted, escaped string. */
    json_t *s = json_string(name);
    _cleanup_free_ char *quoted = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    if (s)
        json_decref(s);
    return wharf_error_set(err, -EINVAL,
                           "%s includes invalid characters for a local volume name, only "
                           "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                           "a host directory, use absolute path",
                           quoted ? quoted : "\"?\"");
}

/* ---------------------------------------------------------------- options */

int volume_check_options(json_t *options, wharf_error *err)
{
    static const char *const valid[] = {"type", "o", "device", "size", NULL};
    const char *key;
    json_t *value;
    json_object_foreach(options, key, value)
    {
        bool ok = false;
        for (size_t i = 0; valid[i] && !ok; i++)
            ok = strcmp(key, valid[i]) == 0;
        if (!ok)
            return wharf_error_set(err, -EINVAL, "invalid option: \"%s\"", key);
        if (!json_is_string(value))
            return wharf_error_set(err, -EINVAL, "invalid option: \"%s\": expected a string", key);
    }
    const char *size = json_string_value(json_object_get(options, "size"));
    if (size) {
        int64_t bytes = wharf_parse_ram(size);
        if (bytes < 0)
            return wharf_error_set(err, -EINVAL, "invalid size: '%s'", size);
        if (bytes > 0)
            return wharf_error_set(err, -EINVAL, "quota size requested but no quota support");
    }
    /* dockerd's mandatory companions */
    static const char *const need[][3] = {
        {"device", "type", NULL}, {"type", "device", NULL}, {"o", "device", "type"}};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (!json_object_get(options, need[i][0]))
            continue;
        for (size_t k = 1; k < 3 && need[i][k]; k++)
            if (!json_object_get(options, need[i][k]))
                return wharf_error_set(err, -EINVAL, "missing required option: \"%s\"", need[i][k]);
    }
    /* A filesystem mounted on the volume while containers use it: the
     * mount's lifetime is not managed here, so it is refused rather than
     * silently ignored. */
    if (json_object_get(options, "type") || json_object_get(options, "device"))
        return wharf_error_set(err, -EINVAL,
                               "the local driver's device options (type, device, o) are not "
                               "supported by wharf: the volume would not be what they ask for");
    return 0;
}

/* ---------------------------------------------------------------- store */

static int sweep(struct volume_store *vs)
{
    DIR *d = opendir(vs->dir);
    if (!d)
        return -errno;
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], NEW_PREFIX, strlen(NEW_PREFIX)) == 0 ||
            strncmp(names[i], OLD_PREFIX, strlen(OLD_PREFIX)) == 0) {
            _cleanup_free_ char *path = xasprintf("%s/%s", vs->dir, names[i]);
            wharf_error e = {0};
            if (wharf_rm_rf(path, &e) < 0)
                wlog_warn("volumes: %s", e.msg);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

int volume_store_open(const char *dir, struct volume_store **out, wharf_error *err)
{
    int r = wharf_mkdir_p(dir, 0701, err);
    if (r < 0)
        return wharf_error_prefix(err, "volume store");
    struct volume_store *vs = xcalloc(1, sizeof(*vs));
    vs->dir = xstrdup(dir);
    if ((r = sweep(vs)) < 0) {
        volume_store_close(vs);
        return wharf_error_errno(err, -r, "volume store %s", dir);
    }
    *out = vs;
    return 0;
}

void volume_store_close(struct volume_store *vs)
{
    if (!vs)
        return;
    free(vs->dir);
    free(vs);
}

const char *volume_store_dir(const struct volume_store *vs)
{
    return vs->dir;
}

char *volume_data_path(struct volume_store *vs, const char *name)
{
    return xasprintf("%s/%s/_data", vs->dir, name);
}

static int no_such_volume(const char *name, wharf_error *err)
{
    return wharf_error_set(err, -ENOENT, "get %s: no such volume", name);
}

json_t *volume_get(struct volume_store *vs, const char *name, wharf_error *err)
{
    /* Anything that is not a volume name names no volume (and never a path
     * outside the store). */
    if (!valid_name(name)) {
        no_such_volume(name, err);
        return NULL;
    }
    _cleanup_free_ char *path = xasprintf("%s/%s/" RECORD, vs->dir, name);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            no_such_volume(name, err);
        else
            wharf_error_errno(err, errno, "get %s: stat %s", name, path);
        return NULL;
    }
    json_t *rec = wjson_load_file(path, err);
    if (!rec) {
        wharf_error_prefix(err, "get %s", name);
        return NULL;
    }
    if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "name"))) {
        json_decref(rec);
        wharf_error_set(err, -EIO, "get %s: %s: not a volume record", name, path);
        return NULL;
    }
    return rec;
}

static json_t *copy_strings(json_t *obj)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (json_is_string(v))
            json_object_set(out, k, v);
    }
    return out;
}

int volume_create(struct volume_store *vs, const char *name, json_t *labels, json_t *options,
                  json_t **record, bool *created, wharf_error *err)
{
    if (created)
        *created = false;
    if (record)
        *record = NULL;
    bool anonymous = !name || !*name;
    char generated[129];
    int r;
    if (anonymous) {
        random_hex(generated, 32);
        name = generated;
    } else if ((r = volume_check_name(name, err)) < 0) {
        return wharf_error_prefix(err, "create %s", name);
    }
    if ((r = volume_check_options(options, err)) < 0)
        return wharf_error_prefix(err, "create %s", name);
    if (!anonymous) {
        wharf_error e = {0};
        json_t *existing = volume_get(vs, name, &e);
        if (existing) {
            if (record)
                *record = existing;
            else
                json_decref(existing);
            return 0;
        }
        if (e.code != -ENOENT) {
            *err = e;
            return err->code;
        }
    }
    char tag[33];
    random_hex(tag, 16);
    _cleanup_free_ char *tmp = xasprintf("%s/" NEW_PREFIX "%s", vs->dir, tag);
    _cleanup_free_ char *tmp_data = xasprintf("%s/_data", tmp);
    _cleanup_free_ char *final = xasprintf("%s/%s", vs->dir, name);
    _cleanup_free_ char *data = xasprintf("%s/_data", final);
    char created_at[48];
    wharf_time_rfc3339(created_at, sizeof(created_at));
    /* null, not {}, when the request had none: what dockerd shows */
    json_t *jlabels = labels || anonymous ? copy_strings(labels) : json_null();
    if (anonymous)
        json_object_set_new(jlabels, VOLUME_ANONYMOUS_LABEL, json_string(""));
    json_t *rec =
        json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:b}", "name", name, "driver", VOLUME_DRIVER,
                  "labels", jlabels, "options", options ? copy_strings(options) : json_null(),
                  "created", created_at, "mountpoint", data, "anonymous", anonymous);
    _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
    _cleanup_free_ char *rec_path = xasprintf("%s/" RECORD, tmp);
    if (mkdir(tmp, 0755) < 0) {
        r = wharf_error_errno(err, errno, "create %s: mkdir %s", name, tmp);
        goto fail;
    }
    if (mkdir(tmp_data, 0755) < 0) {
        r = wharf_error_errno(err, errno, "create %s: mkdir %s", name, tmp_data);
        goto fail;
    }
    if ((r = wharf_write_file_atomic(rec_path, text, strlen(text), 0600, err)) < 0) {
        wharf_error_prefix(err, "create %s", name);
        goto fail;
    }
    if (rename(tmp, final) < 0) {
        int e = errno;
        if (!anonymous && (e == EEXIST || e == ENOTEMPTY)) {
            /* created meanwhile by another request: that one stands */
            wharf_rm_rf(tmp, NULL);
            json_decref(rec);
            json_t *existing = volume_get(vs, name, err);
            if (!existing)
                return err->code;
            if (record)
                *record = existing;
            else
                json_decref(existing);
            return 0;
        }
        r = wharf_error_errno(err, e, "create %s: rename %s to %s", name, tmp, final);
        goto fail;
    }
    if (created)
        *created = true;
    if (record)
        *record = rec;
    else
        json_decref(rec);
    return 0;
fail:
    wharf_rm_rf(tmp, NULL);
    json_decref(rec);
    return r;
}

json_t *volume_list(struct volume_store *vs, wharf_error *err)
{
    DIR *d = opendir(vs->dir);
    if (!d) {
        wharf_error_errno(err, errno, "list volumes: open %s", vs->dir);
        return NULL;
    }
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (valid_name(names[i])) {
            wharf_error e = {0};
            json_t *rec = volume_get(vs, names[i], &e);
            if (rec)
                json_array_append_new(out, rec);
            else if (e.code != -ENOENT)
                wlog_warn("volumes: %s", e.msg);
        }
        free(names[i]);
    }
    free(names); /* sorted by name already */
    return out;
}

int volume_remove(struct volume_store *vs, const char *name, wharf_error *err)
{
    json_t *rec = volume_get(vs, name, err);
    if (!rec)
        return err->code;
    json_decref(rec);
    char tag[33];
    random_hex(tag, 16);
    _cleanup_free_ char *path = xasprintf("%s/%s", vs->dir, name);
    _cleanup_free_ char *aside = xasprintf("%s/" OLD_PREFIX "%s", vs->dir, tag);
    if (rename(path, aside) < 0) {
        if (errno == ENOENT)
            return no_such_volume(name, err);
        return wharf_error_errno(err, errno, "remove %s: rename %s", name, path);
    }
    /* It is gone for everyone now; what cannot be deleted yet is swept at
     * the next open. */
    wharf_error e = {0};
    if (wharf_rm_rf(aside, &e) < 0)
        wlog_warn("volume %s: %s", name, e.msg);
    return 0;
}

/* ---------------------------------------------------------------- sizes */

int64_t volume_size(struct volume_store *vs, const char *name)
{
    if (!valid_name(name))
        return -1;
    _cleanup_free_ char *data = volume_data_path(vs, name);
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return volume_tree_size(fd);
}
