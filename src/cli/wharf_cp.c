/* `wharf cp`: files between a container and the local filesystem (or a tar
 * stream on stdin/stdout), with the docker CLI's semantics — which side is
 * a container ("NAME:PATH", unless the argument is an absolute or ./ path),
 * trailing "/" and "/." meaning a directory or its contents, a destination
 * that exists or not, -L, -a, and its messages and exit codes.
 *
 * The decisions are the docker CLI's (cli/command/container/cp.go and
 * moby's archive/copy.go: CopyInfoSourcePath, CopyInfoDestinationPath,
 * PrepareArchiveCopy); the tars are rootcopy's, written and read through
 * pipes by a second thread while the transfer runs. Extracting here resolves
 * every entry inside the destination directory, so an archive from a
 * container cannot place anything outside it. */
#include "rootcopy.h"
#include "wharf_cmds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Go's text for an errno: the C library's, in lower case. */
static const char *go_err(int e)
{
    static __thread char text[128];
    snprintf(text, sizeof(text), "%s", strerror(e));
    text[0] = (char)tolower((unsigned char)text[0]);
    return text;
}

/* ---------------------------------------------------------------- Go's path rules */

static bool has_trailing_sep(const char *p)
{
    size_t n = strlen(p);
    return n > 0 && p[n - 1] == '/';
}

/* filepath.Clean, relative paths too. */
static char *go_clean(const char *p)
{
    bool abs = p[0] == '/';
    strbuf out = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(p);
    char **parts = xcalloc(strlen(p) + 1, sizeof(char *));
    size_t n = 0, up = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (n > up)
                n--;
            else if (!abs)
                parts[n++] = c, up++;
            continue;
        }
        parts[n++] = c;
    }
    if (abs)
        strbuf_addch(&out, '/');
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&out, "%s%s", i ? "/" : "", parts[i]);
    free(parts);
    if (out.len == 0)
        strbuf_addch(&out, '.');
    return strbuf_detach(&out);
}

/* filepath.Base */
static char *go_base(const char *p)
{
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0)
        return xstrdup(*p ? "/" : ".");
    size_t s = n;
    while (s > 0 && p[s - 1] != '/')
        s--;
    return xasprintf("%.*s", (int)(n - s), p + s);
}

/* filepath.Dir */
static char *go_dir(const char *p)
{
    const char *slash = strrchr(p, '/');
    _cleanup_free_ char *d = slash ? xasprintf("%.*s", (int)(slash - p + 1), p) : xstrdup("");
    return go_clean(*d ? d : ".");
}

static bool specifies_current_dir(const char *p)
{
    _cleanup_free_ char *b = go_base(p);
    return strcmp(b, ".") == 0;
}

/* archive.SplitPathDirEntry */
static void split_dir_entry(const char *path, char **dir, char **base)
{
    _cleanup_free_ char *clean = go_clean(path);
    if (specifies_current_dir(path)) {
        char *with = xasprintf("%s/.", clean);
        free(clean);
        clean = with;
    }
    *dir = go_dir(clean);
    *base = go_base(clean);
}

/* archive.PreserveTrailingDotOrSeparator */
static char *preserve_trailing(const char *clean, const char *original)
{
    strbuf out = STRBUF_INIT;
    strbuf_addstr(&out, clean);
    if (!specifies_current_dir(out.buf) && specifies_current_dir(original)) {
        if (!has_trailing_sep(out.buf))
            strbuf_addch(&out, '/');
        strbuf_addch(&out, '.');
    }
    if (!has_trailing_sep(out.buf) && has_trailing_sep(original))
        strbuf_addch(&out, '/');
    return strbuf_detach(&out);
}

/* The docker CLI's resolveLocalPath: absolute, trailing "/" or "/." kept. */
static char *local_abs(const char *p)
{
    char cwd[PATH_MAX];
    _cleanup_free_ char *joined =
        p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : "/", p);
    _cleanup_free_ char *clean = go_clean(joined);
    return preserve_trailing(clean, p);
}

/* archive.GetRebaseName */
static char *rebase_name(const char *path, char **resolved)
{
    strbuf r = STRBUF_INIT;
    strbuf_addstr(&r, *resolved);
    if (specifies_current_dir(path) && !specifies_current_dir(r.buf))
        strbuf_addstr(&r, "/.");
    if (has_trailing_sep(path) && !has_trailing_sep(r.buf))
        strbuf_addch(&r, '/');
    free(*resolved);
    *resolved = strbuf_detach(&r);
    _cleanup_free_ char *a = go_base(path), *b = go_base(*resolved);
    return strcmp(a, b) != 0 ? go_base(path) : NULL;
}

/* filepath.EvalSymlinks: NULL with errno when a part is missing */
static char *eval_symlinks(const char *p)
{
    char buf[PATH_MAX];
    if (!realpath(*p ? p : ".", buf))
        return NULL;
    return xstrdup(buf);
}

/* ---------------------------------------------------------------- copy info */

struct copy_info {
    char *path;
    bool exists, is_dir;
    char *rebase; /* RebaseName, or NULL */
};

static void copy_info_release(struct copy_info *i)
{
    free(i->path);
    free(i->rebase);
    memset(i, 0, sizeof(*i));
}

/* archive.CopyInfoSourcePath: -1 after printing the error */
static int source_info(const char *path, bool follow, struct copy_info *out)
{
    memset(out, 0, sizeof(*out));
    char *resolved = NULL;
    if (follow) {
        resolved = eval_symlinks(path);
        if (!resolved) {
            fprintf(stderr, "lstat %s: %s\n", path, go_err(errno));
            return -1;
        }
        out->rebase = rebase_name(path, &resolved);
    } else {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = xasprintf("%.*s", slash ? (int)(slash - path + 1) : 0, path);
        const char *base = slash ? slash + 1 : path;
        _cleanup_free_ char *rdir = eval_symlinks(dir);
        if (!rdir) {
            fprintf(stderr, "lstat %s: %s\n", dir, go_err(errno));
            return -1;
        }
        resolved = strcmp(rdir, "/") == 0 ? xasprintf("/%s", base) : xasprintf("%s/%s", rdir, base);
        _cleanup_free_ char *a = go_base(path), *b = go_base(resolved);
        if (has_trailing_sep(path) && strcmp(a, b) != 0)
            out->rebase = go_base(path);
    }
    struct stat st;
    if (lstat(resolved, &st) < 0) {
        fprintf(stderr, "lstat %s: %s\n", resolved, go_err(errno));
        free(resolved);
        free(out->rebase);
        out->rebase = NULL;
        return -1;
    }
    out->path = resolved;
    out->exists = true;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

/* archive.CopyInfoDestinationPath (local): -1 after printing the error */
static int dest_info(const char *dst, struct copy_info *out)
{
    memset(out, 0, sizeof(*out));
    char *path = xstrdup(dst);
    struct stat st;
    int r = lstat(path, &st);
    for (int n = 0; r == 0 && S_ISLNK(st.st_mode); n++) {
        if (n > 10) {
            fprintf(stderr, "too many symlinks in %s\n", dst);
            free(path);
            return -1;
        }
        char target[PATH_MAX];
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        if (len < 0) {
            fprintf(stderr, "readlink %s: %s\n", path, go_err(errno));
            free(path);
            return -1;
        }
        target[len] = '\0';
        char *next;
        if (target[0] == '/') {
            next = xstrdup(target);
        } else {
            _cleanup_free_ char *pdir = NULL, *pbase = NULL;
            split_dir_entry(path, &pdir, &pbase);
            _cleanup_free_ char *j = xasprintf("%s/%s", pdir, target);
            next = go_clean(j);
        }
        free(path);
        path = next;
        r = lstat(path, &st);
    }
    if (r < 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "lstat %s: %s\n", path, go_err(errno));
            free(path);
            return -1;
        }
        /* it need not exist; its parent must, as a directory */
        _cleanup_free_ char *pdir = NULL, *pbase = NULL;
        split_dir_entry(path, &pdir, &pbase);
        struct stat ps;
        if (stat(pdir, &ps) < 0) {
            fprintf(stderr, "stat %s: %s\n", pdir, go_err(errno));
            free(path);
            return -1;
        }
        if (!S_ISDIR(ps.st_mode)) {
            fprintf(stderr, "not a directory\n");
            free(path);
            return -1;
        }
        out->path = path;
        return 0;
    }
    out->path = path;
    out->exists = true;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

/* archive.PrepareArchiveCopy: where to extract, and the name the source's
 * top entry must take there (*name NULL: as it is). -1 after the error. */
static int prepare_copy(const struct copy_info *src, const struct copy_info *dst, char **dst_dir,
                        char **name)
{
    _cleanup_free_ char *ddir = NULL, *dbase = NULL, *sdir = NULL, *sbase = NULL;
    split_dir_entry(dst->path, &ddir, &dbase);
    split_dir_entry(src->path, &sdir, &sbase);
    *name = NULL;
    if (dst->exists && dst->is_dir) {
        *dst_dir = xstrdup(dst->path);
        *name = src->rebase ? xstrdup(src->rebase) : NULL;
        return 0;
    }
    if (dst->exists && src->is_dir) {
        fprintf(stderr, "cannot copy directory\n");
        return -1;
    }
    if (!dst->exists && !src->is_dir && has_trailing_sep(dst->path)) {
        fprintf(stderr, "no such directory\n");
        return -1;
    }
    *dst_dir = xstrdup(ddir);
    *name = xstrdup(dbase);
    return 0;
}

/* ---------------------------------------------------------------- threads over pipes */

struct tar_job {
    int root_fd; /* "/" for local files */
    const char *path;
    const char *name;
    int fd;
    int result;
    int64_t bytes; /* the tar stream's size */
    wharf_error err;
};

static void *tar_thread(void *p)
{
    struct tar_job *j = p;
    j->result = rootcopy_tar(j->root_fd, j->path, j->name, j->fd, &j->bytes, &j->err);
    close(j->fd);
    return NULL;
}

struct extract_job {
    int root_fd;
    int fd;
    struct rootcopy_extract_opts opts;
    int result;
    wharf_error err;
};

static void *extract_thread(void *p)
{
    struct extract_job *j = p;
    j->result = rootcopy_extract(j->root_fd, "/", j->fd, &j->opts, &j->err);
    close(j->fd);
    return NULL;
}

/* ---------------------------------------------------------------- container stat */

/* HEAD .../archive?path=: 1 and *st when it exists, 0 when not (or any
 * error: the docker CLI goes on and lets the copy fail), -1 when the daemon
 * is unreachable (printed). */
static int container_stat(struct client *c, const char *ctr, const char *path,
                          struct rootcopy_stat *st)
{
    _cleanup_free_ char *eid = wcmd_escape(ctr), *epath = wcmd_escape(path);
    _cleanup_free_ char *url = xasprintf("/containers/%s/archive?path=%s", eid, epath);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int r = 0;
    if (client_request(c, "HEAD", url, NULL, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        r = -1;
    } else if (resp.status == 200) {
        _cleanup_free_ char *h = client_response_header(&resp, "X-Docker-Container-Path-Stat");
        r = rootcopy_stat_from_header(h, st, &err) == 0 ? 1 : 0;
    }
    client_response_release(&resp);
    return r;
}

/* command.ValidateOutputPathFileMode: devices are refused */
static const char *bad_output_mode(mode_t m)
{
    return S_ISBLK(m) || S_ISCHR(m) ? "got a device" : NULL;
}

static void report_size(bool quiet, int64_t bytes, const char *where)
{
    if (quiet)
        return;
    strbuf s = STRBUF_INIT;
    wcmd_human_size((double)bytes, &s);
    fprintf(stderr, "Successfully copied %s to %s\n", strbuf_str(&s), where);
    strbuf_release(&s);
}

/* ---------------------------------------------------------------- from a container */

struct download {
    struct client_response *resp;
    bool to_stdout;
    bool started, failed;
    int pipe_w;
    pthread_t thread;
    struct extract_job job;
    const struct copy_info *src; /* is_dir from the header */
    struct copy_info *srcinfo;
    const struct copy_info *dst;
    char *dst_dir;
    int64_t bytes;
};

static int start_extract(struct download *d)
{
    _cleanup_free_ char *h = client_response_header(d->resp, "X-Docker-Container-Path-Stat");
    struct rootcopy_stat st;
    wharf_error err = {0};
    if (rootcopy_stat_from_header(h, &st, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    d->srcinfo->exists = true;
    d->srcinfo->is_dir = S_ISDIR(st.mode);
    rootcopy_stat_release(&st);
    char *name = NULL;
    if (prepare_copy(d->srcinfo, d->dst, &d->dst_dir, &name) < 0)
        return -1;
    _cleanup_free_ char *sdir = NULL, *sbase = NULL;
    split_dir_entry(d->srcinfo->path, &sdir, &sbase);
    int root = open(d->dst_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        fprintf(stderr, "open %s: %s\n", d->dst_dir, go_err(errno));
        free(name);
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "pipe: %s\n", go_err(errno));
        close(root);
        free(name);
        return -1;
    }
    d->job = (struct extract_job){.root_fd = root, .fd = fds[0]};
    d->job.opts.no_overwrite_dir_non_dir = true;
    d->job.opts.no_chown = true;
    d->job.opts.rebase_from = name ? xstrdup(sbase) : NULL;
    d->job.opts.rebase_to = name;
    d->pipe_w = fds[1];
    if (pthread_create(&d->thread, NULL, extract_thread, &d->job) != 0) {
        fprintf(stderr, "no thread\n");
        close(fds[0]);
        close(fds[1]);
        close(root);
        return -1;
    }
    d->started = true;
    return 0;
}

static int on_download(void *data, const char *buf, size_t len)
{
    struct download *d = data;
    d->bytes += (int64_t)len;
    if (d->to_stdout)
        return wcmd_write_all(STDOUT_FILENO, buf, len) < 0 ? -1 : 0;
    if (!d->started && !d->failed && start_extract(d) < 0)
        d->failed = true;
    if (d->failed)
        return -1;
    if (wharf_write_all(d->pipe_w, buf, len) < 0)
        return -1; /* the extraction stopped: its error is reported */
    return 0;
}

static int copy_from(struct client *c, const char *ctr, const char *src_in, const char *dst_in,
                     bool follow, bool quiet)
{
    bool to_stdout = strcmp(dst_in, "-") == 0;
    _cleanup_free_ char *dst = to_stdout ? xstrdup("-") : local_abs(dst_in);
    _cleanup_free_ char *src = xstrdup(src_in);
    /* command.ValidateOutputPath */
    if (!to_stdout) {
        _cleanup_free_ char *clean = go_clean(dst);
        _cleanup_free_ char *dir = go_dir(clean);
        struct stat st;
        if (strcmp(dir, ".") != 0 && stat(dir, &st) < 0 && errno == ENOENT) {
            fprintf(stderr, "invalid output path: directory \"%s\" does not exist\n", dir);
            return WCMD_EXIT_ERROR;
        }
        if (stat(dst, &st) == 0 && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) &&
            bad_output_mode(st.st_mode)) {
            fprintf(stderr,
                    "invalid output path: \"%s\" must be a directory or a regular file: %s\n", dst,
                    bad_output_mode(st.st_mode));
            return WCMD_EXIT_ERROR;
        }
    }
    struct copy_info srcinfo = {0};
    if (follow) {
        struct rootcopy_stat st;
        int r = container_stat(c, ctr, src, &st);
        if (r < 0)
            return WCMD_EXIT_ERROR;
        if (r == 1 && S_ISLNK(st.mode) && st.link_target) {
            char *target;
            if (st.link_target[0] == '/') {
                target = xstrdup(st.link_target);
            } else {
                _cleanup_free_ char *pdir = NULL, *pbase = NULL;
                split_dir_entry(src, &pdir, &pbase);
                _cleanup_free_ char *j = xasprintf("%s/%s", pdir, st.link_target);
                target = go_clean(j);
            }
            srcinfo.rebase = rebase_name(src, &target);
            free(src);
            src = target;
        }
        if (r == 1)
            rootcopy_stat_release(&st);
    }
    srcinfo.path = xstrdup(src);
    struct copy_info dstinfo = {0};
    if (!to_stdout && dest_info(dst, &dstinfo) < 0) {
        copy_info_release(&srcinfo);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *eid = wcmd_escape(ctr), *epath = wcmd_escape(src);
    _cleanup_free_ char *url = xasprintf("/containers/%s/archive?path=%s", eid, epath);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    struct download d = {
        .resp = &resp, .to_stdout = to_stdout, .pipe_w = -1, .srcinfo = &srcinfo, .dst = &dstinfo};
    wharf_error err = {0};
    int rc = 0;
    int r = client_stream(c, "GET", url, NULL, on_download, &d, &resp, &err);
    if (d.started) {
        close(d.pipe_w);
        pthread_join(d.thread, NULL);
        close(d.job.root_fd);
        free((char *)d.job.opts.rebase_from);
        free((char *)d.job.opts.rebase_to);
    }
    if (r < 0 && !d.failed && !(d.started && d.job.result < 0)) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_ERROR;
    } else if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        rc = WCMD_EXIT_ERROR;
    } else if (d.failed) {
        rc = WCMD_EXIT_ERROR;
    } else if (d.started && d.job.result < 0) {
        fprintf(stderr, "%s\n", d.job.err.msg);
        rc = WCMD_EXIT_ERROR;
    } else if (!to_stdout && !d.started) {
        /* an empty answer: nothing to extract, but the decisions stand */
        if (start_extract(&d) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else {
            close(d.pipe_w);
            pthread_join(d.thread, NULL);
            close(d.job.root_fd);
            free((char *)d.job.opts.rebase_from);
            free((char *)d.job.opts.rebase_to);
            if (d.job.result < 0) {
                fprintf(stderr, "%s\n", d.job.err.msg);
                rc = WCMD_EXIT_ERROR;
            }
        }
    }
    if (rc == 0 && !to_stdout)
        report_size(quiet, d.bytes, dst);
    free(d.dst_dir);
    client_response_release(&resp);
    copy_info_release(&srcinfo);
    copy_info_release(&dstinfo);
    return rc;
}

/* ---------------------------------------------------------------- into a container */

static int copy_to(struct client *c, const char *ctr, const char *src_in, const char *dst,
                   bool follow, bool archive, bool quiet)
{
    bool from_stdin = strcmp(src_in, "-") == 0;
    _cleanup_free_ char *src = from_stdin ? xstrdup("-") : local_abs(src_in);
    struct copy_info dstinfo = {.path = xstrdup(dst)};
    struct rootcopy_stat st;
    int r = container_stat(c, ctr, dst, &st);
    if (r < 0) {
        copy_info_release(&dstinfo);
        return WCMD_EXIT_ERROR;
    }
    if (r == 1 && S_ISLNK(st.mode) && st.link_target) {
        /* a symlink destination: what it leads to */
        free(dstinfo.path);
        if (st.link_target[0] == '/') {
            dstinfo.path = xstrdup(st.link_target);
        } else {
            _cleanup_free_ char *pdir = NULL, *pbase = NULL;
            split_dir_entry(dst, &pdir, &pbase);
            _cleanup_free_ char *j = xasprintf("%s/%s", pdir, st.link_target);
            dstinfo.path = go_clean(j);
        }
        rootcopy_stat_release(&st);
        if ((r = container_stat(c, ctr, dstinfo.path, &st)) < 0) {
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
    }
    if (r == 1) {
        const char *bad = bad_output_mode(st.mode);
        if (bad) {
            fprintf(stderr, "destination \"%s:%s\" must be a directory or a regular file: %s\n",
                    ctr, dst, bad);
            rootcopy_stat_release(&st);
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
        dstinfo.exists = true;
        dstinfo.is_dir = S_ISDIR(st.mode);
        rootcopy_stat_release(&st);
    }
    int rc = 0;
    _cleanup_free_ char *dst_dir = NULL, *name = NULL;
    struct copy_info srcinfo = {0};
    int upload_fd = STDIN_FILENO;
    struct tar_job tj = {.root_fd = -1};
    pthread_t thread;
    bool started = false;
    if (from_stdin) {
        if (!dstinfo.is_dir) {
            fprintf(stderr, "destination \"%s:%s\" must be a directory\n", ctr, dst);
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
        dst_dir = xstrdup(dstinfo.path);
    } else {
        if (source_info(src, follow, &srcinfo) < 0 ||
            prepare_copy(&srcinfo, &dstinfo, &dst_dir, &name) < 0) {
            copy_info_release(&srcinfo);
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
        int fds[2];
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0 || pipe2(fds, O_CLOEXEC) < 0) {
            fprintf(stderr, "%s\n", go_err(errno));
            if (root >= 0)
                close(root);
            copy_info_release(&srcinfo);
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
        tj = (struct tar_job){.root_fd = root,
                              .path = srcinfo.path,
                              .name = name ? name : srcinfo.rebase,
                              .fd = fds[1]};
        upload_fd = fds[0];
        if (pthread_create(&thread, NULL, tar_thread, &tj) != 0) {
            fprintf(stderr, "no thread\n");
            close(fds[0]);
            close(fds[1]);
            close(root);
            copy_info_release(&srcinfo);
            copy_info_release(&dstinfo);
            return WCMD_EXIT_ERROR;
        }
        started = true;
    }
    _cleanup_free_ char *eid = wcmd_escape(ctr), *epath = wcmd_escape(dst_dir);
    _cleanup_free_ char *url =
        xasprintf("/containers/%s/archive?path=%s&noOverwriteDirNonDir=true%s", eid, epath,
                  archive ? "&copyUIDGID=true" : "");
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    r = client_upload(c, "PUT", url, "application/x-tar", upload_fd, &resp, &err);
    int64_t bytes = 0;
    if (started) {
        close(upload_fd); /* a tar writer still going gets EPIPE */
        pthread_join(thread, NULL);
        close(tj.root_fd);
    }
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_ERROR;
    } else if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        rc = WCMD_EXIT_ERROR;
    } else if (started && tj.result < 0) {
        fprintf(stderr, "%s\n", tj.err.msg);
        rc = WCMD_EXIT_ERROR;
    }
    if (rc == 0 && !from_stdin) {
        bytes = tj.bytes;
        _cleanup_free_ char *where = xasprintf("%s:%s", ctr, dstinfo.path);
        report_size(quiet, bytes, where);
    }
    client_response_release(&resp);
    copy_info_release(&srcinfo);
    copy_info_release(&dstinfo);
    return rc;
}

/* ---------------------------------------------------------------- the command */

/* docker's splitCpArg: "CONTAINER:PATH", unless an absolute or ./ path */
static void split_arg(const char *arg, char **ctr, const char **path)
{
    *ctr = NULL;
    *path = arg;
    if (arg[0] == '/')
        return;
    const char *colon = strchr(arg, ':');
    if (!colon || arg[0] == '.')
        return;
    *ctr = xasprintf("%.*s", (int)(colon - arg), arg);
    *path = colon + 1;
}

int wcmd_cp(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"archive", no_argument, 0, 'a'},
        {"follow-link", no_argument, 0, 'L'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool archive = false, follow = false, quiet = false, quiet_given = false;
    int ch;
    wcmd_getopt_reset();
    /* docker takes flags after the arguments too */
    while ((ch = getopt_long(argc, argv, "aLqh", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            archive = true;
            break;
        case 'L':
            follow = true;
            break;
        case 'q':
            quiet = quiet_given = true;
            break;
        case 'h':
            printf("Usage:  wharf cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
                   "\twharf cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
                   "Copy files/folders between a container and the local filesystem\n");
            return 0;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires 2 arguments", ctx->name);
    const char *a = argv[optind], *b = argv[optind + 1];
    if (!*a) {
        fprintf(stderr, "source can not be empty\n");
        return WCMD_EXIT_ERROR;
    }
    if (!*b) {
        fprintf(stderr, "destination can not be empty\n");
        return WCMD_EXIT_ERROR;
    }
    /* progress only for a terminal, unless asked */
    if (!quiet_given)
        quiet = !isatty(STDOUT_FILENO);
    _cleanup_free_ char *src_ctr = NULL, *dst_ctr = NULL;
    const char *src, *dst;
    split_arg(a, &src_ctr, &src);
    split_arg(b, &dst_ctr, &dst);
    if (src_ctr && dst_ctr) {
        fprintf(stderr, "copying between containers is not supported\n");
        return WCMD_EXIT_ERROR;
    }
    if (!src_ctr && !dst_ctr) {
        fprintf(stderr, "must specify at least one container source\n");
        return WCMD_EXIT_ERROR;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = src_ctr ? copy_from(c, src_ctr, src, dst, follow, quiet)
                     : copy_to(c, dst_ctr, src, dst, follow, archive, quiet);
    client_free(c);
    return rc;
}
