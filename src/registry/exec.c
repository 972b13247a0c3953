/*
 * exec.c — the registry client in a helper process: the daemon's end of
 * the wharf-registry protocol (see registry.h), with no libcurl in sight.
 *
 * The helper is started with posix_spawn (the daemon is multi-threaded),
 * its stdin a pipe that carries the credentials and is closed, its stdout
 * a pipe read line by line. Every line is one JSON object; the last one is
 * the result or an error with its negative errno, so the caller answers as
 * if it had called the library itself.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static const char *const event_names[] = {
    [REGISTRY_LAYER_WAITING] = "waiting",         [REGISTRY_LAYER_EXISTS] = "exists",
    [REGISTRY_LAYER_DOWNLOADING] = "downloading", [REGISTRY_LAYER_VERIFYING] = "verifying",
    [REGISTRY_LAYER_DOWNLOADED] = "downloaded",   [REGISTRY_LAYER_EXTRACTING] = "extracting",
    [REGISTRY_LAYER_COMPLETE] = "complete",       [REGISTRY_LAYER_PREPARING] = "preparing",
    [REGISTRY_LAYER_PUSHING] = "pushing",         [REGISTRY_LAYER_PUSHED] = "pushed",
    [REGISTRY_LAYER_PRESENT] = "present",         [REGISTRY_LAYER_MOUNTED] = "mounted",
};
#define N_EVENTS (sizeof(event_names) / sizeof(event_names[0]))

const char *registry_event_name(enum registry_event e)
{
    return (size_t)e < N_EVENTS ? event_names[e] : "unknown";
}

int registry_event_parse(const char *name)
{
    for (size_t i = 0; name && i < N_EVENTS; i++)
        if (strcmp(event_names[i], name) == 0)
            return (int)i;
    return -1;
}

struct registry_exec {
    pid_t pid;
    FILE *out;
    char *what; /* for messages */
    char *reference, *path, *tag;
};

void registry_exec_free(registry_exec *x)
{
    if (!x)
        return;
    if (x->out)
        fclose(x->out);
    if (x->pid > 0) {
        /* a helper still at work (the caller gave up) is not left behind */
        if (waitpid(x->pid, NULL, WNOHANG) == 0) {
            kill(x->pid, SIGKILL);
            waitpid(x->pid, NULL, 0);
        }
    }
    free(x->what);
    free(x->reference);
    free(x->path);
    free(x->tag);
    free(x);
}

/* Spawns `helper cmd [options] [extra...] -- arg`, writes the credentials
 * to its stdin and returns it with its stdout to read. */
static registry_exec *spawn(const struct registry_exec_options *o, const char *cmd,
                            const char *const *extra, size_t n_extra, const char *arg,
                            wharf_error *err)
{
    size_t cap = 8 + 2 * (o->n_insecure + o->n_mirrors) + n_extra;
    const char **argv = xcalloc(cap, sizeof(*argv));
    size_t n = 0;
    argv[n++] = o->helper;
    argv[n++] = cmd;
    if (o->store_dir) {
        argv[n++] = "--store";
        argv[n++] = o->store_dir;
    }
    for (size_t i = 0; i < o->n_insecure; i++) {
        argv[n++] = "--insecure-registry";
        argv[n++] = o->insecure[i];
    }
    for (size_t i = 0; i < o->n_mirrors; i++) {
        argv[n++] = "--registry-mirror";
        argv[n++] = o->mirrors[i];
    }
    for (size_t i = 0; i < n_extra; i++)
        argv[n++] = extra[i];
    argv[n++] = "--";
    argv[n++] = arg;
    argv[n] = NULL;

    int in[2] = {-1, -1}, out[2] = {-1, -1};
    registry_exec *x = NULL;
    /* before the first goto: a cleanup variable jumped over is released uninitialised */
    _cleanup_json_ json_t *creds = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        wharf_error_errno(err, errno, "cannot run %s: pipe", o->helper);
        goto out;
    }
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    /* the daemon blocks its signals for sigwait and ignores SIGPIPE: the
     * helper starts with neither */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int r = posix_spawnp(&pid, o->helper, &fa, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    if (r != 0) {
        wharf_error_errno(err, r, "cannot run %s", o->helper);
        goto out;
    }
    close(in[0]), in[0] = -1;
    close(out[1]), out[1] = -1;
    /* the credentials: a few hundred bytes, well under a pipe's buffer */
    const struct registry_auth *a = o->auth;
    creds = json_object();
    if (a && a->username)
        json_object_set_new(creds, "username", json_string(a->username));
    if (a && a->password)
        json_object_set_new(creds, "password", json_string(a->password));
    if (a && a->registry_token)
        json_object_set_new(creds, "registry_token", json_string(a->registry_token));
    char *text = json_dumps(creds, JSON_COMPACT);
    int w = wharf_write_all(in[1], text, strlen(text));
    explicit_bzero(text, strlen(text));
    free(text);
    close(in[1]), in[1] = -1;
    x = xcalloc(1, sizeof(*x));
    x->pid = pid;
    x->what = xstrdup(arg);
    x->out = fdopen(out[0], "re");
    if (!x->out) {
        wharf_error_errno(err, errno, "%s: read %s", arg, o->helper);
        registry_exec_free(x);
        x = NULL;
        goto out;
    }
    out[0] = -1;
    if (w < 0 && w != -EPIPE) {
        wharf_error_errno(err, -w, "%s: write to %s", arg, o->helper);
        registry_exec_free(x);
        x = NULL;
    }
out:
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    free(argv);
    return x;
}

/* The next line as a new JSON object; NULL with err set at the end of the
 * output (the helper died without a result: its exit status is reported). */
static json_t *next_message(registry_exec *x, wharf_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        ssize_t n = getline(&line, &cap, x->out);
        if (n < 0)
            break;
        json_t *m = json_loadb(line, (size_t)n, 0, NULL);
        if (json_is_object(m)) {
            free(line);
            return m;
        }
        json_decref(m); /* not ours: ignored */
    }
    free(line);
    int status = 0;
    pid_t pid = x->pid;
    x->pid = -1;
    if (waitpid(pid, &status, 0) < 0)
        wharf_error_errno(err, errno, "%s: the registry helper", x->what);
    else if (WIFSIGNALED(status))
        wharf_error_set(err, -EIO, "%s: the registry helper was killed by %s", x->what,
                        strsignal(WTERMSIG(status)));
    else
        wharf_error_set(err, -EIO, "%s: the registry helper exited (status %d) without a result",
                        x->what, WEXITSTATUS(status));
    return NULL;
}

/* An {"error": {code, message}} line into err; true when m is one. */
static bool take_error(json_t *m, wharf_error *err)
{
    json_t *e = json_object_get(m, "error");
    if (!e)
        return false;
    json_int_t code = json_integer_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    wharf_error_set(err, code < 0 ? (int)code : -EIO, "%s", msg ? msg : "unknown error");
    return true;
}

/* Reads to the line carrying key, passing progress on; the object under
 * key (a new reference) or NULL with err set. Reaps the helper when key is
 * its last word. */
static json_t *read_until(registry_exec *x, const char *key, registry_progress_fn fn, void *ctx,
                          bool last, wharf_error *err)
{
    for (;;) {
        json_t *m = next_message(x, err);
        if (!m)
            return NULL;
        if (take_error(m, err)) {
            json_decref(m);
            return NULL;
        }
        json_t *p = json_object_get(m, "progress");
        if (p) {
            int ev = registry_event_parse(json_string_value(json_object_get(p, "event")));
            const char *digest = json_string_value(json_object_get(p, "digest"));
            if (fn && ev >= 0 && digest) {
                struct registry_progress pr = {
                    (enum registry_event)ev, digest,
                    (uint64_t)json_integer_value(json_object_get(p, "current")),
                    (uint64_t)json_integer_value(json_object_get(p, "total")),
                    json_string_value(json_object_get(p, "from"))};
                fn(&pr, ctx);
            }
            json_decref(m);
            continue;
        }
        json_t *v = json_object_get(m, key);
        if (!v) {
            json_decref(m);
            continue;
        }
        json_incref(v);
        json_decref(m);
        if (last && x->pid > 0) {
            waitpid(x->pid, NULL, 0);
            x->pid = -1;
        }
        return v;
    }
}

static char *dup_field(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return xstrdup(s ? s : "");
}

registry_exec *registry_exec_pull(const struct registry_exec_options *o, const char *ref,
                                  const char *platform, wharf_error *err)
{
    const char *extra[2] = {"--platform", platform};
    registry_exec *x = spawn(o, "pull", extra, platform && *platform ? 2 : 0, ref, err);
    if (!x)
        return NULL;
    _cleanup_json_ json_t *r = read_until(x, "resolved", NULL, NULL, false, err);
    if (!r) {
        registry_exec_free(x);
        return NULL;
    }
    x->reference = dup_field(r, "reference");
    x->path = dup_field(r, "path");
    x->tag = dup_field(r, "tag");
    return x;
}

const char *registry_exec_reference(const registry_exec *x)
{
    return x->reference;
}

const char *registry_exec_path(const registry_exec *x)
{
    return x->path;
}

const char *registry_exec_tag(const registry_exec *x)
{
    return x->tag;
}

static void copy_digest(json_t *o, const char *key, char out[72])
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(out, 72, "%s", s ? s : "");
}

int registry_exec_pull_finish(registry_exec *x, registry_progress_fn fn, void *ctx,
                              struct registry_pull_result *out, wharf_error *err)
{
    _cleanup_json_ json_t *r = read_until(x, "pulled", fn, ctx, true, err);
    if (!r)
        return err->code;
    if (out) {
        copy_digest(r, "id", out->id);
        copy_digest(r, "digest", out->digest);
        out->updated = json_is_true(json_object_get(r, "updated"));
    }
    return 0;
}

registry_exec *registry_exec_push(const struct registry_exec_options *o, const char *ref,
                                  wharf_error *err)
{
    return spawn(o, "push", NULL, 0, ref, err);
}

int registry_exec_push_finish(registry_exec *x, registry_progress_fn fn, void *ctx,
                              struct registry_push_result *out, wharf_error *err)
{
    _cleanup_json_ json_t *r = read_until(x, "pushed", fn, ctx, true, err);
    if (!r)
        return err->code;
    if (out) {
        copy_digest(r, "digest", out->digest);
        out->size = (uint64_t)json_integer_value(json_object_get(r, "size"));
        const char *tag = json_string_value(json_object_get(r, "tag"));
        snprintf(out->tag, sizeof(out->tag), "%s", tag ? tag : "");
    }
    return 0;
}

int registry_exec_login(const struct registry_exec_options *o, const char *server, wharf_error *err)
{
    struct registry_exec_options lo = *o;
    lo.store_dir = NULL;
    registry_exec *x = spawn(&lo, "login", NULL, 0, server && *server ? server : "", err);
    if (!x)
        return err->code;
    _cleanup_json_ json_t *r = read_until(x, "ok", NULL, NULL, true, err);
    registry_exec_free(x);
    return r ? 0 : err->code;
}
