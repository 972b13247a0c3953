/*
 * logfile.c — the shim's files: the CRI container log (with rotation), the
 * exit.json record, and the few bits of JSON the shim reads and writes.
 *
 * JSON is written with snprintf and a tiny escaper, and the runtime's log is
 * scanned by hand, because the shim is linked statically and must not pull
 * in a JSON library.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

struct log_stream {
    char *buf; /* SHIM_LOG_LINE_MAX bytes, allocated on first use */
    size_t len;
};

struct shim_log {
    char *path;
    int fd;
    uint64_t size; /* current size of the live file */
    uint64_t max_size;
    unsigned max_files;
    bool strip_cr;
    struct log_stream streams[2]; /* stdout, stderr */
};

const char *shim_format_time(const struct timespec *ts, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%09ldZ", ts->tv_nsec);
    return buf;
}

static int open_live(struct shim_log *log, bool truncate, wharf_error *err)
{
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    int fd = open(log->path, flags, 0640);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open log %s", log->path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return wharf_error_errno(err, e, "stat log %s", log->path);
    }
    if (log->fd >= 0)
        close(log->fd);
    log->fd = fd;
    log->size = (uint64_t)st.st_size;
    return 0;
}

int shim_log_open(const char *path, uint64_t max_size, unsigned max_files, bool strip_cr,
                  struct shim_log **out, wharf_error *err)
{
    struct shim_log *log = xcalloc(1, sizeof(*log));
    log->path = xstrdup(path);
    log->fd = -1;
    log->max_size = max_size;
    log->max_files = max_files ? max_files : 1;
    log->strip_cr = strip_cr;
    int r = open_live(log, false, err);
    if (r < 0) {
        free(log->path);
        free(log);
        return r;
    }
    *out = log;
    return 0;
}

/* path.N-1 → path.N down to path → path.1, dropping the oldest; with a single
 * file there is nothing to keep, so the live file starts over. */
static int rotate(struct shim_log *log, wharf_error *err)
{
    if (log->max_files <= 1)
        return open_live(log, true, err);
    char from[4096], to[4096];
    snprintf(to, sizeof(to), "%s.%u", log->path, log->max_files - 1);
    if (unlink(to) < 0 && errno != ENOENT)
        return wharf_error_errno(err, errno, "remove %s", to);
    for (unsigned i = log->max_files - 1; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof(from), "%s", log->path);
        else
            snprintf(from, sizeof(from), "%s.%u", log->path, i - 1);
        snprintf(to, sizeof(to), "%s.%u", log->path, i);
        if (rename(from, to) < 0 && errno != ENOENT)
            return wharf_error_errno(err, errno, "rotate %s to %s", from, to);
    }
    return open_live(log, false, err);
}

/* One record: the header, content in two pieces (buffered + new data, so
 * nothing is copied), and the newline. */
static int emit(struct shim_log *log, int stream, char tag, const char *a, size_t alen,
                const char *b, size_t blen, wharf_error *err)
{
    char ts[48], header[96];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int hlen = snprintf(header, sizeof(header), "%s %s %c ", shim_format_time(&now, ts, sizeof(ts)),
                        stream == SHIM_STREAM_STDERR ? "stderr" : "stdout", tag);
    uint64_t rec = (uint64_t)hlen + alen + blen + 1;
    if (log->max_size > 0 && log->size > 0 && log->size + rec > log->max_size) {
        int r = rotate(log, err);
        if (r < 0)
            return r;
    }
    struct iovec iov[4] = {
        {header, (size_t)hlen}, {(void *)a, alen}, {(void *)b, blen}, {(void *)"\n", 1}};
    struct iovec *v = iov;
    int cnt = 4;
    size_t left = (size_t)rec;
    while (left > 0) {
        ssize_t n = writev(log->fd, v, cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return wharf_error_errno(err, errno, "write log %s", log->path);
        }
        log->size += (uint64_t)n;
        left -= (size_t)n;
        /* A short write (disk full, signal): carry on from where it stopped. */
        while (cnt > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static struct log_stream *stream_of(struct shim_log *log, int stream)
{
    return &log->streams[stream == SHIM_STREAM_STDERR ? 1 : 0];
}

int shim_log_write(struct shim_log *log, int stream, const void *data, size_t len, wharf_error *err)
{
    struct log_stream *s = stream_of(log, stream);
    const char *p = data;
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t take = nl ? (size_t)(nl - p) : len;
        if (s->len + take > SHIM_LOG_LINE_MAX) {
            size_t part = SHIM_LOG_LINE_MAX - s->len;
            int r = emit(log, stream, 'P', s->buf, s->len, p, part, err);
            s->len = 0;
            if (r < 0)
                return r;
            p += part;
            len -= part;
            continue;
        }
        if (!nl) {
            if (!s->buf)
                s->buf = xmalloc(SHIM_LOG_LINE_MAX);
            memcpy(s->buf + s->len, p, take);
            s->len += take;
            break;
        }
        size_t blen = take, alen = s->len;
        if (log->strip_cr) {
            if (blen > 0 && p[blen - 1] == '\r')
                blen--;
            else if (blen == 0 && alen > 0 && s->buf[alen - 1] == '\r')
                alen--;
        }
        int r = emit(log, stream, 'F', s->buf, alen, p, blen, err);
        s->len = 0;
        if (r < 0)
            return r;
        p += take + 1;
        len -= take + 1;
    }
    return 0;
}

int shim_log_flush(struct shim_log *log, int stream, wharf_error *err)
{
    struct log_stream *s = stream_of(log, stream);
    if (s->len == 0)
        return 0;
    int r = emit(log, stream, 'P', s->buf, s->len, NULL, 0, err);
    s->len = 0;
    return r;
}

void shim_log_close(struct shim_log *log)
{
    if (!log)
        return;
    shim_log_flush(log, SHIM_STREAM_STDOUT, NULL);
    shim_log_flush(log, SHIM_STREAM_STDERR, NULL);
    if (log->fd >= 0)
        close(log->fd);
    free(log->streams[0].buf);
    free(log->streams[1].buf);
    free(log->path);
    free(log);
}

/* ---------------------------------------------------------------- JSON */

int shim_json_escape(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[6];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            tmp[k++] = '\\';
            tmp[k++] = (char)c;
        } else if (c == '\n') {
            tmp[k++] = '\\';
            tmp[k++] = 'n';
        } else if (c == '\t') {
            tmp[k++] = '\\';
            tmp[k++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(tmp, "\\u00", 4);
            k = 4;
            tmp[k++] = hex[c >> 4];
            tmp[k++] = hex[c & 15];
        } else {
            tmp[k++] = (char)c;
        }
        if (n + k >= len)
            return -ENOSPC;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    if (n >= len)
        return -ENOSPC;
    buf[n] = '\0';
    return (int)n;
}

void shim_exit_from_status(struct shim_exit *ex, int status, const struct timespec *when)
{
    memset(ex, 0, sizeof(*ex));
    if (WIFSIGNALED(status)) {
        ex->signal = WTERMSIG(status);
        ex->exit_code = 128 + ex->signal;
    } else {
        ex->exit_code = WEXITSTATUS(status);
    }
    ex->exited_at = *when;
}

int shim_exit_format(const char *id, const struct shim_exit *ex, char *buf, size_t len)
{
    char esc[1024], ts[48];
    if (shim_json_escape(id, esc, sizeof(esc)) < 0)
        return -ENOSPC;
    int n =
        snprintf(buf, len,
                 "{\"id\": \"%s\", \"exit_code\": %d, \"signal\": %d, \"exited_at\": \"%s\", "
                 "\"oom_killed\": %s}\n",
                 esc, ex->exit_code, ex->signal, shim_format_time(&ex->exited_at, ts, sizeof(ts)),
                 ex->oom_killed ? "true" : "false");
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

int shim_exit_write(const char *path, const char *id, const struct shim_exit *ex, wharf_error *err)
{
    char buf[1536];
    int n = shim_exit_format(id, ex, buf, sizeof(buf));
    if (n < 0)
        return wharf_error_set(err, n, "%s: container id too long for the exit record", path);
    return wharf_write_file_atomic(path, buf, (size_t)n, 0644, err);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes the JSON string starting after its opening quote at p (up to end)
 * into buf; returns the length or -EINVAL for an unterminated string. */
static int json_unescape(const char *p, const char *end, char *buf, size_t len)
{
    size_t n = 0;
    while (p < end && *p != '"') {
        char c = *p++;
        unsigned cp = (unsigned char)c;
        if (c == '\\') {
            if (p >= end)
                return -EINVAL;
            char e = *p++;
            switch (e) {
            case 'n':
                cp = '\n';
                break;
            case 't':
                cp = '\t';
                break;
            case 'r':
                cp = '\r';
                break;
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'u': {
                if (end - p < 4)
                    return -EINVAL;
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(p[i]);
                    if (h < 0)
                        return -EINVAL;
                    cp = cp * 16 + (unsigned)h;
                }
                p += 4;
                break;
            }
            default:
                cp = (unsigned char)e;
                break;
            }
        }
        /* \u escapes become UTF-8 (surrogates, which runtimes do not emit
         * for messages, come out as '?'). */
        char tmp[3];
        size_t k = 0;
        if (cp >= 0xd800 && cp <= 0xdfff) {
            tmp[k++] = '?';
        } else if (cp < 0x80 || c != '\\') {
            tmp[k++] = (char)cp;
        } else if (cp < 0x800) {
            tmp[k++] = (char)(0xc0 | (cp >> 6));
            tmp[k++] = (char)(0x80 | (cp & 0x3f));
        } else {
            tmp[k++] = (char)(0xe0 | (cp >> 12));
            tmp[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[k++] = (char)(0x80 | (cp & 0x3f));
        }
        if (n + k < len) {
            memcpy(buf + n, tmp, k);
            n += k;
        }
    }
    if (p >= end)
        return -EINVAL;
    if (len > 0)
        buf[n] = '\0';
    return (int)n;
}

/* Finds `"key"` followed by ':' and a string value within [line, end);
 * returns a pointer just past the value's opening quote. */
static const char *find_string_value(const char *line, const char *end, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = line; p + klen + 2 <= end; p++) {
        if (*p != '"' || memcmp(p + 1, key, klen) != 0 || p[klen + 1] != '"')
            continue;
        const char *q = p + klen + 2;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || *q != ':')
            continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < end && *q == '"')
            return q + 1;
    }
    return NULL;
}

int shim_runtime_log_error(const char *log_text, char *buf, size_t len)
{
    int found = -ENOENT;
    const char *line = log_text;
    while (*line) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        const char *level = find_string_value(line, end, "level");
        if (level && ((end - level > 5 && memcmp(level, "error\"", 6) == 0) ||
                      (end - level > 5 && memcmp(level, "fatal\"", 6) == 0))) {
            const char *msg = find_string_value(line, end, "msg");
            if (msg) {
                int n = json_unescape(msg, end, buf, len);
                if (n >= 0)
                    found = n;
            }
        }
        line = *end ? end + 1 : end;
    }
    return found;
}
