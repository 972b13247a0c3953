/* store.c — image records, tags, snapshots, queries, removal, garbage
 * collection and overlay root filesystems.
 *
 * Locking: `lock` (exclusive) serialises every read-modify-write of
 * repositories.json and images/. Loads and imports hold `gc.lock` shared
 * from their first blob to their commit, and the collector takes it
 * exclusively, so it never deletes a blob a load has stored but not yet
 * committed. */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

image_store *image_store_open(const char *dir, wharf_error *err)
{
    static const char *const sub[] = {"blobs/sha256", "snapshots", "images", "tmp"};
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, sub[i]);
        if (wharf_mkdir_p(p, 0700, err) < 0) {
            wharf_error_prefix(err, "image store %s", dir);
            return NULL;
        }
    }
    image_store *s = xcalloc(1, sizeof(*s));
    s->dir = xstrdup(dir);
    return s;
}

void image_store_close(image_store *store)
{
    if (!store)
        return;
    free(store->dir);
    free(store);
}

const char *image_store_dir(const image_store *store)
{
    return store->dir;
}

int64_t image_parse_time(const char *s)
{
    if (!s)
        return 0;
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%d:%d", &hh, &mm) >= 1)
            t -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    }
    return t;
}

/* ---------------------------------------------------------------- tags */

static char *tags_path(image_store *store)
{
    return xasprintf("%s/repositories.json", store->dir);
}

/* {"docker.io/library/busybox:latest": "sha256:..."}; new reference. */
static json_t *load_tags(image_store *store, wharf_error *err)
{
    _cleanup_free_ char *path = tags_path(store);
    if (access(path, F_OK) < 0)
        return json_object();
    json_t *doc = wjson_load_file(path, err);
    if (!doc)
        return NULL;
    json_t *tags = json_object_get(doc, "tags");
    if (!json_is_object(tags)) {
        json_decref(doc);
        wharf_error_set(err, -EINVAL, "%s: no \"tags\" object", path);
        return NULL;
    }
    json_incref(tags);
    json_decref(doc);
    return tags;
}

static int save_tags(image_store *store, json_t *tags, wharf_error *err)
{
    _cleanup_free_ char *path = tags_path(store);
    _cleanup_json_ json_t *doc = json_pack("{sO}", "tags", tags);
    _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* ---------------------------------------------------------------- records */

static char *record_path(image_store *store, const char *id)
{
    return xasprintf("%s/images/%s.json", store->dir, image_digest_hex(id));
}

json_t *image_store_record(image_store *store, const char *id, wharf_error *err)
{
    _cleanup_free_ char *path = record_path(store, id);
    if (access(path, F_OK) < 0) {
        wharf_error_set(err, -ENOENT, "No such image: %s", id);
        return NULL;
    }
    return wjson_load_file(path, err);
}

/* Every record, as a new array. */
static json_t *all_records(image_store *store, wharf_error *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/images", store->dir);
    DIR *d = opendir(dir);
    if (!d) {
        wharf_error_errno(err, errno, "open %s", dir);
        return NULL;
    }
    json_t *arr = json_array();
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n != 64 + 5 || strcmp(de->d_name + 64, ".json") != 0)
            continue;
        _cleanup_free_ char *id = xasprintf("sha256:%.64s", de->d_name);
        wharf_error e = {0};
        json_t *rec = image_store_record(store, id, &e);
        if (rec) /* a record removed meanwhile is simply not listed */
            json_array_append_new(arr, rec);
    }
    closedir(d);
    return arr;
}

int image_store_write_manifest(image_store *store, const char *config_digest, size_t config_size,
                               json_t *layers, char out[72], wharf_error *err)
{
    _cleanup_json_ json_t *m =
        json_pack("{si s s s{s s s s s I} s O}", "schemaVersion", 2, "mediaType",
                  "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                  "application/vnd.oci.image.config.v1+json", "digest", config_digest, "size",
                  (json_int_t)config_size, "layers", layers);
    _cleanup_free_ char *text = json_dumps(m, JSON_COMPACT);
    return image_store_put_blob_buf(store, text, strlen(text), out, err);
}

/* Puts repo_digest ("name@sha256:...") into rec's repo_digests, replacing
 * an older digest of the same repository. */
static void record_add_repo_digest(json_t *rec, const char *repo_digest)
{
    json_t *arr = json_object_get(rec, "repo_digests");
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(rec, "repo_digests", arr);
    }
    const char *at = strchr(repo_digest, '@');
    size_t name_len = at ? (size_t)(at - repo_digest) : strlen(repo_digest);
    for (size_t i = 0; i < json_array_size(arr);) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s && strncmp(s, repo_digest, name_len) == 0 && s[name_len] == '@')
            json_array_remove(arr, i);
        else
            i++;
    }
    json_array_append_new(arr, json_string(repo_digest));
}

static int commit_record(image_store *store, const char *manifest_digest, const char *config_digest,
                         json_t *tags, const char *repo_digest, const char *parent,
                         wharf_error *err)
{
    _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
    if (lock < 0)
        return lock;
    char now[64];
    wharf_time_rfc3339(now, sizeof(now));
    _cleanup_free_ char *path = record_path(store, config_digest);
    _cleanup_json_ json_t *rec =
        json_pack("{ss ss ss}", "id", config_digest, "manifest", manifest_digest, "loaded", now);
    /* The same image committed again (pulled from another repository, loaded
     * twice) keeps what the old record knew about where it came from. */
    _cleanup_json_ json_t *old = access(path, F_OK) == 0 ? json_load_file(path, 0, NULL) : NULL;
    json_t *old_digests = json_object_get(old, "repo_digests");
    if (json_is_array(old_digests))
        json_object_set_new(rec, "repo_digests", json_deep_copy(old_digests));
    json_t *old_tag_time = json_object_get(old, "last_tag_time");
    if (json_is_string(old_tag_time))
        json_object_set(rec, "last_tag_time", old_tag_time);
    json_t *old_parent = json_object_get(old, "parent");
    if (parent && *parent)
        json_object_set_new(rec, "parent", json_string(parent));
    else if (json_is_string(old_parent))
        json_object_set(rec, "parent", old_parent);
    if (repo_digest)
        record_add_repo_digest(rec, repo_digest);
    if (tags && json_array_size(tags) > 0)
        json_object_set_new(rec, "last_tag_time", json_string(now));
    _cleanup_free_ char *text = json_dumps(rec, JSON_INDENT(2));
    int r = wharf_write_file_atomic(path, text, strlen(text), 0600, err);
    if (r < 0 || !tags || json_array_size(tags) == 0)
        return r;
    _cleanup_json_ json_t *all = load_tags(store, err);
    if (!all)
        return err->code;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
        json_object_set_new(all, json_string_value(t), json_string(config_digest));
    return save_tags(store, all, err);
}

int image_store_commit_record(image_store *store, const char *manifest_digest,
                              const char *config_digest, json_t *tags, const char *repo_digest,
                              wharf_error *err)
{
    return commit_record(store, manifest_digest, config_digest, tags, repo_digest, NULL, err);
}

int image_store_commit_child(image_store *store, const char *manifest_digest,
                             const char *config_digest, const char *parent, json_t *tags,
                             wharf_error *err)
{
    return commit_record(store, manifest_digest, config_digest, tags, NULL, parent, err);
}

int image_store_commit(image_store *store, const char *manifest_digest, const char *config_digest,
                       json_t *tags, wharf_error *err)
{
    return image_store_commit_record(store, manifest_digest, config_digest, tags, NULL, err);
}

int image_store_add_repo_digest(image_store *store, const char *ref, const char *repo_digest,
                                wharf_error *err)
{
    image_ref parsed;
    int r = image_ref_parse(repo_digest, &parsed, err);
    if (r < 0)
        return r;
    bool has_digest = parsed.digest != NULL;
    _cleanup_free_ char *name =
        xasprintf("%s/%s@%s", parsed.domain, parsed.path, parsed.digest ? parsed.digest : "");
    image_ref_free(&parsed);
    if (!has_digest)
        return wharf_error_set(err, -EINVAL, "%s: not a name@digest reference", repo_digest);
    char id[72];
    if ((r = image_store_resolve(store, ref, id, err)) < 0)
        return r;
    _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
    if (lock < 0)
        return lock;
    _cleanup_json_ json_t *rec = image_store_record(store, id, err);
    if (!rec)
        return err->code;
    record_add_repo_digest(rec, name);
    _cleanup_free_ char *text = json_dumps(rec, JSON_INDENT(2));
    _cleanup_free_ char *path = record_path(store, id);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

json_t *image_store_repo_digests(image_store *store, const char *ref, wharf_error *err)
{
    char id[72];
    if (image_store_resolve(store, ref, id, err) < 0)
        return NULL;
    _cleanup_json_ json_t *rec = image_store_record(store, id, err);
    if (!rec)
        return NULL;
    json_t *arr = json_object_get(rec, "repo_digests");
    return json_is_array(arr) ? json_deep_copy(arr) : json_array();
}

/* ---------------------------------------------------------------- snapshots */

json_t *image_chain_ids(json_t *config, wharf_error *err)
{
    json_t *rootfs = json_object_get(config, "rootfs");
    json_t *diffs = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(diffs)) {
        wharf_error_set(err, -EINVAL, "image config: rootfs.diff_ids: expected an array");
        return NULL;
    }
    json_t *out = json_array();
    char chain[72] = "";
    size_t i;
    json_t *d;
    json_array_foreach(diffs, i, d)
    {
        const char *diff = json_string_value(d);
        if (!image_digest_valid(diff)) {
            json_decref(out);
            wharf_error_set(err, -EINVAL, "image config: rootfs.diff_ids[%zu]: not a digest", i);
            return NULL;
        }
        if (i == 0) {
            strcpy(chain, diff);
        } else {
            _cleanup_free_ char *s = xasprintf("%s %s", chain, diff);
            image_digest_buf(s, strlen(s), chain);
        }
        json_array_append_new(out, json_string(chain));
    }
    return out;
}

static json_t *snapshot_meta(image_store *store, const char *chain)
{
    _cleanup_free_ char *path =
        xasprintf("%s/snapshots/%s/meta.json", store->dir, image_digest_hex(chain));
    return json_load_file(path, 0, NULL);
}

int image_store_adopt_snapshot(image_store *store, const char *stage, const char *chain,
                               const char *parent, const char *diff, const char *layer,
                               uint64_t size, wharf_error *err)
{
    _cleanup_json_ json_t *m =
        json_pack("{ss ss ss ss sI}", "chain_id", chain, "diff_id", diff, "parent", parent, "layer",
                  layer, "size", (json_int_t)size);
    _cleanup_free_ char *text = json_dumps(m, JSON_INDENT(2));
    _cleanup_free_ char *mp = xasprintf("%s/meta.json", stage);
    int r = wharf_write_file_atomic(mp, text, strlen(text), 0600, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dst = xasprintf("%s/snapshots/%s", store->dir, image_digest_hex(chain));
    /* another load may have committed the same chain meanwhile: same content */
    if (rename(stage, dst) < 0 && errno != EEXIST && errno != ENOTEMPTY)
        return wharf_error_errno(err, errno, "layer %s: commit snapshot %s", layer, dst);
    return 0;
}

int image_store_ensure_snapshot(image_store *store, json_t *manifest, json_t *config,
                                json_t *chains, size_t i, bool *unpacked, wharf_error *err)
{
    json_t *layers = json_object_get(manifest, "layers");
    json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    const char *chain = json_string_value(json_array_get(chains, i));
    const char *want = json_string_value(json_array_get(diffs, i));
    const char *digest = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
    if (unpacked)
        *unpacked = false;
    json_t *meta = snapshot_meta(store, chain);
    if (meta) {
        json_decref(meta);
        return 0;
    }
    _cleanup_free_ char *blob = image_store_blob_path(store, digest, err);
    if (!blob)
        return wharf_error_prefix(err, "layer %zu", i);
    _cleanup_free_ char *stage = image_store_mkstaging(store, "snap", err);
    if (!stage)
        return err->code;
    _cleanup_free_ char *fsdir = xasprintf("%s/fs", stage);
    int r = 0;
    char diff[72];
    uint64_t size = 0;
    _cleanup_close_ int fd = open(blob, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        r = wharf_error_errno(err, errno, "layer %s: open", digest);
    else if (mkdir(fsdir, 0755) < 0)
        r = wharf_error_errno(err, errno, "mkdir %s", fsdir);
    else
        r = image_unpack_layer(fd, fsdir, digest, diff, &size, err);
    if (r == 0 && strcmp(diff, want) != 0)
        r = wharf_error_set(err, -EILSEQ,
                            "layer %s: uncompressed content is %s, the config says %s", digest,
                            diff, want);
    if (r == 0)
        r = image_store_adopt_snapshot(
            store, stage, chain, i > 0 ? json_string_value(json_array_get(chains, i - 1)) : "",
            diff, digest, size, err);
    wharf_error e = {0};
    wharf_rm_rf(stage, &e); /* gone after a successful rename */
    if (r == 0 && unpacked)
        *unpacked = true;
    return r;
}

int image_store_check_layers(json_t *manifest, json_t *config, wharf_error *err)
{
    json_t *layers = json_object_get(manifest, "layers");
    json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(layers) || !json_is_array(diffs) ||
        json_array_size(layers) != json_array_size(diffs))
        return wharf_error_set(err, -EINVAL,
                               "image: manifest has %zu layers but the config %zu diff_ids",
                               json_array_size(layers), json_array_size(diffs));
    return 0;
}

int image_store_ensure_snapshots(image_store *store, json_t *manifest, json_t *config,
                                 wharf_error *err)
{
    int r = image_store_check_layers(manifest, config, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *chains = image_chain_ids(config, err);
    if (!chains)
        return err->code;
    for (size_t i = 0; i < json_array_size(chains); i++)
        if ((r = image_store_ensure_snapshot(store, manifest, config, chains, i, NULL, err)) < 0)
            return r;
    return 0;
}

/* ---------------------------------------------------------------- resolving */

static bool all_hex(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int image_store_resolve(image_store *store, const char *s, char id[72], wharf_error *err)
{
    const char *hex = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
    if (strlen(hex) == 64 && all_hex(hex)) {
        snprintf(id, 72, "sha256:%s", hex);
        _cleanup_free_ char *path = record_path(store, id);
        if (access(path, F_OK) == 0)
            return 0;
        return wharf_error_set(err, -ENOENT, "No such image: %s", s);
    }
    image_ref ref;
    wharf_error perr = {0};
    if (image_ref_parse(s, &ref, &perr) == 0) {
        _cleanup_free_ char *full = image_ref_full(&ref);
        _cleanup_json_ json_t *tags = load_tags(store, err);
        if (!tags) {
            image_ref_free(&ref);
            return err->code;
        }
        const char *found = json_string_value(json_object_get(tags, full));
        if (!found && ref.digest) {
            /* name@digest: a digest the image was pulled or pushed by under
             * that name, else the digest of its manifest */
            _cleanup_free_ char *named = xasprintf("%s/%s@%s", ref.domain, ref.path, ref.digest);
            _cleanup_json_ json_t *recs = all_records(store, err);
            size_t i, j;
            json_t *rec, *d;
            json_array_foreach(recs, i, rec)
            {
                json_array_foreach(json_object_get(rec, "repo_digests"), j, d)
                {
                    if (json_is_string(d) && strcmp(json_string_value(d), named) == 0)
                        found = json_string_value(json_object_get(rec, "id"));
                }
                const char *m = json_string_value(json_object_get(rec, "manifest"));
                if (!found && m && strcmp(m, ref.digest) == 0)
                    found = json_string_value(json_object_get(rec, "id"));
                if (found)
                    break;
            }
            if (found) {
                snprintf(id, 72, "%s", found);
                image_ref_free(&ref);
                return 0;
            }
        }
        image_ref_free(&ref);
        if (found) {
            snprintf(id, 72, "%s", found);
            return 0;
        }
    }
    if (all_hex(hex) && strlen(hex) < 64) {
        _cleanup_free_ char *dir = xasprintf("%s/images", store->dir);
        DIR *d = opendir(dir);
        if (!d)
            return wharf_error_errno(err, errno, "open %s", dir);
        int matches = 0;
        struct dirent *de;
        while ((de = readdir(d)))
            if (strlen(de->d_name) == 69 && strncmp(de->d_name, hex, strlen(hex)) == 0) {
                snprintf(id, 72, "sha256:%.64s", de->d_name);
                matches++;
            }
        closedir(d);
        if (matches == 1)
            return 0;
        if (matches > 1)
            return wharf_error_set(err, -EEXIST, "image ID prefix %s is ambiguous", s);
    }
    if (perr.code && !all_hex(hex))
        return wharf_error_set(err, perr.code, "%s", perr.msg);
    return wharf_error_set(err, -ENOENT, "No such image: %s", s);
}

/* The record, manifest and config of ref: new references. */
static int load_image(image_store *store, const char *ref, char id[72], json_t **rec,
                      json_t **manifest, json_t **config, wharf_error *err)
{
    int r = image_store_resolve(store, ref, id, err);
    if (r < 0)
        return r;
    *rec = image_store_record(store, id, err);
    if (!*rec)
        return err->code;
    *manifest = image_store_load_blob_json(
        store, json_string_value(json_object_get(*rec, "manifest")), err);
    if (!*manifest)
        return wharf_error_prefix(err, "image %s", ref);
    *config = image_store_load_blob_json(store, id, err);
    if (!*config)
        return wharf_error_prefix(err, "image %s", ref);
    return 0;
}

json_t *image_store_config(image_store *store, const char *ref, wharf_error *err)
{
    char id[72];
    if (image_store_resolve(store, ref, id, err) < 0)
        return NULL;
    return image_store_load_blob_json(store, id, err);
}

static uint64_t layer_size(image_store *store, const char *chain)
{
    _cleanup_json_ json_t *m = snapshot_meta(store, chain);
    return m ? (uint64_t)json_integer_value(json_object_get(m, "size")) : 0;
}

static uint64_t image_size(image_store *store, json_t *config)
{
    wharf_error e = {0};
    _cleanup_json_ json_t *chains = image_chain_ids(config, &e);
    uint64_t total = 0;
    size_t i;
    json_t *c;
    json_array_foreach(chains, i, c) total += layer_size(store, json_string_value(c));
    return total;
}

/* Familiar names of the tags pointing at id: a new array. */
static json_t *tags_of(json_t *tags, const char *id)
{
    json_t *out = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(tags, key, v) if (strcmp(json_string_value(v), id) == 0)
    {
        char *f = image_ref_familiarize(key);
        json_array_append_new(out, json_string(f));
        free(f);
    }
    return out;
}

/* Familiar names of a record's repo_digests: a new array. */
static json_t *repo_digests_of(json_t *rec)
{
    json_t *out = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(rec, "repo_digests"), i, d)
    {
        if (!json_is_string(d))
            continue;
        char *f = image_ref_familiarize(json_string_value(d));
        json_array_append_new(out, json_string(f));
        free(f);
    }
    return out;
}

/* ---------------------------------------------------------------- queries */

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

static bool is_tagged(json_t *tags, const char *id)
{
    const char *key;
    json_t *v;
    json_object_foreach(tags, key, v) if (strcmp(json_string_value(v), id) == 0) return true;
    return false;
}

/* {parent id: number of records naming it}: a new object. */
static json_t *parents_of(json_t *recs)
{
    json_t *out = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *p = json_string_value(json_object_get(rec, "parent"));
        if (p && *p)
            json_object_set_new(out, p,
                                json_integer(json_integer_value(json_object_get(out, p)) + 1));
    }
    return out;
}

/* The /images/json array; with usage, SharedSize is the bytes of an image's
 * layers that another image uses too and *layers_size the bytes of every
 * layer counted once. */
static json_t *list_images(image_store *store, bool usage, uint64_t *layers_size,
                           wharf_error *err)
{
    _cleanup_json_ json_t *tags = load_tags(store, err);
    if (!tags)
        return NULL;
    _cleanup_json_ json_t *recs = all_records(store, err);
    if (!recs)
        return NULL;
    /* chain ID -> how many images use it (usage only) */
    _cleanup_json_ json_t *users = json_object();
    _cleanup_json_ json_t *chains_of = json_array();
    _cleanup_json_ json_t *configs = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "id"));
        wharf_error e = {0};
        json_t *config = image_store_load_blob_json(store, id, &e);
        json_t *chains = config ? image_chain_ids(config, &e) : NULL;
        json_array_append_new(configs, config ? config : json_null());
        json_array_append_new(chains_of, chains ? chains : json_array());
        size_t k;
        json_t *c;
        if (usage && chains)
            json_array_foreach(chains, k, c)
            {
                const char *key = json_string_value(c);
                json_object_set_new(users, key,
                                    json_integer(json_integer_value(json_object_get(users, key)) +
                                                 1));
            }
    }
    if (layers_size) {
        *layers_size = 0;
        const char *chain;
        json_t *n;
        json_object_foreach(users, chain, n) *layers_size += layer_size(store, chain);
    }
    _cleanup_json_ json_t *parents = parents_of(recs);
    json_t *out = json_array();
    json_array_foreach(recs, i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "id"));
        json_t *config = json_array_get(configs, i);
        if (!json_is_object(config))
            continue;
        /* docker images hides untagged images that have children: the
         * intermediate images of a build */
        if (!usage && json_object_get(parents, id) && !is_tagged(tags, id))
            continue;
        json_t *labels = json_object_get(json_object_get(config, "config"), "Labels");
        uint64_t size = image_size(store, config);
        json_int_t shared = -1;
        if (usage) {
            shared = 0;
            size_t k;
            json_t *c;
            json_array_foreach(json_array_get(chains_of, i), k, c)
            {
                if (json_integer_value(json_object_get(users, json_string_value(c))) > 1)
                    shared += (json_int_t)layer_size(store, json_string_value(c));
            }
        }
        json_array_append_new(
            out,
            json_pack(
                "{ss ss so so sI sI sI sI sO si}", "Id", id, "ParentId", str_or(rec, "parent", ""),
                "RepoTags", tags_of(tags, id), "RepoDigests", repo_digests_of(rec), "Created",
                (json_int_t)image_parse_time(json_string_value(json_object_get(config, "created"))),
                "Size", (json_int_t)size, "VirtualSize", (json_int_t)size, "SharedSize", shared,
                "Labels", json_is_object(labels) ? labels : json_null(), "Containers", -1));
    }
    return out;
}

json_t *image_store_list(image_store *store, wharf_error *err)
{
    return list_images(store, false, NULL, err);
}

json_t *image_store_disk_usage(image_store *store, uint64_t *layers_size, wharf_error *err)
{
    return list_images(store, true, layers_size, err);
}

json_t *image_store_inspect(image_store *store, const char *ref, wharf_error *err)
{
    char id[72];
    _cleanup_json_ json_t *rec = NULL, *manifest = NULL, *config = NULL;
    if (load_image(store, ref, id, &rec, &manifest, &config, err) < 0)
        return NULL;
    _cleanup_json_ json_t *tags = load_tags(store, err);
    if (!tags)
        return NULL;
    json_t *cfg = json_object_get(config, "config");
    json_t *c = json_object();
    static const char *const keys[] = {"User",        "ExposedPorts", "Env",        "Cmd",
                                       "Healthcheck", "Volumes",      "WorkingDir", "Entrypoint",
                                       "OnBuild",     "Labels",       "StopSignal", "ArgsEscaped",
                                       "Shell"};
    json_object_set_new(c, "Hostname", json_string(""));
    json_object_set_new(c, "Domainname", json_string(""));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(cfg, keys[i]);
        if (v)
            json_object_set(c, keys[i], v);
        else if (strcmp(keys[i], "User") == 0 || strcmp(keys[i], "WorkingDir") == 0)
            json_object_set_new(c, keys[i], json_string(""));
        else if (strcmp(keys[i], "Cmd") == 0 || strcmp(keys[i], "Entrypoint") == 0 ||
                 strcmp(keys[i], "Env") == 0 || strcmp(keys[i], "Labels") == 0 ||
                 strcmp(keys[i], "OnBuild") == 0 || strcmp(keys[i], "Volumes") == 0)
            json_object_set_new(c, keys[i], json_null());
    }
    json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    uint64_t size = image_size(store, config);
    json_t *out =
        json_pack("{ss so so ss ss ss ss so sO ss ss sI sI s{s{}ss} s{ssso} s{ss}}", "Id", id,
                  "RepoTags", tags_of(tags, id), "RepoDigests", repo_digests_of(rec), "Parent",
                  str_or(rec, "parent", ""), "Comment", str_or(config, "comment", ""), "Created",
                  str_or(config, "created", ""), "Author", str_or(config, "author", ""), "Config",
                  c, "ContainerConfig", c, "Architecture", str_or(config, "architecture", ""), "Os",
                  str_or(config, "os", ""), "Size", (json_int_t)size, "VirtualSize",
                  (json_int_t)size, "GraphDriver", "Data", "Name", "overlay2", "RootFS", "Type",
                  "layers", "Layers", json_is_array(diffs) ? json_deep_copy(diffs) : json_array(),
                  "Metadata", "LastTagTime", str_or(rec, "last_tag_time", "0001-01-01T00:00:00Z"));
    const char *variant = json_string_value(json_object_get(config, "variant"));
    if (variant)
        json_object_set_new(out, "Variant", json_string(variant));
    _cleanup_free_ char *lower = image_store_lowerdirs(store, id, err);
    if (lower)
        json_object_set_new(json_object_get(json_object_get(out, "GraphDriver"), "Data"),
                            "LowerDir", json_string(lower));
    wharf_error_clear(err);
    return out;
}

json_t *image_store_history(image_store *store, const char *ref, wharf_error *err)
{
    char id[72];
    _cleanup_json_ json_t *rec = NULL, *manifest = NULL, *config = NULL;
    if (load_image(store, ref, id, &rec, &manifest, &config, err) < 0)
        return NULL;
    _cleanup_json_ json_t *tags = load_tags(store, err);
    if (!tags)
        return NULL;
    _cleanup_json_ json_t *chains = image_chain_ids(config, err);
    if (!chains)
        return NULL;
    json_t *hist = json_object_get(config, "history");
    json_t *out = json_array();
    size_t layer = 0;
    size_t i;
    json_t *h;
    json_array_foreach(hist, i, h)
    {
        bool empty = json_is_true(json_object_get(h, "empty_layer"));
        uint64_t size = 0;
        if (!empty && layer < json_array_size(chains))
            size = layer_size(store, json_string_value(json_array_get(chains, layer++)));
        const char *by = json_string_value(json_object_get(h, "created_by"));
        const char *comment = json_string_value(json_object_get(h, "comment"));
        json_array_insert_new(out, 0,
                              json_pack("{ss sI ss sn sI ss}", "Id", "<missing>", "Created",
                                        (json_int_t)image_parse_time(
                                            json_string_value(json_object_get(h, "created"))),
                                        "CreatedBy", by ? by : "", "Tags", "Size", (json_int_t)size,
                                        "Comment", comment ? comment : ""));
    }
    if (json_array_size(out) == 0)
        json_array_append_new(out, json_pack("{ss sI ss sn sI ss}", "Id", "<missing>", "Created",
                                             (json_int_t)0, "CreatedBy", "", "Tags", "Size",
                                             (json_int_t)image_size(store, config), "Comment", ""));
    json_t *top = json_array_get(out, 0);
    json_object_set_new(top, "Id", json_string(id));
    json_object_set_new(top, "Tags", tags_of(tags, id));
    /* The entries that the image's ancestors (still stored) end with are
     * theirs, as docker history shows a build's intermediate images. */
    size_t total = json_array_size(out);
    _cleanup_free_ char *p = xstrdup(str_or(rec, "parent", ""));
    for (int depth = 0; *p && depth < 1000; depth++) {
        wharf_error e = {0};
        _cleanup_json_ json_t *prec = image_store_record(store, p, &e);
        _cleanup_json_ json_t *pcfg = prec ? image_store_load_blob_json(store, p, &e) : NULL;
        if (!pcfg)
            break;
        size_t len = json_array_size(json_object_get(pcfg, "history"));
        if (len > 0 && len <= total) {
            json_t *entry = json_array_get(out, total - len);
            json_object_set_new(entry, "Id", json_string(p));
            json_object_set_new(entry, "Tags", tags_of(tags, p));
        }
        char *next = xstrdup(str_or(prec, "parent", ""));
        free(p);
        p = next;
    }
    return out;
}

/* ---------------------------------------------------------------- changes */

int image_store_tag(image_store *store, const char *ref, const char *new_ref, wharf_error *err)
{
    char id[72];
    int r = image_store_resolve(store, ref, id, err);
    if (r < 0)
        return r;
    image_ref parsed;
    r = image_ref_parse(new_ref, &parsed, err);
    if (r < 0)
        return r;
    if (parsed.digest) {
        image_ref_free(&parsed);
        return wharf_error_set(err, -EINVAL, "refusing to create a tag with a digest reference: %s",
                               new_ref);
    }
    _cleanup_free_ char *full = image_ref_full(&parsed);
    image_ref_free(&parsed);
    _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
    if (lock < 0)
        return lock;
    _cleanup_json_ json_t *tags = load_tags(store, err);
    if (!tags)
        return err->code;
    json_object_set_new(tags, full, json_string(id));
    r = save_tags(store, tags, err);
    if (r < 0)
        return r;
    /* LastTagTime, as docker inspect shows it */
    _cleanup_json_ json_t *rec = image_store_record(store, id, err);
    if (!rec)
        return err->code;
    char now[64];
    json_object_set_new(rec, "last_tag_time", json_string(wharf_time_rfc3339(now, sizeof(now))));
    _cleanup_free_ char *text = json_dumps(rec, JSON_INDENT(2));
    _cleanup_free_ char *path = record_path(store, id);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

static int delete_record(image_store *store, const char *id, json_t *report, wharf_error *err)
{
    _cleanup_free_ char *path = record_path(store, id);
    if (unlink(path) < 0 && errno != ENOENT)
        return wharf_error_errno(err, errno, "delete image %s", id);
    if (report)
        json_array_append_new(report, json_pack("{ss}", "Deleted", id));
    return 0;
}

static int untag(json_t *tags, const char *full, json_t *report)
{
    json_object_del(tags, full);
    if (report) {
        _cleanup_free_ char *f = image_ref_familiarize(full);
        json_array_append_new(report, json_pack("{ss}", "Untagged", f));
    }
    return 0;
}

/* After an image is deleted, Docker deletes its untagged parents that no
 * other image derives from and no container uses (the intermediate images
 * of a build), up the chain. Called under the lock. */
static int prune_parents(image_store *store, const char *parent, json_t *tags,
                         image_in_use_fn in_use, void *ctx, json_t *report, wharf_error *err)
{
    _cleanup_free_ char *p = parent && *parent ? xstrdup(parent) : NULL;
    while (p) {
        _cleanup_json_ json_t *recs = all_records(store, err);
        if (!recs)
            return err->code;
        json_t *rec = NULL;
        bool has_child = false;
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r)
        {
            if (strcmp(str_or(r, "id", ""), p) == 0)
                rec = r;
            if (strcmp(str_or(r, "parent", ""), p) == 0)
                has_child = true;
        }
        if (!rec || has_child || is_tagged(tags, p) || (in_use && in_use(p, ctx)))
            return 0;
        char *next = *str_or(rec, "parent", "") ? xstrdup(str_or(rec, "parent", "")) : NULL;
        int rc = delete_record(store, p, report, err);
        free(p);
        p = next;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int image_store_remove(image_store *store, const char *ref, bool force, image_in_use_fn in_use,
                       void *ctx, json_t **report, wharf_error *err)
{
    char id[72];
    int r = image_store_resolve(store, ref, id, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *rep = json_array();
    bool deleted = false;
    {
        _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
        if (lock < 0)
            return lock;
        _cleanup_json_ json_t *tags = load_tags(store, err);
        if (!tags)
            return err->code;
        /* by tag when ref is a reference naming a tag of this image */
        _cleanup_free_ char *full = NULL;
        image_ref parsed;
        wharf_error perr = {0};
        if (image_ref_parse(ref, &parsed, &perr) == 0) {
            if (!parsed.digest)
                full = image_ref_full(&parsed);
            image_ref_free(&parsed);
        }
        const char *target = full ? json_string_value(json_object_get(tags, full)) : NULL;
        bool used = in_use && in_use(id, ctx);
        _cleanup_json_ json_t *self = image_store_record(store, id, err);
        if (!self)
            return err->code;
        _cleanup_free_ char *parent = xstrdup(str_or(self, "parent", ""));
        _cleanup_json_ json_t *mine = json_array();
        const char *key;
        json_t *v;
        json_object_foreach(tags, key, v) if (strcmp(json_string_value(v), id) == 0)
            json_array_append_new(mine, json_string(key));
        if (target && strcmp(target, id) == 0) {
            if (json_array_size(mine) == 1 && used && !force)
                return wharf_error_set(err, -EBUSY,
                                       "conflict: unable to remove repository reference \"%s\" "
                                       "(must force) - a container is using its referenced image "
                                       "%.12s",
                                       ref, id + 7);
            untag(tags, full, rep);
            if (json_array_size(mine) == 1 && !used) {
                r = delete_record(store, id, rep, err);
                if (r == 0)
                    r = prune_parents(store, parent, tags, in_use, ctx, rep, err);
                deleted = true;
            }
        } else {
            if (used)
                return wharf_error_set(err, -EBUSY,
                                       "conflict: unable to delete %.19s (cannot be forced) - "
                                       "image is being used by a container",
                                       id + 7);
            if (json_array_size(mine) > 1 && !force)
                return wharf_error_set(err, -EEXIST,
                                       "conflict: unable to delete %.12s (must be forced) - image "
                                       "is referenced in multiple repositories",
                                       id + 7);
            size_t i;
            json_array_foreach(mine, i, v) untag(tags, json_string_value(v), rep);
            r = delete_record(store, id, rep, err);
            if (r == 0)
                r = prune_parents(store, parent, tags, in_use, ctx, rep, err);
            deleted = true;
        }
        if (r == 0)
            r = save_tags(store, tags, err);
        if (r < 0)
            return r;
    }
    if (deleted) {
        r = image_store_gc(store, NULL, err);
        if (r < 0)
            return r;
    }
    if (report)
        *report = steal_ptr(rep);
    return 0;
}

int image_store_prune(image_store *store, bool all, image_in_use_fn in_use, void *ctx,
                      json_t **report, wharf_error *err)
{
    _cleanup_json_ json_t *rep = json_array();
    {
        _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
        if (lock < 0)
            return lock;
        _cleanup_json_ json_t *tags = load_tags(store, err);
        if (!tags)
            return err->code;
        /* Rounds until nothing more goes: an image with children is kept
         * until they are gone (an intermediate image goes with its last
         * child, as Docker's do). */
        for (bool progress = true; progress;) {
            progress = false;
            _cleanup_json_ json_t *recs = all_records(store, err);
            if (!recs)
                return err->code;
            _cleanup_json_ json_t *parents = parents_of(recs);
            size_t i;
            json_t *rec;
            json_array_foreach(recs, i, rec)
            {
                const char *id = json_string_value(json_object_get(rec, "id"));
                _cleanup_json_ json_t *mine = json_array();
                const char *key;
                json_t *v;
                json_object_foreach(tags, key, v) if (strcmp(json_string_value(v), id) == 0)
                    json_array_append_new(mine, json_string(key));
                if ((json_array_size(mine) > 0 && !all) || json_object_get(parents, id) ||
                    (in_use && in_use(id, ctx)))
                    continue;
                size_t j;
                json_array_foreach(mine, j, v) untag(tags, json_string_value(v), rep);
                int r = delete_record(store, id, rep, err);
                if (r < 0)
                    return r;
                progress = true;
            }
        }
        int r = save_tags(store, tags, err);
        if (r < 0)
            return r;
    }
    uint64_t reclaimed = 0;
    int r = image_store_gc(store, &reclaimed, err);
    if (r < 0)
        return r;
    if (report)
        *report = json_pack("{sO sI}", "ImagesDeleted", json_array_size(rep) ? rep : json_null(),
                            "SpaceReclaimed", (json_int_t)reclaimed);
    return 0;
}

static uint64_t tree_size(const char *path)
{
    /* du of what gc removes: good enough for SpaceReclaimed */
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t total = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
        total += tree_size(sub);
    }
    closedir(d);
    return total;
}

/* Removes the entries of dir whose names are not keys of keep. */
static int sweep(const char *dir, json_t *keep, uint64_t *reclaimed, wharf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return wharf_error_errno(err, errno, "open %s", dir);
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (keep && json_object_get(keep, de->d_name))
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
        *reclaimed += tree_size(path);
        r = wharf_rm_rf(path, err);
        if (r < 0)
            break;
    }
    closedir(d);
    return r;
}

int image_store_gc(image_store *store, uint64_t *reclaimed, wharf_error *err)
{
    _cleanup_close_ int gclock = image_store_lock(store, "gc.lock", LOCK_EX, err);
    if (gclock < 0)
        return gclock;
    _cleanup_close_ int lock = image_store_lock(store, "lock", LOCK_EX, err);
    if (lock < 0)
        return lock;
    _cleanup_json_ json_t *recs = all_records(store, err);
    if (!recs)
        return err->code;
    _cleanup_json_ json_t *blobs = json_object(), *snaps = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "id"));
        const char *mdigest = json_string_value(json_object_get(rec, "manifest"));
        if (!image_digest_valid(id) || !image_digest_valid(mdigest))
            continue;
        json_object_set_new(blobs, image_digest_hex(id), json_true());
        json_object_set_new(blobs, image_digest_hex(mdigest), json_true());
        /* an unreadable manifest or config keeps everything: never collect
         * what we cannot prove unreferenced */
        _cleanup_json_ json_t *m = image_store_load_blob_json(store, mdigest, err);
        _cleanup_json_ json_t *c = image_store_load_blob_json(store, id, err);
        if (!m || !c)
            return wharf_error_prefix(err, "gc: image %s", id);
        size_t j;
        json_t *l;
        json_array_foreach(json_object_get(m, "layers"), j, l)
        {
            const char *d = json_string_value(json_object_get(l, "digest"));
            if (d && image_digest_valid(d))
                json_object_set_new(blobs, image_digest_hex(d), json_true());
        }
        _cleanup_json_ json_t *chains = image_chain_ids(c, err);
        if (!chains)
            return wharf_error_prefix(err, "gc: image %s", id);
        json_array_foreach(chains, j, l)
            json_object_set_new(snaps, image_digest_hex(json_string_value(l)), json_true());
    }
    uint64_t total = 0;
    _cleanup_free_ char *bdir = xasprintf("%s/blobs/sha256", store->dir);
    _cleanup_free_ char *sdir = xasprintf("%s/snapshots", store->dir);
    _cleanup_free_ char *tdir = xasprintf("%s/tmp", store->dir);
    /* no load holds gc.lock now, so everything in tmp/ is debris of a crash */
    int r = sweep(bdir, blobs, &total, err);
    if (r == 0)
        r = sweep(sdir, snaps, &total, err);
    if (r == 0)
        r = sweep(tdir, NULL, &total, err);
    if (reclaimed)
        *reclaimed = total;
    return r;
}

/* ---------------------------------------------------------------- rootfs */

char *image_store_lowerdirs(image_store *store, const char *ref, wharf_error *err)
{
    char id[72];
    _cleanup_json_ json_t *rec = NULL, *manifest = NULL, *config = NULL;
    if (load_image(store, ref, id, &rec, &manifest, &config, err) < 0)
        return NULL;
    _cleanup_json_ json_t *chains = image_chain_ids(config, err);
    if (!chains)
        return NULL;
    if (json_array_size(chains) == 0) {
        wharf_error_set(err, -EINVAL, "image %s has no layers", ref);
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    for (size_t i = json_array_size(chains); i-- > 0;) {
        const char *chain = json_string_value(json_array_get(chains, i));
        _cleanup_free_ char *fsdir =
            xasprintf("%s/snapshots/%s/fs", store->dir, image_digest_hex(chain));
        if (access(fsdir, F_OK) < 0) {
            strbuf_release(&sb);
            wharf_error_errno(err, errno, "image %s: snapshot of layer %zu", ref, i);
            return NULL;
        }
        if (sb.len)
            strbuf_addch(&sb, ':');
        strbuf_addstr(&sb, fsdir);
    }
    return strbuf_detach(&sb);
}

int image_store_mount_rootfs(image_store *store, const char *ref, const char *upperdir,
                             const char *workdir, const char *target, wharf_error *err)
{
    if (!upperdir || !workdir || !target)
        return wharf_error_set(err, -EINVAL, "image %s: mount needs upperdir, workdir and target",
                               ref);
    _cleanup_free_ char *lower = image_store_lowerdirs(store, ref, err);
    if (!lower)
        return err->code;
    for (const char *p = upperdir; *p; p++)
        if (*p == ',' || *p == ':')
            return wharf_error_set(err, -EINVAL, "overlay upperdir %s: ',' and ':' not allowed",
                                   upperdir);
    for (const char *p = workdir; *p; p++)
        if (*p == ',' || *p == ':')
            return wharf_error_set(err, -EINVAL, "overlay workdir %s: ',' and ':' not allowed",
                                   workdir);
    _cleanup_free_ char *opts =
        xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upperdir, workdir);
    if (strlen(opts) >= (size_t)sysconf(_SC_PAGESIZE))
        return wharf_error_set(err, -E2BIG, "image %s: overlay options exceed one page (%zu bytes)",
                               ref, strlen(opts));
    if (mount("overlay", target, "overlay", 0, opts) < 0)
        return wharf_error_errno(err, errno, "image %s: mount overlay on %s", ref, target);
    return 0;
}

int image_store_unmount_rootfs(const char *target, wharf_error *err)
{
    if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
        if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            return 0;
        return wharf_error_errno(err, errno, "unmount %s", target);
    }
    return 0;
}
