/* archive.c — image tar streams: docker load/save (docker-archive and OCI
 * layout), docker import, and export of a directory tree.
 *
 * load stages every file of the stream under tmp/ (hashed while written,
 * so each staged file already knows its digest), then stores blobs and
 * snapshots, and only then commits records and tags: an interrupted load
 * leaves debris in tmp/ and unreferenced blobs, never a half image. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

/* A JSON string that takes over (frees) s. */
static json_t *string_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Normalises an archive path: strips "./" and "/" components; refuses "..".
 * Returns a new string or NULL. */
static char *clean_path(const char *name)
{
    strbuf sb = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(name);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            /* resolve lexically; escaping the archive root is refused */
            char *slash = sb.len ? strrchr(sb.buf, '/') : NULL;
            if (!sb.len) {
                strbuf_release(&sb);
                return NULL;
            }
            size_t keep = slash ? (size_t)(slash - sb.buf) : 0;
            sb.len = keep;
            sb.buf[keep] = '\0';
            continue;
        }
        if (sb.len)
            strbuf_addch(&sb, '/');
        strbuf_addstr(&sb, c);
    }
    return strbuf_detach(&sb);
}

struct staged {
    json_t *files; /* path -> {"file": staged path, "digest", "size"} */
    json_t *links; /* path -> target path (cleaned, archive-relative) */
};

/* The staged file for an archive path, following the archive's symlinks. */
static json_t *staged_lookup(struct staged *st, const char *path)
{
    _cleanup_free_ char *cur = clean_path(path);
    for (int hops = 0; cur && hops < 16; hops++) {
        json_t *f = json_object_get(st->files, cur);
        if (f)
            return f;
        const char *t = json_string_value(json_object_get(st->links, cur));
        if (!t)
            return NULL;
        free(cur);
        cur = xstrdup(t);
    }
    return NULL;
}

static int stage_stream(image_store *store, int fd, const char *stage, struct staged *st,
                        wharf_error *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_format_tar(a);
    int r = 0, n = 0;
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EINVAL, "image archive: %s", archive_error_string(a));
        goto out;
    }
    struct archive_entry *ae;
    for (;;) {
        int ar = archive_read_next_header(a, &ae);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EINVAL, "image archive: %s", archive_error_string(a));
            goto out;
        }
        const char *name = archive_entry_pathname(ae);
        _cleanup_free_ char *path = name ? clean_path(name) : NULL;
        if (!path) {
            r = wharf_error_set(err, -EPERM, "image archive: entry \"%s\" escapes the archive",
                                name ? name : "");
            goto out;
        }
        const char *hl = archive_entry_hardlink(ae);
        if (hl) {
            _cleanup_free_ char *t = clean_path(hl);
            json_t *f = t ? json_object_get(st->files, t) : NULL;
            if (f)
                json_object_set(st->files, path, f);
            continue;
        }
        if (archive_entry_filetype(ae) == AE_IFLNK) {
            const char *target = archive_entry_symlink(ae);
            if (!target)
                continue;
            _cleanup_free_ char *dir = xstrdup(path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                dir[0] = '\0';
            _cleanup_free_ char *joined =
                target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", dir, target);
            _cleanup_free_ char *t = clean_path(joined);
            if (t)
                json_object_set_new(st->links, path, json_string(t));
            continue;
        }
        if (archive_entry_filetype(ae) != AE_IFREG)
            continue;
        _cleanup_free_ char *file = xasprintf("%s/f%d", stage, n++);
        _cleanup_close_ int out = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0) {
            r = wharf_error_errno(err, errno, "create %s", file);
            goto out;
        }
        image_hasher h;
        image_hasher_init(&h);
        uint64_t size = 0;
        for (;;) {
            char buf[65536];
            la_ssize_t got = archive_read_data(a, buf, sizeof(buf));
            if (got < 0) {
                image_hasher_release(&h);
                r = wharf_error_set(err, -EIO, "image archive: %s: %s", name,
                                    archive_error_string(a));
                goto out;
            }
            if (got == 0)
                break;
            image_hasher_update(&h, buf, (size_t)got);
            int w = wharf_write_all(out, buf, (size_t)got);
            if (w < 0) {
                image_hasher_release(&h);
                r = wharf_error_errno(err, -w, "write %s", file);
                goto out;
            }
            size += (uint64_t)got;
        }
        char digest[72];
        image_hasher_final(&h, digest);
        json_object_set_new(
            st->files, path,
            json_pack("{ss ss sI}", "file", file, "digest", digest, "size", (json_int_t)size));
    }
out:
    archive_read_free(a);
    (void)store;
    return r;
}

/* Stores a staged file as a blob; returns its descriptor fields. */
static int adopt_staged(image_store *store, json_t *f, const char *want, const char *what,
                        wharf_error *err)
{
    const char *digest = json_string_value(json_object_get(f, "digest"));
    if (want && strcmp(want, digest) != 0)
        return wharf_error_set(err, -EILSEQ, "image archive: %s: digest mismatch (content is %s)",
                               what, digest);
    const char *file = json_string_value(json_object_get(f, "file"));
    if (access(file, F_OK) < 0)
        return 0; /* the same blob, adopted earlier through another name */
    return image_store_adopt_blob(store, file, digest, err);
}

static json_t *parse_staged_json(json_t *f, const char *what, wharf_error *err)
{
    const char *file = json_string_value(json_object_get(f, "file"));
    json_error_t je;
    json_t *j = json_load_file(file, 0, &je);
    if (!j)
        wharf_error_set(err, -EINVAL, "image archive: %s: invalid JSON: %s", what, je.text);
    return j;
}

/* Tags from a list of reference strings: a new array of full references. */
static int full_tags(json_t *names, json_t *out, wharf_error *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (!json_is_string(v))
            continue;
        image_ref ref;
        if (image_ref_parse(json_string_value(v), &ref, err) < 0)
            return wharf_error_prefix(err, "image archive: tag");
        if (!ref.digest)
            json_array_append_new(out, string_take(image_ref_full(&ref)));
        image_ref_free(&ref);
    }
    return 0;
}

/* A layer blob already stored: its OCI descriptor (new reference). */
static json_t *layer_descriptor(image_store *store, const char *digest, wharf_error *err)
{
    _cleanup_free_ char *path = image_store_blob_path(store, digest, err);
    if (!path)
        return NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    enum image_compression c;
    if (fd < 0 || fstat(fd, &st) < 0 || image_detect_compression_fd(fd, &c) < 0) {
        wharf_error_errno(err, errno, "layer %s", digest);
        return NULL;
    }
    return json_pack("{ss ss sI}", "mediaType", image_layer_media_type(c), "digest", digest, "size",
                     (json_int_t)st.st_size);
}

/* One docker-archive manifest.json entry: stores it, appends to pending. */
static int load_docker_entry(image_store *store, struct staged *st, json_t *entry, json_t *pending,
                             wharf_error *err)
{
    const char *cpath = json_string_value(json_object_get(entry, "Config"));
    json_t *layers = json_object_get(entry, "Layers");
    if (!cpath || !json_is_array(layers))
        return wharf_error_set(err, -EINVAL,
                               "image archive: manifest.json: entry without Config "
                               "or Layers");
    json_t *cf = staged_lookup(st, cpath);
    if (!cf)
        return wharf_error_set(err, -ENOENT, "image archive: %s: missing", cpath);
    _cleanup_json_ json_t *config = parse_staged_json(cf, cpath, err);
    if (!config)
        return err->code;
    char config_digest[72];
    snprintf(config_digest, sizeof(config_digest), "%s",
             json_string_value(json_object_get(cf, "digest")));
    int r = adopt_staged(store, cf, NULL, cpath, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *descs = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        const char *lp = json_string_value(l);
        json_t *lf = lp ? staged_lookup(st, lp) : NULL;
        if (!lf)
            return wharf_error_set(err, -ENOENT, "image archive: layer %s: missing", lp ? lp : "?");
        const char *digest = json_string_value(json_object_get(lf, "digest"));
        r = adopt_staged(store, lf, NULL, lp, err);
        if (r < 0)
            return r;
        json_t *d = layer_descriptor(store, digest, err);
        if (!d)
            return err->code;
        json_array_append_new(descs, d);
    }
    char manifest_digest[72];
    r = image_store_write_manifest(store, config_digest,
                                   (size_t)json_integer_value(json_object_get(cf, "size")), descs,
                                   manifest_digest, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *manifest = image_store_load_blob_json(store, manifest_digest, err);
    if (!manifest)
        return err->code;
    r = image_store_ensure_snapshots(store, manifest, config, err);
    if (r < 0)
        return r;
    json_t *tags = json_array();
    r = full_tags(json_object_get(entry, "RepoTags"), tags, err);
    json_array_append_new(pending, json_pack("{ss ss so}", "manifest", manifest_digest, "config",
                                             config_digest, "tags", tags));
    return r;
}

static json_t *staged_blob(struct staged *st, const char *digest)
{
    if (!image_digest_valid(digest))
        return NULL;
    _cleanup_free_ char *p = xasprintf("blobs/sha256/%s", digest + 7);
    return staged_lookup(st, p);
}

static bool is_index_type(const char *mt)
{
    return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                  strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

const char *image_host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__)
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#else
    return "unknown";
#endif
}

/* An OCI descriptor (manifest or nested index) with the names it carries. */
static int load_oci_descriptor(image_store *store, struct staged *st, json_t *desc, json_t *names,
                               json_t *pending, int depth, wharf_error *err)
{
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    json_t *f = staged_blob(st, digest);
    if (!f)
        return wharf_error_set(err, -ENOENT, "image archive: blob %s: missing",
                               digest ? digest : "?");
    int r = adopt_staged(store, f, digest, digest, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *doc = image_store_load_blob_json(store, digest, err);
    if (!doc)
        return err->code;
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (!mt)
        mt = json_string_value(json_object_get(desc, "mediaType"));
    if (is_index_type(mt) || json_is_array(json_object_get(doc, "manifests"))) {
        if (depth > 4)
            return wharf_error_set(err, -ELOOP, "image archive: index %s: nested too deep", digest);
        /* a multi-platform index: the manifest for this machine, else the first */
        json_t *pick = NULL, *m;
        size_t i;
        json_array_foreach(json_object_get(doc, "manifests"), i, m)
        {
            json_t *p = json_object_get(m, "platform");
            const char *arch = json_string_value(json_object_get(p, "architecture"));
            if (!pick)
                pick = m;
            if (arch && strcmp(arch, image_host_arch()) == 0) {
                pick = m;
                break;
            }
        }
        if (!pick)
            return wharf_error_set(err, -EINVAL, "image archive: index %s: no manifests", digest);
        return load_oci_descriptor(store, st, pick, names, pending, depth + 1, err);
    }
    json_t *cdesc = json_object_get(doc, "config");
    const char *cdigest = json_string_value(json_object_get(cdesc, "digest"));
    json_t *cf = staged_blob(st, cdigest);
    if (!cf)
        return wharf_error_set(err, -ENOENT, "image archive: manifest %s: config %s missing",
                               digest, cdigest ? cdigest : "?");
    r = adopt_staged(store, cf, cdigest, cdigest, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(doc, "layers"), i, l)
    {
        const char *ld = json_string_value(json_object_get(l, "digest"));
        json_t *lf = staged_blob(st, ld);
        if (!lf) {
            /* already in the store (e.g. shared with an image loaded earlier) */
            wharf_error e = {0};
            _cleanup_free_ char *have = image_store_blob_path(store, ld, &e);
            if (have)
                continue;
            return wharf_error_set(err, -ENOENT, "image archive: manifest %s: layer %s missing",
                                   digest, ld ? ld : "?");
        }
        r = adopt_staged(store, lf, ld, ld, err);
        if (r < 0)
            return r;
    }
    _cleanup_json_ json_t *config = image_store_load_blob_json(store, cdigest, err);
    if (!config)
        return err->code;
    r = image_store_ensure_snapshots(store, doc, config, err);
    if (r < 0)
        return r;
    json_t *tags = json_array();
    r = full_tags(names, tags, err);
    json_array_append_new(
        pending, json_pack("{ss ss so}", "manifest", digest, "config", cdigest, "tags", tags));
    return r;
}

/* The reference an index.json entry names: containerd's full-name
 * annotation, else the OCI ref.name when it is a whole reference. */
static json_t *oci_names(json_t *desc)
{
    json_t *ann = json_object_get(desc, "annotations");
    json_t *names = json_array();
    const char *full = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    const char *refname =
        json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
    if (full)
        json_array_append_new(names, json_string(full));
    else if (refname && (strchr(refname, '/') || strchr(refname, ':')))
        json_array_append_new(names, json_string(refname));
    return names;
}

int image_store_load(image_store *store, int fd, json_t **loaded, wharf_error *err)
{
    _cleanup_close_ int gclock = image_store_lock(store, "gc.lock", LOCK_SH, err);
    if (gclock < 0)
        return gclock;
    _cleanup_free_ char *stage = image_store_mkstaging(store, "load", err);
    if (!stage)
        return err->code;
    struct staged st = {json_object(), json_object()};
    _cleanup_json_ json_t *pending = json_array();
    /* Before the first goto: a cleanup variable jumped over is released uninitialised. */
    _cleanup_json_ json_t *done = NULL;
    int r = stage_stream(store, fd, stage, &st, err);
    if (r < 0)
        goto out;
    json_t *mf = json_object_get(st.files, "manifest.json");
    json_t *idx = json_object_get(st.files, "index.json");
    if (mf) {
        _cleanup_json_ json_t *manifest = parse_staged_json(mf, "manifest.json", err);
        if (!manifest || !json_is_array(manifest)) {
            r = manifest ? wharf_error_set(err, -EINVAL,
                                           "image archive: manifest.json: expected an array")
                         : err->code;
            goto out;
        }
        size_t i;
        json_t *e;
        json_array_foreach(manifest, i, e)
        {
            r = load_docker_entry(store, &st, e, pending, err);
            if (r < 0)
                goto out;
        }
    } else if (idx) {
        _cleanup_json_ json_t *index = parse_staged_json(idx, "index.json", err);
        if (!index) {
            r = err->code;
            goto out;
        }
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(index, "manifests"), i, d)
        {
            _cleanup_json_ json_t *names = oci_names(d);
            r = load_oci_descriptor(store, &st, d, names, pending, 0, err);
            if (r < 0)
                goto out;
        }
    } else {
        r = wharf_error_set(err, -EINVAL,
                            "image archive: neither manifest.json (docker-archive) "
                            "nor index.json (OCI layout) found");
        goto out;
    }
    if (json_array_size(pending) == 0) {
        r = wharf_error_set(err, -EINVAL, "image archive: no images in the archive");
        goto out;
    }
    done = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pending, i, p)
    {
        json_t *tags = json_object_get(p, "tags");
        r = image_store_commit(store, json_string_value(json_object_get(p, "manifest")),
                               json_string_value(json_object_get(p, "config")), tags, err);
        if (r < 0)
            goto out;
        size_t j;
        json_t *t;
        json_array_foreach(tags, j, t)
        {
            char *f = image_ref_familiarize(json_string_value(t));
            json_array_append_new(done, json_string(f));
            free(f);
        }
        if (json_array_size(tags) == 0)
            json_array_append(done, json_object_get(p, "config"));
    }
    if (loaded)
        *loaded = steal_ptr(done);
out:
    json_decref(st.files);
    json_decref(st.links);
    wharf_error e = {0};
    wharf_rm_rf(stage, &e);
    return r;
}

/* ---------------------------------------------------------------- save */

static int write_entry_fd(struct archive *a, const char *name, int fd, int64_t size,
                          wharf_error *err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    int r = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EIO, "image archive: %s: %s", name, archive_error_string(a));
        goto out;
    }
    char buf[65536];
    int64_t left = size;
    while (left > 0) {
        ssize_t n = read(fd, buf, left < (int64_t)sizeof(buf) ? (size_t)left : sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = wharf_error_errno(err, n < 0 ? errno : EIO, "image archive: %s: read", name);
            goto out;
        }
        if (archive_write_data(a, buf, (size_t)n) != n) {
            r = wharf_error_set(err, -EIO, "image archive: %s: %s", name, archive_error_string(a));
            goto out;
        }
        left -= n;
    }
out:
    archive_entry_free(e);
    return r;
}

static int write_entry_buf(struct archive *a, const char *name, const char *data, wharf_error *err)
{
    struct archive_entry *e = archive_entry_new();
    size_t len = strlen(data);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    int r = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len))
        r = wharf_error_set(err, -EIO, "image archive: %s: %s", name, archive_error_string(a));
    archive_entry_free(e);
    return r;
}

static int write_blob_entry(image_store *store, struct archive *a, const char *name,
                            const char *digest, wharf_error *err)
{
    _cleanup_free_ char *path = image_store_blob_path(store, digest, err);
    if (!path)
        return err->code;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return wharf_error_errno(err, errno, "blob %s", digest);
    return write_entry_fd(a, name, fd, st.st_size, err);
}

/* docker-archive layers are plain tars: a compressed blob is expanded into
 * a temporary file first (the tar header needs the size up front). */
static int write_plain_layer(image_store *store, struct archive *a, const char *name,
                             const char *digest, wharf_error *err)
{
    _cleanup_free_ char *path = image_store_blob_path(store, digest, err);
    if (!path)
        return err->code;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    enum image_compression c;
    if (fd < 0 || image_detect_compression_fd(fd, &c) < 0)
        return wharf_error_errno(err, errno, "blob %s", digest);
    if (c == IMAGE_COMP_NONE)
        return write_blob_entry(store, a, name, digest, err);
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/plain-XXXXXX", store->dir);
    _cleanup_close_ int out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0)
        return wharf_error_errno(err, errno, "create %s", tmp);
    unlink(tmp);
    struct archive *raw = archive_read_new();
    archive_read_support_filter_gzip(raw);
    archive_read_support_filter_zstd(raw);
    archive_read_support_format_raw(raw);
    struct archive_entry *ae;
    int r = 0;
    if (archive_read_open_fd(raw, fd, 65536) != ARCHIVE_OK ||
        archive_read_next_header(raw, &ae) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EIO, "layer %s: %s", digest, archive_error_string(raw));
        goto done;
    }
    int64_t total = 0;
    for (;;) {
        char buf[65536];
        la_ssize_t n = archive_read_data(raw, buf, sizeof(buf));
        if (n < 0) {
            r = wharf_error_set(err, -EIO, "layer %s: %s", digest, archive_error_string(raw));
            goto done;
        }
        if (n == 0)
            break;
        int w = wharf_write_all(out, buf, (size_t)n);
        if (w < 0) {
            r = wharf_error_errno(err, -w, "write %s", tmp);
            goto done;
        }
        total += n;
    }
    if (lseek(out, 0, SEEK_SET) < 0)
        r = wharf_error_errno(err, errno, "seek %s", tmp);
    else
        r = write_entry_fd(a, name, out, total, err);
done:
    archive_read_free(raw);
    return r;
}

/* What one saved image is called: the tag it was named by, or nothing when
 * it was named by ID (as docker save does). New array of full references. */
static json_t *names_for(const char *s)
{
    json_t *out = json_array();
    image_ref ref;
    wharf_error e = {0};
    const char *hex = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
    bool id_like = strspn(hex, "0123456789abcdef") == strlen(hex);
    if (!(id_like && strlen(hex) >= 12) && image_ref_parse(s, &ref, &e) == 0) {
        if (!ref.digest)
            json_array_append_new(out, string_take(image_ref_full(&ref)));
        image_ref_free(&ref);
    }
    return out;
}

int image_store_save(image_store *store, const char *const *refs, size_t n,
                     enum image_archive_format format, int fd, wharf_error *err)
{
    if (n == 0)
        return wharf_error_set(err, -EINVAL, "image save: no images named");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_none(a);
    archive_write_set_bytes_in_last_block(a, 1);
    _cleanup_json_ json_t *written = json_object();
    _cleanup_json_ json_t *dmanifest = json_array(), *repos = json_object();
    _cleanup_json_ json_t *index =
        json_pack("{si ss s[]}", "schemaVersion", 2, "mediaType",
                  "application/vnd.oci.image.index.v1+json", "manifests");
    int r = 0;
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EIO, "image save: %s", archive_error_string(a));
        goto out;
    }
    if (format == IMAGE_FORMAT_OCI_ARCHIVE) {
        r = write_entry_buf(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err);
        if (r < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char id[72];
        r = image_store_resolve(store, refs[i], id, err);
        if (r < 0)
            goto out;
        _cleanup_json_ json_t *rec = image_store_record(store, id, err);
        if (!rec) {
            r = err->code;
            goto out;
        }
        const char *mdigest = json_string_value(json_object_get(rec, "manifest"));
        _cleanup_json_ json_t *manifest = image_store_load_blob_json(store, mdigest, err);
        _cleanup_json_ json_t *config =
            manifest ? image_store_load_blob_json(store, id, err) : NULL;
        if (!config) {
            r = err->code;
            goto out;
        }
        _cleanup_json_ json_t *names = names_for(refs[i]);
        json_t *layers = json_object_get(manifest, "layers");
        json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        if (format == IMAGE_FORMAT_DOCKER_ARCHIVE) {
            _cleanup_free_ char *cname = xasprintf("%s.json", id + 7);
            if (!json_object_get(written, cname)) {
                r = write_blob_entry(store, a, cname, id, err);
                if (r < 0)
                    goto out;
                json_object_set_new(written, cname, json_true());
            }
            json_t *lpaths = json_array();
            for (size_t j = 0; j < json_array_size(layers); j++) {
                const char *ld =
                    json_string_value(json_object_get(json_array_get(layers, j), "digest"));
                const char *diff = json_string_value(json_array_get(diffs, j));
                _cleanup_free_ char *lname = xasprintf("%s/layer.tar", diff ? diff + 7 : ld + 7);
                if (!json_object_get(written, lname)) {
                    r = write_plain_layer(store, a, lname, ld, err);
                    if (r < 0) {
                        json_decref(lpaths);
                        goto out;
                    }
                    json_object_set_new(written, lname, json_true());
                }
                json_array_append_new(lpaths, json_string(lname));
            }
            json_t *tags = json_array();
            size_t j;
            json_t *t;
            json_array_foreach(names, j, t)
            {
                image_ref ref;
                if (image_ref_parse(json_string_value(t), &ref, err) < 0)
                    continue;
                char *fam = image_ref_familiar(&ref);
                json_array_append_new(tags, json_string(fam));
                /* the legacy `repositories` file: repo -> tag -> top layer */
                char *colon = strrchr(fam, ':');
                *colon = '\0';
                json_t *repo = json_object_get(repos, fam);
                if (!repo)
                    json_object_set_new(repos, fam, repo = json_object());
                const char *top =
                    json_string_value(json_array_get(diffs, json_array_size(diffs) - 1));
                if (top)
                    json_object_set_new(repo, ref.tag, json_string(top + 7));
                free(fam);
                image_ref_free(&ref);
            }
            json_array_append_new(
                dmanifest,
                json_pack("{ss so so}", "Config", cname, "RepoTags",
                          json_array_size(tags) ? tags : (json_decref(tags), json_null()), "Layers",
                          lpaths));
        } else {
            json_t *blobs[2] = {json_object_get(manifest, "config"), NULL};
            _cleanup_json_ json_t *all = json_array();
            json_array_append(all, blobs[0]);
            json_array_extend(all, layers);
            json_array_append_new(all, json_pack("{ss}", "digest", mdigest));
            size_t j;
            json_t *d;
            json_array_foreach(all, j, d)
            {
                const char *bd = json_string_value(json_object_get(d, "digest"));
                _cleanup_free_ char *bname = xasprintf("blobs/sha256/%s", bd + 7);
                if (json_object_get(written, bname))
                    continue;
                r = write_blob_entry(store, a, bname, bd, err);
                if (r < 0)
                    goto out;
                json_object_set_new(written, bname, json_true());
            }
            _cleanup_free_ char *mpath = image_store_blob_path(store, mdigest, err);
            struct stat st;
            if (!mpath || stat(mpath, &st) < 0) {
                r = mpath ? wharf_error_errno(err, errno, "blob %s", mdigest) : err->code;
                goto out;
            }
            const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
            if (!mt)
                mt = "application/vnd.oci.image.manifest.v1+json";
            json_t *list = json_object_get(index, "manifests");
            if (json_array_size(names) == 0)
                json_array_append_new(list, json_pack("{ss ss sI}", "mediaType", mt, "digest",
                                                      mdigest, "size", (json_int_t)st.st_size));
            json_t *t;
            json_array_foreach(names, j, t)
            {
                image_ref ref;
                if (image_ref_parse(json_string_value(t), &ref, err) < 0)
                    continue;
                json_array_append_new(
                    list,
                    json_pack("{ss ss sI s{ss ss}}", "mediaType", mt, "digest", mdigest, "size",
                              (json_int_t)st.st_size, "annotations", "io.containerd.image.name",
                              json_string_value(t), "org.opencontainers.image.ref.name", ref.tag));
                image_ref_free(&ref);
            }
        }
    }
    if (format == IMAGE_FORMAT_DOCKER_ARCHIVE) {
        _cleanup_free_ char *m = json_dumps(dmanifest, JSON_COMPACT);
        r = write_entry_buf(a, "manifest.json", m, err);
        if (r == 0 && json_object_size(repos) > 0) {
            _cleanup_free_ char *rp = json_dumps(repos, JSON_COMPACT);
            r = write_entry_buf(a, "repositories", rp, err);
        }
    } else {
        _cleanup_free_ char *ix = json_dumps(index, JSON_COMPACT);
        r = write_entry_buf(a, "index.json", ix, err);
    }
    if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
        r = wharf_error_set(err, -EIO, "image save: %s", archive_error_string(a));
out:
    archive_write_free(a);
    return r;
}

/* ---------------------------------------------------------------- import */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* JSON form ["a","b"] or shell form (wrapped in /bin/sh -c). */
static json_t *command_value(const char *v)
{
    json_t *j = v[0] == '[' ? json_loads(v, 0, NULL) : NULL;
    if (json_is_array(j)) {
        size_t i;
        json_t *x;
        bool ok = true;
        json_array_foreach(j, i, x) ok = ok && json_is_string(x);
        if (ok)
            return j;
    }
    json_decref(j);
    return json_pack("[sss]", "/bin/sh", "-c", v);
}

static void set_env(json_t *cfg, const char *key, const char *val)
{
    json_t *env = json_object_get(cfg, "Env");
    if (!json_is_array(env))
        json_object_set_new(cfg, "Env", env = json_array());
    _cleanup_free_ char *kv = xasprintf("%s=%s", key, val);
    size_t klen = strlen(key), i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

/* KEY=VALUE pairs separated by spaces (values may be quoted), or "KEY VALUE". */
static int apply_pairs(json_t *cfg, const char *instr, char *args, wharf_error *err)
{
    bool label = strcmp(instr, "LABEL") == 0;
    char *eq = strchr(args, '=');
    char *sp = strpbrk(args, " \t");
    if (!eq || (sp && sp < eq)) {
        if (!sp)
            return wharf_error_set(err, -EINVAL, "import change %s %s: expected KEY=VALUE", instr,
                                   args);
        *sp = '\0';
        char *val = unquote(trim(sp + 1));
        if (label) {
            json_t *l = json_object_get(cfg, "Labels");
            if (!json_is_object(l))
                json_object_set_new(cfg, "Labels", l = json_object());
            json_object_set_new(l, args, json_string(val));
        } else {
            set_env(cfg, args, val);
        }
        return 0;
    }
    char *p = args;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *key = p;
        char *e = strchr(p, '=');
        if (!e)
            return wharf_error_set(err, -EINVAL, "import change %s: \"%s\": expected KEY=VALUE",
                                   instr, key);
        *e = '\0';
        char *val = e + 1, *end;
        if (*val == '"' || *val == '\'') {
            char q = *val++;
            end = strchr(val, q);
            if (!end)
                return wharf_error_set(err, -EINVAL, "import change %s: unterminated quote", instr);
        } else {
            end = val + strcspn(val, " \t");
        }
        char saved = *end;
        *end = '\0';
        if (label) {
            json_t *l = json_object_get(cfg, "Labels");
            if (!json_is_object(l))
                json_object_set_new(cfg, "Labels", l = json_object());
            json_object_set_new(l, unquote(key), json_string(val));
        } else {
            set_env(cfg, key, val);
        }
        p = saved ? end + 1 : end;
    }
    return 0;
}

int image_config_apply_change(json_t *cfg, const char *change, wharf_error *err)
{
    _cleanup_free_ char *copy = xstrdup(change);
    char *s = trim(copy);
    char *sp = strpbrk(s, " \t");
    char *args = sp ? (*sp = '\0', trim(sp + 1)) : s + strlen(s);
    for (char *p = s; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (strcmp(s, "CMD") == 0 || strcmp(s, "ENTRYPOINT") == 0) {
        json_object_set_new(cfg, strcmp(s, "CMD") == 0 ? "Cmd" : "Entrypoint", command_value(args));
    } else if (strcmp(s, "ENV") == 0 || strcmp(s, "LABEL") == 0) {
        return apply_pairs(cfg, s, args, err);
    } else if (strcmp(s, "ONBUILD") == 0) {
        if (!*args)
            return wharf_error_set(err, -EINVAL, "ONBUILD requires at least one argument");
        json_t *list = json_object_get(cfg, "OnBuild");
        if (!json_is_array(list))
            json_object_set_new(cfg, "OnBuild", list = json_array());
        json_array_append_new(list, json_string(args));
    } else if (strcmp(s, "USER") == 0 || strcmp(s, "WORKDIR") == 0 ||
               strcmp(s, "STOPSIGNAL") == 0) {
        const char *key = s[0] == 'U' ? "User" : s[0] == 'W' ? "WorkingDir" : "StopSignal";
        json_object_set_new(cfg, key, json_string(unquote(args)));
    } else if (strcmp(s, "EXPOSE") == 0 || strcmp(s, "VOLUME") == 0) {
        bool expose = s[0] == 'E';
        const char *key = expose ? "ExposedPorts" : "Volumes";
        json_t *obj = json_object_get(cfg, key);
        if (!json_is_object(obj))
            json_object_set_new(cfg, key, obj = json_object());
        _cleanup_json_ json_t *list = NULL;
        if (!expose && args[0] == '[')
            list = json_loads(args, 0, NULL);
        if (!json_is_array(list)) {
            json_decref(list);
            list = json_array();
            char *save = NULL;
            for (char *t = strtok_r(args, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                json_array_append_new(list, json_string(t));
        }
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            const char *t = json_string_value(v);
            if (!t)
                continue;
            if (expose) {
                _cleanup_free_ char *port = strchr(t, '/') ? xstrdup(t) : xasprintf("%s/tcp", t);
                json_object_set_new(obj, port, json_object());
            } else {
                json_object_set_new(obj, t, json_object());
            }
        }
    } else {
        return wharf_error_set(err, -EINVAL, "%s is not a valid change command", s);
    }
    return 0;
}

int image_store_import(image_store *store, int fd, const char *tag, const char *const *changes,
                       size_t n, const char *message, char id[72], wharf_error *err)
{
    _cleanup_json_ json_t *tags = json_array();
    if (tag) {
        image_ref ref;
        int r = image_ref_parse(tag, &ref, err);
        if (r < 0)
            return r;
        if (!ref.digest)
            json_array_append_new(tags, string_take(image_ref_full(&ref)));
        image_ref_free(&ref);
    }
    _cleanup_json_ json_t *cfg = json_object();
    for (size_t i = 0; i < n; i++) {
        int r = image_config_apply_change(cfg, changes[i], err);
        if (r < 0)
            return r;
    }
    _cleanup_close_ int gclock = image_store_lock(store, "gc.lock", LOCK_SH, err);
    if (gclock < 0)
        return gclock;
    char layer[72];
    int r = image_store_put_blob(store, fd, NULL, layer, err);
    if (r < 0)
        return wharf_error_prefix(err, "import");
    _cleanup_free_ char *blob = image_store_blob_path(store, layer, err);
    if (!blob)
        return err->code;
    _cleanup_close_ int bfd = open(blob, O_RDONLY | O_CLOEXEC);
    if (bfd < 0)
        return wharf_error_errno(err, errno, "import: open %s", blob);
    _cleanup_free_ char *stage = image_store_mkstaging(store, "import", err);
    if (!stage)
        return err->code;
    _cleanup_free_ char *fsdir = xasprintf("%s/fs", stage);
    char diff[72];
    uint64_t size = 0;
    if (mkdir(fsdir, 0755) < 0)
        r = wharf_error_errno(err, errno, "mkdir %s", fsdir);
    else
        r = image_unpack_layer(bfd, fsdir, layer, diff, &size, err);
    if (r == 0) {
        _cleanup_free_ char *snap =
            xasprintf("%s/snapshots/%s/meta.json", store->dir, image_digest_hex(diff));
        if (access(snap, F_OK) != 0)
            r = image_store_adopt_snapshot(store, stage, diff, "", diff, layer, size, err);
    }
    wharf_error e = {0};
    wharf_rm_rf(stage, &e);
    if (r < 0)
        return r;
    char now[64];
    wharf_time_rfc3339(now, sizeof(now));
    _cleanup_json_ json_t *config =
        json_pack("{ss ss ss sO s{ss s[s]} s[{ss ss ss}]}", "created", now, "architecture",
                  image_host_arch(), "os", "linux", "config", cfg, "rootfs", "type", "layers",
                  "diff_ids", diff, "history", "created", now, "created_by", "wharf import",
                  "comment", message ? message : "Imported from -");
    _cleanup_free_ char *ctext = json_dumps(config, JSON_COMPACT);
    char cdigest[72], mdigest[72];
    r = image_store_put_blob_buf(store, ctext, strlen(ctext), cdigest, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *descs = json_array();
    json_t *d = layer_descriptor(store, layer, err);
    if (!d)
        return err->code;
    json_array_append_new(descs, d);
    r = image_store_write_manifest(store, cdigest, strlen(ctext), descs, mdigest, err);
    if (r < 0)
        return r;
    r = image_store_commit(store, mdigest, cdigest, tags, err);
    if (r < 0)
        return r;
    memcpy(id, cdigest, 72);
    return 0;
}

/* ---------------------------------------------------------------- export */

int image_export_dir(const char *dir, int fd, wharf_error *err)
{
    struct archive *disk = archive_read_disk_new();
    struct archive *out = archive_write_new();
    struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
    archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    archive_write_set_format_pax_restricted(out);
    archive_write_add_filter_none(out);
    archive_write_set_bytes_in_last_block(out, 1);
    /* numeric owners only: names would come from the host's passwd file */
    archive_read_disk_set_symlink_physical(disk);
    archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS |
                                             ARCHIVE_READDISK_NO_FFLAGS);
    int r = 0;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (archive_write_open_fd(out, fd) != ARCHIVE_OK ||
        archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EIO, "export %s: %s", dir,
                            archive_error_string(archive_errno(out) ? out : disk));
        goto out;
    }
    for (;;) {
        struct archive_entry *e = archive_entry_new();
        int ar = archive_read_next_header2(disk, e);
        if (ar == ARCHIVE_EOF) {
            archive_entry_free(e);
            break;
        }
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EIO, "export %s: %s", dir, archive_error_string(disk));
            archive_entry_free(e);
            goto out;
        }
        archive_read_disk_descend(disk);
        const char *p = archive_entry_sourcepath(e);
        if (!p)
            p = archive_entry_pathname(e);
        const char *rel = p + (strncmp(p, dir, dlen) == 0 ? dlen : 0);
        while (*rel == '/')
            rel++;
        if (!*rel) { /* the root itself */
            archive_entry_free(e);
            continue;
        }
        archive_entry_copy_pathname(e, rel);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        struct archive_entry *sparse = NULL, *w = e;
        archive_entry_linkify(links, &w, &sparse);
        if (w && archive_write_header(out, w) < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EIO, "export %s: %s: %s", dir, rel,
                                archive_error_string(out));
            archive_entry_free(e);
            goto out;
        }
        if (w && archive_entry_filetype(w) == AE_IFREG && archive_entry_size(w) > 0) {
            char buf[65536];
            la_ssize_t n;
            while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
                if (archive_write_data(out, buf, (size_t)n) != n) {
                    r = wharf_error_set(err, -EIO, "export %s: %s: %s", dir, rel,
                                        archive_error_string(out));
                    archive_entry_free(e);
                    goto out;
                }
            if (n < 0) {
                r = wharf_error_set(err, -EIO, "export %s: %s: %s", dir, rel,
                                    archive_error_string(disk));
                archive_entry_free(e);
                goto out;
            }
        }
        archive_entry_free(e);
    }
    if (archive_write_close(out) != ARCHIVE_OK)
        r = wharf_error_set(err, -EIO, "export %s: %s", dir, archive_error_string(out));
out:
    archive_entry_linkresolver_free(links);
    archive_read_free(disk);
    archive_write_free(out);
    return r;
}
