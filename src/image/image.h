/*
 * image — the local OCI image store: content-addressed blobs, unpacked layer
 * snapshots, image records and tags, docker-archive / OCI-layout load and
 * save, import/export, and the overlayfs root filesystem of a container.
 *
 * On disk, under the directory given to image_store_open():
 *   blobs/sha256/<hex>          every blob (layers, configs, manifests), verified
 *   snapshots/<chainhex>/fs     one layer unpacked once, keyed by its chain ID
 *   snapshots/<chainhex>/meta.json   diff_id, parent chain ID, sizes
 *   images/<idhex>.json         one record per image (ID = config digest)
 *   repositories.json           tag -> image ID
 *   tmp/                        staging; nothing here is ever referenced
 *   lock, gc.lock               flock(2) files (metadata writers / collector)
 *
 * Every file is written to a temporary name and renamed into place, so a
 * crash leaves either the old state or the new one; an image exists only
 * once its record is committed, after all its blobs and snapshots.
 *
 * Owns: the layout above and the tar formats. Must not: know about
 * containers (the caller says which images are in use), start processes,
 * or touch anything outside the store directory except the mount target and
 * the fds the caller passes in.
 */
#ifndef WHARF_IMAGE_H
#define WHARF_IMAGE_H

#include "base.h"

#include <sys/stat.h>

/* ---------------------------------------------------------------- references */

/* A parsed image reference, normalised the way Docker does:
 * "busybox" -> domain "docker.io", path "library/busybox", tag "latest". */
typedef struct image_ref {
    char *domain; /* "docker.io", "localhost:5000", ... */
    char *path;   /* "library/busybox", "a/b" */
    char *tag;    /* NULL when only a digest was given */
    char *digest; /* "sha256:<hex>" or NULL */
} image_ref;

/* Parses s; the fields are malloc'd (release with image_ref_free). A missing
 * tag and digest means "latest". Fails with -EINVAL naming s. */
int image_ref_parse(const char *s, image_ref *out, wharf_error *err);
void image_ref_free(image_ref *ref);
/* "docker.io/library/busybox:latest" (or "...@sha256:..."); caller frees. */
char *image_ref_full(const image_ref *ref);
/* "busybox:latest", as Docker displays it; caller frees. */
char *image_ref_familiar(const image_ref *ref);
/* The familiar form of a full reference string; caller frees. */
char *image_ref_familiarize(const char *full);

/* ---------------------------------------------------------------- digests */

/* "sha256:<64 hex>" check. */
bool image_digest_valid(const char *digest);
/* "amd64", "arm64", ...: Go's GOARCH of this machine, as image configs name it. */
const char *image_host_arch(void);
/* sha256 of a memory buffer as "sha256:<hex>"; out must hold 72 bytes. */
void image_digest_buf(const void *data, size_t len, char out[72]);

/* ---------------------------------------------------------------- the store */

typedef struct image_store image_store;

/* Opens (creating when missing) a store in dir. Returns a new store (free
 * with image_store_close) or NULL. */
image_store *image_store_open(const char *dir, wharf_error *err);
void image_store_close(image_store *store);
const char *image_store_dir(const image_store *store);

/* Copies fd (to EOF) into blobs/ through a temporary file while hashing.
 * With expected != NULL the content must have that digest (else -EILSEQ and
 * nothing is stored). The digest is written to out (72 bytes) when non-NULL. */
int image_store_put_blob(image_store *store, int fd, const char *expected, char out[72],
                         wharf_error *err);
int image_store_put_blob_buf(image_store *store, const void *data, size_t len, char out[72],
                             wharf_error *err);
/* The path of a blob (caller frees); NULL with -ENOENT when it is not stored. */
char *image_store_blob_path(image_store *store, const char *digest, wharf_error *err);
/* Re-hashes a stored blob: -EILSEQ when its content no longer matches. */
int image_store_verify_blob(image_store *store, const char *digest, wharf_error *err);

/* Resolves a reference, a full ID ("sha256:<hex>" or 64 hex) or a unique ID
 * prefix to the image ID (written to id, 72 bytes). -ENOENT when unknown. */
int image_store_resolve(image_store *store, const char *ref, char id[72], wharf_error *err);

/* ---------------------------------------------------------------- queries */

/* Docker /images/json array: [{Id, ParentId, RepoTags, RepoDigests, Created
 * (unix), Size, SharedSize, VirtualSize, Labels, Containers}]; new reference. */
json_t *image_store_list(image_store *store, wharf_error *err);
/* The same array for docker system df: SharedSize is the bytes of an image's
 * layers that other images use too; *layers_size gets the bytes of every
 * stored layer counted once. New reference. */
json_t *image_store_disk_usage(image_store *store, uint64_t *layers_size, wharf_error *err);
/* Docker /images/{name}/json object; new reference. */
json_t *image_store_inspect(image_store *store, const char *ref, wharf_error *err);
/* Docker /images/{name}/history array, newest first; new reference. */
json_t *image_store_history(image_store *store, const char *ref, wharf_error *err);
/* The image's config blob parsed (the OCI image config); new reference. */
json_t *image_store_config(image_store *store, const char *ref, wharf_error *err);

/* ---------------------------------------------------------------- changes */

/* Points the tag new_ref at the image that ref names (moving it if it names
 * another image, which may leave that one dangling). */
int image_store_tag(image_store *store, const char *ref, const char *new_ref, wharf_error *err);

/* Says whether a container uses image id ("sha256:<hex>"). */
typedef bool (*image_in_use_fn)(const char *id, void *ctx);

/*
 * docker rmi. A tag is removed; the image is deleted when no tag remains
 * and in_use (may be NULL) does not claim it. An ID with several tags needs
 * force (-EEXIST otherwise); an image in use is never deleted by ID (-EBUSY).
 * Unreferenced blobs and snapshots are collected afterwards.
 * *report (when non-NULL) gets a new Docker-style array of
 * {"Untagged": ref} / {"Deleted": id}.
 */
int image_store_remove(image_store *store, const char *ref, bool force, image_in_use_fn in_use,
                       void *ctx, json_t **report, wharf_error *err);
/* Deletes dangling images (all unused images with all=true) that in_use does
 * not claim. *report gets a new {"ImagesDeleted": [...], "SpaceReclaimed": n}. */
int image_store_prune(image_store *store, bool all, image_in_use_fn in_use, void *ctx,
                      json_t **report, wharf_error *err);
/* Removes blobs and snapshots that no image references; *reclaimed (may be
 * NULL) gets the bytes freed. Waits for loads in progress. */
int image_store_gc(image_store *store, uint64_t *reclaimed, wharf_error *err);

/* ---------------------------------------------------------------- root filesystems */

/* Mounts overlayfs at target with the image's snapshots as lower layers and
 * the caller's upperdir/workdir (same filesystem, both existing). */
int image_store_mount_rootfs(image_store *store, const char *ref, const char *upperdir,
                             const char *workdir, const char *target, wharf_error *err);
int image_store_unmount_rootfs(const char *target, wharf_error *err);
/* The lowerdir list (topmost first, ':'-separated) for ref; caller frees. */
char *image_store_lowerdirs(image_store *store, const char *ref, wharf_error *err);

/* ---------------------------------------------------------------- archives */

enum image_archive_format {
    IMAGE_FORMAT_DOCKER_ARCHIVE, /* manifest.json + repositories + layer tars */
    IMAGE_FORMAT_OCI_ARCHIVE,    /* oci-layout + index.json + blobs/ (tar) */
};

/* Reads a docker-archive or OCI-layout tar (optionally gzip/zstd
 * compressed) from fd and commits every image in it with its tags. Nothing
 * becomes visible before everything is stored and verified. *loaded (may be
 * NULL) gets a new array of the loaded references, or IDs for untagged ones. */
int image_store_load(image_store *store, int fd, json_t **loaded, wharf_error *err);
/* Writes the images named by refs (count n) as a tar stream to fd. */
int image_store_save(image_store *store, const char *const *refs, size_t n,
                     enum image_archive_format format, int fd, wharf_error *err);

/*
 * docker import: a root filesystem tar (optionally compressed) from fd
 * becomes a single-layer image, tagged with tag (may be NULL). changes
 * (count n) are Dockerfile instructions applied to the config: CMD,
 * ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL.
 * The new image ID is written to id (72 bytes).
 */
int image_store_import(image_store *store, int fd, const char *tag, const char *const *changes,
                       size_t n, const char *message, char id[72], wharf_error *err);
/* One of those changes ("ENV A=b", "CMD [\"sh\"]", ONBUILD ...) applied to
 * an image config's "config" object; -EINVAL naming a bad one. */
int image_config_apply_change(json_t *cfg, const char *change, wharf_error *err);

/*
 * A new image: the parent image (NULL or "" for none, as FROM scratch) plus
 * the changes an overlay upper directory holds, with config as the image
 * config's "config" object (Cmd, Env, ...; NULL keeps the parent's) and one
 * history entry appended to the parent's. Overlay whiteouts (0/0 character
 * devices, trusted.overlay.opaque directories) become OCI whiteout entries;
 * overlay attributes stay out. An upper directory without entries (or
 * upperdir NULL) adds no layer and the history entry says empty_layer, as
 * dockerd does. The image is recorded untagged, its parent remembered (an
 * untagged parent is hidden from the list and removed with its last child,
 * as Docker's intermediate images are). The new ID is written to id.
 */
struct image_commit {
    const char *parent;
    const char *upperdir;
    /* The caller is done with upperdir: it may be moved into the store as
     * the layer's snapshot instead of being unpacked again from the tar. */
    bool consume_upperdir;
    json_t *config;         /* borrowed */
    const char *created_by; /* the history entry: "/bin/sh -c #(nop) ..." */
    const char *comment;    /* may be NULL */
    const char *author;     /* may be NULL; also the config's author */
    const char *created;    /* RFC 3339; NULL: now */
    /* May be NULL: entries of upperdir (rel: their path in it, "etc/hosts")
     * it says true of stay out of the layer, with what is under them. */
    bool (*skip)(const char *rel, const struct stat *st, void *ctx);
    void *skip_ctx;
};
int image_store_commit_layer(image_store *store, const struct image_commit *commit, char id[72],
                             wharf_error *err);

/* Writes the directory tree at dir (not crossing mount points) as a tar
 * stream to fd, paths relative to dir: docker export of a root filesystem. */
int image_export_dir(const char *dir, int fd, wharf_error *err);

/* Unpacks one layer tar (gzip, zstd or plain, by magic) from fd into the
 * empty-or-existing directory dest, turning OCI whiteouts into overlay ones.
 * Entries escaping dest fail with -EPERM naming `what` and the entry.
 * diff_id (72 bytes, may be NULL) gets the sha256 of the uncompressed
 * stream; *size (may be NULL) the bytes of file content written. */
int image_unpack_layer(int fd, const char *dest, const char *what, char diff_id[72], uint64_t *size,
                       wharf_error *err);

/* ---------------------------------------------------------------- registries */

/*
 * What a registry client needs: blobs written as they arrive, an image
 * committed from a manifest whose blobs are all in blobs/ already, and the
 * digests an image is known by in registries (Docker's RepoDigests).
 */

/* Holds off garbage collection while blobs no image references yet are
 * being added (a pull in progress). Returns an fd: close it to release. */
int image_store_hold(image_store *store, wharf_error *err);

bool image_store_has_blob(image_store *store, const char *digest);

/* A blob written in pieces (a download), hashed on the way to tmp/. */
typedef struct image_blob_writer image_blob_writer;
image_blob_writer *image_store_blob_create(image_store *store, wharf_error *err);
int image_blob_write(image_blob_writer *w, const void *data, size_t len, wharf_error *err);
/* Bytes written so far. */
uint64_t image_blob_size(const image_blob_writer *w);
/* Stores the content under its digest (written to out, 72 bytes, may be
 * NULL) and frees w. With expected != NULL a different digest is -EILSEQ
 * ("blob <expected>: digest mismatch (content is ...)") and nothing is
 * stored. */
int image_blob_commit(image_blob_writer *w, const char *expected, char out[72], wharf_error *err);
/* Discards the content and frees w; NULL is a no-op. */
void image_blob_abort(image_blob_writer *w);

/* Called for each layer as the image is committed: unpacked says the layer
 * was unpacked now (false: its snapshot existed already). */
typedef void (*image_layer_fn)(size_t index, const char *layer_digest, bool unpacked, void *ctx);

/*
 * Commits the image of the manifest blob manifest_digest (OCI or Docker
 * schema 2) whose config and layer blobs are all stored: unpacks the
 * missing snapshots (each layer's uncompressed digest checked against the
 * config's diff_ids), then writes the record, repo_digest (a full
 * "name@sha256:..." or NULL) and the n full references in tags in one step.
 * A failure leaves no image and no tag; the blobs stay for a retry. The
 * image ID goes to id (72 bytes). on_layer may be NULL.
 */
int image_store_commit_manifest(image_store *store, const char *manifest_digest,
                                const char *const *tags, size_t n, const char *repo_digest,
                                image_layer_fn on_layer, void *ctx, char id[72], wharf_error *err);

/* Unpacks layer index of the stored manifest manifest_digest (its config
 * and that layer's blob stored too) into its snapshot, checked against the
 * config's diff_id, unless the snapshot exists (*unpacked, may be NULL,
 * says which). Layers may be unpacked in any order and from several
 * threads at once, as their blobs arrive; image_store_commit_manifest then
 * finds them done. */
int image_store_unpack_layer(image_store *store, const char *manifest_digest, size_t index,
                             bool *unpacked, wharf_error *err);

/* The manifest of ref as stored (a new reference); its digest goes to
 * digest (72 bytes). */
json_t *image_store_manifest(image_store *store, const char *ref, char digest[72],
                             wharf_error *err);
/* Records that ref's image is known as repo_digest ("name@sha256:...") in a
 * registry, replacing an older digest of the same repository. */
int image_store_add_repo_digest(image_store *store, const char *ref, const char *repo_digest,
                                wharf_error *err);
/* The full "name@sha256:..." references of ref's image: a new array. */
json_t *image_store_repo_digests(image_store *store, const char *ref, wharf_error *err);

#endif
