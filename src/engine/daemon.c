/*
 * daemon.c — start-up, the serving loop and shutdown of `wharf daemon`.
 * Signals are taken synchronously (sigwait) on the main thread; the HTTP
 * server runs on its own threads.
 */
#include "engine.h"
#include "dockerapi.h"
#include "http.h"
#include "image.h"
#include "cri.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>

int engine_config_resolve(struct engine_config *cfg, json_t **doc, wharf_error *err)
{
    *doc = NULL;
    const char *path = cfg->config_file ? cfg->config_file : ENGINE_DEFAULT_CONFIG;
    if (access(path, F_OK) == 0 || cfg->config_file) {
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
            } else if (strcmp(key, "debug") == 0) {
                cfg->debug = cfg->debug || json_is_true(v);
            } else if (strcmp(key, "log-level") == 0 || strcmp(key, "live-restore") == 0 ||
                       strcmp(key, "default-ulimits") == 0 ||
                       strcmp(key, "insecure-registries") == 0 ||
                       strcmp(key, "registry-mirrors") == 0) {
                /* Known Docker keys that later parts of the engine read. */
            } else {
                return wharf_error_set(err, -EINVAL, "%s: unknown key '%s'", path, key);
            }
        }
    }
    if (!cfg->root)
        cfg->root = ENGINE_DEFAULT_ROOT;
    if (cfg->n_hosts == 0) {
        cfg->hosts[0] = "unix://" ENGINE_DEFAULT_SOCKET;
        cfg->n_hosts = 1;
    }
    return 0;
}

/* unix:///path, a bare /path, or tcp://host:port into an http listener. */
static int parse_host(const char *host, http_listener *l, wharf_error *err)
{
    memset(l, 0, sizeof(*l));
    if (strncmp(host, "unix://", 7) == 0 || host[0] == '/') {
        l->kind = HTTP_LISTEN_UNIX;
        l->address = host[0] == '/' ? host : host + 7;
        l->mode = 0660;
        if (l->address[0] != '/')
            return wharf_error_set(err, -EINVAL, "-H %s: the socket path must be absolute", host);
        return 0;
    }
    if (strncmp(host, "tcp://", 6) == 0) {
        l->kind = HTTP_LISTEN_TCP;
        l->address = host + 6;
        return 0;
    }
    return wharf_error_set(err, -EINVAL, "-H %s: want unix:///PATH or tcp://HOST:PORT", host);
}

int engine_daemon_run(const struct engine_config *cfg, wharf_error *err)
{
    int r;
    _cleanup_free_ char *image_dir = xasprintf("%s/image", cfg->root);
    _cleanup_free_ char *tmp_dir = xasprintf("%s/tmp", cfg->root);
    if ((r = wharf_mkdir_p(image_dir, 0711, err)) < 0 || (r = wharf_mkdir_p(tmp_dir, 0700, err)) < 0)
        return r;
    http_listener listeners[ENGINE_MAX_HOSTS];
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if ((r = parse_host(cfg->hosts[i], &listeners[i], err)) < 0)
            return r;
        if (listeners[i].kind == HTTP_LISTEN_UNIX) {
            _cleanup_free_ char *dir = xstrdup(listeners[i].address);
            char *slash = strrchr(dir, '/');
            if (slash && slash != dir) {
                *slash = '\0';
                if ((r = wharf_mkdir_p(dir, 0755, err)) < 0)
                    return r;
            }
        }
    }
    image_store *images = image_store_open(image_dir, err);
    if (!images)
        return err->code;
    /* The container layer; containers that kept running while the daemon
     * was down are re-adopted (live restore). */
    _cleanup_free_ char *cri_dir = xasprintf("%s/containers", cfg->root);
    struct cri_options co = {.root = cri_dir};
    struct cri *cri = NULL;
    if ((r = cri_open(&co, &cri, err)) < 0) {
        image_store_close(images);
        return r;
    }
    struct cri_reconcile_report report = {0};
    wharf_error rerr = {0};
    if (cri_reconcile(cri, &report, &rerr) < 0)
        wlog_warn("live restore: %s", rerr.msg);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    _cleanup_free_ char *init_path = slash ? xasprintf("%.*s/wharf-init", (int)(slash - self), self)
                                           : NULL;
    struct dockerapi api = {.images = images, .cri = cri, .root = cfg->root, .tmp_dir = tmp_dir,
                            .init_path = init_path && access(init_path, X_OK) == 0 ? init_path
                                                                                   : NULL};
    http_router *router = http_router_new();
    http_server *server = NULL;
    if ((r = dockerapi_register(&api, router, err)) < 0)
        goto out;
    http_server_config sc = {
        .listeners = listeners,
        .n_listeners = cfg->n_hosts,
        .router = router,
        .headers = dockerapi_default_headers(),
    };
    /* Block the signals before any thread starts, so all inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!(server = http_server_new(&sc, err))) {
        r = err->code;
        goto out;
    }
    if ((r = http_server_start(server, err)) < 0)
        goto out;
    for (size_t i = 0; i < cfg->n_hosts; i++)
        wlog_info("API listening on %s", cfg->hosts[i]);
    fprintf(stderr, "wharf daemon: serving the Docker Engine API on %s (data root %s)\n",
            cfg->hosts[0], cfg->root);
    int sig = 0;
    do
        sigwait(&set, &sig);
    while (sig == SIGHUP);
    fprintf(stderr, "wharf daemon: %s, shutting down\n", strsignal(sig));
    r = 0;
out:
    if (server)
        http_server_free(server);
    http_router_free(router);
    cri_close(cri);
    image_store_close(images);
    return r;
}
