/*
 * dockerapi — the Docker Engine API routes: turns HTTP requests (http.h)
 * into calls on the image store (image.h) and, as it grows, the container
 * layer (cri.h), and their results into Docker's JSON shapes and status
 * codes, so the docker CLI and SDKs work against the wharf daemon.
 *
 * Owns: request/response shapes of the API (swagger in shared/reference),
 * the event bus behind GET /events (the last events in memory), the
 * container monitor: "die" (after "oom") for every exit and
 * HostConfig.RestartPolicy, with what restarts need to survive a daemon
 * restart (RestartCount, a stop by the user) under ROOT/monitor/; health
 * checks and their state under ROOT/health/.
 * Must not: know how images, containers or volumes are stored.
 *
 * So far: /_ping, /version, /info, /images/json, /images/load,
 * /images/{name}/json, /images/{name}/history, /images/{name}/tag,
 * DELETE /images/{name}, /images/prune, /images/get; POST /images/create
 * (import, and pull over the registry client), /images/{name}/push and
 * /auth; /containers/create, /containers/json (with filters),
 * /containers/{id}/json|start|stop|kill|wait|logs,
 * /containers/{id}/restart|rename|pause|unpause|top|stats|export|changes,
 * /containers/{id}/attach|resize|exec, /exec/{id}/start|json|resize,
 * /containers/{id}/update, HEAD|GET|PUT /containers/{id}/archive,
 * /containers/prune, DELETE /containers/{id}, /events; /system/df, the
 * (empty) /build/prune that docker system prune calls, /networks (list,
 * inspect, create, remove, connect, disconnect, prune) and /volumes (list,
 * create, inspect, remove, prune) over the local volume driver (volume.h).
 * A Docker container is a CRI sandbox of one; its Docker-only settings
 * (image, name, original Config and HostConfig, mount points) ride in the
 * container's annotations.
 */
#ifndef WHARF_DOCKERAPI_H
#define WHARF_DOCKERAPI_H

#include "base.h"
#include "http.h"
#include "image.h"

struct cri;
struct network_mgr;
struct volume_store;
struct dockerapi_events;  /* events.c */
struct dockerapi_monitor; /* monitor.c */
struct dockerapi_health;  /* health.c */

#define DOCKERAPI_VERSION "1.47"     /* the newest API version served */
#define DOCKERAPI_MIN_VERSION "1.24" /* the oldest */

struct dockerapi {
    image_store *images; /* borrowed */
    struct cri *cri;     /* borrowed: the container layer */
    struct network_mgr *net; /* borrowed: networks; NULL: containers get an empty netns */
    struct volume_store *volumes; /* borrowed: the local volume driver; NULL: no volumes */
    const char *init_path; /* wharf-init, for HostConfig.Init */
    const char *root;    /* the daemon's data root, for info */
    const char *tmp_dir; /* where uploads are spooled */
    /* Private, set up by dockerapi_register and freed by dockerapi_close. */
    struct dockerapi_events *events;
    struct dockerapi_monitor *monitor;
    struct dockerapi_health *health;
    /* the wharf-registry helper that pulls and pushes (NULL: from PATH) */
    const char *registry_helper;
    /* daemon.json's insecure-registries and registry-mirrors (borrowed) */
    const char *const *insecure_registries;
    size_t n_insecure_registries;
    const char *const *registry_mirrors;
    size_t n_registry_mirrors;
};

/* Adds every route to router; api must outlive the router. */
int dockerapi_register(struct dockerapi *api, http_router *router, wharf_error *err);
/* Starts the container monitor thread (after dockerapi_register, once the
 * container layer has re-adopted its containers with cri_reconcile): reports
 * the exits that happened while the daemon was down, starts the containers
 * whose restart policy says so, then watches every exit. */
int dockerapi_start_monitor(struct dockerapi *api, wharf_error *err);
/* Stops the monitor and the event streams and frees them; call after the
 * HTTP server has stopped. */
void dockerapi_close(struct dockerapi *api);

/* The headers every response carries (Api-Version, Ostype, Server, ...),
 * NULL-terminated name/value pairs for http_server_config.headers. */
const char *const *dockerapi_default_headers(void);

#endif
