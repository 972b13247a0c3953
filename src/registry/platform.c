/* platform.c — "os/arch[/variant]" the way containerd's platforms package
 * normalises it, and matching index entries against it. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

static void normalise(struct registry_platform *p)
{
    static const struct {
        const char *from, *arch, *variant;
    } arch_aliases[] = {
        {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
        {"i386", "386", NULL},     {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},
    };
    for (size_t i = 0; i < sizeof(arch_aliases) / sizeof(arch_aliases[0]); i++)
        if (strcmp(p->architecture, arch_aliases[i].from) == 0) {
            snprintf(p->architecture, sizeof(p->architecture), "%s", arch_aliases[i].arch);
            if (arch_aliases[i].variant && !p->variant[0])
                snprintf(p->variant, sizeof(p->variant), "%s", arch_aliases[i].variant);
        }
    if (strcmp(p->architecture, "arm64") == 0 &&
        (strcmp(p->variant, "8") == 0 || strcmp(p->variant, "v8") == 0))
        p->variant[0] = '\0'; /* arm64 is v8 unless said otherwise */
    if (strcmp(p->architecture, "arm") == 0 && !p->variant[0])
        snprintf(p->variant, sizeof(p->variant), "v7");
    if (strcmp(p->architecture, "arm") == 0 && isdigit((unsigned char)p->variant[0])) {
        char v[sizeof(p->variant)];
        snprintf(v, sizeof(v), "v%s", p->variant);
        memcpy(p->variant, v, sizeof(v));
    }
    if (strcmp(p->architecture, "amd64") == 0 && strcmp(p->variant, "v1") == 0)
        p->variant[0] = '\0';
    if (strcmp(p->os, "macos") == 0)
        snprintf(p->os, sizeof(p->os), "darwin");
}

static bool part_valid(const char *s, size_t n, size_t max)
{
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

int registry_platform_parse(const char *s, struct registry_platform *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return wharf_error_set(err, -EINVAL, "invalid platform: empty");
    const char *a = strchr(s, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    if (!a || (b && strchr(b + 1, '/')) || !part_valid(s, (size_t)(a - s), sizeof(out->os)) ||
        !part_valid(a + 1, b ? (size_t)(b - a - 1) : strlen(a + 1), sizeof(out->architecture)) ||
        (b && !part_valid(b + 1, strlen(b + 1), sizeof(out->variant))))
        return wharf_error_set(
            err, -EINVAL, "invalid platform \"%s\": want os/arch[/variant], e.g. linux/amd64", s);
    snprintf(out->os, sizeof(out->os), "%.*s", (int)(a - s), s);
    snprintf(out->architecture, sizeof(out->architecture), "%.*s",
             (int)(b ? b - a - 1 : (ptrdiff_t)strlen(a + 1)), a + 1);
    if (b)
        snprintf(out->variant, sizeof(out->variant), "%s", b + 1);
    for (char *p = out->os; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = out->architecture; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    normalise(out);
    return 0;
}

void registry_platform_host(struct registry_platform *out)
{
    memset(out, 0, sizeof(*out));
    struct utsname u;
    uname(&u);
    snprintf(out->os, sizeof(out->os), "linux");
    snprintf(out->architecture, sizeof(out->architecture), "%s", u.machine);
    if (strncmp(u.machine, "armv", 4) == 0) {
        snprintf(out->architecture, sizeof(out->architecture), "arm");
        snprintf(out->variant, sizeof(out->variant), "v%c", u.machine[4]);
    }
    normalise(out);
}

bool registry_platform_match(const struct registry_platform *want, const char *os, const char *arch,
                             const char *variant)
{
    if (!os || !arch)
        return false;
    struct registry_platform have = {0};
    snprintf(have.os, sizeof(have.os), "%s", os);
    snprintf(have.architecture, sizeof(have.architecture), "%s", arch);
    snprintf(have.variant, sizeof(have.variant), "%s", variant ? variant : "");
    normalise(&have);
    if (strcmp(have.os, want->os) != 0 || strcmp(have.architecture, want->architecture) != 0)
        return false;
    /* An arm image of an older variant runs on a newer CPU, but pick the
     * exact one: Docker's matcher only accepts the same variant. */
    return strcmp(have.variant, want->variant) == 0;
}

const char *registry_platform_format(const struct registry_platform *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%s%s", p->os, p->architecture, p->variant[0] ? "/" : "", p->variant);
    return buf;
}
