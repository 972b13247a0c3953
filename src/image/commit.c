/* commit.c — a new image from a parent image plus the changes an overlay
 * upper directory holds (the builder's steps, docker commit).
 *
 * The upper directory is walked once (names sorted, so equal trees give
 * equal tars) and written as an uncompressed layer tar straight into a
 * staging file while it is hashed: with no compression the digest is the
 * diff_id too. Overlay's own bookkeeping turns back into OCI's: a 0/0
 * character device is the whiteout ".wh.NAME", a directory marked
 * trusted.overlay.opaque gets a ".wh..wh..opq" entry, and trusted.overlay.*
 * attributes never reach the tar. The snapshot is the same tree: the upper
 * directory itself when the caller gives it up (a rename, stripped of
 * overlay attributes other than opaque), else the tar unpacked again. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

struct tar_sink {
    int fd;
    image_hasher hasher;
    int error; /* errno of a failed write */
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
    struct tar_sink *s = data;
    image_hasher_update(&s->hasher, buf, len);
    int r = wharf_write_all(s->fd, buf, len);
    if (r < 0) {
        s->error = -r;
        archive_set_error(a, -r, "write layer: %s", strerror(-r));
        return -1;
    }
    return (la_ssize_t)len;
}

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct walker {
    struct archive *out;
    const char *upper;
    bool (*skip)(const char *rel, const struct stat *st, void *ctx);
    void *skip_ctx;
    bool strip; /* remove overlay attributes as we go (the tree becomes a snapshot) */
    size_t entries;
    uint64_t size;
    struct hardlink *links;
    size_t n_links, a_links;
};

static bool overlay_xattr(const char *name)
{
    return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}

/* Copies the extended attributes of path (no symlink follow) into e,
 * overlay's excepted; *opaque says whether it is an opaque directory. */
static int read_xattrs(struct walker *w, const char *path, struct archive_entry *e, bool *opaque,
                       wharf_error *err)
{
    *opaque = false;
    ssize_t n = llistxattr(path, NULL, 0);
    if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
        return 0;
    if (n <= 0)
        return n < 0 ? wharf_error_errno(err, errno, "list attributes of %s", path) : 0;
    _cleanup_free_ char *names = xmalloc((size_t)n + 1);
    n = llistxattr(path, names, (size_t)n);
    if (n < 0)
        return wharf_error_errno(err, errno, "list attributes of %s", path);
    for (char *name = names; name < names + n; name += strlen(name) + 1) {
        if (overlay_xattr(name)) {
            if (strcmp(name + (name[0] == 't' ? 16 : 13), "opaque") == 0) {
                char v[2] = "";
                *opaque = lgetxattr(path, name, v, sizeof(v)) == 1 && v[0] == 'y';
            }
            if (w->strip && strcmp(name, "trusted.overlay.opaque") != 0)
                lremovexattr(path, name);
            continue;
        }
        ssize_t len = lgetxattr(path, name, NULL, 0);
        if (len < 0)
            return wharf_error_errno(err, errno, "read attribute %s of %s", name, path);
        _cleanup_free_ char *value = xmalloc((size_t)len + 1);
        len = lgetxattr(path, name, value, (size_t)len);
        if (len < 0)
            return wharf_error_errno(err, errno, "read attribute %s of %s", name, path);
        archive_entry_xattr_add_entry(e, name, value, (size_t)len);
    }
    return 0;
}

static int write_header(struct walker *w, struct archive_entry *e, const char *rel,
                        wharf_error *err)
{
    if (archive_write_header(w->out, e) < ARCHIVE_WARN)
        return wharf_error_set(err, -EIO, "layer from %s: %s: %s", w->upper, rel,
                               archive_error_string(w->out));
    w->entries++;
    return 0;
}

static int copy_content(struct walker *w, int dirfd, const char *name, const char *rel,
                        wharf_error *err)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "layer from %s: open %s", w->upper, rel);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return wharf_error_errno(err, errno, "layer from %s: read %s", w->upper, rel);
        if (n == 0)
            return 0;
        if (archive_write_data(w->out, buf, (size_t)n) != n)
            return wharf_error_set(err, -EIO, "layer from %s: %s: %s", w->upper, rel,
                                   archive_error_string(w->out));
        w->size += (uint64_t)n;
    }
}

static int walk_dir(struct walker *w, int dirfd, const char *prefix, wharf_error *err);

/* One entry of the directory dirfd (whose path in the layer is prefix). */
static int walk_entry(struct walker *w, int dirfd, const char *prefix, const char *name,
                      wharf_error *err)
{
    _cleanup_free_ char *rel = *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "layer from %s: stat %s", w->upper, rel);
    if (S_ISSOCK(st.st_mode))
        return 0; /* tar has no sockets; docker leaves them out too */
    if (w->skip && w->skip(rel, &st, w->skip_ctx))
        return 0;
    char fdbuf[32];
    _cleanup_free_ char *path = xasprintf("%s/%s", wharf_fd_path(dirfd, fdbuf), name);
    struct archive_entry *e = archive_entry_new();
    int r = 0;
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) {
        /* an overlay whiteout: the OCI form is an empty regular file */
        _cleanup_free_ char *wh =
            *prefix ? xasprintf("%s/.wh.%s", prefix, name) : xasprintf(".wh.%s", name);
        archive_entry_set_pathname(e, wh);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, 0);
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        r = write_header(w, e, rel, err);
        archive_entry_free(e);
        return r;
    }
    archive_entry_copy_stat(e, &st);
    archive_entry_set_pathname(e, rel);
    archive_entry_set_nlink(e, 1);
    bool opaque = false;
    if ((r = read_xattrs(w, path, e, &opaque, err)) < 0)
        goto out;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
        if (n < 0) {
            r = wharf_error_errno(err, errno, "layer from %s: readlink %s", w->upper, rel);
            goto out;
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
        archive_entry_set_size(e, 0);
        r = write_header(w, e, rel, err);
    } else if (S_ISREG(st.st_mode)) {
        if (st.st_nlink > 1) {
            for (size_t i = 0; i < w->n_links; i++)
                if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
                    archive_entry_set_size(e, 0);
                    archive_entry_set_hardlink(e, w->links[i].path);
                    r = write_header(w, e, rel, err);
                    goto out;
                }
            if (w->n_links == w->a_links) {
                w->a_links = w->a_links ? 2 * w->a_links : 16;
                w->links = xrealloc(w->links, w->a_links * sizeof(*w->links));
            }
            w->links[w->n_links++] = (struct hardlink){st.st_dev, st.st_ino, xstrdup(rel)};
        }
        if ((r = write_header(w, e, rel, err)) == 0 && st.st_size > 0)
            r = copy_content(w, dirfd, name, rel, err);
    } else if (S_ISDIR(st.st_mode)) {
        archive_entry_set_size(e, 0);
        if ((r = write_header(w, e, rel, err)) < 0)
            goto out;
        if (opaque) {
            struct archive_entry *o = archive_entry_new();
            _cleanup_free_ char *opq = xasprintf("%s/.wh..wh..opq", rel);
            archive_entry_set_pathname(o, opq);
            archive_entry_set_filetype(o, AE_IFREG);
            archive_entry_set_perm(o, st.st_mode & 0777);
            archive_entry_set_uid(o, st.st_uid);
            archive_entry_set_gid(o, st.st_gid);
            archive_entry_set_size(o, 0);
            archive_entry_set_mtime(o, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            r = write_header(w, o, rel, err);
            archive_entry_free(o);
            if (r < 0)
                goto out;
        }
        _cleanup_close_ int sub =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            r = wharf_error_errno(err, errno, "layer from %s: open %s", w->upper, rel);
            goto out;
        }
        r = walk_dir(w, sub, rel, err);
    } else {
        archive_entry_set_size(e, 0);
        r = write_header(w, e, rel, err);
    }
out:
    archive_entry_free(e);
    return r;
}

static int walk_dir(struct walker *w, int dirfd, const char *prefix, wharf_error *err)
{
    int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        if (dup >= 0)
            close(dup);
        return wharf_error_errno(err, errno, "layer from %s: read directory %s", w->upper,
                                 *prefix ? prefix : "/");
    }
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = walk_entry(w, dirfd, prefix, names[i], err);
        free(names[i]);
    }
    free(names);
    return r;
}

/* Writes the layer tar of upper to a new staging file: its path, digest,
 * entry count and content size. */
static int write_layer(image_store *store, const struct image_commit *c, char **path,
                       char digest[72], size_t *entries, uint64_t *size, wharf_error *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/layer-XXXXXX", store->dir);
    struct tar_sink sink = {.fd = mkostemp(tmp, O_CLOEXEC)};
    if (sink.fd < 0)
        return wharf_error_errno(err, errno, "create %s", tmp);
    image_hasher_init(&sink.hasher);
    const char *upper = c->upperdir;
    _cleanup_close_ int root = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct walker w = {.out = archive_write_new(),
                       .upper = upper,
                       .strip = c->consume_upperdir,
                       .skip = c->skip,
                       .skip_ctx = c->skip_ctx};
    archive_write_set_format_pax_restricted(w.out);
    archive_write_add_filter_none(w.out);
    archive_write_set_bytes_in_last_block(w.out, 1);
    int r = 0;
    if (root < 0)
        r = wharf_error_errno(err, errno, "layer from %s: open", upper);
    else if (archive_write_open2(w.out, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
        r = wharf_error_set(err, -EIO, "layer from %s: %s", upper, archive_error_string(w.out));
    else if ((r = walk_dir(&w, root, "", err)) == 0 && archive_write_close(w.out) != ARCHIVE_OK)
        r = wharf_error_set(err, sink.error ? -sink.error : -EIO, "layer from %s: %s", upper,
                            archive_error_string(w.out));
    archive_write_free(w.out);
    for (size_t i = 0; i < w.n_links; i++)
        free(w.links[i].path);
    free(w.links);
    close(sink.fd);
    if (r < 0) {
        image_hasher_release(&sink.hasher);
        unlink(tmp);
        return r;
    }
    image_hasher_final(&sink.hasher, digest);
    *entries = w.entries;
    *size = w.size;
    *path = steal_ptr(tmp);
    return 0;
}

/* Moves the upper directory into a staging directory as its fs/, or
 * unpacks the layer blob there. */
static int stage_snapshot(image_store *store, const char *upper, bool consume, const char *blob,
                          const char *digest, char **stage_out, wharf_error *err)
{
    _cleanup_free_ char *stage = image_store_mkstaging(store, "commit", err);
    if (!stage)
        return err->code;
    _cleanup_free_ char *fsdir = xasprintf("%s/fs", stage);
    int r = 0;
    if (consume && rename(upper, fsdir) == 0) {
        *stage_out = steal_ptr(stage);
        return 0;
    }
    if (mkdir(fsdir, 0755) < 0) {
        r = wharf_error_errno(err, errno, "mkdir %s", fsdir);
    } else {
        _cleanup_close_ int fd = open(blob, O_RDONLY | O_CLOEXEC);
        char diff[72];
        if (fd < 0)
            r = wharf_error_errno(err, errno, "open %s", blob);
        else
            r = image_unpack_layer(fd, fsdir, digest, diff, NULL, err);
    }
    if (r < 0) {
        wharf_error e = {0};
        wharf_rm_rf(stage, &e);
        return r;
    }
    *stage_out = steal_ptr(stage);
    return 0;
}

int image_store_commit_layer(image_store *store, const struct image_commit *c, char id[72],
                             wharf_error *err)
{
    _cleanup_json_ json_t *pconfig = NULL, *pmanifest = NULL, *prec = NULL;
    char parent_id[72] = "";
    if (c->parent && *c->parent) {
        int r = image_store_resolve(store, c->parent, parent_id, err);
        if (r < 0)
            return r;
        prec = image_store_record(store, parent_id, err);
        if (!prec)
            return err->code;
        pmanifest = image_store_load_blob_json(
            store, json_string_value(json_object_get(prec, "manifest")), err);
        pconfig = pmanifest ? image_store_load_blob_json(store, parent_id, err) : NULL;
        if (!pconfig)
            return wharf_error_prefix(err, "commit: parent image %s", c->parent);
    }
    _cleanup_close_ int gclock = image_store_lock(store, "gc.lock", LOCK_SH, err);
    if (gclock < 0)
        return gclock;
    _cleanup_json_ json_t *diffs =
        json_deep_copy(json_object_get(json_object_get(pconfig, "rootfs"), "diff_ids"));
    _cleanup_json_ json_t *layers = json_deep_copy(json_object_get(pmanifest, "layers"));
    if (!json_is_array(diffs) || !json_is_array(layers)) {
        json_decref(diffs);
        json_decref(layers);
        diffs = json_array();
        layers = json_array();
    }
    _cleanup_json_ json_t *chains = NULL;
    if (pconfig && !(chains = image_chain_ids(pconfig, err)))
        return wharf_error_prefix(err, "commit: parent image %s", c->parent);

    bool empty = true;
    if (c->upperdir) {
        _cleanup_free_ char *tar = NULL;
        char digest[72];
        size_t entries = 0;
        uint64_t size = 0;
        int r = write_layer(store, c, &tar, digest, &entries, &size,
                            err);
        if (r < 0)
            return r;
        if (entries == 0) {
            unlink(tar); /* dockerd's rule: a commit that changed nothing adds no layer */
        } else {
            empty = false;
            struct stat st;
            if (stat(tar, &st) < 0) {
                r = wharf_error_errno(err, errno, "stat %s", tar);
                unlink(tar);
                return r;
            }
            if ((r = image_store_adopt_blob(store, tar, digest, err)) < 0) {
                unlink(tar);
                return r;
            }
            char chain[72];
            size_t n = json_array_size(chains);
            const char *pchain = n ? json_string_value(json_array_get(chains, n - 1)) : "";
            if (n == 0) {
                memcpy(chain, digest, 72);
            } else {
                _cleanup_free_ char *s = xasprintf("%s %s", pchain, digest);
                image_digest_buf(s, strlen(s), chain);
            }
            _cleanup_free_ char *snap =
                xasprintf("%s/snapshots/%s/meta.json", store->dir, image_digest_hex(chain));
            if (access(snap, F_OK) != 0) {
                _cleanup_free_ char *blob = image_store_blob_path(store, digest, err);
                _cleanup_free_ char *stage = NULL;
                if (!blob || (r = stage_snapshot(store, c->upperdir, c->consume_upperdir, blob,
                                                 digest, &stage, err)) < 0)
                    return blob ? r : err->code;
                r = image_store_adopt_snapshot(store, stage, chain, pchain, digest, digest, size,
                                               err);
                wharf_error e = {0};
                wharf_rm_rf(stage, &e); /* gone after a successful rename */
                if (r < 0)
                    return r;
            }
            json_array_append_new(diffs, json_string(digest));
            json_array_append_new(layers,
                                  json_pack("{ss ss sI}", "mediaType",
                                            image_layer_media_type(IMAGE_COMP_NONE), "digest",
                                            digest, "size", (json_int_t)st.st_size));
        }
    }

    char now[64];
    if (c->created)
        snprintf(now, sizeof(now), "%s", c->created);
    else
        wharf_time_rfc3339(now, sizeof(now));
    json_t *history = json_deep_copy(json_object_get(pconfig, "history"));
    if (!json_is_array(history)) {
        json_decref(history);
        history = json_array();
    }
    json_t *h = json_pack("{ss}", "created", now);
    if (c->created_by)
        json_object_set_new(h, "created_by", json_string(c->created_by));
    if (c->author && *c->author)
        json_object_set_new(h, "author", json_string(c->author));
    if (c->comment && *c->comment)
        json_object_set_new(h, "comment", json_string(c->comment));
    if (empty)
        json_object_set_new(h, "empty_layer", json_true());
    json_array_append_new(history, h);
    json_t *cfg =
        c->config ? json_deep_copy(c->config) : json_deep_copy(json_object_get(pconfig, "config"));
    if (!cfg)
        cfg = json_object();
    const char *arch = json_string_value(json_object_get(pconfig, "architecture"));
    const char *os = json_string_value(json_object_get(pconfig, "os"));
    _cleanup_json_ json_t *config =
        json_pack("{ss ss ss so s{ss sO} so}", "created", now, "architecture",
                  arch ? arch : image_host_arch(), "os", os ? os : "linux", "config", cfg, "rootfs",
                  "type", "layers", "diff_ids", diffs, "history", history);
    const char *variant = json_string_value(json_object_get(pconfig, "variant"));
    if (variant)
        json_object_set_new(config, "variant", json_string(variant));
    if (c->author && *c->author)
        json_object_set_new(config, "author", json_string(c->author));
    if (c->comment && *c->comment) /* docker commit -m: the image's Comment too */
        json_object_set_new(config, "comment", json_string(c->comment));
    _cleanup_free_ char *text = json_dumps(config, JSON_COMPACT);
    char cdigest[72], mdigest[72];
    int r = image_store_put_blob_buf(store, text, strlen(text), cdigest, err);
    if (r == 0)
        r = image_store_write_manifest(store, cdigest, strlen(text), layers, mdigest, err);
    if (r == 0)
        r = image_store_commit_child(store, mdigest, cdigest, *parent_id ? parent_id : NULL, NULL,
                                     err);
    if (r < 0)
        return r;
    memcpy(id, cdigest, 72);
    return 0;
}
