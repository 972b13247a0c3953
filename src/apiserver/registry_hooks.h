/*
 * Internal to src/apiserver: the per-type pieces the registry table points
 * at — Table columns and rows (table.c), defaulting and validation
 * (types.c).
 */
#ifndef WHARF_APISERVER_REGISTRY_HOOKS_H
#define WHARF_APISERVER_REGISTRY_HOOKS_H

#include "internal.h"

#define TABLE_HOOKS(x)                                                                             \
    extern const struct api_column cols_##x[];                                                     \
    void row_##x(json_t *obj, json_t *cells, time_t now);

TABLE_HOOKS(configmaps)
TABLE_HOOKS(endpoints)
TABLE_HOOKS(events)
TABLE_HOOKS(namespaces)
TABLE_HOOKS(nodes)
TABLE_HOOKS(pvcs)
TABLE_HOOKS(pvs)
TABLE_HOOKS(pods)
TABLE_HOOKS(podtemplates)
TABLE_HOOKS(resourcequotas)
TABLE_HOOKS(secrets)
TABLE_HOOKS(serviceaccounts)
TABLE_HOOKS(services)
TABLE_HOOKS(controllerrevisions)
TABLE_HOOKS(daemonsets)
TABLE_HOOKS(deployments)
TABLE_HOOKS(replicasets)
TABLE_HOOKS(statefulsets)
TABLE_HOOKS(hpas)
TABLE_HOOKS(cronjobs)
TABLE_HOOKS(jobs)
TABLE_HOOKS(leases)
TABLE_HOOKS(endpointslices)
TABLE_HOOKS(ingresses)
TABLE_HOOKS(networkpolicies)
TABLE_HOOKS(pdbs)
TABLE_HOOKS(rolebindings)
TABLE_HOOKS(roles)

#define DEFAULTS_HOOK(x) void defaults_##x(struct api_req *c, json_t *obj, json_t *old);
#define VALIDATE_HOOK(x)                                                                           \
    void validate_##x(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe);

DEFAULTS_HOOK(event)
DEFAULTS_HOOK(namespace)
DEFAULTS_HOOK(pvc)
DEFAULTS_HOOK(pv)
DEFAULTS_HOOK(pod)
DEFAULTS_HOOK(podtemplate)
DEFAULTS_HOOK(secret)
DEFAULTS_HOOK(service)
DEFAULTS_HOOK(daemonset)
DEFAULTS_HOOK(deployment)
DEFAULTS_HOOK(replicaset)
DEFAULTS_HOOK(statefulset)
DEFAULTS_HOOK(hpa)
DEFAULTS_HOOK(cronjob)
DEFAULTS_HOOK(job)
DEFAULTS_HOOK(networkpolicy)

VALIDATE_HOOK(configmap)
VALIDATE_HOOK(event)
VALIDATE_HOOK(pvc)
VALIDATE_HOOK(pod)
VALIDATE_HOOK(podtemplate)
VALIDATE_HOOK(secret)
VALIDATE_HOOK(service)
VALIDATE_HOOK(controllerrevision)
VALIDATE_HOOK(daemonset)
VALIDATE_HOOK(deployment)
VALIDATE_HOOK(replicaset)
VALIDATE_HOOK(statefulset)
VALIDATE_HOOK(hpa)
VALIDATE_HOOK(cronjob)
VALIDATE_HOOK(job)
VALIDATE_HOOK(endpointslice)
VALIDATE_HOOK(ingress)
VALIDATE_HOOK(networkpolicy)
VALIDATE_HOOK(pdb)
VALIDATE_HOOK(rolebinding)
VALIDATE_HOOK(role)

void hpa_v1_to_v2(json_t *obj);
void hpa_v2_to_v1(json_t *obj);
void defaults_hpa_v1(struct api_req *c, json_t *obj, json_t *old);
void validate_hpa_v1(struct api_req *c, json_t *obj, json_t *old, struct field_errors *fe);

#endif
