/* fs.c — whole-file reads, atomic writes, directory trees, and path
 * resolution that cannot escape a root directory. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int wharf_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int wharf_copy_fd(int in, int out, bool *in_failed)
{
    *in_failed = false;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0 || errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return -errno;
        break; /* not between these filesystems: copy by hand */
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *in_failed = true;
            return -errno;
        }
        int r = wharf_write_all(out, buf, (size_t)n);
        if (r < 0)
            return r;
    }
}

ssize_t wharf_read_all(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int wharf_read_file(const char *path, char **out, size_t *len, wharf_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open %s", path);
    strbuf sb = STRBUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            strbuf_release(&sb);
            return wharf_error_errno(err, e, "read %s", path);
        }
        if (n == 0)
            break;
        strbuf_add(&sb, chunk, (size_t)n);
    }
    if (len)
        *len = sb.len;
    *out = strbuf_detach(&sb);
    return 0;
}

int wharf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            wharf_error *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return wharf_error_errno(err, errno, "create %s", tmp);
    int r = wharf_write_all(fd, data, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return wharf_error_errno(err, -r, "write %s", path);
    }
    return 0;
}

int wharf_write_string(const char *path, const char *value, wharf_error *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open %s", path);
    size_t len = strlen(value);
    ssize_t n;
    do
        n = write(fd, value, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wharf_error_errno(err, errno, "write '%s' to %s", value, path);
    return 0;
}

int wharf_mkdir_p(const char *path, mode_t mode, wharf_error *err)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return wharf_error_errno(err, errno, "mkdir %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return wharf_error_errno(err, errno, "mkdir %s", p);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = (type == FTW_DP || type == FTW_D) ? rmdir(path) : unlink(path);
    if (r < 0 && errno != ENOENT)
        return errno;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t wharf_dir_names_sorted(DIR *d, char ***out)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    return n;
}

int wharf_rm_rf(const char *path, wharf_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return wharf_error_errno(err, errno, "stat %s", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return wharf_error_errno(err, errno, "remove %s", path);
        return 0;
    }
    int r = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (r < 0)
        return wharf_error_errno(err, errno, "remove %s", path);
    if (r > 0)
        return wharf_error_errno(err, r, "remove %s", path);
    return 0;
}

static int openat2_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    if (*path == '\0')
        path = ".";
    int fd;
    do
        fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd < 0 ? -errno : fd;
}

int wharf_open_in_root(int root_fd, const char *path, int flags, mode_t mode, wharf_error *err)
{
    int fd = openat2_in_root(root_fd, path, flags, mode);
    if (fd < 0)
        return wharf_error_errno(err, -fd, "open %s inside the root", path);
    return fd;
}

/* Splits off the last component: "a/b/c" -> parent "a/b", name "c". */
static void split_last(char *p, const char **parent, const char **name)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    char *slash = strrchr(p, '/');
    if (!slash) {
        *parent = ".";
        *name = p;
    } else {
        *slash = '\0';
        *parent = *p ? p : "/";
        *name = slash + 1;
    }
}

static int mkdir_in_root_depth(int root_fd, const char *path, mode_t mode, int depth,
                               wharf_error *err);

int wharf_mkdir_in_root(int root_fd, const char *path, mode_t mode, wharf_error *err)
{
    return mkdir_in_root_depth(root_fd, path, mode, 0, err);
}

/* A dangling symlink on the way ("var/run" -> "/run" with no /run yet) is
 * followed, inside the root, and its target created, as image tools expect. */
static int mkdir_symlink_target(int root_fd, int parent_fd, const char *parent, const char *name,
                                mode_t mode, int depth, wharf_error *err)
{
    char target[4096];
    ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
    if (n < 0)
        return -errno;
    target[n] = '\0';
    _cleanup_free_ char *next =
        target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", parent, target);
    int fd = mkdir_in_root_depth(root_fd, next, mode, depth + 1, err);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static int mkdir_in_root_depth(int root_fd, const char *path, mode_t mode, int depth,
                               wharf_error *err)
{
    if (depth > 40)
        return wharf_error_set(err, -ELOOP, "mkdir %s inside the root: too many symlinks", path);
    int fd = openat2_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0 || fd != -ENOENT) {
        if (fd < 0)
            return wharf_error_errno(err, -fd, "open directory %s inside the root", path);
        return fd;
    }
    _cleanup_free_ char *copy = xstrdup(path);
    const char *parent, *name;
    split_last(copy, &parent, &name);
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return wharf_error_set(err, -EINVAL, "mkdir %s inside the root: bad path", path);
    _cleanup_close_ int pfd = mkdir_in_root_depth(root_fd, parent, mode, depth, err);
    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, name, mode) < 0) {
        if (errno != EEXIST)
            return wharf_error_errno(err, errno, "mkdir %s inside the root", path);
        int r = mkdir_symlink_target(root_fd, pfd, parent, name, mode, depth, err);
        if (r < 0 && r != -EINVAL)
            return r;
    }
    fd = openat2_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return wharf_error_errno(err, -fd, "open directory %s inside the root", path);
    return fd;
}

int wharf_touch_in_root(int root_fd, const char *path, mode_t mode, wharf_error *err)
{
    int fd = openat2_in_root(root_fd, path, O_PATH, 0);
    if (fd >= 0)
        return fd;
    if (fd != -ENOENT)
        return wharf_error_errno(err, -fd, "open %s inside the root", path);
    _cleanup_free_ char *copy = xstrdup(path);
    const char *parent, *name;
    split_last(copy, &parent, &name);
    _cleanup_close_ int pfd = wharf_mkdir_in_root(root_fd, parent, 0755, err);
    if (pfd < 0)
        return pfd;
    int f = openat(pfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (f < 0 && errno != EEXIST)
        return wharf_error_errno(err, errno, "create %s inside the root", path);
    if (f >= 0)
        close(f);
    fd = openat2_in_root(root_fd, path, O_PATH, 0);
    if (fd < 0)
        return wharf_error_errno(err, -fd, "open %s inside the root", path);
    return fd;
}

const char *wharf_fd_path(int fd, char buf[32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
    return buf;
}
