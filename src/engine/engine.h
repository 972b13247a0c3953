/*
 * engine — the wharf daemon: reads its settings (flags over
 * /etc/wharf/daemon.json or $WHARF_DAEMON_CONFIG, Docker's key names),
 * opens the data root and the stores in it, serves the Docker Engine API
 * (dockerapi.h over http.h) on its sockets (or on those systemd's socket
 * activation passes, fd://) until SIGTERM or SIGINT (container networks come
 * from the network module, with daemon.json's bridge, bip,
 * default-address-pools, dns and cni keys), tells systemd when it
 * is ready and stopping ($NOTIFY_SOCKET), and shuts down cleanly. Run by
 * wharfd (src/cli). Its configuration (config.c, no other dependency) is
 * also read by the `wharf` client to find and start the local daemon.
 *
 * Must not: implement API routes (dockerapi) or storage (image, cri,
 * network).
 */
#ifndef WHARF_ENGINE_H
#define WHARF_ENGINE_H

#include "base.h"

#define ENGINE_DEFAULT_ROOT "/var/lib/wharf"
#define ENGINE_DEFAULT_SOCKET "/run/wharf/wharf.sock"
#define ENGINE_DEFAULT_CONFIG "/etc/wharf/daemon.json"
/* Names another daemon.json instead of ENGINE_DEFAULT_CONFIG (as
 * CONTAINERS_CONF does for podman): a private daemon and the `wharf` client
 * that starts it then agree on where it lives. */
#define ENGINE_CONFIG_ENV "WHARF_DAEMON_CONFIG"
#define ENGINE_MAX_HOSTS 8
#define ENGINE_MAX_REGISTRIES 32

struct engine_config {
    const char *config_file;              /* NULL: see engine_config_path */
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
    /* Networking, Docker's keys: bridge ("none": no default network), bip,
     * default-address-pools, dns, dns-search, dns-opts; NULL: defaults. */
    const char *bridge, *bip;
    json_t *address_pools, *dns, *dns_search, *dns_opts;
    /* Where CNI network configurations and plugins are (wharf's keys
     * cni-conf-dir, cni-bin-dir); NULL: /etc/cni/net.d, /usr/lib/cni. */
    const char *cni_conf_dir, *cni_bin_dir;
};

/* The daemon.json in effect: cfg->config_file, else $WHARF_DAEMON_CONFIG,
 * else ENGINE_DEFAULT_CONFIG (the only one allowed to be missing:
 * *explicit_path is false for it). */
const char *engine_config_path(const struct engine_config *cfg, bool *explicit_path);

/* Fills unset fields from the configuration file (a missing default file is
 * fine; a bad one is an error naming the key), then defaults; registries
 * and mirrors from the file are added to those of the flags. The strings
 * point into *doc, which the caller releases with json_decref. */
int engine_config_resolve(struct engine_config *cfg, json_t **doc, wharf_error *err);

/* Serves until SIGTERM/SIGINT; returns 0 after a clean shutdown. */
int engine_daemon_run(const struct engine_config *cfg, wharf_error *err);

#endif
