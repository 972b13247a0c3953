/*
 * wharf_compose.c — `wharf compose`: a project from its Compose files
 * (src/compose) brought to the daemon over the Engine API, as Docker
 * Compose does it: networks and volumes first, then each service's
 * containers in dependency order (kept, started, recreated or created by
 * the service's plan, its dependencies' conditions waited for), all
 * carrying Compose's labels so that `ps`, `down` and the next `up` find them.
 *
 * So far: config, up (-d, or following the logs until Ctrl-C stops the
 * containers), down, ps, logs, start, stop, restart, and kill, pause,
 * unpause, rm, top, exec, port as the wharf commands of the same name
 * on the services' containers. Services with a `build:` section need their
 * image built first (not done here yet).
 */
#include "compose.h"
#include "wharf_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The project's global flags, parsed before the subcommand. */
struct project_flags {
    const char *files[16];
    size_t n_files;
    const char *name, *directory;
    const char *env_files[8];
    size_t n_env_files;
    const char *profiles[16];
    size_t n_profiles;
};

static struct compose_project *load(const struct project_flags *f)
{
    struct compose_options o = {.files = f->files,
                                .n_files = f->n_files,
                                .project_name = f->name,
                                .project_directory = f->directory,
                                .env_files = f->env_files,
                                .n_env_files = f->n_env_files,
                                .profiles = f->profiles,
                                .n_profiles = f->n_profiles};
    wharf_error err = {0};
    struct compose_project *p = compose_load(&o, &err);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    for (size_t i = 0; i < p->n_warnings; i++)
        fprintf(stderr, "WARN[0000] %s\n", p->warnings[i]);
    return p;
}

/* ---------------------------------------------------------------- daemon calls */

/* GET path: the JSON (new reference), or NULL (a 404 when *missing). */
static json_t *get_json(struct client *c, const char *path, bool *missing)
{
    struct client_response resp = CLIENT_RESPONSE_INIT;
    json_t *out = NULL;
    if (missing)
        *missing = false;
    if (wcmd_call(c, "GET", path, NULL, &resp, true) == 0) {
        if (resp.status == 404 && missing)
            *missing = true;
        else if (resp.status >= 400)
            wcmd_daemon_error(&resp);
        else
            out = json_incref(resp.json);
    }
    client_response_release(&resp);
    return out;
}

/* method path with body (may be NULL): 0, or -1 after printing the error. */
static int call(struct client *c, const char *method, const char *path, json_t *body,
                json_t **answer)
{
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int r = wcmd_call(c, method, path, body, &resp, false);
    if (r == 0 && answer)
        *answer = resp.json ? json_incref(resp.json) : NULL;
    client_response_release(&resp);
    return r < 0 ? -1 : 0;
}

/* The project's containers (list entries, new array), one-offs left out
 * unless oneoff. */
static json_t *project_containers(struct client *c, const struct compose_project *p, bool all,
                                  bool oneoff)
{
    _cleanup_json_ json_t *filters = json_object();
    json_t *label = json_object();
    _cleanup_free_ char *want = xasprintf("%s=%s", COMPOSE_LABEL_PROJECT, p->name);
    json_object_set_new(label, want, json_true());
    json_object_set_new(filters, "label", label);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, all ? "/containers/json?all=1" : "/containers/json");
    wcmd_add_filters_query(filters, &path);
    json_t *list = get_json(c, path.buf, NULL);
    if (!list)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *o = json_string_value(json_object_get(json_object_get(e, "Labels"),
                                                          COMPOSE_LABEL_ONEOFF));
        if (!oneoff && o && strcmp(o, "True") == 0)
            continue;
        json_array_append(out, e);
    }
    json_decref(list);
    return out;
}

static const char *label_of(json_t *container, const char *key)
{
    return json_string_value(json_object_get(json_object_get(container, "Labels"), key));
}

static const char *first_name(json_t *container)
{
    const char *n = json_string_value(json_array_get(json_object_get(container, "Names"), 0));
    return n ? n + (*n == '/') : "";
}

static void say(const char *kind, const char *name, const char *what)
{
    printf(" %s %s  %s\n", kind, name, what);
    fflush(stdout);
}

static json_t *service_containers(struct client *c, struct compose_project *p, char **names,
                                  int n, bool all);
static int print_logs(const struct wcmd_ctx *ctx, struct client *c, json_t *names,
                      const char *query, bool prefix);

/* ---------------------------------------------------------------- up */

/* The path of a project network or volume on the daemon; caller frees. */
static char *resource_path(const struct compose_resource *r, bool network)
{
    _cleanup_free_ char *e = wcmd_escape(r->name);
    return xasprintf(network ? "/networks/%s" : "/volumes/%s", e);
}

/* Creates the project's networks or volumes the daemon lacks; external
 * ones must exist. */
static int ensure_resources(struct client *c, const struct compose_project *p, bool network)
{
    size_t n = network ? p->n_networks : p->n_volumes;
    for (size_t i = 0; i < n; i++) {
        const struct compose_resource *r = network ? &p->networks[i] : &p->volumes[i];
        _cleanup_free_ char *path = resource_path(r, network);
        bool missing;
        _cleanup_json_ json_t *have = get_json(c, path, &missing);
        if (have)
            continue;
        if (!missing)
            return -1;
        if (r->external) {
            fprintf(stderr, network ? "network %s declared as external, but could not be found\n"
                                    : "external volume \"%s\" not found\n",
                    r->name);
            return -1;
        }
        _cleanup_json_ json_t *body =
            network ? compose_network_body(p, r) : compose_volume_body(p, r);
        if (call(c, "POST", network ? "/networks/create" : "/volumes/create", body, NULL) < 0)
            return -1;
        say(network ? "Network" : "Volume", r->name, "Created");
    }
    return 0;
}

/* Removes the project's own networks or volumes that exist. */
static int remove_resources(struct client *c, const struct compose_project *p, bool network)
{
    size_t n = network ? p->n_networks : p->n_volumes;
    for (size_t i = 0; i < n; i++) {
        const struct compose_resource *r = network ? &p->networks[i] : &p->volumes[i];
        if (r->external)
            continue;
        _cleanup_free_ char *path = resource_path(r, network);
        bool missing;
        _cleanup_json_ json_t *have = get_json(c, path, &missing);
        if (!have)
            continue;
        if (call(c, "DELETE", path, NULL, NULL) < 0)
            return -1;
        say(network ? "Network" : "Volume", r->name, "Removed");
    }
    return 0;
}

/* The ID of the image a service runs, or NULL when the daemon lacks it. */
static char *image_id(struct client *c, const struct compose_service *svc)
{
    _cleanup_free_ char *e = wcmd_escape(svc->image);
    _cleanup_free_ char *path = xasprintf("/images/%s/json", e);
    bool missing;
    _cleanup_json_ json_t *img = get_json(c, path, &missing);
    const char *id = json_string_value(json_object_get(img, "Id"));
    return id ? xstrdup(id) : NULL;
}

static int start_container(struct client *c, const char *id, const char *name)
{
    _cleanup_free_ char *e = wcmd_escape(id);
    _cleanup_free_ char *path = xasprintf("/containers/%s/start", e);
    if (call(c, "POST", path, NULL, NULL) < 0)
        return -1;
    say("Container", name, "Started");
    return 0;
}

static int remove_container(struct client *c, const char *id, const char *name, bool stop)
{
    _cleanup_free_ char *e = wcmd_escape(id);
    _cleanup_free_ char *path = NULL;
    if (stop) {
        path = xasprintf("/containers/%s/stop", e);
        if (call(c, "POST", path, NULL, NULL) < 0)
            return -1;
        say("Container", name, "Stopped");
        free(path);
    }
    path = xasprintf("/containers/%s?force=1", e);
    if (call(c, "DELETE", path, NULL, NULL) < 0)
        return -1;
    say("Container", name, "Removed");
    return 0;
}

/* Creates replica number of svc (under a temporary name when the final one
 * is still taken: a recreate renames it after the old one goes). */
static char *create_container(struct client *c, const struct compose_project *p,
                              const struct compose_service *svc, int number, const char *image,
                              const char *as_name)
{
    struct compose_create_options o = {.number = number, .image_id = image};
    _cleanup_json_ json_t *body = compose_container_body(p, svc, &o);
    _cleanup_free_ char *e = wcmd_escape(as_name);
    _cleanup_free_ char *path = xasprintf("/containers/create?name=%s", e);
    _cleanup_json_ json_t *answer = NULL;
    if (call(c, "POST", path, body, &answer) < 0)
        return NULL;
    const char *id = json_string_value(json_object_get(answer, "Id"));
    return id ? xstrdup(id) : NULL;
}

/* Waits until dependency dep of a service holds (its containers healthy, or
 * exited 0); -1 after printing why it cannot. */
static int wait_condition(struct client *c, const struct compose_project *p,
                          const struct compose_dependency *dep)
{
    if (dep->condition == COMPOSE_SERVICE_STARTED)
        return 0;
    for (int tries = 0;; tries++) {
        _cleanup_json_ json_t *list = project_containers(c, p, true, false);
        if (!list)
            return -1;
        size_t i, n = 0, ok = 0;
        json_t *e;
        json_array_foreach(list, i, e)
        {
            const char *svc = label_of(e, COMPOSE_LABEL_SERVICE);
            if (!svc || strcmp(svc, dep->service) != 0)
                continue;
            n++;
            _cleanup_free_ char *eid = wcmd_escape(json_string_value(json_object_get(e, "Id")));
            _cleanup_free_ char *path = xasprintf("/containers/%s/json", eid);
            _cleanup_json_ json_t *info = get_json(c, path, NULL);
            json_t *state = json_object_get(info, "State");
            const char *status = json_string_value(json_object_get(state, "Status"));
            const char *health =
                json_string_value(json_object_get(json_object_get(state, "Health"), "Status"));
            json_int_t code = json_integer_value(json_object_get(state, "ExitCode"));
            if (dep->condition == COMPOSE_SERVICE_HEALTHY) {
                if (!health) {
                    fprintf(stderr, "dependency failed to start: container %s has no healthcheck "
                                    "configured\n",
                            first_name(e));
                    return -1;
                }
                if (strcmp(health, "unhealthy") == 0) {
                    fprintf(stderr, "dependency failed to start: container %s is unhealthy\n",
                            first_name(e));
                    return -1;
                }
                ok += strcmp(health, "healthy") == 0;
            } else if (status && strcmp(status, "exited") == 0) {
                if (code != 0) {
                    fprintf(stderr, "service \"%s\" didn't complete successfully: exit %lld\n",
                            dep->service, (long long)code);
                    return -1;
                }
                ok++;
            }
        }
        if (n > 0 && ok == n) {
            if (dep->condition == COMPOSE_SERVICE_HEALTHY) {
                json_array_foreach(list, i, e)
                {
                    const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
                    if (s && strcmp(s, dep->service) == 0)
                        say("Container", first_name(e), "Healthy");
                }
            }
            return 0;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Brings one service to its plan; *recreated says whether a container of it
 * was replaced (its dependents then are too). */
static int build_service(const struct wcmd_ctx *ctx, const struct compose_service *svc,
                         bool no_cache);

/* How `up` treats builds: --build always, --no-build never, else when the
 * image is missing. */
enum up_build { UP_BUILD_MISSING, UP_BUILD_ALWAYS, UP_BUILD_NEVER };

static int up_service(const struct wcmd_ctx *ctx, struct client *c,
                      const struct compose_project *p, const struct compose_service *svc,
                      json_t *containers, bool force, bool no_recreate, enum up_build build,
                      bool dep_recreated, bool *recreated)
{
    *recreated = false;
    for (size_t k = 0; k < svc->n_depends_on; k++)
        if (wait_condition(c, p, &svc->depends_on[k]) < 0)
            return -1;
    _cleanup_free_ char *image = image_id(c, svc);
    if (svc->has_build && build != UP_BUILD_NEVER && (!image || build == UP_BUILD_ALWAYS)) {
        if (build_service(ctx, svc, false) != 0)
            return -1;
        free(image);
        image = image_id(c, svc);
    } else if (!image && svc->has_image &&
               wcmd_pull_image(c, svc->image, NULL, false, stderr) == 0) {
        image = image_id(c, svc); /* Compose pulls a missing image */
    }
    if (!image) {
        fprintf(stderr, "service %s: no such image: %s\n", svc->name, svc->image);
        return -1;
    }
    size_t n = 0, i;
    json_t *e;
    struct compose_existing *ex = xcalloc(json_array_size(containers) + 1, sizeof(*ex));
    json_array_foreach(containers, i, e)
    {
        const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
        if (!s || strcmp(s, svc->name) != 0)
            continue;
        const char *num = label_of(e, COMPOSE_LABEL_NUMBER);
        const char *state = json_string_value(json_object_get(e, "State"));
        ex[n++] = (struct compose_existing){
            .id = json_string_value(json_object_get(e, "Id")),
            .name = first_name(e),
            .number = num ? atoi(num) : 0,
            .hash = label_of(e, COMPOSE_LABEL_HASH),
            .image_id = json_string_value(json_object_get(e, "ImageID")),
            .running = state && (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
                                 strcmp(state, "restarting") == 0)};
    }
    struct compose_plan_options po = {.force_recreate = force,
                                      .no_recreate = no_recreate,
                                      .dependency_recreated = dep_recreated,
                                      .image_id = image};
    struct compose_step *steps = NULL;
    size_t n_steps = 0;
    int rc = compose_plan_service(svc, ex, n, &po, &steps, &n_steps);
    for (size_t k = 0; k < n_steps && rc == 0; k++) {
        const struct compose_step *st = &steps[k];
        _cleanup_free_ char *name = compose_container_name(p, svc, st->number);
        switch (st->action) {
        case COMPOSE_KEEP:
            say("Container", name, "Running");
            break;
        case COMPOSE_START:
            rc = start_container(c, st->existing->id, name);
            break;
        case COMPOSE_CREATE: {
            _cleanup_free_ char *id = create_container(c, p, svc, st->number, image, name);
            if (!id) {
                rc = -1;
                break;
            }
            say("Container", name, "Created");
            rc = start_container(c, id, name);
            break;
        }
        case COMPOSE_RECREATE: {
            /* as Compose: the old one stops and steps aside, the new one
             * takes the name, the old one goes */
            *recreated = true;
            _cleanup_free_ char *old = wcmd_escape(st->existing->id);
            _cleanup_free_ char *stop = xasprintf("/containers/%s/stop", old);
            _cleanup_free_ char *aside = xasprintf("%.12s_%s", st->existing->id, name);
            _cleanup_free_ char *easide = wcmd_escape(aside);
            _cleanup_free_ char *rename =
                xasprintf("/containers/%s/rename?name=%s", old, easide);
            if (call(c, "POST", stop, NULL, NULL) < 0 || call(c, "POST", rename, NULL, NULL) < 0) {
                rc = -1;
                break;
            }
            say("Container", name, "Recreate");
            _cleanup_free_ char *id = create_container(c, p, svc, st->number, image, name);
            _cleanup_free_ char *del = xasprintf("/containers/%s?force=1", old);
            if (!id || call(c, "DELETE", del, NULL, NULL) < 0) {
                rc = -1;
                break;
            }
            say("Container", name, "Recreated");
            rc = start_container(c, id, name);
            break;
        }
        case COMPOSE_REMOVE:
            rc = remove_container(c, st->existing->id, st->existing->name, true);
            break;
        }
    }
    free(steps);
    free(ex);
    return rc < 0 ? -1 : 0;
}

/* Ctrl-C during a foreground `up`: the project's containers stop (their
 * log streams end with them). */
struct up_signals {
    const struct wcmd_ctx *ctx;
    struct compose_project *p;
    struct compose_service **svcs;
    size_t n;
    bool interrupted;
};

static void *wait_signals(void *ud)
{
    struct up_signals *u = ud;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    int sig = 0;
    if (sigwait(&set, &sig) != 0 || sig == SIGUSR1)
        return NULL;
    u->interrupted = true;
    fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
    struct wcmd_ctx ctx = *u->ctx;
    struct client *c = wcmd_client(&ctx);
    if (!c)
        return NULL;
    _cleanup_json_ json_t *containers = project_containers(c, u->p, false, false);
    /* dependents first */
    for (size_t k = u->n; k-- > 0;) {
        size_t i;
        json_t *e;
        json_array_foreach(containers, i, e)
        {
            const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
            if (!s || strcmp(s, u->svcs[k]->name) != 0)
                continue;
            _cleanup_free_ char *id = wcmd_escape(json_string_value(json_object_get(e, "Id")));
            _cleanup_free_ char *path = xasprintf("/containers/%s/stop", id);
            if (call(c, "POST", path, NULL, NULL) == 0)
                say("Container", first_name(e), "Stopped");
        }
    }
    client_free(c);
    return NULL;
}

/* `up` without -d: the services' logs followed, prefixed, until they all
 * end; Ctrl-C stops the containers first (exit 130, as Compose). */
static int follow_up(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                     struct compose_service **svcs, size_t n)
{
    char **names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = (char *)svcs[i]->name;
    _cleanup_json_ json_t *containers = service_containers(c, p, names, (int)n, true);
    free(names);
    if (!containers)
        return WCMD_EXIT_ERROR;
    printf("Attaching to");
    for (size_t i = 0; i < json_array_size(containers); i++)
        printf("%s %s", i ? "," : "", json_string_value(json_array_get(containers, i)));
    printf("\n");
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    struct up_signals u = {ctx, p, svcs, n, false};
    pthread_t th;
    bool watching = pthread_create(&th, NULL, wait_signals, &u) == 0;
    print_logs(ctx, c, containers, "&follow=1", true);
    if (watching) {
        pthread_kill(th, SIGUSR1);
        pthread_join(th, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return u.interrupted ? 130 : 0;
}

static int cmd_up(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                  int argc, char **argv)
{
    enum { OPT_FORCE = 256, OPT_NO_RECREATE, OPT_SCALE, OPT_REMOVE_ORPHANS, OPT_BUILD,
           OPT_NO_BUILD };
    static const struct option opts[] = {{"detach", no_argument, 0, 'd'},
                                         {"build", no_argument, 0, OPT_BUILD},
                                         {"no-build", no_argument, 0, OPT_NO_BUILD},
                                         {"force-recreate", no_argument, 0, OPT_FORCE},
                                         {"no-recreate", no_argument, 0, OPT_NO_RECREATE},
                                         {"scale", required_argument, 0, OPT_SCALE},
                                         {"remove-orphans", no_argument, 0, OPT_REMOVE_ORPHANS},
                                         {0, 0, 0, 0}};
    bool detach = false, force = false, no_recreate = false, orphans = false;
    enum up_build build = UP_BUILD_MISSING;
    int ch;
    wharf_error err = {0};
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+d", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            detach = true;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_NO_RECREATE:
            no_recreate = true;
            break;
        case OPT_REMOVE_ORPHANS:
            orphans = true;
            break;
        case OPT_BUILD:
            build = UP_BUILD_ALWAYS;
            break;
        case OPT_NO_BUILD:
            build = UP_BUILD_NEVER;
            break;
        case OPT_SCALE:
            if (compose_set_scale(p, optarg, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return WCMD_EXIT_ERROR;
            }
            break;
        default:
            fprintf(stderr, "unknown flag for compose up: %s\n", argv[optind - 1]);
            return WCMD_EXIT_ERROR;
        }
    }
    if (force && no_recreate) {
        fprintf(stderr, "--force-recreate and --no-recreate are incompatible\n");
        return WCMD_EXIT_ERROR;
    }
    size_t n = 0;
    _cleanup_free_ struct compose_service **svcs =
        compose_select(p, (const char *const *)argv + optind, (size_t)(argc - optind), true, &n,
                       &err);
    if (!svcs) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    if (ensure_resources(c, p, true) < 0 || ensure_resources(c, p, false) < 0)
        return WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *containers = project_containers(c, p, true, false);
    if (!containers)
        return WCMD_EXIT_ERROR;
    if (orphans) {
        size_t i;
        json_t *e;
        json_array_foreach(containers, i, e)
        {
            const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
            if (s && !compose_service(p, s) &&
                remove_container(c, json_string_value(json_object_get(e, "Id")), first_name(e),
                                 true) < 0)
                return WCMD_EXIT_ERROR;
        }
    }
    /* a service recreated makes its dependents recreate too */
    const char **recreated = xcalloc(n + 1, sizeof(*recreated));
    size_t n_recreated = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool dep = false, again = false;
        for (size_t k = 0; k < svcs[i]->n_depends_on; k++)
            for (size_t m = 0; m < n_recreated; m++)
                dep |= strcmp(svcs[i]->depends_on[k].service, recreated[m]) == 0;
        rc = up_service(ctx, c, p, svcs[i], containers, force, no_recreate, build, dep, &again);
        if (again)
            recreated[n_recreated++] = svcs[i]->name;
    }
    free(recreated);
    if (rc < 0)
        return WCMD_EXIT_ERROR;
    return detach ? 0 : follow_up(ctx, c, p, svcs, n);
}

/* ---------------------------------------------------------------- down, start, stop */

/* Stops (when running) and, with remove, removes containers (entries of a
 * container list) all at once, a thread each, as Compose does. */
struct stop_job {
    const struct wcmd_ctx *ctx;
    json_t *container;
    bool remove;
    int rc;
};

static void *stop_one(void *ud)
{
    struct stop_job *j = ud;
    struct wcmd_ctx ctx = *j->ctx;
    struct client *c = wcmd_client(&ctx);
    if (!c) {
        j->rc = -1;
        return NULL;
    }
    const char *id = json_string_value(json_object_get(j->container, "Id"));
    const char *state = json_string_value(json_object_get(j->container, "State"));
    bool running = state && (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
                             strcmp(state, "restarting") == 0);
    if (j->remove) {
        j->rc = remove_container(c, id, first_name(j->container), running);
    } else if (running) {
        _cleanup_free_ char *e = wcmd_escape(id);
        _cleanup_free_ char *path = xasprintf("/containers/%s/stop", e);
        j->rc = call(c, "POST", path, NULL, NULL);
        if (j->rc == 0)
            say("Container", first_name(j->container), "Stopped");
    }
    client_free(c);
    return NULL;
}

static int stop_all(const struct wcmd_ctx *ctx, json_t *batch, bool remove)
{
    size_t n = json_array_size(batch);
    struct stop_job *jobs = xcalloc(n + 1, sizeof(*jobs));
    pthread_t *th = xcalloc(n + 1, sizeof(*th));
    bool *started = xcalloc(n + 1, sizeof(*started));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (struct stop_job){ctx, json_array_get(batch, i), remove, 0};
        started[i] = pthread_create(&th[i], NULL, stop_one, &jobs[i]) == 0;
        if (!started[i])
            stop_one(&jobs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        rc |= jobs[i].rc;
    }
    free(started);
    free(th);
    free(jobs);
    return rc < 0 ? -1 : 0;
}

/* Stops (and with remove, removes) the containers of the services svcs
 * (and, with orphans, those of services the project no longer has) in
 * waves: a service goes once no service still running depends on it; the
 * containers of a wave go all at once. */
static int stop_in_waves(const struct wcmd_ctx *ctx, struct compose_project *p,
                         struct compose_service **svcs, size_t n, json_t *containers,
                         bool remove, bool orphans)
{
    bool *done = xcalloc(n + 1, sizeof(*done));
    size_t left = n;
    int rc = 0;
    if (orphans) {
        _cleanup_json_ json_t *batch = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(containers, i, e)
        {
            const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
            if (!s || !compose_service(p, s))
                json_array_append(batch, e);
        }
        rc = stop_all(ctx, batch, remove);
    }
    while (left && rc == 0) {
        bool ready[n + 1];
        for (size_t k = 0; k < n; k++) {
            ready[k] = !done[k];
            for (size_t m = 0; m < n && ready[k]; m++)
                for (size_t d = 0; !done[m] && m != k && d < svcs[m]->n_depends_on; d++)
                    if (strcmp(svcs[m]->depends_on[d].service, svcs[k]->name) == 0)
                        ready[k] = false;
        }
        _cleanup_json_ json_t *batch = json_array();
        size_t wave = 0;
        for (size_t k = 0; k < n; k++) {
            if (!ready[k])
                continue;
            wave++;
            done[k] = true;
            size_t i;
            json_t *e;
            json_array_foreach(containers, i, e)
            {
                const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
                if (s && strcmp(s, svcs[k]->name) == 0)
                    json_array_append(batch, e);
            }
        }
        if (wave == 0) /* a cycle cannot load; be safe anyway */
            for (size_t k = 0; k < n; k++)
                done[k] = true, wave++;
        left -= wave < left ? wave : left;
        rc = stop_all(ctx, batch, remove);
    }
    free(done);
    return rc;
}

static int cmd_down(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                    int argc, char **argv)
{
    enum { OPT_REMOVE_ORPHANS = 256, OPT_RMI };
    static const struct option opts[] = {{"volumes", no_argument, 0, 'v'},
                                         {"remove-orphans", no_argument, 0, OPT_REMOVE_ORPHANS},
                                         {"rmi", required_argument, 0, OPT_RMI},
                                         {0, 0, 0, 0}};
    bool volumes = false, orphans = false;
    const char *rmi = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
        if (ch == 'v') {
            volumes = true;
        } else if (ch == OPT_REMOVE_ORPHANS) {
            orphans = true;
        } else if (ch == OPT_RMI && (strcmp(optarg, "all") == 0 || strcmp(optarg, "local") == 0)) {
            rmi = optarg;
        } else if (ch == OPT_RMI) {
            fprintf(stderr, "invalid value for --rmi: %s (all or local)\n", optarg);
            return WCMD_EXIT_ERROR;
        } else {
            fprintf(stderr, "unknown flag for compose down: %s\n", argv[optind - 1]);
            return WCMD_EXIT_ERROR;
        }
    }
    _cleanup_json_ json_t *containers = project_containers(c, p, true, true);
    if (!containers)
        return WCMD_EXIT_ERROR;
    struct compose_service **all = xcalloc(p->n_services + 1, sizeof(*all));
    for (size_t k = 0; k < p->n_services; k++)
        all[k] = &p->services[k];
    int rc = stop_in_waves(ctx, p, all, p->n_services, containers, true, orphans);
    free(all);
    if (rc < 0)
        return WCMD_EXIT_ERROR;
    /* --rmi: the services' images (local: only those built here, without
     * an image name of their own) */
    for (size_t k = 0; rmi && k < p->n_services; k++) {
        const struct compose_service *svc = &p->services[k];
        if (strcmp(rmi, "local") == 0 && svc->has_image)
            continue;
        _cleanup_free_ char *e = wcmd_escape(svc->image);
        _cleanup_free_ char *path = xasprintf("/images/%s", e);
        bool missing;
        _cleanup_free_ char *ipath = xasprintf("/images/%s/json", e);
        _cleanup_json_ json_t *have = get_json(c, ipath, &missing);
        if (!have)
            continue;
        if (call(c, "DELETE", path, NULL, NULL) < 0)
            return WCMD_EXIT_ERROR;
        say("Image", svc->image, "Removed");
    }
    if (remove_resources(c, p, true) < 0 || (volumes && remove_resources(c, p, false) < 0))
        return WCMD_EXIT_ERROR;
    return 0;
}

/* start, stop, restart [SERVICE...]: each container of those services. */
static int cmd_each(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                    int argc, char **argv, const char *action, const char *done)
{
    wharf_error err = {0};
    size_t n = 0;
    _cleanup_free_ struct compose_service **svcs =
        compose_select(p, (const char *const *)argv + 1, (size_t)(argc - 1), false, &n, &err);
    if (!svcs) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_json_ json_t *containers = project_containers(c, p, true, false);
    if (!containers)
        return WCMD_EXIT_ERROR;
    bool stop = strcmp(action, "stop") == 0;
    if (stop) /* all at once, dependents first */
        return stop_in_waves(ctx, p, svcs, n, containers, false, false) < 0 ? WCMD_EXIT_ERROR : 0;
    for (size_t k = 0; k < n; k++) {
        const struct compose_service *svc = svcs[k];
        size_t i;
        json_t *e;
        json_array_foreach(containers, i, e)
        {
            const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
            if (!s || strcmp(s, svc->name) != 0)
                continue;
            _cleanup_free_ char *id = wcmd_escape(json_string_value(json_object_get(e, "Id")));
            _cleanup_free_ char *path = xasprintf("/containers/%s/%s", id, action);
            if (call(c, "POST", path, NULL, NULL) < 0)
                return WCMD_EXIT_ERROR;
            say("Container", first_name(e), done);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- ps, config */

static int cmd_ps(struct client *c, struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, 0, 'a'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    bool all = false, quiet = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+aq", opts, NULL)) != -1) {
        if (ch == 'a')
            all = true;
        else if (ch == 'q')
            quiet = true;
        else {
            fprintf(stderr, "unknown flag for compose ps: %s\n", argv[optind - 1]);
            return WCMD_EXIT_ERROR;
        }
    }
    _cleanup_json_ json_t *containers = project_containers(c, p, all, false);
    if (!containers)
        return WCMD_EXIT_ERROR;
    if (!quiet)
        printf("%-24s %-20s %-10s %-24s %s\n", "NAME", "IMAGE", "SERVICE", "STATUS", "PORTS");
    size_t i;
    json_t *e;
    json_array_foreach(containers, i, e)
    {
        const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
        bool named = optind >= argc;
        for (int k = optind; k < argc && !named; k++)
            named = s && strcmp(s, argv[k]) == 0;
        if (!named)
            continue;
        if (quiet) {
            printf("%s\n", json_string_value(json_object_get(e, "Id")));
            continue;
        }
        _cleanup_strbuf_ strbuf ports = STRBUF_INIT;
        size_t k;
        json_t *pt;
        json_array_foreach(json_object_get(e, "Ports"), k, pt)
        {
            json_int_t pub = json_integer_value(json_object_get(pt, "PublicPort"));
            if (!pub)
                continue;
            strbuf_addf(&ports, "%s%s:%lld->%lld/%s", ports.len ? ", " : "",
                        json_string_value(json_object_get(pt, "IP")) ?: "0.0.0.0", (long long)pub,
                        (long long)json_integer_value(json_object_get(pt, "PrivatePort")),
                        json_string_value(json_object_get(pt, "Type")) ?: "tcp");
        }
        printf("%-24s %-20s %-10s %-24s %s\n", first_name(e),
               json_string_value(json_object_get(e, "Image")) ?: "", s ?: "",
               json_string_value(json_object_get(e, "Status")) ?: "", strbuf_str(&ports));
    }
    return 0;
}

/* ---------------------------------------------------------------- per-container commands */

/* The names of the containers of the services named in names (all when
 * none), running ones only unless all; a new array of strings. NULL after
 * printing an unknown service. */
static json_t *service_containers(struct client *c, struct compose_project *p, char **names,
                                  int n, bool all)
{
    wharf_error err = {0};
    size_t count = 0;
    _cleanup_free_ struct compose_service **svcs =
        compose_select(p, (const char *const *)names, (size_t)n, false, &count, &err);
    if (!svcs) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    _cleanup_json_ json_t *containers = project_containers(c, p, all, false);
    if (!containers)
        return NULL;
    json_t *out = json_array();
    for (size_t k = 0; k < count; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(containers, i, e)
        {
            const char *s = label_of(e, COMPOSE_LABEL_SERVICE);
            if (s && strcmp(s, svcs[k]->name) == 0)
                json_array_append_new(out, json_string(first_name(e)));
        }
    }
    return out;
}

/* ---------------------------------------------------------------- logs */

/* One container's log followed on a thread of its own, its lines printed
 * with "NAME  | " in front (in a colour on a terminal), as Compose does. */
struct log_follow {
    const struct wcmd_ctx *ctx;
    char *name;
    char prefix[160];
    bool tty; /* the container has a terminal: its stream is not multiplexed */
    const char *query;
    struct client_demux dm;
    strbuf line;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void put_lines(struct log_follow *lf, const char *buf, size_t len, bool flush)
{
    strbuf_add(&lf->line, buf, len);
    char *start = lf->line.buf, *nl;
    pthread_mutex_lock(&out_lock);
    while (start && (nl = memchr(start, '\n', lf->line.len - (size_t)(start - lf->line.buf)))) {
        printf("%s%.*s\n", lf->prefix, (int)(nl - start), start);
        start = nl + 1;
    }
    if (flush && start && *start) {
        printf("%s%s\n", lf->prefix, start);
        start += strlen(start);
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    size_t used = start ? (size_t)(start - lf->line.buf) : 0;
    memmove(lf->line.buf, lf->line.buf + used, lf->line.len - used + 1);
    lf->line.len -= used;
}

static int on_frame(void *ud, int stream, const char *buf, size_t len)
{
    (void)stream;
    put_lines(ud, buf, len, false);
    return 0;
}

static int on_log_data(void *ud, const char *buf, size_t len)
{
    struct log_follow *lf = ud;
    if (lf->tty)
        put_lines(lf, buf, len, false);
    else
        client_demux_feed(&lf->dm, buf, len, on_frame, lf);
    return 0;
}

static void *follow_log(void *ud)
{
    struct log_follow *lf = ud;
    struct wcmd_ctx ctx = *lf->ctx;
    struct client *c = wcmd_client(&ctx);
    if (!c)
        return NULL;
    _cleanup_free_ char *e = wcmd_escape(lf->name);
    _cleanup_free_ char *path = xasprintf("/containers/%s/logs?stdout=1&stderr=1%s", e, lf->query);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    client_stream(c, "GET", path, NULL, on_log_data, lf, &resp, &err);
    put_lines(lf, "", 0, true);
    client_response_release(&resp);
    client_free(c);
    return NULL;
}

/* Prints the logs of the containers named in names (a JSON array), each
 * line prefixed, all at once; with follow until every stream ends. */
static int print_logs(const struct wcmd_ctx *ctx, struct client *c, json_t *names,
                      const char *query, bool prefix)
{
    size_t n = json_array_size(names), width = 0;
    for (size_t i = 0; i < n; i++)
        width = strlen(json_string_value(json_array_get(names, i))) > width
                    ? strlen(json_string_value(json_array_get(names, i)))
                    : width;
    static const int colors[] = {36, 33, 32, 35, 34, 31};
    bool color = isatty(STDOUT_FILENO);
    struct log_follow *lfs = xcalloc(n + 1, sizeof(*lfs));
    pthread_t *th = xcalloc(n + 1, sizeof(*th));
    for (size_t i = 0; i < n; i++) {
        struct log_follow *lf = &lfs[i];
        const char *name = json_string_value(json_array_get(names, i));
        *lf = (struct log_follow){.ctx = ctx, .name = xstrdup(name), .query = query,
                                  .line = STRBUF_INIT};
        if (prefix && color)
            snprintf(lf->prefix, sizeof(lf->prefix), "\033[%dm%-*s |\033[0m ",
                     colors[i % 6], (int)width, name);
        else if (prefix)
            snprintf(lf->prefix, sizeof(lf->prefix), "%-*s | ", (int)width, name);
        _cleanup_free_ char *e = wcmd_escape(name);
        _cleanup_free_ char *path = xasprintf("/containers/%s/json", e);
        _cleanup_json_ json_t *info = get_json(c, path, NULL);
        lf->tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
        pthread_create(&th[i], NULL, follow_log, lf);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        free(lfs[i].name);
        strbuf_release(&lfs[i].line);
    }
    free(th);
    free(lfs);
    return 0;
}

static int cmd_logs(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                    int argc, char **argv)
{
    enum { OPT_TAIL = 256, OPT_NO_PREFIX, OPT_NO_COLOR, OPT_SINCE, OPT_UNTIL };
    static const struct option opts[] = {{"follow", no_argument, 0, 'f'},
                                         {"timestamps", no_argument, 0, 't'},
                                         {"tail", required_argument, 0, OPT_TAIL},
                                         {"no-log-prefix", no_argument, 0, OPT_NO_PREFIX},
                                         {"no-color", no_argument, 0, OPT_NO_COLOR},
                                         {"since", required_argument, 0, OPT_SINCE},
                                         {"until", required_argument, 0, OPT_UNTIL},
                                         {0, 0, 0, 0}};
    bool prefix = true;
    _cleanup_strbuf_ strbuf q = STRBUF_INIT;
    strbuf_addstr(&q, "?");
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+ftn:", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            strbuf_addstr(&q, "&follow=1");
            break;
        case 't':
            strbuf_addstr(&q, "&timestamps=1");
            break;
        case 'n':
        case OPT_TAIL:
            wcmd_add_query(&q, "tail", optarg);
            break;
        case OPT_SINCE:
            wcmd_add_query(&q, "since", optarg);
            break;
        case OPT_UNTIL:
            wcmd_add_query(&q, "until", optarg);
            break;
        case OPT_NO_PREFIX:
            prefix = false;
            break;
        case OPT_NO_COLOR:
            break;
        default:
            fprintf(stderr, "unknown flag for compose logs: %s\n", argv[optind - 1]);
            return WCMD_EXIT_ERROR;
        }
    }
    _cleanup_json_ json_t *names = service_containers(c, p, argv + optind, argc - optind, true);
    if (!names)
        return WCMD_EXIT_ERROR;
    /* "?&a=1&b=2": the logs path adds its own "?" */
    return print_logs(ctx, c, names, q.buf + 1, prefix);
}

/* Runs the wharf command fn as `wharf NAME FLAGS... CONTAINERS...` (the
 * containers last; with one_each, once per container). */
static int delegate(struct wcmd_ctx *ctx, wcmd_fn fn, const char *name, char **flags,
                    size_t n_flags, json_t *containers, bool one_each, char **tail, size_t n_tail)
{
    size_t n = json_array_size(containers);
    if (n == 0)
        return 0;
    char **argv = xcalloc(n_flags + n + n_tail + 2, sizeof(*argv));
    int rc = 0;
    for (size_t from = 0; from < n && rc == 0; from += one_each ? 1 : n) {
        size_t argc = 0;
        argv[argc++] = (char *)name;
        for (size_t i = 0; i < n_flags; i++)
            argv[argc++] = flags[i];
        for (size_t i = from; i < (one_each ? from + 1 : n); i++)
            argv[argc++] = (char *)json_string_value(json_array_get(containers, i));
        for (size_t i = 0; i < n_tail; i++)
            argv[argc++] = tail[i];
        argv[argc] = NULL;
        struct wcmd_ctx sub = *ctx;
        sub.name = name;
        if (one_each && n > 1 && strcmp(name, "top") == 0)
            printf("%s\n", argv[argc - 1 - n_tail]);
        rc = fn(&sub, (int)argc, argv);
    }
    free(argv);
    return rc;
}

/* kill, pause, unpause, rm, top, logs, exec, port: Compose's flags are
 * those of the wharf commands they become; the service names select the
 * containers. Flags come before the services, as Compose wants them. */
static int cmd_delegated(struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                         int argc, char **argv)
{
    const char *cmd = argv[0];
    int i = 1;
    /* flags: everything up to the first word that is not one (a flag's
     * value included when the flag takes one) */
    static const char *const with_value[] = {"-s", "--signal", "--tail", "-n", "--since",
                                             "--until", "-u", "--user", "-w", "--workdir",
                                             "-e", "--env", "--index", NULL};
    bool no_tty = false;
    char **flags = xcalloc((size_t)argc + 4, sizeof(*flags));
    size_t n_flags = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-T") == 0 || strcmp(argv[i], "--no-TTY") == 0) {
            no_tty = true;
            continue;
        }
        flags[n_flags++] = argv[i];
        for (size_t k = 0; with_value[k]; k++)
            if (strcmp(argv[i], with_value[k]) == 0 && i + 1 < argc)
                flags[n_flags++] = argv[++i];
    }
    int rc;
    if (strcmp(cmd, "exec") == 0 || strcmp(cmd, "port") == 0) {
        if (i >= argc) {
            fprintf(stderr, "'wharf compose %s' requires a service\n", cmd);
            free(flags);
            return WCMD_EXIT_ERROR;
        }
        _cleanup_json_ json_t *names = service_containers(c, p, argv + i, 1, false);
        if (!names) {
            free(flags);
            return WCMD_EXIT_ERROR;
        }
        if (json_array_size(names) == 0) {
            fprintf(stderr, "service \"%s\" is not running\n", argv[i]);
            free(flags);
            return WCMD_EXIT_ERROR;
        }
        json_t *first = json_array();
        json_array_append(first, json_array_get(names, json_array_size(names) - 1));
        if (strcmp(cmd, "exec") == 0 && !no_tty && isatty(STDIN_FILENO)) {
            flags[n_flags++] = "-i";
            flags[n_flags++] = "-t";
        }
        rc = delegate(ctx, strcmp(cmd, "exec") == 0 ? wcmd_exec : wcmd_port, cmd, flags, n_flags,
                      first, false, argv + i + 1, (size_t)(argc - i - 1));
        json_decref(first);
    } else {
        bool stopped = strcmp(cmd, "rm") == 0;
        _cleanup_json_ json_t *names = service_containers(c, p, argv + i, argc - i, true);
        json_t *keep = json_array();
        size_t k;
        json_t *n;
        /* rm takes the stopped ones (with -s, all after stopping them);
         * the others the running ones */
        bool rm_stop = false;
        for (size_t f = 0; f < n_flags; f++)
            rm_stop |= strcmp(flags[f], "-s") == 0 || strcmp(flags[f], "--stop") == 0;
        json_array_foreach(names, k, n)
        {
            _cleanup_free_ char *e = wcmd_escape(json_string_value(n));
            _cleanup_free_ char *path = xasprintf("/containers/%s/json", e);
            _cleanup_json_ json_t *info = get_json(c, path, NULL);
            bool running = json_is_true(json_object_get(json_object_get(info, "State"), "Running"));
            if (stopped ? (!running || rm_stop) : running)
                json_array_append(keep, n);
        }
        if (!names) {
            json_decref(keep);
            free(flags);
            return WCMD_EXIT_ERROR;
        }
        wcmd_fn fn = strcmp(cmd, "kill") == 0      ? wcmd_kill
                     : strcmp(cmd, "pause") == 0   ? wcmd_pause
                     : strcmp(cmd, "unpause") == 0 ? wcmd_unpause
                     : strcmp(cmd, "top") == 0     ? wcmd_top
                                                   : wcmd_rm;
        if (fn == wcmd_rm) {
            /* Compose's rm flags: -f (no prompt), -s (stop first), -v */
            size_t w = 0;
            for (size_t f = 0; f < n_flags; f++)
                if (strcmp(flags[f], "-v") == 0 || strcmp(flags[f], "--volumes") == 0)
                    flags[w++] = "-v";
            if (rm_stop)
                flags[w++] = "-f";
            n_flags = w;
        }
        rc = delegate(ctx, fn, cmd, flags, n_flags, keep, fn == wcmd_top, NULL, 0);
        json_decref(keep);
    }
    free(flags);
    return rc;
}

/* ---------------------------------------------------------------- build, pull, push */

/* Builds svc's image (wharf build with the service's context, dockerfile,
 * args and target, tagged with its image name). */
static int build_service(const struct wcmd_ctx *ctx, const struct compose_service *svc,
                         bool no_cache)
{
    json_t *b = json_object_get(svc->config, "build");
    const char *context = json_string_value(json_object_get(b, "context"));
    if (!context)
        return 0;
    printf(" Service %s  Building\n", svc->name);
    fflush(stdout);
    size_t cap = 16 + 2 * json_object_size(json_object_get(b, "args"));
    char **argv = xcalloc(cap, sizeof(*argv));
    char **owned = xcalloc(cap, sizeof(*owned));
    size_t argc = 0, n_owned = 0;
    argv[argc++] = "build";
    argv[argc++] = "-q";
    argv[argc++] = "-t";
    argv[argc++] = svc->image;
    const char *dockerfile = json_string_value(json_object_get(b, "dockerfile"));
    if (dockerfile) {
        argv[argc++] = "-f";
        /* relative to the context, as Compose takes it */
        argv[argc++] = owned[n_owned++] = dockerfile[0] == '/'
                                               ? xstrdup(dockerfile)
                                               : xasprintf("%s/%s", context, dockerfile);
    }
    const char *target = json_string_value(json_object_get(b, "target"));
    if (target) {
        argv[argc++] = "--target";
        argv[argc++] = (char *)target;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(b, "args"), k, v)
    {
        argv[argc++] = "--build-arg";
        argv[argc++] = owned[n_owned++] =
            json_is_string(v) ? xasprintf("%s=%s", k, json_string_value(v)) : xstrdup(k);
    }
    if (no_cache)
        argv[argc++] = "--no-cache";
    argv[argc++] = (char *)context;
    struct wcmd_ctx sub = *ctx;
    sub.name = "build";
    /* wharf build -q prints the image ID: keep it off compose's output */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *null = fopen("/dev/null", "w");
    if (null)
        dup2(fileno(null), STDOUT_FILENO);
    int rc = wcmd_build(&sub, (int)argc, argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    if (null)
        fclose(null);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    if (rc == 0)
        printf(" Service %s  Built\n", svc->name);
    fflush(stdout);
    return rc;
}

/* build / pull / push [SERVICE...] */
static int cmd_images_op(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                         int argc, char **argv)
{
    const char *cmd = argv[0];
    bool no_cache = false, quiet = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--no-cache") == 0)
            no_cache = true;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else {
            fprintf(stderr, "unknown flag for compose %s: %s\n", cmd, argv[i]);
            return WCMD_EXIT_ERROR;
        }
    }
    wharf_error err = {0};
    size_t n = 0;
    _cleanup_free_ struct compose_service **svcs =
        compose_select(p, (const char *const *)argv + i, (size_t)(argc - i), false, &n, &err);
    if (!svcs) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    for (size_t k = 0; k < n; k++) {
        const struct compose_service *svc = svcs[k];
        int rc = 0;
        if (strcmp(cmd, "build") == 0) {
            if (svc->has_build)
                rc = build_service(ctx, svc, no_cache);
        } else if (strcmp(cmd, "pull") == 0) {
            /* what has a build section and no image of its own is built, not pulled */
            if (!svc->has_image)
                continue;
            rc = wcmd_pull_image(c, svc->image, NULL, quiet, stderr) ? -1 : 0;
            if (rc == 0)
                printf(" %s  Pulled\n", svc->name);
        } else {
            char *args[] = {"push", svc->image, NULL};
            struct wcmd_ctx sub = *ctx;
            sub.name = "push";
            rc = wcmd_push(&sub, 2, args);
        }
        if (rc != 0)
            return WCMD_EXIT_ERROR;
    }
    return 0;
}

/* images [SERVICE...]: the images the project's containers run. */
static int cmd_images(struct client *c, struct compose_project *p, int argc, char **argv)
{
    _cleanup_json_ json_t *names = service_containers(c, p, argv + 1, argc - 1, true);
    if (!names)
        return WCMD_EXIT_ERROR;
    printf("%-24s %-28s %-10s %-14s %s\n", "CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        _cleanup_free_ char *e = wcmd_escape(json_string_value(n));
        _cleanup_free_ char *path = xasprintf("/containers/%s/json", e);
        _cleanup_json_ json_t *info = get_json(c, path, NULL);
        const char *image = json_string_value(json_object_get(info, "Image"));
        const char *ref = json_string_value(json_object_get(json_object_get(info, "Config"), "Image"));
        _cleanup_free_ char *ei = wcmd_escape(image ? image : "");
        _cleanup_free_ char *ipath = xasprintf("/images/%s/json", ei);
        _cleanup_json_ json_t *img = get_json(c, ipath, NULL);
        _cleanup_free_ char *repo = xstrdup(ref ? ref : "<none>");
        char *colon = strrchr(repo, ':');
        const char *tag = "latest";
        if (colon && !strchr(colon, '/')) {
            *colon = '\0';
            tag = colon + 1;
        }
        _cleanup_strbuf_ strbuf size = STRBUF_INIT;
        wcmd_human_size((double)json_integer_value(json_object_get(img, "Size")), &size);
        const char *id = image && strncmp(image, "sha256:", 7) == 0 ? image + 7 : image ?: "";
        printf("%-24s %-28s %-10s %-14.12s %s\n", json_string_value(n), repo, tag, id,
               strbuf_str(&size));
    }
    return 0;
}

/* ---------------------------------------------------------------- run */

/* run [--rm] [-d] [-e K=V]... [-u USER] [-w DIR] [--entrypoint X] [-T]
 * [--no-deps] SERVICE [CMD...]: a one-off container of the service, its
 * dependencies up first. */
static int cmd_run(const struct wcmd_ctx *ctx, struct client *c, struct compose_project *p,
                   int argc, char **argv)
{
    enum { OPT_RM = 256, OPT_ENTRYPOINT, OPT_NO_DEPS, OPT_NAME };
    static const struct option opts[] = {{"rm", no_argument, 0, OPT_RM},
                                         {"detach", no_argument, 0, 'd'},
                                         {"env", required_argument, 0, 'e'},
                                         {"user", required_argument, 0, 'u'},
                                         {"workdir", required_argument, 0, 'w'},
                                         {"entrypoint", required_argument, 0, OPT_ENTRYPOINT},
                                         {"no-deps", no_argument, 0, OPT_NO_DEPS},
                                         {"name", required_argument, 0, OPT_NAME},
                                         {"no-TTY", no_argument, 0, 'T'},
                                         {0, 0, 0, 0}};
    bool rm = false, detach = false, no_tty = false, no_deps = false;
    const char *user = NULL, *workdir = NULL, *name = NULL;
    _cleanup_json_ json_t *env = json_array(), *entrypoint = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+de:u:w:T", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_RM: rm = true; break;
        case 'd': detach = true; break;
        case 'e': json_array_append_new(env, json_string(optarg)); break;
        case 'u': user = optarg; break;
        case 'w': workdir = optarg; break;
        case 'T': no_tty = true; break;
        case OPT_NO_DEPS: no_deps = true; break;
        case OPT_NAME: name = optarg; break;
        case OPT_ENTRYPOINT:
            json_decref(entrypoint);
            entrypoint = json_pack("[s]", optarg);
            break;
        default:
            fprintf(stderr, "unknown flag for compose run: %s\n", argv[optind - 1]);
            return WCMD_EXIT_ERROR;
        }
    }
    int at = optind; /* (up below parses flags again) */
    if (at >= argc) {
        fprintf(stderr, "'wharf compose run' requires a service\n");
        return WCMD_EXIT_ERROR;
    }
    struct compose_service *svc = compose_service(p, argv[at]);
    if (!svc) {
        fprintf(stderr, "no such service: %s\n", argv[at]);
        return WCMD_EXIT_ERROR;
    }
    if (!no_deps && svc->n_depends_on) {
        /* what it depends on comes up as `up -d DEPENDENCY...` would */
        char **up = xcalloc(svc->n_depends_on + 3, sizeof(*up));
        int n = 0;
        up[n++] = "up";
        up[n++] = "-d";
        for (size_t k = 0; k < svc->n_depends_on; k++)
            up[n++] = (char *)svc->depends_on[k].service;
        int rc = cmd_up(ctx, c, p, n, up);
        free(up);
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < svc->n_depends_on; k++)
            if (wait_condition(c, p, &svc->depends_on[k]) < 0)
                return WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *image = image_id(c, svc);
    if (!image && svc->has_build && build_service(ctx, svc, false) == 0)
        image = image_id(c, svc);
    if (!image) {
        fprintf(stderr, "service %s: no such image: %s\n", svc->name, svc->image);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_json_ json_t *command = NULL;
    if (at + 1 < argc) {
        command = json_array();
        for (int k = at + 1; k < argc; k++)
            json_array_append_new(command, json_string(argv[k]));
    }
    bool tty = !detach && !no_tty && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    struct compose_create_options o = {.oneoff = true,
                                       .image_id = image,
                                       .command = command,
                                       .entrypoint = entrypoint,
                                       .extra_env = env,
                                       .user = user,
                                       .workdir = workdir,
                                       .tty = tty,
                                       .stdin_open = !detach,
                                       .no_ports = true};
    _cleanup_json_ json_t *body = compose_container_body(p, svc, &o);
    if (rm)
        json_object_set_new(json_object_get(body, "HostConfig"), "AutoRemove", json_true());
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "%08x", (unsigned)(time(NULL) ^ getpid() ^ rand()));
    _cleanup_free_ char *cname =
        name ? xstrdup(name) : xasprintf("%s-%s-run-%.12s", p->name, svc->name, suffix);
    _cleanup_free_ char *e = wcmd_escape(cname);
    _cleanup_free_ char *path = xasprintf("/containers/create?name=%s", e);
    _cleanup_json_ json_t *answer = NULL;
    if (call(c, "POST", path, body, &answer) < 0)
        return WCMD_EXIT_ERROR;
    const char *id = json_string_value(json_object_get(answer, "Id"));
    if (!id)
        return WCMD_EXIT_ERROR;
    if (detach) {
        _cleanup_free_ char *eid = wcmd_escape(id);
        _cleanup_free_ char *start = xasprintf("/containers/%s/start", eid);
        if (call(c, "POST", start, NULL, NULL) < 0)
            return WCMD_EXIT_ERROR;
        printf("%s\n", cname);
        return 0;
    }
    struct wcmd_attach_opts ao = {.is_run = true,
                                  .input = true,
                                  .tty = tty,
                                  .auto_remove = rm,
                                  .sig_proxy = !tty};
    return wcmd_attach_and_start(c, id, &ao);
}

/* ---------------------------------------------------------------- entry */

static void usage(FILE *f)
{
    fputs("Usage: wharf compose [-f FILE]... [-p NAME] [--project-directory DIR]\n"
          "                     [--env-file FILE] [--profile NAME] COMMAND\n\n"
          "Commands: config, up -d [--force-recreate|--no-recreate] [--scale S=N]\n"
          "          [--remove-orphans] [SERVICE...], down [-v], ps [-a] [-q] [SERVICE...],\n"
          "          start, stop, restart, kill [-s SIG], pause, unpause, top,\n"
          "          logs [--tail N] [-t], rm [-s] [-v] [SERVICE...],\n"
          "          exec [-T] SERVICE CMD..., port SERVICE PORT\n",
          f);
}

int wcmd_compose(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_DIR = 256, OPT_ENV_FILE, OPT_PROFILE };
    static const struct option opts[] = {{"file", required_argument, 0, 'f'},
                                         {"project-name", required_argument, 0, 'p'},
                                         {"project-directory", required_argument, 0, OPT_DIR},
                                         {"env-file", required_argument, 0, OPT_ENV_FILE},
                                         {"profile", required_argument, 0, OPT_PROFILE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct project_flags f = {0};
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (f.n_files < sizeof(f.files) / sizeof(f.files[0]))
                f.files[f.n_files++] = optarg;
            break;
        case 'p':
            f.name = optarg;
            break;
        case OPT_DIR:
            f.directory = optarg;
            break;
        case OPT_ENV_FILE:
            if (f.n_env_files < sizeof(f.env_files) / sizeof(f.env_files[0]))
                f.env_files[f.n_env_files++] = optarg;
            break;
        case OPT_PROFILE:
            if (f.n_profiles < sizeof(f.profiles) / sizeof(f.profiles[0]))
                f.profiles[f.n_profiles++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return WCMD_EXIT_ERROR;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return WCMD_EXIT_ERROR;
    }
    const char *cmd = argv[optind];
    static const char *const known[] = {"config", "up",     "down",  "ps",   "start", "stop",
                                        "restart", "kill",  "pause", "unpause", "rm", "top",
                                        "logs",   "exec",   "port",  "build", "pull", "push",
                                        "images", "run"};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
        ok = strcmp(cmd, known[i]) == 0;
    if (!ok) {
        fprintf(stderr, "unknown compose command: %s (see 'wharf compose --help')\n", cmd);
        return WCMD_EXIT_ERROR;
    }
    struct compose_project *p = load(&f);
    if (!p)
        return WCMD_EXIT_ERROR;
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    int rc;
    if (strcmp(cmd, "config") == 0) {
        _cleanup_strbuf_ strbuf out = STRBUF_INIT;
        compose_yaml_emit(p->model, &out);
        fputs(strbuf_str(&out), stdout);
        compose_project_free(p);
        return 0;
    }
    struct client *c = wcmd_client(ctx);
    if (!c) {
        compose_project_free(p);
        return WCMD_EXIT_ERROR;
    }
    if (strcmp(cmd, "up") == 0)
        rc = cmd_up(ctx, c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "down") == 0)
        rc = cmd_down(ctx, c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "ps") == 0)
        rc = cmd_ps(c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "start") == 0)
        rc = cmd_each(ctx, c, p, sub_argc, sub_argv, "start", "Started");
    else if (strcmp(cmd, "stop") == 0)
        rc = cmd_each(ctx, c, p, sub_argc, sub_argv, "stop", "Stopped");
    else if (strcmp(cmd, "restart") == 0)
        rc = cmd_each(ctx, c, p, sub_argc, sub_argv, "restart", "Started");
    else if (strcmp(cmd, "logs") == 0)
        rc = cmd_logs(ctx, c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "build") == 0 || strcmp(cmd, "pull") == 0 || strcmp(cmd, "push") == 0)
        rc = cmd_images_op(ctx, c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "images") == 0)
        rc = cmd_images(c, p, sub_argc, sub_argv);
    else if (strcmp(cmd, "run") == 0)
        rc = cmd_run(ctx, c, p, sub_argc, sub_argv);
    else
        rc = cmd_delegated(ctx, c, p, sub_argc, sub_argv);
    client_free(c);
    compose_project_free(p);
    return rc;
}
