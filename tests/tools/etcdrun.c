/* etcdrun.c — see etcdrun.h. */
#include "etcdrun.h"

#include "base.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

const char *etcdrun_binary(void)
{
    static char found[512];
    const char *env = getenv("ETCD");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    _cleanup_free_ char *copy = xstrdup(path);
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(found, sizeof(found), "%s/etcd", d);
        if (access(found, X_OK) == 0)
            return found;
    }
    return NULL;
}

/* Ports the kernel hands out for bind(0), all held at once so they differ. */
static int free_ports(int *ports, int n)
{
    int fds[2 * ETCDRUN_MAX];
    int r = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) < 0)
            r = -1;
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return r;
}

static size_t sink(char *buf, size_t size, size_t n, void *data)
{
    strbuf_add(data, buf, size * n);
    return size * n;
}

static bool healthy(const char *url)
{
    CURL *h = curl_easy_init();
    strbuf body = STRBUF_INIT;
    char u[96];
    snprintf(u, sizeof(u), "%s/health", url);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    bool ok = curl_easy_perform(h) == CURLE_OK && strstr(strbuf_str(&body), "\"true\"");
    curl_easy_cleanup(h);
    strbuf_release(&body);
    return ok;
}

static pid_t spawn(struct etcdrun *c, int i, const char *binary, const char *cluster,
                   const char *token)
{
    struct etcdrun_member *m = &c->m[i];
    char name[16], data[192], log[192], client[64], peer[64];
    snprintf(name, sizeof(name), "m%d", i);
    snprintf(data, sizeof(data), "%s/%s.etcd", c->dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", c->dir, name);
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", m->client_port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", m->peer_port);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* A test killed half-way leaves no etcd behind. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    setpgid(0, 0); /* keep the test's terminal signals away from it */
    execl(binary, "etcd", "--name", name, "--data-dir", data, "--listen-client-urls", client,
          "--advertise-client-urls", client, "--listen-peer-urls", peer,
          "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
          "--initial-cluster-token", token, "--initial-cluster-state", "new", "--log-level", "warn",
          "--logger", "zap", NULL);
    _exit(127);
}

int etcdrun_start(struct etcdrun *c, int n, const char *parent)
{
    memset(c, 0, sizeof(*c));
    const char *binary = etcdrun_binary();
    if (!binary) {
        fprintf(stderr, "etcdrun: no etcd binary (apt-get install etcd-server)\n");
        return -1;
    }
    if (n < 1 || n > ETCDRUN_MAX)
        return -1;
    if (!parent) {
        struct stat st;
        parent = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    }
    snprintf(c->dir, sizeof(c->dir), "%s/wharf-etcd-XXXXXX", parent);
    if (!mkdtemp(c->dir)) {
        fprintf(stderr, "etcdrun: mkdtemp %s: %s\n", c->dir, strerror(errno));
        return -1;
    }
    int ports[2 * ETCDRUN_MAX];
    if (free_ports(ports, 2 * n) < 0) {
        fprintf(stderr, "etcdrun: no free port on 127.0.0.1\n");
        etcdrun_stop(c);
        return -1;
    }
    c->n = n;
    strbuf cluster = STRBUF_INIT;
    for (int i = 0; i < n; i++) {
        c->m[i].client_port = ports[2 * i];
        c->m[i].peer_port = ports[2 * i + 1];
        snprintf(c->m[i].url, sizeof(c->m[i].url), "http://127.0.0.1:%d", c->m[i].client_port);
        strbuf_addf(&cluster, "%sm%d=http://127.0.0.1:%d", i ? "," : "", i, c->m[i].peer_port);
        size_t len = strlen(c->endpoints);
        snprintf(c->endpoints + len, sizeof(c->endpoints) - len, "%s%s", i ? "," : "", c->m[i].url);
    }
    const char *token = strrchr(c->dir, '-') + 1;
    for (int i = 0; i < n; i++)
        c->m[i].pid = spawn(c, i, binary, strbuf_str(&cluster), token);
    strbuf_release(&cluster);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    double deadline = wharf_now_ms() + 30000;
    for (int i = 0; i < n; i++) {
        while (!healthy(c->m[i].url)) {
            int status;
            if (waitpid(c->m[i].pid, &status, WNOHANG) == c->m[i].pid) {
                c->m[i].pid = 0;
                fprintf(stderr, "etcdrun: etcd member %d exited; see %s/m%d.log\n", i, c->dir, i);
                etcdrun_stop(c);
                return -1;
            }
            if (wharf_now_ms() > deadline) {
                fprintf(stderr, "etcdrun: etcd at %s not healthy after 30 s\n", c->m[i].url);
                etcdrun_stop(c);
                return -1;
            }
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

void etcdrun_stop_member(struct etcdrun *c, int i)
{
    pid_t pid = c->m[i].pid;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int t = 0; t < 100; t++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            c->m[i].pid = 0;
            return;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    c->m[i].pid = 0;
}

void etcdrun_stop(struct etcdrun *c)
{
    for (int i = 0; i < c->n; i++)
        etcdrun_stop_member(c, i);
    if (c->dir[0])
        wharf_rm_rf(c->dir, NULL);
    c->dir[0] = '\0';
}
