/* blob.c — sha256 digests and the content-addressed blob directory.
 *
 * A blob is written to tmp/ while it is hashed, checked against the digest
 * the caller expects, and only then renamed to blobs/sha256/<hex>: a name
 * under blobs/ always holds exactly the bytes its digest says. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

void image_hasher_init(image_hasher *h)
{
    sha256_init(&h->ctx);
}

void image_hasher_update(image_hasher *h, const void *data, size_t len)
{
    if (len > 0)
        sha256_update(&h->ctx, len, data);
}

void image_hasher_final(image_hasher *h, char out[72])
{
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_digest(&h->ctx, sizeof(md), md);
    strcpy(out, "sha256:");
    for (size_t i = 0; i < sizeof(md); i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
    image_hasher_release(h);
}

/* Nothing is allocated; wiping keeps a released hasher from being reused
 * by mistake with a half-fed state. */
void image_hasher_release(image_hasher *h)
{
    memset(h, 0, sizeof(*h));
}

void image_digest_buf(const void *data, size_t len, char out[72])
{
    image_hasher h;
    image_hasher_init(&h);
    image_hasher_update(&h, data, len);
    image_hasher_final(&h, out);
}

const char *image_digest_hex(const char *digest)
{
    return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

int image_store_lock(image_store *store, const char *name, int how, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", store->dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open lock %s", path);
    int r;
    do
        r = flock(fd, how);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        close(fd);
        return wharf_error_errno(err, e, "lock %s", path);
    }
    return fd;
}

char *image_store_mkstaging(image_store *store, const char *what, wharf_error *err)
{
    _cleanup_free_ char *tmpl = xasprintf("%s/tmp/%s-XXXXXX", store->dir, what);
    if (!mkdtemp(tmpl)) {
        wharf_error_errno(err, errno, "create staging directory %s", tmpl);
        return NULL;
    }
    return steal_ptr(tmpl);
}

char *image_store_blob_path(image_store *store, const char *digest, wharf_error *err)
{
    if (!image_digest_valid(digest)) {
        wharf_error_set(err, -EINVAL, "blob %s: not a sha256 digest", digest ? digest : "(null)");
        return NULL;
    }
    char *path = xasprintf("%s/blobs/sha256/%s", store->dir, digest + 7);
    if (access(path, F_OK) < 0) {
        wharf_error_errno(err, errno, "blob %s", digest);
        free(path);
        return NULL;
    }
    return path;
}

int image_store_adopt_blob(image_store *store, const char *path, const char *digest,
                           wharf_error *err)
{
    _cleanup_free_ char *dst =
        xasprintf("%s/blobs/sha256/%s", store->dir, image_digest_hex(digest));
    /* Same content either way: keep an existing blob, whose inode readers
     * may hold open. */
    if (access(dst, F_OK) == 0) {
        unlink(path);
        return 0;
    }
    if (chmod(path, 0644) < 0 || rename(path, dst) < 0)
        return wharf_error_errno(err, errno, "store blob %s", digest);
    return 0;
}

/* Copies fd into a temporary file under tmp/ while hashing it. */
static int copy_hashing(image_store *store, int fd, char **tmp_out, char digest[72],
                        wharf_error *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/blob-XXXXXX", store->dir);
    _cleanup_close_ int out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0)
        return wharf_error_errno(err, errno, "create %s", tmp);
    image_hasher h;
    image_hasher_init(&h);
    char buf[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = wharf_error_errno(err, errno, "read blob content");
            break;
        }
        if (n == 0)
            break;
        image_hasher_update(&h, buf, (size_t)n);
        int w = wharf_write_all(out, buf, (size_t)n);
        if (w < 0) {
            r = wharf_error_errno(err, -w, "write %s", tmp);
            break;
        }
    }
    if (r < 0) {
        image_hasher_release(&h);
        unlink(tmp);
        return r;
    }
    image_hasher_final(&h, digest);
    *tmp_out = steal_ptr(tmp);
    return 0;
}

int image_store_put_blob(image_store *store, int fd, const char *expected, char out[72],
                         wharf_error *err)
{
    if (expected && !image_digest_valid(expected))
        return wharf_error_set(err, -EINVAL, "blob %s: not a sha256 digest", expected);
    _cleanup_free_ char *tmp = NULL;
    char digest[72];
    int r = copy_hashing(store, fd, &tmp, digest, err);
    if (r < 0)
        return r;
    if (expected && strcmp(expected, digest) != 0) {
        unlink(tmp);
        return wharf_error_set(err, -EILSEQ, "blob %s: digest mismatch (content is %s)", expected,
                               digest);
    }
    r = image_store_adopt_blob(store, tmp, digest, err);
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    if (out)
        memcpy(out, digest, 72);
    return 0;
}

int image_store_put_blob_buf(image_store *store, const void *data, size_t len, char out[72],
                             wharf_error *err)
{
    char digest[72];
    image_digest_buf(data, len, digest);
    _cleanup_free_ char *dst = xasprintf("%s/blobs/sha256/%s", store->dir, digest + 7);
    if (access(dst, F_OK) != 0) {
        _cleanup_free_ char *tmp = xasprintf("%s/tmp/blob-XXXXXX", store->dir);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
            return wharf_error_errno(err, errno, "create %s", tmp);
        int r = wharf_write_all(fd, data, len);
        close(fd);
        if (r < 0) {
            unlink(tmp);
            return wharf_error_errno(err, -r, "write %s", tmp);
        }
        r = image_store_adopt_blob(store, tmp, digest, err);
        if (r < 0) {
            unlink(tmp);
            return r;
        }
    }
    if (out)
        memcpy(out, digest, 72);
    return 0;
}

int image_store_verify_blob(image_store *store, const char *digest, wharf_error *err)
{
    _cleanup_free_ char *path = image_store_blob_path(store, digest, err);
    if (!path)
        return err->code;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open blob %s", digest);
    image_hasher h;
    image_hasher_init(&h);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            image_hasher_release(&h);
            return wharf_error_errno(err, e, "read blob %s", digest);
        }
        if (n == 0)
            break;
        image_hasher_update(&h, buf, (size_t)n);
    }
    char got[72];
    image_hasher_final(&h, got);
    if (strcmp(got, digest) != 0)
        return wharf_error_set(err, -EILSEQ, "blob %s: digest mismatch (content is %s)", digest,
                               got);
    return 0;
}

json_t *image_store_load_blob_json(image_store *store, const char *digest, wharf_error *err)
{
    _cleanup_free_ char *path = image_store_blob_path(store, digest, err);
    if (!path)
        return NULL;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        wharf_error_set(err, -EINVAL, "blob %s: invalid JSON: %s", digest, je.text);
    return j;
}

enum image_compression image_detect_compression(const unsigned char *head, size_t len)
{
    if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return IMAGE_COMP_GZIP;
    if (len >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
        return IMAGE_COMP_ZSTD;
    return IMAGE_COMP_NONE;
}

int image_detect_compression_fd(int fd, enum image_compression *out)
{
    unsigned char head[4];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    if (n < 0)
        return -errno;
    *out = image_detect_compression(head, (size_t)n);
    return 0;
}

const char *image_layer_media_type(enum image_compression c)
{
    switch (c) {
    case IMAGE_COMP_GZIP:
        return "application/vnd.oci.image.layer.v1.tar+gzip";
    case IMAGE_COMP_ZSTD:
        return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
        return "application/vnd.oci.image.layer.v1.tar";
    }
}
