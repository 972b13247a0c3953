/*
 * copyup.c — filling a new volume from an image (Docker's copy-up) and
 * measuring a volume.
 *
 * The copy walks both trees one directory at a time through file
 * descriptors, opening every entry with O_NOFOLLOW: a symlink in the image
 * (or one planted in the volume by a container that already mounts it) is
 * copied as a symlink and never followed, so nothing outside the two trees
 * is read or written. Ownership, modes, times and extended attributes are
 * applied after an entry's content (chown clears set-id bits; a directory's
 * times change while it fills).
 */
#include "volume_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* Deeper trees are refused rather than running out of descriptors. */
#define MAX_DEPTH 128

struct link_seen {
    dev_t dev;
    ino_t ino;
    char *path; /* where its first copy is, relative to the volume's _data */
};

struct copy_ctx {
    int dst_root; /* the volume's _data */
    struct link_seen *links;
    size_t n_links, cap_links;
    wharf_error *err;
};

static void copy_xattrs(int src, int dst)
{
    ssize_t n = flistxattr(src, NULL, 0);
    if (n <= 0)
        return;
    _cleanup_free_ char *names = xmalloc((size_t)n);
    n = flistxattr(src, names, (size_t)n);
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
        const char *name = names + off;
        ssize_t len = fgetxattr(src, name, NULL, 0);
        if (len < 0)
            continue;
        _cleanup_free_ char *value = xmalloc((size_t)len + 1);
        len = fgetxattr(src, name, value, (size_t)len);
        /* Attributes the volume's filesystem or our privileges refuse
         * (security.selinux, trusted.*) are skipped, as dockerd does. */
        if (len >= 0)
            (void)fsetxattr(dst, name, value, (size_t)len, 0);
    }
}

/* Owner, mode, times (and xattrs when xattr_src >= 0) onto the open dst. */
static int apply_meta(int dst, const struct stat *st, int xattr_src, const char *what,
                      wharf_error *err)
{
    if (fchown(dst, st->st_uid, st->st_gid) < 0)
        return wharf_error_errno(err, errno, "copy-up: chown %s", what);
    if (fchmod(dst, st->st_mode & 07777) < 0)
        return wharf_error_errno(err, errno, "copy-up: chmod %s", what);
    if (xattr_src >= 0)
        copy_xattrs(xattr_src, dst);
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    if (futimens(dst, times) < 0)
        return wharf_error_errno(err, errno, "copy-up: set times of %s", what);
    return 0;
}

static int copy_data(int in, int out, const char *what, wharf_error *err)
{
    bool in_failed;
    int r = wharf_copy_fd(in, out, &in_failed);
    if (r < 0)
        return wharf_error_errno(err, -r, "copy-up: %s %s", in_failed ? "read" : "write", what);
    return 0;
}

/* A hard link to an inode copied before: linked to that copy. 1 if done. */
static int link_again(struct copy_ctx *c, const struct stat *st, int dst, const char *name,
                      const char *rel)
{
    for (size_t i = 0; i < c->n_links; i++) {
        struct link_seen *l = &c->links[i];
        if (l->dev != st->st_dev || l->ino != st->st_ino)
            continue;
        _cleanup_free_ char *parent = xstrdup(l->path);
        char *slash = strrchr(parent, '/');
        const char *base = slash ? slash + 1 : parent;
        if (slash)
            *slash = '\0';
        wharf_error e = {0};
        _cleanup_close_ int pfd =
            wharf_open_in_root(c->dst_root, slash ? parent : ".", O_PATH | O_DIRECTORY, 0, &e);
        if (pfd < 0 || linkat(pfd, base, dst, name, 0) < 0)
            return wharf_error_errno(c->err, pfd < 0 ? -pfd : errno, "copy-up: link %s to %s", rel,
                                     l->path);
        return 1;
    }
    return 0;
}

static void remember_link(struct copy_ctx *c, const struct stat *st, const char *rel)
{
    if (c->n_links == c->cap_links) {
        c->cap_links = c->cap_links ? 2 * c->cap_links : 16;
        c->links = xrealloc(c->links, c->cap_links * sizeof(*c->links));
    }
    c->links[c->n_links++] = (struct link_seen){st->st_dev, st->st_ino, xstrdup(rel)};
}

static int copy_tree(struct copy_ctx *c, int src, int dst, const char *rel, int depth);

static int copy_entry(struct copy_ctx *c, int src, int dst, const char *name, const char *rel,
                      int depth)
{
    struct stat st;
    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(c->err, errno, "copy-up: stat %s", rel);
    int r;
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        if ((r = link_again(c, &st, dst, name, rel)) != 0)
            return r < 0 ? r : 0;
        remember_link(c, &st, rel);
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth >= MAX_DEPTH)
            return wharf_error_set(c->err, -ELOOP, "copy-up: %s: directories nested too deeply",
                                   rel);
        if (mkdirat(dst, name, 0700) < 0)
            return wharf_error_errno(c->err, errno, "copy-up: mkdir %s", rel);
        _cleanup_close_ int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || d < 0)
            return wharf_error_errno(c->err, errno, "copy-up: open directory %s", rel);
        if ((r = copy_tree(c, s, d, rel, depth + 1)) < 0)
            return r;
        return apply_meta(d, &st, s, rel, c->err);
    }
    if (S_ISREG(st.st_mode)) {
        _cleanup_close_ int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
            return wharf_error_errno(c->err, errno, "copy-up: open %s", rel);
        _cleanup_close_ int out =
            openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
            return wharf_error_errno(c->err, errno, "copy-up: create %s", rel);
        if ((r = copy_data(in, out, rel, c->err)) < 0)
            return r;
        return apply_meta(out, &st, in, rel, c->err);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
        if (n < 0)
            return wharf_error_errno(c->err, errno, "copy-up: readlink %s", rel);
        target[n] = '\0';
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        if (symlinkat(target, dst, name) < 0 ||
            fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW) < 0)
            return wharf_error_errno(c->err, errno, "copy-up: symlink %s", rel);
        return 0;
    }
    /* device nodes, fifos, sockets */
    if (mknodat(dst, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
        return wharf_error_errno(c->err, errno, "copy-up: mknod %s", rel);
    _cleanup_close_ int node = openat(dst, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat made;
    if (node < 0 || fstat(node, &made) < 0 || (made.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
        return wharf_error_set(c->err, -EIO, "copy-up: %s changed while it was made", rel);
    char path[32];
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (fchownat(node, "", st.st_uid, st.st_gid, AT_EMPTY_PATH) < 0 ||
        chmod(wharf_fd_path(node, path), st.st_mode & 07777) < 0 ||
        utimensat(AT_FDCWD, wharf_fd_path(node, path), times, 0) < 0)
        return wharf_error_errno(c->err, errno, "copy-up: set owner and mode of %s", rel);
    return 0;
}

static int copy_tree(struct copy_ctx *c, int src, int dst, const char *rel, int depth)
{
    int dfd = dup(src);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return wharf_error_errno(c->err, errno, "copy-up: read directory %s", *rel ? rel : "/");
    }
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            _cleanup_free_ char *sub = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
            r = copy_entry(c, src, dst, names[i], sub, depth);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

static bool dir_is_empty(int fd, wharf_error *err, int *r)
{
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        *r = wharf_error_errno(err, errno, "copy-up: read the volume's directory");
        return false;
    }
    bool empty = true;
    struct dirent *de;
    while (empty && (de = readdir(d)))
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    *r = 0;
    return empty;
}

int volume_populate(struct volume_store *vs, const char *name, int src_fd, wharf_error *err)
{
    _cleanup_free_ char *data = volume_data_path(vs, name);
    _cleanup_close_ int dst = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst < 0)
        return wharf_error_errno(err, errno, "copy-up into volume %s: open %s", name, data);
    int r;
    if (!dir_is_empty(dst, err, &r))
        return r;
    struct stat st;
    if (fstat(src_fd, &st) < 0)
        return wharf_error_errno(err, errno, "copy-up into volume %s", name);
    struct copy_ctx c = {.dst_root = dst, .err = err};
    r = copy_tree(&c, src_fd, dst, "", 0);
    if (r == 0)
        r = apply_meta(dst, &st, src_fd, "the volume's directory", err);
    for (size_t i = 0; i < c.n_links; i++)
        free(c.links[i].path);
    free(c.links);
    /* What a failed copy wrote stays (a container may share the volume
     * already): a caller that made the volume for this removes it. */
    if (r < 0)
        return wharf_error_prefix(err, "volume %s", name);
    return 1;
}

/* ---------------------------------------------------------------- sizes */

struct inode_size {
    dev_t dev;
    ino_t ino;
    off_t size;
};

struct size_walk {
    struct inode_size *items;
    size_t n, cap;
};

static void walk_sizes(struct size_walk *w, int dirfd, int depth)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth >= 512)
                continue;
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_sizes(w, sub, depth + 1);
            continue;
        }
        if (st.st_size == 0)
            continue;
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 64;
            w->items = xrealloc(w->items, w->cap * sizeof(*w->items));
        }
        w->items[w->n++] = (struct inode_size){st.st_dev, st.st_ino, st.st_size};
    }
    closedir(d);
}

static int by_inode(const void *a, const void *b)
{
    const struct inode_size *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return 0;
}

int64_t volume_tree_size(int dirfd)
{
    struct size_walk w = {0};
    walk_sizes(&w, dirfd, 0);
    if (w.n)
        qsort(w.items, w.n, sizeof(*w.items), by_inode);
    int64_t total = 0;
    for (size_t i = 0; i < w.n; i++)
        if (i == 0 || by_inode(&w.items[i], &w.items[i - 1]) != 0)
            total += w.items[i].size;
    free(w.items);
    return total;
}
