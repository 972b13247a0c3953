/*
 * creds.c — the client's credentials file and the X-Registry-Auth header.
 *
 * The file is Docker's config.json: {"auths": {"<server>": {"auth":
 * base64("user:pass")}}, ...}. We write ~/.wharf/config.json (or
 * $WHARF_CONFIG/config.json) and read Docker's as a fallback, so a user
 * logged in with the docker CLI is logged in for wharf too. Keys other than
 * "auths" are kept as they are. Credential helpers ("credsStore") are not
 * run.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

char *registry_server_key(const char *server)
{
    if (!server || !*server)
        return xstrdup(REGISTRY_HUB_KEY);
    const char *s = server;
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strncmp(s, "https://", 8) == 0)
        s += 8;
    size_t n = strcspn(s, "/");
    _cleanup_free_ char *host = xasprintf("%.*s", (int)n, s);
    static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                      "registry.hub.docker.com"};
    for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
        if (strcasecmp(host, hub[i]) == 0)
            return xstrdup(REGISTRY_HUB_KEY);
    return steal_ptr(host);
}

char *registry_config_path(void)
{
    const char *dir = getenv("WHARF_CONFIG");
    if (dir && *dir)
        return xasprintf("%s/config.json", dir);
    const char *home = getenv("HOME");
    return xasprintf("%s/.wharf/config.json", home && *home ? home : "/root");
}

static char *docker_config_path(void)
{
    const char *dir = getenv("DOCKER_CONFIG");
    if (dir && *dir)
        return xasprintf("%s/config.json", dir);
    const char *home = getenv("HOME");
    return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

/* The file's document (a new object; an empty one when it does not exist). */
static json_t *load_config(const char *path, wharf_error *err)
{
    if (access(path, F_OK) < 0)
        return json_object();
    json_t *doc = wjson_load_file(path, err);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        wharf_error_set(err, -EINVAL, "%s: expected a JSON object", path);
        return NULL;
    }
    return doc;
}

/* The "auths" entry matching key: exact, or the same host under another
 * spelling ("http://host/v2/", "https://host"). Borrowed. */
static json_t *find_entry(json_t *auths, const char *key)
{
    json_t *e = json_object_get(auths, key);
    if (e)
        return e;
    const char *k;
    json_t *v;
    json_object_foreach(auths, k, v)
    {
        _cleanup_free_ char *norm = registry_server_key(k);
        if (strcmp(norm, key) == 0)
            return v;
    }
    return NULL;
}

static int entry_creds(json_t *entry, const char *path, const char *key, char **user, char **pass,
                       wharf_error *err)
{
    const char *auth = json_string_value(json_object_get(entry, "auth"));
    const char *u = json_string_value(json_object_get(entry, "username"));
    const char *p = json_string_value(json_object_get(entry, "password"));
    if (auth && *auth) {
        size_t len = 0;
        _cleanup_free_ char *plain = reg_base64_decode(auth, &len);
        char *colon = plain ? memchr(plain, ':', len) : NULL;
        if (!colon)
            return wharf_error_set(err, -EINVAL, "%s: auths.%s.auth: not base64 of user:password",
                                   path, key);
        *colon = '\0';
        *user = xstrdup(plain);
        *pass = xstrdup(colon + 1);
        explicit_bzero(plain, len);
        return 0;
    }
    if (u && *u) {
        *user = xstrdup(u);
        *pass = xstrdup(p ? p : "");
        return 0;
    }
    return -ENOENT;
}

int registry_creds_get(const char *server, char **user, char **pass, wharf_error *err)
{
    _cleanup_free_ char *key = registry_server_key(server);
    _cleanup_free_ char *mine = registry_config_path();
    _cleanup_free_ char *docker = docker_config_path();
    const char *paths[] = {mine, docker};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_json_ json_t *doc = load_config(paths[i], err);
        if (!doc)
            return err->code;
        json_t *entry = find_entry(json_object_get(doc, "auths"), key);
        if (!entry)
            continue;
        int r = entry_creds(entry, paths[i], key, user, pass, err);
        if (r != -ENOENT)
            return r;
    }
    return wharf_error_set(err, -ENOENT, "no credentials for %s", key);
}

static int save_config(const char *path, json_t *doc, wharf_error *err)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int r = wharf_mkdir_p(dir, 0700, err);
        if (r < 0)
            return r;
    }
    _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(1));
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s\n", text);
    int r = wharf_write_file_atomic(path, sb.buf, sb.len, 0600, err);
    explicit_bzero(sb.buf, sb.len);
    strbuf_release(&sb);
    return r;
}

int registry_creds_store(const char *server, const char *user, const char *pass, wharf_error *err)
{
    if (!user || !*user)
        return wharf_error_set(err, -EINVAL, "a username is required");
    _cleanup_free_ char *key = registry_server_key(server);
    _cleanup_free_ char *path = registry_config_path();
    _cleanup_json_ json_t *doc = load_config(path, err);
    if (!doc)
        return err->code;
    json_t *auths = json_object_get(doc, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(doc, "auths", auths);
    }
    /* one entry per registry, under its canonical key */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        _cleanup_free_ char *norm = registry_server_key(k);
        if (strcmp(norm, key) == 0)
            json_object_del(auths, k);
    }
    _cleanup_free_ char *pair = xasprintf("%s:%s", user, pass ? pass : "");
    _cleanup_free_ char *b = reg_base64(pair, strlen(pair));
    explicit_bzero(pair, strlen(pair));
    json_object_set_new(auths, key, json_pack("{s:s}", "auth", b));
    return save_config(path, doc, err);
}

int registry_creds_erase(const char *server, wharf_error *err)
{
    _cleanup_free_ char *key = registry_server_key(server);
    _cleanup_free_ char *path = registry_config_path();
    _cleanup_json_ json_t *doc = load_config(path, err);
    if (!doc)
        return err->code;
    json_t *auths = json_object_get(doc, "auths");
    bool found = false;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        _cleanup_free_ char *norm = registry_server_key(k);
        if (strcmp(norm, key) == 0) {
            json_object_del(auths, k);
            found = true;
        }
    }
    if (!found)
        return wharf_error_set(err, -ENOENT, "Not logged in to %s", key);
    return save_config(path, doc, err);
}

char *registry_auth_header(const char *user, const char *pass, const char *server)
{
    _cleanup_json_ json_t *j = json_object();
    if (user)
        json_object_set_new(j, "username", json_string(user));
    if (pass)
        json_object_set_new(j, "password", json_string(pass));
    if (server)
        json_object_set_new(j, "serveraddress", json_string(server));
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
    char *out = reg_base64url(text, strlen(text));
    explicit_bzero(text, strlen(text));
    return out;
}

static char *dup_field(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s && *s ? xstrdup(s) : NULL;
}

int registry_auth_decode(const char *header, struct registry_creds *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!header || !*header)
        return 0;
    size_t len = 0;
    _cleanup_free_ char *text = reg_base64_decode(header, &len);
    /* older clients sent the JSON itself */
    const char *doc_text = text ? text : header;
    size_t doc_len = text ? len : strlen(header);
    json_error_t je;
    _cleanup_json_ json_t *j = json_loadb(doc_text, doc_len, 0, &je);
    if (text)
        explicit_bzero(text, len);
    if (!json_is_object(j))
        return wharf_error_set(err, -EINVAL, "X-Registry-Auth: not base64 of a JSON object");
    out->username = dup_field(j, "username");
    out->password = dup_field(j, "password");
    out->server = dup_field(j, "serveraddress");
    out->registry_token = dup_field(j, "registrytoken");
    const char *auth = json_string_value(json_object_get(j, "auth"));
    if (!out->username && auth && *auth) {
        size_t n = 0;
        _cleanup_free_ char *plain = reg_base64_decode(auth, &n);
        char *colon = plain ? memchr(plain, ':', n) : NULL;
        if (colon) {
            *colon = '\0';
            out->username = xstrdup(plain);
            out->password = xstrdup(colon + 1);
            explicit_bzero(plain, n);
        }
    }
    return 0;
}

void registry_creds_release(struct registry_creds *c)
{
    free(c->username);
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c->server);
    free(c->registry_token);
    memset(c, 0, sizeof(*c));
}

void registry_creds_auth(const struct registry_creds *c, struct registry_auth *auth)
{
    auth->username = c->username;
    auth->password = c->password;
    auth->registry_token = c->registry_token;
}
