/*
 * apiserver — the Kubernetes API server of the cluster control plane
 * (`wharf server`): Kubernetes REST semantics over HTTPS, objects kept in
 * kvstore under the keys Kubernetes uses in etcd.
 *
 * Owns: the data directory's PKI (a cluster CA, the serving certificate,
 * the admin client certificate and its kubeconfig), the secrets encryption
 * key, discovery (legacy and aggregated) and the OpenAPI documents, the
 * served resource types (their schemas, defaulting, validation, strategic
 * merge keys and Table columns), the generic REST verbs (create, get,
 * list, watch, update, patch, delete, deletecollection) and subresources
 * (status, scale, binding; log/exec answered "no node agent yet"),
 * authentication (client certificates signed by the cluster CA, static
 * bearer tokens; anonymous requests get 401), RBAC authorization on every
 * request, Service ClusterIP and NodePort allocation, and the namespace
 * lifecycle (a deleted namespace's contents are removed, then it is), and
 * the periodic compaction of the store's history.
 *
 * Must not: run containers or schedule pods (no kubelet, scheduler or
 * controllers here: those are later modules that talk to this one over the
 * API), parse HTTP (http), or know how the store keeps revisions (kvstore).
 *
 * Threads: requests run on the HTTP server's connection threads; each watch
 * has a producer thread of its own; one maintenance thread finalizes deleted
 * namespaces and compacts.
 */
#ifndef WHARF_APISERVER_H
#define WHARF_APISERVER_H

#include "base.h"

#include <stdbool.h>

#define APISERVER_DEFAULT_DATA_DIR "/var/lib/wharf/server"
#define APISERVER_DEFAULT_BIND "127.0.0.1"
#define APISERVER_DEFAULT_PORT 6443
/* The Service network: ClusterIPs come from here; .1 is the "kubernetes"
 * Service in "default". */
#define APISERVER_SERVICE_CIDR "10.43.0.0/16"
#define APISERVER_NODEPORT_MIN 30000
#define APISERVER_NODEPORT_MAX 32767
/* The Kubernetes version served (/version); kubectl 1.32 talks to it. */
#define APISERVER_KUBE_VERSION "v1.32.0"

struct apiserver;

struct apiserver_config {
    const char *data_dir;           /* NULL: APISERVER_DEFAULT_DATA_DIR */
    const char *bind_address;       /* NULL: APISERVER_DEFAULT_BIND */
    int port;                       /* 0 picks a free port (tests); default 6443 is the CLI's */
    const char *datastore_endpoint; /* NULL: sqlite:///DATA_DIR/db/state.db; http://... etcd */
    /* A bearer token that authenticates as "admin" in system:masters. */
    const char *token;
    /* Static token file, Kubernetes' format: token,user,uid,"group1,group2". */
    const char *token_file;
    /* Also write the admin kubeconfig here (it is always written to
     * DATA_DIR/admin.kubeconfig). */
    const char *write_kubeconfig;
    /* Seconds between compactions of the store's history (kube-apiserver's
     * --etcd-compaction-interval): each one forgets what is older than the
     * revision the previous one saw. 0: APISERVER_DEFAULT_COMPACTION_S;
     * negative: never. */
    int compaction_interval_s;
};
#define APISERVER_DEFAULT_COMPACTION_S 300

/*
 * Prepares the data directory (certificates, keys, the store), binds the
 * listener, creates the built-in objects (namespaces default, kube-system,
 * kube-public, kube-node-lease; the default RBAC roles and bindings; the
 * "kubernetes" Service) and writes the kubeconfig. Serves nothing until
 * apiserver_start. Returns NULL with err filled.
 */
struct apiserver *apiserver_new(const struct apiserver_config *cfg, wharf_error *err);
int apiserver_start(struct apiserver *as, wharf_error *err);
/* The bound port. */
int apiserver_port(const struct apiserver *as);
/* The path of the admin kubeconfig in the data directory. */
const char *apiserver_kubeconfig_path(const struct apiserver *as);
/* Stops serving (open watches end), waits for its threads and frees.
 * NULL is a no-op. */
void apiserver_free(struct apiserver *as);

#endif
