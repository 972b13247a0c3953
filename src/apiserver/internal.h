/*
 * Internal to src/apiserver: the server state, the resource registry, the
 * request context every verb works on, and the helpers the files share
 * (schemas, selectors, patches, validation, Status responses, tables,
 * authentication and RBAC, encryption, Service allocation).
 *
 * Objects are jansson trees from the moment a body is parsed to the moment
 * a response is sent. The store holds them as compact JSON without
 * metadata.resourceVersion (the store's mod revision is that); Secrets are
 * sealed with AES-GCM first.
 */
#ifndef WHARF_APISERVER_INTERNAL_H
#define WHARF_APISERVER_INTERNAL_H

#include "apiserver.h"
#include "base.h"
#include "http.h"
#include "kvstore.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---------------------------------------------------------------- users */

struct api_user {
    char *name;
    char *uid;
    char **groups; /* includes system:authenticated */
    size_t n_groups;
};
void api_user_release(struct api_user *u);
bool api_user_in_group(const struct api_user *u, const char *group);

struct token_entry {
    char *token;
    struct api_user user;
};

/* ---------------------------------------------------------------- server */

struct apiserver {
    char *data_dir;
    char *bind_address;
    char *advertise_address; /* an address clients reach us at (kubeconfig, endpoints) */
    int port;
    char *kubeconfig_path;
    char *tls_dir;
    struct kvstore *store;
    http_router *router;
    http_server *http;

    struct token_entry *tokens;
    size_t n_tokens;
    unsigned char secret_key[32];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    size_t n_watch_threads;
    struct api_watch_state **watches; /* live watches, cancelled at stop */
    size_t n_watches, alloc_watches;

    pthread_t ns_thread;
    bool ns_thread_started;
    bool ns_kick;              /* a namespace was deleted: look again now */
    int compaction_interval_s; /* <= 0: never */
};

/* ---------------------------------------------------------------- schemas */

enum schema_kind {
    SK_STRING,
    SK_INT,
    SK_NUMBER,
    SK_BOOL,
    SK_TIME,     /* RFC 3339 string */
    SK_QUANTITY, /* "100m", "1Gi" or a number */
    SK_INTSTR,   /* an integer or a string */
    SK_ANY,      /* anything, not checked further */
    SK_MAP,      /* object with arbitrary keys, values of elem */
    SK_LIST,     /* array of elem */
    SK_OBJECT,   /* a named object type */
};

struct schema_type;
struct schema_ref {
    enum schema_kind kind;
    const struct schema_type *obj; /* SK_OBJECT */
    struct schema_ref *elem;       /* SK_MAP, SK_LIST */
    char *merge_key;               /* SK_LIST of objects merged by this key (strategic merge) */
    bool merge_primitives;         /* SK_LIST of scalars merged as a set */
    bool required;
};
struct schema_field {
    char *name;
    struct schema_ref ref;
};
struct schema_type {
    char *name;
    struct schema_field *fields;
    size_t n_fields;
    bool open; /* unknown fields allowed (kept) */
    const char *description;
};

/* The type named name ("Pod", "PodSpec", ...), NULL if unknown. Types are
 * parsed once from schema_types.c's table. */
const struct schema_type *schema_lookup(const char *name);
const struct schema_field *schema_field(const struct schema_type *t, const char *name);
/* Every type, for the OpenAPI documents. */
size_t schema_count(void);
const struct schema_type *schema_at(size_t i);

/*
 * Checks obj against type t: a field of the wrong JSON type is an error
 * (-EINVAL, err names the field path: "spec.replicas: expected an integer,
 * got a string"); unknown fields are collected as "spec.foo" paths in
 * *unknown (a new array; may be NULL) and, when prune is set, removed.
 */
int schema_check(const struct schema_type *t, json_t *obj, bool prune, json_t **unknown,
                 wharf_error *err);

/* ---------------------------------------------------------------- field errors */

/* Kubernetes' field error types (the StatusCause reasons). */
enum fe_type {
    FE_REQUIRED,      /* FieldValueRequired: "Required value" */
    FE_INVALID,       /* FieldValueInvalid: "Invalid value: V: detail" */
    FE_NOT_SUPPORTED, /* FieldValueNotSupported: "Unsupported value: V: supported values: ..." */
    FE_FORBIDDEN,     /* FieldValueForbidden: "Forbidden: detail" */
    FE_DUPLICATE,     /* FieldValueDuplicate: "Duplicate value: V" */
    FE_TOO_LONG,      /* FieldValueTooLong: "Too long: detail" */
    FE_NOT_FOUND,     /* FieldValueNotFound: "Not found: V" */
};

struct field_errors {
    json_t *causes; /* array of {reason, message, field} */
};
/* value may be NULL (not shown); detail may be NULL. path is a format. */
void fe_add(struct field_errors *fe, enum fe_type type, json_t *value, const char *detail,
            const char *path_fmt, ...) WHARF_PRINTF(5, 6);
size_t fe_count(const struct field_errors *fe);
void fe_release(struct field_errors *fe);
/* "[a: Required value, b: Invalid value: ...]" or the single message. */
char *fe_summary(const struct field_errors *fe);

/* Name and label checks; each returns NULL when valid, else a static
 * description of what is wrong (Kubernetes' wording). */
const char *validate_dns1123_subdomain(const char *s);
const char *validate_dns1123_label(const char *s);
const char *validate_dns1035_label(const char *s);
const char *validate_path_segment_name(const char *s);
const char *validate_qualified_name(const char *s);
const char *validate_label_value(const char *s);
/* metadata: name (by the resource's rule), labels, annotations, owner
 * references, finalizers. */
struct api_resource;
void validate_object_meta(const struct api_resource *r, json_t *meta, struct field_errors *fe);
/* Labels map at path (e.g. "spec.selector.matchLabels"). */
void validate_labels(json_t *labels, struct field_errors *fe, const char *path);
/* A metav1.LabelSelector at path. */
void validate_label_selector(json_t *sel, struct field_errors *fe, const char *path);

/* ---------------------------------------------------------------- registry */

enum api_subresource {
    SUB_STATUS = 1u << 0,
    SUB_SCALE = 1u << 1,
    SUB_BINDING = 1u << 2,
    SUB_LOG = 1u << 3,
    SUB_EXEC = 1u << 4,
    SUB_ATTACH = 1u << 5,
    SUB_PORTFORWARD = 1u << 6,
    SUB_FINALIZE = 1u << 7,
    SUB_EPHEMERAL = 1u << 8,
};

enum api_resource_flags {
    RES_GENERATION = 1u << 0,       /* metadata.generation counts spec changes */
    RES_ENCRYPTED = 1u << 1,        /* sealed at rest (Secrets) */
    RES_REVIEW = 1u << 2,           /* create-only, answered and not stored (access reviews) */
    RES_CREATE_ON_UPDATE = 1u << 3, /* PUT of a missing object creates it */
    RES_RETURN_DELETED = 1u << 4,   /* DELETE answers with the object, not a Status */
    RES_NAME_LABEL = 1u << 5,       /* name is a DNS-1123 label (namespaces, nodes? no) */
    RES_NAME_1035 = 1u << 6,        /* name is a DNS-1035 label (services) */
    RES_NAME_SEGMENT = 1u << 7,     /* name is any path segment (RBAC objects) */
    RES_NO_WATCH = 1u << 8,         /* verbs without list/watch (reviews) */
};

struct api_req;
struct api_column {
    const char *name;
    const char *type; /* "string", "integer", "date", ... */
    const char *format;
    const char *description;
    int priority; /* 0: always shown; 1: -o wide */
};

/* Appends the row's cells (every column, the name included) for obj. */
typedef void (*api_row_fn)(json_t *obj, json_t *cells, time_t now);
typedef void (*api_defaults_fn)(struct api_req *c, json_t *obj, json_t *old);
typedef void (*api_validate_fn)(struct api_req *c, json_t *obj, json_t *old,
                                struct field_errors *fe);
/* Converts an object between a served version and the stored one, in place. */
typedef void (*api_convert_fn)(json_t *obj);

struct api_resource {
    const char *group; /* "" for the core group */
    const char *version;
    const char *kind;
    const char *plural;
    const char *singular;
    bool namespaced;
    const char *short_names;          /* space separated, or NULL */
    const char *categories;           /* space separated, or NULL */
    unsigned subresources;            /* enum api_subresource */
    unsigned flags;                   /* enum api_resource_flags */
    const struct api_column *columns; /* NULL-named end; NULL: Name, Created At */
    api_row_fn row;
    const char *const *field_labels; /* field selectors beyond metadata.name/namespace */
    api_defaults_fn defaults;
    api_validate_fn validate;
    const char *description; /* for explain */
    /* A version stored as another (autoscaling/v1 HPAs are kept as v2):
     * both NULL for the stored version itself. */
    api_convert_fn to_storage;
    api_convert_fn from_storage;
};

size_t registry_count(void);
const struct api_resource *registry_at(size_t i);
const struct api_resource *registry_find(const char *group, const char *version,
                                         const char *plural);
const struct api_resource *registry_find_kind(const char *group, const char *kind);
/* "apps/v1" or "v1". Returned string is static per resource (cached). */
const char *registry_api_version(const struct api_resource *r);
/* The verbs of the resource itself as a JSON array (new reference). */
json_t *registry_verbs(const struct api_resource *r);
/* The store prefix of a resource: "/registry/pods/" or with "NS/". */
char *registry_prefix(const struct api_resource *r, const char *ns);
char *registry_key(const struct api_resource *r, const char *ns, const char *name);
/* Groups in discovery order: fills *names (static strings) and returns the
 * count (the core group "" first). */
size_t registry_groups(const char **names, size_t max);
/* The versions a group serves, preferred first; returns the count. */
size_t registry_group_versions(const char *group, const char **versions, size_t max);

/* Table columns and rows (table.c): the Table for a list of objects. */
json_t *table_columns(const struct api_resource *r, bool with_headers);
json_t *table_row(const struct api_resource *r, json_t *obj, const char *include_object);
/* Kubernetes' HumanDuration of seconds: "5s", "3m2s", "4h", "12d"... */
void table_age(char *buf, size_t len, int64_t seconds);
/* Seconds since an RFC 3339 time (-1 if absent or unparsable). */
int64_t table_since(json_t *time, time_t now);

/* ---------------------------------------------------------------- requests */

enum field_validation { FV_IGNORE, FV_WARN, FV_STRICT };

struct api_req {
    struct apiserver *as;
    http_request *http;
    struct api_user user;
    const char *verb; /* get, list, watch, create, update, patch, delete, deletecollection */
    const struct api_resource *res;
    char *ns;   /* NULL for cluster scope or all namespaces */
    char *name; /* NULL for collections */
    char *sub;  /* subresource or NULL */
    bool dry_run;
    enum field_validation fv;
    json_t *warnings; /* strings for Warning headers */
    char now[40];     /* this request's timestamp, seconds precision */
};

/* The JSON response with the request's Warning headers. Takes body. */
http_response *api_respond(struct api_req *c, int status, json_t *body);

/* ---------------------------------------------------------------- Status */

/* A metav1.Status failure response. details (taken, may be NULL). */
http_response *status_failure(int code, const char *reason, json_t *details, const char *fmt, ...)
    WHARF_PRINTF(4, 5);
/* details {name, group, kind} for resource r. */
json_t *status_details(const struct api_resource *r, const char *name);
http_response *status_not_found(const struct api_resource *r, const char *name);
http_response *status_already_exists(const struct api_resource *r, const char *name);
http_response *status_conflict(const struct api_resource *r, const char *name, const char *why);
http_response *status_invalid(const struct api_resource *r, const char *name,
                              struct field_errors *fe);
http_response *status_bad_request(const char *fmt, ...) WHARF_PRINTF(1, 2);
http_response *status_forbidden(const struct api_resource *r, const char *name, const char *fmt,
                                ...) WHARF_PRINTF(3, 4);
/* A store error (negative errno in err->code) as the matching Status. */
http_response *status_from_store(const struct api_resource *r, const char *name,
                                 const wharf_error *err);
/* The Status JSON itself (new reference), for watch ERROR events. */
json_t *status_object(int code, const char *reason, const char *message, json_t *details);

/* ---------------------------------------------------------------- objects */

/* Parses a stored value (decrypting sealed ones) into a new object with
 * metadata.resourceVersion set from kv->mod_revision. NULL with err. */
json_t *object_decode(struct apiserver *as, const struct api_resource *r,
                      const struct kvstore_kv *kv, wharf_error *err);
/* The bytes to store for obj (without resourceVersion; sealed when the
 * resource is encrypted). key is the storage key (authenticated data). */
int object_encode(struct apiserver *as, const struct api_resource *r, const char *key, json_t *obj,
                  strbuf *out, wharf_error *err);
/* Appends the stored object kv as JSON text with its resourceVersion,
 * without parsing it: possible for what object_encode wrote unsealed
 * (apiVersion, kind, metadata first). keep_type false leaves apiVersion and
 * kind out (list items). false, with nothing appended, otherwise. */
bool object_text_with_rv(strbuf *out, const struct kvstore_kv *kv, bool keep_type);
/* Sets kind and apiVersion for r. */
void object_set_type(const struct api_resource *r, json_t *obj);
json_t *object_meta(json_t *obj);                        /* metadata object, created when absent */
const char *object_str(json_t *obj, const char *dotted); /* "spec.nodeName" or NULL */
json_t *object_get(json_t *obj, const char *dotted);     /* borrowed or NULL */
/* Sets a dotted path, creating objects on the way; takes value. */
void object_set(json_t *obj, const char *dotted, json_t *value);
void object_set_rv(json_t *obj, int64_t rev);
int64_t object_rv(json_t *obj); /* 0 when absent or unparsable */
void new_uid(char out[37]);
/* Now as RFC 3339 with seconds precision ("2026-11-22T05:12:03Z"). */
void time_now(char out[40]);
void time_format(time_t t, char out[40]);
/* -1 when unparsable */
time_t time_parse(const char *s);

/* ---------------------------------------------------------------- encryption */

int secrets_key_load(struct apiserver *as, wharf_error *err);
/* Seals plain into out ("k8s:enc:aesgcm:v1:wharf:" + nonce + ciphertext + tag). */
int secrets_seal(struct apiserver *as, const char *aad, const void *plain, size_t len, strbuf *out,
                 wharf_error *err);
/* Opens a sealed value; a value without the prefix is returned as is
 * (written before encryption was on). */
int secrets_open(struct apiserver *as, const char *aad, const void *in, size_t len, strbuf *out,
                 wharf_error *err);
bool secrets_is_sealed(const void *in, size_t len);

/* ---------------------------------------------------------------- PKI */

/* Creates (or reuses) the CA, the serving and admin certificates under
 * as->tls_dir, and writes the kubeconfig(s). */
int pki_ensure(struct apiserver *as, wharf_error *err);
int pki_write_kubeconfig(struct apiserver *as, const char *path, wharf_error *err);
/* The user of a verified client certificate (DER): CN is the name, O the
 * groups. -EINVAL when it cannot be parsed. */
int pki_cert_user(const void *der, size_t len, struct api_user *out, wharf_error *err);

/* ---------------------------------------------------------------- auth */

int auth_load_tokens(struct apiserver *as, const char *token, const char *token_file,
                     wharf_error *err);
/* Fills c->user; 0, or -EACCES when the request carries no valid credentials. */
int auth_authenticate(struct apiserver *as, http_request *req, struct api_user *out);

struct authz_attrs {
    const char *verb;
    const char *group;
    const char *resource;    /* NULL for a non-resource request */
    const char *subresource; /* may be NULL */
    const char *ns;          /* may be NULL */
    const char *name;        /* may be NULL */
    const char *path;        /* non-resource requests */
};
/* 1 allowed, 0 denied, negative errno on a store failure. */
int rbac_authorize(struct apiserver *as, const struct api_user *u, const struct authz_attrs *a,
                   wharf_error *err);
/* The rules that apply to u in ns (SelfSubjectRulesReview status). */
json_t *rbac_rules_review(struct apiserver *as, const struct api_user *u, const char *ns,
                          wharf_error *err);
/* The Forbidden message: `User "x" cannot list resource "pods" in API
 * group "" in the namespace "default"`. */
char *rbac_denied_message(const struct api_user *u, const struct authz_attrs *a);
/* The built-in roles and bindings (cluster-admin for system:masters, ...). */
int rbac_bootstrap(struct apiserver *as, wharf_error *err);

/* ---------------------------------------------------------------- selectors */

enum label_op { LS_IN, LS_NOT_IN, LS_EXISTS, LS_NOT_EXISTS, LS_GT, LS_LT };
struct label_requirement {
    char *key;
    enum label_op op;
    char **values;
    size_t n_values;
};
struct label_selector {
    struct label_requirement *reqs;
    size_t n;
    bool match_nothing; /* a null selector in a place where null matches nothing */
};
/* The query syntax: "a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3". */
int label_selector_parse(const char *s, struct label_selector *out, wharf_error *err);
/* A metav1.LabelSelector object ({matchLabels, matchExpressions}). */
int label_selector_from_json(json_t *sel, struct label_selector *out, wharf_error *err);
bool label_selector_matches(const struct label_selector *sel, json_t *labels);
void label_selector_release(struct label_selector *sel);
/* The query form of a metav1.LabelSelector ("app=x,tier in (a,b)");
 * "<none>" style callers check for "". Returns a new string. */
char *label_selector_string(json_t *sel);

struct field_requirement {
    char *field;
    char *value;
    bool negate;
};
struct field_selector {
    struct field_requirement *reqs;
    size_t n;
};
/* Fields allowed: metadata.name, metadata.namespace and r->field_labels. */
int field_selector_parse(const char *s, const struct api_resource *r, struct field_selector *out,
                         wharf_error *err);
bool field_selector_matches(const struct field_selector *sel, json_t *obj);
void field_selector_release(struct field_selector *sel);

/* ---------------------------------------------------------------- protobuf */

/* A "application/vnd.kubernetes.protobuf" body ("k8s\0" + runtime.Unknown)
 * as the JSON object it encodes (new reference), or NULL with -EINVAL. */
json_t *proto_decode(const void *data, size_t len, wharf_error *err);
bool proto_is_envelope(const void *data, size_t len);

/* An "application/yaml" body (one document) as JSON (new reference), or
 * NULL with -EINVAL naming the line. */
json_t *yaml_to_json(const char *text, size_t len, wharf_error *err);

/* ---------------------------------------------------------------- patches */

/* RFC 7386: returns a new reference (target is not modified). */
json_t *patch_merge(json_t *target, json_t *patch);
/* RFC 6902 on a deep copy of doc: new reference in *out, or -EINVAL naming
 * the failing operation. */
int patch_json(json_t *doc, json_t *ops, json_t **out, wharf_error *err);
/* Kubernetes' strategic merge patch for type t (lists of objects merged
 * by their merge keys, $patch/$retainKeys/$setElementOrder/
 * $deleteFromPrimitiveList directives). New reference in *out. */
int patch_strategic(json_t *doc, json_t *patch, const struct schema_type *t, json_t **out,
                    wharf_error *err);

/* ---------------------------------------------------------------- types */

/* Per-type defaulting and validation live in types.c; the registry table
 * points at them. Shared pieces: */
void defaults_pod_spec(json_t *spec);
void validate_pod_spec(json_t *spec, struct field_errors *fe, const char *path);
void validate_pod_template(json_t *tmpl, struct field_errors *fe, const char *path);

/* ---------------------------------------------------------------- services */

/* Allocates what a new Service needs (clusterIP(s), nodePorts) through the
 * store. Returns 0, or fills fe (422) / err. dry_run picks without
 * reserving. */
int services_allocate(struct apiserver *as, json_t *svc, json_t *old, bool dry_run,
                      struct field_errors *fe, wharf_error *err);
/* Frees what svc holds that keep does not (keep may be NULL). */
void services_release(struct apiserver *as, json_t *svc, json_t *keep);
/* Removes allocation records no Service holds (after a crash). */
int services_repair(struct apiserver *as, wharf_error *err);

/* ---------------------------------------------------------------- REST */

/* The handlers behind /api/... and /apis/...: resources and discovery. */
http_response *rest_handle(struct api_req *c, const char *const *parts, size_t n_parts,
                           bool legacy_watch);
/* Create an object as the server itself (bootstrap): no auth, no dry run.
 * -EEXIST when present. */
int rest_create_internal(struct apiserver *as, const struct api_resource *r, json_t *obj,
                         wharf_error *err);
/* Deletes an object as the server itself, with Kubernetes' delete semantics
 * (finalizers set deletionTimestamp instead). -ENOENT when absent. */
int rest_delete_internal(struct apiserver *as, const struct api_resource *r, const char *ns,
                         const char *name, wharf_error *err);
/* Watches (watch.c). */
http_response *watch_serve(struct api_req *c, const char *prefix, int64_t from_rev,
                           bool send_initial, json_t *initial_items, int64_t initial_rev);
/* Marks the server stopping and wakes every watch; watch_wait_all then
 * waits for their threads (after the HTTP server ended the streams). */
void watch_stop_all(struct apiserver *as);
void watch_wait_all(struct apiserver *as);

/* The maintenance thread (nslifecycle.c): the namespace finalizer and the
 * periodic compaction. */
int ns_start(struct apiserver *as, wharf_error *err);
void ns_kick(struct apiserver *as);
void ns_stop(struct apiserver *as);

/* ---------------------------------------------------------------- discovery */

bool accept_has(http_request *req, const char *as_param, const char *g, const char *v);
http_response *discovery_core(struct api_req *c);   /* /api */
http_response *discovery_groups(struct api_req *c); /* /apis */
http_response *discovery_group(struct api_req *c, const char *group);
http_response *discovery_resources(struct api_req *c, const char *group, const char *version);
http_response *discovery_version(struct api_req *c);
http_response *openapi_v2(struct api_req *c);
http_response *openapi_v3(struct api_req *c, const char *sub);

#endif
