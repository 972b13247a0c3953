/*
 * Authentication: a client certificate the cluster CA signed (the HTTP
 * layer verified it; CN is the user, each O a group), or a bearer token
 * from the static token file (Kubernetes' CSV format) or --token (user
 * "admin" in system:masters). Anything else is anonymous, which this
 * server refuses (401) — kube-apiserver's --anonymous-auth=false.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

void api_user_release(struct api_user *u)
{
    free(u->name);
    free(u->uid);
    for (size_t i = 0; i < u->n_groups; i++)
        free(u->groups[i]);
    free(u->groups);
    memset(u, 0, sizeof(*u));
}

bool api_user_in_group(const struct api_user *u, const char *group)
{
    for (size_t i = 0; i < u->n_groups; i++) {
        if (strcmp(u->groups[i], group) == 0)
            return true;
    }
    return false;
}

static void user_add_group(struct api_user *u, const char *g)
{
    if (api_user_in_group(u, g))
        return;
    u->groups = xrealloc(u->groups, (u->n_groups + 1) * sizeof(char *));
    u->groups[u->n_groups++] = xstrdup(g);
}

static void add_token(struct apiserver *as, const char *token, const char *user, const char *uid,
                      const char *groups)
{
    as->tokens = xrealloc(as->tokens, (as->n_tokens + 1) * sizeof(*as->tokens));
    struct token_entry *t = &as->tokens[as->n_tokens++];
    memset(t, 0, sizeof(*t));
    t->token = xstrdup(token);
    t->user.name = xstrdup(user);
    t->user.uid = xstrdup(uid ? uid : "");
    const char *p = groups ? groups : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n) {
            _cleanup_free_ char *g = strndup(p, n);
            if (!g)
                abort();
            user_add_group(&t->user, g);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* One CSV line into fields (quotes may hold commas; "" is a quote). */
static size_t csv_fields(const char *line, char **fields, size_t max)
{
    size_t n = 0;
    const char *p = line;
    while (n < max) {
        strbuf f = STRBUF_INIT;
        if (*p == '"') {
            p++;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    strbuf_addch(&f, '"');
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    strbuf_addch(&f, *p++);
                }
            }
        }
        while (*p && *p != ',')
            strbuf_addch(&f, *p++);
        fields[n++] = strbuf_detach(&f);
        if (*p != ',')
            break;
        p++;
    }
    return n;
}

int auth_load_tokens(struct apiserver *as, const char *token, const char *token_file,
                     wharf_error *err)
{
    if (token) {
        if (!*token)
            return wharf_error_set(err, -EINVAL, "--token: empty token");
        add_token(as, token, "admin", "admin", "system:masters");
    }
    if (!token_file)
        return 0;
    _cleanup_free_ char *text = NULL;
    if (wharf_read_file(token_file, &text, NULL, err) < 0)
        return wharf_error_prefix(err, "token file");
    char *save = NULL;
    size_t lineno = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char *f[5] = {0};
        size_t n = csv_fields(line, f, 5);
        int rc = 0;
        if (n < 3 || !*f[0] || !*f[1])
            rc = wharf_error_set(err, -EINVAL,
                                 "token file %s, line %zu: expected token,user,uid[,\"groups\"]",
                                 token_file, lineno);
        else
            add_token(as, f[0], f[1], f[2], n > 3 ? f[3] : NULL);
        for (size_t i = 0; i < n; i++)
            free(f[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Compares without an early exit, so timing says nothing about a prefix. */
static bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static void user_copy(struct api_user *dst, const struct api_user *src)
{
    dst->name = xstrdup(src->name);
    dst->uid = xstrdup(src->uid ? src->uid : "");
    for (size_t i = 0; i < src->n_groups; i++)
        user_add_group(dst, src->groups[i]);
}

int auth_authenticate(struct apiserver *as, http_request *req, struct api_user *out)
{
    size_t len = 0;
    const void *der = http_request_client_cert(req, &len);
    if (der) {
        wharf_error err = {0};
        if (pki_cert_user(der, len, out, &err) == 0) {
            if (!out->uid)
                out->uid = xstrdup("");
            user_add_group(out, "system:authenticated");
            return 0;
        }
        api_user_release(out);
    }
    const char *h = http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *tok = h + 7;
        while (*tok == ' ')
            tok++;
        for (size_t i = 0; i < as->n_tokens; i++) {
            if (token_equal(as->tokens[i].token, tok)) {
                user_copy(out, &as->tokens[i].user);
                user_add_group(out, "system:authenticated");
                return 0;
            }
        }
    }
    return -EACCES;
}
