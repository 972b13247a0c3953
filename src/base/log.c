/* log.c — runc-compatible log lines (logrus text or JSON) for --log, and
 * times as text (RFC 3339, Docker's human durations). */
#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

static int log_fd = -1;
static enum wharf_log_format log_format = WHARF_LOG_TEXT;
static bool log_debug;

int wharf_log_open(const char *path, enum wharf_log_format fmt, bool debug, wharf_error *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open log %s", path);
    wharf_log_set_fd(fd, fmt, debug);
    return 0;
}

void wharf_log_set_fd(int fd, enum wharf_log_format fmt, bool debug)
{
    if (log_fd >= 0 && log_fd != fd)
        close(log_fd);
    log_fd = fd;
    log_format = fmt;
    log_debug = debug;
}

int wharf_log_fd(void)
{
    return log_fd;
}

double wharf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *wharf_time_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

void wharf_human_duration(int64_t seconds, strbuf *out)
{
    /* The thresholds of go-units' HumanDuration, which docker uses. */
    if (seconds < 1) {
        strbuf_addstr(out, "Less than a second");
        return;
    }
    if (seconds == 1) {
        strbuf_addstr(out, "1 second");
        return;
    }
    if (seconds < 60) {
        strbuf_addf(out, "%lld seconds", (long long)seconds);
        return;
    }
    int64_t minutes = seconds / 60;
    if (minutes == 1) {
        strbuf_addstr(out, "About a minute");
        return;
    }
    if (minutes < 60) {
        strbuf_addf(out, "%lld minutes", (long long)minutes);
        return;
    }
    int64_t hours = (int64_t)((double)seconds / 3600.0 + 0.5);
    if (hours == 1)
        strbuf_addstr(out, "About an hour");
    else if (hours < 48)
        strbuf_addf(out, "%lld hours", (long long)hours);
    else if (hours < 24 * 7 * 2)
        strbuf_addf(out, "%lld days", (long long)(hours / 24));
    else if (hours < 24 * 30 * 2)
        strbuf_addf(out, "%lld weeks", (long long)(hours / 24 / 7));
    else if (hours < 24 * 365 * 2)
        strbuf_addf(out, "%lld months", (long long)(hours / 24 / 30));
    else
        strbuf_addf(out, "%lld years", (long long)(seconds / 3600 / 24 / 365));
}

int wharf_parse_go_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
        {"ns", 1},       {"us", 1000},         {"\xc2\xb5s", 1000},   {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000ULL}, {"m", 60000000000ULL}, {"h", 3600000000000ULL}};
    const uint64_t max = (uint64_t)INT64_MAX + 1; /* the most a negative one may reach */
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return -EINVAL;
    uint64_t total = 0;
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1;
        bool digits = false;
        for (; isdigit((unsigned char)*p); p++, digits = true) {
            if (whole > (max - 9) / 10)
                return -ERANGE;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++, digits = true) {
                if (scale < 1000000000000000000ULL) { /* further digits are below 1ns */
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
            }
        }
        if (!digits)
            return -EINVAL;
        size_t best = 0;
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);
            if (n > best && strncmp(p, units[i].unit, n) == 0) {
                best = n;
                unit = units[i].ns;
            }
        }
        if (!best)
            return -EINVAL;
        p += best;
        if (whole > max / unit)
            return -ERANGE;
        uint64_t v =
            whole * unit + (uint64_t)((long double)frac * (long double)unit / (long double)scale);
        if (v > max - total)
            return -ERANGE;
        total += v;
    }
    if (!neg && total > (uint64_t)INT64_MAX)
        return -ERANGE;
    *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

/* v / 10^prec as ".ddd" without trailing zeros (nothing for a whole number)
 * prepended at *w in buf; returns v / 10^prec. */
static uint64_t go_frac(char *buf, size_t *w, uint64_t v, int prec)
{
    bool print = false;
    for (int i = 0; i < prec; i++) {
        int digit = (int)(v % 10);
        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--*w] = '.';
    return v;
}

static void go_int(char *buf, size_t *w, uint64_t v)
{
    do {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
}

void wharf_format_go_duration(int64_t ns, strbuf *out)
{
    char buf[40];
    size_t w = sizeof(buf);
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    if (u == 0) {
        strbuf_addstr(out, "0s");
        return;
    }
    buf[--w] = 's';
    if (u < 1000000000ULL) {
        /* under a second: the largest unit below it, with a fraction */
        int prec;
        if (u < 1000) {
            prec = 0;
            buf[--w] = 'n';
        } else if (u < 1000000) {
            prec = 3;
            buf[--w] = '\xb5'; /* U+00B5, the micro sign Go prints */
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        u = go_frac(buf, &w, u, prec);
        go_int(buf, &w, u);
    } else {
        u = go_frac(buf, &w, u, 9);
        go_int(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            go_int(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                go_int(buf, &w, u);
            }
        }
    }
    if (ns < 0)
        buf[--w] = '-';
    strbuf_add(out, buf + w, sizeof(buf) - w);
}

static void json_escape(strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            strbuf_addf(sb, "\\%c", c);
        else if (c == '\n')
            strbuf_addstr(sb, "\\n");
        else if (c < 0x20)
            strbuf_addf(sb, "\\u%04x", c);
        else
            strbuf_addch(sb, (char)c);
    }
}

void wharf_log(enum wharf_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level == WHARF_LOG_DEBUG && !log_debug)
        return;
    int saved = errno;
    strbuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);

    if (log_fd < 0) {
        if (level <= WHARF_LOG_WARN || log_debug) {
            strbuf line = STRBUF_INIT;
            strbuf_addf(&line, "%s\n", strbuf_str(&msg));
            (void)!write(2, line.buf, line.len);
            strbuf_release(&line);
        }
        strbuf_release(&msg);
        errno = saved;
        return;
    }
    char ts[48];
    wharf_time_rfc3339(ts, sizeof(ts));
    strbuf line = STRBUF_INIT;
    if (log_format == WHARF_LOG_JSON) {
        strbuf_addf(&line, "{\"level\":\"%s\",\"msg\":\"", names[level]);
        json_escape(&line, strbuf_str(&msg));
        strbuf_addf(&line, "\",\"time\":\"%s\"}\n", ts);
    } else {
        strbuf_addf(&line, "time=\"%s\" level=%s msg=\"", ts, names[level]);
        json_escape(&line, strbuf_str(&msg));
        strbuf_addstr(&line, "\"\n");
    }
    wharf_write_all(log_fd, line.buf, line.len);
    strbuf_release(&line);
    strbuf_release(&msg);
    errno = saved;
}

int64_t wharf_parse_ram(const char *s)
{
    /* ^\d+(\.\d+)* ?[kmgtp]?i?b?$ without regard to case */
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1])))
        p++;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end != p)
        return -1;
    if (*p == ' ')
        p++;
    static const char units[] = "kmgtp";
    const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
    int shift = u ? 10 * (int)(u - units + 1) : 0;
    if (u)
        p++;
    if (tolower((unsigned char)*p) == 'i')
        p++;
    if (tolower((unsigned char)*p) == 'b')
        p++;
    if (*p)
        return -1;
    double bytes = v * (double)(1LL << shift);
    return bytes >= 9.2e18 ? -1 : (int64_t)bytes;
}
