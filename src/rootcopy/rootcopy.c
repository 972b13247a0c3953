/* rootcopy.c — paths inside a root as dockerd resolves them, their stat in
 * Docker's shape, and tar streams of them (rootcopy.h). */
#include "rootcopy.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rootcopy_internal.h"

/* ---------------------------------------------------------------- paths */

char *rootcopy_clean(const char *p)
{
    /* Go's filepath.Clean of "/" + p: no "//", ".", ".." or trailing "/". */
    strbuf out = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(p);
    size_t *starts = xcalloc(strlen(p) + 1, sizeof(size_t));
    size_t depth = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (depth > 0) {
                out.len = starts[--depth];
                out.buf[out.len] = '\0';
            }
            continue;
        }
        starts[depth++] = out.len;
        strbuf_addf(&out, "/%s", c);
    }
    free(starts);
    if (out.len == 0)
        strbuf_addch(&out, '/');
    return strbuf_detach(&out);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Go's filepath.Base(p) == "." for the original path. */
static bool specifies_current_dir(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    return (n == 1 && p[0] == '.') || (n >= 2 && p[n - 1] == '.' && p[n - 2] == '/');
}

char *rootcopy_abs_path(const char *path)
{
    /* dockerd: PreserveTrailingDotOrSeparator(Join("/", path), path) */
    char *clean = rootcopy_clean(path);
    strbuf out = STRBUF_INIT;
    strbuf_addstr(&out, clean);
    free(clean);
    if (specifies_current_dir(path) && !specifies_current_dir(out.buf)) {
        if (!ends_with(out.buf, "/"))
            strbuf_addch(&out, '/');
        strbuf_addch(&out, '.');
    }
    if (!ends_with(out.buf, "/") && ends_with(path, "/"))
        strbuf_addch(&out, '/');
    return strbuf_detach(&out);
}

char *rootcopy_base(const char *p)
{
    /* Go's filepath.Base */
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0)
        return xstrdup(*p ? "/" : ".");
    size_t start = n;
    while (start > 0 && p[start - 1] != '/')
        start--;
    return xasprintf("%.*s", (int)(n - start), p + start);
}

void rootcopy_split(const char *abs, char **dir, char **base)
{
    /* Go's filepath.Split: the directory keeps its trailing slash */
    const char *slash = strrchr(abs, '/');
    *dir = xasprintf("%.*s", (int)(slash - abs + 1), abs);
    *base = xstrdup(slash + 1);
}

char *rootcopy_resolve(int root_fd, const char *path)
{
    /* Components still to walk, in order; links put their target in front. */
    strbuf todo = STRBUF_INIT, done = STRBUF_INIT;
    strbuf_addstr(&todo, path);
    int links = 0;
    char *result = NULL;
    while (todo.len) {
        size_t len = strcspn(todo.buf, "/");
        _cleanup_free_ char *comp = xasprintf("%.*s", (int)len, todo.buf);
        size_t skip = len + (todo.buf[len] == '/');
        memmove(todo.buf, todo.buf + skip, todo.len - skip + 1);
        todo.len -= skip;
        if (!*comp || strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            char *slash = strrchr(done.buf ? done.buf : "", '/');
            if (slash) {
                done.len = (size_t)(slash - done.buf);
                done.buf[done.len] = '\0';
            }
            continue;
        }
        char target[4096];
        ssize_t n = -1;
        wharf_error ignored = {0};
        int dfd = wharf_open_in_root(root_fd, done.len ? done.buf : "/", O_PATH | O_DIRECTORY, 0,
                                     &ignored);
        if (dfd >= 0) {
            n = readlinkat(dfd, comp, target, sizeof(target) - 1);
            close(dfd);
        }
        if (n < 0) { /* not a link, or nothing there: taken as it is */
            strbuf_addf(&done, "/%s", comp);
            continue;
        }
        if (++links > 255)
            goto out;
        target[n] = '\0';
        if (target[0] == '/')
            strbuf_reset(&done);
        strbuf rest = STRBUF_INIT;
        strbuf_addf(&rest, "%s/%s", target, strbuf_str(&todo));
        strbuf_release(&todo);
        todo = rest;
    }
    result = xstrdup(done.len ? done.buf : "/");
out:
    strbuf_release(&todo);
    strbuf_release(&done);
    return result;
}

/* ---------------------------------------------------------------- stat */

/* dockerd's message for a path it cannot stat: Go's lower-case errno text. */
static int lstat_error(wharf_error *err, int errnum, const char *abs)
{
    char text[128];
    snprintf(text, sizeof(text), "%s", strerror(errnum));
    text[0] = (char)tolower((unsigned char)text[0]);
    return wharf_error_set(err, -errnum, "lstat %s: %s", abs, text);
}

void rootcopy_stat_release(struct rootcopy_stat *st)
{
    free(st->name);
    free(st->link_target);
    memset(st, 0, sizeof(*st));
}

int rootcopy_open_parent(int root_fd, const char *abs, char **base, wharf_error *err)
{
    _cleanup_free_ char *dir = NULL;
    rootcopy_split(abs, &dir, base);
    int fd = wharf_open_in_root(root_fd, dir, O_PATH | O_DIRECTORY, 0, err);
    if (fd < 0) {
        free(*base);
        *base = NULL;
        wharf_error_clear(err);
        return lstat_error(err, -fd, abs);
    }
    return fd;
}

int rootcopy_stat_path(int root_fd, const char *path, struct rootcopy_stat *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *abs = rootcopy_abs_path(path);
    _cleanup_free_ char *base = NULL;
    _cleanup_close_ int dfd = rootcopy_open_parent(root_fd, abs, &base, err);
    if (dfd < 0)
        return dfd;
    struct stat st;
    int r = *base && strcmp(base, ".") != 0 ? fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW)
                                            : fstat(dfd, &st);
    if (r < 0)
        return lstat_error(err, errno, abs);
    out->name = rootcopy_base(abs);
    out->size = st.st_size;
    out->mode = st.st_mode;
    out->mtime = st.st_mtim;
    if (S_ISLNK(st.st_mode)) {
        out->link_target = rootcopy_resolve(root_fd, abs);
        if (!out->link_target) {
            rootcopy_stat_release(out);
            return wharf_error_set(err, -ELOOP, "lstat %s: too many levels of symbolic links", abs);
        }
    }
    return 0;
}

/* Go's os.FileMode type bits */
#define GO_DIR (1u << 31)
#define GO_SYMLINK (1u << 27)
#define GO_DEVICE (1u << 26)
#define GO_PIPE (1u << 25)
#define GO_SOCKET (1u << 24)
#define GO_SETUID (1u << 23)
#define GO_SETGID (1u << 22)
#define GO_CHARDEV (1u << 21)
#define GO_STICKY (1u << 20)

uint32_t rootcopy_go_mode(mode_t mode)
{
    uint32_t m = mode & 0777;
    switch (mode & S_IFMT) {
    case S_IFDIR:
        m |= GO_DIR;
        break;
    case S_IFLNK:
        m |= GO_SYMLINK;
        break;
    case S_IFBLK:
        m |= GO_DEVICE;
        break;
    case S_IFCHR:
        m |= GO_DEVICE | GO_CHARDEV;
        break;
    case S_IFIFO:
        m |= GO_PIPE;
        break;
    case S_IFSOCK:
        m |= GO_SOCKET;
        break;
    default:
        break;
    }
    if (mode & S_ISUID)
        m |= GO_SETUID;
    if (mode & S_ISGID)
        m |= GO_SETGID;
    if (mode & S_ISVTX)
        m |= GO_STICKY;
    return m;
}

mode_t rootcopy_unix_mode(uint32_t g)
{
    mode_t m = g & 0777;
    if (g & GO_DIR)
        m |= S_IFDIR;
    else if (g & GO_SYMLINK)
        m |= S_IFLNK;
    else if ((g & GO_DEVICE) && (g & GO_CHARDEV))
        m |= S_IFCHR;
    else if (g & GO_DEVICE)
        m |= S_IFBLK;
    else if (g & GO_PIPE)
        m |= S_IFIFO;
    else if (g & GO_SOCKET)
        m |= S_IFSOCK;
    else
        m |= S_IFREG;
    if (g & GO_SETUID)
        m |= S_ISUID;
    if (g & GO_SETGID)
        m |= S_ISGID;
    if (g & GO_STICKY)
        m |= S_ISVTX;
    return m;
}

/* Go's time.Time in JSON: RFC 3339 with the fraction's trailing zeros cut. */
static char *go_time(struct timespec t)
{
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    if (t.tv_nsec) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09ld", t.tv_nsec);
        size_t k = strlen(frac);
        while (k > 0 && frac[k - 1] == '0')
            frac[--k] = '\0';
        snprintf(buf + n, sizeof(buf) - n, ".%sZ", frac);
    } else {
        snprintf(buf + n, sizeof(buf) - n, "Z");
    }
    return xstrdup(buf);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const unsigned char *in, size_t len)
{
    strbuf out = STRBUF_INIT;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        strbuf_addch(&out, b64[(v >> 18) & 63]);
        strbuf_addch(&out, b64[(v >> 12) & 63]);
        strbuf_addch(&out, i + 1 < len ? b64[(v >> 6) & 63] : '=');
        strbuf_addch(&out, i + 2 < len ? b64[v & 63] : '=');
    }
    return strbuf_detach(&out);
}

/* Standard base64 (padding optional); NULL when malformed. */
static char *base64_decode(const char *in, size_t *len)
{
    strbuf out = STRBUF_INIT;
    unsigned v = 0;
    int bits = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        const char *at = strchr(b64, *p);
        if (!at || !*p) {
            strbuf_release(&out);
            return NULL;
        }
        v = (v << 6) | (unsigned)(at - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(&out, (char)((v >> bits) & 0xff));
        }
    }
    *len = out.len;
    strbuf_addstr(&out, "");
    return strbuf_detach(&out);
}

char *rootcopy_stat_header(const struct rootcopy_stat *st)
{
    _cleanup_free_ char *mtime = go_time(st->mtime);
    json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", st->name ? st->name : "", "size",
                          (json_int_t)st->size, "mode", (json_int_t)rootcopy_go_mode(st->mode),
                          "mtime", mtime, "linkTarget", st->link_target ? st->link_target : "");
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    char *enc = base64_encode((const unsigned char *)text, strlen(text));
    free(text);
    return enc;
}

int rootcopy_stat_from_header(const char *header, struct rootcopy_stat *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    _cleanup_free_ char *text = header ? base64_decode(header, &len) : NULL;
    json_error_t je;
    _cleanup_json_ json_t *j = text ? json_loadb(text, len, 0, &je) : NULL;
    json_t *name = json_object_get(j, "name"), *mode = json_object_get(j, "mode");
    if (!json_is_string(name) || !json_is_integer(mode))
        return wharf_error_set(err, -EINVAL, "a malformed container path stat header");
    out->name = xstrdup(json_string_value(name));
    out->size = json_integer_value(json_object_get(j, "size"));
    out->mode = rootcopy_unix_mode((uint32_t)json_integer_value(mode));
    const char *link = json_string_value(json_object_get(j, "linkTarget"));
    out->link_target = link && *link ? xstrdup(link) : NULL;
    return 0;
}

/* ---------------------------------------------------------------- tar */

struct tar {
    struct archive *a;
    json_t *links; /* "dev:ino" -> the name it was first written as */
    wharf_error *err;
    char buf[65536];
};

static int tar_fail(struct tar *t, const char *what)
{
    int e = archive_errno(t->a);
    if (e == EPIPE)
        return wharf_error_set(t->err, -EPIPE, "%s: the reader went away", what);
    return wharf_error_set(t->err, -EIO, "%s: %s", what, archive_error_string(t->a));
}

/* Filesystems whose files are not files: their mount points go into the
 * tar as empty directories (a running container's /proc, /sys, ...). */
static bool pseudo_fs(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return false;
    switch ((unsigned long)sf.f_type) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case DEBUGFS_MAGIC:
    case SECURITYFS_MAGIC:
    case BPF_FS_MAGIC:
    case TRACEFS_MAGIC:
    case 0x19800202: /* mqueue */
        return true;
    default:
        return false;
    }
}

static char *child_name(const char *parent, const char *name)
{
    return ends_with(parent, "/") ? xasprintf("%s%s", parent, name)
                                  : xasprintf("%s/%s", parent, name);
}

static int add_entry(struct tar *t, int dfd, const char *name, const char *tar_name,
                     const struct stat *st, int depth);

static int add_children(struct tar *t, int dirfd, const char *tar_name, int depth)
{
    if (depth > 512)
        return wharf_error_set(t->err, -ELOOP, "%s: directories nested too deep", tar_name);
    int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return wharf_error_errno(t->err, errno, "read directory %s", tar_name);
    }
    char **names = NULL;
    size_t n = wharf_dir_names_sorted(d, &names);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (r == 0 && fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
            _cleanup_free_ char *child = child_name(tar_name, names[i]);
            r = add_entry(t, dirfd, names[i], child, &st, depth + 1);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

static int add_entry(struct tar *t, int dfd, const char *name, const char *tar_name,
                     const struct stat *st, int depth)
{
    if (S_ISSOCK(st->st_mode))
        return 0; /* tar cannot hold them; dockerd skips them too */
    struct archive_entry *e = archive_entry_new();
    _cleanup_free_ char *path = S_ISDIR(st->st_mode) && !ends_with(tar_name, "/")
                                    ? xasprintf("%s/", tar_name)
                                    : xstrdup(tar_name);
    archive_entry_set_pathname(e, path);
    archive_entry_set_mode(e, st->st_mode);
    archive_entry_set_uid(e, st->st_uid);
    archive_entry_set_gid(e, st->st_gid);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    _cleanup_close_ int fd = -1;
    int r = 0;
    if (S_ISLNK(st->st_mode)) {
        char target[4096];
        ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
        if (n < 0) {
            r = wharf_error_errno(t->err, errno, "readlink %s", tar_name);
            goto out;
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
    } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        archive_entry_set_rdevmajor(e, major(st->st_rdev));
        archive_entry_set_rdevminor(e, minor(st->st_rdev));
    } else if (S_ISREG(st->st_mode)) {
        char key[64];
        snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino);
        const char *first = json_string_value(json_object_get(t->links, key));
        if (st->st_nlink > 1 && first) {
            archive_entry_set_hardlink(e, first);
            archive_entry_set_size(e, 0);
        } else {
            if (st->st_nlink > 1)
                json_object_set_new(t->links, key, json_string(tar_name));
            fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                r = wharf_error_errno(t->err, errno, "open %s", tar_name);
                goto out;
            }
            archive_entry_set_size(e, st->st_size);
            char cap[1024];
            ssize_t cn = fgetxattr(fd, "security.capability", cap, sizeof(cap));
            if (cn > 0)
                archive_entry_xattr_add_entry(e, "security.capability", cap, (size_t)cn);
        }
    }
    if (archive_write_header(t->a, e) < ARCHIVE_WARN) {
        r = tar_fail(t, tar_name);
        goto out;
    }
    if (fd >= 0) {
        int64_t left = st->st_size;
        while (left > 0) {
            ssize_t n = read(fd, t->buf, sizeof(t->buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                r = wharf_error_errno(t->err, errno, "read %s", tar_name);
                goto out;
            }
            if (n == 0)
                break; /* shrank meanwhile: libarchive pads the entry */
            if (n > left)
                n = (ssize_t)left;
            if (archive_write_data(t->a, t->buf, (size_t)n) < 0) {
                r = tar_fail(t, tar_name);
                goto out;
            }
            left -= n;
        }
    }
    if (S_ISDIR(st->st_mode)) {
        _cleanup_close_ int sub =
            openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            r = wharf_error_errno(t->err, errno, "open directory %s", tar_name);
            goto out;
        }
        if (!pseudo_fs(sub))
            r = add_children(t, sub, tar_name, depth);
    }
out:
    archive_entry_free(e);
    return r;
}

int rootcopy_tar(int root_fd, const char *path, const char *name, int fd, int64_t *bytes,
                 wharf_error *err)
{
    if (bytes)
        *bytes = 0;
    _cleanup_free_ char *abs = rootcopy_abs_path(path);
    _cleanup_free_ char *base = NULL;
    _cleanup_close_ int dfd = rootcopy_open_parent(root_fd, abs, &base, err);
    if (dfd < 0)
        return dfd;
    /* "dir/" and "dir/." are the directory itself: stat it through its fd */
    bool self = !*base || strcmp(base, ".") == 0;
    struct stat st;
    if ((self ? fstat(dfd, &st) : fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW)) < 0)
        return lstat_error(err, errno, abs);
    _cleanup_free_ char *top = name ? xstrdup(name) : rootcopy_base(abs);
    struct tar t = {.a = archive_write_new(), .links = json_object(), .err = err};
    archive_write_set_format_pax_restricted(t.a);
    archive_write_add_filter_none(t.a);
    archive_write_set_bytes_in_last_block(t.a, 1);
    int r = 0;
    if (archive_write_open_fd(t.a, fd) != ARCHIVE_OK)
        r = tar_fail(&t, "tar");
    /* dfd is an O_PATH fd: "." opened from it reads the directory itself */
    if (r == 0 && self) {
        _cleanup_close_ int dir = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) {
            r = wharf_error_errno(err, errno, "open directory %s", abs);
        } else {
            /* the directory's own entry, then what is in it */
            struct archive_entry *e = archive_entry_new();
            _cleanup_free_ char *p = ends_with(top, "/") ? xstrdup(top) : xasprintf("%s/", top);
            archive_entry_set_pathname(e, p);
            archive_entry_set_mode(e, st.st_mode);
            archive_entry_set_uid(e, st.st_uid);
            archive_entry_set_gid(e, st.st_gid);
            archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            if (archive_write_header(t.a, e) < ARCHIVE_WARN)
                r = tar_fail(&t, top);
            archive_entry_free(e);
            if (r == 0 && !pseudo_fs(dir))
                r = add_children(&t, dir, top, 0);
        }
    } else if (r == 0) {
        r = add_entry(&t, dfd, base, top, &st, 0);
    }
    if (r == 0 && archive_write_close(t.a) != ARCHIVE_OK)
        r = tar_fail(&t, "tar");
    if (bytes)
        *bytes = archive_filter_bytes(t.a, -1);
    archive_write_free(t.a);
    json_decref(t.links);
    return r;
}
