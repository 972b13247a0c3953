/*
 * rootfs.c — builds the container's filesystem view inside its own mount
 * namespace: root propagation, the self-bind of the rootfs, every entry of
 * `mounts` (including the cgroup v1/v2 emulation), device nodes and the /dev
 * symlinks, pivot_root (or MS_MOVE + chroot), and afterwards readonlyPaths,
 * maskedPaths, a read-only root and the final rootfsPropagation.
 *
 * Why the indirections: a bundle or an image is untrusted, so every
 * destination is opened with openat2(RESOLVE_IN_ROOT) through
 * wharf_mkdir_in_root/wharf_touch_in_root and the mount(2) target is the
 * resulting /proc/self/fd/N, never the path string; a symlink in the image
 * therefore lands inside the rootfs. After pivot_root the root *is* the
 * rootfs, so the phase-2 helpers use plain paths (symlinks cannot leave it,
 * and /proc may not even be mounted there).
 */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define PROPAGATION_MASK (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define ATIME_MASK (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
/* Flags that only mean something on the first mount(2) call, not on a remount. */
#define MOUNT_ONLY_FLAGS (MS_BIND | MS_REC | MS_REMOUNT)

/* ------------------------------------------------------------ options */

struct flag_name {
    const char *name;
    bool clear; /* the option removes the flag ("rw", "suid", ...) */
    unsigned long flag;
};

static const struct flag_name mount_flag_names[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

static const struct flag_name propagation_names[] = {
    {"private", false, MS_PRIVATE},       {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},         {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},           {"rslave", false, MS_SLAVE | MS_REC},
    {"unbindable", false, MS_UNBINDABLE}, {"runbindable", false, MS_UNBINDABLE | MS_REC},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct flag_name *lookup_flag(const struct flag_name *table, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static bool parse_propagation(const char *s, unsigned long *out)
{
    const struct flag_name *f = lookup_flag(propagation_names, ARRAY_SIZE(propagation_names), s);
    if (!f)
        return false;
    *out = f->flag;
    return true;
}

/* One entry of `mounts`, with its options split into what mount(2) needs. */
struct spec_mount {
    size_t index;
    const char *destination;
    const char *type;   /* NULL when absent */
    const char *source; /* NULL when absent */
    unsigned long flags;
    unsigned long propagation; /* applied by a second mount(2) call */
    bool bind;
    strbuf data; /* the filesystem-specific options, comma-joined */
};

static void spec_mount_release(struct spec_mount *m)
{
    strbuf_release(&m->data);
}

static void parse_options(struct spec_mount *m, const char **options)
{
    for (size_t i = 0; options && options[i]; i++) {
        const char *o = options[i];
        const struct flag_name *f;
        if ((f = lookup_flag(mount_flag_names, ARRAY_SIZE(mount_flag_names), o))) {
            if (f->clear)
                m->flags &= ~f->flag;
            else
                m->flags |= f->flag;
        } else if ((f = lookup_flag(propagation_names, ARRAY_SIZE(propagation_names), o))) {
            m->propagation |= f->flag;
        } else if (strcmp(o, "tmpcopyup") == 0) {
            /* Copy-up of the image's content into a tmpfs is an optional
             * crun/runc extension; an empty tmpfs is still correct. */
        } else {
            if (m->data.len)
                strbuf_addch(&m->data, ',');
            strbuf_addstr(&m->data, o);
        }
    }
    if (m->type && strcmp(m->type, "bind") == 0)
        m->flags |= MS_BIND;
    m->bind = (m->flags & MS_BIND) != 0;
}

/* Reads mounts[i]; on success *m must be released by the caller. */
static int read_spec_mount(json_t *entry, size_t i, struct spec_mount *m, wharf_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "mounts[%zu]", i);
    *m = (struct spec_mount){.index = i, .data = STRBUF_INIT};
    if (!json_is_object(entry))
        return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
    int r = wjson_string(entry, where, "destination", true, &m->destination, err);
    if (r < 0)
        return r;
    if ((r = wjson_string(entry, where, "type", false, &m->type, err)) < 0)
        return r;
    if ((r = wjson_string(entry, where, "source", false, &m->source, err)) < 0)
        return r;
    _cleanup_free_ const char **options = NULL;
    if ((r = wjson_string_array(entry, where, "options", false, &options, NULL, err)) < 0)
        return r;
    parse_options(m, options);
    return 0;
}

/* A relative path from the spec is relative to the bundle; returns malloc'd. */
static char *bundle_path(const char *bundle, const char *path)
{
    if (path[0] == '/' || !bundle)
        return xstrdup(path);
    return xasprintf("%s/%s", bundle, path);
}

/* "/dev/" and "//dev/." both mean /dev: collapses slashes and "." parts. */
static char *clean_path(const char *path)
{
    strbuf sb = STRBUF_INIT;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            strbuf_addch(&sb, '/');
            strbuf_add(&sb, p, n);
        }
        p = end;
    }
    if (sb.len == 0)
        strbuf_addch(&sb, '/');
    return strbuf_detach(&sb);
}

/* statvfs flags -> mount(2) flags, for remounts that must keep what is set. */
static unsigned long statvfs_to_ms(unsigned long f)
{
    static const struct {
        unsigned long st, ms;
    } map[] = {
        {ST_RDONLY, MS_RDONLY},   {ST_NOSUID, MS_NOSUID},           {ST_NODEV, MS_NODEV},
        {ST_NOEXEC, MS_NOEXEC},   {ST_SYNCHRONOUS, MS_SYNCHRONOUS}, {ST_MANDLOCK, MS_MANDLOCK},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},   {ST_RELATIME, MS_RELATIME},
    };
    unsigned long ms = 0;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (f & map[i].st)
            ms |= map[i].ms;
    return ms;
}

/* ------------------------------------------------------------ spec pieces */

/* root.path resolved against the bundle and checked to be a directory. */
static int read_root_path(json_t *spec, const char *bundle, char **out, wharf_error *err)
{
    json_t *root;
    const char *path = NULL;
    int r = wjson_object(spec, "", "root", true, &root, err);
    if (r < 0)
        return r;
    if ((r = wjson_string(root, "root", "path", true, &path, err)) < 0)
        return r;
    _cleanup_free_ char *full = bundle_path(bundle, path);
    struct stat st;
    if (stat(full, &st) < 0) {
        if (errno == ENOENT)
            return wharf_error_set(err, -ENOENT, "root.path: %s: no such directory", full);
        return wharf_error_errno(err, errno, "root.path: %s", full);
    }
    if (!S_ISDIR(st.st_mode))
        return wharf_error_set(err, -ENOTDIR, "root.path: %s: not a directory", full);
    char *real = realpath(full, NULL);
    if (!real)
        return wharf_error_errno(err, errno, "root.path: %s", full);
    *out = real;
    return 0;
}

static int read_rootfs_propagation(json_t *spec, bool *present, unsigned long *flags,
                                   wharf_error *err)
{
    json_t *linux_obj;
    const char *s = NULL;
    *present = false;
    int r = wjson_object(spec, "", "linux", false, &linux_obj, err);
    if (r < 0 || !linux_obj)
        return r;
    if ((r = wjson_string(linux_obj, "linux", "rootfsPropagation", false, &s, err)) < 0)
        return r;
    if (!s || !*s)
        return 0;
    if (!parse_propagation(s, flags))
        return wharf_error_set(err, -EINVAL,
                               "linux.rootfsPropagation: unknown value \"%s\" (expected private, "
                               "shared, slave or unbindable)",
                               s);
    *present = true;
    return 0;
}

struct spec_device {
    const char *path;
    char type;
    uint64_t major, minor;
    bool have_numbers;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

/* Reads linux.devices[i] with the checks rootfs_validate promises. */
static int read_spec_device(json_t *d, size_t i, struct spec_device *dev, wharf_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "linux.devices[%zu]", i);
    *dev = (struct spec_device){.mode = 0666};
    if (!json_is_object(d))
        return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
    const char *type;
    int r = wjson_string(d, where, "type", true, &type, err);
    if (r < 0)
        return r;
    if (strlen(type) != 1 || !strchr("cbup", type[0]))
        return wharf_error_set(err, -EINVAL, "%s.type: \"%s\" is not one of c, b, u, p", where,
                               type);
    dev->type = type[0];
    if ((r = wjson_string(d, where, "path", true, &dev->path, err)) < 0)
        return r;
    if (dev->path[0] != '/')
        return wharf_error_set(err, -EINVAL, "%s.path: must be an absolute path", where);
    bool have_major = false, have_minor = false;
    if ((r = wjson_uint64(d, where, "major", &dev->major, &have_major, err)) < 0)
        return r;
    if ((r = wjson_uint64(d, where, "minor", &dev->minor, &have_minor, err)) < 0)
        return r;
    if (dev->type != 'p' && (!have_major || !have_minor))
        return wharf_error_set(err, -EINVAL, "%s: major and minor are required for type %c", where,
                               dev->type);
    dev->have_numbers = have_major && have_minor;
    uint64_t v = 0;
    bool have = false;
    if ((r = wjson_uint64(d, where, "fileMode", &v, &have, err)) < 0)
        return r;
    if (have)
        dev->mode = (mode_t)(v & 07777);
    have = false;
    if ((r = wjson_uint64(d, where, "uid", &v, &have, err)) < 0)
        return r;
    if (have)
        dev->uid = (uid_t)v;
    have = false;
    if ((r = wjson_uint64(d, where, "gid", &v, &have, err)) < 0)
        return r;
    if (have)
        dev->gid = (gid_t)v;
    return 0;
}

static int check_absolute_paths(json_t *linux_obj, const char *key, wharf_error *err)
{
    _cleanup_free_ const char **paths = NULL;
    size_t n = 0;
    int r = wjson_string_array(linux_obj, "linux", key, false, &paths, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (paths[i][0] != '/')
            return wharf_error_set(err, -EINVAL, "linux.%s[%zu]: must be an absolute path", key, i);
    return 0;
}

/* ------------------------------------------------------------ validate */

int rootfs_validate(json_t *spec, const char *bundle, wharf_error *err)
{
    if (!spec || !json_is_object(spec))
        return wharf_error_set(err, -EINVAL, "config: expected an object");
    _cleanup_free_ char *rootfs = NULL;
    int r = read_root_path(spec, bundle, &rootfs, err);
    if (r < 0)
        return r;
    bool readonly = false;
    json_t *root = json_object_get(spec, "root");
    if ((r = wjson_bool(root, "root", "readonly", &readonly, err)) < 0)
        return r;

    json_t *mounts;
    if ((r = wjson_array(spec, "", "mounts", false, &mounts, err)) < 0)
        return r;
    for (size_t i = 0; mounts && i < json_array_size(mounts); i++) {
        struct spec_mount m;
        r = read_spec_mount(json_array_get(mounts, i), i, &m, err);
        if (r == 0 && m.destination[0] != '/')
            r = wharf_error_set(err, -EINVAL, "mounts[%zu].destination: must be an absolute path",
                                i);
        if (r == 0 && m.bind) {
            if (!m.source) {
                r = wharf_error_set(err, -EINVAL,
                                    "mounts[%zu].source: required for a bind mount of %s", i,
                                    m.destination);
            } else {
                _cleanup_free_ char *src = bundle_path(bundle, m.source);
                struct stat st;
                if (stat(src, &st) < 0)
                    r = wharf_error_errno(err, errno, "mounts[%zu].source: %s", i, src);
            }
        }
        if (r == 0 && __builtin_popcountl(m.propagation & PROPAGATION_MASK) > 1)
            r = wharf_error_set(err, -EINVAL,
                                "mounts[%zu].options: more than one propagation option", i);
        spec_mount_release(&m);
        if (r < 0)
            return r;
    }

    json_t *linux_obj;
    if ((r = wjson_object(spec, "", "linux", false, &linux_obj, err)) < 0)
        return r;
    if (!linux_obj)
        return 0;
    bool have_prop;
    unsigned long prop;
    if ((r = read_rootfs_propagation(spec, &have_prop, &prop, err)) < 0)
        return r;
    json_t *devices;
    if ((r = wjson_array(linux_obj, "linux", "devices", false, &devices, err)) < 0)
        return r;
    for (size_t i = 0; devices && i < json_array_size(devices); i++) {
        struct spec_device dev;
        if ((r = read_spec_device(json_array_get(devices, i), i, &dev, err)) < 0)
            return r;
    }
    if ((r = check_absolute_paths(linux_obj, "maskedPaths", err)) < 0)
        return r;
    return check_absolute_paths(linux_obj, "readonlyPaths", err);
}

/* ------------------------------------------------------------ mountinfo */

struct mnt_entry {
    char *root;
    char *mountpoint;
    char *optional; /* "shared:12 master:3" or "" */
    char *fstype;
    char *superopts;
};

struct mnt_table {
    char *buf;
    struct mnt_entry *v;
    size_t n;
};

static void mnt_table_release(struct mnt_table *t)
{
    free(t->buf);
    free(t->v);
    *t = (struct mnt_table){0};
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
}

static int mnt_table_read(struct mnt_table *t, wharf_error *err)
{
    *t = (struct mnt_table){0};
    int r = wharf_read_file("/proc/self/mountinfo", &t->buf, NULL, err);
    if (r < 0)
        return r;
    size_t alloc = 0;
    char *save = NULL;
    for (char *line = strtok_r(t->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[64];
        size_t nf = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(line, " ", &fsave); f && nf < ARRAY_SIZE(fields);
             f = strtok_r(NULL, " ", &fsave))
            fields[nf++] = f;
        size_t sep = 6;
        while (sep < nf && strcmp(fields[sep], "-") != 0)
            sep++;
        if (sep + 2 >= nf)
            continue; /* malformed: no fstype/source after the separator */
        if (t->n == alloc) {
            alloc = alloc ? alloc * 2 : 32;
            t->v = xrealloc(t->v, alloc * sizeof(*t->v));
        }
        struct mnt_entry *e = &t->v[t->n++];
        e->root = fields[3];
        e->mountpoint = fields[4];
        /* Optional fields were split apart; only "shared:" matters to us. */
        e->optional = "";
        for (size_t k = 6; k < sep; k++)
            if (strncmp(fields[k], "shared:", 7) == 0)
                e->optional = fields[k];
        e->fstype = fields[sep + 1];
        e->superopts = sep + 3 < nf ? fields[sep + 3] : "";
        unescape_octal(e->root);
        unescape_octal(e->mountpoint);
    }
    return 0;
}

/* Whether path is mp or below it, by whole components. */
static bool path_has_prefix(const char *path, const char *mp)
{
    size_t n = strlen(mp);
    if (strcmp(mp, "/") == 0)
        return true;
    return strncmp(path, mp, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/*
 * pivot_root and MS_MOVE refuse a new root whose mount (or parent mount) is
 * shared, and a shared parent would also propagate our self-bind back to the
 * host. Making the mount that holds the rootfs private fixes both.
 */
static int make_rootfs_mount_private(const char *rootfs, wharf_error *err)
{
    struct mnt_table t;
    int r = mnt_table_read(&t, err);
    if (r < 0)
        return r;
    struct mnt_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < t.n; i++) {
        size_t len = strlen(t.v[i].mountpoint);
        /* Later lines are mounted over earlier ones: >= keeps the top one. */
        if (path_has_prefix(rootfs, t.v[i].mountpoint) && (!best || len >= best_len)) {
            best = &t.v[i];
            best_len = len;
        }
    }
    if (best && *best->optional && mount(NULL, best->mountpoint, NULL, MS_PRIVATE, NULL) < 0)
        r = wharf_error_errno(err, errno, "make %s private (the mount holding the rootfs)",
                              best->mountpoint);
    mnt_table_release(&t);
    return r;
}

/* ------------------------------------------------------------ mounting */

struct rootfs_ctx {
    const struct rootfs_options *opts;
    const char *rootfs; /* absolute and symlink-free */
    int root_fd;        /* O_PATH of the rootfs self-bind */
};

static int mount_on_fd(const char *source, int fd, const char *type, unsigned long flags,
                       const char *data)
{
    char p[32];
    if (mount(source, wharf_fd_path(fd, p), type, flags, data) < 0)
        return -errno;
    return 0;
}

static int mount_error(wharf_error *err, int r, const char *what, const struct spec_mount *m)
{
    return wharf_error_errno(err, -r, "mount %s on %s (mounts[%zu])", what, m->destination,
                             m->index);
}

/*
 * A bind remount that keeps flags the kernel locked on the source (inside a
 * user namespace nosuid/nodev/noexec/ro/atime of a host mount cannot be
 * cleared): retried once with them added.
 */
static int remount_bind_fd(int fd, unsigned long flags)
{
    flags &= ~(MOUNT_ONLY_FLAGS | PROPAGATION_MASK);
    int r = mount_on_fd(NULL, fd, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
    if (r != -EPERM)
        return r;
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return r;
    unsigned long cur = statvfs_to_ms(sv.f_flag);
    flags |= cur & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
    if (!(flags & ATIME_MASK))
        flags |= cur & ATIME_MASK;
    return mount_on_fd(NULL, fd, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
}

/* Opens the destination inside the rootfs, creating a directory (or, when
 * is_dir is false, an empty file) if nothing is there. */
static int open_destination(struct rootfs_ctx *c, const char *dest, bool is_dir, wharf_error *err)
{
    wharf_error ignored = {0};
    int fd = wharf_open_in_root(c->root_fd, dest, O_PATH, 0, &ignored);
    if (fd >= 0 || fd != -ENOENT) {
        if (fd < 0)
            return wharf_error_errno(err, -fd, "open %s inside the rootfs", dest);
        return fd;
    }
    if (is_dir)
        return wharf_mkdir_in_root(c->root_fd, dest, 0755, err);
    return wharf_touch_in_root(c->root_fd, dest, 0644, err);
}

/* Re-resolves a destination after a mount so the fd names the new mount's
 * root (the old fd still points at the covered directory). */
static int reopen_destination(struct rootfs_ctx *c, const struct spec_mount *m, wharf_error *err)
{
    int fd = wharf_open_in_root(c->root_fd, m->destination, O_PATH, 0, err);
    if (fd < 0)
        wharf_error_prefix(err, "mounts[%zu]", m->index);
    return fd;
}

static int bind_into_rootfs(struct rootfs_ctx *c, const struct spec_mount *m, const char *source,
                            unsigned long flags, wharf_error *err)
{
    struct stat st;
    if (stat(source, &st) < 0)
        return wharf_error_errno(err, errno, "mounts[%zu].source: %s", m->index, source);
    _cleanup_close_ int fd = open_destination(c, m->destination, S_ISDIR(st.st_mode), err);
    if (fd < 0)
        return wharf_error_prefix(err, "mounts[%zu]", m->index);
    int r = mount_on_fd(source, fd, NULL, MS_BIND | (flags & MS_REC), NULL);
    if (r < 0)
        return mount_error(err, r, source, m);
    if (flags & ~(MOUNT_ONLY_FLAGS | PROPAGATION_MASK)) {
        _cleanup_close_ int top = reopen_destination(c, m, err);
        if (top < 0)
            return top;
        if ((r = remount_bind_fd(top, flags)) < 0)
            return wharf_error_errno(err, -r, "remount %s on %s (mounts[%zu])", source,
                                     m->destination, m->index);
    }
    return 0;
}

static int mount_fs(struct rootfs_ctx *c, const struct spec_mount *m, const char *source,
                    const char *type, unsigned long flags, const char *data, wharf_error *err)
{
    _cleanup_close_ int fd = open_destination(c, m->destination, true, err);
    if (fd < 0)
        return wharf_error_prefix(err, "mounts[%zu]", m->index);
    int r = mount_on_fd(source, fd, type, flags, data);
    if (r < 0)
        return mount_error(err, r, type, m);
    return 0;
}

static bool spec_has_namespace(json_t *spec, const char *type)
{
    json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
    size_t i;
    json_t *e;
    json_array_foreach(ns, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        if (t && strcmp(t, type) == 0)
            return true;
    }
    return false;
}

/* The cgroup hierarchy the calling process sits in, by controller list. */
struct proc_cgroup {
    char *controllers; /* "cpu,cpuacct", "name=systemd", "" for cgroup2 */
    char *path;
};

static int read_proc_cgroups(char **buf, struct proc_cgroup **out, size_t *n, wharf_error *err)
{
    int r = wharf_read_file("/proc/self/cgroup", buf, NULL, err);
    if (r < 0)
        return r;
    size_t alloc = 0;
    *out = NULL;
    *n = 0;
    char *save = NULL;
    for (char *line = strtok_r(*buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            *out = xrealloc(*out, alloc * sizeof(**out));
        }
        (*out)[(*n)++] = (struct proc_cgroup){.controllers = c1 + 1, .path = c2 + 1};
    }
    return 0;
}

/* Whether every comma-separated item of list is among the comma-separated opts. */
static bool options_contain_all(const char *opts, const char *list)
{
    _cleanup_free_ char *copy = xstrdup(list);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(item);
        bool found = false;
        for (const char *p = opts; *p;) {
            const char *end = strchrnul(p, ',');
            if ((size_t)(end - p) == n && strncmp(p, item, n) == 0) {
                found = true;
                break;
            }
            p = *end ? end + 1 : end;
        }
        if (!found)
            return false;
    }
    return true;
}

static const struct mnt_entry *find_cgroup_mount(const struct mnt_table *t,
                                                 const struct proc_cgroup *pc)
{
    bool v2 = pc->controllers[0] == '\0';
    for (size_t i = 0; i < t->n; i++) {
        const struct mnt_entry *e = &t->v[i];
        if (strncmp(e->mountpoint, "/sys/fs/cgroup/", 15) != 0)
            continue;
        if (v2 ? strcmp(e->fstype, "cgroup2") == 0
               : strcmp(e->fstype, "cgroup") == 0 &&
                     options_contain_all(e->superopts, pc->controllers))
            return e;
    }
    return NULL;
}

/* The host directory of our own cgroup in a hierarchy mounted as e. */
static char *own_cgroup_dir(const struct mnt_entry *e, const char *path)
{
    const char *rel = path;
    if (strcmp(e->root, "/") != 0 && path_has_prefix(path, e->root))
        rel = path + strlen(e->root);
    if (strcmp(rel, "/") == 0)
        rel = "";
    return xasprintf("%s%s", e->mountpoint, rel);
}

/*
 * cgroup v1 (or hybrid) host: a tmpfs holding one directory per hierarchy,
 * each either a fresh cgroupfs (new cgroup namespace: the kernel shows only
 * our subtree) or a bind of our own cgroup directory, as runc lays it out.
 */
static int mount_cgroup_v1(struct rootfs_ctx *c, const struct spec_mount *m, wharf_error *err)
{
    unsigned long flags = m->flags & ~(MOUNT_ONLY_FLAGS | PROPAGATION_MASK);
    int r = mount_fs(c, m, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", err);
    if (r < 0)
        return r;
    _cleanup_close_ int tfd = reopen_destination(c, m, err);
    if (tfd < 0)
        return tfd;

    struct mnt_table t;
    if ((r = mnt_table_read(&t, err)) < 0)
        return r;
    _cleanup_free_ char *cgbuf = NULL;
    _cleanup_free_ struct proc_cgroup *cgs = NULL;
    size_t ncg = 0;
    if ((r = read_proc_cgroups(&cgbuf, &cgs, &ncg, err)) < 0)
        goto out;

    for (size_t i = 0; i < ncg; i++) {
        const struct mnt_entry *e = find_cgroup_mount(&t, &cgs[i]);
        if (!e)
            continue; /* a hierarchy the host does not mount under /sys/fs/cgroup */
        const char *name = strrchr(e->mountpoint, '/') + 1;
        bool v2 = cgs[i].controllers[0] == '\0';
        if (mkdirat(tfd, name, 0755) < 0 && errno != EEXIST) {
            r = wharf_error_errno(err, errno, "mkdir %s/%s (mounts[%zu])", m->destination, name,
                                  m->index);
            goto out;
        }
        _cleanup_close_ int sfd = openat(tfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) {
            r = wharf_error_errno(err, errno, "open %s/%s (mounts[%zu])", m->destination, name,
                                  m->index);
            goto out;
        }
        if (c->opts->cgroupns) {
            r = mount_on_fd("cgroup", sfd, v2 ? "cgroup2" : "cgroup", flags,
                            v2 ? NULL : cgs[i].controllers);
        } else {
            _cleanup_free_ char *src = own_cgroup_dir(e, cgs[i].path);
            r = mount_on_fd(src, sfd, NULL, MS_BIND | MS_REC, NULL);
            if (r == 0 && flags) {
                _cleanup_close_ int top = openat(tfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                r = top < 0 ? -errno : remount_bind_fd(top, flags);
            }
        }
        if (r < 0) {
            r = wharf_error_errno(err, -r, "mount cgroup %s on %s/%s (mounts[%zu])",
                                  v2 ? "unified" : cgs[i].controllers, m->destination, name,
                                  m->index);
            goto out;
        }
        /* Co-mounted controllers ("cpu,cpuacct") are also reachable by each name. */
        if (strchr(name, ',')) {
            _cleanup_free_ char *items = xstrdup(name);
            char *save = NULL;
            for (char *it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
                if (symlinkat(name, tfd, it) < 0 && errno != EEXIST) {
                    r = wharf_error_errno(err, errno, "symlink %s/%s (mounts[%zu])", m->destination,
                                          it, m->index);
                    goto out;
                }
            }
        }
    }
    if (flags & MS_RDONLY) {
        if ((r = remount_bind_fd(tfd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0)
            r = wharf_error_errno(err, -r, "remount %s read-only (mounts[%zu])", m->destination,
                                  m->index);
    }
out:
    mnt_table_release(&t);
    return r;
}

static int mount_cgroup(struct rootfs_ctx *c, const struct spec_mount *m, wharf_error *err)
{
    struct statfs sfs;
    if (statfs("/sys/fs/cgroup", &sfs) < 0)
        return wharf_error_errno(err, errno, "statfs /sys/fs/cgroup (mounts[%zu])", m->index);
    if ((unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)
        return mount_cgroup_v1(c, m, err);

    unsigned long flags = m->flags & ~(MOUNT_ONLY_FLAGS | PROPAGATION_MASK);
    int r = mount_fs(c, m, m->source ? m->source : "cgroup2", "cgroup2", flags,
                     m->data.len ? m->data.buf : NULL, err);
    if (r == 0 || (r != -EPERM && r != -EBUSY))
        return r;
    /* Without a cgroup namespace a user namespace cannot mount cgroup2:
     * show our own subtree with a bind, as runc does. */
    _cleanup_free_ char *buf = NULL;
    _cleanup_free_ struct proc_cgroup *cgs = NULL;
    size_t n = 0;
    wharf_error_clear(err);
    if ((r = read_proc_cgroups(&buf, &cgs, &n, err)) < 0)
        return r;
    const char *path = "/";
    for (size_t i = 0; i < n; i++)
        if (cgs[i].controllers[0] == '\0')
            path = cgs[i].path;
    _cleanup_free_ char *src = xasprintf("/sys/fs/cgroup%s", strcmp(path, "/") ? path : "");
    return bind_into_rootfs(c, m, src, MS_BIND | MS_REC | flags, err);
}

static int mount_one(struct rootfs_ctx *c, const struct spec_mount *m, wharf_error *err)
{
    const char *type = m->type ? m->type : "none";
    const char *data = m->data.len ? m->data.buf : NULL;
    unsigned long flags = m->flags & ~PROPAGATION_MASK;
    int r;

    if (m->bind) {
        if (!m->source)
            return wharf_error_set(err, -EINVAL,
                                   "mounts[%zu].source: required for a bind mount of %s", m->index,
                                   m->destination);
        _cleanup_free_ char *src = bundle_path(c->opts->bundle, m->source);
        r = bind_into_rootfs(c, m, src, flags, err);
    } else if (flags & MS_REMOUNT) {
        _cleanup_close_ int fd = reopen_destination(c, m, err);
        if (fd < 0)
            return fd;
        r = mount_on_fd(m->source, fd, m->type, flags, data);
        if (r < 0)
            r = wharf_error_errno(err, -r, "remount %s (mounts[%zu])", m->destination, m->index);
    } else if (strcmp(type, "cgroup") == 0) {
        r = mount_cgroup(c, m, err);
    } else if (strcmp(type, "sysfs") == 0) {
        /* A user namespace may mount sysfs only together with its own network
         * namespace; otherwise the host's /sys is shown through a bind. */
        bool can_mount = !c->opts->in_userns || spec_has_namespace(c->opts->spec, "network");
        r = can_mount ? mount_fs(c, m, m->source ? m->source : "sysfs", "sysfs", flags, data, err)
                      : -EPERM;
        if (r == -EPERM && c->opts->in_userns) {
            wharf_error_clear(err);
            r = bind_into_rootfs(c, m, "/sys", MS_BIND | MS_REC | flags, err);
        }
    } else if (strcmp(type, "mqueue") == 0) {
        r = mount_fs(c, m, m->source ? m->source : "mqueue", "mqueue", flags, data, err);
        if (r == -EPERM && c->opts->in_userns) {
            wharf_error_clear(err);
            r = bind_into_rootfs(c, m, "/dev/mqueue", MS_BIND | MS_REC | flags, err);
        }
    } else {
        r = mount_fs(c, m, m->source ? m->source : type, type, flags, data, err);
    }
    if (r < 0 || !m->propagation)
        return r;

    _cleanup_close_ int top = reopen_destination(c, m, err);
    if (top < 0)
        return top;
    /* Each propagation type is its own mount(2) call; MS_REC applies to all. */
    unsigned long rec = m->propagation & MS_REC;
    static const unsigned long kinds[] = {MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE};
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        if (!(m->propagation & kinds[k]))
            continue;
        if ((r = mount_on_fd(NULL, top, NULL, kinds[k] | rec, NULL)) < 0)
            return wharf_error_errno(err, -r, "set propagation of %s (mounts[%zu])", m->destination,
                                     m->index);
    }
    return 0;
}

/* ------------------------------------------------------------ devices */

static const struct spec_device default_devices[] = {
    {"/dev/null", 'c', 1, 3, true, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, true, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, true, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, true, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, true, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, true, 0666, 0, 0},
};

static int create_device(struct rootfs_ctx *c, const struct spec_device *d, wharf_error *err)
{
    if (c->opts->in_userns) {
        /* mknod is not allowed in a user namespace: show the host's node. */
        _cleanup_close_ int fd = wharf_touch_in_root(c->root_fd, d->path, 0644, err);
        if (fd < 0)
            return wharf_error_prefix(err, "device %s", d->path);
        int r = mount_on_fd(d->path, fd, NULL, MS_BIND, NULL);
        if (r < 0)
            return wharf_error_errno(err, -r, "bind device %s from the host", d->path);
        return 0;
    }
    _cleanup_free_ char *copy = xstrdup(d->path);
    char *slash = strrchr(copy, '/');
    *slash = '\0';
    const char *name = slash + 1;
    _cleanup_close_ int dir = wharf_mkdir_in_root(c->root_fd, *copy ? copy : "/", 0755, err);
    if (dir < 0)
        return wharf_error_prefix(err, "device %s", d->path);
    if (!*name)
        return wharf_error_set(err, -EINVAL, "device %s: not a file path", d->path);

    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    dev_t rdev = d->type == 'p' ? 0 : makedev((unsigned)d->major, (unsigned)d->minor);
    /* Whatever the image put there (a file, a stale node) is replaced. */
    if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
        return wharf_error_errno(err, errno, "device %s: remove the existing entry", d->path);
    if (mknodat(dir, name, type | (d->mode & 0777), rdev) < 0)
        return wharf_error_errno(err, errno, "mknod %s", d->path);
    if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "chown %s", d->path);
    /* mknod is subject to the umask; the spec's mode is exact. */
    if (fchmodat(dir, name, d->mode, 0) < 0)
        return wharf_error_errno(err, errno, "chmod %s", d->path);
    return 0;
}

static int create_devices(struct rootfs_ctx *c, wharf_error *err)
{
    json_t *devices = json_object_get(json_object_get(c->opts->spec, "linux"), "devices");
    size_t n = json_is_array(devices) ? json_array_size(devices) : 0;
    struct spec_device *spec_devs = xcalloc(n, sizeof(*spec_devs));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = read_spec_device(json_array_get(devices, i), i, &spec_devs[i], err);

    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_devices); i++) {
        bool overridden = false;
        for (size_t k = 0; k < n; k++) {
            _cleanup_free_ char *p = clean_path(spec_devs[k].path);
            if (strcmp(p, default_devices[i].path) == 0)
                overridden = true;
        }
        if (!overridden)
            r = create_device(c, &default_devices[i], err);
    }
    for (size_t i = 0; r == 0 && i < n; i++)
        r = create_device(c, &spec_devs[i], err);
    free(spec_devs);
    return r;
}

static int dev_symlinks(struct rootfs_ctx *c, wharf_error *err)
{
    static const char *const links[][2] = {
        {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
    };
    _cleanup_close_ int dev = wharf_mkdir_in_root(c->root_fd, "/dev", 0755, err);
    if (dev < 0)
        return dev;
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
            return wharf_error_errno(err, errno, "symlink /dev/%s", links[i][1]);
    if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev, "core") < 0 &&
        errno != EEXIST)
        return wharf_error_errno(err, errno, "symlink /dev/core");
    /* The devpts instance mounted at /dev/pts has its own ptmx; a host-style
     * /dev/ptmx node would open the wrong instance. */
    if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
        return wharf_error_errno(err, errno, "remove /dev/ptmx");
    if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
        return wharf_error_errno(err, errno, "symlink /dev/ptmx");
    return 0;
}

/* ------------------------------------------------------------ pivot */

static int enter_root(const char *rootfs, bool no_pivot, wharf_error *err)
{
    _cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0)
        return wharf_error_errno(err, errno, "open /");
    _cleanup_close_ int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (newroot < 0)
        return wharf_error_errno(err, errno, "open rootfs %s", rootfs);
    if (fchdir(newroot) < 0)
        return wharf_error_errno(err, errno, "chdir %s", rootfs);

    if (no_pivot) {
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return wharf_error_errno(err, errno, "move %s onto /", rootfs);
        if (chroot(".") < 0)
            return wharf_error_errno(err, errno, "chroot %s", rootfs);
    } else {
        /* pivot_root(".", ".") stacks the old root on top of the new one, so
         * no put_old directory is needed inside the image; it is then
         * detached from inside (cwd = old root). Making it a slave first
         * keeps the unmount from propagating to the host. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            return wharf_error_errno(err, errno, "pivot_root %s", rootfs);
        if (fchdir(oldroot) < 0)
            return wharf_error_errno(err, errno, "chdir to the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            return wharf_error_errno(err, errno, "make the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
            return wharf_error_errno(err, errno, "unmount the old root");
    }
    if (chdir("/") < 0)
        return wharf_error_errno(err, errno, "chdir /");
    return 0;
}

/* ------------------------------------------------------------ prepare */

int rootfs_prepare(const struct rootfs_options *opts, wharf_error *err)
{
    if (!opts || !opts->spec)
        return wharf_error_set(err, -EINVAL, "rootfs: no spec");
    _cleanup_free_ char *rootfs = NULL;
    int r = read_root_path(opts->spec, opts->bundle, &rootfs, err);
    if (r < 0)
        return r;
    bool have_prop = false;
    unsigned long prop = 0;
    if ((r = read_rootfs_propagation(opts->spec, &have_prop, &prop, err)) < 0)
        return r;

    /* Always recursive: a non-recursive change would leave host submounts
     * shared and our mounts under them would show up on the host. An
     * unbindable tree cannot be self-bound, so it starts private and gets
     * its final type in rootfs_finalize. */
    unsigned long root_flag = MS_SLAVE;
    if (have_prop)
        root_flag = (prop & MS_UNBINDABLE) ? MS_PRIVATE : (prop & PROPAGATION_MASK);
    if (mount(NULL, "/", NULL, MS_REC | root_flag, NULL) < 0)
        return wharf_error_errno(err, errno, "set propagation of /");
    if ((r = make_rootfs_mount_private(rootfs, err)) < 0)
        return r;
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return wharf_error_errno(err, errno, "bind rootfs %s onto itself", rootfs);

    struct rootfs_ctx c = {.opts = opts, .rootfs = rootfs, .root_fd = -1};
    c.root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c.root_fd < 0)
        return wharf_error_errno(err, errno, "open rootfs %s", rootfs);

    json_t *mounts;
    bool dev_is_bind = false;
    unsigned long dev_ro_flags = 0;
    if ((r = wjson_array(opts->spec, "", "mounts", false, &mounts, err)) < 0)
        goto out;
    for (size_t i = 0; mounts && i < json_array_size(mounts); i++) {
        struct spec_mount m;
        r = read_spec_mount(json_array_get(mounts, i), i, &m, err);
        if (r == 0 && m.destination[0] != '/')
            r = wharf_error_set(err, -EINVAL, "mounts[%zu].destination: must be an absolute path",
                                i);
        if (r == 0) {
            _cleanup_free_ char *dest = clean_path(m.destination);
            bool is_dev = strcmp(dest, "/dev") == 0;
            if (is_dev && m.bind)
                dev_is_bind = true;
            /* Devices are created after the mounts: a read-only /dev is
             * mounted writable now and made read-only once they exist. */
            if (is_dev && !m.bind && (m.flags & MS_RDONLY) && !(m.flags & MS_REMOUNT)) {
                dev_ro_flags = m.flags & ~(MOUNT_ONLY_FLAGS | PROPAGATION_MASK);
                m.flags &= ~MS_RDONLY;
            } else if (is_dev) {
                dev_ro_flags = 0;
            }
            r = mount_one(&c, &m, err);
        }
        spec_mount_release(&m);
        if (r < 0)
            goto out;
    }

    /* With the host's /dev bound in, its nodes and links are already there
     * and writing to it would change the host. */
    if (!dev_is_bind) {
        if ((r = create_devices(&c, err)) < 0 || (r = dev_symlinks(&c, err)) < 0)
            goto out;
        if (dev_ro_flags) {
            _cleanup_close_ int dev = wharf_open_in_root(c.root_fd, "/dev", O_PATH, 0, err);
            if (dev < 0) {
                r = dev;
                goto out;
            }
            if ((r = remount_bind_fd(dev, dev_ro_flags)) < 0) {
                r = wharf_error_errno(err, -r, "remount /dev read-only");
                goto out;
            }
        }
    }

    if (opts->before_pivot && (r = opts->before_pivot(opts->data, err)) < 0)
        goto out;

    r = enter_root(rootfs, opts->no_pivot, err);
out:
    close(c.root_fd);
    return r;
}

/* ------------------------------------------------------------ finalize */

static int readonly_path(const char *path, wharf_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return wharf_error_errno(err, errno, "linux.readonlyPaths: %s", path);
    }
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return wharf_error_errno(err, errno, "linux.readonlyPaths: bind %s", path);
    _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "linux.readonlyPaths: open %s", path);
    int r = remount_bind_fd(fd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (r < 0)
        return wharf_error_errno(err, -r, "linux.readonlyPaths: remount %s read-only", path);
    return 0;
}

static int mask_path(const char *path, wharf_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return wharf_error_errno(err, errno, "linux.maskedPaths: %s", path);
    }
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
            return wharf_error_errno(err, errno, "linux.maskedPaths: mount tmpfs on %s", path);
    } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
        return wharf_error_errno(err, errno, "linux.maskedPaths: bind /dev/null on %s", path);
    }
    return 0;
}

int rootfs_finalize(json_t *spec, wharf_error *err)
{
    json_t *linux_obj = NULL;
    int r = wjson_object(spec, "", "linux", false, &linux_obj, err);
    if (r < 0)
        return r;
    if (linux_obj) {
        _cleanup_free_ const char **ro = NULL, **masked = NULL;
        if ((r = wjson_string_array(linux_obj, "linux", "readonlyPaths", false, &ro, NULL, err)) <
                0 ||
            (r = wjson_string_array(linux_obj, "linux", "maskedPaths", false, &masked, NULL, err)) <
                0)
            return r;
        for (size_t i = 0; ro && ro[i]; i++)
            if ((r = readonly_path(ro[i], err)) < 0)
                return r;
        for (size_t i = 0; masked && masked[i]; i++)
            if ((r = mask_path(masked[i], err)) < 0)
                return r;
    }

    bool readonly = false;
    if ((r = wjson_bool(json_object_get(spec, "root"), "root", "readonly", &readonly, err)) < 0)
        return r;
    if (readonly) {
        struct statvfs sv;
        if (statvfs("/", &sv) < 0)
            return wharf_error_errno(err, errno, "root.readonly: statvfs /");
        unsigned long keep = statvfs_to_ms(sv.f_flag);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
            return wharf_error_errno(err, errno, "root.readonly: remount / read-only");
    }

    bool have_prop = false;
    unsigned long prop = 0;
    if ((r = read_rootfs_propagation(spec, &have_prop, &prop, err)) < 0)
        return r;
    if (have_prop && mount(NULL, "/", NULL, prop, NULL) < 0)
        return wharf_error_errno(err, errno, "linux.rootfsPropagation: set on /");
    return 0;
}

/* ------------------------------------------------------------ console */

int rootfs_bind_console(const char *slave_path, wharf_error *err)
{
    /* After pivot_root "/" is the rootfs, so resolving in it is the same as
     * the plain path; the helper just creates the file target. */
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return wharf_error_errno(err, errno, "open /");
    _cleanup_close_ int fd = wharf_touch_in_root(root, "/dev/console", 0600, err);
    if (fd < 0)
        return wharf_error_prefix(err, "console");
    if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return wharf_error_errno(err, errno, "bind %s onto /dev/console", slave_path);
    return 0;
}
