/*
 * RBAC authorization, evaluated on every request from the stored roles and
 * bindings: a request is allowed when a ClusterRoleBinding, or a
 * RoleBinding in the request's namespace, binds the user (by name, by one
 * of its groups, or as a ServiceAccount) to a role with a rule covering the
 * verb, API group, resource (with subresource) and name — or, for
 * non-resource URLs, the path. Members of system:masters are always allowed
 * (kube-apiserver's privileged group), without a store read.
 *
 * The default roles are created at start when missing: cluster-admin bound
 * to system:masters, system:discovery, system:basic-user (access reviews)
 * and system:public-info-viewer bound to every authenticated user, and the
 * user-facing admin, edit and view roles.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static bool str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool subject_matches(json_t *subj, const struct api_user *u, const char *binding_ns)
{
    const char *kind = json_string_value(json_object_get(subj, "kind"));
    const char *name = json_string_value(json_object_get(subj, "name"));
    if (!kind || !name)
        return false;
    if (strcmp(kind, "User") == 0)
        return strcmp(name, u->name) == 0;
    if (strcmp(kind, "Group") == 0)
        return api_user_in_group(u, name);
    if (strcmp(kind, "ServiceAccount") == 0) {
        const char *ns = json_string_value(json_object_get(subj, "namespace"));
        if (!ns || !*ns)
            ns = binding_ns;
        if (!ns)
            return false;
        _cleanup_free_ char *sa = xasprintf("system:serviceaccount:%s:%s", ns, name);
        return strcmp(sa, u->name) == 0;
    }
    return false;
}

static bool rule_allows(json_t *rule, const struct authz_attrs *a)
{
    json_t *verbs = json_object_get(rule, "verbs");
    if (!str_in(verbs, a->verb) && !str_in(verbs, "*"))
        return false;
    if (!a->resource) {
        json_t *urls = json_object_get(rule, "nonResourceURLs");
        size_t i;
        json_t *v;
        json_array_foreach(urls, i, v)
        {
            const char *u = json_string_value(v);
            if (!u)
                continue;
            size_t n = strlen(u);
            if (strcmp(u, "*") == 0 || strcmp(u, a->path) == 0)
                return true;
            if (n > 0 && u[n - 1] == '*' && strncmp(u, a->path, n - 1) == 0)
                return true;
        }
        return false;
    }
    json_t *groups = json_object_get(rule, "apiGroups");
    if (!str_in(groups, a->group) && !str_in(groups, "*"))
        return false;
    json_t *res = json_object_get(rule, "resources");
    bool ok = str_in(res, "*");
    if (!ok) {
        if (a->subresource) {
            _cleanup_free_ char *combined = xasprintf("%s/%s", a->resource, a->subresource);
            _cleanup_free_ char *any_res = xasprintf("*/%s", a->subresource);
            _cleanup_free_ char *any_sub = xasprintf("%s/*", a->resource);
            ok = str_in(res, combined) || str_in(res, any_res) || str_in(res, any_sub);
        } else {
            ok = str_in(res, a->resource);
        }
    }
    if (!ok)
        return false;
    json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) > 0)
        return a->name && str_in(names, a->name);
    return true;
}

/* The rules of the role a binding refers to (new reference, NULL if none). */
static json_t *role_rules(struct apiserver *as, json_t *binding, const char *binding_ns)
{
    json_t *ref = json_object_get(binding, "roleRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name)
        return NULL;
    const struct api_resource *r;
    _cleanup_free_ char *key = NULL;
    if (strcmp(kind, "ClusterRole") == 0) {
        r = registry_find("rbac.authorization.k8s.io", "v1", "clusterroles");
        key = registry_key(r, NULL, name);
    } else if (strcmp(kind, "Role") == 0 && binding_ns) {
        r = registry_find("rbac.authorization.k8s.io", "v1", "roles");
        key = registry_key(r, binding_ns, name);
    } else {
        return NULL;
    }
    struct kvstore_kv kv = {0};
    wharf_error err = {0};
    if (kvstore_get(as->store, key, &kv, &err) < 0)
        return NULL;
    json_t *role = object_decode(as, r, &kv, &err);
    kvstore_kv_release(&kv);
    if (!role)
        return NULL;
    json_t *rules = json_incref(json_object_get(role, "rules"));
    json_decref(role);
    return rules;
}

/*
 * Calls fn(rules, ud) for the rules of every binding that names u: the
 * cluster's bindings, then the namespace's. Stops when fn returns true.
 * Returns 1 when stopped, 0 when every binding was seen, negative errno.
 */
typedef bool (*rules_fn)(json_t *rules, void *ud);

static int each_binding(struct apiserver *as, const struct api_user *u, const char *ns,
                        const char *plural, rules_fn fn, void *ud, wharf_error *err)
{
    const struct api_resource *r = registry_find("rbac.authorization.k8s.io", "v1", plural);
    _cleanup_free_ char *prefix = registry_prefix(r, ns);
    struct kvstore_list l = {0};
    int rc = kvstore_list(as->store, prefix, 0, 0, NULL, &l, err);
    if (rc < 0)
        return rc;
    int found = 0;
    for (size_t i = 0; i < l.count && !found; i++) {
        json_t *b = object_decode(as, r, &l.items[i], err);
        if (!b)
            continue;
        json_t *subjects = json_object_get(b, "subjects");
        size_t k;
        json_t *s;
        bool match = false;
        json_array_foreach(subjects, k, s)
        {
            if (subject_matches(s, u, ns)) {
                match = true;
                break;
            }
        }
        if (match) {
            json_t *rules = role_rules(as, b, ns);
            if (rules && fn(rules, ud))
                found = 1;
            if (rules)
                json_decref(rules);
        }
        json_decref(b);
    }
    kvstore_list_release(&l);
    return found;
}

static bool rules_allow(json_t *rules, void *ud)
{
    const struct authz_attrs *a = ud;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        if (rule_allows(rule, a))
            return true;
    }
    return false;
}

int rbac_authorize(struct apiserver *as, const struct api_user *u, const struct authz_attrs *a,
                   wharf_error *err)
{
    if (api_user_in_group(u, "system:masters"))
        return 1;
    int rc = each_binding(as, u, NULL, "clusterrolebindings", rules_allow, (void *)a, err);
    if (rc != 0)
        return rc;
    if (a->resource && a->ns && *a->ns)
        return each_binding(as, u, a->ns, "rolebindings", rules_allow, (void *)a, err);
    return 0;
}

struct rules_acc {
    json_t *resource_rules;
    json_t *non_resource_rules;
};

static bool collect_rules(json_t *rules, void *ud)
{
    struct rules_acc *acc = ud;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        if (json_object_get(rule, "nonResourceURLs")) {
            json_array_append_new(acc->non_resource_rules,
                                  json_pack("{s:O, s:O}", "verbs", json_object_get(rule, "verbs"),
                                            "nonResourceURLs",
                                            json_object_get(rule, "nonResourceURLs")));
        } else {
            json_t *rr = json_pack("{s:O}", "verbs", json_object_get(rule, "verbs"));
            static const char *const keys[] = {"apiGroups", "resources", "resourceNames"};
            for (size_t k = 0; k < 3; k++) {
                json_t *v = json_object_get(rule, keys[k]);
                if (v)
                    json_object_set(rr, keys[k], v);
            }
            json_array_append_new(acc->resource_rules, rr);
        }
    }
    return false;
}

json_t *rbac_rules_review(struct apiserver *as, const struct api_user *u, const char *ns,
                          wharf_error *err)
{
    struct rules_acc acc = {json_array(), json_array()};
    int rc = each_binding(as, u, NULL, "clusterrolebindings", collect_rules, &acc, err);
    if (rc >= 0 && ns && *ns)
        rc = each_binding(as, u, ns, "rolebindings", collect_rules, &acc, err);
    if (rc < 0) {
        json_decref(acc.resource_rules);
        json_decref(acc.non_resource_rules);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:b}", "resourceRules", acc.resource_rules, "nonResourceRules",
                     acc.non_resource_rules, "incomplete", 0);
}

char *rbac_denied_message(const struct api_user *u, const struct authz_attrs *a)
{
    if (!a->resource)
        return xasprintf("User \"%s\" cannot %s path \"%s\"", u->name, a->verb, a->path);
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "User \"%s\" cannot %s resource \"%s%s%s\" in API group \"%s\"", u->name,
                a->verb, a->resource, a->subresource ? "/" : "",
                a->subresource ? a->subresource : "", a->group);
    if (a->ns && *a->ns)
        strbuf_addf(&sb, " in the namespace \"%s\"", a->ns);
    else
        strbuf_addstr(&sb, " at the cluster scope");
    return strbuf_detach(&sb);
}

/* ---------------------------------------------------------------- bootstrap */

static const char *const bootstrap_roles[] = {
    "{\"metadata\":{\"name\":\"cluster-admin\"},\"rules\":["
    "{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
    "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]}",

    "{\"metadata\":{\"name\":\"system:discovery\"},\"rules\":[{\"nonResourceURLs\":["
    "\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\",\"/livez\",\"/openapi\","
    "\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",

    "{\"metadata\":{\"name\":\"system:basic-user\"},\"rules\":["
    "{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"selfsubjectaccessreviews\","
    "\"selfsubjectrulesreviews\"],\"verbs\":[\"create\"]},"
    "{\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"selfsubjectreviews\"],"
    "\"verbs\":[\"create\"]}]}",

    "{\"metadata\":{\"name\":\"system:public-info-viewer\"},\"rules\":[{\"nonResourceURLs\":["
    "\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",

    "{\"metadata\":{\"name\":\"view\"},\"rules\":["
    "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\",\"events\",\"limitranges\","
    "\"namespaces\",\"namespaces/status\",\"persistentvolumeclaims\","
    "\"persistentvolumeclaims/status\",\"pods\",\"pods/log\",\"pods/status\",\"podtemplates\","
    "\"resourcequotas\",\"resourcequotas/status\",\"serviceaccounts\",\"services\","
    "\"services/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"apps\"],\"resources\":[\"controllerrevisions\",\"daemonsets\","
    "\"daemonsets/status\",\"deployments\",\"deployments/scale\",\"deployments/status\","
    "\"replicasets\",\"replicasets/scale\",\"replicasets/status\",\"statefulsets\","
    "\"statefulsets/scale\",\"statefulsets/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\","
    "\"horizontalpodautoscalers/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"cronjobs/status\",\"jobs\","
    "\"jobs/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"ingresses/status\","
    "\"networkpolicies\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\","
    "\"poddisruptionbudgets/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],"
    "\"verbs\":[\"get\",\"list\",\"watch\"]}]}",

    "{\"metadata\":{\"name\":\"edit\"},\"rules\":["
    "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\",\"persistentvolumeclaims\","
    "\"pods\",\"pods/attach\",\"pods/exec\",\"pods/portforward\",\"pods/proxy\",\"secrets\","
    "\"serviceaccounts\",\"services\",\"services/proxy\"],\"verbs\":[\"create\",\"delete\","
    "\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"\"],\"resources\":[\"secrets\",\"pods/attach\",\"pods/exec\","
    "\"pods/portforward\",\"pods/proxy\",\"services/proxy\"],\"verbs\":[\"get\",\"list\","
    "\"watch\"]},"
    "{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"deployments\","
    "\"deployments/rollback\",\"deployments/scale\",\"replicasets\",\"replicasets/scale\","
    "\"statefulsets\",\"statefulsets/scale\"],\"verbs\":[\"create\",\"delete\","
    "\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\"],"
    "\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"jobs\"],\"verbs\":[\"create\","
    "\"delete\",\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"networkpolicies\"],"
    "\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\"],\"verbs\":[\"create\","
    "\"delete\",\"deletecollection\",\"patch\",\"update\"]},"
    "{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[\"create\","
    "\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]}]}",

    "{\"metadata\":{\"name\":\"admin\"},\"rules\":["
    "{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"rolebindings\",\"roles\"],"
    "\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\","
    "\"watch\"]},"
    "{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"localsubjectaccessreviews\"],"
    "\"verbs\":[\"create\"]}]}",
};

static const char *const bootstrap_bindings[] = {
    "{\"metadata\":{\"name\":\"cluster-admin\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:masters\"}]}",

    "{\"metadata\":{\"name\":\"system:discovery\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"system:discovery\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:authenticated\"}]}",

    "{\"metadata\":{\"name\":\"system:basic-user\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"system:basic-user\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:authenticated\"}]}",

    "{\"metadata\":{\"name\":\"system:public-info-viewer\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
    "\"system:public-info-viewer\"},\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\","
    "\"kind\":\"Group\",\"name\":\"system:authenticated\"},{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":\"system:unauthenticated\"}]}",
};

int rbac_bootstrap(struct apiserver *as, wharf_error *err)
{
    const struct api_resource *roles =
        registry_find("rbac.authorization.k8s.io", "v1", "clusterroles");
    const struct api_resource *bindings =
        registry_find("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
    for (size_t pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? bootstrap_bindings : bootstrap_roles;
        size_t n = pass ? sizeof(bootstrap_bindings) / sizeof(bootstrap_bindings[0])
                        : sizeof(bootstrap_roles) / sizeof(bootstrap_roles[0]);
        for (size_t i = 0; i < n; i++) {
            json_error_t jerr;
            json_t *obj = json_loads(list[i], 0, &jerr);
            if (!obj)
                return wharf_error_set(err, -EINVAL, "bootstrap RBAC object %zu: %s", i, jerr.text);
            json_t *meta = object_meta(obj);
            json_object_set_new(meta, "labels",
                                json_pack("{s:s}", "kubernetes.io/bootstrapping", "rbac-defaults"));
            json_object_set_new(
                meta, "annotations",
                json_pack("{s:s}", "rbac.authorization.kubernetes.io/autoupdate", "true"));
            int rc = rest_create_internal(as, pass ? bindings : roles, obj, err);
            json_decref(obj);
            if (rc == -EEXIST) {
                wharf_error_clear(err);
                continue;
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
