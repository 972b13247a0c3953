/*
 * The OpenAPI documents, generated from the schemas and the registry:
 *
 *   /openapi/v2                  one Swagger 2.0 document
 *   /openapi/v3                  the index of group-versions
 *   /openapi/v3/api/v1 (...)     one OpenAPI 3.0 document per group-version
 *
 * What kubectl reads from them: each kind's schema found by its
 * x-kubernetes-group-version-kind (explain), the fieldValidation query
 * parameter on PATCH operations (so validation is left to the server), and
 * x-kubernetes-patch-merge-key/-strategy on lists (client-side apply's
 * patch computation). Types that accept unknown fields are published as
 * free-form objects, so clients never fail to find one of their fields.
 * The documents are built once and served from memory.
 */
#include "internal.h"

#include <string.h>

#define DEF_PREFIX "io.k8s.wharf."

static json_t *ref_schema(const struct schema_ref *ref, bool v3);

static json_t *free_form(void)
{
    return json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
}

static json_t *ref_to(const struct schema_type *t, bool v3)
{
    if (t->open)
        return free_form();
    _cleanup_free_ char *ref =
        xasprintf("%s%s%s", v3 ? "#/components/schemas/" : "#/definitions/", DEF_PREFIX, t->name);
    if (v3)
        return json_pack("{s:[{s:s}], s:{}}", "allOf", "$ref", ref, "default");
    return json_pack("{s:s}", "$ref", ref);
}

static json_t *ref_schema(const struct schema_ref *ref, bool v3)
{
    switch (ref->kind) {
    case SK_STRING:
        return json_pack("{s:s, s:s}", "type", "string", "default", "");
    case SK_TIME:
        return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    case SK_INT:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
    case SK_NUMBER:
        return json_pack("{s:s, s:s}", "type", "number", "format", "double");
    case SK_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case SK_QUANTITY:
    case SK_INTSTR:
        return json_pack("{s:s, s:b}", "format",
                         ref->kind == SK_QUANTITY ? "quantity" : "int-or-string",
                         "x-kubernetes-int-or-string", 1);
    case SK_ANY:
        return free_form();
    case SK_MAP:
        return json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
                         ref_schema(ref->elem, v3));
    case SK_LIST: {
        json_t *s = json_pack("{s:s, s:o}", "type", "array", "items", ref_schema(ref->elem, v3));
        if (ref->merge_key) {
            json_object_set_new(s, "x-kubernetes-patch-merge-key", json_string(ref->merge_key));
            json_object_set_new(s, "x-kubernetes-patch-strategy", json_string("merge"));
        } else if (ref->merge_primitives) {
            json_object_set_new(s, "x-kubernetes-patch-strategy", json_string("merge"));
        }
        return s;
    }
    case SK_OBJECT:
        return ref_to(ref->obj, v3);
    }
    return free_form();
}

/* The registry entry whose kind this type is (and its group-version). */
static const struct api_resource *kind_of(const struct schema_type *t)
{
    for (size_t i = 0; i < registry_count(); i++) {
        if (strcmp(registry_at(i)->kind, t->name) == 0)
            return registry_at(i);
    }
    return NULL;
}

static json_t *type_schema(const struct schema_type *t, bool v3, const char *only_gv)
{
    json_t *props = json_object();
    json_t *required = json_array();
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct schema_field *f = &t->fields[i];
        json_object_set_new(props, f->name, ref_schema(&f->ref, v3));
        if (f->ref.required)
            json_array_append_new(required, json_string(f->name));
    }
    json_t *s = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (json_array_size(required))
        json_object_set_new(s, "required", required);
    else
        json_decref(required);
    const struct api_resource *r = kind_of(t);
    if (r && r->description)
        json_object_set_new(s, "description", json_string(r->description));
    if (r && (!only_gv || strcmp(registry_api_version(r), only_gv) == 0))
        json_object_set_new(s, "x-kubernetes-group-version-kind",
                            json_pack("[{s:s, s:s, s:s}]", "group", r->group, "kind", r->kind,
                                      "version", r->version));
    if (strcmp(t->name, "Scale") == 0 && (!only_gv || strcmp(only_gv, "autoscaling/v1") == 0))
        json_object_set_new(s, "x-kubernetes-group-version-kind",
                            json_pack("[{s:s, s:s, s:s}]", "group", "autoscaling", "kind", "Scale",
                                      "version", "v1"));
    return s;
}

static json_t *param(const char *name, const char *desc, bool v3)
{
    if (v3)
        return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", name, "in", "query",
                         "description", desc, "schema", "type", "string", "uniqueItems", 1);
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", name, "in", "query", "description", desc,
                     "type", "string", "uniqueItems", 1);
}

static json_t *write_params(bool v3)
{
    return json_pack(
        "[o, o, o]",
        param("dryRun", "When present, indicates that modifications should not be persisted.", v3),
        param("fieldManager",
              "fieldManager is a name associated with the actor or entity that "
              "is making these changes.",
              v3),
        param("fieldValidation",
              "fieldValidation instructs the server on how to handle objects in the request "
              "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: "
              "Ignore, Warn (the default) and Strict.",
              v3));
}

static json_t *operation(const struct api_resource *r, const char *action, const char *verb,
                         bool writes, bool v3)
{
    _cleanup_free_ char *ref =
        xasprintf("%s%s%s", v3 ? "#/components/schemas/" : "#/definitions/", DEF_PREFIX, r->kind);
    _cleanup_free_ char *opid = xasprintf("%s%s", verb, r->kind);
    json_t *schema = json_pack("{s:s}", "$ref", ref);
    json_t *ok = v3 ? json_pack("{s:s, s:{s:{s:o}}}", "description", "OK", "content",
                                "application/json", "schema", schema)
                    : json_pack("{s:s, s:o}", "description", "OK", "schema", schema);
    json_t *op =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:o}}", "operationId", opid,
                  "x-kubernetes-action", action, "x-kubernetes-group-version-kind", "group",
                  r->group, "kind", r->kind, "version", r->version, "responses", "200", ok);
    if (writes)
        json_object_set_new(op, "parameters", write_params(v3));
    if (v3 && (strcmp(verb, "patch") == 0 || strcmp(verb, "replace") == 0 ||
               strcmp(verb, "create") == 0)) {
        _cleanup_free_ char *ref2 = xasprintf("#/components/schemas/%s%s", DEF_PREFIX, r->kind);
        json_object_set_new(
            op, "requestBody",
            json_pack("{s:{s:{s:{s:s}}}}", "content", "application/json", "schema", "$ref", ref2));
    }
    return op;
}

static void add_paths(json_t *paths, const struct api_resource *r, bool v3)
{
    const char *av = registry_api_version(r);
    _cleanup_free_ char *base = r->group[0] ? xasprintf("/apis/%s", av) : xasprintf("/api/%s", av);
    _cleanup_free_ char *coll = r->namespaced
                                    ? xasprintf("%s/namespaces/{namespace}/%s", base, r->plural)
                                    : xasprintf("%s/%s", base, r->plural);
    _cleanup_free_ char *item = xasprintf("%s/{name}", coll);
    json_t *c = json_object();
    json_object_set_new(c, "post", operation(r, "post", "create", true, v3));
    if (!(r->flags & RES_REVIEW)) {
        json_object_set_new(c, "get", operation(r, "list", "list", false, v3));
        json_t *i = json_object();
        json_object_set_new(i, "get", operation(r, "get", "read", false, v3));
        json_object_set_new(i, "put", operation(r, "put", "replace", true, v3));
        json_object_set_new(i, "patch", operation(r, "patch", "patch", true, v3));
        json_object_set_new(i, "delete", operation(r, "delete", "delete", false, v3));
        json_object_set_new(paths, item, i);
    }
    json_object_set_new(paths, coll, c);
}

struct docs {
    char *v2;
    json_t *v3_index;
    json_t *v3_docs; /* "api/v1" -> text */
};
static struct docs docs;
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;

static unsigned long fnv(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static void build(void)
{
    /* v2: everything in one document */
    json_t *defs = json_object();
    json_t *paths = json_object();
    for (size_t i = 0; i < schema_count(); i++) {
        const struct schema_type *t = schema_at(i);
        _cleanup_free_ char *name = xasprintf("%s%s", DEF_PREFIX, t->name);
        json_object_set_new(defs, name, type_schema(t, false, NULL));
    }
    for (size_t i = 0; i < registry_count(); i++)
        add_paths(paths, registry_at(i), false);
    json_t *v2 =
        json_pack("{s:s, s:{s:s, s:s}, s:o, s:o}", "swagger", "2.0", "info", "title", "Kubernetes",
                  "version", APISERVER_KUBE_VERSION, "paths", paths, "definitions", defs);
    docs.v2 = json_dumps(v2, JSON_COMPACT);
    json_decref(v2);

    /* v3: a document per group-version */
    docs.v3_docs = json_object();
    json_t *index = json_object();
    for (size_t i = 0; i < registry_count(); i++) {
        const struct api_resource *r = registry_at(i);
        const char *av = registry_api_version(r);
        _cleanup_free_ char *key = r->group[0] ? xasprintf("apis/%s", av) : xasprintf("api/%s", av);
        if (json_object_get(docs.v3_docs, key))
            continue;
        json_t *schemas = json_object();
        json_t *p = json_object();
        for (size_t k = 0; k < schema_count(); k++) {
            const struct schema_type *t = schema_at(k);
            _cleanup_free_ char *name = xasprintf("%s%s", DEF_PREFIX, t->name);
            json_object_set_new(schemas, name, type_schema(t, true, av));
        }
        for (size_t k = 0; k < registry_count(); k++) {
            if (strcmp(registry_api_version(registry_at(k)), av) == 0)
                add_paths(p, registry_at(k), true);
        }
        json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info",
                                "title", "Kubernetes", "version", APISERVER_KUBE_VERSION, "paths",
                                p, "components", "schemas", schemas);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        _cleanup_free_ char *url = xasprintf("/openapi/v3/%s?hash=%016lX", key, fnv(text));
        json_object_set_new(index, key, json_pack("{s:s}", "serverRelativeURL", url));
        json_object_set_new(docs.v3_docs, key, json_string(text));
        free(text);
    }
    docs.v3_index = json_pack("{s:o}", "paths", index);
}

http_response *openapi_v2(struct api_req *c)
{
    pthread_once(&docs_once, build);
    return http_response_bytes(200, "application/json", docs.v2, strlen(docs.v2));
}

http_response *openapi_v3(struct api_req *c, const char *sub)
{
    pthread_once(&docs_once, build);
    if (!sub || !*sub)
        return http_response_json(200, json_incref(docs.v3_index));
    json_t *text = json_object_get(docs.v3_docs, sub);
    if (!text)
        return status_failure(404, "NotFound", json_object(),
                              "the server could not find the requested resource");
    http_response *resp = http_response_bytes(200, "application/json", json_string_value(text),
                                              json_string_length(text));
    http_response_set_header(resp, "Cache-Control", "public, immutable");
    return resp;
}
