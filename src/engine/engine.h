/*
 * engine — the wharf daemon: reads its settings (flags over
 * /etc/wharf/daemon.json, Docker's key names), opens the data root and the
 * stores in it, serves the Docker Engine API (dockerapi.h over http.h) on
 * its sockets (or on those systemd's socket activation passes, fd://) until
 * SIGTERM or SIGINT, tells systemd when it is ready and stopping
 * ($NOTIFY_SOCKET), and shuts down cleanly. Run by wharfd (src/cli).
 *
 * Must not: implement API routes (dockerapi) or storage (image, cri).
 */
#ifndef WHARF_ENGINE_H
#define WHARF_ENGINE_H

#include "base.h"

#define ENGINE_DEFAULT_ROOT "/var/lib/wharf"
#define ENGINE_DEFAULT_SOCKET "/run/wharf/wharf.sock"
#define ENGINE_DEFAULT_CONFIG "/etc/wharf/daemon.json"
#define ENGINE_MAX_HOSTS 8
#define ENGINE_MAX_REGISTRIES 32

struct engine_config {
    const char *config_file;              /* NULL: ENGINE_DEFAULT_CONFIG if it exists */
    const char *root;                     /* data-root */
    const char *hosts[ENGINE_MAX_HOSTS];  /* unix:///path, tcp://host:port, fd://[N] */
    size_t n_hosts;
    bool debug;
    /* --insecure-registry / "insecure-registries": host[:port] or CIDR */
    const char *insecure_registries[ENGINE_MAX_REGISTRIES];
    size_t n_insecure_registries;
    /* --registry-mirror / "registry-mirrors": http(s)://host[:port] */
    const char *registry_mirrors[ENGINE_MAX_REGISTRIES];
    size_t n_registry_mirrors;
};

/* Fills unset fields from the configuration file (a missing default file is
 * fine; a bad one is an error naming the key), then defaults; registries
 * and mirrors from the file are added to those of the flags. The strings
 * point into *doc, which the caller releases with json_decref. */
int engine_config_resolve(struct engine_config *cfg, json_t **doc, wharf_error *err);

/* Serves until SIGTERM/SIGINT; returns 0 after a clean shutdown. */
int engine_daemon_run(const struct engine_config *cfg, wharf_error *err);

#endif
