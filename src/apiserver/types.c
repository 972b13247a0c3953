/*
 * Per-type defaulting and validation: the essentials of what
 * kube-apiserver's strategies do for each served type — the defaults
 * kubectl and controllers rely on (restartPolicy, imagePullPolicy, service
 * ports' protocol and targetPort, workload strategies, a Job's selector),
 * required fields, enumerations, cross-field rules (a Deployment's selector
 * must match its template) and immutable fields on update, each reported as
 * a field error with Kubernetes' wording.
 *
 * A validate function gets old == NULL on create.
 */
#include "internal.h"
#include "registry_hooks.h"

#include <ctype.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static void set_default(json_t *obj, const char *key, json_t *value)
{
    if (!json_is_object(obj) || json_object_get(obj, key)) {
        json_decref(value);
        return;
    }
    json_object_set_new(obj, key, value);
}

static json_t *child(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(obj, key, c);
    }
    return c;
}

static bool one_of(const char *s, const char *const *allowed)
{
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(s, *a) == 0)
            return true;
    }
    return false;
}

static void check_enum(json_t *obj, const char *key, const char *const *allowed, bool required,
                       struct field_errors *fe, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (!v || (json_is_string(v) && !*json_string_value(v))) {
        if (required)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s", path);
        return;
    }
    if (json_is_string(v) && one_of(json_string_value(v), allowed))
        return;
    strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "supported values: ");
    for (const char *const *a = allowed; *a; a++)
        strbuf_addf(&sb, "%s\"%s\"", a == allowed ? "" : ", ", *a);
    fe_add(fe, FE_NOT_SUPPORTED, v, strbuf_str(&sb), "%s", path);
    strbuf_release(&sb);
}

static void check_nonneg(json_t *obj, const char *key, struct field_errors *fe, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) < 0)
        fe_add(fe, FE_INVALID, v, "must be greater than or equal to 0", "%s", path);
}

static void check_port(json_t *v, bool required, struct field_errors *fe, const char *path)
{
    if (!v || json_is_null(v)) {
        if (required)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s", path);
        return;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
        fe_add(fe, FE_INVALID, v, "must be between 1 and 65535, inclusive", "%s", path);
}

static void immutable(json_t *obj, json_t *old, const char *dotted, struct field_errors *fe,
                      const char *path)
{
    if (!old)
        return;
    json_t *a = object_get(obj, dotted), *b = object_get(old, dotted);
    if ((a || b) && !(a && b && json_equal(a, b)))
        fe_add(fe, FE_INVALID, a ? a : json_null(), "field is immutable", "%s", path);
}

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

/* ---------------------------------------------------------------- pod specs */

static void defaults_container(json_t *c)
{
    set_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json_string("File"));
    set_default(c, "resources", json_object());
    const char *image = json_string_value(json_object_get(c, "image"));
    if (image && !json_object_get(c, "imagePullPolicy")) {
        /* Always for :latest or no tag, IfNotPresent otherwise (a digest
         * counts as pinned). */
        const char *slash = strrchr(image, '/');
        const char *last = slash ? slash + 1 : image;
        const char *colon = strchr(last, ':');
        bool latest = !strchr(image, '@') && (!colon || strcmp(colon, ":latest") == 0);
        json_object_set_new(c, "imagePullPolicy", json_string(latest ? "Always" : "IfNotPresent"));
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "ports"), i, p)
    {
        set_default(p, "protocol", json_string("TCP"));
    }
}

void defaults_pod_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    set_default(spec, "restartPolicy", json_string("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
    set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
    set_default(spec, "securityContext", json_object());
    set_default(spec, "schedulerName", json_string("default-scheduler"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        defaults_container(c);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        defaults_container(c);
    }
    json_array_foreach(json_object_get(spec, "volumes"), i, c)
    {
        /* A volume without a source is an emptyDir, as kube defaults it. */
        if (json_object_size(c) == 1 && json_object_get(c, "name"))
            json_object_set_new(c, "emptyDir", json_object());
    }
}

static void validate_containers(json_t *list, bool required, json_t *volumes,
                                struct field_errors *fe, const char *path, json_t *seen_names)
{
    if (!json_is_array(list) || json_array_size(list) == 0) {
        if (required)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s", path);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        json_t *name = json_object_get(c, "name");
        const char *n = json_string_value(name);
        if (!n || !*n) {
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s[%zu].name", path, i);
        } else {
            const char *why = validate_dns1123_label(n);
            if (why)
                fe_add(fe, FE_INVALID, name, why, "%s[%zu].name", path, i);
            if (json_object_get(seen_names, n))
                fe_add(fe, FE_DUPLICATE, name, NULL, "%s[%zu].name", path, i);
            json_object_set_new(seen_names, n, json_true());
        }
        const char *image = json_string_value(json_object_get(c, "image"));
        if (!image || !*image)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s[%zu].image", path, i);
        else if (isspace((unsigned char)image[0]) ||
                 isspace((unsigned char)image[strlen(image) - 1]))
            fe_add(fe, FE_INVALID, json_object_get(c, "image"),
                   "must not have leading or trailing whitespace", "%s[%zu].image", path, i);
        size_t k;
        json_t *p;
        json_t *port_names = json_object();
        json_array_foreach(json_object_get(c, "ports"), k, p)
        {
            _cleanup_free_ char *pp = xasprintf("%s[%zu].ports[%zu]", path, i, k);
            _cleanup_free_ char *cpp = xasprintf("%s.containerPort", pp);
            _cleanup_free_ char *hpp = xasprintf("%s.hostPort", pp);
            _cleanup_free_ char *prp = xasprintf("%s.protocol", pp);
            check_port(json_object_get(p, "containerPort"), true, fe, cpp);
            json_t *hp = json_object_get(p, "hostPort");
            if (hp && json_integer_value(hp) != 0)
                check_port(hp, false, fe, hpp);
            check_enum(p, "protocol", protocols, false, fe, prp);
            const char *pname = json_string_value(json_object_get(p, "name"));
            if (pname && *pname) {
                if (json_object_get(port_names, pname))
                    fe_add(fe, FE_DUPLICATE, json_object_get(p, "name"), NULL, "%s.name", pp);
                json_object_set_new(port_names, pname, json_true());
            }
        }
        json_decref(port_names);
        json_t *e;
        json_array_foreach(json_object_get(c, "env"), k, e)
        {
            const char *en = json_string_value(json_object_get(e, "name"));
            if (!en || !*en)
                fe_add(fe, FE_REQUIRED, NULL, NULL, "%s[%zu].env[%zu].name", path, i, k);
        }
        json_t *m;
        json_array_foreach(json_object_get(c, "volumeMounts"), k, m)
        {
            const char *vn = json_string_value(json_object_get(m, "name"));
            const char *mp = json_string_value(json_object_get(m, "mountPath"));
            if (!vn || !*vn) {
                fe_add(fe, FE_REQUIRED, NULL, NULL, "%s[%zu].volumeMounts[%zu].name", path, i, k);
            } else {
                bool found = false;
                size_t v;
                json_t *vol;
                json_array_foreach(volumes, v, vol)
                {
                    if (strcmp(json_string_value(json_object_get(vol, "name")) ?: "", vn) == 0)
                        found = true;
                }
                if (!found)
                    fe_add(fe, FE_NOT_FOUND, json_object_get(m, "name"), NULL,
                           "%s[%zu].volumeMounts[%zu].name", path, i, k);
            }
            if (!mp || !*mp)
                fe_add(fe, FE_REQUIRED, NULL, NULL, "%s[%zu].volumeMounts[%zu].mountPath", path, i,
                       k);
        }
        static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
        _cleanup_free_ char *pp = xasprintf("%s[%zu].imagePullPolicy", path, i);
        check_enum(c, "imagePullPolicy", pull, false, fe, pp);
    }
}

void validate_pod_spec(json_t *spec, struct field_errors *fe, const char *path)
{
    if (!json_is_object(spec)) {
        fe_add(fe, FE_REQUIRED, NULL, NULL, "%s", path);
        return;
    }
    json_t *volumes = json_object_get(spec, "volumes");
    json_t *vol_names = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(volumes, i, v)
    {
        json_t *name = json_object_get(v, "name");
        const char *n = json_string_value(name);
        if (!n || !*n) {
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s.volumes[%zu].name", path, i);
            continue;
        }
        const char *why = validate_dns1123_label(n);
        if (why)
            fe_add(fe, FE_INVALID, name, why, "%s.volumes[%zu].name", path, i);
        if (json_object_get(vol_names, n))
            fe_add(fe, FE_DUPLICATE, name, NULL, "%s.volumes[%zu].name", path, i);
        json_object_set_new(vol_names, n, json_true());
    }
    json_decref(vol_names);
    json_t *names = json_object();
    _cleanup_free_ char *cpath = xasprintf("%s.containers", path);
    _cleanup_free_ char *ipath = xasprintf("%s.initContainers", path);
    validate_containers(json_object_get(spec, "containers"), true, volumes, fe, cpath, names);
    validate_containers(json_object_get(spec, "initContainers"), false, volumes, fe, ipath, names);
    json_decref(names);
    static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None",
                                      NULL};
    _cleanup_free_ char *rp = xasprintf("%s.restartPolicy", path);
    _cleanup_free_ char *dp = xasprintf("%s.dnsPolicy", path);
    _cleanup_free_ char *np = xasprintf("%s.nodeSelector", path);
    _cleanup_free_ char *tp = xasprintf("%s.terminationGracePeriodSeconds", path);
    _cleanup_free_ char *ap = xasprintf("%s.activeDeadlineSeconds", path);
    check_enum(spec, "restartPolicy", restart, false, fe, rp);
    check_enum(spec, "dnsPolicy", dns, false, fe, dp);
    validate_labels(json_object_get(spec, "nodeSelector"), fe, np);
    check_nonneg(spec, "terminationGracePeriodSeconds", fe, tp);
    json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
    if (json_is_integer(ads) && json_integer_value(ads) <= 0)
        fe_add(fe, FE_INVALID, ads, "must be between 1 and 2147483647, inclusive", "%s", ap);
    const char *sa = json_string_value(json_object_get(spec, "serviceAccountName"));
    if (sa && *sa) {
        const char *why = validate_dns1123_subdomain(sa);
        if (why)
            fe_add(fe, FE_INVALID, json_object_get(spec, "serviceAccountName"), why,
                   "%s.serviceAccountName", path);
    }
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    if (node && *node) {
        const char *why = validate_dns1123_subdomain(node);
        if (why)
            fe_add(fe, FE_INVALID, json_object_get(spec, "nodeName"), why, "%s.nodeName", path);
    }
}

void validate_pod_template(json_t *tmpl, struct field_errors *fe, const char *path)
{
    if (!json_is_object(tmpl)) {
        fe_add(fe, FE_REQUIRED, NULL, NULL, "%s", path);
        return;
    }
    _cleanup_free_ char *lp = xasprintf("%s.metadata.labels", path);
    _cleanup_free_ char *sp = xasprintf("%s.spec", path);
    validate_labels(object_get(tmpl, "metadata.labels"), fe, lp);
    validate_pod_spec(json_object_get(tmpl, "spec"), fe, sp);
}

/* ---------------------------------------------------------------- pods */

static bool has_resource(json_t *c, const char *kind, const char *res)
{
    json_t *m = object_get(c, kind);
    return json_is_object(m) && json_object_get(m, res);
}

static const char *qos_class(json_t *spec)
{
    bool any = false, guaranteed = true;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        json_t *req = object_get(c, "resources.requests");
        json_t *lim = object_get(c, "resources.limits");
        if (json_object_size(req) || json_object_size(lim))
            any = true;
        static const char *const res[] = {"cpu", "memory"};
        for (size_t k = 0; k < 2; k++) {
            json_t *l = json_object_get(lim, res[k]);
            json_t *r = json_object_get(req, res[k]);
            if (!has_resource(c, "resources.limits", res[k]) || (r && !json_equal(r, l)))
                guaranteed = false;
        }
    }
    if (!any)
        return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

void defaults_pod(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    defaults_pod_spec(spec);
    /* what the ServiceAccount admission plugin sets */
    set_default(spec, "serviceAccountName", json_string("default"));
    set_default(spec, "serviceAccount",
                json_string(json_string_value(json_object_get(spec, "serviceAccountName"))));
    set_default(spec, "enableServiceLinks", json_true());
    set_default(spec, "preemptionPolicy", json_string("PreemptLowerPriority"));
    set_default(spec, "priority", json_integer(0));
    if (!old) {
        /* DefaultTolerationSeconds admission: five minutes on a node that
         * is not ready or unreachable. */
        json_t *tol = json_object_get(spec, "tolerations");
        if (!json_is_array(tol)) {
            tol = json_array();
            json_object_set_new(spec, "tolerations", tol);
        }
        static const char *const keys[] = {"node.kubernetes.io/not-ready",
                                           "node.kubernetes.io/unreachable"};
        for (size_t k = 0; k < 2; k++) {
            bool have = false;
            size_t i;
            json_t *t;
            json_array_foreach(tol, i, t)
            {
                if (strcmp(json_string_value(json_object_get(t, "key")) ?: "", keys[k]) == 0)
                    have = true;
            }
            if (!have)
                json_array_append_new(tol, json_pack("{s:s, s:s, s:s, s:i}", "key", keys[k],
                                                     "operator", "Exists", "effect", "NoExecute",
                                                     "tolerationSeconds", 300));
        }
        json_t *status = child(obj, "status");
        set_default(status, "phase", json_string("Pending"));
        set_default(status, "qosClass", json_string(qos_class(spec)));
    }
}

void validate_pod(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    validate_pod_spec(json_object_get(obj, "spec"), fe, "spec");
    if (!old)
        return;
    /* Only images, activeDeadlineSeconds and added tolerations may change. */
    json_t *a = json_deep_copy(json_object_get(old, "spec"));
    json_t *b = json_object_get(obj, "spec");
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        json_t *oa = json_object_get(a, lists[l]), *nb = json_object_get(b, lists[l]);
        if (json_array_size(oa) != json_array_size(nb))
            continue;
        for (size_t i = 0; i < json_array_size(oa); i++) {
            json_t *img = json_object_get(json_array_get(nb, i), "image");
            if (img)
                json_object_set(json_array_get(oa, i), "image", img);
        }
    }
    static const char *const free_fields[] = {"activeDeadlineSeconds", "tolerations",
                                              "terminationGracePeriodSeconds"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = json_object_get(b, free_fields[k]);
        if (v)
            json_object_set(a, free_fields[k], v);
        else
            json_object_del(a, free_fields[k]);
    }
    if (!json_equal(a, b))
        fe_add(fe, FE_FORBIDDEN, NULL,
               "pod updates may not change fields other than `spec.containers[*].image`,"
               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
               "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
               "(allow it to be set to 1 if it was previously negative)",
               "spec");
    json_decref(a);
}

void defaults_podtemplate(struct api_req *c, json_t *obj, json_t *old)
{
    defaults_pod_spec(object_get(obj, "template.spec"));
}

void validate_podtemplate(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    validate_pod_template(json_object_get(obj, "template"), fe, "template");
}

/* ---------------------------------------------------------------- config */

static void validate_config_keys(json_t *map, struct field_errors *fe, const char *field)
{
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        bool ok = *k && strlen(k) <= 253 && strcmp(k, ".") != 0 && strcmp(k, "..") != 0 &&
                  strncmp(k, "..", 2) != 0;
        for (const char *p = k; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
        if (!ok) {
            json_t *kv = json_string(k);
            fe_add(fe, FE_INVALID, kv,
                   "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                   "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                   "is '[-._a-zA-Z0-9]+')",
                   "%s[%s]", field, k);
            json_decref(kv);
        }
    }
}

static void validate_immutable_data(json_t *obj, json_t *old, struct field_errors *fe,
                                    const char *const *fields)
{
    if (!old || !json_is_true(json_object_get(old, "immutable")))
        return;
    for (const char *const *f = fields; *f; f++) {
        json_t *a = json_object_get(obj, *f), *b = json_object_get(old, *f);
        bool same = (!a || json_object_size(a) == 0) && (!b || json_object_size(b) == 0);
        if (!same && !(a && b && json_equal(a, b)))
            fe_add(fe, FE_FORBIDDEN, NULL, "field is immutable when `immutable` is set", "%s", *f);
    }
    if (!json_is_true(json_object_get(obj, "immutable")))
        fe_add(fe, FE_FORBIDDEN, NULL, "field is immutable when `immutable` is set", "immutable");
}

void validate_configmap(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *data = json_object_get(obj, "data");
    json_t *bin = json_object_get(obj, "binaryData");
    validate_config_keys(data, fe, "data");
    validate_config_keys(bin, fe, "binaryData");
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v)
    {
        if (json_object_get(bin, k)) {
            json_t *kv = json_string(k);
            fe_add(fe, FE_INVALID, kv, "duplicate of key present in binaryData", "data[%s]", k);
            json_decref(kv);
        }
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    json_object_foreach(bin, k, v)
    {
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) * 3 / 4 : 0);
    }
    if (total > 1024 * 1024)
        fe_add(fe, FE_TOO_LONG, NULL, "must have at most 1048576 bytes", "[]");
    static const char *const fields[] = {"data", "binaryData", NULL};
    validate_immutable_data(obj, old, fe, fields);
}

static bool base64_ok(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n % 4)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            pad++;
            if (i < n - 2)
                return false;
        } else if (pad || !(isalnum((unsigned char)ch) || ch == '+' || ch == '/')) {
            return false;
        }
    }
    return pad <= 2;
}

static char *base64_encode(const char *s, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        strbuf_addch(&sb, tbl[(v >> 18) & 63]);
        strbuf_addch(&sb, tbl[(v >> 12) & 63]);
        strbuf_addch(&sb, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
        strbuf_addch(&sb, i + 2 < n ? tbl[v & 63] : '=');
    }
    return strbuf_detach(&sb);
}

void defaults_secret(struct api_req *c, json_t *obj, json_t *old)
{
    set_default(obj, "type", json_string("Opaque"));
    /* stringData is write-only: merged into data, base64-encoded. */
    json_t *sd = json_object_get(obj, "stringData");
    if (json_is_object(sd)) {
        json_t *data = child(obj, "data");
        const char *k;
        json_t *v;
        json_object_foreach(sd, k, v)
        {
            const char *s = json_string_value(v) ?: "";
            char *enc = base64_encode(s, strlen(s));
            json_object_set_new(data, k, json_string(enc));
            free(enc);
        }
    }
    json_object_del(obj, "stringData");
}

void validate_secret(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *data = json_object_get(obj, "data");
    validate_config_keys(data, fe, "data");
    const char *k;
    json_t *v;
    size_t total = 0;
    json_object_foreach(data, k, v)
    {
        const char *s = json_string_value(v);
        if (!s || !base64_ok(s)) {
            fe_add(fe, FE_INVALID, NULL, "illegal base64 data", "data[%s]", k);
            continue;
        }
        total += strlen(s) * 3 / 4;
    }
    if (total > 1024 * 1024)
        fe_add(fe, FE_TOO_LONG, NULL, "must have at most 1048576 bytes", "data");
    const char *type = json_string_value(json_object_get(obj, "type")) ?: "";
    static const struct {
        const char *type;
        const char *keys[3];
    } required[] = {
        {"kubernetes.io/tls", {"tls.crt", "tls.key", NULL}},
        {"kubernetes.io/dockerconfigjson", {".dockerconfigjson", NULL}},
        {"kubernetes.io/dockercfg", {".dockercfg", NULL}},
        {"kubernetes.io/basic-auth", {NULL}},
        {"kubernetes.io/ssh-auth", {"ssh-privatekey", NULL}},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (strcmp(type, required[i].type) != 0)
            continue;
        for (size_t j = 0; required[i].keys[j]; j++) {
            if (!json_object_get(data, required[i].keys[j]))
                fe_add(fe, FE_REQUIRED, NULL, NULL, "data[%s]", required[i].keys[j]);
        }
    }
    if (old)
        immutable(obj, old, "type", fe, "type");
    static const char *const fields[] = {"data", NULL};
    validate_immutable_data(obj, old, fe, fields);
}

/* ---------------------------------------------------------------- namespaces */

void defaults_namespace(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *meta = object_meta(obj);
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (name)
        json_object_set_new(child(meta, "labels"), "kubernetes.io/metadata.name",
                            json_string(name));
    if (!old) {
        json_t *spec = child(obj, "spec");
        set_default(spec, "finalizers", json_pack("[s]", "kubernetes"));
        json_t *status = child(obj, "status");
        json_object_set_new(status, "phase", json_string("Active"));
    }
}

/* ---------------------------------------------------------------- events */

void defaults_event(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *io = json_object_get(obj, "involvedObject");
    if (json_is_object(io) && !json_object_get(io, "namespace") && c && c->ns)
        json_object_set_new(io, "namespace", json_string(c->ns));
}

void validate_event(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    const char *ns = object_str(obj, "metadata.namespace");
    json_t *ions = object_get(obj, "involvedObject.namespace");
    if (json_is_string(ions) && *json_string_value(ions) && ns &&
        strcmp(json_string_value(ions), ns) != 0)
        fe_add(fe, FE_INVALID, ions, "does not match event.namespace", "involvedObject.namespace");
    static const char *const types[] = {"Normal", "Warning", NULL};
    check_enum(obj, "type", types, false, fe, "type");
}

/* ---------------------------------------------------------------- volumes */

void defaults_pvc(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "volumeMode", json_string("Filesystem"));
    if (!old)
        set_default(child(obj, "status"), "phase", json_string("Pending"));
}

void validate_pvc(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    if (json_array_size(json_object_get(spec, "accessModes")) == 0)
        fe_add(fe, FE_REQUIRED, NULL, "at least 1 access mode is required", "spec.accessModes");
    if (!object_get(spec, "resources.requests.storage"))
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.resources[storage]");
    if (old) {
        /* only the requested size may change */
        json_t *a = json_deep_copy(json_object_get(old, "spec"));
        json_t *b = json_object_get(obj, "spec");
        json_t *size = object_get(b, "resources.requests.storage");
        if (size)
            object_set(a, "resources.requests.storage", json_incref(size));
        if (json_object_get(b, "volumeName") && !json_object_get(a, "volumeName"))
            json_object_set(a, "volumeName", json_object_get(b, "volumeName"));
        if (!json_equal(a, b))
            fe_add(fe, FE_FORBIDDEN, NULL,
                   "spec is immutable after creation except resources.requests and "
                   "volumeAttributesClassName for bound claims",
                   "spec");
        json_decref(a);
    }
}

void defaults_pv(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "persistentVolumeReclaimPolicy", json_string("Retain"));
    set_default(spec, "volumeMode", json_string("Filesystem"));
    if (!old)
        set_default(child(obj, "status"), "phase", json_string("Pending"));
}

/* ---------------------------------------------------------------- services */

void defaults_service(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "type", json_string("ClusterIP"));
    set_default(spec, "sessionAffinity", json_string("None"));
    const char *type = json_string_value(json_object_get(spec, "type")) ?: "";
    if (strcmp(type, "ExternalName") != 0) {
        set_default(spec, "ipFamilyPolicy", json_string("SingleStack"));
        set_default(spec, "ipFamilies", json_pack("[s]", "IPv4"));
        set_default(spec, "internalTrafficPolicy", json_string("Cluster"));
    }
    if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0)
        set_default(spec, "externalTrafficPolicy", json_string("Cluster"));
    if (strcmp(type, "LoadBalancer") == 0)
        set_default(spec, "allocateLoadBalancerNodePorts", json_true());
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        set_default(p, "protocol", json_string("TCP"));
        if (!json_object_get(p, "targetPort") && json_object_get(p, "port"))
            json_object_set(p, "targetPort", json_object_get(p, "port"));
    }
    json_t *status = child(obj, "status");
    set_default(status, "loadBalancer", json_object());
}

void validate_service(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
                                        NULL};
    check_enum(spec, "type", types, false, fe, "spec.type");
    const char *type = json_string_value(json_object_get(spec, "type")) ?: "ClusterIP";
    const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
    bool headless = cip && strcmp(cip, "None") == 0;
    json_t *ports = json_object_get(spec, "ports");
    if (json_array_size(ports) == 0 && strcmp(type, "ExternalName") != 0 && !headless)
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.ports");
    if (strcmp(type, "ExternalName") == 0) {
        const char *en = json_string_value(json_object_get(spec, "externalName"));
        if (!en || !*en)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.externalName");
        else if (validate_dns1123_subdomain(en))
            fe_add(fe, FE_INVALID, json_object_get(spec, "externalName"),
                   validate_dns1123_subdomain(en), "spec.externalName");
    }
    json_t *names = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_t *name = json_object_get(p, "name");
        const char *n = json_string_value(name);
        if (json_array_size(ports) > 1 && (!n || !*n))
            fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.ports[%zu].name", i);
        if (n && *n) {
            const char *why = validate_dns1123_label(n);
            if (why)
                fe_add(fe, FE_INVALID, name, why, "spec.ports[%zu].name", i);
            if (json_object_get(names, n))
                fe_add(fe, FE_DUPLICATE, name, NULL, "spec.ports[%zu].name", i);
            json_object_set_new(names, n, json_true());
        }
        _cleanup_free_ char *pp = xasprintf("spec.ports[%zu].port", i);
        check_port(json_object_get(p, "port"), true, fe, pp);
        _cleanup_free_ char *pr = xasprintf("spec.ports[%zu].protocol", i);
        check_enum(p, "protocol", protocols, false, fe, pr);
        json_t *tp = json_object_get(p, "targetPort");
        if (json_is_integer(tp)) {
            _cleanup_free_ char *tpp = xasprintf("spec.ports[%zu].targetPort", i);
            check_port(tp, false, fe, tpp);
        }
        json_t *np = json_object_get(p, "nodePort");
        if (json_is_integer(np) && json_integer_value(np) != 0) {
            if (strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0)
                fe_add(fe, FE_FORBIDDEN, NULL, "may not be used when `type` is 'ClusterIP'",
                       "spec.ports[%zu].nodePort", i);
        }
    }
    json_decref(names);
    validate_labels(json_object_get(spec, "selector"), fe, "spec.selector");
    if (old) {
        const char *oc = object_str(old, "spec.clusterIP");
        const char *ntype = type;
        const char *otype = object_str(old, "spec.type") ?: "ClusterIP";
        bool to_external = strcmp(ntype, "ExternalName") == 0 || strcmp(otype, "ExternalName") == 0;
        if (!to_external && oc && *oc && cip && strcmp(oc, cip) != 0)
            fe_add(fe, FE_INVALID, json_object_get(spec, "clusterIP"), "field is immutable",
                   "spec.clusterIP");
    }
}

/* ---------------------------------------------------------------- workloads */

/* selector required, non-empty, matching the template's labels. */
static void validate_workload_selector(json_t *spec, json_t *old_spec, struct field_errors *fe,
                                       const char *kind_phrase, bool required)
{
    json_t *sel = json_object_get(spec, "selector");
    if (!sel || json_is_null(sel)) {
        if (required)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.selector");
        return;
    }
    validate_label_selector(sel, fe, "spec.selector");
    if (json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
        json_array_size(json_object_get(sel, "matchExpressions")) == 0) {
        _cleanup_free_ char *why = xasprintf("empty selector is invalid for %s", kind_phrase);
        fe_add(fe, FE_INVALID, sel, why, "spec.selector");
        return;
    }
    struct label_selector ls;
    wharf_error err = {0};
    if (label_selector_from_json(sel, &ls, &err) == 0) {
        json_t *labels = object_get(spec, "template.metadata.labels");
        if (!label_selector_matches(&ls, labels))
            fe_add(fe, FE_INVALID, labels ? labels : json_null(),
                   "`selector` does not match template `labels`", "spec.template.metadata.labels");
        label_selector_release(&ls);
    }
    if (old_spec) {
        json_t *os = json_object_get(old_spec, "selector");
        if (os && !json_equal(os, sel))
            fe_add(fe, FE_INVALID, sel, "field is immutable", "spec.selector");
    }
}

static void validate_restart_always(json_t *spec, struct field_errors *fe)
{
    const char *rp = object_str(spec, "template.spec.restartPolicy");
    if (rp && strcmp(rp, "Always") != 0)
        fe_add(fe, FE_NOT_SUPPORTED, object_get(spec, "template.spec.restartPolicy"),
               "supported values: \"Always\"", "spec.template.spec.restartPolicy");
}

static void defaults_template(json_t *spec)
{
    defaults_pod_spec(object_get(spec, "template.spec"));
}

void defaults_deployment(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "replicas", json_integer(1));
    json_t *strategy = child(spec, "strategy");
    set_default(strategy, "type", json_string("RollingUpdate"));
    if (strcmp(json_string_value(json_object_get(strategy, "type")) ?: "", "RollingUpdate") == 0) {
        json_t *ru = child(strategy, "rollingUpdate");
        set_default(ru, "maxUnavailable", json_string("25%"));
        set_default(ru, "maxSurge", json_string("25%"));
    }
    set_default(spec, "revisionHistoryLimit", json_integer(10));
    set_default(spec, "progressDeadlineSeconds", json_integer(600));
    defaults_template(spec);
}

void validate_deployment(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    check_nonneg(spec, "replicas", fe, "spec.replicas");
    check_nonneg(spec, "minReadySeconds", fe, "spec.minReadySeconds");
    check_nonneg(spec, "revisionHistoryLimit", fe, "spec.revisionHistoryLimit");
    validate_workload_selector(spec, old ? json_object_get(old, "spec") : NULL, fe, "deployment",
                               true);
    validate_pod_template(json_object_get(spec, "template"), fe, "spec.template");
    validate_restart_always(spec, fe);
    static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
    check_enum(json_object_get(spec, "strategy"), "type", types, false, fe, "spec.strategy.type");
    const char *st = object_str(spec, "strategy.type");
    if (st && strcmp(st, "Recreate") == 0 && object_get(spec, "strategy.rollingUpdate"))
        fe_add(fe, FE_FORBIDDEN, NULL, "may not be specified when strategy `type` is 'Recreate'",
               "spec.strategy.rollingUpdate");
}

void defaults_replicaset(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "replicas", json_integer(1));
    defaults_template(spec);
}

void validate_replicaset(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    check_nonneg(spec, "replicas", fe, "spec.replicas");
    validate_workload_selector(spec, old ? json_object_get(old, "spec") : NULL, fe, "replicaset",
                               true);
    validate_pod_template(json_object_get(spec, "template"), fe, "spec.template");
    validate_restart_always(spec, fe);
}

void defaults_statefulset(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "replicas", json_integer(1));
    set_default(spec, "podManagementPolicy", json_string("OrderedReady"));
    json_t *us = child(spec, "updateStrategy");
    set_default(us, "type", json_string("RollingUpdate"));
    if (strcmp(json_string_value(json_object_get(us, "type")) ?: "", "RollingUpdate") == 0)
        set_default(child(us, "rollingUpdate"), "partition", json_integer(0));
    set_default(spec, "revisionHistoryLimit", json_integer(10));
    json_t *ret = child(spec, "persistentVolumeClaimRetentionPolicy");
    set_default(ret, "whenDeleted", json_string("Retain"));
    set_default(ret, "whenScaled", json_string("Retain"));
    defaults_template(spec);
}

void validate_statefulset(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    check_nonneg(spec, "replicas", fe, "spec.replicas");
    validate_workload_selector(spec, NULL, fe, "statefulset", true);
    validate_pod_template(json_object_get(spec, "template"), fe, "spec.template");
    validate_restart_always(spec, fe);
    static const char *const pmp[] = {"OrderedReady", "Parallel", NULL};
    check_enum(spec, "podManagementPolicy", pmp, false, fe, "spec.podManagementPolicy");
    if (old) {
        json_t *a = json_deep_copy(json_object_get(old, "spec"));
        json_t *b = json_object_get(obj, "spec");
        static const char *const mutable_fields[] = {"replicas",
                                                     "ordinals",
                                                     "template",
                                                     "updateStrategy",
                                                     "persistentVolumeClaimRetentionPolicy",
                                                     "minReadySeconds",
                                                     "revisionHistoryLimit"};
        for (size_t k = 0; k < sizeof(mutable_fields) / sizeof(mutable_fields[0]); k++) {
            json_t *v = json_object_get(b, mutable_fields[k]);
            if (v)
                json_object_set(a, mutable_fields[k], v);
            else
                json_object_del(a, mutable_fields[k]);
        }
        if (!json_equal(a, b))
            fe_add(fe, FE_FORBIDDEN, NULL,
                   "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                   "'template', 'updateStrategy', 'revisionHistoryLimit', "
                   "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                   "spec");
        json_decref(a);
    }
}

void defaults_daemonset(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    json_t *us = child(spec, "updateStrategy");
    set_default(us, "type", json_string("RollingUpdate"));
    if (strcmp(json_string_value(json_object_get(us, "type")) ?: "", "RollingUpdate") == 0) {
        json_t *ru = child(us, "rollingUpdate");
        set_default(ru, "maxUnavailable", json_integer(1));
        set_default(ru, "maxSurge", json_integer(0));
    }
    set_default(spec, "revisionHistoryLimit", json_integer(10));
    defaults_template(spec);
}

void validate_daemonset(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    validate_workload_selector(spec, old ? json_object_get(old, "spec") : NULL, fe, "daemonset",
                               true);
    validate_pod_template(json_object_get(spec, "template"), fe, "spec.template");
    validate_restart_always(spec, fe);
}

void validate_controllerrevision(struct api_req *c, json_t *obj, json_t *old,
                                 struct field_errors *fe)
{
    check_nonneg(obj, "revision", fe, "revision");
    if (old)
        immutable(obj, old, "data", fe, "data");
}

/* ---------------------------------------------------------------- batch */

static void defaults_job_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    if (!json_object_get(spec, "completions") && !json_object_get(spec, "parallelism")) {
        json_object_set_new(spec, "completions", json_integer(1));
        json_object_set_new(spec, "parallelism", json_integer(1));
    }
    set_default(spec, "parallelism", json_integer(1));
    set_default(spec, "backoffLimit", json_integer(6));
    set_default(spec, "completionMode", json_string("NonIndexed"));
    set_default(spec, "suspend", json_false());
    set_default(spec, "manualSelector", json_false());
    set_default(spec, "podReplacementPolicy", json_string("TerminatingOrFailed"));
    defaults_pod_spec(object_get(spec, "template.spec"));
}

void defaults_job(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    bool manual = json_is_true(json_object_get(spec, "manualSelector"));
    defaults_job_spec(spec);
    const char *uid = object_str(obj, "metadata.uid");
    const char *name = object_str(obj, "metadata.name");
    if (old || manual || !uid || !name)
        return;
    /* The Job controller's selector: the Job's own uid, on the template. */
    json_t *tmpl = child(spec, "template");
    json_t *labels = child(object_meta(tmpl), "labels");
    json_object_set_new(labels, "batch.kubernetes.io/controller-uid", json_string(uid));
    json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(name));
    json_object_set_new(labels, "controller-uid", json_string(uid));
    json_object_set_new(labels, "job-name", json_string(name));
    if (!json_object_get(spec, "selector"))
        json_object_set_new(
            spec, "selector",
            json_pack("{s:{s:s}}", "matchLabels", "batch.kubernetes.io/controller-uid", uid));
}

static void validate_job_spec(json_t *spec, json_t *old_spec, struct field_errors *fe,
                              const char *path, bool selector_generated)
{
    _cleanup_free_ char *p1 = xasprintf("%s.parallelism", path);
    _cleanup_free_ char *p2 = xasprintf("%s.completions", path);
    _cleanup_free_ char *p3 = xasprintf("%s.backoffLimit", path);
    _cleanup_free_ char *p4 = xasprintf("%s.template", path);
    _cleanup_free_ char *p5 = xasprintf("%s.template.spec.restartPolicy", path);
    _cleanup_free_ char *p6 = xasprintf("%s.completionMode", path);
    check_nonneg(spec, "parallelism", fe, p1);
    check_nonneg(spec, "completions", fe, p2);
    check_nonneg(spec, "backoffLimit", fe, p3);
    validate_pod_template(json_object_get(spec, "template"), fe, p4);
    json_t *rp = object_get(spec, "template.spec.restartPolicy");
    const char *r = json_string_value(rp);
    if (!r || (strcmp(r, "OnFailure") != 0 && strcmp(r, "Never") != 0)) {
        if (!r || strcmp(r, "Always") == 0)
            fe_add(fe, FE_REQUIRED, NULL, "valid values: \"OnFailure\", \"Never\"", "%s", p5);
        else
            fe_add(fe, FE_NOT_SUPPORTED, rp, "supported values: \"OnFailure\", \"Never\"", "%s",
                   p5);
    }
    static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
    check_enum(spec, "completionMode", modes, false, fe, p6);
    if (selector_generated) {
        struct label_selector ls;
        wharf_error err = {0};
        json_t *sel = json_object_get(spec, "selector");
        if (sel && label_selector_from_json(sel, &ls, &err) == 0) {
            if (!label_selector_matches(&ls, object_get(spec, "template.metadata.labels")))
                fe_add(fe, FE_INVALID, object_get(spec, "template.metadata.labels") ?: json_null(),
                       "`selector` does not match template `labels`", "%s.template.metadata.labels",
                       path);
            label_selector_release(&ls);
        }
    }
    if (old_spec) {
        static const char *const fixed[] = {"template", "selector", "completions",
                                            "completionMode"};
        for (size_t k = 0; k < 4; k++) {
            json_t *a = json_object_get(spec, fixed[k]), *b = json_object_get(old_spec, fixed[k]);
            if (b && !(a && json_equal(a, b)))
                fe_add(fe, FE_INVALID, a ? a : json_null(), "field is immutable", "%s.%s", path,
                       fixed[k]);
        }
    }
}

void validate_job(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    validate_job_spec(json_object_get(obj, "spec"), old ? json_object_get(old, "spec") : NULL, fe,
                      "spec", true);
}

void defaults_cronjob(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    set_default(spec, "concurrencyPolicy", json_string("Allow"));
    set_default(spec, "suspend", json_false());
    set_default(spec, "successfulJobsHistoryLimit", json_integer(3));
    set_default(spec, "failedJobsHistoryLimit", json_integer(1));
    json_t *jt = json_object_get(spec, "jobTemplate");
    json_t *js = json_object_get(jt, "spec");
    if (json_is_object(js)) {
        bool had_manual = json_object_get(js, "manualSelector") != NULL;
        defaults_job_spec(js);
        if (!had_manual)
            json_object_del(js, "manualSelector");
    }
}

/* A standard cron field: *, N, N-M, lists and steps; or a macro. */
static bool cron_field_ok(const char *f, int lo, int hi)
{
    const char *p = f;
    while (*p) {
        size_t n = strcspn(p, ",");
        char part[64];
        if (n == 0 || n >= sizeof(part))
            return false;
        memcpy(part, p, n);
        part[n] = '\0';
        char *step = strchr(part, '/');
        if (step) {
            *step++ = '\0';
            char *end;
            long s = strtol(step, &end, 10);
            if (!*step || *end || s <= 0)
                return false;
        }
        if (strcmp(part, "*") != 0 && strcmp(part, "?") != 0) {
            char *dash = strchr(part, '-');
            char *end;
            long a = strtol(part, &end, 10);
            if (end == part || (dash ? end != dash : *end) || a < lo || a > hi) {
                /* names: jan..dec, sun..sat */
                if (!isalpha((unsigned char)part[0]))
                    return false;
            }
            if (dash) {
                long b = strtol(dash + 1, &end, 10);
                if (isdigit((unsigned char)dash[1]) && (*end || b < lo || b > hi || b < a))
                    return false;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

static bool cron_ok(const char *s)
{
    static const char *const macros[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                         "@daily",  "@midnight", "@hourly",  NULL};
    if (s[0] == '@')
        return one_of(s, macros) || strncmp(s, "@every ", 7) == 0;
    if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0)
        return false;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", s);
    static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 7};
    int n = 0;
    char *save = NULL;
    for (char *f = strtok_r(buf, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (n >= 5 || !cron_field_ok(f, lo[n], hi[n]))
            return false;
        n++;
    }
    return n == 5;
}

void validate_cronjob(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *sched = json_object_get(spec, "schedule");
    const char *s = json_string_value(sched);
    if (!s || !*s)
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.schedule");
    else if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0)
        fe_add(fe, FE_INVALID, sched,
               "cannot use TZ or CRON_TZ in schedule, use timeZone field "
               "instead",
               "spec.schedule");
    else if (!cron_ok(s))
        fe_add(fe, FE_INVALID, sched, "unparseable schedule", "spec.schedule");
    static const char *const policies[] = {"Allow", "Forbid", "Replace", NULL};
    check_enum(spec, "concurrencyPolicy", policies, false, fe, "spec.concurrencyPolicy");
    check_nonneg(spec, "successfulJobsHistoryLimit", fe, "spec.successfulJobsHistoryLimit");
    check_nonneg(spec, "failedJobsHistoryLimit", fe, "spec.failedJobsHistoryLimit");
    json_t *js = object_get(spec, "jobTemplate.spec");
    if (!js)
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.jobTemplate.spec");
    else
        validate_job_spec(js, NULL, fe, "spec.jobTemplate.spec", false);
}

/* ---------------------------------------------------------------- the other groups */

void defaults_hpa(struct api_req *c, json_t *obj, json_t *old)
{
    set_default(child(obj, "spec"), "minReplicas", json_integer(1));
}

void validate_hpa(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    if (!object_str(spec, "scaleTargetRef.kind"))
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.scaleTargetRef.kind");
    if (!object_str(spec, "scaleTargetRef.name"))
        fe_add(fe, FE_REQUIRED, NULL, NULL, "spec.scaleTargetRef.name");
    json_t *max = json_object_get(spec, "maxReplicas");
    json_t *min = json_object_get(spec, "minReplicas");
    if (!json_is_integer(max) || json_integer_value(max) < 1)
        fe_add(fe, FE_INVALID, max ? max : json_null(), "must be greater than or equal to 1",
               "spec.maxReplicas");
    else if (json_is_integer(min) && json_integer_value(min) > json_integer_value(max))
        fe_add(fe, FE_INVALID, max, "must be greater than or equal to `minReplicas`",
               "spec.maxReplicas");
    if (json_is_integer(min) && json_integer_value(min) < 1)
        fe_add(fe, FE_INVALID, min, "must be greater than or equal to 1", "spec.minReplicas");
}

void validate_endpointslice(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    static const char *const types[] = {"IPv4", "IPv6", "FQDN", NULL};
    check_enum(obj, "addressType", types, true, fe, "addressType");
    immutable(obj, old, "addressType", fe, "addressType");
}

void validate_ingress(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    size_t i, k;
    json_t *r, *p;
    if (!object_get(spec, "defaultBackend") && json_array_size(json_object_get(spec, "rules")) == 0)
        fe_add(fe, FE_INVALID, spec ? spec : json_null(),
               "either `defaultBackend` or `rules` must be specified", "spec");
    json_array_foreach(json_object_get(spec, "rules"), i, r)
    {
        json_array_foreach(object_get(r, "http.paths"), k, p)
        {
            static const char *const types[] = {"Exact", "Prefix", "ImplementationSpecific", NULL};
            _cleanup_free_ char *tp = xasprintf("spec.rules[%zu].http.paths[%zu].pathType", i, k);
            if (!json_object_get(p, "pathType"))
                fe_add(fe, FE_REQUIRED, NULL, "pathType must be specified", "%s", tp);
            else
                check_enum(p, "pathType", types, false, fe, tp);
            json_t *b = json_object_get(p, "backend");
            if (!object_get(b, "service") && !object_get(b, "resource"))
                fe_add(fe, FE_INVALID, b ? b : json_null(),
                       "one backend (service or resource) must be specified",
                       "spec.rules[%zu].http.paths[%zu].backend", i, k);
            else if (object_get(b, "service") && !object_str(b, "service.name"))
                fe_add(fe, FE_REQUIRED, NULL, NULL,
                       "spec.rules[%zu].http.paths[%zu].backend.service.name", i, k);
        }
    }
}

void defaults_networkpolicy(struct api_req *c, json_t *obj, json_t *old)
{
    json_t *spec = child(obj, "spec");
    if (!json_object_get(spec, "policyTypes")) {
        json_t *types = json_pack("[s]", "Ingress");
        if (json_object_get(spec, "egress"))
            json_array_append_new(types, json_string("Egress"));
        json_object_set_new(spec, "policyTypes", types);
    }
}

void validate_networkpolicy(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    validate_label_selector(json_object_get(spec, "podSelector"), fe, "spec.podSelector");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(spec, "policyTypes"), i, t)
    {
        static const char *const types[] = {"Ingress", "Egress", NULL};
        if (!json_is_string(t) || !one_of(json_string_value(t), types))
            fe_add(fe, FE_NOT_SUPPORTED, t, "supported values: \"Ingress\", \"Egress\"",
                   "spec.policyTypes[%zu]", i);
    }
}

void validate_pdb(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    json_t *spec = json_object_get(obj, "spec");
    if (json_object_get(spec, "minAvailable") && json_object_get(spec, "maxUnavailable"))
        fe_add(fe, FE_INVALID, spec, "minAvailable and maxUnavailable cannot be both set", "spec");
    validate_label_selector(json_object_get(spec, "selector"), fe, "spec.selector");
}

void validate_role(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    bool namespaced = object_str(obj, "metadata.namespace") != NULL;
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(obj, "rules"), i, rule)
    {
        if (json_array_size(json_object_get(rule, "verbs")) == 0)
            fe_add(fe, FE_REQUIRED, NULL, "verbs must contain at least one value",
                   "rules[%zu].verbs", i);
        json_t *urls = json_object_get(rule, "nonResourceURLs");
        if (json_array_size(urls) > 0) {
            if (namespaced)
                fe_add(fe, FE_INVALID, urls, "namespaced rules cannot apply to non-resource URLs",
                       "rules[%zu].nonResourceURLs", i);
            if (json_array_size(json_object_get(rule, "apiGroups")) ||
                json_array_size(json_object_get(rule, "resources")))
                fe_add(fe, FE_INVALID, urls,
                       "rules cannot apply to both regular resources and non-resource URLs",
                       "rules[%zu].nonResourceURLs", i);
            continue;
        }
        if (json_array_size(json_object_get(rule, "apiGroups")) == 0)
            fe_add(fe, FE_REQUIRED, NULL, "resource rules must supply at least one api group",
                   "rules[%zu].apiGroups", i);
        if (json_array_size(json_object_get(rule, "resources")) == 0)
            fe_add(fe, FE_REQUIRED, NULL, "resource rules must supply at least one resource",
                   "rules[%zu].resources", i);
    }
}

void validate_rolebinding(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    bool namespaced = object_str(obj, "metadata.namespace") != NULL;
    json_t *ref = json_object_get(obj, "roleRef");
    const char *kind = object_str(obj, "roleRef.kind");
    if (!ref) {
        fe_add(fe, FE_REQUIRED, NULL, NULL, "roleRef");
    } else {
        static const char *const ns_kinds[] = {"Role", "ClusterRole", NULL};
        static const char *const cl_kinds[] = {"ClusterRole", NULL};
        check_enum(ref, "kind", namespaced ? ns_kinds : cl_kinds, true, fe, "roleRef.kind");
        (void)kind;
        const char *group = object_str(obj, "roleRef.apiGroup");
        if (!group || strcmp(group, "rbac.authorization.k8s.io") != 0)
            fe_add(fe, FE_NOT_SUPPORTED, json_object_get(ref, "apiGroup") ?: json_null(),
                   "supported values: \"rbac.authorization.k8s.io\"", "roleRef.apiGroup");
        const char *name = object_str(obj, "roleRef.name");
        if (!name || !*name)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "roleRef.name");
    }
    if (old) {
        json_t *oref = json_object_get(old, "roleRef");
        if (oref && ref && !json_equal(oref, ref))
            fe_add(fe, FE_INVALID, ref, "cannot change roleRef", "roleRef");
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(obj, "subjects"), i, s)
    {
        static const char *const kinds[] = {"ServiceAccount", "User", "Group", NULL};
        _cleanup_free_ char *kp = xasprintf("subjects[%zu].kind", i);
        check_enum(s, "kind", kinds, true, fe, kp);
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || !*name)
            fe_add(fe, FE_REQUIRED, NULL, NULL, "subjects[%zu].name", i);
        const char *k = json_string_value(json_object_get(s, "kind")) ?: "";
        if (strcmp(k, "ServiceAccount") == 0 && !namespaced &&
            !json_string_value(json_object_get(s, "namespace")))
            fe_add(fe, FE_REQUIRED, NULL, NULL, "subjects[%zu].namespace", i);
    }
}

/* ---------------------------------------------------------------- autoscaling/v1 */

/* autoscaling/v1's HorizontalPodAutoscaler is stored as v2: its CPU target
 * is v2's Resource metric on "cpu" with a Utilization target. What v1
 * cannot express (other metrics, behavior, conditions) is not shown
 * through v1. */
void hpa_v1_to_v2(json_t *obj)
{
    json_object_set_new(obj, "apiVersion", json_string("autoscaling/v2"));
    json_t *spec = json_object_get(obj, "spec");
    json_t *cpu = json_object_get(spec, "targetCPUUtilizationPercentage");
    if (json_is_integer(cpu))
        json_object_set_new(spec, "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:O}}}]", "type", "Resource",
                                      "resource", "name", "cpu", "target", "type", "Utilization",
                                      "averageUtilization", cpu));
    if (spec)
        json_object_del(spec, "targetCPUUtilizationPercentage");
    json_t *status = json_object_get(obj, "status");
    json_t *cur = json_object_get(status, "currentCPUUtilizationPercentage");
    if (json_is_integer(cur))
        json_object_set_new(status, "currentMetrics",
                            json_pack("[{s:s, s:{s:s, s:{s:O}}}]", "type", "Resource", "resource",
                                      "name", "cpu", "current", "averageUtilization", cur));
    if (status)
        json_object_del(status, "currentCPUUtilizationPercentage");
}

static json_t *cpu_utilization(json_t *metrics, const char *which)
{
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m)
    {
        if (strcmp(object_str(m, "type") ?: "", "Resource") == 0 &&
            strcmp(object_str(m, "resource.name") ?: "", "cpu") == 0) {
            json_t *u = object_get(json_object_get(json_object_get(m, "resource"), which),
                                   "averageUtilization");
            if (json_is_integer(u))
                return u;
        }
    }
    return NULL;
}

void hpa_v2_to_v1(json_t *obj)
{
    json_object_set_new(obj, "apiVersion", json_string("autoscaling/v1"));
    json_t *spec = json_object_get(obj, "spec");
    json_t *cpu = cpu_utilization(json_object_get(spec, "metrics"), "target");
    if (cpu)
        json_object_set(spec, "targetCPUUtilizationPercentage", cpu);
    if (spec) {
        json_object_del(spec, "metrics");
        json_object_del(spec, "behavior");
    }
    json_t *status = json_object_get(obj, "status");
    json_t *cur = cpu_utilization(json_object_get(status, "currentMetrics"), "current");
    if (cur)
        json_object_set(status, "currentCPUUtilizationPercentage", cur);
    if (status) {
        json_object_del(status, "currentMetrics");
        json_object_del(status, "conditions");
    }
}

void defaults_hpa_v1(struct api_req *c, json_t *obj, json_t *old)
{
    set_default(child(obj, "spec"), "minReplicas", json_integer(1));
}

void validate_hpa_v1(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe)
{
    validate_hpa(c, obj, old, fe);
    json_t *cpu = object_get(obj, "spec.targetCPUUtilizationPercentage");
    if (json_is_integer(cpu) && json_integer_value(cpu) < 1)
        fe_add(fe, FE_INVALID, cpu, "must be greater than or equal to 1",
               "spec.targetCPUUtilizationPercentage");
}
