/* error.c — the wharf_error object, allocation wrappers and cleanup helpers. */
#include "base.h"

#include <errno.h>
#include <string.h>

static int normalize(int code)
{
    if (code > 0)
        return -code;
    return code == 0 ? -EIO : code;
}

int wharf_error_set(wharf_error *err, int code, const char *fmt, ...)
{
    code = normalize(code);
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int wharf_error_errno(wharf_error *err, int errnum, const char *fmt, ...)
{
    int code = normalize(errnum);
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(-code));
    err->code = code;
    return code;
}

int wharf_error_prefix(wharf_error *err, const char *fmt, ...)
{
    if (!err)
        return -EIO;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[sizeof(err->msg)];
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    if (err->code == 0)
        err->code = -EIO;
    return err->code;
}

void wharf_error_clear(wharf_error *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}

void wharf_freep(void *p)
{
    free(*(void **)p);
}

void wharf_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

void wharf_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static void oom(void)
{
    static const char msg[] = "wharf: out of memory\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    char *p;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    return p;
}
