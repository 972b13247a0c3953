/*
 * wharf-registry — the registry client (src/registry) as a helper process
 * for the daemon, which must not map libcurl (see wharfd):
 *
 *   wharf-registry pull  --store DIR [--platform P] [OPTIONS] -- REF
 *   wharf-registry push  --store DIR [--chunk-size BYTES] [OPTIONS] -- REF
 *   wharf-registry login [OPTIONS] -- SERVER
 *   OPTIONS: --insecure-registry HOST..., --registry-mirror URL...,
 *            --parallel N
 *
 * Credentials come on stdin as JSON ({"username", "password",
 * "registry_token"}, or {}), never in the arguments. The answer is JSON
 * lines on stdout, as registry.h describes; the exit status is 0 or 1.
 */
#include "registry.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#define MAX_LIST 32

/* One line, flushed: the daemon reads them as they come. */
static void emit(json_t *m)
{
    char *text = json_dumps(m, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(m);
}

static int fail(const wharf_error *err)
{
    emit(json_pack("{s:{s:i, s:s}}", "error", "code", err->code ? err->code : -EIO, "message",
                   err->msg[0] ? err->msg : "unknown error"));
    return 1;
}

static void on_progress(const struct registry_progress *p, void *ctx)
{
    (void)ctx;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:I}", "event", registry_event_name(p->event), "digest",
                  p->digest, "current", (json_int_t)p->current, "total", (json_int_t)p->total);
    if (p->from)
        json_object_set_new(o, "from", json_string(p->from));
    emit(json_pack("{s:o}", "progress", o));
}

/* The credentials on stdin (owned strings in creds). */
static int read_creds(struct registry_creds *creds, wharf_error *err)
{
    memset(creds, 0, sizeof(*creds));
    json_error_t je;
    _cleanup_json_ json_t *j = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
    if (!j) {
        /* nothing at all is no credentials */
        if (je.position == 0)
            return 0;
        return wharf_error_set(err, -EINVAL, "credentials on stdin: %s", je.text);
    }
    const char *u = json_string_value(json_object_get(j, "username"));
    const char *p = json_string_value(json_object_get(j, "password"));
    const char *t = json_string_value(json_object_get(j, "registry_token"));
    creds->username = u ? xstrdup(u) : NULL;
    creds->password = p ? xstrdup(p) : NULL;
    creds->registry_token = t ? xstrdup(t) : NULL;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'},
        {"platform", required_argument, 0, 'P'},
        {"insecure-registry", required_argument, 0, 'i'},
        {"registry-mirror", required_argument, 0, 'm'},
        {"parallel", required_argument, 0, 'j'},
        {"chunk-size", required_argument, 0, 'c'},
        {0, 0, 0, 0},
    };
    if (argc < 2) {
        fprintf(stderr, "usage: wharf-registry pull|push|login [OPTIONS] -- REF|SERVER\n");
        return 2;
    }
    const char *cmd = argv[1];
    const char *store_dir = NULL, *platform = NULL;
    const char *insecure[MAX_LIST], *mirrors[MAX_LIST];
    struct registry_options o = {.insecure = insecure, .mirrors = mirrors};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            store_dir = optarg;
            break;
        case 'P':
            platform = optarg;
            break;
        case 'i':
            if (o.n_insecure < MAX_LIST)
                insecure[o.n_insecure++] = optarg;
            break;
        case 'm':
            if (o.n_mirrors < MAX_LIST)
                mirrors[o.n_mirrors++] = optarg;
            break;
        case 'j':
            o.parallel = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            o.chunk_size = strtoull(optarg, NULL, 10);
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "wharf-registry: one reference or server expected\n");
        return 2;
    }
    const char *arg = argv[optind];
    wharf_error err = {0};
    struct registry_creds creds;
    if (read_creds(&creds, &err) < 0)
        return fail(&err);
    struct registry_auth auth = {0};
    registry_creds_auth(&creds, &auth);
    o.auth = &auth;
    o.progress = on_progress;
    int rc = 0;
    if (strcmp(cmd, "login") == 0) {
        if (registry_login(arg, &auth, &o, &err) < 0)
            rc = fail(&err);
        else
            emit(json_pack("{s:b}", "ok", 1));
        registry_creds_release(&creds);
        return rc;
    }
    if (!store_dir || (strcmp(cmd, "pull") != 0 && strcmp(cmd, "push") != 0)) {
        fprintf(stderr, "wharf-registry: pull or push --store DIR expected\n");
        registry_creds_release(&creds);
        return 2;
    }
    image_store *store = image_store_open(store_dir, &err);
    if (!store) {
        registry_creds_release(&creds);
        return fail(&err);
    }
    if (strcmp(cmd, "pull") == 0) {
        registry_pull *p = registry_pull_resolve(arg, platform, &o, &err);
        struct registry_pull_result res;
        if (!p) {
            rc = fail(&err);
        } else {
            emit(json_pack("{s:{s:s, s:s, s:s, s:s}}", "resolved", "reference",
                           registry_pull_reference(p), "path", registry_pull_path(p), "tag",
                           registry_pull_tag(p), "digest", registry_pull_digest(p)));
            if (registry_pull_fetch(p, store, &res, &err) < 0)
                rc = fail(&err);
            else
                emit(json_pack("{s:{s:s, s:s, s:b}}", "pulled", "id", res.id, "digest", res.digest,
                               "updated", res.updated));
            registry_pull_free(p);
        }
    } else {
        struct registry_push_result res;
        if (registry_push(store, arg, &o, &res, &err) < 0)
            rc = fail(&err);
        else
            emit(json_pack("{s:{s:s, s:I, s:s}}", "pushed", "digest", res.digest, "size",
                           (json_int_t)res.size, "tag", res.tag));
    }
    image_store_close(store);
    registry_creds_release(&creds);
    return rc;
}
