/* extract.c — a tar stream into a directory inside a root, by dockerd's
 * Unpack rules (rootcopy.h).
 *
 * Every entry's parent is reached with openat2(RESOLVE_IN_ROOT) (created as
 * needed, symlinks on the way followed inside the root), and the entry is
 * made and changed with *at() calls on its last element that never follow
 * it; mode and xattrs go through /proc/self/fd of an O_PATH fd that was
 * opened without following, so a symlink swapped in meanwhile cannot
 * redirect them either. */
#include "rootcopy.h"
#include "rootcopy_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct dir_time {
    char *path;
    struct timespec times[2];
};

struct extract {
    int root_fd;
    const char *dir;
    const struct rootcopy_extract_opts *o;
    struct dir_time *dirs;
    size_t n_dirs;
    wharf_error *err;
};

/* name relative to the destination, cleaned: "" when it climbs out of it.
 * "." is the destination itself. */
static char *relative_name(const char *name)
{
    strbuf out = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(name);
    size_t *starts = xcalloc(strlen(name) + 1, sizeof(size_t));
    size_t depth = 0;
    bool escapes = false;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && !escapes; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (depth == 0)
                escapes = true;
            else
                out.len = starts[--depth];
            continue;
        }
        starts[depth++] = out.len;
        strbuf_addf(&out, "%s%s", out.len ? "/" : "", c);
    }
    free(starts);
    if (escapes) {
        strbuf_release(&out);
        return xstrdup("");
    }
    if (out.len == 0)
        strbuf_addch(&out, '.');
    return strbuf_detach(&out);
}

static char *rebased(const struct rootcopy_extract_opts *o, const char *name)
{
    const char *from = o ? o->rebase_from : NULL;
    if (!from || !*from)
        return xstrdup(name);
    size_t n = strlen(from);
    if (strncmp(name, from, n) == 0 && (name[n] == '\0' || name[n] == '/'))
        return xasprintf("%s%s", o->rebase_to ? o->rebase_to : "", name + n);
    return xstrdup(name);
}

static char *in_dir(const char *dir, const char *rel)
{
    if (strcmp(rel, ".") == 0)
        return xstrdup(dir);
    size_t n = strlen(dir);
    return n && dir[n - 1] == '/' ? xasprintf("%s%s", dir, rel) : xasprintf("%s/%s", dir, rel);
}

/* rm -rf of name under dfd, never following a symlink. */
static int remove_at(int dfd, const char *name, int depth)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    if (depth > 512)
        return -ELOOP;
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return -errno;
    DIR *d = fdopendir(sub);
    if (!d) {
        close(sub);
        return -errno;
    }
    char **names = NULL;
    int subfd = fcntl(sub, F_DUPFD_CLOEXEC, 0);
    size_t n = wharf_dir_names_sorted(d, &names); /* closes d (and sub) */
    int r = subfd < 0 ? -EBADF : 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = remove_at(subfd, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
    if (subfd >= 0)
        close(subfd);
    if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
        r = -errno;
    return r;
}

static void proc_path(int fd, char buf[32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

static int copy_data(struct extract *x, struct archive *a, int fd, int64_t size, const char *path)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        const char *p = buf;
        while (len > 0) {
            ssize_t n = pwrite(fd, p, len, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return wharf_error_errno(x->err, errno, "write %s", path);
            p += n;
            off += n;
            len -= (size_t)n;
        }
    }
    if (r != ARCHIVE_EOF)
        return wharf_error_set(x->err, -EIO, "%s: %s", path, archive_error_string(a));
    /* a sparse file's last hole */
    if (ftruncate(fd, size) < 0)
        return wharf_error_errno(x->err, errno, "truncate %s", path);
    return 0;
}

static int one_entry(struct extract *x, struct archive *a, struct archive_entry *e)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return 0;
    _cleanup_free_ char *name = rebased(x->o, raw);
    _cleanup_free_ char *rel = relative_name(name);
    if (!*rel)
        return wharf_error_set(x->err, -EPERM, "\"%s\" is outside of \"%s\"", name, x->dir);
    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    bool is_dir = type == AE_IFDIR && !hardlink;
    _cleanup_free_ char *path = in_dir(x->dir, rel);
    if (strcmp(rel, ".") == 0) {
        if (is_dir)
            return 0; /* the destination itself: merged, as dockerd does */
        return wharf_error_set(x->err, -EISDIR,
                               "cannot overwrite directory \"%s\" with non-directory \"%s\"", path,
                               x->dir);
    }
    if (type == AE_IFSOCK)
        return 0;
    _cleanup_free_ char *parent = NULL, *leaf = NULL;
    rootcopy_split(path, &parent, &leaf);
    _cleanup_close_ int pfd = wharf_mkdir_in_root(x->root_fd, parent, 0755, x->err);
    if (pfd < 0)
        return wharf_error_prefix(x->err, "%s", path);
    struct stat old;
    if (fstatat(pfd, leaf, &old, AT_SYMLINK_NOFOLLOW) == 0) {
        bool old_dir = S_ISDIR(old.st_mode);
        if (x->o && x->o->no_overwrite_dir_non_dir && old_dir && !is_dir)
            return wharf_error_set(x->err, -EISDIR,
                                   "cannot overwrite directory \"%s\" with non-directory \"%s\"",
                                   path, x->dir);
        if (x->o && x->o->no_overwrite_dir_non_dir && !old_dir && is_dir)
            return wharf_error_set(x->err, -ENOTDIR,
                                   "cannot overwrite non-directory \"%s\" with directory \"%s\"",
                                   path, x->dir);
        int r;
        if (!(old_dir && is_dir) && (r = remove_at(pfd, leaf, 0)) < 0)
            return wharf_error_errno(x->err, -r, "remove %s", path);
    } else if (errno != ENOENT) {
        return wharf_error_errno(x->err, errno, "lstat %s", path);
    }

    mode_t perm = archive_entry_perm(e);
    int r = 0;
    if (hardlink) {
        _cleanup_free_ char *target = rebased(x->o, hardlink);
        _cleanup_free_ char *trel = relative_name(target);
        if (!*trel || strcmp(trel, ".") == 0)
            return wharf_error_set(x->err, -EPERM, "invalid hardlink \"%s\" -> \"%s\"", path,
                                   hardlink);
        _cleanup_free_ char *tpath = in_dir(x->dir, trel);
        wharf_error e2 = {0};
        _cleanup_close_ int tfd =
            wharf_open_in_root(x->root_fd, tpath, O_PATH | O_NOFOLLOW, 0, &e2);
        if (tfd < 0)
            return wharf_error_set(x->err, e2.code, "link %s to %s: %s", path, tpath, e2.msg);
        char p[32];
        proc_path(tfd, p);
        if (linkat(AT_FDCWD, p, pfd, leaf, AT_SYMLINK_FOLLOW) < 0)
            return wharf_error_errno(x->err, errno, "link %s to %s", path, tpath);
    } else {
        switch (type) {
        case AE_IFDIR:
            if (mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST)
                return wharf_error_errno(x->err, errno, "mkdir %s", path);
            break;
        case AE_IFREG: {
            _cleanup_close_ int fd =
                openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0)
                return wharf_error_errno(x->err, errno, "create %s", path);
            if ((r = copy_data(x, a, fd, archive_entry_size(e), path)) < 0)
                return r;
            break;
        }
        case AE_IFLNK: {
            const char *target = archive_entry_symlink(e);
            if (symlinkat(target ? target : "", pfd, leaf) < 0)
                return wharf_error_errno(x->err, errno, "symlink %s", path);
            break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
            if (mknodat(pfd, leaf, type | perm,
                        makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0)
                return wharf_error_errno(x->err, errno, "mknod %s", path);
            break;
        default:
            return wharf_error_set(x->err, -EINVAL, "%s: unhandled tar entry type %o", path,
                                   (unsigned)type);
        }
    }

    if (!(x->o && x->o->no_chown)) {
        uid_t uid = x->o && x->o->force_owner ? x->o->uid : (uid_t)archive_entry_uid(e);
        gid_t gid = x->o && x->o->force_owner ? x->o->gid : (gid_t)archive_entry_gid(e);
        if (fchownat(pfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return wharf_error_errno(x->err, errno, "lchown %s", path);
    }
    _cleanup_close_ int lfd = openat(pfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (lfd < 0)
        return wharf_error_errno(x->err, errno, "open %s", path);
    struct stat now;
    if (fstat(lfd, &now) < 0)
        return wharf_error_errno(x->err, errno, "stat %s", path);
    char p[32];
    proc_path(lfd, p);
    if (!S_ISLNK(now.st_mode)) {
        const char *xname;
        const void *xvalue;
        size_t xsize;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
            if (setxattr(p, xname, xvalue, xsize, 0) < 0 && errno != ENOTSUP && errno != EPERM)
                return wharf_error_errno(x->err, errno, "setxattr %s %s", path, xname);
        }
        /* after chown, which clears set-id bits */
        if (chmod(p, archive_entry_mode(e) & 07777) < 0)
            return wharf_error_errno(x->err, errno, "chmod %s", path);
    }
    struct timespec times[2] = {
        {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
        {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
    };
    if (archive_entry_atime_is_set(e) && archive_entry_atime(e) > times[1].tv_sec)
        times[0] = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
    if (is_dir) {
        /* later entries would change it: at the end */
        x->dirs = xrealloc(x->dirs, (x->n_dirs + 1) * sizeof(*x->dirs));
        x->dirs[x->n_dirs++] = (struct dir_time){xstrdup(path), {times[0], times[1]}};
    } else if (!hardlink && utimensat(pfd, leaf, times, AT_SYMLINK_NOFOLLOW) < 0) {
        return wharf_error_errno(x->err, errno, "set the times of %s", path);
    }
    return 0;
}

int rootcopy_extract(int root_fd, const char *dir, int fd, const struct rootcopy_extract_opts *o,
                     wharf_error *err)
{
    struct extract x = {.root_fd = root_fd, .dir = dir, .o = o, .err = err};
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    int r = 0;
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
        r = wharf_error_set(err, -EINVAL, "read the archive: %s", archive_error_string(a));
    while (r == 0) {
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EINVAL, "read the archive: %s", archive_error_string(a));
            break;
        }
        r = one_entry(&x, a, e);
    }
    for (size_t i = 0; i < x.n_dirs; i++) {
        if (r == 0) {
            wharf_error e2 = {0};
            int dfd = wharf_open_in_root(root_fd, x.dirs[i].path, O_PATH | O_NOFOLLOW, 0, &e2);
            char p[32];
            proc_path(dfd, p);
            if (dfd >= 0 && utimensat(AT_FDCWD, p, x.dirs[i].times, 0) < 0)
                r = wharf_error_errno(err, errno, "set the times of %s", x.dirs[i].path);
            if (dfd >= 0)
                close(dfd);
        }
        free(x.dirs[i].path);
    }
    free(x.dirs);
    archive_read_free(a);
    return r;
}
