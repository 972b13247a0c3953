/*
 * The server: the data directory (PKI, encryption key, the SQLite store by
 * default), the HTTPS listener with client-certificate verification, the
 * request entry point (authentication, then discovery, the health and
 * version endpoints, OpenAPI, or the REST verbs — each authorized by RBAC),
 * and the objects every cluster has from its first start: the namespaces
 * default, kube-system, kube-public and kube-node-lease, the default RBAC
 * roles, and the "kubernetes" Service with its Endpoints.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_BODY (3u << 20) /* kube-apiserver's request body limit */

/* ---------------------------------------------------------------- requests */

static http_response *unauthorized(void)
{
    return status_failure(401, "Unauthorized", NULL, "Unauthorized");
}

static http_response *health(struct api_req *c, const char *which)
{
    bool verbose = http_request_query(c->http, "verbose") != NULL;
    int64_t rev = 0;
    wharf_error err = {0};
    bool store_ok = true;
    if (strcmp(which, "livez") != 0)
        store_ok = kvstore_current_revision(c->as->store, &rev, &err) == 0;
    if (!verbose) {
        if (!store_ok)
            return http_response_bytes(500, "text/plain; charset=utf-8", "[-]etcd failed\n", 15);
        return http_response_bytes(200, "text/plain; charset=utf-8", "ok", 2);
    }
    strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "[+]ping ok\n[+]log ok\n");
    strbuf_addf(&sb, "[%c]etcd %s\n", store_ok ? '+' : '-', store_ok ? "ok" : "failed");
    strbuf_addstr(&sb, "[+]poststarthook/start-apiserver-admission-initializer ok\n");
    strbuf_addf(&sb, "%s check %s\n", which, store_ok ? "passed" : "failed");
    http_response *resp =
        http_response_bytes(store_ok ? 200 : 500, "text/plain; charset=utf-8", sb.buf, sb.len);
    strbuf_release(&sb);
    return resp;
}

static char *lower(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    return out;
}

/* Non-resource requests are authorized on their path. */
static http_response *authorize_path(struct api_req *c, const char *path)
{
    _cleanup_free_ char *verb = lower(http_request_method(c->http));
    if (strcmp(verb, "head") == 0) {
        free(verb);
        verb = xstrdup("get");
    }
    struct authz_attrs a = {.verb = verb, .path = path};
    wharf_error err = {0};
    int rc = rbac_authorize(c->as, &c->user, &a, &err);
    if (rc < 0)
        return status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
    if (rc == 0) {
        _cleanup_free_ char *why = rbac_denied_message(&c->user, &a);
        return status_forbidden(NULL, NULL, "%s", why);
    }
    return NULL;
}

static http_response *route(struct api_req *c)
{
    const char *path = http_request_path(c->http);
    const char *method = http_request_method(c->http);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    /* split into segments */
    _cleanup_free_ char *copy = xstrdup(path);
    const char *parts[16];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (n == 16)
            return status_failure(404, "NotFound", json_object(),
                                  "the server could not find the requested resource");
        parts[n++] = tok;
    }
    http_response *resp;
    if (n >= 1 && (strcmp(parts[0], "api") == 0 || strcmp(parts[0], "apis") == 0)) {
        bool core = strcmp(parts[0], "api") == 0;
        size_t discovery_depth = core ? 2 : 3;
        if (n <= discovery_depth) {
            if ((resp = authorize_path(c, path)))
                return resp;
            if (!get)
                return status_failure(405, "MethodNotAllowed", json_object(),
                                      "the server does not allow this method on the requested "
                                      "resource");
            if (core)
                return n == 1 ? discovery_core(c) : discovery_resources(c, "", parts[1]);
            if (n == 1)
                return discovery_groups(c);
            if (n == 2)
                return discovery_group(c, parts[1]);
            return discovery_resources(c, parts[1], parts[2]);
        }
        const char *rest[18];
        size_t k = 0;
        if (core) {
            if (strcmp(parts[1], "v1") != 0)
                return status_failure(404, "NotFound", json_object(),
                                      "the server could not find the requested resource");
            rest[k++] = "";
            rest[k++] = "v1";
            for (size_t i = 2; i < n; i++)
                rest[k++] = parts[i];
        } else {
            for (size_t i = 1; i < n; i++)
                rest[k++] = parts[i];
        }
        return rest_handle(c, rest, k, false);
    }
    if ((resp = authorize_path(c, path)))
        return resp;
    if (n == 1 && strcmp(parts[0], "version") == 0 && get)
        return discovery_version(c);
    if (n >= 1 && get &&
        (strcmp(parts[0], "healthz") == 0 || strcmp(parts[0], "livez") == 0 ||
         strcmp(parts[0], "readyz") == 0))
        return health(c, parts[0]);
    if (n == 2 && get && strcmp(parts[0], "openapi") == 0 && strcmp(parts[1], "v2") == 0)
        return openapi_v2(c);
    if (n >= 2 && get && strcmp(parts[0], "openapi") == 0 && strcmp(parts[1], "v3") == 0) {
        const char *sub = n > 2 ? path + strlen("/openapi/v3/") : "";
        return openapi_v3(c, sub);
    }
    return status_failure(404, "NotFound", json_object(),
                          "the server could not find the requested resource");
}

static http_response *handle(http_request *req, void *userdata)
{
    struct api_req c = {.as = userdata, .http = req};
    time_now(c.now);
    if (auth_authenticate(c.as, req, &c.user) < 0)
        return unauthorized();
    http_response *resp = route(&c);
    api_user_release(&c.user);
    free(c.ns);
    free(c.name);
    free(c.sub);
    json_decref(c.warnings);
    return resp;
}

/* ---------------------------------------------------------------- bootstrap */

static int bootstrap_object(struct apiserver *as, const char *plural, const char *json,
                            wharf_error *err)
{
    const struct api_resource *r = registry_find("", "v1", plural);
    json_error_t jerr;
    json_t *obj = json_loads(json, 0, &jerr);
    if (!obj)
        return wharf_error_set(err, -EINVAL, "bootstrap %s: %s", plural, jerr.text);
    int rc = rest_create_internal(as, r, obj, err);
    json_decref(obj);
    if (rc == -EEXIST) {
        wharf_error_clear(err);
        rc = 0;
    }
    return rc;
}

/* The "kubernetes" Endpoints point at this server's address and port,
 * which may differ from the last start. */
static int bootstrap_endpoints(struct apiserver *as, wharf_error *err)
{
    const struct api_resource *r = registry_find("", "v1", "endpoints");
    _cleanup_free_ char *json = xasprintf(
        "{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\",\"labels\":"
        "{\"endpointslice.kubernetes.io/skip-mirror\":\"true\"}},\"subsets\":[{\"addresses\":"
        "[{\"ip\":\"%s\"}],\"ports\":[{\"name\":\"https\",\"port\":%d,\"protocol\":\"TCP\"}]}]}",
        as->advertise_address, as->port);
    json_t *obj = json_loads(json, 0, NULL);
    int rc = rest_create_internal(as, r, obj, err);
    if (rc == -EEXIST) {
        wharf_error_clear(err);
        _cleanup_free_ char *key = registry_key(r, "default", "kubernetes");
        struct kvstore_kv kv = {0};
        rc = kvstore_get(as->store, key, &kv, err);
        json_t *cur = rc == 0 ? object_decode(as, r, &kv, err) : NULL;
        if (cur && !json_equal(json_object_get(cur, "subsets"), json_object_get(obj, "subsets"))) {
            json_object_set(cur, "subsets", json_object_get(obj, "subsets"));
            strbuf value = STRBUF_INIT;
            rc = object_encode(as, r, key, cur, &value, err);
            if (rc == 0)
                rc = kvstore_update(as->store, key, value.buf, value.len, kv.mod_revision, NULL,
                                    NULL, err);
            strbuf_release(&value);
        }
        if (cur)
            json_decref(cur);
        kvstore_kv_release(&kv);
    }
    json_decref(obj);
    return rc;
}

static int bootstrap(struct apiserver *as, wharf_error *err)
{
    static const char *const namespaces[] = {"default", "kube-system", "kube-public",
                                             "kube-node-lease"};
    for (size_t i = 0; i < 4; i++) {
        _cleanup_free_ char *json = xasprintf("{\"metadata\":{\"name\":\"%s\"}}", namespaces[i]);
        if (bootstrap_object(as, "namespaces", json, err) < 0)
            return err->code;
    }
    if (rbac_bootstrap(as, err) < 0)
        return err->code;
    if (services_repair(as, err) < 0)
        return err->code;
    _cleanup_free_ char *svc = xasprintf(
        "{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\",\"labels\":"
        "{\"component\":\"apiserver\",\"provider\":\"kubernetes\"}},\"spec\":{\"clusterIP\":"
        "\"10.43.0.1\",\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\","
        "\"targetPort\":%d}]}}",
        as->port);
    if (bootstrap_object(as, "services", svc, err) < 0)
        return err->code;
    return bootstrap_endpoints(as, err);
}

/* ---------------------------------------------------------------- lifecycle */

struct apiserver *apiserver_new(const struct apiserver_config *cfg, wharf_error *err)
{
    _cleanup_free_ char *endpoint = NULL, *addr = NULL, *crt = NULL, *key = NULL, *ca = NULL;
    struct apiserver *as = xcalloc(1, sizeof(*as));
    pthread_mutex_init(&as->lock, NULL);
    pthread_cond_init(&as->cond, NULL);
    as->data_dir = xstrdup(cfg->data_dir ? cfg->data_dir : APISERVER_DEFAULT_DATA_DIR);
    as->bind_address = xstrdup(cfg->bind_address ? cfg->bind_address : APISERVER_DEFAULT_BIND);
    as->port = cfg->port;
    as->compaction_interval_s = cfg->compaction_interval_s == 0 ? APISERVER_DEFAULT_COMPACTION_S
                                                                : cfg->compaction_interval_s;
    const char *b = as->bind_address;
    as->advertise_address = xstrdup(
        strcmp(b, "0.0.0.0") == 0 || strcmp(b, "::") == 0 || strcmp(b, "") == 0 ? "127.0.0.1" : b);
    as->tls_dir = xasprintf("%s/tls", as->data_dir);
    as->kubeconfig_path = xasprintf("%s/admin.kubeconfig", as->data_dir);
    if (cfg->port < 0 || cfg->port > 65535) {
        wharf_error_set(err, -EINVAL, "--https-listen-port %d: not a port number", cfg->port);
        goto fail;
    }
    if (wharf_mkdir_p(as->data_dir, 0700, err) < 0) {
        wharf_error_prefix(err, "--data-dir");
        goto fail;
    }
    if (pki_ensure(as, err) < 0 || secrets_key_load(as, err) < 0 ||
        auth_load_tokens(as, cfg->token, cfg->token_file, err) < 0)
        goto fail;

    endpoint = cfg->datastore_endpoint && *cfg->datastore_endpoint
                   ? xstrdup(cfg->datastore_endpoint)
                   : xasprintf("sqlite://%s%s/db/state.db", as->data_dir[0] == '/' ? "" : "/",
                               as->data_dir);
    if (strncmp(endpoint, "sqlite://", 9) != 0 && strncmp(endpoint, "http://", 7) != 0 &&
        strncmp(endpoint, "https://", 8) != 0) {
        wharf_error_set(err, -EINVAL,
                        "--datastore-endpoint %s: expected sqlite:///PATH or http://HOST:PORT "
                        "(etcd)",
                        endpoint);
        goto fail;
    }
    as->store = kvstore_open(endpoint, NULL, err);
    if (!as->store) {
        wharf_error_prefix(err, "datastore");
        goto fail;
    }

    as->router = http_router_new();
    static const char *const patterns[] = {"/api",
                                           "/api/{rest*}",
                                           "/apis",
                                           "/apis/{rest*}",
                                           "/version",
                                           "/healthz",
                                           "/healthz/{rest*}",
                                           "/livez",
                                           "/livez/{rest*}",
                                           "/readyz",
                                           "/readyz/{rest*}",
                                           "/openapi/{rest*}"};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            if (http_router_add(as->router, methods[m], patterns[p], handle, as, err) < 0)
                goto fail;
        }
    }
    bool v6 = strchr(as->bind_address, ':') != NULL;
    addr = xasprintf("%s%s%s:%d", v6 ? "[" : "", as->bind_address, v6 ? "]" : "", as->port);
    crt = xasprintf("%s/server.crt", as->tls_dir);
    key = xasprintf("%s/server.key", as->tls_dir);
    ca = xasprintf("%s/ca.crt", as->tls_dir);
    http_listener ls = {.kind = HTTP_LISTEN_TCP,
                        .address = addr,
                        .tls_cert = crt,
                        .tls_key = key,
                        .tls_client_ca = ca};
    static const char *const headers[] = {"Cache-Control", "no-cache, private", NULL};
    http_server_config hcfg = {.listeners = &ls,
                               .n_listeners = 1,
                               .router = as->router,
                               .max_body = MAX_BODY,
                               .headers = headers};
    as->http = http_server_new(&hcfg, err);
    if (!as->http)
        goto fail;
    as->port = http_server_port(as->http, 0);

    if (bootstrap(as, err) < 0) {
        wharf_error_prefix(err, "creating the built-in objects");
        goto fail;
    }
    if (pki_write_kubeconfig(as, as->kubeconfig_path, err) < 0 ||
        (cfg->write_kubeconfig && pki_write_kubeconfig(as, cfg->write_kubeconfig, err) < 0))
        goto fail;
    return as;
fail:
    apiserver_free(as);
    return NULL;
}

int apiserver_start(struct apiserver *as, wharf_error *err)
{
    if (http_server_start(as->http, err) < 0)
        return err->code;
    return ns_start(as, err);
}

int apiserver_port(const struct apiserver *as)
{
    return as->port;
}

const char *apiserver_kubeconfig_path(const struct apiserver *as)
{
    return as->kubeconfig_path;
}

void apiserver_free(struct apiserver *as)
{
    if (!as)
        return;
    watch_stop_all(as);
    if (as->http)
        http_server_stop(as->http);
    watch_wait_all(as);
    ns_stop(as);
    http_server_free(as->http);
    http_router_free(as->router);
    kvstore_close(as->store);
    for (size_t i = 0; i < as->n_tokens; i++) {
        free(as->tokens[i].token);
        api_user_release(&as->tokens[i].user);
    }
    free(as->tokens);
    free(as->watches);
    free(as->data_dir);
    free(as->bind_address);
    free(as->advertise_address);
    free(as->tls_dir);
    free(as->kubeconfig_path);
    pthread_cond_destroy(&as->cond);
    pthread_mutex_destroy(&as->lock);
    free(as);
}
