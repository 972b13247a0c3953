/* dockerignore.c — .dockerignore patterns with Docker's rules.
 *
 * A pattern is cleaned like a path (duplicate slashes, "." and ".."
 * resolved lexically, a leading '/' dropped) and matched against the whole
 * '/'-separated context path: '*' is any run of characters other than '/',
 * '?' one such character, "[...]" a character class, '\' quotes the next
 * character, and "**" is any number of directories ("**" at the end:
 * anything). The last pattern that matches decides, "!" patterns bring
 * files back, and a pattern that matches a directory matches everything
 * under it. */
#include "build.h"

#include <errno.h>
#include <string.h>

struct ignore_pattern {
    char *text; /* cleaned, without '!' */
    bool exception;
};

struct build_ignore {
    struct ignore_pattern *p;
    size_t n, cap;
    bool has_exceptions;
};

/* ---------------------------------------------------------------- matching */

/* A "[...]" class at p (just past '['): whether c is in it; *end is set
 * past the closing ']'. False with *end NULL when the class is unclosed. */
static bool class_match(const char *p, char c, const char **end)
{
    /* Go's regexp class syntax (Docker compiles patterns to regexps): '^'
     * negates, '!' is an ordinary character */
    bool negate = *p == '^', hit = false;
    if (negate)
        p++;
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        char lo = *p++;
        if (lo == '\\' && *p)
            lo = *p++;
        char hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            hi = *p++;
            if (hi == '\\' && *p)
                hi = *p++;
        }
        if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
            hit = true;
    }
    if (*p != ']') {
        *end = NULL;
        return false;
    }
    *end = p + 1;
    return hit != negate;
}

/* Matching is a recursion over (pattern position, path position) whose
 * results are remembered, so patterns full of stars stay polynomial: a
 * .dockerignore is read by the daemon too. */
struct matcher {
    const char *pat, *str;
    size_t plen, slen;
    unsigned char *memo; /* (plen + 1) * (slen + 1): 0 unknown, 1 no, 2 yes */
};

static bool match_at(struct matcher *m, size_t pi, size_t si);

static bool match_memo(struct matcher *m, size_t pi, size_t si)
{
    unsigned char *slot = m->memo ? &m->memo[pi * (m->slen + 1) + si] : NULL;
    if (slot && *slot)
        return *slot == 2;
    bool r = match_at(m, pi, si);
    if (slot)
        *slot = r ? 2 : 1;
    return r;
}

static bool match_at(struct matcher *m, size_t pi, size_t si)
{
    const char *p = m->pat + pi, *s = m->str + si;
    for (;;) {
        char c = *p;
        if (!c)
            return !*s;
        if (c == '*' && p[1] == '*') {
            p += 2;
            if (*p == '/')
                p++;
            if (!*p)
                return true; /* "**" at the end: everything */
            /* the regexp "(.* then /)?": nothing, or anything through a slash */
            size_t np = (size_t)(p - m->pat);
            if (match_memo(m, np, (size_t)(s - m->str)))
                return true;
            for (const char *q = s; *q; q++)
                if (*q == '/' && match_memo(m, np, (size_t)(q + 1 - m->str)))
                    return true;
            return false;
        }
        if (c == '*') {
            size_t np = (size_t)(p + 1 - m->pat);
            for (const char *q = s;; q++) {
                if (match_memo(m, np, (size_t)(q - m->str)))
                    return true;
                if (!*q || *q == '/')
                    return false;
            }
        }
        if (!*s)
            return false;
        if (c == '?') {
            if (*s == '/')
                return false;
            p++;
            s++;
            continue;
        }
        if (c == '[') {
            const char *end;
            if (!class_match(p + 1, *s, &end))
                return false;
            p = end;
            s++;
            continue;
        }
        if (c == '\\' && p[1])
            c = *++p;
        if (c != *s)
            return false;
        p++;
        s++;
    }
}

static bool match_here(const char *pattern, const char *path)
{
    struct matcher m = {pattern, path, strlen(pattern), strlen(path), NULL};
    if (strchr(pattern, '*')) {
        size_t cells = (m.plen + 1) * (m.slen + 1);
        if (cells <= (64u << 20))
            m.memo = xcalloc(cells, 1);
    }
    bool r = match_at(&m, 0, 0);
    free(m.memo);
    return r;
}

bool build_pattern_match(const char *pattern, const char *path)
{
    return match_here(pattern, path);
}

/* Go's filepath.Match syntax check: classes closed, no dangling '\'. */
static bool pattern_valid(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return false;
            p++;
        } else if (*p == '[') {
            const char *end;
            class_match(p + 1, 'a', &end);
            if (!end)
                return false;
            p = end - 1;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- cleaning */

/* Go's filepath.Clean for '/'-separated paths. */
static char *clean_path(const char *in)
{
    bool rooted = in[0] == '/';
    char *copy = xstrdup(in);
    char **parts = xcalloc(strlen(in) + 1, sizeof(char *));
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            if (n > 0 && strcmp(parts[n - 1], "..") != 0)
                n--;
            else if (!rooted)
                parts[n++] = t;
            continue;
        }
        parts[n++] = t;
    }
    strbuf sb = STRBUF_INIT;
    if (rooted)
        strbuf_addch(&sb, '/');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addch(&sb, '/');
        strbuf_addstr(&sb, parts[i]);
    }
    if (!sb.len)
        strbuf_addch(&sb, '.');
    free(parts);
    free(copy);
    return strbuf_detach(&sb);
}

static void add_pattern(struct build_ignore *ig, const char *cleaned, bool exception)
{
    if (ig->n == ig->cap) {
        ig->cap = ig->cap ? 2 * ig->cap : 16;
        ig->p = xrealloc(ig->p, ig->cap * sizeof(*ig->p));
    }
    ig->p[ig->n++] = (struct ignore_pattern){xstrdup(cleaned), exception};
    if (exception)
        ig->has_exceptions = true;
}

int build_ignore_parse(const char *text, size_t len, struct build_ignore **out, wharf_error *err)
{
    struct build_ignore *ig = xcalloc(1, sizeof(*ig));
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        _cleanup_free_ char *raw = xmalloc(l + 1);
        memcpy(raw, p, l);
        raw[l] = '\0';
        p = nl ? nl + 1 : end;
        if (raw[0] == '#')
            continue;
        char *s = raw;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
            s++;
        size_t sl = strlen(s);
        while (sl > 0 && strchr(" \t\r\v\f", s[sl - 1]))
            s[--sl] = '\0';
        if (!*s)
            continue;
        bool exception = s[0] == '!';
        if (exception) {
            s++;
            while (*s == ' ' || *s == '\t')
                s++;
            if (!*s) {
                build_ignore_free(ig);
                return wharf_error_set(err, -EINVAL,
                                       ".dockerignore:%d: illegal exclusion pattern: \"!\"", line);
            }
        }
        _cleanup_free_ char *cleaned = clean_path(s);
        const char *c = cleaned;
        if (c[0] == '/' && c[1])
            c++;
        if (!pattern_valid(c)) {
            build_ignore_free(ig);
            return wharf_error_set(err, -EINVAL, ".dockerignore:%d: syntax error in pattern: %s",
                                   line, s);
        }
        add_pattern(ig, c, exception);
    }
    *out = ig;
    return 0;
}

void build_ignore_free(struct build_ignore *ig)
{
    if (!ig)
        return;
    for (size_t i = 0; i < ig->n; i++)
        free(ig->p[i].text);
    free(ig->p);
    free(ig);
}

void build_ignore_keep(struct build_ignore *ig, const char *path)
{
    if (!ig || !build_ignore_excludes(ig, path))
        return;
    _cleanup_free_ char *cleaned = clean_path(path);
    add_pattern(ig, cleaned, true);
}

bool build_ignore_excludes(const struct build_ignore *ig, const char *path)
{
    if (!ig)
        return false;
    _cleanup_free_ char *file = clean_path(path);
    bool matched = false;
    for (size_t i = 0; i < ig->n; i++) {
        const struct ignore_pattern *pat = &ig->p[i];
        /* an exception only matters once something matched, and a match
         * only needs looking for while nothing has */
        if (pat->exception != matched)
            continue;
        bool hit = match_here(pat->text, file);
        /* or a parent directory of the path */
        for (char *slash = strchr(file, '/'); !hit && slash; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            hit = match_here(pat->text, file);
            *slash = '/';
        }
        if (hit)
            matched = !pat->exception;
    }
    return matched;
}

bool build_ignore_walk_excluded_dir(const struct build_ignore *ig, const char *dir)
{
    if (!ig || !ig->has_exceptions)
        return false;
    _cleanup_free_ char *d = clean_path(dir);
    _cleanup_free_ char *prefix = xasprintf("%s/", d);
    for (size_t i = 0; i < ig->n; i++) {
        if (!ig->p[i].exception)
            continue;
        _cleanup_free_ char *pat = xasprintf("%s/", ig->p[i].text);
        if (strncmp(pat, prefix, strlen(prefix)) == 0)
            return true;
    }
    return false;
}
