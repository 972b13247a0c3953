/* transport.h — HTTP to registries (libcurl), shared by transport.c,
 * pull.c and push.c; not part of the API. */
#ifndef WHARF_REGISTRY_TRANSPORT_H
#define WHARF_REGISTRY_TRANSPORT_H

#include "internal.h"

#include <curl/curl.h>

enum reg_scheme { REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER };

/* One registry endpoint: where it is, how it authenticates, and the tokens
 * it gave. Used from one thread at a time. */
struct reg_client {
    char *name; /* "127.0.0.1:5000", "docker.io": for messages */
    char *host; /* host[:port] spoken to */
    char *base; /* "http://127.0.0.1:5000" */
    bool tls_noverify;
    bool http_fallback;  /* insecure: plain HTTP when HTTPS fails */
    bool https_fallback; /* loopback: HTTPS (unverified) when it answers
                          * plain HTTP with 400, as TLS servers do */
    const struct registry_options *opts;
    char *user, *pass, *registry_token;
    enum reg_scheme scheme;
    char *realm, *service;
    json_t *tokens; /* scope -> {"token", "expires" (ms, monotonic)} */
    CURLSH *share;  /* connections and DNS shared by every handle */
    CURL *easy;     /* for requests made one at a time */
};

struct reg_response {
    long status;
    strbuf body;
    char *content_type, *digest, *location, *www_auth, *range;
    int64_t content_length; /* -1 when absent */
    char *url;              /* the URL requested, for messages */
};
#define REG_RESPONSE_INIT                                                                          \
    {                                                                                              \
        0, STRBUF_INIT, NULL, NULL, NULL, NULL, NULL, -1, NULL                                     \
    }
void reg_response_release(struct reg_response *r);

struct reg_request {
    const char *method;
    const char *url;          /* absolute, or a path under the base ("/v2/x/...") */
    const char *scope;        /* token scope(s), space-separated; NULL for none */
    const char *accept;       /* Accept header value, or NULL */
    const char *content_type; /* of the body, or NULL */
    const char *header;       /* one more "Name: value" line, or NULL */
    const void *body;         /* in-memory body (body_fd < 0), may be NULL */
    size_t body_len;
    int body_fd; /* or a file range: body_off, body_size bytes */
    uint64_t body_off, body_size;
    size_t max_response; /* bytes of response body kept; 0: 64 KiB */
    /* upload progress: called with bytes sent so far */
    void (*on_sent)(uint64_t sent, void *ctx);
    void *ctx;
};

/* Where domain ("127.0.0.1:5000") is and how to reach it (scheme by the
 * loopback and insecure rules); url_base (may be NULL) overrides the
 * address, e.g. a mirror "https://mirror:5000". Returns a new client. */
struct reg_client *reg_client_new(const char *domain, const char *url_base,
                                  const struct registry_options *opts, wharf_error *err);
void reg_client_free(struct reg_client *c);
/* GET /v2/: reachability and the authentication scheme. */
int reg_probe(struct reg_client *c, wharf_error *err);
/* One request, answered by the registry whatever the status (0), with one
 * retry after a 401 that a fresh token or credentials may fix. Negative
 * only when no answer came (unreachable, TLS, aborted). */
int reg_do(struct reg_client *c, const struct reg_request *req, struct reg_response *resp,
           wharf_error *err);
/* "Authorization: ..." for scope, fetching a token when needed; NULL when
 * the registry needs none (or no credentials can be had). *err is set and
 * NULL returned with r < 0 in *rc when the token service refused. */
char *reg_auth_line(struct reg_client *c, const char *scope, int *rc, wharf_error *err);
/* Forgets the token of scope (after it was refused). */
void reg_forget_token(struct reg_client *c, const char *scope);
/* A 401 answer's challenge taken in; true when a retry may now succeed. */
bool reg_take_challenge(struct reg_client *c, const char *www_auth);
/* Applies the client's TLS and sharing settings to a fresh easy handle. */
void reg_setup_easy(struct reg_client *c, CURL *h);
/* base + path, or url itself when absolute. Caller frees. */
char *reg_url(struct reg_client *c, const char *url);
/* The registry's error text from a response: "manifest unknown: manifest
 * unknown" from {"errors":[{code, message}]}, else the status line. */
void reg_error_text(const struct reg_response *r, strbuf *out);
/* The first error code ("MANIFEST_UNKNOWN"), or NULL. Borrowed from a
 * parsed copy kept in *doc (caller decrefs). */
const char *reg_error_code(const struct reg_response *r, json_t **doc);

/* "true" when host (without port) is loopback. */
bool reg_is_loopback(const char *host);
/* Percent-escapes a query value. Caller frees. */
char *reg_escape(const char *s);

#endif
