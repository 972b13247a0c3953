/*
 * The resource registry: one row per served type — its group, version,
 * kind, plural and singular names, scope, short names and categories
 * (kubectl's "po", "all"), subresources, machinery flags, Table columns,
 * field selectors, defaulting and validation. Everything else (discovery,
 * OpenAPI, the REST verbs, RBAC's resource names) reads this table.
 */
#include "internal.h"
#include "registry_hooks.h"

#include <errno.h>
#include <string.h>

static const char *const pod_fields[] = {
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
    NULL,
};
static const char *const event_fields[] = {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    NULL,
};
static const char *const secret_fields[] = {"type", NULL};
static const char *const namespace_fields[] = {"status.phase", NULL};
static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const char *const replicaset_fields[] = {"status.replicas", NULL};
static const char *const job_fields[] = {"status.successful", NULL};
static const char *const service_fields[] = {"spec.clusterIP", "spec.type", NULL};

#define POD_SUBS                                                                                   \
    (SUB_STATUS | SUB_BINDING | SUB_LOG | SUB_EXEC | SUB_ATTACH | SUB_PORTFORWARD | SUB_EPHEMERAL)

static const struct api_resource resources[] = {
    /* core/v1 */
    {"", "v1", "ConfigMap", "configmaps", "configmap", true, "cm", NULL, 0, 0, cols_configmaps,
     row_configmaps, NULL, NULL, validate_configmap,
     "ConfigMap holds configuration data for pods to consume."},
    {"", "v1", "Endpoints", "endpoints", "endpoints", true, "ep", NULL, 0, RES_CREATE_ON_UPDATE,
     cols_endpoints, row_endpoints, NULL, NULL, NULL,
     "Endpoints is a collection of endpoints that implement the actual service."},
    {"", "v1", "Event", "events", "event", true, "ev", NULL, 0, RES_CREATE_ON_UPDATE, cols_events,
     row_events, event_fields, defaults_event, validate_event,
     "Event is a report of an event somewhere in the cluster."},
    {"", "v1", "LimitRange", "limitranges", "limitrange", true, "limits", NULL, 0,
     RES_CREATE_ON_UPDATE, NULL, NULL, NULL, NULL, NULL,
     "LimitRange sets resource usage limits for each kind of resource in a Namespace."},
    {"", "v1", "Namespace", "namespaces", "namespace", false, "ns", NULL, SUB_STATUS | SUB_FINALIZE,
     RES_NAME_LABEL | RES_RETURN_DELETED, cols_namespaces, row_namespaces, namespace_fields,
     defaults_namespace, NULL,
     "Namespace provides a scope for Names. Use of multiple namespaces is optional."},
    {"", "v1", "Node", "nodes", "node", false, "no", NULL, SUB_STATUS, 0, cols_nodes, row_nodes,
     node_fields, NULL, NULL,
     "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache "
     "(i.e. in etcd)."},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true,
     "pvc", NULL, SUB_STATUS, 0, cols_pvcs, row_pvcs, NULL, defaults_pvc, validate_pvc,
     "PersistentVolumeClaim is a user's request for and claim to a persistent volume"},
    {"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false, "pv", NULL,
     SUB_STATUS, 0, cols_pvs, row_pvs, NULL, defaults_pv, NULL,
     "PersistentVolume (PV) is a storage resource provisioned by an administrator."},
    {"", "v1", "Pod", "pods", "pod", true, "po", "all", POD_SUBS, RES_RETURN_DELETED, cols_pods,
     row_pods, pod_fields, defaults_pod, validate_pod,
     "Pod is a collection of containers that can run on a host. This resource is created by "
     "clients and scheduled onto hosts."},
    {"", "v1", "PodTemplate", "podtemplates", "podtemplate", true, NULL, NULL, 0, 0,
     cols_podtemplates, row_podtemplates, NULL, defaults_podtemplate, validate_podtemplate,
     "PodTemplate describes a template for creating copies of a predefined pod."},
    {"", "v1", "ResourceQuota", "resourcequotas", "resourcequota", true, "quota", NULL, SUB_STATUS,
     0, cols_resourcequotas, row_resourcequotas, NULL, NULL, NULL,
     "ResourceQuota sets aggregate quota restrictions enforced per namespace"},
    {"", "v1", "Secret", "secrets", "secret", true, NULL, NULL, 0, RES_ENCRYPTED, cols_secrets,
     row_secrets, secret_fields, defaults_secret, validate_secret,
     "Secret holds secret data of a certain type. The total bytes of the values in the Data "
     "field must be less than MaxSecretSize bytes."},
    {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, "sa", NULL, 0, 0,
     cols_serviceaccounts, row_serviceaccounts, NULL, NULL, NULL,
     "ServiceAccount binds together: a name, understood by users, and perhaps by peripheral "
     "systems, for an identity; a principal that can be authenticated and authorized; a set of "
     "secrets"},
    {"", "v1", "Service", "services", "service", true, "svc", "all", SUB_STATUS,
     RES_NAME_1035 | RES_RETURN_DELETED, cols_services, row_services, service_fields,
     defaults_service, validate_service,
     "Service is a named abstraction of software service (for example, mysql) consisting of "
     "local port (for example 3306) that the proxy listens on, and the selector that determines "
     "which pods will answer requests sent through the proxy."},
    /* apps/v1 */
    {"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true, NULL,
     NULL, 0, 0, cols_controllerrevisions, row_controllerrevisions, NULL, NULL,
     validate_controllerrevision,
     "ControllerRevision implements an immutable snapshot of state data."},
    {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, "ds", "all", SUB_STATUS,
     RES_GENERATION, cols_daemonsets, row_daemonsets, NULL, defaults_daemonset, validate_daemonset,
     "DaemonSet represents the configuration of a daemon set."},
    {"apps", "v1", "Deployment", "deployments", "deployment", true, "deploy", "all",
     SUB_STATUS | SUB_SCALE, RES_GENERATION, cols_deployments, row_deployments, NULL,
     defaults_deployment, validate_deployment,
     "Deployment enables declarative updates for Pods and ReplicaSets."},
    {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, "rs", "all",
     SUB_STATUS | SUB_SCALE, RES_GENERATION, cols_replicasets, row_replicasets, replicaset_fields,
     defaults_replicaset, validate_replicaset,
     "ReplicaSet ensures that a specified number of pod replicas are running at any given time."},
    {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, "sts", "all",
     SUB_STATUS | SUB_SCALE, RES_GENERATION, cols_statefulsets, row_statefulsets, NULL,
     defaults_statefulset, validate_statefulset,
     "StatefulSet represents a set of pods with consistent identities."},
    /* authentication.k8s.io/v1 */
    {"authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview",
     false, NULL, NULL, 0, RES_REVIEW | RES_NO_WATCH, NULL, NULL, NULL, NULL, NULL,
     "SelfSubjectReview contains the user information that the kube-apiserver has about the "
     "user making this request."},
    /* authorization.k8s.io/v1 */
    {"authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
     "localsubjectaccessreview", true, NULL, NULL, 0, RES_REVIEW | RES_NO_WATCH, NULL, NULL, NULL,
     NULL, NULL,
     "LocalSubjectAccessReview checks whether or not a user or group can perform an action in a "
     "given namespace."},
    {"authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
     "selfsubjectaccessreview", false, NULL, NULL, 0, RES_REVIEW | RES_NO_WATCH, NULL, NULL, NULL,
     NULL, NULL,
     "SelfSubjectAccessReview checks whether or the current user can perform an action."},
    {"authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
     "selfsubjectrulesreview", false, NULL, NULL, 0, RES_REVIEW | RES_NO_WATCH, NULL, NULL, NULL,
     NULL, NULL,
     "SelfSubjectRulesReview enumerates the set of actions the current user can perform within "
     "a namespace."},
    {"authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
     "subjectaccessreview", false, NULL, NULL, 0, RES_REVIEW | RES_NO_WATCH, NULL, NULL, NULL, NULL,
     NULL, "SubjectAccessReview checks whether or not a user or group can perform an action."},
    /* autoscaling/v2 */
    {"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
     "horizontalpodautoscaler", true, "hpa", "all", SUB_STATUS, RES_GENERATION, cols_hpas, row_hpas,
     NULL, defaults_hpa, validate_hpa,
     "HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which "
     "automatically manages the replica count of any resource implementing the scale "
     "subresource based on the metrics specified."},
    /* autoscaling/v1: the same objects, kept as v2 */
    {"autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
     "horizontalpodautoscaler", true, "hpa", "all", SUB_STATUS, RES_GENERATION, cols_hpas, row_hpas,
     NULL, defaults_hpa_v1, validate_hpa_v1, "configuration of a horizontal pod autoscaler.",
     hpa_v1_to_v2, hpa_v2_to_v1},
    /* batch/v1 */
    {"batch", "v1", "CronJob", "cronjobs", "cronjob", true, "cj", "all", SUB_STATUS, RES_GENERATION,
     cols_cronjobs, row_cronjobs, NULL, defaults_cronjob, validate_cronjob,
     "CronJob represents the configuration of a single cron job."},
    {"batch", "v1", "Job", "jobs", "job", true, NULL, "all", SUB_STATUS, RES_GENERATION, cols_jobs,
     row_jobs, job_fields, defaults_job, validate_job,
     "Job represents the configuration of a single job."},
    /* coordination.k8s.io/v1 */
    {"coordination.k8s.io", "v1", "Lease", "leases", "lease", true, NULL, NULL, 0,
     RES_CREATE_ON_UPDATE, cols_leases, row_leases, NULL, NULL, NULL,
     "Lease defines a lease concept."},
    /* discovery.k8s.io/v1 */
    {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, NULL, NULL,
     0, RES_CREATE_ON_UPDATE | RES_GENERATION, cols_endpointslices, row_endpointslices, NULL, NULL,
     validate_endpointslice,
     "EndpointSlice represents a subset of the endpoints that implement a service."},
    /* networking.k8s.io/v1 */
    {"networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", true, "ing", NULL, SUB_STATUS,
     RES_GENERATION, cols_ingresses, row_ingresses, NULL, NULL, validate_ingress,
     "Ingress is a collection of rules that allow inbound connections to reach the endpoints "
     "defined by a backend."},
    {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", true, "netpol",
     NULL, 0, RES_GENERATION, cols_networkpolicies, row_networkpolicies, NULL,
     defaults_networkpolicy, validate_networkpolicy,
     "NetworkPolicy describes what network traffic is allowed for a set of Pods"},
    /* policy/v1 */
    {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true,
     "pdb", NULL, SUB_STATUS, RES_GENERATION, cols_pdbs, row_pdbs, NULL, NULL, validate_pdb,
     "PodDisruptionBudget is an object to define the max disruption that can be caused to a "
     "collection of pods"},
    /* rbac.authorization.k8s.io/v1 */
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
     "clusterrolebinding", false, NULL, NULL, 0, RES_NAME_SEGMENT | RES_CREATE_ON_UPDATE,
     cols_rolebindings, row_rolebindings, NULL, NULL, validate_rolebinding,
     "ClusterRoleBinding references a ClusterRole, but not contain it."},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", false, NULL,
     NULL, 0, RES_NAME_SEGMENT | RES_CREATE_ON_UPDATE, cols_roles, row_roles, NULL, NULL,
     validate_role,
     "ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as "
     "a unit by a RoleBinding or ClusterRoleBinding."},
    {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", true, NULL,
     NULL, 0, RES_NAME_SEGMENT | RES_CREATE_ON_UPDATE, cols_rolebindings, row_rolebindings, NULL,
     NULL, validate_rolebinding, "RoleBinding references a role, but does not contain it."},
    {"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", true, NULL, NULL, 0,
     RES_NAME_SEGMENT | RES_CREATE_ON_UPDATE, cols_roles, row_roles, NULL, NULL, validate_role,
     "Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by "
     "a RoleBinding."},
};

#define N_RESOURCES (sizeof(resources) / sizeof(resources[0]))

static const char *const group_order[] = {
    "",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
};

size_t registry_count(void)
{
    return N_RESOURCES;
}

const struct api_resource *registry_at(size_t i)
{
    return i < N_RESOURCES ? &resources[i] : NULL;
}

const struct api_resource *registry_find(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        const struct api_resource *r = &resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
            strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

const struct api_resource *registry_find_kind(const char *group, const char *kind)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        if (strcmp(resources[i].group, group) == 0 && strcmp(resources[i].kind, kind) == 0)
            return &resources[i];
    }
    return NULL;
}

static char api_versions[N_RESOURCES][64];
static pthread_once_t api_versions_once = PTHREAD_ONCE_INIT;

static void api_versions_init(void)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        if (resources[i].group[0])
            snprintf(api_versions[i], sizeof(api_versions[i]), "%s/%s", resources[i].group,
                     resources[i].version);
        else
            snprintf(api_versions[i], sizeof(api_versions[i]), "%s", resources[i].version);
    }
}

const char *registry_api_version(const struct api_resource *r)
{
    pthread_once(&api_versions_once, api_versions_init);
    return api_versions[r - resources];
}

json_t *registry_verbs(const struct api_resource *r)
{
    if (r->flags & RES_REVIEW)
        return json_pack("[s]", "create");
    return json_pack("[ssssssss]", "create", "delete", "deletecollection", "get", "list", "patch",
                     "update", "watch");
}

char *registry_prefix(const struct api_resource *r, const char *ns)
{
    if (r->namespaced && ns)
        return xasprintf("/registry/%s/%s/", r->plural, ns);
    return xasprintf("/registry/%s/", r->plural);
}

char *registry_key(const struct api_resource *r, const char *ns, const char *name)
{
    if (r->namespaced)
        return xasprintf("/registry/%s/%s/%s", r->plural, ns, name);
    return xasprintf("/registry/%s/%s", r->plural, name);
}

size_t registry_group_versions(const char *group, const char **versions, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < N_RESOURCES && n < max; i++) {
        if (strcmp(resources[i].group, group) != 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen = seen || strcmp(versions[k], resources[i].version) == 0;
        if (!seen)
            versions[n++] = resources[i].version;
    }
    return n;
}

size_t registry_groups(const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(group_order) / sizeof(group_order[0]) && n < max; i++)
        names[n++] = group_order[i];
    return n;
}
