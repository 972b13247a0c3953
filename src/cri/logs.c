/*
 * logs.c — reading the CRI log files the shim writes:
 *   "<RFC3339Nano> <stdout|stderr> <F|P> <content>\n"
 * with tail, since/until, stream selection and follow. The file is read
 * whole (the shim's rotation bounds its size); in follow mode the reader
 * keeps its offset and notices truncation (rotation with one file) by the
 * size shrinking and renames (rotation with more) by the inode changing.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cri_internal.h"

static int two(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int cri_parse_time(const char *s, size_t len, struct timespec *out)
{
    /* 2026-11-22T05:12:03[.fraction](Z|+hh:mm|-hh:mm) */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -EINVAL;
    int y1 = two(s), y2 = two(s + 2), mon = two(s + 5), day = two(s + 8), h = two(s + 11),
        min = two(s + 14), sec = two(s + 17);
    if (y1 < 0 || y2 < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || h < 0 || h > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = y1 * 100 + y2 - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = h, .tm_min = min, .tm_sec = sec};
    size_t i = 19;
    long nsec = 0;
    if (i < len && s[i] == '.') {
        i++;
        long scale = 100000000;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            nsec += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            digits++;
        }
        if (digits == 0)
            return -EINVAL;
    }
    if (i >= len)
        return -EINVAL;
    long offset = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 <= len && s[i + 3] == ':') {
        int oh = two(s + i + 1), om = two(s + i + 4);
        if (oh < 0 || om < 0)
            return -EINVAL;
        offset = (oh * 3600L + om * 60L) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -EINVAL;
    }
    if (i != len)
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    out->tv_sec = t - offset;
    out->tv_nsec = nsec;
    return 0;
}

static bool is_set(const struct timespec *t)
{
    return t->tv_sec || t->tv_nsec;
}

static int cmp_time(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

/* Parses one line (without its '\n'); false for a malformed one. */
static bool parse_line(char *line, size_t len, struct cri_log_record *rec)
{
    char *sp1 = memchr(line, ' ', len);
    if (!sp1)
        return false;
    size_t tslen = (size_t)(sp1 - line);
    if (cri_parse_time(line, tslen, &rec->time) < 0)
        return false;
    char *p = sp1 + 1;
    size_t left = len - tslen - 1;
    if (left >= 7 && memcmp(p, "stdout ", 7) == 0)
        rec->stream = CRI_STREAM_STDOUT;
    else if (left >= 7 && memcmp(p, "stderr ", 7) == 0)
        rec->stream = CRI_STREAM_STDERR;
    else
        return false;
    p += 7;
    left -= 7;
    if (left < 1 || (p[0] != 'F' && p[0] != 'P'))
        return false;
    rec->partial = p[0] == 'P';
    if (left >= 2 && p[1] != ' ')
        return false;
    rec->content = left >= 2 ? p + 2 : p + 1;
    rec->len = left >= 2 ? left - 2 : 0;
    line[tslen] = '\0'; /* the timestamp becomes a C string for the record */
    rec->timestamp = line;
    return true;
}

static bool wanted(const struct cri_log_opts *o, const struct cri_log_record *rec)
{
    unsigned streams = o->streams ? o->streams : (1u << CRI_STREAM_STDOUT) | (1u << CRI_STREAM_STDERR);
    if (!(streams & (1u << rec->stream)))
        return false;
    if (is_set(&o->since) && cmp_time(&rec->time, &o->since) < 0)
        return false;
    if (is_set(&o->until) && cmp_time(&rec->time, &o->until) > 0)
        return false;
    return true;
}

/* Emits the complete lines of buf[0..len); returns the bytes consumed, or
 * a callback's nonzero value through *stop. With tail >= 0 only the last
 * tail wanted records are emitted. */
static size_t emit_lines(char *buf, size_t len, const struct cri_log_opts *o, long tail,
                         cri_log_fn fn, void *ud, int *stop)
{
    size_t skip = 0;
    if (tail >= 0) {
        size_t count = 0;
        for (size_t pos = 0; pos < len;) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl)
                break;
            size_t l = (size_t)(nl - (buf + pos));
            _cleanup_free_ char *copy = xmalloc(l + 1);
            memcpy(copy, buf + pos, l);
            struct cri_log_record rec;
            if (parse_line(copy, l, &rec) && wanted(o, &rec))
                count++;
            pos += l + 1;
        }
        skip = count > (size_t)tail ? count - (size_t)tail : 0;
    }
    size_t pos = 0;
    while (pos < len) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            break;
        size_t l = (size_t)(nl - (buf + pos));
        struct cri_log_record rec;
        if (parse_line(buf + pos, l, &rec) && wanted(o, &rec)) {
            if (skip > 0) {
                skip--;
            } else {
                int r = fn(&rec, ud);
                if (r) {
                    *stop = r;
                    return pos + l + 1;
                }
            }
        }
        pos += l + 1;
    }
    return pos;
}

int cri_log_read(const char *path, const struct cri_log_opts *opts, cri_log_fn fn, void *ud,
                 wharf_error *err)
{
    struct cri_log_opts dflt = {.tail = -1};
    const struct cri_log_opts *o = opts ? opts : &dflt;
    _cleanup_close_ int fd = -1;
    _cleanup_strbuf_ strbuf pending = STRBUF_INIT;
    struct stat st = {0};
    long tail = o->tail;
    int stop = 0;
    bool last_round = false;
    int poll_ms = o->poll_ms > 0 ? o->poll_ms : 100;
    /* The interval starts at 2 ms after anything new and grows to poll_ms
     * while the file stays still, so a quick command's output and end come
     * through at once and an idle follower costs little. */
    int wait_ms = 2;
    off_t offset = 0, seen = 0;
    while (true) {
        if (fd < 0) {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 && errno != ENOENT)
                return wharf_error_errno(err, errno, "log %s", path);
            if (fd >= 0 && fstat(fd, &st) < 0)
                return wharf_error_errno(err, errno, "log %s", path);
            offset = 0;
        }
        if (fd >= 0) {
            char buf[65536];
            ssize_t n;
            while ((n = pread(fd, buf, sizeof(buf), offset)) > 0) {
                strbuf_add(&pending, buf, (size_t)n);
                offset += n;
            }
            if (n < 0)
                return wharf_error_errno(err, errno, "read log %s", path);
            size_t used = emit_lines(pending.buf, pending.len, o, tail, fn, ud, &stop);
            tail = -1; /* tail applies to what exists when reading starts */
            if (stop)
                return stop;
            if (used < pending.len)
                memmove(pending.buf, pending.buf + used, pending.len - used);
            pending.len -= used;
            if (pending.buf)
                pending.buf[pending.len] = '\0';
        }
        if (!o->follow || last_round)
            return 0;
        if (o->keep_following && !o->keep_following(ud)) {
            last_round = true; /* whatever was written before the end */
            continue;
        }
        wait_ms = offset != seen ? 2 : (wait_ms * 3 / 2 < poll_ms ? wait_ms * 3 / 2 : poll_ms);
        seen = offset;
        struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* Rotation: a new file at path, or the same one truncated. */
        struct stat now;
        if (stat(path, &now) == 0 && fd >= 0 &&
            (now.st_ino != st.st_ino || now.st_dev != st.st_dev || now.st_size < offset)) {
            close(fd);
            fd = -1;
            strbuf_reset(&pending);
        }
    }
}
