/* internal.h — what the image store's files share; not part of the API. */
#ifndef WHARF_IMAGE_INTERNAL_H
#define WHARF_IMAGE_INTERNAL_H

#include "image.h"

#include <jansson.h>
#include <nettle/sha2.h>

struct image_store {
    char *dir;
};

/* Incremental sha256 (nettle: already loaded with libarchive and gnutls,
 * where libcrypto would add 1.4 MiB to the daemon's resident set). */
typedef struct image_hasher {
    struct sha256_ctx ctx;
} image_hasher;
void image_hasher_init(image_hasher *h);
void image_hasher_update(image_hasher *h, const void *data, size_t len);
/* Writes "sha256:<hex>" and releases the context. */
void image_hasher_final(image_hasher *h, char out[72]);
void image_hasher_release(image_hasher *h);

/* The 64 hex characters of a digest (pointer into it). */
const char *image_digest_hex(const char *digest);

/* flock(2) on <dir>/<name>: returns the held fd (close to release). */
int image_store_lock(image_store *store, const char *name, int how, wharf_error *err);
/* A fresh directory under tmp/ (caller frees the path and removes the dir). */
char *image_store_mkstaging(image_store *store, const char *what, wharf_error *err);
/* Moves a file already hashed to digest into blobs/ (the file is consumed). */
int image_store_adopt_blob(image_store *store, const char *path, const char *digest,
                           wharf_error *err);
json_t *image_store_load_blob_json(image_store *store, const char *digest, wharf_error *err);

/* Compression by magic number. */
enum image_compression { IMAGE_COMP_NONE, IMAGE_COMP_GZIP, IMAGE_COMP_ZSTD };
enum image_compression image_detect_compression(const unsigned char *head, size_t len);
int image_detect_compression_fd(int fd, enum image_compression *out);
const char *image_layer_media_type(enum image_compression c);

/* Chain IDs from a config's rootfs.diff_ids: a new array of strings. */
json_t *image_chain_ids(json_t *config, wharf_error *err);

/*
 * Makes sure every layer of a manifest is unpacked into its snapshot,
 * checking each layer's uncompressed digest against the config's diff_ids.
 */
int image_store_ensure_snapshots(image_store *store, json_t *manifest, json_t *config,
                                 wharf_error *err);
/* -EINVAL unless the manifest has as many layers as the config diff_ids. */
int image_store_check_layers(json_t *manifest, json_t *config, wharf_error *err);
/* The same for layer i alone (chains from image_chain_ids); *unpacked (may
 * be NULL) says whether it had to be unpacked now. */
int image_store_ensure_snapshot(image_store *store, json_t *manifest, json_t *config,
                                json_t *chains, size_t i, bool *unpacked, wharf_error *err);

/* Writes meta.json into the staging directory stage (holding fs/) and
 * renames it to snapshots/<chain hex>. */
int image_store_adopt_snapshot(image_store *store, const char *stage, const char *chain,
                               const char *parent, const char *diff, const char *layer,
                               uint64_t size, wharf_error *err);
/* Commits an image (record + tags) under the store lock. tags may be NULL. */
int image_store_commit(image_store *store, const char *manifest_digest, const char *config_digest,
                       json_t *tags, wharf_error *err);
/* The same, also recording repo_digest (may be NULL) among the image's
 * repo_digests; what an earlier record of the image knew is kept. */
int image_store_commit_record(image_store *store, const char *manifest_digest,
                              const char *config_digest, json_t *tags, const char *repo_digest,
                              wharf_error *err);
/* The same for an image derived from parent (an image ID, or NULL). */
int image_store_commit_child(image_store *store, const char *manifest_digest,
                             const char *config_digest, const char *parent, json_t *tags,
                             wharf_error *err);

/* Builds and stores an OCI manifest for config + layers (array of
 * descriptors); writes its digest to out. */
int image_store_write_manifest(image_store *store, const char *config_digest, size_t config_size,
                               json_t *layers, char out[72], wharf_error *err);

/* The image record {id, manifest, ...}; new reference or NULL (-ENOENT). */
json_t *image_store_record(image_store *store, const char *id, wharf_error *err);

/* Parses RFC 3339 into unix seconds (0 when unparsable). */
int64_t image_parse_time(const char *s);

#endif
