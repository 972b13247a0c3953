/* registrytool — a thin driver over the registry client for the
 * integration tests, for what the daemon's API does not expose (chunk
 * sizes, parallelism, a store of its own):
 *   registrytool STORE pull REF [OPTIONS]
 *   registrytool STORE push REF [OPTIONS]
 *   registrytool - login SERVER [OPTIONS]
 * OPTIONS: --platform P, --insecure HOST, --mirror URL, --user U,
 * --password P, --parallel N, --chunk-size BYTES, --progress (events on
 * stderr). Prints the image ID (pull) or "digest size" (push). */
#include "registry.h"

#include <getopt.h>
#include <string.h>

static const char *event_name(enum registry_event e)
{
    static const char *const names[] = {
        "waiting", "exists",    "downloading", "verifying", "downloaded", "extracting",
        "complete", "preparing", "pushing",     "pushed",    "present",    "mounted",
    };
    return names[e];
}

static void on_progress(const struct registry_progress *p, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "%s %.19s %llu/%llu%s%s\n", event_name(p->event), p->digest,
            (unsigned long long)p->current, (unsigned long long)p->total,
            p->from ? " from " : "", p->from ? p->from : "");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: registrytool STORE pull|push|login REF [OPTIONS]\n");
        return 2;
    }
    static const struct option opts[] = {
        {"platform", required_argument, 0, 'P'}, {"insecure", required_argument, 0, 'i'},
        {"mirror", required_argument, 0, 'm'},   {"user", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'p'}, {"parallel", required_argument, 0, 'j'},
        {"chunk-size", required_argument, 0, 'c'}, {"progress", no_argument, 0, 'v'},
        {0, 0, 0, 0},
    };
    const char *insecure[8], *mirrors[8], *platform = NULL;
    struct registry_auth auth = {0};
    struct registry_options o = {.insecure = insecure, .mirrors = mirrors, .auth = &auth};
    int ch;
    optind = 4;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'P': platform = optarg; break;
        case 'i': if (o.n_insecure < 8) insecure[o.n_insecure++] = optarg; break;
        case 'm': if (o.n_mirrors < 8) mirrors[o.n_mirrors++] = optarg; break;
        case 'u': auth.username = optarg; break;
        case 'p': auth.password = optarg; break;
        case 'j': o.parallel = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'c': o.chunk_size = strtoull(optarg, NULL, 10); break;
        case 'v': o.progress = on_progress; break;
        default: return 2;
        }
    }
    wharf_error err = {0};
    const char *cmd = argv[2], *ref = argv[3];
    if (strcmp(cmd, "login") == 0) {
        if (registry_login(ref, &auth, &o, &err) < 0)
            goto fail;
        puts("Login Succeeded");
        return 0;
    }
    image_store *st = image_store_open(argv[1], &err);
    if (!st)
        goto fail;
    int r = -1;
    if (strcmp(cmd, "pull") == 0) {
        struct registry_pull_result res;
        r = registry_pull_image(st, ref, platform, &o, &res, &err);
        if (r == 0)
            printf("%s %s %s\n", res.id, res.digest, res.updated ? "updated" : "up-to-date");
    } else if (strcmp(cmd, "push") == 0) {
        struct registry_push_result res;
        r = registry_push(st, ref, &o, &res, &err);
        if (r == 0)
            printf("%s %llu\n", res.digest, (unsigned long long)res.size);
    } else {
        fprintf(stderr, "registrytool: unknown command %s\n", cmd);
        image_store_close(st);
        return 2;
    }
    image_store_close(st);
    if (r < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "registrytool: %s\n", err.msg);
    return 1;
}
