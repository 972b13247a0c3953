/*
 * transport.c — HTTP to one registry: the endpoint's scheme, the /v2/
 * probe, WWW-Authenticate challenges, tokens, and single requests.
 *
 * Docker's rules: a loopback registry is plain HTTP (HTTPS without
 * certificate checks when it turns out to speak TLS); one in the insecure
 * list is HTTPS without certificate checks, falling back to plain HTTP;
 * every other one is HTTPS. Authentication follows what /v2/ answers: 200
 * needs nothing, a Basic challenge gets the user's credentials, a Bearer
 * challenge sends us to its realm for a token per scope (anonymous, or
 * with the user's credentials), which we cache until it expires.
 */
#include "transport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

void reg_response_release(struct reg_response *r)
{
    strbuf_release(&r->body);
    free(r->content_type);
    free(r->digest);
    free(r->location);
    free(r->www_auth);
    free(r->range);
    free(r->url);
    struct reg_response init = REG_RESPONSE_INIT;
    *r = init;
}

/* ---------------------------------------------------------------- helpers */

char *reg_escape(const char *s)
{
    strbuf sb = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            strbuf_addch(&sb, (char)*p);
        else
            strbuf_addf(&sb, "%%%02X", *p);
    }
    strbuf_addstr(&sb, "");
    return strbuf_detach(&sb);
}

/* host without its port: "127.0.0.1", "::1", "localhost" into buf. */
static const char *host_only(const char *hostport, char *buf, size_t len)
{
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        size_t n = close ? (size_t)(close - hostport - 1) : strlen(hostport + 1);
        snprintf(buf, len, "%.*s", (int)n, hostport + 1);
        return buf;
    }
    const char *colon = strchr(hostport, ':');
    if (colon && strchr(colon + 1, ':'))
        colon = NULL; /* a bare IPv6 address */
    size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
    snprintf(buf, len, "%.*s", (int)n, hostport);
    return buf;
}

bool reg_is_loopback(const char *hostport)
{
    char h[256];
    host_only(hostport, h, sizeof(h));
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Is hostport in the insecure list ("host:port", "host" or "a.b.c.d/n")? */
static bool is_insecure(const char *hostport, const struct registry_options *o)
{
    char h[256];
    host_only(hostport, h, sizeof(h));
    struct in_addr addr;
    bool is_ip = inet_pton(AF_INET, h, &addr) == 1;
    for (size_t i = 0; o && i < o->n_insecure; i++) {
        const char *e = o->insecure[i];
        if (strncmp(e, "http://", 7) == 0)
            e += 7;
        else if (strncmp(e, "https://", 8) == 0)
            e += 8;
        size_t n = strcspn(e, "/");
        if (strncasecmp(e, hostport, n) == 0 && hostport[n] == '\0')
            return true;
        if (strncasecmp(e, h, n) == 0 && h[n] == '\0' && e[n] != '/')
            return true;
        if (is_ip && e[n] == '/') {
            char net[64];
            snprintf(net, sizeof(net), "%.*s", (int)n, e);
            struct in_addr na;
            char *end;
            long bits = strtol(e + n + 1, &end, 10);
            if (inet_pton(AF_INET, net, &na) == 1 && *end == '\0' && bits >= 0 && bits <= 32) {
                uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
                if ((ntohl(na.s_addr) & mask) == (ntohl(addr.s_addr) & mask))
                    return true;
            }
        }
    }
    return false;
}

/* ---------------------------------------------------------------- clients */

struct reg_client *reg_client_new(const char *domain, const char *url_base,
                                  const struct registry_options *opts, wharf_error *err)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct reg_client *c = xcalloc(1, sizeof(*c));
    c->opts = opts;
    c->name = xstrdup(domain);
    if (url_base) {
        const char *hp = strstr(url_base, "://");
        hp = hp ? hp + 3 : url_base;
        size_t n = strcspn(hp, "/");
        c->host = xasprintf("%.*s", (int)n, hp);
        bool plain = strncmp(url_base, "http://", 7) == 0;
        c->base = xasprintf("%s://%s", plain ? "http" : "https", c->host);
        c->tls_noverify = !plain && is_insecure(c->host, opts);
    } else {
        c->host = xstrdup(strcmp(domain, "docker.io") == 0 ? REGISTRY_HUB_HOST : domain);
        if (reg_is_loopback(c->host)) {
            c->base = xasprintf("http://%s", c->host);
            c->https_fallback = true;
        } else {
            c->base = xasprintf("https://%s", c->host);
            c->tls_noverify = c->http_fallback = is_insecure(c->host, opts);
        }
    }
    const struct registry_auth *a = opts ? opts->auth : NULL;
    if (a && a->username && *a->username) {
        c->user = xstrdup(a->username);
        c->pass = xstrdup(a->password ? a->password : "");
    }
    if (a && a->registry_token && *a->registry_token)
        c->registry_token = xstrdup(a->registry_token);
    c->tokens = json_object();
    c->share = curl_share_init();
    c->easy = curl_easy_init();
    if (!c->share || !c->easy) {
        wharf_error_set(err, -ENOMEM, "cannot initialise libcurl");
        reg_client_free(c);
        return NULL;
    }
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return c;
}

void reg_client_free(struct reg_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->share)
        curl_share_cleanup(c->share);
    json_decref(c->tokens);
    free(c->name);
    free(c->host);
    free(c->base);
    free(c->user);
    if (c->pass)
        explicit_bzero(c->pass, strlen(c->pass));
    free(c->pass);
    free(c->registry_token);
    free(c->realm);
    free(c->service);
    free(c);
}

char *reg_url(struct reg_client *c, const char *url)
{
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return xstrdup(url);
    return xasprintf("%s%s%s", c->base, url[0] == '/' ? "" : "/", url);
}

void reg_setup_easy(struct reg_client *c, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "wharf/" WHARF_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a stalled transfer (under 1 byte/s for 60 s) is an error, not a hang */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (c->tls_noverify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* ---------------------------------------------------------------- challenges */

/* Parses `Scheme k="v", k2=v2` into scheme and an object of lower-cased
 * keys; new reference. */
static json_t *parse_challenge(const char *s, char *scheme, size_t len)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, " \t");
    snprintf(scheme, len, "%.*s", (int)n, s);
    s += n;
    json_t *params = json_object();
    for (;;) {
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        size_t kl = strcspn(s, "=, \t");
        _cleanup_free_ char *key = xasprintf("%.*s", (int)kl, s);
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        s += kl;
        while (isspace((unsigned char)*s))
            s++;
        if (*s != '=')
            continue;
        s++;
        while (isspace((unsigned char)*s))
            s++;
        strbuf v = STRBUF_INIT;
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1])
                    s++;
                strbuf_addch(&v, *s);
            }
            if (*s == '"')
                s++;
        } else {
            size_t vl = strcspn(s, ", \t");
            strbuf_add(&v, s, vl);
            s += vl;
        }
        json_object_set_new(params, key, json_string(strbuf_str(&v)));
        strbuf_release(&v);
    }
    return params;
}

bool reg_take_challenge(struct reg_client *c, const char *www_auth)
{
    if (!www_auth)
        return false;
    char scheme[32];
    _cleanup_json_ json_t *p = parse_challenge(www_auth, scheme, sizeof(scheme));
    if (strcasecmp(scheme, "bearer") == 0) {
        const char *realm = json_string_value(json_object_get(p, "realm"));
        if (!realm)
            return false;
        const char *service = json_string_value(json_object_get(p, "service"));
        bool changed = c->scheme != REG_AUTH_BEARER || !c->realm || strcmp(c->realm, realm) != 0;
        free(c->realm);
        free(c->service);
        c->realm = xstrdup(realm);
        c->service = service ? xstrdup(service) : NULL;
        c->scheme = REG_AUTH_BEARER;
        if (changed)
            json_object_clear(c->tokens);
        return true;
    }
    if (strcasecmp(scheme, "basic") == 0) {
        bool changed = c->scheme != REG_AUTH_BASIC;
        c->scheme = REG_AUTH_BASIC;
        return changed && c->user;
    }
    return false;
}

void reg_forget_token(struct reg_client *c, const char *scope)
{
    json_object_del(c->tokens, scope ? scope : "");
}

static size_t collect(char *buf, size_t size, size_t n, void *ud)
{
    strbuf *sb = ud;
    if (sb->len + size * n > REG_MAX_MANIFEST)
        return 0;
    strbuf_add(sb, buf, size * n);
    return size * n;
}

/* GET realm?service=&scope=... (with Basic credentials when we have them). */
static int fetch_token(struct reg_client *c, const char *scope, char **token, double *expires,
                       wharf_error *err)
{
    strbuf url = STRBUF_INIT;
    strbuf_addstr(&url, c->realm);
    char sep = strchr(c->realm, '?') ? '&' : '?';
    if (c->service) {
        _cleanup_free_ char *s = reg_escape(c->service);
        strbuf_addf(&url, "%cservice=%s", sep, s);
        sep = '&';
    }
    if (scope) {
        _cleanup_free_ char *copy = xstrdup(scope);
        char *save = NULL;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            _cleanup_free_ char *s = reg_escape(t);
            strbuf_addf(&url, "%cscope=%s", sep, s);
            sep = '&';
        }
    }
    CURL *h = c->easy;
    curl_easy_reset(h);
    reg_setup_easy(c, h);
    curl_easy_setopt(h, CURLOPT_URL, url.buf);
    strbuf body = STRBUF_INIT;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    if (c->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass);
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int r = 0;
    if (rc != CURLE_OK) {
        r = wharf_error_set(err, -EHOSTUNREACH, "Get \"%s\": %s", c->realm, curl_easy_strerror(rc));
    } else if (status != 200) {
        struct reg_response resp = REG_RESPONSE_INIT;
        resp.status = status;
        resp.body = body;
        body = (strbuf)STRBUF_INIT;
        _cleanup_strbuf_ strbuf text = STRBUF_INIT;
        reg_error_text(&resp, &text);
        reg_response_release(&resp);
        if (status == 401 || status == 403)
            r = wharf_error_set(err, -EACCES, "unauthorized: %s", text.buf);
        else
            r = wharf_error_set(err, -EPROTO, "token service %s: %s", c->realm, text.buf);
    } else {
        json_error_t je;
        _cleanup_json_ json_t *doc = json_loadb(strbuf_str(&body), body.len, 0, &je);
        const char *t = json_string_value(json_object_get(doc, "token"));
        if (!t || !*t)
            t = json_string_value(json_object_get(doc, "access_token"));
        if (!t || !*t) {
            r = wharf_error_set(err, -EPROTO, "token service %s: no token in its answer", c->realm);
        } else {
            *token = xstrdup(t);
            json_int_t ttl = json_integer_value(json_object_get(doc, "expires_in"));
            if (ttl < 60)
                ttl = 60; /* the spec's minimum */
            *expires = wharf_now_ms() + (double)ttl * 1000 * 0.9;
        }
    }
    strbuf_release(&body);
    strbuf_release(&url);
    return r;
}

char *reg_auth_line(struct reg_client *c, const char *scope, int *rc, wharf_error *err)
{
    *rc = 0;
    if (c->scheme == REG_AUTH_BASIC && c->user) {
        _cleanup_free_ char *pair = xasprintf("%s:%s", c->user, c->pass);
        _cleanup_free_ char *b = reg_base64(pair, strlen(pair));
        explicit_bzero(pair, strlen(pair));
        return xasprintf("Authorization: Basic %s", b);
    }
    if (c->scheme != REG_AUTH_BEARER)
        return NULL;
    if (c->registry_token)
        return xasprintf("Authorization: Bearer %s", c->registry_token);
    const char *key = scope ? scope : "";
    json_t *cached = json_object_get(c->tokens, key);
    if (cached && json_real_value(json_object_get(cached, "expires")) > wharf_now_ms())
        return xasprintf("Authorization: Bearer %s",
                         json_string_value(json_object_get(cached, "token")));
    char *token = NULL;
    double expires = 0;
    if ((*rc = fetch_token(c, scope, &token, &expires, err)) < 0)
        return NULL;
    json_object_set_new(c->tokens, key,
                        json_pack("{s:s, s:f}", "token", token, "expires", expires));
    char *line = xasprintf("Authorization: Bearer %s", token);
    free(token);
    return line;
}

/* ---------------------------------------------------------------- requests */

static void set_str(char **dst, const char *v, size_t n)
{
    free(*dst);
    *dst = xasprintf("%.*s", (int)n, v);
}

struct transfer {
    struct reg_response *resp;
    size_t max;
    const struct reg_request *req;
    uint64_t sent;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    struct reg_response *r = t->resp;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100): forget the old headers */
        free(r->content_type), r->content_type = NULL;
        free(r->digest), r->digest = NULL;
        free(r->location), r->location = NULL;
        free(r->www_auth), r->www_auth = NULL;
        free(r->range), r->range = NULL;
        r->content_length = -1;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    while (v < buf + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vl = (size_t)(buf + len - v);
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
#define IS(name) (kl == sizeof(name) - 1 && strncasecmp(buf, name, kl) == 0)
    if (IS("content-type"))
        set_str(&r->content_type, v, strcspn(v, ";") < vl ? strcspn(v, ";") : vl);
    else if (IS("docker-content-digest"))
        set_str(&r->digest, v, vl);
    else if (IS("location"))
        set_str(&r->location, v, vl);
    else if (IS("www-authenticate") && !r->www_auth)
        set_str(&r->www_auth, v, vl);
    else if (IS("range"))
        set_str(&r->range, v, vl);
    else if (IS("content-length"))
        r->content_length = strtoll(v, NULL, 10);
#undef IS
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    size_t len = size * n;
    if (t->resp->body.len + len > t->max)
        return 0; /* more than anything we read into memory may be */
    strbuf_add(&t->resp->body, buf, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    const struct reg_request *q = t->req;
    uint64_t left = q->body_size - t->sent;
    size_t want = size * n < left ? size * n : (size_t)left;
    if (want == 0)
        return 0;
    ssize_t got;
    do
        got = pread(q->body_fd, buf, want, (off_t)(q->body_off + t->sent));
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return CURL_READFUNC_ABORT;
    t->sent += (uint64_t)got;
    if (q->on_sent)
        q->on_sent(t->sent, q->ctx);
    return (size_t)got;
}

static int perform_once(struct reg_client *c, const struct reg_request *q, const char *auth,
                        struct reg_response *resp, wharf_error *err)
{
    CURL *h = c->easy;
    curl_easy_reset(h);
    reg_setup_easy(c, h);
    free(resp->url);
    resp->url = reg_url(c, q->url);
    strbuf_reset(&resp->body);
    curl_easy_setopt(h, CURLOPT_URL, resp->url);
    struct transfer t = {resp, q->max_response ? q->max_response : 65536, q, 0};
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    bool get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
    if (get)
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    if (strcmp(q->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(q->method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    struct curl_slist *hdr = NULL;
    if (q->body_fd >= 0 && q->body_size > 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_size);
    } else if (!get) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0));
    }
    char line[512];
    if (q->accept) {
        _cleanup_free_ char *a = xasprintf("Accept: %s", q->accept);
        hdr = curl_slist_append(hdr, a);
    }
    if (!get) {
        snprintf(line, sizeof(line), "Content-Type: %s",
                 q->content_type ? q->content_type : "application/octet-stream");
        hdr = curl_slist_append(hdr, line);
    }
    if (q->header)
        hdr = curl_slist_append(hdr, q->header);
    if (auth)
        hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    if (rc != CURLE_OK) {
        const char *verb = q->method[0] == 'G'                          ? "Get"
                           : q->method[0] == 'H'                        ? "Head"
                           : q->method[0] == 'P' && q->method[1] == 'U' ? "Put"
                           : q->method[0] == 'P' && q->method[1] == 'A' ? "Patch"
                           : q->method[0] == 'P'                        ? "Post"
                                                                        : q->method;
        if (rc == CURLE_WRITE_ERROR)
            return wharf_error_set(err, -EFBIG, "%s \"%s\": the answer exceeds %zu bytes", verb,
                                   resp->url, t.max);
        return wharf_error_set(err, -EHOSTUNREACH, "%s \"%s\": %s", verb, resp->url,
                               curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

int reg_do(struct reg_client *c, const struct reg_request *q, struct reg_response *resp,
           wharf_error *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = 0;
        _cleanup_free_ char *auth = reg_auth_line(c, q->scope, &rc, err);
        if (rc < 0)
            return rc;
        int r = perform_once(c, q, auth, resp, err);
        if (r < 0)
            return r;
        if (resp->status != 401 || attempt > 0)
            return 0;
        bool retry = reg_take_challenge(c, resp->www_auth);
        if (c->scheme == REG_AUTH_BEARER && auth && !c->registry_token) {
            reg_forget_token(c, q->scope);
            retry = true;
        } else if (c->scheme == REG_AUTH_BEARER && !auth) {
            retry = true;
        }
        if (!retry)
            return 0;
    }
}

int reg_probe(struct reg_client *c, wharf_error *err)
{
    struct reg_request q = {.method = "GET", .url = "/v2/", .body_fd = -1};
    struct reg_response resp = REG_RESPONSE_INIT;
    int r = perform_once(c, &q, NULL, &resp, err);
    if (r < 0 && c->http_fallback) {
        char *plain = xasprintf("http://%s", c->host);
        free(c->base);
        c->base = plain;
        c->http_fallback = false;
        wharf_error_clear(err);
        r = perform_once(c, &q, NULL, &resp, err);
    }
    if (r == 0 && resp.status == 400 && c->https_fallback) {
        /* a loopback registry serving TLS: Docker treats it as insecure */
        free(c->base);
        c->base = xasprintf("https://%s", c->host);
        c->tls_noverify = true;
        c->https_fallback = false;
        r = perform_once(c, &q, NULL, &resp, err);
    }
    if (r == 0) {
        if (resp.status == 401) {
            if (!reg_take_challenge(c, resp.www_auth) && c->scheme == REG_AUTH_NONE)
                c->scheme = REG_AUTH_BASIC; /* 401 without a usable challenge */
        } else if (resp.status >= 500 || resp.status == 404) {
            r = wharf_error_set(err, -EPROTO,
                                "Get \"%s\": the registry answered %ld (is it a registry?)",
                                resp.url, resp.status);
        }
    }
    reg_response_release(&resp);
    return r;
}

/* ---------------------------------------------------------------- errors */

const char *reg_error_code(const struct reg_response *r, json_t **doc)
{
    *doc = r->body.len ? json_loadb(r->body.buf, r->body.len, 0, NULL) : NULL;
    json_t *e = json_array_get(json_object_get(*doc, "errors"), 0);
    return json_string_value(json_object_get(e, "code"));
}

void reg_error_text(const struct reg_response *r, strbuf *out)
{
    _cleanup_json_ json_t *doc = NULL;
    reg_error_code(r, &doc);
    json_t *errors = json_object_get(doc, "errors");
    size_t i;
    json_t *e;
    size_t start = out->len;
    json_array_foreach(errors, i, e)
    {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (out->len > start)
            strbuf_addstr(out, ", ");
        if (code) {
            /* Docker's ErrorCode.Descriptor().Message is the lower-cased code. */
            for (const char *p = code; *p; p++)
                strbuf_addch(out, *p == '_' ? ' ' : (char)tolower((unsigned char)*p));
            strbuf_addstr(out, ": ");
        }
        strbuf_addstr(out, msg ? msg : "unknown error");
    }
    if (out->len > start)
        return;
    /* token services: Docker Hub's {"details"}, OAuth's {"error_description"} */
    static const char *const keys[] = {"details", "error_description", "message", "error"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *s = json_string_value(json_object_get(doc, keys[k]));
        if (s && *s) {
            strbuf_addstr(out, s);
            return;
        }
    }
    const char *dflt = r->status == 401   ? "Unauthorized"
                       : r->status == 403 ? "Forbidden"
                       : r->status == 404 ? "Not Found"
                       : r->status == 405 ? "Method Not Allowed"
                       : r->status >= 500 ? "Internal Server Error"
                                          : "unexpected status";
    strbuf_addf(out, "%ld %s", r->status, dflt);
}
