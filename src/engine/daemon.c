/*
 * daemon.c — start-up, the serving loop and shutdown of `wharf daemon`.
 * Signals are taken synchronously (sigwait) on the main thread; the HTTP
 * server runs on its own threads.
 *
 * Under systemd: `-H fd://` serves on the sockets a socket unit passed
 * (sd_listen_fds(3)'s protocol: LISTEN_PID, LISTEN_FDS, fds from 3), and
 * READY=1 / STOPPING=1 go to $NOTIFY_SOCKET (Type=notify). Both are the few
 * lines of the protocol written here rather than libsystemd, which the
 * daemon would map for nothing else.
 */
#include "engine.h"
#include "dockerapi.h"
#include "http.h"
#include "image.h"
#include "cri.h"
#include "network.h"
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The first fd systemd passes (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

/* The sockets passed to this process by its activator: LISTEN_FDS of them
 * from fd 3 when LISTEN_PID is our pid. The variables are removed, so that
 * no child (shim, runtime) takes the sockets for its own. Returns the count,
 * 0 when none were passed to us. */
static int take_activation_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0;
    if (pid && fds) {
        char *end;
        errno = 0;
        long p = strtol(pid, &end, 10);
        bool ours = !errno && *end == '\0' && p == (long)getpid();
        long k = strtol(fds, &end, 10);
        if (ours && !errno && *end == '\0' && k > 0 && k < 4096)
            n = (int)k;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + n; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return n;
}

/* Where to report readiness to systemd (Type=notify), taken once from
 * $NOTIFY_SOCKET and removed from the environment children inherit. */
static char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void take_notify_socket(void)
{
    const char *p = getenv("NOTIFY_SOCKET");
    notify_path[0] = '\0';
    if (p && (p[0] == '/' || p[0] == '@') && strlen(p) < sizeof(notify_path))
        strcpy(notify_path, p);
    unsetenv("NOTIFY_SOCKET");
}

/* One datagram ("READY=1"); best effort, like sd_notify. */
static void notify_systemd(const char *state)
{
    if (!notify_path[0])
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(notify_path);
    memcpy(sa.sun_path, notify_path, len);
    if (sa.sun_path[0] == '@') /* an abstract socket */
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        wlog_warn("notify %s: %s", notify_path, strerror(errno));
    close(fd);
}

/* fd:// (every passed socket) or fd://N (that one) into listeners, with
 * Docker's messages. used[] marks passed sockets already taken. */
static int parse_fd_host(const char *host, int n_fds, bool *used, http_listener *ls, size_t *n,
                         wharf_error *err)
{
    const char *spec = host + 5;
    if (n_fds == 0)
        return wharf_error_set(err, -EINVAL,
                               "-H %s: no sockets found via socket activation: make sure the "
                               "service was started by systemd",
                               host);
    int first = LISTEN_FDS_START, last = LISTEN_FDS_START + n_fds - 1;
    if (*spec && strcmp(spec, "*") != 0) {
        char *end;
        errno = 0;
        long fd = strtol(spec, &end, 10);
        if (errno || *end || end == spec)
            return wharf_error_set(err, -EINVAL,
                                   "-H %s: failed to parse systemd fd address: should be a number",
                                   host);
        if (fd < LISTEN_FDS_START || fd > last)
            return wharf_error_set(err, -EINVAL,
                                   "-H %s: too few socket activated files passed in by systemd "
                                   "(%d, from fd %d)",
                                   host, n_fds, LISTEN_FDS_START);
        first = last = (int)fd;
    }
    for (int fd = first; fd <= last; fd++) {
        if (used[fd - LISTEN_FDS_START])
            return wharf_error_set(err, -EINVAL, "-H %s: fd %d is already served by another -H",
                                   host, fd);
        used[fd - LISTEN_FDS_START] = true;
        ls[*n] =
            (http_listener){.kind = HTTP_LISTEN_FD, .fd = fd, .address = xasprintf("fd://%d", fd)};
        (*n)++;
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
    return wharf_error_set(err, -EINVAL, "-H %s: want unix:///PATH, tcp://HOST:PORT or fd://[N]",
                           host);
}

int engine_daemon_run(const struct engine_config *cfg, wharf_error *err)
{
    int r;
    /* Taken first, whatever happens next: no child may inherit them. */
    int n_fds = take_activation_fds();
    take_notify_socket();
    _cleanup_free_ bool *fd_used = xcalloc((size_t)n_fds + 1, sizeof(bool));
    _cleanup_free_ char *image_dir = xasprintf("%s/image", cfg->root);
    _cleanup_free_ char *tmp_dir = xasprintf("%s/tmp", cfg->root);
    _cleanup_free_ char *cri_dir = xasprintf("%s/containers", cfg->root);
    _cleanup_free_ char *net_dir = xasprintf("%s/network", cfg->root);
    _cleanup_free_ char *volume_dir = xasprintf("%s/volumes", cfg->root);
    /* Each -H is one listener, but fd:// may be several. */
    size_t n_listeners = 0;
    _cleanup_free_ http_listener *listeners =
        xcalloc(cfg->n_hosts + (size_t)n_fds, sizeof(http_listener));
    bool fds_handed_over = false;
    image_store *images = NULL;
    struct cri *cri = NULL;
    struct network_mgr *net = NULL;
    struct volume_store *volumes = NULL;
    http_router *router = NULL;
    http_server *server = NULL;
    struct dockerapi api = {0};
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    _cleanup_free_ char *init_path =
        slash ? xasprintf("%.*s/wharf-init", (int)(slash - self), self) : NULL;
    /* pulls and pushes run wharf-registry: the one beside us, else PATH's */
    _cleanup_free_ char *registry_helper =
        slash ? xasprintf("%.*s/wharf-registry", (int)(slash - self), self) : NULL;
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if (strncmp(cfg->hosts[i], "fd://", 5) == 0) {
            r = parse_fd_host(cfg->hosts[i], n_fds, fd_used, listeners, &n_listeners, err);
            if (r < 0)
                goto out;
            continue;
        }
        http_listener *l = &listeners[n_listeners++];
        if ((r = parse_host(cfg->hosts[i], l, err)) < 0)
            goto out;
        if (l->kind == HTTP_LISTEN_UNIX) {
            _cleanup_free_ char *dir = xstrdup(l->address);
            char *dir_end = strrchr(dir, '/');
            if (dir_end && dir_end != dir) {
                *dir_end = '\0';
                if ((r = wharf_mkdir_p(dir, 0755, err)) < 0)
                    goto out;
            }
        }
    }
    if ((r = wharf_mkdir_p(image_dir, 0711, err)) < 0 ||
        (r = wharf_mkdir_p(tmp_dir, 0700, err)) < 0)
        goto out;
    images = image_store_open(image_dir, err);
    if (!images) {
        r = err->code;
        goto out;
    }
    /* The container layer; containers that kept running while the daemon
     * was down are re-adopted (live restore). */
    struct cri_options co = {.root = cri_dir};
    if ((r = cri_open(&co, &cri, err)) < 0)
        goto out;
    struct cri_reconcile_report report = {0};
    wharf_error rerr = {0};
    if (cri_reconcile(cri, &report, &rerr) < 0)
        wlog_warn("live restore: %s", rerr.msg);
    /* Networks: bridges and namespaces a reboot took are recreated, and
     * what is ours but no longer owned is removed. */
    struct network_options no = {.root = net_dir, .bridge = cfg->bridge, .bip = cfg->bip,
                                 .address_pools = cfg->address_pools, .dns = cfg->dns,
                                 .dns_search = cfg->dns_search, .dns_options = cfg->dns_opts,
                                 .cni_conf_dir = cfg->cni_conf_dir,
                                 .cni_bin_dir = cfg->cni_bin_dir};
    if ((r = network_open(&no, &net, err)) < 0)
        goto out;
    if ((r = volume_store_open(volume_dir, &volumes, err)) < 0)
        goto out;
    api = (struct dockerapi){
        .images = images,
        .cri = cri,
        .net = net,
        .volumes = volumes,
        .root = cfg->root,
        .tmp_dir = tmp_dir,
        .init_path = init_path && access(init_path, X_OK) == 0 ? init_path : NULL,
        .registry_helper =
            registry_helper && access(registry_helper, X_OK) == 0 ? registry_helper : NULL,
        .insecure_registries = cfg->insecure_registries,
        .n_insecure_registries = cfg->n_insecure_registries,
        .registry_mirrors = cfg->registry_mirrors,
        .n_registry_mirrors = cfg->n_registry_mirrors};
    router = http_router_new();
    if ((r = dockerapi_register(&api, router, err)) < 0)
        goto out;
    http_server_config sc = {
        .listeners = listeners,
        .n_listeners = n_listeners,
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
    /* Exits that happened while the daemon was down, restart policies. */
    if ((r = dockerapi_start_monitor(&api, err)) < 0)
        goto out;
    server = http_server_new(&sc, err);
    fds_handed_over = true; /* the server has them now, or has closed them */
    if (!server) {
        r = err->code;
        goto out;
    }
    if ((r = http_server_start(server, err)) < 0)
        goto out;
    for (size_t i = 0; i < cfg->n_hosts; i++)
        wlog_info("API listening on %s", cfg->hosts[i]);
    fprintf(stderr, "wharf daemon: serving the Docker Engine API on %s (data root %s)\n",
            cfg->hosts[0], cfg->root);
    notify_systemd("READY=1");
    int sig = 0;
    do
        sigwait(&set, &sig);
    while (sig == SIGHUP);
    fprintf(stderr, "wharf daemon: %s, shutting down\n", strsignal(sig));
    notify_systemd("STOPPING=1");
    r = 0;
out:
    if (server)
        http_server_free(server);
    http_router_free(router);
    dockerapi_close(&api);
    network_close(net);
    volume_store_close(volumes);
    if (cri)
        cri_close(cri);
    if (images)
        image_store_close(images);
    for (size_t i = 0; i < n_listeners; i++) {
        if (listeners[i].kind != HTTP_LISTEN_FD)
            continue;
        if (!fds_handed_over)
            close(listeners[i].fd);
        free((char *)listeners[i].address);
    }
    return r;
}
