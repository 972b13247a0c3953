/* ingest.c — what a registry client stores: blobs written piece by piece
 * as they are downloaded, and an image committed from a manifest once all
 * its blobs are in blobs/.
 *
 * A pull stores verified blobs as they complete, but the image (its record
 * and tags) only appears in image_store_commit_manifest, after every layer
 * is unpacked and checked: a pull that fails midway leaves blobs that a
 * retry skips, and nothing tagged. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

int image_store_hold(image_store *store, wharf_error *err)
{
    return image_store_lock(store, "gc.lock", LOCK_SH, err);
}

bool image_store_has_blob(image_store *store, const char *digest)
{
    if (!image_digest_valid(digest))
        return false;
    _cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", store->dir, digest + 7);
    return access(path, F_OK) == 0;
}

struct image_blob_writer {
    image_store *store;
    char *tmp;
    int fd;
    image_hasher hasher;
    uint64_t size;
};

image_blob_writer *image_store_blob_create(image_store *store, wharf_error *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/blob-XXXXXX", store->dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        wharf_error_errno(err, errno, "create %s", tmp);
        return NULL;
    }
    image_blob_writer *w = xcalloc(1, sizeof(*w));
    w->store = store;
    w->tmp = steal_ptr(tmp);
    w->fd = fd;
    image_hasher_init(&w->hasher);
    return w;
}

int image_blob_write(image_blob_writer *w, const void *data, size_t len, wharf_error *err)
{
    int r = wharf_write_all(w->fd, data, len);
    if (r < 0)
        return wharf_error_errno(err, -r, "write %s", w->tmp);
    image_hasher_update(&w->hasher, data, len);
    w->size += len;
    return 0;
}

uint64_t image_blob_size(const image_blob_writer *w)
{
    return w->size;
}

void image_blob_abort(image_blob_writer *w)
{
    if (!w)
        return;
    image_hasher_release(&w->hasher);
    close(w->fd);
    unlink(w->tmp);
    free(w->tmp);
    free(w);
}

int image_blob_commit(image_blob_writer *w, const char *expected, char out[72], wharf_error *err)
{
    char digest[72];
    image_hasher_final(&w->hasher, digest);
    int r = 0;
    if (close(w->fd) < 0)
        r = wharf_error_errno(err, errno, "write %s", w->tmp);
    w->fd = -1;
    if (r == 0 && expected && strcmp(expected, digest) != 0)
        r = wharf_error_set(err, -EILSEQ, "blob %s: digest mismatch (content is %s)", expected,
                            digest);
    if (r == 0)
        r = image_store_adopt_blob(w->store, w->tmp, digest, err);
    if (r < 0)
        unlink(w->tmp);
    else if (out)
        memcpy(out, digest, 72);
    free(w->tmp);
    free(w);
    return r;
}

/* The descriptor's digest when it is a valid one, else NULL. */
static const char *desc_digest(json_t *desc)
{
    const char *d = json_string_value(json_object_get(desc, "digest"));
    return image_digest_valid(d) ? d : NULL;
}

int image_store_commit_manifest(image_store *store, const char *manifest_digest,
                                const char *const *tags, size_t n, const char *repo_digest,
                                image_layer_fn on_layer, void *ctx, char id[72], wharf_error *err)
{
    _cleanup_json_ json_t *manifest = image_store_load_blob_json(store, manifest_digest, err);
    if (!manifest)
        return err->code;
    if (json_is_array(json_object_get(manifest, "manifests")))
        return wharf_error_set(err, -EINVAL, "manifest %s: an index, not an image manifest",
                               manifest_digest);
    const char *config_digest = desc_digest(json_object_get(manifest, "config"));
    if (!config_digest)
        return wharf_error_set(err, -EINVAL, "manifest %s: config.digest: not a sha256 digest",
                               manifest_digest);
    json_t *layers = json_object_get(manifest, "layers");
    if (!json_is_array(layers))
        return wharf_error_set(err, -EINVAL, "manifest %s: layers: expected an array",
                               manifest_digest);
    for (size_t i = 0; i < json_array_size(layers); i++) {
        const char *d = desc_digest(json_array_get(layers, i));
        if (!d)
            return wharf_error_set(err, -EINVAL,
                                   "manifest %s: layers[%zu].digest: not a sha256 digest",
                                   manifest_digest, i);
        if (!image_store_has_blob(store, d))
            return wharf_error_set(err, -ENOENT, "manifest %s: layer %s is not stored",
                                   manifest_digest, d);
    }
    _cleanup_json_ json_t *config = image_store_load_blob_json(store, config_digest, err);
    if (!config)
        return wharf_error_prefix(err, "manifest %s: config", manifest_digest);
    _cleanup_json_ json_t *full_tags = json_array();
    for (size_t i = 0; i < n; i++) {
        image_ref r;
        if (image_ref_parse(tags[i], &r, err) < 0)
            return err->code;
        char *full = image_ref_full(&r);
        bool digest = r.digest != NULL;
        image_ref_free(&r);
        if (digest) {
            free(full);
            return wharf_error_set(err, -EINVAL, "%s: a tag cannot hold a digest", tags[i]);
        }
        json_array_append_new(full_tags, json_string(full));
        free(full);
    }
    int r = image_store_check_layers(manifest, config, err);
    if (r < 0)
        return wharf_error_prefix(err, "manifest %s", manifest_digest);
    _cleanup_json_ json_t *chains = image_chain_ids(config, err);
    if (!chains)
        return err->code;
    for (size_t i = 0; i < json_array_size(chains); i++) {
        bool unpacked = false;
        r = image_store_ensure_snapshot(store, manifest, config, chains, i, &unpacked, err);
        if (r < 0)
            return r;
        if (on_layer)
            on_layer(i, desc_digest(json_array_get(layers, i)), unpacked, ctx);
    }
    r = image_store_commit_record(store, manifest_digest, config_digest, full_tags, repo_digest,
                                  err);
    if (r == 0)
        snprintf(id, 72, "%s", config_digest);
    return r;
}

int image_store_unpack_layer(image_store *store, const char *manifest_digest, size_t index,
                             bool *unpacked, wharf_error *err)
{
    _cleanup_json_ json_t *manifest = image_store_load_blob_json(store, manifest_digest, err);
    if (!manifest)
        return err->code;
    const char *config_digest = desc_digest(json_object_get(manifest, "config"));
    if (!config_digest)
        return wharf_error_set(err, -EINVAL, "manifest %s: config.digest: not a sha256 digest",
                               manifest_digest);
    _cleanup_json_ json_t *config = image_store_load_blob_json(store, config_digest, err);
    if (!config)
        return wharf_error_prefix(err, "manifest %s: config", manifest_digest);
    int r = image_store_check_layers(manifest, config, err);
    if (r < 0)
        return wharf_error_prefix(err, "manifest %s", manifest_digest);
    json_t *layers = json_object_get(manifest, "layers");
    if (index >= json_array_size(layers))
        return wharf_error_set(err, -EINVAL, "manifest %s has no layer %zu", manifest_digest,
                               index);
    if (!desc_digest(json_array_get(layers, index)))
        return wharf_error_set(err, -EINVAL, "manifest %s: layers[%zu].digest: not a sha256 digest",
                               manifest_digest, index);
    _cleanup_json_ json_t *chains = image_chain_ids(config, err);
    if (!chains)
        return err->code;
    return image_store_ensure_snapshot(store, manifest, config, chains, index, unpacked, err);
}

json_t *image_store_manifest(image_store *store, const char *ref, char digest[72], wharf_error *err)
{
    char id[72];
    if (image_store_resolve(store, ref, id, err) < 0)
        return NULL;
    _cleanup_json_ json_t *rec = image_store_record(store, id, err);
    if (!rec)
        return NULL;
    const char *m = json_string_value(json_object_get(rec, "manifest"));
    if (!image_digest_valid(m)) {
        wharf_error_set(err, -EINVAL, "image %s: its record names no manifest", ref);
        return NULL;
    }
    json_t *manifest = image_store_load_blob_json(store, m, err);
    if (manifest)
        snprintf(digest, 72, "%s", m);
    return manifest;
}
