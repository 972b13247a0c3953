/*
 * kvbench — throughput and latency of the control plane's store (kvstore)
 * on SQLite and on etcd, with pod-sized objects laid out as the API server
 * lays them out (/registry/pods/<namespace>/<name>).
 *
 *   kvbench [-n OBJECTS] [-t THREADS] [-w WATCHERS] [-b sqlite|etcd|all] [-d DIR]
 *
 * Phases per backend: create N objects (T client threads), get N random
 * ones, list all of them (whole and in pages of 500), update N with
 * compare-and-swap while W watchers receive every change. Prints ops/s and
 * p50/p99 latency per phase. etcd is started privately (one member, data on
 * DIR, default /tmp: a real disk with fsync, as production would have).
 * Defaults: 10,000 objects, 8 threads, 4 watchers (about half a minute,
 * mostly etcd: each watcher is its own stream through etcd's JSON gateway).
 */
#include "etcdrun.h"
#include "kvstore.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <string.h>

static int n_objects = 10000;
static int n_threads = 8;
static int n_watchers = 4;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *backend, const char *op, int ops, double secs, double *lat, int n)
{
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("%-7s %-22s %8d %10.0f %9.3f %9.3f\n", backend, op, ops, ops / secs, n ? lat[n / 2] : 0,
           n ? lat[(int)(n * 0.99)] : 0);
    fflush(stdout);
}

static long rss_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, strlen(field)) == 0)
            v = strtol(line + strlen(field) + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* A pod of about 1 KiB, like a small real one. */
static char *pod(int i, int generation, size_t *len)
{
    char *s = xasprintf(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%d\","
        "\"namespace\":\"ns-%d\",\"uid\":\"6f1c2a4e-%04x-4a3b-9c1d-%012d\",\"generation\":%d,"
        "\"labels\":{\"app\":\"bench\",\"tier\":\"web\",\"shard\":\"%d\"},\"annotations\":"
        "{\"kubernetes.io/config.seen\":\"2025-01-01T00:00:00Z\"}},\"spec\":{\"containers\":"
        "[{\"name\":\"app\",\"image\":\"registry.example.com/team/app:1.2.3\",\"ports\":"
        "[{\"containerPort\":8080,\"protocol\":\"TCP\"}],\"resources\":{\"requests\":"
        "{\"cpu\":\"100m\",\"memory\":\"128Mi\"},\"limits\":{\"cpu\":\"500m\",\"memory\":"
        "\"256Mi\"}},\"env\":[{\"name\":\"MODE\",\"value\":\"production\"},{\"name\":\"LOG\","
        "\"value\":\"info\"}],\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":"
        "8080},\"periodSeconds\":10}}],\"restartPolicy\":\"Always\",\"schedulerName\":"
        "\"default-scheduler\",\"serviceAccountName\":\"default\",\"nodeName\":\"node-%d\"},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.%d.%d\",\"conditions\":[{\"type\":"
        "\"Ready\",\"status\":\"True\"}]}}",
        i, i % 10, i & 0xffff, i, generation, i % 16, i % 50, (i >> 8) & 255, i & 255);
    *len = strlen(s);
    return s;
}

static void pod_key(char *buf, size_t size, int i)
{
    snprintf(buf, size, "/registry/pods/ns-%d/pod-%d", i % 10, i);
}

enum phase { CREATE, GET, UPDATE };

struct worker {
    struct kvstore *s;
    enum phase phase;
    int from, to;
    double *lat;
    int errors;
    char msg[256];
};

static void *work(void *p)
{
    struct worker *w = p;
    wharf_error err = {0};
    char key[96];
    unsigned seed = (unsigned)w->from * 2654435761u;
    for (int i = w->from; i < w->to; i++) {
        int id = w->phase == GET ? (int)(rand_r(&seed) % (unsigned)n_objects) : i;
        pod_key(key, sizeof(key), id);
        double t0 = wharf_now_ms();
        int r = 0;
        if (w->phase == CREATE) {
            size_t len;
            _cleanup_free_ char *v = pod(id, 1, &len);
            r = kvstore_create(w->s, key, v, len, NULL, &err);
        } else if (w->phase == GET) {
            struct kvstore_kv kv;
            r = kvstore_get(w->s, key, &kv, &err);
            kvstore_kv_release(&kv);
        } else {
            /* read-modify-write, as a controller's update does */
            struct kvstore_kv kv;
            r = kvstore_get(w->s, key, &kv, &err);
            t0 = wharf_now_ms(); /* the mutation alone */
            if (r == 0) {
                size_t len;
                _cleanup_free_ char *v = pod(id, 2, &len);
                r = kvstore_update(w->s, key, v, len, kv.mod_revision, NULL, NULL, &err);
            }
            kvstore_kv_release(&kv);
        }
        w->lat[i] = wharf_now_ms() - t0;
        if (r < 0) {
            w->errors++;
            snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
        }
    }
    return NULL;
}

static int run_phase(const char *backend, const char *name, struct kvstore *s, enum phase phase)
{
    double *lat = xcalloc((size_t)n_objects, sizeof(double));
    pthread_t t[64];
    struct worker w[64];
    int per = (n_objects + n_threads - 1) / n_threads;
    double start = wharf_now_ms();
    for (int i = 0; i < n_threads; i++) {
        w[i] = (struct worker){.s = s,
                               .phase = phase,
                               .from = i * per,
                               .to = (i + 1) * per < n_objects ? (i + 1) * per : n_objects,
                               .lat = lat};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int errors = 0;
    for (int i = 0; i < n_threads; i++) {
        pthread_join(t[i], NULL);
        if (w[i].errors) {
            fprintf(stderr, "kvbench: %s %s: %d errors, last: %s\n", backend, name, w[i].errors,
                    w[i].msg);
            errors += w[i].errors;
        }
    }
    report(backend, name, n_objects, (wharf_now_ms() - start) / 1000, lat, n_objects);
    free(lat);
    return errors ? -1 : 0;
}

static int run_lists(const char *backend, struct kvstore *s)
{
    wharf_error err = {0};
    double lat[5];
    double start = wharf_now_ms();
    for (int i = 0; i < 5; i++) {
        struct kvstore_list l;
        double t0 = wharf_now_ms();
        if (kvstore_list(s, "/registry/pods/", 0, 0, NULL, &l, &err) < 0 ||
            l.count != (size_t)n_objects) {
            fprintf(stderr, "kvbench: %s list: %s (%zu items)\n", backend, err.msg, l.count);
            kvstore_list_release(&l);
            return -1;
        }
        lat[i] = wharf_now_ms() - t0;
        kvstore_list_release(&l);
    }
    char name[64];
    snprintf(name, sizeof(name), "list %d (whole)", n_objects);
    report(backend, name, 5, (wharf_now_ms() - start) / 1000, lat, 5);

    /* kubectl's way: pages of 500 at the first page's revision */
    int pages = 0;
    double plat[1024];
    start = wharf_now_ms();
    char *after = NULL;
    int64_t rev = 0;
    size_t total = 0;
    for (;;) {
        struct kvstore_list l;
        double t0 = wharf_now_ms();
        if (kvstore_list(s, "/registry/pods/", rev, 500, after, &l, &err) < 0) {
            fprintf(stderr, "kvbench: %s paged list: %s\n", backend, err.msg);
            free(after);
            return -1;
        }
        if (pages < 1024)
            plat[pages] = wharf_now_ms() - t0;
        pages++;
        rev = l.revision;
        total += l.count;
        free(after);
        after = l.count ? xstrdup(l.items[l.count - 1].key) : NULL;
        bool more = l.more;
        kvstore_list_release(&l);
        if (!more)
            break;
    }
    free(after);
    if (total != (size_t)n_objects) {
        fprintf(stderr, "kvbench: %s paged list: %zu items\n", backend, total);
        return -1;
    }
    snprintf(name, sizeof(name), "list pages of 500");
    report(backend, name, pages, (wharf_now_ms() - start) / 1000, plat,
           pages < 1024 ? pages : 1024);
    return 0;
}

struct watcher {
    struct kvstore_watch *w;
    int want, got;
    int error;
    char msg[256];
    double done_at;
};

static void *watch_drain(void *p)
{
    struct watcher *w = p;
    wharf_error err = {0};
    while (w->got < w->want) {
        const struct kvstore_event *ev;
        int r = kvstore_watch_next(w->w, 30000, &ev, &err);
        if (r <= 0) {
            w->error = r ? r : -ETIMEDOUT;
            snprintf(w->msg, sizeof(w->msg), "%s", r ? err.msg : "timed out");
            break;
        }
        kvstore_event_unref(ev);
        w->got++;
    }
    w->done_at = wharf_now_ms();
    return NULL;
}

static int bench(const char *backend, const char *endpoint)
{
    wharf_error err = {0};
    struct kvstore_options opt = {.watch_queue_events = (size_t)n_objects + 16};
    struct kvstore *s = kvstore_open(endpoint, &opt, &err);
    if (!s) {
        fprintf(stderr, "kvbench: %s\n", err.msg);
        return -1;
    }
    long idle = rss_kib("VmRSS:");
    int r = run_phase(backend, "create", s, CREATE);
    if (r == 0)
        r = run_phase(backend, "get", s, GET);
    if (r == 0)
        r = run_lists(backend, s);
    pthread_t wt[256];
    struct watcher ws[256];
    int nw = n_watchers < 256 ? n_watchers : 256;
    for (int i = 0; r == 0 && i < nw; i++) {
        ws[i] = (struct watcher){.want = n_objects};
        if ((r = kvstore_watch(s, "/registry/pods/", 0, &ws[i].w, &err)) < 0) {
            fprintf(stderr, "kvbench: watch: %s\n", err.msg);
            nw = i;
            break;
        }
        pthread_create(&wt[i], NULL, watch_drain, &ws[i]);
    }
    double start = wharf_now_ms();
    char name[64];
    if (r == 0) {
        snprintf(name, sizeof(name), "update (%d watchers)", nw);
        r = run_phase(backend, name, s, UPDATE);
    }
    double updated = wharf_now_ms();
    double last = updated;
    for (int i = 0; i < nw; i++) {
        if (r < 0)
            kvstore_watch_cancel(ws[i].w);
        pthread_join(wt[i], NULL);
        if (ws[i].error && r == 0) {
            fprintf(stderr, "kvbench: watcher %d: %s\n", i, ws[i].msg);
            r = -1;
        }
        if (ws[i].done_at > last)
            last = ws[i].done_at;
        kvstore_watch_close(ws[i].w);
    }
    if (r == 0 && nw) {
        printf("%-7s %-22s %8d %10.0f %9s %9s  (last event %.0f ms after the last update)\n",
               backend, "watch events delivered", nw * n_objects,
               nw * n_objects / ((last - start) / 1000), "-", "-", last - updated);
    }
    printf("%-7s RSS: %ld KiB after open, %ld KiB now, %ld KiB peak (whole process)\n", backend,
           idle, rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    kvstore_close(s);
    return r;
}

int main(int argc, char **argv)
{
    const char *which = "all", *dir = "/tmp";
    int c;
    while ((c = getopt(argc, argv, "n:t:w:b:d:h")) != -1) {
        switch (c) {
        case 'n':
            n_objects = atoi(optarg);
            break;
        case 't':
            n_threads = atoi(optarg);
            break;
        case 'w':
            n_watchers = atoi(optarg);
            break;
        case 'b':
            which = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        default:
            fprintf(stderr, "usage: kvbench [-n OBJECTS] [-t THREADS] [-w WATCHERS] "
                            "[-b sqlite|etcd|all] [-d DIR]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (n_objects < 1 || n_threads < 1 || n_threads > 64 || n_watchers < 0 ||
        (strcmp(which, "all") && strcmp(which, "sqlite") && strcmp(which, "etcd"))) {
        fprintf(stderr, "kvbench: bad arguments (threads 1-64, backend sqlite, etcd or all)\n");
        return 2;
    }
    printf("%-7s %-22s %8s %10s %9s %9s\n", "backend", "operation", "count", "ops/s", "p50 ms",
           "p99 ms");
    int rc = 0;
    if (strcmp(which, "etcd") != 0) {
        _cleanup_free_ char *tmp = xasprintf("%s/kvbench-XXXXXX", dir);
        if (!mkdtemp(tmp)) {
            fprintf(stderr, "kvbench: mkdtemp %s: %s\n", tmp, strerror(errno));
            return 1;
        }
        _cleanup_free_ char *ep = xasprintf("sqlite://%s/state.db", tmp);
        rc |= bench("sqlite", ep) < 0;
        wharf_rm_rf(tmp, NULL);
    }
    if (strcmp(which, "sqlite") != 0) {
        struct etcdrun e;
        if (!etcdrun_binary()) {
            fprintf(stderr, "kvbench: no etcd binary; etcd skipped\n");
        } else if (etcdrun_start(&e, 1, dir) < 0) {
            rc = 1;
        } else {
            rc |= bench("etcd", e.endpoints) < 0;
            etcdrun_stop(&e);
        }
    }
    return rc;
}
