/* unpack.c — one layer tar into a snapshot directory.
 *
 * The compressed blob is read by one libarchive reader (gzip, zstd or
 * nothing, as a raw stream) whose output feeds a second reader that parses
 * the tar; every uncompressed byte passes through one callback that hashes
 * it, so the diff_id comes out of the same single pass that unpacks.
 *
 * Paths from a layer are untrusted. Each entry's parent is reached one
 * component at a time with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * and the entry itself is created with *at() calls that do not follow
 * symlinks, so "..", absolute names and symlinks planted by earlier entries
 * are refused instead of writing outside the snapshot. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

struct chain {
    struct archive *outer;
    image_hasher hasher;
    uint64_t total;
    bool failed;
};

static la_ssize_t chain_read(struct archive *a, void *data, const void **buf)
{
    struct chain *c = data;
    for (;;) {
        size_t size = 0;
        la_int64_t off;
        int r = archive_read_data_block(c->outer, buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN) {
            archive_set_error(a, EIO, "%s", archive_error_string(c->outer));
            c->failed = true;
            return -1;
        }
        if (size == 0)
            continue;
        image_hasher_update(&c->hasher, *buf, size);
        c->total += size;
        return (la_ssize_t)size;
    }
}

static int openat2_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd;
    do
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd < 0 ? -errno : fd;
}

/* A path split into checked components. */
struct relpath {
    char *buf;   /* components separated by NULs */
    char **comp; /* pointers into buf */
    size_t n;
};

static void relpath_free(struct relpath *p)
{
    free(p->buf);
    free(p->comp);
    memset(p, 0, sizeof(*p));
}

/* Splits name; refuses absolute paths and "..". A name that is only "." or
 * "./" gives n == 0 (the layer root). */
static int relpath_parse(const char *name, struct relpath *out, const char *what, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (name[0] == '/')
        return wharf_error_set(err, -EPERM, "layer %s: entry \"%s\": absolute path refused", what,
                               name);
    out->buf = xstrdup(name);
    out->comp = xcalloc(strlen(name) / 2 + 2, sizeof(char *));
    char *save = NULL;
    for (char *c = strtok_r(out->buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            relpath_free(out);
            return wharf_error_set(
                err, -EPERM, "layer %s: entry \"%s\": \"..\" escapes the layer root", what, name);
        }
        out->comp[out->n++] = c;
    }
    return 0;
}

/* Opens (creating missing directories) the parent of p's last component. */
static int open_parent(int root, const struct relpath *p, bool create, const char *what,
                       const char *name, wharf_error *err)
{
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return wharf_error_errno(err, errno, "layer %s: dup", what);
    for (size_t i = 0; i + 1 < p->n; i++) {
        int next = openat2_beneath(cur, p->comp[i], O_PATH | O_DIRECTORY);
        if (next == -ENOENT && create) {
            if (mkdirat(cur, p->comp[i], 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(cur);
                return wharf_error_errno(err, e, "layer %s: entry \"%s\": mkdir %s", what, name,
                                         p->comp[i]);
            }
            next = openat2_beneath(cur, p->comp[i], O_PATH | O_DIRECTORY);
        }
        close(cur);
        if (next == -ELOOP || next == -EXDEV)
            return wharf_error_set(err, -EPERM,
                                   "layer %s: entry \"%s\": path goes through a symlink (%s)", what,
                                   name, p->comp[i]);
        if (next < 0)
            return wharf_error_errno(err, -next, "layer %s: entry \"%s\": open %s", what, name,
                                     p->comp[i]);
        cur = next;
    }
    return cur;
}

static int remove_existing(int parent, const char *name, bool keep_dir, bool *was_dir)
{
    struct stat st;
    *was_dir = false;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir) {
            *was_dir = true;
            return 0;
        }
        char buf[32];
        _cleanup_free_ char *path = xasprintf("%s/%s", wharf_fd_path(parent, buf), name);
        wharf_error e = {0};
        return wharf_rm_rf(path, &e);
    }
    return unlinkat(parent, name, 0) < 0 ? -errno : 0;
}

static int set_xattrs(struct archive_entry *ae, int fd, const char *path)
{
    const char *xname;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(ae);
    while (archive_entry_xattr_next(ae, &xname, &value, &size) == ARCHIVE_OK) {
        int r =
            fd >= 0 ? fsetxattr(fd, xname, value, size, 0) : lsetxattr(path, xname, value, size, 0);
        if (r < 0)
            return -errno;
    }
    return 0;
}

struct dir_time {
    char *path;
    struct timespec ts[2];
};

struct unpacker {
    int root;
    const char *what;
    struct archive *in;
    uint64_t size;
    struct dir_time *dirs;
    size_t ndirs, adirs;
};

static void entry_times(struct archive_entry *ae, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(ae);
    ts[1].tv_nsec = archive_entry_mtime_nsec(ae);
    if (archive_entry_atime_is_set(ae)) {
        ts[0].tv_sec = archive_entry_atime(ae);
        ts[0].tv_nsec = archive_entry_atime_nsec(ae);
    } else {
        ts[0] = ts[1];
    }
}

static int write_file_data(struct unpacker *u, int fd, struct archive_entry *ae, const char *name,
                           wharf_error *err)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(u->in, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return wharf_error_set(err, -EIO, "layer %s: entry \"%s\": %s", u->what, name,
                                   archive_error_string(u->in));
        const char *p = buf;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return wharf_error_errno(err, errno, "layer %s: entry \"%s\": write", u->what,
                                         name);
            p += n;
            off += n;
            size -= (size_t)n;
        }
    }
    la_int64_t total = archive_entry_size(ae);
    if (ftruncate(fd, total) < 0)
        return wharf_error_errno(err, errno, "layer %s: entry \"%s\": truncate", u->what, name);
    u->size += (uint64_t)total;
    return 0;
}

static int apply_whiteout(struct unpacker *u, int parent, const char *base, const char *name,
                          wharf_error *err)
{
    if (strcmp(base, ".wh..wh..opq") == 0) {
        char buf[32];
        if (setxattr(wharf_fd_path(parent, buf), "trusted.overlay.opaque", "y", 1, 0) < 0)
            return wharf_error_errno(err, errno, "layer %s: entry \"%s\": mark opaque", u->what,
                                     name);
        return 0;
    }
    if (strncmp(base, ".wh..wh.", 8) == 0)
        return 0; /* AUFS bookkeeping (e.g. .wh..wh.plnk): nothing to apply */
    const char *victim = base + 4;
    if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0 || strchr(victim, '/'))
        return wharf_error_set(err, -EPERM, "layer %s: entry \"%s\": bad whiteout", u->what, name);
    bool was_dir;
    int r = remove_existing(parent, victim, false, &was_dir);
    if (r < 0)
        return wharf_error_errno(err, -r, "layer %s: entry \"%s\": remove %s", u->what, name,
                                 victim);
    if (mknodat(parent, victim, S_IFCHR | 0000, makedev(0, 0)) < 0)
        return wharf_error_errno(err, errno, "layer %s: entry \"%s\": create whiteout", u->what,
                                 name);
    return 0;
}

static int unpack_entry(struct unpacker *u, struct archive_entry *ae, wharf_error *err)
{
    const char *name = archive_entry_pathname(ae);
    if (!name)
        return wharf_error_set(err, -EINVAL, "layer %s: entry without a name", u->what);
    struct relpath p;
    int r = relpath_parse(name, &p, u->what, err);
    if (r < 0)
        return r;
    if (p.n == 0) { /* the root itself: its metadata is the snapshot's */
        relpath_free(&p);
        return 0;
    }
    const char *base = p.comp[p.n - 1];
    _cleanup_close_ int parent = open_parent(u->root, &p, true, u->what, name, err);
    if (parent < 0) {
        relpath_free(&p);
        return parent;
    }
    if (strncmp(base, ".wh.", 4) == 0) {
        r = apply_whiteout(u, parent, base, name, err);
        relpath_free(&p);
        return r;
    }

    mode_t type = archive_entry_filetype(ae);
    mode_t perm = archive_entry_perm(ae) & 07777;
    uid_t uid = (uid_t)archive_entry_uid(ae);
    gid_t gid = (gid_t)archive_entry_gid(ae);
    struct timespec ts[2];
    entry_times(ae, ts);
    const char *hardlink = archive_entry_hardlink(ae);
    char fdbuf[32];
    _cleanup_free_ char *procpath = xasprintf("%s/%s", wharf_fd_path(parent, fdbuf), base);
    bool was_dir;
    r = remove_existing(parent, base, type == AE_IFDIR && !hardlink, &was_dir);
    if (r < 0) {
        wharf_error_errno(err, -r, "layer %s: entry \"%s\": replace", u->what, name);
        goto out;
    }

    if (hardlink) {
        struct relpath t;
        r = relpath_parse(hardlink, &t, u->what, err);
        if (r < 0)
            goto out;
        if (t.n == 0) {
            relpath_free(&t);
            r = wharf_error_set(err, -EPERM, "layer %s: entry \"%s\": hard link to the root",
                                u->what, name);
            goto out;
        }
        int tparent = open_parent(u->root, &t, false, u->what, hardlink, err);
        if (tparent < 0) {
            relpath_free(&t);
            r = tparent;
            goto out;
        }
        if (linkat(tparent, t.comp[t.n - 1], parent, base, 0) < 0)
            r = wharf_error_errno(err, errno, "layer %s: entry \"%s\": hard link to %s", u->what,
                                  name, hardlink);
        close(tparent);
        relpath_free(&t);
        goto out;
    }

    switch (type) {
    case AE_IFREG: {
        _cleanup_close_ int fd =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            r = wharf_error_errno(err, errno, "layer %s: entry \"%s\": create", u->what, name);
            goto out;
        }
        r = write_file_data(u, fd, ae, name, err);
        if (r < 0)
            goto out;
        /* chown before chmod: chown clears setuid/setgid bits */
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0 ||
            (r = set_xattrs(ae, fd, NULL)) < 0 || futimens(fd, ts) < 0) {
            r = wharf_error_errno(err, r < 0 ? -r : errno, "layer %s: entry \"%s\": attributes",
                                  u->what, name);
            goto out;
        }
        break;
    }
    case AE_IFDIR: {
        if (!was_dir && mkdirat(parent, base, 0700) < 0) {
            r = wharf_error_errno(err, errno, "layer %s: entry \"%s\": mkdir", u->what, name);
            goto out;
        }
        _cleanup_close_ int fd =
            openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0 ||
            (r = set_xattrs(ae, fd, NULL)) < 0) {
            r = wharf_error_errno(err, r < 0 ? -r : errno, "layer %s: entry \"%s\": attributes",
                                  u->what, name);
            goto out;
        }
        /* children change a directory's mtime: set it after the last entry */
        if (u->ndirs == u->adirs) {
            u->adirs = u->adirs ? 2 * u->adirs : 64;
            u->dirs = xrealloc(u->dirs, u->adirs * sizeof(*u->dirs));
        }
        u->dirs[u->ndirs].path = xstrdup(name);
        memcpy(u->dirs[u->ndirs].ts, ts, sizeof(ts));
        u->ndirs++;
        break;
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(ae);
        if (symlinkat(target ? target : "", parent, base) < 0 ||
            fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            (r = set_xattrs(ae, -1, procpath)) < 0 ||
            utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
            r = wharf_error_errno(err, r < 0 ? -r : errno, "layer %s: entry \"%s\": symlink",
                                  u->what, name);
            goto out;
        }
        break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        dev_t dev = type == AE_IFIFO
                        ? 0
                        : makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae));
        if (mknodat(parent, base, type | 0600, dev) < 0 ||
            fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(parent, base, perm, 0) < 0 || (r = set_xattrs(ae, -1, procpath)) < 0 ||
            utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
            r = wharf_error_errno(err, r < 0 ? -r : errno, "layer %s: entry \"%s\": mknod", u->what,
                                  name);
            goto out;
        }
        break;
    }
    default:
        break; /* sockets and unknown types carry no content */
    }
    r = 0;
out:
    relpath_free(&p);
    return r;
}

static int finish_dir_times(struct unpacker *u, wharf_error *err)
{
    for (size_t i = u->ndirs; i-- > 0;) {
        struct relpath p;
        int r = relpath_parse(u->dirs[i].path, &p, u->what, err);
        if (r < 0)
            return r;
        int parent = open_parent(u->root, &p, false, u->what, u->dirs[i].path, err);
        if (parent < 0) {
            relpath_free(&p);
            /* a later entry may have replaced the directory */
            if (parent == -ENOENT || parent == -ENOTDIR) {
                wharf_error_clear(err);
                continue;
            }
            return parent;
        }
        r = utimensat(parent, p.comp[p.n - 1], u->dirs[i].ts, AT_SYMLINK_NOFOLLOW);
        int e = errno;
        close(parent);
        relpath_free(&p);
        if (r < 0 && e != ENOENT)
            return wharf_error_errno(err, e, "layer %s: directory %s: times", u->what,
                                     u->dirs[i].path);
    }
    return 0;
}

int image_unpack_layer(int fd, const char *dest, const char *what, char diff_id[72], uint64_t *size,
                       wharf_error *err)
{
    int r = 0;
    struct chain c = {0};
    struct unpacker u = {.root = -1, .what = what};
    struct archive *in = NULL;
    image_hasher_init(&c.hasher);
    u.root = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (u.root < 0) {
        r = wharf_error_errno(err, errno, "layer %s: open %s", what, dest);
        goto out;
    }
    c.outer = archive_read_new();
    archive_read_support_filter_gzip(c.outer);
    archive_read_support_filter_zstd(c.outer);
    archive_read_support_format_raw(c.outer);
    struct archive_entry *ae;
    if (archive_read_open_fd(c.outer, fd, 65536) != ARCHIVE_OK ||
        archive_read_next_header(c.outer, &ae) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EINVAL, "layer %s: %s", what, archive_error_string(c.outer));
        goto out;
    }
    in = archive_read_new();
    archive_read_support_format_tar(in);
    u.in = in;
    if (archive_read_open(in, &c, NULL, chain_read, NULL) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EINVAL, "layer %s: %s", what, archive_error_string(in));
        goto out;
    }
    for (;;) {
        int ar = archive_read_next_header(in, &ae);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EINVAL, "layer %s: not a valid tar: %s", what,
                                archive_error_string(in));
            goto out;
        }
        r = unpack_entry(&u, ae, err);
        if (r < 0)
            goto out;
    }
    r = finish_dir_times(&u, err);
    if (r < 0)
        goto out;
    /* The tar reader stops at the end-of-archive blocks; the diff_id covers
     * the whole stream, padding included. */
    const void *buf;
    while (chain_read(in, &c, &buf) > 0)
        ;
    if (c.failed) {
        r = wharf_error_set(err, -EIO, "layer %s: %s", what, archive_error_string(c.outer));
        goto out;
    }
    if (diff_id)
        image_hasher_final(&c.hasher, diff_id);
    if (size)
        *size = u.size;
out:
    image_hasher_release(&c.hasher);
    if (in)
        archive_read_free(in);
    if (c.outer)
        archive_read_free(c.outer);
    if (u.root >= 0)
        close(u.root);
    for (size_t i = 0; i < u.ndirs; i++)
        free(u.dirs[i].path);
    free(u.dirs);
    return r;
}
