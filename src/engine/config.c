/*
 * config.c — the daemon's settings: daemon.json (Docker's key names) under
 * the flags, then the defaults. Depends on base only, so the `wharf` client
 * links it too and finds the local daemon where the daemon itself will be.
 */
#include "engine.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends the strings of the array v (key in path) to list. */
static int add_strings(const char *path, const char *key, json_t *v, const char **list, size_t *n,
                       wharf_error *err)
{
    if (!json_is_array(v))
        return wharf_error_set(err, -EINVAL, "%s: %s: expected an array", path, key);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return wharf_error_set(err, -EINVAL, "%s: %s[%zu]: expected a string", path, key, i);
        if (*n == ENGINE_MAX_REGISTRIES)
            return wharf_error_set(err, -E2BIG, "%s: %s: at most %d entries", path, key,
                                   ENGINE_MAX_REGISTRIES);
        list[(*n)++] = json_string_value(s);
    }
    return 0;
}

/* Docker's check of a mirror: an http or https URL of a host, no path. */
static int check_mirror(const char *m, wharf_error *err)
{
    const char *hp = strncmp(m, "https://", 8) == 0  ? m + 8
                     : strncmp(m, "http://", 7) == 0 ? m + 7
                                                     : NULL;
    size_t n = hp ? strcspn(hp, "/") : 0;
    if (!hp || n == 0 || (hp[n] && strcmp(hp + n, "/") != 0))
        return wharf_error_set(err, -EINVAL,
                               "invalid mirror: \"%s\" is not a valid URI (want "
                               "http(s)://host[:port])",
                               m);
    return 0;
}

const char *engine_config_path(const struct engine_config *cfg, bool *explicit_path)
{
    const char *env = getenv(ENGINE_CONFIG_ENV);
    *explicit_path = true;
    if (cfg->config_file)
        return cfg->config_file;
    if (env && *env)
        return env;
    *explicit_path = false;
    return ENGINE_DEFAULT_CONFIG;
}

int engine_config_resolve(struct engine_config *cfg, json_t **doc, wharf_error *err)
{
    *doc = NULL;
    int r;
    bool explicit_path;
    const char *path = engine_config_path(cfg, &explicit_path);
    if (access(path, F_OK) == 0 || explicit_path) {
        json_t *j = wjson_load_file(path, err);
        if (!j)
            return err->code;
        *doc = j;
        if (!json_is_object(j))
            return wharf_error_set(err, -EINVAL, "%s: expected a JSON object", path);
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (strcmp(key, "data-root") == 0) {
                if (!json_is_string(v))
                    return wharf_error_set(err, -EINVAL, "%s: data-root: expected a string",
                                           path);
                if (!cfg->root)
                    cfg->root = json_string_value(v);
            } else if (strcmp(key, "hosts") == 0) {
                if (!json_is_array(v))
                    return wharf_error_set(err, -EINVAL, "%s: hosts: expected an array", path);
                size_t i;
                json_t *h;
                json_array_foreach(v, i, h)
                {
                    if (!json_is_string(h))
                        return wharf_error_set(err, -EINVAL, "%s: hosts[%zu]: expected a string",
                                               path, i);
                    if (cfg->n_hosts == 0 && i < ENGINE_MAX_HOSTS)
                        cfg->hosts[i] = json_string_value(h);
                }
                if (cfg->n_hosts == 0)
                    cfg->n_hosts = json_array_size(v) < ENGINE_MAX_HOSTS ? json_array_size(v)
                                                                         : ENGINE_MAX_HOSTS;
            } else if (strcmp(key, "bridge") == 0 || strcmp(key, "bip") == 0 ||
                       strcmp(key, "cni-conf-dir") == 0 || strcmp(key, "cni-bin-dir") == 0) {
                if (!json_is_string(v))
                    return wharf_error_set(err, -EINVAL, "%s: %s: expected a string", path, key);
                const char **dst = strcmp(key, "bridge") == 0         ? &cfg->bridge
                                   : strcmp(key, "bip") == 0          ? &cfg->bip
                                   : strcmp(key, "cni-conf-dir") == 0 ? &cfg->cni_conf_dir
                                                                      : &cfg->cni_bin_dir;
                if (!*dst)
                    *dst = json_string_value(v);
            } else if (strcmp(key, "default-address-pools") == 0 || strcmp(key, "dns") == 0 ||
                       strcmp(key, "dns-search") == 0 || strcmp(key, "dns-opts") == 0) {
                if (!json_is_array(v))
                    return wharf_error_set(err, -EINVAL, "%s: %s: expected an array", path, key);
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                {
                    bool ok = key[0] == 'd' && key[1] == 'e' ? json_is_object(e) : json_is_string(e);
                    if (!ok)
                        return wharf_error_set(err, -EINVAL, "%s: %s[%zu]: expected %s", path,
                                               key, i, key[1] == 'e' ? "an object" : "a string");
                }
                json_t **dst = strcmp(key, "dns") == 0          ? &cfg->dns
                               : strcmp(key, "dns-search") == 0 ? &cfg->dns_search
                               : strcmp(key, "dns-opts") == 0   ? &cfg->dns_opts
                                                                : &cfg->address_pools;
                if (!*dst)
                    *dst = v;
            } else if (strcmp(key, "debug") == 0) {
                cfg->debug = cfg->debug || json_is_true(v);
            } else if (strcmp(key, "insecure-registries") == 0) {
                if ((r = add_strings(path, key, v, cfg->insecure_registries,
                                     &cfg->n_insecure_registries, err)) < 0)
                    return r;
            } else if (strcmp(key, "registry-mirrors") == 0) {
                if ((r = add_strings(path, key, v, cfg->registry_mirrors, &cfg->n_registry_mirrors,
                                     err)) < 0)
                    return r;
            } else if (strcmp(key, "log-level") == 0 || strcmp(key, "live-restore") == 0 ||
                       strcmp(key, "default-ulimits") == 0) {
                /* Known Docker keys that later parts of the engine read. */
            } else {
                return wharf_error_set(err, -EINVAL, "%s: unknown key '%s'", path, key);
            }
        }
    }
    for (size_t i = 0; i < cfg->n_registry_mirrors; i++)
        if ((r = check_mirror(cfg->registry_mirrors[i], err)) < 0)
            return r;
    if (!cfg->root)
        cfg->root = ENGINE_DEFAULT_ROOT;
    if (cfg->n_hosts == 0) {
        cfg->hosts[0] = "unix://" ENGINE_DEFAULT_SOCKET;
        cfg->n_hosts = 1;
    }
    return 0;
}
