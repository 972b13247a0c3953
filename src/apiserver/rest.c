/*
 * The generic REST handler: one implementation of the verbs for every
 * stored type, driven by the registry.
 *
 *   /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
 *   /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
 *
 * create (generateName, namespace checks), get, list (label and field
 * selectors, limit/continue, resourceVersion/resourceVersionMatch), watch
 * (watch.c), update with optimistic concurrency, patch (merge, JSON,
 * strategic), delete (finalizers, propagationPolicy, graceful pods,
 * preconditions), deletecollection; dryRun=All and fieldValidation on every
 * write; the status, scale, binding and finalize subresources; log, exec,
 * attach and portforward answered 503 until a node agent exists; access
 * reviews. Every failure is a Status (status.c).
 *
 * Writes are compare-and-swap on the mod revision read; an update or patch
 * that did not name a resourceVersion is retried on a lost race, one that
 * did gets 409 Conflict.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define WRITE_RETRIES 8
#define LIST_PAGE 500

/* ---------------------------------------------------------------- helpers */

static http_response *with_warnings(struct api_req *c, http_response *resp)
{
    if (c && c->warnings && json_array_size(c->warnings) > 0) {
        strbuf sb = STRBUF_INIT;
        size_t i;
        json_t *w;
        json_array_foreach(c->warnings, i, w)
        {
            if (i)
                strbuf_addstr(&sb, ", ");
            strbuf_addstr(&sb, "299 - \"");
            for (const char *p = json_string_value(w); p && *p; p++) {
                if (*p == '"' || *p == '\\')
                    strbuf_addch(&sb, '\\');
                strbuf_addch(&sb, *p);
            }
            strbuf_addch(&sb, '"');
        }
        http_response_set_header(resp, "Warning", strbuf_str(&sb));
        strbuf_release(&sb);
    }
    return resp;
}

http_response *api_respond(struct api_req *c, int status, json_t *body)
{
    return with_warnings(c, http_response_json(status, body));
}

static void warn(struct api_req *c, const char *fmt, ...) WHARF_PRINTF(2, 3);
static void warn(struct api_req *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (!c->warnings)
        c->warnings = json_array();
    json_array_append_new(c->warnings, json_string(strbuf_str(&sb)));
    strbuf_release(&sb);
}

bool accept_has(http_request *req, const char *as_param, const char *g, const char *v)
{
    const char *accept = http_request_header(req, "Accept");
    if (!accept)
        return false;
    /* media types separated by ',', parameters by ';' */
    const char *p = accept;
    while (*p) {
        size_t n = strcspn(p, ",");
        bool as_ok = false, g_ok = !g, v_ok = !v;
        const char *q = p;
        const char *end = p + n;
        while (q < end) {
            size_t m = strcspn(q, ";,");
            if (q + m > end)
                m = (size_t)(end - q);
            while (m && *q == ' ') {
                q++;
                m--;
            }
            if (m > 3 && strncmp(q, "as=", 3) == 0)
                as_ok = m - 3 == strlen(as_param) && strncmp(q + 3, as_param, m - 3) == 0;
            else if (g && m > 2 && strncmp(q, "g=", 2) == 0)
                g_ok = m - 2 == strlen(g) && strncmp(q + 2, g, m - 2) == 0;
            else if (v && m > 2 && strncmp(q, "v=", 2) == 0)
                v_ok = m - 2 == strlen(v) && strncmp(q + 2, v, m - 2) == 0;
            q += m;
            if (q < end && *q == ';')
                q++;
        }
        if (as_ok && g_ok && v_ok)
            return true;
        p = end;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool wants_table(struct api_req *c)
{
    return accept_has(c->http, "Table", "meta.k8s.io", "v1") ||
           accept_has(c->http, "Table", "meta.k8s.io", "v1beta1");
}

static const char *table_include(struct api_req *c)
{
    const char *v = http_request_query(c->http, "includeObject");
    return v && *v ? v : "Metadata";
}

static http_response *not_found_path(void)
{
    return status_failure(404, "NotFound", json_object(),
                          "the server could not find the requested resource");
}

static http_response *method_not_allowed(struct api_req *c)
{
    return status_failure(405, "MethodNotAllowed", json_object(),
                          "the server does not allow this method on the requested resource");
}

static char *kvkey(struct api_req *c, const char *name)
{
    return registry_key(c->res, c->ns, name);
}

/* The current object (new reference) and its revision, or NULL with a
 * Status response in *resp. */
static json_t *load(struct api_req *c, const struct api_resource *r, const char *ns,
                    const char *name, int64_t *rev, http_response **resp)
{
    _cleanup_free_ char *key = registry_key(r, ns, name);
    struct kvstore_kv kv = {0};
    wharf_error err = {0};
    if (kvstore_get(c->as->store, key, &kv, &err) < 0) {
        *resp = status_from_store(r, name, &err);
        return NULL;
    }
    json_t *obj = object_decode(c->as, r, &kv, &err);
    if (rev)
        *rev = kv.mod_revision;
    kvstore_kv_release(&kv);
    if (!obj)
        *resp = status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
    return obj;
}

/* ---------------------------------------------------------------- decoding */

static const char *ctype_base(struct api_req *c, size_t *len)
{
    const char *ct = http_request_header(c->http, "Content-Type");
    if (!ct) {
        *len = 0;
        return NULL;
    }
    *len = strcspn(ct, ";");
    while (*len && ct[*len - 1] == ' ')
        (*len)--;
    return ct;
}

/* The request body as a JSON object, or NULL with a Status in *resp. */
static json_t *read_body(struct api_req *c, http_response **resp, bool allow_any_json_type)
{
    size_t len = 0;
    const char *body = http_request_body(c->http, &len);
    size_t clen;
    const char *ct = ctype_base(c, &clen);
    const char *kind = c->res ? c->res->kind : "object";
    if (ct && clen == 35 && strncasecmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
        wharf_error err = {0};
        json_t *obj = proto_decode(body, len, &err);
        if (!obj)
            *resp = status_bad_request("the object provided is unrecognized (must be of type %s): "
                                       "%s",
                                       kind, err.msg);
        return obj;
    }
    if (ct && clen == 16 && strncasecmp(ct, "application/yaml", 16) == 0) {
        wharf_error err = {0};
        json_t *obj = yaml_to_json(body, len, &err);
        if (obj && !json_is_object(obj) && !allow_any_json_type) {
            json_decref(obj);
            obj = NULL;
            wharf_error_set(&err, -EINVAL, "expected a YAML mapping");
        }
        if (!obj)
            *resp = status_bad_request("the object provided is unrecognized (must be of type %s): "
                                       "couldn't get version/kind; %s",
                                       kind, err.msg);
        return obj;
    }
    if (ct && clen && !(clen == 16 && strncasecmp(ct, "application/json", 16) == 0) &&
        !(clen > 5 && strncasecmp(ct + clen - 5, "+json", 5) == 0) &&
        !(clen == 3 && strncmp(ct, "*/*", 3) == 0)) {
        *resp = status_failure(415, "UnsupportedMediaType", NULL,
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json, application/yaml, "
                               "application/vnd.kubernetes.protobuf");
        return NULL;
    }
    if (len == 0) {
        *resp = status_bad_request("the object provided is unrecognized (must be of type %s): "
                                   "couldn't get version/kind; json parse error: unexpected end "
                                   "of JSON input",
                                   kind);
        return NULL;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (!obj) {
        *resp = status_bad_request("the object provided is unrecognized (must be of type %s): "
                                   "couldn't get version/kind; json parse error: %s (line %d, "
                                   "column %d)",
                                   kind, jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(obj) && !allow_any_json_type) {
        json_decref(obj);
        *resp = status_bad_request("the object provided is unrecognized (must be of type %s): "
                                   "couldn't get version/kind; json parse error: expected a JSON "
                                   "object",
                                   kind);
        return NULL;
    }
    if (c->fv == FV_STRICT && json_is_object(obj)) {
        json_t *dup = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!dup) {
            json_decref(obj);
            *resp = status_bad_request("strict decoding error: %s", jerr.text);
            return NULL;
        }
        json_decref(dup);
    }
    return obj;
}

/* Checks kind/apiVersion (filling them when absent), JSON types and
 * unknown fields (per fieldValidation). 0 or a Status in *resp. */
static int check_typed(struct api_req *c, const struct api_resource *r, const char *schema_name,
                       json_t *obj, http_response **resp)
{
    const char *want_av = registry_api_version(r);
    const char *kind = r->kind;
    if (schema_name && strcmp(schema_name, r->kind) != 0) {
        /* subresource bodies: Scale (autoscaling/v1), Binding (v1) */
        kind = schema_name;
        want_av = strcmp(schema_name, "Scale") == 0 ? "autoscaling/v1" : "v1";
    }
    json_t *av = json_object_get(obj, "apiVersion");
    json_t *k = json_object_get(obj, "kind");
    if (av && (!json_is_string(av) || strcmp(json_string_value(av), want_av) != 0)) {
        *resp = status_bad_request("the API version in the data (%s) does not match the expected "
                                   "API version (%s)",
                                   json_is_string(av) ? json_string_value(av) : "?", want_av);
        return -EINVAL;
    }
    if (k && (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0)) {
        *resp = status_bad_request("the kind in the data (%s) does not match the expected kind "
                                   "(%s)",
                                   json_is_string(k) ? json_string_value(k) : "?", kind);
        return -EINVAL;
    }
    json_object_set_new(obj, "apiVersion", json_string(want_av));
    json_object_set_new(obj, "kind", json_string(kind));
    const struct schema_type *t = schema_lookup(schema_name ? schema_name : r->kind);
    if (!t)
        return 0;
    json_t *unknown = NULL;
    wharf_error err = {0};
    if (schema_check(t, obj, c->fv != FV_STRICT, &unknown, &err) < 0) {
        json_decref(unknown);
        *resp = status_bad_request("%s in version \"%s\" cannot be handled as a %s: %s", kind,
                                   r->version, kind, err.msg);
        return -EINVAL;
    }
    size_t n = json_array_size(unknown);
    if (n > 0 && c->fv == FV_STRICT) {
        strbuf sb = STRBUF_INIT;
        strbuf_addstr(&sb, "strict decoding error: ");
        for (size_t i = 0; i < n; i++)
            strbuf_addf(&sb, "%sunknown field \"%s\"", i ? ", " : "",
                        json_string_value(json_array_get(unknown, i)));
        *resp = status_bad_request("%s", strbuf_str(&sb));
        strbuf_release(&sb);
        json_decref(unknown);
        return -EINVAL;
    }
    if (c->fv == FV_WARN) {
        for (size_t i = 0; i < n; i++)
            warn(c, "unknown field \"%s\"", json_string_value(json_array_get(unknown, i)));
    }
    json_decref(unknown);
    return 0;
}

/* The object's meta must not contradict the URL's namespace and name. */
static http_response *check_identity(struct api_req *c, json_t *obj, const char *url_name)
{
    json_t *meta = object_meta(obj);
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    if (c->res->namespaced) {
        if (ns && *ns && c->ns && strcmp(ns, c->ns) != 0)
            return status_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request");
        if (c->ns)
            json_object_set_new(meta, "namespace", json_string(c->ns));
    } else {
        json_object_del(meta, "namespace");
    }
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (url_name) {
        if (name && *name && strcmp(name, url_name) != 0)
            return status_bad_request("the name of the object (%s) does not match the name on the "
                                      "URL (%s)",
                                      name, url_name);
        json_object_set_new(meta, "name", json_string(url_name));
    }
    return NULL;
}

/* The object's spec-like content: everything but metadata and status. */
static bool same_spec(json_t *a, json_t *b)
{
    json_t *x = json_copy(a), *y = json_copy(b);
    static const char *const skip[] = {"metadata", "status", "apiVersion", "kind"};
    for (size_t i = 0; i < 4; i++) {
        json_object_del(x, skip[i]);
        json_object_del(y, skip[i]);
    }
    bool eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static http_response *validate_all(struct api_req *c, json_t *obj, json_t *old)
{
    struct field_errors fe = {0};
    validate_object_meta(c->res, object_meta(obj), &fe);
    if (old) {
        const char *nn = object_str(obj, "metadata.name"), *on = object_str(old, "metadata.name");
        if (nn && on && strcmp(nn, on) != 0)
            fe_add(&fe, FE_INVALID, object_get(obj, "metadata.name"), "field is immutable",
                   "metadata.name");
    }
    if (c->res->validate)
        c->res->validate(c, obj, old, &fe);
    if (fe_count(&fe) == 0)
        return NULL;
    http_response *resp = status_invalid(c->res, object_str(obj, "metadata.name"), &fe);
    fe_release(&fe);
    return resp;
}

/* Namespaced creates need a live namespace. */
static http_response *check_namespace(struct api_req *c, const char *name)
{
    if (!c->res->namespaced || !c->ns)
        return NULL;
    const struct api_resource *nsr = registry_find("", "v1", "namespaces");
    http_response *resp = NULL;
    json_t *ns = load(c, nsr, NULL, c->ns, NULL, &resp);
    if (!ns)
        return resp;
    const char *phase = object_str(ns, "status.phase");
    bool terminating = (phase && strcmp(phase, "Terminating") == 0) ||
                       object_get(ns, "metadata.deletionTimestamp");
    json_decref(ns);
    if (terminating) {
        json_t *details = status_details(c->res, name);
        json_object_set_new(details, "causes",
                            json_pack("[{s:s, s:s, s:s}]", "reason", "NamespaceTerminating",
                                      "message", "namespace is being terminated", "field",
                                      "metadata.namespace"));
        return status_failure(403, "Forbidden", details,
                              "%s%s \"%s\" is forbidden: unable to create new content in "
                              "namespace %s because it is being terminated",
                              c->res->plural, c->res->group[0] ? "." : "", name ? name : "", c->ns);
    }
    return NULL;
}

static void generate_name(const char *prefix, char *out, size_t len)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < 5; i++)
            rnd[i] = (unsigned char)rand();
    size_t plen = strlen(prefix);
    /* kube trims the prefix so the result stays within 63 characters */
    if (plen > 58)
        plen = 58;
    snprintf(out, len, "%.*s%c%c%c%c%c", (int)plen, prefix, alphabet[rnd[0] % 27],
             alphabet[rnd[1] % 27], alphabet[rnd[2] % 27], alphabet[rnd[3] % 27],
             alphabet[rnd[4] % 27]);
}

/* ---------------------------------------------------------------- create */

/* The machinery's fields on a new object. */
static void prepare_create(struct api_req *c, json_t *obj)
{
    json_t *meta = object_meta(obj);
    char uid[37];
    new_uid(uid);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(c->now));
    static const char *const clear[] = {"resourceVersion", "deletionTimestamp",
                                        "deletionGracePeriodSeconds", "selfLink", "managedFields"};
    for (size_t i = 0; i < sizeof(clear) / sizeof(clear[0]); i++)
        json_object_del(meta, clear[i]);
    if (c->res->flags & RES_GENERATION)
        json_object_set_new(meta, "generation", json_integer(1));
    else
        json_object_del(meta, "generation");
    if (c->res->subresources & SUB_STATUS)
        json_object_del(obj, "status");
}

static bool is_service(const struct api_resource *r)
{
    return strcmp(r->plural, "services") == 0 && r->group[0] == '\0';
}

/* Creates obj (owned); the response is 201 with the stored object. */
static http_response *do_create(struct api_req *c, json_t *obj)
{
    http_response *resp = check_identity(c, obj, NULL);
    if (resp) {
        json_decref(obj);
        return resp;
    }
    json_t *meta = object_meta(obj);
    const char *gen = json_string_value(json_object_get(meta, "generateName"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    bool generated = (!name || !*name) && gen && *gen;
    char namebuf[300];
    if (generated) {
        generate_name(gen, namebuf, sizeof(namebuf));
        json_object_set_new(meta, "name", json_string(namebuf));
    }
    name = json_string_value(json_object_get(meta, "name"));
    if ((resp = check_namespace(c, name))) {
        json_decref(obj);
        return resp;
    }
    prepare_create(c, obj);
    if (c->res->defaults)
        c->res->defaults(c, obj, NULL);
    if ((resp = validate_all(c, obj, NULL))) {
        json_decref(obj);
        return resp;
    }
    name = object_str(obj, "metadata.name");
    wharf_error err = {0};
    if (is_service(c->res)) {
        /* An existing Service is AlreadyExists, not a clash of addresses. */
        _cleanup_free_ char *key = kvkey(c, name);
        struct kvstore_kv kv = {0};
        int rc = kvstore_get(c->as->store, key, &kv, &err);
        kvstore_kv_release(&kv);
        if (rc == 0 && !generated) {
            resp = status_already_exists(c->res, name);
            json_decref(obj);
            return resp;
        }
        wharf_error_clear(&err);
        struct field_errors fe = {0};
        rc = services_allocate(c->as, obj, NULL, c->dry_run, &fe, &err);
        if (fe_count(&fe) > 0) {
            resp = status_invalid(c->res, name, &fe);
            fe_release(&fe);
        } else if (rc < 0) {
            resp =
                status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
        }
        if (resp) {
            json_decref(obj);
            return resp;
        }
    }
    for (int attempt = 0;; attempt++) {
        _cleanup_free_ char *key = kvkey(c, object_str(obj, "metadata.name"));
        int64_t rev = 0;
        int rc;
        if (c->dry_run) {
            struct kvstore_kv kv = {0};
            rc = kvstore_get(c->as->store, key, &kv, &err);
            kvstore_kv_release(&kv);
            if (rc == 0) {
                rc = wharf_error_set(&err, -EEXIST, "exists");
            } else if (rc == -ENOENT) {
                rc = 0;
                wharf_error_clear(&err);
            }
        } else {
            _cleanup_strbuf_ strbuf value = STRBUF_INIT;
            rc = object_encode(c->as, c->res, key, obj, &value, &err);
            if (rc == 0)
                rc = kvstore_create(c->as->store, key, value.buf, value.len, &rev, &err);
        }
        if (rc == -EEXIST && generated && attempt < 5) {
            generate_name(gen, namebuf, sizeof(namebuf));
            json_object_set_new(object_meta(obj), "name", json_string(namebuf));
            continue;
        }
        if (rc < 0) {
            if (is_service(c->res) && !c->dry_run)
                services_release(c->as, obj, NULL);
            resp = status_from_store(c->res, object_str(obj, "metadata.name"), &err);
            json_decref(obj);
            return resp;
        }
        if (!c->dry_run)
            object_set_rv(obj, rev);
        break;
    }
    if (strcmp(c->res->plural, "namespaces") == 0 && !c->dry_run)
        ns_kick(c->as);
    return api_respond(c, 201, obj);
}

int rest_create_internal(struct apiserver *as, const struct api_resource *r, json_t *obj,
                         wharf_error *err)
{
    struct api_req c = {.as = as, .res = r, .verb = "create", .fv = FV_STRICT};
    c.ns = (char *)object_str(obj, "metadata.namespace");
    time_now(c.now);
    object_set_type(r, obj);
    http_response *resp = do_create(&c, json_deep_copy(obj));
    int status = http_response_status(resp);
    http_response_free(resp);
    json_decref(c.warnings);
    if (status == 201)
        return 0;
    if (status == 409)
        return wharf_error_set(err, -EEXIST, "%s %s exists", r->kind,
                               object_str(obj, "metadata.name") ?: "");
    return wharf_error_set(err, -EINVAL, "%s %s: could not be created (status %d)", r->kind,
                           object_str(obj, "metadata.name") ?: "", status);
}

/* ---------------------------------------------------------------- update */

enum write_result { WRITE_DONE, WRITE_RETRY };

static bool is_terminal_pod_phase(json_t *pod)
{
    const char *phase = object_str(pod, "status.phase");
    return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

/* Deletes the object now (CAS on rev). *retry on a lost race. */
static http_response *delete_now(struct api_req *c, json_t *cur, int64_t rev, bool *retry)
{
    _cleanup_free_ char *key = kvkey(c, object_str(cur, "metadata.name"));
    wharf_error err = {0};
    int64_t del_rev = 0;
    if (!c->dry_run && kvstore_delete(c->as->store, key, rev, &del_rev, NULL, &err) < 0) {
        if (err.code == -ECANCELED) {
            *retry = true;
            return NULL;
        }
        return status_from_store(c->res, object_str(cur, "metadata.name"), &err);
    }
    if (is_service(c->res) && !c->dry_run)
        services_release(c->as, cur, NULL);
    if (c->res->flags & RES_RETURN_DELETED)
        return api_respond(c, 200, json_incref(cur));
    json_t *details = status_details(c->res, object_str(cur, "metadata.name"));
    json_object_set(details, "uid", object_get(cur, "metadata.uid"));
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "details", details);
    return api_respond(c, 200, st);
}

/*
 * Writes obj (owned) over cur (borrowed, revision rev) as an update of the
 * resource or of subresource c->sub. rv_given: the client named a
 * resourceVersion (a lost race is then a 409, not a retry).
 */
static http_response *write_update(struct api_req *c, json_t *cur, int64_t rev, json_t *obj,
                                   bool rv_given, bool *retry)
{
    *retry = false;
    const char *name = object_str(cur, "metadata.name");
    int64_t want = object_rv(obj);
    if (want < 0 || (rv_given && want != rev)) {
        json_decref(obj);
        if (want < 0)
            return status_bad_request("metadata.resourceVersion: Invalid value: must be an "
                                      "integer");
        return status_conflict(c->res, name,
                               "the object has been modified; please apply your changes to the "
                               "latest version and try again");
    }
    http_response *resp = check_identity(c, obj, name);
    if (resp) {
        json_decref(obj);
        return resp;
    }
    const char *uid = object_str(obj, "metadata.uid");
    const char *cur_uid = object_str(cur, "metadata.uid");
    if (uid && *uid && cur_uid && strcmp(uid, cur_uid) != 0) {
        json_decref(obj);
        return status_failure(409, "Conflict", status_details(c->res, name),
                              "Operation cannot be fulfilled on %s%s%s \"%s\": Precondition "
                              "failed: UID in precondition: %s, UID in object meta: %s",
                              c->res->plural, c->res->group[0] ? "." : "", c->res->group, name, uid,
                              cur_uid);
    }
    /* The subresource decides which part of the new object counts. */
    if (c->sub && strcmp(c->sub, "status") == 0) {
        json_t *next = json_deep_copy(cur);
        json_t *st = json_object_get(obj, "status");
        if (st)
            json_object_set(next, "status", st);
        else
            json_object_del(next, "status");
        json_decref(obj);
        obj = next;
    } else if (c->sub && strcmp(c->sub, "finalize") == 0) {
        json_t *next = json_deep_copy(cur);
        json_t *f = object_get(obj, "spec.finalizers");
        object_set(next, "spec.finalizers", f ? json_incref(f) : json_array());
        json_decref(obj);
        obj = next;
    } else if (c->res->subresources & SUB_STATUS) {
        json_t *st = json_object_get(cur, "status");
        if (st)
            json_object_set_new(obj, "status", json_deep_copy(st));
        else
            json_object_del(obj, "status");
    }
    json_t *meta = object_meta(obj);
    json_t *cmeta = object_meta(cur);
    static const char *const kept[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                       "deletionGracePeriodSeconds", "generation"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        json_t *v = json_object_get(cmeta, kept[i]);
        if (v)
            json_object_set(meta, kept[i], v);
        else
            json_object_del(meta, kept[i]);
    }
    json_object_del(meta, "selfLink");
    json_object_del(meta, "managedFields");
    /* Finalizers may only be removed, not added, once deletion started. */
    if (json_object_get(cmeta, "deletionTimestamp")) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(meta, "finalizers"), i, f)
        {
            size_t k;
            json_t *o;
            bool had = false;
            json_array_foreach(json_object_get(cmeta, "finalizers"), k, o)
            {
                if (json_equal(o, f))
                    had = true;
            }
            if (!had) {
                struct field_errors fe = {0};
                fe_add(&fe, FE_FORBIDDEN, NULL,
                       "no new finalizers can be added if the object is being deleted",
                       "metadata.finalizers");
                resp = status_invalid(c->res, name, &fe);
                fe_release(&fe);
                json_decref(obj);
                return resp;
            }
        }
    }
    if (c->res->defaults)
        c->res->defaults(c, obj, cur);
    if ((c->res->flags & RES_GENERATION) && !same_spec(obj, cur)) {
        json_int_t g = json_integer_value(json_object_get(cmeta, "generation"));
        json_object_set_new(meta, "generation", json_integer(g + 1));
    }
    if ((resp = validate_all(c, obj, cur))) {
        json_decref(obj);
        return resp;
    }
    object_set_rv(obj, rev);
    /* Nothing changed: no write, no new resourceVersion (as kube). */
    if (json_equal(obj, cur))
        return api_respond(c, 200, obj);
    bool finalized = object_get(obj, "metadata.deletionTimestamp") &&
                     json_array_size(object_get(obj, "metadata.finalizers")) == 0;
    if (finalized &&
        !(strcmp(c->res->plural, "pods") == 0 && object_get(obj, "spec.nodeName") &&
          !is_terminal_pod_phase(obj) &&
          json_integer_value(object_get(obj, "metadata.deletionGracePeriodSeconds")) > 0)) {
        resp = delete_now(c, obj, rev, retry);
        json_decref(obj);
        return resp;
    }
    wharf_error err = {0};
    if (is_service(c->res)) {
        struct field_errors fe = {0};
        int rc = services_allocate(c->as, obj, cur, c->dry_run, &fe, &err);
        if (fe_count(&fe) > 0) {
            resp = status_invalid(c->res, name, &fe);
            fe_release(&fe);
        } else if (rc < 0) {
            resp =
                status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
        }
        if (resp) {
            json_decref(obj);
            return resp;
        }
    }
    if (!c->dry_run) {
        _cleanup_free_ char *key = kvkey(c, name);
        _cleanup_strbuf_ strbuf value = STRBUF_INIT;
        int64_t new_rev = 0;
        int rc = object_encode(c->as, c->res, key, obj, &value, &err);
        if (rc == 0)
            rc = kvstore_update(c->as->store, key, value.buf, value.len, rev, &new_rev, NULL, &err);
        if (rc < 0) {
            if (is_service(c->res))
                services_release(c->as, obj, cur);
            if (rc == -ECANCELED && !rv_given) {
                *retry = true;
                json_decref(obj);
                return NULL;
            }
            resp = status_from_store(c->res, name, &err);
            json_decref(obj);
            return resp;
        }
        if (is_service(c->res))
            services_release(c->as, cur, obj);
        object_set_rv(obj, new_rev);
    }
    return api_respond(c, 200, obj);
}

static http_response *do_update(struct api_req *c)
{
    http_response *resp = NULL;
    json_t *body = read_body(c, &resp, false);
    if (!body)
        return resp;
    const char *schema = NULL;
    if (c->sub && strcmp(c->sub, "scale") == 0)
        schema = "Scale";
    if (check_typed(c, c->res, schema, body, &resp) < 0) {
        json_decref(body);
        return resp;
    }
    bool rv_given = object_rv(body) != 0;
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        int64_t rev = 0;
        json_t *cur = load(c, c->res, c->ns, c->name, &rev, &resp);
        if (!cur) {
            if (http_response_status(resp) == 404 && !c->sub &&
                (c->res->flags & RES_CREATE_ON_UPDATE)) {
                http_response_free(resp);
                return do_create(c, body);
            }
            json_decref(body);
            return resp;
        }
        json_t *obj;
        if (c->sub && strcmp(c->sub, "scale") == 0) {
            int64_t want = object_rv(body);
            if (rv_given && want != rev) {
                json_decref(cur);
                json_decref(body);
                return status_conflict(c->res, c->name,
                                       "the object has been modified; please apply your changes "
                                       "to the latest version and try again");
            }
            obj = json_deep_copy(cur);
            json_t *replicas = object_get(body, "spec.replicas");
            object_set(obj, "spec.replicas", replicas ? json_incref(replicas) : json_integer(0));
            char *sub = c->sub;
            c->sub = NULL;
            bool retry = false;
            resp = write_update(c, cur, rev, obj, false, &retry);
            c->sub = sub;
            json_decref(cur);
            if (retry)
                continue;
            json_decref(body);
            return resp;
        }
        obj = json_deep_copy(body);
        bool retry = false;
        resp = write_update(c, cur, rev, obj, rv_given, &retry);
        json_decref(cur);
        if (!retry) {
            json_decref(body);
            return resp;
        }
    }
    json_decref(body);
    return status_failure(409, "Conflict", status_details(c->res, c->name),
                          "Operation cannot be fulfilled on %s \"%s\": too many concurrent "
                          "updates, try again",
                          c->res->plural, c->name);
}

/* ---------------------------------------------------------------- scale */

static json_t *scale_of(struct api_req *c, json_t *obj)
{
    json_t *meta = object_meta(obj);
    json_t *scale = json_pack(
        "{s:s, s:s, s:{s:O*, s:O*, s:O*, s:O*, s:O*}, s:{s:I}, s:{s:I}}", "kind", "Scale",
        "apiVersion", "autoscaling/v1", "metadata", "name", json_object_get(meta, "name"),
        "namespace", json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"),
        "resourceVersion", json_object_get(meta, "resourceVersion"), "creationTimestamp",
        json_object_get(meta, "creationTimestamp"), "spec", "replicas",
        (json_int_t)json_integer_value(object_get(obj, "spec.replicas")), "status", "replicas",
        (json_int_t)json_integer_value(object_get(obj, "status.replicas")));
    char *sel = label_selector_string(object_get(obj, "spec.selector"));
    if (*sel)
        object_set(scale, "status.selector", json_string(sel));
    free(sel);
    return scale;
}

/* ---------------------------------------------------------------- patch */

static http_response *do_patch(struct api_req *c)
{
    size_t clen;
    const char *ct = ctype_base(c, &clen);
    enum { P_MERGE, P_JSON, P_STRATEGIC } kind;
    if (ct && clen == 28 && strncasecmp(ct, "application/merge-patch+json", 28) == 0)
        kind = P_MERGE;
    else if (ct && clen == 27 && strncasecmp(ct, "application/json-patch+json", 27) == 0)
        kind = P_JSON;
    else if (ct && clen == 38 && strncasecmp(ct, "application/strategic-merge-patch+json", 38) == 0)
        kind = P_STRATEGIC;
    else if (ct && clen == 28 && strncasecmp(ct, "application/apply-patch+yaml", 28) == 0)
        return status_failure(415, "UnsupportedMediaType", NULL,
                              "server-side apply (application/apply-patch+yaml) is not "
                              "supported by this server yet; use client-side kubectl apply");
    else
        return status_failure(415, "UnsupportedMediaType", NULL,
                              "the body of the request was in an unknown format - accepted "
                              "media types include: application/json-patch+json, "
                              "application/merge-patch+json, "
                              "application/strategic-merge-patch+json");
    http_response *resp = NULL;
    json_t *patch = read_body(c, &resp, kind == P_JSON);
    if (!patch)
        return resp;
    bool scale = c->sub && strcmp(c->sub, "scale") == 0;
    const struct schema_type *t = schema_lookup(scale ? "Scale" : c->res->kind);
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        int64_t rev = 0;
        json_t *cur = load(c, c->res, c->ns, c->name, &rev, &resp);
        if (!cur) {
            json_decref(patch);
            return resp;
        }
        json_t *base = scale ? scale_of(c, cur) : json_incref(cur);
        json_t *patched = NULL;
        wharf_error err = {0};
        int rc = 0;
        switch (kind) {
        case P_MERGE:
            patched = patch_merge(base, patch);
            break;
        case P_JSON:
            rc = patch_json(base, patch, &patched, &err);
            break;
        case P_STRATEGIC:
            rc = patch_strategic(base, patch, t, &patched, &err);
            break;
        }
        json_decref(base);
        if (rc < 0 || !json_is_object(patched)) {
            if (patched)
                json_decref(patched);
            json_decref(cur);
            json_decref(patch);
            return status_failure(422, "Invalid", NULL,
                                  "the server rejected our request due to an error in our "
                                  "request: %s",
                                  rc < 0 ? err.msg : "the patch did not produce an object");
        }
        /* A patch that names a resourceVersion is a precondition. */
        int64_t prv = object_rv(patched);
        bool rv_given = prv != rev;
        if (check_typed(c, c->res, scale ? "Scale" : NULL, patched, &resp) < 0) {
            json_decref(patched);
            json_decref(cur);
            json_decref(patch);
            return resp;
        }
        json_t *obj = patched;
        if (scale) {
            if (rv_given) {
                json_decref(patched);
                json_decref(cur);
                json_decref(patch);
                return status_conflict(c->res, c->name,
                                       "the object has been modified; please apply your changes "
                                       "to the latest version and try again");
            }
            obj = json_deep_copy(cur);
            json_t *replicas = object_get(patched, "spec.replicas");
            object_set(obj, "spec.replicas", replicas ? json_incref(replicas) : json_integer(0));
            json_decref(patched);
        }
        char *sub = c->sub;
        if (scale)
            c->sub = NULL;
        bool retry = false;
        resp = write_update(c, cur, rev, obj, rv_given, &retry);
        c->sub = sub;
        json_decref(cur);
        if (!retry) {
            json_decref(patch);
            if (scale && http_response_status(resp) == 200) {
                /* answer with the Scale, as kube does */
                http_response_free(resp);
                json_t *now = load(c, c->res, c->ns, c->name, NULL, &resp);
                if (!now)
                    return resp;
                json_t *s = scale_of(c, now);
                json_decref(now);
                return api_respond(c, 200, s);
            }
            return resp;
        }
    }
    json_decref(patch);
    return status_failure(409, "Conflict", status_details(c->res, c->name),
                          "Operation cannot be fulfilled on %s \"%s\": too many concurrent "
                          "updates, try again",
                          c->res->plural, c->name);
}

/* ---------------------------------------------------------------- delete */

struct delete_opts {
    bool has_grace;
    int64_t grace;
    const char *propagation; /* NULL: the default (Background) */
    const char *pre_uid;
    const char *pre_rv;
    json_t *body; /* owns the strings above */
};

static http_response *read_delete_opts(struct api_req *c, struct delete_opts *o)
{
    memset(o, 0, sizeof(*o));
    size_t len = 0;
    http_request_body(c->http, &len);
    if (len > 0) {
        http_response *resp = NULL;
        o->body = read_body(c, &resp, false);
        if (!o->body)
            return resp;
        json_t *g = json_object_get(o->body, "gracePeriodSeconds");
        if (json_is_integer(g)) {
            o->has_grace = true;
            o->grace = json_integer_value(g);
        }
        o->propagation = json_string_value(json_object_get(o->body, "propagationPolicy"));
        json_t *orphan = json_object_get(o->body, "orphanDependents");
        if (!o->propagation && json_is_boolean(orphan))
            o->propagation = json_is_true(orphan) ? "Orphan" : "Background";
        o->pre_uid = object_str(o->body, "preconditions.uid");
        o->pre_rv = object_str(o->body, "preconditions.resourceVersion");
        json_t *dry = json_object_get(o->body, "dryRun");
        if (json_array_size(dry) > 0)
            c->dry_run = true;
    }
    wharf_error err = {0};
    int64_t g = 0;
    if (http_request_query(c->http, "gracePeriodSeconds")) {
        if (http_request_query_int(c->http, "gracePeriodSeconds", &g, &err) < 0)
            return status_bad_request("%s", err.msg);
        o->has_grace = true;
        o->grace = g;
    }
    const char *pp = http_request_query(c->http, "propagationPolicy");
    if (pp)
        o->propagation = pp;
    const char *orphan = http_request_query(c->http, "orphanDependents");
    if (!pp && orphan)
        o->propagation = strcmp(orphan, "true") == 0 ? "Orphan" : "Background";
    if (o->propagation && strcmp(o->propagation, "Foreground") != 0 &&
        strcmp(o->propagation, "Background") != 0 && strcmp(o->propagation, "Orphan") != 0) {
        struct field_errors fe = {0};
        json_t *v = json_string(o->propagation);
        fe_add(&fe, FE_NOT_SUPPORTED, v,
               "supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
               "propagationPolicy");
        json_decref(v);
        _cleanup_free_ char *msg = fe_summary(&fe);
        fe_release(&fe);
        return status_bad_request("DeleteOptions.meta.k8s.io \"\" is invalid: %s", msg);
    }
    if (o->has_grace && o->grace < 0)
        o->grace = 0;
    return NULL;
}

static void add_finalizer(json_t *meta, const char *f)
{
    json_t *fins = json_object_get(meta, "finalizers");
    if (!json_is_array(fins)) {
        fins = json_array();
        json_object_set_new(meta, "finalizers", fins);
    }
    size_t i;
    json_t *v;
    json_array_foreach(fins, i, v)
    {
        if (strcmp(json_string_value(v) ?: "", f) == 0)
            return;
    }
    json_array_append_new(fins, json_string(f));
}

/* Marks cur (a copy) as being deleted and writes it. */
static http_response *mark_deleting(struct api_req *c, json_t *cur, int64_t rev, json_t *next,
                                    bool *retry)
{
    _cleanup_free_ char *key = kvkey(c, object_str(cur, "metadata.name"));
    wharf_error err = {0};
    if (!c->dry_run) {
        _cleanup_strbuf_ strbuf value = STRBUF_INIT;
        int64_t new_rev = 0;
        int rc = object_encode(c->as, c->res, key, next, &value, &err);
        if (rc == 0)
            rc = kvstore_update(c->as->store, key, value.buf, value.len, rev, &new_rev, NULL, &err);
        if (rc == -ECANCELED) {
            *retry = true;
            return NULL;
        }
        if (rc < 0)
            return status_from_store(c->res, object_str(cur, "metadata.name"), &err);
        object_set_rv(next, new_rev);
    }
    return api_respond(c, 200, json_incref(next));
}

/* One delete with Kubernetes' semantics; *retry on a lost race. */
static http_response *delete_one(struct api_req *c, const struct delete_opts *o, json_t *cur,
                                 int64_t rev, bool *retry)
{
    *retry = false;
    const char *name = object_str(cur, "metadata.name");
    const char *uid = object_str(cur, "metadata.uid");
    if (o->pre_uid && uid && strcmp(o->pre_uid, uid) != 0)
        return status_failure(409, "Conflict", status_details(c->res, name),
                              "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
                              "UID in precondition: %s, UID in object meta: %s",
                              c->res->plural, name, o->pre_uid, uid);
    if (o->pre_rv) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, rev);
        if (strcmp(o->pre_rv, buf) != 0)
            return status_failure(409, "Conflict", status_details(c->res, name),
                                  "Operation cannot be fulfilled on %s \"%s\": Precondition "
                                  "failed: ResourceVersion in precondition: %s, ResourceVersion "
                                  "in object meta: %s",
                                  c->res->plural, name, o->pre_rv, buf);
    }
    bool deleting = object_get(cur, "metadata.deletionTimestamp") != NULL;
    json_t *next = json_deep_copy(cur);
    json_t *meta = object_meta(next);
    http_response *resp = NULL;
    if (strcmp(c->res->plural, "namespaces") == 0 && !c->res->group[0]) {
        /* The namespace lifecycle empties it, then removes it. */
        if (deleting) {
            resp = api_respond(c, 200, json_incref(next));
        } else {
            json_object_set_new(meta, "deletionTimestamp", json_string(c->now));
            json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
            object_set(next, "status.phase", json_string("Terminating"));
            resp = mark_deleting(c, cur, rev, next, retry);
            if (!c->dry_run)
                ns_kick(c->as);
        }
        json_decref(next);
        return resp;
    }
    if (o->propagation && strcmp(o->propagation, "Foreground") == 0)
        add_finalizer(meta, "foregroundDeletion");
    else if (o->propagation && strcmp(o->propagation, "Orphan") == 0)
        add_finalizer(meta, "orphan");
    bool has_finalizers = json_array_size(json_object_get(meta, "finalizers")) > 0;
    /* A pod on a node is stopped by its node's agent, which deletes it; one
     * never scheduled (or finished) has nothing to stop. */
    bool is_pod = strcmp(c->res->plural, "pods") == 0 && !c->res->group[0];
    int64_t grace = 0;
    if (is_pod) {
        json_t *tg = object_get(cur, "spec.terminationGracePeriodSeconds");
        grace = o->has_grace ? o->grace : (json_is_integer(tg) ? json_integer_value(tg) : 30);
        if (!object_str(cur, "spec.nodeName") || is_terminal_pod_phase(cur))
            grace = 0;
    }
    if (grace > 0 || has_finalizers) {
        if (deleting) {
            json_t *old_grace = json_object_get(meta, "deletionGracePeriodSeconds");
            bool shorter =
                is_pod && json_is_integer(old_grace) && grace < json_integer_value(old_grace);
            if (!shorter && json_equal(next, cur)) {
                resp = api_respond(c, 200, json_incref(next));
                json_decref(next);
                return resp;
            }
            if (shorter && grace == 0 && !has_finalizers) {
                json_decref(next);
                return delete_now(c, cur, rev, retry);
            }
        }
        if (!deleting || grace > 0) {
            time_t when = time(NULL) + grace;
            char ts[40];
            time_format(when, ts);
            json_object_set_new(meta, "deletionTimestamp", json_string(ts));
            json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace));
            if (c->res->flags & RES_GENERATION)
                json_object_set_new(
                    meta, "generation",
                    json_integer(json_integer_value(json_object_get(meta, "generation")) + 1));
        }
        resp = mark_deleting(c, cur, rev, next, retry);
        json_decref(next);
        return resp;
    }
    json_decref(next);
    return delete_now(c, cur, rev, retry);
}

static http_response *do_delete(struct api_req *c)
{
    struct delete_opts o;
    http_response *resp = read_delete_opts(c, &o);
    if (resp)
        return resp;
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        int64_t rev = 0;
        json_t *cur = load(c, c->res, c->ns, c->name, &rev, &resp);
        if (!cur)
            break;
        bool retry = false;
        resp = delete_one(c, &o, cur, rev, &retry);
        json_decref(cur);
        if (!retry)
            break;
        resp = NULL;
    }
    json_decref(o.body);
    if (!resp)
        resp = status_failure(409, "Conflict", status_details(c->res, c->name),
                              "Operation cannot be fulfilled on %s \"%s\": too many concurrent "
                              "updates, try again",
                              c->res->plural, c->name);
    return resp;
}

int rest_delete_internal(struct apiserver *as, const struct api_resource *r, const char *ns,
                         const char *name, wharf_error *err)
{
    struct api_req c = {.as = as, .res = r, .verb = "delete", .fv = FV_STRICT};
    c.ns = (char *)ns;
    c.name = (char *)name;
    time_now(c.now);
    struct delete_opts o = {0};
    http_response *resp = NULL;
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        int64_t rev = 0;
        json_t *cur = load(&c, r, ns, name, &rev, &resp);
        if (!cur)
            break;
        bool retry = false;
        resp = delete_one(&c, &o, cur, rev, &retry);
        json_decref(cur);
        if (!retry)
            break;
        resp = NULL;
    }
    int status = resp ? http_response_status(resp) : 409;
    http_response_free(resp);
    json_decref(c.warnings);
    if (status == 200)
        return 0;
    if (status == 404)
        return wharf_error_set(err, -ENOENT, "%s %s/%s not found", r->kind, ns ? ns : "", name);
    return wharf_error_set(err, -EIO, "%s %s/%s: delete failed (status %d)", r->kind, ns ? ns : "",
                           name, status);
}

/* ---------------------------------------------------------------- list */

struct list_params {
    struct label_selector ls;
    struct field_selector fs;
    bool has_ls, has_fs;
    int64_t limit;
    int64_t rev;        /* revision to read at (0: current) */
    char *continue_key; /* exclusive start */
    const char *rv;     /* resourceVersion as given */
    const char *rv_match;
};

static void list_params_release(struct list_params *p)
{
    if (p->has_ls)
        label_selector_release(&p->ls);
    if (p->has_fs)
        field_selector_release(&p->fs);
    free(p->continue_key);
}

static char *b64url_encode(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s);
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        strbuf_addch(&sb, tbl[(v >> 18) & 63]);
        strbuf_addch(&sb, tbl[(v >> 12) & 63]);
        if (i + 1 < n)
            strbuf_addch(&sb, tbl[(v >> 6) & 63]);
        if (i + 2 < n)
            strbuf_addch(&sb, tbl[v & 63]);
    }
    return strbuf_detach(&sb);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

static char *b64url_decode(const char *s)
{
    strbuf sb = STRBUF_INIT;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = s; *p && *p != '='; p++) {
        int v = b64val(*p);
        if (v < 0) {
            strbuf_release(&sb);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(&sb, (char)((acc >> bits) & 0xff));
        }
    }
    return strbuf_detach(&sb);
}

static http_response *parse_list_params(struct api_req *c, struct list_params *p)
{
    memset(p, 0, sizeof(*p));
    wharf_error err = {0};
    const char *ls = http_request_query(c->http, "labelSelector");
    if (ls && *ls) {
        if (label_selector_parse(ls, &p->ls, &err) < 0)
            return status_bad_request("%s", err.msg);
        p->has_ls = true;
    }
    const char *fs = http_request_query(c->http, "fieldSelector");
    if (fs && *fs) {
        if (field_selector_parse(fs, c->res, &p->fs, &err) < 0)
            return status_bad_request("%s", err.msg);
        p->has_fs = true;
    }
    if (http_request_query_int(c->http, "limit", &p->limit, &err) < 0)
        return status_bad_request("%s", err.msg);
    if (p->limit < 0)
        p->limit = 0;
    p->rv = http_request_query(c->http, "resourceVersion");
    p->rv_match = http_request_query(c->http, "resourceVersionMatch");
    if (p->rv && *p->rv) {
        char *end;
        long long v = strtoll(p->rv, &end, 10);
        if (*end || v < 0)
            return status_bad_request("invalid resource version: %s", p->rv);
        if (p->rv_match && strcmp(p->rv_match, "Exact") == 0)
            p->rev = v;
    } else if (p->rv_match && *p->rv_match &&
               !http_request_query_bool(c->http, "sendInitialEvents", false)) {
        return status_bad_request("resourceVersionMatch is forbidden unless resourceVersion is "
                                  "provided");
    }
    if (p->rv_match && *p->rv_match && strcmp(p->rv_match, "Exact") != 0 &&
        strcmp(p->rv_match, "NotOlderThan") != 0)
        return status_bad_request("resourceVersionMatch: Unsupported value: \"%s\": supported "
                                  "values: \"Exact\", \"NotOlderThan\"",
                                  p->rv_match);
    const char *cont = http_request_query(c->http, "continue");
    if (cont && *cont) {
        if (p->rv && *p->rv && strcmp(p->rv, "0") != 0)
            return status_bad_request("specifying resource version is not allowed when using "
                                      "continue");
        _cleanup_free_ char *txt = b64url_decode(cont);
        json_t *tok = txt ? json_loads(txt, 0, NULL) : NULL;
        const char *start = json_string_value(json_object_get(tok, "start"));
        json_t *rv = json_object_get(tok, "rv");
        if (!start || !json_is_integer(rv)) {
            json_decref(tok);
            return status_bad_request("continue key is not valid: incorrect encoded start "
                                      "resourceVersion (version meta.k8s.io/v1)");
        }
        p->rev = json_integer_value(rv);
        p->continue_key = xstrdup(start);
        json_decref(tok);
    }
    return NULL;
}

static bool list_matches(struct list_params *p, json_t *obj)
{
    if (p->has_ls && !label_selector_matches(&p->ls, object_get(obj, "metadata.labels")))
        return false;
    if (p->has_fs && !field_selector_matches(&p->fs, obj))
        return false;
    return true;
}

static char *list_kind(const struct api_resource *r)
{
    return xasprintf("%sList", r->kind);
}

/* ---------------------------------------------------------------- list text */

/* Where a list's objects go: decoded into items, or (text non-NULL) written
 * as JSON text straight from their stored form, which spares parsing and
 * printing each object (a list of 100,000 pods). */
struct list_sink {
    json_t *items;
    strbuf *text;
    size_t count;
    /* text: the list's head goes first, written when the first page tells
     * the revision (a list without limit has no continue token) */
    const struct api_resource *head_of;
};

static void write_list_head(strbuf *out, const struct api_resource *r, int64_t rev)
{
    strbuf_addf(out,
                "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
                "\"%" PRId64 "\"},\"items\":[",
                r->kind, registry_api_version(r), rev);
}

static size_t skip_ws(const char *t, size_t i, size_t len)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The end of the JSON value at t[i] (a string, object, array or scalar);
 * len on malformed text. */
static size_t skip_value(const char *t, size_t i, size_t len)
{
    int depth = 0;
    do {
        if (i >= len)
            return len;
        char ch = t[i];
        if (ch == '"') {
            for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            i++;
        } else if (ch == '{' || ch == '[') {
            depth++;
            i++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            i++;
        } else if (depth > 0) {
            i++;
        } else {
            while (i < len && !strchr(",}] \t\r\n", t[i]))
                i++;
        }
    } while (depth > 0);
    return i;
}

/* Appends a stored object as a list item: its top-level "kind" and
 * "apiVersion" left out (as lists carry them once), metadata.resourceVersion
 * set to rev. false, with out as it was, when the text is not an object
 * this reader follows. */
static bool append_item_text(strbuf *out, const struct kvstore_kv *kv)
{
    /* as object_encode stores them now, without reading them through */
    if (object_text_with_rv(out, kv, false))
        return true;
    /* else (stored before that order) by walking the top-level members */
    const char *t = (const char *)kv->value;
    size_t len = kv->value_len;
    int64_t rev = kv->mod_revision;
    size_t mark = out->len, i = skip_ws(t, 0, len);
    if (i >= len || t[i] != '{')
        return false;
    strbuf_addch(out, '{');
    bool first = true, metadata = false;
    for (i = skip_ws(t, i + 1, len); i < len && t[i] != '}';) {
        size_t ks = i, ke = skip_value(t, i, len);
        if (t[ks] != '"' || ke >= len)
            goto bad;
        size_t colon = skip_ws(t, ke, len);
        if (colon >= len || t[colon] != ':')
            goto bad;
        size_t vs = skip_ws(t, colon + 1, len), ve = skip_value(t, vs, len);
        if (ve > len || vs >= len)
            goto bad;
        size_t klen = ke - ks;
        bool drop = (klen == 6 && memcmp(t + ks, "\"kind\"", 6) == 0) ||
                    (klen == 12 && memcmp(t + ks, "\"apiVersion\"", 12) == 0);
        if (!drop) {
            if (!first)
                strbuf_addch(out, ',');
            first = false;
            strbuf_add(out, t + ks, klen);
            strbuf_addch(out, ':');
            if (klen == 10 && memcmp(t + ks, "\"metadata\"", 10) == 0 && t[vs] == '{') {
                metadata = true;
                strbuf_addf(out, "{\"resourceVersion\":\"%" PRId64 "\"", rev);
                size_t in = skip_ws(t, vs + 1, len);
                if (t[in] != '}')
                    strbuf_addch(out, ',');
                strbuf_add(out, t + in, ve - in);
            } else {
                strbuf_add(out, t + vs, ve - vs);
            }
        }
        i = skip_ws(t, ve, len);
        if (i < len && t[i] == ',')
            i = skip_ws(t, i + 1, len);
        else if (i >= len || t[i] != '}')
            goto bad;
    }
    if (i >= len || !metadata)
        goto bad;
    strbuf_addch(out, '}');
    return true;
bad:
    out->len = mark;
    out->buf[mark] = '\0';
    return false;
}

/* One stored object into the sink, when the list's selectors take it. */
static void sink_add(struct api_req *c, struct list_params *p, struct list_sink *sink,
                     const struct kvstore_kv *kv)
{
    if (sink->text && sink->count)
        strbuf_addch(sink->text, ',');
    if (sink->text && !p->has_ls && !p->has_fs && !c->res->from_storage &&
        !secrets_is_sealed(kv->value, kv->value_len) &&
        append_item_text(sink->text, kv)) {
        sink->count++;
        return;
    }
    wharf_error err = {0};
    json_t *obj = object_decode(c->as, c->res, kv, &err);
    if (!obj || !list_matches(p, obj)) {
        if (obj)
            json_decref(obj);
        if (sink->text && sink->count) /* the comma goes again */
            sink->text->buf[--sink->text->len] = '\0';
        return;
    }
    if (sink->text) {
        json_object_del(obj, "kind");
        json_object_del(obj, "apiVersion");
        char *dumped = json_dumps(obj, JSON_COMPACT);
        strbuf_addstr(sink->text, dumped);
        free(dumped);
        json_decref(obj);
    } else {
        json_array_append_new(sink->items, obj);
    }
    sink->count++;
}

/* Reads the matching objects into the sink. */
static http_response *collect(struct api_req *c, struct list_params *p, struct list_sink *sink,
                              int64_t *read_rev, char **next_key)
{
    _cleanup_free_ char *prefix = registry_prefix(c->res, c->ns);
    char *after = p->continue_key ? xstrdup(p->continue_key) : NULL;
    int64_t rev = p->rev;
    wharf_error err = {0};
    *next_key = NULL;
    for (;;) {
        struct kvstore_list l = {0};
        size_t page = p->limit > 0 ? (size_t)p->limit : 0;
        if (page && (p->has_ls || p->has_fs) && page < LIST_PAGE)
            page = LIST_PAGE;
        int rc = kvstore_list(c->as->store, prefix, rev, page, after, &l, &err);
        if (rc < 0) {
            free(after);
            if (rc == -ERANGE && p->continue_key)
                return status_failure(410, "Expired", NULL,
                                      "The provided continue parameter is too old to display a "
                                      "consistent list result. You can start a new list without "
                                      "the continue parameter.");
            if (rc == -ERANGE)
                return status_failure(410, "Expired", NULL, "too old resource version: %" PRId64,
                                      rev);
            if (rc == -EOVERFLOW)
                return status_failure(504, "Timeout", NULL, "Too large resource version: %" PRId64,
                                      rev);
            return status_from_store(c->res, NULL, &err);
        }
        rev = l.revision;
        if (sink->text) {
            size_t bytes = 0;
            for (size_t k = 0; k < l.count; k++)
                bytes += l.items[k].value_len + 40;
            strbuf_reserve(sink->text, bytes + 256);
            if (sink->head_of) {
                write_list_head(sink->text, sink->head_of, rev);
                sink->head_of = NULL;
            }
        }
        size_t i;
        for (i = 0; i < l.count; i++) {
            sink_add(c, p, sink, &l.items[i]);
            if (p->limit > 0 && (int64_t)sink->count >= p->limit) {
                bool more = i + 1 < l.count || l.more;
                if (more)
                    *next_key = xstrdup(l.items[i].key);
                i++;
                break;
            }
        }
        bool done = *next_key || !l.more;
        free(after);
        after = l.count ? xstrdup(l.items[l.count - 1].key) : NULL;
        kvstore_list_release(&l);
        if (done || !after)
            break;
    }
    free(after);
    *read_rev = rev;
    return NULL;
}

static http_response *do_list(struct api_req *c)
{
    struct list_params p;
    http_response *resp = parse_list_params(c, &p);
    if (resp) {
        list_params_release(&p);
        return resp;
    }
    /* JSON lists are written as text; a Table needs the objects */
    bool table = wants_table(c);
    json_t *items = json_array();
    _cleanup_strbuf_ strbuf text = STRBUF_INIT;
    bool whole = !table && p.limit <= 0; /* one page: the head can go first */
    struct list_sink sink = {items, table ? NULL : &text, 0, whole ? c->res : NULL};
    int64_t rev = 0;
    char *next = NULL;
    resp = collect(c, &p, &sink, &rev, &next);
    if (resp) {
        json_decref(items);
        list_params_release(&p);
        return resp;
    }
    /* NotOlderThan a version newer than the store's: kube waits, then 504. */
    if (p.rv && *p.rv && !(p.rv_match && strcmp(p.rv_match, "Exact") == 0)) {
        long long want = strtoll(p.rv, NULL, 10);
        if (want > rev) {
            json_decref(items);
            free(next);
            list_params_release(&p);
            return status_failure(504, "Timeout", NULL,
                                  "Too large resource version: %lld, current: %" PRId64, want, rev);
        }
    }
    json_t *lmeta = json_object();
    char rvbuf[32];
    snprintf(rvbuf, sizeof(rvbuf), "%" PRId64, rev);
    json_object_set_new(lmeta, "resourceVersion", json_string(rvbuf));
    if (next) {
        json_t *tok = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rev,
                                "start", next);
        char *txt = json_dumps(tok, JSON_COMPACT);
        json_object_set_new(lmeta, "continue", json_string(b64url_encode(txt)));
        free(txt);
        json_decref(tok);
        free(next);
    }
    list_params_release(&p);
    json_t *out;
    if (table) {
        json_t *rows = json_array();
        size_t i;
        json_t *obj;
        const char *inc = table_include(c);
        json_array_foreach(items, i, obj)
        {
            json_array_append_new(rows, table_row(c->res, obj, inc));
        }
        bool headers = !http_request_query_bool(c->http, "noHeaders", false);
        out = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion",
                        "meta.k8s.io/v1", "metadata", lmeta, "columnDefinitions",
                        table_columns(c->res, headers), "rows", rows);
        json_decref(items);
    } else if (whole) {
        json_decref(items);
        json_decref(lmeta);
        if (!text.len) /* nothing was read: no page wrote the head */
            write_list_head(&text, c->res, rev);
        strbuf_addstr(&text, "]}\n");
        return with_warnings(c, http_response_strbuf(200, "application/json", &text));
    } else {
        json_decref(items);
        _cleanup_free_ char *kind = list_kind(c->res);
        _cleanup_json_ json_t *head = json_pack("{s:s, s:s, s:o}", "kind", kind, "apiVersion",
                                                registry_api_version(c->res), "metadata", lmeta);
        _cleanup_free_ char *htext = json_dumps(head, JSON_COMPACT);
        strbuf body = STRBUF_INIT;
        strbuf_add(&body, htext, strlen(htext) - 1); /* without its closing brace */
        strbuf_addstr(&body, ",\"items\":[");
        strbuf_add(&body, text.buf ? text.buf : "", text.len);
        strbuf_addstr(&body, "]}\n");
        return with_warnings(c, http_response_strbuf(200, "application/json", &body));
    }
    return api_respond(c, 200, out);
}

static http_response *do_watch(struct api_req *c)
{
    struct list_params p;
    http_response *resp = parse_list_params(c, &p);
    list_params_release(&p);
    if (resp)
        return resp;
    _cleanup_free_ char *prefix = registry_prefix(c->res, c->ns);
    const char *rv = http_request_query(c->http, "resourceVersion");
    bool send_initial = http_request_query_bool(c->http, "sendInitialEvents", false);
    if (rv && *rv && strcmp(rv, "0") != 0 && !send_initial) {
        char *end;
        long long v = strtoll(rv, &end, 10);
        if (*end || v < 0)
            return status_bad_request("invalid resource version: %s", rv);
        return watch_serve(c, prefix, v + 1, false, NULL, 0);
    }
    /* No version (or "0"): the current state as ADDED events, then changes. */
    json_t *items = json_array();
    struct list_params all = {0};
    all.rev = 0;
    int64_t rev = 0;
    char *next = NULL;
    struct list_sink sink = {items, NULL, 0};
    resp = collect(c, &all, &sink, &rev, &next);
    free(next);
    if (resp) {
        json_decref(items);
        return resp;
    }
    return watch_serve(c, prefix, rev + 1, true, items, rev);
}

/* ---------------------------------------------------------------- deletecollection */

static http_response *do_deletecollection(struct api_req *c)
{
    struct delete_opts o;
    http_response *resp = read_delete_opts(c, &o);
    if (resp)
        return resp;
    struct list_params p;
    resp = parse_list_params(c, &p);
    if (resp) {
        json_decref(o.body);
        list_params_release(&p);
        return resp;
    }
    p.limit = 0;
    json_t *items = json_array();
    int64_t rev = 0;
    char *next = NULL;
    struct list_sink sink = {items, NULL, 0};
    resp = collect(c, &p, &sink, &rev, &next);
    free(next);
    list_params_release(&p);
    if (resp) {
        json_decref(items);
        json_decref(o.body);
        return resp;
    }
    json_t *deleted = json_array();
    size_t i;
    json_t *obj;
    char *saved_ns = c->ns;
    json_array_foreach(items, i, obj)
    {
        c->ns = (char *)object_str(obj, "metadata.namespace");
        json_t *cur = json_incref(obj);
        int64_t crev = object_rv(cur);
        for (int attempt = 0; cur && attempt < WRITE_RETRIES; attempt++) {
            bool retry = false;
            http_response *r = delete_one(c, &o, cur, crev, &retry);
            if (!retry) {
                if (r && http_response_status(r) == 200)
                    json_array_append(deleted, cur);
                http_response_free(r);
                break;
            }
            json_decref(cur);
            http_response *miss = NULL;
            cur = load(c, c->res, c->ns, object_str(obj, "metadata.name"), &crev, &miss);
            http_response_free(miss);
        }
        if (cur)
            json_decref(cur);
    }
    c->ns = saved_ns;
    json_decref(items);
    json_decref(o.body);
    json_array_foreach(deleted, i, obj)
    {
        json_object_del(obj, "kind");
        json_object_del(obj, "apiVersion");
    }
    _cleanup_free_ char *kind = list_kind(c->res);
    return api_respond(c, 200,
                       json_pack("{s:s, s:s, s:{}, s:o}", "kind", kind, "apiVersion",
                                 registry_api_version(c->res), "metadata", "items", deleted));
}

/* ---------------------------------------------------------------- get */

static http_response *do_get(struct api_req *c)
{
    http_response *resp = NULL;
    json_t *obj = load(c, c->res, c->ns, c->name, NULL, &resp);
    if (!obj)
        return resp;
    if (c->sub && strcmp(c->sub, "scale") == 0) {
        json_t *s = scale_of(c, obj);
        json_decref(obj);
        return api_respond(c, 200, s);
    }
    if (wants_table(c) && !c->sub) {
        json_t *rows = json_array();
        json_array_append_new(rows, table_row(c->res, obj, table_include(c)));
        json_t *t = json_pack("{s:s, s:s, s:{s:O*}, s:o, s:o}", "kind", "Table", "apiVersion",
                              "meta.k8s.io/v1", "metadata", "resourceVersion",
                              object_get(obj, "metadata.resourceVersion"), "columnDefinitions",
                              table_columns(c->res, true), "rows", rows);
        json_decref(obj);
        return api_respond(c, 200, t);
    }
    return api_respond(c, 200, obj);
}

/* ---------------------------------------------------------------- subresources */

static http_response *do_binding(struct api_req *c)
{
    http_response *resp = NULL;
    json_t *body = read_body(c, &resp, false);
    if (!body)
        return resp;
    const struct api_resource *pods = c->res;
    if (check_typed(c, pods, "Binding", body, &resp) < 0) {
        json_decref(body);
        return resp;
    }
    const char *node = object_str(body, "target.name");
    const char *kind = object_str(body, "target.kind");
    if (!node || !*node || (kind && *kind && strcmp(kind, "Node") != 0)) {
        json_decref(body);
        struct field_errors fe = {0};
        fe_add(&fe, FE_REQUIRED, NULL, "a Node name is required", "target.name");
        const struct api_resource *pr = c->res;
        resp = status_invalid(pr, c->name, &fe);
        fe_release(&fe);
        return resp;
    }
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        int64_t rev = 0;
        json_t *cur = load(c, c->res, c->ns, c->name, &rev, &resp);
        if (!cur)
            break;
        const char *have = object_str(cur, "spec.nodeName");
        if (object_get(cur, "metadata.deletionTimestamp")) {
            json_decref(cur);
            resp = status_conflict(c->res, c->name,
                                   "pod is being deleted, cannot be assigned "
                                   "to a host");
            break;
        }
        if (have && *have) {
            _cleanup_free_ char *why =
                xasprintf("pod %s is already assigned to node \"%s\"", c->name, have);
            json_decref(cur);
            resp = status_conflict(c->res, c->name, why);
            break;
        }
        json_t *next = json_deep_copy(cur);
        object_set(next, "spec.nodeName", json_string(node));
        json_t *conds = object_get(next, "status.conditions");
        if (!json_is_array(conds)) {
            conds = json_array();
            object_set(next, "status.conditions", conds);
        }
        json_array_append_new(conds,
                              json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status",
                                        "True", "lastProbeTime", "lastTransitionTime", c->now));
        _cleanup_free_ char *key = kvkey(c, c->name);
        _cleanup_strbuf_ strbuf value = STRBUF_INIT;
        wharf_error err = {0};
        int rc = 0;
        if (!c->dry_run) {
            rc = object_encode(c->as, c->res, key, next, &value, &err);
            if (rc == 0)
                rc = kvstore_update(c->as->store, key, value.buf, value.len, rev, NULL, NULL, &err);
        }
        json_decref(cur);
        json_decref(next);
        if (rc == -ECANCELED)
            continue;
        if (rc < 0) {
            resp = status_from_store(c->res, c->name, &err);
            break;
        }
        resp = api_respond(c, 201,
                           json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion",
                                     "v1", "metadata", "status", "Success", "code", 201));
        break;
    }
    json_decref(body);
    return resp;
}

static http_response *no_node_agent(struct api_req *c)
{
    http_response *resp = NULL;
    json_t *pod = load(c, c->res, c->ns, c->name, NULL, &resp);
    if (!pod)
        return resp;
    json_decref(pod);
    return status_failure(503, "ServiceUnavailable", status_details(c->res, c->name),
                          "pods \"%s\": %s is not available: no node agent yet (the kubelet that "
                          "runs pods comes with a later version of wharf)",
                          c->name, c->sub);
}

/* ---------------------------------------------------------------- reviews */

static json_t *attrs_from_spec(json_t *spec, struct authz_attrs *a)
{
    json_t *ra = json_object_get(spec, "resourceAttributes");
    json_t *na = json_object_get(spec, "nonResourceAttributes");
    memset(a, 0, sizeof(*a));
    if (ra) {
        a->verb = json_string_value(json_object_get(ra, "verb")) ?: "";
        a->group = json_string_value(json_object_get(ra, "group")) ?: "";
        a->resource = json_string_value(json_object_get(ra, "resource")) ?: "";
        a->subresource = json_string_value(json_object_get(ra, "subresource"));
        if (a->subresource && !*a->subresource)
            a->subresource = NULL;
        a->ns = json_string_value(json_object_get(ra, "namespace"));
        a->name = json_string_value(json_object_get(ra, "name"));
        if (a->name && !*a->name)
            a->name = NULL;
        return ra;
    }
    if (na) {
        a->verb = json_string_value(json_object_get(na, "verb")) ?: "";
        a->path = json_string_value(json_object_get(na, "path")) ?: "";
        return na;
    }
    return NULL;
}

static http_response *do_review(struct api_req *c)
{
    http_response *resp = NULL;
    json_t *body = read_body(c, &resp, false);
    if (!body)
        return resp;
    if (check_typed(c, c->res, NULL, body, &resp) < 0) {
        json_decref(body);
        return resp;
    }
    json_t *meta = object_meta(body);
    json_object_set_new(meta, "creationTimestamp", json_null());
    json_t *spec = json_object_get(body, "spec");
    const char *plural = c->res->plural;
    wharf_error err = {0};
    if (strcmp(plural, "selfsubjectreviews") == 0) {
        json_t *groups = json_array();
        for (size_t i = 0; i < c->user.n_groups; i++)
            json_array_append_new(groups, json_string(c->user.groups[i]));
        json_t *ui = json_pack("{s:s, s:o}", "username", c->user.name, "groups", groups);
        if (c->user.uid && *c->user.uid)
            json_object_set_new(ui, "uid", json_string(c->user.uid));
        json_object_set_new(body, "status", json_pack("{s:o}", "userInfo", ui));
        return api_respond(c, 201, body);
    }
    if (strcmp(plural, "selfsubjectrulesreviews") == 0) {
        const char *ns = json_string_value(json_object_get(spec, "namespace"));
        json_t *st = rbac_rules_review(c->as, &c->user, ns, &err);
        if (!st) {
            json_decref(body);
            return status_failure(500, "InternalError", NULL, "Internal error occurred: %s",
                                  err.msg);
        }
        json_object_set_new(body, "status", st);
        return api_respond(c, 201, body);
    }
    /* access reviews: for ourselves, or for the subject named in spec */
    struct authz_attrs a;
    if (!attrs_from_spec(spec, &a)) {
        json_decref(body);
        struct field_errors fe = {0};
        fe_add(&fe, FE_INVALID, NULL,
               "exactly one of nonResourceAttributes or "
               "resourceAttributes must be specified",
               "spec.resourceAttributes");
        resp = status_invalid(c->res, "", &fe);
        fe_release(&fe);
        return resp;
    }
    struct api_user subject = {0};
    const struct api_user *who = &c->user;
    if (strcmp(plural, "subjectaccessreviews") == 0 ||
        strcmp(plural, "localsubjectaccessreviews") == 0) {
        const char *user = json_string_value(json_object_get(spec, "user"));
        json_t *groups = json_object_get(spec, "groups");
        if ((!user || !*user) && json_array_size(groups) == 0) {
            json_decref(body);
            struct field_errors fe = {0};
            fe_add(&fe, FE_INVALID, NULL, "at least one of user or group must be specified",
                   "spec.user");
            resp = status_invalid(c->res, "", &fe);
            fe_release(&fe);
            return resp;
        }
        if (strcmp(plural, "localsubjectaccessreviews") == 0) {
            if (a.resource && a.ns && *a.ns && c->ns && strcmp(a.ns, c->ns) != 0) {
                json_decref(body);
                return status_bad_request("spec.resourceAttributes.namespace must match "
                                          "metadata.namespace");
            }
            a.ns = c->ns;
        }
        subject.name = xstrdup(user ? user : "");
        subject.uid = xstrdup(json_string_value(json_object_get(spec, "uid")) ?: "");
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            if (!json_is_string(g))
                continue;
            subject.groups = xrealloc(subject.groups, (subject.n_groups + 1) * sizeof(char *));
            subject.groups[subject.n_groups++] = xstrdup(json_string_value(g));
        }
        who = &subject;
    }
    int allowed = rbac_authorize(c->as, who, &a, &err);
    api_user_release(&subject);
    if (allowed < 0) {
        json_decref(body);
        return status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
    }
    json_object_set_new(body, "status", json_pack("{s:b}", "allowed", allowed));
    return api_respond(c, 201, body);
}

/* ---------------------------------------------------------------- dispatch */

static bool sub_allowed(const struct api_resource *r, const char *sub, const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
        const char *methods;
    } subs[] = {
        {"status", SUB_STATUS, "GET PUT PATCH"},
        {"scale", SUB_SCALE, "GET PUT PATCH"},
        {"binding", SUB_BINDING, "POST"},
        {"log", SUB_LOG, "GET"},
        {"exec", SUB_EXEC, "GET POST"},
        {"attach", SUB_ATTACH, "GET POST"},
        {"portforward", SUB_PORTFORWARD, "GET POST"},
        {"finalize", SUB_FINALIZE, "PUT"},
        {"ephemeralcontainers", SUB_EPHEMERAL, "GET PUT PATCH"},
    };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(subs[i].name, sub) == 0 && (r->subresources & subs[i].bit))
            return strstr(subs[i].methods, method) != NULL;
    }
    return false;
}

static bool sub_known(const struct api_resource *r, const char *sub)
{
    static const char *const methods[] = {"GET", "PUT", "PATCH", "POST"};
    for (size_t i = 0; i < 4; i++) {
        if (sub_allowed(r, sub, methods[i]))
            return true;
    }
    return false;
}

static const char *verb_for(const char *method, bool has_name, bool watch)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return has_name ? "get" : watch ? "watch" : "list";
    if (strcmp(method, "POST") == 0)
        return "create";
    if (strcmp(method, "PUT") == 0)
        return "update";
    if (strcmp(method, "PATCH") == 0)
        return "patch";
    if (strcmp(method, "DELETE") == 0)
        return has_name ? "delete" : "deletecollection";
    return NULL;
}

http_response *rest_handle(struct api_req *c, const char *const *parts, size_t n, bool legacy_watch)
{
    /* parts: [group-or-empty, version, ...rest] */
    const char *group = parts[0];
    const char *version = parts[1];
    parts += 2;
    n -= 2;
    if (n > 0 && strcmp(parts[0], "watch") == 0) {
        legacy_watch = true;
        parts++;
        n--;
    }
    const char *resource = NULL;
    if (n >= 2 && strcmp(parts[0], "namespaces") == 0 && group[0] == '\0') {
        if (n == 2 ||
            (n == 3 && (strcmp(parts[2], "status") == 0 || strcmp(parts[2], "finalize") == 0))) {
            resource = "namespaces";
            c->name = xstrdup(parts[1]);
            if (n == 3)
                c->sub = xstrdup(parts[2]);
            n = 0;
        } else {
            c->ns = xstrdup(parts[1]);
            parts += 2;
            n -= 2;
        }
    } else if (n >= 2 && strcmp(parts[0], "namespaces") == 0) {
        c->ns = xstrdup(parts[1]);
        parts += 2;
        n -= 2;
    }
    if (!resource) {
        if (n == 0 || n > 3)
            return not_found_path();
        resource = parts[0];
        if (n >= 2)
            c->name = xstrdup(parts[1]);
        if (n >= 3)
            c->sub = xstrdup(parts[2]);
    }
    c->res = registry_find(group, version, resource);
    if (!c->res)
        return not_found_path();
    if (c->res->namespaced && !c->ns && c->name)
        return not_found_path();
    if (!c->res->namespaced && c->ns)
        return not_found_path();
    if (c->name && (!*c->name || validate_path_segment_name(c->name)))
        return not_found_path();
    const char *method = http_request_method(c->http);
    bool watch = legacy_watch || http_request_query_bool(c->http, "watch", false);
    if (c->sub && !sub_known(c->res, c->sub))
        return not_found_path();
    if (c->sub && !sub_allowed(c->res, c->sub, method))
        return method_not_allowed(c);
    if (c->res->flags & RES_REVIEW) {
        if (strcmp(method, "POST") != 0 || c->name)
            return method_not_allowed(c);
    } else if (strcmp(method, "POST") == 0 && c->name && !c->sub) {
        return method_not_allowed(c);
    } else if ((strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) && !c->name) {
        return method_not_allowed(c);
    }
    c->verb = verb_for(method, c->name != NULL, watch);
    if (!c->verb)
        return method_not_allowed(c);
    if (c->name && watch && strcmp(c->verb, "get") == 0)
        c->verb = "watch";

    const char *dry = http_request_query(c->http, "dryRun");
    if (dry) {
        if (strcmp(dry, "All") != 0)
            return status_bad_request("dryRun: Unsupported value: \"%s\": supported values: "
                                      "\"All\"",
                                      dry);
        c->dry_run = true;
    }
    const char *fv = http_request_query(c->http, "fieldValidation");
    if (!fv || !*fv || strcmp(fv, "Warn") == 0)
        c->fv = FV_WARN;
    else if (strcmp(fv, "Strict") == 0)
        c->fv = FV_STRICT;
    else if (strcmp(fv, "Ignore") == 0)
        c->fv = FV_IGNORE;
    else
        return status_bad_request("fieldValidation: Unsupported value: \"%s\": supported values: "
                                  "\"Ignore\", \"Strict\", \"Warn\"",
                                  fv);

    /* authorization: verb on resource/subresource in the namespace */
    struct authz_attrs a = {.verb = c->verb,
                            .group = group,
                            .resource = c->res->plural,
                            .subresource = c->sub,
                            .ns = c->ns,
                            .name = c->name};
    wharf_error err = {0};
    int allowed = rbac_authorize(c->as, &c->user, &a, &err);
    if (allowed < 0)
        return status_failure(500, "InternalError", NULL, "Internal error occurred: %s", err.msg);
    if (!allowed) {
        _cleanup_free_ char *why = rbac_denied_message(&c->user, &a);
        const struct api_resource *shown = c->res;
        if (c->sub) {
            _cleanup_free_ char *q = xasprintf("%s/%s%s%s", c->res->plural, c->sub,
                                               c->res->group[0] ? "." : "", c->res->group);
            return status_failure(403, "Forbidden", status_details(c->res, c->name),
                                  "%s \"%s\" is forbidden: %s", q, c->name ? c->name : "", why);
        }
        return status_forbidden(shown, c->name, "%s", why);
    }

    if (c->res->flags & RES_REVIEW)
        return do_review(c);
    if (c->sub) {
        if (strcmp(c->sub, "binding") == 0)
            return do_binding(c);
        if (strcmp(c->sub, "log") == 0 || strcmp(c->sub, "exec") == 0 ||
            strcmp(c->sub, "attach") == 0 || strcmp(c->sub, "portforward") == 0)
            return no_node_agent(c);
        if (strcmp(method, "GET") == 0)
            return do_get(c);
        if (strcmp(method, "PUT") == 0)
            return do_update(c);
        if (strcmp(method, "PATCH") == 0)
            return do_patch(c);
        return method_not_allowed(c);
    }
    if (strcmp(c->verb, "get") == 0)
        return do_get(c);
    if (strcmp(c->verb, "list") == 0)
        return do_list(c);
    if (strcmp(c->verb, "watch") == 0) {
        return do_watch(c);
    }
    if (strcmp(c->verb, "create") == 0) {
        http_response *resp = NULL;
        json_t *obj = read_body(c, &resp, false);
        if (!obj)
            return resp;
        if (check_typed(c, c->res, NULL, obj, &resp) < 0) {
            json_decref(obj);
            return resp;
        }
        return do_create(c, obj);
    }
    if (strcmp(c->verb, "update") == 0)
        return do_update(c);
    if (strcmp(c->verb, "patch") == 0)
        return do_patch(c);
    if (strcmp(c->verb, "delete") == 0)
        return do_delete(c);
    if (strcmp(c->verb, "deletecollection") == 0)
        return do_deletecollection(c);
    return method_not_allowed(c);
}
