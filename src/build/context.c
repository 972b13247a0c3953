/* context.c — build contexts as tar streams: the client's side (a
 * directory minus what .dockerignore excludes) and the daemon's (unpacked
 * into a private directory, refusing entries that would land outside it).
 *
 * Like the docker CLI, entries carry owner 0:0 and names relative to the
 * context root; an excluded directory is not descended into unless an
 * exception pattern may bring back something under it. A Dockerfile from
 * outside the context travels as one more file, and its name is appended to
 * the .dockerignore sent along, so the daemon drops it from the context
 * once read.
 *
 * The daemon keeps the last few unpacked contexts, named by the sha256 of
 * their tar: an unchanged rebuild sends the same bytes and finds its files
 * already on disk (creating them was most of a cached build's time). They
 * are never changed once unpacked (the builder hides the files it must
 * drop instead of deleting them), so builds share them; a reference count
 * keeps an evicted one until its last build ends. */
#include "build.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

struct counting_sink {
    int fd;
    uint64_t bytes;
    int error;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
    struct counting_sink *s = data;
    int r = wharf_write_all(s->fd, buf, len);
    if (r < 0) {
        s->error = -r;
        archive_set_error(a, -r, "%s", strerror(-r));
        return -1;
    }
    s->bytes += len;
    return (la_ssize_t)len;
}

struct ctx_link {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct ctx_writer {
    struct archive *out;
    const char *dir;
    const struct build_ignore *ig;
    const char *extra_name;
    const char *ignore_text; /* .dockerignore with extra_name appended, or NULL */
    struct ctx_link *links;
    size_t n_links, a_links;
};

static int write_entry(struct ctx_writer *w, struct archive_entry *e, const char *rel,
                       wharf_error *err)
{
    if (archive_write_header(w->out, e) < ARCHIVE_WARN)
        return wharf_error_set(err, -EIO, "build context %s: %s: %s", w->dir, rel,
                               archive_error_string(w->out));
    return 0;
}

static int write_bytes(struct ctx_writer *w, const char *rel, const char *data, size_t len,
                       mode_t mode, time_t mtime, wharf_error *err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, rel);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, mtime, 0);
    int r = write_entry(w, e, rel, err);
    archive_entry_free(e);
    if (r == 0 && len > 0 && archive_write_data(w->out, data, len) != (la_ssize_t)len)
        r = wharf_error_set(err, -EIO, "build context %s: %s: %s", w->dir, rel,
                            archive_error_string(w->out));
    return r;
}

static int walk(struct ctx_writer *w, int dirfd, const char *prefix, wharf_error *err);

static int add_path(struct ctx_writer *w, int dirfd, const char *prefix, const char *name,
                    wharf_error *err)
{
    _cleanup_free_ char *rel = *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "build context: can't stat '%s/%s'", w->dir, rel);
    bool excluded = build_ignore_excludes(w->ig, rel);
    if (excluded && !(S_ISDIR(st.st_mode) && build_ignore_walk_excluded_dir(w->ig, rel)))
        return 0;
    if (S_ISSOCK(st.st_mode))
        return 0;
    if (w->extra_name && strcmp(rel, ".dockerignore") == 0)
        return 0; /* written with the extra name appended */
    if (S_ISDIR(st.st_mode)) {
        if (!excluded) {
            struct archive_entry *e = archive_entry_new();
            archive_entry_copy_stat(e, &st);
            archive_entry_set_pathname(e, rel);
            archive_entry_set_uid(e, 0);
            archive_entry_set_gid(e, 0);
            archive_entry_set_size(e, 0);
            int r = write_entry(w, e, rel, err);
            archive_entry_free(e);
            if (r < 0)
                return r;
        }
        _cleanup_close_ int sub =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return wharf_error_errno(err, errno, "build context: can't open '%s/%s'", w->dir, rel);
        return walk(w, sub, rel, err);
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_stat(e, &st);
    archive_entry_set_pathname(e, rel);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_nlink(e, 1);
    int r = 0;
    _cleanup_close_ int fd = -1;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
        if (n < 0) {
            r = wharf_error_errno(err, errno, "build context: readlink '%s/%s'", w->dir, rel);
            goto out;
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
        archive_entry_set_size(e, 0);
        r = write_entry(w, e, rel, err);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        archive_entry_set_size(e, 0);
        r = write_entry(w, e, rel, err);
        goto out;
    }
    if (st.st_nlink > 1) {
        for (size_t i = 0; i < w->n_links; i++)
            if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
                archive_entry_set_size(e, 0);
                archive_entry_set_hardlink(e, w->links[i].path);
                r = write_entry(w, e, rel, err);
                goto out;
            }
        if (w->n_links == w->a_links) {
            w->a_links = w->a_links ? 2 * w->a_links : 16;
            w->links = xrealloc(w->links, w->a_links * sizeof(*w->links));
        }
        w->links[w->n_links++] = (struct ctx_link){st.st_dev, st.st_ino, xstrdup(rel)};
    }
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        r = wharf_error_errno(err, errno, "build context: no permission to read from '%s/%s'",
                              w->dir, rel);
        goto out;
    }
    if ((r = write_entry(w, e, rel, err)) < 0)
        goto out;
    char buf[65536];
    for (int64_t left = st.st_size; left > 0;) {
        ssize_t n = read(fd, buf, sizeof(buf) < (uint64_t)left ? sizeof(buf) : (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? wharf_error_errno(err, errno, "build context: read '%s/%s'", w->dir, rel)
                      : wharf_error_set(err, -EIO, "build context: '%s/%s' shrank while read",
                                        w->dir, rel);
            goto out;
        }
        if (archive_write_data(w->out, buf, (size_t)n) != n) {
            r = wharf_error_set(err, -EIO, "build context %s: %s: %s", w->dir, rel,
                                archive_error_string(w->out));
            goto out;
        }
        left -= n;
    }
out:
    archive_entry_free(e);
    return r;
}

static int walk(struct ctx_writer *w, int dirfd, const char *prefix, wharf_error *err)
{
    int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        if (dup >= 0)
            close(dup);
        return wharf_error_errno(err, errno, "build context: read directory '%s/%s'", w->dir,
                                 prefix);
    }
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = add_path(w, dirfd, prefix, names[i], err);
        free(names[i]);
    }
    free(names);
    return r;
}

int build_context_write(const char *dir, const struct build_ignore *ig, const char *extra_name,
                        const char *extra, size_t extra_len, int fd, uint64_t *size,
                        wharf_error *err)
{
    _cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return wharf_error_errno(err, errno, "build context %s", dir);
    _cleanup_free_ char *ignore_text = NULL;
    if (extra_name) {
        _cleanup_free_ char *path = xasprintf("%s/.dockerignore", dir);
        char *old = NULL;
        size_t len = 0;
        wharf_error e = {0};
        if (wharf_read_file(path, &old, &len, &e) < 0)
            old = NULL;
        ignore_text = xasprintf("%s\n%s\n", old ? old : "", extra_name);
        free(old);
    }
    struct counting_sink sink = {.fd = fd};
    struct ctx_writer w = {.out = archive_write_new(),
                           .dir = dir,
                           .ig = ig,
                           .extra_name = extra_name,
                           .ignore_text = ignore_text};
    archive_write_set_format_pax_restricted(w.out);
    archive_write_add_filter_none(w.out);
    archive_write_set_bytes_in_last_block(w.out, 1);
    int r = 0;
    if (archive_write_open2(w.out, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
        r = wharf_error_set(err, -EIO, "build context %s: %s", dir, archive_error_string(w.out));
    if (r == 0)
        r = walk(&w, root, "", err);
    time_t now = time(NULL);
    if (r == 0 && extra_name)
        r = write_bytes(&w, ".dockerignore", ignore_text, strlen(ignore_text), 0600, now, err);
    if (r == 0 && extra_name)
        r = write_bytes(&w, extra_name, extra, extra_len, 0600, now, err);
    if (r == 0 && archive_write_close(w.out) != ARCHIVE_OK)
        r = wharf_error_set(err, sink.error ? -sink.error : -EIO, "build context %s: %s", dir,
                            archive_error_string(w.out));
    archive_write_free(w.out);
    for (size_t i = 0; i < w.n_links; i++)
        free(w.links[i].path);
    free(w.links);
    if (r == 0 && size)
        *size = sink.bytes;
    return r;
}

/* ---------------------------------------------------------------- extract */

/* A tar member name as a relative path that stays inside the context
 * ("./a/b" -> "a/b"); NULL for the root itself; -EPERM for escapes. */
static int member_path(const char *name, char **out)
{
    *out = NULL;
    if (name[0] == '/')
        return -EPERM;
    strbuf sb = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(name);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            strbuf_release(&sb);
            return -EPERM;
        }
        if (sb.len)
            strbuf_addch(&sb, '/');
        strbuf_addstr(&sb, c);
    }
    if (sb.len)
        *out = strbuf_detach(&sb);
    return 0;
}

/* The unpacker keeps the parent directory of the last entry open: a
 * context comes in walk order, so most entries need no path walk at all. */
struct dir_time {
    char *rel;
    struct timespec ts[2];
};

struct extractor {
    int root;
    char *cached_rel; /* the parent the cached fd is, "" for the root */
    int cached_fd;
    struct dir_time *dirs;
    size_t n_dirs, a_dirs;
};

/* An O_PATH fd of directory rel (created when missing), reached one
 * component at a time without following symlinks. */
static int walk_dirs(int root, const char *rel, bool create)
{
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
    if (cur < 0 || !*rel)
        return cur < 0 ? -errno : cur;
    _cleanup_free_ char *copy = xstrdup(rel);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(cur);
                return -e;
            }
            next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        close(cur);
        if (next < 0)
            return e == ENOTDIR || e == ELOOP ? -EPERM : -e;
        cur = next;
    }
    return cur;
}

static int parent_of(struct extractor *x, const char *rel)
{
    if (x->cached_rel && strcmp(x->cached_rel, rel) == 0)
        return x->cached_fd;
    if (x->cached_rel) {
        close(x->cached_fd);
        free(x->cached_rel);
        x->cached_rel = NULL;
    }
    int fd = walk_dirs(x->root, rel, true);
    if (fd < 0)
        return fd;
    x->cached_rel = xstrdup(rel);
    x->cached_fd = fd;
    return fd;
}

/* Clears the way for a new entry named base in parent: a directory stays
 * when a directory comes (keep_dir), anything else goes. */
static int make_room(int parent, const char *base, bool keep_dir)
{
    struct stat st;
    if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 1;
        char buf[32];
        _cleanup_free_ char *path = xasprintf("%s/%s", wharf_fd_path(parent, buf), base);
        wharf_error e = {0};
        return wharf_rm_rf(path, &e);
    }
    return unlinkat(parent, base, 0) < 0 ? -errno : 0;
}

static int extract_entry(struct extractor *x, struct archive *in, struct archive_entry *e,
                         const char *name, const char *rel, wharf_error *err)
{
    const char *slash = strrchr(rel, '/');
    _cleanup_free_ char *dir = slash ? xasprintf("%.*s", (int)(slash - rel), rel) : xstrdup("");
    const char *base = slash ? slash + 1 : rel;
    int parent = parent_of(x, dir);
    if (parent < 0)
        return wharf_error_errno(err, -parent, "build context: entry \"%s\"", name);
    mode_t perm = archive_entry_perm(e) & 07777;
    struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                             {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    const char *link = archive_entry_hardlink(e);
    int type = (int)archive_entry_filetype(e);
    int r;
    if (link) {
        _cleanup_free_ char *lrel = NULL;
        if (member_path(link, &lrel) < 0 || !lrel)
            return wharf_error_set(
                err, -EPERM, "build context: hard link \"%s\" points outside the context", name);
        const char *ls = strrchr(lrel, '/');
        _cleanup_free_ char *ldir = ls ? xasprintf("%.*s", (int)(ls - lrel), lrel) : xstrdup("");
        _cleanup_close_ int lparent = walk_dirs(x->root, ldir, false);
        if (lparent < 0 || (r = make_room(parent, base, false)) < 0 ||
            linkat(lparent, ls ? ls + 1 : lrel, parent, base, 0) < 0)
            return wharf_error_errno(err, lparent < 0 ? -lparent : errno,
                                     "build context: hard link \"%s\" to \"%s\"", name, link);
        return 0;
    }
    switch (type) {
    case AE_IFDIR:
        if ((r = make_room(parent, base, true)) < 0 ||
            (r == 0 && mkdirat(parent, base, 0700) < 0) || fchmodat(parent, base, perm, 0) < 0)
            return wharf_error_errno(err, r < 0 ? -r : errno, "build context: directory \"%s\"",
                                     name);
        if (x->n_dirs == x->a_dirs) {
            x->a_dirs = x->a_dirs ? 2 * x->a_dirs : 32;
            x->dirs = xrealloc(x->dirs, x->a_dirs * sizeof(*x->dirs));
        }
        x->dirs[x->n_dirs].rel = xstrdup(rel);
        memcpy(x->dirs[x->n_dirs].ts, ts, sizeof(ts));
        x->n_dirs++;
        return 0;
    case AE_IFREG: {
        if ((r = make_room(parent, base, false)) < 0)
            return wharf_error_errno(err, -r, "build context: file \"%s\"", name);
        _cleanup_close_ int fd =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return wharf_error_errno(err, errno, "build context: file \"%s\"", name);
        for (;;) {
            const void *buf;
            size_t size;
            la_int64_t off;
            int ar = archive_read_data_block(in, &buf, &size, &off);
            if (ar == ARCHIVE_EOF)
                break;
            if (ar < ARCHIVE_WARN)
                return wharf_error_set(err, -EINVAL, "failed to read the build context: %s",
                                       archive_error_string(in));
            for (const char *p = buf; size > 0;) {
                ssize_t n = pwrite(fd, p, size, off);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    return wharf_error_errno(err, errno, "build context: write \"%s\"", name);
                p += n;
                off += n;
                size -= (size_t)n;
            }
        }
        if (ftruncate(fd, archive_entry_size(e)) < 0 || fchmod(fd, perm) < 0 ||
            futimens(fd, ts) < 0)
            return wharf_error_errno(err, errno, "build context: file \"%s\"", name);
        return 0;
    }
    case AE_IFLNK:
        if ((r = make_room(parent, base, false)) < 0 ||
            symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", parent, base) < 0)
            return wharf_error_errno(err, r < 0 ? -r : errno, "build context: symlink \"%s\"",
                                     name);
        utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
    case AE_IFIFO:
    case AE_IFCHR:
    case AE_IFBLK: {
        dev_t dev =
            type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if ((r = make_room(parent, base, false)) < 0 ||
            mknodat(parent, base, (mode_t)type | perm, dev) < 0)
            return wharf_error_errno(err, r < 0 ? -r : errno, "build context: \"%s\"", name);
        return 0;
    }
    default:
        return 0; /* sockets carry nothing */
    }
}

int build_context_extract(int fd, const char *dir, wharf_error *err)
{
    struct extractor x = {.root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), .cached_fd = -1};
    if (x.root < 0)
        return wharf_error_errno(err, errno, "build context directory %s", dir);
    struct archive *in = archive_read_new();
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    archive_read_support_format_empty(in);
    int r = 0;
    if (archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EINVAL, "failed to read the build context: %s",
                            archive_error_string(in));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int ar = archive_read_next_header(in, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EINVAL, "failed to read the build context: %s",
                                archive_error_string(in));
            goto out;
        }
        _cleanup_free_ char *rel = NULL;
        const char *name = archive_entry_pathname(e);
        if (!name || member_path(name, &rel) < 0) {
            r = wharf_error_set(err, -EPERM, "build context: entry \"%s\" escapes the context",
                                name ? name : "");
            goto out;
        }
        if (rel && (r = extract_entry(&x, in, e, name, rel, err)) < 0)
            goto out;
    }
    /* directory times last: their entries changed them */
    for (size_t i = x.n_dirs; i-- > 0;) {
        const char *rel = x.dirs[i].rel;
        const char *slash = strrchr(rel, '/');
        _cleanup_free_ char *d = slash ? xasprintf("%.*s", (int)(slash - rel), rel) : xstrdup("");
        _cleanup_close_ int parent = walk_dirs(x.root, d, false);
        if (parent >= 0)
            utimensat(parent, slash ? slash + 1 : rel, x.dirs[i].ts, AT_SYMLINK_NOFOLLOW);
    }
out:
    archive_read_free(in);
    if (x.cached_rel) {
        close(x.cached_fd);
        free(x.cached_rel);
    }
    for (size_t i = 0; i < x.n_dirs; i++)
        free(x.dirs[i].rel);
    free(x.dirs);
    close(x.root);
    return r;
}

/* ---------------------------------------------------------------- shared contexts */

#define CONTEXT_KEEP 8                /* unpacked contexts kept for reuse */
#define CONTEXT_CACHE_MAX (64u << 20) /* larger ones are unpacked per build */

struct build_context {
    char *path;
    char *key; /* the cache entry's name, or NULL for a private copy */
};

/* The contexts builds of this process are using: key -> count. */
static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *key;
    unsigned refs;
} * context_refs;
static size_t n_context_refs;

static unsigned *context_ref_slot(const char *key, bool add)
{
    for (size_t i = 0; i < n_context_refs; i++)
        if (strcmp(context_refs[i].key, key) == 0)
            return &context_refs[i].refs;
    if (!add)
        return NULL;
    context_refs = xrealloc(context_refs, (n_context_refs + 1) * sizeof(*context_refs));
    context_refs[n_context_refs].key = xstrdup(key);
    context_refs[n_context_refs].refs = 0;
    return &context_refs[n_context_refs++].refs;
}

struct cached_dir {
    char *name;
    struct timespec mtime;
};

static int newest_first(const void *a, const void *b)
{
    const struct cached_dir *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Keeps the CONTEXT_KEEP most recently used, and any in use. Called with
 * context_lock held. */
static void evict_contexts(const char *cache_dir)
{
    DIR *d = opendir(cache_dir);
    if (!d)
        return;
    struct cached_dir *dirs = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (strlen(de->d_name) != 64 || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
            continue;
        dirs = xrealloc(dirs, (n + 1) * sizeof(*dirs));
        dirs[n++] = (struct cached_dir){xstrdup(de->d_name), st.st_mtim};
    }
    closedir(d);
    if (n)
        qsort(dirs, n, sizeof(*dirs), newest_first);
    for (size_t i = 0; i < n; i++) {
        unsigned *refs = context_ref_slot(dirs[i].name, false);
        if (i >= CONTEXT_KEEP && (!refs || *refs == 0)) {
            _cleanup_free_ char *path = xasprintf("%s/%s", cache_dir, dirs[i].name);
            wharf_error e = {0};
            wharf_rm_rf(path, &e);
        }
        free(dirs[i].name);
    }
    free(dirs);
}

/* sha256 and size of everything fd holds, read from the start. */
static int digest_fd(int fd, char hex[65], uint64_t *size, wharf_error *err)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    *size = 0;
    char buf[65536];
    for (off_t off = 0;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return wharf_error_errno(err, errno, "read the build context");
        if (n == 0)
            break;
        sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
        off += n;
        *size += (uint64_t)n;
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static int unpack_fresh(int fd, const char *cache_dir, char **path, wharf_error *err)
{
    *path = xasprintf("%s/.unpack-XXXXXX", cache_dir);
    if (!mkdtemp(*path)) {
        int e = errno;
        free(*path);
        *path = NULL;
        return wharf_error_errno(err, e, "create a directory for the build context in %s",
                                 cache_dir);
    }
    if (lseek(fd, 0, SEEK_SET) < 0 || build_context_extract(fd, *path, err) < 0) {
        int r = err->code ? err->code : -errno;
        wharf_error e = {0};
        wharf_rm_rf(*path, &e);
        free(*path);
        *path = NULL;
        return r;
    }
    return 0;
}

int build_context_open(int fd, const char *cache_dir, struct build_context **out, wharf_error *err)
{
    *out = NULL;
    int r = wharf_mkdir_p(cache_dir, 0700, err);
    if (r < 0)
        return r;
    char key[65];
    uint64_t size;
    if ((r = digest_fd(fd, key, &size, err)) < 0)
        return r;
    struct build_context *c = xcalloc(1, sizeof(*c));
    if (size > CONTEXT_CACHE_MAX) {
        if ((r = unpack_fresh(fd, cache_dir, &c->path, err)) < 0) {
            free(c);
            return r;
        }
        *out = c;
        return 0;
    }
    c->key = xstrdup(key);
    c->path = xasprintf("%s/%s", cache_dir, key);
    pthread_mutex_lock(&context_lock);
    unsigned *refs = context_ref_slot(key, true);
    (*refs)++;
    bool have = access(c->path, F_OK) == 0;
    if (have)
        utimensat(AT_FDCWD, c->path, NULL, 0); /* most recently used */
    pthread_mutex_unlock(&context_lock);
    if (have) {
        *out = c;
        return 0;
    }
    /* unpacked outside the lock: other builds go on meanwhile */
    _cleanup_free_ char *fresh = NULL;
    r = unpack_fresh(fd, cache_dir, &fresh, err);
    pthread_mutex_lock(&context_lock);
    if (r == 0 && rename(fresh, c->path) < 0) {
        /* a concurrent build of the same bytes got there first */
        wharf_error e = {0};
        wharf_rm_rf(fresh, &e);
        if (access(c->path, F_OK) < 0)
            r = wharf_error_errno(err, errno, "build context %s", c->path);
    }
    if (r < 0)
        (*context_ref_slot(key, true))--;
    else
        evict_contexts(cache_dir);
    pthread_mutex_unlock(&context_lock);
    if (r < 0) {
        build_context_close(c);
        return r;
    }
    *out = c;
    return 0;
}

const char *build_context_path(const struct build_context *c)
{
    return c->path;
}

void build_context_close(struct build_context *c)
{
    if (!c)
        return;
    if (c->key) {
        pthread_mutex_lock(&context_lock);
        unsigned *refs = context_ref_slot(c->key, false);
        if (refs && *refs > 0)
            (*refs)--;
        _cleanup_free_ char *cache_dir = xstrdup(c->path);
        char *slash = strrchr(cache_dir, '/');
        if (slash)
            *slash = '\0';
        evict_contexts(cache_dir);
        pthread_mutex_unlock(&context_lock);
    } else if (c->path) {
        wharf_error e = {0};
        wharf_rm_rf(c->path, &e);
    }
    free(c->key);
    free(c->path);
    free(c);
}
