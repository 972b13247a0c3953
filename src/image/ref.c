/* ref.c — image references normalised as Docker does: a first component
 * with '.' or ':' (or "localhost") is a registry, otherwise docker.io; a
 * single-component docker.io name lives under "library/" ("index.docker.io"
 * is docker.io); no tag means "latest". Built alone as well (wharf_image_ref)
 * for the CLI, which needs references but none of the store. */
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

bool image_digest_valid(const char *digest)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
        return false;
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void image_ref_free(image_ref *ref)
{
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

static bool alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
    if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (alnum_lower(s[i]))
            continue;
        if (s[i] == '.' || s[i] == '_') {
            size_t run = 1;
            while (i + run < n && s[i + run] == s[i])
                run++;
            if (s[i] == '.' ? run > 1 : run > 2)
                return false;
            i += run - 1;
        } else if (s[i] != '-') {
            return false;
        }
    }
    return true;
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

/* host (dot-separated [A-Za-z0-9-] labels, or [IPv6]) and an optional :port */
static bool domain_valid(const char *d)
{
    const char *p = d;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close == p + 1)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (!(isxdigit((unsigned char)*q) || *q == ':' || *q == '.'))
                return false;
        p = close + 1;
    } else {
        for (;;) {
            const char *start = p;
            while (isalnum((unsigned char)*p) || *p == '-')
                p++;
            if (p == start || *start == '-' || p[-1] == '-')
                return false;
            if (*p != '.')
                break;
            p++;
        }
    }
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

int image_ref_parse(const char *s, image_ref *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return wharf_error_set(err, -EINVAL, "invalid reference format: empty reference");
    _cleanup_free_ char *name = xstrdup(s);
    char *at = strchr(name, '@');
    if (at) {
        *at = '\0';
        if (!image_digest_valid(at + 1))
            return wharf_error_set(err, -EINVAL, "invalid reference format %s: bad digest", s);
        out->digest = xstrdup(at + 1);
    }
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');
    if (colon) {
        *colon = '\0';
        if (!tag_valid(colon + 1)) {
            image_ref_free(out);
            return wharf_error_set(err, -EINVAL, "invalid reference format %s: bad tag", s);
        }
        out->tag = xstrdup(colon + 1);
    }
    const char *path = name;
    char *first = strchr(name, '/');
    if (first) {
        *first = '\0';
        if (strchr(name, '.') || strchr(name, ':') || strcmp(name, "localhost") == 0) {
            if (!domain_valid(name)) {
                image_ref_free(out);
                return wharf_error_set(err, -EINVAL, "invalid reference format %s: bad registry",
                                       s);
            }
            /* Docker Hub's legacy name is the same registry */
            out->domain = xstrdup(strcmp(name, "index.docker.io") == 0 ? "docker.io" : name);
            path = first + 1;
        } else {
            *first = '/';
        }
    }
    if (!out->domain)
        out->domain = xstrdup("docker.io");
    for (const char *p = path; *p; p++)
        if (isupper((unsigned char)*p)) {
            image_ref_free(out);
            return wharf_error_set(
                err, -EINVAL, "invalid reference format %s: repository name must be lowercase", s);
        }
    /* every path component must be valid */
    const char *c = path;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (!component_valid(c, n)) {
            image_ref_free(out);
            return wharf_error_set(err, -EINVAL, "invalid reference format %s", s);
        }
        if (!e)
            break;
        c = e + 1;
    }
    if (strcmp(out->domain, "docker.io") == 0 && !strchr(path, '/'))
        out->path = xasprintf("library/%s", path);
    else
        out->path = xstrdup(path);
    if (strlen(out->domain) + strlen(out->path) + 1 > 255) {
        image_ref_free(out);
        return wharf_error_set(err, -EINVAL, "invalid reference format %s: name too long", s);
    }
    if (!out->tag && !out->digest)
        out->tag = xstrdup("latest");
    return 0;
}

char *image_ref_full(const image_ref *ref)
{
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s/%s", ref->domain, ref->path);
    if (ref->tag)
        strbuf_addf(&sb, ":%s", ref->tag);
    if (ref->digest)
        strbuf_addf(&sb, "@%s", ref->digest);
    return strbuf_detach(&sb);
}

char *image_ref_familiar(const image_ref *ref)
{
    strbuf sb = STRBUF_INIT;
    const char *path = ref->path;
    if (strcmp(ref->domain, "docker.io") == 0) {
        if (strncmp(path, "library/", 8) == 0 && !strchr(path + 8, '/'))
            path += 8;
        strbuf_addstr(&sb, path);
    } else {
        strbuf_addf(&sb, "%s/%s", ref->domain, path);
    }
    if (ref->tag)
        strbuf_addf(&sb, ":%s", ref->tag);
    if (ref->digest)
        strbuf_addf(&sb, "@%s", ref->digest);
    return strbuf_detach(&sb);
}

char *image_ref_familiarize(const char *full)
{
    image_ref r;
    wharf_error e = {0};
    if (image_ref_parse(full, &r, &e) < 0)
        return xstrdup(full);
    char *s = image_ref_familiar(&r);
    image_ref_free(&r);
    return s;
}
