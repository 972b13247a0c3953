/*
 * apibench — the API server under load, over HTTPS as every client talks to
 * it: pod creates, gets, a list of all of them, and updates while watchers
 * receive every change.
 *
 *   apibench -s https://127.0.0.1:PORT -d TLSDIR [-n PODS] [-t THREADS]
 *            [-w WATCHERS] [-p PID]
 *
 * TLSDIR holds ca.crt, admin.crt and admin.key (the server's data dir /tls).
 * Each client thread keeps one connection (libcurl, keep-alive). Phases:
 * create N pods in namespace "bench" (T threads); get N random ones; list
 * them all in one request (and in pages of 500); update N/10 of them with a
 * JSON merge patch while W watchers stream the namespace and count the
 * MODIFIED events they get. With -p, the server's VmRSS is sampled before
 * the creates (idle) and at the end (loaded). Prints one line per phase:
 * phase, ops, ops/s, p50 and p99 in ms; then "rss idle_kib loaded_kib".
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *server, *tls_dir;
static int n_pods = 10000, n_threads = 8, n_watchers = 100;
static char ca[512], cert[512], key[512];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *phase, int ops, double ms, double *lat, int n)
{
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("%-22s %8d %10.0f %9.2f %9.2f\n", phase, ops, ms > 0 ? ops / (ms / 1e3) : 0,
           n ? lat[n / 2] : 0, n ? lat[(int)(n * 0.99)] : 0);
    fflush(stdout);
}

static long vmrss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* ---------------------------------------------------------------- requests */

struct body {
    char *buf;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    char *nb = realloc(b->buf, b->len + add + 1);
    if (!nb)
        return 0;
    b->buf = nb;
    memcpy(b->buf + b->len, p, add);
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

static CURL *client(void)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

/* One request; the status, or -1. body (may be NULL) gets the answer. */
static long request(CURL *c, const char *method, const char *path, const char *ctype,
                    const char *data, struct body *body)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", server, path);
    struct curl_slist *h = NULL;
    if (ctype) {
        char line[128];
        snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Accept: application/json");
    struct body sink = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (data)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &sink);
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(sink.buf);
    return status;
}

static const char pod_fmt[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\",\"namespace\":\"bench\","
    "\"labels\":{\"app\":\"bench\",\"shard\":\"s%d\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
    "\"image\":\"registry.local/app:1.0\",\"command\":[\"/app\",\"--serve\"],\"ports\":[{"
    "\"containerPort\":8080}],\"env\":[{\"name\":\"MODE\",\"value\":\"bench\"}],\"resources\":{"
    "\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}}]}}";

/* ---------------------------------------------------------------- phases */

enum phase { CREATE, GET, UPDATE };

struct worker {
    enum phase phase;
    int from, to; /* pods [from, to) */
    double *lat;  /* per op, ms */
    int errors;
    unsigned seed;
};

static void *work(void *ud)
{
    struct worker *w = ud;
    CURL *c = client();
    char path[256], body[2048];
    for (int i = w->from; i < w->to; i++) {
        long st;
        double t0 = now_ms();
        if (w->phase == CREATE) {
            snprintf(body, sizeof(body), pod_fmt, i, i % 16);
            st = request(c, "POST", "/api/v1/namespaces/bench/pods", "application/json", body,
                         NULL);
            if (st != 201)
                w->errors++;
        } else if (w->phase == GET) {
            snprintf(path, sizeof(path), "/api/v1/namespaces/bench/pods/p%d",
                     (int)(rand_r(&w->seed) % (unsigned)n_pods));
            if (request(c, "GET", path, NULL, NULL, NULL) != 200)
                w->errors++;
        } else {
            snprintf(path, sizeof(path), "/api/v1/namespaces/bench/pods/p%d", i);
            snprintf(body, sizeof(body), "{\"metadata\":{\"annotations\":{\"round\":\"%d\"}}}", i);
            if (request(c, "PATCH", path, "application/merge-patch+json", body, NULL) != 200)
                w->errors++;
        }
        w->lat[i - w->from] = now_ms() - t0;
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int run_phase(const char *name, enum phase phase, int ops)
{
    pthread_t *th = calloc((size_t)n_threads, sizeof(*th));
    struct worker *ws = calloc((size_t)n_threads, sizeof(*ws));
    double *lat = calloc((size_t)ops + 1, sizeof(*lat));
    int per = (ops + n_threads - 1) / n_threads, errors = 0;
    double t0 = now_ms();
    for (int i = 0; i < n_threads; i++) {
        int from = i * per, to = from + per > ops ? ops : from + per;
        ws[i] = (struct worker){phase, from, to > from ? to : from, lat + from, 0, 7u * (unsigned)i + 1};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    for (int i = 0; i < n_threads; i++) {
        pthread_join(th[i], NULL);
        errors += ws[i].errors;
    }
    report(name, ops, now_ms() - t0, lat, ops);
    if (errors)
        fprintf(stderr, "%s: %d requests failed\n", name, errors);
    free(th);
    free(ws);
    free(lat);
    return errors;
}

/* ---------------------------------------------------------------- watchers */

static atomic_int watch_events;
static atomic_bool watch_stop;

static size_t count_events(char *p, size_t size, size_t n, void *ud)
{
    (void)ud;
    size_t len = size * n;
    /* each event of the stream is one line */
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\n')
            atomic_fetch_add(&watch_events, 1);
    return atomic_load(&watch_stop) ? 0 : len;
}

static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)ud, (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&watch_stop) ? 1 : 0;
}

static char watch_rv[64];

static void *watcher(void *ud)
{
    (void)ud;
    CURL *c = client();
    char url[512];
    snprintf(url, sizeof(url), "%s/api/v1/namespaces/bench/pods?watch=1&resourceVersion=%s",
             server, watch_rv);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_events);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    long pid = 0;
    int ch;
    while ((ch = getopt(argc, argv, "s:d:n:t:w:p:")) != -1) {
        switch (ch) {
        case 's': server = optarg; break;
        case 'd': tls_dir = optarg; break;
        case 'n': n_pods = atoi(optarg); break;
        case 't': n_threads = atoi(optarg); break;
        case 'w': n_watchers = atoi(optarg); break;
        case 'p': pid = atol(optarg); break;
        default:
            fprintf(stderr, "usage: apibench -s URL -d TLSDIR [-n PODS] [-t THREADS] "
                            "[-w WATCHERS] [-p SERVER_PID]\n");
            return 2;
        }
    }
    if (!server || !tls_dir || n_pods < 1 || n_threads < 1 || n_watchers < 0) {
        fprintf(stderr, "apibench: -s URL and -d TLSDIR are needed; counts must be positive\n");
        return 2;
    }
    snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
    snprintf(cert, sizeof(cert), "%s/admin.crt", tls_dir);
    snprintf(key, sizeof(key), "%s/admin.key", tls_dir);
    curl_global_init(CURL_GLOBAL_ALL);
    long idle = pid ? vmrss_kib(pid) : -1;
    CURL *c = client();
    long st = request(c, "POST", "/api/v1/namespaces", "application/json",
                      "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\"}}",
                      NULL);
    if (st != 201 && st != 409) {
        fprintf(stderr, "apibench: cannot create namespace bench on %s (status %ld)\n", server, st);
        return 1;
    }
    printf("%-22s %8s %10s %9s %9s\n", "phase", "ops", "ops/s", "p50 ms", "p99 ms");
    int errors = run_phase("create", CREATE, n_pods);
    errors += run_phase("get", GET, n_pods);

    /* the whole list in one request, then in pages of 500 */
    double lat[2];
    struct body b = {0};
    double t0 = now_ms();
    st = request(c, "GET", "/api/v1/namespaces/bench/pods", NULL, NULL, &b);
    lat[0] = now_ms() - t0;
    int items = 0;
    for (const char *p = b.buf; p && (p = strstr(p, "\"uid\":\"")); p++)
        items++;
    /* resourceVersion of the list: where the watchers start */
    const char *meta = b.buf ? strstr(b.buf, "\"metadata\":{") : NULL;
    const char *rv = meta ? strstr(meta, "\"resourceVersion\":\"") : NULL;
    if (rv)
        sscanf(rv + 19, "%63[0-9]", watch_rv);
    free(b.buf);
    if (st != 200 || items < n_pods) {
        fprintf(stderr, "apibench: list: status %ld, %d pods of %d\n", st, items, n_pods);
        errors++;
    }
    report("list (all)", 1, lat[0], lat, 1);
    t0 = now_ms();
    int pages = 0;
    char path[1024] = "/api/v1/namespaces/bench/pods?limit=500";
    for (;;) {
        b = (struct body){0};
        if (request(c, "GET", path, NULL, NULL, &b) != 200) {
            errors++;
            free(b.buf);
            break;
        }
        pages++;
        const char *cont = strstr(b.buf, "\"continue\":\"");
        char token[512] = "";
        if (cont)
            sscanf(cont + 12, "%511[^\"]", token);
        free(b.buf);
        if (!*token)
            break;
        snprintf(path, sizeof(path), "/api/v1/namespaces/bench/pods?limit=500&continue=%s", token);
    }
    lat[1] = now_ms() - t0;
    report("list (pages of 500)", pages, lat[1], lat + 1, 1);
    curl_easy_cleanup(c);

    /* updates with the watchers streaming */
    pthread_t *wt = calloc((size_t)n_watchers + 1, sizeof(*wt));
    for (int i = 0; i < n_watchers; i++)
        pthread_create(&wt[i], NULL, watcher, NULL);
    usleep(500 * 1000); /* the watches are established */
    int updates = n_pods / 10 > 0 ? n_pods / 10 : 1;
    t0 = now_ms();
    errors += run_phase("update (watched)", UPDATE, updates);
    int want = updates * n_watchers;
    while (atomic_load(&watch_events) < want && now_ms() - t0 < 60000)
        usleep(10 * 1000);
    double delivered_ms = now_ms() - t0;
    int got = atomic_load(&watch_events);
    atomic_store(&watch_stop, true);
    for (int i = 0; i < n_watchers; i++)
        pthread_join(wt[i], NULL);
    free(wt);
    printf("%-22s %8d %10.0f %9s %9s\n", "watch events", got,
           delivered_ms > 0 ? got / (delivered_ms / 1e3) : 0, "-", "-");
    if (n_watchers && got < want) {
        fprintf(stderr, "apibench: watchers got %d of %d events\n", got, want);
        errors++;
    }
    long loaded = pid ? vmrss_kib(pid) : -1;
    printf("rss %ld %ld\n", idle, loaded);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
