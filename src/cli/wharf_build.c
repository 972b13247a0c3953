/*
 * wharf_build.c — `wharf build`: the docker CLI's classic builder client.
 *
 * The context is a directory (sent as a tar without what its .dockerignore
 * excludes, the Dockerfile and .dockerignore always included), a tar file,
 * or `-`: a tar, or a lone Dockerfile, on stdin. A Dockerfile named with -f
 * outside the context travels inside it under a generated name. The
 * daemon's JSON progress is printed as it arrives; a failed build exits with
 * the failing RUN's status (1 for other failures), as docker does.
 */
#include "wharf_cmds.h"

#include "build.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

struct list {
    const char **v;
    size_t n;
};

static void list_release(struct list *l)
{
    free(l->v);
}
#define _cleanup_list_ __attribute__((cleanup(list_release)))

static void list_add(struct list *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 2) * sizeof(char *));
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

/* A query value, %-escaped. */
static void add_query(strbuf *q, const char *key, const char *value)
{
    strbuf_addf(q, "%c%s=", q->len ? '&' : '?', key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p))
            strbuf_addch(q, (char)*p);
        else
            strbuf_addf(q, "%%%02X", *p);
    }
}

/* go-units HumanSize: 4 significant digits, decimal units ("2.048kB"). */
static void human_size(double size, strbuf *out)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    size_t i = 0;
    while (size >= 1000 && i < sizeof(units) / sizeof(units[0]) - 1) {
        size /= 1000;
        i++;
    }
    strbuf_addf(out, "%.4g%s", size, units[i]);
}

static char *read_all_fd(int fd, size_t *len)
{
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    *len = sb.len;
    return sb.buf ? strbuf_detach(&sb) : xstrdup("");
}

/* Whether data is a tar stream, compressed or not. */
static bool looks_like_tar(const char *data, size_t len)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    struct archive_entry *e;
    bool ok = archive_read_open_memory(a, data, len) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    return ok;
}

/* A tar holding one file named name. */
static int single_file_tar(int fd, const char *name, const char *data, size_t len)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_none(a);
    int r = archive_write_open_fd(a, fd) == ARCHIVE_OK ? 0 : -EIO;
    if (r == 0) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, data, len) != (la_ssize_t)len ||
            archive_write_close(a) != ARCHIVE_OK)
            r = -EIO;
        archive_entry_free(e);
    }
    archive_write_free(a);
    return r;
}

struct progress {
    strbuf pending; /* an incomplete message */
    strbuf held;    /* quiet: the progress, shown if the build fails */
    bool quiet;
    char image_id[80];
    char *error;
    int code;
};

static void handle_message(struct progress *p, json_t *msg)
{
    json_t *detail = json_object_get(msg, "errorDetail");
    const char *error = json_string_value(json_object_get(msg, "error"));
    if (detail || error) {
        const char *m = json_string_value(json_object_get(detail, "message"));
        free(p->error);
        p->error = xstrdup(m ? m : error ? error : "build failed");
        json_t *code = json_object_get(detail, "code");
        p->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
        return;
    }
    json_t *aux = json_object_get(msg, "aux");
    const char *id = json_string_value(json_object_get(aux, "ID"));
    if (id) {
        snprintf(p->image_id, sizeof(p->image_id), "%s", id);
        return;
    }
    const char *stream = json_string_value(json_object_get(msg, "stream"));
    if (stream) {
        if (p->quiet) {
            strbuf_addstr(&p->held, stream);
        } else {
            fputs(stream, stdout);
            fflush(stdout);
        }
    }
}

static int on_data(void *data, const char *buf, size_t len)
{
    struct progress *p = data;
    strbuf_add(&p->pending, buf, len);
    size_t off = 0;
    while (off < p->pending.len) {
        char *nl = memchr(p->pending.buf + off, '\n', p->pending.len - off);
        if (!nl)
            break;
        size_t l = (size_t)(nl - (p->pending.buf + off));
        json_error_t je;
        json_t *msg = json_loadb(p->pending.buf + off, l, 0, &je);
        if (msg) {
            handle_message(p, msg);
            json_decref(msg);
        }
        off += l + 1;
    }
    size_t rest = p->pending.len - off;
    memmove(p->pending.buf, p->pending.buf + off, rest);
    p->pending.len = rest;
    p->pending.buf[rest] = '\0';
    return 0;
}

/* The context as a tar in an unlinked file: *fd, and the Dockerfile's name
 * inside it in *dockerfile (NULL: the daemon's default). */
static int prepare_context(const char *context, const char *file, int *fd, char **dockerfile,
                           uint64_t *size)
{
    *dockerfile = NULL;
    *fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0) {
        fprintf(stderr, "unable to prepare context: %s\n", strerror(errno));
        return -1;
    }
    bool file_from_stdin = file && strcmp(file, "-") == 0;
    if (strcmp(context, "-") == 0) {
        if (file_from_stdin) {
            fprintf(stderr, "invalid argument: can't use stdin for both build context and "
                            "dockerfile\n");
            return -1;
        }
        size_t len;
        _cleanup_free_ char *data = read_all_fd(STDIN_FILENO, &len);
        int r = looks_like_tar(data, len) ? wharf_write_all(*fd, data, len)
                                          : single_file_tar(*fd, "Dockerfile", data, len);
        if (r < 0) {
            fprintf(stderr, "unable to prepare context: %s\n", strerror(-r));
            return -1;
        }
        if (file && looks_like_tar(data, len))
            *dockerfile = xstrdup(file);
        *size = len;
        return 0;
    }
    struct stat st;
    if (stat(context, &st) < 0) {
        fprintf(stderr, "unable to prepare context: path \"%s\" not found\n", context);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        /* a tar file: sent as it is */
        _cleanup_close_ int in = open(context, O_RDONLY | O_CLOEXEC);
        size_t len = 0;
        _cleanup_free_ char *data = in >= 0 ? read_all_fd(in, &len) : NULL;
        if (!data || !looks_like_tar(data, len)) {
            fprintf(stderr,
                    "unable to prepare context: %s is neither a directory nor a tar "
                    "archive\n",
                    context);
            return -1;
        }
        wharf_write_all(*fd, data, len);
        if (file)
            *dockerfile = xstrdup(file);
        *size = len;
        return 0;
    }
    char ctx_abs[PATH_MAX];
    if (!realpath(context, ctx_abs)) {
        fprintf(stderr, "unable to prepare context: %s: %s\n", context, strerror(errno));
        return -1;
    }
    /* -f is relative to the current directory, as docker takes it */
    _cleanup_free_ char *df_abs = NULL;
    _cleanup_free_ char *extra = NULL;
    size_t extra_len = 0;
    char extra_name[64] = "";
    if (file_from_stdin) {
        extra = read_all_fd(STDIN_FILENO, &extra_len);
    } else {
        _cleanup_free_ char *given = file ? xstrdup(file) : xasprintf("%s/Dockerfile", ctx_abs);
        char buf[PATH_MAX];
        if (!realpath(given, buf)) {
            fprintf(stderr,
                    "unable to prepare context: unable to evaluate symlinks in Dockerfile "
                    "path: lstat %s: no such file or directory\n",
                    given);
            return -1;
        }
        df_abs = xstrdup(buf);
    }
    size_t cl = strlen(ctx_abs);
    if (df_abs && strncmp(df_abs, ctx_abs, cl) == 0 && df_abs[cl] == '/') {
        *dockerfile = xstrdup(df_abs + cl + 1);
    } else {
        /* outside the context (or stdin): one more file of a generated name */
        if (df_abs) {
            _cleanup_close_ int in = open(df_abs, O_RDONLY | O_CLOEXEC);
            if (in < 0) {
                fprintf(stderr, "unable to open Dockerfile: %s\n", strerror(errno));
                return -1;
            }
            extra = read_all_fd(in, &extra_len);
        }
        unsigned char rnd[10];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
            memset(rnd, 0x42, sizeof(rnd));
        strcpy(extra_name, ".dockerfile.");
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(extra_name + strlen(extra_name), 3, "%02x", rnd[i]);
        *dockerfile = xstrdup(extra_name);
    }
    struct build_ignore *ig = NULL;
    _cleanup_free_ char *ignore_path = xasprintf("%s/.dockerignore", ctx_abs);
    char *text = NULL;
    size_t tlen = 0;
    wharf_error err = {0};
    if (wharf_read_file(ignore_path, &text, &tlen, &err) == 0) {
        int r = build_ignore_parse(text, tlen, &ig, &err);
        free(text);
        if (r < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        build_ignore_keep(ig, ".dockerignore");
        if (!*extra_name)
            build_ignore_keep(ig, *dockerfile);
    }
    int r = build_context_write(ctx_abs, ig, *extra_name ? extra_name : NULL, extra, extra_len, *fd,
                                size, &err);
    build_ignore_free(ig);
    if (r < 0) {
        fprintf(stderr, "error checking context: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int wcmd_build(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum {
        OPT_BUILD_ARG = 256,
        OPT_TARGET,
        OPT_NO_CACHE,
        OPT_PULL,
        OPT_LABEL,
        OPT_IIDFILE,
        OPT_NETWORK,
        OPT_RM,
        OPT_FORCE_RM
    };
    static const struct option opts[] = {
        {"tag", required_argument, 0, 't'},
        {"file", required_argument, 0, 'f'},
        {"build-arg", required_argument, 0, OPT_BUILD_ARG},
        {"target", required_argument, 0, OPT_TARGET},
        {"no-cache", no_argument, 0, OPT_NO_CACHE},
        {"pull", no_argument, 0, OPT_PULL},
        {"label", required_argument, 0, OPT_LABEL},
        {"quiet", no_argument, 0, 'q'},
        {"iidfile", required_argument, 0, OPT_IIDFILE},
        {"network", required_argument, 0, OPT_NETWORK},
        {"rm", optional_argument, 0, OPT_RM},
        {"force-rm", no_argument, 0, OPT_FORCE_RM},
        {0, 0, 0, 0},
    };
    _cleanup_list_ struct list tags = {0}, args = {0}, labels = {0};
    const char *file = NULL, *target = NULL, *iidfile = NULL, *network = NULL;
    bool no_cache = false, pull = false, quiet = false, rm = true, force_rm = false;
    int ch;
    int rc = WCMD_EXIT_ERROR;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "t:f:q", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            list_add(&tags, optarg);
            break;
        case 'f':
            file = optarg;
            break;
        case OPT_BUILD_ARG:
            list_add(&args, optarg);
            break;
        case OPT_TARGET:
            target = optarg;
            break;
        case OPT_NO_CACHE:
            no_cache = true;
            break;
        case OPT_PULL:
            pull = true;
            break;
        case OPT_LABEL:
            list_add(&labels, optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case OPT_IIDFILE:
            iidfile = optarg;
            break;
        case OPT_NETWORK:
            network = optarg;
            break;
        case OPT_RM:
            rm = !optarg || strcmp(optarg, "false") != 0;
            break;
        case OPT_FORCE_RM:
            force_rm = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "\"build\" requires exactly 1 argument.\n\nUsage:  wharf build "
                                "[OPTIONS] PATH | -");
    const char *context = argv[optind];
    strbuf q = STRBUF_INIT;
    for (size_t i = 0; i < tags.n; i++)
        add_query(&q, "t", tags.v[i]);
    json_t *jargs = json_object(), *jlabels = json_object();
    for (size_t i = 0; i < args.n; i++) {
        const char *eq = strchr(args.v[i], '=');
        _cleanup_free_ char *k =
            eq ? xasprintf("%.*s", (int)(eq - args.v[i]), args.v[i]) : xstrdup(args.v[i]);
        /* "--build-arg K" takes K from the environment, as docker does */
        const char *v = eq ? eq + 1 : getenv(k);
        json_object_set_new(jargs, k, v ? json_string(v) : json_null());
    }
    for (size_t i = 0; i < labels.n; i++) {
        const char *eq = strchr(labels.v[i], '=');
        _cleanup_free_ char *k =
            eq ? xasprintf("%.*s", (int)(eq - labels.v[i]), labels.v[i]) : xstrdup(labels.v[i]);
        json_object_set_new(jlabels, k, json_string(eq ? eq + 1 : ""));
    }
    _cleanup_free_ char *args_text = json_dumps(jargs, JSON_COMPACT);
    _cleanup_free_ char *labels_text = json_dumps(jlabels, JSON_COMPACT);
    json_decref(jargs);
    json_decref(jlabels);
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *dockerfile = NULL;
    uint64_t size = 0;
    if (iidfile && unlink(iidfile) < 0 && errno != ENOENT) {
        fprintf(stderr, "Removing image ID file: %s\n", strerror(errno));
        strbuf_release(&q);
        return WCMD_EXIT_ERROR;
    }
    if (prepare_context(context, file, &fd, &dockerfile, &size) < 0) {
        strbuf_release(&q);
        return WCMD_EXIT_ERROR;
    }
    if (dockerfile)
        add_query(&q, "dockerfile", dockerfile);
    add_query(&q, "buildargs", args_text);
    add_query(&q, "labels", labels_text);
    if (target)
        add_query(&q, "target", target);
    if (network)
        add_query(&q, "networkmode", network);
    add_query(&q, "nocache", no_cache ? "1" : "0");
    add_query(&q, "pull", pull ? "1" : "0");
    add_query(&q, "q", quiet ? "1" : "0");
    add_query(&q, "rm", rm ? "1" : "0");
    add_query(&q, "forcerm", force_rm ? "1" : "0");
    add_query(&q, "version", "1");
    _cleanup_free_ char *path = xasprintf("/build%s", strbuf_str(&q));
    strbuf_release(&q);
    lseek(fd, 0, SEEK_SET);

    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    if (!quiet) {
        strbuf hs = STRBUF_INIT;
        human_size((double)size, &hs);
        printf("Sending build context to Docker daemon  %s\n", strbuf_str(&hs));
        fflush(stdout);
        strbuf_release(&hs);
    }
    struct progress p = {.quiet = quiet};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    if (client_upload_stream(c, "POST", path, "application/x-tar", fd, on_data, &p, &resp, &err) <
        0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        goto out;
    }
    if (p.error) {
        if (quiet)
            fputs(strbuf_str(&p.held), stderr);
        fprintf(stderr, "%s\n", p.error);
        rc = p.code > 0 ? p.code : WCMD_EXIT_ERROR;
        goto out;
    }
    if (quiet)
        fputs(strbuf_str(&p.held), stdout);
    if (iidfile) {
        if (!*p.image_id) {
            fprintf(stderr, "Server did not provide an image ID. Cannot write %s\n", iidfile);
            goto out;
        }
        if (wharf_write_file_atomic(iidfile, p.image_id, strlen(p.image_id), 0644, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            goto out;
        }
    }
    rc = 0;
out:
    strbuf_release(&p.pending);
    strbuf_release(&p.held);
    free(p.error);
    client_response_release(&resp);
    client_free(c);
    return rc;
}
